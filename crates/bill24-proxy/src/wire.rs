//! Bill24's response shapes, spelled exactly as Bill24 spells them, and Bill24's date formats.
//! The requests are read in [`crate::requests`].

use serde::Serialize;
use serde_json::Number;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

// ---------------------------------------------------------------------------------------------
// Responses

/// The Merchant Proxy envelope of `/proxy` and `/pending_bills` (and of every HTTP-level error:
/// then `code` is the HTTP status and `data` is null).
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    pub code: u16,
    pub message: String,
    pub message_kh: String,
    pub data: Option<T>,
}

/// `data` of a successful `/proxy` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyData {
    pub consumer_code: String,
    pub consumer_name: String,
    pub consumer_name_latin: String,
    pub phone: String,
    #[schema(schema_with = crate::openapi::currency)]
    pub currency: String,
    /// What is outstanding now.
    #[schema(schema_with = crate::openapi::money)]
    pub due_amount: Number,
    /// The smallest payment; `-1`: no lower bound.
    #[schema(schema_with = crate::openapi::bound)]
    pub min_amount: Number,
    /// The largest payment; `-1`: no upper bound.
    #[schema(schema_with = crate::openapi::bound)]
    pub max_amount: Number,
    /// The account's credit in this currency.
    #[schema(schema_with = crate::openapi::money)]
    pub balance: Number,
    pub description: String,
    /// The shown bill's bill date, `00:00:00`.
    #[schema(schema_with = crate::openapi::proxy_datetime)]
    pub last_bill_date: String,
    /// The shown bill's due date at its last second, else its valid-until, else `""`.
    #[schema(schema_with = crate::openapi::proxy_datetime)]
    pub last_due_date: String,
    /// When the newest payment that is not reversed was made, else `""`.
    #[schema(schema_with = crate::openapi::proxy_datetime)]
    pub last_pay_date: String,
}

/// `data` of a successful `/pending_bills` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingBillsData {
    /// The amount due before the oldest listed line.
    #[schema(schema_with = crate::openapi::money)]
    pub opening_balance: Number,
    pub pending_bills: Vec<PendingBill>,
}

/// One statement line, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingBill {
    /// `dd/MM/yyyy`.
    #[schema(schema_with = crate::openapi::statement_date)]
    pub date: String,
    /// Bills and reversals positive, payments negative.
    #[schema(schema_with = crate::openapi::money)]
    pub amount: Number,
    /// The amount due after this line.
    #[schema(schema_with = crate::openapi::money)]
    pub balance: Number,
    /// The hosted bill page (`/b/{public number}`) or a receipt (`/r/{payment uuid}`).
    #[schema(format = "uri")]
    pub digital_bill_url: String,
}

/// The biller's answer to a webhook delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookReply {
    /// `Success` or `Error`.
    #[schema(schema_with = crate::openapi::webhook_status)]
    pub status: &'static str,
    pub message: String,
}

/// A JSON number for "no bound" (`min_amount`/`max_amount`).
pub fn unbounded() -> Number {
    Number::from(-1)
}

// ---------------------------------------------------------------------------------------------
// Dates

/// `yyyy-M-d HH:mm:ss` (month and day without zero padding, as in Bill24's example `2024-2-29
/// 10:46:33`).
pub fn proxy_datetime(date: Date, time: Time) -> String {
    format!(
        "{}-{}-{} {:02}:{:02}:{:02}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// An instant in the organization's offset, `yyyy-M-d HH:mm:ss`.
pub fn proxy_instant(at: OffsetDateTime, offset: UtcOffset) -> String {
    // Checked: a stored instant at an end of the range may have no local form (then UTC).
    let local = at.checked_to_offset(offset).unwrap_or(at);
    proxy_datetime(local.date(), local.time())
}

/// `dd/MM/yyyy`.
pub fn statement_date(date: Date) -> String {
    format!(
        "{:02}/{:02}/{:04}",
        date.day(),
        u8::from(date.month()),
        date.year()
    )
}

/// A trailing zone: `Z` or `+07:00` (`None` inside: no zone); `None` when the zone is malformed.
fn split_zone(t: &str) -> Option<(&str, Option<UtcOffset>)> {
    if let Some(b) = t.strip_suffix('Z').or_else(|| t.strip_suffix('z')) {
        return Some((b, Some(UtcOffset::UTC)));
    }
    let bytes = t.as_bytes();
    let sign = t.len().checked_sub(6).and_then(|i| bytes.get(i));
    let colon = t.len().checked_sub(3).and_then(|i| bytes.get(i));
    if t.len() > 6 && matches!(sign, Some(b'+' | b'-')) && colon == Some(&b':') {
        let (b, z) = t.split_at(t.len() - 6);
        return Some((b, Some(billhub_core::org::parse_offset(z).ok()?)));
    }
    Some((t, None))
}

/// One to four ASCII digits.
fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        None
    } else {
        s.parse().ok()
    }
}

