//! Posting without read-backs (issue 12, payments on PostgreSQL): the payment and the unapplied
//! record a posting returns are what a later read returns, and a refusal gives its reference's
//! key back even when the caller commits other work in the same transaction. Every test runs
//! on a fresh SQLite file and a fresh PostgreSQL database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests may panic on a broken expectation

use billhub_core::{BillStatus, Currency, Money, PaymentRule, Rejection, SettlementMode};
use billhub_store::testing::TestDb;
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
    let new = NewBill {
        organization_id: org_id,
        account_id: 0,
        collection_id: None,
        invoice_number: None,
        ref1: String::new(),
        ref2: String::new(),
        name: "Bill".into(),
        description: String::new(),
        currency: Currency::USD,
        billed,
        items: vec![],
        bill_date: date!(2025 - 08 - 01),
        due_date: Some(date!(2025 - 08 - 31)),
        valid_until: None,
        rule,
        source: "test".into(),
        extra: "{}".into(),
        va_numbers: vec![],
    };
    let acc = AccountInput {
        code: account.into(),
        name: "Payer".into(),
        ..Default::default()
    };
    db.create_bill_for_account(&acc, &new, NOW).unwrap().1
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

billhub_store::backend_tests!(
    posted_payment_is_what_a_read_returns,
    a_refused_reference_stays_free,
    unapplied_record_is_what_a_read_returns,
);
