//! Posting a payment: the transaction every channel goes through.
//!
//! [`Writer::post_payment`]:
//! 1. a payment (or unapplied record) with the same channel + reference exists (per
//!    organization for a biller-side channel, see `reference_scope`): same content (request
//!    hash) returns the first result with `replayed = true`; other content, or another
//!    organization's record under a bank's or terminal network's reference, is
//!    [`Rejection::InconsistentReplay`];
//! 2. read the target bills fresh and decide with [`billhub_core::rules::decide`];
//! 3. insert the payment and its allocations; update each bill through core's status machine
//!    only if its version is unchanged (a lost race reruns the whole transaction, bounded);
//! 4. append bill events, record account credit, enqueue notification events;
//! 5. commit.
//!
//! A refusal changes nothing, unless the caller asks to record the money as unapplied (a
//! channel that has already taken it): then the unapplied record is the result.
//!
//! Whatever is recorded, posted or unapplied, first claims its reference's one key in
//! `payment_references` (unique per channel, scope and reference): two requests racing under
//! one reference both pass step 1 on PostgreSQL, and the second claim waits for the first and
//! fails, so its transaction runs again and finds the first result. A reference is therefore
//! never both posted and kept as unapplied money.

use billhub_core::fingerprint::Fingerprint;
use billhub_core::org::Settings;
use billhub_core::rules::{Allocation, Decision, Target as RuleTarget, decide};
use billhub_core::{BillTransition, Channel, Money, Payment, Rejection, SettlementMode};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::models::{PaymentRow, UnappliedRow};
use crate::pool::AnyConnection;
use crate::repo::bills::{append_event, load_account_bills, load_bill, update_bill_versioned};
use crate::repo::orgs::{load_org, load_settings};
use crate::repo::outbox::{enqueue_event, targets_for_bill};
use crate::repo::payments::{load_payment, payment_from_row};
use crate::schema::{
    account_credit_entries as ace, payment_allocations as pa, payment_references as pr, payments,
    unapplied_payments as up,
};
use crate::time_conv::{from_db, to_db};
use crate::{InvalidKind, StoreError, StoreResult, Writer};

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
    /// The fingerprint of the content that must be identical on a replay, as stored (v2 for a
    /// new payment: [`billhub_core::fingerprint::Fingerprint::current`]; see also
    /// [`Writer::post_payment_with_legacy`]).
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

