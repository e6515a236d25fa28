//! The hosted bill page (`GET /b/{public_no}`) and the payment receipt (`GET /r/{payment uid}`),
//! served by every gateway so that the links the dialects hand out open (Bill24's
//! `digital_bill_url`, the collections `bill_url` and `payment_url`).
//!
//! These pages are for people, not partners: plain HTML in English, no scripts, no contact details
//! of the payer (a public number or payment uid is unguessable, but a link can travel). They show
//! what every channel sees: the amounts, the status at this moment, where to pay (VA numbers), and
//! each payment with its receipt.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use billhub_core::{Bill, BillStatus, Money, Payment};
use billhub_store::{Reader, StoreError};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::gateway::Gateway;
use crate::state::AppState;

const DATE: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");
const DATE_TIME: &[BorrowedFormatItem<'static>] = format_description!(
    "[year]-[month]-[day] [hour]:[minute] [offset_hour sign:mandatory]:[offset_minute]"
);

struct ItemRow {
    name: String,
    quantity: String,
    unit_price: String,
    total: String,
}

struct PaymentRow {
    date: String,
    channel: String,
    amount: String,
    receipt: String,
    reversed: bool,
}

#[derive(Template)]
#[template(path = "bill.html")]
struct BillPage {
    organization: String,
    public_no: String,
    invoice_number: String,
    title: String,
    description: String,
    payer: String,
    status: &'static str,
    status_class: &'static str,
    currency: String,
    billed: String,
    paid: String,
    outstanding: String,
    bill_date: String,
    due_date: String,
    valid_until: String,
    items: Vec<ItemRow>,
    va_numbers: Vec<String>,
    payments: Vec<PaymentRow>,
}

struct AllocationRow {
    bill: String,
    link: String,
    amount: String,
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    organization: String,
    amount: String,
    currency: String,
    paid_at: String,
    channel: String,
    reference: String,
    payer: String,
    allocations: Vec<AllocationRow>,
    credit: String,
    fee: String,
    reversed_at: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

/// The way back to the merchant, under the bill (see [`Gateway::bill_page_return`]).
#[derive(Template)]
#[template(
    source = r#"<p class="return"><a href="{{ url }}">Return to the merchant</a></p>
"#,
    ext = "html"
)]
struct ReturnBlock<'a> {
    url: &'a str,
}

/// Where the return block goes in the rendered bill page: before the page's closing note.
const RETURN_BEFORE: &str = "<p class=\"note\">";

/// The gateway serving the pages, as app data: the bill page asks it for the way back to the
/// merchant ([`Gateway::bill_page_return`]). `server::configure` registers it for every
/// gateway; a gateway whose hook answers `None` (the default) offers no return.
pub struct PageGateway(pub std::sync::Arc<dyn Gateway>);

impl PageGateway {
    pub fn data(gateway: std::sync::Arc<dyn Gateway>) -> web::Data<PageGateway> {
        web::Data::new(PageGateway(gateway))
    }
}

/// The bill page with the way back to the merchant, when there is one.
fn with_return(page: String, url: Option<&str>) -> Result<String, askama::Error> {
    let Some(url) = url else {
        return Ok(page);
    };
    let block = ReturnBlock { url }.render()?;
    Ok(
        match page
            .rfind(RETURN_BEFORE)
            .and_then(|at| page.split_at_checked(at))
        {
            Some((head, tail)) => format!("{head}{block}{tail}"),
            None => format!("{page}{block}"),
        },
    )
}

/// How a status reads for a person, and its CSS class.
fn status_label(status: BillStatus) -> (&'static str, &'static str) {
    match status {
        BillStatus::Active => ("Unpaid", "due"),
        BillStatus::PartiallyPaid => ("Partially paid", "due"),
        BillStatus::Paid => ("Paid", "paid"),
        BillStatus::Expired => ("Expired", "closed"),
        BillStatus::Void => ("Cancelled", "closed"),
    }
}

/// How a payment channel reads for a person.
fn channel_label(channel: &str) -> String {
    match channel.split(':').next().unwrap_or_default() {
        "bill24" => "Bank app (Bill24)".into(),
        "va" => "Bank transfer (virtual account)".into(),
        "postpaid" => "Payment terminal".into(),
        "sandbox" => "Sandbox".into(),
        "cli" => "Operator".into(),
        other => other.to_string(),
    }
}

