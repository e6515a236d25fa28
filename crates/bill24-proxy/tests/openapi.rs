//! The Bill24 OpenAPI document: the committed `docs/openapi/bill24.json` is what the code
//! generates (regenerate with `BILLHUB_BLESS_OPENAPI=1 cargo test -p bill24-proxy --test
//! openapi`), it lists exactly the routes `configure` registers, and real answers of the running
//! gateway (every status and shape each route gives) validate against it, on SQLite and
//! PostgreSQL. The running app serves the same document at `/openapi.json`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

#[path = "api/common.rs"]
mod common;

use billhub_core::SettlementMode;
use billhub_http::testing::{
    assert_answer_documented, assert_schema_documented, check_openapi, documented_operations,
    routes_in_source,
};
use billhub_store::testing::TestDb;
use common::{BillSpec, Env, current, post, post_raw};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::{date, datetime};

const NOW: OffsetDateTime = datetime!(2025-09-01 10:00 +7);

fn doc() -> utoipa::openapi::OpenApi {
    bill24_proxy::openapi::document()
}

#[test]
fn the_committed_document_is_generated() {
    check_openapi(&doc(), "docs/openapi/bill24.json");
}

#[test]
fn the_document_lists_exactly_the_registered_routes() {
    let registered = routes_in_source(include_str!("../src/routes.rs"));
    assert_eq!(
        registered,
        vec![
            ("post".to_string(), "/pending_bills".to_string()),
            ("post".to_string(), "/proxy".to_string()),
            ("post".to_string(), "/webhook".to_string()),
        ]
    );
    assert_eq!(documented_operations(&doc()), registered);
}

/// Checks one answer against the document and returns its body.
fn documented(path: &str, answer: (u16, Value)) -> Value {
    assert_answer_documented(&doc(), "post", path, answer.0, &answer.1);
    answer.1
}

async fn answers_match_the_document(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill(
        "CU003035",
        BillSpec::khr(5000, date!(2025 - 08 - 01)).due(date!(2025 - 08 - 31)),
    );
    env.bill("CU009999", BillSpec::usd(1050, date!(2025 - 08 - 01)));
    let app = &env.app;
    let token = Some(env.token.as_str());

    for path in ["/proxy", "/pending_bills"] {
        // Code 0 with data.
        let body = documented(
            path,
            env.post(path, &json!({"consumer_code": "CU003035"})).await,
        );
        assert_eq!(body["code"], json!(0));
        assert!(body["data"].is_object());
        // Codes 1 and 4 without data.
        let body = documented(
            path,
            env.post(path, &json!({"consumer_code": "NOPE"})).await,
        );
        assert_eq!(
            (body["code"].clone(), body["data"].clone()),
            (json!(1), Value::Null)
        );
        // 400: not JSON; wrong content type.
        let body = documented(
            path,
            post_raw(app, path, token, Some("application/json"), "{".into()).await,
        );
        assert_eq!(body["code"], json!(400));
        let answer = post_raw(app, path, token, Some("text/plain"), "{}".into()).await;
        assert_eq!(answer.0, 400);
        documented(path, answer);
        // 401: no token, a bad token.
        let answer = post(app, path, None, &json!({"consumer_code": "CU003035"})).await;
        assert_eq!(answer.0, 401);
        documented(path, answer);
        let answer = post(
            app,
            path,
            Some("nope"),
            &json!({"consumer_code": "CU003035"}),
        )
        .await;
        assert_eq!(answer.0, 401);
        documented(path, answer);
        // 413.
        let big = format!("{{\"consumer_code\":\"{}\"}}", "x".repeat(300 * 1024));
        let answer = post_raw(app, path, token, Some("application/json"), big).await;
        assert_eq!(answer.0, 413);
        documented(path, answer);
    }

    // The webhook: recorded, a repeat, unapplied money, not applied, below the minimum, auth.
    let paid = current("T-1", "KHR", json!(5000), "CU003035", "");
    let body = documented("/webhook", env.post("/webhook", &paid).await);
    assert_eq!(body, json!({"status": "Success", "message": "SUCCESS"}));
    let body = documented("/webhook", env.post("/webhook", &paid).await);
    assert_eq!(body["status"], json!("Error"));
    let unknown = current("T-2", "USD", json!(10), "NOSUCH01", "");
    let body = documented("/webhook", env.post("/webhook", &unknown).await);
    assert_eq!(body["status"], json!("Success"));
    let mut failed = current("T-3", "USD", json!(10), "CU009999", "");
    failed["status"] = json!("failed");
    let body = documented("/webhook", env.post("/webhook", &failed).await);
    assert_eq!(body["status"], json!("Success"));
    let answer = env
        .post("/webhook", &json!({"tran_id": "T-4", "currency": "USD"}))
        .await;
    assert_eq!(answer.0, 400);
    documented("/webhook", answer);
    let answer = post_raw(
        app,
        "/webhook",
        token,
        Some("application/json"),
        "[]".into(),
    )
    .await;
    assert_eq!(answer.0, 400);
    documented("/webhook", answer);
    let answer = post(app, "/webhook", Some("nope"), &paid).await;
    assert_eq!(answer.0, 401);
    documented("/webhook", answer);
    let answer = post(app, "/webhook", None, &paid).await;
    assert_eq!(answer.0, 401);
    documented("/webhook", answer);
    let older = json!({ "tnx_id": "BUb4CmDE", "tran_amount": 10.5, "customer_fee": 0,
        "total_amount": 10.5, "currency": "USD", "customer_code": "CU009999",
        "paid_date": "2025-09-01 09:46:33", "bills": [] });
    let body = documented("/webhook", env.post("/webhook", &older).await);
    assert_eq!(body["status"], json!("Success"));
    let big = format!("{{\"tran_id\":\"{}\"}}", "x".repeat(300 * 1024));
    let answer = post_raw(app, "/webhook", token, Some("application/json"), big).await;
    assert_eq!(answer.0, 413);
    documented("/webhook", answer);

    // The statement after payments (negative lines, receipts) still matches.
    let body = documented(
        "/pending_bills",
        env.post("/pending_bills", &json!({"consumer_code": "CU003035"}))
            .await,
    );
    assert_eq!(body["data"]["pending_bills"][0]["amount"], json!(-5000));
    let body = documented(
        "/proxy",
        env.post("/proxy", &json!({"consumer_code": "CU003035"}))
            .await,
    );
    assert_eq!(body["code"], json!(3));

    // 404 and 405 in the envelope the document describes.
    let resp = app.client.get(app.url("/proxy")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_schema_documented(&doc(), "ErrorEnvelope", &resp.json().await.unwrap());
    let resp = app.client.post(app.url("/nope")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_schema_documented(&doc(), "ErrorEnvelope", &resp.json().await.unwrap());

    // The app serves the same document.
    let served: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, serde_json::to_value(doc()).unwrap());
}

billhub_http::http_backend_tests!(answers_match_the_document);
