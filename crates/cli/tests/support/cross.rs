//! One bill, every channel: a bill published through one dialect is found and paid through the
//! others, on both backends, with the real gateways over HTTP on one shared store.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use billhub_core::signature::{csq, raudhahpay};
use billhub_http::Clock;
use billhub_http::testing::TestApp;
use billhub_store::testing::TestDb;
use billhub_store::{NewOrganization, Store};
use serde_json::{Value, json};
use time::macros::datetime;

type Got = Arc<Mutex<Vec<Vec<(String, String)>>>>;

async fn receive(got: web::Data<Got>, body: web::Bytes) -> HttpResponse {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    got.lock().unwrap().push(form);
    HttpResponse::Ok().body("RECEIVEOK")
}

/// A merchant's callback receiver on 127.0.0.1:0.
fn receiver() -> (String, Got) {
    let got: Got = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = web::Data::new(got.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}/callback"), got)
}

fn csq_headers(
    req: reqwest::RequestBuilder,
    user: &str,
    password: &str,
    clock: &Clock,
) -> reqwest::RequestBuilder {
    let st = clock.now().unix_timestamp().to_string();
    req.header("U", user)
        .header("ST", &st)
        .header("SH", csq::salted_hash(password, &st))
        .header("Accept", "application/json")
}

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    )
}

