//! `billhub import bills`: bills from a CSV file with a header or from JSON lines, whose columns
//! are the flags of `billhub bill create` ([`BillFields`]).
//!
//! Two passes over the file, keeping no row: the first checks every row (the same conversion as
//! `bill create`, plus the import's own requirements: an `invoice_number`, and no number that an
//! earlier import brought in with other content) and reports each bad row with its line; the
//! second inserts in batches, one transaction each, through the store's import, which skips what
//! an earlier run already brought in. So an interrupted import, run again, finishes the job.
//! Standard input (`-`) is first copied to a temporary file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use billhub_core::org::Organization;
use billhub_store::{AccountInput, ImportError, ImportRow, NewBill, Store};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::bill::{BillFields, Names, collection_id, new_bill};
use super::{organization, print};

/// Column names a file may have (the fields of [`BillFields`]).
const COLUMNS: &[&str] = &[
    "account",
    "account_name",
    "account_name_latin",
    "phone",
    "currency",
    "amount",
    "bill_date",
    "due_date",
    "valid_until",
    "rule",
    "min_amount",
    "invoice_number",
    "name",
    "va_number",
    "collection",
];

/// Columns every import file has.
const REQUIRED: &[&str] = &["account", "currency", "amount", "invoice_number"];

/// Invoice numbers looked up together in the first pass.
const LOOKUP: usize = 1000;

/// `billhub import ...`: bulk loads.
#[derive(clap::Subcommand)]
pub enum ImportCommand {
    /// Import bills from CSV or JSON lines (the flags of `bill create` as columns).
    Bills(Box<ImportBills>),
}

impl ImportCommand {
    pub fn run(self, store: &Store, now: OffsetDateTime) -> anyhow::Result<()> {
        match self {
            ImportCommand::Bills(a) => a.run(store, now),
        }
    }
}

#[derive(Args)]
pub struct ImportBills {
    #[arg(long)]
    org: String,
    /// CSV with a header, or JSON lines (one object a line); `-` reads standard input.
    file: String,
    /// `csv` or `jsonl` (default: from the extension, else `jsonl` when the first character is `{`).
    #[arg(long, value_parser = ["csv", "jsonl"])]
    format: Option<String>,
    /// Import the valid rows and report the others (default: import nothing when a row is bad).
    #[arg(long)]
    skip_invalid: bool,
    /// Rows per transaction.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch_size: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Jsonl,
}

/// Counts over the whole import.
#[derive(Debug, Default)]
struct Tally {
    rows: u64,
    invalid: u64,
    inserted: u64,
    skipped: u64,
}

impl ImportBills {
    pub fn run(&self, store: &Store, now: OffsetDateTime) -> anyhow::Result<()> {
        let org = organization(store, &self.org)?;
        let spool = match self.file.as_str() {
            "-" => Some(Spool::stdin()?),
            _ => None,
        };
        let path = spool
            .as_ref()
            .map_or_else(|| PathBuf::from(&self.file), |s| s.path.clone());
        let format = self.format(&path)?;
        let mut checker = Checker::new(store, org, now)?;
        let mut tally = Tally::default();
        let valid = first_pass(&mut checker, &path, format, &mut tally)?;
        if tally.invalid > 0 && !self.skip_invalid {
            bail!(
                "{} of {} rows are invalid (listed above); nothing imported (--skip-invalid imports the others)",
                tally.invalid,
                tally.rows
            );
        }
        self.second_pass(&mut checker, &path, format, valid, &mut tally)?;
        if tally.inserted > 0 {
            // Fresh statistics for the planner, so the next requests use the indexes.
            store.analyze_imported()?;
        }
        let value = json!({
            "rows": tally.rows,
            "inserted": tally.inserted,
            "skipped": tally.skipped,
            "invalid": tally.invalid,
        });
        print(value, self.json, || {
            format!(
                "imported {} bills from {} rows ({} already imported, {} invalid)",
                tally.inserted, tally.rows, tally.skipped, tally.invalid
            )
        });
        Ok(())
    }

