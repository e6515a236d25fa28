//! Lenient decoding and validation of every request into neutral terms.
//!
//! Each request is read leniently ([`Lenient`]) and every bad field is collected into one
//! [`FieldErrors`], answered at once as `VALIDATION_ERROR`. The result is a plain struct a flow
//! takes ([`PayRequest`], [`VaBillFilter`], ...). One rule needs the store: a bill's prefixes must
//! be the organization's, so a create request is decoded into a [`CreateBill`] draft whose
//! [`CreateBill::validate`] finishes the check once the flow has read the prefixes.

use actix_web::HttpRequest;
use billhub_core::bill::{DeclaredTotalError, LineItemError, check_declared_total, items_total};
use billhub_core::input::{self, InputError};
use billhub_core::org::Organization;
use billhub_core::{Currency, LineItem, Money, PaymentRule};
use billhub_http::FieldErrors;
use billhub_http::json::{decimal_text, money_from_number_or_string};
use billhub_http::validation::Lenient;
use billhub_store::repo::va::{
    VaBillFilter, VaBillOrder, VaPaymentFilter, VaPaymentOrder, VaStatusFilter,
};
use billhub_store::{AccountInput, NewBill, NewItem};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use time::{OffsetDateTime, UtcOffset};

use crate::error::VaError;
use crate::wire::{DEFAULT_OFFSET, parse_iso, parse_local, rule_of};

/// Rows per page of the lists (Laravel's default).
pub const PER_PAGE: i64 = 15;

/// The bank channel's `terminal_id` values.
pub const TERMINALS: [&str; 11] = [
    "atm",
    "internet_banking",
    "mobile_banking",
    "teller",
    "edc",
    "interbank",
    "transfer",
    "vabiz",
    "channel",
    "pos",
    "other",
];

// ---------------------------------------------------------------------------------------------
// Field helpers

/// The body as a JSON object, with no NUL in any key or string (core's [`input::nul_paths`]).
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, VaError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => {
            let mut e = FieldErrors::new();
            for path in input::nul_paths(&Value::Object(m.clone()), "") {
                e.add(
                    path.clone(),
                    format!("The {path} must not contain a NUL character."),
                );
            }
            e.into_result()?;
            Ok(m)
        }
        _ => Err(VaError::field(
            "body",
            "The request body must be a JSON object.",
        )),
    }
}

/// The query string's pairs, with no NUL in any name or value.
pub fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, VaError> {
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .map_err(|_| VaError::field("query", "The query string cannot be read."))?;
    let mut e = FieldErrors::new();
    for (k, v) in &pairs {
        if input::check_text(k).is_err() || input::check_text(v).is_err() {
            let name = input::strip_nul(k);
            e.add(
                name.clone(),
                format!("The {name} must not contain a NUL character."),
            );
        }
    }
    e.into_result()?;
    Ok(pairs)
}

/// A partner's timestamp judged by core ([`input::judge_date`]): the refusal's message.
fn date_refusal(field: &str, at: OffsetDateTime, now: OffsetDateTime) -> Option<String> {
    match input::judge_date(at, now) {
        Ok(_) => None,
        Err(InputError::DateTooEarly) => {
            Some(format!("The {field} must be a date after 2000-01-01."))
        }
        Err(InputError::DateTooLate | InputError::Nul) => Some(format!(
            "The {field} must not be more than one day in the future."
        )),
    }
}

