//! Request bodies: decoded leniently, validated collecting every bad field at once (Laravel's
//! messages, keyed by the dotted field path), then turned into the store's inputs.

use billhub_core::bill::LineItem;
use billhub_core::input;
use billhub_core::{Currency, Money, MoneyError};
use billhub_http::json::{AmountError, decimal_text, money_from_number_or_string};
use billhub_http::validation::{FieldErrors, Lenient};
use billhub_store::collections::{
    BillLine, BillPatch, CollectionPatch, CustomerInput, CustomerPatch, NewCollection,
    NewCollectionBill, ProductInput, ProductPatch,
};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use time::Date;
use time::macros::format_description;

use crate::codes::{ApiError, line_problem};

/// A decoded request body.
pub type Object = Map<String, Value>;

/// The deepest bracket nesting a form field may have (`a[b][c]` is 3).
const MAX_FORM_DEPTH: usize = 32;

/// Longest text field.
const MAX_TEXT: usize = 255;
/// Longest account code (the store's limit).
const MAX_ACC_NO: usize = 64;

/// The body as a JSON object. No body at all is a 400 (the parameters are missing), as is
/// anything but a JSON object; `{}` is an object whose required fields are then each reported
/// (422).
pub fn parse_object(body: &[u8]) -> Result<Object, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::BadRequest(
            "Missing parameters: the request body is empty; send them as a JSON object.".into(),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => {
            // NUL in any key or string (core's shared check): 422 by path.
            let mut e = FieldErrors::new();
            for path in input::nul_paths(&Value::Object(m.clone()), "") {
                e.add(
                    path.clone(),
                    format!("The {path} must not contain a NUL character."),
                );
            }
            finish(e, Some(m))
        }
        Ok(_) => Err(ApiError::BadRequest(
            "The request body must be a JSON object.".into(),
        )),
        Err(e) => Err(ApiError::BadRequest(format!(
            "The request body is not valid JSON: {e}."
        ))),
    }
}

/// The body as an object: a form when `form` (see [`form_object`]), else JSON
/// ([`parse_object`]).
pub fn parse_body(body: &[u8], form: bool) -> Result<Object, ApiError> {
    if !form {
        return parse_object(body);
    }
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::BadRequest(
            "Missing parameters: the request body is empty; send them as a JSON object or a form."
                .into(),
        ));
    }
    let m = form_object(body)?;
    let mut e = FieldErrors::new();
    for path in input::nul_paths(&Value::Object(m.clone()), "") {
        e.add(
            path.clone(),
            format!("The {path} must not contain a NUL character."),
        );
    }
    finish(e, Some(m))
}

/// A form body (`application/x-www-form-urlencoded`) as Laravel reads it: PHP's bracket
/// nesting makes objects (`customer[email]=...`) and lists (`product[0][price]=...`,
/// `tags[]=a`); every value is a string; a later repeat of a field wins.
pub fn form_object(body: &[u8]) -> Result<Object, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| ApiError::BadRequest("The request body is not a valid form.".into()))?;
    let mut root = Value::Object(Map::new());
    // The next `[]` index under each parent path (PHP's largest integer key + 1), kept here so
    // that many `[]` cost one step each.
    let mut next: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for (key, value) in pairs {
        let mut path = form_path(&key).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "The form field `{key}` is malformed (brackets unbalanced or nested deeper than {MAX_FORM_DEPTH})."
            ))
        })?;
        let mut parent = String::new();
        for segment in &mut path {
            let counter = next.entry(parent.clone()).or_insert(0);
            if segment.is_empty() {
                *segment = counter.to_string();
                *counter = counter.saturating_add(1);
            } else if let Ok(n) = segment.parse::<u64>() {
                *counter = (*counter).max(n.saturating_add(1));
            }
            parent.push('\0');
            parent.push_str(segment);
        }
        form_insert(&mut root, &path, Value::String(value));
    }
    match listify(root) {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

/// `a[b][0][]` is `["a", "b", "0", ""]`; `None` for unbalanced brackets or too deep a nesting.
fn form_path(key: &str) -> Option<Vec<String>> {
    let (head, mut rest) = match key.find('[') {
        Some(at) => key.split_at_checked(at)?,
        None => (key, ""),
    };
    if head.is_empty() {
        return None;
    }
    let mut out = vec![head.to_string()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let (segment, after) = inner.split_once(']')?;
        out.push(segment.to_string());
        rest = after;
        if out.len() > MAX_FORM_DEPTH {
            return None;
        }
    }
    Some(out)
}

/// Puts `value` at `path` under `node` (a scalar in the way becomes an object).
fn form_insert(node: &mut Value, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *node = value;
        return;
    };
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    let Value::Object(map) = node else {
        return;
    };
    form_insert(map.entry(first.clone()).or_insert(Value::Null), rest, value);
}

