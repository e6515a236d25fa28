//! `/openapi.json` and `/docs` over real HTTP, on SQLite and PostgreSQL: the document as the
//! gateway builds it, the Swagger UI page with every asset served locally (no external URL),
//! the gateway's own 404/405 shape for everything else, both gone with `BILLHUB_DOCS=false` or
//! without a document, each gateway's own document when several run in one process
//! (`billhub up`), `BILLHUB_DOCS` read like the other booleans, and the drift check.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use billhub_http::testing::{TestApp, check_openapi, openapi_json};
use billhub_http::{AppState, Clock, Config, Deployment, Gateway, PlumbingError};
use billhub_store::testing::TestDb;
use serde_json::{Value, json};
use time::macros::datetime;

/// A tiny gateway: one route, its error shape `{"error": message}`, a document when `doc`.
struct Tiny {
    name: &'static str,
    doc: bool,
}

fn document(title: &str) -> utoipa::openapi::OpenApi {
    serde_json::from_value(json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": {"/ping": {"get": {"responses": {"200": {"description": "pong"}}}}}
    }))
    .unwrap()
}

impl Gateway for Tiny {
    fn name(&self) -> &'static str {
        self.name
    }
    fn default_bind(&self) -> &'static str {
        "127.0.0.1:0"
    }
    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.route(
            "/ping",
            web::get().to(|| async { HttpResponse::Ok().body("pong") }),
        );
    }
    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        HttpResponse::build(err.status()).json(json!({ "error": err.message() }))
    }
    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        self.doc.then(|| document(self.name))
    }
}

fn tiny(name: &'static str, doc: bool) -> Arc<dyn Gateway> {
    Arc::new(Tiny { name, doc })
}

fn clock() -> Clock {
    Clock::fixed(datetime!(2026-12-05 08:00:00 UTC))
}

async fn spawn(db: &TestDb, gateway: Arc<dyn Gateway>, docs: bool) -> TestApp {
    let mut config = Config::for_tests(&db.url, db.store.master_key().clone());
    config.docs = docs;
    TestApp::spawn_with(gateway, db, clock(), config).await
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Status and JSON body of a request.
async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, v)
}

/// The values of `attr="..."` in `html`.
fn attribute_values(html: &str, attr: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect()
}

async fn serves_document_and_page(db: TestDb) {
    let app = spawn(&db, tiny("tiny", true), true).await;
    let c = client();

    // The document, exactly as the gateway builds it.
    let resp = c.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::to_value(document("tiny")).unwrap());

    // /docs sends the browser to /docs/, where the page's relative assets resolve.
    let resp = c.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 308);
    assert_eq!(resp.headers()["location"].to_str().unwrap(), "/docs/");

    let resp = c.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let mut assets: Vec<String> = attribute_values(&html, "src");
    assets.extend(attribute_values(&html, "href"));
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "{assets:?}"
    );
    for asset in &assets {
        assert!(
            !asset.contains("//") && !asset.starts_with('/'),
            "the page must load {asset} from itself, not from elsewhere"
        );
        let path = format!("/docs/{}", asset.trim_start_matches("./"));
        let resp = c.get(app.url(&path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert!(!resp.bytes().await.unwrap().is_empty(), "{path}");
    }
    // The page reads this server's document and asks no public validator.
    let init = c
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status().as_u16(), 200);
    let init = init.text().await.unwrap();
    assert!(init.contains("\"/openapi.json\""), "{init}");
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
    assert!(!init.contains("https://"), "{init}");

    // Everything else keeps the gateway's shape.
    let (status, body) = json_of(c.get(app.url("/docs/nope.js")).send().await.unwrap()).await;
    assert_eq!((status, body), (404, json!({"error": "No such endpoint."})));
    for path in ["/openapi.json", "/docs/", "/docs"] {
        let (status, body) = json_of(c.post(app.url(path)).send().await.unwrap()).await;
        assert_eq!(
            (status, body),
            (
                405,
                json!({"error": "Method not allowed for this endpoint."})
            ),
            "POST {path}"
        );
    }
    let (status, body) = json_of(c.get(app.url("/openapi.yaml")).send().await.unwrap()).await;
    assert_eq!((status, body), (404, json!({"error": "No such endpoint."})));
    // The gateway's own route is untouched.
    let resp = c.get(app.url("/ping")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().await.unwrap(), "pong");
}

