//! Organizations (billers) and their typed settings.
//!
//! Settings are stored as key/value text pairs (`billhub org set CODE KEY VALUE`) and read through
//! [`Settings`], which knows every key, its default, and how to validate a value.

use std::collections::BTreeMap;

use serde::Serialize;
use time::UtcOffset;

use crate::bill::SettlementMode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    /// Numeric id; also the CSQ `operatorId`.
    pub id: i64,
    /// 8 characters; also the IPG `institution_code`.
    pub code: String,
    pub name: String,
    #[serde(skip)]
    pub utc_offset: UtcOffset,
    pub locale: String,
}

impl Organization {
    /// `+07:00` style.
    pub fn utc_offset_string(&self) -> String {
        format_offset(self.utc_offset)
    }
}

/// `+07:00` / `-05:30`.
pub fn format_offset(offset: UtcOffset) -> String {
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
}

/// Parses `+07:00`, `-05:30`, `Z` or `+0700`.
pub fn parse_offset(text: &str) -> Result<UtcOffset, SettingError> {
    let bad = || SettingError::Invalid {
        key: "utc_offset".into(),
        reason: format!("`{text}` is not an offset like +07:00"),
    };
    if text == "Z" || text == "z" {
        return Ok(UtcOffset::UTC);
    }
    let (sign, rest) = if let Some(rest) = text.strip_prefix('+') {
        (1i8, rest)
    } else if let Some(rest) = text.strip_prefix('-') {
        (-1i8, rest)
    } else {
        return Err(bad());
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (rest.len() == 5 && rest.as_bytes().get(2) != Some(&b':'))
    {
        return Err(bad());
    }
    let (h, m) = digits.split_at_checked(2).ok_or_else(bad)?;
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| bad())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("unknown setting `{0}`")]
    UnknownKey(String),
    #[error("invalid value for `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

pub mod bill24;
pub mod collections;
pub mod postpaid;
pub mod va;

/// Supported locales.
pub const LOCALES: [&str; 4] = ["en", "km", "ms", "id"];

/// Every organization setting with its default. The shared keys (`settlement`, `locale`) are
/// fields; each dialect's keys (`bill24.*`, `postpaid.*`, `va.*`, `collections.*`) form a typed
/// section ([`Settings::bill24`], [`Settings::postpaid`], [`Settings::va`],
/// [`Settings::collections`]), parsed and validated once when the settings are read. A new key
/// goes into its section (and `docs/configuration.md`).
///
/// The flat `bill24_*`, `postpaid_*`, `va_*` and `collections_*` fields are read-only copies of
/// the sections, kept for existing callers: change settings through [`Settings::set`] only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub settlement: SettlementMode,
    pub locale: String,
    pub va_webhook_url: Option<String>,
    pub bill24_statement_months: u32,
    pub bill24_statement_max_entries: u32,
    pub bill24_webhook_allow_ips: Vec<String>,
    /// JSON describing the postpaid fields; `None` means the default single `account` field.
    pub postpaid_fields: Option<String>,
    pub postpaid_fee_x100: i64,
    pub postpaid_code_ttl_seconds: i64,
    pub postpaid_revert_window_hours: i64,
    pub collections_requests_per_minute: u32,
    #[serde(skip)]
    sections: Sections,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Sections {
    bill24: bill24::Bill24Settings,
    postpaid: postpaid::PostpaidSettings,
    va: va::VaSettings,
    collections: collections::CollectionsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_sections(SettlementMode::Open, "en".into(), Sections::default())
    }
}

/// A notification subscription: deliveries for `dialect`'s worker, posted to `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub dialect: &'static str,
    pub url: String,
}

/// The keys [`Settings`] understands.
pub const SETTING_KEYS: [&str; 11] = [
    "settlement",
    "locale",
    "va.webhook_url",
    "bill24.statement_months",
    "bill24.statement_max_entries",
    "bill24.webhook_allow_ips",
    "postpaid.fields",
    "postpaid.fee_x100",
    "postpaid.code_ttl_seconds",
    "postpaid.revert_window_hours",
    "collections.requests_per_minute",
];

