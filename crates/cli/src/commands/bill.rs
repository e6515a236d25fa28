//! `billhub bill`: publish a bill without any dialect. [`BillFields`] and [`new_bill`] are also
//! the row of `billhub import bills`: one conversion, so an imported row passes every check a
//! created bill does.

use anyhow::{Context, anyhow, bail};
use billhub_core::org::Organization;
use billhub_core::{Currency, Money, PaymentRule};
use billhub_store::{AccountInput, NewBill, Store};
use clap::{Args, Subcommand};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use super::{organization, print};

#[derive(Subcommand)]
pub enum BillCommand {
    /// Publish a bill without any dialect.
    Create(Box<BillCreate>),
}

#[derive(Args)]
pub struct BillCreate {
    #[arg(long)]
    org: String,
    #[command(flatten)]
    fields: BillFields,
    #[arg(long)]
    json: bool,
}

/// The fields of a bill: the flags of `billhub bill create` and the columns of
/// `billhub import bills` (same names, `_` for `-`).
#[derive(Args, Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillFields {
    #[arg(long)]
    pub account: String,
    #[arg(long)]
    #[serde(default)]
    pub account_name: Option<String>,
    #[arg(long)]
    #[serde(default)]
    pub account_name_latin: Option<String>,
    #[arg(long)]
    #[serde(default)]
    pub phone: Option<String>,
    #[arg(long)]
    pub currency: String,
    /// Decimal in major units (`5000`, `10.50`); never rounded.
    #[arg(long)]
    pub amount: String,
    /// YYYY-MM-DD (default: today in the organization's offset).
    #[arg(long)]
    #[serde(default)]
    pub bill_date: Option<String>,
    /// YYYY-MM-DD.
    #[arg(long)]
    #[serde(default)]
    pub due_date: Option<String>,
    /// RFC 3339 with offset.
    #[arg(long)]
    #[serde(default)]
    pub valid_until: Option<String>,
    /// `exact` (default), `partial` or `open`.
    #[arg(long, default_value = "exact", value_parser = ["exact", "partial", "open"])]
    #[serde(default)]
    pub rule: Option<String>,
    #[arg(long)]
    #[serde(default)]
    pub min_amount: Option<String>,
    #[arg(long)]
    #[serde(default)]
    pub invoice_number: Option<String>,
    #[arg(long)]
    #[serde(default)]
    pub name: Option<String>,
    /// 6-digit prefix + 10 digits (repeat the flag for more; in an import, separate them by
    /// spaces, `;` or `,`, or give a JSON array).
    #[arg(long)]
    #[serde(default, deserialize_with = "va_list")]
    pub va_number: Vec<String>,
    /// The code of one of the organization's collections.
    #[arg(long)]
    #[serde(default)]
    pub collection: Option<String>,
}

/// A list of VA numbers written as one text field (`a b`, `a;b`, `a,b`); empty is none.
fn va_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    Ok(text
        .unwrap_or_default()
        .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect())
}

/// How errors name a field: as a flag (`--min-amount`) or as an import column (`min_amount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Flags,
    Columns,
}

impl Names {
    fn of(self, field: &str) -> String {
        match self {
            Names::Flags => format!("--{}", field.replace('_', "-")),
            Names::Columns => field.to_string(),
        }
    }
}

impl BillCommand {
    pub fn run(self, store: &Store, now: OffsetDateTime) -> anyhow::Result<()> {
        match self {
            BillCommand::Create(a) => create(store, &a, now),
        }
    }
}

fn create(store: &Store, a: &BillCreate, now: OffsetDateTime) -> anyhow::Result<()> {
    let (account, bill, vas) = create_bill(store, a, now)?;
    let value = json!({
        "id": bill.id,
        "public_no": bill.public_no,
        "invoice_number": bill.invoice_number,
        "account": account.code,
        "currency": bill.currency.code(),
        "amount": bill.billed_money().to_fixed_string(),
        "status": bill.status.as_str(),
        "va_numbers": vas,
    });
    print(value, a.json, || {
        format!(
            "bill {} ({}) created for account {}: {} {}",
            bill.public_no,
            bill.id,
            account.code,
            bill.billed_money().to_fixed_string(),
            bill.currency
        )
    });
    Ok(())
}

fn parse_date(flag: &str, text: &str) -> anyhow::Result<Date> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .with_context(|| format!("{flag}: `{text}` is not a date like 2025-09-01"))
}

