//! `billhub check`: the money invariants of the whole store, verified in one read snapshot.
//!
//! The SQL reads what is stored; the judgement (what a status implies of the amounts, which
//! dates are plausible) is core's [`billhub_core::invariants`]. A violation names its kind, its
//! organization and the row (bill `public_no`, payment `uid`, account code, unapplied or
//! reversal id). Open unapplied money and the outbox backlog are work to do, not violations.
//!
//! Sums are taken in `i128` from the stored rows, so no stored amount can overflow them.

use std::collections::{BTreeMap, HashMap};

use billhub_core::invariants::{EARLIEST_STORED, latest_stored, status_agrees};
use billhub_core::{BillStatus, Channel};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use serde::Serialize;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::pool::AnyConnection;
use crate::schema::{
    account_credit_entries as ace, accounts, bills, notification_deliveries as nd, organizations,
    payment_allocations as pa, payments, reversals, unapplied_payments as up,
};
use crate::time_conv::{from_db, to_db};
use crate::{Backend, Reader, StoreResult};

/// The status an unapplied payment gets when it turned out to be the twin of a posted payment
/// under the same reference (resolved by a migration, listed by `billhub check`).
pub const UNAPPLIED_DUPLICATE: &str = "duplicate";

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// A bill's unreversed allocations do not add up to its paid amount.
    BillPaidMismatch,
    /// A bill's status disagrees with its billed and paid amounts.
    BillStatusMismatch,
    /// An unreversed allocation on a void bill.
    PaymentOnVoidBill,
    /// A payment's amount is not its allocations plus its credit part.
    PaymentAmountMismatch,
    /// An account's credit in a currency is below zero.
    NegativeCredit,
    /// One reference both posted as a payment and held as unapplied (open or refunded) money.
    ReferencePostedAndUnapplied,
    /// Stored text with a NUL character.
    TextWithNul,
    /// A stored date before 2000-01-01 or more than a day after now.
    DateOutOfRange,
}

impl ViolationKind {
    /// The name `billhub check` prints and `docs/operations.md` explains.
    pub fn as_str(&self) -> &'static str {
        match self {
            ViolationKind::BillPaidMismatch => "bill_paid_mismatch",
            ViolationKind::BillStatusMismatch => "bill_status_mismatch",
            ViolationKind::PaymentOnVoidBill => "payment_on_void_bill",
            ViolationKind::PaymentAmountMismatch => "payment_amount_mismatch",
            ViolationKind::NegativeCredit => "negative_credit",
            ViolationKind::ReferencePostedAndUnapplied => "reference_posted_and_unapplied",
            ViolationKind::TextWithNul => "text_with_nul",
            ViolationKind::DateOutOfRange => "date_out_of_range",
        }
    }
}

impl std::fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub kind: ViolationKind,
    pub organization_id: Option<i64>,
    /// The organization's code (empty when the row has none).
    pub organization: String,
    /// What the row is: `bill`, `payment`, `account`, `unapplied` or `reversal`.
    pub row: &'static str,
    /// Which one: the bill's `public_no`, the payment's `uid`, the account's code, the
    /// unapplied payment's or reversal's id.
    pub key: String,
    /// What was found, with the amounts.
    pub detail: String,
}

/// Open unapplied money in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenUnapplied {
    pub currency: String,
    pub count: i64,
    /// Minor units (wider than a stored amount: a sum of many).
    pub total: i128,
}

/// The result of [`Reader::check_invariants`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Every broken invariant, by kind, then organization, then row.
    pub violations: Vec<Violation>,
    /// Work to do: unapplied money waiting for an operator, per currency.
    pub open_unapplied: Vec<OpenUnapplied>,
    /// Work to do: notification deliveries not yet delivered nor given up.
    pub pending_deliveries: i64,
    /// How long the oldest pending delivery has waited, in seconds.
    pub oldest_pending_seconds: Option<i64>,
    /// Unapplied payments resolved as duplicates of a posted payment (by id).
    pub resolved_duplicates: Vec<i64>,
    /// Whether stored text was searched for NUL (SQLite; PostgreSQL text cannot hold NUL).
    pub nul_searched: bool,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Organization codes by id, to name each violation's organization.
