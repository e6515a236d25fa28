//! The outbox: neutral notification events and their deliveries, claimed with a lease.
//!
//! Claiming is a compare-and-set on `locked_until` (the same statement on both backends), so
//! several workers, in one process or many, never hold the same delivery at once. A worker that
//! dies simply lets its lease run out; the delivery is claimed again after `locked_until`.

use billhub_core::org::Settings;
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::pool::AnyConnection;
use crate::schema::{bills, collections, notification_deliveries as nd, notification_events as ne};
use crate::secrets::random_hex;
use crate::time_conv::{from_db, to_db};
use crate::{Entity, Reader, StoreError, StoreResult, Writer};

/// A neutral event: what happened, to which bill and payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationEvent {
    pub id: i64,
    /// Travels with every delivery so receivers can drop repeats.
    pub uid: String,
    pub organization_id: i64,
    /// `payment.received`, `payment.reversed`, `bill.expired`, ...
    pub kind: String,
    pub bill_id: Option<i64>,
    pub payment_id: Option<i64>,
    /// JSON object with event details (allocated amount, ...).
    pub payload: String,
    pub created_at: OffsetDateTime,
}

/// A delivery claimed by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub event: NotificationEvent,
    pub dialect: String,
    pub target_url: String,
    /// Attempts made before this one.
    pub attempts: i32,
    pub lock_token: String,
}

/// A delivery as stored (for operators and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_id: i64,
    pub dialect: String,
    pub target_url: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: String,
    pub last_status: Option<i32>,
}

/// A delivery with its event, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDelivery {
    pub record: DeliveryRecord,
    /// The event's kind (`payment.received`, ...).
    pub kind: String,
    pub created_at: OffsetDateTime,
}

/// What [`Writer::retry_delivery`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// It was failed and is pending again, due now (as it is after the retry).
    Retried(DeliveryRecord),
    /// It was not failed (pending or delivered): nothing changed.
    NotFailed(DeliveryRecord),
}

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered {
        status: Option<i32>,
    },
    /// Try again at `next_attempt_at`.
    Retry {
        next_attempt_at: OffsetDateTime,
        error: String,
        status: Option<i32>,
    },
    /// No more attempts.
    Failed {
        error: String,
        status: Option<i32>,
    },
}

/// A subscriber of an event: the dialect that renders it and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub dialect: String,
    pub url: String,
}

/// A delivery joined with its event, as listed for operators.
type DeliveryRow = (
    i64,
    i64,
    String,
    String,
    String,
    i32,
    time::PrimitiveDateTime,
    String,
    Option<i32>,
);

type EventRow = (
    i64,
    String,
    i64,
    String,
    Option<i64>,
    Option<i64>,
    String,
    time::PrimitiveDateTime,
);

macro_rules! delivery_columns {
    () => {
        (
            nd::id,
            nd::event_id,
            nd::dialect,
            nd::target_url,
            nd::status,
            nd::attempts,
            nd::next_attempt_at,
            nd::last_error,
            nd::last_status,
        )
    };
}

fn record_from_row(r: DeliveryRow) -> DeliveryRecord {
    DeliveryRecord {
        id: r.0,
        event_id: r.1,
        dialect: r.2,
        target_url: r.3,
        status: r.4,
        attempts: r.5,
        next_attempt_at: from_db(r.6),
        last_error: r.7,
        last_status: r.8,
    }
}

/// The delivery `id` if its event is the organization's; another organization's delivery is
/// not found, like an unknown one.
fn delivery_of(
    conn: &mut AnyConnection,
    organization_id: i64,
    id: i64,
) -> StoreResult<DeliveryRecord> {
    let row: Option<DeliveryRow> = nd::table
        .inner_join(ne::table)
        .filter(nd::id.eq(id))
        .filter(ne::organization_id.eq(organization_id))
        .select(delivery_columns!())
        .first(conn)
        .optional()?;
    row.map(record_from_row)
        .ok_or_else(|| StoreError::NotFound {
            entity: Entity::NotificationEvent,
            key: format!("delivery {id}"),
        })
}

fn event_from_row(r: EventRow) -> NotificationEvent {
    NotificationEvent {
        id: r.0,
        uid: r.1,
        organization_id: r.2,
        kind: r.3,
        bill_id: r.4,
        payment_id: r.5,
        payload: r.6,
        created_at: from_db(r.7),
    }
}

