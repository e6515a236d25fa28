//! Building and running a gateway's actix app with the shared plumbing.
//!
//! Every app gets, besides the gateway's own routes:
//! - `GET /healthz`: the process is up (no dependency is checked).
//! - `GET /readyz`: the database answers a `SELECT 1` within [`READY_TIMEOUT`] (503 otherwise),
//!   for load balancers and orchestrators.
//! - `GET /metrics`: Prometheus text (see [`crate::telemetry`]).
//! - the [`crate::middleware::Plumbing`] middleware: request ids, body limit, request timeout,
//!   panics and error shapes, logs and metrics;
//! - `PayloadConfig`/`JsonConfig`/`FormConfig` limits equal to `config.body_limit` (a gateway may
//!   register its own `JsonConfig`, e.g. for an error handler; the limit still holds because the
//!   middleware counts the body itself);
//! - `GET /openapi.json` and `GET /docs` when the gateway has an OpenAPI document, unless
//!   `BILLHUB_DOCS=false` (see [`crate::docs`]);
//! - a default service: a path no route knows is the gateway's `NotFound` (404); a path a route
//!   knows but not for this method is `MethodNotAllowed` (405).
//!
//! On shutdown (SIGTERM/SIGINT) the server stops accepting, lets in-flight requests finish for
//! up to [`SHUTDOWN_TIMEOUT_SECS`] and then stops.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use crate::gateway::{Gateway, PlumbingError};
use crate::middleware::Plumbing;
use crate::state::AppState;

/// How long in-flight requests may run after a shutdown signal.
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// How long `/readyz` waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// Adds the shared endpoints and the gateway's routes to an app's service config.
pub fn configure(cfg: &mut web::ServiceConfig, gateway: &Arc<dyn Gateway>) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route("/b/{public_no}", web::get().to(crate::pages::bill))
        .route("/r/{uid}", web::get().to(crate::pages::receipt))
        .app_data(crate::pages::PageGateway::data(gateway.clone()));
    gateway.configure(cfg);
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.store.backend().name();
    let unavailable = |reason: &str| {
        HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "unavailable",
            "database": backend,
            "reason": reason,
        }))
    };
    match tokio::time::timeout(READY_TIMEOUT, state.run(|s| s.ping())).await {
        Ok(Ok(())) => {
            HttpResponse::Ok().json(serde_json::json!({ "status": "ready", "database": backend }))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            unavailable("database unreachable")
        }
        Err(_) => {
            tracing::warn!(
                timeout_s = READY_TIMEOUT.as_secs(),
                "readiness check timed out"
            );
            unavailable("database did not answer in time")
        }
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::telemetry::render_metrics(&state))
}

/// What a request no route took gets: 405 when some route has this path (another method),
/// 404 otherwise.
async fn unrouted(
    req: HttpRequest,
    gateway: web::Data<GatewayRef>,
    state: web::Data<AppState>,
) -> HttpResponse {
    // The resource map matches the path without guards, so a pattern here means a route for
    // this path exists, only not for this method.
    if req.match_pattern().is_some() {
        gateway
            .0
            .render_error_at(&PlumbingError::MethodNotAllowed, state.now())
    } else {
        gateway
            .0
            .render_error_at(&PlumbingError::NotFound, state.now())
    }
}

/// The gateway, as app data for the default service.
struct GatewayRef(Arc<dyn Gateway>);

/// Starts the gateway's HTTP server on an already bound listener. The server handles
/// SIGTERM/SIGINT itself (graceful stop); [`crate::serve::Deployment`] handles signals for
/// several servers at once instead.
pub fn start(
    gateway: Arc<dyn Gateway>,
    state: AppState,
    listener: TcpListener,
) -> std::io::Result<Server> {
    build(gateway, state, listener, true)
}

/// Builds (and starts) the server; `signals`: whether actix stops it on SIGTERM/SIGINT.
pub(crate) fn build(
    gateway: Arc<dyn Gateway>,
    state: AppState,
    listener: TcpListener,
    signals: bool,
) -> std::io::Result<Server> {
    // Install the recorder before the first request is counted.
    let _ = crate::telemetry::prometheus();
    let data = web::Data::new(state.clone());
    let gateway_ref = web::Data::new(GatewayRef(gateway.clone()));
    let limit = state.config.body_limit;
    let plumbing = Plumbing::new(gateway.clone(), &state.config);
    let docs = crate::docs::Docs::for_gateway(&gateway, state.config.docs);
    let server = HttpServer::new(move || {
        let gw = gateway.clone();
        let docs = docs.clone();
        App::new()
            .app_data(data.clone())
            .app_data(gateway_ref.clone())
            .app_data(web::PayloadConfig::new(limit))
            .app_data(web::JsonConfig::default().limit(limit))
            .app_data(web::FormConfig::default().limit(limit))
            .configure(move |cfg| {
                // Before the gateway's routes: a dialect may register a catch-all scope.
                if let Some(docs) = &docs {
                    docs.configure(cfg);
                }
                configure(cfg, &gw);
            })
            .default_service(web::to(unrouted))
            .wrap(plumbing.clone())
    })
    .listen(listener)?
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);
    let server = if signals {
        server
    } else {
        server.disable_signals()
    };
    Ok(server.run())
}
