//! `billhub check`: money that channels took but billhub could not apply. Exits 1 (without
//! `--json`) while any of it waits for an operator.

use anyhow::bail;
use billhub_store::Store;
use clap::Args;
use serde_json::json;

use super::{money_text, print};

#[derive(Args)]
pub struct CheckArgs {
    #[arg(long)]
    json: bool,
}

impl CheckArgs {
    pub fn run(self, store: &Store) -> anyhow::Result<()> {
        let as_json = self.json;
        let list = store.unapplied_payments(None)?;
        let open: Vec<_> = list.iter().filter(|u| u.status == "open").collect();
        print(json!({ "unapplied": list }), as_json, || {
            if open.is_empty() {
                return "no unapplied money".into();
            }
            let mut s = format!("{} unapplied payment(s) need an operator:\n", open.len());
            for u in &open {
                s.push_str(&format!(
                    "  #{} {} {} via {} ref {} account `{}`: {}\n",
                    u.id,
                    money_text(u.amount, &u.currency),
                    u.currency,
                    u.channel,
                    u.channel_ref,
                    u.account_code,
                    u.reason
                ));
            }
            s
        });
        if !open.is_empty() && !as_json {
            bail!("{} unapplied payment(s)", open.len());
        }
        Ok(())
    }
}