/// Inside a transaction: records an event and one pending delivery per target.
#[allow(clippy::too_many_arguments)] // one flat call per event kind reads better than a builder here
pub fn enqueue_event(
    conn: &mut AnyConnection,
    organization_id: i64,
    kind: &str,
    bill_id: Option<i64>,
    payment_id: Option<i64>,
    payload: &str,
    targets: &[Target],
    now: OffsetDateTime,
) -> StoreResult<i64> {
    let uid = uuid::Uuid::new_v4().to_string();
    let event_id: i64 = diesel::insert_into(ne::table)
        .values((
            ne::uid.eq(&uid),
            ne::organization_id.eq(organization_id),
            ne::kind.eq(kind),
            ne::bill_id.eq(bill_id),
            ne::payment_id.eq(payment_id),
            ne::payload.eq(payload),
            ne::created_at.eq(to_db(now)),
        ))
        .returning(ne::id)
        .get_result(conn)?;
    for t in targets {
        diesel::insert_into(nd::table)
            .values((
                nd::event_id.eq(event_id),
                nd::dialect.eq(&t.dialect),
                nd::target_url.eq(&t.url),
                nd::status.eq("pending"),
                nd::attempts.eq(0),
                nd::next_attempt_at.eq(to_db(now)),
                nd::last_error.eq(""),
                nd::created_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(event_id)
}

impl Reader<'_> {
    /// Every delivery of an organization's events, oldest first (operators, tests).
    pub fn deliveries_for_organization(
        &mut self,
        organization_id: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        self.with(|conn| {
            let rows: Vec<DeliveryRow> = nd::table
                .inner_join(ne::table)
                .filter(ne::organization_id.eq(organization_id))
                .order(nd::id.asc())
                .select(delivery_columns!())
                .load(conn)?;
            Ok(rows.into_iter().map(record_from_row).collect())
        })
    }

    /// One page of an organization's deliveries, newest first: up to `limit` after skipping
    /// `offset`, and whether more follow.
    pub fn deliveries_page(
        &mut self,
        organization_id: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<ListedDelivery>, bool)> {
        self.with(|conn| {
            let rows: Vec<(DeliveryRow, String, time::PrimitiveDateTime)> = nd::table
                .inner_join(ne::table)
                .filter(ne::organization_id.eq(organization_id))
                .order(nd::id.desc())
                .offset(offset.max(0))
                .limit(limit.max(0).saturating_add(1))
                .select((delivery_columns!(), ne::kind, nd::created_at))
                .load(conn)?;
            let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
            let list = rows
                .into_iter()
                .take(usize::try_from(limit.max(0)).unwrap_or(0))
                .map(|(r, kind, created_at)| ListedDelivery {
                    record: record_from_row(r),
                    kind,
                    created_at: from_db(created_at),
                })
                .collect();
            Ok((list, more))
        })
    }

    /// The organization's delivery `id` (another organization's is not found).
    pub fn delivery(&mut self, organization_id: i64, id: i64) -> StoreResult<DeliveryRecord> {
        self.with(|conn| delivery_of(conn, organization_id, id))
    }

    /// The event with this id.
    pub fn notification_event(&mut self, id: i64) -> StoreResult<NotificationEvent> {
        self.with(|conn| {
            let row: EventRow = ne::table
                .filter(ne::id.eq(id))
                .select((
                    ne::id,
                    ne::uid,
                    ne::organization_id,
                    ne::kind,
                    ne::bill_id,
                    ne::payment_id,
                    ne::payload,
                    ne::created_at,
                ))
                .first(conn)?;
            Ok(event_from_row(row))
        })
    }
}

impl Writer<'_> {
    /// Claims up to `limit` due deliveries of `dialect` for `lease`.
    pub fn claim_deliveries(
        &mut self,
        dialect: &str,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>> {
        self.with(|conn| {
            let db_now = to_db(now);
            let candidates: Vec<i64> = nd::table
                .filter(nd::dialect.eq(dialect))
                .filter(nd::status.eq("pending"))
                .filter(nd::next_attempt_at.le(db_now))
                .filter(nd::locked_until.is_null().or(nd::locked_until.lt(db_now)))
                .order(nd::next_attempt_at.asc())
                .select(nd::id)
                .limit(limit)
                .load(conn)?;
            let mut claimed = Vec::new();
            for id in candidates {
                let token = random_hex(16);
                let n = diesel::update(
                    nd::table
                        .filter(nd::id.eq(id))
                        .filter(nd::status.eq("pending"))
                        .filter(nd::locked_until.is_null().or(nd::locked_until.lt(db_now))),
                )
                .set((
                    nd::locked_until.eq(to_db(now + lease)),
                    nd::lock_token.eq(&token),
                ))
                .execute(conn)?;
                if n == 1 {
                    claimed.push((id, token));
                }
            }
            let mut out = Vec::with_capacity(claimed.len());
            for (id, token) in claimed {
                let (event_id, d, url, attempts): (i64, String, String, i32) = nd::table
                    .filter(nd::id.eq(id))
                    .select((nd::event_id, nd::dialect, nd::target_url, nd::attempts))
                    .first(conn)?;
                let row: EventRow = ne::table
                    .filter(ne::id.eq(event_id))
                    .select((
                        ne::id,
                        ne::uid,
                        ne::organization_id,
                        ne::kind,
                        ne::bill_id,
                        ne::payment_id,
                        ne::payload,
                        ne::created_at,
                    ))
                    .first(conn)?;
                out.push(Delivery {
                    id,
                    event: event_from_row(row),
                    dialect: d,
                    target_url: url,
                    attempts,
                    lock_token: token,
                });
            }
            Ok(out)
        })
    }

    /// An operator's retry of a failed delivery of the organization (another organization's is
    /// not found): pending again, due at `now`, unlocked; its attempts, last status and last
    /// error are kept. The worker then makes one more attempt (the schedule is spent, so a
    /// failure fails it again) and records its outcome as usual. A delivery that is not failed
    /// is left as it is.
    pub fn retry_delivery(
        &mut self,
        organization_id: i64,
        id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<RetryOutcome> {
        self.with(|conn| {
            let record = delivery_of(conn, organization_id, id)?;
            if record.status != "failed" {
                return Ok(RetryOutcome::NotFailed(record));
            }
            diesel::update(
                nd::table
                    .filter(nd::id.eq(id))
                    .filter(nd::status.eq("failed")),
            )
            .set((
                nd::status.eq("pending"),
                nd::next_attempt_at.eq(to_db(now)),
                nd::locked_until.eq(None::<time::PrimitiveDateTime>),
                nd::lock_token.eq(None::<String>),
            ))
            .execute(conn)?;
            delivery_of(conn, organization_id, id).map(RetryOutcome::Retried)
        })
    }

    /// Records an attempt's outcome. Returns false (and changes nothing) when the lease was lost
    /// to another worker in the meantime.
    pub fn finish_delivery(
        &mut self,
        delivery: &Delivery,
        now: OffsetDateTime,
        outcome: &DeliveryOutcome,
    ) -> StoreResult<bool> {
        self.with(|conn| {
            let target = nd::table
                .filter(nd::id.eq(delivery.id))
                .filter(nd::lock_token.eq(&delivery.lock_token));
            let attempts = delivery.attempts + 1;
            let n = match outcome {
                DeliveryOutcome::Delivered { status } => diesel::update(target)
                    .set((
                        nd::status.eq("delivered"),
                        nd::attempts.eq(attempts),
                        nd::delivered_at.eq(Some(to_db(now))),
                        nd::last_status.eq(*status),
                        nd::last_error.eq(""),
                        nd::locked_until.eq(None::<time::PrimitiveDateTime>),
                        nd::lock_token.eq(None::<String>),
                    ))
                    .execute(conn)?,
                DeliveryOutcome::Retry {
                    next_attempt_at,
                    error,
                    status,
                } => diesel::update(target)
                    .set((
                        nd::attempts.eq(attempts),
                        nd::next_attempt_at.eq(to_db(*next_attempt_at)),
                        nd::last_status.eq(*status),
                        nd::last_error.eq(error),
                        nd::locked_until.eq(None::<time::PrimitiveDateTime>),
                        nd::lock_token.eq(None::<String>),
                    ))
                    .execute(conn)?,
                DeliveryOutcome::Failed { error, status } => diesel::update(target)
                    .set((
                        nd::status.eq("failed"),
                        nd::attempts.eq(attempts),
                        nd::last_status.eq(*status),
                        nd::last_error.eq(error),
                        nd::locked_until.eq(None::<time::PrimitiveDateTime>),
                        nd::lock_token.eq(None::<String>),
                    ))
                    .execute(conn)?,
            };
            Ok(n == 1)
        })
    }
}

crate::tx::store_reads! {
    fn deliveries_for_organization(&self, organization_id: i64) -> Vec<DeliveryRecord>;
    fn notification_event(&self, id: i64) -> NotificationEvent;
    fn deliveries_page(&self, organization_id: i64, offset: i64, limit: i64) -> (Vec<ListedDelivery>, bool);
    fn delivery(&self, organization_id: i64, id: i64) -> DeliveryRecord;
}

crate::tx::store_writes! {
    fn claim_deliveries(&self, dialect: &str, now: OffsetDateTime, lease: time::Duration, limit: i64) -> Vec<Delivery>;
    fn finish_delivery(&self, delivery: &Delivery, now: OffsetDateTime, outcome: &DeliveryOutcome) -> bool;
    fn retry_delivery(&self, organization_id: i64, id: i64, now: OffsetDateTime) -> RetryOutcome;
}

/// Who must hear about a change to this bill: its collection's webhook, and the organization's
/// subscriptions as core's settings list them.
pub(crate) fn targets_for_bill(
    conn: &mut AnyConnection,
    bill_id: i64,
    settings: &Settings,
) -> StoreResult<Vec<Target>> {
    let mut targets = Vec::new();
    let hook: Option<Option<String>> = bills::table
        .inner_join(collections::table)
        .filter(bills::id.eq(bill_id))
        .select(collections::webhook_url)
        .first(conn)
        .optional()?;
    if let Some(Some(url)) = hook
        && !url.is_empty()
    {
        targets.push(Target {
            dialect: billhub_core::org::collections::CALLBACK_DIALECT.into(),
            url,
        });
    }
    targets.extend(settings.subscriptions().into_iter().map(|s| Target {
        dialect: s.dialect.into(),
        url: s.url,
    }));
    Ok(targets)
}
