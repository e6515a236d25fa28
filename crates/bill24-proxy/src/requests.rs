//! What Bill24 sends, read leniently and validated into neutral requests: the body as a JSON
//! object ([`json_object`]), `{"consumer_code"}` of `/proxy` and `/pending_bills`
//! ([`ConsumerRequest`]) and a webhook delivery of either documented generation
//! ([`Notification`]). Every bad field is reported at once (billhub-http's [`FieldErrors`]);
//! every refusal is a [`Bill24Error`] (HTTP 400, or 413 from the body limit).

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::Bytes;
use billhub_core::input;
use billhub_core::{Currency, Money};
use billhub_http::PlumbingError;
use billhub_http::json::{AmountError, money_from_number};
use billhub_http::validation::{FieldErrors, Lenient};
use serde_json::{Map, Value};

use crate::error::Bill24Error;

// ---------------------------------------------------------------------------------------------
// The body

fn is_json(req: &HttpRequest) -> bool {
    let Some(ct) = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The body as a JSON object, or why not (400, or 413 from the body limit).
pub fn json_object(
    req: &HttpRequest,
    body_limit: usize,
    body: Result<Bytes, actix_web::Error>,
) -> Result<Map<String, Value>, Bill24Error> {
    let bytes = match body {
        Ok(b) => b,
        Err(e) if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(PlumbingError::PayloadTooLarge { limit: body_limit }.into());
        }
        Err(e) => {
            return Err(PlumbingError::BadRequest(format!(
                "The request body could not be read: {e}"
            ))
            .into());
        }
    };
    if !is_json(req) {
        return Err(Bill24Error::BadRequest(
            "The Content-Type must be application/json.".into(),
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Bill24Error::BadRequest(
            "The body must be a JSON object.".into(),
        )),
        Err(e) => Err(Bill24Error::BadRequest(format!(
            "The body is not valid JSON: {e}."
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// `/proxy` and `/pending_bills`

/// `/proxy` and `/pending_bills` body: `{"consumer_code": "..."}`; `biller_code` (Auto Direct
/// Debit) is accepted and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRequest {
    pub consumer_code: String,
}

impl ConsumerRequest {
    pub fn read(body: &Map<String, Value>) -> Result<ConsumerRequest, FieldErrors> {
        let mut errors = FieldErrors::new();
        for path in input::nul_paths(&Value::Object(body.clone()), "") {
            errors.add(
                path.clone(),
                format!("The {path} must not contain a NUL character."),
            );
        }
        errors.into_result()?;
        let mut errors = FieldErrors::new();
        let l = Lenient::new(body, "");
        let code = l.string(&mut errors, "consumer_code", true, false);
        errors.into_result()?;
        Ok(ConsumerRequest {
            consumer_code: code.unwrap_or_default().trim().to_string(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// `/webhook`

/// Which documented payload generation a webhook delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// 2025 docs: `tran_id`, `customers[]`, `status`.
    Current,
    /// 2024 drafts: `tnx_id`, one `customer_code`, `bills[]`, fees, no `status`.
    Older,
}

impl Generation {
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::Current => "current",
            Generation::Older => "older",
        }
    }

    /// The field of the transaction id (the idempotency key).
    fn id_field(self) -> &'static str {
        match self {
            Generation::Current => "tran_id",
            Generation::Older => "tnx_id",
        }
    }

    /// The field of the payment's date.
    fn date_field(self) -> &'static str {
        match self {
            Generation::Current => "tran_date",
            Generation::Older => "paid_date",
        }
    }
}

/// One customer's share of a webhook transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerShare {
    pub customer_code: String,
    pub customer_name: String,
    /// The bills named for this share: each a list of numbers to try in order (the current
    /// generation's `bill_no`; the older generation's `bills[].id`, then `bills[].sync_code`).
    pub bills: Vec<Vec<String>>,
    pub amount: Money,
    /// The share as sent (kept in the payment's details).
    pub raw: Value,
}

/// A webhook delivery, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub generation: Generation,
    /// `tran_id` (current) or `tnx_id` (older): the idempotency key.
    pub tran_id: String,
    pub currency: Currency,
    pub tran_amount: Money,
    /// Lower-cased; the older generation has none and means `success`.
    pub status: String,
    /// `tran_date` (current) or `paid_date` (older) as sent.
    pub paid_date: Option<String>,
    /// The bank or service that took the money.
    pub method: String,
    /// The older generation's `customer_fee` (recorded, never applied), minor units.
    pub fee: i64,
    pub shares: Vec<CustomerShare>,
    /// Top-level fields other than the shares (kept in the payment's details).
    pub transaction: Map<String, Value>,
    /// The body as sent (JSON, NUL escaped as `\u0000`) when any key or string in it held NUL:
    /// everything else here was read with NUL removed, and this is kept in the details.
    pub raw_body: Option<String>,
}

fn optional_string(l: &Lenient<'_>, errors: &mut FieldErrors, field: &str) -> Option<String> {
    l.string(errors, field, false, true)
}

/// A required positive amount of `currency` (when the currency is known).
fn amount(
    l: &Lenient<'_>,
    errors: &mut FieldErrors,
    field: &str,
    currency: Option<Currency>,
) -> Option<Money> {
    let path = l.path(field);
    let Some(v) = l.get(field) else {
        errors.add(path, format!("The {field} field is required."));
        return None;
    };
    let Some(currency) = currency else {
        if !v.is_number() {
            errors.add(path, format!("The {field} must be a number."));
        }
        return None;
    };
    match money_from_number(v, currency) {
        Ok(m) if m.is_positive() => Some(m),
        Ok(_) => {
            errors.add(path, format!("The {field} must be greater than zero."));
            None
        }
        Err(AmountError::NotANumber) | Err(AmountError::NotNumeric) => {
            errors.add(path, format!("The {field} must be a number."));
            None
        }
        Err(AmountError::Money(e)) => {
            errors.add(
                path,
                format!("The {field} is not a valid {currency} amount: {e}."),
            );
            None
        }
    }
}

/// A bill reference of the older generation: a string or a whole number.
fn bill_ref(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The transaction id (at most 128 characters).
fn tran_id(l: &Lenient<'_>, errors: &mut FieldErrors, id_field: &str) -> Option<String> {
    let tran_id = l
        .string(errors, id_field, true, false)
        .map(|s| s.trim().to_string());
    if let Some(id) = &tran_id
        && id.len() > 128
    {
        errors.add(
            id_field,
            format!("The {id_field} must be at most 128 characters."),
        );
    }
    tran_id
}

fn currency(l: &Lenient<'_>, errors: &mut FieldErrors) -> Option<Currency> {
    let code = l.string(errors, "currency", true, false)?;
    match Currency::from_code(code.trim()) {
        Ok(c) => Some(c),
        Err(_) => {
            errors.add(
                "currency",
                format!("The currency `{code}` is not an ISO 4217 code billhub knows."),
            );
            None
        }
    }
}

/// `status`, lower-cased; required in the current generation, `success` when the older one
/// has none.
fn status(l: &Lenient<'_>, errors: &mut FieldErrors, generation: Generation) -> String {
    match generation {
        Generation::Current => l.string(errors, "status", true, false),
        Generation::Older => optional_string(l, errors, "status").filter(|s| !s.trim().is_empty()),
    }
    .map(|s| s.trim().to_ascii_lowercase())
    .unwrap_or_else(|| "success".into())
}

/// The first of `bank_name`, `bank_code`, `payment_service_type` that is not blank.
fn method(l: &Lenient<'_>, errors: &mut FieldErrors) -> String {
    let mut method = String::new();
    for f in ["bank_name", "bank_code", "payment_service_type"] {
        if let Some(s) = optional_string(l, errors, f)
            && method.is_empty()
            && !s.trim().is_empty()
        {
            method = s.trim().to_string();
        }
    }
    method
}

/// The older generation's `customer_fee`, minor units (0 otherwise).
fn fee(
    l: &Lenient<'_>,
    errors: &mut FieldErrors,
    generation: Generation,
    currency: Option<Currency>,
) -> i64 {
    match (generation, currency, l.get("customer_fee")) {
        (Generation::Older, Some(c), Some(v)) => match money_from_number(v, c) {
            Ok(m) if m.minor() >= 0 => m.minor(),
            _ => {
                errors.add(
                    "customer_fee",
                    "The customer_fee must be a number, zero or more.",
                );
                0
            }
        },
        _ => 0,
    }
}

/// One item of the current generation's `customers[]`.
fn current_share(
    item: &Value,
    i: usize,
    errors: &mut FieldErrors,
    currency: Option<Currency>,
) -> Option<CustomerShare> {
    let prefix = format!("customers.{i}");
    let Some(obj) = item.as_object() else {
        errors.add(prefix, "Each customer must be an object.");
        return None;
    };
    let c = Lenient::new(obj, &prefix);
    let code = c.string(errors, "customer_code", true, false);
    let name = optional_string(&c, errors, "customer_name").unwrap_or_default();
    let latin = optional_string(&c, errors, "customer_name_latin").unwrap_or_default();
    let bill_no = optional_string(&c, errors, "bill_no").unwrap_or_default();
    let amt = amount(&c, errors, "amount", currency);
    let (code, amt) = (code?, amt?);
    let bill_no = bill_no.trim().to_string();
    Some(CustomerShare {
        customer_code: code.trim().to_string(),
        customer_name: if name.trim().is_empty() { latin } else { name },
        bills: if bill_no.is_empty() {
            vec![]
        } else {
            vec![vec![bill_no]]
        },
        amount: amt,
        raw: item.clone(),
    })
}

/// The current generation's `customers[]` (at least one).
fn current_shares(
    l: &Lenient<'_>,
    errors: &mut FieldErrors,
    currency: Option<Currency>,
) -> Vec<CustomerShare> {
    match l.get("customers") {
        None => errors.add("customers", "The customers field is required."),
        Some(Value::Array(items)) if items.is_empty() => errors.add(
            "customers",
            "The customers must list at least one customer.",
        ),
        Some(Value::Array(items)) => {
            return items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| current_share(item, i, errors, currency))
                .collect();
        }
        Some(_) => errors.add("customers", "The customers must be a list."),
    }
    Vec::new()
}

/// The older generation's `bills[]`: each item's `id` then `sync_code`.
fn older_bills(l: &Lenient<'_>, errors: &mut FieldErrors) -> Vec<Vec<String>> {
    let mut bills = Vec::new();
    match l.get("bills") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let refs: Vec<String> = match item {
                    Value::Object(o) => [bill_ref(o.get("id")), bill_ref(o.get("sync_code"))]
                        .into_iter()
                        .flatten()
                        .collect(),
                    other => bill_ref(Some(other)).into_iter().collect(),
                };
                if refs.is_empty() {
                    errors.add(
                        format!("bills.{i}"),
                        "Each bill needs an id or a sync_code.",
                    );
                } else {
                    bills.push(refs);
                }
            }
        }
        Some(_) => errors.add("bills", "The bills must be a list."),
    }
    bills
}

