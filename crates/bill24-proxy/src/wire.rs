//! Bill24's request and response shapes, spelled exactly as Bill24 spells them, the lenient
//! readers of the requests (every bad field reported at once), and Bill24's date formats.

use billhub_core::{Currency, Money};
use billhub_http::json::{AmountError, money_from_number};
use billhub_http::validation::{FieldErrors, Lenient};
use serde::Serialize;
use serde_json::{Map, Number, Value};
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
#[derive(Debug, Serialize)]
pub struct ProxyData {
    pub consumer_code: String,
    pub consumer_name: String,
    pub consumer_name_latin: String,
    pub phone: String,
    pub currency: String,
    pub due_amount: Number,
    pub min_amount: Number,
    pub max_amount: Number,
    pub balance: Number,
    pub description: String,
    pub last_bill_date: String,
    pub last_due_date: String,
    pub last_pay_date: String,
}

/// `data` of a successful `/pending_bills` answer.
#[derive(Debug, Serialize)]
pub struct PendingBillsData {
    pub opening_balance: Number,
    pub pending_bills: Vec<PendingBill>,
}

/// One statement line, newest first.
#[derive(Debug, Serialize)]
pub struct PendingBill {
    /// `dd/MM/yyyy`.
    pub date: String,
    /// Bills and reversals positive, payments negative.
    pub amount: Number,
    /// The amount due after this line.
    pub balance: Number,
    pub digital_bill_url: String,
}

/// The biller's answer to a webhook delivery.
#[derive(Debug, Serialize)]
pub struct WebhookReply {
    /// `Success` or `Error`.
    pub status: &'static str,
    pub message: String,
}

/// A JSON number for "no bound" (`min_amount`/`max_amount`).
pub fn unbounded() -> Number {
    Number::from(-1)
}

// ---------------------------------------------------------------------------------------------
// Requests

/// `/proxy` and `/pending_bills` body: `{"consumer_code": "..."}`; `biller_code` (Auto Direct
/// Debit) is accepted and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRequest {
    pub consumer_code: String,
}

impl ConsumerRequest {
    pub fn read(body: &Map<String, Value>) -> Result<ConsumerRequest, FieldErrors> {
        let mut errors = FieldErrors::new();
        let l = Lenient::new(body, "");
        let code = l.string(&mut errors, "consumer_code", true, false);
        errors.into_result()?;
        Ok(ConsumerRequest {
            consumer_code: code.unwrap_or_default().trim().to_string(),
        })
    }
}

/// Which documented payload generation a webhook delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// 2025 docs: `tran_id`, `customers[]`, `status`.
    Current,
    /// 2024 drafts: `tnx_id`, one `customer_code`, `bills[]`, fees, no `status`.
    Older,
}

impl Generation {
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::Current => "current",
            Generation::Older => "older",
        }
    }
}

/// One customer's share of a webhook transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerShare {
    pub customer_code: String,
    pub customer_name: String,
    /// The bills named for this share: each a list of numbers to try in order (the current
    /// generation's `bill_no`; the older generation's `bills[].id`, then `bills[].sync_code`).
    pub bills: Vec<Vec<String>>,
    pub amount: Money,
    /// The share as sent (kept in the payment's details).
    pub raw: Value,
}

/// A webhook delivery, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub generation: Generation,
    /// `tran_id` (current) or `tnx_id` (older): the idempotency key.
    pub tran_id: String,
    pub currency: Currency,
    pub tran_amount: Money,
    /// Lower-cased; the older generation has none and means `success`.
    pub status: String,
    /// `tran_date` (current) or `paid_date` (older) as sent.
    pub paid_date: Option<String>,
    /// The bank or service that took the money.
    pub method: String,
    /// The older generation's `customer_fee` (recorded, never applied), minor units.
    pub fee: i64,
    pub shares: Vec<CustomerShare>,
    /// Top-level fields other than the shares (kept in the payment's details).
    pub transaction: Map<String, Value>,
}

fn optional_string(l: &Lenient<'_>, errors: &mut FieldErrors, field: &str) -> Option<String> {
    l.string(errors, field, false, true)
}

