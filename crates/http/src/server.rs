//! Building and running a gateway's actix app with the shared plumbing.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};

use crate::gateway::{Gateway, PlumbingError};
use crate::state::AppState;

/// Adds the shared endpoints and the gateway's routes to an app's service config.
pub fn configure(cfg: &mut web::ServiceConfig, gateway: &Arc<dyn Gateway>) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
    gateway.configure(cfg);
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.run(|s| s.ping()).await {
        Ok(()) => HttpResponse::Ok().json(
            serde_json::json!({ "status": "ready", "database": state.store.backend().name() }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "database": "unreachable" }))
        }
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (open, idle) = state.store.pool_state();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(format!(
            "billhub_db_pool_connections {open}\nbillhub_db_pool_idle_connections {idle}\n"
        ))
}

/// Starts the gateway's HTTP server on an already bound listener.
pub fn start(
    gateway: Arc<dyn Gateway>,
    state: AppState,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let data = web::Data::new(state.clone());
    let limit = state.config.body_limit;
    let server = HttpServer::new(move || {
        let gw = gateway.clone();
        let gw_for_default = gateway.clone();
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(limit))
            .configure(move |cfg| configure(cfg, &gw))
            .default_service(web::to(move || {
                let gw = gw_for_default.clone();
                async move { gw.render_error(&PlumbingError::NotFound) }
            }))
    })
    .listen(listener)?
    .shutdown_timeout(30)
    .run();
    Ok(server)
}
