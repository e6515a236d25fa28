//! Reading the dialect's requests: path integers, JSON bodies and `{"key", "value"}` lists,
//! decoded leniently so that every bad field is reported at once (code 900, billhub-http's
//! [`FieldErrors`]), into neutral request structs the flows take.
//!
//! A request is read whole before anything else happens, but its errors are reported where the
//! route's order puts them: on the payment and revert routes the idempotency check and the
//! one-time use of the signature come first, and the fields of the operator's `postpaid.fields`
//! can only be checked once the operator is known ([`PayRequest::complete`],
//! [`InvoicesRequest::values`]).

use std::collections::BTreeMap;

use billhub_core::fingerprint::{self as fp, Fingerprint};
use billhub_core::postpaid::{INSTALLMENTS_FIELD, TRANSACTION_CODE, TerminalFields, installments};
use billhub_http::FieldErrors;
use billhub_store::fingerprint;
use serde_json::{Map, Value};
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::codes::Refusal;
use billhub_core::input::{self, InputError};
use billhub_core::money::{MoneyError, parse_whole};

/// The partner's message for a payment that informs both amounts.
pub const BOTH_AMOUNTS: &str = "amountToSendX100 and destinationAmountX100 must not be informed at the same time, please inform only one of it";

// ----------------------------------------------------------------------------------------------
// Pieces

/// A path integer (`int32`, not negative).
fn path_int(errors: &mut FieldErrors, name: &str, text: &str) -> Option<i32> {
    let ok = !text.is_empty() && text.len() <= 10 && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<i32>() {
        Ok(v) if ok => Some(v),
        _ => {
            errors.add(name, format!("`{text}` is not an int32"));
            None
        }
    }
}

/// A terminal's transaction reference: at most 9 digits.
fn reference(errors: &mut FieldErrors, name: &str, text: &str) -> Option<i32> {
    let ok = !text.is_empty() && text.len() <= 9 && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<i32>() {
        Ok(v) if ok => Some(v),
        _ => {
            errors.add(name, "must be a whole number of at most 9 digits");
            None
        }
    }
}

/// An ISO 8601 `localDateTime` read: with its offset, or a local time without one.
enum LocalDateTime {
    Instant(OffsetDateTime),
    Local(PrimitiveDateTime),
}

fn parse_local_date_time(text: &str) -> Option<LocalDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(LocalDateTime::Instant(t));
    }
    PrimitiveDateTime::parse(
        text,
        format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
        ),
    )
    .ok()
    .map(LocalDateTime::Local)
}

/// The date part of an ISO 8601 `localDateTime` (`2025-07-03T10:15:00Z`,
/// `2025-07-03T10:15:00.123+07:00`, `2025-07-03T10:15:00`), exactly as sent.
fn local_date(text: &str) -> Option<String> {
    parse_local_date_time(text)
        .is_some()
        .then(|| text.get(..10).map(str::to_string))
        .flatten()
}

/// Core's judgement of a partner date ([`input::judge_date`] for an instant; a local time
/// without offset by its calendar day, [`input::judge_day`]), added to `errors`.
fn judge(errors: &mut FieldErrors, name: &str, judged: Result<(), InputError>) {
    match judged {
        Ok(()) => {}
        Err(InputError::DateTooEarly) => errors.add(name, "must not be before 2000-01-01"),
        Err(InputError::DateTooLate | InputError::Nul) => {
            errors.add(name, "must not be more than one day in the future");
        }
    }
}

fn judge_local_date_time(errors: &mut FieldErrors, text: &str, now: OffsetDateTime) {
    let judged = match parse_local_date_time(text) {
        Some(LocalDateTime::Instant(t)) => input::judge_date(t, now).map(|_| ()),
        Some(LocalDateTime::Local(t)) => input::judge_day(t.date(), now).map(|_| ()),
        None => Ok(()),
    };
    judge(errors, "localDateTime", judged);
}

pub fn iso_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `yyyy-MM-dd`.
fn parse_iso_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

