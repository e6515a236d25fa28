//! `billhub channel set` and `billhub channel show` against fresh databases (both backends).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation, and read JSON by index

use std::process::{Command, Output};

use billhub_core::channel_settings::{SingleUseSalts, VaAuth};
use billhub_store::testing::TestDb;
use serde_json::{Value, json};

fn billhub(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(args)
        .env("BILLHUB_DATABASE_URL", &db.url)
        .env("BILLHUB_MASTER_KEY", db.master_key().to_hex())
        .env("BILLHUB_LOG", "warn")
        .output()
        .expect("run billhub")
}

fn ok_text(db: &TestDb, args: &[&str]) -> String {
    let out = billhub(db, args);
    assert!(
        out.status.success(),
        "billhub {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ok_json(db: &TestDb, args: &[&str]) -> Value {
    let text = ok_text(db, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn fails_with(db: &TestDb, args: &[&str], needle: &str) {
    let out = billhub(db, args);
    assert!(!out.status.success(), "billhub {args:?} should fail");
    assert!(out.stdout.is_empty(), "nothing printed on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(needle),
        "stderr of {args:?} lacks `{needle}`: {err}"
    );
}

fn create(db: &TestDb, name: &str, dialect: &str) -> String {
    let c = ok_json(
        db,
        &[
            "channel",
            "create",
            "--name",
            name,
            "--dialect",
            dialect,
            "--json",
        ],
    );
    c["id"].as_i64().unwrap().to_string()
}

/// A bank: defaults shown, `va.auth` set and shown in text and JSON, and the store (what the
/// gateways read) sees it.
fn bank_settings(db: TestDb) {
    let id = create(&db, "Bank", "va");
    let shown = ok_json(&db, &["channel", "show", &id, "--json"]);
    assert_eq!(shown["id"].as_i64().unwrap().to_string(), id);
    assert_eq!(shown["name"], "Bank");
    assert_eq!(shown["dialect"], "va");
    assert_eq!(shown["disabled"], false);
    assert_eq!(shown["settings"], json!({ "va.auth": "bearer" }));
    assert_eq!(
        ok_text(&db, &["channel", "set", &id, "va.auth", "passive"]),
        format!("channel {id}: va.auth = passive\n")
    );
    let text = ok_text(&db, &["channel", "show", &id]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{id}\tBank\tva\tenabled")),
        "{text}"
    );
    assert_eq!(&lines[1..], ["  va.auth = passive"]);
    let settings = db.channel_settings(id.parse().unwrap()).unwrap();
    assert_eq!(settings.va_auth, VaAuth::Passive);
    fails_with(
        &db,
        &["channel", "set", &id, "snap.timestamp_window", "60"],
        "applies to snap channels only",
    );
}

const SNAP_PUBLIC_KEY: &str = include_str!("../../core/tests/vectors/snap-test-key.pub.pem");

/// A SNAP bank: created with its public key (required), SNAP keys set and shown, the key
/// rotated from a file with `@FILE`; a bad key is refused and changes nothing.
fn snap_bank_settings(db: TestDb) {
    let dir = std::env::temp_dir().join(format!("billhub-snap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join(format!("bank-{}.pem", db.url.len()));
    std::fs::write(&key, SNAP_PUBLIC_KEY).unwrap();
    let key = key.to_str().unwrap();
    fails_with(
        &db,
        &["channel", "create", "--name", "Jago", "--dialect", "snap"],
        "--public-key FILE is required for a snap channel",
    );
    fails_with(
        &db,
        &[
            "channel",
            "create",
            "--name",
            "Jago",
            "--dialect",
            "va",
            "--public-key",
            key,
        ],
        "--public-key applies to snap channels only",
    );
    let c = ok_json(
        &db,
        &[
            "channel",
            "create",
            "--name",
            "Jago",
            "--dialect",
            "snap",
            "--public-key",
            key,
            "--json",
        ],
    );
    assert_eq!(c["dialect"], "snap");
    assert_eq!(c["client_secret"].as_str().unwrap().len(), 40);
    assert!(c["client_id"].as_str().unwrap().len() >= 32);
    let id = c["id"].as_i64().unwrap().to_string();
    ok_text(
        &db,
        &[
            "channel",
            "set",
            &id,
            "snap.partner_service_id.009902",
            "88908",
        ],
    );
    ok_text(&db, &["channel", "set", &id, "snap.timestamp_window", "60"]);
    let shown = ok_json(&db, &["channel", "show", &id, "--json"]);
    assert_eq!(
        shown["settings"],
        json!({
            "snap.public_key": SNAP_PUBLIC_KEY.trim(),
            "snap.timestamp_window": "60",
            "snap.partner_service_id.009902": "88908",
        })
    );
    let settings = db.channel_settings(id.parse().unwrap()).unwrap();
    assert_eq!(
        settings.snap.partner_service_id("009902").as_deref(),
        Some("   88908")
    );
    ok_text(
        &db,
        &["channel", "set", &id, "snap.public_key", &format!("@{key}")],
    );
    fails_with(
        &db,
        &[
            "channel",
            "set",
            &id,
            "snap.public_key",
            "-----BEGIN PUBLIC KEY-----",
        ],
        "snap.public_key",
    );
    let after = db.channel_settings(id.parse().unwrap()).unwrap();
    assert_eq!(
        after.snap.public_key_pem.as_deref(),
        Some(SNAP_PUBLIC_KEY.trim())
    );
}

/// A terminal network: `csq.single_use_salts`; refusals name the key and change nothing.
fn network_settings_and_refusals(db: TestDb) {
    let id = create(&db, "Net", "postpaid");
    let shown = ok_json(&db, &["channel", "show", &id, "--json"]);
    assert_eq!(shown["dialect"], "postpaid");
    assert_eq!(
        shown["settings"],
        json!({ "csq.single_use_salts": "reverts" })
    );
    ok_text(&db, &["channel", "set", &id, "csq.single_use_salts", "all"]);
    assert_eq!(
        db.channel_settings(id.parse().unwrap())
            .unwrap()
            .csq_single_use_salts,
        SingleUseSalts::All
    );

    fails_with(
        &db,
        &["channel", "set", &id, "csq.single_use_salts", "never"],
        "invalid value for `csq.single_use_salts`: `never`: expected reverts or all",
    );
    fails_with(
        &db,
        &["channel", "set", &id, "va.auth", "passive"],
        "invalid value for `va.auth`: applies to va channels only, and this is a postpaid channel",
    );
    fails_with(
        &db,
        &["channel", "set", &id, "no.such", "1"],
        "unknown setting `no.such`",
    );
    fails_with(
        &db,
        &["channel", "set", "424242", "va.auth", "passive"],
        "channel 424242 not found",
    );
    fails_with(
        &db,
        &["channel", "show", "424242", "--json"],
        "channel 424242 not found",
    );
    fails_with(&db, &["channel", "set", &id, "va.auth"], "VALUE");
    let shown = ok_json(&db, &["channel", "show", &id, "--json"]);
    assert_eq!(shown["settings"], json!({ "csq.single_use_salts": "all" }));

    // A disabled channel keeps its settings and shows its state.
    ok_json(&db, &["channel", "disable", &id, "--json"]);
    let shown = ok_json(&db, &["channel", "show", &id, "--json"]);
    assert_eq!(shown["disabled"], true);
    assert_eq!(shown["settings"], json!({ "csq.single_use_salts": "all" }));
}

billhub_store::backend_tests!(
    bank_settings,
    snap_bank_settings,
    network_settings_and_refusals
);
