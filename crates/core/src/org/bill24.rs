//! Bill24's settings (`bill24.*`): the account statement's window and the webhook's allowed
//! source addresses.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{SettingError, parse_num};

/// The `bill24.*` keys.
pub const KEYS: [&str; 3] = [
    "bill24.statement_months",
    "bill24.statement_max_entries",
    "bill24.webhook_allow_ips",
];

/// The `bill24.*` settings of an organization, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill24Settings {
    /// How many months back `pending_bills` lists (1..=120; default 12).
    pub statement_months: u32,
    /// The most entries `pending_bills` lists (1..=500; default 24).
    pub statement_max_entries: u32,
    /// Source addresses the webhook accepts for this organization (default none).
    pub webhook_allow_ips: Vec<IpAddr>,
    /// The same as written (for `billhub org show`).
    allow_ips_text: Vec<String>,
}

impl Default for Bill24Settings {
    fn default() -> Self {
        Bill24Settings {
            statement_months: 12,
            statement_max_entries: 24,
            webhook_allow_ips: Vec::new(),
            allow_ips_text: Vec::new(),
        }
    }
}

impl Bill24Settings {
    /// Applies one `bill24.*` key, validating it; nothing changes on an error.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        match key {
            "bill24.statement_months" => self.statement_months = parse_num(key, value, 1, 120)?,
            "bill24.statement_max_entries" => {
                self.statement_max_entries = parse_num(key, value, 1, 500)?
            }
            "bill24.webhook_allow_ips" => {
                let texts: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                self.webhook_allow_ips = parse_ips(key, &texts)?;
                self.allow_ips_text = texts;
            }
            _ => return Err(SettingError::UnknownKey(key.into())),
        }
        Ok(())
    }

    /// The allowed addresses as written (blanks dropped).
    pub fn webhook_allow_ips_text(&self) -> &[String] {
        &self.allow_ips_text
    }

    pub(super) fn pairs(&self, m: &mut BTreeMap<&'static str, String>) {
        m.insert("bill24.statement_months", self.statement_months.to_string());
        m.insert(
            "bill24.statement_max_entries",
            self.statement_max_entries.to_string(),
        );
        m.insert(
            "bill24.webhook_allow_ips",
            self.webhook_allow_ips_text().join(","),
        );
    }
}

fn parse_ips(key: &str, texts: &[String]) -> Result<Vec<IpAddr>, SettingError> {
    texts
        .iter()
        .map(|ip| {
            ip.parse::<IpAddr>().map_err(|_| SettingError::Invalid {
                key: key.into(),
                reason: format!("`{ip}` is not an IP address"),
            })
        })
        .collect()
}
