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
//!
//! The postpaid rules, pure like [`crate::rules::decide`]: [`quote`] says what an invoice lookup
//! shows (the listed invoices, the total, the fee `postpaid.fee_x100` and the payment type), and
//! [`settle`] what a payment of a given amount under that quote means (the net amount after the
//! fee and the invoices it pays, TOTAL / DISCRETE / OPEN), or why it is refused. The gateway only
//! spells them.

use serde_json::Value;
use time::OffsetDateTime;

use crate::bill::{Bill, BillStatus, SettlementMode};
use crate::money::Currency;
use crate::rules::{Rejection, payable_bills};

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
        let len = u32::try_from(value.chars().count()).unwrap_or(u32::MAX);
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
            fields: vec![DEFAULT_ACCOUNT_FIELD.clone()],
        }
    }
}

/// The default's single field (see [`TerminalFields::default`]).
static DEFAULT_ACCOUNT_FIELD: std::sync::LazyLock<TerminalField> =
    std::sync::LazyLock::new(|| TerminalField {
        name: "account".into(),
        label: "ACCOUNT".into(),
        kind: FieldKind::Input,
        min_length: 1,
        max_length: DEFAULT_MAX_LENGTH,
        options: Vec::new(),
        account: true,
        query: true,
        pay: true,
    });

fn default_label(name: &str) -> String {
    name.replace('_', " ").to_uppercase()
}

/// The keys a field object may have.
const FIELD_KEYS: [&str; 9] = [
    "name",
    "label",
    "type",
    "minLength",
    "maxLength",
    "list",
    "account",
    "query",
    "pay",
];

/// One field object of the setting, read key by key; errors are the reason alone.
struct FieldObject<'a>(&'a serde_json::Map<String, Value>);

