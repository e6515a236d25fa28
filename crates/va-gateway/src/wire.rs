//! The dialect's JSON, spelled as IPG spells it, and the translation of store values into it.
//!
//! Amounts are IDR JSON numbers without a needless fraction (`100000`); a component's `qty`,
//! `price` and `total` are strings (`"1"`, `"100000"`). Timestamps are ISO 8601 with the
//! organization's offset (`2022-04-04T11:46:56+07:00`).

use billhub_core::{BillStatus, Money, PaymentRule};
use billhub_http::json::money_number;
use billhub_store::repo::va::{VaBill, VaPaymentRow};
use serde::Serialize;
use serde_json::Number;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The offset used when no organization is in context (a bank's refused request): WIB.
pub const DEFAULT_OFFSET: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

const ISO: &[BorrowedFormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
);
const LOCAL: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// `2022-04-04T11:46:56+07:00`.
pub fn iso(t: OffsetDateTime, offset: UtcOffset) -> String {
    billhub_store::local(t, offset)
        .format(ISO)
        .unwrap_or_else(|_| t.to_string())
}

/// The forms of an ISO 8601 date with an offset that clients write besides RFC 3339: PHP's
/// `DATE_ISO8601` (`2022-04-04T11:46:56+0700`, its offset without a colon), and either offset
/// form without seconds (`2022-04-04T11:46+07:00`, `2022-04-04T11:46+0700`). Fractional seconds
/// may follow the seconds in each. (`Z` is read as `+00:00` first.)
const ISO_FORMS: [&[BorrowedFormatItem<'static>]; 2] = [
    format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory][optional [:]][offset_minute]"
    ),
    format_description!(
        "[year]-[month]-[day]T[hour]:[minute][offset_hour sign:mandatory][optional [:]][offset_minute]"
    ),
];

/// The channel's local times: `Y-m-d H:i:s`, and `Y-m-d H:i` (seconds 0).
const LOCAL_FORMS: [&[BorrowedFormatItem<'static>]; 2] = [
    LOCAL,
    format_description!("[year]-[month]-[day] [hour]:[minute]"),
];

/// Parses an ISO 8601 timestamp with an offset: RFC 3339 (`2022-04-04T11:46:56+07:00`, `...Z`,
/// with or without fractional seconds), PHP's `DATE_ISO8601` (`2022-04-04T11:46:56+0700`), or
/// either without seconds (`2022-04-04T11:46+07:00`, `2022-04-04T11:46+0700`, `2022-04-04T11:46Z`).
pub fn parse_iso(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    let zulu = text
        .strip_suffix(['Z', 'z'])
        .map(|rest| format!("{rest}+00:00"));
    let text = zulu.as_deref().unwrap_or(text);
    ISO_FORMS
        .iter()
        .find_map(|form| OffsetDateTime::parse(text, form).ok())
}

/// Parses the channel's `Y-m-d H:i:s` (or `Y-m-d H:i`) local time in `offset`.
pub fn parse_local(text: &str, offset: UtcOffset) -> Option<OffsetDateTime> {
    let text = text.trim();
    LOCAL_FORMS
        .iter()
        .find_map(|form| PrimitiveDateTime::parse(text, form).ok())
        .map(|t| t.assume_offset(offset))
}

/// The envelope of every answer but `/oauth/token`.
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    pub rc: &'static str,
    pub message: String,
    pub timestamp: String,
    pub data: T,
}

/// A bill component.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// The line's uuid.
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// The quantity, a decimal string (`"1"`, `"1.5"`).
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$", example = "1")]
    pub qty: String,
    /// The unit price in IDR, a decimal string (`"100000"`, `"150000.5"`).
    #[schema(pattern = r"^[0-9]+(\.[0-9]{1,2})?$", example = "100000")]
    pub price: String,
    /// `qty` x `price` in IDR, a decimal string.
    #[schema(pattern = r"^[0-9]+(\.[0-9]{1,2})?$", example = "100000")]
    pub total: String,
}

