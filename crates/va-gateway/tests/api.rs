//! The VA dialect over HTTP, on SQLite and PostgreSQL: the seed example, validation, the
//! signature over raw bytes, the payment rules, expiry, revoke, reversal, idempotency,
//! concurrency, enrolment, lists, the sandbox and webhooks.
//!
//! The scenarios are plain async functions run by `http_backend_tests!` on both backends, so
//! clippy's unwrap-in-tests allowance does not reach them: allowed here for the whole file.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use billhub_core::signature::ipg;
use billhub_core::{Currency, PaymentRule};
use billhub_store::testing::TestDb;
use billhub_store::{AccountInput, NewBill};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

billhub_http::http_backend_tests!(
    seed_create_example_returns_the_seed_shape,
    every_validation_rule_is_reported,
    prefixes_va_numbers_and_accounts,
    signature_covers_the_raw_bytes,
    tokens_and_credential_kinds,
    close_bill_is_paid_exactly_once,
    partial_bill_takes_several_payments,
    open_bill_takes_any_positive_amount,
    expired_bills_are_refused,
    revoke_voids_the_bill,
    reversal_restores_the_bill,
    payment_retries_are_idempotent,
    concurrent_payments_of_one_close_bill,
    bank_not_enrolled_sees_nothing,
    lists_search_and_paginate,
    sandbox_mock_goes_through_the_channel_path,
    plumbing_errors_use_the_envelope,
    webhook_is_delivered_signed_and_retried,
    webhook_gives_up_after_three_tries,
    docs_example_works,
);

// -------------------------------------------------------------------------------------------

/// The seed's create example. The seed's request has `total_amount: 0`, a zero-quantity
/// component and a `valid_until` in the past (2022); those are replaced by values that make it
/// a valid request: one component of 1 x 100000 (so `total_amount` 100000) and a `valid_until`
/// 30 days after the test clock. `institution_code` is the test organization's code, and its
/// prefix 009902 is the organization's.
async fn seed_create_example_returns_the_seed_shape(db: TestDb) {
    let va = spawn(db).await;
    let valid_until = "2026-12-21T11:46:56+07:00";
    let request = json!({
        "va_number": "1234567890",
        "invoice_number": "INV01/TRX000001",
        "channel": "muamalat",
        "prefix": "009902",
        "name": "SPP Jan 22",
        "total_amount": 100000,
        "institution_code": ORG_CODE,
        "type": "close",
        "valid_until": valid_until,
        "components": [{ "name": "string", "qty": 1, "price": 100000, "total": 100000 }],
        "customer_name": "string",
        "customer_email": "string",
        "customer_phone": "string",
        "customer_address": "string",
        "description": "string",
        "ext_description": "string"
    });
    let answer = va.biller_post("/api/v2/gw/bill", &request).await;
    assert_eq!(answer.body["message"], "success");
    assert_eq!(answer.body["timestamp"], "2026-11-21T10:00:00+07:00");
    let data = answer.ok().clone();
    let keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "hash",
        "va_number",
        "type",
        "invoice_number",
        "name",
        "customer_name",
        "customer_email",
        "customer_phone",
        "customer_address",
        "total_amount",
        "billed_amount",
        "paid_amount",
        "description",
        "ext_description",
        "due_date",
        "valid_until",
        "status",
        "created_at",
        "components",
    ] {
        assert!(keys.contains(&k), "missing {k} in {data}");
    }
    assert_eq!(keys.len(), 19, "{keys:?}");
    let hash = data["hash"].as_str().unwrap();
    assert!(hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(data["va_number"], "0099021234567890");
    assert_eq!(data["type"], "close");
    assert_eq!(data["invoice_number"], "INV01/TRX000001");
    assert_eq!(data["name"], "SPP Jan 22");
    assert_eq!(data["customer_name"], "string");
    assert_eq!(data["customer_email"], "string");
    assert_eq!(data["customer_phone"], "string");
    assert_eq!(data["customer_address"], "string");
    // Amounts are JSON numbers without a fraction.
    assert_eq!(data["total_amount"].to_string(), "100000");
    assert_eq!(data["billed_amount"].to_string(), "100000");
    assert_eq!(data["paid_amount"].to_string(), "0");
    assert_eq!(data["description"], "string");
    assert_eq!(data["ext_description"], "string");
    assert_eq!(data["valid_until"], valid_until);
    assert_eq!(data["due_date"], valid_until);
    assert_eq!(data["status"], "active");
    assert_eq!(data["created_at"], "2026-11-21T10:00:00+07:00");
    assert!(is_iso_wib(&data["created_at"]));
    let c = &data["components"][0];
    assert!(is_uuid(&c["id"]), "{c}");
    assert_eq!(c["name"], "string");
    // Component amounts are strings.
    assert_eq!(
        (&c["qty"], &c["price"], &c["total"]),
        (&json!("1"), &json!("100000"), &json!("100000"))
    );
    assert_eq!(c.as_object().unwrap().len(), 5);

    // The same bill through GET, and in the store: the account is the 10-digit va_number.
    assert_eq!(va.bill(hash).await, data);
    let account = va
        .store()
        .account_by_code(va.org.id, "1234567890")
        .unwrap()
        .unwrap();
    assert_eq!(account.name, "string");
    let bills = va.store().bills_by_va_number("0099021234567890").unwrap();
    assert_eq!(bills.len(), 1);
    assert_eq!(bills[0].public_no, hash);
    assert_eq!(bills[0].billed, 10_000_000);
    assert_eq!(bills[0].rule, PaymentRule::Exact);
}

