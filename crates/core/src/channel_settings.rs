//! Per-channel settings: how one bank (VA channel API) or one terminal network (postpaid) talks
//! to billhub, set with `billhub channel set ID KEY VALUE` and stored as key/value text pairs
//! like the organization's ([`crate::org::Settings`]).
//!
//! [`ChannelSettings`] knows every key, its default, which channel dialect it applies to, and
//! how to validate a value; it is parsed once when read, never per request:
//!
//! | key | dialect | values | default |
//! |-----|---------|--------|---------|
//! | `va.auth` | `va` | `bearer`, `passive` | `bearer` |
//! | `snap.public_key` | `snap` | the bank's RSA public key, PEM (at least 2048 bits) | none |
//! | `snap.partner_service_id.<prefix>` | `snap` | 1 to 8 letters or digits; empty removes | none |
//! | `snap.timestamp_window` | `snap` | seconds, 1..=3600 | 300 |
//! | `csq.single_use_salts` | `postpaid` | `reverts`, `all` | `reverts` |

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use time::Duration;

use crate::org::{SettingError, parse_num};

/// The channel dialect of banks (`channels.dialect`).
pub const VA_DIALECT: &str = "va";
/// The channel dialect of banks speaking SNAP (`channels.dialect`).
pub const SNAP_DIALECT: &str = "snap";
/// The channel dialect of terminal networks (`channels.dialect`).
pub const POSTPAID_DIALECT: &str = "postpaid";

/// `va.auth`: the scheme a bank authenticates with.
pub const VA_AUTH: &str = "va.auth";
/// `csq.single_use_salts`: where a `(U, ST, SH)` may be used only once.
pub const CSQ_SINGLE_USE_SALTS: &str = "csq.single_use_salts";
/// `snap.partner_service_id.<prefix>`: the SNAP `partnerServiceId` of one VA prefix.
pub const SNAP_PARTNER_SERVICE_ID: &str = "snap.partner_service_id.";
/// `snap.public_key`: the bank's RSA public key (PEM) that verifies its access-token requests.
pub const SNAP_PUBLIC_KEY: &str = "snap.public_key";
/// `snap.timestamp_window`: how far a SNAP `X-TIMESTAMP` may be from now, seconds.
pub const SNAP_TIMESTAMP_WINDOW: &str = "snap.timestamp_window";

/// The fixed keys (besides the prefix-parameterised `snap.partner_service_id.<prefix>`).
pub const CHANNEL_SETTING_KEYS: [&str; 4] = [
    VA_AUTH,
    SNAP_PUBLIC_KEY,
    SNAP_TIMESTAMP_WINDOW,
    CSQ_SINGLE_USE_SALTS,
];

/// The length of a SNAP `partnerServiceId` (left-padded with spaces).
pub const PARTNER_SERVICE_ID_LEN: usize = 8;

/// How a VA bank authenticates (`va.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VaAuth {
    /// OAuth client credentials for a Bearer token, plus the `Signature` header (the default).
    #[default]
    Bearer,
    /// IPG's passive client: `Signature` = HMAC-SHA256 of the body (or the query string of a
    /// GET) with the channel's API key; no OAuth.
    Passive,
}

impl VaAuth {
    pub fn as_str(&self) -> &'static str {
        match self {
            VaAuth::Bearer => "bearer",
            VaAuth::Passive => "passive",
        }
    }
}

/// Where a CSQ salt `(U, ST, SH)` is single-use (`csq.single_use_salts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SingleUseSalts {
    /// On reverts only: lookups and payments may reuse a salt within its window (a network's
    /// terminals share one `U`; a retry resends identical headers). The default.
    #[default]
    Reverts,
    /// On every route.
    All,
}

/// The kinds of CSQ route, as far as salts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaltUse {
    /// Bill lookups, utility reads.
    Lookup,
    /// Payments (idempotent by `localReference` whatever the salt).
    Payment,
    /// Reverts.
    Revert,
}

impl SingleUseSalts {
    pub fn as_str(&self) -> &'static str {
        match self {
            SingleUseSalts::Reverts => "reverts",
            SingleUseSalts::All => "all",
        }
    }

    /// Whether a salt used on a route of this kind may not be used again.
    pub fn single_use(&self, route: SaltUse) -> bool {
        match (self, route) {
            (SingleUseSalts::All, _) | (SingleUseSalts::Reverts, SaltUse::Revert) => true,
            (SingleUseSalts::Reverts, SaltUse::Lookup | SaltUse::Payment) => false,
        }
    }
}

