//! Hostile dates and text (issue 10, defects 2 and 15): `localDateTime`, `originalLocalDate`
//! and `creationDate` outside 2000-01-01 .. now + 1 day, and NUL in any key or value, are 900
//! (HTTP 200) before any money moves; the gateway keeps paying afterwards.

use billhub_store::testing::TestDb;
use serde_json::{Value, json};

use crate::common::*;

billhub_http::http_backend_tests!(hostile_dates_are_900, nul_in_text_is_900,);

fn dated(code: &str, date: &str) -> Value {
    let mut b = pay_body("1234567890", code, 12500);
    b["localDateTime"] = json!(date);
    b
}

/// Nothing was stored under terminal 3, references `refs`.
fn nothing_stored(env: &Env, refs: &[&str]) {
    for r in refs {
        let channel = format!("postpaid:{}", env.channel);
        let found = env
            .store()
            .payment_by_channel_ref(&channel, &format!("3:{r}:2025-07-03"))
            .unwrap();
        assert!(found.is_none(), "{r}");
    }
}

pub async fn hostile_dates_are_900(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    // NOW is 2025-07-03 10:00 UTC.
    let cases = [
        (
            "1999-12-31T23:59:59Z",
            "localDateTime: must not be before 2000-01-01",
        ),
        (
            "9999-12-31T23:59:59-01:00",
            "localDateTime: must not be more than one day in the future",
        ),
        (
            "2025-07-04T10:00:01Z",
            "localDateTime: must not be more than one day in the future",
        ),
        // Without an offset: judged by its calendar day in any time zone.
        (
            "1999-12-31T23:59:59",
            "localDateTime: must not be before 2000-01-01",
        ),
        (
            "2025-07-06T00:00:00",
            "localDateTime: must not be more than one day in the future",
        ),
    ];
    for (i, (date, needle)) in cases.iter().enumerate() {
        let a = env
            .pay(3, &format!("{}", 10 + i), &dated(&code, date))
            .await;
        let msg = assert_refused(&a, "900");
        assert!(msg.contains(needle), "{date}: {msg}");
    }
    let rev = |date: &str, original_date: &str| {
        let mut b = revert_body(12500, 2, "1234567890");
        b["localDateTime"] = json!(date);
        b["originalLocalDate"] = json!(original_date);
        b
    };
    let a = env
        .revert(3, "20", &rev("9999-12-31T23:59:59-01:00", "2025-07-03"))
        .await;
    assert!(assert_refused(&a, "900").contains("localDateTime: must not be more than one day"));
    let a = env
        .revert(3, "21", &rev("2025-07-03T11:00:00Z", "1999-12-31"))
        .await;
    assert!(assert_refused(&a, "900").contains("originalLocalDate: must not be before 2000-01-01"));
    let a = env.get("/util/transaction/info/3/2/19991231").await;
    assert_eq!(a.status, 200);
    assert!(assert_refused(&a.body, "900").contains("creationDate: must not be before 2000-01-01"));
    let a = env.get("/util/transaction/info/3/2/20250706").await;
    assert!(assert_refused(&a.body, "900").contains("creationDate: must not be more than one day"));
    nothing_stored(&env, &["10", "11", "12", "13", "14"]);

    // The edges pass, and the pool still pays.
    let ok = env.pay(3, "2", &dated(&code, "2025-07-04T10:00:00Z")).await;
    assert_eq!(ok["rc"], 0, "{ok}");
    assert_eq!(ok["items"][0]["destinationamount"], 12500);
    let uid = ok["items"][0]["supplierreference"].as_str().unwrap();
    let payment = env.store().payment_by_uid(uid).unwrap().unwrap();
    assert_eq!(payment.channel_ref, "3:2:2025-07-04");
    assert_eq!(payment.paid_at, NOW);
}

pub async fn nul_in_text_is_900(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let path = format!("/post-paid/bill-payment/get-invoices/3/{}", env.org);
    let a = env
        .post(
            &path,
            &json!([{ "key": "account", "value": "1234567890\u{0}" }]),
        )
        .await;
    assert_eq!(a.status, 200);
    let msg = assert_refused(&a.body, "900");
    assert!(msg.contains("body.0.value") && msg.contains("NUL"), "{msg}");

    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let mut b = pay_body("1234567890", &code, 12500);
    b["additionalData"][0]["value"] = json!("1234567890\u{0}");
    let msg = assert_refused(&env.pay(3, "1", &b).await, "900");
    assert!(
        msg.contains("body.additionalData.0.value") && msg.contains("NUL"),
        "{msg}"
    );
    let mut b = pay_body("1234567890", &code, 12500);
    b["beneficiaryPhoneNumber"] = json!("+855\u{0}");
    let msg = assert_refused(&env.pay(3, "2", &b).await, "900");
    assert!(msg.contains("body.beneficiaryPhoneNumber"), "{msg}");
    let mut b = revert_body(12500, 5, "1234\u{0}");
    b["x\u{0}"] = json!(1);
    let msg = assert_refused(&env.revert(3, "3", &b).await, "900");
    assert!(
        msg.contains("body.account") && msg.contains("body.x"),
        "{msg}"
    );
    nothing_stored(&env, &["1", "2"]);

    // The same payment without NUL goes through.
    let ok = env.pay(3, "4", &pay_body("1234567890", &code, 12500)).await;
    assert_eq!(ok["rc"], 0, "{ok}");
}
