//! `GET /b/{public_no}`: the hosted bill page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use billhub_core::locale::{self, Locale};
use billhub_core::{Bill, BillStatus, Payment};
use billhub_store::repo::pages::PayChannels;
use billhub_store::{Reader, StoreError};
use time::OffsetDateTime;

use super::{
    Asked, Common, PageGateway, expected_absent, html, in_locale, lookup_id, message, qr,
    unavailable,
};
use crate::gateway::Gateway;
use crate::state::AppState;

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
    c: Common,
    organization: String,
    public_no: String,
    invoice_number: String,
    title: String,
    description: String,
    payer: String,
    account_code: String,
    status: &'static str,
    status_class: &'static str,
    billed: String,
    paid: String,
    outstanding: String,
    bill_date: String,
    due_date: String,
    valid_until: String,
    items: Vec<ItemRow>,
    va_numbers: Vec<String>,
    /// The consumer code to type in a bank app (Bill24), when the organization has one.
    bank_app_code: String,
    /// The terminal networks the organization is enrolled with, joined.
    terminal_networks: String,
    payments: Vec<PaymentRow>,
    /// The QR code of the page's own link (inline SVG), or empty.
    qr: String,
}

/// The way back to the merchant, under the bill (see [`Gateway::bill_page_return`]).
#[derive(Template)]
#[template(
    source = r#"<p class="return"><a href="{{ url }}">{{ label }}</a></p>
"#,
    ext = "html"
)]
struct ReturnBlock<'a> {
    url: &'a str,
    label: &'a str,
}

/// Where the return block goes in the rendered bill page: before the page's closing note.
const RETURN_BEFORE: &str = "<p class=\"note\">";

/// The bill page with the way back to the merchant, when there is one.
fn with_return(page: String, url: Option<&str>, label: &str) -> Result<String, askama::Error> {
    let Some(url) = url else {
        return Ok(page);
    };
    let block = ReturnBlock { url, label }.render()?;
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

/// `GET /b/{public_no}`. An unknown or malformed number is a 404 page in the language the
/// request asks for, after the same reads as a found bill (the gateway's return hook aside).
pub async fn bill(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    gateway: Option<web::Data<PageGateway>>,
) -> HttpResponse {
    let asked = Asked::of(&req);
    let public_no = lookup_id(path.into_inner());
    let now = state.now();
    let gateway = gateway.map(|g| g.0.clone());
    let found = state
        .run(move |s| s.snapshot(|r| bill_facts(r, &public_no, gateway.as_deref(), now)))
        .await;
    let facts = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            let locale = asked.locale("en");
            let t = locale.labels();
            return message(
                StatusCode::NOT_FOUND,
                locale,
                t.bill_not_found,
                t.bill_not_found_text,
            );
        }
        Err(e) => return unavailable(asked.locale("en"), e),
    };
    let locale = asked.locale(&facts.org.locale);
    let return_url = facts.return_url.clone();
    let page = bill_page(&state, now, locale, facts);
    match page.render().and_then(|body| {
        with_return(
            body,
            return_url.as_deref(),
            locale.labels().return_to_merchant,
        )
    }) {
        Ok(body) => html(StatusCode::OK, locale, body),
        Err(e) => unavailable(locale, e),
    }
}

/// What the bill page shows, read in one snapshot.
struct BillFacts {
    bill: Bill,
    org: billhub_core::org::Organization,
    account: billhub_core::Account,
    items: Vec<billhub_store::BillItem>,
    vas: Vec<billhub_store::VaNumber>,
    payments: Vec<Payment>,
    channels: PayChannels,
    /// The way back to the merchant ([`Gateway::bill_page_return`]).
    return_url: Option<String>,
}

/// The bill page's facts, in the caller's snapshot; the way back to the merchant is asked of
/// `gateway`. A miss reads the same tables for an id no row has.
fn bill_facts(
    r: &mut Reader<'_>,
    public_no: &str,
    gateway: Option<&dyn Gateway>,
    now: OffsetDateTime,
) -> Result<Option<BillFacts>, StoreError> {
    let Some(bill) = r.bill_by_public_no_anywhere(public_no)? else {
        expected_absent(r.organization(0))?;
        expected_absent(r.account(0))?;
        r.bill_items(0)?;
        r.va_numbers_of_bill(0)?;
        r.payments_of_bill(0)?;
        r.pay_channels(0)?;
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
        channels: r.pay_channels(bill.organization_id)?,
        bill,
    }))
}

/// How a status looks: its CSS class.
fn status_class(status: BillStatus) -> &'static str {
    match status {
        BillStatus::Active | BillStatus::PartiallyPaid => "due",
        BillStatus::Paid => "paid",
        BillStatus::Expired | BillStatus::Void => "closed",
    }
}

