//! The handlers: authenticate, read the request leniently (every bad field at once), call the
//! store through `state.run`, answer in the dialect's shape.
//!
//! Order on the payment and revert routes: authentication (401), then the idempotency check by
//! channel reference (a repeat gets its first answer, another request under the same reference
//! gets 12), then the one-time use of `(U, ST, SH)` (401 when already used), then validation
//! (900) and the business rules.

use std::collections::BTreeMap;

use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, web};
use billhub_core::org::{Organization, Settings};
use billhub_core::postpaid::{INSTALLMENTS_FIELD, TRANSACTION_CODE, TerminalFields, installments};
use billhub_core::rules::payable_bills;
use billhub_core::{Bill, BillStatus, Currency, Money, Payment, Rejection, SettlementMode};
use billhub_http::{AppState, FieldErrors};
use billhub_store::postpaid::{CodeHolder, NewPostpaidCode, PostpaidPosting};
use billhub_store::{
    OnRejection, PaymentRequest, PaymentTarget, PostResult, ReversalRequest, fingerprint,
};
use serde_json::{Map, Value};
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::auth::{self, Network};
use crate::codes::{
    Refusal, ResultCode, from_code_problem, from_rejection, from_store, system_error,
};
use crate::wire::{
    FrontItem, InvoiceItem, InvoicesResponse, KeyValue, ParametersResponse, PingResponse,
    ResultItem, TransactionResponse, from_x100, to_x100,
};

type State = web::Data<AppState>;

/// The partner's message for a payment that informs both amounts.
pub const BOTH_AMOUNTS: &str = "amountToSendX100 and destinationAmountX100 must not be informed at the same time, please inform only one of it";

// ----------------------------------------------------------------------------------------------
// Reading requests

/// A path integer (`int32`, not negative).
fn path_int(errors: &mut FieldErrors, name: &str, text: &str) -> Option<i32> {
    let ok = !text.is_empty() && text.len() <= 10 && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<i32>() {
        Ok(v) if ok => Some(v),
        _ => {
            errors.add(name, format!("`{text}` is not an int32"));
            None
        }
    }
}

/// A terminal's transaction reference: at most 9 digits.
fn reference(errors: &mut FieldErrors, name: &str, text: &str) -> Option<i32> {
    let ok = !text.is_empty() && text.len() <= 9 && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<i32>() {
        Ok(v) if ok => Some(v),
        _ => {
            errors.add(name, "must be a whole number of at most 9 digits");
            None
        }
    }
}

/// The date part of an ISO 8601 `localDateTime` (`2025-07-03T10:15:00Z`,
/// `2025-07-03T10:15:00.123+07:00`, `2025-07-03T10:15:00`), exactly as sent.
fn local_date(text: &str) -> Option<String> {
    let with_offset = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
    let without = PrimitiveDateTime::parse(
        text,
        format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
        ),
    );
    (with_offset.is_ok() || without.is_ok())
        .then(|| text.get(..10).map(str::to_string))
        .flatten()
}

fn iso_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `yyyy-MM-dd`.
fn parse_iso_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

/// `yyyyMMdd` or `ddMMyyyy` (unambiguous: a year is 1900 or later, a month-day at most 1231).
fn parse_compact_date(text: &str) -> Option<Date> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<i32>().ok());
    let make = |y: i32, m: i32, d: i32| {
        let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
        (y >= 1900)
            .then(|| Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok())
            .flatten()
    };
    make(num(0..4)?, num(4..6)?, num(6..8)?).or_else(|| make(num(4..8)?, num(2..4)?, num(0..2)?))
}

fn json_body(errors: &mut FieldErrors, body: &[u8]) -> Option<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        errors.add("body", "a JSON body is required");
        return None;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.add("body", format!("not valid JSON: {e}"));
            None
        }
    }
}

