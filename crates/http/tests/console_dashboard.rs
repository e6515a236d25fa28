//! The console dashboard over real HTTP, on SQLite and PostgreSQL: the 30-day chart (the
//! organization's local days at +07:00, one panel per currency, bars stacked by channel with
//! their exact figures), today's totals, the four languages, and nothing of another
//! organization.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use billhub_core::{Currency, Money, PaymentRule};
use billhub_http::Clock;
use billhub_http::console::auth::COOKIE;
use billhub_http::console::testing::TestConsole;
use billhub_store::testing::TestDb;
use billhub_store::users::{self, Role};
use billhub_store::{
    AccountInput, NewBill, NewOrganization, OnRejection, PaymentRequest, PaymentTarget, Store,
};
use reqwest::StatusCode;
use time::OffsetDateTime;
use time::macros::{date, datetime, offset};

/// 15:00 on 2026-11-21 at +07:00.
const NOW: OffsetDateTime = datetime!(2026-11-21 08:00:00 UTC);
const PASSWORD: &str = "correct horse battery staple";

fn org(store: &Store, code: &str) -> i64 {
    let org = store
        .create_organization(
            &NewOrganization {
                code: Some(code.to_string()),
                name: format!("Org {code}"),
                utc_offset: offset!(+7),
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec![],
            },
            NOW,
        )
        .unwrap();
    let hash = users::hash_password(PASSWORD).unwrap();
    store
        .create_console_user(org.id, "ops@example.com", Role::Viewer, &hash, NOW)
        .unwrap();
    org.id
}

