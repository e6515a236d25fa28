//! The load driver: `connections` tasks, each with its own keep-alive HTTP/1.1 connection,
//! calling one [`Work`] back to back until the deadline (or until the work runs out of bills),
//! recording each call's latency. Latencies are kept whole (microseconds, one `u32` each) and
//! sorted at the end: exact p50/p99, no histogram buckets.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one call ended as.
#[derive(Debug)]
pub enum Step {
    /// A 2xx answer that says what the path's success says.
    Done,
    /// Anything else: counted as an error, the first few kept with their text.
    Failed(String),
    /// No more bills to pay: this connection stops (the phase ends early).
    Exhausted,
}

/// A boxed call.
pub type Call<'a> = Pin<Box<dyn Future<Output = Step> + Send + 'a>>;

/// One kind of request, built (and signed) anew for every call.
pub trait Work: Send + Sync + 'static {
    /// One call to the gateway at `base` over `client`.
    fn call<'a>(&'a self, client: &'a reqwest::Client, base: &'a str) -> Call<'a>;
}

/// What a phase measured.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub ok: u64,
    pub errors: u64,
    /// Seconds from the start to the last connection's stop.
    pub elapsed: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The phase ran out of bills before its duration.
    pub exhausted: bool,
    pub first_errors: Vec<String>,
}

impl Stats {
    pub fn rate(&self) -> f64 {
        if self.elapsed > 0.0 {
            self.ok as f64 / self.elapsed
        } else {
            0.0
        }
    }
}

struct Worker {
    lat_us: Vec<u32>,
    errors: u64,
    first_errors: Vec<String>,
    exhausted: bool,
    stopped: Duration,
}

/// Drives `work` over `connections` connections spread round-robin over `bases` for `duration`.
pub async fn drive(
    work: Arc<dyn Work>,
    bases: &[String],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Stats> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::with_capacity(connections);
    for i in 0..connections {
        let work = Arc::clone(&work);
        let base = bases
            .get(i % bases.len().max(1))
            .cloned()
            .unwrap_or_default();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .http1_only()
            .timeout(Duration::from_secs(60))
            .build()?;
        handles.push(tokio::spawn(async move {
            let mut w = Worker {
                lat_us: Vec::with_capacity(4096),
                errors: 0,
                first_errors: Vec::new(),
                exhausted: false,
                stopped: Duration::ZERO,
            };
            while Instant::now() < deadline {
                let t = Instant::now();
                let step = work.call(&client, &base).await;
                let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
                match step {
                    Step::Done => w.lat_us.push(us),
                    Step::Failed(e) => {
                        w.errors += 1;
                        if w.first_errors.len() < 3 {
                            w.first_errors.push(e);
                        }
                    }
                    Step::Exhausted => {
                        w.exhausted = true;
                        break;
                    }
                }
            }
            w.stopped = start.elapsed();
            w
        }));
    }
    let mut all: Vec<u32> = Vec::new();
    let mut stats = Stats::default();
    for h in handles {
        let w = h.await?;
        all.extend_from_slice(&w.lat_us);
        stats.errors += w.errors;
        stats.exhausted |= w.exhausted;
        stats.elapsed = stats.elapsed.max(w.stopped.as_secs_f64());
        for e in w.first_errors {
            if stats.first_errors.len() < 5 {
                stats.first_errors.push(e);
            }
        }
    }
    all.sort_unstable();
    stats.ok = all.len() as u64;
    stats.p50_ms = percentile(&all, 50);
    stats.p99_ms = percentile(&all, 99);
    Ok(stats)
}

/// The `p`th percentile of sorted microseconds, in milliseconds (nearest rank).
fn percentile(sorted: &[u32], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1) - 1;
    f64::from(sorted.get(rank).copied().unwrap_or(0)) / 1000.0
}

/// Sends one request; `Ok((status, body))` or the transport error's text.
pub async fn send(req: reqwest::RequestBuilder) -> Result<(u16, bytes_like::Body), String> {
    let resp = req.send().await.map_err(|e| format!("transport: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_vec();
    Ok((status, body))
}

/// The body type [`send`] returns (plain bytes).
pub mod bytes_like {
    pub type Body = Vec<u8>;
}

/// Whether `body` contains `needle`.
pub fn has(body: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && body.windows(n.len()).any(|w| w == n)
}

/// A short text of a failed answer.
pub fn failure(what: &str, status: u16, body: &[u8]) -> Step {
    let text = String::from_utf8_lossy(body);
    let short: String = text.chars().take(300).collect();
    Step::Failed(format!("{what}: HTTP {status} {short}"))
}
