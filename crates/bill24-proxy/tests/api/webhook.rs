//! `/webhook` in both generations: idempotency, concurrency, allocation, unapplied money, statuses other than `success`.

use crate::prelude::*;

/// The current generation pays an account under the settlement mode; the payment carries the
/// Bill24 details.
async fn webhook_current_generation(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let a = env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let b = env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 09 - 01)));
    let payload = current(
        "348b4b16-1f06-4563-8204-105a8420a067",
        "KHR",
        json!(10000),
        "CU003035",
        "",
    );
    let (status, reply) = env.post("/webhook", &payload).await;
    assert_eq!((status, reply), (200, success()));
    let p = env
        .store()
        .payment_by_channel_ref("bill24", "348b4b16-1f06-4563-8204-105a8420a067")
        .unwrap()
        .unwrap();
    assert_eq!(p.amount, 1000000);
    assert_eq!(p.currency, Currency::KHR);
    assert_eq!(p.method, "ACLEDA");
    assert_eq!(p.payer_name, "MAO SAMON");
    assert_eq!(p.allocations.len(), 2);
    assert_eq!(
        p.paid_at.to_offset(env.org.utc_offset).date(),
        date!(2025 - 09 - 01)
    );
    let details: Value = serde_json::from_str(&p.details).unwrap();
    assert_eq!(details["transaction"]["bank_ref"], json!("AC00112301"));
    assert_eq!(details["customer"]["customer_code"], json!("CU003035"));
    for id in [a.id, b.id] {
        assert_eq!(env.store().bill(id).unwrap().status, BillStatus::Paid);
    }
}

/// The older generation: `tnx_id`, one customer, `bills[]` by id or sync code, fees recorded
/// but not applied, no `status`.
async fn webhook_older_generation(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let one = env.bill("CU003035", BillSpec::usd(1000, date!(2025 - 08 - 01)));
    let older = |tnx: &str, amount: Value, bills: Value| {
        json!({ "tnx_id": tnx, "tran_amount": amount, "customer_fee": 0.20, "supplier_fee": 0,
            "total_amount": 10.20, "currency": "USD", "bank_name": "ACLEDA", "bank_ref": "FT00003941",
            "customer_sync_code": "", "customer_code": "CU003035", "customer_name": "Nheb Nim",
            "customer_phone": "09294303", "paid_by": "893-349-349-3449", "paid_date": "2025-08-30 10:46:33",
            "description": "", "checkout_ref": "", "bills": bills })
    };
    let (status, reply) = env
        .post(
            "/webhook",
            &older(
                "BUb4CmDE",
                json!(10),
                json!([{"id": one.public_no, "sync_code": ""}]),
            ),
        )
        .await;
    assert_eq!((status, reply), (200, success()));
    let p = env
        .store()
        .payment_by_channel_ref("bill24", "BUb4CmDE")
        .unwrap()
        .unwrap();
    assert_eq!((p.amount, p.fee), (1000, 20));
    assert_eq!(p.allocations[0].bill_id, one.id);
    assert_eq!(p.paid_at, datetime!(2025-08-30 10:46:33 +7));
    assert_eq!(env.store().bill(one.id).unwrap().status, BillStatus::Paid);

    // Two bills named (an invoice number as id, a public number as sync code): each paid whole.
    let two = env.bill(
        "CU003035",
        BillSpec::usd(500, date!(2025 - 08 - 02)).invoice("INV-2"),
    );
    let three = env.bill("CU003035", BillSpec::usd(700, date!(2025 - 08 - 03)));
    let (_, reply) = env
        .post(
            "/webhook",
            &older(
                "XYZ12345",
                json!(12),
                json!([{"id": "INV-2"}, {"id": "", "sync_code": three.public_no}]),
            ),
        )
        .await;
    assert_eq!(reply, success());
    for id in [two.id, three.id] {
        assert_eq!(env.store().bill(id).unwrap().status, BillStatus::Paid);
    }

    // No bills named: the account under the settlement mode. Nothing is payable any more, so
    // core refuses it (nothing to pay) and the money is kept as unapplied, still acknowledged.
    let (_, reply) = env
        .post("/webhook", &older("NOBILLS1", json!(3), json!([])))
        .await;
    assert_eq!(reply, success());
    let un = env.store().unapplied_payments(Some(env.org.id)).unwrap();
    assert_eq!(un.len(), 1);
    assert_eq!(
        (
            un[0].channel_ref.as_str(),
            un[0].account_code.as_str(),
            un[0].amount
        ),
        ("NOBILLS1", "CU003035", 300)
    );
    assert!(un[0].reason.contains("nothing_to_pay"), "{}", un[0].reason);
}

