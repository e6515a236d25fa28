//! The dialect's use cases, one named function each: what a route does once its caller is
//! authenticated and its request parsed.
//!
//! Every flow is a plain synchronous function over the [`Store`] (no actix types), taking the
//! caller, the parsed request and `now`, and returning what the answer needs or a [`VaError`].
//! Each flow's store work sits in this one function so that it can become one
//! `store.snapshot(|r| ..)` / `store.transaction(|w| ..)` closure. Core rejections arrive as
//! store errors and become the dialect's codes through `From<StoreError> for VaError`.

use billhub_core::reversal::{Claimed, Requester};
use actix_web::http::StatusCode;
use billhub_core::rules::payability;
use billhub_core::{Bill, Money, Payment, Rejection};
use billhub_store::repo::va::{VaBill, VaBillFilter, VaPage, VaPaymentFilter, VaPaymentRow};
use billhub_store::{
    OnRejection, PaymentRequest, PaymentTarget, ReversalRequest, Store, StoreError, fingerprint,
};
use time::{OffsetDateTime, UtcOffset};

use crate::auth::{Bank, Biller, TOKEN_TTL_SECONDS};
use crate::codes::{Rc, from_rejection};
use crate::error::VaError;
use crate::requests::{CreateBill, MockRequest, PayRequest, ReverseRequest, TokenRequest};
use crate::wire::{Token, parse_local};

/// The channel tag of a bank's payments (`va:3`).
fn bank_channel(channel_id: i64) -> String {
    format!("va:{channel_id}")
}

/// The channel tag of the sandbox's payments.
const SANDBOX: &str = "sandbox";

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
/// [`TOKEN_TTL_SECONDS`].
pub fn issue_token(
    store: &Store,
    req: &TokenRequest,
    now: OffsetDateTime,
) -> Result<Token, VaError> {
    let cred = store
        .authenticate_client(&req.client_id, &req.client_secret)?
        .filter(|c| c.dialect == "va")
        .ok_or_else(|| {
            VaError::oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed",
                None,
            )
        })?;
    let ttl = time::Duration::seconds(TOKEN_TTL_SECONDS);
    let (access_token, _expires) = store.issue_access_token(cred.id, &req.scope, ttl, now)?;
    Ok(Token {
        token_type: "Bearer",
        expires_in: TOKEN_TTL_SECONDS,
        access_token,
    })
}

// ---------------------------------------------------------------------------------------------
// Biller API

/// `POST /api/v2/gw/bill`: checks the draft against the organization's VA prefixes and creates
/// the bill on the account of its VA number.
pub fn create_bill(
    store: &Store,
    caller: &Biller,
    draft: CreateBill,
    now: OffsetDateTime,
) -> Result<VaBill, VaError> {
    let prefixes = store.va_prefixes(caller.org.id)?;
    let new = draft.validate(&prefixes)?;
    let created = store
        .create_bill_for_account(&new.account, &new.bill, now)
        .and_then(|(_, bill)| store.va_bill(bill.id));
    created.map_err(|e| {
        if let Some(m) = e.conflict() {
            VaError::with(Rc::VaNumberInUse, format!("{m}."))
        } else if let Some(m) = e.invalid() {
            VaError::field("body", m)
        } else {
            e.into()
        }
    })
}

/// `GET /api/v2/gw/bill`: one page of the organization's bills.
pub fn list_bills(
    store: &Store,
    caller: &Biller,
    filter: &VaBillFilter,
    now: OffsetDateTime,
) -> Result<VaPage<VaBill>, VaError> {
    Ok(store.va_bills(caller.org.id, filter, now)?)
}

/// The caller's bill by hash, or `BILL_NOT_FOUND`.
fn find_bill(store: &Store, caller: &Biller, hash: &str) -> Result<VaBill, VaError> {
    store
        .va_bill_by_hash(caller.org.id, hash)?
        .ok_or_else(|| VaError::code(Rc::BillNotFound))
}

/// `GET /api/v2/gw/bill/{hash}`.
pub fn show_bill(store: &Store, caller: &Biller, hash: &str) -> Result<VaBill, VaError> {
    find_bill(store, caller, hash)
}

/// `DELETE /api/v2/gw/bill/{hash}`: voids the bill (refused while money is on it).
pub fn revoke_bill(
    store: &Store,
    caller: &Biller,
    hash: &str,
    now: OffsetDateTime,
) -> Result<VaBill, VaError> {
    let bill_id = find_bill(store, caller, hash)?.bill.id;
    let voided = store
        .void_bill(bill_id, "revoked through the VA biller API", now)
        .and_then(|_| store.va_bill(bill_id));
    voided.map_err(|e| match e.rejection() {
        Some(Rejection::AlreadyPaid) => {
            VaError::with(Rc::BillAlreadyPaid, "A paid bill cannot be revoked.")
        }
        Some(Rejection::Void) => VaError::with(Rc::BillVoid, "The bill is already revoked."),
        _ => e.into(),
    })
}

