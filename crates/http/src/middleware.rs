//! The middleware every gateway runs behind ([`Plumbing`], outermost, one per app).
//!
//! For each request, in this order:
//!
//! 1. **Request id.** An incoming `X-Request-Id` that is a sane token (1 to 64 characters of
//!    `A-Z a-z 0-9 . _ -`) is kept, anything else is replaced by a new uuid v7. The id is put in
//!    the request extensions (handlers take it with the [`RequestId`] extractor), in the
//!    request's tracing span, and in the `X-Request-Id` response header of every answer,
//!    including errors, timeouts and panics.
//! 2. **Body limit.** A `Content-Length` above `config.body_limit` is answered at once with the
//!    gateway's `PayloadTooLarge` (413), before any handler runs. A body without a length
//!    (chunked) is counted while it is read: the stream ends in `PayloadError::Overflow` past
//!    the limit, whatever extractor reads it, and the answer is the same 413.
//! 3. **Request timeout.** The rest of the chain runs under `tokio::time::timeout` with
//!    `config.request_timeout`. Past it the handler's future is dropped and the client gets the
//!    gateway's `Timeout` (504). Dropping a future does not stop store work already handed to
//!    [`crate::AppState::run`]: that runs on the blocking pool (`spawn_blocking`), which cannot
//!    be cancelled, so a payment that reached the store is decided and committed in full and
//!    the client's retry with the same reference gets the committed result. Handlers must
//!    therefore do every decision-and-commit inside one `state.run` call, never across awaits.
//! 4. **Panics.** A panicking handler is caught (`catch_unwind`); the panic is logged and the
//!    client gets the gateway's `Internal` (500).
//! 5. **Error shapes.** Answers actix-web produced itself (extractor errors such as malformed
//!    JSON or a bad path segment, a resource's 405) and error answers without a body (a
//!    handler's bare `HttpResponse::InternalServerError().finish()`) are rendered again through
//!    [`Gateway::render_error`], keeping their status. Answers a dialect rendered itself (any
//!    error with a body other than actix-web's plain-text default) are left alone.
//! 6. **Log and metrics.** One event per request with method, route pattern, status, latency
//!    and gateway; the request counter and latency histogram with the same labels. The raw path,
//!    query, headers and bodies are never logged (they carry tokens, `Signature`, `SH`).

use std::cell::Cell;
use std::future::{Ready, ready};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::{InternalError, PayloadError};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use futures_util::{FutureExt, Stream};
use tracing::Instrument;

use crate::config::Config;
use crate::gateway::{Gateway, PlumbingError};
use crate::telemetry;

/// The request id header, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest incoming request id that is kept.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// The id of the current request. As an extractor it never fails: outside the plumbing (a bare
/// test app) it makes a new id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A new uuid v7 id.
    pub fn generate() -> RequestId {
        RequestId(uuid::Uuid::now_v7().to_string())
    }

    /// Keeps `incoming` when it is a sane token, otherwise makes a new id.
    pub fn from_incoming(incoming: Option<&str>) -> RequestId {
        match incoming {
            Some(s) if RequestId::is_sane(s) => RequestId(s.to_string()),
            _ => RequestId::generate(),
        }
    }

    /// 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
    pub fn is_sane(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= MAX_REQUEST_ID_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    }

    /// The id the plumbing gave this request, if it ran.
    pub fn of(req: &HttpRequest) -> Option<RequestId> {
        req.extensions().get::<RequestId>().cloned()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromRequest for RequestId {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<RequestId, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(RequestId::of(req).unwrap_or_else(RequestId::generate)))
    }
}

/// The shared middleware (see the module docs). Build it with [`Plumbing::new`] and wrap the
/// app with it last, so it is the outermost.
#[derive(Clone)]
pub struct Plumbing {
    gateway: Arc<dyn Gateway>,
    body_limit: usize,
    timeout: Duration,
}

