//! The postpaid OpenAPI document: the committed `docs/openapi/postpaid.json` is what the code
//! generates (regenerate with `BILLHUB_BLESS_OPENAPI=1 cargo test -p postpaid-gateway --test
//! openapi`), it lists exactly the routes `configure` registers (the sandbox paths included),
//! and real answers of the running gateway (every status and shape each route gives) validate
//! against it, on SQLite and PostgreSQL. The running app serves the same document.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

#[allow(dead_code)]
#[path = "api/common.rs"]
mod common;

use billhub_http::testing::{
    assert_answer_documented, assert_schema_documented, check_openapi, documented_operations,
    routes_in_source,
};
use billhub_store::testing::TestDb;
use common::{Answer, Env, pay_body, revert_body, seed_bills};
use serde_json::{Value, json};

fn doc() -> utoipa::openapi::OpenApi {
    postpaid_gateway::openapi::document()
}

#[test]
fn the_committed_document_is_generated() {
    check_openapi(&doc(), "docs/openapi/postpaid.json");
}

#[test]
fn the_document_lists_exactly_the_registered_routes() {
    let registered = routes_in_source(include_str!("../src/lib.rs"));
    assert_eq!(registered.len(), 10, "{registered:?}");
    assert_eq!(documented_operations(&doc()), registered);
}

/// Checks one answer (status, body, the `UID` header) against the document; returns the body.
fn documented(method: &str, path: &str, a: Answer) -> Value {
    // The plumbing refuses a body over the limit before the dialect sees the request.
    if a.status != 413 {
        assert!(
            a.headers.get("UID").is_some(),
            "{path} {}: no UID header",
            a.status
        );
    }
    assert_answer_documented(&doc(), method, path, a.status, &a.body);
    a.body
}

const PARAMETERS: &str = "/post-paid/bill-payment/parameters/{terminalId}/{operatorId}";
const INVOICES: &str = "/post-paid/bill-payment/get-invoices/{terminalId}/{operatorId}";
const PAYMENT: &str = "/post-paid/bill-payment/payment/{terminalId}/{operatorId}/{localReference}";
const REVERT: &str = "/util/revert/{terminalId}/{operatorId}/{localReference}";
const INFO: &str = "/util/transaction/info/{terminalId}/{originalLocalReference}/{creationDate}";

