//! `billhub check`: verifies the money invariants of every organization (the store's
//! [`billhub_store::Reader::check_invariants`], in one snapshot) and shows the work waiting for
//! an operator. Exits 1 on any violation, in text and `--json` alike; unapplied money and the
//! outbox backlog are work to do, not violations. `docs/operations.md` says how to repair each
//! kind of violation.

use anyhow::bail;
use billhub_store::{CheckReport, Store, UnappliedPayment};
use clap::Args;
use serde_json::json;
use time::OffsetDateTime;

use super::{money_text, print};

#[derive(Args)]
pub struct CheckArgs {
    #[arg(long)]
    json: bool,
}

impl CheckArgs {
    pub fn run(self, store: &Store, now: OffsetDateTime) -> anyhow::Result<()> {
        // One snapshot: the listing agrees with the report.
        let (report, list) = store.snapshot(|r| -> billhub_store::StoreResult<_> {
            Ok((r.check_invariants(now)?, r.unapplied_payments(None)?))
        })?;
        let value = json!({
            "ok": report.is_clean(),
            "violations": report.violations,
            "unapplied": list,
            "open_unapplied": report.open_unapplied,
            "pending_deliveries": report.pending_deliveries,
            "oldest_pending_seconds": report.oldest_pending_seconds,
            "resolved_duplicates": report.resolved_duplicates,
            "nul_searched": report.nul_searched,
        });
        print(value, self.json, || text(&report, &list));
        if !report.is_clean() {
            bail!(
                "{} invariant violation(s); see docs/operations.md",
                report.violations.len()
            );
        }
        Ok(())
    }
}

fn text(report: &CheckReport, list: &[UnappliedPayment]) -> String {
    let mut s = if report.is_clean() {
        "invariants hold: no violations\n".to_string()
    } else {
        format!("{} violation(s):\n", report.violations.len())
    };
    for v in &report.violations {
        let org = if v.organization.is_empty() {
            "-"
        } else {
            v.organization.as_str()
        };
        s.push_str(&format!(
            "  {} org {org} {} {}: {}\n",
            v.kind, v.row, v.key, v.detail
        ));
    }
    s.push_str(&unapplied_text(list));
    for o in &report.open_unapplied {
        s.push_str(&format!(
            "  open unapplied {}: {} payment(s), {}\n",
            o.currency,
            o.count,
            i64::try_from(o.total)
                .map(|t| money_text(t, &o.currency))
                .unwrap_or_else(|_| format!("{} minor units", o.total))
        ));
    }
    if !report.resolved_duplicates.is_empty() {
        let ids: Vec<String> = report
            .resolved_duplicates
            .iter()
            .map(|id| format!("#{id}"))
            .collect();
        s.push_str(&format!(
            "unapplied payments resolved as duplicates of a posted payment: {}\n",
            ids.join(", ")
        ));
    }
    match report.oldest_pending_seconds {
        Some(age) => s.push_str(&format!(
            "outbox: {} pending deliveries, the oldest waiting {age} s\n",
            report.pending_deliveries
        )),
        None => s.push_str("outbox: no pending deliveries\n"),
    }
    s
}

/// The open unapplied money, one line each (as `billhub check` always listed it).
fn unapplied_text(list: &[UnappliedPayment]) -> String {
    let open: Vec<_> = list.iter().filter(|u| u.status == "open").collect();
    if open.is_empty() {
        return "no unapplied money\n".into();
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
}
