//! Thin handlers: authenticate, read the query and body (validating every field at once), call
//! the store on the blocking pool, render in the partner's shape.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use billhub_store::collections::{
    BillFilter, BillUpdate, CollectionsCreate, CreateProblem, Created, CustomerFilter,
    IdempotencyKey, Idempotent, ProductFilter,
};
use billhub_store::fingerprint;
use futures_util::StreamExt;
use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;
use time::macros::format_description;

use crate::auth::{Caller, RateLimiter, authenticate};
use crate::codes::{ApiError, create_problem, status_from_filter};
use crate::query::{BILL_INCLUDES, BillIncludes, COLLECTION_INCLUDES, Query, TRANSACTION_INCLUDES};
use crate::requests;
use crate::wire::{
    BillOut, BillTransactionOut, CollectionOut, Ctx, CustomerOut, OrganizationOut, Paginator,
    ProductOut,
};

type State = web::Data<billhub_http::AppState>;
type Limiter = web::Data<RateLimiter>;
type Res = Result<HttpResponse, ApiError>;

/// How long an `Idempotency-Key` and its first response are kept.
pub const IDEMPOTENCY_TTL_HOURS: i64 = 24;

const BILL_FILTERS: [&str; 6] = ["status", "ref1", "ref2", "acc_no", "due_from", "due_to"];
const PRODUCT_FILTERS: [&str; 4] = ["title", "code", "description", "price"];
const CUSTOMER_FILTERS: [&str; 6] = [
    "acc_no",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "address",
];

/// Registers every route of the dialect.
pub fn configure(cfg: &mut web::ServiceConfig, limiter: Arc<RateLimiter>) {
    let not_allowed = || web::to(method_not_allowed);
    cfg.app_data(web::Data::from(limiter))
        .service(
            web::resource("/api/collections")
                .route(web::get().to(list_collections))
                .route(web::post().to(create_collection))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/api/collections/{code}")
                .route(web::get().to(get_collection))
                .route(web::patch().to(update_collection))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/api/collections/{code}/bills")
                .route(web::get().to(list_bills))
                .route(web::post().to(create_bill))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/api/collections/{code}/bills/{bill_no}")
                .route(web::get().to(get_bill))
                .route(web::patch().to(update_bill))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/api/collections/{code}/bills/{bill_no}/transactions")
                .route(web::get().to(list_transactions))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/api/collections/{code}/bills/{bill_no}/transactions/{ref_id}")
                .route(web::get().to(get_transaction))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/api/products")
                .route(web::get().to(list_products))
                .route(web::post().to(create_product))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/api/products/{id}")
                .route(web::get().to(get_product))
                .route(web::patch().to(update_product))
                .route(web::delete().to(delete_product))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/api/customers")
                .route(web::get().to(list_customers))
                .route(web::post().to(create_customer))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/api/customers/{id}")
                .route(web::get().to(get_customer))
                .route(web::patch().to(update_customer))
                .default_service(not_allowed()),
        );
}

async fn method_not_allowed() -> Res {
    Err(ApiError::MethodNotAllowed)
}

fn json<T: Serialize>(body: &T) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

fn ctx(state: &State, caller: &Caller) -> Ctx {
    Ctx {
        public_url: state.config.public_url.clone(),
        offset: caller.organization.utc_offset,
        now: state.now(),
    }
}

/// Reads the whole body up to `limit` bytes. A larger body is drained (up to a bound) before
/// the 413, so the client reads the answer instead of a reset connection.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let drain_bound = limit.saturating_mul(16);
    let mut too_large = declared.is_some_and(|n| n > limit);
    let mut seen = 0usize;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(_) if too_large => break,
            Err(actix_web::error::PayloadError::Overflow) => {
                too_large = true;
                break;
            }
            Err(e) => {
                return Err(ApiError::BadRequest(format!(
                    "The request body cannot be read: {e}."
                )));
            }
        };
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            too_large = true;
        }
        if too_large {
            if seen > drain_bound {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    if too_large {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(buf.freeze())
}

/// The `Idempotency-Key` of a POST, scoped to the caller's organization.
fn idempotency_key(
    req: &HttpRequest,
    caller: &Caller,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "The Idempotency-Key header must be 1 to 255 visible ASCII characters.".into(),
            )
        })?;
    // Key order and spacing do not make a different request.
    let canonical = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => v.to_string(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let target = format!("{}?{}", req.path(), req.query_string());
    Ok(Some(IdempotencyKey {
        scope: format!("collections:{}", caller.organization.id),
        key: key.to_string(),
        request_hash: fingerprint(&["POST", &target, &canonical]),
        ttl: time::Duration::hours(IDEMPOTENCY_TTL_HOURS),
    }))
}

