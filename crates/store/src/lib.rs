//! # billhub-store
//!
//! Storage for billhub: diesel over SQLite (the embedded default) and PostgreSQL, through one
//! `MultiConnection` ([`pool::AnyConnection`]) and one r2d2 pool, so every query is written once.
//! Migrations for each backend are embedded and run on start. This crate owns every SQL
//! statement; it returns `billhub-core` types.
//!
//! ## Transactions: one flow, one transaction
//! A gateway's flow makes one call: [`Store::snapshot`] runs its closure over a [`Reader`] in one
//! read snapshot (`REPEATABLE READ, READ ONLY` on PostgreSQL; a deferred transaction on SQLite,
//! whose WAL snapshot is taken at the first read), [`Store::transaction`] over a [`Writer`] in
//! one write transaction (`BEGIN IMMEDIATE` on SQLite, so writers queue on the busy timeout
//! instead of failing midway; `REPEATABLE READ` on PostgreSQL, so every statement of a decision
//! sees one snapshot). Row versions, unique constraints and serialization failures detect races;
//! a write transaction that lost one is run again from the start, bounded. The repository
//! operations are methods of [`Reader`] (reads) and [`Writer`] (writes; it derefs to `Reader`);
//! the same methods on [`Store`] are conveniences that run one operation in its own
//! transaction (the CLI, tests).
//!
//! ## Connections
//! A connection whose work panicked or that is still inside a transaction is never returned to
//! the pool; connections idle for more than 30 s are checked before use, fresher ones cost no
//! round trip; a transaction whose connection fails at its first statement (`BEGIN`: a restarted
//! PostgreSQL) runs once more on a checked connection. Once a connection attempt has failed,
//! checkouts wait at most [`pool::UNREACHABLE_WAIT`] (1.5 s, so a refusal is answered within 2 s) instead of the pool's timeout until
//! the database answers again, so requests fail fast while it is unreachable. See [`pool`].
//!
//! ## Durability and group commit (SQLite)
//! Every SQLite connection runs `synchronous = FULL`: an acknowledged write survives power
//! loss. Write transactions do not take pooled connections: they go through one group committer
//! per store ([`MAX_BATCH`], see the `group` module), which runs concurrent write transactions
//! one after another on one writer connection, each behind its own savepoint, and commits them
//! together with one `COMMIT` (one fsync). None is answered before that commit; if it fails,
//! every member whose work succeeded gets an error and nothing of the batch is visible. Reads
//! keep using pooled connections (WAL: readers never wait for the writer). A write transaction
//! started inside another on the same thread is refused ([`StoreError::Busy`]) instead of
//! waiting for itself. PostgreSQL keeps one pooled connection per transaction (it groups
//! commits itself).
//!
//! ## Deadlines
//! [`Store::until`] gives a clone of the store a deadline (a request's flow gets its request's):
//! no transaction attempt begins after it (one that began still commits), the wait for a
//! connection and SQLite's busy timeout shrink to what is left, and giving up is
//! [`StoreError::Busy`] (`is_unavailable`).
//!
//! ## Errors
//! See [`error`].

pub mod cache;
pub mod error;
mod group;
pub mod models;
pub mod pool;
mod prepared;
pub mod repo;
pub(crate) mod schema;
pub mod secrets;
#[cfg(feature = "testing")]
pub mod testing;
mod time_conv;
mod tx;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use cache::{CachedOrganization, TtlCache};
pub use error::{ConflictKind, DbError, Entity, InvalidKind, StoreError, StoreResult, TxError};
pub use group::MAX_BATCH;
pub(crate) use pool::AnyConnection;
pub use pool::{Backend, DatabaseUrl, PoolOptions};
pub use repo::*;
pub use secrets::{MasterKey, Sealing, SecretError};
pub use time_conv::{from_db, local, local_date, to_db, try_to_db};
pub use tx::{Reader, Writer};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// How many times a write transaction that lost a race is run again.
pub const MAX_WRITE_ATTEMPTS: usize = 64;