fn money(minor: i64, bill: &Bill) -> String {
    Money::from_minor(minor, bill.currency).to_fixed_string()
}

fn local(t: OffsetDateTime, offset: UtcOffset) -> String {
    billhub_store::local(t, offset)
        .format(DATE_TIME)
        .unwrap_or_default()
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(body)
}

fn message(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    match (MessagePage {
        title,
        message: text,
    })
    .render()
    {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a message page");
            HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body(text.to_string())
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "hosted page failed");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "Please try again in a moment.",
    )
}

/// A public number or payment uid: letters, digits and dashes, bounded.
fn sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `GET /b/{public_no}`.
pub async fn bill(
    state: web::Data<AppState>,
    path: web::Path<String>,
    gateway: Option<web::Data<PageGateway>>,
) -> HttpResponse {
    let public_no = path.into_inner();
    if !sane(&public_no) {
        return message(
            StatusCode::NOT_FOUND,
            "Bill not found",
            "There is no bill at this address.",
        );
    }
    let now = state.now();
    let gateway = gateway.map(|g| g.0.clone());
    let found = state
        .run(move |s| s.snapshot(|r| bill_facts(r, &public_no, gateway.as_deref(), now)))
        .await;
    let facts = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "Bill not found",
                "There is no bill at this address.",
            );
        }
        Err(e) => return unavailable(e),
    };
    let return_url = facts.return_url.clone();
    let page = bill_page(&state, now, facts);
    match page
        .render()
        .and_then(|body| with_return(body, return_url.as_deref()))
    {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => unavailable(e),
    }
}

/// The bill page's facts, in the caller's snapshot; the way back to the merchant is asked of
/// `gateway`.
fn bill_facts(
    r: &mut Reader<'_>,
    public_no: &str,
    gateway: Option<&dyn Gateway>,
    now: OffsetDateTime,
) -> Result<Option<BillFacts>, StoreError> {
    let Some(bill) = r.bill_by_public_no_anywhere(public_no)? else {
        return Ok(None);
    };
    let return_url = match gateway {
        Some(g) => g.bill_page_return(r, &bill, now)?,
        None => None,
    };
    Ok(Some(BillFacts {
        return_url,
        org: r.organization(bill.organization_id)?,
        account: r.account(bill.account_id)?,
        items: r.bill_items(bill.id)?,
        vas: r.va_numbers_of_bill(bill.id)?,
        payments: r.payments_of_bill(bill.id)?,
        bill,
    }))
}

/// What the bill page shows, read in one snapshot.
struct BillFacts {
    bill: Bill,
    org: billhub_core::org::Organization,
    account: billhub_core::Account,
    items: Vec<billhub_store::BillItem>,
    vas: Vec<billhub_store::VaNumber>,
    payments: Vec<Payment>,
    /// The way back to the merchant ([`Gateway::bill_page_return`]).
    return_url: Option<String>,
}

/// The bill page's contents.
fn bill_page(state: &AppState, now: time::OffsetDateTime, facts: BillFacts) -> BillPage {
    let BillFacts {
        bill,
        org,
        account,
        items,
        vas,
        payments,
        return_url: _,
    } = facts;
    let offset = org.utc_offset;
    let status = bill.status_at(now);
    let (label, class) = status_label(status);
    let payer = payer_name(&account);
    BillPage {
        organization: org.name.clone(),
        public_no: bill.public_no.clone(),
        invoice_number: if bill.invoice_number == bill.public_no {
            String::new()
        } else {
            bill.invoice_number.clone()
        },
        title: if bill.name.is_empty() {
            "Bill".into()
        } else {
            bill.name.clone()
        },
        description: if bill.description == bill.name {
            String::new()
        } else {
            bill.description.clone()
        },
        payer,
        status: label,
        status_class: class,
        currency: bill.currency.code().to_string(),
        billed: money(bill.billed, &bill),
        paid: money(bill.paid, &bill),
        outstanding: money(bill.outstanding(), &bill),
        bill_date: bill.bill_date.format(DATE).unwrap_or_default(),
        due_date: bill
            .due_date
            .and_then(|d| d.format(DATE).ok())
            .unwrap_or_default(),
        valid_until: bill
            .valid_until
            .map(|v| local(v, offset))
            .unwrap_or_default(),
        items: items
            .iter()
            .map(|i| ItemRow {
                name: i.name.clone(),
                quantity: i.quantity.normalize().to_string(),
                unit_price: money(i.unit_price, &bill),
                total: money(i.total, &bill),
            })
            .collect(),
        va_numbers: if status.is_payable() {
            vas.into_iter()
                .filter(|v| v.active)
                .map(|v| v.number)
                .collect()
        } else {
            Vec::new()
        },
        payments: payments
            .iter()
            .map(|p| payment_row(state, &bill, p, offset))
            .collect(),
    }
}

