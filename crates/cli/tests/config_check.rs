//! `billhub config check` on both backends: the effective configuration with secrets masked,
//! each bad variable named with exit 1, an unreachable database reported with exit 1, and
//! nothing written to the working directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation, and read JSON by index

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use billhub_store::testing::TestDb;
use serde_json::{Value, json};

const PASSWORD: &str = "Pw-c0nfig-Ch3ck-secret";

/// An empty working directory for one run, removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> WorkDir {
        let dir = std::env::temp_dir().join(format!(
            "billhub-config-check-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        WorkDir(dir)
    }

    /// Nothing was created in it.
    fn assert_empty(&self) {
        let entries: Vec<_> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(entries.is_empty(), "config check created {entries:?}");
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `billhub config check ARGS` in `dir` with only the given BILLHUB_* variables.
fn check(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_billhub"));
    cmd.current_dir(dir).args(["config", "check"]).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("BILLHUB_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run billhub")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The URL with a password added to its user (trust authentication ignores it).
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let user = user.split_once(':').map_or(user, |(u, _)| u);
    format!("{scheme}://{user}:{PASSWORD}@{host}")
}

#[test]
fn good_sqlite_configuration() {
    let db = TestDb::sqlite();
    let key = db.master_key().to_hex();
    let dir = WorkDir::new();
    let env = [
        ("BILLHUB_DATABASE_URL", db.url.as_str()),
        ("BILLHUB_MASTER_KEY", key.as_str()),
        ("BILLHUB_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
    ];
    let out = check(&dir.0, &env, &["--json"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let v = json_of(&out);
    assert_eq!(
        v,
        json!({
            "ok": true,
            "gateway": "bill24",
            "database_url": db.url,
            "backend": "sqlite",
            "bind": "127.0.0.1:8081",
            "public_url": "http://127.0.0.1:8081",
            "sandbox": false,
            "log_filter": "info",
            "log_format": "json",
            "migrate": true,
            "body_limit": 262_144,
            "request_timeout_secs": 30,
            "db_pool_size": 16,
            "docs": true,
            "trusted_proxies": ["10.0.0.0/8", "192.0.2.1"],
            "clock_scale": null,
            "master_key": "set (from BILLHUB_MASTER_KEY)",
            "master_key_id": db.master_key().id(),
            "old_master_key_ids": [],
            "database": {"reachable": true},
        })
    );
    assert!(!all_output(&out).contains(&key));

    // Text: the same facts, one a line.
    let out = check(&dir.0, &env, &[]);
    assert!(out.status.success(), "{}", all_output(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  backend: sqlite\n"), "{text}");
    assert!(
        text.contains("  master_key: set (from BILLHUB_MASTER_KEY)\n"),
        "{text}"
    );
    assert!(
        text.contains("  trusted_proxies: 10.0.0.0/8, 192.0.2.1\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  body_limit: 262144\n  request_timeout_secs: 30\n  db_pool_size: 16\n  docs: true\n"
        ),
        "{text}"
    );
    assert!(text.contains("database: answers\n"), "{text}");
    assert!(!all_output(&out).contains(&key));
    dir.assert_empty();
}

/// The embedded default: no key and no database yet. A gateway would create both; the check
/// creates neither, and says so.
#[test]
fn embedded_default_creates_nothing() {
    let dir = WorkDir::new();
    let out = check(&dir.0, &[], &["--json", "--gateway", "postpaid"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let v = json_of(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["backend"], "sqlite");
    assert_eq!(v["database_url"], "./var/billhub.sqlite3");
    assert_eq!(
        v["bind"],
        postpaid_gateway::gateway().default_bind(),
        "the gateway's default bind"
    );
    assert_eq!(
        v["master_key"],
        "not set: a gateway generates ./var/master.key on its first start"
    );
    assert_eq!(v["database"]["reachable"], Value::Null);
    assert_eq!(
        v["database"]["note"],
        "./var/billhub.sqlite3 does not exist yet: a gateway creates it on its first start"
    );
    dir.assert_empty();

    // An existing key file is read, never shown.
    let key = "00000000000000000000000000000000000000000000000000000000000000ab";
    std::fs::create_dir_all(dir.0.join("var")).unwrap();
    std::fs::write(dir.0.join("var/master.key"), key).unwrap();
    let out = check(&dir.0, &[], &["--json"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(
        json_of(&out)["master_key"],
        "generated file ./var/master.key"
    );
    assert!(!all_output(&out).contains(key));
    let mut left: Vec<_> = std::fs::read_dir(dir.0.join("var"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["master.key"]);
}

#[test]
fn good_postgres_configuration() {
    let db = TestDb::postgres();
    let key = db.master_key().to_hex();
    let url = with_password(&db.url);
    let dir = WorkDir::new();
    let env = [
        ("BILLHUB_DATABASE_URL", url.as_str()),
        ("BILLHUB_MASTER_KEY", key.as_str()),
        ("BILLHUB_PUBLIC_URL", "https://pay.example.com/"),
        ("BILLHUB_SANDBOX", "true"),
        ("BILLHUB_CLOCK_SCALE", "60"),
        ("BILLHUB_CLOCK_SCALE_FROM", "2026-01-31T08:00:00Z"),
        ("BILLHUB_LOG", "warn,billhub=debug"),
        ("BILLHUB_LOG_FORMAT", "text"),
        ("BILLHUB_MIGRATE", "false"),
        ("BILLHUB_BODY_LIMIT", "1048576"),
        ("BILLHUB_REQUEST_TIMEOUT", "12"),
        ("BILLHUB_DB_POOL_SIZE", "40"),
        ("BILLHUB_DOCS", "false"),
    ];
    let out = check(&dir.0, &env, &["--json", "--gateway", "collections"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let v = json_of(&out);
    let masked = url.replace(PASSWORD, "***");
    assert_eq!(
        v,
        json!({
            "ok": true,
            "gateway": "collections",
            "database_url": masked,
            "backend": "postgres",
            "bind": collections_api::gateway().default_bind(),
            "public_url": "https://pay.example.com",
            "sandbox": true,
            "log_filter": "warn,billhub=debug",
            "log_format": "text",
            "migrate": false,
            "body_limit": 1_048_576,
            "request_timeout_secs": 12,
            "db_pool_size": 40,
            "docs": false,
            "trusted_proxies": [],
            "clock_scale": {"factor": 60, "from": "2026-01-31T08:00:00Z"},
            "master_key": "set (from BILLHUB_MASTER_KEY)",
            "master_key_id": db.master_key().id(),
            "old_master_key_ids": [],
            "database": {"reachable": true},
        })
    );
    let all = all_output(&out);
    assert!(!all.contains(PASSWORD) && !all.contains(&key), "{all}");

    let out = check(&dir.0, &env, &[]);
    assert!(out.status.success(), "{}", all_output(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("  database_url: {masked}\n")),
        "{text}"
    );
    assert!(
        text.contains("  clock_scale: 60 (from 2026-01-31T08:00:00Z)\n"),
        "{text}"
    );
    let all = all_output(&out);
    assert!(!all.contains(PASSWORD) && !all.contains(&key), "{all}");
    dir.assert_empty();
}

/// Each bad variable alone: exit 1, the variable named on stderr and in `--json`.
#[test]
fn each_bad_variable_is_named() {
    let db = TestDb::sqlite();
    let key = db.master_key().to_hex();
    let dir = WorkDir::new();
    for (variable, value) in [
        ("BILLHUB_BIND", "nope"),
        ("BILLHUB_MASTER_KEY", "abcdef"),
        ("BILLHUB_LOG", "[[["),
        ("BILLHUB_SANDBOX", "maybe"),
        ("BILLHUB_BODY_LIMIT", "256k"),
        ("BILLHUB_REQUEST_TIMEOUT", "0"),
    ] {
        let mut env = vec![
            ("BILLHUB_DATABASE_URL", db.url.as_str()),
            ("BILLHUB_MASTER_KEY", key.as_str()),
        ];
        env.retain(|(k, _)| *k != variable);
        env.push((variable, value));
        let out = check(&dir.0, &env, &[]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{variable}: {}",
            all_output(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "the configuration has 1 problem(s):\n  {variable}: "
            )),
            "{variable}: {err}"
        );
        let out = check(&dir.0, &env, &["--json"]);
        assert_eq!(out.status.code(), Some(1), "{variable}");
        let v = json_of(&out);
        assert_eq!(v["ok"], false);
        assert_eq!(v["problems"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v["problems"][0]["variable"], variable, "{v}");
    }
    // Several at once: every one is named.
    let env = [
        ("BILLHUB_DATABASE_URL", db.url.as_str()),
        ("BILLHUB_BIND", "nope"),
        ("BILLHUB_MASTER_KEY", "abcdef"),
        ("BILLHUB_LOG", "[[["),
        ("BILLHUB_SANDBOX", "maybe"),
    ];
    let out = check(&dir.0, &env, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let named: Vec<Value> = json_of(&out)["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["variable"].clone())
        .collect();
    assert_eq!(
        named,
        [
            "BILLHUB_BIND",
            "BILLHUB_MASTER_KEY",
            "BILLHUB_SANDBOX",
            "BILLHUB_LOG"
        ]
    );
    dir.assert_empty();
}

/// PostgreSQL on a closed port: the configuration is printed, the database reported as not
/// answering, exit 1; the password never appears.
#[test]
fn unreachable_postgres() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://billhub:{PASSWORD}@127.0.0.1:{port}/billhub");
    let key = "00000000000000000000000000000000000000000000000000000000000000cd";
    let dir = WorkDir::new();
    let env = [
        ("BILLHUB_DATABASE_URL", url.as_str()),
        ("BILLHUB_MASTER_KEY", key),
    ];
    let out = check(&dir.0, &env, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let v = json_of(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["backend"], "postgres");
    assert_eq!(v["database"]["reachable"], false);
    let error = v["database"]["error"].as_str().unwrap();
    assert!(error.contains("Connection refused"), "{error}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("BILLHUB_DATABASE_URL: the database does not answer"),
        "{err}"
    );
    let all = all_output(&out);
    assert!(!all.contains(PASSWORD) && !all.contains(key), "{all}");

    let out = check(&dir.0, &env, &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("database: does NOT answer: "), "{text}");
    let all = all_output(&out);
    assert!(!all.contains(PASSWORD) && !all.contains(key), "{all}");
    dir.assert_empty();
}