/// The store: a connection pool, the master key for secrets at rest, and the authentication
/// cache shared by every gateway of the process. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: pool::Pool,
    manager: pool::Manager,
    backend: Backend,
    master_key: MasterKey,
    url: DatabaseUrl,
    cache: Arc<cache::Caches>,
    /// Transactions begun (each attempt counts), for tests that hold a route to one.
    transactions: Arc<AtomicU64>,
    /// Write transactions committed (on SQLite one commit may carry a batch of them).
    commits: Arc<AtomicU64>,
    /// SQLite's group committer (see [`group`]): every write transaction goes through it.
    /// `None` on PostgreSQL.
    group: Option<Arc<group::Group>>,
    /// When work through this clone must give up (see [`Store::until`]).
    deadline: Option<Instant>,
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
            .build(manager.clone())
            .map_err(StoreError::Pool)?;
        let group = (url.backend() == Backend::Sqlite)
            .then(|| Arc::new(group::Group::new(manager.clone())));
        let store = Store {
            pool,
            manager,
            backend: url.backend(),
            master_key,
            url,
            cache: Arc::new(cache::Caches::default()),
            transactions: Arc::new(AtomicU64::new(0)),
            commits: Arc::new(AtomicU64::new(0)),
            group,
            deadline: None,
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
        let mut slot = self.conn()?;
        let applied = match &mut slot.conn {
            AnyConnection::Postgresql(c) => c
                .run_pending_migrations(PG_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
            AnyConnection::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
        };
        applied.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// The same store (pool, key, cache) whose transactions give up at `deadline`: a request's
    /// store work gets the request's deadline (`AppState::flow`). The deadline is checked before
    /// each attempt of a transaction (an attempt that has begun still commits or rolls back as a
    /// whole), bounds the wait for a pooled connection and for the SQLite writer's turn (group
    /// commit), and shrinks SQLite's busy timeout to what is left; giving up is [`StoreError::Busy`] (`is_unavailable`). The `now` a flow
    /// passes is unchanged: it stays the request's.
    pub fn until(&self, deadline: Instant) -> Store {
        Store {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// The deadline of this clone's transactions, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// What is left before the deadline: `None` without one, `Err` once it has passed.
    pub(crate) fn time_left(&self) -> StoreResult<Option<Duration>> {
        match self.deadline {
            None => Ok(None),
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Ok(Some(left)),
                _ => Err(StoreError::Busy(
                    "the request's deadline passed before the store could start its work".into(),
                )),
            },
        }
    }

    /// A pooled connection, waited for up to the pool's timeout (or the deadline, if sooner),
    /// but at most [`pool::UNREACHABLE_WAIT`] once a connection attempt has failed and nothing
    /// has worked since: while the database is unreachable, callers fail fast.
    pub(crate) fn conn(&self) -> StoreResult<pool::PooledConnection> {
        let mut until = Instant::now() + self.pool.connection_timeout();
        if let Some(d) = self.deadline {
            until = until.min(d);
        }
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Busy(
                    "no database connection before the deadline".into(),
                ));
            }
            match self.pool.get_timeout(left.min(pool::UNREACHABLE_WAIT)) {
                Ok(c) => return Ok(c),
                Err(e) if self.manager.unreachable() || Instant::now() >= until => {
                    return Err(StoreError::Pool(e));
                }
                Err(_) => {}
            }
        }
    }

    /// `SELECT 1` on a pooled connection (readiness).
    pub fn ping(&self) -> StoreResult<()> {
        use diesel::connection::SimpleConnection;
        let mut slot = self.conn()?;
        if let Err(e) = slot.conn.batch_execute("SELECT 1") {
            slot.broken = true;
            self.manager.connection_failed();
            return Err(e.into());
        }
        self.manager.reached();
        Ok(())
    }

    /// SQLite only: an online, consistent copy of the whole database into a new file `path`
    /// (`VACUUM INTO`: one read transaction, so gateways keep reading and writing meanwhile; the
    /// file must not exist). PostgreSQL is backed up with `pg_dump` (docs/operations.md).
    pub fn backup_sqlite_into(&self, path: &str) -> StoreResult<()> {
        use diesel::connection::SimpleConnection;
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Config(
                "backup into a file is for SQLite; back up PostgreSQL with pg_dump".into(),
            ));
        }
        let mut slot = self.conn()?;
        let quoted = path.replace('\'', "''");
        slot.conn
            .batch_execute(&format!("VACUUM INTO '{quoted}'"))
            .map_err(StoreError::from)
    }

    /// After a bulk import, PostgreSQL only: refreshes the planner's statistics of the tables an
    /// import fills (`ANALYZE`). Until autovacuum gets to them (a minute or more, never when it is
    /// off) the planner guesses: on 1,000,000 freshly imported bills it planned a VA number's
    /// look-up as a parallel bitmap scan, 5 ms instead of 0.1 ms. SQLite: nothing (its planner
    /// picks these indexes without statistics).
    pub fn analyze_imported(&self) -> StoreResult<()> {
        use diesel::connection::SimpleConnection;
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let mut slot = self.conn()?;
        slot.conn
            .batch_execute("ANALYZE accounts, bills, va_numbers, bill_events, bill_imports")
            .map_err(StoreError::from)
    }

    /// Pool usage for metrics: (connections open, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    pub fn pool_max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// How many transactions this store (and its clones) has begun, retries included. Tests
    /// hold each route to one transaction with it.
    #[cfg(feature = "testing")]
    pub fn transactions_started(&self) -> u64 {
        self.transactions.load(Ordering::SeqCst)
    }

    /// How many write transactions this store (and its clones) has committed. On SQLite one
    /// commit carries a whole batch of write transactions (group commit), so this is at most
    /// [`Store::transactions_started`] and, under concurrency, far fewer.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    fn count_transaction(&self) {
        self.transactions.fetch_add(1, Ordering::Relaxed);
    }
}

/// How long a store operation may wait for the pool in tests.
pub const TEST_POOL_TIMEOUT: Duration = Duration::from_secs(20);
