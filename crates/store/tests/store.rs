//! The store suite: every test runs on a fresh SQLite file (`sqlite::...`) and on a fresh
//! PostgreSQL database (`postgres::...`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation

use std::sync::{Arc, Barrier};

use billhub_core::{BillStatus, Currency, Money, PaymentRule, Rejection, SettlementMode};
use billhub_store::testing::{self, TestDb};
use billhub_store::*;
use time::macros::{date, datetime};
use time::{OffsetDateTime, UtcOffset};

const NOW: OffsetDateTime = datetime!(2025-09-01 10:00 UTC);

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
    currency: Currency,
    billed: i64,
    rule: PaymentRule,
) -> billhub_core::Bill {
    let mut new = testing::bill_input(org_id, currency, billed);
    new.rule = rule;
    db.create_bill_for_account(&testing::account_input(account), &new, NOW)
        .unwrap()
        .1
}

fn pay(
    org_id: i64,
    target: PaymentTarget,
    reference: &str,
    minor: i64,
    currency: Currency,
) -> PaymentRequest {
    PaymentRequest {
        organization_id: org_id,
        channel: "test".into(),
        channel_ref: reference.into(),
        request_hash: fingerprint(&[&minor.to_string(), currency.code()]),
        target,
        amount: Money::from_minor(minor, currency),
        fee: 0,
        method: "test".into(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: NOW,
        on_rejection: OnRejection::Refuse,
    }
}

fn rejected(r: StoreResult<PaymentOutcome>) -> Rejection {
    match r {
        Err(StoreError::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn organizations_and_settings(db: TestDb) {
    let id = org(&db, "ORG00001");
    assert_eq!(db.organization_by_code("ORG00001").unwrap().unwrap().id, id);
    assert_eq!(db.organization(id).unwrap().utc_offset_string(), "+07:00");
    assert!(matches!(
        db.create_organization(
            &NewOrganization {
                code: Some("ORG00001".into()),
                name: "x".into(),
                utc_offset: UtcOffset::UTC,
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec![]
            },
            NOW
        ),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(db.settings(id).unwrap().settlement, SettlementMode::Open);
    db.set_setting(id, "settlement", "total", NOW).unwrap();
    db.set_setting(id, "bill24.statement_months", "6", NOW)
        .unwrap();
    let s = db.settings(id).unwrap();
    assert_eq!(
        (s.settlement, s.bill24_statement_months),
        (SettlementMode::Total, 6)
    );
    assert!(matches!(
        db.set_setting(id, "settlement", "bogus", NOW),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        db.set_setting(id, "no.such.key", "1", NOW),
        Err(StoreError::Invalid(_))
    ));
    db.set_setting(id, "utc_offset", "-05:30", NOW).unwrap();
    assert_eq!(db.organization(id).unwrap().utc_offset_string(), "-05:30");
    // VA prefixes are unique across the store.
    db.add_va_prefix(id, "009902", NOW).unwrap();
    let other = org(&db, "ORG00002");
    assert!(matches!(
        db.add_va_prefix(other, "009902", NOW),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        db.add_va_prefix(other, "12345", NOW),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(db.organization_by_va_prefix("009902").unwrap(), Some(id));
    assert_eq!(db.va_prefixes(id).unwrap(), vec!["009902".to_string()]);
}

fn credentials_are_hashed_and_scoped(db: TestDb) {
    let id = org(&db, "ORG00001");
    let b24 = db.create_credential(id, "bill24", false, NOW).unwrap();
    let token = b24.token.clone().unwrap();
    assert_eq!(token.len(), 32);
    let info = db.authenticate_token("bill24", &token).unwrap().unwrap();
    assert_eq!(info.organization_id(), Some(id));
    assert!(
        db.authenticate_token("collections", &token)
            .unwrap()
            .is_none(),
        "a token is bound to its dialect"
    );
    assert!(db.authenticate_token("bill24", "nope").unwrap().is_none());
    let col = db.create_credential(id, "collections", false, NOW).unwrap();
    let key = col.signature_key.clone().unwrap();
    assert!(col.access_token.is_some());
    assert_eq!(db.signature_key(id).unwrap().as_deref(), Some(key.as_str()));
    let col2 = db.create_credential(id, "collections", false, NOW).unwrap();
    assert!(
        col2.signature_key.is_none(),
        "the signature key is shown once"
    );
    let rotated = db
        .create_credential(id, "collections", true, NOW)
        .unwrap()
        .signature_key
        .unwrap();
    assert_ne!(rotated, key);
    assert_eq!(
        db.signature_key(id).unwrap().as_deref(),
        Some(rotated.as_str())
    );
    let va = db.create_credential(id, "va", false, NOW).unwrap();
    let cred = db
        .authenticate_client(
            va.client_id.as_deref().unwrap(),
            va.client_secret.as_deref().unwrap(),
        )
        .unwrap()
        .unwrap();
    assert!(
        db.authenticate_client(va.client_id.as_deref().unwrap(), "wrong")
            .unwrap()
            .is_none()
    );
    assert_eq!(
        db.credential_secret(cred.id).unwrap(),
        va.api_key.clone().unwrap()
    );
    assert_eq!(db.newest_api_key(id, "va").unwrap(), va.api_key.clone());
    let (tok, exp) = db
        .issue_access_token(cred.id, "*", time::Duration::hours(1), NOW)
        .unwrap();
    assert_eq!(exp, NOW + time::Duration::hours(1));
    assert_eq!(
        db.authenticate_access_token(&tok, NOW).unwrap().unwrap().id,
        cred.id
    );
    assert!(
        db.authenticate_access_token(&tok, exp).unwrap().is_none(),
        "expired at expires_at"
    );
    let ch = db.create_channel("Bank", "postpaid", NOW).unwrap();
    let user = db
        .credential_by_username(ch.username.as_deref().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(user.channel_id(), Some(ch.id));
    assert_eq!(
        db.credential_secret(user.id).unwrap(),
        billhub_core::signature::csq::password_hash(ch.password.as_deref().unwrap())
    );
    assert!(!db.is_enrolled(ch.id, id).unwrap());
    db.enroll(ch.id, id, NOW).unwrap();
    db.enroll(ch.id, id, NOW).unwrap();
    assert_eq!(db.enrolled_organizations(ch.id).unwrap(), vec![id]);
    assert!(
        db.use_nonce("u", "n1", NOW + time::Duration::seconds(60))
            .unwrap()
    );
    assert!(
        !db.use_nonce("u", "n1", NOW + time::Duration::seconds(60))
            .unwrap()
    );
    db.revoke_credential(info.id, NOW).unwrap();
    assert!(db.authenticate_token("bill24", &token).unwrap().is_none());
}

fn exact_payment_replay_and_inconsistency(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b = bill(&db, o, "ACC1", Currency::USD, 1050, PaymentRule::Exact);
    assert_eq!(b.public_no.len(), 8);
    assert_eq!(b.invoice_number, b.public_no);
    let t = PaymentTarget::Bill { bill_id: b.id };
    assert_eq!(
        rejected(db.post_payment(&pay(o, t.clone(), "r0", 1000, Currency::USD), NOW)),
        Rejection::MustEqualOutstanding { outstanding: 1050 }
    );
    assert_eq!(
        rejected(db.post_payment(&pay(o, t.clone(), "r0", 1050, Currency::KHR), NOW)),
        Rejection::CurrencyMismatch {
            expected: Currency::USD,
            got: Currency::KHR
        }
    );
    let first = db
        .post_payment(&pay(o, t.clone(), "r1", 1050, Currency::USD), NOW)
        .unwrap();
    assert!(!first.replayed);
    let p = first.payment().unwrap().clone();
    assert_eq!((p.amount, p.credit, p.allocations.len()), (1050, 0, 1));
    let again = db
        .post_payment(&pay(o, t.clone(), "r1", 1050, Currency::USD), NOW)
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.payment().unwrap().id, p.id);
    assert_eq!(
        rejected(db.post_payment(&pay(o, t.clone(), "r1", 1049, Currency::USD), NOW)),
        Rejection::InconsistentReplay
    );
    assert_eq!(
        rejected(db.post_payment(&pay(o, t, "r2", 1050, Currency::USD), NOW)),
        Rejection::AlreadyPaid
    );
    let after = db.bill(b.id).unwrap();
    assert_eq!(
        (after.status, after.paid, after.version),
        (BillStatus::Paid, 1050, 1)
    );
    let kinds: Vec<String> = db
        .bill_events(b.id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["created", "payment"]);
    // Another organization cannot pay this bill.
    let other = org(&db, "ORG00002");
    assert_eq!(
        rejected(db.post_payment(
            &pay(
                other,
                PaymentTarget::Bill { bill_id: b.id },
                "x",
                1050,
                Currency::USD
            ),
            NOW
        )),
        Rejection::NotFound
    );
}

fn partial_open_credit_and_reversal(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b = bill(
        &db,
        o,
        "ACC1",
        Currency::KHR,
        1_000_000,
        PaymentRule::Partial {
            minimum: Some(100_000),
        },
    );
    let t = PaymentTarget::Bill { bill_id: b.id };
    assert_eq!(
        rejected(db.post_payment(&pay(o, t.clone(), "p0", 50_000, Currency::KHR), NOW)),
        Rejection::BelowMinimum { minimum: 100_000 }
    );
    let p1 = db
        .post_payment(&pay(o, t.clone(), "p1", 400_000, Currency::KHR), NOW)
        .unwrap()
        .payment()
        .unwrap()
        .clone();
    assert_eq!(db.bill(b.id).unwrap().status, BillStatus::PartiallyPaid);
    assert_eq!(
        rejected(db.post_payment(&pay(o, t.clone(), "p2", 600_001, Currency::KHR), NOW)),
        Rejection::AboveOutstanding {
            outstanding: 600_000
        }
    );
    db.post_payment(&pay(o, t.clone(), "p2", 600_000, Currency::KHR), NOW)
        .unwrap();
    assert_eq!(db.bill(b.id).unwrap().status, BillStatus::Paid);

    let rev = ReversalRequest {
        organization_id: o,
        payment_id: p1.id,
        channel: "test".into(),
        channel_ref: "rev1".into(),
        request_hash: fingerprint(&["rev", "400000"]),
        reason: "customer refund".into(),
        requester: billhub_core::reversal::Requester::Channel,
        claimed: billhub_core::reversal::Claimed::Nothing,
        window: None,
    };
    let out = db.reverse_payment(&rev, NOW).unwrap();
    assert!(!out.replayed);
    assert!(out.payment.reversed.is_some());
    let after = db.bill(b.id).unwrap();
    assert_eq!(
        (after.status, after.paid),
        (BillStatus::PartiallyPaid, 600_000)
    );
    assert!(db.reverse_payment(&rev, NOW).unwrap().replayed);
    let other = ReversalRequest {
        channel_ref: "rev2".into(),
        ..rev.clone()
    };
    assert!(matches!(
        db.reverse_payment(&other, NOW),
        Err(StoreError::Rejected(Rejection::AlreadyReversed))
    ));
    let changed = ReversalRequest {
        request_hash: "different".into(),
        ..rev.clone()
    };
    assert!(matches!(
        db.reverse_payment(&changed, NOW),
        Err(StoreError::Rejected(Rejection::InconsistentReplay))
    ));
    let kinds: Vec<String> = db
        .bill_events(b.id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["created", "payment", "payment", "reversal"]);

    // Window.
    let p3 = db
        .post_payment(&pay(o, t, "p3", 400_000, Currency::KHR), NOW)
        .unwrap()
        .payment()
        .unwrap()
        .clone();
    let late = ReversalRequest {
        payment_id: p3.id,
        channel_ref: "rev3".into(),
        requester: billhub_core::reversal::Requester::Channel,
        claimed: billhub_core::reversal::Claimed::Nothing,
        window: Some(time::Duration::hours(24)),
        ..rev
    };
    assert!(matches!(
        db.reverse_payment(&late, NOW + time::Duration::hours(25)),
        Err(StoreError::Rejected(Rejection::ReversalWindowPassed))
    ));
    assert!(
        db.reverse_payment(&late, NOW + time::Duration::hours(23))
            .is_ok()
    );

    // Open rule: the excess becomes account credit, reversal takes it back.
    let ob = bill(&db, o, "ACC2", Currency::USD, 1000, PaymentRule::Open);
    let p = db
        .post_payment(
            &pay(
                o,
                PaymentTarget::Bill { bill_id: ob.id },
                "o1",
                1500,
                Currency::USD,
            ),
            NOW,
        )
        .unwrap()
        .payment()
        .unwrap()
        .clone();
    assert_eq!((p.credit, p.allocations[0].amount), (500, 1000));
    assert_eq!(
        db.account_credit(ob.account_id, Currency::USD).unwrap(),
        500
    );
    let r = ReversalRequest {
        organization_id: o,
        payment_id: p.id,
        channel: "test".into(),
        channel_ref: "ro1".into(),
        request_hash: "h".into(),
        reason: String::new(),
        requester: billhub_core::reversal::Requester::Channel,
        claimed: billhub_core::reversal::Claimed::Nothing,
        window: None,
    };
    db.reverse_payment(&r, NOW).unwrap();
    assert_eq!(db.account_credit(ob.account_id, Currency::USD).unwrap(), 0);
    assert_eq!(db.bill(ob.id).unwrap().status, BillStatus::Active);

    // The statement's ledger: each bill, each payment (negative) followed by its reversal
    // (positive, at the reversal's date), in id order.
    use billhub_core::statement::EntryKind as K;
    let ledger = |account: i64| -> Vec<(K, i64, i64, time::Date)> {
        db.ledger_entries(account, UtcOffset::UTC)
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.reference, e.amount, e.date))
            .collect()
    };
    let (today, later) = (NOW.date(), (NOW + time::Duration::hours(23)).date());
    let p2 = db.payment_by_channel_ref("test", "p2").unwrap().unwrap();
    assert_eq!(
        ledger(b.account_id),
        vec![
            (K::Bill, b.id, 1_000_000, b.bill_date),
            (K::Payment, p1.id, -400_000, today),
            (K::Reversal, p1.id, 400_000, today),
            (K::Payment, p2.id, -600_000, today),
            (K::Payment, p3.id, -400_000, today),
            (K::Reversal, p3.id, 400_000, later),
        ]
    );
    assert_eq!(
        ledger(ob.account_id),
        vec![
            (K::Bill, ob.id, 1000, ob.bill_date),
            (K::Payment, p.id, -1500, today),
            (K::Reversal, p.id, 1500, today),
        ]
    );
    // Bill24's `/pending_bills` read: the account its code names, the same ledger and the
    // account's currencies; a code naming a bill finds its account; an unknown code nothing.
    let found = db
        .bill24_statement(o, "ACC1", NOW, UtcOffset::UTC)
        .unwrap()
        .unwrap();
    assert_eq!(found.account.id, b.account_id);
    assert_eq!(found.ledger.currencies, vec!["KHR".to_string()]);
    assert_eq!(
        found.ledger.entries,
        db.ledger_entries(b.account_id, UtcOffset::UTC).unwrap()
    );
    let by_bill = db
        .bill24_statement(o, &ob.public_no, NOW, UtcOffset::UTC)
        .unwrap()
        .unwrap();
    assert_eq!(by_bill.account.id, ob.account_id);
    assert_eq!(by_bill.ledger.currencies, vec!["USD".to_string()]);
    assert_eq!(
        db.bill24_statement(o, "NOBODY", NOW, UtcOffset::UTC)
            .unwrap(),
        None
    );
}

fn account_modes_and_unapplied(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b1 = bill(&db, o, "ACC1", Currency::USD, 500, PaymentRule::Exact);
    let b2 = bill(&db, o, "ACC1", Currency::USD, 300, PaymentRule::Exact);
    let account = b1.account_id;
    assert_eq!(b2.account_id, account);
    let total = PaymentTarget::Account {
        account_id: account,
        mode: Some(SettlementMode::Total),
        chosen: None,
    };
    assert_eq!(
        rejected(db.post_payment(&pay(o, total.clone(), "t1", 500, Currency::USD), NOW)),
        Rejection::MustEqualOutstanding { outstanding: 800 }
    );
    let open = PaymentTarget::Account {
        account_id: account,
        mode: None,
        chosen: None,
    };
    let p = db
        .post_payment(&pay(o, open.clone(), "o1", 1000, Currency::USD), NOW)
        .unwrap()
        .payment()
        .unwrap()
        .clone();
    assert_eq!(
        p.allocations.iter().map(|a| a.amount).sum::<i64>() + p.credit,
        1000
    );
    assert_eq!(p.credit, 200);
    assert_eq!(db.bill(b1.id).unwrap().status, BillStatus::Paid);
    assert_eq!(db.bill(b2.id).unwrap().status, BillStatus::Paid);
    assert_eq!(
        rejected(db.post_payment(&pay(o, open.clone(), "o2", 10, Currency::USD), NOW)),
        Rejection::NothingToPay
    );

    // Unapplied: an unknown account, and a refusal, each recorded once and replayable.
    let mut req = pay(
        o,
        PaymentTarget::Unknown {
            account_code: "NOPE".into(),
        },
        "u1",
        700,
        Currency::USD,
    );
    req.on_rejection = OnRejection::RecordUnapplied;
    let out = db.post_payment(&req, NOW).unwrap();
    let PostResult::Unapplied(u) = &out.result else {
        panic!("expected unapplied")
    };
    assert_eq!(
        (u.account_code.as_str(), u.amount, u.status.as_str()),
        ("NOPE", 700, "open")
    );
    assert!(u.reason.contains("not_found"));
    assert!(db.post_payment(&req, NOW).unwrap().replayed);
    let mut refused = pay(o, open, "u2", 10, Currency::USD);
    refused.on_rejection = OnRejection::RecordUnapplied;
    let PostResult::Unapplied(u2) = db.post_payment(&refused, NOW).unwrap().result else {
        panic!("expected unapplied")
    };
    assert_eq!(u2.account_code, "ACC1");
    assert_eq!(db.unapplied_payments(Some(o)).unwrap().len(), 2);
}

fn va_numbers_unique_among_payable_bills(db: TestDb) {
    let o = org(&db, "ORG00001");
    db.add_va_prefix(o, "009902", NOW).unwrap();
    let mut new = NewBill {
        organization_id: o,
        account_id: 0,
        collection_id: None,
        invoice_number: Some("INV01/TRX000001".into()),
        ref1: String::new(),
        ref2: String::new(),
        name: "SPP Jan 22".into(),
        description: String::new(),
        currency: Currency::IDR,
        billed: 10_000_000,
        items: vec![],
        bill_date: date!(2025 - 09 - 01),
        due_date: None,
        valid_until: Some(NOW + time::Duration::days(1)),
        rule: PaymentRule::Exact,
        source: "test".into(),
        extra: "{}".into(),
        va_numbers: vec![("009902".into(), "1234567890".into())],
    };
    let acc = AccountInput {
        code: "1234567890".into(),
        ..Default::default()
    };
    let (_, b) = db.create_bill_for_account(&acc, &new, NOW).unwrap();
    assert_eq!(
        db.bills_by_va_number("0099021234567890").unwrap()[0].id,
        b.id
    );
    assert!(matches!(
        db.create_bill_for_account(&acc, &new, NOW),
        Err(StoreError::Conflict(_))
    ));
    new.va_numbers = vec![("111111".into(), "1234567890".into())];
    assert!(matches!(
        db.create_bill_for_account(&acc, &new, NOW),
        Err(StoreError::Invalid(_))
    ));
    // Once the first bill expires its number is free again.
    new.va_numbers = vec![("009902".into(), "1234567890".into())];
    let later = NOW + time::Duration::days(2);
    new.valid_until = Some(later + time::Duration::days(1));
    let (_, b2) = db.create_bill_for_account(&acc, &new, later).unwrap();
    assert_eq!(
        db.bills_by_va_number("0099021234567890").unwrap()[0].id,
        b2.id
    );
    // Voiding releases it too; a paid bill cannot be voided.
    db.void_bill(b2.id, "revoked", later).unwrap();
    assert!(!db.va_numbers_of_bill(b2.id).unwrap()[0].active);
    assert!(matches!(
        db.void_bill(b2.id, "again", later),
        Err(StoreError::Rejected(Rejection::Void))
    ));
    assert_eq!(db.expire_due_bills(later).unwrap(), 1);
    assert_eq!(db.bill(b.id).unwrap().status, BillStatus::Expired);
}

fn statement_entries(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b = bill(&db, o, "ACC1", Currency::KHR, 500_000, PaymentRule::Exact);
    let p = db
        .post_payment(
            &pay(
                o,
                PaymentTarget::Bill { bill_id: b.id },
                "s1",
                500_000,
                Currency::KHR,
            ),
            NOW,
        )
        .unwrap()
        .payment()
        .unwrap()
        .clone();
    let entries = db
        .ledger_entries(b.account_id, UtcOffset::from_hms(7, 0, 0).unwrap())
        .unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].amount, -500_000);
    assert_eq!(entries[1].reference, p.id);
    let s = billhub_core::statement::account_statement(&entries, date!(2025 - 01 - 01), 24);
    assert_eq!(s.lines[0].balance, 0);
    assert_eq!(s.lines[1].balance, 500_000);
}

/// After a bulk import the planner has fresh statistics on PostgreSQL (`ANALYZE` of the tables
/// an import fills; without them it planned a VA number's look-up on 1,000,000 bills as a
/// parallel scan); on SQLite it does nothing.
fn statistics_after_an_import(db: TestDb) {
    assert!(db.analyzed_tables().is_empty());
    db.store.analyze_imported().unwrap();
    let expected: &[&str] = match db.backend() {
        Backend::Postgres => &[
            "accounts",
            "bill_events",
            "bill_imports",
            "bills",
            "va_numbers",
        ],
        Backend::Sqlite => &[],
    };
    assert_eq!(db.analyzed_tables(), expected);
}

fn outbox_leases(db: TestDb) {
    let o = org(&db, "ORG00001");
    db.set_setting(o, "va.webhook_url", "http://127.0.0.1:9/hook", NOW)
        .unwrap();
    let b = bill(&db, o, "ACC1", Currency::USD, 100, PaymentRule::Exact);
    db.post_payment(
        &pay(
            o,
            PaymentTarget::Bill { bill_id: b.id },
            "n1",
            100,
            Currency::USD,
        ),
        NOW,
    )
    .unwrap();
    let lease = time::Duration::seconds(60);
    let first = db.claim_deliveries("va", NOW, lease, 10).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].event.kind, "payment.received");
    assert_eq!(first[0].target_url, "http://127.0.0.1:9/hook");
    assert!(
        db.claim_deliveries("collections", NOW, lease, 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        db.claim_deliveries("va", NOW, lease, 10)
            .unwrap()
            .is_empty(),
        "leased"
    );
    // The lease runs out: another worker takes it; the first worker's result is then refused.
    let later = NOW + time::Duration::seconds(61);
    let second = db.claim_deliveries("va", later, lease, 10).unwrap();
    assert_eq!(second.len(), 1);
    assert!(
        !db.finish_delivery(
            &first[0],
            later,
            &DeliveryOutcome::Delivered { status: Some(200) }
        )
        .unwrap()
    );
    let retry_at = later + time::Duration::minutes(1);
    assert!(
        db.finish_delivery(
            &second[0],
            later,
            &DeliveryOutcome::Retry {
                next_attempt_at: retry_at,
                error: "503".into(),
                status: Some(503)
            }
        )
        .unwrap()
    );
    assert!(
        db.claim_deliveries("va", later, lease, 10)
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    let third = db.claim_deliveries("va", retry_at, lease, 10).unwrap();
    assert_eq!(third[0].attempts, 1);
    assert!(
        db.finish_delivery(
            &third[0],
            retry_at,
            &DeliveryOutcome::Delivered { status: Some(200) }
        )
        .unwrap()
    );
    let rec = db.deliveries_for_organization(o).unwrap();
    assert_eq!((rec[0].status.as_str(), rec[0].attempts), ("delivered", 2));
}

fn unapplied_money_is_applied_or_refunded_once(db: TestDb) {
    let o = org(&db, "ORG00001");
    let taken = |reference: &str, code: &str| {
        let mut r = pay(
            o,
            PaymentTarget::Unknown {
                account_code: code.into(),
            },
            reference,
            1050,
            Currency::USD,
        );
        r.on_rejection = OnRejection::RecordUnapplied;
        r
    };
    let PostResult::Unapplied(u) = db
        .post_payment(&taken("b24-1", "LATE1"), NOW)
        .unwrap()
        .result
    else {
        panic!("unapplied")
    };
    // The payer's bill shows up later; an operator applies the money to it.
    let b = bill(&db, o, "LATE1", Currency::USD, 1000, PaymentRule::Exact);
    let wrong = Resolution::Applied {
        target: PaymentTarget::Bill { bill_id: b.id },
    };
    assert!(matches!(
        db.resolve_unapplied(u.id, &wrong, NOW),
        Err(StoreError::Rejected(Rejection::MustEqualOutstanding {
            outstanding: 1000
        }))
    ));
    assert_eq!(
        db.unapplied_payments(Some(o)).unwrap()[0].status,
        "open",
        "a refusal leaves it open"
    );
    let open = Resolution::Applied {
        target: PaymentTarget::Account {
            account_id: b.account_id,
            mode: Some(SettlementMode::Open),
            chosen: None,
        },
    };
    let (row, payment) = db.resolve_unapplied(u.id, &open, NOW).unwrap();
    let payment = payment.unwrap();
    assert_eq!(
        (row.status.as_str(), payment.amount, payment.credit),
        ("applied", 1050, 50)
    );
    assert_eq!(
        (payment.channel.as_str(), payment.channel_ref.as_str()),
        ("test", "b24-1")
    );
    assert_eq!(db.bill(b.id).unwrap().status, BillStatus::Paid);
    assert!(row.details.contains(&payment.uid));
    // The channel repeats its notification: the applied payment answers, nothing is posted again.
    let again = db.post_payment(&taken("b24-1", "LATE1"), NOW).unwrap();
    assert!(again.replayed);
    assert_eq!(again.payment().unwrap().id, payment.id);
    assert!(matches!(
        db.resolve_unapplied(u.id, &open, NOW),
        Err(StoreError::Conflict(_))
    ));

    // Refunded money stays unapplied for repeats, and is never applied later.
    let PostResult::Unapplied(u2) = db
        .post_payment(&taken("b24-2", "GONE"), NOW)
        .unwrap()
        .result
    else {
        panic!("unapplied")
    };
    assert!(matches!(
        db.resolve_unapplied(u2.id, &Resolution::Refunded { note: " ".into() }, NOW),
        Err(StoreError::Invalid(_))
    ));
    let (row, none) = db
        .resolve_unapplied(
            u2.id,
            &Resolution::Refunded {
                note: "returned by bank transfer FT123".into(),
            },
            NOW,
        )
        .unwrap();
    assert!(none.is_none());
    assert_eq!(row.status, "refunded");
    assert!(row.details.contains("FT123"));
    let repeat = db.post_payment(&taken("b24-2", "GONE"), NOW).unwrap();
    assert!(repeat.replayed && repeat.payment().is_none());
    assert!(matches!(
        db.resolve_unapplied(u2.id, &open, NOW),
        Err(StoreError::Conflict(ConflictKind::AlreadyResolved { .. }))
    ));
    assert!(matches!(
        db.resolve_unapplied(999_999, &open, NOW),
        Err(StoreError::NotFound {
            entity: Entity::UnappliedPayment,
            ..
        })
    ));
}

fn account_credit_is_applied_or_refunded_by_an_operator(db: TestDb) {
    let o = org(&db, "ORG00001");
    let first = bill(&db, o, "ACC1", Currency::USD, 1000, PaymentRule::Open);
    db.post_payment(
        &pay(
            o,
            PaymentTarget::Bill { bill_id: first.id },
            "over",
            1500,
            Currency::USD,
        ),
        NOW,
    )
    .unwrap();
    let account = first.account_id;
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), 500);
    assert_eq!(db.credit_balances(o).unwrap()[0].balance, 500);
    let second = bill(&db, o, "ACC1", Currency::USD, 300, PaymentRule::Exact);
    let usd = |m| Money::from_minor(m, Currency::USD);
    let to_second = PaymentTarget::Bill { bill_id: second.id };
    assert!(matches!(
        db.apply_credit(account, usd(600), &to_second, "op-1", NOW),
        Err(StoreError::Rejected(Rejection::MustEqualOutstanding {
            outstanding: 300
        }))
    ));
    let p = db
        .apply_credit(account, usd(300), &to_second, "op-1", NOW)
        .unwrap();
    assert_eq!((p.channel.as_str(), p.amount, p.credit), ("credit", 300, 0));
    assert_eq!(db.bill(second.id).unwrap().status, BillStatus::Paid);
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), 200);
    // The same operation again is answered, not spent twice.
    assert_eq!(
        db.apply_credit(account, usd(300), &to_second, "op-1", NOW)
            .unwrap()
            .id,
        p.id
    );
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), 200);
    // More than the credit is refused; so is another account's bill.
    let third = bill(&db, o, "ACC1", Currency::USD, 900, PaymentRule::Exact);
    assert!(matches!(
        db.apply_credit(
            account,
            usd(900),
            &PaymentTarget::Bill { bill_id: third.id },
            "op-2",
            NOW
        ),
        Err(StoreError::Rejected(Rejection::InsufficientCredit {
            available: 200
        }))
    ));
    let stranger = bill(&db, o, "ACC2", Currency::USD, 100, PaymentRule::Exact);
    assert!(matches!(
        db.apply_credit(
            account,
            usd(100),
            &PaymentTarget::Bill {
                bill_id: stranger.id
            },
            "op-3",
            NOW
        ),
        Err(StoreError::Invalid(InvalidKind::TargetOfAnotherAccount))
    ));
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), 200);
    // The statement counts the overpayment once: applying credit is not new money.
    let entries = db.ledger_entries(account, UtcOffset::UTC).unwrap();
    let s = billhub_core::statement::account_statement(&entries, date!(2020 - 01 - 01), 100);
    assert_eq!(s.lines[0].balance, 1000 + 300 + 900 - 1500);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.kind == billhub_core::statement::EntryKind::Payment)
            .count(),
        1
    );
    // Refunds need a note and cannot exceed the credit.
    assert!(matches!(
        db.refund_credit(account, usd(50), " ", NOW),
        Err(StoreError::Invalid(InvalidKind::MissingNote))
    ));
    assert!(matches!(
        db.refund_credit(account, usd(201), "FT1", NOW),
        Err(StoreError::Rejected(Rejection::InsufficientCredit {
            available: 200
        }))
    ));
    assert_eq!(db.refund_credit(account, usd(200), "FT1", NOW).unwrap(), 0);
    assert!(db.credit_balances(o).unwrap().is_empty());
}

