//! Every route costs at most one store transaction once the authentication cache is warm, and
//! none for the authentication itself (counted with the store's test-build counter; nothing
//! else runs against the store meanwhile: the test app starts no worker).

use std::future::Future;

use crate::prelude::*;

/// What `call` answered and how many transactions the store began meanwhile.
async fn counted(db: &TestDb, call: impl Future<Output = (u16, Value)>) -> ((u16, Value), u64) {
    let before = db.transactions_started();
    let answer = call.await;
    (answer, db.transactions_started() - before)
}

/// `/proxy` and `/pending_bills`: one read snapshot each, a refusal too; a request answered
/// before its flow (a blank code, a wrong method) costs none.
async fn consumer_routes_cost_one_snapshot(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Total).await;
    env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let body = json!({"consumer_code": "CU003035"});
    // Warms the token cache.
    let (status, warm) = env.post("/proxy", &body).await;
    assert_eq!((status, code(&warm)), (200, 0));

    let ((status, reply), n) = counted(&db, env.post("/proxy", &body)).await;
    assert_eq!((status, code(&reply)), (200, 0));
    assert_eq!(reply["data"]["due_amount"], json!(5000));
    assert_eq!(n, 1, "/proxy");

    let ((status, reply), n) =
        counted(&db, env.post("/proxy", &json!({"consumer_code": "NOPE"}))).await;
    assert_eq!((status, code(&reply)), (200, 1));
    assert_eq!(n, 1, "/proxy refused");

    let ((status, reply), n) = counted(&db, env.post("/pending_bills", &body)).await;
    assert_eq!((status, code(&reply)), (200, 0));
    assert_eq!(reply["data"]["pending_bills"].as_array().unwrap().len(), 1);
    assert_eq!(n, 1, "/pending_bills");

    let ((status, reply), n) =
        counted(&db, env.post("/proxy", &json!({"consumer_code": "  "}))).await;
    assert_eq!((status, code(&reply)), (200, 1));
    assert_eq!(
        n, 0,
        "authentication from the cache, a blank code answered before the flow"
    );

    let before = db.transactions_started();
    let resp = env
        .app
        .client
        .get(env.app.url("/proxy"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(db.transactions_started() - before, 0, "GET /proxy");
}

/// `/webhook`: a delivery (all its shares), its replay, a status other than `success` and a
/// caller found by its allow-listed address: one transaction each.
async fn webhook_costs_one_transaction(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let warm_bill = env.bill("WARM", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let (_, reply) = env
        .post(
            "/webhook",
            &current("T-WARM", "KHR", json!(5000), "WARM", ""),
        )
        .await;
    assert_eq!(reply, success());
    assert_eq!(
        env.store().bill(warm_bill.id).unwrap().status,
        BillStatus::Paid
    );

    let a = env.bill("CUST-A", BillSpec::usd(1000, date!(2025 - 08 - 01)));
    let b = env.bill("CUST-B", BillSpec::usd(250, date!(2025 - 08 - 01)));
    let mut multi = current("T-MULTI", "USD", json!(12.5), "CUST-A", "");
    multi["customers"] = json!([
        {"customer_code": "CUST-A", "customer_name": "A", "bill_no": "", "amount": 10},
        {"customer_code": "CUST-B", "customer_name": "B", "bill_no": b.public_no, "amount": 2.5}
    ]);
    let ((status, reply), n) = counted(&db, env.post("/webhook", &multi)).await;
    assert_eq!((status, reply), (200, success()));
    assert_eq!(n, 1, "/webhook, two shares");
    for bill in [&a, &b] {
        assert_eq!(env.store().bill(bill.id).unwrap().status, BillStatus::Paid);
    }

    let ((status, reply), n) = counted(&db, env.post("/webhook", &multi)).await;
    assert_eq!(
        (status, reply),
        (
            200,
            json!({"status": "Error", "message": "Transaction T-MULTI was already recorded; nothing was changed."})
        )
    );
    assert_eq!(n, 1, "/webhook replayed");

    let mut failed = current("T-FAILED", "KHR", json!(5000), "WARM", "");
    failed["status"] = json!("failed");
    let ((status, reply), n) = counted(&db, env.post("/webhook", &failed)).await;
    assert_eq!((status, reply["status"].clone()), (200, json!("Success")));
    assert_eq!(n, 1, "/webhook not applied");

    env.set("bill24.webhook_allow_ips", "127.0.0.1");
    let c = env.bill("CUST-C", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let payload = current("T-ALLOW", "KHR", json!(5000), "CUST-C", "");
    let ((status, reply), n) = counted(&db, post(&env.app, "/webhook", None, &payload)).await;
    assert_eq!((status, reply), (200, success()));
    assert_eq!(n, 1, "/webhook from an allow-listed address");
    assert_eq!(env.store().bill(c.id).unwrap().status, BillStatus::Paid);
}

billhub_http::http_backend_tests!(
    consumer_routes_cost_one_snapshot,
    webhook_costs_one_transaction,
);
