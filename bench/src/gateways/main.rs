//! Every gateway on both backends, against baselines measured in the same run (issue 12).
//!
//! Per backend (a fresh SQLite file; a fresh PostgreSQL database on
//! `BILLHUB_BENCH_POSTGRES_URL`), through the `billhub` CLI: migrate, two organizations,
//! credentials for every dialect, a VA bank and a postpaid network enrolled with both, and N bills
//! through `billhub import bills`. Then each gateway binary on a free port, driven for a fixed
//! duration by the load driver in [`load`] (keep-alive connections, signing every request with
//! core's signers): `/healthz` (the HTTP ceiling), every inquiry at 64 connections, every payment
//! path at 16. Baselines: `/healthz` of the same process; on PostgreSQL `pgbench -M prepared -f`
//! of the inquiry's SQL and `pgbench -N -c 16`; on SQLite the fsync ceiling (the store's posting
//! code, one payment per transaction on one thread at `synchronous=FULL`). After the run every
//! acknowledged payment must be stored and applied (`billhub check` clean). Extras: 1, 2 and 4
//! `bill24-proxy` processes over one PostgreSQL, and the access-log cost (`/healthz` at
//! `BILLHUB_LOG=info` vs `warn`).
//!
//! Prints one table and writes it to `bench/results/YYYY-MM-DD-gateways-<n>.md`.
//!
//! Needs: the release (or `--profile debug`) binaries next to this one, PostgreSQL with
//! `pgbench` and `psql` for the PostgreSQL half, `sqlite3` for the SQLite half's checks.
//! Run: `bench/run [--bills 10000] [--duration 20s] [--backend both] [--only PATH]`.

mod baseline;
mod fsync;
mod load;
mod report;
mod setup;
mod targets;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use crate::report::Run;
use crate::setup::Backend;

/// Command line of `bench/run` (which builds, then runs this binary with the same arguments).
#[derive(Parser, Debug, Clone)]
#[command(about = "billhub gateways benchmark: every gateway, both backends, ratio to baselines")]
pub struct Args {
    /// Bills to seed (over two organizations).
    #[arg(long, default_value_t = 10_000)]
    pub bills: usize,
    /// How long each measured phase runs (`20s`, `3s`, `1m`).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both", value_parser = ["sqlite", "postgres", "both"])]
    pub backend: String,
    /// Only the paths whose name contains this text (e.g. `/proxy`, `payment`); baselines and
    /// `/healthz` always run.
    #[arg(long)]
    pub only: Option<String>,
    /// Which build the binaries are from (`bench/run` builds it); only said in the results.
    #[arg(long, default_value = "release", value_parser = ["release", "debug"])]
    pub profile: String,
    /// Where the results file goes.
    #[arg(long, default_value = "bench/results")]
    pub results: PathBuf,
    /// Skip the 1/2/4-process run over PostgreSQL.
    #[arg(long)]
    pub no_scale: bool,
    /// Skip the access-log comparison.
    #[arg(long)]
    pub no_access_log: bool,
    /// Inquiry connections.
    #[arg(long, default_value_t = 64)]
    pub read_connections: usize,
    /// Payment connections.
    #[arg(long, default_value_t = 16)]
    pub pay_connections: usize,
    /// Keep the work directory (databases, CSV, gateway logs) instead of removing it.
    #[arg(long)]
    pub keep: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: a duration is a whole number and s or m (20s, 1m)"))?;
    match unit {
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?}: unit must be s or m")),
    }
}

/// Copies `billhub`, every gateway binary and (when built) `group_commit` from `from` into `to`.
fn copy_binaries(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(to).with_context(|| format!("create {}", to.display()))?;
    let names = ["billhub"]
        .into_iter()
        .chain(targets::GATEWAYS.iter().map(|g| g.binary));
    for name in names {
        let src = from.join(name);
        std::fs::copy(&src, to.join(name)).with_context(|| {
            format!(
                "{} is missing: build it first (bench/run does)",
                src.display()
            )
        })?;
    }
    // `group_commit` is built with this binary (same package and profile).
    let gc = from.join("group_commit");
    if gc.exists() {
        std::fs::copy(&gc, to.join("group_commit"))
            .with_context(|| format!("copy {}", gc.display()))?;
    }
    Ok(to.to_path_buf())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.bills < 200 {
        bail!("--bills must be at least 200 (got {})", args.bills);
    }
    let bin_dir = std::env::current_exe()
        .context("where is this binary")?
        .parent()
        .map(PathBuf::from)
        .context("binary without a directory")?;
    let work = std::env::temp_dir().join(format!(
        "billhub-bench-{}-{}",
        std::process::id(),
        billhub_store::MasterKey::generate()
            .to_hex()
            .get(..8)
            .unwrap_or("x")
    ));
    std::fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
    // Copies of the binaries: a rebuild during the run cannot swap them.
    let bin_dir = copy_binaries(&bin_dir, &work.join("bin"))?;
    let backends: Vec<Backend> = match args.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let mut run = Run::new(&args);
    let mut failures: Vec<String> = Vec::new();
    for backend in backends {
        let result = rt.block_on(targets::bench_backend(
            &args, &bin_dir, &work, backend, &mut run,
        ));
        if let Err(e) = result {
            eprintln!("{}: FAILED: {e:#}", backend.name());
            failures.push(format!("{}: {e:#}", backend.name()));
        }
    }
    if !args.no_access_log {
        match rt.block_on(targets::access_log(&args, &bin_dir, &work)) {
            Ok(rows) => run.extras.extend(rows),
            Err(e) => failures.push(format!("access log: {e:#}")),
        }
    }
    run.failures.extend(failures.iter().cloned());
    let text = run.render();
    println!("{text}");
    let path = run.write(&args.results, &text)?;
    println!("written to {}", path.display());
    if !args.keep {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        println!("work directory kept: {}", work.display());
    }
    if !failures.is_empty() {
        eprintln!("the run FAILED: {}", failures.join("; "));
        std::process::exit(1);
    }
    Ok(())
}
