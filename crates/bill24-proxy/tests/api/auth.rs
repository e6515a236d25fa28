//! Tokens and the webhook's allow list.

use crate::prelude::*;

/// Without a token, only an address on exactly one organization's allow list is accepted.
async fn webhook_allow_listed_caller(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    let bill = env.bill("ALLOW1", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let payload = current("T-ALLOW", "KHR", json!(5000), "ALLOW1", "");

    let (status, reply) = post(&env.app, "/webhook", None, &payload).await;
    assert_eq!(status, 401);
    assert_eq!(
        reply,
        json!({"status": "Error", "message": "The token header is missing."})
    );
    assert_eq!(env.store().bill(bill.id).unwrap().paid, 0);

    env.set("bill24.webhook_allow_ips", "10.9.8.7, 127.0.0.1");
    // A wrong token is refused even from an allowed address.
    let (status, reply) = post(
        &env.app,
        "/webhook",
        Some("0123456789abcdef0123456789abcdef"),
        &payload,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(reply["message"], json!("The token is not valid."));
    let (status, reply) = post(&env.app, "/webhook", None, &payload).await;
    assert_eq!((status, reply), (200, success()));
    assert_eq!(env.store().bill(bill.id).unwrap().status, BillStatus::Paid);

    // A second organization allow-listing the same address: no token is ambiguous.
    let (other, other_token) = organization(&env.app, "OTHERORG", SettlementMode::Open);
    env.store()
        .set_setting(other.id, "bill24.webhook_allow_ips", "127.0.0.1", NOW)
        .unwrap();
    let payload = current("T-ALLOW-2", "KHR", json!(5000), "ALLOW1", "");
    let (status, reply) = post(&env.app, "/webhook", None, &payload).await;
    assert_eq!(status, 401);
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("several organizations")
    );
    // The token decides: the other organization knows no ALLOW1, so its money is unapplied there.
    let (status, reply) = post(&env.app, "/webhook", Some(&other_token), &payload).await;
    assert_eq!((status, reply), (200, success()));
    let un = env.store().unapplied_payments(Some(other.id)).unwrap();
    assert_eq!(un.len(), 1);
    assert!(
        env.store()
            .unapplied_payments(Some(env.org.id))
            .unwrap()
            .is_empty()
    );
}

/// Missing or unknown tokens get 401 in the dialect's envelope, on every endpoint.
async fn bad_tokens(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill("CU003035", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let collections = env
        .store()
        .create_credential(env.org.id, "collections", false, NOW)
        .unwrap()
        .access_token
        .unwrap();
    let body = json!({"consumer_code": "CU003035"});
    for path in ["/proxy", "/pending_bills"] {
        let (status, reply) = post(&env.app, path, None, &body).await;
        assert_eq!(status, 401);
        assert_eq!(
            reply,
            json!({"code": 401, "message": "The token header is missing.", "message_kh": "មិនមានការអនុញ្ញាត", "data": null})
        );
        for bad in ["0123456789abcdef0123456789abcdef", collections.as_str()] {
            let (status, reply) = post(&env.app, path, Some(bad), &body).await;
            assert_eq!(status, 401);
            assert_eq!(reply["code"], json!(401));
            assert_eq!(reply["message"], json!("The token is not valid."));
            assert_eq!(reply["data"], Value::Null);
        }
    }
    let (status, reply) = post(
        &env.app,
        "/webhook",
        Some("nope"),
        &current("T-BAD", "KHR", json!(5000), "CU003035", ""),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        reply,
        json!({"status": "Error", "message": "The token is not valid."})
    );
    assert!(
        env.store()
            .payment_by_channel_ref("bill24", "T-BAD")
            .unwrap()
            .is_none()
    );
}

billhub_http::http_backend_tests!(webhook_allow_listed_caller, bad_tokens,);
