//! Money safety (issue 10): discrete settlement takes what `/proxy` advertises (defect 5), and the
//! statement agrees with `/proxy` after account credit is applied or refunded (defect 6).

use billhub_core::Money;
use billhub_store::PaymentTarget;

use crate::prelude::*;

/// (due, min, max, balance) of a `/proxy` answer.
async fn proxy(env: &Env, consumer: &str) -> (Value, Value, Value, Value) {
    let (status, body) = env
        .post("/proxy", &json!({"consumer_code": consumer}))
        .await;
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    (
        d["due_amount"].clone(),
        d["min_amount"].clone(),
        d["max_amount"].clone(),
        d["balance"].clone(),
    )
}

/// The statement's lines, newest first.
async fn statement(env: &Env, consumer: &str) -> Vec<Value> {
    let (status, body) = env
        .post("/pending_bills", &json!({"consumer_code": consumer}))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["pending_bills"].as_array().unwrap().clone()
}

/// Bills of 10 and 5 under `discrete`: `/proxy` advertises the oldest bill's 10 as the minimum,
/// and a webhook payment of 12 pays the oldest bill whole and keeps 2 as account credit (before:
/// `min_amount` 5, and a payment between the prefix sums was kept unapplied).
async fn discrete_takes_what_proxy_advertises(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Discrete).await;
    let older = env.bill("ACC", BillSpec::usd(1000, date!(2025 - 07 - 01)));
    let newer = env.bill("ACC", BillSpec::usd(500, date!(2025 - 08 - 01)));
    assert_eq!(
        proxy(&env, "ACC").await,
        (json!(15), json!(10), json!(15), json!(0))
    );
    let (status, reply) = env
        .post("/webhook", &current("D-12", "USD", json!(12), "ACC", ""))
        .await;
    assert_eq!((status, reply), (200, success()));
    let p = env
        .store()
        .payment_by_channel_ref("bill24", "D-12")
        .unwrap()
        .expect("posted, not unapplied");
    assert_eq!((p.amount, p.credit), (1200, 200));
    assert_eq!(
        p.allocations
            .iter()
            .map(|a| (a.bill_id, a.amount))
            .collect::<Vec<_>>(),
        vec![(older.id, 1000)]
    );
    assert_eq!(env.store().bill(older.id).unwrap().status, BillStatus::Paid);
    assert_eq!(env.store().bill(newer.id).unwrap().paid, 0);
    assert!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .is_empty()
    );
    // The rest: the newer bill alone, the credit shown as balance.
    assert_eq!(
        proxy(&env, "ACC").await,
        (json!(5), json!(5), json!(5), json!(2))
    );
    // Below the oldest bill's outstanding it is still refused (kept unapplied, as any refusal).
    let (status, _) = env
        .post("/webhook", &current("D-4", "USD", json!(4), "ACC", ""))
        .await;
    assert_eq!(status, 200);
    assert!(
        env.store()
            .payment_by_channel_ref("bill24", "D-4")
            .unwrap()
            .is_none()
    );
}

/// Payments of 7,000 and 4,000 on two bills of 5,000 leave 1,000 credit; a third bill of 5,000
/// follows. Applying 400 of the credit and refunding the other 600 each appear in
/// `/pending_bills`, and the statement always ends at what `/proxy` shows as due minus balance
/// (before: after the refund it still ended at 4,000 while `/proxy` said due 4,600, balance 0).
async fn statement_follows_credit_applied_and_refunded(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill(
        "CU1",
        BillSpec::khr(5000, date!(2025 - 08 - 01)).rule(PaymentRule::Open),
    );
    let newer = env.bill(
        "CU1",
        BillSpec::khr(5000, date!(2025 - 08 - 15)).rule(PaymentRule::Open),
    );
    // Open settlement, oldest first: 5,000 and 2,000, no credit; the statement ends at 3,000.
    let mut p = current("C-7000", "KHR", json!(7000), "CU1", "");
    p["tran_date"] = json!("2025-08-10T09:00:00");
    let (status, _) = env.post("/webhook", &p).await;
    assert_eq!(status, 200);
    assert_eq!(
        proxy(&env, "CU1").await,
        (json!(3000), json!(-1), json!(-1), json!(0))
    );
    assert_eq!(statement(&env, "CU1").await[0]["balance"], json!(3000));
    // A second payment of 4,000 leaves 1,000 as credit: the statement ends at -1,000.
    let (status, _) = env
        .post(
            "/webhook",
            &current("C-4000", "KHR", json!(4000), "CU1", ""),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(env.store().bill(newer.id).unwrap().status, BillStatus::Paid);
    let before = statement(&env, "CU1").await;
    assert_eq!(before[0]["balance"], json!(-1000));
    assert_eq!(before[0]["amount"], json!(-4000));

    // A third bill, then 400 of the credit applied to it and 600 refunded.
    let third = env.bill(
        "CU1",
        BillSpec::khr(5000, date!(2025 - 09 - 01)).rule(PaymentRule::Open),
    );
    let account = third.account_id;
    let applied = env
        .store()
        .apply_credit(
            account,
            Money::from_minor(40000, Currency::KHR),
            &PaymentTarget::Bill { bill_id: third.id },
            "APPLY-1",
            env.now(),
        )
        .unwrap();
    assert_eq!(
        proxy(&env, "CU1").await,
        (json!(4600), json!(-1), json!(-1), json!(600))
    );
    let lines = statement(&env, "CU1").await;
    assert_eq!(lines.len(), before.len() + 2, "{lines:?}");
    assert_eq!(
        lines[0],
        json!({"date": "01/09/2025", "amount": 0, "balance": 4000,
            "digital_bill_url": format!("{PUBLIC}/r/{}", applied.uid)})
    );
    env.store()
        .refund_credit(
            account,
            Money::from_minor(60000, Currency::KHR),
            "given back at the counter",
            env.now(),
        )
        .unwrap();
    assert_eq!(
        proxy(&env, "CU1").await,
        (json!(4600), json!(-1), json!(-1), json!(0))
    );
    let lines = statement(&env, "CU1").await;
    assert_eq!(
        lines[0],
        json!({"date": "01/09/2025", "amount": 600, "balance": 4600, "digital_bill_url": ""})
    );
}

billhub_http::http_backend_tests!(
    discrete_takes_what_proxy_advertises,
    statement_follows_credit_applied_and_refunded,
);