macro_rules! text_enum {
    ($ty:ident, $expected:literal, $($variant:ident),+) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $(
                    if s == $ty::$variant.as_str() {
                        return Ok($ty::$variant);
                    }
                )+
                Err(format!("`{s}`: expected {}", $expected))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(VaAuth, "bearer or passive", Bearer, Passive);
text_enum!(SingleUseSalts, "reverts or all", Reverts, All);

/// A bank's SNAP settings (`snap.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapSettings {
    /// VA prefix (6 digits) -> `partnerServiceId` as set (1 to 8 letters or digits, unpadded).
    pub partner_service_ids: BTreeMap<String, String>,
    /// How far an `X-TIMESTAMP` may be from now, seconds (1..=3600; default 300).
    pub timestamp_window_seconds: i64,
    /// The bank's RSA public key (PEM, checked when set), if registered.
    pub public_key_pem: Option<String>,
}

impl Default for SnapSettings {
    fn default() -> Self {
        SnapSettings {
            partner_service_ids: BTreeMap::new(),
            timestamp_window_seconds: 300,
            public_key_pem: None,
        }
    }
}

impl SnapSettings {
    /// The `partnerServiceId` of a VA prefix as SNAP writes it: left-padded with spaces to 8.
    pub fn partner_service_id(&self, prefix: &str) -> Option<String> {
        self.partner_service_ids
            .get(prefix)
            .map(|id| format!("{id:>width$}", width = PARTNER_SERVICE_ID_LEN))
    }

    /// The VA prefix whose `partnerServiceId` this is (surrounding spaces ignored).
    pub fn prefix_of(&self, partner_service_id: &str) -> Option<&str> {
        let wanted = partner_service_id.trim();
        self.partner_service_ids
            .iter()
            .find(|(_, id)| id.as_str() == wanted)
            .map(|(prefix, _)| prefix.as_str())
    }

    /// How far an `X-TIMESTAMP` may be from now.
    pub fn timestamp_window(&self) -> Duration {
        Duration::seconds(self.timestamp_window_seconds)
    }

    /// Whether a request stamped `at` (its `X-TIMESTAMP`) is within the window of `now`, on
    /// either side (a bank's clock may run ahead).
    pub fn accepts_timestamp(&self, at: time::OffsetDateTime, now: time::OffsetDateTime) -> bool {
        (now - at).abs() <= self.timestamp_window()
    }
}

/// Every setting of one channel, parsed and validated, with defaults for unset keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelSettings {
    /// `va.auth` (VA banks).
    pub va_auth: VaAuth,
    /// `csq.single_use_salts` (terminal networks).
    pub csq_single_use_salts: SingleUseSalts,
    /// `snap.*` (SNAP banks).
    pub snap: SnapSettings,
}

