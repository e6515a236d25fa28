//! What every signed-in console page shares: the session, the organization, the language and
//! the frame (header, navigation, language switch), and the operator-only guard.
//!
//! A page handler starts with [`signed_in`]; its template struct carries the returned
//! [`Chrome`] as `chrome` and extends `console/frame.html`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use billhub_core::locale::Locale;
use billhub_core::locale::console::ConsoleLabels;
use billhub_store::sessions::ConsoleSession;
use billhub_store::users::Role;
use time::UtcOffset;

use super::{CSS, html, see_other, unavailable};
use crate::pages::Asked;
use crate::state::AppState;

/// The console's sections, in navigation order: (path, which section).
pub(crate) const SECTIONS: [(&str, Section); 6] = [
    ("/console/", Section::Dashboard),
    ("/console/bills", Section::Bills),
    ("/console/payments", Section::Payments),
    ("/console/unapplied", Section::Unapplied),
    ("/console/notifications", Section::Notifications),
    ("/console/actions", Section::Actions),
];

/// A section of the console (the navigation entry shown as current).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Dashboard,
    Bills,
    Payments,
    Unapplied,
    Notifications,
    Actions,
}

impl Section {
    fn label(self, c: &ConsoleLabels) -> &'static str {
        match self {
            Section::Dashboard => c.dashboard,
            Section::Bills => c.bills,
            Section::Payments => c.payments,
            Section::Unapplied => c.unapplied,
            Section::Notifications => c.notifications,
            Section::Actions => c.actions,
        }
    }
}

/// One link of the navigation or the language switch.
pub(crate) struct Link {
    pub href: String,
    pub label: &'static str,
    /// The language of the label (a language switch entry), else empty.
    pub code: &'static str,
    pub current: bool,
}

/// The frame of a signed-in page.
pub(crate) struct Chrome {
    pub css: &'static str,
    pub locale: Locale,
    /// The HTML `lang`.
    pub lang: &'static str,
    /// The shared words in the page's language.
    pub c: &'static ConsoleLabels,
    pub org_name: String,
    /// The organization's code (file names of downloads).
    pub org_code: String,
    /// The organization's UTC offset: its local days and clock.
    pub utc_offset: UtcOffset,
    pub email: String,
    /// The role's word in the page's language.
    pub role: &'static str,
    pub csrf: String,
    pub nav: Vec<Link>,
    pub langs: Vec<Link>,
    /// `?lang=xx` when the request picked a language with the switch, else empty: appended to
    /// the page's own links and form targets so the language stays through paging and forms.
    pub keep: String,
}

impl Chrome {
    /// [`Chrome::keep`] as a further parameter (`&lang=xx`), else empty.
    pub fn and_lang(&self) -> String {
        self.keep.replacen('?', "&", 1)
    }
}

/// The session of a signed-in request and its page frame; a request without a live session
/// is sent to the sign-in page, a store failure gets the 503 page.
pub(crate) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    section: Section,
) -> Result<(ConsoleSession, Chrome), HttpResponse> {
    let session = match super::auth::current(req, state).await? {
        Some(s) => s,
        None => return Err(see_other("/console/sign-in")),
    };
    let org_id = session.organization_id;
    let org = state
        .run(move |s| s.organization(org_id))
        .await
        .map_err(unavailable)?;
    let asked = Asked::of(req);
    let locale = asked.locale(&org.locale);
    // A language picked with the switch stays on the navigation's links.
    let keep = match asked_lang(req) {
        Some(l) => format!("?lang={}", l.code()),
        None => String::new(),
    };
    let c = locale.console();
    let chrome = Chrome {
        css: CSS,
        locale,
        lang: locale.code(),
        c,
        org_name: org.name,
        org_code: org.code,
        utc_offset: org.utc_offset,
        email: session.email.clone(),
        role: match session.role {
            Role::Viewer => c.viewer,
            Role::Operator => c.operator,
        },
        csrf: session.csrf_token.clone(),
        nav: SECTIONS
            .iter()
            .map(|(href, s)| Link {
                href: format!("{href}{keep}"),
                label: s.label(c),
                code: "",
                current: *s == section,
            })
            .collect(),
        langs: lang_links(req, locale),
        keep,
    };
    Ok((session, chrome))
}

/// The language a request names in `?lang=`, if it is one of the console's.
pub(crate) fn asked_lang(req: &HttpRequest) -> Option<Locale> {
    req.query_string()
        .split('&')
        .filter_map(|p| p.strip_prefix("lang="))
        .find_map(Locale::from_tag)
}

/// The language switch of a page: the same page in each language, the request's other query
/// parameters kept (its `lang` replaced).
pub(crate) fn lang_links(req: &HttpRequest, current: Locale) -> Vec<Link> {
    let kept: Vec<&str> = req
        .query_string()
        .split('&')
        .filter(|p| !p.is_empty() && *p != "lang" && !p.starts_with("lang="))
        .collect();
    let prefix = if kept.is_empty() {
        String::from("?")
    } else {
        format!("?{}&", kept.join("&"))
    };
    Locale::ALL
        .iter()
        .map(|l| Link {
            href: format!("{prefix}lang={}", l.code()),
            label: l.native_name(),
            code: l.code(),
            current: *l == current,
        })
        .collect()
}

/// `Err` with a 403 page unless the session is an operator's (apply, refund, retry).
// The contract's signature: a handler returns the `Err` as is (`?`-free `match`), once.
#[allow(clippy::result_large_err)]
pub(crate) fn operator_only(session: &ConsoleSession) -> Result<(), HttpResponse> {
    match session.role {
        Role::Operator => Ok(()),
        Role::Viewer => Err(html(
            StatusCode::FORBIDDEN,
            "<!doctype html><title>Forbidden</title><p>Only operators can do this.</p>".into(),
        )),
    }
}
