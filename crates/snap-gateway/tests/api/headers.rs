//! Every transaction header: each missing or bad one gets its SNAP code and message, never a
//! 500; a stale timestamp, a wrong signature and a repeated `X-EXTERNAL-ID` are refused.

use billhub_core::PaymentRule;
use billhub_store::testing::TestDb;
use serde_json::Value;

use crate::common::*;

billhub_http::http_backend_tests!(
    each_header_is_checked,
    external_ids_are_single_use_per_day,
    refused_and_malformed_requests_spend_their_external_id,
    plumbing_answers_in_the_snap_envelope,
);

const PATH: &str = "/v1.0/transfer-va/inquiry";

fn without(headers: &[(String, String)], name: &str) -> Vec<(String, String)> {
    headers.iter().filter(|(k, _)| k != name).cloned().collect()
}

fn with(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut h = without(headers, name);
    h.push((name.into(), value.into()));
    h
}

async fn each_header_is_checked(db: TestDb) {
    let s = spawn(db).await;
    s.create("0000000001", PaymentRule::Exact, 100_000);
    let body = inquiry_body("0000000001").to_string();
    let h = |ext: &str| s.headers(PATH, &body, ext);
    for (name, code, message) in [
        ("Authorization", "4012401", "Invalid Token (B2B) [missing]"),
        (
            "X-TIMESTAMP",
            "4002402",
            "Invalid Mandatory Field [X-TIMESTAMP]",
        ),
        (
            "X-SIGNATURE",
            "4002402",
            "Invalid Mandatory Field [X-SIGNATURE]",
        ),
        (
            "X-PARTNER-ID",
            "4002402",
            "Invalid Mandatory Field [X-PARTNER-ID]",
        ),
        (
            "X-EXTERNAL-ID",
            "4002402",
            "Invalid Mandatory Field [X-EXTERNAL-ID]",
        ),
        (
            "CHANNEL-ID",
            "4002402",
            "Invalid Mandatory Field [CHANNEL-ID]",
        ),
    ] {
        s.send(PATH, &body, &without(&h(&s.external_id()), name))
            .await
            .is(400 + u16::from(code.starts_with("401")), code, message);
    }
    let cases: [(&str, &str, u16, &str, &str); 5] = [
        (
            "Authorization",
            "Bearer not-a-token",
            401,
            "4012401",
            "Invalid Token (B2B)",
        ),
        (
            "X-TIMESTAMP",
            "yesterday",
            400,
            "4002401",
            "Invalid Field Format [X-TIMESTAMP]",
        ),
        (
            "X-EXTERNAL-ID",
            "has spaces in it",
            400,
            "4002401",
            "Invalid Field Format [X-EXTERNAL-ID]",
        ),
        (
            "X-SIGNATURE",
            "AAAA",
            401,
            "4012400",
            "Unauthorized. [Signature]",
        ),
        // Signed over another timestamp than the one sent.
        (
            "X-TIMESTAMP",
            "2026-12-05T10:00:01+07:00",
            401,
            "4012400",
            "Unauthorized. [Signature]",
        ),
    ];
    for (name, value, status, code, message) in cases {
        s.send(PATH, &body, &with(&h(&s.external_id()), name, value))
            .await
            .is(status, code, message);
    }
    // A stale timestamp, correctly signed: refused for its age.
    let stale = "2026-12-05T09:54:59+07:00";
    let sig = billhub_core::signature::snap::sign(
        &s.client_secret,
        "POST",
        PATH,
        &s.token,
        body.as_bytes(),
        stale,
    );
    let hs = with(
        &with(&h(&s.external_id()), "X-TIMESTAMP", stale),
        "X-SIGNATURE",
        &sig,
    );
    s.send(PATH, &body, &hs).await.is(
        401,
        "4012400",
        "Unauthorized. [X-TIMESTAMP is more than 300 seconds from the server's clock]",
    );
    // The body changed after signing.
    let other = inquiry_body("0000000002").to_string();
    s.send(PATH, &other, &h(&s.external_id())).await.is(
        401,
        "4012400",
        "Unauthorized. [Signature]",
    );
    // The same body pretty-printed signs the same (the minified form is signed).
    let pretty = serde_json::to_string_pretty(&inquiry_body("0000000001")).unwrap();
    let hs = s.headers(PATH, &pretty, &s.external_id());
    s.send(PATH, &pretty, &hs)
        .await
        .is(200, "2002400", "Successful");
    // Another dialect's token is not a SNAP token.
    s.send(
        PATH,
        &body,
        &with(&h(&s.external_id()), "Authorization", "Bearer x"),
    )
    .await
    .is(401, "4012401", "Invalid Token (B2B)");
}

