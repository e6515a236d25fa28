//! The dialects' signature schemes, as pure functions with a signer and a verifier each.
//! Every verifier compares in constant time. Known-answer vectors (`shared/vectors.json`) are
//! replayed in each module's tests.

pub mod csq;
pub mod ipg;
pub mod raudhahpay;
pub mod snap;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lowercase hex HMAC-SHA256.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

#[cold]
fn unreachable_hmac() -> ! {
    // `Hmac::new_from_slice` never fails (any key length is valid for HMAC).
    panic!("HMAC rejected a key")
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Constant-time comparison of two hex strings, case-insensitive on the supplied one.
pub fn hex_eq(expected: &str, supplied: &str) -> bool {
    let supplied = supplied.trim().to_ascii_lowercase();
    expected.len() == supplied.len() && bool::from(expected.as_bytes().ct_eq(supplied.as_bytes()))
}
