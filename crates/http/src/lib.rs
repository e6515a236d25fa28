//! # billhub-http
//!
//! What every gateway needs and no dialect owns: configuration from the environment
//! ([`config`]), the app state with its clock and the blocking bridge to the store ([`state`],
//! [`clock`]), the server with `/healthz`, `/readyz`, `/metrics`, body limits and graceful
//! shutdown ([`server`]), one validation helper for every dialect's error shape
//! ([`validation`]), exact JSON money ([`json`]) and the outbox delivery worker ([`worker`]).
//!
//! A dialect implements [`Gateway`] (and [`Notifier`] when it sends notifications) and calls
//! [`run_main`] from its `main.rs`.
//!
//! ## Errors
//! Start-up errors are `anyhow` with the variable or resource named. Inside requests, plumbing
//! failures are [`PlumbingError`]s that the gateway renders in its partner's shape; store errors
//! are mapped by each gateway.

pub mod clock;
pub mod config;
pub mod gateway;
pub mod json;
pub mod server;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validation;
pub mod worker;

pub use clock::Clock;
pub use config::Config;
pub use gateway::{Gateway, Notifier, OutboundRequest, PlumbingError, RetrySchedule};
pub use state::AppState;
pub use validation::FieldErrors;

use std::sync::Arc;

/// Runs one gateway as a process: reads the configuration (naming a bad variable), sets up
/// logging, opens the store (running migrations unless `BILLHUB_MIGRATE=false`), serves until
/// SIGTERM/SIGINT and runs the gateway's notification worker.
pub fn run_main(gateway: Arc<dyn Gateway>) -> anyhow::Result<()> {
    let config = Config::from_env(gateway.default_bind())?;
    actix_web::rt::System::new().block_on(async move {
        let state = open_state(config)?;
        let listener = std::net::TcpListener::bind(state.config.bind).map_err(|e| {
            anyhow::anyhow!("BILLHUB_BIND: cannot listen on {}: {e}", state.config.bind)
        })?;
        tracing::info!(gateway = gateway.name(), bind = %state.config.bind, "listening");
        if let Some(n) = gateway.notifier() {
            worker::Worker::new(state.clone(), n).spawn(std::time::Duration::from_secs(5));
        }
        server::start(gateway, state, listener)?.await?;
        Ok(())
    })
}

/// Opens the store for a configuration.
pub fn open_state(config: Config) -> anyhow::Result<AppState> {
    let store = billhub_store::Store::open(
        &config.database_url,
        config.master_key.clone(),
        billhub_store::PoolOptions::default(),
        config.migrate,
    )
    .map_err(|e| anyhow::anyhow!("BILLHUB_DATABASE_URL: {e}"))?;
    Ok(AppState::new(store, Clock::system(), config))
}
