//! The notification worker: claims its dialect's deliveries with a lease, lets the dialect
//! render them, sends them with reqwest and records the outcome on the dialect's schedule.
//!
//! - **Claiming.** [`billhub_store::Store::claim_deliveries`] takes due, pending deliveries of
//!   one dialect and sets `locked_until = now + lease` with a compare-and-set, the same statement
//!   on both backends, so two workers (threads or processes) never hold one delivery at once.
//!   A worker that dies lets its lease run out; the delivery is claimed again after
//!   `locked_until`. Everything is in the database: a restart loses nothing.
//! - **Sending.** Always a POST of what the [`Notifier`] rendered, with the event's uid in
//!   `X-Billhub-Event-Id` (receivers drop repeats by it: delivery is at least once), a
//!   per-request timeout, no redirects followed, and at most 64 KiB of the answer read.
//! - **Outcome.** An answer the notifier acknowledges is `Delivered`. Otherwise (an error status,
//!   an unacknowledged body, no answer) the attempt is retried after `schedule.delays[n]` for the
//!   n-th failed attempt, and after the last delay it is `Failed` and kept for operators. A
//!   delivery the notifier cannot render ([`RenderError::Permanent`]) fails at once (retrying
//!   cannot fix it); a transient render error (the store was unavailable) is retried on the
//!   same schedule. The outcome is recorded only while the lease is still ours.
//! - **Leases.** A send starts only while the lease still covers it (the send timeout before
//!   `locked_until`), checked before rendering and again right before sending: a delivery whose
//!   lease ran out meanwhile (a slow render) is not sent but left for the next claim, so no
//!   delivery is sent after its lease expired.
//! - **Driving.** [`Worker::run_once`] is one round (tests call it with a fixed clock, no
//!   sleeping); [`Worker::spawn_until`] runs rounds on an interval until told to stop, finishing
//!   the round in progress.
//! - **A scaled test clock.** Under the test-only `BILLHUB_CLOCK_SCALE=N` (sandbox only) the app
//!   clock runs N times real time, so the worker's real-time waits shrink with it: rounds come
//!   every `every / N` (at least 10 ms), a send times out after `timeout / N` but never under
//!   [`MIN_SCALED_SEND_TIMEOUT`] real, and the lease (app time) is stretched to at least twice
//!   that timeout's app length, so a send still always ends inside its lease. With the scale
//!   unset (production) every figure is the one given.

use std::sync::Arc;
use std::time::Duration;

use billhub_store::{Delivery, DeliveryOutcome};
use futures_util::StreamExt;

use crate::gateway::{Notifier, OutboundRequest, RenderError};
use crate::state::AppState;
use crate::telemetry;

/// The header that carries the event uid on every delivery.
pub const EVENT_ID_HEADER: &str = "X-Billhub-Event-Id";

/// At most this much of a receiver's answer is read (for `Notifier::acknowledged`).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Under a scaled test clock, a send's real timeout is never shorter than this.
pub const MIN_SCALED_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Under a scaled test clock, rounds never come faster than this.
const MIN_SCALED_EVERY: Duration = Duration::from_millis(10);

/// Counts of one round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

pub struct Worker {
    state: AppState,
    notifier: Arc<dyn Notifier>,
    http: reqwest::Client,
    lease: time::Duration,
    batch: i64,
    concurrency: usize,
    send_timeout: Duration,
}

impl Worker {
    /// Defaults: a 60 s lease, batches of 20 sent 10 at a time, 10 s per request; a round thus
    /// ends well inside its lease.
    pub fn new(state: AppState, notifier: Arc<dyn Notifier>) -> Worker {
        let send_timeout = scaled_send_timeout(Duration::from_secs(10), state.clock.scale());
        Worker {
            state,
            notifier,
            http: http_client(send_timeout),
            lease: time::Duration::seconds(60),
            batch: 20,
            concurrency: 10,
            send_timeout,
        }
    }