    fn format(&self, path: &Path) -> anyhow::Result<Format> {
        match self.format.as_deref() {
            Some("csv") => return Ok(Format::Csv),
            Some(_) => return Ok(Format::Jsonl),
            None => {}
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => return Ok(Format::Csv),
            Some("jsonl" | "ndjson" | "json") => return Ok(Format::Jsonl),
            _ => {}
        }
        let mut head = [0u8; 512];
        let n = File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .with_context(|| format!("{}", path.display()))?;
        let first = head
            .get(..n)
            .unwrap_or_default()
            .iter()
            .find(|b| !b.is_ascii_whitespace());
        Ok(if first == Some(&b'{') {
            Format::Jsonl
        } else {
            Format::Csv
        })
    }

    /// Inserts the valid rows in batches.
    fn second_pass(
        &self,
        checker: &mut Checker<'_>,
        path: &Path,
        format: Format,
        total: u64,
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
        let batch_size = usize::try_from(self.batch_size).unwrap_or(5000);
        let mut progress = Progress::new(total);
        let mut rows = Rows::open(path, format)?;
        let mut batch = Vec::with_capacity(batch_size);
        while let Some((line, fields)) = rows.next_row() {
            let Ok(fields) = fields else { continue };
            let Ok((account, bill)) = checker.check(&fields) else {
                continue;
            };
            batch.push(ImportRow {
                line,
                hash: content_hash(&fields),
                account,
                bill,
            });
            if batch.len() >= batch_size {
                self.flush(checker, &mut batch, tally)?;
                progress.set(tally.inserted + tally.skipped);
            }
        }
        self.flush(checker, &mut batch, tally)?;
        progress.finish(tally.inserted + tally.skipped);
        Ok(())
    }

    /// Imports one batch; with `--skip-invalid`, a row the store refuses (or whose number an
    /// earlier row took with other content) is reported and the batch runs again without it.
    fn flush(
        &self,
        checker: &Checker<'_>,
        batch: &mut Vec<ImportRow>,
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
        while !batch.is_empty() {
            // Conflicts with an earlier import were counted in the first pass; a row the store
            // refuses (a VA number another payable bill holds) is found only here.
            let (refused, counted) = match checker.store.import_bills(
                checker.org.id,
                batch,
                checker.now,
            ) {
                Ok(out) if out.conflicts.is_empty() => {
                    tally.inserted += to_u64(out.inserted);
                    tally.skipped += to_u64(out.skipped);
                    break;
                }
                Ok(out) => {
                    for line in &out.conflicts {
                        eprintln!(
                            "line {line}: invoice_number already imported with other content; row skipped"
                        );
                    }
                    (out.conflicts, 0)
                }
                Err(ImportError::Row { line, source }) => {
                    eprintln!("line {line}: {:#}", super::refused(source));
                    (vec![line], 1)
                }
                Err(ImportError::Store(e)) => return Err(e.into()),
            };
            if !self.skip_invalid {
                bail!(
                    "line {}: refused; the batches before its batch were imported, the rest not (fix the row and run the import again)",
                    refused.first().copied().unwrap_or_default()
                );
            }
            tally.invalid += counted;
            batch.retain(|r| !refused.contains(&r.line));
        }
        batch.clear();
        Ok(())
    }
}

/// Checks every row, reporting each bad one on stderr with its line; returns how many rows are
/// valid.
fn first_pass(
    checker: &mut Checker<'_>,
    path: &Path,
    format: Format,
    tally: &mut Tally,
) -> anyhow::Result<u64> {
    let mut rows = Rows::open(path, format)?;
    let mut pending: Vec<(u64, String, String)> = Vec::with_capacity(LOOKUP);
    let mut valid = 0;
    while let Some((line, fields)) = rows.next_row() {
        tally.rows += 1;
        let checked = fields.and_then(|f| {
            checker
                .check(&f)
                .map(|(_, bill)| (bill, content_hash(&f)))
                .map_err(|e| format!("{e:#}"))
        });
        match checked {
            Ok((bill, hash)) => {
                valid += 1;
                pending.push((line, bill.invoice_number.unwrap_or_default(), hash));
                if pending.len() >= LOOKUP {
                    valid -= checker.earlier_imports(&mut pending, tally)?;
                }
            }
            Err(reason) => {
                tally.invalid += 1;
                eprintln!("line {line}: {reason}");
            }
        }
    }
    valid -= checker.earlier_imports(&mut pending, tally)?;
    Ok(valid)
}

