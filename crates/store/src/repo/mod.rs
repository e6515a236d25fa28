//! Repository operations, one module per area, as methods of [`crate::Reader`] (reads) and
//! [`crate::Writer`] (writes). A module imports only modules below it, never one that imports it
//! back (`.ci/store-imports` checks): `payments` (loading) < `posting` < `reversal`, `credit`,
//! `unapplied`; `ledger` reads bills and payments.

mod admin;
pub mod bill24;
pub mod bills;
pub mod check;
pub mod collections;
pub mod console;
pub mod console_actions;
pub mod console_bills;
pub mod console_payments;
pub mod credentials;
pub mod credit;
pub mod export;
pub mod import;
pub mod ledger;
pub mod orgs;
pub mod outbox;
pub mod pages;
pub mod payments;
pub mod posting;
pub mod postpaid;
pub mod reconcile;
pub mod reversal;
pub mod rotate;
mod search;
pub mod sessions;
pub mod snap;
pub mod unapplied;
pub mod users;
pub mod va;

pub use admin::*;
pub use bills::*;
pub use check::*;
pub use credentials::*;
pub use credit::*;
pub use import::*;
pub use orgs::*;
pub use outbox::*;
pub use payments::*;
pub use posting::*;
pub use reversal::*;
pub use unapplied::*;