/// `yyyyMMdd` or `ddMMyyyy` (unambiguous: a year is 1900 or later, a month-day at most 1231).
fn parse_compact_date(text: &str) -> Option<Date> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<i32>().ok());
    let make = |y: i32, m: i32, d: i32| {
        let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
        (y >= 1900)
            .then(|| Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok())
            .flatten()
    };
    make(num(0..4)?, num(4..6)?, num(6..8)?).or_else(|| make(num(4..8)?, num(2..4)?, num(0..2)?))
}

fn json_body(errors: &mut FieldErrors, body: &[u8]) -> Option<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        errors.add("body", "a JSON body is required");
        return None;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            // NUL in any key or string (core's shared check), by path.
            for path in input::nul_paths(&v, "body") {
                errors.add(path, "must not contain a NUL character");
            }
            Some(v)
        }
        Err(e) => {
            errors.add("body", format!("not valid JSON: {e}"));
            None
        }
    }
}

/// The message for a `{"key", "value"}` item that does not read.
const NOT_A_PAIR: &str = "must be an object with a string \"key\" and a string \"value\"";

/// A `{"key", "value"}` item that does not read: its index, and its key when that is a string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BadPair {
    index: usize,
    key: Option<String>,
}

/// The pairs of a `{"key", "value"}` list that read, and the items that do not.
type ReadPairs = (Vec<(String, String)>, Vec<BadPair>);

/// A `[{"key": ..., "value": ...}]` list read: the pairs whose value is a string or a number
/// (trimmed), and the items that are not such pairs. `None` when the value is no list (the
/// error added).
fn read_pairs(errors: &mut FieldErrors, path: &str, value: Option<&Value>) -> Option<ReadPairs> {
    let Some(Value::Array(items)) = value else {
        match value {
            None => errors.add(path, "is required"),
            Some(_) => errors.add(path, "must be a list of {\"key\", \"value\"} objects"),
        }
        return None;
    };
    let mut good = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let key = item.get("key").and_then(Value::as_str);
        let value = match item.get("value") {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        match (key, value) {
            (Some(k), Some(v)) => good.push((k.to_string(), v)),
            (key, _) => bad.push(BadPair {
                index,
                key: key.map(str::to_string),
            }),
        }
    }
    Some((good, bad))
}

/// A `[{"key": ..., "value": ...}]` list; values may be strings or numbers; every item that is
/// not such a pair is an error.
fn key_values(
    errors: &mut FieldErrors,
    path: &str,
    value: Option<&Value>,
) -> Vec<(String, String)> {
    let Some((good, bad)) = read_pairs(errors, path, value) else {
        return Vec::new();
    };
    for b in bad {
        errors.add(format!("{path}[{}]", b.index), NOT_A_PAIR);
    }
    good
}

/// What a list of pairs may hold besides the expected fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extras {
    /// Any other key is an error (the lookup's body).
    Refused,
    /// Other keys are ignored (a payment's `additionalData`: terminals echo what step 2
    /// answered).
    Ignored,
}

/// Checks pairs against the expected field names: unknown keys, repeats, missing fields and
/// each value against its field's rules.
fn check_keys(
    errors: &mut FieldErrors,
    path: &str,
    pairs: &[(String, String)],
    expected: &[&str],
    fields: &TerminalFields,
    extras: Extras,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in pairs {
        let at = format!("{path}.{key}");
        if !expected.contains(&key.as_str()) {
            if extras == Extras::Refused {
                errors.add(
                    at,
                    format!("unknown key (expected {})", expected.join(", ")),
                );
            }
        } else if out.contains_key(key) {
            errors.add(at, "appears more than once");
        } else {
            if let Some(field) = fields.field(key)
                && let Err(e) = field.check_value(value)
            {
                errors.add(at.clone(), e.to_string());
            }
            if key == TRANSACTION_CODE && value.is_empty() {
                errors.add(at, "must not be empty");
            }
            out.insert(key.clone(), value.clone());
        }
    }
    for name in expected {
        if !pairs.iter().any(|(k, _)| k == name) {
            errors.add(format!("{path}.{name}"), "is required");
        }
    }
    out
}

