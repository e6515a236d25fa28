//! `GET /r/{payment uid}`: the receipt of one payment, and of its reversal when it was reversed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use billhub_core::locale::{self, Locale};
use billhub_core::{Bill, Payment};
use billhub_store::{Reader, StoreError};

use super::{Asked, Common, expected_absent, html, in_locale, lookup_id, message, qr, unavailable};
use crate::state::AppState;

struct AllocationRow {
    bill: String,
    link: String,
    amount: String,
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    c: Common,
    organization: String,
    amount: String,
    paid_at: String,
    channel: String,
    reference: String,
    payer: String,
    allocations: Vec<AllocationRow>,
    credit: String,
    fee: String,
    /// When the payment was reversed, or empty.
    reversed_at: String,
    reversal_reference: String,
    /// The QR code of the receipt's own link (inline SVG), or empty.
    qr: String,
}

/// `GET /r/{payment uid}`. An unknown or malformed uid is a 404 page in the language the
/// request asks for, after the same reads as a found payment with one bill.
pub async fn receipt(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let asked = Asked::of(&req);
    let uid = lookup_id(path.into_inner());
    let found = state
        .run(move |s| s.snapshot(|r| receipt_facts(r, &uid)))
        .await;
    let facts = match found {
        Ok(Some(facts)) => facts,
        Ok(None) => {
            let locale = asked.locale("en");
            let t = locale.labels();
            return message(
                StatusCode::NOT_FOUND,
                locale,
                t.receipt_not_found,
                t.receipt_not_found_text,
            );
        }
        Err(e) => return unavailable(asked.locale("en"), e),
    };
    let locale = asked.locale(&facts.1.locale);
    match receipt_page(&state, locale, facts).render() {
        Ok(body) => html(StatusCode::OK, locale, body),
        Err(e) => unavailable(locale, e),
    }
}

/// What the receipt shows: the payment, its organization, and each bill it paid with the amount.
type ReceiptFacts = (Payment, billhub_core::org::Organization, Vec<(Bill, i64)>);

/// The receipt's facts, in the caller's snapshot. A miss reads the same tables for an id no
/// row has.
fn receipt_facts(r: &mut Reader<'_>, uid: &str) -> Result<Option<ReceiptFacts>, StoreError> {
    let Some(payment) = r.payment_by_uid(uid)? else {
        expected_absent(r.organization(0))?;
        expected_absent(r.bill(0))?;
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
fn receipt_page(
    state: &AppState,
    locale: Locale,
    (payment, org, bills): ReceiptFacts,
) -> ReceiptPage {
    let m = |minor: i64| locale::format_amount(minor, payment.currency, locale);
    let shown = |minor: i64| if minor > 0 { m(minor) } else { String::new() };
    let when = |t| locale::format_date_time(billhub_store::local(t, org.utc_offset), locale);
    ReceiptPage {
        c: Common::new(locale),
        organization: org.name.clone(),
        amount: m(payment.amount),
        paid_at: when(payment.paid_at),
        channel: locale::channel_label(&payment.channel, locale),
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
                link: in_locale(state.link(&format!("/b/{}", b.public_no)), locale),
                amount: m(*amount),
            })
            .collect(),
        credit: shown(payment.credit),
        fee: shown(payment.fee),
        reversed_at: payment
            .reversed
            .as_ref()
            .map(|r| when(r.created_at))
            .unwrap_or_default(),
        reversal_reference: payment
            .reversed
            .as_ref()
            .map(|r| r.channel_ref.clone())
            .unwrap_or_default(),
        qr: qr::svg(
            &state.link(&format!("/r/{}", payment.uid)),
            locale.labels().receipt_title,
        ),
    }
}
