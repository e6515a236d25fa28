//! # collections-api
//!
//! The collections dialect: a RaudhahPay-style collections and bills API for merchants' back
//! offices (`/api/collections`, `/api/collections/{CODE}/bills`, `/api/products`,
//! `/api/customers`), with `?include=` expansion, Laravel's paginator, `Idempotency-Key` on
//! every POST, and signed form callbacks to a collection's `webhook_url`.
//!
//! Modules: [`auth`] (bearer tokens through the store's 5 s cache, and the per-token rate
//! limit), [`query`] (`page`, `per_page`, `include`, `filter[...]`), [`edge`] (the raw body and
//! the `Idempotency-Key`), [`requests`] (bodies, validated all at once), [`flows`] (one
//! function per use case, each one store transaction), [`wire`] (responses spelled as the
//! partner spells them), [`routes`] (thin handlers: authenticate, parse, run a flow, render),
//! [`codes`] (errors and the integer status/type codes, one table each), [`notify`] (the
//! callback, one snapshot per render), [`openapi`] (the OpenAPI 3.1 document).
//!
//! ## Errors
//! Flows and handlers return [`codes::ApiError`], rendered in Laravel's shapes
//! (`{"message": ...}`, plus `errors` for 422). Store errors are mapped in one `From` impl;
//! internal ones keep their cause (the store error itself, so a transaction can tell a lost
//! race from an answer: `ApiError: TxError`), logged once when the answer is rendered, and are
//! answered `{"message": "Server Error"}`. Plumbing failures (413, 404, 405,
//! 504, ...) go through [`Gateway::render_error`] into the same shapes.

pub mod auth;
pub mod codes;
pub mod edge;
pub mod flows;
pub mod notify;
pub mod openapi;
pub mod query;
pub mod requests;
pub mod routes;
pub mod wire;

use std::sync::Arc;

use actix_web::{HttpResponse, ResponseError, web};
use billhub_core::Bill;
use billhub_http::{Gateway, Notifier, PlumbingError};
use billhub_store::{Reader, StoreError};
use time::OffsetDateTime;

/// The collections gateway. Clones share one rate limiter.
#[derive(Debug, Clone, Default)]
pub struct CollectionsGateway {
    limiter: Arc<auth::RateLimiter>,
}

/// The gateway as the plumbing and `billhub up` take it.
pub fn gateway() -> Arc<dyn Gateway> {
    Arc::new(CollectionsGateway::default())
}

impl Gateway for CollectionsGateway {
    fn name(&self) -> &'static str {
        "collections"
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:8082"
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        routes::configure(cfg, self.limiter.clone());
    }

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        codes::ApiError::from_plumbing(err).error_response()
    }

    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        Some(openapi::document())
    }

    fn notifier(&self) -> Option<Arc<dyn Notifier>> {
        Some(Arc::new(notify::CollectionsNotifier))
    }

    fn bill_page_return(
        &self,
        reader: &mut Reader<'_>,
        bill: &Bill,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        notify::return_url(reader, bill, now)
    }
}
