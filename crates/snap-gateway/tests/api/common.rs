//! Helpers of the snap-gateway integration tests: a running gateway over a fresh database with
//! a biller (prefix `009902`, +07:00) and an enrolled SNAP bank whose `partnerServiceId`
//! `  888801` maps to that prefix, its RSA key pair the one of core's known-answer vectors, and
//! requests signed the way SNAP banks sign them.

#![allow(dead_code)]

use billhub_core::org::{Organization, parse_offset};
use billhub_core::signature::snap;
use billhub_core::{Currency, PaymentRule};
use billhub_http::testing::TestApp;
use billhub_http::{Clock, Config};
use billhub_store::testing::TestDb;
use billhub_store::{AccountInput, NewBill, NewOrganization};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::{date, datetime};

/// The test clock: 2026-12-05 10:00 in Jakarta.
pub const T0: OffsetDateTime = datetime!(2026-12-05 03:00 UTC);
pub const TS: &str = "2026-12-05T10:00:00+07:00";
pub const PREFIX: &str = "009902";
pub const PSID: &str = "  888801";
pub const PRIVATE_KEY: &str = include_str!("../../../core/tests/vectors/snap-test-key.pem");
pub const PUBLIC_KEY: &str = include_str!("../../../core/tests/vectors/snap-test-key.pub.pem");

pub struct Snap {
    pub app: TestApp,
    pub org: Organization,
    pub channel_id: i64,
    pub client_id: String,
    pub client_secret: String,
    pub token: String,
    pub next_external_id: std::sync::atomic::AtomicU64,
    pub db: TestDb,
}

/// An answer: status and JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["responseCode"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["responseMessage"].as_str().unwrap_or("")
    }

    /// Asserts this status, code and message.
    #[track_caller]
    pub fn is(&self, status: u16, code: &str, message: &str) -> &Self {
        assert_eq!(
            (self.status, self.code(), self.message()),
            (status, code, message),
            "unexpected answer: {}",
            self.body
        );
        self
    }

    pub fn data(&self) -> &Value {
        &self.body["virtualAccountData"]
    }
}

pub async fn spawn(db: TestDb) -> Snap {
    let config = Config::for_tests(&db.url, db.store.master_key().clone());
    let app = TestApp::spawn_with(snap_gateway::gateway(), &db, Clock::fixed(T0), config).await;
    let store = &app.state.store;
    let org = store
        .create_organization(
            &NewOrganization {
                code: Some("SNAP0001".into()),
                name: "SMP Islam Terpadu".into(),
                utc_offset: parse_offset("+07:00").unwrap(),
                locale: "id".into(),
                settlement: None,
                va_prefixes: vec![PREFIX.into()],
            },
            T0,
        )
        .unwrap();
    let channel = store.create_channel("Bank Jago", "snap", T0).unwrap();
    store.enroll(channel.id, org.id, T0).unwrap();
    store
        .set_channel_setting(channel.id, "snap.public_key", PUBLIC_KEY, T0)
        .unwrap();
    store
        .set_channel_setting(
            channel.id,
            &format!("snap.partner_service_id.{PREFIX}"),
            PSID,
            T0,
        )
        .unwrap();
    let mut s = Snap {
        app,
        org,
        channel_id: channel.id,
        client_id: channel.client_id.unwrap(),
        client_secret: channel.client_secret.unwrap(),
        token: String::new(),
        next_external_id: std::sync::atomic::AtomicU64::new(1),
        db,
    };
    let a = s.token_request(&s.client_id.clone(), TS, None).await;
    a.is(200, "2007300", "Successful");
    s.token = a.body["accessToken"].as_str().unwrap().to_string();
    s
}

/// A bill under VA `009902` + `customer_no` of `amount` IDR (whole rupiah).
pub fn bill(org_id: i64, customer_no: &str, rule: PaymentRule, rupiah: i64) -> NewBill {
    NewBill {
        organization_id: org_id,
        account_id: 0,
        collection_id: None,
        invoice_number: Some(format!("INV-{customer_no}")),
        ref1: String::new(),
        ref2: String::new(),
        name: "SPP Desember".into(),
        description: "Sekolah".into(),
        currency: Currency::from_code("IDR").unwrap(),
        billed: rupiah * 100,
        items: Vec::new(),
        bill_date: date!(2026 - 12 - 01),
        due_date: None,
        valid_until: Some(datetime!(2026-12-31 17:00 UTC)),
        rule,
        source: "cli".into(),
        extra: "{}".into(),
        va_numbers: vec![(PREFIX.into(), customer_no.into())],
    }
}

