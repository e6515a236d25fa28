//! Reconciliation of one channel's day (`billhub reconcile`): what billhub recorded for the
//! channel in the day (payments by `paid_at`, unapplied money by when it was recorded), compared
//! by channel reference with the channel's settlement statement, and unmatched statement lines
//! recorded as unapplied money, idempotently.
//!
//! What is recorded is read as export lines ([`PaymentLine`]), so the report and the export show a
//! payment the same way. The comparison ([`compare`]) is pure.

use std::collections::{BTreeMap, HashMap, HashSet};

use billhub_core::Money;
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::models::{PaymentRow, UnappliedRow};
use crate::repo::export::{
    ExportQuery, PaymentLine, PaymentStatus, channel_name, payment_lines, unapplied_line,
};
use crate::repo::posting::{OnRejection, PaymentOutcome, PaymentRequest, PaymentTarget};
use crate::schema::{channels, payments, unapplied_payments as up};
use crate::time_conv::to_db;
use crate::{Reader, StoreResult, Writer};

/// References per `IN (...)` lookup.
const LOOKUP_CHUNK: usize = 500;

/// One line of a channel's settlement statement, validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatementLine {
    /// Its line number in the file (the header is line 1).
    pub line: u64,
    pub reference: String,
    /// Minor units of `currency`: what the channel settles to the biller, without its fee.
    pub amount: i64,
    pub currency: String,
    /// The channel's fee, shown apart (the CSQ service fee), when the statement has the column.
    pub fee: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
}

/// Why a statement line and billhub's record of its reference disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// billhub reversed the payment.
    Reversed,
    /// billhub recorded it on another day.
    OtherDay,
    Currency,
    Amount,
    Fee,
}

impl MismatchKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            MismatchKind::Reversed => "reversed in billhub",
            MismatchKind::OtherDay => "recorded on another day",
            MismatchKind::Currency => "currency differs",
            MismatchKind::Amount => "amount differs",
            MismatchKind::Fee => "fee differs",
        }
    }
}

/// A statement line whose reference billhub knows, with what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub line: StatementLine,
    pub recorded: PaymentLine,
    pub kinds: Vec<MismatchKind>,
}

/// Totals of one currency: how many and how much (minor units).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Total {
    pub count: u64,
    pub amount: i64,
    pub fee: i64,
}

impl Total {
    fn add(&mut self, amount: i64, fee: i64) {
        self.count += 1;
        self.amount = self.amount.saturating_add(amount);
        self.fee = self.fee.saturating_add(fee);
    }
}

/// The comparison of a day's records with a statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// References both sides agree on.
    pub matched: u64,
    /// Recorded (applied or unapplied) in the day, absent from the statement.
    pub missing_from_statement: Vec<PaymentLine>,
    /// On the statement, unknown to billhub under this channel.
    pub missing_from_billhub: Vec<StatementLine>,
    pub mismatches: Vec<Mismatch>,
}

impl Comparison {
    pub fn agrees(&self) -> bool {
        self.missing_from_statement.is_empty()
            && self.missing_from_billhub.is_empty()
            && self.mismatches.is_empty()
    }
}