pub(crate) fn parse_num<T: std::str::FromStr + PartialOrd>(
    key: &str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, SettingError> {
    let n: T = value.trim().parse().map_err(|_| SettingError::Invalid {
        key: key.into(),
        reason: format!("`{value}` is not a whole number"),
    })?;
    if n < min || n > max {
        return Err(SettingError::Invalid {
            key: key.into(),
            reason: format!("`{value}` is out of range"),
        });
    }
    Ok(n)
}

impl Settings {
    fn from_sections(settlement: SettlementMode, locale: String, sections: Sections) -> Settings {
        let Sections {
            bill24,
            postpaid,
            va,
            collections,
        } = &sections;
        Settings {
            settlement,
            locale,
            va_webhook_url: va.webhook_url.clone(),
            bill24_statement_months: bill24.statement_months,
            bill24_statement_max_entries: bill24.statement_max_entries,
            bill24_webhook_allow_ips: bill24.webhook_allow_ips_text().to_vec(),
            postpaid_fields: postpaid.fields_text.clone(),
            postpaid_fee_x100: postpaid.fee_x100,
            postpaid_code_ttl_seconds: postpaid.code_ttl_seconds,
            postpaid_revert_window_hours: postpaid.revert_window_hours,
            collections_requests_per_minute: collections.requests_per_minute,
            sections,
        }
    }
    /// Who hears about a change to one of the organization's bills, besides the bill's
    /// collection ([`collections::CALLBACK_DIALECT`]): each dialect with a webhook setting, and
    /// where to post. The outbox enqueues one delivery per subscription, tagged with the dialect
    /// whose worker renders it; the store names no dialect itself.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.sections
            .va
            .webhook_url
            .iter()
            .map(|url| Subscription {
                dialect: va::DIALECT,
                url: url.clone(),
            })
            .collect()
    }

    /// Bill24's settings (`bill24.*`).
    pub fn bill24(&self) -> &bill24::Bill24Settings {
        &self.sections.bill24
    }

    /// The postpaid dialect's settings (`postpaid.*`), with `postpaid.fields` parsed.
    pub fn postpaid(&self) -> &postpaid::PostpaidSettings {
        &self.sections.postpaid
    }

    /// The VA dialect's settings (`va.*`).
    pub fn va(&self) -> &va::VaSettings {
        &self.sections.va
    }

    /// The collections API's settings (`collections.*`).
    pub fn collections(&self) -> &collections::CollectionsSettings {
        &self.sections.collections
    }

    /// Applies one key/value, validating it. Unknown keys are refused; on an error nothing
    /// changes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        let mut sections = self.sections.clone();
        let (mut settlement, mut locale) = (self.settlement, self.locale.clone());
        match key.split_once('.').map(|(section, _)| section) {
            None => set_shared(&mut settlement, &mut locale, key, value)?,
            Some("bill24") => sections.bill24.set(key, value)?,
            Some("postpaid") => sections.postpaid.set(key, value)?,
            Some("va") => sections.va.set(key, value)?,
            Some("collections") => sections.collections.set(key, value)?,
            Some(_) => return Err(SettingError::UnknownKey(key.into())),
        }
        *self = Settings::from_sections(settlement, locale, sections);
        Ok(())
    }

    /// Checks one key/value as [`Settings::set`] would, without settings at hand: the one
    /// validation entry point for `billhub org set` (no value depends on another key).
    pub fn validate(key: &str, value: &str) -> Result<(), SettingError> {
        Settings::default().set(key, value)
    }

    /// Reads stored pairs over the defaults. A stored value that no longer validates is an error,
    /// never silently replaced by the default.
    pub fn from_pairs<'a, I>(pairs: I) -> Result<Settings, SettingError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut s = Settings::default();
        for (k, v) in pairs {
            s.set(k, v)?;
        }
        Ok(s)
    }

    /// Every key with its current value as text (for `billhub org show`).
    pub fn to_pairs(&self) -> BTreeMap<&'static str, String> {
        let mut m = BTreeMap::new();
        m.insert("settlement", self.settlement.as_str().to_string());
        m.insert("locale", self.locale.clone());
        self.sections.va.pairs(&mut m);
        self.sections.bill24.pairs(&mut m);
        self.sections.postpaid.pairs(&mut m);
        self.sections.collections.pairs(&mut m);
        m
    }
}

