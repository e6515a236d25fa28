//! The Bill24 Merchant Proxy over HTTP, on SQLite and PostgreSQL: every answer code, the seed's
//! pending-bills example, payments in the statement, min/max per rule and settlement mode, the
//! webhook in both generations (idempotency, concurrency, allocation, unapplied money, allow
//! list), auth and malformed requests.

// Helpers outside `#[test]` functions unwrap too (the clippy.toml test allowance covers only
// test functions and `cfg(test)` modules).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use billhub_core::{BillStatus, Currency, PaymentRule, SettlementMode};
use billhub_store::ReversalRequest;
use billhub_store::testing::TestDb;
use common::{BillSpec, Env, PUBLIC, current, is_link, organization, post, post_raw};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::{date, datetime};

/// Just after 01/09/2025 in the organization's offset (+07:00).
const NOW: OffsetDateTime = datetime!(2025-09-01 10:00 +7);

const SUCCESS: &str = r#"{"status":"Success","message":"SUCCESS"}"#;

fn success() -> Value {
    serde_json::from_str(SUCCESS).unwrap()
}

fn code(body: &Value) -> i64 {
    body["code"].as_i64().unwrap()
}

/// Code 0 with every field exact, by account code, by bill number and by invoice number.
async fn proxy_answers_an_account_and_a_bill(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let first = env.bill(
        "CU003035",
        BillSpec::khr(5000, date!(2025 - 08 - 01)).due(date!(2025 - 08 - 31)),
    );
    env.bill(
        "CU003035",
        BillSpec::khr(5000, date!(2025 - 09 - 01))
            .due(date!(2025 - 09 - 30))
            .invoice("INV-10004567")
            .description("Invoice on Sep-2025"),
    );

    let (status, body) = env
        .post("/proxy", &json!({"consumer_code": "CU003035"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "code": 0,
            "message": "Success",
            "message_kh": "ជោគជ័យ",
            "data": {
                "consumer_code": "CU003035",
                "consumer_name": "ញ៉េប នីម",
                "consumer_name_latin": "Nheb Nim",
                "phone": "010888999",
                "currency": "KHR",
                "due_amount": 10000,
                "min_amount": -1,
                "max_amount": -1,
                "balance": 0,
                "description": "Invoice on Sep-2025",
                "last_bill_date": "2025-9-1 00:00:00",
                "last_due_date": "2025-9-30 23:59:59",
                "last_pay_date": ""
            }
        })
    );

    // A bill's public number: that bill alone, under its own (exact) rule. `biller_code` is ignored.
    let (status, body) = env
        .post(
            "/proxy",
            &json!({"consumer_code": first.public_no, "biller_code": "B1"}),
        )
        .await;
    assert_eq!(status, 200);
    let data = &body["data"];
    assert_eq!(code(&body), 0);
    assert_eq!(data["consumer_code"], json!(first.public_no));
    assert_eq!(data["due_amount"], json!(5000));
    assert_eq!(data["min_amount"], json!(5000));
    assert_eq!(data["max_amount"], json!(5000));
    assert_eq!(
        data["description"],
        json!(format!("Invoice {}", first.public_no))
    );
    assert_eq!(data["last_bill_date"], json!("2025-8-1 00:00:00"));
    assert_eq!(data["last_due_date"], json!("2025-8-31 23:59:59"));

    // An invoice number.
    let (_, body) = env
        .post("/proxy", &json!({"consumer_code": "INV-10004567"}))
        .await;
    assert_eq!(code(&body), 0);
    assert_eq!(body["data"]["description"], json!("Invoice on Sep-2025"));
    assert_eq!(body["data"]["due_amount"], json!(5000));

    // After a payment of the first bill: the last payment date in the organization's offset.
    let (status, reply) = env
        .post(
            "/webhook",
            &current("T-PAY-1", "KHR", json!(5000), "CU003035", &first.public_no),
        )
        .await;
    assert_eq!((status, reply), (200, success()));
    let (_, body) = env
        .post("/proxy", &json!({"consumer_code": "CU003035"}))
        .await;
    assert_eq!(body["data"]["due_amount"], json!(5000));
    assert_eq!(body["data"]["last_pay_date"], json!("2025-9-1 09:58:16"));
    // Amounts are numbers without a needless fraction, in the raw text too.
    let raw = env
        .app
        .client
        .post(env.app.url("/proxy"))
        .header("token", &env.token)
        .json(&json!({"consumer_code": "CU003035"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.contains(r#""due_amount":5000,"#), "{raw}");
}

/// Codes 1 to 4, each with its English and Khmer message, HTTP 200 and no data.
async fn proxy_codes_one_to_four(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let expect = |body: &Value, n: i64, en: &str, kh: &str| {
        assert_eq!(
            body,
            &json!({"code": n, "message": en, "message_kh": kh, "data": null}),
            "{body}"
        );
    };

    // 1: nothing with this code; a void bill is not found either.
    let (status, body) = env.post("/proxy", &json!({"consumer_code": "NOPE"})).await;
    assert_eq!(status, 200);
    expect(&body, 1, "Error Not Found", "រកមិនឃើញ");
    let void = env.bill("VOID1", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    env.store().void_bill(void.id, "test", NOW).unwrap();
    let (_, body) = env
        .post("/proxy", &json!({"consumer_code": void.public_no}))
        .await;
    expect(&body, 1, "Error Not Found", "រកមិនឃើញ");

    // 2: every unpaid bill has expired.
    let expired = env.bill(
        "EXP1",
        BillSpec::khr(5000, date!(2025 - 07 - 01)).valid_until(NOW - time::Duration::days(1)),
    );
    let (status, body) = env.post("/proxy", &json!({"consumer_code": "EXP1"})).await;
    assert_eq!(status, 200);
    expect(&body, 2, "Error Bill Over Due", "វិក្កយបត្រហួសកាលកំណត់");
    let (_, body) = env
        .post("/proxy", &json!({"consumer_code": expired.public_no}))
        .await;
    expect(&body, 2, "Error Bill Over Due", "វិក្កយបត្រហួសកាលកំណត់");

    // 3: nothing outstanding (paid through the webhook).
    let paid = env.bill("PAID1", BillSpec::usd(1050, date!(2025 - 08 - 01)));
    let (_, reply) = env
        .post(
            "/webhook",
            &current("T-PAID1", "USD", json!(10.5), "PAID1", ""),
        )
        .await;
    assert_eq!(reply, success());
    assert_eq!(env.store().bill(paid.id).unwrap().status, BillStatus::Paid);
    for c in ["PAID1", paid.public_no.as_str()] {
        let (status, body) = env.post("/proxy", &json!({"consumer_code": c})).await;
        assert_eq!(status, 200);
        expect(&body, 3, "Error No Amount To Pay", "មិនមានចំនួនទឹកប្រាក់ត្រូវបង់");
    }

    // 4: a currency Bill24 does not carry, or payable bills in two currencies.
    env.bill(
        "CARD123456",
        BillSpec::new(Currency::EUR, 6500, date!(2025 - 08 - 01)).invoice("INV-10004567"),
    );
    env.bill(
        "CARD123456",
        BillSpec::new(Currency::EUR, 6000, date!(2025 - 09 - 01)).invoice("INV-10004568"),
    );
    env.bill("MIX1", BillSpec::usd(1000, date!(2025 - 08 - 01)));
    env.bill("MIX1", BillSpec::khr(4000, date!(2025 - 08 - 01)));
    for c in ["CARD123456", "INV-10004568", "MIX1"] {
        let (status, body) = env.post("/proxy", &json!({"consumer_code": c})).await;
        assert_eq!(status, 200);
        expect(&body, 4, "Error Currency Not Allow", "រូបិយប័ណ្ណមិនត្រូវបានអនុញ្ញាត");
    }
    let (_, body) = env
        .post("/pending_bills", &json!({"consumer_code": "CARD123456"}))
        .await;
    expect(&body, 4, "Error Currency Not Allow", "រូបិយប័ណ្ណមិនត្រូវបានអនុញ្ញាត");
    let (_, body) = env
        .post("/pending_bills", &json!({"consumer_code": "NOPE"}))
        .await;
    expect(&body, 1, "Error Not Found", "រកមិនឃើញ");
}

/// min_amount / max_amount per bill rule (exact, partial, open) and per settlement mode.
async fn proxy_min_and_max(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Total).await;
    let bounds = |body: &Value| {
        assert_eq!(code(body), 0, "{body}");
        (
            body["data"]["due_amount"].clone(),
            body["data"]["min_amount"].clone(),
            body["data"]["max_amount"].clone(),
        )
    };
    let d = date!(2025 - 08 - 01);
    let exact = env.bill("R1", BillSpec::usd(1050, d));
    let partial = env.bill(
        "R2",
        BillSpec::usd(1000, d).rule(PaymentRule::Partial { minimum: Some(300) }),
    );
    let partial_any = env.bill(
        "R3",
        BillSpec::usd(1000, d).rule(PaymentRule::Partial { minimum: None }),
    );
    let open = env.bill("R4", BillSpec::khr(5000, d).rule(PaymentRule::Open));
    for (bill, want) in [
        (&exact, (json!(10.5), json!(10.5), json!(10.5))),
        (&partial, (json!(10), json!(3), json!(10))),
        (&partial_any, (json!(10), json!(-1), json!(10))),
        (&open, (json!(5000), json!(-1), json!(-1))),
    ] {
        let (_, body) = env
            .post("/proxy", &json!({"consumer_code": bill.public_no}))
            .await;
        assert_eq!(bounds(&body), want, "{:?}", bill.rule);
    }

    // An account: its payable bills together, bounded by the settlement mode.
    env.bill("ACC", BillSpec::usd(1000, date!(2025 - 07 - 01)));
    env.bill("ACC", BillSpec::usd(500, date!(2025 - 08 - 01)));
    for (mode, want) in [
        ("total", (json!(15), json!(15), json!(15))),
        ("discrete", (json!(15), json!(5), json!(15))),
        ("open", (json!(15), json!(-1), json!(-1))),
    ] {
        env.set("settlement", mode);
        let (_, body) = env.post("/proxy", &json!({"consumer_code": "ACC"})).await;
        assert_eq!(bounds(&body), want, "{mode}");
    }
}

/// The seed's "Example Pending Bills", field for field: an older bill makes the opening balance
/// 20,000 KHR and six bills of 5,000 follow on the listed dates.
async fn pending_bills_seed_example(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill("CU003035", BillSpec::khr(20000, date!(2024 - 05 - 01)));
    let mut bills = Vec::new();
    for d in [
        date!(2025 - 05 - 20),
        date!(2025 - 06 - 01),
        date!(2025 - 06 - 15),
        date!(2025 - 07 - 01),
        date!(2025 - 08 - 01),
        date!(2025 - 09 - 01),
    ] {
        bills.push(env.bill("CU003035", BillSpec::khr(5000, d)));
    }
    let (status, body) = env
        .post("/pending_bills", &json!({"consumer_code": "CU003035"}))
        .await;
    assert_eq!(status, 200);
    let url = |i: usize| format!("{PUBLIC}/b/{}", bills[i].public_no);
    // The seed's example, with billhub's links (the seed's are placeholders) and Khmer message.
    assert_eq!(
        body,
        json!({
            "code": 0,
            "message": "Success",
            "message_kh": "ជោគជ័យ",
            "data": {
                "opening_balance": 20000,
                "pending_bills": [
                    { "date": "01/09/2025", "amount": 5000, "balance": 50000, "digital_bill_url": url(5) },
                    { "date": "01/08/2025", "amount": 5000, "balance": 45000, "digital_bill_url": url(4) },
                    { "date": "01/07/2025", "amount": 5000, "balance": 40000, "digital_bill_url": url(3) },
                    { "date": "15/06/2025", "amount": 5000, "balance": 35000, "digital_bill_url": url(2) },
                    { "date": "01/06/2025", "amount": 5000, "balance": 30000, "digital_bill_url": url(1) },
                    { "date": "20/05/2025", "amount": 5000, "balance": 25000, "digital_bill_url": url(0) }
                ]
            }
        })
    );
    for line in body["data"]["pending_bills"].as_array().unwrap() {
        assert!(
            is_link(line["digital_bill_url"].as_str().unwrap(), "b"),
            "{line}"
        );
    }
    // The same statement for one of the account's bill numbers.
    let (_, again) = env
        .post(
            "/pending_bills",
            &json!({"consumer_code": bills[2].public_no}),
        )
        .await;
    assert_eq!(again, body);
}

/// Payments are negative, reversals positive, void bills not listed; the window and the cap come
/// from the organization's settings.
async fn pending_bills_payments_negative(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill("STMT", BillSpec::khr(5000, date!(2025 - 07 - 01)));
    env.bill("STMT", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let void = env.bill("STMT", BillSpec::khr(1000, date!(2025 - 08 - 20)));
    env.store().void_bill(void.id, "cancelled", NOW).unwrap();
    let mut pay = current("T-STMT", "KHR", json!(7000), "STMT", "");
    pay["tran_date"] = json!("2025-08-15T10:00:00");
    let (_, reply) = env.post("/webhook", &pay).await;
    assert_eq!(reply, success());
    let payment = env
        .store()
        .payment_by_channel_ref("bill24", "T-STMT")
        .unwrap()
        .unwrap();
    assert_eq!((payment.amount, payment.credit), (700000, 200000));
    let receipt = format!("{PUBLIC}/r/{}", payment.uid);

    let (_, body) = env
        .post("/pending_bills", &json!({"consumer_code": "STMT"}))
        .await;
    let lines = body["data"]["pending_bills"].as_array().unwrap().clone();
    assert_eq!(body["data"]["opening_balance"], json!(0));
    assert_eq!(lines.len(), 3, "{body}");
    assert_eq!(
        lines[0],
        json!({"date": "15/08/2025", "amount": -7000, "balance": 3000, "digital_bill_url": receipt})
    );
    assert!(is_link(lines[0]["digital_bill_url"].as_str().unwrap(), "r"));
    assert_eq!(
        (
            lines[1]["date"].clone(),
            lines[1]["amount"].clone(),
            lines[1]["balance"].clone()
        ),
        (json!("01/08/2025"), json!(5000), json!(10000))
    );
    assert_eq!(lines[2]["balance"], json!(5000));

    // A reversal comes back as a positive entry.
    env.store()
        .reverse_payment(
            &ReversalRequest {
                organization_id: env.org.id,
                payment_id: payment.id,
                channel: "cli".into(),
                channel_ref: "REV-1".into(),
                request_hash: "rev-1".into(),
                reason: "bank reversal".into(),
                window: None,
            },
            NOW,
        )
        .unwrap();
    let (_, body) = env
        .post("/pending_bills", &json!({"consumer_code": "STMT"}))
        .await;
    let lines = body["data"]["pending_bills"].as_array().unwrap().clone();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        json!({"date": "01/09/2025", "amount": 7000, "balance": 10000, "digital_bill_url": receipt})
    );

    // At most two entries: the older ones go into the opening balance.
    env.set("bill24.statement_max_entries", "2");
    let (_, body) = env
        .post("/pending_bills", &json!({"consumer_code": "STMT"}))
        .await;
    assert_eq!(body["data"]["opening_balance"], json!(10000));
    assert_eq!(body["data"]["pending_bills"].as_array().unwrap().len(), 2);
    // One month back from 01/09/2025: entries from 01/08/2025.
    env.set("bill24.statement_max_entries", "24");
    env.set("bill24.statement_months", "1");
    let (_, body) = env
        .post("/pending_bills", &json!({"consumer_code": "STMT"}))
        .await;
    assert_eq!(body["data"]["opening_balance"], json!(5000));
    assert_eq!(body["data"]["pending_bills"].as_array().unwrap().len(), 3);
}

/// The current generation pays an account under the settlement mode; the payment carries the
/// Bill24 details.
async fn webhook_current_generation(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let a = env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let b = env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 09 - 01)));
    let payload = current(
        "348b4b16-1f06-4563-8204-105a8420a067",
        "KHR",
        json!(10000),
        "CU003035",
        "",
    );
    let (status, reply) = env.post("/webhook", &payload).await;
    assert_eq!((status, reply), (200, success()));
    let p = env
        .store()
        .payment_by_channel_ref("bill24", "348b4b16-1f06-4563-8204-105a8420a067")
        .unwrap()
        .unwrap();
    assert_eq!(p.amount, 1000000);
    assert_eq!(p.currency, Currency::KHR);
    assert_eq!(p.method, "ACLEDA");
    assert_eq!(p.payer_name, "MAO SAMON");
    assert_eq!(p.allocations.len(), 2);
    assert_eq!(
        p.paid_at.to_offset(env.org.utc_offset).date(),
        date!(2025 - 09 - 01)
    );
    let details: Value = serde_json::from_str(&p.details).unwrap();
    assert_eq!(details["transaction"]["bank_ref"], json!("AC00112301"));
    assert_eq!(details["customer"]["customer_code"], json!("CU003035"));
    for id in [a.id, b.id] {
        assert_eq!(env.store().bill(id).unwrap().status, BillStatus::Paid);
    }
}

/// The older generation: `tnx_id`, one customer, `bills[]` by id or sync code, fees recorded
/// but not applied, no `status`.
async fn webhook_older_generation(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let one = env.bill("CU003035", BillSpec::usd(1000, date!(2025 - 08 - 01)));
    let older = |tnx: &str, amount: Value, bills: Value| {
        json!({ "tnx_id": tnx, "tran_amount": amount, "customer_fee": 0.20, "supplier_fee": 0,
            "total_amount": 10.20, "currency": "USD", "bank_name": "ACLEDA", "bank_ref": "FT00003941",
            "customer_sync_code": "", "customer_code": "CU003035", "customer_name": "Nheb Nim",
            "customer_phone": "09294303", "paid_by": "893-349-349-3449", "paid_date": "2025-08-30 10:46:33",
            "description": "", "checkout_ref": "", "bills": bills })
    };
    let (status, reply) = env
        .post(
            "/webhook",
            &older(
                "BUb4CmDE",
                json!(10),
                json!([{"id": one.public_no, "sync_code": ""}]),
            ),
        )
        .await;
    assert_eq!((status, reply), (200, success()));
    let p = env
        .store()
        .payment_by_channel_ref("bill24", "BUb4CmDE")
        .unwrap()
        .unwrap();
    assert_eq!((p.amount, p.fee), (1000, 20));
    assert_eq!(p.allocations[0].bill_id, one.id);
    assert_eq!(p.paid_at, datetime!(2025-08-30 10:46:33 +7));
    assert_eq!(env.store().bill(one.id).unwrap().status, BillStatus::Paid);

    // Two bills named (an invoice number as id, a public number as sync code): each paid whole.
    let two = env.bill(
        "CU003035",
        BillSpec::usd(500, date!(2025 - 08 - 02)).invoice("INV-2"),
    );
    let three = env.bill("CU003035", BillSpec::usd(700, date!(2025 - 08 - 03)));
    let (_, reply) = env
        .post(
            "/webhook",
            &older(
                "XYZ12345",
                json!(12),
                json!([{"id": "INV-2"}, {"id": "", "sync_code": three.public_no}]),
            ),
        )
        .await;
    assert_eq!(reply, success());
    for id in [two.id, three.id] {
        assert_eq!(env.store().bill(id).unwrap().status, BillStatus::Paid);
    }

    // No bills named: the account under the settlement mode. Nothing is payable any more, so
    // core refuses it (nothing to pay) and the money is kept as unapplied, still acknowledged.
    let (_, reply) = env
        .post("/webhook", &older("NOBILLS1", json!(3), json!([])))
        .await;
    assert_eq!(reply, success());
    let un = env.store().unapplied_payments(Some(env.org.id)).unwrap();
    assert_eq!(un.len(), 1);
    assert_eq!(
        (
            un[0].channel_ref.as_str(),
            un[0].account_code.as_str(),
            un[0].amount
        ),
        ("NOBILLS1", "CU003035", 300)
    );
    assert!(un[0].reason.contains("nothing_to_pay"), "{}", un[0].reason);
}

/// A repeat answers Error and changes nothing; a repeat with other content too.
async fn webhook_duplicate_delivery(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill(
        "DUP",
        BillSpec::khr(5000, date!(2025 - 08 - 01)).rule(PaymentRule::Open),
    );
    let payload = current("T-DUP", "KHR", json!(3000), "DUP", "");
    let (_, reply) = env.post("/webhook", &payload).await;
    assert_eq!(reply, success());
    let (status, reply) = env.post("/webhook", &payload).await;
    assert_eq!(status, 200);
    assert_eq!(reply["status"], json!("Error"));
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("already recorded"),
        "{reply}"
    );
    let mut other = payload.clone();
    other["tran_amount"] = json!(4000);
    other["customers"][0]["amount"] = json!(4000);
    let (status, reply) = env.post("/webhook", &other).await;
    assert_eq!(status, 200);
    assert_eq!(reply["status"], json!("Error"));
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("different content"),
        "{reply}"
    );
    let after = env.store().bill(bill.id).unwrap();
    assert_eq!(after.paid, 300000);
    assert_eq!(env.store().payments_of_bill(bill.id).unwrap().len(), 1);
    assert!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .is_empty()
    );
}

