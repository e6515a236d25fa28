//! Thin handlers: authenticate (over the raw body), parse ([`crate::requests`]), run one flow
//! ([`crate::flows`]) on the blocking pool, render the envelope. Every refusal is a
//! [`VaError`], rendered by its `ResponseError` and stamped with the request's clock: in the
//! organization's offset once a biller is authenticated, in WIB otherwise (a bank's requests
//! always).

use actix_web::web::{self, Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use billhub_http::{AppState, PlumbingError};
use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};

use crate::codes::Rc;
use crate::error::VaError;
use crate::wire::{
    BillData, DEFAULT_OFFSET, Envelope, Paginated, bill_after, bill_data, iso, payment_data,
};
use crate::{auth, flows, requests};

pub use crate::requests::{PER_PAGE, TERMINALS};

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
        .service(
            resource("/api/v2/gw/bill/{hash}/mock")
                .route(web::post().to(mock))
                .route(web::get().to(mock)),
        )
        .service(resource("/api/v2/gw/payment").route(web::get().to(list_payments)))
        .service(resource("/api/v2/ch/inquiry").route(web::post().to(inquiry)))
        .service(resource("/api/v2/ch/payment").route(web::post().to(pay)))
        .service(resource("/api/v2/ch/reversal").route(web::post().to(reverse)));
}

async fn not_allowed(state: Data<AppState>) -> HttpResponse {
    crate::render_plumbing(&PlumbingError::MethodNotAllowed, state.now())
}

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

/// Stamps a refusal with the request's clock in `offset`.
fn at(now: OffsetDateTime, offset: UtcOffset) -> impl Fn(VaError) -> VaError {
    move |e| e.at(now, offset)
}

// ---------------------------------------------------------------------------------------------
// OAuth

async fn token(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    let request = requests::token(&req, &body)?;
    let now = state.now();
    let token = state
        .flow(move |s| flows::issue_token(s, &request, now))
        .await
        .map_err(VaError::for_oauth)?;
    Ok(HttpResponse::Ok().json(token))
}

// ---------------------------------------------------------------------------------------------
// Biller API

async fn create_bill(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    let caller = auth::biller(&state, &req, &body).await?;
    let (now, offset) = (state.now(), caller.org.utc_offset);
    let draft = requests::create_bill(&body, &caller.org, now).map_err(at(now, offset))?;
    let bill = state
        .flow(move |s| flows::create_bill(s, &caller, draft, now))
        .await
        .map_err(at(now, offset))?;
    Ok(success(
        "success",
        offset,
        now,
        bill_data(&bill, offset, now),
    ))
}

async fn list_bills(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    let caller = auth::biller(&state, &req, &body).await?;
    let (now, offset) = (state.now(), caller.org.utc_offset);
    let query = requests::list_bills(&req, &caller.org).map_err(at(now, offset))?;
    let filter = query.filter;
    let found = state
        .flow(move |s| flows::list_bills(s, &caller, &filter, now))
        .await
        .map_err(at(now, offset))?;
    let rows: Vec<BillData> = found
        .items
        .iter()
        .map(|v| bill_data(v, offset, now))
        .collect();
    let page = Paginated::new(query.page, PER_PAGE, found.total, rows);
    Ok(success("success", offset, now, page))
}

async fn show_bill(
    state: Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    let caller = auth::biller(&state, &req, &body).await?;
    let (now, offset) = (state.now(), caller.org.utc_offset);
    requests::bill_query(&req, &caller.org.code).map_err(at(now, offset))?;
    let hash = path.into_inner();
    let bill = state
        .flow(move |s| flows::show_bill(s, &caller, &hash))
        .await
        .map_err(at(now, offset))?;
    Ok(success(
        "success",
        offset,
        now,
        bill_data(&bill, offset, now),
    ))
}

async fn revoke_bill(
    state: Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    let caller = auth::biller(&state, &req, &body).await?;
    let (now, offset) = (state.now(), caller.org.utc_offset);
    let hash = path.into_inner();
    let bill = state
        .flow(move |s| flows::revoke_bill(s, &caller, &hash, now))
        .await
        .map_err(at(now, offset))?;
    Ok(success(
        "Billing revoked.",
        offset,
        now,
        bill_data(&bill, offset, now),
    ))
}

