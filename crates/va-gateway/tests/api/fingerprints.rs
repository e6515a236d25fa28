//! Which retries of a bank's payment are repeats (issue 10, defect 11): the fingerprint covers
//! every field the payment records (`transaction_date`, `terminal_id`, `customer_name`, the
//! amount), normalised, and a payment recorded before the upgrade (v1 fingerprint) is still
//! recognised.

use billhub_core::Money;
use billhub_store::{OnRejection, PaymentRequest, PaymentTarget, fingerprint};

use crate::prelude::*;

billhub_http::http_backend_tests!(
    recorded_fields_decide_a_repeat,
    a_payment_recorded_before_the_upgrade_is_still_a_repeat,
);

async fn recorded_fields_decide_a_repeat(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("9100000001", "partial", 100000)).await;
    let number = "0099029100000001";
    let body = pay_body(number, "F-1", "30000");
    let first = va.bank_post("/api/v2/ch/payment", &body).await.ok().clone();

    // Same reference, a different recorded field: refused as inconsistent, nothing recorded.
    let changes = [
        ("transaction_date", json!("2026-11-21 10:00:01")),
        ("terminal_id", json!("atm")),
        ("customer_name", json!("Siti Aminah")),
    ];
    for (field, value) in changes {
        let mut other = body.clone();
        other[field] = value;
        let a = va.bank_post("/api/v2/ch/payment", &other).await;
        assert_eq!(
            (a.status, a.rc()),
            (409, "INCONSISTENT_REQUEST"),
            "{field}: {}",
            a.body
        );
    }

    // Spacing, key order and fields billhub does not record do not make another request.
    let respaced = json!({
        "customer_name": "  Budi   Santoso ",
        "amount": "30000",
        "transaction_date": " 2026-11-21 10:00:00",
        "terminal_id": "mobile_banking",
        "ref_id": "F-1",
        "va_number": number,
        "note": "not recorded"
    });
    let retry = va.bank_post("/api/v2/ch/payment", &respaced).await;
    assert_eq!(retry.ok(), &first);

    let bill = &va.store().bills_by_va_number(number).unwrap()[0];
    assert_eq!(bill.paid, 3_000_000);
    let payments = va.store().payments_of_bill(bill.id).unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].payer_name, "Budi Santoso");
}

async fn a_payment_recorded_before_the_upgrade_is_still_a_repeat(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("9100000002", "partial", 100000)).await;
    let number = "0099029100000002";
    let bill = va.store().bills_by_va_number(number).unwrap()[0].clone();
    // What the gateway stored before v2: the v1 fingerprint of VA number and amount.
    let old = PaymentRequest {
        organization_id: va.org.id,
        channel: format!("va:{}", va.bank_channel_id),
        channel_ref: "OLD-1".into(),
        request_hash: fingerprint(&["va-payment", number, "3000000"]),
        target: PaymentTarget::Bill { bill_id: bill.id },
        amount: Money::from_minor(3_000_000, bill.currency),
        fee: 0,
        method: "mobile_banking".into(),
        payer_name: "Budi Santoso".into(),
        details: "{}".into(),
        paid_at: T0,
        on_rejection: OnRejection::Refuse,
    };
    let recorded = va.store().post_payment(&old, T0).unwrap();
    let payment = recorded.payment().unwrap().clone();

    // The bank's retry of that payment is answered with it, nothing new recorded.
    let retry = va.pay(number, "OLD-1", "30000").await;
    let data = retry.ok();
    assert_eq!(data["payment"]["id"], payment.uid);
    assert_eq!(data["payment"]["payment_ref_id"], "OLD-1");
    assert_eq!(data["paid_amount"].to_string(), "30000");
    // Another amount under that reference is still refused.
    va.pay(number, "OLD-1", "30001")
        .await
        .refused(409, "INCONSISTENT_REQUEST");
    assert_eq!(va.store().payments_of_bill(bill.id).unwrap().len(), 1);
    assert_eq!(va.store().bill(bill.id).unwrap().paid, 3_000_000);
}
