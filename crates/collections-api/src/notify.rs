//! Payment notifications to a collection's `webhook_url`: a form POST with `ref_id, bill_id,
//! bill_no, ref1, ref2, payment_method, status, paid, currency, amount, signature` (for a bill
//! that expired: `status` `expired`, empty `ref_id` and `payment_method`, `amount` the part left
//! unpaid), signed with
//! the organization's signature key (`billhub_core::signature::raudhahpay`). The receiver
//! acknowledges with the body `RECEIVEOK` or any 2xx; otherwise the delivery is tried again
//! after each delay of [`RETRY_MINUTES`], then kept as failed.

use billhub_core::signature::raudhahpay;
use billhub_core::{Bill, Money, Payment};
use billhub_http::gateway::RenderError;
use billhub_http::{Config, Notifier, OutboundRequest, RetrySchedule};
use billhub_store::{Delivery, Store, StoreError, StoreResult};

use crate::wire::payment_method;

/// Minutes to wait after the 1st, 2nd, ... failed attempt.
pub const RETRY_MINUTES: [i64; 5] = [1, 5, 15, 30, 60];

/// The body that acknowledges a callback whatever the status.
pub const ACK_BODY: &str = "RECEIVEOK";

#[derive(Debug, Clone, Copy, Default)]
pub struct CollectionsNotifier;

#[derive(serde::Deserialize)]
struct Payload {
    /// Minor units applied to this bill.
    amount: i64,
    status_after: String,
}

/// The payload of a `bill.expired` event.
#[derive(serde::Deserialize)]
struct ExpiryPayload {
    billed: i64,
    paid_after: i64,
}

/// Attempts at the one store snapshot of a rendering. A render error fails the delivery for good,
/// so a read that may pass (a busy pool, a lost connection) is tried again; one that cannot
/// (the bill or payment is gone, a refusal) is not.
const READ_ATTEMPTS: usize = 3;

/// What a callback needs from the store, read in one snapshot.
struct Facts {
    bill: Bill,
    payment: Payment,
    key: Option<String>,
}

fn read_facts(
    store: &Store,
    organization_id: i64,
    bill_id: i64,
    payment_id: i64,
) -> StoreResult<Facts> {
    store.snapshot(|r| {
        Ok(Facts {
            bill: r.bill(bill_id)?,
            payment: r.payment(payment_id)?,
            key: r.signature_key(organization_id)?,
        })
    })
}

/// Whether trying the same read again may succeed.
fn may_pass(e: &StoreError) -> bool {
    !(e.is_not_found() || e.invalid().is_some() || e.rejection().is_some())
}

