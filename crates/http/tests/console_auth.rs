//! The operator console's foundation over real HTTP, on SQLite and PostgreSQL: users and their
//! argon2id hashes, sign-in (cookie attributes, one answer for every failure, the rate limit),
//! idle expiry on the fixed test clock, CSRF and origin checks, sign-out, the headers of every
//! answer, and a dashboard with exact totals that shows nothing of another organization.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use billhub_core::{Currency, Money, PaymentRule};
use billhub_http::Clock;
use billhub_http::console::auth::{COOKIE, SIGN_IN_FAILED, SIGN_IN_LIMITED};
use billhub_http::console::testing::TestConsole;
use billhub_store::testing::TestDb;
use billhub_store::users::{self, Role};
use billhub_store::{
    AccountInput, ConflictKind, NewBill, NewOrganization, OnRejection, PaymentRequest,
    PaymentTarget, Store, StoreError,
};
use reqwest::StatusCode;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-21 08:00:00 UTC);
const PASSWORD: &str = "correct horse battery staple";

fn new_org(code: &str) -> NewOrganization {
    NewOrganization {
        code: Some(code.to_string()),
        name: format!("Org {code}"),
        utc_offset: time::UtcOffset::UTC,
        locale: "en".into(),
        settlement: None,
        va_prefixes: vec![],
    }
}

/// An organization with one operator `ops@example.com` (password [`PASSWORD`]).
fn org_with_user(store: &Store, code: &str) -> (i64, i64) {
    let org = store.create_organization(&new_org(code), T0).unwrap();
    let hash = users::hash_password(PASSWORD).unwrap();
    let user = store
        .create_console_user(org.id, "Ops@Example.com", Role::Operator, &hash, T0)
        .unwrap();
    (org.id, user.id)
}

