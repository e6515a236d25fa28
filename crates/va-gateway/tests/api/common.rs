//! Helpers of the va-gateway integration tests: a running gateway over a fresh database with a
//! biller (organization `E9KP2ZQ6`, prefix `009902`, +07:00) and an enrolled bank, and signed
//! requests the way IPG clients send them.

#![allow(dead_code)]

use billhub_core::org::{Organization, parse_offset};
use billhub_core::signature::ipg;
use billhub_http::testing::TestApp;
use billhub_http::{Clock, Config};
use billhub_store::testing::TestDb;
use billhub_store::{CreatedChannel, CreatedCredential, NewOrganization};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

/// The test clock's start: 2026-11-21 10:00 at +07:00.
pub const T0: OffsetDateTime = datetime!(2026-11-21 03:00 UTC);

pub const ORG_CODE: &str = "E9KP2ZQ6";
pub const PREFIX: &str = "009902";

/// A client of the API: OAuth credentials, API key and a current token.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    pub api_key: String,
    pub token: String,
}

pub struct Va {
    pub app: TestApp,
    pub org: Organization,
    pub biller: Client,
    pub bank: Client,
    pub bank_channel_id: i64,
    /// Keeps the database alive (dropped after the app).
    pub db: TestDb,
}

/// An answer: status and JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn rc(&self) -> &str {
        self.body["rc"].as_str().unwrap_or("")
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// Asserts SUCCESS and returns `data`.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(
            (self.status, self.rc()),
            (200, "SUCCESS"),
            "unexpected answer: {}",
            self.body
        );
        &self.body["data"]
    }

    /// Asserts a refusal with this status and rc.
    #[track_caller]
    pub fn refused(&self, status: u16, rc: &str) -> &Self {
        assert_eq!(
            (self.status, self.rc()),
            (status, rc),
            "unexpected answer: {}",
            self.body
        );
        assert!(self.body.get("timestamp").is_some());
        self
    }
}

pub async fn spawn(db: TestDb) -> Va {
    spawn_with_sandbox(db, true).await
}

pub async fn spawn_with_sandbox(db: TestDb, sandbox: bool) -> Va {
    let mut config = Config::for_tests(&db.url, db.store.master_key().clone());
    config.sandbox = sandbox;
    let app = TestApp::spawn_with(va_gateway::gateway(), &db, Clock::fixed(T0), config).await;
    let store = &app.state.store;
    let org = store
        .create_organization(
            &NewOrganization {
                code: Some(ORG_CODE.into()),
                name: "SMP Islam Terpadu".into(),
                utc_offset: parse_offset("+07:00").unwrap(),
                locale: "id".into(),
                settlement: None,
                va_prefixes: vec![PREFIX.into(), "009905".into()],
            },
            T0,
        )
        .unwrap();
    let cred: CreatedCredential = store.create_credential(org.id, "va", false, T0).unwrap();
    let channel: CreatedChannel = store.create_channel("Bank Muamalat", "va", T0).unwrap();
    store.enroll(channel.id, org.id, T0).unwrap();
    let mut va = Va {
        org,
        biller: Client {
            client_id: cred.client_id.unwrap(),
            client_secret: cred.client_secret.unwrap(),
            api_key: cred.api_key.unwrap(),
            token: String::new(),
        },
        bank: Client {
            client_id: channel.client_id.unwrap(),
            client_secret: channel.client_secret.unwrap(),
            api_key: channel.api_key.unwrap(),
            token: String::new(),
        },
        bank_channel_id: channel.id,
        app,
        db,
    };
    va.biller.token = va.token_for(&va.biller.clone()).await;
    va.bank.token = va.token_for(&va.bank.clone()).await;
    va
}

/// A valid create-bill body (`close`, 100000, one component, valid for 30 days).
pub fn bill_body(va_number: &str, kind: &str, total: i64) -> Value {
    json!({
        "va_number": va_number,
        "invoice_number": format!("INV/{va_number}"),
        "prefix": PREFIX,
        "name": "SPP Jan 22",
        "total_amount": total,
        "institution_code": ORG_CODE,
        "type": kind,
        "valid_until": va_gateway::wire::iso(T0 + time::Duration::days(30), parse_offset("+07:00").unwrap()),
        "components": [{"name": "SPP Januari", "qty": 1, "price": total, "total": total}],
        "customer_name": "Budi Santoso",
        "customer_email": "budi@example.com",
        "customer_phone": "+621234567890",
        "customer_address": "Surabaya, Indonesia",
        "description": "Pembayaran SPP Januari",
        "ext_description": "-"
    })
}

