//! `billhub user`: the people of the operator console (docs/console.md). A new user's password,
//! and one set by `reset-password`, is random and printed once; only its argon2id hash is
//! stored. A reset ends the user's sessions.

use billhub_store::Store;
use billhub_store::users::{self, ConsoleUser, Role};
use clap::Subcommand;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{organization, print};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a console user; prints their initial password once.
    Create {
        /// The organization's code.
        #[arg(long)]
        org: String,
        /// Their e-mail (unique in the organization whatever its case).
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["viewer", "operator"])]
        role: String,
        #[arg(long)]
        json: bool,
    },
    /// List an organization's console users.
    List {
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Give a console user a new random password (printed once) and end their sessions.
    ResetPassword {
        /// The user's id (`user list`).
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Disable a console user and end their sessions.
    Disable {
        /// The user's id (`user list`).
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

fn user_json(u: &ConsoleUser) -> serde_json::Value {
    json!({
        "id": u.id,
        "organization_id": u.organization_id,
        "email": u.email,
        "role": u.role.as_str(),
        "created_at": u.created_at.format(&Rfc3339).unwrap_or_default(),
        "disabled_at": u.disabled_at.and_then(|t| t.format(&Rfc3339).ok()),
    })
}

impl UserCommand {
    pub fn run(self, store: &Store, now: OffsetDateTime) -> anyhow::Result<()> {
        match self {
            UserCommand::Create {
                org,
                email,
                role,
                json: json_out,
            } => {
                let org = organization(store, &org)?;
                let role = Role::parse(&role)
                    .ok_or_else(|| anyhow::anyhow!("--role must be viewer or operator"))?;
                let password = users::new_password();
                let hash = users::hash_password(&password)?;
                let user = store
                    .create_console_user(org.id, &email, role, &hash, now)
                    .map_err(|e| anyhow::anyhow!("--email: {e}"))?;
                let mut value = user_json(&user);
                if let Some(map) = value.as_object_mut() {
                    map.insert("password".into(), json!(password));
                }
                print(value, json_out, || {
                    format!(
                        "user {} {} ({}) in {}\npassword (shown once): {password}",
                        user.id,
                        user.email,
                        user.role.as_str(),
                        org.code
                    )
                });
                Ok(())
            }
            UserCommand::List {
                org,
                json: json_out,
            } => {
                let org = organization(store, &org)?;
                let list = store.console_users(org.id)?;
                if json_out {
                    for u in &list {
                        println!("{}", user_json(u));
                    }
                } else {
                    for u in &list {
                        let state = if u.disabled_at.is_some() {
                            "disabled"
                        } else {
                            "active"
                        };
                        println!("{}\t{}\t{}\t{state}", u.id, u.email, u.role.as_str());
                    }
                }
                Ok(())
            }
            UserCommand::ResetPassword { id, json: json_out } => {
                let password = users::new_password();
                let hash = users::hash_password(&password)?;
                let user = store.set_console_password(id, &hash)?;
                let mut value = user_json(&user);
                if let Some(map) = value.as_object_mut() {
                    map.insert("password".into(), json!(password));
                }
                print(value, json_out, || {
                    format!(
                        "user {} {} ({}): new password, their sessions ended\npassword (shown once): {password}",
                        user.id,
                        user.email,
                        user.role.as_str(),
                    )
                });
                Ok(())
            }
            UserCommand::Disable { id, json: json_out } => {
                let user = store.disable_console_user(id, now)?;
                print(user_json(&user), json_out, || {
                    format!("user {} {} disabled", user.id, user.email)
                });
                Ok(())
            }
        }
    }
}