async fn every_validation_rule_is_reported(db: TestDb) {
    let va = spawn(db).await;
    // Another organization owns 009903.
    va.store()
        .create_organization(
            &billhub_store::NewOrganization {
                code: Some("OTHER001".into()),
                name: "Other".into(),
                utc_offset: time::UtcOffset::UTC,
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec!["009903".into()],
            },
            T0,
        )
        .unwrap();

    // Everything missing: every required field at once.
    let a = va.biller_post("/api/v2/gw/bill", &json!({})).await;
    a.refused(422, "VALIDATION_ERROR");
    assert_eq!(a.body["message"], "The given data was invalid.");
    for f in [
        "va_number",
        "prefix",
        "name",
        "total_amount",
        "institution_code",
        "type",
        "customer_name",
    ] {
        assert!(a.data().get(f).is_some(), "{f} not reported: {}", a.body);
    }
    assert_eq!(a.data().as_object().unwrap().len(), 7, "{}", a.body);
    assert_eq!(a.data()["va_number"][0], "The va_number field is required.");

    // Everything wrong at once.
    let mut bad = bill_body("12345", "closed", 100000);
    bad["prefix"] = json!(["009902", "009903", 7, "12"]);
    bad["institution_code"] = json!("OTHER001");
    bad["name"] = json!("");
    bad["customer_name"] = json!(null);
    bad["valid_until"] = json!("2022-04-04T11:46:56+07:00");
    bad["total_amount"] = json!(100000.001);
    bad["customer_email"] = json!(12);
    bad["components"] = json!([
        {"name": "a", "qty": 2, "price": 50000, "total": 90000},
        {"name": "b", "qty": 0, "price": 1, "total": 0},
        {"qty": 1, "price": "x", "total": 1},
        "nope"
    ]);
    let a = va.biller_post("/api/v2/gw/bill", &bad).await;
    a.refused(422, "VALIDATION_ERROR");
    let d = a.data();
    for f in [
        "va_number",
        "prefix.1",
        "prefix.2",
        "prefix.3",
        "institution_code",
        "name",
        "customer_name",
        "type",
        "valid_until",
        "total_amount",
        "customer_email",
        "components.0.total",
        "components.1.qty",
        "components.2.name",
        "components.2.price",
        "components.3",
    ] {
        assert!(d.get(f).is_some(), "{f} not reported: {d}");
    }
    assert!(d.get("prefix.0").is_none());
    assert_eq!(
        d["va_number"][0],
        "The va_number must be exactly 10 digits."
    );
    assert_eq!(
        d["prefix.1"][0],
        "The prefix 009903 is not one of the institution's VA prefixes."
    );
    assert_eq!(
        d["valid_until"][0],
        "The valid_until must be a date in the future."
    );

    // One rule at a time.
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "va_number",
            Box::new(|b| b["va_number"] = json!("12345678901")),
        ),
        (
            "va_number",
            Box::new(|b| b["va_number"] = json!("12345abcde")),
        ),
        (
            "va_number",
            Box::new(|b| b["va_number"] = json!(1234567890)),
        ),
        ("prefix", Box::new(|b| b["prefix"] = json!("009903"))),
        ("prefix", Box::new(|b| b["prefix"] = json!("0099"))),
        ("prefix", Box::new(|b| b["prefix"] = json!([]))),
        ("prefix", Box::new(|b| b["prefix"] = json!({"a": 1}))),
        (
            "prefix.1",
            Box::new(|b| b["prefix"] = json!(["009902", "009902"])),
        ),
        (
            "institution_code",
            Box::new(|b| b["institution_code"] = json!("e9kp2zq6")),
        ),
        (
            "name",
            Box::new(|b| {
                b.as_object_mut()
                    .unwrap()
                    .remove("name")
                    .map(|_| ())
                    .unwrap_or(())
            }),
        ),
        (
            "customer_name",
            Box::new(|b| b["customer_name"] = json!("  ")),
        ),
        ("type", Box::new(|b| b["type"] = json!("CLOSE"))),
        (
            "valid_until",
            Box::new(|b| b["valid_until"] = json!("2026-12-21 10:00:00")),
        ),
        (
            "valid_until",
            Box::new(|b| b["valid_until"] = json!("2026-12-21T10:00:00")),
        ),
        (
            "valid_until",
            Box::new(|b| b["valid_until"] = json!("2026-11-21T10:00:00+07:00")),
        ),
        ("total_amount", Box::new(|b| b["total_amount"] = json!(0))),
        ("total_amount", Box::new(|b| b["total_amount"] = json!(-5))),
        (
            "total_amount",
            Box::new(|b| b["total_amount"] = json!("abc")),
        ),
        (
            "total_amount",
            Box::new(|b| b["total_amount"] = json!(99999)),
        ),
        (
            "components.0.total",
            Box::new(|b| b["components"][0]["total"] = json!(99999)),
        ),
        (
            "components.0.qty",
            Box::new(|b| b["components"][0]["qty"] = json!(-1)),
        ),
        (
            "components.0.price",
            Box::new(|b| b["components"][0]["price"] = json!(-1)),
        ),
        ("components", Box::new(|b| b["components"] = json!("x"))),
        (
            "invoice_number",
            Box::new(|b| b["invoice_number"] = json!("x".repeat(65))),
        ),
        ("description", Box::new(|b| b["description"] = json!(["x"]))),
    ];
    for (i, (field, edit)) in cases.iter().enumerate() {
        let mut body = bill_body(&format!("55500000{i:02}"), "close", 100000);
        edit(&mut body);
        let a = va.biller_post("/api/v2/gw/bill", &body).await;
        a.refused(422, "VALIDATION_ERROR");
        assert!(
            a.data().get(*field).is_some(),
            "case {i}: {field} not reported: {}",
            a.body
        );
        assert_eq!(
            a.data().as_object().unwrap().len(),
            1,
            "case {i}: {}",
            a.body
        );
    }

    // Not JSON at all.
    let body = b"va_number=1234567890";
    let sig = ipg::sign(&va.biller.api_key, body, "");
    let a = va
        .send_raw(
            Method::POST,
            "/api/v2/gw/bill",
            Some(&va.biller.token),
            Some(&sig),
            body,
        )
        .await;
    a.refused(422, "VALIDATION_ERROR");
    assert!(a.data().get("body").is_some());

    // Valid variants: no components (total stands alone), no valid_until, decimal amounts,
    // several components summed, and the deprecated channel ignored.
    let mut ok = bill_body("5550000100", "close", 100000);
    ok.as_object_mut().unwrap().remove("components");
    ok.as_object_mut().unwrap().remove("valid_until");
    ok["channel"] = json!("tokopedia");
    let d = va.create(&ok).await;
    assert_eq!(d["components"], json!([]));
    assert_eq!(d["valid_until"], Value::Null);
    assert_eq!(d["due_date"], Value::Null);
    let mut ok = bill_body("5550000101", "partial", 150000);
    ok["total_amount"] = json!(150000.5);
    ok["components"] = json!([
        {"name": "SPP", "qty": 1, "price": 100000, "total": 100000},
        {"name": "Buku", "qty": "2.5", "price": 20000.2, "total": 50000.5}
    ]);
    let d = va.create(&ok).await;
    assert_eq!(d["total_amount"].to_string(), "150000.5");
    assert_eq!(d["components"][1]["qty"], "2.5");
    assert_eq!(d["components"][1]["price"], "20000.2");
    assert_eq!(d["components"][1]["total"], "50000.5");
    assert_eq!(d["type"], "partial");
}

