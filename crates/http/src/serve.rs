//! Running one or several gateways in one process until a shutdown signal.
//!
//! A gateway binary serves one gateway ([`crate::run_main`]); `billhub up` serves all four
//! ([`serve_all`]). Both go through [`Deployment`]:
//!
//! 1. [`Deployment::bind`] binds every address first, so a taken port stops start-up before
//!    anything runs, with an error naming the gateway and the address. Each gateway gets the
//!    same store and clock and its own configuration ([`crate::AppState::for_bind`]): its bind
//!    address and, unless `BILLHUB_PUBLIC_URL` was set, its own `http://{bind}` link base.
//! 2. [`Deployment::run_until`] starts the servers, one notification worker per gateway that has
//!    a notifier, and one maintenance task (bill expiry and expired idempotency keys, every
//!    [`MAINTENANCE_EVERY`]).
//! 3. On the signal (SIGTERM or SIGINT for [`Deployment::run`]) every server stops accepting and
//!    in-flight requests finish (up to [`crate::server::SHUTDOWN_TIMEOUT_SECS`]); then the workers
//!    finish their round in progress (bounded by [`WORKER_STOP_TIMEOUT`]) and stop. Deliveries a
//!    worker could not finish keep their lease and are claimed again after it: nothing is lost.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::gateway::Gateway;
use crate::state::AppState;
use crate::worker::Worker;

/// How often a gateway's notification worker runs a round.
pub const WORKER_EVERY: Duration = Duration::from_secs(5);
/// How often due bills are expired.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);
/// How long shutdown waits for the workers' rounds in progress.
pub const WORKER_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// One gateway bound to its address.
struct Bound {
    gateway: Arc<dyn Gateway>,
    state: AppState,
    listener: TcpListener,
    addr: SocketAddr,
}

/// Gateways bound to their addresses, ready to run.
pub struct Deployment {
    bound: Vec<Bound>,
    base: AppState,
}

impl Deployment {
    /// Binds every gateway's address (port 0 picks a free port; see [`Deployment::addrs`]).
    pub fn bind(
        gateways: Vec<(Arc<dyn Gateway>, SocketAddr)>,
        state: AppState,
    ) -> anyhow::Result<Deployment> {
        let mut bound = Vec::with_capacity(gateways.len());
        for (gateway, addr) in gateways {
            let listener = TcpListener::bind(addr).map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                    " (the port is taken: stop what listens there, e.g. another billhub, or choose another address)"
                } else {
                    ""
                };
                anyhow::anyhow!("{}: cannot listen on {addr}: {e}{hint}", gateway.name())
            })?;
            let addr = listener.local_addr().map_err(|e| {
                anyhow::anyhow!(
                    "{}: cannot read the address bound for {addr}: {e}",
                    gateway.name()
                )
            })?;
            bound.push(Bound {
                state: state.for_bind(addr),
                gateway,
                listener,
                addr,
            });
        }
        Ok(Deployment { bound, base: state })
    }

    /// Each gateway's name and the address it listens on.
    pub fn addrs(&self) -> Vec<(&'static str, SocketAddr)> {
        self.bound
            .iter()
            .map(|b| (b.gateway.name(), b.addr))
            .collect()
    }

    /// The state a gateway's handlers get (its own bind and public URL).
    pub fn state(&self, gateway: &str) -> Option<&AppState> {
        self.bound
            .iter()
            .find(|b| b.gateway.name() == gateway)
            .map(|b| &b.state)
    }

    /// Serves until SIGTERM or SIGINT.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then stops gracefully (see the module docs). Returns
    /// an error when a server stopped on its own with one.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut handles = Vec::new();
        let mut running = FuturesUnordered::new();
        let mut tasks = Vec::new();
        for b in self.bound {
            let name = b.gateway.name();
            let server =
                crate::server::build(b.gateway.clone(), b.state.clone(), b.listener, false)
                    .map_err(|e| anyhow::anyhow!("{name}: cannot start on {}: {e}", b.addr))?;
            handles.push(server.handle());
            let join = actix_web::rt::spawn(server);
            running.push(async move { (name, join.await) });
            tracing::info!(
                gateway = name,
                bind = %b.addr,
                public_url = %b.state.config.public_url,
                "listening"
            );
            if let Some(notifier) = b.gateway.notifier() {
                tasks.push(
                    Worker::new(b.state.clone(), notifier)
                        .spawn_until(WORKER_EVERY, stop_rx.clone()),
                );
            }
        }
        tasks.push(spawn_maintenance(self.base.clone(), stop_rx.clone()));

        let mut failure: Option<anyhow::Error> = None;
        tokio::select! {
            _ = shutdown => tracing::info!("shutdown requested; finishing in-flight requests"),
            Some((name, ended)) = running.next() => {
                failure = server_failure(name, ended);
                tracing::error!(gateway = name, "a server stopped on its own; stopping the others");
            }
        }
        futures_util::future::join_all(handles.iter().map(|h| h.stop(true))).await;
        while let Some((name, ended)) = running.next().await {
            if let Some(e) = server_failure(name, ended) {
                failure.get_or_insert(e);
            }
        }
        let _ = stop_tx.send(true);
        for task in tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(WORKER_STOP_TIMEOUT, task)
                .await
                .is_err()
            {
                tracing::warn!("a background task did not stop in time; its leases will expire");
                abort.abort();
            }
        }
        tracing::info!("stopped");
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn server_failure(
    name: &str,
    ended: Result<std::io::Result<()>, tokio::task::JoinError>,
) -> Option<anyhow::Error> {
    match ended {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(anyhow::anyhow!("{name}: server failed: {e}")),
        Err(e) => Some(anyhow::anyhow!("{name}: server task failed: {e}")),
    }
}

