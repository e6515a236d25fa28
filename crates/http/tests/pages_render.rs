//! The payer pages over real HTTP, on SQLite and PostgreSQL: the hosted bill page and the receipt
//! in each locale (`?lang=`, `Accept-Language` with q-values, the organization's default) with
//! exact amounts, dates and labels; the ways to pay each channel the organization uses (VA
//! numbers, the Bill24 consumer code, the terminal networks); the gateway's return link on a paid
//! bill; the localised 404 after the same store work as a hit; the headers (CSP by hash,
//! Cache-Control), the 30 KB budget, no script and no contact details of the payer; and the QR
//! code, decoded back to the page's link with `zbarimg` (required under `CI=true`).

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use base64::Engine as _;
use billhub_core::reversal::{Claimed, Requester};
use billhub_core::{Bill, Currency, Money, Payment, PaymentRule};
use billhub_http::testing::TestApp;
use billhub_http::{Clock, Gateway, PlumbingError};
use billhub_store::testing::TestDb;
use billhub_store::{
    AccountInput, NewBill, NewItem, NewOrganization, OnRejection, PaymentRequest, PaymentTarget,
    Reader, ReversalRequest, Store, StoreError,
};
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use time::macros::{date, datetime};
use time::{OffsetDateTime, UtcOffset};

const T0: OffsetDateTime = datetime!(2026-11-21 08:00:00 UTC);
const PUBLIC: &str = "http://billhub.test";
const PHONE: &str = "+855 12 345 678";
const EMAIL: &str = "sok.dara@example.com";
const ADDRESS: &str = "Street 271, Phnom Penh";

/// A gateway with no routes of its own; with `returns`, its hook offers a way back to the
/// merchant for paid bills.
struct PagesGateway {
    returns: bool,
}

impl Gateway for PagesGateway {
    fn name(&self) -> &'static str {
        "pages"
    }

    fn default_bind(&self) -> &'static str {
        "127.0.0.1:0"
    }

    fn configure(&self, _cfg: &mut web::ServiceConfig) {}

    fn render_error(&self, err: &PlumbingError) -> HttpResponse {
        HttpResponse::build(err.status()).body(err.message())
    }

    fn bill_page_return(
        &self,
        _reader: &mut Reader<'_>,
        bill: &Bill,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            (self.returns && bill.status_at(now) == billhub_core::BillStatus::Paid)
                .then(|| format!("https://shop.test/return?bill={}&ok=1", bill.public_no)),
        )
    }
}

async fn spawn(db: &TestDb, returns: bool) -> TestApp {
    TestApp::spawn(Arc::new(PagesGateway { returns }), db, Clock::fixed(T0)).await
}

fn org(store: &Store, code: &str, name: &str, locale: &str) -> i64 {
    store
        .create_organization(
            &NewOrganization {
                code: Some(code.into()),
                name: name.into(),
                utc_offset: UtcOffset::from_hms(7, 0, 0).unwrap(),
                locale: locale.into(),
                settlement: None,
                va_prefixes: vec![],
            },
            T0,
        )
        .unwrap()
        .id
}

/// A bill of `billed` minor units in one item, for an account with every contact detail set.
fn bill(
    store: &Store,
    org: i64,
    currency: Currency,
    billed: i64,
    va: Option<(&str, &str)>,
) -> Bill {
    let new = NewBill {
        organization_id: org,
        account_id: 0,
        collection_id: None,
        invoice_number: Some("INV-2026-11".into()),
        ref1: String::new(),
        ref2: String::new(),
        name: "Water, November".into(),
        description: String::new(),
        currency,
        billed,
        items: vec![NewItem {
            name: "Water supply".into(),
            quantity: 1.into(),
            unit_price: billed,
            total: billed,
            product_id: None,
        }],
        bill_date: date!(2026 - 11 - 01),
        due_date: Some(date!(2026 - 11 - 30)),
        valid_until: Some(datetime!(2026-12-31 00:00 UTC)),
        rule: PaymentRule::Partial { minimum: None },
        source: "test".into(),
        extra: "{}".into(),
        va_numbers: va
            .map(|(p, n)| vec![(p.to_string(), n.to_string())])
            .unwrap_or_default(),
    };
    let account = AccountInput {
        code: "0123456789".into(),
        name: "Sok Dara".into(),
        phone: PHONE.into(),
        email: EMAIL.into(),
        address: ADDRESS.into(),
        ..Default::default()
    };
    store.create_bill_for_account(&account, &new, T0).unwrap().1
}

