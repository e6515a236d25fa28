//! Exact JSON numbers for money at the dialects' edges (no `f64` anywhere).
//!
//! serde_json is built with `arbitrary_precision`, so a [`serde_json::Number`] keeps the exact
//! text of the number as sent, and one built from a string is written exactly.

use billhub_core::{Currency, Money, MoneyError};
use serde_json::{Number, Value};

/// A JSON number with the money's value in major units, without a needless fraction (`5000`,
/// `10.5`).
pub fn money_number(m: Money) -> Number {
    plain_number(&m.to_plain_string())
}

/// A JSON number from decimal text that is known to be valid (`"5000"`, `"10.5"`, `"-1"`).
pub fn plain_number(text: &str) -> Number {
    text.parse::<Number>().unwrap_or_else(|_| Number::from(0))
}

/// Why a JSON amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must be a number")]
    NotANumber,
    #[error("must be a number or a decimal string")]
    NotNumeric,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Reads a JSON number (exactly, as sent) as money of `currency`.
pub fn money_from_number(value: &Value, currency: Currency) -> Result<Money, AmountError> {
    match value {
        Value::Number(n) => Ok(Money::parse(&n.to_string(), currency)?),
        _ => Err(AmountError::NotANumber),
    }
}

/// Reads a JSON number or a decimal string as money of `currency`.
pub fn money_from_number_or_string(
    value: &Value,
    currency: Currency,
) -> Result<Money, AmountError> {
    match value {
        Value::Number(n) => Ok(Money::parse(&n.to_string(), currency)?),
        Value::String(s) => Ok(Money::parse(s, currency)?),
        _ => Err(AmountError::NotNumeric),
    }
}

/// The exact decimal text of a JSON number or decimal string (for quantities).
pub fn decimal_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.trim().to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::too_many_lines)]
    use super::*;

    #[test]
    fn exact_numbers() {
        let v: Value =
            serde_json::from_str(r#"{"a": 10.5, "b": 5000, "c": 0.1, "d": "10.00", "e": 10.505}"#)
                .unwrap();
        assert_eq!(
            money_from_number(&v["a"], Currency::USD).unwrap().minor(),
            1050
        );
        assert_eq!(
            money_from_number(&v["b"], Currency::KHR).unwrap().minor(),
            500000
        );
        assert_eq!(
            money_from_number(&v["c"], Currency::USD).unwrap().minor(),
            10
        );
        assert_eq!(
            money_from_number_or_string(&v["d"], Currency::MYR)
                .unwrap()
                .minor(),
            1000
        );
        assert!(money_from_number(&v["d"], Currency::MYR).is_err());
        assert!(money_from_number(&v["e"], Currency::USD).is_err());
        let out = serde_json::json!({ "x": money_number(Money::from_minor(1050, Currency::USD)), "y": money_number(Money::from_minor(500000, Currency::KHR)) });
        assert_eq!(out.to_string(), r#"{"x":10.5,"y":5000}"#);
    }
}
