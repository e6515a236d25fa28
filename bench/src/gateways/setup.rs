//! A fresh database per backend, seeded through the `billhub` CLI: two organizations, a
//! credential for every dialect, a VA bank and a postpaid network enrolled with both, a
//! collection each, and N bills through `billhub import bills` (a CSV written here).
//!
//! Bill layout, per organization (N/2 bills each), every bill on its own account, exact rule:
//! even rows USD (accounts `U{org}{i:07}`; Bill24, postpaid and collections), odd rows IDR with a
//! VA number (`V{org}{i:07}`; the VA bank). The first `reads` bills of each currency are only
//! read (inquiries), never paid; the other USD bills are split between Bill24 and postpaid
//! payments and the other IDR bills are the VA bank's, so every bill is paid at most once.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Where the store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The PostgreSQL server the bench creates its databases on.
pub fn admin_url() -> String {
    std::env::var("BILLHUB_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database name replaced.
pub fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    match base.rsplit_once('/') {
        Some((head, _)) if head.contains("://") && head.len() > "postgres://".len() => {
            format!("{head}/{db}{query}")
        }
        _ => format!("{base}/{db}{query}"),
    }
}

/// One bill the driver uses.
#[derive(Debug, Clone)]
pub struct Bill {
    /// Index of its organization in [`Seeded::orgs`].
    pub org: usize,
    pub account: String,
    /// Minor units.
    pub billed: i64,
    pub va_number: Option<String>,
    /// The public number (collections `bill_no`), filled for read bills only.
    pub public_no: String,
}

/// An organization with its credentials.
#[derive(Debug, Clone)]
pub struct Org {
    pub id: i64,
    pub code: String,
    pub bill24_token: String,
    pub collections_token: String,
    pub collection: String,
}

/// Everything the driver needs.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub url: String,
    pub master_key: String,
    pub orgs: Vec<Org>,
    pub va_client_id: String,
    pub va_client_secret: String,
    pub va_api_key: String,
    /// The SNAP bank: client id, client secret, private key (PEM), `partnerServiceId` per VA
    /// prefix, and its access token (fetched once the gateways run).
    pub snap: SnapBank,
    pub postpaid_user: String,
    pub postpaid_password: String,
    pub read_usd: Vec<Bill>,
    pub read_idr: Vec<Bill>,
    pub pay_bill24: Vec<Bill>,
    pub pay_postpaid: Vec<Bill>,
    pub pay_va: Vec<Bill>,
    /// Bills paid through SNAP (a share of the IDR VA bills no other path pays).
    pub pay_snap: Vec<Bill>,
    /// The PostgreSQL database name (dropped at the end), if any.
    pub pg_db: Option<String>,
}

/// The bench's SNAP bank.
#[derive(Debug, Clone, Default)]
pub struct SnapBank {
    pub client_id: String,
    pub client_secret: String,
    pub private_pem: String,
    /// (VA prefix, `partnerServiceId` as banks send it: left-padded to 8).
    pub psids: Vec<(String, String)>,
    pub token: String,
}

impl SnapBank {
    /// `partnerServiceId` and `customerNo` of a billhub VA number.
    pub fn ids(&self, va_number: &str) -> Option<(String, String)> {
        let (prefix, customer) = (va_number.get(..6)?, va_number.get(6..)?);
        let psid = self.psids.iter().find(|(p, _)| p == prefix)?;
        Some((psid.1.clone(), customer.to_string()))
    }
}

