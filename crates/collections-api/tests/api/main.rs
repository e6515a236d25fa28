//! The collections dialect over HTTP, on SQLite and PostgreSQL: every endpoint, includes,
//! pagination, the seed's create request, validation, idempotency, tenant isolation, errors and
//! signed callbacks with retries.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken expectation
#![allow(clippy::indexing_slicing, clippy::too_many_lines)]

mod common;

mod auth;
mod bills;
mod clients;
mod collections;
mod customers;
mod hostile;
mod idempotency;
mod money;
mod payments;
mod products;
mod transactions;
mod validation;

use billhub_core::signature::raudhahpay;
use billhub_store::testing::TestDb;
use billhub_store::{ReversalRequest, fingerprint};
use common::*;
use serde_json::{Value, json};

/// The fields of a bill without includes, in the seed's order.
const BILL_FIELDS: [&str; 29] = [
    "id",
    "bill_no",
    "due",
    "status",
    "recurring",
    "recurring_end_date",
    "collection_id",
    "type",
    "account_id",
    "ref1",
    "ref2",
    "api_redirect",
    "created_at",
    "created_by",
    "updated_at",
    "currency",
    "quantity_label",
    "is_metric",
    "master_bill",
    "rbill_date",
    "bill_url",
    "payment_url",
    "forward_payment_url",
    "total_amount",
    "total_paid",
    "balance",
    "paid",
    "product_collections",
    "payments",
];

const PAGINATOR_FIELDS: [&str; 12] = [
    "current_page",
    "data",
    "first_page_url",
    "from",
    "last_page",
    "last_page_url",
    "next_page_url",
    "path",
    "per_page",
    "prev_page_url",
    "to",
    "total",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    k.sort();
    k.dedup();
    k
}

fn is_code8(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_timestamp(s: &str) -> bool {
    time::PrimitiveDateTime::parse(
        s,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .is_ok()
}

fn bills_path(code: &str) -> String {
    format!("/api/collections/{code}/bills")
}

fn bill_path(code: &str, bill: &Value) -> String {
    format!(
        "/api/collections/{code}/bills/{}",
        bill["bill_no"].as_str().unwrap()
    )
}

// ---------------------------------------------------------------------------------------------
