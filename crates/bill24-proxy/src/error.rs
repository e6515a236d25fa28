//! The one error type of the dialect, [`Bill24Error`]: everything a request can end with that is
//! not a success, rendered in Bill24's own shapes.
//!
//! - a Merchant Proxy code 1-4 ([`Code`]): HTTP 200 in the envelope, `data: null`;
//! - a malformed request: HTTP 400, an unknown token: HTTP 401, a plumbing failure: its status,
//!   each in the envelope with `code` = the HTTP status;
//! - a store failure: HTTP 500 with the generic message; the cause ([`StoreError`], kept as the
//!   error's source) is logged once, when the answer is rendered, and never shown.
//!
//! The webhook answers the same errors in Bill24's webhook reply shape `{"status", "message"}`:
//! its handler returns [`WebhookError`], the same error rendered that way.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use billhub_core::Rejection;
use billhub_http::{FieldErrors, PlumbingError};
use billhub_store::{StoreError, TxError};

use crate::auth::AuthError;
use crate::codes::{Code, code_for, http_message_kh};
use crate::wire::{Envelope, WebhookReply};

/// Why a Bill24 request did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Bill24Error {
    /// A Merchant Proxy code other than success (HTTP 200).
    #[error("Merchant Proxy code {}: {}", .0.number(), .0.message())]
    Code(Code),
    /// HTTP 401.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// HTTP 400: every bad field at once.
    #[error("Invalid request: {}", .0.summary())]
    Invalid(FieldErrors),
    /// HTTP 400 with its own message (the body is not a JSON object, the wrong content type).
    #[error("{0}")]
    BadRequest(String),
    /// A failure the plumbing would answer (body over the limit, unreadable body).
    #[error("{}", .0.message())]
    Plumbing(PlumbingError),
    /// billhub failed (HTTP 500); the cause is for the log only.
    #[error("store failed: {0}")]
    Store(#[source] StoreError),
}

impl From<Code> for Bill24Error {
    fn from(code: Code) -> Self {
        Bill24Error::Code(code)
    }
}

impl From<Rejection> for Bill24Error {
    fn from(r: Rejection) -> Self {
        Bill24Error::Code(code_for(&r))
    }
}

impl From<FieldErrors> for Bill24Error {
    fn from(e: FieldErrors) -> Self {
        Bill24Error::Invalid(e)
    }
}

impl From<PlumbingError> for Bill24Error {
    fn from(p: PlumbingError) -> Self {
        Bill24Error::Plumbing(p)
    }
}

/// A store refusal is a code; anything else is billhub's failure.
impl From<StoreError> for Bill24Error {
    fn from(e: StoreError) -> Self {
        match e.rejection() {
            Some(r) => Bill24Error::Code(code_for(r)),
            None => Bill24Error::Store(e),
        }
    }
}

/// A flow's transaction runs again after a lost race, and heals a dead connection, when the
/// error wraps such a store failure.
impl TxError for Bill24Error {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Bill24Error::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl Bill24Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Bill24Error::Code(_) => StatusCode::OK,
            Bill24Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Bill24Error::Invalid(_) | Bill24Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Bill24Error::Plumbing(p) => p.status(),
            Bill24Error::Store(_) => PlumbingError::Internal.status(),
        }
    }

    /// The message the partner sees (never the cause of a store failure).
    pub fn message(&self) -> String {
        match self {
            Bill24Error::Code(c) => c.message().to_string(),
            Bill24Error::Store(_) => PlumbingError::Internal.message(),
            other => other.to_string(),
        }
    }

    /// Logs a failure of billhub with its cause (once per answer).
    fn log(&self) {
        if let Bill24Error::Store(cause) = self {
            tracing::error!(error = %cause, "bill24 request failed");
        }
    }
}

/// An answer in the Merchant Proxy envelope without data: `code` is Bill24's code for a
/// [`Code`], else the HTTP status.
pub fn envelope(status: StatusCode, code: u16, message: String, message_kh: &str) -> HttpResponse {
    HttpResponse::build(status).json(Envelope::<()> {
        code,
        message,
        message_kh: message_kh.to_string(),
        data: None,
    })
}

/// An HTTP-level error in the Merchant Proxy envelope: `code` is the HTTP status, `data` null.
pub fn http_error(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    envelope(
        status,
        status.as_u16(),
        message.into(),
        http_message_kh(status),
    )
}

/// Bill24's webhook reply (`status` is `Success` or `Error`).
pub fn webhook_reply(status: StatusCode, ok: bool, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(WebhookReply {
        status: if ok { "Success" } else { "Error" },
        message: message.into(),
    })
}

impl ResponseError for Bill24Error {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        match self {
            Bill24Error::Code(c) => envelope(
                StatusCode::OK,
                c.number(),
                c.message().to_string(),
                c.message_kh(),
            ),
            other => http_error(other.status(), other.message()),
        }
    }
}

/// A [`Bill24Error`] answered by the webhook, in the webhook reply shape with the same status
/// and message.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct WebhookError(#[from] pub Bill24Error);

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        WebhookError(e.into())
    }
}

impl From<AuthError> for WebhookError {
    fn from(e: AuthError) -> Self {
        WebhookError(e.into())
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        webhook_reply(self.0.status(), false, self.0.message())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    async fn body(resp: HttpResponse) -> serde_json::Value {
        let bytes = actix_web::body::to_bytes(resp.into_body()).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// Each error in both shapes: status, code, message; a store failure shows no cause.
    #[actix_web::test]
    async fn renders_in_both_shapes() {
        let cases = [
            (Bill24Error::Code(Code::NotFound), 200, 1, "Error Not Found"),
            (
                Bill24Error::Unauthorized(AuthError::Missing),
                401,
                401,
                "The token header is missing.",
            ),
            (
                Bill24Error::BadRequest("The body must be a JSON object.".into()),
                400,
                400,
                "The body must be a JSON object.",
            ),
            (
                Bill24Error::Plumbing(PlumbingError::PayloadTooLarge { limit: 10 }),
                413,
                413,
                "",
            ),
        ];
        for (err, status, code, message) in cases {
            let expected = if message.is_empty() {
                err.message()
            } else {
                message.to_string()
            };
            let resp = err.error_response();
            assert_eq!(resp.status().as_u16(), status);
            let v = body(resp).await;
            assert_eq!(v["code"], serde_json::json!(code));
            assert_eq!(v["message"], serde_json::json!(expected));
            assert_eq!(v["data"], serde_json::Value::Null);
            let resp = WebhookError(err).error_response();
            assert_eq!(resp.status().as_u16(), status);
            let v = body(resp).await;
            assert_eq!(
                v,
                serde_json::json!({"status": "Error", "message": expected})
            );
        }
    }
}