/// A `[{"key": ..., "value": ...}]` list; values may be strings or numbers.
fn key_values(
    errors: &mut FieldErrors,
    path: &str,
    value: Option<&Value>,
) -> Vec<(String, String)> {
    let Some(Value::Array(items)) = value else {
        match value {
            None => errors.add(path, "is required"),
            Some(_) => errors.add(path, "must be a list of {\"key\", \"value\"} objects"),
        }
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key = item.get("key").and_then(Value::as_str);
        let value = match item.get("value") {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        match (key, value) {
            (Some(k), Some(v)) => out.push((k.to_string(), v)),
            _ => errors.add(
                format!("{path}[{i}]"),
                "must be an object with a string \"key\" and a string \"value\"",
            ),
        }
    }
    out
}

/// Checks pairs against the expected field names: unknown keys, repeats, missing fields and
/// each value against its field's rules.
fn check_keys(
    errors: &mut FieldErrors,
    path: &str,
    pairs: &[(String, String)],
    expected: &[&str],
    fields: &TerminalFields,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in pairs {
        let at = format!("{path}.{key}");
        if !expected.contains(&key.as_str()) {
            errors.add(
                at,
                format!("unknown key (expected {})", expected.join(", ")),
            );
        } else if out.contains_key(key) {
            errors.add(at, "appears more than once");
        } else {
            if let Some(field) = fields.field(key)
                && let Err(e) = field.check_value(value)
            {
                errors.add(at.clone(), e.to_string());
            }
            if key == TRANSACTION_CODE && value.is_empty() {
                errors.add(at, "must not be empty");
            }
            out.insert(key.clone(), value.clone());
        }
    }
    for name in expected {
        if !pairs.iter().any(|(k, _)| k == name) {
            errors.add(format!("{path}.{name}"), "is required");
        }
    }
    out
}

/// An `...X100` amount: a whole JSON number that fits an int32 (never wrapped). `0` and
/// `null` mean "not informed".
fn amount_x100(errors: &mut FieldErrors, obj: &Map<String, Value>, name: &str) -> Option<i64> {
    match obj.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => None,
            Some(v) if (1..=i64::from(i32::MAX)).contains(&v) => Some(v),
            Some(v) if v < 0 => {
                errors.add(name, "must be positive");
                None
            }
            _ => {
                errors.add(name, "must be a whole number of at most 2147483647 (int32)");
                None
            }
        },
        Some(_) => {
            errors.add(name, "must be a number");
            None
        }
    }
}

fn required_string(
    errors: &mut FieldErrors,
    obj: &Map<String, Value>,
    name: &str,
) -> Option<String> {
    match obj.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.add(name, "is required");
            None
        }
        Some(_) => {
            errors.add(name, "must be a string");
            None
        }
    }
}

fn invalid(errors: &FieldErrors) -> Refusal {
    Refusal::invalid(errors.summary())
}

/// The JSON body written canonically (object keys sorted at every level, whatever order and
/// spacing the terminal used), for request fingerprints.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

// ----------------------------------------------------------------------------------------------
// The operator (organization) a request names

struct Operator {
    org: Organization,
    settings: Settings,
    fields: TerminalFields,
}

/// The organization behind `operatorId`, when the network is enrolled with it (others answer as
/// an unknown operator).
async fn operator(
    state: &AppState,
    network: &Network,
    operator_id: i32,
) -> Result<Operator, Refusal> {
    let channel_id = network.channel_id;
    let id = i64::from(operator_id);
    let found = state
        .run(move |s| {
            if !s.is_enrolled(channel_id, id)? {
                return Ok(None);
            }
            Ok(Some((s.organization(id)?, s.settings(id)?)))
        })
        .await
        .map_err(|e| system_error(&e, "reading the operator"))?;
    let Some((org, settings)) = found else {
        return Err(Refusal::unknown_operator(operator_id));
    };
    let fields = TerminalFields::from_setting(settings.postpaid_fields.as_deref())
        .map_err(|e| system_error(&e, "reading postpaid.fields"))?;
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

fn respond(result: Result<HttpResponse, Refusal>) -> HttpResponse {
    result.unwrap_or_else(|refusal| refusal.response())
}

// ----------------------------------------------------------------------------------------------
// Get Parameters

/// `GET /post-paid/bill-payment/parameters/{terminalId}/{operatorId}`
pub async fn parameters(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let network = match auth::authenticate(&state, &req).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    respond(parameters_inner(&state, &req, &network, &path).await)
}

async fn parameters_inner(
    state: &AppState,
    req: &HttpRequest,
    network: &Network,
    path: &(String, String),
) -> Result<HttpResponse, Refusal> {
    let mut errors = FieldErrors::new();
    path_int(&mut errors, "terminalId", &path.0);
    let operator_id = path_int(&mut errors, "operatorId", &path.1);
    let Some(operator_id) = operator_id.filter(|_| errors.is_empty()) else {
        return Err(invalid(&errors));
    };
    let op = operator(state, network, operator_id).await?;
    let body = ParametersResponse {
        rc: 0,
        message: "OK".into(),
        front: op
            .fields
            .fields()
            .iter()
            .map(|f| FrontItem {
                name: f.name.clone(),
                label: f.label.clone(),
                kind: f.kind.as_str().into(),
                min_length: f.min_length,
                max_length: f.max_length,
                list: f.options.clone(),
            })
            .collect(),
        query: op
            .fields
            .query_names()
            .into_iter()
            .map(String::from)
            .collect(),
        pay: op
            .fields
            .pay_names()
            .into_iter()
            .map(String::from)
            .collect(),
    };
    let text = serde_json::to_string(&body).map_err(|e| system_error(&e, "writing parameters"))?;
    // Cache-Hash: the terminal's last checksum; the same one again gets an empty body.
    let hash = billhub_core::signature::sha256_hex(text.as_bytes());
    let unchanged = req
        .headers()
        .get("Cache-Hash")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(&hash));
    let mut resp = HttpResponse::Ok();
    resp.content_type("application/json");
    if let Ok(v) = HeaderValue::from_str(&hash) {
        resp.insert_header(("New-Cache-Hash", v));
    }
    Ok(if unchanged {
        resp.finish()
    } else {
        resp.body(text)
    })
}

