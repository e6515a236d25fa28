//! `billhub export payments|bills` against fresh databases, both backends: the exact CSV of a
//! known set of payments (posted, reversed, unapplied), JSON lines, the channel filter, the
//! edges of the organization's days (+07:00), `--output`, and bad arguments.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::too_many_arguments
)] // tests may panic on a broken expectation, read JSON by index, and build payments field by field

use std::process::{Command, Output};

use billhub_core::{Currency, Money};
use billhub_store::testing::TestDb;
use billhub_store::{OnRejection, PaymentRequest, PaymentTarget};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

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

/// What the scenario made: ids and generated numbers the expected output names.
struct World {
    bank: i64,
    bills: [Value; 3],
    uids: Vec<String>,
    unapplied: i64,
}

fn bill(
    db: &TestDb,
    account: &str,
    name: &str,
    currency: &str,
    amount: &str,
    rule: &str,
    date: &str,
    invoice: &str,
) -> Value {
    ok_json(
        db,
        &[
            "bill",
            "create",
            "--org",
            "EXPORT01",
            "--account",
            account,
            "--account-name",
            name,
            "--currency",
            currency,
            "--amount",
            amount,
            "--rule",
            rule,
            "--bill-date",
            date,
            "--invoice-number",
            invoice,
            "--json",
        ],
    )
}

fn pay(
    db: &TestDb,
    org: i64,
    channel: &str,
    reference: &str,
    target: PaymentTarget,
    amount: Money,
    fee: i64,
    paid_at: OffsetDateTime,
) -> billhub_store::PaymentOutcome {
    let req = PaymentRequest {
        organization_id: org,
        channel: channel.into(),
        channel_ref: reference.into(),
        request_hash: billhub_store::fingerprint(&[reference]),
        target,
        amount,
        fee,
        method: "app".into(),
        payer_name: "Sok, Dara".into(),
        details: "{}".into(),
        paid_at,
        on_rejection: OnRejection::RecordUnapplied,
    };
    db.post_payment(&req, paid_at).unwrap()
}

