//! Timestamps are stored as UTC `TIMESTAMP` (diesel `PrimitiveDateTime`) on both backends.

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// To the database: UTC, without offset, truncated to microseconds (PostgreSQL's precision), so
/// a value reads back equal on both backends.
pub fn to_db(t: OffsetDateTime) -> PrimitiveDateTime {
    let utc = t.to_offset(UtcOffset::UTC);
    let micros = utc.microsecond();
    let utc = utc.replace_microsecond(micros).unwrap_or(utc);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

/// From the database.
pub fn from_db(t: PrimitiveDateTime) -> OffsetDateTime {
    t.assume_utc()
}
