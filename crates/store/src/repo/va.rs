//! Queries of the VA (IPG-style) dialect: a bill with everything the dialect shows about it
//! ([`VaBill`]), searchable bill lists and payment rows (payments and reversals) in pages.
//!
//! Only bills that carry at least one VA number are listed: the dialect identifies a bill by its
//! VA number. Filters combine as the partner's `q` does: the text matches VA numbers, invoice
//! numbers, bill names and customer (account) names, OR the bill's payment rule, OR its status.

use crate::repo::bills::item_from_row;
use crate::repo::search::{like_pattern, lower};
use billhub_core::{Account, Bill, Payment};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use time::OffsetDateTime;

use crate::models::{AccountRow, BillItemRow, BillRow};
use crate::pool::{AnyConnection, MultiBackend};
use crate::prepared::{Bind, FixedExpr};
use crate::repo::bills::{BillItem, VaNumber, load_account};
use crate::repo::payments::load_payment;
use crate::repo::posting::PaymentTarget;
use crate::repo::snap::VisibleBill;
use crate::schema::{accounts, bill_events, bill_items, bills, channels, payments, va_numbers};
use crate::time_conv::{from_db, to_db};
use crate::{Entity, Reader, StoreError, StoreResult};

/// A bill with what the VA dialect shows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaBill {
    pub bill: Bill,
    /// The bill's `extra` JSON object as stored.
    pub extra: String,
    pub account: Account,
    pub items: Vec<BillItem>,
    /// In position order; the first is the bill's main VA number.
    pub va_numbers: Vec<VaNumber>,
    /// Whether the bill's latest payment event (payment or reversal) is a reversal.
    pub reversal_last: bool,
}

/// A status as the VA dialect filters on it (evaluated at a given instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaStatusFilter {
    /// Payable (active or partially paid, not past `valid_until`), latest payment event not a
    /// reversal.
    Active,
    /// Payable, and the latest payment event is a reversal.
    Reversal,
    Paid,
    Void,
    /// Stored as expired, or payable but past `valid_until`.
    Expired,
}

/// Sort keys of the bill list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaBillOrder {
    CreatedAt,
    InvoiceNumber,
    Name,
    Billed,
    Paid,
    ValidUntil,
    DueDate,
    Status,
    Rule,
}

/// A bill list query.
#[derive(Debug, Clone)]
pub struct VaBillFilter {
    /// Case-insensitive substring of a VA number, the invoice number, the bill name or the
    /// customer name.
    pub text: Option<String>,
    /// OR'ed with `text`: bills with this payment rule (`exact`, `partial`, `open`).
    pub rule: Option<String>,
    /// OR'ed with `text`: bills in this status at `now`.
    pub status: Option<VaStatusFilter>,
    /// Created at or after.
    pub created_from: Option<OffsetDateTime>,
    /// Created strictly before.
    pub created_before: Option<OffsetDateTime>,
    pub order: VaBillOrder,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

/// Sort keys of the payment list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaPaymentOrder {
    CreatedAt,
    Amount,
}

/// A payment list query (rows are payments and reversals on the organization's VA bills).
#[derive(Debug, Clone)]
pub struct VaPaymentFilter {
    /// Case-insensitive substring of the payment reference, the payer's name, a VA number, the
    /// bill's invoice number or name.
    pub text: Option<String>,
    /// A full VA number (prefix + 10 digits) or the 10-digit account part.
    pub va_number: Option<String>,
    /// `payment` or `reversal`.
    pub kind: Option<String>,
    pub created_from: Option<OffsetDateTime>,
    pub created_before: Option<OffsetDateTime>,
    pub order: VaPaymentOrder,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

/// One payment or reversal on a bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaPaymentRow {
    /// The bill event's id (unique per row).
    pub event_id: i64,
    /// `payment` or `reversal`.
    pub kind: String,
    /// The amount applied to (or taken back from) the bill, minor units.
    pub applied: i64,
    /// The bill's status and paid amount right after this event.
    pub status_after: String,
    pub paid_after: i64,
    pub created_at: OffsetDateTime,
    pub payment: Payment,
    /// The channel's name when the payment came through a registered channel (`va:3`).
    pub channel_name: Option<String>,
    pub bill: VaBill,
}

