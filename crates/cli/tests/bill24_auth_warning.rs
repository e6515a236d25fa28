//! `billhub org show` warns (on stderr) while Bill24 cannot be authorised: no active bill24
//! token and no `bill24.webhook_allow_ips` (issue 11). Both backends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation, and read JSON by index

use std::process::{Command, Output};

use billhub_store::testing::TestDb;
use serde_json::Value;

const WARNING: &str = "warning: Bill24 cannot be authorised";

fn billhub(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(args)
        .env("BILLHUB_DATABASE_URL", &db.url)
        .env("BILLHUB_MASTER_KEY", db.master_key().to_hex())
        .env("BILLHUB_LOG", "warn")
        .output()
        .expect("run billhub")
}

fn ok(db: &TestDb, args: &[&str]) -> (String, String) {
    let out = billhub(db, args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "billhub {args:?} failed: {err}");
    (String::from_utf8(out.stdout).unwrap(), err)
}

/// `org show` in text and JSON: stdout unchanged, the warning on stderr while neither is set.
fn shown(db: &TestDb) -> (bool, bool) {
    let (text, text_err) = ok(db, &["org", "show", "BILL24W1"]);
    assert!(text.starts_with("Warned Biller (BILL24W1)"), "{text}");
    let (json, json_err) = ok(db, &["org", "show", "BILL24W1", "--json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["code"], "BILL24W1");
    assert!(!text.contains(WARNING) && !json.contains(WARNING));
    (text_err.contains(WARNING), json_err.contains(WARNING))
}

fn warns_until_bill24_can_be_authorised(db: TestDb) {
    ok(
        &db,
        &[
            "org",
            "create",
            "--code",
            "BILL24W1",
            "--name",
            "Warned Biller",
        ],
    );
    assert_eq!(shown(&db), (true, true));
    let (_, err) = ok(&db, &["org", "show", "BILL24W1"]);
    assert!(err.contains("bill24.webhook_allow_ips"), "{err}");
    assert!(err.contains("docs/dialects/bill24.md"), "{err}");

    // A token of another dialect does not authorise Bill24.
    ok(
        &db,
        &[
            "credential",
            "create",
            "--org",
            "BILL24W1",
            "--dialect",
            "collections",
            "--json",
        ],
    );
    assert_eq!(shown(&db), (true, true));

    // Bill24's addresses: no warning; cleared again: the warning is back.
    ok(
        &db,
        &[
            "org",
            "set",
            "BILL24W1",
            "bill24.webhook_allow_ips",
            "203.0.113.10",
        ],
    );
    assert_eq!(shown(&db), (false, false));
    ok(
        &db,
        &["org", "set", "BILL24W1", "bill24.webhook_allow_ips", ""],
    );
    assert_eq!(shown(&db), (true, true));

    // A bill24 token: no warning; revoked: the warning is back.
    let (created, _) = ok(
        &db,
        &[
            "credential",
            "create",
            "--org",
            "BILL24W1",
            "--dialect",
            "bill24",
            "--json",
        ],
    );
    let created: Value = serde_json::from_str(&created).unwrap();
    assert_eq!(shown(&db), (false, false));
    let id = created["id"].as_i64().unwrap().to_string();
    ok(&db, &["credential", "revoke", &id, "--json"]);
    assert_eq!(shown(&db), (true, true));
}

billhub_store::backend_tests!(warns_until_bill24_can_be_authorised);
