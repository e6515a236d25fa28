//! An account's history for its statement: bills, payments and reversals as ledger entries.

use billhub_core::Channel;
use billhub_core::statement::{EntryKind, LedgerEntry};
use diesel::prelude::*;

use crate::models::PaymentRow;
use crate::repo::bills::load_account_bills;
use crate::repo::payments::payment_from_row;
use crate::schema::payments;
use crate::{Reader, StoreResult};

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
            // Payments from account credit are not new money: the overpayment that made the
            // credit was listed when it came in.
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
                    date: p.paid_at.to_offset(offset).date(),
                    at: p.paid_at,
                    amount: -p.amount,
                    void: false,
                });
                if let Some(r) = &p.reversed {
                    out.push(LedgerEntry {
                        kind: EntryKind::Reversal,
                        reference: p.id,
                        public_no: p.uid.clone(),
                        date: r.created_at.to_offset(offset).date(),
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

crate::tx::store_reads! {
    fn ledger_entries(&self, account_id: i64, offset: time::UtcOffset) -> Vec<LedgerEntry>;
}
