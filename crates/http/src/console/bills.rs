//! Console pages: bills.
//!
//! - `GET /console/bills?q=&status=&due_from=&due_to=&page=`: the organization's bills, newest
//!   first, 50 a page, found by public number, account code, invoice number, VA
//!   number or part of a name, filtered by status and due range (see
//!   [`billhub_store::repo::console_bills`]). A value that cannot be read (an unknown status, a
//!   date not `YYYY-MM-DD`, a range that ends before it starts, a page that is not a whole
//!   number from 1, a text over [`MAX_TEXT`] characters) gets the page with its message and
//!   no results, never an error.
//! - `GET /console/bills/{public_no}`: one bill with its items, totals, VA numbers, payments,
//!   reversals and its whole history. An unknown number and another organization's get the
//!   same 404 page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use billhub_core::locale::console_bills::ConsoleBillsLabels;
use billhub_core::locale::{self, Locale};
use billhub_core::{Account, BillStatus};
use billhub_store::repo::console_bills::{BillList, BillListRow, BillSearch, ConsoleBill};
use serde::Deserialize;
use time::{Date, OffsetDateTime, UtcOffset};

use super::layout::{Chrome, Section, signed_in};
use super::{html, unavailable};
use crate::state::AppState;

/// The longest search text, in characters.
pub const MAX_TEXT: usize = 100;

/// The statuses the filter offers, in its order.
const STATUSES: [BillStatus; 5] = [
    BillStatus::Active,
    BillStatus::PartiallyPaid,
    BillStatus::Paid,
    BillStatus::Expired,
    BillStatus::Void,
];

/// Registers this module's routes inside the `/console` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/bills", web::get().to(bills))
        .route("/bills/{public_no}", web::get().to(bill));
}

/// The search's query, every field as typed (validated by [`parse`]).
#[derive(Debug, Default, Deserialize)]
struct BillsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    due_from: String,
    #[serde(default)]
    due_to: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    lang: String,
}

/// A `YYYY-MM-DD` date (what `<input type="date">` sends).
fn parse_date(s: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &format).ok()
}

