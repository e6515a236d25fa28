//! Configuration from the environment, read and validated in one place. Every error names the
//! variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use billhub_store::{Backend, DatabaseUrl, MasterKey};

pub const DEFAULT_DATABASE_URL: &str = "./var/billhub.sqlite3";
pub const DEFAULT_MASTER_KEY_FILE: &str = "./var/master.key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    /// Base of links in responses, without a trailing slash.
    pub public_url: String,
    pub master_key: MasterKey,
    pub sandbox: bool,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub migrate: bool,
    /// Largest request body accepted, bytes.
    pub body_limit: usize,
    /// How long a request may run before it is answered with a timeout (a payment that reached
    /// the store still commits).
    pub request_timeout: std::time::Duration,
    /// `BILLHUB_DB_POOL_SIZE`: the most database connections this process opens (one pool
    /// shared by every gateway it serves).
    pub db_pool_size: u32,
    /// Test-only (`BILLHUB_CLOCK_SCALE`, sandbox only): the app clock runs this many times as
    /// fast as the system clock. `None` in production: the system clock.
    pub clock_scale: Option<ClockScale>,
    /// `BILLHUB_TRUSTED_PROXIES`: the proxies (load balancers) whose `X-Forwarded-For` names
    /// the client's address; none by default (the TCP peer is the client).
    pub trusted_proxies: TrustedProxies,
    /// `BILLHUB_DOCS` (default true): serve the gateway's OpenAPI document at `/openapi.json`
    /// and its documentation page at `/docs`; `false` for partner-facing deployments.
    pub docs: bool,
}

/// A sped-up app clock for tests: `factor` app seconds per real second from `epoch`
/// (`BILLHUB_CLOCK_SCALE_FROM`, or the moment the configuration was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockScale {
    pub factor: u32,
    pub epoch: time::OffsetDateTime,
}

impl Config {
    /// The app clock this configuration asks for: the system clock unless a test scale is set.
    pub fn clock(&self) -> crate::Clock {
        match self.clock_scale {
            Some(s) => crate::Clock::scaled(s.factor, s.epoch),
            None => crate::Clock::system(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

/// `BILLHUB_PUBLIC_URL`, or `http://{bind}`.
fn public_url(value: Option<String>, bind: SocketAddr) -> Result<String, ConfigError> {
    match value.filter(|s| !s.is_empty()) {
        Some(u) => {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(err(
                    "BILLHUB_PUBLIC_URL",
                    format!("`{u}` must start with http:// or https://"),
                ));
            }
            Ok(u.trim_end_matches('/').to_string())
        }
        None => Ok(format!("http://{bind}")),
    }
}

/// Where the master key of a configuration comes from (what `billhub config check` reports;
/// never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `BILLHUB_MASTER_KEY`.
    Environment,
    /// The key file of the embedded default (SQLite without `BILLHUB_MASTER_KEY`), which exists.
    File(PathBuf),
    /// No key file yet: a gateway would generate this one on its first start. Only from
    /// [`Config::inspect_lookup`], whose configuration then holds a throwaway key.
    WouldGenerate(PathBuf),
}

/// Whether reading the configuration may write the embedded default's key file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyFile {
    Create,
    ReadOnly,
}

/// `BILLHUB_MASTER_KEY`; on SQLite a key file made on first start, with PostgreSQL required.
fn master_key(
    value: Option<String>,
    backend: Backend,
    key_file: KeyFile,
) -> Result<(MasterKey, MasterKeySource), ConfigError> {
    match value.filter(|s| !s.is_empty()) {
        Some(hex) => MasterKey::from_hex(&hex)
            .map(|k| (k, MasterKeySource::Environment))
            .map_err(|e| err("BILLHUB_MASTER_KEY", e.to_string())),
        None => match backend {
            Backend::Sqlite => {
                let path = Path::new(DEFAULT_MASTER_KEY_FILE);
                match key_file {
                    KeyFile::Create => load_or_create_key_file(path),
                    KeyFile::ReadOnly => read_key_file(path),
                }
            }
            Backend::Postgres => Err(err(
                "BILLHUB_MASTER_KEY",
                "required with PostgreSQL: 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`",
            )),
        },
    }
}

/// `BILLHUB_MASTER_KEYS`: old master keys (64 hex each, comma-separated) that still open the
/// secrets they sealed while `billhub rotate-master-key` re-seals them with the current one.
fn old_master_keys(value: Option<String>) -> Result<Vec<MasterKey>, ConfigError> {
    let text = value.unwrap_or_default();
    let entries: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let count = entries.len();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            // Never echo the entry: it may be a key with a typo.
            MasterKey::from_hex(entry).map_err(|_| {
                err(
                    "BILLHUB_MASTER_KEYS",
                    format!(
                        "key {} of {count} is not 64 hex characters (32 bytes); list old keys \
                         comma-separated",
                        i + 1
                    ),
                )
            })
        })
        .collect()
}