/// The name shown for the payer: the account's name, else its Latin name, else first and last.
fn payer_name(account: &billhub_core::Account) -> String {
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

/// One payment as the bill page lists it: what it allocated to this bill.
fn payment_row(state: &AppState, bill: &Bill, p: &Payment, offset: time::UtcOffset) -> PaymentRow {
    PaymentRow {
        date: local(p.paid_at, offset),
        channel: channel_label(&p.channel),
        amount: money(
            p.allocations
                .iter()
                .filter(|a| a.bill_id == bill.id)
                .map(|a| a.amount)
                .sum(),
            bill,
        ),
        receipt: state.link(&format!("/r/{}", p.uid)),
        reversed: p.reversed.is_some(),
    }
}

/// `GET /r/{payment uid}`.
pub async fn receipt(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let not_found = || {
        message(
            StatusCode::NOT_FOUND,
            "Receipt not found",
            "There is no receipt at this address.",
        )
    };
    let uid = path.into_inner();
    if !sane(&uid) {
        return not_found();
    }
    let found = state
        .run(move |s| s.snapshot(|r| receipt_facts(r, &uid)))
        .await;
    let facts = match found {
        Ok(Some(facts)) => facts,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e),
    };
    match receipt_page(&state, facts).render() {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => unavailable(e),
    }
}

/// What the receipt shows: the payment, its organization, and each bill it paid with the amount.
type ReceiptFacts = (Payment, billhub_core::org::Organization, Vec<(Bill, i64)>);

/// The receipt's facts, in the caller's snapshot.
fn receipt_facts(r: &mut Reader<'_>, uid: &str) -> Result<Option<ReceiptFacts>, StoreError> {
    let Some(payment) = r.payment_by_uid(uid)? else {
        return Ok(None);
    };
    let org = r.organization(payment.organization_id)?;
    let mut bills = Vec::new();
    for a in &payment.allocations {
        bills.push((r.bill(a.bill_id)?, a.amount));
    }
    Ok(Some((payment, org, bills)))
}

/// The receipt page's contents.
fn receipt_page(state: &AppState, (payment, org, bills): ReceiptFacts) -> ReceiptPage {
    let m = |minor: i64| Money::from_minor(minor, payment.currency).to_fixed_string();
    let shown = |minor: i64| if minor > 0 { m(minor) } else { String::new() };
    ReceiptPage {
        organization: org.name.clone(),
        amount: m(payment.amount),
        currency: payment.currency.code().to_string(),
        paid_at: local(payment.paid_at, org.utc_offset),
        channel: channel_label(&payment.channel),
        reference: payment.channel_ref.clone(),
        payer: payment.payer_name.clone(),
        allocations: bills
            .iter()
            .map(|(b, amount)| AllocationRow {
                bill: if b.name.is_empty() {
                    b.public_no.clone()
                } else {
                    format!("{} ({})", b.name, b.public_no)
                },
                link: state.link(&format!("/b/{}", b.public_no)),
                amount: m(*amount),
            })
            .collect(),
        credit: shown(payment.credit),
        fee: shown(payment.fee),
        reversed_at: payment
            .reversed
            .as_ref()
            .map(|r| local(r.created_at, org.utc_offset))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_return_goes_before_the_note_and_is_escaped() {
        let page = "<main><h1>Bill</h1>\n<p class=\"note\">Published through billhub.</p>\n</main>";
        assert_eq!(with_return(page.into(), None).unwrap(), page);
        let out = with_return(page.into(), Some("https://shop.test/?a=1&b=\"x\"")).unwrap();
        let link = "<p class=\"return\"><a href=\"https://shop.test/?a=1&#38;b=&#34;x&#34;\">";
        assert!(out.contains(link), "{out}");
        let at = out.find("<p class=\"return\">").unwrap();
        assert!(at < out.find("<p class=\"note\">").unwrap());
    }
}
