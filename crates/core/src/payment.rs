//! Accounts, payments, allocations and reversals as the store returns them.

use serde::Serialize;
use time::OffsetDateTime;

use crate::money::Currency;
use crate::rules::Allocation;

/// The payer's account at an organization: the code a payer types at any channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: i64,
    pub organization_id: i64,
    pub code: String,
    pub name: String,
    pub name_latin: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub first_name: String,
    pub last_name: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A payment a channel reported, with how it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub id: i64,
    /// A uuid, for receipts and webhooks.
    pub uid: String,
    pub organization_id: i64,
    pub account_id: Option<i64>,
    /// The channel that took the money (`bill24`, `va:3`, `postpaid:2`, `sandbox`, ...).
    pub channel: String,
    /// Unique per channel: the idempotency key.
    pub channel_ref: String,
    /// The payment method or sub-channel as the channel names it (`fpx`, `atm`, `ACLEDA`).
    pub method: String,
    pub currency: Currency,
    /// Minor units.
    pub amount: i64,
    /// Fee the channel charged on top (recorded, never applied to bills), minor units.
    pub fee: i64,
    /// The part kept as account credit, minor units.
    pub credit: i64,
    pub allocations: Vec<Allocation>,
    pub payer_name: String,
    /// Extra channel details as JSON text.
    pub details: String,
    pub paid_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub reversed: Option<Reversal>,
}

/// The undoing of a whole payment, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reversal {
    pub id: i64,
    pub payment_id: i64,
    pub channel_ref: String,
    pub reason: String,
    pub created_at: OffsetDateTime,
}