/// billhub's totals of a day by status, then currency.
pub fn recorded_totals(day: &[PaymentLine]) -> BTreeMap<(&'static str, String), Total> {
    let mut totals: BTreeMap<(&'static str, String), Total> = BTreeMap::new();
    for p in day {
        totals
            .entry((p.status.as_str(), p.currency.clone()))
            .or_default()
            .add(p.amount, p.fee);
    }
    totals
}

/// A statement's totals by currency.
pub fn statement_totals(lines: &[StatementLine]) -> BTreeMap<String, Total> {
    let mut totals: BTreeMap<String, Total> = BTreeMap::new();
    for l in lines {
        totals
            .entry(l.currency.clone())
            .or_default()
            .add(l.amount, l.fee.unwrap_or(0));
    }
    totals
}

/// Compares a day's records with the statement's lines, by reference. `elsewhere` are records of
/// the same channel outside the day whose references the statement names. A reversed payment
/// is expected on no statement; a line naming it is a mismatch, as is a line recorded on
/// another day. A line's fee is compared only when the statement has the column, and only with
/// a payment's (unapplied money has none).
pub fn compare(
    day: &[PaymentLine],
    elsewhere: &[PaymentLine],
    lines: &[StatementLine],
) -> Comparison {
    let by_ref: HashMap<&str, &PaymentLine> =
        day.iter().map(|p| (p.channel_ref.as_str(), p)).collect();
    let other: HashMap<&str, &PaymentLine> = elsewhere
        .iter()
        .map(|p| (p.channel_ref.as_str(), p))
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = Comparison::default();
    for line in lines {
        let reference = line.reference.as_str();
        let (recorded, today) = match (by_ref.get(reference), other.get(reference)) {
            (Some(p), _) => (*p, true),
            (None, Some(p)) => (*p, false),
            (None, None) => {
                out.missing_from_billhub.push(line.clone());
                continue;
            }
        };
        seen.insert(reference);
        let mut kinds = Vec::new();
        if recorded.status == PaymentStatus::Reversed {
            kinds.push(MismatchKind::Reversed);
        }
        if !today {
            kinds.push(MismatchKind::OtherDay);
        }
        if recorded.currency != line.currency {
            kinds.push(MismatchKind::Currency);
        }
        if recorded.amount != line.amount {
            kinds.push(MismatchKind::Amount);
        }
        // Unapplied money keeps no fee of its own to compare.
        let has_fee = matches!(
            recorded.status,
            PaymentStatus::Applied | PaymentStatus::Reversed
        );
        if has_fee && line.fee.is_some_and(|fee| fee != recorded.fee) {
            kinds.push(MismatchKind::Fee);
        }
        if kinds.is_empty() {
            out.matched += 1;
        } else {
            out.mismatches.push(Mismatch {
                line: line.clone(),
                recorded: recorded.clone(),
                kinds,
            });
        }
    }
    out.missing_from_statement = day
        .iter()
        .filter(|p| p.status != PaymentStatus::Reversed)
        .filter(|p| !seen.contains(p.channel_ref.as_str()))
        .cloned()
        .collect();
    out
}

/// The fingerprint of money recorded from a statement line: a re-run finds it as a repeat.
pub fn statement_fingerprint(channel: &str, line: &StatementLine) -> String {
    crate::repo::payments::fingerprint(&[
        "reconcile",
        channel,
        &line.reference,
        &line.currency,
        &line.amount.to_string(),
    ])
}

impl Reader<'_> {
    /// What billhub recorded for `channel` (stored text) between `from` (included) and `to`
    /// (excluded): payments by `paid_at`, unapplied money not since applied by when it was
    /// recorded; payments first, each in time order.
    pub fn recorded_between(
        &mut self,
        organization_id: i64,
        channel: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<PaymentLine>> {
        let q = ExportQuery {
            organization_id,
            offset: time::UtcOffset::UTC,
            from,
            to,
            channel: Some(channel.to_string()),
        };
        let conn = &mut *self.conn;
        let names = names(conn)?;
        let rows: Vec<PaymentRow> = payments::table
            .filter(payments::organization_id.eq(q.organization_id))
            .filter(payments::channel.eq(channel))
            .filter(payments::paid_at.ge(to_db(q.from)))
            .filter(payments::paid_at.lt(to_db(q.to)))
            .order((payments::paid_at.asc(), payments::id.asc()))
            .select(PaymentRow::as_select())
            .load(conn)?;
        let mut lines = payment_lines(conn, rows, &names)?;
        let unapplied: Vec<UnappliedRow> = up::table
            .filter(up::organization_id.eq(Some(q.organization_id)))
            .filter(up::channel.eq(channel))
            .filter(up::created_at.ge(to_db(q.from)))
            .filter(up::created_at.lt(to_db(q.to)))
            .filter(up::status.eq_any(["open", "refunded"]))
            .order((up::created_at.asc(), up::id.asc()))
            .select(UnappliedRow::as_select())
            .load(conn)?;
        lines.extend(unapplied.into_iter().map(|r| unapplied_line(r, &names)));
        Ok(lines)
    }

    /// What billhub recorded for `channel` under these references, whenever.
    pub fn recorded_by_references(
        &mut self,
        organization_id: i64,
        channel: &str,
        references: &[String],
    ) -> StoreResult<Vec<PaymentLine>> {
        let conn = &mut *self.conn;
        let names = names(conn)?;
        let mut lines = Vec::new();
        for chunk in references.chunks(LOOKUP_CHUNK) {
            let rows: Vec<PaymentRow> = payments::table
                .filter(payments::organization_id.eq(organization_id))
                .filter(payments::channel.eq(channel))
                .filter(payments::channel_ref.eq_any(chunk))
                .order(payments::id.asc())
                .select(PaymentRow::as_select())
                .load(conn)?;
            lines.extend(payment_lines(conn, rows, &names)?);
            let unapplied: Vec<UnappliedRow> = up::table
                .filter(up::organization_id.eq(Some(organization_id)))
                .filter(up::channel.eq(channel))
                .filter(up::channel_ref.eq_any(chunk))
                .filter(up::status.eq_any(["open", "refunded"]))
                .order(up::id.asc())
                .select(UnappliedRow::as_select())
                .load(conn)?;
            lines.extend(unapplied.into_iter().map(|r| unapplied_line(r, &names)));
        }
        Ok(lines)
    }
}

fn names(conn: &mut crate::AnyConnection) -> StoreResult<HashMap<i64, String>> {
    Ok(channels::table
        .select((channels::id, channels::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

impl Writer<'_> {
    /// Records statement lines billhub does not know as unapplied money of the organization
    /// under `channel`, each at its statement time, with the line's reference: a re-run (or a
    /// line already recorded this way) finds the first record (`replayed`), never a second one.
    /// A reference billhub holds with other content is refused (`InconsistentReplay`).
    pub fn record_statement_lines(
        &mut self,
        organization_id: i64,
        channel: &str,
        lines: &[StatementLine],
    ) -> StoreResult<Vec<(u64, PaymentOutcome)>> {
        let mut done = Vec::with_capacity(lines.len());
        for line in lines {
            let currency = crate::models::currency(&line.currency)?;
            let details = serde_json::json!({
                "source": "reconcile",
                "statement_line": line.line,
                "statement_time": crate::repo::export::time_text(line.time, time::UtcOffset::UTC),
                "fee": line.fee.map(|f| Money::from_minor(f, currency).to_fixed_string()),
            });
            let req = PaymentRequest {
                organization_id,
                channel: channel.to_string(),
                channel_ref: line.reference.clone(),
                request_hash: statement_fingerprint(channel, line),
                target: PaymentTarget::Unknown {
                    account_code: String::new(),
                },
                amount: Money::from_minor(line.amount, currency),
                fee: line.fee.unwrap_or(0),
                method: "statement".into(),
                payer_name: String::new(),
                details: details.to_string(),
                paid_at: line.time,
                on_rejection: OnRejection::RecordUnapplied,
            };
            // Stamped with the statement's time: an unapplied record's time is when the channel
            // took the money (it becomes the payment's `paid_at` once applied).
            let outcome = self.post_payment(&req, line.time)?;
            done.push((line.line, outcome));
        }
        Ok(done)
    }
}

/// The name `billhub channel list` shows for a stored channel text (see the export).
pub fn display_channel(names: &HashMap<i64, String>, channel: &str) -> String {
    channel_name(names, channel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn recorded(reference: &str, amount: i64, status: PaymentStatus) -> PaymentLine {
        PaymentLine {
            payment: format!("uid-{reference}"),
            paid_at: datetime!(2026-12-04 03:00 UTC),
            channel: "bill24".into(),
            channel_name: "bill24".into(),
            channel_ref: reference.into(),
            account: "A1".into(),
            bills: vec![],
            invoice_numbers: vec![],
            currency: "USD".into(),
            amount,
            fee: 25,
            credit: 0,
            status,
            reversed_at: None,
            method: String::new(),
            payer_name: String::new(),
        }
    }

    fn line(n: u64, reference: &str, amount: i64, fee: Option<i64>) -> StatementLine {
        StatementLine {
            line: n,
            reference: reference.into(),
            amount,
            currency: "USD".into(),
            fee,
            time: datetime!(2026-12-04 03:00 UTC),
        }
    }

    #[test]
    fn every_kind_of_difference() {
        let day = vec![
            recorded("A", 1000, PaymentStatus::Applied),
            recorded("B", 2000, PaymentStatus::Applied),
            recorded("C", 3000, PaymentStatus::Reversed),
            recorded("D", 4000, PaymentStatus::Unapplied),
            recorded("E", 5000, PaymentStatus::Applied),
            recorded("F", 6000, PaymentStatus::Reversed),
            recorded("H", 8000, PaymentStatus::Refunded),
        ];
        let elsewhere = vec![recorded("G", 7000, PaymentStatus::Applied)];
        let lines = vec![
            line(2, "A", 1000, None),
            line(3, "B", 2001, Some(25)),
            line(4, "C", 3000, None),
            line(5, "D", 4000, Some(30)),
            line(6, "G", 7000, None),
            line(7, "X", 9000, None),
            line(8, "E", 5000, Some(26)),
        ];
        let c = compare(&day, &elsewhere, &lines);
        assert!(!c.agrees());
        // A and D (unapplied money has no fee to compare).
        assert_eq!(c.matched, 2);
        let kinds: Vec<(u64, Vec<MismatchKind>)> = c
            .mismatches
            .iter()
            .map(|m| (m.line.line, m.kinds.clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (3, vec![MismatchKind::Amount]),
                (4, vec![MismatchKind::Reversed]),
                (6, vec![MismatchKind::OtherDay]),
                (8, vec![MismatchKind::Fee]),
            ]
        );
        assert_eq!(c.missing_from_billhub, vec![line(7, "X", 9000, None)]);
        let missing: Vec<&str> = c
            .missing_from_statement
            .iter()
            .map(|p| p.channel_ref.as_str())
            .collect();
        assert_eq!(missing, vec!["H"]);
    }

    #[test]
    fn agreement() {
        let day = vec![
            recorded("A", 1000, PaymentStatus::Applied),
            recorded("R", 10, PaymentStatus::Reversed),
        ];
        let c = compare(&day, &[], &[line(2, "A", 1000, Some(25))]);
        assert!(c.agrees());
        assert_eq!(c.matched, 1);
    }
}
