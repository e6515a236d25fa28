//! Baselines and the after-run check.
//!
//! - PostgreSQL, inquiries: each inquiry's own SQL, captured from the server's log
//!   (`log_statement = all` set on the bench database for one warm request of that path, sent by
//!   a gateway started for the capture), replayed by `pgbench -M prepared -f` at the same
//!   concurrency: the database's ceiling for that work.
//! - PostgreSQL, payments: `pgbench -N` at the payment concurrency on a pgbench database.
//! - SQLite, payments: the fsync ceiling: the store's posting code, one payment per transaction on
//!   one thread at `synchronous=FULL` (or `group_commit` when that bench exists and says so).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::Args;
use crate::report::Run;
use crate::setup::{self, Cli, Seeded};
use crate::targets::{GATEWAYS, Kind, PathWork, Proc};

/// After the run: the store holds exactly `acks` payments, each paying one bill in full, none
/// unapplied, and `billhub check` is clean.
pub fn verify(cli: &Cli, url: &str, acks: u64) -> anyhow::Result<()> {
    let count = |sql: &str| -> anyhow::Result<u64> {
        setup::query(url, sql)?
            .trim()
            .parse::<u64>()
            .with_context(|| format!("count of {sql}"))
    };
    let payments = count("SELECT count(*) FROM payments")?;
    let unapplied = count("SELECT count(*) FROM unapplied_payments")?;
    let paid = count("SELECT count(*) FROM bills WHERE paid > 0 AND paid = billed")?;
    if payments != acks || paid != acks || unapplied != 0 {
        bail!(
            "{acks} payments acknowledged, but the store holds {payments} payments, {paid} bills paid in full, {unapplied} unapplied"
        );
    }
    cli.run(&["check", "--json"]).context("billhub check")?;
    Ok(())
}

/// The server's log file: `BILLHUB_BENCH_PG_LOG`, else the newest file of /var/log/postgresql.
fn pg_log() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("BILLHUB_BENCH_PG_LOG") {
        return Ok(PathBuf::from(p));
    }
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for e in std::fs::read_dir("/var/log/postgresql").context("/var/log/postgresql")? {
        let e = e?;
        let t = e.metadata()?.modified()?;
        if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
            best = Some((t, e.path()));
        }
    }
    best.map(|(_, p)| p)
        .context("no PostgreSQL log (set BILLHUB_BENCH_PG_LOG)")
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