/// The search the query asks for, or the messages of what cannot be read.
fn parse(q: &BillsQuery, l: &ConsoleBillsLabels) -> Result<BillSearch, Vec<&'static str>> {
    let mut errors = Vec::new();
    let text = q.q.trim();
    if text.chars().count() > MAX_TEXT {
        errors.push(l.text_too_long);
    }
    let status = match q.status.trim() {
        "" => None,
        s => match STATUSES.iter().find(|st| st.as_str() == s) {
            Some(st) => Some(*st),
            None => {
                errors.push(l.bad_status);
                None
            }
        },
    };
    let mut date = |s: &str| match s.trim() {
        "" => None,
        s => {
            let d = parse_date(s);
            if d.is_none() && !errors.contains(&l.bad_date) {
                errors.push(l.bad_date);
            }
            d
        }
    };
    let due_from = date(&q.due_from);
    let due_to = date(&q.due_to);
    if let (Some(from), Some(to)) = (due_from, due_to)
        && to < from
    {
        errors.push(l.bad_range);
    }
    let page = match q.page.trim() {
        "" => 0,
        s => match s.parse::<i64>() {
            Ok(n) if (1..=1_000_000).contains(&n) => n - 1,
            _ => {
                errors.push(l.bad_page);
                0
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(BillSearch {
        text: (!text.is_empty()).then(|| text.to_string()),
        status,
        due_from,
        due_to,
        page,
    })
}

/// `s` for a URL query value: everything but letters, digits and `-_.~` percent-encoded.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The search's link for page `page` (1-based), keeping the filters (and `lang` when asked).
fn page_link(q: &BillsQuery, page: i64) -> String {
    let mut parts = Vec::new();
    for (name, value) in [
        ("q", q.q.trim()),
        ("status", q.status.trim()),
        ("due_from", q.due_from.trim()),
        ("due_to", q.due_to.trim()),
        ("lang", q.lang.trim()),
    ] {
        if !value.is_empty() {
            parts.push(format!("{name}={}", encode(value)));
        }
    }
    parts.push(format!("page={page}"));
    format!("/console/bills?{}", parts.join("&"))
}

/// The name shown for an account: its name, else its Latin name, else first and last.
fn customer_name(account: &Account) -> String {
    [account.name.as_str(), account.name_latin.as_str()]
        .into_iter()
        .find(|n| !n.is_empty())
        .map(String::from)
        .unwrap_or_else(|| {
            [account.first_name.as_str(), account.last_name.as_str()]
                .join(" ")
                .trim()
                .to_string()
        })
}

/// One option of the status filter.
struct StatusOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// One bill of the results.
struct Row {
    public_no: String,
    invoice_number: String,
    customer: String,
    account_code: String,
    name: String,
    due_date: String,
    status: &'static str,
    billed: String,
    outstanding: String,
}

#[derive(Template)]
#[template(path = "console/bills.html")]
struct BillsPage {
    chrome: Chrome,
    l: &'static ConsoleBillsLabels,
    q: String,
    due_from: String,
    due_to: String,
    lang: String,
    statuses: Vec<StatusOption>,
    errors: Vec<&'static str>,
    /// Whether a search ran (no errors).
    searched: bool,
    rows: Vec<Row>,
    page: i64,
    previous: Option<String>,
    next: Option<String>,
}

/// One bill of the results in the page's language.
fn list_row(r: BillListRow, now: OffsetDateTime, locale: Locale) -> Row {
    let b = r.bill;
    let money = |minor: i64| locale::format_amount(minor, b.currency, locale);
    Row {
        public_no: b.public_no.clone(),
        invoice_number: if b.invoice_number == b.public_no {
            String::new()
        } else {
            b.invoice_number.clone()
        },
        customer: customer_name(&r.account),
        account_code: r.account.code.clone(),
        name: b.name.clone(),
        due_date: b
            .due_date
            .map(|d| locale::format_date(d, locale))
            .unwrap_or_default(),
        status: locale::status_label(b.status_at(now), locale),
        billed: money(b.billed),
        outstanding: money(b.outstanding()),
    }
}

/// `GET /console/bills`.
pub async fn bills(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (session, chrome) = match signed_in(&req, &state, Section::Bills).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let locale = chrome.locale;
    let l = locale.console_bills();
    let (query, parsed) = match web::Query::<BillsQuery>::from_query(req.query_string()) {
        Ok(q) => {
            let q = q.into_inner();
            let parsed = parse(&q, l);
            (q, parsed)
        }
        Err(_) => (BillsQuery::default(), Err(vec![l.bad_query])),
    };
    let now = state.now();
    let org_id = session.organization_id;
    let (search, errors) = match parsed {
        Ok(s) => (Some(s), Vec::new()),
        Err(errors) => (None, errors),
    };
    let found = match search.clone() {
        Some(s) => match state.run(move |st| st.console_bills(org_id, &s, now)).await {
            Ok(found) => Some(found),
            Err(e) => return unavailable(e),
        },
        None => None,
    };
    let page = search.as_ref().map_or(0, |s| s.page);
    let status_value = query.status.trim();
    let BillList { rows, has_next } = found.unwrap_or(BillList {
        rows: Vec::new(),
        has_next: false,
    });
    let body = BillsPage {
        l,
        q: query.q.clone(),
        due_from: query.due_from.trim().to_string(),
        due_to: query.due_to.trim().to_string(),
        lang: query.lang.trim().to_string(),
        statuses: STATUSES
            .iter()
            .map(|s| StatusOption {
                value: s.as_str(),
                label: locale::status_label(*s, locale),
                selected: s.as_str() == status_value,
            })
            .collect(),
        searched: search.is_some(),
        rows: rows.into_iter().map(|r| list_row(r, now, locale)).collect(),
        page: page + 1,
        previous: (search.is_some() && page > 0).then(|| page_link(&query, page)),
        next: has_next.then(|| page_link(&query, page + 2)),
        errors,
        chrome,
    }
    .render();
    match body {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => unavailable(e),
    }
}

struct ItemRow {
    name: String,
    quantity: String,
    unit_price: String,
    total: String,
}

struct VaRow {
    number: String,
    active: bool,
}

impl From<billhub_store::VaNumber> for VaRow {
    fn from(v: billhub_store::VaNumber) -> VaRow {
        VaRow {
            number: v.number,
            active: v.active,
        }
    }
}

struct PaymentRow {
    uid: String,
    channel: String,
    reference: String,
    amount: String,
    applied: String,
    time: String,
    reversed: bool,
}

struct ReversalRow {
    payment_uid: String,
    reference: String,
    reason: String,
    amount: String,
    time: String,
}

struct HistoryRow {
    time: String,
    kind: String,
    amount: String,
    status_after: String,
    paid_after: String,
    payment_uid: String,
    details: String,
}

#[derive(Template)]
#[template(path = "console/bill.html")]
struct BillPage {
    chrome: Chrome,
    l: &'static ConsoleBillsLabels,
    public_no: String,
    name: String,
    invoice_number: String,
    status: &'static str,
    customer: String,
    account_code: String,
    currency: String,
    bill_date: String,
    due_date: String,
    valid_until: String,
    billed: String,
    paid: String,
    outstanding: String,
    items: Vec<ItemRow>,
    va_numbers: Vec<VaRow>,
    payments: Vec<PaymentRow>,
    reversals: Vec<ReversalRow>,
    history: Vec<HistoryRow>,
}

#[derive(Template)]
#[template(
    source = r#"{% extends "console/frame.html" %}
{% block title %}{{ l.not_found }}{% endblock %}
{% block content %}
<section>
<h1>{{ l.not_found }}</h1>
<p>{{ l.not_found_text }}</p>
<p><a href="/console/bills">{{ l.all_bills }}</a></p>
</section>
{% endblock %}"#,
    ext = "html"
)]
struct NotFoundPage {
    chrome: Chrome,
    l: &'static ConsoleBillsLabels,
}