/// `GET /api/v2/gw/bill/{hash}/payment`: the bill's payments and reversals.
pub fn bill_payments(
    store: &Store,
    caller: &Biller,
    hash: &str,
) -> Result<Vec<VaPaymentRow>, VaError> {
    let bill_id = find_bill(store, caller, hash)?.bill.id;
    Ok(store.va_payments_of_bill(bill_id)?)
}

/// `GET /api/v2/gw/payment`: one page of the organization's payments and reversals.
pub fn list_payments(
    store: &Store,
    caller: &Biller,
    filter: &VaPaymentFilter,
) -> Result<VaPage<VaPaymentRow>, VaError> {
    Ok(store.va_payments(caller.org.id, filter)?)
}

/// `POST /api/v2/gw/bill/{hash}/mock` (sandbox only): a payment or reversal on the bill through
/// the same store path as a bank's, as channel `sandbox`.
pub fn mock(
    store: &Store,
    caller: &Biller,
    hash: &str,
    req: MockRequest,
    now: OffsetDateTime,
) -> Result<VaPaymentRow, VaError> {
    let bill = find_bill(store, caller, hash)?.bill;
    match req {
        MockRequest::Payment { amount, reference } => {
            let amount =
                amount.ok_or_else(|| VaError::field("amount", "The amount field is required."))?;
            let reference = reference.unwrap_or_else(|| format!("mock-{}", uuid::Uuid::new_v4()));
            post_and_row(
                store,
                &mock_payment(&bill, amount, reference, now),
                bill.id,
                now,
            )
        }
        MockRequest::Reversal {
            amount,
            payment_ref,
        } => {
            let found = match payment_ref {
                Some(r) => on_bill(store.payment_by_channel_ref(SANDBOX, &r)?, bill.id),
                // The sandbox reverses only its own payments, never a bank's.
                None => store
                    .va_latest_unreversed_payment(bill.id)?
                    .filter(|p| p.channel == SANDBOX),
            };
            let payment = may_reverse(found, amount)?;
            let request = ReversalRequest {
                organization_id: bill.organization_id,
                payment_id: payment.id,
                channel: SANDBOX.into(),
                channel_ref: format!("mock-reversal-{}", payment.uid),
                request_hash: fingerprint(&["va-mock-reversal", &payment.uid]),
                reason: "sandbox mock reversal".into(),
                requester: Requester::Sandbox,
                claimed: amount.map_or(Claimed::Nothing, |a| Claimed::Amount(a.minor())),
                window: None,
            };
            reverse_and_row(store, &request, bill.id, now)
        }
    }
}

fn mock_payment(
    bill: &Bill,
    amount: Money,
    reference: String,
    now: OffsetDateTime,
) -> PaymentRequest {
    PaymentRequest {
        organization_id: bill.organization_id,
        channel: SANDBOX.into(),
        channel_ref: reference.clone(),
        request_hash: fingerprint(&["va-mock", &bill.public_no, &amount.minor().to_string()]),
        target: PaymentTarget::Bill { bill_id: bill.id },
        amount,
        fee: 0,
        method: SANDBOX.into(),
        payer_name: String::new(),
        details: serde_json::json!({ "mock": true, "ref_id": reference }).to_string(),
        paid_at: now,
        on_rejection: OnRejection::Refuse,
    }
}

/// The payment, when it was made on the bill.
fn on_bill(payment: Option<Payment>, bill_id: i64) -> Option<Payment> {
    payment.filter(|p| p.allocations.iter().any(|a| a.bill_id == bill_id))
}

/// Which payment may be reversed: one that was found (on the bill), and for its whole amount
/// when the request names an amount.
// core: may_reverse (phase 2)
fn may_reverse(found: Option<Payment>, amount: Option<Money>) -> Result<Payment, VaError> {
    let payment = found.ok_or_else(|| VaError::code(Rc::PaymentNotFound))?;
    if let Some(a) = amount
        && a.minor() != payment.amount
    {
        return Err(from_rejection(&Rejection::ReversalAmountMismatch));
    }
    Ok(payment)
}

/// Posts a payment refused on rejection and reads its row on the bill.
fn post_and_row(
    store: &Store,
    request: &PaymentRequest,
    bill_id: i64,
    now: OffsetDateTime,
) -> Result<VaPaymentRow, VaError> {
    let outcome = store.post_payment(request, now)?;
    let payment = outcome
        .payment()
        .ok_or_else(|| VaError::internal("the payment was not applied"))?;
    store
        .va_payment_row(bill_id, payment.id, "payment")?
        .ok_or_else(|| {
            VaError::internal(format!(
                "payment {} on bill {bill_id} has no row",
                payment.id
            ))
        })
}

