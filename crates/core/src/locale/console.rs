//! The words every console page shares (the header, the navigation, paging, the common
//! columns), once per language. A page's own words live in its own table
//! (`console_bills`, `console_money`, ...). A new label is a new field: the compiler then asks
//! for it in all four tables.

use super::Locale;

/// The console's shared words in one language (see [`Locale::console`]).
#[derive(Debug, PartialEq, Eq)]
pub struct ConsoleLabels {
    pub console: &'static str,
    pub dashboard: &'static str,
    pub bills: &'static str,
    pub payments: &'static str,
    pub unapplied: &'static str,
    pub notifications: &'static str,
    pub actions: &'static str,
    pub sign_out: &'static str,
    pub language: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub search: &'static str,
    pub nothing_found: &'static str,
    pub viewer: &'static str,
    pub operator: &'static str,
}

impl Locale {
    /// The console's shared words in this language.
    pub fn console(self) -> &'static ConsoleLabels {
        match self {
            Locale::En => &EN,
            Locale::Km => &KM,
            Locale::Ms => &MS,
            Locale::Id => &ID,
        }
    }
}

pub static EN: ConsoleLabels = ConsoleLabels {
    console: "billhub console",
    dashboard: "Dashboard",
    bills: "Bills",
    payments: "Payments",
    unapplied: "Unapplied money",
    notifications: "Notifications",
    actions: "Action log",
    sign_out: "Sign out",
    language: "Language",
    previous: "Previous",
    next: "Next",
    search: "Search",
    nothing_found: "Nothing found.",
    viewer: "viewer",
    operator: "operator",
};

// TODO(console i18n): the three tables below are English placeholders until translated.
pub static KM: ConsoleLabels = ConsoleLabels { ..EN_COPY };
pub static MS: ConsoleLabels = ConsoleLabels { ..EN_COPY };
pub static ID: ConsoleLabels = ConsoleLabels { ..EN_COPY };

const EN_COPY: ConsoleLabels = ConsoleLabels {
    console: "billhub console",
    dashboard: "Dashboard",
    bills: "Bills",
    payments: "Payments",
    unapplied: "Unapplied money",
    notifications: "Notifications",
    actions: "Action log",
    sign_out: "Sign out",
    language: "Language",
    previous: "Previous",
    next: "Next",
    search: "Search",
    nothing_found: "Nothing found.",
    viewer: "viewer",
    operator: "operator",
};