struct Orgs(HashMap<i64, String>);

impl Orgs {
    fn load(conn: &mut AnyConnection) -> StoreResult<Orgs> {
        let rows: Vec<(i64, String)> = organizations::table
            .select((organizations::id, organizations::code))
            .load(conn)?;
        Ok(Orgs(rows.into_iter().collect()))
    }

    fn violation(
        &self,
        kind: ViolationKind,
        organization_id: Option<i64>,
        row: &'static str,
        key: impl Into<String>,
        detail: String,
    ) -> Violation {
        let organization = organization_id
            .and_then(|id| self.0.get(&id).cloned())
            .unwrap_or_default();
        Violation {
            kind,
            organization_id,
            organization,
            row,
            key: key.into(),
            detail,
        }
    }
}

/// Per bill: the sum of its unreversed allocations and the payments they belong to.
#[derive(Default)]
struct Allocated {
    unreversed: i128,
    payments: Vec<i64>,
}

/// Every allocation: payment, bill, amount, and whether its payment was reversed.
type AllocationRow = (i64, i64, i64, Option<i64>);

fn load_allocations(conn: &mut AnyConnection) -> StoreResult<Vec<AllocationRow>> {
    Ok(pa::table
        .left_join(reversals::table.on(reversals::payment_id.eq(pa::payment_id)))
        .select((
            pa::payment_id,
            pa::bill_id,
            pa::amount,
            reversals::id.nullable(),
        ))
        .load(conn)?)
}

