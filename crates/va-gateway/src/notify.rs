//! The VA webhook: on every payment and reversal of an organization's bill (from any channel),
//! and when a bill expires, the outbox POSTs `{"event": "payment.received" | "payment.reversal"
//! | "bill.expired", "context": <the bill as `GET /api/v2/gw/bill/{hash}` shows it, as it was
//! right after the event (status `expired` for an expiry)>}` to the organization's
//! `va.webhook_url`.
//!
//! The body is written the way PHP's `json_encode` writes it (`\/`, `\uXXXX`), so a receiver
//! that re-encodes the decoded body gets the same bytes. Headers: `Signature` = lowercase hex
//! HMAC-SHA256 of the body with the organization's newest active VA API key, and `X-Event-Id`
//! = the event id (receivers drop repeats by it). Any 2xx acknowledges; otherwise the call is
//! repeated every minute, up to 3 tries in all, then kept as failed.

use billhub_core::BillStatus;
use billhub_core::signature::ipg;
use billhub_http::gateway::RenderError;
use billhub_http::{Config, Notifier, OutboundRequest, RetrySchedule};
use billhub_store::repo::va::VaBill;
use billhub_store::{Delivery, NotificationEvent as Event, Store};

use crate::auth::DIALECT;
use crate::error::Cause;
use crate::wire::{BillData, Webhook, bill_data_as};

/// Renders `va` deliveries.
#[derive(Debug, Clone, Copy, Default)]
pub struct VaNotifier;

/// The dialect's event name of an outbox event kind.
pub fn event_name(kind: &str) -> Option<&'static str> {
    match kind {
        "payment.received" => Some("payment.received"),
        "payment.reversed" => Some("payment.reversal"),
        "bill.expired" => Some("bill.expired"),
        _ => None,
    }
}

impl Notifier for VaNotifier {
    fn dialect(&self) -> &'static str {
        DIALECT
    }

    /// Every minute, 3 tries in all.
    fn schedule(&self) -> RetrySchedule {
        RetrySchedule {
            delays: vec![time::Duration::minutes(1); 2],
        }
    }

    fn render(
        &self,
        store: &Store,
        _config: &Config,
        delivery: &Delivery,
    ) -> Result<OutboundRequest, RenderError> {
        let event = &delivery.event;
        let name = event_name(&event.kind)
            .ok_or_else(|| format!("event `{}` is not sent to VA webhooks", event.kind))?;
        let (context, key) = load(store, event, name)?;
        let json = serde_json::to_string(&Webhook {
            event: name,
            context: &context,
        })
        .map_err(|e| e.to_string())?;
        let body = ipg::php_escape(&json);
        Ok(OutboundRequest {
            url: delivery.target_url.clone(),
            content_type: "application/json".into(),
            headers: vec![
                ("Signature".into(), ipg::sign(&key, body.as_bytes(), "")),
                ("X-Event-Id".into(), event.uid.clone()),
            ],
            body: body.into_bytes(),
        })
    }
}

/// The store work of a delivery, in one snapshot: the bill as it was right after the event, and
/// the key that signs the body (the organization's newest active VA API key).
fn load(store: &Store, event: &Event, name: &str) -> Result<(BillData, String), RenderError> {
    let bill_id = event
        .bill_id
        .ok_or_else(|| format!("event {} has no bill", event.uid))?;
    let (bill, org, key) = store
        .snapshot(|r| {
            let bill = r.va_bill(bill_id)?;
            let org = r.organization(event.organization_id)?;
            let key = r.newest_api_key(org.id, DIALECT)?;
            Ok::<_, Cause>((bill, org, key))
        })
        .map_err(|e| match e {
            Cause::Store(e) => RenderError::from(e),
            Cause::Other(m) => RenderError::Permanent(m),
        })?;
    let key = key.ok_or_else(|| {
        format!(
            "organization {} has no active VA credential to sign with",
            org.code
        )
    })?;
    let (status, paid) = after_event(event, &bill)?;
    let context = bill_data_as(
        &bill,
        org.utc_offset,
        status,
        name == "payment.reversal",
        paid,
    );
    Ok((context, key))
}

/// The bill's status and paid amount right after the event, as its payload recorded them
/// (the bill's current ones when the payload does not say).
fn after_event(event: &Event, bill: &VaBill) -> Result<(BillStatus, i64), String> {
    let payload: serde_json::Value = serde_json::from_str(&event.payload)
        .map_err(|e| format!("event {} payload: {e}", event.uid))?;
    let status = payload
        .get("status_after")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<BillStatus>().ok())
        .unwrap_or(bill.bill.status);
    let paid = payload
        .get("paid_after")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(bill.bill.paid);
    Ok((status, paid))
}
