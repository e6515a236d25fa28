//! The shared plumbing over real HTTP, on SQLite and PostgreSQL: health, readiness and metrics,
//! request ids, every plumbing error in the gateway's shape (404, 405, 400, 413 by length and
//! by a chunked body, 500 from a bare answer and from a panic, 504 with the store work still
//! committed), the notification worker against a local receiver (delivery, retries on the
//! schedule with a fixed clock, failure after the last attempt, leases between workers and
//! after a crash), and several gateways in one process with a graceful shutdown.
//!
//! No test sleeps for timing: the clock is fixed and moved by hand, slow handlers wait on a
//! gate the test opens.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration as StdDuration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use billhub_core::{Currency, Money, PaymentRule};
use billhub_http::gateway::RenderError;
use billhub_http::testing::TestApp;
use billhub_http::worker::{EVENT_ID_HEADER, Worker};
use billhub_http::{
    AppState, Clock, Config, Deployment, Gateway, Notifier, OutboundRequest, PlumbingError,
    RequestId, RetrySchedule,
};
use billhub_store::testing::TestDb;
use billhub_store::{
    AccountInput, Delivery, DeliveryRecord, NewBill, NewOrganization, OnRejection, PaymentRequest,
    PaymentTarget, Store,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-11-21 08:00:00 UTC);

// ---------------------------------------------------------------------------------------------
// A tiny gateway: its error shape is `{"error": message}` with the plumbing error's status.

/// Lets a blocking store closure wait until the test opens it, and tells the test it finished.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    done: Mutex<bool>,
    finished: Condvar,
}

impl Gate {
    fn wait_open(&self) {
        let guard = self.open.lock().unwrap();
        let _guard = self
            .opened
            .wait_timeout_while(guard, StdDuration::from_secs(60), |open| !*open)
            .unwrap();
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    fn mark_done(&self) {
        *self.done.lock().unwrap() = true;
        self.finished.notify_all();
    }

    /// Whether the closure finished (bounded so a broken test fails instead of hanging).
    fn wait_done(&self) -> bool {
        let guard = self.done.lock().unwrap();
        let (guard, _) = self
            .finished
            .wait_timeout_while(guard, StdDuration::from_secs(60), |done| !*done)
            .unwrap();
        *guard
    }
}

/// Holds a request in its handler until the test releases it (graceful shutdown).
struct Hold {
    entered: tokio::sync::mpsc::UnboundedSender<()>,
    entered_rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<()>>>,
    release: tokio::sync::Semaphore,
}

impl Default for Hold {
    fn default() -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        Hold {
            entered: tx,
            entered_rx: Mutex::new(Some(rx)),
            release: tokio::sync::Semaphore::new(0),
        }
    }
}

struct TestGateway {
    name: &'static str,
    gate: Arc<Gate>,
    hold: Arc<Hold>,
}

fn test_gateway(name: &'static str) -> Arc<TestGateway> {
    Arc::new(TestGateway {
        name,
        gate: Arc::default(),
        hold: Arc::default(),
    })
}

impl Gateway for TestGateway {
    fn name(&self) -> &'static str {
        self.name
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:0"
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.gate.clone()))
            .app_data(web::Data::new(self.hold.clone()))
            .route("/probe", web::get().to(probe))
            .route("/echo", web::post().to(echo))
            .route("/bytes", web::post().to(bytes))
            .route("/panic", web::get().to(panics))
            .route("/bare500", web::get().to(bare500))
            .route("/typed/{n}", web::get().to(typed))
            .route("/slow-write/{code}", web::post().to(slow_write))
            .route("/held", web::get().to(held))
            .route("/link", web::get().to(link))
            .service(web::resource("/only-get").route(web::get().to(probe)));
    }

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        HttpResponse::build(err.status()).json(json!({ "error": err.message() }))
    }

    fn notifier(&self) -> Option<Arc<dyn Notifier>> {
        Some(Arc::new(TestNotifier))
    }
}

async fn probe(id: RequestId, req: HttpRequest) -> HttpResponse {
    let seen = RequestId::of(&req).map(|r| r.to_string());
    HttpResponse::Ok().json(json!({ "request_id": id.as_str(), "in_extensions": seen }))
}

async fn echo(body: web::Json<Value>) -> HttpResponse {
    HttpResponse::Ok().json(body.into_inner())
}

async fn bytes(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "len": body.len() }))
}

async fn panics() -> HttpResponse {
    panic!("a handler bug");
}

async fn bare500() -> HttpResponse {
    HttpResponse::InternalServerError().finish()
}

async fn typed(n: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "n": n.into_inner() }))
}

