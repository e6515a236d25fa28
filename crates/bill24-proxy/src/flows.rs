//! The dialect's use cases, one named function each, over the store: [`proxy`] (what is due for a
//! consumer code), [`pending_bills`] (its account statement) and [`webhook`] (recording a payment
//! notification). Each takes the store, the caller (already authenticated through the store's
//! cache), the validated request and `now`, runs on the blocking pool, and answers the data the
//! response needs or a [`Bill24Error`] (a Merchant Proxy code, or billhub's failure). No actix
//! types here.
//!
//! Each flow makes exactly one store call: one read snapshot (`/proxy`, `/pending_bills`, a
//! webhook whose status is not `success`) or one write transaction (a webhook delivery, all its
//! shares together). The organization and its settings come from the store's cache (a change
//! is seen within seconds, as the design allows), which saves two statements per inquiry and
//! per webhook; a webhook whose caller is known only by its address reads them in its
//! transaction, in one statement. Bills, payments and credit are always read fresh. The rules come from core (`payability`, `bill_bounds`, `account_bounds`,
//! `account_statement`, `decide` in the store), spelled the Bill24 way here.
//!
//! ## Webhook channel references
//! The first share of a transaction is recorded under the Bill24 transaction id itself (`tran_id`,
//! or `tnx_id` in the older generation); share `n` (1-based, n > 1) under `{tran_id}:{n}`. Every
//! share's request hash covers the WHOLE transaction (id, currency, total, every share's customer,
//! bills and amount) plus the share's position. So:
//! - a repeat finds the first share under the bare transaction id whatever the number of shares,
//!   and answers "already recorded" without touching anything;
//! - a repeat whose content differs in any share (another amount, another customer, one share
//!   more or less) is refused on the first share as inconsistent, before any other share is
//!   posted: no part of it can pay twice;
//! - all shares of a delivery are posted in one write transaction: all or nothing. A delivery
//!   that fails (billhub's failure, answered 500) leaves no share behind, and Bill24's retry
//!   posts them all; a share found already recorded (a delivery recorded before shares were
//!   posted together) is replayed and the missing ones are posted.
//!
//! Money that cannot be applied (unknown customer or bill, refused by the rule, wrong currency) is
//! recorded as unapplied by the store (`OnRejection::RecordUnapplied`) and still acknowledged.
//! Webhook notifications are recorded as one store payment per customer share, under the
//! channel `Channel::Bill24`, idempotent by the share's channel reference.

use billhub_core::fingerprint::{self as fp, Fingerprint};
use billhub_core::input;
use billhub_core::org::{Organization, Settings};
use billhub_core::rules::{account_bounds, bill_bounds, payability};
use billhub_core::statement::{EntryKind, LedgerEntry, try_account_statement};
use billhub_core::{Bill, Channel, Currency, Money, PaymentRule, Rejection, SettlementMode};
use billhub_http::json::money_number;
use billhub_store::bill24::Bill24Consumer;
use billhub_store::{
    CachedOrganization, OnRejection, PaymentRequest, PaymentTarget, PostResult, Reader, Store,
    StoreResult, Writer, fingerprint,
};
use time::macros::time;
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

use crate::auth::{WebhookCaller, organization_of};
use crate::codes::{CURRENCIES, Code, code_for};
use crate::error::Bill24Error;
use crate::requests::{ConsumerRequest, CustomerShare, Notification};
use crate::wire::{
    PendingBill, PendingBillsData, ProxyData, parse_transaction_date, proxy_datetime,
    proxy_instant, statement_date, unbounded,
};

// ---------------------------------------------------------------------------------------------
// `/proxy`

/// What is due and within which bounds, and the bill whose dates and description are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due<'a> {
    pub currency: Currency,
    /// Minor units.
    pub due: i64,
    /// `None`: no bound (Bill24's `-1`).
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub shown: &'a Bill,
}

fn carried(currency: Currency) -> bool {
    CURRENCIES.contains(&currency.code())
}

