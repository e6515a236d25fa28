//! `billhub rotate-master-key` and `BILLHUB_MASTER_KEYS` (issue 14) on both backends: secrets
//! sealed with key A stay readable once B is current and A is old; the rotation re-seals all of
//! them (a legacy `v1:` one too) with B and says A can go; then B alone reads everything, A
//! alone gets the error naming B, and a second rotation changes nothing. A secret of a key that
//! is not configured is reported and keeps the command failing. `billhub config check` shows
//! the key ids, never the keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation, and read JSON by index

use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use billhub_core::signature::{csq, ipg};
use billhub_store::repo::rotate::SecretColumn;
use billhub_store::testing::TestDb;
use billhub_store::{Backend, MasterKey, NewOrganization, PoolOptions, SecretError, Store};
use serde_json::{Value, json};
use time::{OffsetDateTime, UtcOffset};

/// `billhub ARGS` on `db` with this current key and these old keys.
fn billhub(db: &TestDb, current: &MasterKey, old: &[&MasterKey], args: &[&str]) -> Output {
    let old: Vec<String> = old.iter().map(|k| k.to_hex()).collect();
    Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(args)
        .env("BILLHUB_DATABASE_URL", &db.url)
        .env("BILLHUB_MASTER_KEY", current.to_hex())
        .env("BILLHUB_MASTER_KEYS", old.join(","))
        .env("BILLHUB_LOG", "warn")
        .output()
        .expect("run billhub")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn rotate_json(db: &TestDb, current: &MasterKey, old: &[&MasterKey]) -> (bool, Value) {
    let out = billhub(db, current, old, &["rotate-master-key", "--json"]);
    let v = serde_json::from_str(stdout(&out).trim())
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    (out.status.success(), v)
}

/// A second store over the database with these keys (a gateway configured so).
fn store_with(db: &TestDb, key: MasterKey) -> Store {
    let options = PoolOptions {
        max_size: 2,
        min_idle: 0,
        connection_timeout: Duration::from_secs(30),
    };
    Store::open(&db.url, key, options, false).unwrap()
}

/// What was sealed, in the clear as it was handed out once.
struct Seeded {
    organization_id: i64,
    signature_key: String,
    /// The VA biller credential and its API key.
    va_biller: (i64, String),
    /// The VA bank channel's credential and its API key.
    va_bank: (i64, String),
    /// The postpaid network's credential and its password.
    postpaid: (i64, String),
    /// Rows of each column holding a sealed secret.
    organization_keys: u64,
    credentials: u64,
}

fn credential_id_of_channel(store: &Store, channel_id: i64) -> i64 {
    let owner = billhub_store::Principal::Channel { channel_id };
    let listed = store.credential_listings(&owner).unwrap();
    assert_eq!(listed.len(), 1);
    listed[0].id
}

fn seed(db: &TestDb, now: OffsetDateTime) -> Seeded {
    let org = db
        .create_organization(
            &NewOrganization {
                code: Some("ROTATE".into()),
                name: "Rotation Biller".into(),
                utc_offset: UtcOffset::UTC,
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec![],
            },
            now,
        )
        .unwrap();
    let collections = db
        .create_credential(org.id, "collections", false, now)
        .unwrap();
    // A second signature key: the first one stays, inactive, and is sealed too.
    let signature_key = db.rotate_signature_key(org.id, now).unwrap();
    assert_ne!(
        collections.signature_key.as_deref(),
        Some(signature_key.as_str())
    );
    let va = db.create_credential(org.id, "va", false, now).unwrap();
    db.create_credential(org.id, "bill24", false, now).unwrap();
    let bank = db.create_channel("Bank One", "va", now).unwrap();
    let network = db.create_channel("Kiosks", "postpaid", now).unwrap();
    Seeded {
        organization_id: org.id,
        signature_key,
        va_biller: (va.id, va.api_key.unwrap()),
        va_bank: (credential_id_of_channel(db, bank.id), bank.api_key.unwrap()),
        postpaid: (
            credential_id_of_channel(db, network.id),
            network.password.unwrap(),
        ),
        organization_keys: 2,
        credentials: 3,
    }
}

/// Everything sealed reads back as it was handed out, through `store`; the VA API keys still
/// verify a signed request (as the VA gateway checks one: through the cache).
fn assert_all_readable(store: &Store, s: &Seeded, now: OffsetDateTime) {
    assert_eq!(
        store.signature_key(s.organization_id).unwrap().as_deref(),
        Some(s.signature_key.as_str())
    );
    let body = br#"{"virtual_account":"8808123"}"#;
    for (id, api_key) in [&s.va_biller, &s.va_bank] {
        assert_eq!(&store.credential_secret(*id).unwrap(), api_key);
        let cached = store.cached_secret(*id, now).unwrap();
        assert!(ipg::verify(
            &cached,
            body,
            "",
            &ipg::sign(api_key, body, "")
        ));
    }
    assert_eq!(
        store.credential_secret(s.postpaid.0).unwrap(),
        csq::password_hash(&s.postpaid.1)
    );
    assert_eq!(
        store
            .newest_api_key(s.organization_id, "va")
            .unwrap()
            .as_deref(),
        Some(s.va_biller.1.as_str())
    );
}

/// Every sealed secret, as stored.
fn stored(store: &Store) -> Vec<(SecretColumn, i64, String)> {
    SecretColumn::ALL
        .into_iter()
        .flat_map(|c| store.sealed_secrets(c, 0, 1000).unwrap())
        .map(|s| (s.column, s.id, s.stored))
        .collect()
}

fn rotation(backend: Backend) {
    let db = TestDb::new(backend);
    let now = OffsetDateTime::now_utc();
    let a = db.master_key().clone();
    let s = seed(&db, now);
    let total = s.organization_keys + s.credentials;
    for (_, _, v) in stored(&db) {
        assert!(v.starts_with(&format!("v2:{}:", a.id())), "{v}");
    }
    // One secret from before key ids: the same body, `v1:` and no id.
    let v2 = db
        .sealed_secrets(SecretColumn::Credentials, 0, 1000)
        .unwrap();
    let postpaid = v2.iter().find(|r| r.id == s.postpaid.0).unwrap();
    let legacy = postpaid.stored.replace(&format!("v2:{}:", a.id()), "v1:");
    db.raw_sql(&format!(
        "UPDATE credentials SET secret_enc = '{legacy}' WHERE id = {}",
        s.postpaid.0
    ));
    assert_all_readable(&db, &s, now);

    // Gateways restart one by one with B current and A old: everything reads, and what a
    // gateway reads before the rotation it keeps reading (its cache) after.
    let b = MasterKey::generate();
    let both = store_with(&db, b.clone().with_old([a.clone()]));
    assert_all_readable(&both, &s, now);
    let before = stored(&db);

    // A gateway with both keys keeps reading (uncached) while the rotation runs.
    let done = AtomicBool::new(false);
    let (ok, v, reads) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut reads = 0u64;
            loop {
                for (id, api_key) in [&s.va_biller, &s.va_bank] {
                    assert_eq!(&both.credential_secret(*id).unwrap(), api_key);
                }
                reads += 1;
                if done.load(Ordering::SeqCst) {
                    return reads;
                }
            }
        });
        let (ok, v) = rotate_json(&db, &b, &[&a]);
        done.store(true, Ordering::SeqCst);
        (ok, v, reader.join().unwrap())
    });
    assert!(reads >= 1);
    assert!(ok, "{v}");
    assert_eq!(
        v,
        json!({
            "ok": true,
            "current_key": b.id(),
            "old_keys": [a.id()],
            "resealed": {
                "organization_keys.secret_enc": s.organization_keys,
                "credentials.secret_enc": s.credentials,
            },
            "already_current": 0,
            "changed_meanwhile": 0,
            "unreadable": [],
            "sealed_with": {b.id(): total},
            "removable": [a.id()],
        })
    );
    let after = stored(&db);
    assert_eq!(after.len(), before.len());
    for ((c0, id0, v0), (c1, id1, v1)) in before.iter().zip(&after) {
        assert_eq!((c0, id0), (c1, id1));
        assert_ne!(v0, v1);
        assert!(v1.starts_with(&format!("v2:{}:", b.id())), "{v1}");
    }
    assert_all_readable(&both, &s, now);

    // B alone reads everything; A alone gets the error that names B.
    assert_all_readable(&store_with(&db, b.clone()), &s, now);
    let only_a = store_with(&db, a.clone());
    let e = only_a.credential_secret(s.va_bank.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        SecretError::UnknownKey(b.id().to_string()).to_string()
    );
    assert_eq!(
        e.to_string(),
        format!(
            "a stored secret is sealed with master key {}, which is not configured: add that key \
             to BILLHUB_MASTER_KEYS (or make it BILLHUB_MASTER_KEY)",
            b.id()
        )
    );
    assert!(only_a.signature_key(s.organization_id).is_err());

    // Again: nothing to do, in text this time.
    let out = billhub(&db, &b, &[&a], &["rotate-master-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "re-sealed 0 secret(s) with the current key {b} ({total} already were)\n  \
             organization_keys.secret_enc: 0\n  credentials.secret_enc: 0\n\
             no secret is sealed with key {a} any more: remove it from BILLHUB_MASTER_KEYS\n\
             every secret is sealed with key {b}\n",
            a = a.id(),
            b = b.id()
        )
    );
    assert_eq!(stored(&db), after, "a second rotation changes nothing");
    // Without old keys: nothing to remove.
    let out = billhub(&db, &b, &[], &["rotate-master-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).ends_with(&format!(
        "every secret is sealed with key {}; BILLHUB_MASTER_KEYS lists no old key\n",
        b.id()
    )));
}

