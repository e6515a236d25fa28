//! Plumbing failures in the dialect's envelope.

use crate::prelude::*;

billhub_http::http_backend_tests!(plumbing_errors_use_the_envelope,);

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
