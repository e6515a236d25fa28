//! The CSQ eVSB wire format, spelled exactly as the partner spells it: camelCase for the
//! postpaid lookups (`amountToSendX100`, `isElegible` with its misspelling), lowercase for the
//! transaction result items (`finalstatus`, `resultcode`, ...). Amounts are whole numbers of
//! hundredths of the major unit (`X100`), never more than an int32.

use billhub_core::Payment;
use serde::Serialize;
use serde_json::Value;

use crate::codes::ResultCode;

/// One `{"key": ..., "value": ...}` pair (`additionalData`, the lookup request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// A field the terminal shows (`front[]` of Get Parameters).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FrontItem {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::openapi::front_type)]
    pub kind: String,
    #[serde(rename = "minLength")]
    pub min_length: u32,
    #[serde(rename = "maxLength")]
    pub max_length: u32,
    pub list: Vec<String>,
}

/// Get Parameters.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParametersResponse {
    #[schema(schema_with = crate::openapi::rc_ok)]
    pub rc: i32,
    pub message: String,
    pub front: Vec<FrontItem>,
    pub query: Vec<String>,
    pub pay: Vec<String>,
}

/// One invoice of Get Invoices.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceItem {
    #[serde(rename = "amountToSendX100")]
    #[schema(schema_with = crate::openapi::x100)]
    pub amount_to_send_x100: i64,
    #[serde(rename = "destinationAmountX100")]
    #[schema(schema_with = crate::openapi::x100)]
    pub destination_amount_x100: i64,
    #[serde(rename = "serviceFeeX100")]
    #[schema(schema_with = crate::openapi::x100)]
    pub service_fee_x100: i64,
    #[serde(rename = "totalAmountX100")]
    #[schema(schema_with = crate::openapi::x100)]
    pub total_amount_x100: i64,
    #[serde(rename = "destinationCurrency")]
    pub destination_currency: String,
    /// `yyyy-MM-dd`: the bill date.
    #[schema(schema_with = crate::openapi::date)]
    pub date: String,
    /// `yyyy-MM-dd`: the due date (or the last day of validity); `null` when the bill has none.
    #[serde(rename = "expirationDate")]
    #[schema(schema_with = crate::openapi::nullable_date)]
    pub expiration_date: Option<String>,
    /// The bill's invoice number.
    #[serde(rename = "invoiceReference")]
    pub invoice_reference: String,
    /// The partner's spelling.
    #[serde(rename = "isElegible")]
    pub is_elegible: bool,
}

/// Get Invoices.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoicesResponse {
    #[schema(schema_with = crate::openapi::rc_ok)]
    pub rc: i32,
    pub message: String,
    #[serde(rename = "additionalData")]
    pub additional_data: Vec<KeyValue>,
    #[serde(rename = "pendingInvoices")]
    #[schema(minimum = 0)]
    pub pending_invoices: i64,
    #[serde(rename = "amountToSendX100")]
    #[schema(schema_with = crate::openapi::x100)]
    pub amount_to_send_x100: i64,
    #[serde(rename = "destinationAmountX100")]
    #[schema(schema_with = crate::openapi::x100)]
    pub destination_amount_x100: i64,
    #[serde(rename = "serviceFeeX100")]
    #[schema(schema_with = crate::openapi::x100)]
    pub service_fee_x100: i64,
    #[serde(rename = "totalAmountX100")]
    #[schema(schema_with = crate::openapi::x100)]
    pub total_amount_x100: i64,
    #[serde(rename = "destinationCurrency")]
    pub destination_currency: String,
    pub items: Vec<InvoiceItem>,
    /// The payment type as the partner's example names it.
    #[serde(rename = "paymentType")]
    #[schema(schema_with = crate::openapi::payment_type)]
    pub payment_type: String,
    /// The same payment type as the partner's published schema names it.
    #[serde(rename = "type")]
    #[schema(schema_with = crate::openapi::payment_type)]
    pub kind: String,
}

/// One transaction result (payment, revert, transaction info, and every refusal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultItem {
    #[schema(schema_with = crate::openapi::finalstatus)]
    pub finalstatus: i64,
    #[schema(schema_with = crate::openapi::resultcode)]
    pub resultcode: String,
    pub resultmessage: String,
    pub supplierreference: String,
    pub suppliertoken: String,
    pub destinationcurrency: String,
    /// What reached the biller (X100, without the fee); 0 on a refusal.
    #[schema(schema_with = crate::openapi::x100)]
    pub destinationamount: i64,
}

