//! Timestamps are stored as UTC `TIMESTAMP` (diesel `PrimitiveDateTime`) on both backends.
//!
//! Every conversion is checked: a value whose UTC (or local) form lies outside what `time` can
//! represent (e.g. `-9999-01-01 00:00:00+07:00`, `9999-12-31T23:59:59-01:00`) never panics.
//! [`try_to_db`] refuses it with [`InvalidKind::Timestamp`]; [`to_db`], kept for values the store
//! makes itself (`now`, `now + ttl`), saturates at the representable ends instead; [`local`] and
//! [`local_date`] fall back to UTC when the local form does not exist.

use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::error::{InvalidKind, StoreError};

fn utc_primitive(utc: OffsetDateTime) -> PrimitiveDateTime {
    // Truncated to microseconds (PostgreSQL's precision), so a value reads back equal on both
    // backends.
    let utc = utc.replace_microsecond(utc.microsecond()).unwrap_or(utc);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

/// To the database: UTC, without offset, truncated to microseconds; refused when its UTC form
/// cannot be represented.
pub fn try_to_db(t: OffsetDateTime) -> Result<PrimitiveDateTime, StoreError> {
    t.checked_to_offset(UtcOffset::UTC)
        .map(utc_primitive)
        .ok_or_else(|| {
            StoreError::Invalid(InvalidKind::Timestamp {
                value: t.to_string(),
            })
        })
}

/// To the database, for timestamps the store computes itself: as [`try_to_db`], but a value
/// whose UTC form is out of range saturates to the first or last representable instant instead
/// of panicking.
pub fn to_db(t: OffsetDateTime) -> PrimitiveDateTime {
    match t.checked_to_offset(UtcOffset::UTC) {
        Some(utc) => utc_primitive(utc),
        // Only an instant near an end of the range with an offset pushing it past that end.
        None if t.year() < 0 => PrimitiveDateTime::MIN,
        None => PrimitiveDateTime::MAX,
    }
}

/// From the database.
pub fn from_db(t: PrimitiveDateTime) -> OffsetDateTime {
    t.assume_utc()
}

/// `t` at `offset`, or `t` itself when its local form cannot be represented (a stored
/// `9999-12-31T23:59:59Z` at +07:00).
pub fn local(t: OffsetDateTime, offset: UtcOffset) -> OffsetDateTime {
    t.checked_to_offset(offset).unwrap_or(t)
}

/// The local calendar day of `t` at `offset` (see [`local`]).
pub fn local_date(t: OffsetDateTime, offset: UtcOffset) -> Date {
    local(t, offset).date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn ordinary_values_round_trip_truncated_to_microseconds() {
        let t = datetime!(2026-12-05 10:00:00.123456789 +07:00);
        let db = try_to_db(t).unwrap();
        assert_eq!(db, datetime!(2026-12-05 03:00:00.123456));
        assert_eq!(to_db(t), db);
        assert_eq!(from_db(db), datetime!(2026-12-05 03:00:00.123456 UTC));
    }

    #[test]
    fn values_beyond_the_range_are_refused_not_panicking() {
        for t in [
            datetime!(-9999-01-01 00:00:00 +07:00),
            datetime!(9999-12-31 23:59:59 -01:00),
        ] {
            match try_to_db(t) {
                Err(StoreError::Invalid(InvalidKind::Timestamp { value })) => {
                    assert_eq!(value, t.to_string());
                }
                other => panic!("{t}: {other:?}"),
            }
        }
        assert_eq!(
            to_db(datetime!(-9999-01-01 00:00:00 +07:00)),
            PrimitiveDateTime::MIN
        );
        assert_eq!(
            to_db(datetime!(9999-12-31 23:59:59 -01:00)),
            PrimitiveDateTime::MAX
        );
    }

    #[test]
    fn the_edges_themselves_are_kept() {
        let last = datetime!(9999-12-31 23:59:59 UTC);
        assert_eq!(try_to_db(last).unwrap(), datetime!(9999-12-31 23:59:59));
        let first = datetime!(-9999-01-01 00:00:00 UTC);
        assert_eq!(try_to_db(first).unwrap(), datetime!(-9999-01-01 00:00:00));
    }

    #[test]
    fn local_forms_fall_back_to_utc_out_of_range() {
        let stored = datetime!(9999-12-31 23:59:59 UTC);
        assert_eq!(local(stored, offset!(+7)), stored);
        assert_eq!(
            local_date(stored, offset!(+7)),
            time::macros::date!(9999 - 12 - 31)
        );
        let t = datetime!(2026-12-05 20:00:00 UTC);
        assert_eq!(
            local_date(t, offset!(+7)),
            time::macros::date!(2026 - 12 - 06)
        );
    }
}
