//! One named function per use case over the store: each runs in one write transaction that
//! first spends the request's `X-EXTERNAL-ID` (the standard makes every transaction write that
//! much), and core decides (payability, the payment rules, replays).
//!
//! A bank finds a bill by the VA prefix its `partnerServiceId` maps to (the channel setting
//! `snap.partner_service_id.<prefix>`) and `customerNo` as billhub's 10 digits: the same VA
//! numbers IPG's channel API serves, so a bill created through `va-gateway`, collections or the
//! CLI is found and paid here too.

use billhub_core::fingerprint::{self as fp, Fingerprint};
use billhub_core::rules::payability;
use billhub_core::{Bill, Channel, Money, Rejection};
use billhub_store::repo::va::BankTarget;
use billhub_store::{
    OnRejection, PaymentRequest, PaymentTarget, PostResult, Reader, Store, Writer,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::auth::{Bank, spend_external_id};
use crate::codes::{Case, Service};
use crate::error::SnapError;
use crate::requests::{self, VaIds};
use crate::wire::{
    Amount, InquiryData, PaymentData, Reason, bill_detail, refused_inquiry, refused_payment,
    trx_type,
};

/// billhub's VA number for the ids a bank sent, when its `partnerServiceId` is mapped.
fn va_number(bank: &Bank, ids: &VaIds) -> Option<String> {
    let prefix = bank.settings.snap.prefix_of(&ids.partner_service_id)?;
    ids.va_number(prefix)
}

/// Runs `f` in one write transaction that first spends the request's `X-EXTERNAL-ID`. The outer
/// error is the conflict (an id used before) or a failure (rolled back); the inner result is the
/// flow's: a refusal (an error without a cause: not found, paid, refused by core) commits with
/// the id spent, as the standard expects, and writes nothing else (a refused posting gives its
/// reference back).
fn spending<T>(
    store: &Store,
    bank: &Bank,
    mut f: impl FnMut(&mut Writer<'_>) -> Result<T, SnapError>,
) -> Result<Result<T, SnapError>, SnapError> {
    store.transaction(|w| {
        spend_external_id(w, bank)?;
        match f(w) {
            Err(e) if e.cause.is_none() => Ok(Err(e)),
            other => other.map(Ok),
        }
    })
}

/// `POST /v1.0/transfer-va/inquiry`: the payable bill under the VA number, or why there is none
/// (echoed with `inquiryStatus` `01`).
pub fn inquiry(
    store: &Store,
    bank: &Bank,
    req: &requests::Inquiry,
    now: OffsetDateTime,
) -> Result<InquiryData, SnapError> {
    let refuse = |e: SnapError| {
        let reason = e.message();
        e.data(refused_inquiry(&req.ids, &req.inquiry_request_id, &reason))
    };
    spending(store, bank, |r| {
        // The bills with their accounts (the customer's name is `virtualAccountName`).
        let bills = match va_number(bank, &req.ids) {
            Some(va) => r.channel_visible_va_bills(bank.channel_id, &va)?,
            None => Vec::new(),
        };
        let Some(first) = bills.first().map(|v| &v.bill) else {
            return Err(SnapError::rejected(&Rejection::NotFound));
        };
        let Some(found) = bills.iter().find(|v| payability(&v.bill, now).is_ok()) else {
            let why = payability(first, now).err().unwrap_or(Rejection::NotFound);
            return Err(SnapError::rejected(&why));
        };
        let (bill, account) = (&found.bill, &found.account);
        Ok(InquiryData {
            inquiry_status: "00",
            inquiry_reason: Reason::success(),
            partner_service_id: req.ids.partner_service_id.clone(),
            customer_no: req.ids.customer_no.clone(),
            virtual_account_no: req.ids.virtual_account_no.clone(),
            virtual_account_name: account.name.clone(),
            inquiry_request_id: req.inquiry_request_id.clone(),
            total_amount: Amount::of(Money::from_minor(bill.outstanding(), bill.currency)),
            sub_company: "00000".into(),
            bill_details: vec![bill_detail(bill)],
            free_texts: Vec::new(),
            virtual_account_trx_type: trx_type(&bill.rule),
            fee_amount: Amount::of(Money::zero(bill.currency)),
            additional_info: json!({}),
        })
    })?
    .map_err(|e| if e.cause.is_none() { refuse(e) } else { e })
}

/// Where a bank's payment goes: a retry's to the bill its first attempt went to (while the bank
/// is enrolled with its organization); otherwise the payable bill the VA number points at, or
/// its first bill (core then refuses it: paid, expired...). Two statements for a new payment.
fn payment_target(
    r: &mut Reader<'_>,
    bank: &Bank,
    channel: &str,
    req: &requests::Payment,
) -> Result<Option<BankTarget>, SnapError> {
    let va = va_number(bank, &req.ids);
    Ok(r.bank_payment_target(
        bank.channel_id,
        channel,
        &req.payment_request_id,
        va.as_deref(),
    )?)
}

/// What a retry must repeat for the first answer: every field the payment records.
fn fingerprint(req: &requests::Payment) -> Fingerprint {
    let minor = req.paid_amount.minor().to_string();
    let at = req
        .trx_date_time
        .as_ref()
        .map(|(_, at)| fp::instant(*at))
        .unwrap_or_default();
    Fingerprint::v2(
        "snap-payment",
        &[
            ("virtual_account_no", &req.ids.virtual_account_no),
            ("payment_request_id", &req.payment_request_id),
            ("currency", req.paid_amount.currency().code()),
            ("amount", &minor),
            ("trx_date_time", &at),
            (
                "reference_no",
                &fp::text(req.reference_no.as_deref().unwrap_or_default()),
            ),
            ("flag_advise", if req.advice { "Y" } else { "N" }),
        ],
    )
}

fn payment_request(
    organization_id: i64,
    target: PaymentTarget,
    channel: String,
    req: &requests::Payment,
    now: OffsetDateTime,
) -> PaymentRequest {
    PaymentRequest {
        organization_id,
        channel,
        channel_ref: req.payment_request_id.clone(),
        request_hash: fingerprint(req).current,
        target,
        amount: req.paid_amount,
        fee: 0,
        method: req
            .channel_code
            .clone()
            .or_else(|| req.source_bank_code.clone())
            .unwrap_or_default(),
        payer_name: req.virtual_account_name.clone().unwrap_or_default(),
        details: json!({
            "partnerServiceId": req.ids.partner_service_id,
            "customerNo": req.ids.customer_no,
            "virtualAccountNo": req.ids.virtual_account_no,
            "paymentRequestId": req.payment_request_id,
            "referenceNo": req.reference_no,
            "trxDateTime": req.trx_date_time.as_ref().map(|(t, _)| t),
            "channelCode": req.channel_code,
            "sourceBankCode": req.source_bank_code,
            "flagAdvise": if req.advice { "Y" } else { "N" },
        })
        .to_string(),
        paid_at: req.trx_date_time.as_ref().map_or(now, |(_, at)| *at),
        on_rejection: if req.advice {
            OnRejection::RecordUnapplied
        } else {
            OnRejection::Refuse
        },
    }
}

/// `POST /v1.0/transfer-va/payment`: posts through the same core rules and store transaction
/// as every channel. A payment refused by core is answered with `paymentFlagStatus` `01`;
/// an advice (`flagAdvise` `Y`: the bank has already booked it) that cannot be applied is kept
/// as unapplied money and acknowledged.
pub fn pay(
    store: &Store,
    bank: &Bank,
    req: &requests::Payment,
    now: OffsetDateTime,
) -> Result<PaymentData, SnapError> {
    let channel = Channel::Snap(bank.channel_id).as_db();
    let paid = Amount::of(req.paid_amount);
    let refuse = |e: SnapError| {
        let reason = e.message();
        e.data(refused_payment(
            &req.ids,
            &req.payment_request_id,
            &paid,
            &reason,
        ))
    };
    spending(store, bank, |w| {
        let found = payment_target(w, bank, &channel, req)?;
        let bill = found.as_ref().map(|t| t.bill.clone());
        let (organization_id, target) = match found {
            // The bill as this transaction has just read it: the posting does not read it again.
            Some(t) => (t.bill.organization_id, t.into_target()),
            None => unknown_target(w, bank, req)?,
        };
        let request = payment_request(organization_id, target, channel.clone(), req, now);
        // The settings from the store's cache (on a miss: read in this transaction).
        let org = store.cached_organization_in(w, organization_id, now)?;
        let outcome = w.post_payment_with_settings(&request, &[], &org.settings, now)?;
        paid_data(w, req, bill.as_ref(), &outcome.result)
    })?
    .map_err(|e| if e.cause.is_none() { refuse(e) } else { e })
}

/// The target of a payment no bill takes: kept as unapplied under the organization of the VA
/// prefix when the bank has already booked it (an advice); refused otherwise.
fn unknown_target(
    w: &mut Writer<'_>,
    bank: &Bank,
    req: &requests::Payment,
) -> Result<(i64, PaymentTarget), SnapError> {
    let not_found = || SnapError::rejected(&Rejection::NotFound);
    if !req.advice {
        return Err(not_found());
    }
    let prefix = bank
        .settings
        .snap
        .prefix_of(&req.ids.partner_service_id)
        .ok_or_else(not_found)?;
    let org = w.organization_by_va_prefix(prefix)?.ok_or_else(not_found)?;
    if !w.is_enrolled(bank.channel_id, org)? {
        return Err(not_found());
    }
    Ok((
        org,
        PaymentTarget::Unknown {
            account_code: format!("{prefix}{}", req.ids.customer_no),
        },
    ))
}

fn paid_data(
    r: &mut Reader<'_>,
    req: &requests::Payment,
    bill: Option<&Bill>,
    result: &PostResult,
) -> Result<PaymentData, SnapError> {
    let (bill_details, total, name, info) = match (result, bill) {
        (PostResult::Posted(p), Some(b)) => {
            // The bill as the payment left it, and its account's name: one statement.
            let (fresh, account_name) = r
                .bill_with_account_name(b.id)?
                .ok_or_else(|| SnapError::internal(format!("bill {} is gone", b.id)))?;
            (
                vec![bill_detail(&fresh)],
                Some(Amount::of(fresh.billed_money())),
                account_name,
                json!({"paymentId": p.uid, "billStatus": fresh.status.as_str(), "applied": true}),
            )
        }
        (PostResult::Posted(p), None) => (
            Vec::new(),
            None,
            String::new(),
            json!({"paymentId": p.uid, "applied": true}),
        ),
        (PostResult::Unapplied(u), _) => (
            Vec::new(),
            None,
            String::new(),
            json!({"applied": false, "unappliedId": u.id}),
        ),
    };
    Ok(PaymentData {
        partner_service_id: req.ids.partner_service_id.clone(),
        customer_no: req.ids.customer_no.clone(),
        virtual_account_no: req.ids.virtual_account_no.clone(),
        virtual_account_name: req.virtual_account_name.clone().unwrap_or(name),
        payment_request_id: req.payment_request_id.clone(),
        inquiry_request_id: None,
        paid_amount: Amount::of(req.paid_amount),
        total_amount: total,
        trx_date_time: req.trx_date_time.as_ref().map(|(t, _)| t.clone()),
        reference_no: req.reference_no.clone(),
        payment_flag_status: "00",
        payment_flag_reason: Reason::success(),
        bill_details,
        free_texts: Vec::new(),
        additional_info: info,
    })
}

/// `POST /v1.0/transfer-va/status`: a payment's status by `paymentRequestId` (on the VA it
/// names), or `404xx01` Transaction Not Found.
pub fn status(
    store: &Store,
    bank: &Bank,
    req: &requests::Status,
) -> Result<PaymentData, SnapError> {
    let channel = Channel::Snap(bank.channel_id).as_db();
    let not_found = || SnapError::new(Case::TransactionNotFound).on(Service::Status);
    spending(store, bank, |r| {
        let va = va_number(bank, &req.ids).ok_or_else(not_found)?;
        if let Some(p) = r.payment_by_channel_ref(&channel, &req.payment_request_id)? {
            let bill_id = p
                .allocations
                .first()
                .map(|a| a.bill_id)
                .ok_or_else(not_found)?;
            let v = r.va_bill(bill_id)?;
            if !v.va_numbers.iter().any(|n| n.number == va) {
                return Err(not_found());
            }
            let reversed = p.reversed.is_some();
            return Ok(status_data(
                req,
                Money::from_minor(p.amount, p.currency),
                v.account.name.clone(),
                vec![bill_detail(&v.bill)],
                json!({"paymentId": p.uid, "billStatus": v.bill.status.as_str(),
                       "applied": true, "reversed": reversed}),
            ));
        }
        if let Some(u) = r.unapplied_by_channel_ref(&channel, &req.payment_request_id)? {
            if u.account_code != va {
                return Err(not_found());
            }
            let currency = billhub_core::Currency::from_code(&u.currency)
                .map_err(|e| SnapError::internal(format!("unapplied {}: {e}", u.id)))?;
            return Ok(status_data(
                req,
                Money::from_minor(u.amount, currency),
                String::new(),
                Vec::new(),
                json!({"applied": false, "unappliedId": u.id, "unappliedStatus": u.status}),
            ));
        }
        Err(not_found())
    })?
}

fn status_data(
    req: &requests::Status,
    paid: Money,
    name: String,
    bill_details: Vec<crate::wire::BillDetail>,
    info: serde_json::Value,
) -> PaymentData {
    PaymentData {
        partner_service_id: req.ids.partner_service_id.clone(),
        customer_no: req.ids.customer_no.clone(),
        virtual_account_no: req.ids.virtual_account_no.clone(),
        virtual_account_name: name,
        payment_request_id: req.payment_request_id.clone(),
        inquiry_request_id: req.inquiry_request_id.clone(),
        paid_amount: Amount::of(paid),
        total_amount: None,
        trx_date_time: None,
        reference_no: None,
        payment_flag_status: "00",
        payment_flag_reason: Reason::success(),
        bill_details,
        free_texts: Vec::new(),
        additional_info: info,
    }
}
