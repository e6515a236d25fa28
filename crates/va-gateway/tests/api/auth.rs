//! Tokens, credential kinds and the signature over the raw bytes.

use crate::prelude::*;

billhub_http::http_backend_tests!(signature_covers_the_raw_bytes, tokens_and_credential_kinds,);

async fn signature_covers_the_raw_bytes(db: TestDb) {
    let va = spawn(db).await;
    // The vector body of shared/vectors.json, byte for byte as a PHP client sends it: `\/` in
    // the invoice number and `\u00e9` in the description.
    let body = br#"{"va_number":"1234567890","invoice_number":"INV01\/TRX000001","prefix":"009902","name":"SPP Jan 22","total_amount":100000,"institution_code":"E9KP2ZQ6","type":"close","valid_until":"2030-04-04T11:46:56+07:00","components":[{"name":"SPP Januari","qty":1,"price":100000,"total":100000}],"customer_name":"Budi Santoso","description":"Pembayaran SPP caf\u00e9"}"#;
    // The same JSON value written another way (unescaped) has another signature.
    let plain = String::from_utf8(body.to_vec())
        .unwrap()
        .replace("\\/", "/")
        .replace("\\u00e9", "é");
    assert_eq!(ipg::php_escape(&plain).as_bytes(), body);
    let wrong = ipg::sign(&va.biller.api_key, plain.as_bytes(), "");
    let a = va
        .send_raw(
            Method::POST,
            "/api/v2/gw/bill",
            Some(&va.biller.token),
            Some(&wrong),
            body,
        )
        .await;
    a.refused(401, "UNAUTHORIZED");
    assert_eq!(a.body["message"], "Invalid signature.");
    assert_eq!(a.data(), &Value::Null);
    // Signed over the raw bytes: accepted, and the escapes decode.
    let sig = ipg::sign(&va.biller.api_key, body, "");
    let a = va
        .send_raw(
            Method::POST,
            "/api/v2/gw/bill",
            Some(&va.biller.token),
            Some(&sig),
            body,
        )
        .await;
    let d = a.ok();
    assert_eq!(d["invoice_number"], "INV01/TRX000001");
    assert_eq!(d["description"], "Pembayaran SPP café");
    assert_eq!(d["valid_until"], "2030-04-04T11:46:56+07:00");
    let hash = d["hash"].as_str().unwrap().to_string();
    // Upper-case hex is the same signature.
    let mut body2 = body.to_vec();
    body2.splice(14..24, b"1234567891".iter().copied());
    let sig2 = ipg::sign(&va.biller.api_key, &body2, "").to_uppercase();
    va.send_raw(
        Method::POST,
        "/api/v2/gw/bill",
        Some(&va.biller.token),
        Some(&sig2),
        &body2,
    )
    .await
    .ok();

    // Wrong key: the bank's key with the biller's token.
    let other = ipg::sign(&va.bank.api_key, body, "");
    va.send_raw(
        Method::POST,
        "/api/v2/gw/bill",
        Some(&va.biller.token),
        Some(&other),
        body,
    )
    .await
    .refused(401, "UNAUTHORIZED");
    // Missing signature, missing token, unknown token.
    va.send_raw(
        Method::POST,
        "/api/v2/gw/bill",
        Some(&va.biller.token),
        None,
        body,
    )
    .await
    .refused(401, "UNAUTHORIZED");
    va.send_raw(Method::POST, "/api/v2/gw/bill", None, Some(&sig), body)
        .await
        .refused(401, "UNAUTHORIZED");
    va.send_raw(
        Method::POST,
        "/api/v2/gw/bill",
        Some("nope"),
        Some(&sig),
        body,
    )
    .await
    .refused(401, "UNAUTHORIZED");

    // GET: over the raw query string exactly as sent (order matters), or over "" without one.
    let q = format!("institution_code={ORG_CODE}&page=1");
    let sig = ipg::sign(&va.biller.api_key, b"", &q);
    let a = va
        .send_raw(
            Method::GET,
            &format!("/api/v2/gw/bill?{q}"),
            Some(&va.biller.token),
            Some(&sig),
            b"",
        )
        .await;
    assert_eq!(a.ok()["total"], 2);
    let swapped = format!("page=1&institution_code={ORG_CODE}");
    va.send_raw(
        Method::GET,
        &format!("/api/v2/gw/bill?{swapped}"),
        Some(&va.biller.token),
        Some(&sig),
        b"",
    )
    .await
    .refused(401, "UNAUTHORIZED");
    let sig = ipg::sign(&va.biller.api_key, b"", "");
    va.send_raw(
        Method::GET,
        &format!("/api/v2/gw/bill/{hash}"),
        Some(&va.biller.token),
        Some(&sig),
        b"",
    )
    .await
    .ok();
    // A DELETE with the `{}` body PHP clients send is signed over `{}`.
    let sig = ipg::sign(&va.biller.api_key, b"{}", "");
    let a = va
        .send_raw(
            Method::DELETE,
            &format!("/api/v2/gw/bill/{hash}"),
            Some(&va.biller.token),
            Some(&sig),
            b"{}",
        )
        .await;
    assert_eq!(a.body["message"], "Billing revoked.");

    // An expired token.
    va.app.clock().advance(time::Duration::seconds(3601));
    let a = va.biller_get("/api/v2/gw/bill").await;
    a.refused(401, "UNAUTHORIZED");
    assert_eq!(
        a.body["message"],
        "The access token is invalid or has expired."
    );
}

