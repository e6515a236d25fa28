//! The postpaid (CSQ eVSB) dialect over HTTP, on SQLite (`sqlite::...`) and PostgreSQL
//! (`postgres::...`): a real gateway, a real database per test, a terminal that signs like one.
//! One test binary, modules by subject.

// Test code: a failed unwrap is a failed test (clippy's allow-unwrap-in-tests does not reach
// helper functions outside #[test] items).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

mod auth;
mod clients;
mod common;
mod duplicates;
mod fingerprints;
mod hostile;
mod lookups;
mod payments;
mod requests;
mod reverts;
mod transactions;

use auth::*;
use clients::*;
use lookups::*;
use payments::*;
use requests::*;
use reverts::*;
use transactions::*;

billhub_http::http_backend_tests!(
    concurrent_use_of_one_code,
    seed_get_invoices,
    total_payment,
    discrete_payment,
    open_payment_with_fee_and_credit,
    transaction_code_rules,
    replayed_and_conflicting_reference,
    revert_in_and_out_of_window,
    transaction_info,
    authentication,
    invalid_parameters,
    not_acceptable,
    expired_and_nothing_pending,
    ping,
    one_transaction_per_route,
    salts_reused_within_window,
    single_use_salts_everywhere,
    answers_as_clients_read,
    echoed_additional_data,
    exponent_form_amounts,
);
