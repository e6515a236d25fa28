//! Payments on bills: transactions and the signed callbacks with their retries.

use super::*;

billhub_http::http_backend_tests!(
    payments_and_transactions,
    callback_delivered_and_signed,
    callback_retried_after_failure,
);

async fn payments_and_transactions(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Pay", None).await;
    let b = env.bill(&code, "T-1", "25.00", 2).await;
    let id = b["id"].as_i64().unwrap();
    let payment = env.pay(id, "SBX-T-1", "50.00");
    let path = bill_path(&code, &b);
    let r = env.get(&path).await;
    let g = r.ok();
    assert_eq!(g["status"], 4);
    assert_eq!(g["paid"], true);
    assert_eq!(g["total_paid"], "50.00");
    assert_eq!(g["balance"], "0.00");
    let p = &g["payments"][0];
    assert_eq!(
        keys(p),
        sorted(&[
            "id",
            "bill_id",
            "amount",
            "currency",
            "status",
            "payment_method",
            "paid_at",
            "created_at",
            "updated_at"
        ])
    );
    assert_eq!(p["id"], payment.id);
    assert_eq!(p["bill_id"], id);
    // Transactions of the bill.
    let r = env.get(&format!("{path}/transactions")).await;
    let t = r.ok();
    assert_eq!(keys(t), sorted(&PAGINATOR_FIELDS));
    assert_eq!(t["total"], 1);
    let t0 = &t["data"][0];
    assert_eq!(t0["ref_id"], "SBX-T-1");
    assert_eq!(t0["bill_id"], id);
    assert_eq!(t0["bill_no"], b["bill_no"]);
    assert_eq!(t0["channel"], "sandbox");
    assert_eq!(t0["payment_method"], "fpx");
    assert_eq!(t0["amount"], "50.00");
    assert_eq!(t0["transaction_amount"], "50.00");
    assert_eq!(t0["status"], "success");
    assert!(t0.get("bill").is_none());
    let r = env
        .get(&format!("{path}/transactions?include=bill.collection"))
        .await;
    assert_eq!(
        r.ok()["data"][0]["bill"]["collection"]["code"],
        code.as_str()
    );
    let r = env
        .get(&format!("{path}/transactions/SBX-T-1?include=bill"))
        .await;
    assert_eq!(r.ok()["ref_id"], "SBX-T-1");
    assert_eq!(r.body["bill"]["bill_no"], b["bill_no"]);
    assert!(r.body["bill"].get("collection").is_none());
    env.get(&format!("{path}/transactions/NOPE")).await.err(404);
    env.get(&format!("{path}/transactions?include=account"))
        .await
        .err(400);
    // A reversal shows on the payment and the bill.
    env.db
        .reverse_payment(
            &ReversalRequest {
                organization_id: env.a.org.id,
                payment_id: payment.id,
                channel: "sandbox".into(),
                channel_ref: "REV-T-1".into(),
                request_hash: fingerprint(&["REV-T-1"]),
                reason: "test".into(),
                requester: billhub_core::reversal::Requester::Channel,
                claimed: billhub_core::reversal::Claimed::Nothing,
                window: None,
            },
            env.now(),
        )
        .unwrap();
    let r = env
        .get(&format!("{path}?include=payments.transaction"))
        .await;
    assert_eq!(r.ok()["status"], 2);
    assert_eq!(r.body["balance"], "50.00");
    assert_eq!(r.body["payments"][0]["status"], "reversed");
    assert_eq!(r.body["payments"][0]["transaction"]["status"], "reversed");
    // No payments yet: an empty page.
    let other = env.bill(&code, "T-2", "1.00", 1).await;
    let r = env
        .get(&format!("{}/transactions", bill_path(&code, &other)))
        .await;
    assert_eq!(r.ok()["total"], 0);
    assert_eq!(r.body["data"], json!([]));
}

