//! Posting without read-backs (issue 12, payments on PostgreSQL): the payment and the unapplied
//! record a posting returns are what a later read returns, and a refusal gives its reference's
//! key back even when the caller commits other work in the same transaction. Also the fewer
//! statements of the second wave: collection webhooks read with the bills, an account's owner
//! with its bills, settings the caller holds, the bank channels' target and answer reads, and
//! a postpaid code read once. Every test runs on a fresh SQLite file and a fresh PostgreSQL
//! database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation, and a scenario reads best in one piece

use billhub_core::{BillStatus, Currency, Money, PaymentRule, Rejection, SettlementMode};
use billhub_store::testing::{self, TestDb};
use billhub_store::*;
use time::macros::{date, datetime};
use time::{OffsetDateTime, UtcOffset};

const NOW: OffsetDateTime = datetime!(2025-09-01 10:00:00.123456789 UTC);

fn org(db: &TestDb, code: &str) -> i64 {
    db.create_organization(
        &NewOrganization {
            code: Some(code.into()),
            name: format!("Org {code}"),
            utc_offset: UtcOffset::from_hms(7, 0, 0).unwrap(),
            locale: "en".into(),
            settlement: None,
            va_prefixes: vec![],
        },
        NOW,
    )
    .unwrap()
    .id
}

fn bill(
    db: &TestDb,
    org_id: i64,
    account: &str,
    billed: i64,
    rule: PaymentRule,
) -> billhub_core::Bill {
    bill_in(db, org_id, account, billed, (rule, None))
}

/// A bill on `account`, in a collection when one is given.
fn bill_in(
    db: &TestDb,
    org_id: i64,
    account: &str,
    billed: i64,
    (rule, collection_id): (PaymentRule, Option<i64>),
) -> billhub_core::Bill {
    let mut new = testing::bill_input(org_id, Currency::USD, billed);
    new.rule = rule;
    new.collection_id = collection_id;
    db.create_bill_for_account(&testing::account_input(account), &new, NOW)
        .unwrap()
        .1
}

fn pay(org_id: i64, target: PaymentTarget, reference: &str, minor: i64) -> PaymentRequest {
    PaymentRequest {
        organization_id: org_id,
        channel: "test".into(),
        channel_ref: reference.into(),
        request_hash: fingerprint(&[reference, &minor.to_string()]),
        target,
        amount: Money::from_minor(minor, Currency::USD),
        fee: 7,
        method: "card".into(),
        payer_name: "Payer Name".into(),
        details: r#"{"k":"v","n":1}"#.into(),
        // Nanoseconds and another offset: stored as UTC microseconds.
        paid_at: datetime!(2025-09-01 16:59:58.987654321 +07:00),
        on_rejection: OnRejection::Refuse,
    }
}

