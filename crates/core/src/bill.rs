//! Bills, their payment rules, the accounts' settlement modes and the bill status machine.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::money::{Currency, Money, MoneyError};

/// The life of a bill. `expired` is reached when `valid_until` passes (see
/// [`Bill::status_at`]); `void` when it is revoked or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillStatus {
    Active,
    PartiallyPaid,
    Paid,
    Expired,
    Void,
}

impl BillStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            BillStatus::Active => "active",
            BillStatus::PartiallyPaid => "partially_paid",
            BillStatus::Paid => "paid",
            BillStatus::Expired => "expired",
            BillStatus::Void => "void",
        }
    }

    /// Whether a payment may be aimed at a bill in this status.
    pub fn is_payable(&self) -> bool {
        matches!(self, BillStatus::Active | BillStatus::PartiallyPaid)
    }
}

impl fmt::Display for BillStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub value: String,
}

impl FromStr for BillStatus {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "active" => BillStatus::Active,
            "partially_paid" => BillStatus::PartiallyPaid,
            "paid" => BillStatus::Paid,
            "expired" => BillStatus::Expired,
            "void" => BillStatus::Void,
            _ => {
                return Err(ParseEnumError {
                    what: "bill status",
                    value: s.to_string(),
                });
            }
        })
    }
}

/// How a payment aimed at one bill may be sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum PaymentRule {
    /// The whole outstanding, once.
    Exact,
    /// Any amount up to the outstanding and at least `minimum` (minor units), except that the
    /// whole outstanding is always allowed.
    Partial { minimum: Option<i64> },
    /// Any positive amount; the excess over the outstanding becomes account credit.
    Open,
}

impl PaymentRule {
    pub fn name(&self) -> &'static str {
        match self {
            PaymentRule::Exact => "exact",
            PaymentRule::Partial { .. } => "partial",
            PaymentRule::Open => "open",
        }
    }

    /// Builds a rule from its stored name and optional minimum (minor units).
    pub fn from_parts(name: &str, minimum: Option<i64>) -> Result<PaymentRule, ParseEnumError> {
        match name {
            "exact" => Ok(PaymentRule::Exact),
            "partial" => Ok(PaymentRule::Partial { minimum }),
            "open" => Ok(PaymentRule::Open),
            _ => Err(ParseEnumError {
                what: "payment rule",
                value: name.to_string(),
            }),
        }
    }

    pub fn minimum(&self) -> Option<i64> {
        match self {
            PaymentRule::Partial { minimum } => *minimum,
            _ => None,
        }
    }
}

/// How a payment aimed at an account (not at one bill) is spread over its bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SettlementMode {
    /// Exactly the whole outstanding of the account's payable bills.
    Total,
    /// Chosen bills, each paid its whole outstanding.
    Discrete,
    /// Any positive amount, allocated oldest first; the rest becomes account credit.
    #[default]
    Open,
}

impl SettlementMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            SettlementMode::Total => "total",
            SettlementMode::Discrete => "discrete",
            SettlementMode::Open => "open",
        }
    }
}

impl FromStr for SettlementMode {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "total" => Ok(SettlementMode::Total),
            "discrete" => Ok(SettlementMode::Discrete),
            "open" => Ok(SettlementMode::Open),
            _ => Err(ParseEnumError {
                what: "settlement mode",
                value: s.to_string(),
            }),
        }
    }
}

