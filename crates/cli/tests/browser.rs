//! End to end in a real browser (issue 13): headless Chromium, driven through WebDriver
//! (`chromedriver` and the `fantoccini` crate), against `billhub up --demo` on free ports with
//! its own SQLite file in a temporary working directory (where it also writes `var/demo.env`).
//!
//! - [`payer_pages_in_every_locale`]: a bill page at 390 x 844 in English, Khmer, Malay and
//!   Indonesian (the amount and a label of each), a receipt, the not-found page;
//! - [`console_flow`]: sign in, the dashboard's chart, search a bill and open it, the payments
//!   list and its CSV (byte for byte the CLI's `billhub export payments` for the same days),
//!   apply the demo's unapplied money to the bill it was meant for, retry the demo's failed
//!   notification, both in the action log, sign out;
//! - on every page: no error in the browser's console (chromedriver's log of the page,
//!   `goog:loggingPrefs`), so a blocked inline style or script (the pages' Content-Security-Policy)
//!   or a missing resource fails the test.
//!
//! Chromium and chromedriver must be installed (Debian `chromium` and `chromium-driver`; `.ci/run`
//! installs them, with `fonts-khmeros` for the Khmer page): without them the tests FAIL.
//!
//! With `BILLHUB_SCREENSHOTS=DIR` every page is also saved as a PNG into DIR (phone size for the
//! payer pages, 1280 x 800 for the console): `scripts/screenshots` takes the ones in
//! `docs/screenshots/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // a suite panics with the broken expectation

#[allow(dead_code)] // the suite uses a part of the harness
#[path = "harness/gateway.rs"]
mod gateway;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use billhub_core::BillStatus;
use billhub_store::{MasterKey, PoolOptions, Store};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The payer pages' size: a phone.
const PHONE: (u32, u32) = (390, 844);
/// The console's size: a laptop.
const DESKTOP: (u32, u32) = (1280, 800);

// ------------------------------------------------------------------------------------------
// The server: `billhub up --demo` in its own working directory.

/// A running `billhub up --demo --base-port P` in a temporary directory (its database, its
/// `var/demo.env`, its log, the browser's profile). Dropping it kills the child and removes the
/// directory (kept when the test panics, for its log).
struct Demo {
    child: Option<Child>,
    dir: PathBuf,
    base: u16,
    key_hex: String,
    env: HashMap<String, String>,
}

