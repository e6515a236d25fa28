//! Master key rotation (`billhub rotate-master-key`): every sealed secret sealed again with the
//! current master key, while gateways keep running.
//!
//! The columns holding sealed secrets are listed once, in [`SecretColumn`]: a new one must be
//! added there (grep `encrypt(` in this crate). A rotation reads them in batches by id, each
//! batch in its own snapshot; re-seals outside any transaction; and writes each batch in one
//! short write transaction where every row is a compare-and-set on the value it read, so a row a
//! gateway or the CLI changed meanwhile is left alone (and looked at again by the next pass).
//! The plaintext never changes, so the decrypted secrets the store caches stay right.
//!
//! Nothing here returns a plaintext secret: [`SealedSecret`] carries the sealed form only.

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::schema::{credentials, organization_keys};
use crate::secrets::{MasterKey, Sealing, SecretError};
use crate::{Reader, Store, StoreResult, Writer};

/// A column that holds secrets sealed with the master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretColumn {
    /// Collections signature keys (active and retired ones).
    OrganizationKeys,
    /// The secrets credentials' schemes need in the clear (VA API keys, the CSQ password hash).
    Credentials,
}

impl SecretColumn {
    /// Every column holding sealed secrets.
    pub const ALL: [SecretColumn; 2] = [SecretColumn::OrganizationKeys, SecretColumn::Credentials];

    /// `table.column`, as reports name it.
    pub fn name(self) -> &'static str {
        match self {
            SecretColumn::OrganizationKeys => "organization_keys.secret_enc",
            SecretColumn::Credentials => "credentials.secret_enc",
        }
    }
}

/// One sealed secret: where it is and its sealed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub column: SecretColumn,
    /// The row's id in its table.
    pub id: i64,
    /// `v2:<key id>:...` or `v1:...`.
    pub stored: String,
}

/// A secret the configured keys cannot open: it keeps its sealing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableSecret {
    pub column: SecretColumn,
    pub id: i64,
    pub error: SecretError,
}

/// What [`Store::rotate_master_key`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rotation {
    /// Secrets sealed again with the current key, per column.
    pub resealed: BTreeMap<SecretColumn, u64>,
    /// Secrets that were sealed with the current key already (each counted once).
    pub already_current: u64,
    /// Passes over every column (a row changed between read and write asks for another).
    pub passes: u32,
    /// Rows changed by someone else between this rotation's read and its write in the last
    /// pass (after [`MAX_PASSES`]); running the command again takes them.
    pub changed_meanwhile: u64,
    /// Secrets no configured key opens.
    pub unreadable: Vec<UnreadableSecret>,
    /// After the rotation: how many secrets each sealing holds, by [`Sealing::label`] (the
    /// current key's id included; `v1` for legacy secrets).
    pub sealed_with: BTreeMap<String, u64>,
}

impl Rotation {
    /// Secrets re-sealed, all columns together.
    pub fn resealed_total(&self) -> u64 {
        self.resealed.values().sum()
    }
}

/// Rows read per batch.
pub const ROTATION_BATCH: i64 = 500;
/// Passes a rotation makes at most while rows change under it.
pub const MAX_PASSES: u32 = 3;

impl Reader<'_> {
    /// Up to `limit` sealed secrets of `column` with an id above `after`, by id.
    pub fn sealed_secrets(
        &mut self,
        column: SecretColumn,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<SealedSecret>> {
        let rows: Vec<(i64, String)> = self.with(|conn| {
            Ok(match column {
                SecretColumn::OrganizationKeys => organization_keys::table
                    .filter(organization_keys::id.gt(after))
                    .order(organization_keys::id.asc())
                    .limit(limit)
                    .select((organization_keys::id, organization_keys::secret_enc))
                    .load(conn)?,
                SecretColumn::Credentials => credentials::table
                    .filter(credentials::id.gt(after))
                    .filter(credentials::secret_enc.is_not_null())
                    .order(credentials::id.asc())
                    .limit(limit)
                    .select((credentials::id, credentials::secret_enc.assume_not_null()))
                    .load(conn)?,
            })
        })?;
        Ok(rows
            .into_iter()
            .map(|(id, stored)| SealedSecret { column, id, stored })
            .collect())
    }
}