async fn prefixes_va_numbers_and_accounts(db: TestDb) {
    let va = spawn(db).await;
    // Several prefixes: payable at each; data.va_number is the first.
    let mut body = bill_body("7000000001", "close", 100000);
    body["prefix"] = json!(["009905", "009902"]);
    let d = va.create(&body).await;
    assert_eq!(d["va_number"], "0099057000000001");
    for number in ["0099057000000001", "0099027000000001"] {
        let a = va
            .bank_post("/api/v2/ch/inquiry", &channel_body(number, "INQ-1"))
            .await;
        let bills = a.ok().as_array().unwrap().clone();
        assert_eq!(bills.len(), 1);
        assert_eq!(bills[0]["hash"], d["hash"]);
    }
    // A VA number held by a payable bill is refused, at any of its prefixes.
    let again = va
        .biller_post("/api/v2/gw/bill", &bill_body("7000000001", "open", 5000))
        .await;
    again.refused(409, "VA_NUMBER_IN_USE");
    // Once paid (no longer payable), the number can carry a new bill.
    va.pay("0099027000000001", "P-1", "100000").await.ok();
    let d2 = va.create(&bill_body("7000000001", "open", 5000)).await;
    assert_ne!(d2["hash"], d["hash"]);
    let a = va
        .bank_post(
            "/api/v2/ch/inquiry",
            &channel_body("0099027000000001", "INQ-2"),
        )
        .await;
    assert_eq!(a.ok()[0]["hash"], d2["hash"]);
    // Both bills belong to the account 7000000001.
    let account = va
        .store()
        .account_by_code(va.org.id, "7000000001")
        .unwrap()
        .unwrap();
    assert_eq!(va.store().bills_of_account(account.id).unwrap().len(), 2);
}

async fn signature_covers_the_raw_bytes(db: TestDb) {
    let va = spawn(db).await;
    // The vector body of shared/vectors.json, byte for byte as a PHP client sends it: `\/` in
    // the invoice number and `\u00e9` in the description.
    let body = br#"{"va_number":"1234567890","invoice_number":"INV01\/TRX000001","prefix":"009902","name":"SPP Jan 22","total_amount":100000,"institution_code":"E9KP2ZQ6","type":"close","valid_until":"2030-04-04T11:46:56+07:00","components":[{"name":"SPP Januari","qty":1,"price":100000,"total":100000}],"customer_name":"Budi Santoso","description":"Pembayaran SPP caf\u00e9"}"#;
    // The same JSON value written another way (unescaped) has another signature.
    let plain = String::from_utf8(body.to_vec())
        .unwrap()
        .replace("\\/", "/")
        .replace("\\u00e9", "é");
    assert_eq!(ipg::php_escape(&plain).as_bytes(), body);
    let wrong = ipg::sign(&va.biller.api_key, plain.as_bytes(), "");
    let a = va
        .send_raw(
            Method::POST,
            "/api/v2/gw/bill",
            Some(&va.biller.token),
            Some(&wrong),
            body,
        )
        .await;
    a.refused(401, "UNAUTHORIZED");
    assert_eq!(a.body["message"], "Invalid signature.");
    assert_eq!(a.data(), &Value::Null);
    // Signed over the raw bytes: accepted, and the escapes decode.
    let sig = ipg::sign(&va.biller.api_key, body, "");
    let a = va
        .send_raw(
            Method::POST,
            "/api/v2/gw/bill",
            Some(&va.biller.token),
            Some(&sig),
            body,
        )
        .await;
    let d = a.ok();
    assert_eq!(d["invoice_number"], "INV01/TRX000001");
    assert_eq!(d["description"], "Pembayaran SPP café");
    assert_eq!(d["valid_until"], "2030-04-04T11:46:56+07:00");
    let hash = d["hash"].as_str().unwrap().to_string();
    // Upper-case hex is the same signature.
    let mut body2 = body.to_vec();
    body2.splice(14..24, b"1234567891".iter().copied());
    let sig2 = ipg::sign(&va.biller.api_key, &body2, "").to_uppercase();
    va.send_raw(
        Method::POST,
        "/api/v2/gw/bill",
        Some(&va.biller.token),
        Some(&sig2),
        &body2,
    )
    .await
    .ok();

    // Wrong key: the bank's key with the biller's token.
    let other = ipg::sign(&va.bank.api_key, body, "");
    va.send_raw(
        Method::POST,
        "/api/v2/gw/bill",
        Some(&va.biller.token),
        Some(&other),
        body,
    )
    .await
    .refused(401, "UNAUTHORIZED");
    // Missing signature, missing token, unknown token.
    va.send_raw(
        Method::POST,
        "/api/v2/gw/bill",
        Some(&va.biller.token),
        None,
        body,
    )
    .await
    .refused(401, "UNAUTHORIZED");
    va.send_raw(Method::POST, "/api/v2/gw/bill", None, Some(&sig), body)
        .await
        .refused(401, "UNAUTHORIZED");
    va.send_raw(
        Method::POST,
        "/api/v2/gw/bill",
        Some("nope"),
        Some(&sig),
        body,
    )
    .await
    .refused(401, "UNAUTHORIZED");

    // GET: over the raw query string exactly as sent (order matters), or over "" without one.
    let q = format!("institution_code={ORG_CODE}&page=1");
    let sig = ipg::sign(&va.biller.api_key, b"", &q);
    let a = va
        .send_raw(
            Method::GET,
            &format!("/api/v2/gw/bill?{q}"),
            Some(&va.biller.token),
            Some(&sig),
            b"",
        )
        .await;
    assert_eq!(a.ok()["total"], 2);
    let swapped = format!("page=1&institution_code={ORG_CODE}");
    va.send_raw(
        Method::GET,
        &format!("/api/v2/gw/bill?{swapped}"),
        Some(&va.biller.token),
        Some(&sig),
        b"",
    )
    .await
    .refused(401, "UNAUTHORIZED");
    let sig = ipg::sign(&va.biller.api_key, b"", "");
    va.send_raw(
        Method::GET,
        &format!("/api/v2/gw/bill/{hash}"),
        Some(&va.biller.token),
        Some(&sig),
        b"",
    )
    .await
    .ok();
    // A DELETE with the `{}` body PHP clients send is signed over `{}`.
    let sig = ipg::sign(&va.biller.api_key, b"{}", "");
    let a = va
        .send_raw(
            Method::DELETE,
            &format!("/api/v2/gw/bill/{hash}"),
            Some(&va.biller.token),
            Some(&sig),
            b"{}",
        )
        .await;
    assert_eq!(a.body["message"], "Billing revoked.");

    // An expired token.
    va.app.clock().advance(time::Duration::seconds(3601));
    let a = va.biller_get("/api/v2/gw/bill").await;
    a.refused(401, "UNAUTHORIZED");
    assert_eq!(
        a.body["message"],
        "The access token is invalid or has expired."
    );
}