    /// How long a claim holds before another worker may take the delivery (app time; under a
    /// scaled test clock at least twice a send's app length, see the module docs).
    pub fn with_lease(mut self, lease: time::Duration) -> Worker {
        self.lease = lease;
        self
    }

    /// How many deliveries one round claims, and how many it sends at once.
    pub fn with_batch(mut self, batch: i64, concurrency: usize) -> Worker {
        self.batch = batch.max(1);
        self.concurrency = concurrency.max(1);
        self
    }

    /// The timeout of one outbound request.
    pub fn with_send_timeout(mut self, timeout: Duration) -> Worker {
        self.send_timeout = scaled_send_timeout(timeout, self.state.clock.scale());
        self.http = http_client(self.send_timeout);
        self
    }

    /// A send's timeout in app time: the real timeout times the clock's scale.
    fn send_app_time(&self) -> time::Duration {
        let send = time::Duration::try_from(self.send_timeout).unwrap_or(time::Duration::MAX);
        send.checked_mul(i32::try_from(self.state.clock.scale()).unwrap_or(i32::MAX))
            .unwrap_or(time::Duration::MAX)
    }

    /// The lease a claim takes: as configured, stretched under a scaled test clock to twice a
    /// send's app length so a send can still start inside it.
    fn lease(&self) -> time::Duration {
        if self.state.clock.scale() <= 1 {
            return self.lease;
        }
        let two_sends = self
            .send_app_time()
            .checked_mul(2)
            .unwrap_or(time::Duration::MAX);
        self.lease.max(two_sends)
    }

