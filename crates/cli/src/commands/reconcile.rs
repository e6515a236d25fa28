//! `billhub reconcile`: one channel's day, in the organization's UTC offset: billhub's totals
//! and counts, and with the channel's settlement statement (CSV: reference, amount, currency,
//! time, optional fee) the payments missing on either side and the differences. Exit status 0
//! when they agree, 1 when they differ, 2 when it could not reconcile (bad input, with every bad
//! statement line's number and reason; or the store failed). `--record-unmatched` records the
//! statement's unknown lines as unapplied money, once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use billhub_core::org::Organization;
use billhub_core::{Currency, Money};
use billhub_store::export::{PaymentLine, local_days, time_text};
use billhub_store::reconcile::{
    Comparison, MismatchKind, StatementLine, compare, recorded_totals, statement_totals,
};
use billhub_store::{PostResult, Store};
use clap::Args;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::export::{channel_text, parse_day};
use super::{money_text, organization};

/// At most this many bad statement lines are listed.
const MAX_BAD_LINES: usize = 20;

#[derive(Args)]
pub struct ReconcileArgs {
    /// The organization's code.
    #[arg(long)]
    org: String,
    /// The channel: `bill24`, `sandbox`, `credit`, a channel's id or name as `billhub channel
    /// list` shows it, or its stored form (`va:3`).
    #[arg(long)]
    channel: String,
    /// The day (YYYY-MM-DD) in the organization's UTC offset.
    #[arg(long)]
    date: String,
    /// The channel's settlement statement (CSV with the header reference,amount,currency,time
    /// and optionally fee).
    #[arg(long)]
    statement: Option<PathBuf>,
    #[arg(long)]
    json: bool,
    /// Record the statement's lines billhub does not know as unapplied money (once: a re-run
    /// finds them).
    #[arg(long, requires = "statement")]
    record_unmatched: bool,
}

/// How `billhub reconcile` ends: `main` exits with `code`, after printing `message` if any.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: Option<String>,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            self.message
                .as_deref()
                .unwrap_or("the statement and billhub differ"),
        )
    }
}

impl std::error::Error for Exit {}

impl ReconcileArgs {
    /// Exit 0 when they agree; otherwise an [`Exit`] of 1 (they differ) or 2 (bad input).
    pub fn run(self, store: anyhow::Result<Store>) -> anyhow::Result<()> {
        let outcome = store.and_then(|s| self.reconcile(&s));
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => Err(Exit {
                code: 1,
                message: None,
            }
            .into()),
            Err(e) => Err(Exit {
                code: 2,
                message: Some(format!("{e:#}")),
            }
            .into()),
        }
    }

    /// Prints the report; true when both sides agree.
    fn reconcile(&self, store: &Store) -> anyhow::Result<bool> {
        let org = organization(store, &self.org)?;
        let channel = channel_text(store, &self.channel)?;
        let date = parse_day("--date", &self.date)?;
        let (from, to) = local_days(date, date, org.utc_offset)
            .ok_or_else(|| anyhow!("--date: out of range"))?;
        let lines = self.statement.as_deref().map(read_statement).transpose()?;
        let day = store.snapshot(|r| r.recorded_between(org.id, &channel, from, to))?;
        let Some(lines) = lines else {
            let report = Report {
                org: &org,
                channel: &channel,
                date,
                from,
                to,
                day: &day,
                lines: None,
                comparison: None,
                recorded: Vec::new(),
            };
            report.print(self.json);
            return Ok(true);
        };
        let in_day: HashSet<&str> = day.iter().map(|p| p.payment.as_str()).collect();
        let known: HashSet<&str> = day.iter().map(|p| p.channel_ref.as_str()).collect();
        let others: Vec<String> = lines
            .iter()
            .filter(|l| !known.contains(l.reference.as_str()))
            .map(|l| l.reference.clone())
            .collect();
        let elsewhere: Vec<PaymentLine> = store
            .snapshot(|r| r.recorded_by_references(org.id, &channel, &others))?
            .into_iter()
            .filter(|p| !in_day.contains(p.payment.as_str()))
            .collect();
        let comparison = compare(&day, &elsewhere, &lines);
        let mut recorded = Vec::new();
        if self.record_unmatched && !comparison.missing_from_billhub.is_empty() {
            let outcomes = store
                .transaction(|w| {
                    w.record_statement_lines(org.id, &channel, &comparison.missing_from_billhub)
                })
                .map_err(|e| anyhow!("--record-unmatched: {}", super::refused(e)))?;
            for (line, outcome) in outcomes {
                if let PostResult::Unapplied(u) = outcome.result {
                    recorded.push((line, u.id, outcome.replayed));
                }
            }
        }
        let agrees = comparison.agrees();
        let report = Report {
            org: &org,
            channel: &channel,
            date,
            from,
            to,
            day: &day,
            lines: Some(&lines),
            comparison: Some(&comparison),
            recorded,
        };
        report.print(self.json);
        Ok(agrees)
    }
}