fn setup(db: &TestDb) -> World {
    let org = ok_json(
        db,
        &[
            "org",
            "create",
            "--code",
            "EXPORT01",
            "--name",
            "Export",
            "--utc-offset",
            "+07:00",
            "--json",
        ],
    );
    let org = org["id"].as_i64().unwrap();
    let bank = ok_json(
        db,
        &[
            "channel",
            "create",
            "--name",
            "Bank One",
            "--dialect",
            "va",
            "--json",
        ],
    )["id"]
        .as_i64()
        .unwrap();
    let shops = ok_json(
        db,
        &[
            "channel",
            "create",
            "--name",
            "Shops",
            "--dialect",
            "postpaid",
            "--json",
        ],
    )["id"]
        .as_i64()
        .unwrap();
    let bills = [
        bill(
            db,
            "A1",
            "Sok Dara",
            "USD",
            "100.00",
            "exact",
            "2026-12-01",
            "INV-1",
        ),
        bill(
            db,
            "A2",
            "Chan",
            "USD",
            "50",
            "partial",
            "2026-12-02",
            "INV,2",
        ),
        bill(
            db,
            "A1",
            "Sok Dara",
            "KHR",
            "5000",
            "open",
            "2026-12-03",
            "INV-3",
        ),
    ];
    let id = |i: usize| PaymentTarget::Bill {
        bill_id: bills[i].as_i64_field("id"),
    };
    let usd = |minor| Money::from_minor(minor, Currency::USD);
    let mut uids = Vec::new();
    let mut uid = |o: billhub_store::PaymentOutcome| {
        uids.push(o.payment().unwrap().uid.clone());
        o.payment().unwrap().id
    };
    // The first instant of 2026-12-01 at +07:00.
    uid(pay(
        db,
        org,
        "bill24",
        "B24-1",
        id(0),
        usd(10_000),
        0,
        datetime!(2026-11-30 17:00 UTC),
    ));
    // The last second of 2026-12-01 at +07:00.
    uid(pay(
        db,
        org,
        &format!("va:{bank}"),
        "VA-1",
        id(1),
        usd(2_000),
        0,
        datetime!(2026-12-01 16:59:59 UTC),
    ));
    // 2026-12-02 00:00 at +07:00; 1000.00 KHR over the bill becomes credit.
    uid(pay(
        db,
        org,
        "bill24",
        "B24-2",
        id(2),
        Money::from_minor(600_000, Currency::KHR),
        0,
        datetime!(2026-12-01 17:00 UTC),
    ));
    // The last second of 2026-11-30 at +07:00: outside 2026-12-01..2026-12-02.
    uid(pay(
        db,
        org,
        &format!("va:{bank}"),
        "VA-0",
        id(1),
        usd(1_000),
        0,
        datetime!(2026-11-30 16:59:59 UTC),
    ));
    // A terminal payment with its fee, reversed.
    let reversed = uid(pay(
        db,
        org,
        &format!("postpaid:{shops}"),
        "7:1:2026-12-02",
        id(1),
        usd(500),
        50,
        datetime!(2026-12-02 03:00 UTC),
    ));
    db.reverse_payment(
        &billhub_store::ReversalRequest {
            organization_id: org,
            payment_id: reversed,
            channel: format!("postpaid:{shops}"),
            channel_ref: "7:2:2026-12-02".into(),
            request_hash: billhub_store::fingerprint(&["rev"]),
            reason: "test".into(),
            requester: billhub_core::reversal::Requester::Channel,
            claimed: billhub_core::reversal::Claimed::Nothing,
            window: None,
        },
        datetime!(2026-12-02 05:00 UTC),
    )
    .unwrap();
    // Money for an account billhub does not know.
    let un = pay(
        db,
        org,
        "bill24",
        "B24-X",
        PaymentTarget::Unknown {
            account_code: "ZZ".into(),
        },
        usd(700),
        0,
        datetime!(2026-12-02 04:00 UTC),
    );
    let unapplied = match un.result {
        billhub_store::PostResult::Unapplied(u) => u.id,
        other => panic!("not unapplied: {other:?}"),
    };
    World {
        bank,
        bills,
        uids,
        unapplied,
    }
}

trait Field {
    fn as_i64_field(&self, k: &str) -> i64;
    fn str_field(&self, k: &str) -> String;
}

impl Field for Value {
    fn as_i64_field(&self, k: &str) -> i64 {
        self[k].as_i64().unwrap()
    }
    fn str_field(&self, k: &str) -> String {
        self[k].as_str().unwrap().to_string()
    }
}

const PAYMENTS_HEADER: &str = "payment,paid_at,channel,channel_name,channel_ref,account,bills,invoice_numbers,currency,amount,fee,credit,status,reversed_at,method,payer_name\n";