/// Where a bank's payment goes, as its transaction read it ([`Reader::bank_payment_target`]):
/// the bill and its collection's webhook URL (`None`: no collection, or no webhook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankTarget {
    pub bill: Bill,
    pub webhook: Option<String>,
}

impl BankTarget {
    /// The posting's target: this bill, not read again ([`PaymentTarget::ReadBill`]).
    pub fn into_target(self) -> PaymentTarget {
        PaymentTarget::ReadBill {
            bill: Box::new(self.bill),
            webhook: self.webhook,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaPage<T> {
    pub total: i64,
    pub items: Vec<T>,
}

type BillCond = Box<dyn BoxableExpression<bills::table, MultiBackend, SqlType = Bool>>;
type EventCond = Box<dyn BoxableExpression<bill_events::table, MultiBackend, SqlType = Bool>>;

/// Bills whose latest payment event is a reversal (raw SQL: a correlated subquery).
const REVERSAL_LAST_SQL: &str = "bills.id IN (SELECT e.bill_id FROM bill_events e \
     WHERE e.kind = 'reversal' AND e.id = (SELECT MAX(e2.id) FROM bill_events e2 \
     WHERE e2.bill_id = e.bill_id AND e2.kind IN ('payment', 'reversal')))";

fn payable_now(now: OffsetDateTime) -> BillCond {
    Box::new(
        bills::status.eq_any(["active", "partially_paid"]).and(
            bills::valid_until
                .is_null()
                .or(bills::valid_until.assume_not_null().gt(to_db(now))),
        ),
    )
}

fn status_cond(status: VaStatusFilter, now: OffsetDateTime) -> BillCond {
    match status {
        VaStatusFilter::Paid => Box::new(bills::status.eq("paid")),
        VaStatusFilter::Void => Box::new(bills::status.eq("void")),
        VaStatusFilter::Expired => Box::new(
            bills::status.eq("expired").or(bills::status
                .eq_any(["active", "partially_paid"])
                .and(bills::valid_until.is_not_null())
                .and(bills::valid_until.assume_not_null().le(to_db(now)))),
        ),
        VaStatusFilter::Active => {
            Box::new(payable_now(now).and(diesel::dsl::not(sql::<Bool>(REVERSAL_LAST_SQL))))
        }
        VaStatusFilter::Reversal => Box::new(payable_now(now).and(sql::<Bool>(REVERSAL_LAST_SQL))),
    }
}

fn filtered_bills(
    organization_id: i64,
    f: &VaBillFilter,
    now: OffsetDateTime,
) -> bills::BoxedQuery<'static, MultiBackend> {
    let mut q = bills::table
        .filter(bills::organization_id.eq(organization_id))
        .filter(
            bills::id.eq_any(
                va_numbers::table
                    .filter(va_numbers::organization_id.eq(organization_id))
                    .select(va_numbers::bill_id),
            ),
        )
        .into_boxed();
    let mut any: Vec<BillCond> = Vec::new();
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
        let p = like_pattern(text);
        any.push(Box::new(
            bills::id.eq_any(
                va_numbers::table
                    .filter(va_numbers::organization_id.eq(organization_id))
                    .filter(va_numbers::number.like(p.clone()).escape('\\'))
                    .select(va_numbers::bill_id),
            ),
        ));
        any.push(Box::new(
            lower(bills::invoice_number).like(p.clone()).escape('\\'),
        ));
        any.push(Box::new(lower(bills::name).like(p.clone()).escape('\\')));
        any.push(Box::new(
            bills::account_id.eq_any(
                accounts::table
                    .filter(accounts::organization_id.eq(organization_id))
                    .filter(lower(accounts::name).like(p).escape('\\'))
                    .select(accounts::id),
            ),
        ));
    }
    if let Some(rule) = &f.rule {
        any.push(Box::new(bills::rule.eq(rule.clone())));
    }
    if let Some(status) = f.status {
        any.push(status_cond(status, now));
    }
    if let Some(cond) = any.into_iter().reduce(|a, b| Box::new(a.or(b))) {
        q = q.filter(cond);
    }
    if let Some(from) = f.created_from {
        q = q.filter(bills::created_at.ge(to_db(from)));
    }
    if let Some(before) = f.created_before {
        q = q.filter(bills::created_at.lt(to_db(before)));
    }
    q
}

fn filtered_events(
    organization_id: i64,
    f: &VaPaymentFilter,
) -> bill_events::BoxedQuery<'static, MultiBackend> {
    let org_va_bills = bills::table
        .filter(bills::organization_id.eq(organization_id))
        .filter(
            bills::id.eq_any(
                va_numbers::table
                    .filter(va_numbers::organization_id.eq(organization_id))
                    .select(va_numbers::bill_id),
            ),
        )
        .select(bills::id);
    let mut q = bill_events::table
        .filter(bill_events::bill_id.eq_any(org_va_bills))
        .filter(bill_events::payment_id.is_not_null())
        .into_boxed();
    match f.kind.as_deref() {
        Some(kind) => q = q.filter(bill_events::kind.eq(kind.to_string())),
        None => q = q.filter(bill_events::kind.eq_any(["payment", "reversal"])),
    }
    if let Some(number) = f.va_number.as_deref().filter(|n| !n.is_empty()) {
        q = q.filter(va_number_cond(organization_id, number));
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty())
        && let Some(cond) = event_text_cond(organization_id, text)
    {
        q = q.filter(cond);
    }
    if let Some(from) = f.created_from {
        q = q.filter(bill_events::created_at.ge(to_db(from)));
    }
    if let Some(before) = f.created_before {
        q = q.filter(bill_events::created_at.lt(to_db(before)));
    }
    q
}

