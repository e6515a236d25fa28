//! # billhub-core
//!
//! The domain of billhub and every rule of it, with no IO (no actix, diesel or tokio):
//!
//! - [`money`]: [`Currency`] (ISO 4217 with minor-unit exponent) and exact [`Money`].
//! - [`bill`]: bills, line items, payment rules, settlement modes and the status machine
//!   ([`bill::transition`]).
//! - [`rules`]: [`rules::decide`], the one function that allocates a payment or says why not
//!   ([`Rejection`]).
//! - [`reversal`]: [`reversal::may_reverse`], the reversal policy (also `rules::may_reverse`).
//! - [`credit`]: [`credit::spend_credit`], what may leave an account's credit.
//! - [`input`]: hostile partner input: dates outside 2000-01-01 .. now + 1 day, NUL in text.
//! - [`channel`]: [`Channel`], the stored name of the channel that took a payment.
//! - [`statement`]: the account statement with running and opening balances.
//! - [`org`]: organizations and their typed settings.
//! - [`locale`]: the payer pages' languages, and amounts and dates written in them.
//! - [`signature`]: the dialects' signature schemes (IPG, RaudhahPay callbacks, CSQ).
//!
//! ## Errors
//! Each module has its own `thiserror` enum of data ([`MoneyError`], [`bill::TransitionError`],
//! [`org::SettingError`], ...). Business refusals are [`Rejection`] values, not strings: gateways
//! map them to their partner's codes in one table each. Nothing here panics on input.
//!
//! Time is always an argument (`now`); nothing here reads a clock.
//!
//! ## Tests
//! The `testing` feature adds [`testing`]: one `Bill` (and `Payment`) builder for every crate's
//! tests (`billhub-core = { workspace = true, features = ["testing"] }` under
//! `[dev-dependencies]`).

pub mod bill;
pub mod channel;
pub mod channel_settings;
pub mod credit;
pub mod fingerprint;
pub mod input;
pub mod invariants;
pub mod locale;
pub mod money;
pub mod org;
pub mod patch;
pub mod payment;
pub mod postpaid;
pub mod reversal;
pub mod rules;
pub mod signature;
pub mod statement;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use bill::{Bill, BillStatus, BillTransition, LineItem, PaymentRule, SettlementMode};
pub use channel::Channel;
pub use money::{Currency, Money, MoneyError};
pub use payment::{Account, Payment, Reversal};
pub use rules::{Allocation, Decision, Rejection, Target};
