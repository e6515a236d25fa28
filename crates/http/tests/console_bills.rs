//! The console's bills pages over real HTTP, on SQLite and PostgreSQL: the search by each field
//! (public number, account code, invoice number, VA number, bill and customer names), the status
//! and due filters, pagination, bad filter values, one bill's page with its exact amounts and
//! history, a language other than English, the signed-out redirect, and another organization's
//! bills (never listed, 404 by number).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use billhub_core::reversal::{Claimed, Requester};
use billhub_core::{Bill, Currency, Money, PaymentRule};
use billhub_http::Clock;
use billhub_http::console::auth::COOKIE;
use billhub_http::console::testing::TestConsole;
use billhub_store::repo::console_bills::BillSearch;
use billhub_store::testing::TestDb;
use billhub_store::users::{self, Role};
use billhub_store::{
    AccountInput, NewBill, NewItem, NewOrganization, OnRejection, PaymentRequest, PaymentTarget,
    ReversalRequest, Store,
};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-21 08:00:00 UTC);
const NOW: OffsetDateTime = datetime!(2026-11-21 11:00:00 UTC);
const PASSWORD: &str = "correct horse battery staple";

fn new_org(code: &str, prefix: &str) -> NewOrganization {
    NewOrganization {
        code: Some(code.to_string()),
        name: format!("Org {code}"),
        utc_offset: time::UtcOffset::UTC,
        locale: "en".into(),
        settlement: None,
        va_prefixes: if prefix.is_empty() {
            vec![]
        } else {
            vec![prefix.to_string()]
        },
    }
}

/// An organization with the viewer `staff@example.com` (password [`PASSWORD`]).
fn org_with_user(store: &Store, code: &str, prefix: &str) -> i64 {
    let org = store
        .create_organization(&new_org(code, prefix), T0)
        .unwrap();
    let hash = users::hash_password(PASSWORD).unwrap();
    store
        .create_console_user(org.id, "staff@example.com", Role::Viewer, &hash, T0)
        .unwrap();
    org.id
}

/// What one test bill is made of.
struct Spec<'a> {
    account: AccountInput,
    name: &'a str,
    invoice: &'a str,
    currency: Currency,
    /// (name, quantity, unit price); none: `billed` alone.
    items: Vec<(&'a str, i64, i64)>,
    billed: i64,
    bill_date: Date,
    due: Option<Date>,
    valid_until: Option<OffsetDateTime>,
    va: Option<&'a str>,
}

fn account(code: &str, name: &str) -> AccountInput {
    AccountInput {
        code: code.into(),
        name: name.into(),
        phone: "+85512345678".into(),
        ..AccountInput::default()
    }
}

fn make_bill(store: &Store, org_id: i64, spec: Spec<'_>) -> Bill {
    let (_, bill) = store
        .create_bill_for_account(
            &spec.account,
            &NewBill {
                organization_id: org_id,
                account_id: 0,
                collection_id: None,
                invoice_number: Some(spec.invoice.into()),
                ref1: String::new(),
                ref2: String::new(),
                name: spec.name.into(),
                description: String::new(),
                currency: spec.currency,
                billed: spec.billed,
                items: spec
                    .items
                    .iter()
                    .map(|(name, qty, unit)| NewItem {
                        name: (*name).into(),
                        quantity: Decimal::from(*qty),
                        unit_price: *unit,
                        total: qty * unit,
                        product_id: None,
                    })
                    .collect(),
                bill_date: spec.bill_date,
                due_date: spec.due,
                valid_until: spec.valid_until,
                rule: PaymentRule::Partial { minimum: None },
                source: "cli".into(),
                extra: "{}".into(),
                va_numbers: spec
                    .va
                    .map(|n| vec![(n[..6].to_string(), n[6..].to_string())])
                    .unwrap_or_default(),
            },
            T0 - Duration::days(1),
        )
        .unwrap();
    bill
}