/// Two operators spend the same credit at once: it is never overdrawn.
fn concurrent_credit_spending_never_overdraws(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b = bill(&db, o, "ACC1", Currency::USD, 100, PaymentRule::Open);
    db.post_payment(
        &pay(
            o,
            PaymentTarget::Bill { bill_id: b.id },
            "over",
            1100,
            Currency::USD,
        ),
        NOW,
    )
    .unwrap();
    let account = b.account_id;
    let targets: Vec<i64> = (0..8)
        .map(|_| bill(&db, o, "ACC1", Currency::USD, 400, PaymentRule::Exact).id)
        .collect();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = targets
        .into_iter()
        .enumerate()
        .map(|(i, bill_id)| {
            let (store, barrier) = (db.store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.apply_credit(
                    account,
                    Money::from_minor(400, Currency::USD),
                    &PaymentTarget::Bill { bill_id },
                    &format!("op{i}"),
                    NOW,
                )
            })
        })
        .collect();
    let ok = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|r| r.is_ok())
        .count();
    assert_eq!(ok, 2, "1000 of credit pays two bills of 400");
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), 200);
}

/// 32 threads pay the same exact bill with different references: exactly one succeeds.
fn concurrent_payments_of_one_exact_bill(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b = bill(&db, o, "ACC1", Currency::USD, 999, PaymentRule::Exact);
    let barrier = Arc::new(Barrier::new(32));
    let store = db.store.clone();
    let handles: Vec<_> = (0..32)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.post_payment(
                    &pay(
                        o,
                        PaymentTarget::Bill { bill_id: b.id },
                        &format!("c{i}"),
                        999,
                        Currency::USD,
                    ),
                    NOW,
                )
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    for r in results.into_iter().filter(|r| r.is_err()) {
        assert_eq!(rejected(r), Rejection::AlreadyPaid);
    }
    let after = db.bill(b.id).unwrap();
    assert_eq!((after.paid, after.status), (999, BillStatus::Paid));
    assert_eq!(db.payments_of_bill(b.id).unwrap().len(), 1);
}

