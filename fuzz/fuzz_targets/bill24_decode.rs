//! Bill24's request decoding: the body as sent (`json_object`, with and without the JSON
//! content type), `/proxy` and `/pending_bills` (`ConsumerRequest`), and the webhook
//! (`Notification`, either generation). Never a panic; every refusal renders in Bill24's
//! envelope (`code`, `message`, `message_kh`, `data: null`) or its webhook reply
//! (`status: "Error"`, `message`) with a 4xx status; an accepted notification's customers add up
//! to its `tran_amount`.
#![no_main]

use actix_web::ResponseError;
use actix_web::test::TestRequest;
use actix_web::web::Bytes;
use bill24_proxy::error::{Bill24Error, WebhookError};
use bill24_proxy::requests::{ConsumerRequest, Notification, json_object};
use billhub_fuzz::rendered;
use libfuzzer_sys::fuzz_target;

fn check_refusal(err: Bill24Error) {
    let (status, body) = rendered(err.error_response());
    assert!((400..500).contains(&status), "{status} {body}");
    assert_eq!(body["code"].as_u64(), Some(u64::from(status)), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["message_kh"].is_string() && body["data"].is_null(),
        "{body}"
    );
    let (status, reply) = rendered(WebhookError(err).error_response());
    assert!((400..500).contains(&status));
    assert_eq!(reply["status"], "Error", "{reply}");
    assert!(reply["message"].is_string(), "{reply}");
}

fuzz_target!(|data: &[u8]| {
    // A leading 0x01 sends the body as text/plain (refused before it is read).
    let json_ct = data.first() != Some(&0x01);
    let req = if json_ct {
        TestRequest::default().insert_header(("Content-Type", "application/json"))
    } else {
        TestRequest::default().insert_header(("Content-Type", "text/plain"))
    }
    .to_http_request();
    let body = match json_object(&req, 65_536, Ok(Bytes::copy_from_slice(data))) {
        Ok(b) => b,
        Err(e) => return check_refusal(e),
    };
    assert!(json_ct);
    // A consumer code naming nobody (missing, blank, another type, NUL) is code 1, HTTP 200.
    if let Err(e) = ConsumerRequest::read(&body) {
        assert_eq!(e, bill24_proxy::codes::Code::NotFound);
    }
    match Notification::read(&body) {
        Err(e) => check_refusal(e.into()),
        Ok(n) => {
            assert!(n.tran_amount.is_positive());
            let sum = n
                .shares
                .iter()
                .try_fold(0i64, |s, share| s.checked_add(share.amount.minor()));
            assert_eq!(sum, Some(n.tran_amount.minor()), "{body:?}");
        }
    }
});
