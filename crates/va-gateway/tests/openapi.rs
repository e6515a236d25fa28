//! The OpenAPI document: committed as generated (docs/openapi/va.json), served at
//! `/openapi.json`, and describing exactly the routes the gateway serves.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken expectation
#![allow(clippy::indexing_slicing, clippy::too_many_lines)]

use std::collections::BTreeSet;

use billhub_http::testing::{TestApp, check_openapi};
use billhub_http::{Clock, Config};
use billhub_store::testing::TestDb;
use serde_json::Value;
use time::macros::datetime;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn document() -> Value {
    serde_json::to_value(va_gateway::openapi::document()).unwrap()
}

#[test]
fn committed_document_is_the_generated_one() {
    check_openapi(&va_gateway::openapi::document(), "docs/openapi/va.json");
}

/// Every (method, path) of the document's `paths`.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    out
}

/// Every (method, path) `routes::configure` registers, read from its source: each
/// `resource("...")` with the `web::method()` of its `.route(...)`s.
fn registered() -> BTreeSet<(String, String)> {
    let src = include_str!("../src/routes.rs");
    let body = src
        .split("pub fn configure")
        .nth(1)
        .unwrap()
        .split("\n}\n")
        .next()
        .unwrap();
    let mut out = BTreeSet::new();
    for chunk in body.split("resource(\"").skip(1) {
        let path = chunk.split('"').next().unwrap().to_string();
        for m in chunk.split("web::").skip(1) {
            let name = m.split('(').next().unwrap();
            if ["get", "post", "put", "patch", "delete"].contains(&name) {
                out.insert((name.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    assert!(out.len() >= 10, "routes.rs could not be read: {out:?}");
    out
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    assert_eq!(documented(&document()), registered());
    let described: BTreeSet<(String, String)> = va_gateway::openapi::described_routes()
        .into_iter()
        .collect();
    assert_eq!(described, registered());
}

/// Every refusal status a response lists is a status of the `rc` table with its codes; 200 is
/// the envelope's `SUCCESS` (or the token) and every operation answers JSON.
#[test]
fn every_operation_answers_json_with_its_statuses() {
    let doc = document();
    let responses = &doc["components"]["responses"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            for s in ["200", "413", "500", "504"] {
                assert!(
                    statuses.iter().any(|x| *x == s),
                    "{method} {path} lacks {s}"
                );
            }
            for (status, r) in op["responses"].as_object().unwrap() {
                let r = match r.get("$ref").and_then(Value::as_str) {
                    Some(name) => &responses[name.rsplit('/').next().unwrap()],
                    None => r,
                };
                assert!(
                    r["content"]["application/json"]["schema"].is_object(),
                    "{method} {path} {status}: {r}"
                );
            }
            if path != "/oauth/token" {
                assert!(op["security"].as_array().is_some_and(|s| !s.is_empty()));
            }
        }
    }
    let codes = |status: &str| -> Vec<String> {
        let schema =
            &responses[format!("Refusal{status}")]["content"]["application/json"]["schema"];
        let plain = schema.get("oneOf").map(|o| &o[1]).unwrap_or(schema);
        plain["properties"]["rc"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(codes("401"), ["UNAUTHORIZED"]);
    assert_eq!(
        codes("404"),
        ["BILL_NOT_FOUND", "PAYMENT_NOT_FOUND", "NOT_FOUND"]
    );
    assert_eq!(codes("422"), ["INVALID_AMOUNT"]);
    assert_eq!(
        codes("409"),
        [
            "BILL_ALREADY_PAID",
            "BILL_EXPIRED",
            "BILL_VOID",
            "VA_NUMBER_IN_USE",
            "PAYMENT_ALREADY_REVERSED",
            "REVERSAL_NOT_ALLOWED",
            "INCONSISTENT_REQUEST"
        ]
    );
    assert_eq!(codes("500"), ["SYSTEM_ERROR"]);
}

/// The wire's field names, types and nullability as the document states them.
#[test]
fn bill_and_payment_schemas_are_the_wire_format() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let bill = &schemas["Bill"];
    assert_eq!(bill["additionalProperties"], false);
    let required: BTreeSet<&str> = bill["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let properties: BTreeSet<&str> = bill["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // Every field is always written except `payment` (only on payment answers).
    assert_eq!(
        properties
            .difference(&required)
            .copied()
            .collect::<Vec<_>>(),
        ["payment"]
    );
    assert_eq!(properties.len(), 20);
    assert_eq!(bill["properties"]["total_amount"]["type"], "number");
    assert_eq!(
        bill["properties"]["va_number"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert_eq!(bill["properties"]["due_date"]["format"], "date-time");
    assert_eq!(
        schemas["BillType"]["enum"],
        serde_json::json!(["close", "partial", "open"])
    );
    assert_eq!(
        schemas["BillStatus"]["enum"],
        serde_json::json!(["active", "reversal", "paid", "void", "expired"])
    );
    assert_eq!(schemas["Component"]["properties"]["qty"]["type"], "string");
    let payment = &schemas["Payment"];
    assert_eq!(payment["properties"]["account"]["type"], "null");
    assert_eq!(payment["properties"]["amount"]["type"], "number");
    assert_eq!(
        schemas["Token"]["required"],
        serde_json::json!(["token_type", "expires_in", "access_token"])
    );
    let create = &schemas["CreateBillRequest"];
    assert_eq!(
        create["required"],
        serde_json::json!([
            "va_number",
            "prefix",
            "name",
            "total_amount",
            "institution_code",
            "type",
            "customer_name"
        ])
    );
    assert_eq!(
        schemas["InquiryRequest"]["properties"]["terminal_id"]["enum"]
            .as_array()
            .unwrap()
            .len(),
        va_gateway::routes::TERMINALS.len()
    );
}

billhub_http::http_backend_tests!(served_routes_are_the_documented_ones,);

/// Against a live gateway: `/openapi.json` is the document; each documented method of a
/// documented path reaches a handler (an unauthenticated call is refused by the dialect, never
/// by the plumbing's `NOT_FOUND` / `METHOD_NOT_ALLOWED`), and every other method is 405.
async fn served_routes_are_the_documented_ones(db: TestDb) {
    let mut config = Config::for_tests(&db.url, db.store.master_key().clone());
    config.sandbox = true;
    let app = TestApp::spawn_with(
        va_gateway::gateway(),
        &db,
        Clock::fixed(datetime!(2026-11-21 03:00 UTC)),
        config,
    )
    .await;
    let served: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, document());
    let doc = document();
    let documented = documented(&doc);
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let concrete = path.replace("{hash}", "x24da1dF");
        for method in METHODS {
            let answer = app
                .client
                .request(method.parse().unwrap(), app.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.unwrap();
            if documented.contains(&(method.to_string(), path.clone())) {
                let expected = if path == "/oauth/token" { 400 } else { 401 };
                assert_eq!(status, expected, "{method} {path}: {body}");
            } else {
                assert_eq!(
                    (status, body["rc"].as_str()),
                    (405, Some("METHOD_NOT_ALLOWED")),
                    "{method} {path}"
                );
            }
        }
    }
}

/// Every `$ref` of the document names a component it has.
#[test]
fn every_reference_resolves() {
    let doc = document();
    let text = doc.to_string();
    let mut seen = 0;
    for part in text.split("\"$ref\":\"#/components/").skip(1) {
        let target = part.split('"').next().unwrap();
        let (kind, name) = target.split_once('/').unwrap();
        assert!(doc["components"][kind].get(name).is_some(), "{target}");
        seen += 1;
    }
    assert!(seen > 20, "{seen} references");
}
