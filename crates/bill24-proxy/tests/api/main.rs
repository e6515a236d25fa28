//! The Bill24 Merchant Proxy over HTTP, on SQLite and PostgreSQL: every answer code, the seed's
//! pending-bills example, payments in the statement, min/max per rule and settlement mode, the
//! webhook in both generations (idempotency, concurrency, allocation, unapplied money, allow
//! list), auth and malformed requests, and what each route costs in transactions. One test
//! binary, one module per subject.

// Helpers outside `#[test]` functions unwrap too (the clippy.toml test allowance covers only
// test functions and `cfg(test)` modules).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

mod common;

mod auth;
mod duplicates;
mod fingerprints;
mod hostile;
mod lenient;
mod malformed;
mod money;
mod pending_bills;
mod proxy;
mod transactions;
mod webhook;

/// What every test module uses.
mod prelude {
    pub use billhub_core::{BillStatus, Currency, PaymentRule, SettlementMode};
    pub use billhub_store::ReversalRequest;
    pub use billhub_store::testing::TestDb;
    pub use serde_json::{Value, json};
    pub use time::OffsetDateTime;
    pub use time::macros::{date, datetime};

    pub use crate::common::{
        BillSpec, Env, PUBLIC, current, is_link, organization, post, post_raw,
    };

    /// Just after 01/09/2025 in the organization's offset (+07:00).
    pub const NOW: OffsetDateTime = datetime!(2025-09-01 10:00 +7);

    pub const SUCCESS: &str = r#"{"status":"Success","message":"SUCCESS"}"#;

    pub fn success() -> Value {
        serde_json::from_str(SUCCESS).unwrap()
    }

    pub fn code(body: &Value) -> i64 {
        body["code"].as_i64().unwrap()
    }
}
