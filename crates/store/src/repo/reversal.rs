//! Reversing a payment: once, with its own reference; the same reversal again returns the first
//! result. Whether it may be reversed is core's [`may_reverse`].

use billhub_core::reversal::{Claimed, Requester, ReversalCase, ReversalPlan, may_reverse};
use billhub_core::{BillTransition, Channel, Payment, Rejection, Reversal};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::models::ReversalRow;
use crate::pool::AnyConnection;
use crate::repo::bills::{append_event, load_bill, update_bill_versioned};
use crate::repo::credit::lock_account;
use crate::repo::ledger::balance;
use crate::repo::orgs::load_settings;
use crate::repo::outbox::enqueue_event;
use crate::repo::outbox::targets_for_bill;
use crate::repo::payments::load_payment;
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
    /// Who asks: a channel (or operator), or the VA sandbox (which may reverse only its own
    /// payments).
    pub requester: Requester,
    /// The amount the request claims, checked against the payment.
    pub claimed: Claimed,
    /// When set, the reversal is refused after `paid_at + window`.
    pub window: Option<time::Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalOutcome {
    pub payment: Payment,
    pub reversal: Reversal,
    pub replayed: bool,
}

/// The same reversal request again: the first result, or `InconsistentReplay`.
fn find_repeat(
    conn: &mut AnyConnection,
    req: &ReversalRequest,
    legacy: &[String],
) -> StoreResult<Option<ReversalOutcome>> {
    let existing: Option<ReversalRow> = reversals::table
        .filter(reversals::channel.eq(&req.channel))
        .filter(reversals::channel_ref.eq(&req.channel_ref))
        .select(ReversalRow::as_select())
        .first(conn)
        .optional()?;
    let Some(r) = existing else {
        return Ok(None);
    };
    let same = billhub_core::fingerprint::Fingerprint {
        current: req.request_hash.clone(),
        legacy: legacy.to_vec(),
    }
    .matches(&r.request_hash);
    if !same || r.payment_id != req.payment_id {
        return Err(StoreError::Rejected(Rejection::InconsistentReplay));
    }
    let payment = load_payment(conn, r.payment_id)?;
    Ok(Some(ReversalOutcome {
        payment,
        reversal: r.into(),
        replayed: true,
    }))
}

/// Core decides ([`may_reverse`]) on the payment and the account's credit read under the
/// account's lock, so a concurrent credit application or refund cannot spend the credit this
/// reversal takes back.
fn reverse_in_tx(
    conn: &mut AnyConnection,
    req: &ReversalRequest,
    legacy: &[String],
    now: OffsetDateTime,
) -> StoreResult<ReversalOutcome> {
    if let Some(repeat) = find_repeat(conn, req, legacy)? {
        return Ok(repeat);
    }
    let payment = load_payment(conn, req.payment_id)?;
    let credit_balance = match payment.account_id {
        Some(account_id) if payment.organization_id == req.organization_id => {
            lock_account(conn, account_id)?;
            balance(conn, account_id, payment.currency)?
        }
        _ => 0,
    };
    let plan = may_reverse(
        &ReversalCase {
            payment: &payment,
            organization_id: req.organization_id,
            requester: req.requester,
            claimed: req.claimed,
            window: req.window,
            credit_balance,
        },
        now,
    )?;
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
    undo_allocations(conn, req.organization_id, &payment, &plan, reversal_id, now)?;
    undo_credit(conn, &payment, &plan, now)?;
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

/// Gives each bill its allocation back (through the status machine), with its event and
/// notification.
fn undo_allocations(
    conn: &mut AnyConnection,
    organization_id: i64,
    payment: &Payment,
    plan: &ReversalPlan,
    reversal_id: i64,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let settings = load_settings(conn, organization_id)?;
    for alloc in &plan.undo {
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
        let targets = targets_for_bill(conn, bill.id, &settings)?;
        enqueue_event(
            conn,
            organization_id,
            "payment.reversed",
            Some(bill.id),
            Some(payment.id),
            &payload,
            &targets,
            now,
        )?;
    }
    Ok(())
}

/// Takes back the credit the payment's overpayment created; a payment made from account credit
/// gives that credit back.
fn undo_credit(
    conn: &mut AnyConnection,
    payment: &Payment,
    plan: &ReversalPlan,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let Some(account_id) = payment.account_id else {
        return Ok(());
    };
    let mut entries: Vec<(i64, &str)> = Vec::new();
    if plan.credit > 0 {
        entries.push((-plan.credit, "reversal"));
    }
    if Channel::Credit.eq(payment.channel.as_str()) {
        let spent = payment
            .amount
            .checked_sub(payment.credit)
            .ok_or_else(|| StoreError::Corrupt(format!("payment {} amounts", payment.id)))?;
        entries.push((spent, "restored"));
    }
    for (amount, kind) in entries {
        diesel::insert_into(ace::table)
            .values((
                ace::organization_id.eq(payment.organization_id),
                ace::account_id.eq(account_id),
                ace::currency.eq(payment.currency.code()),
                ace::amount.eq(amount),
                ace::kind.eq(kind),
                ace::payment_id.eq(Some(payment.id)),
                ace::created_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

impl Writer<'_> {
    /// Reverses a whole payment once; the same reversal request again returns the first result.
    pub fn reverse_payment(
        &mut self,
        req: &ReversalRequest,
        now: OffsetDateTime,
    ) -> StoreResult<ReversalOutcome> {
        self.reverse_payment_with_legacy(req, &[], now)
    }

    /// [`Writer::reverse_payment`], where a recorded reversal whose fingerprint is one of
    /// `legacy` (earlier versions' forms of this same request) is a repeat too.
    pub fn reverse_payment_with_legacy(
        &mut self,
        req: &ReversalRequest,
        legacy: &[String],
        now: OffsetDateTime,
    ) -> StoreResult<ReversalOutcome> {
        self.with(|conn| reverse_in_tx(conn, req, legacy, now))
    }
}

crate::tx::store_writes! {
    fn reverse_payment(&self, req: &ReversalRequest, now: OffsetDateTime) -> ReversalOutcome;
    fn reverse_payment_with_legacy(&self, req: &ReversalRequest, legacy: &[String], now: OffsetDateTime) -> ReversalOutcome;
}
