//! The console's payments list and CSV over real HTTP, on SQLite and PostgreSQL: exact rows in
//! the exporter's order for the organization's local days (+07:00), the filters (dates, channel,
//! status, page), refused filters, the CSV byte for byte against `billhub export payments`'s
//! exporter, the four languages, and nothing of another organization.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use billhub_core::reversal::{Claimed, Requester};
use billhub_core::{Currency, Money, PaymentRule};
use billhub_http::Clock;
use billhub_http::console::testing::TestConsole;
use billhub_store::export::{ExportFormat, ExportQuery, local_days};
use billhub_store::testing::TestDb;
use billhub_store::users::{self, Role};
use billhub_store::{
    AccountInput, NewBill, NewOrganization, OnRejection, PaymentRequest, PaymentTarget, PostResult,
    Resolution, ReversalRequest, Store,
};
use reqwest::StatusCode;
use time::macros::{date, datetime, offset};
use time::{Date, OffsetDateTime};

/// 15:00 on 2026-11-21 at +07:00: the default range is 2026-11-15..=2026-11-21.
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

/// A payment as the list shows it.
struct Paid {
    id: i64,
    uid: String,
    reference: String,
    account: String,
    bill: String,
}

/// A bill of `minor` in `currency` for account `account`, paid in full through `channel`.
fn pay(
    store: &Store,
    org_id: i64,
    channel: &str,
    account: &str,
    currency: Currency,
    minor: i64,
    paid_at: OffsetDateTime,
) -> Paid {
    let reference = format!("REF-{org_id}-{account}-{}", paid_at.unix_timestamp());
    let (_, bill) = store
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
                invoice_number: None,
                ref1: String::new(),
                ref2: String::new(),
                name: "Bill".into(),
                description: String::new(),
                currency,
                billed: minor,
                items: vec![],
                bill_date: date!(2026 - 11 - 01),
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
    let out = store
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
    let p = out.payment().unwrap();
    Paid {
        id: p.id,
        uid: p.uid.clone(),
        reference,
        account: account.into(),
        bill: bill.public_no,
    }
}

/// Money for an unknown account, recorded unapplied; its id.
fn unapplied(
    store: &Store,
    org_id: i64,
    channel: &str,
    reference: &str,
    minor: i64,
    at: OffsetDateTime,
) -> i64 {
    let out = store
        .post_payment(
            &PaymentRequest {
                organization_id: org_id,
                channel: channel.into(),
                channel_ref: reference.into(),
                request_hash: billhub_store::fingerprint(&[reference]),
                target: PaymentTarget::Unknown {
                    account_code: "NOBODY".into(),
                },
                amount: Money::from_minor(minor, Currency::USD),
                fee: 0,
                method: "test".into(),
                payer_name: String::new(),
                details: "{}".into(),
                paid_at: at,
                on_rejection: OnRejection::RecordUnapplied,
            },
            at,
        )
        .unwrap();
    match out.result {
        PostResult::Unapplied(u) => u.id,
        other => panic!("not unapplied: {other:?}"),
    }
}

struct World {
    org_id: i64,
    /// bill24, 123.45 USD, the first instant of 2026-11-15 (local).
    first: Paid,
    /// sandbox, 50.00 USD, reversed.
    reversed: Paid,
    /// bill24, 5000 KHR.
    riel: Paid,
    /// bill24 7.00 USD unapplied, open.
    open: i64,
    /// sandbox 3.00 USD unapplied, refunded.
    refunded: i64,
}

