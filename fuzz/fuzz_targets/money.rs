//! Amount parsing: core's `Money::parse` on any text, billhub-http's JSON amount readers on any
//! JSON, and `multiply` of any quantity by any price. Never a panic; an accepted amount writes
//! back to text that reads as the same amount, and is the value written (or, for a decimal of 15
//! or more significant digits, within 1e-9 relative of it: binary-float noise, issue 11).
#![no_main]

use billhub_core::money::multiply;
use billhub_core::{Currency, Money};
use billhub_fuzz::{currency, parts, text};
use billhub_http::json::{money_from_number, money_from_number_or_string};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

fn check_accepted(t: &str, m: Money, cur: Currency) {
    assert_eq!(m.currency(), cur);
    let fixed = m.to_fixed_string();
    assert_eq!(Money::parse(&fixed, cur), Ok(m), "{t:?} -> {fixed}");
    assert_eq!(Money::parse(&m.to_plain_string(), cur), Ok(m), "{t:?}");
    if let Ok(exact) = Decimal::from_str_exact(t.trim()) {
        let got = m.to_decimal();
        if exact != got {
            let digits = t.bytes().filter(u8::is_ascii_digit).count();
            let tolerance = exact.abs() * Decimal::new(1, 9);
            assert!(
                digits >= 15 && (exact - got).abs() <= tolerance,
                "{t:?} read as {got}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 3);
    let cur = currency(p[0].first().copied().unwrap_or(0));
    let amount = text(p[1]);
    if let Ok(m) = Money::parse(&amount, cur) {
        check_accepted(&amount, m, cur);
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(p[1]) {
        if let Ok(m) = money_from_number(&v, cur) {
            assert_eq!(Money::parse(&m.to_plain_string(), cur), Ok(m));
        }
        let _ = money_from_number_or_string(&v, cur);
    }
    if let (Ok(q), Ok(price)) = (
        Decimal::from_str_exact(&text(p[2])),
        Money::parse(&amount, cur),
    ) {
        if let Ok(total) = multiply(q, price) {
            // Exact: the product of the two decimals, no rounding.
            assert_eq!(
                Some(total.to_decimal().normalize()),
                q.checked_mul(price.to_decimal()).map(|d| d.normalize())
            );
        }
    }
});