fn invalid(problems: &[CreateProblem], currency: &str) -> ApiError {
    let mut e = billhub_http::FieldErrors::new();
    for p in problems {
        let (field, message) = create_problem(p, currency);
        e.add(field, message);
    }
    ApiError::Validation(e)
}

fn currency_of(op: &CollectionsCreate) -> &'static str {
    match op {
        CollectionsCreate::Bill(b) => b.currency.code(),
        _ => "",
    }
}

/// The body of a successful create.
fn render_created(ctx: &Ctx, inc: &BillIncludes, created: &Created) -> (u16, String) {
    let body = match created {
        Created::Collection(c) => serde_json::to_string(&CollectionOut::new(ctx, c)),
        Created::Bill(v) => serde_json::to_string(&BillOut::new(ctx, v, inc)),
        Created::Product(p) => serde_json::to_string(&ProductOut::new(ctx, p)),
        Created::Customer(a) => serde_json::to_string(&CustomerOut::new(ctx, a)),
        Created::Invalid(problems) => serde_json::to_string(&invalid(problems, "").body()),
    };
    let status = match created {
        Created::Invalid(_) => 422,
        _ => 200,
    };
    (status, body.unwrap_or_else(|_| "{}".into()))
}

/// Runs a create, replaying or refusing a repeated `Idempotency-Key`.
async fn create(
    req: &HttpRequest,
    state: &State,
    caller: &Caller,
    op: CollectionsCreate,
    body: &[u8],
    inc: BillIncludes,
) -> Res {
    let idem = idempotency_key(req, caller, body)?;
    let currency = currency_of(&op);
    let ctx = ctx(state, caller);
    let org_id = caller.organization.id;
    let now = ctx.now;
    let render_ctx = ctx.clone();
    let outcome = state
        .run(move |s| {
            s.collections_create(org_id, &op, idem.as_ref(), now, &|c| {
                render_created(&render_ctx, &inc, c)
            })
        })
        .await?;
    match outcome {
        Idempotent::Fresh(Created::Invalid(problems)) => Err(invalid(&problems, currency)),
        Idempotent::Fresh(created) => {
            let (status, body) = render_created(&ctx, &inc, &created);
            Ok(raw(status, body, false))
        }
        Idempotent::Replayed { status, body } => Ok(raw(status, body, true)),
        Idempotent::Mismatch => Err(ApiError::Conflict(
            "This Idempotency-Key was already used with a different request.".into(),
        )),
    }
}

fn raw(status: u16, body: String, replayed: bool) -> HttpResponse {
    let mut b = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    b.content_type("application/json");
    if replayed {
        b.insert_header(("Idempotent-Replayed", "true"));
    }
    b.body(body)
}

fn parse_date(value: &str) -> Option<Date> {
    Date::parse(value, format_description!("[year]-[month]-[day]")).ok()
}

