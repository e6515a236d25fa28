//! Thin handlers: authenticate (over the raw body), parse leniently collecting every bad field,
//! call the store on the blocking pool, render the envelope.

use actix_web::web::{self, Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use billhub_core::{Bill, Currency, LineItem, Money, Rejection};
use billhub_http::json::{decimal_text, money_from_number_or_string};
use billhub_http::validation::Lenient;
use billhub_http::{AppState, FieldErrors, PlumbingError};
use billhub_store::repo::va::{
    VaBillFilter, VaBillOrder, VaPaymentFilter, VaPaymentOrder, VaPaymentRow, VaStatusFilter,
};
use billhub_store::{
    AccountInput, NewBill, NewItem, OnRejection, PaymentRequest, PaymentTarget, ReversalRequest,
    StoreError, fingerprint,
};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};
use time::{OffsetDateTime, UtcOffset};

use crate::auth;
use crate::codes::{Rc, VaError, from_rejection, from_store};
use crate::wire::{
    BillData, DEFAULT_OFFSET, Envelope, Paginated, bill_after, bill_data, iso, parse_iso,
    parse_local, payment_data, rule_of,
};

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

pub fn configure(cfg: &mut web::ServiceConfig) {
    let resource =
        |path: &str| web::resource(path.to_string()).default_service(web::to(not_allowed));
    cfg.service(resource("/oauth/token").route(web::post().to(token)))
        .service(
            resource("/api/v2/gw/bill")
                .route(web::post().to(create_bill))
                .route(web::get().to(list_bills)),
        )
        .service(
            resource("/api/v2/gw/bill/{hash}")
                .route(web::get().to(show_bill))
                .route(web::delete().to(revoke_bill)),
        )
        .service(resource("/api/v2/gw/bill/{hash}/payment").route(web::get().to(bill_payments)))
        .service(resource("/api/v2/gw/bill/{hash}/mock").route(web::post().to(mock)))
        .service(resource("/api/v2/gw/payment").route(web::get().to(list_payments)))
        .service(resource("/api/v2/ch/inquiry").route(web::post().to(inquiry)))
        .service(resource("/api/v2/ch/payment").route(web::post().to(pay)))
        .service(resource("/api/v2/ch/reversal").route(web::post().to(reverse)));
}

