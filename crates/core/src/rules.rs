//! The payment decision: given the bills a payment is aimed at, its amount, the settlement mode
//! and `now`, decide how it is allocated (and what becomes credit), or why it is refused.
//!
//! [`decide`] is pure: the store calls it inside its transaction with freshly read bills and
//! applies exactly the returned [`Decision`]. A [`Rejection`] changes nothing.

use serde::Serialize;
use time::OffsetDateTime;

use crate::bill::{Bill, BillStatus, PaymentRule, SettlementMode};
pub use crate::credit::spend_credit;
use crate::money::{Currency, Money};
pub use crate::reversal::{ReversalCase, ReversalPlan, may_reverse};

/// Why a payment (or an inquiry) is refused. Each gateway maps these to its own codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Rejection {
    #[error("bill or account not found")]
    NotFound,
    #[error("the bill is already paid")]
    AlreadyPaid,
    #[error("the bill has expired")]
    Expired,
    #[error("the bill is void")]
    Void,
    #[error("nothing is outstanding")]
    NothingToPay,
    #[error("the amount must be positive")]
    NonPositiveAmount,
    #[error("the amount is below the minimum of {minimum}")]
    BelowMinimum { minimum: i64 },
    #[error("the amount is above the outstanding {outstanding}")]
    AboveOutstanding { outstanding: i64 },
    #[error("the amount must equal the outstanding {outstanding}")]
    MustEqualOutstanding { outstanding: i64 },
    #[error("currency {got} does not match the bill's {expected}")]
    CurrencyMismatch { expected: Currency, got: Currency },
    #[error("the account's payable bills are in more than one currency")]
    MixedCurrencies,
    #[error("bill {bill_id} is not a payable bill of this account")]
    BillNotPayable { bill_id: i64 },
    #[error("the same reference was used with different content")]
    InconsistentReplay,
    #[error("the payment has already been reversed")]
    AlreadyReversed,
    #[error("the reversal amount does not match the payment")]
    ReversalAmountMismatch,
    #[error("the reversal window has passed")]
    ReversalWindowPassed,
    /// A reversal would take back account credit its payment created, but that credit has since
    /// been applied or refunded.
    #[error("the credit this payment created has already been used")]
    CreditAlreadyUsed,
    /// Spending account credit beyond its balance.
    #[error("the account credit {available} is not enough")]
    InsufficientCredit { available: i64 },
    /// Voiding a bill that still has money on it: its payments must be reversed or refunded
    /// first, so that no money is stranded on a void bill.
    #[error(
        "the bill has money on it ({paid} minor units paid): reverse or refund its payments first"
    )]
    MoneyOnBill { paid: i64 },
    /// A sum the payment would make (the account's outstanding, the allocations, the credit)
    /// does not fit an `i64` of minor units: refused rather than wrapped or capped.
    #[error("the amounts involved are too large to be represented exactly")]
    TooLarge,
}

/// What a payment is aimed at.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// One bill; its own rule applies.
    Bill(&'a Bill),
    /// An account's bills (every bill of the account; non-payable ones are skipped), spread by
    /// the settlement mode. `chosen` lists bill ids for `discrete`.
    Account {
        bills: &'a [Bill],
        mode: SettlementMode,
        chosen: Option<&'a [i64]>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Allocation {
    pub bill_id: i64,
    /// Minor units, positive.
    pub amount: i64,
}

/// An accepted payment: allocations plus credit always sum to the amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub currency: Currency,
    pub allocations: Vec<Allocation>,
    /// The part kept as account credit (minor units, >= 0).
    pub credit: i64,
}

impl Decision {
    /// What the allocations take (never more than the payment's amount, so it always fits).
    pub fn applied(&self) -> i64 {
        self.allocations
            .iter()
            .fold(0i64, |sum, a| sum.saturating_add(a.amount))
    }
}

/// The sum of the bills' outstanding, or [`Rejection::TooLarge`] for an account whose
/// outstanding does not fit an `i64` of minor units.
fn outstanding_sum<'a>(bills: impl IntoIterator<Item = &'a &'a Bill>) -> Result<i64, Rejection> {
    bills
        .into_iter()
        .try_fold(0i64, |sum, b| sum.checked_add(b.outstanding()))
        .ok_or(Rejection::TooLarge)
}

