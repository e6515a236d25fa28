//! Hostile input to the VA (IPG) dialect's decoding, as properties `cargo test` runs (the fuzz
//! target `fuzz/fuzz_targets/va_decode.rs` runs the same for minutes): arbitrary bytes, arbitrary
//! JSON and valid requests with hostile fields never panic, and every refusal is IPG's envelope
//! (`rc` VALIDATION_ERROR, HTTP 422, `message`, `timestamp`, the bad fields in `data`); an
//! amount is read exactly as sent or refused.

// Tests may panic on a broken expectation and index what they just built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use actix_web::ResponseError;
use actix_web::test::TestRequest;
use billhub_core::org::Organization;
use billhub_core::{Currency, Money};
use billhub_http::testing::hostile::{body, number, rendered, string};
use proptest::prelude::*;
use serde_json::{Value, json};
use time::macros::datetime;
use time::{OffsetDateTime, UtcOffset};
use va_gateway::codes::Rc;
use va_gateway::error::VaError;
use va_gateway::requests::{
    bill_query, create_bill, inquiry, list_bills, list_payments, mock, pay, reverse,
};

const NOW: OffsetDateTime = datetime!(2026-12-05 04:00 UTC);

const KEYS: &[&str] = &[
    "va_number",
    "invoice_number",
    "prefix",
    "name",
    "total_amount",
    "institution_code",
    "type",
    "valid_until",
    "components",
    "qty",
    "price",
    "total",
    "customer_name",
    "customer_email",
    "customer_phone",
    "customer_address",
    "description",
    "ext_description",
    "ref_id",
    "terminal_id",
    "transaction_date",
    "amount",
    "bill_id",
    "payment_ref",
];

fn org() -> Organization {
    Organization {
        id: 7,
        code: "E9KP2ZQ6".into(),
        name: "Props".into(),
        utc_offset: UtcOffset::from_hms(7, 0, 0).unwrap(),
        locale: "en".into(),
    }
}

fn create_seed() -> Value {
    json!({"va_number": "1234567890", "invoice_number": "INV01/TRX000001", "prefix": "009902",
        "name": "SPP Jan 22", "total_amount": 100000, "institution_code": "E9KP2ZQ6", "type": "close",
        "valid_until": "2030-04-04T11:46:56+07:00",
        "components": [{"name": "SPP Januari", "qty": 1, "price": 100000, "total": 100000}],
        "customer_name": "Budi Santoso", "description": "Pembayaran SPP"})
}

fn pay_seed() -> Value {
    json!({"va_number": "0099021234567890", "ref_id": "REF-1", "terminal_id": "atm",
        "transaction_date": "2026-12-05 10:00:00", "amount": 100000, "customer_name": "Budi"})
}

fn reverse_seed() -> Value {
    json!({"bill_id": "W7uplQiU", "payment_ref": "REF-1", "amount": 100000})
}

fn mock_seed() -> Value {
    json!({"type": "payment", "amount": 1000, "ref_id": "R-1"})
}

/// A refusal is IPG's validation envelope with 422.
fn check_refusal(err: VaError) -> Result<(), TestCaseError> {
    let (status, body) = rendered(err.at(NOW, UtcOffset::UTC).error_response());
    prop_assert_eq!(status, 422, "{}", body);
    prop_assert_eq!(&body["rc"], Rc::ValidationError.code(), "{}", body);
    prop_assert_eq!(&body["message"], Rc::ValidationError.message(), "{}", body);
    prop_assert!(
        body["timestamp"].as_str().is_some_and(|t| t.len() >= 20),
        "{}",
        body
    );
    let fields = body["data"].as_object();
    prop_assert!(fields.is_some_and(|f| !f.is_empty()), "{}", body);
    Ok(())
}

fn check<T>(r: Result<T, VaError>) -> Result<Option<T>, TestCaseError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => check_refusal(e).map(|()| None),
    }
}

/// The seeds are valid requests, so the mutated ones reach the deep checks.
#[test]
fn the_seeds_are_accepted() {
    let draft = create_bill(create_seed().to_string().as_bytes(), &org(), NOW).unwrap();
    let bill = draft.validate(&["009902".into()]).unwrap();
    assert_eq!(bill.bill.billed, 10_000_000);
    assert_eq!(
        pay(pay_seed().to_string().as_bytes(), NOW)
            .unwrap()
            .amount
            .minor(),
        10_000_000
    );
    assert_eq!(
        reverse(reverse_seed().to_string().as_bytes())
            .unwrap()
            .payment_ref,
        "REF-1"
    );
    assert!(mock(mock_seed().to_string().as_bytes()).is_ok());
}

