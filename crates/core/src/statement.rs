//! The account statement: newest-first entries (bills positive, payments negative, reversals
//! positive, account credit refunded positive, account credit applied zero) with the running
//! amount due after each, and the opening balance before the oldest listed entry. The running
//! amount is what the bills still ask minus the account's credit, so the last line always agrees
//! with what a channel shows as due and balance. This is what Bill24's `pending_bills` shows.

use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::money::MoneyError;

/// What a ledger entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A bill (positive). `reference` is the bill id.
    Bill,
    /// A payment (negative). `reference` is the payment id.
    Payment,
    /// A reversal of a payment (positive). `reference` is the payment id.
    Reversal,
    /// Account credit paid to bills (zero: the bills now owe less by what the credit no longer
    /// holds). `reference` is the credit payment's id.
    CreditApplied,
    /// Account credit given back to the payer outside billhub (positive: the overpayment that
    /// lowered the amount due is gone). `reference` is the credit entry's id.
    CreditRefund,
}

/// One event on an account, as the store reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub kind: EntryKind,
    pub reference: i64,
    /// A bill's public number or a payment's uid, for links; empty for credit refunds.
    pub public_no: String,
    /// The local date shown (a bill's bill date, a payment's local date).
    pub date: Date,
    /// When it happened, to order entries of the same date.
    pub at: OffsetDateTime,
    /// Signed minor units: bills and reversals positive, payments negative.
    pub amount: i64,
    /// Void bills are never listed nor counted.
    pub void: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementLine {
    pub entry: LedgerEntry,
    /// The amount due after this entry.
    pub balance: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// The amount due before the oldest listed entry.
    pub opening_balance: i64,
    /// Newest first.
    pub lines: Vec<StatementLine>,
}

/// Builds the statement over every entry of an account: lists the entries dated on or after
/// `from`, at most `max_entries` of them (the newest), and carries everything older into the
/// opening balance. Invariants: `lines[i].balance = lines[i+1].balance + lines[i].amount`, and the
/// oldest line's balance is `opening_balance + amount`.
///
/// A running balance that does not fit an `i64` saturates here; [`try_account_statement`]
/// refuses it instead.
pub fn account_statement(entries: &[LedgerEntry], from: Date, max_entries: usize) -> Statement {
    statement_with(entries, from, max_entries, |running, amount| {
        Some(running.saturating_add(amount))
    })
    .unwrap_or(Statement {
        opening_balance: 0,
        lines: Vec::new(),
    })
}

/// [`account_statement`], or [`MoneyError::Overflow`] when a running balance does not fit an
/// `i64` of minor units (never a silently capped balance).
pub fn try_account_statement(
    entries: &[LedgerEntry],
    from: Date,
    max_entries: usize,
) -> Result<Statement, MoneyError> {
    statement_with(entries, from, max_entries, i64::checked_add).ok_or(MoneyError::Overflow)
}

fn statement_with(
    entries: &[LedgerEntry],
    from: Date,
    max_entries: usize,
    add: impl Fn(i64, i64) -> Option<i64>,
) -> Option<Statement> {
    let mut ordered: Vec<&LedgerEntry> = entries.iter().filter(|e| !e.void).collect();
    ordered.sort_by(|a, b| {
        (a.date, a.at, kind_rank(a.kind), a.reference).cmp(&(
            b.date,
            b.at,
            kind_rank(b.kind),
            b.reference,
        ))
    });
    let mut running = 0i64;
    let mut balances = Vec::with_capacity(ordered.len());
    for e in &ordered {
        running = add(running, e.amount)?;
        balances.push(running);
    }
    let in_window = ordered.iter().filter(|e| e.date >= from).count();
    let listed = in_window.min(max_entries);
    let first_listed = ordered.len().saturating_sub(listed);
    let opening_balance = first_listed
        .checked_sub(1)
        .and_then(|i| balances.get(i))
        .copied()
        .unwrap_or(0);
    let lines = ordered
        .iter()
        .zip(&balances)
        .skip(first_listed)
        .rev()
        .map(|(entry, balance)| StatementLine {
            entry: (*entry).clone(),
            balance: *balance,
        })
        .collect();
    Some(Statement {
        opening_balance,
        lines,
    })
}

