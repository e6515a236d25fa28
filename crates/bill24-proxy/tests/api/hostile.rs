//! Hostile dates and text (issue 10, defects 2 and 15). On `/webhook` the money is already
//! taken: a `tran_date` outside 2000-01-01 .. now + 1 day is replaced by the time of receipt
//! (the text kept in the details) and NUL is removed from what is stored (the raw body kept,
//! escaped, in the details); the gateway keeps answering afterwards. On `/proxy` and
//! `/pending_bills`, a code with NUL names nobody (code 1). A payment already stored at the
//! end of time does not break the consumer's statement.

use billhub_core::{Channel, Money};
use billhub_store::{OnRejection, PaymentRequest, PaymentTarget};

use crate::prelude::*;

billhub_http::http_backend_tests!(
    webhook_dates_out_of_range_are_replaced_by_the_time_of_receipt,
    webhook_with_nul_is_recorded_without_it,
    nul_in_a_consumer_code_is_refused,
    a_payment_stored_at_the_end_of_time_keeps_the_statement_working,
);

fn dated(tran_id: &str, customer: &str, amount: i64, date: &str) -> Value {
    let mut body = current(tran_id, "KHR", json!(amount), customer, "");
    body["tran_date"] = json!(date);
    body
}

async fn webhook_dates_out_of_range_are_replaced_by_the_time_of_receipt(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 09 - 01)));
    let hostile = [
        ("T-FAR", "9999-12-31T23:59:59-01:00"),
        ("T-END", "9999-12-31T23:59:59Z"),
        ("T-OLD", "-9999-01-01T00:00:00+07:00"),
        ("T-1999", "1999-12-31T23:59:59Z"),
    ];
    for (tran_id, date) in hostile {
        let (status, reply) = env
            .post("/webhook", &dated(tran_id, "CU003035", 1000, date))
            .await;
        assert_eq!((status, reply), (200, success()), "{date}");
        let p = env
            .store()
            .payment_by_channel_ref("bill24", tran_id)
            .unwrap()
            .unwrap();
        assert_eq!(p.paid_at, NOW, "{date}");
        assert_eq!(p.amount, 100000);
        let details: Value = serde_json::from_str(&p.details).unwrap();
        assert_eq!(details["transaction"]["tran_date"], json!(date));
        assert_eq!(details["paid_date_replaced"]["given"], json!(date));
        // The same delivery again: already recorded, nothing changes.
        let (status, reply) = env
            .post("/webhook", &dated(tran_id, "CU003035", 1000, date))
            .await;
        assert_eq!(status, 200);
        assert_eq!(reply["status"], json!("Error"), "{reply}");
    }
    // The pool was not poisoned: an ordinary payment and the statement still work.
    let (status, reply) = env
        .post(
            "/webhook",
            &dated("T-OK", "CU003035", 6000, "2025-09-01T09:58:16+07:00"),
        )
        .await;
    assert_eq!((status, reply), (200, success()));
    let ok = env
        .store()
        .payment_by_channel_ref("bill24", "T-OK")
        .unwrap()
        .unwrap();
    assert_eq!(ok.paid_at, datetime!(2025-09-01 09:58:16 +7));
    let details: Value = serde_json::from_str(&ok.details).unwrap();
    assert!(details.get("paid_date_replaced").is_none(), "{details}");
    let (status, body) = env
        .post("/pending_bills", &json!({"consumer_code": "CU003035"}))
        .await;
    assert_eq!((status, code(&body)), (200, 0), "{body}");
    let (status, body) = env
        .post("/proxy", &json!({"consumer_code": "CU003035"}))
        .await;
    assert_eq!((status, code(&body)), (200, 0), "{body}");
}

