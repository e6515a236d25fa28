//! Validation: every bad field named at once.

use super::*;

billhub_http::http_backend_tests!(validation_names_every_field,);

async fn validation_names_every_field(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("V", None).await;
    let path = bills_path(&code);
    // Nothing at all.
    env.post(&path, &json!({}))
        .await
        .invalid(&["due", "ref1", "ref2", "currency", "customer", "product"]);
    // Every bad field at once, with Laravel's message.
    let r = env
        .post(
            &path,
            &json!({
                "due": "25/06/2020",
                "ref1": "",
                "ref2": [5],
                "currency": "RM",
                "customer": {"first_name": "A", "email": "not-an-email", "mobile": "call me"},
                "product": [
                    {"title": "A", "price": "ten", "quantity": 1},
                    {"price": "1.00", "quantity": 0},
                    "nope"
                ]
            }),
        )
        .await;
    let body = r.invalid(&[
        "due",
        "ref1",
        "ref2",
        "currency",
        "customer.last_name",
        "customer.email",
        "customer.mobile",
        "product.0.price",
        "product.1.title",
        "product.1.quantity",
        "product.2",
    ]);
    assert_eq!(
        body["errors"]["customer.email"],
        json!(["The customer.email must be a valid email address."])
    );
    assert_eq!(
        body["errors"]["due"],
        json!(["The due does not match the format Y-m-d."])
    );
    assert_eq!(
        body["errors"]["ref1"],
        json!(["The ref1 field is required."])
    );
    // Amounts the currency cannot carry, and unknown products, are decided in one go too.
    let mut b = bill_body("V-1", "", json!("1"), json!(1));
    b["product"] = json!([
        {"title": "A", "price": "10.005", "quantity": 1},
        {"id": 999999, "quantity": 1},
        {"title": "C", "price": "0.01", "quantity": 0.5}
    ]);
    env.post(&path, &b)
        .await
        .invalid(&["product.0.price", "product.1.id", "product.2.quantity"]);
    let mut b = bill_body("V-2", "", json!("0"), json!(1));
    b["product"] = json!([{"title": "Free", "price": 0, "quantity": 1}]);
    env.post(&path, &b).await.invalid(&["product"]);
    let mut b = bill_body("V-3", "", json!("1"), json!(1));
    b["product"] = json!([]);
    env.post(&path, &b).await.invalid(&["product"]);
    let mut b = bill_body("V-4", "", json!("1"), json!(1));
    b["customer"] = json!("911111111111");
    env.post(&path, &b).await.invalid(&["customer"]);
    // Nothing was written by any of these.
    assert_eq!(env.get(&path).await.ok()["total"], 0);
    assert_eq!(env.get("/api/customers").await.ok()["total"], 0);
    assert_eq!(env.get("/api/products").await.ok()["total"], 0);
    // Malformed bodies are 400.
    let r = env
        .call(
            "POST",
            &path,
            Some(&env.a.token),
            None,
            &[("Content-Type", "application/json")],
        )
        .await;
    let m = r.err(400)["message"].as_str().unwrap().to_string();
    assert!(m.starts_with("Missing parameters"), "{m}");
    let raw = env
        .app
        .client
        .post(env.app.url(&path))
        .header("Authorization", format!("Bearer {}", env.a.token))
        .header("Content-Type", "application/json")
        .body("{\"due\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let v: Value = raw.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("not valid JSON"));
    env.post(&path, &json!([1, 2])).await.err(400);
    // The other resources.
    env.post(
        "/api/collections",
        &json!({"webhook_url": "ftp://x", "redirect_url": 3}),
    )
    .await
    .invalid(&["name", "webhook_url", "redirect_url"]);
    env.patch(&format!("/api/collections/{code}"), &json!({"name": ""}))
        .await
        .invalid(&["name"]);
    env.post("/api/products", &json!({"currency": "XXX", "price": -1}))
        .await
        .invalid(&["title", "currency", "price"]);
    env.post("/api/customers", &json!({"email": "x"}))
        .await
        .invalid(&["first_name", "last_name", "email", "mobile"]);
    let b = env.bill(&code, "V-5", "1.00", 1).await;
    env.patch(
        &bill_path(&code, &b),
        &json!({"due": "tomorrow", "currency": "ZZZ", "cancel": "maybe", "ref1": ""}),
    )
    .await
    .invalid(&["due", "currency", "cancel", "ref1"]);
}
