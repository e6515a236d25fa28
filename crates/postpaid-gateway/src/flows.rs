//! The dialect's use cases, one named function each: Get Parameters, Get Invoices, Payment,
//! Revert and transaction info. Each takes the store, the authenticated [`Network`], a request
//! read by [`crate::requests`] and `now`, and returns the answer in wire terms or a
//! [`PostpaidError`]. No actix here; the rules are core's ([`postpaid::quote`],
//! [`postpaid::settle`], [`billhub_core::rules::decide`] and
//! [`billhub_core::reversal::may_reverse`] inside the store): a flow reads, asks core, writes,
//! and spells.
//!
//! Each flow makes **one** store call, one transaction: a snapshot for Get Parameters and
//! transaction info, a write transaction for Get Invoices (it may issue a code), Payment and
//! Revert. The operator's organization and settings come from the store's cache (at most 5 s
//! old); whether the network is enrolled with it is read inside the transaction.
//!
//! On the payment and revert routes the order is: the operator (a payment's recorded
//! `additionalData` are the operator's `pay` fields), the idempotency check by channel reference
//! (a repeat gets its first answer, another request under the same reference gets 12), then the
//! salt `(U, ST, SH)` where it is single-use (reverts; every route with
//! `csq.single_use_salts=all`: 401 when already used), then validation (900, an unknown
//! operator among them) and the business rules. A refusal after a single-use salt was recorded
//! still commits it ([`Signed`]): the salt is used up whatever the answer. Where salts may be
//! reused, nothing about them is recorded.

use std::collections::BTreeMap;
use std::sync::Arc;

use billhub_core::Channel;
use billhub_core::channel_settings::SaltUse;
use billhub_core::org::Organization;
use billhub_core::postpaid::{
    self, Offer, Quote, QuoteError, QuoteTerms, TRANSACTION_CODE, TerminalFields,
};
use billhub_core::reversal::{Claimed, Requester};
use billhub_core::{Account, Currency, Money, Payment, Rejection, SettlementMode};
use billhub_store::postpaid::{
    CodeHolder, CodeProblem, NewPostpaidCode, PostpaidCode, PostpaidPosting,
};
use billhub_store::{
    CachedOrganization, OnRejection, PaymentRequest, PaymentTarget, PostResult, Reader,
    ReversalRequest, Store, Writer,
};
use time::OffsetDateTime;

use crate::auth::{self, Network};
use crate::codes::{
    During, PostpaidError, Refusal, from_code_problem, from_rejection, from_settle, from_store,
    refusal_of,
};
use crate::requests::{
    Ids, InfoRequest, InvoicesRequest, Pay, PayRequest, Revert, RevertRequest, iso_date,
};
use crate::wire::{
    InvoiceItem, InvoicesResponse, KeyValue, TransactionResponse, from_x100, to_x100,
};

/// The organization a request names, with its settings (`settings.postpaid()`: fields, fee,
/// code time to live, revert window), as the cache holds it.
type Operator = CachedOrganization;

/// The organization behind `operatorId` from the cache; `None` when there is none (answered as
/// an unknown operator once the signature is dealt with).
fn cached_operator(
    store: &Store,
    operator_id: i32,
    now: OffsetDateTime,
) -> Result<Option<Arc<Operator>>, PostpaidError> {
    match store.cached_organization(i64::from(operator_id), now) {
        Ok(op) => Ok(Some(op)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(PostpaidError::store("reading the operator", e)),
    }
}

/// The cached operator of [`cached_operator`] for a request whose path integers may be wrong
/// (those are refused later, in their turn).
fn cached_operator_of(
    store: &Store,
    ids: &Result<Ids, Refusal>,
    now: OffsetDateTime,
) -> Result<Option<Arc<Operator>>, PostpaidError> {
    match ids {
        Ok(ids) => cached_operator(store, ids.operator_id, now),
        Err(_) => Ok(None),
    }
}

/// The operator, when the network is enrolled with it (others answer as an unknown operator).
fn enrolled<'o>(
    r: &mut Reader<'_>,
    network: &Network,
    operator_id: i32,
    cached: Option<&'o Operator>,
) -> Result<&'o Operator, PostpaidError> {
    enrolled_or_none(r, network, cached)?
        .ok_or_else(|| Refusal::unknown_operator(operator_id).into())
}

