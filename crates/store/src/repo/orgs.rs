//! Organizations, their settings and VA prefixes; channels, their settings and enrolments.

use billhub_core::SettlementMode;
use billhub_core::channel_settings::ChannelSettings;
use billhub_core::org::{Organization, Settings, format_offset};
use diesel::prelude::*;
use time::{OffsetDateTime, UtcOffset};

use crate::models::OrganizationRow;
use crate::pool::AnyConnection;
use crate::schema::{
    channel_enrolments, channel_settings as cs, channels, organization_settings as os,
    organizations, va_prefixes,
};
use crate::secrets::random_from;
use crate::time_conv::to_db;
use crate::{ConflictKind, Entity, InvalidKind, Reader, StoreError, StoreResult, Writer};

/// Input for a new organization.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    /// When `None`, an 8-character code is generated.
    pub code: Option<String>,
    pub name: String,
    pub utc_offset: UtcOffset,
    pub locale: String,
    pub settlement: Option<SettlementMode>,
    pub va_prefixes: Vec<String>,
}

/// Upper-case letters and digits without look-alikes, for generated organization codes.
const ORG_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

pub fn validate_org_code(code: &str) -> StoreResult<()> {
    let ok = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(InvalidKind::OrganizationCode {
            code: code.to_string(),
        }))
    }
}

pub fn validate_va_prefix(prefix: &str) -> StoreResult<()> {
    if prefix.len() == 6 && prefix.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::Invalid(InvalidKind::VaPrefixFormat {
            prefix: prefix.to_string(),
        }))
    }
}

pub(crate) fn load_org(conn: &mut AnyConnection, id: i64) -> StoreResult<Organization> {
    crate::pool::on_backend!(conn, |c| organizations::table
        .filter(organizations::id.eq(id))
        .select(OrganizationRow::as_select())
        .get_result::<OrganizationRow>(c)
        .optional())?
    .ok_or_else(|| StoreError::not_found(Entity::Organization, id))?
    .into_org()
}

pub(crate) fn load_settings(
    conn: &mut AnyConnection,
    organization_id: i64,
) -> StoreResult<Settings> {
    let pairs: Vec<(String, String)> = crate::pool::on_backend!(conn, |c| os::table
        .filter(os::organization_id.eq(organization_id))
        .select((os::key, os::value))
        .load(c))?;
    Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A channel's dialect (`va` or `postpaid`), or [`StoreError::NotFound`].
fn channel_dialect(conn: &mut AnyConnection, channel_id: i64) -> StoreResult<String> {
    channels::table
        .filter(channels::id.eq(channel_id))
        .select(channels::dialect)
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found(Entity::Channel, channel_id))
}

