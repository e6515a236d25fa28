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
use billhub_http::json::{AmountError, money_from_number, money_from_number_or_string};
use billhub_http::validation::{FieldErrors, Lenient};
use serde_json::{Map, Value};

use crate::codes::Code;
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
    /// The consumer code: a string, or a whole number taken as its text. Whatever names no
    /// consumer (no code, a blank one, another type, NUL) is a business answer, code 1 (not
    /// found), never an HTTP error: `code` carries Bill24's 0-4 for everything but transport.
    pub fn read(body: &Map<String, Value>) -> Result<ConsumerRequest, Code> {
        match code_text(body.get("consumer_code")) {
            Some(code) if !code.contains('\u{0}') => Ok(ConsumerRequest {
                consumer_code: code,
            }),
            _ => Err(Code::NotFound),
        }
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

/// A webhook delivery, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub generation: Generation,
    /// `tran_id` (current) or `tnx_id` (older): the idempotency key.
    pub tran_id: String,
    pub currency: Currency,
    /// `tran_amount`, else `total_amount` (the 2025 schema makes every field optional).
    pub tran_amount: Money,
    /// Lower-cased; `success` when none was sent.
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
    /// The body as sent (JSON, NUL escaped as `\u0000`) when any key or string in it held NUL,
    /// or when it could not be read in full: kept in the details.
    pub raw_body: Option<String>,
    /// Why the delivery could not be read in full (every bad field), when it could not: its
    /// money is then kept whole as unapplied, under one share naming the best code it carries.
    pub unreadable: Option<String>,
}

fn optional_string(l: &Lenient<'_>, errors: &mut FieldErrors, field: &str) -> Option<String> {
    l.string(errors, field, false, true)
}

