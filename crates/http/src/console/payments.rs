//! `GET /console/payments` and `GET /console/payments.csv`: the organization's payments and
//! unapplied money between two local days, by channel and status, a page at a time, and the same
//! rows as a CSV download with the columns of `billhub export payments`
//! (`billhub_store::export`), streamed from one read snapshot.
//!
//! Filters (query): `from`, `to` (local dates `YYYY-MM-DD`, both included; by default the last 7
//! days, today included), `channel` (stored text: `bill24`, `va:3`, ...), `status` (`applied`,
//! `reversed`, `unapplied`, `refunded`), `page` (from 1). A filter that does not parse gets the
//! page with a message saying which (400), never a guess.

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use billhub_core::locale::console::PaymentsLabels;
use billhub_core::locale::{self, Locale};
use billhub_store::console_payments::PaymentFilter;
use billhub_store::export::{PaymentLine, PaymentStatus, local_days};
use serde::Deserialize;
use time::{Date, Duration, UtcOffset};

use super::dashboard::amount;
use super::layout::{Chrome, Section, asked_lang, signed_in};
use super::{html, unavailable};
use crate::state::AppState;

/// Rows per page.
pub const PAGE_SIZE: i64 = 50;
/// Days the list shows without `from`/`to`: today and the 6 before.
pub const DEFAULT_DAYS: i64 = 7;
/// Bytes buffered before a chunk of the CSV is sent.
const CSV_CHUNK: usize = 64 * 1024;

/// Registers this module's routes inside the `/console` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/payments", web::get().to(list))
        .route("/payments.csv", web::get().to(csv));
}

/// The query as typed (every field text: a bad one is reported, not refused by the extractor).
#[derive(Debug, Default, Deserialize)]
struct Query {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: String,
}

/// The filters, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filters {
    from: Date,
    to: Date,
    channel: Option<String>,
    status: Option<PaymentStatus>,
    page: i64,
}

fn parse_date(text: &str, l: &PaymentsLabels) -> Result<Option<Date>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, format)
        .map(Some)
        .map_err(|_| format!("{} {text}", l.bad_date))
}

fn parse_status(text: &str) -> Option<PaymentStatus> {
    match text {
        "applied" => Some(PaymentStatus::Applied),
        "reversed" => Some(PaymentStatus::Reversed),
        "unapplied" => Some(PaymentStatus::Unapplied),
        "refunded" => Some(PaymentStatus::Refunded),
        _ => None,
    }
}

/// A channel's stored text looks like `bill24`, `va:3`, `postpaid:2`: letters, digits, `:`,
/// `_`, `-`, `.`, at most 64.
fn channel_ok(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.'))
}

impl Filters {
    /// The filters of `q`, `today` being the organization's local day; every error found, in
    /// the page's language.
    fn parse(q: &Query, today: Date, l: &PaymentsLabels) -> Result<Filters, Vec<String>> {
        let mut errors = Vec::new();
        let from = parse_date(&q.from, l).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let to = parse_date(&q.to, l).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let back = |d: Date| d.checked_sub(Duration::days(DEFAULT_DAYS - 1)).unwrap_or(d);
        let (from, to) = match (from, to) {
            (Some(f), Some(t)) => (f, t),
            (Some(f), None) => (f, today.max(f)),
            (None, Some(t)) => (back(t), t),
            (None, None) => (back(today), today),
        };
        if to < from {
            errors.push(l.to_before_from.to_string());
        }
        let channel = q.channel.trim();
        let channel = if channel.is_empty() {
            None
        } else if channel_ok(channel) {
            Some(channel.to_string())
        } else {
            errors.push(format!("{} {channel}", l.bad_channel));
            None
        };
        let status = q.status.trim();
        let status = if status.is_empty() {
            None
        } else {
            let parsed = parse_status(status);
            if parsed.is_none() {
                errors.push(format!("{} {status}", l.bad_status));
            }
            parsed
        };
        let page = q.page.trim();
        let page = if page.is_empty() {
            1
        } else {
            match page.parse::<i64>() {
                Ok(n) if (1..=1_000_000).contains(&n) => n,
                _ => {
                    errors.push(format!("{} {page}", l.bad_page));
                    1
                }
            }
        };
        if errors.is_empty() {
            Ok(Filters {
                from,
                to,
                channel,
                status,
                page,
            })
        } else {
            Err(errors)
        }
    }

