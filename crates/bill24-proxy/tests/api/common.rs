//! Helpers of the bill24 API tests: an organization with a Bill24 token, bills made through the
//! store, and JSON calls over HTTP.

#![allow(dead_code)]

use billhub_core::org::Organization;
use billhub_core::{Bill, Currency, PaymentRule, SettlementMode};
use billhub_http::Clock;
use billhub_http::testing::TestApp;
use billhub_store::testing::TestDb;
use billhub_store::{AccountInput, NewBill, NewOrganization};
use serde_json::Value;
use time::{Date, OffsetDateTime, UtcOffset};

pub const PUBLIC: &str = "http://billhub.test";

pub struct Env {
    pub app: TestApp,
    pub org: Organization,
    pub token: String,
}

impl Env {
    pub async fn new(db: &TestDb, now: OffsetDateTime, settlement: SettlementMode) -> Env {
        let app = TestApp::spawn(bill24_proxy::gateway(), db, Clock::fixed(now)).await;
        let (org, token) = organization(&app, "DEMOORG1", settlement);
        Env { app, org, token }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.app.state.now()
    }

    pub fn store(&self) -> &billhub_store::Store {
        &self.app.state.store
    }

    pub fn set(&self, key: &str, value: &str) {
        self.store()
            .set_setting(self.org.id, key, value, self.now())
            .unwrap();
    }

    /// A bill of `account` (created with the Nheb Nim details when new).
    pub fn bill(&self, account: &str, spec: BillSpec) -> Bill {
        let input = AccountInput {
            code: account.into(),
            name: "ញ៉េប នីម".into(),
            name_latin: "Nheb Nim".into(),
            phone: "010888999".into(),
            ..Default::default()
        };
        let new = NewBill {
            organization_id: self.org.id,
            account_id: 0,
            collection_id: None,
            invoice_number: spec.invoice.clone(),
            ref1: String::new(),
            ref2: String::new(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            currency: spec.currency,
            billed: spec.minor,
            items: vec![],
            bill_date: spec.bill_date,
            due_date: spec.due_date,
            valid_until: spec.valid_until,
            rule: spec.rule,
            source: "cli".into(),
            extra: "{}".into(),
            va_numbers: vec![],
        };
        self.store()
            .create_bill_for_account(&input, &new, self.now())
            .unwrap()
            .1
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        post(&self.app, path, Some(&self.token), body).await
    }
}

/// An organization (+07:00) with a Bill24 token.
pub fn organization(
    app: &TestApp,
    code: &str,
    settlement: SettlementMode,
) -> (Organization, String) {
    let store = &app.state.store;
    let now = app.state.now();
    let org = store
        .create_organization(
            &NewOrganization {
                code: Some(code.into()),
                name: format!("Biller {code}"),
                utc_offset: UtcOffset::from_hms(7, 0, 0).unwrap(),
                locale: "en".into(),
                settlement: Some(settlement),
                va_prefixes: vec![],
            },
            now,
        )
        .unwrap();
    let token = store
        .create_credential(org.id, "bill24", false, now)
        .unwrap()
        .token
        .unwrap();
    (org, token)
}

#[derive(Debug, Clone)]
pub struct BillSpec {
    pub currency: Currency,
    pub minor: i64,
    pub rule: PaymentRule,
    pub bill_date: Date,
    pub due_date: Option<Date>,
    pub valid_until: Option<OffsetDateTime>,
    pub invoice: Option<String>,
    pub name: String,
    pub description: String,
}

impl BillSpec {
    pub fn new(currency: Currency, minor: i64, bill_date: Date) -> BillSpec {
        BillSpec {
            currency,
            minor,
            rule: PaymentRule::Exact,
            bill_date,
            due_date: None,
            valid_until: None,
            invoice: None,
            name: String::new(),
            description: String::new(),
        }
    }

    pub fn khr(major: i64, bill_date: Date) -> BillSpec {
        BillSpec::new(Currency::KHR, major * 100, bill_date)
    }

    pub fn usd(minor: i64, bill_date: Date) -> BillSpec {
        BillSpec::new(Currency::USD, minor, bill_date)
    }

    pub fn rule(mut self, rule: PaymentRule) -> BillSpec {
        self.rule = rule;
        self
    }

    pub fn due(mut self, d: Date) -> BillSpec {
        self.due_date = Some(d);
        self
    }

    pub fn valid_until(mut self, t: OffsetDateTime) -> BillSpec {
        self.valid_until = Some(t);
        self
    }

    pub fn invoice(mut self, no: &str) -> BillSpec {
        self.invoice = Some(no.into());
        self
    }

    pub fn description(mut self, d: &str) -> BillSpec {
        self.description = d.into();
        self
    }
}

/// POSTs JSON with an optional `token` header; returns the status and the JSON body.
pub async fn post(app: &TestApp, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    post_raw(app, path, token, Some("application/json"), body.to_string()).await
}

/// POSTs raw bytes with an optional content type.
pub async fn post_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: String,
) -> (u16, Value) {
    let mut rb = app.client.post(app.url(path)).body(body);
    if let Some(t) = token {
        rb = rb.header("token", t);
    }
    if let Some(ct) = content_type {
        rb = rb.header("Content-Type", ct);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text}"));
    (status, json)
}

/// A payment notification of the current generation for one customer.
pub fn current(
    tran_id: &str,
    currency: &str,
    amount: Value,
    customer: &str,
    bill_no: &str,
) -> Value {
    serde_json::json!({
        "tran_id": tran_id,
        "tran_no": "6K0BTGwG7HsF",
        "payment_service_type": "Bank Channel",
        "tran_date": "2025-09-01T09:58:16.727168",
        "tran_amount": amount,
        "currency": currency,
        "bank_code": "AC",
        "bank_name": "ACLEDA",
        "bank_ref": "AC00112301",
        "identity_code": customer,
        "purpose_of_transaction": "",
        "device_code": "",
        "status": "success",
        "customers": [
            { "branch_code": "", "branch_name": "", "customer_code": customer,
              "customer_name": "MAO SAMON", "customer_name_latin": "", "bill_no": bill_no, "amount": amount }
        ]
    })
}

/// Whether a link is `{PUBLIC}/{kind}/{8 letters or digits}` (or a uuid for receipts).
pub fn is_link(url: &str, kind: &str) -> bool {
    let Some(rest) = url.strip_prefix(&format!("{PUBLIC}/{kind}/")) else {
        return false;
    };
    match kind {
        "b" => rest.len() == 8 && rest.bytes().all(|b| b.is_ascii_alphanumeric()),
        _ => uuid::Uuid::parse_str(rest).is_ok(),
    }
}