/// Reads and validates a statement: every bad line is reported (up to [`MAX_BAD_LINES`]) with
/// its number and reason, and then nothing is compared.
pub fn read_statement(path: &Path) -> anyhow::Result<Vec<StatementLine>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| anyhow!("--statement {}: {e}", path.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| anyhow!("--statement {}: {e}", path.display()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    for h in &headers {
        if !["reference", "amount", "currency", "time", "fee"]
            .iter()
            .any(|k| h.eq_ignore_ascii_case(k))
        {
            bail!(
                "--statement {}: line 1: unknown column `{h}` (expected reference, amount, currency, time and optionally fee)",
                path.display()
            );
        }
    }
    let need = |name: &str| {
        column(name).ok_or_else(|| {
            anyhow!(
                "--statement {}: line 1: the header has no `{name}` column (expected reference, amount, currency, time and optionally fee)",
                path.display()
            )
        })
    };
    let cols = Columns {
        reference: need("reference")?,
        amount: need("amount")?,
        currency: need("currency")?,
        time: need("time")?,
        fee: column("fee"),
    };
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                bad.push(format!("line {line}: {}", csv_reason(&e)));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        match parse_line(&cols, &record, line) {
            Ok(l) => {
                if let Some(first) = seen.get(&l.reference) {
                    bad.push(format!(
                        "line {line}: reference `{}` is already on line {first}",
                        l.reference
                    ));
                } else {
                    seen.insert(l.reference.clone(), line);
                    lines.push(l);
                }
            }
            Err(reason) => bad.push(format!("line {line}: {reason}")),
        }
    }
    if !bad.is_empty() {
        let more = bad.len().saturating_sub(MAX_BAD_LINES);
        let mut text: Vec<String> = bad.into_iter().take(MAX_BAD_LINES).collect();
        if more > 0 {
            text.push(format!("... and {more} more bad lines"));
        }
        bail!("--statement {}: {}", path.display(), text.join("\n"));
    }
    Ok(lines)
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8".into(),
        _ => e.to_string(),
    }
}

struct Columns {
    reference: usize,
    amount: usize,
    currency: usize,
    time: usize,
    fee: Option<usize>,
}

fn parse_line(
    cols: &Columns,
    record: &csv::StringRecord,
    line: u64,
) -> Result<StatementLine, String> {
    let field = |i: usize| record.get(i).unwrap_or("");
    let reference = field(cols.reference);
    if reference.is_empty() {
        return Err("reference is empty".into());
    }
    let code = field(cols.currency);
    let currency =
        Currency::from_code(code).map_err(|_| format!("currency: `{code}` is not a currency"))?;
    let amount =
        Money::parse_exact(field(cols.amount), currency).map_err(|e| format!("amount: {e}"))?;
    if !amount.is_positive() {
        return Err(format!("amount: `{}` must be positive", field(cols.amount)));
    }
    let fee = match cols.fee.map(field) {
        None | Some("") => None,
        Some(text) => {
            let fee = Money::parse_exact(text, currency).map_err(|e| format!("fee: {e}"))?;
            if fee.minor() < 0 {
                return Err(format!("fee: `{text}` must not be negative"));
            }
            Some(fee.minor())
        }
    };
    let time_field = field(cols.time);
    let time = OffsetDateTime::parse(time_field, &Rfc3339)
        .map_err(|_| format!("time: `{time_field}` is not an RFC 3339 time"))?;
    Ok(StatementLine {
        line,
        reference: reference.to_string(),
        amount: amount.minor(),
        currency: currency.code().to_string(),
        fee,
        time,
    })
}

