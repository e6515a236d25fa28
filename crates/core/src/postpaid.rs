//! The fields a postpaid (CSQ) terminal asks the payer for: the organization setting
//! `postpaid.fields`, parsed and validated here so that `billhub org set` refuses a bad value and
//! the gateway reads a typed list.
//!
//! The setting is a JSON array of field objects:
//!
//! ```json
//! [
//!   {"name": "card_code", "label": "CARD CODE", "type": "INPUT", "minLength": 6, "maxLength": 12, "account": true},
//!   {"name": "installments_to_pay", "label": "INSTALLMENTS TO PAY", "type": "INPUT"}
//! ]
//! ```
//!
//! - `name` (required): 1 to 40 characters `[A-Za-z0-9_]`, unique, not `transaction_code`.
//! - `label`: shown by the terminal; defaults to the name in capitals with `_` as spaces.
//! - `type`: `INPUT` (default) or `SELECT`; a `SELECT` needs `list`, the allowed values.
//! - `minLength` / `maxLength`: value length in characters (defaults 1 and 64, at most 256).
//! - `account`: exactly one field is the account code (what the payer types at any channel).
//! - `query` / `pay`: whether the field is asked at the invoice lookup and at the payment
//!   (both default to `true`; the account field must be in both).
//!
//! A field named [`INSTALLMENTS_FIELD`] is special: its value is a whole number from 1 to 999,
//! and the invoice lookup lists at most that many of the oldest payable invoices.
//! Unset, the setting is one `INPUT` field `account` ([`TerminalFields::default`]).

use serde_json::Value;

/// The field whose value limits the invoice listing to that many oldest payable invoices.
pub const INSTALLMENTS_FIELD: &str = "installments_to_pay";
/// The dynamic value the invoice lookup returns and the payment must carry back.
pub const TRANSACTION_CODE: &str = "transaction_code";
/// The largest `installments_to_pay` value.
pub const MAX_INSTALLMENTS: u32 = 999;

const MAX_FIELDS: usize = 12;
const MAX_LENGTH: u32 = 256;
const DEFAULT_MAX_LENGTH: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Input,
    Select,
}

impl FieldKind {
    /// The spelling in the setting and on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            FieldKind::Input => "INPUT",
            FieldKind::Select => "SELECT",
        }
    }
}

/// One field a terminal shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalField {
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    pub min_length: u32,
    pub max_length: u32,
    /// The allowed values of a `SELECT` (empty for `INPUT`).
    pub options: Vec<String>,
    /// Whether this field is the account code.
    pub account: bool,
    pub query: bool,
    pub pay: bool,
}

impl TerminalField {
    /// Whether this is the [`INSTALLMENTS_FIELD`].
    pub fn is_installments(&self) -> bool {
        self.name == INSTALLMENTS_FIELD
    }

    /// Checks a value the terminal sent for this field.
    pub fn check_value(&self, value: &str) -> Result<(), FieldValueError> {
        let len = value.chars().count() as u32;
        if len < self.min_length || len > self.max_length {
            return Err(FieldValueError::Length {
                min: self.min_length,
                max: self.max_length,
            });
        }
        if self.kind == FieldKind::Select && !self.options.iter().any(|o| o == value) {
            return Err(FieldValueError::NotAnOption);
        }
        if self.is_installments() {
            installments(value)?;
        }
        Ok(())
    }
}

/// Reads an [`INSTALLMENTS_FIELD`] value: a whole number from 1 to [`MAX_INSTALLMENTS`].
pub fn installments(value: &str) -> Result<u32, FieldValueError> {
    let ok = !value.is_empty() && value.len() <= 3 && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u32>() {
        Ok(n) if ok && (1..=MAX_INSTALLMENTS).contains(&n) => Ok(n),
        _ => Err(FieldValueError::Installments),
    }
}

/// Why a field value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldValueError {
    #[error("must be {min} to {max} characters long")]
    Length { min: u32, max: u32 },
    #[error("is not one of the allowed values")]
    NotAnOption,
    #[error("must be a whole number from 1 to 999")]
    Installments,
}

/// Why a `postpaid.fields` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("expected a JSON array of 1 to {MAX_FIELDS} field objects")]
    NotAList,
    #[error("field {index}: {reason}")]
    Field { index: usize, reason: String },
    #[error("exactly one field must have \"account\": true (found {0})")]
    AccountCount(usize),
}

/// The terminal fields of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalFields {
    fields: Vec<TerminalField>,
}

impl Default for TerminalFields {
    /// One `INPUT` field `account`, the account code.
    fn default() -> Self {
        TerminalFields {
            fields: vec![TerminalField {
                name: "account".into(),
                label: "ACCOUNT".into(),
                kind: FieldKind::Input,
                min_length: 1,
                max_length: DEFAULT_MAX_LENGTH,
                options: Vec::new(),
                account: true,
                query: true,
                pay: true,
            }],
        }
    }
}

