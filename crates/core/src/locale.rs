//! The languages of the pages payers read (the hosted bill page and the receipt), and how
//! amounts and dates are written in them. Pure rules: no IO, no clock.
//!
//! - [`Locale`]: English, Khmer, Malay and Indonesian (`en`, `km`, `ms`, `id`, the codes of
//!   [`crate::org::LOCALES`]), with [`Locale::labels`], every word a page shows.
//! - [`negotiate`]: which locale a request gets: `?lang=`, else the best of `Accept-Language`
//!   by q-value, else the organization's default.
//! - [`format_amount`]: an amount in its currency's local form, exact from minor units (never
//!   through a float): `5,000 ៛`, `KHR 5,000`, `Rp 100.000`, `RM 134.00`, `€65.00`, `$12.50`.
//! - [`format_date`] and [`format_date_time`]: `30 September 2025`, `30 កញ្ញា 2025`,
//!   `30 September 2025 14.05 (UTC+07:00)`.
//!
//! ## How amounts are written
//! An amount is written the way its currency's own country writes it, whatever the page's
//! language, so that the figure on the page is the figure the bank app, the terminal and the
//! printed bill show: rupiah with `.` between thousands, ringgit and dollars with `,` and two
//! decimals. The one exception is the riel: its sign `៛` is Khmer script, so it is written
//! `5,000 ៛` on Khmer pages and `KHR 5,000` on the others (a device without a Khmer font still
//! shows it, and a reader of English, Malay or Indonesian reads the code).
//!
//! Currencies whose amounts are in practice whole (KHR, IDR, VND, JPY, KRW) drop their decimals
//! when they are zero and keep them otherwise (`Rp 100.000`, `Rp 100.000,50`); the others always
//! show every decimal of their minor unit (`RM 134.00`).

pub mod console;
pub mod console_bills;
pub mod console_money;
mod labels;

use time::{Date, Month, OffsetDateTime};

use crate::bill::BillStatus;
use crate::money::Currency;
use crate::org::format_offset;

pub use labels::Labels;

/// A language of the payer pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    En,
    Km,
    Ms,
    Id,
}

impl Locale {
    /// Every locale, in the order the language switch lists them.
    pub const ALL: [Locale; 4] = [Locale::En, Locale::Km, Locale::Ms, Locale::Id];

    /// The code (`en`, `km`, `ms`, `id`), also the HTML `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Km => "km",
            Locale::Ms => "ms",
            Locale::Id => "id",
        }
    }

    /// A language tag's locale, by its primary subtag, case-insensitive: `en-US`, `KM`,
    /// `ms_MY`, `id-ID`, and the old Indonesian `in`. `None` for any other language.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Locale::En),
            "km" => Some(Locale::Km),
            "ms" => Some(Locale::Ms),
            "id" | "in" => Some(Locale::Id),
            _ => None,
        }
    }

    /// The language's name in itself, for the language switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Km => "ខ្មែរ",
            Locale::Ms => "Bahasa Melayu",
            Locale::Id => "Bahasa Indonesia",
        }
    }

    /// Every word the payer pages show, in this language.
    pub fn labels(self) -> &'static Labels {
        match self {
            Locale::En => &labels::EN,
            Locale::Km => &labels::KM,
            Locale::Ms => &labels::MS,
            Locale::Id => &labels::ID,
        }
    }
}

/// The locale of one request: `lang` (the `?lang=` query) when it names a supported language,
/// else the supported language `accept_language` prefers most (highest q-value, the first listed
/// among equals; `q=0` means "not this one"), else `default` (the organization's locale).
pub fn negotiate(lang: Option<&str>, accept_language: Option<&str>, default: Locale) -> Locale {
    lang.and_then(Locale::from_tag)
        .or_else(|| accept_language.and_then(preferred))
        .unwrap_or(default)
}

/// The supported language an `Accept-Language` header prefers, if any. A malformed q-value
/// counts as `q=0`; a wildcard `*` names no language of its own (the default applies).
pub fn preferred(accept_language: &str) -> Option<Locale> {
    let mut best: Option<(u16, Locale)> = None;
    for entry in accept_language.split(',').take(32) {
        let mut parts = entry.split(';');
        let Some(locale) = parts.next().and_then(Locale::from_tag) else {
            continue;
        };
        let mut q = 1000;
        for param in parts {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                q = q_thousandths(value.trim()).unwrap_or(0);
            }
        }
        if q > 0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, locale));
        }
    }
    best.map(|(_, locale)| locale)
}

/// An HTTP q-value (`1`, `0.8`, `0.125`, `1.000`) in thousandths; `None` when malformed.
fn q_thousandths(text: &str) -> Option<u16> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = match whole {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut scale = 100;
    for digit in frac.bytes() {
        thousandths += u16::from(digit - b'0') * scale;
        scale /= 10;
    }
    (thousandths <= 1000).then_some(thousandths)
}

/// How one currency is written: sign before or after, separators, and whether zero decimals
/// are dropped.
struct Style {
    prefix: &'static str,
    suffix: &'static str,
    group: char,
    decimal: char,
    /// Amounts are whole in practice: drop the decimals when they are zero.
    whole: bool,
}

