//! The one error type of the dialect, [`VaError`]: everything a request can end with that is not
//! a success, rendered in IPG's own shapes by its `ResponseError`.
//!
//! - a code of the `rc` table with its message ([`Refusal::Code`]), in the envelope with `data`
//!   null;
//! - `VALIDATION_ERROR` with every failing field at once in `data` ([`Refusal::Validation`]);
//! - an OAuth2 error of `/oauth/token` in league/oauth2-server's shape ([`Refusal::OAuth`]);
//! - a failure inside billhub ([`Refusal::Internal`]): answered `SYSTEM_ERROR`; the cause (the
//!   [`StoreError`], or a message) is kept as the error's source and logged once, when the
//!   answer is rendered, and never shown to the partner.
//!
//! The envelope's `timestamp` is the request's clock in the organization's offset once the
//! caller's organization is known, WIB before that: handlers [`VaError::at`] their errors.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use billhub_http::FieldErrors;
use billhub_store::{StoreError, TxError};
use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};

use crate::codes::{Rc, from_rejection};
use crate::wire::{DEFAULT_OFFSET, Envelope, OAuthError, iso};

/// What billhub failed at: logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

/// A store failure inside a transaction is run again (a lost race) or healed (a dead
/// connection) by the store; any other cause is final.
impl TxError for Cause {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Cause::Store(e) => Some(e),
            Cause::Other(_) => None,
        }
    }
}

/// An OAuth2 refusal of `/oauth/token`.
#[derive(Debug)]
pub struct OAuthRefusal {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    pub hint: Option<String>,
    /// Why the server failed (`server_error`), for the log.
    pub cause: Option<Cause>,
}

/// Why a request was refused, before it is rendered.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A code with its own message (and no data).
    #[error("{code}: {message}", code = .0.code(), message = .1)]
    Code(Rc, String),
    /// Every failing field at once (`data` lists them).
    #[error("invalid request: {}", .0.summary())]
    Validation(FieldErrors),
    /// An OAuth2 error (only `/oauth/token`).
    #[error("oauth {}: {}", .0.error, .0.description)]
    OAuth(OAuthRefusal),
    /// Something failed inside billhub; logged with its cause, answered `SYSTEM_ERROR`.
    #[error("internal failure: {0}")]
    Internal(#[source] Cause),
}

/// A refusal with the instant and offset its envelope is stamped with.
#[derive(Debug, thiserror::Error)]
#[error("{refusal}")]
pub struct VaError {
    #[source]
    pub refusal: Box<Refusal>,
    stamp: Option<(OffsetDateTime, UtcOffset)>,
}

impl From<Refusal> for VaError {
    fn from(refusal: Refusal) -> Self {
        VaError {
            refusal: Box::new(refusal),
            stamp: None,
        }
    }
}

impl From<FieldErrors> for VaError {
    fn from(e: FieldErrors) -> Self {
        Refusal::Validation(e).into()
    }
}

/// A core refusal by the code table; anything else is billhub's failure.
impl From<StoreError> for VaError {
    fn from(e: StoreError) -> Self {
        match e.rejection() {
            Some(r) => from_rejection(r),
            None => Refusal::Internal(Cause::Store(e)).into(),
        }
    }
}

/// The store error behind an internal failure, so that a flow's transaction is run again after
/// a lost race (a refusal of the partner's own is final).
impl TxError for VaError {
    fn store_error(&self) -> Option<&StoreError> {
        match &*self.refusal {
            Refusal::Internal(cause)
            | Refusal::OAuth(OAuthRefusal {
                cause: Some(cause), ..
            }) => cause.store_error(),
            Refusal::Code(..) | Refusal::Validation(_) | Refusal::OAuth(_) => None,
        }
    }
}

impl VaError {
    /// A code with its default message.
    pub fn code(rc: Rc) -> VaError {
        Refusal::Code(rc, rc.message().to_string()).into()
    }

    /// A code with its own message.
    pub fn with(rc: Rc, message: impl Into<String>) -> VaError {
        Refusal::Code(rc, message.into()).into()
    }

    /// One failing field.
    pub fn field(field: &str, message: impl Into<String>) -> VaError {
        let mut e = FieldErrors::new();
        e.add(field, message);
        e.into()
    }

    /// A failure inside billhub that is not a store error.
    pub fn internal(message: impl Into<String>) -> VaError {
        Refusal::Internal(Cause::Other(message.into())).into()
    }

    /// An OAuth2 refusal.
    pub fn oauth(
        status: StatusCode,
        error: &'static str,
        description: &str,
        hint: Option<&str>,
    ) -> VaError {
        Refusal::OAuth(OAuthRefusal {
            status,
            error,
            description: description.to_string(),
            hint: hint.map(str::to_string),
            cause: None,
        })
        .into()
    }

    /// The same failure in the OAuth2 shape (`/oauth/token`): an OAuth refusal stays as it is;
    /// anything else is the server's failure (`server_error`, 500), logged with its cause.
    #[must_use]
    pub fn for_oauth(self) -> VaError {
        let cause = match *self.refusal {
            Refusal::OAuth(o) => return Refusal::OAuth(o).into(),
            Refusal::Internal(cause) => cause,
            other => Cause::Other(other.to_string()),
        };
        Refusal::OAuth(OAuthRefusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "The authorization server encountered an unexpected condition which prevented it from fulfilling the request.".to_string(),
            hint: None,
            cause: Some(cause),
        })
        .into()
    }

    /// Stamps the envelope with `now` in `offset`, unless it is stamped already.
    #[must_use]
    pub fn at(mut self, now: OffsetDateTime, offset: UtcOffset) -> VaError {
        self.stamp.get_or_insert((now, offset));
        self
    }

    /// The `rc` the partner sees.
    pub fn rc(&self) -> Rc {
        match &*self.refusal {
            Refusal::Code(rc, _) => *rc,
            Refusal::Validation(_) => Rc::ValidationError,
            Refusal::OAuth(_) | Refusal::Internal(_) => Rc::SystemError,
        }
    }

    /// Logs a failure of billhub with its cause (once per answer).
    fn log(&self) {
        match &*self.refusal {
            Refusal::Internal(cause) => tracing::error!(error = %cause, "va request failed"),
            Refusal::OAuth(OAuthRefusal {
                cause: Some(cause), ..
            }) => tracing::error!(error = %cause, "cannot issue an access token"),
            _ => {}
        }
    }

    fn timestamp(&self) -> String {
        let (now, offset) = self
            .stamp
            .unwrap_or_else(|| (OffsetDateTime::now_utc(), DEFAULT_OFFSET));
        iso(now, offset)
    }
}

impl ResponseError for VaError {
    fn status_code(&self) -> StatusCode {
        match &*self.refusal {
            Refusal::OAuth(o) => o.status,
            _ => self.rc().status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let status = self.status_code();
        let rc = self.rc();
        let (message, data) = match &*self.refusal {
            Refusal::Code(_, m) => (m.clone(), Value::Null),
            Refusal::Validation(fields) => (
                rc.message().to_string(),
                serde_json::to_value(fields).unwrap_or(Value::Null),
            ),
            Refusal::Internal(_) => (rc.message().to_string(), Value::Null),
            Refusal::OAuth(o) => {
                return HttpResponse::build(status).json(OAuthError {
                    error: o.error,
                    error_description: o.description.clone(),
                    hint: o.hint.clone(),
                    message: o.description.clone(),
                });
            }
        };
        HttpResponse::build(status).json(Envelope {
            rc: rc.code(),
            message,
            timestamp: self.timestamp(),
            data,
        })
    }
}