fn bill_filter(
    filters: &std::collections::BTreeMap<String, String>,
) -> Result<BillFilter, ApiError> {
    let mut e = billhub_http::FieldErrors::new();
    let mut f = BillFilter::default();
    for (name, value) in filters {
        match name.as_str() {
            "status" => {
                for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match status_from_filter(part) {
                        Some(s) => f.statuses.push(s),
                        None => e.add("filter.status", "The selected filter.status is invalid."),
                    }
                }
            }
            "ref1" => f.ref1 = Some(value.clone()),
            "ref2" => f.ref2 = Some(value.clone()),
            "acc_no" => f.acc_no = Some(value.clone()),
            "due_from" | "due_to" => match parse_date(value) {
                Some(d) if name == "due_from" => f.due_from = Some(d),
                Some(d) => f.due_to = Some(d),
                None => e.add(
                    format!("filter.{name}"),
                    format!("The filter.{name} does not match the format Y-m-d."),
                ),
            },
            _ => {}
        }
    }
    if e.is_empty() {
        Ok(f)
    } else {
        Err(ApiError::Validation(e))
    }
}

// ---- collections ----

fn collection_out(
    ctx: &Ctx,
    caller: &Caller,
    c: &billhub_store::collections::Collection,
    with_org: bool,
) -> CollectionOut {
    let mut out = CollectionOut::new(ctx, c);
    if with_org {
        out.organization = Some(OrganizationOut {
            id: caller.organization.id,
            code: caller.organization.code.clone(),
            name: caller.organization.name.clone(),
        });
    }
    out
}

async fn list_collections(req: HttpRequest, state: State, limiter: Limiter) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let q = Query::parse(req.query_string())?;
    let with_org = !q.includes(&COLLECTION_INCLUDES)?.is_empty();
    q.check_paging()?;
    q.filters(&[])?;
    let (org_id, offset, limit) = (caller.organization.id, q.offset(), q.per_page);
    let page = state
        .run(move |s| s.collections_page(org_id, offset, limit))
        .await?;
    let ctx = ctx(&state, &caller);
    let data = page
        .items
        .iter()
        .map(|c| collection_out(&ctx, &caller, c, with_org))
        .collect();
    Ok(json(&Paginator::new(
        state.link(req.path()),
        &q,
        data,
        page.total,
    )))
}

async fn get_collection(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<String>,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let q = Query::parse(req.query_string())?;
    let with_org = !q.includes(&COLLECTION_INCLUDES)?.is_empty();
    let (org_id, key) = (caller.organization.id, path.into_inner());
    let c = state
        .run(move |s| s.collection_by_code_or_id(org_id, &key))
        .await?
        .ok_or(ApiError::NotFound("Collection"))?;
    Ok(json(&collection_out(
        &ctx(&state, &caller),
        &caller,
        &c,
        with_org,
    )))
}

async fn create_collection(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    payload: web::Payload,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    Query::parse(req.query_string())?.includes(&[])?;
    let body = read_body(&req, payload, state.config.body_limit).await?;
    let new = requests::new_collection(&requests::parse_object(&body)?)?;
    create(
        &req,
        &state,
        &caller,
        CollectionsCreate::Collection(new),
        &body,
        BillIncludes::default(),
    )
    .await
}

async fn update_collection(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<String>,
    payload: web::Payload,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let q = Query::parse(req.query_string())?;
    let with_org = !q.includes(&COLLECTION_INCLUDES)?.is_empty();
    let body = read_body(&req, payload, state.config.body_limit).await?;
    let patch = requests::collection_patch(&requests::parse_object(&body)?)?;
    let (org_id, key, now) = (caller.organization.id, path.into_inner(), state.now());
    let c = state
        .run(move |s| s.update_collection(org_id, &key, &patch, now))
        .await?
        .ok_or(ApiError::NotFound("Collection"))?;
    Ok(json(&collection_out(
        &ctx(&state, &caller),
        &caller,
        &c,
        with_org,
    )))
}

// ---- bills ----

fn bill_includes(q: &Query) -> Result<BillIncludes, ApiError> {
    Ok(BillIncludes::from_names(&q.includes(&BILL_INCLUDES)?))
}