/// What a run found, printed as text or one JSON object.
struct Report<'a> {
    org: &'a Organization,
    channel: &'a str,
    date: Date,
    from: OffsetDateTime,
    to: OffsetDateTime,
    day: &'a [PaymentLine],
    lines: Option<&'a [StatementLine]>,
    comparison: Option<&'a Comparison>,
    /// (statement line, unapplied id, already recorded before this run).
    recorded: Vec<(u64, i64, bool)>,
}

fn amount(minor: i64, currency: &str) -> String {
    format!("{} {currency}", money_text(minor, currency))
}

impl Report<'_> {
    fn print(&self, as_json: bool) {
        if as_json {
            println!("{}", self.json());
        } else {
            print!("{}", self.text());
        }
    }

    fn time(&self, t: OffsetDateTime) -> String {
        time_text(t, self.org.utc_offset)
    }

    fn payment_json(&self, p: &PaymentLine) -> Value {
        json!({
            "payment": p.payment,
            "reference": p.channel_ref,
            "amount": money_text(p.amount, &p.currency),
            "fee": money_text(p.fee, &p.currency),
            "currency": p.currency,
            "status": p.status.as_str(),
            "paid_at": self.time(p.paid_at),
        })
    }

    fn line_json(&self, l: &StatementLine) -> Value {
        json!({
            "line": l.line,
            "reference": l.reference,
            "amount": money_text(l.amount, &l.currency),
            "fee": l.fee.map(|f| money_text(f, &l.currency)),
            "currency": l.currency,
            "time": self.time(l.time),
        })
    }

    fn json(&self) -> Value {
        let billhub: Vec<Value> = recorded_totals(self.day)
            .into_iter()
            .map(|((status, currency), t)| {
                json!({
                    "status": status,
                    "currency": currency,
                    "count": t.count,
                    "amount": money_text(t.amount, &currency),
                    "fee": money_text(t.fee, &currency),
                })
            })
            .collect();
        let mut v = json!({
            "org": self.org.code,
            "channel": self.channel,
            "date": self.date.to_string(),
            "from": self.time(self.from),
            "to": self.time(self.to),
            "billhub": billhub,
            "payments": self.day.iter().map(|p| self.payment_json(p)).collect::<Vec<_>>(),
        });
        let (Some(lines), Some(c), Some(m)) = (self.lines, self.comparison, v.as_object_mut())
        else {
            return v;
        };
        let statement: Vec<Value> = statement_totals(lines)
            .into_iter()
            .map(|(currency, t)| {
                json!({
                    "currency": currency,
                    "count": t.count,
                    "amount": money_text(t.amount, &currency),
                    "fee": money_text(t.fee, &currency),
                })
            })
            .collect();
        m.insert("statement".into(), json!(statement));
        m.insert("agrees".into(), json!(c.agrees()));
        m.insert("matched".into(), json!(c.matched));
        m.insert(
            "missing_from_statement".into(),
            json!(
                c.missing_from_statement
                    .iter()
                    .map(|p| self.payment_json(p))
                    .collect::<Vec<_>>()
            ),
        );
        m.insert(
            "missing_from_billhub".into(),
            json!(
                c.missing_from_billhub
                    .iter()
                    .map(|l| self.line_json(l))
                    .collect::<Vec<_>>()
            ),
        );
        let mismatches: Vec<Value> = c
            .mismatches
            .iter()
            .map(|x| {
                json!({
                    "line": self.line_json(&x.line),
                    "billhub": self.payment_json(&x.recorded),
                    "kinds": x.kinds,
                })
            })
            .collect();
        m.insert("mismatches".into(), json!(mismatches));
        let recorded: Vec<Value> = self
            .recorded
            .iter()
            .map(|(line, id, again)| json!({"line": line, "unapplied_id": id, "already_recorded": again}))
            .collect();
        m.insert("recorded_unapplied".into(), json!(recorded));
        v
    }

    fn text(&self) -> String {
        let mut s = format!(
            "reconcile {} {} {}: {} to {}\n",
            self.org.code,
            self.channel,
            self.date,
            self.time(self.from),
            self.time(self.to)
        );
        let totals = recorded_totals(self.day);
        if totals.is_empty() {
            s.push_str("billhub: no payments\n");
        }
        for ((status, currency), t) in &totals {
            s.push_str(&format!(
                "billhub: {status} {} {}\n",
                t.count,
                amount(t.amount, currency)
            ));
        }
        let (Some(lines), Some(c)) = (self.lines, self.comparison) else {
            return s;
        };
        let totals = statement_totals(lines);
        if totals.is_empty() {
            s.push_str("statement: no lines\n");
        }
        for (currency, t) in &totals {
            s.push_str(&format!(
                "statement: {} {} (fee {})\n",
                t.count,
                amount(t.amount, currency),
                amount(t.fee, currency)
            ));
        }
        s.push_str(&format!("matched: {}\n", c.matched));
        s.push_str(&self.differences_text(c));
        s.push_str(if c.agrees() {
            "result: agree\n"
        } else {
            "result: differ\n"
        });
        s
    }

    /// The lists of a comparison, then what `--record-unmatched` recorded.
    fn differences_text(&self, c: &Comparison) -> String {
        let mut s = String::new();
        if !c.missing_from_statement.is_empty() {
            s.push_str(&format!(
                "missing from the statement: {}\n",
                c.missing_from_statement.len()
            ));
            for p in &c.missing_from_statement {
                s.push_str(&format!(
                    "  {}\t{}\t{}\t{}\t{}\n",
                    p.channel_ref,
                    amount(p.amount, &p.currency),
                    p.status.as_str(),
                    self.time(p.paid_at),
                    p.payment
                ));
            }
        }
        if !c.missing_from_billhub.is_empty() {
            s.push_str(&format!(
                "missing from billhub: {}\n",
                c.missing_from_billhub.len()
            ));
            for l in &c.missing_from_billhub {
                s.push_str(&format!(
                    "  line {}\t{}\t{}\t{}\n",
                    l.line,
                    l.reference,
                    amount(l.amount, &l.currency),
                    self.time(l.time)
                ));
            }
        }
        if !c.mismatches.is_empty() {
            s.push_str(&format!("differences: {}\n", c.mismatches.len()));
            for m in &c.mismatches {
                let why: Vec<String> = m
                    .kinds
                    .iter()
                    .map(|k| self.difference(*k, &m.line, &m.recorded))
                    .collect();
                s.push_str(&format!(
                    "  line {}\t{}\t{}\n",
                    m.line.line,
                    m.line.reference,
                    why.join("; ")
                ));
            }
        }
        for (line, id, again) in &self.recorded {
            let how = if *again {
                "already recorded"
            } else {
                "recorded"
            };
            s.push_str(&format!(
                "line {line}: {how} as unapplied #{id} (see `billhub unapplied list`)\n"
            ));
        }
        s
    }

    fn difference(&self, kind: MismatchKind, l: &StatementLine, p: &PaymentLine) -> String {
        match kind {
            MismatchKind::Amount => format!(
                "amount: billhub {}, statement {}",
                amount(p.amount, &p.currency),
                amount(l.amount, &l.currency)
            ),
            MismatchKind::Currency => {
                format!("currency: billhub {}, statement {}", p.currency, l.currency)
            }
            MismatchKind::Fee => format!(
                "fee: billhub {}, statement {}",
                amount(p.fee, &p.currency),
                amount(l.fee.unwrap_or(0), &l.currency)
            ),
            MismatchKind::Reversed => match p.reversed_at {
                Some(t) => format!("reversed in billhub at {}", self.time(t)),
                None => "reversed in billhub".into(),
            },
            MismatchKind::OtherDay => format!(
                "recorded on {} ({})",
                billhub_store::local_date(p.paid_at, self.org.utc_offset),
                p.payment
            ),
        }
    }
}