/// Writes an organization on the blocking pool, after the test opens the gate.
async fn slow_write(
    state: web::Data<AppState>,
    gate: web::Data<Arc<Gate>>,
    code: web::Path<String>,
) -> HttpResponse {
    let gate = gate.get_ref().clone();
    let code = code.into_inner();
    let now = state.now();
    let written = state
        .run(move |s| {
            gate.wait_open();
            let org = s.create_organization(&new_org(&code), now);
            gate.mark_done();
            org
        })
        .await;
    match written {
        Ok(org) => HttpResponse::Ok().json(json!({ "id": org.id })),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn held(hold: web::Data<Arc<Hold>>) -> HttpResponse {
    let _ = hold.entered.send(());
    match hold.release.acquire().await {
        Ok(_permit) => HttpResponse::Ok().json(json!({ "held": "released" })),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn link(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "link": state.link("/b/x") }))
}

/// Claims the deliveries tagged `va`, posts the event payload to the target URL.
struct TestNotifier;

impl Notifier for TestNotifier {
    fn dialect(&self) -> &'static str {
        "va"
    }

    fn schedule(&self) -> RetrySchedule {
        RetrySchedule {
            delays: vec![time::Duration::minutes(1), time::Duration::minutes(5)],
        }
    }

    fn render(
        &self,
        _store: &Store,
        _config: &Config,
        delivery: &Delivery,
    ) -> Result<OutboundRequest, RenderError> {
        Ok(OutboundRequest {
            url: delivery.target_url.clone(),
            content_type: "application/json".into(),
            headers: vec![("X-Test-Kind".into(), delivery.event.kind.clone())],
            body: delivery.event.payload.clone().into_bytes(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn new_org(code: &str) -> NewOrganization {
    NewOrganization {
        code: Some(code.to_string()),
        name: format!("Org {code}"),
        utc_offset: time::UtcOffset::UTC,
        locale: "en".into(),
        settlement: None,
        va_prefixes: vec![],
    }
}

async fn spawn(db: &TestDb) -> TestApp {
    TestApp::spawn(test_gateway("plumbing"), db, Clock::fixed(T0)).await
}

async fn spawn_with(db: &TestDb, tune: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::for_tests(&db.url, db.store.master_key().clone());
    tune(&mut config);
    TestApp::spawn_with(test_gateway("plumbing"), db, Clock::fixed(T0), config).await
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = app.client.get(app.url(path)).send().await.unwrap();
    split(resp).await
}

async fn split(resp: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

fn request_id(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .expect("every answer carries X-Request-Id")
        .to_str()
        .unwrap()
        .to_string()
}

/// Sends raw bytes and reads the answer until the server closes (`Connection: close`).
/// Blocking std I/O on a helper thread: the server runs on its own worker threads.
async fn raw(app: &TestApp, request: Vec<u8>) -> (u16, String) {
    let addr = app.base_url.trim_start_matches("http://").to_string();
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(StdDuration::from_secs(30)))
            .unwrap();
        // The server may answer before it has read everything; the answer is what counts.
        let _ = s.write_all(&request);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .unwrap()
}

/// A chunked request of `chunks` chunks of `size` bytes each.
fn chunked(path: &str, content_type: &str, chunks: usize, size: usize) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    // A JSON string spread over the chunks: `"aaaa...a"`.
    let mut body = vec![b'a'; chunks * size];
    body[0] = b'"';
    let last = body.len() - 1;
    body[last] = b'"';
    for part in body.chunks(size) {
        r.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        r.extend_from_slice(part);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

/// A local webhook receiver: records what it gets, answers with a settable status.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    status: Arc<AtomicU16>,
    handle: ServerHandle,
}

#[derive(Debug, Clone)]
struct Seen {
    event_id: String,
    kind: String,
    body: String,
}

impl Receiver {
    async fn spawn() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let (seen2, status2) = (seen.clone(), status.clone());
        let server = HttpServer::new(move || {
            let (seen, status) = (seen2.clone(), status2.clone());
            App::new().route(
                "/hook",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let (seen, status) = (seen.clone(), status.clone());
                    async move {
                        let header = |n: &str| {
                            req.headers()
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string()
                        };
                        seen.lock().unwrap().push(Seen {
                            event_id: header(EVENT_ID_HEADER),
                            kind: header("X-Test-Kind"),
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        let code = StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap();
                        HttpResponse::build(code).body("ok")
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            seen,
            status,
            handle,
        }
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// An organization whose `va.webhook_url` is the receiver, with `payments` paid bills: one
/// `payment.received` delivery tagged `va` each. Returns the organization id.
async fn org_with_deliveries(app: &TestApp, code: &str, hook: &str, payments: usize) -> i64 {
    let (code, hook) = (code.to_string(), hook.to_string());
    let now = app.state.now();
    app.state
        .run(move |s| {
            let org = s.create_organization(&new_org(&code), now)?;
            s.set_setting(org.id, "va.webhook_url", &hook, now)?;
            for i in 0..payments {
                let (_, bill) = s.create_bill_for_account(
                    &AccountInput {
                        code: format!("ACC{i}"),
                        name: "Payer".into(),
                        ..AccountInput::default()
                    },
                    &NewBill {
                        organization_id: org.id,
                        account_id: 0,
                        collection_id: None,
                        invoice_number: None,
                        ref1: String::new(),
                        ref2: String::new(),
                        name: format!("Bill {i}"),
                        description: String::new(),
                        currency: Currency::USD,
                        billed: 10_000,
                        items: vec![],
                        bill_date: now.date(),
                        due_date: None,
                        valid_until: None,
                        rule: PaymentRule::Exact,
                        source: "cli".into(),
                        extra: "{}".into(),
                        va_numbers: vec![],
                    },
                    now,
                )?;
                let reference = format!("{code}-ref-{i}");
                s.post_payment(
                    &PaymentRequest {
                        organization_id: org.id,
                        channel: "sandbox".into(),
                        channel_ref: reference.clone(),
                        request_hash: billhub_store::fingerprint(&[&reference, "100.00"]),
                        target: PaymentTarget::Bill { bill_id: bill.id },
                        amount: Money::from_minor(10_000, Currency::USD),
                        fee: 0,
                        method: "test".into(),
                        payer_name: String::new(),
                        details: "{}".into(),
                        paid_at: now,
                        on_rejection: OnRejection::Refuse,
                    },
                    now,
                )?;
            }
            Ok(org.id)
        })
        .await
        .unwrap()
}

async fn deliveries(app: &TestApp, org: i64) -> Vec<DeliveryRecord> {
    app.state
        .run(move |s| s.deliveries_for_organization(org))
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.dialect == "va")
        .collect()
}

async fn event_uid(app: &TestApp, event_id: i64) -> String {
    app.state
        .run(move |s| s.notification_event(event_id))
        .await
        .unwrap()
        .uid
}

// ---------------------------------------------------------------------------------------------
// Health, readiness, metrics.

async fn health_ready_and_metrics(db: TestDb) {
    let app = spawn(&db).await;
    let (status, _, body) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "status": "ok" }));

    let (status, _, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], db.backend().name());

    assert_eq!(get(&app, "/probe").await.0, StatusCode::OK);
    assert_eq!(
        get(&app, "/nope/secret-token-123").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&app, "/typed/7").await.0, StatusCode::OK);

    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = resp.text().await.unwrap();
    let has = |prefix: &str, parts: &[&str]| {
        text.lines()
            .any(|l| l.starts_with(prefix) && parts.iter().all(|p| l.contains(p)))
    };
    let ours = r#"gateway="plumbing""#;
    assert!(
        has(
            "billhub_http_requests_total{",
            &[
                ours,
                r#"route="/probe""#,
                r#"status="200""#,
                r#"method="GET""#
            ]
        ),
        "{text}"
    );
    // Labelled by the route pattern, not the raw path.
    assert!(
        has(
            "billhub_http_requests_total{",
            &[ours, r#"route="/typed/{n}""#, r#"status="200""#]
        ),
        "{text}"
    );
    assert!(
        has(
            "billhub_http_requests_total{",
            &[ours, r#"route="unmatched""#, r#"status="404""#]
        ),
        "{text}"
    );
    assert!(
        !text.contains("secret-token-123"),
        "raw paths must not leak"
    );
    assert!(
        has(
            "billhub_http_request_duration_seconds_bucket{",
            &[ours, r#"route="/probe""#, r#"le="#]
        ),
        "{text}"
    );
    assert!(
        has(
            "billhub_http_request_duration_seconds_count{",
            &[ours, r#"route="/probe""#]
        ),
        "{text}"
    );
    for gauge in [
        "billhub_db_pool_connections ",
        "billhub_db_pool_idle_connections ",
        "billhub_db_pool_max_connections ",
    ] {
        assert!(has(gauge, &[]), "{gauge} missing in {text}");
    }
    assert!(text.contains("# TYPE billhub_http_requests_total counter"));
    assert!(text.contains("# TYPE billhub_http_request_duration_seconds histogram"));
}

// ---------------------------------------------------------------------------------------------
// Request ids.

async fn request_ids(db: TestDb) {
    let app = spawn(&db).await;

    // A sane incoming id is kept, echoed and given to the handler.
    let resp = app
        .client
        .get(app.url("/probe"))
        .header("X-Request-Id", "abc-123.DEF_4")
        .send()
        .await
        .unwrap();
    let (status, headers, body) = split(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(request_id(&headers), "abc-123.DEF_4");
    assert_eq!(body["request_id"], "abc-123.DEF_4");
    assert_eq!(body["in_extensions"], "abc-123.DEF_4");

    // No id, an id with a space, an id too long: a new uuid v7 each time.
    let mut ids = Vec::new();
    for incoming in [None, Some("has space"), Some(&*"x".repeat(65))] {
        let mut req = app.client.get(app.url("/probe"));
        if let Some(v) = incoming {
            req = req.header("X-Request-Id", v);
        }
        let (_, headers, body) = split(req.send().await.unwrap()).await;
        let id = request_id(&headers);
        assert_eq!(body["request_id"], id.as_str());
        let uuid = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(uuid.get_version_num(), 7, "{id}");
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "every request gets its own id");

    // Errors carry the id too.
    let resp = app
        .client
        .get(app.url("/nope"))
        .header("X-Request-Id", "err-1")
        .send()
        .await
        .unwrap();
    let (status, headers, _) = split(resp).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(request_id(&headers), "err-1");
}

// ---------------------------------------------------------------------------------------------
// Plumbing errors in the gateway's shape.

async fn errors_in_the_gateway_shape(db: TestDb) {
    let app = spawn(&db).await;

    let (status, _, body) = get(&app, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({ "error": "No such endpoint." }));

    // A bad path segment (actix's PathError) is a 404 in the gateway's shape too.
    let (status, _, body) = get(&app, "/typed/abc").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({ "error": "No such endpoint." }));

    // Wrong method: on a `cfg.route` path (through the default service) and on a resource.
    let method_not_allowed = json!({ "error": "Method not allowed for this endpoint." });
    let resp = app.client.post(app.url("/probe")).send().await.unwrap();
    let (status, _, body) = split(resp).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, method_not_allowed);
    let resp = app
        .client
        .delete(app.url("/only-get"))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = split(resp).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, method_not_allowed);
    assert_eq!(headers["allow"], "GET");

    // Malformed JSON: actix's extractor error, rendered by the gateway (400).
    let resp = app
        .client
        .post(app.url("/echo"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, headers, body) = split(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("Json"), "{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );

    // A handler's bare 500 and a panic: the gateway's Internal.
    let internal = json!({ "error": "Internal error; retry later." });
    let (status, _, body) = get(&app, "/bare500").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, internal);
    let (status, headers, body) = get(&app, "/panic").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, internal);
    assert!(!request_id(&headers).is_empty());
    // The server survives the panic.
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
    assert_eq!(
        get(&app, "/panic").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(get(&app, "/probe").await.0, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Body limit.

async fn body_limit(db: TestDb) {
    let app = spawn_with(&db, |c| c.body_limit = 1024).await;
    let too_large = json!({ "error": "The request body is larger than 1024 bytes." });

    // Within the limit.
    let small = json!({ "a": "b".repeat(100) });
    let resp = app
        .client
        .post(app.url("/echo"))
        .json(&small)
        .send()
        .await
        .unwrap();
    let (status, _, body) = split(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, small);

    // Content-Length above the limit: refused before the handler.
    let large = json!({ "a": "b".repeat(4000) });
    let resp = app
        .client
        .post(app.url("/echo"))
        .json(&large)
        .send()
        .await
        .unwrap();
    let (status, headers, body) = split(resp).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body, too_large);
    assert!(!request_id(&headers).is_empty());

    // A declared length alone is enough: nothing of the body is sent or read.
    let (status, body) = raw(
        &app,
        b"POST /bytes HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n"
            .to_vec(),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), too_large);

    // Chunked bodies above the limit, read by the JSON and the bytes extractors.
    for path in ["/echo", "/bytes"] {
        let (status, body) = raw(&app, chunked(path, "application/json", 8, 256)).await;
        assert_eq!(status, 413, "{path}: {body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), too_large);
    }
    // A chunked body within the limit passes.
    let (status, body) = raw(&app, chunked("/bytes", "application/json", 4, 200)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "len": 800 })
    );
}

// ---------------------------------------------------------------------------------------------
// Request timeout.

async fn timeout_keeps_store_work(db: TestDb) {
    let gateway = test_gateway("plumbing");
    let gate = gateway.gate.clone();
    let mut config = Config::for_tests(&db.url, db.store.master_key().clone());
    config.request_timeout = StdDuration::from_millis(300);
    let app = TestApp::spawn_with(gateway, &db, Clock::fixed(T0), config).await;

    let resp = app
        .client
        .post(app.url("/slow-write/SLOWORG1"))
        .header("X-Request-Id", "slow-1")
        .send()
        .await
        .unwrap();
    let (status, headers, body) = split(resp).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        body,
        json!({ "error": "The request timed out; retry it with the same reference." })
    );
    assert_eq!(request_id(&headers), "slow-1");

    // The store work is still waiting at the gate: nothing written yet.
    let store = db.store.clone();
    let exists = move |store: Store| async move {
        tokio::task::spawn_blocking(move || store.organization_by_code("SLOWORG1"))
            .await
            .unwrap()
            .unwrap()
            .is_some()
    };
    assert!(!exists(store.clone()).await);

    // Released after the client got its 504, the write still runs to its commit.
    gate.open();
    let finished = tokio::task::spawn_blocking(move || gate.wait_done())
        .await
        .unwrap();
    assert!(finished, "the store work must finish after the timeout");
    assert!(exists(store).await, "the write committed after the timeout");

    // The server is fine afterwards.
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// The notification worker.

async fn worker_delivers(db: TestDb) {
    let app = spawn(&db).await;
    let receiver = Receiver::spawn().await;
    let org = org_with_deliveries(&app, "HOOKORG1", &receiver.url, 1).await;
    let records = deliveries(&app, org).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, "pending");

    let report = app.run_worker_once().await;
    assert_eq!(report.claimed, 1);
    assert_eq!(report.delivered, 1);
    assert_eq!(report.retried + report.failed, 0);

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].event_id, event_uid(&app, records[0].event_id).await);
    assert_eq!(seen[0].kind, "payment.received");
    let payload: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(payload["currency"], "USD");

    let after = deliveries(&app, org).await;
    assert_eq!(after[0].status, "delivered");
    assert_eq!(after[0].attempts, 1);
    assert_eq!(after[0].last_status, Some(200));

    // Nothing left to do.
    assert_eq!(app.run_worker_once().await.claimed, 0);
    assert_eq!(receiver.seen().len(), 1);
    receiver.stop().await;
}

async fn worker_retries_on_schedule_then_fails(db: TestDb) {
    let app = spawn(&db).await;
    let receiver = Receiver::spawn().await;
    receiver.answer(500);
    let org = org_with_deliveries(&app, "HOOKORG2", &receiver.url, 1).await;

    // Attempt 1 fails: retried after delays[0] = 1 minute.
    let report = app.run_worker_once().await;
    assert_eq!((report.claimed, report.retried), (1, 1));
    let d = &deliveries(&app, org).await[0];
    assert_eq!((d.status.as_str(), d.attempts), ("pending", 1));
    assert_eq!(d.next_attempt_at, T0 + time::Duration::minutes(1));
    assert_eq!(d.last_status, Some(500));
    assert!(d.last_error.contains("500"), "{}", d.last_error);

    // Not due yet.
    assert_eq!(app.run_worker_once().await.claimed, 0);
    app.clock().advance(time::Duration::seconds(59));
    assert_eq!(app.run_worker_once().await.claimed, 0);

    // Attempt 2 at +1 min fails: retried after delays[1] = 5 minutes.
    app.clock().advance(time::Duration::seconds(1));
    let report = app.run_worker_once().await;
    assert_eq!((report.claimed, report.retried), (1, 1));
    let d = &deliveries(&app, org).await[0];
    assert_eq!(d.attempts, 2);
    assert_eq!(
        d.next_attempt_at,
        T0 + time::Duration::minutes(1) + time::Duration::minutes(5)
    );

    // Attempt 3 (the last: 2 delays + 1) fails for good.
    app.clock().advance(time::Duration::minutes(5));
    let report = app.run_worker_once().await;
    assert_eq!((report.claimed, report.failed), (1, 1));
    let d = &deliveries(&app, org).await[0];
    assert_eq!((d.status.as_str(), d.attempts), ("failed", 3));
    assert_eq!(d.last_status, Some(500));

    // A failed delivery is never claimed again.
    app.clock().advance(time::Duration::days(1));
    assert_eq!(app.run_worker_once().await.claimed, 0);

    // Every attempt carried the same event id.
    let seen = receiver.seen();
    assert_eq!(seen.len(), 3);
    let uid = event_uid(&app, d.event_id).await;
    assert!(seen.iter().all(|s| s.event_id == uid));
    receiver.stop().await;
}

async fn worker_retry_then_delivered(db: TestDb) {
    let app = spawn(&db).await;
    let receiver = Receiver::spawn().await;
    receiver.answer(503);
    let org = org_with_deliveries(&app, "HOOKORG3", &receiver.url, 1).await;
    assert_eq!(app.run_worker_once().await.retried, 1);

    // The receiver recovers; a new worker (a restarted process) picks the delivery up from the
    // database when it is due.
    receiver.answer(200);
    app.clock().advance(time::Duration::minutes(1));
    let report = app.worker().unwrap().run_once().await;
    assert_eq!((report.claimed, report.delivered), (1, 1));
    let d = &deliveries(&app, org).await[0];
    assert_eq!((d.status.as_str(), d.attempts), ("delivered", 2));
    assert_eq!(receiver.seen().len(), 2);
    receiver.stop().await;
}

async fn workers_never_share_a_delivery(db: TestDb) {
    let app = spawn(&db).await;
    let receiver = Receiver::spawn().await;
    let org = org_with_deliveries(&app, "HOOKORG4", &receiver.url, 6).await;
    assert_eq!(deliveries(&app, org).await.len(), 6);

    // Two workers, the second on its own pool as another process would be, claiming one
    // delivery at a time, side by side.
    let a = app.worker().unwrap().with_batch(1, 1);
    let other = AppState::new(
        db.second_store(),
        app.clock().clone(),
        (*app.state.config).clone(),
    );
    let b = Worker::new(other, Arc::new(TestNotifier)).with_batch(1, 1);
    let mut claimed = 0;
    loop {
        let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
        assert!(ra.claimed <= 1 && rb.claimed <= 1);
        if ra.claimed + rb.claimed == 0 {
            break;
        }
        claimed += ra.claimed + rb.claimed;
        assert_eq!(ra.delivered, ra.claimed);
        assert_eq!(rb.delivered, rb.claimed);
    }
    assert_eq!(claimed, 6);
    let mut ids: Vec<String> = receiver.seen().into_iter().map(|s| s.event_id).collect();
    assert_eq!(ids.len(), 6, "each delivery sent exactly once");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    assert!(
        deliveries(&app, org)
            .await
            .iter()
            .all(|d| d.status == "delivered" && d.attempts == 1)
    );

    // A delivery claimed by one worker is not claimed by the other while the lease holds.
    let org2 = org_with_deliveries(&app, "HOOKORG5", &receiver.url, 1).await;
    let now = app.state.now();
    let held = db
        .store
        .claim_deliveries("va", now, time::Duration::seconds(60), 10)
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(b.run_once().await.claimed, 0);
    assert_eq!(a.run_once().await.claimed, 0);
    assert_eq!(deliveries(&app, org2).await[0].status, "pending");
    receiver.stop().await;
}

async fn lost_lease_is_reclaimed(db: TestDb) {
    let app = spawn(&db).await;
    let receiver = Receiver::spawn().await;
    let org = org_with_deliveries(&app, "HOOKORG6", &receiver.url, 1).await;

    // A worker claims the delivery for 60 s and dies before sending.
    let dead = db
        .store
        .claim_deliveries("va", T0, time::Duration::seconds(60), 10)
        .unwrap();
    assert_eq!(dead.len(), 1);

    // Until `locked_until` has passed nobody else takes it.
    assert_eq!(app.run_worker_once().await.claimed, 0);
    app.clock().advance(time::Duration::seconds(60));
    assert_eq!(app.run_worker_once().await.claimed, 0);

    // After it, the delivery is claimed again and delivered.
    app.clock().advance(time::Duration::seconds(1));
    let report = app.run_worker_once().await;
    assert_eq!((report.claimed, report.delivered), (1, 1));
    assert_eq!(receiver.seen().len(), 1);

    // The dead worker coming back cannot record anything: its lease is gone.
    let late = db
        .store
        .finish_delivery(
            &dead[0],
            app.state.now(),
            &billhub_store::DeliveryOutcome::Failed {
                error: "late".into(),
                status: None,
            },
        )
        .unwrap();
    assert!(!late);
    let d = &deliveries(&app, org).await[0];
    assert_eq!((d.status.as_str(), d.attempts), ("delivered", 1));
    receiver.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Several gateways in one process (`billhub up`), graceful shutdown.

async fn serve_all_and_graceful_shutdown(db: TestDb) {
    let mut config = Config::for_tests(&db.url, db.store.master_key().clone());
    // The default public URL (derived from the bind): each gateway gets its own.
    config.public_url = format!("http://{}", config.bind);
    let base = AppState::new(db.store.clone(), Clock::fixed(T0), config);
    let alpha = test_gateway("alpha");
    let beta = test_gateway("beta");
    let hold = beta.hold.clone();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let alpha_dyn: Arc<dyn Gateway> = alpha.clone();
    let beta_dyn: Arc<dyn Gateway> = beta.clone();
    let deployment = Deployment::bind(
        vec![(alpha_dyn.clone(), any), (beta_dyn.clone(), any)],
        base.clone(),
    )
    .unwrap();
    let addrs = deployment.addrs();
    assert_eq!(addrs.len(), 2);
    assert_eq!((addrs[0].0, addrs[1].0), ("alpha", "beta"));
    assert_ne!(addrs[0].1, addrs[1].1);
    let alpha_state = deployment.state("alpha").unwrap();
    assert_eq!(alpha_state.config.bind, addrs[0].1);
    assert_eq!(
        alpha_state.config.public_url,
        format!("http://{}", addrs[0].1)
    );

    // A taken port stops start-up with the gateway and the address named.
    let err = match Deployment::bind(vec![(alpha_dyn.clone(), addrs[0].1)], base.clone()) {
        Ok(_) => panic!("binding a taken port must fail"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("alpha"), "{err}");
    assert!(err.contains(&addrs[0].1.to_string()), "{err}");
    assert!(err.contains("taken"), "{err}");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = actix_web::rt::spawn(deployment.run_until(async {
        let _ = stop_rx.await;
    }));

    let client = reqwest::Client::new();
    for (name, addr) in &addrs {
        let resp = client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{name}");
        let body: Value = client
            .get(format!("http://{addr}/link"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["link"], format!("http://{addr}/b/x"), "{name}");
    }

    // A request in flight when shutdown starts still gets its answer.
    let mut entered = hold.entered_rx.lock().unwrap().take().unwrap();
    let in_flight = {
        let client = client.clone();
        let url = format!("http://{}/held", addrs[1].1);
        actix_web::rt::spawn(async move { client.get(url).send().await })
    };
    entered.recv().await.unwrap();
    stop_tx.send(()).unwrap();
    // Wait (for the condition, bounded) until the servers stop accepting: the idle one closes
    // its port at once, the busy one waits for its request.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(StdDuration::from_secs(2))
        .build()
        .unwrap();
    let alpha_health = format!("http://{}/healthz", addrs[0].1);
    let stopped_accepting = tokio::time::timeout(StdDuration::from_secs(20), async {
        while fresh.get(&alpha_health).send().await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(stopped_accepting.is_ok(), "the servers stop accepting");
    assert!(
        !running.is_finished(),
        "shutdown waits for the request in flight"
    );
    hold.release.add_permits(1);
    let resp = in_flight.await.unwrap().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["held"], "released");

    // Everything stops: servers, workers, maintenance.
    running.await.unwrap().unwrap();
    assert!(
        client
            .get(format!("http://{}/healthz", addrs[0].1))
            .send()
            .await
            .is_err(),
        "the servers are stopped"
    );
}

/// The hosted bill page and the receipt, as a person opens them from a dialect's link.
async fn hosted_bill_page_and_receipt(db: TestDb) {
    let app = spawn(&db).await;
    let store = &app.state.store;
    let org = store
        .create_organization(
            &NewOrganization {
                name: "Sekolah <Harapan> & Co".into(),
                utc_offset: time::UtcOffset::from_hms(7, 0, 0).unwrap(),
                ..new_org("PAGES001")
            },
            T0,
        )
        .unwrap();
    store.add_va_prefix(org.id, "009977", T0).unwrap();
    let new = billhub_store::NewBill {
        organization_id: org.id,
        account_id: 0,
        collection_id: None,
        invoice_number: Some("INV-77".into()),
        ref1: String::new(),
        ref2: String::new(),
        name: "SPP Jan 22".into(),
        description: "School fee <b>January</b>".into(),
        currency: Currency::IDR,
        billed: 10_000_000,
        items: vec![billhub_store::NewItem {
            name: "SPP Januari".into(),
            quantity: 1.into(),
            unit_price: 10_000_000,
            total: 10_000_000,
            product_id: None,
        }],
        bill_date: time::macros::date!(2025 - 09 - 01),
        due_date: Some(time::macros::date!(2025 - 09 - 30)),
        valid_until: None,
        rule: PaymentRule::Partial { minimum: None },
        source: "test".into(),
        extra: "{}".into(),
        va_numbers: vec![("009977".into(), "1234567890".into())],
    };
    let account = billhub_store::AccountInput {
        code: "1234567890".into(),
        name: "Budi Santoso".into(),
        phone: "0812-SECRET".into(),
        ..Default::default()
    };
    let (_, bill) = store.create_bill_for_account(&account, &new, T0).unwrap();

    let resp = app
        .client
        .get(app.url(&format!("/b/{}", bill.public_no)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("Sekolah &#60;Harapan&#62; &#38; Co")
            || page.contains("Sekolah &lt;Harapan&gt; &amp; Co"),
        "escaped: {page}"
    );
    assert!(!page.contains("<b>January</b>"), "descriptions are escaped");
    for needle in [
        "SPP Jan 22",
        "Unpaid",
        "Rp 100.000",
        "INV-77",
        "Budi Santoso",
        "0099771234567890",
        "SPP Januari",
        "30 September 2025",
    ] {
        assert!(page.contains(needle), "bill page lacks `{needle}`");
    }
    assert!(!page.contains("0812-SECRET"), "no contact details");

    let pay = |reference: &str, minor: i64| billhub_store::PaymentRequest {
        organization_id: org.id,
        channel: "va:1".into(),
        channel_ref: reference.into(),
        request_hash: billhub_store::fingerprint(&[reference]),
        target: billhub_store::PaymentTarget::Bill { bill_id: bill.id },
        amount: Money::from_minor(minor, Currency::IDR),
        fee: 0,
        method: "atm".into(),
        payer_name: "BUDI S".into(),
        details: "{}".into(),
        paid_at: T0,
        on_rejection: billhub_store::OnRejection::Refuse,
    };
    let p = store
        .post_payment(&pay("REF-1", 4_000_000), T0)
        .unwrap()
        .payment()
        .unwrap()
        .clone();
    let page = app
        .client
        .get(app.url(&format!("/b/{}", bill.public_no)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "Partially paid",
        "Rp 60.000",
        "Rp 40.000",
        "Bank transfer (virtual account)",
        &format!("/r/{}", p.uid),
    ] {
        assert!(
            page.contains(needle),
            "bill page after payment lacks `{needle}`"
        );
    }

    // Each page is one read snapshot.
    let before = store.transactions_started();
    let resp = app
        .client
        .get(app.url(&format!("/b/{}", bill.public_no)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(store.transactions_started() - before, 1, "bill page");
    let before = store.transactions_started();
    let resp = app
        .client
        .get(app.url(&format!("/r/{}", p.uid)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(store.transactions_started() - before, 1, "receipt");
    let receipt = resp.text().await.unwrap();
    for needle in [
        "Payment receipt",
        "Rp 40.000",
        "REF-1",
        "BUDI S",
        &format!("/b/{}", bill.public_no),
    ] {
        assert!(receipt.contains(needle), "receipt lacks `{needle}`");
    }
    store.post_payment(&pay("REF-2", 6_000_000), T0).unwrap();
    let page = app
        .client
        .get(app.url(&format!("/b/{}", bill.public_no)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(">Paid<") && !page.contains("0099771234567890"),
        "a paid bill shows no VA to pay"
    );

    for path in [
        "/b/NOPE1234",
        "/r/00000000-0000-0000-0000-000000000000",
        "/b/bad%20id",
    ] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert!(resp.text().await.unwrap().contains("not found"), "{path}");
    }
}

/// `BILLHUB_DB_POOL_SIZE` reaches the store a gateway opens.
async fn pool_size_from_the_configuration(db: TestDb) {
    for size in [3, 40] {
        let mut config = Config::for_tests(&db.url, db.store.master_key().clone());
        config.db_pool_size = size;
        let state = billhub_http::open_state(config).unwrap();
        assert_eq!(state.store.pool_max_size(), size);
    }
}

billhub_http::http_backend_tests!(
    pool_size_from_the_configuration,
    hosted_bill_page_and_receipt,
    health_ready_and_metrics,
    request_ids,
    errors_in_the_gateway_shape,
    body_limit,
    timeout_keeps_store_work,
    worker_delivers,
    worker_retries_on_schedule_then_fails,
    worker_retry_then_delivered,
    workers_never_share_a_delivery,
    lost_lease_is_reclaimed,
    serve_all_and_graceful_shutdown,
    worker_retries_a_transient_render_error,
    worker_never_sends_after_its_lease_expired,
);

/// `/readyz` answers 503 when the database is gone, while `/healthz` (the process) stays 200.
/// PostgreSQL only: the test drops the database under a running app.
#[actix_web::test]
async fn postgres_readyz_is_503_without_the_database() {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;

    let db = TestDb::postgres();
    let store = Store::open(
        &db.url,
        db.store.master_key().clone(),
        billhub_store::PoolOptions {
            max_size: 1,
            connection_timeout: StdDuration::from_secs(1),
            ..billhub_store::PoolOptions::default()
        },
        false,
    )
    .unwrap();
    let config = Config::for_tests(&db.url, db.store.master_key().clone());
    let state = AppState::new(store, Clock::fixed(T0), config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = billhub_http::server::start(test_gateway("plumbing"), state, listener).unwrap();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let client = reqwest::Client::new();
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    let admin_url = std::env::var("BILLHUB_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| billhub_store::testing::DEFAULT_TEST_POSTGRES_URL.to_string());
    let name = db.url.rsplit('/').next().unwrap().to_string();
    tokio::task::spawn_blocking(move || {
        let mut admin = diesel::PgConnection::establish(&admin_url).unwrap();
        admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .unwrap();
    })
    .await
    .unwrap();

    let resp = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "postgres");
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    handle.stop(false).await;
}

// ---------------------------------------------------------------------------------------------
// Issue 10: fast failure without the database (defect 8), render errors and leases in the
// worker (defect 9), the request's deadline in the store (defect 10).

/// This test dialect's answer when the store cannot be reached (`is_unavailable`).
const UNAVAILABLE: &str = "The service is unavailable; retry with the same reference.";

/// A gateway whose one route pays a bill through `state.flow` (one transaction), answering 503
/// `{"error": UNAVAILABLE}` when the store is unavailable.
struct PayGateway;

impl Gateway for PayGateway {
    fn name(&self) -> &'static str {
        "pay"
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:0"
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.route("/pay/{org}/{bill}/{reference}", web::post().to(pay));
    }

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        HttpResponse::build(err.status()).json(json!({ "error": err.message() }))
    }
}

fn sandbox_payment(org: i64, bill: i64, reference: &str, now: OffsetDateTime) -> PaymentRequest {
    PaymentRequest {
        organization_id: org,
        channel: "sandbox".into(),
        channel_ref: reference.to_string(),
        request_hash: billhub_store::fingerprint(&[reference, "10.00"]),
        target: PaymentTarget::Bill { bill_id: bill },
        amount: Money::from_minor(1_000, Currency::USD),
        fee: 0,
        method: "test".into(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: now,
        on_rejection: OnRejection::Refuse,
    }
}

async fn pay(state: web::Data<AppState>, path: web::Path<(i64, i64, String)>) -> HttpResponse {
    let (org, bill, reference) = path.into_inner();
    let now = state.now();
    let paid = state
        .flow(move |s: &Store| s.post_payment(&sandbox_payment(org, bill, &reference, now), now))
        .await;
    match paid {
        Ok(_) => HttpResponse::Ok().json(json!({ "paid": true })),
        Err(e) if e.is_unavailable() => {
            HttpResponse::ServiceUnavailable().json(json!({ "error": UNAVAILABLE }))
        }
        Err(_) => HttpResponse::InternalServerError().json(json!({ "error": "internal" })),
    }
}

/// An organization with one open USD bill of 100.00: (organization, bill).
async fn open_bill(store: &Store, code: &str) -> (i64, i64) {
    let (store, code) = (store.clone(), code.to_string());
    tokio::task::spawn_blocking(move || {
        let org = store.create_organization(&new_org(&code), T0).unwrap();
        let (_, bill) = store
            .create_bill_for_account(
                &AccountInput {
                    code: "ACC1".into(),
                    name: "Payer".into(),
                    ..AccountInput::default()
                },
                &NewBill {
                    organization_id: org.id,
                    account_id: 0,
                    collection_id: None,
                    invoice_number: None,
                    ref1: String::new(),
                    ref2: String::new(),
                    name: "Open bill".into(),
                    description: String::new(),
                    currency: Currency::USD,
                    billed: 10_000,
                    items: vec![],
                    bill_date: T0.date(),
                    due_date: None,
                    valid_until: None,
                    rule: PaymentRule::Open,
                    source: "cli".into(),
                    extra: "{}".into(),
                    va_numbers: vec![],
                },
                T0,
            )
            .unwrap();
        (org.id, bill.id)
    })
    .await
    .unwrap()
}

async fn post_pay(
    client: &reqwest::Client,
    base: &str,
    org: i64,
    bill: i64,
    reference: &str,
) -> (u16, Value) {
    let resp = client
        .post(format!("{base}/pay/{org}/{bill}/{reference}"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn stored_payment(store: &Store, reference: &str) -> bool {
    let (store, reference) = (store.clone(), reference.to_string());
    tokio::task::spawn_blocking(move || {
        store
            .payment_by_channel_ref("sandbox", &reference)
            .unwrap()
            .is_some()
    })
    .await
    .unwrap()
}

fn admin_execute(sql: String) {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;
    let admin_url = std::env::var("BILLHUB_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| billhub_store::testing::DEFAULT_TEST_POSTGRES_URL.to_string());
    let mut admin = diesel::PgConnection::establish(&admin_url).unwrap();
    admin.batch_execute(&sql).unwrap();
}

/// Defect 8: while the database refuses connections, a request through a pool with the
/// production timeouts (10 s) answers the dialect's unavailable shape within 2 s (asserted
/// < 5 s), and the pool recovers without a restart once the database is back; nothing
/// acknowledged is lost. PostgreSQL only: the test terminates the database's backends and
/// blocks new ones with `ALLOW_CONNECTIONS false`.
#[actix_web::test]
async fn postgres_requests_fail_fast_while_the_database_is_unreachable() {
    let db = TestDb::postgres();
    let (org, bill) = open_bill(&db.store, "FASTFAIL").await;
    let store = Store::open(
        &db.url,
        db.store.master_key().clone(),
        billhub_store::PoolOptions::default(),
        false,
    )
    .unwrap();
    let config = Config::for_tests(&db.url, db.store.master_key().clone());
    let state = AppState::new(store, Clock::fixed(T0), config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = billhub_http::server::start(Arc::new(PayGateway), state, listener).unwrap();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let client = reqwest::Client::new();
    assert_eq!(post_pay(&client, &base, org, bill, "FF-0").await.0, 200);

    let name = db.url.rsplit('/').next().unwrap().to_string();
    tokio::task::spawn_blocking(move || {
        admin_execute(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid();"
        ));
    })
    .await
    .unwrap();

    for i in 1..=3 {
        let started = std::time::Instant::now();
        let (status, body) = post_pay(&client, &base, org, bill, &format!("FF-{i}")).await;
        let took = started.elapsed();
        assert_eq!(status, 503, "request {i}: {body}");
        assert_eq!(body, json!({ "error": UNAVAILABLE }), "request {i}");
        assert!(
            took < StdDuration::from_secs(5),
            "request {i} took {took:?}"
        );
        let started = std::time::Instant::now();
        let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status().as_u16(), 503);
        assert!(started.elapsed() < StdDuration::from_secs(5));
    }

    let name = db.url.rsplit('/').next().unwrap().to_string();
    tokio::task::spawn_blocking(move || {
        admin_execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    })
    .await
    .unwrap();
    // The same gateway (no restart) pays again, and the retry of a refused reference succeeds.
    assert_eq!(post_pay(&client, &base, org, bill, "FF-1").await.0, 200);
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(
        stored_payment(&db.store, "FF-0").await,
        "acknowledged before the outage"
    );
    assert!(stored_payment(&db.store, "FF-1").await);
    assert!(!stored_payment(&db.store, "FF-2").await);
    handle.stop(false).await;
}

/// Defect 10: another process holds SQLite's write lock; a payment gives up by its request's
/// deadline (inside the 3 s request timeout, not after 64 attempts of a 15 s busy timeout) with
/// the dialect's unavailable answer, and nothing is written, then or later. Its retry with the
/// same reference, once the lock is free, pays once.
#[actix_web::test]
async fn sqlite_payment_gives_up_by_its_deadline_while_the_write_lock_is_held() {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;

    let db = TestDb::sqlite();
    let (org, bill) = open_bill(&db.store, "DEADLINE").await;
    let mut config = Config::for_tests(&db.url, db.store.master_key().clone());
    config.request_timeout = StdDuration::from_secs(3);
    let app = TestApp::spawn_with(Arc::new(PayGateway), &db, Clock::fixed(T0), config).await;

    let path = db.url.trim_start_matches("sqlite://").to_string();
    let mut holder = diesel::SqliteConnection::establish(&path).unwrap();
    holder.batch_execute("BEGIN IMMEDIATE").unwrap();

    let started = std::time::Instant::now();
    let (status, body) = post_pay(&app.client, &app.base_url, org, bill, "DL-1").await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body, json!({ "error": UNAVAILABLE }));
    assert!(took < StdDuration::from_secs(3), "took {took:?}");

    holder.batch_execute("ROLLBACK").unwrap();
    drop(holder);
    assert!(
        !stored_payment(&db.store, "DL-1").await,
        "nothing half-written"
    );
    // A write through the store now goes through at once: nobody is still waiting on the lock.
    let (first, _) = post_pay(&app.client, &app.base_url, org, bill, "DL-2").await;
    assert_eq!(first, 200);
    assert!(
        !stored_payment(&db.store, "DL-1").await,
        "the given-up payment never commits"
    );
    assert_eq!(
        post_pay(&app.client, &app.base_url, org, bill, "DL-1")
            .await
            .0,
        200
    );
    let bill_now = {
        let store = db.store.clone();
        tokio::task::spawn_blocking(move || store.bill(bill).unwrap())
            .await
            .unwrap()
    };
    assert_eq!(bill_now.paid, 2_000);
}

/// Renders like [`TestNotifier`]; its first `fail` renders read the store while the pool's only
/// connection is taken by the render itself: a transient store error (the pool timed out).
struct FlakyNotifier {
    fail: std::sync::atomic::AtomicUsize,
}

impl Notifier for FlakyNotifier {
    fn dialect(&self) -> &'static str {
        "va"
    }

    fn schedule(&self) -> RetrySchedule {
        TestNotifier.schedule()
    }

    fn render(
        &self,
        store: &Store,
        config: &Config,
        delivery: &Delivery,
    ) -> Result<OutboundRequest, RenderError> {
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            let id = delivery.event.id;
            store.snapshot(|_| store.notification_event(id))?;
        }
        TestNotifier.render(store, config, delivery)
    }
}

/// Defect 9: a transient store error while rendering is retried on the dialect's schedule (not
/// kept as failed for good), and the delivery is delivered once the store answers.
async fn worker_retries_a_transient_render_error(db: TestDb) {
    let app = spawn(&db).await;
    let receiver = Receiver::spawn().await;
    let org = org_with_deliveries(&app, "HOOKORG7", &receiver.url, 1).await;
    let small = Store::open(
        &db.url,
        db.store.master_key().clone(),
        billhub_store::PoolOptions {
            max_size: 1,
            min_idle: 0,
            connection_timeout: StdDuration::from_millis(300),
        },
        false,
    )
    .unwrap();
    let state = AppState::new(small, app.clock().clone(), (*app.state.config).clone());
    let worker = Worker::new(
        state,
        Arc::new(FlakyNotifier {
            fail: std::sync::atomic::AtomicUsize::new(1),
        }),
    );

    let report = worker.run_once().await;
    assert_eq!((report.claimed, report.retried, report.failed), (1, 1, 0));
    let d = &deliveries(&app, org).await[0];
    assert_eq!((d.status.as_str(), d.attempts), ("pending", 1));
    assert_eq!(d.next_attempt_at, T0 + time::Duration::minutes(1));
    assert!(d.last_error.contains("cannot render"), "{}", d.last_error);
    assert!(receiver.seen().is_empty());

    app.clock().advance(time::Duration::minutes(1));
    let report = worker.run_once().await;
    assert_eq!((report.claimed, report.delivered), (1, 1));
    let d = &deliveries(&app, org).await[0];
    assert_eq!((d.status.as_str(), d.attempts), ("delivered", 2));
    assert_eq!(receiver.seen().len(), 1);
    receiver.stop().await;
}

/// Renders like [`TestNotifier`] but takes (on the app clock) longer than the lease.
struct SlowNotifier {
    clock: Clock,
}

impl Notifier for SlowNotifier {
    fn dialect(&self) -> &'static str {
        "va"
    }

    fn schedule(&self) -> RetrySchedule {
        TestNotifier.schedule()
    }

    fn render(
        &self,
        store: &Store,
        config: &Config,
        delivery: &Delivery,
    ) -> Result<OutboundRequest, RenderError> {
        self.clock.advance(time::Duration::seconds(61));
        TestNotifier.render(store, config, delivery)
    }
}

/// Defect 9: the lease is checked right before sending: a delivery whose lease ran out while it
/// was rendered is not sent (another worker may hold it by then); it is claimed again and sent
/// once.
async fn worker_never_sends_after_its_lease_expired(db: TestDb) {
    let app = spawn(&db).await;
    let receiver = Receiver::spawn().await;
    let org = org_with_deliveries(&app, "HOOKORG8", &receiver.url, 1).await;
    let slow = Worker::new(
        app.state.clone(),
        Arc::new(SlowNotifier {
            clock: app.clock().clone(),
        }),
    )
    .with_lease(time::Duration::seconds(60));

    let report = slow.run_once().await;
    assert_eq!(report.claimed, 1);
    assert_eq!((report.delivered, report.retried, report.failed), (0, 0, 0));
    assert!(
        receiver.seen().is_empty(),
        "nothing sent after the lease expired"
    );
    let d = &deliveries(&app, org).await[0];
    assert_eq!((d.status.as_str(), d.attempts), ("pending", 0));

    // The lease has run out (the clock is at T0 + 61 s): another worker claims it and sends it.
    let report = app.run_worker_once().await;
    assert_eq!((report.claimed, report.delivered), (1, 1));
    assert_eq!(receiver.seen().len(), 1);
    receiver.stop().await;
}
