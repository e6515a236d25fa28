//! Payment posting cost against a baseline measured in the same run.
//!
//! For each backend (SQLite always; PostgreSQL when `BILLHUB_TEST_POSTGRES_URL` is set or
//! reachable at the default), on a fresh database:
//! - baseline: N one-row read transactions (`Store::bill`);
//! - post: N payments, each a full posting transaction on its own exact bill;
//! - replay: N repeats of already posted references (the idempotent path);
//! - account: N open-mode account payments spread over 24 bills (reads every bill);
//! - contended: 8 threads posting N payments to one account at once.
//!
//! Prints each as microseconds per operation and as a ratio to the baseline. Machines here are
//! shared and noisy: compare ratios, not absolute numbers.
//!
//! Run: `cargo run --release -p billhub-bench --bin payments [-- N]`

use std::time::Instant;

use billhub_core::{Currency, Money, PaymentRule, SettlementMode};
use billhub_store::testing::TestDb;
use billhub_store::*;
use time::macros::date;
use time::{OffsetDateTime, UtcOffset};

fn new_bill(org: i64, billed: i64) -> NewBill {
    NewBill {
        organization_id: org,
        account_id: 0,
        collection_id: None,
        invoice_number: None,
        ref1: String::new(),
        ref2: String::new(),
        name: "bench".into(),
        description: String::new(),
        currency: Currency::USD,
        billed,
        items: vec![],
        bill_date: date!(2025 - 01 - 01),
        due_date: None,
        valid_until: None,
        rule: PaymentRule::Exact,
        source: "bench".into(),
        extra: "{}".into(),
        va_numbers: vec![],
    }
}

fn request(org: i64, target: PaymentTarget, reference: String, minor: i64) -> PaymentRequest {
    PaymentRequest {
        organization_id: org,
        channel: "bench".into(),
        request_hash: fingerprint(&[&reference, &minor.to_string()]),
        channel_ref: reference,
        target,
        amount: Money::from_minor(minor, Currency::USD),
        fee: 0,
        method: String::new(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: OffsetDateTime::UNIX_EPOCH,
        on_rejection: OnRejection::Refuse,
    }
}

fn per_op(start: Instant, n: usize) -> f64 {
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn run(db: TestDb, n: usize) -> Result<(), StoreError> {
    let now = OffsetDateTime::now_utc();
    let org = db
        .create_organization(
            &NewOrganization {
                code: Some("BENCH001".into()),
                name: "Bench".into(),
                utc_offset: UtcOffset::UTC,
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec![],
            },
            now,
        )?
        .id;
    let mut bills = Vec::with_capacity(n);
    for i in 0..n {
        let acc = AccountInput {
            code: format!("A{i}"),
            ..Default::default()
        };
        bills.push(
            db.create_bill_for_account(&acc, &new_bill(org, 1000), now)?
                .1
                .id,
        );
    }

    let start = Instant::now();
    for id in &bills {
        db.bill(*id)?;
    }
    let baseline = per_op(start, n);
    let post = pay_each(&db, org, &bills, now)?;
    let replay = pay_each(&db, org, &bills, now)?;
    let account_id = spread_account(&db, org, now)?;
    let account = pay_account(&db, org, account_id, n, now)?;
    let contended = pay_account_contended(&db, org, account_id, n, now)?;

    println!("backend: {} (n = {n})", db.backend().name());
    println!(
        "  {:<44} {:>10.1} us/op   ratio 1.00",
        "baseline: one-row read transaction", baseline
    );
    for (name, v) in [
        ("post: payment on its own exact bill", post),
        ("replay: same reference again", replay),
        ("account: open mode over 24 bills", account),
        ("contended: 8 threads, one account", contended),
    ] {
        println!("  {name:<44} {v:>10.1} us/op   ratio {:.2}", v / baseline);
    }
    Ok(())
}

/// Pays every bill in full under reference `p{i}` (a second run replays them); us per payment.
fn pay_each(db: &TestDb, org: i64, bills: &[i64], now: OffsetDateTime) -> Result<f64, StoreError> {
    let start = Instant::now();
    for (i, id) in bills.iter().enumerate() {
        db.post_payment(
            &request(
                org,
                PaymentTarget::Bill { bill_id: *id },
                format!("p{i}"),
                1000,
            ),
            now,
        )?;
    }
    Ok(per_op(start, bills.len()))
}

/// An account with 24 large open bills; returns its id.
fn spread_account(db: &TestDb, org: i64, now: OffsetDateTime) -> Result<i64, StoreError> {
    let acc = AccountInput {
        code: "SPREAD".into(),
        ..Default::default()
    };
    let mut account_id = 0;
    for _ in 0..24 {
        account_id = db
            .create_bill_for_account(&acc, &new_bill(org, 1_000_000_000), now)?
            .0
            .id;
    }
    Ok(account_id)
}

fn open_account(account_id: i64) -> PaymentTarget {
    PaymentTarget::Account {
        account_id,
        mode: Some(SettlementMode::Open),
        chosen: None,
    }
}

/// `n` payments aimed at the account, one thread; us per payment.
fn pay_account(
    db: &TestDb,
    org: i64,
    account_id: i64,
    n: usize,
    now: OffsetDateTime,
) -> Result<f64, StoreError> {
    let start = Instant::now();
    for i in 0..n {
        db.post_payment(
            &request(org, open_account(account_id), format!("a{i}"), 100),
            now,
        )?;
    }
    Ok(per_op(start, n))
}

/// `n` payments aimed at the account from 8 threads at once; us per payment.
fn pay_account_contended(
    db: &TestDb,
    org: i64,
    account_id: i64,
    n: usize,
    now: OffsetDateTime,
) -> Result<f64, StoreError> {
    let threads = 8;
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = db.store.clone();
            std::thread::spawn(move || -> Result<(), StoreError> {
                for i in 0..n / threads {
                    let target = open_account(account_id);
                    store.post_payment(&request(org, target, format!("c{t}-{i}"), 100), now)?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| StoreError::Busy("bench thread panicked".into()))??;
    }
    Ok(per_op(start, (n / threads) * threads))
}

fn main() -> Result<(), StoreError> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400);
    run(TestDb::sqlite(), n)?;
    run(TestDb::postgres(), n)?;
    Ok(())
}
