//! Thin handlers: authenticate, read the body leniently and validate it (collecting every
//! error), run the dialect's flow on the blocking pool, render. Every refusal is a
//! [`Bill24Error`] rendered by its `ResponseError` (the webhook's as a [`WebhookError`]).
//!
//! HTTP statuses: 200 for every answer with a Merchant Proxy code (0-4) and every webhook
//! acknowledgement; 400 for a malformed request; 401 for auth; 5xx when billhub fails (logged
//! with the cause, answered without it).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use billhub_http::{AppState, PlumbingError};
use serde::Serialize;

use crate::auth;
use crate::codes::Code;
use crate::error::{Bill24Error, WebhookError, http_error, webhook_reply};
use crate::flows::{self, Recorded};
use crate::openapi::{
    ConsumerBody, ErrorEnvelope, PendingBillsAnswer, ProxyAnswer, WebhookFailure,
    WebhookNotification,
};
use crate::requests::{ConsumerRequest, Notification, json_object};
use crate::wire::Envelope;

/// The body as the handlers take it: an error when it could not be read (or is over the limit).
type Body = Result<web::Bytes, actix_web::Error>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/proxy")
            .route(web::post().to(proxy))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/pending_bills")
            .route(web::post().to(pending_bills))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/webhook")
            .route(web::post().to(webhook))
            .default_service(web::to(method_not_allowed)),
    );
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// A Merchant Proxy success (code 0, HTTP 200) with its data.
fn success<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(Envelope {
        code: Code::Success.number(),
        message: Code::Success.message().to_string(),
        message_kh: Code::Success.message_kh().to_string(),
        data: Some(data),
    })
}

pub fn plumbing_error(err: &PlumbingError) -> HttpResponse {
    http_error(err.status(), err.message())
}

/// The webhook's acknowledgement of what a delivery did.
fn recorded(recorded: &Recorded, tran_id: &str) -> HttpResponse {
    match recorded {
        Recorded::New { .. } => webhook_reply(StatusCode::OK, true, "SUCCESS"),
        Recorded::NotApplied { status } => webhook_reply(
            StatusCode::OK,
            true,
            format!(
                "Received; not applied because the transaction status is `{status}`, not `success`."
            ),
        ),
        Recorded::AlreadyRecorded => webhook_reply(
            StatusCode::OK,
            false,
            format!("Transaction {tran_id} was already recorded; nothing was changed."),
        ),
        Recorded::Inconsistent => webhook_reply(
            StatusCode::OK,
            false,
            format!(
                "Transaction {tran_id} was already recorded with different content; nothing was changed."
            ),
        ),
    }
}

async fn method_not_allowed() -> HttpResponse {
    plumbing_error(&PlumbingError::MethodNotAllowed)
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Token, body and `consumer_code` of `/proxy` and `/pending_bills`.
async fn consumer_call(
    req: &HttpRequest,
    state: &AppState,
    body: Body,
) -> Result<(i64, ConsumerRequest), Bill24Error> {
    let org_id = auth::organization_by_token(state, auth::token(req)).await?;
    let obj = json_object(req, state.config.body_limit, body)?;
    Ok((org_id, ConsumerRequest::read(&obj)?))
}

/// `POST /proxy`: the amount due for a consumer code.
#[utoipa::path(
    post,
    path = "/proxy",
    operation_id = "proxy",
    tag = "Merchant Proxy",
    summary = "The amount due for a consumer code",
    request_body(content = ConsumerBody, content_type = "application/json"),
    security(("token" = [])),
    responses(
        (status = 200, description = "Code 0 with the data, or a Merchant Proxy code 1-4 with `data: null`.", body = ProxyAnswer),
        (status = 400, description = "The body is not a JSON object, or the Content-Type is not application/json.", body = ErrorEnvelope),
        (status = 401, description = "The token header is missing or not valid.", body = ErrorEnvelope),
        (status = 413, description = "The body is over the limit (`BILLHUB_BODY_LIMIT`, 256 KiB by default).", body = ErrorEnvelope),
        (status = 500, description = "billhub failed (the cause is in its log); retry.", body = ErrorEnvelope),
        (status = 504, description = "The request ran past the request timeout; retry.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn proxy(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, Bill24Error> {
    let (org_id, request) = consumer_call(&req, &state, body).await?;
    let now = state.now();
    let data = state
        .inline_flow(move |s| flows::proxy(s, org_id, &request, now))
        .await?;
    Ok(success(data))
}

/// `POST /pending_bills`: the account statement for a consumer code.
#[utoipa::path(
    post,
    path = "/pending_bills",
    operation_id = "pending_bills",
    tag = "Merchant Proxy",
    summary = "The account statement with digital bill links",
    request_body(content = ConsumerBody, content_type = "application/json"),
    security(("token" = [])),
    responses(
        (status = 200, description = "Code 0 with the data, or a Merchant Proxy code 1-4 with `data: null`.", body = PendingBillsAnswer),
        (status = 400, description = "The body is not a JSON object, or the Content-Type is not application/json.", body = ErrorEnvelope),
        (status = 401, description = "The token header is missing or not valid.", body = ErrorEnvelope),
        (status = 413, description = "The body is over the limit (`BILLHUB_BODY_LIMIT`, 256 KiB by default).", body = ErrorEnvelope),
        (status = 500, description = "billhub failed (the cause is in its log); retry.", body = ErrorEnvelope),
        (status = 504, description = "The request ran past the request timeout; retry.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn pending_bills(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, Bill24Error> {
    let (org_id, request) = consumer_call(&req, &state, body).await?;
    let now = state.now();
    let public_url = state.config.public_url.clone();
    let data = state
        .inline_flow(move |s| flows::pending_bills(s, &public_url, org_id, &request, now))
        .await?;
    Ok(success(data))
}

/// `POST /webhook`: a payment notification. Answers in Bill24's webhook reply shape. A caller
/// without a token is found by its address inside the flow's transaction; a bad body from such
/// a caller is answered 401 first when the address is not allowed.
#[utoipa::path(
    post,
    path = "/webhook",
    operation_id = "webhook",
    tag = "Merchant Proxy",
    summary = "A payment notification",
    request_body(content = WebhookNotification, content_type = "application/json"),
    security(("token" = []), ()),
    responses(
        (status = 200, description = "`Success`: received (recorded, kept as unapplied money, or not applied for its status); `Error`: a repeat, recorded before, nothing changed.", body = crate::wire::WebhookReply),
        (status = 400, description = "Below the minimum (transaction id, amount, currency) or not JSON: nothing recorded.", body = crate::wire::WebhookReply),
        (status = 401, description = "No token and an address no organization allows (or several do), or a token that is not valid.", body = crate::wire::WebhookReply),
        (status = 413, description = "The body is over the limit (`BILLHUB_BODY_LIMIT`, 256 KiB by default).", body = ErrorEnvelope),
        (status = 500, description = "billhub failed (the cause is in its log): Bill24 retries.", body = WebhookFailure),
        (status = 504, description = "The request ran past the request timeout; retry.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, WebhookError> {
    let caller = auth::webhook_caller(&state, &req).await?;
    let read = json_object(&req, state.config.body_limit, body)
        .and_then(|obj| Notification::read(&obj).map_err(Bill24Error::Invalid));
    let notification = match read {
        Ok(n) => n,
        Err(e) => {
            auth::confirm(&state, caller).await?;
            return Err(e.into());
        }
    };
    let now = state.now();
    let tran_id = notification.tran_id.clone();
    let done = state
        .flow(move |s| flows::webhook(s, caller, &notification, now))
        .await?;
    Ok(recorded(&done, &tran_id))
}
