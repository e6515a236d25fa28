//! Products: the catalogue.

use super::*;

billhub_http::http_backend_tests!(products_crud,);

async fn products_crud(db: TestDb) {
    let env = setup(db).await;
    let r = env
        .post(
            "/api/products",
            &json!({"title": "Yuran Bulanan", "code": "YB", "description": "Monthly fee", "price": 10}),
        )
        .await;
    let p = r.ok().clone();
    assert_eq!(p["price"], "10.00");
    assert!(p["currency"].is_null());
    assert!(p["product_id"].is_null());
    let id = p["id"].as_i64().unwrap();
    let path = format!("/api/products/{id}");
    assert_eq!(env.get(&path).await.ok(), &p);
    env.post(
        "/api/products",
        &json!({"title": "Buku", "price": "25.5", "currency": "MYR"}),
    )
    .await
    .ok();
    // PATCH
    let r = env
        .patch(&path, &json!({"price": "12.5", "description": "Monthly"}))
        .await;
    assert_eq!(r.ok()["price"], "12.50");
    assert_eq!(r.body["description"], "Monthly");
    assert_eq!(r.body["title"], "Yuran Bulanan");
    // Filters: partial and case-insensitive, price by value.
    let r = env.get("/api/products?filter[title]=yuran").await;
    assert_eq!(r.ok()["total"], 1);
    assert_eq!(r.body["data"][0]["id"], id);
    let r = env.get("/api/products?filter[price]=12.5").await;
    assert_eq!(r.ok()["total"], 1);
    let r = env
        .get("/api/products?filter[code]=YB&filter[description]=month")
        .await;
    assert_eq!(r.ok()["total"], 1);
    let r = env.get("/api/products?filter[title]=100%25").await;
    assert_eq!(r.ok()["total"], 0, "% is not a wildcard");
    env.get("/api/products?filter[colour]=red").await.err(400);
    // A bill of the product keeps showing it after it is deleted.
    let code = env.collection("P", None).await;
    let mut body = bill_body("PR-1", "", json!("1"), json!(1));
    body["product"] = json!([{"id": id, "quantity": 2}]);
    let bill = env.post(&bills_path(&code), &body).await.ok().clone();
    assert_eq!(bill["total_amount"], "25.00");
    let r = env
        .call("DELETE", &path, Some(&env.a.token), None, &[])
        .await;
    assert_eq!(r.ok()["message"], "Product deleted.");
    env.get(&path).await.err(404);
    env.call("DELETE", &path, Some(&env.a.token), None, &[])
        .await
        .err(404);
    env.patch(&path, &json!({"title": "x"})).await.err(404);
    assert_eq!(env.get("/api/products").await.ok()["total"], 1);
    let r = env.get(&bill_path(&code, &bill)).await;
    assert_eq!(
        r.ok()["product_collections"][0]["product"]["title"],
        "Yuran Bulanan"
    );
    // A deleted product cannot be billed.
    env.post(&bills_path(&code), &body)
        .await
        .invalid(&["product.0.id"]);
    env.get("/api/products/abc").await.err(404);
}
