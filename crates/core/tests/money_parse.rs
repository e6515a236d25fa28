//! The one money parser ([`Money::parse`]) against what partners' clients really write: exponent
//! form from Java (`1.0E7`), binary-float noise from PHP (`20.199999999999996`), and hostile
//! text (huge exponents, long digit runs) that must be refused without a panic.

// Tests may panic on a broken expectation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use billhub_core::money::{FLOAT_NOISE_DIGITS, checked_sum_minor, parse_whole};
use billhub_core::{Currency, Money, MoneyError};
use proptest::prelude::*;

fn minor(text: &str, currency: Currency) -> Result<i64, MoneyError> {
    Money::parse(text, currency).map(|m| m.minor())
}

fn too_precise(text: &str, currency: Currency) -> bool {
    matches!(
        Money::parse(text, currency),
        Err(MoneyError::TooPrecise { .. })
    )
}

#[test]
fn the_issue_examples() {
    // PHP's `total - shipping` as WooCommerce sends it.
    assert_eq!(minor("20.199999999999996", Currency::MYR), Ok(2020));
    assert_eq!(minor("20.200000000000003", Currency::MYR), Ok(2020));
    // Real extra decimals stay refused.
    assert!(too_precise("10.505", Currency::MYR));
    assert!(too_precise("100000000.005", Currency::MYR));
    // Java doubles of 10,000,000 and more.
    assert_eq!(minor("1.0E7", Currency::KHR), Ok(1_000_000_000));
    assert_eq!(minor("1.5E-1", Currency::USD), Ok(15));
    assert!(too_precise("1.005E0", Currency::USD));
}

/// serde_json is built with `arbitrary_precision`: a JSON number reaches the parser with the
/// digits the client wrote (what `billhub_http::json` passes on), never through `f64`.
#[test]
fn json_numbers_arrive_as_written() {
    let body: serde_json::Value = serde_json::from_str(
        r#"{"khr": 1.0E7, "myr": 20.199999999999996, "usd": 1.5E-1, "odd": 10.505}"#,
    )
    .unwrap();
    let text = |k: &str| match &body[k] {
        serde_json::Value::Number(n) => n.to_string(),
        other => panic!("{other}"),
    };
    // serde_json keeps the digits and spells the exponent its own way.
    assert_eq!(text("khr"), "1.0e+7");
    assert_eq!(minor(&text("khr"), Currency::KHR), Ok(1_000_000_000));
    assert_eq!(minor(&text("myr"), Currency::MYR), Ok(2020));
    assert_eq!(minor(&text("usd"), Currency::USD), Ok(15));
    assert!(too_precise(&text("odd"), Currency::MYR));
}

#[test]
fn exponent_forms() {
    let table = [
        ("1E7", Currency::KHR, 1_000_000_000),
        ("1e7", Currency::KHR, 1_000_000_000),
        ("1.0e+7", Currency::KHR, 1_000_000_000),
        ("1.2345E4", Currency::USD, 1_234_500),
        ("12345E-2", Currency::USD, 12_345),
        ("-2.5E1", Currency::USD, -2_500),
        ("0E999999999999999999999", Currency::USD, 0),
        ("0.0E-999999999999999999999", Currency::USD, 0),
        ("5E0", Currency::JPY, 5),
        ("1.234E0", Currency::KWD, 1_234),
        ("  7.5E1 ", Currency::USD, 7_500),
    ];
    for (text, currency, expected) in table {
        assert_eq!(minor(text, currency), Ok(expected), "{text}");
    }
    assert!(too_precise("1.5E-1", Currency::JPY));
    assert!(too_precise("1E-3", Currency::USD));
}

#[test]
fn huge_exponents_and_long_texts_are_refused_without_panics() {
    assert_eq!(
        minor("1E999999999999999999999", Currency::USD),
        Err(MoneyError::Overflow)
    );
    assert_eq!(minor("1E17", Currency::USD), Err(MoneyError::Overflow));
    assert_eq!(minor("9.3E16", Currency::USD), Err(MoneyError::Overflow));
    assert!(too_precise("1E-999999999999999999999", Currency::USD));
    assert!(too_precise("1.99999999999999999E-99999999", Currency::USD));
    assert!(too_precise(
        "1.23456789012345678901234567890E-40",
        Currency::USD
    ));
    let tiny = format!("0.{}1", "0".repeat(100_000));
    assert!(too_precise(&tiny, Currency::USD));
    let noise_long = format!("5.{}1", "0".repeat(100_000));
    assert_eq!(minor(&noise_long, Currency::USD), Ok(500));
    let wide = format!("{}.00", "9".repeat(100_000));
    assert_eq!(minor(&wide, Currency::USD), Err(MoneyError::Overflow));
    assert_eq!(
        minor("92233720368547758.07", Currency::USD),
        Ok(i64::MAX),
        "the largest amount"
    );
    assert_eq!(
        minor("9.223372036854775807E16", Currency::USD),
        Ok(i64::MAX)
    );
    assert_eq!(
        minor("92233720368547758.08", Currency::USD),
        Err(MoneyError::Overflow)
    );
    assert_eq!(minor("-92233720368547758.08", Currency::USD), Ok(i64::MIN));
    assert_eq!(
        minor("-92233720368547758.09", Currency::USD),
        Err(MoneyError::Overflow)
    );
    for bad in [
        "", " ", "e5", "1e", "1e+", "1E-", ".", "-", "+", "1..0", "1.0.0", "1e5e5", "0x10",
        "1_000", "NaN", "inf", "1,5", "--1", "+-1", "1e5.0", "١٢", "1 000",
    ] {
        assert!(
            matches!(
                Money::parse(bad, Currency::USD),
                Err(MoneyError::NotANumber(_))
            ),
            "{bad:?}"
        );
    }
    assert_eq!(minor(".5", Currency::USD), Ok(50));
    assert_eq!(minor("5.", Currency::USD), Ok(500));
}

