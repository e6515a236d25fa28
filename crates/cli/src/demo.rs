//! `billhub up --demo`: a demo organization with credentials for every dialect and a few bills,
//! and `./var/demo.env` with `export` lines so the docs' curl examples work as written.
//!
//! A fresh demo organization also has some work for the console: a paid shop order whose
//! webhook delivery failed (to retry), and money a terminal took for a mistyped account number,
//! kept as unapplied (to apply to the bill it was meant for, `INV-10004567`).

use std::fmt::Write as _;

use anyhow::Context;
use billhub_core::channel_settings::{SNAP_PARTNER_SERVICE_ID, SNAP_PUBLIC_KEY};
use billhub_core::org::Organization;
use billhub_core::{Channel, Currency, Money, PaymentRule};
use billhub_store::repo::collections::NewCollection;
use billhub_store::{
    AccountInput, DeliveryOutcome, NewBill, NewOrganization, OnRejection, PaymentRequest,
    PaymentTarget, PostResult, Store,
};
use time::{Duration, OffsetDateTime, UtcOffset};

pub const DEMO_ORG_CODE: &str = "DEMOORG1";
pub const DEMO_ENV_FILE: &str = "./var/demo.env";

fn bill(
    org: i64,
    currency: Currency,
    billed: i64,
    bill_date: time::Date,
    invoice: Option<&str>,
    name: &str,
) -> NewBill {
    NewBill {
        organization_id: org,
        account_id: 0,
        collection_id: None,
        invoice_number: invoice.map(String::from),
        ref1: String::new(),
        ref2: String::new(),
        name: name.into(),
        description: name.into(),
        currency,
        billed,
        items: vec![],
        bill_date,
        due_date: Some(bill_date + Duration::days(30)),
        valid_until: None,
        rule: PaymentRule::Exact,
        source: "demo".into(),
        extra: "{}".into(),
        va_numbers: vec![],
    }
}

/// Creates (or, on a later run, refreshes the credentials of) the demo organization, and writes
/// the demo environment file. Prints how to call each gateway, listening from `first_port` on
/// (bill24, collections, va, postpaid).
pub fn create(store: &Store, public_url: Option<&str>, first_port: u16) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    let offset = UtcOffset::from_hms(7, 0, 0).context("offset")?;
    let (org, fresh) = demo_organization(store, offset, now)?;
    let (mut env, terminals) = credentials(store, &org, fresh, now)?;
    if fresh {
        let collection = demo_bills(store, org.id, offset, now)?;
        env.push(("DEMO_COLLECTION", collection));
        demo_console_work(store, org.id, terminals, offset, now)?;
    } else {
        let existing = store.collections_page(org.id, 0, 1)?;
        if let Some(c) = existing.items.first() {
            env.push(("DEMO_COLLECTION", c.code.clone()));
        }
    }
    write_env(&env)?;
    print_howto(&org, fresh, public_url, first_port);
    Ok(())
}

/// The demo organization, and whether this run created it.
fn demo_organization(
    store: &Store,
    offset: UtcOffset,
    now: OffsetDateTime,
) -> anyhow::Result<(Organization, bool)> {
    if let Some(o) = store.organization_by_code(DEMO_ORG_CODE)? {
        return Ok((o, false));
    }
    let org = store.create_organization(
        &NewOrganization {
            code: Some(DEMO_ORG_CODE.into()),
            name: "Demo Biller".into(),
            utc_offset: offset,
            locale: "en".into(),
            settlement: Some(billhub_core::SettlementMode::Open),
            va_prefixes: vec!["009902".into()],
        },
        now,
    )?;
    Ok((org, true))
}

