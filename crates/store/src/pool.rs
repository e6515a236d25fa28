//! The connection: a diesel `MultiConnection` over PostgreSQL and SQLite behind one r2d2 pool.
//!
//! The backend is picked from the URL scheme by our own [`r2d2::ManageConnection`], so a wrong
//! password or a missing database is reported as such at once (diesel's `AnyConnection::establish`
//! hides the cause, and r2d2 would then wait its whole timeout).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

use crate::StoreError;

/// One connection to either backend. Every query in the store is written once against it.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl AnyConnection {
    pub fn backend(&self) -> Backend {
        match self {
            AnyConnection::Postgresql(_) => Backend::Postgres,
            AnyConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Runs a diesel query on the backend's own connection instead of through the
/// `MultiConnection`: its wrapper builds the statement's SQL text on every run (twice), even
/// when the prepared statement is cached, which cost a third of an inquiry in a profile; on the
/// concrete connection a statement with a static query id is found in the cache by type alone.
/// `on_backend!(conn, |c| query.load::<Row>(c))`.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::pool::AnyConnection::Postgresql($c) => $body,
            $crate::pool::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Where the database is, parsed from `BILLHUB_DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    /// A file path.
    Sqlite(String),
}

impl DatabaseUrl {
    /// `postgres://...` / `postgresql://...`, `sqlite://PATH`, `sqlite:PATH`, or a plain path.
    pub fn parse(url: &str) -> Result<DatabaseUrl, StoreError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StoreError::Config("the database URL is empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.contains("://") {
            return Err(StoreError::Config(format!(
                "unsupported database URL scheme in `{}` (use postgres://... or sqlite://PATH)",
                redact(url)
            )));
        }
        if path.is_empty() {
            return Err(StoreError::Config("the SQLite path is empty".into()));
        }
        Ok(DatabaseUrl::Sqlite(path.to_string()))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The URL without its password, for logs and errors.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Postgres(u) => redact(u),
            DatabaseUrl::Sqlite(p) => format!("sqlite://{p}"),
        }
    }
}

/// Hides the password of `scheme://user:password@host`.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

/// How long SQLite waits for the write lock before giving up (less when the store has a
/// deadline: see [`crate::Store::until`]).
pub const SQLITE_BUSY_TIMEOUT_MS: u32 = 15_000;

/// Once a connection attempt has failed (the database is down, refuses connections, or the
/// network is gone), a checkout waits at most this long for a connection instead of the pool's
/// whole timeout, until a connection succeeds again: requests fail fast in their dialect's
/// shape while the database is unreachable.
pub const UNREACHABLE_WAIT: Duration = Duration::from_millis(1500);

/// Connections idle for longer than this are checked with `SELECT 1` before use; fresher ones
/// are handed out without a round trip.
pub const IDLE_CHECK_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// A pooled connection with what the pool needs to know about it.
pub struct Slot {
    pub(crate) conn: AnyConnection,
    /// When it was last returned to the pool.
    returned_at: Instant,
    /// Set while a transaction runs on it and cleared when that transaction has ended cleanly,
    /// so a connection whose work panicked (or whose rollback failed) is never reused.
    pub(crate) in_flight: bool,
    /// The connection failed (closed by the server, network gone).
    pub(crate) broken: bool,
    /// The [`Manager::epoch`] it was last known good at.
    checked_epoch: u64,
    /// The SQLite busy timeout set on the connection, in milliseconds.
    busy_timeout_ms: u32,
}

impl Slot {
    /// Whether diesel still counts an open transaction (or a broken transaction manager) on it.
    fn inside_transaction(&mut self) -> bool {
        let status = match &mut self.conn {
            AnyConnection::Postgresql(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c)
            }
            AnyConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        };
        !matches!(status.transaction_depth(), Ok(None))
    }

    /// Sets SQLite's busy timeout (what a `BEGIN IMMEDIATE` waits for the write lock) when it
    /// differs from the one set; nothing on PostgreSQL.
    pub(crate) fn set_busy_timeout(&mut self, ms: u32) -> diesel::QueryResult<()> {
        if let AnyConnection::Sqlite(c) = &mut self.conn
            && self.busy_timeout_ms != ms
        {
            c.batch_execute(&format!("PRAGMA busy_timeout = {ms}"))?;
            self.busy_timeout_ms = ms;
        }
        Ok(())
    }
}

