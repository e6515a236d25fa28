//! Hostile input, as properties `cargo test` runs (the fuzz targets in `fuzz/` run the same
//! checks by hand, for minutes): amount text is read exactly or refused, never rounded, never a
//! panic; no signature verifier accepts a mutated message, a mutated signature or another key.

// Tests may panic on a broken expectation and index what they just built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use billhub_core::money::multiply;
use billhub_core::signature::{csq, ipg, raudhahpay};
use billhub_core::{Currency, Money, MoneyError};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(Currency::ALL.to_vec())
}

/// Text a partner might send as an amount: decimals of every length and sign, exponent and
/// float-noise forms, stray spaces and separators, and anything at all.
fn amount_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+-]?[0-9]{0,22}(\\.[0-9]{0,8})?",
        "[ \t]?-?[0-9]{1,9}\\.[0-9]{1,3}[ \t]?",
        "-?[0-9]{1,4}(\\.[0-9]{1,4})?[eE][+-]?[0-9]{1,3}",
        "[0-9]{1,3}(,[0-9]{3}){1,3}(\\.[0-9]{2})?",
        "[0-9]{1,8}\\.[0-9]{2}(9{12,15}[0-9]|0{12,15}[1-9])",
        "[0-9.+-]{0,12}",
        any::<String>(),
    ]
}

/// Whether `text` is a decimal with 15 or more significant digits (the float-noise form).
fn long_decimal(text: &str) -> bool {
    text.trim()
        .trim_start_matches(['+', '-'])
        .trim_start_matches(['0', '.'])
        .bytes()
        .filter(u8::is_ascii_digit)
        .count()
        >= 15
}

/// An accepted amount: writes back as the same amount, and is the value written (or within
/// 1e-9 relative of it when the text has 15 or more significant digits: binary-float noise).
fn check_accepted(text: &str, m: Money, cur: Currency) -> Result<(), TestCaseError> {
    prop_assert_eq!(m.currency(), cur);
    prop_assert_eq!(Money::parse(&m.to_fixed_string(), cur), Ok(m));
    prop_assert_eq!(Money::parse(&m.to_plain_string(), cur), Ok(m));
    if let Ok(exact) = Decimal::from_str_exact(text.trim()) {
        let got = m.to_decimal();
        if exact != got {
            prop_assert!(long_decimal(text), "{:?} read as {}", text, got);
            prop_assert!(
                (exact - got).abs() <= exact.abs() * Decimal::new(1, 9),
                "{:?} read as {}",
                text,
                got
            );
        }
    }
    Ok(())
}

