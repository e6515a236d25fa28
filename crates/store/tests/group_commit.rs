//! SQLite durability and group commit: every connection at `synchronous=FULL`; concurrent
//! write transactions share one commit, each decided on its own, none answered before the
//! commit; a failed commit fails every member; a panicking member hangs nobody.
//!
//! The batches are made deterministic with the store's testing hooks
//! ([`Store::hold_next_batch`]: the next batch commits only once N members joined;
//! [`Store::wait_for_batch_members`]; [`Store::fail_next_commit`]); nothing sleeps.
//! Group commit is SQLite's; the "each decided on its own" test runs on PostgreSQL too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use billhub_core::{BillStatus, Currency, Money, Rejection};
use billhub_store::testing::{self, TestDb};
use billhub_store::*;
use time::macros::datetime;
use time::{OffsetDateTime, UtcOffset};

const NOW: OffsetDateTime = datetime!(2025-09-01 10:00 UTC);

fn org(db: &TestDb, code: &str) -> i64 {
    db.create_organization(
        &NewOrganization {
            code: Some(code.into()),
            name: format!("Org {code}"),
            utc_offset: UtcOffset::UTC,
            locale: "en".into(),
            settlement: None,
            va_prefixes: vec![],
        },
        NOW,
    )
    .unwrap()
    .id
}

/// An exact-rule USD bill of `billed` on its own account.
fn bill(db: &TestDb, org_id: i64, account: &str, billed: i64) -> billhub_core::Bill {
    let new = testing::bill_input(org_id, Currency::USD, billed);
    db.create_bill_for_account(&testing::account_input(account), &new, NOW)
        .unwrap()
        .1
}

fn pay(org_id: i64, bill_id: i64, reference: &str, minor: i64) -> PaymentRequest {
    PaymentRequest {
        organization_id: org_id,
        channel: "test".into(),
        channel_ref: reference.into(),
        request_hash: fingerprint(&[&minor.to_string(), "USD"]),
        target: PaymentTarget::Bill { bill_id },
        amount: Money::from_minor(minor, Currency::USD),
        fee: 0,
        method: "test".into(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: NOW,
        on_rejection: OnRejection::Refuse,
    }
}

fn posted(outcome: &PaymentOutcome) -> &billhub_core::Payment {
    match &outcome.result {
        PostResult::Posted(p) => p,
        other => panic!("expected a posted payment, got {other:?}"),
    }
}

/// `n` bills of 1000 on accounts A0..An.
fn bills(db: &TestDb, o: i64, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| bill(db, o, &format!("A{i}"), 1000).id)
        .collect()
}

/// Posts `p{i}` of 1000 on bill `i` from one thread per bill; the answers in bill order.
fn post_concurrently(db: &TestDb, o: i64, bills: &[i64]) -> Vec<StoreResult<PaymentOutcome>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = bills
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let store = db.store.clone();
                s.spawn(move || store.post_payment(&pay(o, *id, &format!("p{i}"), 1000), NOW))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Every SQLite connection, the group's writer and every pooled one, runs `synchronous=FULL`.
#[test]
fn sqlite_every_connection_is_synchronous_full() {
    let db = TestDb::sqlite();
    let values = db.sqlite_synchronous().unwrap();
    assert_eq!(values.len(), 1 + db.pool_max_size() as usize);
    assert_eq!(values, vec![2; values.len()], "writer first, then the pool");
}

/// Eight concurrent postings held in one batch: one commit, each payment applied exactly once.
#[test]
fn sqlite_concurrent_postings_share_one_commit() {
    let db = TestDb::sqlite();
    let o = org(&db, "ORG00001");
    let ids = bills(&db, o, 8);
    let commits = db.commits();
    let started = db.transactions_started();
    db.hold_next_batch(8);
    let answers = post_concurrently(&db, o, &ids);
    assert_eq!(db.commits() - commits, 1, "one commit for the batch");
    assert_eq!(db.transactions_started() - started, 8, "eight transactions");
    for (i, (answer, id)) in answers.iter().zip(&ids).enumerate() {
        let answer = answer.as_ref().unwrap();
        assert!(!answer.replayed);
        let p = posted(answer);
        assert_eq!(
            (p.amount, p.channel_ref.as_str()),
            (1000, &*format!("p{i}"))
        );
        assert_eq!(p.allocations.len(), 1);
        assert_eq!(
            (p.allocations[0].bill_id, p.allocations[0].amount),
            (*id, 1000)
        );
        let b = db.bill(*id).unwrap();
        assert_eq!((b.paid, b.status), (1000, BillStatus::Paid));
        let payments = db.payments_of_bill(*id).unwrap();
        assert_eq!(payments.len(), 1, "applied exactly once");
        assert_eq!(payments[0].id, p.id);
    }
}

