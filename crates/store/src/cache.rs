//! The authentication and settings cache shared by every gateway of a process (they share one
//! [`Store`]): token hash -> credential, organization -> organization with its settings, and
//! channel -> the channel's settings.
//!
//! An entry is served for at most [`CACHE_TTL`] after it was read, measured on the caller's
//! clock (`now`; nothing here reads the system clock), so a change made by another process
//! (`billhub org set`, `billhub channel set`, a revoked credential, a disabled channel) takes
//! effect within that time; one made through the same store is seen at once (`forget_*`). A
//! request served from the cache costs no transaction for its authentication. Only hits are
//! cached: an unknown token is looked up every time (and cannot fill the memory); each map is
//! bounded and simply emptied when full.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use billhub_core::channel_settings::ChannelSettings;
use billhub_core::org::{Organization, Settings};
use time::{Duration, OffsetDateTime};

use crate::Store;
use crate::error::StoreResult;
use crate::repo::credentials::CredentialInfo;
use crate::secrets::hash_token;

/// How long a cached credential or organization may be served.
pub const CACHE_TTL: Duration = Duration::seconds(5);
/// Entries per map before it is emptied.
const MAX_ENTRIES: usize = 10_000;

/// A map whose entries expire [`CACHE_TTL`] after they were stored (on the caller's clock).
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (OffsetDateTime, V)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    /// The entry for `key` if it was stored within [`CACHE_TTL`] before `now` (an entry stored
    /// "after" `now`, by a clock set back, is not served); else `load()`, stored when `Some`.
    pub fn get_or_load(
        &self,
        key: &K,
        now: OffsetDateTime,
        load: impl FnOnce() -> StoreResult<Option<V>>,
    ) -> StoreResult<Option<V>> {
        if let Some(v) = self.get(key, now) {
            return Ok(Some(v));
        }
        let loaded = load()?;
        if let Some(v) = &loaded {
            self.put(key.clone(), now, v.clone());
        }
        Ok(loaded)
    }

    fn get(&self, key: &K, now: OffsetDateTime) -> Option<V> {
        let map = self.entries.lock().ok()?;
        let (stored, v) = map.get(key)?;
        (*stored <= now && now - *stored < CACHE_TTL).then(|| v.clone())
    }

    fn remove(&self, key: &K) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(key);
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }

    fn put(&self, key: K, now: OffsetDateTime, v: V) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key, (now, v));
        }
    }
}

/// An organization with its parsed settings, as the cache hands it out.
#[derive(Debug, Clone)]
pub struct CachedOrganization {
    pub organization: Organization,
    pub settings: Settings,
}

/// Every cache of a [`Store`].
#[derive(Default)]
pub(crate) struct Caches {
    /// (dialect or scheme, SHA-256 of the presented secret) -> credential.
    credentials: TtlCache<(String, String), CredentialInfo>,
    /// SHA-256 of a bearer token -> credential, and the token's expiry.
    access_tokens: TtlCache<String, (CredentialInfo, OffsetDateTime)>,
    /// credential id -> the secret its scheme needs in the clear (VA API key, CSQ hash).
    secrets: TtlCache<i64, String>,
    organizations: TtlCache<i64, Arc<CachedOrganization>>,
    /// channel id -> its settings.
    channels: TtlCache<i64, Arc<ChannelSettings>>,
}

impl Store {
    /// Drops the cached organization (after a change made through this store).
    pub fn forget_organization(&self, organization_id: i64) {
        self.cache.organizations.remove(&organization_id);
    }

    /// Drops the cached settings of a channel (after a change made through this store).
    pub fn forget_channel(&self, channel_id: i64) {
        self.cache.channels.remove(&channel_id);
    }

    /// Drops every cached credential and secret (after a revocation made through this store).
    pub fn forget_credentials(&self) {
        self.cache.credentials.clear();
        self.cache.access_tokens.clear();
        self.cache.secrets.clear();
    }