/// An `...X100` amount: a whole JSON number that fits an int32 (never wrapped), in any form
/// that is exactly whole ([`parse_whole`]: `1.25E4`, `12500.0`). `0` and `null` mean "not
/// informed".
fn amount_x100(errors: &mut FieldErrors, obj: &Map<String, Value>, name: &str) -> Option<i64> {
    match obj.get(name) {
        None | Some(Value::Null) => None,
        // As written (`12500`, `12500.0`, `1.25E4` from a Java double), read exactly.
        Some(Value::Number(n)) => match parse_whole(&n.to_string()) {
            Ok(0) => None,
            Ok(v) if (1..=i64::from(i32::MAX)).contains(&v) => Some(v),
            Ok(v) if v < 0 => {
                errors.add(name, "must be positive");
                None
            }
            Err(MoneyError::TooPrecise { .. }) => {
                errors.add(
                    name,
                    "must be a whole number (X100: hundredths of the unit)",
                );
                None
            }
            _ => {
                errors.add(name, "must be a whole number of at most 2147483647 (int32)");
                None
            }
        },
        Some(_) => {
            errors.add(name, "must be a number");
            None
        }
    }
}

fn required_string(
    errors: &mut FieldErrors,
    obj: &Map<String, Value>,
    name: &str,
) -> Option<String> {
    match obj.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.add(name, "is required");
            None
        }
        Some(_) => {
            errors.add(name, "must be a string");
            None
        }
    }
}

/// Every collected error as one 900.
pub fn invalid(errors: &FieldErrors) -> Refusal {
    Refusal::invalid(errors.summary())
}

/// The JSON body written canonically (object keys sorted at every level, whatever order and
/// spacing the terminal used), for request fingerprints.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

/// The channel reference of a terminal transaction: terminal, reference and the local date of
/// `localDateTime` as sent.
pub fn channel_ref(terminal_id: i32, local_reference: i32, date: &str) -> String {
    format!("{terminal_id}:{local_reference}:{date}")
}

/// The v1 fingerprint (written before v2): the route, the operator and the whole body.
fn request_hash_v1(kind: &str, operator_id: i32, body: &Value) -> String {
    fingerprint(&[kind, &operator_id.to_string(), &canonical(body)])
}

/// `localDateTime` normalised for a fingerprint: an instant in UTC, a local time as read, or
/// the text as sent (trimmed) when it does not read.
fn normalised_local_date_time(text: &str) -> String {
    match parse_local_date_time(text) {
        Some(LocalDateTime::Instant(t)) => fp::instant(t),
        Some(LocalDateTime::Local(t)) => format!("local {t}"),
        None => fp::text(text),
    }
}

/// What must be identical for a repeat of a payment or revert of `kind`: the recorded fields
/// (v2: the path, `localDateTime` as an instant and `fields`, normalised; nothing else in the
/// body), also recognising the v2 forms over `older` field lists (what earlier versions
/// recorded, when it differs) and the v1 form of the whole body that earlier versions stored.
fn request_print(
    head: &TransactionHead,
    kind: &str,
    fields: &[(String, String)],
    older: &[&[(String, String)]],
) -> Option<Fingerprint> {
    let (t, o, r, v) = (
        head.terminal_id?,
        head.operator_id?,
        head.local_reference?,
        head.value.as_ref()?,
    );
    let head_fields: Vec<(String, String)> = vec![
        ("terminalId".into(), t.to_string()),
        ("operatorId".into(), o.to_string()),
        ("localReference".into(), r.to_string()),
        (
            "localDateTime".into(),
            normalised_local_date_time(head.local_date_time.as_deref().unwrap_or_default()),
        ),
    ];
    let v2 = |fields: &[(String, String)]| {
        let named: Vec<(&str, &str)> = head_fields
            .iter()
            .chain(fields)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Fingerprint::v2(kind, &named).current
    };
    let mut print = Fingerprint {
        current: v2(fields),
        legacy: Vec::new(),
    };
    for form in older.iter().map(|f| v2(f)) {
        if form != print.current && !print.legacy.contains(&form) {
            print = print.with_legacy(form);
        }
    }
    Some(print.with_legacy(request_hash_v1(kind, o, v)))
}

// ----------------------------------------------------------------------------------------------
// Get Parameters, Get Invoices, transaction info

/// `parameters/{terminalId}/{operatorId}`: the operator named.
pub fn parameters(path: &(String, String)) -> Result<i32, Refusal> {
    let mut errors = FieldErrors::new();
    path_int(&mut errors, "terminalId", &path.0);
    let operator_id = path_int(&mut errors, "operatorId", &path.1);
    operator_id
        .filter(|_| errors.is_empty())
        .ok_or_else(|| invalid(&errors))
}

