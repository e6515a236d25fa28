//! One flow, one transaction: [`Store::snapshot`] and [`Store::transaction`], the [`Reader`] and
//! [`Writer`] handles the repository methods hang on, and the engine under them (begin, commit
//! or roll back, run again after a lost race, heal after a dead connection).

use std::cell::Cell;
use std::ops::{Deref, DerefMut};

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use crate::error::{StoreError, StoreResult, TxError};
use crate::pool::{AnyConnection, SQLITE_BUSY_TIMEOUT_MS, Slot};
use crate::{Backend, MAX_WRITE_ATTEMPTS, MasterKey, Store};

/// Reads inside one snapshot. Every read repository operation is a method of `Reader`.
pub struct Reader<'t> {
    pub(crate) conn: &'t mut AnyConnection,
    pub(crate) key: &'t MasterKey,
}

/// Writes inside one write transaction. Every writing repository operation is a method of
/// `Writer`; it derefs to [`Reader`] for the reads a decision needs.
pub struct Writer<'t>(Reader<'t>);

impl<'t> Deref for Writer<'t> {
    type Target = Reader<'t>;
    fn deref(&self) -> &Reader<'t> {
        &self.0
    }
}

impl DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Reader<'_> {
    /// Runs `f` on this transaction's connection.
    pub(crate) fn with<T>(
        &mut self,
        f: impl FnOnce(&mut AnyConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        f(self.conn)
    }

    pub fn backend(&self) -> Backend {
        self.conn.backend()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Read,
    Write,
}

/// Where [`Store::inline`] stands on this thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inline {
    /// Not inside [`Store::inline`]: every store operation may block.
    Off,
    /// Inside [`Store::inline`], nothing has needed to block so far.
    On,
    /// Inside [`Store::inline`], and something needed to block: the closure's result is
    /// dropped and the caller runs it again where it may block.
    Deferred,
}

thread_local! {
    static INLINE: Cell<Inline> = const { Cell::new(Inline::Off) };
}

/// Restores the thread's [`Inline`] state when [`Store::inline`] ends, even by a panic.
struct InlineScope(Inline);

impl Drop for InlineScope {
    fn drop(&mut self) {
        INLINE.with(|i| i.set(self.0));
    }
}

/// Whether this thread runs inside [`Store::inline`].
fn inline_active() -> bool {
    INLINE.with(|i| i.get() != Inline::Off)
}

/// Marks this thread's [`Store::inline`] run as deferred; the error its operation fails with.
fn defer() -> StoreError {
    INLINE.with(|i| i.set(Inline::Deferred));
    StoreError::Busy("deferred: this work may block, it runs on the blocking pool".into())
}

impl Store {
    /// Runs `f` on the calling thread (an async runtime's worker) as long as `f` needs nothing
    /// that may block it: what the cache holds (a cache hit costs no transaction), and on SQLite
    /// read snapshots on an idle pooled connection (in WAL mode a reader waits for nobody, and a
    /// read of a hot page costs microseconds, less than handing the work to another thread).
    /// The first operation that could block (any write transaction, any transaction on
    /// PostgreSQL, a snapshot while no pooled connection is idle) fails at once, and `f`'s
    /// result is dropped: `None`, and the caller runs `f` again where it may block (the blocking
    /// pool). So `f` must do nothing before or besides its store calls that may not be done
    /// twice: store calls and pure work only (a gateway's inquiry or its authentication).
    pub fn inline<T>(&self, f: impl FnOnce(&Store) -> T) -> Option<T> {
        let _scope = InlineScope(INLINE.with(|i| i.replace(Inline::On)));
        let out = f(self);
        (INLINE.with(Cell::get) == Inline::On).then_some(out)
    }
}

