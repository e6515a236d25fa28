//! SQLite group commit against the fsync ceiling, measured in the same run.
//!
//! On a fresh SQLite file at `synchronous=FULL` (every commit is fsynced):
//! - baseline (the fsync ceiling): one thread posts N payments, one payment per transaction,
//!   so every payment waits for its own commit;
//! - measured: 16 threads post N payments (N/16 each, each on its own bill) through the same
//!   posting code; concurrent postings share a batch and one commit (group commit).
//!
//! Prints payments per second of both, the ratio (issue 12's goal: at least 1.5), and commits
//! per payment (1.00 means no grouping). Machines here are shared and noisy: compare ratios.
//! Needs nothing but a writable temporary directory.
//!
//! Run: `cargo run --release -p billhub-bench --bin group_commit [-- N]` (default N = 800).

use std::time::Instant;

use billhub_core::{Currency, Money, PaymentRule};
use billhub_store::testing::TestDb;
use billhub_store::*;
use time::macros::date;
use time::{OffsetDateTime, UtcOffset};

const THREADS: usize = 16;

fn new_bill(org: i64) -> NewBill {
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
        billed: 1000,
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

fn request(org: i64, bill_id: i64, reference: String) -> PaymentRequest {
    PaymentRequest {
        organization_id: org,
        channel: "bench".into(),
        request_hash: fingerprint(&[&reference, "1000"]),
        channel_ref: reference,
        target: PaymentTarget::Bill { bill_id },
        amount: Money::from_minor(1000, Currency::USD),
        fee: 0,
        method: String::new(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: OffsetDateTime::UNIX_EPOCH,
        on_rejection: OnRejection::Refuse,
    }
}

/// `n` bills of 10.00 USD, each on its own account; their ids.
fn bills(db: &TestDb, org: i64, prefix: &str, n: usize) -> Result<Vec<i64>, StoreError> {
    let now = OffsetDateTime::now_utc();
    (0..n)
        .map(|i| {
            let acc = AccountInput {
                code: format!("{prefix}{i}"),
                ..Default::default()
            };
            Ok(db.create_bill_for_account(&acc, &new_bill(org), now)?.1.id)
        })
        .collect()
}

/// Posts one payment per bill from one thread; payments per second.
fn one_thread(db: &TestDb, org: i64, bills: &[i64]) -> Result<f64, StoreError> {
    let now = OffsetDateTime::now_utc();
    let start = Instant::now();
    for (i, id) in bills.iter().enumerate() {
        db.post_payment(&request(org, *id, format!("s{i}")), now)?;
    }
    Ok(bills.len() as f64 / start.elapsed().as_secs_f64())
}

/// Posts one payment per bill from [`THREADS`] threads (each its share of the bills);
/// payments per second.
fn many_threads(db: &TestDb, org: i64, bills: &[i64]) -> Result<f64, StoreError> {
    let now = OffsetDateTime::now_utc();
    let share = bills.len().div_ceil(THREADS).max(1);
    let start = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = bills
            .chunks(share)
            .enumerate()
            .map(|(t, chunk)| {
                let store = db.store.clone();
                s.spawn(move || -> Result<(), StoreError> {
                    for (i, id) in chunk.iter().enumerate() {
                        store.post_payment(&request(org, *id, format!("g{t}-{i}")), now)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| StoreError::Busy("bench thread panicked".into()))??;
        }
        Ok::<_, StoreError>(())
    })?;
    Ok(bills.len() as f64 / start.elapsed().as_secs_f64())
}

fn main() -> Result<(), StoreError> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(800)
        .max(THREADS);
    let db = TestDb::sqlite();
    let synchronous = db.sqlite_synchronous()?;
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
            OffsetDateTime::now_utc(),
        )?
        .id;
    let single_bills = bills(&db, org, "S", n)?;
    let group_bills = bills(&db, org, "G", n)?;

    let commits = db.commits();
    let baseline = one_thread(&db, org, &single_bills)?;
    let baseline_commits = db.commits() - commits;
    let commits = db.commits();
    let measured = many_threads(&db, org, &group_bills)?;
    let measured_commits = db.commits() - commits;

    println!(
        "SQLite, synchronous = {} on every connection (2 = FULL), n = {n} payments each",
        synchronous
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    println!(
        "baseline  1 thread, one payment per transaction   {baseline:>9.1} payments/s   commits/payment {:.2}",
        baseline_commits as f64 / n as f64
    );
    println!(
        "measured  {THREADS} threads, group commit              {measured:>9.1} payments/s   commits/payment {:.2}",
        measured_commits as f64 / n as f64
    );
    println!(
        "ratio     measured/baseline                      {:>9.2}   (goal: at least 1.50)",
        measured / baseline
    );
    Ok(())
}