async fn list_bills(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<String>,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let q = Query::parse(req.query_string())?;
    let inc = bill_includes(&q)?;
    q.check_paging()?;
    let filter = bill_filter(&q.filters(&BILL_FILTERS)?)?;
    let (org_id, code, offset, limit) = (
        caller.organization.id,
        path.into_inner(),
        q.offset(),
        q.per_page,
    );
    let page = state
        .run(move |s| s.collection_bills_page(org_id, &code, &filter, offset, limit))
        .await?
        .ok_or(ApiError::NotFound("Collection"))?;
    let ctx = ctx(&state, &caller);
    let data = page
        .items
        .iter()
        .map(|v| BillOut::new(&ctx, v, &inc))
        .collect();
    Ok(json(&Paginator::new(
        state.link(req.path()),
        &q,
        data,
        page.total,
    )))
}

async fn create_bill(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<String>,
    payload: web::Payload,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let inc = bill_includes(&Query::parse(req.query_string())?)?;
    let body = read_body(&req, payload, state.config.body_limit).await?;
    let draft = requests::new_bill(&requests::parse_object(&body)?, path.into_inner());
    let new = match draft.bill {
        Some(new) if draft.errors.is_empty() => new,
        _ => {
            // Report unknown product ids together with every other bad field.
            let mut errors = draft.errors;
            if !draft.product_ids.is_empty() {
                let org_id = caller.organization.id;
                let ids: Vec<i64> = draft.product_ids.iter().map(|(_, id)| *id).collect();
                let missing = state.run(move |s| s.missing_products(org_id, &ids)).await?;
                for (index, id) in &draft.product_ids {
                    if missing.contains(id) {
                        let (f, m) =
                            create_problem(&CreateProblem::UnknownProduct { index: *index }, "");
                        errors.add(f, m);
                    }
                }
            }
            return Err(ApiError::Validation(errors));
        }
    };
    create(
        &req,
        &state,
        &caller,
        CollectionsCreate::Bill(new),
        &body,
        inc,
    )
    .await
}

async fn load_bill(
    state: &State,
    caller: &Caller,
    code: String,
    bill_no: String,
) -> Result<billhub_store::collections::CollectionBillView, ApiError> {
    let org_id = caller.organization.id;
    state
        .run(move |s| s.collection_bill(org_id, &code, &bill_no))
        .await?
        .ok_or(ApiError::NotFound("Bill"))
}

async fn get_bill(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<(String, String)>,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let inc = bill_includes(&Query::parse(req.query_string())?)?;
    let (code, bill_no) = path.into_inner();
    let view = load_bill(&state, &caller, code, bill_no).await?;
    Ok(json(&BillOut::new(&ctx(&state, &caller), &view, &inc)))
}

async fn update_bill(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let inc = bill_includes(&Query::parse(req.query_string())?)?;
    let body = read_body(&req, payload, state.config.body_limit).await?;
    let patch = requests::bill_patch(&requests::parse_object(&body)?)?;
    let (code, bill_no) = path.into_inner();
    let (org_id, now) = (caller.organization.id, state.now());
    let outcome = state
        .run(move |s| s.update_collection_bill(org_id, &code, &bill_no, &patch, now))
        .await?
        .ok_or(ApiError::NotFound("Bill"))?;
    match outcome {
        BillUpdate::Updated(view) => Ok(json(&BillOut::new(&ctx(&state, &caller), &view, &inc))),
        BillUpdate::Refused(r) => Err(ApiError::from_refusal(&r)),
    }
}

