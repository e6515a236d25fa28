//! Repository operations, one module per area. Each public operation is one transaction.

pub mod bill24;
pub mod bills;
pub mod collections;
pub mod credentials;
pub mod credit;
pub mod orgs;
pub mod outbox;
pub mod payments;
pub mod postpaid;
mod search;
pub mod va;

pub use bills::*;
pub use credentials::*;
pub use credit::*;
pub use orgs::*;
pub use outbox::*;
pub use payments::*;
