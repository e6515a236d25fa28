//! Backups with a tested restore (docs/operations.md, "Backups"), on a live store: `billhub up`
//! serves while payments are made through Bill24 and a postpaid terminal, and the backup is
//! taken while it still runs.
//!
//! - SQLite: `billhub backup --to FILE` (`VACUUM INTO`), the file copied to a new path as a
//!   restore would, `billhub check` passes there and the restored store holds the same payments
//!   and bill totals. `backup` refuses an existing file.
//! - PostgreSQL: `pg_dump --format=custom`, `pg_restore --no-owner` into a fresh database,
//!   `billhub check` passes there with the same totals. `billhub backup` on PostgreSQL refuses
//!   and names pg_dump.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // a suite panics with the broken expectation

mod harness;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use billhub_store::testing::TestDb;
use billhub_store::{PoolOptions, Store};
use harness::clients::{Outcome, PayClient, Payer};
use harness::gateway::Gateways;
use harness::{Seed, SeedSpec};
use serde_json::Value;

/// What a restore must give back: per bill (public number) its paid amount, and per payment
/// `(channel, channel_ref)` its amount.
#[derive(Debug, PartialEq, Eq)]
struct Totals {
    bills: BTreeMap<String, i64>,
    payments: BTreeMap<(String, String), i64>,
}

fn totals(store: &Store, seed: &Seed) -> Totals {
    let bills = harness::bill_totals(store, seed)
        .into_iter()
        .map(|(b, paid, _)| (b.public_no, paid))
        .collect();
    let payments = harness::stored_payments(store, seed)
        .into_iter()
        .map(|(k, list)| {
            assert_eq!(list.len(), 1, "{k:?} stored twice");
            (k, list[0].amount)
        })
        .collect();
    Totals { bills, payments }
}

/// Seeds the test database, serves it with `billhub up` and pays 3 USD bills through Bill24 and
/// 2 IDR bills through a postpaid terminal (each in full). Returns the seed and the running
/// gateways (the store stays live for the backup).
fn live_store_with_payments(db: &TestDb) -> (Seed, Gateways) {
    let seed = harness::seed(
        db,
        &SeedSpec {
            org_code: "BACKUP01".into(),
            va_prefix: "009966".into(),
            idr_bills: 3,
            usd_bills: 4,
            postpaid_networks: 1,
        },
    );
    let g = Gateways::spawn(&db.url, &harness::master_key_hex(db), &[]);
    let client = PayClient::new(&g, &seed, Duration::from_secs(30));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let usd: Vec<_> = seed
            .bills
            .iter()
            .filter(|b| b.va_number.is_none())
            .collect();
        let idr: Vec<_> = seed
            .bills
            .iter()
            .filter(|b| b.va_number.is_some())
            .collect();
        let payments = usd
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, b)| (Payer::Bill24, *b, format!("B24-{i}")))
            .chain(
                idr.iter()
                    .take(2)
                    .enumerate()
                    .map(|(i, b)| (Payer::Postpaid, *b, format!("{}", 700 + i))),
            );
        for (payer, bill, reference) in payments {
            let outcome = client.pay(payer, bill, &reference, bill.billed).await;
            assert!(
                matches!(outcome, Outcome::Acknowledged { .. }),
                "{payer:?} {reference}: {outcome:?}"
            );
        }
    });
    (seed, g)
}