/// One line of a bill: `total = quantity x unit_price`, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineItem {
    pub name: String,
    pub quantity: Decimal,
    pub unit_price: Money,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineItemError {
    #[error("quantity must be positive")]
    NonPositiveQuantity,
    #[error("price must not be negative")]
    NegativePrice,
    #[error("total {claimed} is not quantity x price ({computed})")]
    TotalMismatch { claimed: String, computed: String },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl LineItem {
    /// Builds a line, computing its total exactly; when the caller claims a total, it must match.
    pub fn new(
        name: impl Into<String>,
        quantity: Decimal,
        unit_price: Money,
        claimed_total: Option<Money>,
    ) -> Result<LineItem, LineItemError> {
        if quantity <= Decimal::ZERO {
            return Err(LineItemError::NonPositiveQuantity);
        }
        if unit_price.minor() < 0 {
            return Err(LineItemError::NegativePrice);
        }
        let total = crate::money::multiply(quantity, unit_price)?;
        if let Some(claimed) = claimed_total
            && claimed != total
        {
            return Err(LineItemError::TotalMismatch {
                claimed: claimed.to_plain_string(),
                computed: total.to_plain_string(),
            });
        }
        Ok(LineItem {
            name: name.into(),
            quantity,
            unit_price,
            total,
        })
    }
}

/// Sum of line totals; all must share `currency`.
pub fn items_total(items: &[LineItem], currency: Currency) -> Result<Money, MoneyError> {
    items
        .iter()
        .try_fold(Money::zero(currency), |acc, i| acc.checked_add(i.total))
}

/// Why a bill's declared total disagrees with its line items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclaredTotalError {
    /// The items' totals cannot be added up (too large, or in another currency).
    #[error("the items' totals cannot be added up: {0}")]
    Sum(MoneyError),
    /// The declared total is not the sum of the items' totals.
    #[error("the total must equal the sum of the items' totals ({})", .sum.to_plain_string())]
    Mismatch { sum: Money },
}

/// A bill that lists items and declares its total: the total must be exactly the sum of the
/// items' totals (no items: nothing to check).
pub fn check_declared_total(items: &[LineItem], declared: Money) -> Result<(), DeclaredTotalError> {
    if items.is_empty() {
        return Ok(());
    }
    let sum = items_total(items, declared.currency()).map_err(DeclaredTotalError::Sum)?;
    if sum == declared {
        Ok(())
    } else {
        Err(DeclaredTotalError::Mismatch { sum })
    }
}

/// A bill as the rules see it. Amounts are minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bill {
    pub id: i64,
    pub organization_id: i64,
    pub account_id: i64,
    pub collection_id: Option<i64>,
    /// 8 characters, unguessable, unique in the whole store.
    pub public_no: String,
    pub invoice_number: String,
    pub ref1: String,
    pub ref2: String,
    pub name: String,
    pub description: String,
    pub currency: Currency,
    pub billed: i64,
    pub paid: i64,
    pub bill_date: Date,
    pub due_date: Option<Date>,
    pub valid_until: Option<OffsetDateTime>,
    pub rule: PaymentRule,
    /// The stored status; read [`Bill::status_at`] for what it is at a given instant.
    pub status: BillStatus,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Bill {
    /// What is still owed, never negative.
    pub fn outstanding(&self) -> i64 {
        // `paid` is never negative, so the difference always fits; saturating only guards a
        // corrupt row.
        self.billed.saturating_sub(self.paid).max(0)
    }

    pub fn billed_money(&self) -> Money {
        Money::from_minor(self.billed, self.currency)
    }

    pub fn paid_money(&self) -> Money {
        Money::from_minor(self.paid, self.currency)
    }

    pub fn outstanding_money(&self) -> Money {
        Money::from_minor(self.outstanding(), self.currency)
    }

    /// Whether `valid_until` has passed at `now` (a bill is valid up to and excluding it).
    pub fn is_past_validity(&self, now: OffsetDateTime) -> bool {
        self.valid_until.is_some_and(|v| now >= v)
    }

    /// The status at `now`: a payable bill past its `valid_until` is `expired`.
    pub fn status_at(&self, now: OffsetDateTime) -> BillStatus {
        if self.status.is_payable() && self.is_past_validity(now) {
            BillStatus::Expired
        } else {
            self.status
        }
    }

    /// The order in which account payments are allocated: oldest due date first (bills without
    /// a due date after those with one), then bill date, then creation, then id.
    pub fn allocation_key(&self) -> (bool, Option<Date>, Date, OffsetDateTime, i64) {
        (
            self.due_date.is_none(),
            self.due_date,
            self.bill_date,
            self.created_at,
            self.id,
        )
    }
}

