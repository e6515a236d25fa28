//! `billhub org`: organizations (billers) and their settings.

use anyhow::anyhow;
use billhub_core::SettlementMode;
use billhub_store::{CredentialStatus, NewOrganization, Principal, Store};
use clap::{Args, Subcommand};
use serde_json::json;
use time::OffsetDateTime;

use super::{organization, print};

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Create an organization.
    Create(OrgCreate),
    /// Set one setting (see docs/configuration.md).
    Set {
        code: String,
        key: String,
        value: String,
    },
    /// Show an organization with its settings.
    Show {
        code: String,
        #[arg(long)]
        json: bool,
    },
    /// List organizations.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct OrgCreate {
    #[arg(long)]
    code: Option<String>,
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "+00:00", allow_hyphen_values = true)]
    utc_offset: String,
    #[arg(long = "va-prefix")]
    va_prefix: Vec<String>,
    #[arg(long, value_parser = ["total", "discrete", "open"])]
    settlement: Option<String>,
    #[arg(long, default_value = "en", value_parser = ["en", "km", "ms", "id"])]
    locale: String,
    #[arg(long)]
    json: bool,
}

impl OrgCommand {
    pub fn run(self, store: &Store, now: OffsetDateTime) -> anyhow::Result<()> {
        match self {
            OrgCommand::Create(a) => create(store, a, now),
            OrgCommand::Set { code, key, value } => {
                let org = organization(store, &code)?;
                store.set_setting(org.id, &key, &value, now)?;
                println!("{code}: {key} = {value}");
                Ok(())
            }
            OrgCommand::Show { code, json } => show(store, &code, json),
            OrgCommand::List { json } => list(store, json),
        }
    }
}

fn create(store: &Store, a: OrgCreate, now: OffsetDateTime) -> anyhow::Result<()> {
    let offset =
        billhub_core::org::parse_offset(&a.utc_offset).map_err(|e| anyhow!("--utc-offset: {e}"))?;
    let settlement = a
        .settlement
        .as_deref()
        .map(str::parse::<SettlementMode>)
        .transpose()
        .map_err(|e| anyhow!("--settlement: {e}"))?;
    let org = store.create_organization(
        &NewOrganization {
            code: a.code,
            name: a.name,
            utc_offset: offset,
            locale: a.locale,
            settlement,
            va_prefixes: a.va_prefix.clone(),
        },
        now,
    )?;
    print(
        json!({ "id": org.id, "code": org.code, "name": org.name, "utc_offset": org.utc_offset_string(), "va_prefixes": a.va_prefix }),
        a.json,
        || {
            format!(
                "organization {} created: id {} (CSQ operatorId), code {}",
                org.name, org.id, org.code
            )
        },
    );
    Ok(())
}

/// The warning `org show` prints (on stderr) while Bill24 has no way to authorise its webhook:
/// no active Bill24 token and no `bill24.webhook_allow_ips`.
fn bill24_auth_warning(store: &Store, org_id: i64) -> anyhow::Result<Option<String>> {
    let allowed = !store.settings(org_id)?.bill24_webhook_allow_ips.is_empty();
    let token = store
        .credential_listings(&Principal::Biller {
            organization_id: org_id,
        })?
        .iter()
        .any(|c| c.dialect == "bill24" && c.status == CredentialStatus::Active);
    Ok((!allowed && !token).then(|| {
        "warning: Bill24 cannot be authorised: no active bill24 token (`billhub credential create --org CODE --dialect bill24`, agreed with Bill24) and no `bill24.webhook_allow_ips`; see docs/dialects/bill24.md".to_string()
    }))
}

fn show(store: &Store, code: &str, as_json: bool) -> anyhow::Result<()> {
    let org = organization(store, code)?;
    if let Some(warning) = bill24_auth_warning(store, org.id)? {
        eprintln!("{warning}");
    }
    let settings = store.settings(org.id)?.to_pairs();
    let prefixes = store.va_prefixes(org.id)?;
    print(
        json!({ "id": org.id, "code": org.code, "name": org.name, "utc_offset": org.utc_offset_string(), "locale": org.locale, "va_prefixes": prefixes, "settings": settings }),
        as_json,
        || {
            let mut s = format!(
                "{} ({}), id {}, offset {}, VA prefixes [{}]\n",
                org.name,
                org.code,
                org.id,
                org.utc_offset_string(),
                prefixes.join(", ")
            );
            for (k, v) in &settings {
                s.push_str(&format!("  {k} = {v}\n"));
            }
            s
        },
    );
    Ok(())
}

fn list(store: &Store, as_json: bool) -> anyhow::Result<()> {
    let orgs = store.organizations()?;
    let list: Vec<_> = orgs
        .iter()
        .map(|o| json!({ "id": o.id, "code": o.code, "name": o.name }))
        .collect();
    print(json!({ "organizations": list }), as_json, || {
        orgs.iter()
            .map(|o| format!("{}\t{}\t{}", o.id, o.code, o.name))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