/// Serves every gateway on its address in this process, with its notification worker, until
/// SIGTERM or SIGINT (`billhub up`). `state` is the base: each gateway gets it with its own
/// bind and public URL ([`AppState::for_bind`]).
///
/// ```no_run
/// # async fn up(gateways: Vec<std::sync::Arc<dyn billhub_http::Gateway>>) -> anyhow::Result<()> {
/// let config = billhub_http::Config::from_env("127.0.0.1:8081")?;
/// billhub_http::telemetry::init(&config);
/// let state = billhub_http::open_state(config)?;
/// billhub_http::serve_all(billhub_http::serve::default_binds(&gateways)?, state).await
/// # }
/// ```
pub async fn serve_all(
    gateways: Vec<(Arc<dyn Gateway>, SocketAddr)>,
    state: AppState,
) -> anyhow::Result<()> {
    Deployment::bind(gateways, state)?.run().await
}

/// Every gateway with its default address (`Gateway::default_bind`).
pub fn default_binds(
    gateways: &[Arc<dyn Gateway>],
) -> anyhow::Result<Vec<(Arc<dyn Gateway>, SocketAddr)>> {
    gateways
        .iter()
        .map(|g| {
            let addr = g.default_bind().parse::<SocketAddr>().map_err(|e| {
                anyhow::anyhow!(
                    "{}: default bind `{}` is not an address: {e}",
                    g.name(),
                    g.default_bind()
                )
            })?;
            Ok((g.clone(), addr))
        })
        .collect()
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = terminate => tracing::info!("SIGTERM received"),
    }
}

/// Expires bills past their valid-until and purges expired idempotency keys, one-time
/// authenticators (CSQ salts, SNAP external ids), postpaid transaction codes that expired
/// unused a day ago and idle console sessions, now and every
/// [`MAINTENANCE_EVERY`], until `stop`.
/// Safe with several processes on one store (expiry is idempotent).
fn spawn_maintenance(
    state: AppState,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(crate::worker::run_periodic(
        MAINTENANCE_EVERY,
        stop,
        move || {
            let state = state.clone();
            async move {
                let now = state.now();
                match state.run(move |s| s.expire_due_bills(now)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(bills = n, "expired bills past their valid-until"),
                    Err(e) => tracing::error!(error = %e, "cannot expire due bills"),
                }
                match state.run(move |s| s.purge_idempotency_keys(now)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(keys = n, "purged expired idempotency keys"),
                    Err(e) => tracing::error!(error = %e, "cannot purge idempotency keys"),
                }
                match state.run(move |s| s.purge_expired_nonces(now)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(nonces = n, "purged expired one-time authenticators"),
                    Err(e) => tracing::error!(error = %e, "cannot purge expired authenticators"),
                }
                match state
                    .run(move |s| s.purge_expired_postpaid_codes(now))
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::debug!(codes = n, "purged expired postpaid transaction codes")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot purge postpaid transaction codes")
                    }
                }
                match state.run(move |s| s.purge_console_sessions(now)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(sessions = n, "purged idle console sessions"),
                    Err(e) => tracing::error!(error = %e, "cannot purge console sessions"),
                }
            }
        },
    ))
}