fn pay(
    store: &Store,
    org_id: i64,
    bill: &Bill,
    reference: &str,
    minor: i64,
    at: OffsetDateTime,
) -> billhub_core::Payment {
    store
        .post_payment(
            &PaymentRequest {
                organization_id: org_id,
                channel: "bill24".into(),
                channel_ref: reference.into(),
                request_hash: billhub_store::fingerprint(&[reference]),
                target: PaymentTarget::Bill { bill_id: bill.id },
                amount: Money::from_minor(minor, bill.currency),
                fee: 0,
                method: "test".into(),
                payer_name: String::new(),
                details: "{}".into(),
                paid_at: at,
                on_rejection: OnRejection::Refuse,
            },
            at,
        )
        .unwrap()
        .payment()
        .unwrap()
        .clone()
}

/// The bills of the searches, by name.
struct Fixture {
    org_id: i64,
    /// Water November: USD, two items, a VA number, due 10 December, partly paid then one
    /// payment reversed.
    b1: Bill,
    /// Electricity: KHR, Lina Chan (first and last name only), due 20 December.
    b2: Bill,
    /// Water December: the same account as b1, paid in full, no due date.
    b3: Bill,
    /// Cancelled thing: voided, due 15 October.
    b5: Bill,
    /// Old bill: past its valid-until (expired at NOW, stored active).
    b6: Bill,
    /// Another organization's bill with b1's account code, invoice number and name.
    other: Bill,
    /// b1's payments: kept, then reversed.
    p1: billhub_core::Payment,
    p2: billhub_core::Payment,
}

fn fixture(store: &Store) -> Fixture {
    let org_id = org_with_user(store, "BILLS001", "700001");
    let other_id = org_with_user(store, "BILLS002", "700002");
    let b1 = make_bill(
        store,
        org_id,
        Spec {
            account: account("ACC-100", "Sok Dara"),
            name: "Water November",
            invoice: "INV-1001",
            currency: Currency::USD,
            items: vec![("Water 12 m3", 2, 4_000), ("Meter fee", 1, 4_345)],
            billed: 12_345,
            bill_date: date!(2026 - 11 - 01),
            due: Some(date!(2026 - 12 - 10)),
            valid_until: None,
            va: Some("7000010000000001"),
        },
    );
    let b2 = make_bill(
        store,
        org_id,
        Spec {
            account: AccountInput {
                code: "ACC-200".into(),
                first_name: "Lina".into(),
                last_name: "Chan".into(),
                ..AccountInput::default()
            },
            name: "Electricity",
            invoice: "INV-2002",
            currency: Currency::KHR,
            items: vec![],
            billed: 5_000_000,
            bill_date: date!(2026 - 11 - 02),
            due: Some(date!(2026 - 12 - 20)),
            valid_until: None,
            va: None,
        },
    );
    let b3 = make_bill(
        store,
        org_id,
        Spec {
            account: account("ACC-100", ""),
            name: "Water December",
            invoice: "INV-1003",
            currency: Currency::USD,
            items: vec![],
            billed: 2_000,
            bill_date: date!(2026 - 11 - 03),
            due: None,
            valid_until: None,
            va: None,
        },
    );
    let b5 = make_bill(
        store,
        org_id,
        Spec {
            account: account("ACC-300", "Void Person"),
            name: "Cancelled thing",
            invoice: "INV-3003",
            currency: Currency::USD,
            items: vec![],
            billed: 1_000,
            bill_date: date!(2026 - 10 - 01),
            due: Some(date!(2026 - 10 - 15)),
            valid_until: None,
            va: None,
        },
    );
    store
        .void_bill(b5.id, "entered twice", T0 - Duration::hours(20))
        .unwrap();
    let b6 = make_bill(
        store,
        org_id,
        Spec {
            account: account("ACC-400", "Old Customer"),
            name: "Old bill",
            invoice: "INV-4004",
            currency: Currency::USD,
            items: vec![],
            billed: 3_000,
            bill_date: date!(2026 - 09 - 01),
            due: None,
            valid_until: Some(T0 - Duration::hours(1)),
            va: None,
        },
    );
    let other = make_bill(
        store,
        other_id,
        Spec {
            account: account("ACC-100", "Sok Dara"),
            name: "Water November",
            invoice: "INV-1001",
            currency: Currency::USD,
            items: vec![],
            billed: 99_999,
            bill_date: date!(2026 - 11 - 04),
            due: Some(date!(2026 - 12 - 10)),
            valid_until: None,
            va: Some("7000020000000001"),
        },
    );
    pay(store, org_id, &b3, "P-3", 2_000, T0);
    let p1 = pay(store, org_id, &b1, "P-1", 5_000, T0);
    let p2 = pay(store, org_id, &b1, "P-2", 2_000, T0 + Duration::hours(1));
    store
        .reverse_payment(
            &ReversalRequest {
                organization_id: org_id,
                payment_id: p2.id,
                channel: "bill24".into(),
                channel_ref: "REV-2".into(),
                request_hash: billhub_store::fingerprint(&["REV-2"]),
                reason: "paid twice".into(),
                requester: Requester::Channel,
                claimed: Claimed::Nothing,
                window: None,
            },
            T0 + Duration::hours(2),
        )
        .unwrap();
    Fixture {
        org_id,
        b1: store.bill(b1.id).unwrap(),
        b2,
        b3: store.bill(b3.id).unwrap(),
        b5,
        b6,
        other,
        p1,
        p2,
    }
}