/// The Bill model.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Bill)]
pub struct BillData {
    /// The bill's public number (also the hosted bill page's id); used in paths.
    #[schema(example = "x24da1dF")]
    pub hash: String,
    /// The first VA prefix followed by the 10-digit number (16 digits).
    #[schema(required = true, example = "0099021234567890")]
    pub va_number: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = crate::openapi::BillType)]
    pub kind: &'static str,
    pub invoice_number: String,
    pub name: String,
    pub customer_name: String,
    #[schema(required = true)]
    pub customer_email: Option<String>,
    #[schema(required = true)]
    pub customer_phone: Option<String>,
    #[schema(required = true)]
    pub customer_address: Option<String>,
    /// The billed amount (IDR).
    #[schema(schema_with = crate::openapi::idr_number)]
    pub total_amount: Number,
    /// The billed amount (IDR), the same as `total_amount`.
    #[schema(schema_with = crate::openapi::idr_number)]
    pub billed_amount: Number,
    /// What has been paid (IDR).
    #[schema(schema_with = crate::openapi::idr_number)]
    pub paid_amount: Number,
    #[schema(required = true)]
    pub description: Option<String>,
    #[schema(required = true)]
    pub ext_description: Option<String>,
    /// The same instant as `valid_until`; null when there is none.
    #[schema(required = true, format = DateTime)]
    pub due_date: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub valid_until: Option<String>,
    #[schema(value_type = crate::openapi::BillStatus)]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub components: Vec<Component>,
    /// Only on a payment, reversal or mock answer: the payment just made (or replayed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PaymentData>, nullable = false)]
    pub payment: Option<Box<PaymentData>>,
}

/// The Payment model (a payment or a reversal on a bill).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Payment)]
pub struct PaymentData {
    /// The payment's uuid; a reversal row has its own stable uuid.
    #[schema(format = Uuid)]
    pub id: String,
    /// The bank's `ref_id` (for a reversal row, the reversed payment's).
    pub payment_ref_id: String,
    /// The bank's registered name, or `sandbox`, `bill24`, `cli`, ... for other channels.
    pub channel: String,
    #[schema(schema_with = crate::openapi::idr_number)]
    pub amount: Number,
    #[serde(rename = "type")]
    #[schema(value_type = crate::openapi::PaymentType)]
    pub kind: &'static str,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The institution's settlement account; billhub does not settle, so always null.
    #[schema(schema_with = crate::openapi::null, required = true)]
    pub account: Option<serde_json::Value>,
    /// Only in the payment list: the bill as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BillData>, nullable = false, no_recursion)]
    pub bill: Option<BillData>,
}

/// Laravel's paginator, without the URL fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Paginated<T: Serialize> {
    #[schema(minimum = 1)]
    pub current_page: i64,
    pub data: Vec<T>,
    /// The first row's position (1-based); null on an empty page.
    #[schema(required = true, minimum = 1)]
    pub from: Option<i64>,
    #[schema(minimum = 1)]
    pub last_page: i64,
    /// Rows per page (15).
    #[schema(example = 15)]
    pub per_page: i64,
    /// The last row's position; null on an empty page.
    #[schema(required = true, minimum = 1)]
    pub to: Option<i64>,
    #[schema(minimum = 0)]
    pub total: i64,
}

impl<T: Serialize> Paginated<T> {
    pub fn new(page: i64, per_page: i64, total: i64, data: Vec<T>) -> Paginated<T> {
        let n = data.len() as i64;
        let first = (page - 1) * per_page + 1;
        Paginated {
            current_page: page,
            from: (n > 0).then_some(first),
            to: (n > 0).then_some(first + n - 1),
            last_page: ((total + per_page - 1) / per_page).max(1),
            per_page,
            total,
            data,
        }
    }
}

/// Passport's token answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Token {
    #[schema(value_type = crate::openapi::TokenType)]
    pub token_type: &'static str,
    /// Seconds until the token expires (3600).
    #[schema(example = 3600)]
    pub expires_in: i64,
    pub access_token: String,
}

/// The OAuth2 error shape (league/oauth2-server as Passport sends it).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthError {
    #[schema(value_type = crate::openapi::OAuthErrorCode)]
    pub error: &'static str,
    pub error_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub hint: Option<String>,
    /// The same text as `error_description`.
    pub message: String,
}

/// The webhook body.
#[derive(Debug, Serialize)]
pub struct Webhook<'a> {
    pub event: &'a str,
    pub context: &'a BillData,
}

/// The dialect's `type` of a payment rule.
pub fn type_of(rule: PaymentRule) -> &'static str {
    match rule {
        PaymentRule::Exact => "close",
        PaymentRule::Partial { .. } => "partial",
        PaymentRule::Open => "open",
    }
}

/// The payment rule of a dialect `type`.
pub fn rule_of(kind: &str) -> Option<PaymentRule> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "close" => Some(PaymentRule::Exact),
        "partial" => Some(PaymentRule::Partial { minimum: None }),
        "open" => Some(PaymentRule::Open),
        _ => None,
    }
}

/// The dialect's status label: `active` (also while partially paid), `paid`, `void`,
/// `expired`, and `reversal` while the bill is payable and its latest payment event is a
/// reversal.
pub fn status_label(status: BillStatus, reversal_last: bool) -> &'static str {
    match status {
        BillStatus::Active | BillStatus::PartiallyPaid if reversal_last => "reversal",
        BillStatus::Active | BillStatus::PartiallyPaid => "active",
        BillStatus::Paid => "paid",
        BillStatus::Void => "void",
        BillStatus::Expired => "expired",
    }
}