/// Creates the SNAP bank: a fresh RSA key pair (its public key registered), enrolled with every
/// organization, one `partnerServiceId` per organization's VA prefix.
pub fn seed_snap_bank(cli: &Cli, work: &Path, orgs: &[Org]) -> anyhow::Result<SnapBank> {
    let (private_pem, public_pem) =
        billhub_core::signature::snap::generate_key_pair(&mut rand::rng())
            .map_err(|e| anyhow::anyhow!("SNAP key pair: {e}"))?;
    let key_file = work.join("snap-bank.pub.pem");
    std::fs::write(&key_file, public_pem).context("write the SNAP public key")?;
    let key_path = key_file.to_string_lossy().to_string();
    let bank = cli.json(&[
        "channel",
        "create",
        "--name",
        "Bench SNAP Bank",
        "--dialect",
        "snap",
        "--public-key",
        &key_path,
        "--json",
    ])?;
    let id = id_of(&bank)?.to_string();
    let mut psids = Vec::new();
    for (k, (o, prefix)) in orgs.iter().zip(PREFIXES).enumerate() {
        cli.run(&["channel", "enroll", "--channel", &id, "--org", &o.code])?;
        let psid = format!("{}", 88_801 + k);
        cli.run(&[
            "channel",
            "set",
            &id,
            &format!("snap.partner_service_id.{prefix}"),
            &psid,
        ])?;
        psids.push((prefix.to_string(), format!("{psid:>8}")));
    }
    Ok(SnapBank {
        client_id: field(&bank, "client_id")?,
        client_secret: field(&bank, "client_secret")?,
        private_pem,
        psids,
        token: String::new(),
    })
}

/// The organizations' codes and VA prefixes.
pub const ORGS: [(&str, &str); 2] = [("BENCHA01", "009951"), ("BENCHB02", "009952")];
const PREFIXES: [&str; 2] = [ORGS[0].1, ORGS[1].1];

/// Runs the `billhub` CLI.
pub struct Cli {
    pub bin: PathBuf,
    pub url: String,
    pub key: String,
}