/// 32 threads send the same reference: one payment exists and all get its result.
fn concurrent_replays_of_one_reference(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b = bill(&db, o, "ACC1", Currency::USD, 999, PaymentRule::Exact);
    let barrier = Arc::new(Barrier::new(32));
    let handles: Vec<_> = (0..32)
        .map(|_| {
            let (store, barrier) = (db.store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.post_payment(
                    &pay(
                        o,
                        PaymentTarget::Bill { bill_id: b.id },
                        "same-ref",
                        999,
                        Currency::USD,
                    ),
                    NOW,
                )
            })
        })
        .collect();
    let outcomes: Vec<PaymentOutcome> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    let ids: std::collections::BTreeSet<i64> =
        outcomes.iter().map(|o| o.payment().unwrap().id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1);
    assert_eq!(db.payments_of_bill(b.id).unwrap().len(), 1);
    assert_eq!(db.bill(b.id).unwrap().paid, 999);
}

/// An open account payment over several bills races single-bill payments: money is conserved
/// and no bill is paid past its amount.
fn open_account_payment_races_single_bill_payment(db: TestDb) {
    let o = org(&db, "ORG00001");
    let bills: Vec<_> = (0..4)
        .map(|_| bill(&db, o, "ACC1", Currency::USD, 250, PaymentRule::Exact))
        .collect();
    let account = bills[0].account_id;
    for round in 0..4 {
        let barrier = Arc::new(Barrier::new(2));
        let (s1, s2, b1, b2) = (db.store.clone(), db.store.clone(), barrier.clone(), barrier);
        let target_bill = bills[3 - round].id;
        let h1 = std::thread::spawn(move || {
            b1.wait();
            s1.post_payment(
                &pay(
                    o,
                    PaymentTarget::Account {
                        account_id: account,
                        mode: Some(SettlementMode::Open),
                        chosen: None,
                    },
                    &format!("acc{round}"),
                    400,
                    Currency::USD,
                ),
                NOW,
            )
        });
        let h2 = std::thread::spawn(move || {
            b2.wait();
            s2.post_payment(
                &pay(
                    o,
                    PaymentTarget::Bill {
                        bill_id: target_bill,
                    },
                    &format!("one{round}"),
                    250,
                    Currency::USD,
                ),
                NOW,
            )
        });
        let _ = h1.join().unwrap();
        let _ = h2.join().unwrap();
    }
    let mut billed_paid = 0;
    for b in &bills {
        let now = db.bill(b.id).unwrap();
        assert!(now.paid <= now.billed);
        let allocated: i64 = db
            .payments_of_bill(b.id)
            .unwrap()
            .iter()
            .flat_map(|p| {
                p.allocations
                    .iter()
                    .filter(|a| a.bill_id == b.id)
                    .map(|a| a.amount)
                    .collect::<Vec<_>>()
            })
            .sum();
        assert_eq!(
            allocated, now.paid,
            "bill {} paid matches its allocations",
            b.id
        );
        billed_paid += now.paid;
    }
    let payments = db.payments_of_account(account).unwrap();
    let taken: i64 = payments.iter().map(|p| p.amount).sum();
    let credit: i64 = payments.iter().map(|p| p.credit).sum();
    assert_eq!(taken, billed_paid + credit, "money in = applied + credit");
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), credit);
    for p in &payments {
        assert_eq!(
            p.allocations.iter().map(|a| a.amount).sum::<i64>() + p.credit,
            p.amount
        );
    }
}