/// Why a single bill cannot be paid at `now`, if it cannot.
pub fn payability(bill: &Bill, now: OffsetDateTime) -> Result<(), Rejection> {
    match bill.status_at(now) {
        BillStatus::Active | BillStatus::PartiallyPaid if bill.outstanding() > 0 => Ok(()),
        BillStatus::Active | BillStatus::PartiallyPaid => Err(Rejection::NothingToPay),
        BillStatus::Paid => Err(Rejection::AlreadyPaid),
        BillStatus::Expired => Err(Rejection::Expired),
        BillStatus::Void => Err(Rejection::Void),
    }
}

/// The smallest and largest amount a payment aimed at this bill may have, in minor units;
/// `None` for the largest means unbounded (`open`).
pub fn bill_bounds(bill: &Bill) -> (i64, Option<i64>) {
    let outstanding = bill.outstanding();
    match bill.rule {
        PaymentRule::Exact => (outstanding, Some(outstanding)),
        PaymentRule::Partial { minimum } => (
            minimum
                .unwrap_or(1)
                .clamp(1, outstanding.max(1))
                .min(outstanding),
            Some(outstanding),
        ),
        PaymentRule::Open => (1, None),
    }
}

/// Payable bills of an account at `now`, oldest first (the allocation order).
pub fn payable_bills(bills: &[Bill], now: OffsetDateTime) -> Vec<&Bill> {
    let mut payable: Vec<&Bill> = bills
        .iter()
        .filter(|b| payability(b, now).is_ok())
        .collect();
    payable.sort_by_key(|b| b.allocation_key());
    payable
}

/// What a bill can take of `remaining` under its own rule, oldest-first allocation.
fn takes(bill: &Bill, remaining: i64) -> i64 {
    let outstanding = bill.outstanding();
    match bill.rule {
        PaymentRule::Exact => {
            if remaining >= outstanding {
                outstanding
            } else {
                0
            }
        }
        PaymentRule::Partial { minimum } => {
            let take = remaining.min(outstanding);
            if take == outstanding || take >= minimum.unwrap_or(1) {
                take
            } else {
                0
            }
        }
        PaymentRule::Open => remaining.min(outstanding),
    }
}

/// Decides a payment. See the module docs; the rules are DESIGN's, one function.
pub fn decide(
    target: Target<'_>,
    amount: Money,
    now: OffsetDateTime,
) -> Result<Decision, Rejection> {
    match target {
        Target::Bill(bill) => decide_bill(bill, amount, now),
        Target::Account {
            bills,
            mode,
            chosen,
        } => decide_account(bills, mode, chosen, amount, now),
    }
}

fn decide_bill(bill: &Bill, amount: Money, now: OffsetDateTime) -> Result<Decision, Rejection> {
    payability(bill, now)?;
    if amount.currency() != bill.currency {
        return Err(Rejection::CurrencyMismatch {
            expected: bill.currency,
            got: amount.currency(),
        });
    }
    let value = amount.minor();
    if value <= 0 {
        return Err(Rejection::NonPositiveAmount);
    }
    let outstanding = bill.outstanding();
    let (allocated, credit) = match bill.rule {
        PaymentRule::Exact => {
            if value != outstanding {
                return Err(Rejection::MustEqualOutstanding { outstanding });
            }
            (value, 0)
        }
        PaymentRule::Partial { minimum } => {
            if value > outstanding {
                return Err(Rejection::AboveOutstanding { outstanding });
            }
            if let Some(min) = minimum
                && value < min
                && value != outstanding
            {
                return Err(Rejection::BelowMinimum { minimum: min });
            }
            (value, 0)
        }
        PaymentRule::Open => {
            let allocated = value.min(outstanding);
            (allocated, value.saturating_sub(allocated))
        }
    };
    Ok(Decision {
        currency: bill.currency,
        allocations: vec![Allocation {
            bill_id: bill.id,
            amount: allocated,
        }],
        credit,
    })
}