/// Events of the bills holding a VA number: the exact number, or with 10 digits the account part
/// under any prefix.
fn va_number_cond(organization_id: i64, number: &str) -> EventCond {
    let numbers = va_numbers::table.filter(va_numbers::organization_id.eq(organization_id));
    if number.len() == 10 {
        // The account part: any prefix.
        let p = format!("%{number}");
        Box::new(
            bill_events::bill_id.eq_any(
                numbers
                    .filter(va_numbers::number.like(p))
                    .select(va_numbers::bill_id),
            ),
        )
    } else {
        Box::new(
            bill_events::bill_id.eq_any(
                numbers
                    .filter(va_numbers::number.eq(number.to_string()))
                    .select(va_numbers::bill_id),
            ),
        )
    }
}

/// Events whose payment (reference, payer) or bill (VA number, invoice number, name) matches `text`.
fn event_text_cond(organization_id: i64, text: &str) -> Option<EventCond> {
    let p = like_pattern(text);
    let any: Vec<EventCond> = vec![
        Box::new(
            bill_events::payment_id.assume_not_null().eq_any(
                payments::table
                    .filter(payments::organization_id.eq(organization_id))
                    .filter(
                        lower(payments::channel_ref)
                            .like(p.clone())
                            .escape('\\')
                            .or(lower(payments::payer_name).like(p.clone()).escape('\\')),
                    )
                    .select(payments::id),
            ),
        ),
        Box::new(
            bill_events::bill_id.eq_any(
                va_numbers::table
                    .filter(va_numbers::organization_id.eq(organization_id))
                    .filter(va_numbers::number.like(p.clone()).escape('\\'))
                    .select(va_numbers::bill_id),
            ),
        ),
        Box::new(
            bill_events::bill_id.eq_any(
                bills::table
                    .filter(bills::organization_id.eq(organization_id))
                    .filter(
                        lower(bills::invoice_number)
                            .like(p.clone())
                            .escape('\\')
                            .or(lower(bills::name).like(p).escape('\\')),
                    )
                    .select(bills::id),
            ),
        ),
    ];
    any.into_iter().reduce(|a, b| Box::new(a.or(b)))
}

