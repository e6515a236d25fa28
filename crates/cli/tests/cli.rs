//! The `billhub` binary against fresh databases (both backends), and `billhub up --demo`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation, and read JSON by index

use std::io::{Read, Write};
use std::process::{Command, Output};

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

fn ok_json(db: &TestDb, args: &[&str]) -> Value {
    let out = billhub(db, args);
    assert!(
        out.status.success(),
        "billhub {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
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

fn organizations_credentials_channels(db: TestDb) {
    let org = ok_json(
        &db,
        &[
            "org",
            "create",
            "--code",
            "SCHOOL01",
            "--name",
            "School",
            "--utc-offset",
            "+07:00",
            "--va-prefix",
            "009902",
            "--settlement",
            "total",
            "--json",
        ],
    );
    assert!(org["id"].as_i64().unwrap() > 0);
    assert_eq!(org["code"], "SCHOOL01");
    assert_eq!(org["utc_offset"], "+07:00");
    fails_with(
        &db,
        &["org", "create", "--code", "SCHOOL01", "--name", "Again"],
        "taken",
    );
    fails_with(
        &db,
        &[
            "org",
            "create",
            "--code",
            "OTHER001",
            "--name",
            "Other",
            "--va-prefix",
            "009902",
        ],
        "another organization",
    );
    fails_with(
        &db,
        &[
            "org",
            "create",
            "--code",
            "OTHER001",
            "--name",
            "Other",
            "--utc-offset",
            "7",
        ],
        "--utc-offset",
    );

    let out = billhub(
        &db,
        &["org", "set", "SCHOOL01", "bill24.statement_months", "6"],
    );
    assert!(out.status.success());
    fails_with(
        &db,
        &["org", "set", "SCHOOL01", "settlement", "sometimes"],
        "settlement",
    );
    fails_with(&db, &["org", "set", "SCHOOL01", "no.such", "1"], "no.such");
    fails_with(
        &db,
        &["org", "set", "NOSUCHORG", "settlement", "open"],
        "NOSUCHORG",
    );
    let shown = ok_json(&db, &["org", "show", "SCHOOL01", "--json"]);
    assert_eq!(shown["settings"]["bill24.statement_months"], "6");
    assert_eq!(shown["settings"]["settlement"], "total");
    assert_eq!(shown["va_prefixes"][0], "009902");

    let b24 = ok_json(
        &db,
        &[
            "credential",
            "create",
            "--org",
            "SCHOOL01",
            "--dialect",
            "bill24",
            "--json",
        ],
    );
    let token = b24["token"].as_str().unwrap();
    assert!(token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()));
    let col = ok_json(
        &db,
        &[
            "credential",
            "create",
            "--org",
            "SCHOOL01",
            "--dialect",
            "collections",
            "--json",
        ],
    );
    assert!(col["access_token"].as_str().unwrap().len() >= 32);
    assert!(col["signature_key"].as_str().unwrap().len() >= 32);
    let col2 = ok_json(
        &db,
        &[
            "credential",
            "create",
            "--org",
            "SCHOOL01",
            "--dialect",
            "collections",
            "--json",
        ],
    );
    assert!(col2.get("signature_key").is_none());
    let col3 = ok_json(
        &db,
        &[
            "credential",
            "create",
            "--org",
            "SCHOOL01",
            "--dialect",
            "collections",
            "--rotate-signature-key",
            "--json",
        ],
    );
    assert_ne!(col3["signature_key"], col["signature_key"]);
    let va = ok_json(
        &db,
        &[
            "credential",
            "create",
            "--org",
            "SCHOOL01",
            "--dialect",
            "va",
            "--json",
        ],
    );
    for k in ["client_id", "client_secret", "api_key"] {
        assert!(!va[k].as_str().unwrap().is_empty(), "{k}");
    }
    // The console's people sign in with `billhub user create` accounts, not tokens.
    fails_with(
        &db,
        &[
            "credential",
            "create",
            "--org",
            "SCHOOL01",
            "--dialect",
            "console",
        ],
        "console",
    );
    fails_with(
        &db,
        &[
            "credential",
            "create",
            "--org",
            "SCHOOL01",
            "--dialect",
            "nope",
        ],
        "nope",
    );

    let bank = ok_json(
        &db,
        &[
            "channel",
            "create",
            "--name",
            "Bank",
            "--dialect",
            "va",
            "--json",
        ],
    );
    assert!(
        bank["id"].as_i64().unwrap() > 0
            && bank["client_id"].is_string()
            && bank["api_key"].is_string()
    );
    let net = ok_json(
        &db,
        &[
            "channel",
            "create",
            "--name",
            "Shops",
            "--dialect",
            "postpaid",
            "--json",
        ],
    );
    assert!(net["username"].is_string() && net["password"].is_string());
    let id = net["id"].as_i64().unwrap().to_string();
    assert!(
        billhub(
            &db,
            &["channel", "enroll", "--channel", &id, "--org", "SCHOOL01"]
        )
        .status
        .success()
    );
    assert!(
        db.is_enrolled(net["id"].as_i64().unwrap(), org["id"].as_i64().unwrap())
            .unwrap()
    );
    fails_with(
        &db,
        &[
            "channel",
            "enroll",
            "--channel",
            "99999",
            "--org",
            "SCHOOL01",
        ],
        "channel 99999",
    );
}

fn bills(db: TestDb) {
    ok_json(
        &db,
        &[
            "org",
            "create",
            "--code",
            "WATER001",
            "--name",
            "Water",
            "--utc-offset",
            "+07:00",
            "--va-prefix",
            "009903",
            "--json",
        ],
    );
    let b = ok_json(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "WATER001",
            "--account",
            "CU003035",
            "--account-name",
            "ញ៉េប នីម",
            "--account-name-latin",
            "Nheb Nim",
            "--phone",
            "010888999",
            "--currency",
            "KHR",
            "--amount",
            "5000",
            "--bill-date",
            "2025-09-01",
            "--due-date",
            "2025-09-30",
            "--json",
        ],
    );
    let public_no = b["public_no"].as_str().unwrap();
    assert_eq!(public_no.len(), 8);
    assert!(public_no.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(b["amount"], "5000.00");
    assert_eq!(b["status"], "active");
    let bill = db.bill(b["id"].as_i64().unwrap()).unwrap();
    assert_eq!(
        (bill.billed, bill.bill_date.to_string().as_str()),
        (500_000, "2025-09-01")
    );
    let account = db.account(bill.account_id).unwrap();
    assert_eq!(
        (
            account.name.as_str(),
            account.name_latin.as_str(),
            account.phone.as_str()
        ),
        ("ញ៉េប នីម", "Nheb Nim", "010888999")
    );

    let p = ok_json(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "WATER001",
            "--account",
            "A2",
            "--currency",
            "USD",
            "--amount",
            "10.50",
            "--rule",
            "partial",
            "--min-amount",
            "2",
            "--invoice-number",
            "INV-1",
            "--json",
        ],
    );
    let bill = db.bill(p["id"].as_i64().unwrap()).unwrap();
    assert_eq!(
        bill.rule,
        billhub_core::PaymentRule::Partial { minimum: Some(200) }
    );
    assert_eq!(bill.invoice_number, "INV-1");
    let v = ok_json(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "WATER001",
            "--account",
            "1234567890",
            "--currency",
            "IDR",
            "--amount",
            "100000",
            "--va-number",
            "0099031234567890",
            "--valid-until",
            "2099-01-01T00:00:00+07:00",
            "--json",
        ],
    );
    assert_eq!(v["va_numbers"][0], "0099031234567890");

    fails_with(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "WATER001",
            "--account",
            "A",
            "--currency",
            "USD",
            "--amount",
            "10.505",
        ],
        "--amount",
    );
    fails_with(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "WATER001",
            "--account",
            "A",
            "--currency",
            "XYZ",
            "--amount",
            "1",
        ],
        "--currency",
    );
    fails_with(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "WATER001",
            "--account",
            "A",
            "--currency",
            "USD",
            "--amount",
            "0",
        ],
        "positive",
    );
    fails_with(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "WATER001",
            "--account",
            "A",
            "--currency",
            "USD",
            "--amount",
            "1",
            "--bill-date",
            "01/09/2025",
        ],
        "--bill-date",
    );
    fails_with(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "WATER001",
            "--account",
            "A",
            "--currency",
            "USD",
            "--amount",
            "1",
            "--min-amount",
            "1",
        ],
        "--min-amount",
    );
    fails_with(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "WATER001",
            "--account",
            "B",
            "--currency",
            "IDR",
            "--amount",
            "1",
            "--va-number",
            "0099031234567890",
        ],
        "still payable",
    );
    fails_with(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "WATER001",
            "--account",
            "B",
            "--currency",
            "IDR",
            "--amount",
            "1",
            "--va-number",
            "12345",
        ],
        "--va-number",
    );

    let check = billhub(&db, &["check"]);
    assert!(check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains("no unapplied money"));
}

