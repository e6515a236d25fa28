//! The SNAP OpenAPI document: the committed `docs/openapi/snap.json` is what the code generates
//! (regenerate with `BILLHUB_BLESS_OPENAPI=1 cargo test -p snap-gateway --test openapi`), it
//! lists exactly the routes `configure` registers, and real answers of the running gateway
//! (successes and every refusal shape) validate against it, on SQLite and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

#[path = "api/common.rs"]
mod common;

use billhub_core::PaymentRule;
use billhub_http::testing::{
    assert_answer_documented, check_openapi, documented_operations, routes_in_source,
};
use billhub_store::testing::TestDb;
use common::*;
use serde_json::{Value, json};

fn doc() -> utoipa::openapi::OpenApi {
    snap_gateway::openapi::document()
}

#[test]
fn the_committed_document_is_generated() {
    check_openapi(&doc(), "docs/openapi/snap.json");
}

#[test]
fn the_document_lists_exactly_the_registered_routes() {
    let registered = routes_in_source(include_str!("../src/routes.rs"));
    assert_eq!(registered.len(), 4, "{registered:?}");
    assert_eq!(documented_operations(&doc()), registered);
}

fn documented(path: &str, a: &Answer) {
    assert_answer_documented(&doc(), "post", path, a.status, &a.body);
}

async fn answers_match_the_document(db: TestDb) {
    let s = spawn(db).await;
    s.create("0000000001", PaymentRule::Exact, 100_000);
    const TOKEN: &str = "/v1.0/access-token/b2b";
    const INQUIRY: &str = "/v1.0/transfer-va/inquiry";
    const PAYMENT: &str = "/v1.0/transfer-va/payment";
    const STATUS: &str = "/v1.0/transfer-va/status";

    documented(TOKEN, &s.token_request(&s.client_id, TS, None).await);
    documented(
        TOKEN,
        &s.token_request(&s.client_id, TS, Some("AAAA")).await,
    );
    documented(
        TOKEN,
        &s.token_request(&s.client_id, "yesterday", None).await,
    );

    documented(INQUIRY, &s.inquiry("0000000001").await);
    documented(INQUIRY, &s.inquiry("0000000009").await);
    let mut bad = inquiry_body("0000000001");
    bad.as_object_mut().unwrap().remove("customerNo");
    documented(INQUIRY, &s.call(INQUIRY, &bad).await);

    documented(PAYMENT, &s.pay("0000000001", "P-1", "1.00").await);
    let paid = s.pay("0000000001", "P-2", "100000.00").await;
    documented(PAYMENT, &paid);
    documented(PAYMENT, &s.pay("0000000001", "P-3", "100000.00").await);
    let mut other = payment_body("0000000001", "P-2", "100000.00");
    other["referenceNo"] = json!("X");
    documented(PAYMENT, &s.call(PAYMENT, &other).await);
    let mut advice = payment_body("0000000077", "P-4", "5.00");
    advice["flagAdvise"] = json!("Y");
    documented(PAYMENT, &s.call(PAYMENT, &advice).await);

    let status = json!({"partnerServiceId": PSID, "customerNo": "0000000001",
        "virtualAccountNo": format!("{PSID}0000000001"), "paymentRequestId": "P-2"});
    documented(STATUS, &s.call(STATUS, &status).await);
    let mut unknown = status.clone();
    unknown["paymentRequestId"] = json!("NOPE");
    documented(STATUS, &s.call(STATUS, &unknown).await);

    // Refusals before the body: a repeated X-EXTERNAL-ID, a missing header, a bad token.
    let body = inquiry_body("0000000001").to_string();
    let headers = s.headers(INQUIRY, &body, "42");
    s.send(INQUIRY, &body, &headers).await;
    let again = s.send(INQUIRY, &body, &headers).await;
    assert_eq!(again.status, 409);
    documented(INQUIRY, &again);
    let unsigned: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k != "X-SIGNATURE")
        .cloned()
        .collect();
    documented(INQUIRY, &s.send(INQUIRY, &body, &unsigned).await);

    // The app serves the same document.
    let served: Value = reqwest::get(s.app.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, serde_json::to_value(doc()).unwrap());
}

billhub_http::http_backend_tests!(answers_match_the_document);