/// An invoice lookup, read; its fields are checked once the operator is known.
#[derive(Debug, Clone)]
pub struct InvoicesRequest {
    pub terminal_id: i32,
    pub operator_id: i32,
    errors: FieldErrors,
    has_body: bool,
    pairs: Vec<(String, String)>,
}

/// What an invoice lookup asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub account: String,
    /// `installments_to_pay`, when that field is configured and sent.
    pub installments: Option<u32>,
}

impl InvoicesRequest {
    /// The path and body; refused (900) when the path's integers are not.
    pub fn parse(path: &(String, String), body: &[u8]) -> Result<InvoicesRequest, Refusal> {
        let mut errors = FieldErrors::new();
        let terminal_id = path_int(&mut errors, "terminalId", &path.0);
        let operator_id = path_int(&mut errors, "operatorId", &path.1);
        let value = json_body(&mut errors, body);
        let pairs = match &value {
            Some(v) => key_values(&mut errors, "body", Some(v)),
            None => Vec::new(),
        };
        let (Some(terminal_id), Some(operator_id)) = (terminal_id, operator_id) else {
            return Err(invalid(&errors));
        };
        Ok(InvoicesRequest {
            terminal_id,
            operator_id,
            errors,
            has_body: value.is_some(),
            pairs,
        })
    }

    /// The body checked against the operator's `query` fields.
    pub fn values(mut self, fields: &TerminalFields) -> Result<Lookup, Refusal> {
        if !self.has_body {
            return Err(invalid(&self.errors));
        }
        let values = check_keys(
            &mut self.errors,
            "body",
            &self.pairs,
            &fields.query_names(),
            fields,
            Extras::Refused,
        );
        if !self.errors.is_empty() {
            return Err(invalid(&self.errors));
        }
        Ok(Lookup {
            account: values
                .get(&fields.account_field().name)
                .cloned()
                .unwrap_or_default(),
            installments: values
                .get(INSTALLMENTS_FIELD)
                .and_then(|v| installments(v).ok()),
        })
    }
}

/// `transaction/info/{terminalId}/{originalLocalReference}/{creationDate}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest {
    pub terminal_id: i32,
    pub original: i32,
    pub date: Date,
}

impl InfoRequest {
    /// The path at `now`; refused (900) when a part is not valid.
    pub fn parse(
        path: &(String, String, String),
        now: OffsetDateTime,
    ) -> Result<InfoRequest, Refusal> {
        let mut errors = FieldErrors::new();
        let terminal_id = path_int(&mut errors, "terminalId", &path.0);
        let original = reference(&mut errors, "originalLocalReference", &path.1);
        let date = parse_compact_date(&path.2);
        match date {
            None => errors.add("creationDate", "must be a date as yyyyMMdd or ddMMyyyy"),
            Some(d) => judge(
                &mut errors,
                "creationDate",
                input::judge_day(d, now).map(|_| ()),
            ),
        }
        let date = date.filter(|_| !errors.contains("creationDate"));
        let (Some(terminal_id), Some(original), Some(date)) = (terminal_id, original, date) else {
            return Err(invalid(&errors));
        };
        Ok(InfoRequest {
            terminal_id,
            original,
            date,
        })
    }

    /// The channel reference the payment was recorded under.
    pub fn channel_ref(&self) -> String {
        channel_ref(self.terminal_id, self.original, &iso_date(self.date))
    }
}

// ----------------------------------------------------------------------------------------------
// Payment and revert

/// The path, the body and `localDateTime` of a payment or revert, read leniently.
#[derive(Debug, Clone)]
struct TransactionHead {
    errors: FieldErrors,
    terminal_id: Option<i32>,
    operator_id: Option<i32>,
    local_reference: Option<i32>,
    value: Option<Value>,
    /// The body's fields (empty when the body is not an object).
    object: Map<String, Value>,
    local_date_time: Option<String>,
    /// The date part of `localDateTime`, as sent.
    date: Option<String>,
}

