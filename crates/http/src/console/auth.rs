//! Sign-in, sessions, sign-out and the CSRF and origin checks of every console form.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use billhub_core::locale::console::SignInLabels;
use billhub_store::sessions::ConsoleSession;
use billhub_store::users::{self, SignInCandidate};
use rand::RngExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::layout::{Link, asked_lang, lang_links};
use super::{CSS, Limiter, html, see_other, unavailable};
use crate::pages::Asked;
use crate::state::AppState;

/// The session cookie.
pub const COOKIE: &str = "billhub_console";

/// The one answer to a failed sign-in, whatever failed (no user enumeration), in English (the
/// page shows it in its language: [`SignInLabels::failed`]).
pub const SIGN_IN_FAILED: &str = "Wrong organization code, e-mail or password.";
/// The answer once too many sign-ins failed, in English ([`SignInLabels::limited`]).
pub const SIGN_IN_LIMITED: &str = "Too many failed sign-ins. Wait 15 minutes and try again.";

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage<'a> {
    css: &'static str,
    lang: &'static str,
    l: &'static SignInLabels,
    /// The language switch.
    langs: Vec<Link>,
    /// The form's target: keeps a language picked with `?lang=`.
    action: String,
    error: Option<&'static str>,
    org: &'a str,
    email: &'a str,
}

/// Why a sign-in page shows an error.
#[derive(Clone, Copy)]
enum Refusal {
    Failed,
    Limited,
}

/// The sign-in form's fields (missing ones are empty).
#[derive(Debug, Default, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    org: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// A form that carries the session's CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// 32 random bytes, hex.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// What the store keeps of a cookie value: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The `Set-Cookie` value of a new session.
fn session_cookie(state: &AppState, token: &str) -> String {
    let secure = if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
fn cleared_cookie() -> String {
    format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The sign-in page in the request's language (`?lang=`, else `Accept-Language`, else English).
fn render_sign_in(
    req: &HttpRequest,
    status: StatusCode,
    refusal: Option<Refusal>,
    org: &str,
    email: &str,
) -> HttpResponse {
    let locale = Asked::of(req).locale("en");
    let l = locale.console_sign_in();
    let page = SignInPage {
        css: CSS,
        lang: locale.code(),
        l,
        langs: lang_links(req, locale),
        action: match asked_lang(req) {
            Some(asked) => format!("/console/sign-in?lang={}", asked.code()),
            None => "/console/sign-in".into(),
        },
        error: refusal.map(|r| match r {
            Refusal::Failed => l.failed,
            Refusal::Limited => l.limited,
        }),
        org,
        email,
    };
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => unavailable(e),
    }
}

/// The signed-in session of this request, if any: an expired one is deleted and is none; a
/// live one has its last-seen time written when a minute has passed.
pub(crate) async fn current(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<ConsoleSession>, HttpResponse> {
    let Some(cookie) = req.cookie(COOKIE) else {
        return Ok(None);
    };
    let hash = token_hash(cookie.value());
    let now = state.now();
    let lookup = hash.clone();
    let found = state
        .run(move |s| s.console_session(&lookup))
        .await
        .map_err(unavailable)?;
    let Some(session) = found else {
        return Ok(None);
    };
    if session.expired(now) {
        state
            .run(move |s| s.delete_console_session(&hash))
            .await
            .map_err(unavailable)?;
        return Ok(None);
    }
    if session.needs_touch(now) {
        let id = session.id;
        state
            .run(move |s| s.touch_console_session(id, now))
            .await
            .map_err(unavailable)?;
    }
    Ok(Some(session))
}

/// Whether a POST comes from this console's own origin: its `Origin`, or without one its
/// `Referer`. A request with neither passes (SameSite=Strict and the token still hold);
/// refuse the others with [`forbidden`].
pub(crate) fn same_origin(req: &HttpRequest) -> bool {
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("\u{0}").to_string())
    };
    if let Some(origin) = header("Origin") {
        origin == own
    } else if let Some(referer) = header("Referer") {
        referer == own || referer.starts_with(&format!("{own}/"))
    } else {
        true
    }
}