async fn tokens_and_credential_kinds(db: TestDb) {
    let va = spawn(db).await;
    let url = va.app.url("/oauth/token");
    let post = |body: Value| {
        let c = va.app.client.clone();
        let url = url.clone();
        async move {
            let r = c.post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, ok) = post(json!({"grant_type": "client_credentials", "client_id": va.biller.client_id, "client_secret": va.biller.client_secret, "scope": "*"})).await;
    assert_eq!(status, 200);
    assert_eq!(ok["token_type"], "Bearer");
    assert_eq!(ok["expires_in"], 3600);
    assert!(ok["access_token"].as_str().unwrap().len() >= 40);
    assert_eq!(ok.as_object().unwrap().len(), 3);
    // Tokens are stored hashed.
    assert!(
        va.store()
            .authenticate_access_token(ok["access_token"].as_str().unwrap(), T0)
            .unwrap()
            .is_some()
    );

    let (status, err) = post(json!({"grant_type": "client_credentials", "client_id": va.biller.client_id, "client_secret": "wrong", "scope": "*"})).await;
    assert_eq!(status, 401);
    assert_eq!(
        err,
        json!({"error": "invalid_client", "error_description": "Client authentication failed", "message": "Client authentication failed"})
    );
    let (status, err) = post(json!({"grant_type": "password", "client_id": va.biller.client_id, "client_secret": va.biller.client_secret})).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "unsupported_grant_type");
    let (status, err) = post(json!({"grant_type": "client_credentials"})).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_request");
    // A form body works too.
    let r = va
        .app
        .client
        .post(va.app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &va.bank.client_id),
            ("client_secret", &va.bank.client_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // A biller token never reaches the channel API, a bank token never the biller API.
    let d = va.create(&bill_body("1111111111", "close", 100000)).await;
    va.call(
        &va.biller,
        Method::POST,
        "/api/v2/ch/inquiry",
        Some(&channel_body("0099021111111111", "X")),
    )
    .await
    .refused(403, "FORBIDDEN");
    va.call(
        &va.bank,
        Method::GET,
        &format!("/api/v2/gw/bill/{}", d["hash"].as_str().unwrap()),
        None,
    )
    .await
    .refused(403, "FORBIDDEN");
    va.call(
        &va.bank,
        Method::POST,
        "/api/v2/gw/bill",
        Some(&bill_body("1111111112", "close", 1)),
    )
    .await
    .refused(403, "FORBIDDEN");
    // A revoked credential's token stops working.
    let cred = va
        .store()
        .authenticate_access_token(&va.biller.token, T0)
        .unwrap()
        .unwrap();
    va.store().revoke_credential(cred.id, T0).unwrap();
    va.biller_get("/api/v2/gw/bill")
        .await
        .refused(401, "UNAUTHORIZED");
}

async fn close_bill_is_paid_exactly_once(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("2000000001", "close", 100000)).await;
    let number = "0099022000000001";
    let a = va
        .bank_post("/api/v2/ch/inquiry", &channel_body(number, "INQ-1"))
        .await;
    let bills = a.ok().as_array().unwrap().clone();
    assert_eq!(bills.len(), 1);
    assert_eq!(bills[0], d);
    // Only the exact amount.
    let a = va.pay(number, "PAY-1", "50000").await;
    a.refused(422, "INVALID_AMOUNT");
    assert_eq!(
        a.body["message"],
        "The amount must equal the outstanding amount 100000."
    );
    va.pay(number, "PAY-2", "100001")
        .await
        .refused(422, "INVALID_AMOUNT");
    va.pay(number, "PAY-3", "abc")
        .await
        .refused(422, "VALIDATION_ERROR");
    let a = va.pay(number, "PAY-4", "100000").await;
    let paid = a.ok();
    assert_eq!(paid["hash"], d["hash"]);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid_amount"].to_string(), "100000");
    let p = &paid["payment"];
    assert!(is_uuid(&p["id"]));
    assert_eq!(p["payment_ref_id"], "PAY-4");
    assert_eq!(p["channel"], "Bank Muamalat");
    assert_eq!(p["amount"].to_string(), "100000");
    assert_eq!(p["type"], "payment");
    // Once.
    va.pay(number, "PAY-5", "100000")
        .await
        .refused(409, "BILL_ALREADY_PAID");
    va.bank_post("/api/v2/ch/inquiry", &channel_body(number, "INQ-2"))
        .await
        .refused(409, "BILL_ALREADY_PAID");
    let shown = va.bill(d["hash"].as_str().unwrap()).await;
    assert_eq!(shown["status"], "paid");
    assert_eq!(shown["paid_amount"].to_string(), "100000");
    // Unknown VA numbers and malformed requests.
    va.pay("0099029999999999", "PAY-6", "100000")
        .await
        .refused(404, "BILL_NOT_FOUND");
    va.bank_post(
        "/api/v2/ch/inquiry",
        &channel_body("9999992000000001", "INQ-3"),
    )
    .await
    .refused(404, "BILL_NOT_FOUND");
    let a = va
        .bank_post("/api/v2/ch/payment", &json!({"va_number": "2000000001", "terminal_id": "moon", "transaction_date": "21/11/2026", "amount": ""}))
        .await;
    a.refused(422, "VALIDATION_ERROR");
    for f in [
        "va_number",
        "ref_id",
        "terminal_id",
        "transaction_date",
        "amount",
    ] {
        assert!(a.data().get(f).is_some(), "{f}: {}", a.body);
    }
}

async fn partial_bill_takes_several_payments(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("3000000001", "partial", 100000)).await;
    let number = "0099023000000001";
    let a = va.pay(number, "P-1", "30000").await;
    assert_eq!(a.ok()["status"], "active");
    assert_eq!(a.ok()["paid_amount"].to_string(), "30000");
    let a = va.pay(number, "P-2", "80000").await;
    a.refused(422, "INVALID_AMOUNT");
    assert_eq!(
        a.body["message"],
        "The amount is above the outstanding amount 70000."
    );
    va.pay(number, "P-3", "0")
        .await
        .refused(422, "INVALID_AMOUNT");
    va.pay(number, "P-4", "-5")
        .await
        .refused(422, "INVALID_AMOUNT");
    let a = va.pay(number, "P-5", "20000.50").await;
    assert_eq!(a.ok()["paid_amount"].to_string(), "50000.5");
    let a = va.pay(number, "P-6", "49999.50").await;
    assert_eq!(a.ok()["status"], "paid");
    assert_eq!(a.ok()["paid_amount"].to_string(), "100000");
    va.pay(number, "P-7", "1")
        .await
        .refused(409, "BILL_ALREADY_PAID");
    let rows = va
        .biller_get(&format!(
            "/api/v2/gw/bill/{}/payment",
            d["hash"].as_str().unwrap()
        ))
        .await;
    let rows = rows.ok().as_array().unwrap().clone();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter()
            .map(|r| r["payment_ref_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["P-1", "P-5", "P-6"]
    );

    // A minimum set on the bill (through the store: the dialect has no field for it).
    let org = va.org.id;
    let bill = NewBill {
        organization_id: org,
        account_id: 0,
        collection_id: None,
        invoice_number: None,
        ref1: String::new(),
        ref2: String::new(),
        name: "Uang gedung".into(),
        description: String::new(),
        currency: Currency::IDR,
        billed: 10_000_000,
        items: vec![],
        bill_date: T0.date(),
        due_date: None,
        valid_until: None,
        rule: PaymentRule::Partial {
            minimum: Some(2_000_000),
        },
        source: "cli".into(),
        extra: "{}".into(),
        va_numbers: vec![(PREFIX.into(), "3000000002".into())],
    };
    let account = AccountInput {
        code: "3000000002".into(),
        name: "Siti".into(),
        ..Default::default()
    };
    va.store()
        .create_bill_for_account(&account, &bill, T0)
        .unwrap();
    let number = "0099023000000002";
    let a = va.pay(number, "M-1", "10000").await;
    a.refused(422, "INVALID_AMOUNT");
    assert_eq!(
        a.body["message"],
        "The amount is below the minimum payment 20000."
    );
    let a = va.pay(number, "M-2", "20000").await;
    assert_eq!(a.ok()["customer_name"], "Siti");
    assert_eq!(a.ok()["type"], "partial");
}