/// Runs `read`, trying it again (up to [`READ_ATTEMPTS`] in all) while its error may pass.
fn retrying<T>(read: impl Fn() -> StoreResult<T>) -> Result<T, String> {
    let mut attempt = 1;
    loop {
        match read() {
            Ok(v) => return Ok(v),
            Err(e) if attempt < READ_ATTEMPTS && may_pass(&e) => {
                tracing::warn!(error = %e, "store read for a collections callback failed; trying again");
                attempt += 1;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The fields of a `bill.expired` callback: no payment, the part left unpaid as `amount`.
fn expiry_fields(
    store: &Store,
    delivery: &Delivery,
) -> Result<Vec<(&'static str, String)>, String> {
    let event = &delivery.event;
    let bill_id = event.bill_id.ok_or("the event has no bill")?;
    let payload: ExpiryPayload = serde_json::from_str(&event.payload)
        .map_err(|e| format!("unreadable event payload: {e}"))?;
    let (bill, key) = retrying(|| {
        store.snapshot(|r| Ok((r.bill(bill_id)?, r.signature_key(event.organization_id)?)))
    })?;
    let key = key.ok_or("the organization has no collections signature key")?;
    let left = payload.billed.saturating_sub(payload.paid_after).max(0);
    let mut fields: Vec<(&'static str, String)> = vec![
        ("ref_id", String::new()),
        ("bill_id", bill.id.to_string()),
        ("bill_no", bill.public_no.clone()),
        ("ref1", bill.ref1.clone()),
        ("ref2", bill.ref2.clone()),
        ("payment_method", String::new()),
        ("status", "expired".into()),
        ("paid", "false".into()),
        ("currency", bill.currency.code().to_string()),
        (
            "amount",
            Money::from_minor(left, bill.currency).to_fixed_string(),
        ),
    ];
    let signature = raudhahpay::sign(&key, fields.iter().map(|(k, v)| (*k, v.as_str())));
    fields.push(("signature", signature));
    Ok(fields)
}

/// The callback fields in the order they are sent (`signature` last).
pub fn callback_fields(
    store: &Store,
    delivery: &Delivery,
) -> Result<Vec<(&'static str, String)>, String> {
    let event = &delivery.event;
    let status = match event.kind.as_str() {
        "payment.received" => "success",
        "payment.reversed" => "reversed",
        "bill.expired" => return expiry_fields(store, delivery),
        other => return Err(format!("no collections callback for `{other}` events")),
    };
    let bill_id = event.bill_id.ok_or("the event has no bill")?;
    let payment_id = event.payment_id.ok_or("the event has no payment")?;
    let payload: Payload = serde_json::from_str(&event.payload)
        .map_err(|e| format!("unreadable event payload: {e}"))?;
    let Facts { bill, payment, key } =
        retrying(|| read_facts(store, event.organization_id, bill_id, payment_id))?;
    let key = key.ok_or("the organization has no collections signature key")?;
    let paid = if payload.status_after == "paid" {
        "true"
    } else {
        "false"
    };
    let mut fields: Vec<(&'static str, String)> = vec![
        ("ref_id", payment.channel_ref.clone()),
        ("bill_id", bill.id.to_string()),
        ("bill_no", bill.public_no.clone()),
        ("ref1", bill.ref1.clone()),
        ("ref2", bill.ref2.clone()),
        ("payment_method", payment_method(&payment)),
        ("status", status.to_string()),
        ("paid", paid.to_string()),
        ("currency", bill.currency.code().to_string()),
        (
            "amount",
            Money::from_minor(payload.amount, bill.currency).to_fixed_string(),
        ),
    ];
    let signature = raudhahpay::sign(&key, fields.iter().map(|(k, v)| (*k, v.as_str())));
    fields.push(("signature", signature));
    Ok(fields)
}

impl Notifier for CollectionsNotifier {
    fn dialect(&self) -> &'static str {
        "collections"
    }

    fn schedule(&self) -> RetrySchedule {
        RetrySchedule {
            delays: RETRY_MINUTES
                .iter()
                .map(|m| time::Duration::minutes(*m))
                .collect(),
        }
    }

    fn render(
        &self,
        store: &Store,
        _config: &Config,
        delivery: &Delivery,
    ) -> Result<OutboundRequest, RenderError> {
        let fields = callback_fields(store, delivery)?;
        let body = serde_urlencoded::to_string(&fields).map_err(|e| e.to_string())?;
        Ok(OutboundRequest {
            url: delivery.target_url.clone(),
            content_type: "application/x-www-form-urlencoded".into(),
            headers: vec![("Accept".into(), "text/plain".into())],
            body: body.into_bytes(),
        })
    }

    fn acknowledged(&self, status: u16, body: &str) -> bool {
        (200..300).contains(&status) || body.trim() == ACK_BODY
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_and_schedule() {
        let n = CollectionsNotifier;
        assert!(n.acknowledged(200, ""));
        assert!(n.acknowledged(204, "whatever"));
        assert!(n.acknowledged(500, " RECEIVEOK\n"));
        assert!(!n.acknowledged(500, "error"));
        assert!(!n.acknowledged(302, ""));
        let s = n.schedule();
        assert_eq!(s.max_attempts(), 6);
        assert_eq!(s.delays[0], time::Duration::minutes(1));
    }
}
