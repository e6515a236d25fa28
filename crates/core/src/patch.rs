//! Changing a bill after it was made: due date, references, currency (while nothing is paid)
//! and cancelling, as the collections API offers it.
//!
//! [`plan_patch`] decides, from the bill as stored, its line amounts and the requested
//! [`BillPatch`], either a [`PatchRefusal`] (nothing changes) or a [`Plan`]: the fields to
//! write, the line amounts re-expressed in a new currency, the `updated` event's details and
//! whether the bill is then voided. The store carries the plan out in one transaction; it
//! decides nothing itself.

use time::{Date, OffsetDateTime};

use crate::bill::{Bill, BillStatus, BillTransition, TransitionError, transition};
use crate::money::{Currency, Money, MoneyError};

/// Requested changes to a bill; `None` (or `false`) leaves that part as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillPatch {
    pub due: Option<Date>,
    pub ref1: Option<String>,
    pub ref2: Option<String>,
    pub currency: Option<Currency>,
    /// Void the bill (after the other changes).
    pub cancel: bool,
}

/// One line item's amounts in minor units of the bill's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineAmounts {
    /// The line's id, carried through unchanged.
    pub id: i64,
    pub unit_price: i64,
    pub total: i64,
}

/// Why a bill change is refused (nothing changes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchRefusal {
    /// The bill is cancelled: nothing about it changes any more.
    #[error("the bill is cancelled and can no longer be changed")]
    Cancelled,
    /// A fully paid bill cannot be cancelled.
    #[error("a paid bill cannot be cancelled")]
    PaidCannotCancel,
    /// The currency cannot change once money was paid.
    #[error("the currency cannot change once a payment was made")]
    CurrencyAfterPayment,
    /// An amount of the bill has more decimals than the new currency allows.
    #[error("the bill's amounts have more decimals than {0} allows")]
    CurrencyTooPrecise(Currency),
    /// The status machine refuses to void the bill (cannot happen after the checks above; kept
    /// so that the plan never assumes it).
    #[error(transparent)]
    Transition(#[from] TransitionError),
}

/// The new values of a bill whose fields change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldUpdate {
    pub due_date: Option<Date>,
    pub ref1: String,
    pub ref2: String,
    pub currency: Currency,
    /// The billed amount in minor units of `currency`.
    pub billed: i64,
    /// Every line re-expressed in the new currency (empty when the currency stays).
    pub lines: Vec<LineAmounts>,
    /// What changed, for the `updated` event: (`due` | `ref1` | `ref2` | `currency`, new value),
    /// in that order.
    pub changed: Vec<(&'static str, String)>,
}

/// What to write for an accepted patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The bill's status at `now` (recorded with the `updated` event).
    pub status: BillStatus,
    /// `None`: no field changes (the request repeats what the bill already says).
    pub update: Option<FieldUpdate>,
    /// `Some((status, paid))`: void the bill afterwards, with these values.
    pub void: Option<(BillStatus, i64)>,
}

impl Plan {
    /// Whether the plan writes nothing (the bill is answered as it is).
    pub fn is_empty(&self) -> bool {
        self.update.is_none() && self.void.is_none()
    }
}

/// Converts an amount to another currency's minor units without changing its value.
pub fn redenominate(minor: i64, from: Currency, to: Currency) -> Result<i64, MoneyError> {
    Money::from_decimal(Money::from_minor(minor, from).to_decimal(), to).map(|m| m.minor())
}

/// Decides a bill change. `lines` are the bill's line amounts (needed only when the currency
/// changes). A cancelled bill answers as it is when the patch changes nothing but is refused
/// otherwise; a paid bill cannot be cancelled; the currency changes only while nothing is paid
/// and only when every amount keeps its value in the new currency.
pub fn plan_patch(
    bill: &Bill,
    lines: &[LineAmounts],
    patch: &BillPatch,
    now: OffsetDateTime,
) -> Result<Plan, PatchRefusal> {
    let status = bill.status_at(now);
    let new_currency = patch.currency.filter(|c| *c != bill.currency);
    let changed = changes(bill, patch, new_currency);
    if status == BillStatus::Void {
        if changed.is_empty() {
            return Ok(Plan {
                status,
                update: None,
                void: None,
            });
        }
        return Err(PatchRefusal::Cancelled);
    }
    if patch.cancel && status == BillStatus::Paid {
        return Err(PatchRefusal::PaidCannotCancel);
    }
    let update = if changed.is_empty() {
        None
    } else {
        Some(field_update(bill, lines, patch, new_currency, changed)?)
    };
    let void = if patch.cancel {
        Some(transition(
            status,
            update.as_ref().map_or(bill.billed, |u| u.billed),
            bill.paid,
            BillTransition::Void,
        )?)
    } else {
        None
    };
    Ok(Plan {
        status,
        update,
        void,
    })
}

