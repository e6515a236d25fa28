//! Group commit for SQLite: concurrent write transactions of one [`Store`] share one SQLite
//! transaction and one `COMMIT` (one fsync at `synchronous=FULL`), each still decided on its own.
//!
//! One dedicated writer connection (not pooled) belongs to the store's [`Group`]. A thread that
//! wants to write waits for its *turn* (the writer connection), then:
//! 1. opens a batch with `BEGIN IMMEDIATE` when none is open (the busy timeout shrunk to the
//!    deadline, so several processes on one file still queue on SQLite's write lock);
//! 2. runs its closure behind its own savepoint: `RELEASE` when it succeeded, `ROLLBACK TO`
//!    when it failed or panicked, so a refusal writes nothing; a lost race runs again inside the
//!    batch (bounded, as [`Store::transaction`] does);
//! 3. hands the turn back. The batch is committed by whoever holds the turn when nobody else is
//!    waiting for it (or the batch has [`MAX_BATCH`] members); otherwise it stays open for the
//!    next writer, and this thread waits for the batch's outcome.
//!
//! Nobody is answered before its batch committed. When the commit fails (or a member left the
//! connection in a state the batch cannot survive), every member whose closure succeeded gets
//! an error: nothing of the batch is visible. A member whose closure failed gets its own error.
//!
//! No closure moves to another thread: each runs on its caller's thread, on the writer
//! connection taken out of the shared state. The state's mutex is only held to hand the
//! connection and the outcomes over, never during SQL, so a thread waits for its turn with a
//! timeout (its deadline) and a panicking closure never poisons the mutex. PostgreSQL does not
//! use this (it has its own group commit).

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;

use crate::error::{DbError, StoreError, StoreResult, TxError};
use crate::pool::{AnyConnection, Manager, SQLITE_BUSY_TIMEOUT_MS};
use crate::{MAX_WRITE_ATTEMPTS, MasterKey, Store};

/// At most this many write transactions share one commit.
pub const MAX_BATCH: usize = 64;

thread_local! {
    /// Set while this thread is inside a group write: a second write on the same thread would
    /// wait for a turn it holds itself.
    static IN_WRITE: Cell<bool> = const { Cell::new(false) };
}

/// Clears [`IN_WRITE`] when the write ends, even by a panic.
struct InWrite;

impl InWrite {
    fn enter() -> Option<InWrite> {
        if IN_WRITE.with(|w| w.replace(true)) {
            None
        } else {
            Some(InWrite)
        }
    }
}

impl Drop for InWrite {
    fn drop(&mut self) {
        IN_WRITE.with(|w| w.set(false));
    }
}

/// The writer connection and the busy timeout set on it.
struct WriterConn {
    conn: AnyConnection,
    busy_timeout_ms: u32,
}

impl WriterConn {
    /// The depth diesel counts on the connection (`None` outside a transaction, `Err` when its
    /// transaction manager is broken).
    fn depth(&mut self) -> Result<Option<u32>, ()> {
        let status = match &mut self.conn {
            AnyConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
            AnyConnection::Postgresql(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c)
            }
        };
        status
            .transaction_depth()
            .map(|d| d.map(std::num::NonZeroU32::get))
            .map_err(|_| ())
    }
}

/// The open batch.
struct Batch {
    id: u64,
    /// Threads that joined it.
    members: usize,
    /// Members whose closure has finished (testing: [`Store::wait_for_batch_members`]).
    settled: usize,
    /// Why the batch can no longer commit, once something broke it.
    doomed: Option<String>,
}

/// The outcome of a batch whose commit failed, until each of its members has read it.
struct Failure {
    message: String,
    unread: usize,
}

struct State {
    /// The writer connection while nobody holds the turn (`None` before it is first opened or
    /// after it was dropped as broken).
    conn: Option<WriterConn>,
    /// A thread holds the turn (it took the writer connection out).
    taken: bool,
    /// Threads waiting for the turn.
    waiting: usize,
    batch: Option<Batch>,
    next_batch: u64,
    /// Every batch with an id up to this one has committed or failed.
    resolved: u64,
    failures: HashMap<u64, Failure>,
    /// Testing: the next batch commits only once it has this many members.
    hold: Option<usize>,
    /// Testing: the next commit fails (rolled back instead).
    fail_next_commit: bool,
}

