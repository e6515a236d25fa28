//! What a consistent store looks like, as pure judgements `billhub check` applies to stored rows:
//! a bill's status agrees with its amounts, and a stored date lies in the plausible range.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::bill::BillStatus;

/// The earliest plausible stored date (`2000-01-01T00:00:00Z`).
pub const EARLIEST_STORED: OffsetDateTime = datetime!(2000-01-01 0:00 UTC);

/// How far ahead of `now` a stored date may lie.
pub const STORED_AHEAD: Duration = Duration::days(1);

/// Whether a bill's stored status agrees with its amounts, as [`crate::bill::transition`] moves
/// them: never paid below zero nor above billed; `active` has nothing paid, `partially_paid` some
/// but not all, `paid` all of it; `expired` and `void` keep whatever was paid when they were
/// reached.
pub fn status_agrees(status: BillStatus, billed: i64, paid: i64) -> bool {
    if paid < 0 || paid > billed {
        return false;
    }
    match status {
        BillStatus::Active => paid == 0,
        BillStatus::PartiallyPaid => paid > 0 && paid < billed,
        BillStatus::Paid => paid == billed,
        BillStatus::Expired | BillStatus::Void => true,
    }
}

/// The latest plausible stored date at `now`: one day ahead (`None` when that does not exist).
pub fn latest_stored(now: OffsetDateTime) -> Option<OffsetDateTime> {
    now.checked_add(STORED_AHEAD)
}

/// Whether a stored date lies within [`EARLIEST_STORED`] ..= `now` + [`STORED_AHEAD`].
pub fn stored_date_plausible(at: OffsetDateTime, now: OffsetDateTime) -> bool {
    at >= EARLIEST_STORED && latest_stored(now).is_none_or(|latest| at <= latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use BillStatus::*;

    #[test]
    fn status_follows_amounts() {
        let table = [
            (Active, 100, 0, true),
            (Active, 100, 1, false),
            (PartiallyPaid, 100, 40, true),
            (PartiallyPaid, 100, 0, false),
            (PartiallyPaid, 100, 100, false),
            (Paid, 100, 100, true),
            (Paid, 100, 99, false),
            (Expired, 100, 30, true),
            (Void, 100, 0, true),
            (Void, 100, 101, false),
            (Active, 100, -1, false),
        ];
        for (status, billed, paid, agrees) in table {
            assert_eq!(
                status_agrees(status, billed, paid),
                agrees,
                "{status} {billed} {paid}"
            );
        }
    }

    #[test]
    fn stored_dates_from_2000_to_a_day_ahead() {
        let now = datetime!(2026-12-05 3:00 UTC);
        assert!(stored_date_plausible(EARLIEST_STORED, now));
        assert!(stored_date_plausible(now + Duration::days(1), now));
        assert!(!stored_date_plausible(
            now + Duration::days(1) + Duration::seconds(1),
            now
        ));
        assert!(!stored_date_plausible(
            datetime!(1999-12-31 23:59:59 UTC),
            now
        ));
    }
}