/// Opens connections for r2d2, choosing the backend from the URL.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    /// Bumped when a connection is found dead: every pooled connection older than the bump is
    /// checked before its next use, so the pool heals after a database restart at once.
    epoch: Arc<AtomicU64>,
    /// Set when a connection attempt failed, cleared when one succeeds or a connection is seen
    /// working: while set, checkouts wait at most [`UNREACHABLE_WAIT`].
    unreachable: Arc<AtomicBool>,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Manager {
        Manager {
            url,
            epoch: Arc::new(AtomicU64::new(0)),
            unreachable: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Marks every connection opened or checked before now as suspect.
    pub(crate) fn connection_failed(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether the last connection attempt failed and nothing has worked since.
    pub(crate) fn unreachable(&self) -> bool {
        self.unreachable.load(Ordering::SeqCst)
    }

    /// A connection was opened or answered: the database is reachable.
    pub(crate) fn reached(&self) {
        if self.unreachable.load(Ordering::Relaxed) {
            self.unreachable.store(false, Ordering::SeqCst);
            tracing::info!(database = %self.url.redacted(), "the database is reachable again");
        }
    }

    /// Opens one connection. SQLite connections run in WAL mode with `synchronous = FULL`
    /// (every commit is fsynced: an acknowledged payment survives power loss; throughput comes
    /// from group commit, not from weaker durability), foreign keys on, and the busy timeout.
    pub fn open(&self) -> Result<AnyConnection, ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(u) => {
                let mut c = PgConnection::establish(u)?;
                c.batch_execute("SET TIME ZONE 'UTC'")
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Postgresql(c))
            }
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = std::path::Path::new(path).parent()
                    && !dir.as_os_str().is_empty()
                    && !dir.exists()
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        ConnectionError::BadConnection(format!(
                            "cannot create {}: {e}",
                            dir.display()
                        ))
                    })?;
                }
                let mut c = SqliteConnection::establish(path)?;
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(c))
            }
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Slot;
    type Error = ConnectionError;

    fn connect(&self) -> Result<Slot, ConnectionError> {
        let conn = match self.open() {
            Ok(c) => c,
            Err(e) => {
                if !self.unreachable.swap(true, Ordering::SeqCst) {
                    tracing::warn!(database = %self.url.redacted(), error = %e, "cannot connect to the database; requests fail fast until it answers");
                }
                return Err(e);
            }
        };
        self.reached();
        Ok(Slot {
            conn,
            returned_at: Instant::now(),
            in_flight: false,
            broken: false,
            checked_epoch: self.epoch.load(Ordering::SeqCst),
            busy_timeout_ms: SQLITE_BUSY_TIMEOUT_MS,
        })
    }

    /// Called on every checkout: free for a connection used within [`IDLE_CHECK_AFTER`] since
    /// no connection failure was seen; otherwise one `SELECT 1`.
    fn is_valid(&self, slot: &mut Slot) -> Result<(), ConnectionError> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        if slot.checked_epoch == epoch && slot.returned_at.elapsed() <= IDLE_CHECK_AFTER {
            return Ok(());
        }
        slot.conn
            .batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        slot.checked_epoch = epoch;
        self.reached();
        Ok(())
    }

    /// Called on every checkin: a connection that failed, or is still inside a transaction (its
    /// work panicked, or a rollback failed), is dropped instead of being reused.
    fn has_broken(&self, slot: &mut Slot) -> bool {
        slot.returned_at = Instant::now();
        slot.broken || slot.in_flight || slot.inside_transaction()
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// Pool sizing.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    /// Idle connections r2d2 keeps topped up in the background (it would otherwise keep `max_size`
    /// open at all times). Default 0: connections are opened on demand and then kept while used.
    /// A top-up running when a short process (the CLI) exits raced libpq/OpenSSL's exit handlers
    /// and crashed the process now and then (SIGSEGV after its output was printed).
    pub min_idle: u32,
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 16,
            min_idle: 0,
            connection_timeout: Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u:p@h/db").unwrap(),
            DatabaseUrl::Postgres("postgres://u:p@h/db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://./var/x.db").unwrap(),
            DatabaseUrl::Sqlite("./var/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:x.db").unwrap(),
            DatabaseUrl::Sqlite("x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("/tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("").is_err());
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }
}