async fn post_sign_in(
    app: &TestConsole,
    org: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/console/sign-in"))
        .form(&[("org", org), ("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Signs in and returns the cookie value.
async fn sign_in(app: &TestConsole, org: &str) -> String {
    let resp = post_sign_in(app, org, "ops@example.com", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    let value = set
        .strip_prefix(&format!("{COOKIE}="))
        .and_then(|rest| rest.split(';').next())
        .unwrap();
    value.to_string()
}

async fn get_dashboard(app: &TestConsole, cookie: &str) -> reqwest::Response {
    app.client
        .get(app.url("/console/"))
        .header("Cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap()
}

/// The CSRF token in a dashboard page's sign-out form.
fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    page[start..start + 64].to_string()
}

async fn user_is_stored_with_an_argon2id_hash(db: TestDb) {
    let (org_id, user_id) = org_with_user(&db.store, "CONSOLE1");
    let listed = db.store.console_users(org_id).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, user_id);
    assert_eq!(listed[0].email, "Ops@Example.com");
    assert_eq!(listed[0].role, Role::Operator);
    let found = db
        .store
        .console_sign_in_candidate(org_id, "OPS@example.COM")
        .unwrap()
        .unwrap();
    assert!(found.password_hash.starts_with("$argon2id$v=19$"));
    assert!(!found.password_hash.contains(PASSWORD));
    assert!(users::verify_password(&found.password_hash, PASSWORD));
    assert!(!users::verify_password(&found.password_hash, "wrong"));
    // Unique per organization whatever the case; another organization may reuse it.
    let again = db
        .store
        .create_console_user(org_id, "ops@EXAMPLE.com", Role::Viewer, "x", T0);
    assert!(matches!(
        again,
        Err(StoreError::Conflict(ConflictKind::ConsoleEmailTaken { .. }))
    ));
    let other = db
        .store
        .create_organization(&new_org("CONSOLE2"), T0)
        .unwrap();
    db.store
        .create_console_user(other.id, "ops@example.com", Role::Viewer, "x", T0)
        .unwrap();
    // A disabled user cannot sign in.
    db.store.disable_console_user(user_id, T0).unwrap();
    assert!(
        db.store
            .console_sign_in_candidate(org_id, "ops@example.com")
            .unwrap()
            .is_none()
    );
}

async fn sign_in_sets_the_cookie_and_headers(db: TestDb) {
    org_with_user(&db.store, "CONSOLE1");
    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;
    let page = app
        .client
        .get(app.url("/console/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert!(
        csp.contains("form-action 'self'; frame-ancestors 'none'"),
        "{csp}"
    );
    let body = page.text().await.unwrap();
    assert!(!body.contains("<script"));

    let resp = post_sign_in(&app, "console1", "OPS@example.com", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/console/");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let set = resp.headers()["set-cookie"].to_str().unwrap();
    let (value, attrs) = set.split_once(';').unwrap();
    let token = value.strip_prefix("billhub_console=").unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(attrs, " Path=/console; HttpOnly; SameSite=Strict");

    let dash = get_dashboard(&app, token).await;
    assert_eq!(dash.status(), StatusCode::OK);
    assert!(dash.text().await.unwrap().contains("Org CONSOLE1"));

    // Only the hash of the cookie value is stored.
    let hash = billhub_http::console::auth::token_hash(token);
    assert!(db.store.console_session(&hash).unwrap().is_some());
    assert!(db.store.console_session(token).unwrap().is_none());

    // Secure when the public URL is https.
    let mut config = billhub_http::Config::for_tests(&db.url, db.store.master_key().clone());
    config.public_url = "https://console.example.com".into();
    let secure = TestConsole::spawn_with(&db, Clock::fixed(T0), config).await;
    let resp = post_sign_in(&secure, "CONSOLE1", "ops@example.com", PASSWORD).await;
    let set = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.ends_with("; Path=/console; HttpOnly; SameSite=Strict; Secure"),
        "{set}"
    );
}

async fn every_failure_gives_the_same_answer(db: TestDb) {
    org_with_user(&db.store, "CONSOLE1");
    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;
    let wrong = post_sign_in(&app, "CONSOLE1", "ops@example.com", "nope").await;
    let unknown = post_sign_in(&app, "CONSOLE1", "who@example.com", "nope").await;
    let no_org = post_sign_in(&app, "NOSUCHORG", "ops@example.com", "nope").await;
    for r in [&wrong, &unknown, &no_org] {
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get("set-cookie").is_none());
    }
    let wrong = wrong.text().await.unwrap();
    let unknown = unknown
        .text()
        .await
        .unwrap()
        .replace("who@example.com", "ops@example.com");
    let no_org = no_org
        .text()
        .await
        .unwrap()
        .replace("NOSUCHORG", "CONSOLE1");
    assert!(wrong.contains(SIGN_IN_FAILED));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, no_org);
}

async fn sixth_attempt_after_five_failures_is_refused(db: TestDb) {
    org_with_user(&db.store, "CONSOLE1");
    let clock = Clock::fixed(T0);
    let app = TestConsole::spawn(&db, clock.clone()).await;
    for _ in 0..5 {
        let r = post_sign_in(&app, "CONSOLE1", "ops@example.com", "nope").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // The right password is refused too, without a session.
    let r = post_sign_in(&app, "CONSOLE1", "ops@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.text().await.unwrap().contains(SIGN_IN_LIMITED));
    // The window is 15 minutes.
    clock.advance(Duration::minutes(14));
    let r = post_sign_in(&app, "CONSOLE1", "ops@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    clock.advance(Duration::minutes(1));
    let r = post_sign_in(&app, "CONSOLE1", "ops@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

async fn session_expires_after_twelve_idle_hours(db: TestDb) {
    org_with_user(&db.store, "CONSOLE1");
    let clock = Clock::fixed(T0);
    let app = TestConsole::spawn(&db, clock.clone()).await;
    let cookie = sign_in(&app, "CONSOLE1").await;
    // Used after 11 hours: still alive, and its last-seen time moves.
    clock.advance(Duration::hours(11));
    assert_eq!(get_dashboard(&app, &cookie).await.status(), StatusCode::OK);
    // 11 hours after that use (22 after sign-in): alive.
    clock.advance(Duration::hours(11));
    assert_eq!(get_dashboard(&app, &cookie).await.status(), StatusCode::OK);
    // 12 hours idle: gone, back to the sign-in page, and deleted from the store.
    clock.advance(Duration::hours(12));
    let r = get_dashboard(&app, &cookie).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/console/sign-in");
    let hash = billhub_http::console::auth::token_hash(&cookie);
    assert!(db.store.console_session(&hash).unwrap().is_none());

    // Sessions never used again are purged by the maintenance task once 12 hours idle.
    let idle = sign_in(&app, "CONSOLE1").await;
    let idle_hash = billhub_http::console::auth::token_hash(&idle);
    let now = clock.now();
    assert_eq!(
        db.store
            .purge_console_sessions(now + Duration::hours(12) - Duration::seconds(1))
            .unwrap(),
        0
    );
    assert_eq!(
        db.store
            .purge_console_sessions(now + Duration::hours(12))
            .unwrap(),
        1
    );
    assert!(db.store.console_session(&idle_hash).unwrap().is_none());
}

async fn csrf_and_origin_are_checked_and_sign_out_ends_the_session(db: TestDb) {
    org_with_user(&db.store, "CONSOLE1");
    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;
    let cookie = sign_in(&app, "CONSOLE1").await;
    let page = get_dashboard(&app, &cookie).await.text().await.unwrap();
    let csrf = csrf_of(&page);
    let sign_out = |form: Vec<(&'static str, String)>, origin: Option<String>| {
        let mut req = app
            .client
            .post(app.url("/console/sign-out"))
            .header("Cookie", format!("{COOKIE}={cookie}"))
            .form(&form);
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        req.send()
    };
    let r = sign_out(vec![], None).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = sign_out(vec![("csrf", "0".repeat(64))], None)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = sign_out(
        vec![("csrf", csrf.clone())],
        Some("https://evil.example".into()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Still signed in after the refusals.
    assert_eq!(get_dashboard(&app, &cookie).await.status(), StatusCode::OK);

    let r = sign_out(vec![("csrf", csrf)], Some(app.base_url.clone()))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/console/sign-in");
    assert_eq!(
        r.headers()["set-cookie"],
        "billhub_console=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"
    );
    let r = get_dashboard(&app, &cookie).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // A sign-in from another origin is refused before anything is checked.
    let r = app
        .client
        .post(app.url("/console/sign-in"))
        .header("Origin", "https://evil.example")
        .form(&[
            ("org", "CONSOLE1"),
            ("email", "ops@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// Bills of `amounts` (minor units, USD, exact rule) in `org_id`, each paid in full through
/// `channel` at `paid_at`.
fn paid_bills(store: &Store, org_id: i64, channel: &str, amounts: &[i64], paid_at: OffsetDateTime) {
    for (i, minor) in amounts.iter().enumerate() {
        let (_, bill) = store
            .create_bill_for_account(
                &AccountInput {
                    code: format!("{channel}-{i}"),
                    name: "Payer".into(),
                    ..AccountInput::default()
                },
                &NewBill {
                    organization_id: org_id,
                    account_id: 0,
                    collection_id: None,
                    invoice_number: None,
                    ref1: String::new(),
                    ref2: String::new(),
                    name: format!("Bill {i}"),
                    description: String::new(),
                    currency: Currency::USD,
                    billed: *minor,
                    items: vec![],
                    bill_date: T0.date(),
                    due_date: None,
                    valid_until: None,
                    rule: PaymentRule::Exact,
                    source: "cli".into(),
                    extra: "{}".into(),
                    va_numbers: vec![],
                },
                T0,
            )
            .unwrap();
        let reference = format!("{org_id}-{channel}-{i}-{}", paid_at.unix_timestamp());
        store
            .post_payment(
                &PaymentRequest {
                    organization_id: org_id,
                    channel: channel.into(),
                    channel_ref: reference.clone(),
                    request_hash: billhub_store::fingerprint(&[reference.as_str()]),
                    target: PaymentTarget::Bill { bill_id: bill.id },
                    amount: Money::from_minor(*minor, Currency::USD),
                    fee: 0,
                    method: "test".into(),
                    payer_name: String::new(),
                    details: "{}".into(),
                    paid_at,
                    on_rejection: OnRejection::Refuse,
                },
                paid_at,
            )
            .unwrap();
    }
}

async fn dashboard_shows_exact_totals_of_its_organization_only(db: TestDb) {
    let (org_id, _) = org_with_user(&db.store, "CONSOLE1");
    let other = db
        .store
        .create_organization(&new_org("OTHER001"), T0)
        .unwrap();
    // Today (2026-11-21 UTC): two bill24 payments and one sandbox payment.
    paid_bills(&db.store, org_id, "bill24", &[12_345, 100_000], T0);
    paid_bills(
        &db.store,
        org_id,
        "sandbox",
        &[5_050],
        T0 + Duration::hours(1),
    );
    // Yesterday: not in today's totals (but its bill is paid).
    paid_bills(
        &db.store,
        org_id,
        "collections",
        &[777],
        T0 - Duration::days(1),
    );
    // Unapplied money waiting: an unknown account.
    db.store
        .post_payment(
            &PaymentRequest {
                organization_id: org_id,
                channel: "bill24".into(),
                channel_ref: "UNAPPLIED-1".into(),
                request_hash: billhub_store::fingerprint(&["UNAPPLIED-1"]),
                target: PaymentTarget::Unknown {
                    account_code: "NOBODY".into(),
                },
                amount: Money::from_minor(4_200, Currency::USD),
                fee: 0,
                method: "test".into(),
                payer_name: String::new(),
                details: "{}".into(),
                paid_at: T0,
                on_rejection: OnRejection::RecordUnapplied,
            },
            T0,
        )
        .unwrap();
    // Another organization's money today, on the same channels.
    paid_bills(&db.store, other.id, "bill24", &[999_999], T0);
    paid_bills(&db.store, other.id, "sandbox", &[31_337], T0);

    let snapshot = db
        .store
        .console_dashboard(org_id, T0 + Duration::hours(2))
        .unwrap();
    assert_eq!(snapshot.today, T0.date());
    assert_eq!(
        snapshot
            .today_by_channel
            .iter()
            .map(|t| (t.channel.as_str(), t.currency.as_str(), t.count, t.amount))
            .collect::<Vec<_>>(),
        vec![("bill24", "USD", 2, 112_345), ("sandbox", "USD", 1, 5_050)]
    );
    assert_eq!(snapshot.bills_by_status, vec![("paid".to_string(), 4)]);
    assert_eq!(snapshot.unapplied_open.len(), 1);
    assert_eq!(snapshot.unapplied_open[0].count, 1);
    assert_eq!(snapshot.unapplied_open[0].amount, 4_200);
    assert_eq!(snapshot.failed_notifications, 0);

    let app = TestConsole::spawn(&db, Clock::fixed(T0 + Duration::hours(2))).await;
    let cookie = sign_in(&app, "CONSOLE1").await;
    let page = get_dashboard(&app, &cookie).await.text().await.unwrap();
    assert!(page.contains("<strong class=\"org\">Org CONSOLE1</strong>"));
    assert!(page.contains("<h2>Today (21 November 2026)</h2>"));
    assert!(
        page.contains(
            "<tr><td>bill24</td><td class=\"n\">2</td><td class=\"n\">$1,123.45</td></tr>"
        )
    );
    assert!(
        page.contains("<tr><td>sandbox</td><td class=\"n\">1</td><td class=\"n\">$50.50</td></tr>")
    );
    assert!(page.contains("<tr><td>Paid</td><td class=\"n\">4</td></tr>"));
    assert!(
        page.contains("<tr><td>USD</td><td class=\"n\">1</td><td class=\"n\">$42.00</td></tr>")
    );
    // Yesterday's channel is in the 30-day chart, not in today's table.
    assert!(!page.contains("<tr><td>collections</td>"));
    assert!(page.contains("data-channel=\"collections\""));
    assert!(!page.contains("OTHER001"));
    assert!(!page.contains("9,999.99"));
    assert!(!page.contains("313.37"));
}

async fn sign_in_page_speaks_the_asked_language(db: TestDb) {
    org_with_user(&db.store, "CONSOLE1");
    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;
    // English by default, whatever the organizations' languages; the constants are its words.
    assert_eq!(
        SIGN_IN_FAILED,
        billhub_core::locale::console::SIGN_IN_EN.failed
    );
    assert_eq!(
        SIGN_IN_LIMITED,
        billhub_core::locale::console::SIGN_IN_EN.limited
    );
    let get = |path: &'static str, accept: Option<&'static str>| {
        let mut req = app.client.get(app.url(path));
        if let Some(a) = accept {
            req = req.header("Accept-Language", a);
        }
        req.send()
    };
    let en = get("/console/sign-in", None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("<html lang=\"en\">"));
    assert!(en.contains("<h1>Sign in to the billhub console</h1>"));
    assert!(en.contains("<form method=\"post\" action=\"/console/sign-in\">"));
    assert!(en.contains("<a href=\"?lang=km\" lang=\"km\">ខ្មែរ</a>"));

    let km = get("/console/sign-in?lang=km", Some("ms"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(km.contains("<html lang=\"km\">"));
    assert!(km.contains("<title>ចូលប្រើ · billhub console</title>"));
    assert!(km.contains("<h1>ចូលប្រើកុងសូល billhub</h1>"));
    assert!(km.contains("<label for=\"org\">លេខកូដស្ថាប័ន</label>"));
    assert!(km.contains("<label for=\"password\">ពាក្យសម្ងាត់</label>"));
    assert!(km.contains("<button type=\"submit\">ចូល</button>"));
    // The form keeps the language picked.
    assert!(km.contains("<form method=\"post\" action=\"/console/sign-in?lang=km\">"));
    assert!(km.contains("<a href=\"?lang=km\" lang=\"km\" aria-current=\"true\">ខ្មែរ</a>"));

    let ms = get("/console/sign-in", Some("ms-MY,en;q=0.5"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ms.contains("<html lang=\"ms\">"));
    assert!(ms.contains("<h1>Log masuk ke konsol billhub</h1>"));
    assert!(ms.contains("<label for=\"password\">Kata laluan</label>"));

    let id = get("/console/sign-in", Some("id"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(id.contains("<h1>Masuk ke konsol billhub</h1>"));
    assert!(id.contains("<label for=\"org\">Kode organisasi</label>"));

    // A failed sign-in answers in the language asked, the same answer for every failure.
    let failed = app
        .client
        .post(app.url("/console/sign-in?lang=id"))
        .form(&[
            ("org", "CONSOLE1"),
            ("email", "ops@example.com"),
            ("password", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let body = failed.text().await.unwrap();
    assert!(body.contains(
        "<p class=\"error\" role=\"alert\">Kode organisasi, email, atau kata sandi salah.</p>"
    ));
    let failed = app
        .client
        .post(app.url("/console/sign-in"))
        .header("Accept-Language", "km")
        .form(&[
            ("org", "NOSUCHORG"),
            ("email", "ops@example.com"),
            ("password", "nope"),
        ])
        .send()
        .await
        .unwrap();
    let body = failed.text().await.unwrap();
    assert!(body.contains("លេខកូដស្ថាប័ន អ៊ីមែល ឬពាក្យសម្ងាត់មិនត្រឹមត្រូវ។"));
}

billhub_http::http_backend_tests!(
    user_is_stored_with_an_argon2id_hash,
    sign_in_sets_the_cookie_and_headers,
    every_failure_gives_the_same_answer,
    sixth_attempt_after_five_failures_is_refused,
    session_expires_after_twelve_idle_hours,
    csrf_and_origin_are_checked_and_sign_out_ends_the_session,
    dashboard_shows_exact_totals_of_its_organization_only,
    sign_in_page_speaks_the_asked_language,
);
