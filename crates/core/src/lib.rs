//! # billhub-core
//!
//! The domain of billhub and every rule of it, with no IO (no actix, diesel or tokio):
//!
//! - [`money`]: [`Currency`] (ISO 4217 with minor-unit exponent) and exact [`Money`].
//! - [`bill`]: bills, line items, payment rules, settlement modes and the status machine
//!   ([`bill::transition`]).
//! - [`rules`]: [`rules::decide`], the one function that allocates a payment or says why not
//!   ([`Rejection`]).
//! - [`statement`]: the account statement with running and opening balances.
//! - [`org`]: organizations and their typed settings.
//! - [`signature`]: the dialects' signature schemes (IPG, RaudhahPay callbacks, CSQ).
//!
//! ## Errors
//! Each module has its own `thiserror` enum of data ([`MoneyError`], [`bill::TransitionError`],
//! [`org::SettingError`], ...). Business refusals are [`Rejection`] values, not strings: gateways
//! map them to their partner's codes in one table each. Nothing here panics on input.
//!
//! Time is always an argument (`now`); nothing here reads a clock.

pub mod bill;
pub mod money;
pub mod org;
pub mod payment;
pub mod postpaid;
pub mod rules;
pub mod signature;
pub mod statement;

pub use bill::{Bill, BillStatus, BillTransition, LineItem, PaymentRule, SettlementMode};
pub use money::{Currency, Money, MoneyError};
pub use payment::{Account, Payment, Reversal};
pub use rules::{Allocation, Decision, Rejection, Target};
