//! The dialect's use cases, one named function each: Get Parameters, Get Invoices, Payment,
//! Revert and transaction info. Each takes the store, the authenticated [`Network`], a request
//! read by [`crate::requests`] and `now`, and returns the answer in wire terms or a
//! [`PostpaidError`]. No actix here; the rules are core's ([`postpaid::quote`],
//! [`postpaid::settle`], [`billhub_core::rules::decide`] inside the store): a flow reads, asks
//! core, writes, and spells.
//!
//! Every store call of a flow is made from the flow's own body, so that it can become one
//! transaction (phase 2). On the payment and revert routes the order is: the idempotency check
//! by channel reference (a repeat gets its first answer, another request under the same
//! reference gets 12), then the one-time use of `(U, ST, SH)` (401 when already used), then
//! validation (900) and the business rules.

use std::collections::BTreeMap;

use billhub_core::org::{Organization, Settings};
use billhub_core::postpaid::{
    self, Offer, Quote, QuoteError, QuoteTerms, TRANSACTION_CODE, TerminalFields,
};
use billhub_core::{Account, Currency, Money, Payment, SettlementMode};
use billhub_store::postpaid::{CodeHolder, CodeProblem, NewPostpaidCode, PostpaidPosting};
use billhub_store::{
    OnRejection, PaymentRequest, PaymentTarget, PostResult, ReversalRequest, Store,
};
use time::OffsetDateTime;

use crate::auth::{self, Network};
use crate::codes::{
    During, PostpaidError, Refusal, from_code_problem, from_rejection, from_settle, from_store,
    refusal_of,
};
use crate::requests::{
    InfoRequest, InvoicesRequest, Pay, PayRequest, Revert, RevertRequest, iso_date,
};
use crate::wire::{
    InvoiceItem, InvoicesResponse, KeyValue, TransactionResponse, from_x100, to_x100,
};

/// The organization a request names, with its settings and terminal fields.
pub struct Operator {
    pub org: Organization,
    pub settings: Settings,
    pub fields: TerminalFields,
}

/// The organization behind `operatorId`, when the network is enrolled with it (others answer as
/// an unknown operator).
fn operator(store: &Store, network: &Network, operator_id: i32) -> Result<Operator, PostpaidError> {
    let id = i64::from(operator_id);
    if !store
        .is_enrolled(network.channel_id, id)
        .during("reading the operator")?
    {
        return Err(Refusal::unknown_operator(operator_id).into());
    }
    let org = store.organization(id).during("reading the operator")?;
    let settings = store.settings(id).during("reading the operator")?;
    let fields = TerminalFields::from_setting(settings.postpaid_fields.as_deref())
        .map_err(|e| PostpaidError::internal("reading postpaid.fields", e))?;
    Ok(Operator {
        org,
        settings,
        fields,
    })
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

/// The fields the operator's terminals ask for.
pub fn parameters(
    store: &Store,
    network: &Network,
    operator_id: i32,
) -> Result<TerminalFields, PostpaidError> {
    Ok(operator(store, network, operator_id)?.fields)
}

// ----------------------------------------------------------------------------------------------
// Get Invoices

/// An account's invoices as the terminal sees them, and a transaction code when something is
/// payable.
pub fn get_invoices(
    store: &Store,
    network: &Network,
    req: InvoicesRequest,
    now: OffsetDateTime,
) -> Result<InvoicesResponse, PostpaidError> {
    let terminal_id = req.terminal_id;
    let op = operator(store, network, req.operator_id)?;
    let lookup = req.values(&op.fields)?;
    let Some(account) = store
        .account_by_code(op.org.id, &lookup.account)
        .during("reading invoices")?
    else {
        return Err(unknown_account().into());
    };
    let bills = store
        .bills_of_account(account.id)
        .during("reading invoices")?;
    let terms = QuoteTerms {
        payment_type: op.settings.settlement,
        fee_x100: op.settings.postpaid_fee_x100,
        installments: lookup.installments,
    };
    let quote = match postpaid::quote(&bills, terms, now) {
        Ok(q) => q,
        Err(QuoteError::Rejected(r)) => return Err(refusal_of(&r, 0, None).into()),
        Err(e @ QuoteError::FeeNotWhole { .. }) => {
            return Err(PostpaidError::internal("reading the fee", e));
        }
    };
    let mut response = listing(&quote, &op.org)?;
    let Some(currency) = quote.currency.filter(|_| quote.is_payable()) else {
        return Ok(response);
    };
    let destination = x100(quote.total, currency)?;
    let with_fee = x100(quote.amount_to_send(), currency)?;
    let new = NewPostpaidCode {
        channel_id: network.channel_id,
        organization_id: op.org.id,
        terminal_id: i64::from(terminal_id),
        account_id: account.id,
        bill_ids: quote.bill_ids(),
        total: quote.total,
        fee: quote.fee,
        payment_type: quote.payment_type,
        currency: currency.code().into(),
        ttl: time::Duration::seconds(op.settings.postpaid_code_ttl_seconds),
        local_date: now.to_offset(op.org.utc_offset).date(),
    };
    let code = store
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
                .or_else(|| bill.valid_until.map(|v| v.to_offset(org.utc_offset).date()))
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
    })
}

