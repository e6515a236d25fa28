//! VA (IPG) list and lookup queries: the raw query string of `GET /api/v2/gw/bill`,
//! `/api/v2/gw/payment` and a bill lookup (`bill_query`). Never a panic; every refusal renders
//! in IPG's envelope with a 4xx status; an accepted list has a page >= 1.
#![no_main]

use actix_web::ResponseError;
use actix_web::test::TestRequest;
use billhub_core::org::Organization;
use billhub_fuzz::{now, rendered};
use libfuzzer_sys::fuzz_target;
use time::UtcOffset;
use va_gateway::error::VaError;
use va_gateway::requests::{bill_query, list_bills, list_payments};

fn check_refusal(err: VaError) {
    let (status, body) = rendered(err.at(now(), UtcOffset::UTC).error_response());
    assert!((400..500).contains(&status), "{status} {body}");
    assert_eq!(body["rc"], "VALIDATION_ERROR", "{body}");
}

/// The bytes as a valid URI query: kept where a URI allows them, else percent-encoded.
fn query(data: &[u8]) -> String {
    let mut q = String::with_capacity(data.len() * 3);
    for &b in data {
        if b.is_ascii_alphanumeric() || b"-._~&=+[]".contains(&b) {
            q.push(char::from(b));
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    q
}

fuzz_target!(|data: &[u8]| {
    let org = Organization {
        id: 7,
        code: "E9KP2ZQ6".into(),
        name: "Fuzz".into(),
        utc_offset: UtcOffset::from_hms(7, 0, 0).unwrap_or(UtcOffset::UTC),
        locale: "en".into(),
    };
    let Ok(req) = std::panic::catch_unwind(|| {
        TestRequest::with_uri(&format!("/api/v2/gw/bill?{}", query(data))).to_http_request()
    }) else {
        return; // not a URI actix accepts: never reaches a handler
    };
    if let Err(e) = bill_query(&req, &org.code) {
        check_refusal(e);
    }
    match list_bills(&req, &org) {
        Ok(l) => assert!(l.page >= 1),
        Err(e) => check_refusal(e),
    }
    match list_payments(&req, &org) {
        Ok(l) => assert!(l.page >= 1),
        Err(e) => check_refusal(e),
    }
});
