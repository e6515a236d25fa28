//! `billhub migrate`: run pending database migrations.

use billhub_http::Config;

use super::open_store;

pub fn run(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config, false)?;
    let applied = store.migrate()?;
    if applied.is_empty() {
        println!("database is up to date ({})", store.backend().name());
    } else {
        for m in applied {
            println!("applied {m}");
        }
    }
    Ok(())
}