/// `BILLHUB_LOG`, checked as a tracing filter (default `info`).
fn log_filter(value: Option<String>) -> Result<String, ConfigError> {
    let log_filter = value
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "info".into());
    tracing_subscriber::EnvFilter::try_new(&log_filter).map_err(|e| {
        err(
            "BILLHUB_LOG",
            format!("`{log_filter}` is not a tracing filter: {e}"),
        )
    })?;
    Ok(log_filter)
}

/// `BILLHUB_LOG_FORMAT`: `json`, `text`, or `auto` (the default, also when unset or blank):
/// text when the logs go to a terminal (`logs_to_terminal`: stderr is one), JSON otherwise.
pub fn log_format(value: Option<String>, logs_to_terminal: bool) -> Result<LogFormat, ConfigError> {
    match value
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "auto" if logs_to_terminal => Ok(LogFormat::Text),
        "" | "auto" | "json" => Ok(LogFormat::Json),
        "text" => Ok(LogFormat::Text),
        other => Err(err(
            "BILLHUB_LOG_FORMAT",
            format!("`{other}` must be auto, json or text"),
        )),
    }
}

/// Default of `BILLHUB_BODY_LIMIT`: 256 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;
/// Bounds of `BILLHUB_BODY_LIMIT` (bytes): 1 KiB to 64 MiB.
pub const BODY_LIMIT_RANGE: std::ops::RangeInclusive<usize> = 1024..=64 * 1024 * 1024;
/// Default of `BILLHUB_REQUEST_TIMEOUT`: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// Bounds of `BILLHUB_REQUEST_TIMEOUT` (seconds).
pub const REQUEST_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=600;

/// Default of `BILLHUB_DB_POOL_SIZE`.
pub const DEFAULT_DB_POOL_SIZE: u32 = 16;
/// Bounds of `BILLHUB_DB_POOL_SIZE`.
pub const DB_POOL_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1..=1000;

