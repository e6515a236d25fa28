//! Helpers of the collections-api integration tests: a running gateway over a fresh database
//! with one merchant organization (+08:00, like Malaysia), its access token and signature key,
//! a collection, and a tiny callback receiver.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use billhub_core::org::Organization;
use billhub_core::{Money, Payment};
use billhub_http::Clock;
use billhub_http::testing::TestApp;
use billhub_store::testing::TestDb;
use billhub_store::{NewOrganization, OnRejection, PaymentRequest, PaymentTarget, fingerprint};
use serde_json::{Value, json};
use time::macros::datetime;
use time::{OffsetDateTime, UtcOffset};

/// The test clock's start: 2026-11-21 11:00 at +08:00.
pub const T0: OffsetDateTime = datetime!(2026-11-21 03:00 UTC);

/// The public URL of the test configuration.
pub const PUBLIC: &str = "http://billhub.test";

pub struct Merchant {
    pub org: Organization,
    pub token: String,
    pub signature_key: String,
}

pub struct Env {
    pub app: TestApp,
    pub a: Merchant,
    /// A second organization, for tenant isolation.
    pub b: Merchant,
    /// Keeps the database alive.
    pub db: TestDb,
}

/// An answer: status, headers and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Answer {
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "unexpected answer: {}", self.text);
        &self.body
    }

    /// Asserts a JSON error with this status and returns the body.
    #[track_caller]
    pub fn err(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        assert!(
            self.body["message"].is_string(),
            "not a JSON error: {}",
            self.text
        );
        &self.body
    }

    /// Asserts a 422 naming exactly these fields.
    #[track_caller]
    pub fn invalid(&self, fields: &[&str]) -> &Value {
        self.err(422);
        assert_eq!(self.body["message"], "The given data was invalid.");
        let mut got: Vec<&str> = self.body["errors"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        got.sort();
        let mut want = fields.to_vec();
        want.sort();
        assert_eq!(got, want, "errors: {}", self.body["errors"]);
        for (_, msgs) in self.body["errors"].as_object().into_iter().flatten() {
            assert!(
                msgs.as_array()
                    .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)),
                "{msgs}"
            );
        }
        &self.body
    }
}

fn merchant(db: &TestDb, code: &str, name: &str) -> Merchant {
    let org = db
        .create_organization(
            &NewOrganization {
                code: Some(code.into()),
                name: name.into(),
                utc_offset: UtcOffset::from_hms(8, 0, 0).unwrap(),
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec![],
            },
            T0,
        )
        .unwrap();
    let cred = db
        .create_credential(org.id, "collections", false, T0)
        .unwrap();
    Merchant {
        org,
        token: cred.access_token.unwrap(),
        signature_key: cred.signature_key.unwrap(),
    }
}

pub async fn setup(db: TestDb) -> Env {
    let a = merchant(&db, "MERCHANTA", "Kedai Runcit A");
    let b = merchant(&db, "MERCHANTB", "Kedai Runcit B");
    let app = TestApp::spawn(collections_api::gateway(), &db, Clock::fixed(T0)).await;
    Env { app, a, b, db }
}

impl Env {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .app
            .client
            .request(method, self.app.url(path))
            .header("Accept", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            body,
        }
    }

    /// As merchant A.
    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, Some(&self.a.token), None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path, Some(&self.a.token), Some(body), &[])
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.call("PATCH", path, Some(&self.a.token), Some(body), &[])
            .await
    }

    /// As merchant B.
    pub async fn as_b(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        self.call(method, path, Some(&self.b.token), body, &[])
            .await
    }

    /// A collection of merchant A; returns its code.
    pub async fn collection(&self, name: &str, webhook_url: Option<&str>) -> String {
        let mut body = json!({ "name": name });
        if let Some(u) = webhook_url {
            body["webhook_url"] = json!(u);
        }
        let r = self.post("/api/collections", &body).await;
        r.ok()["code"].as_str().unwrap().to_string()
    }

    /// A bill of merchant A in `code` with one product line.
    pub async fn bill(&self, code: &str, ref1: &str, price: &str, quantity: u32) -> Value {
        let r = self
            .post(
                &format!("/api/collections/{code}/bills"),
                &bill_body(ref1, "", json!(price), json!(quantity)),
            )
            .await;
        r.ok().clone()
    }

    pub fn now(&self) -> OffsetDateTime {
        self.app.clock().now()
    }

    /// Pays a bill of merchant A through the sandbox channel.
    pub fn pay(&self, bill_id: i64, reference: &str, amount: &str) -> Payment {
        let amount = Money::parse(amount, billhub_core::Currency::MYR).unwrap();
        let req = PaymentRequest {
            organization_id: self.a.org.id,
            channel: "sandbox".into(),
            channel_ref: reference.into(),
            request_hash: fingerprint(&[reference, &amount.to_fixed_string()]),
            target: PaymentTarget::Bill { bill_id },
            amount,
            fee: 0,
            method: "fpx".into(),
            payer_name: "RAUDHAH PAY".into(),
            details: "{}".into(),
            paid_at: self.now(),
            on_rejection: OnRejection::Refuse,
        };
        self.db
            .post_payment(&req, self.now())
            .unwrap()
            .payment()
            .unwrap()
            .clone()
    }
}

/// `due` a week after the test clock's local date.
pub fn due() -> String {
    (T0.to_offset(UtcOffset::from_hms(8, 0, 0).unwrap()).date() + time::Duration::days(7))
        .to_string()
}

/// A bill body as real clients send it: products without `id`, customer without `acc_no`.
pub fn bill_body(ref1: &str, ref2: &str, price: Value, quantity: Value) -> Value {
    json!({
        "due": due(),
        "ref1": ref1,
        "ref2": ref2,
        "currency": "MYR",
        "customer": {
            "first_name": "Siti",
            "last_name": "Aminah",
            "address": "Jalan Ampang, Kuala Lumpur",
            "email": "siti@example.com",
            "mobile": "60123456789"
        },
        "product": [{ "title": "Yuran", "price": price, "quantity": quantity }]
    })
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub content_type: String,
    pub event_id: String,
    pub body: String,
}

impl Received {
    pub fn fields(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(&self.body).unwrap()
    }

    pub fn field(&self, name: &str) -> String {
        self.fields()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no field {name} in {}", self.body))
    }
}

/// A callback receiver on 127.0.0.1:0 that records every request and answers from a queue of
/// (status, body), then `200 RECEIVEOK`.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<(u16, String)>>>,
    handle: actix_web::dev::ServerHandle,
}

struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<(u16, String)>>>,
}

async fn receive(req: HttpRequest, body: web::Bytes, st: web::Data<ReceiverState>) -> HttpResponse {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    st.got.lock().unwrap().push(Received {
        content_type: header("content-type"),
        event_id: header("x-billhub-event-id"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let (status, text) = st
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, "RECEIVEOK".into()));
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body(text)
}

impl Receiver {
    pub async fn start(answers: &[(u16, &str)]) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(
            answers
                .iter()
                .map(|(s, b)| (*s, b.to_string()))
                .collect::<VecDeque<_>>(),
        ));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (g, a) = (got.clone(), answers.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(ReceiverState {
                    got: g.clone(),
                    answers: a.clone(),
                }))
                .default_service(web::to(receive))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/callback"),
            got,
            answers,
            handle,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let h = self.handle.clone();
        actix_web::rt::spawn(async move { h.stop(false).await });
    }
}