#[test]
fn rotation_sqlite() {
    rotation(Backend::Sqlite);
}

#[test]
fn rotation_postgres() {
    rotation(Backend::Postgres);
}

/// A secret sealed with a key nobody configured (C) cannot be re-sealed: it is named with its
/// row and the fix, the rest is rotated, and the command fails until C is listed.
fn unknown_key(backend: Backend) {
    let db = TestDb::new(backend);
    let now = OffsetDateTime::now_utc();
    let a = db.master_key().clone();
    let s = seed(&db, now);
    let c = MasterKey::generate();
    let sealed_by_c = c.encrypt(&s.va_bank.1).unwrap();
    db.raw_sql(&format!(
        "UPDATE credentials SET secret_enc = '{sealed_by_c}' WHERE id = {}",
        s.va_bank.0
    ));
    let b = MasterKey::generate();
    let (ok, v) = rotate_json(&db, &b, &[&a]);
    assert!(!ok, "{v}");
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["unreadable"],
        json!([{
            "column": "credentials.secret_enc",
            "id": s.va_bank.0,
            "error": SecretError::UnknownKey(c.id().to_string()).to_string(),
        }])
    );
    let total = s.organization_keys + s.credentials;
    assert_eq!(v["sealed_with"], json!({b.id(): total - 1, c.id(): 1}));
    assert_eq!(v["removable"], json!([a.id()]));

    let out = billhub(&db, &b, &[&a], &["rotate-master-key"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "1 secret(s) still sealed with {c}: key {c} is not configured: add it to \
             BILLHUB_MASTER_KEYS and run this again\n",
            c = c.id()
        )),
        "{text}"
    );
    assert!(
        text.ends_with("the old keys above cannot go yet\n"),
        "{text}"
    );
    assert_eq!(
        stderr(&out),
        format!(
            "billhub: 1 secret(s) are not sealed with the current key {}: keep the keys they \
             need\n",
            b.id()
        )
    );

    // With C listed too, the rotation completes.
    let (ok, v) = rotate_json(&db, &b, &[&a, &c]);
    assert!(ok, "{v}");
    assert_eq!(v["resealed"]["credentials.secret_enc"], 1);
    assert_eq!(v["sealed_with"], json!({b.id(): total}));
    assert_eq!(v["removable"], json!([a.id(), c.id()]));
    let b_only = store_with(&db, b.clone());
    assert_eq!(b_only.credential_secret(s.va_bank.0).unwrap(), s.va_bank.1);
}

