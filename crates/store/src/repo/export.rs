//! Exports of an organization's payments and bills (`billhub export`, and the console's CSV):
//! streamed in batches over one read snapshot, so memory does not grow with the result.
//!
//! Each batch is one keyset page after the last row read (the rest of its time by id, then
//! later times: two index ranges) on the indexes of migration
//! `2026-12-05-000020_export_indexes`), completed by a few `IN (...)` lookups (allocated bills,
//! accounts, reversals, VA numbers) and written out before the next is read. The row shaping is
//! here once: [`PaymentLine`] and [`BillLine`] give their columns ([`PAYMENT_COLUMNS`],
//! [`BILL_COLUMNS`]) as text, and an [`Exporter`] writes them to any `io::Write` as CSV or JSON
//! lines. Amounts are exact decimal text in major units (`5000.00`), times RFC 3339 at the
//! organization's UTC offset, dates `YYYY-MM-DD`.

use std::collections::HashMap;
use std::io::Write;

use billhub_core::{Currency, Money};
use diesel::prelude::*;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::models::{PaymentRow, UnappliedRow};
use crate::pool::AnyConnection;
use crate::schema::{
    accounts, bills, channels, payment_allocations as pa, payments, reversals,
    unapplied_payments as up, va_numbers,
};
use crate::time_conv::{from_db, local, to_db};
use crate::{Reader, Store, StoreError, TxError};

/// Rows read per batch.
pub const EXPORT_BATCH: i64 = 1000;

/// The columns of a payments export, in order.
pub const PAYMENT_COLUMNS: [&str; 16] = [
    "payment",
    "paid_at",
    "channel",
    "channel_name",
    "channel_ref",
    "account",
    "bills",
    "invoice_numbers",
    "currency",
    "amount",
    "fee",
    "credit",
    "status",
    "reversed_at",
    "method",
    "payer_name",
];

/// The columns of a bills export, in order.
pub const BILL_COLUMNS: [&str; 18] = [
    "public_no",
    "invoice_number",
    "account",
    "account_name",
    "name",
    "currency",
    "billed",
    "paid",
    "outstanding",
    "status",
    "rule",
    "minimum",
    "bill_date",
    "due_date",
    "valid_until",
    "va_numbers",
    "source",
    "created_at",
];

/// How an export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A header line, then one line per row (RFC 4180 quoting; an absent value is empty).
    Csv,
    /// One JSON object per line, keyed by column (an absent value is `null`, amounts strings).
    Jsonl,
}

/// What a payment is now, as exports and reconciliation show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Posted to bills (and credit).
    Applied,
    /// Posted, then reversed.
    Reversed,
    /// Taken by the channel, not applied (open in `billhub unapplied`).
    Unapplied,
    /// Taken by the channel, not applied, given back outside billhub.
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentStatus::Applied => "applied",
            PaymentStatus::Reversed => "reversed",
            PaymentStatus::Unapplied => "unapplied",
            PaymentStatus::Refunded => "refunded",
        }
    }
}

/// Which rows an export reads: an organization's, between two instants (`from` included, `to`
/// excluded; see [`local_days`]), of one channel (its stored text, `va:3`) or all.
#[derive(Debug, Clone)]
pub struct ExportQuery {
    pub organization_id: i64,
    /// The organization's offset: times are written at it.
    pub offset: UtcOffset,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub channel: Option<String>,
}

/// The instants that bound the local days `from..=to` at `offset`: `from`'s midnight and the
/// midnight after `to`. `None` when `to` is before `from` or at the end of the calendar.
pub fn local_days(
    from: Date,
    to: Date,
    offset: UtcOffset,
) -> Option<(OffsetDateTime, OffsetDateTime)> {
    if to < from {
        return None;
    }
    let end = to.next_day()?;
    Some((
        from.midnight().assume_offset(offset),
        end.midnight().assume_offset(offset),
    ))
}

/// An export that stopped: the store failed, or the writer did.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
}

impl From<diesel::result::Error> for ExportError {
    fn from(e: diesel::result::Error) -> Self {
        ExportError::Store(e.into())
    }
}

