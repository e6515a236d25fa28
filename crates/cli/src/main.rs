//! `billhub`: administration of a billhub store and `billhub up` (every gateway in one process).

mod demo;
mod up;

use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use billhub_core::{Currency, Money, PaymentRule, SettlementMode};
use billhub_http::Config;
use billhub_store::{
    AccountInput, NewBill, NewOrganization, PaymentTarget, PoolOptions, Resolution, Store,
    StoreError,
};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

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
    /// Credentials of organizations for the biller APIs.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Channels: banks (VA channel API) and terminal networks (postpaid).
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Bills.
    #[command(subcommand)]
    Bill(BillCommand),
    /// Money that channels took but billhub could not apply: list, apply or refund it.
    #[command(subcommand)]
    Unapplied(UnappliedCommand),
    /// Account credit (overpayments): list it, apply it to bills, or refund it.
    #[command(subcommand)]
    Credit(CreditCommand),
    /// Show money that channels took but billhub could not apply.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Run all four gateways in one process on their default ports.
    Up {
        /// Create a demo organization with credentials for every dialect and a few bills.
        #[arg(long)]
        demo: bool,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
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
struct OrgCreate {
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

#[derive(Subcommand)]
enum CredentialCommand {
    /// Create a credential; its secrets are printed once.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long, value_parser = ["bill24", "collections", "va", "console"])]
        dialect: String,
        /// collections: make a new signature key (the old one stops signing callbacks).
        #[arg(long)]
        rotate_signature_key: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ChannelCommand {
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
}

#[derive(Subcommand)]
enum UnappliedCommand {
    /// List unapplied money (all of it, or one organization's).
    List {
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Apply it to a bill (by public number or invoice number) or to an account (under the
    /// organization's settlement mode); core decides as for any payment.
    Apply {
        id: i64,
        #[arg(long, conflicts_with = "account", required_unless_present = "account")]
        bill: Option<String>,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record that it was given back to the payer outside billhub.
    Refund {
        id: i64,
        /// How it was refunded (a bank reference, ...).
        #[arg(long)]
        note: String,
    },
}

#[derive(Subcommand)]
enum CreditCommand {
    /// Every account with credit in the organization.
    List {
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Pay a bill of the account (or the account's bills, under the settlement mode) from its credit.
    Apply {
        #[arg(long)]
        org: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        currency: String,
        #[arg(long)]
        amount: String,
        /// A bill's public number or invoice number; without it, the account's payable bills.
        #[arg(long)]
        bill: Option<String>,
        /// Identifies the operation: running it again with the same reference changes nothing.
        #[arg(long)]
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Record that credit was given back to the payer outside billhub.
    Refund {
        #[arg(long)]
        org: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        currency: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        note: String,
    },
}

#[derive(Subcommand)]
enum BillCommand {
    /// Publish a bill without any dialect.
    Create(Box<BillCreate>),
}

#[derive(Args)]
struct BillCreate {
    #[arg(long)]
    org: String,
    #[arg(long)]
    account: String,
    #[arg(long)]
    account_name: Option<String>,
    #[arg(long)]
    account_name_latin: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    currency: String,
    /// Decimal in major units (`5000`, `10.50`); never rounded.
    #[arg(long)]
    amount: String,
    /// YYYY-MM-DD (default: today in the organization's offset).
    #[arg(long)]
    bill_date: Option<String>,
    /// YYYY-MM-DD.
    #[arg(long)]
    due_date: Option<String>,
    /// RFC 3339 with offset.
    #[arg(long)]
    valid_until: Option<String>,
    #[arg(long, default_value = "exact", value_parser = ["exact", "partial", "open"])]
    rule: String,
    #[arg(long)]
    min_amount: Option<String>,
    #[arg(long)]
    invoice_number: Option<String>,
    #[arg(long)]
    name: Option<String>,
    /// 6-digit prefix + 10 digits.
    #[arg(long)]
    va_number: Vec<String>,
    #[arg(long)]
    json: bool,
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

fn open_store(config: &Config, migrate: bool) -> anyhow::Result<Store> {
    Store::open(
        &config.database_url,
        config.master_key.clone(),
        PoolOptions::default(),
        migrate,
    )
    .map_err(|e| anyhow!("BILLHUB_DATABASE_URL: {e}"))
}

fn print(value: serde_json::Value, json_out: bool, text: impl FnOnce() -> String) {
    if json_out {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

fn org_id(store: &Store, code: &str) -> anyhow::Result<billhub_core::org::Organization> {
    store
        .organization_by_code(code)?
        .ok_or_else(|| anyhow!("no organization with code `{code}`"))
}

fn parse_date(flag: &str, text: &str) -> anyhow::Result<Date> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .with_context(|| format!("--{flag}: `{text}` is not a date like 2025-09-01"))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env("127.0.0.1:8081")?;
    let now = OffsetDateTime::now_utc();
    match cli.command {
        Command::Up { demo } => up::run(config, demo),
        Command::Migrate => {
            let store = open_store(&config, false)?;
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
        Command::Org(cmd) => {
            let store = open_store(&config, config.migrate)?;
            match cmd {
                OrgCommand::Create(a) => {
                    let offset = billhub_core::org::parse_offset(&a.utc_offset)
                        .map_err(|e| anyhow!("--utc-offset: {e}"))?;
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
                OrgCommand::Set { code, key, value } => {
                    let org = org_id(&store, &code)?;
                    store.set_setting(org.id, &key, &value, now)?;
                    println!("{code}: {key} = {value}");
                    Ok(())
                }
                OrgCommand::Show {
                    code,
                    json: as_json,
                } => {
                    let org = org_id(&store, &code)?;
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
                OrgCommand::List { json: as_json } => {
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
            }
        }
        Command::Credential(CredentialCommand::Create {
            org,
            dialect,
            rotate_signature_key,
            json: as_json,
        }) => {
            let store = open_store(&config, config.migrate)?;
            let o = org_id(&store, &org)?;
            let created = store.create_credential(o.id, &dialect, rotate_signature_key, now)?;
            let value = serde_json::to_value(&created)?;
            print(value.clone(), as_json, || {
                let mut s = format!(
                    "{dialect} credential {} for {org} (shown once):\n",
                    created.id
                );
                if let Some(m) = value.as_object() {
                    for (k, v) in m {
                        s.push_str(&format!(
                            "  {k}: {}\n",
                            v.as_str()
                                .map(String::from)
                                .unwrap_or_else(|| v.to_string())
                        ));
                    }
                }
                s
            });
            Ok(())
        }
        Command::Channel(cmd) => {
            let store = open_store(&config, config.migrate)?;
            match cmd {
                ChannelCommand::Create {
                    name,
                    dialect,
                    json: as_json,
                } => {
                    let created = store.create_channel(&name, &dialect, now)?;
                    let value = serde_json::to_value(&created)?;
                    print(value.clone(), as_json, || {
                        let mut s = format!(
                            "channel {} ({dialect}) created (secrets shown once):\n",
                            created.id
                        );
                        if let Some(m) = value.as_object() {
                            for (k, v) in m {
                                s.push_str(&format!(
                                    "  {k}: {}\n",
                                    v.as_str()
                                        .map(String::from)
                                        .unwrap_or_else(|| v.to_string())
                                ));
                            }
                        }
                        s
                    });
                    Ok(())
                }
                ChannelCommand::Enroll { channel, org } => {
                    let o = org_id(&store, &org)?;
                    store.enroll(channel, o.id, now)?;
                    println!("channel {channel} enrolled with {org}");
                    Ok(())
                }
            }
        }
        Command::Bill(BillCommand::Create(a)) => {
            let store = open_store(&config, config.migrate)?;
            let (account, bill, vas) = create_bill(&store, a.org.clone(), &a, now)?;
            let number = |b: &billhub_core::Bill| {
                json!({
                    "id": b.id,
                    "public_no": b.public_no,
                    "invoice_number": b.invoice_number,
                    "account": account.code,
                    "currency": b.currency.code(),
                    "amount": b.billed_money().to_fixed_string(),
                    "status": b.status.as_str(),
                    "va_numbers": vas,
                })
            };
            print(number(&bill), a.json, || {
                format!(
                    "bill {} ({}) created for account {}: {} {}",
                    bill.public_no,
                    bill.id,
                    account.code,
                    bill.billed_money().to_fixed_string(),
                    bill.currency
                )
            });
            Ok(())
        }
        Command::Unapplied(cmd) => {
            let store = open_store(&config, config.migrate)?;
            match cmd {
                UnappliedCommand::List { org, json: as_json } => {
                    let org_id = org
                        .as_deref()
                        .map(|c| org_id(&store, c))
                        .transpose()?
                        .map(|o| o.id);
                    let list = store.unapplied_payments(org_id)?;
                    print(json!({ "unapplied": list }), as_json, || {
                        list.iter()
                            .map(|u| {
                                format!(
                                    "#{}\t{}\t{} {}\t{} {}\taccount `{}`\t{}",
                                    u.id,
                                    u.status,
                                    u.amount,
                                    u.currency,
                                    u.channel,
                                    u.channel_ref,
                                    u.account_code,
                                    u.reason
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                    Ok(())
                }
                UnappliedCommand::Apply {
                    id,
                    bill,
                    account,
                    json: as_json,
                } => {
                    let row = store
                        .unapplied_payments(None)?
                        .into_iter()
                        .find(|u| u.id == id)
                        .ok_or_else(|| anyhow!("no unapplied payment #{id}"))?;
                    let org = row
                        .organization_id
                        .ok_or_else(|| anyhow!("unapplied payment #{id} has no organization"))?;
                    let target = match (bill, account) {
                        (Some(no), _) => {
                            let b = find_bill(&store, org, &no)?;
                            PaymentTarget::Bill { bill_id: b.id }
                        }
                        (None, Some(code)) => {
                            let a = store.account_by_code(org, &code)?.ok_or_else(|| {
                                anyhow!("--account: no account `{code}` in this organization")
                            })?;
                            PaymentTarget::Account {
                                account_id: a.id,
                                mode: None,
                                chosen: None,
                            }
                        }
                        (None, None) => bail!("say where to apply it: --bill or --account"),
                    };
                    let (row, payment) = store
                        .resolve_unapplied(id, &Resolution::Applied { target }, now)
                        .map_err(|e| match e {
                            StoreError::Rejected(r) => anyhow!("refused: {r}"),
                            other => other.into(),
                        })?;
                    let payment = payment.ok_or_else(|| anyhow!("no payment was posted"))?;
                    print(
                        json!({ "id": row.id, "status": row.status, "payment": payment.uid, "allocations": payment.allocations, "credit": payment.credit }),
                        as_json,
                        || {
                            format!(
                                "unapplied payment #{} applied as payment {} ({} allocation(s), credit {})",
                                row.id,
                                payment.uid,
                                payment.allocations.len(),
                                payment.credit
                            )
                        },
                    );
                    Ok(())
                }
                UnappliedCommand::Refund { id, note } => {
                    let (row, _) =
                        store.resolve_unapplied(id, &Resolution::Refunded { note }, now)?;
                    println!("unapplied payment #{} marked {}", row.id, row.status);
                    Ok(())
                }
            }
        }
        Command::Credit(cmd) => {
            let store = open_store(&config, config.migrate)?;
            let account_of = |org: &str, code: &str| -> anyhow::Result<billhub_core::Account> {
                let o = org_id(&store, org)?;
                store
                    .account_by_code(o.id, code)?
                    .ok_or_else(|| anyhow!("--account: no account `{code}` in {org}"))
            };
            let amount_of = |cur: &str, amount: &str| -> anyhow::Result<Money> {
                let c = Currency::from_code(cur).map_err(|e| anyhow!("--currency: {e}"))?;
                Money::parse(amount, c).map_err(|e| anyhow!("--amount: {e}"))
            };
            match cmd {
                CreditCommand::List { org, json: as_json } => {
                    let o = org_id(&store, &org)?;
                    let list = store.credit_balances(o.id)?;
                    print(json!({ "credits": list }), as_json, || {
                        if list.is_empty() {
                            return "no account credit".into();
                        }
                        list.iter()
                            .map(|c| {
                                let amount = Currency::from_code(&c.currency)
                                    .map(|cur| Money::from_minor(c.balance, cur).to_fixed_string())
                                    .unwrap_or_else(|_| c.balance.to_string());
                                format!("{}\t{} {}", c.account_code, amount, c.currency)
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                    Ok(())
                }
                CreditCommand::Apply {
                    org,
                    account,
                    currency,
                    amount,
                    bill,
                    reference,
                    json: as_json,
                } => {
                    let acc = account_of(&org, &account)?;
                    let amount = amount_of(&currency, &amount)?;
                    let target = match bill {
                        Some(no) => {
                            let b = find_bill(&store, acc.organization_id, &no)?;
                            PaymentTarget::Bill { bill_id: b.id }
                        }
                        None => PaymentTarget::Account {
                            account_id: acc.id,
                            mode: None,
                            chosen: None,
                        },
                    };
                    let payment = store
                        .apply_credit(acc.id, amount, &target, &reference, now)
                        .map_err(|e| match e {
                            StoreError::Rejected(r) => anyhow!("refused: {r}"),
                            other => other.into(),
                        })?;
                    let left = store.account_credit(acc.id, amount.currency())?;
                    print(
                        json!({ "payment": payment.uid, "allocations": payment.allocations, "credit_left": Money::from_minor(left, amount.currency()).to_fixed_string() }),
                        as_json,
                        || {
                            format!(
                                "applied {} {} of {account}'s credit as payment {}; {} left",
                                amount.to_fixed_string(),
                                amount.currency(),
                                payment.uid,
                                Money::from_minor(left, amount.currency()).to_fixed_string()
                            )
                        },
                    );
                    Ok(())
                }
                CreditCommand::Refund {
                    org,
                    account,
                    currency,
                    amount,
                    note,
                } => {
                    let acc = account_of(&org, &account)?;
                    let amount = amount_of(&currency, &amount)?;
                    let left = store.refund_credit(acc.id, amount, &note, now)?;
                    println!(
                        "refunded {} {} of {account}'s credit; {} left",
                        amount.to_fixed_string(),
                        amount.currency(),
                        Money::from_minor(left, amount.currency()).to_fixed_string()
                    );
                    Ok(())
                }
            }
        }
        Command::Check { json: as_json } => {
            let store = open_store(&config, config.migrate)?;
            let list = store.unapplied_payments(None)?;
            let open: Vec<_> = list.iter().filter(|u| u.status == "open").collect();
            print(json!({ "unapplied": list }), as_json, || {
                if open.is_empty() {
                    return "no unapplied money".into();
                }
                let mut s = format!("{} unapplied payment(s) need an operator:\n", open.len());
                for u in &open {
                    let amount = billhub_core::Currency::from_code(&u.currency)
                        .map(|c| Money::from_minor(u.amount, c).to_fixed_string())
                        .unwrap_or_else(|_| u.amount.to_string());
                    s.push_str(&format!(
                        "  #{} {} {} via {} ref {} account `{}`: {}\n",
                        u.id,
                        amount,
                        u.currency,
                        u.channel,
                        u.channel_ref,
                        u.account_code,
                        u.reason
                    ));
                }
                s
            });
            if !open.is_empty() && !as_json {
                bail!("{} unapplied payment(s)", open.len());
            }
            Ok(())
        }
    }
}

/// A bill of the organization by public number, else by invoice number (the newest).
fn find_bill(
    store: &Store,
    organization_id: i64,
    number: &str,
) -> anyhow::Result<billhub_core::Bill> {
    if let Some(b) = store.bill_by_public_no(organization_id, number)? {
        return Ok(b);
    }
    store
        .bills_by_invoice_number(organization_id, number)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("--bill: no bill `{number}` in this organization"))
}

/// Creates a bill from the CLI arguments (also used by the demo).
fn create_bill(
    store: &Store,
    org_code: String,
    a: &BillCreate,
    now: OffsetDateTime,
) -> anyhow::Result<(billhub_core::Account, billhub_core::Bill, Vec<String>)> {
    let org = org_id(store, &org_code)?;
    let currency = Currency::from_code(&a.currency).map_err(|e| anyhow!("--currency: {e}"))?;
    let amount = Money::parse(&a.amount, currency).map_err(|e| anyhow!("--amount: {e}"))?;
    if amount.minor() <= 0 {
        bail!("--amount: must be positive");
    }
    let minimum = a
        .min_amount
        .as_deref()
        .map(|m| Money::parse(m, currency).map_err(|e| anyhow!("--min-amount: {e}")))
        .transpose()?
        .map(|m| m.minor());
    let rule = match a.rule.as_str() {
        "exact" => PaymentRule::Exact,
        "partial" => PaymentRule::Partial { minimum },
        _ => PaymentRule::Open,
    };
    if minimum.is_some() && a.rule != "partial" {
        bail!("--min-amount: only with --rule partial");
    }
    let bill_date = match &a.bill_date {
        Some(d) => parse_date("bill-date", d)?,
        None => now.to_offset(org.utc_offset).date(),
    };
    let due_date = a
        .due_date
        .as_deref()
        .map(|d| parse_date("due-date", d))
        .transpose()?;
    let valid_until = a
        .valid_until
        .as_deref()
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).with_context(|| {
                format!("--valid-until: `{v}` is not RFC 3339 like 2025-09-30T23:59:59+07:00")
            })
        })
        .transpose()?;
    let mut vas = Vec::new();
    for v in &a.va_number {
        if v.len() != 16 || !v.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--va-number: `{v}` must be a 6-digit prefix and 10 digits (16 digits)");
        }
        vas.push((v[..6].to_string(), v[6..].to_string()));
    }
    let account = AccountInput {
        code: a.account.clone(),
        name: a.account_name.clone().unwrap_or_default(),
        name_latin: a.account_name_latin.clone().unwrap_or_default(),
        phone: a.phone.clone().unwrap_or_default(),
        ..Default::default()
    };
    let new = NewBill {
        organization_id: org.id,
        account_id: 0,
        collection_id: None,
        invoice_number: a.invoice_number.clone(),
        ref1: String::new(),
        ref2: String::new(),
        name: a.name.clone().unwrap_or_default(),
        description: String::new(),
        currency,
        billed: amount.minor(),
        items: vec![],
        bill_date,
        due_date,
        valid_until,
        rule,
        source: "cli".into(),
        extra: "{}".into(),
        va_numbers: vas.clone(),
    };
    let (acc, bill) = store.create_bill_for_account(&account, &new, now)?;
    Ok((
        acc,
        bill,
        vas.iter().map(|(p, n)| format!("{p}{n}")).collect(),
    ))
}