/// The operator when it exists and the network is enrolled with it, else `None`.
fn enrolled_or_none<'o>(
    r: &mut Reader<'_>,
    network: &Network,
    cached: Option<&'o Operator>,
) -> Result<Option<&'o Operator>, PostpaidError> {
    let Some(op) = cached else {
        return Ok(None);
    };
    let enrolled = r
        .is_enrolled(network.channel_id, op.organization.id)
        .during("reading the operator")?;
    Ok(enrolled.then_some(op))
}

/// What a route ends with once its salt is dealt with. A refusal is an answer too: the
/// transaction commits, so a single-use salt stays used (nothing else was written: the store
/// refuses a posting or reversal before writing anything).
enum Signed<T> {
    Answered(T),
    Refused(Refusal),
}

impl<T> Signed<T> {
    /// A refusal becomes an answer to commit; any other failure rolls the transaction back.
    fn of(result: Result<T, PostpaidError>) -> Result<Signed<T>, PostpaidError> {
        match result {
            Ok(answer) => Ok(Signed::Answered(answer)),
            Err(PostpaidError::Refused(refusal)) => Ok(Signed::Refused(refusal)),
            Err(e) => Err(e),
        }
    }

    /// After the commit: the answer, or the refusal as the dialect's error.
    fn into_result(self) -> Result<T, PostpaidError> {
        match self {
            Signed::Answered(answer) => Ok(answer),
            Signed::Refused(refusal) => Err(refusal.into()),
        }
    }
}

fn payment_type_name(mode: SettlementMode) -> &'static str {
    match mode {
        SettlementMode::Total => "TOTAL",
        SettlementMode::Discrete => "DISCRETE",
        SettlementMode::Open => "OPEN",
    }
}

fn unknown_account() -> Refusal {
    Refusal::rejected("Unknown account: no customer with this code")
}

fn too_large() -> Refusal {
    Refusal::invalid("an amount does not fit an int32 X100 value")
}

/// Minor units as X100, refused (900) beyond int32.
fn x100(minor: i64, currency: Currency) -> Result<i64, Refusal> {
    to_x100(minor, currency).ok_or_else(too_large)
}

// ----------------------------------------------------------------------------------------------
// Get Parameters

/// The fields the operator's terminals ask for: one snapshot (the enrolment), or one write
/// transaction where lookups use their salt once.
pub fn parameters(
    store: &Store,
    network: &Network,
    operator_id: i32,
    now: OffsetDateTime,
) -> Result<TerminalFields, PostpaidError> {
    let cached = cached_operator(store, operator_id, now)?;
    let read = |r: &mut Reader<'_>| {
        let op = enrolled(r, network, operator_id, cached.as_deref())?;
        Ok(op.settings.postpaid().fields.clone())
    };
    if network.single_use(SaltUse::Lookup) {
        signed_lookup(store, network, now, |w| read(w))
    } else {
        store.snapshot(read)
    }
}

