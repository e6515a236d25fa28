//! `billhub unapplied`: money that channels took but billhub could not apply.

use anyhow::{anyhow, bail};
use billhub_store::{PaymentTarget, Resolution, Store};
use clap::Subcommand;
use serde_json::json;
use time::OffsetDateTime;

use super::{find_bill, organization, print, refused};

#[derive(Subcommand)]
pub enum UnappliedCommand {
    /// List unapplied money (all of it, or one organization's).
    List {
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Apply it to a bill (by public number or invoice number) or to an account (under the
    /// organization's settlement mode); core decides as for any payment.
    Apply {
        id: i64,
        #[arg(long, conflicts_with = "account", required_unless_present = "account")]
        bill: Option<String>,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record that it was given back to the payer outside billhub.
    Refund {
        id: i64,
        /// How it was refunded (a bank reference, ...).
        #[arg(long)]
        note: String,
    },
}

impl UnappliedCommand {
    pub fn run(self, store: &Store, now: OffsetDateTime) -> anyhow::Result<()> {
        match self {
            UnappliedCommand::List { org, json } => list(store, org.as_deref(), json),
            UnappliedCommand::Apply {
                id,
                bill,
                account,
                json,
            } => apply(store, id, bill, account, json, now),
            UnappliedCommand::Refund { id, note } => {
                let (row, _) = store.resolve_unapplied(id, &Resolution::Refunded { note }, now)?;
                println!("unapplied payment #{} marked {}", row.id, row.status);
                Ok(())
            }
        }
    }
}

fn list(store: &Store, org: Option<&str>, as_json: bool) -> anyhow::Result<()> {
    let org_id = org
        .map(|c| organization(store, c))
        .transpose()?
        .map(|o| o.id);
    let list = store.unapplied_payments(org_id)?;
    print(json!({ "unapplied": list }), as_json, || {
        list.iter()
            .map(|u| {
                format!(
                    "#{}\t{}\t{} {}\t{} {}\taccount `{}`\t{}",
                    u.id,
                    u.status,
                    u.amount,
                    u.currency,
                    u.channel,
                    u.channel_ref,
                    u.account_code,
                    u.reason
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

/// Where `--bill` or `--account` says to apply money of the organization.
fn target(
    store: &Store,
    organization_id: i64,
    bill: Option<String>,
    account: Option<String>,
) -> anyhow::Result<PaymentTarget> {
    match (bill, account) {
        (Some(no), _) => {
            let b = find_bill(store, organization_id, &no)?;
            Ok(PaymentTarget::Bill { bill_id: b.id })
        }
        (None, Some(code)) => {
            let a = store
                .account_by_code(organization_id, &code)?
                .ok_or_else(|| anyhow!("--account: no account `{code}` in this organization"))?;
            Ok(PaymentTarget::Account {
                account_id: a.id,
                mode: None,
                chosen: None,
            })
        }
        (None, None) => bail!("say where to apply it: --bill or --account"),
    }
}

fn apply(
    store: &Store,
    id: i64,
    bill: Option<String>,
    account: Option<String>,
    as_json: bool,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let row = store
        .unapplied_payments(None)?
        .into_iter()
        .find(|u| u.id == id)
        .ok_or_else(|| anyhow!("no unapplied payment #{id}"))?;
    let org = row
        .organization_id
        .ok_or_else(|| anyhow!("unapplied payment #{id} has no organization"))?;
    let target = target(store, org, bill, account)?;
    let (row, payment) = store
        .resolve_unapplied(id, &Resolution::Applied { target }, now)
        .map_err(refused)?;
    let payment = payment.ok_or_else(|| anyhow!("no payment was posted"))?;
    print(
        json!({ "id": row.id, "status": row.status, "payment": payment.uid, "allocations": payment.allocations, "credit": payment.credit }),
        as_json,
        || {
            format!(
                "unapplied payment #{} applied as payment {} ({} allocation(s), credit {})",
                row.id,
                payment.uid,
                payment.allocations.len(),
                payment.credit
            )
        },
    );
    Ok(())
}
