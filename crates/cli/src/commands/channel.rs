//! `billhub channel`: banks (VA channel API) and terminal networks (postpaid), and their
//! settings (`channel set`, `channel show`; keys in docs/configuration.md).

use anyhow::Context as _;
use billhub_core::channel_settings::{ChannelSettings, SNAP_DIALECT, SNAP_PUBLIC_KEY};
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
        #[arg(long, value_parser = ["va", "postpaid", "snap"])]
        dialect: String,
        /// The bank's RSA public key (PEM file) that verifies its SNAP access-token requests;
        /// required for `--dialect snap` (rotate it later with `channel set ID snap.public_key`).
        #[arg(long, value_name = "FILE")]
        public_key: Option<std::path::PathBuf>,
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
                public_key,
                json,
            } => {
                let key = snap_public_key(&dialect, public_key.as_deref())?;
                create(store, &name, &dialect, key.as_deref(), json, now)
            }
            ChannelCommand::Enroll { channel, org } => {
                let o = organization(store, &org)?;
                store.enroll(channel, o.id, now)?;
                println!("channel {channel} enrolled with {org}");
                Ok(())
            }
            ChannelCommand::List { json } => list(store, json),
            ChannelCommand::Disable { id, json } => disable(store, id, json, now),
            ChannelCommand::Set { id, key, value } => {
                let value = setting_value(&key, value)?;
                store.set_channel_setting(id, &key, &value, now)?;
                println!("channel {id}: {key} = {}", value.trim());
                Ok(())
            }
            ChannelCommand::Show { id, json } => show(store, id, json),
        }
    }
}

/// The PEM of `--public-key`, checked: required for a SNAP bank, refused for the others.
fn snap_public_key(
    dialect: &str,
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<String>> {
    match (dialect, file) {
        ("snap", None) => anyhow::bail!(
            "--public-key FILE is required for a snap channel (the bank's RSA public key, PEM)"
        ),
        ("snap", Some(path)) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("--public-key: cannot read {}", path.display()))?;
            ChannelSettings::validate(SNAP_DIALECT, SNAP_PUBLIC_KEY, &pem)
                .map_err(|e| anyhow::anyhow!("--public-key {}: {e}", path.display()))?;
            Ok(Some(pem))
        }
        (_, Some(_)) => anyhow::bail!("--public-key applies to snap channels only"),
        (_, None) => Ok(None),
    }
}

/// A setting's value as given, except `snap.public_key`, which also takes `@FILE` (a PEM file).
fn setting_value(key: &str, value: String) -> anyhow::Result<String> {
    match value.strip_prefix('@') {
        Some(path) if key == SNAP_PUBLIC_KEY => {
            std::fs::read_to_string(path).with_context(|| format!("{key}: cannot read {path}"))
        }
        _ => Ok(value),
    }
}

fn create(
    store: &Store,
    name: &str,
    dialect: &str,
    public_key: Option<&str>,
    as_json: bool,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let created = store.create_channel(name, dialect, now)?;
    if let Some(pem) = public_key {
        store.set_channel_setting(created.id, SNAP_PUBLIC_KEY, pem, now)?;
    }
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
