//! `scripts/compose-local` (the services of docker-compose.yml as local processes on a local
//! PostgreSQL) and `.ci/compose-check` (docker-compose.yml and .env.example against the code).
//!
//! The compose-local test starts the script on free ports (never 8080-8085) with its own database
//! on the server of `BILLHUB_TEST_POSTGRES_URL`, creates a bill through the VA gateway's biller
//! API, pays it through a postpaid terminal, reads it back as paid through the VA API and the
//! bill page of the Bill24 gateway, runs `billhub check`, then stops the script with SIGTERM and
//! checks that every process it started is gone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // a suite panics with the broken expectation

mod harness;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use billhub_core::Currency;
use billhub_core::signature::ipg;
use billhub_store::{MasterKey, PoolOptions, Store};
use harness::clients::{Outcome, PayClient, Payer};
use harness::gateway::{Dialect, free_base_port};
use harness::{SeedSpec, SeededBill};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn admin_url() -> String {
    std::env::var("BILLHUB_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `db` on the server of `admin` (its path replaced).
fn database_url(admin: &str, db: &str) -> String {
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{db}")
}

/// A running `scripts/compose-local`, its own database and log directory. Dropping it sends
/// SIGTERM to the script (which stops its services), then drops the database and removes the
/// logs (kept when the test panics).
struct ComposeLocal {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    db: String,
    log_dir: PathBuf,
}

impl ComposeLocal {
    fn start(db: &str, key_hex: &str, base_port: u16, snap_port: u16) -> ComposeLocal {
        let log_dir = std::env::temp_dir().join(format!("billhub-compose-local-{db}"));
        let port = |d: Dialect| (base_port + d.offset()).to_string();
        let mut cmd = Command::new(repo_root().join("scripts/compose-local"));
        for (k, _) in std::env::vars() {
            if k.starts_with("BILLHUB_") || k.starts_with("COMPOSE_LOCAL_") {
                cmd.env_remove(k);
            }
        }
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_billhub")).parent().unwrap();
        cmd.env("BILLHUB_MASTER_KEY", key_hex)
            .env("COMPOSE_LOCAL_POSTGRES_URL", admin_url())
            .env("COMPOSE_LOCAL_DB", db)
            .env("COMPOSE_LOCAL_LOG_DIR", &log_dir)
            .env("COMPOSE_LOCAL_BIN_DIR", bin_dir)
            .env("COMPOSE_LOCAL_PORT_BILL24_PROXY", port(Dialect::Bill24))
            .env(
                "COMPOSE_LOCAL_PORT_COLLECTIONS_API",
                port(Dialect::Collections),
            )
            .env("COMPOSE_LOCAL_PORT_VA_GATEWAY", port(Dialect::Va))
            .env(
                "COMPOSE_LOCAL_PORT_POSTPAID_GATEWAY",
                port(Dialect::Postpaid),
            )
            .env("COMPOSE_LOCAL_PORT_SNAP_GATEWAY", snap_port.to_string())
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run scripts/compose-local");
        let (tx, lines) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    println!("{line}");
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        ComposeLocal {
            child,
            lines,
            seen: Vec::new(),
            db: db.into(),
            log_dir,
        }
    }

    /// Reads the script's output until a line satisfies `done`; panics (with the output and
    /// the services' logs) if the script ends first.
    fn until(&mut self, done: impl Fn(&str) -> bool) {
        while let Ok(line) = self.lines.recv() {
            let stop = done(&line);
            self.seen.push(line);
            if stop {
                return;
            }
        }
        panic!(
            "compose-local ended before the expected line:\n{}\n{}",
            self.seen.join("\n"),
            self.logs()
        );
    }

    /// Every line until the script's streams close.
    fn rest(&mut self) {
        while let Ok(line) = self.lines.recv() {
            self.seen.push(line);
        }
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for entry in std::fs::read_dir(&self.log_dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            s.push_str(&format!(
                "--- {}\n{}\n",
                path.display(),
                std::fs::read_to_string(&path).unwrap_or_default()
            ));
        }
        s
    }

    fn sigterm(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for ComposeLocal {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.sigterm();
            let _ = self.child.wait();
        }
        let _ = Command::new("psql")
            .args([
                &admin_url(),
                "-qc",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.db),
            ])
            .output();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.log_dir);
        }
    }
}

/// A VA biller's request: `Authorization: Bearer` and `Signature` over the body (or the query).
async fn va_biller(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    api_key: &str,
    method: reqwest::Method,
    path: &str,
    body: &[u8],
) -> (u16, Value) {
    let sig = ipg::sign(api_key, body, "");
    let mut rb = http
        .request(method, format!("{base}{path}"))
        .header("Accept", "application/json")
        .header("Authorization", format!("Bearer {token}"))
        .header("Signature", sig);
    if !body.is_empty() {
        rb = rb
            .header("Content-Type", "application/json")
            .body(body.to_vec());
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    )
}

