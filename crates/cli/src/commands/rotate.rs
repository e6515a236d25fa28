//! `billhub rotate-master-key [--json]`: seals every secret at rest again with the current master
//! key (`BILLHUB_MASTER_KEY`, or the embedded default's key file) while the old keys listed in
//! `BILLHUB_MASTER_KEYS` still open what they sealed; then says, per old key, whether it can go.
//! Safe while gateways run (batches, compare-and-set per row) and idempotent. Exits 1 when any
//! secret is left sealed with another key than the current one. The procedure is in
//! `docs/keys.md`.

use anyhow::bail;
use billhub_store::repo::rotate::{ROTATION_BATCH, Rotation, SecretColumn};
use billhub_store::{MasterKey, Store};
use clap::Args;
use serde_json::{Value, json};

use super::print;

#[derive(Args)]
pub struct RotateArgs {
    #[arg(long)]
    json: bool,
    /// Rows read and re-sealed per batch (each batch is one short write transaction).
    #[arg(long, default_value_t = ROTATION_BATCH, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    batch: i64,
}

/// What happens to each old key, and to secrets of keys not configured.
struct Verdict {
    /// Old keys (`BILLHUB_MASTER_KEYS`) that seal nothing any more.
    removable: Vec<String>,
    /// Sealings other than the current key that still hold secrets: label and count.
    remaining: Vec<(String, u64)>,
}

fn verdict(key: &MasterKey, rotation: &Rotation) -> Verdict {
    let removable = key
        .old_ids()
        .into_iter()
        .filter(|id| !rotation.sealed_with.contains_key(*id))
        .map(String::from)
        .collect();
    let remaining = rotation
        .sealed_with
        .iter()
        .filter(|(label, _)| label.as_str() != key.id())
        .map(|(label, n)| (label.clone(), *n))
        .collect();
    Verdict {
        removable,
        remaining,
    }
}

impl RotateArgs {
    pub fn run(self, store: &Store) -> anyhow::Result<()> {
        let key = store.master_key().clone();
        let rotation = store.rotate_master_key(self.batch)?;
        let verdict = verdict(&key, &rotation);
        print(value(&key, &rotation, &verdict), self.json, || {
            text(&key, &rotation, &verdict)
        });
        if !verdict.remaining.is_empty() {
            bail!(
                "{} secret(s) are not sealed with the current key {}: keep the keys they need",
                verdict.remaining.iter().map(|(_, n)| n).sum::<u64>(),
                key.id()
            );
        }
        Ok(())
    }
}

fn value(key: &MasterKey, rotation: &Rotation, verdict: &Verdict) -> Value {
    let resealed: serde_json::Map<String, Value> = SecretColumn::ALL
        .iter()
        .map(|c| {
            let n = rotation.resealed.get(c).copied().unwrap_or(0);
            (c.name().to_string(), json!(n))
        })
        .collect();
    json!({
        "ok": verdict.remaining.is_empty(),
        "current_key": key.id(),
        "old_keys": key.old_ids(),
        "resealed": resealed,
        "already_current": rotation.already_current,
        "changed_meanwhile": rotation.changed_meanwhile,
        "unreadable": rotation.unreadable.iter().map(|u| json!({
            "column": u.column.name(),
            "id": u.id,
            "error": u.error.to_string(),
        })).collect::<Vec<_>>(),
        "sealed_with": rotation.sealed_with,
        "removable": verdict.removable,
    })
}

fn text(key: &MasterKey, rotation: &Rotation, verdict: &Verdict) -> String {
    let mut s = format!(
        "re-sealed {} secret(s) with the current key {} ({} already were)\n",
        rotation.resealed_total(),
        key.id(),
        rotation.already_current
    );
    for c in SecretColumn::ALL {
        let n = rotation.resealed.get(&c).copied().unwrap_or(0);
        s.push_str(&format!("  {}: {n}\n", c.name()));
    }
    for u in &rotation.unreadable {
        s.push_str(&format!(
            "cannot re-seal {} row {}: {}\n",
            u.column.name(),
            u.id,
            u.error
        ));
    }
    if rotation.changed_meanwhile > 0 {
        s.push_str(&format!(
            "{} secret(s) changed while this ran (a gateway still sealing with an older key \
             as its current one?): restart every gateway with the new key, then run this again\n",
            rotation.changed_meanwhile
        ));
    }
    for id in &verdict.removable {
        s.push_str(&format!(
            "no secret is sealed with key {id} any more: remove it from BILLHUB_MASTER_KEYS\n"
        ));
    }
    let old = key.old_ids();
    for (label, n) in &verdict.remaining {
        let why = if label == "v1" {
            "sealed before key ids, with no configured key that opens them".to_string()
        } else if label == "malformed" {
            "not a sealed secret billhub recognises".to_string()
        } else if old.contains(&label.as_str()) {
            format!(
                "keep {label} in BILLHUB_MASTER_KEYS; unless a line above says why, a process \
                 still seals with {label} as its current key: restart it with the new key and \
                 run this again"
            )
        } else {
            format!(
                "key {label} is not configured: add it to BILLHUB_MASTER_KEYS and run this again"
            )
        };
        s.push_str(&format!("{n} secret(s) still sealed with {label}: {why}\n"));
    }
    if verdict.remaining.is_empty() {
        s.push_str(&format!("every secret is sealed with key {}", key.id()));
        if old.is_empty() {
            s.push_str("; BILLHUB_MASTER_KEYS lists no old key");
        }
    } else {
        s.push_str("the old keys above cannot go yet");
    }
    s
}
