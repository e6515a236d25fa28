//! Test builders (the `testing` feature): one way to write a bill or a payment in a test, with
//! defaults a test changes only where it matters.
//!
//! ```
//! use billhub_core::{PaymentRule, testing};
//! let b = testing::bill(1).billed(1000).paid(200).rule(PaymentRule::Open).build();
//! assert_eq!(b.outstanding(), 800);
//! ```
//!
//! Defaults: organization 1, account 1, USD, billed 1000, nothing paid, rule `exact`, bill date
//! 2025-01-01, due 2025-02-01, no expiry, created at 2025-01-01 00:00 UTC plus `id` seconds (so
//! lower ids are older), public number `B{id:07}`, invoice `INV-{id}`. The status follows from
//! billed and paid (`active`, `partially_paid`, `paid`) unless set.

use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

use crate::bill::{Bill, BillStatus, PaymentRule};
use crate::money::Currency;
use crate::payment::{Payment, Reversal};
use crate::rules::Allocation;
use crate::statement::{EntryKind, LedgerEntry};

/// The moment every builder's timestamps start from.
pub const EPOCH: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);

/// A bill with the defaults above; see [`BillBuilder`].
pub fn bill(id: i64) -> BillBuilder {
    BillBuilder {
        bill: Bill {
            id,
            organization_id: 1,
            account_id: 1,
            collection_id: None,
            public_no: format!("B{id:07}"),
            invoice_number: format!("INV-{id}"),
            ref1: String::new(),
            ref2: String::new(),
            name: String::new(),
            description: String::new(),
            currency: Currency::USD,
            billed: 1000,
            paid: 0,
            bill_date: date!(2025 - 01 - 01),
            due_date: Some(date!(2025 - 02 - 01)),
            valid_until: None,
            rule: PaymentRule::Exact,
            status: BillStatus::Active,
            version: 0,
            created_at: EPOCH + Duration::seconds(id),
            updated_at: EPOCH,
        },
        status: None,
    }
}

/// Builds a [`Bill`] for a test.
#[derive(Debug, Clone)]
#[must_use]
pub struct BillBuilder {
    bill: Bill,
    status: Option<BillStatus>,
}

impl BillBuilder {
    pub fn organization(mut self, organization_id: i64) -> Self {
        self.bill.organization_id = organization_id;
        self
    }

    pub fn account(mut self, account_id: i64) -> Self {
        self.bill.account_id = account_id;
        self
    }

    pub fn public_no(mut self, public_no: &str) -> Self {
        self.bill.public_no = public_no.to_string();
        self
    }

    pub fn invoice_number(mut self, invoice_number: &str) -> Self {
        self.bill.invoice_number = invoice_number.to_string();
        self
    }

    pub fn currency(mut self, currency: Currency) -> Self {
        self.bill.currency = currency;
        self
    }

    /// Minor units.
    pub fn billed(mut self, billed: i64) -> Self {
        self.bill.billed = billed;
        self
    }

    /// Minor units.
    pub fn paid(mut self, paid: i64) -> Self {
        self.bill.paid = paid;
        self
    }

    pub fn rule(mut self, rule: PaymentRule) -> Self {
        self.bill.rule = rule;
        self
    }

    /// Sets the status instead of deriving it from billed and paid.
    pub fn status(mut self, status: BillStatus) -> Self {
        self.status = Some(status);
        self
    }

    pub fn bill_date(mut self, bill_date: Date) -> Self {
        self.bill.bill_date = bill_date;
        self
    }

    pub fn due_date(mut self, due_date: Option<Date>) -> Self {
        self.bill.due_date = due_date;
        self
    }

    pub fn valid_until(mut self, valid_until: Option<OffsetDateTime>) -> Self {
        self.bill.valid_until = valid_until;
        self
    }

    pub fn created_at(mut self, created_at: OffsetDateTime) -> Self {
        self.bill.created_at = created_at;
        self
    }

    pub fn build(self) -> Bill {
        let mut bill = self.bill;
        bill.status = self.status.unwrap_or(if bill.paid == 0 {
            BillStatus::Active
        } else if bill.paid >= bill.billed {
            BillStatus::Paid
        } else {
            BillStatus::PartiallyPaid
        });
        bill
    }

