//! Database restart suite (issue 10): `billhub up` over a private PostgreSQL cluster that the
//! suite starts itself (`initdb` and `pg_ctl` on a free port, never the shared server). While
//! clients pay through every paying dialect, the database is stopped and started again:
//! `/readyz` turns red then green on every gateway, every request made while the database is
//! down is refused within 2 s (plus slack) in its dialect's shape, the pool recovers without
//! restarting the gateway, and every acknowledged payment is stored exactly once, never past its
//! bill. Ends with `billhub check` exiting 0.
//!
//! Short form (CI): one stop/start. Long form (`BILLHUB_SUITE=long`, optional
//! `BILLHUB_SUITE_SEED`): more restarts (fast and crash-like stops alternating) under more load.
//!
//! `cargo test -p billhub-cli --test db_restart -- --nocapture`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::missing_panics_doc
)] // tests may panic on a broken expectation, and read JSON by index

mod harness;
#[path = "harness/pg_cluster.rs"]
mod pg_cluster;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use billhub_core::signature::csq;
use billhub_store::{MasterKey, PoolOptions, Store};
use harness::clients::{Outcome, PayClient, Payer};
use harness::gateway::{Dialect, Gateways};
use harness::{Rng, Seed, SeedSpec, SeededBill};
use pg_cluster::PgCluster;
use serde_json::{Value, json};

/// The bound the issue sets on a refusal while the database is down, and the slack a loaded
/// 2-core CI machine gets on top (a correctness bound, not a benchmark).
const FAIL_FAST: Duration = Duration::from_secs(2);
const SLACK: Duration = Duration::from_millis(500);

/// An answer: HTTP status, body as JSON (`Value::Null` when it is not JSON), and how long it took.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: Value,
    text: String,
    took: Duration,
}

async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let resp = req
        .timeout(Duration::from_secs(40))
        .send()
        .await
        .expect("the gateway answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
        took: started.elapsed(),
    }
}

/// One request per dialect that needs the database (its credential is looked up, then a bill):
/// Bill24 `/proxy`, collections `GET /api/collections`, VA `/oauth/token`, postpaid
/// `get-invoices`.
async fn probe(http: &reqwest::Client, gw: &Gateways, seed: &Seed, dialect: Dialect) -> Answer {
    let base = gw.url(dialect);
    let usd = probe_bill(seed);
    match dialect {
        Dialect::Bill24 => {
            answer(
                http.post(format!("{base}/proxy"))
                    .header("token", &seed.bill24_token)
                    .json(&json!({ "consumer_code": usd.account_code })),
            )
            .await
        }
        Dialect::Collections => {
            answer(
                http.get(format!("{base}/api/collections"))
                    .bearer_auth(&seed.collections_token)
                    .header("Accept", "application/json"),
            )
            .await
        }
        Dialect::Va => {
            answer(http.post(format!("{base}/oauth/token")).json(&json!({
                "grant_type": "client_credentials",
                "client_id": seed.va_bank.client_id,
                "client_secret": seed.va_bank.client_secret,
                "scope": "*"
            })))
            .await
        }
        Dialect::Postpaid => {
            let net = &seed.postpaid[0];
            let st = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
            answer(
                http.post(format!(
                    "{base}/post-paid/bill-payment/get-invoices/7/{}",
                    seed.org_id
                ))
                .header("U", &net.username)
                .header("ST", &st)
                .header("SH", csq::salted_hash(&net.password, &st))
                .header("Accept", "application/json")
                .json(&json!([{ "key": "account", "value": usd.account_code }])),
            )
            .await
        }
    }
}

/// The bill the probes look up: the first USD bill, which the clients leave unpaid.
fn probe_bill(seed: &Seed) -> &SeededBill {
    seed.bills
        .iter()
        .find(|b| b.va_number.is_none())
        .expect("a USD bill")
}

/// The dialect's success shape of [`probe`].
fn assert_served(dialect: Dialect, a: &Answer) {
    match dialect {
        Dialect::Bill24 => {
            assert_eq!((a.status, &a.body["code"]), (200, &json!(0)), "{}", a.text);
        }
        Dialect::Collections => {
            assert_eq!(a.status, 200, "{}", a.text);
            assert!(a.body["data"].is_array(), "{}", a.text);
        }
        Dialect::Va => {
            assert_eq!(a.status, 200, "{}", a.text);
            assert_eq!(a.body["token_type"], "Bearer", "{}", a.text);
        }
        Dialect::Postpaid => {
            assert_eq!((a.status, &a.body["rc"]), (200, &json!(0)), "{}", a.text);
        }
    }
}

