//! Operator console users: people of one organization with a role (`viewer` or `operator`) and
//! an argon2id password hash (the PHC string; never the password). E-mails are unique per
//! organization whatever their case.
//!
//! Hashing lives here beside the table so that the CLI (which creates users) and the console
//! (which verifies them) use one definition: argon2id with the crate's default parameters and a
//! random 16-byte salt. [`verify_password`] against [`dummy_hash`] gives an unknown e-mail the
//! same work as a wrong password. The sessions table is declared here too (a user's sessions
//! end when they are disabled); `sessions` reads and writes it.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use diesel::prelude::*;
use rand::RngExt;
use time::OffsetDateTime;

use crate::pool::AnyConnection;
use crate::time_conv::{from_db, to_db};
use crate::{ConflictKind, Entity, InvalidKind, Reader, StoreError, StoreResult, Writer};

diesel::table! {
    console_users (id) {
        id -> BigInt,
        organization_id -> BigInt,
        email -> Text,
        email_key -> Text,
        role -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    console_sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        organization_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::joinable!(console_sessions -> console_users (user_id));
diesel::allow_tables_to_appear_in_same_query!(console_sessions, console_users);

/// What a console user may do: `viewer` reads; `operator` also takes money actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Viewer,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// A console user as stored (the hash stays inside the store but for sign-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: i64,
    pub organization_id: i64,
    pub email: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
}

/// A user found for sign-in, with the hash to verify against.
#[derive(Debug, Clone)]
pub struct SignInCandidate {
    pub user: ConsoleUser,
    pub password_hash: String,
}

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    time::PrimitiveDateTime,
    Option<time::PrimitiveDateTime>,
);

fn from_row(r: Row) -> StoreResult<(ConsoleUser, String)> {
    let (id, organization_id, email, role, hash, created_at, disabled_at) = r;
    let role = Role::parse(&role)
        .ok_or_else(|| StoreError::Corrupt(format!("console user {id} has role `{role}`")))?;
    Ok((
        ConsoleUser {
            id,
            organization_id,
            email,
            role,
            created_at: from_db(created_at),
            disabled_at: disabled_at.map(from_db),
        },
        hash,
    ))
}

macro_rules! user_columns {
    () => {
        (
            console_users::id,
            console_users::organization_id,
            console_users::email,
            console_users::role,
            console_users::password_hash,
            console_users::created_at,
            console_users::disabled_at,
        )
    };
}

pub(crate) fn delete_user_sessions(conn: &mut AnyConnection, user_id: i64) -> StoreResult<()> {
    diesel::delete(console_sessions::table.filter(console_sessions::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(())
}

/// The form of an e-mail that decides uniqueness and sign-in: trimmed, lowercase.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible e-mail: one `@` with text on both sides, no spaces, at most 254 characters.
fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The argon2id PHC string of `password` (default parameters, random salt).
pub fn hash_password(password: &str) -> StoreResult<String> {
    let salt: [u8; 16] = rand::rng().random();
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Corrupt(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A valid hash of no one's password, verified for an unknown e-mail so that it costs the
/// same as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: LazyLock<String> = LazyLock::new(|| {
        let random: String = new_password();
        hash_password(&random).unwrap_or_default()
    });
    DUMMY.as_str()
}

/// A new random password: 24 characters from an alphabet without look-alikes (about 136 bits).
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| {
            let i = rng.random_range(0..ALPHABET.len());
            ALPHABET.get(i).map_or('x', |b| char::from(*b))
        })
        .collect()
}

impl Reader<'_> {
    /// The organization's console users, oldest first.
    pub fn console_users(&mut self, organization_id: i64) -> StoreResult<Vec<ConsoleUser>> {
        self.with(|conn| {
            let rows: Vec<Row> = console_users::table
                .filter(console_users::organization_id.eq(organization_id))
                .order(console_users::id.asc())
                .select(user_columns!())
                .load(conn)?;
            rows.into_iter()
                .map(|r| from_row(r).map(|(u, _)| u))
                .collect()
        })
    }

    /// The active user with this e-mail (any case) in the organization, with its hash.
    pub fn console_sign_in_candidate(
        &mut self,
        organization_id: i64,
        email: &str,
    ) -> StoreResult<Option<SignInCandidate>> {
        let key = email_key(email);
        self.with(|conn| {
            let row: Option<Row> = console_users::table
                .filter(console_users::organization_id.eq(organization_id))
                .filter(console_users::email_key.eq(&key))
                .filter(console_users::disabled_at.is_null())
                .select(user_columns!())
                .first(conn)
                .optional()?;
            row.map(|r| {
                from_row(r).map(|(user, password_hash)| SignInCandidate {
                    user,
                    password_hash,
                })
            })
            .transpose()
        })
    }
}

