//! Customers: accounts and their codes.

use super::*;

billhub_http::http_backend_tests!(customers_crud,);

async fn customers_crud(db: TestDb) {
    let env = setup(db).await;
    let r = env
        .post(
            "/api/customers",
            &json!({"acc_no": "CUST-1", "first_name": "Ali", "last_name": "Abu", "email": "ali@example.com", "mobile": "+60 12-345 6789", "address": "Shah Alam"}),
        )
        .await;
    let c = r.ok().clone();
    assert_eq!(c["acc_no"], "CUST-1");
    assert_eq!(c["mobile"], "+60 12-345 6789");
    let id = c["id"].as_i64().unwrap();
    let path = format!("/api/customers/{id}");
    assert_eq!(env.get(&path).await.ok(), &c);
    // The acc_no is taken now.
    env.post(
        "/api/customers",
        &json!({"acc_no": "CUST-1", "first_name": "B", "last_name": "C", "email": "b@example.com", "mobile": "60111111111"}),
    )
    .await
    .invalid(&["acc_no"]);
    // Without acc_no: generated.
    let r = env
        .post(
            "/api/customers",
            &json!({"first_name": "Mei", "last_name": "Ling", "email": "mei@example.com", "mobile": "60199999999"}),
        )
        .await;
    let gen_no = r.ok()["acc_no"].as_str().unwrap();
    assert_eq!(gen_no.len(), 12);
    // PATCH
    let r = env
        .patch(
            &path,
            &json!({"email": "ali@new.example", "last_name": "Bakar"}),
        )
        .await;
    assert_eq!(r.ok()["email"], "ali@new.example");
    assert_eq!(r.body["last_name"], "Bakar");
    assert_eq!(r.body["first_name"], "Ali");
    assert_eq!(r.body["acc_no"], "CUST-1");
    env.patch(&path, &json!({"acc_no": "OTHER"}))
        .await
        .invalid(&["acc_no"]);
    env.patch(&path, &json!({"email": "nope", "first_name": ""}))
        .await
        .invalid(&["email", "first_name"]);
    // The account is billhub's: its name shows to other channels.
    let acc = env.db.account(id).unwrap();
    assert_eq!(acc.name_latin, "Ali Bakar");
    assert_eq!(acc.phone, "+60 12-345 6789");
    // Filters.
    let r = env.get("/api/customers?filter[acc_no]=CUST-1").await;
    assert_eq!(r.ok()["total"], 1);
    let r = env.get("/api/customers?filter[first_name]=mei").await;
    assert_eq!(r.ok()["data"][0]["last_name"], "Ling");
    let r = env.get("/api/customers?filter[mobile]=6019").await;
    assert_eq!(r.ok()["total"], 1);
    let r = env
        .get("/api/customers?filter[email]=EXAMPLE&per_page=1")
        .await;
    assert_eq!(r.ok()["total"], 2);
    assert_eq!(r.body["last_page"], 2);
    env.get("/api/customers?filter[group_id]=1").await.err(400);
    // An account made by another channel, with only a name, shows it as first_name.
    let other = env
        .db
        .upsert_account(
            env.a.org.id,
            &billhub_store::AccountInput {
                code: "CU003035".into(),
                name: "ញ៉េប នីម".into(),
                name_latin: "Nheb Nim".into(),
                phone: "010888999".into(),
                ..Default::default()
            },
            env.now(),
        )
        .unwrap();
    let r = env.get(&format!("/api/customers/{}", other.id)).await;
    assert_eq!(r.ok()["first_name"], "Nheb Nim");
    assert_eq!(r.body["last_name"], "");
    assert_eq!(r.body["mobile"], "010888999");
    env.get("/api/customers/999999").await.err(404);
    // A bill for this customer by acc_no.
    let code = env.collection("Cust", None).await;
    let mut body = bill_body("CU-1", "", json!("9.90"), json!(1));
    body["customer"] = json!({"acc_no": "CUST-1"});
    let b = env
        .post(&format!("{}?include=account", bills_path(&code)), &body)
        .await;
    assert_eq!(b.ok()["account"]["id"], id);
    assert_eq!(b.body["account"]["email"], "ali@new.example");
}