/// The older generation's one customer, paying `tran_amount`.
fn older_share(
    body: &Map<String, Value>,
    l: &Lenient<'_>,
    errors: &mut FieldErrors,
    tran_amount: Option<Money>,
) -> Option<CustomerShare> {
    let code = l.string(errors, "customer_code", true, false);
    let name = optional_string(l, errors, "customer_name").unwrap_or_default();
    let bills = older_bills(l, errors);
    let (code, amt) = (code?, tran_amount?);
    let mut raw = Map::new();
    for k in [
        "customer_code",
        "customer_name",
        "customer_phone",
        "customer_sync_code",
        "bills",
    ] {
        if let Some(v) = body.get(k) {
            raw.insert(k.to_string(), v.clone());
        }
    }
    Some(CustomerShare {
        customer_code: code.trim().to_string(),
        customer_name: name,
        bills,
        amount: amt,
        raw: Value::Object(raw),
    })
}

/// `tran_amount` must equal the sum of the shares, exactly (checked when all else is valid).
fn check_total(shares: &[CustomerShare], total: Option<Money>, errors: &mut FieldErrors) {
    let (Some(total), true) = (total, errors.is_empty()) else {
        return;
    };
    let sum = shares
        .iter()
        .try_fold(0i64, |acc, s| acc.checked_add(s.amount.minor()));
    let Some(sum) = sum else {
        errors.add(
            "tran_amount",
            "The sum of the customers' amounts is too large.",
        );
        return;
    };
    if sum != total.minor() {
        errors.add(
            "tran_amount",
            format!(
                "The tran_amount {} does not equal the sum of the customers' amounts {}.",
                total.to_plain_string(),
                Money::from_minor(sum, total.currency()).to_plain_string()
            ),
        );
    }
}