/// Bill invariants: allocations equal paid, status agrees, no money on a void bill.
fn check_bills(
    conn: &mut AnyConnection,
    orgs: &Orgs,
    allocations: &[AllocationRow],
    uids: &HashMap<i64, String>,
    out: &mut Vec<Violation>,
) -> StoreResult<()> {
    let mut per_bill: HashMap<i64, Allocated> = HashMap::new();
    for &(payment_id, bill_id, amount, reversal) in allocations {
        if reversal.is_none() {
            let a = per_bill.entry(bill_id).or_default();
            a.unreversed += i128::from(amount);
            if !a.payments.contains(&payment_id) {
                a.payments.push(payment_id);
            }
        }
    }
    let rows: Vec<(i64, i64, String, i64, i64, String)> = bills::table
        .select((
            bills::id,
            bills::organization_id,
            bills::public_no,
            bills::billed,
            bills::paid,
            bills::status,
        ))
        .order(bills::id.asc())
        .load(conn)?;
    for (id, org, public_no, billed, paid, status) in rows {
        let allocated = per_bill.remove(&id).unwrap_or_default();
        let v = |kind, detail| orgs.violation(kind, Some(org), "bill", public_no.clone(), detail);
        if allocated.unreversed != i128::from(paid) {
            out.push(v(
                ViolationKind::BillPaidMismatch,
                format!(
                    "paid {paid}, unreversed allocations {}",
                    allocated.unreversed
                ),
            ));
        }
        let parsed = status.parse::<BillStatus>();
        if !parsed
            .as_ref()
            .is_ok_and(|s| status_agrees(*s, billed, paid))
        {
            out.push(v(
                ViolationKind::BillStatusMismatch,
                format!("status {status} with billed {billed}, paid {paid}"),
            ));
        }
        if parsed == Ok(BillStatus::Void) && !allocated.payments.is_empty() {
            let names: Vec<&str> = allocated
                .payments
                .iter()
                .map(|p| uids.get(p).map_or("?", String::as_str))
                .collect();
            out.push(v(
                ViolationKind::PaymentOnVoidBill,
                format!(
                    "void with {} unreversed by payment(s) {}",
                    allocated.unreversed,
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// A payment as the checks read it.
struct PaymentFacts {
    id: i64,
    uid: String,
    organization_id: i64,
    channel: String,
    channel_ref: String,
}

/// Payment invariants: amount equals allocations plus credit. Returns every payment's facts.
fn check_payments(
    conn: &mut AnyConnection,
    orgs: &Orgs,
    allocations: &[AllocationRow],
    out: &mut Vec<Violation>,
) -> StoreResult<Vec<PaymentFacts>> {
    let mut allocated: HashMap<i64, i128> = HashMap::new();
    for &(payment_id, _, amount, _) in allocations {
        *allocated.entry(payment_id).or_default() += i128::from(amount);
    }
    let rows: Vec<(i64, String, i64, String, String, i64, i64)> = payments::table
        .select((
            payments::id,
            payments::uid,
            payments::organization_id,
            payments::channel,
            payments::channel_ref,
            payments::amount,
            payments::credit,
        ))
        .order(payments::id.asc())
        .load(conn)?;
    let mut facts = Vec::with_capacity(rows.len());
    for (id, uid, org, channel, channel_ref, amount, credit) in rows {
        let to_bills = allocated.get(&id).copied().unwrap_or(0);
        if i128::from(amount) != to_bills + i128::from(credit) {
            out.push(orgs.violation(
                ViolationKind::PaymentAmountMismatch,
                Some(org),
                "payment",
                uid.clone(),
                format!("amount {amount}, allocations {to_bills}, credit {credit}"),
            ));
        }
        facts.push(PaymentFacts {
            id,
            uid,
            organization_id: org,
            channel,
            channel_ref,
        });
    }
    Ok(facts)
}

/// No account's credit below zero, per (account, currency).
fn check_credit(
    conn: &mut AnyConnection,
    orgs: &Orgs,
    out: &mut Vec<Violation>,
) -> StoreResult<()> {
    let rows: Vec<(i64, i64, String, String, i64)> = ace::table
        .inner_join(accounts::table)
        .select((
            ace::organization_id,
            ace::account_id,
            accounts::code,
            ace::currency,
            ace::amount,
        ))
        .load(conn)?;
    let mut sums: BTreeMap<(i64, i64, String, String), i128> = BTreeMap::new();
    for (org, account_id, code, currency, amount) in rows {
        *sums.entry((org, account_id, code, currency)).or_default() += i128::from(amount);
    }
    for ((org, _, code, currency), balance) in sums {
        if balance < 0 {
            out.push(orgs.violation(
                ViolationKind::NegativeCredit,
                Some(org),
                "account",
                code,
                format!("credit {balance} {currency}"),
            ));
        }
    }
    Ok(())
}

type UnappliedFacts = (i64, Option<i64>, String, String, String, String, i64);

/// Whether a payment and an unapplied payment hold one reference: the same channel and
/// reference, and for a biller-side channel (references per organization) the same organization.
fn same_reference(p: &PaymentFacts, org: Option<i64>) -> bool {
    let biller_side = p
        .channel
        .parse::<Channel>()
        .is_ok_and(|c| c.is_biller_side());
    !biller_side || org.is_none_or(|o| o == p.organization_id)
}

/// No reference both posted and unapplied; open unapplied money totalled per currency.
fn check_unapplied(
    conn: &mut AnyConnection,
    orgs: &Orgs,
    payments: &[PaymentFacts],
    report: &mut CheckReport,
) -> StoreResult<()> {
    let rows: Vec<UnappliedFacts> = up::table
        .select((
            up::id,
            up::organization_id,
            up::channel,
            up::channel_ref,
            up::status,
            up::currency,
            up::amount,
        ))
        .order(up::id.asc())
        .load(conn)?;
    let mut by_ref: HashMap<(&str, &str), Vec<&PaymentFacts>> = HashMap::new();
    for p in payments {
        by_ref
            .entry((p.channel.as_str(), p.channel_ref.as_str()))
            .or_default()
            .push(p);
    }
    let mut open: BTreeMap<String, (i64, i128)> = BTreeMap::new();
    for (id, org, channel, channel_ref, status, currency, amount) in rows {
        if status == UNAPPLIED_DUPLICATE {
            report.resolved_duplicates.push(id);
        }
        if status == "open" {
            let e = open.entry(currency).or_default();
            e.0 += 1;
            e.1 += i128::from(amount);
        }
        if status != "open" && status != "refunded" {
            continue;
        }
        let twins = by_ref.get(&(channel.as_str(), channel_ref.as_str()));
        for p in twins.into_iter().flatten() {
            if same_reference(p, org) {
                report.violations.push(orgs.violation(
                    ViolationKind::ReferencePostedAndUnapplied,
                    Some(p.organization_id),
                    "unapplied",
                    id.to_string(),
                    format!(
                        "{channel} reference {channel_ref:?} is {status} unapplied money and payment {}",
                        p.uid
                    ),
                ));
            }
        }
    }
    report.open_unapplied = open
        .into_iter()
        .map(|(currency, (count, total))| OpenUnapplied {
            currency,
            count,
            total,
        })
        .collect();
    Ok(())
}

/// A SQLite condition: the column holds a NUL character.
fn nul_in(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("instr(CAST({c} AS BLOB), x'00') > 0"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// No NUL in stored text of bills, accounts and payments. PostgreSQL refuses NUL in `text`, so
/// only SQLite can hold any.
fn check_nul(conn: &mut AnyConnection, orgs: &Orgs, out: &mut Vec<Violation>) -> StoreResult<()> {
    let bill_cols = [
        "public_no",
        "invoice_number",
        "ref1",
        "ref2",
        "name",
        "description",
        "extra",
    ];
    let found: Vec<(i64, String)> = bills::table
        .filter(sql::<Bool>(&nul_in(&bill_cols)))
        .select((bills::organization_id, bills::public_no))
        .load(conn)?;
    for (org, key) in found {
        let detail = "NUL in its text".to_string();
        out.push(orgs.violation(ViolationKind::TextWithNul, Some(org), "bill", key, detail));
    }
    let account_cols = [
        "code",
        "name",
        "name_latin",
        "first_name",
        "last_name",
        "phone",
        "email",
        "address",
    ];
    let found: Vec<(i64, String)> = accounts::table
        .filter(sql::<Bool>(&nul_in(&account_cols)))
        .select((accounts::organization_id, accounts::code))
        .load(conn)?;
    for (org, key) in found {
        let detail = "NUL in its text".to_string();
        out.push(orgs.violation(
            ViolationKind::TextWithNul,
            Some(org),
            "account",
            key,
            detail,
        ));
    }
    let payment_cols = ["channel_ref", "method", "payer_name", "details"];
    let found: Vec<(i64, String)> = payments::table
        .filter(sql::<Bool>(&nul_in(&payment_cols)))
        .select((payments::organization_id, payments::uid))
        .load(conn)?;
    for (org, key) in found {
        let detail = "NUL in its text".to_string();
        out.push(orgs.violation(
            ViolationKind::TextWithNul,
            Some(org),
            "payment",
            key,
            detail,
        ));
    }
    Ok(())
}

fn date_detail(column: &str, at: PrimitiveDateTime) -> String {
    format!("{column} {at} outside 2000-01-01 .. now + 1 day")
}

/// No stored date before 2000-01-01 or more than a day after `now`.
fn check_dates(
    conn: &mut AnyConnection,
    orgs: &Orgs,
    now: OffsetDateTime,
    out: &mut Vec<Violation>,
) -> StoreResult<()> {
    let earliest = to_db(EARLIEST_STORED);
    let latest = to_db(latest_stored(now).unwrap_or(now));
    let found: Vec<(i64, String, PrimitiveDateTime, PrimitiveDateTime)> = payments::table
        .filter(
            payments::paid_at
                .lt(earliest)
                .or(payments::paid_at.gt(latest))
                .or(payments::created_at.lt(earliest))
                .or(payments::created_at.gt(latest)),
        )
        .select((
            payments::organization_id,
            payments::uid,
            payments::paid_at,
            payments::created_at,
        ))
        .load(conn)?;
    let outside = |t: PrimitiveDateTime| t < earliest || t > latest;
    for (org, uid, paid_at, created_at) in found {
        let (column, at) = if outside(paid_at) {
            ("paid_at", paid_at)
        } else {
            ("created_at", created_at)
        };
        let detail = date_detail(column, at);
        out.push(orgs.violation(
            ViolationKind::DateOutOfRange,
            Some(org),
            "payment",
            uid,
            detail,
        ));
    }
    let found: Vec<(i64, String, PrimitiveDateTime)> = bills::table
        .filter(
            bills::created_at
                .lt(earliest)
                .or(bills::created_at.gt(latest)),
        )
        .select((bills::organization_id, bills::public_no, bills::created_at))
        .load(conn)?;
    for (org, public_no, at) in found {
        let detail = date_detail("created_at", at);
        let v = orgs.violation(
            ViolationKind::DateOutOfRange,
            Some(org),
            "bill",
            public_no,
            detail,
        );
        out.push(v);
    }
    let found: Vec<(i64, i64, PrimitiveDateTime)> = reversals::table
        .inner_join(payments::table)
        .filter(
            reversals::created_at
                .lt(earliest)
                .or(reversals::created_at.gt(latest)),
        )
        .select((
            reversals::id,
            payments::organization_id,
            reversals::created_at,
        ))
        .load(conn)?;
    for (id, org, at) in found {
        let detail = date_detail("created_at", at);
        let v = orgs.violation(
            ViolationKind::DateOutOfRange,
            Some(org),
            "reversal",
            id.to_string(),
            detail,
        );
        out.push(v);
    }
    Ok(())
}

/// The outbox backlog: pending deliveries and the age of the oldest.
fn outbox_backlog(
    conn: &mut AnyConnection,
    now: OffsetDateTime,
) -> StoreResult<(i64, Option<i64>)> {
    let pending = nd::table.filter(nd::status.eq("pending"));
    let count: i64 = pending.count().get_result(conn)?;
    let oldest: Option<PrimitiveDateTime> = nd::table
        .filter(nd::status.eq("pending"))
        .select(diesel::dsl::min(nd::created_at))
        .first(conn)?;
    let age = oldest.map(|t| (now - from_db(t)).whole_seconds().max(0));
    Ok((count, age))
}

impl Reader<'_> {
    /// Verifies the money invariants of every organization in this snapshot (see the module
    /// documentation); `now` bounds the plausible dates and ages the outbox backlog.
    pub fn check_invariants(&mut self, now: OffsetDateTime) -> StoreResult<CheckReport> {
        let backend = self.backend();
        self.with(|conn| {
            let orgs = Orgs::load(conn)?;
            let mut report = CheckReport {
                violations: Vec::new(),
                open_unapplied: Vec::new(),
                pending_deliveries: 0,
                oldest_pending_seconds: None,
                resolved_duplicates: Vec::new(),
                nul_searched: backend == Backend::Sqlite,
            };
            let allocations = load_allocations(conn)?;
            let payments = check_payments(conn, &orgs, &allocations, &mut report.violations)?;
            let uids: HashMap<i64, String> =
                payments.iter().map(|p| (p.id, p.uid.clone())).collect();
            check_bills(conn, &orgs, &allocations, &uids, &mut report.violations)?;
            check_credit(conn, &orgs, &mut report.violations)?;
            check_unapplied(conn, &orgs, &payments, &mut report)?;
            if report.nul_searched {
                check_nul(conn, &orgs, &mut report.violations)?;
            }
            check_dates(conn, &orgs, now, &mut report.violations)?;
            (report.pending_deliveries, report.oldest_pending_seconds) = outbox_backlog(conn, now)?;
            report.violations.sort_by(|a, b| {
                (a.kind, &a.organization, a.row, &a.key).cmp(&(
                    b.kind,
                    &b.organization,
                    b.row,
                    &b.key,
                ))
            });
            Ok(report)
        })
    }
}

crate::tx::store_reads! {
    fn check_invariants(&self, now: OffsetDateTime) -> CheckReport;
}