/// A whole number of `unit` from `range` in variable `var` (`default` when unset or blank).
fn whole_number<T>(
    var: &'static str,
    value: Option<String>,
    range: std::ops::RangeInclusive<T>,
    default: T,
    unit: &str,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(text) = value.filter(|s| !s.trim().is_empty()) else {
        return Ok(default);
    };
    match text.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(err(
            var,
            format!(
                "`{text}` must be a whole number of {unit} from {} to {} (default {default})",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// `BILLHUB_DB_POOL_SIZE`: the most database connections one process opens (default 16).
fn db_pool_size(value: Option<String>) -> Result<u32, ConfigError> {
    whole_number(
        "BILLHUB_DB_POOL_SIZE",
        value,
        DB_POOL_SIZE_RANGE,
        DEFAULT_DB_POOL_SIZE,
        "connections",
    )
}

/// `BILLHUB_BODY_LIMIT`: the largest request body, in bytes (a whole number; default 256 KiB).
fn body_limit(value: Option<String>) -> Result<usize, ConfigError> {
    whole_number(
        "BILLHUB_BODY_LIMIT",
        value,
        BODY_LIMIT_RANGE,
        DEFAULT_BODY_LIMIT,
        "bytes",
    )
}

/// `BILLHUB_REQUEST_TIMEOUT`: how long a request may run, in whole seconds (default 30).
fn request_timeout(value: Option<String>) -> Result<std::time::Duration, ConfigError> {
    whole_number(
        "BILLHUB_REQUEST_TIMEOUT",
        value,
        REQUEST_TIMEOUT_RANGE,
        DEFAULT_REQUEST_TIMEOUT_SECS,
        "seconds",
    )
    .map(std::time::Duration::from_secs)
}

/// `BILLHUB_CLOCK_SCALE` (an integer 1..=3600, test-only, refused unless `BILLHUB_SANDBOX=true`)
/// and `BILLHUB_CLOCK_SCALE_FROM` (RFC 3339, not in the future; default: now). Unset or 1: the
/// system clock.
fn clock_scale(
    scale: Option<String>,
    from: Option<String>,
    sandbox: bool,
) -> Result<Option<ClockScale>, ConfigError> {
    const VAR: &str = "BILLHUB_CLOCK_SCALE";
    const FROM: &str = "BILLHUB_CLOCK_SCALE_FROM";
    let from = from.filter(|s| !s.trim().is_empty());
    let Some(text) = scale.filter(|s| !s.trim().is_empty()) else {
        return match from {
            Some(_) => Err(err(FROM, format!("only means something with {VAR} set"))),
            None => Ok(None),
        };
    };
    let max = crate::clock::MAX_SCALE;
    let factor: u32 = match text.trim().parse() {
        Ok(n) if (1..=max).contains(&n) => n,
        _ => {
            return Err(err(
                VAR,
                format!("`{text}` must be a whole number from 1 to {max}"),
            ));
        }
    };
    if !sandbox {
        return Err(err(
            VAR,
            "is test-only (it speeds up the app clock) and refused unless BILLHUB_SANDBOX=true; \
             unset BILLHUB_CLOCK_SCALE in production",
        ));
    }
    let now = time::OffsetDateTime::now_utc();
    let epoch = match from {
        None => now,
        Some(f) => {
            let at = time::OffsetDateTime::parse(
                f.trim(),
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|e| {
                err(
                    FROM,
                    format!("`{f}` is not an RFC 3339 time like 2026-01-31T08:00:00Z: {e}"),
                )
            })?;
            if at > now {
                return Err(err(FROM, format!("`{f}` is in the future")));
            }
            at
        }
    };
    Ok((factor > 1).then_some(ClockScale { factor, epoch }))
}

fn err(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(err(variable, format!("`{other}` is not true or false"))),
    }
}

impl Config {
    /// Reads the environment for a gateway whose default bind address is `default_bind`.
    pub fn from_env(default_bind: &str) -> Result<Config, ConfigError> {
        Self::from_lookup(default_bind, |k| std::env::var(k).ok())
    }

    /// Like [`Config::from_env`] over any lookup (tests).
    pub fn from_lookup(
        default_bind: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Self::read(default_bind, get, KeyFile::Create).map(|(config, _)| config)
    }

    /// Reads a configuration exactly as [`Config::from_lookup`] does, but never writes: on
    /// SQLite without `BILLHUB_MASTER_KEY` an existing key file is read, and a missing one is
    /// reported as [`MasterKeySource::WouldGenerate`] (the configuration then holds a throwaway
    /// key that is never stored). For `billhub config check`.
    pub fn inspect_lookup(
        default_bind: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<(Config, MasterKeySource), ConfigError> {
        Self::read(default_bind, get, KeyFile::ReadOnly)
    }

    fn read(
        default_bind: &str,
        get: impl Fn(&str) -> Option<String>,
        key_file: KeyFile,
    ) -> Result<(Config, MasterKeySource), ConfigError> {
        let database_url = get("BILLHUB_DATABASE_URL")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let parsed = DatabaseUrl::parse(&database_url)
            .map_err(|e| err("BILLHUB_DATABASE_URL", e.to_string()))?;
        let bind_text = get("BILLHUB_BIND")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| default_bind.to_string());
        let bind: SocketAddr = bind_text.parse().map_err(|_| {
            err(
                "BILLHUB_BIND",
                format!("`{bind_text}` is not an address like 127.0.0.1:8081"),
            )
        })?;
        let public_url = public_url(get("BILLHUB_PUBLIC_URL"), bind)?;
        let (master_key, key_source) =
            master_key(get("BILLHUB_MASTER_KEY"), parsed.backend(), key_file)?;
        let master_key = master_key.with_old(old_master_keys(get("BILLHUB_MASTER_KEYS"))?);
        let sandbox = parse_bool(
            "BILLHUB_SANDBOX",
            &get("BILLHUB_SANDBOX").unwrap_or_default(),
        )?;
        let migrate = match get("BILLHUB_MIGRATE") {
            Some(v) if !v.is_empty() => parse_bool("BILLHUB_MIGRATE", &v)?,
            _ => true,
        };
        let log_filter = log_filter(get("BILLHUB_LOG"))?;
        let log_format = log_format(
            get("BILLHUB_LOG_FORMAT"),
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )?;
        let body_limit = body_limit(get("BILLHUB_BODY_LIMIT"))?;
        let request_timeout = request_timeout(get("BILLHUB_REQUEST_TIMEOUT"))?;
        let db_pool_size = db_pool_size(get("BILLHUB_DB_POOL_SIZE"))?;
        let clock_scale = clock_scale(
            get("BILLHUB_CLOCK_SCALE"),
            get("BILLHUB_CLOCK_SCALE_FROM"),
            sandbox,
        )?;
        let config = Config {
            database_url,
            bind,
            public_url,
            master_key,
            sandbox,
            log_filter,
            log_format,
            migrate,
            body_limit,
            request_timeout,
            db_pool_size,
            clock_scale,
            trusted_proxies: TrustedProxies::parse(get("BILLHUB_TRUSTED_PROXIES"))?,
            docs: match get("BILLHUB_DOCS") {
                Some(v) if !v.is_empty() => parse_bool("BILLHUB_DOCS", &v)?,
                _ => true,
            },
        };
        Ok((config, key_source))
    }

    /// The same configuration for a server listening on `bind` (one of several gateways in one
    /// process, `billhub up`): `bind` is replaced, and so is `public_url` when it was the default
    /// derived from the old bind (`http://{bind}`); a `BILLHUB_PUBLIC_URL` that was set to
    /// anything else is kept for every gateway.
    pub fn for_bind(&self, bind: SocketAddr) -> Config {
        let derived = self.public_url == format!("http://{}", self.bind);
        Config {
            bind,
            public_url: if derived {
                format!("http://{bind}")
            } else {
                self.public_url.clone()
            },
            ..self.clone()
        }
    }

    /// A configuration for tests: a given database URL and key, loopback on port 0.
    pub fn for_tests(database_url: &str, master_key: MasterKey) -> Config {
        Config {
            database_url: database_url.to_string(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: "http://billhub.test".into(),
            master_key,
            sandbox: true,
            log_filter: "warn".into(),
            log_format: LogFormat::Text,
            migrate: false,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: std::time::Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            db_pool_size: DEFAULT_DB_POOL_SIZE,
            clock_scale: None,
            trusted_proxies: TrustedProxies::default(),
            docs: true,
        }
    }
}

/// The key in the key file `text` read from `path`.
fn key_from_file(path: &Path, text: &str) -> Result<(MasterKey, MasterKeySource), ConfigError> {
    MasterKey::from_hex(text.trim())
        .map(|k| (k, MasterKeySource::File(path.to_path_buf())))
        .map_err(|e| {
            err(
                "BILLHUB_MASTER_KEY",
                format!("{} is not a valid key file: {e}", path.display()),
            )
        })
}

/// The existing key file, or a throwaway key when there is none yet (nothing is written).
fn read_key_file(path: &Path) -> Result<(MasterKey, MasterKeySource), ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => key_from_file(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((
            MasterKey::generate(),
            MasterKeySource::WouldGenerate(path.to_path_buf()),
        )),
        Err(e) => Err(err(
            "BILLHUB_MASTER_KEY",
            format!("cannot read {}: {e}", path.display()),
        )),
    }
}

/// The embedded default keeps its generated master key beside the database.
fn load_or_create_key_file(path: &Path) -> Result<(MasterKey, MasterKeySource), ConfigError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return key_from_file(path, &text);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            err(
                "BILLHUB_MASTER_KEY",
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    let key = MasterKey::generate();
    write_private(path, &key.to_hex()).map_err(|e| {
        err(
            "BILLHUB_MASTER_KEY",
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    // Logging is usually not set up yet when the configuration is read: say it on stderr too.
    eprintln!(
        "warning: BILLHUB_MASTER_KEY is not set: generated a key into {} for the embedded default. \
         Set BILLHUB_MASTER_KEY in production and keep it safe.",
        path.display()
    );
    tracing::warn!(
        path = %path.display(),
        "BILLHUB_MASTER_KEY is not set: generated a key into this file for the embedded default. \
         Set BILLHUB_MASTER_KEY in production and keep it safe: secrets at rest cannot be read without it."
    );
    Ok((key, MasterKeySource::File(path.to_path_buf())))
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())
}

/// Proxies trusted to say who their client is (`BILLHUB_TRUSTED_PROXIES`): addresses or CIDR
/// ranges (`10.0.0.0/8`, `2001:db8::/32`), comma-separated. IPv4-mapped IPv6 addresses match
/// their IPv4 form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<(std::net::IpAddr, u8)>,
}

/// An IPv4-mapped IPv6 address as IPv4; others unchanged.
fn canonical(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        v4 => v4,
    }
}

/// One `BILLHUB_TRUSTED_PROXIES` entry: an address or `address/prefix`.
fn proxy_range(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let ip = canonical(addr.trim().parse::<std::net::IpAddr>().ok()?);
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some((ip, prefix))
}

/// One `X-Forwarded-For` entry: an address, with or without a port.
fn forwarded_ip(text: &str) -> Option<std::net::IpAddr> {
    let text = text.trim();
    text.parse::<std::net::IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

impl TrustedProxies {
    /// Reads `BILLHUB_TRUSTED_PROXIES` (unset or blank: none).
    pub fn parse(value: Option<String>) -> Result<TrustedProxies, ConfigError> {
        let mut ranges = Vec::new();
        for entry in value.unwrap_or_default().split(',').map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            let range = proxy_range(entry).ok_or_else(|| {
                err(
                    "BILLHUB_TRUSTED_PROXIES",
                    format!("`{entry}` is not an IP address or a CIDR range like 10.0.0.0/8"),
                )
            })?;
            ranges.push(range);
        }
        Ok(TrustedProxies { ranges })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        let ip = canonical(ip);
        self.ranges.iter().any(|&(net, prefix)| match (net, ip) {
            (std::net::IpAddr::V4(n), std::net::IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (std::net::IpAddr::V6(n), std::net::IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }

    /// The client's address: the TCP `peer`, unless the peer is a trusted proxy; then the
    /// right-most `X-Forwarded-For` address (the header's values in order) that is not a
    /// trusted proxy, or the left-most when all are. `None` when the peer is unknown, or when a
    /// trusted proxy forwarded an entry that is not an address (the client cannot be told).
    /// A trusted proxy that forwards nothing is itself the client.
    pub fn client_ip<'a>(
        &self,
        peer: Option<std::net::IpAddr>,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> Option<std::net::IpAddr> {
        let peer = canonical(peer?);
        if !self.trusts(peer) {
            return Some(peer);
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            client = forwarded_ip(entry)?;
            if !self.trusts(client) {
                return Some(client);
            }
        }
        Some(client)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::too_many_lines)]
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup("127.0.0.1:8081", |k| m.get(k).cloned())
    }

    const KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn reads_and_names_bad_variables() {
        let c = cfg(&[
            ("BILLHUB_DATABASE_URL", "postgres://x@h/db"),
            ("BILLHUB_MASTER_KEY", KEY),
        ])
        .unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8081");
        assert_eq!(c.public_url, "http://127.0.0.1:8081");
        assert!(c.migrate);
        assert_eq!(
            cfg(&[("BILLHUB_BIND", "nope"), ("BILLHUB_MASTER_KEY", KEY)])
                .unwrap_err()
                .variable,
            "BILLHUB_BIND"
        );
        assert_eq!(
            cfg(&[("BILLHUB_MASTER_KEY", "abc")]).unwrap_err().variable,
            "BILLHUB_MASTER_KEY"
        );
        assert_eq!(
            cfg(&[("BILLHUB_DATABASE_URL", "postgres://x@h/db")])
                .unwrap_err()
                .variable,
            "BILLHUB_MASTER_KEY"
        );
        assert_eq!(
            cfg(&[
                ("BILLHUB_DATABASE_URL", "mysql://x"),
                ("BILLHUB_MASTER_KEY", KEY)
            ])
            .unwrap_err()
            .variable,
            "BILLHUB_DATABASE_URL"
        );
        assert_eq!(
            cfg(&[("BILLHUB_SANDBOX", "maybe"), ("BILLHUB_MASTER_KEY", KEY)])
                .unwrap_err()
                .variable,
            "BILLHUB_SANDBOX"
        );
        assert_eq!(
            cfg(&[("BILLHUB_LOG_FORMAT", "xml"), ("BILLHUB_MASTER_KEY", KEY)])
                .unwrap_err()
                .variable,
            "BILLHUB_LOG_FORMAT"
        );
        assert_eq!(
            cfg(&[
                ("BILLHUB_PUBLIC_URL", "ftp://x"),
                ("BILLHUB_MASTER_KEY", KEY)
            ])
            .unwrap_err()
            .variable,
            "BILLHUB_PUBLIC_URL"
        );
        let c = cfg(&[
            ("BILLHUB_PUBLIC_URL", "https://pay.example.com/"),
            ("BILLHUB_MIGRATE", "false"),
            ("BILLHUB_SANDBOX", "true"),
            ("BILLHUB_MASTER_KEY", KEY),
        ])
        .unwrap();
        assert_eq!(c.public_url, "https://pay.example.com");
        assert!(!c.migrate && c.sandbox);

        // One base configuration, several gateways.
        let other: SocketAddr = "127.0.0.1:8084".parse().unwrap();
        let explicit = c.for_bind(other);
        assert_eq!(explicit.bind, other);
        assert_eq!(explicit.public_url, "https://pay.example.com");
        let derived = cfg(&[("BILLHUB_MASTER_KEY", KEY)]).unwrap().for_bind(other);
        assert_eq!(derived.bind, other);
        assert_eq!(derived.public_url, "http://127.0.0.1:8084");
    }

    #[test]
    fn clock_scale_is_test_only() {
        // Unset: the system clock, as in production.
        let c = cfg(&[("BILLHUB_MASTER_KEY", KEY)]).unwrap();
        assert_eq!(c.clock_scale, None);
        assert_eq!(c.clock().scale(), 1);
        // Outside the sandbox it is refused, naming the variable and the sandbox.
        let e = cfg(&[("BILLHUB_CLOCK_SCALE", "60"), ("BILLHUB_MASTER_KEY", KEY)]).unwrap_err();
        assert_eq!(e.variable, "BILLHUB_CLOCK_SCALE");
        assert!(e.message.contains("BILLHUB_SANDBOX=true"), "{e}");
        let e = cfg(&[
            ("BILLHUB_CLOCK_SCALE", "60"),
            ("BILLHUB_SANDBOX", "false"),
            ("BILLHUB_MASTER_KEY", KEY),
        ])
        .unwrap_err();
        assert_eq!(e.variable, "BILLHUB_CLOCK_SCALE");
        // In the sandbox: 1..=3600.
        let sandbox = |scale: &str, from: Option<&str>| {
            let mut pairs = vec![
                ("BILLHUB_CLOCK_SCALE", scale),
                ("BILLHUB_SANDBOX", "true"),
                ("BILLHUB_MASTER_KEY", KEY),
            ];
            if let Some(f) = from {
                pairs.push(("BILLHUB_CLOCK_SCALE_FROM", f));
            }
            cfg(&pairs)
        };
        let c = sandbox("60", None).unwrap();
        assert_eq!(c.clock_scale.map(|s| s.factor), Some(60));
        assert_eq!(c.clock().scale(), 60);
        assert_eq!(sandbox("3600", None).unwrap().clock().scale(), 3600);
        assert_eq!(sandbox("1", None).unwrap().clock_scale, None);
        for bad in ["0", "3601", "-5", "1.5", "fast"] {
            let e = sandbox(bad, None).unwrap_err();
            assert_eq!(e.variable, "BILLHUB_CLOCK_SCALE", "{bad}");
            assert!(e.message.contains("1 to 3600"), "{e}");
        }
        // The epoch: RFC 3339, not in the future, only with a scale.
        let c = sandbox("120", Some("2026-01-31T08:00:00Z")).unwrap();
        assert_eq!(
            c.clock_scale.map(|s| s.epoch),
            Some(time::macros::datetime!(2026-01-31 08:00 UTC))
        );
        for bad in ["yesterday", "2999-01-01T00:00:00Z"] {
            assert_eq!(
                sandbox("60", Some(bad)).unwrap_err().variable,
                "BILLHUB_CLOCK_SCALE_FROM"
            );
        }
        assert_eq!(
            cfg(&[
                ("BILLHUB_CLOCK_SCALE_FROM", "2026-01-31T08:00:00Z"),
                ("BILLHUB_SANDBOX", "true"),
                ("BILLHUB_MASTER_KEY", KEY),
            ])
            .unwrap_err()
            .variable,
            "BILLHUB_CLOCK_SCALE_FROM"
        );
    }

    /// `inspect_lookup` reads as `from_lookup` does and says where the key comes from; without
    /// a key on SQLite it never writes the key file.
    #[test]
    fn inspect_never_writes_the_key_file() {
        let (c, source) = Config::inspect_lookup("127.0.0.1:8083", |k| {
            (k == "BILLHUB_MASTER_KEY").then(|| KEY.to_string())
        })
        .unwrap();
        assert_eq!(source, MasterKeySource::Environment);
        assert_eq!(c.bind.to_string(), "127.0.0.1:8083");
        assert_eq!(c.master_key.to_hex(), KEY);
        let path = Path::new(DEFAULT_MASTER_KEY_FILE);
        if !path.exists() {
            let (_, source) = Config::inspect_lookup("127.0.0.1:8083", |_| None).unwrap();
            assert_eq!(source, MasterKeySource::WouldGenerate(path.to_path_buf()));
            assert!(!path.exists(), "inspect_lookup wrote {}", path.display());
        }
        let e = Config::inspect_lookup("127.0.0.1:8083", |k| {
            (k == "BILLHUB_DATABASE_URL").then(|| "postgres://x@h/db".to_string())
        })
        .unwrap_err();
        assert_eq!(e.variable, "BILLHUB_MASTER_KEY");
    }

    /// `BILLHUB_LOG_FORMAT`: unset, blank or `auto` follow the terminal (text on one, JSON
    /// otherwise); `json` and `text` win either way; anything else names the variable.
    #[test]
    fn log_format_follows_the_terminal_unless_set() {
        let f = |v: Option<&str>, tty: bool| log_format(v.map(String::from), tty);
        for unset in [None, Some(""), Some("  "), Some("auto"), Some("AUTO")] {
            assert_eq!(f(unset, true).unwrap(), LogFormat::Text, "{unset:?}");
            assert_eq!(f(unset, false).unwrap(), LogFormat::Json, "{unset:?}");
        }
        for tty in [true, false] {
            assert_eq!(f(Some("json"), tty).unwrap(), LogFormat::Json);
            assert_eq!(f(Some("JSON"), tty).unwrap(), LogFormat::Json);
            assert_eq!(f(Some("text"), tty).unwrap(), LogFormat::Text);
            let e = f(Some("xml"), tty).unwrap_err();
            assert_eq!(e.variable, "BILLHUB_LOG_FORMAT");
            assert_eq!(e.message, "`xml` must be auto, json or text");
        }
    }

    /// `BILLHUB_BODY_LIMIT` (bytes) and `BILLHUB_REQUEST_TIMEOUT` (seconds): defaults, bounds,
    /// and errors naming the variable.
    #[test]
    fn body_limit_and_request_timeout() {
        let c = cfg(&[("BILLHUB_MASTER_KEY", KEY)]).unwrap();
        assert_eq!(c.body_limit, 262_144);
        assert_eq!(c.request_timeout, std::time::Duration::from_secs(30));
        let c = cfg(&[
            ("BILLHUB_MASTER_KEY", KEY),
            ("BILLHUB_BODY_LIMIT", " 1048576 "),
            ("BILLHUB_REQUEST_TIMEOUT", "5"),
        ])
        .unwrap();
        assert_eq!(c.body_limit, 1_048_576);
        assert_eq!(c.request_timeout, std::time::Duration::from_secs(5));
        let c = cfg(&[
            ("BILLHUB_MASTER_KEY", KEY),
            ("BILLHUB_BODY_LIMIT", "1024"),
            ("BILLHUB_REQUEST_TIMEOUT", "600"),
        ])
        .unwrap();
        assert_eq!(c.body_limit, 1024);
        assert_eq!(c.request_timeout, std::time::Duration::from_secs(600));
        for bad in ["1023", "67108865", "-1", "256k", "1e6", "lots"] {
            let e = cfg(&[("BILLHUB_MASTER_KEY", KEY), ("BILLHUB_BODY_LIMIT", bad)]).unwrap_err();
            assert_eq!(e.variable, "BILLHUB_BODY_LIMIT", "{bad}");
            assert!(e.message.contains("from 1024 to 67108864"), "{e}");
        }
        for bad in ["0", "601", "2.5", "30s", "-3"] {
            let e = cfg(&[
                ("BILLHUB_MASTER_KEY", KEY),
                ("BILLHUB_REQUEST_TIMEOUT", bad),
            ])
            .unwrap_err();
            assert_eq!(e.variable, "BILLHUB_REQUEST_TIMEOUT", "{bad}");
            assert!(e.message.contains("from 1 to 600"), "{e}");
        }
    }

    /// `BILLHUB_DB_POOL_SIZE`: default 16, bounds 1 to 1000, errors naming the variable.
    #[test]
    fn db_pool_size() {
        let c = cfg(&[("BILLHUB_MASTER_KEY", KEY)]).unwrap();
        assert_eq!(c.db_pool_size, 16);
        for (text, n) in [(" 64 ", 64), ("1", 1), ("1000", 1000), ("", 16)] {
            let c = cfg(&[("BILLHUB_MASTER_KEY", KEY), ("BILLHUB_DB_POOL_SIZE", text)]).unwrap();
            assert_eq!(c.db_pool_size, n, "{text}");
        }
        for bad in ["0", "1001", "-1", "16.5", "many"] {
            let e = cfg(&[("BILLHUB_MASTER_KEY", KEY), ("BILLHUB_DB_POOL_SIZE", bad)]).unwrap_err();
            assert_eq!(e.variable, "BILLHUB_DB_POOL_SIZE", "{bad}");
            assert_eq!(
                e.message,
                format!(
                    "`{bad}` must be a whole number of connections from 1 to 1000 (default 16)"
                )
            );
        }
    }

    /// `BILLHUB_MASTER_KEYS`: old keys beside the current one, each validated without echoing
    /// it; the embedded default's key file stays the current key.
    #[test]
    fn old_master_keys_beside_the_current_one() {
        const OLD: &str = "00000000000000000000000000000000000000000000000000000000000000aa";
        const OLD2: &str = "00000000000000000000000000000000000000000000000000000000000000bb";
        let id = |hex: &str| MasterKey::from_hex(hex).unwrap().id().to_string();
        let c = cfg(&[("BILLHUB_MASTER_KEY", KEY)]).unwrap();
        assert!(c.master_key.old_ids().is_empty());
        let c = cfg(&[
            ("BILLHUB_MASTER_KEY", KEY),
            ("BILLHUB_MASTER_KEYS", &format!(" {OLD} ,{OLD2},,{KEY}")),
        ])
        .unwrap();
        assert_eq!(c.master_key.to_hex(), KEY);
        assert_eq!(c.master_key.id(), id(KEY));
        assert_eq!(c.master_key.old_ids(), [id(OLD), id(OLD2)]);
        for bad in ["abc", &format!("{OLD},{}", &OLD[1..]), &format!("{OLD}zz")] {
            let e = cfg(&[("BILLHUB_MASTER_KEY", KEY), ("BILLHUB_MASTER_KEYS", bad)]).unwrap_err();
            assert_eq!(e.variable, "BILLHUB_MASTER_KEYS", "{bad}");
            assert!(!e.message.contains(&OLD[1..]), "{e}");
        }
        let e = cfg(&[
            ("BILLHUB_MASTER_KEY", KEY),
            ("BILLHUB_MASTER_KEYS", &format!("{OLD},nope")),
        ])
        .unwrap_err();
        assert_eq!(
            e.message,
            "key 2 of 2 is not 64 hex characters (32 bytes); list old keys comma-separated"
        );
        // The embedded default: the key file is the current key, old keys beside it.
        let dir = std::env::temp_dir().join(format!("billhub-keys-{}", MasterKey::generate().id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        std::fs::write(&path, KEY).unwrap();
        let (file_key, source) = key_from_file(&path, KEY).unwrap();
        assert_eq!(source, MasterKeySource::File(path.clone()));
        let both = file_key.with_old(super::old_master_keys(Some(OLD.into())).unwrap());
        assert_eq!(
            (both.id(), both.old_ids()),
            (id(KEY).as_str(), vec![id(OLD).as_str()])
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `BILLHUB_TRUSTED_PROXIES`: none by default; addresses and CIDR ranges; a bad entry names
    /// the variable. `X-Forwarded-For` counts only from a trusted peer, read from the right.
    #[test]
    fn trusted_proxies() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let none = cfg(&[("BILLHUB_MASTER_KEY", KEY)]).unwrap().trusted_proxies;
        assert!(none.is_empty());
        assert_eq!(
            none.client_ip(Some(ip("10.0.0.5")), ["198.51.100.7"]),
            Some(ip("10.0.0.5"))
        );
        let t = cfg(&[
            ("BILLHUB_MASTER_KEY", KEY),
            (
                "BILLHUB_TRUSTED_PROXIES",
                " 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32",
            ),
        ])
        .unwrap()
        .trusted_proxies;
        assert!(t.trusts(ip("10.200.3.4")) && t.trusts(ip("::ffff:10.0.0.1")));
        assert!(t.trusts(ip("192.0.2.1")) && !t.trusts(ip("192.0.2.2")));
        assert!(t.trusts(ip("2001:db8::9")) && !t.trusts(ip("2001:db9::9")));
        // Untrusted peer: its own address, whatever it forwards.
        assert_eq!(
            t.client_ip(Some(ip("203.0.113.9")), ["198.51.100.7"]),
            Some(ip("203.0.113.9"))
        );
        // Trusted peer: the right-most untrusted entry (a client's own spoofed entries are
        // left of it), over several header values, with ports.
        assert_eq!(
            t.client_ip(
                Some(ip("10.0.0.5")),
                ["1.2.3.4, 198.51.100.7:443", "10.1.1.1"]
            ),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            t.client_ip(Some(ip("10.0.0.5")), std::iter::empty()),
            Some(ip("10.0.0.5"))
        );
        assert_eq!(
            t.client_ip(Some(ip("10.0.0.5")), ["10.0.0.7"]),
            Some(ip("10.0.0.7"))
        );
        assert_eq!(t.client_ip(Some(ip("10.0.0.5")), ["unknown"]), None);
        assert_eq!(t.client_ip(None, ["198.51.100.7"]), None);
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.1/x"] {
            let e = cfg(&[
                ("BILLHUB_MASTER_KEY", KEY),
                ("BILLHUB_TRUSTED_PROXIES", bad),
            ])
            .unwrap_err();
            assert_eq!(e.variable, "BILLHUB_TRUSTED_PROXIES", "{bad}");
        }
    }
}
