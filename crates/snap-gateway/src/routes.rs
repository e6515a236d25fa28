//! Thin handlers: authenticate (over the raw body), parse ([`crate::requests`]), run one flow
//! ([`crate::flows`]) on the blocking pool, render. Every refusal is a [`SnapError`] stamped
//! with its route's service.

use actix_web::web::{self, Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use billhub_http::{AppState, PlumbingError};
use serde_json::json;

use crate::codes::{Case, Service};
use crate::error::SnapError;
use crate::{auth, flows, requests, wire};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let not_allowed = || web::to(not_allowed);
    cfg.service(
        web::resource("/v1.0/access-token/b2b")
            .route(web::post().to(token))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/v1.0/transfer-va/inquiry")
            .route(web::post().to(inquiry))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/v1.0/transfer-va/payment")
            .route(web::post().to(payment))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/v1.0/transfer-va/status")
            .route(web::post().to(status))
            .default_service(not_allowed()),
    );
}

async fn not_allowed() -> HttpResponse {
    crate::render_plumbing(&PlumbingError::MethodNotAllowed)
}

fn on(service: Service) -> impl Fn(SnapError) -> SnapError {
    move |e| e.on(service)
}

#[utoipa::path(
    post,
    path = "/v1.0/access-token/b2b",
    operation_id = "access_token_b2b",
    tag = "SNAP",
    summary = "B2B access token",
    params(("X-TIMESTAMP" = String, Header, description = "yyyy-MM-ddTHH:mm:ssTZD, within the channel's snap.timestamp_window (300 s) of the server's clock.")),
    security(("X-CLIENT-KEY" = [], "X-SIGNATURE" = [])),
    request_body(content = crate::openapi::TokenBody, content_type = "application/json"),
    responses(
        (status = 200, description = "`2007300`: the token, valid 900 seconds.", body = crate::openapi::TokenAnswer),
        (status = 400, description = "`4007302` a missing header or grantType, `4007301` a malformed one, `4007300` a body that is not JSON.", body = crate::openapi::ErrorEnvelope),
        (status = 401, description = "`4017300` Unauthorized. [Signature], [Unknown client], [X-TIMESTAMP ...] or [No public key is registered for this client].", body = crate::openapi::ErrorEnvelope),
        (status = 413, description = "The body is over the size limit (`4130000`).", body = crate::openapi::ErrorEnvelope),
        (status = 500, description = "`5007300` General Error (logged).", body = crate::openapi::ErrorEnvelope),
        (status = 504, description = "`5047300` Timeout.", body = crate::openapi::ErrorEnvelope),
    )
)]
pub async fn token(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, SnapError> {
    let request = auth::token_request(&req, &body).map_err(on(Service::Token))?;
    let now = state.now();
    let issued = state
        .flow(move |s| auth::issue_token(s, &request, now))
        .await
        .map_err(on(Service::Token))?;
    Ok(HttpResponse::Ok().json(json!({
        "responseCode": Case::Success.code(Service::Token),
        "responseMessage": "Successful",
        "accessToken": issued.access_token,
        "tokenType": "Bearer",
        "expiresIn": auth::TOKEN_TTL_SECONDS.to_string(),
        "additionalInfo": {},
    })))
}

#[utoipa::path(
    post,
    path = "/v1.0/transfer-va/inquiry",
    operation_id = "transfer_va_inquiry",
    tag = "SNAP",
    summary = "Inquiry: the payable bill under a VA",
    params(("X-TIMESTAMP" = String, Header, description = "yyyy-MM-ddTHH:mm:ssTZD, within the channel's snap.timestamp_window (300 s) of the server's clock."), ("X-PARTNER-ID" = String, Header, description = "The partner id."), ("X-EXTERNAL-ID" = String, Header, description = "Up to 36 letters, digits or '-', unique per bank and day in Asia/Jakarta."), ("CHANNEL-ID" = String, Header, description = "The bank's channel id.")),
    security(("bearer" = [], "X-SIGNATURE" = [])),
    request_body(content = crate::openapi::InquiryBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Successful.", body = crate::openapi::InquiryAnswer),
        (status = 400, description = "A missing or malformed field or header: `400xx02` Invalid Mandatory Field [name], `400xx01` Invalid Field Format [name], `400xx00` Bad Request.", body = crate::openapi::ErrorEnvelope),
        (status = 401, description = "`401xx01` Invalid Token (B2B) (missing, unknown or expired), `401xx00` Unauthorized. [Signature] or [X-TIMESTAMP ...].", body = crate::openapi::ErrorEnvelope),
        (status = 409, description = "`409xx00` Conflict: the X-EXTERNAL-ID was already used today (Asia/Jakarta).", body = crate::openapi::ErrorEnvelope),
        (status = 413, description = "The body is over the size limit (`4130000`).", body = crate::openapi::ErrorEnvelope),
        (status = 500, description = "`500xx00` General Error (logged).", body = crate::openapi::ErrorEnvelope),
        (status = 504, description = "`504xx00` Timeout: the database did not answer in time; retry with the same paymentRequestId.", body = crate::openapi::ErrorEnvelope),
        (status = 404, description = "`4042412` not found, `4042414` paid bill, `4042419` expired, with virtualAccountData (inquiryStatus 01).", body = crate::openapi::ErrorEnvelope),
    )
)]
pub async fn inquiry(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, SnapError> {
    let service = Service::Inquiry;
    let bank = auth::bank(&state, &req, &body).await.map_err(on(service))?;
    let request = match requests::inquiry(&body) {
        Ok(r) => r,
        Err(e) => return Err(on(service)(auth::refuse_spending(&state, bank, e).await)),
    };
    let now = state.now();
    let data = state
        .flow(move |s| flows::inquiry(s, &bank, &request, now))
        .await
        .map_err(on(service))?;
    Ok(HttpResponse::Ok().json(wire::success(Case::Success.code(service), &data)))
}

#[utoipa::path(
    post,
    path = "/v1.0/transfer-va/payment",
    operation_id = "transfer_va_payment",
    tag = "SNAP",
    summary = "Payment: pay the VA bill (idempotent by paymentRequestId)",
    params(("X-TIMESTAMP" = String, Header, description = "yyyy-MM-ddTHH:mm:ssTZD, within the channel's snap.timestamp_window (300 s) of the server's clock."), ("X-PARTNER-ID" = String, Header, description = "The partner id."), ("X-EXTERNAL-ID" = String, Header, description = "Up to 36 letters, digits or '-', unique per bank and day in Asia/Jakarta."), ("CHANNEL-ID" = String, Header, description = "The bank's channel id.")),
    security(("bearer" = [], "X-SIGNATURE" = [])),
    request_body(content = crate::openapi::PaymentBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Successful.", body = crate::openapi::PaymentAnswer),
        (status = 400, description = "A missing or malformed field or header: `400xx02` Invalid Mandatory Field [name], `400xx01` Invalid Field Format [name], `400xx00` Bad Request.", body = crate::openapi::ErrorEnvelope),
        (status = 401, description = "`401xx01` Invalid Token (B2B) (missing, unknown or expired), `401xx00` Unauthorized. [Signature] or [X-TIMESTAMP ...].", body = crate::openapi::ErrorEnvelope),
        (status = 409, description = "`409xx00` Conflict: the X-EXTERNAL-ID was already used today (Asia/Jakarta).", body = crate::openapi::ErrorEnvelope),
        (status = 413, description = "The body is over the size limit (`4130000`).", body = crate::openapi::ErrorEnvelope),
        (status = 500, description = "`500xx00` General Error (logged).", body = crate::openapi::ErrorEnvelope),
        (status = 504, description = "`504xx00` Timeout: the database did not answer in time; retry with the same paymentRequestId.", body = crate::openapi::ErrorEnvelope),
        (status = 404, description = "`4042512` not found, `4042513` invalid amount, `4042514` paid bill, `4042519` expired, with virtualAccountData (paymentFlagStatus 01). A paymentRequestId already used with other content is `4002500` (never 404xx18, which banks may book as paid).", body = crate::openapi::ErrorEnvelope),
    )
)]
pub async fn payment(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, SnapError> {
    let service = Service::Payment;
    let bank = auth::bank(&state, &req, &body).await.map_err(on(service))?;
    let request = match requests::payment(&body) {
        Ok(r) => r,
        Err(e) => return Err(on(service)(auth::refuse_spending(&state, bank, e).await)),
    };
    let now = state.now();
    let data = state
        .flow(move |s| flows::pay(s, &bank, &request, now))
        .await
        .map_err(on(service))?;
    Ok(HttpResponse::Ok().json(wire::success(Case::Success.code(service), &data)))
}

#[utoipa::path(
    post,
    path = "/v1.0/transfer-va/status",
    operation_id = "transfer_va_status",
    tag = "SNAP",
    summary = "Status: a payment by its paymentRequestId",
    params(("X-TIMESTAMP" = String, Header, description = "yyyy-MM-ddTHH:mm:ssTZD, within the channel's snap.timestamp_window (300 s) of the server's clock."), ("X-PARTNER-ID" = String, Header, description = "The partner id."), ("X-EXTERNAL-ID" = String, Header, description = "Up to 36 letters, digits or '-', unique per bank and day in Asia/Jakarta."), ("CHANNEL-ID" = String, Header, description = "The bank's channel id.")),
    security(("bearer" = [], "X-SIGNATURE" = [])),
    request_body(content = crate::openapi::StatusBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Successful.", body = crate::openapi::PaymentAnswer),
        (status = 400, description = "A missing or malformed field or header: `400xx02` Invalid Mandatory Field [name], `400xx01` Invalid Field Format [name], `400xx00` Bad Request.", body = crate::openapi::ErrorEnvelope),
        (status = 401, description = "`401xx01` Invalid Token (B2B) (missing, unknown or expired), `401xx00` Unauthorized. [Signature] or [X-TIMESTAMP ...].", body = crate::openapi::ErrorEnvelope),
        (status = 409, description = "`409xx00` Conflict: the X-EXTERNAL-ID was already used today (Asia/Jakarta).", body = crate::openapi::ErrorEnvelope),
        (status = 413, description = "The body is over the size limit (`4130000`).", body = crate::openapi::ErrorEnvelope),
        (status = 500, description = "`500xx00` General Error (logged).", body = crate::openapi::ErrorEnvelope),
        (status = 504, description = "`504xx00` Timeout: the database did not answer in time; retry with the same paymentRequestId.", body = crate::openapi::ErrorEnvelope),
        (status = 404, description = "`4042601` Transaction Not Found.", body = crate::openapi::ErrorEnvelope),
    )
)]
pub async fn status(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, SnapError> {
    let service = Service::Status;
    let bank = auth::bank(&state, &req, &body).await.map_err(on(service))?;
    let request = match requests::status(&body) {
        Ok(r) => r,
        Err(e) => return Err(on(service)(auth::refuse_spending(&state, bank, e).await)),
    };
    let data = state
        .flow(move |s| flows::status(s, &bank, &request))
        .await
        .map_err(on(service))?;
    Ok(HttpResponse::Ok().json(wire::success(Case::Success.code(service), &data)))
}
