//! Money: an ISO 4217 [`Currency`] and an exact amount held as `i64` minor units.
//!
//! Conversion from a decimal refuses, never rounds: a value with more decimals than its currency
//! has (`10.505` USD) is [`MoneyError::TooPrecise`]; one that does not fit `i64` minor units is
//! [`MoneyError::Overflow`]. Trailing zeros are not "more decimals": `10.50` and `10.500` are fine.
//!
//! [`Money::parse`] is the one parser of amounts written by partners, for every dialect: exponent
//! form (`1.0E7`) is read when exact, and binary-float noise (`20.199999999999996`, at least
//! [`FLOAT_NOISE_DIGITS`] significant digits within 1e-9 relative, and within a thousandth of a
//! minor unit, of an amount) is that amount.
//! Every `i64` operation here is checked; sums go through [`Money::checked_sum`] or
//! [`checked_sum_minor`].

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an amount or currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency `{0}`")]
    UnknownCurrency(String),
    #[error("`{value}` has more decimals than {currency} allows ({exponent})")]
    TooPrecise {
        value: String,
        currency: &'static str,
        exponent: u32,
    },
    #[error("amount out of range")]
    Overflow,
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(&'static str, &'static str),
}

/// An ISO 4217 currency with its minor-unit exponent.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u32,
}

impl Currency {
    pub const USD: Currency = Currency {
        code: "USD",
        exponent: 2,
    };
    pub const KHR: Currency = Currency {
        code: "KHR",
        exponent: 2,
    };
    pub const MYR: Currency = Currency {
        code: "MYR",
        exponent: 2,
    };
    pub const IDR: Currency = Currency {
        code: "IDR",
        exponent: 2,
    };
    pub const EUR: Currency = Currency {
        code: "EUR",
        exponent: 2,
    };
    pub const SGD: Currency = Currency {
        code: "SGD",
        exponent: 2,
    };
    pub const THB: Currency = Currency {
        code: "THB",
        exponent: 2,
    };
    pub const GBP: Currency = Currency {
        code: "GBP",
        exponent: 2,
    };
    pub const PHP: Currency = Currency {
        code: "PHP",
        exponent: 2,
    };
    pub const VND: Currency = Currency {
        code: "VND",
        exponent: 0,
    };
    pub const JPY: Currency = Currency {
        code: "JPY",
        exponent: 0,
    };
    pub const KRW: Currency = Currency {
        code: "KRW",
        exponent: 0,
    };
    pub const BHD: Currency = Currency {
        code: "BHD",
        exponent: 3,
    };
    pub const KWD: Currency = Currency {
        code: "KWD",
        exponent: 3,
    };

    /// Every currency billhub knows, in code order.
    pub const ALL: [Currency; 14] = [
        Self::BHD,
        Self::EUR,
        Self::GBP,
        Self::IDR,
        Self::JPY,
        Self::KHR,
        Self::KRW,
        Self::KWD,
        Self::MYR,
        Self::PHP,
        Self::SGD,
        Self::THB,
        Self::USD,
        Self::VND,
    ];

    /// Looks an upper-case ISO 4217 code up.
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.code == code)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Number of decimals of the minor unit (2 for USD, 0 for JPY, 3 for KWD).
    pub fn exponent(&self) -> u32 {
        self.exponent
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::from_code(&s).map_err(serde::de::Error::custom)
    }
}