async fn bill_payments(
    state: Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    let caller = auth::biller(&state, &req, &body).await?;
    let (now, offset) = (state.now(), caller.org.utc_offset);
    requests::bill_query(&req, &caller.org.code).map_err(at(now, offset))?;
    let hash = path.into_inner();
    let rows = state
        .flow(move |s| flows::bill_payments(s, &caller, &hash))
        .await
        .map_err(at(now, offset))?;
    let data: Vec<_> = rows
        .iter()
        .map(|r| payment_data(r, offset, now, false))
        .collect();
    Ok(success("success", offset, now, data))
}

async fn list_payments(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    let caller = auth::biller(&state, &req, &body).await?;
    let (now, offset) = (state.now(), caller.org.utc_offset);
    let query = requests::list_payments(&req, &caller.org).map_err(at(now, offset))?;
    let filter = query.filter;
    let found = state
        .flow(move |s| flows::list_payments(s, &caller, &filter))
        .await
        .map_err(at(now, offset))?;
    let rows: Vec<_> = found
        .items
        .iter()
        .map(|r| payment_data(r, offset, now, true))
        .collect();
    let page = Paginated::new(query.page, PER_PAGE, found.total, rows);
    Ok(success("success", offset, now, page))
}

/// Sandbox only: a payment or reversal on the bill, through the same store path as a bank's
/// (channel `sandbox`). `POST` takes the fields as a JSON body; `GET` (as IPG's docs list the
/// route) takes them in the query string, signed over it.
async fn mock(
    state: Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    if !state.config.sandbox {
        return Ok(crate::render_plumbing(
            &PlumbingError::NotFound,
            state.now(),
        ));
    }
    let caller = auth::biller(&state, &req, &body).await?;
    let (now, offset) = (state.now(), caller.org.utc_offset);
    let request = if req.method() == actix_web::http::Method::GET {
        requests::mock_query(&req, &caller.org.code)
    } else {
        requests::mock(&body)
    }
    .map_err(at(now, offset))?;
    let hash = path.into_inner();
    let row = state
        .flow(move |s| flows::mock(s, &caller, &hash, request, now))
        .await
        .map_err(at(now, offset))?;
    Ok(success(
        "success",
        offset,
        now,
        bill_after(&row, offset, now),
    ))
}

// ---------------------------------------------------------------------------------------------
// Bank channel API (refusals in WIB: no organization is known before the flow)

async fn inquiry(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    let caller = auth::bank(&state, &req, &body).await?;
    let now = state.now();
    let fields = requests::inquiry(&body, now).map_err(at(now, DEFAULT_OFFSET))?;
    let found = state
        .inline_flow(move |s| flows::inquiry(s, &caller, &fields.va_number, now))
        .await
        .map_err(at(now, DEFAULT_OFFSET))?;
    let offset = found.offset;
    let data: Vec<BillData> = found
        .bills
        .iter()
        .map(|v| bill_data(v, offset, now))
        .collect();
    Ok(success("success", offset, now, data))
}

async fn pay(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    let caller = auth::bank(&state, &req, &body).await?;
    let now = state.now();
    let request = requests::pay(&body, now).map_err(at(now, DEFAULT_OFFSET))?;
    let posted = state
        .flow(move |s| flows::pay(s, &caller, request, now))
        .await
        .map_err(at(now, DEFAULT_OFFSET))?;
    let offset = posted.offset;
    Ok(success(
        "success",
        offset,
        now,
        bill_after(&posted.row, offset, now),
    ))
}

async fn reverse(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, VaError> {
    let caller = auth::bank(&state, &req, &body).await?;
    let now = state.now();
    let request = requests::reverse(&body).map_err(at(now, DEFAULT_OFFSET))?;
    let posted = state
        .flow(move |s| flows::reverse(s, &caller, request, now))
        .await
        .map_err(at(now, DEFAULT_OFFSET))?;
    let offset = posted.offset;
    Ok(success(
        "success",
        offset,
        now,
        bill_after(&posted.row, offset, now),
    ))
}
