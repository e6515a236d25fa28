//! Plumbing failures in the dialect's envelope.

use crate::prelude::*;

billhub_http::http_backend_tests!(
    plumbing_errors_use_the_envelope,
    refusals_are_stamped_by_the_app_clock,
);

async fn plumbing_errors_use_the_envelope(db: TestDb) {
    let va = spawn(db).await;
    let r = va
        .app
        .client
        .get(va.app.url("/api/v2/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rc"], "NOT_FOUND");
    assert!(is_iso_wib(&v["timestamp"]));
    let r = va
        .app
        .client
        .put(va.app.url("/api/v2/gw/bill"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rc"], "METHOD_NOT_ALLOWED");
    assert_eq!(v["data"], Value::Null);
    // A body over the limit (256 KiB in tests), before any handler.
    let big = vec![b' '; 300 * 1024];
    let r = va
        .app
        .client
        .post(va.app.url("/api/v2/gw/bill"))
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rc"], "PAYLOAD_TOO_LARGE");
    let r = va
        .app
        .client
        .get(va.app.url("/oauth/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

/// Every refusal's `timestamp` is the app clock's time (fixed at `T0` in tests, far from the
/// system clock), in WIB when no organization is known: a method a VA route does not take,
/// the sandbox route when the sandbox is off, an unreadable body, missing credentials.
/// (Failures the shared plumbing answers itself, no route and a body over the limit, are
/// rendered through `Gateway::render_error_at`, which VA stamps the same way.)
async fn refusals_are_stamped_by_the_app_clock(db: TestDb) {
    let va = spawn_with_sandbox(db, false).await;
    let expected = va_gateway::wire::iso(T0, va_gateway::wire::DEFAULT_OFFSET);
    let token = va.bank.token.clone();
    let bad = b"{not json";
    let sig = ipg::sign(&va.bank.api_key, bad, "");
    let answers = [
        va.send_raw(Method::PUT, "/api/v2/gw/bill", None, None, b"")
            .await,
        va.biller_post("/api/v2/gw/bill/ABCDEFGH/mock", &json!({}))
            .await,
        va.send_raw(
            Method::POST,
            "/api/v2/ch/payment",
            Some(&token),
            Some(&sig),
            bad,
        )
        .await,
        va.send_raw(Method::POST, "/api/v2/ch/payment", None, None, b"{}")
            .await,
        va.send_raw(Method::GET, "/api/v2/gw/payment", None, None, b"")
            .await,
    ];
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [405, 404, 422, 401, 401], "{answers:?}");
    for a in &answers {
        assert_eq!(a.body["timestamp"], expected.as_str(), "{}", a.body);
    }
    // And in the plumbing's own renderer.
    let gateway = va_gateway::VaGateway;
    let r = billhub_http::Gateway::render_error_at(
        &gateway,
        &billhub_http::PlumbingError::PayloadTooLarge { limit: 10 },
        T0,
    );
    assert_eq!(r.status().as_u16(), 413);
    let bytes = actix_web::body::to_bytes(r.into_body()).await.unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["rc"], "PAYLOAD_TOO_LARGE");
    assert_eq!(v["timestamp"], expected.as_str());
}