/// Payment, revert and transaction info.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionResponse {
    #[schema(schema_with = crate::openapi::rc)]
    pub rc: i32,
    pub items: Vec<ResultItem>,
}

/// Every refusal, on every route: `rc: -1`, the result code and message at the top (as the
/// lookups answer) and once more as a result item (as the transaction routes answer).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorResponse {
    #[schema(schema_with = crate::openapi::rc_refused)]
    pub rc: i32,
    #[schema(schema_with = crate::openapi::resultcode)]
    pub resultcode: String,
    pub message: String,
    pub items: Vec<ResultItem>,
}

/// `GET /ping`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PingResponse {
    #[schema(schema_with = crate::openapi::rc_ok)]
    pub rc: i32,
    pub message: String,
}

/// X100 conversions live beside the postpaid rules in core (the fee setting is X100 too).
pub use billhub_core::postpaid::{from_x100, to_x100};

/// The transaction code a payment used (kept in its details), for `suppliertoken`.
fn transaction_code_of(p: &Payment) -> String {
    serde_json::from_str::<Value>(&p.details)
        .ok()
        .and_then(|d| {
            d.get("transactionCode")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_default()
}

impl ResultItem {
    /// A recorded payment's result.
    pub fn of_payment(p: &Payment, code: ResultCode, message: &str) -> ResultItem {
        ResultItem {
            finalstatus: code.number(),
            resultcode: code.as_string(),
            resultmessage: message.into(),
            supplierreference: p.uid.clone(),
            suppliertoken: transaction_code_of(p),
            destinationcurrency: p.currency.code().into(),
            destinationamount: to_x100(p.amount, p.currency).unwrap_or_default(),
        }
    }
}

impl TransactionResponse {
    fn one(code: ResultCode, item: ResultItem) -> TransactionResponse {
        TransactionResponse {
            rc: code.rc(),
            items: vec![item],
        }
    }

    /// A payment accepted (or looked up while not reverted).
    pub fn payment_accepted(p: &Payment) -> TransactionResponse {
        Self::one(
            ResultCode::Ok,
            ResultItem::of_payment(p, ResultCode::Ok, "Payment successful"),
        )
    }

    /// A revert accepted (the original payment).
    pub fn revert_accepted(p: &Payment) -> TransactionResponse {
        Self::one(
            ResultCode::RevertOk,
            ResultItem::of_payment(p, ResultCode::RevertOk, "Revert successful"),
        )
    }

    /// Transaction info of a reverted payment: `rc -1` (the payment no longer stands, and the
    /// partner's clients key on `rc`), the item saying why (`resultcode "20"`).
    pub fn reverted(p: &Payment) -> TransactionResponse {
        TransactionResponse {
            rc: -1,
            items: vec![ResultItem::of_payment(
                p,
                ResultCode::RevertOk,
                "Transaction reverted",
            )],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use billhub_core::Currency;

    #[test]
    fn x100_conversions() {
        assert_eq!(to_x100(6500, Currency::EUR), Some(6500));
        assert_eq!(to_x100(5, Currency::JPY), Some(500));
        assert_eq!(to_x100(1230, Currency::KWD), Some(123));
        assert_eq!(to_x100(1234, Currency::KWD), None);
        assert_eq!(to_x100(i64::from(i32::MAX) + 1, Currency::EUR), None);
        assert_eq!(
            to_x100(i64::from(i32::MAX), Currency::EUR),
            Some(2147483647)
        );
        assert_eq!(from_x100(6500, Currency::EUR), Some(6500));
        assert_eq!(from_x100(500, Currency::JPY), Some(5));
        assert_eq!(from_x100(150, Currency::JPY), None);
        assert_eq!(from_x100(123, Currency::KWD), Some(1230));
    }

    #[test]
    fn spelled_as_the_partner() {
        let item = InvoiceItem {
            amount_to_send_x100: 1,
            destination_amount_x100: 1,
            service_fee_x100: 0,
            total_amount_x100: 1,
            destination_currency: "EUR".into(),
            date: "2025-06-01".into(),
            expiration_date: None,
            invoice_reference: "I".into(),
            is_elegible: true,
        };
        let v = serde_json::to_value(&item).unwrap();
        for key in [
            "amountToSendX100",
            "destinationAmountX100",
            "serviceFeeX100",
            "totalAmountX100",
            "destinationCurrency",
            "date",
            "expirationDate",
            "invoiceReference",
            "isElegible",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
    }
}
