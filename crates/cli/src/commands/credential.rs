//! `billhub credential`: create, list and revoke credentials. Secrets are printed once, at
//! creation; a listing never shows a secret or a hash.

use billhub_store::{CredentialListing, Principal, Store};
use clap::Subcommand;
use serde_json::json;
use time::OffsetDateTime;

use super::{organization, print, rfc3339, secrets_text};

#[derive(Subcommand)]
pub enum CredentialCommand {
    /// Create a credential; its secrets are printed once.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long, value_parser = ["bill24", "collections", "va"])]
        dialect: String,
        /// collections: make a new signature key (the old one stops signing callbacks).
        #[arg(long)]
        rotate_signature_key: bool,
        #[arg(long)]
        json: bool,
    },
    /// List an organization's (or a channel's) credentials: id, dialect, kind, created, status.
    List {
        #[arg(long, conflicts_with = "channel", required_unless_present = "channel")]
        org: Option<String>,
        /// A channel's credentials instead of an organization's.
        #[arg(long)]
        channel: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a credential: it never authenticates again. Revoking it twice changes nothing.
    Revoke {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

impl CredentialCommand {
    pub fn run(self, store: &Store, now: OffsetDateTime) -> anyhow::Result<()> {
        match self {
            CredentialCommand::Create {
                org,
                dialect,
                rotate_signature_key,
                json,
            } => create(store, &org, &dialect, rotate_signature_key, json, now),
            CredentialCommand::List { org, channel, json } => {
                let owner = match (org, channel) {
                    (Some(code), _) => Principal::Biller {
                        organization_id: organization(store, &code)?.id,
                    },
                    (None, Some(channel_id)) => Principal::Channel { channel_id },
                    (None, None) => anyhow::bail!("say whose credentials: --org or --channel"),
                };
                list(store, &owner, json)
            }
            CredentialCommand::Revoke { id, json } => revoke(store, id, json, now),
        }
    }
}

fn create(
    store: &Store,
    org: &str,
    dialect: &str,
    rotate_signature_key: bool,
    as_json: bool,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let o = organization(store, org)?;
    let created = store.create_credential(o.id, dialect, rotate_signature_key, now)?;
    let value = serde_json::to_value(&created)?;
    print(value.clone(), as_json, || {
        let heading = format!(
            "{dialect} credential {} for {org} (shown once):\n",
            created.id
        );
        secrets_text(heading, &value)
    });
    Ok(())
}

fn to_json(c: &CredentialListing) -> serde_json::Value {
    let (organization_id, channel_id) = match c.owner {
        Principal::Biller { organization_id } => (Some(organization_id), None),
        Principal::Channel { channel_id } => (None, Some(channel_id)),
    };
    json!({
        "id": c.id,
        "dialect": c.dialect,
        "kind": c.kind,
        "organization_id": organization_id,
        "channel_id": channel_id,
        "created_at": rfc3339(c.created_at),
        "revoked_at": c.revoked_at.map(rfc3339),
        "status": c.status.as_str(),
    })
}

/// `id  dialect  kind  created  status` (with the revocation time when revoked).
fn to_line(c: &CredentialListing) -> String {
    let status = match c.revoked_at {
        Some(t) => format!("{} {}", c.status.as_str(), rfc3339(t)),
        None => c.status.as_str().to_string(),
    };
    format!(
        "{}\t{}\t{}\tcreated {}\t{status}",
        c.id,
        c.dialect,
        c.kind,
        rfc3339(c.created_at)
    )
}

fn list(store: &Store, owner: &Principal, as_json: bool) -> anyhow::Result<()> {
    let list = store.credential_listings(owner)?;
    let values: Vec<_> = list.iter().map(to_json).collect();
    print(json!({ "credentials": values }), as_json, || {
        if list.is_empty() {
            return "no credentials".into();
        }
        list.iter().map(to_line).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}

fn revoke(store: &Store, id: i64, as_json: bool, now: OffsetDateTime) -> anyhow::Result<()> {
    let done = store.revoke_credential_once(id, now)?;
    let c = &done.item;
    let mut value = to_json(c);
    if let Some(m) = value.as_object_mut() {
        m.insert("changed".into(), done.changed.into());
    }
    print(value, as_json, || {
        let when = c.revoked_at.map(rfc3339).unwrap_or_default();
        if done.changed {
            format!("credential {} ({} {}) revoked", c.id, c.kind, c.dialect)
        } else {
            format!("credential {} was already revoked at {when}", c.id)
        }
    });
    Ok(())
}
