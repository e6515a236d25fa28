//! Hostile input to the collections (RaudhahPay) dialect's decoding, as properties `cargo test`
//! runs (the fuzz target `fuzz/fuzz_targets/collections_decode.rs` runs the same for minutes):
//! arbitrary bytes, forms, arbitrary JSON and valid requests with hostile fields never panic;
//! every refusal is Laravel's shape (400 with `message`, or 422 with `message` and `errors`, a
//! non-empty list of messages per field).

// Tests may panic on a broken expectation and index what they just built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use actix_web::ResponseError;
use billhub_http::testing::hostile::{body, rendered, string};
use collections_api::codes::ApiError;
use collections_api::requests::{
    bill_patch, collection_patch, customer_patch, new_bill, new_collection, new_customer,
    new_product, parse_body, product_patch,
};
use proptest::prelude::*;
use serde_json::{Value, json};

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