impl Store {
    /// Runs `f` in one read snapshot: `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY` on
    /// PostgreSQL, a deferred transaction on SQLite (WAL: one snapshot from the first read).
    pub fn snapshot<T, E: TxError>(
        &self,
        mut f: impl FnMut(&mut Reader<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.attempt(Mode::Read, &mut |conn, key| f(&mut Reader { conn, key }))
    }

    /// Runs `f` in one write transaction, and again from the start (bounded) when it lost a
    /// race: a unique violation, a serialization failure, a lock timeout, or a bill whose version
    /// moved on ([`StoreError::RaceLost`]). `f` must therefore decide from what it reads inside.
    /// With a deadline ([`Store::until`]) no attempt begins after it: the last error is then
    /// [`StoreError::Busy`].
    ///
    /// On SQLite it runs in the store's group commit (see the crate documentation): `f` runs
    /// behind its own savepoint in a batch shared with concurrent writers, a lost race runs it
    /// again inside the batch, and the result is returned only once the batch has committed.
    pub fn transaction<T, E: TxError>(
        &self,
        mut f: impl FnMut(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        if inline_active() {
            return Err(defer().into());
        }
        if let Some(group) = &self.group {
            return group.write(self, true, &mut |conn, key| {
                f(&mut Writer(Reader { conn, key }))
            });
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.attempt(Mode::Write, &mut |conn, key| {
                f(&mut Writer(Reader { conn, key }))
            });
            match result {
                Err(e)
                    if attempt < MAX_WRITE_ATTEMPTS
                        && e.store_error().is_some_and(StoreError::is_retryable) =>
                {
                    if let Some(cause) = e.store_error() {
                        tracing::debug!(attempt, error = %cause, "write transaction lost a race; running it again");
                    }
                }
                other => return other,
            }
        }
    }

    /// Like [`Store::transaction`] but never run again: for callers that turn a unique
    /// violation into their own answer.
    pub fn transaction_once<T, E: TxError>(
        &self,
        mut f: impl FnMut(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        if inline_active() {
            return Err(defer().into());
        }
        if let Some(group) = &self.group {
            return group.write(self, false, &mut |conn, key| {
                f(&mut Writer(Reader { conn, key }))
            });
        }
        self.attempt(Mode::Write, &mut |conn, key| {
            f(&mut Writer(Reader { conn, key }))
        })
    }

    /// One transaction. When its first statement (`BEGIN`) finds the connection dead (a
    /// restarted PostgreSQL), the pool is told to check its other connections and the
    /// transaction runs once more on a checked one, so the restart costs no request. With a
    /// deadline, nothing begins after it, and SQLite waits for its write lock only until it.
    fn attempt<T, E: TxError>(
        &self,
        mode: Mode,
        f: &mut dyn FnMut(&mut AnyConnection, &MasterKey) -> Result<T, E>,
    ) -> Result<T, E> {
        let inline = inline_active();
        if inline && (mode == Mode::Write || self.backend == Backend::Postgres) {
            return Err(defer().into());
        }
        let mut retried = false;
        loop {
            self.time_left()?;
            let mut slot = if inline {
                // Never wait for a connection on an async worker.
                match self.pool.try_get() {
                    Some(slot) => slot,
                    None => return Err(defer().into()),
                }
            } else {
                self.conn()?
            };
            self.count_transaction();
            if let Err(e) = self
                .prepare(&mut slot)
                .and_then(|()| begin(&mut slot.conn, mode))
            {
                let e = StoreError::from(e);
                if e.is_retryable() && self.time_left().is_err() {
                    // SQLite's busy timeout, shrunk to the deadline, ran out.
                    return Err(StoreError::Busy(format!(
                        "the request's deadline passed while waiting for the database: {e}"
                    ))
                    .into());
                }
                if e.is_connection_failure() {
                    slot.broken = true;
                    self.manager.connection_failed();
                    if !retried {
                        retried = true;
                        tracing::warn!(error = %e, "database connection lost; retrying on a checked connection");
                        continue;
                    }
                }
                return Err(e.into());
            }
            self.manager.reached();
            // Cleared once the transaction has ended cleanly: if `f` panics, the connection is
            // still marked and the pool drops it instead of reusing it mid-transaction.
            slot.in_flight = true;
            let result = f(&mut slot.conn, &self.master_key);
            if let Err(e) = &result
                && e.store_error()
                    .is_some_and(StoreError::is_connection_failure)
            {
                slot.broken = true;
                self.manager.connection_failed();
            }
            let end = if result.is_ok() {
                commit(&mut slot.conn)
            } else {
                rollback(&mut slot.conn)
            };
            return match (result, end) {
                (Ok(v), Ok(())) => {
                    slot.in_flight = false;
                    if mode == Mode::Write {
                        self.commits
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(v)
                }
                (Ok(_), Err(e)) => {
                    slot.broken = true;
                    Err(StoreError::from(e).into())
                }
                (Err(e), Ok(())) => {
                    slot.in_flight = false;
                    Err(e)
                }
                (Err(e), Err(rollback)) => {
                    slot.broken = true;
                    tracing::error!(error = %rollback, "rollback failed; the connection is dropped");
                    Err(e)
                }
            };
        }
    }
}

impl Store {
    /// SQLite's busy timeout for this attempt: what is left before the deadline (at least 1 ms),
    /// never more than [`SQLITE_BUSY_TIMEOUT_MS`].
    fn prepare(&self, slot: &mut Slot) -> diesel::QueryResult<()> {
        slot.set_busy_timeout(self.busy_timeout_ms())
    }

    /// What SQLite's busy timeout should be now: what is left before the deadline (at least
    /// 1 ms), never more than [`SQLITE_BUSY_TIMEOUT_MS`].
    pub(crate) fn busy_timeout_ms(&self) -> u32 {
        match self.deadline {
            None => SQLITE_BUSY_TIMEOUT_MS,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                u32::try_from(left.as_millis())
                    .unwrap_or(u32::MAX)
                    .clamp(1, SQLITE_BUSY_TIMEOUT_MS)
            }
        }
    }
}

fn begin(conn: &mut AnyConnection, mode: Mode) -> diesel::QueryResult<()> {
    match (conn, mode) {
        (AnyConnection::Sqlite(c), Mode::Write) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        (AnyConnection::Sqlite(c), Mode::Read) => AnsiTransactionManager::begin_transaction(c),
        (AnyConnection::Postgresql(c), Mode::Write) => {
            AnsiTransactionManager::begin_transaction_sql(
                c,
                "BEGIN ISOLATION LEVEL REPEATABLE READ",
            )
        }
        (AnyConnection::Postgresql(c), Mode::Read) => {
            AnsiTransactionManager::begin_transaction_sql(
                c,
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            )
        }
    }
}

fn commit(conn: &mut AnyConnection) -> diesel::QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(c) => AnsiTransactionManager::commit_transaction(c),
        AnyConnection::Postgresql(c) => AnsiTransactionManager::commit_transaction(c),
    }
}

fn rollback(conn: &mut AnyConnection) -> diesel::QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
        AnyConnection::Postgresql(c) => AnsiTransactionManager::rollback_transaction(c),
    }
}

