//! Reads of the operator console, each page in one snapshot and always for one organization:
//! the organization id comes from the signed-in session, never from the request.

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::pool::AnyConnection;
use crate::schema::unapplied_payments;
use crate::schema::{bills, notification_deliveries, notification_events, payments};
use crate::time_conv::{local_date, to_db};
use crate::{Reader, StoreResult};

/// How many local days the dashboard's chart covers (today and the 29 before).
pub const CHART_DAYS: i64 = 30;

/// Payments of one channel in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelTotal {
    pub channel: String,
    pub currency: String,
    pub count: i64,
    /// Minor units.
    pub amount: i64,
}

/// Money of one currency: how many and how much (minor units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyTotal {
    pub currency: String,
    pub count: i64,
    pub amount: i64,
}

/// Payments of one channel in one currency on one local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotal {
    /// The organization's local day (by `paid_at`).
    pub day: Date,
    pub channel: String,
    pub currency: String,
    pub count: i64,
    /// Minor units.
    pub amount: i64,
}

/// The dashboard of one organization at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    pub organization_name: String,
    pub organization_code: String,
    /// The organization's local date the totals are for.
    pub today: time::Date,
    /// Payments received today (by `paid_at`, the organization's local day) per channel and
    /// currency, in channel then currency order. Reversed payments are still counted.
    pub today_by_channel: Vec<ChannelTotal>,
    /// The first day of the chart: [`CHART_DAYS`] days end with `today`.
    pub first_day: Date,
    /// Payments per local day, channel and currency over the chart's days (only the days with
    /// payments), in day, channel, currency order; counted like `today_by_channel`.
    pub by_day: Vec<DayTotal>,
    /// Bills per status, in status order.
    pub bills_by_status: Vec<(String, i64)>,
    /// Unapplied payments still open, per currency.
    pub unapplied_open: Vec<CurrencyTotal>,
    /// Notification deliveries that gave up.
    pub failed_notifications: i64,
}

impl Reader<'_> {
    /// The dashboard of `organization_id` at `now` ([`Dashboard`]).
    pub fn console_dashboard(
        &mut self,
        organization_id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<Dashboard> {
        self.with(|conn| {
            let org = crate::repo::orgs::load_org(conn, organization_id)?;
            let today = local_date(now, org.utc_offset);
            let start = today
                .with_time(Time::MIDNIGHT)
                .assume_offset(org.utc_offset);
            let day_start: PrimitiveDateTime = to_db(start);
            let day_end: PrimitiveDateTime = to_db(start + time::Duration::days(1));
            let rows: Vec<(String, String, i64, i64)> = payments::table
                .filter(payments::organization_id.eq(organization_id))
                .filter(payments::paid_at.ge(day_start))
                .filter(payments::paid_at.lt(day_end))
                .group_by((payments::channel, payments::currency))
                .order((payments::channel.asc(), payments::currency.asc()))
                .select((
                    payments::channel,
                    payments::currency,
                    count_star(),
                    sql::<BigInt>("CAST(SUM(amount) AS BIGINT)"),
                ))
                .load(conn)?;
            let today_by_channel = rows
                .into_iter()
                .map(|(channel, currency, count, amount)| ChannelTotal {
                    channel,
                    currency,
                    count,
                    amount,
                })
                .collect();
            let first_day = chart_start(today);
            let by_day = days_by_channel(conn, organization_id, org.utc_offset, first_day, today)?;
            let bills_by_status: Vec<(String, i64)> = bills::table
                .filter(bills::organization_id.eq(organization_id))
                .group_by(bills::status)
                .order(bills::status.asc())
                .select((bills::status, count_star()))
                .load(conn)?;
            let unapplied: Vec<(String, i64, i64)> = unapplied_payments::table
                .filter(unapplied_payments::organization_id.eq(organization_id))
                .filter(unapplied_payments::status.eq("open"))
                .group_by(unapplied_payments::currency)
                .order(unapplied_payments::currency.asc())
                .select((
                    unapplied_payments::currency,
                    count_star(),
                    sql::<BigInt>("CAST(SUM(amount) AS BIGINT)"),
                ))
                .load(conn)?;
            let failed_notifications: i64 = notification_deliveries::table
                .filter(notification_deliveries::status.eq("failed"))
                .filter(
                    notification_deliveries::event_id.eq_any(
                        notification_events::table
                            .filter(notification_events::organization_id.eq(organization_id))
                            .select(notification_events::id),
                    ),
                )
                .count()
                .get_result(conn)?;
            Ok(Dashboard {
                organization_name: org.name,
                organization_code: org.code,
                today,
                today_by_channel,
                first_day,
                by_day,
                bills_by_status,
                unapplied_open: unapplied
                    .into_iter()
                    .map(|(currency, count, amount)| CurrencyTotal {
                        currency,
                        count,
                        amount,
                    })
                    .collect(),
                failed_notifications,
            })
        })
    }
}

