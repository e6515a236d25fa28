//! One small payer per paying dialect, signing as each partner does, over `reqwest`:
//! - [`Payer::Bill24`]: Bill24's `POST /webhook` (current generation, `token` header), paying a
//!   bill by its `bill_no`; the reference is the `tran_id`; stored as channel `bill24`.
//! - [`Payer::VaBank`]: a bank's `POST /api/v2/ch/payment` (OAuth token + `Signature` HMAC over
//!   the body); the reference is the `ref_id`; stored as channel `va:{bank channel id}`.
//! - [`Payer::VaSandbox`]: the biller's `POST /api/v2/gw/bill/{hash}/mock` (needs
//!   `BILLHUB_SANDBOX=true`); the reference is the `ref_id`; stored as channel `sandbox`.
//! - [`Payer::Postpaid`]: a terminal's Get Invoices then Payment (`U`/`ST`/`SH`), the reference a
//!   `localReference` of at most 9 digits; stored as channel `postpaid:{network}` with
//!   channel_ref `{terminal}:{reference}:{local date}`.
//!
//! The collections dialect takes no payments; [`CollectionsClient`] reads through it.
//!
//! A payment is [`PayClient::prepare`]d once (its exact bytes and headers) and may be
//! [`PayClient::send`] many times: a retry, or 50 concurrent copies, are the same request.

use std::sync::Mutex;
use std::time::Duration;

use billhub_core::Currency;
use billhub_core::signature::{csq, ipg};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use super::gateway::{Dialect, Gateways};
use super::{PostpaidNetwork, Seed, SeededBill, VaCredentials};

/// The answer to one payment request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The partner's success answer: the money is recorded (a Bill24 `Success` may be recorded as
    /// unapplied). `uid` is billhub's payment id when the dialect returns it (VA `payment.id`,
    /// postpaid `supplierreference`).
    Acknowledged { uid: Option<String>, body: Value },
    /// A refusal in the dialect's shape: the HTTP status and the dialect's code (VA `rc`, postpaid
    /// `resultcode`; for Bill24 `already_recorded`, `different_content`, `invalid`, `error`).
    Refused {
        status: u16,
        code: String,
        body: Value,
    },
    /// No HTTP answer (connection refused or reset, timeout) or a body that is not the dialect's
    /// JSON: the client must retry with the same reference.
    TransportError(String),
}

impl Outcome {
    pub fn is_ack(&self) -> bool {
        matches!(self, Outcome::Acknowledged { .. })
    }

    /// A 5xx answer (in the dialect's shape).
    pub fn is_server_error(&self) -> bool {
        matches!(self, Outcome::Refused { status, .. } if *status >= 500)
    }

    /// The refusal code, if refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Outcome::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the answer says the reference is already recorded with this content (Bill24's
    /// documented `Error` answer to a repeat): the payment exists.
    pub fn is_recorded_repeat(&self) -> bool {
        self.code() == Some("already_recorded")
    }

    /// Whether a client should send the same request again: no answer, or a 5xx. (A postpaid
    /// 401 after an outage means its `ST` window ran out: [`PayClient::resign`], then resend.)
    pub fn should_retry(&self) -> bool {
        matches!(self, Outcome::TransportError(_)) || self.is_server_error()
    }
}

/// A request ready to send (again): method POST, its URL, exact body bytes and headers.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub dialect: Dialect,
    pub url: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// The stored payment's `(channel, channel_ref)`.
    pub key: (String, String),
    pub amount: i64,
    pub bill_id: i64,
}

/// A payer's way of paying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Payer {
    Bill24,
    VaBank,
    VaSandbox,
    Postpaid,
}

impl Payer {
    pub const ALL: [Payer; 4] = [
        Payer::Bill24,
        Payer::VaBank,
        Payer::VaSandbox,
        Payer::Postpaid,
    ];

    /// Whether this payer can pay a bill of `currency` (Bill24 carries USD and KHR, VA only IDR).
    pub fn pays(self, currency: Currency) -> bool {
        match self {
            Payer::Bill24 => matches!(currency, Currency::USD | Currency::KHR),
            Payer::VaBank | Payer::VaSandbox => currency == Currency::IDR,
            Payer::Postpaid => true,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Payer::Bill24 => "bill24",
            Payer::VaBank => "va-bank",
            Payer::VaSandbox => "va-sandbox",
            Payer::Postpaid => "postpaid",
        }
    }
}

