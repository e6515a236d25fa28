//! `GET /console/unapplied`: the organization's open unapplied money (oldest first, paged), the
//! most recently resolved, and its accounts' credit; operators apply or refund both, as
//! `billhub unapplied apply|refund` and `billhub credit apply|refund` do.
//!
//! Every form is checked (origin, CSRF token, operator) before anything is read; the action
//! runs in one store transaction with its row of the action log
//! ([`billhub_store::console_actions`]). Success answers 303 to `/console/unapplied?done=...`;
//! a refusal (an unknown bill, another currency, already resolved, not enough credit, ...)
//! shows the page again with the reason and changes nothing. An id of another organization is
//! answered 404, like an unknown id.
//!
//! The helpers shared by the money pages (paging, times, the refusal texts) live here.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use billhub_core::locale::console_money::{ConsoleMoneyLabels, fill};
use billhub_core::locale::{Locale, format_amount, format_date_time};
use billhub_core::{Currency, Money, Rejection};
use billhub_store::console_actions::{ActionError, Actor, ListedUnapplied, UnappliedPage};
use billhub_store::sessions::ConsoleSession;
use billhub_store::users::Role;
use billhub_store::{ConflictKind, CreditBalance, InvalidKind, StoreError};
use rand::RngExt;
use serde::Deserialize;
use time::{OffsetDateTime, UtcOffset};

use super::auth::{csrf_ok, forbidden, same_origin};
use super::layout::{Chrome, Section, operator_only, signed_in};
use super::{html, see_other, unavailable};
use crate::state::AppState;

/// Rows per page of every money page.
pub const PER_PAGE: i64 = 50;
/// How many recently resolved unapplied payments the page shows.
pub const RESOLVED_SHOWN: i64 = 20;

/// Registers this module's routes inside the `/console` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/unapplied", web::get().to(unapplied))
        .route("/unapplied/{id}/apply", web::post().to(apply))
        .route("/unapplied/{id}/refund", web::post().to(refund))
        .route("/credit/apply", web::post().to(credit_apply))
        .route("/credit/refund", web::post().to(credit_refund));
}

// ---------------------------------------------------------------------------------------------
// Shared by the money pages.

/// `?page=&done=` of a list page; anything unreadable is page 1 and no message.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

impl ListQuery {
    /// The page asked for, from 1.
    pub(crate) fn page(&self) -> i64 {
        self.page
            .as_deref()
            .and_then(|p| p.trim().parse::<i64>().ok())
            .filter(|p| (1..=1_000_000).contains(p))
            .unwrap_or(1)
    }

    pub(crate) fn done(&self) -> Option<&str> {
        self.done.as_deref()
    }
}

