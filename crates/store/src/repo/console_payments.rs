//! The console's payments list and its CSV download, always for one organization (the
//! session's). Rows are the rows of `billhub export payments` ([`crate::export`]), in its order
//! (payments by `paid_at` then id, then unapplied money by its time then id) and shaped by the
//! same code ([`PaymentLine`]), with one more filter the console offers: the status.
//!
//! The list is read a page at a time (counts, then an offset into the payments and the unapplied
//! money); the CSV is read in keyset batches of [`EXPORT_BATCH`] rows over one snapshot and
//! written as it goes, like the exporter.

use std::collections::HashMap;
use std::io::Write;

use diesel::dsl::{count_star, not};
use diesel::prelude::*;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::export::{
    EXPORT_BATCH, ExportError, ExportFormat, Exporter, PAYMENT_COLUMNS, PaymentLine, PaymentStatus,
    channel_name, payment_lines, unapplied_line,
};
use crate::models::{PaymentRow, UnappliedRow};
use crate::pool::{AnyConnection, MultiBackend};
use crate::schema::{channels, payments, reversals, unapplied_payments as up};
use crate::time_conv::to_db;
use crate::{Reader, Store, StoreResult};

/// Which payments the console lists: an organization's, between two instants (`from`
/// included, `to` excluded: see [`crate::export::local_days`]), of one channel (stored text)
/// or all, in one status or all.
#[derive(Debug, Clone)]
pub struct PaymentFilter {
    pub organization_id: i64,
    /// The organization's offset: times are written at it.
    pub offset: UtcOffset,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub channel: Option<String>,
    pub status: Option<PaymentStatus>,
}

/// One page of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentsPage {
    /// Rows matching the filter, on every page.
    pub total: i64,
    /// This page's rows, in export order.
    pub lines: Vec<PaymentLine>,
    /// The channels (stored text, name) of every payment and unapplied money in the date
    /// range, whatever the channel and status filters: the choices of the channel filter.
    pub channels: Vec<(String, String)>,
}

type PaymentQuery = payments::BoxedQuery<'static, MultiBackend>;
type UnappliedQuery = up::BoxedQuery<'static, MultiBackend>;

/// The filter's payments (none when it asks for unapplied money only).
fn payments_of(f: &PaymentFilter) -> Option<PaymentQuery> {
    let mut q = payments::table
        .filter(payments::organization_id.eq(f.organization_id))
        .filter(payments::paid_at.ge(to_db(f.from)))
        .filter(payments::paid_at.lt(to_db(f.to)))
        .into_boxed();
    if let Some(channel) = &f.channel {
        q = q.filter(payments::channel.eq(channel.clone()));
    }
    let reversed = reversals::table.select(reversals::payment_id);
    match f.status {
        None => Some(q),
        Some(PaymentStatus::Applied) => Some(q.filter(not(payments::id.eq_any(reversed)))),
        Some(PaymentStatus::Reversed) => Some(q.filter(payments::id.eq_any(reversed))),
        Some(PaymentStatus::Unapplied | PaymentStatus::Refunded) => None,
    }
}

/// The filter's unapplied money (open or refunded: once applied it is a payment), none when
/// it asks for payments only.
fn unapplied_of(f: &PaymentFilter) -> Option<UnappliedQuery> {
    let statuses: &[&str] = match f.status {
        None => &["open", "refunded"],
        Some(PaymentStatus::Unapplied) => &["open"],
        Some(PaymentStatus::Refunded) => &["refunded"],
        Some(PaymentStatus::Applied | PaymentStatus::Reversed) => return None,
    };
    let mut q = up::table
        .filter(up::organization_id.eq(Some(f.organization_id)))
        .filter(up::created_at.ge(to_db(f.from)))
        .filter(up::created_at.lt(to_db(f.to)))
        .filter(up::status.eq_any(statuses.to_vec()))
        .into_boxed();
    if let Some(channel) = &f.channel {
        q = q.filter(up::channel.eq(channel.clone()));
    }
    Some(q)
}

