//! # bill24-proxy
//!
//! The Bill24 Merchant Proxy dialect: billhub is the biller side for every organization it
//! hosts. Bill24 calls `POST /proxy` (amount due for a consumer code), `POST /pending_bills`
//! (the account statement with digital bill links) and `POST /webhook` (payment notification,
//! both documented payload generations). Every call carries the organization's Bill24 token in
//! the `token` header (the webhook may instead come from an allow-listed address).
//!
//! Modules: [`wire`] (Bill24's shapes and date formats), [`requests`] (reading and validating
//! what Bill24 sends), [`auth`], [`flows`] (one function per use case: what the proxy and the
//! statement answer, recording payments), [`routes`] (thin handlers), [`codes`] (the one table
//! of answer codes and messages), [`error`] (the dialect's error type).
//!
//! ## Errors
//! Business answers are Merchant Proxy codes 0-4 with HTTP 200 ([`codes::Code`], mapped from
//! core's `Rejection` in [`codes::code_for`]); a consumer code that names nobody (missing, blank,
//! another type) is code 1. Transport refusals keep their HTTP status (a body that is not JSON:
//! 400, auth: 401, size: 413), in the same envelope with `code` = the HTTP status. The webhook
//! answers 400 only below its minimum (transaction id, amount, currency): above it, money Bill24
//! has taken is recorded (applied, or kept as unapplied with its raw body). Every refusal is one
//! [`error::Bill24Error`]; store failures keep their cause, are logged with it
//! (`tracing::error!`) and answered as a generic internal error; plumbing failures
//! ([`PlumbingError`]) render in the same envelope. The webhook answers in Bill24's webhook reply
//! shape `{"status", "message"}` instead ([`error::WebhookError`]).

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use billhub_http::{Gateway, PlumbingError};

pub mod auth;
pub mod codes;
pub mod error;
pub mod flows;
pub mod openapi;
pub mod requests;
pub mod routes;
pub mod wire;

/// The bill24 gateway.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bill24Gateway;

/// The gateway as the plumbing and `billhub up` take it.
pub fn gateway() -> Arc<dyn Gateway> {
    Arc::new(Bill24Gateway)
}

impl Gateway for Bill24Gateway {
    fn name(&self) -> &'static str {
        "bill24"
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:8081"
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        routes::configure(cfg);
    }

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        routes::plumbing_error(err)
    }

    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        Some(openapi::document())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Every plumbing failure renders as the Merchant Proxy envelope with `code` = the status.
    #[actix_web::test]
    async fn plumbing_errors_in_the_envelope() {
        let all = [
            PlumbingError::PayloadTooLarge { limit: 10 },
            PlumbingError::NotFound,
            PlumbingError::MethodNotAllowed,
            PlumbingError::Timeout,
            PlumbingError::BadRequest("The body is broken.".into()),
            PlumbingError::TooManyRequests,
            PlumbingError::Internal,
        ];
        for err in all {
            let resp = Bill24Gateway.render_error(&err);
            assert_eq!(resp.status(), err.status());
            let body = actix_web::body::to_bytes(resp.into_body()).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["code"], serde_json::json!(err.status().as_u16()));
            assert_eq!(v["message"], serde_json::json!(err.message()));
            assert!(!v["message_kh"].as_str().unwrap().is_empty());
            assert_eq!(v["data"], serde_json::Value::Null);
            assert_eq!(v.as_object().unwrap().len(), 4);
        }
    }
}
