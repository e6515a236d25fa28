//! Hostile dates and text (issue 10, defects 2 and 15): a channel's `transaction_date` outside
//! 2000-01-01 .. now + 1 day, a `valid_until` with no UTC form and NUL in any text are
//! validation errors before money moves, and the gateway keeps paying afterwards (the pool is
//! not poisoned by a panic inside a write transaction).

use crate::prelude::*;

billhub_http::http_backend_tests!(
    hostile_transaction_dates_are_refused_and_the_pool_keeps_working,
    unrepresentable_valid_until_is_refused,
    quantities_are_exact_or_refused,
    nul_in_text_is_a_validation_error,
);

const NUMBER: &str = "0099022000000001";

fn dated(ref_id: &str, date: &str) -> Value {
    let mut b = pay_body(NUMBER, ref_id, "100000");
    b["transaction_date"] = json!(date);
    b
}

async fn hostile_transaction_dates_are_refused_and_the_pool_keeps_working(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("2000000001", "close", 100000)).await;
    let cases = [
        (
            "-9999-01-01 00:00:00",
            "The transaction_date must be a date after 2000-01-01.",
        ),
        (
            "1999-12-31 23:59:59",
            "The transaction_date must be a date after 2000-01-01.",
        ),
        (
            "9999-12-31 23:59:59",
            "The transaction_date must not be more than one day in the future.",
        ),
        // T0 is 2026-11-21 10:00 WIB: one day and one second ahead.
        (
            "2026-11-22 10:00:01",
            "The transaction_date must not be more than one day in the future.",
        ),
    ];
    for (i, (date, message)) in cases.iter().enumerate() {
        for path in ["/api/v2/ch/payment", "/api/v2/ch/inquiry"] {
            let a = va.bank_post(path, &dated(&format!("BAD-{i}"), date)).await;
            a.refused(422, "VALIDATION_ERROR");
            assert_eq!(a.data()["transaction_date"], json!([message]), "{date}");
        }
    }
    // The edges themselves pass; an ordinary payment goes through the same pool afterwards.
    va.bank_post(
        "/api/v2/ch/inquiry",
        &dated("INQ-EDGE", "2026-11-22 10:00:00"),
    )
    .await
    .ok();
    let a = va
        .bank_post(
            "/api/v2/ch/payment",
            &dated("PAY-OK", "2000-01-01 07:00:00"),
        )
        .await;
    let paid = a.ok();
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid_amount"].to_string(), "100000");
    assert_eq!(paid["payment"]["payment_ref_id"], "PAY-OK");
    // Nothing was kept of the refused ones.
    let hash = paid["hash"].as_str().unwrap().to_string();
    let rows = va
        .biller_get(&format!("/api/v2/gw/bill/{hash}/payment"))
        .await;
    let refs: Vec<_> = rows
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["payment_ref_id"].clone())
        .collect();
    assert_eq!(refs, [json!("PAY-OK")]);
}

async fn unrepresentable_valid_until_is_refused(db: TestDb) {
    let va = spawn(db).await;
    for (i, until) in ["9999-12-31T23:59:59-01:00", "9999-12-31T23:00:00Z"]
        .iter()
        .enumerate()
    {
        let mut body = bill_body(&format!("200000000{i}"), "close", 100000);
        body["valid_until"] = json!(until);
        let a = va.biller_post("/api/v2/gw/bill", &body).await;
        a.refused(422, "VALIDATION_ERROR");
        assert_eq!(
            a.data()["valid_until"],
            json!([
                "The valid_until must be an ISO 8601 date with an offset (2022-04-04T11:46:56+07:00)."
            ]),
            "{until}"
        );
    }
    // An ordinary bill is still created and paid.
    va.create(&bill_body("2000000009", "close", 100000)).await;
    va.pay("0099022000000009", "PAY-9", "100000").await.ok();
}

async fn nul_in_text_is_a_validation_error(db: TestDb) {
    let va = spawn(db).await;
    // A bill: NUL in a top-level and a nested field, reported by path.
    let mut body = bill_body("2000000001", "close", 100000);
    body["name"] = json!("SPP\u{0} Jan");
    body["components"][0]["name"] = json!("\u{0}");
    let a = va.biller_post("/api/v2/gw/bill", &body).await;
    a.refused(422, "VALIDATION_ERROR");
    assert_eq!(
        a.data()["name"],
        json!(["The name must not contain a NUL character."])
    );
    assert_eq!(
        a.data()["components.0.name"],
        json!(["The components.0.name must not contain a NUL character."])
    );
    va.create(&bill_body("2000000001", "close", 100000)).await;
    // A payment: NUL in the payer's name or the reference.
    let mut b = pay_body(NUMBER, "PAY-1", "100000");
    b["customer_name"] = json!("Budi\u{0}");
    let a = va.bank_post("/api/v2/ch/payment", &b).await;
    a.refused(422, "VALIDATION_ERROR");
    assert_eq!(
        a.data()["customer_name"],
        json!(["The customer_name must not contain a NUL character."])
    );
    let a = va.pay(NUMBER, "PAY\u{0}2", "100000").await;
    a.refused(422, "VALIDATION_ERROR");
    assert!(a.data().get("ref_id").is_some(), "{}", a.body);
    // A query string.
    let a = va.biller_get("/api/v2/gw/bill?q=a%00b").await;
    a.refused(422, "VALIDATION_ERROR");
    assert!(a.data().get("q").is_some(), "{}", a.body);
    // Other control characters pass; the bill is paid once, cleanly.
    let mut b = pay_body(NUMBER, "PAY-3", "100000");
    b["customer_name"] = json!("Budi\tSantoso\u{1}");
    let a = va.bank_post("/api/v2/ch/payment", &b).await;
    assert_eq!(a.ok()["status"], "paid");
}

/// Defect 12: a quantity with more digits than a decimal holds was rounded silently.
async fn quantities_are_exact_or_refused(db: TestDb) {
    let va = spawn(db).await;
    let mut body = bill_body("2000000001", "close", 100000);
    body["components"][0]["qty"] = json!("1.00000000000000000000000000001");
    let a = va.biller_post("/api/v2/gw/bill", &body).await;
    a.refused(422, "VALIDATION_ERROR");
    assert_eq!(
        a.data()["components.0.qty"],
        json!(["The qty must be a number."])
    );
    body["components"][0]["qty"] = json!("1.000");
    let made = va.create(&body).await;
    assert_eq!(made["components"][0]["qty"], json!("1"));
}