/// A read-only route in one write transaction that first uses the request's salt (401 when it
/// was used before); a refusal commits the salt's use too.
fn signed_lookup<T>(
    store: &Store,
    network: &Network,
    now: OffsetDateTime,
    read: impl Fn(&mut Writer<'_>) -> Result<T, PostpaidError>,
) -> Result<T, PostpaidError> {
    store
        .transaction(|w| {
            auth::use_salt(w, network, SaltUse::Lookup, now)?;
            Signed::of(read(w))
        })
        .and_then(Signed::into_result)
}

/// A signed ping: nothing to read; where lookups use their salt once, it is used up (one write
/// transaction), else no store work at all.
pub fn ping(store: &Store, network: &Network, now: OffsetDateTime) -> Result<(), PostpaidError> {
    if network.single_use(SaltUse::Lookup) {
        signed_lookup(store, network, now, |_| Ok(()))
    } else {
        Ok(())
    }
}

// ----------------------------------------------------------------------------------------------
// Get Invoices

/// An account's invoices as the terminal sees them, and a transaction code when something is
/// payable: one write transaction.
pub fn get_invoices(
    store: &Store,
    network: &Network,
    req: InvoicesRequest,
    now: OffsetDateTime,
) -> Result<InvoicesResponse, PostpaidError> {
    let cached = cached_operator(store, req.operator_id, now)?;
    store
        .transaction(|w| {
            auth::use_salt(w, network, SaltUse::Lookup, now)?;
            Signed::of(
                enrolled(w, network, req.operator_id, cached.as_deref())
                    .and_then(|op| invoices_in(w, network, req.clone(), op, now)),
            )
        })
        .and_then(Signed::into_result)
}

/// Get Invoices inside its transaction, the operator known.
fn invoices_in(
    w: &mut Writer<'_>,
    network: &Network,
    req: InvoicesRequest,
    op: &Operator,
    now: OffsetDateTime,
) -> Result<InvoicesResponse, PostpaidError> {
    let terminal_id = req.terminal_id;
    let settings = op.settings.postpaid();
    let org = &op.organization;
    let lookup = req.values(&settings.fields)?;
    let Some(account) = w
        .account_by_code(org.id, &lookup.account)
        .during("reading invoices")?
    else {
        return Err(unknown_account().into());
    };
    let bills = w.bills_of_account(account.id).during("reading invoices")?;
    let terms = QuoteTerms {
        payment_type: op.settings.settlement,
        fee_x100: settings.fee_x100,
        installments: lookup.installments,
    };
    let quote = match postpaid::quote(&bills, terms, now) {
        Ok(q) => q,
        Err(QuoteError::Rejected(r)) => return Err(refusal_of(&r, 0, None).into()),
        Err(e @ QuoteError::FeeNotWhole { .. }) => {
            return Err(PostpaidError::internal("reading the fee", e));
        }
    };
    let mut response = listing(&quote, org)?;
    let Some(currency) = quote.currency.filter(|_| quote.is_payable()) else {
        return Ok(response);
    };
    let destination = x100(quote.total, currency)?;
    let with_fee = x100(quote.amount_to_send(), currency)?;
    let new = NewPostpaidCode {
        channel_id: network.channel_id,
        organization_id: org.id,
        terminal_id: i64::from(terminal_id),
        account_id: account.id,
        bill_ids: quote.bill_ids(),
        total: quote.total,
        fee: quote.fee,
        payment_type: quote.payment_type,
        currency: currency.code().into(),
        ttl: settings.code_ttl(),
        local_date: billhub_store::local_date(now, org.utc_offset),
    };
    let code = w
        .create_postpaid_code(&new, now)
        .during("issuing a transaction code")?;
    response.message = "Pending invoices retrieved successfully".into();
    response.additional_data = vec![KeyValue {
        key: TRANSACTION_CODE.into(),
        value: code.code,
    }];
    response.pending_invoices = i64::try_from(quote.payable.len()).unwrap_or(i64::MAX);
    response.amount_to_send_x100 = with_fee;
    response.destination_amount_x100 = destination;
    response.service_fee_x100 = quote.fee_x100;
    response.total_amount_x100 = with_fee;
    Ok(response)
}

/// The listed items of a quote, with zero totals and no code ("No pending invoices").
fn listing(quote: &Quote<'_>, org: &Organization) -> Result<InvoicesResponse, Refusal> {
    let mut items = Vec::with_capacity(quote.items.len());
    for item in &quote.items {
        let bill = item.bill;
        let amount = x100(item.amount, bill.currency)?;
        items.push(InvoiceItem {
            amount_to_send_x100: amount,
            destination_amount_x100: amount,
            service_fee_x100: 0,
            total_amount_x100: amount,
            destination_currency: bill.currency.code().into(),
            date: iso_date(bill.bill_date),
            expiration_date: bill
                .due_date
                .or_else(|| {
                    bill.valid_until
                        .map(|v| billhub_store::local_date(v, org.utc_offset))
                })
                .map(iso_date),
            invoice_reference: bill.invoice_number.clone(),
            is_elegible: item.eligible,
        });
    }
    Ok(InvoicesResponse {
        rc: 0,
        message: "No pending invoices".into(),
        additional_data: Vec::new(),
        pending_invoices: 0,
        amount_to_send_x100: 0,
        destination_amount_x100: 0,
        service_fee_x100: 0,
        total_amount_x100: 0,
        destination_currency: quote
            .currency
            .map(|c| c.code().to_string())
            .unwrap_or_default(),
        items,
        payment_type: payment_type_name(quote.payment_type).into(),
        kind: payment_type_name(quote.payment_type).into(),
    })
}

// ----------------------------------------------------------------------------------------------
// Payment

/// A payment with a transaction code: one write transaction.
pub fn pay(
    store: &Store,
    network: &Network,
    req: PayRequest,
    now: OffsetDateTime,
) -> Result<TransactionResponse, PostpaidError> {
    let channel = network.channel();
    let ids = req.ids();
    let cached = cached_operator_of(store, &ids, now)?;
    store
        .transaction(|w| {
            // 1. The operator, whose `pay` fields are what a payment records.
            let op = match &ids {
                Ok(_) => enrolled_or_none(w, network, cached.as_deref())?,
                Err(_) => None,
            };
            let fields = op.map(|o| &o.settings.postpaid().fields);
            // 2. Idempotency, before anything else is judged.
            if let Some(first) = replayed_payment(w, &channel, &req, fields)? {
                return Ok(Signed::Answered(first));
            }
            // 3. The salt, where it is single-use.
            auth::use_salt(w, network, SaltUse::Payment, now)?;
            // 4. Validation and the rules.
            let ids = ids.clone()?;
            let op = op.ok_or_else(|| Refusal::unknown_operator(ids.operator_id))?;
            Signed::of(pay_in(w, network, req.clone(), ids, op, now))
        })
        .and_then(Signed::into_result)
}

/// A payment inside its transaction, once its signature is recorded and the operator known.
fn pay_in(
    w: &mut Writer<'_>,
    network: &Network,
    req: PayRequest,
    ids: Ids,
    op: &Operator,
    now: OffsetDateTime,
) -> Result<TransactionResponse, PostpaidError> {
    let fields = &op.settings.postpaid().fields;
    let pay = req.complete(ids, fields)?;
    // The account, the code and the amount.
    let code = pay.code();
    let (account, stored) = (
        w.account_by_code(op.organization.id, &pay.account(fields))
            .during("reading the account")?,
        w.postpaid_code(&code).during("reading the account")?,
    );
    let Some(account) = account else {
        return Err(unknown_account().into());
    };
    let holder = CodeHolder {
        channel_id: network.channel_id,
        organization_id: op.organization.id,
        terminal_id: i64::from(ids.terminal_id),
        account_id: account.id,
    };
    let stored = stored.ok_or_else(|| from_code_problem(CodeProblem::Unknown))?;
    stored.check(&holder, now).map_err(from_code_problem)?;
    let currency = Currency::from_code(&stored.currency)
        .map_err(|e| PostpaidError::internal("reading the code's currency", e))?;
    let posting = Posting {
        op,
        account: &account,
        channel: Channel::Postpaid(network.channel_id),
        payment_type: stored.payment_type,
        currency,
        fee: stored.fee,
    };
    let request = settled_request(w, &pay, &stored, &posting, now)?;
    // Post it, using the code up: the code as read above and the operator's settings as cached
    // are not read again.
    let fee = posting.fee;
    let posted = w
        .post_postpaid_payment_read(
            &code,
            Some(&stored),
            &holder,
            &request,
            &pay.print.legacy,
            &op.settings,
            now,
        )
        .map_err(|e| from_store(e, fee, currency, "posting a payment"))?;
    match posted {
        PostpaidPosting::Posted(outcome) => match outcome.result {
            PostResult::Posted(p) => Ok(TransactionResponse::payment_accepted(&p)),
            PostResult::Unapplied(u) => Err(PostpaidError::internal(
                "posting a payment",
                format!("payment recorded as unapplied ({})", u.id),
            )),
        },
        PostpaidPosting::CodeRefused(problem) => {
            Err(from_code_problem(problem).with_currency(currency).into())
        }
    }
}

/// The amount sent, settled by core against what the code listed: the payment to post.
fn settled_request(
    r: &mut Reader<'_>,
    pay: &Pay,
    stored: &PostpaidCode,
    posting: &Posting<'_>,
    now: OffsetDateTime,
) -> Result<PaymentRequest, PostpaidError> {
    let (currency, fee) = (posting.currency, posting.fee);
    let Some(sent) = from_x100(pay.amount, currency) else {
        return Err(Refusal::invalid(format!(
            "the amount has more decimals than {currency} allows"
        ))
        .with_currency(currency)
        .into());
    };
    // Only a DISCRETE payment names invoices, matched against the account's bills.
    let bills = match stored.payment_type {
        SettlementMode::Discrete => r
            .bills_of_account(posting.account.id)
            .during("reading invoices")?,
        SettlementMode::Total | SettlementMode::Open => Vec::new(),
    };
    let offer = Offer {
        payment_type: stored.payment_type,
        listed: &stored.bill_ids,
        total: stored.total,
        fee,
    };
    let settlement = postpaid::settle(&offer, sent, &pay.invoice_numbers, &bills)
        .map_err(|e| from_settle(&e, fee, currency))?;
    Ok(payment_request(pay, posting, settlement, now))
}

/// The first answer to this very payment, when it was recorded; 12 when its reference was used
/// with another request. `fields`: the operator's, when known.
fn replayed_payment(
    r: &mut Reader<'_>,
    channel: &str,
    req: &PayRequest,
    fields: Option<&TerminalFields>,
) -> Result<Option<TransactionResponse>, PostpaidError> {
    let Some(replay) = req.replay_key(fields) else {
        return Ok(None);
    };
    match r
        .payment_with_request_hash(channel, &replay.channel_ref)
        .during("looking a payment up")?
    {
        Some((h, p)) if replay.print.matches(&h) => {
            Ok(Some(TransactionResponse::payment_accepted(&p)))
        }
        Some(_) => Err(Refusal::duplicate().into()),
        None => Ok(None),
    }
}

/// What a settled payment is posted with, besides the terminal's request.
struct Posting<'a> {
    op: &'a Operator,
    account: &'a Account,
    channel: Channel,
    payment_type: SettlementMode,
    currency: Currency,
    fee: i64,
}