fn world(store: &Store) -> World {
    let org_id = org(store, "PAYCON01");
    let other = org(store, "OTHERPAY");
    // The last second of 2026-11-14 (local): outside the default range.
    pay(
        store,
        org_id,
        "sandbox",
        "ACC-OLD",
        Currency::USD,
        999,
        datetime!(2026-11-14 16:59:59 UTC),
    );
    let first = pay(
        store,
        org_id,
        "bill24",
        "ACC-1",
        Currency::USD,
        12_345,
        datetime!(2026-11-14 17:00 UTC),
    );
    let reversed = pay(
        store,
        org_id,
        "sandbox",
        "ACC-2",
        Currency::USD,
        5_000,
        datetime!(2026-11-20 03:00 UTC),
    );
    store
        .reverse_payment(
            &ReversalRequest {
                organization_id: org_id,
                payment_id: reversed.id,
                channel: "sandbox".into(),
                channel_ref: "REV-1".into(),
                request_hash: billhub_store::fingerprint(&["REV-1"]),
                reason: "test".into(),
                requester: Requester::Channel,
                claimed: Claimed::Nothing,
                window: None,
            },
            datetime!(2026-11-20 05:00 UTC),
        )
        .unwrap();
    let riel = pay(
        store,
        org_id,
        "bill24",
        "ACC-3",
        Currency::KHR,
        500_000,
        datetime!(2026-11-21 01:00 UTC),
    );
    let open = unapplied(
        store,
        org_id,
        "bill24",
        "UN-1",
        700,
        datetime!(2026-11-20 04:00 UTC),
    );
    let refunded = unapplied(
        store,
        org_id,
        "sandbox",
        "UN-2",
        300,
        datetime!(2026-11-20 06:00 UTC),
    );
    store
        .resolve_unapplied(
            refunded,
            &Resolution::Refunded {
                note: "given back".into(),
            },
            datetime!(2026-11-20 07:00 UTC),
        )
        .unwrap();
    // Another organization's money in the same days and channels.
    pay(
        store,
        other,
        "bill24",
        "ACC-1",
        Currency::USD,
        99_999_999,
        datetime!(2026-11-20 03:00 UTC),
    );
    unapplied(
        store,
        other,
        "bill24",
        "UN-OTHER",
        31_337,
        datetime!(2026-11-20 04:00 UTC),
    );
    World {
        org_id,
        first,
        reversed,
        riel,
        open,
        refunded,
    }
}