/// The previous and next page links of a list at `page` (`more`: a next page exists).
pub(crate) struct Pages {
    pub label: String,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// The links keep a language picked with the switch (`chrome.and_lang()`).
pub(crate) fn pages(
    path: &str,
    page: i64,
    more: bool,
    l: &ConsoleMoneyLabels,
    chrome: &Chrome,
) -> Pages {
    let lang = chrome.and_lang();
    Pages {
        label: fill(l.page, &[&page.to_string()]),
        prev: (page > 1).then(|| format!("{path}?page={}{lang}", page - 1)),
        next: more.then(|| format!("{path}?page={}{lang}", page + 1)),
    }
}

/// A moment on the organization's clock in the page's language.
pub(crate) fn when(t: OffsetDateTime, offset: UtcOffset, locale: Locale) -> String {
    format_date_time(t.to_offset(offset), locale)
}

/// Minor units of a currency code in the page's form; an unknown code as minor units.
pub(crate) fn amount(minor: i64, currency: &str, locale: Locale) -> String {
    match Currency::from_code(currency) {
        Ok(c) => format_amount(minor, c, locale),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// The signed-in operator of a form that passed the origin and CSRF checks, with the page
/// frame; else the answer (403, or the sign-in redirect).
#[allow(clippy::result_large_err)] // an actix answer, built once per request
pub(crate) async fn operator_form(
    req: &HttpRequest,
    state: &AppState,
    section: Section,
    csrf: &str,
) -> Result<(ConsoleSession, Chrome), HttpResponse> {
    if !same_origin(req) {
        return Err(forbidden());
    }
    let (session, chrome) = signed_in(req, state, section).await?;
    if !csrf_ok(&session, csrf) {
        return Err(forbidden());
    }
    operator_only(&session)?;
    Ok((session, chrome))
}

pub(crate) fn actor(session: &ConsoleSession) -> Actor {
    Actor {
        organization_id: session.organization_id,
        user_id: session.user_id,
        email: session.email.clone(),
    }
}

/// A core refusal (as its JSON: `{"reason":"above_outstanding","outstanding":100}`) in the
/// page's words; amounts in `currency` when known.
pub(crate) fn refusal_text(
    reason: &serde_json::Value,
    currency: Option<Currency>,
    l: &ConsoleMoneyLabels,
    locale: Locale,
) -> String {
    let code = reason
        .get("reason")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let minor = |field: &str| -> String {
        let n = reason.get(field).and_then(serde_json::Value::as_i64);
        match (n, currency) {
            (Some(n), Some(c)) => format_amount(n, c, locale),
            (Some(n), None) => n.to_string(),
            (None, _) => String::new(),
        }
    };
    let text = |v: &str| -> String {
        reason
            .get(v)
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .unwrap_or_default()
    };
    match code {
        "not_found" => l.err_no_match.into(),
        "already_paid" => l.err_paid.into(),
        "expired" => l.err_expired.into(),
        "void" => l.err_void.into(),
        "nothing_to_pay" => l.err_nothing_to_pay.into(),
        "non_positive_amount" => l.err_not_positive.into(),
        "above_outstanding" => fill(l.err_above_outstanding, &[&minor("outstanding")]),
        "must_equal_outstanding" => fill(l.err_must_equal, &[&minor("outstanding")]),
        "below_minimum" => fill(l.err_below_minimum, &[&minor("minimum")]),
        "currency_mismatch" => fill(l.err_currency, &[&text("got"), &text("expected")]),
        "insufficient_credit" => fill(l.err_credit, &[&minor("available")]),
        "" => fill(l.err_refused, &[&reason.to_string()]),
        other => fill(l.err_refused, &[&other.replace('_', " ")]),
    }
}

fn rejection_text(
    r: &Rejection,
    currency: Option<Currency>,
    l: &ConsoleMoneyLabels,
    locale: Locale,
) -> String {
    match serde_json::to_value(r) {
        Ok(v) if v.get("reason").is_some() => refusal_text(&v, currency, l, locale),
        _ => fill(l.err_refused, &[&r.to_string()]),
    }
}

/// What a refused action tells the operator: its status and message. A failure of the store
/// itself is not a refusal: `Err` with the 503 page.
#[allow(clippy::result_large_err)] // an actix answer, built once per request
pub(crate) fn refusal(
    e: &ActionError,
    currency: Option<Currency>,
    l: &ConsoleMoneyLabels,
    locale: Locale,
) -> Result<(StatusCode, String), HttpResponse> {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(match e {
        ActionError::NotFound => (StatusCode::NOT_FOUND, l.not_found.into()),
        ActionError::UnknownBill(n) => (unprocessable, fill(l.err_unknown_bill, &[n])),
        ActionError::NoBill => (unprocessable, l.err_no_bill.into()),
        ActionError::NotFailed { .. } => (StatusCode::CONFLICT, l.err_not_failed.into()),
        ActionError::Store(s) => return store_refusal(s, currency, l, locale),
    })
}

#[allow(clippy::result_large_err)] // an actix answer, built once per request
fn store_refusal(
    e: &StoreError,
    currency: Option<Currency>,
    l: &ConsoleMoneyLabels,
    locale: Locale,
) -> Result<(StatusCode, String), HttpResponse> {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    if let Some(r) = e.rejection() {
        return Ok((unprocessable, rejection_text(r, currency, l, locale)));
    }
    if e.is_not_found() {
        return Ok((StatusCode::NOT_FOUND, l.not_found.into()));
    }
    if let Some(k) = e.conflict_kind() {
        let text = match k {
            ConflictKind::AlreadyResolved { status, .. } if status == "refunded" => {
                l.err_already_refunded.to_string()
            }
            ConflictKind::AlreadyResolved { .. } => l.err_already_applied.to_string(),
            other => fill(l.err_refused, &[&other.to_string()]),
        };
        return Ok((StatusCode::CONFLICT, text));
    }
    if let Some(k) = e.invalid_kind() {
        let text = match k {
            InvalidKind::MissingNote => l.err_note.to_string(),
            InvalidKind::TargetOfAnotherAccount => l.err_other_account.to_string(),
            InvalidKind::Money(_) => fill(l.err_amount, &[currency.map_or("", |c| c.code())]),
            other => fill(l.err_refused, &[&other.to_string()]),
        };
        return Ok((unprocessable, text));
    }
    Err(unavailable(e))
}

// ---------------------------------------------------------------------------------------------
// The unapplied page.

struct OpenRow {
    id: i64,
    received: String,
    channel: String,
    reference: String,
    account: String,
    amount: String,
    why: String,
}

struct ResolvedRow {
    id: i64,
    received: String,
    amount: String,
    status: &'static str,
    resolved: String,
    outcome: String,
}

struct CreditRow {
    account_id: i64,
    account: String,
    currency: String,
    balance: String,
    /// Identifies one credit application (a form sent twice applies once).
    reference: String,
}

#[derive(Template)]
#[template(path = "console/unapplied.html")]
struct Page {
    chrome: Chrome,
    l: &'static ConsoleMoneyLabels,
    operator: bool,
    done: Option<&'static str>,
    error: Option<String>,
    open: Vec<OpenRow>,
    pages: Pages,
    resolved: Vec<ResolvedRow>,
    credit: Vec<CreditRow>,
}

fn credit_reference() -> String {
    let bytes: [u8; 12] = rand::rng().random();
    format!("console-{}", hex::encode(bytes))
}

fn done_text(done: Option<&str>, l: &ConsoleMoneyLabels) -> Option<&'static str> {
    match done? {
        "applied" => Some(l.done_applied),
        "refunded" => Some(l.done_refunded),
        _ => None,
    }
}

fn reason_of(u: &ListedUnapplied, l: &ConsoleMoneyLabels, locale: Locale) -> String {
    let v: serde_json::Value = serde_json::from_str(&u.reason).unwrap_or_default();
    refusal_text(&v, Currency::from_code(&u.currency).ok(), l, locale)
}

/// The page in its current state: `page` of open money, with `done` or `error` shown.
#[allow(clippy::too_many_lines)] // one page: read, then each table's rows
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
                let list = r.console_unapplied(org_id, offset, PER_PAGE, RESOLVED_SHOWN)?;
                let credit = r.credit_balances(org_id)?;
                Ok::<_, StoreError>((org.utc_offset, list, credit))
            })
        })
        .await;
    let (tz, list, credit): (UtcOffset, UnappliedPage, Vec<CreditBalance>) = match read {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    let locale = chrome.locale;
    let l = locale.console_money();
    let open = list
        .open
        .iter()
        .map(|u| OpenRow {
            id: u.id,
            received: when(u.created_at, tz, locale),
            channel: u.channel.clone(),
            reference: u.channel_ref.clone(),
            account: u.account_code.clone(),
            amount: amount(u.amount, &u.currency, locale),
            why: reason_of(u, l, locale),
        })
        .collect();
    let resolved = list
        .resolved
        .iter()
        .map(|u| ResolvedRow {
            id: u.id,
            received: when(u.created_at, tz, locale),
            amount: amount(u.amount, &u.currency, locale),
            status: if u.status == "refunded" {
                l.status_refunded
            } else {
                l.status_applied
            },
            resolved: u
                .resolved_at
                .map(|t| when(t, tz, locale))
                .unwrap_or_default(),
            outcome: u.resolution.clone(),
        })
        .collect();
    let credit = credit
        .iter()
        .map(|c| CreditRow {
            account_id: c.account_id,
            account: c.account_code.clone(),
            currency: c.currency.clone(),
            balance: amount(c.balance, &c.currency, locale),
            reference: credit_reference(),
        })
        .collect();
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let body = Page {
        operator: session.role == Role::Operator,
        l,
        done: done_text(done, l),
        error,
        open,
        pages: pages("/console/unapplied", page, list.more, l, &chrome),
        resolved,
        credit,
        chrome,
    };
    match body.render() {
        Ok(b) => html(status, b),
        Err(e) => unavailable(e),
    }
}