fn rejected(r: StoreResult<PaymentOutcome>) -> Rejection {
    match r {
        Err(StoreError::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// The payment a posting returns, field for field, is the one a read returns afterwards: one
/// bill, an account over two bills, and an overpayment kept as credit.
fn posted_payment_is_what_a_read_returns(db: TestDb) {
    let o = org(&db, "ORG00001");
    let exact = bill(&db, o, "ACC1", 1050, PaymentRule::Exact);
    let posted = db
        .post_payment(
            &pay(o, PaymentTarget::Bill { bill_id: exact.id }, "one", 1050),
            NOW,
        )
        .unwrap();
    assert!(!posted.replayed);
    let p = posted.payment().unwrap().clone();
    assert_eq!(
        (p.amount, p.fee, p.credit, p.currency, p.account_id),
        (1050, 7, 0, Currency::USD, Some(exact.account_id))
    );
    assert_eq!(p.allocations.len(), 1);
    assert_eq!(
        (p.allocations[0].bill_id, p.allocations[0].amount),
        (exact.id, 1050)
    );
    assert_eq!(p.paid_at, datetime!(2025-09-01 09:59:58.987654 UTC));
    assert_eq!(p.created_at, datetime!(2025-09-01 10:00:00.123456 UTC));
    assert_eq!(db.payment(p.id).unwrap(), p);
    let after = db.bill(exact.id).unwrap();
    assert_eq!(
        (after.status, after.paid, after.version),
        (BillStatus::Paid, 1050, exact.version + 1)
    );

    // An account's two bills, oldest first, and the rest kept as credit.
    let first = bill(&db, o, "ACC2", 300, PaymentRule::Exact);
    let second = bill(&db, o, "ACC2", 200, PaymentRule::Exact);
    let account = PaymentTarget::Account {
        account_id: first.account_id,
        mode: Some(SettlementMode::Total),
        chosen: None,
    };
    let posted = db
        .post_payment(&pay(o, account.clone(), "two", 500), NOW)
        .unwrap();
    let p = posted.payment().unwrap().clone();
    let allocations: Vec<(i64, i64)> = p
        .allocations
        .iter()
        .map(|a| (a.bill_id, a.amount))
        .collect();
    assert_eq!(allocations, vec![(first.id, 300), (second.id, 200)]);
    assert_eq!(db.payment(p.id).unwrap(), p);
    for b in [&first, &second] {
        let now = db.bill(b.id).unwrap();
        assert_eq!(
            (now.status, now.paid, now.version),
            (BillStatus::Paid, b.billed, b.version + 1)
        );
    }

    let open = bill(&db, o, "ACC3", 400, PaymentRule::Open);
    let posted = db
        .post_payment(
            &pay(o, PaymentTarget::Bill { bill_id: open.id }, "three", 650),
            NOW,
        )
        .unwrap();
    let p = posted.payment().unwrap().clone();
    assert_eq!((p.amount, p.credit), (650, 250));
    assert_eq!(db.payment(p.id).unwrap(), p);

    // A repeat answers the same payment, read from the store.
    let again = db
        .post_payment(
            &pay(o, PaymentTarget::Bill { bill_id: open.id }, "three", 650),
            NOW,
        )
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.payment().unwrap(), &p);
}

/// A refused payment gives its reference's key back: the same reference is posted later, also
/// when the refusal happened inside a transaction that committed other work.
fn a_refused_reference_stays_free(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b = bill(&db, o, "ACC1", 1050, PaymentRule::Exact);
    let other = bill(&db, o, "ACC2", 500, PaymentRule::Exact);
    let t = PaymentTarget::Bill { bill_id: b.id };
    assert_eq!(
        rejected(db.post_payment(&pay(o, t.clone(), "r0", 1000), NOW)),
        Rejection::MustEqualOutstanding { outstanding: 1050 }
    );
    // A caller that commits after a refusal (here: another payment in the same transaction).
    let committed = db
        .transaction(|w| {
            let refused = w.post_payment(&pay(o, t.clone(), "r1", 999), NOW);
            assert_eq!(
                rejected(refused),
                Rejection::MustEqualOutstanding { outstanding: 1050 }
            );
            w.post_payment(
                &pay(o, PaymentTarget::Bill { bill_id: other.id }, "r2", 500),
                NOW,
            )
        })
        .unwrap();
    assert!(!committed.replayed);
    // Both refused references are free: one of them now pays the bill, the other is refused
    // for what the bill is now, not answered as a repeat.
    let posted = db
        .post_payment(&pay(o, t.clone(), "r1", 1050), NOW)
        .unwrap();
    assert!(!posted.replayed);
    assert_eq!(
        rejected(db.post_payment(&pay(o, t, "r0", 1050), NOW)),
        Rejection::AlreadyPaid
    );
    let report = db.check_invariants(NOW).unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// Money kept as unapplied is answered as written, and a repeat answers the same record.
fn unapplied_record_is_what_a_read_returns(db: TestDb) {
    let o = org(&db, "ORG00001");
    let mut req = pay(
        o,
        PaymentTarget::Unknown {
            account_code: "NOPE".into(),
        },
        "u1",
        900,
    );
    req.on_rejection = OnRejection::RecordUnapplied;
    let first = db.post_payment(&req, NOW).unwrap();
    let PostResult::Unapplied(u) = first.result.clone() else {
        panic!("expected unapplied money, got {first:?}");
    };
    assert_eq!(
        (
            u.account_code.as_str(),
            u.amount,
            u.status.as_str(),
            u.organization_id
        ),
        ("NOPE", 900, "open", Some(o))
    );
    assert_eq!(u.created_at, datetime!(2025-09-01 10:00:00.123456 UTC));
    let read = db
        .snapshot(|r| r.unapplied_by_channel_ref("test", "u1"))
        .unwrap()
        .unwrap();
    assert_eq!(read, u);
    let again = db.post_payment(&req, NOW).unwrap();
    assert!(again.replayed);
    assert_eq!(again.result, PostResult::Unapplied(u));
}

/// A bill in a collection: the collection's webhook is read with the bill (one statement), and
/// a payment still notifies it (and the organization's subscriptions); a collection without a
/// webhook notifies nobody. One bill and an account's bills, exact amounts.
fn collection_webhook_is_read_with_the_bills(db: TestDb) {
    let o = org(&db, "ORG00001");
    let hooked = db
        .create_collection(
            o,
            &collections::NewCollection {
                name: "Hooked".into(),
                webhook_url: Some("http://127.0.0.1:9/hook".into()),
                redirect_url: None,
            },
            NOW,
        )
        .unwrap();
    let quiet = db
        .create_collection(
            o,
            &collections::NewCollection {
                name: "Quiet".into(),
                webhook_url: None,
                redirect_url: None,
            },
            NOW,
        )
        .unwrap();
    let in_collection = |account: &str, billed: i64, collection: i64| {
        bill_in(
            &db,
            o,
            account,
            billed,
            (PaymentRule::Exact, Some(collection)),
        )
    };
    let quiet_bill = in_collection("ACC0", 700, quiet.id);
    let posted = db
        .post_payment(
            &pay(
                o,
                PaymentTarget::Bill {
                    bill_id: quiet_bill.id,
                },
                "q",
                700,
            ),
            NOW,
        )
        .unwrap();
    assert_eq!(posted.payment().unwrap().allocations.len(), 1);
    assert!(db.deliveries_for_organization(o).unwrap().is_empty());

    let one = in_collection("ACC1", 1050, hooked.id);
    let posted = db
        .post_payment(
            &pay(o, PaymentTarget::Bill { bill_id: one.id }, "one", 1050),
            NOW,
        )
        .unwrap();
    let p = posted.payment().unwrap().clone();
    assert_eq!(db.payment(p.id).unwrap(), p);
    let d = db.deliveries_for_organization(o).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].dialect.as_str(), d[0].target_url.as_str()),
        ("collections", "http://127.0.0.1:9/hook")
    );
    let event = db.notification_event(d[0].event_id).unwrap();
    assert_eq!(
        (event.kind.as_str(), event.bill_id, event.payment_id),
        ("payment.received", Some(one.id), Some(p.id))
    );
    let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(
        (payload["amount"].as_i64(), payload["paid_after"].as_i64()),
        (Some(1050), Some(1050))
    );

    // An account's two bills in the hooked collection, with a subscription too: two targets
    // per bill.
    db.set_setting(o, "va.webhook_url", "http://127.0.0.1:9/va", NOW)
        .unwrap();
    let first = in_collection("ACC2", 300, hooked.id);
    let second = in_collection("ACC2", 200, hooked.id);
    let account = PaymentTarget::Account {
        account_id: first.account_id,
        mode: Some(SettlementMode::Total),
        chosen: None,
    };
    let posted = db.post_payment(&pay(o, account, "two", 500), NOW).unwrap();
    let p = posted.payment().unwrap().clone();
    let allocations: Vec<(i64, i64)> = p
        .allocations
        .iter()
        .map(|a| (a.bill_id, a.amount))
        .collect();
    assert_eq!(allocations, vec![(first.id, 300), (second.id, 200)]);
    let d = db.deliveries_for_organization(o).unwrap();
    let targets: Vec<(String, String)> = d[1..]
        .iter()
        .map(|d| (d.dialect.clone(), d.target_url.clone()))
        .collect();
    assert_eq!(
        targets,
        vec![
            ("collections".into(), "http://127.0.0.1:9/hook".into()),
            ("va".into(), "http://127.0.0.1:9/va".into()),
            ("collections".into(), "http://127.0.0.1:9/hook".into()),
            ("va".into(), "http://127.0.0.1:9/va".into()),
        ]
    );
    for b in [&first, &second] {
        let now = db.bill(b.id).unwrap();
        assert_eq!((now.status, now.paid), (BillStatus::Paid, b.billed));
    }
    let report = db.check_invariants(NOW).unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// An account payment reads the account's bills with its owner in one statement: another
/// organization's account (or none) is not found and writes nothing; an account without bills
/// is decided on no bills (nothing to pay).
fn account_of_another_organization_is_not_found(db: TestDb) {
    let o = org(&db, "ORG00001");
    let other = org(&db, "ORG00002");
    let theirs = bill(&db, other, "THEIRS", 500, PaymentRule::Exact);
    let target = |account_id| PaymentTarget::Account {
        account_id,
        mode: Some(SettlementMode::Open),
        chosen: None,
    };
    assert_eq!(
        rejected(db.post_payment(&pay(o, target(theirs.account_id), "x1", 500), NOW)),
        Rejection::NotFound
    );
    assert_eq!(
        rejected(db.post_payment(&pay(o, target(999_999), "x2", 500), NOW)),
        Rejection::NotFound
    );
    let unchanged = db.bill(theirs.id).unwrap();
    assert_eq!((unchanged.paid, unchanged.version), (0, theirs.version));
    // The reference is free: its owner's payment under it posts.
    let posted = db
        .post_payment(&pay(other, target(theirs.account_id), "x1", 500), NOW)
        .unwrap();
    let p = posted.payment().unwrap();
    assert_eq!((p.amount, p.credit), (500, 0));
    assert_eq!(p.allocations.len(), 1);
    assert_eq!(
        (p.allocations[0].bill_id, p.allocations[0].amount),
        (theirs.id, 500)
    );
    // An account of the organization without bills: decided by core on no bills (nothing to
    // pay), not as an unknown account.
    let empty = db
        .upsert_account(
            o,
            &AccountInput {
                code: "EMPTY".into(),
                name: "Nobody".into(),
                ..Default::default()
            },
            NOW,
        )
        .unwrap();
    assert_eq!(
        rejected(db.post_payment(&pay(o, target(empty.id), "x3", 250), NOW)),
        Rejection::NothingToPay
    );
}

/// Settings the caller holds (the store's cache) decide an account payment's mode instead of
/// the stored ones, and are not read again; replays and refusals are as for any posting.
fn settings_given_by_the_caller_decide(db: TestDb) {
    let o = org(&db, "ORG00001");
    let (organization, stored) = db.snapshot(|r| r.organization_with_settings(o)).unwrap();
    assert_eq!(organization.code, "ORG00001");
    assert_eq!(stored, db.settings(o).unwrap());
    assert_eq!(stored.settlement, SettlementMode::Open);
    assert!(matches!(
        db.snapshot(|r| r.organization_with_settings(o + 1000)),
        Err(StoreError::NotFound { .. })
    ));
    let mut total = stored.clone();
    total.settlement = SettlementMode::Total;
    let first = bill(&db, o, "ACC1", 300, PaymentRule::Exact);
    let second = bill(&db, o, "ACC1", 200, PaymentRule::Exact);
    let account = PaymentTarget::Account {
        account_id: first.account_id,
        mode: None,
        chosen: None,
    };
    let with = |req: &PaymentRequest, settings: &billhub_core::org::Settings| {
        db.transaction(|w| w.post_payment_with_settings(req, &[], settings, NOW))
    };
    // Total (given): 300 of 500 is refused, and nothing is written.
    assert_eq!(
        rejected(with(&pay(o, account.clone(), "s1", 300), &total)),
        Rejection::MustEqualOutstanding { outstanding: 500 }
    );
    assert_eq!(db.bill(first.id).unwrap().paid, 0);
    // Open (given): the oldest bill takes 300.
    let req = pay(o, account.clone(), "s1", 300);
    let posted = with(&req, &stored).unwrap();
    let p = posted.payment().unwrap().clone();
    assert_eq!((p.amount, p.credit), (300, 0));
    assert_eq!(
        p.allocations
            .iter()
            .map(|a| (a.bill_id, a.amount))
            .collect::<Vec<_>>(),
        vec![(first.id, 300)]
    );
    assert_eq!(db.payment(p.id).unwrap(), p);
    // A repeat answers the same payment whatever settings are given; other content is refused.
    let again = with(&req, &total).unwrap();
    assert!(again.replayed);
    assert_eq!(again.payment().unwrap(), &p);
    assert_eq!(
        rejected(with(&pay(o, account.clone(), "s1", 200), &stored)),
        Rejection::InconsistentReplay
    );
    // Total (given) for what is left: exactly 200.
    let posted = with(&pay(o, account, "s2", 200), &total).unwrap();
    assert_eq!(
        posted
            .payment()
            .unwrap()
            .allocations
            .iter()
            .map(|a| (a.bill_id, a.amount))
            .collect::<Vec<_>>(),
        vec![(second.id, 200)]
    );
    let report = db.check_invariants(NOW).unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// A VA bill (IDR) under `prefix` + `digits`.
fn va_bill(
    db: &TestDb,
    org_id: i64,
    prefix: &str,
    digits: &str,
    billed: i64,
) -> billhub_core::Bill {
    let mut new = testing::bill_input(org_id, Currency::IDR, billed);
    new.name = "VA bill".into();
    new.due_date = None;
    new.va_numbers = vec![(prefix.into(), digits.into())];
    let account = testing::account_input(&format!("{prefix}{digits}"));
    db.create_bill_for_account(&account, &new, NOW).unwrap().1
}

/// The bank channels' reads around a payment: the target in one statement (a retry's goes to
/// its first bill; an unknown prefix or a bank not enrolled finds nothing), the VA row of the
/// payment as posted (what `va_payment_row` reads back), and the bill with its account's name.
fn bank_payment_reads(db: TestDb) {
    let o = org(&db, "ORG00001");
    db.add_va_prefix(o, "009951", NOW).unwrap();
    let other = org(&db, "ORG00002");
    db.add_va_prefix(other, "009952", NOW).unwrap();
    let bank = db.create_channel("Bank", "va", NOW).unwrap();
    db.enroll(bank.id, o, NOW).unwrap();
    let b = va_bill(&db, o, "009951", "1234567890", 150_000);
    va_bill(&db, other, "009952", "1234567890", 90_000);
    let channel = format!("va:{}", bank.id);
    let target = |reference: &str, number: Option<&str>| {
        db.snapshot(|r| r.bank_payment_target(bank.id, &channel, reference, number))
            .unwrap()
            .map(|t| t.bill.id)
    };
    assert_eq!(target("ref1", Some("0099511234567890")), Some(b.id));
    assert_eq!(
        db.snapshot(|r| r.channel_visible_bills(bank.id, "0099511234567890"))
            .unwrap()
            .iter()
            .map(|b| b.id)
            .collect::<Vec<_>>(),
        vec![b.id]
    );
    assert_eq!(target("ref1", Some("0099521234567890")), None); // not enrolled
    assert_eq!(target("ref1", Some("0099531234567890")), None); // unknown prefix
    assert_eq!(target("ref1", Some("0099511111111111")), None); // no such number
    assert_eq!(target("ref1", None), None);

    let req = PaymentRequest {
        organization_id: o,
        channel: channel.clone(),
        channel_ref: "ref1".into(),
        request_hash: fingerprint(&["ref1", "150000"]),
        target: PaymentTarget::Bill { bill_id: b.id },
        amount: Money::from_minor(150_000, Currency::IDR),
        fee: 0,
        method: "ATM".into(),
        payer_name: "Payer".into(),
        details: "{}".into(),
        paid_at: NOW,
        on_rejection: OnRejection::Refuse,
    };
    let (p, row, read) = db
        .transaction(|w| {
            let posted = w.post_payment(&req, NOW)?;
            let p = posted.payment().unwrap().clone();
            let row = w.va_row_of_payment(b.id, &p, "payment")?;
            let read = w.va_payment_row(b.id, p.id, "payment")?;
            Ok::<_, StoreError>((p, row, read))
        })
        .unwrap();
    assert_eq!(row, read);
    let row = row.unwrap();
    assert_eq!(
        (
            row.kind.as_str(),
            row.applied,
            row.paid_after,
            row.status_after.as_str(),
            row.channel_name.as_deref(),
        ),
        ("payment", 150_000, 150_000, "paid", Some("Bank"))
    );
    assert_eq!(row.payment, p);
    assert_eq!(
        (row.bill.bill.paid, row.bill.account.name.as_str()),
        (150_000, "Payer")
    );
    assert!(!row.bill.va_numbers[0].active);
    assert!(!row.bill.reversal_last);
    assert_eq!(
        db.snapshot(|r| r.va_row_of_payment(b.id, &p, "reversal"))
            .unwrap(),
        None
    );
    // A retry goes to the bill its first attempt paid, whatever number it names now.
    assert_eq!(target("ref1", Some("0099529999999999")), Some(b.id));
    assert_eq!(target("ref1", None), Some(b.id));
    // Another bank's retry of the same reference is not this one's.
    let stranger = db.create_channel("Stranger", "va", NOW).unwrap();
    assert_eq!(
        db.snapshot(|r| r.bank_payment_target(stranger.id, &channel, "ref1", None))
            .unwrap()
            .map(|t| t.bill.id),
        None
    );

    let (fresh, name) = db.bill_with_account_name(b.id).unwrap().unwrap();
    assert_eq!(
        (fresh.status, fresh.paid, fresh.version, name.as_str()),
        (BillStatus::Paid, 150_000, b.version + 1, "Payer")
    );
    assert_eq!(db.bill_with_account_name(b.id + 1000).unwrap(), None);
}

/// A terminal payment with the code its transaction has read already: a code that cannot pay
/// writes nothing and leaves the reference free; a repeat gets its first result whatever became
/// of the code; other content under the reference is refused; a code used meanwhile (read
/// before its use) is never used twice.
fn postpaid_code_read_once(db: TestDb) {
    use billhub_store::postpaid::{CodeHolder, CodeProblem, NewPostpaidCode, PostpaidPosting};
    let o = org(&db, "ORG00001");
    let net = db.create_channel("Net", "postpaid", NOW).unwrap();
    db.enroll(net.id, o, NOW).unwrap();
    let b = bill(&db, o, "ACC1", 1050, PaymentRule::Exact);
    let b2 = bill(&db, o, "ACC1", 400, PaymentRule::Exact);
    let issue = |bill_ids: Vec<i64>, total: i64| {
        db.transaction(|w| {
            w.create_postpaid_code(
                &NewPostpaidCode {
                    channel_id: net.id,
                    organization_id: o,
                    terminal_id: 7,
                    account_id: b.account_id,
                    bill_ids: bill_ids.clone(),
                    total,
                    fee: 0,
                    payment_type: SettlementMode::Discrete,
                    currency: "USD".into(),
                    ttl: time::Duration::minutes(10),
                    local_date: date!(2025 - 09 - 01),
                },
                NOW,
            )
        })
        .unwrap()
    };
    let holder = CodeHolder {
        channel_id: net.id,
        organization_id: o,
        terminal_id: 7,
        account_id: b.account_id,
    };
    let settings = db.settings(o).unwrap();
    let request = |reference: &str, bill_id: i64, minor: i64| {
        let mut r = pay(
            o,
            PaymentTarget::Account {
                account_id: b.account_id,
                mode: Some(SettlementMode::Discrete),
                chosen: Some(vec![bill_id]),
            },
            reference,
            minor,
        );
        r.channel = format!("postpaid:{}", net.id);
        r
    };
    let post =
        |code: &billhub_store::postpaid::PostpaidCode, h: &CodeHolder, r: &PaymentRequest| {
            db.transaction(|w| {
                w.post_postpaid_payment_read(&code.code, Some(code), h, r, &[], &settings, NOW)
            })
        };
    let c1 = issue(vec![b.id], 1050);
    let req = request("t1", b.id, 1050);
    let wrong = CodeHolder {
        terminal_id: 8,
        ..holder
    };
    assert_eq!(
        post(&c1, &wrong, &req).unwrap(),
        PostpaidPosting::CodeRefused(CodeProblem::OtherTerminal)
    );
    assert_eq!(
        db.transaction(|w| {
            w.post_postpaid_payment_read("TXN-NONE", None, &holder, &req, &[], &settings, NOW)
        })
        .unwrap(),
        PostpaidPosting::CodeRefused(CodeProblem::Unknown)
    );
    // The reference is still free: it posts now.
    let PostpaidPosting::Posted(first) = post(&c1, &holder, &req).unwrap() else {
        panic!("expected a posting");
    };
    assert!(!first.replayed);
    let p = first.payment().unwrap().clone();
    assert_eq!((p.amount, p.fee, p.credit), (1050, 7, 0));
    assert_eq!(
        p.allocations
            .iter()
            .map(|a| (a.bill_id, a.amount))
            .collect::<Vec<_>>(),
        vec![(b.id, 1050)]
    );
    assert_eq!(db.payment(p.id).unwrap(), p);
    let used = db.postpaid_code(&c1.code).unwrap().unwrap();
    assert_eq!(used.used_by_payment_id, Some(p.id));
    // A repeat, with the code as read before or after its use, and through the entry point
    // that reads the code itself: the first result.
    for code in [&c1, &used] {
        let PostpaidPosting::Posted(again) = post(code, &holder, &req).unwrap() else {
            panic!("expected the first result");
        };
        assert!(again.replayed);
        assert_eq!(again.payment().unwrap(), &p);
    }
    let PostpaidPosting::Posted(again) = db
        .transaction(|w| w.post_postpaid_payment(&c1.code, &holder, &req, &[], NOW))
        .unwrap()
    else {
        panic!("expected the first result");
    };
    assert!(again.replayed);
    assert_eq!(again.payment().unwrap(), &p);
    // Other content under the reference.
    assert!(matches!(
        post(&used, &holder, &request("t1", b.id, 1000)),
        Err(StoreError::Rejected(Rejection::InconsistentReplay))
    ));
    // The used code under a new reference: refused as used; read before its use, it still
    // cannot be used a second time (the posting rolls back).
    assert_eq!(
        post(&used, &holder, &request("t2", b2.id, 400)).unwrap(),
        PostpaidPosting::CodeRefused(CodeProblem::Used)
    );
    assert!(matches!(
        post(&c1, &holder, &request("t2", b2.id, 400)),
        Err(StoreError::Busy(_))
    ));
    assert_eq!(db.bill(b2.id).unwrap().paid, 0);
    // A fresh code pays the second bill under that reference.
    let c2 = issue(vec![b2.id], 400);
    let PostpaidPosting::Posted(second) = post(&c2, &holder, &request("t2", b2.id, 400)).unwrap()
    else {
        panic!("expected a posting");
    };
    assert_eq!(second.payment().unwrap().amount, 400);
    assert_eq!(db.bill(b2.id).unwrap().paid, 400);
    let report = db.check_invariants(NOW).unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);

    // The code as issued is the row as stored (one INSERT ... RETURNING).
    let c3 = issue(vec![b2.id], 400);
    assert_eq!(db.postpaid_code(&c3.code).unwrap().as_ref(), Some(&c3));
    assert_eq!(
        (
            c3.terminal_id,
            c3.total,
            c3.expires_at,
            c3.used_by_payment_id
        ),
        (
            7,
            400,
            // Stored to the microsecond.
            billhub_store::from_db(billhub_store::to_db(NOW + time::Duration::minutes(10))),
            None
        )
    );
    assert!(c3.code.starts_with("TXN-20250901-"), "{}", c3.code);
    // Maintenance deletes codes that expired unused a day ago or more; used codes stay.
    let expired = NOW + time::Duration::minutes(10) + time::Duration::days(1);
    assert_eq!(
        db.purge_expired_postpaid_codes(expired).unwrap(),
        0,
        "expired exactly a day ago: kept"
    );
    assert_eq!(
        db.purge_expired_postpaid_codes(expired + time::Duration::seconds(1))
            .unwrap(),
        1
    );
    assert_eq!(db.postpaid_code(&c3.code).unwrap(), None);
    for used in [&c1, &c2] {
        assert!(db.postpaid_code(&used.code).unwrap().is_some());
    }
}

/// A payment on a bill its transaction has read already (`PaymentTarget::ReadBill`, a bank's
/// payment) posts exactly what a payment on the bill's id posts; a copy read before another
/// payment moved the bill on loses the race every time it runs and writes nothing. And the
/// organization a flow takes from the cache inside its transaction is read there on a miss,
/// then served from the cache.
fn payment_on_a_bill_read_already(db: TestDb) {
    let o = org(&db, "ORG00001");
    let by_id = bill(&db, o, "ACC1", 1050, PaymentRule::Exact);
    let read = bill(&db, o, "ACC2", 1050, PaymentRule::Exact);
    let first = db
        .post_payment(
            &pay(o, PaymentTarget::Bill { bill_id: by_id.id }, "id", 1050),
            NOW,
        )
        .unwrap();
    let second = db
        .transaction(|w| {
            let bill = w.bill(read.id)?;
            let target = PaymentTarget::ReadBill {
                bill: Box::new(bill),
                webhook: None,
            };
            w.post_payment(&pay(o, target, "read", 1050), NOW)
        })
        .unwrap();
    let (p1, p2) = (first.payment().unwrap(), second.payment().unwrap());
    assert_eq!(
        (p2.amount, p2.fee, p2.credit, p2.account_id),
        (p1.amount, p1.fee, p1.credit, Some(read.account_id))
    );
    assert_eq!(
        p2.allocations
            .iter()
            .map(|a| (a.bill_id, a.amount))
            .collect::<Vec<_>>(),
        vec![(read.id, 1050)]
    );
    assert_eq!(db.payment(p2.id).unwrap(), *p2);
    let after = db.bill(read.id).unwrap();
    assert_eq!(
        (after.status, after.paid, after.version),
        (BillStatus::Paid, 1050, read.version + 1)
    );
    let events = db.bill_events(read.id).unwrap();
    assert_eq!(
        events
            .last()
            .map(|e| (e.kind.as_str(), e.payment_id, e.amount)),
        Some(("payment", Some(p2.id), Some(1050)))
    );

    // A bill in a collection: the webhook read with it is the one notified.
    assert!(db.deliveries_for_organization(o).unwrap().is_empty());
    let collection = db
        .create_collection(
            o,
            &collections::NewCollection {
                name: "Hooked".into(),
                webhook_url: Some("http://127.0.0.1:9/read".into()),
                redirect_url: None,
            },
            NOW,
        )
        .unwrap();
    let hooked = bill_in(
        &db,
        o,
        "ACC4",
        500,
        (PaymentRule::Exact, Some(collection.id)),
    );
    db.transaction(|w| {
        let target = PaymentTarget::ReadBill {
            bill: Box::new(w.bill(hooked.id)?),
            webhook: Some("http://127.0.0.1:9/read".into()),
        };
        w.post_payment(&pay(o, target, "hooked", 500), NOW)
    })
    .unwrap();
    let d = db.deliveries_for_organization(o).unwrap();
    assert_eq!(
        d.iter().map(|d| d.target_url.as_str()).collect::<Vec<_>>(),
        vec!["http://127.0.0.1:9/read"]
    );

    // Read before a payment of 400 moved it on: the copy's version is stale.
    let open = bill(&db, o, "ACC3", 1050, PaymentRule::Open);
    db.post_payment(
        &pay(o, PaymentTarget::Bill { bill_id: open.id }, "moved", 400),
        NOW,
    )
    .unwrap();
    let mut attempts = 0;
    let stale = db.transaction(|w| {
        attempts += 1;
        let target = PaymentTarget::ReadBill {
            bill: Box::new(open.clone()),
            webhook: None,
        };
        w.post_payment(&pay(o, target, "stale", 650), NOW)
    });
    assert!(
        matches!(stale, Err(StoreError::RaceLost { id, .. }) if id == open.id),
        "{stale:?}"
    );
    assert!(attempts > 1, "a lost race runs again: {attempts}");
    assert_eq!(db.bill(open.id).unwrap().paid, 400);
    assert_eq!(
        db.payment_by_channel_ref("test", "stale").unwrap(),
        None,
        "nothing is written"
    );

    // On a miss the organization is read in the flow's own transaction, then cached: a rename
    // made behind the store's back is not seen until the entry expires.
    let cached = db
        .transaction(|w| db.cached_organization_in(w, o, NOW))
        .unwrap();
    assert_eq!(
        (cached.organization.id, cached.organization.name.as_str()),
        (o, "Org ORG00001")
    );
    db.raw_sql(&format!(
        "UPDATE organizations SET name = 'Renamed' WHERE id = {o}"
    ));
    let again = db
        .transaction(|w| db.cached_organization_in(w, o, NOW))
        .unwrap();
    assert_eq!(again.organization.name, "Org ORG00001");
    let later = NOW + billhub_store::cache::CACHE_TTL;
    let fresh = db
        .transaction(|w| db.cached_organization_in(w, o, later))
        .unwrap();
    assert_eq!(fresh.organization.name, "Renamed");
    assert!(matches!(
        db.transaction(|w| db.cached_organization_in(w, o + 1000, NOW)),
        Err(StoreError::NotFound { .. })
    ));
}

billhub_store::backend_tests!(
    payment_on_a_bill_read_already,
    bank_payment_reads,
    postpaid_code_read_once,
    posted_payment_is_what_a_read_returns,
    a_refused_reference_stays_free,
    unapplied_record_is_what_a_read_returns,
    collection_webhook_is_read_with_the_bills,
    account_of_another_organization_is_not_found,
    settings_given_by_the_caller_decide,
);