/// `billhub check` verifies the invariants: a store after payments, a reversal, credit applied
/// and unapplied money exits 0 (the unapplied money is listed as work to do); each kind of
/// violation planted with raw SQL is named in the text, listed by `--json`, and exits 1 in both
/// forms; undone, the check exits 0 again.
fn check_verifies_invariants(db: TestDb) {
    let org = ok_json(
        &db,
        &[
            "org", "create", "--code", "CHECK001", "--name", "Check", "--json",
        ],
    );
    let org_id = org["id"].as_i64().unwrap();
    let new_bill = |amount: &str, rule: &str| {
        ok_json(
            &db,
            &[
                "bill",
                "create",
                "--org",
                "CHECK001",
                "--account",
                "CU1",
                "--currency",
                "KHR",
                "--amount",
                amount,
                "--rule",
                rule,
                "--json",
            ],
        )
    };
    let exact = new_bill("5000", "exact");
    let partial = new_bill("5000", "partial");
    let open = new_bill("1000", "open");
    let again = new_bill("3000", "partial");
    let now = time::OffsetDateTime::now_utc();
    let pay = |bill: &Value, reference: &str, minor: i64| {
        let req = billhub_store::PaymentRequest {
            organization_id: org_id,
            channel: "bill24".into(),
            channel_ref: reference.into(),
            request_hash: billhub_store::fingerprint(&[reference]),
            target: billhub_store::PaymentTarget::Bill {
                bill_id: bill["id"].as_i64().unwrap(),
            },
            amount: billhub_core::Money::from_minor(minor, billhub_core::Currency::KHR),
            fee: 0,
            method: String::new(),
            payer_name: String::new(),
            details: "{}".into(),
            paid_at: now,
            on_rejection: billhub_store::OnRejection::RecordUnapplied,
        };
        db.post_payment(&req, now).unwrap()
    };
    let paid = pay(&exact, "K1", 500_000).payment().unwrap().clone();
    pay(&partial, "K2", 200_000);
    pay(&open, "K3", 150_000);
    let reversed = pay(&again, "K4", 300_000).payment().unwrap().clone();
    db.reverse_payment(
        &billhub_store::ReversalRequest {
            organization_id: org_id,
            payment_id: reversed.id,
            channel: "bill24".into(),
            channel_ref: "REV-K4".into(),
            request_hash: billhub_store::fingerprint(&["REV-K4"]),
            reason: "test".into(),
            requester: billhub_core::reversal::Requester::Channel,
            claimed: billhub_core::reversal::Claimed::Nothing,
            window: None,
        },
        now,
    )
    .unwrap();
    let credit = [
        "credit",
        "apply",
        "--org",
        "CHECK001",
        "--account",
        "CU1",
        "--currency",
        "KHR",
        "--amount",
        "500",
        "--bill",
        again["public_no"].as_str().unwrap(),
        "--reference",
        "op-1",
        "--json",
    ];
    ok_json(&db, &credit);
    pay(&exact, "K5", 500_000); // already paid: kept as unapplied money
    let clean = billhub(&db, &["check"]);
    let text = String::from_utf8_lossy(&clean.stdout).to_string();
    assert!(clean.status.success(), "{text}");
    assert!(text.contains("invariants hold: no violations"), "{text}");
    assert!(
        text.contains("1 unapplied payment(s) need an operator"),
        "{text}"
    );
    assert!(
        text.contains("open unapplied KHR: 1 payment(s), 5000.00"),
        "{text}"
    );
    let report = ok_json(&db, &["check", "--json"]);
    assert_eq!(report["ok"], true);
    assert_eq!(report["violations"], json!([]));
    assert_eq!(
        report["open_unapplied"],
        json!([{ "currency": "KHR", "count": 1, "total": 500_000 }])
    );
    assert_eq!(report["unapplied"].as_array().unwrap().len(), 1);
    assert_eq!(report["pending_deliveries"], 0);

    let sqlite = db.backend() == billhub_store::Backend::Sqlite;
    assert_eq!(report["nul_searched"], sqlite);
    let (e, p, pa) = (
        exact["id"].as_i64().unwrap(),
        partial["id"].as_i64().unwrap(),
        paid.id,
    );
    let account = paid.account_id.unwrap();
    let exact_no = exact["public_no"].as_str().unwrap().to_string();
    let partial_no = partial["public_no"].as_str().unwrap().to_string();
    let mut cases = vec![
        (
            "bill_paid_mismatch",
            format!("UPDATE bills SET paid = paid + 1 WHERE id = {p}"),
            format!("UPDATE bills SET paid = paid - 1 WHERE id = {p}"),
            "bill",
            partial_no.clone(),
        ),
        (
            "bill_status_mismatch",
            format!("UPDATE bills SET status = 'active' WHERE id = {e}"),
            format!("UPDATE bills SET status = 'paid' WHERE id = {e}"),
            "bill",
            exact_no,
        ),
        (
            "payment_on_void_bill",
            format!("UPDATE bills SET status = 'void' WHERE id = {p}"),
            format!("UPDATE bills SET status = 'partially_paid' WHERE id = {p}"),
            "bill",
            partial_no,
        ),
        (
            "payment_amount_mismatch",
            format!("UPDATE payments SET amount = amount + 1 WHERE id = {pa}"),
            format!("UPDATE payments SET amount = amount - 1 WHERE id = {pa}"),
            "payment",
            paid.uid.clone(),
        ),
        (
            "negative_credit",
            format!(
                "INSERT INTO account_credit_entries (organization_id, account_id, currency, amount, kind, note, created_at) \
                 VALUES ({org_id}, {account}, 'KHR', -1000000, 'refunded', 'planted', '2026-01-01 00:00:00')"
            ),
            "DELETE FROM account_credit_entries WHERE note = 'planted'".to_string(),
            "account",
            "CU1".to_string(),
        ),
        (
            "date_out_of_range",
            format!("UPDATE payments SET paid_at = '1999-12-31 23:59:59' WHERE id = {pa}"),
            format!("UPDATE payments SET paid_at = '2026-01-01 00:00:00' WHERE id = {pa}"),
            "payment",
            paid.uid.clone(),
        ),
    ];
    if sqlite {
        cases.push((
            "text_with_nul",
            format!("UPDATE payments SET payer_name = 'a' || char(0) || 'b' WHERE id = {pa}"),
            format!("UPDATE payments SET payer_name = '' WHERE id = {pa}"),
            "payment",
            paid.uid.clone(),
        ));
    }
    for (kind, plant, undo, row, key) in cases {
        db.raw_sql(&plant);
        assert_violation(&db, kind, row, &key);
        db.raw_sql(&undo);
        assert!(billhub(&db, &["check"]).status.success(), "{kind} undone");
    }
    // One reference posted and held as refunded unapplied money (the id is the store's).
    db.raw_sql(
        "INSERT INTO unapplied_payments (organization_id, channel, channel_ref, request_hash, account_code, currency, amount, reason, details, status, created_at) \
         VALUES (NULL, 'bill24', 'K1', 'x', 'CU1', 'KHR', 500000, 'planted', '{}', 'refunded', '2026-01-01 00:00:00')",
    );
    let twin = db
        .unapplied_payments(None)
        .unwrap()
        .into_iter()
        .find(|u| u.channel_ref == "K1")
        .unwrap();
    assert_violation(
        &db,
        "reference_posted_and_unapplied",
        "unapplied",
        &twin.id.to_string(),
    );
}