/// A required positive amount of `currency` (when the currency is known).
fn amount(
    l: &Lenient<'_>,
    errors: &mut FieldErrors,
    field: &str,
    currency: Option<Currency>,
) -> Option<Money> {
    let path = l.path(field);
    let Some(v) = l.get(field) else {
        errors.add(path, format!("The {field} field is required."));
        return None;
    };
    let Some(currency) = currency else {
        if !v.is_number() {
            errors.add(path, format!("The {field} must be a number."));
        }
        return None;
    };
    match money_from_number(v, currency) {
        Ok(m) if m.is_positive() => Some(m),
        Ok(_) => {
            errors.add(path, format!("The {field} must be greater than zero."));
            None
        }
        Err(AmountError::NotANumber) | Err(AmountError::NotNumeric) => {
            errors.add(path, format!("The {field} must be a number."));
            None
        }
        Err(AmountError::Money(e)) => {
            errors.add(
                path,
                format!("The {field} is not a valid {currency} amount: {e}."),
            );
            None
        }
    }
}

/// A bill reference of the older generation: a string or a whole number.
fn bill_ref(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl Notification {
    /// Reads either generation (`tran_id` makes it the current one, `tnx_id` the older one).
    pub fn read(body: &Map<String, Value>) -> Result<Notification, FieldErrors> {
        let mut errors = FieldErrors::new();
        let l = Lenient::new(body, "");
        let generation = if l.get("tran_id").is_some() || l.get("tnx_id").is_none() {
            Generation::Current
        } else {
            Generation::Older
        };
        let id_field = match generation {
            Generation::Current => "tran_id",
            Generation::Older => "tnx_id",
        };
        let tran_id = l
            .string(&mut errors, id_field, true, false)
            .map(|s| s.trim().to_string());
        if let Some(id) = &tran_id
            && id.len() > 128
        {
            errors.add(
                id_field,
                format!("The {id_field} must be at most 128 characters."),
            );
        }
        let currency = match l.string(&mut errors, "currency", true, false) {
            Some(code) => match Currency::from_code(code.trim()) {
                Ok(c) => Some(c),
                Err(_) => {
                    errors.add(
                        "currency",
                        format!("The currency `{code}` is not an ISO 4217 code billhub knows."),
                    );
                    None
                }
            },
            None => None,
        };
        let tran_amount = amount(&l, &mut errors, "tran_amount", currency);
        let status = match generation {
            Generation::Current => l.string(&mut errors, "status", true, false),
            Generation::Older => {
                optional_string(&l, &mut errors, "status").filter(|s| !s.trim().is_empty())
            }
        }
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "success".into());
        let date_field = match generation {
            Generation::Current => "tran_date",
            Generation::Older => "paid_date",
        };
        let paid_date =
            optional_string(&l, &mut errors, date_field).filter(|s| !s.trim().is_empty());
        let mut method = String::new();
        for f in ["bank_name", "bank_code", "payment_service_type"] {
            if let Some(s) = optional_string(&l, &mut errors, f)
                && method.is_empty()
                && !s.trim().is_empty()
            {
                method = s.trim().to_string();
            }
        }
        let fee = match (generation, currency, l.get("customer_fee")) {
            (Generation::Older, Some(c), Some(v)) => match money_from_number(v, c) {
                Ok(m) if m.minor() >= 0 => m.minor(),
                _ => {
                    errors.add(
                        "customer_fee",
                        "The customer_fee must be a number, zero or more.",
                    );
                    0
                }
            },
            _ => 0,
        };

        let mut shares = Vec::new();
        match generation {
            Generation::Current => match l.get("customers") {
                None => errors.add("customers", "The customers field is required."),
                Some(Value::Array(items)) if items.is_empty() => errors.add(
                    "customers",
                    "The customers must list at least one customer.",
                ),
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let prefix = format!("customers.{i}");
                        let Some(obj) = item.as_object() else {
                            errors.add(prefix, "Each customer must be an object.");
                            continue;
                        };
                        let c = Lenient::new(obj, &prefix);
                        let code = c.string(&mut errors, "customer_code", true, false);
                        let name =
                            optional_string(&c, &mut errors, "customer_name").unwrap_or_default();
                        let latin = optional_string(&c, &mut errors, "customer_name_latin")
                            .unwrap_or_default();
                        let bill_no =
                            optional_string(&c, &mut errors, "bill_no").unwrap_or_default();
                        let amt = amount(&c, &mut errors, "amount", currency);
                        if let (Some(code), Some(amt)) = (code, amt) {
                            let bill_no = bill_no.trim().to_string();
                            shares.push(CustomerShare {
                                customer_code: code.trim().to_string(),
                                customer_name: if name.trim().is_empty() { latin } else { name },
                                bills: if bill_no.is_empty() {
                                    vec![]
                                } else {
                                    vec![vec![bill_no]]
                                },
                                amount: amt,
                                raw: item.clone(),
                            });
                        }
                    }
                }
                Some(_) => errors.add("customers", "The customers must be a list."),
            },
            Generation::Older => {
                let code = l.string(&mut errors, "customer_code", true, false);
                let name = optional_string(&l, &mut errors, "customer_name").unwrap_or_default();
                let mut bills = Vec::new();
                match l.get("bills") {
                    None => {}
                    Some(Value::Array(items)) => {
                        for (i, item) in items.iter().enumerate() {
                            let refs: Vec<String> = match item {
                                Value::Object(o) => {
                                    [bill_ref(o.get("id")), bill_ref(o.get("sync_code"))]
                                        .into_iter()
                                        .flatten()
                                        .collect()
                                }
                                other => bill_ref(Some(other)).into_iter().collect(),
                            };
                            if refs.is_empty() {
                                errors.add(
                                    format!("bills.{i}"),
                                    "Each bill needs an id or a sync_code.",
                                );
                            } else {
                                bills.push(refs);
                            }
                        }
                    }
                    Some(_) => errors.add("bills", "The bills must be a list."),
                }
                if let (Some(code), Some(amt)) = (code, tran_amount) {
                    let mut raw = Map::new();
                    for k in [
                        "customer_code",
                        "customer_name",
                        "customer_phone",
                        "customer_sync_code",
                        "bills",
                    ] {
                        if let Some(v) = body.get(k) {
                            raw.insert(k.to_string(), v.clone());
                        }
                    }
                    shares.push(CustomerShare {
                        customer_code: code.trim().to_string(),
                        customer_name: name,
                        bills,
                        amount: amt,
                        raw: Value::Object(raw),
                    });
                }
            }
        }
        if let (Some(total), true) = (tran_amount, errors.is_empty()) {
            let sum: i64 = shares
                .iter()
                .map(|s| s.amount.minor())
                .fold(0i64, i64::saturating_add);
            if sum != total.minor() {
                errors.add(
                    "tran_amount",
                    format!(
                        "The tran_amount {} does not equal the sum of the customers' amounts {}.",
                        total.to_plain_string(),
                        Money::from_minor(sum, total.currency()).to_plain_string()
                    ),
                );
            }
        }
        errors.into_result()?;
        let (Some(tran_id), Some(currency), Some(tran_amount)) = (tran_id, currency, tran_amount)
        else {
            // Unreachable: each missing part added an error above.
            let mut e = FieldErrors::new();
            e.add(id_field, format!("The {id_field} field is required."));
            return Err(e);
        };
        let mut transaction = body.clone();
        transaction.remove("customers");
        transaction.remove("bills");
        Ok(Notification {
            generation,
            tran_id,
            currency,
            tran_amount,
            status,
            paid_date,
            method,
            fee,
            shares,
            transaction,
        })
    }
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
    let local = at.to_offset(offset);
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