/// Twenty concurrent deliveries of one transaction: paid once, one Success, the rest Error.
async fn webhook_concurrent_deliveries(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill(
        "CONC",
        BillSpec::khr(5000, date!(2025 - 08 - 01)).rule(PaymentRule::Open),
    );
    let payload = current("T-CONC", "KHR", json!(2000), "CONC", "");
    let calls = (0..20).map(|_| post(&env.app, "/webhook", Some(&env.token), &payload));
    let replies = futures_util::future::join_all(calls).await;
    let ok = replies
        .iter()
        .filter(|(s, r)| *s == 200 && r["status"] == json!("Success"))
        .count();
    let dup = replies
        .iter()
        .filter(|(s, r)| *s == 200 && r["status"] == json!("Error"))
        .count();
    assert_eq!((ok, dup), (1, 19), "{replies:?}");
    let after = env.store().bill(bill.id).unwrap();
    assert_eq!(
        (after.paid, after.status),
        (200000, BillStatus::PartiallyPaid)
    );
    assert_eq!(env.store().payments_of_bill(bill.id).unwrap().len(), 1);
}

/// Under `open`: one payment spread oldest first over several bills, the rest kept as credit
/// (shown as `balance`); several customers in one transaction each get their own payment.
async fn webhook_allocation_and_credit(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let old = env.bill(
        "OPEN1",
        BillSpec::khr(5000, date!(2025 - 07 - 01)).due(date!(2025 - 07 - 31)),
    );
    let new = env.bill(
        "OPEN1",
        BillSpec::khr(5000, date!(2025 - 08 - 01)).due(date!(2025 - 08 - 31)),
    );
    let (_, reply) = env
        .post(
            "/webhook",
            &current("T-ALLOC", "KHR", json!(12000), "OPEN1", ""),
        )
        .await;
    assert_eq!(reply, success());
    let p = env
        .store()
        .payment_by_channel_ref("bill24", "T-ALLOC")
        .unwrap()
        .unwrap();
    let allocs: Vec<(i64, i64)> = p
        .allocations
        .iter()
        .map(|a| (a.bill_id, a.amount))
        .collect();
    assert_eq!(allocs, vec![(old.id, 500000), (new.id, 500000)]);
    assert_eq!(p.credit, 200000);
    let (_, body) = env.post("/proxy", &json!({"consumer_code": "OPEN1"})).await;
    assert_eq!(code(&body), 3);
    env.bill("OPEN1", BillSpec::khr(5000, date!(2025 - 09 - 01)));
    let (_, body) = env.post("/proxy", &json!({"consumer_code": "OPEN1"})).await;
    assert_eq!(body["data"]["due_amount"], json!(5000));
    assert_eq!(body["data"]["balance"], json!(2000));

    // Two customers in one transaction: references T-MULTI and T-MULTI:2.
    let a = env.bill("CUST-A", BillSpec::usd(1000, date!(2025 - 08 - 01)));
    let b = env.bill("CUST-B", BillSpec::usd(250, date!(2025 - 08 - 01)));
    let mut multi = current("T-MULTI", "USD", json!(12.5), "CUST-A", "");
    multi["customers"] = json!([
        {"customer_code": "CUST-A", "customer_name": "A", "bill_no": "", "amount": 10},
        {"customer_code": "CUST-B", "customer_name": "B", "bill_no": b.public_no, "amount": 2.5}
    ]);
    let (_, reply) = env.post("/webhook", &multi).await;
    assert_eq!(reply, success());
    let first = env
        .store()
        .payment_by_channel_ref("bill24", "T-MULTI")
        .unwrap()
        .unwrap();
    let second = env
        .store()
        .payment_by_channel_ref("bill24", "T-MULTI:2")
        .unwrap()
        .unwrap();
    assert_eq!((first.amount, first.allocations[0].bill_id), (1000, a.id));
    assert_eq!((second.amount, second.allocations[0].bill_id), (250, b.id));
    let (_, reply) = env.post("/webhook", &multi).await;
    assert_eq!(reply["status"], json!("Error"));
    // One customer fewer under the same id: refused as different content, nothing posted.
    let mut fewer = multi.clone();
    fewer["tran_amount"] = json!(10);
    fewer["customers"] = json!([multi["customers"][0].clone()]);
    let (_, reply) = env.post("/webhook", &fewer).await;
    assert_eq!(reply["status"], json!("Error"));
    assert_eq!(env.store().payments_of_bill(a.id).unwrap().len(), 1);
}