/// A bill's status word as stored in its history (`paid`, ...), in the page's language.
fn stored_status_label(status: &str, locale: Locale) -> String {
    match status.parse::<BillStatus>() {
        Ok(s) => locale::status_label(s, locale).to_string(),
        Err(_) => status.to_string(),
    }
}

/// A stored moment at the organization's clock, in the page's language.
fn when(t: OffsetDateTime, offset: UtcOffset, locale: Locale) -> String {
    locale::format_date_time(billhub_store::local(t, offset), locale)
}

/// The bill page's contents.
fn bill_page(chrome: Chrome, now: OffsetDateTime, found: ConsoleBill) -> BillPage {
    let locale = chrome.locale;
    let l = locale.console_bills();
    let ConsoleBill {
        organization,
        bill,
        account,
        items,
        va_numbers,
        payments,
        events,
    } = found;
    let offset = organization.utc_offset;
    let money = |minor: i64| locale::format_amount(minor, bill.currency, locale);
    let applied = |p: &billhub_core::Payment| -> i64 {
        p.allocations
            .iter()
            .filter(|a| a.bill_id == bill.id)
            .map(|a| a.amount)
            .sum()
    };
    BillPage {
        l,
        public_no: bill.public_no.clone(),
        name: bill.name.clone(),
        invoice_number: bill.invoice_number.clone(),
        status: locale::status_label(bill.status_at(now), locale),
        customer: customer_name(&account),
        account_code: account.code.clone(),
        currency: bill.currency.code().to_string(),
        bill_date: locale::format_date(bill.bill_date, locale),
        due_date: bill
            .due_date
            .map(|d| locale::format_date(d, locale))
            .unwrap_or_default(),
        valid_until: bill
            .valid_until
            .map(|v| when(v, offset, locale))
            .unwrap_or_default(),
        billed: money(bill.billed),
        paid: money(bill.paid),
        outstanding: money(bill.outstanding()),
        items: items
            .iter()
            .map(|i| ItemRow {
                name: i.name.clone(),
                quantity: i.quantity.normalize().to_string(),
                unit_price: money(i.unit_price),
                total: money(i.total),
            })
            .collect(),
        va_numbers: va_numbers.into_iter().map(VaRow::from).collect(),
        payments: payments
            .iter()
            .map(|p| PaymentRow {
                uid: p.uid.clone(),
                channel: p.channel.clone(),
                reference: p.channel_ref.clone(),
                amount: locale::format_amount(p.amount, p.currency, locale),
                applied: money(applied(p)),
                time: when(p.paid_at, offset, locale),
                reversed: p.reversed.is_some(),
            })
            .collect(),
        reversals: payments
            .iter()
            .filter_map(|p| {
                p.reversed.as_ref().map(|r| ReversalRow {
                    payment_uid: p.uid.clone(),
                    reference: r.channel_ref.clone(),
                    reason: r.reason.clone(),
                    amount: money(applied(p)),
                    time: when(r.created_at, offset, locale),
                })
            })
            .collect(),
        history: history_rows(&events, &payments, offset, locale, bill.currency),
        chrome,
    }
}