impl TxError for ExportError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            ExportError::Store(e) => Some(e),
            ExportError::Io(_) => None,
        }
    }
}

/// One payment, or one piece of unapplied money, as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentLine {
    /// The payment's uid; `unapplied:{id}` for unapplied money (`billhub unapplied` shows `#id`).
    pub payment: String,
    pub paid_at: OffsetDateTime,
    /// Stored text: `bill24`, `va:3`, `postpaid:2`, `sandbox`, `credit`.
    pub channel: String,
    /// The registered channel's name (`billhub channel list`); the stored text otherwise.
    pub channel_name: String,
    pub channel_ref: String,
    pub account: String,
    /// Public numbers of the bills it was allocated to, in allocation order.
    pub bills: Vec<String>,
    pub invoice_numbers: Vec<String>,
    pub currency: String,
    /// Minor units: what reached the biller (bills and credit), without the fee.
    pub amount: i64,
    pub fee: i64,
    /// Minor units kept as account credit.
    pub credit: i64,
    pub status: PaymentStatus,
    pub reversed_at: Option<OffsetDateTime>,
    pub method: String,
    pub payer_name: String,
}

/// One bill, as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillLine {
    pub public_no: String,
    pub invoice_number: String,
    pub account: String,
    pub account_name: String,
    pub name: String,
    pub currency: String,
    pub billed: i64,
    pub paid: i64,
    pub status: String,
    pub rule: String,
    pub minimum: Option<i64>,
    pub bill_date: Date,
    pub due_date: Option<Date>,
    pub valid_until: Option<OffsetDateTime>,
    /// Active VA numbers, in position order.
    pub va_numbers: Vec<String>,
    pub source: String,
    pub created_at: OffsetDateTime,
}

/// Minor units of `currency` as exact decimal text (`5000.00`); the bare number for a code
/// that names no currency.
pub fn amount_text(minor: i64, currency: &str) -> String {
    Currency::from_code(currency)
        .map(|c| Money::from_minor(minor, c).to_fixed_string())
        .unwrap_or_else(|_| minor.to_string())
}

/// RFC 3339 at `offset`.
pub fn time_text(t: OffsetDateTime, offset: UtcOffset) -> String {
    let t = local(t, offset);
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

impl PaymentLine {
    /// The values of [`PAYMENT_COLUMNS`], in order (`None`: no value).
    pub fn values(&self, offset: UtcOffset) -> Vec<Option<String>> {
        vec![
            Some(self.payment.clone()),
            Some(time_text(self.paid_at, offset)),
            Some(self.channel.clone()),
            Some(self.channel_name.clone()),
            Some(self.channel_ref.clone()),
            Some(self.account.clone()),
            Some(self.bills.join(";")),
            Some(self.invoice_numbers.join(";")),
            Some(self.currency.clone()),
            Some(amount_text(self.amount, &self.currency)),
            Some(amount_text(self.fee, &self.currency)),
            Some(amount_text(self.credit, &self.currency)),
            Some(self.status.as_str().to_string()),
            self.reversed_at.map(|t| time_text(t, offset)),
            Some(self.method.clone()),
            Some(self.payer_name.clone()),
        ]
    }
}

impl BillLine {
    /// The values of [`BILL_COLUMNS`], in order (`None`: no value).
    pub fn values(&self, offset: UtcOffset) -> Vec<Option<String>> {
        let outstanding = self.billed.saturating_sub(self.paid).max(0);
        vec![
            Some(self.public_no.clone()),
            Some(self.invoice_number.clone()),
            Some(self.account.clone()),
            Some(self.account_name.clone()),
            Some(self.name.clone()),
            Some(self.currency.clone()),
            Some(amount_text(self.billed, &self.currency)),
            Some(amount_text(self.paid, &self.currency)),
            Some(amount_text(outstanding, &self.currency)),
            Some(self.status.clone()),
            Some(self.rule.clone()),
            self.minimum.map(|m| amount_text(m, &self.currency)),
            Some(self.bill_date.to_string()),
            self.due_date.map(|d| d.to_string()),
            self.valid_until.map(|t| time_text(t, offset)),
            Some(self.va_numbers.join(";")),
            Some(self.source.clone()),
            Some(time_text(self.created_at, offset)),
        ]
    }
}

/// Writes rows of one kind to `out`, as CSV (header first) or JSON lines.
pub struct Exporter<W: Write> {
    out: W,
    format: ExportFormat,
    columns: &'static [&'static str],
    rows: u64,
}