fn pay(
    store: &Store,
    org: i64,
    bill: &Bill,
    channel: &str,
    reference: &str,
    minor: i64,
) -> Payment {
    store
        .post_payment(
            &PaymentRequest {
                organization_id: org,
                channel: channel.into(),
                channel_ref: reference.into(),
                request_hash: billhub_store::fingerprint(&[reference]),
                target: PaymentTarget::Bill { bill_id: bill.id },
                amount: Money::from_minor(minor, bill.currency),
                fee: 100,
                method: "app".into(),
                payer_name: "SOK DARA".into(),
                details: "{}".into(),
                paid_at: T0,
                on_rejection: OnRejection::Refuse,
            },
            T0,
        )
        .unwrap()
        .payment()
        .unwrap()
        .clone()
}

/// GETs `path` with an optional `Accept-Language`: status, headers and body.
async fn get(app: &TestApp, path: &str, accept: Option<&str>) -> (u16, HeaderMap, String) {
    let mut req = app.client.get(app.url(path));
    if let Some(accept) = accept {
        req = req.header("Accept-Language", accept);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

fn has_all(page: &str, needles: &[&str], what: &str) {
    for needle in needles {
        assert!(page.contains(needle), "{what} lacks `{needle}`:\n{page}");
    }
}

fn has_none(page: &str, needles: &[&str], what: &str) {
    for needle in needles {
        assert!(!page.contains(needle), "{what} shows `{needle}`");
    }
}

/// The CSP every page carries: the inline stylesheet by its hash, nothing else.
fn expected_csp() -> String {
    let css = include_str!("../templates/pages.css");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; \
         form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// What every page must be: HTML in `lang` with the strict headers, within budget, no script,
/// no external resource, the stylesheet the CSP allows, and no contact detail of the payer.
fn check_page(headers: &HeaderMap, page: &str, lang: &str, what: &str) {
    assert_eq!(
        headers["content-type"], "text/html; charset=utf-8",
        "{what}"
    );
    assert_eq!(headers["cache-control"], "no-store", "{what}");
    assert_eq!(
        headers["content-security-policy"],
        expected_csp().as_str(),
        "{what}"
    );
    assert_eq!(headers["content-language"], lang, "{what}");
    assert_eq!(headers["vary"], "Accept-Language", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    assert!(
        page.starts_with(&format!("<!doctype html>\n<html lang=\"{lang}\">")),
        "{what}: {page}"
    );
    assert!(page.len() < 30_000, "{what}: {} bytes", page.len());
    let css = include_str!("../templates/pages.css");
    assert!(page.contains(&format!("<style>{css}</style>")), "{what}");
    assert_eq!(page.matches("<style").count(), 1, "{what}");
    // The one `<link>`: an empty icon, so browsers do not ask for `/favicon.ico`.
    assert_eq!(page.matches("<link").count(), 1, "{what}");
    let page = &page.replacen("<link rel=\"icon\" href=\"data:,\">", "", 1);
    has_none(
        page,
        &[
            "<script", " style=", "src=", "@import", "url(", "<link", "<iframe", "<form",
        ],
        what,
    );
    has_none(page, &[PHONE, EMAIL, ADDRESS], what);
    for (at, _) in page.match_indices("href=\"http") {
        assert!(
            page[at..].starts_with(&format!("href=\"{PUBLIC}/"))
                || page[at..].starts_with("href=\"https://shop.test/"),
            "{what}: a link elsewhere at {}",
            &page[at..at + 60]
        );
    }
    assert!(page.contains("<h1>"), "{what}");
}

/// A KHR bill of a Khmer organization with every channel, in the four locales.
async fn khmer_bill_in_every_locale(db: TestDb) {
    let app = spawn(&db, false).await;
    let store = &app.state.store;
    let o = org(store, "PAGESKH1", "Phnom Penh Water Supply", "km");
    store.add_va_prefix(o, "009911", T0).unwrap();
    store.create_credential(o, "bill24", false, T0).unwrap();
    let wing = store
        .create_channel("Wing Terminals", "postpaid", T0)
        .unwrap();
    store.enroll(wing.id, o, T0).unwrap();
    let b = bill(
        store,
        o,
        Currency::KHR,
        500_000,
        Some(("009911", "0123456789")),
    );
    let path = format!("/b/{}", b.public_no);
    let common = [
        "Phnom Penh Water Supply",
        "Water, November",
        "INV-2026-11",
        "Sok Dara",
        "0123456789",
        "0099110123456789",
        "Water supply",
        b.public_no.as_str(),
    ];

    // The organization's default: Khmer.
    let (status, headers, page) = get(&app, &path, None).await;
    assert_eq!(status, 200);
    check_page(&headers, &page, "km", "km bill");
    has_all(&page, &common, "km bill");
    has_all(
        &page,
        &[
            "<div class=\"amount\" aria-labelledby=\"due\">5,000 ៛</div>",
            "ចំនួនទឹកប្រាក់ត្រូវបង់",
            "<span class=\"status due\">មិនទាន់បង់</span>",
            "<dt>ថ្ងៃផុតកំណត់បង់ប្រាក់</dt><dd>30 វិច្ឆិកា 2026</dd>",
            "<dt>អាចបង់បានរហូតដល់</dt><dd>31 ធ្នូ 2026 ម៉ោង 07:00 (UTC+07:00)</dd>",
            "<dt>កាលបរិច្ឆេទវិក្កយបត្រ</dt><dd>1 វិច្ឆិកា 2026</dd>",
            "<dt>បានបង់</dt><dd>0 ៛</dd>",
            "<h2 id=\"pay\">របៀបបង់ប្រាក់</h2>",
            "<h3>នៅម៉ាស៊ីនបង់ប្រាក់ (Wing Terminals)</h3>",
            "lang=\"km\" hreflang=\"km\" aria-current=\"true\">ខ្មែរ</a>",
            "<a href=\"?lang=en\" lang=\"en\" hreflang=\"en\">English</a>",
            "aria-label=\"កូដ QR៖ តំណភ្ជាប់ទៅវិក្កយបត្រនេះ\"",
        ],
        "km bill",
    );

    // `?lang=en`.
    let (status, headers, page) = get(&app, &format!("{path}?lang=en"), None).await;
    assert_eq!(status, 200);
    check_page(&headers, &page, "en", "en bill");
    has_all(&page, &common, "en bill");
    has_all(
        &page,
        &[
            "<div class=\"amount\" aria-labelledby=\"due\">KHR 5,000</div>",
            "<span class=\"status due\">Unpaid</span>",
            "<dt>Due date</dt><dd>30 November 2026</dd>",
            "<dt>Payable until</dt><dd>31 December 2026, 07:00 (UTC+07:00)</dd>",
            "<dt>Billed</dt><dd>KHR 5,000</dd>",
            "<dt>Paid</dt><dd>KHR 0</dd>",
            "<dt>Account</dt><dd>0123456789</dd>",
            "<td class=\"num\">KHR 5,000</td>",
            "<h3>Bank transfer</h3>\n<p>Transfer to this virtual account number:</p>\n<p class=\"code\">0099110123456789</p>",
            "<h3>In your bank app</h3>\n<p>Choose bill payment and enter this consumer code:</p>\n<p class=\"code\">0123456789</p>",
            "<h3>At a payment terminal (Wing Terminals)</h3>\n<p>Give the agent this account number:</p>\n<p class=\"code\">0123456789</p>",
            "<th scope=\"col\">Item</th>",
            "aria-label=\"QR code: the link to this bill\"",
            "<figcaption>Scan to open this bill</figcaption>",
        ],
        "en bill",
    );
    has_none(&page, &["៛", "ចំនួន"], "en bill");

    // Accept-Language, by q-value.
    let (_, headers, page) = get(&app, &path, Some("fr-FR, ms;q=0.9, en;q=0.5")).await;
    check_page(&headers, &page, "ms", "ms bill");
    has_all(
        &page,
        &[
            "<div class=\"amount\" aria-labelledby=\"due\">KHR 5,000</div>",
            "Jumlah perlu dibayar",
            "<span class=\"status due\">Belum dibayar</span>",
            "<dt>Tarikh akhir bayaran</dt><dd>30 November 2026</dd>",
            "<dt>Boleh dibayar sehingga</dt><dd>31 Disember 2026, 07:00 (UTC+07:00)</dd>",
            "<h3>Dalam aplikasi bank anda</h3>",
            "<h3>Di terminal pembayaran (Wing Terminals)</h3>",
        ],
        "ms bill",
    );
    let (_, headers, page) = get(&app, &path, Some("en;q=0.1, id;q=0.8")).await;
    check_page(&headers, &page, "id", "id bill");
    has_all(
        &page,
        &[
            "<div class=\"amount\" aria-labelledby=\"due\">KHR 5,000</div>",
            "Jumlah yang harus dibayar",
            "<span class=\"status due\">Belum dibayar</span>",
            "<dt>Jatuh tempo</dt><dd>30 November 2026</dd>",
            "<dt>Dapat dibayar hingga</dt><dd>31 Desember 2026 07.00 (UTC+07:00)</dd>",
            "<h3>Di aplikasi bank Anda</h3>",
        ],
        "id bill",
    );
    // `?lang=` wins over the header; a language nobody supports falls back to the default.
    let (_, _, page) = get(&app, &format!("{path}?lang=km"), Some("id")).await;
    assert!(page.contains("<html lang=\"km\">"));
    let (_, _, page) = get(&app, &path, Some("fr, de;q=0.9, *;q=0.1")).await;
    assert!(page.contains("<html lang=\"km\">"));
    let (_, _, page) = get(&app, &format!("{path}?lang=xx"), Some("en")).await;
    assert!(page.contains("<html lang=\"en\">"));
}

/// An IDR bill in Indonesian through its payments; channels the organization no longer uses
/// are not offered; a paid bill offers no way to pay.
async fn indonesian_bill_and_its_payments(db: TestDb) {
    let app = spawn(&db, false).await;
    let store = &app.state.store;
    let o = org(store, "PAGESID1", "Sekolah Harapan", "id");
    store.add_va_prefix(o, "009922", T0).unwrap();
    let cred = store.create_credential(o, "bill24", false, T0).unwrap();
    store.revoke_credential(cred.id, T0).unwrap();
    let net = store.create_channel("Kiosk Net", "postpaid", T0).unwrap();
    store.enroll(net.id, o, T0).unwrap();
    store.disable_channel(net.id, T0).unwrap();
    let b = bill(
        store,
        o,
        Currency::IDR,
        10_000_000,
        Some(("009922", "0123456789")),
    );
    let path = format!("/b/{}", b.public_no);

    let (_, headers, page) = get(&app, &path, None).await;
    check_page(&headers, &page, "id", "id bill");
    has_all(
        &page,
        &[
            "<div class=\"amount\" aria-labelledby=\"due\">Rp 100.000</div>",
            "<dt>Total tagihan</dt><dd>Rp 100.000</dd>",
            "<h3>Transfer bank</h3>",
            "0099220123456789",
        ],
        "id bill",
    );
    has_none(
        &page,
        &[
            "Di aplikasi bank Anda",
            "Di terminal pembayaran",
            "Kiosk Net",
        ],
        "id bill without bill24 or terminals",
    );

    let p = pay(store, o, &b, "va:1", "REF-1", 4_000_000);
    let (_, _, page) = get(&app, &path, None).await;
    has_all(
        &page,
        &[
            "<div class=\"amount\" aria-labelledby=\"due\">Rp 60.000</div>",
            "<span class=\"status due\">Dibayar sebagian</span>",
            "<dt>Dibayar</dt><dd>Rp 40.000</dd>",
            "<h2 id=\"payments\">Pembayaran</h2>",
            "<td>21 November 2026 15.00 (UTC+07:00)</td><td>Transfer bank (virtual account)</td><td class=\"num\">Rp 40.000</td>",
            &format!("<a href=\"{PUBLIC}/r/{}?lang=id\">Bukti bayar</a>", p.uid),
        ],
        "id bill partly paid",
    );

    pay(store, o, &b, "bill24", "REF-2", 6_000_000);
    let (_, headers, page) = get(&app, &format!("{path}?lang=en"), None).await;
    check_page(&headers, &page, "en", "paid bill");
    has_all(
        &page,
        &[
            "<div class=\"amount\" aria-labelledby=\"due\">Rp 0</div>",
            "<span class=\"status paid\">Paid</span>",
            "<td>Bank app (Bill24)</td>",
        ],
        "paid bill",
    );
    has_none(
        &page,
        &["id=\"pay\"", "0099220123456789", "class=\"return\""],
        "paid bill",
    );
}

/// The receipt of a payment and of its reversal, in each locale.
async fn receipts_in_every_locale(db: TestDb) {
    let app = spawn(&db, false).await;
    let store = &app.state.store;
    let o = org(store, "PAGESMY1", "Kedai Runcit Aminah", "ms");
    let b = bill(store, o, Currency::MYR, 13_400, None);
    let p = pay(store, o, &b, "bill24", "TX-77", 13_400);
    let path = format!("/r/{}", p.uid);

    let (status, headers, page) = get(&app, &path, None).await;
    assert_eq!(status, 200);
    check_page(&headers, &page, "ms", "ms receipt");
    has_all(
        &page,
        &[
            "<h1>Resit bayaran</h1>",
            "<div class=\"amount\" aria-labelledby=\"amount\">RM 134.00</div>",
            "<dt>Dibayar pada</dt><dd>21 November 2026, 15:00 (UTC+07:00)</dd>",
            "<dt>Saluran</dt><dd>Aplikasi bank (Bill24)</dd>",
            "<dt>Rujukan</dt><dd>TX-77</dd>",
            "<dt>Dibayar oleh</dt><dd>SOK DARA</dd>",
            "<dt>Caj saluran</dt><dd>RM 1.00</dd>",
            &format!(
                "<a href=\"{PUBLIC}/b/{}?lang=ms\">Water, November ({})</a></td><td class=\"num\">RM 134.00</td>",
                b.public_no, b.public_no
            ),
            "role=\"img\" aria-label=\"Resit bayaran\"",
        ],
        "ms receipt",
    );
    has_none(&page, &["Pembatalan"], "ms receipt");
    for (lang, title, amount_label) in [
        ("en", "Payment receipt", "<dt>Paid at</dt>"),
        ("km", "បង្កាន់ដៃបង់ប្រាក់", "<dt>បង់នៅ</dt>"),
        ("id", "Bukti pembayaran", "<dt>Dibayar pada</dt>"),
    ] {
        let (_, headers, page) = get(&app, &format!("{path}?lang={lang}"), None).await;
        check_page(&headers, &page, lang, lang);
        has_all(
            &page,
            &[&format!("<h1>{title}</h1>"), amount_label, "RM 134.00"],
            lang,
        );
    }

    store
        .reverse_payment(
            &ReversalRequest {
                organization_id: o,
                payment_id: p.id,
                channel: "bill24".into(),
                channel_ref: "REV-9".into(),
                request_hash: billhub_store::fingerprint(&["REV-9"]),
                reason: "refund".into(),
                requester: Requester::Channel,
                claimed: Claimed::Nothing,
                window: None,
            },
            T0 + time::Duration::hours(2),
        )
        .unwrap();
    let (_, headers, page) = get(&app, &path, None).await;
    check_page(&headers, &page, "ms", "reversed receipt");
    has_all(
        &page,
        &[
            "<p class=\"reversed\">Bayaran ini telah dibatalkan",
            "<h2 id=\"reversal\">Pembatalan</h2>",
            "<dt>Dibatalkan pada</dt><dd>21 November 2026, 17:00 (UTC+07:00)</dd>",
            "<dt>Rujukan</dt><dd>REV-9</dd>",
            "<dt>Amaun dikembalikan</dt><dd>RM 134.00</dd>",
        ],
        "reversed receipt",
    );
    let (_, _, page) = get(&app, &format!("/b/{}?lang=en", b.public_no), None).await;
    has_all(
        &page,
        &[
            "<span class=\"status due\">Unpaid</span>",
            "Bank app (Bill24) <span class=\"reversed\">reversed</span>",
        ],
        "bill after reversal",
    );
}

/// Unknown and malformed ids: a localised 404 after one snapshot, like a hit.
async fn not_found_in_every_locale(db: TestDb) {
    let app = spawn(&db, false).await;
    let store = &app.state.store;
    let o = org(store, "PAGES404", "Org 404", "km");
    let b = bill(store, o, Currency::USD, 1_250, None);
    let p = pay(store, o, &b, "va:1", "R-1", 1_250);
    for (lang, bill_title, receipt_title) in [
        ("en", "Bill not found", "Receipt not found"),
        ("km", "រកមិនឃើញវិក្កយបត្រ", "រកមិនឃើញបង្កាន់ដៃ"),
        ("ms", "Bil tidak dijumpai", "Resit tidak dijumpai"),
        (
            "id",
            "Tagihan tidak ditemukan",
            "Bukti pembayaran tidak ditemukan",
        ),
    ] {
        for (path, title) in [
            (format!("/b/NOPE1234?lang={lang}"), bill_title),
            (format!("/b/bad%20id?lang={lang}"), bill_title),
            (format!("/b/{}?lang={lang}", "A".repeat(65)), bill_title),
            (
                format!("/r/00000000-0000-0000-0000-000000000000?lang={lang}"),
                receipt_title,
            ),
            (format!("/r/x%3Cy?lang={lang}"), receipt_title),
        ] {
            let (status, headers, page) = get(&app, &path, None).await;
            assert_eq!(status, 404, "{path}");
            check_page(&headers, &page, lang, &path);
            has_all(
                &page,
                &[
                    &format!("<title>{title}</title>"),
                    &format!("<h1>{title}</h1>"),
                ],
                &path,
            );
        }
    }
    // The header chooses the 404's language too (no organization to default to: English).
    let (_, _, page) = get(&app, "/b/NOPE1234", Some("id-ID,id;q=0.9")).await;
    assert!(page.contains("<h1>Tagihan tidak ditemukan</h1>"));
    let (_, _, page) = get(&app, "/b/NOPE1234", None).await;
    assert!(page.contains("<h1>Bill not found</h1>"));

    // A miss and a hit: each one read snapshot.
    for path in [
        format!("/b/{}", b.public_no),
        "/b/NOPE1234".to_string(),
        "/b/bad%20id".to_string(),
        format!("/r/{}", p.uid),
        "/r/00000000-0000-0000-0000-000000000000".to_string(),
    ] {
        let before = store.transactions_started();
        get(&app, &path, None).await;
        assert_eq!(store.transactions_started() - before, 1, "{path}");
    }
}

/// The biggest page stays under 30 KB, in every locale.
async fn a_long_bill_stays_under_budget(db: TestDb) {
    let app = spawn(&db, false).await;
    let store = &app.state.store;
    let o = org(
        store,
        "PAGESBIG",
        "Perbadanan Bekalan Air dan Elektrik Negeri",
        "en",
    );
    store.add_va_prefix(o, "009933", T0).unwrap();
    store.create_credential(o, "bill24", false, T0).unwrap();
    let net = store
        .create_channel("Terminal Network", "postpaid", T0)
        .unwrap();
    store.enroll(net.id, o, T0).unwrap();
    let items: Vec<NewItem> = (1..=25)
        .map(|i| NewItem {
            name: format!("Meter reading and service charge, period {i:02}"),
            quantity: 1.into(),
            unit_price: 1_000_000,
            total: 1_000_000,
            product_id: None,
        })
        .collect();
    let new = NewBill {
        organization_id: o,
        account_id: 0,
        collection_id: None,
        invoice_number: Some("INV-BIG".into()),
        ref1: String::new(),
        ref2: String::new(),
        name: "Annual statement".into(),
        description: "Every period of the year, with service charges.".into(),
        currency: Currency::KHR,
        billed: 25_000_000,
        items,
        bill_date: date!(2026 - 11 - 01),
        due_date: Some(date!(2026 - 11 - 30)),
        valid_until: None,
        rule: PaymentRule::Partial { minimum: None },
        source: "test".into(),
        extra: "{}".into(),
        va_numbers: vec![("009933".into(), "0123456789".into())],
    };
    let account = AccountInput {
        code: "0123456789".into(),
        name: "Sok Dara".into(),
        phone: PHONE.into(),
        ..Default::default()
    };
    let (_, b) = store.create_bill_for_account(&account, &new, T0).unwrap();
    for i in 0..12 {
        pay(store, o, &b, "va:1", &format!("REF-{i}"), 100_000);
    }
    for lang in ["en", "km", "ms", "id"] {
        let (status, headers, page) =
            get(&app, &format!("/b/{}?lang={lang}", b.public_no), None).await;
        assert_eq!(status, 200);
        check_page(&headers, &page, lang, lang);
        assert_eq!(page.matches("<tr>").count(), 1 + 25 + 1 + 12, "{lang}");
    }
}

/// A paid bill shows the gateway's way back to the merchant, in the page's language.
async fn paid_bill_shows_the_gateway_return(db: TestDb) {
    let app = spawn(&db, true).await;
    let store = &app.state.store;
    let o = org(store, "PAGESRET", "Kedai", "ms");
    let b = bill(store, o, Currency::MYR, 5_000, None);
    let path = format!("/b/{}", b.public_no);
    let (_, _, page) = get(&app, &path, None).await;
    has_none(&page, &["class=\"return\""], "unpaid");
    pay(store, o, &b, "sandbox", "S-1", 5_000);
    let (_, headers, page) = get(&app, &path, None).await;
    check_page(&headers, &page, "ms", "paid");
    let link = format!(
        "<p class=\"return\"><a href=\"https://shop.test/return?bill={}&#38;ok=1\">Kembali ke peniaga</a></p>\n<p class=\"note\">",
        b.public_no
    );
    has_all(
        &page,
        &[&link, "<span class=\"status paid\">Telah dibayar</span>"],
        "paid",
    );
    let (_, _, page) = get(&app, &format!("{path}?lang=en"), None).await;
    assert!(page.contains(">Return to the merchant</a></p>"));
}

billhub_http::http_backend_tests!(
    khmer_bill_in_every_locale,
    indonesian_bill_and_its_payments,
    receipts_in_every_locale,
    not_found_in_every_locale,
    a_long_bill_stays_under_budget,
    paid_bill_shows_the_gateway_return,
);

/// The QR code on the bill page decodes back to the page's own link (`rsvg-convert` draws the
/// SVG as PNG, `zbarimg` reads it). Both tools are required under `CI=true`; elsewhere their
/// absence is reported and the test stops.
#[actix_web::test]
async fn the_qr_code_decodes_to_the_page_link() {
    let tools = ["rsvg-convert", "zbarimg"];
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            std::process::Command::new(t)
                .arg("--version")
                .output()
                .is_err()
        })
        .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI needs {missing:?} (Debian librsvg2-bin and zbar-tools)"
        );
        eprintln!("SKIPPED: the QR decoding test needs {missing:?} (librsvg2-bin, zbar-tools)");
        return;
    }
    let db = TestDb::sqlite();
    let app = spawn(&db, false).await;
    let store = &app.state.store;
    let o = org(store, "PAGESQR1", "QR Org", "en");
    let b = bill(store, o, Currency::USD, 1_250, None);
    let p = pay(store, o, &b, "va:1", "QR-1", 1_250);
    let dir = std::env::temp_dir().join(format!("billhub-qr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (path, link) in [
        (
            format!("/b/{}?lang=km", b.public_no),
            format!("{PUBLIC}/b/{}", b.public_no),
        ),
        (format!("/r/{}", p.uid), format!("{PUBLIC}/r/{}", p.uid)),
    ] {
        let (_, _, page) = get(&app, &path, None).await;
        let start = page.find("<svg ").unwrap();
        let end = page[start..].find("</svg>").unwrap() + start + "</svg>".len();
        let svg_file = dir.join("qr.svg");
        let png_file = dir.join("qr.png");
        std::fs::write(&svg_file, &page[start..end]).unwrap();
        let drawn = std::process::Command::new("rsvg-convert")
            .args([
                "--width",
                "400",
                "--height",
                "400",
                "--background-color",
                "white",
                "-o",
            ])
            .arg(&png_file)
            .arg(&svg_file)
            .output()
            .unwrap();
        assert!(drawn.status.success(), "{drawn:?}");
        let read = std::process::Command::new("zbarimg")
            .args(["--quiet", "--raw"])
            .arg(&png_file)
            .output()
            .unwrap();
        assert!(read.status.success(), "{path}: {read:?}");
        assert_eq!(
            String::from_utf8(read.stdout).unwrap().trim_end(),
            link,
            "{path}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