async fn not_allowed() -> HttpResponse {
    crate::render_plumbing(&PlumbingError::MethodNotAllowed)
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// A success envelope.
fn success<T: Serialize>(
    message: &str,
    offset: UtcOffset,
    now: OffsetDateTime,
    data: T,
) -> HttpResponse {
    HttpResponse::Ok().json(Envelope {
        rc: Rc::Success.code(),
        message: message.to_string(),
        timestamp: iso(now, offset),
        data,
    })
}

/// A refusal envelope (`data` lists the failing fields of a validation error, else null).
pub fn refusal(err: VaError, offset: UtcOffset, now: OffsetDateTime) -> HttpResponse {
    let rc = err.rc();
    let (message, data) = match err {
        VaError::Code(_, m) => (m, Value::Null),
        VaError::Validation(fields) => (
            rc.message().to_string(),
            serde_json::to_value(&fields).unwrap_or(Value::Null),
        ),
        VaError::Internal(cause) => {
            tracing::error!(error = %cause, "va request failed");
            (rc.message().to_string(), Value::Null)
        }
    };
    HttpResponse::build(rc.status()).json(Envelope {
        rc: rc.code(),
        message,
        timestamp: iso(now, offset),
        data,
    })
}

/// Renders a handler's result; `offset` is the organization's once known.
fn finish(
    result: Result<HttpResponse, VaError>,
    offset: UtcOffset,
    now: OffsetDateTime,
) -> HttpResponse {
    match result {
        Ok(r) => r,
        Err(e) => refusal(e, offset, now),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers

fn json_object(body: &[u8]) -> Result<Map<String, Value>, VaError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(VaError::field(
            "body",
            "The request body must be a JSON object.",
        )),
    }
}

fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, VaError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .map_err(|_| VaError::field("query", "The query string cannot be read."))
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

/// `date.0` / `date.1` (also `date[0]` / `date[1]`): `Y-m-d` (local days of the organization,
/// both inclusive) or ISO 8601 instants.
fn date_range(
    pairs: &[(String, String)],
    offset: UtcOffset,
    e: &mut FieldErrors,
) -> (Option<OffsetDateTime>, Option<OffsetDateTime>) {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    let parse = |field: &str, names: &[&str], end: bool, e: &mut FieldErrors| {
        let text = query_get(pairs, names)?;
        if let Ok(d) = time::Date::parse(text, day) {
            let start = time::PrimitiveDateTime::new(d, time::Time::MIDNIGHT).assume_offset(offset);
            return Some(if end {
                start + time::Duration::days(1)
            } else {
                start
            });
        }
        match parse_iso(text) {
            Some(t) if end => Some(t + time::Duration::seconds(1)),
            Some(t) => Some(t),
            None => {
                e.add(
                    field,
                    format!("The {field} must be a date (Y-m-d) or an ISO 8601 date."),
                );
                None
            }
        }
    };
    let from = parse("date.0", &["date.0", "date[0]"], false, e);
    let to = parse("date.1", &["date.1", "date[1]"], true, e);
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

// ---------------------------------------------------------------------------------------------
// OAuth

async fn token(state: Data<AppState>, req: HttpRequest, body: Bytes) -> HttpResponse {
    auth::issue_token(&state, &req, &body).await
}

// ---------------------------------------------------------------------------------------------
// Biller API

async fn create_bill(state: Data<AppState>, req: HttpRequest, body: Bytes) -> HttpResponse {
    let now = state.now();
    let mut offset = DEFAULT_OFFSET;
    let r = create_bill_inner(&state, &req, &body, now, &mut offset).await;
    finish(r, offset, now)
}

/// A validated create request.
struct NewVaBill {
    account: AccountInput,
    bill: NewBill,
}

fn validate_create(
    obj: &Map<String, Value>,
    org: &billhub_core::org::Organization,
    prefixes: &[String],
    now: OffsetDateTime,
) -> Result<NewVaBill, FieldErrors> {
    let l = Lenient::new(obj, "");
    let mut e = FieldErrors::new();

    let va_number = l.string(&mut e, "va_number", true, false);
    if let Some(v) = &va_number
        && !is_digits(v, 10)
    {
        e.add("va_number", "The va_number must be exactly 10 digits.");
    }
    let invoice_number = optional_string(&l, &mut e, "invoice_number", 64);
    // `channel` is deprecated: accepted and ignored.

    // (position in the request, prefix)
    let mut chosen: Vec<(usize, String)> = Vec::new();
    match l.get("prefix") {
        None => e.add("prefix", "The prefix field is required."),
        Some(Value::String(p)) => chosen.push((0, p.trim().to_string())),
        Some(Value::Array(items)) if items.is_empty() => {
            e.add("prefix", "The prefix field is required.")
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(p) => chosen.push((i, p.trim().to_string())),
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
    let single = matches!(l.get("prefix"), Some(Value::String(_)));
    for (k, (i, p)) in chosen.iter().enumerate() {
        let field = if single {
            "prefix".to_string()
        } else {
            format!("prefix.{i}")
        };
        if !is_digits(p, 6) {
            e.add(&field, format!("The {field} must be exactly 6 digits."));
        } else if !prefixes.contains(p) {
            e.add(
                field,
                format!("The prefix {p} is not one of the institution's VA prefixes."),
            );
        } else if chosen[..k].iter().any(|(_, q)| q == p) {
            e.add(&field, format!("The {field} field has a duplicate value."));
        }
    }

    let name = required_string(&l, &mut e, "name", 255);
    if let Some(code) = l.string(&mut e, "institution_code", true, false)
        && code != org.code
    {
        e.add(
            "institution_code",
            "The institution_code does not match the credential's institution.",
        );
    }
    let rule = match l.string(&mut e, "type", true, false) {
        Some(t) => match rule_of(&t) {
            Some(r) => Some(r),
            None => {
                e.add(
                    "type",
                    "The selected type is invalid (close, open or partial).",
                );
                None
            }
        },
        None => None,
    };
    let valid_until = match l.string(&mut e, "valid_until", false, true) {
        Some(text) if text.trim().is_empty() => None,
        Some(text) => match parse_iso(&text) {
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
        },
        None => None,
    };
    let total = amount(&l, &mut e, "total_amount", true);
    if let Some(t) = total
        && t.minor() <= 0
    {
        e.add("total_amount", "The total_amount must be greater than 0.");
    }

    // Components: each total = qty x price exactly; their sum is the total_amount.
    let mut items: Vec<NewItem> = Vec::new();
    let mut components_ok = true;
    let components: &[Value] = match l.get("components") {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(_) => {
            e.add("components", "The components must be an array.");
            components_ok = false;
            &[]
        }
    };
    for (i, c) in components.iter().enumerate() {
        let Value::Object(co) = c else {
            e.add(
                format!("components.{i}"),
                format!("The components.{i} must be an object."),
            );
            components_ok = false;
            continue;
        };
        let cl = Lenient::new(co, &format!("components.{i}"));
        let before = e.len();
        let cname = cl.string(&mut e, "name", true, false);
        let qty = match cl.get("qty") {
            None => {
                e.add(cl.path("qty"), "The qty field is required.");
                None
            }
            Some(v) => match decimal_text(v).and_then(|t| {
                t.parse::<Decimal>()
                    .ok()
                    .or_else(|| Decimal::from_scientific(&t).ok())
            }) {
                Some(q) if q > Decimal::ZERO => Some(q),
                Some(_) => {
                    e.add(cl.path("qty"), "The qty must be greater than 0.");
                    None
                }
                None => {
                    e.add(cl.path("qty"), "The qty must be a number.");
                    None
                }
            },
        };
        let price = amount(&cl, &mut e, "price", true);
        if let Some(p) = price
            && p.minor() < 0
        {
            e.add(cl.path("price"), "The price must not be negative.");
        }
        let ctotal = amount(&cl, &mut e, "total", true);
        if e.len() != before {
            components_ok = false;
            continue;
        }
        if let (Some(n), Some(q), Some(p), Some(t)) = (cname, qty, price, ctotal) {
            match LineItem::new(n.trim(), q, p, Some(t)) {
                Ok(item) => items.push(NewItem {
                    name: item.name,
                    quantity: item.quantity,
                    unit_price: item.unit_price.minor(),
                    total: item.total.minor(),
                    product_id: None,
                }),
                Err(err) => {
                    components_ok = false;
                    let field = match err {
                        billhub_core::bill::LineItemError::TotalMismatch { .. } => "total",
                        _ => "qty",
                    };
                    e.add(cl.path(field), format!("Invalid component: {err}."));
                }
            }
        } else {
            components_ok = false;
        }
    }
    if components_ok && !items.is_empty() {
        let sum = items
            .iter()
            .try_fold(0i64, |acc, i| acc.checked_add(i.total));
        match (sum, total) {
            (Some(s), Some(t)) if s != t.minor() => e.add(
                "total_amount",
                format!(
                    "The total_amount must equal the sum of the components' totals ({}).",
                    Money::from_minor(s, Currency::IDR).to_plain_string()
                ),
            ),
            (None, _) => e.add("components", "The components' totals are too large."),
            _ => {}
        }
    }

    let customer_name = required_string(&l, &mut e, "customer_name", 255);
    let customer_email = optional_string(&l, &mut e, "customer_email", 255);
    let customer_phone = optional_string(&l, &mut e, "customer_phone", 64);
    let customer_address = optional_string(&l, &mut e, "customer_address", 1000);
    let description = optional_string(&l, &mut e, "description", 2000);
    let ext_description = optional_string(&l, &mut e, "ext_description", 2000);

    if !e.is_empty() {
        return Err(e);
    }
    let (Some(va_number), Some(name), Some(rule), Some(total), Some(customer_name)) =
        (va_number, name, rule, total, customer_name)
    else {
        e.add("body", "The request is incomplete.");
        return Err(e);
    };
    let extra = serde_json::json!({
        "va": {
            "customer_name": customer_name,
            "customer_email": customer_email,
            "customer_phone": customer_phone,
            "customer_address": customer_address,
            "ext_description": ext_description,
        }
    })
    .to_string();
    let local = org.utc_offset;
    Ok(NewVaBill {
        account: AccountInput {
            code: va_number.clone(),
            name: customer_name,
            phone: customer_phone.unwrap_or_default(),
            email: customer_email.unwrap_or_default(),
            address: customer_address.unwrap_or_default(),
            ..Default::default()
        },
        bill: NewBill {
            organization_id: org.id,
            account_id: 0,
            collection_id: None,
            invoice_number,
            ref1: String::new(),
            ref2: String::new(),
            name,
            description: description.unwrap_or_default(),
            currency: Currency::IDR,
            billed: total.minor(),
            items,
            bill_date: now.to_offset(local).date(),
            due_date: valid_until.map(|v| v.to_offset(local).date()),
            valid_until,
            rule,
            source: "va".into(),
            extra,
            va_numbers: chosen
                .into_iter()
                .map(|(_, p)| (p, va_number.clone()))
                .collect(),
        },
    })
}

async fn create_bill_inner(
    state: &AppState,
    req: &HttpRequest,
    body: &Bytes,
    now: OffsetDateTime,
    offset: &mut UtcOffset,
) -> Result<HttpResponse, VaError> {
    let caller = auth::biller(state, req, body).await?;
    *offset = caller.org.utc_offset;
    let obj = json_object(body)?;
    let org_id = caller.org.id;
    let prefixes = state
        .run(move |s| s.va_prefixes(org_id))
        .await
        .map_err(from_store)?;
    let new = validate_create(&obj, &caller.org, &prefixes, now)?;
    let created = state
        .run(move |s| {
            let (_, bill) = s.create_bill_for_account(&new.account, &new.bill, now)?;
            s.va_bill(bill.id)
        })
        .await;
    let v = match created {
        Ok(v) => v,
        Err(StoreError::Conflict(m)) => {
            return Err(VaError::with(Rc::VaNumberInUse, format!("{m}.")));
        }
        Err(StoreError::Invalid(m)) => return Err(VaError::field("body", m)),
        Err(e) => return Err(from_store(e)),
    };
    Ok(success(
        "success",
        *offset,
        now,
        bill_data(&v, *offset, now),
    ))
}

async fn list_bills(state: Data<AppState>, req: HttpRequest, body: Bytes) -> HttpResponse {
    let now = state.now();
    let mut offset = DEFAULT_OFFSET;
    let r = list_bills_inner(&state, &req, &body, now, &mut offset).await;
    finish(r, offset, now)
}

async fn list_bills_inner(
    state: &AppState,
    req: &HttpRequest,
    body: &Bytes,
    now: OffsetDateTime,
    offset: &mut UtcOffset,
) -> Result<HttpResponse, VaError> {
    let caller = auth::biller(state, req, body).await?;
    *offset = caller.org.utc_offset;
    let pairs = query_pairs(req)?;
    let mut e = FieldErrors::new();
    check_institution(&pairs, &caller.org.code, &mut e);
    let page = page_of(&pairs, &mut e);
    let (created_from, created_before) = date_range(&pairs, *offset, &mut e);
    let order = match query_get(&pairs, &["order_by"]).unwrap_or("created_at") {
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
    };
    let descending = descending(&pairs, &mut e);
    e.into_result()?;
    let q = query_get(&pairs, &["q"])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let lowered = q.as_deref().map(str::to_ascii_lowercase);
    let filter = VaBillFilter {
        rule: lowered
            .as_deref()
            .and_then(rule_of)
            .map(|r| r.name().to_string()),
        status: match lowered.as_deref() {
            Some("active") => Some(VaStatusFilter::Active),
            Some("reversal") => Some(VaStatusFilter::Reversal),
            Some("paid") => Some(VaStatusFilter::Paid),
            Some("void") => Some(VaStatusFilter::Void),
            Some("expired") => Some(VaStatusFilter::Expired),
            _ => None,
        },
        text: q,
        created_from,
        created_before,
        order,
        descending,
        offset: (page - 1) * PER_PAGE,
        limit: PER_PAGE,
    };
    let org_id = caller.org.id;
    let found = state
        .run(move |s| s.va_bills(org_id, &filter, now))
        .await
        .map_err(from_store)?;
    let off = *offset;
    let rows: Vec<BillData> = found.items.iter().map(|v| bill_data(v, off, now)).collect();
    Ok(success(
        "success",
        off,
        now,
        Paginated::new(page, PER_PAGE, found.total, rows),
    ))
}

/// The caller's bill by hash, or `BILL_NOT_FOUND`.
async fn find_bill(
    state: &AppState,
    org_id: i64,
    hash: String,
) -> Result<billhub_store::repo::va::VaBill, VaError> {
    state
        .run(move |s| s.va_bill_by_hash(org_id, &hash))
        .await
        .map_err(from_store)?
        .ok_or_else(|| VaError::code(Rc::BillNotFound))
}

async fn show_bill(
    state: Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    let now = state.now();
    let mut offset = DEFAULT_OFFSET;
    let r = async {
        let caller = auth::biller(&state, &req, &body).await?;
        offset = caller.org.utc_offset;
        let pairs = query_pairs(&req)?;
        let mut e = FieldErrors::new();
        check_institution(&pairs, &caller.org.code, &mut e);
        e.into_result()?;
        let v = find_bill(&state, caller.org.id, path.into_inner()).await?;
        Ok(success("success", offset, now, bill_data(&v, offset, now)))
    }
    .await;
    finish(r, offset, now)
}

async fn revoke_bill(
    state: Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    let now = state.now();
    let mut offset = DEFAULT_OFFSET;
    let r = async {
        let caller = auth::biller(&state, &req, &body).await?;
        offset = caller.org.utc_offset;
        let v = find_bill(&state, caller.org.id, path.into_inner()).await?;
        let bill_id = v.bill.id;
        let voided = state
            .run(move |s| {
                s.void_bill(bill_id, "revoked through the VA biller API", now)?;
                s.va_bill(bill_id)
            })
            .await;
        let v = match voided {
            Ok(v) => v,
            Err(StoreError::Rejected(Rejection::AlreadyPaid)) => {
                return Err(VaError::with(
                    Rc::BillAlreadyPaid,
                    "A paid bill cannot be revoked.",
                ));
            }
            Err(StoreError::Rejected(Rejection::Void)) => {
                return Err(VaError::with(Rc::BillVoid, "The bill is already revoked."));
            }
            Err(e) => return Err(from_store(e)),
        };
        Ok(success(
            "Billing revoked.",
            offset,
            now,
            bill_data(&v, offset, now),
        ))
    }
    .await;
    finish(r, offset, now)
}

async fn bill_payments(
    state: Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    let now = state.now();
    let mut offset = DEFAULT_OFFSET;
    let r = async {
        let caller = auth::biller(&state, &req, &body).await?;
        offset = caller.org.utc_offset;
        let pairs = query_pairs(&req)?;
        let mut e = FieldErrors::new();
        check_institution(&pairs, &caller.org.code, &mut e);
        e.into_result()?;
        let v = find_bill(&state, caller.org.id, path.into_inner()).await?;
        let bill_id = v.bill.id;
        let rows = state
            .run(move |s| s.va_payments_of_bill(bill_id))
            .await
            .map_err(from_store)?;
        let data: Vec<_> = rows
            .iter()
            .map(|r| payment_data(r, offset, now, false))
            .collect();
        Ok(success("success", offset, now, data))
    }
    .await;
    finish(r, offset, now)
}

async fn list_payments(state: Data<AppState>, req: HttpRequest, body: Bytes) -> HttpResponse {
    let now = state.now();
    let mut offset = DEFAULT_OFFSET;
    let r = async {
        let caller = auth::biller(&state, &req, &body).await?;
        offset = caller.org.utc_offset;
        let pairs = query_pairs(&req)?;
        let mut e = FieldErrors::new();
        check_institution(&pairs, &caller.org.code, &mut e);
        let page = page_of(&pairs, &mut e);
        let (created_from, created_before) = date_range(&pairs, offset, &mut e);
        let va_number = query_get(&pairs, &["va_number"]).map(str::to_string);
        if let Some(v) = &va_number
            && !(is_digits(v, 10) || is_digits(v, 16))
        {
            e.add("va_number", "The va_number must be 10 or 16 digits.");
        }
        let kind = query_get(&pairs, &["type"]).map(str::to_string);
        if let Some(k) = &kind
            && k != "payment"
            && k != "reversal"
        {
            e.add(
                "type",
                "The selected type is invalid (payment or reversal).",
            );
        }
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
        let org_id = caller.org.id;
        let found = state
            .run(move |s| s.va_payments(org_id, &filter))
            .await
            .map_err(from_store)?;
        let rows: Vec<_> = found
            .items
            .iter()
            .map(|r| payment_data(r, offset, now, true))
            .collect();
        Ok(success(
            "success",
            offset,
            now,
            Paginated::new(page, PER_PAGE, found.total, rows),
        ))
    }
    .await;
    finish(r, offset, now)
}

/// Sandbox only: a payment or reversal on the bill, through the same store path as a bank's
/// (channel `sandbox`).
async fn mock(
    state: Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    if !state.config.sandbox {
        return crate::render_plumbing(&PlumbingError::NotFound);
    }
    let now = state.now();
    let mut offset = DEFAULT_OFFSET;
    let r = async {
        let caller = auth::biller(&state, &req, &body).await?;
        offset = caller.org.utc_offset;
        let obj = json_object(&body)?;
        let l = Lenient::new(&obj, "");
        let mut e = FieldErrors::new();
        let kind = l.string(&mut e, "type", true, false);
        if let Some(k) = &kind
            && k != "payment"
            && k != "reversal"
        {
            e.add(
                "type",
                "The selected type is invalid (payment or reversal).",
            );
        }
        let amount = amount(&l, &mut e, "amount", kind.as_deref() == Some("payment"));
        let reference = optional_string(&l, &mut e, "ref_id", 64);
        let payment_ref = optional_string(&l, &mut e, "payment_ref", 64);
        e.into_result()?;
        let v = find_bill(&state, caller.org.id, path.into_inner()).await?;
        let bill = v.bill.clone();
        let row = if kind.as_deref() == Some("payment") {
            let amount =
                amount.ok_or_else(|| VaError::field("amount", "The amount field is required."))?;
            let reference = reference.unwrap_or_else(|| format!("mock-{}", uuid::Uuid::new_v4()));
            let request = PaymentRequest {
                organization_id: bill.organization_id,
                channel: "sandbox".into(),
                channel_ref: reference.clone(),
                request_hash: fingerprint(&[
                    "va-mock",
                    &bill.public_no,
                    &amount.minor().to_string(),
                ]),
                target: PaymentTarget::Bill { bill_id: bill.id },
                amount,
                fee: 0,
                method: "sandbox".into(),
                payer_name: String::new(),
                details: serde_json::json!({ "mock": true, "ref_id": reference }).to_string(),
                paid_at: now,
                on_rejection: OnRejection::Refuse,
            };
            post_and_row(&state, request, bill.id, now).await?
        } else {
            let bill_id = bill.id;
            let found = state
                .run(move |s| match payment_ref {
                    Some(r) => {
                        let p = s.payment_by_channel_ref("sandbox", &r)?;
                        Ok(p.filter(|p| p.allocations.iter().any(|a| a.bill_id == bill_id)))
                    }
                    None => s.va_latest_unreversed_payment(bill_id),
                })
                .await
                .map_err(from_store)?;
            let payment = found.ok_or_else(|| VaError::code(Rc::PaymentNotFound))?;
            if let Some(a) = amount
                && a.minor() != payment.amount
            {
                return Err(from_rejection(&Rejection::ReversalAmountMismatch));
            }
            let request = ReversalRequest {
                organization_id: bill.organization_id,
                payment_id: payment.id,
                channel: "sandbox".into(),
                channel_ref: format!("mock-reversal-{}", payment.uid),
                request_hash: fingerprint(&["va-mock-reversal", &payment.uid]),
                reason: "sandbox mock reversal".into(),
                window: None,
            };
            reverse_and_row(&state, request, bill.id, now).await?
        };
        Ok(success(
            "success",
            offset,
            now,
            bill_after(&row, offset, now),
        ))
    }
    .await;
    finish(r, offset, now)
}

async fn post_and_row(
    state: &AppState,
    request: PaymentRequest,
    bill_id: i64,
    now: OffsetDateTime,
) -> Result<VaPaymentRow, VaError> {
    state
        .run(move |s| {
            let outcome = s.post_payment(&request, now)?;
            let Some(payment) = outcome.payment() else {
                return Err(StoreError::Invalid("the payment was not applied".into()));
            };
            s.va_payment_row(bill_id, payment.id, "payment")?
                .ok_or_else(|| {
                    StoreError::NotFound(format!("payment {} on bill {bill_id}", payment.id))
                })
        })
        .await
        .map_err(from_store)
}

async fn reverse_and_row(
    state: &AppState,
    request: ReversalRequest,
    bill_id: i64,
    now: OffsetDateTime,
) -> Result<VaPaymentRow, VaError> {
    state
        .run(move |s| {
            let outcome = s.reverse_payment(&request, now)?;
            s.va_payment_row(bill_id, outcome.payment.id, "reversal")?
                .ok_or_else(|| {
                    StoreError::NotFound(format!(
                        "reversal of payment {} on bill {bill_id}",
                        outcome.payment.id
                    ))
                })
        })
        .await
        .map_err(from_store)
}

// ---------------------------------------------------------------------------------------------
// Bank channel API

/// The fields every channel request shares: `va_number` (16 digits), `ref_id`, `terminal_id?`,
/// `transaction_date` (`Y-m-d H:i:s`).
struct ChannelFields {
    va_number: String,
    ref_id: String,
    terminal_id: Option<String>,
    transaction_date: String,
}

fn channel_fields(l: &Lenient<'_>, e: &mut FieldErrors) -> Option<ChannelFields> {
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
    if let Some(d) = &transaction_date
        && parse_local(d, DEFAULT_OFFSET).is_none()
    {
        e.add(
            "transaction_date",
            "The transaction_date must be a date like 2022-04-04 11:46:56 (Y-m-d H:i:s).",
        );
    }
    Some(ChannelFields {
        va_number: va_number?,
        ref_id: ref_id?,
        terminal_id,
        transaction_date: transaction_date?,
    })
}

/// The bills a bank may see under a VA number: none when the prefix is unknown or the bank is
/// not enrolled with its organization. Payable first, then newest.
fn visible_bills(
    s: &billhub_store::Store,
    channel_id: i64,
    va_number: &str,
) -> Result<Vec<Bill>, StoreError> {
    let Some(org_id) = s.organization_by_va_prefix(va_number.get(..6).unwrap_or_default())? else {
        return Ok(Vec::new());
    };
    if !s.is_enrolled(channel_id, org_id)? {
        return Ok(Vec::new());
    }
    Ok(s.bills_by_va_number(va_number)?
        .into_iter()
        .filter(|b| b.organization_id == org_id)
        .collect())
}

async fn inquiry(state: Data<AppState>, req: HttpRequest, body: Bytes) -> HttpResponse {
    let now = state.now();
    let mut offset = DEFAULT_OFFSET;
    let r = async {
        let caller = auth::bank(&state, &req, &body).await?;
        let obj = json_object(&body)?;
        let l = Lenient::new(&obj, "");
        let mut e = FieldErrors::new();
        let fields = channel_fields(&l, &mut e);
        e.into_result()?;
        let fields = fields.ok_or_else(|| VaError::field("body", "The request is incomplete."))?;
        let channel_id = caller.channel_id;
        let number = fields.va_number.clone();
        let found = state
            .run(move |s| {
                let bills = visible_bills(s, channel_id, &number)?;
                let Some(first) = bills.first() else {
                    return Ok(Err(Rejection::NotFound));
                };
                let org = s.organization(first.organization_id)?;
                let payable: Vec<_> = bills
                    .iter()
                    .filter(|b| billhub_core::rules::payability(b, now).is_ok())
                    .map(|b| s.va_bill(b.id))
                    .collect::<Result<_, _>>()?;
                if payable.is_empty() {
                    let why = billhub_core::rules::payability(first, now)
                        .err()
                        .unwrap_or(Rejection::NotFound);
                    return Ok(Err(why));
                }
                Ok(Ok((org, payable)))
            })
            .await
            .map_err(from_store)?;
        let (org, payable) = found.map_err(|r| from_rejection(&r))?;
        offset = org.utc_offset;
        let data: Vec<BillData> = payable.iter().map(|v| bill_data(v, offset, now)).collect();
        Ok(success("success", offset, now, data))
    }
    .await;
    finish(r, offset, now)
}

async fn pay(state: Data<AppState>, req: HttpRequest, body: Bytes) -> HttpResponse {
    let now = state.now();
    let mut offset = DEFAULT_OFFSET;
    let r = async {
        let caller = auth::bank(&state, &req, &body).await?;
        let obj = json_object(&body)?;
        let l = Lenient::new(&obj, "");
        let mut e = FieldErrors::new();
        let fields = channel_fields(&l, &mut e);
        let amount = amount(&l, &mut e, "amount", true);
        let customer_name = optional_string(&l, &mut e, "customer_name", 255);
        e.into_result()?;
        let (Some(fields), Some(amount)) = (fields, amount) else {
            return Err(VaError::field("body", "The request is incomplete."));
        };
        let channel_id = caller.channel_id;
        let channel = format!("va:{channel_id}");
        let outcome = state
            .run(move |s| {
                // A retry goes to the bill its first attempt went to; otherwise the bill the VA
                // number points at (the payable one first). Core decides the rest.
                let first = s.payment_by_channel_ref(&channel, &fields.ref_id)?;
                let target = match first.as_ref().and_then(|p| p.allocations.first()) {
                    Some(a) => {
                        let b = s.bill(a.bill_id)?;
                        s.is_enrolled(channel_id, b.organization_id)?.then_some(b)
                    }
                    None => visible_bills(s, channel_id, &fields.va_number)?
                        .into_iter()
                        .next(),
                };
                let Some(bill) = target else {
                    return Ok(Err(VaError::code(Rc::BillNotFound)));
                };
                let org = s.organization(bill.organization_id)?;
                let paid_at = parse_local(&fields.transaction_date, org.utc_offset).unwrap_or(now);
                let request = PaymentRequest {
                    organization_id: bill.organization_id,
                    channel: channel.clone(),
                    channel_ref: fields.ref_id.clone(),
                    request_hash: fingerprint(&[
                        "va-payment",
                        &fields.va_number,
                        &amount.minor().to_string(),
                    ]),
                    target: PaymentTarget::Bill { bill_id: bill.id },
                    amount,
                    fee: 0,
                    method: fields.terminal_id.clone().unwrap_or_default(),
                    payer_name: customer_name.clone().unwrap_or_default(),
                    details: serde_json::json!({
                        "va_number": fields.va_number,
                        "ref_id": fields.ref_id,
                        "terminal_id": fields.terminal_id,
                        "transaction_date": fields.transaction_date,
                    })
                    .to_string(),
                    paid_at,
                    on_rejection: OnRejection::Refuse,
                };
                let outcome = match s.post_payment(&request, now) {
                    Ok(o) => o,
                    Err(StoreError::Rejected(r)) => return Ok(Err(from_rejection(&r))),
                    Err(e) => return Err(e),
                };
                let Some(payment) = outcome.payment() else {
                    return Err(StoreError::Invalid("the payment was not applied".into()));
                };
                let row = s
                    .va_payment_row(bill.id, payment.id, "payment")?
                    .ok_or_else(|| StoreError::NotFound(format!("payment {}", payment.id)))?;
                Ok(Ok((org.utc_offset, row)))
            })
            .await
            .map_err(from_store)?;
        let (org_offset, row) = outcome?;
        offset = org_offset;
        Ok(success(
            "success",
            offset,
            now,
            bill_after(&row, offset, now),
        ))
    }
    .await;
    finish(r, offset, now)
}

async fn reverse(state: Data<AppState>, req: HttpRequest, body: Bytes) -> HttpResponse {
    let now = state.now();
    let mut offset = DEFAULT_OFFSET;
    let r = async {
        let caller = auth::bank(&state, &req, &body).await?;
        let obj = json_object(&body)?;
        let l = Lenient::new(&obj, "");
        let mut e = FieldErrors::new();
        let bill_id = required_string(&l, &mut e, "bill_id", 64);
        let payment_ref = required_string(&l, &mut e, "payment_ref", 64);
        let amount = amount(&l, &mut e, "amount", true);
        e.into_result()?;
        let (Some(hash), Some(payment_ref), Some(amount)) = (bill_id, payment_ref, amount) else {
            return Err(VaError::field("body", "The request is incomplete."));
        };
        let channel_id = caller.channel_id;
        let channel = format!("va:{channel_id}");
        let done = state
            .run(move |s| {
                let bill = match s.bill_by_public_no_anywhere(&hash)? {
                    Some(b) if s.is_enrolled(channel_id, b.organization_id)? => b,
                    _ => return Ok(Err(VaError::code(Rc::BillNotFound))),
                };
                let payment = match s.payment_by_channel_ref(&channel, &payment_ref)? {
                    Some(p) if p.allocations.iter().any(|a| a.bill_id == bill.id) => p,
                    _ => return Ok(Err(VaError::code(Rc::PaymentNotFound))),
                };
                if payment.amount != amount.minor() {
                    return Ok(Err(from_rejection(&Rejection::ReversalAmountMismatch)));
                }
                let org = s.organization(bill.organization_id)?;
                let request = ReversalRequest {
                    organization_id: bill.organization_id,
                    payment_id: payment.id,
                    channel: channel.clone(),
                    channel_ref: payment_ref.clone(),
                    request_hash: fingerprint(&[
                        "va-reversal",
                        &hash,
                        &payment_ref,
                        &amount.minor().to_string(),
                    ]),
                    reason: "reversed by the bank".into(),
                    window: None,
                };
                let outcome = match s.reverse_payment(&request, now) {
                    Ok(o) => o,
                    Err(StoreError::Rejected(r)) => return Ok(Err(from_rejection(&r))),
                    Err(e) => return Err(e),
                };
                let row = s
                    .va_payment_row(bill.id, outcome.payment.id, "reversal")?
                    .ok_or_else(|| {
                        StoreError::NotFound(format!("reversal of payment {}", payment.id))
                    })?;
                Ok(Ok((org.utc_offset, row)))
            })
            .await
            .map_err(from_store)?;
        let (org_offset, row) = done?;
        offset = org_offset;
        Ok(success(
            "success",
            offset,
            now,
            bill_after(&row, offset, now),
        ))
    }
    .await;
    finish(r, offset, now)
}
