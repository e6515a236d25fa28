//! A gateway's API description: its OpenAPI document ([`Gateway::openapi`]) at
//! `GET /openapi.json` and a documentation page at `GET /docs/` (Swagger UI, every file served
//! from the binary: no CDN, nothing fetched at build time), unless `BILLHUB_DOCS=false`.
//!
//! `GET /docs` redirects to `/docs/` (the page loads its scripts relative to itself). A file
//! the page does not have (`/docs/nope.js`) and any other method answer the gateway's own 404
//! and 405 (the plumbing renders them in the dialect's shape). A gateway without a document
//! serves neither path.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa_swagger_ui::SwaggerUi;

use crate::gateway::Gateway;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where the documentation page is served (`/docs` redirects here).
pub const DOCS_PATH: &str = "/docs/";

/// A gateway's document, serialised once, ready to be served by every worker's app.
#[derive(Clone)]
pub struct Docs(web::Bytes);

impl Docs {
    /// `gateway`'s document when it has one and `enabled` (`BILLHUB_DOCS`).
    pub fn for_gateway(gateway: &Arc<dyn Gateway>, enabled: bool) -> Option<Docs> {
        if !enabled {
            return None;
        }
        let doc = gateway.openapi()?;
        match serde_json::to_vec(&doc) {
            Ok(bytes) => Some(Docs(web::Bytes::from(bytes))),
            Err(e) => {
                // Cannot happen with utoipa's types; the gateway then serves no document.
                tracing::error!(gateway = gateway.name(), error = %e, "cannot serialise the OpenAPI document");
                None
            }
        }
    }

    /// Registers `GET /openapi.json`, `GET /docs` (a redirect) and `GET /docs/{file}`.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let swagger = SwaggerUi::new("/docs/{_:.*}").config(
            utoipa_swagger_ui::Config::new([OPENAPI_PATH])
                // No call to the public validator: the page talks to this server only.
                .validator_url("none"),
        );
        cfg.service(
            web::resource(OPENAPI_PATH)
                .app_data(web::Data::new(self.clone()))
                .route(web::get().to(openapi_json)),
        )
        .service(web::resource("/docs").route(web::get().to(docs_redirect)))
        .service(swagger);
    }
}

async fn openapi_json(doc: web::Data<Docs>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, DOCS_PATH))
        .finish()
}
