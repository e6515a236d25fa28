//! Which webhook deliveries are repeats (issue 10, defect 11): the fingerprint covers every
//! field the payments record (amounts, `customer_fee`, the paid date as an instant, customer
//! names, the bank), normalised; a delivery recorded before the upgrade (v1 fingerprint) is
//! still recognised.

use billhub_core::Money;
use billhub_store::{OnRejection, PaymentRequest, PaymentTarget, fingerprint};

use crate::prelude::*;

billhub_http::http_backend_tests!(
    recorded_fields_decide_a_repeat,
    older_generation_fee_decides_a_repeat,
    a_delivery_recorded_before_the_upgrade_is_still_a_repeat,
);

const REPEAT: &str = "Transaction T-F1 was already recorded; nothing was changed.";
const OTHER: &str =
    "Transaction T-F1 was already recorded with different content; nothing was changed.";

async fn recorded_fields_decide_a_repeat(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill("CU1", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let first = current("T-F1", "KHR", json!(5000), "CU1", "");
    let (status, reply) = env.post("/webhook", &first).await;
    assert_eq!((status, reply), (200, success()));

    let mut other_date = first.clone();
    other_date["tran_date"] = json!("2025-09-01T09:59:16.727168");
    let mut other_name = first.clone();
    other_name["customers"][0]["customer_name"] = json!("SOK DARA");
    let mut other_bank = first.clone();
    other_bank["bank_name"] = json!("ABA");
    for changed in [&other_date, &other_name, &other_bank] {
        let (status, reply) = env.post("/webhook", changed).await;
        assert_eq!(status, 200);
        assert_eq!(reply["status"], json!("Error"), "{reply}");
        assert_eq!(reply["message"], json!(OTHER), "{changed}");
    }

    // Spacing, the same instant spelled in UTC and fields the payment does not record are the
    // same delivery.
    let mut same = first.clone();
    same["tran_date"] = json!("2025-09-01T02:58:16.727168+00:00");
    same["customers"][0]["customer_name"] = json!("  MAO   SAMON ");
    same["tran_no"] = json!("another");
    let (status, reply) = env.post("/webhook", &same).await;
    assert_eq!(status, 200);
    assert_eq!(reply["message"], json!(REPEAT), "{reply}");

    let paid = env.store().payments_of_bill(bill.id).unwrap();
    assert_eq!(paid.len(), 1);
    assert_eq!(
        (paid[0].amount, paid[0].payer_name.as_str()),
        (500000, "MAO SAMON")
    );
}

async fn older_generation_fee_decides_a_repeat(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill("CU003035", BillSpec::usd(1000, date!(2025 - 08 - 01)));
    let older = |fee: Value| {
        json!({ "tnx_id": "T-F1", "tran_amount": 10, "customer_fee": fee, "supplier_fee": 0,
            "currency": "USD", "bank_name": "ACLEDA", "customer_code": "CU003035",
            "customer_name": "Nheb Nim", "paid_date": "2025-08-30 10:46:33",
            "bills": [{"id": bill.public_no, "sync_code": ""}] })
    };
    let (status, reply) = env.post("/webhook", &older(json!(0.20))).await;
    assert_eq!((status, reply), (200, success()));
    let (_, reply) = env.post("/webhook", &older(json!(0.30))).await;
    assert_eq!(reply["message"], json!(OTHER), "{reply}");
    let (_, reply) = env.post("/webhook", &older(json!(0.2))).await;
    assert_eq!(reply["message"], json!(REPEAT), "{reply}");
    let paid = env.store().payments_of_bill(bill.id).unwrap();
    assert_eq!(paid.len(), 1);
    assert_eq!((paid[0].amount, paid[0].fee), (1000, 20));
}

async fn a_delivery_recorded_before_the_upgrade_is_still_a_repeat(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill("CU1", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    // What the gateway stored before v2: the v1 fingerprint of the transaction (generation,
    // id, currency, amount, shares, each share's customer, bills and amount), then the share.
    let tx = fingerprint(&["current", "T-F1", "KHR", "500000", "1", "CU1", "", "500000"]);
    let old = PaymentRequest {
        organization_id: env.org.id,
        channel: "bill24".into(),
        channel_ref: "T-F1".into(),
        request_hash: fingerprint(&[&tx, "0"]),
        target: PaymentTarget::Bill { bill_id: bill.id },
        amount: Money::from_minor(500000, Currency::KHR),
        fee: 0,
        method: "ACLEDA".into(),
        payer_name: "MAO SAMON".into(),
        details: "{}".into(),
        paid_at: NOW,
        on_rejection: OnRejection::RecordUnapplied,
    };
    env.store().post_payment(&old, NOW).unwrap();

    let again = current("T-F1", "KHR", json!(5000), "CU1", "");
    let (status, reply) = env.post("/webhook", &again).await;
    assert_eq!(status, 200);
    assert_eq!(reply["message"], json!(REPEAT), "{reply}");
    let (_, reply) = env
        .post("/webhook", &current("T-F1", "KHR", json!(4000), "CU1", ""))
        .await;
    assert_eq!(reply["message"], json!(OTHER), "{reply}");
    assert_eq!(env.store().payments_of_bill(bill.id).unwrap().len(), 1);
    assert_eq!(env.store().bill(bill.id).unwrap().paid, 500000);
}
