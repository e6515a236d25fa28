//! Crash suite (issue 10): clients pay through every paying dialect (Bill24 webhook, VA bank,
//! VA sandbox, postpaid terminal), each payment under its own reference and retried with the
//! same request until it gets an answer, while `billhub up` is killed with SIGKILL at random
//! moments and restarted. Afterwards, read from the store: every acknowledged payment is stored
//! exactly once, nothing refused is stored, no reference is stored twice, no bill is paid past
//! its billed amount, and `billhub check` exits 0. Both backends.
//!
//! Short form (CI): 3 kills per backend. Long form: `BILLHUB_SUITE=long` (20 kills per backend);
//! `BILLHUB_SUITE_SEED=n` replays the random choices.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // a suite panics with the broken expectation

mod harness;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use billhub_store::testing::TestDb;
use harness::clients::{Outcome, PayClient, Payer, Prepared};
use harness::gateway::{Gateways, ready};
use harness::{Rng, Seed, SeedSpec, SeededBill};

/// The final answer of one reference, and how many sends it took.
#[derive(Debug, Clone)]
struct Record {
    payer: Payer,
    key: Option<(String, String)>,
    bill_id: i64,
    amount: i64,
    outcome: Outcome,
    /// Whether the payment request had to be sent again (no answer, or a 5xx, the first time).
    retried: bool,
}

#[derive(Default)]
struct Counters {
    sends: AtomicU64,
    retries: AtomicU64,
    server_errors: AtomicU64,
}

struct Plan {
    kills: u32,
    workers: usize,
    idr_bills: usize,
    usd_bills: usize,
    /// Milliseconds between a restart and the next kill.
    gap_ms: (u64, u64),
}

fn plan() -> Plan {
    if harness::long_form() {
        Plan {
            kills: 20,
            workers: 6,
            idr_bills: 1_500,
            usd_bills: 1_500,
            gap_ms: (300, 2_500),
        }
    } else {
        Plan {
            kills: 3,
            workers: 4,
            idr_bills: 150,
            usd_bills: 150,
            gap_ms: (300, 1_500),
        }
    }
}