// ----------------------------------------------------------------------------------------------
// Get Invoices

/// What an invoice lookup shows.
struct Listing<'a> {
    /// Listed bills in allocation order, with whether each is payable.
    items: Vec<(&'a Bill, bool)>,
    /// The payable ones, in allocation order.
    payable: Vec<&'a Bill>,
    currency: Option<Currency>,
}

/// The account's payable bills (at most `limit` of the oldest) and its expired ones that still
/// have something outstanding, oldest first.
fn listing(
    bills: &[Bill],
    now: OffsetDateTime,
    limit: Option<u32>,
) -> Result<Listing<'_>, Rejection> {
    let mut payable = payable_bills(bills, now);
    if let Some(n) = limit {
        payable.truncate(n as usize);
    }
    let currency = match payable.first() {
        Some(first) => {
            if payable.iter().any(|b| b.currency != first.currency) {
                return Err(Rejection::MixedCurrencies);
            }
            Some(first.currency)
        }
        None => None,
    };
    let expired = bills
        .iter()
        .filter(|b| b.status_at(now) == BillStatus::Expired && b.outstanding() > 0);
    let mut items: Vec<(&Bill, bool)> = payable.iter().map(|b| (*b, true)).collect();
    items.extend(expired.map(|b| (b, false)));
    items.sort_by_key(|(b, _)| b.allocation_key());
    let currency = currency
        .or_else(|| items.first().map(|(b, _)| b.currency))
        .or_else(|| bills.last().map(|b| b.currency));
    Ok(Listing {
        items,
        payable,
        currency,
    })
}

fn too_large() -> Refusal {
    Refusal::invalid("an amount does not fit an int32 X100 value")
}

/// `POST /post-paid/bill-payment/get-invoices/{terminalId}/{operatorId}`
pub async fn get_invoices(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let network = match auth::authenticate(&state, &req).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    respond(get_invoices_inner(&state, &network, &path, &body).await)
}