/// The dialect's "failed, retry later" shape of [`probe`] while the database is down, answered
/// within [`FAIL_FAST`] (+ [`SLACK`]).
fn assert_refused_unavailable(dialect: Dialect, a: &Answer) {
    assert!(
        a.took < FAIL_FAST + SLACK,
        "{dialect:?} took {:?} to refuse while the database is down: {}",
        a.took,
        a.text
    );
    let b = &a.body;
    match dialect {
        Dialect::Bill24 => assert_eq!(
            (a.status, &b["code"], &b["message"], &b["data"]),
            (
                500,
                &json!(500),
                &json!("Internal error; retry later."),
                &Value::Null
            ),
            "{}",
            a.text
        ),
        Dialect::Collections => assert_eq!(
            (a.status, &b["message"]),
            (
                503,
                &json!("Service Unavailable: the request could not be completed now; retry it.")
            ),
            "{}",
            a.text
        ),
        // The token endpoint answers in OAuth's shape.
        Dialect::Va => assert_eq!(
            (a.status, &b["error"]),
            (500, &json!("server_error")),
            "{}",
            a.text
        ),
        Dialect::Postpaid => assert_eq!(
            (
                a.status,
                &b["rc"],
                &b["resultcode"],
                &b["items"][0]["finalstatus"]
            ),
            (200, &json!(-1), &json!("991"), &json!(-1)),
            "{}",
            a.text
        ),
    }
}

/// Runs blocking work (the cluster, the child process) without stalling the other worker thread.
fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Every gateway's `/readyz` at once.
async fn readyz_all(http: &reqwest::Client, gw: &Gateways) -> Vec<(Dialect, Answer)> {
    let asks = Dialect::ALL.map(|d| {
        let req = http.get(format!("{}/readyz", gw.url(d)));
        async move { (d, answer(req).await) }
    });
    futures_util::future::join_all(asks).await
}

/// Every dialect's [`probe`] at once.
async fn probe_all(http: &reqwest::Client, gw: &Gateways, seed: &Seed) -> Vec<(Dialect, Answer)> {
    let asks = Dialect::ALL.map(|d| async move { (d, probe(http, gw, seed, d).await) });
    futures_util::future::join_all(asks).await
}

/// How much of everything: restarts, bills, paying clients, their pause between payments.
struct Plan {
    restarts: usize,
    bills_per_currency: usize,
    workers: usize,
    gap_ms: (u64, u64),
    /// Acknowledged payments to wait for between two restarts.
    acks_between: usize,
}

fn plan() -> Plan {
    if harness::long_form() {
        Plan {
            restarts: 8,
            bills_per_currency: 150,
            workers: 4,
            gap_ms: (50, 300),
            acks_between: 20,
        }
    } else {
        Plan {
            restarts: 1,
            bills_per_currency: 15,
            workers: 3,
            gap_ms: (150, 400),
            acks_between: 6,
        }
    }
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    /// Acknowledged `(channel, channel_ref)` with bill and amount.
    acked: Vec<((String, String), i64, i64)>,
    sends: usize,
    /// Refusals in the dialect's retry-later shape (the database was down).
    refused_unavailable: usize,
    /// The slowest of them.
    slowest_refusal: Duration,
    /// Answers that were no answer at all (none expected: the gateway stays up).
    transport_errors: Vec<String>,
    /// Final refusals (none expected).
    refused: Vec<String>,
}

/// A refusal that says "retry later": a 5xx in the dialect's shape, or postpaid's `991`.
fn retry_later(o: &Outcome) -> bool {
    o.is_server_error() || o.code() == Some("991")
}