/// Reads Bill24's transaction dates: `2024-11-29T16:58:16.727168`, `2024-02-29 10:46:33`,
/// `2024-2-29 10:46:33`, optionally with `Z` or `+07:00`. Without a zone the time is in
/// `offset` (the organization's).
pub fn parse_transaction_date(text: &str, offset: UtcOffset) -> Option<OffsetDateTime> {
    let t = text.trim();
    let (body, zone) = if let Some(b) = t.strip_suffix('Z').or_else(|| t.strip_suffix('z')) {
        (b, Some(UtcOffset::UTC))
    } else if t.len() > 6
        && matches!(t.as_bytes()[t.len() - 6], b'+' | b'-')
        && t.as_bytes()[t.len() - 3] == b':'
    {
        let (b, z) = t.split_at(t.len() - 6);
        (b, Some(billhub_core::org::parse_offset(z).ok()?))
    } else {
        (t, None)
    };
    let (date_part, time_part) = body.split_once(['T', ' '])?;
    let d: Vec<&str> = date_part.split('-').collect();
    if d.len() != 3 {
        return None;
    }
    let num = |s: &str| -> Option<u32> {
        if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    let year = i32::try_from(num(d[0])?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(d[1])?).ok()?).ok()?;
    let day = u8::try_from(num(d[2])?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let (hms, frac) = match time_part.split_once('.') {
        Some((a, b)) => (a, b),
        None => (time_part, ""),
    };
    let h: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&h.len()) {
        return None;
    }
    let hour = u8::try_from(num(h[0])?).ok()?;
    let minute = u8::try_from(num(h[1])?).ok()?;
    let second = match h.get(2) {
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
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(zone.unwrap_or(offset)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
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

    #[test]
    fn reads_both_generations() {
        let current = json!({
            "tran_id": "348b4b16-1f06-4563-8204-105a8420a067", "tran_amount": 45, "currency": "USD",
            "bank_name": "ACLEDA", "status": "success", "tran_date": "2024-11-29T16:58:16.727168",
            "customers": [{"customer_code": "37627011", "customer_name": "MAO SAMON", "bill_no": "", "amount": 45}]
        });
        let n = Notification::read(current.as_object().unwrap()).unwrap();
        assert_eq!(n.generation, Generation::Current);
        assert_eq!(n.tran_amount.minor(), 4500);
        assert_eq!(n.method, "ACLEDA");
        assert_eq!(n.shares.len(), 1);
        assert!(n.shares[0].bills.is_empty());
        assert!(!n.transaction.contains_key("customers"));

        let older = json!({ "tnx_id": "BUb4CmDE", "tran_amount": 10, "customer_fee": 0.20, "total_amount": 10.20,
            "currency": "USD", "customer_code": "CU003035", "paid_date": "2024-02-29 10:46:33",
            "bills": [{"id": 17, "sync_code": "INV-1"}] });
        let n = Notification::read(older.as_object().unwrap()).unwrap();
        assert_eq!(n.generation, Generation::Older);
        assert_eq!(n.status, "success");
        assert_eq!(n.fee, 20);
        assert_eq!(n.shares[0].amount.minor(), 1000);
        assert_eq!(
            n.shares[0].bills,
            vec![vec!["17".to_string(), "INV-1".to_string()]]
        );
    }

    #[test]
    fn reports_every_bad_field() {
        let bad = json!({ "tran_id": 5, "tran_amount": "45", "currency": "USD", "status": "success",
            "customers": [{"customer_code": 1, "amount": -2}, {"amount": 0}] });
        let e = Notification::read(bad.as_object().unwrap()).unwrap_err();
        for f in [
            "tran_id",
            "tran_amount",
            "customers.0.customer_code",
            "customers.0.amount",
            "customers.1.customer_code",
            "customers.1.amount",
        ] {
            assert!(e.contains(f), "{f} missing in {}", e.summary());
        }
        let mismatch = json!({ "tran_id": "T1", "tran_amount": 45, "currency": "USD", "status": "success",
            "customers": [{"customer_code": "A", "amount": 20}, {"customer_code": "B", "amount": 20}] });
        let e = Notification::read(mismatch.as_object().unwrap()).unwrap_err();
        assert!(e.summary().contains("does not equal"), "{}", e.summary());
        let precise = json!({ "tran_id": "T1", "tran_amount": 10.505, "currency": "USD", "status": "success",
            "customers": [{"customer_code": "A", "amount": 10.505}] });
        assert!(Notification::read(precise.as_object().unwrap()).is_err());
    }
}