/// Objects keyed `0`, `1`, ... `n-1` become lists (PHP's lists), everywhere.
fn listify(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let n = map.len();
            let is_list = n > 0 && (0..n).all(|i| map.contains_key(&i.to_string()));
            if is_list {
                let mut map = map;
                Value::Array(
                    (0..n)
                        .map(|i| listify(map.remove(&i.to_string()).unwrap_or(Value::Null)))
                        .collect(),
                )
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, listify(v))).collect())
            }
        }
        other => other,
    }
}

/// A required reference (`ref1`): a non-blank string, or a number as its text (plugins send
/// order ids as integers).
fn req_ref(l: &Lenient, e: &mut FieldErrors, field: &str) -> Option<String> {
    match l.get(field) {
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => req_string(l, e, field, MAX_TEXT),
    }
}

/// A reference that must be present and may be empty (`ref2`): a string, a number (its
/// text) or null (empty).
fn present_ref(l: &Lenient, e: &mut FieldErrors, field: &str) -> Option<String> {
    match l.get(field) {
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => present_string(l, e, field, MAX_TEXT),
    }
}

fn required(e: &mut FieldErrors, path: &str) {
    e.add(path, format!("The {path} field is required."));
}

/// A required non-blank string of at most `max` characters.
fn req_string(l: &Lenient, e: &mut FieldErrors, field: &str, max: usize) -> Option<String> {
    let path = l.path(field);
    match l.get(field) {
        None => {
            required(e, &path);
            None
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            required(e, &path);
            None
        }
        Some(Value::String(s)) => check_len(e, &path, s.trim(), max),
        Some(_) => {
            e.add(&path, format!("The {path} must be a string."));
            None
        }
    }
}

/// An optional string (absent or null: `None`; may be empty).
fn opt_string(l: &Lenient, e: &mut FieldErrors, field: &str, max: usize) -> Option<String> {
    let path = l.path(field);
    match l.get(field) {
        None => None,
        Some(Value::String(s)) => check_len(e, &path, s.trim(), max),
        Some(_) => {
            e.add(&path, format!("The {path} must be a string."));
            None
        }
    }
}

/// A field that must be present and may be empty (`ref2`); null is empty.
fn present_string(l: &Lenient, e: &mut FieldErrors, field: &str, max: usize) -> Option<String> {
    let path = l.path(field);
    if !l.object.contains_key(field) {
        e.add(&path, format!("The {path} field must be present."));
        return None;
    }
    match l.get(field) {
        None => Some(String::new()),
        Some(Value::String(s)) => check_len(e, &path, s.trim(), max),
        Some(_) => {
            e.add(&path, format!("The {path} must be a string."));
            None
        }
    }
}

fn check_len(e: &mut FieldErrors, path: &str, s: &str, max: usize) -> Option<String> {
    if s.chars().count() > max {
        e.add(
            path,
            format!("The {path} may not be greater than {max} characters."),
        );
        None
    } else {
        Some(s.to_string())
    }
}

