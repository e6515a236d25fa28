//! `billhub user create|list|reset-password|disable` against fresh databases (both backends):
//! the password is printed once and only its argon2id hash is stored; e-mails are unique per
//! organization whatever their case; a reset password is printed once and ends the user's
//! sessions; a disabled user cannot sign in.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use std::process::{Command, Output};

use billhub_store::testing::TestDb;
use billhub_store::users;
use serde_json::Value;

fn billhub(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(args)
        .env("BILLHUB_DATABASE_URL", &db.url)
        .env("BILLHUB_MASTER_KEY", db.master_key().to_hex())
        .env("BILLHUB_LOG", "warn")
        .output()
        .expect("run billhub")
}

fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = billhub(db, args);
    assert!(
        out.status.success(),
        "billhub {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ok_json(db: &TestDb, args: &[&str]) -> Value {
    serde_json::from_str(&ok(db, args)).unwrap()
}

fn fails_with(db: &TestDb, args: &[&str], needle: &str) {
    let out = billhub(db, args);
    assert!(!out.status.success(), "billhub {args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(needle),
        "stderr of {args:?} lacks `{needle}`: {err}"
    );
}

fn users_lifecycle(db: TestDb) {
    ok_json(
        &db,
        &[
            "org", "create", "--code", "SCHOOL01", "--name", "School", "--json",
        ],
    );
    ok_json(
        &db,
        &[
            "org", "create", "--code", "SCHOOL02", "--name", "Other", "--json",
        ],
    );
    let created = ok_json(
        &db,
        &[
            "user",
            "create",
            "--org",
            "SCHOOL01",
            "--email",
            "Ops@School.example",
            "--role",
            "operator",
            "--json",
        ],
    );
    assert_eq!(created["email"], "Ops@School.example");
    assert_eq!(created["role"], "operator");
    assert!(created["disabled_at"].is_null());
    let password = created["password"].as_str().unwrap();
    assert_eq!(password.len(), 24);
    let org_id = created["organization_id"].as_i64().unwrap();

    // Stored: the argon2id hash of that password, never the password.
    let found = db
        .console_sign_in_candidate(org_id, "ops@school.example")
        .unwrap()
        .unwrap();
    assert!(found.password_hash.starts_with("$argon2id$v=19$"));
    assert!(!found.password_hash.contains(password));
    assert!(users::verify_password(&found.password_hash, password));

    // Text output names the password once too.
    let text = ok(
        &db,
        &[
            "user",
            "create",
            "--org",
            "SCHOOL01",
            "--email",
            "viewer@school.example",
            "--role",
            "viewer",
        ],
    );
    assert!(
        text.contains("viewer@school.example (viewer) in SCHOOL01"),
        "{text}"
    );
    assert!(text.contains("password (shown once): "), "{text}");

    // Unique per organization whatever the case; another organization may reuse it.
    fails_with(
        &db,
        &[
            "user",
            "create",
            "--org",
            "SCHOOL01",
            "--email",
            "OPS@school.example",
            "--role",
            "viewer",
        ],
        "already exists",
    );
    ok_json(
        &db,
        &[
            "user",
            "create",
            "--org",
            "SCHOOL02",
            "--email",
            "ops@school.example",
            "--role",
            "viewer",
            "--json",
        ],
    );
    fails_with(
        &db,
        &[
            "user",
            "create",
            "--org",
            "SCHOOL01",
            "--email",
            "not an email",
            "--role",
            "viewer",
        ],
        "--email",
    );
    fails_with(
        &db,
        &[
            "user",
            "create",
            "--org",
            "SCHOOL01",
            "--email",
            "a@b.example",
            "--role",
            "admin",
        ],
        "admin",
    );
    fails_with(
        &db,
        &[
            "user",
            "create",
            "--org",
            "NOPE0001",
            "--email",
            "a@b.example",
            "--role",
            "viewer",
        ],
        "NOPE0001",
    );

    let list = ok(&db, &["user", "list", "--org", "SCHOOL01", "--json"]);
    let emails: Vec<String> = list
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["email"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(emails, vec!["Ops@School.example", "viewer@school.example"]);
    assert!(!list.contains("argon2"));

    // A new password for the viewer: printed once, its hash stored, the old one no longer
    // valid, and the viewer's sessions ended.
    let viewer_id = list
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|u| u["email"] == "viewer@school.example")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let old_hash = db
        .console_sign_in_candidate(org_id, "viewer@school.example")
        .unwrap()
        .unwrap()
        .password_hash;
    let t0 = time::OffsetDateTime::now_utc();
    db.create_console_session(viewer_id, org_id, "viewer-session", "csrf", t0)
        .unwrap();
    let ops_id = created["id"].as_i64().unwrap();
    db.create_console_session(ops_id, org_id, "ops-session", "csrf", t0)
        .unwrap();
    assert!(db.console_session("viewer-session").unwrap().is_some());
    let reset = ok_json(
        &db,
        &["user", "reset-password", &viewer_id.to_string(), "--json"],
    );
    assert_eq!(reset["id"], viewer_id);
    assert_eq!(reset["email"], "viewer@school.example");
    assert_eq!(reset["role"], "viewer");
    let new_password = reset["password"].as_str().unwrap().to_string();
    assert_eq!(new_password.len(), 24);
    let found = db
        .console_sign_in_candidate(org_id, "viewer@school.example")
        .unwrap()
        .unwrap();
    assert_ne!(found.password_hash, old_hash);
    assert!(found.password_hash.starts_with("$argon2id$v=19$"));
    assert!(!found.password_hash.contains(&new_password));
    assert!(users::verify_password(&found.password_hash, &new_password));
    assert!(db.console_session("viewer-session").unwrap().is_none());
    // Only that user's sessions end.
    assert!(db.console_session("ops-session").unwrap().is_some());
    // Text output: the new password once; a second reset gives another one.
    let text = ok(&db, &["user", "reset-password", &viewer_id.to_string()]);
    assert!(
        text.contains(&format!(
            "user {viewer_id} viewer@school.example (viewer): new password, their sessions ended"
        )),
        "{text}"
    );
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .unwrap();
    assert_eq!(line.len(), 24);
    assert_ne!(line, new_password);
    let found = db
        .console_sign_in_candidate(org_id, "viewer@school.example")
        .unwrap()
        .unwrap();
    assert!(users::verify_password(&found.password_hash, line));
    assert!(!users::verify_password(&found.password_hash, &new_password));
    fails_with(&db, &["user", "reset-password", "999999"], "console user");

    let id = created["id"].as_i64().unwrap().to_string();
    let disabled = ok_json(&db, &["user", "disable", &id, "--json"]);
    assert!(disabled["disabled_at"].is_string());
    assert!(
        db.console_sign_in_candidate(org_id, "ops@school.example")
            .unwrap()
            .is_none()
    );
    let text = ok(&db, &["user", "list", "--org", "SCHOOL01"]);
    assert!(
        text.contains(&format!("{id}\tOps@School.example\toperator\tdisabled")),
        "{text}"
    );
    fails_with(&db, &["user", "disable", "999999"], "console user");
}

mod sqlite {
    #[test]
    fn users_lifecycle() {
        super::users_lifecycle(billhub_store::testing::TestDb::sqlite());
    }
}

mod postgres {
    #[test]
    fn users_lifecycle() {
        super::users_lifecycle(billhub_store::testing::TestDb::postgres());
    }
}