impl<W: Write> Exporter<W> {
    /// Starts an export of `columns`: a CSV export writes its header at once (so an empty
    /// export is still a valid file).
    pub fn new(
        mut out: W,
        format: ExportFormat,
        columns: &'static [&'static str],
    ) -> std::io::Result<Self> {
        if format == ExportFormat::Csv {
            let header: Vec<String> = columns.iter().map(|c| csv_field(c)).collect();
            out.write_all(header.join(",").as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(Exporter {
            out,
            format,
            columns,
            rows: 0,
        })
    }

    /// Writes one row: `values` in the order of the columns.
    pub fn row(&mut self, values: &[Option<String>]) -> std::io::Result<()> {
        match self.format {
            ExportFormat::Csv => {
                let fields: Vec<String> = values
                    .iter()
                    .map(|v| v.as_deref().map(csv_field).unwrap_or_default())
                    .collect();
                self.out.write_all(fields.join(",").as_bytes())?;
            }
            ExportFormat::Jsonl => {
                // Written by hand to keep the columns' order.
                let mut line = String::from("{");
                for (i, (k, v)) in self.columns.iter().zip(values).enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    line.push_str(&serde_json::Value::from(*k).to_string());
                    line.push(':');
                    match v {
                        Some(v) => line.push_str(&serde_json::Value::from(v.as_str()).to_string()),
                        None => line.push_str("null"),
                    }
                }
                line.push('}');
                self.out.write_all(line.as_bytes())?;
            }
        }
        self.out.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and hands back the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One CSV field: quoted when it holds a comma, a quote, a line break or leading/trailing
/// space, with quotes doubled.
fn csv_field(value: &str) -> String {
    let needs =
        value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ');
    if needs {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Names of the registered channels by id (few rows: read once per export).
fn channel_names(conn: &mut AnyConnection) -> Result<HashMap<i64, String>, ExportError> {
    Ok(channels::table
        .select((channels::id, channels::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

/// The name `billhub channel list` shows for a stored channel text; the text itself for a
/// channel without a registration (`bill24`, `sandbox`, `credit`).
pub(crate) fn channel_name(names: &HashMap<i64, String>, channel: &str) -> String {
    channel
        .parse::<billhub_core::Channel>()
        .ok()
        .and_then(|c| c.channel_id())
        .and_then(|id| names.get(&id).cloned())
        .unwrap_or_else(|| channel.to_string())
}

type Keyset = Option<(PrimitiveDateTime, i64)>;

/// Where a page's query starts: the range's start, or after the last row read, in two index
/// ranges (the rest of the last row's time, then later times): a single `time > t OR (time = t
/// AND id > i)` is not an index range on SQLite, which then scans from the start at every page.
#[derive(Clone, Copy)]
enum Bound<T> {
    Start,
    SameTime(T, i64),
    Later(T),
}

/// Reads one page after `after`: the rest of its time, then later times, `EXPORT_BATCH` rows in
/// all.
fn page<T: Copy, R>(
    after: Option<(T, i64)>,
    mut read: impl FnMut(Bound<T>, i64) -> Result<Vec<R>, ExportError>,
) -> Result<Vec<R>, ExportError> {
    let Some((t, id)) = after else {
        return read(Bound::Start, EXPORT_BATCH);
    };
    let mut rows = read(Bound::SameTime(t, id), EXPORT_BATCH)?;
    let left = EXPORT_BATCH.saturating_sub(i64::try_from(rows.len()).unwrap_or(EXPORT_BATCH));
    if left > 0 {
        rows.extend(read(Bound::Later(t), left)?);
    }
    Ok(rows)
}

/// One keyset page of an organization's payments.
fn payment_page(
    conn: &mut AnyConnection,
    q: &ExportQuery,
    after: Keyset,
) -> Result<Vec<PaymentRow>, ExportError> {
    page(after, |bound, limit| {
        let mut sql = payments::table
            .filter(payments::organization_id.eq(q.organization_id))
            .filter(payments::paid_at.lt(to_db(q.to)))
            .select(PaymentRow::as_select())
            .order((payments::paid_at.asc(), payments::id.asc()))
            .limit(limit)
            .into_boxed();
        if let Some(channel) = &q.channel {
            sql = sql.filter(payments::channel.eq(channel.clone()));
        }
        sql = match bound {
            Bound::Start => sql.filter(payments::paid_at.ge(to_db(q.from))),
            Bound::SameTime(t, id) => sql
                .filter(payments::paid_at.eq(t))
                .filter(payments::id.gt(id)),
            Bound::Later(t) => sql.filter(payments::paid_at.gt(t)),
        };
        Ok(sql.load(&mut *conn)?)
    })
}

/// One keyset page of an organization's unapplied money (not since applied: that is a payment).
fn unapplied_page(
    conn: &mut AnyConnection,
    q: &ExportQuery,
    after: Keyset,
) -> Result<Vec<UnappliedRow>, ExportError> {
    page(after, |bound, limit| {
        let mut sql = up::table
            .filter(up::organization_id.eq(Some(q.organization_id)))
            .filter(up::created_at.lt(to_db(q.to)))
            .filter(up::status.eq_any(["open", "refunded"]))
            .select(UnappliedRow::as_select())
            .order((up::created_at.asc(), up::id.asc()))
            .limit(limit)
            .into_boxed();
        if let Some(channel) = &q.channel {
            sql = sql.filter(up::channel.eq(channel.clone()));
        }
        sql = match bound {
            Bound::Start => sql.filter(up::created_at.ge(to_db(q.from))),
            Bound::SameTime(t, id) => sql.filter(up::created_at.eq(t)).filter(up::id.gt(id)),
            Bound::Later(t) => sql.filter(up::created_at.gt(t)),
        };
        Ok(sql.load(&mut *conn)?)
    })
}

/// Completes a page of payment rows into export lines (three lookups for the whole page).
pub(crate) fn payment_lines(
    conn: &mut AnyConnection,
    rows: Vec<PaymentRow>,
    names: &HashMap<i64, String>,
) -> Result<Vec<PaymentLine>, StoreError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let account_ids: Vec<i64> = rows.iter().filter_map(|r| r.account_id).collect();
    let mut allocated: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    let found: Vec<(i64, String, String)> = pa::table
        .inner_join(bills::table)
        .filter(pa::payment_id.eq_any(&ids))
        .order(pa::id.asc())
        .select((pa::payment_id, bills::public_no, bills::invoice_number))
        .load(conn)?;
    for (payment_id, public_no, invoice) in found {
        allocated
            .entry(payment_id)
            .or_default()
            .push((public_no, invoice));
    }
    let codes: HashMap<i64, String> = accounts::table
        .filter(accounts::id.eq_any(&account_ids))
        .select((accounts::id, accounts::code))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let reversed: HashMap<i64, PrimitiveDateTime> = reversals::table
        .filter(reversals::payment_id.eq_any(&ids))
        .select((reversals::payment_id, reversals::created_at))
        .load::<(i64, PrimitiveDateTime)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let bills = allocated.remove(&r.id).unwrap_or_default();
            let reversed_at = reversed.get(&r.id).copied().map(from_db);
            PaymentLine {
                payment: r.uid,
                paid_at: from_db(r.paid_at),
                channel_name: channel_name(names, &r.channel),
                channel: r.channel,
                channel_ref: r.channel_ref,
                account: r
                    .account_id
                    .and_then(|id| codes.get(&id).cloned())
                    .unwrap_or_default(),
                bills: bills.iter().map(|(p, _)| p.clone()).collect(),
                invoice_numbers: bills.into_iter().map(|(_, i)| i).collect(),
                currency: r.currency,
                amount: r.amount,
                fee: r.fee,
                credit: r.credit,
                status: if reversed_at.is_some() {
                    PaymentStatus::Reversed
                } else {
                    PaymentStatus::Applied
                },
                reversed_at,
                method: r.method,
                payer_name: r.payer_name,
            }
        })
        .collect())
}

/// Unapplied money as an export line.
pub(crate) fn unapplied_line(r: UnappliedRow, names: &HashMap<i64, String>) -> PaymentLine {
    PaymentLine {
        payment: format!("unapplied:{}", r.id),
        paid_at: from_db(r.created_at),
        channel_name: channel_name(names, &r.channel),
        channel: r.channel,
        channel_ref: r.channel_ref,
        account: r.account_code,
        bills: Vec::new(),
        invoice_numbers: Vec::new(),
        currency: r.currency,
        amount: r.amount,
        fee: 0,
        credit: 0,
        status: if r.status == "refunded" {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::Unapplied
        },
        reversed_at: None,
        method: String::new(),
        payer_name: String::new(),
    }
}

type BillPageRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
    Option<i64>,
    Date,
    Option<Date>,
    Option<PrimitiveDateTime>,
    String,
    PrimitiveDateTime,
);

/// One keyset page of an organization's bills by bill date (`from..=to`, local dates).
fn bill_page(
    conn: &mut AnyConnection,
    organization_id: i64,
    (from, to): (Date, Date),
    after: Option<(Date, i64)>,
) -> Result<Vec<BillPageRow>, ExportError> {
    page(after, |bound, limit| {
        let mut sql = bills::table
            .inner_join(accounts::table)
            .filter(bills::organization_id.eq(organization_id))
            .filter(bills::bill_date.le(to))
            .select((
                bills::id,
                bills::public_no,
                bills::invoice_number,
                accounts::code,
                accounts::name,
                bills::name,
                bills::currency,
                bills::billed,
                bills::paid,
                bills::status,
                bills::rule,
                bills::rule_minimum,
                bills::bill_date,
                bills::due_date,
                bills::valid_until,
                bills::source,
                bills::created_at,
            ))
            .order((bills::bill_date.asc(), bills::id.asc()))
            .limit(limit)
            .into_boxed();
        sql = match bound {
            Bound::Start => sql.filter(bills::bill_date.ge(from)),
            Bound::SameTime(d, id) => sql.filter(bills::bill_date.eq(d)).filter(bills::id.gt(id)),
            Bound::Later(d) => sql.filter(bills::bill_date.gt(d)),
        };
        Ok(sql.load(&mut *conn)?)
    })
}

impl Reader<'_> {
    /// Streams an organization's payments and unapplied money of `q` to `out`, payments first,
    /// each in time order (then id); returns the number of rows.
    pub fn export_payments<W: Write>(
        &mut self,
        q: &ExportQuery,
        out: &mut Exporter<W>,
    ) -> Result<u64, ExportError> {
        let conn = &mut *self.conn;
        let names = channel_names(conn)?;
        let mut after: Keyset = None;
        loop {
            let rows = payment_page(conn, q, after)?;
            let Some(last) = rows.last() else { break };
            after = Some((last.paid_at, last.id));
            let full = rows.len() == usize::try_from(EXPORT_BATCH).unwrap_or(usize::MAX);
            for line in payment_lines(conn, rows, &names)? {
                out.row(&line.values(q.offset))?;
            }
            if !full {
                break;
            }
        }
        let mut after: Keyset = None;
        loop {
            let rows = unapplied_page(conn, q, after)?;
            let Some(last) = rows.last() else { break };
            after = Some((last.created_at, last.id));
            let full = rows.len() == usize::try_from(EXPORT_BATCH).unwrap_or(usize::MAX);
            for row in rows {
                out.row(&unapplied_line(row, &names).values(q.offset))?;
            }
            if !full {
                break;
            }
        }
        Ok(out.rows())
    }

    /// Streams an organization's bills whose bill date lies in `from..=to` to `out`, by bill
    /// date (then id); returns the number of rows.
    pub fn export_bills<W: Write>(
        &mut self,
        organization_id: i64,
        offset: UtcOffset,
        dates: (Date, Date),
        out: &mut Exporter<W>,
    ) -> Result<u64, ExportError> {
        let conn = &mut *self.conn;
        let mut after = None;
        loop {
            let rows = bill_page(conn, organization_id, dates, after)?;
            let Some(last) = rows.last() else { break };
            after = Some((last.12, last.0));
            let full = rows.len() == usize::try_from(EXPORT_BATCH).unwrap_or(usize::MAX);
            let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let mut numbers: HashMap<i64, Vec<String>> = HashMap::new();
            let found: Vec<(i64, String)> = va_numbers::table
                .filter(va_numbers::bill_id.eq_any(&ids))
                .filter(va_numbers::active.eq(true))
                .order((va_numbers::bill_id.asc(), va_numbers::position.asc()))
                .select((va_numbers::bill_id, va_numbers::number))
                .load(conn)?;
            for (bill_id, number) in found {
                numbers.entry(bill_id).or_default().push(number);
            }
            for r in rows {
                let line = BillLine {
                    public_no: r.1,
                    invoice_number: r.2,
                    account: r.3,
                    account_name: r.4,
                    name: r.5,
                    currency: r.6,
                    billed: r.7,
                    paid: r.8,
                    status: r.9,
                    rule: r.10,
                    minimum: r.11,
                    bill_date: r.12,
                    due_date: r.13,
                    valid_until: r.14.map(from_db),
                    va_numbers: numbers.remove(&r.0).unwrap_or_default(),
                    source: r.15,
                    created_at: from_db(r.16),
                };
                out.row(&line.values(offset))?;
            }
            if !full {
                break;
            }
        }
        Ok(out.rows())
    }
}

impl Store {
    /// [`Reader::export_payments`] over one read snapshot, to `out` as `format`; flushed.
    pub fn export_payments<W: Write>(
        &self,
        q: &ExportQuery,
        format: ExportFormat,
        out: W,
    ) -> Result<u64, ExportError> {
        let mut exporter = Exporter::new(out, format, &PAYMENT_COLUMNS)?;
        let rows = self.snapshot(|r| r.export_payments(q, &mut exporter))?;
        exporter.finish()?;
        Ok(rows)
    }

    /// [`Reader::export_bills`] over one read snapshot, to `out` as `format`; flushed.
    pub fn export_bills<W: Write>(
        &self,
        organization_id: i64,
        offset: UtcOffset,
        dates: (Date, Date),
        format: ExportFormat,
        out: W,
    ) -> Result<u64, ExportError> {
        let mut exporter = Exporter::new(out, format, &BILL_COLUMNS)?;
        let rows =
            self.snapshot(|r| r.export_bills(organization_id, offset, dates, &mut exporter))?;
        exporter.finish()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, offset};

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(" padded"), "\" padded\"");
    }

    #[test]
    fn local_days_are_inclusive_at_the_offset() {
        let (from, to) =
            local_days(date!(2026 - 12 - 01), date!(2026 - 12 - 02), offset!(+7)).unwrap();
        assert_eq!(from, datetime!(2026-11-30 17:00 UTC));
        assert_eq!(to, datetime!(2026-12-02 17:00 UTC));
        assert!(local_days(date!(2026 - 12 - 02), date!(2026 - 12 - 01), offset!(UTC)).is_none());
    }

    #[test]
    fn rows_as_csv_and_json_lines() {
        let mut csv = Exporter::new(Vec::new(), ExportFormat::Csv, &["a", "b"]).unwrap();
        csv.row(&[Some("x,y".into()), None]).unwrap();
        assert_eq!(csv.finish().unwrap_or_default(), b"a,b\n\"x,y\",\n");
        let mut jl = Exporter::new(Vec::new(), ExportFormat::Jsonl, &["a", "b"]).unwrap();
        jl.row(&[Some("x".into()), None]).unwrap();
        assert_eq!(
            jl.finish().unwrap_or_default(),
            b"{\"a\":\"x\",\"b\":null}\n"
        );
        assert_eq!(amount_text(500_000, "KHR"), "5000.00");
        assert_eq!(amount_text(-150, "USD"), "-1.50");
    }
}