fn date(l: &Lenient, e: &mut FieldErrors, field: &str, is_required: bool) -> Option<Date> {
    let path = l.path(field);
    match l.get(field) {
        None if is_required => {
            required(e, &path);
            None
        }
        None => None,
        Some(Value::String(s)) => {
            match Date::parse(s.trim(), format_description!("[year]-[month]-[day]")) {
                // A due date lies ahead by nature: only core's lower bound applies.
                Ok(d) if d < input::EARLIEST => {
                    e.add(
                        &path,
                        format!("The {path} must be a date after or equal to 2000-01-01."),
                    );
                    None
                }
                Ok(d) => Some(d),
                Err(_) => {
                    e.add(
                        &path,
                        format!("The {path} does not match the format Y-m-d."),
                    );
                    None
                }
            }
        }
        Some(_) => {
            e.add(
                &path,
                format!("The {path} does not match the format Y-m-d."),
            );
            None
        }
    }
}

fn currency(l: &Lenient, e: &mut FieldErrors, field: &str, is_required: bool) -> Option<Currency> {
    let path = l.path(field);
    match l.get(field) {
        None if is_required => {
            required(e, &path);
            None
        }
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() && is_required => {
            required(e, &path);
            None
        }
        Some(Value::String(s)) => match Currency::from_code(&s.trim().to_ascii_uppercase()) {
            Ok(c) => Some(c),
            Err(_) => {
                e.add(&path, format!("The selected {path} is invalid."));
                None
            }
        },
        Some(_) => {
            e.add(&path, format!("The selected {path} is invalid."));
            None
        }
    }
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.len() <= 254
}

fn is_mobile(s: &str) -> bool {
    let t = s.strip_prefix('+').unwrap_or(s);
    let digits: String = t.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (6..=20).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
}

fn is_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://"))
        && s.len() > "https://".len()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An optional http(s) URL; `Some(None)` when sent null or empty (clears it).
fn opt_url(l: &Lenient, e: &mut FieldErrors, field: &str) -> Option<Option<String>> {
    let path = l.path(field);
    if !l.object.contains_key(field) {
        return None;
    }
    match l.get(field) {
        None => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(Value::String(s)) if is_url(s.trim()) && s.len() <= 2048 => {
            Some(Some(s.trim().to_string()))
        }
        Some(_) => {
            e.add(&path, format!("The {path} format is invalid."));
            None
        }
    }
}

fn email(l: &Lenient, e: &mut FieldErrors, field: &str, is_required: bool) -> Option<String> {
    let v = if is_required {
        req_string(l, e, field, MAX_TEXT)
    } else {
        opt_string(l, e, field, MAX_TEXT)
    }?;
    if !v.is_empty() && !is_email(&v) {
        let path = l.path(field);
        e.add(&path, format!("The {path} must be a valid email address."));
        return None;
    }
    Some(v)
}

fn mobile(l: &Lenient, e: &mut FieldErrors, field: &str, is_required: bool) -> Option<String> {
    let v = if is_required {
        req_string(l, e, field, MAX_TEXT)
    } else {
        opt_string(l, e, field, MAX_TEXT)
    }?;
    if !v.is_empty() && !is_mobile(&v) {
        let path = l.path(field);
        e.add(&path, format!("The {path} format is invalid."));
        return None;
    }
    Some(v)
}

/// An account code: a string or a whole number; blank means none.
fn acc_no(l: &Lenient, e: &mut FieldErrors, field: &str) -> Option<String> {
    let path = l.path(field);
    let text = match l.get(field) {
        None => return None,
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        Some(_) => {
            e.add(&path, format!("The {path} must be a string."));
            return None;
        }
    };
    if text.is_empty() {
        return None;
    }
    check_len(e, &path, &text, MAX_ACC_NO)
}

/// A positive whole number (a JSON number or digits in a string).
fn id(l: &Lenient, e: &mut FieldErrors, field: &str) -> Option<i64> {
    let path = l.path(field);
    let parsed = match l.get(field)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if n > 0 => Some(n),
        _ => {
            e.add(&path, format!("The {path} must be an integer."));
            None
        }
    }
}