impl FieldObject<'_> {
    fn text(&self, key: &str) -> Result<Option<String>, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` must be a string")),
        }
    }

    fn flag(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("`{key}` must be true or false")),
        }
    }

    fn length(&self, key: &str, default: u32) -> Result<u32, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => match n.as_u64().and_then(|v| u32::try_from(v).ok()) {
                Some(v) if v <= MAX_LENGTH => Ok(v),
                _ => Err(format!(
                    "`{key}` must be a whole number from 0 to {MAX_LENGTH}"
                )),
            },
            Some(_) => Err(format!("`{key}` must be a number")),
        }
    }

    fn name(&self) -> Result<String, String> {
        let name = self.text("name")?.ok_or("`name` is required")?;
        if name.is_empty()
            || name.len() > 40
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(format!(
                "name `{name}` must be 1 to 40 characters of letters, digits and _"
            ));
        }
        if name == TRANSACTION_CODE {
            return Err(format!(
                "`{TRANSACTION_CODE}` is added by billhub and cannot be configured"
            ));
        }
        Ok(name)
    }

    fn kind(&self) -> Result<FieldKind, String> {
        match self.text("type")?.as_deref() {
            None | Some("INPUT") => Ok(FieldKind::Input),
            Some("SELECT") => Ok(FieldKind::Select),
            Some(other) => Err(format!("type `{other}` must be INPUT or SELECT")),
        }
    }

    fn lengths(&self) -> Result<(u32, u32), String> {
        let min_length = self.length("minLength", 1)?;
        let max_length = self.length("maxLength", DEFAULT_MAX_LENGTH)?;
        if max_length == 0 || min_length > max_length {
            return Err(
                "minLength must not exceed maxLength, and maxLength must be positive".into(),
            );
        }
        Ok((min_length, max_length))
    }

    fn options(&self, kind: FieldKind) -> Result<Vec<String>, String> {
        let options = match self.0.get("list") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) if !s.is_empty() => Ok(s.clone()),
                    _ => Err("`list` must hold non-empty strings".to_string()),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err("`list` must be an array of strings".into()),
        };
        match kind {
            FieldKind::Select if options.is_empty() => {
                Err("a SELECT field needs a non-empty `list`".into())
            }
            FieldKind::Input if !options.is_empty() => {
                Err("`list` is only for SELECT fields".into())
            }
            FieldKind::Select | FieldKind::Input => Ok(options),
        }
    }

    /// `account`, `query` and `pay`.
    fn roles(&self) -> Result<(bool, bool, bool), String> {
        let account = self.flag("account", false)?;
        let query = self.flag("query", true)?;
        let pay = self.flag("pay", true)?;
        if account && !(query && pay) {
            return Err("the account field must be asked at both query and pay".into());
        }
        if !(query || pay) {
            return Err("a field must be in query, pay or both".into());
        }
        Ok((account, query, pay))
    }

    fn field(&self) -> Result<TerminalField, String> {
        if let Some(key) = self.0.keys().find(|k| !FIELD_KEYS.contains(&k.as_str())) {
            return Err(format!("unknown key `{key}`"));
        }
        let name = self.name()?;
        let label = match self.text("label")? {
            Some(l) if !l.trim().is_empty() => l,
            _ => default_label(&name),
        };
        let kind = self.kind()?;
        let (min_length, max_length) = self.lengths()?;
        let options = self.options(kind)?;
        let (account, query, pay) = self.roles()?;
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
            return Err(format!(
                "`{INSTALLMENTS_FIELD}` cannot be the account field"
            ));
        }
        Ok(field)
    }
}

fn parse_field(index: usize, value: &Value) -> Result<TerminalField, FieldsError> {
    value
        .as_object()
        .ok_or_else(|| "must be an object".to_string())
        .and_then(|obj| FieldObject(obj).field())
        .map_err(|reason| FieldsError::Field { index, reason })
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
        // `parse` and `default` guarantee exactly one; fall back to the first field, then to the
        // default's, regardless.
        self.fields
            .iter()
            .find(|f| f.account)
            .or_else(|| self.fields.first())
            .unwrap_or(&DEFAULT_ACCOUNT_FIELD)
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

// ----------------------------------------------------------------------------------------------
// Amounts in X100, the quote a lookup shows and what a payment means

/// Minor units of `currency` as X100 (hundredths of the major unit, the unit of
/// `postpaid.fee_x100` and of the dialect's amounts), when that is exact and fits an int32.
pub fn to_x100(minor: i64, currency: Currency) -> Option<i64> {
    let x100 = match currency.exponent() {
        e @ 0..=2 => minor.checked_mul(10i64.pow(2 - e))?,
        e => {
            let div = 10i64.pow(e - 2);
            if minor % div != 0 {
                return None;
            }
            minor / div
        }
    };
    (i64::from(i32::MIN)..=i64::from(i32::MAX))
        .contains(&x100)
        .then_some(x100)
}

/// X100 as minor units of `currency`, when exact (`150` is not a whole number of JPY).
pub fn from_x100(x100: i64, currency: Currency) -> Option<i64> {
    match currency.exponent() {
        e @ 0..=2 => {
            let div = 10i64.pow(2 - e);
            (x100 % div == 0).then_some(x100 / div)
        }
        e => x100.checked_mul(10i64.pow(e - 2)),
    }
}

/// What an organization's settings and the terminal's fields make of an invoice lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteTerms {
    /// The organization's `settlement`, shown as the payment type.
    pub payment_type: SettlementMode,
    /// `postpaid.fee_x100`: the service fee per payment.
    pub fee_x100: i64,
    /// The [`INSTALLMENTS_FIELD`] value, when sent: at most this many of the oldest payable
    /// invoices are listed (and so paid by a TOTAL payment).
    pub installments: Option<u32>,
}

/// One listed invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteItem<'a> {
    pub bill: &'a Bill,
    /// Payable now (`isElegible`); expired invoices with something outstanding are listed too.
    pub eligible: bool,
    /// What the item shows: the invoice's outstanding amount (minor units, no fee: the fee is
    /// per payment).
    pub amount: i64,
}

/// What an invoice lookup shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote<'a> {
    /// The payable invoices (at most `installments` of the oldest) and the expired ones that
    /// still have something outstanding, in allocation order (oldest first).
    pub items: Vec<QuoteItem<'a>>,
    /// The eligible invoices, in allocation order: what a transaction code binds.
    pub payable: Vec<&'a Bill>,
    /// The eligible invoices' currency; else the first listed invoice's; else the account's last
    /// bill's; `None` for an account without bills.
    pub currency: Option<Currency>,
    pub payment_type: SettlementMode,
    /// The eligible invoices' outstanding total, minor units, without the fee.
    pub total: i64,
    /// The service fee per payment, minor units; 0 when nothing is payable.
    pub fee: i64,
    /// The fee as configured (X100); 0 when nothing is payable.
    pub fee_x100: i64,
}

impl Quote<'_> {
    /// Whether anything is payable (then a transaction code is issued).
    pub fn is_payable(&self) -> bool {
        !self.payable.is_empty()
    }

    /// What the terminal collects for the listed eligible invoices: their total plus the fee.
    pub fn amount_to_send(&self) -> i64 {
        self.total.saturating_add(self.fee)
    }

    /// The eligible invoices' ids, in allocation order.
    pub fn bill_ids(&self) -> Vec<i64> {
        self.payable.iter().map(|b| b.id).collect()
    }
}

/// Why a lookup cannot be quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    /// The payable invoices are in more than one currency ([`Rejection::MixedCurrencies`]).
    #[error(transparent)]
    Rejected(Rejection),
    /// The organization's fee cannot be charged in the invoices' currency (a configuration
    /// error, not the terminal's).
    #[error("postpaid.fee_x100 {fee_x100} is not a whole amount of {currency}")]
    FeeNotWhole { fee_x100: i64, currency: Currency },
}

/// What an invoice lookup of an account with `bills` shows at `now`: the payable invoices (at
/// most `installments` of the oldest), its expired invoices that still have something
/// outstanding (not eligible), the total of the eligible ones, the fee per payment (only when
/// something is payable) and the payment type.
pub fn quote(
    bills: &[Bill],
    terms: QuoteTerms,
    now: OffsetDateTime,
) -> Result<Quote<'_>, QuoteError> {
    let mut payable = payable_bills(bills, now);
    if let Some(n) = terms.installments {
        payable.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(first) = payable.first()
        && payable.iter().any(|b| b.currency != first.currency)
    {
        return Err(QuoteError::Rejected(Rejection::MixedCurrencies));
    }
    let expired = bills
        .iter()
        .filter(|b| b.status_at(now) == BillStatus::Expired && b.outstanding() > 0);
    let mut items: Vec<QuoteItem<'_>> = payable
        .iter()
        .map(|b| (*b, true))
        .chain(expired.map(|b| (b, false)))
        .map(|(bill, eligible)| QuoteItem {
            bill,
            eligible,
            amount: bill.outstanding(),
        })
        .collect();
    items.sort_by_key(|i| i.bill.allocation_key());
    let currency = payable
        .first()
        .map(|b| b.currency)
        .or_else(|| items.first().map(|i| i.bill.currency))
        .or_else(|| bills.last().map(|b| b.currency));
    // Refused when it does not fit (never a capped total shown as due).
    let total = crate::money::checked_sum_minor(payable.iter().map(|b| b.outstanding()))
        .map_err(|_| QuoteError::Rejected(Rejection::TooLarge))?;
    let (fee, fee_x100) = match (currency, payable.is_empty()) {
        (Some(currency), false) => {
            let fee = from_x100(terms.fee_x100, currency).ok_or(QuoteError::FeeNotWhole {
                fee_x100: terms.fee_x100,
                currency,
            })?;
            (fee, terms.fee_x100)
        }
        _ => (0, 0),
    };
    Ok(Quote {
        items,
        payable,
        currency,
        payment_type: terms.payment_type,
        total,
        fee,
        fee_x100,
    })
}

/// What a transaction code bound at its lookup (see [`Quote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer<'a> {
    pub payment_type: SettlementMode,
    /// The eligible invoices listed, in listing order.
    pub listed: &'a [i64],
    /// Their outstanding total at the lookup, minor units, without the fee.
    pub total: i64,
    /// The fee shown, minor units.
    pub fee: i64,
}

