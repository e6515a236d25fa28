//! Hostile input to the Bill24 dialect's decoding, as properties `cargo test` runs (the fuzz
//! target `fuzz/fuzz_targets/bill24_decode.rs` runs the same for minutes): arbitrary bytes,
//! arbitrary JSON and valid requests with hostile fields never panic; every transport refusal is
//! HTTP 400 in Bill24's envelope (`code` 400, `message`, `message_kh`, `data: null`) or, on the
//! webhook, its reply `{"status": "Error", "message"}`; a consumer code that names nobody is
//! code 1; an accepted notification's customers add up to its amount, read exactly as sent (one
//! share, the body kept, when it does not read in full).

// Tests may panic on a broken expectation and index what they just built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use actix_web::ResponseError;
use actix_web::test::TestRequest;
use actix_web::web::Bytes;
use bill24_proxy::codes::Code;
use bill24_proxy::error::{Bill24Error, WebhookError};
use bill24_proxy::requests::{ConsumerRequest, Notification, json_object};
use billhub_core::{Currency, Money};
use billhub_http::testing::hostile::{body, number, rendered};
use proptest::prelude::*;
use serde_json::{Value, json};

const KEYS: &[&str] = &[
    "consumer_code",
    "biller_code",
    "tran_id",
    "tnx_id",
    "tran_amount",
    "total_amount",
    "customer_fee",
    "currency",
    "status",
    "tran_date",
    "paid_date",
    "bank_name",
    "bank_ref",
    "payment_method",
    "customers",
    "customer_code",
    "customer_name",
    "bill_no",
    "amount",
    "bills",
    "id",
    "sync_code",
];

fn current_seed() -> Value {
    json!({"tran_id": "348b4b16-1f06-4563-8204-105a8420a067", "tran_amount": 45, "currency": "USD",
        "bank_name": "ACLEDA", "status": "success", "tran_date": "2026-11-29T16:58:16.727168",
        "customers": [{"customer_code": "37627011", "customer_name": "MAO SAMON", "bill_no": "", "amount": 45}]})
}

fn older_seed() -> Value {
    json!({"tnx_id": "BUb4CmDE", "tran_amount": 10, "customer_fee": 0.20, "total_amount": 10.20,
        "currency": "USD", "customer_code": "CU003035", "paid_date": "2026-02-28 10:46:33",
        "bills": [{"id": 17, "sync_code": "INV-1"}]})
}

fn seed() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(current_seed()),
        Just(older_seed()),
        Just(json!({"consumer_code": "37627011"})),
    ]
}

/// A refusal: 400 in the Merchant Proxy envelope, and the webhook's reply shape.
fn check_refusal(err: Bill24Error) -> Result<(), TestCaseError> {
    let (status, body) = rendered(err.error_response());
    prop_assert_eq!(status, 400, "{}", body);
    prop_assert_eq!(body["code"].as_u64(), Some(400), "{}", body);
    prop_assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        body
    );
    prop_assert!(
        body["message_kh"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        body
    );
    prop_assert!(body["data"].is_null(), "{}", body);
    let (status, reply) = rendered(WebhookError(err).error_response());
    prop_assert_eq!(status, 400);
    prop_assert_eq!(&reply["status"], "Error", "{}", reply);
    prop_assert!(
        reply["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        reply
    );
    Ok(())
}

fn read_body(
    bytes: &[u8],
    json_type: bool,
) -> Result<Option<serde_json::Map<String, Value>>, TestCaseError> {
    let ct = if json_type {
        "application/json"
    } else {
        "text/plain"
    };
    let req = TestRequest::default()
        .insert_header(("Content-Type", ct))
        .to_http_request();
    match json_object(&req, 65_536, Ok(Bytes::copy_from_slice(bytes))) {
        Ok(b) => {
            prop_assert!(json_type);
            Ok(Some(b))
        }
        Err(e) => check_refusal(e).map(|()| None),
    }
}

/// The seeds are valid requests, so the mutated ones reach the deep checks.
#[test]
fn the_seeds_are_accepted() {
    let n = Notification::read(current_seed().as_object().unwrap()).unwrap();
    assert_eq!(n.tran_amount.minor(), 4500);
    let n = Notification::read(older_seed().as_object().unwrap()).unwrap();
    assert_eq!((n.tran_amount.minor(), n.fee), (1000, 20));
    let c = ConsumerRequest::read(json!({"consumer_code": " 37627011 "}).as_object().unwrap());
    assert_eq!(c.unwrap().consumer_code, "37627011");
}

proptest! {
    // A failure is written down as a plain #[test] (see the regression tests here), not as
    // a regressions file beside this one.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(1500)
    })]

    #[test]
    fn requests_never_panic_and_refuse_in_bill24_shape(
        bytes in seed().prop_flat_map(|s| body(s, KEYS)),
        json_type in prop::bool::weighted(0.9),
    ) {
        let Some(obj) = read_body(&bytes, json_type)? else { return Ok(()) };
        if let Err(code) = ConsumerRequest::read(&obj) {
            // A code that names nobody is a business answer (1), never an HTTP error.
            prop_assert_eq!(code, Code::NotFound);
        }
        match Notification::read(&obj) {
            Err(e) => check_refusal(e.into())?,
            Ok(n) => {
                prop_assert!(n.tran_amount.is_positive());
                let sum = n.shares.iter().try_fold(0i64, |s, share| s.checked_add(share.amount.minor()));
                prop_assert_eq!(sum, Some(n.tran_amount.minor()), "{:?}", obj);
                // What does not read in full is kept whole, with its body as sent.
                if n.unreadable.is_some() {
                    prop_assert_eq!(n.shares.len(), 1);
                    prop_assert!(n.raw_body.is_some());
                }
            }
        }
    }

    #[test]
    fn a_webhook_amount_is_read_exactly_or_refused(amount in number(), cur in prop::sample::select(Currency::ALL.to_vec())) {
        let mut body = current_seed();
        body["currency"] = json!(cur.code());
        body["tran_amount"] = Value::Number(amount.clone());
        body["customers"][0]["amount"] = Value::Number(amount.clone());
        let parsed = Money::parse(&amount.to_string(), cur);
        match Notification::read(body.as_object().unwrap()) {
            Ok(n) => prop_assert_eq!(Ok(n.tran_amount), parsed),
            Err(e) => {
                prop_assert!(parsed.is_err() || parsed.is_ok_and(|m| !m.is_positive()), "{}: {}", amount, e.summary());
                prop_assert!(e.contains("tran_amount"), "{}", e.summary());
            }
        }
    }
}
