//! Posting a payment: the transaction every channel goes through.
//!
//! [`Writer::post_payment`]:
//! 1. claim the reference's one key in `payment_references` (unique per channel, scope and
//!    reference; scope: the organization for a biller-side channel, see `reference_scope`).
//!    Every payment and every kept unapplied record holds its reference's key, so a key taken
//!    already means a repeat: the payment (or unapplied record) under that reference with the
//!    same content (request hash) is returned with `replayed = true`; other content, or another
//!    organization's record under a bank's or terminal network's reference, is
//!    [`Rejection::InconsistentReplay`];
//! 2. read the organization's settings and the target bills fresh, and decide with
//!    [`billhub_core::rules::decide`];
//! 3. insert the payment and its allocations; update each bill (as read in step 2) through
//!    core's status machine only if its version is unchanged (a lost race reruns the whole
//!    transaction, bounded);
//! 4. append bill events, record account credit, enqueue notification events;
//! 5. commit. The payment returned is built from what was written, not read back.
//!
//! A refusal changes nothing (the key claimed in step 1 is given back), unless the caller asks
//! to record the money as unapplied (a channel that has already taken it): then the unapplied
//! record, under the key, is the result.
//!
//! Two requests racing under one reference: the second claim waits for the first transaction,
//! and once that has committed it fails (a unique violation on SQLite, a serialization failure
//! under PostgreSQL's `REPEATABLE READ`), so its transaction runs again and finds the first
//! result. A reference is therefore never both posted and kept as unapplied money.
//!
//! Statements per new payment on one bill (PostgreSQL round trips inside the transaction): the
//! claim, the organization's settings (none when the caller passes them, from the store's cache:
//! [`Writer::post_payment_with_settings`]), the bill with its collection's webhook (an account's
//! bills: joined with the account, for its owner), and on PostgreSQL one write statement for the
//! payment, the bill's versioned update (and its VA numbers when it stops being payable), the
//! allocation, the bill event and the notification event (several bills or delivery targets: a
//! statement per row).

use billhub_core::fingerprint::Fingerprint;
use billhub_core::org::{Organization, Settings};
use billhub_core::rules::{Allocation, Decision, Target as RuleTarget, decide};
use billhub_core::{
    Bill, BillStatus, BillTransition, Channel, Money, Payment, Rejection, SettlementMode,
};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::models::{BillRow, OrganizationRow, PaymentRow, UnappliedRow};
use crate::pool::AnyConnection;
use crate::prepared::{Bind, Fixed};
use crate::repo::bills::{append_event, load_bill, update_bill_versioned};
use crate::repo::outbox::{Target, enqueue_event, targets_for_bill};
use crate::repo::payments::payment_from_row;
use crate::schema::{
    account_credit_entries as ace, payment_allocations as pa, payment_references as pr, payments,
    unapplied_payments as up,
};
use crate::time_conv::{from_db, to_db};
use crate::{Backend, InvalidKind, Reader, StoreError, StoreResult, Writer};

/// What a payment is aimed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentTarget {
    /// One bill, under its own rule.
    Bill { bill_id: i64 },
    /// One bill, under its own rule, as the caller's transaction has just read it (a bank's
    /// payment finds its bill by the VA number, [`crate::va::BankTarget`]): not read again. It must
    /// come from a read in the same transaction; its version still guards the update, so a
    /// copy that is out of date loses the race and the transaction runs again. `webhook`: its
    /// collection's webhook URL as read with it (`None`: no collection, or no webhook).
    ReadBill {
        bill: Box<Bill>,
        webhook: Option<String>,
    },
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

