//! Operator views and switches over credentials and channels: `billhub credential list`,
//! `credential revoke`, `channel list` and `channel disable`.
//!
//! Nothing here reads or returns a secret or a hash. A channel is disabled by stamping
//! `channels.disabled_at`; [`channel_enabled`] (in `credentials`) is the predicate authentication applies so that a
//! disabled channel's credentials (and the access tokens issued from them) stop authenticating,
//! and the listing derives each credential's status from the same predicate, so the two agree.

use diesel::prelude::*;
use diesel::sql_types::Bool;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::pool::MultiBackend;
use crate::repo::credentials::{Principal, channel_enabled};
use crate::schema::{channels, credentials};
use crate::time_conv::{from_db, to_db};
use crate::{Entity, Reader, StoreError, StoreResult, Writer};

/// What a credential can do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialStatus {
    /// It authenticates.
    Active,
    /// Revoked (`billhub credential revoke`): it never authenticates again.
    Revoked,
    /// Not revoked, but its channel is disabled (`billhub channel disable`).
    ChannelDisabled,
}

impl CredentialStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::Active => "active",
            CredentialStatus::Revoked => "revoked",
            CredentialStatus::ChannelDisabled => "channel_disabled",
        }
    }
}

/// A credential as an operator sees it: never a secret or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialListing {
    pub id: i64,
    /// `bill24`, `collections`, `va`, `console` for billers; `va`, `postpaid` for channels.
    pub dialect: String,
    /// `biller` or `channel`.
    pub kind: String,
    pub owner: Principal,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub status: CredentialStatus,
}

/// A channel as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelListing {
    pub id: i64,
    pub name: String,
    /// `va` or `postpaid`.
    pub dialect: String,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
}

/// The outcome of an idempotent switch: the item as it is now, and whether this call changed it
/// (false when it was already revoked or disabled; the first time is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched<T> {
    pub item: T,
    pub changed: bool,
}

type OwnerCond = Box<dyn BoxableExpression<credentials::table, MultiBackend, SqlType = Bool>>;

fn owned_by(owner: &Principal) -> OwnerCond {
    match *owner {
        Principal::Biller { organization_id } => Box::new(
            credentials::organization_id.is_not_null().and(
                credentials::organization_id
                    .assume_not_null()
                    .eq(organization_id),
            ),
        ),
        Principal::Channel { channel_id } => Box::new(
            credentials::channel_id
                .is_not_null()
                .and(credentials::channel_id.assume_not_null().eq(channel_id)),
        ),
    }
}

type ListingRow = (
    i64,
    Option<i64>,
    Option<i64>,
    String,
    String,
    bool,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
);

fn listing(row: ListingRow, usable: bool) -> StoreResult<CredentialListing> {
    let (id, organization_id, channel_id, dialect, kind, active, created_at, revoked_at) = row;
    let owner = match (organization_id, channel_id) {
        (Some(organization_id), None) => Principal::Biller { organization_id },
        (None, Some(channel_id)) => Principal::Channel { channel_id },
        _ => {
            return Err(StoreError::Corrupt(format!(
                "credential {id} has no single owner"
            )));
        }
    };
    let status = match (active, usable) {
        (false, _) => CredentialStatus::Revoked,
        (true, true) => CredentialStatus::Active,
        (true, false) => CredentialStatus::ChannelDisabled,
    };
    Ok(CredentialListing {
        id,
        dialect,
        kind,
        owner,
        created_at: from_db(created_at),
        revoked_at: revoked_at.map(from_db),
        status,
    })
}

const LISTING_COLUMNS: (
    credentials::id,
    credentials::organization_id,
    credentials::channel_id,
    credentials::dialect,
    credentials::kind,
    credentials::active,
    credentials::created_at,
    credentials::revoked_at,
) = (
    credentials::id,
    credentials::organization_id,
    credentials::channel_id,
    credentials::dialect,
    credentials::kind,
    credentials::active,
    credentials::created_at,
    credentials::revoked_at,
);

/// Loads the listed credentials matching `cond`, each with its status.
fn load_listings(
    conn: &mut crate::AnyConnection,
    cond: OwnerCond,
) -> StoreResult<Vec<CredentialListing>> {
    let rows: Vec<ListingRow> = credentials::table
        .filter(cond)
        .select(LISTING_COLUMNS)
        .order(credentials::id)
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let usable: Vec<i64> = credentials::table
        .filter(credentials::id.eq_any(&ids))
        .filter(credentials::active.eq(true))
        .filter(channel_enabled())
        .select(credentials::id)
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let ok = usable.contains(&row.0);
            listing(row, ok)
        })
        .collect()
}