/// Two stores (two pools, like two processes) on the same database.
fn two_pools_share_the_database(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b = bill(&db, o, "ACC1", Currency::USD, 500, PaymentRule::Exact);
    let other = db.second_store();
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let store = if i % 2 == 0 {
                db.store.clone()
            } else {
                other.clone()
            };
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                store.post_payment(
                    &pay(
                        o,
                        PaymentTarget::Bill { bill_id: b.id },
                        &format!("two{i}"),
                        500,
                        Currency::USD,
                    ),
                    NOW,
                )
            })
        })
        .collect();
    let ok = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|r| r.is_ok())
        .count();
    assert_eq!(ok, 1);
}

/// Work that panics inside a write transaction never hands its connection back to the pool
/// mid-transaction: nothing it wrote commits, and later work on the same pool is unaffected
/// (on SQLite a connection kept inside `BEGIN IMMEDIATE` would hold the write lock for good).
fn panicked_work_never_returns_its_connection(db: TestDb) {
    let o = org(&db, "ORG00001");
    let open_before = db.pool_state().0;
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: StoreResult<()> = db.transaction(|w| {
            w.set_setting(o, "name", "Half written", NOW)?;
            panic!("a bug in a flow");
        });
    }));
    assert!(panicked.is_err());
    // On SQLite writes run on the group committer's writer, never a pooled connection: the
    // panicking member's savepoint is rolled back (tests/group_commit.rs) and the pool is as before.
    let expected_open = match db.backend() {
        Backend::Postgres => open_before - 1,
        Backend::Sqlite => open_before,
    };
    assert_eq!(
        db.pool_state().0,
        expected_open,
        "the connection that panicked mid-transaction was dropped, not pooled"
    );
    assert_eq!(
        db.organization(o).unwrap().name,
        "Org ORG00001",
        "nothing committed"
    );
    for i in 0..20 {
        db.set_setting(o, "name", &format!("Name {i}"), NOW)
            .unwrap();
    }
    assert_eq!(db.organization(o).unwrap().name, "Name 19");
}

/// A snapshot sees one state of the database: a payment committed by another process between
/// two of its reads is not seen by the second.
fn reads_are_one_snapshot(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b = bill(
        &db,
        o,
        "ACC1",
        Currency::USD,
        1000,
        PaymentRule::Partial { minimum: None },
    );
    let other = db.second_store();
    let (first, second) = db
        .snapshot(|r| {
            let first = r.bill(b.id)?.paid;
            other.post_payment(
                &pay(
                    o,
                    PaymentTarget::Bill { bill_id: b.id },
                    "p1",
                    400,
                    Currency::USD,
                ),
                NOW,
            )?;
            let second = r.bill(b.id)?.paid;
            Ok::<_, StoreError>((first, second))
        })
        .unwrap();
    assert_eq!((first, second), (0, 0));
    assert_eq!(
        db.bill(b.id).unwrap().paid,
        400,
        "committed, seen by the next snapshot"
    );
}

/// Every snapshot and transaction is counted once; a flow that needs three reads makes one.
fn transactions_are_counted(db: TestDb) {
    let o = org(&db, "ORG00001");
    let before = db.transactions_started();
    db.snapshot(|r| {
        r.organization(o)?;
        r.settings(o)?;
        r.va_prefixes(o)
    })
    .unwrap();
    assert_eq!(db.transactions_started() - before, 1);
    db.organization(o).unwrap();
    assert_eq!(db.transactions_started() - before, 2);
}

/// Authentication and settings come from the cache for 5 s (on the caller's clock) and cost no
/// transaction then; a revocation or a setting made by another process shows within 5 s.
fn cache_serves_five_seconds_then_sees_changes(db: TestDb) {
    let o = org(&db, "ORG00001");
    let created = db.create_credential(o, "bill24", false, NOW).unwrap();
    let token = created.token.unwrap();
    let t0 = NOW;
    assert!(db.cached_token("bill24", &token, t0).unwrap().is_some());
    assert_eq!(
        db.cached_organization(o, t0).unwrap().settings.settlement,
        SettlementMode::Open
    );
    let warm = db.transactions_started();
    let later = t0 + time::Duration::milliseconds(4_900);
    assert!(db.cached_token("bill24", &token, later).unwrap().is_some());
    db.cached_organization(o, later).unwrap();
    assert_eq!(
        db.transactions_started(),
        warm,
        "a warm cache costs no transaction"
    );

    let other = db.second_store();
    other.revoke_credential(created.id, NOW).unwrap();
    other.set_setting(o, "settlement", "total", NOW).unwrap();
    assert!(
        db.cached_token("bill24", &token, later).unwrap().is_some(),
        "served from the cache within 5 s"
    );
    let after = t0 + time::Duration::seconds(5);
    assert!(
        db.cached_token("bill24", &token, after).unwrap().is_none(),
        "revoked after 5 s"
    );
    assert_eq!(
        db.cached_organization(o, after)
            .unwrap()
            .settings
            .settlement,
        SettlementMode::Total
    );
    assert!(
        db.cached_token("bill24", "never-issued", after)
            .unwrap()
            .is_none()
    );
}

/// PostgreSQL restarted (here: every connection of the database terminated by the server):
/// the next request succeeds on a checked connection; the pool heals without a restart.
#[test]
fn a_dead_connection_costs_no_request() {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let db = TestDb::postgres();
    let o = org(&db, "ORG00001");
    // Three connections in the pool, idle.
    let barrier = Arc::new(Barrier::new(3));
    std::thread::scope(|s| {
        for _ in 0..3 {
            let barrier = barrier.clone();
            let db = &db;
            s.spawn(move || {
                db.snapshot(|r| {
                    barrier.wait();
                    r.organization(o)
                })
                .unwrap();
            });
        }
    });
    assert_eq!(db.pool_state(), (3, 3));
    let name = db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let admin_url = std::env::var("BILLHUB_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| billhub_store::testing::DEFAULT_TEST_POSTGRES_URL.into());
    let mut admin = diesel::PgConnection::establish(&admin_url).unwrap();
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .unwrap();
    // Every pooled connection is dead now; each request still succeeds.
    assert_eq!(db.organization(o).unwrap().id, o);
    db.set_setting(o, "settlement", "total", NOW).unwrap();
    assert_eq!(db.settings(o).unwrap().settlement, SettlementMode::Total);
}

fn reversal_of(o: i64, payment_id: i64, reference: &str) -> ReversalRequest {
    ReversalRequest {
        organization_id: o,
        payment_id,
        channel: "test".into(),
        channel_ref: reference.into(),
        request_hash: fingerprint(&["rev", reference]),
        reason: "test".into(),
        requester: billhub_core::reversal::Requester::Channel,
        claimed: billhub_core::reversal::Claimed::Nothing,
        window: None,
    }
}

/// Issue 10, defect 1: a reversal must not take back credit that has since been applied or
/// refunded (the account would go negative); it is refused with `CreditAlreadyUsed`. Reversing
/// the payment that spent the credit gives the credit back.
fn reversal_never_overdraws_credit(db: TestDb) {
    let o = org(&db, "ORG00001");
    let first = bill(&db, o, "ACC1", Currency::USD, 1000, PaymentRule::Open);
    let over = db
        .post_payment(
            &pay(
                o,
                PaymentTarget::Bill { bill_id: first.id },
                "over",
                1500,
                Currency::USD,
            ),
            NOW,
        )
        .unwrap()
        .payment()
        .unwrap()
        .clone();
    let account = first.account_id;
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), 500);
    let second = bill(&db, o, "ACC1", Currency::USD, 500, PaymentRule::Exact);
    let spent = db
        .apply_credit(
            account,
            Money::from_minor(500, Currency::USD),
            &PaymentTarget::Bill { bill_id: second.id },
            "op-1",
            NOW,
        )
        .unwrap();
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), 0);
    assert!(matches!(
        db.reverse_payment(&reversal_of(o, over.id, "r1"), NOW),
        Err(StoreError::Rejected(Rejection::CreditAlreadyUsed))
    ));
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), 0);
    assert_eq!(db.bill(first.id).unwrap().status, BillStatus::Paid);
    // Undo the credit's use first: the credit comes back, then the overpayment can go.
    db.reverse_payment(&reversal_of(o, spent.id, "r2"), NOW)
        .unwrap();
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), 500);
    assert_eq!(db.bill(second.id).unwrap().status, BillStatus::Active);
    db.reverse_payment(&reversal_of(o, over.id, "r3"), NOW)
        .unwrap();
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), 0);
    assert_eq!(db.bill(first.id).unwrap().paid, 0);
}

