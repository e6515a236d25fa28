//! # billhub-http
//!
//! What every gateway needs and no dialect owns: configuration from the environment
//! ([`config`]), logs and metrics ([`telemetry`]), the app state with its clock and the blocking
//! bridge to the store ([`state`], [`clock`]), the middleware for request ids, body limits,
//! request timeouts, panics and error shapes ([`middleware`]), the server with `/healthz`,
//! `/readyz` and `/metrics` ([`server`]), running one or several gateways until a signal
//! ([`serve`]), one validation helper for every dialect's error shape ([`validation`]), exact
//! JSON money ([`json`]) and the outbox delivery worker ([`worker`]).
//!
//! A dialect implements [`Gateway`] (and [`Notifier`] when it sends notifications) and calls
//! [`run_main`] from its `main.rs`; `billhub up` calls [`serve_all`].
//!
//! ## Errors
//! Start-up errors are `anyhow` with the variable, gateway or address named. Inside requests,
//! plumbing failures (no route, wrong method, body too large, timeout, malformed body, panic)
//! are [`PlumbingError`]s that the gateway renders in its partner's shape: no answer of a
//! gateway is ever actix-web's plain-text default or an empty 500. Store errors are mapped by
//! each gateway; an internal one is logged with its cause and answered with the gateway's
//! generic error, never with the cause.

pub mod clock;
pub mod config;
pub mod console;
pub mod docs;
pub mod gateway;
pub mod json;
pub mod middleware;
pub mod pages;
pub mod serve;
pub mod server;
pub mod state;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validation;
pub mod worker;

pub use clock::Clock;
pub use config::Config;
pub use gateway::{Gateway, Notifier, OutboundRequest, PlumbingError, RetrySchedule};
pub use middleware::RequestId;
pub use serve::{Deployment, serve_all};
pub use state::AppState;
pub use validation::{FieldErrors, Lenient};

use std::sync::Arc;

/// Runs one gateway as a process: reads the configuration (naming a bad variable), sets up
/// logging, opens the store (running migrations unless `BILLHUB_MIGRATE=false`), serves until
/// SIGTERM/SIGINT with the gateway's notification worker, and stops gracefully.
pub fn run_main(gateway: Arc<dyn Gateway>) -> anyhow::Result<()> {
    let config = Config::from_env(gateway.default_bind())?;
    telemetry::init(&config);
    let result = actix_web::rt::System::new().block_on(async move {
        let state = open_state(config)?;
        let bind = state.config.bind;
        Deployment::bind(vec![(gateway, bind)], state)
            .map_err(|e| anyhow::anyhow!("BILLHUB_BIND: {e}"))?
            .run()
            .await
    });
    telemetry::flush();
    result
}

/// Opens the store for a configuration, with the clock it asks for ([`Config::clock`]: the
/// system clock unless the test-only `BILLHUB_CLOCK_SCALE` is set in the sandbox).
pub fn open_state(config: Config) -> anyhow::Result<AppState> {
    let store = billhub_store::Store::open(
        &config.database_url,
        config.master_key.clone(),
        billhub_store::PoolOptions {
            max_size: config.db_pool_size,
            ..billhub_store::PoolOptions::default()
        },
        config.migrate,
    )
    .map_err(|e| anyhow::anyhow!("BILLHUB_DATABASE_URL: {e}"))?;
    let clock = config.clock();
    if clock.scale() > 1 {
        tracing::warn!(
            scale = clock.scale(),
            "BILLHUB_CLOCK_SCALE: the app clock runs faster than real time (test-only, sandbox)"
        );
    }
    Ok(AppState::new(store, clock, config))
}
