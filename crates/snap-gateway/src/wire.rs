//! SNAP's JSON, and the translation from billhub's values. Field names are the standard's
//! (camelCase); amounts are `{value: "100000.00", currency: "IDR"}` strings with two decimals
//! (the currency's own minor units); ids are echoed exactly as the bank sent them.

use billhub_core::{Bill, Money, PaymentRule};
use serde::Serialize;
use serde_json::{Value, json};

use crate::requests::VaIds;

/// `{value, currency}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Amount {
    pub value: String,
    pub currency: String,
}

impl Amount {
    pub fn of(money: Money) -> Amount {
        Amount {
            value: money.to_fixed_string(),
            currency: money.currency().code().to_string(),
        }
    }
}

/// A bilingual reason (`inquiryReason`, `paymentFlagReason`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reason {
    pub english: String,
    pub indonesia: String,
}

impl Reason {
    pub fn success() -> Reason {
        Reason {
            english: "Success".into(),
            indonesia: "Sukses".into(),
        }
    }
}

/// `virtualAccountTrxType` of a bill's payment rule: `C` closed (the exact amount), `I`
/// partial (any amount up to the outstanding, at least the minimum), `O` open (any amount).
pub fn trx_type(rule: &PaymentRule) -> &'static str {
    match rule {
        PaymentRule::Exact => "C",
        PaymentRule::Partial { .. } => "I",
        PaymentRule::Open => "O",
    }
}

/// One entry of `billDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillDetail {
    pub bill_code: String,
    pub bill_no: String,
    pub bill_name: String,
    pub bill_short_name: String,
    pub bill_description: Reason,
    pub bill_sub_company: String,
    pub bill_amount: Amount,
}

pub fn bill_detail(bill: &Bill) -> BillDetail {
    let short: String = bill.name.chars().take(25).collect();
    BillDetail {
        bill_code: "01".into(),
        bill_no: bill.invoice_number.clone(),
        bill_name: bill.name.clone(),
        bill_short_name: short,
        bill_description: Reason {
            english: bill.description.clone(),
            indonesia: bill.description.clone(),
        },
        bill_sub_company: "00000".into(),
        bill_amount: Amount::of(Money::from_minor(bill.outstanding(), bill.currency)),
    }
}

/// `virtualAccountData` of a successful inquiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InquiryData {
    /// `00`: found and payable.
    #[schema(value_type = String, example = "00")]
    pub inquiry_status: &'static str,
    pub inquiry_reason: Reason,
    pub partner_service_id: String,
    pub customer_no: String,
    pub virtual_account_no: String,
    pub virtual_account_name: String,
    pub inquiry_request_id: String,
    pub total_amount: Amount,
    pub sub_company: String,
    pub bill_details: Vec<BillDetail>,
    pub free_texts: Vec<Reason>,
    /// `C` closed (exactly `totalAmount`), `I` partial, `O` open.
    #[schema(value_type = String, pattern = "^[CIO]$")]
    pub virtual_account_trx_type: &'static str,
    pub fee_amount: Amount,
    #[schema(value_type = Object)]
    pub additional_info: Value,
}

/// `virtualAccountData` of a successful payment, and of a status answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentData {
    pub partner_service_id: String,
    pub customer_no: String,
    pub virtual_account_no: String,
    pub virtual_account_name: String,
    pub payment_request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inquiry_request_id: Option<String>,
    pub paid_amount: Amount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<Amount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trx_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_no: Option<String>,
    /// `00`: the payment is recorded.
    #[schema(value_type = String, example = "00")]
    pub payment_flag_status: &'static str,
    pub payment_flag_reason: Reason,
    pub bill_details: Vec<BillDetail>,
    pub free_texts: Vec<Reason>,
    /// billhub's own: `paymentId` (the receipt's uid), `billStatus`, `applied`; for money kept
    /// as unapplied `applied` false and `unappliedId`.
    #[schema(value_type = Object)]
    pub additional_info: Value,
}

/// A success envelope: `{responseCode, responseMessage, virtualAccountData}`.
pub fn success<T: Serialize>(code: String, data: &T) -> Value {
    json!({
        "responseCode": code,
        "responseMessage": "Successful",
        "virtualAccountData": data,
    })
}

/// What a refused inquiry echoes: the ids, `inquiryStatus` `01` and the reason.
pub fn refused_inquiry(ids: &VaIds, inquiry_request_id: &str, reason: &str) -> Value {
    json!({
        "inquiryStatus": "01",
        "inquiryReason": {"english": reason, "indonesia": reason},
        "partnerServiceId": ids.partner_service_id,
        "customerNo": ids.customer_no,
        "virtualAccountNo": ids.virtual_account_no,
        "inquiryRequestId": inquiry_request_id,
    })
}

/// What a refused payment echoes: the ids, `paymentFlagStatus` `01` and the reason.
pub fn refused_payment(
    ids: &VaIds,
    payment_request_id: &str,
    paid: &Amount,
    reason: &str,
) -> Value {
    json!({
        "partnerServiceId": ids.partner_service_id,
        "customerNo": ids.customer_no,
        "virtualAccountNo": ids.virtual_account_no,
        "paymentRequestId": payment_request_id,
        "paidAmount": paid,
        "paymentFlagStatus": "01",
        "paymentFlagReason": {"english": reason, "indonesia": reason},
    })
}