/// Issue 10, defect 12: an overpayment whose credit would take the account's balance past
/// `i64` minor units is refused before anything is written (the balance stays readable).
fn credit_that_does_not_fit_is_refused(db: TestDb) {
    let o = org(&db, "ORG00001");
    let first = bill(&db, o, "ACC1", Currency::USD, 1000, PaymentRule::Open);
    let target = |b: &billhub_core::Bill| PaymentTarget::Bill { bill_id: b.id };
    db.post_payment(
        &pay(o, target(&first), "huge", i64::MAX, Currency::USD),
        NOW,
    )
    .unwrap();
    let account = first.account_id;
    assert_eq!(
        db.account_credit(account, Currency::USD).unwrap(),
        i64::MAX - 1000
    );
    let second = bill(&db, o, "ACC1", Currency::USD, 1000, PaymentRule::Open);
    assert_eq!(
        rejected(db.post_payment(&pay(o, target(&second), "over", 2001, Currency::USD), NOW)),
        Rejection::TooLarge
    );
    assert_eq!(db.bill(second.id).unwrap().paid, 0);
    assert_eq!(
        db.account_credit(account, Currency::USD).unwrap(),
        i64::MAX - 1000
    );
    // Exactly up to the limit still fits.
    db.post_payment(&pay(o, target(&second), "fits", 2000, Currency::USD), NOW)
        .unwrap();
    assert_eq!(db.account_credit(account, Currency::USD).unwrap(), i64::MAX);
}

/// The reversal and a credit application race for the same credit (two pools, as two
/// processes): exactly one wins, the account never goes negative.
fn reversal_races_credit_application(db: TestDb) {
    let o = org(&db, "ORG00001");
    for round in 0..6 {
        let account_code = format!("ACC{round}");
        let first = bill(
            &db,
            o,
            &account_code,
            Currency::USD,
            1000,
            PaymentRule::Open,
        );
        let over = db
            .post_payment(
                &pay(
                    o,
                    PaymentTarget::Bill { bill_id: first.id },
                    &format!("over-{round}"),
                    1500,
                    Currency::USD,
                ),
                NOW,
            )
            .unwrap()
            .payment()
            .unwrap()
            .clone();
        let account = first.account_id;
        let second = bill(
            &db,
            o,
            &account_code,
            Currency::USD,
            500,
            PaymentRule::Exact,
        );
        let other = db.second_store();
        let barrier = Arc::new(Barrier::new(2));
        let (reversed, applied) = std::thread::scope(|s| {
            let b1 = barrier.clone();
            let db = &db;
            let reverse = s.spawn(move || {
                b1.wait();
                db.reverse_payment(&reversal_of(o, over.id, &format!("r-{round}")), NOW)
            });
            let b2 = barrier.clone();
            let other = &other;
            let second = &second;
            let apply = s.spawn(move || {
                b2.wait();
                other.apply_credit(
                    account,
                    Money::from_minor(500, Currency::USD),
                    &PaymentTarget::Bill { bill_id: second.id },
                    &format!("op-{round}"),
                    NOW,
                )
            });
            (reverse.join().unwrap(), apply.join().unwrap())
        });
        assert!(
            reversed.is_ok() != applied.is_ok(),
            "exactly one wins: {reversed:?} / {applied:?}"
        );
        let left = db.account_credit(account, Currency::USD).unwrap();
        assert_eq!(
            left, 0,
            "round {round}: the credit is spent once, never overdrawn"
        );
    }
}

/// A store after payments (exact, partial, open with credit), a reversal, credit applied and
/// refunded, and unapplied money: `check_invariants` finds no violation, and reports the open
/// unapplied money as work to do.
fn check_clean_store_has_no_violations(db: TestDb) {
    let o = org(&db, "ORG00001");
    let exact = bill(&db, o, "ACC1", Currency::USD, 1000, PaymentRule::Exact);
    let open = bill(&db, o, "ACC1", Currency::USD, 1000, PaymentRule::Open);
    let partial = bill(
        &db,
        o,
        "ACC2",
        Currency::KHR,
        9000,
        PaymentRule::Partial { minimum: None },
    );
    let paid = db
        .post_payment(
            &pay(
                o,
                PaymentTarget::Bill { bill_id: exact.id },
                "c1",
                1000,
                Currency::USD,
            ),
            NOW,
        )
        .unwrap();
    db.post_payment(
        &pay(
            o,
            PaymentTarget::Bill { bill_id: open.id },
            "c2",
            1500,
            Currency::USD,
        ),
        NOW,
    )
    .unwrap();
    db.post_payment(
        &pay(
            o,
            PaymentTarget::Bill {
                bill_id: partial.id,
            },
            "c3",
            4000,
            Currency::KHR,
        ),
        NOW,
    )
    .unwrap();
    db.reverse_payment(&reversal_of(o, paid.payment().unwrap().id, "rev-1"), NOW)
        .unwrap();
    let next = bill(&db, o, "ACC1", Currency::USD, 300, PaymentRule::Exact);
    db.apply_credit(
        open.account_id,
        Money::from_minor(300, Currency::USD),
        &PaymentTarget::Bill { bill_id: next.id },
        "op-1",
        NOW,
    )
    .unwrap();
    db.refund_credit(
        open.account_id,
        Money::from_minor(150, Currency::USD),
        "cash",
        NOW,
    )
    .unwrap();
    let mut lost = pay(
        o,
        PaymentTarget::Unknown {
            account_code: "NOPE".into(),
        },
        "u1",
        700,
        Currency::USD,
    );
    lost.on_rejection = OnRejection::RecordUnapplied;
    db.post_payment(&lost, NOW).unwrap();
    let report = db.check_invariants(NOW).unwrap();
    assert_eq!(report.violations, vec![], "a clean store");
    assert!(report.is_clean());
    assert_eq!(
        report.open_unapplied,
        vec![OpenUnapplied {
            currency: "USD".into(),
            count: 1,
            total: 700
        }]
    );
    assert_eq!(report.nul_searched, db.backend() == Backend::Sqlite);
    assert_eq!(report.resolved_duplicates, Vec::<i64>::new());
    // Checked 23 hours before the rows were written: dates up to a day ahead are plausible.
    assert!(
        db.check_invariants(NOW - time::Duration::hours(23))
            .unwrap()
            .is_clean()
    );
}

/// Every kind of violation, planted with raw SQL, is found and names its organization and row;
/// rows not touched are not named.
fn check_finds_each_planted_violation(db: TestDb) {
    let o = org(&db, "ORG00001");
    let other = org(&db, "ORG00002");
    let mismatch = bill(
        &db,
        o,
        "ACC1",
        Currency::USD,
        1000,
        PaymentRule::Partial { minimum: None },
    );
    let status = bill(&db, o, "ACC1", Currency::USD, 1000, PaymentRule::Exact);
    let voided = bill(
        &db,
        o,
        "ACC2",
        Currency::USD,
        1000,
        PaymentRule::Partial { minimum: None },
    );
    let dated = bill(&db, other, "ACC9", Currency::USD, 500, PaymentRule::Exact);
    let clean = bill(&db, o, "ACC3", Currency::USD, 500, PaymentRule::Exact);
    let post = |org_id, bill_id, reference: &str, minor| {
        db.post_payment(
            &pay(
                org_id,
                PaymentTarget::Bill { bill_id },
                reference,
                minor,
                Currency::USD,
            ),
            NOW,
        )
        .unwrap()
        .payment()
        .unwrap()
        .clone()
    };
    post(o, mismatch.id, "p1", 400);
    let on_void = post(o, voided.id, "p2", 300);
    let amount = post(o, clean.id, "p3", 500);
    let late = post(other, dated.id, "p4", 500);
    db.reverse_payment(&reversal_of(other, late.id, "rev-late"), NOW)
        .unwrap();
    let account = clean.account_id;
    let sqlite = db.backend() == Backend::Sqlite;
    db.raw_sql(&format!(
        "UPDATE bills SET paid = paid + 1 WHERE id = {m};
         UPDATE bills SET status = 'paid' WHERE id = {s};
         UPDATE bills SET status = 'void' WHERE id = {v};
         UPDATE payments SET amount = amount + 5 WHERE id = {a};
         INSERT INTO account_credit_entries (organization_id, account_id, currency, amount, kind, note, created_at)
             VALUES ({o}, {account}, 'USD', -250, 'refunded', 'planted', '2025-09-01 10:00:00');
         INSERT INTO unapplied_payments (organization_id, channel, channel_ref, request_hash, account_code, currency, amount, reason, details, status, created_at)
             VALUES ({o}, 'test', 'p2', 'x', 'ACC2', 'USD', 300, 'planted', '{{}}', 'open', '2025-09-01 10:00:00');
         UPDATE payments SET paid_at = '1999-12-31 23:59:59' WHERE id = {late};
         UPDATE reversals SET created_at = '2025-09-02 10:00:01' WHERE payment_id = {late};
         UPDATE bills SET created_at = '9999-12-31 23:59:59' WHERE id = {d};",
        m = mismatch.id,
        s = status.id,
        v = voided.id,
        a = amount.id,
        late = late.id,
        d = dated.id,
    ));
    if sqlite {
        db.raw_sql("UPDATE accounts SET name = 'Pay' || char(0) || 'er' WHERE code = 'ACC3';");
    }
    let report = db.check_invariants(NOW).unwrap();
    let found: Vec<(ViolationKind, &str, &str, String)> = report
        .violations
        .iter()
        .map(|v| (v.kind, v.organization.as_str(), v.row, v.key.clone()))
        .collect();
    let reversal_id = db
        .payment(late.id)
        .unwrap()
        .reversed
        .unwrap()
        .id
        .to_string();
    let mut expected = vec![
        (
            ViolationKind::BillPaidMismatch,
            "ORG00001",
            "bill",
            mismatch.public_no.clone(),
        ),
        (
            ViolationKind::BillStatusMismatch,
            "ORG00001",
            "bill",
            status.public_no.clone(),
        ),
        (
            ViolationKind::PaymentOnVoidBill,
            "ORG00001",
            "bill",
            voided.public_no.clone(),
        ),
        (
            ViolationKind::PaymentAmountMismatch,
            "ORG00001",
            "payment",
            amount.uid.clone(),
        ),
        (
            ViolationKind::NegativeCredit,
            "ORG00001",
            "account",
            "ACC3".to_string(),
        ),
        (
            ViolationKind::ReferencePostedAndUnapplied,
            "ORG00001",
            "unapplied",
            String::new(),
        ),
        (
            ViolationKind::DateOutOfRange,
            "ORG00002",
            "bill",
            dated.public_no.clone(),
        ),
        (
            ViolationKind::DateOutOfRange,
            "ORG00002",
            "payment",
            late.uid.clone(),
        ),
        (
            ViolationKind::DateOutOfRange,
            "ORG00002",
            "reversal",
            reversal_id,
        ),
    ];
    if sqlite {
        expected.push((
            ViolationKind::TextWithNul,
            "ORG00001",
            "account",
            "ACC3".to_string(),
        ));
    }
    // The unapplied row's id is the store's: take it from the listing.
    let twin = db
        .unapplied_payments(Some(o))
        .unwrap()
        .into_iter()
        .find(|u| u.channel_ref == "p2")
        .unwrap();
    for e in &mut expected {
        if e.0 == ViolationKind::ReferencePostedAndUnapplied {
            e.3 = twin.id.to_string();
        }
    }
    expected.sort();
    let mut found_sorted = found.clone();
    found_sorted.sort();
    assert_eq!(found_sorted, expected);
    assert!(!report.is_clean());
    let detail = |kind| {
        report
            .violations
            .iter()
            .find(|v| v.kind == kind)
            .unwrap()
            .detail
            .clone()
    };
    assert_eq!(
        detail(ViolationKind::BillPaidMismatch),
        "paid 401, unreversed allocations 400"
    );
    assert_eq!(
        detail(ViolationKind::BillStatusMismatch),
        "status paid with billed 1000, paid 0"
    );
    assert_eq!(
        detail(ViolationKind::PaymentOnVoidBill),
        format!("void with 300 unreversed by payment(s) {}", on_void.uid)
    );
    assert_eq!(
        detail(ViolationKind::PaymentAmountMismatch),
        "amount 505, allocations 500, credit 0"
    );
    assert_eq!(detail(ViolationKind::NegativeCredit), "credit -250 USD");
    assert_eq!(
        report.open_unapplied,
        vec![OpenUnapplied {
            currency: "USD".into(),
            count: 1,
            total: 300
        }]
    );
}

