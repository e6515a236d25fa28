//! `billhub`: administration of a billhub store and `billhub up` (every gateway in one process).
//!
//! Each command group lives in [`commands`], with its clap type and its handler; this file only
//! parses the command line and dispatches.

mod commands;
mod demo;

use std::process::ExitCode;

use billhub_http::Config;
use clap::{Parser, Subcommand};
use commands::bill::BillCommand;
use commands::channel::ChannelCommand;
use commands::check::CheckArgs;
use commands::config::ConfigCommand;
use commands::credential::CredentialCommand;
use commands::credit::CreditCommand;
use commands::import::ImportCommand;
use commands::org::OrgCommand;
use commands::unapplied::UnappliedCommand;
use commands::up::UpArgs;
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
    /// Verify the money invariants (exit 1 on any violation) and show the work to do.
    Check(CheckArgs),
    /// Run all four gateways in one process on their default ports.
    Up(UpArgs),
    /// The configuration from the environment (`config check`: what is wrong, or what applies).
    #[command(subcommand)]
    Config(ConfigCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
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
        Command::Migrate => commands::migrate::run(&config),
        Command::Org(cmd) => cmd.run(&store()?, now),
        Command::Credential(cmd) => cmd.run(&store()?, now),
        Command::Channel(cmd) => cmd.run(&store()?, now),
        Command::Bill(cmd) => cmd.run(&store()?, now),
        Command::Import(cmd) => cmd.run(&store()?, now),
        Command::Unapplied(cmd) => cmd.run(&store()?, now),
        Command::Credit(cmd) => cmd.run(&store()?, now),
        Command::Check(args) => args.run(&store()?, now),
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