async fn answers_match_the_document(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let org = env.org;

    // Get Parameters: the fields, on both paths; an unknown operator.
    let a = env
        .get(&format!("/post-paid/bill-payment/parameters/3/{org}"))
        .await;
    assert!(a.headers.get("New-Cache-Hash").is_some());
    assert_eq!(documented("get", PARAMETERS, a)["rc"], json!(0));
    let a = env.get(&format!("/bill-payment/parameters/3/{org}")).await;
    assert_eq!(
        documented(
            "get",
            "/bill-payment/parameters/{terminalId}/{operatorId}",
            a
        )["rc"],
        json!(0)
    );
    let a = env.get("/post-paid/bill-payment/parameters/3/999999").await;
    assert_eq!(documented("get", PARAMETERS, a)["resultcode"], json!("900"));

    // Get Invoices: found, unknown account, a bad body.
    let a = env
        .post(
            &format!("/post-paid/bill-payment/get-invoices/3/{org}"),
            &json!([{"key": "account", "value": "1234567890"}]),
        )
        .await;
    let lookup = documented("post", INVOICES, a);
    assert_eq!(lookup["pendingInvoices"], json!(2));
    let code = Env::code_of(&lookup);
    let a = env
        .post(
            &format!("/bill-payment/invoices/3/{org}"),
            &json!([{"key": "account", "value": "NOPE"}]),
        )
        .await;
    let body = documented(
        "post",
        "/bill-payment/invoices/{terminalId}/{operatorId}",
        a,
    );
    assert_eq!(body["resultcode"], json!("11"));
    let a = env
        .post(
            &format!("/post-paid/bill-payment/get-invoices/3/{org}"),
            &json!({"account": 1}),
        )
        .await;
    assert_eq!(documented("post", INVOICES, a)["resultcode"], json!("900"));

    // Payment: a wrong amount, the payment, its repeat, the reference with another request.
    let pay_path = |r: &str| format!("/post-paid/bill-payment/payment/3/{org}/{r}");
    let a = env
        .post(&pay_path("10"), &pay_body("1234567890", &code, 100))
        .await;
    assert_eq!(documented("post", PAYMENT, a)["resultcode"], json!("927"));
    let a = env
        .post(&pay_path("10"), &pay_body("1234567890", &code, 12500))
        .await;
    let paid = documented("post", PAYMENT, a);
    assert_eq!(paid["items"][0]["finalstatus"], json!(10));
    let a = env
        .post(&pay_path("10"), &pay_body("1234567890", &code, 12500))
        .await;
    assert_eq!(documented("post", PAYMENT, a), paid);
    let a = env
        .post(&pay_path("10"), &pay_body("1234567890", "TXN-OTHER", 12500))
        .await;
    assert_eq!(documented("post", PAYMENT, a)["resultcode"], json!("12"));

    // Transaction info, revert, transaction info of the reverted payment, an unknown one.
    let a = env.get("/util/transaction/info/3/10/20250703").await;
    assert_eq!(documented("get", INFO, a), paid);
    let a = env
        .post(
            &format!("/util/revert/3/{org}/11"),
            &revert_body(12500, 10, "1234567890"),
        )
        .await;
    assert_eq!(
        documented("post", REVERT, a)["items"][0]["finalstatus"],
        json!(20)
    );
    let a = env.get("/util/transaction/info/3/10/20250703").await;
    let info = documented("get", INFO, a);
    assert_eq!(
        (info["rc"].clone(), info["items"][0]["resultcode"].clone()),
        (json!(-1), json!("20"))
    );
    let a = env.get("/util/transaction/info/3/77/20250703").await;
    assert_eq!(documented("get", INFO, a)["resultcode"], json!("900"));

    // Ping, signed and not; its echo.
    let a = env.send(env.app.client.get(env.app.url("/ping"))).await;
    assert_eq!(
        documented("get", "/ping", a),
        json!({"rc": 0, "message": "pong"})
    );
    let a = env.get("/ping/hello").await;
    assert_eq!(
        documented("get", "/ping/{echo}", a),
        json!({"rc": 0, "message": "hello"})
    );

    // 401, 406, 413.
    let a = env
        .send(
            env.app
                .client
                .post(
                    env.app
                        .url(&format!("/post-paid/bill-payment/get-invoices/3/{org}")),
                )
                .json(&json!([])),
        )
        .await;
    assert_eq!(a.status, 401);
    documented("post", INVOICES, a);
    let a = env
        .send(
            env.app
                .client
                .get(env.app.url("/ping"))
                .header("U", "nobody")
                .header("ST", "1")
                .header("SH", "x"),
        )
        .await;
    assert_eq!(a.status, 401);
    documented("get", "/ping", a);
    let a = env
        .send(
            env.signed(
                env.app.client.get(
                    env.app
                        .url(&format!("/post-paid/bill-payment/parameters/3/{org}")),
                ),
            )
            .header("Accept", "application/encrypt"),
        )
        .await;
    assert_eq!(a.status, 406);
    documented("get", PARAMETERS, a);
    let big = json!([{"key": "account", "value": "x".repeat(300 * 1024)}]);
    let a = env
        .post(
            &format!("/post-paid/bill-payment/get-invoices/3/{org}"),
            &big,
        )
        .await;
    assert_eq!(a.status, 413);
    documented("post", INVOICES, a);

    // An unknown path and a wrong method: HTTP 200 with the refusal the document describes.
    for a in [
        env.get("/nope").await,
        env.get(&format!("/util/revert/3/{org}/12")).await,
    ] {
        assert_eq!(a.status, 200);
        assert_eq!(a.body["resultcode"], json!("900"));
        assert_schema_documented(&doc(), "ErrorResponse", &a.body);
    }

    // The app serves the same document.
    let served: Value = env
        .app
        .client
        .get(env.app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, serde_json::to_value(doc()).unwrap());
}

billhub_http::http_backend_tests!(answers_match_the_document);
