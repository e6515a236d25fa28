//! The postpaid (CSQ eVSB) dialect over HTTP, on SQLite (`sqlite::...`) and PostgreSQL
//! (`postgres::...`): a real gateway, a real database per test, a terminal that signs like one.

// Test code: a failed unwrap is a failed test (clippy's allow-unwrap-in-tests does not reach
// helper functions outside #[test] items).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use billhub_core::signature::csq;
use billhub_core::{BillStatus, Currency};
use billhub_store::testing::TestDb;
use common::{Env, NOW, assert_refused};
use serde_json::{Value, json};
use time::macros::date;

const SEED_FIELDS: &str = r#"[{"name":"card_code","label":"CARD CODE","type":"INPUT","account":true},{"name":"installments_to_pay","label":"INSTALLMENTS TO PAY","type":"INPUT"}]"#;

/// `TXN-yyyyMMdd-` and 10 characters, the date being the organization's (UTC+1) local date.
fn assert_code_format(code: &str, date: &str) {
    let rest = code
        .strip_prefix(&format!("TXN-{date}-"))
        .unwrap_or_else(|| panic!("{code}"));
    assert_eq!(rest.len(), 10, "{code}");
    assert!(
        rest.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{code}"
    );
}

fn is_uuid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok()
}

/// The two EUR invoices of the seed (6500 and 6000) on account `1234567890`.
fn seed_bills(env: &Env) {
    env.bill(
        "1234567890",
        6500,
        "INV-10004567",
        date!(2025 - 06 - 01),
        date!(2025 - 07 - 01),
    );
    env.bill(
        "1234567890",
        6000,
        "INV-10004568",
        date!(2025 - 06 - 15),
        date!(2025 - 07 - 15),
    );
}

/// The seed's Get Parameters and Get Invoices examples, field for field. A third, newer
/// invoice exists and `installments_to_pay: 2` keeps it out of the listing.
async fn seed_get_invoices(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("postpaid.fields", SEED_FIELDS);
    seed_bills(&env);
    env.bill(
        "1234567890",
        7000,
        "INV-10004569",
        date!(2025 - 07 - 01),
        date!(2025 - 07 - 31),
    );

    let params = env
        .get(&format!("/post-paid/bill-payment/parameters/7/{}", env.org))
        .await;
    assert_eq!(params.status, 200);
    assert_eq!(
        params.body,
        json!({
            "rc": 0, "message": "OK",
            "front": [
                {"name": "card_code", "label": "CARD CODE", "type": "INPUT", "minLength": 1, "maxLength": 64, "list": []},
                {"name": "installments_to_pay", "label": "INSTALLMENTS TO PAY", "type": "INPUT", "minLength": 1, "maxLength": 64, "list": []}
            ],
            "query": ["card_code", "installments_to_pay"],
            "pay": ["card_code", "installments_to_pay", "transaction_code"]
        })
    );
    let uid = params.headers.get("UID").unwrap().to_str().unwrap();
    assert!(is_uuid(uid));
    assert_eq!(
        params
            .headers
            .get("X-Request-Id")
            .unwrap()
            .to_str()
            .unwrap(),
        uid
    );
    assert_eq!(params.headers.get("U").unwrap().to_str().unwrap(), env.user);
    // Cache-Hash: the same checksum again gets an empty body.
    let hash = params.headers.get("New-Cache-Hash").unwrap().clone();
    let again = env
        .send(
            env.signed(
                env.app.client.get(
                    env.app
                        .url(&format!("/post-paid/bill-payment/parameters/7/{}", env.org)),
                ),
            )
            .header("Cache-Hash", hash),
        )
        .await;
    assert_eq!((again.status, again.body), (200, Value::Null));

    let a = env
        .post(
            &format!("/post-paid/bill-payment/get-invoices/7/{}", env.org),
            &json!([
                { "key": "card_code", "value": "1234567890" },
                { "key": "installments_to_pay", "value": "2" }
            ]),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers.get("U").unwrap().to_str().unwrap(), env.user);
    let mut body = a.body;
    let code = Env::code_of(&body);
    assert_code_format(&code, "20250703");
    body["additionalData"][0]["value"] = json!("TXN-INV-20250703-A1");
    assert_eq!(
        body,
        json!({
            "rc": 0,
            "message": "Pending invoices retrieved successfully",
            "additionalData": [{ "key": "transaction_code", "value": "TXN-INV-20250703-A1" }],
            "pendingInvoices": 2,
            "amountToSendX100": 12500,
            "destinationAmountX100": 12500,
            "serviceFeeX100": 0,
            "totalAmountX100": 12500,
            "destinationCurrency": "EUR",
            "items": [
                {
                    "amountToSendX100": 6500, "destinationAmountX100": 6500, "serviceFeeX100": 0,
                    "totalAmountX100": 6500, "destinationCurrency": "EUR",
                    "date": "2025-06-01", "expirationDate": "2025-07-01",
                    "invoiceReference": "INV-10004567", "isElegible": true
                },
                {
                    "amountToSendX100": 6000, "destinationAmountX100": 6000, "serviceFeeX100": 0,
                    "totalAmountX100": 6000, "destinationCurrency": "EUR",
                    "date": "2025-06-15", "expirationDate": "2025-07-15",
                    "invoiceReference": "INV-10004568", "isElegible": true
                }
            ],
            "paymentType": "TOTAL"
        })
    );
    // Numbers are integers on the wire, not floats.
    let stored = env.store().postpaid_code(&code).unwrap().unwrap();
    assert_eq!(stored.total, 12500);
    assert_eq!(stored.terminal_id, 7);

    // The seed's payment step: every pay field and the code; TOTAL pays the two listed only.
    let paid = env
        .pay(
            7,
            "1001",
            &json!({
                "amountToSendX100": 12500, "destinationAmountX100": 0,
                "localDateTime": "2025-07-03T11:00:00Z",
                "additionalData": [
                    { "key": "card_code", "value": "1234567890" },
                    { "key": "installments_to_pay", "value": "2" },
                    { "key": "transaction_code", "value": code }
                ]
            }),
        )
        .await;
    assert_eq!(paid["rc"], 0, "{paid}");
    let acc = env
        .store()
        .account_by_code(env.org, "1234567890")
        .unwrap()
        .unwrap();
    let statuses: Vec<BillStatus> = env
        .store()
        .bills_of_account(acc.id)
        .unwrap()
        .iter()
        .map(|b| b.status)
        .collect();
    assert_eq!(
        statuses,
        vec![BillStatus::Paid, BillStatus::Paid, BillStatus::Active]
    );
}

