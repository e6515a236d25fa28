//! The SQLite fsync ceiling: the store's own posting code, one payment per transaction, on one
//! thread, with `synchronous=FULL` on the (single) connection it uses.

use std::time::Instant;

use billhub_core::{Currency, Money, PaymentRule};
use billhub_store::testing::TestDb;
use billhub_store::{
    AccountInput, NewBill, NewOrganization, OnRejection, PaymentRequest, PaymentTarget, fingerprint,
};
use time::macros::date;
use time::{OffsetDateTime, UtcOffset};

/// Posts `n` payments, each on its own exact bill, one after the other; payments per second.
pub fn ceiling(n: usize) -> anyhow::Result<f64> {
    let db = TestDb::sqlite();
    // One thread takes one connection at a time, so the pool never opens a second one.
    db.raw_sql("PRAGMA synchronous = FULL;");
    let now = OffsetDateTime::now_utc();
    let org = db
        .create_organization(
            &NewOrganization {
                code: Some("FSYNC001".into()),
                name: "Fsync".into(),
                utc_offset: UtcOffset::UTC,
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec![],
            },
            now,
        )?
        .id;
    let mut bills = Vec::with_capacity(n);
    for i in 0..n {
        let acc = AccountInput {
            code: format!("F{i}"),
            ..Default::default()
        };
        let bill = NewBill {
            organization_id: org,
            account_id: 0,
            collection_id: None,
            invoice_number: None,
            ref1: String::new(),
            ref2: String::new(),
            name: "fsync".into(),
            description: String::new(),
            currency: Currency::USD,
            billed: 1000,
            items: vec![],
            bill_date: date!(2026 - 01 - 01),
            due_date: None,
            valid_until: None,
            rule: PaymentRule::Exact,
            source: "bench".into(),
            extra: "{}".into(),
            va_numbers: vec![],
        };
        bills.push(db.create_bill_for_account(&acc, &bill, now)?.1.id);
    }
    let start = Instant::now();
    for (i, id) in bills.iter().enumerate() {
        let reference = format!("f{i}");
        db.post_payment(
            &PaymentRequest {
                organization_id: org,
                channel: "bench".into(),
                request_hash: fingerprint(&[&reference, "1000"]),
                channel_ref: reference,
                target: PaymentTarget::Bill { bill_id: *id },
                amount: Money::from_minor(1000, Currency::USD),
                fee: 0,
                method: String::new(),
                payer_name: String::new(),
                details: "{}".into(),
                paid_at: now,
                on_rejection: OnRejection::Refuse,
            },
            now,
        )?;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(if secs > 0.0 { n as f64 / secs } else { 0.0 })
}