fn check_json(url: &str, key: &str) -> Value {
    let out = harness::billhub_with(url, key, &["check", "--json"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "billhub check on {url}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

/// The parts of `check --json` a restore must reproduce (not the ages, which move with time).
fn check_facts(v: &Value) -> Value {
    serde_json::json!({
        "ok": v["ok"],
        "violations": v["violations"],
        "open_unapplied": v["open_unapplied"],
        "unapplied": v["unapplied"],
        "pending_deliveries": v["pending_deliveries"],
    })
}

fn reopen(url: &str, db: &TestDb) -> Store {
    Store::open(
        url,
        db.store.master_key().clone(),
        PoolOptions::default(),
        false,
    )
    .unwrap()
}

#[test]
fn sqlite_backup_of_a_live_store_restores() {
    let db = TestDb::sqlite();
    let key = harness::master_key_hex(&db);
    let (seed, g) = live_store_with_payments(&db);
    let before = totals(&db, &seed);
    assert_eq!(before.payments.len(), 5, "{before:?}");
    assert_eq!(
        before.bills.values().filter(|&&paid| paid > 0).count(),
        5,
        "{before:?}"
    );
    let check_before = check_json(&db.url, &key);

    // The backup, while billhub up still serves the database.
    let dir = std::env::temp_dir().join(format!(
        "billhub-backup-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let backup = dir.join("billhub-backup.sqlite3");
    let backup_s = backup.to_str().unwrap();
    let out = harness::billhub_with(&db.url, &key, &["backup", "--to", backup_s, "--json"], &[]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backup"], backup_s);
    assert_eq!(v["backend"], "sqlite");
    assert_eq!(
        v["bytes"].as_u64().unwrap(),
        std::fs::metadata(&backup).unwrap().len()
    );
    // A second backup to the same file is refused: it never overwrites.
    let out = harness::billhub_with(&db.url, &key, &["backup", "--to", backup_s], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("billhub: --to: {backup_s} exists; backup writes a new file only\n")
    );
    drop(g);

    // Restore: the file copied to a new place, BILLHUB_DATABASE_URL pointed at it.
    let restored = dir.join("restored").join("billhub.sqlite3");
    std::fs::create_dir_all(restored.parent().unwrap()).unwrap();
    std::fs::copy(&backup, &restored).unwrap();
    let restored_url = format!("sqlite://{}", restored.display());
    let check_after = check_json(&restored_url, &key);
    assert_eq!(check_facts(&check_after), check_facts(&check_before));
    let store = reopen(&restored_url, &db);
    assert_eq!(totals(&store, &seed), before);
    // The secrets open with the same key: the organization's credentials are readable.
    let org = harness::billhub_with(&restored_url, &key, &["org", "show", "BACKUP01"], &[]);
    assert!(
        org.status.success(),
        "{}",
        String::from_utf8_lossy(&org.stderr)
    );
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A fresh, empty database on the server of `url`, dropped with the guard.
struct FreshDb {
    admin: String,
    name: String,
    url: String,
}

impl FreshDb {
    fn create(like: &str) -> FreshDb {
        let admin = std::env::var("BILLHUB_TEST_POSTGRES_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| billhub_store::testing::DEFAULT_TEST_POSTGRES_URL.into());
        let name = format!(
            "billhub_restore_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let out = Command::new("psql")
            .args([&admin, "-v", "ON_ERROR_STOP=1", "-qc"])
            .arg(format!("CREATE DATABASE {name}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (base, _) = like.rsplit_once('/').unwrap();
        FreshDb {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([&self.admin, "-qc"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

#[test]
fn postgres_pg_dump_restores_into_a_fresh_database() {
    let db = TestDb::postgres();
    let key = harness::master_key_hex(&db);
    let (seed, g) = live_store_with_payments(&db);
    let before = totals(&db, &seed);
    assert_eq!(before.payments.len(), 5, "{before:?}");
    let check_before = check_json(&db.url, &key);

    // billhub backup is for SQLite, and says what to use instead.
    let out = harness::billhub_with(&db.url, &key, &["backup", "--to", "/tmp/never"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("billhub: BILLHUB_DATABASE_URL is PostgreSQL: back up with `pg_dump"),
        "{err}"
    );
    assert!(!std::path::Path::new("/tmp/never").exists());

    // pg_dump while billhub up serves; pg_restore into a fresh database.
    let dump = std::env::temp_dir().join(format!("billhub-pgdump-{}.dump", std::process::id()));
    let out = Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(&db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(g);
    let fresh = FreshDb::create(&db.url);
    let out = Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--dbname", &fresh.url])
        .arg(&dump)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&dump);
    assert!(
        out.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let check_after = check_json(&fresh.url, &key);
    assert_eq!(check_facts(&check_after), check_facts(&check_before));
    let store = reopen(&fresh.url, &db);
    assert_eq!(totals(&store, &seed), before);
    // Migrations are recorded in the dump: nothing is pending on the restored database.
    let out = harness::billhub_with(&fresh.url, &key, &["migrate"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(totals(&store, &seed), before);
    let org = harness::billhub_with(&fresh.url, &key, &["org", "show", "BACKUP01"], &[]);
    assert!(
        org.status.success(),
        "{}",
        String::from_utf8_lossy(&org.stderr)
    );
    drop(store);
}
