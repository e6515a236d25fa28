//! The dialect's use cases, one named function each: what a route does once its caller is
//! authenticated and its request parsed.
//!
//! Every flow is a plain synchronous function over the [`Store`] (no actix types), taking the
//! caller, the parsed request and `now`, and returning what the answer needs or a [`VaError`].
//! Each makes exactly one store call: one read snapshot ([`Store::snapshot`]) or one write
//! transaction ([`Store::transaction`], run again from the start after a lost race, so every
//! decision is made from what is read inside it and nothing outside the store happens in it).
//! Core rejections arrive as store errors and become the dialect's codes through
//! `From<StoreError> for VaError`; core's `may_reverse` decides reversals inside the store.

use actix_web::http::StatusCode;
use billhub_core::fingerprint::{self as fp, Fingerprint};
use billhub_core::org::Settings;
use billhub_core::reversal::{Claimed, Requester};
use billhub_core::rules::payability;
use billhub_core::{Bill, Channel, Money, Payment, Rejection};
use billhub_store::repo::va::{
    BankTarget, VaBill, VaBillFilter, VaPage, VaPaymentFilter, VaPaymentRow,
};
use billhub_store::{
    OnRejection, PaymentRequest, PaymentTarget, Reader, ReversalRequest, Store, StoreError, Writer,
    fingerprint,
};
use time::{OffsetDateTime, UtcOffset};

use crate::auth::{Bank, Biller, DIALECT, TOKEN_TTL_SECONDS};
use crate::codes::{Rc, from_rejection};
use crate::error::VaError;
use crate::requests::{CreateBill, MockRequest, PayRequest, ReverseRequest, TokenRequest};
use crate::wire::{Token, parse_local};

/// A payment or reversal just made (or replayed), with the offset of its bill's organization.
#[derive(Debug)]
pub struct Posted {
    pub offset: UtcOffset,
    pub row: VaPaymentRow,
}

/// The bills a bank may pay under a VA number, with the offset of their organization.
#[derive(Debug)]
pub struct Inquired {
    pub offset: UtcOffset,
    pub bills: Vec<VaBill>,
}

// ---------------------------------------------------------------------------------------------
// OAuth