#[test]
fn float_noise_needs_fifteen_digits_and_one_billionth() {
    // 14 significant digits: not what float printing gives for a noisy value.
    assert!(too_precise("20.199999999999", Currency::MYR));
    // 15 digits, within 1e-9 of 20.20.
    assert_eq!(minor("20.1999999999999", Currency::MYR), Ok(2020));
    assert_eq!(FLOAT_NOISE_DIGITS, 15);
    // 17 digits but 1e-7 relative away from any amount.
    assert!(too_precise("20.199997999999996", Currency::MYR));
    // Trailing zeros are not significant: this is 10.505.
    assert!(too_precise("10.5050000000000000", Currency::MYR));
    // Exactly halfway between two amounts: refused, never rounded either way.
    assert!(too_precise("1000000000000.005", Currency::USD));
    // Noise around zero is no amount.
    assert!(too_precise(
        "0.000000000000000123456789012345",
        Currency::USD
    ));
    assert!(too_precise("5.55111512312578E-17", Currency::USD));
    // Noise just below one minor unit is that unit; negative values mirror positive ones.
    assert_eq!(minor("0.0099999999999999999", Currency::USD), Ok(1));
    assert_eq!(minor("-20.199999999999996", Currency::MYR), Ok(-2020));
    assert_eq!(minor("2.0199999999999996E1", Currency::MYR), Ok(2020));
    assert_eq!(
        minor("1.0000000000000002E7", Currency::KHR),
        Ok(1_000_000_000)
    );
    // Large amounts: 1e-9 relative, but never more than a thousandth of a minor unit away
    // (float noise of a few operations is ~1e-15 relative; a real 0.001 is not noise).
    assert_eq!(minor("123456.78000000001", Currency::USD), Ok(12_345_678));
    assert!(too_precise("123456.78001000001", Currency::USD));
    assert!(too_precise("123456.78200000001", Currency::USD));
    assert_eq!(
        minor("12345678.900000001", Currency::USD),
        Ok(1_234_567_890)
    );
    assert!(too_precise("12345678.901000001", Currency::USD));
    // Operator input is exact only.
    assert!(matches!(
        Money::parse_exact("20.199999999999996", Currency::MYR),
        Err(MoneyError::TooPrecise { .. })
    ));
    assert_eq!(
        Money::parse_exact("1.0E7", Currency::KHR).unwrap().minor(),
        1_000_000_000
    );
}

