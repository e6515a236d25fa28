//! `billhub reconcile` against fresh databases, both backends: a day in the organization's offset
//! (+07:00) with its totals, a statement that agrees (exit 0), one that differs in every way
//! (exit 1 and the exact report), bad statements (exit 2, each bad line with its number and
//! reason), the CSQ fee shown apart, and `--record-unmatched` run twice.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::too_many_arguments
)] // tests may panic on a broken expectation, read JSON by index, and build payments field by field

use std::path::PathBuf;
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

fn ok_json(db: &TestDb, args: &[&str]) -> Value {
    let out = billhub(db, args);
    assert!(
        out.status.success(),
        "billhub {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A file in a fresh temporary directory.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "billhub-reconcile-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `billhub reconcile` for Bank One on 2026-12-04; returns (exit code, stdout, stderr).
fn reconcile(
    db: &TestDb,
    channel: &str,
    statement: Option<&str>,
    extra: &[&str],
) -> (i32, String, String) {
    let path = statement.map(|s| file("statement.csv", s));
    let mut args = vec![
        "reconcile",
        "--org",
        "RECON001",
        "--channel",
        channel,
        "--date",
        "2026-12-04",
    ];
    if let Some(p) = &path {
        args.extend(["--statement", p.to_str().unwrap()]);
    }
    args.extend(extra);
    let out = billhub(db, &args);
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

struct World {
    org: i64,
    bank: i64,
    shops: i64,
    /// Payment uids by reference.
    uids: std::collections::HashMap<String, String>,
}

fn setup(db: &TestDb) -> World {
    let org = ok_json(
        db,
        &[
            "org",
            "create",
            "--code",
            "RECON001",
            "--name",
            "Recon",
            "--utc-offset",
            "+07:00",
            "--json",
        ],
    )["id"]
        .as_i64()
        .unwrap();
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
    let bill = ok_json(
        db,
        &[
            "bill",
            "create",
            "--org",
            "RECON001",
            "--account",
            "A1",
            "--currency",
            "USD",
            "--amount",
            "1000",
            "--rule",
            "partial",
            "--json",
        ],
    )["id"]
        .as_i64()
        .unwrap();
    let mut w = World {
        org,
        bank,
        shops,
        uids: Default::default(),
    };
    let va = format!("va:{bank}");
    for (reference, minor, at) in [
        // The last second of 2026-12-03 at +07:00: another day.
        ("T-0", 2_000, datetime!(2026-12-03 16:59:59 UTC)),
        // The first instant of 2026-12-04 at +07:00.
        ("T-1", 10_000, datetime!(2026-12-03 17:00 UTC)),
        ("T-2", 5_000, datetime!(2026-12-04 03:00 UTC)),
        ("T-3", 3_000, datetime!(2026-12-04 04:00 UTC)),
        // The last second of 2026-12-04 at +07:00.
        ("T-5", 1_000, datetime!(2026-12-04 16:59:59 UTC)),
    ] {
        let uid = pay(db, &w, &va, reference, bill, minor, 0, at);
        w.uids.insert(reference.to_string(), uid);
    }
    // A terminal payment of 12.00 with its 0.50 fee.
    let uid = pay(
        db,
        &w,
        &format!("postpaid:{shops}"),
        "9:1:2026-12-04",
        bill,
        1_200,
        50,
        datetime!(2026-12-04 05:00 UTC),
    );
    w.uids.insert("9:1:2026-12-04".into(), uid);
    // T-3 is reversed.
    let t3 = db.payment_by_uid(&w.uids["T-3"]).unwrap().unwrap();
    db.reverse_payment(
        &billhub_store::ReversalRequest {
            organization_id: org,
            payment_id: t3.id,
            channel: va.clone(),
            channel_ref: "REV-3".into(),
            request_hash: billhub_store::fingerprint(&["REV-3"]),
            reason: "test".into(),
            requester: billhub_core::reversal::Requester::Channel,
            claimed: billhub_core::reversal::Claimed::Nothing,
            window: None,
        },
        datetime!(2026-12-04 06:00 UTC),
    )
    .unwrap();
    w
}

fn pay(
    db: &TestDb,
    w: &World,
    channel: &str,
    reference: &str,
    bill: i64,
    minor: i64,
    fee: i64,
    at: OffsetDateTime,
) -> String {
    let req = PaymentRequest {
        organization_id: w.org,
        channel: channel.into(),
        channel_ref: reference.into(),
        request_hash: billhub_store::fingerprint(&[reference]),
        target: PaymentTarget::Bill { bill_id: bill },
        amount: Money::from_minor(minor, Currency::USD),
        fee,
        method: String::new(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: at,
        on_rejection: OnRejection::Refuse,
    };
    db.post_payment(&req, at)
        .unwrap()
        .payment()
        .unwrap()
        .uid
        .clone()
}

const HEAD: &str = "reconcile RECON001 va:BANK 2026-12-04: 2026-12-04T00:00:00+07:00 to 2026-12-05T00:00:00+07:00\n";

fn head(w: &World) -> String {
    HEAD.replace("BANK", &w.bank.to_string())
}

fn totals_and_agreement(db: TestDb) {
    let w = setup(&db);
    // Without a statement: the day's totals and counts, exit 0.
    let (code, out, err) = reconcile(&db, "Bank One", None, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "{}billhub: applied 3 160.00 USD\nbillhub: reversed 1 30.00 USD\n",
            head(&w)
        )
    );
    // The channel by id and by stored form is the same channel.
    let bank = w.bank.to_string();
    let stored = format!("va:{bank}");
    for name in [bank.as_str(), stored.as_str()] {
        assert_eq!(reconcile(&db, name, None, &[]).1, out);
    }

    // A statement that agrees: every applied payment of the day, amounts written as the channel
    // writes them, times in any offset.
    let statement = "reference,amount,currency,time\n\
T-1,100,USD,2026-12-03T17:00:00Z\n\
T-2,50.00,USD,2026-12-04T10:00:00+07:00\n\
T-5,10.0,USD,2026-12-04T23:59:59+07:00\n";
    let (code, out, err) = reconcile(&db, "Bank One", Some(statement), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        format!(
            "{}billhub: applied 3 160.00 USD\nbillhub: reversed 1 30.00 USD\n\
statement: 3 160.00 USD (fee 0.00 USD)\nmatched: 3\nresult: agree\n",
            head(&w)
        )
    );
    let (code, out, _) = reconcile(&db, "Bank One", Some(statement), &["--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["agrees"], true);
    assert_eq!(v["matched"], 3);
    assert_eq!(v["from"], "2026-12-04T00:00:00+07:00");
    assert_eq!(v["statement"][0]["amount"], "160.00");
    assert_eq!(v["billhub"][0]["count"], 3);

    // Bill24 has its own spelling and nothing on this day.
    let (code, out, _) = reconcile(&db, "bill24", Some("reference,amount,currency,time\n"), &[]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("reconcile RECON001 bill24 2026-12-04: "),
        "{out}"
    );
    assert!(
        out.ends_with("billhub: no payments\nstatement: no lines\nmatched: 0\nresult: agree\n"),
        "{out}"
    );
}

fn differences(db: TestDb) {
    let w = setup(&db);
    // T-1's amount differs, T-2 is missing, X-9 is unknown, T-3 was reversed, T-0 belongs to the
    // day before.
    let statement = "time,reference,currency,amount\n\
2026-12-04T08:00:00+07:00,T-1,USD,99.00\n\
2026-12-04T11:00:00+07:00,T-3,USD,30.00\n\
2026-12-04T12:00:00+07:00,X-9,USD,20.00\n\
2026-12-04T00:30:00+07:00,T-0,USD,20.00\n\
2026-12-04T23:59:59+07:00,T-5,USD,10.00\n";
    let (code, out, err) = reconcile(&db, "Bank One", Some(statement), &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err, "");
    let expected = format!(
        "{}billhub: applied 3 160.00 USD\nbillhub: reversed 1 30.00 USD\n\
statement: 5 179.00 USD (fee 0.00 USD)\n\
matched: 1\n\
missing from the statement: 1\n  T-2\t50.00 USD\tapplied\t2026-12-04T10:00:00+07:00\t{t2}\n\
missing from billhub: 1\n  line 4\tX-9\t20.00 USD\t2026-12-04T12:00:00+07:00\n\
differences: 3\n\
\x20 line 2\tT-1\tamount: billhub 100.00 USD, statement 99.00 USD\n\
\x20 line 3\tT-3\treversed in billhub at 2026-12-04T13:00:00+07:00\n\
\x20 line 5\tT-0\trecorded on 2026-12-03 ({t0})\n\
result: differ\n",
        head(&w),
        t2 = w.uids["T-2"],
        t0 = w.uids["T-0"],
    );
    assert_eq!(out, expected);
    let (code, out, _) = reconcile(&db, "Bank One", Some(statement), &["--json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["agrees"], false);
    assert_eq!(v["missing_from_statement"][0]["reference"], "T-2");
    assert_eq!(v["missing_from_billhub"][0]["line"], 4);
    assert_eq!(v["mismatches"][0]["kinds"], serde_json::json!(["amount"]));
    assert_eq!(v["mismatches"][1]["kinds"], serde_json::json!(["reversed"]));
    assert_eq!(
        v["mismatches"][2]["kinds"],
        serde_json::json!(["other_day"])
    );
    // Nothing was recorded without --record-unmatched.
    assert!(db.unapplied_payments(Some(w.org)).unwrap().is_empty());
}

fn postpaid_fee_apart(db: TestDb) {
    let w = setup(&db);
    let shops = w.shops.to_string();
    let good = "reference,amount,fee,currency,time\n9:1:2026-12-04,12.00,0.50,USD,2026-12-04T12:00:00+07:00\n";
    let (code, out, err) = reconcile(&db, &shops, Some(good), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("statement: 1 12.00 USD (fee 0.50 USD)\nmatched: 1\nresult: agree\n"),
        "{out}"
    );
    let bad_fee = good.replace("0.50", "0.60");
    let (code, out, _) = reconcile(&db, "Shops", Some(&bad_fee), &[]);
    assert_eq!(code, 1);
    assert!(
        out.contains("  line 2\t9:1:2026-12-04\tfee: billhub 0.50 USD, statement 0.60 USD\n"),
        "{out}"
    );
}

fn bad_statements(db: TestDb) {
    setup(&db);
    let cases = [
        (
            "reference,amount,currency\nT-1,100,USD\n",
            "line 1: the header has no `time` column",
        ),
        (
            "reference,amount,currency,time,note\n",
            "line 1: unknown column `note`",
        ),
        (
            "reference,amount,currency,time\n\
T-1,100.005,USD,2026-12-04T08:00:00+07:00\n\
,1,USD,2026-12-04T08:00:00+07:00\n\
T-2,1,XXX,2026-12-04T08:00:00+07:00\n\
T-5,-1,USD,2026-12-04T08:00:00+07:00\n\
T-6,1,USD,yesterday\n\
T-7,1,USD\n\
T-8,1,USD,2026-12-04T08:00:00+07:00\n\
T-8,1,USD,2026-12-04T08:00:00+07:00\n",
            "line 2: amount: `100.005` has more decimals than USD allows (2)\n\
line 3: reference is empty\n\
line 4: currency: `XXX` is not a currency\n\
line 5: amount: `-1` must be positive\n\
line 6: time: `yesterday` is not an RFC 3339 time\n\
line 7: 3 fields where the header has 4\n\
line 9: reference `T-8` is already on line 8\n",
        ),
    ];
    for (statement, needle) in cases {
        let (code, out, err) = reconcile(&db, "Bank One", Some(statement), &["--record-unmatched"]);
        assert_eq!(code, 2, "{statement}: {err}");
        assert_eq!(out, "");
        assert!(err.starts_with("billhub: --statement "), "{err}");
        assert!(err.contains(needle), "{statement}: {err}");
    }
    let org = db.organization_by_code("RECON001").unwrap().unwrap();
    assert!(db.unapplied_payments(Some(org.id)).unwrap().is_empty());
    // Bad arguments are bad input too.
    let (code, _, err) = reconcile(&db, "Nobody", None, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--channel: no channel `Nobody`"), "{err}");
    let out = billhub(
        &db,
        &[
            "reconcile",
            "--org",
            "RECON001",
            "--channel",
            "bill24",
            "--date",
            "04/12/2026",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--date: `04/12/2026` is not a date"));
    let out = billhub(
        &db,
        &[
            "reconcile",
            "--org",
            "RECON001",
            "--channel",
            "bill24",
            "--date",
            "2026-12-04",
            "--record-unmatched",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "--record-unmatched needs --statement"
    );
}

fn record_unmatched_once(db: TestDb) {
    let w = setup(&db);
    let statement = "reference,amount,currency,time\n\
T-1,100,USD,2026-12-04T08:00:00+07:00\n\
T-2,50,USD,2026-12-04T10:00:00+07:00\n\
T-5,10,USD,2026-12-04T23:59:59+07:00\n\
X-9,20,USD,2026-12-04T12:00:00+07:00\n";
    let (code, out, err) = reconcile(&db, "Bank One", Some(statement), &["--record-unmatched"]);
    assert_eq!(code, 1, "{err}");
    let list = db.unapplied_payments(Some(w.org)).unwrap();
    assert_eq!(list.len(), 1);
    let u = &list[0];
    assert_eq!(
        (
            u.channel.as_str(),
            u.channel_ref.as_str(),
            u.amount,
            u.currency.as_str(),
            u.status.as_str()
        ),
        (
            format!("va:{}", w.bank).as_str(),
            "X-9",
            2_000,
            "USD",
            "open"
        )
    );
    assert_eq!(u.created_at, datetime!(2026-12-04 05:00 UTC));
    assert!(
        out.ends_with(&format!(
            "missing from billhub: 1\n  line 5\tX-9\t20.00 USD\t2026-12-04T12:00:00+07:00\nline 5: recorded as unapplied #{} (see `billhub unapplied list`)\nresult: differ\n",
            u.id
        )),
        "{out}"
    );
    // Again: the line now matches the unapplied money; nothing is recorded twice.
    let (code, out, err) = reconcile(&db, "Bank One", Some(statement), &["--record-unmatched"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("billhub: unapplied 1 20.00 USD\n"), "{out}");
    assert!(out.ends_with("matched: 4\nresult: agree\n"), "{out}");
    assert_eq!(db.unapplied_payments(Some(w.org)).unwrap().len(), 1);
    // Through `billhub unapplied`, it is work to do like any other.
    let listed = ok_json(&db, &["unapplied", "list", "--org", "RECON001", "--json"]);
    assert_eq!(listed["unapplied"].as_array().unwrap().len(), 1);
    assert_eq!(listed["unapplied"][0]["channel_ref"], "X-9");
}

billhub_store::backend_tests!(
    totals_and_agreement,
    differences,
    postpaid_fee_apart,
    bad_statements,
    record_unmatched_once,
);
