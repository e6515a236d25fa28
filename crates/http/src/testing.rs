//! Spawns a real gateway app on a loopback port over a test database (feature `testing`).

pub mod hostile;

use std::sync::Arc;

use actix_web::dev::ServerHandle;
use billhub_store::testing::TestDb;

use crate::clock::Clock;
use crate::config::Config;
use crate::gateway::Gateway;
use crate::state::AppState;
use crate::worker::{RoundReport, Worker};

/// A running gateway for black-box tests. Dropping it stops the server.
pub struct TestApp {
    pub base_url: String,
    pub state: AppState,
    pub gateway: Arc<dyn Gateway>,
    pub client: reqwest::Client,
    handle: ServerHandle,
}

impl TestApp {
    /// Starts `gateway` on 127.0.0.1:0 over `db`'s store with `clock`. Call inside an actix
    /// runtime (`#[actix_web::test]`).
    pub async fn spawn(gateway: Arc<dyn Gateway>, db: &TestDb, clock: Clock) -> TestApp {
        let config = Config::for_tests(&db.url, db.store.master_key().clone());
        Self::spawn_with(gateway, db, clock, config).await
    }

    /// Like [`TestApp::spawn`] with a custom configuration (body limit, sandbox, ...).
    pub async fn spawn_with(
        gateway: Arc<dyn Gateway>,
        db: &TestDb,
        clock: Clock,
        config: Config,
    ) -> TestApp {
        let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("cannot bind a test port: {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let state = AppState::new(db.store.clone(), clock, config);
        // Signals stay with the test harness (Ctrl-C ends the test run at once).
        let server = match crate::server::build(gateway.clone(), state.clone(), listener, false) {
            Ok(s) => s,
            Err(e) => panic!("cannot start the test server: {e}"),
        };
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            gateway,
            client: reqwest::Client::new(),
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// One round of the gateway's notification worker (none when it has no notifier).
    pub async fn run_worker_once(&self) -> RoundReport {
        match self.worker() {
            Some(w) => w.run_once().await,
            None => RoundReport::default(),
        }
    }

    /// The gateway's notification worker over this app's state (to tune its lease or batch,
    /// or to run two of them), when the gateway has a notifier.
    pub fn worker(&self) -> Option<Worker> {
        self.gateway
            .notifier()
            .map(|n| Worker::new(self.state.clone(), n))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

/// Runs an async test body once per backend, in modules named after the backend so the test
/// output names it: `http_backend_tests!(my_test);` makes `sqlite::my_test` and
/// `postgres::my_test`, each awaiting `my_test(TestDb)` with a fresh database inside an actix
/// runtime.
#[macro_export]
macro_rules! http_backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name(::billhub_store::testing::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name(::billhub_store::testing::TestDb::postgres()).await;
                }
            )*
        }
    };
}

/// The variable that makes [`check_openapi`] write the committed document instead of
/// comparing with it.
pub const BLESS_OPENAPI_VAR: &str = "BILLHUB_BLESS_OPENAPI";

/// The OpenAPI document as committed under `docs/openapi/`: pretty JSON with every object's
/// keys in sorted order, and a trailing newline.
pub fn openapi_json(doc: &utoipa::openapi::OpenApi) -> String {
    let mut value = match serde_json::to_value(doc) {
        Ok(v) => v,
        Err(e) => panic!("the OpenAPI document does not serialise: {e}"),
    };
    value.sort_all_objects();
    match serde_json::to_string_pretty(&value) {
        Ok(s) => s + "\n",
        Err(e) => panic!("the OpenAPI document does not serialise: {e}"),
    }
}

/// The drift check: compares `doc` (serialised by [`openapi_json`]) with the committed `file`,
/// a path relative to the workspace root (`docs/openapi/bill24.json`). With
/// `BILLHUB_BLESS_OPENAPI=1` it writes the file instead. A mismatch or a missing file panics
/// with the first differing line and the command that regenerates the file.
pub fn check_openapi(doc: &utoipa::openapi::OpenApi, file: &str) {
    let generated = openapi_json(doc);
    let path = workspace_root().join(file);
    if std::env::var(BLESS_OPENAPI_VAR).is_ok_and(|v| v == "1") {
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            panic!("cannot create {}: {e}", dir.display());
        }
        if let Err(e) = std::fs::write(&path, &generated) {
            panic!("cannot write {}: {e}", path.display());
        }
        return;
    }
    let regenerate = format!(
        "regenerate it with `{BLESS_OPENAPI_VAR}=1 cargo test -p <gateway crate> --test openapi` \
         and commit the result"
    );
    let committed = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            panic!("the committed OpenAPI document {file} cannot be read ({e}); {regenerate}")
        }
    };
    if committed != generated {
        let (line, was, now) = first_difference(&committed, &generated);
        panic!(
            "{file} differs from the document the code generates (first at line {line}:\n  \
             committed: {was}\n  generated: {now}\n); {regenerate}"
        );
    }
}