/// The payment to post: its reference, fingerprint, payer, amount and target, and the details
/// the terminal sent.
fn payment_request(
    pay: &Pay,
    posting: &Posting<'_>,
    settlement: postpaid::Settlement,
    now: OffsetDateTime,
) -> PaymentRequest {
    let fields: BTreeMap<&String, &String> = pay
        .values
        .iter()
        .filter(|(k, _)| *k != TRANSACTION_CODE)
        .collect();
    let details = serde_json::json!({
        "terminalId": pay.ids.terminal_id,
        "localReference": pay.ids.local_reference,
        "localDateTime": pay.local_date_time,
        "transactionCode": pay.code(),
        "paymentType": payment_type_name(posting.payment_type),
        "amountField": pay.amount_field,
        "amountX100": pay.amount,
        "fields": fields,
        "invoiceNumbers": pay.invoice_numbers,
        "beneficiaryPhoneNumber": pay.beneficiary_phone,
    });
    PaymentRequest {
        organization_id: posting.op.organization.id,
        channel: posting.channel.as_db(),
        channel_ref: pay.ids.channel_ref(&pay.date),
        request_hash: pay.print.current.clone(),
        target: PaymentTarget::Account {
            account_id: posting.account.id,
            mode: Some(settlement.mode),
            chosen: settlement.chosen,
        },
        amount: Money::from_minor(settlement.net, posting.currency),
        fee: posting.fee,
        method: "terminal".into(),
        payer_name: posting.account.name.clone(),
        details: details.to_string(),
        paid_at: now,
        on_rejection: OnRejection::Refuse,
    }
}

