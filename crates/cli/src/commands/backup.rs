//! `billhub backup --to FILE`: an online copy of an SQLite store ([`Store::backup_sqlite_into`],
//! `VACUUM INTO`: gateways keep serving meanwhile), then opened with the same master key to
//! prove it is a database billhub can use. PostgreSQL is backed up with `pg_dump` (the error
//! says how). docs/operations.md has both procedures and the restore that
//! `crates/cli/tests/backup.rs` tests.

use std::path::Path;

use anyhow::{anyhow, bail};
use billhub_http::Config;
use billhub_store::{Backend, PoolOptions, Store};
use clap::Args;
use serde_json::json;

use super::print;

#[derive(Args)]
pub struct BackupArgs {
    /// The new file to write (it must not exist). Restore by pointing BILLHUB_DATABASE_URL at a
    /// copy of it, with the same BILLHUB_MASTER_KEY.
    #[arg(long, value_name = "FILE")]
    to: String,
    #[arg(long)]
    json: bool,
}

impl BackupArgs {
    pub fn run(self, config: &Config, store: &Store) -> anyhow::Result<()> {
        if store.backend() != Backend::Sqlite {
            bail!(
                "BILLHUB_DATABASE_URL is PostgreSQL: back up with \
                 `pg_dump --format=custom --file=FILE \"$BILLHUB_DATABASE_URL\"` and restore with \
                 `pg_restore --no-owner --dbname=NEWDB FILE` (docs/operations.md, \"Backups\")"
            );
        }
        let target = Path::new(&self.to);
        if self.to.trim().is_empty() {
            bail!("--to: give the file to write");
        }
        if target.exists() {
            bail!(
                "--to: {} exists; backup writes a new file only",
                target.display()
            );
        }
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            bail!("--to: directory {} does not exist", dir.display());
        }
        store
            .backup_sqlite_into(&self.to)
            .map_err(|e| anyhow!("backup into {}: {e}", target.display()))?;
        // The copy must open (no migration: it has the schema of the original).
        let copy = Store::open(
            &self.to,
            config.master_key.clone(),
            PoolOptions::default(),
            false,
        )
        .map_err(|e| anyhow!("the copy {} does not open: {e}", target.display()))?;
        copy.ping()
            .map_err(|e| anyhow!("the copy {} does not answer: {e}", target.display()))?;
        let bytes = std::fs::metadata(target)
            .map(|m| m.len())
            .map_err(|e| anyhow!("the copy {}: {e}", target.display()))?;
        let value = json!({
            "backup": self.to,
            "backend": "sqlite",
            "bytes": bytes,
        });
        print(value, self.json, || {
            format!(
                "backup written: {} ({bytes} bytes); restore: BILLHUB_DATABASE_URL={} with the same \
                 BILLHUB_MASTER_KEY, then `billhub check`",
                target.display(),
                target.display()
            )
        });
        Ok(())
    }
}