/// A bill named by its number: its own rule decides the bounds (`exact`: the outstanding both
/// ways; `partial`: its minimum, or no lower bound without one, and the outstanding; `open`: none).
pub fn bill_due(bill: &Bill, now: OffsetDateTime) -> Result<Due<'_>, Code> {
    payability(bill, now).map_err(|r| code_for(&r))?;
    if !carried(bill.currency) {
        return Err(Code::CurrencyNotAllow);
    }
    let due = bill.outstanding();
    let (low, high) = bill_bounds(bill);
    let (min, max) = match bill.rule {
        PaymentRule::Exact => (Some(low), high),
        PaymentRule::Partial { minimum: Some(_) } => (Some(low), high),
        PaymentRule::Partial { minimum: None } => (None, high),
        PaymentRule::Open => (None, None),
    };
    Ok(Due {
        currency: bill.currency,
        due,
        min,
        max,
        shown: bill,
    })
}

/// An account named by its code: core's [`account_bounds`] under the organization's settlement
/// mode (`total`: the whole due both ways; `discrete`: the oldest payable bill and the whole
/// due; `open`: none), shown by its newest payable bill, in a currency Bill24 carries.
pub fn account_due(
    bills: &[Bill],
    mode: SettlementMode,
    now: OffsetDateTime,
) -> Result<Due<'_>, Code> {
    let bounds = account_bounds(bills, mode, now).map_err(|r| code_for(&r))?;
    if !carried(bounds.currency) {
        return Err(Code::CurrencyNotAllow);
    }
    Ok(Due {
        currency: bounds.currency,
        due: bounds.due,
        min: bounds.min,
        max: bounds.max,
        shown: bounds.newest,
    })
}

/// What the consumer code names is due: the bill, else the account's payable bills.
fn consumer_due(
    consumer: &Bill24Consumer,
    mode: SettlementMode,
    now: OffsetDateTime,
) -> Result<Due<'_>, Code> {
    match &consumer.bill {
        Some(bill) => bill_due(bill, now),
        None => account_due(&consumer.account_bills, mode, now),
    }
}

fn bound(v: Option<i64>, currency: Currency) -> serde_json::Number {
    match v {
        Some(m) => money_number(Money::from_minor(m, currency)),
        None => unbounded(),
    }
}

/// `last_due_date`: the due date's last second, else the validity end, else empty.
fn due_date_text(bill: &Bill, org: &Organization) -> String {
    match (bill.due_date, bill.valid_until) {
        (Some(d), _) => proxy_datetime(d, time!(23:59:59)),
        (None, Some(v)) => proxy_instant(v, org.utc_offset),
        (None, None) => String::new(),
    }
}

fn description(bill: &Bill) -> String {
    if !bill.description.trim().is_empty() {
        bill.description.clone()
    } else if !bill.name.trim().is_empty() {
        bill.name.clone()
    } else {
        format!("Invoice {}", bill.invoice_number)
    }
}

/// The `/proxy` data of a consumer whose due is known, with the account's credit.
fn proxy_data(
    org: &Organization,
    code: &str,
    consumer: &Bill24Consumer,
    due: &Due<'_>,
    credit: i64,
) -> ProxyData {
    let account = &consumer.account;
    ProxyData {
        consumer_code: code.to_string(),
        consumer_name: if account.name.is_empty() {
            account.name_latin.clone()
        } else {
            account.name.clone()
        },
        consumer_name_latin: account.name_latin.clone(),
        phone: account.phone.clone(),
        currency: due.currency.code().to_string(),
        due_amount: money_number(Money::from_minor(due.due, due.currency)),
        min_amount: bound(due.min, due.currency),
        max_amount: bound(due.max, due.currency),
        balance: money_number(Money::from_minor(credit.max(0), due.currency)),
        description: description(due.shown),
        last_bill_date: proxy_datetime(due.shown.bill_date, Time::MIDNIGHT),
        last_due_date: due_date_text(due.shown, org),
        last_pay_date: consumer
            .last_paid_at
            .map(|t| proxy_instant(t, org.utc_offset))
            .unwrap_or_default(),
    }
}