async fn open_bill_takes_any_positive_amount(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("4000000001", "open", 100000)).await;
    let number = "0099024000000001";
    assert_eq!(
        va.pay(number, "O-1", "40000").await.ok()["status"],
        "active"
    );
    assert_eq!(
        va.pay(number, "O-2", "1").await.ok()["paid_amount"].to_string(),
        "40001"
    );
    va.pay(number, "O-3", "0")
        .await
        .refused(422, "INVALID_AMOUNT");
    // More than the outstanding: the bill is paid, the excess is the account's credit.
    let a = va.pay(number, "O-4", "100000").await;
    assert_eq!(a.ok()["status"], "paid");
    assert_eq!(a.ok()["paid_amount"].to_string(), "100000");
    assert_eq!(a.ok()["payment"]["amount"].to_string(), "100000");
    let account = va
        .store()
        .account_by_code(va.org.id, "4000000001")
        .unwrap()
        .unwrap();
    assert_eq!(
        va.store()
            .account_credit(account.id, Currency::IDR)
            .unwrap(),
        4_000_100
    );
}

async fn expired_bills_are_refused(db: TestDb) {
    let mut va = spawn(db).await;
    for (n, kind) in [
        ("5000000001", "close"),
        ("5000000002", "partial"),
        ("5000000003", "open"),
    ] {
        let mut body = bill_body(n, kind, 100000);
        body["valid_until"] = json!("2026-11-21T11:00:00+07:00");
        va.create(&body).await;
    }
    // Still valid at 10:59:59.
    va.app.clock().advance(time::Duration::seconds(3599));
    va.pay("0099025000000003", "E-0", "10").await.ok();
    va.app.clock().advance(time::Duration::seconds(1));
    va.refresh_tokens().await;
    for n in ["0099025000000001", "0099025000000002", "0099025000000003"] {
        va.bank_post("/api/v2/ch/inquiry", &channel_body(n, "E-INQ"))
            .await
            .refused(409, "BILL_EXPIRED");
        va.pay(n, &format!("E-{n}"), "100000")
            .await
            .refused(409, "BILL_EXPIRED");
    }
    let list = va.biller_get("/api/v2/gw/bill?q=expired").await;
    let list = list.ok();
    assert_eq!(list["total"], 3);
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["status"] == "expired")
    );
    // An expired bill gives its VA number up.
    let d = va.create(&bill_body("5000000001", "close", 100000)).await;
    assert_eq!(d["status"], "active");
    va.pay("0099025000000001", "E-NEW", "100000").await.ok();
}

async fn revoke_voids_the_bill(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("6000000001", "close", 100000)).await;
    let hash = d["hash"].as_str().unwrap();
    let a = va.biller_delete(&format!("/api/v2/gw/bill/{hash}")).await;
    assert_eq!(a.body["message"], "Billing revoked.");
    assert_eq!(a.ok()["status"], "void");
    assert_eq!(va.bill(hash).await["status"], "void");
    va.pay("0099026000000001", "V-1", "100000")
        .await
        .refused(409, "BILL_VOID");
    va.bank_post(
        "/api/v2/ch/inquiry",
        &channel_body("0099026000000001", "V-2"),
    )
    .await
    .refused(409, "BILL_VOID");
    va.biller_delete(&format!("/api/v2/gw/bill/{hash}"))
        .await
        .refused(409, "BILL_VOID");
    // A paid bill cannot be revoked.
    let d = va.create(&bill_body("6000000002", "close", 100000)).await;
    va.pay("0099026000000002", "V-3", "100000").await.ok();
    let a = va
        .biller_delete(&format!("/api/v2/gw/bill/{}", d["hash"].as_str().unwrap()))
        .await;
    a.refused(409, "BILL_ALREADY_PAID");
    assert_eq!(a.body["message"], "A paid bill cannot be revoked.");
    va.biller_delete("/api/v2/gw/bill/NOPE1234")
        .await
        .refused(404, "BILL_NOT_FOUND");
    va.biller_get("/api/v2/gw/bill/NOPE1234")
        .await
        .refused(404, "BILL_NOT_FOUND");
    // The revoked number is free again.
    va.create(&bill_body("6000000001", "close", 100000)).await;
}

async fn reversal_restores_the_bill(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("8000000001", "close", 100000)).await;
    let hash = d["hash"].as_str().unwrap().to_string();
    let number = "0099028000000001";
    va.pay(number, "R-PAY-1", "100000").await.ok();
    let rev = |payment_ref: &str, amount: Value, bill: &str| json!({"bill_id": bill, "payment_ref": payment_ref, "amount": amount});
    va.bank_post("/api/v2/ch/reversal", &rev("R-PAY-1", json!(50000), &hash))
        .await
        .refused(422, "INVALID_AMOUNT");
    va.bank_post("/api/v2/ch/reversal", &rev("R-NOPE", json!(100000), &hash))
        .await
        .refused(404, "PAYMENT_NOT_FOUND");
    va.bank_post(
        "/api/v2/ch/reversal",
        &rev("R-PAY-1", json!(100000), "NOPE1234"),
    )
    .await
    .refused(404, "BILL_NOT_FOUND");
    let a = va.bank_post("/api/v2/ch/reversal", &json!({})).await;
    a.refused(422, "VALIDATION_ERROR");
    assert_eq!(a.data().as_object().unwrap().len(), 3);

    let first = va
        .bank_post("/api/v2/ch/reversal", &rev("R-PAY-1", json!(100000), &hash))
        .await;
    let data = first.ok().clone();
    assert_eq!(data["status"], "reversal");
    assert_eq!(data["paid_amount"].to_string(), "0");
    assert_eq!(data["payment"]["type"], "reversal");
    assert_eq!(data["payment"]["payment_ref_id"], "R-PAY-1");
    // The same reversal again (a bank retrying after a timeout): the first result.
    let again = va
        .bank_post(
            "/api/v2/ch/reversal",
            &rev("R-PAY-1", json!("100000"), &hash),
        )
        .await;
    assert_eq!(again.ok(), &data);
    // The bill shows `reversal` and is payable again.
    let shown = va.bill(&hash).await;
    assert_eq!(shown["status"], "reversal");
    assert_eq!(shown["paid_amount"].to_string(), "0");
    let a = va
        .bank_post("/api/v2/ch/inquiry", &channel_body(number, "R-INQ"))
        .await;
    assert_eq!(a.ok()[0]["status"], "reversal");
    let rows = va
        .biller_get(&format!("/api/v2/gw/bill/{hash}/payment"))
        .await;
    let rows = rows.ok().as_array().unwrap().clone();
    assert_eq!(
        rows.iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["payment", "reversal"]
    );
    assert!(is_uuid(&rows[1]["id"]));
    assert_ne!(rows[0]["id"], rows[1]["id"]);
    let a = va.pay(number, "R-PAY-2", "100000").await;
    assert_eq!(a.ok()["status"], "paid");
    assert_eq!(va.bill(&hash).await["status"], "paid");

    // A payment reversed by another request (the sandbox) is refused to the bank.
    let mock = va
        .biller_post(
            &format!("/api/v2/gw/bill/{hash}/mock"),
            &json!({"type": "reversal", "amount": 100000}),
        )
        .await;
    assert_eq!(mock.ok()["status"], "reversal");
    va.bank_post("/api/v2/ch/reversal", &rev("R-PAY-2", json!(100000), &hash))
        .await
        .refused(409, "PAYMENT_ALREADY_REVERSED");
    let store_bill = &va.store().bills_by_va_number(number).unwrap()[0];
    assert_eq!(store_bill.paid, 0);
}