/// A channel request's common fields.
pub fn channel_body(va_number: &str, ref_id: &str) -> Value {
    json!({
        "va_number": va_number,
        "ref_id": ref_id,
        "terminal_id": "mobile_banking",
        "transaction_date": "2026-11-21 10:00:00"
    })
}

pub fn pay_body(va_number: &str, ref_id: &str, amount: &str) -> Value {
    let mut b = channel_body(va_number, ref_id);
    b["amount"] = json!(amount);
    b["customer_name"] = json!("Budi Santoso");
    b
}

impl Va {
    pub fn store(&self) -> &billhub_store::Store {
        &self.app.state.store
    }

    pub async fn token_for(&self, c: &Client) -> String {
        let resp = self
            .app
            .client
            .post(self.app.url("/oauth/token"))
            .json(&json!({
                "grant_type": "client_credentials",
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "scope": "*"
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let v: Value = resp.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    /// Fresh tokens for both clients (after moving the clock past their lifetime).
    pub async fn refresh_tokens(&mut self) {
        self.biller.token = self.token_for(&self.biller.clone()).await;
        self.bank.token = self.token_for(&self.bank.clone()).await;
    }

    /// Sends `body` bytes exactly, signed over them (or over the raw query when empty).
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        token: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let mut rb = self
            .app
            .client
            .request(method, self.app.url(path_and_query))
            .header("Accept", "application/json");
        if let Some(t) = token {
            rb = rb.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(s) = signature {
            rb = rb.header("Signature", s);
        }
        if !body.is_empty() {
            rb = rb
                .header("Content-Type", "application/json")
                .body(body.to_vec());
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text}"));
        Answer { status, body }
    }

    /// A signed call as `client` with a JSON body written the way PHP's json_encode writes it.
    pub async fn call(
        &self,
        client: &Client,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Answer {
        let bytes = body
            .map(|b| ipg::php_escape(&serde_json::to_string(b).unwrap()).into_bytes())
            .unwrap_or_default();
        let query = path_and_query.split_once('?').map(|(_, q)| q).unwrap_or("");
        let sig = ipg::sign(&client.api_key, &bytes, query);
        self.send_raw(
            method,
            path_and_query,
            Some(&client.token),
            Some(&sig),
            &bytes,
        )
        .await
    }

    pub async fn biller_post(&self, path: &str, body: &Value) -> Answer {
        self.call(&self.biller, reqwest::Method::POST, path, Some(body))
            .await
    }

    pub async fn biller_get(&self, path_and_query: &str) -> Answer {
        self.call(&self.biller, reqwest::Method::GET, path_and_query, None)
            .await
    }

    pub async fn biller_delete(&self, path: &str) -> Answer {
        self.call(
            &self.biller,
            reqwest::Method::DELETE,
            path,
            Some(&json!({})),
        )
        .await
    }

    pub async fn bank_post(&self, path: &str, body: &Value) -> Answer {
        self.call(&self.bank, reqwest::Method::POST, path, Some(body))
            .await
    }

    /// Creates a bill and returns its data.
    pub async fn create(&self, body: &Value) -> Value {
        self.biller_post("/api/v2/gw/bill", body).await.ok().clone()
    }

    pub async fn pay(&self, va_number: &str, ref_id: &str, amount: &str) -> Answer {
        self.bank_post("/api/v2/ch/payment", &pay_body(va_number, ref_id, amount))
            .await
    }

    pub async fn bill(&self, hash: &str) -> Value {
        self.biller_get(&format!("/api/v2/gw/bill/{hash}"))
            .await
            .ok()
            .clone()
    }
}

/// `2022-04-04T11:46:56+07:00`.
pub fn is_iso_wib(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 25 && s.ends_with("+07:00") && s.as_bytes()[10] == b'T'
}

pub fn is_uuid(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok() && s.len() == 36)
}