/// The hash of a row's content, as the store keeps it beside the invoice number: the same
/// fields give the same hash whether they came from CSV or JSON lines.
fn content_hash(fields: &BillFields) -> String {
    let text = serde_json::to_vec(fields).unwrap_or_default();
    hex::encode(Sha256::digest(&text))
}

/// The organization, what a row is checked against, and the import's time.
struct Checker<'s> {
    store: &'s Store,
    org: Organization,
    prefixes: Vec<String>,
    collections: HashMap<String, Option<i64>>,
    now: OffsetDateTime,
}

impl<'s> Checker<'s> {
    fn new(store: &'s Store, org: Organization, now: OffsetDateTime) -> anyhow::Result<Self> {
        let prefixes = store.va_prefixes_of(org.id)?;
        Ok(Checker {
            store,
            org,
            prefixes,
            collections: HashMap::new(),
            now,
        })
    }

    /// The account and bill of a row, as `bill create` would make them, or why not.
    fn check(&mut self, f: &BillFields) -> anyhow::Result<(AccountInput, NewBill)> {
        if f.account.trim().is_empty() {
            bail!("account: required");
        }
        if f.invoice_number
            .as_deref()
            .is_none_or(|n| n.trim().is_empty())
        {
            bail!("invoice_number: required in an import");
        }
        let collection = match f.collection.as_deref() {
            None => None,
            Some(code) => self.collection(code)?,
        };
        let (account, mut bill) = new_bill(f, &self.org, collection, self.now, Names::Columns)?;
        for (prefix, _) in &bill.va_numbers {
            if !self.prefixes.contains(prefix) {
                bail!("va_number: prefix {prefix} is not this organization's");
            }
        }
        bill.source = "import".into();
        Ok((account, bill))
    }

    fn collection(&mut self, code: &str) -> anyhow::Result<Option<i64>> {
        if let Some(known) = self.collections.get(code) {
            return known
                .map(Some)
                .ok_or_else(|| anyhow!("collection: no collection `{code}` in this organization"));
        }
        let found = collection_id(self.store, self.org.id, code, Names::Columns);
        self.collections
            .insert(code.to_string(), found.as_ref().ok().copied());
        found.map(Some)
    }

    /// Of the (line, invoice number, hash) rows, those an earlier import brought in: with the
    /// same content they are counted as skipped, with other content reported as invalid.
    /// Returns how many of them are no longer to import; empties `pending`.
    fn earlier_imports(
        &self,
        pending: &mut Vec<(u64, String, String)>,
        tally: &mut Tally,
    ) -> anyhow::Result<u64> {
        let numbers: Vec<String> = pending.iter().map(|(_, n, _)| n.clone()).collect();
        let known = self.store.imported_hashes(self.org.id, &numbers)?;
        let mut gone = 0;
        for (line, number, hash) in pending.drain(..) {
            match known.get(&number) {
                Some(h) if *h == hash => {}
                Some(_) => {
                    gone += 1;
                    tally.invalid += 1;
                    eprintln!(
                        "line {line}: invoice_number `{number}` was imported before with other content"
                    );
                }
                None => {}
            }
        }
        Ok(gone)
    }
}

/// The rows of a file, one at a time, each with its line number.
enum Rows {
    Csv {
        reader: csv::Reader<BufReader<File>>,
        headers: csv::StringRecord,
        record: csv::StringRecord,
        done: bool,
    },
    Jsonl {
        lines: io::Lines<BufReader<File>>,
        line: u64,
    },
}

