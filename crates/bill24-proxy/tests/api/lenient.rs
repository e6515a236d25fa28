//! Issue 11: what Bill24's real clients send is taken. Money Bill24 has already taken is never
//! answered 400 for its shape: above the minimum (a transaction id, an amount, a currency) a
//! delivery is applied when it can be, else kept whole as unapplied with its raw body, and
//! answered `Success`; its repeat answers `Error` with HTTP 200. The 2025 schema (every field
//! optional: `total_amount`, `identity_code`, no `customers`), currencies in any case, amounts
//! in exponent form, and the webhook's caller behind a trusted load balancer.

use crate::prelude::*;

fn unapplied(env: &Env) -> Vec<billhub_store::UnappliedPayment> {
    env.store().unapplied_payments(Some(env.org.id)).unwrap()
}

/// Bodies with wrong types, a total that does not add up, a customer without a code: kept
/// whole as unapplied (reason `not_found`, raw body and every bad field in the details),
/// `Success`; the repeat `Error` with HTTP 200, nothing more recorded.
async fn unreadable_money_is_kept(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let mut wrong = current("T-WRONG", "KHR", json!(5000), "CU003035", "");
    wrong["customers"][0]["amount"] = json!(true);
    wrong["status"] = json!(1);
    let mut sum = current("T-SUM", "KHR", json!(6000), "CU003035", "");
    sum["customers"][0]["amount"] = json!(5000);
    let mut nobody = current("T-NOBODY", "KHR", json!(5000), "", "");
    nobody["identity_code"] = json!("");
    for body in [&wrong, &sum, &nobody] {
        let (status, reply) = env.post("/webhook", body).await;
        assert_eq!((status, reply), (200, success()), "{body}");
    }
    assert_eq!(env.store().bill(bill.id).unwrap().paid, 0);
    let un = unapplied(&env);
    let rows: Vec<(&str, &str, i64, &str)> = un
        .iter()
        .map(|u| {
            (
                u.channel_ref.as_str(),
                u.account_code.as_str(),
                u.amount,
                u.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("T-WRONG", "CU003035", 500_000, r#"{"reason":"not_found"}"#),
            ("T-SUM", "CU003035", 600_000, r#"{"reason":"not_found"}"#),
            ("T-NOBODY", "", 500_000, r#"{"reason":"not_found"}"#),
        ]
    );
    for (u, (body, why)) in un.iter().zip([
        (&wrong, "customers.0.amount: The amount must be a number."),
        (
            &sum,
            "tran_amount: The tran_amount 6000 does not equal the sum of the customers' amounts 5000.",
        ),
        (
            &nobody,
            "customers.0.customer_code: The customer_code field is required (or identity_code).",
        ),
    ]) {
        let details: Value = serde_json::from_str(&u.details).unwrap();
        assert_eq!(details["raw_body"], json!(body.to_string()));
        assert!(
            details["unreadable"].as_str().unwrap().contains(why),
            "{why} not in {details}"
        );
    }
    let status_text: Value = serde_json::from_str(&un[0].details).unwrap();
    assert!(
        status_text["unreadable"]
            .as_str()
            .unwrap()
            .contains("status: The status must be a string."),
        "{status_text}"
    );
    // Pushed twice: Error, HTTP 200, nothing more.
    for body in [&wrong, &sum, &nobody] {
        let (status, reply) = env.post("/webhook", body).await;
        assert_eq!(status, 200);
        assert_eq!(reply["status"], json!("Error"), "{reply}");
    }
    assert_eq!(unapplied(&env).len(), 3);
    // The same id readable now: still Error (recorded with other content), never paid twice.
    let fixed = current("T-WRONG", "KHR", json!(5000), "CU003035", "");
    let (status, reply) = env.post("/webhook", &fixed).await;
    assert_eq!((status, &reply["status"]), (200, &json!("Error")));
    assert_eq!(env.store().bill(bill.id).unwrap().paid, 0);
}

/// The 2025 schema as KHQR and device flows send it: `total_amount` without `tran_amount`, no
/// `status`, `customers` empty or a blank code, `identity_code` naming the consumer, currency
/// in lower case, ids as numbers: applied.
async fn the_2025_schema_is_applied(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let a = env.bill("CU1", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let b = env.bill("CU2", BillSpec::usd(4500, date!(2025 - 08 - 01)));
    let c = env.bill("37627011", BillSpec::usd(1000, date!(2025 - 08 - 01)));
    let khqr = json!({"tran_id": "Q-1", "payment_service_type": "KHQR", "total_amount": 5000,
        "currency": "khr", "identity_code": "CU1", "customers": []});
    let device = json!({"tran_id": 9_876_543_210_u64, "tran_amount": 45, "currency": "Usd",
        "identity_code": "CU2", "device_code": "SN-1", "status": "SUCCESS",
        "customers": [{"customer_code": "", "bill_no": "", "amount": 45}]});
    let bare = json!({"tran_id": "Q-3", "tran_amount": 10, "currency": "usd",
        "identity_code": 37_627_011});
    for body in [&khqr, &device, &bare] {
        let (status, reply) = env.post("/webhook", body).await;
        assert_eq!((status, reply), (200, success()), "{body}");
    }
    for (bill, paid) in [(&a, 500_000), (&b, 4500), (&c, 1000)] {
        assert_eq!(env.store().bill(bill.id).unwrap().paid, paid);
    }
    assert!(unapplied(&env).is_empty());
    let p = env
        .store()
        .payment_by_channel_ref("bill24", "9876543210")
        .unwrap()
        .unwrap();
    assert_eq!((p.amount, p.currency.code()), (4500, "USD"));
    // Pushed twice: Error with HTTP 200.
    let (status, reply) = env.post("/webhook", &khqr).await;
    assert_eq!(status, 200);
    assert_eq!(
        reply,
        json!({"status": "Error", "message": "Transaction Q-1 was already recorded; nothing was changed."})
    );
}

/// Java writes doubles of 10,000,000 and more in exponent form: `1.0E7` KHR is read exactly
/// by the webhook (and `1.2345678E7`), and `/proxy` then answers the exact amounts left.
async fn exponent_amounts(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill(
        "BIG1",
        BillSpec::khr(22_345_678, date!(2025 - 08 - 01))
            .rule(PaymentRule::Partial { minimum: None }),
    );
    let (status, reply) = env.post("/proxy", &json!({"consumer_code": "BIG1"})).await;
    assert_eq!((status, code(&reply)), (200, 0));
    assert_eq!(reply["data"]["due_amount"].to_string(), "22345678");
    let body = |id: &str, amount: &str| {
        format!(
            r#"{{"tran_id":"{id}","tran_amount":{amount},"currency":"KHR","status":"success","customers":[{{"customer_code":"BIG1","customer_name":"","bill_no":"","amount":{amount}}}]}}"#
        )
    };
    let (status, reply) = post_raw(
        &env.app,
        "/webhook",
        Some(&env.token),
        Some("application/json"),
        body("E-1", "1.0E7"),
    )
    .await;
    assert_eq!((status, reply), (200, success()));
    let (status, reply) = env.post("/proxy", &json!({"consumer_code": "BIG1"})).await;
    assert_eq!((status, code(&reply)), (200, 0));
    assert_eq!(reply["data"]["due_amount"].to_string(), "12345678");
    let (status, reply) = post_raw(
        &env.app,
        "/webhook",
        Some(&env.token),
        Some("application/json"),
        body("E-2", "1.2345678E7"),
    )
    .await;
    assert_eq!((status, reply), (200, success()));
    assert_eq!(env.store().bill(bill.id).unwrap().paid, 2_234_567_800);
    let (status, reply) = env.post("/proxy", &json!({"consumer_code": "BIG1"})).await;
    assert_eq!((status, code(&reply)), (200, 3));
    // Not exact in KHR's two decimals: below the minimum, refused.
    let (status, reply) = post_raw(
        &env.app,
        "/webhook",
        Some(&env.token),
        Some("application/json"),
        body("E-3", "1.0000000001E7"),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
}

/// Behind a load balancer listed in `BILLHUB_TRUSTED_PROXIES` the webhook's caller is the
/// address it forwards in `X-Forwarded-For` (the right-most untrusted one); from any other
/// peer the header counts for nothing.
async fn forwarded_caller(db: TestDb) {
    let mut config = billhub_http::Config::for_tests(&db.url, db.store.master_key().clone());
    config.trusted_proxies =
        billhub_http::config::TrustedProxies::parse(Some("127.0.0.1".into())).unwrap();
    let app = billhub_http::testing::TestApp::spawn_with(
        bill24_proxy::gateway(),
        &db,
        billhub_http::Clock::fixed(NOW),
        config,
    )
    .await;
    let (org, _token) = organization(&app, "DEMOORG1", SettlementMode::Open);
    app.state
        .store
        .set_setting(org.id, "bill24.webhook_allow_ips", "198.51.100.7", NOW)
        .unwrap();
    let send = |id: &str, xff: &str| {
        let rb = app
            .client
            .post(app.url("/webhook"))
            .header("Content-Type", "application/json")
            .header("X-Forwarded-For", xff.to_string())
            .body(current(id, "KHR", json!(5000), "NOSUCH", "").to_string());
        async move {
            let resp = rb.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(send("X-1", "198.51.100.7").await, (200, success()));
    // A client's own entry left of the balancer's does not count.
    let (status, reply) = send("X-2", "198.51.100.7, 203.0.113.1").await;
    assert_eq!((status, &reply["status"]), (401, &json!("Error")));
    // Without trusted proxies the header is ignored: the peer (127.0.0.1) is not listed.
    let plain = billhub_http::testing::TestApp::spawn(
        bill24_proxy::gateway(),
        &db,
        billhub_http::Clock::fixed(NOW),
    )
    .await;
    let resp = plain
        .client
        .post(plain.url("/webhook"))
        .header("Content-Type", "application/json")
        .header("X-Forwarded-For", "198.51.100.7")
        .body(current("X-3", "KHR", json!(5000), "NOSUCH", "").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        app.state
            .store
            .unapplied_payments(Some(org.id))
            .unwrap()
            .iter()
            .map(|u| u.channel_ref.as_str())
            .collect::<Vec<_>>(),
        vec!["X-1"]
    );
}

billhub_http::http_backend_tests!(
    unreadable_money_is_kept,
    the_2025_schema_is_applied,
    exponent_amounts,
    forwarded_caller,
);