/// A bill of `minor` in `currency`, paid in full through `channel` at `paid_at`.
fn pay(
    store: &Store,
    org_id: i64,
    channel: &str,
    currency: Currency,
    minor: i64,
    paid_at: OffsetDateTime,
) {
    let reference = format!("{org_id}-{channel}-{minor}-{}", paid_at.unix_timestamp());
    let (_, bill) = store
        .create_bill_for_account(
            &AccountInput {
                code: format!("A-{reference}"),
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
                name: "Bill".into(),
                description: String::new(),
                currency,
                billed: minor,
                items: vec![],
                bill_date: date!(2026 - 10 - 01),
                due_date: None,
                valid_until: None,
                rule: PaymentRule::Exact,
                source: "cli".into(),
                extra: "{}".into(),
                va_numbers: vec![],
            },
            NOW,
        )
        .unwrap();
    store
        .post_payment(
            &PaymentRequest {
                organization_id: org_id,
                channel: channel.into(),
                channel_ref: reference.clone(),
                request_hash: billhub_store::fingerprint(&[reference.as_str()]),
                target: PaymentTarget::Bill { bill_id: bill.id },
                amount: Money::from_minor(minor, currency),
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

async fn page(app: &TestConsole, path: &str) -> (StatusCode, String) {
    let resp = app
        .client
        .post(app.url("/console/sign-in"))
        .form(&[
            ("org", "DASHCON1"),
            ("email", "ops@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    assert!(cookie.starts_with(&format!("{COOKIE}=")));
    let resp = app
        .client
        .get(app.url(path))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// The payments of the chart's tests: the first and last instants of the 30 local days, a day
/// boundary, two currencies, two channels, and another organization's money.
fn world(store: &Store) -> i64 {
    let org_id = org(store, "DASHCON1");
    let other = org(store, "OTHERDSH");
    // The first instant of 2026-10-23 at +07:00: the chart's first day.
    pay(
        store,
        org_id,
        "bill24",
        Currency::USD,
        10_000,
        datetime!(2026-10-22 17:00 UTC),
    );
    // The last second of 2026-10-22: one day too old.
    pay(
        store,
        org_id,
        "bill24",
        Currency::USD,
        500,
        datetime!(2026-10-22 16:59:59 UTC),
    );
    // Two payments in the last second of 2026-11-20 (local).
    pay(
        store,
        org_id,
        "bill24",
        Currency::USD,
        2_000,
        datetime!(2026-11-20 16:59:59 UTC),
    );
    pay(
        store,
        org_id,
        "bill24",
        Currency::USD,
        3_000,
        datetime!(2026-11-20 16:59:59 UTC),
    );
    // 2026-11-21 (local): its first instant, riel and dollars.
    pay(
        store,
        org_id,
        "sandbox",
        Currency::USD,
        15_000,
        datetime!(2026-11-20 17:00 UTC),
    );
    pay(
        store,
        org_id,
        "bill24",
        Currency::KHR,
        500_000,
        datetime!(2026-11-21 02:00 UTC),
    );
    pay(
        store,
        org_id,
        "bill24",
        Currency::USD,
        20_000,
        datetime!(2026-11-21 03:00 UTC),
    );
    // Another organization, same days and channels.
    pay(
        store,
        other,
        "bill24",
        Currency::USD,
        99_999_999,
        datetime!(2026-11-21 03:00 UTC),
    );
    pay(
        store,
        other,
        "collections",
        Currency::USD,
        31_337,
        datetime!(2026-11-20 03:00 UTC),
    );
    org_id
}

async fn chart_has_the_exact_figures_per_day_channel_and_currency(db: TestDb) {
    let org_id = world(&db.store);
    let d = db.store.console_dashboard(org_id, NOW).unwrap();
    assert_eq!(d.today, date!(2026 - 11 - 21));
    assert_eq!(d.first_day, date!(2026 - 10 - 23));
    assert_eq!(
        d.by_day
            .iter()
            .map(|t| (
                t.day,
                t.channel.as_str(),
                t.currency.as_str(),
                t.count,
                t.amount
            ))
            .collect::<Vec<_>>(),
        vec![
            (date!(2026 - 10 - 23), "bill24", "USD", 1, 10_000),
            (date!(2026 - 11 - 20), "bill24", "USD", 2, 5_000),
            (date!(2026 - 11 - 21), "bill24", "KHR", 1, 500_000),
            (date!(2026 - 11 - 21), "bill24", "USD", 1, 20_000),
            (date!(2026 - 11 - 21), "sandbox", "USD", 1, 15_000),
        ]
    );

    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let (status, page) = page(&app, "/console/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(
        "<svg id=\"chart-30-days\" role=\"img\" aria-label=\"Collections per channel per day \
         (23 October 2026 – 21 November 2026)\""
    ));
    assert!(page.contains(
        "<title>Collections per channel per day (23 October 2026 – 21 November 2026)</title>"
    ));
    // One panel per currency, each scaled to its largest day; riel first.
    assert!(page.contains(">KHR (KHR 5,000)</text>"));
    assert!(page.contains(">USD ($350.00)</text>"));
    let bars = [
        // KHR: its one day is the whole height.
        "<rect x=\"593\" y=\"24\" width=\"14\" height=\"120\" fill=\"#1f77b4\" data-day=\"2026-11-21\" \
         data-channel=\"bill24\" data-currency=\"KHR\" data-minor=\"500000\">\
         <title>21 November 2026 · bill24 · Payments: 1 · KHR 5,000</title></rect>",
        // USD: 100.00 of 350.00 on the first day.
        "<rect x=\"13\" y=\"276\" width=\"14\" height=\"34\" fill=\"#1f77b4\" data-day=\"2026-10-23\" \
         data-channel=\"bill24\" data-currency=\"USD\" data-minor=\"10000\">\
         <title>23 October 2026 · bill24 · Payments: 1 · $100.00</title></rect>",
        "<rect x=\"573\" y=\"293\" width=\"14\" height=\"17\" fill=\"#1f77b4\" data-day=\"2026-11-20\" \
         data-channel=\"bill24\" data-currency=\"USD\" data-minor=\"5000\">\
         <title>20 November 2026 · bill24 · Payments: 2 · $50.00</title></rect>",
        // Today: bill24 below, sandbox stacked on top, together the whole height.
        "<rect x=\"593\" y=\"242\" width=\"14\" height=\"68\" fill=\"#1f77b4\" data-day=\"2026-11-21\" \
         data-channel=\"bill24\" data-currency=\"USD\" data-minor=\"20000\">\
         <title>21 November 2026 · bill24 · Payments: 1 · $200.00</title></rect>",
        "<rect x=\"593\" y=\"190\" width=\"14\" height=\"52\" fill=\"#d95f02\" data-day=\"2026-11-21\" \
         data-channel=\"sandbox\" data-currency=\"USD\" data-minor=\"15000\">\
         <title>21 November 2026 · sandbox · Payments: 1 · $150.00</title></rect>",
    ];
    for bar in bars {
        assert!(page.contains(bar), "missing {bar}");
    }
    assert_eq!(page.matches("<rect x=").count(), 5);
    // The figures table.
    assert!(page.contains(
        "<tr><td>20 November 2026</td><td>bill24</td><td>USD</td><td class=\"n\">2</td>\
         <td class=\"n\">$50.00</td></tr>"
    ));
    // Today's totals in the same money.
    assert!(page.contains("<h2>Today (21 November 2026)</h2>"));
    assert!(
        page.contains(
            "<tr><td>bill24</td><td class=\"n\">1</td><td class=\"n\">KHR 5,000</td></tr>"
        )
    );
    assert!(
        page.contains(
            "<tr><td>sandbox</td><td class=\"n\">1</td><td class=\"n\">$150.00</td></tr>"
        )
    );
    assert!(page.contains("<tr><td>Paid</td><td class=\"n\">7</td></tr>"));
    // Nothing of the other organization, nor of the day too old.
    assert!(!page.contains("999,999.99"));
    assert!(!page.contains("collections"));
    assert!(!page.contains("OTHERDSH"));
    assert!(!page.contains("$5.00"));
    assert!(!page.contains("2026-10-22"));
}

async fn chart_and_labels_in_each_language(db: TestDb) {
    world(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let (status, km) = page(&app, "/console/?lang=km").await;
    assert_eq!(status, StatusCode::OK);
    assert!(km.contains("<html lang=\"km\">"));
    assert!(km.contains("<h1>ផ្ទាំងគ្រប់គ្រង</h1>"));
    assert!(km.contains("<h2>ការប្រមូលប្រាក់ 30 ថ្ងៃចុងក្រោយ</h2>"));
    assert!(
        km.contains("aria-label=\"ការប្រមូលប្រាក់តាមមធ្យោបាយ ប្រចាំថ្ងៃ (23 តុលា 2026 – 21 វិច្ឆិកា 2026)\"")
    );
    assert!(km.contains("<title>21 វិច្ឆិកា 2026 · bill24 · ការបង់ប្រាក់: 1 · 5,000 ៛</title>"));
    assert!(km.contains("<h2>ថ្ងៃនេះ (21 វិច្ឆិកា 2026)</h2>"));
    assert!(km.contains("<tr><td>បានបង់រួច</td><td class=\"n\">7</td></tr>"));
    // The frame: the navigation keeps the language, the switch marks it.
    assert!(km.contains("<a href=\"/console/payments?lang=km\">ការបង់ប្រាក់</a>"));
    assert!(km.contains("<a href=\"?lang=km\" lang=\"km\" aria-current=\"true\">ខ្មែរ</a>"));
    assert!(km.contains(">ចាកចេញ</button>"));

    let (_, ms) = page(&app, "/console/?lang=ms").await;
    assert!(ms.contains("<html lang=\"ms\">"));
    assert!(ms.contains("<h1>Papan pemuka</h1>"));
    assert!(ms.contains("<h2>Kutipan, 30 hari lepas</h2>"));
    assert!(ms.contains("<title>21 November 2026 · sandbox · Bayaran: 1 · $150.00</title>"));
    assert!(ms.contains("<h2>Hari ini (21 November 2026)</h2>"));
    assert!(ms.contains(">Log keluar</button>"));

    let (_, id) = page(&app, "/console/?lang=id").await;
    assert!(id.contains("<html lang=\"id\">"));
    assert!(id.contains("<h1>Dasbor</h1>"));
    assert!(id.contains("<h2>Penerimaan, 30 hari terakhir</h2>"));
    assert!(id.contains("<title>20 November 2026 · bill24 · Pembayaran: 2 · $50.00</title>"));
    assert!(id.contains("<tr><td>Lunas</td><td class=\"n\">7</td></tr>"));
    assert!(id.contains(">Keluar</button>"));
}

async fn empty_chart_says_so(db: TestDb) {
    org(&db.store, "DASHCON1");
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let (status, page) = page(&app, "/console/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<svg id=\"chart-30-days\" role=\"img\""));
    assert!(page.contains("<p class=\"empty\">No collections in the last 30 days.</p>"));
    assert_eq!(page.matches("<rect x=").count(), 0);
}

billhub_http::http_backend_tests!(
    chart_has_the_exact_figures_per_day_channel_and_currency,
    chart_and_labels_in_each_language,
    empty_chart_says_so,
);
