//! Signature verification: IPG (va-gateway), RaudhahPay callbacks (collections) and CSQ
//! (postpaid). Never a panic; the right signature is accepted; a mutated message, a mutated
//! signature or another key is never accepted.
#![no_main]

use billhub_core::signature::{csq, ipg, raudhahpay};
use billhub_fuzz::{parts, text};
use libfuzzer_sys::fuzz_target;

fn flip(bytes: &[u8], at: u8) -> Option<Vec<u8>> {
    if bytes.is_empty() {
        return None;
    }
    let mut v = bytes.to_vec();
    let i = usize::from(at) % v.len();
    v[i] ^= 0x01;
    Some(v)
}

fn ipg_checks(key: &str, body: &[u8], query: &str, supplied: &str, at: u8) {
    let sig = ipg::sign(key, body, query);
    assert!(ipg::verify(key, body, query, &sig));
    if ipg::verify(key, body, query, supplied) {
        assert_eq!(supplied.trim().to_ascii_lowercase(), sig);
    }
    if let Some(mutated) = flip(body, at) {
        assert!(!ipg::verify(key, &mutated, query, &sig));
    } else if let Some(q) = flip(query.as_bytes(), at) {
        let q = String::from_utf8_lossy(&q).into_owned();
        if q != query {
            assert!(!ipg::verify(key, body, &q, &sig));
        }
    }
    let mut other = key.to_string();
    other.push('x');
    assert!(!ipg::verify(&other, body, query, &sig));
    let bad_sig = flip(sig.as_bytes(), at).map(|s| String::from_utf8_lossy(&s).into_owned());
    if let Some(bad) = bad_sig {
        assert!(!ipg::verify(key, body, query, &bad));
    }
}

fn raudhahpay_checks(key: &str, fields_text: &str, at: u8) {
    // Unique keys (a callback is one JSON object or form), none named `signature`.
    let mut fields: Vec<(String, String)> = Vec::new();
    for pair in fields_text.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != "signature" && !fields.iter().any(|(seen, _)| seen == k) {
            fields.push((k.to_string(), v.to_string()));
        }
    }
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let sig = raudhahpay::sign(key, borrowed.iter().copied());
    let mut signed = borrowed.clone();
    signed.push(("signature", sig.as_str()));
    assert!(raudhahpay::verify(key, signed.iter().copied()));
    assert!(!raudhahpay::verify(key, borrowed.iter().copied()));
    if fields.is_empty() {
        return;
    }
    let i = usize::from(at) % fields.len();
    let mut changed = fields.clone();
    changed[i].1.push('0');
    let mut mutated: Vec<(&str, &str)> = changed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    mutated.push(("signature", sig.as_str()));
    assert!(!raudhahpay::verify(key, mutated.iter().copied()));
}

fn csq_checks(password: &str, st_text: &str, sh: &str, at: u8) {
    let now = 1_796_443_200i64;
    let stored = csq::password_hash(password);
    // Whatever the terminal sends: no panic, and acceptance only with the right SH.
    if csq::verify(&stored, st_text, sh, now, 30).is_ok() {
        assert_eq!(
            sh.trim().to_ascii_lowercase(),
            csq::salted_hash(password, st_text)
        );
    }
    let st = (now + i64::from(at % 61) - 30).to_string();
    let good = csq::salted_hash(password, &st);
    assert_eq!(csq::verify(&stored, &st, &good, now, 30), Ok(()));
    let later = (now + i64::from(at % 61) - 29).to_string();
    assert!(csq::verify(&stored, &later, &good, now, 30).is_err());
    let mut other = password.to_string();
    other.push('x');
    assert!(csq::verify(&csq::password_hash(&other), &st, &good, now, 30).is_err());
}

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 5);
    let at = p[0].first().copied().unwrap_or(0);
    let key = text(p[1]);
    let query = text(p[3]);
    let supplied = text(p[4]);
    ipg_checks(&key, p[2], &query, &supplied, at);
    raudhahpay_checks(&key, &text(p[2]), at);
    csq_checks(&key, &query, &supplied, at);
});
