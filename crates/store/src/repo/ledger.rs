//! An account's history for its statement: bills, payments, reversals and account credit applied
//! or refunded as ledger entries.

use billhub_core::statement::{EntryKind, LedgerEntry};
use billhub_core::{Bill, BillStatus, Channel, Currency};
use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::pool::AnyConnection;
use crate::repo::bills::load_account_bills;
use crate::schema::account_credit_entries as ace;
use crate::schema::{payments, reversals};
use crate::time_conv::{from_db, local_date};
use crate::{Reader, StoreError, StoreResult};

/// An account's ledger: the entries of its statement and the currencies money moved in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLedger {
    /// Bills (void ones marked), credit applied, credit refunded, then payments each followed
    /// by its reversal; each kind in id order.
    pub entries: Vec<LedgerEntry>,
    /// The distinct currency codes of the account's bills that are not void and of its
    /// payments, in code order.
    pub currencies: Vec<String>,
}

/// One payment of an account as its statement lists it, with when it was reversed.
type PaymentLine = (
    i64,
    String,
    String,
    String,
    i64,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
);

/// One refund of account credit: its id, amount (stored negative) and when.
type RefundLine = (i64, i64, PrimitiveDateTime);

/// Every payment of the account with its reversal's date (at most one; one statement, a left
/// join) and its credit refunds (one statement), each in id order.
fn payments_and_refunds(
    conn: &mut AnyConnection,
    account_id: i64,
) -> StoreResult<(Vec<PaymentLine>, Vec<RefundLine>)> {
    let lines: Vec<PaymentLine> = crate::pool::on_backend!(conn, |c| payments::table
        .left_join(reversals::table)
        .filter(payments::account_id.eq(account_id))
        .order(payments::id.asc())
        .select((
            payments::id,
            payments::uid,
            payments::channel,
            payments::currency,
            payments::amount,
            payments::paid_at,
            reversals::created_at.nullable(),
        ))
        .load::<PaymentLine>(c))?;
    let refunded: Vec<RefundLine> = crate::pool::on_backend!(conn, |c| {
        ace::table
            .filter(ace::account_id.eq(account_id))
            .filter(ace::kind.eq("refunded"))
            .order(ace::id.asc())
            .select((ace::id, ace::amount, ace::created_at))
            .load::<RefundLine>(c)
    })?;
    Ok((lines, refunded))
}

/// The account's ledger from `bills` (the account's bills, already read) and two more
/// statements: its payments with their reversals, its credit refunds.
pub(crate) fn load_ledger(
    conn: &mut AnyConnection,
    account_id: i64,
    bills: &[Bill],
    offset: time::UtcOffset,
) -> StoreResult<AccountLedger> {
    let mut entries = Vec::new();
    let mut currencies: Vec<String> = Vec::new();
    for b in bills {
        let void = b.status == BillStatus::Void;
        if !void {
            currencies.push(b.currency.code().to_string());
        }
        entries.push(LedgerEntry {
            kind: EntryKind::Bill,
            reference: b.id,
            public_no: b.public_no.clone(),
            date: b.bill_date,
            at: b.created_at,
            amount: b.billed,
            void,
        });
    }
    let (lines, refunded) = payments_and_refunds(conn, account_id)?;
    // Payments from account credit are not new money (the overpayment that made the credit
    // was listed when it came in): listed at zero, before refunds of credit.
    let credit = Channel::Credit.as_db();
    for (id, uid, channel, currency, _, paid_at, _) in &lines {
        currencies.push(currency.clone());
        if *channel == credit {
            let at = from_db(*paid_at);
            entries.push(LedgerEntry {
                kind: EntryKind::CreditApplied,
                reference: *id,
                public_no: uid.clone(),
                date: local_date(at, offset),
                at,
                amount: 0,
                void: false,
            });
        }
    }
    for (id, amount, at) in refunded {
        let at = from_db(at);
        entries.push(LedgerEntry {
            kind: EntryKind::CreditRefund,
            reference: id,
            public_no: String::new(),
            date: local_date(at, offset),
            at,
            // Stored negative (credit taken out); the amount due grows by it.
            amount: amount.saturating_neg(),
            void: false,
        });
    }
    for (id, uid, channel, _, amount, paid_at, reversed_at) in lines {
        if channel == credit {
            continue;
        }
        let at = from_db(paid_at);
        entries.push(LedgerEntry {
            kind: EntryKind::Payment,
            reference: id,
            public_no: uid.clone(),
            date: local_date(at, offset),
            at,
            amount: amount.saturating_neg(),
            void: false,
        });
        if let Some(r) = reversed_at {
            let at = from_db(r);
            entries.push(LedgerEntry {
                kind: EntryKind::Reversal,
                reference: id,
                public_no: uid,
                date: local_date(at, offset),
                at,
                amount,
                void: false,
            });
        }
    }
    currencies.sort();
    currencies.dedup();
    Ok(AccountLedger {
        entries,
        currencies,
    })
}

impl Reader<'_> {
    /// The account's history for a statement: non-void bills at their bill date, payments
    /// and reversals at their local date in `offset`.
    pub fn ledger_entries(
        &mut self,
        account_id: i64,
        offset: time::UtcOffset,
    ) -> StoreResult<Vec<LedgerEntry>> {
        self.with(|conn| {
            let bills = load_account_bills(conn, account_id)?;
            Ok(load_ledger(conn, account_id, &bills, offset)?.entries)
        })
    }
}

crate::tx::store_reads! {
    fn ledger_entries(&self, account_id: i64, offset: time::UtcOffset) -> Vec<LedgerEntry>;
}

/// The credit of one account in one currency: the sum of its ledger entries.
pub(crate) fn balance(
    conn: &mut AnyConnection,
    account_id: i64,
    currency: Currency,
) -> StoreResult<i64> {
    let amounts: Vec<i64> = ace::table
        .filter(ace::account_id.eq(account_id))
        .filter(ace::currency.eq(currency.code()))
        .select(ace::amount)
        .load(conn)?;
    billhub_core::money::checked_sum_minor(amounts).map_err(|_| {
        StoreError::Corrupt(format!(
            "the {} credit of account {account_id} does not fit i64 minor units",
            currency.code()
        ))
    })
}
