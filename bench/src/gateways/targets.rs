//! The gateways and their paths (adding a gateway is one [`GATEWAYS`] entry, plus its request
//! kinds in [`PathWork::call`]), the gateway processes, and one backend's whole run.

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use billhub_core::signature::{csq, ipg};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::Args;
use crate::baseline;
use crate::load::{self, Call, Step, Work, failure, has};
use crate::report::{Row, Run};
use crate::setup::{self, Backend, Bill, Cli, Seeded};

/// A request kind the driver knows how to build, sign and judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Healthz,
    Bill24Proxy,
    Bill24Pending,
    Bill24Webhook,
    CollectionsBill,
    VaInquiry,
    VaPayment,
    PostpaidInvoices,
    PostpaidPayment,
    SnapInquiry,
    SnapPayment,
}

/// One measured path of a gateway.
#[derive(Debug, Clone, Copy)]
pub struct PathSpec {
    pub name: &'static str,
    pub kind: Kind,
    /// A payment path (16 connections, consumes bills) rather than an inquiry (64).
    pub pays: bool,
}

/// One gateway binary and its paths.
#[derive(Debug, Clone, Copy)]
pub struct GatewaySpec {
    pub binary: &'static str,
    pub paths: &'static [PathSpec],
}

const fn read(name: &'static str, kind: Kind) -> PathSpec {
    PathSpec {
        name,
        kind,
        pays: false,
    }
}

const fn pay(name: &'static str, kind: Kind) -> PathSpec {
    PathSpec {
        name,
        kind,
        pays: true,
    }
}

/// Every gateway the bench drives.
pub const GATEWAYS: &[GatewaySpec] = &[
    GatewaySpec {
        binary: "bill24-proxy",
        paths: &[
            read("bill24 POST /proxy", Kind::Bill24Proxy),
            read("bill24 POST /pending_bills", Kind::Bill24Pending),
            pay("bill24 POST /webhook", Kind::Bill24Webhook),
        ],
    },
    GatewaySpec {
        binary: "collections-api",
        paths: &[read(
            "collections GET /api/collections/{c}/bills/{no}",
            Kind::CollectionsBill,
        )],
    },
    GatewaySpec {
        binary: "va-gateway",
        paths: &[
            read("va POST /api/v2/ch/inquiry", Kind::VaInquiry),
            pay("va POST /api/v2/ch/payment", Kind::VaPayment),
        ],
    },
    GatewaySpec {
        binary: "postpaid-gateway",
        paths: &[
            read("postpaid POST get-invoices", Kind::PostpaidInvoices),
            pay(
                "postpaid POST payment (after its get-invoices)",
                Kind::PostpaidPayment,
            ),
        ],
    },
    GatewaySpec {
        binary: "snap-gateway",
        paths: &[
            read("snap POST /v1.0/transfer-va/inquiry", Kind::SnapInquiry),
            pay("snap POST /v1.0/transfer-va/payment", Kind::SnapPayment),
        ],
    },
];

/// The postpaid terminal id of every request.
const TERMINAL: i64 = 7;

/// A running gateway binary; dropping it kills it.
pub struct Proc {
    child: Child,
    pub base: String,
    pub binary: String,
}