/// A credential for every dialect and two enrolled channels, as `export` names and values, and
/// the id of the demo terminal network.
fn credentials(
    store: &Store,
    org: &Organization,
    fresh: bool,
    now: OffsetDateTime,
) -> anyhow::Result<(Vec<(&'static str, String)>, i64)> {
    let mut env: Vec<(&str, String)> = vec![
        ("DEMO_ORG_CODE", org.code.clone()),
        ("DEMO_ORG_ID", org.id.to_string()),
    ];
    let b24 = store.create_credential(org.id, "bill24", false, now)?;
    env.push(("BILL24_TOKEN", b24.token.unwrap_or_default()));
    // A fresh organization gets the signature key with its first collections credential;
    // later runs rotate it so that it can be shown again.
    let col = store.create_credential(org.id, "collections", !fresh, now)?;
    env.push(("COLLECTIONS_TOKEN", col.access_token.unwrap_or_default()));
    env.push((
        "COLLECTIONS_SIGNATURE_KEY",
        col.signature_key.unwrap_or_default(),
    ));
    let va = store.create_credential(org.id, "va", false, now)?;
    env.push(("VA_CLIENT_ID", va.client_id.unwrap_or_default()));
    env.push(("VA_CLIENT_SECRET", va.client_secret.unwrap_or_default()));
    env.push(("VA_API_KEY", va.api_key.unwrap_or_default()));
    let bank = store.create_channel("Demo Bank", "va", now)?;
    store.enroll(bank.id, org.id, now)?;
    env.push(("VA_BANK_CLIENT_ID", bank.client_id.unwrap_or_default()));
    env.push((
        "VA_BANK_CLIENT_SECRET",
        bank.client_secret.unwrap_or_default(),
    ));
    env.push(("VA_BANK_API_KEY", bank.api_key.unwrap_or_default()));
    let net = store.create_channel("Demo Terminals", "postpaid", now)?;
    store.enroll(net.id, org.id, now)?;
    env.push(("POSTPAID_USER", net.username.unwrap_or_default()));
    env.push(("POSTPAID_PASSWORD", net.password.unwrap_or_default()));
    snap_bank(store, org, now, &mut env)?;
    let (email, password) = console_user(store, org, now)?;
    env.push(("CONSOLE_EMAIL", email));
    env.push(("CONSOLE_PASSWORD", password));
    Ok((env, net.id))
}

/// The demo console operator `demo@example.com` with a fresh random password (set again on
/// every run, which ends their sessions).
fn console_user(
    store: &Store,
    org: &Organization,
    now: OffsetDateTime,
) -> anyhow::Result<(String, String)> {
    use billhub_store::users::{self, Role};
    const EMAIL: &str = "demo@example.com";
    let password = users::new_password();
    let hash = users::hash_password(&password)?;
    match store.console_sign_in_candidate(org.id, EMAIL)? {
        Some(c) => {
            store.set_console_password(c.user.id, &hash)?;
        }
        None => {
            store.create_console_user(org.id, EMAIL, Role::Operator, &hash, now)?;
        }
    }
    Ok((EMAIL.to_string(), password))
}

/// The demo SNAP bank's private key, for `scripts/snap-sign`.
pub const DEMO_SNAP_KEY_FILE: &str = "./var/demo-snap-bank.pem";
/// The demo SNAP bank's `partnerServiceId` for the demo prefix `009902`.
pub const DEMO_PARTNER_SERVICE_ID: &str = "88888";

/// A SNAP bank with a fresh RSA key pair: its public key registered, its private key written to
/// [`DEMO_SNAP_KEY_FILE`] (owner-only), the demo prefix mapped to [`DEMO_PARTNER_SERVICE_ID`].
fn snap_bank(
    store: &Store,
    org: &Organization,
    now: OffsetDateTime,
    env: &mut Vec<(&'static str, String)>,
) -> anyhow::Result<()> {
    let (private_pem, public_pem) =
        billhub_core::signature::snap::generate_key_pair(&mut rand::rng())
            .map_err(|e| anyhow::anyhow!("demo SNAP key: {e}"))?;
    let bank = store.create_channel("Demo SNAP Bank", "snap", now)?;
    store.enroll(bank.id, org.id, now)?;
    store.set_channel_setting(bank.id, SNAP_PUBLIC_KEY, &public_pem, now)?;
    store.set_channel_setting(
        bank.id,
        &format!("{SNAP_PARTNER_SERVICE_ID}009902"),
        DEMO_PARTNER_SERVICE_ID,
        now,
    )?;
    write_private(DEMO_SNAP_KEY_FILE, &private_pem)?;
    env.push(("SNAP_CLIENT_ID", bank.client_id.unwrap_or_default()));
    env.push(("SNAP_CLIENT_SECRET", bank.client_secret.unwrap_or_default()));
    env.push(("SNAP_PRIVATE_KEY_FILE", DEMO_SNAP_KEY_FILE.to_string()));
    env.push((
        "SNAP_PARTNER_SERVICE_ID",
        format!("{DEMO_PARTNER_SERVICE_ID:>8}"),
    ));
    Ok(())
}

/// Writes a secret file readable by its owner only.
fn write_private(path: &str, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {path}"))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {path}"))
}

