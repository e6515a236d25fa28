//! How a dialect plugs into the shared plumbing: a [`Gateway`] (routes and error shape) and,
//! where the dialect sends notifications, a [`Notifier`].

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use billhub_store::{Delivery, Store, StoreError};

use crate::config::Config;

/// A failure the plumbing answers before (or instead of) a dialect handler. Each gateway
/// renders it in its partner's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlumbingError {
    /// The body exceeds the limit (413).
    PayloadTooLarge { limit: usize },
    /// No route (404).
    NotFound,
    /// The route exists but not for this method (405).
    MethodNotAllowed,
    /// The request ran past the request timeout (504).
    Timeout,
    /// A body that cannot be read, or a malformed request the plumbing caught (400).
    BadRequest(String),
    /// Too many requests (429).
    TooManyRequests,
    /// Something failed inside billhub (500); the details are in the log, never in the answer.
    Internal,
}

impl PlumbingError {
    pub fn status(&self) -> StatusCode {
        match self {
            PlumbingError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            PlumbingError::NotFound => StatusCode::NOT_FOUND,
            PlumbingError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            PlumbingError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            PlumbingError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PlumbingError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            PlumbingError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A clear English message for the partner.
    pub fn message(&self) -> String {
        match self {
            PlumbingError::PayloadTooLarge { limit } => {
                format!("The request body is larger than {limit} bytes.")
            }
            PlumbingError::NotFound => "No such endpoint.".into(),
            PlumbingError::MethodNotAllowed => "Method not allowed for this endpoint.".into(),
            PlumbingError::Timeout => {
                "The request timed out; retry it with the same reference.".into()
            }
            PlumbingError::BadRequest(m) => m.clone(),
            PlumbingError::TooManyRequests => {
                "Too many requests; slow down and retry later.".into()
            }
            PlumbingError::Internal => "Internal error; retry later.".into(),
        }
    }
}

/// A partner dialect served by one gateway binary.
pub trait Gateway: Send + Sync + 'static {
    /// Short name: `bill24`, `collections`, `va`, `postpaid` (logs, metrics labels).
    fn name(&self) -> &'static str;
    /// Where the gateway binary listens by default (`127.0.0.1:8081`).
    fn default_bind(&self) -> &'static str;
    /// Registers the dialect's routes. The shared `/healthz`, `/readyz` and `/metrics` are added
    /// by the plumbing.
    fn configure(&self, cfg: &mut web::ServiceConfig);
    /// Renders a plumbing failure in the partner's error shape, with `err.status()`.
    fn render_error(&self, err: &PlumbingError) -> HttpResponse;
    /// [`Gateway::render_error`] at `now`, the app clock's time, for a dialect whose error
    /// shape carries a timestamp: what the plumbing should call for its own failures (no route,
    /// body over the limit, timeout) wherever the app state is at hand. By default it is
    /// `render_error`.
    fn render_error_at(&self, err: &PlumbingError, now: time::OffsetDateTime) -> HttpResponse {
        let _ = now;
        self.render_error(err)
    }
    /// The dialect's OpenAPI 3.1 document, exact to its wire format (served at `/openapi.json`
    /// with a documentation page at `/docs` unless `BILLHUB_DOCS=false`, and committed under
    /// `docs/openapi/`). Default: none.
    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        None
    }
    /// The dialect's outbound notifications, if it has any.
    fn notifier(&self) -> Option<Arc<dyn Notifier>> {
        None
    }
    /// The way back to the merchant that the hosted bill page (`/b/{public_no}`) offers for
    /// `bill`: an absolute URL the page links to (a browser `GET`), or `None`. Asked of the
    /// gateway serving the page, inside the page's read snapshot; a dialect answers only for
    /// its own bills. Default: no way back.
    fn bill_page_return(
        &self,
        _reader: &mut billhub_store::Reader<'_>,
        _bill: &billhub_core::Bill,
        _now: time::OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}

/// When to try a failed delivery again: `delays[n]` after the n-th failed attempt (0-based);
/// after `delays.len()` retries the delivery is kept as failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    pub delays: Vec<time::Duration>,
}

impl RetrySchedule {
    /// Attempts in all (the first plus the retries).
    pub fn max_attempts(&self) -> usize {
        self.delays.len() + 1
    }
}

/// One HTTP request the worker sends (always POST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub url: String,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a delivery could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// Trying again later may succeed (the store was unavailable): the delivery is retried on
    /// the dialect's schedule, and kept as failed after the last attempt.
    #[error("{0}")]
    Transient(String),
    /// Trying again cannot help (the event has no bill, nothing to sign with): the delivery is
    /// kept as failed at once.
    #[error("{0}")]
    Permanent(String),
}

impl RenderError {
    pub fn is_transient(&self) -> bool {
        matches!(self, RenderError::Transient(_))
    }
}

/// A message is permanent: what a notifier says cannot be built stays so.
impl From<String> for RenderError {
    fn from(message: String) -> Self {
        RenderError::Permanent(message)
    }
}

impl From<&str> for RenderError {
    fn from(message: &str) -> Self {
        RenderError::Permanent(message.to_string())
    }
}

/// A store error is permanent when retrying cannot change it (what was looked for is gone, a
/// refusal, invalid input, a conflict); anything else (the pool, the connection, the database,
/// a lost race) is transient and retried on the schedule, which bounds it.
impl From<StoreError> for RenderError {
    fn from(e: StoreError) -> Self {
        if e.is_not_found()
            || e.rejection().is_some()
            || e.invalid().is_some()
            || e.conflict().is_some()
        {
            RenderError::Permanent(e.to_string())
        } else {
            RenderError::Transient(format!("store: {e}"))
        }
    }
}

/// Renders a dialect's deliveries. `render` runs on the blocking pool and may read the store.
pub trait Notifier: Send + Sync + 'static {
    /// The `dialect` tag of the deliveries this notifier claims.
    fn dialect(&self) -> &'static str;
    fn schedule(&self) -> RetrySchedule;
    /// Builds the request for a delivery, or says why it cannot be built: a
    /// [`RenderError::Permanent`] is kept as failed, a [`RenderError::Transient`] (a store error
    /// converts to one unless it is a not-found, a refusal, invalid input or a conflict) is
    /// retried on the schedule.
    fn render(
        &self,
        store: &Store,
        config: &Config,
        delivery: &Delivery,
    ) -> Result<OutboundRequest, RenderError>;
    /// Whether the receiver's answer acknowledges the delivery (default: any 2xx).
    fn acknowledged(&self, status: u16, _body: &str) -> bool {
        (200..300).contains(&status)
    }
}