/// Pays `bill` in full under `reference` until acknowledged (retrying the same request while the
/// database is down), recording every answer in `tally`.
async fn pay_until_acknowledged(
    client: &PayClient,
    payer: Payer,
    bill: &SeededBill,
    reference: &str,
    tally: &Mutex<Tally>,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let note = |o: &Outcome, took: Duration| {
        let mut t = tally.lock().unwrap();
        t.sends += 1;
        if retry_later(o) {
            t.refused_unavailable += 1;
            t.slowest_refusal = t.slowest_refusal.max(took);
        } else if let Outcome::TransportError(e) = o {
            t.transport_errors.push(e.clone());
        }
    };
    'prepare: loop {
        assert!(
            Instant::now() < deadline,
            "{reference}: not paid within 120 s"
        );
        let started = Instant::now();
        let mut p = match client.prepare(payer, bill, reference, bill.billed).await {
            Ok(p) => p,
            Err(o) => {
                note(&o, started.elapsed());
                if retry_later(&o) || matches!(o, Outcome::TransportError(_)) {
                    client.forget_va_tokens();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                tally
                    .lock()
                    .unwrap()
                    .refused
                    .push(format!("{reference} prepare: {o:?}"));
                return;
            }
        };
        loop {
            assert!(
                Instant::now() < deadline,
                "{reference}: not paid within 120 s"
            );
            let started = Instant::now();
            let o = client.send(&p).await;
            note(&o, started.elapsed());
            if o.is_ack() || o.is_recorded_repeat() {
                tally
                    .lock()
                    .unwrap()
                    .acked
                    .push((p.key.clone(), p.bill_id, p.amount));
                return;
            }
            if retry_later(&o) || matches!(o, Outcome::TransportError(_)) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                client.resign(&mut p).await;
                continue;
            }
            if matches!(o, Outcome::Refused { status: 401, .. }) && payer != Payer::Bill24 {
                // A postpaid ST window or a VA token that ran out meanwhile: same reference.
                client.forget_va_tokens();
                continue 'prepare;
            }
            tally
                .lock()
                .unwrap()
                .refused
                .push(format!("{reference}: {o:?}"));
            return;
        }
    }
}