/// A price as a JSON number or decimal string, exact; checked against `currency` when known.
/// `Ok(None)` means valid but the currency is unknown.
fn price_value(
    value: &Value,
    path: &str,
    currency: Option<Currency>,
) -> Result<Option<Money>, String> {
    let not_number = || format!("The {path} must be a number.");
    let negative = || format!("The {path} must be at least 0.");
    match currency {
        Some(c) => match money_from_number_or_string(value, c) {
            Ok(m) if m.minor() < 0 => Err(negative()),
            Ok(m) => Ok(Some(m)),
            Err(AmountError::Money(MoneyError::TooPrecise { .. })) => Err(format!(
                "The {path} has more decimals than {} allows.",
                c.code()
            )),
            Err(AmountError::Money(MoneyError::Overflow)) => {
                Err(format!("The {path} is too large."))
            }
            Err(_) => Err(not_number()),
        },
        None => match decimal(value) {
            Some(d) if d < Decimal::ZERO => Err(negative()),
            Some(_) => Ok(None),
            None => Err(not_number()),
        },
    }
}

/// Exact decimal from a JSON number or a decimal string (no exponent notation).
fn decimal(value: &Value) -> Option<Decimal> {
    let text = decimal_text(value)?;
    if text.is_empty()
        || !text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
    {
        return None;
    }
    Decimal::from_str_exact(&text).ok()
}

/// A catalogue price as stored: the currency's decimals when it has one, else at least two.
fn price_text(value: &Value, currency: Option<Currency>) -> Option<String> {
    match currency {
        Some(c) => money_from_number_or_string(value, c)
            .ok()
            .map(|m| m.to_fixed_string()),
        None => decimal(value).map(|d| {
            let mut d = d.normalize();
            if d.scale() < 2 {
                d.rescale(2);
            }
            d.to_string()
        }),
    }
}

fn quantity(l: &Lenient, e: &mut FieldErrors, field: &str) -> Option<Decimal> {
    let path = l.path(field);
    let Some(v) = l.get(field) else {
        required(e, &path);
        return None;
    };
    match decimal(v) {
        Some(q) if q > Decimal::ZERO => Some(q),
        Some(_) => {
            e.add(&path, format!("The {path} must be greater than 0."));
            None
        }
        None => {
            e.add(&path, format!("The {path} must be a number."));
            None
        }
    }
}

fn boolean(l: &Lenient, e: &mut FieldErrors, field: &str) -> Option<bool> {
    let path = l.path(field);
    match l.get(field)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_u64() == Some(1) => Some(true),
        Value::Number(n) if n.as_u64() == Some(0) => Some(false),
        Value::String(s) if matches!(s.trim(), "1" | "true") => Some(true),
        Value::String(s) if matches!(s.trim(), "0" | "false") => Some(false),
        _ => {
            e.add(&path, format!("The {path} field must be true or false."));
            None
        }
    }
}

fn object<'a>(l: &Lenient<'a>, e: &mut FieldErrors, field: &str) -> Option<&'a Object> {
    let path = l.path(field);
    match l.get(field) {
        None => {
            required(e, &path);
            None
        }
        Some(Value::Object(m)) => Some(m),
        Some(_) => {
            e.add(&path, format!("The {path} must be an object."));
            None
        }
    }
}