impl Demo {
    fn start(name: &str) -> Demo {
        let key_hex = MasterKey::generate().to_hex();
        let mut last = String::new();
        for attempt in 0..5 {
            let dir = std::env::temp_dir().join(format!(
                "billhub-browser-{name}-{}-{attempt}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let base = gateway::free_base_port();
            let mut demo = Demo {
                child: None,
                dir: dir.clone(),
                base,
                key_hex: key_hex.clone(),
                env: HashMap::new(),
            };
            let log = std::fs::File::create(demo.log_path()).unwrap();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_billhub"));
            for (k, _) in std::env::vars() {
                if k.starts_with("BILLHUB_") {
                    cmd.env_remove(k);
                }
            }
            cmd.args(["up", "--demo", "--base-port", &base.to_string()])
                .current_dir(&dir)
                .env("BILLHUB_DATABASE_URL", demo.db_url())
                .env("BILLHUB_MASTER_KEY", &key_hex)
                .env("BILLHUB_PUBLIC_URL", format!("http://127.0.0.1:{base}"))
                .env("BILLHUB_LOG", "warn")
                .env("BILLHUB_LOG_FORMAT", "text")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log));
            demo.child = Some(cmd.spawn().expect("start billhub up --demo"));
            match demo.wait_ready(Duration::from_secs(60)) {
                Ok(()) => {
                    demo.env = read_demo_env(&dir.join("var/demo.env"));
                    return demo;
                }
                // A port taken meanwhile: another try on other ports (dropping this one kills
                // the child and removes its directory).
                Err(e) => last = format!("{e}\n{}", demo.log_text()),
            }
        }
        panic!("billhub up --demo never became ready: {last}");
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("up.log")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn db_url(&self) -> String {
        format!("sqlite://{}", self.dir.join("billhub.sqlite3").display())
    }

    /// The bill24 gateway, which serves the payer pages.
    fn pages(&self) -> String {
        format!("http://127.0.0.1:{}", self.base)
    }

    /// The console (`billhub up` puts it after the five gateways).
    fn console(&self) -> String {
        format!("http://127.0.0.1:{}", self.base + 5)
    }

    fn var(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from var/demo.env: {:?}", self.env))
    }

    /// Waits until every gateway is ready and the console answers its sign-in page.
    fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(c) = self.child.as_mut()
                && !matches!(c.try_wait(), Ok(None))
            {
                return Err("billhub up exited".into());
            }
            let gateways =
                (0..5u16).all(|i| gateway::ready(&format!("http://127.0.0.1:{}", self.base + i)));
            if gateways && gateway::status_of(&self.console(), "/console/sign-in") == Some(200) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("not ready within {within:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The store under the running server (same file, same key).
    fn store(&self) -> Store {
        Store::open(
            &self.db_url(),
            MasterKey::from_hex(&self.key_hex).unwrap(),
            PoolOptions::default(),
            false,
        )
        .unwrap()
    }

    /// `billhub ARGS` on the demo's database; panics unless it exits 0; returns stdout.
    fn cli(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new(env!("CARGO_BIN_EXE_billhub"))
            .args(args)
            .current_dir(&self.dir)
            .env("BILLHUB_DATABASE_URL", self.db_url())
            .env("BILLHUB_MASTER_KEY", &self.key_hex)
            .env("BILLHUB_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "billhub {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "billhub up log ({}):\n{}",
                self.log_path().display(),
                self.log_text()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The `export NAME='value'` lines of `var/demo.env`.
fn read_demo_env(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

// ------------------------------------------------------------------------------------------
// The browser: chromedriver and one headless Chromium session.

/// A running `chromedriver` on a free port; killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start chromedriver ({e}): install Debian's chromium and \
                     chromium-driver (bash .ci/run does)"
                )
            });
        let mut d = Driver { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if !matches!(d.child.try_wait(), Ok(None)) {
                panic!("chromedriver exited at start");
            }
            if driver_ready(d.port) {
                return d;
            }
            assert!(Instant::now() < deadline, "chromedriver not ready in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Whether chromedriver answers `GET /status` with 200 (an HTTP/1.1 exchange: it does not
/// answer HTTP/1.0, which the harness's probe speaks).
fn driver_ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session with its console log kept, and where its pages go.
struct Browser {
    client: Client,
    driver: Driver,
    session: String,
    http: reqwest::Client,
    shots: Option<PathBuf>,
    /// The console errors seen so far, with their page.
    console_errors: std::sync::Mutex<Vec<String>>,
}

impl Browser {
    async fn start(profile: &Path) -> Browser {
        let driver = Driver::start();
        let mut chrome = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                "--no-first-run",
                "--lang=en-US",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": { "intl.accept_languages": "en-US,en" },
        });
        if Path::new("/usr/bin/chromium").exists() {
            chrome["binary"] = json!("/usr/bin/chromium");
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| panic!("no Chromium session through chromedriver: {e}"));
        let session = client.session_id().await.unwrap().unwrap();
        let shots = std::env::var_os("BILLHUB_SCREENSHOTS")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        if let Some(dir) = &shots {
            std::fs::create_dir_all(dir).unwrap();
        }
        Browser {
            client,
            driver,
            session,
            http: reqwest::Client::new(),
            shots,
            console_errors: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Makes the page's viewport exactly `width` x `height` CSS pixels.
    async fn viewport(&self, (width, height): (u32, u32)) {
        self.client.set_window_size(width, height).await.unwrap();
        let (w, h) = self.inner_size().await;
        if (w, h) != (width, height) {
            // The window's frame, if any, comes on top of the viewport.
            self.client
                .set_window_size(width + (width - w), height + (height - h))
                .await
                .unwrap();
        }
        assert_eq!(self.inner_size().await, (width, height), "viewport");
    }

    async fn inner_size(&self) -> (u32, u32) {
        let v = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .unwrap();
        let n = |i: usize| u32::try_from(v[i].as_u64().unwrap()).unwrap();
        (n(0), n(1))
    }

    async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    }

    /// The path (and query) of the page shown.
    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Clicks the element `css` and waits (20 s at most) until the page it was on is gone,
    /// replaced by the one the click (a link, a form's button) leads to.
    async fn click_to_next_page(&self, css: &str) {
        let old = self.find("html").await;
        self.find(css).await.click().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        // An element of a page that is gone is stale: every command on it fails.
        while old.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "clicking `{css}` led nowhere (still on {})",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!(
                "no `{css}` on {} ({e}); page:\n{}",
                self.path().await,
                self.client.source().await.unwrap_or_default()
            ),
        }
    }

    async fn attr(&self, css: &str, name: &str) -> String {
        self.find(css)
            .await
            .attr(name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("`{css}` has no {name}"))
    }

    /// The entries of the browser's console log since the last call (chromedriver's log
    /// endpoint; reading it empties it).
    async fn console_log(&self) -> Vec<Value> {
        let url = format!("{}/session/{}/se/log", self.driver.url(), self.session);
        let resp: Value = self
            .http
            .post(&url)
            .json(&json!({ "type": "browser" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        resp["value"]
            .as_array()
            .unwrap_or_else(|| panic!("browser log answer: {resp}"))
            .clone()
    }

    /// Notes any error (or warning) in the console since the last look; a page that answers
    /// 404 on purpose may log exactly that. [`Browser::finish`] fails the test if any was noted
    /// (the flow goes on, so one failure does not hide the next steps').
    async fn no_console_errors(&self, page: &str, expect_404: bool) {
        let entries = self.console_log().await;
        let bad: Vec<String> = entries
            .iter()
            .filter(|e| matches!(e["level"].as_str(), Some("SEVERE" | "WARNING")))
            .filter(|e| {
                !(expect_404
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("status of 404")))
            })
            .map(|e| format!("{page}: {} {}", e["level"], e["message"]))
            .collect();
        // Without an icon of its own a page makes the browser ask for /favicon.ico, whose 404
        // is a console error; it comes after the page's load, so the log above may miss it.
        let mut bad = bad;
        if self
            .client
            .find_all(Locator::Css("head link[rel~='icon']"))
            .await
            .unwrap()
            .is_empty()
        {
            bad.push(format!(
                "{page}: no <link rel=\"icon\"> (the browser asks for /favicon.ico, a 404 \
                 logged as an error)"
            ));
        }
        if bad.is_empty() {
            println!("browser: {page} ok");
        } else {
            println!("browser: {page}: console errors: {bad:?}");
            self.console_errors.lock().unwrap().extend(bad);
        }
    }

    /// [`Browser::no_console_errors`], then the screenshot `name`.png when asked for.
    async fn page_done(&self, name: &str, expect_404: bool) {
        self.no_console_errors(name, expect_404).await;
        if let Some(dir) = &self.shots {
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        }
    }

    /// The value of the console's session cookie.
    async fn session_cookie(&self) -> String {
        let cookies = self.client.get_all_cookies().await.unwrap();
        cookies
            .iter()
            .find(|c| c.name() == "billhub_console")
            .map(|c| c.value().to_string())
            .unwrap_or_else(|| panic!("no session cookie: {cookies:?}"))
    }

    /// Ends the session; fails the test if any page logged a console error.
    async fn finish(self) {
        self.client.close().await.unwrap();
        let errors = self.console_errors.lock().unwrap();
        assert!(
            errors.is_empty(),
            "errors in the browser's console:\n{}",
            errors.join("\n")
        );
    }
}

// ------------------------------------------------------------------------------------------
// The payer pages.

/// The demo organization's bill of account `account` (the newest one when it has several).
fn demo_bill(store: &Store, org: i64, account: &str) -> billhub_core::Bill {
    let acc = store
        .account_by_code(org, account)
        .unwrap()
        .unwrap_or_else(|| panic!("no demo account {account}"));
    let mut bills = store.bills_of_account(acc.id).unwrap();
    bills.sort_by_key(|b| (b.bill_date, b.id));
    bills.pop().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn payer_pages_in_every_locale() {
    let demo = Demo::start("pages");
    let store = demo.store();
    let org: i64 = demo.var("DEMO_ORG_ID").parse().unwrap();
    let idr = demo_bill(&store, org, "1234567890");
    let khr = demo_bill(&store, org, "CU003035");
    let eur = demo_bill(&store, org, "CARD123456");
    assert_eq!(eur.invoice_number, "INV-10004568");
    let order = demo_bill(&store, org, "SHOP-0042");
    assert_eq!(order.status, BillStatus::Paid);
    let paid = store.payments_of_bill(order.id).unwrap();
    assert_eq!(paid.len(), 1);

    let browser = Browser::start(&demo.dir.join("chrome")).await;
    browser.goto("about:blank").await;
    browser.viewport(PHONE).await;

    // (locale, bill, amount due, the label above it, the bill's own words)
    let cases = [
        ("en", &idr, "Rp 100.000", "Amount due", "Unpaid"),
        ("km", &khr, "5,000 ៛", "ចំនួនទឹកប្រាក់ត្រូវបង់", "មិនទាន់បង់"),
        (
            "ms",
            &eur,
            "€60.00",
            "Jumlah perlu dibayar",
            "Belum dibayar",
        ),
        (
            "id",
            &idr,
            "Rp 100.000",
            "Jumlah yang harus dibayar",
            "Belum dibayar",
        ),
    ];
    for (lang, bill, amount, label, status) in cases {
        let url = format!("{}/b/{}?lang={lang}", demo.pages(), bill.public_no);
        browser.goto(&url).await;
        assert_eq!(browser.attr("html", "lang").await, lang, "{url}");
        assert_eq!(browser.text("h1").await, bill.name, "{url}");
        assert_eq!(browser.text("#due").await, label, "{url}");
        assert_eq!(browser.text(".amount").await, amount, "{url}");
        assert_eq!(browser.text(".status").await, status, "{url}");
        assert_eq!(browser.inner_size().await, PHONE);
        browser.page_done(&format!("bill-{lang}"), false).await;
    }

    // The receipt of the demo shop order's payment.
    let url = format!("{}/r/{}?lang=en", demo.pages(), paid[0].uid);
    browser.goto(&url).await;
    assert_eq!(browser.text("h1").await, "Payment receipt");
    assert_eq!(browser.text("#amount").await, "Amount");
    assert_eq!(browser.text(".amount").await, "RM 134.00");
    browser.page_done("receipt-en", false).await;

    // An unknown bill: the friendly 404 page, in Khmer.
    let url = format!("{}/b/NOSUCHBILL?lang=km", demo.pages());
    browser.goto(&url).await;
    assert_eq!(browser.text("h1").await, "រកមិនឃើញវិក្កយបត្រ");
    browser.page_done("not-found-km", true).await;

    browser.finish().await;
}

// ------------------------------------------------------------------------------------------
// The console.

/// The row of `table_css` whose text contains `needle`, and its id.
async fn row_with(browser: &Browser, table_css: &str, needle: &str) -> String {
    let rows = browser
        .client
        .find_all(Locator::Css(&format!("{table_css} tr[id]")))
        .await
        .unwrap();
    for row in rows {
        if row.text().await.unwrap().contains(needle) {
            return row.attr("id").await.unwrap().unwrap();
        }
    }
    panic!(
        "no row of {table_css} with {needle:?}; page:\n{}",
        browser.client.source().await.unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn console_flow() {
    let demo = Demo::start("console");
    let store = demo.store();
    let org: i64 = demo.var("DEMO_ORG_ID").parse().unwrap();
    let org_code = demo.var("DEMO_ORG_CODE").to_string();
    let email = demo.var("CONSOLE_EMAIL").to_string();
    let password = demo.var("CONSOLE_PASSWORD").to_string();
    let console = demo.console();
    let order = demo_bill(&store, org, "SHOP-0042");
    let first_installment = store
        .account_by_code(org, "CARD123456")
        .unwrap()
        .map(|a| store.bills_of_account(a.id).unwrap())
        .unwrap()
        .into_iter()
        .find(|b| b.invoice_number == "INV-10004567")
        .unwrap();
    assert_eq!(first_installment.paid, 0);
    // The demo organization's day (UTC+7), as the console and the CLI count days.
    let offset = time::UtcOffset::from_hms(7, 0, 0).unwrap();
    let today = billhub_store::local_date(time::OffsetDateTime::now_utc(), offset).to_string();

    let browser = Browser::start(&demo.dir.join("chrome")).await;
    browser.goto("about:blank").await;
    browser.viewport(DESKTOP).await;

    // Signed out, the console sends you to its sign-in page.
    browser.goto(&format!("{console}/console/")).await;
    assert_eq!(browser.path().await, "/console/sign-in");
    browser.page_done("console-sign-in", false).await;
    let form = browser
        .client
        .form(Locator::Css("form[action='/console/sign-in']"))
        .await
        .unwrap();
    form.set_by_name("org", &org_code).await.unwrap();
    form.set_by_name("email", &email).await.unwrap();
    form.set_by_name("password", &password).await.unwrap();
    browser
        .click_to_next_page("form[action='/console/sign-in'] button[type='submit']")
        .await;

    // The dashboard and its 30-day chart.
    assert_eq!(browser.path().await, "/console/");
    assert_eq!(browser.attr("svg#chart-30-days", "role").await, "img");
    assert!(
        !browser
            .attr("svg#chart-30-days", "aria-label")
            .await
            .is_empty()
    );
    browser.page_done("console-dashboard", false).await;

    // Bills: search by invoice number, one result, open it.
    browser.goto(&format!("{console}/console/bills")).await;
    let q = browser.find("form#bill-search input#q").await;
    q.send_keys("ORD-1001").await.unwrap();
    browser
        .click_to_next_page("form#bill-search button[type='submit']")
        .await;
    assert!(
        browser.path().await.starts_with("/console/bills?"),
        "{}",
        browser.path().await
    );
    let links = browser
        .client
        .find_all(Locator::Css("table#bills a[href^='/console/bills/']"))
        .await
        .unwrap();
    assert_eq!(links.len(), 1, "one bill with ORD-1001");
    assert_eq!(links[0].text().await.unwrap(), order.public_no);
    browser.page_done("console-bills", false).await;
    browser
        .click_to_next_page(&format!(
            "table#bills a[href='/console/bills/{}']",
            order.public_no
        ))
        .await;
    assert_eq!(
        browser.path().await,
        format!("/console/bills/{}", order.public_no)
    );
    assert!(browser.text("h1").await.contains(&order.public_no));
    for section in ["#items", "#payments", "#reversals", "#history"] {
        browser.find(section).await;
    }
    assert!(
        browser.text("#payments").await.contains("RM 134.00"),
        "the order's payment"
    );
    browser.page_done("console-bill", false).await;

    // Payments of today, and their CSV: the CLI's export of the same days, byte for byte.
    browser
        .goto(&format!(
            "{console}/console/payments?from={today}&to={today}"
        ))
        .await;
    browser.find("table#payments").await;
    assert!(browser.text("table#payments").await.contains("T-20260000"));
    let href = browser.attr("a#payments-csv", "href").await;
    let csv_url = if href.starts_with('/') {
        format!("{console}{href}")
    } else {
        href.clone()
    };
    assert!(
        csv_url.starts_with(&format!("{console}/console/payments.csv?")),
        "{href}"
    );
    assert!(csv_url.contains(&format!("from={today}")), "{href}");
    assert!(csv_url.contains(&format!("to={today}")), "{href}");
    browser.page_done("console-payments", false).await;
    let cookie = browser.session_cookie().await;
    let resp = browser
        .http
        .get(&csv_url)
        .header("Cookie", format!("billhub_console={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "GET {csv_url}");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        header("content-disposition"),
        format!("attachment; filename=\"payments-{org_code}-{today}-{today}.csv\"")
    );
    let body = resp.bytes().await.unwrap();
    let cli = demo.cli(&[
        "export", "payments", "--org", &org_code, "--from", &today, "--to", &today, "--format",
        "csv",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&cli),
        "the console's CSV against `billhub export payments`"
    );
    let mut reader = csv::Reader::from_reader(body.as_ref());
    let columns: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        columns,
        billhub_store::export::PAYMENT_COLUMNS.map(String::from)
    );
    let rows: Vec<HashMap<String, String>> = reader
        .records()
        .map(|r| {
            columns
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect();
    let shop = rows
        .iter()
        .find(|r| r["channel_ref"] == "T-20260000")
        .unwrap_or_else(|| panic!("no row of the shop payment: {rows:?}"));
    assert_eq!(shop["channel_name"], "Demo Terminals");
    assert_eq!(shop["account"], "SHOP-0042");
    assert_eq!(shop["bills"], order.public_no);
    assert_eq!(shop["invoice_numbers"], "ORD-1001");
    assert_eq!(shop["currency"], "MYR");
    assert_eq!(shop["amount"], "134.00");
    assert_eq!(shop["status"], "applied");

    // Unapplied money: the EUR 65.00 a terminal took for `CARD12345`, applied to INV-10004567.
    browser.goto(&format!("{console}/console/unapplied")).await;
    let row = row_with(&browser, "table#unapplied", "CARD12345").await;
    let unapplied_id = row.strip_prefix("unapplied-").unwrap().to_string();
    browser.page_done("console-unapplied", false).await;
    let apply = browser
        .client
        .form(Locator::Css(&format!(
            "tr#{row} form[action='/console/unapplied/{unapplied_id}/apply']"
        )))
        .await
        .unwrap();
    apply.set_by_name("target", "INV-10004567").await.unwrap();
    browser
        .click_to_next_page(&format!("tr#{row} button.apply"))
        .await;
    assert_eq!(browser.path().await, "/console/unapplied?done=applied");
    browser.find("p[role='status']").await;
    assert!(
        browser
            .client
            .find_all(Locator::Css(&format!("tr#{row} button.apply")))
            .await
            .unwrap()
            .is_empty(),
        "the applied row has no apply button any more"
    );
    browser.no_console_errors("unapplied, applied", false).await;
    let installment = store
        .bill_by_public_no(org, &first_installment.public_no)
        .unwrap()
        .unwrap();
    assert_eq!(installment.paid, 6_500);
    assert_eq!(installment.status, BillStatus::Paid);

    // Notifications: the shop's failed webhook delivery, retried.
    browser
        .goto(&format!("{console}/console/notifications"))
        .await;
    let row = row_with(&browser, "table#notifications", "receiver answered 503").await;
    let delivery_id = row.strip_prefix("delivery-").unwrap().to_string();
    browser.page_done("console-notifications", false).await;
    browser
        .click_to_next_page(&format!(
            "tr#{row} form[action='/console/notifications/{delivery_id}/retry'] button.retry"
        ))
        .await;
    assert_eq!(browser.path().await, "/console/notifications?done=retried");
    browser.find("p[role='status']").await;
    browser
        .no_console_errors("notifications, retried", false)
        .await;
    let delivery = store
        .deliveries_for_organization(org)
        .unwrap()
        .into_iter()
        .find(|d| d.id.to_string() == delivery_id)
        .unwrap();
    assert_ne!(delivery.status, "failed", "{delivery:?}");

    // The action log, newest first: the retry, then the apply, both by the demo operator.
    browser.goto(&format!("{console}/console/actions")).await;
    let rows = browser
        .client
        .find_all(Locator::Css("table#actions tbody tr"))
        .await
        .unwrap();
    assert!(rows.len() >= 2, "two actions logged");
    let newest = rows[0].text().await.unwrap();
    let before = rows[1].text().await.unwrap();
    assert!(newest.contains(&email), "{newest}");
    assert!(
        newest.contains(&format!("delivery #{delivery_id}")),
        "{newest}"
    );
    assert!(before.contains(&email), "{before}");
    assert!(
        before.contains(&format!("unapplied payment #{unapplied_id}")),
        "{before}"
    );
    browser.page_done("console-actions", false).await;

    // Sign out: back to the sign-in page, and the session is gone.
    browser
        .click_to_next_page("form[action='/console/sign-out'] button")
        .await;
    assert_eq!(browser.path().await, "/console/sign-in");
    browser.goto(&format!("{console}/console/actions")).await;
    assert_eq!(browser.path().await, "/console/sign-in");
    browser.no_console_errors("signed out", false).await;

    browser.finish().await;
}
