//! The hosted bill page (`GET /b/{public_no}`) and the payment receipt (`GET /r/{payment uid}`),
//! served by every gateway so that the links the dialects hand out open (Bill24's
//! `digital_bill_url`, the collections `bill_url` and `payment_url`).
//!
//! These pages are for people, not partners: plain server-rendered HTML, no scripts, no external
//! fonts or CDN, one inline stylesheet (with its print version) allowed by its hash in a strict
//! Content-Security-Policy, under 30 KB a page. They show what every channel sees: the amounts,
//! the status at this moment, how to pay through each channel the organization uses, a QR code of
//! the page's own link, and each payment with its receipt. Never the payer's contact details (a
//! public number or payment uid is unguessable, but a link travels).
//!
//! Words, amounts and dates come from [`billhub_core::locale`] in English, Khmer, Malay or
//! Indonesian: `?lang=`, else `Accept-Language`, else the organization's locale.
//!
//! A miss (unknown or malformed id) answers a localised 404 after the same store reads as a hit,
//! so that timing does not tell whether an id exists (see [`bill`] and [`receipt`]).
//!
//! Errors: store failures are logged and answered with a localised 503 page; a template that
//! cannot render (it cannot, short of a bug) is the same 503.

mod bill;
mod qr;
mod receipt;

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine as _;
use billhub_core::locale::{self, Labels, Locale};
use billhub_store::StoreError;
use sha2::{Digest, Sha256};

pub use bill::bill;
pub use receipt::receipt;

use crate::gateway::Gateway;

/// The pages' one stylesheet (screen and print), inlined in every page.
const CSS: &str = include_str!("../templates/pages.css");

/// The Content-Security-Policy of every page: nothing but the inline stylesheet, by its hash.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; \
         form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )
});

/// What every page's frame needs: the language, its words, the stylesheet and the language
/// switch.
struct Common {
    lang: &'static str,
    t: &'static Labels,
    css: &'static str,
    langs: Vec<LangLink>,
}

/// One entry of the language switch: a link to the same page in that language.
struct LangLink {
    code: &'static str,
    name: &'static str,
    href: String,
    current: bool,
}

impl Common {
    fn new(locale: Locale) -> Common {
        Common {
            lang: locale.code(),
            t: locale.labels(),
            css: CSS,
            langs: Locale::ALL
                .iter()
                .map(|l| LangLink {
                    code: l.code(),
                    name: l.native_name(),
                    href: format!("?lang={}", l.code()),
                    current: *l == locale,
                })
                .collect(),
        }
    }
}

/// What a request says about its language: the `?lang=` value and the `Accept-Language` header.
#[derive(Debug, Clone, Default)]
pub(crate) struct Asked {
    lang: Option<String>,
    accept_language: Option<String>,
}

impl Asked {
    pub(crate) fn of(req: &HttpRequest) -> Asked {
        Asked {
            lang: req
                .query_string()
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| *k == "lang")
                .map(|(_, v)| v.to_string()),
            accept_language: req
                .headers()
                .get("accept-language")
                .and_then(|v| v.to_str().ok())
                .map(String::from),
        }
    }

    /// The locale of the page: see [`locale::negotiate`]; `default` is the organization's.
    pub(crate) fn locale(&self, default: &str) -> Locale {
        locale::negotiate(
            self.lang.as_deref(),
            self.accept_language.as_deref(),
            Locale::from_tag(default).unwrap_or(Locale::En),
        )
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    c: Common,
    title: &'a str,
    message: &'a str,
}

/// The gateway serving the pages, as app data: the bill page asks it for the way back to the
/// merchant ([`Gateway::bill_page_return`]). `server::configure` registers it for every
/// gateway; a gateway whose hook answers `None` (the default) offers no return.
pub struct PageGateway(pub std::sync::Arc<dyn Gateway>);

impl PageGateway {
    pub fn data(gateway: std::sync::Arc<dyn Gateway>) -> web::Data<PageGateway> {
        web::Data::new(PageGateway(gateway))
    }
}

/// A page with the headers every page carries.
fn html(status: StatusCode, locale: Locale, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Vary", "Accept-Language"))
        .insert_header(("Content-Language", locale.code()))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Content-Security-Policy", CSP.as_str()))
        .body(body)
}

fn message(status: StatusCode, locale: Locale, title: &str, text: &str) -> HttpResponse {
    let page = MessagePage {
        c: Common::new(locale),
        title,
        message: text,
    };
    match page.render() {
        Ok(body) => html(status, locale, body),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a message page");
            HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body(text.to_string())
        }
    }
}

fn unavailable(locale: Locale, e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "hosted page failed");
    let t = locale.labels();
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        locale,
        t.unavailable,
        t.unavailable_text,
    )
}

/// A public number or payment uid: letters, digits and dashes, bounded.
fn sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An id no bill or payment has (public numbers are 8 letters and digits, uids are uuids): a
/// malformed id is looked up as this one, so that it costs what any miss costs.
const NO_ID: &str = "-";

/// The id to look up: `id` when it is [`sane`], else [`NO_ID`].
fn lookup_id(id: String) -> String {
    if sane(&id) { id } else { NO_ID.into() }
}

/// A read a miss repeats for timing's sake: an absent row is expected, any other error is not.
fn expected_absent<T>(read: Result<T, StoreError>) -> Result<(), StoreError> {
    match read {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// A link to another page in the same language.
fn in_locale(link: String, locale: Locale) -> String {
    format!("{link}?lang={}", locale.code())
}