/// Whether a form's CSRF token is the session's (compared in constant time); refuse the others
/// with [`forbidden`].
pub(crate) fn csrf_ok(session: &ConsoleSession, token: &str) -> bool {
    !token.is_empty() && bool::from(session.csrf_token.as_bytes().ct_eq(token.as_bytes()))
}

/// 403 for a form that failed the origin or CSRF check.
pub(crate) fn forbidden() -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body("This form has expired or did not come from the console. Go back, reload and try again.")
}

/// `GET /console/sign-in`: the form (a signed-in user goes to the dashboard).
pub async fn sign_in_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match current(&req, &state).await {
        Ok(Some(_)) => see_other("/console/"),
        Ok(None) => render_sign_in(&req, StatusCode::OK, None, "", ""),
        Err(resp) => resp,
    }
}

/// `POST /console/sign-in`: checks the limits, then the password (against a dummy hash when
/// the organization or e-mail is unknown, so every failure costs the same), then starts a
/// session and sets its cookie.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    limiter: web::Data<Limiter>,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    if !same_origin(&req) {
        return forbidden();
    }
    let form = form.into_inner();
    let org = form.org.trim().to_string();
    let now = state.now();
    let address = req
        .peer_addr()
        .map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
    let account_key = format!(
        "account:{}:{}",
        org.to_uppercase(),
        users::email_key(&form.email)
    );
    let keys = [account_key.clone(), format!("address:{address}")];
    if limiter.limited(&keys, now) {
        return render_sign_in(
            &req,
            StatusCode::TOO_MANY_REQUESTS,
            Some(Refusal::Limited),
            &org,
            &form.email,
        );
    }
    let (code, email) = (org.clone(), form.email.clone());
    let candidate = state
        .run(move |s| {
            s.snapshot(|r| {
                // The code as typed, else in capitals (codes are usually capitals); both
                // lookups always run.
                let exact = r.organization_by_code(&code)?;
                let upper = r.organization_by_code(&code.to_uppercase())?;
                match exact.or(upper) {
                    Some(o) => r.console_sign_in_candidate(o.id, &email),
                    None => Ok(None),
                }
            })
        })
        .await;
    let candidate: Option<SignInCandidate> = match candidate {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let password = form.password.clone();
    let verified = web::block(move || match candidate {
        Some(c) if users::verify_password(&c.password_hash, &password) => Some(c.user),
        Some(_) => None,
        None => {
            let _ = users::verify_password(users::dummy_hash(), &password);
            None
        }
    })
    .await;
    let user = match verified {
        Ok(Some(u)) => u,
        Ok(None) => {
            limiter.fail(&keys, now);
            return render_sign_in(
                &req,
                StatusCode::UNAUTHORIZED,
                Some(Refusal::Failed),
                &org,
                &form.email,
            );
        }
        Err(e) => return unavailable(e),
    };
    let token = random_token();
    let (hash, csrf) = (token_hash(&token), random_token());
    let started = state
        .run(move |s| s.create_console_session(user.id, user.organization_id, &hash, &csrf, now))
        .await;
    if let Err(e) = started {
        return unavailable(e);
    }
    limiter.clear(&account_key);
    HttpResponse::SeeOther()
        .insert_header(("Location", "/console/"))
        .insert_header(("Set-Cookie", session_cookie(&state, &token)))
        .finish()
}

/// `POST /console/sign-out`: ends the session (CSRF-checked) and clears the cookie.
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if !same_origin(&req) {
        return forbidden();
    }
    let session = match current(&req, &state).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other("/console/sign-in"),
        Err(resp) => return resp,
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let Some(cookie) = req.cookie(COOKIE) else {
        return see_other("/console/sign-in");
    };
    let hash = token_hash(cookie.value());
    if let Err(e) = state.run(move |s| s.delete_console_session(&hash)).await {
        return unavailable(e);
    }
    HttpResponse::SeeOther()
        .insert_header(("Location", "/console/sign-in"))
        .insert_header(("Set-Cookie", cleared_cookie()))
        .finish()
}
