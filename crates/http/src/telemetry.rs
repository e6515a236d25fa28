//! Logs and metrics.
//!
//! [`init`] installs the process-wide tracing subscriber: the filter comes from `BILLHUB_LOG`,
//! the format from `BILLHUB_LOG_FORMAT` (`text` for people, `json` one object per line for log
//! pipelines, or `auto`, the default: text when stderr is a terminal, JSON otherwise; the choice
//! is made once, in [`crate::config::log_format`]), written to stderr so that commands printing
//! `--json` keep stdout clean. It is idempotent:
//! `billhub up` and a gateway's `run_main` may both call it.
//!
//! What is logged: per request the method, the route *pattern* (never the raw path, which may
//! carry ids), status, latency, gateway and request id (see [`crate::middleware`]). Headers and
//! bodies are never logged: they carry bearer tokens, `Signature`, CSQ `SH` and personal data.
//!
//! Metrics go through the `metrics` facade into one Prometheus recorder per process
//! ([`prometheus`], installed once even when a process starts many apps, as tests and
//! `billhub up` do). [`render_metrics`] updates the pool gauges and renders the text format for
//! `GET /metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Config, LogFormat};
use crate::state::AppState;

/// Requests served: labels `gateway`, `method`, `route` (pattern), `status`.
pub const HTTP_REQUESTS: &str = "billhub_http_requests_total";
/// Request latency in seconds, same labels as [`HTTP_REQUESTS`].
pub const HTTP_DURATION: &str = "billhub_http_request_duration_seconds";
/// Connections the database pool holds (open).
pub const DB_POOL_CONNECTIONS: &str = "billhub_db_pool_connections";
/// Connections of the pool that are idle.
pub const DB_POOL_IDLE: &str = "billhub_db_pool_idle_connections";
/// The pool's maximum size.
pub const DB_POOL_MAX: &str = "billhub_db_pool_max_connections";
/// Notification attempts: labels `dialect`, `outcome` (`delivered`, `retry`, `failed`).
pub const NOTIFICATION_ATTEMPTS: &str = "billhub_notification_attempts_total";

/// Latency buckets (seconds) for [`HTTP_DURATION`].
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs logging once per process; later calls change nothing and return `false`.
///
/// The filter and format were validated by [`Config::from_env`]; an invalid filter here falls
/// back to `info`. A panic is logged as an error event (with its location) instead of the
/// default stderr text, so it reaches the log pipeline.
pub fn init(config: &Config) -> bool {
    static DONE: OnceLock<bool> = OnceLock::new();
    let mut installed_now = false;
    DONE.get_or_init(|| {
        let filter =
            EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
        let registry = tracing_subscriber::registry().with(filter);
        let result = match config.log_format {
            LogFormat::Json => registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_current_span(true)
                        .with_span_list(false)
                        .with_writer(std::io::stderr),
                )
                .try_init(),
            LogFormat::Text => registry
                .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
                .try_init(),
        };
        // Another subscriber may already be installed (a test harness, an embedding program):
        // then that one stays, and so does the default panic hook.
        installed_now = result.is_ok();
        if installed_now {
            std::panic::set_hook(Box::new(|info| {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                tracing::error!(panic = %panic_text(info.payload()), %location, "panic");
            }));
        }
        installed_now
    });
    installed_now
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-text panic payload)".to_string()
    }
}

/// The process's Prometheus recorder, installed on first use. `None` when another global
/// `metrics` recorder was installed first (then `/metrics` shows only the pool gauges).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_string()), LATENCY_BUCKETS)
                .and_then(|b| b.install_recorder());
            match installed {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot install the Prometheus recorder; /metrics shows the pool only");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::Unit;
    metrics::describe_counter!(HTTP_REQUESTS, Unit::Count, "HTTP requests served");
    metrics::describe_histogram!(HTTP_DURATION, Unit::Seconds, "HTTP request latency");
    metrics::describe_gauge!(
        DB_POOL_CONNECTIONS,
        Unit::Count,
        "Database pool connections open"
    );
    metrics::describe_gauge!(DB_POOL_IDLE, Unit::Count, "Database pool connections idle");
    metrics::describe_gauge!(DB_POOL_MAX, Unit::Count, "Database pool maximum size");
    metrics::describe_counter!(
        NOTIFICATION_ATTEMPTS,
        Unit::Count,
        "Outbound notification attempts by outcome"
    );
}

/// The Prometheus text for `GET /metrics`, with the pool gauges read now.
pub fn render_metrics(state: &AppState) -> String {
    let (open, idle) = state.store.pool_state();
    let max = state.store.pool_max_size();
    match prometheus() {
        Some(handle) => {
            metrics::gauge!(DB_POOL_CONNECTIONS).set(f64::from(open));
            metrics::gauge!(DB_POOL_IDLE).set(f64::from(idle));
            metrics::gauge!(DB_POOL_MAX).set(f64::from(max));
            handle.run_upkeep();
            handle.render()
        }
        None => format!(
            "# TYPE {DB_POOL_CONNECTIONS} gauge\n{DB_POOL_CONNECTIONS} {open}\n\
             # TYPE {DB_POOL_IDLE} gauge\n{DB_POOL_IDLE} {idle}\n\
             # TYPE {DB_POOL_MAX} gauge\n{DB_POOL_MAX} {max}\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::too_many_lines)]
    use super::*;

    #[test]
    fn init_is_idempotent() {
        let config = Config::for_tests("sqlite://unused", billhub_store::MasterKey::generate());
        let first = init(&config);
        let second = init(&config);
        assert!(!second, "a second init must not install anything");
        // The first call installs unless this test binary already has a subscriber.
        let _ = first;
        tracing::info!("logging still works after two inits");
    }

    #[test]
    fn panic_payloads_are_read() {
        let s: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert_eq!(panic_text(s.as_ref()), "boom");
        let s: Box<dyn std::any::Any + Send> = Box::new(String::from("bang"));
        assert_eq!(panic_text(s.as_ref()), "bang");
        let s: Box<dyn std::any::Any + Send> = Box::new(7_u8);
        assert_eq!(panic_text(s.as_ref()), "(non-text panic payload)");
    }
}
