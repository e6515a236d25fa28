//! Credentials of organizations (biller APIs) and channels (banks, terminal networks), and the
//! short-lived access tokens issued from them.
//!
//! Plaintext secrets leave this module once, in [`CreatedCredential`] / [`CreatedChannel`].

use billhub_core::signature::hex_eq;
use diesel::dsl::auto_type;
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::pool::AnyConnection;
use crate::repo::orgs::load_org;
use crate::schema::{access_tokens, auth_nonces, channels, credentials, organization_keys};
use crate::secrets::{MasterKey, hash_token, random_alnum, random_hex};
use crate::time_conv::{from_db, to_db};
use crate::{Entity, InvalidKind, Reader, StoreError, StoreResult, Writer};

/// Whether a credential may authenticate as far as its channel goes: true for biller
/// credentials (no channel) and for credentials of a channel that is not disabled
/// (`billhub channel disable`).
#[auto_type]
pub(crate) fn channel_enabled() -> _ {
    credentials::channel_id
        .is_null()
        .or(credentials::channel_id.eq_any(
            channels::table
                .filter(channels::disabled_at.is_null())
                .select(channels::id.nullable()),
        ))
}

/// The biller dialects a credential can be made for.
pub const BILLER_DIALECTS: [&str; 3] = ["bill24", "collections", "va"];
/// The channel dialects.
pub const CHANNEL_DIALECTS: [&str; 3] = ["va", "postpaid", "snap"];

/// Who a credential speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A biller API credential of an organization.
    Biller { organization_id: i64 },
    /// A channel (bank or terminal network).
    Channel { channel_id: i64 },
}

/// An authenticated credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    pub id: i64,
    /// `bill24`, `collections`, `va` for billers; `va`, `postpaid`, `snap` for
    /// channels.
    pub dialect: String,
    pub principal: Principal,
}

impl CredentialInfo {
    pub fn organization_id(&self) -> Option<i64> {
        match self.principal {
            Principal::Biller { organization_id } => Some(organization_id),
            Principal::Channel { .. } => None,
        }
    }

    pub fn channel_id(&self) -> Option<i64> {
        match self.principal {
            Principal::Channel { channel_id } => Some(channel_id),
            Principal::Biller { .. } => None,
        }
    }
}

/// What `billhub credential create` prints, once.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CreatedCredential {
    pub id: i64,
    pub dialect: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

/// What `billhub channel create` prints, once.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CreatedChannel {
    pub id: i64,
    pub name: String,
    pub dialect: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

type CredRow = (i64, Option<i64>, Option<i64>, String);
/// The columns of a [`CredRow`].
const CRED_COLUMNS: (
    credentials::id,
    credentials::organization_id,
    credentials::channel_id,
    credentials::dialect,
) = (
    credentials::id,
    credentials::organization_id,
    credentials::channel_id,
    credentials::dialect,
);
/// A credential row with one of its stored hashes.
type CredHashRow = (CredRow, Option<String>);

fn info(row: CredRow) -> StoreResult<CredentialInfo> {
    let (id, org, channel, dialect) = row;
    let principal = match (org, channel) {
        (Some(organization_id), None) => Principal::Biller { organization_id },
        (None, Some(channel_id)) => Principal::Channel { channel_id },
        _ => {
            return Err(StoreError::Corrupt(format!(
                "credential {id} has no single owner"
            )));
        }
    };
    Ok(CredentialInfo {
        id,
        dialect,
        principal,
    })
}

const SIGNATURE_KEY_PURPOSE: &str = "collections.signature";

