//! The OpenAPI document: committed as generated (docs/openapi/collections.json), served at
//! `/openapi.json`, and describing exactly the routes the gateway serves.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken expectation
#![allow(clippy::indexing_slicing, clippy::too_many_lines)]

use std::collections::BTreeSet;

use billhub_http::Clock;
use billhub_http::testing::{TestApp, check_openapi};
use billhub_store::testing::TestDb;
use serde_json::{Value, json};
use time::macros::datetime;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn document() -> Value {
    serde_json::to_value(collections_api::openapi::document()).unwrap()
}

#[test]
fn committed_document_is_the_generated_one() {
    check_openapi(
        &collections_api::openapi::document(),
        "docs/openapi/collections.json",
    );
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
/// `resource(...)` (a literal, the `bill` path, or a `format!` of it) with the methods of its
/// `.route(...)`s.
fn registered() -> BTreeSet<(String, String)> {
    let src = include_str!("../src/routes.rs");
    let body = src
        .split("pub fn configure")
        .nth(1)
        .unwrap()
        .split("\n}\n")
        .next()
        .unwrap();
    let bill = body
        .split("let bill = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut out = BTreeSet::new();
    for chunk in body.split("resource(").skip(2) {
        let path = if let Some(rest) = chunk.strip_prefix('"') {
            rest.split('"').next().unwrap().to_string()
        } else if chunk.starts_with("bill)") {
            bill.to_string()
        } else if let Some(rest) = chunk.strip_prefix("&format!(\"") {
            rest.split('"')
                .next()
                .unwrap()
                .replace("{bill}", bill)
                .replace("{{", "{")
                .replace("}}", "}")
        } else {
            panic!("unreadable resource: {chunk}");
        };
        for m in chunk.split(".route(").skip(1) {
            let name = m.split('(').next().unwrap();
            assert!(
                ["get", "post", "put", "patch", "delete"].contains(&name),
                "{name}"
            );
            out.insert((name.to_ascii_uppercase(), path.clone()));
        }
    }
    assert!(out.len() >= 19, "routes.rs could not be read: {out:?}");
    out
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    assert_eq!(documented(&document()), registered());
    let described: BTreeSet<(String, String)> = collections_api::openapi::described_routes()
        .into_iter()
        .collect();
    assert_eq!(described, registered());
}

/// The `?include=` values each route allows, as `crate::query` allows them.
#[test]
fn includes_are_the_allowed_ones() {
    use collections_api::query::{
        BILL_INCLUDES, COLLECTION_INCLUDES, CUSTOMER_INCLUDES, PRODUCT_INCLUDES,
        TRANSACTION_INCLUDES,
    };
    let doc = document();
    let include = |method: &str, path: &str| -> Vec<String> {
        let params = doc["paths"][path][method]["parameters"].as_array().unwrap();
        params
            .iter()
            .find(|p| p["name"] == "include")
            .map(|p| {
                assert_eq!(
                    (p["style"].as_str(), p["explode"].as_bool()),
                    (Some("form"), Some(false))
                );
                p["schema"]["items"]["enum"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let bill = "/api/collections/{code}/bills/{bill_no}";
    for (method, path, allowed) in [
        ("get", "/api/collections", &COLLECTION_INCLUDES[..]),
        ("post", "/api/collections", &COLLECTION_INCLUDES[..]),
        ("patch", "/api/collections/{code}", &COLLECTION_INCLUDES[..]),
        ("get", "/api/collections/{code}/bills", &BILL_INCLUDES[..]),
        ("post", "/api/collections/{code}/bills", &BILL_INCLUDES[..]),
        ("get", bill, &BILL_INCLUDES[..]),
        ("patch", bill, &BILL_INCLUDES[..]),
        (
            "get",
            "/api/collections/{code}/bills/{bill_no}/transactions",
            &TRANSACTION_INCLUDES[..],
        ),
        ("get", "/api/products/{id}", &PRODUCT_INCLUDES[..]),
        ("patch", "/api/customers/{id}", &CUSTOMER_INCLUDES[..]),
        ("delete", "/api/products/{id}", &[][..]),
    ] {
        assert_eq!(include(method, path), allowed, "{method} {path}");
    }
    assert_eq!(
        BILL_INCLUDES,
        [
            "account",
            "collection",
            "collection.organization",
            "product-collections",
            "product-collections.product",
            "payments",
            "payments.transaction"
        ]
    );
}

/// The bill's fields, field for field the partner's shape, with the optional includes.
#[test]
fn bill_schema_is_the_wire_format() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let bill = &schemas["Bill"];
    assert_eq!(bill["additionalProperties"], false);
    let names = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let properties: BTreeSet<String> = bill["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let required = names(&bill["required"]);
    assert_eq!(required.len(), 29);
    assert_eq!(
        properties
            .difference(&required)
            .cloned()
            .collect::<Vec<_>>(),
        ["account", "collection"]
    );
    let p = &bill["properties"];
    assert_eq!(p["status"]["enum"], json!([2, 3, 4, 5, 6]));
    assert_eq!(p["type"]["enum"], json!([1, 2]));
    assert_eq!(p["recurring"]["type"], "null");
    assert_eq!(p["api_redirect"]["enum"], json!([1]));
    assert_eq!(p["total_amount"]["type"], "string");
    assert_eq!(p["due"]["type"], json!(["string", "null"]));
    assert_eq!(p["paid"]["type"], "boolean");
    assert_eq!(
        p["created_at"]["pattern"],
        "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
    );
    assert_eq!(
        schemas["Payment"]["properties"]["status"]["$ref"],
        "#/components/schemas/PaymentStatus"
    );
    assert_eq!(
        schemas["PaymentStatus"]["enum"],
        json!(["success", "reversed"])
    );
    assert_eq!(
        names(&schemas["NewBill"]["required"]),
        ["currency", "customer", "due", "product", "ref1", "ref2"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert_eq!(names(&schemas["ValidationError"]["required"]).len(), 2);
    // Every error status answers `{"message"}` (422 with `errors`), the 429 with its headers.
    let responses = &doc["components"]["responses"];
    assert_eq!(
        responses["Error422"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ValidationError"
    );
    assert!(responses["Error429"]["headers"]["Retry-After"].is_object());
    assert_eq!(doc["security"], json!([{ "bearer": [] }]));
}

billhub_http::http_backend_tests!(served_routes_are_the_documented_ones,);

/// Against a live gateway: `/openapi.json` is the document; each documented method of a
/// documented path reaches the dialect (an unauthenticated call is its 401, never the
/// plumbing's 404 or 405), and every other method is 405.
async fn served_routes_are_the_documented_ones(db: TestDb) {
    let app = TestApp::spawn(
        collections_api::gateway(),
        &db,
        Clock::fixed(datetime!(2026-11-21 03:00 UTC)),
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
        let concrete = path
            .replace("{code}", "C1")
            .replace("{bill_no}", "B1")
            .replace("{ref_id}", "R1")
            .replace("{id}", "1");
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
                assert_eq!(
                    (status, &body),
                    (401, &json!({ "message": "Unauthenticated." })),
                    "{method} {path}"
                );
            } else {
                assert_eq!(status, 405, "{method} {path}: {body}");
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