impl Cli {
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(&self.bin)
            .args(args)
            .env("BILLHUB_DATABASE_URL", &self.url)
            .env("BILLHUB_MASTER_KEY", &self.key)
            .env("BILLHUB_LOG", "warn")
            .output()
            .with_context(|| format!("cannot run {}", self.bin.display()))?;
        if !out.status.success() {
            bail!(
                "billhub {args:?} exited {:?}: {}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let text = self.run(args)?;
        serde_json::from_str(text.trim()).with_context(|| format!("billhub {args:?}: {text}"))
    }
}

fn field(v: &Value, key: &str) -> anyhow::Result<String> {
    match &v[key] {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => bail!("no {key} in {v}"),
    }
}

fn id_of(v: &Value) -> anyhow::Result<i64> {
    v["id"].as_i64().with_context(|| format!("no id in {v}"))
}

/// A fresh database of `backend` under `work`, migrated: its URL (and PostgreSQL name).
pub fn fresh_database(
    backend: Backend,
    work: &Path,
    tag: &str,
) -> anyhow::Result<(String, Option<String>)> {
    match backend {
        Backend::Sqlite => {
            let path = work.join(format!("{tag}.sqlite3"));
            Ok((format!("sqlite://{}", path.display()), None))
        }
        Backend::Postgres => {
            let admin = admin_url();
            let name = format!("billhub_bench_{tag}_{}", std::process::id());
            psql(&admin, &format!("DROP DATABASE IF EXISTS {name}"))?;
            psql(&admin, &format!("CREATE DATABASE {name}"))?;
            Ok((with_db(&admin, &name), Some(name)))
        }
    }
}

/// Drops a bench database (errors ignored: the run's result does not depend on it).
pub fn drop_database(name: &str) {
    let _ = psql(
        &admin_url(),
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
}

/// `psql -At -c SQL` on `url`: its output, trimmed.
pub fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        .output()
        .context("cannot run psql")?;
    if !out.status.success() {
        bail!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// One query on the bench database (psql or sqlite3), rows as `|`-separated lines.
pub fn query(url: &str, sql: &str) -> anyhow::Result<String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let out = Command::new("sqlite3")
            .args([path, sql])
            .output()
            .context("cannot run sqlite3")?;
        if !out.status.success() {
            bail!("sqlite3 {sql}: {}", String::from_utf8_lossy(&out.stderr));
        }
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    psql(url, sql)
}

/// A setting of the backend as the run had it.
pub fn settings(backend: Backend, url: &str) -> String {
    match backend {
        Backend::Sqlite => crate::baseline::sqlite_settings(),
        Backend::Postgres => {
            let get = |s: &str| psql(url, &format!("SHOW {s}")).unwrap_or_else(|e| e.to_string());
            format!(
                "PostgreSQL {}: fsync={}, synchronous_commit={}, shared_buffers={}, max_connections={}, autovacuum={}; gateways' pool BILLHUB_DB_POOL_SIZE={}",
                get("server_version"),
                get("fsync"),
                get("synchronous_commit"),
                get("shared_buffers"),
                get("max_connections"),
                get("autovacuum"),
                std::env::var("BILLHUB_DB_POOL_SIZE").unwrap_or_else(|_| "16 (default)".into())
            )
        }
    }
}

/// Creates organizations, credentials and channels through the CLI. Collections and bills come
/// after the gateways start ([`create_collections`], [`import_bills`]).
pub fn seed_principals(cli: &Cli) -> anyhow::Result<(Vec<Org>, Value, Value)> {
    cli.run(&["migrate"])?;
    let mut orgs = Vec::new();
    for (code, prefix) in ORGS {
        let o = cli.json(&[
            "org",
            "create",
            "--code",
            code,
            "--name",
            &format!("Bench {code}"),
            "--utc-offset",
            "+07:00",
            "--va-prefix",
            prefix,
            "--settlement",
            "total",
            "--json",
        ])?;
        let b24 = cli.json(&[
            "credential",
            "create",
            "--org",
            code,
            "--dialect",
            "bill24",
            "--json",
        ])?;
        let col = cli.json(&[
            "credential",
            "create",
            "--org",
            code,
            "--dialect",
            "collections",
            "--json",
        ])?;
        // The collections API limits requests per token and minute (default 600): lift it.
        cli.run(&[
            "org",
            "set",
            code,
            "collections.requests_per_minute",
            "1000000",
        ])?;
        orgs.push(Org {
            id: id_of(&o)?,
            code: code.into(),
            bill24_token: field(&b24, "token")?,
            collections_token: field(&col, "access_token")?,
            collection: String::new(),
        });
    }
    let bank = cli.json(&[
        "channel",
        "create",
        "--name",
        "Bench Bank",
        "--dialect",
        "va",
        "--json",
    ])?;
    let shops = cli.json(&[
        "channel",
        "create",
        "--name",
        "Bench Shops",
        "--dialect",
        "postpaid",
        "--json",
    ])?;
    for ch in [&bank, &shops] {
        let id = id_of(ch)?.to_string();
        for o in &orgs {
            cli.run(&["channel", "enroll", "--channel", &id, "--org", &o.code])?;
        }
    }
    Ok((orgs, bank, shops))
}

/// Creates one collection per organization through the collections gateway at `base`.
pub async fn create_collections(base: &str, orgs: &mut [Org]) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for o in orgs.iter_mut() {
        let resp = http
            .post(format!("{base}/api/collections"))
            .bearer_auth(&o.collections_token)
            .header("Accept", "application/json")
            .json(&json!({"name": format!("Bench {}", o.code)}))
            .send()
            .await
            .context("create collection")?;
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.context("collection answer")?;
        if status / 100 != 2 {
            bail!("create collection: HTTP {status} {v}");
        }
        o.collection = field(&v, "code")?;
    }
    Ok(())
}

/// Writes each organization's CSV and imports it; returns the bills split into their roles.
pub fn import_bills(
    cli: &Cli,
    work: &Path,
    orgs: &[Org],
    bills: usize,
) -> anyhow::Result<[Vec<Bill>; 5]> {
    let per_org = bills / orgs.len().max(1);
    // Read-only bills per currency and organization.
    let reads = (per_org / 20).clamp(10, 1000);
    let mut out: [Vec<Bill>; 5] = Default::default();
    let [read_usd, read_idr, pay_b24, pay_pp, pay_va] = &mut out;
    for (k, o) in orgs.iter().enumerate() {
        let prefix = if k == 0 { "009951" } else { "009952" };
        let mut csv = String::from(
            "account,account_name,phone,currency,amount,invoice_number,due_date,rule,va_number,collection,name\n",
        );
        let mut usd = Vec::new();
        let mut idr = Vec::new();
        for i in 0..per_org {
            let cents = 1000 + 25 * i64::try_from(i % 400).unwrap_or(0);
            if i % 2 == 0 {
                let account = format!("U{k}{i:07}");
                let _ = writeln!(
                    csv,
                    "{account},Payer {i},0{i:09},USD,{}.{:02},INV{k}-{i:08},2027-12-31,exact,,{},Bench bill {i}",
                    cents / 100,
                    cents % 100,
                    o.collection
                );
                usd.push(Bill {
                    org: k,
                    account,
                    billed: cents,
                    va_number: None,
                    public_no: String::new(),
                });
            } else {
                let account = format!("V{k}{i:07}");
                let rupiah = 100_000 + 1000 * i64::try_from(i % 400).unwrap_or(0);
                let va = format!("{prefix}{i:010}");
                let _ = writeln!(
                    csv,
                    "{account},Payer {i},0{i:09},IDR,{rupiah},INV{k}-{i:08},2027-12-31,exact,{va},{},Bench bill {i}",
                    o.collection
                );
                idr.push(Bill {
                    org: k,
                    account,
                    billed: rupiah,
                    va_number: Some(va),
                    public_no: String::new(),
                });
            }
        }
        let file = work.join(format!("bills-{}.csv", o.code));
        std::fs::write(&file, csv).with_context(|| format!("write {}", file.display()))?;
        let path = file.display().to_string();
        let r = cli.json(&["import", "bills", "--org", &o.code, &path, "--json"])?;
        let inserted = r.get("inserted").and_then(Value::as_u64).unwrap_or(0);
        if inserted != per_org as u64 {
            bail!("import into {}: {r} (expected {per_org} inserted)", o.code);
        }
        let read_n = reads.min(usd.len() / 4).min(idr.len() / 4);
        let mut usd_rest = usd.split_off(read_n.min(usd.len()));
        let idr_rest = idr.split_off(read_n.min(idr.len()));
        read_usd.extend(usd);
        read_idr.extend(idr);
        let half = usd_rest.len() / 2;
        let pp = usd_rest.split_off(half);
        pay_b24.extend(usd_rest);
        pay_pp.extend(pp);
        pay_va.extend(idr_rest);
    }
    Ok(out)
}

/// Fills the public numbers of the read bills (the collections `bill_no`) from the database.
pub fn fill_public_nos(url: &str, orgs: &[Org], bills: &mut [Bill]) -> anyhow::Result<()> {
    let mut by_account = std::collections::HashMap::new();
    for (k, o) in orgs.iter().enumerate() {
        let rows = query(
            url,
            &format!(
                "SELECT a.code, b.public_no FROM bills b JOIN accounts a ON a.id = b.account_id \
                 WHERE b.organization_id = {} AND b.currency = 'USD' ORDER BY b.id LIMIT {}",
                o.id,
                bills.len() + 10
            ),
        )?;
        for line in rows.lines() {
            if let Some((acc, no)) = line.split_once('|') {
                by_account.insert((k, acc.to_string()), no.to_string());
            }
        }
    }
    for b in bills.iter_mut() {
        b.public_no = by_account
            .get(&(b.org, b.account.clone()))
            .cloned()
            .with_context(|| format!("no public number for {}", b.account))?;
    }
    Ok(())
}

impl Seeded {
    /// No database: for `/healthz`-only runs.
    pub fn empty() -> Seeded {
        Seeded {
            url: String::new(),
            master_key: String::new(),
            orgs: Vec::new(),
            va_client_id: String::new(),
            va_client_secret: String::new(),
            va_api_key: String::new(),
            postpaid_user: String::new(),
            postpaid_password: String::new(),
            read_usd: Vec::new(),
            read_idr: Vec::new(),
            pay_bill24: Vec::new(),
            pay_postpaid: Vec::new(),
            pay_va: Vec::new(),
            pay_snap: Vec::new(),
            snap: SnapBank::default(),
            pg_db: None,
        }
    }
}