/// One batch with a payment, a refusal and a replay: each gets its own answer, and the refused
/// one wrote nothing. On PostgreSQL (no batch) the answers are the same.
fn each_member_is_decided_on_its_own(db: TestDb) {
    let o = org(&db, "ORG00001");
    let ids = bills(&db, o, 3);
    let first = db.post_payment(&pay(o, ids[0], "p0", 1000), NOW).unwrap();
    let first = posted(&first).clone();
    let commits = db.commits();
    db.hold_next_batch(3);
    let (fresh, refused, replay) = std::thread::scope(|s| {
        let fresh = s.spawn(|| db.post_payment(&pay(o, ids[1], "p1", 1000), NOW));
        let refused = s.spawn(|| db.post_payment(&pay(o, ids[2], "p2", 5000), NOW));
        let replay = s.spawn(|| db.post_payment(&pay(o, ids[0], "p0", 1000), NOW));
        (
            fresh.join().unwrap(),
            refused.join().unwrap(),
            replay.join().unwrap(),
        )
    });
    let fresh = fresh.unwrap();
    assert!(!fresh.replayed);
    assert_eq!(posted(&fresh).amount, 1000);
    assert_eq!(posted(&fresh).allocations[0].bill_id, ids[1]);
    match refused {
        Err(StoreError::Rejected(r)) => {
            assert_eq!(r, Rejection::MustEqualOutstanding { outstanding: 1000 });
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let replay = replay.unwrap();
    assert!(replay.replayed);
    assert_eq!(posted(&replay), &first, "the first answer, again");
    let expected = match db.backend() {
        // One batch, one commit.
        Backend::Sqlite => 1,
        // One transaction each: the payment and the replay commit, the refusal rolls back.
        Backend::Postgres => 2,
    };
    assert_eq!(db.commits() - commits, expected);

    let refused_bill = db.bill(ids[2]).unwrap();
    assert_eq!(
        (refused_bill.paid, refused_bill.status),
        (0, BillStatus::Active)
    );
    assert!(db.payments_of_bill(ids[2]).unwrap().is_empty());
    assert_eq!(db.payment_by_channel_ref("test", "p2").unwrap(), None);
    assert_eq!(db.bill(ids[1]).unwrap().paid, 1000);
    assert_eq!(
        db.bill(ids[0]).unwrap().paid,
        1000,
        "the replay paid nothing more"
    );
    assert_eq!(db.payments_of_bill(ids[0]).unwrap().len(), 1);
}

/// While the batch waits for its last member, the members that finished have not been
/// answered and nothing of theirs is visible; the last member's arrival commits them all.
#[test]
fn sqlite_nobody_is_answered_before_the_commit() {
    let db = TestDb::sqlite();
    let o = org(&db, "ORG00001");
    let ids = bills(&db, o, 4);
    let commits = db.commits();
    let answered = Arc::new(AtomicUsize::new(0));
    db.hold_next_batch(4);
    std::thread::scope(|s| {
        let handles: Vec<_> = ids[..3]
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let (store, answered) = (db.store.clone(), answered.clone());
                s.spawn(move || {
                    let r = store.post_payment(&pay(o, *id, &format!("p{i}"), 1000), NOW);
                    answered.fetch_add(1, Ordering::SeqCst);
                    r
                })
            })
            .collect();
        db.wait_for_batch_members(3);
        assert_eq!(answered.load(Ordering::SeqCst), 0, "nobody answered yet");
        assert_eq!(db.commits(), commits, "nothing committed yet");
        for id in &ids[..3] {
            assert_eq!(
                db.bill(*id).unwrap().paid,
                0,
                "not visible before the commit"
            );
        }
        let last = db.post_payment(&pay(o, ids[3], "p3", 1000), NOW).unwrap();
        assert_eq!(posted(&last).amount, 1000);
        for h in handles {
            assert_eq!(posted(&h.join().unwrap().unwrap()).amount, 1000);
        }
    });
    assert_eq!(answered.load(Ordering::SeqCst), 3);
    assert_eq!(db.commits() - commits, 1);
    for id in &ids {
        assert_eq!(db.bill(*id).unwrap().paid, 1000);
    }
}