fn payments_csv(db: &TestDb, w: &World) {
    let out = ok(
        db,
        &[
            "export",
            "payments",
            "--org",
            "EXPORT01",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-02",
            "--format",
            "csv",
        ],
    );
    let (b1, b2, b3) = (
        w.bills[0].str_field("public_no"),
        w.bills[1].str_field("public_no"),
        w.bills[2].str_field("public_no"),
    );
    let u = &w.uids;
    let bank = w.bank;
    let shops = bank + 1;
    let expected = format!(
        "{PAYMENTS_HEADER}\
{u0},2026-12-01T00:00:00+07:00,bill24,bill24,B24-1,A1,{b1},INV-1,USD,100.00,0.00,0.00,applied,,app,\"Sok, Dara\"
{u1},2026-12-01T23:59:59+07:00,va:{bank},Bank One,VA-1,A2,{b2},\"INV,2\",USD,20.00,0.00,0.00,applied,,app,\"Sok, Dara\"
{u2},2026-12-02T00:00:00+07:00,bill24,bill24,B24-2,A1,{b3},INV-3,KHR,6000.00,0.00,1000.00,applied,,app,\"Sok, Dara\"
{u4},2026-12-02T10:00:00+07:00,postpaid:{shops},Shops,7:1:2026-12-02,A2,{b2},\"INV,2\",USD,5.00,0.50,0.00,reversed,2026-12-02T12:00:00+07:00,app,\"Sok, Dara\"
unapplied:{un},2026-12-02T11:00:00+07:00,bill24,bill24,B24-X,ZZ,,,USD,7.00,0.00,0.00,unapplied,,,
",
        u0 = u[0],
        u1 = u[1],
        u2 = u[2],
        u4 = u[4],
        un = w.unapplied,
    );
    assert_eq!(out, expected);

    // The same bytes through --output.
    let dir = std::env::temp_dir().join(format!("billhub-export-{}", u[0]));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("payments.csv");
    let out = billhub(
        db,
        &[
            "export",
            "payments",
            "--org",
            "EXPORT01",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-02",
            "--format",
            "csv",
            "--output",
            path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "exported 5 payments"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    let _ = std::fs::remove_dir_all(&dir);
}

fn export_payments(db: TestDb) {
    let w = setup(&db);
    payments_csv(&db, &w);

    // JSON lines: the same rows, keyed by column, absent values null.
    let out = ok(
        &db,
        &[
            "export",
            "payments",
            "--org",
            "EXPORT01",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-02",
            "--format",
            "jsonl",
        ],
    );
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut columns: Vec<&str> = PAYMENTS_HEADER.trim().split(',').collect();
    columns.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, columns);
    // Written in column order.
    assert!(out.starts_with(&format!("{{\"payment\":\"{}\",\"paid_at\":", w.uids[0])));
    assert_eq!(rows[0]["amount"], "100.00");
    assert_eq!(rows[0]["reversed_at"], Value::Null);
    assert_eq!(rows[1]["invoice_numbers"], "INV,2");
    assert_eq!(rows[2]["credit"], "1000.00");
    assert_eq!(rows[3]["status"], "reversed");
    assert_eq!(rows[3]["fee"], "0.50");
    assert_eq!(rows[3]["reversed_at"], "2026-12-02T12:00:00+07:00");
    assert_eq!(rows[4]["payment"], format!("unapplied:{}", w.unapplied));
    assert_eq!(rows[4]["status"], "unapplied");

    // One channel, named as `billhub channel list` shows it, by id or by stored form.
    let bank = w.bank.to_string();
    let stored = format!("va:{bank}");
    for name in ["Bank One", bank.as_str(), stored.as_str()] {
        let out = ok(
            &db,
            &[
                "export",
                "payments",
                "--org",
                "EXPORT01",
                "--from",
                "2026-12-01",
                "--to",
                "2026-12-02",
                "--format",
                "csv",
                "--channel",
                name,
            ],
        );
        let refs: Vec<&str> = out
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(4).unwrap())
            .collect();
        assert_eq!(refs, vec!["VA-1"], "--channel {name}");
    }
    let out = ok(
        &db,
        &[
            "export",
            "payments",
            "--org",
            "EXPORT01",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-02",
            "--format",
            "csv",
            "--channel",
            "bill24",
        ],
    );
    let refs: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap())
        .collect();
    assert_eq!(refs, vec!["B24-1", "B24-2", "B24-X"]);

    // Day edges at +07:00: 2026-11-30 holds only the payment of its last second.
    let out = ok(
        &db,
        &[
            "export",
            "payments",
            "--org",
            "EXPORT01",
            "--from",
            "2026-11-30",
            "--to",
            "2026-11-30",
            "--format",
            "csv",
        ],
    );
    let refs: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap())
        .collect();
    assert_eq!(refs, vec!["VA-0"]);
    // A day with nothing: the header alone.
    let out = ok(
        &db,
        &[
            "export",
            "payments",
            "--org",
            "EXPORT01",
            "--from",
            "2026-12-03",
            "--to",
            "2026-12-31",
            "--format",
            "csv",
        ],
    );
    assert_eq!(out, PAYMENTS_HEADER);
    let out = ok(
        &db,
        &[
            "export",
            "payments",
            "--org",
            "EXPORT01",
            "--from",
            "2026-12-03",
            "--to",
            "2026-12-31",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(out, "");
}

fn export_bills(db: TestDb) {
    let w = setup(&db);
    let out = ok(
        &db,
        &[
            "export",
            "bills",
            "--org",
            "EXPORT01",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-02",
            "--format",
            "csv",
        ],
    );
    let org = db.organization_by_code("EXPORT01").unwrap().unwrap();
    let created = |i: usize| {
        let b = db
            .bill_by_public_no(org.id, &w.bills[i].str_field("public_no"))
            .unwrap()
            .unwrap();
        let t = b.created_at.to_offset(time::macros::offset!(+7));
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let expected = format!(
        "public_no,invoice_number,account,account_name,name,currency,billed,paid,outstanding,status,rule,minimum,bill_date,due_date,valid_until,va_numbers,source,created_at
{b1},INV-1,A1,Sok Dara,,USD,100.00,100.00,0.00,paid,exact,,2026-12-01,,,,cli,{c1}
{b2},\"INV,2\",A2,Chan,,USD,50.00,30.00,20.00,partially_paid,partial,,2026-12-02,,,,cli,{c2}
",
        b1 = w.bills[0].str_field("public_no"),
        b2 = w.bills[1].str_field("public_no"),
        c1 = created(0),
        c2 = created(1),
    );
    assert_eq!(out, expected);
    let out = ok(
        &db,
        &[
            "export",
            "bills",
            "--org",
            "EXPORT01",
            "--from",
            "2026-12-03",
            "--to",
            "2026-12-03",
            "--format",
            "jsonl",
        ],
    );
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["invoice_number"], "INV-3");
    assert_eq!(rows[0]["billed"], "5000.00");
    assert_eq!(rows[0]["paid"], "5000.00");
    assert_eq!(rows[0]["outstanding"], "0.00");
    assert_eq!(rows[0]["rule"], "open");
    assert_eq!(rows[0]["due_date"], Value::Null);
}

fn bad_arguments(db: TestDb) {
    setup(&db);
    let base = ["export", "payments", "--org", "EXPORT01", "--format", "csv"];
    let with = |extra: &[&'static str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend(extra);
        v
    };
    fails_with(
        &db,
        &with(&["--from", "2026-12-02", "--to", "2026-12-01"]),
        "--to 2026-12-01 is before --from 2026-12-02",
    );
    fails_with(
        &db,
        &with(&["--from", "2026-13-01", "--to", "2026-12-01"]),
        "--from: `2026-13-01` is not a date (YYYY-MM-DD)",
    );
    fails_with(
        &db,
        &with(&[
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-01",
            "--channel",
            "Nobody",
        ]),
        "--channel: no channel `Nobody`",
    );
    fails_with(
        &db,
        &[
            "export",
            "payments",
            "--org",
            "NOPE0001",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-01",
            "--format",
            "csv",
        ],
        "no organization with code `NOPE0001`",
    );
    fails_with(
        &db,
        &[
            "export",
            "bills",
            "--org",
            "EXPORT01",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-01",
            "--format",
            "csv",
            "--channel",
            "bill24",
        ],
        "--channel filters payments only",
    );
    fails_with(
        &db,
        &[
            "export",
            "payments",
            "--org",
            "EXPORT01",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-01",
            "--format",
            "xml",
        ],
        "invalid value 'xml'",
    );
}

billhub_store::backend_tests!(export_payments, export_bills, bad_arguments);
