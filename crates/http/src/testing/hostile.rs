//! Hostile request bodies for the gateways' property tests (feature `testing`): partners'
//! number and string spellings, hostile ones included, any JSON keyed mostly by a dialect's own
//! field names, and valid requests with fields replaced or removed.

use actix_web::HttpResponse;
use actix_web::body::MessageBody;
use proptest::prelude::*;
use serde_json::{Number, Value};

/// Number text as clients write it: whole, decimal, exponent, huge, negative, float noise.
pub fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,12})?([eE][+-]?[0-9]{1,3})?",
        "(0|[1-9][0-9]{0,8})\\.[0-9]{2}(9{10,14}[0-9]|0{10,14}[1-9])",
    ]
    .prop_filter_map("valid JSON number", |t| t.parse::<Number>().ok())
}

/// Strings as partners send them, hostile ones included (NUL, dates out of range, digits).
pub fn string() -> impl Strategy<Value = String> {
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

pub fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        string().prop_map(Value::String),
    ]
}

/// Any JSON value, objects keyed mostly by the dialect's own field names.
pub fn value(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(keys), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

pub fn key(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(keys).prop_map(str::to_string),
        1 => "[a-z_]{1,10}|.{0,4}",
    ]
}

/// A valid request with some of its fields replaced by hostile values or removed.
pub fn mutated(seed: Value, keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
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
pub fn body(seed: Value, keys: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..200),
        2 => value(keys).prop_map(|v| v.to_string().into_bytes()),
        4 => mutated(seed, keys).prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// A rendered answer's status and JSON body.
pub fn rendered(resp: HttpResponse) -> (u16, Value) {
    let status = resp.status().as_u16();
    let Ok(bytes) = resp.into_body().try_into_bytes() else {
        panic!("the answer's body is a stream, not bytes");
    };
    match serde_json::from_slice(&bytes) {
        Ok(v) => (status, v),
        Err(e) => panic!(
            "the answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}
