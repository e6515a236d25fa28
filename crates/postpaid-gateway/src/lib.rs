//! # postpaid-gateway
//!
//! The CSQ eVSB-style postpaid bill payment dialect, for payment terminals in shops (an agent
//! network, a billhub *channel*): step 1 asks which fields to type (Get Parameters), step 2 looks
//! the account's invoices up and issues a single-use `transaction_code` (Get Invoices), step 3
//! pays with it (Payment); a payment can be reverted and looked up again by the terminal's own
//! reference. `{operatorId}` is the organization's numeric id. See `docs/dialects/postpaid.md`.
//!
//! - [`wire`]: the partner's spelling of every request and response.
//! - [`requests`]: lenient reading and validation of each request (every bad field at once).
//! - [`auth`]: `U` / `ST` / `SH`, and the one-time use of a salt where it is single-use
//!   (reverts; every route with the channel setting `csq.single_use_salts=all`).
//! - [`flows`]: one function per use case over the store; the rules are core's
//!   (`billhub_core::postpaid::{quote, settle}`).
//! - [`routes`]: thin handlers: authenticate, read, run a flow, render.
//! - [`codes`]: every refusal mapped onto the CSQ result codes, in one table, and
//!   [`codes::PostpaidError`].
//!
//! ## Errors
//! Handlers and flows return [`codes::PostpaidError`]: a refusal ([`codes::Refusal`]) rendered
//! as `{"rc": -1, "resultcode", "message", "items": [...]}` with HTTP 200, an authentication
//! failure (401, same body), or an internal failure, logged once with its cause and answered
//! with code 991. Only authentication (401) and an unsupported `Accept` (406) use HTTP
//! statuses, plus a body over the size limit (413).

pub mod auth;
pub mod codes;
pub mod flows;
pub mod openapi;
pub mod requests;
pub mod routes;
pub mod wire;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpMessage, HttpResponse, web};
use billhub_http::{Gateway, PlumbingError, RequestId};

use crate::codes::{Refusal, ResultCode};

/// The postpaid gateway.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostpaidGateway;

/// The gateway as the plumbing and `billhub up` take it.
pub fn gateway() -> Arc<dyn Gateway> {
    Arc::new(PostpaidGateway)
}

/// Whether an `Accept` header allows a JSON answer: absent, `application/json`, `*/*` or
/// `application/*` (with any parameters, in a list, unless `q=0`). `application/encrypt` (the
/// partner's AES mode) is not offered.
pub fn accepts_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return true;
    };
    accept.split(',').any(|entry| {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.replace(' ', "").to_ascii_lowercase();
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        !refused && matches!(media.as_str(), "application/json" | "*/*" | "application/*")
    })
}

/// The request id the plumbing gave this request (also sent as `X-Request-Id`), else a new one.
fn request_id(req: &ServiceRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate)
        .to_string()
}

/// Around every postpaid route: refuses an `Accept` it cannot answer (406) and stamps the
/// response with `UID` (the request id) and the echoed `U`.
async fn dialect_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let uid = request_id(&req);
    let user = req.headers().get("U").cloned();
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .map(|v| v.to_str().unwrap_or("?").to_string());
    let mut res = if accepts_json(accept.as_deref()) {
        next.call(req).await?.map_into_left_body()
    } else {
        let refusal = Refusal::new(
            ResultCode::InvalidParameters,
            format!(
                "Not Acceptable: Accept `{}` is not supported; send Accept: application/json (or no Accept header)",
                accept.unwrap_or_default()
            ),
        );
        req.into_response(refusal.response_with(StatusCode::NOT_ACCEPTABLE))
            .map_into_right_body()
    };
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&uid) {
        headers.insert(HeaderName::from_static("uid"), v);
    }
    if let Some(u) = user {
        headers.insert(HeaderName::from_static("u"), u);
    }
    Ok(res)
}

impl Gateway for PostpaidGateway {
    fn name(&self) -> &'static str {
        "postpaid"
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:8084"
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        use routes::*;
        cfg.service(
            web::scope("")
                .wrap(from_fn(dialect_headers))
                .route(
                    "/post-paid/bill-payment/parameters/{terminalId}/{operatorId}",
                    web::get().to(parameters),
                )
                .route(
                    "/post-paid/bill-payment/get-invoices/{terminalId}/{operatorId}",
                    web::post().to(get_invoices),
                )
                .route(
                    "/post-paid/bill-payment/payment/{terminalId}/{operatorId}/{localReference}",
                    web::post().to(payment),
                )
                // The paths of the partner's sandbox guide.
                .route(
                    "/bill-payment/parameters/{terminalId}/{operatorId}",
                    web::get().to(parameters),
                )
                .route(
                    "/bill-payment/invoices/{terminalId}/{operatorId}",
                    web::post().to(get_invoices),
                )
                .route(
                    "/bill-payment/payment/{terminalId}/{operatorId}/{localReference}",
                    web::post().to(payment),
                )
                .route(
                    "/util/revert/{terminalId}/{operatorId}/{localReference}",
                    web::post().to(revert),
                )
                .route(
                    "/util/transaction/info/{terminalId}/{originalLocalReference}/{creationDate}",
                    web::get().to(transaction_info),
                )
                .route("/ping", web::get().to(ping))
                .route("/ping/{echo}", web::get().to(ping_echo)),
        );
    }

    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        Some(openapi::document())
    }

    /// Plumbing failures in the dialect's shape, with HTTP 200 (the partner's clients read the
    /// body), except a body over the limit, which keeps 413: it was never read, and proxies and
    /// clients understand the status.
    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        let (code, status) = match err {
            PlumbingError::PayloadTooLarge { .. } => {
                (ResultCode::InvalidParameters, StatusCode::PAYLOAD_TOO_LARGE)
            }
            PlumbingError::NotFound
            | PlumbingError::MethodNotAllowed
            | PlumbingError::BadRequest(_) => (ResultCode::InvalidParameters, StatusCode::OK),
            PlumbingError::Timeout | PlumbingError::TooManyRequests | PlumbingError::Internal => {
                (ResultCode::SystemError, StatusCode::OK)
            }
        };
        let message = match code {
            ResultCode::InvalidParameters => format!("Invalid parameters: {}", err.message()),
            _ => err.message(),
        };
        Refusal::new(code, message).response_with(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header() {
        assert!(accepts_json(None));
        assert!(accepts_json(Some("")));
        assert!(accepts_json(Some("application/json")));
        assert!(accepts_json(Some("application/json; charset=utf-8")));
        assert!(accepts_json(Some("*/*")));
        assert!(accepts_json(Some("text/html, application/json;q=0.9")));
        assert!(!accepts_json(Some("json")));
        assert!(!accepts_json(Some("application/encrypt")));
        assert!(!accepts_json(Some("text/html")));
        assert!(!accepts_json(Some("application/json;q=0")));
    }
}