/// A string, or a whole number taken as its text; `None` when absent, null or blank.
fn code_text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// An amount of `currency` that must be greater than zero: a JSON number (or decimal text),
/// read exactly.
fn positive_amount(
    v: &Value,
    path: String,
    field: &str,
    currency: Currency,
    errors: &mut FieldErrors,
) -> Option<Money> {
    match money_from_number_or_string(v, currency) {
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
    code_text(v)
}

/// The least a delivery must carry to be recorded (below it: 400).
struct Minimum {
    generation: Generation,
    tran_id: String,
    currency: Currency,
    /// The field the amount came from (`tran_amount`, else `total_amount`).
    amount_field: &'static str,
    amount: Money,
}

/// The transaction id: a string or a whole number (at most 128 characters).
fn tran_id(l: &Lenient<'_>, errors: &mut FieldErrors, id_field: &str) -> Option<String> {
    let Some(v) = l.get(id_field) else {
        errors.add(id_field, format!("The {id_field} field is required."));
        return None;
    };
    let Some(id) = code_text(Some(v)) else {
        errors.add(
            id_field,
            format!("The {id_field} must be a string that is not blank."),
        );
        return None;
    };
    if id.len() > 128 {
        errors.add(
            id_field,
            format!("The {id_field} must be at most 128 characters."),
        );
        return None;
    }
    Some(id)
}

/// The currency, an ISO 4217 code in any case.
fn currency(l: &Lenient<'_>, errors: &mut FieldErrors) -> Option<Currency> {
    let code = l.string(errors, "currency", true, false)?;
    match Currency::from_code(&code.trim().to_ascii_uppercase()) {
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

/// Transaction id, currency and amount (`tran_amount`, else `total_amount`), or every reason
/// why not.
fn minimum(l: &Lenient<'_>) -> Result<Minimum, FieldErrors> {
    let mut errors = FieldErrors::new();
    let generation = if l.get("tran_id").is_some() || l.get("tnx_id").is_none() {
        Generation::Current
    } else {
        Generation::Older
    };
    let tran_id = tran_id(l, &mut errors, generation.id_field());
    let currency = currency(l, &mut errors);
    let amount_field = if l.get("tran_amount").is_none() && l.get("total_amount").is_some() {
        "total_amount"
    } else {
        "tran_amount"
    };
    let amount = match (l.get(amount_field), currency) {
        (None, _) => {
            errors.add(amount_field, "The tran_amount field is required.");
            None
        }
        (Some(v), Some(c)) => positive_amount(v, amount_field.into(), amount_field, c, &mut errors),
        (Some(_), None) => None,
    };
    match (tran_id, currency, amount) {
        (Some(tran_id), Some(currency), Some(amount)) => Ok(Minimum {
            generation,
            tran_id,
            currency,
            amount_field,
            amount,
        }),
        _ => Err(errors),
    }
}

/// `status`, lower-cased; `success` when none was sent.
fn status(l: &Lenient<'_>, errors: &mut FieldErrors) -> String {
    optional_string(l, errors, "status")
        .filter(|s| !s.trim().is_empty())
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
fn fee(l: &Lenient<'_>, errors: &mut FieldErrors, generation: Generation, c: Currency) -> i64 {
    match (generation, l.get("customer_fee")) {
        (Generation::Older, Some(v)) => match money_from_number(v, c) {
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

/// What the delivery carries besides its shares.
struct Context<'a> {
    currency: Currency,
    /// The transaction's amount (a lone customer without an amount pays it).
    total: Money,
    /// `identity_code`: the code of a customer whose code is blank (KHQR and device flows).
    identity: Option<&'a str>,
    /// `customers[]` has exactly one item.
    alone: bool,
}

/// One item of the current generation's `customers[]`.
fn current_share(
    item: &Value,
    i: usize,
    errors: &mut FieldErrors,
    cx: &Context<'_>,
) -> Option<CustomerShare> {
    let prefix = format!("customers.{i}");
    let Some(obj) = item.as_object() else {
        errors.add(prefix, "Each customer must be an object.");
        return None;
    };
    let c = Lenient::new(obj, &prefix);
    let code = match (c.get("customer_code"), code_text(c.get("customer_code"))) {
        (_, Some(code)) => Some(code),
        (None | Some(Value::String(_)), None) if cx.identity.is_some() => {
            cx.identity.map(String::from)
        }
        (None | Some(Value::String(_)), None) => {
            errors.add(
                c.path("customer_code"),
                "The customer_code field is required (or identity_code).",
            );
            None
        }
        (Some(_), None) => {
            errors.add(
                c.path("customer_code"),
                "The customer_code must be a string.",
            );
            None
        }
    };
    let name = optional_string(&c, errors, "customer_name").unwrap_or_default();
    let latin = optional_string(&c, errors, "customer_name_latin").unwrap_or_default();
    let bill_no = optional_string(&c, errors, "bill_no").unwrap_or_default();
    let amt = match c.get("amount") {
        None if cx.alone => Some(cx.total),
        None => {
            errors.add(c.path("amount"), "The amount field is required.");
            None
        }
        Some(v) => positive_amount(v, c.path("amount"), "amount", cx.currency, errors),
    };
    let (code, amt) = (code?, amt?);
    let bill_no = bill_no.trim().to_string();
    Some(CustomerShare {
        customer_code: code,
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

/// The current generation's `customers[]`; absent or empty: the `identity_code` pays the whole
/// amount.
fn current_shares(
    l: &Lenient<'_>,
    errors: &mut FieldErrors,
    cx: &Context<'_>,
) -> Vec<CustomerShare> {
    match l.get("customers") {
        Some(Value::Array(items)) if !items.is_empty() => {
            let cx = Context {
                alone: items.len() == 1,
                ..*cx
            };
            return items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| current_share(item, i, errors, &cx))
                .collect();
        }
        None | Some(Value::Array(_)) => match cx.identity {
            Some(code) => {
                return vec![CustomerShare {
                    customer_code: code.to_string(),
                    customer_name: String::new(),
                    bills: vec![],
                    amount: cx.total,
                    raw: Value::Null,
                }];
            }
            None => errors.add(
                "customers",
                "The customers must list at least one customer (or identity_code name one).",
            ),
        },
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

/// The older generation's one customer, paying the whole amount.
fn older_share(
    body: &Map<String, Value>,
    l: &Lenient<'_>,
    errors: &mut FieldErrors,
    cx: &Context<'_>,
) -> Option<CustomerShare> {
    let code = match (l.get("customer_code"), code_text(l.get("customer_code"))) {
        (_, Some(code)) => Some(code),
        (None | Some(Value::String(_)), None) if cx.identity.is_some() => {
            cx.identity.map(String::from)
        }
        (None | Some(Value::String(_)), None) => {
            errors.add("customer_code", "The customer_code field is required.");
            None
        }
        (Some(_), None) => {
            errors.add("customer_code", "The customer_code must be a string.");
            None
        }
    };
    let name = optional_string(l, errors, "customer_name").unwrap_or_default();
    let bills = older_bills(l, errors);
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
        customer_code: code?,
        customer_name: name,
        bills,
        amount: cx.total,
        raw: Value::Object(raw),
    })
}

/// The amount must equal the sum of the shares, exactly (checked when all else is valid).
fn check_total(shares: &[CustomerShare], min: &Minimum, errors: &mut FieldErrors) {
    if !errors.is_empty() {
        return;
    }
    let (total, field) = (min.amount, min.amount_field);
    let sum = shares
        .iter()
        .try_fold(0i64, |acc, s| acc.checked_add(s.amount.minor()));
    let Some(sum) = sum else {
        errors.add(field, "The sum of the customers' amounts is too large.");
        return;
    };
    if sum != total.minor() {
        errors.add(
            field,
            format!(
                "The {field} {} does not equal the sum of the customers' amounts {}.",
                total.to_plain_string(),
                Money::from_minor(sum, total.currency()).to_plain_string()
            ),
        );
    }
}

/// The code an unreadable delivery is kept under: the first customer code it carries, else
/// its `identity_code`, else none.
fn best_code(body: &Map<String, Value>, identity: Option<&str>) -> String {
    let first_customer = match body.get("customers") {
        Some(Value::Array(items)) => items.iter().find_map(|i| code_text(i.get("customer_code"))),
        _ => None,
    };
    first_customer
        .or_else(|| code_text(body.get("customer_code")))
        .or_else(|| identity.map(String::from))
        .unwrap_or_default()
}

impl Notification {
    /// Reads either generation (`tran_id` makes it the current one, `tnx_id` the older one).
    /// The money is already taken, so only a body without a transaction id, an amount and a
    /// currency is refused: NUL is removed from every key and string (the body is kept as sent
    /// in [`Notification::raw_body`]), and a body that does not read in full is kept whole as
    /// unapplied money ([`Notification::unreadable`]).
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
        let l = Lenient::new(body, "");
        let min = minimum(&l)?;
        let mut errors = FieldErrors::new();
        let generation = min.generation;
        let status = status(&l, &mut errors);
        let paid_date = optional_string(&l, &mut errors, generation.date_field())
            .filter(|s| !s.trim().is_empty());
        let method = method(&l, &mut errors);
        let fee = fee(&l, &mut errors, generation, min.currency);
        let identity = code_text(l.get("identity_code"));
        let cx = Context {
            currency: min.currency,
            total: min.amount,
            identity: identity.as_deref(),
            alone: false,
        };
        let mut shares = match generation {
            Generation::Current => current_shares(&l, &mut errors, &cx),
            Generation::Older => older_share(body, &l, &mut errors, &cx)
                .into_iter()
                .collect(),
        };
        check_total(&shares, &min, &mut errors);
        let unreadable = (!errors.is_empty()).then(|| errors.summary());
        if unreadable.is_some() {
            shares = vec![CustomerShare {
                customer_code: best_code(body, identity.as_deref()),
                customer_name: String::new(),
                bills: vec![],
                amount: min.amount,
                raw: Value::Null,
            }];
        }
        let raw_body = match (raw_body, &unreadable) {
            (Some(raw), _) => Some(raw),
            (None, Some(_)) => Some(Value::Object(body.clone()).to_string()),
            (None, None) => None,
        };
        let mut transaction = body.clone();
        transaction.remove("customers");
        transaction.remove("bills");
        Ok(Notification {
            generation,
            tran_id: min.tran_id,
            currency: min.currency,
            tran_amount: min.amount,
            status,
            paid_date,
            method,
            fee,
            shares,
            transaction,
            raw_body,
            unreadable,
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

    /// Below the minimum (transaction id, amount, currency): every reason, refused.
    #[test]
    fn refuses_below_the_minimum() {
        let bare = json!({ "status": "success", "customers": [] });
        let e = Notification::read(bare.as_object().unwrap()).unwrap_err();
        for f in ["tran_id", "tran_amount", "currency"] {
            assert!(e.contains(f), "{f} missing in {}", e.summary());
        }
        for (amount, currency) in [
            (json!(0), "USD"),
            (json!(-2), "USD"),
            (json!(10.505), "USD"),
            (json!(true), "USD"),
            (json!(5), "XYZ"),
        ] {
            let b = json!({ "tran_id": "T1", "tran_amount": amount, "currency": currency });
            assert!(Notification::read(b.as_object().unwrap()).is_err(), "{b}");
        }
    }

    /// Above the minimum a body that does not read in full is kept whole, with every reason.
    #[test]
    fn keeps_what_does_not_read_in_full() {
        let bad = json!({ "tran_id": 5, "tran_amount": "45", "currency": "usd", "status": "success",
            "customers": [{"customer_code": true, "amount": -2}, {"amount": 0}] });
        let n = Notification::read(bad.as_object().unwrap()).unwrap();
        assert_eq!((n.tran_id.as_str(), n.tran_amount.minor()), ("5", 4500));
        assert_eq!(n.currency, Currency::USD);
        let why = n.unreadable.clone().unwrap();
        for f in [
            "customers.0.customer_code",
            "customers.0.amount",
            "customers.1.customer_code",
            "customers.1.amount",
        ] {
            assert!(why.contains(f), "{f} missing in {why}");
        }
        assert_eq!(n.shares.len(), 1);
        assert_eq!(n.shares[0].amount.minor(), 4500);
        assert_eq!(n.raw_body, Some(bad.to_string()));

        let mismatch = json!({ "tran_id": "T1", "tran_amount": 45, "currency": "USD",
            "customers": [{"customer_code": "A", "amount": 20}, {"customer_code": "B", "amount": 20}] });
        let n = Notification::read(mismatch.as_object().unwrap()).unwrap();
        assert!(n.unreadable.unwrap().contains("does not equal"));
        assert_eq!(n.shares[0].customer_code, "A");
    }

    /// The 2025 schema: `total_amount` without `tran_amount`, no status, no customers: the
    /// `identity_code` pays; a blank customer code is the `identity_code`.
    #[test]
    fn reads_the_2025_schema() {
        let khqr = json!({ "tran_id": "K1", "total_amount": 1.0E7, "currency": "khr",
            "identity_code": "CU1", "customers": [] });
        let n = Notification::read(khqr.as_object().unwrap()).unwrap();
        assert_eq!(n.unreadable, None);
        assert_eq!(n.status, "success");
        assert_eq!(n.tran_amount.minor(), 1_000_000_000);
        assert_eq!(n.shares[0].customer_code, "CU1");
        let device = json!({ "tran_id": "K2", "tran_amount": 45, "currency": "USD",
            "identity_code": 37627011, "customers": [{"customer_code": " ", "bill_no": ""}] });
        let n = Notification::read(device.as_object().unwrap()).unwrap();
        assert_eq!(n.unreadable, None);
        assert_eq!(n.shares[0].customer_code, "37627011");
        assert_eq!(n.shares[0].amount.minor(), 4500);
    }

    /// A consumer code: a string or a whole number; anything else names nobody (code 1).
    #[test]
    fn consumer_codes() {
        let read = |v: Value| ConsumerRequest::read(v.as_object().unwrap());
        assert_eq!(
            read(json!({"consumer_code": " CU1 "}))
                .unwrap()
                .consumer_code,
            "CU1"
        );
        assert_eq!(
            read(json!({"consumer_code": 3035})).unwrap().consumer_code,
            "3035"
        );
        for v in [
            json!({}),
            json!({"consumer_code": ""}),
            json!({"consumer_code": [1]}),
            json!({"consumer_code": 1.5}),
            json!({"consumer_code": "A\u{0}"}),
        ] {
            assert_eq!(read(v), Err(Code::NotFound));
        }
    }
}