fn decide_account(
    bills: &[Bill],
    mode: SettlementMode,
    chosen: Option<&[i64]>,
    amount: Money,
    now: OffsetDateTime,
) -> Result<Decision, Rejection> {
    let payable = payable_bills(bills, now);
    let Some(first) = payable.first() else {
        return Err(why_nothing_payable(bills, now));
    };
    let currency = first.currency;
    if payable.iter().any(|b| b.currency != currency) {
        return Err(Rejection::MixedCurrencies);
    }
    if amount.currency() != currency {
        return Err(Rejection::CurrencyMismatch {
            expected: currency,
            got: amount.currency(),
        });
    }
    let value = amount.minor();
    if value <= 0 {
        return Err(Rejection::NonPositiveAmount);
    }
    match mode {
        SettlementMode::Total => settle_whole(currency, &payable, value),
        SettlementMode::Discrete if chosen.is_none() => settle_prefix(currency, &payable, value),
        SettlementMode::Discrete => {
            let selected = discrete_selection(&payable, chosen, value)?;
            settle_whole(currency, &selected, value)
        }
        SettlementMode::Open => Ok(allocate_open(currency, &payable, value)),
    }
}

/// Why an account with no payable bill refuses a payment: expired beats everything else, since
/// something is still owed there.
fn why_nothing_payable(bills: &[Bill], now: OffsetDateTime) -> Rejection {
    if bills
        .iter()
        .any(|b| b.status_at(now) == BillStatus::Expired)
    {
        Rejection::Expired
    } else {
        Rejection::NothingToPay
    }
}

/// Pays each of `selected` its whole outstanding, when `value` is exactly their sum.
fn settle_whole(currency: Currency, selected: &[&Bill], value: i64) -> Result<Decision, Rejection> {
    let outstanding = outstanding_sum(selected)?;
    if selected.is_empty() || value != outstanding {
        return Err(Rejection::MustEqualOutstanding { outstanding });
    }
    Ok(Decision {
        currency,
        allocations: selected
            .iter()
            .map(|b| Allocation {
                bill_id: b.id,
                amount: b.outstanding(),
            })
            .collect(),
        credit: 0,
    })
}

/// The bills a `discrete` payment pays: the chosen ones (each payable, once), or without a choice
/// the largest oldest-first prefix of the payable bills whose outstanding `value` covers.
fn discrete_selection<'a>(
    payable: &[&'a Bill],
    chosen: Option<&[i64]>,
    value: i64,
) -> Result<Vec<&'a Bill>, Rejection> {
    let Some(ids) = chosen else {
        return Ok(covered_prefix(payable, value));
    };
    let mut selected: Vec<&Bill> = Vec::with_capacity(ids.len());
    for id in ids {
        let bill = payable
            .iter()
            .find(|b| b.id == *id)
            .ok_or(Rejection::BillNotPayable { bill_id: *id })?;
        if !selected.iter().any(|b| b.id == *id) {
            selected.push(*bill);
        }
    }
    Ok(selected)
}

/// The largest oldest-first prefix of `payable` whose outstanding adds up to at most `value`.
fn covered_prefix<'a>(payable: &[&'a Bill], value: i64) -> Vec<&'a Bill> {
    let mut sum = 0i64;
    let mut prefix = Vec::new();
    for b in payable {
        match sum.checked_add(b.outstanding()) {
            Some(next) if next <= value => {
                sum = next;
                prefix.push(*b);
            }
            _ => break,
        }
    }
    prefix
}

/// A `discrete` payment without chosen bills: the largest oldest-first prefix it covers is paid
/// whole, the rest becomes account credit. Refused below the oldest bill's outstanding and
/// above the whole due (what [`account_bounds`] announces).
fn settle_prefix(currency: Currency, payable: &[&Bill], value: i64) -> Result<Decision, Rejection> {
    let prefix = covered_prefix(payable, value);
    let due = payable
        .iter()
        .try_fold(0i64, |sum, b| sum.checked_add(b.outstanding()));
    let oldest = payable.first().map_or(0, |b| b.outstanding());
    if let Some(due) = due
        && value > due
    {
        return Err(Rejection::MustEqualOutstanding { outstanding: due });
    }
    if prefix.is_empty() {
        return Err(Rejection::MustEqualOutstanding {
            outstanding: oldest,
        });
    }
    let allocations: Vec<Allocation> = prefix
        .iter()
        .map(|b| Allocation {
            bill_id: b.id,
            amount: b.outstanding(),
        })
        .collect();
    let applied = crate::money::checked_sum_minor(allocations.iter().map(|a| a.amount))
        .map_err(|_| Rejection::TooLarge)?;
    let credit = value
        .checked_sub(applied)
        .ok_or(Rejection::MustEqualOutstanding {
            outstanding: applied,
        })?;
    Ok(Decision {
        currency,
        allocations,
        credit,
    })
}

