//! The VA dialect over HTTP, on SQLite and PostgreSQL: the seed example, validation, the
//! signature over raw bytes, the payment rules, expiry, revoke, reversal, idempotency,
//! concurrency, enrolment, lists, the sandbox and webhooks. One test binary, one module per
//! subject.
//!
//! The scenarios are plain async functions run by `http_backend_tests!` on both backends, so
//! clippy's unwrap-in-tests allowance does not reach them: allowed here for the whole binary.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::too_many_lines)]

mod common;

mod auth;
mod bills;
mod clients;
mod docs;
mod fingerprints;
mod hostile;
mod money;
mod payments;
mod plumbing;
mod transactions;
mod webhooks;

/// What every test module uses.
mod prelude {
    pub use std::collections::VecDeque;
    pub use std::sync::{Arc, Mutex};

    pub use billhub_core::signature::ipg;
    pub use billhub_core::{Currency, PaymentRule};
    pub use billhub_store::testing::TestDb;
    pub use billhub_store::{AccountInput, NewBill};
    pub use reqwest::Method;
    pub use serde_json::{Value, json};

    pub use crate::common::*;
}
