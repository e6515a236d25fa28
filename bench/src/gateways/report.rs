//! The table and the results file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use time::OffsetDateTime;

use crate::Args;
use crate::load::Stats;

/// One line of the table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub path: String,
    pub backend: String,
    pub conns: usize,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub elapsed: f64,
    pub exhausted: bool,
    pub rss_kib: Option<u64>,
    /// A payment path (its baseline is the backend's write ceiling).
    pub pays: bool,
    /// What the ratio is against.
    pub baseline: String,
    pub baseline_rate: Option<f64>,
    /// An inquiry's `/healthz` rate when its main baseline is the database's ceiling.
    pub healthz_rate: Option<f64>,
}

impl Row {
    pub fn new(path: &str, backend: &str, conns: usize, s: &Stats) -> Row {
        Row {
            path: path.into(),
            backend: backend.into(),
            conns,
            rate: s.rate(),
            p50_ms: s.p50_ms,
            p99_ms: s.p99_ms,
            errors: s.errors,
            elapsed: s.elapsed,
            exhausted: s.exhausted,
            ..Row::default()
        }
    }

    fn ratio(&self) -> String {
        match self.baseline_rate {
            Some(b) if b > 0.0 => format!("{:.2}", self.rate / b),
            _ => "-".into(),
        }
    }

    fn line(&self) -> String {
        let rss = self
            .rss_kib
            .map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0));
        let base = self.baseline_rate.map_or("-".into(), |r| format!("{r:.0}"));
        let vs_h = match self.healthz_rate {
            Some(h) if h > 0.0 => format!("{:.2}", self.rate / h),
            _ => "-".into(),
        };
        let short = if self.exhausted {
            format!(" (bills ran out at {:.1} s)", self.elapsed)
        } else {
            String::new()
        };
        format!(
            "| {} | {} | {} | {:.0}{short} | {:.2} | {:.2} | {} | {rss} | {} | {base} | {} | {vs_h} |",
            self.path,
            self.backend,
            self.conns,
            self.rate,
            self.p50_ms,
            self.p99_ms,
            self.errors,
            if self.baseline.is_empty() {
                "-"
            } else {
                &self.baseline
            },
            self.ratio(),
        )
    }
}

const HEAD: &str = "| path | backend | conns | req/s | p50 ms | p99 ms | errors | peak RSS MiB | baseline | baseline /s | ratio | vs /healthz |\n|---|---|---|---|---|---|---|---|---|---|---|---|";

/// One run of the harness.
#[derive(Debug)]
pub struct Run {
    pub started: OffsetDateTime,
    pub bills: usize,
    pub duration: u64,
    pub profile: String,
    pub rows: Vec<Row>,
    pub extras: Vec<Row>,
    pub notes: Vec<String>,
    pub settings: Vec<String>,
    pub failures: Vec<String>,
}

impl Run {
    pub fn new(args: &Args) -> Run {
        Run {
            started: OffsetDateTime::now_utc(),
            bills: args.bills,
            duration: args.duration.as_secs(),
            profile: args.profile.clone(),
            rows: Vec::new(),
            extras: Vec::new(),
            notes: Vec::new(),
            settings: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Sets the write ceiling of every payment row of `backend`.
    pub fn set_payment_baseline(&mut self, backend: &str, name: &str, rate: f64) {
        for r in self
            .rows
            .iter_mut()
            .filter(|r| r.pays && r.backend == backend)
        {
            r.baseline = name.into();
            r.baseline_rate = Some(rate);
        }
    }

    pub fn render(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "# Gateways benchmark, {} bills, {} s per phase, {} build\n",
            self.bills, self.duration, self.profile
        );
        let _ = writeln!(t, "- Date: {} UTC", fmt_time(self.started));
        let command = std::env::var("BILLHUB_BENCH_COMMAND")
            .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" "));
        let _ = writeln!(t, "- Command: `{command}`");
        let _ = writeln!(t, "- Commit: {}", commit());
        let _ = writeln!(t, "- Machine: {}", machine());
        for s in &self.settings {
            let _ = writeln!(t, "- Settings: {s}");
        }
        let _ = writeln!(
            t,
            "- Gateways at `BILLHUB_LOG=warn`; the load driver (bench/src/gateways/load.rs, reqwest, \
             one keep-alive connection per task) runs on the same machine. Latency of a postpaid \
             payment is its get-invoices plus its payment.\n"
        );
        let _ = writeln!(t, "{HEAD}");
        for r in &self.rows {
            let _ = writeln!(t, "{}", r.line());
        }
        if !self.extras.is_empty() {
            let _ = writeln!(t, "\n## Recorded without a target\n\n{HEAD}");
            for r in &self.extras {
                let _ = writeln!(t, "{}", r.line());
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(t, "\n## Notes\n");
            for n in &self.notes {
                let _ = writeln!(t, "- {n}");
            }
        }
        if self.failures.is_empty() {
            let _ = writeln!(t, "\nResult: every request answered as expected.");
        } else {
            let _ = writeln!(t, "\n## FAILED\n");
            for f in &self.failures {
                let _ = writeln!(t, "- {f}");
            }
        }
        t
    }

    /// Writes `dir/YYYY-MM-DD-gateways-<bills>[-k].md` (never over an earlier one).
    pub fn write(&self, dir: &Path, text: &str) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let date = self.started.date();
        let stem = format!("{date}-gateways-{}", self.bills);
        let mut path = dir.join(format!("{stem}.md"));
        let mut k = 2;
        while path.exists() {
            path = dir.join(format!("{stem}-{k}.md"));
            k += 1;
        }
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
        Ok(path)
    }
}

fn fmt_time(t: OffsetDateTime) -> String {
    format!(
        "{} {:02}:{:02}:{:02}",
        t.date(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn run_text(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn commit() -> String {
    let head = run_text("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = run_text("git", &["status", "--porcelain", "--untracked-files=no"]);
    if dirty.is_empty() {
        head
    } else {
        format!("{head} plus uncommitted changes")
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|k| k.parse::<u64>().ok())
        .map_or("?".into(), |k| format!("{} GiB", k / 1024 / 1024));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: String = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    format!("{cores} cores ({cpu}), {mem} RAM, Linux; load average at the end {load}")
}