fn finish<T>(errors: FieldErrors, value: Option<T>) -> Result<T, ApiError> {
    match (errors.is_empty(), value) {
        (true, Some(v)) => Ok(v),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// The customer of a new bill: with `acc_no` it is found (and updated) or created, and the
/// other fields are optional; without, a new customer needs names, e-mail and mobile.
fn customer(l: &Lenient, e: &mut FieldErrors) -> Option<CustomerInput> {
    let acc = acc_no(l, e, "acc_no");
    let need = acc.is_none();
    let first_name = if need {
        req_string(l, e, "first_name", MAX_TEXT)
    } else {
        opt_string(l, e, "first_name", MAX_TEXT)
    };
    let last_name = if need {
        req_string(l, e, "last_name", MAX_TEXT)
    } else {
        opt_string(l, e, "last_name", MAX_TEXT)
    };
    let email = email(l, e, "email", need);
    let mobile = mobile(l, e, "mobile", need);
    let address = opt_string(l, e, "address", MAX_TEXT);
    Some(CustomerInput {
        acc_no: acc,
        first_name: first_name.unwrap_or_default(),
        last_name: last_name.unwrap_or_default(),
        email: email.unwrap_or_default(),
        mobile: mobile.unwrap_or_default(),
        address: address.unwrap_or_default(),
    })
}

/// A create-bill request after validation: the bill when every field is valid, the errors
/// found, and the catalogue product ids named (to check them against the store in the same
/// answer when something else is wrong).
#[derive(Debug)]
pub struct BillDraft {
    pub bill: Option<NewCollectionBill>,
    pub errors: FieldErrors,
    /// (position in `product`, id).
    pub product_ids: Vec<(usize, i64)>,
}

/// Line `i` of a create-bill `product` array; a catalogue id it names is added to
/// `product_ids`. `None` when the line has no usable quantity (its errors are in `e`).
fn bill_line(
    i: usize,
    item: &Value,
    cur: Option<Currency>,
    e: &mut FieldErrors,
    product_ids: &mut Vec<(usize, i64)>,
) -> Option<BillLine> {
    let prefix = format!("product.{i}");
    let Value::Object(obj) = item else {
        e.add(&prefix, format!("The {prefix} must be an object."));
        return None;
    };
    let p = Lenient::new(obj, &prefix);
    let product_id = id(&p, e, "id");
    if let Some(pid) = product_id {
        product_ids.push((i, pid));
    }
    let has_id = p.get("id").is_some();
    let title = if has_id {
        opt_string(&p, e, "title", MAX_TEXT)
    } else {
        req_string(&p, e, "title", MAX_TEXT)
    };
    let price = match p.get("price") {
        None if has_id => None,
        None => {
            required(e, &p.path("price"));
            None
        }
        Some(v) => match price_value(v, &p.path("price"), cur) {
            Ok(m) => m,
            Err(msg) => {
                e.add(p.path("price"), msg);
                None
            }
        },
    };
    let qty = quantity(&p, e, "quantity");
    // Core's line rule, here too, so a bad total shows with the other errors.
    if let (Some(q), Some(m)) = (qty, price)
        && let Err(err) = LineItem::new(String::new(), q, m, None)
    {
        let (f, msg) = line_problem(i, &err);
        e.add(f, msg);
    }
    qty.map(|quantity| BillLine {
        product_id,
        title: title.unwrap_or_default(),
        price,
        quantity,
    })
}

/// `POST /api/collections/{CODE}/bills`.
pub fn new_bill(body: &Object, collection_code: String) -> BillDraft {
    let mut e = FieldErrors::new();
    let l = Lenient::new(body, "");
    let due = date(&l, &mut e, "due", true);
    let ref1 = req_ref(&l, &mut e, "ref1");
    let ref2 = present_ref(&l, &mut e, "ref2");
    let cur = currency(&l, &mut e, "currency", true);
    let cust =
        object(&l, &mut e, "customer").and_then(|c| customer(&Lenient::new(c, "customer"), &mut e));
    let mut lines = Vec::new();
    let mut product_ids = Vec::new();
    match l.get("product") {
        None => required(&mut e, "product"),
        Some(Value::Array(items)) if items.is_empty() => required(&mut e, "product"),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(line) = bill_line(i, item, cur, &mut e, &mut product_ids) {
                    lines.push(line);
                }
            }
        }
        Some(_) => e.add("product", "The product must be an array."),
    }
    let bill = match (due, ref1, ref2, cur, cust) {
        (Some(due), Some(ref1), Some(ref2), Some(currency), Some(customer)) => {
            Some(NewCollectionBill {
                collection_code,
                customer,
                currency,
                due,
                ref1,
                ref2,
                lines,
            })
        }
        _ => None,
    };
    BillDraft {
        bill,
        errors: e,
        product_ids,
    }
}