/// `GET /console/unapplied?page=&done=`.
pub async fn unapplied(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let (session, chrome) = match signed_in(&req, &state, Section::Unapplied).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    render(&state, &session, chrome, query.page(), query.done(), None).await
}

/// The fields of the money forms (missing ones are empty).
#[derive(Debug, Default, Deserialize)]
pub struct MoneyForm {
    #[serde(default)]
    csrf: String,
    /// Apply: the bill's public number or invoice number.
    #[serde(default)]
    target: String,
    #[serde(default)]
    note: String,
    /// Credit: the account id, its currency, the amount, an optional bill, the reference.
    #[serde(default)]
    account: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    bill: String,
    #[serde(default)]
    reference: String,
}

/// The currency of the organization's open unapplied payment `id`, for a refusal's amounts.
async fn unapplied_currency(state: &AppState, org_id: i64, id: i64) -> Option<Currency> {
    let list = state
        .run(move |s| s.unapplied_payments(Some(org_id)))
        .await
        .ok()?;
    list.into_iter()
        .find(|u| u.id == id)
        .and_then(|u| Currency::from_code(&u.currency).ok())
}

/// After an action: 303 to the page with `done`, or the page again with the refusal.
async fn answer<T>(
    state: &AppState,
    session: &ConsoleSession,
    chrome: Chrome,
    outcome: Result<Result<T, ActionError>, StoreError>,
    done: &str,
    currency: Option<Currency>,
    unapplied_id: Option<i64>,
) -> HttpResponse {
    let e = match outcome {
        Ok(Ok(_)) => {
            return see_other(&format!(
                "/console/unapplied?done={done}{}",
                chrome.and_lang()
            ));
        }
        Ok(Err(e)) => e,
        Err(e) => return unavailable(e),
    };
    let currency = match (currency, unapplied_id) {
        (None, Some(id)) => unapplied_currency(state, session.organization_id, id).await,
        (c, _) => c,
    };
    let l = chrome.locale.console_money();
    match refusal(&e, currency, l, chrome.locale) {
        Ok(shown) => render(state, session, chrome, 1, None, Some(shown)).await,
        Err(resp) => resp,
    }
}