// ----------------------------------------------------------------------------------------------
// Payment

/// A payment with a transaction code.
pub fn pay(
    store: &Store,
    network: &Network,
    req: PayRequest,
    now: OffsetDateTime,
) -> Result<TransactionResponse, PostpaidError> {
    let channel = network.channel();
    // 1. Idempotency, before anything else.
    if let Some(first) = replayed_payment(store, &channel, &req)? {
        return Ok(first);
    }
    // 2. The signature may pay once.
    auth::use_once(store, network, now)?;
    // 3. Validation.
    let ids = req.ids()?;
    let op = operator(store, network, ids.operator_id)?;
    let pay = req.complete(ids, &op.fields)?;
    // 4. The account, the code and the amount.
    let code = pay.code();
    let (account, stored) = (
        store
            .account_by_code(op.org.id, &pay.account(&op.fields))
            .during("reading the account")?,
        store.postpaid_code(&code).during("reading the account")?,
    );
    let Some(account) = account else {
        return Err(unknown_account().into());
    };
    let holder = CodeHolder {
        channel_id: network.channel_id,
        organization_id: op.org.id,
        terminal_id: i64::from(ids.terminal_id),
        account_id: account.id,
    };
    let stored = stored.ok_or_else(|| from_code_problem(CodeProblem::Unknown))?;
    stored.check(&holder, now).map_err(from_code_problem)?;
    let currency = Currency::from_code(&stored.currency)
        .map_err(|e| PostpaidError::internal("reading the code's currency", e))?;
    let fee = stored.fee;
    let Some(sent) = from_x100(pay.amount, currency) else {
        return Err(Refusal::invalid(format!(
            "the amount has more decimals than {currency} allows"
        ))
        .with_currency(currency)
        .into());
    };
    // Only a DISCRETE payment names invoices, matched against the account's bills.
    let bills = match stored.payment_type {
        SettlementMode::Discrete => store
            .bills_of_account(account.id)
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
    let posting = Posting {
        op: &op,
        account: &account,
        channel: &channel,
        payment_type: stored.payment_type,
        currency,
        fee,
    };
    let request = payment_request(&pay, &posting, settlement, now);
    // 5. Post it, using the code up.
    let posting = store
        .post_postpaid_payment(&code, &holder, &request, now)
        .map_err(|e| from_store(e, fee, currency, "posting a payment"))?;
    match posting {
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

/// The first answer to this very payment, when it was recorded; 12 when its reference was used
/// with another request.
fn replayed_payment(
    store: &Store,
    channel: &str,
    req: &PayRequest,
) -> Result<Option<TransactionResponse>, PostpaidError> {
    let Some(replay) = req.replay_key() else {
        return Ok(None);
    };
    match store
        .payment_with_request_hash(channel, &replay.channel_ref)
        .during("looking a payment up")?
    {
        Some((h, p)) if h == replay.request_hash => {
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
    channel: &'a str,
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
        organization_id: posting.op.org.id,
        channel: posting.channel.to_string(),
        channel_ref: pay.ids.channel_ref(&pay.date),
        request_hash: pay.request_hash.clone(),
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

/// A revert of a whole payment of this network, once, within the operator's window.
pub fn revert(
    store: &Store,
    network: &Network,
    req: RevertRequest,
    now: OffsetDateTime,
) -> Result<TransactionResponse, PostpaidError> {
    let channel = network.channel();
    // 1. Idempotency.
    if let Some(replay) = req.replay_key() {
        match store
            .reversal_with_request_hash(&channel, &replay.channel_ref)
            .during("looking a revert up")?
        {
            Some(r) if r.request_hash == replay.request_hash => {
                return Ok(TransactionResponse::revert_accepted(&r.payment));
            }
            Some(_) => return Err(Refusal::duplicate().into()),
            None => {}
        }
    }
    // 2. The signature may revert once.
    auth::use_once(store, network, now)?;
    // 3. Validation.
    let ids = req.ids()?;
    let op = operator(store, network, ids.operator_id)?;
    let rev = req.complete(ids)?;
    // 4. The original payment.
    let found = store
        .payment_with_request_hash(&channel, &rev.original_ref())
        .during("looking the original payment up")?;
    let original = match found {
        Some((_, p)) if p.organization_id == op.org.id => p,
        _ => {
            return Err(Refusal::rejected(format!(
                "Original transaction {} of {} not found for this terminal and operator",
                rev.original, rev.original_date
            ))
            .into());
        }
    };
    let original_account = match original.account_id {
        Some(id) => {
            store
                .account(id)
                .during("looking the original payment up")?
                .code
        }
        None => String::new(),
    };
    let window = revert_policy(&rev, &original, &original_account, &op.settings)?;
    let currency = original.currency;
    let request = ReversalRequest {
        organization_id: op.org.id,
        payment_id: original.id,
        channel,
        channel_ref: ids.channel_ref(&rev.date),
        request_hash: rev.request_hash.clone(),
        reason: format!("postpaid revert by terminal {}", ids.terminal_id),
        requester: billhub_core::reversal::Requester::Channel,
        claimed: billhub_core::reversal::Claimed::Nothing,
        window: Some(window),
    };
    let outcome = store
        .reverse_payment(&request, now)
        .map_err(|e| from_store(e, 0, currency, "reverting a payment"))?;
    Ok(TransactionResponse::revert_accepted(&outcome.payment))
}

/// Whether this revert may undo `original` (of account `original_account`): same account, the
/// original amount fee included, reverts allowed by the operator; the window to pass to the store.
// core: may_reverse (phase 2)
fn revert_policy(
    rev: &Revert,
    original: &Payment,
    original_account: &str,
    settings: &Settings,
) -> Result<time::Duration, Refusal> {
    let currency = original.currency;
    if original_account != rev.account {
        return Err(
            Refusal::rejected("The account does not match the original transaction")
                .with_currency(currency),
        );
    }
    if to_x100(original.amount + original.fee, currency) != Some(rev.amount) {
        return Err(from_rejection(
            &billhub_core::Rejection::ReversalAmountMismatch,
            0,
            currency,
        ));
    }
    let hours = settings.postpaid_revert_window_hours;
    if hours == 0 {
        return Err(
            Refusal::rejected("Reverts are not allowed for this operator").with_currency(currency),
        );
    }
    Ok(time::Duration::hours(hours))
}

// ----------------------------------------------------------------------------------------------
// Transaction info

/// A payment of this network by the terminal's reference and local date.
pub fn transaction_info(
    store: &Store,
    network: &Network,
    req: InfoRequest,
) -> Result<TransactionResponse, PostpaidError> {
    let found = store
        .payment_with_request_hash(&network.channel(), &req.channel_ref())
        .during("looking a payment up")?;
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
