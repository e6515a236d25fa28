//! `GET /console/actions`: the organization's action log, newest first and paged: when, who
//! (their e-mail), what, to which object, and the detail with its exact amounts. The log is
//! written by the money actions ([`super::money`], [`super::notifications`]) in the same
//! transaction as the action, and kept.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use billhub_core::locale::console_money::ConsoleMoneyLabels;
use billhub_store::StoreError;
use billhub_store::console_actions::action;

use super::layout::{Chrome, Section, signed_in};
use super::money::{ListQuery, PER_PAGE, Pages, pages, when};
use super::{html, unavailable};
use crate::state::AppState;

/// Registers this module's routes inside the `/console` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/actions", web::get().to(actions));
}

struct Row {
    id: i64,
    when: String,
    who: String,
    what: String,
    object: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "console/actions.html")]
struct Page {
    chrome: Chrome,
    l: &'static ConsoleMoneyLabels,
    rows: Vec<Row>,
    pages: Pages,
}

/// An action's name in the page's language; an unknown one as stored.
fn what(code: &str, l: &ConsoleMoneyLabels) -> String {
    match code {
        action::UNAPPLIED_APPLY => l.act_unapplied_apply.into(),
        action::UNAPPLIED_REFUND => l.act_unapplied_refund.into(),
        action::CREDIT_APPLY => l.act_credit_apply.into(),
        action::CREDIT_REFUND => l.act_credit_refund.into(),
        action::NOTIFICATION_RETRY => l.act_notification_retry.into(),
        other => other.into(),
    }
}

/// `GET /console/actions?page=`.
pub async fn actions(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let (session, chrome) = match signed_in(&req, &state, Section::Actions).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let org_id = session.organization_id;
    let page = query.page();
    let offset = (page - 1).saturating_mul(PER_PAGE);
    let read = state
        .run(move |s| {
            s.snapshot(|r| {
                let org = r.organization(org_id)?;
                let list = r.console_actions(org_id, offset, PER_PAGE)?;
                Ok::<_, StoreError>((org.utc_offset, list))
            })
        })
        .await;
    let (tz, (list, more)) = match read {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    let l = chrome.locale.console_money();
    let rows = list
        .into_iter()
        .map(|a| Row {
            id: a.id,
            when: when(a.created_at, tz, chrome.locale),
            who: a.email,
            what: what(&a.action, l),
            object: a.object,
            detail: a.detail,
        })
        .collect();
    let body = Page {
        l,
        rows,
        pages: pages("/console/actions", page, more, l, &chrome),
        chrome,
    };
    match body.render() {
        Ok(b) => html(StatusCode::OK, b),
        Err(e) => unavailable(e),
    }
}