/// A repeat answers Error and changes nothing; a repeat with other content too.
async fn webhook_duplicate_delivery(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill(
        "DUP",
        BillSpec::khr(5000, date!(2025 - 08 - 01)).rule(PaymentRule::Open),
    );
    let payload = current("T-DUP", "KHR", json!(3000), "DUP", "");
    let (_, reply) = env.post("/webhook", &payload).await;
    assert_eq!(reply, success());
    let (status, reply) = env.post("/webhook", &payload).await;
    assert_eq!(status, 200);
    assert_eq!(reply["status"], json!("Error"));
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("already recorded"),
        "{reply}"
    );
    let mut other = payload.clone();
    other["tran_amount"] = json!(4000);
    other["customers"][0]["amount"] = json!(4000);
    let (status, reply) = env.post("/webhook", &other).await;
    assert_eq!(status, 200);
    assert_eq!(reply["status"], json!("Error"));
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("different content"),
        "{reply}"
    );
    let after = env.store().bill(bill.id).unwrap();
    assert_eq!(after.paid, 300000);
    assert_eq!(env.store().payments_of_bill(bill.id).unwrap().len(), 1);
    assert!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .is_empty()
    );
}

/// Twenty concurrent deliveries of one transaction: paid once, one Success, the rest Error.
async fn webhook_concurrent_deliveries(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill(
        "CONC",
        BillSpec::khr(5000, date!(2025 - 08 - 01)).rule(PaymentRule::Open),
    );
    let payload = current("T-CONC", "KHR", json!(2000), "CONC", "");
    let calls = (0..20).map(|_| post(&env.app, "/webhook", Some(&env.token), &payload));
    let replies = futures_util::future::join_all(calls).await;
    let ok = replies
        .iter()
        .filter(|(s, r)| *s == 200 && r["status"] == json!("Success"))
        .count();
    let dup = replies
        .iter()
        .filter(|(s, r)| *s == 200 && r["status"] == json!("Error"))
        .count();
    assert_eq!((ok, dup), (1, 19), "{replies:?}");
    let after = env.store().bill(bill.id).unwrap();
    assert_eq!(
        (after.paid, after.status),
        (200000, BillStatus::PartiallyPaid)
    );
    assert_eq!(env.store().payments_of_bill(bill.id).unwrap().len(), 1);
}

/// Under `open`: one payment spread oldest first over several bills, the rest kept as credit
/// (shown as `balance`); several customers in one transaction each get their own payment.
async fn webhook_allocation_and_credit(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let old = env.bill(
        "OPEN1",
        BillSpec::khr(5000, date!(2025 - 07 - 01)).due(date!(2025 - 07 - 31)),
    );
    let new = env.bill(
        "OPEN1",
        BillSpec::khr(5000, date!(2025 - 08 - 01)).due(date!(2025 - 08 - 31)),
    );
    let (_, reply) = env
        .post(
            "/webhook",
            &current("T-ALLOC", "KHR", json!(12000), "OPEN1", ""),
        )
        .await;
    assert_eq!(reply, success());
    let p = env
        .store()
        .payment_by_channel_ref("bill24", "T-ALLOC")
        .unwrap()
        .unwrap();
    let allocs: Vec<(i64, i64)> = p
        .allocations
        .iter()
        .map(|a| (a.bill_id, a.amount))
        .collect();
    assert_eq!(allocs, vec![(old.id, 500000), (new.id, 500000)]);
    assert_eq!(p.credit, 200000);
    let (_, body) = env.post("/proxy", &json!({"consumer_code": "OPEN1"})).await;
    assert_eq!(code(&body), 3);
    env.bill("OPEN1", BillSpec::khr(5000, date!(2025 - 09 - 01)));
    let (_, body) = env.post("/proxy", &json!({"consumer_code": "OPEN1"})).await;
    assert_eq!(body["data"]["due_amount"], json!(5000));
    assert_eq!(body["data"]["balance"], json!(2000));

    // Two customers in one transaction: references T-MULTI and T-MULTI:2.
    let a = env.bill("CUST-A", BillSpec::usd(1000, date!(2025 - 08 - 01)));
    let b = env.bill("CUST-B", BillSpec::usd(250, date!(2025 - 08 - 01)));
    let mut multi = current("T-MULTI", "USD", json!(12.5), "CUST-A", "");
    multi["customers"] = json!([
        {"customer_code": "CUST-A", "customer_name": "A", "bill_no": "", "amount": 10},
        {"customer_code": "CUST-B", "customer_name": "B", "bill_no": b.public_no, "amount": 2.5}
    ]);
    let (_, reply) = env.post("/webhook", &multi).await;
    assert_eq!(reply, success());
    let first = env
        .store()
        .payment_by_channel_ref("bill24", "T-MULTI")
        .unwrap()
        .unwrap();
    let second = env
        .store()
        .payment_by_channel_ref("bill24", "T-MULTI:2")
        .unwrap()
        .unwrap();
    assert_eq!((first.amount, first.allocations[0].bill_id), (1000, a.id));
    assert_eq!((second.amount, second.allocations[0].bill_id), (250, b.id));
    let (_, reply) = env.post("/webhook", &multi).await;
    assert_eq!(reply["status"], json!("Error"));
    // One customer fewer under the same id: refused as different content, nothing posted.
    let mut fewer = multi.clone();
    fewer["tran_amount"] = json!(10);
    fewer["customers"] = json!([multi["customers"][0].clone()]);
    let (_, reply) = env.post("/webhook", &fewer).await;
    assert_eq!(reply["status"], json!("Error"));
    assert_eq!(env.store().payments_of_bill(a.id).unwrap().len(), 1);
}