/// `POST /proxy`: the amount due for a consumer code, or code 1-4. The organization and its
/// settings from the cache, then one read snapshot: the consumer's bills and payments, its
/// credit.
pub fn proxy(
    store: &Store,
    org_id: i64,
    req: &ConsumerRequest,
    now: OffsetDateTime,
) -> Result<ProxyData, Bill24Error> {
    // The organization and its settings from the store's cache (a change made elsewhere is
    // seen within seconds): two statements fewer per inquiry.
    let cached = store.cached_organization(org_id, now)?;
    let (org, settings) = (&cached.organization, &cached.settings);
    store.snapshot(|r| {
        let consumer = r
            .bill24_consumer(org.id, &req.consumer_code, now)?
            .ok_or(Code::NotFound)?;
        let due = consumer_due(&consumer, settings.settlement, now)?;
        let credit = r.account_credit(consumer.account.id, due.currency)?;
        Ok(proxy_data(org, &req.consumer_code, &consumer, &due, credit))
    })
}

// ---------------------------------------------------------------------------------------------
// `/pending_bills`

/// The first day of the statement window: `months` before `today`, the same day of the month
/// (the month's last day when it is shorter).
pub fn window_start(today: Date, months: u32) -> Date {
    let months = i32::try_from(months).unwrap_or(i32::MAX);
    let index = today.year() * 12 + i32::from(u8::from(today.month())) - 1 - months;
    let year = index.div_euclid(12);
    let month = u8::try_from(index.rem_euclid(12) + 1)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .unwrap_or(Month::January);
    let day = today.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(today)
}

/// The one currency of a statement: the account's only currency (KHR when it has none), if
/// Bill24 carries it.
fn statement_currency(currencies: &[String]) -> Result<Currency, Code> {
    match currencies {
        [] => Ok(Currency::KHR),
        [one] => match Currency::from_code(one) {
            Ok(c) if carried(c) => Ok(c),
            _ => Err(Code::CurrencyNotAllow),
        },
        _ => Err(Code::CurrencyNotAllow),
    }
}

/// Core's account statement of `entries`, spelled the Bill24 way.
fn statement_data(
    public_url: &str,
    entries: &[LedgerEntry],
    from: Date,
    max_entries: u32,
    currency: Currency,
) -> Result<PendingBillsData, Bill24Error> {
    // A running balance beyond i64 minor units cannot be shown truthfully: billhub's failure
    // (logged), never a capped number.
    let statement = try_account_statement(
        entries,
        from,
        usize::try_from(max_entries).unwrap_or(usize::MAX),
    )
    .map_err(|e| {
        Bill24Error::Store(billhub_store::StoreError::Corrupt(format!(
            "the account statement does not fit: {e}"
        )))
    })?;
    let money = |minor: i64| money_number(Money::from_minor(minor, currency));
    Ok(PendingBillsData {
        opening_balance: money(statement.opening_balance),
        pending_bills: statement
            .lines
            .iter()
            .map(|line| PendingBill {
                date: statement_date(line.entry.date),
                amount: money(line.entry.amount),
                balance: money(line.balance),
                digital_bill_url: match line.entry.kind {
                    EntryKind::Bill => format!("{public_url}/b/{}", line.entry.public_no),
                    EntryKind::Payment | EntryKind::Reversal | EntryKind::CreditApplied => {
                        format!("{public_url}/r/{}", line.entry.public_no)
                    }
                    // Money given back outside billhub has no page.
                    EntryKind::CreditRefund => String::new(),
                },
            })
            .collect(),
    })
}