impl TransactionHead {
    fn read(path: &(String, String, String), body: &[u8], now: OffsetDateTime) -> TransactionHead {
        let mut errors = FieldErrors::new();
        let terminal_id = path_int(&mut errors, "terminalId", &path.0);
        let operator_id = path_int(&mut errors, "operatorId", &path.1);
        let local_reference = reference(&mut errors, "localReference", &path.2);
        let value = json_body(&mut errors, body);
        let object = match &value {
            Some(Value::Object(o)) => o.clone(),
            Some(_) => {
                errors.add("body", "must be a JSON object");
                Map::new()
            }
            None => Map::new(),
        };
        let local_date_time = required_string(&mut errors, &object, "localDateTime");
        let date = local_date_time.as_deref().and_then(local_date);
        if local_date_time.is_some() && date.is_none() {
            errors.add(
                "localDateTime",
                "must be an ISO 8601 date and time (2025-07-03T10:15:00Z)",
            );
        }
        if let Some(t) = &local_date_time {
            judge_local_date_time(&mut errors, t, now);
        }
        TransactionHead {
            errors,
            terminal_id,
            operator_id,
            local_reference,
            value,
            object,
            local_date_time,
            date,
        }
    }

    /// The channel reference and request fingerprint over `fields` (besides the head's), when
    /// the request names them (checked before anything else).
    fn replay_key(
        &self,
        kind: &str,
        fields: &[(String, String)],
        older: &[&[(String, String)]],
    ) -> Option<Replay> {
        let (t, r, d) = (
            self.terminal_id?,
            self.local_reference?,
            self.date.as_deref()?,
        );
        Some(Replay {
            channel_ref: channel_ref(t, r, d),
            print: request_print(self, kind, fields, older)?,
        })
    }

    /// Terminal, operator and reference; 900 with every error so far when one is missing.
    fn ids(&self) -> Result<Ids, Refusal> {
        match (self.terminal_id, self.operator_id, self.local_reference) {
            (Some(terminal_id), Some(operator_id), Some(local_reference)) => Ok(Ids {
                terminal_id,
                operator_id,
                local_reference,
            }),
            _ => Err(invalid(&self.errors)),
        }
    }
}

/// How a repeat of a payment or revert is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub channel_ref: String,
    pub print: Fingerprint,
}

/// The path integers of a payment or revert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub terminal_id: i32,
    pub operator_id: i32,
    pub local_reference: i32,
}

impl Ids {
    /// The channel reference of this transaction on `date`.
    pub fn channel_ref(&self, date: &str) -> String {
        channel_ref(self.terminal_id, self.local_reference, date)
    }
}

/// A payment, read; see [`PayRequest::complete`].
#[derive(Debug, Clone)]
pub struct PayRequest {
    head: TransactionHead,
    to_send: Option<i64>,
    amount: Option<i64>,
    /// The `additionalData` pairs that read, every key (extras are dropped once the operator's
    /// `pay` fields are known).
    pairs: Vec<(String, String)>,
    /// The `additionalData` items that do not read (refused only when they claim a `pay` field
    /// or have no key).
    bad_pairs: Vec<BadPair>,
    invoice_numbers: Vec<String>,
    beneficiary_phone: String,
}

/// A valid payment, its fields checked against the operator's.
#[derive(Debug, Clone)]
pub struct Pay {
    pub ids: Ids,
    /// X100, fee included.
    pub amount: i64,
    /// Which of the two amount fields carried it.
    pub amount_field: &'static str,
    pub local_date_time: String,
    pub date: String,
    /// The `pay` fields sent, by name (with `transaction_code`).
    pub values: BTreeMap<String, String>,
    pub invoice_numbers: Vec<String>,
    pub beneficiary_phone: String,
    /// The request's fingerprint (see [`request_print`]).
    pub print: Fingerprint,
}

impl Pay {
    /// The account code the payment names.
    pub fn account(&self, fields: &TerminalFields) -> String {
        self.values
            .get(&fields.account_field().name)
            .cloned()
            .unwrap_or_default()
    }

    /// The transaction code it carries.
    pub fn code(&self) -> String {
        self.values
            .get(TRANSACTION_CODE)
            .cloned()
            .unwrap_or_default()
    }
}

