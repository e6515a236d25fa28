//! # billhub-store
//!
//! Storage for billhub: diesel over SQLite (the embedded default) and PostgreSQL, through one
//! `MultiConnection` ([`pool::AnyConnection`]) and one r2d2 pool, so every query is written once.
//! Migrations for each backend are embedded and run on start. This crate owns every SQL
//! statement; it returns `billhub-core` types.
//!
//! ## Errors
//! Every operation returns [`StoreError`]. Business refusals decided by core come back as
//! [`StoreError::Rejected`] carrying the core [`billhub_core::Rejection`], so gateways map one
//! enum; everything else (connection, query, corrupt row) is an internal error that gateways log
//! with its cause and answer with their generic "system error" code. Diesel errors stay inside
//! this crate: a unique violation that matters is turned into a typed variant here.
//!
//! ## Transactions
//! [`Store::write`] runs a closure in a write transaction: `BEGIN IMMEDIATE` on SQLite (the write
//! lock is taken up front, so concurrent writers queue on the busy timeout instead of failing
//! mid-transaction), `REPEATABLE READ` on PostgreSQL, so that every statement of a decision sees
//! one snapshot; row versions, unique constraints and serialization failures detect races, and the
//! whole transaction is run again a bounded number of times.

pub mod models;
pub mod pool;
pub mod repo;
pub mod schema;
pub mod secrets;
#[cfg(feature = "testing")]
pub mod testing;
mod time_conv;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use pool::{AnyConnection, Backend, DatabaseUrl, PoolOptions};
pub use repo::*;
pub use secrets::{MasterKey, SecretError};
pub use time_conv::{from_db, to_db};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Core refused the operation; nothing was changed.
    #[error("rejected: {0}")]
    Rejected(billhub_core::Rejection),
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness rule was broken (a code or number already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller's input is invalid in a way only the store can tell.
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("connection pool: {0}")]
    Pool(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Database(#[from] DieselError),
    #[error("secret: {0}")]
    Secret(#[from] SecretError),
    /// A stored row no longer makes sense (unknown currency, bad status...).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Too many lost races in a row; the caller may retry.
    #[error("busy: {0}")]
    Busy(String),
}

impl StoreError {
    /// The core refusal this error carries, if it is one.
    pub fn rejection(&self) -> Option<&billhub_core::Rejection> {
        match self {
            StoreError::Rejected(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the thing looked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound(_))
    }

    /// A uniqueness conflict (a code or number already taken), described for the caller.
    pub fn conflict(&self) -> Option<String> {
        match self {
            StoreError::Conflict(m) => Some(m.clone()),
            _ => None,
        }
    }

    /// Input only the store could tell was invalid, described for the caller.
    pub fn invalid(&self) -> Option<String> {
        match self {
            StoreError::Invalid(m) => Some(m.clone()),
            _ => None,
        }
    }

    /// The database cannot be reached or is saturated (pool timeout, connection refused, too
    /// many lost races): the caller may try again later.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Pool(_) | StoreError::Connect(_) | StoreError::Busy(_)
        )
    }

    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Database(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// Whether this is a transient error worth retrying the whole transaction for.
    fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(DieselError::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::SerializationFailure
                ) || info.message().contains("database is locked")
                    || info.message().contains("deadlock")
            }
            StoreError::Database(DieselError::NotFound) => false,
            StoreError::Busy(_) => true,
            _ => false,
        }
    }
}

impl From<billhub_core::Rejection> for StoreError {
    fn from(r: billhub_core::Rejection) -> Self {
        StoreError::Rejected(r)
    }
}