impl Writer<'_> {
    /// Replaces a sealed secret with `new` if it still is `old` (compare-and-set); whether it
    /// did.
    pub fn replace_sealed_secret(
        &mut self,
        column: SecretColumn,
        id: i64,
        old: &str,
        new: &str,
    ) -> StoreResult<bool> {
        let n = self.with(|conn| {
            Ok(match column {
                SecretColumn::OrganizationKeys => diesel::update(
                    organization_keys::table
                        .filter(organization_keys::id.eq(id))
                        .filter(organization_keys::secret_enc.eq(old)),
                )
                .set(organization_keys::secret_enc.eq(new))
                .execute(conn)?,
                SecretColumn::Credentials => diesel::update(
                    credentials::table
                        .filter(credentials::id.eq(id))
                        .filter(credentials::secret_enc.eq(old)),
                )
                .set(credentials::secret_enc.eq(Some(new)))
                .execute(conn)?,
            })
        })?;
        Ok(n == 1)
    }
}

crate::tx::store_reads! {
    fn sealed_secrets(&self, column: SecretColumn, after: i64, limit: i64) -> Vec<SealedSecret>;
}

/// One pass's counts.
#[derive(Default)]
struct Pass {
    resealed: BTreeMap<SecretColumn, u64>,
    already_current: u64,
    changed_meanwhile: u64,
    unreadable: Vec<UnreadableSecret>,
}

impl Store {
    /// Seals every secret again with the current master key (the store's [`MasterKey`], whose
    /// old keys open what they sealed), in batches of `batch` rows; idempotent. Rows changed
    /// meanwhile are taken by another pass (at most [`MAX_PASSES`]); secrets no configured key
    /// opens are listed and left as they are. Ends with a count of every sealing
    /// ([`Rotation::sealed_with`]), which says whether an old key can go.
    pub fn rotate_master_key(&self, batch: i64) -> StoreResult<Rotation> {
        let key = self.master_key().clone();
        let batch = batch.max(1);
        let mut rotation = Rotation::default();
        loop {
            rotation.passes += 1;
            let pass = self.rotation_pass(&key, batch)?;
            for (column, n) in pass.resealed {
                *rotation.resealed.entry(column).or_default() += n;
            }
            if rotation.passes == 1 {
                rotation.already_current = pass.already_current;
            }
            rotation.changed_meanwhile = pass.changed_meanwhile;
            rotation.unreadable = pass.unreadable;
            if pass.changed_meanwhile == 0 || rotation.passes >= MAX_PASSES {
                break;
            }
        }
        rotation.sealed_with = self.sealing_census(batch)?;
        Ok(rotation)
    }

    fn rotation_pass(&self, key: &MasterKey, batch: i64) -> StoreResult<Pass> {
        let mut pass = Pass::default();
        for column in SecretColumn::ALL {
            let mut after = 0;
            loop {
                let rows = self.sealed_secrets(column, after, batch)?;
                let Some(last) = rows.last() else { break };
                after = last.id;
                let mut changes = Vec::new();
                for row in rows {
                    match key.reseal(&row.stored) {
                        Ok(Some(new)) => changes.push((row, new)),
                        Ok(None) => pass.already_current += 1,
                        Err(error) => pass.unreadable.push(UnreadableSecret {
                            column,
                            id: row.id,
                            error,
                        }),
                    }
                }
                if changes.is_empty() {
                    continue;
                }
                let replaced = self.transaction(|w| {
                    let mut n = 0u64;
                    for (row, new) in &changes {
                        if w.replace_sealed_secret(column, row.id, &row.stored, new)? {
                            n += 1;
                        }
                    }
                    Ok::<_, crate::StoreError>(n)
                })?;
                *pass.resealed.entry(column).or_default() += replaced;
                pass.changed_meanwhile += changes.len() as u64 - replaced;
            }
        }
        Ok(pass)
    }

    /// How many secrets each sealing holds, by [`Sealing::label`]; a secret whose form is not
    /// recognised counts as `malformed`.
    pub fn sealing_census(&self, batch: i64) -> StoreResult<BTreeMap<String, u64>> {
        let mut census = BTreeMap::new();
        for column in SecretColumn::ALL {
            let mut after = 0;
            loop {
                let rows = self.sealed_secrets(column, after, batch.max(1))?;
                let Some(last) = rows.last() else { break };
                after = last.id;
                for row in rows {
                    let label = Sealing::of(&row.stored)
                        .map_or_else(|_| "malformed".to_string(), |s| s.label().to_string());
                    *census.entry(label).or_default() += 1;
                }
            }
        }
        Ok(census)
    }
}