impl Notification {
    /// Reads either generation (`tran_id` makes it the current one, `tnx_id` the older one).
    /// The money is already taken, so NUL is never a refusal: a body holding NUL is read with NUL
    /// removed from every key and string, and kept as sent in [`Notification::raw_body`].
    pub fn read(body: &Map<String, Value>) -> Result<Notification, FieldErrors> {
        let original = Value::Object(body.clone());
        if input::nul_paths(&original, "").is_empty() {
            return Self::read_clean(body, None);
        }
        let raw = original.to_string();
        match input::strip_nul_value(&original) {
            Value::Object(clean) => Self::read_clean(&clean, Some(raw)),
            _ => Self::read_clean(body, Some(raw)),
        }
    }

    fn read_clean(
        body: &Map<String, Value>,
        raw_body: Option<String>,
    ) -> Result<Notification, FieldErrors> {
        let mut errors = FieldErrors::new();
        let l = Lenient::new(body, "");
        let generation = if l.get("tran_id").is_some() || l.get("tnx_id").is_none() {
            Generation::Current
        } else {
            Generation::Older
        };
        let id_field = generation.id_field();
        let tran_id = tran_id(&l, &mut errors, id_field);
        let currency = currency(&l, &mut errors);
        let tran_amount = amount(&l, &mut errors, "tran_amount", currency);
        let status = status(&l, &mut errors, generation);
        let paid_date = optional_string(&l, &mut errors, generation.date_field())
            .filter(|s| !s.trim().is_empty());
        let method = method(&l, &mut errors);
        let fee = fee(&l, &mut errors, generation, currency);
        let shares = match generation {
            Generation::Current => current_shares(&l, &mut errors, currency),
            Generation::Older => older_share(body, &l, &mut errors, tran_amount)
                .into_iter()
                .collect(),
        };
        check_total(&shares, tran_amount, &mut errors);
        errors.into_result()?;
        let (Some(tran_id), Some(currency), Some(tran_amount)) = (tran_id, currency, tran_amount)
        else {
            // Unreachable: each missing part added an error above.
            let mut e = FieldErrors::new();
            e.add(id_field, format!("The {id_field} field is required."));
            return Err(e);
        };
        let mut transaction = body.clone();
        transaction.remove("customers");
        transaction.remove("bills");
        Ok(Notification {
            generation,
            tran_id,
            currency,
            tran_amount,
            status,
            paid_date,
            method,
            fee,
            shares,
            transaction,
            raw_body,
        })
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_generations() {
        let current = json!({
            "tran_id": "348b4b16-1f06-4563-8204-105a8420a067", "tran_amount": 45, "currency": "USD",
            "bank_name": "ACLEDA", "status": "success", "tran_date": "2024-11-29T16:58:16.727168",
            "customers": [{"customer_code": "37627011", "customer_name": "MAO SAMON", "bill_no": "", "amount": 45}]
        });
        let n = Notification::read(current.as_object().unwrap()).unwrap();
        assert_eq!(n.generation, Generation::Current);
        assert_eq!(n.tran_amount.minor(), 4500);
        assert_eq!(n.method, "ACLEDA");
        assert_eq!(n.shares.len(), 1);
        assert!(n.shares[0].bills.is_empty());
        assert!(!n.transaction.contains_key("customers"));

        let older = json!({ "tnx_id": "BUb4CmDE", "tran_amount": 10, "customer_fee": 0.20, "total_amount": 10.20,
            "currency": "USD", "customer_code": "CU003035", "paid_date": "2024-02-29 10:46:33",
            "bills": [{"id": 17, "sync_code": "INV-1"}] });
        let n = Notification::read(older.as_object().unwrap()).unwrap();
        assert_eq!(n.generation, Generation::Older);
        assert_eq!(n.status, "success");
        assert_eq!(n.fee, 20);
        assert_eq!(n.shares[0].amount.minor(), 1000);
        assert_eq!(
            n.shares[0].bills,
            vec![vec!["17".to_string(), "INV-1".to_string()]]
        );
    }

    #[test]
    fn reports_every_bad_field() {
        let bad = json!({ "tran_id": 5, "tran_amount": "45", "currency": "USD", "status": "success",
            "customers": [{"customer_code": 1, "amount": -2}, {"amount": 0}] });
        let e = Notification::read(bad.as_object().unwrap()).unwrap_err();
        for f in [
            "tran_id",
            "tran_amount",
            "customers.0.customer_code",
            "customers.0.amount",
            "customers.1.customer_code",
            "customers.1.amount",
        ] {
            assert!(e.contains(f), "{f} missing in {}", e.summary());
        }
        let mismatch = json!({ "tran_id": "T1", "tran_amount": 45, "currency": "USD", "status": "success",
            "customers": [{"customer_code": "A", "amount": 20}, {"customer_code": "B", "amount": 20}] });
        let e = Notification::read(mismatch.as_object().unwrap()).unwrap_err();
        assert!(e.summary().contains("does not equal"), "{}", e.summary());
        let precise = json!({ "tran_id": "T1", "tran_amount": 10.505, "currency": "USD", "status": "success",
            "customers": [{"customer_code": "A", "amount": 10.505}] });
        assert!(Notification::read(precise.as_object().unwrap()).is_err());
    }
}