impl Proc {
    /// Starts `bin_dir/binary` on a free port over `seed`'s database with `log` as
    /// `BILLHUB_LOG`, its output to `work/<binary>-<port>.log`, and waits (60 s) for `/readyz`.
    pub async fn start(
        bin_dir: &Path,
        binary: &str,
        url: &str,
        key: &str,
        log: &str,
        work: &Path,
    ) -> anyhow::Result<Proc> {
        let port = free_port()?;
        let log_path = work.join(format!("{binary}-{port}.log"));
        let out = File::create(&log_path).with_context(|| format!("{}", log_path.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(bin_dir.join(binary))
            .env("BILLHUB_DATABASE_URL", url)
            .env("BILLHUB_MASTER_KEY", key)
            .env("BILLHUB_BIND", format!("127.0.0.1:{port}"))
            .env("BILLHUB_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("BILLHUB_LOG", log)
            .env("BILLHUB_MIGRATE", "false")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("cannot start {}", bin_dir.join(binary).display()))?;
        let mut p = Proc {
            child,
            base: format!("http://127.0.0.1:{port}"),
            binary: binary.into(),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = p.child.try_wait() {
                let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!("{binary} exited at start ({status}): {text}");
            }
            let ok = http
                .get(format!("{}/readyz", p.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 200);
            if ok {
                return Ok(p);
            }
            if Instant::now() > deadline {
                let _ = p.child.kill();
                bail!(
                    "{binary} not ready within 60 s (log {})",
                    log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port outside 8080-8085 and outside the kernel's ephemeral range.
fn free_port() -> anyhow::Result<u16> {
    for _ in 0..200 {
        let probe = TcpListener::bind("127.0.0.1:0")?;
        let port = 20_000 + probe.local_addr()?.port() % 12_000;
        drop(probe);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port found")
}

/// `Y-m-d H:i:s` now at +07:00, and the same as RFC 3339 with its offset.
fn local_now() -> (String, String) {
    let off = time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let now = OffsetDateTime::now_utc().to_offset(off);
    let dt = now
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    let rfc = format!("{}+07:00", dt.replace(' ', "T"));
    (dt, rfc)
}

fn major(minor: i64, currency: billhub_core::Currency) -> String {
    billhub_core::Money::from_minor(minor, currency).to_fixed_string()
}

/// The requests of one path over a seeded database.
pub struct PathWork {
    kind: Kind,
    seed: Arc<Seeded>,
    va_token: String,
    /// Calls made (read bills are taken round-robin by it; ids come from it).
    seq: AtomicU64,
    /// The next bill of the path's payment pool.
    next: AtomicU64,
    /// A per-run offset that keeps references unique across phases of one database.
    ref_base: u64,
}

impl PathWork {
    pub fn new(kind: Kind, seed: Arc<Seeded>, va_token: String, ref_base: u64) -> PathWork {
        PathWork {
            kind,
            seed,
            va_token,
            seq: AtomicU64::new(0),
            next: AtomicU64::new(0),
            ref_base,
        }
    }

    fn read_bill(list: &[Bill], n: u64) -> Option<&Bill> {
        let len = list.len() as u64;
        if len == 0 {
            return None;
        }
        list.get(usize::try_from(n % len).ok()?)
    }

    fn pay_bill(&self, list: &'static str) -> Option<(u64, &Bill)> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let pool = match list {
            "bill24" => &self.seed.pay_bill24,
            "postpaid" => &self.seed.pay_postpaid,
            "snap" => &self.seed.pay_snap,
            _ => &self.seed.pay_va,
        };
        pool.get(usize::try_from(n).ok()?).map(|b| (n, b))
    }

    fn csq_headers(&self) -> [(&'static str, String); 5] {
        let st = OffsetDateTime::now_utc().unix_timestamp().to_string();
        [
            ("U", self.seed.postpaid_user.clone()),
            ("SH", csq::salted_hash(&self.seed.postpaid_password, &st)),
            ("ST", st),
            ("Accept", "application/json".into()),
            ("Content-Type", "application/json".into()),
        ]
    }

    fn va_request(
        &self,
        client: &reqwest::Client,
        url: String,
        body: &Value,
    ) -> reqwest::RequestBuilder {
        let bytes = ipg::php_escape(&body.to_string()).into_bytes();
        let sig = ipg::sign(&self.seed.va_api_key, &bytes, "");
        client
            .post(url)
            .header("Authorization", format!("Bearer {}", self.va_token))
            .header("Signature", sig)
            .header("Content-Type", "application/json")
            .body(bytes)
    }

    async fn postpaid_lookup(
        &self,
        client: &reqwest::Client,
        base: &str,
        bill: &Bill,
    ) -> Result<Value, Step> {
        let org = self.seed.orgs.get(bill.org).map_or(0, |o| o.id);
        let mut req = client
            .post(format!(
                "{base}/post-paid/bill-payment/get-invoices/{TERMINAL}/{org}"
            ))
            .body(json!([{"key": "account", "value": bill.account}]).to_string());
        for (k, v) in self.csq_headers() {
            req = req.header(k, v);
        }
        let (status, body) = load::send(req).await.map_err(Step::Failed)?;
        if status != 200 || !has(&body, "\"rc\":0") || !has(&body, "\"pendingInvoices\":1") {
            return Err(failure("get-invoices", status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| Step::Failed(format!("get-invoices: {e}")))
    }

    async fn run(&self, client: &reqwest::Client, base: &str) -> Step {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let s = &self.seed;
        match self.kind {
            Kind::Healthz => match load::send(client.get(format!("{base}/healthz"))).await {
                Ok((200, _)) => Step::Done,
                Ok((st, b)) => failure("healthz", st, &b),
                Err(e) => Step::Failed(e),
            },
            Kind::Bill24Proxy | Kind::Bill24Pending => {
                let Some(b) = Self::read_bill(&s.read_usd, n) else {
                    return Step::Exhausted;
                };
                let token = s.orgs.get(b.org).map(|o| o.bill24_token.clone());
                let path = if self.kind == Kind::Bill24Proxy {
                    "proxy"
                } else {
                    "pending_bills"
                };
                let req = client
                    .post(format!("{base}/{path}"))
                    .header("token", token.unwrap_or_default())
                    .header("Content-Type", "application/json")
                    .body(json!({"consumer_code": b.account}).to_string());
                match load::send(req).await {
                    Ok((200, body)) if has(&body, "\"code\":0") => Step::Done,
                    Ok((st, body)) => failure(path, st, &body),
                    Err(e) => Step::Failed(e),
                }
            }
            Kind::CollectionsBill => {
                let Some(b) = Self::read_bill(&s.read_usd, n) else {
                    return Step::Exhausted;
                };
                let Some(o) = s.orgs.get(b.org) else {
                    return Step::Exhausted;
                };
                let req = client
                    .get(format!(
                        "{base}/api/collections/{}/bills/{}",
                        o.collection, b.public_no
                    ))
                    .bearer_auth(&o.collections_token)
                    .header("Accept", "application/json");
                match load::send(req).await {
                    Ok((200, body)) if has(&body, &b.public_no) => Step::Done,
                    Ok((st, body)) => failure("collections bill", st, &body),
                    Err(e) => Step::Failed(e),
                }
            }
            Kind::VaInquiry => {
                let Some(b) = Self::read_bill(&s.read_idr, n) else {
                    return Step::Exhausted;
                };
                let (dt, _) = local_now();
                let body = json!({"va_number": b.va_number, "ref_id": format!("I{}", self.ref_base + n),
                    "terminal_id": "atm", "transaction_date": dt});
                let req = self.va_request(client, format!("{base}/api/v2/ch/inquiry"), &body);
                match load::send(req).await {
                    Ok((200, body)) if has(&body, "\"rc\":\"SUCCESS\"") => Step::Done,
                    Ok((st, body)) => failure("va inquiry", st, &body),
                    Err(e) => Step::Failed(e),
                }
            }
            Kind::PostpaidInvoices => {
                let Some(b) = Self::read_bill(&s.read_usd, n) else {
                    return Step::Exhausted;
                };
                match self.postpaid_lookup(client, base, b).await {
                    Ok(_) => Step::Done,
                    Err(step) => step,
                }
            }
            Kind::SnapInquiry => self.snap_inquiry(client, base, n).await,
            Kind::SnapPayment => self.snap_pay(client, base).await,
            Kind::Bill24Webhook => self.bill24_pay(client, base).await,
            Kind::VaPayment => self.va_pay(client, base).await,
            Kind::PostpaidPayment => self.postpaid_pay(client, base).await,
        }
    }

    /// A SNAP transaction, signed with HMAC-SHA512 over the exact body, with a unique
    /// `X-EXTERNAL-ID` (`n` within this path's references).
    fn snap_request(
        &self,
        client: &reqwest::Client,
        base: &str,
        path: &str,
        body: &Value,
        n: u64,
    ) -> reqwest::RequestBuilder {
        let bytes = body.to_string();
        let ts = OffsetDateTime::now_utc()
            .to_offset(time::macros::offset!(+7))
            .format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]+07:00"
            ))
            .unwrap_or_default();
        let snap = &self.seed.snap;
        let sig = billhub_core::signature::snap::sign(
            &snap.client_secret,
            "POST",
            path,
            &snap.token,
            bytes.as_bytes(),
            &ts,
        );
        client
            .post(format!("{base}{path}"))
            .header("Authorization", format!("Bearer {}", snap.token))
            .header("X-TIMESTAMP", ts)
            .header("X-SIGNATURE", sig)
            .header("X-PARTNER-ID", &snap.client_id)
            .header("X-EXTERNAL-ID", (self.ref_base + n).to_string())
            .header("CHANNEL-ID", "95221")
            .header("Content-Type", "application/json")
            .body(bytes)
    }

    async fn snap_inquiry(&self, client: &reqwest::Client, base: &str, n: u64) -> Step {
        let s = &self.seed;
        let Some(b) = Self::read_bill(&s.read_idr, n) else {
            return Step::Exhausted;
        };
        let Some((psid, customer)) = b.va_number.as_deref().and_then(|v| s.snap.ids(v)) else {
            return Step::Failed(format!("no SNAP ids for {:?}", b.va_number));
        };
        let body = json!({"partnerServiceId": psid, "customerNo": customer,
            "virtualAccountNo": format!("{psid}{customer}"),
            "inquiryRequestId": format!("I{}", self.ref_base + n)});
        let req = self.snap_request(client, base, "/v1.0/transfer-va/inquiry", &body, n);
        match load::send(req).await {
            Ok((200, body)) if has(&body, "\"responseCode\":\"2002400\"") => Step::Done,
            Ok((st, body)) => failure("snap inquiry", st, &body),
            Err(e) => Step::Failed(e),
        }
    }

    async fn snap_pay(&self, client: &reqwest::Client, base: &str) -> Step {
        let Some((n, b)) = self.pay_bill("snap") else {
            return Step::Exhausted;
        };
        let Some((psid, customer)) = b.va_number.as_deref().and_then(|v| self.seed.snap.ids(v))
        else {
            return Step::Failed(format!("no SNAP ids for {:?}", b.va_number));
        };
        let body = json!({"partnerServiceId": psid, "customerNo": customer,
            "virtualAccountNo": format!("{psid}{customer}"),
            "paymentRequestId": format!("S{}", self.ref_base + n),
            // The bench's IDR bills are whole rupiah (the VA dialect's amounts).
            "paidAmount": {"value": format!("{}.00", b.billed), "currency": "IDR"},
            "flagAdvise": "N"});
        // The X-EXTERNAL-ID space of payments starts after the inquiries'.
        let req = self.snap_request(
            client,
            base,
            "/v1.0/transfer-va/payment",
            &body,
            5_000_000 + n,
        );
        match load::send(req).await {
            Ok((200, body)) if has(&body, "\"paymentFlagStatus\":\"00\"") => Step::Done,
            Ok((st, body)) => failure("snap payment", st, &body),
            Err(e) => Step::Failed(e),
        }
    }

    async fn bill24_pay(&self, client: &reqwest::Client, base: &str) -> Step {
        let Some((n, b)) = self.pay_bill("bill24") else {
            return Step::Exhausted;
        };
        let reference = format!("BW{}", self.ref_base + n);
        let (dt, _) = local_now();
        let amt = major(b.billed, billhub_core::Currency::USD);
        let body = json!({
            "tran_id": reference, "tran_no": reference, "payment_service_type": "Bank Channel",
            "tran_date": dt.replace(' ', "T"), "tran_amount": "@AMT@", "currency": "USD",
            "bank_code": "AC", "bank_name": "ACLEDA", "bank_ref": reference,
            "identity_code": b.account, "status": "success",
            "customers": [{"customer_code": b.account, "customer_name": "Bench Payer",
                "customer_name_latin": "Bench Payer", "bill_no": "", "amount": "@AMT@"}]
        })
        .to_string()
        .replace("\"@AMT@\"", &amt);
        let token = self.seed.orgs.get(b.org).map(|o| o.bill24_token.clone());
        let req = client
            .post(format!("{base}/webhook"))
            .header("token", token.unwrap_or_default())
            .header("Content-Type", "application/json")
            .body(body);
        match load::send(req).await {
            Ok((200, body)) if has(&body, "\"status\":\"Success\"") => Step::Done,
            Ok((st, body)) => failure("webhook", st, &body),
            Err(e) => Step::Failed(e),
        }
    }

    async fn va_pay(&self, client: &reqwest::Client, base: &str) -> Step {
        let Some((n, b)) = self.pay_bill("va") else {
            return Step::Exhausted;
        };
        let (dt, _) = local_now();
        let body = json!({"va_number": b.va_number, "ref_id": format!("P{}", self.ref_base + n),
            "amount": b.billed.to_string(), "terminal_id": "mobile_banking",
            "transaction_date": dt, "customer_name": "Bench Payer"});
        let req = self.va_request(client, format!("{base}/api/v2/ch/payment"), &body);
        match load::send(req).await {
            Ok((200, body)) if has(&body, "\"rc\":\"SUCCESS\"") => Step::Done,
            Ok((st, body)) => failure("va payment", st, &body),
            Err(e) => Step::Failed(e),
        }
    }

    async fn postpaid_pay(&self, client: &reqwest::Client, base: &str) -> Step {
        let Some((n, b)) = self.pay_bill("postpaid") else {
            return Step::Exhausted;
        };
        let lookup = match self.postpaid_lookup(client, base, b).await {
            Ok(v) => v,
            Err(step) => return step,
        };
        let code = lookup
            .get("additionalData")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|kv| kv.get("key").and_then(Value::as_str) == Some("transaction_code"))
            })
            .and_then(|kv| kv.get("value").and_then(Value::as_str))
            .map(String::from);
        let (Some(code), Some(total)) =
            (code, lookup.get("totalAmountX100").and_then(Value::as_i64))
        else {
            return Step::Failed(format!("get-invoices without a code: {lookup}"));
        };
        let (_, rfc) = local_now();
        let org = self.seed.orgs.get(b.org).map_or(0, |o| o.id);
        let reference = (self.ref_base + n + 1) % 1_000_000_000;
        let mut req = client
            .post(format!(
                "{base}/post-paid/bill-payment/payment/{TERMINAL}/{org}/{reference}"
            ))
            .body(
                json!({"amountToSendX100": total, "destinationAmountX100": 0,
                    "localDateTime": rfc,
                    "additionalData": [{"key": "account", "value": b.account},
                                       {"key": "transaction_code", "value": code}],
                    "invoiceNumbers": []})
                .to_string(),
            );
        for (k, v) in self.csq_headers() {
            req = req.header(k, v);
        }
        match load::send(req).await {
            Ok((200, body)) if has(&body, "\"resultcode\":\"10\"") => Step::Done,
            Ok((st, body)) => failure("postpaid payment", st, &body),
            Err(e) => Step::Failed(e),
        }
    }
}

impl Work for PathWork {
    fn call<'a>(&'a self, client: &'a reqwest::Client, base: &'a str) -> Call<'a> {
        Box::pin(self.run(client, base))
    }
}

/// A VA bank token (`POST /oauth/token`, client credentials).
async fn va_token(base: &str, seed: &Seeded) -> anyhow::Result<String> {
    let resp = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": seed.va_client_id,
            "client_secret": seed.va_client_secret, "scope": "*"}),
        )
        .send()
        .await?;
    let status = resp.status().as_u16();
    let v: Value = resp.json().await?;
    match v.get("access_token").and_then(Value::as_str) {
        Some(t) if status == 200 => Ok(t.to_string()),
        _ => bail!("oauth token: HTTP {status} {v}"),
    }
}

