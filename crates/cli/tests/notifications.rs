//! Notifications suite (issue 10): payments through the real gateways over HTTP enqueue
//! `payment.received` events for both dialects with outbound notifications, the collections
//! callback (a form POST to the collection's `webhook_url`) and the VA webhook (JSON to the
//! organization's `va.webhook_url`). The merchant's receivers answer 500 for a while, the gateway
//! is restarted in the middle (a worker dies holding its lease on every pending VA delivery; a
//! new process's store, state and workers continue), and then the receivers answer 200: every
//! event is delivered at least once, always with its stable event id, on each dialect's schedule
//! (collections after 1, 5, 15, 30, 60 minutes; VA every minute, 3 tries), and nothing is tried
//! before it is due. Ends with `billhub check` exiting 0. Both backends.
//!
//! The schedule follows the app clock: the gateways run in this process on a fixed clock that
//! the suite advances (to one second before each due time, where nothing may be claimed, then to
//! the due time), so it never sleeps through a delay and every attempt's app time is exact.
//!
//! Short form (CI): 12 events per dialect, the collections receiver down for 2 attempts. Long
//! form (`BILLHUB_SUITE=long`): 200 events, down for 4 attempts (51 minutes of app time).
//!
//! `process_restart` does the same with real processes: the deliveries are made by a spawned
//! `billhub up` on the test-only scaled clock (`BILLHUB_SANDBOX=true`, `BILLHUB_CLOCK_SCALE=60`,
//! one epoch `BILLHUB_CLOCK_SCALE_FROM` for every start, so a restarted process continues the
//! same app time), killed with SIGKILL and started again while the receivers answer 500; each
//! receiver answers 500 to the first attempts of every event id and 200 after, so the outcome
//! does not depend on where the kill lands. Every event is delivered at least once with its
//! stable id; no attempt comes before its delay on the dialect's schedule (measured on the
//! receivers' clock, times the scale) nor long after it. Short form: 8 events, collections down
//! for 2 attempts (0, +1, +6 app minutes: about 6 s real); long form: 100 events, down for 4
//! attempts (0, +1, +6, +21, +51 app minutes: about 26 s at scale 120).
//!
//! `cargo test -p billhub-cli --test notifications -- --nocapture`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::missing_panics_doc
)] // tests may panic on a broken expectation, and read JSON by index

mod harness;
#[path = "harness/receiver.rs"]
mod receiver;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use billhub_core::signature::{ipg, raudhahpay};
use billhub_core::{Currency, PaymentRule};
use billhub_http::testing::TestApp;
use billhub_http::worker::{EVENT_ID_HEADER, RoundReport, Worker};
use billhub_http::{AppState, Clock, Config, Gateway};
use billhub_store::collections::NewCollection;
use billhub_store::testing::TestDb;
use billhub_store::{AccountInput, NewBill, PoolOptions, Store};
use harness::clients::{PayClient, Payer};
use harness::gateway::Gateways;
use harness::{Rng, Seed, SeedSpec, SeededBill};
use receiver::{Received, Receiver};
use serde_json::Value;
use time::{Duration, OffsetDateTime, UtcOffset};

/// How many events, and how many attempts the collections receiver refuses.
struct Plan {
    events: usize,
    collections_refused: usize,
}

fn plan() -> Plan {
    if harness::long_form() {
        Plan {
            events: 200,
            collections_refused: 4,
        }
    } else {
        Plan {
            events: 12,
            collections_refused: 2,
        }
    }
}

/// A gateway "process": its own store (pool), state and notification workers over the same
/// database and the shared app clock.
struct Process {
    collections: Worker,
    va: Worker,
}

impl Process {
    fn start(db: &TestDb, store: Store, clock: &Clock) -> Process {
        let config = Config::for_tests(&db.url, db.store.master_key().clone());
        let state = AppState::new(store, clock.clone(), config);
        let worker = |g: Arc<dyn Gateway>| {
            Worker::new(state.clone(), g.notifier().expect("a notifier")).with_batch(500, 10)
        };
        Process {
            collections: worker(collections_api::gateway()),
            va: worker(va_gateway::gateway()),
        }
    }
}