/// A channel's typed settings (defaults for unset keys); the channel must exist.
pub(crate) fn load_channel_settings(
    conn: &mut AnyConnection,
    channel_id: i64,
) -> StoreResult<ChannelSettings> {
    channel_dialect(conn, channel_id)?;
    let pairs: Vec<(String, String)> = cs::table
        .filter(cs::channel_id.eq(channel_id))
        .select((cs::key, cs::value))
        .load(conn)?;
    ChannelSettings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn insert_prefix(
    conn: &mut AnyConnection,
    organization_id: i64,
    prefix: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    validate_va_prefix(prefix)?;
    let taken: Option<i64> = va_prefixes::table
        .filter(va_prefixes::prefix.eq(prefix))
        .select(va_prefixes::organization_id)
        .first(conn)
        .optional()?;
    if let Some(owner) = taken {
        return Err(if owner == organization_id {
            StoreError::Conflict(ConflictKind::VaPrefixOwnedHere {
                prefix: prefix.to_string(),
            })
        } else {
            StoreError::Conflict(ConflictKind::VaPrefixOwnedElsewhere {
                prefix: prefix.to_string(),
            })
        });
    }
    diesel::insert_into(va_prefixes::table)
        .values((
            va_prefixes::prefix.eq(prefix),
            va_prefixes::organization_id.eq(organization_id),
            va_prefixes::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

fn upsert_setting(
    conn: &mut AnyConnection,
    organization_id: i64,
    key: &str,
    value: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let n = diesel::update(
        os::table
            .filter(os::organization_id.eq(organization_id))
            .filter(os::key.eq(key)),
    )
    .set((os::value.eq(value), os::updated_at.eq(to_db(now))))
    .execute(conn)?;
    if n == 0 {
        diesel::insert_into(os::table)
            .values((
                os::organization_id.eq(organization_id),
                os::key.eq(key),
                os::value.eq(value),
                os::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

impl Reader<'_> {
    pub fn organization(&mut self, id: i64) -> StoreResult<Organization> {
        self.with(|conn| load_org(conn, id))
    }

    pub fn organization_by_code(&mut self, code: &str) -> StoreResult<Option<Organization>> {
        self.with(|conn| {
            organizations::table
                .filter(organizations::code.eq(code))
                .select(OrganizationRow::as_select())
                .first(conn)
                .optional()?
                .map(OrganizationRow::into_org)
                .transpose()
        })
    }

    pub fn organizations(&mut self) -> StoreResult<Vec<Organization>> {
        self.with(|conn| {
            organizations::table
                .order(organizations::id.asc())
                .select(OrganizationRow::as_select())
                .load(conn)?
                .into_iter()
                .map(OrganizationRow::into_org)
                .collect()
        })
    }

    /// The organization's typed settings (defaults for unset keys).
    pub fn settings(&mut self, organization_id: i64) -> StoreResult<Settings> {
        self.with(|conn| load_settings(conn, organization_id))
    }

    pub fn va_prefixes(&mut self, organization_id: i64) -> StoreResult<Vec<String>> {
        self.with(|conn| {
            Ok(va_prefixes::table
                .filter(va_prefixes::organization_id.eq(organization_id))
                .order(va_prefixes::prefix.asc())
                .select(va_prefixes::prefix)
                .load(conn)?)
        })
    }

    /// The organization that owns a 6-digit VA prefix.
    pub fn organization_by_va_prefix(&mut self, prefix: &str) -> StoreResult<Option<i64>> {
        self.with(|conn| {
            Ok(va_prefixes::table
                .filter(va_prefixes::prefix.eq(prefix))
                .select(va_prefixes::organization_id)
                .get_result(conn)
                .optional()?)
        })
    }

    pub fn is_enrolled(&mut self, channel_id: i64, organization_id: i64) -> StoreResult<bool> {
        self.with(|conn| {
            let found: Option<i64> = crate::pool::on_backend!(conn, |c| {
                channel_enrolments::table
                    .filter(channel_enrolments::channel_id.eq(channel_id))
                    .filter(channel_enrolments::organization_id.eq(organization_id))
                    .select(channel_enrolments::channel_id)
                    .get_result::<i64>(c)
                    .optional()
            })?;
            Ok(found.is_some())
        })
    }

    /// A channel's typed settings (defaults for unset keys); [`StoreError::NotFound`] when
    /// the channel does not exist.
    pub fn channel_settings(&mut self, channel_id: i64) -> StoreResult<ChannelSettings> {
        self.with(|conn| load_channel_settings(conn, channel_id))
    }

    pub fn enrolled_organizations(&mut self, channel_id: i64) -> StoreResult<Vec<i64>> {
        self.with(|conn| {
            Ok(channel_enrolments::table
                .filter(channel_enrolments::channel_id.eq(channel_id))
                .order(channel_enrolments::organization_id.asc())
                .select(channel_enrolments::organization_id)
                .load(conn)?)
        })
    }
}

impl Writer<'_> {
    pub fn create_organization(
        &mut self,
        new: &NewOrganization,
        now: OffsetDateTime,
    ) -> StoreResult<Organization> {
        if new.name.trim().is_empty() {
            return Err(StoreError::Invalid(InvalidKind::Empty {
                what: "organization name",
            }));
        }
        if let Some(code) = &new.code {
            validate_org_code(code)?;
        }
        if !billhub_core::org::LOCALES.contains(&new.locale.as_str()) {
            return Err(StoreError::Invalid(InvalidKind::Locale {
                locale: new.locale.clone(),
            }));
        }
        for p in &new.va_prefixes {
            validate_va_prefix(p)?;
        }
        self.with(|conn| {
            let code = match &new.code {
                Some(c) => c.clone(),
                None => random_from(ORG_CODE_ALPHABET, 8),
            };
            let exists: Option<i64> = organizations::table
                .filter(organizations::code.eq(&code))
                .select(organizations::id)
                .first(conn)
                .optional()?;
            if exists.is_some() {
                return Err(StoreError::Conflict(ConflictKind::OrganizationCodeTaken {
                    code: code.to_string(),
                }));
            }
            let id: i64 = diesel::insert_into(organizations::table)
                .values((
                    organizations::code.eq(&code),
                    organizations::name.eq(new.name.trim()),
                    organizations::utc_offset.eq(format_offset(new.utc_offset)),
                    organizations::locale.eq(&new.locale),
                    organizations::created_at.eq(to_db(now)),
                    organizations::updated_at.eq(to_db(now)),
                ))
                .returning(organizations::id)
                .get_result(conn)?;
            for p in &new.va_prefixes {
                insert_prefix(conn, id, p, now)?;
            }
            if let Some(mode) = new.settlement {
                upsert_setting(conn, id, "settlement", mode.as_str(), now)?;
            }
            if new.locale != "en" {
                upsert_setting(conn, id, "locale", &new.locale, now)?;
            }
            load_org(conn, id)
        })
    }

    /// Validates and stores one setting. `utc_offset` and `name` are organization columns and
    /// are accepted here too.
    pub fn set_setting(
        &mut self,
        organization_id: i64,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.with(|conn| {
            load_org(conn, organization_id)?;
            match key {
                "utc_offset" => {
                    let off = billhub_core::org::parse_offset(value).map_err(StoreError::from)?;
                    diesel::update(
                        organizations::table.filter(organizations::id.eq(organization_id)),
                    )
                    .set((
                        organizations::utc_offset.eq(format_offset(off)),
                        organizations::updated_at.eq(to_db(now)),
                    ))
                    .execute(conn)?;
                    return Ok(());
                }
                "name" => {
                    if value.trim().is_empty() {
                        return Err(StoreError::Invalid(InvalidKind::Empty { what: "name" }));
                    }
                    diesel::update(
                        organizations::table.filter(organizations::id.eq(organization_id)),
                    )
                    .set((
                        organizations::name.eq(value.trim()),
                        organizations::updated_at.eq(to_db(now)),
                    ))
                    .execute(conn)?;
                    return Ok(());
                }
                _ => {}
            }
            let mut settings = load_settings(conn, organization_id)?;
            settings.set(key, value).map_err(StoreError::from)?;
            if key == "locale" {
                diesel::update(organizations::table.filter(organizations::id.eq(organization_id)))
                    .set(organizations::locale.eq(value))
                    .execute(conn)?;
            }
            upsert_setting(conn, organization_id, key, value, now)
        })
    }

    pub fn add_va_prefix(
        &mut self,
        organization_id: i64,
        prefix: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.with(|conn| insert_prefix(conn, organization_id, prefix, now))
    }

    /// Validates and stores one channel setting (for the channel's dialect: `va.auth` only on a
    /// `va` bank, `csq.*` only on a `postpaid` network). An empty value of a key that has no
    /// empty meaning is refused like any invalid value.
    pub fn set_channel_setting(
        &mut self,
        channel_id: i64,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.with(|conn| {
            let dialect = channel_dialect(conn, channel_id)?;
            let mut settings = load_channel_settings(conn, channel_id)?;
            settings
                .set_for(&dialect, key, value)
                .map_err(StoreError::from)?;
            let value = value.trim();
            let n = diesel::update(
                cs::table
                    .filter(cs::channel_id.eq(channel_id))
                    .filter(cs::key.eq(key)),
            )
            .set((cs::value.eq(value), cs::updated_at.eq(to_db(now))))
            .execute(conn)?;
            if n == 0 {
                diesel::insert_into(cs::table)
                    .values((
                        cs::channel_id.eq(channel_id),
                        cs::key.eq(key),
                        cs::value.eq(value),
                        cs::updated_at.eq(to_db(now)),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// Enrols a channel with an organization (idempotent).
    pub fn enroll(
        &mut self,
        channel_id: i64,
        organization_id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.with(|conn| {
            let ch: Option<i64> = channels::table
                .filter(channels::id.eq(channel_id))
                .select(channels::id)
                .first(conn)
                .optional()?;
            if ch.is_none() {
                return Err(StoreError::not_found(Entity::Channel, channel_id));
            }
            load_org(conn, organization_id)?;
            let existing: Option<i64> = channel_enrolments::table
                .filter(channel_enrolments::channel_id.eq(channel_id))
                .filter(channel_enrolments::organization_id.eq(organization_id))
                .select(channel_enrolments::channel_id)
                .first(conn)
                .optional()?;
            if existing.is_none() {
                diesel::insert_into(channel_enrolments::table)
                    .values((
                        channel_enrolments::channel_id.eq(channel_id),
                        channel_enrolments::organization_id.eq(organization_id),
                        channel_enrolments::created_at.eq(to_db(now)),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }
}

crate::tx::store_reads! {
    fn organization(&self, id: i64) -> Organization;
    fn organization_by_code(&self, code: &str) -> Option<Organization>;
    fn organizations(&self) -> Vec<Organization>;
    fn settings(&self, organization_id: i64) -> Settings;
    fn va_prefixes(&self, organization_id: i64) -> Vec<String>;
    fn organization_by_va_prefix(&self, prefix: &str) -> Option<i64>;
    fn is_enrolled(&self, channel_id: i64, organization_id: i64) -> bool;
    fn enrolled_organizations(&self, channel_id: i64) -> Vec<i64>;
    fn channel_settings(&self, channel_id: i64) -> ChannelSettings;
}

crate::tx::store_writes! {
    fn enroll(&self, channel_id: i64, organization_id: i64, now: OffsetDateTime) -> ();
}

crate::tx::store_writes_once! {
    fn create_organization(&self, new: &NewOrganization, now: OffsetDateTime) -> Organization;
    fn add_va_prefix(&self, organization_id: i64, prefix: &str, now: OffsetDateTime) -> ();
}

impl crate::Store {
    /// [`Writer::set_setting`] in its own transaction; this process's cache forgets the
    /// organization at once (other processes see the change within the cache's 5 s).
    pub fn set_setting(
        &self,
        organization_id: i64,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.transaction(|w| w.set_setting(organization_id, key, value, now))?;
        self.forget_organization(organization_id);
        Ok(())
    }

    /// [`Writer::set_channel_setting`] in its own transaction; this process's cache forgets the
    /// channel's settings at once (other processes see the change within the cache's 5 s).
    pub fn set_channel_setting(
        &self,
        channel_id: i64,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.transaction(|w| w.set_channel_setting(channel_id, key, value, now))?;
        self.forget_channel(channel_id);
        Ok(())
    }
}
