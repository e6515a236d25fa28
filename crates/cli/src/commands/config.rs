//! `billhub config check`: reads the environment exactly as a gateway would
//! ([`billhub_http::Config::inspect_lookup`], the read-only twin of `Config::from_env` that never
//! writes the embedded default's key file) and either names every problem it can find or prints
//! the effective configuration with secrets masked, then whether the database answers. Exits 1
//! on a bad variable or an unreachable database, in text and `--json` alike.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use billhub_http::Config;
use billhub_http::config::{ConfigError, LogFormat, MasterKeySource};
use billhub_store::pool::redact;
use billhub_store::{DatabaseUrl, PoolOptions, Store};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{print, rfc3339};

/// How long the database may take to answer the check.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(5);

/// A placeholder for a bad `BILLHUB_MASTER_KEY` while looking for further problems (never
/// printed, never used to open anything).
const PLACEHOLDER_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Read the environment as a gateway would: name what is wrong, or print the effective
    /// configuration (secrets masked) and whether the database answers. Exit 1 on any problem.
    Check(ConfigCheckArgs),
}

#[derive(Args)]
pub struct ConfigCheckArgs {
    #[arg(long)]
    json: bool,
    /// The gateway whose default bind address applies when BILLHUB_BIND is unset.
    #[arg(long, default_value = "bill24", value_parser = ["bill24", "collections", "va", "postpaid"])]
    gateway: String,
}

impl ConfigCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            ConfigCommand::Check(args) => args.run(),
        }
    }
}

impl ConfigCheckArgs {
    fn run(self) -> anyhow::Result<()> {
        let gateway = super::up::gateways()
            .into_iter()
            .find(|g| g.name() == self.gateway)
            .ok_or_else(|| anyhow!("--gateway: no gateway `{}`", self.gateway))?;
        let default_bind = gateway.default_bind();
        let env = |k: &str| std::env::var(k).ok();
        let (config, key_source) = match problems(default_bind, env) {
            Ok(found) => found,
            Err(problems) => {
                let list: Vec<Value> = problems
                    .iter()
                    .map(|p| json!({"variable": p.variable, "message": p.message}))
                    .collect();
                if self.json {
                    println!(
                        "{}",
                        json!({"ok": false, "gateway": self.gateway, "problems": list})
                    );
                }
                let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
                bail!(
                    "the configuration has {} problem(s):\n{}",
                    problems.len(),
                    lines.join("\n")
                );
            }
        };
        let database = database_check(&config);
        let value = effective(&self.gateway, &config, &key_source, &database);
        print(value, self.json, || {
            text(&self.gateway, &config, &key_source, &database)
        });
        if let Database::Unreachable(e) = database {
            bail!("BILLHUB_DATABASE_URL: the database does not answer: {e}");
        }
        Ok(())
    }
}

/// The configuration, or every problem found: after each bad variable the environment is read
/// again without it (its default), so one run names them all. A problem that only follows
/// from an earlier one (e.g. BILLHUB_CLOCK_SCALE once a bad BILLHUB_SANDBOX reads as false)
/// may be listed too.
fn problems(
    default_bind: &str,
    get: impl Fn(&str) -> Option<String>,
) -> Result<(Config, MasterKeySource), Vec<ConfigError>> {
    let mut bad: BTreeSet<&'static str> = BTreeSet::new();
    let mut found = Vec::new();
    loop {
        let lookup = |k: &str| {
            if !bad.contains(k) {
                get(k)
            } else if k == "BILLHUB_MASTER_KEY" {
                Some(PLACEHOLDER_KEY.to_string())
            } else {
                None
            }
        };
        match Config::inspect_lookup(default_bind, lookup) {
            Ok(ok) if found.is_empty() => return Ok(ok),
            Ok(_) => return Err(found),
            Err(e) => {
                let again = !bad.insert(e.variable);
                found.push(e);
                if again {
                    return Err(found);
                }
            }
        }
    }
}

/// Whether the database answers.
enum Database {
    Reachable,
    /// An SQLite file that does not exist yet (a gateway creates it on its first start).
    NotCreated(String),
    Unreachable(String),
}

/// Connects and pings with [`DATABASE_TIMEOUT`]; never runs migrations, never creates an
/// SQLite file or its directory.
fn database_check(config: &Config) -> Database {
    let url = match DatabaseUrl::parse(&config.database_url) {
        Ok(u) => u,
        Err(e) => return Database::Unreachable(e.to_string()),
    };
    if let DatabaseUrl::Sqlite(path) = &url
        && !std::path::Path::new(path).exists()
    {
        return Database::NotCreated(path.clone());
    }
    let (tx, rx) = mpsc::channel();
    let database_url = config.database_url.clone();
    let key = config.master_key.clone();
    std::thread::spawn(move || {
        let options = PoolOptions {
            max_size: 1,
            min_idle: 0,
            connection_timeout: DATABASE_TIMEOUT,
        };
        let answer = Store::open(&database_url, key, options, false).and_then(|s| s.ping());
        // The receiver may have given up already.
        let _ = tx.send(answer.map_err(|e| e.to_string()));
    });
    match rx.recv_timeout(DATABASE_TIMEOUT) {
        Ok(Ok(())) => Database::Reachable,
        Ok(Err(e)) => Database::Unreachable(scrub(config, &e)),
        Err(_) => Database::Unreachable(format!(
            "no answer within {} seconds",
            DATABASE_TIMEOUT.as_secs()
        )),
    }
}