proptest! {
    // A failure is written down as a plain #[test] (see the regression tests here), not as
    // a regressions file beside this one.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(2000)
    })]

    #[test]
    fn amount_text_is_read_exactly_or_refused(text in amount_text(), cur in currency()) {
        match Money::parse(&text, cur) {
            Ok(m) => check_accepted(&text, m, cur)?,
            Err(MoneyError::TooPrecise { exponent, .. }) => {
                prop_assert_eq!(exponent, cur.exponent());
                // Refused for its decimals: the value written has more than the currency has.
                if let Ok(exact) = Decimal::from_str_exact(text.trim()) {
                    prop_assert!(exact.normalize().scale() > cur.exponent(), "{:?}", text);
                }
            }
            Err(MoneyError::Overflow | MoneyError::NotANumber(_)) => {}
            Err(other) => prop_assert!(false, "{:?} refused as {:?}", text, other),
        }
    }

    #[test]
    fn a_plain_decimal_within_the_currency_is_always_accepted(
        units in -99_999_999_999i64..99_999_999_999,
        fraction in 0u32..1000,
        zeros in 0usize..4,
        cur in currency(),
    ) {
        let e = cur.exponent();
        let frac = fraction % 10u32.pow(e);
        let text = if e == 0 {
            units.to_string()
        } else {
            let digits = usize::try_from(e).unwrap();
            let sign = if units < 0 { "-" } else { "" };
            format!("{sign}{}.{frac:0digits$}{}", units.unsigned_abs(), "0".repeat(zeros))
        };
        let m = Money::parse(&text, cur).unwrap();
        let magnitude = i64::try_from(units.unsigned_abs()).unwrap() * 10i64.pow(e) + i64::from(frac);
        prop_assert_eq!(m.minor(), if units < 0 { -magnitude } else { magnitude });
    }

    #[test]
    fn a_line_total_is_the_exact_product_or_refused(
        qty in "[0-9]{1,6}(\\.[0-9]{1,4})?",
        price in amount_text(),
        cur in currency(),
    ) {
        let q = Decimal::from_str_exact(&qty).unwrap();
        if let Ok(p) = Money::parse(&price, cur) {
            match multiply(q, p) {
                Ok(total) => prop_assert_eq!(
                    Some(total.to_decimal().normalize()),
                    q.checked_mul(p.to_decimal()).map(|d| d.normalize())
                ),
                Err(MoneyError::TooPrecise { .. } | MoneyError::Overflow) => {}
                Err(other) => prop_assert!(false, "{:?}", other),
            }
        }
    }

    #[test]
    fn ipg_never_accepts_a_mutated_request(
        key in ".{0,80}",
        body in prop::collection::vec(any::<u8>(), 0..300),
        query in "[a-z_=&0-9%]{0,60}",
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        supplied in prop_oneof!["[0-9a-fA-F]{64}", ".{0,70}"],
    ) {
        let sig = ipg::sign(&key, &body, &query);
        prop_assert!(ipg::verify(&key, &body, &query, &sig));
        let spaced_upper = format!(" {} ", sig.to_uppercase());
        prop_assert!(ipg::verify(&key, &body, &query, &spaced_upper));
        // Anything else the partner sends as the signature is refused.
        if supplied.trim().to_ascii_lowercase() != sig {
            prop_assert!(!ipg::verify(&key, &body, &query, &supplied));
        }
        if body.is_empty() {
            let mut q = query.clone().into_bytes();
            q.push(b'x');
            prop_assert!(!ipg::verify(&key, &body, &String::from_utf8(q).unwrap(), &sig));
        } else {
            let mut mutated = body.clone();
            mutated[at.index(body.len())] ^= 1 << bit;
            prop_assert!(!ipg::verify(&key, &mutated, &query, &sig));
            let mut shorter = body.clone();
            shorter.pop();
            if !shorter.is_empty() {
                prop_assert!(!ipg::verify(&key, &shorter, &query, &sig));
            }
        }
        let mut bad = sig.clone().into_bytes();
        let i = at.index(bad.len());
        bad[i] = if bad[i] == b'0' { b'1' } else { b'0' };
        prop_assert!(!ipg::verify(&key, &body, &query, &String::from_utf8(bad).unwrap()));
        let other_key = format!("{key}x");
        prop_assert!(!ipg::verify(&other_key, &body, &query, &sig));
        prop_assert!(!ipg::verify(&key, &body, &query, &sig[..63]));
        prop_assert!(!ipg::verify(&key, &body, &query, ""));
    }

    #[test]
    fn raudhahpay_never_accepts_a_mutated_callback(
        key in ".{0,40}",
        fields in prop::collection::btree_map("[a-z_]{1,12}", ".{0,30}", 0..10),
        at in any::<prop::sample::Index>(),
        extra in ".{1,5}",
    ) {
        let fields: Vec<(String, String)> =
            fields.into_iter().filter(|(k, _)| k != "signature").collect();
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let sig = raudhahpay::sign(&key, pairs.iter().copied());
        let mut signed = pairs.clone();
        signed.push(("signature", &sig));
        prop_assert!(raudhahpay::verify(&key, signed.iter().copied()));
        prop_assert!(!raudhahpay::verify(&key, pairs.iter().copied()));
        let other_key = format!("{key}x");
        prop_assert!(!raudhahpay::verify(&other_key, signed.iter().copied()));
        if !fields.is_empty() {
            let i = at.index(fields.len());
            let changed = format!("{}{extra}", fields[i].1);
            let mut mutated = signed.clone();
            mutated[i].1 = &changed;
            prop_assert!(!raudhahpay::verify(&key, mutated.iter().copied()));
            let mut dropped = signed.clone();
            dropped.remove(i);
            prop_assert!(!raudhahpay::verify(&key, dropped.iter().copied()));
        }
        let mut added = signed.clone();
        added.push(("zz_added", &extra));
        prop_assert!(!raudhahpay::verify(&key, added.iter().copied()));
    }

    #[test]
    fn csq_never_accepts_another_salt_or_hash(
        password in ".{0,40}",
        skew in -30i64..=30,
        other_st in "[0-9]{1,12}|.{0,14}",
        sh in ".{0,70}",
        at in any::<prop::sample::Index>(),
    ) {
        let now = 1_796_443_200i64;
        let stored = csq::password_hash(&password);
        let st = (now + skew).to_string();
        let good = csq::salted_hash(&password, &st);
        prop_assert_eq!(csq::verify(&stored, &st, &good, now, 30), Ok(()));
        // Whatever a terminal sends: accepted only with the right SH for its own ST.
        if csq::verify(&stored, &other_st, &sh, now, 30).is_ok() {
            prop_assert_eq!(sh.trim().to_ascii_lowercase(), csq::salted_hash(&password, &other_st));
        }
        if other_st != st {
            prop_assert!(csq::verify(&stored, &other_st, &good, now, 30).is_err());
        }
        let mut bad = good.clone().into_bytes();
        let i = at.index(bad.len());
        bad[i] = if bad[i] == b'a' { b'b' } else { b'a' };
        prop_assert_eq!(
            csq::verify(&stored, &st, &String::from_utf8(bad).unwrap(), now, 30),
            Err(csq::CsqAuthError::BadHash)
        );
        let other = csq::password_hash(&format!("{password}x"));
        prop_assert!(csq::verify(&other, &st, &good, now, 30).is_err());
    }
}
