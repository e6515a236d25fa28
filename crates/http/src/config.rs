//! Configuration from the environment, read and validated in one place. Every error names the
//! variable.

use std::net::SocketAddr;
use std::path::Path;

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

/// `BILLHUB_MASTER_KEY`; on SQLite a key file made on first start, with PostgreSQL required.
fn master_key(value: Option<String>, backend: Backend) -> Result<MasterKey, ConfigError> {
    match value.filter(|s| !s.is_empty()) {
        Some(hex) => {
            MasterKey::from_hex(&hex).map_err(|e| err("BILLHUB_MASTER_KEY", e.to_string()))
        }
        None => match backend {
            Backend::Sqlite => load_or_create_key_file(Path::new(DEFAULT_MASTER_KEY_FILE)),
            Backend::Postgres => Err(err(
                "BILLHUB_MASTER_KEY",
                "required with PostgreSQL: 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`",
            )),
        },
    }
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

/// `BILLHUB_LOG_FORMAT`: `json` (default) or `text`.
fn log_format(value: Option<String>) -> Result<LogFormat, ConfigError> {
    match value.unwrap_or_default().to_ascii_lowercase().as_str() {
        "" | "json" => Ok(LogFormat::Json),
        "text" => Ok(LogFormat::Text),
        other => Err(err(
            "BILLHUB_LOG_FORMAT",
            format!("`{other}` must be json or text"),
        )),
    }
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
        let master_key = master_key(get("BILLHUB_MASTER_KEY"), parsed.backend())?;
        let sandbox = parse_bool(
            "BILLHUB_SANDBOX",
            &get("BILLHUB_SANDBOX").unwrap_or_default(),
        )?;
        let migrate = match get("BILLHUB_MIGRATE") {
            Some(v) if !v.is_empty() => parse_bool("BILLHUB_MIGRATE", &v)?,
            _ => true,
        };
        let log_filter = log_filter(get("BILLHUB_LOG"))?;
        let log_format = log_format(get("BILLHUB_LOG_FORMAT"))?;
        Ok(Config {
            database_url,
            bind,
            public_url,
            master_key,
            sandbox,
            log_filter,
            log_format,
            migrate,
            body_limit: 256 * 1024,
            request_timeout: std::time::Duration::from_secs(30),
        })
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
            body_limit: 256 * 1024,
            request_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// The embedded default keeps its generated master key beside the database.
fn load_or_create_key_file(path: &Path) -> Result<MasterKey, ConfigError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return MasterKey::from_hex(text.trim()).map_err(|e| {
            err(
                "BILLHUB_MASTER_KEY",
                format!("{} is not a valid key file: {e}", path.display()),
            )
        });
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
    Ok(key)
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
}
