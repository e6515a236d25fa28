//! Payments: TOTAL, DISCRETE, OPEN, transaction codes, replays and races.

use billhub_core::{BillStatus, Currency};
use billhub_store::testing::TestDb;
use serde_json::{Value, json};
use time::macros::date;

use crate::common::*;

/// TOTAL: only the listed total; a wrong amount is 927 and leaves the code usable.
pub async fn total_payment(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let listed = env.lookup(3, "1234567890").await;
    assert_eq!(listed["paymentType"], "TOTAL");
    let code = Env::code_of(&listed);

    let wrong = env.pay(3, "1", &pay_body("1234567890", &code, 6500)).await;
    let msg = assert_refused(&wrong, "927");
    assert!(msg.contains("12500"), "{msg}");
    assert_eq!(wrong["items"][0]["destinationcurrency"], "EUR");

    let ok = env.pay(3, "2", &pay_body("1234567890", &code, 12500)).await;
    assert_eq!(ok["rc"], 0, "{ok}");
    let item = &ok["items"][0];
    assert_eq!(item["finalstatus"], 10);
    assert_eq!(item["resultcode"], "10");
    assert_eq!(item["resultmessage"], "Payment successful");
    assert_eq!(item["destinationcurrency"], "EUR");
    assert_eq!(item["destinationamount"], 12500);
    assert_eq!(item["suppliertoken"], code.as_str());
    let uid = item["supplierreference"].as_str().unwrap();
    assert!(is_uuid(uid));
    let payment = env.store().payment_by_uid(uid).unwrap().unwrap();
    assert_eq!(payment.channel, format!("postpaid:{}", env.channel));
    assert_eq!(payment.channel_ref, "3:2:2025-07-03");
    assert_eq!((payment.amount, payment.fee, payment.credit), (12500, 0, 0));
    assert_eq!(payment.allocations.len(), 2);
    assert_eq!(
        env.store()
            .postpaid_code(&code)
            .unwrap()
            .unwrap()
            .used_by_payment_id,
        Some(payment.id)
    );
    // Nothing pending any more.
    let after = env.lookup(3, "1234567890").await;
    assert_eq!(after["rc"], 0);
    assert_eq!(after["pendingInvoices"], 0);
    assert_eq!(after["totalAmountX100"], 0);
    assert_eq!(after["items"], json!([]));
    assert_eq!(after["additionalData"], json!([]));
}

/// DISCRETE: exactly the chosen listed invoices.
pub async fn discrete_payment(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("settlement", "discrete");
    seed_bills(&env);
    let listed = env.lookup(3, "1234567890").await;
    assert_eq!(listed["paymentType"], "DISCRETE");
    let code = Env::code_of(&listed);
    let with = |amount: i64, invoices: Value| {
        let mut b = pay_body("1234567890", &code, amount);
        b["invoiceNumbers"] = invoices;
        b
    };

    let missing = env.pay(3, "1", &pay_body("1234567890", &code, 6000)).await;
    assert!(assert_refused(&missing, "900").contains("invoiceNumbers"));
    let unlisted = env.pay(3, "2", &with(6000, json!(["INV-99"]))).await;
    assert!(assert_refused(&unlisted, "11").contains("INV-99"));
    let wrong = env.pay(3, "3", &with(6500, json!(["INV-10004568"]))).await;
    assert!(assert_refused(&wrong, "927").contains("6000"));

    let ok = env.pay(3, "4", &with(6000, json!(["INV-10004568"]))).await;
    assert_eq!(ok["rc"], 0, "{ok}");
    assert_eq!(ok["items"][0]["destinationamount"], 6000);
    let bills = env
        .store()
        .bills_by_invoice_number(env.org, "INV-10004568")
        .unwrap();
    assert_eq!(bills[0].status, BillStatus::Paid);
    let first = env
        .store()
        .bills_by_invoice_number(env.org, "INV-10004567")
        .unwrap();
    assert_eq!(first[0].status, BillStatus::Active);
}