/// The bill page's contents.
fn bill_page(state: &AppState, now: OffsetDateTime, locale: Locale, facts: BillFacts) -> BillPage {
    let BillFacts {
        bill,
        org,
        account,
        items,
        vas,
        payments,
        channels,
        return_url: _,
    } = facts;
    let offset = org.utc_offset;
    let status = bill.status_at(now);
    let ways = WaysToPay::of(status.is_payable(), vas, &channels, &account);
    let t = locale.labels();
    let money = |minor: i64| locale::format_amount(minor, bill.currency, locale);
    BillPage {
        c: Common::new(locale),
        organization: org.name.clone(),
        public_no: bill.public_no.clone(),
        invoice_number: if bill.invoice_number == bill.public_no {
            String::new()
        } else {
            bill.invoice_number.clone()
        },
        title: if bill.name.is_empty() {
            t.bill.into()
        } else {
            bill.name.clone()
        },
        description: if bill.description == bill.name {
            String::new()
        } else {
            bill.description.clone()
        },
        payer: payer_name(&account),
        account_code: account.code.clone(),
        status: locale::status_label(status, locale),
        status_class: status_class(status),
        billed: money(bill.billed),
        paid: money(bill.paid),
        outstanding: money(bill.outstanding()),
        bill_date: locale::format_date(bill.bill_date, locale),
        due_date: bill
            .due_date
            .map(|d| locale::format_date(d, locale))
            .unwrap_or_default(),
        valid_until: bill
            .valid_until
            .map(|v| locale::format_date_time(billhub_store::local(v, offset), locale))
            .unwrap_or_default(),
        items: items
            .iter()
            .map(|i| ItemRow {
                name: i.name.clone(),
                quantity: i.quantity.normalize().to_string(),
                unit_price: money(i.unit_price),
                total: money(i.total),
            })
            .collect(),
        va_numbers: ways.va_numbers,
        bank_app_code: ways.bank_app_code,
        terminal_networks: ways.terminal_networks,
        payments: payments
            .iter()
            .map(|p| payment_row(state, &bill, p, offset, locale))
            .collect(),
        qr: qr::svg(&state.link(&format!("/b/{}", bill.public_no)), t.qr_label),
    }
}

/// How the bill can be paid, channel by channel; nothing once it is not payable.
#[derive(Default)]
struct WaysToPay {
    /// The active VA numbers, one per prefix.
    va_numbers: Vec<String>,
    /// The consumer code to type in a bank app (Bill24), or empty.
    bank_app_code: String,
    /// The terminal networks to pay at by account code, joined, or empty.
    terminal_networks: String,
}

impl WaysToPay {
    fn of(
        payable: bool,
        vas: Vec<billhub_store::VaNumber>,
        channels: &PayChannels,
        account: &billhub_core::Account,
    ) -> WaysToPay {
        if !payable {
            return WaysToPay::default();
        }
        WaysToPay {
            va_numbers: vas
                .into_iter()
                .filter(|v| v.active)
                .map(|v| v.number)
                .collect(),
            bank_app_code: if channels.bill24 {
                account.code.clone()
            } else {
                String::new()
            },
            terminal_networks: channels.terminal_networks.join(", "),
        }
    }
}

/// The name shown for the payer: the account's name, else its Latin name, else first and last.
/// Never a phone number, e-mail or address.
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
fn payment_row(
    state: &AppState,
    bill: &Bill,
    p: &Payment,
    offset: time::UtcOffset,
    locale: Locale,
) -> PaymentRow {
    PaymentRow {
        date: locale::format_date_time(billhub_store::local(p.paid_at, offset), locale),
        channel: locale::channel_label(&p.channel, locale),
        amount: locale::format_amount(
            p.allocations
                .iter()
                .filter(|a| a.bill_id == bill.id)
                .map(|a| a.amount)
                .sum(),
            bill.currency,
            locale,
        ),
        receipt: in_locale(state.link(&format!("/r/{}", p.uid)), locale),
        reversed: p.reversed.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_return_goes_before_the_note_and_is_escaped() {
        let page = "<main><h1>Bill</h1>\n<p class=\"note\">Published through billhub.</p>\n</main>";
        assert_eq!(with_return(page.into(), None, "Back").unwrap(), page);
        let out = with_return(
            page.into(),
            Some("https://shop.test/?a=1&b=\"x\""),
            "Kembali ke penjual",
        )
        .unwrap();
        let link = "<p class=\"return\"><a href=\"https://shop.test/?a=1&#38;b=&#34;x&#34;\">Kembali ke penjual</a>";
        assert!(out.contains(link), "{out}");
        let at = out.find("<p class=\"return\">").unwrap();
        assert!(at < out.find("<p class=\"note\">").unwrap());
    }
}