async fn sign_in(app: &TestConsole, org: &str) -> String {
    app.sign_in(org, "staff@example.com", PASSWORD).await
}

async fn get(app: &TestConsole, cookie: &str, path: &str) -> (StatusCode, String) {
    app.get_page(cookie, path).await
}

/// The public numbers listed in a search page's `<table id="bills">`, in order.
fn listed(page: &str) -> Vec<String> {
    let Some(start) = page.find("<table id=\"bills\">") else {
        return vec![];
    };
    let end = start + page[start..].find("</table>").unwrap();
    let marker = "<a href=\"/console/bills/";
    page[start..end]
        .match_indices(marker)
        .map(|(at, _)| {
            let rest = &page[start + at + marker.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

fn nos(bills: &[&Bill]) -> Vec<String> {
    bills.iter().map(|b| b.public_no.clone()).collect()
}

async fn search_finds_each_field_and_filter_in_its_organization_only(db: TestDb) {
    let f = fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let cookie = sign_in(&app, "BILLS001").await;

    // Every bill, newest bill date first; the form is there with its fields.
    let (status, page) = get(&app, &cookie, "/console/bills").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<form id=\"bill-search\" method=\"get\" action=\"/console/bills\""));
    assert!(page.contains("<input id=\"q\" name=\"q\" type=\"search\" value=\"\""));
    assert!(page.contains("<select id=\"status\" name=\"status\">"));
    assert!(page.contains("<input id=\"due_from\" name=\"due_from\" type=\"date\" value=\"\">"));
    assert!(page.contains("<input id=\"due_to\" name=\"due_to\" type=\"date\" value=\"\">"));
    assert_eq!(
        listed(&page),
        nos(&[&f.b3, &f.b2, &f.b1, &f.b5, &f.b6]),
        "{page}"
    );
    // Exact rows: amounts in each currency's form, the status at NOW, the customer's name.
    let b1 = &f.b1.public_no;
    assert!(page.contains(&format!(
        "<tr><td><a href=\"/console/bills/{b1}\">{b1}</a></td><td>INV-1001</td><td>Sok Dara</td>\
         <td>ACC-100</td><td>Water November</td><td>10 December 2026</td><td>Partially paid</td>\
         <td class=\"n\">$123.45</td><td class=\"n\">$73.45</td></tr>"
    )));
    let b2 = &f.b2.public_no;
    assert!(page.contains(&format!(
        "<tr><td><a href=\"/console/bills/{b2}\">{b2}</a></td><td>INV-2002</td><td>Lina Chan</td>\
         <td>ACC-200</td><td>Electricity</td><td>20 December 2026</td><td>Unpaid</td>\
         <td class=\"n\">KHR 50,000</td><td class=\"n\">KHR 50,000</td></tr>"
    )));
    let b6 = &f.b6.public_no;
    assert!(page.contains(&format!(
        "<tr><td><a href=\"/console/bills/{b6}\">{b6}</a></td><td>INV-4004</td><td>Old Customer</td>\
         <td>ACC-400</td><td>Old bill</td><td></td><td>Expired</td>\
         <td class=\"n\">$30.00</td><td class=\"n\">$30.00</td></tr>"
    )));
    assert!(!page.contains(&f.other.public_no));
    assert!(!page.contains("$999.99"));
    assert!(!page.contains("+85512345678"));
    // One page only: no Previous, no Next.
    assert!(page.contains("<span>Page 1</span>"));
    assert!(!page.contains("rel=\"next\""));
    assert!(!page.contains("rel=\"prev\""));

    let cases: Vec<(String, Vec<String>)> = vec![
        // Each search field.
        (format!("q={}", f.b1.public_no), nos(&[&f.b1])),
        (format!("q={}", f.other.public_no), vec![]),
        ("q=ACC-100".into(), nos(&[&f.b3, &f.b1])),
        ("q=INV-2002".into(), nos(&[&f.b2])),
        ("q=INV-1001".into(), nos(&[&f.b1])),
        ("q=7000010000000001".into(), nos(&[&f.b1])),
        ("q=7000020000000001".into(), vec![]),
        ("q=wATer".into(), nos(&[&f.b3, &f.b1])),
        ("q=%20DARA%20".into(), nos(&[&f.b3, &f.b1])),
        ("q=chan".into(), nos(&[&f.b2])),
        ("q=cancel".into(), nos(&[&f.b5])),
        ("q=%25".into(), vec![]),
        ("q=nobody".into(), vec![]),
        // Filters: the status at NOW, the due range (inclusive).
        ("status=active".into(), nos(&[&f.b2])),
        ("status=partially_paid".into(), nos(&[&f.b1])),
        ("status=paid".into(), nos(&[&f.b3])),
        ("status=void".into(), nos(&[&f.b5])),
        ("status=expired".into(), nos(&[&f.b6])),
        ("due_from=2026-12-11".into(), nos(&[&f.b2])),
        ("due_to=2026-12-10".into(), nos(&[&f.b1, &f.b5])),
        (
            "due_from=2026-12-10&due_to=2026-12-20".into(),
            nos(&[&f.b2, &f.b1]),
        ),
        (
            "q=water&status=partially_paid&due_from=2026-12-01".into(),
            nos(&[&f.b1]),
        ),
        ("q=water&status=paid&due_from=".into(), nos(&[&f.b3])),
    ];
    for (query, want) in cases {
        let (status, page) = get(&app, &cookie, &format!("/console/bills?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(listed(&page), want, "{query}");
        if want.is_empty() {
            assert!(
                page.contains("<p class=\"empty\">Nothing found.</p>"),
                "{query}"
            );
        }
        if !query.contains(&f.other.public_no) {
            assert!(!page.contains(&f.other.public_no), "{query}");
        }
    }
    // The form keeps what was asked.
    let (_, page) = get(
        &app,
        &cookie,
        "/console/bills?q=Sok%20%22D%22&status=paid&due_from=2026-12-01",
    )
    .await;
    assert!(page.contains("value=\"Sok &#34;D&#34;\""), "{page}");
    assert!(page.contains("<option value=\"paid\" selected>Paid</option>"));
    assert!(
        page.contains(
            "<input id=\"due_from\" name=\"due_from\" type=\"date\" value=\"2026-12-01\">"
        )
    );

    // The store read itself, for the record.
    let list = db
        .store
        .console_bills(
            f.org_id,
            &BillSearch {
                text: Some("acc-100".into()),
                ..BillSearch::default()
            },
            NOW,
        )
        .unwrap();
    assert!(list.rows.is_empty(), "account codes match exactly");
    assert!(!list.has_next);
}

async fn bad_filter_values_get_the_page_with_a_message(db: TestDb) {
    fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let cookie = sign_in(&app, "BILLS001").await;
    let cases = [
        (
            "status=open",
            vec!["Unknown status: choose one from the list."],
        ),
        (
            "due_from=2026-13-01",
            vec!["A due date must be a date like 2026-12-31."],
        ),
        (
            "due_to=tomorrow",
            vec!["A due date must be a date like 2026-12-31."],
        ),
        (
            "due_from=2026-12-31&due_to=2026-12-01",
            vec!["The due range ends before it starts."],
        ),
        (
            "page=0",
            vec!["The page must be a whole number, 1 or more."],
        ),
        (
            "page=abc",
            vec!["The page must be a whole number, 1 or more."],
        ),
        (
            "page=99999999999999999999",
            vec!["The page must be a whole number, 1 or more."],
        ),
        (
            "status=x&page=-2",
            vec![
                "Unknown status: choose one from the list.",
                "The page must be a whole number, 1 or more.",
            ],
        ),
        (
            "page=1&page=2",
            vec!["The search could not be read: start a new one."],
        ),
    ];
    for (query, messages) in cases {
        let (status, page) = get(&app, &cookie, &format!("/console/bills?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        for m in &messages {
            assert!(
                page.contains(&format!("<p class=\"error\" role=\"alert\">{m}</p>")),
                "{query}: {page}"
            );
        }
        assert_eq!(
            page.matches("role=\"alert\"").count(),
            messages.len(),
            "{query}"
        );
        assert!(!page.contains("<table id=\"bills\">"), "{query}");
        assert!(page.contains("<form id=\"bill-search\""), "{query}");
    }
    let long = "x".repeat(101);
    let (status, page) = get(&app, &cookie, &format!("/console/bills?q={long}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("The search text is too long: at most 100 characters."));
    // A page past the end is simply empty.
    let (status, page) = get(&app, &cookie, "/console/bills?page=7").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<p class=\"empty\">Nothing found.</p>"));
    assert!(page.contains("rel=\"prev\" href=\"/console/bills?page=6\""));
}

async fn pages_of_fifty_keep_the_filters(db: TestDb) {
    let org_id = org_with_user(&db.store, "BILLS003", "");
    let mut bills = Vec::new();
    for i in 0..52i64 {
        bills.push(make_bill(
            &db.store,
            org_id,
            Spec {
                account: account("BULK", "Bulk Buyer"),
                name: &format!("Bulk {i:02}"),
                invoice: &format!("BULK-{i:02}"),
                currency: Currency::USD,
                items: vec![],
                billed: 100 + i,
                bill_date: date!(2026 - 01 - 01) + Duration::days(i),
                due: Some(date!(2026 - 12 - 31)),
                valid_until: None,
                va: None,
            },
        ));
    }
    // One that the filter leaves out, the newest of all.
    let paid = make_bill(
        &db.store,
        org_id,
        Spec {
            account: account("BULK", "Bulk Buyer"),
            name: "Bulk paid",
            invoice: "BULK-P",
            currency: Currency::USD,
            items: vec![],
            billed: 5,
            bill_date: date!(2026 - 11 - 01),
            due: Some(date!(2026 - 12 - 31)),
            valid_until: None,
            va: None,
        },
    );
    pay(&db.store, org_id, &paid, "P-BULK", 5, T0);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let cookie = sign_in(&app, "BILLS003").await;
    let newest_first: Vec<String> = bills.iter().rev().map(|b| b.public_no.clone()).collect();

    let (status, page) = get(&app, &cookie, "/console/bills?q=bulk&status=active&lang=en").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&page), newest_first[..50].to_vec());
    assert!(page.contains("<span>Page 1</span>"));
    assert!(!page.contains("rel=\"prev\""));
    assert!(page.contains(
        "<a rel=\"next\" href=\"/console/bills?q=bulk&#38;status=active&#38;lang=en&#38;page=2\">Next</a>"
    ));
    assert!(page.contains("<input type=\"hidden\" name=\"lang\" value=\"en\">"));

    let (status, page) = get(
        &app,
        &cookie,
        "/console/bills?q=bulk&status=active&lang=en&page=2",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&page), newest_first[50..].to_vec());
    assert_eq!(listed(&page), nos(&[&bills[1], &bills[0]]));
    assert!(page.contains("<span>Page 2</span>"));
    assert!(page.contains(
        "<a rel=\"prev\" href=\"/console/bills?q=bulk&#38;status=active&#38;lang=en&#38;page=1\">Previous</a>"
    ));
    assert!(!page.contains("rel=\"next\""));

    // Without the filter the paid bill leads and 53 bills make two pages.
    let (_, page) = get(&app, &cookie, "/console/bills").await;
    assert_eq!(listed(&page)[0], paid.public_no);
    assert_eq!(listed(&page).len(), 50);
    let (_, page) = get(&app, &cookie, "/console/bills?page=2").await;
    assert_eq!(listed(&page), nos(&[&bills[2], &bills[1], &bills[0]]));
}

async fn bill_page_shows_exact_amounts_payments_reversals_and_history(db: TestDb) {
    let f = fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let cookie = sign_in(&app, "BILLS001").await;
    let no = &f.b1.public_no;
    let (status, page) = get(&app, &cookie, &format!("/console/bills/{no}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("<h1>Bill {no}</h1>")));
    assert!(page.contains("<dt>Status</dt><dd id=\"status\">Partially paid</dd>"));
    assert!(page.contains("<dt>Invoice</dt><dd>INV-1001</dd>"));
    assert!(page.contains("<dt>Customer</dt><dd>Sok Dara</dd>"));
    assert!(page.contains("<dt>Account</dt><dd>ACC-100</dd>"));
    assert!(page.contains("<dt>Due date</dt><dd>10 December 2026</dd>"));
    assert!(page.contains("<dt>Valid until</dt><dd>-</dd>"));
    assert!(page.contains("<tr><th>Billed</th><td class=\"n\" id=\"billed\">$123.45</td></tr>"));
    assert!(page.contains("<tr><th>Paid</th><td class=\"n\" id=\"paid\">$50.00</td></tr>"));
    assert!(
        page.contains(
            "<tr><th>Outstanding</th><td class=\"n\" id=\"outstanding\">$73.45</td></tr>"
        )
    );
    // The VA number is still active: the bill is payable.
    assert!(page.contains("<li>7000010000000001</li>"));
    assert!(page.contains("<section id=\"items\">"));
    assert!(page.contains(
        "<tr><td>Water 12 m3</td><td class=\"n\">2</td><td class=\"n\">$40.00</td><td class=\"n\">$80.00</td></tr>"
    ));
    assert!(page.contains(
        "<tr><td>Meter fee</td><td class=\"n\">1</td><td class=\"n\">$43.45</td><td class=\"n\">$43.45</td></tr>"
    ));
    assert!(page.contains("<section id=\"payments\">"));
    assert!(page.contains(&format!(
        "<tr><td><code class=\"bills-id\">{}</code></td><td>bill24</td><td>P-1</td>\
         <td class=\"n\">$50.00</td><td class=\"n\">$50.00</td><td>21 November 2026, 08:00 (UTC+00:00)</td></tr>",
        f.p1.uid
    )));
    assert!(page.contains(&format!(
        "<tr><td><code class=\"bills-id\">{}</code> <span class=\"bills-tag\">reversed</span></td>\
         <td>bill24</td><td>P-2</td><td class=\"n\">$20.00</td><td class=\"n\">$20.00</td>\
         <td>21 November 2026, 09:00 (UTC+00:00)</td></tr>",
        f.p2.uid
    )));
    assert!(page.contains("<section id=\"reversals\">"));
    assert!(page.contains(&format!(
        "<tr><td><code class=\"bills-id\">{}</code></td><td>REV-2</td><td>paid twice</td>\
         <td class=\"n\">$20.00</td><td>21 November 2026, 10:00 (UTC+00:00)</td></tr>",
        f.p2.uid
    )));
    // The whole history, oldest first.
    let history = &page[page.find("<section id=\"history\">").unwrap()..];
    let lines: Vec<&str> = history
        .lines()
        .filter(|l| l.starts_with("<tr><td>"))
        .collect();
    assert_eq!(
        lines,
        vec![
            "<tr><td>20 November 2026, 08:00 (UTC+00:00)</td><td>Created</td><td class=\"n\">$123.45</td><td>Unpaid</td><td class=\"n\">$0.00</td><td></td><td></td></tr>".to_string(),
            format!("<tr><td>21 November 2026, 08:00 (UTC+00:00)</td><td>Payment</td><td class=\"n\">$50.00</td><td>Partially paid</td><td class=\"n\">$50.00</td><td><code class=\"bills-id\">{}</code></td><td></td></tr>", f.p1.uid),
            format!("<tr><td>21 November 2026, 09:00 (UTC+00:00)</td><td>Payment</td><td class=\"n\">$20.00</td><td>Partially paid</td><td class=\"n\">$70.00</td><td><code class=\"bills-id\">{}</code></td><td></td></tr>", f.p2.uid),
            format!("<tr><td>21 November 2026, 10:00 (UTC+00:00)</td><td>Reversal</td><td class=\"n\">$20.00</td><td>Partially paid</td><td class=\"n\">$50.00</td><td><code class=\"bills-id\">{}</code></td><td></td></tr>", f.p2.uid),
        ]
    );
    // No payer contact details; no receipt links (they are not on this origin).
    assert!(!page.contains("+85512345678"));
    assert!(!page.contains("/r/"));

    // A voided bill: its history keeps the reason; its VA-less, paymentless sections say so.
    let (status, page) = get(&app, &cookie, &format!("/console/bills/{}", f.b5.public_no)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<dd id=\"status\">Cancelled</dd>"));
    assert!(page.contains("<p class=\"empty\">No items.</p>"));
    assert!(page.contains("<p class=\"empty\">No payments.</p>"));
    assert!(page.contains("<p class=\"empty\">No reversals.</p>"));
    assert!(page.contains("<p class=\"empty\">No VA numbers.</p>"));
    assert!(page.contains("<td>Voided</td><td class=\"n\"></td><td>Cancelled</td><td class=\"n\">$0.00</td><td></td><td><code class=\"bills-id\">"));
    assert!(page.contains("entered twice"));

    // A riel bill in Khmer: its amounts in the Khmer form.
    let (_, page) = get(
        &app,
        &cookie,
        &format!("/console/bills/{}?lang=km", f.b2.public_no),
    )
    .await;
    assert!(page.contains("<html lang=\"km\">"));
    assert!(
        page.contains("<tr><th>ទឹកប្រាក់សរុប</th><td class=\"n\" id=\"billed\">50,000 ៛</td></tr>")
    );
    assert!(page.contains("<dt>អតិថិជន</dt><dd>Lina Chan</dd>"));
}

async fn bill_pages_in_indonesian(db: TestDb) {
    let f = fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let cookie = sign_in(&app, "BILLS001").await;
    let no = &f.b1.public_no;
    let (status, page) = get(&app, &cookie, &format!("/console/bills/{no}?lang=id")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<html lang=\"id\">"));
    assert!(page.contains(&format!("<h1>Tagihan {no}</h1>")));
    assert!(page.contains("<dt>Status</dt><dd id=\"status\">Dibayar sebagian</dd>"));
    assert!(page.contains("<dt>Jatuh tempo</dt><dd>10 Desember 2026</dd>"));
    assert!(
        page.contains("<tr><th>Total tagihan</th><td class=\"n\" id=\"billed\">$123.45</td></tr>")
    );
    assert!(
        page.contains(
            "<tr><th>Sisa tagihan</th><td class=\"n\" id=\"outstanding\">$73.45</td></tr>"
        )
    );
    assert!(page.contains("<h2>Rincian</h2>"));
    assert!(page.contains("<h2>Pembayaran</h2>"));
    assert!(page.contains("<h2>Pembatalan</h2>"));
    assert!(page.contains("<h2>Riwayat</h2>"));
    assert!(page.contains("<td>21 November 2026 10.00 (UTC+00:00)</td><td>Pembatalan</td>"));
    assert!(page.contains("<td>Dibuat</td>"));
    assert!(page.contains("<span class=\"bills-tag\">dibatalkan</span>"));

    // The search by Accept-Language, with its messages in Indonesian.
    let resp = app
        .client
        .get(app.url("/console/bills?status=open&due_from=kemarin"))
        .header("Cookie", format!("{COOKIE}={cookie}"))
        .header("Accept-Language", "id-ID,id;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let page = resp.text().await.unwrap();
    assert!(page.contains("<label for=\"q\">Cari tagihan</label>"));
    assert!(page.contains("<option value=\"\">Semua status</option>"));
    assert!(page.contains("<option value=\"paid\">Lunas</option>"));
    assert!(page.contains("<label for=\"due_from\">Jatuh tempo dari</label>"));
    assert!(page.contains("Status tidak dikenal: pilih salah satu dari daftar."));
    assert!(page.contains("Tanggal jatuh tempo harus berupa tanggal seperti 2026-12-31."));
    let (_, page) = get(&app, &cookie, "/console/bills?q=INV-2002&lang=id").await;
    assert!(page.contains("<th class=\"n\">Sisa tagihan</th>"));
    assert!(page.contains("<td>Lina Chan</td><td>ACC-200</td><td>Electricity</td><td>20 Desember 2026</td><td>Belum dibayar</td><td class=\"n\">KHR 50,000</td>"));
}

async fn signed_out_requests_go_to_sign_in(db: TestDb) {
    let f = fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    for path in [
        "/console/bills".to_string(),
        "/console/bills?q=ACC-100".to_string(),
        format!("/console/bills/{}", f.b1.public_no),
    ] {
        let resp = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(resp.headers()["location"], "/console/sign-in", "{path}");
        let resp = app
            .client
            .get(app.url(&path))
            .header("Cookie", format!("{COOKIE}=not-a-session"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
    }
}

async fn another_organizations_bill_is_the_same_404_as_an_unknown_one(db: TestDb) {
    let f = fixture(&db.store);
    let app = TestConsole::spawn(&db, Clock::fixed(NOW)).await;
    let cookie = sign_in(&app, "BILLS001").await;
    let (status, theirs) = get(
        &app,
        &cookie,
        &format!("/console/bills/{}", f.other.public_no),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(theirs.contains("<h1>Bill not found</h1>"));
    assert!(!theirs.contains("$999.99"));
    let (status, unknown) = get(&app, &cookie, "/console/bills/ZZZZ9999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(theirs, unknown);
    let (status, odd) = get(&app, &cookie, "/console/bills/%3Cscript%3E").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(odd, unknown);
    // The other organization sees its own bill and none of ours.
    let cookie2 = sign_in(&app, "BILLS002").await;
    let (status, page) = get(
        &app,
        &cookie2,
        &format!("/console/bills/{}", f.other.public_no),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<tr><th>Billed</th><td class=\"n\" id=\"billed\">$999.99</td></tr>"));
    let (status, _) = get(
        &app,
        &cookie2,
        &format!("/console/bills/{}", f.b1.public_no),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = get(&app, &cookie2, "/console/bills?q=water").await;
    assert_eq!(listed(&page), nos(&[&f.other]));
    let (_, page) = get(&app, &cookie2, "/console/bills?q=7000010000000001").await;
    assert!(listed(&page).is_empty());
}

billhub_http::http_backend_tests!(
    search_finds_each_field_and_filter_in_its_organization_only,
    bad_filter_values_get_the_page_with_a_message,
    pages_of_fifty_keep_the_filters,
    bill_page_shows_exact_amounts_payments_reversals_and_history,
    bill_pages_in_indonesian,
    signed_out_requests_go_to_sign_in,
    another_organizations_bill_is_the_same_404_as_an_unknown_one,
);
