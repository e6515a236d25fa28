//! The one error type of the dialect, [`SnapError`]: everything a request can end with that is
//! not a success, rendered in SNAP's envelope `{responseCode, responseMessage}` (plus the
//! `virtualAccountData` a refused inquiry or payment echoes, with `inquiryStatus` or
//! `paymentFlagStatus` `01`).
//!
//! An error is made where it is found, without knowing its route's service; the handler stamps
//! the service ([`SnapError::on`]) before it is rendered. A failure inside billhub (a store
//! error that is not a refusal) keeps its cause, is logged once when rendered, and is answered
//! `500xx00` General Error (or `504xx00` Timeout when the database did not answer in time):
//! never a bare 500 or a panic.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use billhub_store::{StoreError, TxError};
use serde_json::{Value, json};

use crate::codes::{Case, Service, from_rejection};

/// What billhub failed at: logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

impl TxError for Cause {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Cause::Store(e) => Some(e),
            Cause::Other(_) => None,
        }
    }
}

/// A refusal or failure, before it is rendered.
#[derive(Debug, thiserror::Error)]
#[error("{} {}", .case.code(*.service), .case.message())]
pub struct SnapError {
    pub case: Case,
    pub service: Service,
    /// Appended to the case's message (a field name, a reason).
    pub detail: Option<String>,
    /// `virtualAccountData` echoed with the refusal.
    pub data: Option<Box<Value>>,
    /// Why billhub failed (internal failures only).
    #[source]
    pub cause: Option<Box<Cause>>,
}

impl SnapError {
    pub fn new(case: Case) -> SnapError {
        SnapError {
            case,
            service: Service::General,
            detail: None,
            data: None,
            cause: None,
        }
    }

    /// A case with a reason after its message.
    pub fn with(case: Case, detail: impl Into<String>) -> SnapError {
        SnapError {
            detail: Some(detail.into()),
            ..SnapError::new(case)
        }
    }

    /// `400xx02 Invalid Mandatory Field [name]`.
    pub fn missing(field: &str) -> SnapError {
        SnapError::with(Case::MissingField, format!("[{field}]"))
    }

    /// `400xx01 Invalid Field Format [name]`.
    pub fn format(field: &str) -> SnapError {
        SnapError::with(Case::InvalidFieldFormat, format!("[{field}]"))
    }

    /// `401xx00 Unauthorized. [reason]`.
    pub fn unauthorized(reason: &str) -> SnapError {
        SnapError::with(Case::Unauthorized, format!("[{reason}]"))
    }

    /// A core rejection in SNAP's terms ([`from_rejection`]).
    pub fn rejected(rejection: &billhub_core::Rejection) -> SnapError {
        let (case, reason) = from_rejection(rejection);
        SnapError::with(case, format!("[{reason}]"))
    }

    /// A failure inside billhub.
    pub fn internal(cause: impl Into<String>) -> SnapError {
        SnapError {
            cause: Some(Box::new(Cause::Other(cause.into()))),
            ..SnapError::new(Case::GeneralError)
        }
    }

    /// Stamps the route's service (what the code's middle digits say).
    pub fn on(mut self, service: Service) -> SnapError {
        self.service = service;
        self
    }

    /// Echoes `virtualAccountData` with the refusal.
    pub fn data(mut self, data: Value) -> SnapError {
        self.data = Some(Box::new(data));
        self
    }

    pub fn code(&self) -> String {
        self.case.code(self.service)
    }

    pub fn message(&self) -> String {
        match &self.detail {
            Some(d) => format!("{} {d}", self.case.message()),
            None => self.case.message().to_string(),
        }
    }
}

impl From<StoreError> for SnapError {
    fn from(e: StoreError) -> SnapError {
        if let Some(rejection) = e.rejection() {
            return SnapError::rejected(rejection);
        }
        let case = if e.is_unavailable() {
            Case::Timeout
        } else {
            Case::GeneralError
        };
        SnapError {
            cause: Some(Box::new(Cause::Store(e))),
            ..SnapError::new(case)
        }
    }
}

impl TxError for SnapError {
    fn store_error(&self) -> Option<&StoreError> {
        self.cause.as_deref().and_then(Cause::store_error)
    }
}

impl ResponseError for SnapError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.case.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(code = %self.code(), error = %cause, "snap request failed inside billhub");
        }
        let mut body = json!({
            "responseCode": self.code(),
            "responseMessage": self.message(),
        });
        if let (Some(data), Some(obj)) = (&self.data, body.as_object_mut()) {
            obj.insert("virtualAccountData".into(), Value::clone(data));
        }
        HttpResponse::build(self.status_code()).json(body)
    }
}