/// `text` with the database password and the master key masked, should a driver's message
/// ever repeat them.
fn scrub(config: &Config, text: &str) -> String {
    let mut s = text.replace(&config.master_key.to_hex(), "***");
    if let Some((_, rest)) = config.database_url.split_once("://")
        && let Some((userinfo, _)) = rest.rsplit_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
        && !password.is_empty()
    {
        s = s.replace(password, "***");
    }
    s.trim().to_string()
}

fn master_key_text(source: &MasterKeySource) -> String {
    match source {
        MasterKeySource::Environment => "set (from BILLHUB_MASTER_KEY)".into(),
        MasterKeySource::File(p) => format!("generated file {}", p.display()),
        MasterKeySource::WouldGenerate(p) => format!(
            "not set: a gateway generates {} on its first start",
            p.display()
        ),
    }
}

/// The current master key's id (not secret; `docs/keys.md`); none for the throwaway key of a
/// key file not generated yet.
fn master_key_id<'c>(config: &'c Config, source: &MasterKeySource) -> Option<&'c str> {
    match source {
        MasterKeySource::WouldGenerate(_) => None,
        _ => Some(config.master_key.id()),
    }
}

/// `BILLHUB_TRUSTED_PROXIES` as read (it parsed: the configuration holds its ranges).
fn trusted_proxies(config: &Config) -> Vec<String> {
    if config.trusted_proxies.is_empty() {
        return Vec::new();
    }
    std::env::var("BILLHUB_TRUSTED_PROXIES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(String::from)
        .collect()
}

fn effective(gateway: &str, config: &Config, key: &MasterKeySource, database: &Database) -> Value {
    let backend = DatabaseUrl::parse(&config.database_url)
        .map(|u| u.backend().name())
        .unwrap_or("unknown");
    let ok = !matches!(database, Database::Unreachable(_));
    let database = match database {
        Database::Reachable => json!({"reachable": true}),
        Database::NotCreated(path) => json!({
            "reachable": null,
            "note": format!("{path} does not exist yet: a gateway creates it on its first start"),
        }),
        Database::Unreachable(e) => json!({"reachable": false, "error": e}),
    };
    json!({
        "ok": ok,
        "gateway": gateway,
        "database_url": redact(&config.database_url),
        "backend": backend,
        "bind": config.bind.to_string(),
        "public_url": config.public_url,
        "sandbox": config.sandbox,
        "log_filter": config.log_filter,
        "log_format": match config.log_format {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        },
        "migrate": config.migrate,
        "body_limit": config.body_limit,
        "request_timeout_secs": config.request_timeout.as_secs(),
        "db_pool_size": config.db_pool_size,
        "docs": config.docs,
        "trusted_proxies": trusted_proxies(config),
        "clock_scale": config.clock_scale.map(|s| json!({
            "factor": s.factor,
            "from": rfc3339(s.epoch),
        })),
        "master_key": master_key_text(key),
        "master_key_id": master_key_id(config, key),
        "old_master_key_ids": config.master_key.old_ids(),
        "database": database,
    })
}

fn text(gateway: &str, config: &Config, key: &MasterKeySource, database: &Database) -> String {
    let v = effective(gateway, config, key, database);
    let field = |k: &str| {
        v.get(k)
            .map(|x| x.as_str().map_or_else(|| x.to_string(), String::from))
            .unwrap_or_default()
    };
    let mut s = format!("configuration of the {gateway} gateway:\n");
    for k in [
        "database_url",
        "backend",
        "bind",
        "public_url",
        "sandbox",
        "log_filter",
        "log_format",
        "migrate",
        "body_limit",
        "request_timeout_secs",
        "db_pool_size",
        "docs",
    ] {
        s.push_str(&format!("  {k}: {}\n", field(k)));
    }
    let proxies = trusted_proxies(config);
    s.push_str(&format!(
        "  trusted_proxies: {}\n",
        if proxies.is_empty() {
            "none".into()
        } else {
            proxies.join(", ")
        }
    ));
    if let Some(c) = config.clock_scale {
        s.push_str(&format!(
            "  clock_scale: {} (from {})\n",
            c.factor,
            rfc3339(c.epoch)
        ));
    }
    s.push_str(&format!("  master_key: {}\n", master_key_text(key)));
    if let Some(id) = master_key_id(config, key) {
        s.push_str(&format!("  master_key_id: {id}\n"));
    }
    let old = config.master_key.old_ids();
    s.push_str(&format!(
        "  old_master_keys (BILLHUB_MASTER_KEYS): {}\n",
        if old.is_empty() {
            "none".into()
        } else {
            old.join(", ")
        }
    ));
    s.push_str(&match database {
        Database::Reachable => "database: answers\n".to_string(),
        Database::NotCreated(p) => {
            format!("database: {p} does not exist yet: a gateway creates it on its first start\n")
        }
        Database::Unreachable(e) => format!("database: does NOT answer: {e}\n"),
    });
    s.push_str("migrations: not checked (run `billhub migrate` to apply pending ones)");
    s
}