/// A signed-in client's cookie header.
async fn cookie(app: &TestConsole) -> String {
    let resp = app
        .client
        .post(app.url("/console/sign-in"))
        .form(&[
            ("org", "PAYCON01"),
            ("email", "ops@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    set.split(';').next().unwrap().to_string()
}

async fn get(app: &TestConsole, cookie: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn page(app: &TestConsole, cookie: &str, path: &str) -> (StatusCode, String) {
    let resp = get(app, cookie, path).await;
    (resp.status(), resp.text().await.unwrap())
}

/// The rows of `<table id="payments">`, one string each.
fn rows(page: &str) -> Vec<String> {
    let Some(start) = page.find("<table id=\"payments\">") else {
        return Vec::new();
    };
    let table = &page[start..];
    let body =
        &table[table.find("<tbody>").unwrap() + "<tbody>".len()..table.find("</tbody>").unwrap()];
    body.lines()
        .filter(|l| l.starts_with("<tr>"))
        .map(String::from)
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn row(
    time: &str,
    payment: &str,
    channel: &str,
    reference: &str,
    account: &str,
    bill: Option<&str>,
    amounts: [&str; 3],
    status: &str,
) -> String {
    let bills = bill
        .map(|b| format!("<a href=\"/console/bills/{b}\">{b}</a>"))
        .unwrap_or_default();
    format!(
        "<tr><td>{time}</td><td>{payment}</td><td>{channel}</td><td>{reference}</td>\
         <td>{account}</td><td>{bills}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td><td>{status}</td></tr>",
        amounts[0], amounts[1], amounts[2]
    )
}

fn expected_rows(w: &World) -> Vec<String> {
    let zero = "$0.00";
    vec![
        row(
            "15 November 2026, 00:00 (UTC+07:00)",
            &w.first.uid,
            "bill24",
            &w.first.reference,
            &w.first.account,
            Some(&w.first.bill),
            ["$123.45", zero, zero],
            "applied",
        ),
        row(
            "20 November 2026, 10:00 (UTC+07:00)",
            &w.reversed.uid,
            "sandbox",
            &w.reversed.reference,
            &w.reversed.account,
            Some(&w.reversed.bill),
            ["$50.00", zero, zero],
            "reversed",
        ),
        row(
            "21 November 2026, 08:00 (UTC+07:00)",
            &w.riel.uid,
            "bill24",
            &w.riel.reference,
            &w.riel.account,
            Some(&w.riel.bill),
            ["KHR 5,000", "KHR 0", "KHR 0"],
            "applied",
        ),
        row(
            "20 November 2026, 11:00 (UTC+07:00)",
            &format!("unapplied:{}", w.open),
            "bill24",
            "UN-1",
            "NOBODY",
            None,
            ["$7.00", zero, zero],
            "unapplied",
        ),
        row(
            "20 November 2026, 13:00 (UTC+07:00)",
            &format!("unapplied:{}", w.refunded),
            "sandbox",
            "UN-2",
            "NOBODY",
            None,
            ["$3.00", zero, zero],
            "refunded",
        ),
    ]
}

/// What `billhub export payments` writes for these days and channel.
fn exported(store: &Store, org_id: i64, from: Date, to: Date, channel: Option<&str>) -> String {
    let (start, end) = local_days(from, to, offset!(+7)).unwrap();
    let q = ExportQuery {
        organization_id: org_id,
        offset: offset!(+7),
        from: start,
        to: end,
        channel: channel.map(String::from),
    };
    let mut out = Vec::new();
    store
        .export_payments(&q, ExportFormat::Csv, &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

async fn list_shows_the_exact_rows_of_the_last_seven_days(db: TestDb) {
    let w = world(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let c = cookie(&app).await;
    let (status, body) = page(&app, &c, "/console/payments").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&body), expected_rows(&w));
    assert!(body.contains("<p class=\"range\">Rows 1–5 of 5</p>"));
    assert!(body.contains("<input type=\"date\" id=\"from\" name=\"from\" value=\"2026-11-15\">"));
    assert!(body.contains("<input type=\"date\" id=\"to\" name=\"to\" value=\"2026-11-21\">"));
    assert!(body.contains(
        "<a id=\"payments-csv\" href=\"/console/payments.csv?from=2026-11-15&#38;to=2026-11-21\" download>Download CSV</a>"
    ));
    // The channel choices: the channels of the range.
    assert!(body.contains("<option value=\"bill24\">bill24</option>"));
    assert!(body.contains("<option value=\"sandbox\">sandbox</option>"));
    assert!(!body.contains("rel=\"next\""));
    assert!(!body.contains("rel=\"prev\""));
    // Nothing of the other organization, nor of the day before.
    assert!(!body.contains("999,999.99"));
    assert!(!body.contains("313.37"));
    assert!(!body.contains("UN-OTHER"));
    assert!(!body.contains("ACC-OLD"));
    assert!(!body.contains("$9.99"));
}

async fn filters_by_days_channel_and_status(db: TestDb) {
    let w = world(&db.store);
    let all = expected_rows(&w);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let c = cookie(&app).await;
    let cases: [(&str, Vec<usize>); 9] = [
        ("?channel=bill24", vec![0, 2, 3]),
        ("?channel=sandbox", vec![1, 4]),
        ("?status=applied", vec![0, 2]),
        ("?status=reversed", vec![1]),
        ("?status=unapplied", vec![3]),
        ("?status=refunded", vec![4]),
        ("?channel=sandbox&status=applied", vec![]),
        ("?from=2026-11-20&to=2026-11-20", vec![1, 3, 4]),
        ("?from=2026-11-21", vec![2]),
    ];
    for (query, want) in cases {
        let (status, body) = page(&app, &c, &format!("/console/payments{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let want: Vec<String> = want.iter().map(|i| all[*i].clone()).collect();
        assert_eq!(rows(&body), want, "{query}");
        if want.is_empty() {
            assert!(body.contains("<p class=\"empty\">Nothing found.</p>"));
        }
    }
    // The day before the default range, and its own channel choices.
    let (_, body) = page(&app, &c, "/console/payments?from=2026-11-14&to=2026-11-14").await;
    let old = rows(&body);
    assert_eq!(old.len(), 1);
    assert!(old[0].contains("<td>ACC-OLD</td>"));
    assert!(old[0].contains("$9.99"));
    assert!(body.contains("<option value=\"sandbox\">sandbox</option>"));
    assert!(!body.contains("<option value=\"bill24\">"));
    // The form keeps the filters; the CSV link carries them.
    let (_, body) = page(
        &app,
        &c,
        "/console/payments?channel=sandbox&status=reversed",
    )
    .await;
    assert!(body.contains("<option value=\"sandbox\" selected>sandbox</option>"));
    assert!(body.contains("<option value=\"reversed\" selected>reversed</option>"));
    assert!(body.contains(
        "href=\"/console/payments.csv?from=2026-11-15&#38;to=2026-11-21&#38;channel=sandbox&#38;status=reversed\""
    ));
}

async fn pages_of_fifty(db: TestDb) {
    let org_id = org(&db.store, "PAYCON01");
    for i in 0..53 {
        pay(
            &db.store,
            org_id,
            "sandbox",
            &format!("ACC-{i:02}"),
            Currency::USD,
            100 + i,
            datetime!(2026-11-20 00:00 UTC) + time::Duration::minutes(i),
        );
    }
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let c = cookie(&app).await;
    let (_, one) = page(&app, &c, "/console/payments").await;
    let first = rows(&one);
    assert_eq!(first.len(), 50);
    assert!(first[0].contains("<td>ACC-00</td>"));
    assert!(first[49].contains("<td>ACC-49</td>"));
    assert!(one.contains("<p class=\"range\">Rows 1–50 of 53</p>"));
    assert!(one.contains(
        "<a href=\"/console/payments?from=2026-11-15&#38;to=2026-11-21&#38;page=2\" rel=\"next\">Next</a>"
    ));
    let (_, two) = page(&app, &c, "/console/payments?page=2").await;
    let second = rows(&two);
    assert_eq!(second.len(), 3);
    assert!(second[0].contains("<td>ACC-50</td>"));
    assert!(second[2].contains("<td>ACC-52</td>"));
    assert!(second[2].contains("$1.52"));
    assert!(two.contains("<p class=\"range\">Rows 51–53 of 53</p>"));
    assert!(two.contains(
        "<a href=\"/console/payments?from=2026-11-15&#38;to=2026-11-21&#38;page=1\" rel=\"prev\">Previous</a>"
    ));
    assert!(!two.contains("rel=\"next\""));
    let (_, beyond) = page(&app, &c, "/console/payments?page=3").await;
    assert!(rows(&beyond).is_empty());
}

async fn csv_is_the_exporters_byte_for_byte(db: TestDb) {
    let w = world(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let c = cookie(&app).await;
    let from = date!(2026 - 11 - 15);
    let to = date!(2026 - 11 - 21);

    let resp = get(&app, &c, "/console/payments.csv").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"payments-PAYCON01-2026-11-15-2026-11-21.csv\""
    );
    let csv = resp.text().await.unwrap();
    let want = exported(&db.store, w.org_id, from, to, None);
    assert_eq!(csv, want);
    let lines: Vec<&str> = want.lines().collect();
    assert_eq!(lines.len(), 6);
    assert!(
        lines[0].starts_with("payment,paid_at,channel,channel_name,channel_ref,account,bills,")
    );
    assert!(lines[1].starts_with(&format!(
        "{},2026-11-15T00:00:00+07:00,bill24,",
        w.first.uid
    )));
    assert!(lines[2].contains(",50.00,0.00,0.00,reversed,2026-11-20T12:00:00+07:00,"));
    assert!(lines[5].starts_with(&format!("unapplied:{},", w.refunded)));

    // The same range and channel as the exporter's.
    let csv = get(
        &app,
        &c,
        "/console/payments.csv?from=2026-11-14&to=2026-11-20&channel=sandbox",
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(
        csv,
        exported(
            &db.store,
            w.org_id,
            date!(2026 - 11 - 14),
            date!(2026 - 11 - 20),
            Some("sandbox")
        )
    );
    assert_eq!(csv.lines().count(), 4);

    // A status keeps the exporter's lines of that status.
    let csv = get(&app, &c, "/console/payments.csv?status=reversed")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv, format!("{}\n{}\n", lines[0], lines[2]));
    let csv = get(&app, &c, "/console/payments.csv?status=unapplied")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv, format!("{}\n{}\n", lines[0], lines[4]));

    // An empty range is still a CSV with its header.
    let resp = get(
        &app,
        &c,
        "/console/payments.csv?from=2026-01-01&to=2026-01-31",
    )
    .await;
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"payments-PAYCON01-2026-01-01-2026-01-31.csv\""
    );
    assert_eq!(resp.text().await.unwrap(), format!("{}\n", lines[0]));

    // Signed out: the sign-in page, no rows.
    let resp = app
        .client
        .get(app.url("/console/payments.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/console/sign-in");
}

async fn bad_filters_get_the_page_with_a_message(db: TestDb) {
    world(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let c = cookie(&app).await;
    let cases = [
        ("?from=2026-13-01", "Not a date (YYYY-MM-DD): 2026-13-01"),
        (
            "?from=2026-11-21&to=2026-11-20",
            "The last day is before the first day.",
        ),
        ("?status=pending", "No such status: pending"),
        ("?channel=%3Cb%3E", "No such channel: &#60;b&#62;"),
        ("?page=0", "Not a page number: 0"),
        ("?page=two", "Not a page number: two"),
    ];
    for (query, message) in cases {
        for path in ["/console/payments", "/console/payments.csv"] {
            let resp = get(&app, &c, &format!("{path}{query}")).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}{query}");
            assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
            let body = resp.text().await.unwrap();
            assert!(
                body.contains(&format!("<p class=\"error\" role=\"alert\">{message}</p>")),
                "{path}{query}: {body}"
            );
            assert!(rows(&body).is_empty());
            assert!(!body.contains("id=\"payments-csv\""));
        }
    }
    // The form shows what was typed.
    let (_, body) = page(&app, &c, "/console/payments?from=2026-13-01").await;
    assert!(body.contains("name=\"from\" value=\"2026-13-01\""));
}

async fn labels_in_each_language(db: TestDb) {
    world(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let c = cookie(&app).await;
    let (status, km) = page(&app, &c, "/console/payments?lang=km&status=reversed").await;
    assert_eq!(status, StatusCode::OK);
    assert!(km.contains("<html lang=\"km\">"));
    assert!(km.contains("<h1>ការបង់ប្រាក់</h1>"));
    assert!(km.contains("<label for=\"from\">ពី</label>"));
    assert!(km.contains("<th>ពេលវេលា</th>"));
    assert!(km.contains(">ទាញយក CSV</a>"));
    assert!(km.contains("<td>20 វិច្ឆិកា 2026 ម៉ោង 10:00 (UTC+07:00)</td>"));
    assert!(km.contains("<td>បានលុបចោល</td></tr>"));
    assert!(km.contains("<input type=\"hidden\" name=\"lang\" value=\"km\">"));
    assert!(km.contains("&#38;status=reversed&#38;lang=km\" download>"));
    // The language switch keeps the other filters.
    assert!(km.contains("<a href=\"?status=reversed&#38;lang=ms\" lang=\"ms\">Bahasa Melayu</a>"));

    let (_, riel) = page(
        &app,
        &c,
        "/console/payments?lang=km&channel=bill24&status=applied",
    )
    .await;
    assert!(riel.contains("<td class=\"n\">5,000 ៛</td>"));

    let (_, ms) = page(&app, &c, "/console/payments?lang=ms").await;
    assert!(ms.contains("<h1>Bayaran</h1>"));
    assert!(ms.contains("<label for=\"to\">Hingga</label>"));
    assert!(ms.contains(">Muat turun CSV</a>"));
    assert!(ms.contains("<p class=\"range\">Baris 1–5 daripada 5</p>"));
    assert!(ms.contains("<td>dipulangkan</td></tr>"));

    let (_, id) = page(&app, &c, "/console/payments?lang=id").await;
    assert!(id.contains("<h1>Pembayaran</h1>"));
    assert!(id.contains("<label for=\"to\">Sampai</label>"));
    assert!(id.contains(">Unduh CSV</a>"));
    assert!(id.contains("<td>20 November 2026 10.00 (UTC+07:00)</td>"));
    assert!(id.contains("<td>belum teralokasi</td></tr>"));

    let (_, bad) = page(&app, &c, "/console/payments?lang=id&from=kemarin").await;
    assert!(
        bad.contains("<p class=\"error\" role=\"alert\">Bukan tanggal (YYYY-MM-DD): kemarin</p>")
    );
}

billhub_http::http_backend_tests!(
    list_shows_the_exact_rows_of_the_last_seven_days,
    filters_by_days_channel_and_status,
    pages_of_fifty,
    csv_is_the_exporters_byte_for_byte,
    bad_filters_get_the_page_with_a_message,
    labels_in_each_language,
);