/// Amounts: exactly one of the two fields.
fn one_amount(
    errors: &mut FieldErrors,
    to_send: Option<i64>,
    destination: Option<i64>,
) -> Option<i64> {
    match (to_send, destination) {
        (Some(_), Some(_)) => {
            errors.add("amountToSendX100", BOTH_AMOUNTS);
            None
        }
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => {
            if !errors.contains("amountToSendX100") && !errors.contains("destinationAmountX100") {
                errors.add(
                    "amountToSendX100",
                    "amountToSendX100 or destinationAmountX100 is required",
                );
            }
            None
        }
    }
}

fn invoice_numbers(errors: &mut FieldErrors, obj: &Map<String, Value>) -> Vec<String> {
    match obj.get("invoiceNumbers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => {
                    errors.add("invoiceNumbers", "must be a list of invoice references");
                    None
                }
            })
            .collect(),
        Some(_) => {
            errors.add("invoiceNumbers", "must be a list of invoice references");
            Vec::new()
        }
    }
}

impl PayRequest {
    /// The path and body at `now`, read leniently; see [`PayRequest::complete`].
    pub fn parse(path: &(String, String, String), body: &[u8], now: OffsetDateTime) -> PayRequest {
        let mut head = TransactionHead::read(path, body, now);
        let obj = head.object.clone();
        let errors = &mut head.errors;
        let to_send = amount_x100(errors, &obj, "amountToSendX100");
        let destination = amount_x100(errors, &obj, "destinationAmountX100");
        let amount = one_amount(errors, to_send, destination);
        let (pairs, bad_pairs) =
            read_pairs(errors, "additionalData", obj.get("additionalData")).unwrap_or_default();
        let invoice_numbers = invoice_numbers(errors, &obj);
        let beneficiary_phone = match obj.get("beneficiaryPhoneNumber") {
            Some(Value::String(s)) => s.trim().to_string(),
            _ => String::new(),
        };
        PayRequest {
            head,
            to_send,
            amount,
            pairs,
            bad_pairs,
            invoice_numbers,
            beneficiary_phone,
        }
    }

    /// How a repeat is recognised, `fields` being the operator's when it is known (the `pay`
    /// fields are recorded, extra keys are not). Also recognised: the form that recorded every
    /// pair (before extras were ignored) and v1.
    pub fn replay_key(&self, fields: Option<&TerminalFields>) -> Option<Replay> {
        let every = self.recorded(None);
        let pay = fields.map(TerminalFields::pay_names);
        self.head
            .replay_key("payment", &self.recorded(pay.as_deref()), &[&every])
    }

    /// The fields of a payment that are recorded, besides the head's, normalised: of the
    /// `additionalData` pairs, those named in `pay` (every pair when `None`).
    fn recorded(&self, pay: Option<&[&str]>) -> Vec<(String, String)> {
        let amount_field = if self.to_send.is_some() {
            "amountToSendX100"
        } else {
            "destinationAmountX100"
        };
        let mut pairs: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| pay.is_none_or(|names| names.contains(&k.as_str())))
            .map(|(k, v)| (format!("additionalData.{}", fp::text(k)), fp::text(v)))
            .collect();
        pairs.sort();
        let mut out = vec![
            ("amountField".to_string(), amount_field.to_string()),
            (
                "amountX100".to_string(),
                self.amount.map(|a| a.to_string()).unwrap_or_default(),
            ),
        ];
        out.extend(pairs);
        out.push(("invoiceNumbers".into(), self.invoice_numbers.join("\n")));
        out.push((
            "beneficiaryPhoneNumber".into(),
            fp::text(&self.beneficiary_phone),
        ));
        out
    }

    pub fn ids(&self) -> Result<Ids, Refusal> {
        self.head.ids()
    }

    /// The whole payment, its `additionalData` checked against the operator's `pay` fields
    /// (other keys ignored); 900 with every error.
    pub fn complete(mut self, ids: Ids, fields: &TerminalFields) -> Result<Pay, Refusal> {
        let pay = fields.pay_names();
        let every = self.recorded(None);
        let print = request_print(&self.head, "payment", &self.recorded(Some(&pay)), &[&every]);
        for bad in &self.bad_pairs {
            if bad.key.as_deref().is_none_or(|k| pay.contains(&k)) {
                self.head
                    .errors
                    .add(format!("additionalData[{}]", bad.index), NOT_A_PAIR);
            }
        }
        let values = check_keys(
            &mut self.head.errors,
            "additionalData",
            &self.pairs,
            &pay,
            fields,
            Extras::Ignored,
        );
        let head = self.head;
        let (Some(amount), Some(local_date_time), Some(date), Some(print), true) = (
            self.amount,
            head.local_date_time,
            head.date,
            print,
            head.errors.is_empty(),
        ) else {
            return Err(invalid(&head.errors));
        };
        Ok(Pay {
            ids,
            amount,
            amount_field: if self.to_send.is_some() {
                "amountToSendX100"
            } else {
                "destinationAmountX100"
            },
            local_date_time,
            date,
            values,
            invoice_numbers: self.invoice_numbers,
            beneficiary_phone: self.beneficiary_phone,
            print,
        })
    }
}

