//! The Merchant Proxy `/proxy`: every field of an answer, codes 1 to 4, min/max per rule and settlement mode.

use crate::prelude::*;

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
        // The oldest bill's outstanding (issue 10, defect 5).
        ("discrete", (json!(15), json!(10), json!(15))),
        ("open", (json!(15), json!(-1), json!(-1))),
    ] {
        env.set("settlement", mode);
        let (_, body) = env.post("/proxy", &json!({"consumer_code": "ACC"})).await;
        assert_eq!(bounds(&body), want, "{mode}");
    }
}

billhub_http::http_backend_tests!(
    proxy_answers_an_account_and_a_bill,
    proxy_codes_one_to_four,
    proxy_min_and_max,
);
