//! The collections API's settings (`collections.*`).

use std::collections::BTreeMap;

use super::{SettingError, parse_num};

/// The dialect tag of the deliveries to a collection's `webhook_url` (the collections
/// callback).
pub const CALLBACK_DIALECT: &str = "collections";

/// The `collections.*` keys.
pub const KEYS: [&str; 1] = ["collections.requests_per_minute"];

/// The `collections.*` settings of an organization, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionsSettings {
    /// The organization's API rate limit (1..=1,000,000; default 600).
    pub requests_per_minute: u32,
}

impl Default for CollectionsSettings {
    fn default() -> Self {
        CollectionsSettings {
            requests_per_minute: 600,
        }
    }
}

impl CollectionsSettings {
    /// Applies one `collections.*` key, validating it; nothing changes on an error.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        match key {
            "collections.requests_per_minute" => {
                self.requests_per_minute = parse_num(key, value, 1, 1_000_000)?
            }
            _ => return Err(SettingError::UnknownKey(key.into())),
        }
        Ok(())
    }

    pub(super) fn pairs(&self, m: &mut BTreeMap<&'static str, String>) {
        m.insert(
            "collections.requests_per_minute",
            self.requests_per_minute.to_string(),
        );
    }
}