/// Claims the one key of `req`'s reference, the first thing a posting does: `true` when this
/// request took it (nothing is recorded under the reference yet: every payment and every kept
/// unapplied record holds its reference's key), `false` when the key was already taken (the
/// request is a repeat, or another request's: [`replay`] tells). A concurrent claim of the same
/// key waits for the other transaction: if that commits, this one fails (a unique violation on
/// SQLite's savepoint, a serialization failure under PostgreSQL's `REPEATABLE READ`) and runs
/// again from the start, finding what the other request recorded.
fn try_claim_reference(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let key = (
        pr::channel.eq(&req.channel),
        pr::scope.eq(reference_scope(&req.channel, req.organization_id)),
        pr::channel_ref.eq(&req.channel_ref),
        pr::created_at.eq(to_db(now)),
    );
    // `ON CONFLICT DO NOTHING` is the same SQL on both backends, but diesel offers it per
    // backend only.
    let n = match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(pr::table)
            .values(key)
            .on_conflict_do_nothing()
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(pr::table)
            .values(key)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(n == 1)
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

/// Records refused money as unapplied, under the reference key its posting claimed.
fn record_unapplied(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    account_code: &str,
    rejection: &Rejection,
    now: OffsetDateTime,
) -> StoreResult<UnappliedPayment> {
    let reason =
        serde_json::to_string(rejection).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let created_at = to_db(now);
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
            up::created_at.eq(created_at),
        ))
        .returning(up::id)
        .get_result(conn)?;
    tracing::warn!(
        channel = %req.channel, channel_ref = %req.channel_ref, amount = req.amount.minor(),
        currency = req.amount.currency().code(), reason = %reason, "payment recorded as unapplied"
    );
    // What was just written, as a read would return it (no read-back).
    Ok(UnappliedPayment {
        id,
        organization_id: Some(req.organization_id),
        channel: req.channel.clone(),
        channel_ref: req.channel_ref.clone(),
        account_code: account_code.to_string(),
        currency: req.amount.currency().code().to_string(),
        amount: req.amount.minor(),
        reason,
        details: req.details.clone(),
        status: "open".into(),
        created_at: from_db(created_at),
    })
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

/// The organization and its settings, in one statement ([`StoreError::NotFound`] when there
/// is no such organization).
pub(crate) fn organization_with_settings(
    conn: &mut AnyConnection,
    organization_id: i64,
) -> StoreResult<(Organization, Settings)> {
    use crate::schema::{organization_settings as os, organizations};
    let rows: Vec<(OrganizationRow, Option<String>, Option<String>)> = organizations::table
        .left_join(os::table)
        .filter(organizations::id.eq(organization_id))
        .select((
            OrganizationRow::as_select(),
            os::key.nullable(),
            os::value.nullable(),
        ))
        .load(conn)?;
    let settings = Settings::from_pairs(
        rows.iter()
            .filter_map(|(_, k, v)| Some((k.as_deref()?, v.as_deref()?))),
    )
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let Some((row, _, _)) = rows.into_iter().next() else {
        return Err(StoreError::not_found(
            crate::Entity::Organization,
            organization_id,
        ));
    };
    Ok((row.into_org()?, settings))
}

pub(crate) fn post_in_tx(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    legacy: &[String],
    now: OffsetDateTime,
) -> StoreResult<PaymentOutcome> {
    post_in_tx_with(conn, req, legacy, None, now)
}

/// [`post_in_tx`], with the organization's settings when the caller has them already (from the
/// store's cache, or read in this transaction): the posting then does not read them again.
/// `None`: read here, with the organization.
pub(crate) fn post_in_tx_with(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    legacy: &[String],
    settings: Option<&Settings>,
    now: OffsetDateTime,
) -> StoreResult<PaymentOutcome> {
    if let Some(replayed) = claim_or_replay(conn, req, legacy, now)? {
        return Ok(replayed);
    }
    post_claimed_or_release(conn, req, settings, now)
}

/// The reference's key first: taken already, this is a repeat (or another request's
/// reference), answered from what is recorded (`Some`); taken now (`None`), nothing is recorded
/// under it, and the caller posts ([`post_claimed_or_release`]) or gives the key back.
pub(crate) fn claim_or_replay(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    legacy: &[String],
    now: OffsetDateTime,
) -> StoreResult<Option<PaymentOutcome>> {
    if try_claim_reference(conn, req, now)? {
        return Ok(None);
    }
    match replay(conn, req, legacy)? {
        Some(outcome) => Ok(Some(outcome)),
        None => Err(StoreError::Corrupt(format!(
            "the key of reference {} of channel {} is taken but nothing is recorded under it",
            req.channel_ref, req.channel
        ))),
    }
}

