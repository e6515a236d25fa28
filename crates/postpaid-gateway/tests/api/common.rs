//! Test setup: an organization, an enrolled terminal network, bills, and a client that signs
//! requests with `U` / `ST` / `SH` like a terminal does.

use std::cell::Cell;

use billhub_core::signature::csq;
use billhub_core::{Bill, Currency, PaymentRule, SettlementMode};
use billhub_http::Clock;
use billhub_http::testing::TestApp;
use billhub_store::testing::TestDb;
use billhub_store::{AccountInput, NewBill, NewOrganization};
use serde_json::Value;
use serde_json::json;
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime, UtcOffset};

/// The test clock starts here: the seed's date (2025-07-03).
pub const NOW: OffsetDateTime = datetime!(2025-07-03 10:00 UTC);

pub struct Env {
    pub app: TestApp,
    pub org: i64,
    pub user: String,
    pub password: String,
    pub channel: i64,
    /// Successive requests sign with successive `ST` values inside the 30 s window, so that
    /// two payments never share a signature.
    st_offset: Cell<i64>,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Env {
    pub async fn new(db: &TestDb) -> Env {
        let store = &db.store;
        let org = store
            .create_organization(
                &NewOrganization {
                    code: Some("POSTORG1".into()),
                    name: "Postpaid Biller".into(),
                    utc_offset: UtcOffset::from_hms(1, 0, 0).unwrap(),
                    locale: "en".into(),
                    settlement: Some(SettlementMode::Total),
                    va_prefixes: vec![],
                },
                NOW,
            )
            .unwrap()
            .id;
        let created = store.create_channel("Shops", "postpaid", NOW).unwrap();
        store.enroll(created.id, org, NOW).unwrap();
        let app = TestApp::spawn(postpaid_gateway::gateway(), db, Clock::fixed(NOW)).await;
        Env {
            app,
            org,
            user: created.username.unwrap(),
            password: created.password.unwrap(),
            channel: created.id,
            st_offset: Cell::new(-25),
        }
    }

    pub fn store(&self) -> &billhub_store::Store {
        &self.app.state.store
    }

    pub fn now(&self) -> OffsetDateTime {
        self.app.clock().now()
    }

    pub fn set(&self, key: &str, value: &str) {
        self.store().set_setting(self.org, key, value, NOW).unwrap();
    }

    /// A fresh `(ST, SH)` pair for this network at the current clock.
    pub fn sign(&self) -> (String, String) {
        let offset = self.st_offset.get();
        self.st_offset
            .set(if offset >= 25 { -25 } else { offset + 1 });
        let st = (self.now().unix_timestamp() + offset).to_string();
        let sh = csq::salted_hash(&self.password, &st);
        (st, sh)
    }

    pub fn signed(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let (st, sh) = self.sign();
        builder
            .header("U", &self.user)
            .header("ST", st)
            .header("SH", sh)
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> Answer {
        let resp = builder.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(
            self.signed(self.app.client.get(self.app.url(path)))
                .header("Accept", "application/json"),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(
            self.signed(self.app.client.post(self.app.url(path)).json(body))
                .header("Accept", "application/json"),
        )
        .await
    }

    /// Get Invoices with the default single `account` field; HTTP 200 expected.
    pub async fn lookup(&self, terminal: i64, account: &str) -> Value {
        let a = self
            .post(
                &format!(
                    "/post-paid/bill-payment/get-invoices/{terminal}/{}",
                    self.org
                ),
                &serde_json::json!([{ "key": "account", "value": account }]),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }

    /// The transaction code of a lookup answer.
    pub fn code_of(lookup: &Value) -> String {
        assert_eq!(
            lookup["additionalData"][0]["key"], "transaction_code",
            "{lookup}"
        );
        lookup["additionalData"][0]["value"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Payment with the default `account` field; HTTP 200 expected.
    pub async fn pay(&self, terminal: i64, reference: &str, body: &Value) -> Value {
        let a = self
            .post(
                &format!(
                    "/post-paid/bill-payment/payment/{terminal}/{}/{reference}",
                    self.org
                ),
                body,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }

    pub async fn revert(&self, terminal: i64, reference: &str, body: &Value) -> Value {
        let a = self
            .post(
                &format!("/util/revert/{terminal}/{}/{reference}", self.org),
                body,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }

    /// An exact EUR bill of `account`.
    pub fn bill(
        &self,
        account: &str,
        billed: i64,
        invoice: &str,
        bill_date: Date,
        due_date: Date,
    ) -> Bill {
        self.bill_with(account, billed, invoice, bill_date, due_date, None)
    }

    pub fn bill_with(
        &self,
        account: &str,
        billed: i64,
        invoice: &str,
        bill_date: Date,
        due_date: Date,
        valid_until: Option<OffsetDateTime>,
    ) -> Bill {
        let new = NewBill {
            organization_id: self.org,
            account_id: 0,
            collection_id: None,
            invoice_number: Some(invoice.into()),
            ref1: String::new(),
            ref2: String::new(),
            name: "Invoice".into(),
            description: String::new(),
            currency: Currency::EUR,
            billed,
            items: vec![],
            bill_date,
            due_date: Some(due_date),
            valid_until,
            rule: PaymentRule::Exact,
            source: "test".into(),
            extra: "{}".into(),
            va_numbers: vec![],
        };
        let account = AccountInput {
            code: account.into(),
            name: "Card Holder".into(),
            ..Default::default()
        };
        self.store()
            .create_bill_for_account(&account, &new, NOW)
            .unwrap()
            .1
    }
}

/// Asserts the dialect's refusal shape and code; returns the message.
pub fn assert_refused(body: &Value, code: &str) -> String {
    assert_eq!(body["rc"], -1, "{body}");
    assert_eq!(body["resultcode"], code, "{body}");
    assert_eq!(body["items"][0]["resultcode"], code, "{body}");
    // Live CSQ answers carry `finalstatus: -1` on every refusal.
    assert_eq!(body["items"][0]["finalstatus"], -1, "{body}");
    assert!(code.parse::<i64>().is_ok(), "{code}");
    body["message"].as_str().unwrap().to_string()
}

pub const SEED_FIELDS: &str = r#"[{"name":"card_code","label":"CARD CODE","type":"INPUT","account":true},{"name":"installments_to_pay","label":"INSTALLMENTS TO PAY","type":"INPUT"}]"#;

/// `TXN-yyyyMMdd-` and 10 characters, the date being the organization's (UTC+1) local date.
pub fn assert_code_format(code: &str, date: &str) {
    let rest = code
        .strip_prefix(&format!("TXN-{date}-"))
        .unwrap_or_else(|| panic!("{code}"));
    assert_eq!(rest.len(), 10, "{code}");
    assert!(
        rest.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{code}"
    );
}

pub fn is_uuid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok()
}

/// The two EUR invoices of the seed (6500 and 6000) on account `1234567890`.
pub fn seed_bills(env: &Env) {
    env.bill(
        "1234567890",
        6500,
        "INV-10004567",
        date!(2025 - 06 - 01),
        date!(2025 - 07 - 01),
    );
    env.bill(
        "1234567890",
        6000,
        "INV-10004568",
        date!(2025 - 06 - 15),
        date!(2025 - 07 - 15),
    );
}

pub fn pay_body(account: &str, code: &str, amount: i64) -> Value {
    json!({
        "amountToSendX100": amount,
        "localDateTime": "2025-07-03T11:00:00Z",
        "additionalData": [
            { "key": "account", "value": account },
            { "key": "transaction_code", "value": code }
        ]
    })
}

pub fn revert_body(amount: i64, original: i64, account: &str) -> Value {
    json!({
        "amountToSendX100": amount,
        "localDateTime": "2025-07-03T12:00:00Z",
        "account": account,
        "originalLocalReference": original,
        "originalLocalDate": "2025-07-03"
    })
}