pub async fn one_bill_every_channel(db: TestDb) {
    let clock = Clock::fixed(datetime!(2025-09-01 03:00 UTC));
    let store: &Store = &db.store;
    let now = clock.now();
    let org = store
        .create_organization(
            &NewOrganization {
                code: Some("CROSS001".into()),
                name: "Cross Biller".into(),
                utc_offset: time::UtcOffset::from_hms(7, 0, 0).unwrap(),
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec!["009911".into()],
            },
            now,
        )
        .unwrap();
    let col = store
        .create_credential(org.id, "collections", false, now)
        .unwrap();
    let (col_token, sig_key) = (col.access_token.unwrap(), col.signature_key.unwrap());
    let b24_token = store
        .create_credential(org.id, "bill24", false, now)
        .unwrap()
        .token
        .unwrap();
    let net = store.create_channel("Shops", "postpaid", now).unwrap();
    store.enroll(net.id, org.id, now).unwrap();
    let (user, password) = (net.username.unwrap(), net.password.unwrap());

    let collections = TestApp::spawn(collections_api::gateway(), &db, clock.clone()).await;
    let bill24 = TestApp::spawn(bill24_proxy::gateway(), &db, clock.clone()).await;
    let postpaid = TestApp::spawn(postpaid_gateway::gateway(), &db, clock.clone()).await;
    let http = reqwest::Client::new();
    let (hook, got) = receiver();

    // 1. The merchant's back office publishes a bill through the collections API.
    let (s, c) = json_of(
        http.post(collections.url("/api/collections"))
            .bearer_auth(&col_token)
            .header("Accept", "application/json")
            .json(&json!({ "name": "Tuition", "webhook_url": hook }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    let code = c["code"].as_str().unwrap().to_string();
    let (s, bill) = json_of(
        http.post(collections.url(&format!("/api/collections/{code}/bills")))
            .bearer_auth(&col_token)
            .header("Accept", "application/json")
            .json(&json!({
                "due": "2025-09-30", "ref1": "T-1", "ref2": "", "currency": "USD",
                "customer": { "acc_no": "CU777", "first_name": "Sok", "last_name": "Dara", "email": "dara@example.com", "mobile": "012345678", "address": "Phnom Penh" },
                "product": [ { "title": "Tuition", "price": "12.50", "quantity": 2 } ]
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{bill}");
    let bill_no = bill["bill_no"].as_str().unwrap().to_string();
    assert_eq!(
        (bill["total_amount"].as_str(), bill["paid"].as_bool()),
        (Some("25.00"), Some(false))
    );

    // 2. A Cambodian bank app asks Bill24 for the amount by the customer's account code.
    let (s, inq) = json_of(
        http.post(bill24.url("/proxy"))
            .header("token", &b24_token)
            .json(&json!({ "consumer_code": "CU777" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(inq["code"], 0, "{inq}");
    assert_eq!(inq["data"]["currency"], "USD");
    assert_eq!(inq["data"]["due_amount"], json!(25));
    // ... and by the bill's public number.
    let (_, inq) = json_of(
        http.post(bill24.url("/proxy"))
            .header("token", &b24_token)
            .json(&json!({ "consumer_code": bill_no }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (inq["code"].clone(), inq["data"]["due_amount"].clone()),
        (json!(0), json!(25))
    );

    // 3. A shop terminal looks the account up and pays it (CSQ postpaid dialect).
    let terminal = 7;
    let (s, inv) = json_of(
        csq_headers(
            http.post(postpaid.url(&format!(
                "/post-paid/bill-payment/get-invoices/{terminal}/{}",
                org.id
            ))),
            &user,
            &password,
            &clock,
        )
        .json(&json!([{ "key": "account", "value": "CU777" }]))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            inv["rc"].clone(),
            inv["pendingInvoices"].clone(),
            inv["totalAmountX100"].clone()
        ),
        (json!(0), json!(1), json!(2500)),
        "{inv}"
    );
    assert_eq!(inv["items"][0]["invoiceReference"], json!(bill_no));
    let tx_code = inv["additionalData"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    clock.advance(time::Duration::seconds(1));
    let (s, paid) = json_of(
        csq_headers(http.post(postpaid.url(&format!("/post-paid/bill-payment/payment/{terminal}/{}/123456", org.id))), &user, &password, &clock)
            .json(&json!({
                "amountToSendX100": 2500,
                "localDateTime": "2025-09-01T10:00:01+07:00",
                "additionalData": [ { "key": "account", "value": "CU777" }, { "key": "transaction_code", "value": tx_code } ]
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        (paid["rc"].clone(), paid["items"][0]["resultcode"].clone()),
        (json!(0), json!("10")),
        "{paid}"
    );

    // 4. Every channel sees it at once.
    let (_, after) = json_of(
        http.get(collections.url(&format!(
            "/api/collections/{code}/bills/{bill_no}?include=payments.transaction"
        )))
        .bearer_auth(&col_token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (
            after["total_paid"].as_str(),
            after["balance"].as_str(),
            after["paid"].as_bool()
        ),
        (Some("25.00"), Some("0.00"), Some(true)),
        "{after}"
    );
    assert_eq!(after["payments"].as_array().unwrap().len(), 1);
    let (_, inq) = json_of(
        http.post(bill24.url("/proxy"))
            .header("token", &b24_token)
            .json(&json!({ "consumer_code": "CU777" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(inq["code"], 3, "nothing left to pay: {inq}");

    // 5. The merchant hears about it, signed with its key, whichever channel took the money.
    let report = collections.run_worker_once().await;
    assert_eq!(report.delivered, 1, "{report:?}");
    let forms = got.lock().unwrap().clone();
    assert_eq!(forms.len(), 1);
    let form = &forms[0];
    let field = |k: &str| {
        form.iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        (
            field("bill_no"),
            field("status"),
            field("paid"),
            field("amount"),
            field("currency")
        ),
        (
            bill_no.clone(),
            "4".into(),
            "1".into(),
            "25.00".into(),
            "USD".into()
        )
    );
    assert!(
        raudhahpay::verify(&sig_key, form.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        "callback signature"
    );

    // 6. A Bill24 notification for the same (already paid) account is money taken that cannot
    // be applied: acknowledged, recorded as unapplied, never applied twice.
    let note = json!({
        "tran_id": "b24-late-1", "tran_no": "X1", "payment_service_type": "Bank Channel", "tran_date": "2025-09-01T10:05:00.000000",
        "tran_amount": 25, "currency": "USD", "bank_code": "AC", "bank_name": "ACLEDA", "bank_ref": "AC1", "identity_code": "CU777",
        "purpose_of_transaction": "", "device_code": "", "status": "success",
        "customers": [ { "branch_code": "", "branch_name": "", "customer_code": "CU777", "customer_name": "Sok Dara", "customer_name_latin": "", "bill_no": "", "amount": 25 } ]
    });
    let (s, ack) = json_of(
        http.post(bill24.url("/webhook"))
            .header("token", &b24_token)
            .json(&note)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, ack["status"].as_str()), (200, Some("Success")), "{ack}");
    let unapplied = store.unapplied_payments(Some(org.id)).unwrap();
    assert_eq!(unapplied.len(), 1);
    assert_eq!(
        (unapplied[0].amount, unapplied[0].account_code.as_str()),
        (2500, "CU777")
    );
    assert_eq!(
        store
            .bill_by_public_no(org.id, &bill_no)
            .unwrap()
            .unwrap()
            .paid,
        2500
    );
}