/// The amount (positive) and the payment rule with its minimum.
fn amount_and_rule(
    f: &BillFields,
    currency: Currency,
    names: Names,
) -> anyhow::Result<(Money, PaymentRule)> {
    let amount = Money::parse_exact(&f.amount, currency)
        .map_err(|e| anyhow!("{}: {e}", names.of("amount")))?;
    if amount.minor() <= 0 {
        bail!("{}: must be positive", names.of("amount"));
    }
    let minimum = f
        .min_amount
        .as_deref()
        .map(|m| {
            Money::parse_exact(m, currency).map_err(|e| anyhow!("{}: {e}", names.of("min_amount")))
        })
        .transpose()?
        .map(|m| m.minor());
    let rule_name = f.rule.as_deref().unwrap_or("exact");
    let rule = match rule_name {
        "exact" => PaymentRule::Exact,
        "partial" => PaymentRule::Partial { minimum },
        "open" => PaymentRule::Open,
        other => bail!(
            "{}: `{other}` is not one of exact, partial, open",
            names.of("rule")
        ),
    };
    if minimum.is_some() && rule_name != "partial" {
        bail!(
            "{}: only with {} partial",
            names.of("min_amount"),
            names.of("rule")
        );
    }
    Ok((amount, rule))
}

/// Bill date (default: today at the organization's offset), due date and valid-until.
fn dates(
    f: &BillFields,
    offset: UtcOffset,
    now: OffsetDateTime,
    names: Names,
) -> anyhow::Result<(Date, Option<Date>, Option<OffsetDateTime>)> {
    let bill_date = match &f.bill_date {
        Some(d) => parse_date(&names.of("bill_date"), d)?,
        None => billhub_store::local_date(now, offset),
    };
    let due_date = f
        .due_date
        .as_deref()
        .map(|d| parse_date(&names.of("due_date"), d))
        .transpose()?;
    let valid_until = f
        .valid_until
        .as_deref()
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).with_context(|| {
                format!(
                    "{}: `{v}` is not RFC 3339 like 2025-09-30T23:59:59+07:00",
                    names.of("valid_until")
                )
            })
        })
        .transpose()?;
    Ok((bill_date, due_date, valid_until))
}

/// Each VA number as (6-digit prefix, 10-digit number).
fn va_numbers(f: &BillFields, names: Names) -> anyhow::Result<Vec<(String, String)>> {
    f.va_number
        .iter()
        .map(|v| match v.split_at_checked(6) {
            Some((prefix, number)) if v.len() == 16 && v.bytes().all(|b| b.is_ascii_digit()) => {
                Ok((prefix.to_string(), number.to_string()))
            }
            _ => bail!(
                "{}: `{v}` must be a 6-digit prefix and 10 digits (16 digits)",
                names.of("va_number")
            ),
        })
        .collect()
}

/// The account and the bill `fields` describe for `org` (`account_id` is the store's to fill
/// in), checked as far as they can be without the store; `collection_id` is the resolved
/// `collection`.
pub fn new_bill(
    f: &BillFields,
    org: &Organization,
    collection_id: Option<i64>,
    now: OffsetDateTime,
    names: Names,
) -> anyhow::Result<(AccountInput, NewBill)> {
    let currency =
        Currency::from_code(&f.currency).map_err(|e| anyhow!("{}: {e}", names.of("currency")))?;
    let (amount, rule) = amount_and_rule(f, currency, names)?;
    let (bill_date, due_date, valid_until) = dates(f, org.utc_offset, now, names)?;
    let vas = va_numbers(f, names)?;
    let account = AccountInput {
        code: f.account.clone(),
        name: f.account_name.clone().unwrap_or_default(),
        name_latin: f.account_name_latin.clone().unwrap_or_default(),
        phone: f.phone.clone().unwrap_or_default(),
        ..Default::default()
    };
    let new = NewBill {
        organization_id: org.id,
        account_id: 0,
        collection_id,
        invoice_number: f.invoice_number.clone(),
        ref1: String::new(),
        ref2: String::new(),
        name: f.name.clone().unwrap_or_default(),
        description: String::new(),
        currency,
        billed: amount.minor(),
        items: vec![],
        bill_date,
        due_date,
        valid_until,
        rule,
        source: "cli".into(),
        extra: "{}".into(),
        va_numbers: vas,
    };
    Ok((account, new))
}

/// The id of the organization's collection with this code, or an error naming it.
pub fn collection_id(
    store: &Store,
    organization_id: i64,
    code: &str,
    names: Names,
) -> anyhow::Result<i64> {
    store
        .collection_by_code(organization_id, code)?
        .map(|c| c.id)
        .ok_or_else(|| {
            anyhow!(
                "{}: no collection `{code}` in this organization",
                names.of("collection")
            )
        })
}

/// Creates a bill from the CLI arguments: the account (made or updated), the bill, and its VA
/// numbers as 16 digits.
fn create_bill(
    store: &Store,
    a: &BillCreate,
    now: OffsetDateTime,
) -> anyhow::Result<(billhub_core::Account, billhub_core::Bill, Vec<String>)> {
    let org = organization(store, &a.org)?;
    let collection = a
        .fields
        .collection
        .as_deref()
        .map(|c| collection_id(store, org.id, c, Names::Flags))
        .transpose()?;
    let (account, new) = new_bill(&a.fields, &org, collection, now, Names::Flags)?;
    let (acc, bill) = store.create_bill_for_account(&account, &new, now)?;
    let numbers = new
        .va_numbers
        .iter()
        .map(|(p, n)| format!("{p}{n}"))
        .collect();
    Ok((acc, bill, numbers))
}
