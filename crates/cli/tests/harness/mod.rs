//! The process harness of the issue-10 suites (`crash`, `duplicates`, `db_restart`,
//! `notifications`, `auth_matrix`, ...): real `billhub` child processes over a real database.
//!
//! A suite includes it with `mod harness;` and uses:
//! - [`gateway::Gateways`]: a running `billhub up --base-port N` child (all four gateways) with its
//!   environment, killed with SIGKILL and restarted at will, its stdout and stderr appended to a
//!   log file ([`gateway::Gateways::log_path`]); dropping it kills the child.
//! - [`billhub`] / [`billhub_ok`]: one CLI subcommand (`check`, `org show`, ...) on a database.
//! - [`seed`]: an organization with credentials for every dialect and payable bills, returning
//!   what the clients need ([`Seed`]).
//! - [`clients`]: one small payer per paying dialect ([`clients::Payer`]) answering an
//!   [`clients::Outcome`], plus a collections reader.
//! - [`Rng`]: a small seeded generator (seed from `BILLHUB_SUITE_SEED`, printed by [`suite_seed`]),
//!   and [`long_form`] (`BILLHUB_SUITE=long`).
//! - [`Ledger`]-style verification helpers: [`stored_payments`], [`bill_totals`].
//!
//! Files under `tests/harness/` are not test targets. Other helpers' modules
//! (`pg_cluster.rs`, `receiver.rs`) are included by their own suites with
//! `#[path = "harness/pg_cluster.rs"] mod pg_cluster;` so this module does not need to name them.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::missing_panics_doc
)] // test support: every suite uses a part; a broken setup panics with its cause

pub mod clients;
pub mod gateway;

use std::collections::HashMap;
use std::process::{Command, Output};

use billhub_core::{Currency, Payment, PaymentRule, SettlementMode};
use billhub_store::testing::TestDb;
use billhub_store::{AccountInput, NewBill, NewOrganization, Store};
use time::{Duration, OffsetDateTime, UtcOffset};

/// The test database's master key as the hex `BILLHUB_MASTER_KEY` wants.
pub fn master_key_hex(db: &TestDb) -> String {
    db.store.master_key().to_hex()
}

/// Runs `billhub ARGS` on the database `db_url` (master key `key_hex`) with `env` added, and
/// returns its output (whatever the exit status).
pub fn billhub_with(db_url: &str, key_hex: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_billhub"));
    cmd.args(args)
        .env("BILLHUB_DATABASE_URL", db_url)
        .env("BILLHUB_MASTER_KEY", key_hex)
        .env("BILLHUB_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run billhub {args:?}: {e}"))
}

/// Runs `billhub ARGS` on the test database with `env` added; returns its output.
pub fn billhub(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    billhub_with(&db.url, &master_key_hex(db), args, env)
}

/// Runs `billhub ARGS` and panics (with stdout and stderr) unless it exits 0; returns stdout.
pub fn billhub_ok(db: &TestDb, args: &[&str]) -> String {
    let out = billhub(db, args, &[]);
    assert!(
        out.status.success(),
        "billhub {args:?} exited {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `billhub check` on the database must exit 0; returns its `--json` report.
pub fn assert_check_clean(db: &TestDb) -> serde_json::Value {
    let out = billhub(db, &["check", "--json"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "billhub check exited {:?}\nstdout: {stdout}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("check --json ({e}): {stdout}"))
}

/// Whether the long form was asked for (`BILLHUB_SUITE=long`).
pub fn long_form() -> bool {
    std::env::var("BILLHUB_SUITE").is_ok_and(|v| v.eq_ignore_ascii_case("long"))
}

/// The suite's seed: `BILLHUB_SUITE_SEED` when set, else one from the clock; printed with the
/// suite's name so a failing run can be replayed.
pub fn suite_seed(suite: &str) -> u64 {
    let seed = std::env::var("BILLHUB_SUITE_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            let t = OffsetDateTime::now_utc().unix_timestamp_nanos();
            (t as u64) ^ u64::from(std::process::id())
        });
    println!(
        "{suite}: seed {seed} (replay with BILLHUB_SUITE_SEED={seed}), form {}",
        if long_form() { "long" } else { "short" }
    );
    seed
}

/// A small seeded generator (splitmix64): reproducible random choices without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// An index into a slice of length `len` (`len > 0`).
    pub fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }
}

/// Credentials of an OAuth client of the VA dialect (a biller's or a bank's).
#[derive(Debug, Clone)]
pub struct VaCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub api_key: String,
}

/// A postpaid terminal network: its `U` and password, and its channel id (the stored payment
/// channel is `postpaid:{channel_id}`).
#[derive(Debug, Clone)]
pub struct PostpaidNetwork {
    pub channel_id: i64,
    pub username: String,
    pub password: String,
}

