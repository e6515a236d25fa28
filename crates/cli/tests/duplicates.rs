//! Duplicates suite (issue 10): several `billhub up` processes over one database (four on one
//! PostgreSQL database, two on one SQLite file).
//!
//! - Phase A, the same reference at once: per bill, one payment request (Bill24 webhook, VA bank,
//!   VA sandbox or postpaid terminal, in turn) is sent 50 times at once, spread over the
//!   processes. Exactly one payment is stored; every answer is the first result (VA, sandbox,
//!   postpaid: the same payment id every time; Bill24: one `Success`, the others its documented
//!   "already recorded" `Error`).
//! - Phase B, different references racing on exact bills: per bill, 8 payments of its exact
//!   amount under different references and payers at once. The bill is paid once and never past
//!   its billed amount; each answer agrees with the store (acknowledged = stored once, refused =
//!   not stored; Bill24's acknowledged money that the bill could not take is kept unapplied).
//!
//! No answer is a 5xx or a transport failure. Ends with `billhub check` exiting 0.
//! Short form (CI): a few bills. Long form (`BILLHUB_SUITE=long`): 200 x 50 + 250 x 8 = 12,000
//! attempts per backend. `BILLHUB_SUITE_SEED=n` replays the choices.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // a suite panics with the broken expectation

mod harness;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use billhub_store::testing::TestDb;
use harness::clients::{Outcome, PayClient, Payer, Prepared};
use harness::gateway::Gateways;
use harness::{Rng, Seed, SeedSpec, SeededBill};

const COPIES: usize = 50;
const RACERS: usize = 8;

struct Plan {
    processes: usize,
    same_ref_bills: usize,
    racing_bills: usize,
    /// Bills per batch sent at once.
    batch_a: usize,
    batch_b: usize,
}

fn plan(postgres: bool) -> Plan {
    let processes = if postgres { 4 } else { 2 };
    if harness::long_form() {
        Plan {
            processes,
            same_ref_bills: 200,
            racing_bills: 250,
            batch_a: 4,
            batch_b: 10,
        }
    } else {
        Plan {
            processes,
            same_ref_bills: 8,
            racing_bills: 12,
            batch_a: 4,
            batch_b: 6,
        }
    }
}

#[derive(Default, Debug)]
struct Figures {
    attempts: usize,
    acknowledged: usize,
    repeats_answered_first: usize,
    refused: usize,
    same_ref_by_payer: std::collections::BTreeMap<&'static str, usize>,
    /// Refusals of racing payments by `payer/code`.
    refusal_codes: std::collections::BTreeMap<String, usize>,
}

/// What a payment racing a bill that another payment has just paid may hear: the bill is paid
/// (VA and sandbox `BILL_ALREADY_PAID`, postpaid `11` with the reason). Anything else (a 5xx,
/// a 401, an inconsistency) is a defect.
const LOSER_CODES: [&str; 2] = ["BILL_ALREADY_PAID", "11"];

/// Sends `p` to process `i` (the same dialect on another process's port).
fn at(p: &Prepared, from: &PayClient, to: &PayClient) -> Prepared {
    let mut q = p.clone();
    q.url = p.url.replacen(from.url(p.dialect), to.url(p.dialect), 1);
    q
}

