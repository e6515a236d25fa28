//! The operator console (`/console/`): server-rendered pages for an organization's staff, no
//! JavaScript, no CDN. See `docs/console.md`.
//!
//! - People sign in with an e-mail, their organization's code and a password ([`auth`]); the
//!   users are made with `billhub user create` (argon2id hashes in the store).
//! - Sessions live in the database (several processes serve one console): the cookie
//!   `billhub_console` carries a random 256-bit value of which only the SHA-256 is stored;
//!   HttpOnly, SameSite=Strict, Path=/console, Secure when `BILLHUB_PUBLIC_URL` is https; a
//!   session ends after 12 hours idle or at sign-out.
//! - Every POST but the sign-in itself carries the session's CSRF token (compared in constant
//!   time); every POST with an `Origin` (else a `Referer`) header must come from the console's
//!   own origin.
//! - Failed sign-ins are limited in memory, per process: [`MAX_FAILURES`] per account and per
//!   client address within [`FAILURE_WINDOW`]; the next attempt is refused with 429.
//! - Every read takes the organization id of the session, never one from the request.
//! - Every answer carries `Cache-Control: no-store`, a strict Content-Security-Policy (the one
//!   inline stylesheet by its hash, forms only to this origin, no framing) and
//!   `X-Frame-Options: DENY`.
//!
//! Errors: a store failure is logged and answered with a plain 503 page; never its cause.

pub mod actions;
pub mod auth;
pub mod bills;
pub mod dashboard;
pub(crate) mod layout;
pub mod money;
pub mod notifications;
pub mod payments;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{LazyLock, Mutex};

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::state::AppState;

/// The console's one stylesheet, inlined in every page.
pub(crate) const CSS: &str = include_str!("../../templates/console/console.css");

/// The Content-Security-Policy of every console answer.
pub static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
});

/// Failed sign-ins allowed per account and per address within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// The window failed sign-ins are counted in.
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);

/// Failed sign-ins per key (`account:ORG:email`, `address:IP`), in memory, per process.
#[derive(Debug, Default)]
pub struct Limiter {
    failures: Mutex<HashMap<String, VecDeque<OffsetDateTime>>>,
}

impl Limiter {
    /// Whether any of `keys` has [`MAX_FAILURES`] failures within the window before `now`.
    pub fn limited(&self, keys: &[String], now: OffsetDateTime) -> bool {
        let mut map = match self.failures.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        keys.iter().any(|k| {
            map.get_mut(k).is_some_and(|q| {
                while q.front().is_some_and(|t| now - *t >= FAILURE_WINDOW) {
                    q.pop_front();
                }
                q.len() >= MAX_FAILURES
            })
        })
    }

    /// Counts one failure against each of `keys`.
    pub fn fail(&self, keys: &[String], now: OffsetDateTime) {
        let mut map = match self.failures.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        for k in keys {
            map.entry(k.clone()).or_default().push_back(now);
        }
    }

    /// Forgets the failures of `key` (a successful sign-in of that account).
    pub fn clear(&self, key: &str) {
        let mut map = match self.failures.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.remove(key);
    }
}

/// Registers the console's routes under `/console` with its headers.
pub fn configure(cfg: &mut web::ServiceConfig, limiter: web::Data<Limiter>) {
    cfg.service(
        web::scope("/console")
            .app_data(limiter)
            .wrap(
                DefaultHeaders::new()
                    .add(("Cache-Control", "no-store"))
                    .add(("Content-Security-Policy", CSP.as_str()))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin")),
            )
            .route("/", web::get().to(dashboard::dashboard))
            .route("/sign-in", web::get().to(auth::sign_in_page))
            .route("/sign-in", web::post().to(auth::sign_in))
            .route("/sign-out", web::post().to(auth::sign_out))
            .configure(bills::routes)
            .configure(payments::routes)
            .configure(money::routes)
            .configure(notifications::routes)
            .configure(actions::routes),
    )
    .route(
        "/console",
        web::get().to(|| async {
            HttpResponse::SeeOther()
                .insert_header(("Location", "/console/"))
                .finish()
        }),
    );
}

/// The console as an HTTP server on `listener` over `state` (its own limiter).
pub fn server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let limiter = web::Data::new(Limiter::default());
    let data = web::Data::new(state);
    Ok(HttpServer::new(move || {
        let limiter = limiter.clone();
        App::new()
            .app_data(data.clone())
            .configure(move |cfg| configure(cfg, limiter))
    })
    .listen(listener)?
    .disable_signals()
    .run())
}

/// An HTML answer.
pub(crate) fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// A redirect after a form (303: the browser follows with GET).
pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .finish()
}

/// The plain page for a store failure (logged with its cause) or a page that cannot render.
pub(crate) fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "console: store unavailable");
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain; charset=utf-8")
        .body("The console is unavailable for a moment. Try again shortly.")
}