impl Writer<'_> {
    /// Creates a user with an already hashed password ([`hash_password`]).
    pub fn create_console_user(
        &mut self,
        organization_id: i64,
        email: &str,
        role: Role,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<ConsoleUser> {
        let email = email.trim();
        if !valid_email(email) {
            return Err(StoreError::Invalid(InvalidKind::ConsoleUser {
                reason: "the e-mail must look like name@domain, without spaces",
            }));
        }
        let key = email_key(email);
        self.with(|conn| {
            crate::repo::orgs::load_org(conn, organization_id)?;
            let taken: Option<i64> = console_users::table
                .filter(console_users::organization_id.eq(organization_id))
                .filter(console_users::email_key.eq(&key))
                .select(console_users::id)
                .first(conn)
                .optional()?;
            if taken.is_some() {
                return Err(StoreError::Conflict(ConflictKind::ConsoleEmailTaken {
                    email: email.to_string(),
                }));
            }
            let row: Row = diesel::insert_into(console_users::table)
                .values((
                    console_users::organization_id.eq(organization_id),
                    console_users::email.eq(email),
                    console_users::email_key.eq(&key),
                    console_users::role.eq(role.as_str()),
                    console_users::password_hash.eq(password_hash),
                    console_users::created_at.eq(to_db(now)),
                ))
                .returning(user_columns!())
                .get_result(conn)?;
            from_row(row).map(|(u, _)| u)
        })
    }

    /// Sets a user's password hash ([`hash_password`]) and ends every session of theirs.
    pub fn set_console_password(
        &mut self,
        user_id: i64,
        password_hash: &str,
    ) -> StoreResult<ConsoleUser> {
        self.with(|conn| {
            let changed =
                diesel::update(console_users::table.filter(console_users::id.eq(user_id)))
                    .set(console_users::password_hash.eq(password_hash))
                    .execute(conn)?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    entity: Entity::ConsoleUser,
                    key: user_id.to_string(),
                });
            }
            delete_user_sessions(conn, user_id)?;
            let row: Row = console_users::table
                .filter(console_users::id.eq(user_id))
                .select(user_columns!())
                .first(conn)?;
            from_row(row).map(|(u, _)| u)
        })
    }

    /// Disables a user and ends every session of theirs. Disabling twice keeps the first time.
    pub fn disable_console_user(
        &mut self,
        user_id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<ConsoleUser> {
        self.with(|conn| {
            diesel::update(
                console_users::table
                    .filter(console_users::id.eq(user_id))
                    .filter(console_users::disabled_at.is_null()),
            )
            .set(console_users::disabled_at.eq(Some(to_db(now))))
            .execute(conn)?;
            delete_user_sessions(conn, user_id)?;
            let row: Option<Row> = console_users::table
                .filter(console_users::id.eq(user_id))
                .select(user_columns!())
                .first(conn)
                .optional()?;
            match row {
                Some(r) => from_row(r).map(|(u, _)| u),
                None => Err(StoreError::NotFound {
                    entity: Entity::ConsoleUser,
                    key: user_id.to_string(),
                }),
            }
        })
    }
}

crate::tx::store_reads! {
    fn console_users(&self, organization_id: i64) -> Vec<ConsoleUser>;
    fn console_sign_in_candidate(&self, organization_id: i64, email: &str)
        -> Option<SignInCandidate>;
}

crate::tx::store_writes_once! {
    fn create_console_user(
        &self,
        organization_id: i64,
        email: &str,
        role: Role,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> ConsoleUser;
    fn disable_console_user(&self, user_id: i64, now: OffsetDateTime) -> ConsoleUser;
    fn set_console_password(&self, user_id: i64, password_hash: &str) -> ConsoleUser;
}
