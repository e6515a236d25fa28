//! `billhub credit`: account credit (overpayments): list it, apply it to bills, or refund it.

use anyhow::anyhow;
use billhub_core::{Account, Currency, Money, Rejection};
use billhub_store::{PaymentTarget, Store, StoreError};
use clap::{Args, Subcommand};
use serde_json::json;
use time::OffsetDateTime;

use super::{find_bill, money_text, organization, print, refused};

#[derive(Args)]
pub struct CreditApply {
    #[arg(long)]
    org: String,
    #[arg(long)]
    account: String,
    #[arg(long)]
    currency: String,
    #[arg(long)]
    amount: String,
    /// A bill's public number or invoice number; without it, the account's payable bills.
    #[arg(long)]
    bill: Option<String>,
    /// Identifies the operation: running it again with the same reference changes nothing.
    #[arg(long)]
    reference: String,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum CreditCommand {
    /// Every account with credit in the organization.
    List {
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Pay a bill of the account (or the account's bills, under the settlement mode) from its credit.
    Apply(CreditApply),
    /// Record that credit was given back to the payer outside billhub.
    Refund {
        #[arg(long)]
        org: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        currency: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        note: String,
    },
}

impl CreditCommand {
    pub fn run(self, store: &Store, now: OffsetDateTime) -> anyhow::Result<()> {
        match self {
            CreditCommand::List { org, json } => list(store, &org, json),
            CreditCommand::Apply(a) => apply(store, &a, now),
            CreditCommand::Refund {
                org,
                account,
                currency,
                amount,
                note,
            } => {
                let acc = account_of(store, &org, &account)?;
                let amount = amount_of(&currency, &amount)?;
                let left = store
                    .refund_credit(acc.id, amount, &note, now)
                    .map_err(|e| refund_refused(e, amount))?;
                println!(
                    "refunded {} {} of {account}'s credit; {} left",
                    amount.to_fixed_string(),
                    amount.currency(),
                    Money::from_minor(left, amount.currency()).to_fixed_string()
                );
                Ok(())
            }
        }
    }
}

fn account_of(store: &Store, org: &str, code: &str) -> anyhow::Result<Account> {
    let o = organization(store, org)?;
    store
        .account_by_code(o.id, code)?
        .ok_or_else(|| anyhow!("--account: no account `{code}` in {org}"))
}

fn amount_of(currency: &str, amount: &str) -> anyhow::Result<Money> {
    let c = Currency::from_code(currency).map_err(|e| anyhow!("--currency: {e}"))?;
    Money::parse_exact(amount, c).map_err(|e| anyhow!("--amount: {e}"))
}

/// A refund core refused, in the operator's terms (the balance and the amount asked for).
fn refund_refused(e: StoreError, amount: Money) -> anyhow::Error {
    match e.rejection() {
        Some(Rejection::InsufficientCredit { available }) => anyhow!(
            "the account's {} credit is {}; cannot refund {}",
            amount.currency(),
            Money::from_minor(*available, amount.currency()).to_fixed_string(),
            amount.to_fixed_string()
        ),
        Some(Rejection::NonPositiveAmount) => anyhow!(
            "--amount: must be positive; cannot refund {}",
            amount.to_fixed_string()
        ),
        _ => refused(e),
    }
}

fn list(store: &Store, org: &str, as_json: bool) -> anyhow::Result<()> {
    let o = organization(store, org)?;
    let list = store.credit_balances(o.id)?;
    print(json!({ "credits": list }), as_json, || {
        if list.is_empty() {
            return "no account credit".into();
        }
        list.iter()
            .map(|c| {
                let amount = money_text(c.balance, &c.currency);
                format!("{}\t{} {}", c.account_code, amount, c.currency)
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

fn apply(store: &Store, a: &CreditApply, now: OffsetDateTime) -> anyhow::Result<()> {
    let acc = account_of(store, &a.org, &a.account)?;
    let amount = amount_of(&a.currency, &a.amount)?;
    let target = match &a.bill {
        Some(no) => {
            let b = find_bill(store, acc.organization_id, no)?;
            PaymentTarget::Bill { bill_id: b.id }
        }
        None => PaymentTarget::Account {
            account_id: acc.id,
            mode: None,
            chosen: None,
        },
    };
    let payment = store
        .apply_credit(acc.id, amount, &target, &a.reference, now)
        .map_err(refused)?;
    let left = Money::from_minor(
        store.account_credit(acc.id, amount.currency())?,
        amount.currency(),
    )
    .to_fixed_string();
    print(
        json!({ "payment": payment.uid, "allocations": payment.allocations, "credit_left": left }),
        a.json,
        || {
            format!(
                "applied {} {} of {}'s credit as payment {}; {left} left",
                amount.to_fixed_string(),
                amount.currency(),
                a.account,
                payment.uid,
            )
        },
    );
    Ok(())
}