    /// The store's filter for `organization_id` (its days at `offset`); `None` at the end of
    /// the calendar.
    fn store_filter(&self, organization_id: i64, offset: UtcOffset) -> Option<PaymentFilter> {
        let (from, to) = local_days(self.from, self.to, offset)?;
        Some(PaymentFilter {
            organization_id,
            offset,
            from,
            to,
            channel: self.channel.clone(),
            status: self.status,
        })
    }

    /// The query of these filters (without the page), URL-encoded; `lang` kept when asked.
    fn query(&self, lang: Option<Locale>) -> String {
        let mut q = format!("from={}&to={}", self.from, self.to);
        if let Some(c) = &self.channel {
            q.push_str(&format!("&channel={}", encode(c)));
        }
        if let Some(s) = self.status {
            q.push_str(&format!("&status={}", s.as_str()));
        }
        if let Some(l) = lang {
            q.push_str(&format!("&lang={}", l.code()));
        }
        q
    }
}

/// Percent-encodes all but the unreserved characters of a query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One row of the table.
struct Row {
    time: String,
    payment: String,
    channel: String,
    reference: String,
    account: String,
    bills: Vec<String>,
    amount: String,
    fee: String,
    credit: String,
    status: &'static str,
}

fn status_word(s: PaymentStatus, l: &PaymentsLabels) -> &'static str {
    match s {
        PaymentStatus::Applied => l.applied,
        PaymentStatus::Reversed => l.reversed,
        PaymentStatus::Unapplied => l.unapplied,
        PaymentStatus::Refunded => l.refunded,
    }
}

fn row(line: PaymentLine, offset: UtcOffset, locale: Locale, l: &PaymentsLabels) -> Row {
    let time = billhub_store::local(line.paid_at, offset);
    Row {
        time: locale::format_date_time(time, locale),
        payment: line.payment,
        channel: if line.channel_name == line.channel {
            line.channel
        } else {
            format!("{} ({})", line.channel_name, line.channel)
        },
        reference: line.channel_ref,
        account: line.account,
        bills: line.bills,
        amount: amount(line.amount, &line.currency, locale),
        fee: amount(line.fee, &line.currency, locale),
        credit: amount(line.credit, &line.currency, locale),
        status: status_word(line.status, l),
    }
}

/// An option of a filter's select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "console/payments.html")]
struct PaymentsPage {
    chrome: Chrome,
    p: &'static PaymentsLabels,
    /// The form's values as typed.
    from: String,
    to: String,
    /// `lang` to keep in the form, if asked.
    lang: Option<&'static str>,
    errors: Vec<String>,
    channels: Vec<Choice>,
    statuses: Vec<Choice>,
    rows: Vec<Row>,
    /// `Rows 1–50 of 120`, when there are rows.
    range: Option<String>,
    csv: Option<String>,
    previous: Option<String>,
    next: Option<String>,
}

fn status_choices(selected: &str, l: &PaymentsLabels) -> Vec<Choice> {
    [
        PaymentStatus::Applied,
        PaymentStatus::Reversed,
        PaymentStatus::Unapplied,
        PaymentStatus::Refunded,
    ]
    .iter()
    .map(|s| Choice {
        value: s.as_str().into(),
        label: status_word(*s, l).into(),
        selected: s.as_str() == selected,
    })
    .collect()
}

fn render(page: &PaymentsPage, status: StatusCode) -> HttpResponse {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => unavailable(e),
    }
}

/// The channel filter's choices: the channels of the days (stored text, name), and the one
/// asked for when none of them.
fn channel_choices(seen: &[(String, String)], selected: Option<&str>) -> Vec<Choice> {
    let mut choices: Vec<Choice> = seen
        .iter()
        .map(|(value, name)| Choice {
            value: value.clone(),
            label: if name == value {
                value.clone()
            } else {
                format!("{name} ({value})")
            },
            selected: selected == Some(value.as_str()),
        })
        .collect();
    if let Some(c) = selected
        && !choices.iter().any(|x| x.value == c)
    {
        choices.push(Choice {
            value: c.to_string(),
            label: c.to_string(),
            selected: true,
        });
    }
    choices
}