impl Snap {
    pub fn store(&self) -> &billhub_store::Store {
        &self.app.state.store
    }

    /// Creates a bill for account `A-{customer_no}` named Budi Santoso.
    pub fn create(&self, customer_no: &str, rule: PaymentRule, rupiah: i64) -> billhub_core::Bill {
        let account = AccountInput {
            code: format!("A-{customer_no}"),
            name: "Budi Santoso".into(),
            phone: "+6281234567890".into(),
            ..Default::default()
        };
        self.store()
            .create_bill_for_account(&account, &bill(self.org.id, customer_no, rule, rupiah), T0)
            .unwrap()
            .1
    }

    pub async fn token_request(
        &self,
        client_id: &str,
        timestamp: &str,
        signature: Option<&str>,
    ) -> Answer {
        let sig = match signature {
            Some(s) => s.to_string(),
            None => snap::sign_token_request(PRIVATE_KEY, client_id, timestamp).unwrap(),
        };
        let r = reqwest::Client::new()
            .post(self.app.url("/v1.0/access-token/b2b"))
            .header("Content-Type", "application/json")
            .header("X-CLIENT-KEY", client_id)
            .header("X-TIMESTAMP", timestamp)
            .header("X-SIGNATURE", sig)
            .body(r#"{"grantType":"client_credentials"}"#)
            .send()
            .await
            .unwrap();
        answer(r).await
    }

    pub fn external_id(&self) -> String {
        self.next_external_id
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            .to_string()
    }

    /// The headers a bank sends, signed; `edit` may change them before sending.
    pub fn headers(&self, path: &str, body: &str, external_id: &str) -> Vec<(String, String)> {
        let sig = snap::sign(
            &self.client_secret,
            "POST",
            path,
            &self.token,
            body.as_bytes(),
            TS,
        );
        vec![
            ("Content-Type".into(), "application/json".into()),
            ("Authorization".into(), format!("Bearer {}", self.token)),
            ("X-TIMESTAMP".into(), TS.into()),
            ("X-SIGNATURE".into(), sig),
            ("X-PARTNER-ID".into(), self.client_id.clone()),
            ("X-EXTERNAL-ID".into(), external_id.into()),
            ("CHANNEL-ID".into(), "95221".into()),
        ]
    }

    pub async fn send(&self, path: &str, body: &str, headers: &[(String, String)]) -> Answer {
        let mut req = reqwest::Client::new()
            .post(self.app.url(path))
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        answer(req.send().await.unwrap()).await
    }

    /// A signed transaction with a fresh `X-EXTERNAL-ID`.
    pub async fn call(&self, path: &str, body: &Value) -> Answer {
        let text = body.to_string();
        let headers = self.headers(path, &text, &self.external_id());
        self.send(path, &text, &headers).await
    }

    pub async fn inquiry(&self, customer_no: &str) -> Answer {
        self.call("/v1.0/transfer-va/inquiry", &inquiry_body(customer_no))
            .await
    }

    pub async fn pay(&self, customer_no: &str, request_id: &str, value: &str) -> Answer {
        self.call(
            "/v1.0/transfer-va/payment",
            &payment_body(customer_no, request_id, value),
        )
        .await
    }
}

pub fn inquiry_body(customer_no: &str) -> Value {
    json!({
        "partnerServiceId": PSID,
        "customerNo": customer_no,
        "virtualAccountNo": format!("{PSID}{customer_no}"),
        "inquiryRequestId": format!("INQ-{customer_no}"),
        "channelCode": 6011,
        "additionalInfo": {}
    })
}

pub fn payment_body(customer_no: &str, request_id: &str, value: &str) -> Value {
    json!({
        "partnerServiceId": PSID,
        "customerNo": customer_no,
        "virtualAccountNo": format!("{PSID}{customer_no}"),
        "virtualAccountName": "Budi Santoso",
        "paymentRequestId": request_id,
        "channelCode": "6011",
        "paidAmount": {"value": value, "currency": "IDR"},
        "trxDateTime": "2026-12-05T09:59:00+07:00",
        "referenceNo": format!("REF-{request_id}"),
        "flagAdvise": "N",
        "additionalInfo": {}
    })
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    Answer { status, body }
}
