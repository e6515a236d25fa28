//! Thin handlers: authenticate, read the body leniently, validate collecting every error, run the
//! dialect's work on the blocking pool, render.
//!
//! HTTP statuses: 200 for every answer with a Merchant Proxy code (0-4) and every webhook
//! acknowledgement; 400 for a malformed request; 401 for auth; 5xx when billhub fails (logged
//! with the cause, answered without it).

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use billhub_http::{AppState, FieldErrors, PlumbingError};
use billhub_store::StoreError;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::{self, AuthFailure};
use crate::codes::{Code, http_message_kh};
use crate::inquiry::{self, Answer};
use crate::webhook::{self, Recorded};
use crate::wire::{ConsumerRequest, Envelope, Notification, WebhookReply};

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

/// A Merchant Proxy code answer (HTTP 200).
fn coded<T: Serialize>(code: Code, data: Option<T>) -> HttpResponse {
    HttpResponse::Ok().json(Envelope {
        code: code.number(),
        message: code.message().to_string(),
        message_kh: code.message_kh().to_string(),
        data,
    })
}

/// An HTTP-level error in the Merchant Proxy envelope: `code` is the HTTP status, `data` null.
pub fn http_error(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(Envelope::<()> {
        code: status.as_u16(),
        message: message.into(),
        message_kh: http_message_kh(status).to_string(),
        data: None,
    })
}

pub fn plumbing_error(err: &PlumbingError) -> HttpResponse {
    http_error(err.status(), err.message())
}

fn webhook_reply(status: StatusCode, ok: bool, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(WebhookReply {
        status: if ok { "Success" } else { "Error" },
        message: message.into(),
    })
}

fn internal(e: &StoreError, what: &str) -> PlumbingError {
    tracing::error!(error = %e, "bill24 {what} failed");
    PlumbingError::Internal
}

async fn method_not_allowed() -> HttpResponse {
    plumbing_error(&PlumbingError::MethodNotAllowed)
}

/// A refusal before the dialect's work: (status, message).
struct Refusal(StatusCode, String);

impl From<AuthFailure> for Refusal {
    fn from(f: AuthFailure) -> Self {
        match f {
            AuthFailure::Refused(e) => Refusal(StatusCode::UNAUTHORIZED, e.to_string()),
            AuthFailure::Store(e) => {
                let p = internal(&e, "authentication");
                Refusal(p.status(), p.message())
            }
        }
    }
}

impl From<PlumbingError> for Refusal {
    fn from(p: PlumbingError) -> Self {
        Refusal(p.status(), p.message())
    }
}

fn invalid(errors: &FieldErrors) -> Refusal {
    Refusal(
        StatusCode::BAD_REQUEST,
        format!("Invalid request: {}", errors.summary()),
    )
}

// ---------------------------------------------------------------------------------------------
// Reading requests

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
fn json_object(
    req: &HttpRequest,
    state: &AppState,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<Map<String, Value>, Refusal> {
    let bytes = match body {
        Ok(b) => b,
        Err(e) if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(PlumbingError::PayloadTooLarge {
                limit: state.config.body_limit,
            }
            .into());
        }
        Err(e) => {
            return Err(PlumbingError::BadRequest(format!(
                "The request body could not be read: {e}"
            ))
            .into());
        }
    };
    if !is_json(req) {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "The Content-Type must be application/json.".into(),
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Refusal(
            StatusCode::BAD_REQUEST,
            "The body must be a JSON object.".into(),
        )),
        Err(e) => Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("The body is not valid JSON: {e}."),
        )),
    }
}

/// Token, body and `consumer_code` of `/proxy` and `/pending_bills`.
async fn consumer_call(
    req: &HttpRequest,
    state: &AppState,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<(i64, ConsumerRequest), Refusal> {
    let org = auth::organization_by_token(state, auth::token(req)).await?;
    let obj = json_object(req, state, body)?;
    let request = ConsumerRequest::read(&obj).map_err(|e| invalid(&e))?;
    Ok((org, request))
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// `POST /proxy`: the amount due for a consumer code.
async fn proxy(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let (org_id, request) = match consumer_call(&req, &state, body).await {
        Ok(v) => v,
        Err(Refusal(s, m)) => return http_error(s, m),
    };
    let now = state.now();
    let answer = state
        .run(move |s| {
            let org = s.organization(org_id)?;
            let settings = s.settings(org_id)?;
            inquiry::proxy(s, &org, &settings, &request.consumer_code, now)
        })
        .await;
    match answer {
        Ok(Answer::Data(d)) => coded(Code::Success, Some(d)),
        Ok(Answer::Code(c)) => coded::<()>(c, None),
        Err(e) => plumbing_error(&internal(&e, "proxy")),
    }
}

/// `POST /pending_bills`: the account statement for a consumer code.
async fn pending_bills(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let (org_id, request) = match consumer_call(&req, &state, body).await {
        Ok(v) => v,
        Err(Refusal(s, m)) => return http_error(s, m),
    };
    let now = state.now();
    let public_url = state.config.public_url.clone();
    let answer = state
        .run(move |s| {
            let org = s.organization(org_id)?;
            let settings = s.settings(org_id)?;
            inquiry::pending_bills(s, &public_url, &org, &settings, &request.consumer_code, now)
        })
        .await;
    match answer {
        Ok(Answer::Data(d)) => coded(Code::Success, Some(d)),
        Ok(Answer::Code(c)) => coded::<()>(c, None),
        Err(e) => plumbing_error(&internal(&e, "pending_bills")),
    }
}

/// `POST /webhook`: a payment notification. Answers in Bill24's webhook reply shape.
async fn webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let org_id = match auth::webhook_organization(&state, &req).await {
        Ok(o) => o,
        Err(f) => {
            let Refusal(s, m) = f.into();
            return webhook_reply(s, false, m);
        }
    };
    let notification = match json_object(&req, &state, body)
        .and_then(|obj| Notification::read(&obj).map_err(|e| invalid(&e)))
    {
        Ok(n) => n,
        Err(Refusal(s, m)) => return webhook_reply(s, false, m),
    };
    let now = state.now();
    let tran_id = notification.tran_id.clone();
    let recorded = state
        .run(move |s| {
            let org = s.organization(org_id)?;
            webhook::record(s, &org, &notification, now)
        })
        .await;
    match recorded {
        Ok(Recorded::New { .. }) => webhook_reply(StatusCode::OK, true, "SUCCESS"),
        Ok(Recorded::NotApplied { status }) => webhook_reply(
            StatusCode::OK,
            true,
            format!(
                "Received; not applied because the transaction status is `{status}`, not `success`."
            ),
        ),
        Ok(Recorded::AlreadyRecorded) => webhook_reply(
            StatusCode::OK,
            false,
            format!("Transaction {tran_id} was already recorded; nothing was changed."),
        ),
        Ok(Recorded::Inconsistent) => webhook_reply(
            StatusCode::OK,
            false,
            format!(
                "Transaction {tran_id} was already recorded with different content; nothing was changed."
            ),
        ),
        Err(e) => {
            let p = internal(&e, "webhook");
            webhook_reply(p.status(), false, p.message())
        }
    }
}