#[test]
fn unknown_key_sqlite() {
    unknown_key(Backend::Sqlite);
}

#[test]
fn unknown_key_postgres() {
    unknown_key(Backend::Postgres);
}

/// The compare-and-set a rotation writes with: a row changed since it was read is left alone.
#[test]
fn replace_is_compare_and_set() {
    let db = TestDb::sqlite();
    let now = OffsetDateTime::now_utc();
    let s = seed(&db, now);
    let row = db
        .sealed_secrets(SecretColumn::Credentials, 0, 1)
        .unwrap()
        .remove(0);
    let key = db.master_key().clone();
    let stale = key.encrypt("stale").unwrap();
    let new = key.encrypt(&s.va_biller.1).unwrap();
    let replaced = db
        .transaction(|w| w.replace_sealed_secret(row.column, row.id, &stale, &new))
        .unwrap();
    assert!(!replaced);
    assert_eq!(
        db.sealed_secrets(SecretColumn::Credentials, 0, 1).unwrap()[0].stored,
        row.stored
    );
    let replaced = db
        .transaction(|w| w.replace_sealed_secret(row.column, row.id, &row.stored, &new))
        .unwrap();
    assert!(replaced);
    assert_eq!(
        db.sealed_secrets(SecretColumn::Credentials, 0, 1).unwrap()[0].stored,
        new
    );
}