/// Something that happens to a bill. Amounts are minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillTransition {
    Pay(i64),
    Reverse(i64),
    Expire,
    Void,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {action} a bill that is {from}")]
    Illegal {
        from: BillStatus,
        action: &'static str,
    },
    #[error("amount must be positive")]
    NonPositive,
    #[error("payment of {amount} exceeds the outstanding {outstanding}")]
    Overpaid { amount: i64, outstanding: i64 },
    #[error("reversal of {amount} exceeds what was paid ({paid})")]
    ReversalExceedsPaid { amount: i64, paid: i64 },
}

/// The one place the legal transitions live. Returns the new status and paid amount.
///
/// | from \ event   | pay            | reverse                     | expire  | void |
/// |----------------|----------------|-----------------------------|---------|------|
/// | active         | partial / paid | -                           | expired | void |
/// | partially_paid | partial / paid | active / partial            | expired | void |
/// | paid           | -              | active / partial            | -       | -    |
/// | expired        | -              | expired (money returned)    | -       | void |
/// | void           | -              | void (money returned)       | -       | -    |
pub fn transition(
    status: BillStatus,
    billed: i64,
    paid: i64,
    event: BillTransition,
) -> Result<(BillStatus, i64), TransitionError> {
    use BillStatus::*;
    let illegal = |action| {
        Err(TransitionError::Illegal {
            from: status,
            action,
        })
    };
    match event {
        BillTransition::Pay(amount) => {
            if !status.is_payable() {
                return illegal("pay");
            }
            if amount <= 0 {
                return Err(TransitionError::NonPositive);
            }
            let outstanding = billed.saturating_sub(paid).max(0);
            let overpaid = TransitionError::Overpaid {
                amount,
                outstanding,
            };
            if amount > outstanding {
                return Err(overpaid);
            }
            let Some(new_paid) = paid.checked_add(amount) else {
                return Err(overpaid);
            };
            let new_status = if new_paid >= billed {
                Paid
            } else {
                PartiallyPaid
            };
            Ok((new_status, new_paid))
        }
        BillTransition::Reverse(amount) => {
            if status == Active {
                return illegal("reverse a payment of");
            }
            if amount <= 0 {
                return Err(TransitionError::NonPositive);
            }
            if amount > paid {
                return Err(TransitionError::ReversalExceedsPaid { amount, paid });
            }
            let Some(new_paid) = paid.checked_sub(amount) else {
                return Err(TransitionError::ReversalExceedsPaid { amount, paid });
            };
            let new_status = match status {
                Expired | Void => status,
                _ if new_paid == 0 => Active,
                _ => PartiallyPaid,
            };
            Ok((new_status, new_paid))
        }
        BillTransition::Expire => match status {
            Active | PartiallyPaid => Ok((Expired, paid)),
            _ => illegal("expire"),
        },
        BillTransition::Void => match status {
            Active | PartiallyPaid | Expired => Ok((Void, paid)),
            _ => illegal("void"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BillStatus::*;

    /// Issue 10, defect 12: amounts at the edge of `i64` never wrap, and a quantity whose
    /// product with the price has more decimals than the currency is refused, never rounded.
    #[test]
    fn edges_of_i64_and_quantities() {
        let max = i64::MAX;
        assert_eq!(
            transition(PartiallyPaid, max, max - 1, BillTransition::Pay(1)),
            Ok((Paid, max))
        );
        assert_eq!(
            transition(PartiallyPaid, max, max - 1, BillTransition::Pay(2)),
            Err(TransitionError::Overpaid {
                amount: 2,
                outstanding: 1
            })
        );
        assert_eq!(
            transition(Paid, max, max, BillTransition::Reverse(max)),
            Ok((Active, 0))
        );
        let b = crate::testing::bill(1).billed(5).paid(i64::MAX).build();
        assert_eq!(b.outstanding(), 0);
        let price = Money::from_minor(i64::MAX, Currency::USD);
        assert!(matches!(
            LineItem::new("x", Decimal::TWO, price, None),
            Err(LineItemError::Money(MoneyError::Overflow))
        ));
        // 0.0000000000000000000000000001 x 1.00 is not a whole cent.
        let tiny = Decimal::new(1, 28);
        assert!(matches!(
            LineItem::new("x", tiny, Money::from_minor(100, Currency::USD), None),
            Err(LineItemError::Money(MoneyError::TooPrecise { .. }))
        ));
        let third = Decimal::new(3333, 4);
        assert!(matches!(
            LineItem::new("x", third, Money::from_minor(100, Currency::USD), None),
            Err(LineItemError::Money(MoneyError::TooPrecise { .. }))
        ));
        let half = Decimal::new(5, 1);
        assert_eq!(
            LineItem::new("x", half, Money::from_minor(100, Currency::USD), None)
                .unwrap()
                .total,
            Money::from_minor(50, Currency::USD)
        );
    }

    #[test]
    fn pay_and_reverse() {
        assert_eq!(
            transition(Active, 100, 0, BillTransition::Pay(40)),
            Ok((PartiallyPaid, 40))
        );
        assert_eq!(
            transition(PartiallyPaid, 100, 40, BillTransition::Pay(60)),
            Ok((Paid, 100))
        );
        assert_eq!(
            transition(PartiallyPaid, 100, 40, BillTransition::Pay(61)),
            Err(TransitionError::Overpaid {
                amount: 61,
                outstanding: 60
            })
        );
        assert_eq!(
            transition(Paid, 100, 100, BillTransition::Reverse(100)),
            Ok((Active, 0))
        );
        assert_eq!(
            transition(Paid, 100, 100, BillTransition::Reverse(30)),
            Ok((PartiallyPaid, 70))
        );
        assert_eq!(
            transition(Void, 100, 30, BillTransition::Reverse(30)),
            Ok((Void, 0))
        );
        assert_eq!(
            transition(Paid, 100, 100, BillTransition::Reverse(101)),
            Err(TransitionError::ReversalExceedsPaid {
                amount: 101,
                paid: 100
            })
        );
    }

    #[test]
    fn illegal_transitions_are_errors() {
        for (from, ev) in [
            (Paid, BillTransition::Pay(1)),
            (Void, BillTransition::Pay(1)),
            (Expired, BillTransition::Pay(1)),
            (Active, BillTransition::Reverse(1)),
            (Paid, BillTransition::Void),
            (Void, BillTransition::Void),
            (Paid, BillTransition::Expire),
            (Void, BillTransition::Expire),
            (Expired, BillTransition::Expire),
        ] {
            assert!(
                matches!(
                    transition(from, 100, 50, ev),
                    Err(TransitionError::Illegal { .. })
                ),
                "{from:?} {ev:?}"
            );
        }
        assert_eq!(
            transition(Active, 100, 0, BillTransition::Pay(0)),
            Err(TransitionError::NonPositive)
        );
    }

    #[test]
    fn line_items() {
        use rust_decimal_macros::dec;
        let price = Money::parse("10.00", Currency::MYR).unwrap();
        let item = LineItem::new("p", dec!(10), price, None).unwrap();
        assert_eq!(item.total.minor(), 10000);
        let wrong = LineItem::new(
            "p",
            dec!(10),
            price,
            Some(Money::from_minor(1, Currency::MYR)),
        );
        assert!(matches!(wrong, Err(LineItemError::TotalMismatch { .. })));
        assert_eq!(
            LineItem::new("p", dec!(0), price, None),
            Err(LineItemError::NonPositiveQuantity)
        );
    }

    #[test]
    fn declared_total_is_the_sum_of_the_items() {
        use rust_decimal_macros::dec;
        let idr = |minor| Money::from_minor(minor, Currency::IDR);
        let item = |minor| LineItem::new("c", dec!(1), idr(minor), None).unwrap();
        let items = [item(60_000), item(40_000)];
        assert_eq!(check_declared_total(&items, idr(100_000)), Ok(()));
        assert_eq!(
            check_declared_total(&items, idr(90_000)),
            Err(DeclaredTotalError::Mismatch { sum: idr(100_000) })
        );
        assert_eq!(check_declared_total(&[], idr(1)), Ok(()));
        let huge = [item(i64::MAX), item(1)];
        assert!(matches!(
            check_declared_total(&huge, idr(1)),
            Err(DeclaredTotalError::Sum(MoneyError::Overflow))
        ));
    }
}
