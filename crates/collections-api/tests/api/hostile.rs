//! Hostile dates and text (issue 10, defects 2 and 15): NUL in any key or string of a body is a
//! 422 naming it, before anything is written; a due date before 2000-01-01 is a 422; the API
//! keeps working afterwards.

use super::*;

billhub_http::http_backend_tests!(
    nul_in_text_is_a_validation_error,
    due_dates_before_2000_are_refused,
);

async fn nul_in_text_is_a_validation_error(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("H", None).await;
    let path = bills_path(&code);
    let mut b = bill_body("R\u{0}1", "", json!("10.00"), json!(1));
    b["customer"]["first_name"] = json!("Siti\u{0}");
    b["product"][0]["title"] = json!("\u{0}");
    b["note\u{0}"] = json!("x");
    let r = env.post(&path, &b).await;
    let body = r.invalid(&["ref1", "customer.first_name", "product.0.title", "note"]);
    assert_eq!(
        body["errors"]["customer.first_name"],
        json!(["The customer.first_name must not contain a NUL character."])
    );
    // Collections, products and customers alike.
    env.post("/api/collections", &json!({"name": "A\u{0}"}))
        .await
        .invalid(&["name"]);
    env.post(
        "/api/customers",
        &json!({"first_name": "A", "last_name": "B\u{0}", "email": "a@example.com", "mobile": "60123456789"}),
    )
    .await
    .invalid(&["last_name"]);
    let bill = env.bill(&code, "R-1", "10.00", 1).await;
    env.patch(
        &format!("{path}/{}", bill["bill_no"].as_str().unwrap()),
        &json!({"ref2": "x\u{0}"}),
    )
    .await
    .invalid(&["ref2"]);
    let products = env.get("/api/products").await.ok()["total"].clone();
    env.post(
        "/api/products",
        &json!({"title": "T\u{0}", "price": "1.00", "currency": "MYR"}),
    )
    .await
    .invalid(&["title"]);
    // Nothing was written by the refused ones; other control characters pass.
    assert_eq!(env.get(&path).await.ok()["total"], 1);
    assert_eq!(env.get("/api/products").await.ok()["total"], products);
    let mut b = bill_body("R\t2\u{1}", "", json!("10.00"), json!(1));
    b["customer"]["first_name"] = json!("Siti\u{7f}");
    let made = env.post(&path, &b).await;
    assert_eq!(made.ok()["ref1"], json!("R\t2\u{1}"));
}

async fn due_dates_before_2000_are_refused(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("D", None).await;
    let path = bills_path(&code);
    for due in ["1999-12-31", "-9999-01-01"] {
        let mut b = bill_body("D-1", "", json!("10.00"), json!(1));
        b["due"] = json!(due);
        let r = env.post(&path, &b).await;
        r.invalid(&["due"]);
    }
    let mut b = bill_body("D-1", "", json!("10.00"), json!(1));
    b["due"] = json!("1999-12-31");
    assert_eq!(
        env.post(&path, &b).await.invalid(&["due"])["errors"]["due"],
        json!(["The due must be a date after or equal to 2000-01-01."])
    );
    let bill = env.bill(&code, "D-2", "10.00", 1).await;
    let no = bill["bill_no"].as_str().unwrap();
    env.patch(&format!("{path}/{no}"), &json!({"due": "1999-12-31"}))
        .await
        .invalid(&["due"]);
    b["due"] = json!("2000-01-01");
    env.post(&path, &b).await.ok();
    assert_eq!(env.get(&path).await.ok()["total"], 2);
}