/// Bills of the collection whose `webhook_url` is the collections receiver: IDR, exact, each on
/// its own account and VA number, so VA banks, the VA sandbox and postpaid terminals pay them.
fn collection_bills(store: &Store, seed: &Seed, collection_id: i64, n: usize) -> Vec<SeededBill> {
    let now = OffsetDateTime::now_utc();
    let today = now.to_offset(UtcOffset::from_hms(7, 0, 0).unwrap()).date();
    (0..n)
        .map(|i| {
            let account = format!("NTF{i:05}");
            let billed = 50_000 + 500 * i64::try_from(i).unwrap();
            let suffix = format!("{:010}", 5_000 + i);
            let new = NewBill {
                organization_id: seed.org_id,
                account_id: 0,
                collection_id: Some(collection_id),
                invoice_number: Some(format!("INV-{account}")),
                ref1: account.clone(),
                ref2: String::new(),
                name: format!("Notified bill {account}"),
                description: String::new(),
                currency: Currency::IDR,
                billed,
                items: vec![],
                bill_date: today,
                due_date: Some(today + Duration::days(30)),
                valid_until: None,
                rule: PaymentRule::Exact,
                source: "test".into(),
                extra: "{}".into(),
                va_numbers: vec![(seed.va_prefix.clone(), suffix.clone())],
            };
            let input = AccountInput {
                code: account.clone(),
                name: format!("Payer {account}"),
                name_latin: format!("Payer {account}"),
                ..Default::default()
            };
            let (_, bill) = store.create_bill_for_account(&input, &new, now).unwrap();
            SeededBill {
                id: bill.id,
                public_no: bill.public_no.clone(),
                account_code: account,
                currency: Currency::IDR,
                billed,
                va_number: Some(format!("{}{suffix}", seed.va_prefix)),
            }
        })
        .collect()
}

/// Advances the app clock to `due - 1 s` (nothing of `dialect` may be claimed yet), then to
/// `due`, and runs one round there.
async fn round_at(clock: &Clock, due: OffsetDateTime, worker: &Worker, what: &str) -> RoundReport {
    assert!(clock.now() < due, "{what}: the clock is already at {due}");
    clock.set(due - Duration::seconds(1));
    let early = worker.run_once().await;
    assert_eq!(early.claimed, 0, "{what}: claimed one second early");
    clock.set(due);
    worker.run_once().await
}

/// A full round's counts: `n` claimed, all with the same outcome.
fn all(n: usize, delivered: usize, retried: usize) -> RoundReport {
    RoundReport {
        claimed: n,
        delivered,
        retried,
        failed: 0,
    }
}

/// The requests a receiver got, by event id, in arrival order.
fn by_event(got: &[Received]) -> BTreeMap<String, Vec<Received>> {
    let mut out: BTreeMap<String, Vec<Received>> = BTreeMap::new();
    for r in got {
        out.entry(r.event_id.clone()).or_default().push(r.clone());
    }
    out
}

/// The merchant's side of a suite: the seed (organization, credentials, bills), a collection
/// calling back `col_rx` and the VA webhook to `va_rx`.
fn merchant(db: &TestDb, events: usize, col_rx: &Receiver, va_rx: &Receiver) -> Seed {
    let start = OffsetDateTime::now_utc();
    let mut seed = harness::seed(
        &db.store,
        &SeedSpec {
            org_code: "NOTIFY01".into(),
            va_prefix: "009961".into(),
            idr_bills: 0,
            usd_bills: 0,
            postpaid_networks: 1,
        },
    );
    let collection = db
        .store
        .create_collection(
            seed.org_id,
            &NewCollection {
                name: "Notified".into(),
                webhook_url: Some(col_rx.url("/callback")),
                redirect_url: None,
            },
            start,
        )
        .unwrap();
    db.store
        .set_setting(seed.org_id, "va.webhook_url", &va_rx.url("/webhook"), start)
        .unwrap();
    seed.bills = collection_bills(&db.store, &seed, collection.id, events);
    seed
}