/// With `BILLHUB_DOCS=false`, or for a gateway without a document, neither path exists.
async fn no_docs_when_switched_off_or_absent(db: TestDb) {
    let off = spawn(&db, tiny("tiny", true), false).await;
    let none = spawn(&db, tiny("bare", false), true).await;
    let c = client();
    for app in [&off, &none] {
        for path in ["/openapi.json", "/docs", "/docs/", "/docs/index.html"] {
            let (status, body) = json_of(c.get(app.url(path)).send().await.unwrap()).await;
            assert_eq!(
                (status, body),
                (404, json!({"error": "No such endpoint."})),
                "{path}"
            );
        }
        let resp = c.get(app.url("/ping")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
}

/// Several gateways in one process (`billhub up`): each port serves its own gateway's document.
async fn each_gateway_serves_its_own_document(db: TestDb) {
    let config = Config::for_tests(&db.url, db.store.master_key().clone());
    let base = AppState::new(db.store.clone(), clock(), config);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let deployment = Deployment::bind(
        vec![
            (tiny("alpha", true), any),
            (tiny("beta", true), any),
            (tiny("gamma", false), any),
        ],
        base,
    )
    .unwrap();
    let addrs = deployment.addrs();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = actix_web::rt::spawn(deployment.run_until(async {
        let _ = stop_rx.await;
    }));
    let c = client();
    for (name, addr) in &addrs {
        let (status, body) = json_of(
            c.get(format!("http://{addr}/openapi.json"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if *name == "gamma" {
            assert_eq!((status, body), (404, json!({"error": "No such endpoint."})));
        } else {
            assert_eq!(status, 200, "{name}");
            assert_eq!(body["info"]["title"], json!(name), "{name}");
        }
    }
    stop_tx.send(()).unwrap();
    running.await.unwrap().unwrap();
}

billhub_http::http_backend_tests!(
    serves_document_and_page,
    no_docs_when_switched_off_or_absent,
    each_gateway_serves_its_own_document,
);

/// `BILLHUB_DOCS`: on by default (unset or blank), read like the other booleans, a bad value
/// named.
#[test]
fn billhub_docs_is_read_like_the_other_booleans() {
    let key = "0000000000000000000000000000000000000000000000000000000000000001";
    let read = |docs: Option<&str>| {
        Config::from_lookup("127.0.0.1:8081", |k| match k {
            "BILLHUB_DATABASE_URL" => Some("postgres://x@h/db".into()),
            "BILLHUB_MASTER_KEY" => Some(key.into()),
            "BILLHUB_DOCS" => docs.map(str::to_string),
            _ => None,
        })
    };
    assert!(read(None).unwrap().docs);
    assert!(read(Some("")).unwrap().docs);
    assert!(read(Some("true")).unwrap().docs);
    assert!(!read(Some("false")).unwrap().docs);
    assert!(!read(Some("0")).unwrap().docs);
    let err = read(Some("maybe")).unwrap_err();
    assert_eq!(err.variable, "BILLHUB_DOCS");
    assert!(err.message.contains("maybe"), "{}", err.message);
}

/// The drift check passes on the committed bytes (sorted keys, pretty, trailing newline) and
/// fails, saying how to regenerate, on a difference or a missing file.
#[test]
fn drift_check_compares_with_the_committed_file() {
    let doc = document("drift");
    let text = openapi_json(&doc);
    assert!(text.ends_with("}\n"));
    assert!(text.starts_with("{\n  \"info\": {"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v, serde_json::to_value(&doc).unwrap());

    let rel = format!(
        "target/billhub-test-openapi/{}.json",
        uuid::Uuid::new_v4().simple()
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf();
    let abs = root.join(&rel);
    std::fs::create_dir_all(abs.parent().unwrap()).unwrap();

    let missing = std::panic::catch_unwind(|| check_openapi(&doc, &rel)).unwrap_err();
    let missing = missing.downcast_ref::<String>().unwrap();
    assert!(missing.contains("cannot be read"), "{missing}");
    assert!(missing.contains("BILLHUB_BLESS_OPENAPI=1"), "{missing}");

    std::fs::write(&abs, &text).unwrap();
    check_openapi(&doc, &rel);

    std::fs::write(&abs, text.replace("\"drift\"", "\"old\"")).unwrap();
    let drift = std::panic::catch_unwind(|| check_openapi(&doc, &rel)).unwrap_err();
    let drift = drift.downcast_ref::<String>().unwrap();
    assert!(drift.contains("differs"), "{drift}");
    assert!(drift.contains("\"title\": \"old\""), "{drift}");
    assert!(drift.contains("\"title\": \"drift\""), "{drift}");
    assert!(drift.contains("BILLHUB_BLESS_OPENAPI=1"), "{drift}");

    // Without the trailing newline it differs too.
    std::fs::write(&abs, text.trim_end()).unwrap();
    assert!(std::panic::catch_unwind(|| check_openapi(&doc, &rel)).is_err());
    std::fs::remove_file(&abs).unwrap();
}

/// The answer check fails on every kind of drift: a status not listed, a missing required
/// field, a field the document does not name, a wrong type, a value outside an enum, a oneOf
/// matched twice.
#[test]
fn answer_check_catches_drift() {
    use billhub_http::testing::{assert_answer_documented, assert_schema_documented};
    let doc: utoipa::openapi::OpenApi = serde_json::from_value(json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"post": {"responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}}}},
        "components": {"schemas": {
            "Thing": {"type": "object", "required": ["a"], "properties": {
                "a": {"type": "integer", "enum": [1, 2]},
                "b": {"type": ["string", "null"]},
                "n": {"type": "number", "minimum": 0},
                "list": {"type": "array", "items": {"oneOf": [
                    {"type": "object", "properties": {"k": {"type": "string"}}},
                    {"type": "object", "properties": {"k": {"type": "string"}, "v": {"type": "integer"}}}
                ]}}
            }}
        }}
    }))
    .unwrap();
    let ok = |body: Value| assert_answer_documented(&doc, "post", "/x", 200, &body);
    ok(json!({"a": 1}));
    ok(json!({"a": 2, "b": null, "n": 1.5, "list": [{"k": "x", "v": 1}]}));
    assert_schema_documented(&doc, "Thing", &json!({"a": 1, "b": "x"}));
    let fails = |status: u16, body: Value, says: &str| {
        let err = std::panic::catch_unwind(|| {
            assert_answer_documented(&doc, "post", "/x", status, &body);
        })
        .unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains(says), "{body}: {msg}");
    };
    fails(201, json!({"a": 1}), "does not list");
    fails(200, json!({"b": "x"}), "the required `a` is missing");
    fails(200, json!({"a": 1, "c": 1}), "$.c: not in the document");
    fails(200, json!({"a": "1"}), "$.a: a string, not integer");
    fails(200, json!({"a": 3}), "$.a: 3 is not one of [1,2]");
    fails(
        200,
        json!({"a": 1, "b": 5}),
        "$.b: a integer, not string or null",
    );
    fails(200, json!({"a": 1, "n": -1}), "below the minimum");
    fails(
        200,
        json!({"a": 1, "list": [{"k": "x"}]}),
        "$.list[0]: matches 2 of the oneOf",
    );
    fails(
        200,
        json!({"a": 1, "list": [{"k": 1}]}),
        "$.list[0]: matches 0 of the oneOf",
    );
    let err = std::panic::catch_unwind(|| {
        assert_answer_documented(&doc, "get", "/x", 200, &json!({"a": 1}));
    })
    .unwrap_err();
    assert!(
        err.downcast_ref::<String>()
            .unwrap()
            .contains("GET /x is not in the document")
    );
}

/// The routes a source registers, in both spellings actix offers.
#[test]
fn routes_in_source_reads_both_spellings() {
    use billhub_http::testing::routes_in_source;
    let source = r#"
        cfg.service(web::resource("/a").route(web::post().to(a)).default_service(web::to(m)))
            .service(
                web::resource("/b/{id}")
                    .route(web::get().to(b))
                    .route(web::delete().to(b)),
            );
        cfg.service(web::scope("").route("/c/{x}", web::get().to(c)).route(
            "/d",
            web::post().to(d),
        ));
    "#;
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect()
    };
    assert_eq!(
        routes_in_source(source),
        pairs(&[
            ("delete", "/b/{id}"),
            ("get", "/b/{id}"),
            ("get", "/c/{x}"),
            ("post", "/a"),
            ("post", "/d"),
        ])
    );
}