/// Names of the registered channels by id (few rows).
fn channel_names(conn: &mut AnyConnection) -> StoreResult<HashMap<i64, String>> {
    Ok(channels::table
        .select((channels::id, channels::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

/// Where a keyset batch starts (see the exporter: two index ranges, never an `OR`).
#[derive(Clone, Copy)]
enum Bound {
    Start,
    SameTime(PrimitiveDateTime, i64),
    Later(PrimitiveDateTime),
}

/// One batch after `after`: the rest of its time, then later times.
fn batch<R>(
    after: Option<(PrimitiveDateTime, i64)>,
    mut read: impl FnMut(Bound, i64) -> StoreResult<Vec<R>>,
) -> StoreResult<Vec<R>> {
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

impl Reader<'_> {
    /// Rows `offset..offset + limit` of the filter's rows, their count and the channels of its
    /// date range ([`PaymentsPage`]).
    pub fn console_payments(
        &mut self,
        f: &PaymentFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<PaymentsPage> {
        self.with(|conn| {
            let names = channel_names(conn)?;
            let paid: i64 = match payments_of(f) {
                Some(q) => q.select(count_star()).get_result(conn)?,
                None => 0,
            };
            let waiting: i64 = match unapplied_of(f) {
                Some(q) => q.select(count_star()).get_result(conn)?,
                None => 0,
            };
            let mut lines = Vec::new();
            if offset < paid
                && let Some(q) = payments_of(f)
            {
                let rows: Vec<PaymentRow> = q
                    .select(PaymentRow::as_select())
                    .order((payments::paid_at.asc(), payments::id.asc()))
                    .offset(offset)
                    .limit(limit)
                    .load(conn)?;
                lines = payment_lines(conn, rows, &names)?;
            }
            let got = i64::try_from(lines.len()).unwrap_or(limit);
            if got < limit
                && let Some(q) = unapplied_of(f)
            {
                let rows: Vec<UnappliedRow> = q
                    .select(UnappliedRow::as_select())
                    .order((up::created_at.asc(), up::id.asc()))
                    .offset((offset - paid).max(0))
                    .limit(limit - got)
                    .load(conn)?;
                lines.extend(rows.into_iter().map(|r| unapplied_line(r, &names)));
            }
            let every = PaymentFilter {
                channel: None,
                status: None,
                ..f.clone()
            };
            let mut seen: Vec<String> = Vec::new();
            if let Some(q) = payments_of(&every) {
                seen.extend(
                    q.select(payments::channel)
                        .distinct()
                        .load::<String>(conn)?,
                );
            }
            if let Some(q) = unapplied_of(&every) {
                seen.extend(q.select(up::channel).distinct().load::<String>(conn)?);
            }
            seen.sort();
            seen.dedup();
            Ok(PaymentsPage {
                total: paid + waiting,
                lines,
                channels: seen
                    .into_iter()
                    .map(|c| {
                        let name = channel_name(&names, &c);
                        (c, name)
                    })
                    .collect(),
            })
        })
    }

    /// Writes every row of the filter to `out` in batches, in the list's order; returns the
    /// number of rows. Without a status filter these are exactly the rows of
    /// [`Reader::export_payments`] for the same range and channel.
    pub fn console_export_payments<W: Write>(
        &mut self,
        f: &PaymentFilter,
        out: &mut Exporter<W>,
    ) -> Result<u64, ExportError> {
        let conn = &mut *self.conn;
        let names = channel_names(conn)?;
        let mut after = None;
        while payments_of(f).is_some() {
            let rows: Vec<PaymentRow> = batch(after, |bound, limit| {
                let Some(q) = payments_of(f) else {
                    return Ok(Vec::new());
                };
                let q = match bound {
                    Bound::Start => q,
                    Bound::SameTime(t, id) => q
                        .filter(payments::paid_at.eq(t))
                        .filter(payments::id.gt(id)),
                    Bound::Later(t) => q.filter(payments::paid_at.gt(t)),
                };
                Ok(q.select(PaymentRow::as_select())
                    .order((payments::paid_at.asc(), payments::id.asc()))
                    .limit(limit)
                    .load(&mut *conn)?)
            })?;
            let Some(last) = rows.last() else { break };
            after = Some((last.paid_at, last.id));
            let full = rows.len() == usize::try_from(EXPORT_BATCH).unwrap_or(usize::MAX);
            for line in payment_lines(conn, rows, &names)? {
                out.row(&line.values(f.offset))?;
            }
            if !full {
                break;
            }
        }
        let mut after = None;
        while unapplied_of(f).is_some() {
            let rows: Vec<UnappliedRow> = batch(after, |bound, limit| {
                let Some(q) = unapplied_of(f) else {
                    return Ok(Vec::new());
                };
                let q = match bound {
                    Bound::Start => q,
                    Bound::SameTime(t, id) => q.filter(up::created_at.eq(t)).filter(up::id.gt(id)),
                    Bound::Later(t) => q.filter(up::created_at.gt(t)),
                };
                Ok(q.select(UnappliedRow::as_select())
                    .order((up::created_at.asc(), up::id.asc()))
                    .limit(limit)
                    .load(&mut *conn)?)
            })?;
            let Some(last) = rows.last() else { break };
            after = Some((last.created_at, last.id));
            let full = rows.len() == usize::try_from(EXPORT_BATCH).unwrap_or(usize::MAX);
            for row in rows {
                out.row(&unapplied_line(row, &names).values(f.offset))?;
            }
            if !full {
                break;
            }
        }
        Ok(out.rows())
    }
}

impl Store {
    /// [`Reader::console_payments`] in one read snapshot.
    pub fn console_payments(
        &self,
        f: &PaymentFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<PaymentsPage> {
        self.snapshot(|r| r.console_payments(f, offset, limit))
    }

    /// [`Reader::console_export_payments`] as CSV over one read snapshot, to `out` (header
    /// first, [`PAYMENT_COLUMNS`]); flushed.
    pub fn console_payments_csv<W: Write>(
        &self,
        f: &PaymentFilter,
        out: W,
    ) -> Result<u64, ExportError> {
        let mut exporter = Exporter::new(out, ExportFormat::Csv, &PAYMENT_COLUMNS)?;
        let rows = self.snapshot(|r| r.console_export_payments(f, &mut exporter))?;
        exporter.finish()?;
        Ok(rows)
    }
}
