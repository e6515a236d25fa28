//! The console's unapplied money and account credit over real HTTP, on SQLite and PostgreSQL:
//! apply and refund with exact amounts and the bill's resulting status, credit applied and
//! refunded, the action log row of each (who, what, object, exact detail) written with the
//! action, refusals shown on the page with nothing changed (another currency, an unknown bill,
//! already resolved, a missing note, not enough credit), viewers refused 403, a missing CSRF
//! token refused, another organization's ids answered 404 with nothing changed, and the labels
//! of the page in Khmer, Malay and Indonesian.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::type_complexity
)]

use billhub_core::bill::BillStatus;
use billhub_core::locale::console_money::{self, ConsoleMoneyLabels};
use billhub_core::{Currency, Money, PaymentRule};
use billhub_http::Clock;
use billhub_http::console::auth::COOKIE;
use billhub_http::console::testing::{TestConsole, csrf_of};
use billhub_store::testing::TestDb;
use billhub_store::users::{self, Role};
use billhub_store::{
    AccountInput, NewBill, NewOrganization, OnRejection, PaymentRequest, PaymentTarget, Store,
};
use reqwest::StatusCode;
use time::OffsetDateTime;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-11-21 08:00:00 UTC);
const PASSWORD: &str = "correct horse battery staple";
const EN: &ConsoleMoneyLabels = &console_money::EN;

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

fn user(store: &Store, org_id: i64, email: &str, role: Role) -> i64 {
    let hash = users::hash_password(PASSWORD).unwrap();
    store
        .create_console_user(org_id, email, role, &hash, T0)
        .unwrap()
        .id
}

fn bill(
    store: &Store,
    org_id: i64,
    account: &str,
    invoice: &str,
    currency: Currency,
    billed: i64,
    rule: PaymentRule,
) -> billhub_core::Bill {
    store
        .create_bill_for_account(
            &AccountInput {
                code: account.into(),
                name: "Payer".into(),
                ..AccountInput::default()
            },
            &NewBill {
                organization_id: org_id,
                account_id: 0,
                collection_id: None,
                invoice_number: Some(invoice.into()),
                ref1: String::new(),
                ref2: String::new(),
                name: format!("Bill {invoice}"),
                description: String::new(),
                currency,
                billed,
                items: vec![],
                bill_date: T0.date(),
                due_date: None,
                valid_until: None,
                rule,
                source: "cli".into(),
                extra: "{}".into(),
                va_numbers: vec![],
            },
            T0,
        )
        .unwrap()
        .1
}

