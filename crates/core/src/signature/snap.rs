//! SNAP (Bank Indonesia's Standar Nasional Open API Pembayaran) signatures.
//!
//! - **B2B access token** (`POST /v1.0/access-token/b2b`): the bank signs
//!   `clientId|X-TIMESTAMP` with its RSA private key (SHA256withRSA, PKCS#1 v1.5) and sends the
//!   base64 signature in `X-SIGNATURE`; billhub verifies it with the public key registered for
//!   the bank's channel ([`verify_token_request`]).
//! - **Transactions** (symmetric): `X-SIGNATURE` = base64(HMAC-SHA512(client secret,
//!   `METHOD:PATH:accessToken:lowercase(hex(sha256(minified body))):X-TIMESTAMP`)), where PATH is
//!   the request's path with its query and no host, and the access token is sent without
//!   `Bearer` ([`string_to_sign`], [`sign`], [`verify`]).
//!
//! "Minified" is the body with the whitespace outside JSON strings removed ([`minify`]): banks
//! sign what `JSON.stringify` or `json_encode` makes of their object, and may send it pretty; the
//! server recomputes the minified form from the bytes received, never from a re-serialised
//! value (that would reorder keys and respell numbers).
//!
//! Known-answer vectors computed with openssl alone: `crates/core/tests/vectors/snap.sh`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Why a registered public key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "not an RSA public key in PEM (expected -----BEGIN PUBLIC KEY----- or -----BEGIN RSA PUBLIC KEY-----)"
    )]
    NotPem,
    #[error(
        "not an RSA private key in PEM (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"
    )]
    NotPrivatePem,
    #[error("the RSA key pair could not be generated")]
    Generate,
    #[error("the RSA key is {0} bits; SNAP needs at least 2048")]
    TooShort(usize),
}

/// A bank's registered RSA public key, parsed once.
#[derive(Debug, Clone)]
pub struct PublicKey(VerifyingKey<Sha256>);

/// The smallest RSA modulus accepted for a bank's key.
pub const MIN_KEY_BITS: usize = 2048;

impl PublicKey {
    /// Parses a PEM public key: SPKI (`BEGIN PUBLIC KEY`, what `openssl pkey -pubout` writes) or
    /// PKCS#1 (`BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        let pem = pem.trim();
        let key = rsa::PublicKey::from_public_key_pem(pem)
            .or_else(|_| rsa::PublicKey::from_pkcs1_pem(pem))
            .map_err(|_| KeyError::NotPem)?;
        let bits = rsa::traits::PublicKeyParts::size(&key) * 8;
        if bits < MIN_KEY_BITS {
            return Err(KeyError::TooShort(bits));
        }
        Ok(PublicKey(VerifyingKey::new(key)))
    }
}

/// A new RSA key pair for a bank (the demo's, a test's): (private key as PKCS#8 PEM, public key
/// as SPKI PEM). The caller brings the randomness, so this crate stays free of IO.
pub fn generate_key_pair<R: rsa::rand_core::TryCryptoRng + ?Sized>(
    rng: &mut R,
) -> Result<(String, String), KeyError> {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let private = rsa::PrivateKey::new(rng, MIN_KEY_BITS).map_err(|_| KeyError::Generate)?;
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| KeyError::Generate)?
        .to_string();
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| KeyError::Generate)?;
    Ok((private_pem, public_pem))
}

/// What the bank signs to get an access token.
pub fn token_string_to_sign(client_id: &str, timestamp: &str) -> String {
    format!("{client_id}|{timestamp}")
}

/// Client side (banks, tests, the demo): the base64 SHA256withRSA signature of
/// `clientId|X-TIMESTAMP` with a PEM private key (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1
/// `BEGIN RSA PRIVATE KEY`). PKCS#1 v1.5 is deterministic: the same inputs sign the same.
pub fn sign_token_request(
    private_key_pem: &str,
    client_id: &str,
    timestamp: &str,
) -> Result<String, KeyError> {
    let pem = private_key_pem.trim();
    let key = rsa::PrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| KeyError::NotPrivatePem)?;
    let signer = SigningKey::<Sha256>::new(key);
    let sig = signer
        .try_sign(token_string_to_sign(client_id, timestamp).as_bytes())
        .map_err(|_| KeyError::NotPrivatePem)?;
    Ok(STANDARD.encode(sig.to_vec()))
}

/// Server side: whether `signature` (base64) is the bank's SHA256withRSA signature of
/// `clientId|X-TIMESTAMP` under `key`.
pub fn verify_token_request(
    key: &PublicKey,
    client_id: &str,
    timestamp: &str,
    signature: &str,
) -> bool {
    let Ok(raw) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(raw.as_slice()) else {
        return false;
    };
    key.0
        .verify(token_string_to_sign(client_id, timestamp).as_bytes(), &sig)
        .is_ok()
}

/// The body with every whitespace character outside JSON strings removed; strings (escapes
/// included) are kept byte for byte. Not a validator: whatever is not JSON is minified the same
/// way and then fails to parse elsewhere.
pub fn minify(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
    out
}

/// The transactional string to sign.
pub fn string_to_sign(
    method: &str,
    path_and_query: &str,
    access_token: &str,
    body: &[u8],
    timestamp: &str,
) -> String {
    format!(
        "{}:{}:{}:{}:{}",
        method.to_ascii_uppercase(),
        path_and_query,
        access_token,
        super::sha256_hex(&minify(body)),
        timestamp
    )
}

