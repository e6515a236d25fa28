//! Collections (RaudhahPay) request decoding: the body (`parse_body`, JSON or a form), then every create and
//! patch reader. Never a panic; every refusal is 400 or 422 in Laravel's shape (`message`, and
//! `errors` by field for a 422).
#![no_main]

use actix_web::ResponseError;
use billhub_fuzz::rendered;
use collections_api::codes::ApiError;
use collections_api::requests::{
    bill_patch, collection_patch, customer_patch, new_bill, new_collection, new_customer,
    new_product, parse_body, product_patch,
};
use libfuzzer_sys::fuzz_target;

fn check_refusal(err: &ApiError) {
    let (status, body) = rendered(err.error_response());
    assert!(status == 400 || status == 422, "{status} {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    if status == 422 {
        let errors = body["errors"].as_object().expect("422 has errors by field");
        assert!(!errors.is_empty());
        for (_, msgs) in errors {
            assert!(
                msgs.as_array()
                    .is_some_and(|m| !m.is_empty() && m.iter().all(|s| s.is_string())),
                "{body}"
            );
        }
    }
}

fn check<T>(r: Result<T, ApiError>) {
    if let Err(e) = r {
        check_refusal(&e);
    }
}

fuzz_target!(|data: &[u8]| {
    // `F:` first: the rest is a form body (PHP bracket nesting), else JSON.
    let (form, data) = match data.strip_prefix(b"F:") {
        Some(rest) => (true, rest),
        None => (false, data),
    };
    let body = match parse_body(data, form) {
        Ok(b) => b,
        Err(e) => return check_refusal(&e),
    };
    let draft = new_bill(&body, "COLL0001".into());
    if !draft.errors.is_empty() {
        check_refusal(&ApiError::Validation(draft.errors));
    }
    check(bill_patch(&body));
    check(new_collection(&body));
    check(collection_patch(&body));
    check(new_product(&body));
    check(product_patch(&body, Some("MYR")));
    check(product_patch(&body, None));
    check(new_customer(&body));
    check(customer_patch(&body, "ACC-1"));
});