impl From<billhub_core::MoneyError> for StoreError {
    fn from(e: billhub_core::MoneyError) -> Self {
        StoreError::Invalid(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How many times a write transaction that lost a race is run again.
pub const MAX_WRITE_ATTEMPTS: usize = 64;

/// The store: a connection pool plus the master key for secrets at rest. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: pool::Pool,
    backend: Backend,
    master_key: MasterKey,
    url: DatabaseUrl,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("url", &self.url.redacted())
            .finish()
    }
}

impl Store {
    /// Opens the pool (checking one connection at once, so a wrong password or a missing
    /// database is reported immediately) and, when `migrate` is true, runs pending migrations.
    pub fn open(
        url: &str,
        master_key: MasterKey,
        options: PoolOptions,
        migrate: bool,
    ) -> StoreResult<Store> {
        let url = DatabaseUrl::parse(url)?;
        let manager = pool::Manager::new(url.clone());
        // Fail fast with the real cause.
        manager
            .open()
            .map_err(|e| StoreError::Connect(format!("{}: {e}", url.redacted())))?;
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(options.min_idle.min(options.max_size)))
            .connection_timeout(options.connection_timeout)
            .build(manager)
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let store = Store {
            pool,
            backend: url.backend(),
            master_key,
            url,
        };
        if migrate {
            store.migrate()?;
        }
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Runs every pending migration of this backend; returns the names applied.
    pub fn migrate(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            AnyConnection::Postgresql(c) => c
                .run_pending_migrations(PG_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
            AnyConnection::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
        };
        applied.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// A pooled connection.
    pub fn conn(&self) -> StoreResult<pool::PooledConnection> {
        self.pool.get().map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// `SELECT 1` on a pooled connection (readiness).
    pub fn ping(&self) -> StoreResult<()> {
        use diesel::connection::SimpleConnection;
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }

    /// Pool usage for metrics: (connections open, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    pub fn pool_max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// Runs `f` in a read transaction (a consistent snapshot on both backends).
    pub fn read<T>(&self, f: impl FnMut(&mut AnyConnection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn()?;
        transaction(&mut conn, false, f)
    }

    /// Runs `f` in a write transaction, again from the start (bounded) when it lost a race: a
    /// unique violation, a serialization failure, or [`StoreError::Busy`] from a version check.
    pub fn write<T>(
        &self,
        mut f: impl FnMut(&mut AnyConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.conn()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match transaction(&mut conn, true, &mut f) {
                Err(e) if e.is_retryable() && attempt < MAX_WRITE_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "write transaction lost a race; retrying");
                    continue;
                }
                other => return other,
            }
        }
    }

    /// Like [`Store::write`] but never retried: for callers that handle a conflict themselves.
    pub fn write_once<T>(
        &self,
        f: impl FnMut(&mut AnyConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.conn()?;
        transaction(&mut conn, true, f)
    }
}

/// One transaction on either backend. On SQLite a write transaction is `BEGIN IMMEDIATE`.
fn transaction<T>(
    conn: &mut AnyConnection,
    write: bool,
    mut f: impl FnMut(&mut AnyConnection) -> StoreResult<T>,
) -> StoreResult<T> {
    match conn {
        AnyConnection::Sqlite(c) if write => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction(c)?,
        AnyConnection::Postgresql(c) if write => AnsiTransactionManager::begin_transaction_sql(
            c,
            "BEGIN ISOLATION LEVEL REPEATABLE READ",
        )?,
        AnyConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    let result = f(conn);
    let end = match (&result, conn) {
        (Ok(_), AnyConnection::Sqlite(c)) => AnsiTransactionManager::commit_transaction(c),
        (Ok(_), AnyConnection::Postgresql(c)) => AnsiTransactionManager::commit_transaction(c),
        (Err(_), AnyConnection::Sqlite(c)) => AnsiTransactionManager::rollback_transaction(c),
        (Err(_), AnyConnection::Postgresql(c)) => AnsiTransactionManager::rollback_transaction(c),
    };
    match (result, end) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(rollback)) => {
            tracing::error!(error = %rollback, "rollback failed");
            Err(e)
        }
    }
}

/// How long a store operation may wait for the pool in tests.
pub const TEST_POOL_TIMEOUT: Duration = Duration::from_secs(20);