/// An exact amount of one currency, in minor units.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Exact conversion of a decimal amount in major units (`10.50` USD -> 1050). Never
    /// rounds: more decimals than the currency has is [`MoneyError::TooPrecise`].
    pub fn from_decimal(value: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        let normalized = value.normalize();
        let too_precise = || MoneyError::TooPrecise {
            value: value.to_string(),
            currency: currency.code,
            exponent: currency.exponent,
        };
        let shift = currency
            .exponent
            .checked_sub(normalized.scale())
            .ok_or_else(too_precise)?;
        let factor = 10i128.checked_pow(shift).ok_or(MoneyError::Overflow)?;
        let minor = normalized
            .mantissa()
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        let minor = i64::try_from(minor).map_err(|_| MoneyError::Overflow)?;
        Ok(Money { minor, currency })
    }

    /// Parses an amount in major units as the partners write it: `"134.00"`, `"5000"`,
    /// `"-1.5"`, and in exponent form (`"1.0E7"`, as Java writes doubles) when exact. Never
    /// via `f64`.
    ///
    /// More decimals than the currency has is refused ([`MoneyError::TooPrecise`]: `10.505` USD)
    /// with one exception, binary-float noise: a number written with at least
    /// [`FLOAT_NOISE_DIGITS`] significant digits that lies within 1e-9 relative (and within a
    /// thousandth of a minor unit) of an amount of the currency is that amount (PHP's `20.199999999999996` MYR is 20.20). A value
    /// exactly halfway between two amounts is refused. Out-of-range values (however large the
    /// exponent) are [`MoneyError::Overflow`], with no allocation beyond the text's size.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let written =
            Written::scan(text).ok_or_else(|| MoneyError::NotANumber(text.to_string()))?;
        let minor = written
            .to_minor(currency.exponent, true)
            .map_err(|e| e.into_money_error(text, currency))?;
        Ok(Money { minor, currency })
    }

    /// Like [`Money::parse`], but exact only: no float-noise tolerance (for amounts an
    /// operator types).
    pub fn parse_exact(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let written =
            Written::scan(text).ok_or_else(|| MoneyError::NotANumber(text.to_string()))?;
        let minor = written
            .to_minor(currency.exponent, false)
            .map_err(|e| e.into_money_error(text, currency))?;
        Ok(Money { minor, currency })
    }

    /// The sum of `amounts`, all of `currency`: a mismatched currency or an `i64` overflow is
    /// an error, never a wrapped or saturated total. The empty sum is zero.
    pub fn checked_sum<I>(currency: Currency, amounts: I) -> Result<Money, MoneyError>
    where
        I: IntoIterator<Item = Money>,
    {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount in major units with exactly the currency's decimals (`134.00`).
    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent)
    }

    /// The amount written with the currency's decimals: `"134.00"`, `"5000"` for JPY.
    pub fn to_fixed_string(&self) -> String {
        self.to_decimal().to_string()
    }

    /// The amount without a needless fraction: `5000`, `10.5` (the JSON-number dialects).
    pub fn to_plain_string(&self) -> String {
        self.to_decimal().normalize().to_string()
    }

    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// The opposite amount (`i64::MIN` minor units has none).
    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_neg().ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(
                self.currency.code,
                other.currency.code,
            ))
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_fixed_string(), self.currency.code)
    }
}

/// Exact decimal multiplication `qty x unit price` as money of the price's currency.
/// A result with more decimals than the currency has is refused, never rounded; one that does
/// not fit is [`MoneyError::Overflow`]. Computed on integers (the quantity's mantissa times the
/// price's minor units), so no intermediate decimal is ever rounded.
pub fn multiply(quantity: Decimal, unit_price: Money) -> Result<Money, MoneyError> {
    let q = quantity.normalize();
    let product = q
        .mantissa()
        .checked_mul(i128::from(unit_price.minor))
        .ok_or(MoneyError::Overflow)?;
    let divisor = 10i128.checked_pow(q.scale()).ok_or(MoneyError::Overflow)?;
    let (whole, rest) = (
        product.checked_div(divisor).ok_or(MoneyError::Overflow)?,
        product.checked_rem(divisor).ok_or(MoneyError::Overflow)?,
    );
    if rest != 0 {
        return Err(MoneyError::TooPrecise {
            value: format!("{q} x {}", unit_price.to_decimal()),
            currency: unit_price.currency.code,
            exponent: unit_price.currency.exponent,
        });
    }
    let minor = i64::try_from(whole).map_err(|_| MoneyError::Overflow)?;
    Ok(Money::from_minor(minor, unit_price.currency))
}

/// The sum of minor-unit amounts (of one currency), or [`MoneyError::Overflow`]: for sums the
/// store and the rules make over `i64` columns.
pub fn checked_sum_minor<I>(amounts: I) -> Result<i64, MoneyError>
where
    I: IntoIterator<Item = i64>,
{
    amounts.into_iter().try_fold(0i64, |sum, a| {
        sum.checked_add(a).ok_or(MoneyError::Overflow)
    })
}

