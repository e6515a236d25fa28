//! `billhub export payments|bills`: an organization's payments or bills between two local days,
//! as CSV or JSON lines, streamed (see `billhub_store::export`; the columns are documented in
//! docs/export-reconcile.md).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use billhub_store::Store;
use billhub_store::export::{ExportFormat, ExportQuery, local_days};
use clap::{Args, Subcommand, ValueEnum};
use time::Date;

use super::organization;

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Payments (and unapplied money) whose time lies in the days, in the organization's offset.
    Payments(ExportArgs),
    /// Bills whose bill date lies in the days.
    Bills(ExportArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The organization's code.
    #[arg(long)]
    org: String,
    /// First day (YYYY-MM-DD, in the organization's UTC offset), included.
    #[arg(long)]
    from: String,
    /// Last day (YYYY-MM-DD), included.
    #[arg(long)]
    to: String,
    /// Only this channel (payments): `bill24`, `sandbox`, `credit`, a channel's id or name as
    /// `billhub channel list` shows it, or its stored form (`va:3`).
    #[arg(long)]
    channel: Option<String>,
    #[arg(long, value_enum)]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

impl ExportCommand {
    pub fn run(self, store: &Store) -> anyhow::Result<()> {
        let (bills, args) = match self {
            ExportCommand::Payments(a) => (false, a),
            ExportCommand::Bills(a) => (true, a),
        };
        let org = organization(store, &args.org)?;
        let from = parse_day("--from", &args.from)?;
        let to = parse_day("--to", &args.to)?;
        let (start, end) = local_days(from, to, org.utc_offset)
            .ok_or_else(|| anyhow!("--to {to} is before --from {from}"))?;
        let format = match args.format {
            Format::Csv => ExportFormat::Csv,
            Format::Jsonl => ExportFormat::Jsonl,
        };
        let out: Box<dyn Write> = match &args.output {
            Some(path) => Box::new(
                File::create(path)
                    .with_context(|| format!("--output {}: cannot create it", path.display()))?,
            ),
            None => Box::new(std::io::stdout().lock()),
        };
        let out = BufWriter::with_capacity(64 * 1024, out);
        let rows = if bills {
            if args.channel.is_some() {
                bail!("--channel filters payments only (bills have no channel)");
            }
            store.export_bills(org.id, org.utc_offset, (from, to), format, out)?
        } else {
            let channel = args
                .channel
                .as_deref()
                .map(|c| channel_text(store, c))
                .transpose()?;
            let q = ExportQuery {
                organization_id: org.id,
                offset: org.utc_offset,
                from: start,
                to: end,
                channel,
            };
            store.export_payments(&q, format, out)?
        };
        if args.output.is_some() {
            eprintln!(
                "exported {rows} {}",
                if bills { "bills" } else { "payments" }
            );
        }
        Ok(())
    }
}

/// A day written `YYYY-MM-DD`, or an error naming the flag.
pub fn parse_day(flag: &str, text: &str) -> anyhow::Result<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), format)
        .map_err(|_| anyhow!("{flag}: `{text}` is not a date (YYYY-MM-DD)"))
}

/// The stored text of the channel an operator names: `bill24`, `sandbox`, `credit`, a stored
/// form (`va:3`, `postpaid:2`), or a registered channel's id or name (`billhub channel list`).
pub fn channel_text(store: &Store, name: &str) -> anyhow::Result<String> {
    let name = name.trim();
    if let Ok(c) = name.parse::<billhub_core::Channel>() {
        return Ok(c.as_db());
    }
    let listed = store.channel_listings()?;
    let found = match name.parse::<i64>() {
        Ok(id) => listed.iter().find(|c| c.id == id),
        Err(_) => {
            let named: Vec<_> = listed.iter().filter(|c| c.name == name).collect();
            if named.len() > 1 {
                bail!(
                    "--channel: {} channels are named `{name}`: give its id",
                    named.len()
                );
            }
            named.into_iter().next()
        }
    };
    let c = found.ok_or_else(|| {
        anyhow!(
            "--channel: no channel `{name}` (bill24, sandbox, credit, or an id or name from `billhub channel list`)"
        )
    })?;
    match c.dialect.as_str() {
        "va" => Ok(billhub_core::Channel::Va(c.id).as_db()),
        "postpaid" => Ok(billhub_core::Channel::Postpaid(c.id).as_db()),
        other => bail!(
            "--channel: channel {} has an unknown dialect `{other}`",
            c.id
        ),
    }
}