async fn payment_retries_are_idempotent(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("9000000001", "partial", 100000)).await;
    let number = "0099029000000001";
    let first = va.pay(number, "I-1", "30000").await.ok().clone();
    va.pay(number, "I-2", "20000").await.ok();
    // A retry returns the first result, exactly (the bill as it was right after it).
    let retry = va.pay(number, "I-1", "30000").await;
    assert_eq!(retry.ok(), &first);
    assert_eq!(retry.ok()["paid_amount"].to_string(), "30000");
    // Same reference, other content.
    let a = va.pay(number, "I-1", "30001").await;
    a.refused(409, "INCONSISTENT_REQUEST");
    let bill = &va.store().bills_by_va_number(number).unwrap()[0];
    assert_eq!(bill.paid, 5_000_000);
    assert_eq!(va.store().payments_of_bill(bill.id).unwrap().len(), 2);

    // A retry after the bill was paid still answers the first result, not BILL_ALREADY_PAID.
    va.create(&bill_body("9000000002", "close", 100000)).await;
    let first = va
        .pay("0099029000000002", "I-3", "100000")
        .await
        .ok()
        .clone();
    assert_eq!(
        va.pay("0099029000000002", "I-3", "100000").await.ok(),
        &first
    );
}

async fn concurrent_payments_of_one_close_bill(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("1200000001", "close", 100000)).await;
    let number = "0099021200000001";
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = va.app.client.clone();
        let url = va.app.url("/api/v2/ch/payment");
        let body = ipg::php_escape(&pay_body(number, &format!("C-{i}"), "100000").to_string());
        let sig = ipg::sign(&va.bank.api_key, body.as_bytes(), "");
        let token = va.bank.token.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .header("Authorization", format!("Bearer {token}"))
                .header("Signature", sig)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["rc"]
                .as_str()
                .unwrap()
                .to_string()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(
        codes.iter().filter(|c| *c == "SUCCESS").count(),
        1,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| *c == "BILL_ALREADY_PAID").count(),
        19,
        "{codes:?}"
    );
    let bill = &va.store().bills_by_va_number(number).unwrap()[0];
    assert_eq!(bill.paid, 10_000_000);
    assert_eq!(va.store().payments_of_bill(bill.id).unwrap().len(), 1);
}

async fn bank_not_enrolled_sees_nothing(db: TestDb) {
    let mut va = spawn(db).await;
    let d = va.create(&bill_body("1300000001", "close", 100000)).await;
    va.pay("0099021300000001", "N-0", "100000").await.ok();
    let d2 = va.create(&bill_body("1300000002", "close", 100000)).await;
    let other = va.store().create_channel("Bank Lain", "va", T0).unwrap();
    let mut client = Client {
        client_id: other.client_id.unwrap(),
        client_secret: other.client_secret.unwrap(),
        api_key: other.api_key.unwrap(),
        token: String::new(),
    };
    client.token = va.token_for(&client).await;
    va.bank = client;
    va.bank_post(
        "/api/v2/ch/inquiry",
        &channel_body("0099021300000002", "N-1"),
    )
    .await
    .refused(404, "BILL_NOT_FOUND");
    va.pay("0099021300000002", "N-2", "100000")
        .await
        .refused(404, "BILL_NOT_FOUND");
    va.bank_post(
        "/api/v2/ch/reversal",
        &json!({"bill_id": d["hash"], "payment_ref": "N-0", "amount": 100000}),
    )
    .await
    .refused(404, "BILL_NOT_FOUND");
    assert_eq!(
        va.bill(d2["hash"].as_str().unwrap()).await["paid_amount"].to_string(),
        "0"
    );
    // Once enrolled, it sees the bill.
    va.store().enroll(other.id, va.org.id, T0).unwrap();
    va.bank_post(
        "/api/v2/ch/inquiry",
        &channel_body("0099021300000002", "N-3"),
    )
    .await
    .ok();
}

