//! Spawns a real gateway app on a loopback port over a test database (feature `testing`).

pub mod hostile;

use std::sync::Arc;

use actix_web::dev::ServerHandle;
use billhub_store::testing::TestDb;

use crate::clock::Clock;
use crate::config::Config;
use crate::gateway::Gateway;
use crate::state::AppState;
use crate::worker::{RoundReport, Worker};

/// A running gateway for black-box tests. Dropping it stops the server.
pub struct TestApp {
    pub base_url: String,
    pub state: AppState,
    pub gateway: Arc<dyn Gateway>,
    pub client: reqwest::Client,
    handle: ServerHandle,
}

impl TestApp {
    /// Starts `gateway` on 127.0.0.1:0 over `db`'s store with `clock`. Call inside an actix
    /// runtime (`#[actix_web::test]`).
    pub async fn spawn(gateway: Arc<dyn Gateway>, db: &TestDb, clock: Clock) -> TestApp {
        let config = Config::for_tests(&db.url, db.store.master_key().clone());
        Self::spawn_with(gateway, db, clock, config).await
    }

    /// Like [`TestApp::spawn`] with a custom configuration (body limit, sandbox, ...).
    pub async fn spawn_with(
        gateway: Arc<dyn Gateway>,
        db: &TestDb,
        clock: Clock,
        config: Config,
    ) -> TestApp {
        let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("cannot bind a test port: {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let state = AppState::new(db.store.clone(), clock, config);
        // Signals stay with the test harness (Ctrl-C ends the test run at once).
        let server = match crate::server::build(gateway.clone(), state.clone(), listener, false) {
            Ok(s) => s,
            Err(e) => panic!("cannot start the test server: {e}"),
        };
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            gateway,
            client: reqwest::Client::new(),
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// One round of the gateway's notification worker (none when it has no notifier).
    pub async fn run_worker_once(&self) -> RoundReport {
        match self.worker() {
            Some(w) => w.run_once().await,
            None => RoundReport::default(),
        }
    }

    /// The gateway's notification worker over this app's state (to tune its lease or batch,
    /// or to run two of them), when the gateway has a notifier.
    pub fn worker(&self) -> Option<Worker> {
        self.gateway
            .notifier()
            .map(|n| Worker::new(self.state.clone(), n))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

/// Runs an async test body once per backend, in modules named after the backend so the test
/// output names it: `http_backend_tests!(my_test);` makes `sqlite::my_test` and
/// `postgres::my_test`, each awaiting `my_test(TestDb)` with a fresh database inside an actix
/// runtime.
#[macro_export]
macro_rules! http_backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name(::billhub_store::testing::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name(::billhub_store::testing::TestDb::postgres()).await;
                }
            )*
        }
    };
}