async fn external_ids_are_single_use_per_day(db: TestDb) {
    let s = spawn(db).await;
    s.create("0000000001", PaymentRule::Exact, 100_000);
    let body = inquiry_body("0000000001").to_string();
    let hs = s.headers(PATH, &body, "777");
    s.send(PATH, &body, &hs)
        .await
        .is(200, "2002400", "Successful");
    let again = s.send(PATH, &body, &hs).await;
    again.is(
        409,
        "4092400",
        "Conflict [X-EXTERNAL-ID 777 was already used today]",
    );
    // Whatever the body: a payment under the same id is refused too, and pays nothing.
    let pay = payment_body("0000000001", "PAY-1", "100000.00").to_string();
    let hp = s.headers("/v1.0/transfer-va/payment", &pay, "777");
    s.send("/v1.0/transfer-va/payment", &pay, &hp).await.is(
        409,
        "4092500",
        "Conflict [X-EXTERNAL-ID 777 was already used today]",
    );
    assert!(
        s.store()
            .payment_by_channel_ref(&format!("snap:{}", s.channel_id), "PAY-1")
            .unwrap()
            .is_none()
    );
    // The next day in Jakarta, it is free again.
    s.app.clock().advance(time::Duration::hours(14));
    let fresh_ts = "2026-12-06T00:00:00+07:00";
    let sig =
        billhub_core::signature::snap::sign_token_request(PRIVATE_KEY, &s.client_id, fresh_ts)
            .unwrap();
    let a = s.token_request(&s.client_id, fresh_ts, Some(&sig)).await;
    a.is(200, "2007300", "Successful");
    let token = a.body["accessToken"].as_str().unwrap().to_string();
    let sig = billhub_core::signature::snap::sign(
        &s.client_secret,
        "POST",
        PATH,
        &token,
        body.as_bytes(),
        fresh_ts,
    );
    let hs: Vec<(String, String)> = with(
        &with(
            &with(&hs, "Authorization", &format!("Bearer {token}")),
            "X-TIMESTAMP",
            fresh_ts,
        ),
        "X-SIGNATURE",
        &sig,
    );
    s.send(PATH, &body, &hs)
        .await
        .is(200, "2002400", "Successful");
}

/// The id is spent in the request's own transaction, which commits when the request is refused
/// (an unknown VA, an amount core refuses) and is spent apart when the body is malformed: the
/// same id again is a conflict whatever the body, and the refused payment paid nothing.
async fn refused_and_malformed_requests_spend_their_external_id(db: TestDb) {
    let s = spawn(db).await;
    s.create("0000000001", PaymentRule::Exact, 100_000);
    let good = inquiry_body("0000000001").to_string();
    let conflict = |id: &str| format!("Conflict [X-EXTERNAL-ID {id} was already used today]");

    // An unknown VA number: refused with its data, the id spent.
    let unknown = inquiry_body("0000000099").to_string();
    let r = s
        .send(PATH, &unknown, &s.headers(PATH, &unknown, "801"))
        .await;
    assert_eq!((r.status, r.code()), (404, "4042412"), "{}", r.body);
    s.send(PATH, &good, &s.headers(PATH, &good, "801"))
        .await
        .is(409, "4092400", &conflict("801"));

    // A malformed body: refused 400, the id spent all the same.
    let r = s.send(PATH, "{}", &s.headers(PATH, "{}", "802")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    s.send(PATH, &good, &s.headers(PATH, &good, "802"))
        .await
        .is(409, "4092400", &conflict("802"));

    // A payment core refuses (not the exact amount): nothing paid, the id spent.
    let pay_path = "/v1.0/transfer-va/payment";
    let short = payment_body("0000000001", "PAY-9", "99999.00").to_string();
    let r = s
        .send(pay_path, &short, &s.headers(pay_path, &short, "803"))
        .await;
    assert_eq!((r.status, r.code()), (404, "4042513"), "{}", r.body);
    let exact = payment_body("0000000001", "PAY-9", "100000.00").to_string();
    s.send(pay_path, &exact, &s.headers(pay_path, &exact, "803"))
        .await
        .is(409, "4092500", &conflict("803"));
    let channel_ref = format!("snap:{}", s.channel_id);
    assert!(
        s.store()
            .payment_by_channel_ref(&channel_ref, "PAY-9")
            .unwrap()
            .is_none()
    );
    // A fresh id pays it, once.
    s.send(pay_path, &exact, &s.headers(pay_path, &exact, "804"))
        .await
        .is(200, "2002500", "Successful");
    let paid = s
        .store()
        .payment_by_channel_ref(&channel_ref, "PAY-9")
        .unwrap()
        .unwrap();
    assert_eq!(paid.amount, 10_000_000);
}

async fn plumbing_answers_in_the_snap_envelope(db: TestDb) {
    let s = spawn(db).await;
    let r = reqwest::Client::new()
        .get(s.app.url(PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["responseCode"], "4050000");
    let r = reqwest::Client::new()
        .post(s.app.url("/v1.0/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["responseCode"], "4040000");
    assert_eq!(v["responseMessage"], "Not Found");
}
