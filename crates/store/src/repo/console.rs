//! Reads of the operator console, each page in one snapshot and always for one organization:
//! the organization id comes from the signed-in session, never from the request.

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use time::{OffsetDateTime, PrimitiveDateTime, Time};

use crate::schema::unapplied_payments;
use crate::schema::{bills, notification_deliveries, notification_events, payments};
use crate::time_conv::{local_date, to_db};
use crate::{Reader, StoreResult};

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

crate::tx::store_reads! {
    fn console_dashboard(&self, organization_id: i64, now: OffsetDateTime) -> Dashboard;
}