/// Inside a transaction: a bill with everything the dialect shows.
pub(crate) fn load_va_bill(conn: &mut AnyConnection, bill_id: i64) -> StoreResult<VaBill> {
    // One read of the bill row: its `extra` comes with it.
    let mut row: BillRow = bills::table
        .filter(bills::id.eq(bill_id))
        .select(BillRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found(Entity::Bill, bill_id))?;
    let extra = std::mem::take(&mut row.extra);
    let bill = row.into_bill()?;
    let account = load_account(conn, bill.account_id)?;
    va_bill_of(conn, bill, extra, account, None)
}

/// A bill with everything the dialect shows, its row and account already read: its items, VA
/// numbers and (unless `last` has it already) the kind of its latest payment event.
fn va_bill_of(
    conn: &mut AnyConnection,
    bill: Bill,
    extra: String,
    account: Account,
    last: Option<Option<String>>,
) -> StoreResult<VaBill> {
    let bill_id = bill.id;
    // Each statement typed for its backend (prepared once per pooled connection): every VA
    // inquiry runs these.
    let items = crate::pool::on_backend!(conn, |c| bill_items::table
        .filter(bill_items::bill_id.eq(bill_id))
        .order(bill_items::position.asc())
        .select(BillItemRow::as_select())
        .load::<BillItemRow>(c))?
    .into_iter()
    .map(item_from_row)
    .collect::<StoreResult<Vec<_>>>()?;
    let numbers: Vec<(String, String, bool)> = crate::pool::on_backend!(conn, |c| {
        va_numbers::table
            .filter(va_numbers::bill_id.eq(bill_id))
            .order(va_numbers::position.asc())
            .select((va_numbers::prefix, va_numbers::number, va_numbers::active))
            .load::<(String, String, bool)>(c)
    })?;
    let last: Option<String> = match last {
        Some(known) => known,
        None => crate::pool::on_backend!(conn, |c| bill_events::table
            .filter(bill_events::bill_id.eq(bill_id))
            .filter(payment_or_reversal())
            .order(bill_events::id.desc())
            .select(bill_events::kind)
            .get_result::<String>(c)
            .optional())?,
    };
    Ok(VaBill {
        bill,
        extra,
        account,
        items,
        va_numbers: numbers
            .into_iter()
            .map(|(prefix, number, active)| VaNumber {
                bill_id,
                prefix,
                number,
                active,
            })
            .collect(),
        reversal_last: last.as_deref() == Some("reversal"),
    })
}

/// The registered channel's name for a payment channel like `va:3` or `postpaid:2`.
fn channel_name(conn: &mut AnyConnection, channel: &str) -> StoreResult<Option<String>> {
    let Some(id) = channel
        .split_once(':')
        .and_then(|(_, id)| id.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    Ok(channels::table
        .filter(channels::id.eq(id))
        .select(channels::name)
        .first(conn)
        .optional()?)
}

/// A bill event that is a payment or a reversal. Two equalities, not `eq_any`: diesel never
/// caches the prepared statement of an `IN` list, and this runs on every VA and SNAP inquiry.
type PaymentOrReversal = diesel::dsl::Or<
    diesel::dsl::Eq<bill_events::kind, &'static str>,
    diesel::dsl::Eq<bill_events::kind, &'static str>,
>;

fn payment_or_reversal() -> PaymentOrReversal {
    bill_events::kind
        .eq("payment")
        .or(bill_events::kind.eq("reversal"))
}

type EventTuple = (
    i64,
    String,
    Option<i64>,
    Option<i64>,
    String,
    i64,
    time::PrimitiveDateTime,
    i64,
);

/// A payment's or reversal's row on a bill from its bill event and what was read with it.
fn row_of_event(
    event: EventTuple,
    payment: Payment,
    channel_name: Option<String>,
    bill: VaBill,
) -> VaPaymentRow {
    let (event_id, kind, _, amount, status_after, paid_after, created_at, _) = event;
    VaPaymentRow {
        event_id,
        kind,
        applied: amount.unwrap_or(0),
        status_after,
        paid_after,
        created_at: from_db(created_at),
        payment,
        channel_name,
        bill,
    }
}

fn payment_rows(
    conn: &mut AnyConnection,
    events: Vec<EventTuple>,
) -> StoreResult<Vec<VaPaymentRow>> {
    let mut bills_seen: Vec<VaBill> = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let (payment_id, bill_id) = (event.2, event.7);
        let Some(payment_id) = payment_id else {
            continue;
        };
        let payment = load_payment(conn, payment_id)?;
        let bill = match bills_seen.iter().find(|b| b.bill.id == bill_id) {
            Some(b) => b.clone(),
            None => {
                let b = load_va_bill(conn, bill_id)?;
                bills_seen.push(b.clone());
                b
            }
        };
        let channel_name = channel_name(conn, &payment.channel)?;
        out.push(row_of_event(event, payment, channel_name, bill));
    }
    Ok(out)
}