/// `POST /pending_bills`: core's account statement of the account the code names, or code 1/4.
/// The organization and its settings from the cache, then one read snapshot: the consumer and
/// its ledger (bills read once, payments with their reversals in one statement).
pub fn pending_bills(
    store: &Store,
    public_url: &str,
    org_id: i64,
    req: &ConsumerRequest,
    now: OffsetDateTime,
) -> Result<PendingBillsData, Bill24Error> {
    // The organization and its settings from the store's cache, as for `/proxy`.
    let cached = store.cached_organization(org_id, now)?;
    let (org, settings) = (&cached.organization, &cached.settings);
    store.snapshot(|r| {
        let section = settings.bill24();
        let found = r
            .bill24_statement(org.id, &req.consumer_code, now, org.utc_offset)?
            .ok_or(Code::NotFound)?;
        let currency = statement_currency(&found.ledger.currencies)?;
        let today = billhub_store::local_date(now, org.utc_offset);
        let from = window_start(today, section.statement_months);
        statement_data(
            public_url,
            &found.ledger.entries,
            from,
            section.statement_max_entries,
            currency,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// `/webhook`

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// At least one share was recorded by this delivery (`posted` applied, `unapplied` kept as
    /// unapplied money).
    New { posted: usize, unapplied: usize },
    /// Every share had already been recorded: nothing changed.
    AlreadyRecorded,
    /// The transaction id was recorded with other content: nothing changed.
    Inconsistent,
    /// The transaction's status is not `success`: nothing recorded.
    NotApplied { status: String },
}

/// The channel reference of share `index` (0-based).
pub fn share_reference(tran_id: &str, index: usize) -> String {
    if index == 0 {
        tran_id.to_string()
    } else {
        format!("{tran_id}:{}", index + 1)
    }
}

/// The v1 fingerprint of the whole transaction's payment content (written before v2; kept as
/// a legacy form so a retry of a delivery recorded before the upgrade is still recognised).
fn transaction_fingerprint(n: &Notification) -> String {
    let mut parts: Vec<String> = vec![
        n.generation.as_str().to_string(),
        n.tran_id.clone(),
        n.currency.code().to_string(),
        n.tran_amount.minor().to_string(),
        n.shares.len().to_string(),
    ];
    for s in &n.shares {
        parts.push(s.customer_code.clone());
        parts.push(
            s.bills
                .iter()
                .map(|refs| refs.join("|"))
                .collect::<Vec<_>>()
                .join(","),
        );
        parts.push(s.amount.minor().to_string());
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    fingerprint(&refs)
}

/// The v2 fingerprint of the whole transaction: every field its payments record, normalised
/// (names trimmed, the paid date as a UTC instant, or as sent when it was replaced by the time
/// of receipt; nothing when none was sent), in a fixed order.
fn transaction_print(n: &Notification, paid_at: PaidAt) -> String {
    let paid_date = match (&n.paid_date, paid_at.replaced) {
        (None, _) => String::new(),
        (Some(_), None) => fp::instant(paid_at.at),
        (Some(given), Some(_)) => format!("as sent {}", fp::text(given)),
    };
    let mut fields: Vec<(String, String)> = vec![
        ("generation".into(), n.generation.as_str().to_string()),
        ("tran_id".into(), n.tran_id.clone()),
        ("currency".into(), n.currency.code().to_string()),
        ("tran_amount".into(), n.tran_amount.minor().to_string()),
        ("customer_fee".into(), n.fee.to_string()),
        ("method".into(), fp::text(&n.method)),
        ("paid_date".into(), paid_date),
        ("shares".into(), n.shares.len().to_string()),
    ];
    if n.unreadable.is_some() {
        // Kept whole as unapplied: the body as sent is what is recorded, so all of it counts.
        let body = serde_json::Value::Object(n.transaction.clone());
        let sent = n.raw_body.clone().unwrap_or_else(|| body.to_string());
        fields.push(("unreadable_body".into(), sent));
    }
    for (i, s) in n.shares.iter().enumerate() {
        let bills = s
            .bills
            .iter()
            .map(|refs| refs.join("|"))
            .collect::<Vec<_>>()
            .join(",");
        fields.push((format!("{i}.customer_code"), s.customer_code.clone()));
        fields.push((format!("{i}.customer_name"), fp::text(&s.customer_name)));
        fields.push((format!("{i}.bills"), bills));
        fields.push((format!("{i}.amount"), s.amount.minor().to_string()));
    }
    let named: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Fingerprint::v2("bill24-transaction", &named).current
}

/// The fingerprint of share `i` of a transaction: v2 over the transaction's v2 `print`, v1
/// over its v1 form `tx`.
fn share_print(print: &str, tx: &str, i: usize, unreadable: bool) -> Fingerprint {
    let index = i.to_string();
    let v2 = Fingerprint::v2("bill24-share", &[("transaction", print), ("share", &index)]);
    if unreadable {
        // No delivery before v2 was kept unread: nothing older to recognise.
        return v2;
    }
    v2.with_legacy(fingerprint(&[tx, &index]))
}

/// The first bill any of `refs` names, tried in order.
fn named_bill(
    r: &mut Reader<'_>,
    organization_id: i64,
    refs: &[String],
    now: OffsetDateTime,
) -> StoreResult<Option<Bill>> {
    for reference in refs {
        if let Some(b) = r.bill24_bill(organization_id, reference, now)? {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

/// Where a share's money goes: the named bill(s), else what the customer code names (an
/// account under the organization's settlement mode, or a bill), else nowhere (unapplied).
fn target(
    r: &mut Reader<'_>,
    organization_id: i64,
    n: &Notification,
    share: &CustomerShare,
    now: OffsetDateTime,
) -> StoreResult<PaymentTarget> {
    let unknown = || PaymentTarget::Unknown {
        account_code: share.customer_code.clone(),
    };
    if n.unreadable.is_some() {
        // A delivery that does not read in full is not applied anywhere: an operator decides.
        return Ok(unknown());
    }
    if !share.bills.is_empty() {
        let mut found = Vec::with_capacity(share.bills.len());
        for refs in &share.bills {
            match named_bill(r, organization_id, refs, now)? {
                Some(b) => found.push(b),
                None => return Ok(unknown()),
            }
        }
        return Ok(match found.as_slice() {
            [one] => PaymentTarget::Bill { bill_id: one.id },
            [first, rest @ ..] if rest.iter().all(|b| b.account_id == first.account_id) => {
                // Several bills named: each paid its whole outstanding (discrete).
                PaymentTarget::Account {
                    account_id: first.account_id,
                    mode: Some(SettlementMode::Discrete),
                    chosen: Some(found.iter().map(|b| b.id).collect()),
                }
            }
            _ => unknown(),
        });
    }
    // What the customer code names, found as `bill24_consumer` finds it (an account first,
    // then a bill), without the statement data a payment does not need.
    if let Some(account) = r.account_by_code(organization_id, &share.customer_code)? {
        return Ok(PaymentTarget::Account {
            account_id: account.id,
            mode: None,
            chosen: None,
        });
    }
    Ok(
        match r.bill24_bill(organization_id, &share.customer_code, now)? {
            Some(b) => PaymentTarget::Bill { bill_id: b.id },
            None => unknown(),
        },
    )
}

/// The store payment of share `i`, stored with fingerprint `print`.
fn share_payment(
    org: &Organization,
    n: &Notification,
    i: usize,
    share: &CustomerShare,
    (print, target, paid_at): (&Fingerprint, PaymentTarget, PaidAt),
) -> PaymentRequest {
    let mut details = serde_json::Map::new();
    details.insert("generation".into(), n.generation.as_str().into());
    details.insert("part".into(), (i + 1).into());
    details.insert("parts".into(), n.shares.len().into());
    details.insert("transaction".into(), n.transaction.clone().into());
    details.insert("customer".into(), share.raw.clone());
    if let Some(raw) = &n.raw_body {
        details.insert("raw_body".into(), raw.clone().into());
    }
    if let Some(why) = &n.unreadable {
        details.insert("unreadable".into(), why.clone().into());
    }
    if let Some(reason) = paid_at.replaced {
        details.insert(
            "paid_date_replaced".into(),
            serde_json::json!({ "given": n.paid_date, "reason": reason }),
        );
    }
    let details = serde_json::Value::Object(details).to_string();
    PaymentRequest {
        organization_id: org.id,
        channel: Channel::Bill24.as_db(),
        channel_ref: share_reference(&n.tran_id, i),
        request_hash: print.current.clone(),
        target,
        amount: share.amount,
        fee: if i == 0 { n.fee } else { 0 },
        method: n.method.clone(),
        payer_name: share.customer_name.clone(),
        details,
        paid_at: paid_at.at,
        on_rejection: OnRejection::RecordUnapplied,
    }
}

/// When a delivery's money was taken: its date as sent, or the time of receipt when it sent
/// none, or one that does not read or that core's [`input::judge_date`] refuses (then
/// `replaced` says why: the money is already taken, so the date is replaced, never refused;
/// the text stays in the details).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PaidAt {
    at: OffsetDateTime,
    replaced: Option<&'static str>,
}

fn paid_at(n: &Notification, offset: UtcOffset, now: OffsetDateTime) -> PaidAt {
    let receipt = |why| PaidAt {
        at: now,
        replaced: Some(why),
    };
    let Some(text) = n.paid_date.as_deref() else {
        return PaidAt {
            at: now,
            replaced: None,
        };
    };
    match parse_transaction_date(text, offset).map(|t| input::judge_date(t, now)) {
        Some(Ok(at)) => PaidAt { at, replaced: None },
        Some(Err(_)) => receipt("outside 2000-01-01 .. now + 1 day: the time of receipt is used"),
        None => receipt("unreadable: the time of receipt is used"),
    }
}

/// What posting one share did (logged once the transaction has committed).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ShareOutcome {
    Posted {
        payment: String,
        amount: i64,
        credit: i64,
    },
    Unapplied {
        id: i64,
        reason: String,
    },
    Replayed,
    Inconsistent,
}

/// Posts one share, idempotent by its channel reference.
fn post_share(
    w: &mut Writer<'_>,
    req: &PaymentRequest,
    (legacy, settings): (&[String], &Settings),
    now: OffsetDateTime,
) -> Result<ShareOutcome, Bill24Error> {
    match w.post_payment_with_settings(req, legacy, settings, now) {
        Ok(outcome) if outcome.replayed => Ok(ShareOutcome::Replayed),
        Ok(outcome) => Ok(match outcome.result {
            PostResult::Posted(p) => ShareOutcome::Posted {
                payment: p.uid,
                amount: p.amount,
                credit: p.credit,
            },
            PostResult::Unapplied(u) => ShareOutcome::Unapplied {
                id: u.id,
                reason: u.reason,
            },
        }),
        Err(e) if e.rejection() == Some(&Rejection::InconsistentReplay) => {
            Ok(ShareOutcome::Inconsistent)
        }
        Err(e) => Err(Bill24Error::Store(e)),
    }
}

/// What one delivery's transaction did: the organization it spoke for and each share's
/// outcome (with its channel reference), up to the first share refused as inconsistent.
struct Delivery {
    organization_id: i64,
    shares: Vec<(String, ShareOutcome)>,
}

/// Every share of a delivery, inside one write transaction (run again from the start after a
/// lost race, so every bill and payment is decided from what it reads here). The organization
/// and its settings come from the store's cache when the caller named its organization
/// (`cached`), else they are read here, in one statement.
fn record(
    w: &mut Writer<'_>,
    (caller, cached): (WebhookCaller, Option<&CachedOrganization>),
    n: &Notification,
    tx: &str,
    now: OffsetDateTime,
) -> Result<Delivery, Bill24Error> {
    let organization_id = organization_of(w, caller)?;
    let read;
    let (org, settings) = match cached.filter(|c| c.organization.id == organization_id) {
        Some(c) => (&c.organization, &c.settings),
        None => {
            read = w.organization_with_settings(organization_id)?;
            (&read.0, &read.1)
        }
    };
    let paid_at = paid_at(n, org.utc_offset, now);
    let print = transaction_print(n, paid_at);
    let mut shares = Vec::with_capacity(n.shares.len());
    for (i, share) in n.shares.iter().enumerate() {
        let target = target(w, org.id, n, share, now)?;
        let share_print = share_print(&print, tx, i, n.unreadable.is_some());
        let req = share_payment(org, n, i, share, (&share_print, target, paid_at));
        let outcome = post_share(w, &req, (&share_print.legacy, settings), now)?;
        let stop = outcome == ShareOutcome::Inconsistent;
        shares.push((req.channel_ref, outcome));
        if stop {
            break;
        }
    }
    Ok(Delivery {
        organization_id,
        shares,
    })
}

/// The answer to a delivery whose shares did `shares`. A share refused as inconsistent before
/// anything was posted makes the whole delivery inconsistent (every share's hash covers the whole
/// transaction, so it is always the first share).
fn summary(shares: &[(String, ShareOutcome)]) -> Recorded {
    let (mut posted, mut unapplied) = (0usize, 0usize);
    for (_, outcome) in shares {
        match outcome {
            ShareOutcome::Posted { .. } => posted += 1,
            ShareOutcome::Unapplied { .. } => unapplied += 1,
            ShareOutcome::Replayed => {}
            ShareOutcome::Inconsistent if posted + unapplied == 0 => return Recorded::Inconsistent,
            ShareOutcome::Inconsistent => return Recorded::New { posted, unapplied },
        }
    }
    if posted + unapplied == 0 {
        Recorded::AlreadyRecorded
    } else {
        Recorded::New { posted, unapplied }
    }
}

/// Logs what a committed delivery did.
fn log_delivery(caller: WebhookCaller, n: &Notification, delivery: &Delivery) {
    if let WebhookCaller::Address(ip) = caller {
        tracing::info!(organization_id = delivery.organization_id, caller = %ip, "bill24 webhook accepted from an allow-listed address");
    }
    for (channel_ref, outcome) in &delivery.shares {
        match outcome {
            ShareOutcome::Posted {
                payment,
                amount,
                credit,
            } => {
                tracing::info!(tran_id = %n.tran_id, channel_ref = %channel_ref, payment = %payment, amount, credit, "bill24 payment recorded");
            }
            ShareOutcome::Unapplied { id, reason } => {
                tracing::warn!(tran_id = %n.tran_id, channel_ref = %channel_ref, unapplied_id = id, reason = %reason, "bill24 payment kept as unapplied money");
            }
            ShareOutcome::Replayed => {}
            ShareOutcome::Inconsistent => {
                tracing::warn!(tran_id = %n.tran_id, channel_ref = %channel_ref, "bill24 transaction repeated with different content; nothing changed");
            }
        }
    }
}

/// `POST /webhook`: records a delivery for the caller's organization, one payment per customer
/// share, all shares in one write transaction (a status other than `success`: one snapshot that
/// only finds the organization).
pub fn webhook(
    store: &Store,
    caller: WebhookCaller,
    n: &Notification,
    now: OffsetDateTime,
) -> Result<Recorded, Bill24Error> {
    if n.status != "success" {
        let organization_id = store.snapshot(|r| {
            let id = organization_of(r, caller)?;
            r.organization(id)?;
            Ok::<_, Bill24Error>(id)
        })?;
        let delivery = Delivery {
            organization_id,
            shares: Vec::new(),
        };
        log_delivery(caller, n, &delivery);
        return Ok(Recorded::NotApplied {
            status: n.status.clone(),
        });
    }
    let tx = transaction_fingerprint(n);
    // The organization and its settings from the store's cache (seen within seconds, as the
    // design allows; not money state), outside the transaction, when the caller names it.
    let cached = match caller {
        WebhookCaller::Organization(id) => Some(store.cached_organization(id, now)?),
        WebhookCaller::Address(_) => None,
    };
    let delivery = store.transaction(|w| record(w, (caller, cached.as_deref()), n, &tx, now))?;
    log_delivery(caller, n, &delivery);
    Ok(summary(&delivery.shares))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    /// Core's test bill with this test's due date (none) and public number.
    fn bill(id: i64, currency: Currency, billed: i64, paid: i64, rule: PaymentRule) -> Bill {
        billhub_core::testing::bill(id)
            .public_no(&format!("P{id:07}"))
            .currency(currency)
            .billed(billed)
            .paid(paid)
            .rule(rule)
            .due_date(None)
            .build()
    }

    const NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);

    #[test]
    fn bill_bounds_per_rule() {
        let b = bill(1, Currency::USD, 1000, 0, PaymentRule::Exact);
        let d = bill_due(&b, NOW).unwrap();
        assert_eq!((d.due, d.min, d.max), (1000, Some(1000), Some(1000)));
        let b = bill(
            1,
            Currency::USD,
            1000,
            200,
            PaymentRule::Partial { minimum: Some(300) },
        );
        let d = bill_due(&b, NOW).unwrap();
        assert_eq!((d.due, d.min, d.max), (800, Some(300), Some(800)));
        let b = bill(
            1,
            Currency::USD,
            1000,
            0,
            PaymentRule::Partial { minimum: None },
        );
        let d = bill_due(&b, NOW).unwrap();
        assert_eq!((d.min, d.max), (None, Some(1000)));
        let b = bill(1, Currency::KHR, 1000, 0, PaymentRule::Open);
        let d = bill_due(&b, NOW).unwrap();
        assert_eq!((d.min, d.max), (None, None));
        let b = bill(1, Currency::EUR, 1000, 0, PaymentRule::Exact);
        assert_eq!(bill_due(&b, NOW), Err(Code::CurrencyNotAllow));
        let b = bill(1, Currency::USD, 1000, 1000, PaymentRule::Exact);
        assert_eq!(bill_due(&b, NOW), Err(Code::NoAmountToPay));
        let mut b = bill(1, Currency::USD, 1000, 0, PaymentRule::Exact);
        b.valid_until = Some(datetime!(2025-05-01 00:00 UTC));
        assert_eq!(bill_due(&b, NOW), Err(Code::BillOverDue));
    }

    #[test]
    fn account_bounds_per_mode() {
        let bills = vec![
            bill(1, Currency::USD, 1000, 0, PaymentRule::Exact),
            bill(2, Currency::USD, 500, 0, PaymentRule::Exact),
            bill(3, Currency::USD, 700, 700, PaymentRule::Exact),
        ];
        let d = account_due(&bills, SettlementMode::Total, NOW).unwrap();
        assert_eq!((d.due, d.min, d.max), (1500, Some(1500), Some(1500)));
        assert_eq!(d.shown.id, 2);
        let d = account_due(&bills, SettlementMode::Discrete, NOW).unwrap();
        assert_eq!((d.min, d.max), (Some(1000), Some(1500)));
        let d = account_due(&bills, SettlementMode::Open, NOW).unwrap();
        assert_eq!((d.min, d.max), (None, None));
        let mixed = vec![
            bill(1, Currency::USD, 1000, 0, PaymentRule::Exact),
            bill(2, Currency::KHR, 500, 0, PaymentRule::Exact),
        ];
        assert_eq!(
            account_due(&mixed, SettlementMode::Open, NOW),
            Err(Code::CurrencyNotAllow)
        );
        let mut expired = bill(1, Currency::USD, 1000, 0, PaymentRule::Exact);
        expired.valid_until = Some(datetime!(2025-05-01 00:00 UTC));
        let paid = bill(2, Currency::USD, 500, 500, PaymentRule::Exact);
        assert_eq!(
            account_due(&[expired, paid.clone()], SettlementMode::Open, NOW),
            Err(Code::BillOverDue)
        );
        assert_eq!(
            account_due(&[paid], SettlementMode::Open, NOW),
            Err(Code::NoAmountToPay)
        );
        assert_eq!(
            account_due(&[], SettlementMode::Open, NOW),
            Err(Code::NoAmountToPay)
        );
    }

    #[test]
    fn windows() {
        assert_eq!(
            window_start(date!(2025 - 09 - 01), 12),
            date!(2024 - 09 - 01)
        );
        assert_eq!(
            window_start(date!(2025 - 03 - 31), 1),
            date!(2025 - 02 - 28)
        );
        assert_eq!(
            window_start(date!(2025 - 01 - 15), 1),
            date!(2024 - 12 - 15)
        );
        assert_eq!(
            window_start(date!(2024 - 02 - 29), 12),
            date!(2023 - 02 - 28)
        );
        assert_eq!(
            window_start(date!(2025 - 09 - 01), 120),
            date!(2015 - 09 - 01)
        );
    }

    #[test]
    fn references() {
        assert_eq!(share_reference("T1", 0), "T1");
        assert_eq!(share_reference("T1", 1), "T1:2");
        assert_eq!(share_reference("T1", 2), "T1:3");
    }
}