fn new_signature_key(
    conn: &mut AnyConnection,
    key: &MasterKey,
    organization_id: i64,
    now: OffsetDateTime,
) -> StoreResult<String> {
    diesel::update(
        organization_keys::table
            .filter(organization_keys::organization_id.eq(organization_id))
            .filter(organization_keys::purpose.eq(SIGNATURE_KEY_PURPOSE)),
    )
    .set(organization_keys::active.eq(false))
    .execute(conn)?;
    let secret = random_alnum(32);
    diesel::insert_into(organization_keys::table)
        .values((
            organization_keys::organization_id.eq(organization_id),
            organization_keys::purpose.eq(SIGNATURE_KEY_PURPOSE),
            organization_keys::secret_enc.eq(key.encrypt(&secret)?),
            organization_keys::active.eq(true),
            organization_keys::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(secret)
}

impl Reader<'_> {
    /// The organization's active collections signature key, decrypted.
    pub fn signature_key(&mut self, organization_id: i64) -> StoreResult<Option<String>> {
        let key = self.key;
        let enc: Option<String> = self.with(|conn| {
            Ok(organization_keys::table
                .filter(organization_keys::organization_id.eq(organization_id))
                .filter(organization_keys::purpose.eq(SIGNATURE_KEY_PURPOSE))
                .filter(organization_keys::active.eq(true))
                .order(organization_keys::id.desc())
                .select(organization_keys::secret_enc)
                .first(conn)
                .optional()?)
        })?;
        enc.map(|e| key.decrypt(&e).map_err(StoreError::from))
            .transpose()
    }

    /// Finds an active credential by a static token (`bill24`, `collections`).
    pub fn authenticate_token(
        &mut self,
        dialect: &str,
        token: &str,
    ) -> StoreResult<Option<CredentialInfo>> {
        if token.is_empty() {
            return Ok(None);
        }
        let hash = hash_token(token);
        self.with(|conn| {
            let row: Option<CredHashRow> = credentials::table
                .filter(credentials::token_hash.eq(&hash))
                .filter(credentials::dialect.eq(dialect))
                .filter(credentials::active.eq(true))
                .filter(channel_enabled())
                .select((CRED_COLUMNS, credentials::token_hash))
                .first(conn)
                .optional()?;
            match row {
                // The index lookup found it; compare again in constant time for good measure.
                Some((cred, Some(stored))) if hex_eq(&stored, &hash) => Ok(Some(info(cred)?)),
                _ => Ok(None),
            }
        })
    }

    /// Checks OAuth client credentials; returns the credential when the secret matches.
    pub fn authenticate_client(
        &mut self,
        client_id: &str,
        client_secret: &str,
    ) -> StoreResult<Option<CredentialInfo>> {
        self.with(|conn| {
            let row: Option<CredHashRow> = credentials::table
                .filter(credentials::client_id.eq(client_id))
                .filter(credentials::active.eq(true))
                .filter(channel_enabled())
                .select((CRED_COLUMNS, credentials::client_secret_hash))
                .first(conn)
                .optional()?;
            match row {
                Some((cred, Some(stored))) if hex_eq(&stored, &hash_token(client_secret)) => {
                    Ok(Some(info(cred)?))
                }
                _ => Ok(None),
            }
        })
    }

    /// Finds an active credential of `dialect` by its client id (SNAP's `X-CLIENT-KEY`), without
    /// a secret: the caller proves who it is otherwise (SNAP: an RSA signature).
    pub fn credential_by_client_id(
        &mut self,
        dialect: &str,
        client_id: &str,
    ) -> StoreResult<Option<CredentialInfo>> {
        self.with(|conn| {
            credentials::table
                .filter(credentials::client_id.eq(client_id))
                .filter(credentials::dialect.eq(dialect))
                .filter(credentials::active.eq(true))
                .filter(channel_enabled())
                .select(CRED_COLUMNS)
                .first::<CredRow>(conn)
                .optional()?
                .map(info)
                .transpose()
        })
    }

    /// Finds an active credential by username (postpaid networks).
    pub fn credential_by_username(
        &mut self,
        username: &str,
    ) -> StoreResult<Option<CredentialInfo>> {
        self.with(|conn| {
            credentials::table
                .filter(credentials::username.eq(username))
                .filter(credentials::active.eq(true))
                .filter(channel_enabled())
                .select(CRED_COLUMNS)
                .first::<CredRow>(conn)
                .optional()?
                .map(info)
                .transpose()
        })
    }

    /// The secret a credential's scheme needs in the clear (VA API key, CSQ password hash).
    pub fn credential_secret(&mut self, credential_id: i64) -> StoreResult<String> {
        let key = self.key;
        let enc: Option<String> = self.with(|conn| {
            Ok(credentials::table
                .filter(credentials::id.eq(credential_id))
                .select(credentials::secret_enc)
                .first::<Option<String>>(conn)
                .optional()?
                .flatten())
        })?;
        let enc =
            enc.ok_or_else(|| StoreError::not_found(Entity::CredentialSecret, credential_id))?;
        Ok(key.decrypt(&enc)?)
    }

    /// The newest active API key of an organization's credentials of `dialect` (webhook signing).
    pub fn newest_api_key(
        &mut self,
        organization_id: i64,
        dialect: &str,
    ) -> StoreResult<Option<String>> {
        let key = self.key;
        let enc: Option<Option<String>> = self.with(|conn| {
            Ok(credentials::table
                .filter(credentials::organization_id.eq(organization_id))
                .filter(credentials::dialect.eq(dialect))
                .filter(credentials::active.eq(true))
                .filter(credentials::secret_enc.is_not_null())
                .order(credentials::id.desc())
                .select(credentials::secret_enc)
                .first(conn)
                .optional()?)
        })?;
        enc.flatten()
            .map(|e| key.decrypt(&e).map_err(StoreError::from))
            .transpose()
    }

    /// The credential behind a bearer token that has not expired at `now`.
    pub fn authenticate_access_token(
        &mut self,
        token: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<CredentialInfo>> {
        Ok(self.access_token(token, now)?.map(|(info, _)| info))
    }

    /// The credential behind a bearer token that has not expired at `now`, with the token's
    /// expiry.
    pub(crate) fn access_token(
        &mut self,
        token: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<(CredentialInfo, OffsetDateTime)>> {
        if token.is_empty() {
            return Ok(None);
        }
        self.with(|conn| {
            let row: Option<(i64, time::PrimitiveDateTime)> = access_tokens::table
                .filter(access_tokens::token_hash.eq(hash_token(token)))
                .select((access_tokens::credential_id, access_tokens::expires_at))
                .first(conn)
                .optional()?;
            let Some((cred, expires)) = row else {
                return Ok(None);
            };
            let expires = from_db(expires);
            if expires <= now {
                return Ok(None);
            }
            let found = credentials::table
                .filter(credentials::id.eq(cred))
                .filter(credentials::active.eq(true))
                .filter(channel_enabled())
                .select(CRED_COLUMNS)
                .first::<CredRow>(conn)
                .optional()?
                .map(info)
                .transpose()?;
            Ok(found.map(|i| (i, expires)))
        })
    }
}

impl Writer<'_> {
    /// Creates a biller credential for an organization. `collections` also creates the
    /// organization's signature key the first time (or when `rotate_signature_key`).
    pub fn create_credential(
        &mut self,
        organization_id: i64,
        dialect: &str,
        rotate_signature_key: bool,
        now: OffsetDateTime,
    ) -> StoreResult<CreatedCredential> {
        let key = self.key;
        if !BILLER_DIALECTS.contains(&dialect) {
            return Err(StoreError::Invalid(InvalidKind::Dialect {
                dialect: dialect.to_string(),
                allowed: "bill24, collections, va",
            }));
        }
        self.with(|conn| {
            load_org(conn, organization_id)?;
            let mut out = CreatedCredential {
                dialect: dialect.to_string(),
                ..Default::default()
            };
            let base = (
                credentials::organization_id.eq(Some(organization_id)),
                credentials::dialect.eq(dialect),
                credentials::kind.eq("biller"),
                credentials::active.eq(true),
                credentials::created_at.eq(to_db(now)),
            );
            let id: i64 = match dialect {
                "va" => {
                    let client_id = uuid::Uuid::new_v4().to_string();
                    let secret = random_alnum(40);
                    let api_key = random_alnum(40);
                    let id = diesel::insert_into(credentials::table)
                        .values((
                            base,
                            credentials::client_id.eq(Some(&client_id)),
                            credentials::client_secret_hash.eq(Some(hash_token(&secret))),
                            credentials::secret_enc.eq(Some(key.encrypt(&api_key)?)),
                        ))
                        .returning(credentials::id)
                        .get_result(conn)?;
                    out.client_id = Some(client_id);
                    out.client_secret = Some(secret);
                    out.api_key = Some(api_key);
                    id
                }
                _ => {
                    // bill24: 32 lowercase hex like Bill24's own example; others: 40 alphanumerics.
                    let token = if dialect == "bill24" {
                        random_hex(16)
                    } else {
                        random_alnum(40)
                    };
                    let id = diesel::insert_into(credentials::table)
                        .values((base, credentials::token_hash.eq(Some(hash_token(&token)))))
                        .returning(credentials::id)
                        .get_result(conn)?;
                    if dialect == "collections" {
                        out.access_token = Some(token);
                        let has_key: Option<i64> = organization_keys::table
                            .filter(organization_keys::organization_id.eq(organization_id))
                            .filter(organization_keys::purpose.eq(SIGNATURE_KEY_PURPOSE))
                            .filter(organization_keys::active.eq(true))
                            .select(organization_keys::id)
                            .first(conn)
                            .optional()?;
                        if has_key.is_none() || rotate_signature_key {
                            out.signature_key =
                                Some(new_signature_key(conn, key, organization_id, now)?);
                        }
                    } else {
                        out.token = Some(token);
                    }
                    id
                }
            };
            out.id = id;
            Ok(out)
        })
    }

    /// Makes a new collections signature key for the organization and returns it (once).
    pub fn rotate_signature_key(
        &mut self,
        organization_id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<String> {
        let key = self.key;
        self.with(|conn| {
            load_org(conn, organization_id)?;
            new_signature_key(conn, key, organization_id, now)
        })
    }

    /// Creates a channel with its credential: a `va` bank gets OAuth client credentials and an
    /// API key; a `snap` bank a client id (`X-CLIENT-KEY`) and a client secret (stored
    /// encrypted: SNAP's HMAC-SHA512 needs it in the clear; its RSA public key is the channel
    /// setting `snap.public_key`); a `postpaid` network gets a username and password (stored
    /// as the encrypted `sha256hex(password)` the CSQ scheme needs).
    pub fn create_channel(
        &mut self,
        name: &str,
        dialect: &str,
        now: OffsetDateTime,
    ) -> StoreResult<CreatedChannel> {
        let key = self.key;
        if !CHANNEL_DIALECTS.contains(&dialect) {
            return Err(StoreError::Invalid(InvalidKind::Dialect {
                dialect: dialect.to_string(),
                allowed: "va, postpaid, snap",
            }));
        }
        if name.trim().is_empty() {
            return Err(StoreError::Invalid(InvalidKind::Empty {
                what: "channel name",
            }));
        }
        self.with(|conn| {
            let id: i64 = diesel::insert_into(channels::table)
                .values((
                    channels::name.eq(name.trim()),
                    channels::dialect.eq(dialect),
                    channels::created_at.eq(to_db(now)),
                ))
                .returning(channels::id)
                .get_result(conn)?;
            let mut out = CreatedChannel {
                id,
                name: name.trim().to_string(),
                dialect: dialect.to_string(),
                ..Default::default()
            };
            let base = (
                credentials::channel_id.eq(Some(id)),
                credentials::dialect.eq(dialect),
                credentials::kind.eq("channel"),
                credentials::active.eq(true),
                credentials::created_at.eq(to_db(now)),
            );
            if dialect == "va" {
                let client_id = uuid::Uuid::new_v4().to_string();
                let secret = random_alnum(40);
                let api_key = random_alnum(40);
                diesel::insert_into(credentials::table)
                    .values((
                        base,
                        credentials::client_id.eq(Some(&client_id)),
                        credentials::client_secret_hash.eq(Some(hash_token(&secret))),
                        credentials::secret_enc.eq(Some(key.encrypt(&api_key)?)),
                    ))
                    .execute(conn)?;
                out.client_id = Some(client_id);
                out.client_secret = Some(secret);
                out.api_key = Some(api_key);
            } else if dialect == "snap" {
                let client_id = uuid::Uuid::new_v4().to_string();
                let secret = random_alnum(40);
                diesel::insert_into(credentials::table)
                    .values((
                        base,
                        credentials::client_id.eq(Some(&client_id)),
                        credentials::secret_enc.eq(Some(key.encrypt(&secret)?)),
                    ))
                    .execute(conn)?;
                out.client_id = Some(client_id);
                out.client_secret = Some(secret);
            } else {
                let username = format!("net{id}-{}", random_alnum(6).to_lowercase());
                let password = random_alnum(24);
                let stored = billhub_core::signature::csq::password_hash(&password);
                diesel::insert_into(credentials::table)
                    .values((
                        base,
                        credentials::username.eq(Some(&username)),
                        credentials::secret_enc.eq(Some(key.encrypt(&stored)?)),
                    ))
                    .execute(conn)?;
                out.username = Some(username);
                out.password = Some(password);
            }
            Ok(out)
        })
    }

    /// Revokes a credential (and its access tokens stop working).
    pub fn revoke_credential(
        &mut self,
        credential_id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.with(|conn| {
            let n = diesel::update(credentials::table.filter(credentials::id.eq(credential_id)))
                .set((
                    credentials::active.eq(false),
                    credentials::revoked_at.eq(Some(to_db(now))),
                ))
                .execute(conn)?;
            if n == 0 {
                return Err(StoreError::not_found(Entity::Credential, credential_id));
            }
            Ok(())
        })
    }

    /// Issues a bearer token for `ttl`; only its hash is stored.
    pub fn issue_access_token(
        &mut self,
        credential_id: i64,
        scope: &str,
        ttl: time::Duration,
        now: OffsetDateTime,
    ) -> StoreResult<(String, OffsetDateTime)> {
        let token = random_alnum(64);
        let expires = now + ttl;
        self.with(|conn| {
            diesel::insert_into(access_tokens::table)
                .values((
                    access_tokens::credential_id.eq(credential_id),
                    access_tokens::token_hash.eq(hash_token(&token)),
                    access_tokens::scope.eq(scope),
                    access_tokens::expires_at.eq(to_db(expires)),
                    access_tokens::created_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            Ok(())
        })?;
        Ok((token, expires))
    }

    /// Records a one-time authenticator; false when it was already used (a replay). One
    /// `INSERT ... ON CONFLICT DO NOTHING`, safe inside a larger transaction: a use committed by
    /// a concurrent transaction is either seen (nothing inserted: false) or, where this
    /// transaction's snapshot cannot see it (PostgreSQL, repeatable read), a serialization
    /// failure, answered as a lost race so the caller's transaction runs again and then sees it.
    /// Expired authenticators are purged by [`Writer::purge_expired_nonces`] (maintenance).
    pub fn use_nonce(
        &mut self,
        scope: &str,
        nonce: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<bool> {
        // One statement: a use already recorded (committed, or committed meanwhile by a
        // concurrent transaction, which this insert then waits for) inserts nothing.
        self.with(|conn| {
            let values = (
                auth_nonces::scope.eq(scope),
                auth_nonces::nonce.eq(nonce),
                auth_nonces::expires_at.eq(to_db(expires_at)),
            );
            let inserted =
                crate::pool::on_backend!(conn, |c| diesel::insert_into(auth_nonces::table)
                    .values(values)
                    .on_conflict_do_nothing()
                    .execute(c))?;
            Ok(inserted == 1)
        })
    }

    /// Deletes the one-time authenticators that expired before `now`; returns how many.
    pub fn purge_expired_nonces(&mut self, now: OffsetDateTime) -> StoreResult<usize> {
        self.with(|conn| {
            Ok(
                diesel::delete(auth_nonces::table.filter(auth_nonces::expires_at.lt(to_db(now))))
                    .execute(conn)?,
            )
        })
    }
}

crate::tx::store_reads! {
    fn signature_key(&self, organization_id: i64) -> Option<String>;
    fn authenticate_token(&self, dialect: &str, token: &str) -> Option<CredentialInfo>;
    fn authenticate_client(&self, client_id: &str, client_secret: &str) -> Option<CredentialInfo>;
    fn credential_by_username(&self, username: &str) -> Option<CredentialInfo>;
    fn credential_by_client_id(&self, dialect: &str, client_id: &str) -> Option<CredentialInfo>;
    fn credential_secret(&self, credential_id: i64) -> String;
    fn newest_api_key(&self, organization_id: i64, dialect: &str) -> Option<String>;
    fn authenticate_access_token(&self, token: &str, now: OffsetDateTime) -> Option<CredentialInfo>;
}

crate::tx::store_writes! {
    fn rotate_signature_key(&self, organization_id: i64, now: OffsetDateTime) -> String;
    fn issue_access_token(&self, credential_id: i64, scope: &str, ttl: time::Duration, now: OffsetDateTime) -> (String, OffsetDateTime);
    fn use_nonce(&self, scope: &str, nonce: &str, expires_at: OffsetDateTime) -> bool;
    fn purge_expired_nonces(&self, now: OffsetDateTime) -> usize;
}

crate::tx::store_writes_once! {
    fn create_credential(&self, organization_id: i64, dialect: &str, rotate_signature_key: bool, now: OffsetDateTime) -> CreatedCredential;
    fn create_channel(&self, name: &str, dialect: &str, now: OffsetDateTime) -> CreatedChannel;
}

impl crate::Store {
    /// [`Writer::revoke_credential`] in its own transaction; this process's cache forgets every
    /// credential at once (other processes stop accepting it within the cache's 5 s).
    pub fn revoke_credential(&self, credential_id: i64, now: OffsetDateTime) -> StoreResult<()> {
        self.transaction(|w| w.revoke_credential(credential_id, now))?;
        self.forget_credentials();
        Ok(())
    }
}