/// One seeded bill: exact rule, its own account, payable through the dialects of its currency
/// (IDR bills carry a VA number and are paid by VA banks, the VA sandbox and postpaid terminals;
/// USD bills by Bill24 and postpaid terminals).
#[derive(Debug, Clone)]
pub struct SeededBill {
    pub id: i64,
    /// The public number (collections `bill_no`, VA `hash`, Bill24 `bill_no`).
    pub public_no: String,
    pub account_code: String,
    pub currency: Currency,
    /// Minor units.
    pub billed: i64,
    /// The 16-digit VA number (prefix + 10 digits) of an IDR bill.
    pub va_number: Option<String>,
}

/// What the clients need: the organization, a credential for every dialect, the bills.
#[derive(Debug, Clone)]
pub struct Seed {
    pub org_id: i64,
    pub org_code: String,
    /// The organization's VA prefix (6 digits).
    pub va_prefix: String,
    /// Bill24 `token` header.
    pub bill24_token: String,
    /// Collections `Authorization: Bearer` token and its callback signature key.
    pub collections_token: String,
    pub collections_signature_key: String,
    /// The biller's VA credentials (`/api/v2/gw/*`, the sandbox mock).
    pub va_biller: VaCredentials,
    /// A bank enrolled with the organization (`/api/v2/ch/*`); payments are stored as
    /// channel `va:{va_bank_channel_id}`.
    pub va_bank: VaCredentials,
    pub va_bank_channel_id: i64,
    /// Terminal networks enrolled with the organization (each signs its own `ST` values; more
    /// networks allow more payments per second).
    pub postpaid: Vec<PostpaidNetwork>,
    pub bills: Vec<SeededBill>,
}

/// How many bills of each currency [`seed`] makes, and of what amounts.
#[derive(Debug, Clone)]
pub struct SeedSpec {
    /// The organization's 8-character code.
    pub org_code: String,
    /// A 6-digit VA prefix, unique in the store.
    pub va_prefix: String,
    pub idr_bills: usize,
    pub usd_bills: usize,
    pub postpaid_networks: usize,
}

impl Default for SeedSpec {
    fn default() -> Self {
        SeedSpec {
            org_code: "SUITE001".into(),
            va_prefix: "009931".into(),
            idr_bills: 10,
            usd_bills: 10,
            postpaid_networks: 1,
        }
    }
}

/// Creates the organization (settlement `total`, offset +07:00) with credentials for all four
/// dialects, `spec.postpaid_networks` terminal networks and a VA bank enrolled with it, and the
/// bills: IDR bills of 100,000 + 1,000 x n (VA numbers `{prefix}{n:010}`), USD bills of
/// 10.00 + 0.25 x n; each bill on its own account (`IDR{n:05}` / `USD{n:05}`), exact rule.
pub fn seed(store: &Store, spec: &SeedSpec) -> Seed {
    let now = OffsetDateTime::now_utc();
    let offset = UtcOffset::from_hms(7, 0, 0).unwrap();
    let org = store
        .create_organization(
            &NewOrganization {
                code: Some(spec.org_code.clone()),
                name: "Suite Biller".into(),
                utc_offset: offset,
                locale: "en".into(),
                settlement: Some(SettlementMode::Total),
                va_prefixes: vec![spec.va_prefix.clone()],
            },
            now,
        )
        .unwrap();
    let b24 = store
        .create_credential(org.id, "bill24", false, now)
        .unwrap();
    let col = store
        .create_credential(org.id, "collections", false, now)
        .unwrap();
    let va = store.create_credential(org.id, "va", false, now).unwrap();
    let bank = store.create_channel("Suite Bank", "va", now).unwrap();
    store.enroll(bank.id, org.id, now).unwrap();
    let postpaid = (0..spec.postpaid_networks.max(1))
        .map(|i| {
            let net = store
                .create_channel(&format!("Suite Shops {i}"), "postpaid", now)
                .unwrap();
            store.enroll(net.id, org.id, now).unwrap();
            PostpaidNetwork {
                channel_id: net.id,
                username: net.username.unwrap(),
                password: net.password.unwrap(),
            }
        })
        .collect();
    let mut bills = Vec::new();
    for n in 0..spec.idr_bills {
        let va_number = format!("{n:010}");
        bills.push(seed_bill(
            store,
            org.id,
            Currency::IDR,
            &format!("IDR{n:05}"),
            100_000 + 1_000 * i64::try_from(n).unwrap(),
            Some((spec.va_prefix.clone(), va_number)),
            now,
        ));
    }
    for n in 0..spec.usd_bills {
        bills.push(seed_bill(
            store,
            org.id,
            Currency::USD,
            &format!("USD{n:05}"),
            1_000 + 25 * i64::try_from(n).unwrap(),
            None,
            now,
        ));
    }
    Seed {
        org_id: org.id,
        org_code: org.code,
        va_prefix: spec.va_prefix.clone(),
        bill24_token: b24.token.unwrap(),
        collections_token: col.access_token.unwrap(),
        collections_signature_key: col.signature_key.unwrap_or_default(),
        va_biller: VaCredentials {
            client_id: va.client_id.unwrap(),
            client_secret: va.client_secret.unwrap(),
            api_key: va.api_key.unwrap(),
        },
        va_bank: VaCredentials {
            client_id: bank.client_id.unwrap(),
            client_secret: bank.client_secret.unwrap(),
            api_key: bank.api_key.unwrap(),
        },
        va_bank_channel_id: bank.id,
        postpaid,
        bills,
    }
}