async fn tokens_and_credential_kinds(db: TestDb) {
    let va = spawn(db).await;
    let url = va.app.url("/oauth/token");
    let post = |body: Value| {
        let c = va.app.client.clone();
        let url = url.clone();
        async move {
            let r = c.post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, ok) = post(json!({"grant_type": "client_credentials", "client_id": va.biller.client_id, "client_secret": va.biller.client_secret, "scope": "*"})).await;
    assert_eq!(status, 200);
    assert_eq!(ok["token_type"], "Bearer");
    assert_eq!(ok["expires_in"], 3600);
    assert!(ok["access_token"].as_str().unwrap().len() >= 40);
    assert_eq!(ok.as_object().unwrap().len(), 3);
    // Tokens are stored hashed.
    assert!(
        va.store()
            .authenticate_access_token(ok["access_token"].as_str().unwrap(), T0)
            .unwrap()
            .is_some()
    );

    let (status, err) = post(json!({"grant_type": "client_credentials", "client_id": va.biller.client_id, "client_secret": "wrong", "scope": "*"})).await;
    assert_eq!(status, 401);
    assert_eq!(
        err,
        json!({"error": "invalid_client", "error_description": "Client authentication failed", "message": "Client authentication failed"})
    );
    let (status, err) = post(json!({"grant_type": "password", "client_id": va.biller.client_id, "client_secret": va.biller.client_secret})).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "unsupported_grant_type");
    let (status, err) = post(json!({"grant_type": "client_credentials"})).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_request");
    // A form body works too.
    let r = va
        .app
        .client
        .post(va.app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &va.bank.client_id),
            ("client_secret", &va.bank.client_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // A biller token never reaches the channel API, a bank token never the biller API.
    let d = va.create(&bill_body("1111111111", "close", 100000)).await;
    va.call(
        &va.biller,
        Method::POST,
        "/api/v2/ch/inquiry",
        Some(&channel_body("0099021111111111", "X")),
    )
    .await
    .refused(403, "FORBIDDEN");
    va.call(
        &va.bank,
        Method::GET,
        &format!("/api/v2/gw/bill/{}", d["hash"].as_str().unwrap()),
        None,
    )
    .await
    .refused(403, "FORBIDDEN");
    va.call(
        &va.bank,
        Method::POST,
        "/api/v2/gw/bill",
        Some(&bill_body("1111111112", "close", 1)),
    )
    .await
    .refused(403, "FORBIDDEN");
    // A revoked credential's token stops working.
    let cred = va
        .store()
        .authenticate_access_token(&va.biller.token, T0)
        .unwrap()
        .unwrap();
    va.store().revoke_credential(cred.id, T0).unwrap();
    va.biller_get("/api/v2/gw/bill")
        .await
        .refused(401, "UNAUTHORIZED");
}
