//! Operator console sessions, stored so that several processes serve one console. A session is
//! found by the SHA-256 of its cookie value (the value itself is never stored); it ends after
//! [`IDLE_TIMEOUT`] without a request, and its last-seen time is written at most once per
//! [`TOUCH_EVERY`] so that reading pages does not write on every request.

use diesel::prelude::*;
use time::{Duration, OffsetDateTime};

use crate::repo::users::{Role, console_sessions, console_users};
use crate::time_conv::{from_db, to_db};
use crate::{Reader, StoreError, StoreResult, Writer};

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::hours(12);
/// The last-seen time is written at most this often.
pub const TOUCH_EVERY: Duration = Duration::minutes(1);

/// A live session and who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id: i64,
    pub user_id: i64,
    pub organization_id: i64,
    pub email: String,
    pub role: Role,
    pub csrf_token: String,
    pub last_seen_at: OffsetDateTime,
}

impl ConsoleSession {
    /// Whether the session has been idle too long at `now`.
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        now - self.last_seen_at >= IDLE_TIMEOUT
    }

    /// Whether a request at `now` should write the last-seen time.
    pub fn needs_touch(&self, now: OffsetDateTime) -> bool {
        now - self.last_seen_at >= TOUCH_EVERY
    }
}

impl Reader<'_> {
    /// The session with this token hash, if its user is still active (expiry is the caller's
    /// decision: [`ConsoleSession::expired`]).
    pub fn console_session(&mut self, token_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        self.with(|conn| {
            let row: Option<(
                i64,
                i64,
                i64,
                String,
                String,
                String,
                time::PrimitiveDateTime,
            )> = console_sessions::table
                .inner_join(console_users::table)
                .filter(console_sessions::token_hash.eq(token_hash))
                .filter(console_users::disabled_at.is_null())
                .select((
                    console_sessions::id,
                    console_sessions::user_id,
                    console_sessions::organization_id,
                    console_users::email,
                    console_users::role,
                    console_sessions::csrf_token,
                    console_sessions::last_seen_at,
                ))
                .first(conn)
                .optional()?;
            row.map(
                |(id, user_id, organization_id, email, role, csrf_token, last_seen)| {
                    let role = Role::parse(&role).ok_or_else(|| {
                        StoreError::Corrupt(format!("console user {user_id} has role `{role}`"))
                    })?;
                    Ok(ConsoleSession {
                        id,
                        user_id,
                        organization_id,
                        email,
                        role,
                        csrf_token,
                        last_seen_at: from_db(last_seen),
                    })
                },
            )
            .transpose()
        })
    }
}

impl Writer<'_> {
    /// Starts a session for a user who has just signed in.
    pub fn create_console_session(
        &mut self,
        user_id: i64,
        organization_id: i64,
        token_hash: &str,
        csrf_token: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.with(|conn| {
            diesel::insert_into(console_sessions::table)
                .values((
                    console_sessions::token_hash.eq(token_hash),
                    console_sessions::user_id.eq(user_id),
                    console_sessions::organization_id.eq(organization_id),
                    console_sessions::csrf_token.eq(csrf_token),
                    console_sessions::created_at.eq(to_db(now)),
                    console_sessions::last_seen_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Writes the last-seen time of a session.
    pub fn touch_console_session(&mut self, id: i64, now: OffsetDateTime) -> StoreResult<()> {
        self.with(|conn| {
            diesel::update(console_sessions::table.filter(console_sessions::id.eq(id)))
                .set(console_sessions::last_seen_at.eq(to_db(now)))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Deletes every session idle for [`IDLE_TIMEOUT`] at `now` (the maintenance task); the
    /// number deleted.
    pub fn purge_console_sessions(&mut self, now: OffsetDateTime) -> StoreResult<usize> {
        let cutoff = to_db(now - IDLE_TIMEOUT);
        self.with(|conn| {
            Ok(diesel::delete(
                console_sessions::table.filter(console_sessions::last_seen_at.le(cutoff)),
            )
            .execute(conn)?)
        })
    }

    /// Ends a session (sign-out, or found expired). Ending an ended one is not an error.
    pub fn delete_console_session(&mut self, token_hash: &str) -> StoreResult<()> {
        self.with(|conn| {
            diesel::delete(
                console_sessions::table.filter(console_sessions::token_hash.eq(token_hash)),
            )
            .execute(conn)?;
            Ok(())
        })
    }
}

crate::tx::store_reads! {
    fn console_session(&self, token_hash: &str) -> Option<ConsoleSession>;
}

crate::tx::store_writes! {
    fn create_console_session(
        &self,
        user_id: i64,
        organization_id: i64,
        token_hash: &str,
        csrf_token: &str,
        now: OffsetDateTime,
    ) -> ();
    fn touch_console_session(&self, id: i64, now: OffsetDateTime) -> ();
    fn delete_console_session(&self, token_hash: &str) -> ();
    fn purge_console_sessions(&self, now: OffsetDateTime) -> usize;
}
