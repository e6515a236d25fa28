//! One module per command group: its clap subcommand type and its handler. `main.rs` only
//! dispatches. Errors are `anyhow` all the way up: `main` prints `billhub: {error:#}` to stderr and
//! exits 1, so every message names the flag or the record it is about.

pub mod backup;
pub mod bill;
pub mod channel;
pub mod check;
pub mod config;
pub mod console;
pub mod credential;
pub mod credit;
pub mod export;
pub mod import;
pub mod migrate;
pub mod org;
pub mod reconcile;
pub mod rotate;
pub mod unapplied;
pub mod up;
pub mod user;

use anyhow::anyhow;
use billhub_core::org::Organization;
use billhub_core::{Currency, Money};
use billhub_http::Config;
use billhub_store::{PoolOptions, Store, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Opens the store of `BILLHUB_DATABASE_URL`, running migrations first when `migrate`.
pub fn open_store(config: &Config, migrate: bool) -> anyhow::Result<Store> {
    Store::open(
        &config.database_url,
        config.master_key.clone(),
        PoolOptions::default(),
        migrate,
    )
    .map_err(|e| anyhow!("BILLHUB_DATABASE_URL: {e}"))
}

/// Prints `value` as one line of JSON with `--json`, else the text `text` makes.
pub fn print(value: serde_json::Value, json_out: bool, text: impl FnOnce() -> String) {
    if json_out {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

/// The organization with this code, or an error naming the code.
pub fn organization(store: &Store, code: &str) -> anyhow::Result<Organization> {
    store
        .organization_by_code(code)?
        .ok_or_else(|| anyhow!("no organization with code `{code}`"))
}

/// A bill of the organization by public number, else by invoice number (the newest).
pub fn find_bill(
    store: &Store,
    organization_id: i64,
    number: &str,
) -> anyhow::Result<billhub_core::Bill> {
    if let Some(b) = store.bill_by_public_no(organization_id, number)? {
        return Ok(b);
    }
    store
        .bills_by_invoice_number(organization_id, number)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("--bill: no bill `{number}` in this organization"))
}

/// A store error for the operator: a core refusal reads `refused: ...`.
pub fn refused(e: StoreError) -> anyhow::Error {
    match e.rejection() {
        Some(r) => anyhow!("refused: {r}"),
        None => e.into(),
    }
}

/// Minor units of a currency as a fixed decimal (`5000.00`); the bare number when the currency
/// code is unknown.
pub fn money_text(minor: i64, currency: &str) -> String {
    Currency::from_code(currency)
        .map(|c| Money::from_minor(minor, c).to_fixed_string())
        .unwrap_or_else(|_| minor.to_string())
}

/// What `credential create` and `channel create` print without `--json`: a heading, then every
/// field of `value` (the secrets, shown once) on its own line.
pub fn secrets_text(heading: String, value: &serde_json::Value) -> String {
    let mut s = heading;
    if let Some(m) = value.as_object() {
        for (k, v) in m {
            let v = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            s.push_str(&format!("  {k}: {v}\n"));
        }
    }
    s
}

/// RFC 3339, as the JSON outputs write times.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}