/// Reverses a payment and reads the reversal's row on the bill.
fn reverse_and_row(
    store: &Store,
    request: &ReversalRequest,
    bill_id: i64,
    now: OffsetDateTime,
) -> Result<VaPaymentRow, VaError> {
    let outcome = store.reverse_payment(request, now)?;
    store
        .va_payment_row(bill_id, outcome.payment.id, "reversal")?
        .ok_or_else(|| {
            VaError::internal(format!(
                "reversal of payment {} on bill {bill_id} has no row",
                outcome.payment.id
            ))
        })
}

// ---------------------------------------------------------------------------------------------
// Bank channel API

/// The bills a bank may see under a VA number: none when the prefix is unknown or the bank is
/// not enrolled with its organization. Payable first, then newest.
fn visible_bills(store: &Store, channel_id: i64, va_number: &str) -> Result<Vec<Bill>, StoreError> {
    let prefix = va_number.get(..6).unwrap_or_default();
    let Some(org_id) = store.organization_by_va_prefix(prefix)? else {
        return Ok(Vec::new());
    };
    if !store.is_enrolled(channel_id, org_id)? {
        return Ok(Vec::new());
    }
    Ok(store
        .bills_by_va_number(va_number)?
        .into_iter()
        .filter(|b| b.organization_id == org_id)
        .collect())
}

/// `POST /api/v2/ch/inquiry`: the payable bills under the VA number, or why there is none.
pub fn inquiry(
    store: &Store,
    caller: &Bank,
    va_number: &str,
    now: OffsetDateTime,
) -> Result<Inquired, VaError> {
    let bills = visible_bills(store, caller.channel_id, va_number)?;
    let Some(first) = bills.first() else {
        return Err(from_rejection(&Rejection::NotFound));
    };
    let org = store.organization(first.organization_id)?;
    let payable = bills
        .iter()
        .filter(|b| payability(b, now).is_ok())
        .map(|b| store.va_bill(b.id))
        .collect::<Result<Vec<_>, _>>()?;
    if payable.is_empty() {
        let why = payability(first, now).err().unwrap_or(Rejection::NotFound);
        return Err(from_rejection(&why));
    }
    Ok(Inquired {
        offset: org.utc_offset,
        bills: payable,
    })
}

/// `POST /api/v2/ch/payment`: a bank pays the bill its VA number points at. A retry goes to the
/// bill its first attempt went to; otherwise the bill the VA number points at (the payable one
/// first). Core decides the rest.
pub fn pay(
    store: &Store,
    caller: &Bank,
    req: PayRequest,
    now: OffsetDateTime,
) -> Result<Posted, VaError> {
    let channel = bank_channel(caller.channel_id);
    let first = store.payment_by_channel_ref(&channel, &req.fields.ref_id)?;
    let target = match first.as_ref().and_then(|p| p.allocations.first()) {
        Some(a) => {
            let b = store.bill(a.bill_id)?;
            store
                .is_enrolled(caller.channel_id, b.organization_id)?
                .then_some(b)
        }
        None => visible_bills(store, caller.channel_id, &req.fields.va_number)?
            .into_iter()
            .next(),
    };
    let bill = target.ok_or_else(|| VaError::code(Rc::BillNotFound))?;
    let org = store.organization(bill.organization_id)?;
    let paid_at = parse_local(&req.fields.transaction_date, org.utc_offset).unwrap_or(now);
    let request = bank_payment(&bill, channel, req, paid_at);
    let row = post_and_row(store, &request, bill.id, now)?;
    Ok(Posted {
        offset: org.utc_offset,
        row,
    })
}

fn bank_payment(
    bill: &Bill,
    channel: String,
    req: PayRequest,
    paid_at: OffsetDateTime,
) -> PaymentRequest {
    let f = req.fields;
    PaymentRequest {
        organization_id: bill.organization_id,
        channel,
        channel_ref: f.ref_id.clone(),
        request_hash: fingerprint(&["va-payment", &f.va_number, &req.amount.minor().to_string()]),
        target: PaymentTarget::Bill { bill_id: bill.id },
        amount: req.amount,
        fee: 0,
        method: f.terminal_id.clone().unwrap_or_default(),
        payer_name: req.customer_name.unwrap_or_default(),
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

/// `POST /api/v2/ch/reversal`: a bank reverses its own payment on a bill.
pub fn reverse(
    store: &Store,
    caller: &Bank,
    req: ReverseRequest,
    now: OffsetDateTime,
) -> Result<Posted, VaError> {
    let channel = bank_channel(caller.channel_id);
    let bill = match store.bill_by_public_no_anywhere(&req.hash)? {
        Some(b) if store.is_enrolled(caller.channel_id, b.organization_id)? => b,
        _ => return Err(VaError::code(Rc::BillNotFound)),
    };
    let found = on_bill(
        store.payment_by_channel_ref(&channel, &req.payment_ref)?,
        bill.id,
    );
    let payment = may_reverse(found, Some(req.amount))?;
    let org = store.organization(bill.organization_id)?;
    let request = ReversalRequest {
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
    };
    let row = reverse_and_row(store, &request, bill.id, now)?;
    Ok(Posted {
        offset: org.utc_offset,
        row,
    })
}