/// Whether a bill may be voided at `now`: not when paid or void already, and not while money is
/// on it (reverse or refund its payments first).
pub fn may_void(bill: &Bill, now: OffsetDateTime) -> Result<(), Rejection> {
    match bill.status_at(now) {
        BillStatus::Paid => Err(Rejection::AlreadyPaid),
        BillStatus::Void => Err(Rejection::Void),
        _ if bill.paid > 0 => Err(Rejection::MoneyOnBill { paid: bill.paid }),
        _ => Ok(()),
    }
}

/// Spreads an `open` payment oldest first, each bill under its own rule; the rest is credit.
fn allocate_open(currency: Currency, payable: &[&Bill], value: i64) -> Decision {
    let mut remaining = value;
    let mut allocations = Vec::new();
    for b in payable {
        if remaining == 0 {
            break;
        }
        let take = takes(b, remaining);
        if take > 0 {
            allocations.push(Allocation {
                bill_id: b.id,
                amount: take,
            });
            remaining = remaining.saturating_sub(take);
        }
    }
    Decision {
        currency,
        allocations,
        credit: remaining,
    }
}

/// What one payment aimed at a whole account may be under a settlement mode (see
/// [`account_bounds`]). Minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds<'a> {
    pub currency: Currency,
    /// The sum of the payable bills' outstanding.
    pub due: i64,
    /// The smallest amount; `None`: no lower bound (any positive amount).
    pub min: Option<i64>,
    /// The largest amount; `None`: unbounded (the excess becomes account credit).
    pub max: Option<i64>,
    /// The newest payable bill (last in allocation order): the one a channel shows.
    pub newest: &'a Bill,
}