// ----------------------------------------------------------------------------------------------
// Revert

/// A revert of a whole payment of this network, once, within the operator's window (core's
/// `may_reverse` decides in the store): one write transaction.
pub fn revert(
    store: &Store,
    network: &Network,
    req: RevertRequest,
    now: OffsetDateTime,
) -> Result<TransactionResponse, PostpaidError> {
    let channel = network.channel();
    let ids = req.ids();
    let cached = cached_operator_of(store, &ids, now)?;
    store
        .transaction(|w| {
            // 1. Idempotency.
            if let Some(first) = replayed_revert(w, &channel, &req)? {
                return Ok(Signed::Answered(first));
            }
            // 2. The salt may revert once.
            auth::use_salt(w, network, SaltUse::Revert, now)?;
            // 3. Validation and the rules.
            let ids = ids.clone()?;
            let op = enrolled(w, network, ids.operator_id, cached.as_deref())?;
            Signed::of(revert_in(w, network, req.clone(), ids, op, now))
        })
        .and_then(Signed::into_result)
}

/// The first answer to this very revert, when it was recorded; 12 when its reference was used
/// with another request.
fn replayed_revert(
    r: &mut Reader<'_>,
    channel: &str,
    req: &RevertRequest,
) -> Result<Option<TransactionResponse>, PostpaidError> {
    let Some(replay) = req.replay_key() else {
        return Ok(None);
    };
    match r
        .reversal_with_request_hash(channel, &replay.channel_ref)
        .during("looking a revert up")?
    {
        Some(rec) if replay.print.matches(&rec.request_hash) => {
            Ok(Some(TransactionResponse::revert_accepted(&rec.payment)))
        }
        Some(_) => Err(Refusal::duplicate().into()),
        None => Ok(None),
    }
}

