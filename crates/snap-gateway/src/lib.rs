//! # snap-gateway
//!
//! Indonesia's national open API standard for payments (SNAP, Standar Nasional Open API
//! Pembayaran), for virtual accounts: any Indonesian bank finds and pays billhub's VA bills
//! (the same ones IPG's channel API in `va-gateway` serves) through the standard's B2B access
//! token, inquiry, payment and status. See `docs/dialects/snap.md`.
//!
//! - [`auth`]: the B2B token (SHA256withRSA with the bank's registered key) and the
//!   transactions' HMAC-SHA512 signature, timestamp window and `X-EXTERNAL-ID`.
//! - [`requests`]: decoding and validation of each body, ids kept as sent.
//! - [`flows`]: one named function per use case over the store.
//! - [`routes`]: thin handlers.
//! - [`codes`]: `responseCode` (HTTP + service + case), and core rejections onto it.
//! - [`error`]: [`error::SnapError`], the dialect's one error type.
//! - [`wire`]: the standard's JSON.
//! - [`openapi`]: the OpenAPI 3.1 document (`/openapi.json`, `docs/openapi/snap.json`).

pub mod auth;
pub mod codes;
pub mod error;
pub mod flows;
pub mod openapi;
pub mod requests;
pub mod routes;
pub mod wire;

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use billhub_http::{Gateway, PlumbingError};

use crate::error::SnapError;

/// The SNAP gateway.
#[derive(Debug, Clone, Copy, Default)]
pub struct SnapGateway;

/// The gateway as the plumbing and `billhub up` take it.
pub fn gateway() -> Arc<dyn Gateway> {
    Arc::new(SnapGateway)
}

/// A plumbing failure in SNAP's envelope (service `00`), with its reason where it has one.
pub fn render_plumbing(err: &PlumbingError) -> HttpResponse {
    let mut e = SnapError::new(codes::from_plumbing(err));
    if matches!(
        err,
        PlumbingError::BadRequest(_) | PlumbingError::PayloadTooLarge { .. }
    ) {
        e.detail = Some(format!("[{}]", err.message()));
    }
    actix_web::ResponseError::error_response(&e)
}

impl Gateway for SnapGateway {
    fn name(&self) -> &'static str {
        auth::DIALECT
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:8085"
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        routes::configure(cfg);
    }

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        render_plumbing(err)
    }

    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        Some(openapi::document())
    }
}