impl Rows {
    fn open(path: &Path, format: Format) -> anyhow::Result<Rows> {
        let file = File::open(path).with_context(|| format!("{}", path.display()))?;
        let buffered = BufReader::with_capacity(1 << 16, file);
        match format {
            Format::Jsonl => Ok(Rows::Jsonl {
                lines: buffered.lines(),
                line: 0,
            }),
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(false)
                    .from_reader(buffered);
                let headers = reader
                    .headers()
                    .with_context(|| format!("{}: the header line", path.display()))?
                    .clone();
                check_headers(&headers)?;
                Ok(Rows::Csv {
                    reader,
                    headers,
                    record: csv::StringRecord::new(),
                    done: false,
                })
            }
        }
    }

    /// The next row: its line number and its fields, or why they cannot be read.
    fn next_row(&mut self) -> Option<(u64, Result<BillFields, String>)> {
        match self {
            Rows::Csv {
                reader,
                headers,
                record,
                done,
            } => {
                if *done {
                    return None;
                }
                match reader.read_record(record) {
                    Ok(false) => None,
                    Ok(true) => {
                        let line = record.position().map_or(0, csv::Position::line);
                        let fields = record
                            .deserialize::<BillFields>(Some(headers))
                            .map_err(|e| csv_reason(&e));
                        Some((line, fields))
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, csv::Position::line);
                        *done = !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. });
                        Some((line, Err(csv_reason(&e))))
                    }
                }
            }
            Rows::Jsonl { lines, line } => loop {
                *line += 1;
                match lines.next()? {
                    Err(e) => return Some((*line, Err(format!("cannot be read: {e}")))),
                    Ok(text) if text.trim().is_empty() => {}
                    Ok(text) => return Some((*line, json_fields(&text))),
                }
            },
        }
    }
}

/// A CSV error without the position (the line is reported beside it).
fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => err.kind().to_string(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => e.to_string(),
    }
}

/// Refuses a header with an unknown column or without a required one.
fn check_headers(headers: &csv::StringRecord) -> anyhow::Result<()> {
    if let Some(unknown) = headers.iter().find(|h| !COLUMNS.contains(h)) {
        bail!(
            "header: unknown column `{unknown}` (columns: {})",
            COLUMNS.join(", ")
        );
    }
    for required in REQUIRED {
        if !headers.iter().any(|h| h == *required) {
            bail!("header: the column `{required}` is required");
        }
    }
    Ok(())
}

/// One JSON line as fields: an object of strings (whole numbers may be numbers; `va_number` may
/// be an array; `null` is absent).
fn json_fields(text: &str) -> Result<BillFields, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    let mut clean = serde_json::Map::new();
    for (key, value) in map {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            Value::Number(n) => {
                return Err(format!(
                    "{key}: write `{n}` as a string (\"{n}\"), so that it is read exactly"
                ));
            }
            Value::Array(items) if key == "va_number" => items
                .iter()
                .map(|v| v.as_str().map(String::from).ok_or(()))
                .collect::<Result<Vec<_>, ()>>()
                .map_err(|()| "va_number: an array of strings".to_string())?
                .join(" "),
            _ => return Err(format!("{key}: must be a string")),
        };
        clean.insert(key, Value::String(text));
    }
    serde_json::from_value(Value::Object(clean)).map_err(|e| e.to_string())
}

/// Progress of the second pass: a bar with rate and ETA on a terminal, else a plain line to
/// stderr at most every few seconds.
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} bills, {per_sec}, ETA {eta}")
            {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            total,
            started: Instant::now(),
            last: Instant::now(),
        }
    }

    fn set(&mut self, done: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None if self.last.elapsed() >= Duration::from_secs(5) => {
                self.last = Instant::now();
                self.line(done);
            }
            None => {}
        }
    }

    fn finish(&mut self, done: u64) {
        match &self.bar {
            Some(bar) => bar.finish(),
            None => self.line(done),
        }
    }

    fn line(&self, done: u64) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        #[allow(clippy::cast_precision_loss)] // a rate for people to read
        let rate = done as f64 / secs;
        eprintln!(
            "imported {done}/{} rows in {secs:.1} s ({rate:.0} rows/s)",
            self.total
        );
    }
}

/// Standard input copied to a temporary file (removed when dropped), for two passes.
struct Spool {
    path: PathBuf,
}

impl Spool {
    fn stdin() -> anyhow::Result<Spool> {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        let path =
            std::env::temp_dir().join(format!("billhub-import-{}-{nanos}", std::process::id()));
        let spool = Spool { path };
        let mut file = File::create(&spool.path)
            .with_context(|| format!("{}: temporary copy of stdin", spool.path.display()))?;
        io::copy(&mut io::stdin().lock(), &mut file).context("copying stdin")?;
        file.sync_all().context("copying stdin")?;
        Ok(spool)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