/// A bill's history in the page's language.
fn history_rows(
    events: &[billhub_store::BillEvent],
    payments: &[billhub_core::Payment],
    offset: UtcOffset,
    locale: Locale,
    currency: billhub_core::Currency,
) -> Vec<HistoryRow> {
    let l = locale.console_bills();
    let money = |minor: i64| locale::format_amount(minor, currency, locale);
    let uid_of = |id: Option<i64>| {
        id.map(|id| {
            payments
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| format!("#{id}"), |p| p.uid.clone())
        })
        .unwrap_or_default()
    };
    events
        .iter()
        .map(|e| HistoryRow {
            time: when(e.created_at, offset, locale),
            kind: l.event_kind(&e.kind),
            amount: e.amount.map(money).unwrap_or_default(),
            status_after: stored_status_label(&e.status_after, locale),
            paid_after: money(e.paid_after),
            payment_uid: uid_of(e.payment_id),
            details: if e.details.trim() == "{}" {
                String::new()
            } else {
                e.details.clone()
            },
        })
        .collect()
}

/// `GET /console/bills/{public_no}`.
pub async fn bill(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let (session, chrome) = match signed_in(&req, &state, Section::Bills).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let public_no = path.into_inner();
    let org_id = session.organization_id;
    let now = state.now();
    let found = match state.run(move |s| s.console_bill(org_id, &public_no)).await {
        Ok(found) => found,
        Err(e) => return unavailable(e),
    };
    let (status, body) = match found {
        Some(found) => (StatusCode::OK, bill_page(chrome, now, found).render()),
        None => {
            let l = chrome.locale.console_bills();
            (StatusCode::NOT_FOUND, NotFoundPage { chrome, l }.render())
        }
    };
    match body {
        Ok(body) => html(status, body),
        Err(e) => unavailable(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> BillsQuery {
        let mut q = BillsQuery::default();
        for (k, v) in pairs {
            let v = (*v).to_string();
            match *k {
                "q" => q.q = v,
                "status" => q.status = v,
                "due_from" => q.due_from = v,
                "due_to" => q.due_to = v,
                "page" => q.page = v,
                "lang" => q.lang = v,
                _ => {}
            }
        }
        q
    }

    #[test]
    fn a_query_is_read_or_told_what_is_wrong() {
        let l = Locale::En.console_bills();
        let ok = parse(
            &query(&[
                ("q", "  Ann "),
                ("status", "partially_paid"),
                ("due_from", "2026-12-01"),
                ("due_to", "2026-12-31"),
                ("page", "3"),
            ]),
            l,
        )
        .unwrap();
        assert_eq!(ok.text.as_deref(), Some("Ann"));
        assert_eq!(ok.status, Some(BillStatus::PartiallyPaid));
        assert_eq!(ok.due_from, parse_date("2026-12-01"));
        assert_eq!(ok.page, 2);
        assert_eq!(
            parse(&query(&[("status", "open"), ("page", "0")]), l).unwrap_err(),
            vec![l.bad_status, l.bad_page]
        );
        assert_eq!(
            parse(&query(&[("due_from", "31/12/2026"), ("due_to", "x")]), l).unwrap_err(),
            vec![l.bad_date]
        );
        assert_eq!(
            parse(
                &query(&[("due_from", "2026-12-31"), ("due_to", "2026-12-01")]),
                l
            )
            .unwrap_err(),
            vec![l.bad_range]
        );
        assert_eq!(
            parse(&query(&[("q", &"x".repeat(101)), ("page", "-1")]), l).unwrap_err(),
            vec![l.text_too_long, l.bad_page]
        );
        assert_eq!(parse(&query(&[]), l).unwrap(), BillSearch::default());
    }

    #[test]
    fn page_links_keep_the_filters_encoded() {
        let q = query(&[("q", "Ann & Co/ម"), ("status", "paid"), ("lang", "km")]);
        assert_eq!(
            page_link(&q, 2),
            "/console/bills?q=Ann%20%26%20Co%2F%E1%9E%98&status=paid&lang=km&page=2"
        );
    }
}