/// Waits (polling, at most 90 s) until the gateway at `base` answers `/readyz`.
async fn until_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let b = base.to_string();
        if tokio::task::spawn_blocking(move || ready(&b))
            .await
            .unwrap()
        {
            return;
        }
        assert!(Instant::now() < deadline, "{base} not back within 90 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `p` until an answer that is not a transport failure nor a 5xx (postpaid: re-signed
/// when its `ST` window ran out while the gateway was down).
async fn send_until_answered(client: &PayClient, mut p: Prepared, c: &Counters) -> (Outcome, bool) {
    let base = p.url.split('/').take(3).collect::<Vec<_>>().join("/");
    let mut resigned = 0;
    let mut retried = false;
    loop {
        c.sends.fetch_add(1, Ordering::Relaxed);
        let o = client.send(&p).await;
        if o.is_server_error() {
            c.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        if o.should_retry() {
            c.retries.fetch_add(1, Ordering::Relaxed);
            retried = true;
            until_ready(&base).await;
            continue;
        }
        if p.dialect == harness::gateway::Dialect::Postpaid
            && matches!(&o, Outcome::Refused { status: 401, .. })
            && resigned < 3
        {
            resigned += 1;
            client.resign(&mut p).await;
            continue;
        }
        if p.dialect == harness::gateway::Dialect::Va
            && matches!(&o, Outcome::Refused { status: 401, .. })
        {
            // A token refused: fetch a new one (the caller prepares the request again).
            client.forget_va_tokens();
        }
        return (o, retried);
    }
}

/// One reference, from preparation to its final answer.
async fn pay_one(
    client: &PayClient,
    payer: Payer,
    bill: &SeededBill,
    reference: &str,
    c: &Counters,
) -> Record {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let prepared = match client.prepare(payer, bill, reference, bill.billed).await {
            Ok(p) => p,
            Err(o) if o.should_retry() && attempts < 200 => {
                c.retries.fetch_add(1, Ordering::Relaxed);
                until_ready(client.url(harness::gateway::Dialect::Bill24)).await;
                continue;
            }
            Err(o) => {
                // Refused before any payment request (nothing pending at the terminal lookup).
                return Record {
                    payer,
                    key: None,
                    bill_id: bill.id,
                    amount: bill.billed,
                    outcome: o,
                    retried: false,
                };
            }
        };
        let key = prepared.key.clone();
        let (o, retried) = send_until_answered(client, prepared, c).await;
        if matches!(&o, Outcome::Refused { status: 401, .. }) && attempts < 5 {
            // VA token lost with a killed process: prepare again under the same reference.
            continue;
        }
        return Record {
            payer,
            key: Some(key),
            bill_id: bill.id,
            amount: bill.billed,
            outcome: o,
            retried,
        };
    }
}

fn run(db: TestDb) {
    let started = Instant::now();
    let backend = format!("{:?}", db.backend());
    let seed_value = harness::suite_seed(&format!("crash/{backend}"));
    let plan = plan();
    let seed: Seed = harness::seed(
        &db.store,
        &SeedSpec {
            idr_bills: plan.idr_bills,
            usd_bills: plan.usd_bills,
            postpaid_networks: 16,
            ..SeedSpec::default()
        },
    );
    let key = harness::master_key_hex(&db);
    let mut g = Gateways::spawn(&db.url, &key, &[("BILLHUB_SANDBOX", "true")]);
    let client = Arc::new(PayClient::new(&g, &seed, Duration::from_secs(10)));
    let counters = Arc::new(Counters::default());
    let records: Arc<Mutex<Vec<Record>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let next_ref = Arc::new(AtomicU64::new(1));
    // Bills some payment was acknowledged for: clients mostly pick others, sometimes race them.
    let done: Arc<Mutex<HashSet<i64>>> = Arc::default();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut handles = Vec::new();
    for w in 0..plan.workers {
        let (client, counters, records, stop, next_ref, seed, done) = (
            client.clone(),
            counters.clone(),
            records.clone(),
            stop.clone(),
            next_ref.clone(),
            seed.clone(),
            done.clone(),
        );
        let mut rng = Rng::new(seed_value ^ (0x5EED_0000 + w as u64));
        handles.push(rt.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let bill = pick_bill(&mut rng, &seed, &done.lock().unwrap());
                let payers: Vec<Payer> = Payer::ALL
                    .into_iter()
                    .filter(|p| p.pays(bill.currency))
                    .collect();
                let payer = payers[rng.index(payers.len())];
                let n = next_ref.fetch_add(1, Ordering::Relaxed);
                // Postpaid references are at most 9 digits; the others carry a run prefix.
                let reference = if payer == Payer::Postpaid {
                    format!("{}", 100_000 + n)
                } else {
                    format!("crash-{seed_value}-{n}")
                };
                let r = pay_one(&client, payer, bill, &reference, &counters).await;
                if r.outcome.is_ack() {
                    done.lock().unwrap().insert(bill.id);
                }
                records.lock().unwrap().push(r);
            }
        }));
    }

    // The killer: SIGKILL at random moments, restart, again.
    let mut rng = Rng::new(seed_value);
    for _ in 0..plan.kills {
        let wait = rng.range(plan.gap_ms.0, plan.gap_ms.1);
        // Random moment to kill at: a chosen delay, not a synchronisation.
        std::thread::sleep(Duration::from_millis(wait));
        g.kill9();
        g.restart();
    }
    // Let the clients run against the last start for a moment, then stop them; each finishes
    // its reference (retrying until answered).
    std::thread::sleep(Duration::from_millis(
        rng.range(plan.gap_ms.0, plan.gap_ms.1),
    ));
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    let records = records.lock().unwrap().clone();
    let (kills, starts) = (g.kills, g.starts);
    drop(g);

    verify(&db, &seed, &records);
    let report = harness::assert_check_clean(&db);
    assert_eq!(report["ok"], true, "{report}");

    let acked = records.iter().filter(|r| r.outcome.is_ack()).count();
    let cut = records.iter().filter(|r| r.retried).count();
    let cut_acked = records
        .iter()
        .filter(|r| r.retried && r.outcome.is_ack())
        .count();
    let mut by_payer: HashMap<&str, (usize, usize)> = HashMap::new();
    for r in &records {
        let e = by_payer.entry(r.payer.name()).or_default();
        e.0 += 1;
        if r.outcome.is_ack() {
            e.1 += 1;
        }
    }
    println!(
        "crash/{backend}: seed {seed_value}, kills {kills}, starts {starts}, references {}, \
         requests sent {}, retried {}, 5xx answers {}, acknowledged {acked}, lost 0, doubled 0, \
         over-billed 0, payments cut by a kill and resent {cut} (then acknowledged \
         {cut_acked}), duration {:.1} s; by payer (references, acknowledged): {by_payer:?}",
        records.len(),
        counters.sends.load(Ordering::Relaxed),
        counters.retries.load(Ordering::Relaxed),
        counters.server_errors.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    );
    assert_eq!(kills, plan.kills);
    assert!(acked > 0, "no payment was acknowledged at all");
    assert!(
        counters.retries.load(Ordering::Relaxed) > 0,
        "no kill hit a request in flight: the run proved nothing"
    );
}

