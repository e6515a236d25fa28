//! The SNAP dialect over HTTP, on SQLite and PostgreSQL: the B2B token, every header and
//! signature check, inquiry and payment under each payment rule, idempotency by
//! `paymentRequestId`, `X-EXTERNAL-ID` per day, advices kept as unapplied money, and status.
//! One test binary, one module per subject.
//!
//! The scenarios are plain async functions run by `http_backend_tests!` on both backends, so
//! clippy's unwrap-in-tests allowance does not reach them: allowed here for the whole binary.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::too_many_lines)]

mod common;

mod across;
mod headers;
mod payments;
mod token;