/// Pays every bill once through in-process gateways (no notification worker runs there), by a
/// payer the seed picks; the app clock follows the system clock the partners' signatures use.
async fn pay_all(
    db: &TestDb,
    seed: &Seed,
    clock: &Clock,
    seed_value: u64,
) -> BTreeMap<&'static str, usize> {
    let apps = [
        TestApp::spawn(bill24_proxy::gateway(), db, clock.clone()).await,
        TestApp::spawn(collections_api::gateway(), db, clock.clone()).await,
        TestApp::spawn(va_gateway::gateway(), db, clock.clone()).await,
        TestApp::spawn(postpaid_gateway::gateway(), db, clock.clone()).await,
    ];
    let client = PayClient::for_urls(
        [0, 1, 2, 3].map(|i| apps[i].base_url.clone()),
        seed,
        StdDuration::from_secs(10),
    );
    let mut rng = Rng::new(seed_value);
    let mut payers: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (i, bill) in seed.bills.iter().enumerate() {
        let payer = [Payer::VaBank, Payer::VaSandbox, Payer::Postpaid][rng.index(3)];
        let reference = format!("{}", 400_000 + i);
        clock.set(OffsetDateTime::now_utc());
        let o = client.pay(payer, bill, &reference, bill.billed).await;
        assert!(
            o.is_ack(),
            "{} paying {}: {o:?}",
            payer.name(),
            bill.account_code
        );
        *payers.entry(payer.name()).or_default() += 1;
    }
    payers
}

/// A collections callback: the bill's signed form, at the collection's callback path.
fn check_callback(r: &Received, bill: &SeededBill, seed: &Seed) {
    assert_eq!(r.path, "/callback");
    assert_eq!(r.content_type, "application/x-www-form-urlencoded");
    // (`status` and `paid` are the dialect's to spell; the body is signed.)
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&r.body).unwrap();
    let field = |k: &str| {
        form.iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    assert_eq!(
        (field("bill_no"), field("ref1"), field("currency")),
        (bill.public_no.as_str(), bill.account_code.as_str(), "IDR")
    );
    assert_eq!(
        field("amount"),
        harness::clients::major_json(bill.billed, Currency::IDR)
    );
    assert!(
        raudhahpay::verify(
            &seed.collections_signature_key,
            form.iter().map(|(k, v)| (k.as_str(), v.as_str()))
        ),
        "callback signature"
    );
}

/// A VA webhook: `X-Event-Id` and `X-Billhub-Event-Id` equal the event id; signed with the
/// biller's API key.
fn check_webhook(r: &Received, uid: &str, bill: &SeededBill, seed: &Seed) {
    assert_eq!(r.path, "/webhook");
    assert_eq!(r.header("x-event-id"), Some(uid));
    assert_eq!(r.header(EVENT_ID_HEADER), Some(uid));
    assert_eq!(
        r.header("signature"),
        Some(ipg::sign(&seed.va_biller.api_key, &r.body, "").as_str())
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["event"], "payment.received");
    assert_eq!(v["context"]["hash"], bill.public_no.as_str(), "{v}");
}

