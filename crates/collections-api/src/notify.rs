//! Payment notifications to a collection's `webhook_url`: a form POST with `ref_id, bill_id,
//! bill_no, ref1, ref2, payment_method, status, paid, currency, amount, signature`, every value
//! a string: `ref_id` `{bill_no}__{YmdHis}` of the payment, `status` the bill's integer status
//! after the event, `paid` `1` when the bill is then fully paid, else `0` (for a bill that
//! expired: `status` `6`, empty `ref_id` and `payment_method`, `amount` the part left unpaid),
//! signed with
//! the organization's signature key (`billhub_core::signature::raudhahpay`). The receiver
//! acknowledges with the body `RECEIVEOK` or any 2xx; otherwise the delivery is tried again
//! after each delay of [`RETRY_MINUTES`], then kept as failed.

use billhub_core::signature::raudhahpay;
use billhub_core::{Bill, BillStatus, Money, Payment};
use billhub_http::gateway::RenderError;
use billhub_http::{Config, Notifier, OutboundRequest, RetrySchedule};
use billhub_store::{Delivery, Reader, Store, StoreError, StoreResult};

use time::{OffsetDateTime, UtcOffset};

use crate::codes::status_code;
use crate::wire::{callback_ref_id, payment_method};

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
    /// Every payment of the bill (for the `ref_id` suffix of payments in one second).
    payments: Vec<Payment>,
    offset: UtcOffset,
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
            payments: r.payments_of_bill(bill_id)?,
            offset: r.organization(organization_id)?.utc_offset,
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

/// What one callback says, before it is spelled and signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackFacts<'a> {
    pub bill: &'a Bill,
    /// `{bill_no}__{YmdHis}` of the payment ([`callback_ref_id`]); empty for an expiry.
    pub ref_id: String,
    pub payment_method: String,
    /// The bill's status after the event: `status` is its integer code, and `paid` is `1` only
    /// when it is [`BillStatus::Paid`].
    pub status_after: BillStatus,
    /// Minor units: applied to (or reversed from, or left unpaid on) this bill.
    pub amount: i64,
}

/// The callback fields in the order they are sent (`signature` last), every value a string, as
/// the partner's sample and its plugins have them: exactly the fields the Gravity Forms plugin
/// allow-lists (one more would break its signature check).
pub fn signed_fields(key: &str, f: &CallbackFacts<'_>) -> Vec<(&'static str, String)> {
    let bill = f.bill;
    let paid = if f.status_after == BillStatus::Paid {
        "1"
    } else {
        "0"
    };
    let mut fields: Vec<(&'static str, String)> = vec![
        ("ref_id", f.ref_id.clone()),
        ("bill_id", bill.id.to_string()),
        ("bill_no", bill.public_no.clone()),
        ("ref1", bill.ref1.clone()),
        ("ref2", bill.ref2.clone()),
        ("payment_method", f.payment_method.clone()),
        ("status", status_code(f.status_after).to_string()),
        ("paid", paid.to_string()),
        ("currency", bill.currency.code().to_string()),
        (
            "amount",
            Money::from_minor(f.amount, bill.currency).to_fixed_string(),
        ),
    ];
    let signature = raudhahpay::sign(key, fields.iter().map(|(k, v)| (*k, v.as_str())));
    fields.push(("signature", signature));
    fields
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
    Ok(signed_fields(
        &key,
        &CallbackFacts {
            bill: &bill,
            ref_id: String::new(),
            payment_method: String::new(),
            status_after: BillStatus::Expired,
            amount: left,
        },
    ))
}

/// The callback fields of a delivery in the order they are sent (`signature` last).
pub fn callback_fields(
    store: &Store,
    delivery: &Delivery,
) -> Result<Vec<(&'static str, String)>, String> {
    let event = &delivery.event;
    match event.kind.as_str() {
        "payment.received" | "payment.reversed" => {}
        "bill.expired" => return expiry_fields(store, delivery),
        other => return Err(format!("no collections callback for `{other}` events")),
    }
    let bill_id = event.bill_id.ok_or("the event has no bill")?;
    let payment_id = event.payment_id.ok_or("the event has no payment")?;
    let payload: Payload = serde_json::from_str(&event.payload)
        .map_err(|e| format!("unreadable event payload: {e}"))?;
    let status_after: BillStatus = payload
        .status_after
        .parse()
        .map_err(|_| format!("unknown bill status `{}`", payload.status_after))?;
    let facts = retrying(|| read_facts(store, event.organization_id, bill_id, payment_id))?;
    let key = facts
        .key
        .as_deref()
        .ok_or("the organization has no collections signature key")?;
    Ok(signed_fields(
        key,
        &CallbackFacts {
            bill: &facts.bill,
            ref_id: callback_ref_id(&facts.bill, &facts.payment, &facts.payments, facts.offset),
            payment_method: payment_method(&facts.payment),
            status_after,
            amount: payload.amount,
        },
    ))
}