#[test]
fn whole_numbers_and_checked_sums() {
    assert_eq!(parse_whole("5000"), Ok(5000));
    assert_eq!(parse_whole("1.0E7"), Ok(10_000_000));
    assert_eq!(parse_whole("2.5e1"), Ok(25));
    assert!(matches!(
        parse_whole("1.5"),
        Err(MoneyError::TooPrecise { .. })
    ));
    assert!(matches!(
        parse_whole("2147483647.0000001"),
        Err(MoneyError::TooPrecise { .. })
    ));
    assert_eq!(parse_whole("1E19"), Err(MoneyError::Overflow));
    assert!(matches!(parse_whole("x"), Err(MoneyError::NotANumber(_))));

    let usd = |m: i64| Money::from_minor(m, Currency::USD);
    assert_eq!(
        Money::checked_sum(Currency::USD, [usd(1), usd(2), usd(3)]),
        Ok(usd(6))
    );
    assert_eq!(
        Money::checked_sum(Currency::USD, []),
        Ok(Money::zero(Currency::USD))
    );
    assert_eq!(
        Money::checked_sum(Currency::USD, [usd(i64::MAX), usd(1)]),
        Err(MoneyError::Overflow)
    );
    assert_eq!(
        Money::checked_sum(Currency::USD, [usd(1), Money::from_minor(1, Currency::EUR)]),
        Err(MoneyError::CurrencyMismatch("USD", "EUR"))
    );
    assert_eq!(checked_sum_minor([1, 2, 3]), Ok(6));
    assert_eq!(checked_sum_minor([i64::MIN, -1]), Err(MoneyError::Overflow));
    assert_eq!(usd(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
    assert_eq!(usd(5).checked_neg(), Ok(usd(-5)));
}

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(Currency::ALL.to_vec())
}

fn pow10(exponent: u32) -> f64 {
    f64::from(10u32.pow(exponent))
}

/// `digits` with a decimal point placed `decimals` from the right (zero-padded).
fn decimal_text(mut digits: String, decimals: usize) -> String {
    if decimals == 0 {
        return digits;
    }
    while digits.len() <= decimals {
        digits.insert(0, '0');
    }
    let (int, frac) = digits.split_at(digits.len() - decimals);
    format!("{int}.{frac}")
}

proptest! {
    /// An amount computed in binary floating point (`total - shipping`, a sum of prices) and
    /// printed as PHP, JavaScript, Python and Java print doubles (shortest round trip, plain or
    /// in exponent form) is read as the exact amount.
    #[test]
    fn float_arithmetic_reads_as_the_amount(
        total in 1i64..1_000_000_000,
        part in 0.0f64..0.5,
        cur in currency(),
    ) {
        let scale = pow10(cur.exponent());
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let shipping = (total as f64 * part) as i64;
        #[allow(clippy::cast_precision_loss)]
        let x = total as f64 / scale - shipping as f64 / scale;
        let expected = total - shipping;
        for text in [format!("{x}"), format!("{x:e}"), format!("{x:E}")] {
            prop_assert_eq!(minor(&text, cur), Ok(expected), "{}", text);
        }
    }

    /// A sum of float prices, as a cart total.
    #[test]
    fn float_sums_read_as_the_amount(prices in prop::collection::vec(1i64..10_000_000, 1..12)) {
        let cur = Currency::MYR;
        #[allow(clippy::cast_precision_loss)]
        let x: f64 = prices.iter().map(|p| *p as f64 / 100.0).sum();
        let expected: i64 = prices.iter().sum();
        prop_assert_eq!(minor(&format!("{x}"), cur), Ok(expected));
    }

    /// Every amount written exactly, plain or in any exponent form, reads back as itself.
    #[test]
    fn exact_amounts_in_every_form(m in any::<i64>(), shift in -30i32..30, cur in currency()) {
        let negative = m < 0;
        let digits = m.unsigned_abs().to_string();
        // m x 10^-exponent written as (digits x 10^-(exponent + shift)) E shift.
        let decimals = i32::try_from(cur.exponent()).unwrap() + shift;
        let mantissa = if decimals >= 0 {
            decimal_text(digits.clone(), usize::try_from(decimals).unwrap())
        } else {
            format!("{digits}{}", "0".repeat(usize::try_from(-decimals).unwrap()))
        };
        let sign = if negative { "-" } else { "" };
        for text in [format!("{sign}{mantissa}E{shift}"), format!("{sign}{mantissa}e{shift:+}")] {
            prop_assert_eq!(minor(&text, cur), Ok(m), "{}", text);
        }
    }

    /// A value with fewer than 15 significant digits and more decimals than the currency has is
    /// refused, plain or in exponent form.
    #[test]
    fn short_extra_decimals_are_refused(
        whole in 0i64..1_000_000,
        extra in 1usize..6,
        last in 1u8..10,
        cur in currency(),
    ) {
        let decimals = usize::try_from(cur.exponent()).unwrap() + extra;
        let digits = format!("{whole}{}{last}", "0".repeat(decimals - 1));
        let text = decimal_text(digits.trim_start_matches('0').to_string(), decimals);
        prop_assume!(text.chars().filter(char::is_ascii_digit).count() < FLOAT_NOISE_DIGITS + 1);
        prop_assert!(too_precise(&text, cur), "{}", text);
        prop_assert!(too_precise(&format!("{text}E0"), cur), "{}", text);
    }

    /// Noise around an amount is that amount only within 1e-9 of it, however many digits.
    #[test]
    fn noise_within_one_billionth_only(amount in 1i64..1_000_000, offset in 1u32..400_000_000) {
        // amount + (offset x 1e-9 + 1.234567e-10) minor units, 17+ significant digits: within
        // the tolerance (amount x 1e-9 minor units) exactly when offset < amount.
        let text = format!("{}.{:02}{offset:09}1234567", amount / 100, amount % 100);
        let parsed = minor(&text, Currency::USD);
        if i64::from(offset) < amount {
            prop_assert_eq!(parsed, Ok(amount), "{}", text);
        } else {
            prop_assert!(too_precise(&text, Currency::USD), "{}", text);
        }
    }

    /// Nothing panics, whatever the text.
    #[test]
    fn never_panics(text in "[-+0-9.eE ]{0,40}", cur in currency()) {
        let _ = Money::parse(&text, cur);
        let _ = parse_whole(&text);
    }

    #[test]
    fn never_panics_on_any_text(text in ".{0,40}", cur in currency()) {
        let _ = Money::parse(&text, cur);
    }
}