async fn notifications(db: TestDb) {
    let started = Instant::now();
    let backend = format!("{:?}", db.backend());
    let seed_value = harness::suite_seed(&format!("notifications/{backend}"));
    let plan = plan();
    let start = OffsetDateTime::now_utc();
    let clock = Clock::fixed(start);

    // The merchant: an organization with a collection calling back the collections receiver and
    // a VA webhook to the VA receiver; both down (500) at first. Every bill is paid once.
    let col_rx = Receiver::start();
    let va_rx = Receiver::start();
    let seed = merchant(&db, plan.events, &col_rx, &va_rx);
    let payers = pay_all(&db, &seed, &clock, seed_value).await;
    let n = plan.events;
    let p1 = Process::start(&db, db.store.clone(), &clock);
    // From here on the suite moves the app clock: t0 is the first round, after every event.
    let t0 = OffsetDateTime::now_utc();
    clock.set(t0);

    // Attempt 1 at once, attempt 2 a minute later: both refused by both receivers.
    assert_eq!(p1.collections.run_once().await, all(n, 0, n));
    assert_eq!(p1.va.run_once().await, all(n, 0, n));
    let t1 = t0 + Duration::minutes(1);
    assert_eq!(
        round_at(&clock, t1, &p1.collections, "collections #2").await,
        all(n, 0, n)
    );
    assert_eq!(p1.va.run_once().await, all(n, 0, n));

    // Attempt 3 of VA is due at t0 + 2 min: process 1 claims every VA delivery (a 60 s lease)
    // and dies before sending anything.
    let t2 = t0 + Duration::minutes(2);
    clock.set(t2 - Duration::seconds(1));
    assert_eq!(p1.va.run_once().await.claimed, 0, "VA #3 claimed early");
    clock.set(t2);
    let held = db
        .store
        .claim_deliveries("va", t2, Duration::seconds(60), 1_000)
        .unwrap();
    assert_eq!(held.len(), n, "the dying worker's claim");
    drop(p1);

    // The restart: a new pool over the same database, new state and workers. The VA receiver
    // is back up; nothing VA may be sent while the dead worker's lease holds.
    let store2 = Store::open(
        &db.url,
        db.store.master_key().clone(),
        PoolOptions::default(),
        false,
    )
    .unwrap();
    let p2 = Process::start(&db, store2, &clock);
    va_rx.answer(200, "OK");
    assert_eq!(
        p2.va.run_once().await.claimed,
        0,
        "claimed under a live lease"
    );
    let lease_end = t2 + Duration::seconds(60);
    clock.set(lease_end);
    assert_eq!(
        p2.va.run_once().await.claimed,
        0,
        "claimed at the lease's end"
    );
    clock.set(lease_end + Duration::seconds(1));
    assert_eq!(
        p2.va.run_once().await,
        all(n, n, 0),
        "VA #3 after the lease"
    );

    // Collections: attempt k+1 at t0 + sum of the first k delays; the receiver comes back
    // before attempt `collections_refused + 1`.
    let mut due = t1;
    let mut attempt_times = vec![t0, t1];
    for (k, minutes) in collections_api::notify::RETRY_MINUTES
        .iter()
        .enumerate()
        .skip(1)
    {
        let attempt = k + 2;
        due += Duration::minutes(*minutes);
        if attempt > plan.collections_refused {
            col_rx.answer(200, "RECEIVEOK");
        }
        let report = round_at(
            &clock,
            due,
            &p2.collections,
            &format!("collections #{attempt}"),
        )
        .await;
        attempt_times.push(due);
        if attempt > plan.collections_refused {
            assert_eq!(report, all(n, n, 0), "collections #{attempt}");
            break;
        }
        assert_eq!(report, all(n, 0, n), "collections #{attempt}");
    }
    // Nothing is left: later rounds claim nothing.
    clock.advance(Duration::hours(3));
    assert_eq!(p2.collections.run_once().await.claimed, 0);
    assert_eq!(p2.va.run_once().await.claimed, 0);

    // What the receivers got: every event, always under its own stable id.
    let events = {
        let records = db.store.deliveries_for_organization(seed.org_id).unwrap();
        assert_eq!(records.len(), 2 * n, "one delivery per event and dialect");
        let mut uids = BTreeMap::new();
        for r in &records {
            assert_eq!(r.status, "delivered", "{r:?}");
            let expected = if r.dialect == "va" {
                3
            } else {
                plan.collections_refused + 1
            };
            assert_eq!(usize::try_from(r.attempts).unwrap(), expected, "{r:?}");
            let e = db.store.notification_event(r.event_id).unwrap();
            assert_eq!(e.kind, "payment.received");
            uids.insert(r.event_id, e);
        }
        uids
    };
    assert_eq!(events.len(), n, "one event per payment");
    let uids: BTreeSet<String> = events.values().map(|e| e.uid.clone()).collect();
    assert_eq!(uids.len(), n, "event ids are distinct");

    let col = by_event(&col_rx.received());
    let va = by_event(&va_rx.received());
    assert_eq!(col.keys().cloned().collect::<BTreeSet<_>>(), uids);
    assert_eq!(va.keys().cloned().collect::<BTreeSet<_>>(), uids);
    let bills: BTreeMap<i64, &SeededBill> = seed.bills.iter().map(|b| (b.id, b)).collect();
    for e in events.values() {
        let bill = bills[&e.bill_id.unwrap()];
        // Collections: refused `collections_refused` times, then delivered once; every attempt
        // the same signed form.
        let got = &col[&e.uid];
        assert_eq!(got.len(), plan.collections_refused + 1, "{}", e.uid);
        assert!(
            got[..plan.collections_refused]
                .iter()
                .all(|r| r.answered == 500)
        );
        assert_eq!(got.last().unwrap().answered, 200);
        for r in got {
            assert_eq!(r.body, got[0].body, "the same callback every attempt");
            check_callback(r, bill, &seed);
        }
        // VA: refused twice by process 1, then delivered once by process 2 (the dead worker
        // sent nothing); `X-Event-Id` equals the event id; signed with the biller's API key.
        let got = &va[&e.uid];
        assert_eq!(
            got.iter().map(|r| r.answered).collect::<Vec<_>>(),
            vec![500, 500, 200],
            "{}",
            e.uid
        );
        for r in got {
            check_webhook(r, &e.uid, bill, &seed);
        }
    }
    let check = harness::assert_check_clean(&db);
    println!(
        "notifications/{backend}: events {n} (payers {payers:?}), collections attempts at +{:?} min \
         (receiver down for {}), VA attempts at +0, +1, +3m01s (a worker died holding the lease at +2), \
         deliveries {} received by collections, {} by VA, all delivered, billhub check violations {}, duration {:?}, seed {seed_value}",
        attempt_times
            .iter()
            .map(|t| (*t - t0).whole_minutes())
            .collect::<Vec<_>>(),
        plan.collections_refused,
        col_rx.received().len(),
        va_rx.received().len(),
        check["violations"].as_array().map_or(0, Vec::len),
        started.elapsed()
    );
}