/// A SNAP access token: the bank's RSA signature over `clientId|X-TIMESTAMP`.
async fn snap_token(base: &str, seed: &Seeded) -> anyhow::Result<String> {
    let ts = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .context("timestamp")?;
    let sig = billhub_core::signature::snap::sign_token_request(
        &seed.snap.private_pem,
        &seed.snap.client_id,
        &ts,
    )
    .map_err(|e| anyhow::anyhow!("SNAP token signature: {e}"))?;
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1.0/access-token/b2b"))
        .header("X-CLIENT-KEY", &seed.snap.client_id)
        .header("X-TIMESTAMP", ts)
        .header("X-SIGNATURE", sig)
        .json(&json!({"grantType": "client_credentials"}))
        .send()
        .await?;
    let status = resp.status().as_u16();
    let v: Value = resp.json().await?;
    match v.get("accessToken").and_then(Value::as_str) {
        Some(t) if status == 200 => Ok(t.to_string()),
        _ => bail!("snap token: HTTP {status} {v}"),
    }
}

/// Whether `--only` keeps this path.
fn wanted(args: &Args, name: &str) -> bool {
    args.only.as_deref().is_none_or(|o| name.contains(o))
}

/// Seeds a fresh database of `backend` and starts every gateway over it.
async fn prepare(
    args: &Args,
    bin_dir: &Path,
    work: &Path,
    backend: Backend,
) -> anyhow::Result<(Seeded, Vec<Proc>, Cli)> {
    let (url, pg_db) = setup::fresh_database(backend, work, "gw")?;
    let key = billhub_store::MasterKey::generate().to_hex();
    let cli = Cli {
        bin: bin_dir.join("billhub"),
        url: url.clone(),
        key: key.clone(),
    };
    eprintln!("{}: seeding principals", backend.name());
    let (mut orgs, bank, shops) = setup::seed_principals(&cli)?;
    let snap = setup::seed_snap_bank(&cli, work, &orgs)?;
    let mut procs = Vec::new();
    for g in GATEWAYS {
        procs.push(Proc::start(bin_dir, g.binary, &url, &key, "warn", work).await?);
    }
    let col_base = procs
        .iter()
        .find(|p| p.binary == "collections-api")
        .map(|p| p.base.clone())
        .context("no collections-api")?;
    setup::create_collections(&col_base, &mut orgs).await?;
    eprintln!("{}: importing {} bills", backend.name(), args.bills);
    let t = Instant::now();
    let [mut read_usd, read_idr, pay_bill24, pay_postpaid, mut pay_va] =
        setup::import_bills(&cli, work, &orgs, args.bills)?;
    // SNAP pays a third of the VA bills, IPG's channel API the rest (each bill at most once).
    let pay_snap = pay_va.split_off(pay_va.len() - pay_va.len() / 3);
    eprintln!(
        "{}: imported in {:.1} s",
        backend.name(),
        t.elapsed().as_secs_f64()
    );
    setup::fill_public_nos(&url, &orgs, &mut read_usd)?;
    let s = |v: &Value, k: &str| v[k].as_str().map(String::from).unwrap_or_default();
    let seeded = Seeded {
        url,
        master_key: key,
        orgs,
        va_client_id: s(&bank, "client_id"),
        va_client_secret: s(&bank, "client_secret"),
        va_api_key: s(&bank, "api_key"),
        snap,
        postpaid_user: s(&shops, "username"),
        postpaid_password: s(&shops, "password"),
        read_usd,
        read_idr,
        pay_bill24,
        pay_postpaid,
        pay_va,
        pay_snap,
        pg_db,
    };
    Ok((seeded, procs, cli))
}