impl Plumbing {
    pub fn new(gateway: Arc<dyn Gateway>, config: &Config) -> Plumbing {
        Plumbing {
            gateway,
            body_limit: config.body_limit,
            timeout: config.request_timeout,
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Plumbing
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = PlumbingService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(PlumbingService {
            service: Rc::new(service),
            plumbing: self.clone(),
        }))
    }
}

pub struct PlumbingService<S> {
    service: Rc<S>,
    plumbing: Plumbing,
}

/// How a request ended, before the bookkeeping.
enum Ended {
    /// An answer with its request (routed, or refused early).
    Answer(ServiceResponse<BoxBody>),
    /// An answer without its request (the request went down with a timed-out or panicked
    /// future); returned to actix as an error whose response is this one.
    Detached(HttpResponse, &'static str),
}

impl<S, B> Service<ServiceRequest> for PlumbingService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let service = self.service.clone();
        let Plumbing {
            gateway,
            body_limit: limit,
            timeout,
        } = self.plumbing.clone();

        let id = RequestId::from_incoming(
            req.headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok()),
        );
        req.extensions_mut().insert(id.clone());
        let method = method_label(req.method());
        // The pattern as the resource map sees the path (before routing, without guards); the
        // routed pattern replaces it when the request comes back.
        let early_route = req.match_pattern();
        let span = tracing::info_span!(
            "request",
            gateway = gateway.name(),
            method,
            route = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            request_id = %id,
        );

        // The dialects that stamp their errors use the app clock, as their own answers do.
        let clock = req
            .app_data::<actix_web::web::Data<crate::state::AppState>>()
            .map(|state| state.clock.clone())
            .unwrap_or_default();
        let work = async move {
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let ended = if declared.is_some_and(|n| n > limit as u64) {
                tracing::info!(limit, "request body above the limit (Content-Length)");
                let answer =
                    gateway.render_error_at(&PlumbingError::PayloadTooLarge { limit }, clock.now());
                Ended::Answer(req.into_response(answer))
            } else {
                let overflow = Rc::new(Cell::new(false));
                let payload = req.take_payload();
                let limited: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
                    Box::pin(LimitedPayload {
                        inner: payload,
                        read: 0,
                        limit,
                        overflow: overflow.clone(),
                        done: false,
                    });
                req.set_payload(Payload::from(limited));
                // `call` itself runs inside the guarded future, so a panic while routing or
                // extracting is caught too.
                let guarded =
                    AssertUnwindSafe(async move { service.call(req).await }).catch_unwind();
                let result = tokio::time::timeout(timeout, guarded).await;
                settle(result, &*gateway, limit, overflow.get(), &clock, timeout)
            };
            finish(ended, &id, gateway.name(), method, early_route, started)
        };
        Box::pin(work.instrument(span))
    }
}

/// The routed service's result under the panic guard and the time limit.
type Guarded<B> = Result<
    Result<Result<ServiceResponse<B>, actix_web::Error>, Box<dyn std::any::Any + Send>>,
    tokio::time::error::Elapsed,
>;

/// What the guarded, time-limited call of the routed service ended with, as an [`Ended`].
fn settle<B: MessageBody + 'static>(
    result: Guarded<B>,
    gateway: &dyn Gateway,
    limit: usize,
    overflowed: bool,
    clock: &crate::clock::Clock,
    timeout: Duration,
) -> Ended {
    match result {
        Err(_) => {
            tracing::warn!(
                timeout_ms = timeout.as_millis() as u64,
                "request timed out; store work already started runs to completion"
            );
            Ended::Detached(
                gateway.render_error_at(&PlumbingError::Timeout, clock.now()),
                "timeout",
            )
        }
        Ok(Err(panic)) => {
            tracing::error!(panic = %telemetry::panic_text(panic.as_ref()), "handler panicked");
            Ended::Detached(
                gateway.render_error_at(&PlumbingError::Internal, clock.now()),
                "panic",
            )
        }
        Ok(Ok(Err(e))) => {
            let status = e.as_response_error().status_code();
            if status.is_server_error() {
                tracing::error!(error = %e, "request failed");
            }
            let err = plumbing_error_for(status, Some(&e), limit);
            let mut answer = gateway.render_error_at(&err, clock.now());
            *answer.status_mut() = status;
            Ended::Detached(answer, "error")
        }
        Ok(Ok(Ok(res))) => Ended::Answer(reshape(res, gateway, limit, overflowed, clock)),
    }
}