/// The channel dialect a key applies to, if the key is known by its section.
pub fn dialect_of(key: &str) -> Option<&'static str> {
    match key.split_once('.').map(|(section, _)| section) {
        Some("va") => Some(VA_DIALECT),
        Some("snap") => Some(SNAP_DIALECT),
        Some("csq") => Some(POSTPAID_DIALECT),
        _ => None,
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> SettingError {
    SettingError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

impl ChannelSettings {
    /// Applies one key/value, validating it (whatever the channel's dialect: see
    /// [`ChannelSettings::set_for`]). Unknown keys are refused; on an error nothing changes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        match key {
            VA_AUTH => self.va_auth = value.trim().parse().map_err(|e| invalid(key, e))?,
            CSQ_SINGLE_USE_SALTS => {
                self.csq_single_use_salts = value.trim().parse().map_err(|e| invalid(key, e))?
            }
            SNAP_TIMESTAMP_WINDOW => {
                self.snap.timestamp_window_seconds = parse_num(key, value, 1, 3600)?
            }
            SNAP_PUBLIC_KEY => {
                let pem = value.trim();
                crate::signature::snap::PublicKey::from_pem(pem)
                    .map_err(|e| invalid(key, e.to_string()))?;
                self.snap.public_key_pem = Some(pem.to_string());
            }
            _ => match key.strip_prefix(SNAP_PARTNER_SERVICE_ID) {
                Some(prefix) => self.set_partner_service_id(key, prefix, value)?,
                None => return Err(SettingError::UnknownKey(key.into())),
            },
        }
        Ok(())
    }

    fn set_partner_service_id(
        &mut self,
        key: &str,
        prefix: &str,
        value: &str,
    ) -> Result<(), SettingError> {
        if prefix.len() != 6 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(key, "the key ends in a 6-digit VA prefix"));
        }
        let id = value.trim();
        if id.is_empty() {
            self.snap.partner_service_ids.remove(prefix);
            return Ok(());
        }
        if id.len() > PARTNER_SERVICE_ID_LEN || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid(key, "expected 1 to 8 letters or digits"));
        }
        let taken = self
            .snap
            .partner_service_ids
            .iter()
            .any(|(p, other)| p != prefix && other == id);
        if taken {
            return Err(invalid(
                key,
                format!("`{id}` is already the partnerServiceId of another prefix"),
            ));
        }
        self.snap
            .partner_service_ids
            .insert(prefix.to_string(), id.to_string());
        Ok(())
    }

    /// [`ChannelSettings::set`] for a channel of `dialect` (`va`, `snap` or `postpaid`): a key of
    /// another dialect's section is refused.
    pub fn set_for(&mut self, dialect: &str, key: &str, value: &str) -> Result<(), SettingError> {
        match dialect_of(key) {
            None => Err(SettingError::UnknownKey(key.into())),
            Some(d) if d != dialect => Err(invalid(
                key,
                format!("applies to {d} channels only, and this is a {dialect} channel"),
            )),
            Some(_) => self.set(key, value),
        }
    }

    /// Checks one key/value as [`ChannelSettings::set_for`] would: the one validation entry
    /// point for `billhub channel set`.
    pub fn validate(dialect: &str, key: &str, value: &str) -> Result<(), SettingError> {
        ChannelSettings::default().set_for(dialect, key, value)
    }

    /// Reads stored pairs over the defaults. A stored value that no longer validates is an
    /// error, never silently replaced by the default.
    pub fn from_pairs<'a, I>(pairs: I) -> Result<ChannelSettings, SettingError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut s = ChannelSettings::default();
        for (k, v) in pairs {
            s.set(k, v)?;
        }
        Ok(s)
    }

    /// Every key that applies to a channel of `dialect`, with its current value as text (for
    /// `billhub channel show`). Stored pairs give back these settings through
    /// [`ChannelSettings::from_pairs`].
    pub fn to_pairs(&self, dialect: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if dialect == VA_DIALECT {
            m.insert(VA_AUTH.to_string(), self.va_auth.to_string());
        }
        if dialect == SNAP_DIALECT {
            if let Some(pem) = &self.snap.public_key_pem {
                m.insert(SNAP_PUBLIC_KEY.to_string(), pem.clone());
            }
            m.insert(
                SNAP_TIMESTAMP_WINDOW.to_string(),
                self.snap.timestamp_window_seconds.to_string(),
            );
            for (prefix, id) in &self.snap.partner_service_ids {
                m.insert(format!("{SNAP_PARTNER_SERVICE_ID}{prefix}"), id.clone());
            }
        }
        if dialect == POSTPAID_DIALECT {
            m.insert(
                CSQ_SINGLE_USE_SALTS.to_string(),
                self.csq_single_use_salts.to_string(),
            );
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_todays_behaviour() {
        let s = ChannelSettings::default();
        assert_eq!(s.va_auth, VaAuth::Bearer);
        assert_eq!(s.csq_single_use_salts, SingleUseSalts::Reverts);
        assert!(!s.csq_single_use_salts.single_use(SaltUse::Lookup));
        assert!(!s.csq_single_use_salts.single_use(SaltUse::Payment));
        assert!(s.csq_single_use_salts.single_use(SaltUse::Revert));
        assert!(SingleUseSalts::All.single_use(SaltUse::Lookup));
        assert!(SingleUseSalts::All.single_use(SaltUse::Payment));
        assert_eq!(s.snap.timestamp_window(), Duration::seconds(300));
        assert_eq!(s.snap.partner_service_id("009902"), None);
        let va: Vec<String> = s.to_pairs(VA_DIALECT).into_keys().collect();
        assert_eq!(va, ["va.auth"]);
        let snap: Vec<String> = s.to_pairs(SNAP_DIALECT).into_keys().collect();
        assert_eq!(snap, ["snap.timestamp_window"]);
        let postpaid: Vec<String> = s.to_pairs(POSTPAID_DIALECT).into_keys().collect();
        assert_eq!(postpaid, ["csq.single_use_salts"]);
    }

    #[test]
    fn validation_table() {
        // (dialect, key, value, accepted)
        let table = [
            ("va", "va.auth", "bearer", true),
            ("va", "va.auth", "passive", true),
            ("va", "va.auth", "Passive", false),
            ("va", "va.auth", "", false),
            ("postpaid", "va.auth", "passive", false),
            ("postpaid", "csq.single_use_salts", "all", true),
            ("postpaid", "csq.single_use_salts", "reverts", true),
            ("postpaid", "csq.single_use_salts", "none", false),
            ("va", "csq.single_use_salts", "all", false),
            ("snap", "snap.timestamp_window", "60", true),
            ("snap", "snap.timestamp_window", "0", false),
            ("snap", "snap.timestamp_window", "3601", false),
            ("snap", "snap.timestamp_window", "1.5", false),
            ("snap", "snap.partner_service_id.009902", "12345", true),
            ("snap", "snap.partner_service_id.009902", "  88908", true),
            ("snap", "snap.partner_service_id.009902", "12345678", true),
            ("snap", "snap.partner_service_id.009902", "123456789", false),
            ("snap", "snap.partner_service_id.009902", "12-45", false),
            ("snap", "snap.partner_service_id.009902", "", true),
            ("snap", "snap.partner_service_id.0099", "12345", false),
            ("snap", "snap.partner_service_id.", "12345", false),
            ("postpaid", "snap.timestamp_window", "60", false),
            ("va", "snap.timestamp_window", "60", false),
            ("snap", "va.auth", "passive", false),
            ("snap", "snap.public_key", "not a key", false),
            (
                "snap",
                "snap.public_key",
                include_str!("../tests/vectors/snap-test-key.pub.pem"),
                true,
            ),
            (
                "snap",
                "snap.public_key",
                include_str!("../tests/vectors/snap-test-key.pem"),
                false,
            ),
            ("snap", "snap.other", "1", false),
            ("va", "va.nope", "1", false),
            ("va", "nope", "1", false),
            ("va", "other.key", "1", false),
        ];
        for (dialect, key, value, accepted) in table {
            assert_eq!(
                ChannelSettings::validate(dialect, key, value).is_ok(),
                accepted,
                "{dialect} {key}={value}"
            );
            let mut s = ChannelSettings::default();
            if s.set_for(dialect, key, value).is_err() {
                assert_eq!(s, ChannelSettings::default(), "{key}={value}");
            }
        }
        assert!(matches!(
            ChannelSettings::validate("va", "va.nope", "1"),
            Err(SettingError::UnknownKey(k)) if k == "va.nope"
        ));
        assert!(matches!(
            ChannelSettings::validate("postpaid", "va.auth", "passive"),
            Err(SettingError::Invalid { reason, .. }) if reason.contains("va channels only")
        ));
    }

    #[test]
    fn snap_ids_pad_round_trip_and_stay_unique() {
        let s = ChannelSettings::from_pairs([
            ("snap.partner_service_id.009902", "  88908"),
            ("snap.partner_service_id.009903", "12345678"),
            ("snap.timestamp_window", "90"),
        ])
        .unwrap();
        assert_eq!(
            s.snap.partner_service_id("009902").as_deref(),
            Some("   88908")
        );
        assert_eq!(
            s.snap.partner_service_id("009903").as_deref(),
            Some("12345678")
        );
        assert_eq!(s.snap.prefix_of("   88908"), Some("009902"));
        assert_eq!(s.snap.prefix_of("88908"), Some("009902"));
        assert_eq!(s.snap.prefix_of("1"), None);
        assert_eq!(s.snap.timestamp_window(), Duration::seconds(90));
        let now = time::macros::datetime!(2026-12-05 03:00 UTC);
        assert!(s.snap.accepts_timestamp(now - Duration::seconds(90), now));
        assert!(s.snap.accepts_timestamp(now + Duration::seconds(90), now));
        assert!(!s.snap.accepts_timestamp(now - Duration::seconds(91), now));
        assert!(!s.snap.accepts_timestamp(now + Duration::seconds(91), now));
        let pairs = s.to_pairs(SNAP_DIALECT);
        assert_eq!(
            pairs
                .get("snap.partner_service_id.009902")
                .map(String::as_str),
            Some("88908")
        );
        let again =
            ChannelSettings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .unwrap();
        assert_eq!(again, s);
        let mut t = s.clone();
        assert!(t.set("snap.partner_service_id.009904", "88908").is_err());
        assert_eq!(t, s);
        t.set("snap.partner_service_id.009902", "").unwrap();
        assert_eq!(t.snap.partner_service_id("009902"), None);
        assert!(
            ChannelSettings::from_pairs([("va.auth", "sometimes")]).is_err(),
            "a stored value that no longer validates is an error"
        );
    }
}
