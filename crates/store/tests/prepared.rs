//! Every statement of a payment's hot path runs as a cached prepared statement (issue 12): a
//! statement diesel prepares anew on every run costs a parse (and on PostgreSQL a plan) per
//! payment. diesel 2.3 never caches an `UPDATE` (its changeset could skip columns) nor a
//! `sql_query`; the store keeps the fixed-shape ones of the hot paths cached under their SQL
//! text (`prepared::Prepared`).
//!
//! Seen through diesel's own instrumentation, on every connection the store opens: a statement
//! that is cached is announced once (`CacheQuery`) when first prepared; one that is not is
//! only ever started. The test posts a payment to warm the cache, then checks that every
//! statement of the next postings (a bill paid in full, an account's bill, a terminal's
//! payment with its code, a bank's VA inquiry and payment) was announced as cached. One test on both backends, one after the
//! other: the instrumentation is global to the process, so nothing else runs beside it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation

use std::collections::BTreeSet;
use std::sync::Mutex;

use billhub_core::{Currency, Money, SettlementMode};
use billhub_store::postpaid::{CodeHolder, NewPostpaidCode, PostpaidPosting};
use billhub_store::testing::{self, TestDb};
use billhub_store::*;
use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use time::macros::{date, datetime};
use time::{OffsetDateTime, UtcOffset};

const NOW: OffsetDateTime = datetime!(2025-09-01 10:00 UTC);

/// What the connections reported: statements started, and statements cached (SQL text).
#[derive(Default)]
struct Seen {
    started: Vec<String>,
    cached: BTreeSet<String>,
}

static SEEN: Mutex<Seen> = Mutex::new(Seen {
    started: Vec::new(),
    cached: BTreeSet::new(),
});

/// The SQL of a started query: diesel shows it followed by its binds.
fn sql_of(shown: &str) -> String {
    shown
        .split(" -- binds:")
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn record(event: InstrumentationEvent<'_>) {
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match event {
        InstrumentationEvent::StartQuery { query, .. } => {
            seen.started.push(sql_of(&query.to_string()));
        }
        InstrumentationEvent::CacheQuery { sql, .. } => {
            seen.cached.insert(sql.trim().to_string());
        }
        _ => {}
    }
}

fn recorder() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(record))
}

/// Transaction control and connection settings: not statements of the work.
fn is_control(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    [
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "SET ",
        "PRAGMA",
        "END",
    ]
    .iter()
    .any(|p| upper.starts_with(p))
}

/// Runs `work` and returns the statements it started that were never cached.
fn uncached_statements_of(work: impl FnOnce()) -> Vec<String> {
    SEEN.lock().unwrap().started.clear();
    work();
    let seen = SEEN.lock().unwrap();
    eprintln!(
        "DEBUG cached: {:#?}",
        seen.cached
            .iter()
            .filter(|s| s.starts_with("UPDATE"))
            .collect::<Vec<_>>()
    );
    assert!(
        seen.started.iter().any(|s| !is_control(s)),
        "the instrumentation saw no statement: the test would pass without looking"
    );
    let mut uncached: Vec<String> = seen
        .started
        .iter()
        .filter(|s| !is_control(s) && !seen.cached.contains(*s))
        .cloned()
        .collect();
    uncached.dedup();
    uncached
}

/// An exact-rule bill of `billed` on its own account, under a VA number when one is given.
fn bill_of(
    db: &TestDb,
    org_id: i64,
    account: &str,
    (currency, billed): (Currency, i64),
    va_number: Option<(&str, &str)>,
) -> billhub_core::Bill {
    let mut new = testing::bill_input(org_id, currency, billed);
    new.va_numbers = va_number
        .map(|(prefix, digits)| vec![(prefix.into(), digits.into())])
        .unwrap_or_default();
    db.create_bill_for_account(&testing::account_input(account), &new, NOW)
        .unwrap()
        .1
}

fn usd_bill(db: &TestDb, org_id: i64, account: &str, billed: i64) -> billhub_core::Bill {
    bill_of(db, org_id, account, (Currency::USD, billed), None)
}

fn request(org_id: i64, channel: &str, target: PaymentTarget, reference: &str) -> PaymentRequest {
    PaymentRequest {
        organization_id: org_id,
        channel: channel.into(),
        channel_ref: reference.into(),
        request_hash: fingerprint(&[reference]),
        target,
        amount: Money::from_minor(1050, Currency::USD),
        fee: 0,
        method: "card".into(),
        payer_name: "Payer".into(),
        details: "{}".into(),
        paid_at: NOW,
        on_rejection: OnRejection::Refuse,
    }
}