/// Re-renders plumbing answers through the gateway (see the module docs, step 5).
fn reshape<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
    gateway: &dyn Gateway,
    limit: usize,
    overflowed: bool,
    clock: &crate::clock::Clock,
) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let replacement = if overflowed {
        tracing::info!(limit, "request body above the limit (read)");
        Some((
            PlumbingError::PayloadTooLarge { limit },
            StatusCode::PAYLOAD_TOO_LARGE,
        ))
    } else if status.is_client_error() || status.is_server_error() {
        let response = res.response();
        let actix_default = response.error().is_some()
            && response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.starts_with("text/plain"));
        let empty = matches!(response.body().size(), BodySize::None | BodySize::Sized(0));
        let empty_converted =
            empty && (status.is_server_error() || matches!(status.as_u16(), 404 | 405 | 413 | 429));
        if actix_default || empty_converted {
            if status.is_server_error() {
                match response.error() {
                    Some(e) => tracing::error!(error = %e, "internal error"),
                    None => tracing::error!(
                        status = status.as_u16(),
                        "handler answered an error without a body"
                    ),
                }
            }
            Some((plumbing_error_for(status, response.error(), limit), status))
        } else {
            None
        }
    } else {
        None
    };
    match replacement {
        None => res.map_into_boxed_body(),
        Some((err, status)) => {
            let (req, old) = res.into_parts();
            let mut answer = gateway.render_error_at(&err, clock.now());
            *answer.status_mut() = status;
            for name in [header::ALLOW, header::RETRY_AFTER] {
                if let Some(v) = old.headers().get(&name) {
                    answer.headers_mut().insert(name.clone(), v.clone());
                }
            }
            ServiceResponse::new(req, answer)
        }
    }
}

/// The plumbing error that stands for an error status (the status itself is kept).
fn plumbing_error_for(
    status: StatusCode,
    error: Option<&actix_web::Error>,
    limit: usize,
) -> PlumbingError {
    match status.as_u16() {
        404 => PlumbingError::NotFound,
        405 => PlumbingError::MethodNotAllowed,
        413 => PlumbingError::PayloadTooLarge { limit },
        429 => PlumbingError::TooManyRequests,
        504 => PlumbingError::Timeout,
        _ if status.is_server_error() => PlumbingError::Internal,
        _ => PlumbingError::BadRequest(match error {
            Some(e) => e.to_string(),
            None => status
                .canonical_reason()
                .unwrap_or("Bad request")
                .to_string(),
        }),
    }
}