#[test]
fn compose_local_serves_the_compose_services_and_stops_them() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let db = format!("billhub_compose_{}_{nanos}", std::process::id());
    let key = MasterKey::generate().to_hex();
    let base_port = free_base_port();
    let url = |d: Dialect| format!("http://127.0.0.1:{}", base_port + d.offset());
    // The fifth gateway (SNAP) on another free port, outside 8080-8085 and the four above.
    let snap_port = loop {
        let p = free_base_port() + 3;
        if p < base_port || p > base_port + 3 {
            break p;
        }
    };
    let mut cl = ComposeLocal::start(&db, &key, base_port, snap_port);
    cl.until(|l| l == "compose-local: all services ready");

    // Compose's order: the one-shot migration first, then the five gateways, each ready on its
    // own /readyz, each its own process.
    assert!(
        cl.seen
            .iter()
            .any(|l| l == "compose-local: running migrate: billhub migrate"),
        "{:?}",
        cl.seen
    );
    let mut pids = Vec::new();
    let port_of = |d: Dialect| base_port + d.offset();
    for (service, port) in [
        ("bill24-proxy", port_of(Dialect::Bill24)),
        ("collections-api", port_of(Dialect::Collections)),
        ("va-gateway", port_of(Dialect::Va)),
        ("postpaid-gateway", port_of(Dialect::Postpaid)),
        ("snap-gateway", snap_port),
    ] {
        let prefix = format!("compose-local: ready {service} pid ");
        let line = cl
            .seen
            .iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no ready line for {service}: {:?}", cl.seen));
        let (pid, ready_url) = line[prefix.len()..].split_once(' ').unwrap();
        assert_eq!(ready_url, format!("http://127.0.0.1:{port}/readyz"));
        pids.push((service, pid.parse::<u32>().unwrap()));
    }
    let distinct: std::collections::HashSet<u32> = pids.iter().map(|(_, p)| *p).collect();
    assert_eq!(distinct.len(), 5, "{pids:?}");

    // The organization and its credentials, straight in the database the services share.
    let db_url = database_url(&admin_url(), &db);
    let store = Store::open(
        &db_url,
        MasterKey::from_hex(&key).unwrap(),
        PoolOptions::default(),
        false,
    )
    .unwrap();
    let seed = harness::seed(
        &store,
        &SeedSpec {
            org_code: "COMPOSE1".into(),
            va_prefix: "009977".into(),
            idr_bills: 0,
            usd_bills: 0,
            postpaid_networks: 1,
        },
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bill_id = rt.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        // 1. A bill through the VA gateway's biller API: IDR 250,000 on VA 0099775550000001.
        let va = url(Dialect::Va);
        let token: Value = http
            .post(format!("{va}/oauth/token"))
            .json(&json!({"grant_type": "client_credentials",
                "client_id": seed.va_biller.client_id,
                "client_secret": seed.va_biller.client_secret, "scope": "*"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_string();
        let valid_until = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
            .to_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap())
            .replace_nanosecond(0)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let create = json!({
            "va_number": "5550000001", "invoice_number": "INV-COMPOSE-1",
            "prefix": seed.va_prefix, "name": "Water December",
            "total_amount": 250000, "institution_code": seed.org_code, "type": "close",
            "valid_until": valid_until,
            "components": [{"name": "Water", "qty": 1, "price": 250000, "total": 250000}],
            "customer_name": "Compose Payer"
        })
        .to_string();
        let api_key = seed.va_biller.api_key.clone();
        let (status, created) = va_biller(
            &http,
            &va,
            &token,
            &api_key,
            reqwest::Method::POST,
            "/api/v2/gw/bill",
            create.as_bytes(),
        )
        .await;
        assert_eq!(status, 200, "{created}");
        let data = &created["data"];
        assert_eq!(data["va_number"], "0099775550000001", "{created}");
        assert_eq!(data["status"], "active");
        assert_eq!(data["paid_amount"].to_string(), "0");
        let hash = data["hash"].as_str().unwrap().to_string();
        let stored = store
            .bill_by_public_no(seed.org_id, &hash)
            .unwrap()
            .unwrap();
        assert_eq!(stored.billed, 25_000_000);

        // 2. Paid in full by a postpaid terminal (Get Invoices, then Payment).
        let bill = SeededBill {
            id: stored.id,
            public_no: hash.clone(),
            account_code: "5550000001".into(),
            currency: Currency::IDR,
            billed: 25_000_000,
            va_number: Some("0099775550000001".into()),
        };
        let payer = PayClient::for_urls(Dialect::ALL.map(url), &seed, Duration::from_secs(30));
        let outcome = payer
            .pay(Payer::Postpaid, &bill, "424242", 25_000_000)
            .await;
        assert!(
            matches!(outcome, Outcome::Acknowledged { .. }),
            "{outcome:?}"
        );

        // 3. Read back as paid: the VA biller API, and the bill page of the Bill24 gateway.
        let (status, shown) = va_biller(
            &http,
            &va,
            &token,
            &api_key,
            reqwest::Method::GET,
            &format!("/api/v2/gw/bill/{hash}"),
            b"",
        )
        .await;
        assert_eq!(status, 200, "{shown}");
        assert_eq!(shown["data"]["status"], "paid", "{shown}");
        assert_eq!(shown["data"]["paid_amount"].to_string(), "250000");
        assert_eq!(shown["data"]["billed_amount"].to_string(), "250000");
        let page = http
            .get(format!("{}/b/{hash}", url(Dialect::Bill24)))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 200);
        stored.id
    });
    let paid = store.bill(bill_id).unwrap();
    assert_eq!(paid.paid, 25_000_000);
    let payments = store.payments_of_bill(paid.id).unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(
        payments[0].channel,
        format!("postpaid:{}", seed.postpaid[0].channel_id)
    );
    let check = harness::billhub_with(&db_url, &key, &["check", "--json"], &[]);
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    drop(store);

    // 4. SIGTERM: every service stops cleanly, the script exits 128 + 15, nothing is left.
    cl.sigterm();
    let status = cl.child.wait().unwrap();
    cl.rest();
    assert_eq!(status.code(), Some(143), "{:?}", cl.seen);
    for (service, pid) in &pids {
        assert!(
            cl.seen
                .iter()
                .any(|l| l == &format!("compose-local: stopped {service} (exit status 0)")),
            "{service}: {:?}",
            cl.seen
        );
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{service} (pid {pid}) still runs after compose-local stopped"
        );
    }
    let va_log = std::fs::read_to_string(cl.log_dir.join("va-gateway.log")).unwrap();
    assert!(va_log.contains("\"message\":\"listening\""), "{va_log}");
    assert!(va_log.contains("\"message\":\"stopped\""), "{va_log}");
}

