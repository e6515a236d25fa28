//! Posting payments and reversals: the transactions every channel goes through.
//!
//! [`Store::post_payment`]:
//! 1. a payment (or unapplied record) with the same channel + reference exists: same content
//!    (request hash) returns the first result with `replayed = true`; other content is
//!    [`Rejection::InconsistentReplay`];
//! 2. read the target bills fresh and decide with [`billhub_core::rules::decide`];
//! 3. insert the payment and its allocations; update each bill through core's status machine
//!    only if its version is unchanged (a lost race reruns the whole transaction, bounded);
//! 4. append bill events, record account credit, enqueue notification events;
//! 5. commit.
//!
//! A refusal changes nothing, unless the caller asks to record the money as unapplied (a
//! channel that has already taken it): then the unapplied record is the result.

use billhub_core::rules::{Decision, Target as RuleTarget, decide};
use billhub_core::statement::{EntryKind, LedgerEntry};
use billhub_core::{
    Allocation, BillTransition, Money, Payment, Rejection, Reversal, SettlementMode,
};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::models::{PaymentRow, ReversalRow, UnappliedRow, currency};
use crate::pool::AnyConnection;
use crate::repo::bills::{append_event, load_account_bills, load_bill, update_bill_versioned};
use crate::repo::orgs::{load_org, load_settings};
use crate::repo::outbox::{Target, enqueue_event};
use crate::schema::{
    account_credit_entries as ace, bills, collections, payment_allocations as pa, payments,
    reversals, unapplied_payments as up,
};
use crate::time_conv::{from_db, to_db};
use crate::{ConflictKind, Entity, InvalidKind, Reader, StoreError, StoreResult, Writer};

/// What a payment is aimed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentTarget {
    /// One bill, under its own rule.
    Bill { bill_id: i64 },
    /// An account's bills, under `mode` (the organization's `settlement` setting when `None`).
    Account {
        account_id: i64,
        mode: Option<SettlementMode>,
        chosen: Option<Vec<i64>>,
    },
    /// Nothing billhub knows (an unknown consumer code): always refused or unapplied.
    Unknown { account_code: String },
}

/// What to do with money that core refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRejection {
    /// Refuse; nothing is written (the channel has not taken the money).
    Refuse,
    /// Record it as unapplied (the channel has already taken the money).
    RecordUnapplied,
}

#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub organization_id: i64,
    /// `bill24`, `va:{channel_id}`, `postpaid:{channel_id}`, `sandbox`, ...
    pub channel: String,
    pub channel_ref: String,
    /// A fingerprint of the content that must be identical on a replay (see [`fingerprint`]).
    pub request_hash: String,
    pub target: PaymentTarget,
    pub amount: Money,
    /// Fee charged on top by the channel (recorded, never applied to bills), minor units.
    pub fee: i64,
    pub method: String,
    pub payer_name: String,
    /// JSON object of channel details.
    pub details: String,
    pub paid_at: OffsetDateTime,
    pub on_rejection: OnRejection,
}

/// Money that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnappliedPayment {
    pub id: i64,
    pub organization_id: Option<i64>,
    pub channel: String,
    pub channel_ref: String,
    pub account_code: String,
    pub currency: String,
    pub amount: i64,
    /// The core rejection, as JSON.
    pub reason: String,
    pub details: String,
    /// `open`, `applied` or `refunded`.
    pub status: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostResult {
    Posted(Payment),
    Unapplied(UnappliedPayment),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOutcome {
    pub result: PostResult,
    /// True when this answers a repeat of an already recorded request.
    pub replayed: bool,
}

impl PaymentOutcome {
    pub fn payment(&self) -> Option<&Payment> {
        match &self.result {
            PostResult::Posted(p) => Some(p),
            PostResult::Unapplied(_) => None,
        }
    }
}

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

/// A stable fingerprint of request content for replay checks: SHA-256 over the parts, each
/// length-prefixed so that no two different part lists collide by concatenation.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push_str(&p.len().to_string());
        s.push(':');
        s.push_str(p);
        s.push(';');
    }
    billhub_core::signature::sha256_hex(s.as_bytes())
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