/// `POST /oauth/token`: a bearer token for a `va` credential's client id and secret, valid for
/// [`TOKEN_TTL_SECONDS`]. One write transaction: the client check and the token's issue.
pub fn issue_token(
    store: &Store,
    req: &TokenRequest,
    now: OffsetDateTime,
) -> Result<Token, VaError> {
    let ttl = time::Duration::seconds(TOKEN_TTL_SECONDS);
    store.transaction(|w| {
        let cred = w
            .authenticate_client(&req.client_id, &req.client_secret)?
            .filter(|c| c.dialect == DIALECT)
            .ok_or_else(|| {
                VaError::oauth(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Client authentication failed",
                    None,
                )
            })?;
        let (access_token, _expires) = w.issue_access_token(cred.id, &req.scope, ttl, now)?;
        Ok(Token {
            token_type: "Bearer",
            expires_in: TOKEN_TTL_SECONDS,
            access_token,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Biller API

/// `POST /api/v2/gw/bill`: checks the draft against the organization's VA prefixes and creates
/// the bill on the account of its VA number, in one write transaction.
pub fn create_bill(
    store: &Store,
    caller: &Biller,
    draft: CreateBill,
    now: OffsetDateTime,
) -> Result<VaBill, VaError> {
    store.transaction(|w| {
        let prefixes = w.va_prefixes(caller.org.id)?;
        let new = draft.clone().validate(&prefixes)?;
        let (_, bill) = w
            .create_bill_for_account(&new.account, &new.bill, now)
            .map_err(creation_refused)?;
        Ok(w.va_bill(bill.id)?)
    })
}

/// A store refusal of a new bill in the dialect's terms: a VA number still held is
/// `VA_NUMBER_IN_USE`, input only the store can judge is a validation error of the body.
fn creation_refused(e: StoreError) -> VaError {
    if let Some(m) = e.conflict() {
        VaError::with(Rc::VaNumberInUse, format!("{m}."))
    } else if let Some(m) = e.invalid() {
        VaError::field("body", m)
    } else {
        e.into()
    }
}

/// `GET /api/v2/gw/bill`: one page of the organization's bills.
pub fn list_bills(
    store: &Store,
    caller: &Biller,
    filter: &VaBillFilter,
    now: OffsetDateTime,
) -> Result<VaPage<VaBill>, VaError> {
    store.snapshot(|r| Ok(r.va_bills(caller.org.id, filter, now)?))
}

/// The caller's bill by hash, or `BILL_NOT_FOUND`.
fn find_bill(r: &mut Reader<'_>, caller: &Biller, hash: &str) -> Result<VaBill, VaError> {
    r.va_bill_by_hash(caller.org.id, hash)?
        .ok_or_else(|| VaError::code(Rc::BillNotFound))
}

/// `GET /api/v2/gw/bill/{hash}`.
pub fn show_bill(store: &Store, caller: &Biller, hash: &str) -> Result<VaBill, VaError> {
    store.snapshot(|r| find_bill(r, caller, hash))
}

/// `DELETE /api/v2/gw/bill/{hash}`: voids the bill (refused while money is on it).
pub fn revoke_bill(
    store: &Store,
    caller: &Biller,
    hash: &str,
    now: OffsetDateTime,
) -> Result<VaBill, VaError> {
    store.transaction(|w| {
        let bill_id = find_bill(w, caller, hash)?.bill.id;
        w.void_bill(bill_id, "revoked through the VA biller API", now)
            .map_err(|e| match e.rejection() {
                Some(Rejection::AlreadyPaid) => {
                    VaError::with(Rc::BillAlreadyPaid, "A paid bill cannot be revoked.")
                }
                Some(Rejection::Void) => {
                    VaError::with(Rc::BillVoid, "The bill is already revoked.")
                }
                _ => e.into(),
            })?;
        Ok(w.va_bill(bill_id)?)
    })
}

/// `GET /api/v2/gw/bill/{hash}/payment`: the bill's payments and reversals.
pub fn bill_payments(
    store: &Store,
    caller: &Biller,
    hash: &str,
) -> Result<Vec<VaPaymentRow>, VaError> {
    store.snapshot(|r| {
        let bill_id = find_bill(r, caller, hash)?.bill.id;
        Ok(r.va_payments_of_bill(bill_id)?)
    })
}

/// `GET /api/v2/gw/payment`: one page of the organization's payments and reversals.
pub fn list_payments(
    store: &Store,
    caller: &Biller,
    filter: &VaPaymentFilter,
) -> Result<VaPage<VaPaymentRow>, VaError> {
    store.snapshot(|r| Ok(r.va_payments(caller.org.id, filter)?))
}

/// `POST /api/v2/gw/bill/{hash}/mock` (sandbox only): a payment or reversal on the bill through
/// the same store path as a bank's, as channel `sandbox`, in one write transaction.
pub fn mock(
    store: &Store,
    caller: &Biller,
    hash: &str,
    req: MockRequest,
    now: OffsetDateTime,
) -> Result<VaPaymentRow, VaError> {
    match req {
        MockRequest::Payment { amount, reference } => {
            let amount =
                amount.ok_or_else(|| VaError::field("amount", "The amount field is required."))?;
            // Named once, outside the transaction, so a run again posts under the same reference.
            let reference = reference.unwrap_or_else(|| format!("mock-{}", uuid::Uuid::new_v4()));
            store.transaction(|w| {
                let bill = find_bill(w, caller, hash)?.bill;
                let request = mock_payment(&bill, amount, reference.clone(), now);
                post_and_row(w, &request, (&[], None), bill.id, now)
            })
        }
        MockRequest::Reversal {
            amount,
            payment_ref,
        } => store.transaction(|w| {
            let bill = find_bill(w, caller, hash)?.bill;
            let payment = sandbox_payment(w, bill.id, payment_ref.as_deref())?
                .ok_or_else(|| VaError::code(Rc::PaymentNotFound))?;
            let request = mock_reversal(&bill, &payment, amount);
            reverse_and_row(w, &request, bill.id, now)
        }),
    }
}

/// The sandbox payment a mock reversal undoes: the one under `payment_ref` when it names one
/// (on the bill), else the bill's newest unreversed sandbox payment. The sandbox reverses only
/// its own payments, never a bank's.
fn sandbox_payment(
    r: &mut Reader<'_>,
    bill_id: i64,
    payment_ref: Option<&str>,
) -> Result<Option<Payment>, StoreError> {
    let sandbox = Channel::Sandbox.as_db();
    Ok(match payment_ref {
        Some(reference) => on_bill(r.payment_by_channel_ref(&sandbox, reference)?, bill_id),
        None => r
            .payments_of_bill(bill_id)?
            .into_iter()
            .filter(|p| p.channel == sandbox && p.reversed.is_none())
            .max_by_key(|p| p.id),
    })
}

fn mock_payment(
    bill: &Bill,
    amount: Money,
    reference: String,
    now: OffsetDateTime,
) -> PaymentRequest {
    PaymentRequest {
        organization_id: bill.organization_id,
        channel: Channel::Sandbox.as_db(),
        channel_ref: reference.clone(),
        request_hash: fingerprint(&["va-mock", &bill.public_no, &amount.minor().to_string()]),
        target: PaymentTarget::Bill { bill_id: bill.id },
        amount,
        fee: 0,
        method: Channel::Sandbox.as_db(),
        payer_name: String::new(),
        details: serde_json::json!({ "mock": true, "ref_id": reference }).to_string(),
        paid_at: now,
        on_rejection: OnRejection::Refuse,
    }
}

/// The sandbox's reversal of `payment`, claiming `amount` when the request names one.
fn mock_reversal(bill: &Bill, payment: &Payment, amount: Option<Money>) -> ReversalRequest {
    ReversalRequest {
        organization_id: bill.organization_id,
        payment_id: payment.id,
        channel: Channel::Sandbox.as_db(),
        channel_ref: format!("mock-reversal-{}", payment.uid),
        request_hash: fingerprint(&["va-mock-reversal", &payment.uid]),
        reason: "sandbox mock reversal".into(),
        requester: Requester::Sandbox,
        claimed: amount.map_or(Claimed::Nothing, |a| Claimed::Amount(a.minor())),
        window: None,
    }
}

/// The payment, when it was made on the bill.
fn on_bill(payment: Option<Payment>, bill_id: i64) -> Option<Payment> {
    payment.filter(|p| p.allocations.iter().any(|a| a.bill_id == bill_id))
}

/// Posts a payment refused on rejection (with the organization's settings when the caller has
/// read them in this transaction) and reads its row on the bill (the payment as posted, not
/// read again).
fn post_and_row(
    w: &mut Writer<'_>,
    request: &PaymentRequest,
    (legacy, settings): (&[String], Option<&Settings>),
    bill_id: i64,
    now: OffsetDateTime,
) -> Result<VaPaymentRow, VaError> {
    let outcome = match settings {
        Some(settings) => w.post_payment_with_settings(request, legacy, settings, now)?,
        None => w.post_payment_with_legacy(request, legacy, now)?,
    };
    let payment = outcome
        .payment()
        .ok_or_else(|| VaError::internal("the payment was not applied"))?;
    w.va_row_of_payment(bill_id, payment, "payment")?
        .ok_or_else(|| {
            VaError::internal(format!(
                "payment {} on bill {bill_id} has no row",
                payment.id
            ))
        })
}

/// Reverses a payment (core's `may_reverse` decides, under the account lock) and reads the
/// reversal's row on the bill.
fn reverse_and_row(
    w: &mut Writer<'_>,
    request: &ReversalRequest,
    bill_id: i64,
    now: OffsetDateTime,
) -> Result<VaPaymentRow, VaError> {
    let outcome = w.reverse_payment(request, now)?;
    w.va_payment_row(bill_id, outcome.payment.id, "reversal")?
        .ok_or_else(|| {
            VaError::internal(format!(
                "reversal of payment {} on bill {bill_id} has no row",
                outcome.payment.id
            ))
        })
}

// ---------------------------------------------------------------------------------------------
// Bank channel API

/// `POST /api/v2/ch/inquiry`: the payable bills under the VA number, or why there is none.
/// One read snapshot (the VA number's bills with their accounts as the bank may see them, then
/// each payable one's items, VA numbers and last payment event); the organization's offset
/// from the store's cache.
pub fn inquiry(
    store: &Store,
    caller: &Bank,
    va_number: &str,
    now: OffsetDateTime,
) -> Result<Inquired, VaError> {
    let (organization_id, bills) = store.snapshot(|r| {
        let bills = r.channel_visible_va_bills(caller.channel_id, va_number)?;
        let Some(first) = bills.first().map(|v| &v.bill) else {
            return Err(from_rejection(&Rejection::NotFound));
        };
        let (organization_id, first_refusal) = (first.organization_id, payability(first, now));
        let payable = bills
            .into_iter()
            .filter(|v| payability(&v.bill, now).is_ok())
            .map(|v| r.va_bill_from(v))
            .collect::<Result<Vec<_>, _>>()?;
        if payable.is_empty() {
            let why = first_refusal.err().unwrap_or(Rejection::NotFound);
            return Err(from_rejection(&why));
        }
        Ok((organization_id, payable))
    })?;
    let cached = store.cached_organization(organization_id, now)?;
    Ok(Inquired {
        offset: cached.organization.utc_offset,
        bills,
    })
}

/// The bill a bank's payment goes to: a retry's goes to the bill its first attempt went to
/// (while the bank is enrolled with its organization); otherwise the bill the VA number points
/// at (the payable one first). Two statements for a new payment.
fn payment_target(
    r: &mut Reader<'_>,
    caller: &Bank,
    channel: &str,
    req: &PayRequest,
) -> Result<Option<BankTarget>, StoreError> {
    r.bank_payment_target(
        caller.channel_id,
        channel,
        &req.fields.ref_id,
        Some(&req.fields.va_number),
    )
}

/// `POST /api/v2/ch/payment`: a bank pays the bill its VA number points at, in one write
/// transaction. Core decides the rest.
pub fn pay(
    store: &Store,
    caller: &Bank,
    req: PayRequest,
    now: OffsetDateTime,
) -> Result<Posted, VaError> {
    let channel = Channel::Va(caller.channel_id).as_db();
    store.transaction(|w| {
        let target = payment_target(w, caller, &channel, &req)?
            .ok_or_else(|| VaError::code(Rc::BillNotFound))?;
        // The organization and its settings from the store's cache (on a miss: read in this
        // transaction); the posting uses these.
        let org = store.cached_organization_in(w, target.bill.organization_id, now)?;
        let offset = org.organization.utc_offset;
        let paid_at = parse_local(&req.fields.transaction_date, offset).unwrap_or(now);
        let print = bank_fingerprint(&req, paid_at);
        let bill_id = target.bill.id;
        // The bill as this transaction has just read it: the posting does not read it again.
        let request = bank_payment(target, channel.clone(), &req, (&print, paid_at));
        let row = post_and_row(
            w,
            &request,
            (&print.legacy, Some(&org.settings)),
            bill_id,
            now,
        )?;
        Ok(Posted { offset, row })
    })
}

/// What a retry of a bank's payment must repeat: every field the payment records, normalised
/// (v2), and the v1 form written before (VA number and amount), so a retry of a payment made
/// before the upgrade is still recognised.
fn bank_fingerprint(req: &PayRequest, paid_at: OffsetDateTime) -> Fingerprint {
    let f = &req.fields;
    let minor = req.amount.minor().to_string();
    let terminal = fp::text(f.terminal_id.as_deref().unwrap_or_default());
    let name = fp::text(req.customer_name.as_deref().unwrap_or_default());
    Fingerprint::v2(
        "va-payment",
        &[
            ("va_number", &f.va_number),
            ("ref_id", &f.ref_id),
            ("currency", req.amount.currency().code()),
            ("amount", &minor),
            ("terminal_id", &terminal),
            ("customer_name", &name),
            ("transaction_date", &fp::instant(paid_at)),
        ],
    )
    .with_legacy(fingerprint(&["va-payment", &f.va_number, &minor]))
}

/// A bank's payment on the bill of `target`, as its transaction has read it (see
/// `PaymentTarget::ReadBill`).
fn bank_payment(
    target: BankTarget,
    channel: String,
    req: &PayRequest,
    (print, paid_at): (&Fingerprint, OffsetDateTime),
) -> PaymentRequest {
    let f = &req.fields;
    PaymentRequest {
        organization_id: target.bill.organization_id,
        channel,
        channel_ref: f.ref_id.clone(),
        request_hash: print.current.clone(),
        target: target.into_target(),
        amount: req.amount,
        fee: 0,
        method: f.terminal_id.clone().unwrap_or_default(),
        payer_name: req.customer_name.clone().unwrap_or_default(),
        details: serde_json::json!({
            "va_number": f.va_number,
            "ref_id": f.ref_id,
            "terminal_id": f.terminal_id,
            "transaction_date": f.transaction_date,
        })
        .to_string(),
        paid_at,
        on_rejection: OnRejection::Refuse,
    }
}

/// `POST /api/v2/ch/reversal`: a bank reverses its own payment on a bill, in one write
/// transaction; core's `may_reverse` decides (claimed amount, already reversed, window).
pub fn reverse(
    store: &Store,
    caller: &Bank,
    req: ReverseRequest,
    now: OffsetDateTime,
) -> Result<Posted, VaError> {
    let channel = Channel::Va(caller.channel_id).as_db();
    store.transaction(|w| {
        let bill = match w.bill_by_public_no_anywhere(&req.hash)? {
            Some(b) if w.is_enrolled(caller.channel_id, b.organization_id)? => b,
            _ => return Err(VaError::code(Rc::BillNotFound)),
        };
        let payment = on_bill(
            w.payment_by_channel_ref(&channel, &req.payment_ref)?,
            bill.id,
        )
        .ok_or_else(|| VaError::code(Rc::PaymentNotFound))?;
        let org = w.organization(bill.organization_id)?;
        let request = bank_reversal(&bill, &payment, channel.clone(), &req);
        let row = reverse_and_row(w, &request, bill.id, now)?;
        Ok(Posted {
            offset: org.utc_offset,
            row,
        })
    })
}

/// The bank's reversal of its `payment`, claiming the request's amount.
fn bank_reversal(
    bill: &Bill,
    payment: &Payment,
    channel: String,
    req: &ReverseRequest,
) -> ReversalRequest {
    ReversalRequest {
        organization_id: bill.organization_id,
        payment_id: payment.id,
        channel,
        channel_ref: req.payment_ref.clone(),
        request_hash: fingerprint(&[
            "va-reversal",
            &req.hash,
            &req.payment_ref,
            &req.amount.minor().to_string(),
        ]),
        reason: "reversed by the bank".into(),
        requester: Requester::Channel,
        claimed: Claimed::Amount(req.amount.minor()),
        window: None,
    }
}