/// The shared keys: `settlement` and `locale`.
fn set_shared(
    settlement: &mut SettlementMode,
    locale: &mut String,
    key: &str,
    value: &str,
) -> Result<(), SettingError> {
    let invalid = |reason: &str| SettingError::Invalid {
        key: key.into(),
        reason: reason.into(),
    };
    match key {
        "settlement" => {
            *settlement = value
                .parse()
                .map_err(|_| invalid("expected total, discrete or open"))?
        }
        "locale" => {
            if !LOCALES.contains(&value) {
                return Err(invalid("expected en, km, ms or id"));
            }
            *locale = value.into();
        }
        _ => return Err(SettingError::UnknownKey(key.into())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_defaults_and_validation() {
        let s = Settings::from_pairs([("settlement", "total"), ("bill24.statement_months", "6")])
            .unwrap();
        assert_eq!(s.settlement, SettlementMode::Total);
        assert_eq!(s.bill24_statement_months, 6);
        assert_eq!(s.bill24_statement_max_entries, 24);
        assert!(matches!(
            Settings::from_pairs([("nope", "1")]),
            Err(SettingError::UnknownKey(_))
        ));
        assert!(matches!(
            Settings::from_pairs([("settlement", "all")]),
            Err(SettingError::Invalid { .. })
        ));
        assert!(Settings::from_pairs([("bill24.webhook_allow_ips", "1.2.3.4, ::1")]).is_ok());
        assert!(Settings::from_pairs([("bill24.webhook_allow_ips", "1.2.3")]).is_err());
        assert_eq!(Settings::default().to_pairs().len(), SETTING_KEYS.len());
    }

    #[test]
    fn sections_are_parsed_once_and_mirrored() {
        let fields = r#"[{"name":"acc","type":"INPUT","account":true}]"#;
        let s = Settings::from_pairs([
            ("bill24.statement_months", "6"),
            ("bill24.webhook_allow_ips", " 1.2.3.4, ,::1"),
            ("postpaid.fields", fields),
            ("postpaid.fee_x100", "250"),
            ("postpaid.revert_window_hours", "0"),
            ("va.webhook_url", "https://example.test/hook"),
            ("collections.requests_per_minute", "60"),
        ])
        .unwrap();
        assert_eq!(s.bill24().statement_months, 6);
        assert_eq!(s.bill24_statement_months, 6);
        let ips: Vec<std::net::IpAddr> = vec!["1.2.3.4".parse().unwrap(), "::1".parse().unwrap()];
        assert_eq!(s.bill24().webhook_allow_ips, ips);
        assert_eq!(s.bill24_webhook_allow_ips, vec!["1.2.3.4", "::1"]);
        assert_eq!(s.postpaid().fields.account_field().name, "acc");
        assert_eq!(s.postpaid_fields.as_deref(), Some(fields));
        assert_eq!(s.postpaid().fee_x100, 250);
        assert!(!s.postpaid().reverts_allowed());
        assert_eq!(s.postpaid().code_ttl(), time::Duration::seconds(900));
        assert_eq!(
            s.va().webhook_url.as_deref(),
            Some("https://example.test/hook")
        );
        assert_eq!(s.collections().requests_per_minute, 60);
        assert_eq!(s.collections_requests_per_minute, 60);
        let d = Settings::default();
        assert!(d.postpaid().reverts_allowed());
        assert_eq!(d.postpaid().revert_window(), time::Duration::hours(24));
        assert_eq!(d.postpaid().fields.account_field().name, "account");
    }

    #[test]
    fn pairs_round_trip_and_keys_agree() {
        let s = Settings::from_pairs([
            ("settlement", "discrete"),
            ("locale", "km"),
            ("bill24.webhook_allow_ips", "10.0.0.1,10.0.0.2"),
            ("postpaid.code_ttl_seconds", "60"),
        ])
        .unwrap();
        let pairs = s.to_pairs();
        let again = Settings::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
        assert_eq!(again, s);
        let keys: Vec<&str> = pairs.keys().copied().collect();
        let mut expected: Vec<&str> = SETTING_KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        let mut sections: Vec<&str> = ["settlement", "locale"]
            .into_iter()
            .chain(bill24::KEYS)
            .chain(postpaid::KEYS)
            .chain(va::KEYS)
            .chain(collections::KEYS)
            .collect();
        sections.sort_unstable();
        assert_eq!(sections, expected);
    }

    #[test]
    fn validation_refuses_and_changes_nothing() {
        // (key, value, accepted)
        let table = [
            ("settlement", "total", true),
            ("settlement", "all", false),
            ("locale", "xx", false),
            ("va.webhook_url", "", true),
            ("va.webhook_url", "ftp://x", false),
            ("bill24.statement_months", "0", false),
            ("bill24.statement_months", "120", true),
            ("bill24.statement_max_entries", "501", false),
            ("bill24.webhook_allow_ips", "1.2.3", false),
            ("postpaid.fields", "[]", false),
            ("postpaid.fields", " ", true),
            ("postpaid.fee_x100", "2147483647", true),
            ("postpaid.fee_x100", "2147483648", false),
            ("postpaid.code_ttl_seconds", "86401", false),
            ("postpaid.revert_window_hours", "8761", false),
            ("collections.requests_per_minute", "0", false),
            ("nope", "1", false),
            ("bill24.nope", "1", false),
            ("other.key", "1", false),
        ];
        for (key, value, accepted) in table {
            assert_eq!(
                Settings::validate(key, value).is_ok(),
                accepted,
                "{key}={value}"
            );
            let mut s = Settings::default();
            if s.set(key, value).is_err() {
                assert_eq!(s, Settings::default(), "{key}={value}");
            }
        }
        assert!(matches!(
            Settings::validate("bill24.nope", "1"),
            Err(SettingError::UnknownKey(k)) if k == "bill24.nope"
        ));
    }

    #[test]
    fn offsets() {
        assert_eq!(format_offset(parse_offset("+07:00").unwrap()), "+07:00");
        assert_eq!(format_offset(parse_offset("-0530").unwrap()), "-05:30");
        assert_eq!(format_offset(parse_offset("Z").unwrap()), "+00:00");
        assert!(parse_offset("7").is_err());
        assert!(parse_offset("+25:00").is_err());
    }
}