async fn list_transactions(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<(String, String)>,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let q = Query::parse(req.query_string())?;
    let names = q.includes(&TRANSACTION_INCLUDES)?;
    q.check_paging()?;
    q.filters(&[])?;
    let (code, bill_no) = path.into_inner();
    let view = load_bill(&state, &caller, code, bill_no).await?;
    let ctx = ctx(&state, &caller);
    let bill = transaction_bill(&ctx, &view, &names);
    let total = view.payments.len() as i64;
    let data = view
        .payments
        .iter()
        .skip(usize::try_from(q.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(q.per_page).unwrap_or(0))
        .map(|p| {
            let mut t = BillTransactionOut::new(&ctx, &view, p);
            t.bill = bill.clone();
            t
        })
        .collect();
    Ok(json(&Paginator::new(
        state.link(req.path()),
        &q,
        data,
        total,
    )))
}

/// `?include=bill` / `bill.collection` on a transaction.
fn transaction_bill(
    ctx: &Ctx,
    view: &billhub_store::collections::CollectionBillView,
    names: &[String],
) -> Option<Box<BillOut>> {
    if names.is_empty() {
        return None;
    }
    let inc = BillIncludes {
        collection: names.iter().any(|n| n == "bill.collection"),
        ..BillIncludes::default()
    };
    Some(Box::new(BillOut::new(ctx, view, &inc)))
}

async fn get_transaction(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<(String, String, String)>,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let names = Query::parse(req.query_string())?.includes(&TRANSACTION_INCLUDES)?;
    let (code, bill_no, ref_id) = path.into_inner();
    let view = load_bill(&state, &caller, code, bill_no).await?;
    let ctx = ctx(&state, &caller);
    let p = view
        .payments
        .iter()
        .find(|p| p.payment.channel_ref == ref_id)
        .ok_or(ApiError::NotFound("Transaction"))?;
    let mut t = BillTransactionOut::new(&ctx, &view, p);
    t.bill = transaction_bill(&ctx, &view, &names);
    Ok(json(&t))
}

// ---- products ----

fn parse_id(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|n| *n > 0)
}