/// What a payment under an [`Offer`] means, for the store to post (which still decides it with
/// [`crate::rules::decide`] against the bills as they are then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// What reaches the biller (invoices and credit): the amount sent less the fee.
    pub net: i64,
    /// How the account payment is spread: TOTAL and DISCRETE pay chosen invoices in full
    /// (`discrete`), OPEN pays oldest first (`open`).
    pub mode: SettlementMode,
    /// The invoices paid in full (TOTAL: every listed one; DISCRETE: the chosen ones); `None`
    /// for OPEN.
    pub chosen: Option<Vec<i64>>,
}

/// Why a payment under an [`Offer`] is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
    /// A core refusal; amounts in it are without the fee.
    #[error(transparent)]
    Rejected(Rejection),
    /// A DISCRETE payment must name the invoices it pays.
    #[error("invoiceNumbers is required for a DISCRETE payment")]
    InvoiceNumbersRequired,
    /// An invoice number that was not listed as eligible with the code.
    #[error("invoice {invoice} was not listed as payable")]
    NotListed { invoice: String },
}

/// What a payment of `sent` (minor units, fee included) under `offer` means:
/// - it must be more than the fee ([`Rejection::NonPositiveAmount`]);
/// - TOTAL: exactly the listed total plus the fee ([`Rejection::MustEqualOutstanding`] with the
///   total, fee excluded), paying every listed invoice in full;
/// - DISCRETE: `invoice_numbers` (required) name listed invoices, each paid in full (the
///   amount is then checked by [`crate::rules::decide`]); `bills` are the account's bills, used
///   only to match invoice numbers to listed bills (DISCRETE only);
/// - OPEN: any amount above the fee, oldest first, the rest as credit.
pub fn settle(
    offer: &Offer<'_>,
    sent: i64,
    invoice_numbers: &[String],
    bills: &[Bill],
) -> Result<Settlement, SettleError> {
    if sent <= offer.fee {
        return Err(SettleError::Rejected(Rejection::NonPositiveAmount));
    }
    let net = sent
        .checked_sub(offer.fee)
        .ok_or(SettleError::Rejected(Rejection::NonPositiveAmount))?;
    match offer.payment_type {
        SettlementMode::Total => {
            if net != offer.total {
                return Err(SettleError::Rejected(Rejection::MustEqualOutstanding {
                    outstanding: offer.total,
                }));
            }
            Ok(Settlement {
                net,
                mode: SettlementMode::Discrete,
                chosen: Some(offer.listed.to_vec()),
            })
        }
        SettlementMode::Discrete => Ok(Settlement {
            net,
            mode: SettlementMode::Discrete,
            chosen: Some(chosen_invoices(offer.listed, invoice_numbers, bills)?),
        }),
        SettlementMode::Open => Ok(Settlement {
            net,
            mode: SettlementMode::Open,
            chosen: None,
        }),
    }
}

