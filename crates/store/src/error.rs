//! The store's one error type.
//!
//! Which variant to use where:
//! - a refusal decided by core's rules is [`StoreError::Rejected`], carrying the core
//!   [`Rejection`]; gateways map that one enum to their codes;
//! - what the caller asked for does not exist: [`StoreError::NotFound`] with the [`Entity`] and the
//!   key it was looked up by;
//! - a uniqueness rule would be broken: [`StoreError::Conflict`] with a [`ConflictKind`];
//! - input only the store can judge (an account of another organization, a VA number that is not
//!   the organization's): [`StoreError::Invalid`] with an [`InvalidKind`];
//! - everything else (the database, the pool, a corrupt row, too many lost races) is internal: a
//!   gateway logs it with its cause (`#[source]` chains reach the log) and answers its generic
//!   "system error" code.
//!
//! Gateways never build a `StoreError` and never match its payloads: they use the accessors
//! ([`StoreError::rejection`], [`StoreError::is_not_found`], [`StoreError::conflict`],
//! [`StoreError::invalid`], [`StoreError::is_unavailable`]). Diesel's errors stay inside this crate
//! ([`DbError`] is opaque).

use std::fmt;

use billhub_core::Rejection;
use billhub_core::bill::TransitionError;
use billhub_core::org::SettingError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::secrets::SecretError;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Core refused the operation; nothing was changed.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    #[error("{entity} {key} not found")]
    NotFound { entity: Entity, key: String },
    /// A uniqueness rule would be broken.
    #[error("conflict: {0}")]
    Conflict(ConflictKind),
    /// The caller's input is invalid in a way only the store can tell.
    #[error("invalid: {0}")]
    Invalid(InvalidKind),
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("connection pool")]
    Pool(#[source] r2d2::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database")]
    Database(#[source] DbError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A stored row no longer makes sense (unknown currency, bad status...).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A row changed under a decision (its version moved on): the transaction is run again.
    #[error("{entity} {id} changed concurrently")]
    RaceLost { entity: Entity, id: i64 },
    /// Too many lost races in a row, or no free generated code; the caller may retry later.
    #[error("busy: {0}")]
    Busy(String),
}

/// What was looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Organization,
    Account,
    Bill,
    Payment,
    UnappliedPayment,
    Credential,
    CredentialSecret,
    Channel,
    Collection,
    Product,
    PostpaidCode,
    NotificationEvent,
    ConsoleUser,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Organization => "organization",
            Entity::Account => "account",
            Entity::Bill => "bill",
            Entity::Payment => "payment",
            Entity::UnappliedPayment => "unapplied payment",
            Entity::Credential => "credential",
            Entity::CredentialSecret => "secret of credential",
            Entity::Channel => "channel",
            Entity::Collection => "collection",
            Entity::Product => "product",
            Entity::PostpaidCode => "postpaid code",
            Entity::NotificationEvent => "notification event",
            Entity::ConsoleUser => "console user",
        })
    }
}

/// Which uniqueness rule a write would break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConflictKind {
    #[error("VA number {number} is held by a bill that is still payable")]
    VaNumberInUse { number: String },
    #[error("VA prefix {prefix} already belongs to this organization")]
    VaPrefixOwnedHere { prefix: String },
    #[error("VA prefix {prefix} belongs to another organization")]
    VaPrefixOwnedElsewhere { prefix: String },
    #[error("organization code {code} is taken")]
    OrganizationCodeTaken { code: String },
    #[error("unapplied payment {id} is already {status}")]
    AlreadyResolved { id: i64, status: String },
    #[error("a payment under {channel} {reference} already exists")]
    ReferenceTaken { channel: String, reference: String },
    #[error("a console user with e-mail {email} already exists in this organization")]
    ConsoleEmailTaken { email: String },
}

/// Why the store refuses input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKind {
    #[error("account code must be 1 to 64 characters")]
    AccountCode,
    #[error("billed amount must not be negative")]
    NegativeBilled,
    #[error("billed amount is not the sum of the items")]
    ItemsTotal,
    #[error("account belongs to another organization")]
    AccountOfAnotherOrganization,
    #[error("the target belongs to another account")]
    TargetOfAnotherAccount,
    #[error("prefix {prefix} is not one of the organization's VA prefixes")]
    VaPrefixNotOwned { prefix: String },
    #[error("VA number `{number}` must be exactly 10 digits")]
    VaNumberFormat { number: String },
    #[error("VA prefix `{prefix}` must be exactly 6 digits")]
    VaPrefixFormat { prefix: String },
    #[error("organization code `{code}` must be 3 to 32 letters, digits, '-' or '_'")]
    OrganizationCode { code: String },
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("locale `{locale}` must be one of en, km, ms, id")]
    Locale { locale: String },
    #[error("dialect `{dialect}` must be one of {allowed}")]
    Dialect {
        dialect: String,
        allowed: &'static str,
    },
    #[error("channel and channel reference are required")]
    MissingReference,
    #[error("say how the money was refunded (a note)")]
    MissingNote,
    #[error("unapplied payment {id} has no organization")]
    NoOrganization { id: i64 },
    #[error("console user: {reason}")]
    ConsoleUser { reason: &'static str },
    #[error("credit cannot become unapplied")]
    CreditUnapplied,
    /// A timestamp whose UTC form cannot be represented.
    #[error("timestamp {value} is out of range")]
    Timestamp { value: String },
    #[error(transparent)]
    Money(#[from] billhub_core::MoneyError),
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
}

/// A database error, opaque outside the store (its text and source chain reach the logs).
#[derive(Debug)]
pub struct DbError(pub(crate) DieselError);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        StoreError::Database(DbError(e))
    }
}