/// What the patch changes, in the `updated` event's order.
fn changes(
    bill: &Bill,
    patch: &BillPatch,
    new_currency: Option<Currency>,
) -> Vec<(&'static str, String)> {
    let mut changed = Vec::new();
    if let Some(d) = patch.due.filter(|d| Some(*d) != bill.due_date) {
        changed.push(("due", d.to_string()));
    }
    if let Some(r) = patch.ref1.as_ref().filter(|r| **r != bill.ref1) {
        changed.push(("ref1", r.clone()));
    }
    if let Some(r) = patch.ref2.as_ref().filter(|r| **r != bill.ref2) {
        changed.push(("ref2", r.clone()));
    }
    if let Some(c) = new_currency {
        changed.push(("currency", c.code().to_string()));
    }
    changed
}

fn field_update(
    bill: &Bill,
    lines: &[LineAmounts],
    patch: &BillPatch,
    new_currency: Option<Currency>,
    changed: Vec<(&'static str, String)>,
) -> Result<FieldUpdate, PatchRefusal> {
    let (billed, lines) = match new_currency {
        Some(to) => redenominated(bill, lines, to)?,
        None => (bill.billed, Vec::new()),
    };
    Ok(FieldUpdate {
        due_date: patch.due.or(bill.due_date),
        ref1: patch.ref1.clone().unwrap_or_else(|| bill.ref1.clone()),
        ref2: patch.ref2.clone().unwrap_or_else(|| bill.ref2.clone()),
        currency: new_currency.unwrap_or(bill.currency),
        billed,
        lines,
        changed,
    })
}

/// The billed amount and every line in currency `to`.
fn redenominated(
    bill: &Bill,
    lines: &[LineAmounts],
    to: Currency,
) -> Result<(i64, Vec<LineAmounts>), PatchRefusal> {
    if bill.paid > 0 {
        return Err(PatchRefusal::CurrencyAfterPayment);
    }
    let too_precise = |_| PatchRefusal::CurrencyTooPrecise(to);
    let convert = |minor| redenominate(minor, bill.currency, to).map_err(too_precise);
    let billed = convert(bill.billed)?;
    let lines = lines
        .iter()
        .map(|l| {
            Ok(LineAmounts {
                id: l.id,
                unit_price: convert(l.unit_price)?,
                total: convert(l.total)?,
            })
        })
        .collect::<Result<Vec<_>, PatchRefusal>>()?;
    Ok((billed, lines))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::too_many_lines)]