fn compose_check(args: &[&str]) -> Output {
    Command::new(repo_root().join(".ci/compose-check"))
        .args(args)
        .output()
        .expect("run .ci/compose-check")
}

/// The repository's docker-compose.yml and .env.example pass; a copy with a binary the workspace
/// does not build, a variable billhub does not read, a health check off /readyz and an
/// .env.example without a variable fails, naming each.
#[test]
fn compose_check_names_what_is_wrong() {
    let out = compose_check(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("all in .env.example"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let root = repo_root();
    let dir = std::env::temp_dir().join(format!("billhub-compose-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    let broken = compose
        .replace("command: [\"va-gateway\"]", "command: [\"va-gatewayd\"]")
        .replace(
            "  BILLHUB_MIGRATE: \"false\"\n",
            "  BILLHUB_MIGRATE: \"false\"\n  BILLHUB_FROBNICATE: \"1\"\n",
        )
        .replace("/readyz\"", "/healthz\"");
    assert_ne!(broken, compose);
    let env = std::fs::read_to_string(root.join(".env.example")).unwrap();
    let env_broken: String = env
        .lines()
        .filter(|l| !l.contains("BILLHUB_BODY_LIMIT="))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(env_broken, env);
    let compose_path = dir.join("docker-compose.yml");
    let env_path = dir.join(".env.example");
    std::fs::write(&compose_path, broken).unwrap();
    std::fs::write(&env_path, env_broken).unwrap();
    let out = compose_check(&[
        "--compose",
        compose_path.to_str().unwrap(),
        "--env-example",
        env_path.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "service va-gateway: runs `va-gatewayd`, which the workspace does not build",
        "service migrate: sets BILLHUB_FROBNICATE, which billhub does not read",
        "service bill24-proxy: sets BILLHUB_FROBNICATE, which billhub does not read",
        "service bill24-proxy: gateway `bill24-proxy` has no healthcheck on /readyz",
        "service postpaid-gateway: gateway `postpaid-gateway` has no healthcheck on /readyz",
        "misses BILLHUB_BODY_LIMIT (read in crates/http/src/config.rs)",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert!(stderr.contains("compose-check: 13 problem(s)"), "{stderr}");
}
