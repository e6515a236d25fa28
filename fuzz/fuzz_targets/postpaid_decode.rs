//! CSQ (postpaid) request decoding: the path integers and bodies of Get Parameters, Get
//! Invoices, transaction info, payment and revert, each completed against the default terminal
//! fields. Never a panic; every refusal is code 900 (`InvalidParameters`) in CSQ's body
//! (`rc`, `resultcode`, `message`, `items[0].finalstatus`).
#![no_main]

use billhub_core::postpaid::TerminalFields;
use billhub_fuzz::{now, parts, rendered, text};
use libfuzzer_sys::fuzz_target;
use postpaid_gateway::codes::Refusal;
use postpaid_gateway::requests::{
    InfoRequest, InvoicesRequest, PayRequest, RevertRequest, parameters,
};

fn check_refusal(r: &Refusal) {
    let (status, body) = rendered(r.response());
    assert_eq!(status, 200);
    assert_eq!(body["resultcode"], "900", "{body}");
    assert!(body["rc"].is_number(), "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Invalid parameters")),
        "{body}"
    );
    assert_eq!(body["items"][0]["resultcode"], "900", "{body}");
}

fn check<T>(r: Result<T, Refusal>) -> Option<T> {
    r.map_err(|e| check_refusal(&e)).ok()
}

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 4);
    let (a, b, c) = (text(p[0]), text(p[1]), text(p[2]));
    let body = p[3];
    let fields = TerminalFields::default();
    check(parameters(&(a.clone(), b.clone())));
    if let Some(req) = check(InvoicesRequest::parse(&(a.clone(), b.clone()), body)) {
        check(req.values(&fields));
    }
    check(InfoRequest::parse(
        &(a.clone(), b.clone(), c.clone()),
        now(),
    ));
    let path = (a, b, c);
    let pay = PayRequest::parse(&path, body, now());
    let _ = pay.replay_key(None);
    if let Some(ids) = check(pay.ids()) {
        if let Some(done) = check(pay.complete(ids, &fields)) {
            assert!(done.amount > 0, "{done:?}");
        }
    }
    let revert = RevertRequest::parse(&path, body, now());
    let _ = revert.replay_key();
    if let Some(ids) = check(revert.ids()) {
        check(revert.complete(ids));
    }
});