/// The hosted page's way back to the shop for a paid bill of a collection with a
/// `redirect_url`: that URL with the callback fields (and signature) of the payment that
/// completed the bill as query parameters, as the partner's plugins read a return `GET`.
/// `None` for any other bill, or while the organization has no signature key.
pub fn return_url(
    r: &mut Reader<'_>,
    bill: &Bill,
    now: OffsetDateTime,
) -> StoreResult<Option<String>> {
    let Some(collection_id) = bill.collection_id else {
        return Ok(None);
    };
    if bill.status_at(now) != BillStatus::Paid {
        return Ok(None);
    }
    let Some(redirect) = r
        .collection_by_id(bill.organization_id, collection_id)?
        .and_then(|c| c.redirect_url)
    else {
        return Ok(None);
    };
    let Some(key) = r.signature_key(bill.organization_id)? else {
        return Ok(None);
    };
    let payments = r.payments_of_bill(bill.id)?;
    let on_bill = |p: &Payment| -> i64 {
        p.allocations
            .iter()
            .filter(|a| a.bill_id == bill.id)
            .map(|a| a.amount)
            .sum()
    };
    // The payment that completed the bill: its latest one still standing.
    let Some(last) = payments
        .iter()
        .filter(|p| p.reversed.is_none() && on_bill(p) > 0)
        .max_by_key(|p| (p.paid_at, p.id))
    else {
        return Ok(None);
    };
    let offset = r.organization(bill.organization_id)?.utc_offset;
    let fields = signed_fields(
        &key,
        &CallbackFacts {
            bill,
            ref_id: callback_ref_id(bill, last, &payments, offset),
            payment_method: payment_method(last),
            status_after: BillStatus::Paid,
            amount: on_bill(last),
        },
    );
    Ok(Some(with_query(&redirect, &fields)))
}

/// `url` with `fields` added to its query (after any query it has, before any fragment).
fn with_query(url: &str, fields: &[(&'static str, String)]) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let query = serde_urlencoded::to_string(fields).unwrap_or_default();
    let sep = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    match fragment {
        Some(f) => format!("{base}{sep}{query}#{f}"),
        None => format!("{base}{sep}{query}"),
    }
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

    /// The signing example of `docs/dialects/collections.md` holds.
    #[test]
    fn the_documented_callback_vector_holds() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/dialects/collections.md"
        );
        let page = std::fs::read_to_string(path).unwrap();
        let fields = [
            ("ref_id", "W7uplQiU__20250703143012"),
            ("bill_id", "2788"),
            ("bill_no", "W7uplQiU"),
            ("ref1", "ORDER-77"),
            ("ref2", ""),
            ("payment_method", "fpx"),
            ("status", "4"),
            ("paid", "1"),
            ("currency", "MYR"),
            ("amount", "10.00"),
        ];
        let text = raudhahpay::string_to_sign(fields);
        assert!(page.contains(&format!("\n{text}\n")), "{text}");
        let signature = raudhahpay::sign("rp-signature-key-0001", fields);
        assert!(page.contains(&format!("`{signature}`")), "{signature}");
    }

    #[test]
    fn return_query_joins_the_url() {
        let f = vec![("paid", "1".to_string()), ("ref2", "a b".to_string())];
        assert_eq!(
            with_query("https://s.test/r", &f),
            "https://s.test/r?paid=1&ref2=a+b"
        );
        assert_eq!(
            with_query("https://s.test/?wc-api=WC_Raudhahpay_Gateway", &f),
            "https://s.test/?wc-api=WC_Raudhahpay_Gateway&paid=1&ref2=a+b"
        );
        assert_eq!(
            with_query("https://s.test/r?#top", &f),
            "https://s.test/r?paid=1&ref2=a+b#top"
        );
    }
}