    pub fn dialect(&self) -> &'static str {
        self.notifier.dialect()
    }

    /// Claims due deliveries and attempts each once.
    pub async fn run_once(&self) -> RoundReport {
        let mut report = RoundReport::default();
        let now = self.state.now();
        let dialect = self.notifier.dialect();
        let (lease, batch) = (self.lease(), self.batch);
        let claimed = match self
            .state
            .run(move |s| s.claim_deliveries(dialect, now, lease, batch))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, dialect, "cannot claim deliveries");
                return report;
            }
        };
        report.claimed = claimed.len();
        if claimed.is_empty() {
            return report;
        }
        let lease_ends = now + lease;
        let outcomes: Vec<Option<DeliveryOutcome>> = futures_util::stream::iter(claimed)
            .map(|d| self.process(d, lease_ends))
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for outcome in outcomes.into_iter().flatten() {
            let label = match outcome {
                DeliveryOutcome::Delivered { .. } => {
                    report.delivered += 1;
                    "delivered"
                }
                DeliveryOutcome::Retry { .. } => {
                    report.retried += 1;
                    "retry"
                }
                DeliveryOutcome::Failed { .. } => {
                    report.failed += 1;
                    "failed"
                }
            };
            metrics::counter!(telemetry::NOTIFICATION_ATTEMPTS, "dialect" => dialect, "outcome" => label)
                .increment(1);
        }
        report
    }

    /// Attempts one claimed delivery and records the outcome; `None` when it was left for the
    /// next claim (lease about to run out, or lost meanwhile).
    async fn process(
        &self,
        delivery: Delivery,
        lease_ends: time::OffsetDateTime,
    ) -> Option<DeliveryOutcome> {
        // Do not start a send that could outlive the lease: another worker may claim the
        // delivery then, and the receiver would get it twice at once.
        if !self.lease_covers_a_send(lease_ends) {
            tracing::warn!(
                delivery = delivery.id,
                "lease too short to send; left for the next claim"
            );
            return None;
        }
        let outcome = match self.render(&delivery).await {
            Ok(request) => {
                // Rendering may have taken a while: the lease must still cover the send.
                if !self.lease_covers_a_send(lease_ends) {
                    tracing::warn!(
                        delivery = delivery.id,
                        "lease ran out while rendering; not sent, left for the next claim"
                    );
                    return None;
                }
                self.send(&delivery, request).await
            }
            Err(outcome) => outcome,
        };
        self.record(&delivery, outcome).await
    }

    /// Whether a send started now ends before the lease does.
    fn lease_covers_a_send(&self, lease_ends: time::OffsetDateTime) -> bool {
        let send = self.send_app_time();
        self.state
            .now()
            .checked_add(send)
            .is_some_and(|end| end < lease_ends)
    }

    /// Records the outcome under our lease and logs it; `None` when the lease was lost.
    async fn record(
        &self,
        delivery: &Delivery,
        outcome: DeliveryOutcome,
    ) -> Option<DeliveryOutcome> {
        let now = self.state.now();
        let (d, o) = (delivery.clone(), outcome.clone());
        match self
            .state
            .run(move |s| s.finish_delivery(&d, now, &o))
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    delivery = delivery.id,
                    "lease lost before the outcome was recorded; another worker owns the delivery"
                );
                return None;
            }
            Err(e) => {
                tracing::error!(error = %e, delivery = delivery.id, "cannot record delivery outcome");
                return None;
            }
        }
        match &outcome {
            DeliveryOutcome::Delivered { status } => tracing::info!(
                delivery = delivery.id,
                event = %delivery.event.uid,
                kind = %delivery.event.kind,
                status = ?status,
                "notification delivered"
            ),
            DeliveryOutcome::Retry {
                next_attempt_at,
                error,
                ..
            } => tracing::warn!(
                delivery = delivery.id,
                event = %delivery.event.uid,
                attempt = delivery.attempts + 1,
                %error,
                next_attempt_at = %next_attempt_at,
                "notification not delivered; will retry"
            ),
            DeliveryOutcome::Failed { error, .. } => tracing::error!(
                delivery = delivery.id,
                event = %delivery.event.uid,
                attempt = delivery.attempts + 1,
                %error,
                "notification failed; no more attempts"
            ),
        }
        Some(outcome)
    }

    /// The dialect's request for a delivery, or the outcome of an attempt that could not render
    /// it: failed for good when retrying cannot help, else the next step on the schedule.
    async fn render(&self, delivery: &Delivery) -> Result<OutboundRequest, DeliveryOutcome> {
        let notifier = self.notifier.clone();
        let config = self.state.config.clone();
        let d = delivery.clone();
        let rendered = self
            .state
            .run(move |s| Ok(notifier.render(s, &config, &d)))
            .await;
        match rendered {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(RenderError::Permanent(error))) => Err(DeliveryOutcome::Failed {
                error: format!("cannot render: {error}"),
                status: None,
            }),
            Ok(Err(RenderError::Transient(error))) => {
                Err(self.retry_or_fail(delivery, format!("cannot render: {error}"), None))
            }
            Err(e) => Err(self.retry_or_fail(delivery, format!("store: {e}"), None)),
        }
    }

    /// Sends a rendered delivery once.
    async fn send(&self, delivery: &Delivery, request: OutboundRequest) -> DeliveryOutcome {
        let mut builder = self
            .http
            .post(&request.url)
            .header(reqwest::header::CONTENT_TYPE, &request.content_type)
            .header(EVENT_ID_HEADER, &delivery.event.uid);
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        let (status, error) = match builder.body(request.body).send().await {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let body = read_capped(&mut resp).await;
                if self.notifier.acknowledged(status, &body) {
                    return DeliveryOutcome::Delivered {
                        status: Some(i32::from(status)),
                    };
                }
                (
                    Some(i32::from(status)),
                    format!("receiver answered {status}"),
                )
            }
            Err(e) => (None, format!("cannot reach receiver: {}", describe(&e))),
        };
        self.retry_or_fail(delivery, error, status)
    }

    /// The next step on the dialect's schedule after a failed attempt.
    fn retry_or_fail(
        &self,
        delivery: &Delivery,
        error: String,
        status: Option<i32>,
    ) -> DeliveryOutcome {
        let schedule = self.notifier.schedule();
        let failed_before = usize::try_from(delivery.attempts).unwrap_or(usize::MAX);
        match schedule.delays.get(failed_before) {
            Some(delay) => DeliveryOutcome::Retry {
                next_attempt_at: self.state.now() + *delay,
                error,
                status,
            },
            None => DeliveryOutcome::Failed { error, status },
        }
    }

    /// Runs rounds every `every` (divided by a scaled test clock's factor) until `stop` turns
    /// true (or its sender is dropped); a round in progress is finished first, so nothing
    /// claimed is left half recorded.
    pub fn spawn_until(
        self,
        every: Duration,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let every = scaled_every(every, self.state.clock.scale());
        let dialect = self.dialect();
        let worker = Arc::new(self);
        tokio::spawn(async move {
            run_periodic(every, stop, move || {
                let worker = worker.clone();
                async move {
                    let _ = worker.run_once().await;
                }
            })
            .await;
            tracing::info!(dialect, "notification worker stopped");
        })
    }
}