fn hmac_sha512(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = match <Hmac<Sha512> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => super::unreachable_hmac(),
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Client side: the `X-SIGNATURE` of a transaction.
pub fn sign(
    client_secret: &str,
    method: &str,
    path_and_query: &str,
    access_token: &str,
    body: &[u8],
    timestamp: &str,
) -> String {
    let message = string_to_sign(method, path_and_query, access_token, body, timestamp);
    STANDARD.encode(hmac_sha512(client_secret.as_bytes(), message.as_bytes()))
}

/// Server side: whether `signature` (base64) is right for the transaction, in constant time.
pub fn verify(
    client_secret: &str,
    method: &str,
    path_and_query: &str,
    access_token: &str,
    body: &[u8],
    timestamp: &str,
    signature: &str,
) -> bool {
    let Ok(supplied) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let message = string_to_sign(method, path_and_query, access_token, body, timestamp);
    let expected = hmac_sha512(client_secret.as_bytes(), message.as_bytes());
    expected.len() == supplied.len() && bool::from(expected.ct_eq(&supplied))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::too_many_lines)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../tests/vectors/snap.json")).unwrap()
    }

    fn s<'a>(v: &'a Value, k: &str) -> &'a str {
        v[k].as_str().unwrap()
    }

    #[test]
    fn symmetric_known_answer() {
        let all = vectors();
        let v = &all["symmetric"];
        let body = s(v, "body").as_bytes();
        assert_eq!(minify(body), s(v, "minified_body").as_bytes());
        assert_eq!(
            crate::signature::sha256_hex(&minify(body)),
            s(v, "body_sha256_hex")
        );
        let sts = string_to_sign(
            s(v, "method"),
            s(v, "path"),
            s(v, "access_token"),
            body,
            s(v, "timestamp"),
        );
        assert_eq!(sts, s(v, "string_to_sign"));
        let sig = sign(
            s(v, "client_secret"),
            "POST",
            s(v, "path"),
            s(v, "access_token"),
            body,
            s(v, "timestamp"),
        );
        assert_eq!(sig, s(v, "signature"));
        let ok = |secret: &str, body: &[u8], ts: &str, sig: &str| {
            verify(
                secret,
                "POST",
                s(v, "path"),
                s(v, "access_token"),
                body,
                ts,
                sig,
            )
        };
        assert!(ok(s(v, "client_secret"), body, s(v, "timestamp"), &sig));
        // The minified body signs the same as the pretty one.
        assert!(ok(
            s(v, "client_secret"),
            s(v, "minified_body").as_bytes(),
            s(v, "timestamp"),
            &sig
        ));
        assert!(!ok("other-secret", body, s(v, "timestamp"), &sig));
        assert!(!ok(
            s(v, "client_secret"),
            body,
            "2026-12-05T10:01:03+07:00",
            &sig
        ));
        // A space inside a string is content: changing it breaks the signature.
        let altered = s(v, "body").replace("abc 123", "abc123");
        assert!(!ok(
            s(v, "client_secret"),
            altered.as_bytes(),
            s(v, "timestamp"),
            &sig
        ));
        assert!(!ok(
            s(v, "client_secret"),
            body,
            s(v, "timestamp"),
            "not base64!"
        ));
        assert!(!ok(s(v, "client_secret"), body, s(v, "timestamp"), ""));

        let e = &v["empty_body"];
        assert_eq!(
            string_to_sign(
                "get",
                s(e, "path"),
                s(v, "access_token"),
                b"",
                s(v, "timestamp")
            ),
            s(e, "string_to_sign")
        );
        assert_eq!(
            sign(
                s(v, "client_secret"),
                "GET",
                s(e, "path"),
                s(v, "access_token"),
                b"",
                s(v, "timestamp")
            ),
            s(e, "signature")
        );
    }

    #[test]
    fn token_known_answer() {
        let all = vectors();
        let v = &all["access_token_b2b"];
        let key =
            PublicKey::from_pem(include_str!("../../tests/vectors/snap-test-key.pub.pem")).unwrap();
        assert_eq!(
            token_string_to_sign(s(v, "client_id"), s(v, "timestamp")),
            s(v, "string_to_sign")
        );
        assert!(verify_token_request(
            &key,
            s(v, "client_id"),
            s(v, "timestamp"),
            s(v, "signature")
        ));
        assert_eq!(
            sign_token_request(
                include_str!("../../tests/vectors/snap-test-key.pem"),
                s(v, "client_id"),
                s(v, "timestamp")
            )
            .unwrap(),
            s(v, "signature")
        );
        assert_eq!(
            sign_token_request("nope", "a", "b").unwrap_err(),
            KeyError::NotPrivatePem
        );
        assert!(!verify_token_request(
            &key,
            "bank-client-0002",
            s(v, "timestamp"),
            s(v, "signature")
        ));
        assert!(!verify_token_request(
            &key,
            s(v, "client_id"),
            "2026-12-05T10:00:01+07:00",
            s(v, "signature")
        ));
        assert!(!verify_token_request(
            &key,
            s(v, "client_id"),
            s(v, "timestamp"),
            "AAAA"
        ));
        assert!(!verify_token_request(
            &key,
            s(v, "client_id"),
            s(v, "timestamp"),
            "%%%"
        ));
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(PublicKey::from_pem("hello").unwrap_err(), KeyError::NotPem);
        // The private key is not a public key.
        assert_eq!(
            PublicKey::from_pem(include_str!("../../tests/vectors/snap-test-key.pem")).unwrap_err(),
            KeyError::NotPem
        );
    }

    #[test]
    fn minify_keeps_strings() {
        assert_eq!(
            minify(b" { \"a\" : \"x \\\" y\" ,\n\t\"b\" : [ 1 , 2 ] } "),
            b"{\"a\":\"x \\\" y\",\"b\":[1,2]}".to_vec()
        );
        assert_eq!(minify(b"\"\\\\\" x"), b"\"\\\\\"x".to_vec());
        assert_eq!(minify(b""), Vec::<u8>::new());
    }
}
