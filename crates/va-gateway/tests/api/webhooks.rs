//! Webhooks: a small receiver on 127.0.0.1:0 answering statuses from a queue.

use crate::prelude::*;

billhub_http::http_backend_tests!(
    webhook_is_delivered_signed_and_retried,
    webhook_gives_up_after_three_tries,
);

/// One request the receiver got: headers and raw body.
type Hit = (actix_web::http::header::HeaderMap, Vec<u8>);

#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(
    rx: actix_web::web::Data<Receiver>,
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
) -> actix_web::HttpResponse {
    rx.hits
        .lock()
        .unwrap()
        .push((req.headers().clone(), body.to_vec()));
    let status = rx.statuses.lock().unwrap().pop_front().unwrap_or(200);
    actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .body("ok")
}

async fn start_receiver(statuses: &[u16]) -> (Receiver, String, actix_web::dev::ServerHandle) {
    let rx = Receiver::default();
    rx.statuses.lock().unwrap().extend(statuses.iter().copied());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = actix_web::web::Data::new(rx.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/hook", actix_web::web::post().to(receive))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (rx, format!("http://127.0.0.1:{port}/hook"), handle)
}

async fn webhook_is_delivered_signed_and_retried(db: TestDb) {
    let va = spawn(db).await;
    let (rx, url, handle) = start_receiver(&[500]).await;
    va.store()
        .set_setting(va.org.id, "va.webhook_url", &url, T0)
        .unwrap();
    let mut body = bill_body("1600000001", "close", 100000);
    body["invoice_number"] = json!("INV/2026/11");
    body["customer_name"] = json!("Budi Café");
    let d = va.create(&body).await;
    let paid = va
        .pay("0099021600000001", "W-1", "100000")
        .await
        .ok()
        .clone();

    // First try: the receiver answers 500.
    let round = va.app.run_worker_once().await;
    assert_eq!((round.claimed, round.retried), (1, 1));
    // Not again before a minute has passed.
    assert_eq!(va.app.run_worker_once().await.claimed, 0);
    va.app.clock().advance(time::Duration::seconds(60));
    let round = va.app.run_worker_once().await;
    assert_eq!((round.claimed, round.delivered), (1, 1));
    let deliveries = va.store().deliveries_for_organization(va.org.id).unwrap();
    let mine: Vec<_> = deliveries.iter().filter(|d| d.dialect == "va").collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].status.as_str(), mine[0].attempts),
        ("delivered", 2)
    );

    let hits = rx.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 2);
    let event = va.store().notification_event(mine[0].event_id).unwrap();
    for (headers, raw) in &hits {
        let sig = headers.get("Signature").unwrap().to_str().unwrap();
        assert_eq!(sig, ipg::sign(&va.biller.api_key, raw, ""));
        assert_eq!(
            headers.get("X-Event-Id").unwrap().to_str().unwrap(),
            event.uid
        );
        assert_eq!(
            headers.get("Content-Type").unwrap().to_str().unwrap(),
            "application/json"
        );
    }
    assert_eq!(hits[0].1, hits[1].1);
    let text = String::from_utf8(hits[1].1.clone()).unwrap();
    // Written as PHP's json_encode writes it.
    assert!(
        text.contains(r#""invoice_number":"INV\/2026\/11""#),
        "{text}"
    );
    assert!(
        text.contains(r#""customer_name":"Budi Caf\u00e9""#),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["event"], "payment.received");
    let mut expected = paid.clone();
    expected.as_object_mut().unwrap().remove("payment");
    assert_eq!(v["context"], expected);
    assert_eq!(v["context"]["hash"], d["hash"]);
    assert_eq!(v["context"]["status"], "paid");

    // A reversal is `payment.reversal` with the bill as it is after it.
    let hash = d["hash"].as_str().unwrap();
    va.bank_post(
        "/api/v2/ch/reversal",
        &json!({"bill_id": hash, "payment_ref": "W-1", "amount": 100000}),
    )
    .await
    .ok();
    assert_eq!(va.app.run_worker_once().await.delivered, 1);
    let hits = rx.hits.lock().unwrap().clone();
    let v: Value = serde_json::from_slice(&hits[2].1).unwrap();
    assert_eq!(v["event"], "payment.reversal");
    assert_eq!(v["context"]["status"], "reversal");
    assert_eq!(v["context"]["paid_amount"].to_string(), "0");
    assert_eq!(v["context"], va.bill(hash).await);
    handle.stop(false).await;
}

async fn webhook_gives_up_after_three_tries(db: TestDb) {
    let va = spawn(db).await;
    let (rx, url, handle) = start_receiver(&[500, 503, 404, 500]).await;
    va.store()
        .set_setting(va.org.id, "va.webhook_url", &url, T0)
        .unwrap();
    va.create(&bill_body("1700000001", "close", 100000)).await;
    // Paid through the sandbox: any channel triggers the webhook.
    let hash = va.store().bills_by_va_number("0099021700000001").unwrap()[0]
        .public_no
        .clone();
    va.biller_post(
        &format!("/api/v2/gw/bill/{hash}/mock"),
        &json!({"type": "payment", "amount": 100000}),
    )
    .await
    .ok();
    assert_eq!(va.app.run_worker_once().await.retried, 1);
    va.app.clock().advance(time::Duration::seconds(60));
    assert_eq!(va.app.run_worker_once().await.retried, 1);
    va.app.clock().advance(time::Duration::seconds(60));
    assert_eq!(va.app.run_worker_once().await.failed, 1);
    va.app.clock().advance(time::Duration::seconds(600));
    assert_eq!(va.app.run_worker_once().await.claimed, 0);
    assert_eq!(rx.hits.lock().unwrap().len(), 3);
    let d = va.store().deliveries_for_organization(va.org.id).unwrap();
    assert_eq!(
        (d[0].status.as_str(), d[0].attempts, d[0].last_status),
        ("failed", 3, Some(404))
    );
    handle.stop(false).await;
}
