//! `billhub channel`: banks (VA channel API) and terminal networks (postpaid), and their
//! settings (`channel set`, `channel show`; keys in docs/configuration.md).

use billhub_store::{ChannelListing, Store};
use clap::Subcommand;
use serde_json::json;
use time::OffsetDateTime;

use super::{organization, print, rfc3339, secrets_text};

#[derive(Subcommand)]
pub enum ChannelCommand {
    /// Create a channel with its credential; secrets are printed once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["va", "postpaid"])]
        dialect: String,
        #[arg(long)]
        json: bool,
    },
    /// Let a channel see and pay an organization's bills.
    Enroll {
        #[arg(long)]
        channel: i64,
        #[arg(long)]
        org: String,
    },
    /// List channels: id, name, dialect, disabled or not.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable a channel: its credentials stop authenticating. Disabling it twice changes nothing.
    Disable {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Set one channel setting (see docs/configuration.md), e.g. `va.auth passive`.
    Set {
        id: i64,
        key: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Show a channel with its settings (every key of its dialect, defaults included).
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

impl ChannelCommand {
    pub fn run(self, store: &Store, now: OffsetDateTime) -> anyhow::Result<()> {
        match self {
            ChannelCommand::Create {
                name,
                dialect,
                json,
            } => create(store, &name, &dialect, json, now),
            ChannelCommand::Enroll { channel, org } => {
                let o = organization(store, &org)?;
                store.enroll(channel, o.id, now)?;
                println!("channel {channel} enrolled with {org}");
                Ok(())
            }
            ChannelCommand::List { json } => list(store, json),
            ChannelCommand::Disable { id, json } => disable(store, id, json, now),
            ChannelCommand::Set { id, key, value } => {
                store.set_channel_setting(id, &key, &value, now)?;
                println!("channel {id}: {key} = {}", value.trim());
                Ok(())
            }
            ChannelCommand::Show { id, json } => show(store, id, json),
        }
    }
}

fn create(
    store: &Store,
    name: &str,
    dialect: &str,
    as_json: bool,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let created = store.create_channel(name, dialect, now)?;
    let value = serde_json::to_value(&created)?;
    print(value.clone(), as_json, || {
        let heading = format!(
            "channel {} ({dialect}) created (secrets shown once):\n",
            created.id
        );
        secrets_text(heading, &value)
    });
    Ok(())
}

fn to_json(c: &ChannelListing) -> serde_json::Value {
    json!({
        "id": c.id,
        "name": c.name,
        "dialect": c.dialect,
        "created_at": rfc3339(c.created_at),
        "disabled": c.disabled_at.is_some(),
        "disabled_at": c.disabled_at.map(rfc3339),
    })
}

/// `id  name  dialect  enabled|disabled <time>`.
fn to_line(c: &ChannelListing) -> String {
    let state = match c.disabled_at {
        Some(t) => format!("disabled {}", rfc3339(t)),
        None => "enabled".into(),
    };
    format!("{}\t{}\t{}\t{state}", c.id, c.name, c.dialect)
}

fn list(store: &Store, as_json: bool) -> anyhow::Result<()> {
    let list = store.channel_listings()?;
    let values: Vec<_> = list.iter().map(to_json).collect();
    print(json!({ "channels": values }), as_json, || {
        if list.is_empty() {
            return "no channels".into();
        }
        list.iter().map(to_line).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}

fn disable(store: &Store, id: i64, as_json: bool, now: OffsetDateTime) -> anyhow::Result<()> {
    let done = store.disable_channel(id, now)?;
    let c = &done.item;
    let mut value = to_json(c);
    if let Some(m) = value.as_object_mut() {
        m.insert("changed".into(), done.changed.into());
    }
    print(value, as_json, || {
        let when = c.disabled_at.map(rfc3339).unwrap_or_default();
        if done.changed {
            format!(
                "channel {} ({}) disabled: its credentials no longer authenticate",
                c.id, c.name
            )
        } else {
            format!("channel {} was already disabled at {when}", c.id)
        }
    });
    Ok(())
}

fn show(store: &Store, id: i64, as_json: bool) -> anyhow::Result<()> {
    let c = store.channel_listing(id)?;
    let settings = store.channel_settings(id)?.to_pairs(&c.dialect);
    let mut value = to_json(&c);
    if let Some(m) = value.as_object_mut() {
        m.insert("settings".into(), json!(settings));
    }
    print(value, as_json, || {
        let mut s = to_line(&c);
        for (k, v) in &settings {
            s.push_str(&format!("\n  {k} = {v}"));
        }
        s
    });
    Ok(())
}
