//! An account's history for its statement: bills, payments, reversals and account credit applied
//! or refunded as ledger entries.

use billhub_core::statement::{EntryKind, LedgerEntry};
use billhub_core::{Channel, Currency};
use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::models::PaymentRow;
use crate::pool::AnyConnection;
use crate::repo::bills::load_account_bills;
use crate::repo::payments::payment_from_row;
use crate::schema::account_credit_entries as ace;
use crate::schema::payments;
use crate::time_conv::{from_db, local_date};
use crate::{Reader, StoreError, StoreResult};

impl Reader<'_> {
    /// The account's history for a statement: non-void bills at their bill date, payments
    /// and reversals at their local date in `offset`.
    pub fn ledger_entries(
        &mut self,
        account_id: i64,
        offset: time::UtcOffset,
    ) -> StoreResult<Vec<LedgerEntry>> {
        self.with(|conn| {
            let mut out = Vec::new();
            for b in load_account_bills(conn, account_id)? {
                out.push(LedgerEntry {
                    kind: EntryKind::Bill,
                    reference: b.id,
                    public_no: b.public_no.clone(),
                    date: b.bill_date,
                    at: b.created_at,
                    amount: b.billed,
                    void: b.status == billhub_core::BillStatus::Void,
                });
            }
            // Payments from account credit are not new money (the overpayment that made the
            // credit was listed when it came in): listed at zero, with refunds of credit.
            out.extend(credit_entries(conn, account_id, offset)?);
            let rows: Vec<PaymentRow> = payments::table
                .filter(payments::account_id.eq(account_id))
                .filter(payments::channel.ne(Channel::Credit.as_db()))
                .order(payments::id.asc())
                .select(PaymentRow::as_select())
                .load(conn)?;
            for row in rows {
                let p = payment_from_row(conn, row)?;
                out.push(LedgerEntry {
                    kind: EntryKind::Payment,
                    reference: p.id,
                    public_no: p.uid.clone(),
                    date: crate::time_conv::local_date(p.paid_at, offset),
                    at: p.paid_at,
                    amount: -p.amount,
                    void: false,
                });
                if let Some(r) = &p.reversed {
                    out.push(LedgerEntry {
                        kind: EntryKind::Reversal,
                        reference: p.id,
                        public_no: p.uid.clone(),
                        date: crate::time_conv::local_date(r.created_at, offset),
                        at: r.created_at,
                        amount: p.amount,
                        void: false,
                    });
                }
            }
            Ok(out)
        })
    }
}

/// The account's credit movements for its statement: each application of credit (a payment on
/// [`Channel::Credit`], zero) and each refund of credit (positive).
fn credit_entries(
    conn: &mut AnyConnection,
    account_id: i64,
    offset: time::UtcOffset,
) -> StoreResult<Vec<LedgerEntry>> {
    let applied: Vec<(i64, String, PrimitiveDateTime)> = payments::table
        .filter(payments::account_id.eq(account_id))
        .filter(payments::channel.eq(Channel::Credit.as_db()))
        .order(payments::id.asc())
        .select((payments::id, payments::uid, payments::paid_at))
        .load(conn)?;
    let refunded: Vec<(i64, i64, PrimitiveDateTime)> = ace::table
        .filter(ace::account_id.eq(account_id))
        .filter(ace::kind.eq("refunded"))
        .order(ace::id.asc())
        .select((ace::id, ace::amount, ace::created_at))
        .load(conn)?;
    let applied = applied.into_iter().map(|(id, uid, at)| {
        let at = from_db(at);
        LedgerEntry {
            kind: EntryKind::CreditApplied,
            reference: id,
            public_no: uid,
            date: local_date(at, offset),
            at,
            amount: 0,
            void: false,
        }
    });
    let refunded = refunded.into_iter().map(|(id, amount, at)| {
        let at = from_db(at);
        LedgerEntry {
            kind: EntryKind::CreditRefund,
            reference: id,
            public_no: String::new(),
            date: local_date(at, offset),
            at,
            // Stored negative (credit taken out); the amount due grows by it.
            amount: amount.saturating_neg(),
            void: false,
        }
    });
    Ok(applied.chain(refunded).collect())
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