/// `PATCH /api/collections/{CODE}/bills/{BILL_NO}`.
pub fn bill_patch(body: &Object) -> Result<BillPatch, ApiError> {
    let mut e = FieldErrors::new();
    let l = Lenient::new(body, "");
    let due = date(&l, &mut e, "due", false);
    let ref1 = if l.object.contains_key("ref1") {
        req_ref(&l, &mut e, "ref1")
    } else {
        None
    };
    let ref2 = if l.object.contains_key("ref2") {
        present_ref(&l, &mut e, "ref2")
    } else {
        None
    };
    let currency = currency(&l, &mut e, "currency", false);
    let cancel = boolean(&l, &mut e, "cancel").unwrap_or(false);
    finish(
        e,
        Some(BillPatch {
            due,
            ref1,
            ref2,
            currency,
            cancel,
        }),
    )
}

/// `POST /api/collections`.
pub fn new_collection(body: &Object) -> Result<NewCollection, ApiError> {
    let mut e = FieldErrors::new();
    let l = Lenient::new(body, "");
    let name = req_string(&l, &mut e, "name", MAX_TEXT);
    let webhook_url = opt_url(&l, &mut e, "webhook_url").flatten();
    let redirect_url = opt_url(&l, &mut e, "redirect_url").flatten();
    finish(
        e,
        name.map(|name| NewCollection {
            name,
            webhook_url,
            redirect_url,
        }),
    )
}

/// `PATCH /api/collections/{CODE or id}`.
pub fn collection_patch(body: &Object) -> Result<CollectionPatch, ApiError> {
    let mut e = FieldErrors::new();
    let l = Lenient::new(body, "");
    let name = if l.object.contains_key("name") {
        req_string(&l, &mut e, "name", MAX_TEXT)
    } else {
        None
    };
    let webhook_url = opt_url(&l, &mut e, "webhook_url");
    let redirect_url = opt_url(&l, &mut e, "redirect_url");
    finish(
        e,
        Some(CollectionPatch {
            name,
            webhook_url,
            redirect_url,
        }),
    )
}

/// `POST /api/products`.
pub fn new_product(body: &Object) -> Result<ProductInput, ApiError> {
    let mut e = FieldErrors::new();
    let l = Lenient::new(body, "");
    let title = req_string(&l, &mut e, "title", MAX_TEXT);
    let code = opt_string(&l, &mut e, "code", MAX_TEXT).unwrap_or_default();
    let description = opt_string(&l, &mut e, "description", 65_535).unwrap_or_default();
    let cur = currency(&l, &mut e, "currency", false);
    let currency_bad = l.get("currency").is_some() && cur.is_none();
    let price = match l.get("price") {
        None => {
            required(&mut e, "price");
            None
        }
        Some(v) => match price_value(v, "price", cur) {
            Ok(_) if currency_bad => None,
            Ok(_) => price_text(v, cur),
            Err(msg) => {
                e.add("price", msg);
                None
            }
        },
    };
    let value = match (title, price) {
        (Some(title), Some(price)) => Some(ProductInput {
            title,
            code,
            description,
            price,
            currency: cur.map(|c| c.code().to_string()),
        }),
        _ => None,
    };
    finish(e, value)
}

/// `PATCH /api/products/{id}`; `current_currency` is the product's currency (prices are
/// checked against the new one when the request changes it).
pub fn product_patch(
    body: &Object,
    current_currency: Option<&str>,
) -> Result<ProductPatch, ApiError> {
    let mut e = FieldErrors::new();
    let l = Lenient::new(body, "");
    // `null` leaves a field as it is (rpclient sends every field, null when unchanged).
    let title = if l.get("title").is_some() {
        req_string(&l, &mut e, "title", MAX_TEXT)
    } else {
        None
    };
    let code = opt_string(&l, &mut e, "code", MAX_TEXT);
    let description = opt_string(&l, &mut e, "description", 65_535);
    let currency_field = if l.object.contains_key("currency") {
        match l.get("currency") {
            None => Some(None),
            Some(Value::String(s)) if s.trim().is_empty() => Some(None),
            Some(_) => currency(&l, &mut e, "currency", false).map(Some),
        }
    } else {
        None
    };
    let effective = match &currency_field {
        Some(c) => *c,
        None => current_currency.and_then(|c| Currency::from_code(c).ok()),
    };
    let price = match l.get("price") {
        None => None,
        Some(v) => match price_value(v, "price", effective) {
            Ok(_) => price_text(v, effective),
            Err(msg) => {
                e.add("price", msg);
                None
            }
        },
    };
    finish(
        e,
        Some(ProductPatch {
            title,
            code,
            description,
            price,
            currency: currency_field.map(|c| c.map(|c| c.code().to_string())),
        }),
    )
}