/// A revert, read; see [`RevertRequest::complete`].
#[derive(Debug, Clone)]
pub struct RevertRequest {
    head: TransactionHead,
    amount: Option<i64>,
    account: Option<String>,
    original: Option<i32>,
    original_date: Option<String>,
}

/// A valid revert.
#[derive(Debug, Clone)]
pub struct Revert {
    pub ids: Ids,
    /// X100: the original's amount, fee included.
    pub amount: i64,
    pub account: String,
    pub original: i32,
    /// `yyyy-MM-dd`, as sent.
    pub original_date: String,
    /// The date part of `localDateTime`.
    pub date: String,
    /// The request's fingerprint (see [`request_print`]).
    pub print: Fingerprint,
}

impl Revert {
    /// The channel reference of the original payment.
    pub fn original_ref(&self) -> String {
        channel_ref(self.ids.terminal_id, self.original, &self.original_date)
    }
}

impl RevertRequest {
    /// The path and body at `now`, read leniently; see [`RevertRequest::complete`].
    pub fn parse(
        path: &(String, String, String),
        body: &[u8],
        now: OffsetDateTime,
    ) -> RevertRequest {
        let mut head = TransactionHead::read(path, body, now);
        let obj = head.object.clone();
        let errors = &mut head.errors;
        let amount = amount_x100(errors, &obj, "amountToSendX100");
        if amount.is_none() && !errors.contains("amountToSendX100") {
            errors.add("amountToSendX100", "is required");
        }
        let account = required_string(errors, &obj, "account");
        let original = match obj.get("originalLocalReference") {
            Some(Value::Number(n)) => reference(errors, "originalLocalReference", &n.to_string()),
            Some(Value::String(s)) => reference(errors, "originalLocalReference", s.trim()),
            _ => {
                errors.add("originalLocalReference", "is required");
                None
            }
        };
        let original_date = required_string(errors, &obj, "originalLocalDate");
        if let Some(d) = &original_date {
            match parse_iso_date(d) {
                None => errors.add("originalLocalDate", "must be a date as yyyy-MM-dd"),
                Some(day) => judge(
                    errors,
                    "originalLocalDate",
                    input::judge_day(day, now).map(|_| ()),
                ),
            }
        }
        RevertRequest {
            head,
            amount,
            account,
            original,
            original_date,
        }
    }

    pub fn replay_key(&self) -> Option<Replay> {
        self.head.replay_key("revert", &self.recorded(), &[])
    }

    /// The fields of a revert that are recorded or decide it, besides the head's, normalised.
    fn recorded(&self) -> Vec<(String, String)> {
        vec![
            (
                "amountToSendX100".into(),
                self.amount.map(|a| a.to_string()).unwrap_or_default(),
            ),
            (
                "account".into(),
                fp::text(self.account.as_deref().unwrap_or_default()),
            ),
            (
                "originalLocalReference".into(),
                self.original.map(|o| o.to_string()).unwrap_or_default(),
            ),
            (
                "originalLocalDate".into(),
                fp::text(self.original_date.as_deref().unwrap_or_default()),
            ),
        ]
    }

    pub fn ids(&self) -> Result<Ids, Refusal> {
        self.head.ids()
    }

