//! Payments as recorded: loading them with their allocations and reversal, and the request
//! fingerprint replays are recognised by. Posting lives in [`super::posting`], reversal in
//! [`super::reversal`].

use billhub_core::{Allocation, Payment, Reversal};
use diesel::prelude::*;

use crate::models::{PaymentRow, ReversalRow, currency};
use crate::pool::AnyConnection;
use crate::schema::{payment_allocations as pa, payments, reversals};
use crate::time_conv::from_db;
use crate::{Entity, Reader, StoreError, StoreResult};

/// The v1 request fingerprint: SHA-256 over the parts, each length-prefixed so that no two
/// different part lists collide by concatenation ([`billhub_core::fingerprint::v1`]). Gateways
/// store v2 ([`billhub_core::fingerprint::Fingerprint`]) and keep this form as a legacy one.
pub fn fingerprint(parts: &[&str]) -> String {
    billhub_core::fingerprint::v1(parts)
}

pub(crate) fn load_payment(conn: &mut AnyConnection, id: i64) -> StoreResult<Payment> {
    let row: PaymentRow = payments::table
        .filter(payments::id.eq(id))
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found(Entity::Payment, id))?;
    payment_from_row(conn, row)
}

pub(crate) fn payment_from_row(conn: &mut AnyConnection, row: PaymentRow) -> StoreResult<Payment> {
    let allocations: Vec<(i64, i64)> = pa::table
        .filter(pa::payment_id.eq(row.id))
        .order(pa::id.asc())
        .select((pa::bill_id, pa::amount))
        .load(conn)?;
    let reversed: Option<ReversalRow> = reversals::table
        .filter(reversals::payment_id.eq(row.id))
        .select(ReversalRow::as_select())
        .first(conn)
        .optional()?;
    Ok(Payment {
        id: row.id,
        uid: row.uid,
        organization_id: row.organization_id,
        account_id: row.account_id,
        channel: row.channel,
        channel_ref: row.channel_ref,
        method: row.method,
        currency: currency(&row.currency)?,
        amount: row.amount,
        fee: row.fee,
        credit: row.credit,
        allocations: allocations
            .into_iter()
            .map(|(bill_id, amount)| Allocation { bill_id, amount })
            .collect(),
        payer_name: row.payer_name,
        details: row.details,
        paid_at: from_db(row.paid_at),
        created_at: from_db(row.created_at),
        reversed: reversed.map(Reversal::from),
    })
}

impl Reader<'_> {
    pub fn payment(&mut self, id: i64) -> StoreResult<Payment> {
        self.with(|conn| load_payment(conn, id))
    }

    pub fn payment_by_uid(&mut self, uid: &str) -> StoreResult<Option<Payment>> {
        self.with(|conn| {
            let id: Option<i64> = payments::table
                .filter(payments::uid.eq(uid))
                .select(payments::id)
                .first(conn)
                .optional()?;
            id.map(|id| load_payment(conn, id)).transpose()
        })
    }

    pub fn payment_by_channel_ref(
        &mut self,
        channel: &str,
        channel_ref: &str,
    ) -> StoreResult<Option<Payment>> {
        self.with(|conn| {
            let id: Option<i64> = payments::table
                .filter(payments::channel.eq(channel))
                .filter(payments::channel_ref.eq(channel_ref))
                .select(payments::id)
                .first(conn)
                .optional()?;
            id.map(|id| load_payment(conn, id)).transpose()
        })
    }

    /// Payments with an allocation on this bill, oldest first.
    pub fn payments_of_bill(&mut self, bill_id: i64) -> StoreResult<Vec<Payment>> {
        self.with(|conn| {
            let ids: Vec<i64> = pa::table
                .filter(pa::bill_id.eq(bill_id))
                .order(pa::payment_id.asc())
                .select(pa::payment_id)
                .load(conn)?;
            let mut seen = Vec::new();
            for id in ids {
                if !seen.contains(&id) {
                    seen.push(id);
                }
            }
            seen.into_iter().map(|id| load_payment(conn, id)).collect()
        })
    }

    /// Every payment of an account (including pure credit), oldest first.
    pub fn payments_of_account(&mut self, account_id: i64) -> StoreResult<Vec<Payment>> {
        self.with(|conn| {
            let ids: Vec<i64> = payments::table
                .filter(payments::account_id.eq(account_id))
                .order(payments::id.asc())
                .select(payments::id)
                .load(conn)?;
            ids.into_iter().map(|id| load_payment(conn, id)).collect()
        })
    }
}

crate::tx::store_reads! {
    fn payment(&self, id: i64) -> Payment;
    fn payment_by_uid(&self, uid: &str) -> Option<Payment>;
    fn payment_by_channel_ref(&self, channel: &str, channel_ref: &str) -> Option<Payment>;
    fn payments_of_bill(&self, bill_id: i64) -> Vec<Payment>;
    fn payments_of_account(&self, account_id: i64) -> Vec<Payment>;
}
