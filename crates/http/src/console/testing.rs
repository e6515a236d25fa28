//! Spawns the console on a loopback port over a test database (feature `testing`).

use actix_web::dev::ServerHandle;
use billhub_store::testing::TestDb;

use super::auth::COOKIE;
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

    /// Signs `email` of organization `org` in with `password`; the session cookie's value.
    /// Panics unless the sign-in succeeds (303 with the cookie).
    pub async fn sign_in(&self, org: &str, email: &str, password: &str) -> String {
        let resp = match self
            .client
            .post(self.url("/console/sign-in"))
            .form(&[("org", org), ("email", email), ("password", password)])
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => panic!("sign-in request failed: {e}"),
        };
        assert_eq!(
            resp.status(),
            reqwest::StatusCode::SEE_OTHER,
            "sign-in refused"
        );
        let set = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        match set
            .strip_prefix(&format!("{COOKIE}="))
            .and_then(|rest| rest.split(';').next())
        {
            Some(value) => value.to_string(),
            None => panic!("no session cookie in `{set}`"),
        }
    }

    /// GETs `path` with the session `cookie`: the status and the body.
    pub async fn get_page(&self, cookie: &str, path: &str) -> (reqwest::StatusCode, String) {
        let resp = match self
            .client
            .get(self.url(path))
            .header("Cookie", format!("{COOKIE}={cookie}"))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => panic!("GET {path} failed: {e}"),
        };
        let status = resp.status();
        match resp.text().await {
            Ok(body) => (status, body),
            Err(e) => panic!("GET {path}: unreadable body: {e}"),
        }
    }
}

/// The CSRF token of a signed-in page (its sign-out form carries one).
pub fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let token = page
        .find(marker)
        .and_then(|i| page.get(i + marker.len()..i + marker.len() + 64));
    match token {
        Some(t) => t.to_string(),
        None => panic!("no CSRF token in the page"),
    }
}

impl Drop for TestConsole {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}
