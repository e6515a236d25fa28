//! Collections: create, read, list, update.

use super::*;

billhub_http::http_backend_tests!(collections_crud,);

async fn collections_crud(db: TestDb) {
    let env = setup(db).await;
    let r = env
        .post(
            "/api/collections",
            &json!({"name": "Yuran", "webhook_url": "https://m.example/hook", "redirect_url": "https://m.example/done"}),
        )
        .await;
    let c = r.ok().clone();
    assert_eq!(
        keys(&c),
        sorted(&[
            "id",
            "code",
            "name",
            "organization_id",
            "webhook_url",
            "redirect_url",
            "created_at",
            "updated_at"
        ])
    );
    let code = c["code"].as_str().unwrap();
    assert!(is_code8(code));
    assert_eq!(c["organization_id"], env.a.org.id);
    assert_eq!(c["created_at"], "2026-11-21 11:00:00");
    // Codes are unguessable and unique.
    let c2 = env.collection("Other", None).await;
    assert_ne!(c2, code);
    let r = env.get(&format!("/api/collections/{code}")).await;
    assert_eq!(r.ok(), &c);
    let r = env
        .get(&format!("/api/collections/{code}?include=organization"))
        .await;
    assert_eq!(r.ok()["organization"]["code"], "MERCHANTA");
    // PATCH by id (as the partner documents) and by code.
    let r = env
        .patch(
            &format!("/api/collections/{}", c["id"]),
            &json!({"name": "Yuran 2027", "webhook_url": null}),
        )
        .await;
    assert_eq!(r.ok()["name"], "Yuran 2027");
    assert!(r.body["webhook_url"].is_null());
    assert_eq!(r.body["redirect_url"], "https://m.example/done");
    assert_eq!(r.body["code"], code);
    let r = env
        .patch(
            &format!("/api/collections/{code}"),
            &json!({"redirect_url": ""}),
        )
        .await;
    assert!(r.ok()["redirect_url"].is_null());
    assert_eq!(r.body["name"], "Yuran 2027");
    let r = env.get("/api/collections?include=organization").await;
    assert_eq!(r.ok()["total"], 2);
    assert_eq!(r.body["data"][0]["organization"]["id"], env.a.org.id);
    env.get("/api/collections/ZZZZZZZZ").await.err(404);
    env.patch("/api/collections/999999", &json!({"name": "x"}))
        .await
        .err(404);
    env.get("/api/collections?include=bills").await.err(400);
}
