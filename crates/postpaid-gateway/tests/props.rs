//! Hostile input to the CSQ (postpaid) dialect's decoding, as properties `cargo test` runs (the
//! fuzz target `fuzz/fuzz_targets/postpaid_decode.rs` runs the same for minutes): hostile path
//! parts, arbitrary bytes, arbitrary JSON and valid requests with hostile fields never panic;
//! every refusal is code 900 in CSQ's body (`rc`, `resultcode`, `message`, `items`); an
//! `...X100` amount is a whole int32 read as sent, or refused.

// Tests may panic on a broken expectation and index what they just built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use billhub_core::postpaid::TerminalFields;
use billhub_http::testing::hostile::{body, number, rendered};
use postpaid_gateway::codes::Refusal;
use postpaid_gateway::requests::{
    InfoRequest, InvoicesRequest, PayRequest, RevertRequest, parameters,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-12-05 04:00 UTC);

const KEYS: &[&str] = &[
    "localDateTime",
    "amountToSendX100",
    "destinationAmountX100",
    "additionalData",
    "key",
    "value",
    "invoiceNumbers",
    "beneficiaryPhoneNumber",
    "account",
    "originalLocalReference",
    "originalLocalDate",
    "transaction_code",
];

fn pay_seed() -> Value {
    json!({"localDateTime": "2026-12-05T10:15:00+07:00", "amountToSendX100": 500000,
        "additionalData": [{"key": "account", "value": "ACC-1"}, {"key": "transaction_code", "value": "4821"}],
        "invoiceNumbers": ["INV-1"], "beneficiaryPhoneNumber": "0123456789"})
}

fn revert_seed() -> Value {
    json!({"localDateTime": "2026-12-05T10:20:00+07:00", "amountToSendX100": 500000,
        "account": "ACC-1", "originalLocalReference": 12, "originalLocalDate": "2026-12-05"})
}

fn lookup_seed() -> Value {
    json!([{"key": "account", "value": "ACC-1"}])
}

/// A path segment: usually a valid integer, sometimes anything.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9]{1,9}",
        1 => "-?[0-9]{1,12}",
        1 => "[0-9]{8}",
        1 => ".{0,12}",
    ]
}

fn path3() -> impl Strategy<Value = (String, String, String)> {
    (segment(), segment(), segment())
}

/// A refusal is code 900 in CSQ's body, answered with HTTP 200.
fn check_refusal(r: &Refusal) -> Result<(), TestCaseError> {
    let (status, body) = rendered(r.response());
    prop_assert_eq!(status, 200);
    prop_assert_eq!(&body["resultcode"], "900", "{}", body);
    prop_assert!(body["rc"].is_number(), "{}", body);
    prop_assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Invalid parameters: ")),
        "{}",
        body
    );
    prop_assert_eq!(&body["items"][0]["resultcode"], "900", "{}", body);
    prop_assert_eq!(&body["items"][0]["finalstatus"], -1, "{}", body);
    Ok(())
}

fn check<T>(r: Result<T, Refusal>) -> Result<Option<T>, TestCaseError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => check_refusal(&e).map(|()| None),
    }
}

/// The seeds are valid requests, so the mutated ones reach the deep checks.
#[test]
fn the_seeds_are_accepted() {
    let fields = TerminalFields::default();
    let path = ("1".to_string(), "7".to_string(), "12".to_string());
    let req = PayRequest::parse(&path, pay_seed().to_string().as_bytes(), NOW);
    let ids = req.ids().unwrap();
    let pay = req.complete(ids, &fields).unwrap();
    assert_eq!(
        (pay.amount, pay.account(&fields)),
        (500_000, "ACC-1".to_string())
    );
    let req = RevertRequest::parse(&path, revert_seed().to_string().as_bytes(), NOW);
    let ids = req.ids().unwrap();
    assert_eq!(req.complete(ids).unwrap().original, 12);
    let pair = ("1".to_string(), "7".to_string());
    let lookup = InvoicesRequest::parse(&pair, lookup_seed().to_string().as_bytes()).unwrap();
    assert_eq!(lookup.values(&fields).unwrap().account, "ACC-1");
}

proptest! {
    // A failure is written down as a plain #[test] (see the regression tests here), not as
    // a regressions file beside this one.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(1000)
    })]

    #[test]
    fn lookups_never_panic_and_refuse_with_900(
        path in path3(),
        bytes in body(lookup_seed(), KEYS),
    ) {
        let fields = TerminalFields::default();
        check(parameters(&(path.0.clone(), path.1.clone())))?;
        if let Some(req) = check(InvoicesRequest::parse(&(path.0.clone(), path.1.clone()), &bytes))? {
            check(req.values(&fields))?;
        }
        check(InfoRequest::parse(&path, NOW))?;
    }

    #[test]
    fn payments_never_panic_and_refuse_with_900(path in path3(), bytes in body(pay_seed(), KEYS)) {
        let req = PayRequest::parse(&path, &bytes, NOW);
        let _ = req.replay_key(None);
        let _ = req.replay_key(Some(&TerminalFields::default()));
        if let Some(ids) = check(req.ids())?
            && let Some(pay) = check(req.complete(ids, &TerminalFields::default()))?
        {
            prop_assert!((1..=i64::from(i32::MAX)).contains(&pay.amount));
        }
    }

    #[test]
    fn reverts_never_panic_and_refuse_with_900(path in path3(), bytes in body(revert_seed(), KEYS)) {
        let req = RevertRequest::parse(&path, &bytes, NOW);
        let _ = req.replay_key();
        if let Some(ids) = check(req.ids())?
            && let Some(revert) = check(req.complete(ids))?
        {
            prop_assert!((1..=i64::from(i32::MAX)).contains(&revert.amount));
        }
    }

    #[test]
    fn an_x100_amount_is_a_whole_int32_as_sent_or_refused(amount in number()) {
        let mut body = pay_seed();
        body["amountToSendX100"] = Value::Number(amount.clone());
        let path = ("1".to_string(), "7".to_string(), "12".to_string());
        let req = PayRequest::parse(&path, body.to_string().as_bytes(), NOW);
        let ids = req.ids().unwrap();
        // Whole in any written form (`1.0E7`, `12500.0`), read exactly.
        let whole = billhub_core::money::parse_whole(&amount.to_string()).ok();
        match req.complete(ids, &TerminalFields::default()) {
            Ok(pay) => {
                prop_assert!((1..=i64::from(i32::MAX)).contains(&pay.amount));
                if let Some(w) = whole {
                    prop_assert_eq!(pay.amount, w);
                }
            }
            Err(r) => {
                check_refusal(&r)?;
                prop_assert!(whole.is_none_or(|w| w == 0 || !(1..=i64::from(i32::MAX)).contains(&w)), "{}: {}", amount, r.message);
            }
        }
    }
}
