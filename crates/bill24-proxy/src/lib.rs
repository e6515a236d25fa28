//! # bill24-proxy
//!
//! The bill24 dialect (skeleton: the dialect's routes come in its own issue).

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use billhub_http::{Gateway, PlumbingError};

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

    fn configure(&self, _cfg: &mut web::ServiceConfig) {}

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        HttpResponse::build(err.status()).json(serde_json::json!({ "message": err.message() }))
    }
}