/// OPEN with a service fee: any amount above the fee, oldest first, the excess as credit; the
/// fee is recorded on the payment and never applied to bills.
pub async fn open_payment_with_fee_and_credit(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("settlement", "open");
    env.set("postpaid.fee_x100", "100");
    seed_bills(&env);
    let listed = env.lookup(3, "1234567890").await;
    assert_eq!(listed["paymentType"], "OPEN");
    assert_eq!(listed["serviceFeeX100"], 100);
    assert_eq!(listed["destinationAmountX100"], 12500);
    assert_eq!(listed["totalAmountX100"], 12600);
    assert_eq!(listed["amountToSendX100"], 12600);
    assert_eq!(listed["items"][0]["serviceFeeX100"], 0);
    let code = Env::code_of(&listed);

    let only_fee = env.pay(3, "1", &pay_body("1234567890", &code, 100)).await;
    assert_refused(&only_fee, "927");

    let ok = env.pay(3, "2", &pay_body("1234567890", &code, 13100)).await;
    assert_eq!(ok["rc"], 0, "{ok}");
    assert_eq!(ok["items"][0]["destinationamount"], 13000);
    let uid = ok["items"][0]["supplierreference"].as_str().unwrap();
    let p = env.store().payment_by_uid(uid).unwrap().unwrap();
    assert_eq!((p.amount, p.fee, p.credit), (13000, 100, 500));
    let acc = env
        .store()
        .account_by_code(env.org, "1234567890")
        .unwrap()
        .unwrap();
    assert_eq!(
        env.store().account_credit(acc.id, Currency::EUR).unwrap(),
        500
    );
    for b in env.store().bills_of_account(acc.id).unwrap() {
        assert_eq!((b.status, b.paid), (BillStatus::Paid, b.billed));
    }

    // Less than owed, under OPEN: the oldest invoice first.
    env.bill(
        "555",
        6500,
        "INV-A",
        date!(2025 - 06 - 01),
        date!(2025 - 07 - 01),
    );
    env.bill(
        "555",
        6000,
        "INV-B",
        date!(2025 - 06 - 15),
        date!(2025 - 07 - 15),
    );
    let code = Env::code_of(&env.lookup(3, "555").await);
    let part = env.pay(3, "3", &pay_body("555", &code, 6600)).await;
    assert_eq!(part["rc"], 0, "{part}");
    assert_eq!(
        env.store()
            .bills_by_invoice_number(env.org, "INV-A")
            .unwrap()[0]
            .status,
        BillStatus::Paid
    );
    assert_eq!(
        env.store()
            .bills_by_invoice_number(env.org, "INV-B")
            .unwrap()[0]
            .status,
        BillStatus::Active
    );
}

/// A code pays once, expires, and belongs to the terminal and account it was issued for.
pub async fn transaction_code_rules(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("settlement", "open");
    env.set("postpaid.code_ttl_seconds", "60");
    seed_bills(&env);
    env.bill(
        "999",
        1000,
        "INV-OTHER",
        date!(2025 - 06 - 01),
        date!(2025 - 07 - 01),
    );

    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    assert_eq!(
        env.pay(3, "1", &pay_body("1234567890", &code, 1000)).await["rc"],
        0
    );
    let reused = env.pay(3, "2", &pay_body("1234567890", &code, 1000)).await;
    assert!(assert_refused(&reused, "11").contains("already been used"));

    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let other_terminal = env.pay(4, "3", &pay_body("1234567890", &code, 1000)).await;
    assert!(assert_refused(&other_terminal, "11").contains("another terminal"));
    let other_account = env.pay(3, "4", &pay_body("999", &code, 1000)).await;
    assert!(assert_refused(&other_account, "11").contains("another account"));
    let unknown = env
        .pay(3, "5", &pay_body("1234567890", "TXN-NOPE", 1000))
        .await;
    assert!(assert_refused(&unknown, "11").contains("Unknown transaction_code"));

    env.app.clock().advance(time::Duration::seconds(61));
    let expired = env.pay(3, "6", &pay_body("1234567890", &code, 1000)).await;
    assert!(assert_refused(&expired, "11").contains("expired"));
    let fresh = Env::code_of(&env.lookup(3, "1234567890").await);
    assert_eq!(
        env.pay(3, "7", &pay_body("1234567890", &fresh, 1000)).await["rc"],
        0
    );
}

/// The same request again gets its first answer (even once its code is used); the same
/// reference with another body is 12.
pub async fn replayed_and_conflicting_reference(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let body = pay_body("1234567890", &code, 12500);
    let first = env.pay(3, "000000042", &body).await;
    assert_eq!(first["rc"], 0, "{first}");
    let again = env.pay(3, "42", &body).await;
    assert_eq!(again, first);

    let mut other = body.clone();
    other["beneficiaryPhoneNumber"] = json!("010888999");
    let conflict = env.pay(3, "42", &other).await;
    assert_refused(&conflict, "12");

    // Another local date is another reference: it goes through the rules (the code is used).
    let mut next_day = body.clone();
    next_day["localDateTime"] = json!("2025-07-04T00:10:00+01:00");
    assert_refused(&env.pay(3, "42", &next_day).await, "11");
    // Another terminal's reference 42 is its own.
    assert_refused(&env.pay(5, "42", &body).await, "11");

    let acc = env
        .store()
        .account_by_code(env.org, "1234567890")
        .unwrap()
        .unwrap();
    assert_eq!(env.store().payments_of_account(acc.id).unwrap().len(), 1);

    // At most 9 digits.
    assert_refused(&env.pay(3, "1234567890", &body).await, "900");
}

/// Concurrent payments with one code: exactly one is posted.
pub async fn concurrent_use_of_one_code(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("settlement", "open");
    seed_bills(&env);
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let body = pay_body("1234567890", &code, 6500);
    let (a, b, c) = tokio::join!(
        env.pay(3, "71", &body),
        env.pay(3, "72", &body),
        env.pay(3, "73", &body)
    );
    let mut codes: Vec<String> = [a, b, c]
        .iter()
        .map(|r| r["items"][0]["resultcode"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["10", "11", "11"]);
    let acc = env
        .store()
        .account_by_code(env.org, "1234567890")
        .unwrap()
        .unwrap();
    assert_eq!(env.store().payments_of_account(acc.id).unwrap().len(), 1);
}
