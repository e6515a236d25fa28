//! Helpers shared by the fuzz targets: splitting one input into parts, a fixed `now`, and
//! reading a rendered error answer back as JSON to check it is the dialect's shape.

use actix_web::HttpResponse;
use actix_web::body::MessageBody;
use billhub_core::Currency;
use serde_json::Value;
use time::OffsetDateTime;

/// The parts of `data` separated by the byte 0xFF (never valid UTF-8, so a part that is text
/// cannot contain it), padded with empty parts to at least `n`.
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.split(|b| *b == 0xFF).collect();
    while out.len() < n {
        out.push(&[]);
    }
    out
}

/// A part as text (lossy: a fuzzer's bytes are rarely valid UTF-8, a partner's always are).
pub fn text(part: &[u8]) -> String {
    String::from_utf8_lossy(part).into_owned()
}

/// The server clock the decoders are given: 2026-12-05T04:00:00Z.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_796_443_200).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A currency picked by one byte.
pub fn currency(b: u8) -> Currency {
    let all = Currency::ALL;
    all[usize::from(b) % all.len()]
}

/// The JSON body of a rendered answer, with its status.
pub fn rendered(resp: HttpResponse) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = match resp.into_body().try_into_bytes() {
        Ok(b) => b,
        Err(_) => panic!("an error answer has a streaming body"),
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => (status, v),
        Err(e) => panic!("an error answer is not JSON ({e}): {bytes:?}"),
    }
}
