//! `GET /console/`: the signed-in user's organization at a glance, read in one snapshot.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use billhub_core::{Currency, Money};

use super::layout::{Chrome, Section, signed_in};
use super::{html, unavailable};
use crate::state::AppState;

/// One line of a totals table.
struct Line {
    label: String,
    count: i64,
    amount: String,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    today: String,
    today_rows: Vec<Line>,
    statuses: Vec<(String, i64)>,
    unapplied: Vec<Line>,
    failed_notifications: i64,
}

/// `1234.50 USD`; a currency the store should not hold is shown as minor units with its code.
fn amount(minor: i64, currency: &str) -> String {
    match Currency::from_code(currency) {
        Ok(c) => Money::from_minor(minor, c).to_string(),
        Err(_) => format!("{minor} {currency} (minor units)"),
    }
}

/// `GET /console/`.
pub async fn dashboard(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (session, chrome) = match signed_in(&req, &state, Section::Dashboard).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let now = state.now();
    let org_id = session.organization_id;
    let d = match state.run(move |s| s.console_dashboard(org_id, now)).await {
        Ok(d) => d,
        Err(e) => return unavailable(e),
    };
    let page = DashboardPage {
        chrome,
        today: d.today.to_string(),
        today_rows: d
            .today_by_channel
            .into_iter()
            .map(|t| Line {
                amount: amount(t.amount, &t.currency),
                label: t.channel,
                count: t.count,
            })
            .collect(),
        statuses: d.bills_by_status,
        unapplied: d
            .unapplied_open
            .into_iter()
            .map(|t| Line {
                amount: amount(t.amount, &t.currency),
                label: t.currency,
                count: t.count,
            })
            .collect(),
        failed_notifications: d.failed_notifications,
    };
    match page.render() {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => unavailable(e),
    }
}
