//! Account credit: money a payer left over (an `open` overpayment), kept per account and currency
//! and spent only by an operator (applied to bills or refunded). The store keeps the ledger and
//! asks [`spend_credit`] whether an amount may leave it.

use crate::rules::Rejection;

/// Takes `amount` (minor units) from an account's credit `balance` (minor units, same currency)
/// and returns the new balance. Refuses a non-positive amount (`NonPositiveAmount`) and an amount
/// above the balance (`InsufficientCredit { available }`, where `available` is the balance, never
/// negative).
pub fn spend_credit(balance: i64, amount: i64) -> Result<i64, Rejection> {
    if amount <= 0 {
        return Err(Rejection::NonPositiveAmount);
    }
    let available = balance.max(0);
    if amount > available {
        return Err(Rejection::InsufficientCredit { available });
    }
    available
        .checked_sub(amount)
        .ok_or(Rejection::InsufficientCredit { available })
}

/// The account credit after `amount` (an overpayment) is added to `balance`; refused with
/// [`Rejection::TooLarge`] when it would not fit an `i64` of minor units (never wrapped, and
/// never written so that a later read of the balance fails).
pub fn add_credit(balance: i64, amount: i64) -> Result<i64, Rejection> {
    if amount <= 0 {
        return Err(Rejection::NonPositiveAmount);
    }
    balance.checked_add(amount).ok_or(Rejection::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn adding_credit_that_does_not_fit_is_refused() {
        assert_eq!(add_credit(5, 7), Ok(12));
        assert_eq!(add_credit(-3, 7), Ok(4));
        assert_eq!(add_credit(0, 0), Err(Rejection::NonPositiveAmount));
        assert_eq!(add_credit(i64::MAX - 1, 1), Ok(i64::MAX));
        assert_eq!(add_credit(i64::MAX - 1, 2), Err(Rejection::TooLarge));
    }

    #[test]
    fn spending_table() {
        // (balance, amount, result)
        let table = [
            (1000, 1, Ok(999)),
            (1000, 400, Ok(600)),
            (1000, 1000, Ok(0)),
            (
                1000,
                1001,
                Err(Rejection::InsufficientCredit { available: 1000 }),
            ),
            (0, 1, Err(Rejection::InsufficientCredit { available: 0 })),
            (-5, 1, Err(Rejection::InsufficientCredit { available: 0 })),
            (1000, 0, Err(Rejection::NonPositiveAmount)),
            (1000, -1, Err(Rejection::NonPositiveAmount)),
            (1000, i64::MIN, Err(Rejection::NonPositiveAmount)),
            (i64::MAX, i64::MAX, Ok(0)),
            (
                i64::MIN,
                i64::MAX,
                Err(Rejection::InsufficientCredit { available: 0 }),
            ),
        ];
        for (balance, amount, result) in table {
            assert_eq!(
                spend_credit(balance, amount),
                result,
                "{balance} - {amount}"
            );
        }
    }

    proptest! {
        /// Credit never goes negative and what is spent is exactly what left the balance.
        #[test]
        fn never_negative(balance in any::<i64>(), amount in any::<i64>()) {
            match spend_credit(balance, amount) {
                Ok(after) => {
                    prop_assert!(after >= 0);
                    prop_assert!(amount > 0);
                    prop_assert_eq!(i128::from(after) + i128::from(amount), i128::from(balance));
                }
                Err(Rejection::NonPositiveAmount) => prop_assert!(amount <= 0),
                Err(Rejection::InsufficientCredit { available }) => {
                    prop_assert_eq!(available, balance.max(0));
                    prop_assert!(amount > available);
                }
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