/// Defect 10: a store with a deadline ([`Store::until`]) begins no attempt after it (nothing
/// written, no transaction counted), lets an attempt that began before it commit, and does not
/// run a lost race again once it has passed.
fn deadline_bounds_every_attempt(db: TestDb) {
    use std::time::{Duration, Instant};
    let new = |code: &str| NewOrganization {
        code: Some(code.into()),
        name: format!("Org {code}"),
        utc_offset: UtcOffset::UTC,
        locale: "en".into(),
        settlement: None,
        va_prefixes: vec![],
    };

    // Passed: nothing begins.
    let before = db.transactions_started();
    let late = db.until(Instant::now());
    let err = late.create_organization(&new("LATE0001"), NOW).unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert_eq!(db.transactions_started(), before);
    assert!(db.organization_by_code("LATE0001").unwrap().is_none());

    // An attempt that began commits although the deadline passes during it.
    let deadline = Instant::now() + Duration::from_millis(50);
    let soon = db.until(deadline);
    let org = soon
        .transaction(|w| {
            let org = w.create_organization(&new("SLOW0001"), NOW)?;
            while Instant::now() <= deadline {
                std::thread::yield_now();
            }
            Ok::<_, StoreError>(org)
        })
        .unwrap();
    assert_eq!(
        db.organization_by_code("SLOW0001").unwrap().map(|o| o.id),
        Some(org.id)
    );

    // A race lost after the deadline is not run again.
    let deadline = Instant::now() + Duration::from_millis(50);
    let mut attempts = 0;
    let err = db
        .until(deadline)
        .transaction(|w| {
            attempts += 1;
            w.create_organization(&new("RACE0001"), NOW)?;
            while Instant::now() <= deadline {
                std::thread::yield_now();
            }
            Err::<(), _>(StoreError::RaceLost {
                entity: Entity::Organization,
                id: 0,
            })
        })
        .unwrap_err();
    assert_eq!(attempts, 1);
    assert!(err.is_unavailable(), "{err}");
    assert!(db.organization_by_code("RACE0001").unwrap().is_none());
    // Without a deadline the same store is unbounded as before.
    assert!(db.deadline().is_none());
    db.create_organization(&new("FREE0001"), NOW).unwrap();
}

/// A Bill24-style posting request of `minor` USD to `target` under `reference`.
fn bill24_pay(o: i64, target: PaymentTarget, reference: &str, minor: i64) -> PaymentRequest {
    let mut req = pay(o, target, reference, minor, Currency::USD);
    req.channel = "bill24".into();
    req.on_rejection = OnRejection::RecordUnapplied;
    req
}

/// The same reference, posted by one request and kept unapplied by another (other content),
/// raced from two stores: exactly one is recorded and the other is an inconsistent repeat,
/// never both (issue 10, defect 3: PostgreSQL recorded both in most rounds).
fn one_reference_is_posted_or_unapplied_never_both(db: TestDb) {
    let o = org(&db, "ORG00001");
    let other = db.second_store();
    for round in 0..24 {
        let b = bill(
            &db,
            o,
            &format!("ACC{round}"),
            Currency::USD,
            999,
            PaymentRule::Exact,
        );
        let reference = format!("T-{round}");
        let posted = bill24_pay(o, PaymentTarget::Bill { bill_id: b.id }, &reference, 999);
        // 500 on an exact bill of 999: refused by the rule, kept as unapplied money.
        let kept = bill24_pay(o, PaymentTarget::Bill { bill_id: b.id }, &reference, 500);
        let barrier = Barrier::new(2);
        let (a, u) = std::thread::scope(|s| {
            let a = s.spawn(|| {
                barrier.wait();
                db.post_payment(&posted, NOW)
            });
            let u = s.spawn(|| {
                barrier.wait();
                other.post_payment(&kept, NOW)
            });
            (a.join().unwrap(), u.join().unwrap())
        });
        let open: Vec<_> = db
            .unapplied_payments(Some(o))
            .unwrap()
            .into_iter()
            .filter(|un| un.channel_ref == reference)
            .collect();
        let payment = db.payment_by_channel_ref("bill24", &reference).unwrap();
        match (a, u) {
            (Ok(a), Err(StoreError::Rejected(Rejection::InconsistentReplay))) => {
                assert!(!a.replayed);
                assert_eq!(a.payment().unwrap().amount, 999);
                assert!(open.is_empty(), "round {round}: {open:?}");
                assert_eq!(db.bill(b.id).unwrap().paid, 999);
            }
            (Err(StoreError::Rejected(Rejection::InconsistentReplay)), Ok(u)) => {
                assert!(matches!(u.result, PostResult::Unapplied(_)), "{u:?}");
                assert!(payment.is_none(), "round {round}: {payment:?}");
                assert_eq!(open.len(), 1);
                assert_eq!((open[0].amount, open[0].status.as_str()), (500, "open"));
                assert_eq!(db.bill(b.id).unwrap().paid, 0);
            }
            (a, u) => panic!("round {round}: exactly one is recorded: {a:?} / {u:?}"),
        }
    }
}

/// Biller-side channels (Bill24, credit, the sandbox) name references per organization: the
/// same reference reaching two organizations is recorded for both, posted or unapplied, and a
/// repeat is answered with its own organization's result. A bank's or terminal network's
/// references stay its own across organizations (issue 10, defect 4).
fn biller_side_references_are_per_organization(db: TestDb) {
    let o1 = org(&db, "ORG00001");
    let o2 = org(&db, "ORG00002");
    for channel in ["bill24", "credit", "sandbox"] {
        let b1 = bill(&db, o1, "SAME", Currency::USD, 700, PaymentRule::Exact);
        let b2 = bill(&db, o2, "SAME", Currency::USD, 700, PaymentRule::Exact);
        let mut first = bill24_pay(o1, PaymentTarget::Bill { bill_id: b1.id }, "T-1", 700);
        first.channel = channel.into();
        first.channel_ref = format!("{channel}-T-1");
        let mut second = first.clone();
        second.organization_id = o2;
        second.target = PaymentTarget::Bill { bill_id: b2.id };
        let p1 = db.post_payment(&first, NOW).unwrap();
        let p2 = db.post_payment(&second, NOW).unwrap();
        assert!(!p1.replayed && !p2.replayed, "{channel}");
        let (p1, p2) = (p1.payment().unwrap().clone(), p2.payment().unwrap().clone());
        assert_ne!(p1.id, p2.id);
        assert_eq!((p1.organization_id, p2.organization_id), (o1, o2));
        assert_eq!(db.bill(b1.id).unwrap().paid, 700);
        assert_eq!(db.bill(b2.id).unwrap().paid, 700);
        // Each organization's repeat gets its own payment.
        let again = db.post_payment(&second, NOW).unwrap();
        assert!(again.replayed);
        assert_eq!(again.payment().unwrap().id, p2.id);
        let again = db.post_payment(&first, NOW).unwrap();
        assert_eq!(again.payment().unwrap().id, p1.id);
    }

    // Money for an account neither knows: kept as unapplied in both.
    let unknown = |o: i64| {
        bill24_pay(
            o,
            PaymentTarget::Unknown {
                account_code: "NOPE".into(),
            },
            "T-U",
            300,
        )
    };
    for o in [o1, o2] {
        let kept = db.post_payment(&unknown(o), NOW).unwrap();
        assert!(matches!(kept.result, PostResult::Unapplied(_)), "{kept:?}");
        assert!(!kept.replayed);
        let listed = db.unapplied_payments(Some(o)).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].channel_ref.as_str(), listed[0].organization_id),
            ("T-U", Some(o))
        );
    }
    // Applying one organization's unapplied money leaves the other's alone.
    let b1 = bill(&db, o1, "LATE", Currency::USD, 300, PaymentRule::Exact);
    let id1 = db.unapplied_payments(Some(o1)).unwrap()[0].id;
    let (_, applied) = db
        .resolve_unapplied(
            id1,
            &Resolution::Applied {
                target: PaymentTarget::Bill { bill_id: b1.id },
            },
            NOW,
        )
        .unwrap();
    assert_eq!(applied.unwrap().organization_id, o1);
    assert_eq!(db.unapplied_payments(Some(o2)).unwrap()[0].status, "open");
    let repeat = db.post_payment(&unknown(o1), NOW).unwrap();
    assert!(repeat.replayed && repeat.payment().is_some(), "{repeat:?}");
    let repeat = db.post_payment(&unknown(o2), NOW).unwrap();
    assert!(repeat.replayed && repeat.payment().is_none(), "{repeat:?}");

    // A bank's reference is its own: the same one for another organization is not a repeat of
    // the first organization's payment (even with the same fingerprint), and is refused.
    let b1 = bill(&db, o1, "BANK", Currency::USD, 400, PaymentRule::Exact);
    let b2 = bill(&db, o2, "BANK", Currency::USD, 400, PaymentRule::Exact);
    let mut bank = pay(
        o1,
        PaymentTarget::Bill { bill_id: b1.id },
        "B-1",
        400,
        Currency::USD,
    );
    bank.channel = "va:7".into();
    db.post_payment(&bank, NOW).unwrap();
    bank.organization_id = o2;
    bank.target = PaymentTarget::Bill { bill_id: b2.id };
    assert_eq!(
        rejected(db.post_payment(&bank, NOW)),
        Rejection::InconsistentReplay
    );
    assert_eq!(db.bill(b2.id).unwrap().paid, 0);
}

