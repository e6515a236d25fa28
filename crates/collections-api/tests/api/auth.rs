//! Authentication, tenant isolation, error shapes and the rate limit.

use super::*;

billhub_http::http_backend_tests!(tenant_isolation, auth_and_error_shapes, rate_limit,);

async fn tenant_isolation(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Private", None).await;
    let col = env
        .get(&format!("/api/collections/{code}"))
        .await
        .ok()
        .clone();
    let b = env.bill(&code, "SECRET", "10.00", 1).await;
    env.pay(b["id"].as_i64().unwrap(), "SBX-ISO", "10.00");
    let pid = env
        .post(
            "/api/products",
            &json!({"title": "Secret", "price": "1.00"}),
        )
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    let cid = env
        .post(
            "/api/customers",
            &json!({"acc_no": "SHARED-NO", "first_name": "A", "last_name": "B", "email": "a@b.co", "mobile": "60123456789"}),
        )
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    let bill = bill_path(&code, &b);
    let patch = json!({"name": "mine"});
    let new_bill = bill_body("X", "", json!("1.00"), json!(1));
    let product_patch = json!({"title": "mine"});
    let customer_patch = json!({"first_name": "mine"});
    let cancel = json!({"cancel": true});
    // Every route: another organization's collection, bill, product or customer is 404.
    let routes: Vec<(&str, String, Option<&Value>)> = vec![
        ("GET", format!("/api/collections/{code}"), None),
        ("GET", format!("/api/collections/{}", col["id"]), None),
        ("PATCH", format!("/api/collections/{code}"), Some(&patch)),
        (
            "PATCH",
            format!("/api/collections/{}", col["id"]),
            Some(&patch),
        ),
        ("GET", bills_path(&code), None),
        ("POST", bills_path(&code), Some(&new_bill)),
        ("GET", bill.clone(), None),
        ("PATCH", bill.clone(), Some(&cancel)),
        ("GET", format!("{bill}/transactions"), None),
        ("GET", format!("{bill}/transactions/SBX-ISO"), None),
        ("GET", format!("/api/products/{pid}"), None),
        (
            "PATCH",
            format!("/api/products/{pid}"),
            Some(&product_patch),
        ),
        ("DELETE", format!("/api/products/{pid}"), None),
        ("GET", format!("/api/customers/{cid}"), None),
        (
            "PATCH",
            format!("/api/customers/{cid}"),
            Some(&customer_patch),
        ),
    ];
    for (method, path, body) in &routes {
        let r = env.as_b(method, path, *body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
        assert!(r.body["message"].is_string());
    }
    // Nothing changed for A.
    let r = env.get(&bill).await;
    assert_eq!(r.ok()["status"], 4);
    assert_eq!(
        env.get(&format!("/api/products/{pid}")).await.ok()["title"],
        "Secret"
    );
    assert_eq!(
        env.get(&format!("/api/customers/{cid}")).await.ok()["first_name"],
        "A"
    );
    assert_eq!(
        env.get(&format!("/api/collections/{code}")).await.ok()["name"],
        "Private"
    );
    // B's lists are its own.
    for list in ["/api/collections", "/api/products", "/api/customers"] {
        let r = env.as_b("GET", list, None).await;
        assert_eq!(r.ok()["total"], 0, "{list}");
    }
    // B cannot bill A's product, and A's acc_no is a different customer in B.
    let b_code = env
        .as_b("POST", "/api/collections", Some(&json!({"name": "B's"})))
        .await
        .ok()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let mut body = bill_body("B-1", "", json!("1.00"), json!(1));
    body["product"] = json!([{"id": pid, "quantity": 1}]);
    env.as_b("POST", &bills_path(&b_code), Some(&body))
        .await
        .invalid(&["product.0.id"]);
    let mut body = bill_body("B-2", "", json!("1.00"), json!(1));
    body["customer"]["acc_no"] = json!("SHARED-NO");
    let r = env
        .as_b(
            "POST",
            &format!("{}?include=account", bills_path(&b_code)),
            Some(&body),
        )
        .await;
    assert_ne!(r.ok()["account"]["id"], cid);
    assert_eq!(r.body["account"]["organization_id"], env.b.org.id);
    assert_eq!(r.body["account"]["first_name"], "Siti");
    // A's bill number under B's own collection is still not found.
    env.as_b(
        "GET",
        &format!(
            "/api/collections/{b_code}/bills/{}",
            b["bill_no"].as_str().unwrap()
        ),
        None,
    )
    .await
    .err(404);
    // And A's customer is untouched by B's bill.
    assert_eq!(
        env.get(&format!("/api/customers/{cid}")).await.ok()["first_name"],
        "A"
    );
}

async fn auth_and_error_shapes(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("E", None).await;
    for (token, scheme) in [
        (None, ""),
        (Some("wrong-token"), "Bearer"),
        (Some(env.a.token.as_str()), "Basic"),
    ] {
        let mut req = env.app.client.get(env.app.url("/api/collections"));
        if let Some(t) = token {
            req = req.header("Authorization", format!("{scheme} {t}"));
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v, json!({"message": "Unauthenticated."}));
    }
    // Every route wants the token.
    for (m, p) in [
        ("POST", bills_path(&code)),
        ("GET", "/api/products".to_string()),
        ("PATCH", "/api/customers/1".to_string()),
        ("DELETE", "/api/products/1".to_string()),
    ] {
        env.call(m, &p, None, Some(&json!({})), &[]).await.err(401);
    }
    // A revoked credential is refused.
    let extra = env
        .db
        .create_credential(env.a.org.id, "collections", false, env.now())
        .unwrap();
    let t = extra.access_token.clone().unwrap();
    env.call("GET", "/api/collections", Some(&t), None, &[])
        .await
        .ok();
    env.db.revoke_credential(extra.id, env.now()).unwrap();
    env.call("GET", "/api/collections", Some(&t), None, &[])
        .await
        .err(401);
    // Another dialect's token is not a collections token.
    let b24 = env
        .db
        .create_credential(env.a.org.id, "bill24", false, env.now())
        .unwrap();
    env.call("GET", "/api/collections", b24.token.as_deref(), None, &[])
        .await
        .err(401);
    // 404 and 405 as JSON.
    let r = env.get("/api/nothing-here").await;
    r.err(404);
    let r = env
        .call("DELETE", "/api/collections", Some(&env.a.token), None, &[])
        .await;
    r.err(405);
    let r = env
        .call("PUT", &bills_path(&code), Some(&env.a.token), None, &[])
        .await;
    r.err(405);
    // 413 as JSON.
    let huge = "x".repeat(300 * 1024);
    let r = env.post(&bills_path(&code), &json!({"ref1": huge})).await;
    r.err(413);
}

async fn rate_limit(db: TestDb) {
    let env = setup(db).await;
    env.db
        .set_setting(
            env.a.org.id,
            "collections.requests_per_minute",
            "3",
            env.now(),
        )
        .unwrap();
    for _ in 0..3 {
        env.get("/api/collections").await.ok();
    }
    let r = env.get("/api/collections").await;
    r.err(429);
    assert_eq!(r.body["message"], "Too Many Attempts.");
    assert!(r.headers.get("retry-after").is_some());
    assert_eq!(r.headers["x-ratelimit-limit"], "3");
    // Another organization has its own limit.
    env.as_b("GET", "/api/collections", None).await.ok();
    // The next minute, the token may call again.
    env.app.clock().advance(time::Duration::seconds(60));
    env.get("/api/collections").await.ok();
}