/// A whole number as partners write integers: `"5000"`, `"+12"`, or in exponent form when
/// exact (`"1.0E7"`, `"2.5e1"`). A fraction is [`MoneyError::TooPrecise`] (`"1.5"`), beyond
/// `i64` is [`MoneyError::Overflow`]. For integer amounts such as CSQ's `...X100`.
pub fn parse_whole(text: &str) -> Result<i64, MoneyError> {
    let written = Written::scan(text).ok_or_else(|| MoneyError::NotANumber(text.to_string()))?;
    written.to_minor(0, false).map_err(|e| match e {
        Inexact::TooPrecise => MoneyError::TooPrecise {
            value: text.trim().to_string(),
            currency: "whole number",
            exponent: 0,
        },
        Inexact::Overflow => MoneyError::Overflow,
    })
}

/// How many significant digits a number must be written with to be read as binary-float noise
/// around an amount (see [`Money::parse`]): shortest-round-trip printing of an `f64` gives 15 to
/// 17 where the value is not short.
pub const FLOAT_NOISE_DIGITS: usize = 15;

/// Relative tolerance of the float-noise rule, as a power of ten: within 1e-9 of the amount.
const FLOAT_NOISE_TOLERANCE_DIGITS: usize = 9;

/// How far below a minor unit the first significant digit may sit before a number is simply
/// too small to be noise around a non-zero amount (bounds the work on `1E-999999999`).
const MAX_SUBUNIT_DIGITS: usize = 30;

/// Why [`Written::to_minor`] found no amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inexact {
    TooPrecise,
    Overflow,
}

impl Inexact {
    fn into_money_error(self, text: &str, currency: Currency) -> MoneyError {
        match self {
            Inexact::TooPrecise => MoneyError::TooPrecise {
                value: text.trim().to_string(),
                currency: currency.code,
                exponent: currency.exponent,
            },
            Inexact::Overflow => MoneyError::Overflow,
        }
    }
}

/// A decimal number as written: `digits x 10^-scale`, with `digits` free of leading and
/// trailing zeros (empty for zero).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Written {
    negative: bool,
    /// Decimal digit values (0..=9), most significant first.
    digits: Vec<u8>,
    scale: i64,
}

/// Exponents are clamped to this magnitude: any non-zero number beyond it is out of range.
const EXPONENT_CLAMP: i64 = 1_000_000_000_000;

impl Written {
    /// `[+-] (digits [. [digits]] | . digits) [(e|E) [+-] digits]`, surrounding white space
    /// ignored. `None` for anything else.
    fn scan(text: &str) -> Option<Written> {
        let t = text.trim().as_bytes();
        let (negative, rest) = match t.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, t),
        };
        let (mantissa, exponent) = match rest.iter().position(|b| matches!(b, b'e' | b'E')) {
            Some(i) => (rest.get(..i)?, Some(rest.get(i + 1..)?)),
            None => (rest, None),
        };
        let (int, frac) = match mantissa.iter().position(|b| *b == b'.') {
            Some(i) => (mantissa.get(..i)?, mantissa.get(i + 1..)?),
            None => (mantissa, &[][..]),
        };
        let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
        if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
            return None;
        }
        let exp = match exponent {
            None => 0,
            Some(e) => scan_exponent(e)?,
        };
        let mut digits: Vec<u8> = int.iter().chain(frac).map(|b| b - b'0').collect();
        let mut scale = i64::try_from(frac.len()).ok()?.saturating_sub(exp);
        let lead = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..lead);
        while digits.last() == Some(&0) {
            digits.pop();
            scale = scale.saturating_sub(1);
        }
        if digits.is_empty() {
            scale = 0;
        }
        Some(Written {
            negative,
            digits,
            scale,
        })
    }

    /// The value in minor units of a currency with `exponent` decimals: exact, or (when
    /// `float_noise`) the nearest amount if the number is float noise around it.
    fn to_minor(&self, exponent: u32, float_noise: bool) -> Result<i64, Inexact> {
        if self.digits.is_empty() {
            return Ok(0);
        }
        let beyond = self.scale.saturating_sub(i64::from(exponent));
        let magnitude = if beyond <= 0 {
            exact_magnitude(&self.digits, beyond.unsigned_abs())?
        } else if float_noise && self.digits.len() >= FLOAT_NOISE_DIGITS {
            noise_magnitude(&self.digits, beyond.unsigned_abs())?
        } else {
            return Err(Inexact::TooPrecise);
        };
        // In i128 so that i64::MIN (whose magnitude i64 cannot hold) reads back too.
        let signed = if self.negative {
            magnitude.checked_neg().ok_or(Inexact::Overflow)?
        } else {
            magnitude
        };
        i64::try_from(signed).map_err(|_| Inexact::Overflow)
    }
}