/// The demo collection and a few bills of three accounts; returns the collection's code.
fn demo_bills(
    store: &Store,
    org_id: i64,
    offset: UtcOffset,
    now: OffsetDateTime,
) -> anyhow::Result<String> {
    let collection = store.create_collection(
        org_id,
        &NewCollection {
            name: "Demo collection".into(),
            webhook_url: None,
            redirect_url: None,
        },
        now,
    )?;
    store.set_setting(org_id, "locale", "en", now)?;
    for (account, new) in &demo_bill_list(org_id, offset, now) {
        store.create_bill_for_account(account, new, now)?;
    }
    Ok(collection.code)
}

/// Two KHR water bills, two EUR installments and an IDR bill with a VA number.
fn demo_bill_list(
    org_id: i64,
    offset: UtcOffset,
    now: OffsetDateTime,
) -> Vec<(AccountInput, NewBill)> {
    let today = billhub_store::local_date(now, offset);
    let last_month = today - Duration::days(30);
    let khmer = AccountInput {
        code: "CU003035".into(),
        name: "ញ៉េប នីម".into(),
        name_latin: "Nheb Nim".into(),
        phone: "010888999".into(),
        ..Default::default()
    };
    let card = AccountInput {
        code: "CARD123456".into(),
        name: "Richard Hammond".into(),
        ..Default::default()
    };
    let va_acc = AccountInput {
        code: "1234567890".into(),
        name: "Budi Santoso".into(),
        ..Default::default()
    };
    vec![
        (
            khmer.clone(),
            bill(
                org_id,
                Currency::KHR,
                500_000,
                last_month,
                None,
                "Water bill",
            ),
        ),
        (
            khmer,
            bill(org_id, Currency::KHR, 500_000, today, None, "Water bill"),
        ),
        (
            card.clone(),
            bill(
                org_id,
                Currency::EUR,
                6_500,
                last_month,
                Some("INV-10004567"),
                "Installment 1",
            ),
        ),
        (
            card,
            bill(
                org_id,
                Currency::EUR,
                6_000,
                today,
                Some("INV-10004568"),
                "Installment 2",
            ),
        ),
        (
            va_acc,
            NewBill {
                va_numbers: vec![("009902".into(), "1234567890".into())],
                valid_until: Some(now + Duration::days(90)),
                ..bill(
                    org_id,
                    Currency::IDR,
                    10_000_000,
                    today,
                    Some("INV01/TRX000001"),
                    "SPP Jan 22",
                )
            },
        ),
    ]
}

/// Where the demo shop's webhook points: a name that never resolves (RFC 2606), so a retried
/// delivery fails again.
pub const DEMO_SHOP_WEBHOOK: &str = "https://shop.example/billhub/callback";
/// The error the demo's failed delivery shows (the notification worker's own wording).
pub const DEMO_FAILED_DELIVERY_ERROR: &str = "receiver answered 503";
/// The unapplied demo money: the terminal's reference and the account number typed.
pub const DEMO_UNAPPLIED_REF: &str = "T-20260001";
pub const DEMO_UNAPPLIED_ACCOUNT: &str = "CARD12345";

/// Work for the console: a shop order paid at a terminal whose webhook delivery failed, and
/// money a terminal took for a mistyped account number (`CARD12345`, meant for `CARD123456`'s
/// first installment, EUR 65.00), kept as unapplied.
fn demo_console_work(
    store: &Store,
    org_id: i64,
    terminals: i64,
    offset: UtcOffset,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let channel = Channel::Postpaid(terminals).as_db();
    let shop = store.create_collection(
        org_id,
        &NewCollection {
            name: "Demo shop".into(),
            webhook_url: Some(DEMO_SHOP_WEBHOOK.into()),
            redirect_url: None,
        },
        now,
    )?;
    let today = billhub_store::local_date(now, offset);
    let buyer = AccountInput {
        code: "SHOP-0042".into(),
        name: "Aisyah binti Ahmad".into(),
        ..Default::default()
    };
    let order = NewBill {
        collection_id: Some(shop.id),
        ..bill(
            org_id,
            Currency::MYR,
            13_400,
            today,
            Some("ORD-1001"),
            "Order 1001",
        )
    };
    let (_, order) = store.create_bill_for_account(&buyer, &order, now)?;
    let paid = payment(
        org_id,
        &channel,
        "T-20260000",
        PaymentTarget::Bill { bill_id: order.id },
        Money::from_minor(13_400, Currency::MYR),
        now,
    );
    match store.post_payment(&paid, now)?.result {
        PostResult::Posted(_) => {}
        PostResult::Unapplied(u) => anyhow::bail!("demo order payment not applied: {}", u.reason),
    }
    fail_shop_delivery(store, org_id, now)?;
    let typo = PaymentRequest {
        on_rejection: OnRejection::RecordUnapplied,
        ..payment(
            org_id,
            &channel,
            DEMO_UNAPPLIED_REF,
            PaymentTarget::Unknown {
                account_code: DEMO_UNAPPLIED_ACCOUNT.into(),
            },
            Money::from_minor(6_500, Currency::EUR),
            now,
        )
    };
    match store.post_payment(&typo, now)?.result {
        PostResult::Unapplied(_) => Ok(()),
        PostResult::Posted(p) => anyhow::bail!("demo unapplied money was posted as {}", p.uid),
    }
}