/// Declares [`Store`] conveniences that run one [`Reader`] operation in its own snapshot: for
/// the CLI and tests. A gateway's flow calls [`Store::snapshot`] once instead.
macro_rules! store_reads {
    ($( $(#[$m:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )*) => {
        impl $crate::Store {
            $(
                $(#[$m])*
                pub fn $name(&self $(, $arg: $ty)*) -> $crate::StoreResult<$ret> {
                    self.snapshot(|r| r.$name($($arg),*))
                }
            )*
        }
    };
}

/// Declares [`Store`] conveniences that run one [`Writer`] operation in its own transaction.
macro_rules! store_writes {
    ($( $(#[$m:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )*) => {
        impl $crate::Store {
            $(
                $(#[$m])*
                pub fn $name(&self $(, $arg: $ty)*) -> $crate::StoreResult<$ret> {
                    self.transaction(|w| w.$name($($arg),*))
                }
            )*
        }
    };
}

/// Like [`store_writes`], run once (no retry on a lost race).
macro_rules! store_writes_once {
    ($( $(#[$m:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )*) => {
        impl $crate::Store {
            $(
                $(#[$m])*
                pub fn $name(&self $(, $arg: $ty)*) -> $crate::StoreResult<$ret> {
                    self.transaction_once(|w| w.$name($($arg),*))
                }
            )*
        }
    };
}

pub(crate) use {store_reads, store_writes, store_writes_once};

#[cfg(all(test, feature = "testing"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::testing::TestDb;
    use crate::{Backend, StoreError};

    /// [`crate::Store::inline`]: a SQLite read snapshot runs on the calling thread; a snapshot
    /// on PostgreSQL and a write on either backend are deferred (`None`, whatever the closure
    /// made of the error), and the thread is out of inline mode afterwards.
    fn inline_runs_sqlite_reads_and_defers_the_rest(db: TestDb) {
        // A pooled connection exists and is idle (inline never opens one).
        assert_eq!(
            db.snapshot(|r| Ok::<_, StoreError>(r.backend())).unwrap(),
            db.backend()
        );
        let read = db.inline(|s| s.snapshot(|r| Ok::<_, StoreError>(r.backend())));
        match db.backend() {
            Backend::Sqlite => assert_eq!(read.unwrap().unwrap(), Backend::Sqlite),
            Backend::Postgres => assert!(read.is_none(), "a PostgreSQL snapshot is deferred"),
        }
        let write = db.inline(|s| s.transaction(|_| Ok::<_, StoreError>(1)));
        assert!(write.is_none(), "a write is deferred");
        let swallowed = db.inline(|s| {
            let _ = s.transaction_once(|_| Ok::<_, StoreError>(()));
            7
        });
        assert_eq!(swallowed, None, "a deferred run's result is dropped");
        // Out of inline mode again: a write runs.
        assert_eq!(db.transaction(|_| Ok::<_, StoreError>(2)).unwrap(), 2);
        assert_eq!(db.inline(|_| 3), Some(3), "no store call: runs inline");
    }

    crate::backend_tests!(inline_runs_sqlite_reads_and_defers_the_rest);
}