    /// The bill as an account statement lists it: dated its bill date (at midnight UTC), its
    /// billed amount, skipped when void.
    pub fn ledger_entry(self) -> LedgerEntry {
        let bill = self.build();
        LedgerEntry {
            kind: EntryKind::Bill,
            reference: bill.id,
            public_no: bill.public_no,
            date: bill.bill_date,
            at: bill.bill_date.midnight().assume_utc(),
            amount: bill.billed,
            void: bill.status == BillStatus::Void,
        }
    }
}

/// A payment of `amount` (minor units, USD) by channel `va:1` on organization 1, account 1, paid
/// at 2025-01-01 00:00 UTC, wholly allocated to bill 1, not reversed; see [`PaymentBuilder`].
pub fn payment(id: i64, amount: i64) -> PaymentBuilder {
    PaymentBuilder {
        payment: Payment {
            id,
            uid: format!("00000000-0000-4000-8000-{id:012}"),
            organization_id: 1,
            account_id: Some(1),
            channel: "va:1".into(),
            channel_ref: format!("ref-{id}"),
            method: String::new(),
            currency: Currency::USD,
            amount,
            fee: 0,
            credit: 0,
            allocations: vec![Allocation { bill_id: 1, amount }],
            payer_name: String::new(),
            details: "{}".into(),
            paid_at: EPOCH,
            created_at: EPOCH,
            reversed: None,
        },
    }
}

/// Builds a [`Payment`] for a test.
#[derive(Debug, Clone)]
#[must_use]
pub struct PaymentBuilder {
    payment: Payment,
}

impl PaymentBuilder {
    pub fn organization(mut self, organization_id: i64) -> Self {
        self.payment.organization_id = organization_id;
        self
    }

    pub fn account(mut self, account_id: Option<i64>) -> Self {
        self.payment.account_id = account_id;
        self
    }

    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.payment.channel = channel.into();
        self
    }

    pub fn currency(mut self, currency: Currency) -> Self {
        self.payment.currency = currency;
        self
    }

    /// Minor units, charged on top of the amount.
    pub fn fee(mut self, fee: i64) -> Self {
        self.payment.fee = fee;
        self
    }

    /// The part kept as account credit: the allocation shrinks by as much.
    pub fn credit(mut self, credit: i64) -> Self {
        self.payment.credit = credit;
        let applied = self.payment.amount - credit;
        self.payment.allocations = if applied > 0 {
            vec![Allocation {
                bill_id: 1,
                amount: applied,
            }]
        } else {
            Vec::new()
        };
        self
    }

    pub fn allocations(mut self, allocations: Vec<Allocation>) -> Self {
        self.payment.allocations = allocations;
        self
    }

    pub fn paid_at(mut self, paid_at: OffsetDateTime) -> Self {
        self.payment.paid_at = paid_at;
        self.payment.created_at = paid_at;
        self
    }

    /// Marks it reversed (at `at`).
    pub fn reversed(mut self, at: OffsetDateTime) -> Self {
        self.payment.reversed = Some(Reversal {
            id: self.payment.id,
            payment_id: self.payment.id,
            channel_ref: format!("reversal-{}", self.payment.id),
            reason: String::new(),
            created_at: at,
        });
        self
    }

    pub fn build(self) -> Payment {
        self.payment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_paid_unless_set() {
        let table = [
            (0, BillStatus::Active),
            (1, BillStatus::PartiallyPaid),
            (1000, BillStatus::Paid),
        ];
        for (paid, status) in table {
            assert_eq!(bill(1).paid(paid).build().status, status);
        }
        assert_eq!(
            bill(1).status(BillStatus::Void).build().status,
            BillStatus::Void
        );
        assert!(bill(1).build().created_at < bill(2).build().created_at);
    }

    #[test]
    fn payment_credit_shrinks_the_allocation() {
        let p = payment(7, 1500).credit(500).build();
        assert_eq!(
            p.allocations,
            vec![Allocation {
                bill_id: 1,
                amount: 1000
            }]
        );
        assert!(payment(8, 500).credit(500).build().allocations.is_empty());
    }
}
