//! Decoding and validating SNAP's VA request bodies. The first bad field is answered
//! (`400xx02 Invalid Mandatory Field [name]` when it is missing or empty, `400xx01 Invalid
//! Field Format [name]` otherwise), as SNAP's single-message envelope allows. Ids are kept
//! exactly as sent, padding included: they are echoed back.

use billhub_core::{Currency, Money};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::auth::parse_timestamp;
use crate::codes::Case;
use crate::error::SnapError;

/// The VA number's part after the prefix in billhub: 10 digits.
pub const CUSTOMER_NO_LEN: usize = 10;

/// A body's top-level object.
struct Body(Map<String, Value>);

impl Body {
    fn parse(bytes: &[u8]) -> Result<Body, SnapError> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Body(map)),
            _ => Err(SnapError::with(
                Case::BadRequest,
                "[the body is not a JSON object]",
            )),
        }
    }

    /// A mandatory string of at most `max` characters (spaces kept).
    fn text(&self, name: &str, max: usize) -> Result<String, SnapError> {
        self.optional(name, max)?
            .ok_or_else(|| SnapError::missing(name))
    }

    /// An optional string of at most `max` characters; absent, null or empty is `None`.
    fn optional(&self, name: &str, max: usize) -> Result<Option<String>, SnapError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
            Some(_) => Err(SnapError::format(name)),
        }
    }

    /// An amount object `{value: "100000.00", currency: "IDR"}`.
    fn amount(&self, name: &str) -> Result<Option<Money>, SnapError> {
        let Some(v) = self.0.get(name).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let value_name = format!("{name}.value");
        let currency_name = format!("{name}.currency");
        let Value::Object(obj) = v else {
            return Err(SnapError::format(name));
        };
        let value = match obj.get("value") {
            None | Some(Value::Null) => return Err(SnapError::missing(&value_name)),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(SnapError::format(&value_name)),
        };
        let currency = match obj.get("currency") {
            None | Some(Value::Null) => return Err(SnapError::missing(&currency_name)),
            Some(Value::String(s)) => {
                Currency::from_code(s).map_err(|_| SnapError::format(&currency_name))?
            }
            Some(_) => return Err(SnapError::format(&currency_name)),
        };
        Ok(Some(
            parse_value(&value, currency).ok_or_else(|| SnapError::format(&value_name))?,
        ))
    }
}

/// SNAP's amount text: digits, a dot and exactly two decimals (`"100000.00"`), at most 16
/// digits before the dot, parsed exactly (no floats); decimals the currency cannot hold
/// (`"10.50"` in a currency without minor units) are refused, never rounded.
pub fn parse_value(text: &str, currency: Currency) -> Option<Money> {
    let (whole, decimals) = text.split_once('.')?;
    let well_formed = !whole.is_empty()
        && whole.len() <= 16
        && whole.bytes().all(|b| b.is_ascii_digit())
        && decimals.len() == 2
        && decimals.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return None;
    }
    Money::parse_exact(text, currency).ok()
}

/// The VA a request names, as sent, and billhub's 10-digit customer number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaIds {
    pub partner_service_id: String,
    pub customer_no: String,
    pub virtual_account_no: String,
}

impl VaIds {
    fn read(body: &Body) -> Result<VaIds, SnapError> {
        let partner_service_id = body.text("partnerServiceId", 8)?;
        let customer_no = body.text("customerNo", 20)?;
        let virtual_account_no = body.text("virtualAccountNo", 28)?;
        if !customer_no.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SnapError::format("customerNo"));
        }
        if virtual_account_no != format!("{partner_service_id}{customer_no}") {
            return Err(SnapError::format("virtualAccountNo"));
        }
        Ok(VaIds {
            partner_service_id,
            customer_no,
            virtual_account_no,
        })
    }

    /// billhub's VA number under `prefix`, when `customerNo` is billhub's 10 digits.
    pub fn va_number(&self, prefix: &str) -> Option<String> {
        (self.customer_no.len() == CUSTOMER_NO_LEN).then(|| format!("{prefix}{}", self.customer_no))
    }
}

/// `POST /v1.0/transfer-va/inquiry`.
#[derive(Debug, Clone)]
pub struct Inquiry {
    pub ids: VaIds,
    pub inquiry_request_id: String,
}

pub fn inquiry(bytes: &[u8]) -> Result<Inquiry, SnapError> {
    let body = Body::parse(bytes)?;
    let ids = VaIds::read(&body)?;
    let inquiry_request_id = body.text("inquiryRequestId", 128)?;
    Ok(Inquiry {
        ids,
        inquiry_request_id,
    })
}

/// `POST /v1.0/transfer-va/payment`.
#[derive(Debug, Clone)]
pub struct Payment {
    pub ids: VaIds,
    pub payment_request_id: String,
    pub paid_amount: Money,
    pub paid_amount_text: String,
    /// `trxDateTime` as sent, and the instant it names.
    pub trx_date_time: Option<(String, OffsetDateTime)>,
    pub reference_no: Option<String>,
    pub virtual_account_name: Option<String>,
    pub channel_code: Option<String>,
    pub source_bank_code: Option<String>,
    /// `flagAdvise` `Y`: the bank has already booked the payment (an advice), so money that
    /// cannot be applied is kept as unapplied instead of refused.
    pub advice: bool,
}