/// Money the bank took that cannot be applied is kept as unapplied, acknowledged, never twice.
async fn webhook_unapplied_money(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let khr = env.bill("KHR1", BillSpec::khr(5000, date!(2025 - 08 - 01)));

    // Unknown customer.
    let unknown = current("T-GHOST", "KHR", json!(5000), "GHOST", "");
    let (status, reply) = env.post("/webhook", &unknown).await;
    assert_eq!((status, reply), (200, success()));
    // Currency mismatch: USD for a KHR bill.
    let (_, reply) = env
        .post(
            "/webhook",
            &current("T-USD", "USD", json!(5), "KHR1", &khr.public_no),
        )
        .await;
    assert_eq!(reply, success());
    // Refused by the bill's rule: less than an exact bill.
    let (_, reply) = env
        .post(
            "/webhook",
            &current("T-SHORT", "KHR", json!(4000), "KHR1", &khr.public_no),
        )
        .await;
    assert_eq!(reply, success());
    // An unknown bill number.
    let (_, reply) = env
        .post(
            "/webhook",
            &current("T-NOBILL", "KHR", json!(5000), "KHR1", "NOSUCHNO"),
        )
        .await;
    assert_eq!(reply, success());

    let un = env.store().unapplied_payments(Some(env.org.id)).unwrap();
    let rows: Vec<(String, String, i64, String)> = un
        .iter()
        .map(|u| {
            let reason: Value = serde_json::from_str(&u.reason).unwrap();
            (
                u.channel_ref.clone(),
                u.account_code.clone(),
                u.amount,
                reason["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("T-GHOST".into(), "GHOST".into(), 500000, "not_found".into()),
            (
                "T-USD".into(),
                "KHR1".into(),
                500,
                "currency_mismatch".into()
            ),
            (
                "T-SHORT".into(),
                "KHR1".into(),
                400000,
                "must_equal_outstanding".into()
            ),
            ("T-NOBILL".into(), "KHR1".into(), 500000, "not_found".into()),
        ]
    );
    assert!(
        un.iter()
            .all(|u| u.channel == "bill24" && u.status == "open")
    );
    assert_eq!(env.store().bill(khr.id).unwrap().paid, 0);
    // A repeat is answered Error and records nothing more.
    let (_, reply) = env.post("/webhook", &unknown).await;
    assert_eq!(reply["status"], json!("Error"));
    assert_eq!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .len(),
        4
    );
}

/// A transaction whose status is not `success` is acknowledged and not applied.
async fn webhook_status_not_success(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill("FAIL1", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let mut payload = current("T-FAILED", "KHR", json!(5000), "FAIL1", "");
    payload["status"] = json!("failed");
    let (status, reply) = env.post("/webhook", &payload).await;
    assert_eq!(status, 200);
    assert_eq!(reply["status"], json!("Success"));
    assert!(
        reply["message"].as_str().unwrap().contains("not applied"),
        "{reply}"
    );
    assert_eq!(env.store().bill(bill.id).unwrap().paid, 0);
    assert!(
        env.store()
            .payment_by_channel_ref("bill24", "T-FAILED")
            .unwrap()
            .is_none()
    );
    assert!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .is_empty()
    );
}

billhub_http::http_backend_tests!(
    webhook_current_generation,
    webhook_older_generation,
    webhook_duplicate_delivery,
    webhook_concurrent_deliveries,
    webhook_allocation_and_credit,
    webhook_unapplied_money,
    webhook_status_not_success,
);