/// The first day of a chart that ends with `today`.
fn chart_start(today: Date) -> Date {
    today
        .checked_sub(time::Duration::days(CHART_DAYS - 1))
        .unwrap_or(today)
}

/// One row of [`days_by_channel`]'s query.
#[derive(QueryableByName)]
struct DayRow {
    /// Days since 1970-01-01 of the local day.
    #[diesel(sql_type = BigInt)]
    day: i64,
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = BigInt)]
    amount: i64,
}

/// The Julian day of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// Payments of an organization per local day (`first..=last` at `offset`), channel and
/// currency: one grouped query on the `(organization_id, paid_at)` index. The local day of a
/// payment is its Unix time plus the offset, divided by 86,400 (a fixed offset: no daylight
/// saving), written once per backend.
fn days_by_channel(
    conn: &mut AnyConnection,
    organization_id: i64,
    offset: UtcOffset,
    first: Date,
    last: Date,
) -> StoreResult<Vec<DayTotal>> {
    let start = first.midnight().assume_offset(offset);
    let end = last
        .midnight()
        .assume_offset(offset)
        .saturating_add(time::Duration::days(1));
    let shift = i64::from(offset.whole_seconds());
    let tail = "channel, currency, COUNT(*) AS count, CAST(SUM(amount) AS BIGINT) AS amount \
                FROM payments WHERE organization_id = {ORG} AND paid_at >= {START} \
                AND paid_at < {END} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
    let rows: Vec<DayRow> = match conn {
        AnyConnection::Sqlite(c) => {
            let q = format!(
                "SELECT (CAST(strftime('%s', paid_at) AS INTEGER) + ?) / 86400 AS day, {}",
                tail.replace("{ORG}", "?")
                    .replace("{START}", "?")
                    .replace("{END}", "?")
            );
            diesel::sql_query(q)
                .bind::<BigInt, _>(shift)
                .bind::<BigInt, _>(organization_id)
                .bind::<Timestamp, _>(to_db(start))
                .bind::<Timestamp, _>(to_db(end))
                .load(c)?
        }
        AnyConnection::Postgresql(c) => {
            let q = format!(
                "SELECT CAST(FLOOR((EXTRACT(EPOCH FROM paid_at) + $1) / 86400) AS BIGINT) AS day, {}",
                tail.replace("{ORG}", "$2")
                    .replace("{START}", "$3")
                    .replace("{END}", "$4")
            );
            diesel::sql_query(q)
                .bind::<BigInt, _>(shift)
                .bind::<BigInt, _>(organization_id)
                .bind::<Timestamp, _>(to_db(start))
                .bind::<Timestamp, _>(to_db(end))
                .load(c)?
        }
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let julian = i32::try_from(UNIX_EPOCH_JULIAN_DAY + r.day).ok()?;
            Some(DayTotal {
                day: Date::from_julian_day(julian).ok()?,
                channel: r.channel,
                currency: r.currency,
                count: r.count,
                amount: r.amount,
            })
        })
        .collect())
}

crate::tx::store_reads! {
    fn console_dashboard(&self, organization_id: i64, now: OffsetDateTime) -> Dashboard;
}
