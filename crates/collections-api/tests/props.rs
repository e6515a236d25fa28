//! Hostile input to the collections (RaudhahPay) dialect's decoding, as properties `cargo test`
//! runs (the fuzz target `fuzz/fuzz_targets/collections_decode.rs` runs the same for minutes):
//! arbitrary bytes, forms, arbitrary JSON and valid requests with hostile fields never panic;
//! every refusal is Laravel's shape (400 with `message`, or 422 with `message` and `errors`, a
//! non-empty list of messages per field).

// Tests may panic on a broken expectation and index what they just built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use actix_web::body::MessageBody;
use actix_web::{HttpResponse, ResponseError};
use collections_api::codes::ApiError;
use collections_api::requests::{
    bill_patch, collection_patch, customer_patch, new_bill, new_collection, new_customer,
    new_product, parse_body, product_patch,
};
use proptest::prelude::*;
use serde_json::{Number, Value, json};

const KEYS: &[&str] = &[
    "due",
    "ref1",
    "ref2",
    "currency",
    "customer",
    "acc_no",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "address",
    "product",
    "id",
    "title",
    "price",
    "quantity",
    "code",
    "description",
    "name",
    "webhook_url",
    "redirect_url",
    "cancel",
];

fn bill_seed() -> Value {
    json!({"due": "2026-12-31", "ref1": "ORDER-77", "ref2": "", "currency": "MYR",
        "customer": {"first_name": "Ali", "last_name": "Abu", "email": "ali@example.com", "mobile": "0123456789"},
        "product": [{"title": "Yuran", "price": "134.00", "quantity": 1}]})
}

fn seed() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(bill_seed()),
        Just(
            json!({"name": "Yuran 2026", "webhook_url": "https://merchant.example/hook", "redirect_url": "https://merchant.example/done"})
        ),
        Just(
            json!({"title": "Yuran", "code": "YR1", "price": "10.00", "currency": "MYR", "description": "x"})
        ),
        Just(
            json!({"first_name": "Ali", "last_name": "Abu", "email": "ali@example.com", "mobile": "0123456789", "acc_no": "A-1"})
        ),
    ]
}

/// A form body as PHP clients send one (bracket nesting), with hostile keys and values.
fn form() -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![
        "(due|ref1|ref2|currency|customer\\[(email|mobile|first_name|acc_no)\\]|product\\[[0-9]{1,2}\\]\\[(title|price|quantity|id)\\])",
        "[a-z]{1,5}(\\[[a-z0-9]{0,3}\\]){0,12}",
        "[\\[\\]a-z0-9%]{0,12}",
    ];
    prop::collection::vec((key, string()), 0..12)
        .prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap().into_bytes())
}

/// A refusal is 400 with a message, or 422 with every bad field.
fn check_refusal(err: &ApiError) -> Result<(), TestCaseError> {
    let (status, body) = rendered(err.error_response());
    prop_assert!(status == 400 || status == 422, "{} {}", status, body);
    prop_assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        body
    );
    if status == 422 {
        let errors = body["errors"].as_object();
        prop_assert!(errors.is_some_and(|e| !e.is_empty()), "{}", body);
        for (field, msgs) in errors.into_iter().flatten() {
            let ok = msgs
                .as_array()
                .is_some_and(|m| !m.is_empty() && m.iter().all(Value::is_string));
            prop_assert!(ok, "{}: {}", field, body);
        }
    } else {
        prop_assert!(body.get("errors").is_none(), "{}", body);
    }
    Ok(())
}

fn check<T>(r: Result<T, ApiError>) -> Result<(), TestCaseError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => check_refusal(&e),
    }
}