/// The process-level plan: how many events, how many attempts the collections receiver
/// refuses per event (VA's refuses 2 of its 3), and the clock scale.
struct ProcessPlan {
    events: usize,
    collections_refused: usize,
    scale: u32,
}

fn process_plan() -> ProcessPlan {
    if harness::long_form() {
        ProcessPlan {
            events: 100,
            collections_refused: 4,
            scale: 120,
        }
    } else {
        ProcessPlan {
            events: 8,
            collections_refused: 2,
            scale: 60,
        }
    }
}

/// Polls `done` every 50 ms until it holds; fails at `within` naming `what`, with the log.
fn wait_for(within: StdDuration, gw: &mut Gateways, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            gw.is_running(),
            "billhub up exited while waiting for {what}:\n{}",
            gw.log_text()
        );
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}\nlog:\n{}",
            gw.log_text()
        );
        std::thread::sleep(StdDuration::from_millis(50));
    }
}

/// A dialect's retry delays (app time).
fn delays(gateway: &Arc<dyn Gateway>) -> Vec<Duration> {
    gateway.notifier().expect("a notifier").schedule().delays
}

/// Checks the gaps between an event's attempts against the schedule, on the receiver's clock
/// times `scale`: never before the delay (50 ms real tolerance for the two clocks), at most
/// `slack` real after it. A gap across the kill may also hold the restart and a dead worker's
/// lease. When the killed process sent an attempt but never recorded its outcome (`repeats` 1),
/// the first request after the kill is that attempt again, after the dead worker's lease; the
/// schedule continues from it. `check` returns how many gaps spanned the kill.
struct Schedule {
    scale: u32,
    killed_at: Instant,
    restart: StdDuration,
    lease: StdDuration,
    slack: StdDuration,
}

impl Schedule {
    fn check(&self, what: &str, got: &[Received], delays: &[Duration], repeats: usize) -> usize {
        let (mut across_kill, mut shift) = (0, 0);
        for (i, pair) in got.windows(2).enumerate() {
            let (a, b) = (pair[0].at, pair[1].at);
            let gap = b - a;
            let spans = a < self.killed_at && self.killed_at <= b;
            across_kill += usize::from(spans);
            let n = i + 2;
            if spans && repeats > 0 {
                assert!(
                    gap + StdDuration::from_secs(1) >= self.lease
                        && gap <= self.restart + self.lease + self.slack,
                    "{what}: request {n} repeats one the killed process sent, {gap:?} after it \
                     (its lease: {:?} real)",
                    self.lease
                );
                shift = repeats;
                continue;
            }
            let delay = delays[i - shift];
            let due = StdDuration::try_from(delay).unwrap() / self.scale;
            assert!(
                gap + StdDuration::from_millis(50) >= due,
                "{what}: request {n} came {gap:?} after the one before, before its delay \
                 ({delay}: {due:?} real)"
            );
            // Across the kill a claim of the dead process may hold until its lease ends.
            let late = if spans {
                due + self.restart + self.lease + self.slack
            } else {
                due + self.slack
            };
            assert!(
                gap <= late,
                "{what}: request {n} came {gap:?} after the one before, long after its delay \
                 ({delay}: {due:?} real)"
            );
        }
        across_kill
    }
}