/// An exponent's digits, clamped to [`EXPONENT_CLAMP`].
fn scan_exponent(e: &[u8]) -> Option<i64> {
    let (negative, digits) = match e.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, e),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().try_fold(0i64, |acc, d| {
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .map(|v| v.min(EXPONENT_CLAMP))
    })?;
    Some(if negative { -value } else { value })
}

/// `digits` as an integer, or [`Inexact::Overflow`] beyond `i128` (callers narrow to `i64`).
fn integer(digits: &[u8]) -> Result<i128, Inexact> {
    digits.iter().try_fold(0i128, |acc, d| {
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(*d)))
            .ok_or(Inexact::Overflow)
    })
}

/// `digits x 10^shift` as an integer (no allocation for a large shift: it overflows first).
fn exact_magnitude(digits: &[u8], shift: u64) -> Result<i128, Inexact> {
    let base = integer(digits)?;
    let shift = u32::try_from(shift).map_err(|_| Inexact::Overflow)?;
    let factor = 10i128.checked_pow(shift).ok_or(Inexact::Overflow)?;
    base.checked_mul(factor).ok_or(Inexact::Overflow)
}

/// The amount (in minor units) that `digits x 10^-beyond` is binary-float noise around, if
/// any: the nearest whole number `a`, non-zero, with `|x - a| <= min(1e-9 x a, 0.001)`. A tie
/// is refused.
fn noise_magnitude(digits: &[u8], beyond: u64) -> Result<i128, Inexact> {
    let k = usize::try_from(beyond).map_err(|_| Inexact::TooPrecise)?;
    if k > digits.len().saturating_add(MAX_SUBUNIT_DIGITS) {
        return Err(Inexact::TooPrecise);
    }
    // x = whole + 0.fraction, the fraction `k` digits long (its last digit is not zero).
    let (whole, fraction): (&[u8], Vec<u8>) = match digits.len().checked_sub(k) {
        Some(split) => {
            let (w, f) = digits.split_at_checked(split).ok_or(Inexact::TooPrecise)?;
            (w, f.to_vec())
        }
        None => {
            let mut f = vec![0u8; k - digits.len()];
            f.extend_from_slice(digits);
            (&[][..], f)
        }
    };
    let whole = integer(whole)?;
    let first = fraction.first().copied().unwrap_or(0);
    let rest_zero = fraction.get(1..).is_none_or(|r| r.iter().all(|d| *d == 0));
    let (nearest, distance) = match first.cmp(&5) {
        std::cmp::Ordering::Less => (whole, fraction),
        std::cmp::Ordering::Equal if rest_zero => return Err(Inexact::TooPrecise),
        _ => (
            whole.checked_add(1).ok_or(Inexact::Overflow)?,
            complement(&fraction),
        ),
    };
    if nearest == 0 {
        return Err(Inexact::TooPrecise);
    }
    // Never more than a thousandth of a minor unit away, however large the amount: beyond
    // 10^6 minor units 1e-9 relative alone would read `12345678.901000001` USD as 12345678.90,
    // dropping a real 0.001 (float noise of a few operations is ~1e-15 relative).
    if fraction_cmp(&distance, &NOISE_CAP) == std::cmp::Ordering::Greater {
        return Err(Inexact::TooPrecise);
    }
    // |x - a| <= a / 10^9; the distance is below 1, so any a >= 10^9 passes. Otherwise
    // compare the distance's fraction digits with those of a / 10^9.
    if nearest >= 1_000_000_000 {
        return Ok(nearest);
    }
    let tolerance: Vec<u8> = format!("{nearest:0width$}", width = FLOAT_NOISE_TOLERANCE_DIGITS)
        .bytes()
        .map(|b| b - b'0')
        .collect();
    if fraction_cmp(&distance, &tolerance) == std::cmp::Ordering::Greater {
        Err(Inexact::TooPrecise)
    } else {
        Ok(nearest)
    }
}

/// The most float noise may differ from its amount, in minor units: 0.001.
const NOISE_CAP: [u8; 3] = [0, 0, 1];