async fn lists_search_and_paginate(db: TestDb) {
    let mut va = spawn(db).await;
    for i in 0..17 {
        let kind = if i % 3 == 0 { "partial" } else { "close" };
        let mut body = bill_body(&format!("14000000{i:02}"), kind, 1000 * (i + 1));
        body["components"][0]["price"] = json!(1000 * (i + 1));
        body["components"][0]["total"] = json!(1000 * (i + 1));
        body["customer_name"] = json!(if i == 5 { "Ahmad Dahlan" } else { "Budi" });
        va.create(&body).await;
        va.app.clock().advance(time::Duration::hours(1));
        va.refresh_tokens().await;
    }
    let page1 = va.biller_get("/api/v2/gw/bill").await;
    let p = page1.ok();
    assert_eq!(
        (
            p["current_page"].clone(),
            p["per_page"].clone(),
            p["total"].clone(),
            p["last_page"].clone()
        ),
        (json!(1), json!(15), json!(17), json!(2))
    );
    assert_eq!((p["from"].clone(), p["to"].clone()), (json!(1), json!(15)));
    assert_eq!(p["data"].as_array().unwrap().len(), 15);
    // Newest first by default.
    assert_eq!(p["data"][0]["va_number"], "0099021400000016");
    let page2 = va
        .biller_get(&format!(
            "/api/v2/gw/bill?institution_code={ORG_CODE}&page=2"
        ))
        .await;
    let p = page2.ok();
    assert_eq!((p["from"].clone(), p["to"].clone()), (json!(16), json!(17)));
    assert_eq!(p["data"].as_array().unwrap().len(), 2);
    let empty = va.biller_get("/api/v2/gw/bill?page=3").await;
    assert_eq!(
        (empty.ok()["from"].clone(), empty.ok()["data"].clone()),
        (Value::Null, json!([]))
    );

    let count = |a: &common::Answer| a.ok()["total"].as_i64().unwrap();
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=ahmad").await), 1);
    assert_eq!(
        count(&va.biller_get("/api/v2/gw/bill?q=1400000007").await),
        1
    );
    assert_eq!(
        count(&va.biller_get("/api/v2/gw/bill?q=INV%2F140000001").await),
        7
    );
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=partial").await), 6);
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=100%25").await), 0);
    va.pay("0099021400000001", "L-1", "2000").await.ok();
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=paid").await), 1);
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=active").await), 16);
    // Dates are the organization's local days: bills were made hourly from 10:00 on 21 Nov.
    assert_eq!(
        count(
            &va.biller_get("/api/v2/gw/bill?date.0=2026-11-22&date.1=2026-11-22")
                .await
        ),
        3
    );
    assert_eq!(
        count(
            &va.biller_get("/api/v2/gw/bill?date%5B0%5D=2026-11-21&date%5B1%5D=2026-11-21")
                .await
        ),
        14
    );
    let sorted = va
        .biller_get("/api/v2/gw/bill?order_by=total_amount&order=asc")
        .await;
    assert_eq!(sorted.ok()["data"][0]["total_amount"].to_string(), "1000");
    let bad = va
        .biller_get(
            "/api/v2/gw/bill?order_by=hash&order=up&page=0&date.0=yesterday&institution_code=X",
        )
        .await;
    bad.refused(422, "VALIDATION_ERROR");
    assert_eq!(bad.data().as_object().unwrap().len(), 5, "{}", bad.body);

    // Payments: each row embeds its bill.
    va.pay("0099021400000000", "L-2", "500").await.ok();
    let hash = va.store().bills_by_va_number("0099021400000001").unwrap()[0]
        .public_no
        .clone();
    va.bank_post(
        "/api/v2/ch/reversal",
        &json!({"bill_id": hash, "payment_ref": "L-1", "amount": "2000"}),
    )
    .await
    .ok();
    // `reversal` and `active` are statuses at now: the reversed bill is no longer `active`.
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=reversal").await), 1);
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=active").await), 16);
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=paid").await), 0);
    let all = va.biller_get("/api/v2/gw/payment").await;
    let p = all.ok();
    assert_eq!(p["total"], 3);
    let row = &p["data"][0];
    assert_eq!(row["type"], "reversal");
    assert_eq!(row["payment_ref_id"], "L-1");
    assert_eq!(row["amount"].to_string(), "2000");
    assert_eq!(row["bill"]["hash"], json!(hash));
    assert_eq!(row["bill"]["status"], "reversal");
    assert!(is_iso_wib(&row["created_at"]));
    assert_eq!(
        count(&va.biller_get("/api/v2/gw/payment?type=payment").await),
        2
    );
    assert_eq!(
        count(
            &va.biller_get("/api/v2/gw/payment?va_number=0099021400000000")
                .await
        ),
        1
    );
    assert_eq!(
        count(
            &va.biller_get("/api/v2/gw/payment?va_number=1400000001")
                .await
        ),
        2
    );
    assert_eq!(count(&va.biller_get("/api/v2/gw/payment?q=l-2").await), 1);
    let sorted = va
        .biller_get("/api/v2/gw/payment?order_by=amount&order=asc")
        .await;
    assert_eq!(sorted.ok()["data"][0]["payment_ref_id"], "L-2");
    va.biller_get("/api/v2/gw/payment?type=refund&va_number=12")
        .await
        .refused(422, "VALIDATION_ERROR");
}

async fn sandbox_mock_goes_through_the_channel_path(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("1500000001", "partial", 100000)).await;
    let path = format!("/api/v2/gw/bill/{}/mock", d["hash"].as_str().unwrap());
    let a = va
        .biller_post(&path, &json!({"type": "payment", "amount": 40000}))
        .await;
    assert_eq!(a.ok()["paid_amount"].to_string(), "40000");
    assert_eq!(a.ok()["payment"]["channel"], "sandbox");
    va.biller_post(&path, &json!({"type": "payment", "amount": 70000}))
        .await
        .refused(422, "INVALID_AMOUNT");
    va.biller_post(&path, &json!({"type": "refund"}))
        .await
        .refused(422, "VALIDATION_ERROR");
    let a = va
        .biller_post(&path, &json!({"type": "reversal", "amount": 40000}))
        .await;
    assert_eq!(a.ok()["status"], "reversal");
    assert_eq!(a.ok()["paid_amount"].to_string(), "0");
    va.biller_post(&path, &json!({"type": "reversal"}))
        .await
        .refused(404, "PAYMENT_NOT_FOUND");
    let payments = va
        .store()
        .payments_of_bill(va.store().bills_by_va_number("0099021500000001").unwrap()[0].id)
        .unwrap();
    assert_eq!(payments[0].channel, "sandbox");

    // Without BILLHUB_SANDBOX the route does not exist.
    let db2 = TestDb::sqlite();
    let prod = spawn_with_sandbox(db2, false).await;
    let d = prod.create(&bill_body("1500000001", "close", 100000)).await;
    prod.biller_post(
        &format!("/api/v2/gw/bill/{}/mock", d["hash"].as_str().unwrap()),
        &json!({"type": "payment", "amount": 100000}),
    )
    .await
    .refused(404, "NOT_FOUND");
}

