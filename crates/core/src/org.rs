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
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1i8, &text[1..]),
        Some(b'-') => (-1i8, &text[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (rest.len() == 5 && rest.as_bytes()[2] != b':')
    {
        return Err(bad());
    }
    let h: i8 = digits[..2].parse().map_err(|_| bad())?;
    let m: i8 = digits[2..].parse().map_err(|_| bad())?;
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

/// Supported locales.
pub const LOCALES: [&str; 4] = ["en", "km", "ms", "id"];

/// Every organization setting with its default. Dialect issues add keys here (and to
/// `docs/configuration.md`).
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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            settlement: SettlementMode::Open,
            locale: "en".into(),
            va_webhook_url: None,
            bill24_statement_months: 12,
            bill24_statement_max_entries: 24,
            bill24_webhook_allow_ips: Vec::new(),
            postpaid_fields: None,
            postpaid_fee_x100: 0,
            postpaid_code_ttl_seconds: 900,
            postpaid_revert_window_hours: 24,
            collections_requests_per_minute: 600,
        }
    }
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

fn parse_num<T: std::str::FromStr + PartialOrd>(
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
    /// Applies one key/value, validating it. Unknown keys are refused.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        let invalid = |reason: &str| SettingError::Invalid {
            key: key.into(),
            reason: reason.into(),
        };
        match key {
            "settlement" => {
                self.settlement = value
                    .parse()
                    .map_err(|_| invalid("expected total, discrete or open"))?
            }
            "locale" => {
                if !LOCALES.contains(&value) {
                    return Err(invalid("expected en, km, ms or id"));
                }
                self.locale = value.into();
            }
            "va.webhook_url" => {
                if value.is_empty() {
                    self.va_webhook_url = None;
                } else if value.starts_with("http://") || value.starts_with("https://") {
                    self.va_webhook_url = Some(value.into());
                } else {
                    return Err(invalid("expected an http(s) URL"));
                }
            }
            "bill24.statement_months" => {
                self.bill24_statement_months = parse_num(key, value, 1, 120)?
            }
            "bill24.statement_max_entries" => {
                self.bill24_statement_max_entries = parse_num(key, value, 1, 500)?
            }
            "bill24.webhook_allow_ips" => {
                self.bill24_webhook_allow_ips = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                for ip in &self.bill24_webhook_allow_ips {
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        return Err(invalid(&format!("`{ip}` is not an IP address")));
                    }
                }
            }
            "postpaid.fields" => {
                self.postpaid_fields = if value.trim().is_empty() {
                    None
                } else {
                    crate::postpaid::TerminalFields::parse(value)
                        .map_err(|e| invalid(&e.to_string()))?;
                    Some(value.into())
                }
            }
            "postpaid.fee_x100" => {
                self.postpaid_fee_x100 = parse_num(key, value, 0, i32::MAX as i64)?
            }
            "postpaid.code_ttl_seconds" => {
                self.postpaid_code_ttl_seconds = parse_num(key, value, 1, 86400)?
            }
            "postpaid.revert_window_hours" => {
                self.postpaid_revert_window_hours = parse_num(key, value, 0, 24 * 365)?
            }
            "collections.requests_per_minute" => {
                self.collections_requests_per_minute = parse_num(key, value, 1, 1_000_000)?
            }
            _ => return Err(SettingError::UnknownKey(key.into())),
        }
        Ok(())
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
        m.insert(
            "va.webhook_url",
            self.va_webhook_url.clone().unwrap_or_default(),
        );
        m.insert(
            "bill24.statement_months",
            self.bill24_statement_months.to_string(),
        );
        m.insert(
            "bill24.statement_max_entries",
            self.bill24_statement_max_entries.to_string(),
        );
        m.insert(
            "bill24.webhook_allow_ips",
            self.bill24_webhook_allow_ips.join(","),
        );
        m.insert(
            "postpaid.fields",
            self.postpaid_fields.clone().unwrap_or_default(),
        );
        m.insert("postpaid.fee_x100", self.postpaid_fee_x100.to_string());
        m.insert(
            "postpaid.code_ttl_seconds",
            self.postpaid_code_ttl_seconds.to_string(),
        );
        m.insert(
            "postpaid.revert_window_hours",
            self.postpaid_revert_window_hours.to_string(),
        );
        m.insert(
            "collections.requests_per_minute",
            self.collections_requests_per_minute.to_string(),
        );
        m
    }
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
    fn offsets() {
        assert_eq!(format_offset(parse_offset("+07:00").unwrap()), "+07:00");
        assert_eq!(format_offset(parse_offset("-0530").unwrap()), "-05:30");
        assert_eq!(format_offset(parse_offset("Z").unwrap()), "+00:00");
        assert!(parse_offset("7").is_err());
        assert!(parse_offset("+25:00").is_err());
    }
}