/// `BILLHUB_MASTER_KEYS` in `billhub config check`: the ids, never the keys; a bad entry is
/// named by its position, never echoed.
#[test]
fn config_check_shows_key_ids() {
    let db = TestDb::sqlite();
    let a = MasterKey::generate();
    let b = db.master_key().clone();
    let out = billhub(&db, &b, &[&a], &["config", "check", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["master_key_id"], b.id());
    assert_eq!(v["old_master_key_ids"], json!([a.id()]));
    let out = billhub(&db, &b, &[&a], &["config", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "  master_key_id: {}\n  old_master_keys (BILLHUB_MASTER_KEYS): {}\n",
            b.id(),
            a.id()
        )),
        "{text}"
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(&a.to_hex()) && !all.contains(&b.to_hex()));

    let bad = format!("{},{}", a.to_hex(), &a.to_hex()[2..]);
    let out = Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(["config", "check", "--json"])
        .env("BILLHUB_DATABASE_URL", &db.url)
        .env("BILLHUB_MASTER_KEY", b.to_hex())
        .env("BILLHUB_MASTER_KEYS", &bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        v["problems"],
        json!([{
            "variable": "BILLHUB_MASTER_KEYS",
            "message": "key 2 of 2 is not 64 hex characters (32 bytes); list old keys comma-separated",
        }])
    );
    assert!(!stderr(&out).contains(&a.to_hex()[2..]));
    // The rotation refuses to start on it too.
    let out = Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(["rotate-master-key"])
        .env("BILLHUB_DATABASE_URL", &db.url)
        .env("BILLHUB_MASTER_KEY", b.to_hex())
        .env("BILLHUB_MASTER_KEYS", &bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "billhub: BILLHUB_MASTER_KEYS: key 2 of 2 is not 64 hex characters (32 bytes); list old \
         keys comma-separated\n"
    );
}