fn kind_rank(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::Bill => 0,
        EntryKind::Payment => 1,
        EntryKind::Reversal => 2,
        EntryKind::CreditApplied => 3,
        EntryKind::CreditRefund => 4,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;
    use time::macros::{date, datetime};

    fn bill(id: i64, date: Date, amount: i64) -> LedgerEntry {
        crate::testing::bill(id)
            .bill_date(date)
            .billed(amount)
            .ledger_entry()
    }

    /// Issue 10, defect 12: a running balance beyond `i64` is refused by
    /// [`try_account_statement`], never capped.
    #[test]
    fn running_balance_that_does_not_fit_is_refused() {
        let entries = vec![
            bill(1, date!(2025 - 01 - 01), i64::MAX - 5),
            bill(2, date!(2025 - 02 - 01), 10),
        ];
        assert_eq!(
            try_account_statement(&entries, date!(2024 - 01 - 01), 24),
            Err(MoneyError::Overflow)
        );
        let fits = vec![
            bill(1, date!(2025 - 01 - 01), i64::MAX - 5),
            bill(2, date!(2025 - 02 - 01), 5),
        ];
        let s = try_account_statement(&fits, date!(2024 - 01 - 01), 24).unwrap();
        assert_eq!(s.lines[0].balance, i64::MAX);
    }

    #[test]
    fn seed_example() {
        // Bill24's pending_bills page: opening 20,000 KHR, six bills of 5,000.
        let mut entries = vec![bill(1, date!(2024 - 05 - 01), 20000)];
        for (i, d) in [
            date!(2025 - 05 - 20),
            date!(2025 - 06 - 01),
            date!(2025 - 06 - 15),
            date!(2025 - 07 - 01),
            date!(2025 - 08 - 01),
            date!(2025 - 09 - 01),
        ]
        .into_iter()
        .enumerate()
        {
            entries.push(bill(i as i64 + 2, d, 5000));
        }
        let s = account_statement(&entries, date!(2024 - 09 - 01), 24);
        assert_eq!(s.opening_balance, 20000);
        let balances: Vec<i64> = s.lines.iter().map(|l| l.balance).collect();
        assert_eq!(balances, vec![50000, 45000, 40000, 35000, 30000, 25000]);
        assert_eq!(s.lines[0].entry.date, date!(2025 - 09 - 01));
    }

    #[test]
    fn payments_negative_void_skipped_and_cap() {
        let mut entries = vec![
            bill(1, date!(2025 - 01 - 01), 1000),
            bill(2, date!(2025 - 02 - 01), 1000),
        ];
        entries.push(LedgerEntry {
            kind: EntryKind::Payment,
            reference: 7,
            public_no: String::new(),
            date: date!(2025 - 02 - 01),
            at: datetime!(2025-02-01 10:00 UTC),
            amount: -1500,
            void: false,
        });
        entries.push(
            crate::testing::bill(3)
                .bill_date(date!(2025 - 03 - 01))
                .billed(999)
                .status(crate::BillStatus::Void)
                .ledger_entry(),
        );
        let s = account_statement(&entries, date!(2024 - 01 - 01), 24);
        assert_eq!(s.lines.len(), 3);
        assert_eq!(s.lines[0].entry.amount, -1500);
        assert_eq!(s.lines[0].balance, 500);
        let capped = account_statement(&entries, date!(2024 - 01 - 01), 2);
        assert_eq!(capped.opening_balance, 1000);
        assert_eq!(capped.lines.len(), 2);
        let none = account_statement(&entries, date!(2026 - 01 - 01), 24);
        assert_eq!(none.opening_balance, 500);
        assert!(none.lines.is_empty());
    }
}
