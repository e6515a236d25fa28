//! Money a channel took that billhub could not apply: listed for operators, then refunded
//! outside billhub or applied (posted as the channel's own payment, under its reference), once.

use billhub_core::{Money, Payment};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::models::{UnappliedRow, currency};
use crate::pool::AnyConnection;
use crate::repo::posting::{
    OnRejection, PaymentRequest, PaymentTarget, PostResult, UnappliedPayment, post_in_tx,
    release_reference, unapplied_from_row,
};
use crate::schema::unapplied_payments as up;
use crate::time_conv::{from_db, to_db};
use crate::{ConflictKind, Entity, InvalidKind, Reader, StoreError, StoreResult, Writer};

/// What an operator does with money that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The money was given back to the payer outside billhub.
    Refunded { note: String },
    /// Apply it now, to a bill or an account: posted as the original channel's payment, under its
    /// reference, so a later repeat from the channel finds this payment.
    Applied { target: PaymentTarget },
}

fn load_unapplied(conn: &mut AnyConnection, id: i64) -> StoreResult<UnappliedRow> {
    up::table
        .filter(up::id.eq(id))
        .select(UnappliedRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found(Entity::UnappliedPayment, id))
}

fn with_note(details: &str, key: &str, value: serde_json::Value) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(details).unwrap_or_else(|_| serde_json::json!({}));
    if !v.is_object() {
        v = serde_json::json!({ "original": v });
    }
    if let Some(m) = v.as_object_mut() {
        m.insert(key.to_string(), value);
    }
    v.to_string()
}

fn resolve_in_tx(
    conn: &mut AnyConnection,
    id: i64,
    resolution: &Resolution,
    now: OffsetDateTime,
) -> StoreResult<(UnappliedPayment, Option<Payment>)> {
    let row = load_unapplied(conn, id)?;
    if row.status != "open" {
        return Err(StoreError::Conflict(ConflictKind::AlreadyResolved {
            id,
            status: row.status.clone(),
        }));
    }
    let (status, details, payment) = match resolution {
        Resolution::Refunded { note } => {
            let note = note.trim();
            if note.is_empty() {
                return Err(StoreError::Invalid(InvalidKind::MissingNote));
            }
            (
                "refunded",
                with_note(&row.details, "refund_note", serde_json::json!(note)),
                None,
            )
        }
        Resolution::Applied { target } => {
            let organization_id = row
                .organization_id
                .ok_or_else(|| StoreError::Invalid(InvalidKind::NoOrganization { id }))?;
            // Mark it first, so that posting under the same channel reference is not answered
            // as a repeat of this very record, and hand its reference's key to the payment.
            diesel::update(up::table.filter(up::id.eq(id)))
                .set(up::status.eq("applied"))
                .execute(conn)?;
            release_reference(conn, &row.channel, organization_id, &row.channel_ref)?;
            let req = PaymentRequest {
                organization_id,
                channel: row.channel.clone(),
                channel_ref: row.channel_ref.clone(),
                request_hash: row.request_hash.clone(),
                target: target.clone(),
                amount: Money::from_minor(row.amount, currency(&row.currency)?),
                fee: 0,
                method: String::new(),
                payer_name: String::new(),
                details: with_note(
                    &row.details,
                    "applied_from_unapplied",
                    serde_json::json!(id),
                ),
                paid_at: from_db(row.created_at),
                on_rejection: OnRejection::Refuse,
            };
            let outcome = post_in_tx(conn, &req, &[], now)?;
            let payment = match outcome.result {
                PostResult::Posted(p) if !outcome.replayed => p,
                _ => {
                    return Err(StoreError::Conflict(ConflictKind::ReferenceTaken {
                        channel: row.channel.clone(),
                        reference: row.channel_ref.clone(),
                    }));
                }
            };
            let details = with_note(
                &row.details,
                "applied_payment",
                serde_json::json!(payment.uid),
            );
            ("applied", details, Some(payment))
        }
    };
    diesel::update(up::table.filter(up::id.eq(id)))
        .set((
            up::status.eq(status),
            up::details.eq(&details),
            up::resolved_at.eq(Some(to_db(now))),
        ))
        .execute(conn)?;
    Ok((unapplied_from_row(load_unapplied(conn, id)?), payment))
}

impl Reader<'_> {
    /// Unapplied money of an organization (all of it when `None`), oldest first.
    pub fn unapplied_payments(
        &mut self,
        organization_id: Option<i64>,
    ) -> StoreResult<Vec<UnappliedPayment>> {
        self.with(|conn| {
            let mut q = up::table
                .select(UnappliedRow::as_select())
                .order(up::id.asc())
                .into_boxed();
            if let Some(org) = organization_id {
                q = q.filter(up::organization_id.eq(Some(org)));
            }
            Ok(q.load(conn)?.into_iter().map(unapplied_from_row).collect())
        })
    }
}

impl Writer<'_> {
    /// Resolves unapplied money once: refunded, or applied to a bill or account (core decides the
    /// allocation as for any payment; a refusal changes nothing and leaves it open).
    pub fn resolve_unapplied(
        &mut self,
        id: i64,
        resolution: &Resolution,
        now: OffsetDateTime,
    ) -> StoreResult<(UnappliedPayment, Option<Payment>)> {
        self.with(|conn| resolve_in_tx(conn, id, resolution, now))
    }
}

crate::tx::store_reads! {
    fn unapplied_payments(&self, organization_id: Option<i64>) -> Vec<UnappliedPayment>;
}

crate::tx::store_writes! {
    fn resolve_unapplied(&self, id: i64, resolution: &Resolution, now: OffsetDateTime) -> (UnappliedPayment, Option<Payment>);
}