async fn plumbing_errors_use_the_envelope(db: TestDb) {
    let va = spawn(db).await;
    let r = va
        .app
        .client
        .get(va.app.url("/api/v2/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rc"], "NOT_FOUND");
    assert!(is_iso_wib(&v["timestamp"]));
    let r = va
        .app
        .client
        .put(va.app.url("/api/v2/gw/bill"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rc"], "METHOD_NOT_ALLOWED");
    assert_eq!(v["data"], Value::Null);
    // A body over the limit (256 KiB in tests), before any handler.
    let big = vec![b' '; 300 * 1024];
    let r = va
        .app
        .client
        .post(va.app.url("/api/v2/gw/bill"))
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rc"], "PAYLOAD_TOO_LARGE");
    let r = va
        .app
        .client
        .get(va.app.url("/oauth/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

// -------------------------------------------------------------------------------------------
// Webhooks: a small receiver on 127.0.0.1:0 answering statuses from a queue.

/// One request the receiver got: headers and raw body.
type Hit = (actix_web::http::header::HeaderMap, Vec<u8>);

#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(
    rx: actix_web::web::Data<Receiver>,
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
) -> actix_web::HttpResponse {
    rx.hits
        .lock()
        .unwrap()
        .push((req.headers().clone(), body.to_vec()));
    let status = rx.statuses.lock().unwrap().pop_front().unwrap_or(200);
    actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .body("ok")
}

async fn start_receiver(statuses: &[u16]) -> (Receiver, String, actix_web::dev::ServerHandle) {
    let rx = Receiver::default();
    rx.statuses.lock().unwrap().extend(statuses.iter().copied());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = actix_web::web::Data::new(rx.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/hook", actix_web::web::post().to(receive))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (rx, format!("http://127.0.0.1:{port}/hook"), handle)
}

async fn webhook_is_delivered_signed_and_retried(db: TestDb) {
    let va = spawn(db).await;
    let (rx, url, handle) = start_receiver(&[500]).await;
    va.store()
        .set_setting(va.org.id, "va.webhook_url", &url, T0)
        .unwrap();
    let mut body = bill_body("1600000001", "close", 100000);
    body["invoice_number"] = json!("INV/2026/11");
    body["customer_name"] = json!("Budi Café");
    let d = va.create(&body).await;
    let paid = va
        .pay("0099021600000001", "W-1", "100000")
        .await
        .ok()
        .clone();

    // First try: the receiver answers 500.
    let round = va.app.run_worker_once().await;
    assert_eq!((round.claimed, round.retried), (1, 1));
    // Not again before a minute has passed.
    assert_eq!(va.app.run_worker_once().await.claimed, 0);
    va.app.clock().advance(time::Duration::seconds(60));
    let round = va.app.run_worker_once().await;
    assert_eq!((round.claimed, round.delivered), (1, 1));
    let deliveries = va.store().deliveries_for_organization(va.org.id).unwrap();
    let mine: Vec<_> = deliveries.iter().filter(|d| d.dialect == "va").collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].status.as_str(), mine[0].attempts),
        ("delivered", 2)
    );

    let hits = rx.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 2);
    let event = va.store().notification_event(mine[0].event_id).unwrap();
    for (headers, raw) in &hits {
        let sig = headers.get("Signature").unwrap().to_str().unwrap();
        assert_eq!(sig, ipg::sign(&va.biller.api_key, raw, ""));
        assert_eq!(
            headers.get("X-Event-Id").unwrap().to_str().unwrap(),
            event.uid
        );
        assert_eq!(
            headers.get("Content-Type").unwrap().to_str().unwrap(),
            "application/json"
        );
    }
    assert_eq!(hits[0].1, hits[1].1);
    let text = String::from_utf8(hits[1].1.clone()).unwrap();
    // Written as PHP's json_encode writes it.
    assert!(
        text.contains(r#""invoice_number":"INV\/2026\/11""#),
        "{text}"
    );
    assert!(
        text.contains(r#""customer_name":"Budi Caf\u00e9""#),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["event"], "payment.received");
    let mut expected = paid.clone();
    expected.as_object_mut().unwrap().remove("payment");
    assert_eq!(v["context"], expected);
    assert_eq!(v["context"]["hash"], d["hash"]);
    assert_eq!(v["context"]["status"], "paid");

    // A reversal is `payment.reversal` with the bill as it is after it.
    let hash = d["hash"].as_str().unwrap();
    va.bank_post(
        "/api/v2/ch/reversal",
        &json!({"bill_id": hash, "payment_ref": "W-1", "amount": 100000}),
    )
    .await
    .ok();
    assert_eq!(va.app.run_worker_once().await.delivered, 1);
    let hits = rx.hits.lock().unwrap().clone();
    let v: Value = serde_json::from_slice(&hits[2].1).unwrap();
    assert_eq!(v["event"], "payment.reversal");
    assert_eq!(v["context"]["status"], "reversal");
    assert_eq!(v["context"]["paid_amount"].to_string(), "0");
    assert_eq!(v["context"], va.bill(hash).await);
    handle.stop(false).await;
}

async fn webhook_gives_up_after_three_tries(db: TestDb) {
    let va = spawn(db).await;
    let (rx, url, handle) = start_receiver(&[500, 503, 404, 500]).await;
    va.store()
        .set_setting(va.org.id, "va.webhook_url", &url, T0)
        .unwrap();
    va.create(&bill_body("1700000001", "close", 100000)).await;
    // Paid through the sandbox: any channel triggers the webhook.
    let hash = va.store().bills_by_va_number("0099021700000001").unwrap()[0]
        .public_no
        .clone();
    va.biller_post(
        &format!("/api/v2/gw/bill/{hash}/mock"),
        &json!({"type": "payment", "amount": 100000}),
    )
    .await
    .ok();
    assert_eq!(va.app.run_worker_once().await.retried, 1);
    va.app.clock().advance(time::Duration::seconds(60));
    assert_eq!(va.app.run_worker_once().await.retried, 1);
    va.app.clock().advance(time::Duration::seconds(60));
    assert_eq!(va.app.run_worker_once().await.failed, 1);
    va.app.clock().advance(time::Duration::seconds(600));
    assert_eq!(va.app.run_worker_once().await.claimed, 0);
    assert_eq!(rx.hits.lock().unwrap().len(), 3);
    let d = va.store().deliveries_for_organization(va.org.id).unwrap();
    assert_eq!(
        (d[0].status.as_str(), d[0].attempts, d[0].last_status),
        ("failed", 3, Some(404))
    );
    handle.stop(false).await;
}

// -------------------------------------------------------------------------------------------

/// Runs the shell example of docs/dialects/va.md (curl + openssl) against a live gateway, with
/// a `var/demo.env` like `billhub up --demo` writes.
async fn docs_example_works(db: TestDb) {
    let va = spawn(db).await;
    let doc = include_str!("../../../docs/dialects/va.md");
    let start = doc.find("<!-- example:start -->").unwrap();
    let end = doc.find("<!-- example:end -->").unwrap();
    let block = &doc[start..end];
    let script: String = block
        .lines()
        .skip_while(|l| !l.starts_with("```sh"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = std::env::temp_dir().join(format!("va-docs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("var")).unwrap();
    let env = format!(
        "export DEMO_ORG_CODE={ORG_CODE}\nexport VA_CLIENT_ID={}\nexport VA_CLIENT_SECRET={}\nexport VA_API_KEY={}\nexport VA_BANK_CLIENT_ID={}\nexport VA_BANK_CLIENT_SECRET={}\nexport VA_BANK_API_KEY={}\n",
        va.biller.client_id,
        va.biller.client_secret,
        va.biller.api_key,
        va.bank.client_id,
        va.bank.client_secret,
        va.bank.api_key
    );
    std::fs::write(dir.join("var/demo.env"), env).unwrap();
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .env("BASE", &va.app.base_url)
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 4, "{stdout}");
    for a in &answers {
        assert_eq!(a["rc"], "SUCCESS", "{a}");
    }
    assert_eq!(answers[0]["data"]["invoice_number"], "INV01/TRX000001");
    assert_eq!(answers[0]["data"]["description"], "Pembayaran SPP café");
    assert_eq!(answers[1]["data"]["total"], 1);
    assert_eq!(answers[2]["data"][0]["va_number"], "0099022233445566");
    assert_eq!(answers[3]["data"]["status"], "paid");
}
