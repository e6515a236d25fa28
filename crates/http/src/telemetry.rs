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
//! ## The writer: non-blocking, lossless, bounded
//!
//! A request thread never writes to stderr itself: it formats its line (as before) and appends
//! it to an in-memory queue ([`LogQueue`]); one thread (`billhub-log`) takes everything queued
//! and writes it with one `write` call per batch, so under load many lines share a system call
//! and the request threads never wait for the disk, the pipe or the journal. The queue is
//! bounded ([`QUEUE_BYTES`], about 4,000 access-log lines): when the writer falls that far
//! behind (the output is slower than the request rate), a thread that logs waits until there
//! is room again. No line is ever dropped; the service then runs at the log's pace, as it did
//! with the blocking writer. [`flush`] waits until everything logged so far is written: the
//! panic hook calls it, and so should a process before it exits (a line still queued when
//! `main` returns is lost).
//!
//! ## The JSON format: written by hand
//!
//! JSON lines are written by billhub's own layer ([`json_log::JsonLog`]), byte for byte in
//! `tracing-subscriber`'s JSON format (`fmt::layer().json()` with the current span and no span
//! list: `timestamp`, `level`, `fields`, `target`, `span`), which ops tooling parses. It keeps
//! each span's values already written as JSON and writes an event's line straight into a
//! reusable buffer, where the stock formatter parsed every span's fields into a map for every
//! line; see [`json_log`] for the exact format. The text format is `tracing-subscriber`'s.
//!
//! Metrics go through the `metrics` facade into one Prometheus recorder per process
//! ([`prometheus`], installed once even when a process starts many apps, as tests and
//! `billhub up` do). [`render_metrics`] updates the pool gauges and renders the text format for
//! `GET /metrics`.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Config, LogFormat};
use crate::state::AppState;

pub mod json_log;

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
        let Some(queue) = stderr_queue() else {
            return false;
        };
        let result = tracing_subscriber::registry()
            .with(filter)
            .with(format_layer(&config.log_format, queue.clone()))
            .try_init();
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
                // The process may end right after this hook: the line must be out first.
                flush();
            }));
        }
        installed_now
    });
    installed_now
}

/// The formatting layer for `format`, writing its lines to `writer`. JSON: one object per line
/// with the event's `fields`, its current `span` (the request's fields, see
/// [`crate::middleware`]) and no span list ([`json_log::JsonLog`]); text:
/// `tracing-subscriber`'s default format.
pub fn format_layer<S, W>(
    format: &LogFormat,
    writer: W,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => Box::new(json_log::JsonLog::new(writer)),
        LogFormat::Text => Box::new(tracing_subscriber::fmt::layer().with_writer(writer)),
    }
}

/// Waits (at most [`FLUSH_TIMEOUT`]) until every line logged so far is written to stderr.
/// Call it before the process exits; a no-op when [`init`] did not install the writer.
pub fn flush() -> bool {
    match STDERR_QUEUE.get() {
        Some(Some(queue)) => queue.flush(FLUSH_TIMEOUT),
        _ => true,
    }
}

/// How long [`flush`] waits for the writer.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Bytes of log lines that may wait for the writer before a thread that logs waits too.
pub const QUEUE_BYTES: usize = 1024 * 1024;

static STDERR_QUEUE: OnceLock<Option<LogQueue>> = OnceLock::new();

/// The process's queue to stderr with its writer thread, started on first use. `None` when the
/// thread cannot be started (then nothing is installed and the default subscriber stays).
fn stderr_queue() -> Option<&'static LogQueue> {
    STDERR_QUEUE
        .get_or_init(|| match LogQueue::start(std::io::stderr(), QUEUE_BYTES) {
            Ok(queue) => Some(queue),
            Err(e) => {
                eprintln!("billhub: cannot start the log writer thread: {e}");
                None
            }
        })
        .as_ref()
}

/// Log lines on their way to the output (see the module docs): request threads append to
/// `pending`, the writer thread swaps it for its empty buffer and writes it out.
#[derive(Clone)]
pub struct LogQueue {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<Pending>,
    /// The writer waits on it for lines.
    lines: Condvar,
    /// Threads that log wait on it for room, [`LogQueue::flush`] for progress.
    written: Condvar,
    limit: usize,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// Bytes ever appended, and of those, written.
    appended: u64,
    written: u64,
    /// The writer waits for a first line (a new line must wake it).
    idle: bool,
    /// Someone waits for the output ([`LogQueue::flush`]): the writer must not linger.
    hurry: bool,
}