fn event_columns() -> (
    bill_events::id,
    bill_events::kind,
    bill_events::payment_id,
    bill_events::amount,
    bill_events::status_after,
    bill_events::paid_after,
    bill_events::created_at,
    bill_events::bill_id,
) {
    (
        bill_events::id,
        bill_events::kind,
        bill_events::payment_id,
        bill_events::amount,
        bill_events::status_after,
        bill_events::paid_after,
        bill_events::created_at,
        bill_events::bill_id,
    )
}

/// A bill row and its account row, in one statement (a join).
fn bill_and_account(
    conn: &mut AnyConnection,
    bill_id: i64,
) -> StoreResult<Option<(BillRow, AccountRow)>> {
    Ok(bills::table
        .inner_join(accounts::table)
        .filter(bills::id.eq(bill_id))
        .select((BillRow::as_select(), AccountRow::as_select()))
        .get_result(conn)
        .optional()?)
}

impl Reader<'_> {
    /// A bill with everything the VA dialect shows.
    pub fn va_bill(&mut self, bill_id: i64) -> StoreResult<VaBill> {
        self.with(|conn| load_va_bill(conn, bill_id))
    }

    /// A bill already read with its `extra` and account, with everything else the VA dialect
    /// shows: its items, VA numbers and latest payment event.
    pub fn va_bill_from(&mut self, seen: VisibleBill) -> StoreResult<VaBill> {
        self.with(|conn| va_bill_of(conn, seen.bill, seen.extra, seen.account, None))
    }

    /// A bill of the organization by its public number (the VA `hash`).
    pub fn va_bill_by_hash(
        &mut self,
        organization_id: i64,
        hash: &str,
    ) -> StoreResult<Option<VaBill>> {
        self.with(|conn| {
            let id: Option<i64> = bills::table
                .filter(bills::organization_id.eq(organization_id))
                .filter(bills::public_no.eq(hash))
                .select(bills::id)
                .first(conn)
                .optional()?;
            id.map(|id| load_va_bill(conn, id)).transpose()
        })
    }

    /// The organization's VA bills matching `filter`, one page.
    pub fn va_bills(
        &mut self,
        organization_id: i64,
        filter: &VaBillFilter,
        now: OffsetDateTime,
    ) -> StoreResult<VaPage<VaBill>> {
        self.with(|conn| {
            let total: i64 = filtered_bills(organization_id, filter, now)
                .count()
                .get_result(conn)?;
            let q = filtered_bills(organization_id, filter, now);
            let d = filter.descending;
            let q = match (filter.order, d) {
                (VaBillOrder::CreatedAt, false) => q.order(bills::created_at.asc()),
                (VaBillOrder::CreatedAt, true) => q.order(bills::created_at.desc()),
                (VaBillOrder::InvoiceNumber, false) => q.order(bills::invoice_number.asc()),
                (VaBillOrder::InvoiceNumber, true) => q.order(bills::invoice_number.desc()),
                (VaBillOrder::Name, false) => q.order(bills::name.asc()),
                (VaBillOrder::Name, true) => q.order(bills::name.desc()),
                (VaBillOrder::Billed, false) => q.order(bills::billed.asc()),
                (VaBillOrder::Billed, true) => q.order(bills::billed.desc()),
                (VaBillOrder::Paid, false) => q.order(bills::paid.asc()),
                (VaBillOrder::Paid, true) => q.order(bills::paid.desc()),
                (VaBillOrder::ValidUntil, false) => q.order(bills::valid_until.asc()),
                (VaBillOrder::ValidUntil, true) => q.order(bills::valid_until.desc()),
                (VaBillOrder::DueDate, false) => q.order(bills::due_date.asc()),
                (VaBillOrder::DueDate, true) => q.order(bills::due_date.desc()),
                (VaBillOrder::Status, false) => q.order(bills::status.asc()),
                (VaBillOrder::Status, true) => q.order(bills::status.desc()),
                (VaBillOrder::Rule, false) => q.order(bills::rule.asc()),
                (VaBillOrder::Rule, true) => q.order(bills::rule.desc()),
            };
            let q = if d {
                q.then_order_by(bills::id.desc())
            } else {
                q.then_order_by(bills::id.asc())
            };
            let ids: Vec<i64> = q
                .select(bills::id)
                .offset(filter.offset.max(0))
                .limit(filter.limit.max(0))
                .load(conn)?;
            let items = ids
                .into_iter()
                .map(|id| load_va_bill(conn, id))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(VaPage { total, items })
        })
    }

    /// Payments and reversals on the organization's VA bills matching `filter`, one page.
    pub fn va_payments(
        &mut self,
        organization_id: i64,
        filter: &VaPaymentFilter,
    ) -> StoreResult<VaPage<VaPaymentRow>> {
        self.with(|conn| {
            let total: i64 = filtered_events(organization_id, filter)
                .count()
                .get_result(conn)?;
            let q = filtered_events(organization_id, filter);
            let q = match (filter.order, filter.descending) {
                (VaPaymentOrder::CreatedAt, false) => q.order(bill_events::created_at.asc()),
                (VaPaymentOrder::CreatedAt, true) => q.order(bill_events::created_at.desc()),
                (VaPaymentOrder::Amount, false) => q.order(bill_events::amount.asc()),
                (VaPaymentOrder::Amount, true) => q.order(bill_events::amount.desc()),
            };
            let q = if filter.descending {
                q.then_order_by(bill_events::id.desc())
            } else {
                q.then_order_by(bill_events::id.asc())
            };
            let events: Vec<EventTuple> = q
                .select(event_columns())
                .offset(filter.offset.max(0))
                .limit(filter.limit.max(0))
                .load(conn)?;
            let items = payment_rows(conn, events)?;
            Ok(VaPage { total, items })
        })
    }

    /// Every payment and reversal on one bill, oldest first.
    pub fn va_payments_of_bill(&mut self, bill_id: i64) -> StoreResult<Vec<VaPaymentRow>> {
        self.with(|conn| {
            let events: Vec<EventTuple> = bill_events::table
                .filter(bill_events::bill_id.eq(bill_id))
                .filter(payment_or_reversal())
                .filter(bill_events::payment_id.is_not_null())
                .order(bill_events::id.asc())
                .select(event_columns())
                .load(conn)?;
            payment_rows(conn, events)
        })
    }

    /// The row of one payment (`kind` `payment`) or its reversal (`reversal`) on one bill.
    pub fn va_payment_row(
        &mut self,
        bill_id: i64,
        payment_id: i64,
        kind: &str,
    ) -> StoreResult<Option<VaPaymentRow>> {
        self.with(|conn| {
            let events: Vec<EventTuple> = bill_events::table
                .filter(bill_events::bill_id.eq(bill_id))
                .filter(bill_events::payment_id.eq(payment_id))
                .filter(bill_events::kind.eq(kind))
                .order(bill_events::id.asc())
                .select(event_columns())
                .limit(1)
                .load(conn)?;
            Ok(payment_rows(conn, events)?.into_iter().next())
        })
    }

    /// The registered name of a channel (`None` when there is no such channel).
    pub fn channel_name(&mut self, channel_id: i64) -> StoreResult<Option<String>> {
        self.with(|conn| {
            Ok(channels::table
                .filter(channels::id.eq(channel_id))
                .select(channels::name)
                .first(conn)
                .optional()?)
        })
    }

    /// The row of a payment (`kind` `payment`) or its reversal (`reversal`) on one bill, for a
    /// `payment` the caller holds as recorded (just posted, or replayed, in this transaction):
    /// what [`Reader::va_payment_row`] answers, without reading the payment again, and with the
    /// event, its bill, the bill's account, the bill's latest payment event and the channel's
    /// name in one statement (then the bill's items and VA numbers: three in all).
    pub fn va_row_of_payment(
        &mut self,
        bill_id: i64,
        payment: &Payment,
        kind: &str,
    ) -> StoreResult<Option<VaPaymentRow>> {
        use diesel::sql_types::{Nullable, Text};
        // The registered channel of `va:3` (`channel_name`'s), and the bill's latest payment
        // event (`load_va_bill`'s), as scalar subqueries of the one statement (kept prepared:
        // `diesel::dsl::sql` would make the statement uncacheable).
        let channel_id = payment
            .channel
            .split_once(':')
            .and_then(|(_, id)| id.parse::<i64>().ok());
        let channel = FixedExpr::<Nullable<Text>>::new(
            "(SELECT channels.name FROM channels WHERE channels.id = ?)",
            vec![Bind::NullableBigInt(channel_id)],
        );
        let last = FixedExpr::<Nullable<Text>>::new(
            "(SELECT e.kind FROM bill_events e WHERE e.bill_id = bills.id \
             AND (e.kind = 'payment' OR e.kind = 'reversal') ORDER BY e.id DESC LIMIT 1)",
            Vec::new(),
        );
        self.with(|conn| {
            type Found = (
                EventTuple,
                BillRow,
                AccountRow,
                Option<String>,
                Option<String>,
            );
            let found: Option<Found> = bill_events::table
                .inner_join(bills::table.inner_join(accounts::table))
                .filter(bill_events::bill_id.eq(bill_id))
                .filter(bill_events::payment_id.eq(payment.id))
                .filter(bill_events::kind.eq(kind))
                .order(bill_events::id.asc())
                .select((
                    event_columns(),
                    BillRow::as_select(),
                    AccountRow::as_select(),
                    channel.clone(),
                    last.clone(),
                ))
                .load(conn)?
                .into_iter()
                .next();
            let Some((event, mut row, account, channel_name, last)) = found else {
                return Ok(None);
            };
            let extra = std::mem::take(&mut row.extra);
            let bill = va_bill_of(conn, row.into_bill()?, extra, account.into(), Some(last))?;
            Ok(Some(row_of_event(
                event,
                payment.clone(),
                channel_name,
                bill,
            )))
        })
    }

    /// A bill and its account's name, in one statement (`None`: no such bill).
    pub fn bill_with_account_name(&mut self, bill_id: i64) -> StoreResult<Option<(Bill, String)>> {
        self.with(|conn| {
            bill_and_account(conn, bill_id)?
                .map(|(b, a)| Ok((b.into_bill()?, a.name)))
                .transpose()
        })
    }

    /// The bill a bank's payment goes to (VA's channel API and SNAP): a retry's goes to the bill
    /// its first attempt (the payment under `channel` and `channel_ref`) went to, while the bank
    /// is still enrolled with its organization; otherwise the first of the bills the bank may
    /// see under `va_number` ([`Reader::channel_visible_bills`]'s, payable first, then newest).
    /// The first attempt's bill is one statement (its payment and allocation in one join, where
    /// [`Reader::payment_by_channel_ref`] reads the whole payment in three); the bills under the
    /// number are [`Reader::channel_visible_bills`]'s three.
    pub fn bank_payment_target(
        &mut self,
        channel_id: i64,
        channel: &str,
        channel_ref: &str,
        va_number: Option<&str>,
    ) -> StoreResult<Option<BankTarget>> {
        use crate::schema::{channel_enrolments as ce, collections, payment_allocations as pa};
        self.with(|conn| {
            let first: Option<i64> = payments::table
                .inner_join(pa::table)
                .filter(payments::channel.eq(channel))
                .filter(payments::channel_ref.eq(channel_ref))
                .order(pa::id.asc())
                .select(pa::bill_id)
                .load::<i64>(conn)?
                .into_iter()
                .next();
            if let Some(bill_id) = first {
                let (bill, webhook) = crate::repo::posting::load_bill_with_hook(conn, bill_id)?;
                let enrolled = ce::table
                    .filter(ce::channel_id.eq(channel_id))
                    .filter(ce::organization_id.eq(bill.organization_id))
                    .select(ce::channel_id)
                    .get_result::<i64>(conn)
                    .optional()?
                    .is_some();
                return Ok(enrolled.then_some(BankTarget { bill, webhook }));
            }
            let Some(number) = va_number else {
                return Ok(None);
            };
            // The organization of the prefix, when the bank is enrolled with it (one join of
            // two unique reads), then the bills under the number with their collections'
            // webhooks, filtered by organization here (in the statement, PostgreSQL may plan a
            // scan of the organization's bills).
            let Some(organization) =
                crate::repo::snap::enrolled_organization(conn, channel_id, number)?
            else {
                return Ok(None);
            };
            crate::pool::on_backend!(conn, |c| va_numbers::table
                .inner_join(bills::table.left_join(collections::table))
                .filter(va_numbers::number.eq(number))
                .order((va_numbers::active.desc(), va_numbers::bill_id.desc()))
                .select((BillRow::as_select(), collections::webhook_url.nullable()))
                .load::<(BillRow, Option<String>)>(c))?
            .into_iter()
            .find(|(b, _)| b.organization_id == organization)
            .map(|(b, webhook)| {
                Ok(BankTarget {
                    bill: b.into_bill()?,
                    webhook,
                })
            })
            .transpose()
        })
    }

    /// The organization's newest payment of a bill that is not reversed (sandbox reversals).
    pub fn va_latest_unreversed_payment(&mut self, bill_id: i64) -> StoreResult<Option<Payment>> {
        self.with(|conn| {
            let ids: Vec<i64> = bill_events::table
                .filter(bill_events::bill_id.eq(bill_id))
                .filter(bill_events::kind.eq("payment"))
                .filter(bill_events::payment_id.is_not_null())
                .order(bill_events::id.desc())
                .select(bill_events::payment_id.assume_not_null())
                .load(conn)?;
            for id in ids {
                let p = load_payment(conn, id)?;
                if p.reversed.is_none() {
                    return Ok(Some(p));
                }
            }
            Ok(None)
        })
    }
}

crate::tx::store_reads! {
    fn va_bill(&self, bill_id: i64) -> VaBill;
    fn va_bill_by_hash(&self, organization_id: i64, hash: &str) -> Option<VaBill>;
    fn va_bills(&self, organization_id: i64, filter: &VaBillFilter, now: OffsetDateTime) -> VaPage<VaBill>;
    fn va_payments(&self, organization_id: i64, filter: &VaPaymentFilter) -> VaPage<VaPaymentRow>;
    fn va_payments_of_bill(&self, bill_id: i64) -> Vec<VaPaymentRow>;
    fn va_payment_row(&self, bill_id: i64, payment_id: i64, kind: &str) -> Option<VaPaymentRow>;
    fn va_row_of_payment(&self, bill_id: i64, payment: &Payment, kind: &str) -> Option<VaPaymentRow>;
    fn bill_with_account_name(&self, bill_id: i64) -> Option<(Bill, String)>;
    fn bank_payment_target(&self, channel_id: i64, channel: &str, channel_ref: &str, va_number: Option<&str>) -> Option<BankTarget>;
    fn channel_name(&self, channel_id: i64) -> Option<String>;
    fn va_latest_unreversed_payment(&self, bill_id: i64) -> Option<Payment>;
}
