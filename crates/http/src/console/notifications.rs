//! `GET /console/notifications`: the organization's notification deliveries, newest first and
//! paged, with their attempts, last answer and last error; operators retry a failed one
//! (`POST /console/notifications/{id}/retry`): it is pending again and due now, its attempts
//! kept, and the retry is written to the action log in the same transaction. The worker then
//! makes one more attempt. Another organization's delivery id is answered 404 and nothing
//! changes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use billhub_core::locale::console_money::ConsoleMoneyLabels;
use billhub_store::sessions::ConsoleSession;
use billhub_store::users::Role;
use billhub_store::{ListedDelivery, StoreError};
use serde::Deserialize;
use time::UtcOffset;

use super::layout::{Chrome, Section, signed_in};
use super::money::{ListQuery, PER_PAGE, Pages, actor, operator_form, pages, refusal, when};
use super::{html, see_other, unavailable};
use crate::state::AppState;

/// Registers this module's routes inside the `/console` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/notifications", web::get().to(notifications))
        .route("/notifications/{id}/retry", web::post().to(retry));
}

struct Row {
    id: i64,
    created: String,
    event: String,
    receiver: String,
    dialect: String,
    status: &'static str,
    failed: bool,
    attempts: i32,
    last_status: String,
    last_error: String,
    next_attempt: String,
}

#[derive(Template)]
#[template(path = "console/notifications.html")]
struct Page {
    chrome: Chrome,
    l: &'static ConsoleMoneyLabels,
    operator: bool,
    done: Option<&'static str>,
    error: Option<String>,
    rows: Vec<Row>,
    pages: Pages,
}

fn row(d: ListedDelivery, tz: UtcOffset, chrome: &Chrome, l: &ConsoleMoneyLabels) -> Row {
    let r = d.record;
    let (status, failed) = match r.status.as_str() {
        "delivered" => (l.status_delivered, false),
        "failed" => (l.status_failed, true),
        _ => (l.status_pending, false),
    };
    Row {
        id: r.id,
        created: when(d.created_at, tz, chrome.locale),
        event: d.kind,
        receiver: r.target_url,
        dialect: r.dialect,
        status,
        failed,
        attempts: r.attempts,
        last_status: r.last_status.map(|s| s.to_string()).unwrap_or_default(),
        last_error: r.last_error,
        next_attempt: if r.status == "pending" {
            when(r.next_attempt_at, tz, chrome.locale)
        } else {
            String::new()
        },
    }
}

async fn render(
    state: &AppState,
    session: &ConsoleSession,
    chrome: Chrome,
    page: i64,
    done: Option<&str>,
    error: Option<(StatusCode, String)>,
) -> HttpResponse {
    let org_id = session.organization_id;
    let offset = (page - 1).saturating_mul(PER_PAGE);
    let read = state
        .run(move |s| {
            s.snapshot(|r| {
                let org = r.organization(org_id)?;
                let list = r.deliveries_page(org_id, offset, PER_PAGE)?;
                Ok::<_, StoreError>((org.utc_offset, list))
            })
        })
        .await;
    let (tz, (list, more)) = match read {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    let l = chrome.locale.console_money();
    let rows = list.into_iter().map(|d| row(d, tz, &chrome, l)).collect();
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let body = Page {
        operator: session.role == Role::Operator,
        l,
        done: (done == Some("retried")).then_some(l.done_retried),
        error,
        rows,
        pages: pages("/console/notifications", page, more, l, &chrome),
        chrome,
    };
    match body.render() {
        Ok(b) => html(status, b),
        Err(e) => unavailable(e),
    }
}

/// `GET /console/notifications?page=&done=`.
pub async fn notifications(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let (session, chrome) = match signed_in(&req, &state, Section::Notifications).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    render(&state, &session, chrome, query.page(), query.done(), None).await
}

/// The retry form: only the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /console/notifications/{id}/retry`.
pub async fn retry(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<RetryForm>,
) -> HttpResponse {
    let (session, chrome) =
        match operator_form(&req, &state, Section::Notifications, &form.csrf).await {
            Ok(x) => x,
            Err(resp) => return resp,
        };
    let id = path.into_inner();
    let (who, now) = (actor(&session), state.now());
    let outcome = state
        .run(move |s| Ok(s.console_retry_delivery(&who, id, now)))
        .await;
    let e = match outcome {
        Ok(Ok(_)) => {
            return see_other(&format!(
                "/console/notifications?done=retried{}",
                chrome.and_lang()
            ));
        }
        Ok(Err(e)) => e,
        Err(e) => return unavailable(e),
    };
    let l = chrome.locale.console_money();
    match refusal(&e, None, l, chrome.locale) {
        Ok(shown) => render(&state, &session, chrome, 1, None, Some(shown)).await,
        Err(resp) => resp,
    }
}