/// One store's group committer, shared by its clones.
pub(crate) struct Group {
    manager: Manager,
    state: Mutex<State>,
    /// Notified (one waiter) when the turn is handed back.
    turn: Condvar,
    /// Notified (every waiter) when a batch is resolved. Two condition variables, so that a
    /// hand-over wakes one thread, not every member waiting for its batch's outcome.
    done: Condvar,
}

/// What a member's closure did.
enum Ran<T, E> {
    Done(Result<T, E>),
    Panicked(Box<dyn std::any::Any + Send>),
}

type Guard<'a> = MutexGuard<'a, State>;

impl Group {
    pub(crate) fn new(manager: Manager) -> Group {
        Group {
            manager,
            state: Mutex::new(State {
                conn: None,
                taken: false,
                waiting: 0,
                batch: None,
                next_batch: 1,
                resolved: 0,
                failures: HashMap::new(),
                hold: None,
                fail_next_commit: false,
            }),
            turn: Condvar::new(),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> Guard<'_> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` as one member of a batch; see the module documentation. `retry`: a lost race
    /// runs `f` again inside the batch (bounded by [`MAX_WRITE_ATTEMPTS`]).
    pub(crate) fn write<T, E: TxError>(
        &self,
        store: &Store,
        retry: bool,
        f: &mut dyn FnMut(&mut AnyConnection, &MasterKey) -> Result<T, E>,
    ) -> Result<T, E> {
        let Some(_in_write) = InWrite::enter() else {
            return Err(StoreError::Busy(
                "a write transaction cannot begin inside another one on the same thread".into(),
            )
            .into());
        };
        store.time_left()?;
        let mut conn = self.take_turn(store.deadline)?;
        if let Err(e) = store.time_left() {
            // The turn came after the deadline: nothing begins, but an open batch whose
            // members wait for a committer must not be left behind.
            drop(self.hand_back(store, self.lock(), conn));
            return Err(e.into());
        }
        let joined = self.join(store, retry, &mut conn, f);
        let (batch, ran) = match joined {
            Ok(joined) => joined,
            Err(e) => {
                drop(self.hand_back(store, self.lock(), conn));
                return Err(e.into());
            }
        };
        let mut st = self.lock();
        if let Some(b) = st.batch.as_mut().filter(|b| b.id == batch) {
            b.settled += 1;
        }
        let st = self.hand_back(store, st, conn);
        let outcome = self.outcome(st, batch);
        match ran {
            Ran::Panicked(payload) => resume_unwind(payload),
            Ran::Done(Ok(v)) => match outcome {
                Ok(()) => Ok(v),
                Err(message) => Err(commit_failed(&message).into()),
            },
            Ran::Done(Err(e)) => Err(e),
        }
    }

    /// Waits for the writer connection (until the deadline, if any) and takes it out of the
    /// state; opens it when there is none yet.
    fn take_turn(&self, deadline: Option<Instant>) -> StoreResult<Option<WriterConn>> {
        let mut st = self.lock();
        st.waiting += 1;
        while st.taken {
            let now = Instant::now();
            st = match deadline {
                None => self.turn.wait(st).unwrap_or_else(PoisonError::into_inner),
                Some(d) if d > now => {
                    self.turn
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                Some(_) => {
                    // Whoever holds the turn sees one waiter fewer when it hands the turn back.
                    st.waiting -= 1;
                    return Err(StoreError::Busy(
                        "the request's deadline passed while waiting for the database writer"
                            .into(),
                    ));
                }
            };
        }
        st.waiting -= 1;
        st.taken = true;
        Ok(st.conn.take())
    }

    /// Runs `f` in the open batch (opening one first when there is none), again after a lost
    /// race when `retry`. Returns the batch joined and what `f` did; an error when no batch
    /// could be begun (then `f` did not run).
    fn join<T, E: TxError>(
        &self,
        store: &Store,
        retry: bool,
        slot: &mut Option<WriterConn>,
        f: &mut dyn FnMut(&mut AnyConnection, &MasterKey) -> Result<T, E>,
    ) -> StoreResult<(u64, Ran<T, E>)> {
        let mut attempt = 0;
        let mut batch = None;
        loop {
            attempt += 1;
            store.count_transaction();
            let id = match batch {
                Some(id) => id,
                None => match self.begin(store, slot) {
                    Ok(id) => id,
                    Err(e) if retry && attempt < MAX_WRITE_ATTEMPTS && e.is_retryable() => {
                        tracing::debug!(attempt, error = %e, "SQLite write lock busy; trying again");
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            batch = Some(id);
            let ran = match slot.as_mut() {
                Some(conn) => self.run_member(store, id, conn, f),
                None => Ran::Done(Err(StoreError::Busy(
                    "the writer connection is gone".into(),
                )
                .into())),
            };
            if let Ran::Done(Err(e)) = &ran
                && retry
                && attempt < MAX_WRITE_ATTEMPTS
                && e.store_error().is_some_and(StoreError::is_retryable)
                && !self.is_doomed(id)
            {
                if let Err(late) = store.time_left() {
                    return Ok((id, Ran::Done(Err(late.into()))));
                }
                if let Some(cause) = e.store_error() {
                    tracing::debug!(attempt, error = %cause, "write transaction lost a race; running it again");
                }
                continue;
            }
            return Ok((id, ran));
        }
    }

    /// Joins the open batch or begins one (`BEGIN IMMEDIATE`, waiting for SQLite's write lock
    /// at most until the deadline); opens the writer connection first if there is none.
    fn begin(&self, store: &Store, slot: &mut Option<WriterConn>) -> StoreResult<u64> {
        if let Some(b) = self.lock().batch.as_mut() {
            b.members += 1;
            return Ok(b.id);
        }
        let reused = slot.is_some();
        let conn = match slot {
            Some(c) => c,
            None => {
                let conn = self
                    .manager
                    .open()
                    .map_err(|e| StoreError::Connect(format!("the SQLite writer: {e}")))?;
                slot.insert(WriterConn {
                    conn,
                    busy_timeout_ms: SQLITE_BUSY_TIMEOUT_MS,
                })
            }
        };
        if let Err(e) = conn.begin_immediate(store.busy_timeout_ms()) {
            if e.is_retryable() && store.time_left().is_err() {
                // SQLite's busy timeout, shrunk to the deadline, ran out.
                return Err(StoreError::Busy(format!(
                    "the request's deadline passed while waiting for the database: {e}"
                )));
            }
            if !e.is_retryable() {
                // Whatever broke it, a fresh connection replaces it, and a connection that had
                // served before gets one more try on the fresh one (as a pooled one would).
                *slot = None;
                if reused {
                    tracing::warn!(error = %e, "the SQLite writer connection failed; reopening it");
                    return self.begin(store, slot);
                }
            }
            return Err(e);
        }
        let mut st = self.lock();
        let id = st.next_batch;
        st.next_batch += 1;
        st.batch = Some(Batch {
            id,
            members: 1,
            settled: 0,
            doomed: None,
        });
        Ok(id)
    }

    /// Runs `f` once behind its own savepoint: released when `f` succeeded, rolled back when it
    /// failed or panicked. Anything that leaves the connection unfit for the batch dooms it.
    fn run_member<T, E: TxError>(
        &self,
        store: &Store,
        batch: u64,
        conn: &mut WriterConn,
        f: &mut dyn FnMut(&mut AnyConnection, &MasterKey) -> Result<T, E>,
    ) -> Ran<T, E> {
        if let Err(e) = conn.savepoint() {
            self.doom(batch, format!("a savepoint could not be set: {e}"));
            return Ran::Done(Err(e.into()));
        }
        let ran = match catch_unwind(AssertUnwindSafe(|| f(&mut conn.conn, &store.master_key))) {
            Ok(result) => Ran::Done(result),
            Err(payload) => Ran::Panicked(payload),
        };
        if conn.depth() != Ok(Some(2)) {
            self.doom(
                batch,
                "a write transaction left the writer connection outside its savepoint".into(),
            );
            return ran;
        }
        let end = if matches!(ran, Ran::Done(Ok(_))) {
            conn.release()
        } else {
            conn.roll_back_savepoint()
        };
        if let Err(e) = end {
            self.doom(batch, format!("a savepoint could not be ended: {e}"));
        }
        ran
    }

    fn doom(&self, batch: u64, why: String) {
        tracing::error!(batch, reason = %why, "SQLite write batch fails as a whole");
        if let Some(b) = self.lock().batch.as_mut().filter(|b| b.id == batch)
            && b.doomed.is_none()
        {
            b.doomed = Some(why);
        }
    }

    fn is_doomed(&self, batch: u64) -> bool {
        self.lock()
            .batch
            .as_ref()
            .is_some_and(|b| b.id == batch && b.doomed.is_some())
    }

    /// Gives the turn back. Before that, the open batch is ended when nobody is waiting to join
    /// it (the last writer commits), when it is full, or when it is doomed: `COMMIT` (or a
    /// rollback), outside the mutex, then its outcome is published to its members.
    fn hand_back<'a>(
        &'a self,
        store: &Store,
        mut st: Guard<'a>,
        mut conn: Option<WriterConn>,
    ) -> Guard<'a> {
        let end_now = st.batch.as_ref().is_some_and(|b| {
            let held = st.hold.is_some_and(|n| b.members < n);
            b.doomed.is_some() || b.members >= MAX_BATCH || (st.waiting == 0 && !held)
        });
        let mut resolved = false;
        if end_now && let Some(batch) = st.batch.take() {
            resolved = true;
            let fail = std::mem::take(&mut st.fail_next_commit);
            // The turn is still this thread's (`taken`): nobody else touches the connection.
            drop(st);
            let outcome = finish(&mut conn, &batch, fail);
            if outcome.is_ok() {
                store.commits.fetch_add(1, Ordering::Relaxed);
            }
            st = self.lock();
            st.resolved = batch.id;
            st.hold = None;
            if let Err(message) = outcome {
                st.failures.insert(
                    batch.id,
                    Failure {
                        message,
                        unread: batch.members,
                    },
                );
            }
        }
        st.conn = conn;
        st.taken = false;
        self.turn.notify_one();
        if resolved || st.hold.is_some() {
            // `hold`: a test may wait for members to settle (`wait_for_batch_members`).
            self.done.notify_all();
        }
        st
    }

    /// Waits until `batch` has committed or failed: `Err` with the cause when it failed.
    fn outcome(&self, mut st: Guard<'_>, batch: u64) -> Result<(), String> {
        while st.resolved < batch {
            st = self.done.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        let Some(failure) = st.failures.get_mut(&batch) else {
            return Ok(());
        };
        let message = failure.message.clone();
        failure.unread = failure.unread.saturating_sub(1);
        if failure.unread == 0 {
            st.failures.remove(&batch);
        }
        Err(message)
    }
}

/// Commits `batch` (or rolls it back when it is doomed or a failure was injected). After any
/// failure the writer connection is dropped: closing it rolls back whatever is left, and the
/// next write opens a fresh one.
fn finish(conn: &mut Option<WriterConn>, batch: &Batch, fail: bool) -> Result<(), String> {
    let result = match (conn.as_mut(), &batch.doomed) {
        (None, _) => Err("the writer connection is gone".to_string()),
        (Some(_), Some(why)) => Err(why.clone()),
        (Some(_), None) if fail => Err("injected commit failure (testing)".to_string()),
        (Some(w), None) => w.commit().map_err(|e| e.to_string()),
    };
    if let Err(e) = &result {
        tracing::error!(batch = batch.id, members = batch.members, error = %e, "SQLite group commit failed; every member of the batch fails");
        *conn = None;
    }
    result
}

/// The error a member whose work succeeded gets when its batch did not commit: not retried by
/// the store (the caller retries with the same reference, which is idempotent).
fn commit_failed(message: &str) -> StoreError {
    StoreError::Database(DbError(DieselError::DatabaseError(
        DatabaseErrorKind::Unknown,
        Box::new(format!(
            "the write transaction was not applied: its group commit failed ({message})"
        )),
    )))
}

impl WriterConn {
    fn sqlite(&mut self) -> diesel::QueryResult<&mut SqliteConnection> {
        match &mut self.conn {
            AnyConnection::Sqlite(c) => Ok(c),
            AnyConnection::Postgresql(_) => Err(DieselError::QueryBuilderError(
                "group commit runs on SQLite only".into(),
            )),
        }
    }

    /// `BEGIN IMMEDIATE`, after setting the busy timeout (what it waits for the write lock).
    fn begin_immediate(&mut self, busy_timeout_ms: u32) -> StoreResult<()> {
        let set = self.busy_timeout_ms;
        let c = self.sqlite()?;
        if set != busy_timeout_ms {
            c.batch_execute(&format!("PRAGMA busy_timeout = {busy_timeout_ms}"))?;
        }
        self.busy_timeout_ms = busy_timeout_ms;
        let c = self.sqlite()?;
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// `SAVEPOINT diesel_savepoint_1` (diesel counts it, so nested transactions inside stay
    /// consistent).
    fn savepoint(&mut self) -> StoreResult<()> {
        Ok(AnsiTransactionManager::begin_transaction(self.sqlite()?)?)
    }

    /// `RELEASE` of the member's savepoint.
    fn release(&mut self) -> diesel::QueryResult<()> {
        AnsiTransactionManager::commit_transaction(self.sqlite()?)
    }

    /// `ROLLBACK TO` the member's savepoint, then `RELEASE` it (SQLite keeps a rolled-back
    /// savepoint open).
    fn roll_back_savepoint(&mut self) -> diesel::QueryResult<()> {
        let c = self.sqlite()?;
        AnsiTransactionManager::rollback_transaction(c)?;
        c.batch_execute("RELEASE SAVEPOINT diesel_savepoint_1")
    }

    /// `COMMIT` of the batch.
    fn commit(&mut self) -> diesel::QueryResult<()> {
        AnsiTransactionManager::commit_transaction(self.sqlite()?)
    }
}

#[cfg(feature = "testing")]
mod testing_hooks {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;

    use crate::{StoreError, StoreResult};

    #[derive(QueryableByName)]
    struct Synchronous {
        #[diesel(sql_type = BigInt)]
        synchronous: i64,
    }

    fn synchronous(conn: &mut crate::AnyConnection) -> StoreResult<i64> {
        let rows: Vec<Synchronous> = diesel::sql_query("PRAGMA synchronous").load(conn)?;
        rows.first()
            .map(|r| r.synchronous)
            .ok_or_else(|| StoreError::Corrupt("PRAGMA synchronous returned no row".into()))
    }

    /// Hooks that make group-commit tests deterministic (SQLite; no effect on PostgreSQL).
    impl crate::Store {
        /// The next batch commits only once `members` write transactions have joined it.
        pub fn hold_next_batch(&self, members: usize) {
            if let Some(g) = &self.group {
                g.lock().hold = Some(members);
            }
        }

        /// The next batch's commit fails (it is rolled back instead).
        pub fn fail_next_commit(&self) {
            if let Some(g) = &self.group {
                g.lock().fail_next_commit = true;
            }
        }

        /// Blocks until the open batch has `members` members whose work has finished (they
        /// wait for its commit). Use it after [`Store::hold_next_batch`] (it is woken only
        /// while a batch is held).
        pub fn wait_for_batch_members(&self, members: usize) {
            let Some(g) = &self.group else {
                return;
            };
            let mut st = g.lock();
            while st.batch.as_ref().is_none_or(|b| b.settled < members) {
                st = g
                    .done
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }

        /// `PRAGMA synchronous` on the writer connection (SQLite), then on as many pooled
        /// connections as the pool may hold, all checked out at once.
        pub fn sqlite_synchronous(&self) -> StoreResult<Vec<i64>> {
            let mut values = vec![self.transaction_once(|w| w.with(synchronous))?];
            let mut slots = Vec::new();
            for _ in 0..self.pool_max_size() {
                slots.push(self.conn()?);
            }
            for slot in &mut slots {
                values.push(synchronous(&mut slot.conn)?);
            }
            Ok(values)
        }
    }
}
