//! Spawns the console on a loopback port over a test database (feature `testing`).

use actix_web::dev::ServerHandle;
use billhub_store::testing::TestDb;

use crate::clock::Clock;
use crate::config::Config;
use crate::state::AppState;

/// A running console for black-box tests. Dropping it stops the server.
pub struct TestConsole {
    pub base_url: String,
    pub state: AppState,
    /// A client that follows no redirects and keeps no cookies (tests handle both).
    pub client: reqwest::Client,
    handle: ServerHandle,
}

impl TestConsole {
    /// Starts the console on 127.0.0.1:0 over `db`'s store with `clock`. Call inside an actix
    /// runtime (`#[actix_web::test]`).
    pub async fn spawn(db: &TestDb, clock: Clock) -> TestConsole {
        let config = Config::for_tests(&db.url, db.store.master_key().clone());
        Self::spawn_with(db, clock, config).await
    }

    /// Like [`TestConsole::spawn`] with a custom configuration (an https public URL, ...).
    pub async fn spawn_with(db: &TestDb, clock: Clock, config: Config) -> TestConsole {
        let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("cannot bind a test port: {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let state = AppState::new(db.store.clone(), clock, config);
        let server = match super::server(state.clone(), listener) {
            Ok(s) => s,
            Err(e) => panic!("cannot start the test console: {e}"),
        };
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let client = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => panic!("cannot build the test client: {e}"),
        };
        TestConsole {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            client,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

impl Drop for TestConsole {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}