async fn send_all(clients: &[Arc<PayClient>], jobs: Vec<(usize, Prepared)>) -> Vec<Outcome> {
    let mut handles = Vec::new();
    for (i, p) in jobs {
        let c = clients[i].clone();
        handles.push(tokio::spawn(async move { c.send(&p).await }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

fn payers_for(bill: &SeededBill) -> Vec<Payer> {
    Payer::ALL
        .into_iter()
        .filter(|p| p.pays(bill.currency))
        .collect()
}

/// Phase A on one batch of bills: prepared once each, then 50 copies of each at once.
async fn same_reference(
    clients: &[Arc<PayClient>],
    bills: &[(SeededBill, Payer)],
    next_ref: &mut u64,
    f: &mut Figures,
    keys: &mut Vec<((String, String), i64)>,
) {
    let mut prepared = Vec::new();
    for (b, payer) in bills {
        let (b, payer) = (b, *payer);
        *f.same_ref_by_payer.entry(payer.name()).or_default() += 1;
        *next_ref += 1;
        let reference = reference_for(payer, *next_ref);
        let p = clients[0]
            .prepare(payer, b, &reference, b.billed)
            .await
            .unwrap_or_else(|o| panic!("prepare {reference} on {}: {o:?}", b.public_no));
        prepared.push((payer, p));
    }
    let mut jobs = Vec::new();
    for (_, p) in &prepared {
        for copy in 0..COPIES {
            let i = copy % clients.len();
            jobs.push((i, at(p, &clients[0], &clients[i])));
        }
    }
    let answers = send_all(clients, jobs).await;
    f.attempts += answers.len();
    for (n, (payer, p)) in prepared.iter().enumerate() {
        let these = &answers[n * COPIES..(n + 1) * COPIES];
        keys.push((p.key.clone(), p.bill_id));
        let acks: Vec<&Outcome> = these.iter().filter(|o| o.is_ack()).collect();
        for o in these {
            assert!(
                !o.should_retry(),
                "{:?}: a copy got no proper answer: {o:?}",
                p.key
            );
        }
        f.repeats_answered_first += COPIES - 1;
        if *payer == Payer::Bill24 {
            // Bill24: one `Success`, every other copy its "already recorded" answer.
            assert_eq!(acks.len(), 1, "{:?}: {these:?}", p.key);
            for o in these.iter().filter(|o| !o.is_ack()) {
                assert!(
                    o.is_recorded_repeat(),
                    "{:?}: inconsistent copy {o:?}",
                    p.key
                );
            }
        } else {
            // Every copy gets the first result: the same payment.
            assert_eq!(
                acks.len(),
                COPIES,
                "{:?} ({}): {} of {COPIES} copies acknowledged; others: {:?}",
                p.key,
                payer.name(),
                acks.len(),
                these
                    .iter()
                    .filter(|o| !o.is_ack())
                    .take(3)
                    .collect::<Vec<_>>()
            );
            let uids: HashSet<Option<String>> = these
                .iter()
                .map(|o| match o {
                    Outcome::Acknowledged { uid, .. } => uid.clone(),
                    _ => None,
                })
                .collect();
            assert_eq!(uids.len(), 1, "{:?}: several payment ids {uids:?}", p.key);
            assert!(!uids.contains(&None), "{:?}: no payment id", p.key);
        }
    }
}

fn reference_for(payer: Payer, n: u64) -> String {
    if payer == Payer::Postpaid {
        format!("{}", 200_000 + n)
    } else {
        format!("dup-{}-{n}", std::process::id())
    }
}

/// What phase B expects afterwards, per raced bill: the keys of its attempts with their answers.
type Raced = Vec<(SeededBill, Vec<(Payer, (String, String), Outcome)>)>;

/// Phase B on one batch of bills: 8 different references per bill, exact amount, all at once.
async fn racing(
    clients: &[Arc<PayClient>],
    bills: &[SeededBill],
    rng: &mut Rng,
    next_ref: &mut u64,
    f: &mut Figures,
    raced: &mut Raced,
) {
    let mut jobs = Vec::new();
    let mut meta = Vec::new();
    for b in bills {
        let payers = payers_for(b);
        for _ in 0..RACERS {
            let payer = payers[rng.index(payers.len())];
            *next_ref += 1;
            let reference = reference_for(payer, *next_ref);
            let p = clients[0]
                .prepare(payer, b, &reference, b.billed)
                .await
                .unwrap_or_else(|o| panic!("prepare {reference} on {}: {o:?}", b.public_no));
            let i = rng.index(clients.len());
            meta.push((b.clone(), payer, p.key.clone()));
            jobs.push((i, at(&p, &clients[0], &clients[i])));
        }
    }
    let answers = send_all(clients, jobs).await;
    f.attempts += answers.len();
    for (chunk_meta, chunk) in meta.chunks(RACERS).zip(answers.chunks(RACERS)) {
        let bill = chunk_meta[0].0.clone();
        let mut list = Vec::new();
        for ((_, payer, key), o) in chunk_meta.iter().zip(chunk) {
            assert!(!o.should_retry(), "{key:?}: no proper answer: {o:?}");
            if o.is_ack() {
                f.acknowledged += 1;
            } else {
                f.refused += 1;
                let code = o.code().unwrap_or("").to_string();
                assert!(
                    *payer != Payer::Bill24 && LOSER_CODES.contains(&code.as_str()),
                    "{key:?} ({}) refused unexpectedly: {o:?}",
                    payer.name()
                );
                *f.refusal_codes
                    .entry(format!("{}/{code}", payer.name()))
                    .or_default() += 1;
            }
            list.push((*payer, key.clone(), o.clone()));
        }
        raced.push((bill, list));
    }
}

fn run(db: TestDb) {
    let started = Instant::now();
    let postgres = db.backend() == billhub_store::Backend::Postgres;
    let backend = format!("{:?}", db.backend());
    let seed_value = harness::suite_seed(&format!("duplicates/{backend}"));
    let plan = plan(postgres);
    let total = plan.same_ref_bills + plan.racing_bills;
    let seed: Seed = harness::seed(
        &db.store,
        &SeedSpec {
            idr_bills: total.div_ceil(2),
            usd_bills: total / 2,
            postpaid_networks: 16,
            ..SeedSpec::default()
        },
    );
    let key = harness::master_key_hex(&db);
    let gateways: Vec<Gateways> = (0..plan.processes)
        .map(|_| Gateways::spawn(&db.url, &key, &[("BILLHUB_SANDBOX", "true")]))
        .collect();
    let clients: Vec<Arc<PayClient>> = gateways
        .iter()
        .map(|g| Arc::new(PayClient::new(g, &seed, Duration::from_secs(60))))
        .collect();
    let mut rng = Rng::new(seed_value);
    let mut bills = seed.bills.clone();
    // Interleave currencies in a seeded order.
    for i in (1..bills.len()).rev() {
        let j = rng.index(i + 1);
        bills.swap(i, j);
    }
    // Phase A: the payers in turn (from a seeded start), each on a bill of a currency it pays,
    // so that every payer is covered even in the short form.
    let offset = rng.index(Payer::ALL.len());
    let mut a_bills: Vec<(SeededBill, Payer)> = Vec::new();
    for k in 0..plan.same_ref_bills {
        let payer = Payer::ALL[(k + offset) % Payer::ALL.len()];
        let at = bills
            .iter()
            .position(|b| payer.pays(b.currency))
            .expect("a bill for every payer");
        a_bills.push((bills.remove(at), payer));
    }
    let b_bills = bills;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut f = Figures::default();
    let mut next_ref = 0u64;
    let mut a_keys = Vec::new();
    let mut raced: Raced = Vec::new();
    rt.block_on(async {
        for batch in a_bills.chunks(plan.batch_a) {
            same_reference(&clients, batch, &mut next_ref, &mut f, &mut a_keys).await;
        }
        for batch in b_bills.chunks(plan.batch_b) {
            racing(&clients, batch, &mut rng, &mut next_ref, &mut f, &mut raced).await;
        }
    });
    drop(clients);
    for g in &gateways {
        let log = g.log_text();
        assert!(
            !log.contains("panicked"),
            "a gateway panicked: {}",
            g.log_path().display()
        );
    }
    drop(gateways);

    let kept_unapplied = verify(&db, &seed, &a_keys, &raced);
    let report = harness::assert_check_clean(&db);
    assert_eq!(report["ok"], true, "{report}");
    println!(
        "duplicates/{backend}: seed {seed_value}, processes {}, attempts {}, 5xx 0, \
         transport failures 0, doubled 0, overpaid 0, duration {:.1} s\n  same reference x{COPIES}: \
         {} bills ({:?}), {} copies, each reference stored once, {} repeats answered with the \
         first result\n  racing x{RACERS}: {} bills, {} payments, each bill paid once; \
         acknowledged {} (of which Bill24 money kept unapplied {kept_unapplied}), refused {} {:?}",
        plan.processes,
        f.attempts,
        started.elapsed().as_secs_f64(),
        plan.same_ref_bills,
        f.same_ref_by_payer,
        plan.same_ref_bills * COPIES,
        f.repeats_answered_first,
        plan.racing_bills,
        plan.racing_bills * RACERS,
        f.acknowledged,
        f.refused,
        f.refusal_codes,
    );
    for payer in Payer::ALL {
        assert!(
            f.same_ref_by_payer.contains_key(payer.name()),
            "{} never sent the same reference 50 times",
            payer.name()
        );
    }
}

/// Holds every answer against the store; returns how many acknowledged racing payments were kept
/// as unapplied money (Bill24's, when the bill was already paid).
fn verify(db: &TestDb, seed: &Seed, a_keys: &[((String, String), i64)], raced: &Raced) -> usize {
    let mut kept_unapplied = 0;
    let stored = harness::stored_payments(&db.store, seed);
    let unapplied = harness::unapplied_refs(&db.store);
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
    // Phase A: each reference stored once, on its bill, which it paid.
    for (k, bill_id) in a_keys {
        let ps = stored
            .get(k)
            .unwrap_or_else(|| panic!("{k:?} acknowledged but not stored"));
        assert_eq!(
            ps[0]
                .allocations
                .iter()
                .map(|a| a.bill_id)
                .collect::<Vec<_>>(),
            vec![*bill_id]
        );
    }
    // Phase B: one winner per bill; acknowledged = stored (or kept unapplied for Bill24),
    // refused = not stored.
    for (bill, list) in raced {
        let mut winners = 0;
        for (payer, k, o) in list {
            let posted = stored.get(k);
            if o.is_ack() {
                if posted.is_none() {
                    kept_unapplied += 1;
                }
                assert!(
                    posted.is_some() || (*payer == Payer::Bill24 && unapplied.contains_key(k)),
                    "{k:?} acknowledged but stored nowhere"
                );
            } else {
                assert!(
                    posted.is_none() && !unapplied.contains_key(k),
                    "{k:?} refused ({o:?}) but stored"
                );
            }
            if let Some(ps) = posted {
                assert_eq!(ps[0].allocations.len(), 1, "{k:?}");
                assert_eq!(ps[0].allocations[0].bill_id, bill.id, "{k:?}");
                winners += 1;
            }
        }
        assert_eq!(
            winners, 1,
            "bill {} paid by {winners} payments: {list:?}",
            bill.public_no
        );
    }
    let paid = harness::assert_bills_sound(&db.store, seed);
    assert_eq!(
        paid,
        a_keys.len() + raced.len(),
        "every bill paid exactly once"
    );
    kept_unapplied
}

#[test]
fn sqlite() {
    run(TestDb::sqlite());
}

#[test]
fn postgres() {
    run(TestDb::postgres());
}