fn load_credential(conn: &mut crate::AnyConnection, id: i64) -> StoreResult<CredentialListing> {
    let cond: OwnerCond = Box::new(credentials::id.eq(id));
    load_listings(conn, cond)?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::not_found(Entity::Credential, id))
}

type ChannelRow = (
    i64,
    String,
    String,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
);

fn channel_listing(row: ChannelRow) -> ChannelListing {
    let (id, name, dialect, created_at, disabled_at) = row;
    ChannelListing {
        id,
        name,
        dialect,
        created_at: from_db(created_at),
        disabled_at: disabled_at.map(from_db),
    }
}

const CHANNEL_COLUMNS: (
    channels::id,
    channels::name,
    channels::dialect,
    channels::created_at,
    channels::disabled_at,
) = (
    channels::id,
    channels::name,
    channels::dialect,
    channels::created_at,
    channels::disabled_at,
);

fn load_channel(conn: &mut crate::AnyConnection, id: i64) -> StoreResult<ChannelListing> {
    channels::table
        .filter(channels::id.eq(id))
        .select(CHANNEL_COLUMNS)
        .first::<ChannelRow>(conn)
        .optional()?
        .map(channel_listing)
        .ok_or_else(|| StoreError::not_found(Entity::Channel, id))
}

impl Reader<'_> {
    /// The credentials of an organization (biller APIs) or of a channel, oldest first. A channel
    /// that does not exist is [`StoreError::NotFound`]; an organization is the caller's to check.
    pub fn credential_listings(
        &mut self,
        owner: &Principal,
    ) -> StoreResult<Vec<CredentialListing>> {
        self.with(|conn| {
            if let Principal::Channel { channel_id } = *owner {
                load_channel(conn, channel_id)?;
            }
            load_listings(conn, owned_by(owner))
        })
    }

    /// One credential, without secrets.
    pub fn credential_listing(&mut self, credential_id: i64) -> StoreResult<CredentialListing> {
        self.with(|conn| load_credential(conn, credential_id))
    }

    /// One channel, or [`StoreError::NotFound`].
    pub fn channel_listing(&mut self, channel_id: i64) -> StoreResult<ChannelListing> {
        self.with(|conn| load_channel(conn, channel_id))
    }

    /// Every channel, oldest first.
    pub fn channel_listings(&mut self) -> StoreResult<Vec<ChannelListing>> {
        self.with(|conn| {
            let rows: Vec<ChannelRow> = channels::table
                .select(CHANNEL_COLUMNS)
                .order(channels::id)
                .load(conn)?;
            Ok(rows.into_iter().map(channel_listing).collect())
        })
    }
}

impl Writer<'_> {
    /// Revokes a credential; revoking it again changes nothing and keeps the first time.
    pub fn revoke_credential_once(
        &mut self,
        credential_id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<Switched<CredentialListing>> {
        self.with(|conn| {
            let n = diesel::update(
                credentials::table
                    .filter(credentials::id.eq(credential_id))
                    .filter(credentials::active.eq(true)),
            )
            .set((
                credentials::active.eq(false),
                credentials::revoked_at.eq(Some(to_db(now))),
            ))
            .execute(conn)?;
            Ok(Switched {
                item: load_credential(conn, credential_id)?,
                changed: n > 0,
            })
        })
    }

    /// Disables a channel: its credentials stop authenticating. Disabling it again changes
    /// nothing and keeps the first time.
    pub fn disable_channel(
        &mut self,
        channel_id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<Switched<ChannelListing>> {
        self.with(|conn| {
            let n = diesel::update(
                channels::table
                    .filter(channels::id.eq(channel_id))
                    .filter(channels::disabled_at.is_null()),
            )
            .set(channels::disabled_at.eq(Some(to_db(now))))
            .execute(conn)?;
            Ok(Switched {
                item: load_channel(conn, channel_id)?,
                changed: n > 0,
            })
        })
    }
}

crate::tx::store_reads! {
    fn credential_listings(&self, owner: &Principal) -> Vec<CredentialListing>;
    fn credential_listing(&self, credential_id: i64) -> CredentialListing;
    fn channel_listings(&self) -> Vec<ChannelListing>;
    fn channel_listing(&self, channel_id: i64) -> ChannelListing;
}

crate::tx::store_writes! {
    fn revoke_credential_once(&self, credential_id: i64, now: OffsetDateTime) -> Switched<CredentialListing>;
    fn disable_channel(&self, channel_id: i64, now: OffsetDateTime) -> Switched<ChannelListing>;
}