pub(crate) fn unapplied_from_row(r: UnappliedRow) -> UnappliedPayment {
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

/// The scope of a channel's references: the organization for a biller-side channel (the biller
/// names the reference: Bill24, account credit, the sandbox), 0 for a bank's or terminal
/// network's own references, unique across the organizations it serves (and for a channel
/// name core does not know).
pub(crate) fn reference_scope(channel: &str, organization_id: i64) -> i64 {
    match channel.parse::<Channel>() {
        Ok(c) if c.is_biller_side() => organization_id,
        _ => 0,
    }
}

/// Claims the one key of `req`'s reference before anything is recorded under it. A concurrent
/// claim of the same key is a unique violation: the transaction runs again from the start and
/// finds what the other request recorded.
fn claim_reference(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    now: OffsetDateTime,
) -> StoreResult<()> {
    diesel::insert_into(pr::table)
        .values((
            pr::channel.eq(&req.channel),
            pr::scope.eq(reference_scope(&req.channel, req.organization_id)),
            pr::channel_ref.eq(&req.channel_ref),
            pr::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Gives up the key of a reference (an unapplied record about to be posted under it).
pub(crate) fn release_reference(
    conn: &mut AnyConnection,
    channel: &str,
    organization_id: i64,
    channel_ref: &str,
) -> StoreResult<()> {
    diesel::delete(
        pr::table
            .filter(pr::channel.eq(channel))
            .filter(pr::scope.eq(reference_scope(channel, organization_id)))
            .filter(pr::channel_ref.eq(channel_ref)),
    )
    .execute(conn)?;
    Ok(())
}

/// What is recorded under a reference: its request hash, its organization and the result.
struct Existing {
    hash: String,
    organization_id: Option<i64>,
    result: PostResult,
}

fn find_existing(conn: &mut AnyConnection, req: &PaymentRequest) -> StoreResult<Option<Existing>> {
    let scoped = reference_scope(&req.channel, req.organization_id) != 0;
    let mut q = payments::table
        .filter(payments::channel.eq(&req.channel))
        .filter(payments::channel_ref.eq(&req.channel_ref))
        .select(PaymentRow::as_select())
        .into_boxed();
    if scoped {
        q = q.filter(payments::organization_id.eq(req.organization_id));
    }
    if let Some(row) = q.first(conn).optional()? {
        return Ok(Some(Existing {
            hash: row.request_hash.clone(),
            organization_id: Some(row.organization_id),
            result: PostResult::Posted(payment_from_row(conn, row)?),
        }));
    }
    // Money an operator has since applied is found as its payment above; refunded or still open
    // money answers the repeat as unapplied, so a channel's retry never posts it a second time.
    let mut q = up::table
        .filter(up::channel.eq(&req.channel))
        .filter(up::channel_ref.eq(&req.channel_ref))
        .filter(up::status.ne_all(["applied", "duplicate"]))
        .select(UnappliedRow::as_select())
        .into_boxed();
    if scoped {
        q = q.filter(up::organization_id.eq(Some(req.organization_id)));
    }
    Ok(q.first(conn).optional()?.map(|r| Existing {
        hash: r.request_hash.clone(),
        organization_id: r.organization_id,
        result: PostResult::Unapplied(unapplied_from_row(r)),
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
    claim_reference(conn, req, now)?;
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
    legacy: &[String],
    now: OffsetDateTime,
) -> StoreResult<PaymentOutcome> {
    if let Some(outcome) = replay(conn, req, legacy)? {
        return Ok(outcome);
    }
    load_org(conn, req.organization_id)?;
    let settings = load_settings(conn, req.organization_id)?;

    // Read the bills fresh and decide.
    let (account_id, decision) = decide_fresh(conn, req, &settings, now)?;
    let decision = match decision {
        Ok(d) => d,
        Err(rejection) => return refuse_or_record(conn, req, account_id, rejection, now),
    };

    // The overpaid part goes to the account's credit: refused if the balance would not fit.
    if decision.credit > 0
        && let Some(account_id) = account_id
    {
        let balance = crate::repo::ledger::balance(conn, account_id, req.amount.currency())?;
        if let Err(rejection) = billhub_core::credit::add_credit(balance, decision.credit) {
            return refuse_or_record(conn, req, Some(account_id), rejection, now);
        }
    }
    let payment_id = insert_payment(conn, req, account_id, decision.credit, now)?;
    for alloc in &decision.allocations {
        apply_allocation(conn, req, payment_id, alloc, &settings, now)?;
    }
    if decision.credit > 0
        && let Some(account_id) = account_id
    {
        record_credit(conn, req, account_id, payment_id, decision.credit, now)?;
    }
    let payment = load_payment(conn, payment_id)?;
    Ok(PaymentOutcome {
        result: PostResult::Posted(payment),
        replayed: false,
    })
}

/// The first result of a repeated request (same content: the stored fingerprint is the
/// request's, or one of its `legacy` forms), or the refusal of a different one (also of a bank's
/// reference that another organization's record holds: never its result).
fn replay(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    legacy: &[String],
) -> StoreResult<Option<PaymentOutcome>> {
    let Some(existing) = find_existing(conn, req)? else {
        return Ok(None);
    };
    let same = Fingerprint {
        current: req.request_hash.clone(),
        legacy: legacy.to_vec(),
    }
    .matches(&existing.hash);
    if !same || existing.organization_id != Some(req.organization_id) {
        return Err(StoreError::Rejected(Rejection::InconsistentReplay));
    }
    Ok(Some(PaymentOutcome {
        result: existing.result,
        replayed: true,
    }))
}

/// Reads the target's bills fresh and lets core decide; also returns the paying account, if known.
fn decide_fresh(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    settings: &Settings,
    now: OffsetDateTime,
) -> StoreResult<(Option<i64>, Result<Decision, Rejection>)> {
    Ok(match &req.target {
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
    })
}

/// Answers a refusal: an error, or the unapplied record when the caller asks for one.
fn refuse_or_record(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    account_id: Option<i64>,
    rejection: Rejection,
    now: OffsetDateTime,
) -> StoreResult<PaymentOutcome> {
    match req.on_rejection {
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
    }
}

/// Claims the payment's reference and inserts the payment row; returns its id.
fn insert_payment(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    account_id: Option<i64>,
    credit: i64,
    now: OffsetDateTime,
) -> StoreResult<i64> {
    claim_reference(conn, req, now)?;
    let uid = uuid::Uuid::new_v4().to_string();
    Ok(diesel::insert_into(payments::table)
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
            payments::credit.eq(credit),
            payments::payer_name.eq(&req.payer_name),
            payments::details.eq(&req.details),
            payments::paid_at.eq(crate::time_conv::try_to_db(req.paid_at)?),
            payments::created_at.eq(to_db(now)),
        ))
        .returning(payments::id)
        .get_result(conn)?)
}

/// Applies one allocation: the bill's new status (version-checked), the allocation row, the
/// bill event and the `payment.received` notifications.
fn apply_allocation(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    payment_id: i64,
    alloc: &Allocation,
    settings: &Settings,
    now: OffsetDateTime,
) -> StoreResult<()> {
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
    let targets = targets_for_bill(conn, bill.id, settings)?;
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
    Ok(())
}

/// Records the overpaid part of a payment as the account's credit.
fn record_credit(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    account_id: i64,
    payment_id: i64,
    credit: i64,
    now: OffsetDateTime,
) -> StoreResult<()> {
    diesel::insert_into(ace::table)
        .values((
            ace::organization_id.eq(req.organization_id),
            ace::account_id.eq(account_id),
            ace::currency.eq(req.amount.currency().code()),
            ace::amount.eq(credit),
            ace::kind.eq("overpayment"),
            ace::payment_id.eq(Some(payment_id)),
            ace::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

impl Writer<'_> {
    /// Posts a payment (see the module docs). `now` decides expiry and stamps the rows.
    pub fn post_payment(
        &mut self,
        req: &PaymentRequest,
        now: OffsetDateTime,
    ) -> StoreResult<PaymentOutcome> {
        self.post_payment_with_legacy(req, &[], now)
    }

    /// [`Writer::post_payment`], where a recorded payment whose fingerprint is one of `legacy`
    /// (the forms earlier versions wrote for this same request,
    /// [`billhub_core::fingerprint::Fingerprint::legacy`]) is a repeat too.
    pub fn post_payment_with_legacy(
        &mut self,
        req: &PaymentRequest,
        legacy: &[String],
        now: OffsetDateTime,
    ) -> StoreResult<PaymentOutcome> {
        if req.channel.is_empty() || req.channel_ref.is_empty() {
            return Err(StoreError::Invalid(InvalidKind::MissingReference));
        }
        self.with(|conn| post_in_tx(conn, req, legacy, now))
    }
}

crate::tx::store_writes! {
    fn post_payment(&self, req: &PaymentRequest, now: OffsetDateTime) -> PaymentOutcome;
    fn post_payment_with_legacy(&self, req: &PaymentRequest, legacy: &[String], now: OffsetDateTime) -> PaymentOutcome;
}