/// The stored spellings a `filter[price]` matches: `10` finds `10.00` and `10`.
fn price_spellings(text: &str) -> Result<Vec<String>, ApiError> {
    let d = Decimal::from_str_exact(text.trim()).map_err(|_| {
        ApiError::validation_one("filter.price", "The filter.price must be a number.")
    })?;
    let mut out = vec![text.trim().to_string(), d.normalize().to_string()];
    for scale in 2..=4 {
        let mut s = d.normalize();
        if s.scale() <= scale {
            s.rescale(scale);
            out.push(s.to_string());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

async fn list_products(req: HttpRequest, state: State, limiter: Limiter) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let q = Query::parse(req.query_string())?;
    q.includes(&[])?;
    q.check_paging()?;
    let filters = q.filters(&PRODUCT_FILTERS)?;
    let filter = ProductFilter {
        title: filters.get("title").cloned(),
        code: filters.get("code").cloned(),
        description: filters.get("description").cloned(),
        prices: match filters.get("price") {
            Some(p) => price_spellings(p)?,
            None => Vec::new(),
        },
    };
    let (org_id, offset, limit) = (caller.organization.id, q.offset(), q.per_page);
    let page = state
        .run(move |s| s.products_page(org_id, &filter, offset, limit))
        .await?;
    let ctx = ctx(&state, &caller);
    let data = page
        .items
        .iter()
        .map(|p| ProductOut::new(&ctx, p))
        .collect();
    Ok(json(&Paginator::new(
        state.link(req.path()),
        &q,
        data,
        page.total,
    )))
}

async fn find_product(
    state: &State,
    caller: &Caller,
    id: &str,
) -> Result<billhub_store::collections::Product, ApiError> {
    let id = parse_id(id).ok_or(ApiError::NotFound("Product"))?;
    let org_id = caller.organization.id;
    state
        .run(move |s| s.product(org_id, id))
        .await?
        .ok_or(ApiError::NotFound("Product"))
}

async fn get_product(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<String>,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    Query::parse(req.query_string())?.includes(&[])?;
    let p = find_product(&state, &caller, &path).await?;
    Ok(json(&ProductOut::new(&ctx(&state, &caller), &p)))
}

async fn create_product(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    payload: web::Payload,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    Query::parse(req.query_string())?.includes(&[])?;
    let body = read_body(&req, payload, state.config.body_limit).await?;
    let input = requests::new_product(&requests::parse_object(&body)?)?;
    create(
        &req,
        &state,
        &caller,
        CollectionsCreate::Product(input),
        &body,
        BillIncludes::default(),
    )
    .await
}

async fn update_product(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<String>,
    payload: web::Payload,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    Query::parse(req.query_string())?.includes(&[])?;
    let current = find_product(&state, &caller, &path).await?;
    let body = read_body(&req, payload, state.config.body_limit).await?;
    let patch =
        requests::product_patch(&requests::parse_object(&body)?, current.currency.as_deref())?;
    let (org_id, id, now) = (caller.organization.id, current.id, state.now());
    let p = state
        .run(move |s| s.update_product(org_id, id, &patch, now))
        .await?
        .ok_or(ApiError::NotFound("Product"))?;
    Ok(json(&ProductOut::new(&ctx(&state, &caller), &p)))
}

async fn delete_product(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<String>,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let id = parse_id(&path).ok_or(ApiError::NotFound("Product"))?;
    let (org_id, now) = (caller.organization.id, state.now());
    if !state
        .run(move |s| s.delete_product(org_id, id, now))
        .await?
    {
        return Err(ApiError::NotFound("Product"));
    }
    Ok(json(&serde_json::json!({ "message": "Product deleted." })))
}

// ---- customers ----

async fn list_customers(req: HttpRequest, state: State, limiter: Limiter) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    let q = Query::parse(req.query_string())?;
    q.includes(&[])?;
    q.check_paging()?;
    let f = q.filters(&CUSTOMER_FILTERS)?;
    let filter = CustomerFilter {
        acc_no: f.get("acc_no").cloned(),
        first_name: f.get("first_name").cloned(),
        last_name: f.get("last_name").cloned(),
        email: f.get("email").cloned(),
        mobile: f.get("mobile").cloned(),
        address: f.get("address").cloned(),
    };
    let (org_id, offset, limit) = (caller.organization.id, q.offset(), q.per_page);
    let page = state
        .run(move |s| s.customers_page(org_id, &filter, offset, limit))
        .await?;
    let ctx = ctx(&state, &caller);
    let data = page
        .items
        .iter()
        .map(|a| CustomerOut::new(&ctx, a))
        .collect();
    Ok(json(&Paginator::new(
        state.link(req.path()),
        &q,
        data,
        page.total,
    )))
}

async fn find_customer(
    state: &State,
    caller: &Caller,
    id: &str,
) -> Result<billhub_core::Account, ApiError> {
    let id = parse_id(id).ok_or(ApiError::NotFound("Customer"))?;
    let org_id = caller.organization.id;
    state
        .run(move |s| s.customer(org_id, id))
        .await?
        .ok_or(ApiError::NotFound("Customer"))
}

async fn get_customer(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<String>,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    Query::parse(req.query_string())?.includes(&[])?;
    let a = find_customer(&state, &caller, &path).await?;
    Ok(json(&CustomerOut::new(&ctx(&state, &caller), &a)))
}

async fn create_customer(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    payload: web::Payload,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    Query::parse(req.query_string())?.includes(&[])?;
    let body = read_body(&req, payload, state.config.body_limit).await?;
    let input = requests::new_customer(&requests::parse_object(&body)?)?;
    create(
        &req,
        &state,
        &caller,
        CollectionsCreate::Customer(input),
        &body,
        BillIncludes::default(),
    )
    .await
}

async fn update_customer(
    req: HttpRequest,
    state: State,
    limiter: Limiter,
    path: web::Path<String>,
    payload: web::Payload,
) -> Res {
    let caller = authenticate(&req, &state, &limiter).await?;
    Query::parse(req.query_string())?.includes(&[])?;
    let current = find_customer(&state, &caller, &path).await?;
    let body = read_body(&req, payload, state.config.body_limit).await?;
    let patch = requests::customer_patch(&requests::parse_object(&body)?, &current.code)?;
    let (org_id, id, now) = (caller.organization.id, current.id, state.now());
    let a = state
        .run(move |s| s.update_customer(org_id, id, &patch, now))
        .await?
        .ok_or(ApiError::NotFound("Customer"))?;
    Ok(json(&CustomerOut::new(&ctx(&state, &caller), &a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_filter_spellings() {
        let s = price_spellings("10").unwrap();
        assert!(s.contains(&"10".to_string()) && s.contains(&"10.00".to_string()));
        assert!(price_spellings("x").is_err());
    }
}
