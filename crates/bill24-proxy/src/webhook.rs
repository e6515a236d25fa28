//! Recording a Bill24 payment notification: one store payment per customer share, each under the
//! channel `bill24`, idempotent by its channel reference. Runs on the blocking pool.
//!
//! ## Channel references
//! The first share of a transaction is recorded under the Bill24 transaction id itself (`tran_id`,
//! or `tnx_id` in the older generation); share `n` (1-based, n > 1) under `{tran_id}:{n}`. Every
//! share's request hash covers the WHOLE transaction (id, currency, total, every share's customer,
//! bills and amount) plus the share's position. So:
//! - a repeat finds the first share under the bare transaction id whatever the number of shares,
//!   and answers "already recorded" without touching anything;
//! - a repeat whose content differs in any share (another amount, another customer, one share
//!   more or less) is refused on the first share as inconsistent, before any other share is
//!   posted: no part of it can pay twice;
//! - a transaction interrupted after some shares (a crash between two share transactions) is
//!   completed by Bill24's retry: recorded shares are replayed, the missing ones are posted.
//!
//! Money that cannot be applied (unknown customer or bill, refused by the rule, wrong currency) is
//! recorded as unapplied by the store (`OnRejection::RecordUnapplied`) and still acknowledged.

use billhub_core::Rejection;
use billhub_core::org::Organization;
use billhub_store::{
    OnRejection, PaymentRequest, PaymentTarget, PostResult, Store, StoreError, StoreResult,
    fingerprint,
};
use time::OffsetDateTime;

use crate::wire::{CustomerShare, Notification, parse_transaction_date};

/// The channel name of Bill24 payments.
pub const CHANNEL: &str = "bill24";

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// At least one share was recorded by this delivery (`posted` applied, `unapplied` kept as
    /// unapplied money).
    New { posted: usize, unapplied: usize },
    /// Every share had already been recorded: nothing changed.
    AlreadyRecorded,
    /// The transaction id was recorded with other content: nothing changed.
    Inconsistent,
    /// The transaction's status is not `success`: nothing recorded.
    NotApplied { status: String },
}

/// The channel reference of share `index` (0-based).
pub fn share_reference(tran_id: &str, index: usize) -> String {
    if index == 0 {
        tran_id.to_string()
    } else {
        format!("{tran_id}:{}", index + 1)
    }
}

/// The fingerprint of the whole transaction's payment content.
fn transaction_fingerprint(n: &Notification) -> String {
    let mut parts: Vec<String> = vec![
        n.generation.as_str().to_string(),
        n.tran_id.clone(),
        n.currency.code().to_string(),
        n.tran_amount.minor().to_string(),
        n.shares.len().to_string(),
    ];
    for s in &n.shares {
        parts.push(s.customer_code.clone());
        parts.push(
            s.bills
                .iter()
                .map(|refs| refs.join("|"))
                .collect::<Vec<_>>()
                .join(","),
        );
        parts.push(s.amount.minor().to_string());
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    fingerprint(&refs)
}

/// Where a share's money goes: the named bill(s), else what the customer code names (an
/// account under the organization's settlement mode, or a bill), else nowhere (unapplied).
fn target(
    store: &Store,
    organization_id: i64,
    share: &CustomerShare,
    now: OffsetDateTime,
) -> StoreResult<PaymentTarget> {
    let unknown = || PaymentTarget::Unknown {
        account_code: share.customer_code.clone(),
    };
    if !share.bills.is_empty() {
        let mut found = Vec::with_capacity(share.bills.len());
        for refs in &share.bills {
            let mut hit = None;
            for r in refs {
                if let Some(b) = store.bill24_bill(organization_id, r, now)? {
                    hit = Some(b);
                    break;
                }
            }
            match hit {
                Some(b) => found.push(b),
                None => return Ok(unknown()),
            }
        }
        return Ok(match found.as_slice() {
            [one] => PaymentTarget::Bill { bill_id: one.id },
            [first, rest @ ..] if rest.iter().all(|b| b.account_id == first.account_id) => {
                // Several bills named: each paid its whole outstanding (discrete).
                PaymentTarget::Account {
                    account_id: first.account_id,
                    mode: Some(billhub_core::SettlementMode::Discrete),
                    chosen: Some(found.iter().map(|b| b.id).collect()),
                }
            }
            _ => unknown(),
        });
    }
    Ok(
        match store.bill24_consumer(organization_id, &share.customer_code, now)? {
            Some(c) => match c.bill {
                Some(b) => PaymentTarget::Bill { bill_id: b.id },
                None => PaymentTarget::Account {
                    account_id: c.account.id,
                    mode: None,
                    chosen: None,
                },
            },
            None => unknown(),
        },
    )
}

/// Records a delivery for the organization.
pub fn record(
    store: &Store,
    org: &Organization,
    n: &Notification,
    now: OffsetDateTime,
) -> StoreResult<Recorded> {
    if n.status != "success" {
        return Ok(Recorded::NotApplied {
            status: n.status.clone(),
        });
    }
    let paid_at = n
        .paid_date
        .as_deref()
        .and_then(|t| parse_transaction_date(t, org.utc_offset))
        .unwrap_or(now);
    let tx = transaction_fingerprint(n);
    let (mut posted, mut unapplied) = (0usize, 0usize);
    for (i, share) in n.shares.iter().enumerate() {
        let channel_ref = share_reference(&n.tran_id, i);
        let details = serde_json::json!({
            "generation": n.generation.as_str(),
            "part": i + 1,
            "parts": n.shares.len(),
            "transaction": n.transaction,
            "customer": share.raw,
        })
        .to_string();
        let req = PaymentRequest {
            organization_id: org.id,
            channel: CHANNEL.into(),
            channel_ref: channel_ref.clone(),
            request_hash: fingerprint(&[&tx, &i.to_string()]),
            target: target(store, org.id, share, now)?,
            amount: share.amount,
            fee: if i == 0 { n.fee } else { 0 },
            method: n.method.clone(),
            payer_name: share.customer_name.clone(),
            details,
            paid_at,
            on_rejection: OnRejection::RecordUnapplied,
        };
        match store.post_payment(&req, now) {
            Ok(outcome) if outcome.replayed => {}
            Ok(outcome) => match outcome.result {
                PostResult::Posted(p) => {
                    posted += 1;
                    tracing::info!(tran_id = %n.tran_id, channel_ref = %channel_ref, payment = %p.uid, amount = p.amount, credit = p.credit, "bill24 payment recorded");
                }
                PostResult::Unapplied(u) => {
                    unapplied += 1;
                    tracing::warn!(tran_id = %n.tran_id, channel_ref = %channel_ref, unapplied_id = u.id, reason = %u.reason, "bill24 payment kept as unapplied money");
                }
            },
            Err(StoreError::Rejected(Rejection::InconsistentReplay)) => {
                tracing::warn!(tran_id = %n.tran_id, channel_ref = %channel_ref, "bill24 transaction repeated with different content; nothing changed");
                return Ok(if posted + unapplied == 0 {
                    Recorded::Inconsistent
                } else {
                    // Cannot happen: every share's hash covers the whole transaction, so the
                    // first share is refused before anything is posted.
                    Recorded::New { posted, unapplied }
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(if posted + unapplied == 0 {
        Recorded::AlreadyRecorded
    } else {
        Recorded::New { posted, unapplied }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(share_reference("T1", 0), "T1");
        assert_eq!(share_reference("T1", 1), "T1:2");
        assert_eq!(share_reference("T1", 2), "T1:3");
    }
}