fn every_reader(bytes: &[u8], is_form: bool) -> Result<(), TestCaseError> {
    let body = match parse_body(bytes, is_form) {
        Ok(b) => b,
        Err(e) => return check_refusal(&e),
    };
    let draft = new_bill(&body, "COLL0001".into());
    if draft.errors.is_empty() {
        prop_assert!(draft.bill.is_some());
    } else {
        check_refusal(&ApiError::Validation(draft.errors))?;
    }
    check(bill_patch(&body))?;
    check(new_collection(&body))?;
    check(collection_patch(&body))?;
    check(new_product(&body))?;
    check(product_patch(&body, Some("MYR")))?;
    check(product_patch(&body, None))?;
    check(new_customer(&body))?;
    check(customer_patch(&body, "ACC-1"))
}

/// The seeds are valid requests, so the mutated ones reach the deep checks.
#[test]
fn the_seeds_are_accepted() {
    let draft = new_bill(bill_seed().as_object().unwrap(), "COLL0001".into());
    assert!(draft.errors.is_empty(), "{}", draft.errors.summary());
    assert_eq!(draft.bill.unwrap().lines.len(), 1);
    let collection = json!({"name": "Yuran 2026", "webhook_url": "https://merchant.example/hook"});
    assert!(new_collection(collection.as_object().unwrap()).is_ok());
    let product = json!({"title": "Yuran", "code": "YR1", "price": "10.00", "currency": "MYR"});
    assert!(new_product(product.as_object().unwrap()).is_ok());
    let customer = json!({"first_name": "Ali", "last_name": "Abu", "email": "ali@example.com", "mobile": "0123456789"});
    assert!(new_customer(customer.as_object().unwrap()).is_ok());
}

proptest! {
    // A failure is written down as a plain #[test] (see the regression tests here), not as
    // a regressions file beside this one.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(1000)
    })]

    #[test]
    fn json_bodies_never_panic_and_refuse_in_laravel_shape(bytes in seed().prop_flat_map(|s| body(s, KEYS))) {
        every_reader(&bytes, false)?;
    }

    #[test]
    fn forms_never_panic_and_refuse_in_laravel_shape(
        bytes in prop_oneof![form(), prop::collection::vec(any::<u8>(), 0..200)],
    ) {
        every_reader(&bytes, true)?;
    }
}
// ---------------------------------------------------------------------------------------------
// Hostile JSON (the same generator in each gateway's props.rs: a test target cannot share a
// module with another crate's tests)

/// Number text as clients write it: whole, decimal, exponent, huge, negative, float noise.
fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,12})?([eE][+-]?[0-9]{1,3})?",
        "(0|[1-9][0-9]{0,8})\\.[0-9]{2}(9{10,14}[0-9]|0{10,14}[1-9])",
    ]
    .prop_filter_map("valid JSON number", |t| t.parse::<Number>().ok())
}

/// Strings as partners send them, hostile ones included (NUL, dates out of range, digits).
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,20}",
        "[0-9]{0,20}",
        "[A-Z]{3}",
        "-?[0-9]{1,7}(\\.[0-9]{1,4})?",
        "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?)?",
        "[a-z]{0,6}\\x00[a-z]{0,6}",
        "\\PC{100,300}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        string().prop_map(Value::String),
    ]
}

/// Any JSON value, objects keyed mostly by the dialect's own field names.
fn value(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(keys), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn key(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(keys).prop_map(str::to_string),
        1 => "[a-z_]{1,10}|.{0,4}",
    ]
}

/// A valid request with some of its fields replaced by hostile values or removed.
fn mutated(seed: Value, keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::collection::vec((key(keys), prop::option::weighted(0.8, value(keys))), 1..5).prop_map(
        move |changes| {
            let mut body = seed.clone();
            if let Value::Object(m) = &mut body {
                for (k, v) in changes {
                    match v {
                        Some(v) => m.insert(k, v),
                        None => m.remove(&k),
                    };
                }
            }
            body
        },
    )
}

/// A body as bytes: arbitrary bytes, arbitrary JSON, or a mutated valid request.
fn body(seed: Value, keys: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..200),
        2 => value(keys).prop_map(|v| v.to_string().into_bytes()),
        4 => mutated(seed, keys).prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// A rendered answer's status and JSON body.
fn rendered(resp: HttpResponse) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.into_body().try_into_bytes().unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}