    /// [`crate::Reader::authenticate_token`] through the cache.
    pub fn cached_token(
        &self,
        dialect: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<CredentialInfo>> {
        if token.is_empty() {
            return Ok(None);
        }
        let key = (dialect.to_string(), hash_token(token));
        self.cache.credentials.get_or_load(&key, now, || {
            self.snapshot(|r| r.authenticate_token(dialect, token))
        })
    }

    /// [`crate::Reader::authenticate_access_token`] through the cache. A cached token is still
    /// refused from its expiry on.
    pub fn cached_access_token(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<CredentialInfo>> {
        if token.is_empty() {
            return Ok(None);
        }
        let found = self
            .cache
            .access_tokens
            .get_or_load(&hash_token(token), now, || {
                self.snapshot(|r| r.access_token(token, now))
            })?;
        Ok(found.and_then(|(info, expires)| (now < expires).then_some(info)))
    }

    /// [`crate::Reader::credential_by_username`] through the cache.
    pub fn cached_username(
        &self,
        username: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<CredentialInfo>> {
        let key = ("username".to_string(), username.to_string());
        self.cache.credentials.get_or_load(&key, now, || {
            self.snapshot(|r| r.credential_by_username(username))
        })
    }

    /// [`crate::Reader::credential_secret`] through the cache.
    pub fn cached_secret(&self, credential_id: i64, now: OffsetDateTime) -> StoreResult<String> {
        let found = self.cache.secrets.get_or_load(&credential_id, now, || {
            self.snapshot(|r| r.credential_secret(credential_id))
                .map(Some)
        })?;
        found.ok_or_else(|| {
            crate::StoreError::not_found(crate::Entity::CredentialSecret, credential_id)
        })
    }

    /// A channel's settings ([`crate::Reader::channel_settings`]) through the cache: what a
    /// gateway reads on the authenticated path, with the channel id of the credential
    /// ([`CredentialInfo::channel_id`]; or [`Store::cached_credential_channel_settings`]).
    /// [`crate::StoreError::NotFound`] for no such channel.
    pub fn cached_channel_settings(
        &self,
        channel_id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<Arc<ChannelSettings>> {
        let found = self.cache.channels.get_or_load(&channel_id, now, || {
            self.snapshot(|r| r.channel_settings(channel_id))
                .map(|s| Some(Arc::new(s)))
        })?;
        found.ok_or_else(|| crate::StoreError::not_found(crate::Entity::Channel, channel_id))
    }

    /// The settings of the channel an authenticated credential belongs to (`None` for a
    /// biller's credential), through the cache.
    pub fn cached_credential_channel_settings(
        &self,
        credential: &CredentialInfo,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Arc<ChannelSettings>>> {
        credential
            .channel_id()
            .map(|id| self.cached_channel_settings(id, now))
            .transpose()
    }

    /// The organization and its settings through the cache (on a miss: one read snapshot, one
    /// statement).
    pub fn cached_organization(
        &self,
        organization_id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<Arc<CachedOrganization>> {
        self.organization_entry(organization_id, now, || {
            self.snapshot(|r| r.organization_with_settings(organization_id))
        })
    }

    /// [`Store::cached_organization`] for a flow inside its transaction: on a miss the
    /// organization with its settings is read in that transaction (`r`, one statement; no
    /// second pooled connection is taken while the transaction holds one) and cached.
    pub fn cached_organization_in(
        &self,
        r: &mut crate::Reader<'_>,
        organization_id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<Arc<CachedOrganization>> {
        self.organization_entry(organization_id, now, || {
            r.organization_with_settings(organization_id)
        })
    }

    /// The cached entry of an organization, or what `load` reads (then cached).
    fn organization_entry(
        &self,
        organization_id: i64,
        now: OffsetDateTime,
        load: impl FnOnce() -> StoreResult<(Organization, Settings)>,
    ) -> StoreResult<Arc<CachedOrganization>> {
        let found = self
            .cache
            .organizations
            .get_or_load(&organization_id, now, || {
                let (organization, settings) = load()?;
                Ok(Some(Arc::new(CachedOrganization {
                    organization,
                    settings,
                })))
            })?;
        found.ok_or_else(|| {
            crate::StoreError::not_found(crate::Entity::Organization, organization_id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use time::macros::datetime;

    #[test]
    fn entries_live_five_seconds_on_the_callers_clock() {
        let cache: TtlCache<i64, &str> = TtlCache::default();
        let t0 = datetime!(2026-12-05 10:00:00 UTC);
        let loads = Cell::new(0);
        let load = || {
            loads.set(loads.get() + 1);
            Ok(Some("v"))
        };
        assert_eq!(cache.get_or_load(&1, t0, load).unwrap(), Some("v"));
        assert_eq!(
            cache
                .get_or_load(&1, t0 + Duration::milliseconds(4_999), load)
                .unwrap(),
            Some("v")
        );
        assert_eq!(loads.get(), 1, "served from the cache within 5 s");
        cache
            .get_or_load(&1, t0 + Duration::seconds(5), load)
            .unwrap();
        assert_eq!(loads.get(), 2, "loaded again at 5 s");
        cache.get_or_load(&1, t0, load).unwrap();
        assert_eq!(
            loads.get(),
            3,
            "a clock set back does not serve a newer entry"
        );
    }

    #[test]
    fn misses_are_not_cached() {
        let cache: TtlCache<i64, &str> = TtlCache::default();
        let t0 = datetime!(2026-12-05 10:00:00 UTC);
        let loads = Cell::new(0);
        let load = || {
            loads.set(loads.get() + 1);
            Ok(None)
        };
        assert_eq!(cache.get_or_load(&1, t0, load).unwrap(), None);
        assert_eq!(cache.get_or_load(&1, t0, load).unwrap(), None);
        assert_eq!(loads.get(), 2);
    }
}