/// Posts under the key this transaction has just claimed; on failure the key goes back.
pub(crate) fn post_claimed_or_release(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    settings: Option<&Settings>,
    now: OffsetDateTime,
) -> StoreResult<PaymentOutcome> {
    let result = post_claimed(conn, req, settings, now);
    if result.is_err() {
        // Nothing is recorded: the key goes back, so that a caller which commits its other
        // work after a refusal (a salt used, a share refused) leaves no key without a record.
        // When the transaction itself failed this fails too, and the rollback undoes the claim.
        if let Err(e) = release_reference(conn, &req.channel, req.organization_id, &req.channel_ref)
        {
            tracing::debug!(error = %e, "releasing a reference key after a failed posting");
        }
    }
    result
}

/// A posting whose reference key this transaction has just claimed.
fn post_claimed(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    given: Option<&Settings>,
    now: OffsetDateTime,
) -> StoreResult<PaymentOutcome> {
    let read;
    let settings = match given {
        Some(s) => s,
        None => {
            read = organization_with_settings(conn, req.organization_id)?.1;
            &read
        }
    };

    // Read the bills fresh and decide.
    let Decided {
        account_id,
        mut bills,
        hooks,
        decision,
    } = decide_fresh(conn, req, settings, now)?;
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
    let mut payment = unsaved_payment(req, account_id, decision.credit, now)?;
    let one_bill = match decision.allocations.as_slice() {
        [alloc] if conn.backend() == Backend::Postgres => {
            one_bill_plan(conn, alloc, &bills, &hooks, settings, now)?
        }
        _ => None,
    };
    match one_bill {
        Some(plan) => write_one_bill_pg(conn, req, &mut payment, &plan, now)?,
        None => {
            insert_payment(conn, req, &mut payment)?;
            for alloc in &decision.allocations {
                let ctx = (&hooks, settings);
                apply_allocation(conn, req, payment.id, alloc, &mut bills, ctx, now)?;
            }
        }
    }
    payment.allocations = decision
        .allocations
        .iter()
        .map(|a| billhub_core::Allocation {
            bill_id: a.bill_id,
            amount: a.amount,
        })
        .collect();
    if decision.credit > 0
        && let Some(account_id) = account_id
    {
        record_credit(conn, req, account_id, payment.id, decision.credit, now)?;
    }
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

/// The webhook URL of each bill's collection, read with the bills (`None`: the bill is in no
/// collection, or its collection has no webhook), so that the payment's notification targets
/// cost no statement of their own.
type Hooks = Vec<(i64, Option<String>)>;

/// The paying account (if known), the bills read for the decision, their collections'
/// webhooks, and the decision.
struct Decided {
    account_id: Option<i64>,
    bills: Vec<Bill>,
    hooks: Hooks,
    decision: Result<Decision, Rejection>,
}

impl Decided {
    fn refused(rejection: Rejection) -> Self {
        Decided {
            account_id: None,
            bills: Vec::new(),
            hooks: Vec::new(),
            decision: Err(rejection),
        }
    }
}

/// A bill with its collection's webhook URL, in one statement.
pub(crate) fn load_bill_with_hook(
    conn: &mut AnyConnection,
    bill_id: i64,
) -> StoreResult<(Bill, Option<String>)> {
    use crate::schema::{bills, collections};
    let (row, hook): (BillRow, Option<String>) = bills::table
        .left_join(collections::table)
        .filter(bills::id.eq(bill_id))
        .select((BillRow::as_select(), collections::webhook_url.nullable()))
        .get_result(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found(crate::Entity::Bill, bill_id))?;
    Ok((row.into_bill()?, hook))
}

/// The bills of an account of the organization (oldest first), with their collections'
/// webhook URLs, in one statement; `None` when the account is not the organization's (or does
/// not exist). An account of the organization without bills costs a second statement.
fn load_owned_account_bills(
    conn: &mut AnyConnection,
    organization_id: i64,
    account_id: i64,
) -> StoreResult<Option<(Vec<Bill>, Hooks)>> {
    use crate::schema::{accounts, bills, collections};
    let rows: Vec<(BillRow, Option<String>)> = bills::table
        .inner_join(accounts::table)
        .left_join(collections::table)
        .filter(bills::account_id.eq(account_id))
        .filter(accounts::organization_id.eq(organization_id))
        .order(bills::id.asc())
        .select((BillRow::as_select(), collections::webhook_url.nullable()))
        .load(conn)?;
    if rows.is_empty() {
        let owner: Option<i64> = accounts::table
            .filter(accounts::id.eq(account_id))
            .select(accounts::organization_id)
            .get_result(conn)
            .optional()?;
        return Ok((owner == Some(organization_id)).then(|| (Vec::new(), Vec::new())));
    }
    let mut all = Vec::with_capacity(rows.len());
    let mut hooks = Vec::with_capacity(rows.len());
    for (row, hook) in rows {
        hooks.push((row.id, hook));
        all.push(row.into_bill()?);
    }
    Ok(Some((all, hooks)))
}

/// Reads the target's bills fresh (with their collections' webhooks) and lets core decide;
/// also returns the paying account, if known, and the bills it read (the allocations are
/// applied to these, version-checked).
fn decide_fresh(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    settings: &Settings,
    now: OffsetDateTime,
) -> StoreResult<Decided> {
    Ok(match &req.target {
        PaymentTarget::Unknown { .. } => Decided::refused(Rejection::NotFound),
        PaymentTarget::Bill { bill_id } => {
            let (bill, hook) = load_bill_with_hook(conn, *bill_id)?;
            decide_on_bill(req, bill, vec![(*bill_id, hook)], now)
        }
        PaymentTarget::ReadBill { bill, webhook } => {
            let hooks = vec![(bill.id, webhook.clone())];
            decide_on_bill(req, (**bill).clone(), hooks, now)
        }
        PaymentTarget::Account {
            account_id,
            mode,
            chosen,
        } => match load_owned_account_bills(conn, req.organization_id, *account_id)? {
            None => Decided::refused(Rejection::NotFound),
            Some((all, hooks)) => {
                let mode = mode.unwrap_or(settings.settlement);
                let target = RuleTarget::Account {
                    bills: &all,
                    mode,
                    chosen: chosen.as_deref(),
                };
                let decision = decide(target, req.amount, now);
                Decided {
                    account_id: Some(*account_id),
                    bills: all,
                    hooks,
                    decision,
                }
            }
        },
    })
}

/// Lets core decide a payment on one bill of the request's organization.
fn decide_on_bill(req: &PaymentRequest, bill: Bill, hooks: Hooks, now: OffsetDateTime) -> Decided {
    if bill.organization_id != req.organization_id {
        return Decided::refused(Rejection::NotFound);
    }
    let decision = decide(RuleTarget::Bill(&bill), req.amount, now);
    Decided {
        account_id: Some(bill.account_id),
        hooks,
        bills: vec![bill],
        decision,
    }
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

/// The payment about to be inserted, as a read will return it once it is (its `id` is set by
/// the insert; its allocations by the caller).
fn unsaved_payment(
    req: &PaymentRequest,
    account_id: Option<i64>,
    credit: i64,
    now: OffsetDateTime,
) -> StoreResult<Payment> {
    Ok(Payment {
        id: 0,
        uid: uuid::Uuid::new_v4().to_string(),
        organization_id: req.organization_id,
        account_id,
        channel: req.channel.clone(),
        channel_ref: req.channel_ref.clone(),
        method: req.method.clone(),
        currency: req.amount.currency(),
        amount: req.amount.minor(),
        fee: req.fee,
        credit,
        allocations: Vec::new(),
        payer_name: req.payer_name.clone(),
        details: req.details.clone(),
        paid_at: from_db(crate::time_conv::try_to_db(req.paid_at)?),
        created_at: from_db(to_db(now)),
        reversed: None,
    })
}

/// Inserts the payment row (its reference's key already claimed) and sets its id.
fn insert_payment(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    p: &mut Payment,
) -> StoreResult<()> {
    p.id = diesel::insert_into(payments::table)
        .values((
            payments::uid.eq(&p.uid),
            payments::organization_id.eq(p.organization_id),
            payments::account_id.eq(p.account_id),
            payments::channel.eq(&p.channel),
            payments::channel_ref.eq(&p.channel_ref),
            payments::request_hash.eq(&req.request_hash),
            payments::method.eq(&p.method),
            payments::currency.eq(p.currency.code()),
            payments::amount.eq(p.amount),
            payments::fee.eq(p.fee),
            payments::credit.eq(p.credit),
            payments::payer_name.eq(&p.payer_name),
            payments::details.eq(&p.details),
            payments::paid_at.eq(to_db(p.paid_at)),
            payments::created_at.eq(to_db(p.created_at)),
        ))
        .returning(payments::id)
        .get_result(conn)?;
    Ok(())
}

/// What a payment on one bill writes, decided before anything is written.
struct OneBill {
    bill_id: i64,
    version: i64,
    amount: i64,
    status: BillStatus,
    paid: i64,
    /// The bill stops being payable: its VA numbers are released.
    releases_va_numbers: bool,
    payload: String,
}

/// PostgreSQL: the plan of a payment whose one allocation goes to a bill read for the decision,
/// when its writes fit one statement ([`write_one_bill_pg`]): no notification target to
/// deliver to, and no VA number to take back (a bill becoming payable again). `None`: the
/// statement-per-row path.
fn one_bill_plan(
    conn: &mut AnyConnection,
    alloc: &Allocation,
    bills: &[Bill],
    hooks: &Hooks,
    settings: &Settings,
    now: OffsetDateTime,
) -> StoreResult<Option<OneBill>> {
    let Some(bill) = bills.iter().find(|b| b.id == alloc.bill_id) else {
        return Ok(None);
    };
    let (status, paid) = billhub_core::bill::transition(
        bill.status_at(now),
        bill.billed,
        bill.paid,
        BillTransition::Pay(alloc.amount),
    )
    .map_err(|e| StoreError::Invalid(InvalidKind::Transition(e)))?;
    if status.is_payable() && !bill.status.is_payable() {
        return Ok(None);
    }
    if !notification_targets(conn, bill.id, bill.collection_id, (hooks, settings))?.is_empty() {
        return Ok(None);
    }
    Ok(Some(OneBill {
        bill_id: bill.id,
        version: bill.version,
        amount: alloc.amount,
        status,
        paid,
        releases_va_numbers: !status.is_payable(),
        payload: payment_received_payload(alloc.amount, bill.currency, paid, status),
    }))
}

/// The payload of a `payment.received` event.
fn payment_received_payload(
    amount: i64,
    currency: billhub_core::Currency,
    paid: i64,
    status: BillStatus,
) -> String {
    serde_json::json!({ "amount": amount, "currency": currency.code(), "paid_after": paid, "status_after": status.as_str() }).to_string()
}

/// The writes of a payment on one bill in one PostgreSQL statement (one round trip instead of
/// six, prepared once per connection): the payment row, the bill's versioned update (its VA
/// numbers released when it stops being payable), the allocation, the bill event and the
/// `payment.received` event: the same rows, with the same values, as [`insert_payment`] and
/// [`apply_allocation`] write. A bill whose version moved on updates nothing:
/// [`StoreError::RaceLost`], and the transaction runs again (its other writes roll back with
/// it).
fn write_one_bill_pg(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    p: &mut Payment,
    plan: &OneBill,
    now: OffsetDateTime,
) -> StoreResult<()> {
    use diesel::sql_types::BigInt;
    // Each `?` is a bind, in the order of `binds` below.
    const SQL: &str = "WITH p AS (\
        INSERT INTO payments (uid, organization_id, account_id, channel, channel_ref, \
            request_hash, method, currency, amount, fee, credit, payer_name, details, paid_at, \
            created_at) \
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id\
    ), b AS (\
        UPDATE bills SET status = ?, paid = ?, version = ?, updated_at = ? \
        WHERE id = ? AND version = ? RETURNING id\
    ), v AS (\
        UPDATE va_numbers SET active = FALSE WHERE ? AND bill_id IN (SELECT id FROM b)\
    ), a AS (\
        INSERT INTO payment_allocations (payment_id, bill_id, amount) SELECT id, ?, ? FROM p\
    ), e AS (\
        INSERT INTO bill_events (bill_id, kind, payment_id, amount, status_after, paid_after, \
            details, created_at) \
        SELECT ?, 'payment', id, ?, ?, ?, '{}', ? FROM p\
    ), n AS (\
        INSERT INTO notification_events (uid, organization_id, kind, bill_id, payment_id, \
            payload, created_at) \
        SELECT ?, ?, 'payment.received', ?, id, ?, ? FROM p\
    ) SELECT p.id, (SELECT COUNT(*) FROM b) AS updated FROM p";
    let AnyConnection::Postgresql(pg) = conn else {
        return Err(StoreError::Corrupt(
            "the one-statement payment write is PostgreSQL's".into(),
        ));
    };
    let event_uid = uuid::Uuid::new_v4().to_string();
    let now = to_db(now);
    let status = plan.status.as_str();
    let binds = vec![
        // p
        Bind::Text(&p.uid),
        Bind::BigInt(p.organization_id),
        Bind::NullableBigInt(p.account_id),
        Bind::Text(&p.channel),
        Bind::Text(&p.channel_ref),
        Bind::Text(&req.request_hash),
        Bind::Text(&p.method),
        Bind::Text(p.currency.code()),
        Bind::BigInt(p.amount),
        Bind::BigInt(p.fee),
        Bind::BigInt(p.credit),
        Bind::Text(&p.payer_name),
        Bind::Text(&p.details),
        Bind::Timestamp(to_db(p.paid_at)),
        Bind::Timestamp(now),
        // b
        Bind::Text(status),
        Bind::BigInt(plan.paid),
        Bind::BigInt(plan.version + 1),
        Bind::Timestamp(now),
        Bind::BigInt(plan.bill_id),
        Bind::BigInt(plan.version),
        // v
        Bind::Bool(plan.releases_va_numbers),
        // a
        Bind::BigInt(plan.bill_id),
        Bind::BigInt(plan.amount),
        // e
        Bind::BigInt(plan.bill_id),
        Bind::BigInt(plan.amount),
        Bind::Text(status),
        Bind::BigInt(plan.paid),
        Bind::Timestamp(now),
        // n
        Bind::Text(&event_uid),
        Bind::BigInt(p.organization_id),
        Bind::BigInt(plan.bill_id),
        Bind::Text(&plan.payload),
        Bind::Timestamp(now),
    ];
    let (id, updated): (i64, i64) = Fixed::<(BigInt, BigInt)>::new(SQL, binds).get_result(pg)?;
    if updated != 1 {
        return Err(StoreError::RaceLost {
            entity: crate::Entity::Bill,
            id: plan.bill_id,
        });
    }
    p.id = id;
    Ok(())
}

/// Who is told about a payment on a bill: its collection's webhook (as read with the bill in
/// `hooks`; looked up only for a bill in a collection that was not read with one) and the
/// organization's subscriptions.
fn notification_targets(
    conn: &mut AnyConnection,
    bill_id: i64,
    collection_id: Option<i64>,
    (hooks, settings): (&Hooks, &Settings),
) -> StoreResult<Vec<Target>> {
    if collection_id.is_none() {
        return Ok(subscription_targets(settings));
    }
    let Some((_, hook)) = hooks.iter().find(|(id, _)| *id == bill_id) else {
        return targets_for_bill(conn, bill_id, settings);
    };
    let mut targets = Vec::new();
    if let Some(url) = hook.as_ref().filter(|u| !u.is_empty()) {
        targets.push(Target {
            dialect: billhub_core::org::collections::CALLBACK_DIALECT.into(),
            url: url.clone(),
        });
    }
    targets.extend(subscription_targets(settings));
    Ok(targets)
}

/// The organization's subscriptions as notification targets.
fn subscription_targets(settings: &Settings) -> Vec<Target> {
    settings
        .subscriptions()
        .into_iter()
        .map(|s| Target {
            dialect: s.dialect.into(),
            url: s.url,
        })
        .collect()
}

/// Applies one allocation: the bill's new status (version-checked against the bill as read
/// for the decision, in `bills`), the allocation row, the bill event and the
/// `payment.received` notifications.
fn apply_allocation(
    conn: &mut AnyConnection,
    req: &PaymentRequest,
    payment_id: i64,
    alloc: &Allocation,
    bills: &mut Vec<Bill>,
    (hooks, settings): (&Hooks, &Settings),
    now: OffsetDateTime,
) -> StoreResult<()> {
    let index = match bills.iter().position(|b| b.id == alloc.bill_id) {
        Some(i) => i,
        None => {
            bills.push(load_bill(conn, alloc.bill_id)?);
            bills.len() - 1
        }
    };
    let bill = bills
        .get_mut(index)
        .ok_or_else(|| StoreError::not_found(crate::Entity::Bill, alloc.bill_id))?;
    let (status, paid) = billhub_core::bill::transition(
        bill.status_at(now),
        bill.billed,
        bill.paid,
        BillTransition::Pay(alloc.amount),
    )
    .map_err(|e| StoreError::Invalid(InvalidKind::Transition(e)))?;
    update_bill_versioned(conn, bill, status, paid, now)?;
    // The bill as it now stands, should another allocation name it again.
    bill.status = status;
    bill.paid = paid;
    bill.version += 1;
    bill.updated_at = from_db(to_db(now));
    let (bill_id, collection_id, currency) = (bill.id, bill.collection_id, bill.currency);
    diesel::insert_into(pa::table)
        .values((
            pa::payment_id.eq(payment_id),
            pa::bill_id.eq(alloc.bill_id),
            pa::amount.eq(alloc.amount),
        ))
        .execute(conn)?;
    append_event(
        conn,
        bill_id,
        "payment",
        Some(payment_id),
        Some(alloc.amount),
        status,
        paid,
        "{}",
        now,
    )?;
    let payload = payment_received_payload(alloc.amount, currency, paid, status);
    let targets = notification_targets(conn, bill_id, collection_id, (hooks, settings))?;
    enqueue_event(
        conn,
        req.organization_id,
        "payment.received",
        Some(bill_id),
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

    /// [`Writer::post_payment_with_legacy`] with the organization's settings as the caller
    /// holds them (from the store's cache, seen within seconds as the design allows, or read
    /// in this transaction with [`Reader::organization_with_settings`]): the posting does not
    /// read them again. They decide only the settlement mode of an account payment without one
    /// and who is notified; the bills, payments and credit are read here, fresh. `settings`
    /// must be those of `req.organization_id`.
    pub fn post_payment_with_settings(
        &mut self,
        req: &PaymentRequest,
        legacy: &[String],
        settings: &Settings,
        now: OffsetDateTime,
    ) -> StoreResult<PaymentOutcome> {
        if req.channel.is_empty() || req.channel_ref.is_empty() {
            return Err(StoreError::Invalid(InvalidKind::MissingReference));
        }
        self.with(|conn| post_in_tx_with(conn, req, legacy, Some(settings), now))
    }
}

impl Reader<'_> {
    /// The organization and its settings in one statement (what [`Reader::organization`] and
    /// [`Reader::settings`] read in two).
    pub fn organization_with_settings(
        &mut self,
        organization_id: i64,
    ) -> StoreResult<(Organization, Settings)> {
        self.with(|conn| organization_with_settings(conn, organization_id))
    }
}

crate::tx::store_writes! {
    fn post_payment(&self, req: &PaymentRequest, now: OffsetDateTime) -> PaymentOutcome;
    fn post_payment_with_legacy(&self, req: &PaymentRequest, legacy: &[String], now: OffsetDateTime) -> PaymentOutcome;
}