/// `POST /console/unapplied/{id}/apply` (`target`): `billhub unapplied apply ID --bill`.
pub async fn apply(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<MoneyForm>,
) -> HttpResponse {
    let (session, chrome) = match operator_form(&req, &state, Section::Unapplied, &form.csrf).await
    {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let id = path.into_inner();
    let (who, target, now) = (actor(&session), form.target.clone(), state.now());
    let outcome = state
        .run(move |s| Ok(s.console_apply_unapplied(&who, id, &target, now)))
        .await;
    answer(&state, &session, chrome, outcome, "applied", None, Some(id)).await
}

/// `POST /console/unapplied/{id}/refund` (`note`): `billhub unapplied refund ID --note`.
pub async fn refund(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<MoneyForm>,
) -> HttpResponse {
    let (session, chrome) = match operator_form(&req, &state, Section::Unapplied, &form.csrf).await
    {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let id = path.into_inner();
    let (who, note, now) = (actor(&session), form.note.clone(), state.now());
    let outcome = state
        .run(move |s| Ok(s.console_refund_unapplied(&who, id, &note, now)))
        .await;
    answer(
        &state,
        &session,
        chrome,
        outcome,
        "refunded",
        None,
        Some(id),
    )
    .await
}

/// The account id, currency and amount of a credit form; `Err` with the refusal to show.
fn credit_fields(
    form: &MoneyForm,
    l: &ConsoleMoneyLabels,
) -> Result<(i64, Money), (StatusCode, String, Option<Currency>)> {
    let Ok(account) = form.account.trim().parse::<i64>() else {
        return Err((StatusCode::NOT_FOUND, l.not_found.into(), None));
    };
    let Ok(currency) = Currency::from_code(form.currency.trim()) else {
        return Err((StatusCode::NOT_FOUND, l.not_found.into(), None));
    };
    match Money::parse_exact(form.amount.trim(), currency) {
        Ok(m) => Ok((account, m)),
        Err(_) => Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            fill(l.err_amount, &[currency.code()]),
            Some(currency),
        )),
    }
}

/// `POST /console/credit/apply` (`account`, `currency`, `amount`, optional `bill`,
/// `reference`): `billhub credit apply`.
pub async fn credit_apply(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<MoneyForm>,
) -> HttpResponse {
    let (session, chrome) = match operator_form(&req, &state, Section::Unapplied, &form.csrf).await
    {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let l = chrome.locale.console_money();
    let (account, money) = match credit_fields(&form, l) {
        Ok(x) => x,
        Err((status, message, _)) => {
            return render(&state, &session, chrome, 1, None, Some((status, message))).await;
        }
    };
    let reference = match form.reference.trim() {
        "" => credit_reference(),
        r => r.to_string(),
    };
    let (who, bill, now) = (actor(&session), form.bill.clone(), state.now());
    let outcome = state
        .run(move |s| Ok(s.console_apply_credit(&who, account, money, &bill, &reference, now)))
        .await;
    let currency = Some(money.currency());
    answer(&state, &session, chrome, outcome, "applied", currency, None).await
}

/// `POST /console/credit/refund` (`account`, `currency`, `amount`, `note`):
/// `billhub credit refund`.
pub async fn credit_refund(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<MoneyForm>,
) -> HttpResponse {
    let (session, chrome) = match operator_form(&req, &state, Section::Unapplied, &form.csrf).await
    {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let l = chrome.locale.console_money();
    let (account, money) = match credit_fields(&form, l) {
        Ok(x) => x,
        Err((status, message, _)) => {
            return render(&state, &session, chrome, 1, None, Some((status, message))).await;
        }
    };
    let (who, note, now) = (actor(&session), form.note.clone(), state.now());
    let outcome = state
        .run(move |s| Ok(s.console_refund_credit(&who, account, money, &note, now)))
        .await;
    let currency = Some(money.currency());
    answer(
        &state, &session, chrome, outcome, "refunded", currency, None,
    )
    .await
}
