//! Invalid parameters: 900 with HTTP 200.

use billhub_store::testing::TestDb;
use serde_json::{Value, json};

use crate::common::*;

/// Bad path integers, invalid bodies and unknown keys are 900 with HTTP 200.
pub async fn invalid_parameters(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("postpaid.fields", SEED_FIELDS);
    seed_bills(&env);
    for path in [
        "/post-paid/bill-payment/parameters/abc/1".to_string(),
        format!("/post-paid/bill-payment/parameters/2147483648/{}", env.org),
        "/post-paid/bill-payment/parameters/1/-5".to_string(),
    ] {
        let a = env.get(&path).await;
        assert_eq!(a.status, 200, "{path}");
        assert_refused(&a.body, "900");
    }
    let unknown_op = env.get("/post-paid/bill-payment/parameters/1/999999").await;
    assert!(assert_refused(&unknown_op.body, "900").contains("unknown operator 999999"));

    let env = &env;
    let lookup = |body: Value| {
        let path = format!("/post-paid/bill-payment/get-invoices/3/{}", env.org);
        async move { env.post(&path, &body).await.body }
    };
    let msg = assert_refused(
        &lookup(json!([{ "key": "card_code", "value": "1234567890" }, { "key": "colour", "value": "red" }])).await,
        "900",
    );
    assert!(
        msg.contains("colour") && msg.contains("installments_to_pay"),
        "{msg}"
    );
    let msg = assert_refused(
        &lookup(json!([{ "key": "card_code", "value": "1234567890" }, { "key": "installments_to_pay", "value": "zero" }])).await,
        "900",
    );
    assert!(msg.contains("installments_to_pay"), "{msg}");
    assert_refused(&lookup(json!({"card_code": "1"})).await, "900");

    // Unknown account: 11 with a message.
    let unknown = lookup(json!([{ "key": "card_code", "value": "0000" }, { "key": "installments_to_pay", "value": "1" }])).await;
    assert!(assert_refused(&unknown, "11").contains("Unknown account"));

    // Payment bodies.
    let path = format!("/post-paid/bill-payment/payment/3/{}/60", env.org);
    let both = env
        .post(
            &path,
            &json!({"amountToSendX100": 100, "destinationAmountX100": 100, "localDateTime": "2025-07-03T10:00:00Z",
                    "additionalData": []}),
        )
        .await;
    assert!(assert_refused(&both.body, "900").contains(
        "amountToSendX100 and destinationAmountX100 must not be informed at the same time, please inform only one of it"
    ));
    let huge = env
        .post(
            &path,
            &json!({"amountToSendX100": 2147483648i64, "localDateTime": "2025-07-03T10:00:00Z",
                    "additionalData": []}),
        )
        .await;
    assert!(assert_refused(&huge.body, "900").contains("int32"));
    let huger: Value = serde_json::from_str(
        r#"{"amountToSendX100": 99999999999999999999999, "localDateTime": "2025-07-03T10:00:00Z"}"#,
    )
    .unwrap();
    assert!(assert_refused(&env.post(&path, &huger).await.body, "900").contains("int32"));
    let missing = env.post(&path, &json!({"amountToSendX100": 100})).await;
    let msg = assert_refused(&missing.body, "900");
    assert!(
        msg.contains("localDateTime") && msg.contains("additionalData"),
        "{msg}"
    );
    let empty = env
        .send(env.signed(env.app.client.post(env.app.url(&path))))
        .await;
    assert_refused(&empty.body, "900");
    let bad_path = env
        .post(
            &format!("/post-paid/bill-payment/payment/x/{}/1", env.org),
            &json!({}),
        )
        .await;
    assert!(assert_refused(&bad_path.body, "900").contains("terminalId"));
    // A body over the limit keeps its 413, in the dialect's shape.
    let big = json!([{ "key": "card_code", "value": "x".repeat(300 * 1024) }]);
    let too_large = env
        .post(
            &format!("/post-paid/bill-payment/get-invoices/3/{}", env.org),
            &big,
        )
        .await;
    assert_eq!(too_large.status, 413);
    assert_refused(&too_large.body, "900");
    // A known path with the wrong method answers like an unknown route.
    let wrong_method = env.get(&path).await;
    assert_eq!(wrong_method.status, 200);
    assert_refused(&wrong_method.body, "900");
    // No such route: the dialect's shape too.
    let nowhere = env.get("/post-paid/nowhere").await;
    assert_eq!(nowhere.status, 200);
    assert_refused(&nowhere.body, "900");
}
