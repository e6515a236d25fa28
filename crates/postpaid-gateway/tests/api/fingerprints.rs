//! Which payments are repeats (issue 10, defect 11): the fingerprint covers the fields a
//! payment records (path, `localDateTime` as an instant, the amount and its field, the
//! `additionalData` pairs, invoice numbers, beneficiary phone), not the whole body; a payment
//! recorded before the upgrade (v1: the whole body, canonically) is still recognised.

use billhub_core::{Currency, Money, SettlementMode};
use billhub_store::testing::TestDb;
use billhub_store::{OnRejection, PaymentRequest, PaymentTarget, fingerprint};
use serde_json::json;

use crate::common::*;

billhub_http::http_backend_tests!(
    recorded_fields_decide_a_repeat,
    a_payment_recorded_before_the_upgrade_is_still_a_repeat,
);

async fn recorded_fields_decide_a_repeat(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let body = pay_body("1234567890", &code, 12500);
    let first = env.pay(3, "42", &body).await;
    assert_eq!(first["rc"], 0, "{first}");

    // The same instant in another offset, spacing in a value and a field nothing records:
    // the same payment.
    let same = json!({
        "localDateTime": "2025-07-03T12:00:00+01:00",
        "note": "echoed by the terminal",
        "additionalData": [
            { "key": "account", "value": " 1234567890 " },
            { "key": "transaction_code", "value": code }
        ],
        "amountToSendX100": 12500
    });
    assert_eq!(env.pay(3, "42", &same).await, first);

    // Another recorded field under the same reference: 12.
    let mut later = body.clone();
    later["localDateTime"] = json!("2025-07-03T11:00:01Z");
    let mut phone = body.clone();
    phone["beneficiaryPhoneNumber"] = json!("010888999");
    let mut other_field = body.clone();
    other_field["destinationAmountX100"] = json!(12500);
    other_field
        .as_object_mut()
        .unwrap()
        .remove("amountToSendX100");
    for changed in [&later, &phone, &other_field] {
        assert_refused(&env.pay(3, "42", changed).await, "12");
    }

    let acc = env
        .store()
        .account_by_code(env.org, "1234567890")
        .unwrap()
        .unwrap();
    assert_eq!(env.store().payments_of_account(acc.id).unwrap().len(), 1);
}

async fn a_payment_recorded_before_the_upgrade_is_still_a_repeat(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let acc = env
        .store()
        .account_by_code(env.org, "1234567890")
        .unwrap()
        .unwrap();
    let body = pay_body("1234567890", "OLDCODE1", 12500);
    // What the gateway stored before v2: route, operator and the whole body, canonically.
    let canonical = r#"{"additionalData":[{"key":"account","value":"1234567890"},{"key":"transaction_code","value":"OLDCODE1"}],"amountToSendX100":12500,"localDateTime":"2025-07-03T11:00:00Z"}"#;
    let old = PaymentRequest {
        organization_id: env.org,
        channel: format!("postpaid:{}", env.channel),
        channel_ref: "3:42:2025-07-03".into(),
        request_hash: fingerprint(&["payment", &env.org.to_string(), canonical]),
        target: PaymentTarget::Account {
            account_id: acc.id,
            mode: Some(SettlementMode::Total),
            chosen: None,
        },
        amount: Money::from_minor(12500, Currency::EUR),
        fee: 0,
        method: "terminal".into(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: NOW,
        on_rejection: OnRejection::Refuse,
    };
    let recorded = env.store().post_payment(&old, NOW).unwrap();
    let payment = recorded.payment().unwrap().clone();

    let again = env.pay(3, "42", &body).await;
    assert_eq!(again["rc"], 0, "{again}");
    assert_eq!(again["items"][0]["supplierreference"], json!(payment.uid));
    let mut other = body.clone();
    other["amountToSendX100"] = json!(12600);
    assert_refused(&env.pay(3, "42", &other).await, "12");
    assert_eq!(env.store().payments_of_account(acc.id).unwrap().len(), 1);
}
