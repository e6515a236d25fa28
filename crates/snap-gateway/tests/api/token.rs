//! `POST /v1.0/access-token/b2b`: the bank's RSA signature over `clientId|X-TIMESTAMP`.

use billhub_store::testing::TestDb;

use crate::common::*;

billhub_http::http_backend_tests!(
    a_signed_request_gets_a_token,
    bad_token_requests_are_refused_each_with_its_code,
    a_disabled_channel_gets_no_token,
);

async fn a_signed_request_gets_a_token(db: TestDb) {
    let s = spawn(db).await;
    let a = s.token_request(&s.client_id, TS, None).await;
    a.is(200, "2007300", "Successful");
    assert_eq!(a.body["tokenType"], "Bearer");
    assert_eq!(a.body["expiresIn"], "900");
    let token = a.body["accessToken"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert_ne!(token, s.token);
    // A `Z` timestamp within the window works too.
    s.token_request(&s.client_id, "2026-12-05T02:56:00Z", None)
        .await
        .is(200, "2007300", "Successful");
}

async fn bad_token_requests_are_refused_each_with_its_code(db: TestDb) {
    let s = spawn(db).await;
    // Another key's signature, or a signature over another timestamp.
    let other = billhub_core::signature::snap::sign_token_request(
        PRIVATE_KEY,
        &s.client_id,
        "2026-12-05T10:00:01+07:00",
    )
    .unwrap();
    s.token_request(&s.client_id, TS, Some(&other)).await.is(
        401,
        "4017300",
        "Unauthorized. [Signature]",
    );
    s.token_request(&s.client_id, TS, Some("not base64"))
        .await
        .is(401, "4017300", "Unauthorized. [Signature]");
    s.token_request("no-such-client", TS, None).await.is(
        401,
        "4017300",
        "Unauthorized. [Unknown client]",
    );
    // Six minutes off the server's clock (the window is 300 s).
    s.token_request(&s.client_id, "2026-12-05T10:06:00+07:00", None)
        .await
        .is(
            401,
            "4017300",
            "Unauthorized. [X-TIMESTAMP is more than 300 seconds from the server's clock]",
        );
    s.token_request(&s.client_id, "2026-12-05 10:00:00", None)
        .await
        .is(400, "4007301", "Invalid Field Format [X-TIMESTAMP]");
    let r = reqwest::Client::new()
        .post(s.app.url("/v1.0/access-token/b2b"))
        .header("X-CLIENT-KEY", &s.client_id)
        .header("X-TIMESTAMP", TS)
        .body(r#"{"grantType":"client_credentials"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["responseCode"], "4007302");
    assert_eq!(
        body["responseMessage"],
        "Invalid Mandatory Field [X-SIGNATURE]"
    );
    let sig =
        billhub_core::signature::snap::sign_token_request(PRIVATE_KEY, &s.client_id, TS).unwrap();
    for (body, code, message) in [
        (
            r#"{"grantType":"password"}"#,
            "4007301",
            "Invalid Field Format [grantType]",
        ),
        ("{}", "4007302", "Invalid Mandatory Field [grantType]"),
        (
            "nope",
            "4007300",
            "Bad Request [the body is not a JSON object]",
        ),
    ] {
        let r = reqwest::Client::new()
            .post(s.app.url("/v1.0/access-token/b2b"))
            .header("X-CLIENT-KEY", &s.client_id)
            .header("X-TIMESTAMP", TS)
            .header("X-SIGNATURE", &sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (v["responseCode"].as_str(), v["responseMessage"].as_str()),
            (Some(code), Some(message)),
            "{body}"
        );
    }
}

async fn a_disabled_channel_gets_no_token(db: TestDb) {
    let s = spawn(db).await;
    s.store().disable_channel(s.channel_id, T0).unwrap();
    s.token_request(&s.client_id, TS, None).await.is(
        401,
        "4017300",
        "Unauthorized. [Unknown client]",
    );
}