/// `yyyy-M-d` (zero padding optional).
fn parse_date(text: &str) -> Option<Date> {
    let d: Vec<&str> = text.split('-').collect();
    let [y, m, day] = d.as_slice() else {
        return None;
    };
    let year = i32::try_from(num(y)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(m)?).ok()?).ok()?;
    let day = u8::try_from(num(day)?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// `HH:mm[:ss][.fraction]`.
fn parse_time(text: &str) -> Option<Time> {
    let (hms, frac) = match text.split_once('.') {
        Some((a, b)) => (a, b),
        None => (text, ""),
    };
    let h: Vec<&str> = hms.split(':').collect();
    let (hour, minute, second) = match h.as_slice() {
        [hh, mm] => (hh, mm, None),
        [hh, mm, ss] => (hh, mm, Some(ss)),
        _ => return None,
    };
    let hour = u8::try_from(num(hour)?).ok()?;
    let minute = u8::try_from(num(minute)?).ok()?;
    let second = match second {
        Some(s) => u8::try_from(num(s)?).ok()?,
        None => 0,
    };
    let nanos = if frac.is_empty() {
        0
    } else {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        format!("{frac:0<9}").parse::<u32>().ok()?
    };
    Time::from_hms_nano(hour, minute, second, nanos).ok()
}

/// Reads Bill24's transaction dates: `2024-11-29T16:58:16.727168`, `2024-02-29 10:46:33`,
/// `2024-2-29 10:46:33`, optionally with `Z` or `+07:00`. Without a zone the time is in
/// `offset` (the organization's).
pub fn parse_transaction_date(text: &str, offset: UtcOffset) -> Option<OffsetDateTime> {
    let (body, zone) = split_zone(text.trim())?;
    let (date_part, time_part) = body.split_once(['T', ' '])?;
    let date = parse_date(date_part)?;
    let time = parse_time(time_part)?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(zone.unwrap_or(offset)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, offset, time};

    #[test]
    fn dates() {
        assert_eq!(
            proxy_datetime(date!(2024 - 02 - 29), time!(10:46:33)),
            "2024-2-29 10:46:33"
        );
        assert_eq!(
            proxy_instant(datetime!(2024-02-29 03:46:33 UTC), offset!(+7)),
            "2024-2-29 10:46:33"
        );
        assert_eq!(statement_date(date!(2025 - 09 - 01)), "01/09/2025");
        let o = offset!(+7);
        assert_eq!(
            parse_transaction_date("2024-11-29T16:58:16.727168", o),
            Some(datetime!(2024-11-29 16:58:16.727168 +7))
        );
        assert_eq!(
            parse_transaction_date("2024-02-29 10:46:33", o),
            Some(datetime!(2024-02-29 10:46:33 +7))
        );
        assert_eq!(
            parse_transaction_date("2024-2-9 10:46:33", o),
            Some(datetime!(2024-02-09 10:46:33 +7))
        );
        assert_eq!(
            parse_transaction_date("2024-02-29T03:46:33Z", o),
            Some(datetime!(2024-02-29 03:46:33 UTC))
        );
        assert_eq!(
            parse_transaction_date("2024-02-29T10:46:33+07:00", offset!(UTC)),
            Some(datetime!(2024-02-29 10:46:33 +7))
        );
        assert_eq!(parse_transaction_date("yesterday", o), None);
        assert_eq!(parse_transaction_date("2024-02-30 10:00:00", o), None);
    }
}