fn query_get<'a>(pairs: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| names.contains(&k.as_str()))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn is_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// An optional string with a length limit.
fn optional_string(
    l: &Lenient<'_>,
    e: &mut FieldErrors,
    field: &str,
    max: usize,
) -> Option<String> {
    let s = l.string(e, field, false, true)?;
    if s.chars().count() > max {
        e.add(
            field,
            format!("The {field} may not be greater than {max} characters."),
        );
        return None;
    }
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// A required string with a length limit.
fn required_string(
    l: &Lenient<'_>,
    e: &mut FieldErrors,
    field: &str,
    max: usize,
) -> Option<String> {
    let s = l.string(e, field, true, false)?;
    if s.chars().count() > max {
        e.add(
            field,
            format!("The {field} may not be greater than {max} characters."),
        );
        return None;
    }
    Some(s.trim().to_string())
}

/// An IDR amount (a JSON number, or a decimal string).
fn amount(l: &Lenient<'_>, e: &mut FieldErrors, field: &str, required: bool) -> Option<Money> {
    match l.get(field) {
        None => {
            if required {
                e.add(l.path(field), format!("The {field} field is required."));
            }
            None
        }
        Some(v) => match money_from_number_or_string(v, Currency::IDR) {
            Ok(m) => Some(m),
            Err(err) => {
                e.add(
                    l.path(field),
                    format!("The {field} must be an IDR amount ({err})."),
                );
                None
            }
        },
    }
}

/// `page`: a positive whole number, default 1.
fn page_of(pairs: &[(String, String)], e: &mut FieldErrors) -> i64 {
    match query_get(pairs, &["page"]) {
        None => 1,
        Some(p) => match p.parse::<i64>() {
            Ok(n) if (1..=1_000_000).contains(&n) => n,
            _ => {
                e.add("page", "The page must be a positive whole number.");
                1
            }
        },
    }
}

/// One end of `date.0` / `date.1`: a `Y-m-d` local day of the organization (the end is
/// inclusive: the next day's start) or an ISO 8601 instant (any form [`parse_iso`] reads). An
/// inclusive end on the last representable day or second has no instant after it: the range is
/// then open at that end (no panic).
fn date_bound(
    pairs: &[(String, String)],
    offset: UtcOffset,
    end: bool,
    e: &mut FieldErrors,
) -> Option<OffsetDateTime> {
    let (field, names) = if end {
        ("date.1", ["date.1", "date[1]"])
    } else {
        ("date.0", ["date.0", "date[0]"])
    };
    let day = time::macros::format_description!("[year]-[month]-[day]");
    let text = query_get(pairs, &names)?;
    if let Ok(d) = time::Date::parse(text, day) {
        let start = time::PrimitiveDateTime::new(d, time::Time::MIDNIGHT).assume_offset(offset);
        return if end {
            start.checked_add(time::Duration::days(1))
        } else {
            Some(start)
        };
    }
    match parse_iso(text) {
        Some(t) if end => t.checked_add(time::Duration::seconds(1)),
        Some(t) => Some(t),
        None => {
            e.add(
                field,
                format!("The {field} must be a date (Y-m-d) or an ISO 8601 date."),
            );
            None
        }
    }
}

/// `date.0` / `date.1` (also `date[0]` / `date[1]`), both inclusive.
fn date_range(
    pairs: &[(String, String)],
    offset: UtcOffset,
    e: &mut FieldErrors,
) -> (Option<OffsetDateTime>, Option<OffsetDateTime>) {
    let from = date_bound(pairs, offset, false, e);
    let to = date_bound(pairs, offset, true, e);
    (from, to)
}

/// `order`: `asc` or `desc` (default `desc`).
fn descending(pairs: &[(String, String)], e: &mut FieldErrors) -> bool {
    match query_get(pairs, &["order"])
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => {
            e.add("order", "The selected order is invalid (asc or desc).");
            true
        }
    }
}

/// `institution_code` in a query, when given, must be the caller's.
fn check_institution(pairs: &[(String, String)], org_code: &str, e: &mut FieldErrors) {
    if let Some(code) = query_get(pairs, &["institution_code"])
        && code != org_code
    {
        e.add(
            "institution_code",
            "The institution_code does not match the credential's institution.",
        );
    }
}