/// One backend: seed, `/healthz` of every gateway, every inquiry, every payment path, checks,
/// baselines, and (PostgreSQL) 1/2/4 processes. Rows go into `run`.
pub async fn bench_backend(
    args: &Args,
    bin_dir: &Path,
    work: &Path,
    backend: Backend,
    run: &mut Run,
) -> anyhow::Result<()> {
    let (seeded, procs, cli) = prepare(args, bin_dir, work, backend).await?;
    let result = measure(
        args,
        bin_dir,
        work,
        backend,
        run,
        seeded.clone(),
        procs,
        &cli,
    )
    .await;
    if let Some(db) = &seeded.pg_db
        && !args.keep
    {
        setup::drop_database(db);
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &Args,
    bin_dir: &Path,
    work: &Path,
    backend: Backend,
    run: &mut Run,
    mut seeded: Seeded,
    procs: Vec<Proc>,
    cli: &Cli,
) -> anyhow::Result<()> {
    let b = backend.name();
    if let Some(p) = procs.iter().find(|p| p.binary == "snap-gateway") {
        seeded.snap.token = snap_token(&p.base, &seeded).await?;
    }
    run.settings.push(setup::settings(backend, &seeded.url));
    let seed = Arc::new(seeded);
    let va_base = procs
        .iter()
        .find(|p| p.binary == "va-gateway")
        .map(|p| p.base.clone())
        .context("no va-gateway")?;
    let token = va_token(&va_base, &seed).await?;
    let mut t = Tally::default();
    drive_gateways(args, backend, run, &seed, &token, &procs, &mut t).await?;
    let Tally {
        acks,
        mut failed,
        captured,
        ..
    } = t;
    drop(procs);
    // Every acknowledged payment is stored, applied in full, and the store is consistent.
    let check = baseline::verify(cli, &seed.url, acks);
    if let Err(e) = &check {
        failed.push(format!("{b}: verification: {e:#}"));
    } else {
        run.notes.push(format!("{b}: {acks} payments acknowledged; the store holds exactly {acks} payments, each paying one bill in full, none unapplied; `billhub check` clean"));
    }
    // Baselines.
    match backend {
        Backend::Postgres => {
            baseline::postgres_baselines(args, bin_dir, work, &seed, &token, run, &captured).await;
            if !args.no_scale
                && wanted(args, "bill24 POST /proxy")
                && let Err(e) = scale_out(args, bin_dir, work, &seed, run).await
            {
                failed.push(format!("scale-out: {e:#}"));
            }
        }
        Backend::Sqlite => baseline::sqlite_fsync_ceiling(args, bin_dir, run),
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}

/// What the gateway phases of one backend leave for the checks and baselines.
#[derive(Default)]
struct Tally {
    /// Payments acknowledged.
    acks: u64,
    failed: Vec<String>,
    /// Row index and path name of each PostgreSQL inquiry row (for its pgbench baseline).
    captured: Vec<(usize, String)>,
    /// Keeps references unique across the phases of one database.
    ref_base: u64,
}

/// `/healthz`, then every path, of every gateway in `procs` (in [`GATEWAYS`] order).
async fn drive_gateways(
    args: &Args,
    backend: Backend,
    run: &mut Run,
    seed: &Arc<Seeded>,
    token: &str,
    procs: &[Proc],
    t: &mut Tally,
) -> anyhow::Result<()> {
    let b = backend.name();
    for (g, p) in GATEWAYS.iter().zip(procs) {
        eprintln!("{b}: {} /healthz", g.binary);
        let work_h = Arc::new(PathWork::new(
            Kind::Healthz,
            Arc::clone(seed),
            token.to_string(),
            0,
        ));
        let h = load::drive(
            work_h,
            std::slice::from_ref(&p.base),
            args.read_connections,
            args.duration,
        )
        .await?;
        let base_rate = h.rate();
        let mut hrow = Row::new(
            &format!("{} GET /healthz", g.binary),
            b,
            args.read_connections,
            &h,
        );
        hrow.rss_kib = p.peak_rss_kib();
        hrow.baseline = "(the HTTP ceiling)".into();
        run.rows.push(hrow);
        for path in g.paths.iter().filter(|p| wanted(args, p.name)) {
            let conns = if path.pays {
                args.pay_connections
            } else {
                args.read_connections
            };
            eprintln!("{b}: {} at {conns} connections", path.name);
            let w = Arc::new(PathWork::new(
                path.kind,
                Arc::clone(seed),
                token.to_string(),
                t.ref_base,
            ));
            t.ref_base += 10_000_000;
            let st = load::drive(w, std::slice::from_ref(&p.base), conns, args.duration).await?;
            if st.errors > 0 {
                t.failed.push(format!(
                    "{} {b}: {} errors, first: {:?}",
                    path.name, st.errors, st.first_errors
                ));
            }
            if path.pays {
                t.acks += st.ok;
            }
            let mut row = Row::new(path.name, b, conns, &st);
            row.rss_kib = p.peak_rss_kib();
            if path.pays {
                row.pays = true;
            } else {
                row.baseline = format!("{} /healthz", g.binary);
                row.baseline_rate = Some(base_rate);
                if backend == Backend::Postgres {
                    t.captured.push((run.rows.len(), path.name.to_string()));
                }
            }
            run.rows.push(row);
        }
    }
    Ok(())
}

/// 1, 2 and 4 `bill24-proxy` processes over one PostgreSQL, `/proxy` at 64 connections spread
/// over them (recorded without a target).
async fn scale_out(
    args: &Args,
    bin_dir: &Path,
    work: &Path,
    seed: &Arc<Seeded>,
    run: &mut Run,
) -> anyhow::Result<()> {
    for n in [1usize, 2, 4] {
        eprintln!("postgres: /proxy over {n} bill24-proxy processes");
        let mut procs = Vec::new();
        for _ in 0..n {
            procs.push(
                Proc::start(
                    bin_dir,
                    "bill24-proxy",
                    &seed.url,
                    &seed.master_key,
                    "warn",
                    work,
                )
                .await?,
            );
        }
        let bases: Vec<String> = procs.iter().map(|p| p.base.clone()).collect();
        let w = Arc::new(PathWork::new(
            Kind::Bill24Proxy,
            Arc::clone(seed),
            String::new(),
            0,
        ));
        let st = load::drive(w, &bases, args.read_connections, args.duration).await?;
        let mut row = Row::new(
            &format!("bill24 POST /proxy, {n} process(es)"),
            "postgres",
            args.read_connections,
            &st,
        );
        row.rss_kib = procs.iter().filter_map(Proc::peak_rss_kib).max();
        row.baseline = "(no target: 2 cores cannot show scale-out)".into();
        run.extras.push(row);
    }
    Ok(())
}

/// `/healthz` of `bill24-proxy` with `BILLHUB_LOG=warn` and then `info` (the access log's cost;
/// its output goes to a file, as a service's would).
pub async fn access_log(args: &Args, bin_dir: &Path, work: &Path) -> anyhow::Result<Vec<Row>> {
    let (url, _) = setup::fresh_database(Backend::Sqlite, work, "log")?;
    let key = billhub_store::MasterKey::generate().to_hex();
    Cli {
        bin: bin_dir.join("billhub"),
        url: url.clone(),
        key: key.clone(),
    }
    .run(&["migrate"])?;
    let seed = Arc::new(Seeded::empty());
    let mut rows = Vec::new();
    let mut warn_rate = None;
    for level in ["warn", "info"] {
        eprintln!("access log: /healthz at BILLHUB_LOG={level}");
        let p = Proc::start(bin_dir, "bill24-proxy", &url, &key, level, work).await?;
        let w = Arc::new(PathWork::new(
            Kind::Healthz,
            Arc::clone(&seed),
            String::new(),
            0,
        ));
        let st = load::drive(
            w,
            std::slice::from_ref(&p.base),
            args.read_connections,
            args.duration,
        )
        .await?;
        let mut row = Row::new(
            &format!("bill24-proxy GET /healthz, BILLHUB_LOG={level}"),
            "-",
            args.read_connections,
            &st,
        );
        row.rss_kib = p.peak_rss_kib();
        if let Some(r) = warn_rate {
            row.baseline = "the same at BILLHUB_LOG=warn".into();
            row.baseline_rate = Some(r);
        } else {
            warn_rate = Some(st.rate());
        }
        rows.push(row);
    }
    Ok(rows)
}