async fn get_invoices_inner(
    state: &AppState,
    network: &Network,
    path: &(String, String),
    body: &[u8],
) -> Result<HttpResponse, Refusal> {
    let mut errors = FieldErrors::new();
    let terminal_id = path_int(&mut errors, "terminalId", &path.0);
    let operator_id = path_int(&mut errors, "operatorId", &path.1);
    let value = json_body(&mut errors, body);
    let pairs = match &value {
        Some(v) => key_values(&mut errors, "body", Some(v)),
        None => Vec::new(),
    };
    let (Some(terminal_id), Some(operator_id)) = (terminal_id, operator_id) else {
        return Err(invalid(&errors));
    };
    let op = operator(state, network, operator_id).await?;
    if value.is_none() {
        return Err(invalid(&errors));
    }
    let values = check_keys(
        &mut errors,
        "body",
        &pairs,
        &op.fields.query_names(),
        &op.fields,
    );
    if !errors.is_empty() {
        return Err(invalid(&errors));
    }
    let account_code = values
        .get(&op.fields.account_field().name)
        .cloned()
        .unwrap_or_default();
    let limit = values
        .get(INSTALLMENTS_FIELD)
        .and_then(|v| installments(v).ok());
    let org_id = op.org.id;
    let found = state
        .run(move |s| {
            let Some(account) = s.account_by_code(org_id, &account_code)? else {
                return Ok(None);
            };
            let bills = s.bills_of_account(account.id)?;
            Ok(Some((account, bills)))
        })
        .await
        .map_err(|e| system_error(&e, "reading invoices"))?;
    let Some((account, bills)) = found else {
        return Err(Refusal::rejected(
            "Unknown account: no customer with this code",
        ));
    };
    let now = state.now();
    let shown = listing(&bills, now, limit)
        .map_err(|_| Refusal::rejected("The account's invoices are in more than one currency"))?;
    let currency = shown.currency;
    let payment_type = op.settings.settlement;
    let offset = op.org.utc_offset;
    let x = |minor: i64, cur: Currency| to_x100(minor, cur).ok_or_else(too_large);
    let mut items = Vec::with_capacity(shown.items.len());
    for (bill, eligible) in &shown.items {
        let outstanding = x(bill.outstanding(), bill.currency)?;
        items.push(InvoiceItem {
            amount_to_send_x100: outstanding,
            destination_amount_x100: outstanding,
            service_fee_x100: 0,
            total_amount_x100: outstanding,
            destination_currency: bill.currency.code().into(),
            date: iso_date(bill.bill_date),
            expiration_date: bill
                .due_date
                .or_else(|| bill.valid_until.map(|v| v.to_offset(offset).date()))
                .map(iso_date),
            invoice_reference: bill.invoice_number.clone(),
            is_elegible: *eligible,
        });
    }
    let mut response = InvoicesResponse {
        rc: 0,
        message: "No pending invoices".into(),
        additional_data: Vec::new(),
        pending_invoices: 0,
        amount_to_send_x100: 0,
        destination_amount_x100: 0,
        service_fee_x100: 0,
        total_amount_x100: 0,
        destination_currency: currency.map(|c| c.code().to_string()).unwrap_or_default(),
        items,
        payment_type: payment_type_name(payment_type).into(),
    };
    if let (Some(cur), false) = (currency, shown.payable.is_empty()) {
        let fee_x100 = op.settings.postpaid_fee_x100;
        let fee = from_x100(fee_x100, cur).ok_or_else(|| {
            system_error(
                &format!("postpaid.fee_x100 {fee_x100} is not a whole amount of {cur}"),
                "reading the fee",
            )
        })?;
        let total: i64 = shown.payable.iter().map(|b| b.outstanding()).sum();
        let destination = x(total, cur)?;
        let with_fee = x(total + fee, cur)?;
        let new = NewPostpaidCode {
            channel_id: network.channel_id,
            organization_id: op.org.id,
            terminal_id: i64::from(terminal_id),
            account_id: account.id,
            bill_ids: shown.payable.iter().map(|b| b.id).collect(),
            total,
            fee,
            payment_type,
            currency: cur.code().into(),
            ttl: time::Duration::seconds(op.settings.postpaid_code_ttl_seconds),
            local_date: now.to_offset(offset).date(),
        };
        let code = state
            .run(move |s| s.create_postpaid_code(&new, now))
            .await
            .map_err(|e| system_error(&e, "issuing a transaction code"))?;
        response.message = "Pending invoices retrieved successfully".into();
        response.additional_data = vec![KeyValue {
            key: TRANSACTION_CODE.into(),
            value: code.code,
        }];
        response.pending_invoices = shown.payable.len() as i64;
        response.amount_to_send_x100 = with_fee;
        response.destination_amount_x100 = destination;
        response.service_fee_x100 = fee_x100;
        response.total_amount_x100 = with_fee;
    }
    Ok(HttpResponse::Ok().json(response))
}

// ----------------------------------------------------------------------------------------------
// What the payment and revert routes read first

/// The channel reference of a terminal transaction: terminal, reference and the local date of
/// `localDateTime` as sent.
fn channel_ref(terminal_id: i32, local_reference: i32, date: &str) -> String {
    format!("{terminal_id}:{local_reference}:{date}")
}

/// What must be identical for a repeat: the route, the operator and the body.
fn request_hash(kind: &str, operator_id: i32, body: &Value) -> String {
    fingerprint(&[kind, &operator_id.to_string(), &canonical(body)])
}

/// The path, the body and `localDateTime` of a payment or revert, read leniently.
struct TransactionRequest {
    errors: FieldErrors,
    terminal_id: Option<i32>,
    operator_id: Option<i32>,
    local_reference: Option<i32>,
    value: Option<Value>,
    /// The body's fields (empty when the body is not an object).
    object: Map<String, Value>,
    local_date_time: Option<String>,
    /// The date part of `localDateTime`, as sent.
    date: Option<String>,
}

impl TransactionRequest {
    fn read(path: &(String, String, String), body: &[u8]) -> TransactionRequest {
        let mut errors = FieldErrors::new();
        let terminal_id = path_int(&mut errors, "terminalId", &path.0);
        let operator_id = path_int(&mut errors, "operatorId", &path.1);
        let local_reference = reference(&mut errors, "localReference", &path.2);
        let value = json_body(&mut errors, body);
        let object = match &value {
            Some(Value::Object(o)) => o.clone(),
            Some(_) => {
                errors.add("body", "must be a JSON object");
                Map::new()
            }
            None => Map::new(),
        };
        let local_date_time = required_string(&mut errors, &object, "localDateTime");
        let date = local_date_time.as_deref().and_then(local_date);
        if local_date_time.is_some() && date.is_none() {
            errors.add(
                "localDateTime",
                "must be an ISO 8601 date and time (2025-07-03T10:15:00Z)",
            );
        }
        TransactionRequest {
            errors,
            terminal_id,
            operator_id,
            local_reference,
            value,
            object,
            local_date_time,
            date,
        }
    }