/// A commit that fails fails every member of its batch, and none of their writes is visible;
/// the same requests then post afresh (nothing of them had been recorded).
#[test]
fn sqlite_a_failed_commit_fails_every_member() {
    let db = TestDb::sqlite();
    let o = org(&db, "ORG00001");
    let ids = bills(&db, o, 3);
    let commits = db.commits();
    db.hold_next_batch(3);
    db.fail_next_commit();
    let answers = post_concurrently(&db, o, &ids);
    assert_eq!(db.commits(), commits, "no commit");
    for answer in answers {
        let err = answer.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        assert!(err.rejection().is_none());
        assert!(!err.is_unavailable(), "{err}");
        assert!(
            err.to_string() == "database"
                && std::error::Error::source(&err)
                    .unwrap()
                    .to_string()
                    .contains("group commit failed (injected commit failure (testing))"),
            "{err:?}"
        );
    }
    for (i, id) in ids.iter().enumerate() {
        let b = db.bill(*id).unwrap();
        assert_eq!((b.paid, b.status), (0, BillStatus::Active));
        assert!(db.payments_of_bill(*id).unwrap().is_empty());
        assert_eq!(
            db.payment_by_channel_ref("test", &format!("p{i}")).unwrap(),
            None
        );
    }
    // The writer heals: the same requests are new payments now, one commit each.
    for (i, id) in ids.iter().enumerate() {
        let again = db
            .post_payment(&pay(o, *id, &format!("p{i}"), 1000), NOW)
            .unwrap();
        assert!(!again.replayed);
        assert_eq!(db.bill(*id).unwrap().paid, 1000);
    }
    assert_eq!(db.commits() - commits, 3);
}

/// A member that panics rolls back its own savepoint; the other members of its batch commit
/// and are answered, and the panic reaches its own caller.
#[test]
fn sqlite_a_panicking_member_hangs_nobody() {
    let db = TestDb::sqlite();
    let o = org(&db, "ORG00001");
    let ids = bills(&db, o, 2);
    let commits = db.commits();
    db.hold_next_batch(3);
    let (a, panicked, b) = std::thread::scope(|s| {
        let a = s.spawn(|| db.post_payment(&pay(o, ids[0], "p0", 1000), NOW));
        let panicked = s.spawn(|| {
            let _: StoreResult<()> = db.transaction(|w| {
                w.set_setting(o, "name", "Half written", NOW)?;
                panic!("a bug in a flow");
            });
        });
        let b = s.spawn(|| db.post_payment(&pay(o, ids[1], "p1", 1000), NOW));
        (a.join(), panicked.join(), b.join())
    });
    assert!(panicked.is_err(), "the panic reached its caller");
    assert_eq!(posted(&a.unwrap().unwrap()).amount, 1000);
    assert_eq!(posted(&b.unwrap().unwrap()).amount, 1000);
    assert_eq!(db.commits() - commits, 1);
    assert_eq!(db.organization(o).unwrap().name, "Org ORG00001");
    assert_eq!(db.bill(ids[0]).unwrap().paid, 1000);
    assert_eq!(db.bill(ids[1]).unwrap().paid, 1000);
    db.set_setting(o, "name", "Whole", NOW).unwrap();
    assert_eq!(db.organization(o).unwrap().name, "Whole");
}

/// A write inside a write on the same thread is refused at once (it would wait for itself);
/// the outer one still commits.
#[test]
fn sqlite_a_write_inside_a_write_is_refused() {
    let db = TestDb::sqlite();
    let o = org(&db, "ORG00001");
    let inner = db
        .transaction(|w| {
            w.set_setting(o, "name", "Outer", NOW)?;
            let inner = db.set_setting(o, "locale", "km", NOW);
            Ok::<_, StoreError>(inner)
        })
        .unwrap();
    let err = inner.unwrap_err();
    assert!(matches!(err, StoreError::Busy(_)), "{err:?}");
    let org = db.organization(o).unwrap();
    assert_eq!((org.name.as_str(), org.locale.as_str()), ("Outer", "en"));
}

/// A writer whose deadline passes while another holds the writer gives up as unavailable and
/// writes nothing; the holder still commits.
#[test]
fn sqlite_deadline_bounds_the_wait_for_the_writer() {
    let db = TestDb::sqlite();
    let o = org(&db, "ORG00001");
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let db = &db;
        let holder = s.spawn(move || {
            db.transaction(|w| {
                w.set_setting(o, "name", "Holder", NOW)?;
                entered_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                Ok::<_, StoreError>(())
            })
        });
        entered_rx.recv().unwrap();
        let started = db.transactions_started();
        let err = db
            .until(Instant::now() + Duration::from_millis(100))
            .set_setting(o, "locale", "km", NOW)
            .unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert_eq!(db.transactions_started(), started, "nothing began");
        go_tx.send(()).unwrap();
        holder.join().unwrap().unwrap();
    });
    let org = db.organization(o).unwrap();
    assert_eq!((org.name.as_str(), org.locale.as_str()), ("Holder", "en"));
}

billhub_store::backend_tests!(each_member_is_decided_on_its_own);