/// `billhub check` and `billhub check --json` both exit 1 naming exactly this one violation.
fn assert_violation(db: &TestDb, kind: &str, row: &str, key: &str) {
    let out = billhub(db, &["check"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{kind}: text check exits 1\n{text}");
    assert!(text.contains("1 violation(s):"), "{kind}: {text}");
    assert!(
        text.contains(&format!("  {kind} org CHECK001 {row} {key}: ")),
        "{kind}: {text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 invariant violation(s)"),
        "{kind}"
    );
    let out = billhub(db, &["check", "--json"]);
    assert!(!out.status.success(), "{kind}: --json check exits 1");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false, "{kind}");
    let violations = report["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{kind}: {violations:?}");
    assert_eq!(violations[0]["kind"], kind);
    assert_eq!(violations[0]["organization"], "CHECK001");
    assert_eq!(violations[0]["row"], row);
    assert_eq!(violations[0]["key"], key);
}

billhub_store::backend_tests!(
    organizations_credentials_channels,
    bills,
    unapplied_operator_flow,
    exits_cleanly_every_time,
    credential_list_and_revoke,
    channel_list_and_disable,
    disabled_channel_credentials_are_refused,
    check_verifies_invariants,
);

#[path = "support/cross.rs"]
mod cross;

mod cross_dialect {
    billhub_http::http_backend_tests!(one_bill_every_channel);
    use super::cross::one_bill_every_channel;
}

