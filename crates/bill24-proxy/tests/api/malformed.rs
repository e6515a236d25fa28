//! Malformed requests and bodies over the limit, in the dialect's shapes.

use crate::prelude::*;

/// Transport refusals (not JSON) and webhooks below the minimum: 400 with a clear message in the
/// same envelope; a consumer code naming nobody: code 1; nothing recorded.
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
        // A JSON object without a code that names anyone is a business answer: code 1.
        for body in [
            json!({}),
            json!({"consumer_code": 3035}),
            json!({"consumer_code": "  "}),
            json!({"consumer_code": null}),
            json!({"consumer_code": {"code": "CU003035"}}),
        ] {
            let (s, r) = post(&env.app, path, token, &body).await;
            assert_eq!(
                (s, r),
                (
                    200,
                    json!({"code": 1, "message": "Error Not Found", "message_kh": "រកមិនឃើញ", "data": null})
                ),
                "{body}"
            );
        }
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

    // The webhook refuses only what is not JSON, or a body without a transaction id, a
    // positive exact amount and a known currency (the rest is kept: see `lenient`).
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
            &["tran_amount: The tran_amount must be greater than zero."],
        );
    }
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
    let mut no_id = current("T-B", "KHR", json!(5000), "CU003035", "");
    no_id["tran_id"] = json!("  ");
    let (s, r) = post(&env.app, "/webhook", token, &no_id).await;
    webhook_bad(s, &r, &["tran_id"]);
    let (s, r) = post(&env.app, "/webhook", token, &json!({"tran_amount": 5})).await;
    webhook_bad(
        s,
        &r,
        &["tran_id: The tran_id field is required.", "currency"],
    );
    let (s, r) = post(&env.app, "/webhook", token, &json!([1])).await;
    webhook_bad(s, &r, &["The body must be a JSON object."]);

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

billhub_http::http_backend_tests!(malformed_requests, body_too_large,);