impl Shared {
    /// A queue this long wakes the writer even while it lingers.
    fn high_water(&self) -> usize {
        (self.limit / 4).max(1)
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LogQueue {
    /// Starts the writer thread for `out`; at most `limit` bytes wait for it.
    pub fn start<W: Write + Send + 'static>(out: W, limit: usize) -> std::io::Result<LogQueue> {
        let shared = Arc::new(Shared {
            state: Mutex::new(Pending::default()),
            lines: Condvar::new(),
            written: Condvar::new(),
            limit: limit.max(1),
        });
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("billhub-log".into())
            .spawn(move || write_out(&writer, out))?;
        Ok(LogQueue { shared })
    }

    /// Queues one line (or any bytes), waiting while the queue is full.
    pub fn push(&self, line: &[u8]) {
        let shared = &*self.shared;
        let mut st = shared.lock();
        while st.buf.len() >= shared.limit {
            st = shared
                .written
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let before = st.buf.len();
        st.buf.extend_from_slice(line);
        st.appended = st.appended.saturating_add(line.len() as u64);
        // Wake the writer only when it waits for a first line or the queue just got long:
        // otherwise it is lingering and takes this line with the others (one wake-up per
        // batch, not per line).
        let high = shared.high_water();
        let wake = (before == 0 && st.idle) || (before < high && st.buf.len() >= high);
        drop(st);
        if wake {
            shared.lines.notify_one();
        }
    }

    /// Waits until every byte queued before this call is written, at most `timeout`; whether
    /// it was.
    pub fn flush(&self, timeout: Duration) -> bool {
        let shared = &*self.shared;
        let deadline = Instant::now() + timeout;
        let mut st = shared.lock();
        let target = st.appended;
        if st.written < target {
            st.hurry = true;
            shared.lines.notify_one();
        }
        while st.written < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = shared
                .written
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// How long the writer lets lines gather after the first one before it writes them (unless
/// the queue gets long or [`flush`] is waiting): under load one wake-up and one `write` per
/// batch instead of per line.
pub const LINGER: Duration = Duration::from_millis(5);

/// The writer thread: waits for a first line, lets others gather for [`LINGER`], takes
/// everything queued and writes it in one call, until the process ends. A failed write (stderr
/// closed) drops that batch: there is nowhere to report it.
fn write_out<W: Write>(shared: &Shared, mut out: W) {
    let mut batch: Vec<u8> = Vec::new();
    let high = shared.high_water();
    let mut st = shared.lock();
    loop {
        while st.buf.is_empty() {
            st.idle = true;
            st = shared
                .lines
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        st.idle = false;
        if !st.hurry && st.buf.len() < high {
            st = shared
                .lines
                .wait_timeout_while(st, LINGER, |p| !p.hurry && p.buf.len() < high)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        st.hurry = false;
        std::mem::swap(&mut st.buf, &mut batch);
        let upto = st.appended;
        drop(st);
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        st = shared.lock();
        st.written = upto;
        shared.written.notify_all();
    }
}

impl<'a> MakeWriter<'a> for LogQueue {
    type Writer = &'a LogQueue;

    fn make_writer(&'a self) -> &'a LogQueue {
        self
    }
}

impl Write for &LogQueue {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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
    use tracing_subscriber::layer::SubscriberExt;

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

    /// An output that collects what is written, optionally stuck until released.
    #[derive(Clone, Default)]
    struct Sink {
        out: Arc<Mutex<Vec<u8>>>,
        gate: Option<Arc<Mutex<std::sync::mpsc::Receiver<()>>>>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Some(gate) = &self.gate {
                // Stuck until the test releases it (or drops the sender).
                let _ = gate.lock().unwrap().recv();
            }
            self.out.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.out.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn the_queue_writes_every_line_in_order_and_flush_waits_for_them() {
        let sink = Sink::default();
        let queue = LogQueue::start(sink.clone(), 256).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let q = queue.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        q.push(format!("t{t} line {i:03}\n").as_bytes());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(queue.flush(Duration::from_secs(10)));
        let text = sink.text();
        assert_eq!(text.lines().count(), 2000, "no line lost or split");
        for t in 0..4 {
            let mine: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(&format!("t{t} ")))
                .collect();
            let expected: Vec<String> = (0..500).map(|i| format!("t{t} line {i:03}")).collect();
            assert_eq!(mine, expected, "thread {t}'s lines in order, whole");
        }
    }

    #[test]
    fn a_stuck_output_does_not_hold_up_the_logging_thread_and_nothing_is_dropped() {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let sink = Sink {
            gate: Some(Arc::new(Mutex::new(gate))),
            ..Sink::default()
        };
        let queue = LogQueue::start(sink.clone(), 64).unwrap();
        // The writer takes the first line and gets stuck writing it; the next lines still go in
        // at once (this thread is not waiting for the output).
        queue.push(b"first\n");
        queue.push(b"second\n");
        queue.push(b"third\n");
        assert!(
            !queue.flush(Duration::from_millis(20)),
            "the output is stuck"
        );
        assert_eq!(sink.text(), "");
        // Past the bound a thread that logs waits for room instead of dropping lines.
        let q = queue.clone();
        let producer = std::thread::spawn(move || {
            for i in 0..100 {
                q.push(format!("more {i:02}\n").as_bytes());
            }
        });
        drop(release);
        producer.join().unwrap();
        assert!(queue.flush(Duration::from_secs(10)));
        let text = sink.text();
        let mut expected = vec!["first".to_string(), "second".into(), "third".into()];
        expected.extend((0..100).map(|i| format!("more {i:02}")));
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }

    /// The request span and event as the middleware makes them, through billhub's layer or
    /// (`ours` false) `tracing-subscriber`'s JSON format.
    fn access_log_line(json: bool, ours: bool) -> String {
        use tracing_subscriber::fmt::format::FmtSpan;
        let sink = Sink::default();
        let queue = LogQueue::start(sink.clone(), QUEUE_BYTES).unwrap();
        let layer: Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync> =
            match (json, ours) {
                (true, true) => format_layer(&LogFormat::Json, queue.clone()),
                (true, false) => Box::new(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_current_span(true)
                        .with_span_list(false)
                        .with_span_events(FmtSpan::NONE)
                        .with_writer(queue.clone()),
                ),
                (false, _) => format_layer(&LogFormat::Text, queue.clone()),
            };
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                gateway = "bill24-proxy",
                method = "GET",
                route = tracing::field::Empty,
                status = tracing::field::Empty,
                latency_ms = tracing::field::Empty,
                request_id = %"req-1",
            );
            let _entered = span.enter();
            tracing::info!(tran_id = "T-1", "inside the handler");
            span.record("route", "/healthz");
            span.record("status", 200_u16);
            span.record("latency_ms", 0.123_f64);
            tracing::info!("request finished");
            drop(_entered);
            // A span whose every field is recorded later (its fields start as `{}`).
            let job = tracing::info_span!("job", n = tracing::field::Empty);
            let _job = job.enter();
            job.record("n", 1_u64);
            tracing::info!("job done");
        });
        assert!(queue.flush(Duration::from_secs(10)));
        sink.text()
    }

    /// The text without its timestamps (they differ from run to run).
    fn without_timestamps(text: &str) -> String {
        text.lines()
            .map(
                |l| match (l.find("\"timestamp\":\""), l.find("\",\"level\"")) {
                    (Some(a), Some(b)) => format!("{}{}", &l[..a], &l[b + 2..]),
                    _ => l.split_once(' ').map_or(l, |(_, rest)| rest).to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_access_log_json_line_is_what_tracing_subscriber_writes() {
        let ours = access_log_line(true, true);
        let stock = access_log_line(true, false);
        assert_eq!(without_timestamps(&ours), without_timestamps(&stock));
        let last: serde_json::Value = serde_json::from_str(ours.lines().nth(1).unwrap()).unwrap();
        assert_eq!(last["level"], "INFO");
        assert_eq!(last["fields"]["message"], "request finished");
        assert_eq!(last["target"], "billhub_http::telemetry::tests");
        assert_eq!(
            last["span"],
            serde_json::json!({
                "gateway": "bill24-proxy",
                "method": "GET",
                "route": "/healthz",
                "status": 200,
                "latency_ms": 0.123,
                "request_id": "req-1",
                "name": "request",
            })
        );
        let first: serde_json::Value = serde_json::from_str(ours.lines().next().unwrap()).unwrap();
        assert_eq!(first["fields"]["tran_id"], "T-1");
        assert_eq!(
            first["span"],
            serde_json::json!({
                "gateway": "bill24-proxy",
                "method": "GET",
                "request_id": "req-1",
                "name": "request",
            })
        );
        let job: serde_json::Value = serde_json::from_str(ours.lines().nth(2).unwrap()).unwrap();
        assert_eq!(job["span"], serde_json::json!({ "n": 1, "name": "job" }));
        assert_eq!(ours.lines().count(), 3);
    }

    /// The text without its colours (`ESC [ ... m`).
    fn without_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn the_access_log_text_line_keeps_its_fields() {
        let text = without_ansi(&access_log_line(false, false));
        let last = text.lines().nth(1).unwrap();
        assert!(
            last.contains("request{gateway=\"bill24-proxy\" method=\"GET\" request_id=req-1 route=\"/healthz\" status=200 latency_ms=0.123}"),
            "{last}"
        );
        assert!(last.ends_with("request finished"), "{last}");
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
