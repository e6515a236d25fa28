//! VA (IPG) request decoding: the bill API's create request (then its prefix check), the
//! sandbox mock, and the bank channel's inquiry, payment and reversal. Never a panic; every
//! refusal renders in IPG's envelope (`rc`, `message`, `timestamp`, `data`) with a 4xx status.
#![no_main]

use actix_web::ResponseError;
use billhub_core::org::Organization;
use billhub_fuzz::{now, rendered};
use libfuzzer_sys::fuzz_target;
use time::UtcOffset;
use va_gateway::error::VaError;
use va_gateway::requests::{create_bill, inquiry, mock, pay, reverse};

fn check_refusal(err: VaError) {
    let (status, body) = rendered(err.at(now(), UtcOffset::UTC).error_response());
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body["rc"].is_string() || body["rc"].is_number(), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["timestamp"].is_string(), "{body}");
}

fn check<T>(r: Result<T, VaError>) -> Option<T> {
    r.map_err(check_refusal).ok()
}

fuzz_target!(|data: &[u8]| {
    let org = Organization {
        id: 7,
        code: "E9KP2ZQ6".into(),
        name: "Fuzz".into(),
        utc_offset: UtcOffset::from_hms(7, 0, 0).unwrap_or(UtcOffset::UTC),
        locale: "en".into(),
    };
    if let Some(draft) = check(create_bill(data, &org, now())) {
        if let Some(bill) = check(draft.validate(&["009902".into()]).map_err(VaError::from)) {
            assert!(bill.bill.billed > 0, "{bill:?}");
        }
    }
    check(mock(data));
    check(inquiry(data, now()));
    check(pay(data, now()));
    check(reverse(data));
});