/// The digits of `1 - 0.f` for a fraction `f` whose last digit is not zero.
fn complement(fraction: &[u8]) -> Vec<u8> {
    let last = fraction.len().saturating_sub(1);
    fraction
        .iter()
        .enumerate()
        .map(|(i, d)| if i == last { 10 - d } else { 9 - d })
        .collect()
}

/// Compares two decimal fractions given by their digits after the point.
fn fraction_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            x.cmp(&y)
        })
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn exact_conversion() {
        assert_eq!(
            Money::parse("134.00", Currency::MYR).unwrap().minor(),
            13400
        );
        assert_eq!(Money::parse("10.5", Currency::USD).unwrap().minor(), 1050);
        assert_eq!(Money::parse("10.500", Currency::USD).unwrap().minor(), 1050);
        assert_eq!(Money::parse("5000", Currency::JPY).unwrap().minor(), 5000);
        assert_eq!(Money::parse("1.234", Currency::KWD).unwrap().minor(), 1234);
        assert_eq!(Money::parse("-2.5", Currency::USD).unwrap().minor(), -250);
    }

    #[test]
    fn refuses_extra_decimals_and_overflow() {
        assert!(matches!(
            Money::parse("10.505", Currency::USD),
            Err(MoneyError::TooPrecise { exponent: 2, .. })
        ));
        assert!(matches!(
            Money::parse("0.5", Currency::JPY),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert_eq!(
            Money::parse("92233720368547758.08", Currency::USD),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::from_decimal(dec!(92233720368547758.07), Currency::USD)
                .unwrap()
                .minor(),
            i64::MAX
        );
        assert_eq!(
            Money::parse("1e5", Currency::USD).unwrap().minor(),
            10_000_000
        );
        assert!(matches!(
            Money::parse("1e", Currency::USD),
            Err(MoneyError::NotANumber(_))
        ));
        assert!(matches!(
            Money::parse("", Currency::USD),
            Err(MoneyError::NotANumber(_))
        ));
        assert!(matches!(
            Money::parse("abc", Currency::USD),
            Err(MoneyError::NotANumber(_))
        ));
    }

    #[test]
    fn formatting() {
        let m = Money::from_minor(500000, Currency::KHR);
        assert_eq!(m.to_fixed_string(), "5000.00");
        assert_eq!(m.to_plain_string(), "5000");
        assert_eq!(
            Money::from_minor(1050, Currency::USD).to_plain_string(),
            "10.5"
        );
        assert_eq!(
            Money::from_minor(0, Currency::USD).to_fixed_string(),
            "0.00"
        );
        assert_eq!(
            Money::from_minor(7, Currency::USD).to_fixed_string(),
            "0.07"
        );
        assert_eq!(
            Money::from_minor(5000, Currency::JPY).to_fixed_string(),
            "5000"
        );
    }

    #[test]
    fn currencies() {
        assert_eq!(Currency::from_code("IDR").unwrap().exponent(), 2);
        assert!(Currency::from_code("usd").is_err());
        assert!(Currency::from_code("XXX").is_err());
        for c in ["USD", "KHR", "MYR", "IDR", "EUR", "SGD", "THB"] {
            assert_eq!(Currency::from_code(c).unwrap().code(), c);
        }
    }

    #[test]
    fn line_total_exact() {
        let price = Money::parse("10.00", Currency::MYR).unwrap();
        assert_eq!(multiply(dec!(10), price).unwrap().minor(), 10000);
        assert_eq!(multiply(dec!(1.5), price).unwrap().minor(), 1500);
        let odd = Money::parse("0.33", Currency::MYR).unwrap();
        assert!(matches!(
            multiply(dec!(0.5), odd),
            Err(MoneyError::TooPrecise { .. })
        ));
        // A product finer than 28 decimals was rounded by `Decimal` (to 0 here): now refused.
        let cent = Money::from_minor(1, Currency::USD);
        assert!(matches!(
            multiply(dec!(0.0000000000000000000000000001), cent),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert_eq!(
            multiply(dec!(79228162514264337593543950335), cent),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            multiply(dec!(3), Money::from_minor(i64::MAX / 2, Currency::USD)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            multiply(dec!(-1.5), Money::from_minor(1000, Currency::JPY))
                .unwrap()
                .minor(),
            -1500
        );
        assert_eq!(
            Money::zero(Currency::USD).checked_add(Money::zero(Currency::EUR)),
            Err(MoneyError::CurrencyMismatch("USD", "EUR"))
        );
    }
}