async fn callback_delivered_and_signed(db: TestDb) {
    let env = setup(db).await;
    let receiver = Receiver::start(&[]).await;
    let code = env.collection("CB", Some(&receiver.url)).await;
    let b = env.bill(&code, "ORDER-77", "10.00", 1).await;
    let id = b["id"].as_i64().unwrap();
    let payment = env.pay(id, "RP-20261121-0001", "10.00");
    let report = env.app.run_worker_once().await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let cb = &got[0];
    assert_eq!(cb.content_type, "application/x-www-form-urlencoded");
    assert!(!cb.event_id.is_empty());
    let names: Vec<String> = cb.fields().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        vec![
            "ref_id",
            "bill_id",
            "bill_no",
            "ref1",
            "ref2",
            "payment_method",
            "status",
            "paid",
            "currency",
            "amount",
            "signature"
        ]
    );
    // The partner's reference: `{bill_no}__{YmdHis}` of the payment, organization time (+08:00).
    let ref_id = format!("{}__20261121110000", b["bill_no"].as_str().unwrap());
    assert_eq!(cb.field("ref_id"), ref_id);
    assert_eq!(cb.field("bill_id"), id.to_string());
    assert_eq!(cb.field("bill_no"), b["bill_no"].as_str().unwrap());
    assert_eq!(cb.field("ref1"), "ORDER-77");
    assert_eq!(cb.field("ref2"), "");
    assert_eq!(cb.field("payment_method"), "fpx");
    assert_eq!(cb.field("status"), "4");
    assert_eq!(cb.field("paid"), "1");
    assert_eq!(cb.field("currency"), "MYR");
    assert_eq!(cb.field("amount"), "10.00");
    // The signature verifies with the organization's key, as a merchant checks it.
    let fields = cb.fields();
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(raudhahpay::verify(
        &env.a.signature_key,
        pairs.iter().copied()
    ));
    assert!(!raudhahpay::verify(
        &env.b.signature_key,
        pairs.iter().copied()
    ));
    let expected = raudhahpay::sign(
        &env.a.signature_key,
        pairs.iter().copied().filter(|(k, _)| *k != "signature"),
    );
    assert_eq!(cb.field("signature"), expected);
    assert_eq!(expected.len(), 64);
    // Delivered once: nothing more to send.
    assert_eq!(env.app.run_worker_once().await.claimed, 0);
    // A reversal is announced too, the bill no longer paid.
    env.db
        .reverse_payment(
            &ReversalRequest {
                organization_id: env.a.org.id,
                payment_id: payment.id,
                channel: "sandbox".into(),
                channel_ref: "REV-1".into(),
                request_hash: fingerprint(&["REV-1"]),
                reason: "chargeback".into(),
                requester: billhub_core::reversal::Requester::Channel,
                claimed: billhub_core::reversal::Claimed::Nothing,
                window: None,
            },
            env.now(),
        )
        .unwrap();
    let report = env.app.run_worker_once().await;
    assert_eq!(report.delivered, 1, "{report:?}");
    let got = receiver.received();
    let rev = &got[1];
    assert_eq!(rev.field("status"), "2");
    assert_eq!(rev.field("paid"), "0");
    assert_eq!(rev.field("amount"), "10.00");
    assert_eq!(rev.field("ref_id"), ref_id);
    assert_ne!(rev.event_id, cb.event_id);
    let fields = rev.fields();
    assert!(raudhahpay::verify(
        &env.a.signature_key,
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    ));
    // A bill of a collection without webhook_url sends nothing.
    let quiet = env.collection("Quiet", None).await;
    let q = env.bill(&quiet, "Q", "1.00", 1).await;
    env.pay(q["id"].as_i64().unwrap(), "SBX-Q", "1.00");
    assert_eq!(env.app.run_worker_once().await.claimed, 0);
}

async fn callback_retried_after_failure(db: TestDb) {
    let env = setup(db).await;
    // The receiver fails first, then answers 500 with RECEIVEOK (which acknowledges too).
    let receiver = Receiver::start(&[(500, "oops"), (500, "RECEIVEOK")]).await;
    let code = env.collection("Retry", Some(&receiver.url)).await;
    let b = env.bill(&code, "R-1", "12.34", 1).await;
    env.pay(b["id"].as_i64().unwrap(), "SBX-R-1", "12.34");
    let report = env.app.run_worker_once().await;
    assert_eq!((report.claimed, report.retried), (1, 1), "{report:?}");
    let deliveries = env.db.deliveries_for_organization(env.a.org.id).unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, "pending");
    assert_eq!(deliveries[0].attempts, 1);
    assert_eq!(deliveries[0].last_status, Some(500));
    assert_eq!(
        deliveries[0].next_attempt_at,
        env.now() + time::Duration::minutes(1)
    );
    // Not before the delay.
    assert_eq!(env.app.run_worker_once().await.claimed, 0);
    env.app.clock().advance(time::Duration::seconds(61));
    let report = env.app.run_worker_once().await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    // The same callback both times, with the same event id.
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(got[0].event_id, got[1].event_id);
    assert_eq!(got[1].field("amount"), "12.34");
    let deliveries = env.db.deliveries_for_organization(env.a.org.id).unwrap();
    assert_eq!(deliveries[0].status, "delivered");
    assert_eq!(deliveries[0].attempts, 2);
}