/// Runs `plant` (raw SQL) with the reference-keys migration reverted, then the migration again:
/// what an existing store holds when it upgrades.
fn upgrade_with(db: &TestDb, plant: &str) {
    use diesel::migration::MigrationSource;
    use diesel::{Connection, RunQueryDsl};
    use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
    const SQLITE: EmbeddedMigrations =
        diesel_migrations::embed_migrations!("../../migrations/sqlite");
    const PG: EmbeddedMigrations =
        diesel_migrations::embed_migrations!("../../migrations/postgres");
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        let mut c = diesel::SqliteConnection::establish(path).unwrap();
        diesel::sql_query("PRAGMA foreign_keys = ON")
            .execute(&mut c)
            .unwrap();
        let all = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE).unwrap();
        let m = all
            .iter()
            .find(|m| m.name().to_string().contains("reference_keys"))
            .unwrap();
        c.revert_migration(m.as_ref()).unwrap();
        diesel::sql_query(plant).execute(&mut c).unwrap();
        c.run_migration(m.as_ref()).unwrap();
    } else {
        let mut c = diesel::PgConnection::establish(&db.url).unwrap();
        let all = MigrationSource::<diesel::pg::Pg>::migrations(&PG).unwrap();
        let m = all
            .iter()
            .find(|m| m.name().to_string().contains("reference_keys"))
            .unwrap();
        c.revert_migration(m.as_ref()).unwrap();
        diesel::sql_query(plant).execute(&mut c).unwrap();
        c.run_migration(m.as_ref()).unwrap();
    }
}

/// A store that already holds one reference both posted and unapplied (defect 3's damage):
/// the migration keeps the payment and marks the unapplied twin resolved as a duplicate; the
/// reference then answers as the payment, and new references are keyed as usual.
fn upgrade_resolves_posted_and_unapplied_twins(db: TestDb) {
    let o = org(&db, "ORG00001");
    let b = bill(&db, o, "ACC1", Currency::USD, 999, PaymentRule::Exact);
    let posted = bill24_pay(o, PaymentTarget::Bill { bill_id: b.id }, "T-TWIN", 999);
    let payment = db
        .post_payment(&posted, NOW)
        .unwrap()
        .payment()
        .unwrap()
        .clone();
    let spare = bill24_pay(
        o,
        PaymentTarget::Unknown {
            account_code: "NOPE".into(),
        },
        "T-SPARE",
        500,
    );
    db.post_payment(&spare, NOW).unwrap();
    let kept = bill24_pay(
        o,
        PaymentTarget::Unknown {
            account_code: "NOPE".into(),
        },
        "T-KEPT",
        200,
    );
    db.post_payment(&kept, NOW).unwrap();
    upgrade_with(
        &db,
        "UPDATE unapplied_payments SET channel_ref = 'T-TWIN' WHERE channel_ref = 'T-SPARE'",
    );
    let store = db.second_store();
    let listed = store.unapplied_payments(Some(o)).unwrap();
    let status: Vec<(&str, &str)> = listed
        .iter()
        .map(|u| (u.channel_ref.as_str(), u.status.as_str()))
        .collect();
    assert_eq!(status, vec![("T-TWIN", "duplicate"), ("T-KEPT", "open")]);
    let again = store.post_payment(&posted, NOW).unwrap();
    assert!(again.replayed);
    assert_eq!(again.payment().unwrap().id, payment.id);
    assert_eq!(store.bill(b.id).unwrap().paid, 999);
    // The twin's content is no longer a repeat of anything but an inconsistent one.
    let mut twin = spare.clone();
    twin.channel_ref = "T-TWIN".into();
    assert_eq!(
        rejected(store.post_payment(&twin, NOW)),
        Rejection::InconsistentReplay
    );
    // An unapplied reference is keyed: its repeat answers as unapplied, other content is refused.
    let repeat = store.post_payment(&kept, NOW).unwrap();
    assert!(repeat.replayed && repeat.payment().is_none(), "{repeat:?}");
    let mut other = kept.clone();
    other.amount = Money::from_minor(201, Currency::USD);
    other.request_hash = fingerprint(&["201", "USD"]);
    assert_eq!(
        rejected(store.post_payment(&other, NOW)),
        Rejection::InconsistentReplay
    );
}

/// Issue 10, defect 6: the store's `void_bill` (the CLI's) refuses a bill with money on it until
/// its payments are reversed; a paid bill stays `AlreadyPaid`, an unpaid one voids.
fn void_bill_refused_while_money_is_on_it(db: TestDb) {
    let o = org(&db, "VOIDMONY");
    let b = bill(
        &db,
        o,
        "A1",
        Currency::USD,
        1000,
        PaymentRule::Partial { minimum: None },
    );
    let p = db
        .post_payment(
            &pay(
                o,
                PaymentTarget::Bill { bill_id: b.id },
                "V-1",
                400,
                Currency::USD,
            ),
            NOW,
        )
        .unwrap();
    assert!(p.payment().is_some());
    match db.void_bill(b.id, "revoked", NOW) {
        Err(StoreError::Rejected(r)) => assert_eq!(r, Rejection::MoneyOnBill { paid: 400 }),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let kept = db.bill(b.id).unwrap();
    assert_eq!((kept.status, kept.paid), (BillStatus::PartiallyPaid, 400));
    let unpaid = bill(&db, o, "A2", Currency::USD, 1000, PaymentRule::Exact);
    assert_eq!(
        db.void_bill(unpaid.id, "revoked", NOW).unwrap().status,
        BillStatus::Void
    );
}

/// An exact IDR bill of organization `o` on `account`, valid until an hour after `NOW`.
fn expiring_bill(db: &TestDb, o: i64, account: &str) -> billhub_core::Bill {
    let mut new = testing::bill_input(o, Currency::IDR, 100_000);
    new.due_date = None;
    new.valid_until = Some(NOW + time::Duration::hours(1));
    db.create_bill_for_account(&testing::account_input(account), &new, NOW)
        .unwrap()
        .1
}

/// Issue 10, defect 13: expiry enqueues `bill.expired` for the VA webhook; an organization with
/// no subscriber of such an event gets no delivery.
fn expiry_notifies_its_subscribers(db: TestDb) {
    let expiring = |o: i64, account: &str| expiring_bill(&db, o, account);
    let quiet = org(&db, "EXPQUIET");
    let heard = org(&db, "EXPHEARD");
    db.set_setting(heard, "va.webhook_url", "http://127.0.0.1:9/hook", NOW)
        .unwrap();
    expiring(quiet, "Q1");
    let b = expiring(heard, "H1");
    let later = NOW + time::Duration::hours(2);
    assert_eq!(db.expire_due_bills(later).unwrap(), 2);
    assert!(db.deliveries_for_organization(quiet).unwrap().is_empty());
    let d = db.deliveries_for_organization(heard).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].dialect.as_str(), d[0].status.as_str()),
        ("va", "pending")
    );
    let event = db.notification_event(d[0].event_id).unwrap();
    assert_eq!(
        (event.kind.as_str(), event.bill_id, event.payment_id),
        ("bill.expired", Some(b.id), None)
    );
    let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(payload["status_after"], "expired");
    // Nothing expires twice.
    assert_eq!(db.expire_due_bills(later).unwrap(), 0);
    assert_eq!(db.deliveries_for_organization(heard).unwrap().len(), 1);
}

/// Issue 10, defect 10: expiry takes bounded batches, each its own transaction, so a backlog
/// never holds one long write lock; every bill still gets its event and `bill.expired`.
fn expiry_works_in_batches(db: TestDb) {
    let o = org(&db, "EXPBATCH");
    db.set_setting(o, "va.webhook_url", "http://127.0.0.1:9/hook", NOW)
        .unwrap();
    let expiring = |account: &str| expiring_bill(&db, o, account);
    let bills: Vec<_> = (0..7).map(|i| expiring(&format!("B{i}"))).collect();
    let later = NOW + time::Duration::hours(2);
    let before = db.transactions_started();
    assert_eq!(db.expire_due_bills_in_batches(later, 3).unwrap(), 7);
    // 3 + 3 + 1: three short transactions.
    assert_eq!(db.transactions_started() - before, 3);
    for b in &bills {
        assert_eq!(db.bill(b.id).unwrap().status, BillStatus::Expired);
    }
    assert_eq!(db.deliveries_for_organization(o).unwrap().len(), 7);
    // Nothing left: one transaction finds an empty batch.
    let before = db.transactions_started();
    assert_eq!(db.expire_due_bills_in_batches(later, 3).unwrap(), 0);
    assert_eq!(db.transactions_started() - before, 1);
    // A batch of exactly what is due needs one more transaction to see nothing is left.
    let more: Vec<_> = (0..3).map(|i| expiring(&format!("C{i}"))).collect();
    let before = db.transactions_started();
    assert_eq!(db.expire_due_bills_in_batches(later, 3).unwrap(), 3);
    assert_eq!(db.transactions_started() - before, 2);
    assert_eq!(db.bill(more[2].id).unwrap().status, BillStatus::Expired);
    assert_eq!(db.expire_due_bills(later).unwrap(), 0);
    assert_eq!(db.deliveries_for_organization(o).unwrap().len(), 10);
}

/// Issue 10, defect 11: a payment or reversal stored with a v1 fingerprint (before the upgrade)
/// is a repeat of a request that names that form as legacy; without it, the v2 fingerprint is
/// another request.
fn v1_fingerprints_are_still_repeats(db: TestDb) {
    use billhub_core::fingerprint::Fingerprint;
    let o = org(&db, "FPRINT01");
    let b = bill(&db, o, "ACC1", Currency::USD, 500, PaymentRule::Open);
    let v1 = fingerprint(&["200", "USD"]);
    let old = pay(
        o,
        PaymentTarget::Bill { bill_id: b.id },
        "R1",
        200,
        Currency::USD,
    );
    assert_eq!(old.request_hash, v1);
    let first = db.post_payment(&old, NOW).unwrap();
    assert!(!first.replayed);

    let print = Fingerprint::v2("test", &[("amount", "200"), ("currency", "USD")]).with_legacy(v1);
    let new = PaymentRequest {
        request_hash: print.current.clone(),
        ..old.clone()
    };
    assert!(matches!(
        db.post_payment(&new, NOW),
        Err(StoreError::Rejected(Rejection::InconsistentReplay))
    ));
    let again = db
        .post_payment_with_legacy(&new, &print.legacy, NOW)
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.payment(), first.payment());
    // Another v1 form is not this request.
    assert!(matches!(
        db.post_payment_with_legacy(&new, &[fingerprint(&["201", "USD"])], NOW),
        Err(StoreError::Rejected(Rejection::InconsistentReplay))
    ));
    // A new payment stores the v2 text.
    let fresh = PaymentRequest {
        channel_ref: "R2".into(),
        ..new.clone()
    };
    db.post_payment_with_legacy(&fresh, &print.legacy, NOW)
        .unwrap();
    assert_eq!(
        db.payment_with_request_hash("test", "R2")
            .unwrap()
            .unwrap()
            .0,
        print.current
    );
    assert_eq!(db.bill(b.id).unwrap().paid, 400);

    // Reversals alike.
    let payment = first.payment().unwrap();
    let rev = ReversalRequest {
        organization_id: o,
        payment_id: payment.id,
        channel: "test".into(),
        channel_ref: "REV1".into(),
        request_hash: fingerprint(&["rev", "REV1"]),
        reason: "refund".into(),
        requester: billhub_core::reversal::Requester::Channel,
        claimed: billhub_core::reversal::Claimed::Nothing,
        window: None,
    };
    db.reverse_payment(&rev, NOW).unwrap();
    let rprint = Fingerprint::v2("rev", &[("ref", "REV1")]).with_legacy(rev.request_hash.clone());
    let rnew = ReversalRequest {
        request_hash: rprint.current.clone(),
        ..rev.clone()
    };
    assert!(matches!(
        db.reverse_payment(&rnew, NOW),
        Err(StoreError::Rejected(Rejection::InconsistentReplay))
    ));
    assert!(
        db.reverse_payment_with_legacy(&rnew, &rprint.legacy, NOW)
            .unwrap()
            .replayed
    );
    assert_eq!(db.bill(b.id).unwrap().paid, 200);
}

