//! Hostile input every dialect judges the same way: partner dates and text.
//!
//! - [`judge_date`] / [`judge_day`]: a date a partner sends is refused when it is before
//!   [`EARLIEST`] (2000-01-01) or more than [`AHEAD`] (one day) after `now`. A dialect refuses it
//!   as a validation error where the partner hears the refusal before money moves; in a
//!   notification of money already taken (Bill24's webhook) the gateway replaces it by the time of
//!   receipt and keeps the given text with the payment.
//! - [`check_text`] / [`nul_paths`]: text with NUL (`\u0000`) is refused; [`strip_nul`] removes it
//!   where the money is already taken.
//!
//! Nothing here panics on input: the bounds are compared, never computed from the partner's
//! value (whose offset may not even be representable in UTC).

use serde_json::Value;
use time::{Date, Duration, Month, OffsetDateTime};

/// The earliest partner date accepted: 2000-01-01 (at UTC midnight for a timestamp).
pub const EARLIEST: Date = match Date::from_calendar_date(2000, Month::January, 1) {
    Ok(d) => d,
    Err(_) => Date::MIN,
};

/// How far after `now` a partner date may lie.
pub const AHEAD: Duration = Duration::DAY;

/// Why a partner's date or text is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("the date is before 2000-01-01")]
    DateTooEarly,
    #[error("the date is more than one day in the future")]
    DateTooLate,
    #[error("the text contains a NUL character")]
    Nul,
}

fn latest(now: OffsetDateTime) -> OffsetDateTime {
    now.checked_add(AHEAD).unwrap_or(now)
}

/// Judges a partner's timestamp against `now`: it must lie in 2000-01-01 .. `now` + one day.
/// Comparison is by instant, so any offset (even one whose UTC value is out of range) is safe.
pub fn judge_date(at: OffsetDateTime, now: OffsetDateTime) -> Result<OffsetDateTime, InputError> {
    let earliest = EARLIEST.midnight().assume_utc();
    if at < earliest {
        Err(InputError::DateTooEarly)
    } else if at > latest(now) {
        Err(InputError::DateTooLate)
    } else {
        Ok(at)
    }
}

/// Judges a partner's calendar day (a bill date, a due date): not before 2000-01-01 and not
/// after the day that `now` + one day falls on, in any time zone (so the check never depends on
/// the offset the day is meant in).
pub fn judge_day(day: Date, now: OffsetDateTime) -> Result<Date, InputError> {
    let last = latest(now).date().next_day().unwrap_or(Date::MAX);
    if day < EARLIEST {
        Err(InputError::DateTooEarly)
    } else if day > last {
        Err(InputError::DateTooLate)
    } else {
        Ok(day)
    }
}

/// Refuses text with NUL in it.
pub fn check_text(text: &str) -> Result<(), InputError> {
    if text.contains('\0') {
        Err(InputError::Nul)
    } else {
        Ok(())
    }
}

/// The text without NUL (for a notification of money already taken).
pub fn strip_nul(text: &str) -> String {
    text.replace('\0', "")
}

/// The dotted paths (`a.b.0.c`) of every key or string in a JSON value that holds NUL, in
/// document order; empty when the value is clean. The root path is `prefix`.
pub fn nul_paths(value: &Value, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    walk(value, prefix, &mut found);
    found
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if check_text(s).is_err() {
                found.push(path.to_string());
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &join(path, &i.to_string()), found);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let key = join(path, &strip_nul(k));
                if check_text(k).is_err() {
                    found.push(key.clone());
                }
                walk(v, &key, found);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// A copy of a JSON value with NUL removed from every key and string.
pub fn strip_nul_value(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(strip_nul(s)),
        Value::Array(items) => Value::Array(items.iter().map(strip_nul_value).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (strip_nul(k), strip_nul_value(v)))
                .collect(),
        ),
        Value::Null | Value::Bool(_) | Value::Number(_) => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-05 03:00:00 UTC);

    #[test]
    fn dates_inside_the_window_pass() {
        for at in [
            datetime!(2000-01-01 00:00:00 UTC),
            datetime!(2000-01-01 07:00:00 +07:00),
            NOW,
            datetime!(2026-12-06 03:00:00 UTC),
        ] {
            assert_eq!(judge_date(at, NOW), Ok(at));
        }
    }

    #[test]
    fn dates_outside_the_window_are_refused_without_panicking() {
        let early = [
            datetime!(1999-12-31 23:59:59 UTC),
            datetime!(2000-01-01 06:59:59 +07:00),
            datetime!(-9999-01-01 00:00:00 +07:00),
        ];
        for at in early {
            assert_eq!(judge_date(at, NOW), Err(InputError::DateTooEarly));
        }
        let late = [
            datetime!(2026-12-06 03:00:01 UTC),
            datetime!(9999-12-31 23:59:59 -01:00),
            datetime!(9999-12-31 23:59:59 UTC),
        ];
        for at in late {
            assert_eq!(judge_date(at, NOW), Err(InputError::DateTooLate));
        }
    }

    #[test]
    fn days_are_judged_by_calendar() {
        assert!(judge_day(EARLIEST, NOW).is_ok());
        assert!(judge_day(time::macros::date!(2026 - 12 - 07), NOW).is_ok());
        assert_eq!(
            judge_day(time::macros::date!(1999 - 12 - 31), NOW),
            Err(InputError::DateTooEarly)
        );
        assert_eq!(
            judge_day(time::macros::date!(2026 - 12 - 08), NOW),
            Err(InputError::DateTooLate)
        );
        assert_eq!(judge_day(Date::MIN, NOW), Err(InputError::DateTooEarly));
        assert_eq!(judge_day(Date::MAX, NOW), Err(InputError::DateTooLate));
    }

    #[test]
    fn a_clock_at_the_end_of_time_does_not_panic() {
        let end = Date::MAX.with_hms(23, 59, 59).map(|d| d.assume_utc());
        let Ok(end) = end else { return };
        assert_eq!(judge_date(end, end), Ok(end));
        assert_eq!(judge_day(Date::MAX, end), Ok(Date::MAX));
    }

    #[test]
    fn nul_is_found_in_any_string_or_key() {
        assert_eq!(check_text("a\u{0}b"), Err(InputError::Nul));
        assert_eq!(check_text("tab\t and \u{1} pass"), Ok(()));
        let v = json!({"a": "x", "b": {"c": ["ok", "n\u{0}"]}, "k\u{0}": 1});
        assert_eq!(nul_paths(&v, ""), vec!["b.c.1", "k"]);
        assert!(nul_paths(&json!({"a": [1, "b"]}), "").is_empty());
        assert_eq!(
            strip_nul_value(&v),
            json!({"a": "x", "b": {"c": ["ok", "n"]}, "k": 1})
        );
    }
}