fn seed_bill(
    store: &Store,
    org: i64,
    currency: Currency,
    account: &str,
    billed: i64,
    va: Option<(String, String)>,
    now: OffsetDateTime,
) -> SeededBill {
    let today = now.to_offset(UtcOffset::from_hms(7, 0, 0).unwrap()).date();
    let new = NewBill {
        organization_id: org,
        account_id: 0,
        collection_id: None,
        invoice_number: Some(format!("INV-{account}")),
        ref1: String::new(),
        ref2: String::new(),
        name: format!("Suite bill {account}"),
        description: String::new(),
        currency,
        billed,
        items: vec![],
        bill_date: today,
        due_date: Some(today + Duration::days(30)),
        valid_until: None,
        rule: PaymentRule::Exact,
        source: "test".into(),
        extra: "{}".into(),
        va_numbers: va.iter().cloned().collect(),
    };
    let input = AccountInput {
        code: account.into(),
        name: format!("Payer {account}"),
        name_latin: format!("Payer {account}"),
        ..Default::default()
    };
    let (_, bill) = store.create_bill_for_account(&input, &new, now).unwrap();
    SeededBill {
        id: bill.id,
        public_no: bill.public_no.clone(),
        account_code: account.into(),
        currency,
        billed,
        va_number: va.map(|(prefix, n)| format!("{prefix}{n}")),
    }
}

/// Every stored payment of the seeded bills' organization, by `(channel, channel_ref)`: the
/// count of payments under each key (more than 1 is a double).
pub fn stored_payments(store: &Store, seed: &Seed) -> HashMap<(String, String), Vec<Payment>> {
    let mut out: HashMap<(String, String), Vec<Payment>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for b in &seed.bills {
        for p in store.payments_of_bill(b.id).unwrap() {
            if seen.insert(p.id) {
                out.entry((p.channel.clone(), p.channel_ref.clone()))
                    .or_default()
                    .push(p);
            }
        }
    }
    out
}

/// The open and resolved unapplied payments of the store, by `(channel, channel_ref)`.
pub fn unapplied_refs(store: &Store) -> HashMap<(String, String), usize> {
    let list = store.snapshot(|r| r.unapplied_payments(None)).unwrap();
    let mut out = HashMap::new();
    for u in list {
        *out.entry((u.channel.clone(), u.channel_ref.clone()))
            .or_insert(0) += 1;
    }
    out
}

/// Per seeded bill: `(billed, paid as stored, sum of its unreversed allocations)`. A bill is
/// sound when the three agree and paid <= billed.
pub fn bill_totals(store: &Store, seed: &Seed) -> Vec<(SeededBill, i64, i64)> {
    seed.bills
        .iter()
        .map(|b| {
            let bill = store.bill(b.id).unwrap();
            let allocated: i64 = store
                .payments_of_bill(b.id)
                .unwrap()
                .iter()
                .filter(|p| p.reversed.is_none())
                .flat_map(|p| p.allocations.iter())
                .filter(|a| a.bill_id == b.id)
                .map(|a| a.amount)
                .sum();
            (b.clone(), bill.paid, allocated)
        })
        .collect()
}

/// Asserts every seeded bill is sound: paid = its unreversed allocations, paid <= billed.
/// Returns how many are fully paid.
pub fn assert_bills_sound(store: &Store, seed: &Seed) -> usize {
    let mut paid_full = 0;
    for (b, paid, allocated) in bill_totals(store, seed) {
        assert_eq!(
            paid, allocated,
            "bill {} ({}): paid {paid} but allocations {allocated}",
            b.public_no, b.account_code
        );
        assert!(
            paid <= b.billed,
            "bill {} ({}) overpaid: paid {paid} of {}",
            b.public_no,
            b.account_code,
            b.billed
        );
        if paid == b.billed {
            paid_full += 1;
        }
    }
    paid_full
}
