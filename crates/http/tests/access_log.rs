//! The access log's JSON lines: billhub's own JSON layer ([`telemetry::format_layer`]) writes
//! byte for byte what `tracing-subscriber`'s JSON format wrote before it (ops tooling parses
//! these lines): the lines of real requests through the plumbing, pinned as text, and a set of
//! events and spans with every kind of field value and awkward strings, against the stock
//! formatter run on the same events.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test as actix_test, web};
use billhub_http::config::LogFormat;
use billhub_http::middleware::Plumbing;
use billhub_http::telemetry::{self, LogQueue, QUEUE_BYTES};
use billhub_http::{Config, Gateway, PlumbingError};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::SubscriberExt;

type BoxLayer = Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync>;

/// An output that collects what is written.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The layer billhub installs for JSON.
fn ours(queue: LogQueue) -> BoxLayer {
    telemetry::format_layer(&LogFormat::Json, queue)
}

/// `tracing-subscriber`'s JSON format as billhub configured it before its own layer.
fn stock(queue: LogQueue) -> BoxLayer {
    Box::new(
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(queue),
    )
}

/// What `scenario` logs through `layer`, every line checked to have a timestamp of now's shape,
/// which is then replaced by `T`.
fn capture(layer: fn(LogQueue) -> BoxLayer, scenario: impl FnOnce()) -> String {
    let sink = Sink::default();
    let queue = LogQueue::start(sink.clone(), QUEUE_BYTES).unwrap();
    let subscriber = tracing_subscriber::registry().with(layer(queue.clone()));
    tracing::subscriber::with_default(subscriber, scenario);
    assert!(queue.flush(Duration::from_secs(10)));
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    without_timestamps(&text)
}

/// `text` with each line's timestamp (`"timestamp":"2026-12-05T12:59:00.123456Z"`, checked)
/// replaced by `T`.
fn without_timestamps(text: &str) -> String {
    let prefix = "{\"timestamp\":\"";
    let mut out = String::new();
    for line in text.lines() {
        let rest = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line}"));
        let (ts, rest) = rest.split_at(27);
        let b = ts.as_bytes();
        assert!(
            ts.ends_with('Z')
                && b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'T'
                && b[13] == b':'
                && b[16] == b':'
                && b[19] == b'.'
                && ts.bytes().filter(u8::is_ascii_digit).count() == 20,
            "timestamp {ts:?} in {line}"
        );
        let parsed =
            time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
                .unwrap();
        let age = time::OffsetDateTime::now_utc() - parsed;
        assert!(
            age >= time::Duration::ZERO && age < time::Duration::minutes(5),
            "{ts}"
        );
        out.push_str(prefix);
        out.push('T');
        out.push_str(rest);
        out.push('\n');
    }
    out
}

/// `text` with the values of `"latency_ms":` (they vary) replaced by `L`.
fn without_latency(text: &str) -> String {
    let key = "\"latency_ms\":";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let (head, tail) = rest.split_at(at + key.len());
        out.push_str(head);
        out.push('L');
        let end = tail
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap();
        assert!(end > 0, "a latency in {text}");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Requests through the plumbing.

struct TestGateway;

impl Gateway for TestGateway {
    fn name(&self) -> &'static str {
        "test-gw"
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:0"
    }

    fn configure(&self, _cfg: &mut web::ServiceConfig) {}

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        HttpResponse::build(err.status()).json(serde_json::json!({ "error": err.message() }))
    }
}