/// The page for filters that do not parse: the form as typed and the messages (400).
fn refused(chrome: Chrome, q: &Query, errors: Vec<String>, lang: Option<Locale>) -> HttpResponse {
    let p = chrome.locale.console_payments();
    let channel = q.channel.trim().to_string();
    let page = PaymentsPage {
        p,
        from: q.from.clone(),
        to: q.to.clone(),
        lang: lang.map(Locale::code),
        errors,
        channels: if channel.is_empty() {
            Vec::new()
        } else {
            vec![Choice {
                label: channel.clone(),
                value: channel,
                selected: true,
            }]
        },
        statuses: status_choices(q.status.trim(), p),
        rows: Vec::new(),
        range: None,
        csv: None,
        previous: None,
        next: None,
        chrome,
    };
    render(&page, StatusCode::BAD_REQUEST)
}

/// The query of a request, leniently: a query that does not decode is empty.
fn query_of(req: &HttpRequest) -> Query {
    web::Query::<Query>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default()
}

/// `GET /console/payments`.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (session, chrome) = match signed_in(&req, &state, Section::Payments).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let lang = asked_lang(&req);
    let q = query_of(&req);
    let locale = chrome.locale;
    let p = locale.console_payments();
    let today = billhub_store::local_date(state.now(), chrome.utc_offset);
    let filters = match Filters::parse(&q, today, p) {
        Ok(f) => f,
        Err(errors) => return refused(chrome, &q, errors, lang),
    };
    let offset = chrome.utc_offset;
    let Some(filter) = filters.store_filter(session.organization_id, offset) else {
        return refused(chrome, &q, vec![p.to_before_from.into()], lang);
    };
    let skip = (filters.page - 1) * PAGE_SIZE;
    let found = match state
        .run(move |s| s.console_payments(&filter, skip, PAGE_SIZE))
        .await
    {
        Ok(f) => f,
        Err(e) => return unavailable(e),
    };
    let query = filters.query(lang);
    let shown = i64::try_from(found.lines.len()).unwrap_or(0);
    let channels = channel_choices(&found.channels, filters.channel.as_deref());
    let page = PaymentsPage {
        p,
        from: filters.from.to_string(),
        to: filters.to.to_string(),
        lang: lang.map(Locale::code),
        errors: Vec::new(),
        channels,
        statuses: status_choices(filters.status.map_or("", |s| s.as_str()), p),
        range: (shown > 0).then(|| {
            format!(
                "{} {}–{} {} {}",
                p.rows,
                skip + 1,
                skip + shown,
                p.of,
                found.total
            )
        }),
        rows: found
            .lines
            .into_iter()
            .map(|line| row(line, offset, locale, p))
            .collect(),
        csv: Some(format!("/console/payments.csv?{query}")),
        previous: (filters.page > 1)
            .then(|| format!("/console/payments?{query}&page={}", filters.page - 1)),
        next: (skip + shown < found.total)
            .then(|| format!("/console/payments?{query}&page={}", filters.page + 1)),
        chrome,
    };
    render(&page, StatusCode::OK)
}

/// A writer that hands the CSV to the response in chunks; a client gone ends the export.
struct Chunks {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Chunks {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))
    }
}

impl std::io::Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CSV_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// `GET /console/payments.csv`: the list's rows (every page) as the exporter writes them.
/// Streamed: a store failure after the first bytes ends the download with an error (a browser
/// shows it failed) and is logged.
pub async fn csv(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (session, chrome) = match signed_in(&req, &state, Section::Payments).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let lang = asked_lang(&req);
    let q = query_of(&req);
    let p = chrome.locale.console_payments();
    let today = billhub_store::local_date(state.now(), chrome.utc_offset);
    let filters = match Filters::parse(&q, today, p) {
        Ok(f) => f,
        Err(errors) => return refused(chrome, &q, errors, lang),
    };
    let Some(filter) = filters.store_filter(session.organization_id, chrome.utc_offset) else {
        return refused(chrome, &q, vec![p.to_before_from.into()], lang);
    };
    let name = format!(
        "payments-{}-{}-{}.csv",
        chrome.org_code, filters.from, filters.to
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let failed = tx.clone();
        let out = Chunks {
            tx,
            buf: Vec::with_capacity(CSV_CHUNK),
        };
        if let Err(e) = store.console_payments_csv(&filter, out) {
            tracing::error!(error = %e, "console: payments CSV stopped");
            let _ = failed.blocking_send(Err(std::io::Error::other("the export stopped")));
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .streaming(body)
}