pub fn payment(bytes: &[u8]) -> Result<Payment, SnapError> {
    let body = Body::parse(bytes)?;
    let ids = VaIds::read(&body)?;
    let payment_request_id = body.text("paymentRequestId", 128)?;
    let paid_amount = body
        .amount("paidAmount")?
        .ok_or_else(|| SnapError::missing("paidAmount"))?;
    let trx_date_time = match body.optional("trxDateTime", 40)? {
        Some(t) => {
            let at = parse_timestamp(&t).ok_or_else(|| SnapError::format("trxDateTime"))?;
            Some((t, at))
        }
        None => None,
    };
    let advice = match body.optional("flagAdvise", 1)?.as_deref() {
        None | Some("N") => false,
        Some("Y") => true,
        Some(_) => return Err(SnapError::format("flagAdvise")),
    };
    Ok(Payment {
        ids,
        payment_request_id,
        paid_amount_text: paid_amount.to_fixed_string(),
        paid_amount,
        trx_date_time,
        reference_no: body.optional("referenceNo", 64)?,
        virtual_account_name: body.optional("virtualAccountName", 255)?,
        channel_code: body.optional("channelCode", 16)?,
        source_bank_code: body.optional("sourceBankCode", 16)?,
        advice,
    })
}

/// `POST /v1.0/transfer-va/status`.
#[derive(Debug, Clone)]
pub struct Status {
    pub ids: VaIds,
    pub inquiry_request_id: Option<String>,
    pub payment_request_id: String,
}

pub fn status(bytes: &[u8]) -> Result<Status, SnapError> {
    let body = Body::parse(bytes)?;
    let ids = VaIds::read(&body)?;
    Ok(Status {
        ids,
        inquiry_request_id: body.optional("inquiryRequestId", 128)?,
        payment_request_id: body.text("paymentRequestId", 128)?,
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    fn idr() -> Currency {
        Currency::from_code("IDR").unwrap()
    }

    #[test]
    fn amounts_are_exact_with_two_decimals() {
        assert_eq!(parse_value("100000.00", idr()).unwrap().minor(), 10_000_000);
        assert_eq!(parse_value("0.01", idr()).unwrap().minor(), 1);
        for bad in [
            "100000",
            "100000.0",
            "100000.000",
            "1e5",
            "-1.00",
            "+1.00",
            " 1.00",
            "1,000.00",
            ".00",
            "12345678901234567.00",
            "",
        ] {
            assert_eq!(parse_value(bad, idr()), None, "{bad}");
        }
    }

    fn code(e: SnapError) -> (Case, String) {
        (e.case, e.message())
    }

    #[test]
    fn inquiry_fields() {
        let ok = json!({"partnerServiceId": "  888801", "customerNo": "0000000001",
            "virtualAccountNo": "  8888010000000001", "inquiryRequestId": "abc"});
        let i = inquiry(ok.to_string().as_bytes()).unwrap();
        assert_eq!(i.ids.partner_service_id, "  888801");
        assert_eq!(i.ids.va_number("009902").unwrap(), "0099020000000001");
        let mut missing = ok.clone();
        missing.as_object_mut().unwrap().remove("inquiryRequestId");
        assert_eq!(
            code(inquiry(missing.to_string().as_bytes()).unwrap_err()),
            (
                Case::MissingField,
                "Invalid Mandatory Field [inquiryRequestId]".into()
            )
        );
        let mut mismatch = ok.clone();
        mismatch["virtualAccountNo"] = json!("8888010000000001");
        assert_eq!(
            code(inquiry(mismatch.to_string().as_bytes()).unwrap_err()),
            (
                Case::InvalidFieldFormat,
                "Invalid Field Format [virtualAccountNo]".into()
            )
        );
        let mut long = ok.clone();
        long["partnerServiceId"] = json!("123456789");
        assert_eq!(
            inquiry(long.to_string().as_bytes()).unwrap_err().case,
            Case::InvalidFieldFormat
        );
        assert_eq!(inquiry(b"[1]").unwrap_err().case, Case::BadRequest);
        assert_eq!(inquiry(b"{").unwrap_err().case, Case::BadRequest);
    }

    #[test]
    fn payment_fields() {
        let ok = json!({"partnerServiceId": "  888801", "customerNo": "0000000001",
            "virtualAccountNo": "  8888010000000001", "paymentRequestId": "p1",
            "paidAmount": {"value": "100000.00", "currency": "IDR"},
            "trxDateTime": "2026-12-05T10:00:00+07:00", "flagAdvise": "Y"});
        let p = payment(ok.to_string().as_bytes()).unwrap();
        assert_eq!(p.paid_amount.minor(), 10_000_000);
        assert!(p.advice);
        let mut bad = ok.clone();
        bad["paidAmount"]["value"] = json!(100000);
        assert_eq!(
            code(payment(bad.to_string().as_bytes()).unwrap_err()),
            (
                Case::InvalidFieldFormat,
                "Invalid Field Format [paidAmount.value]".into()
            )
        );
        let mut bad = ok.clone();
        bad["paidAmount"]["currency"] = json!("XXX");
        assert_eq!(
            payment(bad.to_string().as_bytes()).unwrap_err().message(),
            "Invalid Field Format [paidAmount.currency]"
        );
        let mut bad = ok.clone();
        bad["flagAdvise"] = json!("maybe");
        assert_eq!(
            payment(bad.to_string().as_bytes()).unwrap_err().case,
            Case::InvalidFieldFormat
        );
        let mut bad = ok;
        bad.as_object_mut().unwrap().remove("paidAmount");
        assert_eq!(
            payment(bad.to_string().as_bytes()).unwrap_err().message(),
            "Invalid Mandatory Field [paidAmount]"
        );
    }
}