/// The VA presentation fields kept in `bills.extra` under `"va"`.
fn extra_str(extra: &serde_json::Value, key: &str) -> Option<String> {
    extra
        .get("va")
        .and_then(|v| v.get(key))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A bill as the dialect shows it, at `now` (status evaluated then).
pub fn bill_data(v: &VaBill, offset: UtcOffset, now: OffsetDateTime) -> BillData {
    bill_data_as(
        v,
        offset,
        v.bill.status_at(now),
        v.reversal_last,
        v.bill.paid,
    )
}

/// A bill with its status and paid amount as they were right after an event (webhooks,
/// replayed answers).
pub fn bill_data_as(
    v: &VaBill,
    offset: UtcOffset,
    status: BillStatus,
    reversal_last: bool,
    paid: i64,
) -> BillData {
    let b = &v.bill;
    let extra: serde_json::Value =
        serde_json::from_str(&v.extra).unwrap_or(serde_json::Value::Null);
    let has_va = extra.get("va").is_some();
    let pick = |key: &str, fallback: &str| -> Option<String> {
        if has_va {
            extra_str(&extra, key).and_then(|s| non_empty(&s))
        } else {
            non_empty(fallback)
        }
    };
    let account_name = if v.account.name.is_empty() {
        &v.account.name_latin
    } else {
        &v.account.name
    };
    let customer_name = pick("customer_name", account_name).unwrap_or_default();
    let money = |minor: i64| money_number(Money::from_minor(minor, b.currency));
    let plain = |minor: i64| Money::from_minor(minor, b.currency).to_plain_string();
    let due_date = match (b.valid_until, b.due_date) {
        (Some(v), _) => Some(iso(v, offset)),
        (None, Some(d)) => Some(iso(
            PrimitiveDateTime::new(d, time::Time::MIDNIGHT).assume_offset(offset),
            offset,
        )),
        (None, None) => None,
    };
    BillData {
        hash: b.public_no.clone(),
        va_number: v.va_numbers.first().map(|n| n.number.clone()),
        kind: type_of(b.rule),
        invoice_number: b.invoice_number.clone(),
        name: b.name.clone(),
        customer_name,
        customer_email: pick("customer_email", &v.account.email),
        customer_phone: pick("customer_phone", &v.account.phone),
        customer_address: pick("customer_address", &v.account.address),
        total_amount: money(b.billed),
        billed_amount: money(b.billed),
        paid_amount: money(paid),
        description: non_empty(&b.description),
        ext_description: extra_str(&extra, "ext_description").and_then(|s| non_empty(&s)),
        due_date,
        valid_until: b.valid_until.map(|t| iso(t, offset)),
        status: status_label(status, reversal_last),
        created_at: iso(b.created_at, offset),
        components: v
            .items
            .iter()
            .map(|i| Component {
                id: i.uid.clone(),
                name: i.name.clone(),
                qty: i.quantity.normalize().to_string(),
                price: plain(i.unit_price),
                total: plain(i.total),
            })
            .collect(),
        payment: None,
    }
}

/// A deterministic uuid for a reversal row (a reversal has no uid of its own): the payment's
/// uid hashed with a label, formatted as a version-4-style uuid.
fn reversal_uid(payment_uid: &str) -> String {
    let digest = billhub_core::signature::sha256_hex(format!("reversal:{payment_uid}").as_bytes());
    let mut bytes = [0u8; 16];
    if let Ok(raw) = hex::decode(digest.get(..32).unwrap_or_default()) {
        bytes.copy_from_slice(raw.get(..16).unwrap_or(&[0u8; 16]));
    }
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The channel as the dialect names it: a registered channel's name (`va:3` -> its bank's
/// name), otherwise the channel tag itself (`sandbox`, `bill24`, `cli`).
fn channel_label(row: &VaPaymentRow) -> String {
    row.channel_name
        .clone()
        .unwrap_or_else(|| row.payment.channel.clone())
}

/// A payment row; `with_bill` embeds the bill (as it is at `now`).
pub fn payment_data(
    row: &VaPaymentRow,
    offset: UtcOffset,
    now: OffsetDateTime,
    with_bill: bool,
) -> PaymentData {
    let reversal = row.kind == "reversal";
    PaymentData {
        id: if reversal {
            reversal_uid(&row.payment.uid)
        } else {
            row.payment.uid.clone()
        },
        payment_ref_id: row.payment.channel_ref.clone(),
        channel: channel_label(row),
        amount: money_number(Money::from_minor(row.payment.amount, row.payment.currency)),
        kind: if reversal { "reversal" } else { "payment" },
        created_at: iso(row.created_at, offset),
        account: None,
        bill: with_bill.then(|| bill_data(&row.bill, offset, now)),
    }
}

/// The bill as it was right after a row's event, with the row attached as `payment`.
pub fn bill_after(row: &VaPaymentRow, offset: UtcOffset, now: OffsetDateTime) -> BillData {
    let status = row
        .status_after
        .parse::<BillStatus>()
        .unwrap_or(row.bill.bill.status);
    let mut data = bill_data_as(
        &row.bill,
        offset,
        status,
        row.kind == "reversal",
        row.paid_after,
    );
    data.payment = Some(Box::new(payment_data(row, offset, now, false)));
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = parse_iso("2022-04-04T11:46:56+07:00").unwrap();
        assert_eq!(iso(t, DEFAULT_OFFSET), "2022-04-04T11:46:56+07:00");
        assert_eq!(iso(t, UtcOffset::UTC), "2022-04-04T04:46:56+00:00");
        assert!(parse_iso("2022-04-04 11:46:56").is_none());
        assert!(parse_iso("2022-04-04T11:46:56").is_none());
        assert_eq!(parse_local("2022-04-04 11:46:56", DEFAULT_OFFSET), Some(t));
    }

    /// PHP's `DATE_ISO8601` (`date('c')` is RFC 3339; `DATE_ISO8601` writes `+0700`), dates
    /// without seconds, `Z`, fractions: each the same instant; no offset or garbage is refused.
    #[test]
    fn client_date_forms() {
        let t = parse_iso("2022-04-04T11:46:56+07:00").unwrap();
        let minute = parse_iso("2022-04-04T11:46:00+07:00").unwrap();
        let table = [
            ("2022-04-04T11:46:56+0700", Some(t)),
            (" 2022-04-04T11:46:56+0700 ", Some(t)),
            ("2022-04-04T04:46:56Z", Some(t)),
            ("2022-04-04T04:46:56+0000", Some(t)),
            ("2022-04-04T04:46:56.000Z", Some(t)),
            ("2022-04-04T11:46:56.000+0700", Some(t)),
            ("2022-04-04T06:46:56+0200", Some(t)),
            ("2022-04-04T11:46+07:00", Some(minute)),
            ("2022-04-04T11:46+0700", Some(minute)),
            ("2022-04-04T04:46Z", Some(minute)),
            ("2022-04-04T11:46", None),
            ("2022-04-04T11:46:56", None),
            ("2022-04-04T11+0700", None),
            ("2022-04-04T11:46:56+07", None),
            ("2022-04-04T11:46:56+07000", None),
            ("2022-04-04", None),
            ("Z", None),
            ("", None),
        ];
        for (text, expected) in table {
            assert_eq!(parse_iso(text), expected, "{text:?}");
        }
        let local = |s| parse_local(s, DEFAULT_OFFSET);
        assert_eq!(local("2022-04-04 11:46"), Some(minute));
        assert_eq!(local("2022-04-04 11:46:56"), Some(t));
        assert_eq!(local("2022-04-04 11"), None);
        assert_eq!(local("2022-04-04T11:46:56"), None);
    }

    #[test]
    fn statuses_and_types() {
        assert_eq!(status_label(BillStatus::PartiallyPaid, false), "active");
        assert_eq!(status_label(BillStatus::Active, true), "reversal");
        assert_eq!(status_label(BillStatus::Paid, true), "paid");
        for t in ["close", "partial", "open"] {
            assert_eq!(rule_of(t).map(type_of), Some(t));
        }
        assert_eq!(rule_of("closed"), None);
        assert_eq!(rule_of("Close"), Some(PaymentRule::Exact));
        assert_eq!(rule_of(" OPEN "), Some(PaymentRule::Open));
        assert_eq!(rule_of("Partial").map(type_of), Some("partial"));
    }

    #[test]
    fn reversal_ids_are_stable_uuids() {
        let a = reversal_uid("95f5c77f-79de-4c12-a151-ef7c68e9b7d2");
        assert_eq!(a, reversal_uid("95f5c77f-79de-4c12-a151-ef7c68e9b7d2"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
        assert_ne!(a, reversal_uid("other"));
    }

    #[test]
    fn pagination() {
        let p = Paginated::new(2, 15, 31, vec![1; 15]);
        assert_eq!((p.from, p.to, p.last_page), (Some(16), Some(30), 3));
        let p: Paginated<i32> = Paginated::new(1, 15, 0, vec![]);
        assert_eq!((p.from, p.to, p.last_page), (None, None, 1));
    }
}
