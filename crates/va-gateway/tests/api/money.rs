//! Money safety (issue 10): a bill with money on it cannot be revoked until its payments are
//! reversed (defect 6).

use crate::prelude::*;

/// A `partial` bill paid 40,000 of 100,000: revoke answers 409 `BILL_ALREADY_PAID` and the bill
/// keeps its money and status (before: it was voided with the money on it). Once the payment is
/// reversed, revoke voids it.
async fn revoke_refused_while_money_is_on_the_bill(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("8100000001", "partial", 100000)).await;
    let hash = d["hash"].as_str().unwrap().to_string();
    va.pay("0099028100000001", "M-PAY-1", "40000").await.ok();
    let path = format!("/api/v2/gw/bill/{hash}");
    let a = va.biller_delete(&path).await;
    a.refused(409, "BILL_ALREADY_PAID");
    assert_eq!(
        a.body["message"],
        "The bill has payments on it; reverse them before revoking it."
    );
    let shown = va.bill(&hash).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["paid_amount"].to_string(), "40000");
    let rev = json!({"bill_id": hash, "payment_ref": "M-PAY-1", "amount": 40000});
    va.bank_post("/api/v2/ch/reversal", &rev).await.ok();
    let a = va.biller_delete(&path).await;
    assert_eq!(a.ok()["status"], "void");
}

/// Bodies the receiver got, with their `X-Event-Id`.
type Hits = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

async fn receive(
    hits: actix_web::web::Data<Hits>,
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
) -> actix_web::HttpResponse {
    let id = req
        .headers()
        .get("X-Event-Id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    hits.lock().unwrap().push((id, body.to_vec()));
    actix_web::HttpResponse::Ok().body("ok")
}

/// A receiver on a free port answering 200.
fn start_receiver() -> (Hits, String) {
    let hits: Hits = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = actix_web::web::Data::new(hits.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/hook", actix_web::web::post().to(receive))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (hits, format!("http://127.0.0.1:{port}/hook"))
}

/// A bill passes its `valid_until`: the webhook says `bill.expired` with the bill as it shows,
/// status `expired` (before: expiry sent nothing).
async fn expiry_sends_a_webhook(db: TestDb) {
    let va = spawn(db).await;
    let (hits, url) = start_receiver();
    va.store()
        .set_setting(va.org.id, "va.webhook_url", &url, T0)
        .unwrap();
    let d = va.create(&bill_body("8200000001", "close", 100000)).await;
    va.app.clock().advance(time::Duration::days(31));
    let now = va.app.clock().now();
    assert_eq!(va.store().expire_due_bills(now).unwrap(), 1);
    let round = va.app.run_worker_once().await;
    assert_eq!((round.claimed, round.delivered), (1, 1), "{round:?}");
    let got = hits.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (event_id, body) = &got[0];
    assert!(is_uuid(&json!(event_id)), "{event_id}");
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["event"], "bill.expired");
    assert_eq!(body["context"]["hash"], d["hash"]);
    assert_eq!(body["context"]["status"], "expired");
    assert_eq!(body["context"]["paid_amount"].to_string(), "0");
    assert_eq!(va.app.run_worker_once().await.claimed, 0);
}

billhub_http::http_backend_tests!(
    revoke_refused_while_money_is_on_the_bill,
    expiry_sends_a_webhook,
);
