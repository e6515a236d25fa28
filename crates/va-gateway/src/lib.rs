//! # va-gateway
//!
//! The IPG-style ("Islamic Payment Gateway") virtual-account dialect: billers publish bills as
//! VA numbers through `/api/v2/gw/*`, banks look them up and pay them through `/api/v2/ch/*`,
//! and the organization's `va.webhook_url` hears about every payment and reversal. See
//! `docs/dialects/va.md`.
//!
//! - [`auth`]: OAuth2 client credentials and the `Signature` check over the raw body.
//! - [`wire`]: the partner's JSON and the translation from store values.
//! - [`requests`]: lenient decoding and validation of each request, every bad field at once.
//! - [`flows`]: one named function per use case over the store.
//! - [`routes`]: thin handlers: authenticate, parse, run a flow, render.
//! - [`codes`]: the `rc` table, and core rejections / plumbing failures onto it.
//! - [`error`]: [`error::VaError`], the dialect's one error type.
//! - [`notify`]: the webhook renderer.
//! - [`openapi`]: the OpenAPI 3.1 document (`/openapi.json`, `docs/openapi/va.json`).
//!
//! ## Errors
//! Handlers return `Result<HttpResponse, VaError>`; [`error::VaError`] is an actix
//! `ResponseError` that renders the partner's envelope: a code of the table with a message, the
//! failing fields of a validation, an OAuth2 error of `/oauth/token`, or an internal failure,
//! which is logged once with its cause (the `StoreError`, kept as its source) and answered
//! `SYSTEM_ERROR` (never a bare 500 or a panic). Core rejections arrive inside store errors and
//! are mapped by [`codes::from_rejection`] only.

pub mod auth;
pub mod codes;
pub mod error;
pub mod flows;
pub mod notify;
pub mod openapi;
pub mod requests;
pub mod routes;
pub mod wire;

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use billhub_http::{Gateway, Notifier, PlumbingError};

/// The va gateway.
#[derive(Debug, Clone, Copy, Default)]
pub struct VaGateway;

/// The gateway as the plumbing and `billhub up` take it.
pub fn gateway() -> Arc<dyn Gateway> {
    Arc::new(VaGateway)
}

/// A plumbing failure in the dialect's envelope, stamped `now` (the app clock's time; no
/// organization in context: WIB timestamps).
pub fn render_plumbing(err: &PlumbingError, now: time::OffsetDateTime) -> HttpResponse {
    let (rc, message) = codes::from_plumbing(err);
    HttpResponse::build(err.status()).json(wire::Envelope {
        rc: rc.code(),
        message,
        timestamp: wire::iso(now, wire::DEFAULT_OFFSET),
        data: serde_json::Value::Null,
    })
}

impl Gateway for VaGateway {
    fn name(&self) -> &'static str {
        auth::DIALECT
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:8083"
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        routes::configure(cfg);
    }

    /// For plumbing that does not pass the app clock ([`Gateway::render_error_at`] takes it):
    /// stamped by the system clock, which is the app clock outside tests.
    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        render_plumbing(err, time::OffsetDateTime::now_utc())
    }

    fn render_error_at(&self, err: &PlumbingError, now: time::OffsetDateTime) -> HttpResponse {
        render_plumbing(err, now)
    }

    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        Some(openapi::document())
    }

    fn notifier(&self) -> Option<Arc<dyn Notifier>> {
        Some(Arc::new(notify::VaNotifier))
    }
}
