//! # va-gateway
//!
//! The IPG-style ("Islamic Payment Gateway") virtual-account dialect: billers publish bills as
//! VA numbers through `/api/v2/gw/*`, banks look them up and pay them through `/api/v2/ch/*`,
//! and the organization's `va.webhook_url` hears about every payment and reversal. See
//! `docs/dialects/va.md`.
//!
//! - [`auth`]: OAuth2 client credentials and the `Signature` check over the raw body.
//! - [`wire`]: the partner's JSON and the translation from store values.
//! - [`routes`]: thin handlers.
//! - [`codes`]: the `rc` table, and rejections / store errors / plumbing failures onto it.
//! - [`notify`]: the webhook renderer.
//!
//! ## Errors
//! Handlers return [`codes::VaError`]: a code of the table with a message, the failing fields of
//! a validation, or an internal failure, which is logged with its cause and answered
//! `SYSTEM_ERROR` (never a bare 500 or a panic). Core rejections arrive inside
//! `StoreError::Rejected` and are mapped by [`codes::from_rejection`] only.

pub mod auth;
pub mod codes;
pub mod notify;
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

/// A plumbing failure in the dialect's envelope (no organization in context: WIB timestamps).
pub fn render_plumbing(err: &PlumbingError) -> HttpResponse {
    let (rc, message) = codes::from_plumbing(err);
    let now = time::OffsetDateTime::now_utc();
    HttpResponse::build(err.status()).json(wire::Envelope {
        rc: rc.code(),
        message,
        timestamp: wire::iso(now, wire::DEFAULT_OFFSET),
        data: serde_json::Value::Null,
    })
}

impl Gateway for VaGateway {
    fn name(&self) -> &'static str {
        "va"
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:8083"
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        routes::configure(cfg);
    }

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        render_plumbing(err)
    }

    fn notifier(&self) -> Option<Arc<dyn Notifier>> {
        Some(Arc::new(notify::VaNotifier))
    }
}