async fn webhook_with_nul_is_recorded_without_it(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    // Applied: NUL in the payer's name, the bank's reference and a key.
    let mut body = current("T-NUL\u{0}1", "KHR", json!(5000), "CU003035", "");
    body["customers"][0]["customer_name"] = json!("MAO\u{0} SAMON");
    body["bank_ref"] = json!("AC\u{0}001");
    body["note\u{0}"] = json!("x");
    let raw = body.to_string();
    let (status, reply) = env.post("/webhook", &body).await;
    assert_eq!((status, reply), (200, success()));
    let p = env
        .store()
        .payment_by_channel_ref("bill24", "T-NUL1")
        .unwrap()
        .unwrap();
    assert_eq!(p.payer_name, "MAO SAMON");
    assert_eq!(p.amount, 500000);
    assert!(!p.details.contains('\0'), "{}", p.details);
    let details: Value = serde_json::from_str(&p.details).unwrap();
    assert_eq!(details["transaction"]["bank_ref"], json!("AC001"));
    assert_eq!(details["transaction"]["note"], json!("x"));
    assert_eq!(details["raw_body"], json!(raw));
    assert!(
        details["raw_body"]
            .as_str()
            .unwrap()
            .contains(r"MAO\u0000 SAMON")
    );
    assert!(p.details.contains("MAO\\\\u0000 SAMON"), "{}", p.details);
    // Unapplied: an unknown consumer code with NUL in it.
    let body = current("T-NUL2", "KHR", json!(1000), "NO\u{0}SUCH", "");
    let (status, reply) = env.post("/webhook", &body).await;
    assert_eq!((status, reply), (200, success()));
    let un = env.store().unapplied_payments(Some(env.org.id)).unwrap();
    let u = un.iter().find(|u| u.channel_ref == "T-NUL2").unwrap();
    assert_eq!(u.account_code, "NOSUCH");
    assert_eq!(u.amount, 100000);
    assert!(!u.details.contains('\0'));
    let details: Value = serde_json::from_str(&u.details).unwrap();
    assert_eq!(details["raw_body"], json!(body.to_string()));
    // The repeat is recognised (the same content after NUL is removed).
    let (status, reply) = env.post("/webhook", &body).await;
    assert_eq!(status, 200);
    assert_eq!(reply["status"], json!("Error"), "{reply}");
    assert_eq!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .len(),
        1
    );
}

/// NUL in a consumer code names nobody: Bill24's code 1 (a business answer), never an HTTP
/// error.
async fn nul_in_a_consumer_code_is_refused(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    for path in ["/proxy", "/pending_bills"] {
        let (status, reply) = env
            .post(path, &json!({"consumer_code": "CU003035\u{0}"}))
            .await;
        assert_eq!(
            (status, reply),
            (
                200,
                json!({"code": 1, "message": "Error Not Found", "message_kh": "រកមិនឃើញ", "data": null})
            )
        );
        let (status, reply) = env.post(path, &json!({"consumer_code": "CU003035"})).await;
        assert_eq!((status, code(&reply)), (200, 0), "{reply}");
    }
}

async fn a_payment_stored_at_the_end_of_time_keeps_the_statement_working(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill(
        "CU003035",
        BillSpec::khr(5000, date!(2025 - 08 - 01)).rule(PaymentRule::Partial { minimum: None }),
    );
    // As a store from before the fix could hold it (the webhook no longer stores such a date).
    let req = PaymentRequest {
        organization_id: env.org.id,
        channel: Channel::Bill24.as_db(),
        channel_ref: "T-LEGACY".into(),
        request_hash: "legacy".into(),
        target: PaymentTarget::Bill { bill_id: bill.id },
        amount: Money::from_minor(200000, Currency::KHR),
        fee: 0,
        method: "ACLEDA".into(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: datetime!(9999-12-31 23:59:59 UTC),
        on_rejection: OnRejection::Refuse,
    };
    env.store().post_payment(&req, NOW).unwrap();
    let (status, body) = env
        .post("/pending_bills", &json!({"consumer_code": "CU003035"}))
        .await;
    assert_eq!((status, code(&body)), (200, 0), "{body}");
    let (status, body) = env
        .post("/proxy", &json!({"consumer_code": "CU003035"}))
        .await;
    assert_eq!((status, code(&body)), (200, 0), "{body}");
    // No local form at +07:00: shown in UTC rather than panicking.
    assert_eq!(body["data"]["last_pay_date"], json!("9999-12-31 23:59:59"));
    assert_eq!(body["data"]["due_amount"], json!(3000), "{body}");
}