/// Runs `round` now and every `every` until `stop` turns true (or its sender is dropped). A round
/// in progress is finished first, so nothing it started is left half done.
pub(crate) async fn run_periodic<F, Fut>(
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = tick.tick() => round().await,
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
}

/// A real-time polling interval standing for app time: `every / scale`, at least 10 ms when
/// scaled; `every` itself at scale 1.
fn scaled_every(every: Duration, scale: u32) -> Duration {
    if scale <= 1 {
        return every;
    }
    (every / scale).max(MIN_SCALED_EVERY)
}

/// A send's real timeout under a scaled test clock: `timeout / scale`, at least
/// [`MIN_SCALED_SEND_TIMEOUT`] (and never longer than `timeout`); `timeout` itself at scale 1.
fn scaled_send_timeout(timeout: Duration, scale: u32) -> Duration {
    if scale <= 1 {
        return timeout;
    }
    (timeout / scale).max(MIN_SCALED_SEND_TIMEOUT).min(timeout)
}

fn http_client(timeout: Duration) -> reqwest::Client {
    match reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("billhub/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot build the notification HTTP client; using defaults");
            reqwest::Client::new()
        }
    }
}

/// Reads at most [`MAX_ANSWER_BYTES`] of an answer, lossily as text.
async fn read_capped(resp: &mut reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_ANSWER_BYTES.saturating_sub(body.len());
        body.extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
        if body.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// A reqwest error without its URL (a webhook URL may carry a token in its query).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_request() {
        "request failed"
    } else {
        "failed"
    };
    match std::error::Error::source(e) {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_time_waits_follow_a_scaled_clock_and_are_unchanged_without_one() {
        let five = Duration::from_secs(5);
        let ten = Duration::from_secs(10);
        // Production (scale 1): exactly the figures given.
        assert_eq!(scaled_every(five, 1), five);
        assert_eq!(scaled_send_timeout(ten, 1), ten);
        // Scaled: polling shrinks by the factor, down to 10 ms.
        assert_eq!(
            scaled_every(five, 60),
            Duration::from_millis(83) + Duration::from_nanos(333_333)
        );
        assert_eq!(scaled_every(five, 3600), MIN_SCALED_EVERY);
        // A send keeps at least 5 s real (a loaded machine), and never more than given.
        assert_eq!(MIN_SCALED_SEND_TIMEOUT, Duration::from_secs(5));
        assert_eq!(scaled_send_timeout(ten, 2), Duration::from_secs(5));
        assert_eq!(scaled_send_timeout(ten, 60), MIN_SCALED_SEND_TIMEOUT);
        assert_eq!(
            scaled_send_timeout(Duration::from_secs(30), 3),
            Duration::from_secs(10)
        );
        assert_eq!(
            scaled_send_timeout(Duration::from_secs(1), 60),
            Duration::from_secs(1)
        );
    }
}