fn default_label(name: &str) -> String {
    name.replace('_', " ").to_uppercase()
}

fn parse_field(index: usize, value: &Value) -> Result<TerminalField, FieldsError> {
    let fail = |reason: String| FieldsError::Field { index, reason };
    let obj = value
        .as_object()
        .ok_or_else(|| fail("must be an object".into()))?;
    for key in obj.keys() {
        if ![
            "name",
            "label",
            "type",
            "minLength",
            "maxLength",
            "list",
            "account",
            "query",
            "pay",
        ]
        .contains(&key.as_str())
        {
            return Err(fail(format!("unknown key `{key}`")));
        }
    }
    let text = |key: &str| -> Result<Option<String>, FieldsError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(fail(format!("`{key}` must be a string"))),
        }
    };
    let flag = |key: &str, default: bool| -> Result<bool, FieldsError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(fail(format!("`{key}` must be true or false"))),
        }
    };
    let length = |key: &str, default: u32| -> Result<u32, FieldsError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if v <= u64::from(MAX_LENGTH) => Ok(v as u32),
                _ => Err(fail(format!(
                    "`{key}` must be a whole number from 0 to {MAX_LENGTH}"
                ))),
            },
            Some(_) => Err(fail(format!("`{key}` must be a number"))),
        }
    };
    let name = text("name")?.ok_or_else(|| fail("`name` is required".into()))?;
    if name.is_empty()
        || name.len() > 40
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(fail(format!(
            "name `{name}` must be 1 to 40 characters of letters, digits and _"
        )));
    }
    if name == TRANSACTION_CODE {
        return Err(fail(format!(
            "`{TRANSACTION_CODE}` is added by billhub and cannot be configured"
        )));
    }
    let label = match text("label")? {
        Some(l) if !l.trim().is_empty() => l,
        _ => default_label(&name),
    };
    let kind = match text("type")?.as_deref() {
        None | Some("INPUT") => FieldKind::Input,
        Some("SELECT") => FieldKind::Select,
        Some(other) => {
            return Err(fail(format!("type `{other}` must be INPUT or SELECT")));
        }
    };
    let min_length = length("minLength", 1)?;
    let max_length = length("maxLength", DEFAULT_MAX_LENGTH)?;
    if max_length == 0 || min_length > max_length {
        return Err(fail(
            "minLength must not exceed maxLength, and maxLength must be positive".into(),
        ));
    }
    let options = match obj.get("list") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                _ => Err(fail("`list` must hold non-empty strings".into())),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(fail("`list` must be an array of strings".into())),
    };
    match kind {
        FieldKind::Select if options.is_empty() => {
            return Err(fail("a SELECT field needs a non-empty `list`".into()));
        }
        FieldKind::Input if !options.is_empty() => {
            return Err(fail("`list` is only for SELECT fields".into()));
        }
        _ => {}
    }
    let account = flag("account", false)?;
    let query = flag("query", true)?;
    let pay = flag("pay", true)?;
    if account && !(query && pay) {
        return Err(fail(
            "the account field must be asked at both query and pay".into(),
        ));
    }
    if !(query || pay) {
        return Err(fail("a field must be in query, pay or both".into()));
    }
    let field = TerminalField {
        name,
        label,
        kind,
        min_length,
        max_length,
        options,
        account,
        query,
        pay,
    };
    if field.account && field.is_installments() {
        return Err(fail(format!(
            "`{INSTALLMENTS_FIELD}` cannot be the account field"
        )));
    }
    Ok(field)
}