/// The terminal id every postpaid payment of the harness uses.
pub const TERMINAL: i64 = 7;

/// Pays seeded bills through every dialect of one `billhub up` (base URLs fixed at creation,
/// so it keeps working across restarts on the same ports).
pub struct PayClient {
    http: reqwest::Client,
    urls: [String; 4],
    seed: Seed,
    va_bank_token: Mutex<Option<String>>,
    va_biller_token: Mutex<Option<String>>,
    /// The last `ST` each postpaid network signed a payment with.
    postpaid_st: Mutex<Vec<i64>>,
}

fn fmt_now(offset_hours: i8) -> (String, String) {
    let off = time::UtcOffset::from_hms(offset_hours, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let now = OffsetDateTime::now_utc().to_offset(off);
    let dt = now
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    let date = now
        .format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    (dt, date)
}

/// A JSON number of minor units in major units, written exactly (`12.5` as `12.50`).
pub fn major_json(minor: i64, currency: Currency) -> String {
    billhub_core::Money::from_minor(minor, currency).to_fixed_string()
}

/// Minor units in major units without a needless fraction (`100000`, `10.5`), as IPG writes.
pub fn major_plain(minor: i64, currency: Currency) -> String {
    billhub_core::Money::from_minor(minor, currency).to_plain_string()
}

impl PayClient {
    /// A client of the gateways `g` for the organization of `seed`. Each request times out
    /// after `timeout`.
    pub fn new(g: &Gateways, seed: &Seed, timeout: Duration) -> PayClient {
        PayClient::for_urls(Dialect::ALL.map(|d| g.url(d)), seed, timeout)
    }

    /// A client of gateways at these base URLs (bill24, collections, va, postpaid).
    pub fn for_urls(urls: [String; 4], seed: &Seed, timeout: Duration) -> PayClient {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        PayClient {
            http,
            urls,
            seed: seed.clone(),
            va_bank_token: Mutex::new(None),
            va_biller_token: Mutex::new(None),
            postpaid_st: Mutex::new(vec![0; seed.postpaid.len()]),
        }
    }

    pub fn url(&self, d: Dialect) -> &str {
        &self.urls[usize::from(d.offset())]
    }

    pub fn seed(&self) -> &Seed {
        &self.seed
    }

    /// Prepares and sends one payment of `amount` minor units on `bill` under `reference`.
    pub async fn pay(
        &self,
        payer: Payer,
        bill: &SeededBill,
        reference: &str,
        amount: i64,
    ) -> Outcome {
        match self.prepare(payer, bill, reference, amount).await {
            Ok(p) => self.send(&p).await,
            Err(o) => o,
        }
    }

    /// Builds the request (for postpaid: asks Get Invoices for a transaction code first, and
    /// signs with a fresh `ST`). A refusal or transport failure on the way is the `Err`.
    /// `reference` for postpaid must be at most 9 digits.
    pub async fn prepare(
        &self,
        payer: Payer,
        bill: &SeededBill,
        reference: &str,
        amount: i64,
    ) -> Result<Prepared, Outcome> {
        match payer {
            Payer::Bill24 => Ok(self.prepare_bill24(bill, reference, amount)),
            Payer::VaBank => self.prepare_va_bank(bill, reference, amount).await,
            Payer::VaSandbox => self.prepare_sandbox(bill, reference, amount).await,
            Payer::Postpaid => self.prepare_postpaid(bill, reference, amount).await,
        }
    }

    fn prepare_bill24(&self, bill: &SeededBill, reference: &str, amount: i64) -> Prepared {
        let (dt, _) = fmt_now(7);
        let amt = major_json(amount, bill.currency);
        let body = json!({
            "tran_id": reference, "tran_no": reference, "payment_service_type": "Bank Channel",
            "tran_date": dt.replace(' ', "T"), "tran_amount": "@AMT@",
            "currency": bill.currency.code(), "bank_code": "AC", "bank_name": "ACLEDA",
            "bank_ref": reference, "identity_code": bill.account_code, "status": "success",
            "customers": [{"customer_code": bill.account_code, "customer_name": "Suite Payer",
                "customer_name_latin": "Suite Payer", "bill_no": bill.public_no, "amount": "@AMT@"}]
        })
        .to_string()
        .replace("\"@AMT@\"", &amt);
        Prepared {
            dialect: Dialect::Bill24,
            url: format!("{}/webhook", self.url(Dialect::Bill24)),
            body: body.into_bytes(),
            headers: vec![
                ("token".into(), self.seed.bill24_token.clone()),
                ("Content-Type".into(), "application/json".into()),
            ],
            key: ("bill24".into(), reference.into()),
            amount,
            bill_id: bill.id,
        }
    }

    async fn va_token(&self, bank: bool) -> Result<String, Outcome> {
        let slot = if bank {
            &self.va_bank_token
        } else {
            &self.va_biller_token
        };
        if let Some(t) = slot.lock().unwrap().clone() {
            return Ok(t);
        }
        let c: &VaCredentials = if bank {
            &self.seed.va_bank
        } else {
            &self.seed.va_biller
        };
        let resp = self
            .http
            .post(format!("{}/oauth/token", self.url(Dialect::Va)))
            .json(
                &json!({"grant_type": "client_credentials", "client_id": c.client_id,
                "client_secret": c.client_secret, "scope": "*"}),
            )
            .send()
            .await
            .map_err(|e| Outcome::TransportError(format!("oauth: {e}")))?;
        let status = resp.status().as_u16();
        let v: Value = resp
            .json()
            .await
            .map_err(|e| Outcome::TransportError(format!("oauth body: {e}")))?;
        match v["access_token"].as_str() {
            Some(t) if status == 200 => {
                *slot.lock().unwrap() = Some(t.to_string());
                Ok(t.to_string())
            }
            _ => Err(Outcome::Refused {
                status,
                code: v["error"].as_str().unwrap_or("oauth").into(),
                body: v,
            }),
        }
    }

    /// Forgets the VA tokens (after a 401), so the next request fetches new ones.
    pub fn forget_va_tokens(&self) {
        *self.va_bank_token.lock().unwrap() = None;
        *self.va_biller_token.lock().unwrap() = None;
    }

    fn va_prepared(
        &self,
        path: &str,
        body: String,
        api_key: &str,
        token: &str,
    ) -> (String, Vec<u8>, Vec<(String, String)>) {
        let bytes = ipg::php_escape(&body).into_bytes();
        let sig = ipg::sign(api_key, &bytes, "");
        (
            format!("{}{path}", self.url(Dialect::Va)),
            bytes,
            vec![
                ("Authorization".into(), format!("Bearer {token}")),
                ("Signature".into(), sig),
                ("Content-Type".into(), "application/json".into()),
            ],
        )
    }

    async fn prepare_va_bank(
        &self,
        bill: &SeededBill,
        reference: &str,
        amount: i64,
    ) -> Result<Prepared, Outcome> {
        let token = self.va_token(true).await?;
        let (dt, _) = fmt_now(7);
        let body = json!({
            "va_number": bill.va_number.clone().unwrap_or_default(), "ref_id": reference,
            "amount": major_plain(amount, bill.currency), "terminal_id": "mobile_banking",
            "transaction_date": dt, "customer_name": "Suite Payer"
        })
        .to_string();
        let (url, body, headers) = self.va_prepared(
            "/api/v2/ch/payment",
            body,
            &self.seed.va_bank.api_key,
            &token,
        );
        Ok(Prepared {
            dialect: Dialect::Va,
            url,
            body,
            headers,
            key: (
                format!("va:{}", self.seed.va_bank_channel_id),
                reference.into(),
            ),
            amount,
            bill_id: bill.id,
        })
    }

    async fn prepare_sandbox(
        &self,
        bill: &SeededBill,
        reference: &str,
        amount: i64,
    ) -> Result<Prepared, Outcome> {
        let token = self.va_token(false).await?;
        let body = json!({"type": "payment", "amount": "@AMT@", "ref_id": reference})
            .to_string()
            .replace("\"@AMT@\"", &major_plain(amount, bill.currency));
        let (url, body, headers) = self.va_prepared(
            &format!("/api/v2/gw/bill/{}/mock", bill.public_no),
            body,
            &self.seed.va_biller.api_key,
            &token,
        );
        Ok(Prepared {
            dialect: Dialect::Va,
            url,
            body,
            headers,
            key: ("sandbox".into(), reference.into()),
            amount,
            bill_id: bill.id,
        })
    }

    /// The postpaid network a reference pays through (references spread over the networks).
    pub fn network_of(&self, reference: &str) -> usize {
        let n: u64 = reference.parse().unwrap_or(0);
        usize::try_from(n % (self.seed.postpaid.len().max(1) as u64)).unwrap_or(0)
    }

    /// `U`, `ST`, `SH` of network `i`: `ST` is the next second after this network's last one,
    /// at least now - 3 s (so that a slow send stays well inside the 30 s window) and at most
    /// now + 25 s (a `(U, ST, SH)` pays once). `None` when all those values are used: the caller
    /// waits for the clock.
    pub fn postpaid_sign(&self, i: usize) -> Option<Vec<(String, String)>> {
        let net: &PostpaidNetwork = &self.seed.postpaid[i];
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let st = {
            let mut last = self.postpaid_st.lock().unwrap();
            let next = (last[i] + 1).max(now - 3);
            if next > now + 25 {
                return None;
            }
            last[i] = next;
            next
        };
        let st = st.to_string();
        Some(vec![
            ("U".into(), net.username.clone()),
            ("ST".into(), st.clone()),
            ("SH".into(), csq::salted_hash(&net.password, &st)),
            ("Accept".into(), "application/json".into()),
            ("Content-Type".into(), "application/json".into()),
        ])
    }

    /// Signs for a lookup (any `ST` near now is fine there).
    fn postpaid_lookup_headers(&self, i: usize) -> Vec<(String, String)> {
        let net = &self.seed.postpaid[i];
        let st = OffsetDateTime::now_utc().unix_timestamp().to_string();
        vec![
            ("U".into(), net.username.clone()),
            ("ST".into(), st.clone()),
            ("SH".into(), csq::salted_hash(&net.password, &st)),
            ("Accept".into(), "application/json".into()),
            ("Content-Type".into(), "application/json".into()),
        ]
    }

    /// Waits (polling the clock, at most 60 s) for a fresh `ST` of network `i`.
    pub async fn postpaid_sign_wait(&self, i: usize) -> Vec<(String, String)> {
        for _ in 0..600 {
            if let Some(h) = self.postpaid_sign(i) {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no fresh ST for postpaid network {i} within 60 s");
    }

    /// Replaces a prepared postpaid payment's signature with a fresh `ST` (after its window ran
    /// out while the gateway was down). The body, so the payment, stays the same.
    pub async fn resign(&self, p: &mut Prepared) {
        if p.dialect != Dialect::Postpaid {
            return;
        }
        let reference = p.key.1.split(':').nth(1).unwrap_or("0").to_string();
        let h = self.postpaid_sign_wait(self.network_of(&reference)).await;
        p.headers = h;
    }

    async fn prepare_postpaid(
        &self,
        bill: &SeededBill,
        reference: &str,
        amount: i64,
    ) -> Result<Prepared, Outcome> {
        let i = self.network_of(reference);
        let base = self.url(Dialect::Postpaid);
        let org = self.seed.org_id;
        let lookup = format!("{base}/post-paid/bill-payment/get-invoices/{TERMINAL}/{org}");
        let mut req = self
            .http
            .post(&lookup)
            .body(json!([{"key": "account", "value": bill.account_code}]).to_string());
        for (k, v) in self.postpaid_lookup_headers(i) {
            req = req.header(k, v);
        }
        let (status, v) = match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.json::<Value>().await {
                    Ok(v) => (status, v),
                    Err(e) => return Err(Outcome::TransportError(format!("lookup body: {e}"))),
                }
            }
            Err(e) => return Err(Outcome::TransportError(format!("lookup: {e}"))),
        };
        let code = v["additionalData"]
            .as_array()
            .and_then(|a| a.iter().find(|kv| kv["key"] == "transaction_code"))
            .and_then(|kv| kv["value"].as_str())
            .map(String::from);
        let Some(code) = code.filter(|_| status == 200 && v["rc"] == 0) else {
            return Err(postpaid_refusal(status, v, "nothing_pending"));
        };
        let (dt, date) = fmt_now(7);
        let body = json!({
            "amountToSendX100": amount, "destinationAmountX100": 0,
            "localDateTime": format!("{}+07:00", dt.replace(' ', "T")),
            "additionalData": [{"key": "account", "value": bill.account_code},
                               {"key": "transaction_code", "value": code}],
            "invoiceNumbers": []
        })
        .to_string();
        let headers = self.postpaid_sign_wait(i).await;
        let n: u32 = reference.parse().unwrap_or(0);
        Ok(Prepared {
            dialect: Dialect::Postpaid,
            url: format!("{base}/post-paid/bill-payment/payment/{TERMINAL}/{org}/{reference}"),
            body: body.into_bytes(),
            headers,
            key: (
                format!("postpaid:{}", self.seed.postpaid[i].channel_id),
                format!("{TERMINAL}:{n}:{date}"),
            ),
            amount,
            bill_id: bill.id,
        })
    }

    /// Sends a prepared request once and reads the answer in its dialect.
    pub async fn send(&self, p: &Prepared) -> Outcome {
        let mut req = self.http.post(&p.url).body(p.body.clone());
        for (k, v) in &p.headers {
            req = req.header(k, v);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::TransportError(e.to_string()),
        };
        let status = resp.status().as_u16();
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return Outcome::TransportError(format!("body: {e}")),
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            return Outcome::TransportError(format!("HTTP {status}, not JSON: {text}"));
        };
        match p.dialect {
            Dialect::Bill24 => bill24_outcome(status, v),
            Dialect::Va => va_outcome(status, v),
            Dialect::Postpaid => postpaid_outcome(status, v),
            Dialect::Collections => Outcome::TransportError("collections takes no payments".into()),
        }
    }
}