/// The 1-based number of the first line where `a` and `b` differ, and both lines there.
fn first_difference<'a>(a: &'a str, b: &'a str) -> (usize, &'a str, &'a str) {
    let mut left = a.lines();
    let mut right = b.lines();
    let mut n = 1;
    loop {
        match (left.next(), right.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (None, None) => return (n, "<end>", "<end>"),
            (x, y) => return (n, x.unwrap_or("<end>"), y.unwrap_or("<end>")),
        }
    }
}

/// The workspace root (two levels above this crate's manifest).
fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest.to_path_buf(), std::path::Path::to_path_buf)
}

/// Checks that `body`, answered with `status` to `method path` (`post`, `/proxy`), is described
/// by `doc`: the operation lists the status, and the body validates against its
/// `application/json` schema. Panics with the JSON path of every mismatch.
///
/// The validation covers what the gateways' documents use: `$ref` to `#/components/schemas`,
/// `type` (one or several), `enum`, `required`, `properties`, `additionalProperties`, `items`,
/// `oneOf` (exactly one match), `anyOf`, `allOf`, `minimum`/`maximum` (`pattern` and `format`
/// are not checked). It is stricter than JSON Schema in one way: an object whose schema lists
/// `properties` without `additionalProperties` may have no other property, so a field the
/// document does not name fails.
pub fn assert_answer_documented(
    doc: &utoipa::openapi::OpenApi,
    method: &str,
    path: &str,
    status: u16,
    body: &serde_json::Value,
) {
    let doc = document_value(doc);
    let operation = member(&doc, &["paths", path, method]);
    if operation.is_null() {
        panic!("{} {path} is not in the document", method.to_uppercase());
    }
    let response = member(operation, &["responses", &status.to_string()]);
    if response.is_null() {
        panic!(
            "{} {path} answered {status}, which the document does not list: {body}",
            method.to_uppercase()
        );
    }
    let schema = member(response, &["content", "application/json", "schema"]);
    if schema.is_null() {
        panic!(
            "{} {path} {status}: the document gives no JSON schema",
            method.to_uppercase()
        );
    }
    let mut errors = Vec::new();
    schema_errors(&doc, schema, body, "$", &mut errors);
    if !errors.is_empty() {
        panic!(
            "{} {path} answered {status} outside the document:\n  {}\nbody: {body}",
            method.to_uppercase(),
            errors.join("\n  ")
        );
    }
}

/// The document as JSON.
fn document_value(doc: &utoipa::openapi::OpenApi) -> serde_json::Value {
    match serde_json::to_value(doc) {
        Ok(v) => v,
        Err(e) => panic!("the OpenAPI document does not serialise: {e}"),
    }
}

/// The member at `keys` below `v`, or null.
fn member<'a>(v: &'a serde_json::Value, keys: &[&str]) -> &'a serde_json::Value {
    static NULL: serde_json::Value = serde_json::Value::Null;
    keys.iter().try_fold(v, |v, k| v.get(*k)).unwrap_or(&NULL)
}