billhub_store::backend_tests!(
    organizations_and_settings,
    void_bill_refused_while_money_is_on_it,
    expiry_notifies_its_subscribers,
    credentials_are_hashed_and_scoped,
    exact_payment_replay_and_inconsistency,
    partial_open_credit_and_reversal,
    statistics_after_an_import,
    account_modes_and_unapplied,
    unapplied_money_is_applied_or_refunded_once,
    account_credit_is_applied_or_refunded_by_an_operator,
    concurrent_credit_spending_never_overdraws,
    va_numbers_unique_among_payable_bills,
    statement_entries,
    outbox_leases,
    concurrent_payments_of_one_exact_bill,
    concurrent_replays_of_one_reference,
    open_account_payment_races_single_bill_payment,
    two_pools_share_the_database,
    panicked_work_never_returns_its_connection,
    reads_are_one_snapshot,
    transactions_are_counted,
    deadline_bounds_every_attempt,
    cache_serves_five_seconds_then_sees_changes,
    reversal_never_overdraws_credit,
    credit_that_does_not_fit_is_refused,
    reversal_races_credit_application,
    one_reference_is_posted_or_unapplied_never_both,
    biller_side_references_are_per_organization,
    upgrade_resolves_posted_and_unapplied_twins,
    check_clean_store_has_no_violations,
    check_finds_each_planted_violation,
    expiry_works_in_batches,
    v1_fingerprints_are_still_repeats,
);

/// Two OS processes share one SQLite file: this test re-runs its own binary twice as
/// `child_process_payer`, each child racing threads in the three scenarios of the store suite:
/// different references on one exact bill, the same reference, and account payments against
/// single-bill payments.
#[test]
fn sqlite_two_processes_share_one_file() {
    let db = TestDb::sqlite();
    let o = org(&db, "ORG00001");
    let b = bill(&db, o, "ACC1", Currency::USD, 500, PaymentRule::Exact);
    let replayed = bill(&db, o, "ACC2", Currency::USD, 700, PaymentRule::Exact);
    let spread: Vec<_> = (0..4)
        .map(|_| bill(&db, o, "ACC3", Currency::USD, 250, PaymentRule::Exact))
        .collect();
    let spread_ids = spread
        .iter()
        .map(|b| b.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|tag| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "child_process_payer",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("BILLHUB_CHILD_DB", &db.url)
                .env("BILLHUB_CHILD_ORG", o.to_string())
                .env("BILLHUB_CHILD_BILL", b.id.to_string())
                .env("BILLHUB_CHILD_TAG", tag)
                .env("BILLHUB_CHILD_REPLAY_BILL", replayed.id.to_string())
                .env("BILLHUB_CHILD_ACCOUNT", spread[0].account_id.to_string())
                .env("BILLHUB_CHILD_SPREAD", &spread_ids)
                .output()
                .unwrap()
        })
        .collect();
    let mut successes = 0;
    for c in &children {
        let out = String::from_utf8_lossy(&c.stdout);
        assert!(
            c.status.success(),
            "child failed: {out} {}",
            String::from_utf8_lossy(&c.stderr)
        );
        assert!(!out.contains("CHILD-ERROR"), "{out}");
        successes += out.matches("CHILD-PAID").count();
        assert_eq!(
            out.matches("CHILD-REFUSED already_paid").count() + out.matches("CHILD-PAID").count(),
            8,
            "{out}"
        );
    }
    assert_eq!(successes, 1);
    assert_eq!(db.payments_of_bill(b.id).unwrap().len(), 1);

    // The same reference from 16 threads in two processes: one payment, and all got it.
    let paid = db.payments_of_bill(replayed.id).unwrap();
    assert_eq!(paid.len(), 1);
    let mut answers = 0;
    for c in &children {
        let out = String::from_utf8_lossy(&c.stdout);
        for line in out.lines().filter(|l| l.starts_with("CHILD-REPLAY ")) {
            assert_eq!(line, format!("CHILD-REPLAY {}", paid[0].id), "{out}");
            answers += 1;
        }
    }
    assert_eq!(answers, 16);
    assert_eq!(db.bill(replayed.id).unwrap().paid, 700);

    // Account payments (process a) race single-bill payments (process b): money is conserved
    // and no bill is paid past its amount.
    let mut applied = 0;
    for s in &spread {
        let now = db.bill(s.id).unwrap();
        assert!(now.paid <= now.billed);
        let allocated: i64 = db
            .payments_of_bill(s.id)
            .unwrap()
            .iter()
            .flat_map(|p| {
                p.allocations
                    .iter()
                    .filter(|a| a.bill_id == s.id)
                    .map(|a| a.amount)
                    .collect::<Vec<_>>()
            })
            .sum();
        assert_eq!(allocated, now.paid);
        applied += now.paid;
    }
    let payments = db.payments_of_account(spread[0].account_id).unwrap();
    let taken: i64 = payments.iter().map(|p| p.amount).sum();
    let credit: i64 = payments.iter().map(|p| p.credit).sum();
    assert_eq!(taken, applied + credit);
    assert_eq!(
        db.account_credit(spread[0].account_id, Currency::USD)
            .unwrap(),
        credit
    );
}

/// The child side of `sqlite_two_processes_share_one_file` (does nothing when run by itself).
#[test]
fn child_process_payer() {
    let Ok(url) = std::env::var("BILLHUB_CHILD_DB") else {
        return;
    };
    let o: i64 = std::env::var("BILLHUB_CHILD_ORG").unwrap().parse().unwrap();
    let bill_id: i64 = std::env::var("BILLHUB_CHILD_BILL")
        .unwrap()
        .parse()
        .unwrap();
    let tag = std::env::var("BILLHUB_CHILD_TAG").unwrap();
    let store = Store::open(&url, MasterKey::generate(), PoolOptions::default(), false).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let tag = tag.clone();
            std::thread::spawn(move || {
                store.post_payment(
                    &pay(
                        o,
                        PaymentTarget::Bill { bill_id },
                        &format!("{tag}{i}"),
                        500,
                        Currency::USD,
                    ),
                    NOW,
                )
            })
        })
        .collect();
    for h in handles {
        match h.join().unwrap() {
            Ok(_) => println!("CHILD-PAID"),
            Err(StoreError::Rejected(Rejection::AlreadyPaid)) => {
                println!("CHILD-REFUSED already_paid")
            }
            Err(e) => println!("CHILD-ERROR {e}"),
        }
    }
    let env_i64 = |k: &str| -> i64 { std::env::var(k).unwrap().parse().unwrap() };
    let replay_bill = env_i64("BILLHUB_CHILD_REPLAY_BILL");
    let replays: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                store.post_payment(
                    &pay(
                        o,
                        PaymentTarget::Bill {
                            bill_id: replay_bill,
                        },
                        "shared-ref",
                        700,
                        Currency::USD,
                    ),
                    NOW,
                )
            })
        })
        .collect();
    for h in replays {
        match h.join().unwrap() {
            Ok(out) => println!("CHILD-REPLAY {}", out.payment().map(|p| p.id).unwrap_or(-1)),
            Err(e) => println!("CHILD-ERROR {e}"),
        }
    }
    let account_id = env_i64("BILLHUB_CHILD_ACCOUNT");
    let spread: Vec<i64> = std::env::var("BILLHUB_CHILD_SPREAD")
        .unwrap()
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    let racers: Vec<_> = spread
        .iter()
        .enumerate()
        .map(|(i, bill_id)| {
            let (store, tag, bill_id) = (store.clone(), tag.clone(), *bill_id);
            std::thread::spawn(move || {
                let target = if tag == "a" {
                    PaymentTarget::Account {
                        account_id,
                        mode: Some(billhub_core::SettlementMode::Open),
                        chosen: None,
                    }
                } else {
                    PaymentTarget::Bill { bill_id }
                };
                let amount = if tag == "a" { 400 } else { 250 };
                store.post_payment(
                    &pay(o, target, &format!("race-{tag}{i}"), amount, Currency::USD),
                    NOW,
                )
            })
        })
        .collect();
    for h in racers {
        match h.join().unwrap() {
            Ok(_) | Err(StoreError::Rejected(_)) => {}
            Err(e) => println!("CHILD-ERROR {e}"),
        }
    }
}

#[test]
fn wrong_database_urls_fail_fast_and_say_why() {
    let start = std::time::Instant::now();
    let err = Store::open(
        "postgres://postgres@127.0.0.1:5432/billhub_no_such_db",
        MasterKey::generate(),
        PoolOptions::default(),
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("billhub_no_such_db"), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert!(matches!(
        Store::open(
            "mysql://x",
            MasterKey::generate(),
            PoolOptions::default(),
            false
        ),
        Err(StoreError::Config(_))
    ));
}

/// Defect 10: while another connection holds SQLite's write lock, a write with a deadline waits
/// for the lock only until its deadline (the busy timeout shrinks to what is left: not 15 s, nor
/// 64 attempts of it), gives up as unavailable, and writes nothing.
#[test]
fn sqlite_deadline_shrinks_the_busy_timeout() {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    use std::time::{Duration, Instant};

    let db = TestDb::sqlite();
    let path = db.url.trim_start_matches("sqlite://").to_string();
    let mut holder = diesel::SqliteConnection::establish(&path).unwrap();
    holder.batch_execute("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let err = db
        .until(started + Duration::from_millis(500))
        .create_organization(
            &NewOrganization {
                code: Some("LOCKED01".into()),
                name: "Locked".into(),
                utc_offset: UtcOffset::UTC,
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec![],
            },
            NOW,
        )
        .unwrap_err();
    let took = started.elapsed();
    assert!(err.is_unavailable(), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    holder.batch_execute("ROLLBACK").unwrap();
    assert!(db.organization_by_code("LOCKED01").unwrap().is_none());
    // The pooled connection is fine afterwards, with the lock free.
    org(&db, "ORG00001");
}
