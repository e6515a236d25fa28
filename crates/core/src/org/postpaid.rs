//! The postpaid dialect's settings (`postpaid.*`). `postpaid.fields` is parsed into
//! [`TerminalFields`] once, when the settings are read, never per request.

use std::collections::BTreeMap;

use time::Duration;

use super::{SettingError, parse_num};
use crate::postpaid::TerminalFields;

/// The `postpaid.*` keys.
pub const KEYS: [&str; 4] = [
    "postpaid.fields",
    "postpaid.fee_x100",
    "postpaid.code_ttl_seconds",
    "postpaid.revert_window_hours",
];

/// The `postpaid.*` settings of an organization, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostpaidSettings {
    /// The fields a terminal asks for (default: the single `account` field).
    pub fields: TerminalFields,
    /// `postpaid.fields` as stored (`None`: unset, the default).
    pub fields_text: Option<String>,
    /// The fee a terminal charges on top, x100 (0..=i32::MAX; default 0).
    pub fee_x100: i64,
    /// How long a payment code lives, seconds (1..=86400; default 900).
    pub code_ttl_seconds: i64,
    /// How long after a payment a terminal may revert it, hours (0..=8760; default 24); 0: reverts
    /// are refused.
    pub revert_window_hours: i64,
}

impl Default for PostpaidSettings {
    fn default() -> Self {
        PostpaidSettings {
            fields: TerminalFields::default(),
            fields_text: None,
            fee_x100: 0,
            code_ttl_seconds: 900,
            revert_window_hours: 24,
        }
    }
}

impl PostpaidSettings {
    /// Applies one `postpaid.*` key, validating it; nothing changes on an error.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        match key {
            "postpaid.fields" => {
                if value.trim().is_empty() {
                    self.fields = TerminalFields::default();
                    self.fields_text = None;
                } else {
                    self.fields =
                        TerminalFields::parse(value).map_err(|e| SettingError::Invalid {
                            key: key.into(),
                            reason: e.to_string(),
                        })?;
                    self.fields_text = Some(value.into());
                }
            }
            "postpaid.fee_x100" => self.fee_x100 = parse_num(key, value, 0, i64::from(i32::MAX))?,
            "postpaid.code_ttl_seconds" => self.code_ttl_seconds = parse_num(key, value, 1, 86400)?,
            "postpaid.revert_window_hours" => {
                self.revert_window_hours = parse_num(key, value, 0, 24 * 365)?
            }
            _ => return Err(SettingError::UnknownKey(key.into())),
        }
        Ok(())
    }

    /// How long a payment code lives.
    pub fn code_ttl(&self) -> Duration {
        Duration::seconds(self.code_ttl_seconds)
    }

    /// Whether terminals may revert payments at all (`revert_window_hours` is not 0).
    pub fn reverts_allowed(&self) -> bool {
        self.revert_window_hours > 0
    }

    /// How long after a payment a revert is accepted (the `window` of
    /// [`crate::reversal::ReversalCase`]); see [`Self::reverts_allowed`] first.
    pub fn revert_window(&self) -> Duration {
        Duration::hours(self.revert_window_hours)
    }

    pub(super) fn pairs(&self, m: &mut BTreeMap<&'static str, String>) {
        m.insert(
            "postpaid.fields",
            self.fields_text.clone().unwrap_or_default(),
        );
        m.insert("postpaid.fee_x100", self.fee_x100.to_string());
        m.insert(
            "postpaid.code_ttl_seconds",
            self.code_ttl_seconds.to_string(),
        );
        m.insert(
            "postpaid.revert_window_hours",
            self.revert_window_hours.to_string(),
        );
    }
}
