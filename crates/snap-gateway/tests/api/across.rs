//! The same VA bills through two dialects: a bill created through `va-gateway` (IPG's biller
//! API), and one created with the store as the CLI does, are found and paid through SNAP, then
//! seen paid through IPG's API and on the hosted page, and the organization's VA webhook fires.

use billhub_core::signature::ipg;
use billhub_core::{Currency, PaymentRule};
use billhub_http::testing::TestApp;
use billhub_http::{Clock, Config};
use billhub_store::testing::TestDb;
use serde_json::{Value, json};

use crate::common::*;

billhub_http::http_backend_tests!(a_va_bill_is_paid_through_snap);

/// A webhook receiver on a free port that records every body it gets.
async fn receiver() -> (std::sync::Arc<std::sync::Mutex<Vec<Value>>>, String) {
    let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let data = actix_web::web::Data::new(hits.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().app_data(data.clone()).route(
            "/hook",
            actix_web::web::post().to(
                |hits: actix_web::web::Data<std::sync::Arc<std::sync::Mutex<Vec<Value>>>>,
                 body: actix_web::web::Bytes| async move {
                    hits.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    actix_web::HttpResponse::Ok().body("ok")
                },
            ),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (hits, format!("http://127.0.0.1:{port}/hook"))
}

async fn va_call(
    va: &TestApp,
    token: &str,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Value {
    let bytes = body
        .map(|b| ipg::php_escape(&b.to_string()).into_bytes())
        .unwrap_or_default();
    let mut rb = reqwest::Client::new()
        .request(method, va.url(path))
        .header("Authorization", format!("Bearer {token}"))
        .header("Signature", ipg::sign(key, &bytes, ""));
    if !bytes.is_empty() {
        rb = rb.header("Content-Type", "application/json").body(bytes);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rc"], "SUCCESS", "{v}");
    v["data"].clone()
}

async fn a_va_bill_is_paid_through_snap(db: TestDb) {
    let snap = spawn(db).await;
    let config = Config::for_tests(&snap.db.url, snap.db.store.master_key().clone());
    let va = TestApp::spawn_with(va_gateway::gateway(), &snap.db, Clock::fixed(T0), config).await;
    let store = snap.store();
    let (hits, url) = receiver().await;
    store
        .set_setting(snap.org.id, "va.webhook_url", &url, T0)
        .unwrap();

    // A biller of the VA dialect creates a bill.
    let cred = store
        .create_credential(snap.org.id, "va", false, T0)
        .unwrap();
    let r = reqwest::Client::new()
        .post(va.url("/oauth/token"))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": cred.client_id,
                      "client_secret": cred.client_secret, "scope": "*"}),
        )
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let key = cred.api_key.unwrap();
    let created = va_call(
        &va,
        &token,
        &key,
        reqwest::Method::POST,
        "/api/v2/gw/bill",
        Some(&json!({
            "va_number": "1600000001",
            "invoice_number": "INV/2026/12/1",
            "prefix": PREFIX,
            "name": "SPP Desember",
            "total_amount": 150000,
            "institution_code": "SNAP0001",
            "type": "close",
            "valid_until": "2026-12-31T23:59:59+07:00",
            "components": [{"name": "SPP Desember", "qty": 1, "price": 150000, "total": 150000}],
            "customer_name": "Siti Aminah",
            "description": "Pembayaran SPP"
        })),
    )
    .await;
    let hash = created["hash"].as_str().unwrap().to_string();

    // A SNAP bank finds it and pays it.
    let a = snap.inquiry("1600000001").await;
    a.is(200, "2002400", "Successful");
    assert_eq!(a.data()["virtualAccountName"], "Siti Aminah");
    assert_eq!(a.data()["totalAmount"]["value"], "150000.00");
    let paid = snap.pay("1600000001", "SNAP-PAY-1", "150000.00").await;
    paid.is(200, "2002500", "Successful");
    let uid = paid.data()["additionalInfo"]["paymentId"]
        .as_str()
        .unwrap()
        .to_string();

    // IPG's API sees it paid, by the SNAP bank's channel.
    let shown = va_call(
        &va,
        &token,
        &key,
        reqwest::Method::GET,
        &format!("/api/v2/gw/bill/{hash}"),
        None,
    )
    .await;
    assert_eq!(shown["status"], "paid");
    assert_eq!(shown["paid_amount"].to_string(), "150000");
    // The hosted page too.
    let public_no = store.bills_by_va_number("0099021600000001").unwrap()[0]
        .public_no
        .clone();
    let page = reqwest::get(snap.app.url(&format!("/b/{public_no}")))
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("/r/{uid}")),
        "the page links the SNAP payment's receipt"
    );
    // And the VA webhook fires for the payment.
    let round = va.run_worker_once().await;
    assert_eq!(round.delivered, 1, "{round:?}");
    let hits = hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["event"], "payment.received");
    assert_eq!(hits[0]["context"]["hash"], hash.as_str());
    assert_eq!(hits[0]["context"]["status"], "paid");

    // A bill made with the store (as the CLI makes it) is paid the same way.
    let cli_bill = snap.create("1600000002", PaymentRule::Exact, 20_000);
    assert_eq!(cli_bill.currency, Currency::from_code("IDR").unwrap());
    snap.pay("1600000002", "SNAP-PAY-2", "20000.00")
        .await
        .is(200, "2002500", "Successful");
    assert_eq!(store.bill(cli_bill.id).unwrap().status.as_str(), "paid");
}