/// An operator applies money a channel took for an unknown consumer, and refunds another.
fn unapplied_operator_flow(db: TestDb) {
    let org = ok_json(
        &db,
        &[
            "org", "create", "--code", "LATE0001", "--name", "Late", "--json",
        ],
    );
    let org_id = org["id"].as_i64().unwrap();
    let taken = |reference: &str| billhub_store::PaymentRequest {
        organization_id: org_id,
        channel: "bill24".into(),
        channel_ref: reference.into(),
        request_hash: billhub_store::fingerprint(&[reference]),
        target: billhub_store::PaymentTarget::Unknown {
            account_code: "CU9".into(),
        },
        amount: billhub_core::Money::from_minor(500_000, billhub_core::Currency::KHR),
        fee: 0,
        method: String::new(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: time::OffsetDateTime::now_utc(),
        on_rejection: billhub_store::OnRejection::RecordUnapplied,
    };
    let now = time::OffsetDateTime::now_utc();
    db.post_payment(&taken("T1"), now).unwrap();
    db.post_payment(&taken("T2"), now).unwrap();
    // Unapplied money is work to do, not a violation: listed, and the check still passes.
    let check = billhub(&db, &["check"]);
    assert!(check.status.success(), "unapplied money is no violation");
    assert!(String::from_utf8_lossy(&check.stdout).contains("2 unapplied payment(s)"));
    let list = ok_json(&db, &["unapplied", "list", "--org", "LATE0001", "--json"]);
    let ids: Vec<String> = list["unapplied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let b = ok_json(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "LATE0001",
            "--account",
            "CU9",
            "--currency",
            "KHR",
            "--amount",
            "5000",
            "--json",
        ],
    );
    fails_with(
        &db,
        &["unapplied", "apply", &ids[0], "--bill", "NOSUCH01"],
        "--bill",
    );
    let applied = ok_json(
        &db,
        &[
            "unapplied",
            "apply",
            &ids[0],
            "--bill",
            b["public_no"].as_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(applied["status"], "applied");
    assert_eq!(applied["allocations"][0]["amount"], 500_000);
    assert_eq!(
        db.bill(b["id"].as_i64().unwrap()).unwrap().status,
        billhub_core::BillStatus::Paid
    );
    fails_with(
        &db,
        &["unapplied", "apply", &ids[0], "--account", "CU9"],
        "already applied",
    );
    fails_with(
        &db,
        &["unapplied", "apply", &ids[1], "--account", "CU9"],
        "refused",
    );
    let out = billhub(
        &db,
        &[
            "unapplied",
            "refund",
            &ids[1],
            "--note",
            "returned via ABA FT-77",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        billhub(&db, &["check"]).status.success(),
        "nothing open any more"
    );

    // Account credit: an open-mode overpayment, then an operator applies and refunds it.
    let open = ok_json(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "LATE0001",
            "--account",
            "CU9",
            "--currency",
            "KHR",
            "--amount",
            "1000",
            "--rule",
            "open",
            "--json",
        ],
    );
    let over = billhub_store::PaymentRequest {
        target: billhub_store::PaymentTarget::Bill {
            bill_id: open["id"].as_i64().unwrap(),
        },
        on_rejection: billhub_store::OnRejection::Refuse,
        ..taken("T3")
    };
    db.post_payment(&over, now).unwrap();
    let credits = ok_json(&db, &["credit", "list", "--org", "LATE0001", "--json"]);
    assert_eq!(credits["credits"][0]["balance"], 400_000);
    let next = ok_json(
        &db,
        &[
            "bill",
            "create",
            "--org",
            "LATE0001",
            "--account",
            "CU9",
            "--currency",
            "KHR",
            "--amount",
            "2500",
            "--json",
        ],
    );
    let args = [
        "credit",
        "apply",
        "--org",
        "LATE0001",
        "--account",
        "CU9",
        "--currency",
        "KHR",
        "--amount",
        "2500",
        "--bill",
        next["public_no"].as_str().unwrap(),
        "--reference",
        "op-1",
        "--json",
    ];
    let applied = ok_json(&db, &args);
    assert_eq!(applied["credit_left"], "1500.00");
    assert_eq!(
        ok_json(&db, &args)["payment"],
        applied["payment"],
        "same reference, same operation"
    );
    fails_with(
        &db,
        &[
            "credit",
            "refund",
            "--org",
            "LATE0001",
            "--account",
            "CU9",
            "--currency",
            "KHR",
            "--amount",
            "1500.01",
            "--note",
            "x",
        ],
        "cannot refund",
    );
    assert!(
        billhub(
            &db,
            &[
                "credit",
                "refund",
                "--org",
                "LATE0001",
                "--account",
                "CU9",
                "--currency",
                "KHR",
                "--amount",
                "1500",
                "--note",
                "cash at counter"
            ]
        )
        .status
        .success()
    );
    assert_eq!(
        ok_json(&db, &["credit", "list", "--org", "LATE0001", "--json"])["credits"],
        json!([])
    );
}

/// Short CLI processes exit cleanly on PostgreSQL (a background pool top-up once raced the
/// process exit and crashed it after its output was printed).
fn exits_cleanly_every_time(db: TestDb) {
    ok_json(
        &db,
        &[
            "org", "create", "--code", "EXIT0001", "--name", "Exit", "--json",
        ],
    );
    for i in 0..25 {
        let out = billhub(&db, &["org", "show", "EXIT0001", "--json"]);
        assert!(
            out.status.success(),
            "run {i}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn bad_configuration_names_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(["migrate"])
        .env(
            "BILLHUB_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .env_remove("BILLHUB_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BILLHUB_MASTER_KEY"));
    let out = Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(["migrate"])
        .env(
            "BILLHUB_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/billhub_missing_db",
        )
        .env("BILLHUB_MASTER_KEY", "11".repeat(32))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("billhub_missing_db"));
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, buf))
}

/// `billhub up --demo` on the embedded default serves every gateway's shared endpoints, and
/// writes the demo environment file.
#[test]
fn up_demo_serves_all_five_gateways() {
    // Five gateways and the console (base + 5).
    let base = free_port_run(6);
    let ports: Vec<u16> = (base..base + 5).collect();
    let dir = std::env::temp_dir().join(format!("billhub-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(["up", "--demo", "--base-port", &base.to_string()])
        .current_dir(&dir)
        .env_remove("BILLHUB_DATABASE_URL")
        .env_remove("BILLHUB_MASTER_KEY")
        .env_remove("BILLHUB_PUBLIC_URL")
        .env("BILLHUB_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) for the last gateway to accept connections.
    let mut up = false;
    for _ in 0..600 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("billhub up exited early: {status}");
        }
        if http_get(ports[4], "/healthz").is_some() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let result = std::panic::catch_unwind(|| {
        assert!(up, "billhub up did not start");
        for &port in &ports {
            assert_eq!(
                http_get(port, "/healthz").unwrap().0,
                200,
                "healthz on {port}"
            );
            let (status, body) = http_get(port, "/readyz").unwrap();
            assert_eq!(status, 200, "readyz on {port}: {body}");
            assert!(body.contains("sqlite"), "{body}");
            let (status, body) = http_get(port, "/metrics").unwrap();
            assert_eq!(status, 200, "metrics on {port}");
            assert!(body.contains("billhub_"), "{body}");
        }
        let env = std::fs::read_to_string(dir.join("var/demo.env")).unwrap();
        for k in [
            "BILL24_TOKEN",
            "COLLECTIONS_TOKEN",
            "VA_API_KEY",
            "POSTPAID_PASSWORD",
            "DEMO_COLLECTION",
            "SNAP_CLIENT_ID",
            "SNAP_CLIENT_SECRET",
            "SNAP_PRIVATE_KEY_FILE",
            "SNAP_PARTNER_SERVICE_ID",
            "CONSOLE_EMAIL",
            "CONSOLE_PASSWORD",
        ] {
            assert!(
                env.contains(&format!("export {k}=")),
                "{k} missing from demo.env"
            );
        }
        assert!(!env.contains("CONSOLE_TOKEN"), "{env}");
        // The console, on the port after the five gateways' (docs/console.md).
        let (status, body) = http_get(base + 5, "/console/sign-in").unwrap();
        assert_eq!(status, 200, "console sign-in: {body}");
        assert!(body.contains("Sign in to the billhub console"), "{body}");
        assert!(dir.join("var/billhub.sqlite3").exists());
        let key = std::fs::read_to_string(dir.join("var/demo-snap-bank.pem")).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        assert!(dir.join("var/master.key").exists());
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// The first of `n` consecutive free loopback ports, away from the defaults (8080-8085).
fn free_port_run(n: u16) -> u16 {
    for _ in 0..50 {
        let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let base = probe.local_addr().unwrap().port();
        drop(probe);
        if base > 60_000 || (8075..=8085).contains(&base) {
            continue;
        }
        let all_free =
            (base..base + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no {n} consecutive free ports");
}

fn text(db: &TestDb, args: &[&str]) -> String {
    let out = billhub(db, args);
    assert!(
        out.status.success(),
        "billhub {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `credential list` shows id, dialect, kind, times and status, never a secret or a hash;
/// `credential revoke` stops a credential once and for all, and is idempotent.
fn credential_list_and_revoke(db: TestDb) {
    ok_json(
        &db,
        &[
            "org", "create", "--code", "KEYS0001", "--name", "Keys", "--json",
        ],
    );
    let create = |dialect: &str| {
        ok_json(
            &db,
            &[
                "credential",
                "create",
                "--org",
                "KEYS0001",
                "--dialect",
                dialect,
                "--json",
            ],
        )
    };
    let b24 = create("bill24");
    let col = create("collections");
    let token = b24["token"].as_str().unwrap().to_string();
    let b24_id = b24["id"].as_i64().unwrap();
    let col_id = col["id"].as_i64().unwrap();

    let out = billhub(&db, &["credential", "list", "--org", "KEYS0001", "--json"]);
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    for secret in [
        token.as_str(),
        col["access_token"].as_str().unwrap(),
        col["signature_key"].as_str().unwrap(),
    ] {
        assert!(!shown.contains(secret), "a secret is listed: {shown}");
    }
    let list: Value = serde_json::from_str(&shown).unwrap();
    let creds = list["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), 2);
    assert_eq!(creds[0]["id"], b24_id);
    assert_eq!(creds[0]["dialect"], "bill24");
    assert_eq!(creds[0]["kind"], "biller");
    assert_eq!(creds[0]["status"], "active");
    assert_eq!(creds[0]["revoked_at"], Value::Null);
    assert!(creds[0]["created_at"].as_str().unwrap().starts_with("20"));
    assert_eq!(creds[1]["id"], col_id);
    assert_eq!(creds[1]["dialect"], "collections");
    for c in creds {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| !k.contains("token") && !k.contains("secret") && !k.contains("hash")),
            "{keys:?}"
        );
    }
    let listed = text(&db, &["credential", "list", "--org", "KEYS0001"]);
    assert!(
        listed.contains(&format!("{b24_id}\tbill24\tbiller\tcreated ")),
        "{listed}"
    );
    assert!(!listed.contains(&token));

    assert!(db.authenticate_token("bill24", &token).unwrap().is_some());
    let id = b24_id.to_string();
    let revoked = ok_json(&db, &["credential", "revoke", &id, "--json"]);
    assert_eq!(revoked["changed"], true);
    assert_eq!(revoked["status"], "revoked");
    let first = revoked["revoked_at"].as_str().unwrap().to_string();
    assert!(db.authenticate_token("bill24", &token).unwrap().is_none());
    let again = ok_json(&db, &["credential", "revoke", &id, "--json"]);
    assert_eq!(again["changed"], false);
    assert_eq!(again["revoked_at"], first.as_str());
    assert!(text(&db, &["credential", "revoke", &id]).contains("already revoked"));

    let list = ok_json(&db, &["credential", "list", "--org", "KEYS0001", "--json"]);
    assert_eq!(list["credentials"][0]["status"], "revoked");
    assert_eq!(list["credentials"][0]["revoked_at"], first.as_str());
    assert_eq!(list["credentials"][1]["status"], "active");
    let listed = text(&db, &["credential", "list", "--org", "KEYS0001"]);
    assert!(listed.contains(&format!("revoked {first}")), "{listed}");

    fails_with(
        &db,
        &["credential", "revoke", "999999"],
        "credential 999999",
    );
    fails_with(
        &db,
        &["credential", "list", "--org", "NOSUCHORG"],
        "NOSUCHORG",
    );
    fails_with(&db, &["credential", "list"], "--org");
    ok_json(
        &db,
        &[
            "org", "create", "--code", "KEYS0002", "--name", "Empty", "--json",
        ],
    );
    assert_eq!(
        ok_json(&db, &["credential", "list", "--org", "KEYS0002", "--json"])["credentials"],
        json!([])
    );
    assert!(text(&db, &["credential", "list", "--org", "KEYS0002"]).contains("no credentials"));
}

/// `channel list` shows every channel; `channel disable` stamps it once (idempotent), and its
/// credentials are listed as `channel_disabled`.
fn channel_list_and_disable(db: TestDb) {
    assert!(text(&db, &["channel", "list"]).contains("no channels"));
    let bank = ok_json(
        &db,
        &[
            "channel",
            "create",
            "--name",
            "Bank",
            "--dialect",
            "va",
            "--json",
        ],
    );
    let net = ok_json(
        &db,
        &[
            "channel",
            "create",
            "--name",
            "Net",
            "--dialect",
            "postpaid",
            "--json",
        ],
    );
    let bank_id = bank["id"].as_i64().unwrap();
    let net_id = net["id"].as_i64().unwrap();
    let list = ok_json(&db, &["channel", "list", "--json"]);
    let channels = list["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[0]["id"], bank_id);
    assert_eq!(channels[0]["name"], "Bank");
    assert_eq!(channels[0]["dialect"], "va");
    assert_eq!(channels[0]["disabled"], false);
    assert_eq!(channels[1]["dialect"], "postpaid");
    let shown = list.to_string();
    assert!(!shown.contains(bank["client_secret"].as_str().unwrap()));
    assert!(!shown.contains(net["password"].as_str().unwrap()));

    let bank_arg = bank_id.to_string();
    let creds = ok_json(
        &db,
        &["credential", "list", "--channel", &bank_arg, "--json"],
    );
    assert_eq!(creds["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(creds["credentials"][0]["kind"], "channel");
    assert_eq!(creds["credentials"][0]["channel_id"], bank_id);
    assert_eq!(creds["credentials"][0]["status"], "active");

    let disabled = ok_json(&db, &["channel", "disable", &bank_arg, "--json"]);
    assert_eq!(disabled["changed"], true);
    assert_eq!(disabled["disabled"], true);
    let first = disabled["disabled_at"].as_str().unwrap().to_string();
    let again = ok_json(&db, &["channel", "disable", &bank_arg, "--json"]);
    assert_eq!(again["changed"], false);
    assert_eq!(again["disabled_at"], first.as_str());
    assert!(text(&db, &["channel", "disable", &bank_arg]).contains("already disabled"));

    let list = ok_json(&db, &["channel", "list", "--json"]);
    assert_eq!(list["channels"][0]["disabled"], true);
    assert_eq!(list["channels"][0]["disabled_at"], first.as_str());
    assert_eq!(list["channels"][1]["disabled"], false);
    let listed = text(&db, &["channel", "list"]);
    assert!(
        listed.contains(&format!("{bank_id}\tBank\tva\tdisabled {first}")),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("{net_id}\tNet\tpostpaid\tenabled")),
        "{listed}"
    );
    let creds = ok_json(
        &db,
        &["credential", "list", "--channel", &bank_arg, "--json"],
    );
    assert_eq!(creds["credentials"][0]["status"], "channel_disabled");

    fails_with(&db, &["channel", "disable", "999999"], "channel 999999");
    fails_with(
        &db,
        &["credential", "list", "--channel", "999999"],
        "channel 999999",
    );
}

/// A disabled channel's credentials stop authenticating: client credentials, bearer tokens
/// issued before, and postpaid usernames (`repo/credentials.rs` applies `repo/admin.rs`'s
/// `channel_enabled` predicate to every authentication query).
fn disabled_channel_credentials_are_refused(db: TestDb) {
    let now = time::OffsetDateTime::now_utc();
    let bank = ok_json(
        &db,
        &[
            "channel",
            "create",
            "--name",
            "Bank",
            "--dialect",
            "va",
            "--json",
        ],
    );
    let net = ok_json(
        &db,
        &[
            "channel",
            "create",
            "--name",
            "Net",
            "--dialect",
            "postpaid",
            "--json",
        ],
    );
    let (client_id, secret) = (
        bank["client_id"].as_str().unwrap(),
        bank["client_secret"].as_str().unwrap(),
    );
    let username = net["username"].as_str().unwrap();
    let cred = db.authenticate_client(client_id, secret).unwrap().unwrap();
    let (bearer, _) = db
        .issue_access_token(cred.id, "va", time::Duration::minutes(15), now)
        .unwrap();
    assert!(
        db.authenticate_access_token(&bearer, now)
            .unwrap()
            .is_some()
    );
    assert!(db.credential_by_username(username).unwrap().is_some());

    let bank_id = bank["id"].as_i64().unwrap().to_string();
    let net_id = net["id"].as_i64().unwrap().to_string();
    ok_json(&db, &["channel", "disable", &bank_id, "--json"]);
    ok_json(&db, &["channel", "disable", &net_id, "--json"]);
    assert!(
        db.authenticate_client(client_id, secret).unwrap().is_none(),
        "a disabled channel's client credentials still authenticate"
    );
    assert!(
        db.authenticate_access_token(&bearer, now)
            .unwrap()
            .is_none()
    );
    assert!(db.credential_by_username(username).unwrap().is_none());
}