/// The listed bills `invoice_numbers` name, in the order named, each once.
fn chosen_invoices(
    listed: &[i64],
    invoice_numbers: &[String],
    bills: &[Bill],
) -> Result<Vec<i64>, SettleError> {
    if invoice_numbers.is_empty() {
        return Err(SettleError::InvoiceNumbersRequired);
    }
    let mut chosen: Vec<i64> = Vec::new();
    for number in invoice_numbers {
        let matching: Vec<i64> = listed
            .iter()
            .copied()
            .filter(|id| {
                bills
                    .iter()
                    .any(|b| b.id == *id && &b.invoice_number == number)
            })
            .collect();
        if matching.is_empty() {
            return Err(SettleError::NotListed {
                invoice: number.clone(),
            });
        }
        for id in matching {
            if !chosen.contains(&id) {
                chosen.push(id);
            }
        }
    }
    Ok(chosen)
}

#[cfg(test)]
#[allow(clippy::too_many_lines)]
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

    mod rules {
        use super::super::*;
        use crate::PaymentRule;
        use crate::rules::tests::bill;
        use time::macros::{date, datetime};

        const NOW: OffsetDateTime = datetime!(2025-03-01 00:00 UTC);

        /// Terms, listed (id, eligible), total, fee.
        type QuoteCase = (QuoteTerms, Vec<(i64, bool)>, i64, i64);
        /// Payment type, amount sent, invoice numbers, what it means.
        type SettleCase = (
            SettlementMode,
            i64,
            Vec<String>,
            Result<Settlement, SettleError>,
        );

        fn terms(
            payment_type: SettlementMode,
            fee_x100: i64,
            installments: Option<u32>,
        ) -> QuoteTerms {
            QuoteTerms {
                payment_type,
                fee_x100,
                installments,
            }
        }

        /// Bills 1 (6500, due Feb 1), 2 (6000, due Feb 15), 3 (1000, due Mar 10), 4 (due Feb 1,
        /// expired with 700 outstanding) and 5 (paid).
        fn account() -> Vec<Bill> {
            let mut b2 = bill(2, 6000, 0, PaymentRule::Exact);
            b2.due_date = Some(date!(2025 - 02 - 15));
            let mut b3 = bill(3, 1000, 0, PaymentRule::Exact);
            b3.due_date = Some(date!(2025 - 03 - 10));
            let mut b4 = bill(4, 700, 0, PaymentRule::Exact);
            b4.valid_until = Some(datetime!(2025-02-20 00:00 UTC));
            let b5 = bill(5, 900, 900, PaymentRule::Exact);
            vec![b3, b5, b4, b2, bill(1, 6500, 0, PaymentRule::Exact)]
        }

        /// Issue 10, defect 12: a total that does not fit `i64` is refused, never capped.
        #[test]
        fn quote_total_that_does_not_fit_is_refused() {
            let bills = vec![
                bill(1, i64::MAX - 1, 0, PaymentRule::Exact),
                bill(2, 2, 0, PaymentRule::Exact),
            ];
            assert_eq!(
                quote(&bills, terms(SettlementMode::Total, 0, None), NOW),
                Err(QuoteError::Rejected(Rejection::TooLarge))
            );
            let fits = vec![bill(1, i64::MAX - 1, 0, PaymentRule::Exact)];
            let q = quote(&fits, terms(SettlementMode::Total, 0, None), NOW).unwrap();
            assert_eq!(q.total, i64::MAX - 1);
        }

        #[test]
        fn quote_table() {
            let bills = account();
            // (terms, listed (id, eligible), total, fee)
            let cases: Vec<QuoteCase> = vec![
                (
                    terms(SettlementMode::Total, 0, None),
                    vec![(1, true), (4, false), (2, true), (3, true)],
                    13500,
                    0,
                ),
                (
                    terms(SettlementMode::Open, 150, Some(2)),
                    vec![(1, true), (4, false), (2, true)],
                    12500,
                    150,
                ),
                (
                    terms(SettlementMode::Discrete, 0, Some(1)),
                    vec![(1, true), (4, false)],
                    6500,
                    0,
                ),
            ];
            for (t, listed, total, fee) in cases {
                let q = quote(&bills, t, NOW).unwrap();
                let got: Vec<(i64, bool)> =
                    q.items.iter().map(|i| (i.bill.id, i.eligible)).collect();
                assert_eq!(got, listed, "{t:?}");
                assert_eq!(
                    (q.total, q.fee, q.fee_x100),
                    (total, fee, t.fee_x100),
                    "{t:?}"
                );
                assert_eq!(q.amount_to_send(), total + fee);
                assert_eq!(q.payment_type, t.payment_type);
                assert_eq!(q.currency, Some(Currency::USD));
                assert!(q.is_payable());
                assert_eq!(
                    q.bill_ids().len(),
                    listed.iter().filter(|(_, e)| *e).count()
                );
                for i in &q.items {
                    assert_eq!(i.amount, i.bill.outstanding());
                }
            }
        }

        #[test]
        fn quote_of_nothing_payable() {
            // Only an expired invoice: listed, not eligible, no fee charged (and none checked).
            let mut expired = bill(4, 700, 0, PaymentRule::Exact);
            expired.valid_until = Some(datetime!(2025-02-20 00:00 UTC));
            expired.currency = Currency::JPY;
            let bills = vec![expired];
            let q = quote(&bills, terms(SettlementMode::Total, 150, None), NOW).unwrap();
            assert!(!q.is_payable());
            assert_eq!((q.total, q.fee, q.fee_x100), (0, 0, 0));
            assert_eq!(q.currency, Some(Currency::JPY));
            assert_eq!(q.items.len(), 1);
            // No bills at all: no currency.
            let q = quote(&[], terms(SettlementMode::Open, 0, None), NOW).unwrap();
            assert!(q.items.is_empty());
            assert_eq!(q.currency, None);
            // Only a paid bill: its currency.
            let bills = vec![bill(5, 900, 900, PaymentRule::Exact)];
            let q = quote(&bills, terms(SettlementMode::Open, 0, None), NOW).unwrap();
            assert_eq!(q.currency, Some(Currency::USD));
            assert!(q.items.is_empty());
        }

        #[test]
        fn quote_refusals() {
            let mut bills = account();
            for b in bills.iter_mut().filter(|b| b.id == 2) {
                b.currency = Currency::EUR;
            }
            assert_eq!(
                quote(&bills, terms(SettlementMode::Total, 0, None), NOW),
                Err(QuoteError::Rejected(Rejection::MixedCurrencies))
            );
            // Limited to the oldest one, the currencies no longer mix.
            assert!(quote(&bills, terms(SettlementMode::Total, 0, Some(1)), NOW).is_ok());
            let mut yen = bill(1, 500, 0, PaymentRule::Exact);
            yen.currency = Currency::JPY;
            assert_eq!(
                quote(&[yen], terms(SettlementMode::Open, 150, None), NOW),
                Err(QuoteError::FeeNotWhole {
                    fee_x100: 150,
                    currency: Currency::JPY
                })
            );
        }

        #[test]
        fn settle_table() {
            let bills = account();
            let listed = [1, 2];
            let offer = |payment_type| Offer {
                payment_type,
                listed: &listed,
                total: 12500,
                fee: 100,
            };
            let inv = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            use SettlementMode::*;
            let cases: Vec<SettleCase> = vec![
                (
                    Total,
                    12600,
                    inv(&[]),
                    Ok(Settlement {
                        net: 12500,
                        mode: Discrete,
                        chosen: Some(vec![1, 2]),
                    }),
                ),
                (
                    Total,
                    12500,
                    inv(&[]),
                    Err(SettleError::Rejected(Rejection::MustEqualOutstanding {
                        outstanding: 12500,
                    })),
                ),
                (
                    Total,
                    100,
                    inv(&[]),
                    Err(SettleError::Rejected(Rejection::NonPositiveAmount)),
                ),
                (
                    Open,
                    100,
                    inv(&[]),
                    Err(SettleError::Rejected(Rejection::NonPositiveAmount)),
                ),
                (
                    Open,
                    101,
                    inv(&["INV-9"]),
                    Ok(Settlement {
                        net: 1,
                        mode: Open,
                        chosen: None,
                    }),
                ),
                (
                    Discrete,
                    6600,
                    inv(&[]),
                    Err(SettleError::InvoiceNumbersRequired),
                ),
                (
                    Discrete,
                    6600,
                    inv(&["INV-3"]),
                    Err(SettleError::NotListed {
                        invoice: "INV-3".into(),
                    }),
                ),
                (
                    Discrete,
                    6600,
                    inv(&["INV-2", "INV-1", "INV-2"]),
                    Ok(Settlement {
                        net: 6500,
                        mode: Discrete,
                        chosen: Some(vec![2, 1]),
                    }),
                ),
                (
                    Discrete,
                    50,
                    inv(&["INV-2"]),
                    Err(SettleError::Rejected(Rejection::NonPositiveAmount)),
                ),
            ];
            for (t, sent, numbers, expected) in cases {
                assert_eq!(
                    settle(&offer(t), sent, &numbers, &bills),
                    expected,
                    "{t:?} {sent} {numbers:?}"
                );
            }
        }

        #[test]
        fn x100() {
            assert_eq!(to_x100(6500, Currency::EUR), Some(6500));
            assert_eq!(to_x100(5, Currency::JPY), Some(500));
            assert_eq!(to_x100(1230, Currency::KWD), Some(123));
            assert_eq!(to_x100(1234, Currency::KWD), None);
            assert_eq!(to_x100(i64::from(i32::MAX) + 1, Currency::EUR), None);
            assert_eq!(from_x100(150, Currency::JPY), None);
            assert_eq!(from_x100(123, Currency::KWD), Some(1230));
        }
    }
}