/// The bounds of a payment aimed at an account, per settlement mode, beside [`bill_bounds`]:
/// `total`: the whole due both ways; `discrete`: the oldest payable bill's outstanding (an amount
/// between the oldest-first prefix sums pays the largest prefix it covers, the rest becomes
/// account credit) and the whole due; `open`: none. Refused with `Expired` when nothing is payable and an expired bill
/// still has money outstanding, `NothingToPay` when nothing is payable otherwise, and
/// `MixedCurrencies` when the payable bills are in more than one currency.
pub fn account_bounds(
    bills: &[Bill],
    mode: SettlementMode,
    now: OffsetDateTime,
) -> Result<Bounds<'_>, Rejection> {
    let payable = payable_bills(bills, now);
    let Some(newest) = payable.last().copied() else {
        let overdue = bills
            .iter()
            .any(|b| b.status_at(now) == BillStatus::Expired && b.outstanding() > 0);
        return Err(if overdue {
            Rejection::Expired
        } else {
            Rejection::NothingToPay
        });
    };
    let currency = newest.currency;
    if payable.iter().any(|b| b.currency != currency) {
        return Err(Rejection::MixedCurrencies);
    }
    let due = outstanding_sum(&payable)?;
    let oldest = payable.first().map_or(due, |b| b.outstanding());
    let (min, max) = match mode {
        SettlementMode::Total => (Some(due), Some(due)),
        SettlementMode::Discrete => (Some(oldest), Some(due)),
        SettlementMode::Open => (None, None),
    };
    Ok(Bounds {
        currency,
        due,
        min,
        max,
        newest,
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use time::macros::datetime;

    /// A USD bill on account 1 (see [`crate::testing::bill`]); kept for the other modules' tests.
    pub fn bill(id: i64, billed: i64, paid: i64, rule: PaymentRule) -> Bill {
        crate::testing::bill(id)
            .billed(billed)
            .paid(paid)
            .rule(rule)
            .build()
    }

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::USD)
    }

    const NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);

    /// Issue 10, defect 12: sums near `i64::MAX` are checked; what does not fit is refused,
    /// never wrapped or capped into a payable amount.
    #[test]
    fn sums_that_do_not_fit_are_refused() {
        let big = i64::MAX - 10;
        let bills = [
            bill(1, big, 0, PaymentRule::Exact),
            bill(2, big, 0, PaymentRule::Exact),
        ];
        let too_much = Rejection::TooLarge;
        for mode in [
            SettlementMode::Total,
            SettlementMode::Discrete,
            SettlementMode::Open,
        ] {
            assert_eq!(account_bounds(&bills, mode, NOW), Err(too_much.clone()));
        }
        let total = Target::Account {
            bills: &bills,
            mode: SettlementMode::Total,
            chosen: None,
        };
        // Among them what a wrapping sum of the two would have made of it (2^64 less).
        for value in [
            i64::MAX,
            big,
            1,
            big.wrapping_add(big).wrapping_add(i64::MAX).wrapping_add(2),
        ] {
            assert_eq!(decide(total, usd(value), NOW), Err(too_much.clone()));
        }
        let both = Target::Account {
            bills: &bills,
            mode: SettlementMode::Discrete,
            chosen: Some(&[1, 2]),
        };
        assert_eq!(decide(both, usd(i64::MAX), NOW), Err(too_much.clone()));
        // One of them still fits and is paid exactly; open spreads oldest first.
        let one = Target::Account {
            bills: &bills,
            mode: SettlementMode::Discrete,
            chosen: Some(&[1]),
        };
        let d = decide(one, usd(big), NOW).unwrap();
        assert_eq!((d.applied(), d.credit), (big, 0));
        let open = Target::Account {
            bills: &bills,
            mode: SettlementMode::Open,
            chosen: None,
        };
        let d = decide(open, usd(i64::MAX), NOW).unwrap();
        // The second (exact) bill cannot take 10 of its outstanding: credit.
        assert_eq!(
            d.allocations,
            vec![Allocation {
                bill_id: 1,
                amount: big
            }]
        );
        assert_eq!((d.applied(), d.credit), (big, 10));
        // A bill paid up to the limit stays consistent.
        let nearly = bill(3, i64::MAX, i64::MAX - 1, PaymentRule::Exact);
        let d = decide(Target::Bill(&nearly), usd(1), NOW).unwrap();
        assert_eq!(d.applied(), 1);
    }

    #[test]
    fn exact_rule() {
        let b = bill(1, 1000, 0, PaymentRule::Exact);
        let d = decide(Target::Bill(&b), usd(1000), NOW).unwrap();
        assert_eq!(
            d.allocations,
            vec![Allocation {
                bill_id: 1,
                amount: 1000
            }]
        );
        assert_eq!(d.credit, 0);
        assert_eq!(
            decide(Target::Bill(&b), usd(999), NOW),
            Err(Rejection::MustEqualOutstanding { outstanding: 1000 })
        );
        let paid = bill(1, 1000, 1000, PaymentRule::Exact);
        assert_eq!(
            decide(Target::Bill(&paid), usd(1000), NOW),
            Err(Rejection::AlreadyPaid)
        );
    }

    #[test]
    fn partial_rule() {
        let b = bill(1, 1000, 200, PaymentRule::Partial { minimum: Some(300) });
        assert!(decide(Target::Bill(&b), usd(300), NOW).is_ok());
        assert_eq!(
            decide(Target::Bill(&b), usd(299), NOW),
            Err(Rejection::BelowMinimum { minimum: 300 })
        );
        assert_eq!(
            decide(Target::Bill(&b), usd(801), NOW),
            Err(Rejection::AboveOutstanding { outstanding: 800 })
        );
        // The whole outstanding is always allowed, even under the minimum.
        let small = bill(1, 1000, 900, PaymentRule::Partial { minimum: Some(300) });
        assert!(decide(Target::Bill(&small), usd(100), NOW).is_ok());
        assert_eq!(
            decide(Target::Bill(&b), usd(0), NOW),
            Err(Rejection::NonPositiveAmount)
        );
        assert_eq!(
            decide(Target::Bill(&b), usd(-5), NOW),
            Err(Rejection::NonPositiveAmount)
        );
    }

    #[test]
    fn open_rule_keeps_excess_as_credit() {
        let b = bill(1, 1000, 0, PaymentRule::Open);
        let d = decide(Target::Bill(&b), usd(1500), NOW).unwrap();
        assert_eq!(
            d.allocations,
            vec![Allocation {
                bill_id: 1,
                amount: 1000
            }]
        );
        assert_eq!(d.credit, 500);
    }

    #[test]
    fn expiry_void_and_currency() {
        let mut b = bill(1, 1000, 0, PaymentRule::Exact);
        b.valid_until = Some(NOW);
        assert_eq!(
            decide(Target::Bill(&b), usd(1000), NOW),
            Err(Rejection::Expired)
        );
        b.valid_until = Some(NOW + time::Duration::seconds(1));
        assert!(decide(Target::Bill(&b), usd(1000), NOW).is_ok());
        b.status = BillStatus::Void;
        assert_eq!(
            decide(Target::Bill(&b), usd(1000), NOW),
            Err(Rejection::Void)
        );
        let b = bill(1, 1000, 0, PaymentRule::Exact);
        assert_eq!(
            decide(
                Target::Bill(&b),
                Money::from_minor(1000, Currency::KHR),
                NOW
            ),
            Err(Rejection::CurrencyMismatch {
                expected: Currency::USD,
                got: Currency::KHR
            })
        );
    }

    #[test]
    fn account_total_discrete_open() {
        let mut older = bill(1, 500, 0, PaymentRule::Exact);
        older.due_date = Some(time::macros::date!(2025 - 01 - 15));
        let newer = bill(2, 300, 0, PaymentRule::Exact);
        let bills = vec![newer.clone(), older.clone()];
        let total = Target::Account {
            bills: &bills,
            mode: SettlementMode::Total,
            chosen: None,
        };
        assert_eq!(decide(total, usd(800), NOW).unwrap().applied(), 800);
        assert_eq!(
            decide(total, usd(500), NOW),
            Err(Rejection::MustEqualOutstanding { outstanding: 800 })
        );

        let chosen = [2i64];
        let discrete = Target::Account {
            bills: &bills,
            mode: SettlementMode::Discrete,
            chosen: Some(&chosen),
        };
        let d = decide(discrete, usd(300), NOW).unwrap();
        assert_eq!(
            d.allocations,
            vec![Allocation {
                bill_id: 2,
                amount: 300
            }]
        );
        assert_eq!(
            decide(discrete, usd(301), NOW),
            Err(Rejection::MustEqualOutstanding { outstanding: 300 })
        );
        let unchosen = Target::Account {
            bills: &bills,
            mode: SettlementMode::Discrete,
            chosen: None,
        };
        assert_eq!(
            decide(unchosen, usd(500), NOW).unwrap().allocations[0].bill_id,
            1
        );
        let missing = [9i64];
        let bad = Target::Account {
            bills: &bills,
            mode: SettlementMode::Discrete,
            chosen: Some(&missing),
        };
        assert_eq!(
            decide(bad, usd(300), NOW),
            Err(Rejection::BillNotPayable { bill_id: 9 })
        );

        let open = Target::Account {
            bills: &bills,
            mode: SettlementMode::Open,
            chosen: None,
        };
        let d = decide(open, usd(1000), NOW).unwrap();
        assert_eq!(
            d.allocations,
            vec![
                Allocation {
                    bill_id: 1,
                    amount: 500
                },
                Allocation {
                    bill_id: 2,
                    amount: 300
                }
            ]
        );
        assert_eq!(d.credit, 200);
        // An exact bill takes nothing of an amount smaller than its outstanding.
        let d = decide(open, usd(400), NOW).unwrap();
        assert_eq!(
            d.allocations,
            vec![Allocation {
                bill_id: 2,
                amount: 300
            }]
        );
        assert_eq!(d.credit, 100);
    }

    #[test]
    fn account_without_payable_bills() {
        let mut expired = bill(1, 500, 0, PaymentRule::Exact);
        expired.valid_until = Some(NOW);
        let bills = vec![expired, bill(2, 300, 300, PaymentRule::Exact)];
        let t = Target::Account {
            bills: &bills,
            mode: SettlementMode::Open,
            chosen: None,
        };
        assert_eq!(decide(t, usd(100), NOW), Err(Rejection::Expired));
        let bills = vec![bill(2, 300, 300, PaymentRule::Exact)];
        let t = Target::Account {
            bills: &bills,
            mode: SettlementMode::Open,
            chosen: None,
        };
        assert_eq!(decide(t, usd(100), NOW), Err(Rejection::NothingToPay));
        let mut khr = bill(3, 300, 0, PaymentRule::Exact);
        khr.currency = Currency::KHR;
        let bills = vec![bill(2, 300, 0, PaymentRule::Exact), khr];
        let t = Target::Account {
            bills: &bills,
            mode: SettlementMode::Open,
            chosen: None,
        };
        assert_eq!(decide(t, usd(100), NOW), Err(Rejection::MixedCurrencies));
    }

    #[test]
    fn bounds() {
        assert_eq!(
            bill_bounds(&bill(1, 1000, 0, PaymentRule::Exact)),
            (1000, Some(1000))
        );
        assert_eq!(
            bill_bounds(&bill(
                1,
                1000,
                0,
                PaymentRule::Partial { minimum: Some(300) }
            )),
            (300, Some(1000))
        );
        assert_eq!(
            bill_bounds(&bill(
                1,
                1000,
                900,
                PaymentRule::Partial { minimum: Some(300) }
            )),
            (100, Some(100))
        );
        assert_eq!(bill_bounds(&bill(1, 1000, 0, PaymentRule::Open)), (1, None));
    }

    #[test]
    fn account_bounds_per_mode() {
        let bills = vec![
            bill(1, 1000, 0, PaymentRule::Exact),
            bill(2, 500, 0, PaymentRule::Exact),
            bill(3, 700, 700, PaymentRule::Exact),
        ];
        // (mode, due, min, max); the newest payable bill is shown.
        let table = [
            (SettlementMode::Total, 1500, Some(1500), Some(1500)),
            // The oldest payable bill's outstanding: the smallest amount a prefix covers.
            (SettlementMode::Discrete, 1500, Some(1000), Some(1500)),
            (SettlementMode::Open, 1500, None, None),
        ];
        for (mode, due, min, max) in table {
            let b = account_bounds(&bills, mode, NOW).unwrap();
            assert_eq!(
                (b.currency, b.due, b.min, b.max),
                (Currency::USD, due, min, max)
            );
            assert_eq!(b.newest.id, 2, "{mode:?}");
        }
    }

    #[test]
    fn account_bounds_refusals() {
        let mut khr = bill(2, 500, 0, PaymentRule::Exact);
        khr.currency = Currency::KHR;
        let mixed = vec![bill(1, 1000, 0, PaymentRule::Exact), khr];
        let mut expired = bill(1, 1000, 0, PaymentRule::Exact);
        expired.valid_until = Some(datetime!(2025-05-01 00:00 UTC));
        let paid = bill(2, 500, 500, PaymentRule::Exact);
        let mut expired_void = bill(3, 1000, 0, PaymentRule::Exact);
        expired_void.valid_until = Some(datetime!(2025-05-01 00:00 UTC));
        expired_void.status = BillStatus::Void;
        let table: [(&[Bill], Rejection); 5] = [
            (&mixed, Rejection::MixedCurrencies),
            (&[expired, paid.clone()], Rejection::Expired),
            (std::slice::from_ref(&paid), Rejection::NothingToPay),
            (&[expired_void], Rejection::NothingToPay),
            (&[], Rejection::NothingToPay),
        ];
        for (bills, rejection) in table {
            for mode in [
                SettlementMode::Total,
                SettlementMode::Discrete,
                SettlementMode::Open,
            ] {
                assert_eq!(account_bounds(bills, mode, NOW), Err(rejection.clone()));
            }
        }
    }

    /// Discrete settlement without chosen bills (bills of 10 and 5, oldest first): the oldest
    /// bill's outstanding is the smallest amount; an amount between prefix sums pays the largest
    /// prefix it covers and keeps the rest as credit.
    #[test]
    fn discrete_pays_the_covered_prefix() {
        let mut older = bill(1, 1000, 0, PaymentRule::Exact);
        older.due_date = Some(time::macros::date!(2025 - 01 - 15));
        let bills = vec![bill(2, 500, 0, PaymentRule::Exact), older];
        let target = Target::Account {
            bills: &bills,
            mode: SettlementMode::Discrete,
            chosen: None,
        };
        let b = account_bounds(&bills, SettlementMode::Discrete, NOW).unwrap();
        assert_eq!((b.min, b.max, b.newest.id), (Some(1000), Some(1500), 2));
        let d = decide(target, usd(1200), NOW).unwrap();
        assert_eq!(
            (d.allocations, d.credit),
            (
                vec![Allocation {
                    bill_id: 1,
                    amount: 1000
                }],
                200
            )
        );
        assert_eq!(decide(target, usd(1500), NOW).unwrap().credit, 0);
        assert_eq!(
            decide(target, usd(500), NOW),
            Err(Rejection::MustEqualOutstanding { outstanding: 1000 })
        );
        assert_eq!(
            decide(target, usd(1501), NOW),
            Err(Rejection::MustEqualOutstanding { outstanding: 1500 })
        );
        for amount in [b.min.unwrap(), 1234, b.max.unwrap()] {
            assert!(decide(target, usd(amount), NOW).is_ok(), "{amount}");
        }
        // Every amount the bounds announce is taken, whole bills oldest first plus credit.
        let mut three = bills.clone();
        three.push(bill(3, 300, 0, PaymentRule::Partial { minimum: None }));
        let target = Target::Account {
            bills: &three,
            mode: SettlementMode::Discrete,
            chosen: None,
        };
        let b = account_bounds(&three, SettlementMode::Discrete, NOW).unwrap();
        let (min, max) = (b.min.unwrap(), b.max.unwrap());
        for amount in min..=max {
            let d = decide(target, usd(amount), NOW).unwrap();
            assert_eq!(d.applied() + d.credit, amount);
            for a in &d.allocations {
                let whole = three.iter().find(|x| x.id == a.bill_id).unwrap();
                assert_eq!(a.amount, whole.outstanding());
            }
        }
        assert!(decide(target, usd(min - 1), NOW).is_err());
        assert!(decide(target, usd(max + 1), NOW).is_err());
    }

    #[test]
    fn voiding_is_refused_while_money_is_on_the_bill() {
        assert_eq!(may_void(&bill(1, 1000, 0, PaymentRule::Exact), NOW), Ok(()));
        assert_eq!(
            may_void(
                &bill(1, 1000, 400, PaymentRule::Partial { minimum: None }),
                NOW
            ),
            Err(Rejection::MoneyOnBill { paid: 400 })
        );
        assert_eq!(
            may_void(&bill(1, 1000, 1000, PaymentRule::Exact), NOW),
            Err(Rejection::AlreadyPaid)
        );
        let mut expired = bill(1, 1000, 300, PaymentRule::Partial { minimum: None });
        expired.valid_until = Some(datetime!(2025-05-01 00:00 UTC));
        assert_eq!(
            may_void(&expired, NOW),
            Err(Rejection::MoneyOnBill { paid: 300 })
        );
        expired.paid = 0;
        assert_eq!(may_void(&expired, NOW), Ok(()));
        let mut void = bill(1, 1000, 0, PaymentRule::Exact);
        void.status = BillStatus::Void;
        assert_eq!(may_void(&void, NOW), Err(Rejection::Void));
    }

    /// What the bounds announce, `decide` accepts at both ends and refuses just outside (for
    /// `discrete`, where the oldest bill is the smallest).
    #[test]
    fn account_bounds_agree_with_decide() {
        let bills = vec![
            bill(1, 500, 0, PaymentRule::Exact),
            bill(2, 1000, 0, PaymentRule::Exact),
        ];
        for mode in [SettlementMode::Total, SettlementMode::Discrete] {
            let b = account_bounds(&bills, mode, NOW).unwrap();
            let target = Target::Account {
                bills: &bills,
                mode,
                chosen: None,
            };
            let (min, max) = (b.min.unwrap(), b.max.unwrap());
            for ok in [min, max] {
                assert!(decide(target, usd(ok), NOW).is_ok(), "{mode:?} {ok}");
            }
            for refused in [min - 1, max + 1] {
                assert!(
                    decide(target, usd(refused), NOW).is_err(),
                    "{mode:?} {refused}"
                );
            }
        }
        let open = account_bounds(&bills, SettlementMode::Open, NOW).unwrap();
        assert_eq!((open.min, open.max), (None, None));
        let target = Target::Account {
            bills: &bills,
            mode: SettlementMode::Open,
            chosen: None,
        };
        for any in [1, open.due, open.due * 10] {
            assert!(decide(target, usd(any), NOW).is_ok(), "open {any}");
        }
    }
}
