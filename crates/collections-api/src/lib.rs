//! # collections-api
//!
//! The collections dialect (skeleton: the dialect's routes come in its own issue).

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use billhub_http::{Gateway, PlumbingError};

/// The collections gateway.
#[derive(Debug, Clone, Copy, Default)]
pub struct CollectionsGateway;

/// The gateway as the plumbing and `billhub up` take it.
pub fn gateway() -> Arc<dyn Gateway> {
    Arc::new(CollectionsGateway)
}

impl Gateway for CollectionsGateway {
    fn name(&self) -> &'static str {
        "collections"
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:8082"
    }

    fn configure(&self, _cfg: &mut web::ServiceConfig) {}

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        HttpResponse::build(err.status()).json(serde_json::json!({ "message": err.message() }))
    }
}