fn payment_statements_are_prepared_once(db: &TestDb) {
    let o = db
        .create_organization(
            &NewOrganization {
                code: Some("ORG00001".into()),
                name: "Org".into(),
                utc_offset: UtcOffset::UTC,
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec![],
            },
            NOW,
        )
        .unwrap()
        .id;
    let bills: Vec<_> = (0..4)
        .map(|i| usd_bill(db, o, &format!("ACC{i}"), 1050))
        .collect();
    let on_bill = |i: usize, reference: &str| {
        let target = PaymentTarget::Bill {
            bill_id: bills[i].id,
        };
        let posted = db
            .post_payment(&request(o, "test", target, reference), NOW)
            .unwrap();
        assert_eq!(posted.payment().unwrap().amount, 1050);
    };
    // Warm the cache: the first run of each statement prepares it.
    on_bill(0, "warm");
    let uncached = uncached_statements_of(|| on_bill(1, "bill"));
    assert!(
        uncached.is_empty(),
        "{:?}: a payment on one bill prepared these anew: {uncached:#?}",
        db.backend()
    );

    let uncached = uncached_statements_of(|| {
        let target = PaymentTarget::Account {
            account_id: bills[2].account_id,
            mode: None,
            chosen: None,
        };
        let posted = db
            .post_payment(&request(o, "test", target, "account"), NOW)
            .unwrap();
        assert_eq!(posted.payment().unwrap().allocations.len(), 1);
    });
    assert!(
        uncached.is_empty(),
        "{:?}: a payment on an account prepared these anew: {uncached:#?}",
        db.backend()
    );

    // A terminal's payment marks its transaction code used.
    let net = db.create_channel("Net", "postpaid", NOW).unwrap();
    db.enroll(net.id, o, NOW).unwrap();
    let settings = db.settings(o).unwrap();
    let b = &bills[3];
    let holder = CodeHolder {
        channel_id: net.id,
        organization_id: o,
        terminal_id: 7,
        account_id: b.account_id,
    };
    let terminal_payment = |reference: &str| {
        let code = db
            .transaction(|w| {
                w.create_postpaid_code(
                    &NewPostpaidCode {
                        channel_id: net.id,
                        organization_id: o,
                        terminal_id: 7,
                        account_id: b.account_id,
                        bill_ids: vec![b.id],
                        total: 1050,
                        fee: 0,
                        payment_type: SettlementMode::Discrete,
                        currency: "USD".into(),
                        ttl: time::Duration::minutes(10),
                        local_date: date!(2025 - 09 - 01),
                    },
                    NOW,
                )
            })
            .unwrap();
        let target = PaymentTarget::Account {
            account_id: b.account_id,
            mode: Some(SettlementMode::Discrete),
            chosen: Some(vec![b.id]),
        };
        let req = request(o, &format!("postpaid:{}", net.id), target, reference);
        db.transaction(|w| {
            w.post_postpaid_payment_read(
                &code.code,
                Some(&code),
                &holder,
                &req,
                &[],
                &settings,
                NOW,
            )
        })
        .unwrap()
    };
    let uncached = uncached_statements_of(|| {
        let posting = terminal_payment("terminal");
        assert!(matches!(posting, PostpaidPosting::Posted(ref p) if !p.replayed));
    });
    assert!(
        uncached.is_empty(),
        "{:?}: a terminal's payment prepared these anew: {uncached:#?}",
        db.backend()
    );
    va_statements_are_prepared_once(db, o);
}

/// A bank's VA inquiry and payment, read and written as `va-gateway` does.
fn va_statements_are_prepared_once(db: &TestDb, o: i64) {
    db.add_va_prefix(o, "009951", NOW).unwrap();
    let bank = db.create_channel("Bank", "va", NOW).unwrap();
    db.enroll(bank.id, o, NOW).unwrap();
    let channel = format!("va:{}", bank.id);
    let numbers = ["1234567890", "1234567891"];
    let bills: Vec<_> = numbers
        .iter()
        .map(|n| {
            let account = format!("VA{n}");
            bill_of(
                db,
                o,
                &account,
                (Currency::IDR, 150_000),
                Some(("009951", n)),
            )
        })
        .collect();
    let inquiry = |digits: &str| {
        let found = db
            .snapshot(|r| {
                r.channel_visible_va_bills(bank.id, &format!("009951{digits}"))?
                    .into_iter()
                    .map(|v| r.va_bill_from(v))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        assert_eq!(found.len(), 1);
    };
    let payment = |i: usize, reference: &str| {
        let number = format!("009951{}", numbers[i]);
        let row = db
            .transaction(|w| {
                let found = w
                    .bank_payment_target(bank.id, &channel, reference, Some(&number))?
                    .unwrap();
                let bill_id = found.bill.id;
                let org = db.cached_organization_in(w, found.bill.organization_id, NOW)?;
                let target = found.into_target();
                let mut req = request(o, &channel, target, reference);
                req.amount = Money::from_minor(150_000, Currency::IDR);
                let posted = w.post_payment_with_settings(&req, &[], &org.settings, NOW)?;
                w.va_row_of_payment(bill_id, posted.payment().unwrap(), "payment")
            })
            .unwrap()
            .unwrap();
        assert_eq!(row.payment.amount, 150_000);
        assert_eq!(row.bill.bill.id, bills[i].id);
    };
    inquiry(numbers[0]);
    payment(0, "va-warm");
    let uncached = uncached_statements_of(|| inquiry(numbers[1]));
    assert!(
        uncached.is_empty(),
        "{:?}: a VA inquiry prepared these anew: {uncached:#?}",
        db.backend()
    );
    let uncached = uncached_statements_of(|| payment(1, "va-pay"));
    assert!(
        uncached.is_empty(),
        "{:?}: a VA payment prepared these anew: {uncached:#?}",
        db.backend()
    );
}

#[test]
fn every_statement_of_a_payment_is_prepared_once_on_both_backends() {
    set_default_instrumentation(recorder).unwrap();
    payment_statements_are_prepared_once(&TestDb::sqlite());
    payment_statements_are_prepared_once(&TestDb::postgres());
}
