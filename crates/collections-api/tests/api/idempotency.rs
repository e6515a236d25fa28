//! `Idempotency-Key`: replay, conflict and concurrent repeats.

use super::*;

billhub_http::http_backend_tests!(
    idempotency_replay_and_conflict,
    idempotency_under_concurrency,
);

async fn idempotency_replay_and_conflict(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Idem", None).await;
    let path = bills_path(&code);
    let body = bill_body("IDEM-1", "", json!("10.00"), json!(1));
    let key = [("Idempotency-Key", "order-1-attempt")];
    let first = env
        .call("POST", &path, Some(&env.a.token), Some(&body), &key)
        .await;
    first.ok();
    assert!(first.headers.get("idempotent-replayed").is_none());
    // Same key, same body (other spacing and key order): the first response, nothing new.
    env.app.clock().advance(time::Duration::hours(1));
    let spaced: Value =
        serde_json::from_str(&serde_json::to_string_pretty(&body).unwrap()).unwrap();
    let again = env
        .call("POST", &path, Some(&env.a.token), Some(&spaced), &key)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text, first.text);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(env.get(&path).await.ok()["total"], 1);
    // Same key, another body: 409.
    let other = bill_body("IDEM-2", "", json!("10.00"), json!(1));
    let r = env
        .call("POST", &path, Some(&env.a.token), Some(&other), &key)
        .await;
    r.err(409);
    // Same key on another endpoint: another request, 409.
    env.call(
        "POST",
        "/api/collections",
        Some(&env.a.token),
        Some(&json!({"name": "x"})),
        &key,
    )
    .await
    .err(409);
    // Another organization's keys are its own.
    let b_code = env
        .as_b("POST", "/api/collections", Some(&json!({"name": "B"})))
        .await
        .ok()["code"]
        .as_str()
        .unwrap()
        .to_string();
    env.call(
        "POST",
        &bills_path(&b_code),
        Some(&env.b.token),
        Some(&body),
        &key,
    )
    .await
    .ok();
    // A refused request is not stored: the key can then be used for a valid one.
    let bad_key = [("Idempotency-Key", "order-3")];
    let mut bad = bill_body("IDEM-3", "", json!("10.00"), json!(1));
    bad["product"] = json!([{"id": 424242, "quantity": 1}]);
    env.call("POST", &path, Some(&env.a.token), Some(&bad), &bad_key)
        .await
        .invalid(&["product.0.id"]);
    let good = bill_body("IDEM-3", "", json!("3.00"), json!(1));
    env.call("POST", &path, Some(&env.a.token), Some(&good), &bad_key)
        .await
        .ok();
    // Every POST takes a key: products, customers, collections.
    for (p, b) in [
        ("/api/products", json!({"title": "K", "price": "1"})),
        (
            "/api/customers",
            json!({"first_name": "K", "last_name": "L", "email": "k@l.co", "mobile": "60123456789"}),
        ),
        ("/api/collections", json!({"name": "K"})),
    ] {
        let k = [("Idempotency-Key", p)];
        let one = env.call("POST", p, Some(&env.a.token), Some(&b), &k).await;
        let two = env.call("POST", p, Some(&env.a.token), Some(&b), &k).await;
        assert_eq!((one.status, &one.text), (two.status, &two.text), "{p}");
        assert_eq!(two.headers["idempotent-replayed"], "true");
    }
    assert_eq!(env.get("/api/products").await.ok()["total"], 1 + 1 + 1);
    // Keys are kept 24 hours; after that the same key starts afresh.
    env.app.clock().advance(time::Duration::hours(22));
    let r = env
        .call("POST", &path, Some(&env.a.token), Some(&body), &key)
        .await;
    assert_eq!(r.text, first.text, "still within 24 hours");
    env.app.clock().advance(time::Duration::hours(2));
    let r = env
        .call("POST", &path, Some(&env.a.token), Some(&other), &key)
        .await;
    assert_ne!(r.ok()["bill_no"], first.body["bill_no"]);
    assert!(r.headers.get("idempotent-replayed").is_none());
    // A blank key is a 400.
    env.call(
        "POST",
        &path,
        Some(&env.a.token),
        Some(&body),
        &[("Idempotency-Key", " ")],
    )
    .await
    .err(400);
}

async fn idempotency_under_concurrency(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Race", None).await;
    let path = bills_path(&code);
    let body = bill_body("RACE-1", "", json!("10.00"), json!(1));
    let key = [("Idempotency-Key", "race-key")];
    let answers = futures_util::future::join_all(
        (0..6).map(|_| env.call("POST", &path, Some(&env.a.token), Some(&body), &key)),
    )
    .await;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.text, answers[0].text);
    }
    let replayed = answers
        .iter()
        .filter(|a| a.headers.get("idempotent-replayed").is_some())
        .count();
    assert_eq!(replayed, 5);
    assert_eq!(env.get(&path).await.ok()["total"], 1);
    assert_eq!(env.get("/api/customers").await.ok()["total"], 1);
}