/// The database goes down and comes back `plan.restarts` times while clients pay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_restart_fails_fast_and_recovers() {
    let seed_value = harness::suite_seed("db_restart");
    let plan = plan();
    let started = Instant::now();

    let mut cluster = block(PgCluster::start);
    let url = cluster.url();
    println!("db_restart: private cluster on port {}", cluster.port());
    let key = MasterKey::generate();
    let key_hex = key.to_hex();
    let store = block(|| {
        Store::open(&url, key, PoolOptions::default(), true).expect("migrate the private cluster")
    });
    let seed = block(|| {
        harness::seed(
            &store,
            &SeedSpec {
                org_code: "DBRST001".into(),
                va_prefix: "009951".into(),
                idr_bills: plan.bills_per_currency,
                usd_bills: plan.bills_per_currency,
                postpaid_networks: 2,
            },
        )
    });
    let mut gw = block(|| Gateways::spawn(&url, &key_hex, &[("BILLHUB_SANDBOX", "true")]));
    let pid = gw.pid();
    let http = reqwest::Client::new();
    for (d, a) in probe_all(&http, &gw, &seed).await {
        assert_served(d, &a);
    }

    // The clients: each bill paid in full once, by a payer of its currency chosen by the seed,
    // under a reference of its own (at most 9 digits for postpaid).
    let mut rng = Rng::new(seed_value);
    let mut jobs: Vec<(Payer, SeededBill, String, u64)> = seed
        .bills
        .iter()
        .enumerate()
        .filter(|(_, b)| b.id != probe_bill(&seed).id)
        .map(|(i, b)| {
            let payers: Vec<Payer> = Payer::ALL
                .into_iter()
                .filter(|p| p.pays(b.currency))
                .collect();
            let payer = payers[rng.index(payers.len())];
            let gap = rng.range(plan.gap_ms.0, plan.gap_ms.1);
            (payer, b.clone(), format!("{}", 700_000 + i), gap)
        })
        .collect();
    // Shuffle so both currencies pay throughout.
    for i in (1..jobs.len()).rev() {
        let j = rng.index(i + 1);
        jobs.swap(i, j);
    }
    let client = Arc::new(PayClient::new(&gw, &seed, Duration::from_secs(10)));
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let queue = Arc::new(Mutex::new(jobs));
    let mut workers = Vec::new();
    for _ in 0..plan.workers {
        let (client, tally, queue) = (client.clone(), tally.clone(), queue.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some((payer, bill, reference, gap)) = queue.lock().unwrap().pop() else {
                    return;
                };
                pay_until_acknowledged(&client, payer, &bill, &reference, &tally).await;
                tokio::time::sleep(Duration::from_millis(gap)).await;
            }
        }));
    }

    let mut worst_probe = Duration::ZERO;
    let mut down_for = Duration::ZERO;
    for round in 0..plan.restarts {
        // Let payments flow first.
        let want = (round + 1) * plan.acks_between;
        let flowing = Instant::now() + Duration::from_secs(60);
        while tally.lock().unwrap().acked.len() < want && !queue.lock().unwrap().is_empty() {
            assert!(
                Instant::now() < flowing,
                "payments stopped flowing before round {round}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let crash = round % 2 == 1;
        let went_down = Instant::now();
        block(|| {
            if crash {
                cluster.crash()
            } else {
                cluster.stop()
            }
        });
        println!(
            "round {round}: database {} at {:?} ({} acknowledged so far)",
            if crash {
                "crashed (-m immediate)"
            } else {
                "stopped (-m fast)"
            },
            started.elapsed(),
            tally.lock().unwrap().acked.len()
        );
        // Red: every gateway's /readyz, and every dialect refuses fast in its shape (twice: the
        // first request finds the dead connection, the next one an unreachable database).
        for (d, r) in readyz_all(&http, &gw).await {
            assert_eq!(r.status, 503, "{d:?} /readyz while down: {}", r.text);
            assert_eq!(
                (&r.body["status"], &r.body["database"], &r.body["reason"]),
                (
                    &json!("unavailable"),
                    &json!("postgres"),
                    &json!("database unreachable")
                ),
                "{}",
                r.text
            );
        }
        for _ in 0..2 {
            for (d, a) in probe_all(&http, &gw, &seed).await {
                worst_probe = worst_probe.max(a.took);
                if round == 0 {
                    println!(
                        "  {d:?} while down: {} {} in {:?}",
                        a.status, a.text, a.took
                    );
                }
                assert_refused_unavailable(d, &a);
            }
        }
        block(|| cluster.restart());
        down_for += went_down.elapsed();
        // Green again, without restarting the gateway.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all = readyz_all(&http, &gw).await;
            if all.iter().all(|(_, r)| r.status == 200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "/readyz not green 30 s after the database came back: {:?}",
                all.iter().map(|(d, r)| (d, r.status)).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(gw.pid(), pid, "the gateway was not restarted");
        assert!(block(|| gw.is_running()), "the gateway keeps running");
        for (d, a) in probe_all(&http, &gw, &seed).await {
            assert_served(d, &a);
        }
    }
    for w in workers {
        w.await.expect("a paying client");
    }
    assert_eq!(
        (gw.starts, gw.kills),
        (1, 0),
        "one gateway process throughout"
    );

    let t = std::mem::take(&mut *tally.lock().unwrap());
    let stored = block(|| harness::stored_payments(&store, &seed));
    let unapplied = block(|| harness::unapplied_refs(&store));
    let mut lost = Vec::new();
    for (key, _, _) in &t.acked {
        if !stored.contains_key(key) && !unapplied.contains_key(key) {
            lost.push(key.clone());
        }
    }
    let doubled: Vec<_> = stored
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| k.clone())
        .collect();
    let paid_full = block(|| harness::assert_bills_sound(&store, &seed));
    println!(
        "db_restart: backend postgres (private cluster), restarts {}, down {down_for:?} in all, \
         bills {}, requests {}, acknowledged {}, refused while down {} (slowest {:?}, probes {:?}), \
         transport errors {}, lost {}, doubled {}, bills paid {paid_full}, duration {:?}, seed {seed_value}",
        plan.restarts,
        seed.bills.len(),
        t.sends,
        t.acked.len(),
        t.refused_unavailable,
        t.slowest_refusal,
        worst_probe,
        t.transport_errors.len(),
        lost.len(),
        doubled.len(),
        started.elapsed()
    );
    assert!(t.refused.is_empty(), "final refusals: {:?}", t.refused);
    assert!(
        t.transport_errors.is_empty(),
        "no answer: {:?}",
        t.transport_errors
    );
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    assert!(doubled.is_empty(), "stored twice: {doubled:?}");
    let paying = seed.bills.len() - 1;
    assert_eq!(t.acked.len(), paying, "every bill's payment acknowledged");
    assert_eq!(stored.len(), paying, "one stored payment per paid bill");
    assert_eq!(paid_full, paying, "every bill but the probes' paid in full");
    assert!(
        t.refused_unavailable > 0,
        "the clients met the database down at least once"
    );
    assert!(
        t.slowest_refusal < FAIL_FAST + SLACK,
        "a client's refusal took {:?} while the database was down",
        t.slowest_refusal
    );

    let out = block(|| harness::billhub_with(&url, &key_hex, &["check", "--json"], &[]));
    assert!(
        out.status.success(),
        "billhub check: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop(gw);
    drop(store);
    drop(cluster);
}