/// The JSON Schema type name of a value (`integer` for whole numbers).
fn type_of(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Collects why `v` at `at` does not validate against `schema` (see
/// [`assert_answer_documented`]).
fn schema_errors(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    v: &serde_json::Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    use serde_json::Value;
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = reference
            .strip_prefix("#/components/schemas/")
            .map(|name| member(doc, &["components", "schemas", name]));
        match target {
            Some(s) if !s.is_null() => schema_errors(doc, s, v, at, errors),
            _ => errors.push(format!("{at}: unresolved reference {reference}")),
        }
        return;
    }
    composition_errors(doc, schema, v, at, errors);
    let actual = type_of(v);
    let allowed: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !allowed.is_empty()
        && !allowed
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"))
    {
        errors.push(format!("{at}: a {actual}, not {}", allowed.join(" or ")));
        return;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        errors.push(format!(
            "{at}: {v} is not one of {}",
            Value::from(values.clone())
        ));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{at}: {v} is below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{at}: {v} is above the maximum {max}"));
        }
    }
    match v {
        Value::Object(fields) => object_errors(doc, schema, fields, at, errors),
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    schema_errors(doc, s, item, &format!("{at}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

/// `allOf`, `oneOf` (exactly one) and `anyOf` (at least one).
fn composition_errors(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    v: &serde_json::Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    use serde_json::Value;
    let matches = |s: &Value| {
        let mut e = Vec::new();
        schema_errors(doc, s, v, at, &mut e);
        e.is_empty()
    };
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            schema_errors(doc, s, v, at, errors);
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let n = one.iter().filter(|s| matches(s)).count();
        if n != 1 {
            errors.push(format!(
                "{at}: matches {n} of the oneOf schemas, not exactly one"
            ));
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(matches)
    {
        errors.push(format!("{at}: matches none of the anyOf schemas"));
    }
}

/// `required`, `properties` and `additionalProperties` (strict when absent beside
/// `properties`).
fn object_errors(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    fields: &serde_json::Map<String, serde_json::Value>,
    at: &str,
    errors: &mut Vec<String>,
) {
    use serde_json::Value;
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !fields.contains_key(name) {
            errors.push(format!("{at}: the required `{name}` is missing"));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (name, value) in fields {
        let here = format!("{at}.{name}");
        match properties.and_then(|p| p.get(name)) {
            Some(s) => schema_errors(doc, s, value, &here, errors),
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(true)) => {}
                Some(s @ Value::Object(_)) => schema_errors(doc, s, value, &here, errors),
                Some(_) => errors.push(format!("{here}: not in the document")),
                None if properties.is_some() => {
                    errors.push(format!("{here}: not in the document"));
                }
                None => {}
            },
        }
    }
}

/// Checks that `body` validates against the component schema `name` of `doc` (for answers no
/// operation lists: the 404 of an unknown path, the 405 of a wrong method), as
/// [`assert_answer_documented`] validates.
pub fn assert_schema_documented(
    doc: &utoipa::openapi::OpenApi,
    name: &str,
    body: &serde_json::Value,
) {
    let doc = document_value(doc);
    let reference = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
    let mut errors = Vec::new();
    schema_errors(&doc, &reference, body, "$", &mut errors);
    if !errors.is_empty() {
        panic!(
            "the body does not match the schema {name}:\n  {}\nbody: {body}",
            errors.join("\n  ")
        );
    }
}

/// The `(method, path)` of every operation in `doc`, sorted (`("post", "/proxy")`).
pub fn documented_operations(doc: &utoipa::openapi::OpenApi) -> Vec<(String, String)> {
    let doc = document_value(doc);
    let mut ops = Vec::new();
    for (path, item) in member(&doc, &["paths"]).as_object().into_iter().flatten() {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                ops.push((method.to_string(), path.clone()));
            }
        }
    }
    ops.sort();
    ops
}

/// The `(method, path)` of every route a gateway's source registers, sorted: each
/// `.route("/path", web::method()...)` and each `web::resource("/path")` with its
/// `.route(web::method()...)` calls. For a test that the document lists exactly the routes of
/// `configure` (pass it `include_str!` of the file that registers them).
pub fn routes_in_source(source: &str) -> Vec<(String, String)> {
    /// The method of a `web::method()` at the start of `s`.
    fn method_at(s: &str) -> Option<&str> {
        let rest = s.trim_start().strip_prefix("web::")?;
        let end = rest.find("()")?;
        let m = rest.get(..end)?;
        ["get", "put", "post", "delete", "patch", "head"]
            .contains(&m)
            .then_some(m)
    }
    /// The string literal at the start of `s`, and what follows it.
    fn literal_at(s: &str) -> Option<(&str, &str)> {
        let rest = s.trim_start().strip_prefix('"')?;
        let end = rest.find('"')?;
        Some((rest.get(..end)?, rest.get(end + 1..)?))
    }
    let mut routes = Vec::new();
    let mut resource: Option<&str> = None;
    let mut rest = source;
    while let Some(i) = rest.find(['.', 'w']) {
        rest = rest.get(i..).unwrap_or_default();
        if let Some(after) = rest.strip_prefix("web::resource(") {
            resource = literal_at(after).map(|(p, _)| p);
        } else if let Some(after) = rest.strip_prefix(".route(") {
            if let Some((path, tail)) = literal_at(after) {
                let tail = tail.trim_start().strip_prefix(',').unwrap_or(tail);
                if let Some(m) = method_at(tail) {
                    routes.push((m.to_string(), path.to_string()));
                }
            } else if let (Some(m), Some(p)) = (method_at(after), resource) {
                routes.push((m.to_string(), p.to_string()));
            }
        }
        rest = rest.get(1..).unwrap_or_default();
    }
    routes.sort();
    routes.dedup();
    routes
}