fn payment_from_row(conn: &mut AnyConnection, row: PaymentRow) -> StoreResult<Payment> {
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

fn unapplied_from_row(r: UnappliedRow) -> UnappliedPayment {
    UnappliedPayment {
        id: r.id,
        organization_id: r.organization_id,
        channel: r.channel,
        channel_ref: r.channel_ref,
        account_code: r.account_code,
        currency: r.currency,
        amount: r.amount,
        reason: r.reason,
        details: r.details,
        status: r.status,
        created_at: from_db(r.created_at),
    }
}

/// Who must hear about a change to this bill: its collection's webhook and the organization's
/// VA webhook.
fn targets_for_bill(
    conn: &mut AnyConnection,
    bill_id: i64,
    va_webhook: Option<&str>,
) -> StoreResult<Vec<Target>> {
    let mut targets = Vec::new();
    let hook: Option<Option<String>> = bills::table
        .inner_join(collections::table)
        .filter(bills::id.eq(bill_id))
        .select(collections::webhook_url)
        .first(conn)
        .optional()?;
    if let Some(Some(url)) = hook
        && !url.is_empty()
    {
        targets.push(Target {
            dialect: "collections".into(),
            url,
        });
    }
    if let Some(url) = va_webhook {
        targets.push(Target {
            dialect: "va".into(),
            url: url.to_string(),
        });
    }
    Ok(targets)
}

fn find_existing(
    conn: &mut AnyConnection,
    channel: &str,
    channel_ref: &str,
) -> StoreResult<Option<(String, PostResult)>> {
    let row: Option<PaymentRow> = payments::table
        .filter(payments::channel.eq(channel))
        .filter(payments::channel_ref.eq(channel_ref))
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(row) = row {
        let hash = row.request_hash.clone();
        return Ok(Some((
            hash,
            PostResult::Posted(payment_from_row(conn, row)?),
        )));
    }
    // Money an operator has since applied is found as its payment above; refunded or still open
    // money answers the repeat as unapplied, so a channel's retry never posts it a second time.
    let un: Option<UnappliedRow> = up::table
        .filter(up::channel.eq(channel))
        .filter(up::channel_ref.eq(channel_ref))
        .filter(up::status.ne("applied"))
        .select(UnappliedRow::as_select())
        .first(conn)
        .optional()?;
    Ok(un.map(|r| {
        (
            r.request_hash.clone(),
            PostResult::Unapplied(unapplied_from_row(r)),
        )
    }))
}

fn record_unapplied(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    account_code: &str,
    rejection: &Rejection,
    now: OffsetDateTime,
) -> StoreResult<UnappliedPayment> {
    let reason =
        serde_json::to_string(rejection).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id: i64 = diesel::insert_into(up::table)
        .values((
            up::organization_id.eq(Some(req.organization_id)),
            up::channel.eq(&req.channel),
            up::channel_ref.eq(&req.channel_ref),
            up::request_hash.eq(&req.request_hash),
            up::account_code.eq(account_code),
            up::currency.eq(req.amount.currency().code()),
            up::amount.eq(req.amount.minor()),
            up::reason.eq(&reason),
            up::details.eq(&req.details),
            up::status.eq("open"),
            up::created_at.eq(to_db(now)),
        ))
        .returning(up::id)
        .get_result(conn)?;
    tracing::warn!(
        channel = %req.channel, channel_ref = %req.channel_ref, amount = req.amount.minor(),
        currency = req.amount.currency().code(), reason = %reason, "payment recorded as unapplied"
    );
    let row: UnappliedRow = up::table
        .filter(up::id.eq(id))
        .select(UnappliedRow::as_select())
        .first(conn)?;
    Ok(unapplied_from_row(row))
}

fn account_code_of(conn: &mut AnyConnection, account_id: i64) -> StoreResult<String> {
    use crate::schema::accounts;
    Ok(accounts::table
        .filter(accounts::id.eq(account_id))
        .select(accounts::code)
        .first(conn)
        .optional()?
        .unwrap_or_default())
}

pub(crate) fn post_in_tx(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    now: OffsetDateTime,
) -> StoreResult<PaymentOutcome> {
    if let Some((hash, result)) = find_existing(conn, &req.channel, &req.channel_ref)? {
        if hash != req.request_hash {
            return Err(StoreError::Rejected(Rejection::InconsistentReplay));
        }
        return Ok(PaymentOutcome {
            result,
            replayed: true,
        });
    }
    load_org(conn, req.organization_id)?;
    let settings = load_settings(conn, req.organization_id)?;

    // Read the bills fresh and decide.
    let (account_id, decision): (Option<i64>, Result<Decision, Rejection>) = match &req.target {
        PaymentTarget::Unknown { .. } => (None, Err(Rejection::NotFound)),
        PaymentTarget::Bill { bill_id } => {
            let bill = load_bill(conn, *bill_id)?;
            if bill.organization_id != req.organization_id {
                (None, Err(Rejection::NotFound))
            } else {
                (
                    Some(bill.account_id),
                    decide(RuleTarget::Bill(&bill), req.amount, now),
                )
            }
        }
        PaymentTarget::Account {
            account_id,
            mode,
            chosen,
        } => {
            let owner: Option<i64> = crate::schema::accounts::table
                .filter(crate::schema::accounts::id.eq(*account_id))
                .select(crate::schema::accounts::organization_id)
                .first(conn)
                .optional()?;
            if owner != Some(req.organization_id) {
                (None, Err(Rejection::NotFound))
            } else {
                let all = load_account_bills(conn, *account_id)?;
                let mode = mode.unwrap_or(settings.settlement);
                let target = RuleTarget::Account {
                    bills: &all,
                    mode,
                    chosen: chosen.as_deref(),
                };
                (Some(*account_id), decide(target, req.amount, now))
            }
        }
    };
    let decision = match decision {
        Ok(d) => d,
        Err(rejection) => {
            return match req.on_rejection {
                OnRejection::Refuse => Err(StoreError::Rejected(rejection)),
                OnRejection::RecordUnapplied => {
                    let code = match (&req.target, account_id) {
                        (PaymentTarget::Unknown { account_code }, _) => account_code.clone(),
                        (_, Some(id)) => account_code_of(conn, id)?,
                        _ => String::new(),
                    };
                    let un = record_unapplied(conn, req, &code, &rejection, now)?;
                    Ok(PaymentOutcome {
                        result: PostResult::Unapplied(un),
                        replayed: false,
                    })
                }
            };
        }
    };

    let uid = uuid::Uuid::new_v4().to_string();
    let payment_id: i64 = diesel::insert_into(payments::table)
        .values((
            payments::uid.eq(&uid),
            payments::organization_id.eq(req.organization_id),
            payments::account_id.eq(account_id),
            payments::channel.eq(&req.channel),
            payments::channel_ref.eq(&req.channel_ref),
            payments::request_hash.eq(&req.request_hash),
            payments::method.eq(&req.method),
            payments::currency.eq(req.amount.currency().code()),
            payments::amount.eq(req.amount.minor()),
            payments::fee.eq(req.fee),
            payments::credit.eq(decision.credit),
            payments::payer_name.eq(&req.payer_name),
            payments::details.eq(&req.details),
            payments::paid_at.eq(to_db(req.paid_at)),
            payments::created_at.eq(to_db(now)),
        ))
        .returning(payments::id)
        .get_result(conn)?;

    for alloc in &decision.allocations {
        let bill = load_bill(conn, alloc.bill_id)?;
        let (status, paid) = billhub_core::bill::transition(
            bill.status_at(now),
            bill.billed,
            bill.paid,
            BillTransition::Pay(alloc.amount),
        )
        .map_err(|e| StoreError::Invalid(InvalidKind::Transition(e)))?;
        update_bill_versioned(conn, &bill, status, paid, now)?;
        diesel::insert_into(pa::table)
            .values((
                pa::payment_id.eq(payment_id),
                pa::bill_id.eq(alloc.bill_id),
                pa::amount.eq(alloc.amount),
            ))
            .execute(conn)?;
        append_event(
            conn,
            bill.id,
            "payment",
            Some(payment_id),
            Some(alloc.amount),
            status,
            paid,
            "{}",
            now,
        )?;
        let payload = serde_json::json!({ "amount": alloc.amount, "currency": bill.currency.code(), "paid_after": paid, "status_after": status.as_str() }).to_string();
        let targets = targets_for_bill(conn, bill.id, settings.va_webhook_url.as_deref())?;
        enqueue_event(
            conn,
            req.organization_id,
            "payment.received",
            Some(bill.id),
            Some(payment_id),
            &payload,
            &targets,
            now,
        )?;
    }
    if decision.credit > 0
        && let Some(account_id) = account_id
    {
        diesel::insert_into(ace::table)
            .values((
                ace::organization_id.eq(req.organization_id),
                ace::account_id.eq(account_id),
                ace::currency.eq(req.amount.currency().code()),
                ace::amount.eq(decision.credit),
                ace::kind.eq("overpayment"),
                ace::payment_id.eq(Some(payment_id)),
                ace::created_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    let payment = load_payment(conn, payment_id)?;
    Ok(PaymentOutcome {
        result: PostResult::Posted(payment),
        replayed: false,
    })
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

/// What an operator does with money that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The money was given back to the payer outside billhub.
    Refunded { note: String },
    /// Apply it now, to a bill or an account: posted as the original channel's payment, under its
    /// reference, so a later repeat from the channel finds this payment.
    Applied { target: PaymentTarget },
}

fn load_unapplied(conn: &mut AnyConnection, id: i64) -> StoreResult<UnappliedRow> {
    up::table
        .filter(up::id.eq(id))
        .select(UnappliedRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found(Entity::UnappliedPayment, id))
}

fn with_note(details: &str, key: &str, value: serde_json::Value) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(details).unwrap_or_else(|_| serde_json::json!({}));
    if !v.is_object() {
        v = serde_json::json!({ "original": v });
    }
    if let Some(m) = v.as_object_mut() {
        m.insert(key.to_string(), value);
    }
    v.to_string()
}

fn resolve_in_tx(
    conn: &mut AnyConnection,
    id: i64,
    resolution: &Resolution,
    now: OffsetDateTime,
) -> StoreResult<(UnappliedPayment, Option<Payment>)> {
    let row = load_unapplied(conn, id)?;
    if row.status != "open" {
        return Err(StoreError::Conflict(ConflictKind::AlreadyResolved {
            id,
            status: row.status.clone(),
        }));
    }
    let (status, details, payment) = match resolution {
        Resolution::Refunded { note } => {
            let note = note.trim();
            if note.is_empty() {
                return Err(StoreError::Invalid(InvalidKind::MissingNote));
            }
            (
                "refunded",
                with_note(&row.details, "refund_note", serde_json::json!(note)),
                None,
            )
        }
        Resolution::Applied { target } => {
            let organization_id = row.organization_id.ok_or_else(|| {
                StoreError::Invalid(InvalidKind::NoOrganization { id })
            })?;
            // Mark it first, so that posting under the same channel reference is not answered
            // as a repeat of this very record.
            diesel::update(up::table.filter(up::id.eq(id)))
                .set(up::status.eq("applied"))
                .execute(conn)?;
            let req = PaymentRequest {
                organization_id,
                channel: row.channel.clone(),
                channel_ref: row.channel_ref.clone(),
                request_hash: row.request_hash.clone(),
                target: target.clone(),
                amount: Money::from_minor(row.amount, currency(&row.currency)?),
                fee: 0,
                method: String::new(),
                payer_name: String::new(),
                details: with_note(
                    &row.details,
                    "applied_from_unapplied",
                    serde_json::json!(id),
                ),
                paid_at: from_db(row.created_at),
                on_rejection: OnRejection::Refuse,
            };
            let outcome = post_in_tx(conn, &req, now)?;
            let payment = match outcome.result {
                PostResult::Posted(p) if !outcome.replayed => p,
                _ => {
                    return Err(StoreError::Conflict(ConflictKind::ReferenceTaken {
                        channel: row.channel.clone(),
                        reference: row.channel_ref.clone(),
                    }));
                }
            };
            let details = with_note(
                &row.details,
                "applied_payment",
                serde_json::json!(payment.uid),
            );
            ("applied", details, Some(payment))
        }
    };
    diesel::update(up::table.filter(up::id.eq(id)))
        .set((
            up::status.eq(status),
            up::details.eq(&details),
            up::resolved_at.eq(Some(to_db(now))),
        ))
        .execute(conn)?;
    Ok((unapplied_from_row(load_unapplied(conn, id)?), payment))
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

    /// The account's credit balance in a currency (minor units).
    pub fn account_credit(
        &mut self,
        account_id: i64,
        currency: billhub_core::Currency,
    ) -> StoreResult<i64> {
        self.with(|conn| crate::repo::credit::balance(conn, account_id, currency))
    }

    /// Unapplied money of an organization (all of it when `None`), oldest first.
    pub fn unapplied_payments(
        &mut self,
        organization_id: Option<i64>,
    ) -> StoreResult<Vec<UnappliedPayment>> {
        self.with(|conn| {
            let mut q = up::table
                .select(UnappliedRow::as_select())
                .order(up::id.asc())
                .into_boxed();
            if let Some(org) = organization_id {
                q = q.filter(up::organization_id.eq(Some(org)));
            }
            Ok(q.load(conn)?.into_iter().map(unapplied_from_row).collect())
        })
    }

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
                .filter(payments::channel.ne(crate::repo::credit::CREDIT_CHANNEL))
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

impl Writer<'_> {
    /// Resolves unapplied money once: refunded, or applied to a bill or account (core decides the
    /// allocation as for any payment; a refusal changes nothing and leaves it open).
    pub fn resolve_unapplied(
        &mut self,
        id: i64,
        resolution: &Resolution,
        now: OffsetDateTime,
    ) -> StoreResult<(UnappliedPayment, Option<Payment>)> {
        self.with(|conn| resolve_in_tx(conn, id, resolution, now))
    }

    /// Posts a payment (see the module docs). `now` decides expiry and stamps the rows.
    pub fn post_payment(
        &mut self,
        req: &PaymentRequest,
        now: OffsetDateTime,
    ) -> StoreResult<PaymentOutcome> {
        if req.channel.is_empty() || req.channel_ref.is_empty() {
            return Err(StoreError::Invalid(InvalidKind::MissingReference));
        }
        self.with(|conn| post_in_tx(conn, req, now))
    }

    /// Reverses a whole payment once; the same reversal request again returns the first result.
    pub fn reverse_payment(
        &mut self,
        req: &ReversalRequest,
        now: OffsetDateTime,
    ) -> StoreResult<ReversalOutcome> {
        self.with(|conn| reverse_in_tx(conn, req, now))
    }
}

crate::tx::store_reads! {
    fn payment(&self, id: i64) -> Payment;
    fn payment_by_uid(&self, uid: &str) -> Option<Payment>;
    fn payment_by_channel_ref(&self, channel: &str, channel_ref: &str) -> Option<Payment>;
    fn payments_of_bill(&self, bill_id: i64) -> Vec<Payment>;
    fn payments_of_account(&self, account_id: i64) -> Vec<Payment>;
    fn account_credit(&self, account_id: i64, currency: billhub_core::Currency) -> i64;
    fn unapplied_payments(&self, organization_id: Option<i64>) -> Vec<UnappliedPayment>;
    fn ledger_entries(&self, account_id: i64, offset: time::UtcOffset) -> Vec<LedgerEntry>;
}

crate::tx::store_writes! {
    fn resolve_unapplied(&self, id: i64, resolution: &Resolution, now: OffsetDateTime) -> (UnappliedPayment, Option<Payment>);
    fn post_payment(&self, req: &PaymentRequest, now: OffsetDateTime) -> PaymentOutcome;
    fn reverse_payment(&self, req: &ReversalRequest, now: OffsetDateTime) -> ReversalOutcome;
}