/// A bill no acknowledged payment is known for (nine times in ten, when there is one), else any
/// bill: most payments can succeed, some race a bill already paid.
fn pick_bill<'a>(rng: &mut Rng, seed: &'a Seed, done: &HashSet<i64>) -> &'a SeededBill {
    let any = &seed.bills[rng.index(seed.bills.len())];
    if rng.below(10) == 0 {
        return any;
    }
    for _ in 0..20 {
        let b = &seed.bills[rng.index(seed.bills.len())];
        if !done.contains(&b.id) {
            return b;
        }
    }
    any
}

/// Reads the store and holds every record against it.
fn verify(db: &TestDb, seed: &Seed, records: &[Record]) {
    let stored = harness::stored_payments(&db.store, seed);
    let unapplied = harness::unapplied_refs(&db.store);
    // No reference stored twice, as payment or as unapplied money or both.
    for (k, ps) in &stored {
        assert_eq!(ps.len(), 1, "{k:?} stored {} times", ps.len());
        assert!(
            !unapplied.contains_key(k),
            "{k:?} both posted and unapplied"
        );
    }
    for (k, n) in &unapplied {
        assert_eq!(*n, 1, "{k:?} unapplied {n} times");
    }
    let sent: HashSet<&(String, String)> = records.iter().filter_map(|r| r.key.as_ref()).collect();
    for k in stored.keys().chain(unapplied.keys()) {
        assert!(sent.contains(k), "{k:?} stored but never sent");
    }
    for r in records {
        let Some(k) = &r.key else { continue };
        let posted = stored.get(k);
        match &r.outcome {
            Outcome::Acknowledged { uid, .. } => {
                let is_unapplied = unapplied.contains_key(k);
                assert!(
                    posted.is_some() || (r.payer == Payer::Bill24 && is_unapplied),
                    "acknowledged {k:?} ({}) was lost",
                    r.payer.name()
                );
                if let (Some(ps), Some(uid)) = (posted, uid) {
                    assert_eq!(&ps[0].uid, uid, "{k:?}: another payment than acknowledged");
                }
                if let Some(ps) = posted {
                    assert_eq!(ps[0].amount, r.amount, "{k:?}");
                    assert_eq!(
                        ps[0]
                            .allocations
                            .iter()
                            .map(|a| a.bill_id)
                            .collect::<Vec<_>>(),
                        vec![r.bill_id],
                        "{k:?}"
                    );
                }
            }
            Outcome::Refused { code, .. } if r.payer == Payer::Bill24 => {
                // Bill24's repeat answer: the transaction is recorded (by an earlier send whose
                // answer was lost with the process); any other refusal records nothing.
                let recorded = posted.is_some() || unapplied.contains_key(k);
                assert_eq!(
                    recorded,
                    code == "already_recorded",
                    "{k:?} refused `{code}`, recorded {recorded}"
                );
            }
            Outcome::Refused { code, body, .. } => {
                assert!(
                    posted.is_none(),
                    "{k:?} refused `{code}` but stored: {body}"
                );
            }
            Outcome::TransportError(e) => panic!("{k:?} never answered: {e}"),
        }
    }
    harness::assert_bills_sound(&db.store, seed);
}

#[test]
fn sqlite() {
    run(TestDb::sqlite());
}

#[test]
fn postgres() {
    run(TestDb::postgres());
}
