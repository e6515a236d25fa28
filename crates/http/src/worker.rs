//! The notification worker: claims its dialect's deliveries with a lease, lets the dialect
//! render them, sends them with reqwest and records the outcome on the dialect's schedule.
//! [`Worker::run_once`] drives one round (tests call it directly; no sleeping).

use std::sync::Arc;

use billhub_store::{Delivery, DeliveryOutcome};

use crate::gateway::Notifier;
use crate::state::AppState;

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
}

impl Worker {
    pub fn new(state: AppState, notifier: Arc<dyn Notifier>) -> Worker {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Worker {
            state,
            notifier,
            http,
            lease: time::Duration::seconds(60),
            batch: 20,
        }
    }

    /// Claims due deliveries and attempts each once.
    pub async fn run_once(&self) -> RoundReport {
        let mut report = RoundReport::default();
        let now = self.state.now();
        let dialect = self.notifier.dialect();
        let (lease, batch) = (self.lease, self.batch);
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
        for delivery in claimed {
            let outcome = self.attempt(&delivery).await;
            match &outcome {
                DeliveryOutcome::Delivered { .. } => report.delivered += 1,
                DeliveryOutcome::Retry { .. } => report.retried += 1,
                DeliveryOutcome::Failed { .. } => report.failed += 1,
            }
            let now = self.state.now();
            let d = delivery.clone();
            if let Err(e) = self
                .state
                .run(move |s| s.finish_delivery(&d, now, &outcome))
                .await
            {
                tracing::error!(error = %e, delivery = delivery.id, "cannot record delivery outcome");
            }
        }
        report
    }

    async fn attempt(&self, delivery: &Delivery) -> DeliveryOutcome {
        let notifier = self.notifier.clone();
        let config = self.state.config.clone();
        let d = delivery.clone();
        let rendered = self
            .state
            .run(move |s| Ok(notifier.render(s, &config, &d)))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let request = match rendered {
            Ok(r) => r,
            Err(error) => {
                return DeliveryOutcome::Failed {
                    error: format!("cannot render: {error}"),
                    status: None,
                };
            }
        };
        let mut builder = self
            .http
            .post(&request.url)
            .header("Content-Type", &request.content_type)
            .header("X-Billhub-Event-Id", &delivery.event.uid);
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        let (status, error) = match builder.body(request.body).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                if self.notifier.acknowledged(status, &body) {
                    return DeliveryOutcome::Delivered {
                        status: Some(status as i32),
                    };
                }
                (Some(status as i32), format!("receiver answered {status}"))
            }
            Err(e) => (None, format!("cannot reach receiver: {e}")),
        };
        let schedule = self.notifier.schedule();
        let attempt = delivery.attempts as usize;
        match schedule.delays.get(attempt) {
            Some(delay) => DeliveryOutcome::Retry {
                next_attempt_at: self.state.now() + *delay,
                error,
                status,
            },
            None => DeliveryOutcome::Failed { error, status },
        }
    }

    /// Runs rounds every `every` until the process stops.
    pub fn spawn(self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let _ = self.run_once().await;
            }
        })
    }
}