fn pay_body(account: &str, code: &str, amount: i64) -> Value {
    json!({
        "amountToSendX100": amount,
        "localDateTime": "2025-07-03T11:00:00Z",
        "additionalData": [
            { "key": "account", "value": account },
            { "key": "transaction_code", "value": code }
        ]
    })
}

/// TOTAL: only the listed total; a wrong amount is 927 and leaves the code usable.
async fn total_payment(db: TestDb) {
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
async fn discrete_payment(db: TestDb) {
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
async fn open_payment_with_fee_and_credit(db: TestDb) {
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
async fn transaction_code_rules(db: TestDb) {
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
async fn replayed_and_conflicting_reference(db: TestDb) {
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

fn revert_body(amount: i64, original: i64, account: &str) -> Value {
    json!({
        "amountToSendX100": amount,
        "localDateTime": "2025-07-03T12:00:00Z",
        "account": account,
        "originalLocalReference": original,
        "originalLocalDate": "2025-07-03"
    })
}

/// Revert within the window, once; out of the window refused.
async fn revert_in_and_out_of_window(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("postpaid.revert_window_hours", "24");
    seed_bills(&env);
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let paid = env
        .pay(3, "10", &pay_body("1234567890", &code, 12500))
        .await;
    assert_eq!(paid["rc"], 0);

    let wrong_amount = env
        .revert(3, "11", &revert_body(100, 10, "1234567890"))
        .await;
    assert_refused(&wrong_amount, "927");
    let wrong_account = env.revert(3, "12", &revert_body(12500, 10, "999")).await;
    assert_refused(&wrong_account, "11");
    let unknown = env
        .revert(3, "13", &revert_body(12500, 77, "1234567890"))
        .await;
    assert!(assert_refused(&unknown, "11").contains("not found"));

    let body = revert_body(12500, 10, "1234567890");
    let reverted = env.revert(3, "14", &body).await;
    assert_eq!(reverted["rc"], 0, "{reverted}");
    let item = &reverted["items"][0];
    assert_eq!(item["finalstatus"], 20);
    assert_eq!(item["resultcode"], "20");
    assert_eq!(item["destinationamount"], 12500);
    assert_eq!(
        item["supplierreference"],
        paid["items"][0]["supplierreference"]
    );
    for b in env
        .store()
        .bills_by_invoice_number(env.org, "INV-10004567")
        .unwrap()
    {
        assert_eq!(b.status, BillStatus::Active);
    }
    // The same revert again: its first answer. Another revert of the same payment: refused.
    assert_eq!(env.revert(3, "14", &body).await, reverted);
    let twice = env.revert(3, "15", &body).await;
    assert!(assert_refused(&twice, "11").contains("already been reverted"));
    let mut other = body.clone();
    other["account"] = json!("1234567890 ");
    other["localDateTime"] = json!("2025-07-03T12:00:01Z");
    assert_refused(&env.revert(3, "14", &other).await, "12");

    // Out of the window.
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    assert_eq!(
        env.pay(3, "20", &pay_body("1234567890", &code, 12500))
            .await["rc"],
        0
    );
    env.app.clock().advance(time::Duration::hours(25));
    let late = env
        .revert(3, "21", &revert_body(12500, 20, "1234567890"))
        .await;
    assert!(assert_refused(&late, "11").contains("window"));
}

/// Transaction info by the terminal's reference, in both date spellings.
async fn transaction_info(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let paid = env
        .pay(3, "30", &pay_body("1234567890", &code, 12500))
        .await;
    for date in ["20250703", "03072025"] {
        let info = env
            .get(&format!("/util/transaction/info/3/30/{date}"))
            .await;
        assert_eq!(info.status, 200);
        assert_eq!(info.body, paid, "{date}");
    }
    let unknown = env.get("/util/transaction/info/3/31/20250703").await;
    assert_refused(&unknown.body, "900");
    let bad = env.get("/util/transaction/info/3/30/2025-07-03").await;
    assert!(assert_refused(&bad.body, "900").contains("creationDate"));

    env.revert(3, "32", &revert_body(12500, 30, "1234567890"))
        .await;
    let info = env.get("/util/transaction/info/3/30/20250703").await;
    assert_eq!(info.body["rc"], 0);
    assert_eq!(info.body["items"][0]["resultcode"], "20");
}

/// ST skew, wrong SH, unknown U, missing headers, and a signature used twice on payments.
async fn authentication(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let url = env
        .app
        .url(&format!("/post-paid/bill-payment/parameters/3/{}", env.org));
    let with = |u: &str, st: String, sh: String| {
        env.app
            .client
            .get(&url)
            .header("U", u)
            .header("ST", st)
            .header("SH", sh)
    };
    let now = NOW.unix_timestamp();
    let sh = |st: i64| csq::salted_hash(&env.password, &st.to_string());

    let ok = env.send(with(&env.user, now.to_string(), sh(now))).await;
    assert_eq!(ok.status, 200);
    let edge = env
        .send(with(&env.user, (now - 30).to_string(), sh(now - 30)))
        .await;
    assert_eq!(edge.status, 200);
    for st in [now - 31, now + 31] {
        let skew = env.send(with(&env.user, st.to_string(), sh(st))).await;
        assert_eq!(skew.status, 401);
        assert!(assert_refused(&skew.body, "900").contains("away from the server"));
    }
    let wrong = env
        .send(with(&env.user, now.to_string(), sh(now + 1)))
        .await;
    assert_eq!(wrong.status, 401);
    let unknown = env.send(with("nobody", now.to_string(), sh(now))).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.body, wrong.body);
    let missing = env
        .send(env.app.client.get(&url).header("U", &env.user))
        .await;
    assert_eq!(missing.status, 401);
    assert!(missing.body["message"].as_str().unwrap().contains("ST, SH"));

    // A (U, ST, SH) used on a payment route cannot be used again on one within its window.
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let pay_url = env
        .app
        .url(&format!("/post-paid/bill-payment/payment/3/{}/50", env.org));
    let (st, shv) = env.sign();
    let send = |body: Value| {
        env.app
            .client
            .post(&pay_url)
            .header("U", &env.user)
            .header("ST", &st)
            .header("SH", &shv)
            .json(&body)
    };
    let first = env.send(send(pay_body("1234567890", &code, 6500))).await;
    assert_refused(&first.body, "927");
    let replayed = env.send(send(pay_body("1234567890", &code, 12500))).await;
    assert_eq!(replayed.status, 401);
    assert!(
        replayed.body["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    // Lookups are not payment routes: the same signature may be used again there.
    let lookup_url = env.app.url(&format!(
        "/post-paid/bill-payment/get-invoices/3/{}",
        env.org
    ));
    for _ in 0..2 {
        let a = env
            .send(
                env.app
                    .client
                    .post(&lookup_url)
                    .header("U", &env.user)
                    .header("ST", now.to_string())
                    .header("SH", sh(now))
                    .json(&json!([{ "key": "account", "value": "1234567890" }])),
            )
            .await;
        assert_eq!(a.body["rc"], 0);
    }
    // A network sees only the organizations it is enrolled with.
    let other = env
        .store()
        .create_channel("Elsewhere", "postpaid", NOW)
        .unwrap();
    let st = now.to_string();
    let foreign = env
        .send(
            env.app
                .client
                .get(&url)
                .header("U", other.username.unwrap())
                .header("ST", &st)
                .header("SH", csq::salted_hash(&other.password.unwrap(), &st)),
        )
        .await;
    assert_eq!(foreign.status, 200);
    assert!(assert_refused(&foreign.body, "900").contains("unknown operator"));
}

/// Bad path integers, invalid bodies and unknown keys are 900 with HTTP 200.
async fn invalid_parameters(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("postpaid.fields", SEED_FIELDS);
    seed_bills(&env);
    for path in [
        "/post-paid/bill-payment/parameters/abc/1".to_string(),
        format!("/post-paid/bill-payment/parameters/2147483648/{}", env.org),
        "/post-paid/bill-payment/parameters/1/-5".to_string(),
    ] {
        let a = env.get(&path).await;
        assert_eq!(a.status, 200, "{path}");
        assert_refused(&a.body, "900");
    }
    let unknown_op = env.get("/post-paid/bill-payment/parameters/1/999999").await;
    assert!(assert_refused(&unknown_op.body, "900").contains("unknown operator 999999"));

    let env = &env;
    let lookup = |body: Value| {
        let path = format!("/post-paid/bill-payment/get-invoices/3/{}", env.org);
        async move { env.post(&path, &body).await.body }
    };
    let msg = assert_refused(
        &lookup(json!([{ "key": "card_code", "value": "1234567890" }, { "key": "colour", "value": "red" }])).await,
        "900",
    );
    assert!(
        msg.contains("colour") && msg.contains("installments_to_pay"),
        "{msg}"
    );
    let msg = assert_refused(
        &lookup(json!([{ "key": "card_code", "value": "1234567890" }, { "key": "installments_to_pay", "value": "zero" }])).await,
        "900",
    );
    assert!(msg.contains("installments_to_pay"), "{msg}");
    assert_refused(&lookup(json!({"card_code": "1"})).await, "900");

    // Unknown account: 11 with a message.
    let unknown = lookup(json!([{ "key": "card_code", "value": "0000" }, { "key": "installments_to_pay", "value": "1" }])).await;
    assert!(assert_refused(&unknown, "11").contains("Unknown account"));

    // Payment bodies.
    let path = format!("/post-paid/bill-payment/payment/3/{}/60", env.org);
    let both = env
        .post(
            &path,
            &json!({"amountToSendX100": 100, "destinationAmountX100": 100, "localDateTime": "2025-07-03T10:00:00Z",
                    "additionalData": []}),
        )
        .await;
    assert!(assert_refused(&both.body, "900").contains(
        "amountToSendX100 and destinationAmountX100 must not be informed at the same time, please inform only one of it"
    ));
    let huge = env
        .post(
            &path,
            &json!({"amountToSendX100": 2147483648i64, "localDateTime": "2025-07-03T10:00:00Z",
                    "additionalData": []}),
        )
        .await;
    assert!(assert_refused(&huge.body, "900").contains("int32"));
    let huger: Value = serde_json::from_str(
        r#"{"amountToSendX100": 99999999999999999999999, "localDateTime": "2025-07-03T10:00:00Z"}"#,
    )
    .unwrap();
    assert!(assert_refused(&env.post(&path, &huger).await.body, "900").contains("int32"));
    let missing = env.post(&path, &json!({"amountToSendX100": 100})).await;
    let msg = assert_refused(&missing.body, "900");
    assert!(
        msg.contains("localDateTime") && msg.contains("additionalData"),
        "{msg}"
    );
    let empty = env
        .send(env.signed(env.app.client.post(env.app.url(&path))))
        .await;
    assert_refused(&empty.body, "900");
    let bad_path = env
        .post(
            &format!("/post-paid/bill-payment/payment/x/{}/1", env.org),
            &json!({}),
        )
        .await;
    assert!(assert_refused(&bad_path.body, "900").contains("terminalId"));
    // A body over the limit keeps its 413, in the dialect's shape.
    let big = json!([{ "key": "card_code", "value": "x".repeat(300 * 1024) }]);
    let too_large = env
        .post(
            &format!("/post-paid/bill-payment/get-invoices/3/{}", env.org),
            &big,
        )
        .await;
    assert_eq!(too_large.status, 413);
    assert_refused(&too_large.body, "900");
    // A known path with the wrong method answers like an unknown route.
    let wrong_method = env.get(&path).await;
    assert_eq!(wrong_method.status, 200);
    assert_refused(&wrong_method.body, "900");
    // No such route: the dialect's shape too.
    let nowhere = env.get("/post-paid/nowhere").await;
    assert_eq!(nowhere.status, 200);
    assert_refused(&nowhere.body, "900");
}

/// `Accept` other than JSON is 406 with a clear message.
async fn not_acceptable(db: TestDb) {
    let env = Env::new(&db).await;
    let url = env
        .app
        .url(&format!("/post-paid/bill-payment/parameters/3/{}", env.org));
    for accept in ["application/encrypt", "json", "text/html"] {
        let a = env
            .send(
                env.signed(env.app.client.get(&url))
                    .header("Accept", accept),
            )
            .await;
        assert_eq!(a.status, 406, "{accept}");
        assert!(
            a.body["message"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
        assert!(a.headers.get("UID").is_some());
    }
    for accept in ["*/*", "application/json; charset=utf-8"] {
        let a = env
            .send(
                env.signed(env.app.client.get(&url))
                    .header("Accept", accept),
            )
            .await;
        assert_eq!(a.status, 200, "{accept}");
    }
    let bare = env
        .send(
            env.app
                .client
                .get(&url)
                .header("U", &env.user)
                .header("ST", NOW.unix_timestamp().to_string())
                .header(
                    "SH",
                    csq::salted_hash(&env.password, &NOW.unix_timestamp().to_string()),
                ),
        )
        .await;
    assert_eq!(bare.status, 200);
}

/// Expired invoices are listed as not eligible and count in no total; nothing pending is rc 0.
async fn expired_and_nothing_pending(db: TestDb) {
    let env = Env::new(&db).await;
    env.bill_with(
        "1234567890",
        4000,
        "INV-OLD",
        date!(2025 - 05 - 01),
        date!(2025 - 05 - 31),
        Some(time::macros::datetime!(2025-06-30 00:00 UTC)),
    );
    let only_expired = env.lookup(3, "1234567890").await;
    assert_eq!(only_expired["rc"], 0);
    assert_eq!(only_expired["pendingInvoices"], 0);
    assert_eq!(only_expired["totalAmountX100"], 0);
    assert_eq!(only_expired["additionalData"], json!([]));
    assert_eq!(only_expired["items"][0]["isElegible"], false);
    assert_eq!(only_expired["items"][0]["invoiceReference"], "INV-OLD");

    seed_bills(&env);
    let listed = env.lookup(3, "1234567890").await;
    assert_eq!(listed["pendingInvoices"], 2);
    assert_eq!(listed["totalAmountX100"], 12500);
    let flags: Vec<(&str, bool)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["invoiceReference"].as_str().unwrap(),
                i["isElegible"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            ("INV-OLD", false),
            ("INV-10004567", true),
            ("INV-10004568", true)
        ]
    );
    // TOTAL pays the eligible ones; the expired one stays as it was.
    let code = Env::code_of(&listed);
    assert_eq!(
        env.pay(3, "1", &pay_body("1234567890", &code, 12500)).await["rc"],
        0
    );
    let old = env
        .store()
        .bills_by_invoice_number(env.org, "INV-OLD")
        .unwrap();
    assert_eq!(old[0].paid, 0);
}

/// `/ping` and `/ping/{echo}`; credentials are optional there but checked when sent.
async fn ping(db: TestDb) {
    let env = Env::new(&db).await;
    let a = env.send(env.app.client.get(env.app.url("/ping"))).await;
    assert_eq!(
        (a.status, a.body),
        (200, json!({"rc": 0, "message": "pong"}))
    );
    let b = env.get("/ping/hello").await;
    assert_eq!(
        (b.status, b.body),
        (200, json!({"rc": 0, "message": "hello"}))
    );
    let c = env
        .send(
            env.app
                .client
                .get(env.app.url("/ping"))
                .header("U", &env.user)
                .header("ST", "1")
                .header("SH", "x"),
        )
        .await;
    assert_eq!(c.status, 401);
}

/// Concurrent payments with one code: exactly one is posted.
async fn concurrent_use_of_one_code(db: TestDb) {
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

billhub_http::http_backend_tests!(
    concurrent_use_of_one_code,
    seed_get_invoices,
    total_payment,
    discrete_payment,
    open_payment_with_fee_and_credit,
    transaction_code_rules,
    replayed_and_conflicting_reference,
    revert_in_and_out_of_window,
    transaction_info,
    authentication,
    invalid_parameters,
    not_acceptable,
    expired_and_nothing_pending,
    ping,
);
