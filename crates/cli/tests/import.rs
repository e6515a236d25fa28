//! `billhub bill import` (bulk import of bills) against fresh databases, both backends: CSV and
//! JSON lines, standard input, bad rows, re-runs, an interrupted import, VA numbers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation, and read JSON by index

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use billhub_core::{BillStatus, PaymentRule};
use billhub_store::testing::TestDb;
use serde_json::{Value, json};

/// The command words of the import (`billhub import bills` once `main.rs` registers it).
const IMPORT: &[&str] = &["import", "bills"];

fn billhub(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_billhub"))
        .args(args)
        .env("BILLHUB_DATABASE_URL", &db.url)
        .env("BILLHUB_MASTER_KEY", db.master_key().to_hex())
        .env("BILLHUB_LOG", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run billhub");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("billhub output")
}

fn setup(db: &TestDb) {
    let out = billhub(
        db,
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
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file in a fresh temporary directory.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "billhub-import-test-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Runs the import; returns (success, stdout JSON or Null, stderr).
fn import(db: &TestDb, source: &str, extra: &[&str], stdin: Option<&str>) -> (bool, Value, String) {
    let mut args: Vec<&str> = IMPORT.to_vec();
    args.extend(["--org", "SCHOOL01", "--json", source]);
    args.extend(extra);
    let out = billhub(db, &args, stdin);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(db: &TestDb, source: &str, extra: &[&str], stdin: Option<&str>) -> Value {
    let (success, json, err) = import(db, source, extra, stdin);
    assert!(success, "import failed: {err}");
    json
}

const CSV: &str = "\
account,account_name,phone,currency,amount,invoice_number,due_date,rule,min_amount,name,va_number
A001,Sok Dara,012345678,KHR,5000,INV-1,2026-12-31,,,Tuition,0099020000000001
A002,,,USD,10.50,INV-2,,partial,1.00,,
A003,,,USD,0.01,INV-3,,open,,,0099020000000002;0099020000000003
";

const JSONL: &str = r#"{"account":"B001","account_name":"Sok Dara","currency":"KHR","amount":"5000","invoice_number":"J-1","va_number":["0099020000000011"]}

{"account":"B002","currency":"USD","amount":7,"invoice_number":"J-2","rule":"partial","min_amount":"2.50","bill_date":"2026-11-01"}
"#;

fn one_bill(db: &TestDb, invoice: &str) -> billhub_core::Bill {
    let org = db.organization_by_code("SCHOOL01").unwrap().unwrap();
    let bills = db.bills_by_invoice_number(org.id, invoice).unwrap();
    assert_eq!(bills.len(), 1, "bills numbered {invoice}");
    bills.into_iter().next().unwrap()
}

fn bill_count(db: &TestDb, invoices: &[&str]) -> usize {
    let org = db.organization_by_code("SCHOOL01").unwrap().unwrap();
    invoices
        .iter()
        .map(|n| db.bills_by_invoice_number(org.id, n).unwrap().len())
        .sum()
}

fn csv_and_jsonl(db: TestDb) {
    setup(&db);
    let path = file("bills.csv", CSV);
    let out = ok(&db, path.to_str().unwrap(), &[], None);
    assert_eq!(
        out,
        json!({"rows": 3, "inserted": 3, "skipped": 0, "invalid": 0})
    );
    let b1 = one_bill(&db, "INV-1");
    assert_eq!(b1.billed, 500_000);
    assert_eq!(b1.currency.code(), "KHR");
    assert_eq!(b1.rule, PaymentRule::Exact);
    assert_eq!(b1.status, BillStatus::Active);
    assert_eq!(b1.name, "Tuition");
    assert_eq!(b1.due_date.unwrap().to_string(), "2026-12-31");
    let account = db.account(b1.account_id).unwrap();
    assert_eq!(account.code, "A001");
    assert_eq!(account.name, "Sok Dara");
    assert_eq!(account.phone, "012345678");
    let events = db.bill_events(b1.id).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "created");
    assert_eq!(events[0].amount, Some(500_000));
    assert_eq!(events[0].status_after, "active");
    let b2 = one_bill(&db, "INV-2");
    assert_eq!(b2.billed, 1050);
    assert_eq!(b2.rule, PaymentRule::Partial { minimum: Some(100) });
    let b3 = one_bill(&db, "INV-3");
    assert_eq!(b3.billed, 1);
    assert_eq!(b3.rule, PaymentRule::Open);
    let vas: Vec<String> = db
        .va_numbers_of_bill(b3.id)
        .unwrap()
        .into_iter()
        .map(|v| v.number)
        .collect();
    assert_eq!(vas, ["0099020000000002", "0099020000000003"]);

    let path = file("bills.jsonl", JSONL);
    let out = ok(&db, path.to_str().unwrap(), &[], None);
    assert_eq!(
        out,
        json!({"rows": 2, "inserted": 2, "skipped": 0, "invalid": 0})
    );
    // B001 is a new account; a later row of A001 with other names updates it, an empty field
    // keeps what it had.
    let a001 = db.account(one_bill(&db, "INV-1").account_id).unwrap();
    let rows = "account,account_name,phone,currency,amount,invoice_number\nA001,Sok Dara Jr,,USD,1,U-1\nA001,,099,USD,2,U-2\n";
    let path = file("update.csv", rows);
    assert_eq!(ok(&db, path.to_str().unwrap(), &[], None)["inserted"], 2);
    let updated = db.account(a001.id).unwrap();
    assert_eq!(updated.name, "Sok Dara Jr");
    assert_eq!(updated.phone, "099");
    assert_eq!(one_bill(&db, "U-2").account_id, a001.id);
    let j2 = one_bill(&db, "J-2");
    assert_eq!(j2.billed, 700);
    assert_eq!(j2.rule, PaymentRule::Partial { minimum: Some(250) });
    assert_eq!(j2.bill_date.to_string(), "2026-11-01");
}

fn from_stdin(db: TestDb) {
    setup(&db);
    let out = ok(&db, "-", &[], Some(JSONL));
    assert_eq!(out["inserted"], 2);
    assert_eq!(one_bill(&db, "J-1").billed, 500_000);
    // CSV on stdin, told by its first character.
    let out = ok(&db, "-", &[], Some(CSV));
    assert_eq!(out["inserted"], 3);
    assert_eq!(one_bill(&db, "INV-2").billed, 1050);
}

const BAD: &str = "\
account,currency,amount,invoice_number,rule,min_amount,va_number
A001,USD,10.00,OK-1,,,
A002,USD,10.505,BAD-1,,,
A003,XXX,1,BAD-2,,,
A004,USD,1,,,,
A005,USD,1,BAD-3,,,1234560000000001
A006,USD,1,BAD-4,open,1,
A007,USD,-5,BAD-5,,,
A008,USD,1
A009,USD,2.00,OK-2,,,
";

fn bad_rows(db: TestDb) {
    setup(&db);
    let path = file("bad.csv", BAD);
    let (success, _, err) = import(&db, path.to_str().unwrap(), &[], None);
    assert!(!success);
    for expected in [
        "line 3: amount: `10.505` has more decimals than USD allows (2)",
        "line 4: currency: unknown currency `XXX`",
        "line 5: invoice_number: required in an import",
        "line 6: va_number: prefix 123456 is not this organization's",
        "line 7: min_amount: only with rule partial",
        "line 8: amount: must be positive",
        "line 9: 3 fields where the header has 7",
        "7 of 9 rows are invalid (listed above); nothing imported",
    ] {
        assert!(err.contains(expected), "stderr lacks `{expected}`: {err}");
    }
    assert_eq!(bill_count(&db, &["OK-1", "OK-2"]), 0);

    let out = ok(&db, path.to_str().unwrap(), &["--skip-invalid"], None);
    assert_eq!(
        out,
        json!({"rows": 9, "inserted": 2, "skipped": 0, "invalid": 7})
    );
    assert_eq!(one_bill(&db, "OK-1").billed, 1000);
    assert_eq!(one_bill(&db, "OK-2").billed, 200);
    assert_eq!(
        bill_count(&db, &["BAD-1", "BAD-2", "BAD-3", "BAD-4", "BAD-5"]),
        0
    );

    // An unknown column is refused before any row.
    let path = file("typo.csv", "account,currency,amount,invoice_number,amout\n");
    let (success, _, err) = import(&db, path.to_str().unwrap(), &[], None);
    assert!(!success);
    assert!(err.contains("header: unknown column `amout`"), "{err}");
}

fn rerun_skips_and_conflicts(db: TestDb) {
    setup(&db);
    let path = file("bills.csv", CSV);
    ok(&db, path.to_str().unwrap(), &[], None);
    let again = ok(&db, path.to_str().unwrap(), &[], None);
    assert_eq!(
        again,
        json!({"rows": 3, "inserted": 0, "skipped": 3, "invalid": 0})
    );
    assert_eq!(bill_count(&db, &["INV-1", "INV-2", "INV-3"]), 3);

    // The same content as JSON lines is the same row.
    let same = r#"{"account":"A002","currency":"USD","amount":"10.50","invoice_number":"INV-2","rule":"partial","min_amount":"1.00"}"#;
    let out = ok(&db, "-", &[], Some(same));
    assert_eq!(
        out,
        json!({"rows": 1, "inserted": 0, "skipped": 1, "invalid": 0})
    );

    // The same number with other content: an error with its line, nothing imported.
    let changed = CSV.replace("A002,,,USD,10.50,INV-2", "A002,,,USD,11.50,INV-2")
        + "A009,,,USD,3,INV-9,,,,,\n";
    let path = file("changed.csv", &changed);
    let (success, _, err) = import(&db, path.to_str().unwrap(), &[], None);
    assert!(!success);
    assert!(
        err.contains("line 3: invoice_number `INV-2` was imported before with other content"),
        "{err}"
    );
    assert_eq!(bill_count(&db, &["INV-9"]), 0);
    assert_eq!(one_bill(&db, "INV-2").billed, 1050);

    let out = ok(&db, path.to_str().unwrap(), &["--skip-invalid"], None);
    assert_eq!(
        out,
        json!({"rows": 4, "inserted": 1, "skipped": 2, "invalid": 1})
    );
    assert_eq!(one_bill(&db, "INV-9").billed, 300);
    assert_eq!(one_bill(&db, "INV-2").billed, 1050);
}

fn interrupted_import_finishes(db: TestDb) {
    setup(&db);
    let mut all = String::from("account,currency,amount,invoice_number\n");
    for i in 0..25 {
        all.push_str(&format!("ACC{i:03},USD,{}.00,N-{i:03}\n", i + 1));
    }
    // The first half, as an import cut off after some batches would have left it.
    let half: String = all.lines().take(13).map(|l| format!("{l}\n")).collect();
    let path = file("half.csv", &half);
    let out = ok(&db, path.to_str().unwrap(), &["--batch-size", "4"], None);
    assert_eq!(out["inserted"], 12);
    let path = file("all.csv", &all);
    let out = ok(&db, path.to_str().unwrap(), &["--batch-size", "4"], None);
    assert_eq!(
        out,
        json!({"rows": 25, "inserted": 13, "skipped": 12, "invalid": 0})
    );
    for i in 0..25 {
        assert_eq!(one_bill(&db, &format!("N-{i:03}")).billed, (i + 1) * 100);
    }
}

fn va_numbers_reach_the_va_gateway(db: TestDb) {
    setup(&db);
    let path = file("bills.csv", CSV);
    assert!(db.analyzed_tables().is_empty());
    ok(&db, path.to_str().unwrap(), &[], None);
    // On PostgreSQL the import leaves fresh statistics for the planner.
    let expected: &[&str] = match db.backend() {
        billhub_store::Backend::Postgres => &[
            "accounts",
            "bill_events",
            "bill_imports",
            "bills",
            "va_numbers",
        ],
        billhub_store::Backend::Sqlite => &[],
    };
    assert_eq!(db.analyzed_tables(), expected);
    let org = db.organization_by_va_prefix("009902").unwrap().unwrap();
    let found = db.bills_by_va_number("0099020000000001").unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].organization_id, org);
    assert_eq!(found[0].invoice_number, "INV-1");
    let va = db.va_bill(found[0].id).unwrap();
    assert_eq!(va.va_numbers[0].number, "0099020000000001");
    assert!(va.va_numbers[0].active);
    assert_eq!(va.account.code, "A001");

    // A number another payable bill holds is refused by the store, with the row's line.
    let taken = "account,currency,amount,invoice_number,va_number\nZ1,USD,1,T-1,\nZ2,USD,1,T-2,0099020000000001\n";
    let path = file("taken.csv", taken);
    let (success, _, err) = import(&db, path.to_str().unwrap(), &[], None);
    assert!(!success);
    assert!(err.contains("line 3:"), "{err}");
    assert_eq!(bill_count(&db, &["T-1", "T-2"]), 0);
    let out = ok(&db, path.to_str().unwrap(), &["--skip-invalid"], None);
    assert_eq!(
        out,
        json!({"rows": 2, "inserted": 1, "skipped": 0, "invalid": 1})
    );

    // Two rows of one file with the same new number: the second is refused with its line.
    let twice = "account,currency,amount,invoice_number,va_number\nY1,USD,1,W-1,0099020000000077\nY2,USD,1,W-2,0099020000000077\n";
    let path = file("twice.csv", twice);
    let (success, _, err) = import(&db, path.to_str().unwrap(), &[], None);
    assert!(!success);
    assert!(err.contains("line 3:"), "{err}");
    assert_eq!(bill_count(&db, &["W-1", "W-2"]), 0);
}

billhub_store::backend_tests!(
    csv_and_jsonl,
    from_stdin,
    bad_rows,
    rerun_skips_and_conflicts,
    interrupted_import_finishes,
    va_numbers_reach_the_va_gateway,
);