impl From<Rejection> for StoreError {
    fn from(r: Rejection) -> Self {
        StoreError::Rejected(r)
    }
}

impl From<billhub_core::MoneyError> for StoreError {
    fn from(e: billhub_core::MoneyError) -> Self {
        StoreError::Invalid(InvalidKind::Money(e))
    }
}

impl From<SettingError> for StoreError {
    fn from(e: SettingError) -> Self {
        StoreError::Invalid(InvalidKind::Setting(e))
    }
}

impl From<InvalidKind> for StoreError {
    fn from(k: InvalidKind) -> Self {
        StoreError::Invalid(k)
    }
}

impl From<ConflictKind> for StoreError {
    fn from(k: ConflictKind) -> Self {
        StoreError::Conflict(k)
    }
}

impl StoreError {
    pub(crate) fn not_found(entity: Entity, key: impl fmt::Display) -> StoreError {
        StoreError::NotFound {
            entity,
            key: key.to_string(),
        }
    }

    /// The core refusal this error carries, if it is one.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            StoreError::Rejected(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the thing looked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    /// A uniqueness conflict (a code or number already taken), described for the caller.
    pub fn conflict(&self) -> Option<String> {
        match self {
            StoreError::Conflict(k) => Some(k.to_string()),
            _ => None,
        }
    }

    /// The conflict's kind.
    pub fn conflict_kind(&self) -> Option<&ConflictKind> {
        match self {
            StoreError::Conflict(k) => Some(k),
            _ => None,
        }
    }

    /// Input only the store could tell was invalid, described for the caller.
    pub fn invalid(&self) -> Option<String> {
        match self {
            StoreError::Invalid(k) => Some(k.to_string()),
            _ => None,
        }
    }

    /// The invalid input's kind.
    pub fn invalid_kind(&self) -> Option<&InvalidKind> {
        match self {
            StoreError::Invalid(k) => Some(k),
            _ => None,
        }
    }

    /// The database cannot be reached or is saturated (pool timeout, connection refused, too
    /// many lost races): the caller may try again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Pool(_)
            | StoreError::Connect(_)
            | StoreError::Busy(_)
            | StoreError::RaceLost { .. } => true,
            StoreError::Database(DbError(e)) => is_connection_error(e),
            _ => false,
        }
    }

    /// Whether this is a transient error worth running the whole write transaction again for.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(DbError(DieselError::DatabaseError(kind, info))) => {
                matches!(
                    kind,
                    DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::SerializationFailure
                ) || info.message().contains("database is locked")
                    || info.message().contains("deadlock")
            }
            StoreError::RaceLost { .. } => true,
            _ => false,
        }
    }

    /// Whether the connection itself failed (closed by the server, network gone): the
    /// transaction may be run again once on a fresh connection when nothing had succeeded yet.
    pub(crate) fn is_connection_failure(&self) -> bool {
        matches!(self, StoreError::Database(DbError(e)) if is_connection_error(e))
    }
}

fn is_connection_error(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let m = info.message();
            m.contains("server closed the connection")
                || m.contains("terminating connection")
                || m.contains("connection to server")
                || m.contains("no connection to the server")
                || m.contains("could not receive data")
                || m.contains("could not send data")
                || m.contains("SSL connection has been closed")
        }
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}

/// The error type of a flow run in one store transaction: the store's own error, or a
/// gateway's error type that can wrap one. [`crate::Store::transaction`] asks it whether a
/// failure was a lost race (run again) and [`crate::Store::snapshot`] whether the connection
/// failed (run again once on a fresh connection).
pub trait TxError: From<StoreError> {
    /// The store error this error wraps, if any.
    fn store_error(&self) -> Option<&StoreError>;
}

impl TxError for StoreError {
    fn store_error(&self) -> Option<&StoreError> {
        Some(self)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