/// Three requests through [`Plumbing`]: `/healthz`-like, a bare 500, a 404; the lines logged.
fn requests(layer: fn(LogQueue) -> BoxLayer) -> String {
    let sink = Sink::default();
    let queue = LogQueue::start(sink.clone(), QUEUE_BYTES).unwrap();
    let subscriber = tracing_subscriber::registry().with(layer(queue.clone()));
    let _default = tracing::subscriber::set_default(subscriber);
    actix_web::rt::System::new().block_on(async {
        let config = Config::for_tests("sqlite://unused", billhub_store::MasterKey::generate());
        let gateway: Arc<dyn Gateway> = Arc::new(TestGateway);
        let app = actix_test::init_service(
            App::new()
                .route(
                    "/healthz",
                    web::get().to(|| async { HttpResponse::Ok().body("ok") }),
                )
                .route(
                    "/bills/{id}/fail",
                    web::post().to(|| async { HttpResponse::InternalServerError().finish() }),
                )
                .wrap(Plumbing::new(gateway, &config)),
        )
        .await;
        let res = actix_test::call_service(
            &app,
            actix_test::TestRequest::get()
                .uri("/healthz")
                .insert_header(("x-request-id", "req-1"))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = actix_test::call_service(
            &app,
            actix_test::TestRequest::post()
                .uri("/bills/B%22-1/fail?token=secret")
                .insert_header(("x-request-id", "req-2"))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let res = actix_test::call_service(
            &app,
            actix_test::TestRequest::get()
                .uri("/nowhere")
                .insert_header(("x-request-id", "req-3"))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    });
    drop(_default);
    assert!(queue.flush(Duration::from_secs(10)));
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    without_latency(&without_timestamps(&text))
}

#[test]
fn request_lines_are_pinned() {
    let expected = concat!(
        r#"{"timestamp":"T","level":"INFO","fields":{"message":"request finished"},"target":"billhub_http::middleware","span":{"gateway":"test-gw","latency_ms":L,"method":"GET","request_id":"req-1","route":"/healthz","status":200,"name":"request"}}"#,
        "\n",
        r#"{"timestamp":"T","level":"ERROR","fields":{"message":"handler answered an error without a body","status":500},"target":"billhub_http::middleware","span":{"gateway":"test-gw","method":"POST","request_id":"req-2","name":"request"}}"#,
        "\n",
        r#"{"timestamp":"T","level":"WARN","fields":{"message":"request finished"},"target":"billhub_http::middleware","span":{"gateway":"test-gw","latency_ms":L,"method":"POST","request_id":"req-2","route":"/bills/{id}/fail","status":500,"name":"request"}}"#,
        "\n",
        r#"{"timestamp":"T","level":"INFO","fields":{"message":"request finished"},"target":"billhub_http::middleware","span":{"gateway":"test-gw","latency_ms":L,"method":"GET","request_id":"req-3","route":"unmatched","status":404,"name":"request"}}"#,
        "\n",
    );
    assert_eq!(
        requests(stock),
        expected,
        "the stock format (the reference)"
    );
    assert_eq!(requests(ours), expected, "billhub's layer");
}

// ---------------------------------------------------------------------------------------------
// Every kind of field, span and string.

#[derive(Debug)]
struct Odd {
    #[allow(dead_code)]
    text: &'static str,
}

#[derive(Debug)]
struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("it \"failed\"\n\tbadly")
    }
}

impl std::error::Error for Failure {}

const NASTY: &str =
    "q\" b\\ nl\n cr\r tab\t nul\u{0} bell\u{7} esc\u{1b} del\u{7f} \u{2028} ចំនួន ü 😀 </script>";

fn everything() {
    use tracing::field::Empty;
    tracing::info!("outside any span");
    let request = tracing::info_span!(
        "request",
        gateway = "bill24-proxy",
        method = "GET",
        route = Empty,
        status = Empty,
        latency_ms = Empty,
        request_id = %"req-1",
    );
    let entered = request.enter();
    tracing::info!(tran_id = "T-1", "inside the handler");
    request.record("route", "/healthz");
    request.record("status", 200_u16);
    request.record("latency_ms", 0.123_f64);
    tracing::info!("request finished");
    drop(entered);
    // A span whose every field is recorded later; one recorded twice.
    let job = tracing::info_span!("job", n = Empty, z = 1_u8, a = Empty);
    let entered = job.enter();
    job.record("n", 1_u64);
    job.record("a", "first");
    job.record("a", "second");
    tracing::warn!(attempt = 3_i32, "job done");
    // A span inside it: the leaf is the line's span.
    let inner = tracing::error_span!("inner", nasty = NASTY, odd = ?Odd { text: NASTY });
    inner.in_scope(|| {
        tracing::error!(
            b = true,
            f = false,
            neg = -42_i64,
            big = u64::MAX,
            small = i64::MIN,
            one = 1.0_f64,
            tenth = 0.1_f64,
            huge = 1e300_f64,
            tiny = 5e-324_f64,
            nan = f64::NAN,
            inf = f64::INFINITY,
            wide = 170_141_183_460_469_231_731_687_303_715_884_105_727_i128,
            uwide = u128::MAX,
            text = NASTY,
            shown = %NASTY,
            debugged = ?NASTY,
            odd = ?Odd { text: NASTY },
            error = &Failure as &(dyn std::error::Error + 'static),
            bytes = &b"\x00\xffab"[..],
            r#type = "raw",
            "message with {} and \"quotes\"",
            NASTY
        );
    });
    // Explicit parents: an event of `job` logged inside `inner`, an explicit root event
    // (the stock format then shows the current span), an event of a span not entered.
    inner.in_scope(|| {
        tracing::info!(parent: &job, "to the job");
        tracing::info!(parent: None, "a root event");
    });
    drop(entered);
    let other = tracing::info_span!(
        "other",
        f = 2.5_f64,
        u = 7_u64,
        i = -7_i64,
        b = false,
        bytes = &b"\x01\x02"[..],
        wide = 5_u128,
        r#loop = "raw span field",
        s = %NASTY,
    );
    tracing::info!(parent: &other, "from outside");
    other.record("f", f64::NAN);
    other.record("status", 1_u16);
    tracing::info!(parent: &other, "after records");
    let empty = tracing::info_span!("empty");
    empty.in_scope(|| tracing::debug!(target: "custom::target", x = 1, "with a target"));
    tracing::trace!(target: "log", "a target named log");
}

#[test]
fn every_kind_of_field_is_written_as_the_stock_format_writes_it() {
    let reference = capture(stock, everything);
    let text = capture(ours, everything);
    assert_eq!(reference.lines().count(), 11, "{reference}");
    for (a, b) in reference.lines().zip(text.lines()) {
        assert_eq!(b, a);
    }
    assert_eq!(text, reference);
    // And every line is JSON.
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}

#[test]
fn the_stock_lines_are_pinned() {
    let text = capture(ours, || {
        let span = tracing::info_span!("request", gateway = "g", status = tracing::field::Empty);
        let _e = span.enter();
        tracing::error!(error = %"db \"down\"\n", code = 7, "failed");
        span.record("status", 503_u16);
        tracing::warn!("request finished");
    });
    assert_eq!(
        text,
        concat!(
            r#"{"timestamp":"T","level":"ERROR","fields":{"message":"failed","error":"db \"down\"\n","code":7},"target":"access_log","span":{"gateway":"g","name":"request"}}"#,
            "\n",
            r#"{"timestamp":"T","level":"WARN","fields":{"message":"request finished"},"target":"access_log","span":{"gateway":"g","status":503,"name":"request"}}"#,
            "\n",
        )
    );
}