/// `POST /api/customers`.
pub fn new_customer(body: &Object) -> Result<CustomerInput, ApiError> {
    let mut e = FieldErrors::new();
    let l = Lenient::new(body, "");
    let acc = acc_no(&l, &mut e, "acc_no");
    let first_name = req_string(&l, &mut e, "first_name", MAX_TEXT);
    let last_name = req_string(&l, &mut e, "last_name", MAX_TEXT);
    let email = email(&l, &mut e, "email", true);
    let mobile = mobile(&l, &mut e, "mobile", true);
    let address = opt_string(&l, &mut e, "address", MAX_TEXT).unwrap_or_default();
    let value = match (first_name, last_name, email, mobile) {
        (Some(first_name), Some(last_name), Some(email), Some(mobile)) => Some(CustomerInput {
            acc_no: acc,
            first_name,
            last_name,
            email,
            mobile,
            address,
        }),
        _ => None,
    };
    finish(e, value)
}

/// `PATCH /api/customers/{id}`; the account code (`acc_no`) cannot change.
pub fn customer_patch(body: &Object, current_acc_no: &str) -> Result<CustomerPatch, ApiError> {
    let mut e = FieldErrors::new();
    let l = Lenient::new(body, "");
    if let Some(acc) = acc_no(&l, &mut e, "acc_no")
        && acc != current_acc_no
    {
        e.add("acc_no", "The acc_no cannot be changed.");
    }
    // `null` leaves a field as it is (rpclient's update sends every field, null when
    // unchanged).
    let name = |e: &mut FieldErrors, f: &str| {
        if l.get(f).is_some() {
            req_string(&l, e, f, MAX_TEXT)
        } else {
            None
        }
    };
    let first_name = name(&mut e, "first_name");
    let last_name = name(&mut e, "last_name");
    let email = email(&l, &mut e, "email", false);
    let mobile = mobile(&l, &mut e, "mobile", false);
    let address = opt_string(&l, &mut e, "address", MAX_TEXT);
    finish(
        e,
        Some(CustomerPatch {
            first_name,
            last_name,
            email,
            mobile,
            address,
        }),
    )
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn errors(r: Result<impl std::fmt::Debug, ApiError>) -> Vec<String> {
        match r {
            Err(ApiError::Validation(e)) => e.fields().map(|(k, _)| k.clone()).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn every_bad_field_at_once() {
        let body = obj(serde_json::json!({
            "due": "25-06-2020",
            "currency": "XXX",
            "customer": {"email": "nope", "mobile": "abc"},
            "product": [{"price": "1.005", "quantity": 0}, 7]
        }));
        let d = new_bill(&body, "C".into());
        let fields: Vec<String> = d.errors.fields().map(|(k, _)| k.clone()).collect();
        for f in [
            "due",
            "ref1",
            "ref2",
            "currency",
            "customer.first_name",
            "customer.last_name",
            "customer.email",
            "customer.mobile",
            "product.0.title",
            "product.0.quantity",
            "product.1",
        ] {
            assert!(fields.contains(&f.to_string()), "{f} missing in {fields:?}");
        }
    }

    #[test]
    fn prices_as_strings_and_numbers() {
        let body: Value = serde_json::from_str(
            r#"{"due":"2030-01-02","ref1":"a","ref2":"","currency":"MYR",
                "customer":{"first_name":"A","last_name":"B","email":"a@b.co","mobile":"60123456789"},
                "product":[{"title":"x","price":10.5,"quantity":2},{"title":"y","price":"5","quantity":"1.5"}]}"#,
        )
        .unwrap();
        let d = new_bill(&obj(body), "C".into());
        assert!(d.errors.is_empty());
        let b = d.bill.unwrap();
        assert_eq!(b.lines[0].price.unwrap().minor(), 1050);
        assert_eq!(b.lines[1].price.unwrap().minor(), 500);
        assert_eq!(b.lines[1].quantity, Decimal::new(15, 1));
        assert_eq!(b.ref2, "");
        assert!(b.customer.acc_no.is_none());
    }

    #[test]
    fn php_form_nesting() {
        let m = form_object(
            b"a=1&customer%5Bemail%5D=x%40y.co&product[0][price]=10.50&product[1][title]=B\
              &product[0][title]=A&tag[]=p&tag[]=q&m[2]=z&ref2=",
        )
        .unwrap();
        assert_eq!(
            Value::Object(m),
            serde_json::json!({
                "a": "1",
                "customer": {"email": "x@y.co"},
                "product": [{"price": "10.50", "title": "A"}, {"title": "B"}],
                "tag": ["p", "q"],
                "m": {"2": "z"},
                "ref2": ""
            })
        );
        // A later repeat wins; a scalar then an object becomes the object.
        let m = form_object(b"a=1&a=2&b=x&b[c]=y").unwrap();
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"a": "2", "b": {"c": "y"}})
        );
        for bad in [&b"a[b=1"[..], b"[x]=1", b"a]b[=1"] {
            assert!(
                matches!(form_object(bad), Err(ApiError::BadRequest(_))),
                "{bad:?}"
            );
        }
        let deep = format!("a{}=1", "[x]".repeat(MAX_FORM_DEPTH));
        assert!(form_object(deep.as_bytes()).is_err());
        let ok = format!("a{}=1", "[x]".repeat(MAX_FORM_DEPTH - 1));
        assert!(form_object(ok.as_bytes()).is_ok());
        // `[]` after an integer key continues after it, as PHP does; many are cheap.
        let m = form_object(b"x[5]=a&x[]=b").unwrap();
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"x": {"5": "a", "6": "b"}})
        );
        let many = "x[]=1&".repeat(40_000);
        let m = form_object(many.as_bytes()).unwrap();
        assert_eq!(m["x"].as_array().map(Vec::len), Some(40_000));
        // Forms and JSON decode alike.
        assert_eq!(
            parse_body(b"name=N", true).unwrap(),
            parse_body(br#"{"name":"N"}"#, false).unwrap()
        );
        assert!(matches!(
            parse_body(b"  ", true),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn references_may_be_numbers() {
        let body: Value = serde_json::from_str(
            r#"{"due":"2030-01-02","ref1":17,"ref2":1234,"currency":"MYR",
                "customer":{"acc_no":"A-1"},"product":[{"title":"x","price":1,"quantity":1}]}"#,
        )
        .unwrap();
        let b = new_bill(&obj(body), "C".into()).bill.unwrap();
        assert_eq!((b.ref1.as_str(), b.ref2.as_str()), ("17", "1234"));
        let p = bill_patch(&obj(serde_json::json!({"ref1": 5, "ref2": 6}))).unwrap();
        assert_eq!(
            (p.ref1.as_deref(), p.ref2.as_deref()),
            (Some("5"), Some("6"))
        );
    }

    #[test]
    fn null_leaves_a_customer_field() {
        let p = customer_patch(
            &obj(serde_json::json!({"first_name": null, "last_name": "B", "email": null})),
            "A-1",
        )
        .unwrap();
        assert_eq!(p.first_name, None);
        assert_eq!(p.last_name.as_deref(), Some("B"));
        assert_eq!(p.email, None);
    }

    #[test]
    fn catalogue_prices() {
        let p = new_product(&obj(serde_json::json!({"title": "t", "price": 10}))).unwrap();
        assert_eq!(p.price, "10.00");
        let p = new_product(&obj(serde_json::json!({"title": "t", "price": "10.505"}))).unwrap();
        assert_eq!(p.price, "10.505");
        assert_eq!(
            errors(new_product(&obj(
                serde_json::json!({"title": "t", "price": "10.505", "currency": "MYR"})
            ))),
            vec!["price"]
        );
    }
}