fn read_from(p: &Path, offset: u64) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(p)
        && f.seek(SeekFrom::Start(offset)).is_ok()
    {
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// Parses `$1 = 'a', $2 = NULL` into the values as SQL literals.
fn parse_params(detail: &str) -> HashMap<usize, String> {
    let mut out = HashMap::new();
    let mut rest = detail.trim().to_string();
    while let Some(r) = rest.clone().strip_prefix('$') {
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        let Ok(n) = digits.parse::<usize>() else {
            break;
        };
        let r = r.get(digits.len()..).unwrap_or("").trim_start();
        let r = r.strip_prefix('=').unwrap_or(r).trim_start();
        let (value, after) = if let Some(q) = r.strip_prefix('\'') {
            // A quoted literal; '' is a quote inside.
            let mut end = None;
            let bytes: Vec<char> = q.chars().collect();
            let mut i = 0;
            while i < bytes.len() {
                if bytes.get(i) == Some(&'\'') {
                    if bytes.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    end = Some(i);
                    break;
                }
                i += 1;
            }
            let end = end.unwrap_or(bytes.len());
            let lit: String = bytes.iter().take(end).collect();
            let after: String = bytes.iter().skip(end + 1).collect();
            (format!("'{lit}'"), after)
        } else {
            let end = r.find(',').unwrap_or(r.len());
            (
                r.get(..end).unwrap_or("").trim().to_string(),
                r.get(end..).unwrap_or("").to_string(),
            )
        };
        out.insert(n, value);
        rest = after
            .trim_start()
            .trim_start_matches(',')
            .trim_start()
            .to_string();
    }
    out
}

/// The process id in an entry's prefix (`%m [%p] ...`).
fn pid_of(entry: &str) -> String {
    entry
        .split_once(" [")
        .and_then(|(_, r)| r.split_once(']'))
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

/// Writes the parameters of `detail` into `sql` (`$10` before `$1`).
fn with_params(sql: String, detail: &str) -> String {
    let params = parse_params(detail);
    let mut keys: Vec<&usize> = params.keys().collect();
    keys.sort_unstable_by(|a, b| b.cmp(a));
    let mut sql = sql;
    for k in keys {
        if let Some(v) = params.get(k) {
            sql = sql.replace(&format!("${k}"), v);
        }
    }
    sql
}

/// A transaction of the gateway's background tasks (purges of expired rows: only `DELETE`s;
/// the notification outbox), not of the request; or no work at all: the lone `COMMIT` of a
/// transaction that began before the capture (it made the scripts end in `COMMIT; COMMIT;`).
fn is_background(tx: &[String]) -> bool {
    let work: Vec<&String> = tx
        .iter()
        .filter(|s| !(s.starts_with("BEGIN") || *s == "COMMIT" || *s == "ROLLBACK"))
        .collect();
    if work.is_empty() {
        return true;
    }
    let purge_only = !work.is_empty() && work.iter().all(|s| s.starts_with("DELETE FROM"));
    purge_only || work.iter().any(|s| s.contains("notification_"))
}

/// The statements `db` ran in `log` text, parameters written in, by transaction in the order
/// they began, without the background tasks' transactions.
fn statements_of(log: &str, db: &str) -> Vec<String> {
    // Entries start with the timestamp of `log_line_prefix` (`%m`); other lines continue one.
    let mut entries: Vec<String> = Vec::new();
    for line in log.lines() {
        let starts = line.len() > 4 && line.starts_with("20") && line.get(4..5) == Some("-");
        if starts {
            entries.push(line.to_string());
        } else if let Some(last) = entries.last_mut() {
            last.push('\n');
            last.push_str(line);
        }
    }
    let marker = format!("@{db} ");
    // Per backend process: its statement waiting for its parameters, its open transaction.
    let mut pending: HashMap<String, String> = HashMap::new();
    let mut open: HashMap<String, usize> = HashMap::new();
    let mut txs: Vec<Vec<String>> = Vec::new();
    let mut push = |pid: &str, sql: String, txs: &mut Vec<Vec<String>>| {
        let idx = match open.get(pid) {
            Some(i) => *i,
            None => {
                txs.push(Vec::new());
                let i = txs.len() - 1;
                open.insert(pid.to_string(), i);
                i
            }
        };
        let ends = sql == "COMMIT" || sql == "ROLLBACK";
        if let Some(tx) = txs.get_mut(idx) {
            tx.push(sql);
        }
        if ends {
            open.remove(pid);
        }
    };
    for e in entries.iter().filter(|e| e.contains(&marker)) {
        let pid = pid_of(e);
        if let Some((_, detail)) = e.split_once("DETAIL:  parameters: ") {
            if let Some(sql) = pending.remove(&pid) {
                push(&pid, with_params(sql, detail), &mut txs);
            }
            continue;
        }
        if let Some(p) = pending.remove(&pid) {
            push(&pid, p, &mut txs);
        }
        if let Some((_, sql)) = e.split_once("LOG:  statement: ") {
            push(&pid, sql.trim().to_string(), &mut txs);
        } else if let Some((_, rest)) = e.split_once("LOG:  execute ")
            && let Some((_, sql)) = rest.split_once(": ")
        {
            pending.insert(pid, sql.trim().to_string());
        }
    }
    for (pid, p) in pending {
        push(&pid, p, &mut txs);
    }
    txs.into_iter()
        .filter(|tx| !is_background(tx))
        .flatten()
        .collect()
}

/// Captures each inquiry's SQL (one warm request after one cold one) on the bench database.
async fn capture(
    bin_dir: &Path,
    work: &Path,
    seed: &Arc<Seeded>,
    token: &str,
    kinds: &[Kind],
) -> anyhow::Result<HashMap<String, Vec<String>>> {
    let db = seed.pg_db.clone().context("no database name")?;
    let log = pg_log()?;
    let admin = setup::admin_url();
    setup::psql(
        &admin,
        &format!("ALTER DATABASE {db} SET log_statement = 'all'"),
    )?;
    let result = async {
        let mut out = HashMap::new();
        for g in GATEWAYS {
            let paths: Vec<_> = g.paths.iter().filter(|p| kinds.contains(&p.kind)).collect();
            if paths.is_empty() {
                continue;
            }
            let p =
                Proc::start(bin_dir, g.binary, &seed.url, &seed.master_key, "warn", work).await?;
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()?;
            for path in paths {
                let w = PathWork::new(path.kind, Arc::clone(seed), token.to_string(), 900_000_000);
                let _ = crate::load::Work::call(&w, &client, &p.base).await;
                let from = file_len(&log);
                let _ = crate::load::Work::call(&w, &client, &p.base).await;
                // Wait until the server has written the request's statements.
                let deadline = Instant::now() + Duration::from_secs(3);
                let mut last = file_len(&log);
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let now = file_len(&log);
                    if (now == last && now > from) || Instant::now() > deadline {
                        break;
                    }
                    last = now;
                }
                let stmts = statements_of(&read_from(&log, from), &db);
                out.insert(path.name.to_string(), stmts);
            }
        }
        anyhow::Ok(out)
    }
    .await;
    let _ = setup::psql(&admin, &format!("ALTER DATABASE {db} RESET log_statement"));
    result
}

/// What one pgbench run measured: its tps (without initial connection time) and, from its
/// per-transaction log, its latency percentiles in milliseconds (the same measure as the
/// gateways' rows: the ceiling's own p50 and p99 at the same concurrency).
struct Pgbench {
    tps: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

impl Pgbench {
    /// ", p50 X ms, p99 Y ms" when the log was read.
    fn latency(&self) -> String {
        match (self.p50_ms, self.p99_ms) {
            (Some(p50), Some(p99)) => format!("; its own p50 {p50:.2} ms, p99 {p99:.2} ms"),
            _ => String::new(),
        }
    }
}

/// `pgbench` with `args`, logging every transaction into a fresh directory under `work`.
fn pgbench_logged(work: &Path, tag: &str, args: &[&str]) -> anyhow::Result<Pgbench> {
    let dir = work.join(format!("pgbench-log-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let prefix = format!("--log-prefix={}", dir.join("tx").display());
    let mut all: Vec<&str> = vec!["-l", &prefix];
    all.extend_from_slice(args);
    let tps = pgbench(&all)?;
    // Each line: client, transaction, latency in microseconds, script, epoch, microseconds.
    let mut micros: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        micros.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2))
                .filter_map(|v| v.parse::<u64>().ok()),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    micros.sort_unstable();
    let pct = |q: f64| -> Option<f64> {
        if micros.is_empty() {
            return None;
        }
        let i = ((micros.len() as f64 * q).ceil() as usize).clamp(1, micros.len()) - 1;
        micros.get(i).map(|&us| us as f64 / 1000.0)
    };
    Ok(Pgbench {
        tps,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

/// `pgbench` with `args`; its tps (without initial connection time).
fn pgbench(args: &[&str]) -> anyhow::Result<f64> {
    let out = std::process::Command::new("pgbench")
        .args(args)
        .output()
        .context("cannot run pgbench")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench {args:?}: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let failed = text
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if failed > 0 {
        bail!("pgbench {args:?}: {failed} failed transactions");
    }
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no tps in pgbench output: {text}"))
}

/// The PostgreSQL baselines of the rows in `run` (`captured`: row index and path name of each
/// inquiry row).
pub async fn postgres_baselines(
    args: &Args,
    bin_dir: &Path,
    work: &Path,
    seed: &Arc<Seeded>,
    token: &str,
    run: &mut Run,
    captured: &[(usize, String)],
) {
    let secs = args.duration.as_secs().max(1).to_string();
    let clients_r = args.read_connections.to_string();
    let kinds: Vec<Kind> = GATEWAYS
        .iter()
        .flat_map(|g| g.paths.iter())
        .filter(|p| captured.iter().any(|(_, n)| n == p.name))
        .map(|p| p.kind)
        .collect();
    match capture(bin_dir, work, seed, token, &kinds).await {
        Ok(sql) => {
            for (i, name) in captured {
                let Some(stmts) = sql.get(name).filter(|s| !s.is_empty()) else {
                    run.notes
                        .push(format!("{name}: no SQL captured for pgbench -f"));
                    continue;
                };
                let file = work.join(format!("inquiry-{i}.sql"));
                let mut script = String::new();
                for s in stmts {
                    let _ = writeln!(
                        script,
                        "{};",
                        fresh_nonce(&fresh_codes(s.trim_end_matches(';')))
                    );
                }
                if std::fs::write(&file, &script).is_err() {
                    continue;
                }
                let f = file.display().to_string();
                eprintln!(
                    "postgres: pgbench -f for {name} ({} statements)",
                    stmts.len()
                );
                let r = pgbench_logged(
                    work,
                    &slug(name),
                    &[
                        "-n", "-M", "prepared", "-f", &f, "-c", &clients_r, "-j", "2", "-T", &secs,
                        &seed.url,
                    ],
                );
                let kept = work.join(format!("pgbench-{}.sql", slug(name)));
                let _ = std::fs::copy(&file, &kept);
                match r {
                    Ok(measured) => {
                        let tps = measured.tps;
                        if let Some(row) = run.rows.get_mut(*i) {
                            row.healthz_rate = row.baseline_rate;
                            // A script that writes replays one request's rows from every
                            // client at once: they queue on the same rows (no ceiling).
                            let writes = stmts.iter().any(|s| s.starts_with("INSERT"));
                            row.baseline = format!(
                                "pgbench -M prepared -f (its {} statements{}{})",
                                stmts.len(),
                                measured.latency(),
                                if writes {
                                    "; writes, every client on one account: not a ceiling"
                                } else {
                                    ""
                                }
                            );
                            row.baseline_rate = Some(tps);
                        }
                        run.notes.push(format!(
                            "{name}: pgbench script (captured from log_statement, parameters of one warm request):\n\n```sql\n{}```",
                            script
                        ));
                    }
                    Err(e) => run.notes.push(format!(
                        "{name}: pgbench -f failed: {}",
                        format!("{e:#}").chars().take(800).collect::<String>()
                    )),
                }
            }
        }
        Err(e) => run
            .notes
            .push(format!("capture of the inquiries' SQL failed: {e:#}")),
    }
    pg_write_baseline(args, work, run);
}

/// `pgbench -N` at the payment concurrency on its own database: the payment rows' baseline.
fn pg_write_baseline(args: &Args, work: &Path, run: &mut Run) {
    let secs = args.duration.as_secs().max(1).to_string();
    let clients_w = args.pay_connections.to_string();
    let name = format!("billhub_bench_pgb_{}", std::process::id());
    let admin = setup::admin_url();
    let url = setup::with_db(&admin, &name);
    let res = (|| -> anyhow::Result<Pgbench> {
        setup::psql(&admin, &format!("DROP DATABASE IF EXISTS {name}"))?;
        setup::psql(&admin, &format!("CREATE DATABASE {name}"))?;
        let out = std::process::Command::new("pgbench")
            .args(["-i", "-q", "-s", "10", &url])
            .output()?;
        if !out.status.success() {
            bail!("pgbench -i: {}", String::from_utf8_lossy(&out.stderr));
        }
        eprintln!("postgres: pgbench -N -c {clients_w}");
        pgbench_logged(
            work,
            "write",
            &["-n", "-N", "-c", &clients_w, "-j", "2", "-T", &secs, &url],
        )
    })();
    setup::drop_database(&name);
    match res {
        Ok(measured) => run.set_payment_baseline(
            "postgres",
            &format!("pgbench -N -c {clients_w} (scale 10{})", measured.latency()),
            measured.tps,
        ),
        Err(e) => run.notes.push(format!("pgbench -N failed: {e:#}")),
    }
}

/// A postpaid transaction code (`'TXN-<date>-<10 characters>'`) is a fresh unique key each time
/// the gateway issues one: the replay issues a fresh one too (`md5(random())`), not the captured
/// literal again.
fn fresh_codes(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(i) = rest.find("'TXN-") {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 1..).unwrap_or("");
        match after.find('\'') {
            Some(end) => {
                out.push_str("('TXN-' || md5(random()::text))");
                rest = after.get(end + 1..).unwrap_or("");
            }
            None => {
                out.push_str(rest.get(i..).unwrap_or(""));
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A one-time authenticator's insert (SNAP's `X-EXTERNAL-ID`) with a fresh nonce per
/// transaction: the captured value would be a duplicate key from the second replay on.
fn fresh_nonce(sql: &str) -> String {
    if !(sql.starts_with("INSERT") && sql.contains("auth_nonces")) {
        return sql.to_string();
    }
    let Some(values) = sql.find("VALUES") else {
        return sql.to_string();
    };
    let (head, tail) = sql.split_at(values);
    // The second quoted literal after VALUES is the nonce: (scope, nonce, expires_at).
    let mut quotes = tail.match_indices('\'').map(|(i, _)| i);
    let (Some(_), Some(_), Some(start), Some(end)) =
        (quotes.next(), quotes.next(), quotes.next(), quotes.next())
    else {
        return sql.to_string();
    };
    format!(
        "{head}{}md5(random()::text){}",
        tail.get(..start).unwrap_or(""),
        tail.get(end + 1..).unwrap_or("")
    )
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The SQLite write ceiling: `group_commit` when it is built (its output is recorded as a
/// note), and always the in-process measure: the store's posting code, one payment per
/// transaction on one thread, `synchronous=FULL`.
pub fn sqlite_fsync_ceiling(args: &Args, bin_dir: &Path, run: &mut Run) {
    let gc = bin_dir.join("group_commit");
    if gc.exists() {
        eprintln!("sqlite: fsync ceiling and group commit (group_commit)");
        match std::process::Command::new(&gc).output() {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout).into_owned();
                run.notes.push(format!(
                    "`group_commit` (bench/src/group_commit.rs), run by the harness:\n\n```\n{text}```"
                ));
                let rate = text
                    .lines()
                    .find(|l| l.starts_with("baseline"))
                    .and_then(|l| l.split("payments/s").next())
                    .and_then(|l| l.split_whitespace().last())
                    .and_then(|v| v.parse::<f64>().ok());
                if let Some(rate) = rate {
                    run.set_payment_baseline(
                        "sqlite",
                        "fsync ceiling (group_commit's baseline: 1 thread, 1 payment per transaction, synchronous=FULL)",
                        rate,
                    );
                    return;
                }
            }
            Ok(o) => run.notes.push(format!(
                "group_commit failed: {}",
                String::from_utf8_lossy(&o.stderr)
            )),
            Err(e) => run.notes.push(format!("group_commit failed to run: {e}")),
        }
    }
    eprintln!("sqlite: fsync ceiling (one payment per transaction, one thread, synchronous=FULL)");
    match crate::fsync::ceiling(2000.min(args.bills.max(200))) {
        Ok(rate) => run.set_payment_baseline(
            "sqlite",
            "fsync ceiling: store posting, 1 thread, synchronous=FULL",
            rate,
        ),
        Err(e) => run.notes.push(format!("fsync ceiling failed: {e:#}")),
    }
}

/// The pragmas the store's pool sets, read from its source at this commit.
pub fn sqlite_settings() -> String {
    let src = std::fs::read_to_string("crates/store/src/pool.rs").unwrap_or_default();
    let pragmas: Vec<&str> = src
        .split(';')
        .filter_map(|s| s.split("PRAGMA ").nth(1))
        .map(str::trim)
        .filter(|s| s.starts_with("synchronous") || s.starts_with("journal_mode"))
        .collect();
    format!(
        "SQLite gateways: pool pragmas {} (crates/store/src/pool.rs)",
        if pragmas.is_empty() {
            "unknown".to_string()
        } else {
            pragmas.join(", ")
        }
    )
}