const fn style(
    prefix: &'static str,
    suffix: &'static str,
    group: char,
    decimal: char,
    whole: bool,
) -> Style {
    Style {
        prefix,
        suffix,
        group,
        decimal,
        whole,
    }
}

fn currency_style(currency: Currency, locale: Locale) -> Style {
    match (currency.code(), locale) {
        ("KHR", Locale::Km) => style("", " ៛", ',', '.', true),
        ("KHR", _) => style("KHR ", "", ',', '.', true),
        ("IDR", _) => style("Rp ", "", '.', ',', true),
        ("MYR", _) => style("RM ", "", ',', '.', false),
        ("EUR", _) => style("€", "", ',', '.', false),
        ("USD", _) => style("$", "", ',', '.', false),
        ("SGD", _) => style("S$", "", ',', '.', false),
        ("GBP", _) => style("£", "", ',', '.', false),
        ("THB", _) => style("฿", "", ',', '.', false),
        ("PHP", _) => style("₱", "", ',', '.', false),
        ("VND", _) => style("", " ₫", '.', ',', true),
        ("JPY", _) => style("¥", "", ',', '.', true),
        ("KRW", _) => style("₩", "", ',', '.', true),
        // BHD, KWD and any currency added later: its code, then the amount.
        _ => style(currency.code(), "", ',', '.', false),
    }
}

/// `minor` units of `currency` as a person in `locale` reads them (see the module doc). Exact:
/// integer arithmetic on the minor units only.
pub fn format_amount(minor: i64, currency: Currency, locale: Locale) -> String {
    let s = currency_style(currency, locale);
    let exponent = currency.exponent();
    let magnitude = minor.unsigned_abs();
    let unit = 10u64.checked_pow(exponent).unwrap_or(1);
    let (whole, frac) = (magnitude / unit, magnitude % unit);
    let mut out = String::new();
    if minor < 0 {
        out.push('-');
    }
    out.push_str(s.prefix);
    if s.prefix.len() > 1 && s.prefix.chars().all(|c| c.is_ascii_uppercase()) {
        // A bare code (`BHD`) is followed by a space.
        out.push(' ');
    }
    out.push_str(&grouped(whole, s.group));
    if exponent > 0 && !(s.whole && frac == 0) {
        out.push(s.decimal);
        out.push_str(&format!("{frac:0width$}", width = exponent as usize));
    }
    out.push_str(s.suffix);
    out
}

/// `1234567` as `1,234,567` (with `sep`).
fn grouped(n: u64, sep: char) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

fn month_name(month: Month, locale: Locale) -> &'static str {
    let names = &locale.labels().months;
    names
        .get(usize::from(u8::from(month)).saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

/// A calendar date in the locale's form: `30 September 2025` (en), `30 កញ្ញា 2025` (km),
/// `30 September 2025` (ms, `30 Ogos 2025`), `30 September 2025` (id, `30 Agustus 2025`).
pub fn format_date(date: Date, locale: Locale) -> String {
    format!(
        "{} {} {}",
        date.day(),
        month_name(date.month(), locale),
        date.year()
    )
}

/// A moment as the organization's clock shows it (`t` already at the organization's offset),
/// with the offset so a reader elsewhere knows which clock: `30 September 2025, 14:05
/// (UTC+07:00)`. Indonesian writes the time `14.05`; Khmer says `ម៉ោង` (o'clock) before it.
pub fn format_date_time(t: OffsetDateTime, locale: Locale) -> String {
    let date = format_date(t.date(), locale);
    let (h, m) = (t.hour(), t.minute());
    let offset = format_offset(t.offset());
    match locale {
        Locale::En | Locale::Ms => format!("{date}, {h:02}:{m:02} (UTC{offset})"),
        Locale::Id => format!("{date} {h:02}.{m:02} (UTC{offset})"),
        Locale::Km => format!("{date} ម៉ោង {h:02}:{m:02} (UTC{offset})"),
    }
}

/// How a bill's status reads for a payer.
pub fn status_label(status: BillStatus, locale: Locale) -> &'static str {
    let l = locale.labels();
    match status {
        BillStatus::Active => l.unpaid,
        BillStatus::PartiallyPaid => l.partially_paid,
        BillStatus::Paid => l.status_paid,
        BillStatus::Expired => l.expired,
        BillStatus::Void => l.cancelled,
    }
}

/// How the stored name of the channel that took a payment (`bill24`, `va:3`, `postpaid:2`,
/// `cli`, ...) reads for a payer; an unknown channel reads as its name.
pub fn channel_label(channel: &str, locale: Locale) -> String {
    let l = locale.labels();
    match channel.split(':').next().unwrap_or_default() {
        "bill24" => l.channel_bank_app.into(),
        "va" => l.channel_bank_transfer.into(),
        "postpaid" => l.channel_terminal.into(),
        "sandbox" => "Sandbox".into(),
        "cli" | "console" => l.channel_operator.into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