/// A list query's pairs as a URL query string.
fn query_string(pairs: &[(String, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// The list routes' query strings: the documented filters with hostile values, any pairs.
fn query() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        prop::sample::select(
            &[
                "page",
                "date.0",
                "date.1",
                "date[0]",
                "date[1]",
                "order",
                "order_by",
                "type",
                "va_number",
                "q",
                "institution_code",
                "status",
                "payment_type",
            ][..]
        )
        .prop_map(str::to_string),
        ".{0,6}",
    ];
    let value = prop_oneof![
        string(),
        "[+-]?[0-9]{4,6}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])",
        Just("9999-12-31".to_string()),
        Just("9999-12-31T23:59:59+07:00".to_string()),
        Just("-9999-01-01T00:00:00Z".to_string()),
    ];
    prop_oneof![
        4 => prop::collection::vec((name, value), 0..6).prop_map(|p| query_string(&p)),
        1 => "[a-z0-9=&%.\\[\\]]{0,40}",
    ]
}

fn list_request(query: &str) -> actix_web::HttpRequest {
    TestRequest::with_uri(&format!("/api/v2/gw/bill?{query}")).to_http_request()
}

/// Regression: the last day a `Y-m-d` or ISO date can name, as the inclusive end of a list's
/// date range, must be a refusal or a range, never a panic. Today `date_bound` (va-gateway
/// `src/requests.rs`) adds one day (one second for an ISO date) with `+`, which panics past
/// year 9999, inside the request handler.
#[test]
fn the_last_representable_day_as_a_list_end_is_not_a_panic() {
    for end in [
        "9999-12-31",
        "9999-12-31T23:59:59+07:00",
        "9999-12-31T23:59:59Z",
    ] {
        let q = query_string(&[("date.1".to_string(), end.to_string())]);
        for list in [0, 1] {
            let outcome = std::panic::catch_unwind(|| {
                let req = list_request(&q);
                if list == 0 {
                    list_bills(&req, &org()).map(|_| ())
                } else {
                    list_payments(&req, &org()).map(|_| ())
                }
            });
            let Ok(result) = outcome else {
                panic!(
                    "date.1={end} panics in {}",
                    ["list_bills", "list_payments"][list]
                );
            };
            if let Err(e) = result {
                let (status, body) = rendered(e.at(NOW, UtcOffset::UTC).error_response());
                assert_eq!(
                    (status, &body["rc"]),
                    (422, &json!("VALIDATION_ERROR")),
                    "{body}"
                );
            }
        }
    }
}

proptest! {
    // A failure is written down as a plain #[test] (see the regression tests here), not as
    // a regressions file beside this one.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(1000)
    })]

    #[test]
    fn create_bill_never_panics_and_refuses_in_ipg_shape(bytes in body(create_seed(), KEYS)) {
        if let Some(draft) = check(create_bill(&bytes, &org(), NOW))?
            && let Some(bill) = check(draft.validate(&["009902".into()]).map_err(VaError::from))?
        {
            prop_assert!(bill.bill.billed > 0);
            prop_assert_eq!(bill.bill.currency, Currency::IDR);
        }
    }

    #[test]
    fn channel_requests_never_panic_and_refuse_in_ipg_shape(
        p in body(pay_seed(), KEYS),
        r in body(reverse_seed(), KEYS),
        m in body(mock_seed(), KEYS),
    ) {
        check(inquiry(&p, NOW))?;
        check(pay(&p, NOW))?;
        check(reverse(&r))?;
        check(mock(&m))?;
    }

    #[test]
    fn list_queries_never_panic_and_refuse_in_ipg_shape(q in query()) {
        let req = list_request(&q);
        check(bill_query(&req, "E9KP2ZQ6"))?;
        if let Some(list) = check(list_bills(&req, &org()))? {
            prop_assert!(list.page >= 1 && list.filter.offset >= 0);
        }
        if let Some(list) = check(list_payments(&req, &org()))? {
            prop_assert!(list.page >= 1 && list.filter.offset >= 0);
        }
    }

    #[test]
    fn a_payment_amount_is_read_exactly_or_refused(amount in prop_oneof![
        number().prop_map(Value::Number),
        string().prop_map(Value::String),
    ]) {
        let mut body = pay_seed();
        body["amount"] = amount.clone();
        let text = match &amount {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => unreachable!(),
        };
        match pay(body.to_string().as_bytes(), NOW) {
            Ok(p) => prop_assert_eq!(Ok(p.amount), Money::parse(&text, Currency::IDR)),
            Err(e) => {
                prop_assert!(Money::parse(&text, Currency::IDR).is_err() || text.contains('\0'));
                let (_, body) = rendered(e.at(NOW, UtcOffset::UTC).error_response());
                prop_assert!(body["data"].get("amount").is_some(), "{}", body);
            }
        }
    }
}
