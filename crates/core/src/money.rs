//! Money: an ISO 4217 [`Currency`] and an exact amount held as `i64` minor units.
//!
//! Conversion from a decimal refuses, never rounds: a value with more decimals than its currency
//! has (`10.505` USD) is [`MoneyError::TooPrecise`]; one that does not fit `i64` minor units is
//! [`MoneyError::Overflow`]. Trailing zeros are not "more decimals": `10.50` and `10.500` are fine.

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

    /// Exact conversion of a decimal amount in major units (`10.50` USD -> 1050).
    pub fn from_decimal(value: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        let normalized = value.normalize();
        if normalized.scale() > currency.exponent {
            return Err(MoneyError::TooPrecise {
                value: value.to_string(),
                currency: currency.code,
                exponent: currency.exponent,
            });
        }
        let factor = Decimal::from(10i64.pow(currency.exponent));
        let scaled = normalized.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        let minor = i64::try_from(scaled).map_err(|_| MoneyError::Overflow)?;
        Ok(Money { minor, currency })
    }

    /// Parses a decimal string in major units (`"134.00"`, `"5000"`, `"-1.5"`). Never via `f64`;
    /// exponent notation is refused.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let t = text.trim();
        let well_formed = !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
            && t.chars().any(|c| c.is_ascii_digit());
        if !well_formed {
            return Err(MoneyError::NotANumber(text.to_string()));
        }
        let d = Decimal::from_str_exact(t).map_err(|_| MoneyError::NotANumber(text.to_string()))?;
        Money::from_decimal(d, currency)
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
/// A result with more decimals than the currency has is refused, never rounded.
pub fn multiply(quantity: Decimal, unit_price: Money) -> Result<Money, MoneyError> {
    let total = quantity
        .checked_mul(unit_price.to_decimal())
        .ok_or(MoneyError::Overflow)?;
    Money::from_decimal(total, unit_price.currency)
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
        assert!(matches!(
            Money::parse("1e5", Currency::USD),
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
        assert_eq!(
            Money::zero(Currency::USD).checked_add(Money::zero(Currency::EUR)),
            Err(MoneyError::CurrencyMismatch("USD", "EUR"))
        );
    }
}