    /// The whole revert; 900 with every error.
    pub fn complete(self, ids: Ids) -> Result<Revert, Refusal> {
        let print = request_print(&self.head, "revert", &self.recorded(), &[]);
        let head = self.head;
        let (
            Some(amount),
            Some(account),
            Some(original),
            Some(original_date),
            Some(date),
            Some(print),
            true,
        ) = (
            self.amount,
            self.account,
            self.original,
            self.original_date,
            head.date,
            print,
            head.errors.is_empty(),
        )
        else {
            return Err(invalid(&head.errors));
        };
        Ok(Revert {
            ids,
            amount,
            account,
            original,
            original_date,
            date,
            print,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates() {
        assert_eq!(parse_compact_date("20250703"), Some(date!(2025 - 07 - 03)));
        assert_eq!(parse_compact_date("03072025"), Some(date!(2025 - 07 - 03)));
        assert_eq!(parse_compact_date("01022020"), Some(date!(2020 - 02 - 01)));
        assert_eq!(parse_compact_date("2025073"), None);
        assert_eq!(parse_compact_date("99999999"), None);
        assert_eq!(
            local_date("2025-07-03T10:15:00Z").as_deref(),
            Some("2025-07-03")
        );
        assert_eq!(
            local_date("2025-07-03T23:15:00-05:00").as_deref(),
            Some("2025-07-03")
        );
        assert_eq!(
            local_date("2025-07-03T10:15:00.250").as_deref(),
            Some("2025-07-03")
        );
        assert_eq!(local_date("2025-07-03"), None);
        assert_eq!(local_date("yesterday"), None);
    }

    #[test]
    fn canonical_json() {
        let a: Value =
            serde_json::from_str(r#"{"b": [1, {"y": 2, "x": "1"}], "a": 5000}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":5000,"b":[1,{"x":"1","y":2}]}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(canonical(&a), r#"{"a":5000,"b":[1,{"x":"1","y":2}]}"#);
    }

    /// Extra `additionalData` keys are out of the fingerprint; a row stored by the v2 that
    /// recorded every pair is still recognised, and so is an amount in another form.
    #[test]
    fn extras_are_not_recorded() {
        let path = ("1".to_string(), "7".to_string(), "12".to_string());
        let now = time::macros::datetime!(2025-07-03 10:00 UTC);
        let read = |body: &str| PayRequest::parse(&path, body.as_bytes(), now);
        let plain = read(
            r#"{"amountToSendX100":12500,"localDateTime":"2025-07-03T11:00:00Z","additionalData":[{"key":"account","value":"A1"},{"key":"transaction_code","value":"T"}]}"#,
        );
        let echoed = read(
            r#"{"amountToSendX100":1.25E4,"localDateTime":"2025-07-03T11:00:00Z","additionalData":[{"key":"account","value":"A1"},{"key":"transaction_code","value":"T"},{"key":"pendingInvoices","value":2},{"key":"items","value":[]}]}"#,
        );
        let fields = TerminalFields::default();
        let (p, e) = (
            plain.replay_key(Some(&fields)).unwrap().print,
            echoed.replay_key(Some(&fields)).unwrap().print,
        );
        assert_eq!(p.current, e.current);
        // The form the earlier v2 stored for the echoed request (every pair) is recognised.
        let every = echoed.replay_key(None).unwrap().print.current;
        assert_ne!(every, e.current);
        assert!(e.matches(&every));
        assert!(!p.matches(&every));
        // Without the operator, every pair is recorded (as before).
        assert_eq!(plain.replay_key(None).unwrap().print.current, p.current);
        let ids = echoed.ids().unwrap();
        let pay = echoed.complete(ids, &fields).unwrap();
        assert_eq!(pay.amount, 12500);
        assert_eq!(pay.print.current, p.current);
        assert_eq!(pay.values.len(), 2);
    }

    #[test]
    fn path_integers() {
        let mut e = FieldErrors::new();
        assert_eq!(path_int(&mut e, "a", "12"), Some(12));
        assert_eq!(path_int(&mut e, "b", "2147483648"), None);
        assert_eq!(path_int(&mut e, "c", "-1"), None);
        assert_eq!(path_int(&mut e, "d", "x"), None);
        assert_eq!(reference(&mut e, "e", "123456789"), Some(123456789));
        assert_eq!(reference(&mut e, "f", "1234567890"), None);
        assert_eq!(e.len(), 4);
    }
}