/// `type`: `payment` or `reversal` (given in lower case: callers fold the case first).
fn check_payment_kind(kind: Option<&str>, e: &mut FieldErrors) {
    if let Some(k) = kind
        && k != "payment"
        && k != "reversal"
    {
        e.add(
            "type",
            "The selected type is invalid (payment or reversal).",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Biller API

/// The query of `GET /api/v2/gw/bill/{hash}` and its payments: only `institution_code`.
pub fn bill_query(req: &HttpRequest, org_code: &str) -> Result<(), VaError> {
    let pairs = query_pairs(req)?;
    let mut e = FieldErrors::new();
    check_institution(&pairs, org_code, &mut e);
    Ok(e.into_result()?)
}

/// A page of a list: which page, and the store's filter.
#[derive(Debug)]
pub struct ListQuery<F> {
    pub page: i64,
    pub filter: F,
}

fn bill_order(pairs: &[(String, String)], e: &mut FieldErrors) -> VaBillOrder {
    match query_get(pairs, &["order_by"]).unwrap_or("created_at") {
        "created_at" => VaBillOrder::CreatedAt,
        "invoice_number" => VaBillOrder::InvoiceNumber,
        "name" => VaBillOrder::Name,
        "total_amount" | "billed_amount" => VaBillOrder::Billed,
        "paid_amount" => VaBillOrder::Paid,
        "valid_until" => VaBillOrder::ValidUntil,
        "due_date" => VaBillOrder::DueDate,
        "status" => VaBillOrder::Status,
        "type" => VaBillOrder::Rule,
        _ => {
            e.add(
                "order_by",
                "The selected order_by is invalid (created_at, invoice_number, name, total_amount, billed_amount, paid_amount, valid_until, due_date, status, type).",
            );
            VaBillOrder::CreatedAt
        }
    }
}

/// `q` of the bill list: a `type` or a status label narrows the list besides the text search.
fn bill_search(
    pairs: &[(String, String)],
) -> (Option<String>, Option<String>, Option<VaStatusFilter>) {
    let q = query_get(pairs, &["q"])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let lowered = q.as_deref().map(str::to_ascii_lowercase);
    let rule = lowered
        .as_deref()
        .and_then(rule_of)
        .map(|r| r.name().to_string());
    let status = match lowered.as_deref() {
        Some("active") => Some(VaStatusFilter::Active),
        Some("reversal") => Some(VaStatusFilter::Reversal),
        Some("paid") => Some(VaStatusFilter::Paid),
        Some("void") => Some(VaStatusFilter::Void),
        Some("expired") => Some(VaStatusFilter::Expired),
        _ => None,
    };
    (q, rule, status)
}

/// `GET /api/v2/gw/bill`.
pub fn list_bills(
    req: &HttpRequest,
    org: &Organization,
) -> Result<ListQuery<VaBillFilter>, VaError> {
    let pairs = query_pairs(req)?;
    let mut e = FieldErrors::new();
    check_institution(&pairs, &org.code, &mut e);
    let page = page_of(&pairs, &mut e);
    let (created_from, created_before) = date_range(&pairs, org.utc_offset, &mut e);
    let order = bill_order(&pairs, &mut e);
    let descending = descending(&pairs, &mut e);
    e.into_result()?;
    let (text, rule, status) = bill_search(&pairs);
    let filter = VaBillFilter {
        rule,
        status,
        text,
        created_from,
        created_before,
        order,
        descending,
        offset: (page - 1) * PER_PAGE,
        limit: PER_PAGE,
    };
    Ok(ListQuery { page, filter })
}

/// `GET /api/v2/gw/payment`.
pub fn list_payments(
    req: &HttpRequest,
    org: &Organization,
) -> Result<ListQuery<VaPaymentFilter>, VaError> {
    let pairs = query_pairs(req)?;
    let mut e = FieldErrors::new();
    check_institution(&pairs, &org.code, &mut e);
    let page = page_of(&pairs, &mut e);
    let (created_from, created_before) = date_range(&pairs, org.utc_offset, &mut e);
    let va_number = query_get(&pairs, &["va_number"]).map(str::to_string);
    if let Some(v) = &va_number
        && !(is_digits(v, 10) || is_digits(v, 16))
    {
        e.add("va_number", "The va_number must be 10 or 16 digits.");
    }
    let kind = query_get(&pairs, &["type"]).map(|k| k.trim().to_ascii_lowercase());
    check_payment_kind(kind.as_deref(), &mut e);
    let order = match query_get(&pairs, &["order_by"]).unwrap_or("created_at") {
        "created_at" => VaPaymentOrder::CreatedAt,
        "amount" => VaPaymentOrder::Amount,
        _ => {
            e.add(
                "order_by",
                "The selected order_by is invalid (created_at or amount).",
            );
            VaPaymentOrder::CreatedAt
        }
    };
    let descending = descending(&pairs, &mut e);
    e.into_result()?;
    let filter = VaPaymentFilter {
        text: query_get(&pairs, &["q"]).map(|s| s.trim().to_string()),
        va_number,
        kind,
        created_from,
        created_before,
        order,
        descending,
        offset: (page - 1) * PER_PAGE,
        limit: PER_PAGE,
    };
    Ok(ListQuery { page, filter })
}

/// A sandbox `mock`: a payment (its amount, optionally its reference) or a reversal (of the
/// payment with `payment_ref`, else of the latest one; `amount`, when given, must be its
/// amount).
#[derive(Debug, Clone)]
pub enum MockRequest {
    Payment {
        amount: Option<Money>,
        reference: Option<String>,
    },
    Reversal {
        amount: Option<Money>,
        payment_ref: Option<String>,
    },
}

/// `POST /api/v2/gw/bill/{hash}/mock`: the fields in a JSON body.
pub fn mock(body: &[u8]) -> Result<MockRequest, VaError> {
    mock_fields(&json_object(body)?, FieldErrors::new())
}

/// `GET /api/v2/gw/bill/{hash}/mock?type=payment&amount=100000` (as IPG's docs list it): the
/// same fields in the query string, as text (`amount` a decimal string); `institution_code`,
/// when given, must be the caller's.
pub fn mock_query(req: &HttpRequest, org_code: &str) -> Result<MockRequest, VaError> {
    let pairs = query_pairs(req)?;
    let mut e = FieldErrors::new();
    check_institution(&pairs, org_code, &mut e);
    let mut obj = Map::new();
    for name in ["type", "amount", "ref_id", "payment_ref"] {
        if let Some(v) = query_get(&pairs, &[name]) {
            obj.insert(name.to_string(), Value::String(v.to_string()));
        }
    }
    mock_fields(&obj, e)
}

/// The mock's fields, with the errors found so far: every bad field is answered at once.
fn mock_fields(obj: &Map<String, Value>, mut e: FieldErrors) -> Result<MockRequest, VaError> {
    let l = Lenient::new(obj, "");
    let kind = l
        .string(&mut e, "type", true, false)
        .map(|k| k.trim().to_ascii_lowercase());
    check_payment_kind(kind.as_deref(), &mut e);
    let payment = kind.as_deref() == Some("payment");
    let amount = amount(&l, &mut e, "amount", payment);
    let reference = optional_string(&l, &mut e, "ref_id", 64);
    let payment_ref = optional_string(&l, &mut e, "payment_ref", 64);
    e.into_result()?;
    Ok(if payment {
        MockRequest::Payment { amount, reference }
    } else {
        MockRequest::Reversal {
            amount,
            payment_ref,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Creating a bill

/// A validated create request: the account (the VA number) and the bill.
#[derive(Debug)]
pub struct NewVaBill {
    pub account: AccountInput,
    pub bill: NewBill,
}

/// `prefix`: a string or a non-empty array of strings, each with its field name.
fn prefixes_of(l: &Lenient<'_>, e: &mut FieldErrors) -> Vec<(String, String)> {
    let mut chosen = Vec::new();
    match l.get("prefix") {
        None => e.add("prefix", "The prefix field is required."),
        Some(Value::String(p)) => chosen.push(("prefix".to_string(), p.trim().to_string())),
        Some(Value::Array(items)) if items.is_empty() => {
            e.add("prefix", "The prefix field is required.");
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(p) => chosen.push((format!("prefix.{i}"), p.trim().to_string())),
                    _ => e.add(
                        format!("prefix.{i}"),
                        format!("The prefix.{i} must be a string."),
                    ),
                }
            }
        }
        Some(_) => e.add(
            "prefix",
            "The prefix must be a string or an array of strings.",
        ),
    }
    chosen
}

/// `type`: `close`, `open` or `partial`.
fn rule(l: &Lenient<'_>, e: &mut FieldErrors) -> Option<PaymentRule> {
    let t = l.string(e, "type", true, false)?;
    let rule = rule_of(&t);
    if rule.is_none() {
        e.add(
            "type",
            "The selected type is invalid (close, open or partial).",
        );
    }
    rule
}

/// `valid_until`: optional, ISO 8601 with an offset, in the future.
fn valid_until(
    l: &Lenient<'_>,
    e: &mut FieldErrors,
    now: OffsetDateTime,
    offset: UtcOffset,
) -> Option<OffsetDateTime> {
    let text = l.string(e, "valid_until", false, true)?;
    if text.trim().is_empty() {
        return None;
    }
    // Its UTC and local forms must exist (`9999-12-31T23:59:59-01:00` has no UTC form).
    let representable = |t: &OffsetDateTime| {
        t.checked_to_offset(UtcOffset::UTC).is_some() && t.checked_to_offset(offset).is_some()
    };
    match parse_iso(&text).filter(representable) {
        Some(t) if t > now => Some(t),
        Some(_) => {
            e.add(
                "valid_until",
                "The valid_until must be a date in the future.",
            );
            None
        }
        None => {
            e.add(
                "valid_until",
                "The valid_until must be an ISO 8601 date with an offset (2022-04-04T11:46:56+07:00).",
            );
            None
        }
    }
}

/// A component's `qty`: a number (or numeric string) greater than 0.
fn quantity(cl: &Lenient<'_>, e: &mut FieldErrors) -> Option<Decimal> {
    let Some(v) = cl.get("qty") else {
        e.add(cl.path("qty"), "The qty field is required.");
        return None;
    };
    // Exact or refused: `str::parse` would round what has more digits than a Decimal holds.
    let parsed = decimal_text(v).and_then(|t| {
        Decimal::from_str_exact(&t)
            .ok()
            .or_else(|| Decimal::from_scientific(&t).ok())
    });
    match parsed {
        Some(q) if q > Decimal::ZERO => Some(q),
        Some(_) => {
            e.add(cl.path("qty"), "The qty must be greater than 0.");
            None
        }
        None => {
            e.add(cl.path("qty"), "The qty must be a number.");
            None
        }
    }
}

/// One component `{name, qty, price, total}`; its total must be qty x price exactly (core's
/// [`LineItem::new`]). `None` when it is not valid (its errors are recorded).
fn component(cl: &Lenient<'_>, e: &mut FieldErrors) -> Option<LineItem> {
    let before = e.len();
    let name = cl.string(e, "name", true, false);
    let qty = quantity(cl, e);
    let price = amount(cl, e, "price", true);
    if let Some(p) = price
        && p.minor() < 0
    {
        e.add(cl.path("price"), "The price must not be negative.");
    }
    let total = amount(cl, e, "total", true);
    if e.len() != before {
        return None;
    }
    let (name, qty, price, total) = (name?, qty?, price?, total?);
    match LineItem::new(name.trim(), qty, price, Some(total)) {
        Ok(item) => Some(item),
        Err(err) => {
            let field = match err {
                LineItemError::TotalMismatch { .. } => "total",
                _ => "qty",
            };
            e.add(cl.path(field), format!("Invalid component: {err}."));
            None
        }
    }
}

/// `components[]`; `None` when any of them is not valid.
fn components(l: &Lenient<'_>, e: &mut FieldErrors) -> Option<Vec<LineItem>> {
    let list: &[Value] = match l.get("components") {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(_) => {
            e.add("components", "The components must be an array.");
            return None;
        }
    };
    let mut items = Vec::with_capacity(list.len());
    let mut all_ok = true;
    for (i, c) in list.iter().enumerate() {
        let Value::Object(co) = c else {
            e.add(
                format!("components.{i}"),
                format!("The components.{i} must be an object."),
            );
            all_ok = false;
            continue;
        };
        match component(&Lenient::new(co, &format!("components.{i}")), e) {
            Some(item) => items.push(item),
            None => all_ok = false,
        }
    }
    all_ok.then_some(items)
}

/// The components add up to `total_amount` (core's [`check_declared_total`]).
fn check_components_total(items: &[LineItem], total: Option<Money>, e: &mut FieldErrors) {
    let checked = match total {
        Some(t) => check_declared_total(items, t),
        None => items_total(items, Currency::IDR)
            .map(|_| ())
            .map_err(DeclaredTotalError::Sum),
    };
    match checked {
        Ok(()) => {}
        Err(DeclaredTotalError::Mismatch { sum }) => e.add(
            "total_amount",
            format!(
                "The total_amount must equal the sum of the components' totals ({}).",
                sum.to_plain_string()
            ),
        ),
        Err(DeclaredTotalError::Sum(_)) => {
            e.add("components", "The components' totals are too large.");
        }
    }
}

/// The customer fields of a create request.
#[derive(Debug, Clone, Default)]
struct Customer {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
}

/// A create request decoded and checked but for its prefixes, which must be the
/// organization's: [`CreateBill::validate`] finishes with them.
#[derive(Debug, Clone)]
pub struct CreateBill {
    errors: FieldErrors,
    va_number: Option<String>,
    invoice_number: Option<String>,
    /// (field, prefix)
    prefixes: Vec<(String, String)>,
    name: Option<String>,
    rule: Option<PaymentRule>,
    valid_until: Option<OffsetDateTime>,
    total: Option<Money>,
    items: Vec<LineItem>,
    customer: Customer,
    description: Option<String>,
    ext_description: Option<String>,
    organization_id: i64,
    offset: UtcOffset,
    now: OffsetDateTime,
}

/// `POST /api/v2/gw/bill` for `org` at `now`.
pub fn create_bill(
    body: &[u8],
    org: &Organization,
    now: OffsetDateTime,
) -> Result<CreateBill, VaError> {
    let obj = json_object(body)?;
    let l = Lenient::new(&obj, "");
    let mut e = FieldErrors::new();
    let va_number = l.string(&mut e, "va_number", true, false);
    if let Some(v) = &va_number
        && !is_digits(v, 10)
    {
        e.add("va_number", "The va_number must be exactly 10 digits.");
    }
    let invoice_number = optional_string(&l, &mut e, "invoice_number", 64);
    // `channel` is deprecated: accepted and ignored.
    let prefixes = prefixes_of(&l, &mut e);
    let name = required_string(&l, &mut e, "name", 255);
    if let Some(code) = l.string(&mut e, "institution_code", true, false)
        && code != org.code
    {
        e.add(
            "institution_code",
            "The institution_code does not match the credential's institution.",
        );
    }
    let rule = rule(&l, &mut e);
    let valid_until = valid_until(&l, &mut e, now, org.utc_offset);
    let total = amount(&l, &mut e, "total_amount", true);
    if let Some(t) = total
        && t.minor() <= 0
    {
        e.add("total_amount", "The total_amount must be greater than 0.");
    }
    let items = components(&l, &mut e).unwrap_or_default();
    if !items.is_empty() {
        check_components_total(&items, total, &mut e);
    }
    let customer = Customer {
        name: required_string(&l, &mut e, "customer_name", 255),
        email: optional_string(&l, &mut e, "customer_email", 255),
        phone: optional_string(&l, &mut e, "customer_phone", 64),
        address: optional_string(&l, &mut e, "customer_address", 1000),
    };
    Ok(CreateBill {
        va_number,
        invoice_number,
        prefixes,
        name,
        rule,
        valid_until,
        total,
        items,
        customer,
        description: optional_string(&l, &mut e, "description", 2000),
        ext_description: optional_string(&l, &mut e, "ext_description", 2000),
        errors: e,
        organization_id: org.id,
        offset: org.utc_offset,
        now,
    })
}

impl CreateBill {
    /// Each chosen prefix is 6 digits, one of the organization's `prefixes`, and not repeated.
    fn check_prefixes(&mut self, prefixes: &[String]) {
        for (k, (field, p)) in self.prefixes.iter().enumerate() {
            if !is_digits(p, 6) {
                self.errors
                    .add(field, format!("The {field} must be exactly 6 digits."));
            } else if !prefixes.contains(p) {
                self.errors.add(
                    field,
                    format!("The prefix {p} is not one of the institution's VA prefixes."),
                );
            } else if self
                .prefixes
                .get(..k)
                .is_some_and(|earlier| earlier.iter().any(|(_, q)| q == p))
            {
                self.errors
                    .add(field, format!("The {field} field has a duplicate value."));
            }
        }
    }

    /// Finishes the validation with the organization's VA `prefixes`.
    pub fn validate(mut self, prefixes: &[String]) -> Result<NewVaBill, FieldErrors> {
        self.check_prefixes(prefixes);
        let mut e = std::mem::take(&mut self.errors);
        if !e.is_empty() {
            return Err(e);
        }
        let (Some(va_number), Some(name), Some(rule), Some(total), Some(customer_name)) = (
            self.va_number.take(),
            self.name.take(),
            self.rule,
            self.total,
            self.customer.name.take(),
        ) else {
            e.add("body", "The request is incomplete.");
            return Err(e);
        };
        Ok(self.build(va_number, name, rule, total, customer_name))
    }

    fn build(
        self,
        va_number: String,
        name: String,
        rule: PaymentRule,
        total: Money,
        customer_name: String,
    ) -> NewVaBill {
        let Customer {
            email,
            phone,
            address,
            ..
        } = self.customer;
        let extra = serde_json::json!({
            "va": {
                "customer_name": customer_name,
                "customer_email": email,
                "customer_phone": phone,
                "customer_address": address,
                "ext_description": self.ext_description,
            }
        })
        .to_string();
        let local = self.offset;
        NewVaBill {
            account: AccountInput {
                code: va_number.clone(),
                name: customer_name,
                phone: phone.unwrap_or_default(),
                email: email.unwrap_or_default(),
                address: address.unwrap_or_default(),
                ..Default::default()
            },
            bill: NewBill {
                organization_id: self.organization_id,
                account_id: 0,
                collection_id: None,
                invoice_number: self.invoice_number,
                ref1: String::new(),
                ref2: String::new(),
                name,
                description: self.description.unwrap_or_default(),
                currency: Currency::IDR,
                billed: total.minor(),
                items: self.items.into_iter().map(new_item).collect(),
                bill_date: billhub_store::local_date(self.now, local),
                due_date: self
                    .valid_until
                    .map(|v| billhub_store::local_date(v, local)),
                valid_until: self.valid_until,
                rule,
                source: "va".into(),
                extra,
                va_numbers: self
                    .prefixes
                    .into_iter()
                    .map(|(_, p)| (p, va_number.clone()))
                    .collect(),
            },
        }
    }
}

fn new_item(item: LineItem) -> NewItem {
    NewItem {
        name: item.name,
        quantity: item.quantity,
        unit_price: item.unit_price.minor(),
        total: item.total.minor(),
        product_id: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Bank channel API

/// The fields every channel request shares: `va_number` (16 digits), `ref_id`, `terminal_id?`,
/// `transaction_date` (`Y-m-d H:i:s`).
#[derive(Debug, Clone)]
pub struct ChannelFields {
    pub va_number: String,
    pub ref_id: String,
    pub terminal_id: Option<String>,
    pub transaction_date: String,
}

fn channel_fields(
    l: &Lenient<'_>,
    e: &mut FieldErrors,
    now: OffsetDateTime,
) -> Option<ChannelFields> {
    let va_number = l.string(e, "va_number", true, false);
    if let Some(v) = &va_number
        && !is_digits(v, 16)
    {
        e.add("va_number", "The va_number must be exactly 16 digits.");
    }
    let ref_id = required_string(l, e, "ref_id", 64);
    let terminal_id = optional_string(l, e, "terminal_id", 32);
    if let Some(t) = &terminal_id
        && !TERMINALS.contains(&t.as_str())
    {
        e.add("terminal_id", "The selected terminal_id is invalid.");
    }
    let transaction_date = l.string(e, "transaction_date", true, false);
    if let Some(d) = &transaction_date {
        // Judged at the dialect's own offset (WIB): the organization is not known yet.
        match parse_local(d, DEFAULT_OFFSET) {
            None => e.add(
                "transaction_date",
                "The transaction_date must be a date like 2022-04-04 11:46:56 (Y-m-d H:i:s).",
            ),
            Some(at) => {
                if let Some(m) = date_refusal("transaction_date", at, now) {
                    e.add("transaction_date", m);
                }
            }
        }
    }
    Some(ChannelFields {
        va_number: va_number?,
        ref_id: ref_id?,
        terminal_id,
        transaction_date: transaction_date?,
    })
}

fn incomplete() -> VaError {
    VaError::field("body", "The request is incomplete.")
}

/// `POST /api/v2/ch/inquiry` at `now`.
pub fn inquiry(body: &[u8], now: OffsetDateTime) -> Result<ChannelFields, VaError> {
    let obj = json_object(body)?;
    let l = Lenient::new(&obj, "");
    let mut e = FieldErrors::new();
    let fields = channel_fields(&l, &mut e, now);
    e.into_result()?;
    fields.ok_or_else(incomplete)
}

/// A bank's payment.
#[derive(Debug, Clone)]
pub struct PayRequest {
    pub fields: ChannelFields,
    pub amount: Money,
    pub customer_name: Option<String>,
}

/// `POST /api/v2/ch/payment` at `now`.
pub fn pay(body: &[u8], now: OffsetDateTime) -> Result<PayRequest, VaError> {
    let obj = json_object(body)?;
    let l = Lenient::new(&obj, "");
    let mut e = FieldErrors::new();
    let fields = channel_fields(&l, &mut e, now);
    let amount = amount(&l, &mut e, "amount", true);
    let customer_name = optional_string(&l, &mut e, "customer_name", 255);
    e.into_result()?;
    let (Some(fields), Some(amount)) = (fields, amount) else {
        return Err(incomplete());
    };
    Ok(PayRequest {
        fields,
        amount,
        customer_name,
    })
}

/// A bank's reversal of its payment `payment_ref` on the bill `hash`.
#[derive(Debug, Clone)]
pub struct ReverseRequest {
    pub hash: String,
    pub payment_ref: String,
    pub amount: Money,
}

/// `POST /api/v2/ch/reversal`.
pub fn reverse(body: &[u8]) -> Result<ReverseRequest, VaError> {
    let obj = json_object(body)?;
    let l = Lenient::new(&obj, "");
    let mut e = FieldErrors::new();
    let bill_id = required_string(&l, &mut e, "bill_id", 64);
    let payment_ref = required_string(&l, &mut e, "payment_ref", 64);
    let amount = amount(&l, &mut e, "amount", true);
    e.into_result()?;
    let (Some(hash), Some(payment_ref), Some(amount)) = (bill_id, payment_ref, amount) else {
        return Err(incomplete());
    };
    Ok(ReverseRequest {
        hash,
        payment_ref,
        amount,
    })
}

// ---------------------------------------------------------------------------------------------
// OAuth

const INVALID_REQUEST: &str = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.";

/// A client-credentials token request.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub client_id: String,
    pub client_secret: String,
    pub scope: String,
}

/// The token request's fields, from JSON or a form body.
fn token_fields(req: &HttpRequest, body: &[u8]) -> Option<Map<String, Value>> {
    let form = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
        Some(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    } else {
        match serde_json::from_slice::<Value>(body).ok()? {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }
}

/// `POST /oauth/token` (JSON or a form): refusals in the OAuth2 shape.
pub fn token(req: &HttpRequest, body: &[u8]) -> Result<TokenRequest, VaError> {
    use actix_web::http::StatusCode;
    let fields = token_fields(req, body).ok_or_else(|| {
        VaError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            INVALID_REQUEST,
            Some("The request body must be JSON or a form."),
        )
    })?;
    let get = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    if get("grant_type").as_deref() != Some("client_credentials") {
        return Err(VaError::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
            Some("Check that all required parameters have been provided"),
        ));
    }
    let client_id = get("client_id").ok_or_else(|| {
        VaError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            INVALID_REQUEST,
            Some("Check the `client_id` parameter"),
        )
    })?;
    Ok(TokenRequest {
        client_id,
        client_secret: get("client_secret").unwrap_or_default(),
        scope: get("scope").unwrap_or_else(|| "*".into()),
    })
}