/// Money the bank took that cannot be applied is kept as unapplied, acknowledged, never twice.
async fn webhook_unapplied_money(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let khr = env.bill("KHR1", BillSpec::khr(5000, date!(2025 - 08 - 01)));

    // Unknown customer.
    let unknown = current("T-GHOST", "KHR", json!(5000), "GHOST", "");
    let (status, reply) = env.post("/webhook", &unknown).await;
    assert_eq!((status, reply), (200, success()));
    // Currency mismatch: USD for a KHR bill.
    let (_, reply) = env
        .post(
            "/webhook",
            &current("T-USD", "USD", json!(5), "KHR1", &khr.public_no),
        )
        .await;
    assert_eq!(reply, success());
    // Refused by the bill's rule: less than an exact bill.
    let (_, reply) = env
        .post(
            "/webhook",
            &current("T-SHORT", "KHR", json!(4000), "KHR1", &khr.public_no),
        )
        .await;
    assert_eq!(reply, success());
    // An unknown bill number.
    let (_, reply) = env
        .post(
            "/webhook",
            &current("T-NOBILL", "KHR", json!(5000), "KHR1", "NOSUCHNO"),
        )
        .await;
    assert_eq!(reply, success());

    let un = env.store().unapplied_payments(Some(env.org.id)).unwrap();
    let rows: Vec<(String, String, i64, String)> = un
        .iter()
        .map(|u| {
            let reason: Value = serde_json::from_str(&u.reason).unwrap();
            (
                u.channel_ref.clone(),
                u.account_code.clone(),
                u.amount,
                reason["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("T-GHOST".into(), "GHOST".into(), 500000, "not_found".into()),
            (
                "T-USD".into(),
                "KHR1".into(),
                500,
                "currency_mismatch".into()
            ),
            (
                "T-SHORT".into(),
                "KHR1".into(),
                400000,
                "must_equal_outstanding".into()
            ),
            ("T-NOBILL".into(), "KHR1".into(), 500000, "not_found".into()),
        ]
    );
    assert!(
        un.iter()
            .all(|u| u.channel == "bill24" && u.status == "open")
    );
    assert_eq!(env.store().bill(khr.id).unwrap().paid, 0);
    // A repeat is answered Error and records nothing more.
    let (_, reply) = env.post("/webhook", &unknown).await;
    assert_eq!(reply["status"], json!("Error"));
    assert_eq!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .len(),
        4
    );
}

/// Without a token, only an address on exactly one organization's allow list is accepted.
async fn webhook_allow_listed_caller(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill("ALLOW1", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let payload = current("T-ALLOW", "KHR", json!(5000), "ALLOW1", "");

    let (status, reply) = post(&env.app, "/webhook", None, &payload).await;
    assert_eq!(status, 401);
    assert_eq!(
        reply,
        json!({"status": "Error", "message": "The token header is missing."})
    );
    assert_eq!(env.store().bill(bill.id).unwrap().paid, 0);

    env.set("bill24.webhook_allow_ips", "10.9.8.7, 127.0.0.1");
    // A wrong token is refused even from an allowed address.
    let (status, reply) = post(
        &env.app,
        "/webhook",
        Some("0123456789abcdef0123456789abcdef"),
        &payload,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(reply["message"], json!("The token is not valid."));
    let (status, reply) = post(&env.app, "/webhook", None, &payload).await;
    assert_eq!((status, reply), (200, success()));
    assert_eq!(env.store().bill(bill.id).unwrap().status, BillStatus::Paid);

    // A second organization allow-listing the same address: no token is ambiguous.
    let (other, other_token) = organization(&env.app, "OTHERORG", SettlementMode::Open);
    env.store()
        .set_setting(other.id, "bill24.webhook_allow_ips", "127.0.0.1", NOW)
        .unwrap();
    let payload = current("T-ALLOW-2", "KHR", json!(5000), "ALLOW1", "");
    let (status, reply) = post(&env.app, "/webhook", None, &payload).await;
    assert_eq!(status, 401);
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("several organizations")
    );
    // The token decides: the other organization knows no ALLOW1, so its money is unapplied there.
    let (status, reply) = post(&env.app, "/webhook", Some(&other_token), &payload).await;
    assert_eq!((status, reply), (200, success()));
    let un = env.store().unapplied_payments(Some(other.id)).unwrap();
    assert_eq!(un.len(), 1);
    assert!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .is_empty()
    );
}

/// Missing or unknown tokens get 401 in the dialect's envelope, on every endpoint.
async fn bad_tokens(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let collections = env
        .store()
        .create_credential(env.org.id, "collections", false, NOW)
        .unwrap()
        .access_token
        .unwrap();
    let body = json!({"consumer_code": "CU003035"});
    for path in ["/proxy", "/pending_bills"] {
        let (status, reply) = post(&env.app, path, None, &body).await;
        assert_eq!(status, 401);
        assert_eq!(
            reply,
            json!({"code": 401, "message": "The token header is missing.", "message_kh": "មិនមានការអនុញ្ញាត", "data": null})
        );
        for bad in ["0123456789abcdef0123456789abcdef", collections.as_str()] {
            let (status, reply) = post(&env.app, path, Some(bad), &body).await;
            assert_eq!(status, 401);
            assert_eq!(reply["code"], json!(401));
            assert_eq!(reply["message"], json!("The token is not valid."));
            assert_eq!(reply["data"], Value::Null);
        }
    }
    let (status, reply) = post(
        &env.app,
        "/webhook",
        Some("nope"),
        &current("T-BAD", "KHR", json!(5000), "CU003035", ""),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        reply,
        json!({"status": "Error", "message": "The token is not valid."})
    );
    assert!(
        env.store()
            .payment_by_channel_ref("bill24", "T-BAD")
            .unwrap()
            .is_none()
    );
}

/// Malformed requests: 400 with a clear message in the same envelope; nothing recorded.
async fn malformed_requests(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let token = Some(env.token.as_str());
    let bad = |reply: &Value, needle: &str| {
        assert_eq!(reply["code"], json!(400), "{reply}");
        assert_eq!(reply["message_kh"], json!("សំណើមិនត្រឹមត្រូវ"));
        assert_eq!(reply["data"], Value::Null);
        assert!(
            reply["message"].as_str().unwrap().contains(needle),
            "{reply}"
        );
    };
    for path in ["/proxy", "/pending_bills"] {
        let (s, r) = post_raw(
            &env.app,
            path,
            token,
            Some("application/json"),
            "{\"consumer_code\": ".into(),
        )
        .await;
        assert_eq!(s, 400);
        bad(&r, "The body is not valid JSON");
        let (s, r) = post_raw(
            &env.app,
            path,
            token,
            Some("text/plain"),
            r#"{"consumer_code":"CU003035"}"#.into(),
        )
        .await;
        assert_eq!(s, 400);
        bad(&r, "The Content-Type must be application/json.");
        let (s, r) = post_raw(
            &env.app,
            path,
            token,
            None,
            r#"{"consumer_code":"CU003035"}"#.into(),
        )
        .await;
        assert_eq!(s, 400);
        bad(&r, "Content-Type");
        let (s, r) = post(&env.app, path, token, &json!({})).await;
        assert_eq!(s, 400);
        bad(&r, "consumer_code: The consumer_code field is required.");
        let (s, r) = post(&env.app, path, token, &json!({"consumer_code": 3035})).await;
        assert_eq!(s, 400);
        bad(&r, "consumer_code: The consumer_code must be a string.");
        let (s, r) = post(&env.app, path, token, &json!({"consumer_code": "  "})).await;
        assert_eq!(s, 400);
        bad(&r, "consumer_code");
        let (s, r) = post(&env.app, path, token, &json!(["CU003035"])).await;
        assert_eq!(s, 400);
        bad(&r, "The body must be a JSON object.");
    }
    // JSON with a charset is JSON.
    let (s, r) = post_raw(
        &env.app,
        "/proxy",
        token,
        Some("application/json; charset=utf-8"),
        r#"{"consumer_code":"CU003035"}"#.into(),
    )
    .await;
    assert_eq!((s, code(&r)), (200, 0));

    // Unknown routes and methods in the same envelope.
    let (s, r) = post(&env.app, "/nope", token, &json!({})).await;
    assert_eq!(
        (s, r["code"].clone(), r["data"].clone()),
        (404, json!(404), Value::Null)
    );
    let resp = env
        .app
        .client
        .get(env.app.url("/proxy"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["code"], json!(405));

    // The webhook: bad JSON, wrong types, zero and negative amounts, a total that does not add
    // up, too many decimals, an unknown currency, no customers.
    let webhook_bad = |s: u16, r: &Value, needles: &[&str]| {
        assert_eq!(s, 400, "{r}");
        assert_eq!(r["status"], json!("Error"), "{r}");
        for n in needles {
            assert!(r["message"].as_str().unwrap().contains(n), "{n} not in {r}");
        }
    };
    let (s, r) = post_raw(
        &env.app,
        "/webhook",
        token,
        Some("application/json"),
        "{\"tran_id\":".into(),
    )
    .await;
    webhook_bad(s, &r, &["The body is not valid JSON"]);
    let ok = current("T-V", "KHR", json!(5000), "CU003035", "");
    let mut wrong = ok.clone();
    wrong["tran_id"] = json!(12);
    wrong["tran_amount"] = json!("5000");
    wrong["customers"][0]["customer_code"] = json!(3035);
    wrong["customers"][0]["amount"] = json!(true);
    let (s, r) = post(&env.app, "/webhook", token, &wrong).await;
    webhook_bad(
        s,
        &r,
        &[
            "tran_id: The tran_id must be a string.",
            "tran_amount: The tran_amount must be a number.",
            "customers.0.customer_code",
            "customers.0.amount",
        ],
    );
    for amount in [json!(0), json!(-5000)] {
        let (s, r) = post(
            &env.app,
            "/webhook",
            token,
            &current("T-Z", "KHR", amount, "CU003035", ""),
        )
        .await;
        webhook_bad(
            s,
            &r,
            &[
                "tran_amount: The tran_amount must be greater than zero.",
                "customers.0.amount: The amount must be greater than zero.",
            ],
        );
    }
    let mut sum = ok.clone();
    sum["tran_amount"] = json!(6000);
    let (s, r) = post(&env.app, "/webhook", token, &sum).await;
    webhook_bad(
        s,
        &r,
        &["The tran_amount 6000 does not equal the sum of the customers' amounts 5000."],
    );
    let (s, r) = post(
        &env.app,
        "/webhook",
        token,
        &current("T-P", "USD", json!(10.505), "CU003035", ""),
    )
    .await;
    webhook_bad(
        s,
        &r,
        &["tran_amount: The tran_amount is not a valid USD amount"],
    );
    let (s, r) = post(
        &env.app,
        "/webhook",
        token,
        &current("T-C", "XYZ", json!(5), "CU003035", ""),
    )
    .await;
    webhook_bad(s, &r, &["currency"]);
    let mut none = ok.clone();
    none["customers"] = json!([]);
    let (s, r) = post(&env.app, "/webhook", token, &none).await;
    webhook_bad(
        s,
        &r,
        &["customers: The customers must list at least one customer."],
    );
    let (s, r) = post(&env.app, "/webhook", token, &json!({"tran_amount": 5})).await;
    webhook_bad(
        s,
        &r,
        &[
            "tran_id: The tran_id field is required.",
            "currency",
            "status",
            "customers",
        ],
    );

    assert!(
        env.store()
            .payments_of_account(
                env.store()
                    .account_by_code(env.org.id, "CU003035")
                    .unwrap()
                    .unwrap()
                    .id
            )
            .unwrap()
            .is_empty()
    );
    assert!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .is_empty()
    );
}

/// A transaction whose status is not `success` is acknowledged and not applied.
async fn webhook_status_not_success(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill("FAIL1", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let mut payload = current("T-FAILED", "KHR", json!(5000), "FAIL1", "");
    payload["status"] = json!("failed");
    let (status, reply) = env.post("/webhook", &payload).await;
    assert_eq!(status, 200);
    assert_eq!(reply["status"], json!("Success"));
    assert!(
        reply["message"].as_str().unwrap().contains("not applied"),
        "{reply}"
    );
    assert_eq!(env.store().bill(bill.id).unwrap().paid, 0);
    assert!(
        env.store()
            .payment_by_channel_ref("bill24", "T-FAILED")
            .unwrap()
            .is_none()
    );
    assert!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .is_empty()
    );
}

/// A body over the limit is refused with 413 in the envelope, on the proxy and the webhook.
async fn body_too_large(db: TestDb) {
    let mut config = billhub_http::Config::for_tests(&db.url, db.store.master_key().clone());
    config.body_limit = 256;
    let app = billhub_http::testing::TestApp::spawn_with(
        bill24_proxy::gateway(),
        &db,
        billhub_http::Clock::fixed(NOW),
        config,
    )
    .await;
    let (_, token) = organization(&app, "DEMOORG1", SettlementMode::Open);
    let big = json!({"consumer_code": "X".repeat(1000)});
    let (status, reply) = post(&app, "/proxy", Some(&token), &big).await;
    assert_eq!(status, 413);
    assert_eq!(reply["code"], json!(413));
    assert_eq!(reply["data"], Value::Null);
    let (status, _) = post(&app, "/webhook", Some(&token), &big).await;
    assert_eq!(status, 413);
}

billhub_http::http_backend_tests!(
    body_too_large,
    proxy_answers_an_account_and_a_bill,
    proxy_codes_one_to_four,
    proxy_min_and_max,
    pending_bills_seed_example,
    pending_bills_payments_negative,
    webhook_current_generation,
    webhook_older_generation,
    webhook_duplicate_delivery,
    webhook_concurrent_deliveries,
    webhook_allocation_and_credit,
    webhook_unapplied_money,
    webhook_allow_listed_caller,
    bad_tokens,
    malformed_requests,
    webhook_status_not_success,
);
