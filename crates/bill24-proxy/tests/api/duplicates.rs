//! One key per transaction (issue 10, defects 3 and 4): a Bill24 `tran_id` is the biller's
//! reference, so it is unique per organization (two billers may both hear of one `tran_id`),
//! and within one it is recorded once, posted or kept as unapplied money, never both.

use billhub_core::Bill;
use billhub_core::org::Organization;
use billhub_store::{AccountInput, NewBill};

use crate::prelude::*;

/// An exact bill of `account` in `org`, made through the store.
fn bill_of(env: &Env, org: &Organization, account: &str, spec: BillSpec) -> Bill {
    let input = AccountInput {
        code: account.into(),
        name: "Payer".into(),
        ..Default::default()
    };
    let new = NewBill {
        organization_id: org.id,
        account_id: 0,
        collection_id: None,
        invoice_number: None,
        ref1: String::new(),
        ref2: String::new(),
        name: String::new(),
        description: String::new(),
        currency: spec.currency,
        billed: spec.minor,
        items: vec![],
        bill_date: spec.bill_date,
        due_date: spec.due_date,
        valid_until: spec.valid_until,
        rule: spec.rule,
        source: "cli".into(),
        extra: "{}".into(),
        va_numbers: vec![],
    };
    env.store()
        .create_bill_for_account(&input, &new, env.now())
        .unwrap()
        .1
}

/// Whether `reply` is the webhook's answer to a repeat (`Error`, nothing changed).
fn is_repeat(status: u16, reply: &Value) -> bool {
    status == 200 && reply["status"] == json!("Error")
}

/// The same `tran_id` reaching two organizations is recorded for both, posted or unapplied;
/// each one's repeat is answered as a repeat and changes nothing.
async fn same_tran_id_for_two_organizations(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let (other, other_token) = organization(&env.app, "SECOND01", SettlementMode::Open);
    let mine = env.bill("SHARED", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let theirs = bill_of(
        &env,
        &other,
        "SHARED",
        BillSpec::khr(5000, date!(2025 - 08 - 01)),
    );
    let payload = current("T-SHARED", "KHR", json!(5000), "SHARED", "");
    let (status, reply) = post(&env.app, "/webhook", Some(&env.token), &payload).await;
    assert_eq!((status, reply), (200, success()));
    let (status, reply) = post(&env.app, "/webhook", Some(&other_token), &payload).await;
    assert_eq!((status, reply), (200, success()));
    for (bill, org) in [(&mine, env.org.id), (&theirs, other.id)] {
        let after = env.store().bill(bill.id).unwrap();
        assert_eq!((after.paid, after.status), (500000, BillStatus::Paid));
        let paid = env.store().payments_of_bill(bill.id).unwrap();
        assert_eq!(paid.len(), 1);
        assert_eq!(
            (
                paid[0].organization_id,
                paid[0].channel.as_str(),
                paid[0].channel_ref.as_str(),
                paid[0].amount
            ),
            (org, "bill24", "T-SHARED", 500000)
        );
    }
    let (status, reply) = post(&env.app, "/webhook", Some(&other_token), &payload).await;
    assert!(is_repeat(status, &reply), "{reply}");
    assert_eq!(env.store().payments_of_bill(theirs.id).unwrap().len(), 1);

    // Money for a consumer neither knows: kept as unapplied by both.
    let lost = current("T-LOST", "KHR", json!(1000), "NOBODY", "");
    for token in [&env.token, &other_token] {
        let (status, reply) = post(&env.app, "/webhook", Some(token), &lost).await;
        assert_eq!((status, reply), (200, success()));
    }
    for org in [env.org.id, other.id] {
        let kept = env.store().unapplied_payments(Some(org)).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (
                kept[0].channel_ref.as_str(),
                kept[0].amount,
                kept[0].status.as_str()
            ),
            ("T-LOST", 100000, "open")
        );
    }
}

/// One `tran_id` delivered twice at once with different content, one payable (the whole
/// exact bill) and one not (kept as unapplied money): one is recorded, the other answered as a
/// repeat; never both (PostgreSQL recorded both in most rounds).
async fn posted_or_unapplied_never_both(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    for round in 0..12 {
        let account = format!("RACE{round}");
        let bill = env.bill(&account, BillSpec::khr(5000, date!(2025 - 08 - 01)));
        let tran_id = format!("T-RACE-{round}");
        let payable = current(&tran_id, "KHR", json!(5000), &account, &bill.public_no);
        let refused = current(&tran_id, "KHR", json!(3000), &account, &bill.public_no);
        let (a, b) = futures_util::join!(
            post(&env.app, "/webhook", Some(&env.token), &payable),
            post(&env.app, "/webhook", Some(&env.token), &refused)
        );
        let answered = [&a, &b]
            .iter()
            .filter(|(s, r)| *s == 200 && *r == success())
            .count();
        let repeats = [&a, &b].iter().filter(|(s, r)| is_repeat(*s, r)).count();
        assert_eq!((answered, repeats), (1, 1), "round {round}: {a:?} / {b:?}");
        let paid = env.store().payments_of_bill(bill.id).unwrap();
        let kept: Vec<_> = env
            .store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .into_iter()
            .filter(|u| u.channel_ref == tran_id)
            .collect();
        let after = env.store().bill(bill.id).unwrap();
        if a.1 == success() {
            assert_eq!((paid.len(), kept.len(), after.paid), (1, 0, 500000));
        } else {
            assert_eq!((paid.len(), kept.len(), after.paid), (0, 1, 0));
            assert_eq!(kept[0].amount, 300000);
        }
    }
}

billhub_http::http_backend_tests!(
    same_tran_id_for_two_organizations,
    posted_or_unapplied_never_both,
);
