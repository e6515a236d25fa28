//! Reversing a payment: once, with its own reference; the same reversal again returns the first
//! result.

use billhub_core::{BillTransition, Payment, Rejection, Reversal};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::models::ReversalRow;
use crate::pool::AnyConnection;
use crate::repo::bills::{append_event, load_bill, update_bill_versioned};
use crate::repo::orgs::load_settings;
use crate::repo::outbox::enqueue_event;
use crate::repo::payments::load_payment;
use crate::repo::posting::targets_for_bill;
use crate::schema::{account_credit_entries as ace, reversals};
use crate::time_conv::to_db;
use crate::{InvalidKind, StoreError, StoreResult, Writer};

#[derive(Debug, Clone)]
pub struct ReversalRequest {
    pub organization_id: i64,
    pub payment_id: i64,
    pub channel: String,
    pub channel_ref: String,
    pub request_hash: String,
    pub reason: String,
    /// When set, the reversal is refused after `paid_at + window`.
    pub window: Option<time::Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalOutcome {
    pub payment: Payment,
    pub reversal: Reversal,
    pub replayed: bool,
}

fn reverse_in_tx(
    conn: &mut AnyConnection,
    req: &ReversalRequest,
    now: OffsetDateTime,
) -> StoreResult<ReversalOutcome> {
    let existing: Option<ReversalRow> = reversals::table
        .filter(reversals::channel.eq(&req.channel))
        .filter(reversals::channel_ref.eq(&req.channel_ref))
        .select(ReversalRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(r) = existing {
        if r.request_hash != req.request_hash || r.payment_id != req.payment_id {
            return Err(StoreError::Rejected(Rejection::InconsistentReplay));
        }
        let payment = load_payment(conn, r.payment_id)?;
        return Ok(ReversalOutcome {
            payment,
            reversal: r.into(),
            replayed: true,
        });
    }
    let payment = load_payment(conn, req.payment_id)?;
    if payment.organization_id != req.organization_id {
        return Err(StoreError::Rejected(Rejection::NotFound));
    }
    if payment.reversed.is_some() {
        return Err(StoreError::Rejected(Rejection::AlreadyReversed));
    }
    if let Some(window) = req.window
        && now > payment.paid_at + window
    {
        return Err(StoreError::Rejected(Rejection::ReversalWindowPassed));
    }
    let settings = load_settings(conn, req.organization_id)?;
    let reversal_id: i64 = diesel::insert_into(reversals::table)
        .values((
            reversals::payment_id.eq(payment.id),
            reversals::channel.eq(&req.channel),
            reversals::channel_ref.eq(&req.channel_ref),
            reversals::request_hash.eq(&req.request_hash),
            reversals::reason.eq(&req.reason),
            reversals::created_at.eq(to_db(now)),
        ))
        .returning(reversals::id)
        .get_result(conn)?;
    for alloc in &payment.allocations {
        let bill = load_bill(conn, alloc.bill_id)?;
        let (status, paid) = billhub_core::bill::transition(
            bill.status,
            bill.billed,
            bill.paid,
            BillTransition::Reverse(alloc.amount),
        )
        .map_err(|e| StoreError::Invalid(InvalidKind::Transition(e)))?;
        update_bill_versioned(conn, &bill, status, paid, now)?;
        append_event(
            conn,
            bill.id,
            "reversal",
            Some(payment.id),
            Some(alloc.amount),
            status,
            paid,
            "{}",
            now,
        )?;
        let payload = serde_json::json!({ "amount": alloc.amount, "currency": bill.currency.code(), "paid_after": paid, "status_after": status.as_str(), "reversal_id": reversal_id }).to_string();
        let targets = targets_for_bill(conn, bill.id, settings.va_webhook_url.as_deref())?;
        enqueue_event(
            conn,
            req.organization_id,
            "payment.reversed",
            Some(bill.id),
            Some(payment.id),
            &payload,
            &targets,
            now,
        )?;
    }
    if payment.credit > 0
        && let Some(account_id) = payment.account_id
    {
        diesel::insert_into(ace::table)
            .values((
                ace::organization_id.eq(req.organization_id),
                ace::account_id.eq(account_id),
                ace::currency.eq(payment.currency.code()),
                ace::amount.eq(-payment.credit),
                ace::kind.eq("reversal"),
                ace::payment_id.eq(Some(payment.id)),
                ace::created_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    let payment = load_payment(conn, payment.id)?;
    let reversal: ReversalRow = reversals::table
        .filter(reversals::id.eq(reversal_id))
        .select(ReversalRow::as_select())
        .first(conn)?;
    Ok(ReversalOutcome {
        payment,
        reversal: reversal.into(),
        replayed: false,
    })
}

impl Writer<'_> {
    /// Reverses a whole payment once; the same reversal request again returns the first result.
    pub fn reverse_payment(
        &mut self,
        req: &ReversalRequest,
        now: OffsetDateTime,
    ) -> StoreResult<ReversalOutcome> {
        self.with(|conn| reverse_in_tx(conn, req, now))
    }
}

crate::tx::store_writes! {
    fn reverse_payment(&self, req: &ReversalRequest, now: OffsetDateTime) -> ReversalOutcome;
}