impl TerminalFields {
    /// Parses and validates a `postpaid.fields` value.
    pub fn parse(json: &str) -> Result<TerminalFields, FieldsError> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| FieldsError::Json(e.to_string()))?;
        let items = match &value {
            Value::Array(items) if !items.is_empty() && items.len() <= MAX_FIELDS => items,
            _ => return Err(FieldsError::NotAList),
        };
        let mut fields: Vec<TerminalField> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let field = parse_field(index, item)?;
            if fields.iter().any(|f| f.name == field.name) {
                return Err(FieldsError::Field {
                    index,
                    reason: format!("name `{}` appears twice", field.name),
                });
            }
            fields.push(field);
        }
        let accounts = fields.iter().filter(|f| f.account).count();
        if accounts != 1 {
            return Err(FieldsError::AccountCount(accounts));
        }
        Ok(TerminalFields { fields })
    }

    /// The organization's setting (`None`: the default single `account` field).
    pub fn from_setting(setting: Option<&str>) -> Result<TerminalFields, FieldsError> {
        match setting {
            Some(text) if !text.trim().is_empty() => TerminalFields::parse(text),
            _ => Ok(TerminalFields::default()),
        }
    }

    pub fn fields(&self) -> &[TerminalField] {
        &self.fields
    }

    pub fn field(&self, name: &str) -> Option<&TerminalField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The account code field.
    pub fn account_field(&self) -> &TerminalField {
        // `parse` and `default` guarantee exactly one; fall back to the first field regardless.
        self.fields
            .iter()
            .find(|f| f.account)
            .unwrap_or(&self.fields[0])
    }

    /// Names asked at the invoice lookup, in order.
    pub fn query_names(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| f.query)
            .map(|f| f.name.as_str())
            .collect()
    }

    /// Names the payment must carry, in order, ending with [`TRANSACTION_CODE`].
    pub fn pay_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .fields
            .iter()
            .filter(|f| f.pay)
            .map(|f| f.name.as_str())
            .collect();
        names.push(TRANSACTION_CODE);
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_one_account_field() {
        let f = TerminalFields::from_setting(None).unwrap();
        assert_eq!(f.query_names(), vec!["account"]);
        assert_eq!(f.pay_names(), vec!["account", "transaction_code"]);
        assert_eq!(f.account_field().label, "ACCOUNT");
        assert_eq!(TerminalFields::from_setting(Some("  ")).unwrap(), f);
    }

    #[test]
    fn seed_fields() {
        let f = TerminalFields::parse(
            r#"[{"name":"card_code","label":"CARD CODE","type":"INPUT","account":true},
                {"name":"installments_to_pay"}]"#,
        )
        .unwrap();
        assert_eq!(f.query_names(), vec!["card_code", "installments_to_pay"]);
        assert_eq!(
            f.pay_names(),
            vec!["card_code", "installments_to_pay", "transaction_code"]
        );
        let inst = f.field("installments_to_pay").unwrap();
        assert_eq!(inst.label, "INSTALLMENTS TO PAY");
        assert!(inst.is_installments());
        assert_eq!(inst.check_value("2"), Ok(()));
        assert_eq!(inst.check_value("0"), Err(FieldValueError::Installments));
        assert_eq!(inst.check_value("x"), Err(FieldValueError::Installments));
        assert_eq!(inst.check_value("1000"), Err(FieldValueError::Installments));
        assert_eq!(installments("007"), Ok(7));
        assert_eq!(f.account_field().name, "card_code");
    }

    #[test]
    fn value_checks() {
        let f = TerminalFields::parse(
            r#"[{"name":"card","minLength":6,"maxLength":8,"account":true},
                {"name":"plan","type":"SELECT","list":["A","B"],"pay":false}]"#,
        )
        .unwrap();
        let card = f.field("card").unwrap();
        assert!(card.check_value("12345").is_err());
        assert!(card.check_value("123456").is_ok());
        assert!(card.check_value("123456789").is_err());
        let plan = f.field("plan").unwrap();
        assert!(plan.check_value("A").is_ok());
        assert_eq!(plan.check_value("C"), Err(FieldValueError::NotAnOption));
        assert_eq!(f.pay_names(), vec!["card", "transaction_code"]);
        assert_eq!(f.query_names(), vec!["card", "plan"]);
    }

    #[test]
    fn refusals() {
        let bad = [
            "",
            "{}",
            "[]",
            "[1]",
            r#"[{"name":"a"}]"#,
            r#"[{"name":"a","account":true},{"name":"b","account":true}]"#,
            r#"[{"name":"a","account":true},{"name":"a"}]"#,
            r#"[{"name":"a b","account":true}]"#,
            r#"[{"name":"transaction_code","account":true}]"#,
            r#"[{"name":"a","account":true,"colour":"red"}]"#,
            r#"[{"name":"a","account":true,"type":"RADIO"}]"#,
            r#"[{"name":"a","account":true,"type":"SELECT"}]"#,
            r#"[{"name":"a","account":true,"list":["x"]}]"#,
            r#"[{"name":"a","account":true,"minLength":5,"maxLength":4}]"#,
            r#"[{"name":"a","account":true,"maxLength":100000}]"#,
            r#"[{"name":"a","account":true,"pay":false}]"#,
            r#"[{"name":"a","account":true},{"name":"b","query":false,"pay":false}]"#,
            r#"[{"name":"installments_to_pay","account":true}]"#,
        ];
        for text in bad {
            assert!(TerminalFields::parse(text).is_err(), "accepted {text}");
        }
        assert_eq!(
            TerminalFields::parse(r#"[{"name":"a"}]"#),
            Err(FieldsError::AccountCount(0))
        );
    }

    #[test]
    fn the_setting_is_validated_when_set() {
        use crate::org::Settings;
        assert!(Settings::from_pairs([("postpaid.fields", "[]")]).is_err());
        let s = Settings::from_pairs([(
            "postpaid.fields",
            r#"[{"name":"card_code","account":true}]"#,
        )])
        .unwrap();
        assert!(s.postpaid_fields.is_some());
        assert_eq!(
            Settings::from_pairs([("postpaid.fields", "")])
                .unwrap()
                .postpaid_fields,
            None
        );
    }
}