/// Adds the request id, logs and counts the request, and hands the answer to actix.
fn finish(
    ended: Ended,
    id: &RequestId,
    gateway: &'static str,
    method: &'static str,
    early_route: Option<String>,
    started: Instant,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let header_value = HeaderValue::from_str(id.as_str()).ok();
    let name = HeaderName::from_static(REQUEST_ID_HEADER);
    let (status, route, result) = match ended {
        Ended::Answer(mut res) => {
            if let Some(v) = header_value {
                res.headers_mut().insert(name, v);
            }
            let route = res.request().match_pattern().or(early_route);
            (res.status(), route, Ok(res))
        }
        Ended::Detached(mut answer, cause) => {
            if let Some(v) = header_value {
                answer.headers_mut().insert(name, v);
            }
            let status = answer.status();
            let err: actix_web::Error = InternalError::from_response(cause, answer).into();
            (status, early_route, Err(err))
        }
    };
    let route = route.unwrap_or_else(|| "unmatched".to_string());
    let elapsed = started.elapsed();
    record_outcome(
        &tracing::Span::current(),
        &route,
        status.as_u16(),
        (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0,
    );
    if status.is_server_error() {
        tracing::warn!("request finished");
    } else {
        tracing::info!("request finished");
    }
    let labels = [
        ("gateway", gateway.to_string()),
        ("method", method.to_string()),
        ("route", route),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!(telemetry::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(telemetry::HTTP_DURATION, &labels).record(elapsed.as_secs_f64());
    result
}

/// Records the request span's `route`, `status` and `latency_ms` in one go (one call through
/// the subscriber instead of one per field; the access log is written per request).
fn record_outcome(span: &tracing::Span, route: &str, status: u16, latency_ms: f64) {
    use tracing::field::Value;
    if span.is_disabled() {
        return;
    }
    let Some(fields) = span.metadata().map(tracing::Metadata::fields) else {
        return;
    };
    let (Some(route_f), Some(status_f), Some(latency_f)) = (
        fields.field("route"),
        fields.field("status"),
        fields.field("latency_ms"),
    ) else {
        return;
    };
    let values: [(&tracing::field::Field, Option<&dyn Value>); 3] = [
        (&route_f, Some(&route)),
        (&status_f, Some(&status)),
        (&latency_f, Some(&latency_ms)),
    ];
    span.record_all(&fields.value_set(&values));
}

/// The address of the client that made `req`: the TCP peer, or behind a proxy listed in
/// `BILLHUB_TRUSTED_PROXIES` the address its `X-Forwarded-For` names
/// ([`crate::config::TrustedProxies::client_ip`]); a forwarded header from any other peer is
/// ignored. `None` when it cannot be told.
pub fn client_ip(req: &HttpRequest, config: &crate::Config) -> Option<std::net::IpAddr> {
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| v.to_str().unwrap_or("not an address"));
    config
        .trusted_proxies
        .client_ip(req.peer_addr().map(|a| a.ip()), forwarded)
}

/// A bounded label for the method (custom methods would make unbounded series).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The request body, counted: past `limit` bytes it ends with `PayloadError::Overflow` and sets
/// `overflow`, so the answer becomes the gateway's 413 whatever read it.
struct LimitedPayload {
    inner: Payload,
    read: usize,
    limit: usize,
    overflow: Rc<Cell<bool>>,
    done: bool,
}

impl Stream for LimitedPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.read = this.read.saturating_add(chunk.len());
                if this.read > this.limit {
                    this.done = true;
                    this.overflow.set(true);
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                } else {
                    Poll::Ready(Some(Ok(chunk)))
                }
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::too_many_lines)]
    use super::*;

    #[test]
    fn request_ids() {
        assert!(RequestId::is_sane("abc-123.DEF_4"));
        assert!(RequestId::is_sane(&"a".repeat(64)));
        assert!(!RequestId::is_sane(&"a".repeat(65)));
        assert!(!RequestId::is_sane(""));
        assert!(!RequestId::is_sane("has space"));
        assert!(!RequestId::is_sane("new\nline"));
        assert!(!RequestId::is_sane("ünï"));
        assert_eq!(RequestId::from_incoming(Some("req-1")).as_str(), "req-1");
        let generated = RequestId::from_incoming(Some("bad id"));
        let parsed = uuid::Uuid::parse_str(generated.as_str()).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_ne!(RequestId::generate(), RequestId::generate());
    }

    #[test]
    fn error_statuses_map_to_plumbing_errors() {
        use PlumbingError as P;
        let f = |s: u16| plumbing_error_for(StatusCode::from_u16(s).unwrap(), None, 10);
        assert_eq!(f(404), P::NotFound);
        assert_eq!(f(405), P::MethodNotAllowed);
        assert_eq!(f(413), P::PayloadTooLarge { limit: 10 });
        assert_eq!(f(429), P::TooManyRequests);
        assert_eq!(f(504), P::Timeout);
        assert_eq!(f(500), P::Internal);
        assert_eq!(f(503), P::Internal);
        assert_eq!(f(415), P::BadRequest("Unsupported Media Type".into()));
    }
}
