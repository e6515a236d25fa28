//! Repository operations, one module per area. Each public operation is one transaction.

pub mod bills;
pub mod credentials;
pub mod orgs;
pub mod outbox;
pub mod payments;

pub use bills::*;
pub use credentials::*;
pub use orgs::*;
pub use outbox::*;
pub use payments::*;