fn bill24_outcome(status: u16, v: Value) -> Outcome {
    if status == 200 && v["status"] == "Success" {
        return Outcome::Acknowledged { uid: None, body: v };
    }
    let msg = v["message"].as_str().unwrap_or("");
    let code = if msg.contains("different content") {
        "different_content"
    } else if msg.contains("already recorded") {
        "already_recorded"
    } else if status == 400 {
        "invalid"
    } else {
        "error"
    };
    Outcome::Refused {
        status,
        code: code.into(),
        body: v,
    }
}

fn va_outcome(status: u16, v: Value) -> Outcome {
    let rc = v["rc"].as_str().unwrap_or("").to_string();
    if status == 200 && rc == "SUCCESS" {
        let uid = v["data"]["payment"]["id"].as_str().map(String::from);
        return Outcome::Acknowledged { uid, body: v };
    }
    Outcome::Refused {
        status,
        code: rc,
        body: v,
    }
}

fn postpaid_outcome(status: u16, v: Value) -> Outcome {
    if status == 200 && v["rc"] == 0 && v["items"][0]["resultcode"] == "10" {
        let uid = v["items"][0]["supplierreference"]
            .as_str()
            .map(String::from);
        return Outcome::Acknowledged { uid, body: v };
    }
    postpaid_refusal(status, v, "")
}

fn postpaid_refusal(status: u16, v: Value, fallback: &str) -> Outcome {
    let code = v["resultcode"]
        .as_str()
        .filter(|c| !c.is_empty())
        .unwrap_or(fallback)
        .to_string();
    // A lookup with nothing pending is a 200 without `resultcode`: `fallback` names it.
    Outcome::Refused {
        status,
        code,
        body: v,
    }
}

/// Reads through the collections dialect (`Authorization: Bearer`), e.g. a bill's transactions.
pub struct CollectionsClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl CollectionsClient {
    pub fn new(g: &Gateways, seed: &Seed) -> CollectionsClient {
        CollectionsClient {
            http: reqwest::Client::new(),
            base: g.url(Dialect::Collections),
            token: seed.collections_token.clone(),
        }
    }

    /// `GET {base}{path}` with the token; the status and JSON body (`Null` if not JSON).
    pub async fn get(&self, path: &str) -> Result<(u16, Value), String> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}