/// Money of an unknown account: recorded as unapplied. Returns its id.
fn unapplied(store: &Store, org_id: i64, reference: &str, money: Money) -> i64 {
    store
        .post_payment(
            &PaymentRequest {
                organization_id: org_id,
                channel: "bill24".into(),
                channel_ref: reference.into(),
                request_hash: billhub_store::fingerprint(&[reference]),
                target: PaymentTarget::Unknown {
                    account_code: "NOBODY".into(),
                },
                amount: money,
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
    store
        .unapplied_payments(Some(org_id))
        .unwrap()
        .into_iter()
        .find(|u| u.channel_ref == reference)
        .unwrap()
        .id
}

fn unapplied_status(store: &Store, org_id: i64, id: i64) -> String {
    store
        .unapplied_payments(Some(org_id))
        .unwrap()
        .into_iter()
        .find(|u| u.id == id)
        .unwrap()
        .status
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

/// Everything the tests use: two organizations, an operator and a viewer in the first, open
/// unapplied money in both, an account with credit and a bill to spend it on.
struct Fixture {
    org_id: i64,
    ops_id: i64,
    /// USD 100.00, exact, invoice INV-100.
    bill: billhub_core::Bill,
    /// USD 100.00 of an unknown account.
    u_usd: i64,
    /// USD 30.00.
    u_small: i64,
    /// KHR 5,000.
    u_khr: i64,
    /// Another organization's USD 77.00.
    u_other: i64,
    /// Account CREDIT1 with USD 30.00 of credit (an open bill of 50.00 paid 80.00).
    credit_account: i64,
    /// USD 20.00, exact, of account CREDIT1.
    credit_bill: billhub_core::Bill,
    /// An account of the other organization with USD 5.00 of credit.
    other_account: i64,
}

fn fixture(store: &Store) -> Fixture {
    let org = store.create_organization(&new_org("CONSOLE1"), T0).unwrap();
    let other = store.create_organization(&new_org("OTHER001"), T0).unwrap();
    let ops_id = user(store, org.id, "ops@example.com", Role::Operator);
    user(store, org.id, "viewer@example.com", Role::Viewer);
    user(store, other.id, "ops@example.com", Role::Operator);
    let bill_ = bill(
        store,
        org.id,
        "ACC1",
        "INV-100",
        Currency::USD,
        10_000,
        PaymentRule::Exact,
    );
    let u_usd = unapplied(store, org.id, "UNAPPLIED-1", usd(10_000));
    let u_small = unapplied(store, org.id, "UNAPPLIED-2", usd(3_000));
    let u_khr = unapplied(
        store,
        org.id,
        "UNAPPLIED-3",
        Money::from_minor(500_000, Currency::KHR),
    );
    let u_other = unapplied(store, other.id, "UNAPPLIED-9", usd(7_700));

    let with_credit = |org_id: i64, code: &str, billed: i64, paid: i64| {
        let b = bill(
            store,
            org_id,
            code,
            &format!("INV-{code}"),
            Currency::USD,
            billed,
            PaymentRule::Open,
        );
        store
            .post_payment(
                &PaymentRequest {
                    organization_id: org_id,
                    channel: "sandbox".into(),
                    channel_ref: format!("OVER-{code}"),
                    request_hash: billhub_store::fingerprint(&[code]),
                    target: PaymentTarget::Bill { bill_id: b.id },
                    amount: usd(paid),
                    fee: 0,
                    method: "test".into(),
                    payer_name: String::new(),
                    details: "{}".into(),
                    paid_at: T0,
                    on_rejection: OnRejection::Refuse,
                },
                T0,
            )
            .unwrap();
        b.account_id
    };
    let credit_account = with_credit(org.id, "CREDIT1", 5_000, 8_000);
    let other_account = with_credit(other.id, "CREDIT9", 1_000, 1_500);
    let credit_bill = bill(
        store,
        org.id,
        "CREDIT1",
        "INV-C2",
        Currency::USD,
        2_000,
        PaymentRule::Exact,
    );
    assert_eq!(credit_bill.account_id, credit_account);
    assert_eq!(
        store.account_credit(credit_account, Currency::USD).unwrap(),
        3_000
    );
    Fixture {
        org_id: org.id,
        ops_id,
        bill: bill_,
        u_usd,
        u_small,
        u_khr,
        u_other,
        credit_account,
        credit_bill,
        other_account,
    }
}

/// Signs in and returns the cookie value.
async fn sign_in(app: &TestConsole, org: &str, email: &str) -> String {
    app.sign_in(org, email, PASSWORD).await
}

async fn get(app: &TestConsole, cookie: &str, path: &str) -> (StatusCode, String) {
    app.get_page(cookie, path).await
}

/// POSTs a form (with the session's CSRF token unless `csrf` is false); returns the status,
/// the `Location` and the body.
async fn post(
    app: &TestConsole,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
    csrf: bool,
) -> (StatusCode, String, String) {
    let (_, page) = get(app, cookie, "/console/unapplied").await;
    let token = csrf_of(&page);
    let mut form: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    if csrf {
        form.push(("csrf".into(), token));
    }
    let r = app
        .client
        .post(app.url(path))
        .header("Cookie", format!("{COOKIE}={cookie}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

fn log_of(store: &Store, org_id: i64) -> Vec<(String, String, String, String)> {
    let (rows, more) = store.console_actions(org_id, 0, 100).unwrap();
    assert!(!more);
    rows.into_iter()
        .map(|a| (a.email, a.action, a.object, a.detail))
        .collect()
}

/// The page shows `message` in its alert.
fn alert(page: &str, message: &str) -> bool {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    page.contains(&format!("<p role=\"alert\" class=\"error\">{escaped}</p>"))
}

async fn apply_and_refund_unapplied_with_the_action_log(db: TestDb) {
    let f = fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;
    let cookie = sign_in(&app, "CONSOLE1", "ops@example.com").await;

    let (status, page) = get(&app, &cookie, "/console/unapplied").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<table id=\"unapplied\">"));
    let row = format!("<tr id=\"unapplied-{}\">", f.u_usd);
    assert!(page.contains(&row), "{page}");
    assert!(page.contains(&format!(
        "<form method=\"post\" action=\"/console/unapplied/{}/apply\">",
        f.u_usd
    )));
    assert!(page.contains(&format!(
        "<form method=\"post\" action=\"/console/unapplied/{}/refund\">",
        f.u_usd
    )));
    assert!(page.contains("<button type=\"submit\" class=\"apply\">Apply</button>"));
    assert!(page.contains("<button type=\"submit\" class=\"refund\">Refund</button>"));
    assert!(page.contains("<td class=\"n\">$100.00</td>"));
    assert!(page.contains("<td class=\"n\">KHR 5,000</td>"));
    assert!(page.contains(&format!("<td>{}</td>", EN.err_no_match)));
    // Another organization's money is not shown.
    assert!(!page.contains("UNAPPLIED-9"));
    assert!(!page.contains("$77.00"));
    // Credit: this organization's account only.
    assert!(page.contains("<table id=\"credit\">"));
    assert!(page.contains("<td>CREDIT1</td><td>USD</td><td class=\"n\">$30.00</td>"));
    assert!(!page.contains("CREDIT9"));

    // Apply by invoice number: the bill is paid by exactly the money.
    let (status, location, _) = post(
        &app,
        &cookie,
        &format!("/console/unapplied/{}/apply", f.u_usd),
        &[("target", "INV-100")],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/console/unapplied?done=applied");
    let paid = db.store.bill(f.bill.id).unwrap();
    assert_eq!(paid.paid, 10_000);
    assert_eq!(paid.status, BillStatus::Paid);
    let payments = db.store.payments_of_bill(f.bill.id).unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].amount, 10_000);
    assert_eq!(payments[0].channel, "bill24");
    assert_eq!(payments[0].channel_ref, "UNAPPLIED-1");
    assert_eq!(unapplied_status(&db.store, f.org_id, f.u_usd), "applied");
    let (_, page) = get(&app, &cookie, "/console/unapplied?done=applied").await;
    assert!(page.contains(&format!(
        "<p role=\"status\" class=\"money-done\">{}</p>",
        EN.done_applied
    )));
    assert!(!page.contains(&row));
    // Recently resolved, with the payment it became.
    assert!(page.contains(&format!("<tr id=\"resolved-{}\">", f.u_usd)));
    assert!(page.contains(&payments[0].uid));

    // Refund with a note.
    let (status, location, _) = post(
        &app,
        &cookie,
        &format!("/console/unapplied/{}/refund", f.u_small),
        &[("note", "  bank transfer 42  ")],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/console/unapplied?done=refunded");
    assert_eq!(unapplied_status(&db.store, f.org_id, f.u_small), "refunded");

    let log = log_of(&db.store, f.org_id);
    let applied_detail = format!(
        "applied 100.00 USD (bill24 UNAPPLIED-1) to bill {} as payment {}",
        f.bill.public_no, payments[0].uid
    );
    assert_eq!(
        log,
        vec![
            (
                "ops@example.com".to_string(),
                "unapplied.refund".to_string(),
                format!("unapplied payment #{}", f.u_small),
                "refunded 30.00 USD (bill24 UNAPPLIED-2): bank transfer 42".to_string(),
            ),
            (
                "ops@example.com".to_string(),
                "unapplied.apply".to_string(),
                format!("unapplied payment #{}", f.u_usd),
                applied_detail.clone(),
            ),
        ]
    );
    let (rows, _) = db.store.console_actions(f.org_id, 0, 10).unwrap();
    assert!(
        rows.iter()
            .all(|r| r.user_id == f.ops_id && r.created_at == T0)
    );

    // Refusals: shown on the page, nothing changed, nothing logged.
    let refusals: Vec<(String, Vec<(&str, &str)>, StatusCode, String)> = vec![
        (
            format!("/console/unapplied/{}/apply", f.u_khr),
            vec![("target", f.credit_bill.public_no.as_str())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "The money is in KHR but the bill is in USD.".into(),
        ),
        (
            format!("/console/unapplied/{}/apply", f.u_khr),
            vec![("target", "NOPE-1")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "No bill “NOPE-1” in this organization.".into(),
        ),
        (
            format!("/console/unapplied/{}/apply", f.u_khr),
            vec![("target", "  ")],
            StatusCode::UNPROCESSABLE_ENTITY,
            EN.err_no_bill.into(),
        ),
        (
            format!("/console/unapplied/{}/refund", f.u_khr),
            vec![("note", " ")],
            StatusCode::UNPROCESSABLE_ENTITY,
            EN.err_note.into(),
        ),
        (
            format!("/console/unapplied/{}/apply", f.u_usd),
            vec![("target", "INV-100")],
            StatusCode::CONFLICT,
            EN.err_already_applied.into(),
        ),
        (
            format!("/console/unapplied/{}/refund", f.u_small),
            vec![("note", "again")],
            StatusCode::CONFLICT,
            EN.err_already_refunded.into(),
        ),
    ];
    for (path, fields, want, message) in refusals {
        let (status, _, page) = post(&app, &cookie, &path, &fields, true).await;
        assert_eq!(status, want, "{path} {fields:?}");
        assert!(alert(&page, &message), "{path} {fields:?}: {page}");
        // The page is shown whole, with the money still open.
        assert!(page.contains(&format!("<tr id=\"unapplied-{}\">", f.u_khr)));
    }
    assert_eq!(unapplied_status(&db.store, f.org_id, f.u_khr), "open");
    assert_eq!(db.store.bill(f.credit_bill.id).unwrap().paid, 0);
    assert_eq!(log_of(&db.store, f.org_id).len(), 2);

    // The action log page, newest first.
    let (status, page) = get(&app, &cookie, "/console/actions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<table id=\"actions\">"));
    let refund_at = page.find("refunded 30.00 USD (bill24 UNAPPLIED-2): bank transfer 42");
    let apply_at = page.find(&applied_detail);
    assert!(refund_at.unwrap() < apply_at.unwrap());
    assert!(page.contains(&format!(
        "<td>21 November 2026, 08:00 (UTC+00:00)</td><td>ops@example.com</td><td>{}</td><td>unapplied payment #{}</td>",
        EN.act_unapplied_refund, f.u_small
    )));
}

async fn credit_is_applied_and_refunded_with_the_action_log(db: TestDb) {
    let f = fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;
    let cookie = sign_in(&app, "CONSOLE1", "ops@example.com").await;
    let account = f.credit_account.to_string();

    let (_, page) = get(&app, &cookie, "/console/unapplied").await;
    assert!(page.contains("<form method=\"post\" action=\"/console/credit/apply\">"));
    assert!(page.contains("<form method=\"post\" action=\"/console/credit/refund\">"));
    assert!(page.contains(&format!(
        "<input type=\"hidden\" name=\"account\" value=\"{account}\">"
    )));

    // Apply 20.00 to the bill by its public number: paid exactly; 10.00 left.
    let apply = [
        ("account", account.as_str()),
        ("currency", "USD"),
        ("amount", "20.00"),
        ("bill", f.credit_bill.public_no.as_str()),
        ("reference", "console-test-1"),
    ];
    let (status, location, _) = post(&app, &cookie, "/console/credit/apply", &apply, true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/console/unapplied?done=applied");
    let paid = db.store.bill(f.credit_bill.id).unwrap();
    assert_eq!((paid.paid, paid.status), (2_000, BillStatus::Paid));
    assert_eq!(
        db.store
            .account_credit(f.credit_account, Currency::USD)
            .unwrap(),
        1_000
    );
    let payment = db.store.payments_of_bill(f.credit_bill.id).unwrap()[0].clone();
    assert_eq!(
        (payment.channel.as_str(), payment.amount),
        ("credit", 2_000)
    );

    // The same form again (same reference): nothing more spent, nothing more logged.
    let (status, _, _) = post(&app, &cookie, "/console/credit/apply", &apply, true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        db.store
            .account_credit(f.credit_account, Currency::USD)
            .unwrap(),
        1_000
    );
    assert_eq!(log_of(&db.store, f.org_id).len(), 1);

    // Refusals: more than the credit, not an amount.
    let (status, _, page) = post(
        &app,
        &cookie,
        "/console/credit/refund",
        &[
            ("account", &account),
            ("currency", "USD"),
            ("amount", "15.00"),
            ("note", "cash"),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        alert(&page, "The account's credit is only $10.00."),
        "{page}"
    );
    let (status, _, page) = post(
        &app,
        &cookie,
        "/console/credit/refund",
        &[
            ("account", &account),
            ("currency", "USD"),
            ("amount", "ten"),
            ("note", "cash"),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        alert(&page, "Enter an amount in USD, like 12.50."),
        "{page}"
    );
    assert_eq!(
        db.store
            .account_credit(f.credit_account, Currency::USD)
            .unwrap(),
        1_000
    );

    // Refund the rest.
    let (status, location, _) = post(
        &app,
        &cookie,
        "/console/credit/refund",
        &[
            ("account", &account),
            ("currency", "USD"),
            ("amount", "10.00"),
            ("note", "cash at the counter"),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/console/unapplied?done=refunded");
    assert_eq!(
        db.store
            .account_credit(f.credit_account, Currency::USD)
            .unwrap(),
        0
    );

    assert_eq!(
        log_of(&db.store, f.org_id),
        vec![
            (
                "ops@example.com".to_string(),
                "credit.refund".to_string(),
                "account CREDIT1".to_string(),
                "refunded 10.00 USD of credit: cash at the counter; 0.00 USD left".to_string(),
            ),
            (
                "ops@example.com".to_string(),
                "credit.apply".to_string(),
                "account CREDIT1".to_string(),
                format!(
                    "applied 20.00 USD of credit to bill {} as payment {}; 10.00 USD left",
                    f.credit_bill.public_no, payment.uid
                ),
            ),
        ]
    );
    let (_, page) = get(&app, &cookie, "/console/unapplied").await;
    assert!(page.contains(EN.no_credit));
}

async fn viewers_missing_csrf_and_other_organizations_are_refused(db: TestDb) {
    let f = fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;

    // A viewer sees the money but no form, and a POST is refused.
    let viewer = sign_in(&app, "CONSOLE1", "viewer@example.com").await;
    let (status, page) = get(&app, &viewer, "/console/unapplied").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("<tr id=\"unapplied-{}\">", f.u_usd)));
    assert!(!page.contains("action=\"/console/unapplied/"));
    assert!(!page.contains("action=\"/console/credit/"));
    assert!(!page.contains("class=\"apply\""));
    let account = f.credit_account.to_string();
    let other_account = f.other_account.to_string();
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/console/unapplied/{}/apply", f.u_usd),
            vec![("target", "INV-100")],
        ),
        (
            format!("/console/unapplied/{}/refund", f.u_usd),
            vec![("note", "n")],
        ),
        (
            "/console/credit/apply".into(),
            vec![
                ("account", &account),
                ("currency", "USD"),
                ("amount", "1.00"),
                ("reference", "r-viewer"),
            ],
        ),
        (
            "/console/credit/refund".into(),
            vec![
                ("account", &account),
                ("currency", "USD"),
                ("amount", "1.00"),
                ("note", "n"),
            ],
        ),
    ];
    for (path, fields) in &attempts {
        let (status, _, _) = post(&app, &viewer, path, fields, true).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "viewer {path}");
    }

    // An operator without the CSRF token, or from another origin.
    let ops = sign_in(&app, "CONSOLE1", "ops@example.com").await;
    for (path, fields) in &attempts {
        let (status, _, _) = post(&app, &ops, path, fields, false).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "no csrf {path}");
    }
    let (_, page) = get(&app, &ops, "/console/unapplied").await;
    let r = app
        .client
        .post(app.url(&format!("/console/unapplied/{}/apply", f.u_usd)))
        .header("Cookie", format!("{COOKIE}={ops}"))
        .header("Origin", "https://evil.example")
        .form(&[("target", "INV-100"), ("csrf", &csrf_of(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Another organization's unapplied money and account, and unknown ids: 404.
    let other_org_id = db
        .store
        .organization_by_code("OTHER001")
        .unwrap()
        .unwrap()
        .id;
    let not_found: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/console/unapplied/{}/apply", f.u_other),
            vec![("target", "INV-100")],
        ),
        (
            format!("/console/unapplied/{}/refund", f.u_other),
            vec![("note", "n")],
        ),
        (
            "/console/unapplied/999999/apply".into(),
            vec![("target", "INV-100")],
        ),
        (
            "/console/credit/apply".into(),
            vec![
                ("account", &other_account),
                ("currency", "USD"),
                ("amount", "1.00"),
                ("reference", "r-other"),
            ],
        ),
        (
            "/console/credit/refund".into(),
            vec![
                ("account", &other_account),
                ("currency", "USD"),
                ("amount", "1.00"),
                ("note", "n"),
            ],
        ),
        (
            "/console/credit/refund".into(),
            vec![
                ("account", "999999"),
                ("currency", "USD"),
                ("amount", "1.00"),
                ("note", "n"),
            ],
        ),
    ];
    for (path, fields) in &not_found {
        let (status, _, page) = post(&app, &ops, path, fields, true).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} {fields:?}");
        assert!(alert(&page, EN.not_found), "{page}");
    }

    // Nothing changed anywhere.
    for id in [f.u_usd, f.u_small, f.u_khr] {
        assert_eq!(unapplied_status(&db.store, f.org_id, id), "open");
    }
    assert_eq!(unapplied_status(&db.store, other_org_id, f.u_other), "open");
    assert_eq!(db.store.bill(f.bill.id).unwrap().paid, 0);
    assert_eq!(
        db.store
            .account_credit(f.credit_account, Currency::USD)
            .unwrap(),
        3_000
    );
    assert_eq!(
        db.store
            .account_credit(f.other_account, Currency::USD)
            .unwrap(),
        500
    );
    assert!(log_of(&db.store, f.org_id).is_empty());
    assert!(log_of(&db.store, other_org_id).is_empty());
}

async fn money_pages_in_khmer_malay_and_indonesian(db: TestDb) {
    let f = fixture(&db.store);
    db.store
        .console_refund_unapplied(
            &billhub_store::console_actions::Actor {
                organization_id: f.org_id,
                user_id: f.ops_id,
                email: "ops@example.com".into(),
            },
            f.u_small,
            "cash",
            T0,
        )
        .unwrap();
    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;
    let cookie = sign_in(&app, "CONSOLE1", "ops@example.com").await;
    for (lang, l) in [
        ("km", &console_money::KM),
        ("ms", &console_money::MS),
        ("id", &console_money::ID),
    ] {
        let (status, page) = get(&app, &cookie, &format!("/console/unapplied?lang={lang}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(&format!("<html lang=\"{lang}\">")), "{lang}");
        for label in [
            l.unapplied_intro,
            l.received,
            l.why,
            l.err_no_match,
            l.credit_heading,
            l.resolved_heading,
            l.status_refunded,
        ] {
            assert!(page.contains(label), "{lang}: `{label}` missing");
        }
        assert!(page.contains(&format!(
            "<button type=\"submit\" class=\"apply\">{}</button>",
            l.apply
        )));
        assert!(page.contains(&format!(
            "<button type=\"submit\" class=\"refund\">{}</button>",
            l.refund
        )));
        assert!(!page.contains(EN.unapplied_intro));
        let (_, page) = get(&app, &cookie, &format!("/console/actions?lang={lang}")).await;
        for label in [
            l.when,
            l.who,
            l.what,
            l.object,
            l.detail,
            l.act_unapplied_refund,
        ] {
            assert!(page.contains(label), "{lang} actions: `{label}` missing");
        }
    }
    // Amounts in each page's form: the riel's sign on Khmer pages only.
    let (_, page) = get(&app, &cookie, "/console/unapplied?lang=km").await;
    assert!(page.contains("<td class=\"n\">5,000 ៛</td>"));
    let (_, page) = get(&app, &cookie, "/console/unapplied?lang=id").await;
    assert!(page.contains("<td class=\"n\">KHR 5,000</td>"));
    assert!(page.contains("21 November 2026 08.00 (UTC+00:00)"));
}

/// The action log shows the signed-in organization's actions only.
async fn action_log_shows_its_organization_only(db: TestDb) {
    let f = fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;
    let other = sign_in(&app, "OTHER001", "ops@example.com").await;
    let (status, _, _) = post(
        &app,
        &other,
        &format!("/console/unapplied/{}/refund", f.u_other),
        &[("note", "other organization cash")],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let ours = sign_in(&app, "CONSOLE1", "ops@example.com").await;
    let (status, _, _) = post(
        &app,
        &ours,
        &format!("/console/unapplied/{}/refund", f.u_small),
        &[("note", "our bank transfer")],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (status, page) = get(&app, &ours, "/console/actions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("refunded 30.00 USD (bill24 UNAPPLIED-2): our bank transfer"),
        "{page}"
    );
    assert!(!page.contains("UNAPPLIED-9"), "{page}");
    assert!(!page.contains("other organization"), "{page}");
    let (_, page) = get(&app, &other, "/console/actions").await;
    assert!(
        page.contains("refunded 77.00 USD (bill24 UNAPPLIED-9): other organization cash"),
        "{page}"
    );
    assert!(!page.contains("our bank transfer"), "{page}");
}

/// A language picked with `?lang=` stays on the page's own links, its forms' targets and the
/// redirect after a form, on every money page.
async fn a_picked_language_stays_through_paging_and_forms(db: TestDb) {
    let f = fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;
    let cookie = sign_in(&app, "CONSOLE1", "ops@example.com").await;

    let (status, page) = get(&app, &cookie, "/console/unapplied?lang=km").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!(
        "<form method=\"post\" action=\"/console/unapplied/{}/apply?lang=km\">",
        f.u_usd
    )));
    assert!(page.contains(&format!(
        "<form method=\"post\" action=\"/console/unapplied/{}/refund?lang=km\">",
        f.u_usd
    )));
    assert!(page.contains("<form method=\"post\" action=\"/console/credit/apply?lang=km\">"));
    assert!(page.contains("<form method=\"post\" action=\"/console/credit/refund?lang=km\">"));
    for path in [
        "/console/unapplied",
        "/console/notifications",
        "/console/actions",
    ] {
        let (status, page) = get(&app, &cookie, &format!("{path}?page=2&lang=ms")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            page.contains(&format!(
                "<a href=\"{path}?page=1&#38;lang=ms\" rel=\"prev\">"
            )),
            "{path}: {page}"
        );
    }
    // Without a picked language the links stay bare.
    let (_, page) = get(&app, &cookie, "/console/actions?page=2").await;
    assert!(
        page.contains("<a href=\"/console/actions?page=1\" rel=\"prev\">"),
        "{page}"
    );

    let (status, location, _) = post(
        &app,
        &cookie,
        &format!("/console/unapplied/{}/apply?lang=km", f.u_usd),
        &[("target", "INV-100")],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/console/unapplied?done=applied&lang=km");
    let (status, page) = get(&app, &cookie, &location).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<html lang=\"km\">"));
    assert!(page.contains(console_money::KM.done_applied), "{page}");
}

billhub_http::http_backend_tests!(
    apply_and_refund_unapplied_with_the_action_log,
    credit_is_applied_and_refunded_with_the_action_log,
    viewers_missing_csrf_and_other_organizations_are_refused,
    money_pages_in_khmer_malay_and_indonesian,
    action_log_shows_its_organization_only,
    a_picked_language_stays_through_paging_and_forms,
);
