//! `billhub`: administration of a billhub store and `billhub up` (every gateway in one process).
//!
//! Each command group lives in [`commands`], with its clap type and its handler; this file only
//! parses the command line and dispatches.

mod commands;
mod demo;

use std::process::ExitCode;

use billhub_http::Config;
use clap::{Parser, Subcommand};
use commands::backup::BackupArgs;
use commands::bill::BillCommand;
use commands::channel::ChannelCommand;
use commands::check::CheckArgs;
use commands::config::ConfigCommand;
use commands::console::ConsoleArgs;
use commands::credential::CredentialCommand;
use commands::credit::CreditCommand;
use commands::export::ExportCommand;
use commands::import::ImportCommand;
use commands::org::OrgCommand;
use commands::reconcile::ReconcileArgs;
use commands::rotate::RotateArgs;
use commands::unapplied::UnappliedCommand;
use commands::up::UpArgs;
use commands::user::UserCommand;
use time::OffsetDateTime;

#[derive(Parser)]
#[command(
    name = "billhub",
    version,
    about = "billhub: bill presentment and payment hub (administration and all-in-one mode)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run pending database migrations.
    Migrate,
    /// Organizations (billers).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Credentials: of organizations for the biller APIs, and of channels.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// People of the operator console (docs/console.md).
    #[command(subcommand)]
    User(UserCommand),
    /// Channels: banks (VA channel API) and terminal networks (postpaid).
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Bills.
    #[command(subcommand)]
    Bill(BillCommand),
    /// Bulk import (`import bills --org CODE FILE`): validated first, then in batches.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Money that channels took but billhub could not apply: list, apply or refund it.
    #[command(subcommand)]
    Unapplied(UnappliedCommand),
    /// Account credit (overpayments): list it, apply it to bills, or refund it.
    #[command(subcommand)]
    Credit(CreditCommand),
    /// Export an organization's payments or bills between two days, as CSV or JSON lines.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Reconcile a channel's day with its settlement statement (exit 0 agree, 1 differ, 2 bad input).
    Reconcile(ReconcileArgs),
    /// Verify the money invariants (exit 1 on any violation) and show the work to do.
    Check(CheckArgs),
    /// Copy an SQLite store online into a new file (PostgreSQL: pg_dump; docs/operations.md).
    Backup(BackupArgs),
    /// Serve the operator console alone (`billhub up` serves it too; docs/console.md).
    Console(ConsoleArgs),
    /// Run all five gateways in one process on their default ports.
    Up(UpArgs),
    /// Seal every secret at rest again with the current master key; say which old keys in
    /// BILLHUB_MASTER_KEYS can go (exit 1 while any secret still needs one). See docs/keys.md.
    RotateMasterKey(RotateArgs),
    /// The configuration from the environment (`config check`: what is wrong, or what applies).
    #[command(subcommand)]
    Config(ConfigCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<commands::reconcile::Exit>() {
                if let Some(message) = &exit.message {
                    eprintln!("billhub: {message}");
                }
                return ExitCode::from(exit.code);
            }
            eprintln!("billhub: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // `config check` reads the environment itself, without writing anything.
    let command = match cli.command {
        Command::Config(cmd) => return cmd.run(),
        other => other,
    };
    let config = Config::from_env("127.0.0.1:8081")?;
    let now = OffsetDateTime::now_utc();
    let store = || commands::open_store(&config, config.migrate);
    match command {
        Command::Config(cmd) => cmd.run(),
        Command::Up(args) => args.run(config),
        Command::Console(args) => args.run(config),
        Command::Migrate => commands::migrate::run(&config),
        Command::Org(cmd) => cmd.run(&store()?, now),
        Command::Credential(cmd) => cmd.run(&store()?, now),
        Command::User(cmd) => cmd.run(&store()?, now),
        Command::Channel(cmd) => cmd.run(&store()?, now),
        Command::Bill(cmd) => cmd.run(&store()?, now),
        Command::Import(cmd) => cmd.run(&store()?, now),
        Command::Unapplied(cmd) => cmd.run(&store()?, now),
        Command::Credit(cmd) => cmd.run(&store()?, now),
        Command::Check(args) => args.run(&store()?, now),
        Command::RotateMasterKey(args) => args.run(&store()?),
        Command::Backup(args) => args.run(&config, &store()?),
        Command::Export(cmd) => cmd.run(&store()?),
        Command::Reconcile(args) => args.run(store()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command, flag and conflict is well formed (clap's own consistency checks).
    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