    /// The channel reference and request fingerprint, when the request names them (checked
    /// before anything else).
    fn key(
        (terminal_id, operator_id, local_reference): (Option<i32>, Option<i32>, Option<i32>),
        date: &Option<String>,
        value: &Option<Value>,
        kind: &str,
    ) -> Option<(String, String)> {
        let (t, o, r, d, v) = (
            terminal_id?,
            operator_id?,
            local_reference?,
            date.as_deref()?,
            value.as_ref()?,
        );
        Some((channel_ref(t, r, d), request_hash(kind, o, v)))
    }
}

// ----------------------------------------------------------------------------------------------
// Payment

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

fn result_item(p: &Payment, code: ResultCode, message: &str) -> ResultItem {
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

fn transaction(code: ResultCode, item: ResultItem) -> HttpResponse {
    HttpResponse::Ok().json(TransactionResponse {
        rc: code.rc(),
        items: vec![item],
    })
}

fn payment_accepted(p: &Payment) -> HttpResponse {
    transaction(
        ResultCode::Ok,
        result_item(p, ResultCode::Ok, "Payment successful"),
    )
}

/// `POST /post-paid/bill-payment/payment/{terminalId}/{operatorId}/{localReference}`
pub async fn payment(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let network = match auth::authenticate(&state, &req).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    respond(payment_inner(&state, &network, &path, &body).await)
}

async fn payment_inner(
    state: &AppState,
    network: &Network,
    path: &(String, String, String),
    body: &[u8],
) -> Result<HttpResponse, Refusal> {
    let TransactionRequest {
        mut errors,
        terminal_id,
        operator_id,
        local_reference,
        value,
        object,
        local_date_time,
        date,
    } = TransactionRequest::read(path, body);
    let obj = &object;
    let channel = network.channel();

    // 1. Idempotency, before anything else.
    if let Some((cr, hash)) = TransactionRequest::key(
        (terminal_id, operator_id, local_reference),
        &date,
        &value,
        "payment",
    ) {
        let ch = channel.clone();
        let existing = state
            .run(move |s| s.payment_with_request_hash(&ch, &cr))
            .await
            .map_err(|e| system_error(&e, "looking a payment up"))?;
        match existing {
            Some((h, p)) if h == hash => return Ok(payment_accepted(&p)),
            Some(_) => return Err(Refusal::duplicate()),
            None => {}
        }
    }
    // 2. The signature may pay once.
    if let Err(resp) = auth::use_once(state, network).await {
        return Ok(resp);
    }
    // 3. Validation.
    let to_send = amount_x100(&mut errors, obj, "amountToSendX100");
    let destination = amount_x100(&mut errors, obj, "destinationAmountX100");
    let amount = match (to_send, destination) {
        (Some(_), Some(_)) => {
            errors.add("amountToSendX100", BOTH_AMOUNTS);
            None
        }
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => {
            if !errors.contains("amountToSendX100") && !errors.contains("destinationAmountX100") {
                errors.add(
                    "amountToSendX100",
                    "amountToSendX100 or destinationAmountX100 is required",
                );
            }
            None
        }
    };
    let pairs = key_values(&mut errors, "additionalData", obj.get("additionalData"));
    let invoice_numbers: Vec<String> = match obj.get("invoiceNumbers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => {
                    errors.add("invoiceNumbers", "must be a list of invoice references");
                    None
                }
            })
            .collect(),
        Some(_) => {
            errors.add("invoiceNumbers", "must be a list of invoice references");
            Vec::new()
        }
    };
    let beneficiary_phone = match obj.get("beneficiaryPhoneNumber") {
        Some(Value::String(s)) => s.trim().to_string(),
        _ => String::new(),
    };
    let (Some(terminal_id), Some(operator_id), Some(local_reference)) =
        (terminal_id, operator_id, local_reference)
    else {
        return Err(invalid(&errors));
    };
    let op = operator(state, network, operator_id).await?;
    let values = check_keys(
        &mut errors,
        "additionalData",
        &pairs,
        &op.fields.pay_names(),
        &op.fields,
    );
    let (Some(amount), Some(local_date_time), Some(date), Some(value), true) =
        (amount, local_date_time, date, value, errors.is_empty())
    else {
        return Err(invalid(&errors));
    };

    // 4. The account, the code and the amount.
    let account_code = values
        .get(&op.fields.account_field().name)
        .cloned()
        .unwrap_or_default();
    let code = values.get(TRANSACTION_CODE).cloned().unwrap_or_default();
    let org_id = op.org.id;
    let (ac, cc) = (account_code.clone(), code.clone());
    let (account, stored) = state
        .run(move |s| Ok((s.account_by_code(org_id, &ac)?, s.postpaid_code(&cc)?)))
        .await
        .map_err(|e| system_error(&e, "reading the account"))?;
    let Some(account) = account else {
        return Err(Refusal::rejected(
            "Unknown account: no customer with this code",
        ));
    };
    let holder = CodeHolder {
        channel_id: network.channel_id,
        organization_id: org_id,
        terminal_id: i64::from(terminal_id),
        account_id: account.id,
    };
    let now = state.now();
    let Some(stored) = stored else {
        return Err(from_code_problem(
            billhub_store::postpaid::CodeProblem::Unknown,
        ));
    };
    stored.check(&holder, now).map_err(from_code_problem)?;
    let currency = Currency::from_code(&stored.currency)
        .map_err(|e| system_error(&e, "reading the code's currency"))?;
    let fee = stored.fee;
    let Some(sent) = from_x100(amount, currency) else {
        return Err(Refusal::invalid(format!(
            "the amount has more decimals than {currency} allows"
        ))
        .with_currency(currency));
    };
    if sent <= fee {
        return Err(from_rejection(&Rejection::NonPositiveAmount, fee, currency));
    }
    let target = match stored.payment_type {
        SettlementMode::Total => {
            if sent != stored.total + fee {
                return Err(from_rejection(
                    &Rejection::MustEqualOutstanding {
                        outstanding: stored.total,
                    },
                    fee,
                    currency,
                ));
            }
            PaymentTarget::Account {
                account_id: account.id,
                mode: Some(SettlementMode::Discrete),
                chosen: Some(stored.bill_ids.clone()),
            }
        }
        SettlementMode::Discrete => {
            if invoice_numbers.is_empty() {
                return Err(
                    Refusal::invalid("invoiceNumbers is required for a DISCRETE payment")
                        .with_currency(currency),
                );
            }
            let listed = stored.bill_ids.clone();
            let account_id = account.id;
            let bills = state
                .run(move |s| s.bills_of_account(account_id))
                .await
                .map_err(|e| system_error(&e, "reading invoices"))?;
            let mut chosen = Vec::new();
            for number in &invoice_numbers {
                let matching: Vec<i64> = listed
                    .iter()
                    .copied()
                    .filter(|id| {
                        bills
                            .iter()
                            .any(|b| b.id == *id && &b.invoice_number == number)
                    })
                    .collect();
                if matching.is_empty() {
                    return Err(Refusal::rejected(format!(
                        "Invoice {number} was not listed as payable with this transaction_code"
                    ))
                    .with_currency(currency));
                }
                chosen.extend(
                    matching
                        .into_iter()
                        .filter(|id| !chosen.contains(id))
                        .collect::<Vec<_>>(),
                );
            }
            PaymentTarget::Account {
                account_id: account.id,
                mode: Some(SettlementMode::Discrete),
                chosen: Some(chosen),
            }
        }
        SettlementMode::Open => PaymentTarget::Account {
            account_id: account.id,
            mode: Some(SettlementMode::Open),
            chosen: None,
        },
    };
    let amount_field = if to_send.is_some() {
        "amountToSendX100"
    } else {
        "destinationAmountX100"
    };
    let fields: BTreeMap<&String, &String> = values
        .iter()
        .filter(|(k, _)| *k != TRANSACTION_CODE)
        .collect();
    let details = serde_json::json!({
        "terminalId": terminal_id,
        "localReference": local_reference,
        "localDateTime": local_date_time,
        "transactionCode": code,
        "paymentType": payment_type_name(stored.payment_type),
        "amountField": amount_field,
        "amountX100": amount,
        "fields": fields,
        "invoiceNumbers": invoice_numbers,
        "beneficiaryPhoneNumber": beneficiary_phone,
    });
    let request = PaymentRequest {
        organization_id: org_id,
        channel,
        channel_ref: channel_ref(terminal_id, local_reference, &date),
        request_hash: request_hash("payment", operator_id, &value),
        target,
        amount: Money::from_minor(sent - fee, currency),
        fee,
        method: "terminal".into(),
        payer_name: account.name.clone(),
        details: details.to_string(),
        paid_at: now,
        on_rejection: OnRejection::Refuse,
    };
    let posting = state
        .run(move |s| s.post_postpaid_payment(&code, &holder, &request, now))
        .await
        .map_err(|e| from_store(&e, fee, currency, "posting a payment"))?;
    match posting {
        PostpaidPosting::Posted(outcome) => match outcome.result {
            PostResult::Posted(p) => Ok(payment_accepted(&p)),
            PostResult::Unapplied(u) => Err(system_error(
                &format!("payment recorded as unapplied ({})", u.id),
                "posting a payment",
            )),
        },
        PostpaidPosting::CodeRefused(problem) => {
            Err(from_code_problem(problem).with_currency(currency))
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Revert

fn revert_accepted(p: &Payment) -> HttpResponse {
    transaction(
        ResultCode::RevertOk,
        result_item(p, ResultCode::RevertOk, "Revert successful"),
    )
}

/// `POST /util/revert/{terminalId}/{operatorId}/{localReference}`
pub async fn revert(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let network = match auth::authenticate(&state, &req).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    respond(revert_inner(&state, &network, &path, &body).await)
}

async fn revert_inner(
    state: &AppState,
    network: &Network,
    path: &(String, String, String),
    body: &[u8],
) -> Result<HttpResponse, Refusal> {
    let TransactionRequest {
        mut errors,
        terminal_id,
        operator_id,
        local_reference,
        value,
        object,
        local_date_time: _,
        date,
    } = TransactionRequest::read(path, body);
    let obj = &object;
    let channel = network.channel();

    // 1. Idempotency.
    if let Some((cr, hash)) = TransactionRequest::key(
        (terminal_id, operator_id, local_reference),
        &date,
        &value,
        "revert",
    ) {
        let ch = channel.clone();
        let existing = state
            .run(move |s| s.reversal_with_request_hash(&ch, &cr))
            .await
            .map_err(|e| system_error(&e, "looking a revert up"))?;
        match existing {
            Some(r) if r.request_hash == hash => return Ok(revert_accepted(&r.payment)),
            Some(_) => return Err(Refusal::duplicate()),
            None => {}
        }
    }
    // 2. The signature may revert once.
    if let Err(resp) = auth::use_once(state, network).await {
        return Ok(resp);
    }
    // 3. Validation.
    let amount = amount_x100(&mut errors, obj, "amountToSendX100");
    if amount.is_none() && !errors.contains("amountToSendX100") {
        errors.add("amountToSendX100", "is required");
    }
    let account_code = required_string(&mut errors, obj, "account");
    let original = match obj.get("originalLocalReference") {
        Some(Value::Number(n)) => reference(&mut errors, "originalLocalReference", &n.to_string()),
        Some(Value::String(s)) => reference(&mut errors, "originalLocalReference", s.trim()),
        _ => {
            errors.add("originalLocalReference", "is required");
            None
        }
    };
    let original_date = required_string(&mut errors, obj, "originalLocalDate");
    if let Some(d) = &original_date
        && parse_iso_date(d).is_none()
    {
        errors.add("originalLocalDate", "must be a date as yyyy-MM-dd");
    }
    let (Some(terminal_id), Some(operator_id), Some(local_reference)) =
        (terminal_id, operator_id, local_reference)
    else {
        return Err(invalid(&errors));
    };
    let op = operator(state, network, operator_id).await?;
    let (
        Some(amount),
        Some(account_code),
        Some(original),
        Some(original_date),
        Some(date),
        Some(value),
        true,
    ) = (
        amount,
        account_code,
        original,
        original_date,
        date,
        value,
        errors.is_empty(),
    )
    else {
        return Err(invalid(&errors));
    };

    // 4. The original payment.
    let (ch, cr) = (
        channel.clone(),
        format!("{terminal_id}:{original}:{original_date}"),
    );
    let found = state
        .run(move |s| {
            let Some((_, p)) = s.payment_with_request_hash(&ch, &cr)? else {
                return Ok(None);
            };
            let code = match p.account_id {
                Some(id) => s.account(id)?.code,
                None => String::new(),
            };
            Ok(Some((p, code)))
        })
        .await
        .map_err(|e| system_error(&e, "looking the original payment up"))?;
    let Some((original_payment, original_account)) =
        found.filter(|(p, _)| p.organization_id == op.org.id)
    else {
        return Err(Refusal::rejected(format!(
            "Original transaction {original} of {original_date} not found for this terminal and operator"
        )));
    };
    let currency = original_payment.currency;
    if original_account != account_code {
        return Err(
            Refusal::rejected("The account does not match the original transaction")
                .with_currency(currency),
        );
    }
    if to_x100(original_payment.amount + original_payment.fee, currency) != Some(amount) {
        return Err(from_rejection(
            &Rejection::ReversalAmountMismatch,
            0,
            currency,
        ));
    }
    let hours = op.settings.postpaid_revert_window_hours;
    if hours == 0 {
        return Err(
            Refusal::rejected("Reverts are not allowed for this operator").with_currency(currency),
        );
    }
    let request = ReversalRequest {
        organization_id: op.org.id,
        payment_id: original_payment.id,
        channel,
        channel_ref: channel_ref(terminal_id, local_reference, &date),
        request_hash: request_hash("revert", operator_id, &value),
        reason: format!("postpaid revert by terminal {terminal_id}"),
        window: Some(time::Duration::hours(hours)),
    };
    let now = state.now();
    let outcome = state
        .run(move |s| s.reverse_payment(&request, now))
        .await
        .map_err(|e| from_store(&e, 0, currency, "reverting a payment"))?;
    Ok(revert_accepted(&outcome.payment))
}

// ----------------------------------------------------------------------------------------------
// Transaction info and ping

/// `GET /util/transaction/info/{terminalId}/{originalLocalReference}/{creationDate}`
pub async fn transaction_info(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let network = match auth::authenticate(&state, &req).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    respond(transaction_info_inner(&state, &network, &path).await)
}

async fn transaction_info_inner(
    state: &AppState,
    network: &Network,
    path: &(String, String, String),
) -> Result<HttpResponse, Refusal> {
    let mut errors = FieldErrors::new();
    let terminal_id = path_int(&mut errors, "terminalId", &path.0);
    let original = reference(&mut errors, "originalLocalReference", &path.1);
    let date = parse_compact_date(&path.2);
    if date.is_none() {
        errors.add("creationDate", "must be a date as yyyyMMdd or ddMMyyyy");
    }
    let (Some(terminal_id), Some(original), Some(date)) = (terminal_id, original, date) else {
        return Err(invalid(&errors));
    };
    let (ch, cr) = (
        network.channel(),
        format!("{terminal_id}:{original}:{}", iso_date(date)),
    );
    let found = state
        .run(move |s| s.payment_with_request_hash(&ch, &cr))
        .await
        .map_err(|e| system_error(&e, "looking a payment up"))?;
    let Some((_, p)) = found else {
        return Err(Refusal::invalid(format!(
            "no transaction {original} of terminal {terminal_id} on {}",
            iso_date(date)
        )));
    };
    Ok(if p.reversed.is_some() {
        transaction(
            ResultCode::Ok,
            result_item(&p, ResultCode::RevertOk, "Transaction reverted"),
        )
    } else {
        payment_accepted(&p)
    })
}

async fn ping_answer(state: &AppState, req: &HttpRequest, message: String) -> HttpResponse {
    if auth::has_credentials(req)
        && let Err(r) = auth::authenticate(state, req).await
    {
        return r;
    }
    HttpResponse::Ok().json(PingResponse { rc: 0, message })
}

/// `GET /ping`: no credentials needed; `U`/`ST`/`SH`, when sent, are checked.
pub async fn ping(state: State, req: HttpRequest) -> HttpResponse {
    ping_answer(&state, &req, "pong".into()).await
}

/// `GET /ping/{echo}`: answers the echo.
pub async fn ping_echo(state: State, req: HttpRequest, echo: web::Path<String>) -> HttpResponse {
    ping_answer(&state, &req, echo.into_inner()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates() {
        assert_eq!(parse_compact_date("20250703"), Some(date!(2025 - 07 - 03)));
        assert_eq!(parse_compact_date("03072025"), Some(date!(2025 - 07 - 03)));
        assert_eq!(parse_compact_date("01022020"), Some(date!(2020 - 02 - 01)));
        assert_eq!(parse_compact_date("2025073"), None);
        assert_eq!(parse_compact_date("99999999"), None);
        assert_eq!(
            local_date("2025-07-03T10:15:00Z").as_deref(),
            Some("2025-07-03")
        );
        assert_eq!(
            local_date("2025-07-03T23:15:00-05:00").as_deref(),
            Some("2025-07-03")
        );
        assert_eq!(
            local_date("2025-07-03T10:15:00.250").as_deref(),
            Some("2025-07-03")
        );
        assert_eq!(local_date("2025-07-03"), None);
        assert_eq!(local_date("yesterday"), None);
    }

    #[test]
    fn canonical_json() {
        let a: Value =
            serde_json::from_str(r#"{"b": [1, {"y": 2, "x": "1"}], "a": 5000}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":5000,"b":[1,{"x":"1","y":2}]}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(canonical(&a), r#"{"a":5000,"b":[1,{"x":"1","y":2}]}"#);
    }

    #[test]
    fn path_integers() {
        let mut e = FieldErrors::new();
        assert_eq!(path_int(&mut e, "a", "12"), Some(12));
        assert_eq!(path_int(&mut e, "b", "2147483648"), None);
        assert_eq!(path_int(&mut e, "c", "-1"), None);
        assert_eq!(path_int(&mut e, "d", "x"), None);
        assert_eq!(reference(&mut e, "e", "123456789"), Some(123456789));
        assert_eq!(reference(&mut e, "f", "1234567890"), None);
        assert_eq!(e.len(), 4);
    }
}