/// Notifications over a real `billhub up` on the scaled test clock, killed (SIGKILL) and started
/// again while the receivers answer 500 (see the module docs).
async fn process_restart(db: TestDb) {
    let started = Instant::now();
    let backend = format!("{:?}", db.backend());
    let seed_value = harness::suite_seed(&format!("notifications-process/{backend}"));
    let plan = process_plan();
    let n = plan.events;
    let va_refused = 2;
    let col_rx = Receiver::start();
    let va_rx = Receiver::start();
    col_rx.refuse_first(plan.collections_refused, 200, "RECEIVEOK");
    va_rx.refuse_first(va_refused, 200, "OK");
    let seed = merchant(&db, n, &col_rx, &va_rx);
    let payers = pay_all(
        &db,
        &seed,
        &Clock::fixed(OffsetDateTime::now_utc()),
        seed_value,
    )
    .await;
    let deliveries = || db.store.deliveries_for_organization(seed.org_id).unwrap();
    assert_eq!(
        deliveries().len(),
        2 * n,
        "one delivery per event and dialect"
    );
    assert!(
        deliveries().iter().all(|r| r.attempts == 0),
        "nothing sent yet"
    );

    // The gateways: `billhub up` on the scaled clock; every start shares the epoch.
    let epoch = OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let scale = plan.scale.to_string();
    let key = harness::master_key_hex(&db);
    let env = [
        ("BILLHUB_SANDBOX", "true"),
        ("BILLHUB_CLOCK_SCALE", scale.as_str()),
        ("BILLHUB_CLOCK_SCALE_FROM", epoch.as_str()),
        ("BILLHUB_LOG", "warn"),
    ];
    let mut gw = Gateways::spawn(&db.url, &key, &env);

    // Once every event's first attempt of both dialects is recorded (both refused), the process
    // is killed with SIGKILL and started again on the same ports, database and epoch.
    wait_for(
        StdDuration::from_secs(30),
        &mut gw,
        "the first attempts",
        || deliveries().iter().all(|r| r.attempts >= 1),
    );
    let killed_at = Instant::now();
    gw.restart();
    let restart = killed_at.elapsed();
    let at_kill = |got: Vec<Received>| {
        got.into_iter()
            .filter(|r| r.at < killed_at)
            .map(|r| r.answered)
            .collect::<Vec<_>>()
    };
    let (col_before, va_before) = (at_kill(col_rx.received()), at_kill(va_rx.received()));
    assert!(
        col_before.len() >= n && va_before.len() >= n,
        "every first attempt came before the kill"
    );
    assert!(
        col_before.iter().chain(&va_before).all(|s| *s == 500),
        "the receivers still answered 500 at the kill: {col_before:?} {va_before:?}"
    );

    // The second process delivers everything, on the app clock.
    let col_delays = delays(&collections_api::gateway());
    let va_delays = delays(&va_gateway::gateway());
    let lease = billhub_http::worker::MIN_SCALED_SEND_TIMEOUT * 2;
    let app_total: Duration = col_delays
        .iter()
        .take(plan.collections_refused)
        .copied()
        .sum();
    let within =
        StdDuration::try_from(app_total).unwrap() / plan.scale + lease + StdDuration::from_secs(30);
    wait_for(within, &mut gw, "every delivery delivered", || {
        deliveries().iter().all(|r| r.status == "delivered")
    });
    gw.terminate(StdDuration::from_secs(10));
    let deliveries_ended = started.elapsed();

    // Every event, under its stable id, refused as planned and then acknowledged.
    let records = deliveries();
    let mut events = BTreeMap::new();
    for r in &records {
        assert_eq!(r.status, "delivered", "{r:?}");
        let e = db.store.notification_event(r.event_id).unwrap();
        assert_eq!(e.kind, "payment.received");
        events.insert(r.event_id, (e, r.clone()));
    }
    assert_eq!(events.len(), n, "one event per payment");
    let uids: BTreeSet<String> = events.values().map(|(e, _)| e.uid.clone()).collect();
    assert_eq!(uids.len(), n, "event ids are distinct");
    let col = by_event(&col_rx.received());
    let va = by_event(&va_rx.received());
    assert_eq!(col.keys().cloned().collect::<BTreeSet<_>>(), uids);
    assert_eq!(va.keys().cloned().collect::<BTreeSet<_>>(), uids);
    let schedule = Schedule {
        scale: plan.scale,
        killed_at,
        restart,
        lease,
        slack: StdDuration::from_secs(3),
    };
    let bills: BTreeMap<i64, &SeededBill> = seed.bills.iter().map(|b| (b.id, b)).collect();
    let (mut doubled, mut repeats, mut across_kill) = (0, 0, 0);
    for r in &records {
        let e = &events[&r.event_id].0;
        let bill = bills[&e.bill_id.unwrap()];
        let (got, refused, delays) = if r.dialect == "va" {
            (&va[&e.uid], va_refused, &va_delays)
        } else {
            (&col[&e.uid], plan.collections_refused, &col_delays)
        };
        let what = format!("{} {}", r.dialect, e.uid);
        let answered: Vec<u16> = got.iter().map(|g| g.answered).collect();
        // Refused `refused` times, then acknowledged; a second acknowledgement is a send whose
        // outcome the killed process never recorded (at least once).
        assert!(
            answered.len() > refused
                && answered[..refused].iter().all(|s| *s == 500)
                && answered[refused..].iter().all(|s| *s == 200),
            "{what}: {answered:?} (last error {:?})",
            r.last_error
        );
        doubled += answered.len() - refused - 1;
        // Every recorded attempt reached the receiver; at most one more did: a send of the
        // killed process whose outcome it never recorded (sent again after its lease).
        let attempts = usize::try_from(r.attempts).unwrap();
        assert!(
            attempts >= 1 && attempts <= answered.len() && answered.len() - attempts <= 1,
            "{what}: {attempts} attempts recorded (last error {:?}), {answered:?} received",
            r.last_error
        );
        let repeated = answered.len() - attempts;
        repeats += repeated;
        across_kill += schedule.check(&what, got, delays, repeated);
        for g in got {
            assert_eq!(g.body, got[0].body, "{what}: the same body every attempt");
            if r.dialect == "va" {
                check_webhook(g, &e.uid, bill, &seed);
            } else {
                check_callback(g, bill, &seed);
            }
        }
    }
    assert!(doubled <= 2 * n, "at most one repeat per delivery");
    let check = harness::assert_check_clean(&db);
    println!(
        "notifications-process/{backend}: events {n} (payers {payers:?}), scale {}, processes {} \
         (kills {}), restart {restart:?}, collections refused {} per event, VA {va_refused}, \
         received {} by collections and {} by VA, delivered {}/{}, lost 0, doubled {doubled}, \
         sent again after the kill {repeats}, gaps across the kill {across_kill}, billhub check violations {}, deliveries in \
         {deliveries_ended:?}, duration {:?}, seed {seed_value}",
        plan.scale,
        gw.starts,
        gw.kills,
        plan.collections_refused,
        col_rx.received().len(),
        va_rx.received().len(),
        records.len(),
        2 * n,
        check["violations"].as_array().map_or(0, Vec::len),
        started.elapsed()
    );
}

billhub_http::http_backend_tests!(notifications, process_restart);

/// The scaled clock is test-only: `billhub up` refuses it outside the sandbox, naming the
/// variable, before opening anything.
#[test]
fn clock_scale_refused_outside_the_sandbox() {
    let dir = std::env::temp_dir().join(format!("billhub-h8-scale-{}", std::process::id()));
    let base = harness::gateway::free_base_port().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(["up", "--base-port", &base])
        .env(
            "BILLHUB_DATABASE_URL",
            dir.join("never.sqlite3").to_string_lossy().as_ref(),
        )
        .env("BILLHUB_MASTER_KEY", "11".repeat(32))
        .env("BILLHUB_SANDBOX", "false")
        .env("BILLHUB_CLOCK_SCALE", "60")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "started with a scaled clock: {stderr}"
    );
    assert!(
        stderr.contains("BILLHUB_CLOCK_SCALE") && stderr.contains("BILLHUB_SANDBOX=true"),
        "{stderr}"
    );
    assert!(!dir.exists(), "nothing created");
}