/// A revert inside its transaction, once its signature is recorded and the operator known.
fn revert_in(
    w: &mut Writer<'_>,
    network: &Network,
    req: RevertRequest,
    ids: Ids,
    op: &Operator,
    now: OffsetDateTime,
) -> Result<TransactionResponse, PostpaidError> {
    let rev = req.complete(ids)?;
    let original = original_payment(w, network, &rev, &op.organization)?;
    let currency = original.currency;
    let settings = op.settings.postpaid();
    if !settings.reverts_allowed() {
        return Err(
            Refusal::rejected("Reverts are not allowed for this operator")
                .with_currency(currency)
                .into(),
        );
    }
    // `amountToSendX100` is what the payer handed over: the amount and the fee.
    let Some(claimed) = from_x100(rev.amount, currency) else {
        return Err(from_rejection(&Rejection::ReversalAmountMismatch, 0, currency).into());
    };
    let request = ReversalRequest {
        organization_id: op.organization.id,
        payment_id: original.id,
        channel: network.channel(),
        channel_ref: ids.channel_ref(&rev.date),
        request_hash: rev.print.current.clone(),
        reason: format!("postpaid revert by terminal {}", ids.terminal_id),
        requester: Requester::Channel,
        claimed: Claimed::AmountWithFee(claimed),
        window: Some(settings.revert_window()),
    };
    let outcome = w
        .reverse_payment_with_legacy(&request, &rev.print.legacy, now)
        .map_err(|e| from_store(e, 0, currency, "reverting a payment"))?;
    Ok(TransactionResponse::revert_accepted(&outcome.payment))
}

/// The payment a revert names: this network's, by the terminal's original reference, of this
/// operator and of the account the revert names (11 otherwise).
fn original_payment(
    r: &mut Reader<'_>,
    network: &Network,
    rev: &Revert,
    org: &Organization,
) -> Result<Payment, PostpaidError> {
    let found = r
        .payment_with_request_hash(&network.channel(), &rev.original_ref())
        .during("looking the original payment up")?;
    let original = match found {
        Some((_, p)) if p.organization_id == org.id => p,
        _ => {
            return Err(Refusal::rejected(format!(
                "Original transaction {} of {} not found for this terminal and operator",
                rev.original, rev.original_date
            ))
            .into());
        }
    };
    let account = match original.account_id {
        Some(id) => {
            r.account(id)
                .during("looking the original payment up")?
                .code
        }
        None => String::new(),
    };
    if account != rev.account {
        return Err(
            Refusal::rejected("The account does not match the original transaction")
                .with_currency(original.currency)
                .into(),
        );
    }
    Ok(original)
}

// ----------------------------------------------------------------------------------------------
// Transaction info

/// A payment of this network by the terminal's reference and local date: one snapshot (one
/// write transaction where lookups use their salt once). A reverted payment is `rc -1`,
/// `resultcode "20"`.
pub fn transaction_info(
    store: &Store,
    network: &Network,
    req: InfoRequest,
    now: OffsetDateTime,
) -> Result<TransactionResponse, PostpaidError> {
    let read = |r: &mut Reader<'_>| {
        r.payment_with_request_hash(&network.channel(), &req.channel_ref())
            .during("looking a payment up")
    };
    let found = if network.single_use(SaltUse::Lookup) {
        signed_lookup(store, network, now, |w| read(w))?
    } else {
        store.snapshot(read)?
    };
    let Some((_, p)) = found else {
        return Err(Refusal::invalid(format!(
            "no transaction {} of terminal {} on {}",
            req.original,
            req.terminal_id,
            iso_date(req.date)
        ))
        .into());
    };
    Ok(if p.reversed.is_some() {
        TransactionResponse::reverted(&p)
    } else {
        TransactionResponse::payment_accepted(&p)
    })
}