/// A terminal payment of the demo organization.
fn payment(
    org_id: i64,
    channel: &str,
    reference: &str,
    target: PaymentTarget,
    amount: Money,
    now: OffsetDateTime,
) -> PaymentRequest {
    PaymentRequest {
        organization_id: org_id,
        channel: channel.into(),
        channel_ref: reference.into(),
        request_hash: billhub_store::fingerprint(&["demo", channel, reference]),
        target,
        amount,
        fee: 0,
        method: "cash".into(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: now,
        on_rejection: OnRejection::Refuse,
    }
}

/// Records the demo shop's webhook delivery as failed (one attempt, answered 503), before any
/// notification worker runs. Deliveries of other organizations claimed on the way are left
/// alone: their short lease runs out within a second.
fn fail_shop_delivery(store: &Store, org_id: i64, now: OffsetDateTime) -> anyhow::Result<()> {
    let claimed = store.claim_deliveries(
        billhub_core::org::collections::CALLBACK_DIALECT,
        now,
        Duration::seconds(1),
        100,
    )?;
    let mut failed = 0;
    for d in claimed
        .iter()
        .filter(|d| d.event.organization_id == org_id && d.target_url == DEMO_SHOP_WEBHOOK)
    {
        let outcome = DeliveryOutcome::Failed {
            error: DEMO_FAILED_DELIVERY_ERROR.into(),
            status: Some(503),
        };
        if store.finish_delivery(d, now, &outcome)? {
            failed += 1;
        }
    }
    anyhow::ensure!(
        failed == 1,
        "demo: {failed} shop deliveries recorded as failed, not 1"
    );
    Ok(())
}

/// Writes `./var/demo.env` with one `export` line per value.
fn write_env(env: &[(&str, String)]) -> anyhow::Result<()> {
    let mut file = String::from(
        "# billhub demo credentials, written by `billhub up --demo`. Secrets: keep private.\n",
    );
    for (k, v) in env {
        let _ = writeln!(file, "export {k}='{v}'");
    }
    if let Some(dir) = std::path::Path::new(DEMO_ENV_FILE).parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(DEMO_ENV_FILE, &file).with_context(|| format!("cannot write {DEMO_ENV_FILE}"))
}

/// How to call each gateway with the demo credentials (to stderr).
fn print_howto(org: &Organization, fresh: bool, public_url: Option<&str>, first_port: u16) {
    let base = |offset: u16| {
        public_url
            .map(String::from)
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", first_port.saturating_add(offset)))
    };
    eprintln!(
        "\nDemo organization {} (id {}) is ready{}. Credentials are in {DEMO_ENV_FILE}:\n\n  source {DEMO_ENV_FILE}\n\n\
         Bill24 inquiry:\n  curl -s {}/proxy -H \"token: $BILL24_TOKEN\" -H 'Content-Type: application/json' -d '{{\"consumer_code\":\"CU003035\"}}'\n\
         Collections:\n  curl -s {}/api/collections -H \"Authorization: Bearer $COLLECTIONS_TOKEN\" -H 'Accept: application/json'\n\
         VA token:\n  curl -s {}/oauth/token -H 'Content-Type: application/json' -d \"{{\\\"grant_type\\\":\\\"client_credentials\\\",\\\"client_id\\\":\\\"$VA_CLIENT_ID\\\",\\\"client_secret\\\":\\\"$VA_CLIENT_SECRET\\\",\\\"scope\\\":\\\"*\\\"}}\"\n\
         Postpaid ping:\n  curl -s {}/ping\n         SNAP token (signed by scripts/snap-sign with the demo bank's key):\n  curl -s {}/v1.0/access-token/b2b -H @<(scripts/snap-sign token) -H 'Content-Type: application/json' -d '{{\"grantType\":\"client_credentials\"}}'\n\n         See docs/dialects/*.md for every endpoint.\n",
        org.code,
        org.id,
        if fresh {
            ""
        } else {
            " (existing; new credentials issued)"
        },
        base(0),
        base(1),
        base(2),
        base(3),
        base(4),
    );
}
