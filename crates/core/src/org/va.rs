//! The VA dialect's settings (`va.*`).

use std::collections::BTreeMap;

use super::SettingError;

/// The dialect tag of the deliveries the VA webhook worker renders.
pub const DIALECT: &str = "va";

/// The `va.*` keys.
pub const KEYS: [&str; 1] = ["va.webhook_url"];

/// The `va.*` settings of an organization, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VaSettings {
    /// Where payment events of the organization's bills are posted (an http(s) URL; default
    /// none).
    pub webhook_url: Option<String>,
}

impl VaSettings {
    /// Applies one `va.*` key, validating it; nothing changes on an error.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        match key {
            "va.webhook_url" => {
                if value.is_empty() {
                    self.webhook_url = None;
                } else if value.starts_with("http://") || value.starts_with("https://") {
                    self.webhook_url = Some(value.into());
                } else {
                    return Err(SettingError::Invalid {
                        key: key.into(),
                        reason: "expected an http(s) URL".into(),
                    });
                }
            }
            _ => return Err(SettingError::UnknownKey(key.into())),
        }
        Ok(())
    }

    pub(super) fn pairs(&self, m: &mut BTreeMap<&'static str, String>) {
        m.insert(
            "va.webhook_url",
            self.webhook_url.clone().unwrap_or_default(),
        );
    }
}
