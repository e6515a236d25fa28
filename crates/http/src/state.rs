//! The state every handler receives.

use std::sync::Arc;
use std::time::{Duration, Instant};

use billhub_store::{Store, StoreError, StoreResult};
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::config::Config;

/// Shared by every handler of a gateway (`web::Data<AppState>`).
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(store: Store, clock: Clock, config: Config) -> AppState {
        AppState {
            store,
            clock,
            config: Arc::new(config),
        }
    }

    /// The same store and clock with the configuration for a server on `bind` (see
    /// [`Config::for_bind`]): one gateway of several in one process.
    pub fn for_bind(&self, bind: std::net::SocketAddr) -> AppState {
        AppState {
            store: self.store.clone(),
            clock: self.clock.clone(),
            config: Arc::new(self.config.for_bind(bind)),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// `{BILLHUB_PUBLIC_URL}{path}`; `path` starts with `/`.
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.config.public_url, path)
    }

    /// Runs store work on the blocking pool. The work runs to completion even when the request
    /// is dropped (client gone, request timeout): a payment is never cut between decision and
    /// commit, and the client's retry with the same reference gets the committed result.
    pub async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> StoreResult<T> + Send + 'static,
    {
        on_blocking_pool(self.store.clone(), f).await
    }

    /// When store work started now for a request must give up: the request timeout less a
    /// margin (a fifth, at most 5 s), so the flow answers in its dialect's unavailable shape
    /// before the timeout's 504 (30 s: 25 s).
    pub fn store_deadline(&self) -> Instant {
        let timeout = self.config.request_timeout;
        let margin = (timeout / 5).min(Duration::from_secs(5));
        Instant::now() + timeout.saturating_sub(margin)
    }

    /// Runs a gateway's flow (`flows::pay(store, ...)`) on the blocking pool, like
    /// [`AppState::run`], answering in the flow's own error type; a failed blocking task is
    /// reported as [`StoreError::Busy`] converted to it. The flow's store carries the request's
    /// deadline ([`AppState::store_deadline`], [`Store::until`]): no transaction attempt begins
    /// after it (one that began still commits), and a flow that gives up answers
    /// [`StoreError::is_unavailable`].
    pub async fn flow<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
    {
        on_blocking_pool(self.store.until(self.store_deadline()), f).await
    }

    /// Like [`AppState::flow`], for work that usually needs nothing that blocks (a gateway's
    /// authentication from the store's cache, an inquiry's read snapshot on SQLite): `f` first
    /// runs on this worker thread ([`Store::inline`]), which saves two thread hand-overs per
    /// call; the first store operation that could block (a cache miss on PostgreSQL, a write,
    /// no idle connection) abandons that run, and `f` runs again on the blocking pool, as
    /// [`AppState::flow`] runs it. `f` may therefore run twice: it must do nothing but store
    /// calls and pure work (no logging, no side effect outside the store).
    pub async fn inline_flow<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: Fn(&Store) -> Result<T, E> + Send + 'static,
    {
        let store = self.store.until(self.store_deadline());
        if let Some(done) = store.inline(&f) {
            return done;
        }
        on_blocking_pool(store, f).await
    }
}

/// Runs `f` over `store` as a blocking task, which runs to its end even when the awaiting future
/// is dropped; a task that failed (panicked) is reported as [`StoreError::Busy`].
async fn on_blocking_pool<T, E, F>(store: Store, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
{
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(r) => r,
        Err(e) => Err(E::from(StoreError::Busy(format!("store task failed: {e}")))),
    }
}
