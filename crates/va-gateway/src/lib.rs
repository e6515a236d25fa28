//! # va-gateway
//!
//! The va dialect (skeleton: the dialect's routes come in its own issue).

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use billhub_http::{Gateway, PlumbingError};

/// The va gateway.
#[derive(Debug, Clone, Copy, Default)]
pub struct VaGateway;

/// The gateway as the plumbing and `billhub up` take it.
pub fn gateway() -> Arc<dyn Gateway> {
    Arc::new(VaGateway)
}

impl Gateway for VaGateway {
    fn name(&self) -> &'static str {
        "va"
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:8083"
    }

    fn configure(&self, _cfg: &mut web::ServiceConfig) {}

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        HttpResponse::build(err.status()).json(serde_json::json!({ "message": err.message() }))
    }
}
