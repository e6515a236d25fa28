//! `billhub bill`: publish a bill without any dialect.

use anyhow::{Context, anyhow, bail};
use billhub_core::{Currency, Money, PaymentRule};
use billhub_store::{AccountInput, NewBill, Store};
use clap::{Args, Subcommand};
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
    #[arg(long)]
    account: String,
    #[arg(long)]
    account_name: Option<String>,
    #[arg(long)]
    account_name_latin: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    currency: String,
    /// Decimal in major units (`5000`, `10.50`); never rounded.
    #[arg(long)]
    amount: String,
    /// YYYY-MM-DD (default: today in the organization's offset).
    #[arg(long)]
    bill_date: Option<String>,
    /// YYYY-MM-DD.
    #[arg(long)]
    due_date: Option<String>,
    /// RFC 3339 with offset.
    #[arg(long)]
    valid_until: Option<String>,
    #[arg(long, default_value = "exact", value_parser = ["exact", "partial", "open"])]
    rule: String,
    #[arg(long)]
    min_amount: Option<String>,
    #[arg(long)]
    invoice_number: Option<String>,
    #[arg(long)]
    name: Option<String>,
    /// 6-digit prefix + 10 digits.
    #[arg(long)]
    va_number: Vec<String>,
    #[arg(long)]
    json: bool,
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
    .with_context(|| format!("--{flag}: `{text}` is not a date like 2025-09-01"))
}

/// The amount (positive) and the payment rule with its minimum.
fn amount_and_rule(a: &BillCreate, currency: Currency) -> anyhow::Result<(Money, PaymentRule)> {
    let amount = Money::parse(&a.amount, currency).map_err(|e| anyhow!("--amount: {e}"))?;
    if amount.minor() <= 0 {
        bail!("--amount: must be positive");
    }
    let minimum = a
        .min_amount
        .as_deref()
        .map(|m| Money::parse(m, currency).map_err(|e| anyhow!("--min-amount: {e}")))
        .transpose()?
        .map(|m| m.minor());
    let rule = match a.rule.as_str() {
        "exact" => PaymentRule::Exact,
        "partial" => PaymentRule::Partial { minimum },
        _ => PaymentRule::Open,
    };
    if minimum.is_some() && a.rule != "partial" {
        bail!("--min-amount: only with --rule partial");
    }
    Ok((amount, rule))
}

/// Bill date (default: today at the organization's offset), due date and valid-until.
fn dates(
    a: &BillCreate,
    offset: UtcOffset,
    now: OffsetDateTime,
) -> anyhow::Result<(Date, Option<Date>, Option<OffsetDateTime>)> {
    let bill_date = match &a.bill_date {
        Some(d) => parse_date("bill-date", d)?,
        None => billhub_store::local_date(now, offset),
    };
    let due_date = a
        .due_date
        .as_deref()
        .map(|d| parse_date("due-date", d))
        .transpose()?;
    let valid_until = a
        .valid_until
        .as_deref()
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).with_context(|| {
                format!("--valid-until: `{v}` is not RFC 3339 like 2025-09-30T23:59:59+07:00")
            })
        })
        .transpose()?;
    Ok((bill_date, due_date, valid_until))
}

/// Each `--va-number` as (6-digit prefix, 10-digit number).
fn va_numbers(a: &BillCreate) -> anyhow::Result<Vec<(String, String)>> {
    a.va_number
        .iter()
        .map(|v| match v.split_at_checked(6) {
            Some((prefix, number)) if v.len() == 16 && v.bytes().all(|b| b.is_ascii_digit()) => {
                Ok((prefix.to_string(), number.to_string()))
            }
            _ => bail!("--va-number: `{v}` must be a 6-digit prefix and 10 digits (16 digits)"),
        })
        .collect()
}

/// Creates a bill from the CLI arguments: the account (made or updated), the bill, and its VA
/// numbers as 16 digits.
fn create_bill(
    store: &Store,
    a: &BillCreate,
    now: OffsetDateTime,
) -> anyhow::Result<(billhub_core::Account, billhub_core::Bill, Vec<String>)> {
    let org = organization(store, &a.org)?;
    let currency = Currency::from_code(&a.currency).map_err(|e| anyhow!("--currency: {e}"))?;
    let (amount, rule) = amount_and_rule(a, currency)?;
    let (bill_date, due_date, valid_until) = dates(a, org.utc_offset, now)?;
    let vas = va_numbers(a)?;
    let account = AccountInput {
        code: a.account.clone(),
        name: a.account_name.clone().unwrap_or_default(),
        name_latin: a.account_name_latin.clone().unwrap_or_default(),
        phone: a.phone.clone().unwrap_or_default(),
        ..Default::default()
    };
    let new = NewBill {
        organization_id: org.id,
        account_id: 0,
        collection_id: None,
        invoice_number: a.invoice_number.clone(),
        ref1: String::new(),
        ref2: String::new(),
        name: a.name.clone().unwrap_or_default(),
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
        va_numbers: vas.clone(),
    };
    let (acc, bill) = store.create_bill_for_account(&account, &new, now)?;
    let numbers = vas.iter().map(|(p, n)| format!("{p}{n}")).collect();
    Ok((acc, bill, numbers))
}