mod tests {
    use super::*;
    use crate::bill::PaymentRule;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-11-21 03:00 UTC);

    fn currency(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    fn bill(status: BillStatus, billed: i64, paid: i64, code: &str) -> Bill {
        Bill {
            id: 7,
            organization_id: 1,
            account_id: 1,
            collection_id: Some(1),
            public_no: "ABCDEFGH".into(),
            invoice_number: "ABCDEFGH".into(),
            ref1: "r1".into(),
            ref2: String::new(),
            name: "bill".into(),
            description: String::new(),
            currency: currency(code),
            billed,
            paid,
            bill_date: date!(2026 - 11 - 01),
            due_date: Some(date!(2026 - 12 - 31)),
            valid_until: None,
            rule: PaymentRule::Exact,
            status,
            version: 1,
            created_at: NOW,
            updated_at: NOW,
        }
    }

    fn lines() -> Vec<LineAmounts> {
        vec![LineAmounts {
            id: 3,
            unit_price: 500,
            total: 1000,
        }]
    }

    fn patch() -> BillPatch {
        BillPatch::default()
    }

    #[test]
    fn refusals_table() {
        use BillStatus::*;
        let to_usd = BillPatch {
            currency: Some(currency("USD")),
            ..patch()
        };
        let cancel = BillPatch {
            cancel: true,
            ..patch()
        };
        let new_ref = BillPatch {
            ref1: Some("other".into()),
            ..patch()
        };
        let cases: Vec<(Bill, BillPatch, PatchRefusal)> = vec![
            (
                bill(Void, 1000, 0, "MYR"),
                new_ref.clone(),
                PatchRefusal::Cancelled,
            ),
            (
                bill(Void, 1000, 0, "MYR"),
                to_usd.clone(),
                PatchRefusal::Cancelled,
            ),
            (
                bill(Paid, 1000, 1000, "MYR"),
                cancel.clone(),
                PatchRefusal::PaidCannotCancel,
            ),
            (
                bill(PartiallyPaid, 1000, 10, "MYR"),
                to_usd.clone(),
                PatchRefusal::CurrencyAfterPayment,
            ),
            (
                bill(Active, 1001, 0, "MYR"),
                BillPatch {
                    currency: Some(Currency::JPY),
                    ..patch()
                },
                PatchRefusal::CurrencyTooPrecise(Currency::JPY),
            ),
        ];
        for (b, p, want) in cases {
            assert_eq!(
                plan_patch(&b, &lines(), &p, NOW),
                Err(want.clone()),
                "{p:?} on {b:?}"
            );
        }
    }

    #[test]
    fn accepted_plans_table() {
        use BillStatus::*;
        let same = BillPatch {
            ref1: Some("r1".into()),
            currency: Some(currency("MYR")),
            due: Some(date!(2026 - 12 - 31)),
            ..patch()
        };
        // (bill, patch, update expected, void expected)
        type Case = (Bill, BillPatch, bool, Option<(BillStatus, i64)>);
        let cases: Vec<Case> = vec![
            (bill(Void, 1000, 0, "MYR"), same.clone(), false, None),
            (
                bill(Void, 1000, 0, "MYR"),
                BillPatch {
                    cancel: true,
                    ..patch()
                },
                false,
                None,
            ),
            (bill(Active, 1000, 0, "MYR"), same.clone(), false, None),
            (
                bill(Active, 1000, 0, "MYR"),
                BillPatch {
                    cancel: true,
                    ..patch()
                },
                false,
                Some((Void, 0)),
            ),
            (
                bill(PartiallyPaid, 1000, 400, "MYR"),
                BillPatch {
                    cancel: true,
                    ref2: Some("x".into()),
                    ..patch()
                },
                true,
                Some((Void, 400)),
            ),
            (
                bill(Paid, 1000, 1000, "MYR"),
                BillPatch {
                    ref1: Some("new".into()),
                    ..patch()
                },
                true,
                None,
            ),
        ];
        for (b, p, update, void) in cases {
            let plan = plan_patch(&b, &lines(), &p, NOW).unwrap();
            assert_eq!(plan.update.is_some(), update, "{p:?} on {b:?}");
            assert_eq!(plan.void, void, "{p:?} on {b:?}");
            assert_eq!(plan.status, b.status);
        }
    }

    #[test]
    fn field_changes_and_event_details() {
        let b = bill(BillStatus::Active, 1000, 0, "MYR");
        let p = BillPatch {
            due: Some(date!(2027 - 01 - 15)),
            ref1: Some("r1".into()),
            ref2: Some("two".into()),
            currency: Some(currency("USD")),
            cancel: false,
        };
        let plan = plan_patch(&b, &lines(), &p, NOW).unwrap();
        let u = plan.update.unwrap();
        assert_eq!(u.due_date, Some(date!(2027 - 01 - 15)));
        assert_eq!((u.ref1.as_str(), u.ref2.as_str()), ("r1", "two"));
        assert_eq!(u.currency, currency("USD"));
        assert_eq!(u.billed, 1000);
        assert_eq!(u.lines, lines());
        assert_eq!(
            u.changed,
            vec![
                ("due", "2027-01-15".to_string()),
                ("ref2", "two".to_string()),
                ("currency", "USD".to_string()),
            ]
        );
        assert!(plan.void.is_none());
    }

    #[test]
    fn currency_change_keeps_the_value() {
        // 10.00 MYR is 1000 minor units; in a zero-decimal currency it would be 10.
        let b = bill(BillStatus::Active, 1000, 0, "MYR");
        let p = BillPatch {
            currency: Some(Currency::JPY),
            ..patch()
        };
        let u = plan_patch(&b, &lines(), &p, NOW).unwrap().update.unwrap();
        assert_eq!(u.billed, 10);
        assert_eq!(u.lines[0].unit_price, 5);
        assert_eq!(u.lines[0].total, 10);
        let odd = LineAmounts {
            id: 4,
            unit_price: 1,
            total: 1,
        };
        assert_eq!(
            plan_patch(&b, &[odd], &p, NOW),
            Err(PatchRefusal::CurrencyTooPrecise(Currency::JPY))
        );
        assert_eq!(
            redenominate(1000, currency("MYR"), currency("USD")),
            Ok(1000)
        );
    }

    #[test]
    fn an_expired_bill_reports_its_status_at_now() {
        let mut b = bill(BillStatus::Active, 1000, 0, "MYR");
        b.valid_until = Some(NOW - time::Duration::hours(1));
        let plan = plan_patch(
            &b,
            &[],
            &BillPatch {
                cancel: true,
                ..patch()
            },
            NOW,
        )
        .unwrap();
        assert_eq!(plan.status, BillStatus::Expired);
        assert_eq!(plan.void, Some((BillStatus::Void, 0)));
        assert!(!plan.is_empty());
    }
}
