//! The operator console's money actions and its action log, always for one organization (the
//! signed-in user's, from the session, never from the request).
//!
//! Each action is the CLI's own operation ([`Writer::resolve_unapplied`],
//! [`Writer::apply_credit`], [`Writer::refund_credit`]) or the outbox's
//! [`Writer::retry_delivery`], run in ONE write transaction with the row of the action log that
//! records it: both are written or neither is. The log (`console_actions`) is kept forever:
//! nothing here updates or deletes it.
//!
//! An id of another organization (an unapplied payment, an account, a delivery) is
//! [`ActionError::NotFound`], exactly like an unknown id, and changes nothing.

use billhub_core::{Bill, Channel, Money, Payment};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::models::UnappliedRow;
use crate::repo::bills::load_account;
use crate::repo::outbox::{DeliveryRecord, RetryOutcome};
use crate::repo::posting::PaymentTarget;
use crate::repo::unapplied::Resolution;
use crate::schema::console_actions as ca;
use crate::schema::unapplied_payments as up;
use crate::time_conv::{from_db, to_db};
use crate::{Reader, Store, StoreError, StoreResult, TxError, Writer};

/// What the action log calls each action.
pub mod action {
    pub const UNAPPLIED_APPLY: &str = "unapplied.apply";
    pub const UNAPPLIED_REFUND: &str = "unapplied.refund";
    pub const CREDIT_APPLY: &str = "credit.apply";
    pub const CREDIT_REFUND: &str = "credit.refund";
    pub const NOTIFICATION_RETRY: &str = "notification.retry";
}

/// Who acts: the signed-in console user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub organization_id: i64,
    pub user_id: i64,
    /// The user's e-mail, kept in the log as it is now.
    pub email: String,
}

/// One row of the action log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRecord {
    pub id: i64,
    pub organization_id: i64,
    pub user_id: i64,
    pub email: String,
    /// One of [`action`].
    pub action: String,
    /// What it was done to: `unapplied payment #12`, `account ACC1`, `delivery #7`.
    pub object: String,
    /// What was done, with the exact amounts (`applied 42.00 USD ...`).
    pub detail: String,
    pub created_at: OffsetDateTime,
}

/// Why a console action did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The object is not the organization's (or does not exist): the same answer for both.
    #[error("not found")]
    NotFound,
    /// The bill number (public or invoice number) names no bill of the organization.
    #[error("no bill `{0}` in this organization")]
    UnknownBill(String),
    /// No bill number was given where one is needed.
    #[error("say which bill (its public number or invoice number)")]
    NoBill,
    /// The delivery to retry has not failed (it is pending or delivered).
    #[error("delivery {id} is {status}, not failed")]
    NotFailed { id: i64, status: String },
    /// Refused by the operation itself (core's rules, already resolved, a missing note, ...).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TxError for ActionError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            ActionError::Store(e) => Some(e),
            _ => None,
        }
    }
}

/// Unapplied money as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUnapplied {
    pub id: i64,
    pub channel: String,
    pub channel_ref: String,
    pub account_code: String,
    pub currency: String,
    /// Minor units.
    pub amount: i64,
    /// Core's refusal as JSON (`{"reason":"above_outstanding",...}`).
    pub reason: String,
    /// `open`, `applied` or `refunded`.
    pub status: String,
    /// The refund note, or the uid of the payment it was applied as; empty while open.
    pub resolution: String,
    pub created_at: OffsetDateTime,
    pub resolved_at: Option<OffsetDateTime>,
}

/// The unapplied page of one organization: one page of open money (oldest first) and the
/// most recently resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnappliedPage {
    pub open: Vec<ListedUnapplied>,
    /// More open rows follow this page.
    pub more: bool,
    pub resolved: Vec<ListedUnapplied>,
}

/// What an applied unapplied payment became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedUnapplied {
    pub bill: Bill,
    pub payment: Payment,
}

/// What a credit application did; `replayed` when this reference had already been applied
/// (a form sent twice): then nothing new was written, not even a log row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedCredit {
    pub payment: Payment,
    pub replayed: bool,
    /// The account's credit left in that currency (minor units).
    pub left: i64,
}

type ActionRow = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    String,
    time::PrimitiveDateTime,
);

fn listed(r: UnappliedRow) -> ListedUnapplied {
    let details: serde_json::Value = serde_json::from_str(&r.details).unwrap_or_default();
    let resolution = match r.status.as_str() {
        "refunded" => details.get("refund_note"),
        "applied" => details.get("applied_payment"),
        _ => None,
    }
    .and_then(|v| v.as_str())
    .unwrap_or_default()
    .to_string();
    ListedUnapplied {
        id: r.id,
        channel: r.channel,
        channel_ref: r.channel_ref,
        account_code: r.account_code,
        currency: r.currency,
        amount: r.amount,
        reason: r.reason,
        status: r.status,
        resolution,
        created_at: from_db(r.created_at),
        resolved_at: r.resolved_at.map(from_db),
    }
}

/// `limit` rows after `offset` (at most `limit` of `rows`, fetched with one extra) and whether
/// more follow.
fn page_of<T>(mut rows: Vec<T>, limit: i64) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit.max(0)).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

fn money_text(minor: i64, currency: &str) -> String {
    match billhub_core::Currency::from_code(currency) {
        Ok(c) => Money::from_minor(minor, c).to_string(),
        Err(_) => format!("{minor} {currency} (minor units)"),
    }
}

impl Reader<'_> {
    /// One page (`limit` after `offset`, oldest first) of the organization's open unapplied
    /// money, and its `resolved` most recently resolved.
    pub fn console_unapplied(
        &mut self,
        organization_id: i64,
        offset: i64,
        limit: i64,
        resolved: i64,
    ) -> StoreResult<UnappliedPage> {
        self.with(|conn| {
            let open: Vec<UnappliedRow> = up::table
                .filter(up::organization_id.eq(Some(organization_id)))
                .filter(up::status.eq("open"))
                .order(up::id.asc())
                .offset(offset.max(0))
                .limit(limit.max(0).saturating_add(1))
                .select(UnappliedRow::as_select())
                .load(conn)?;
            let (open, more) = page_of(open, limit);
            let done: Vec<UnappliedRow> = up::table
                .filter(up::organization_id.eq(Some(organization_id)))
                .filter(up::status.ne("open"))
                .order((up::resolved_at.desc(), up::id.desc()))
                .limit(resolved.max(0))
                .select(UnappliedRow::as_select())
                .load(conn)?;
            Ok(UnappliedPage {
                open: open.into_iter().map(listed).collect(),
                more,
                resolved: done.into_iter().map(listed).collect(),
            })
        })
    }

    /// One page of the organization's action log, newest first, and whether more follow.
    pub fn console_actions(
        &mut self,
        organization_id: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<ActionRecord>, bool)> {
        self.with(|conn| {
            let rows: Vec<ActionRow> = ca::table
                .filter(ca::organization_id.eq(organization_id))
                .order(ca::id.desc())
                .offset(offset.max(0))
                .limit(limit.max(0).saturating_add(1))
                .select((
                    ca::id,
                    ca::organization_id,
                    ca::user_id,
                    ca::email,
                    ca::action,
                    ca::object,
                    ca::detail,
                    ca::created_at,
                ))
                .load(conn)?;
            let (rows, more) = page_of(rows, limit);
            Ok((
                rows.into_iter()
                    .map(|r| ActionRecord {
                        id: r.0,
                        organization_id: r.1,
                        user_id: r.2,
                        email: r.3,
                        action: r.4,
                        object: r.5,
                        detail: r.6,
                        created_at: from_db(r.7),
                    })
                    .collect(),
                more,
            ))
        })
    }

    /// The organization's bill with this public number, else the newest with this invoice
    /// number (as `billhub unapplied apply --bill` finds it).
    pub fn console_find_bill(
        &mut self,
        organization_id: i64,
        number: &str,
    ) -> StoreResult<Option<Bill>> {
        let number = number.trim();
        if number.is_empty() {
            return Ok(None);
        }
        if let Some(b) = self.bill_by_public_no(organization_id, number)? {
            return Ok(Some(b));
        }
        Ok(self
            .bills_by_invoice_number(organization_id, number)?
            .into_iter()
            .next())
    }
}

impl Writer<'_> {
    /// Writes one row of the action log (inside the action's own transaction).
    fn log_action(
        &mut self,
        actor: &Actor,
        action: &str,
        object: &str,
        detail: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        self.with(|conn| {
            diesel::insert_into(ca::table)
                .values((
                    ca::organization_id.eq(actor.organization_id),
                    ca::user_id.eq(actor.user_id),
                    ca::email.eq(&actor.email),
                    ca::action.eq(action),
                    ca::object.eq(object),
                    ca::detail.eq(detail),
                    ca::created_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// The organization's unapplied payment `id` (another organization's is not found).
    fn own_unapplied(&mut self, actor: &Actor, id: i64) -> Result<UnappliedRow, ActionError> {
        let row: Option<UnappliedRow> = self.with(|conn| {
            Ok(up::table
                .filter(up::id.eq(id))
                .filter(up::organization_id.eq(Some(actor.organization_id)))
                .select(UnappliedRow::as_select())
                .first(conn)
                .optional()?)
        })?;
        row.ok_or(ActionError::NotFound)
    }

    /// The organization's account `id` (another organization's is not found).
    fn own_account(
        &mut self,
        actor: &Actor,
        account_id: i64,
    ) -> Result<billhub_core::Account, ActionError> {
        match self.with(|conn| load_account(conn, account_id)) {
            Ok(a) if a.organization_id == actor.organization_id => Ok(a),
            Ok(_) => Err(ActionError::NotFound),
            Err(e) if e.is_not_found() => Err(ActionError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// `billhub unapplied apply ID --bill NUMBER` for the console, logged.
    pub fn console_apply_unapplied(
        &mut self,
        actor: &Actor,
        id: i64,
        bill_number: &str,
        now: OffsetDateTime,
    ) -> Result<AppliedUnapplied, ActionError> {
        let row = self.own_unapplied(actor, id)?;
        let number = bill_number.trim();
        if number.is_empty() {
            return Err(ActionError::NoBill);
        }
        let bill = self
            .console_find_bill(actor.organization_id, number)?
            .ok_or_else(|| ActionError::UnknownBill(number.to_string()))?;
        let target = PaymentTarget::Bill { bill_id: bill.id };
        let (_, payment) = self.resolve_unapplied(id, &Resolution::Applied { target }, now)?;
        let payment = payment.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "unapplied payment {id} was applied without a payment"
            ))
        })?;
        let detail = format!(
            "applied {} ({} {}) to bill {} as payment {}",
            money_text(row.amount, &row.currency),
            row.channel,
            row.channel_ref,
            bill.public_no,
            payment.uid
        );
        self.log_action(
            actor,
            action::UNAPPLIED_APPLY,
            &format!("unapplied payment #{id}"),
            &detail,
            now,
        )?;
        let bill = self.bill(bill.id)?;
        Ok(AppliedUnapplied { bill, payment })
    }

    /// `billhub unapplied refund ID --note NOTE` for the console, logged.
    pub fn console_refund_unapplied(
        &mut self,
        actor: &Actor,
        id: i64,
        note: &str,
        now: OffsetDateTime,
    ) -> Result<(), ActionError> {
        let row = self.own_unapplied(actor, id)?;
        let note = note.trim().to_string();
        self.resolve_unapplied(id, &Resolution::Refunded { note: note.clone() }, now)?;
        let detail = format!(
            "refunded {} ({} {}): {note}",
            money_text(row.amount, &row.currency),
            row.channel,
            row.channel_ref,
        );
        self.log_action(
            actor,
            action::UNAPPLIED_REFUND,
            &format!("unapplied payment #{id}"),
            &detail,
            now,
        )?;
        Ok(())
    }

    /// `billhub credit apply` for the console, logged: pays the bill `bill_number` of the
    /// account (or, when empty, the account's bills under the settlement mode) from its
    /// credit. `reference` identifies the operation (the form carries one): the same reference
    /// again changes nothing and logs nothing.
    pub fn console_apply_credit(
        &mut self,
        actor: &Actor,
        account_id: i64,
        amount: Money,
        bill_number: &str,
        reference: &str,
        now: OffsetDateTime,
    ) -> Result<AppliedCredit, ActionError> {
        let account = self.own_account(actor, account_id)?;
        let channel = Channel::Credit.as_db();
        if let Some(p) = self.payment_by_channel_ref(&channel, reference)?
            && p.organization_id == actor.organization_id
            && !reference.trim().is_empty()
        {
            let left = self.account_credit(account_id, amount.currency())?;
            return Ok(AppliedCredit {
                payment: p,
                replayed: true,
                left,
            });
        }
        let number = bill_number.trim();
        let (target, to) = if number.is_empty() {
            (
                PaymentTarget::Account {
                    account_id,
                    mode: None,
                    chosen: None,
                },
                "the account's bills".to_string(),
            )
        } else {
            let bill = self
                .console_find_bill(actor.organization_id, number)?
                .ok_or_else(|| ActionError::UnknownBill(number.to_string()))?;
            (
                PaymentTarget::Bill { bill_id: bill.id },
                format!("bill {}", bill.public_no),
            )
        };
        let payment = self.apply_credit(account_id, amount, &target, reference, now)?;
        let left = self.account_credit(account_id, amount.currency())?;
        let detail = format!(
            "applied {amount} of credit to {to} as payment {}; {} left",
            payment.uid,
            Money::from_minor(left, amount.currency())
        );
        self.log_action(
            actor,
            action::CREDIT_APPLY,
            &format!("account {}", account.code),
            &detail,
            now,
        )?;
        Ok(AppliedCredit {
            payment,
            replayed: false,
            left,
        })
    }

    /// `billhub credit refund` for the console, logged. Returns the credit left (minor units).
    pub fn console_refund_credit(
        &mut self,
        actor: &Actor,
        account_id: i64,
        amount: Money,
        note: &str,
        now: OffsetDateTime,
    ) -> Result<i64, ActionError> {
        let account = self.own_account(actor, account_id)?;
        let left = self.refund_credit(account_id, amount, note, now)?;
        let detail = format!(
            "refunded {amount} of credit: {}; {} left",
            note.trim(),
            Money::from_minor(left, amount.currency())
        );
        self.log_action(
            actor,
            action::CREDIT_REFUND,
            &format!("account {}", account.code),
            &detail,
            now,
        )?;
        Ok(left)
    }

    /// The outbox's [`Writer::retry_delivery`] for the console, logged.
    pub fn console_retry_delivery(
        &mut self,
        actor: &Actor,
        id: i64,
        now: OffsetDateTime,
    ) -> Result<DeliveryRecord, ActionError> {
        let record = match self.retry_delivery(actor.organization_id, id, now) {
            Ok(RetryOutcome::Retried(r)) => r,
            Ok(RetryOutcome::NotFailed(r)) => {
                return Err(ActionError::NotFailed {
                    id,
                    status: r.status,
                });
            }
            Err(e) if e.is_not_found() => return Err(ActionError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let last = if record.last_error.is_empty() {
            String::new()
        } else {
            format!("; last error: {}", record.last_error)
        };
        let detail = format!(
            "back to pending after {} attempt(s) to {} ({}){last}",
            record.attempts, record.target_url, record.dialect
        );
        self.log_action(
            actor,
            action::NOTIFICATION_RETRY,
            &format!("delivery #{id}"),
            &detail,
            now,
        )?;
        Ok(record)
    }
}

/// Each console action in its own write transaction (run again after a lost race).
impl Store {
    pub fn console_apply_unapplied(
        &self,
        actor: &Actor,
        id: i64,
        bill_number: &str,
        now: OffsetDateTime,
    ) -> Result<AppliedUnapplied, ActionError> {
        self.transaction(|w| w.console_apply_unapplied(actor, id, bill_number, now))
    }

    pub fn console_refund_unapplied(
        &self,
        actor: &Actor,
        id: i64,
        note: &str,
        now: OffsetDateTime,
    ) -> Result<(), ActionError> {
        self.transaction(|w| w.console_refund_unapplied(actor, id, note, now))
    }

    pub fn console_apply_credit(
        &self,
        actor: &Actor,
        account_id: i64,
        amount: Money,
        bill_number: &str,
        reference: &str,
        now: OffsetDateTime,
    ) -> Result<AppliedCredit, ActionError> {
        self.transaction(|w| {
            w.console_apply_credit(actor, account_id, amount, bill_number, reference, now)
        })
    }

    pub fn console_refund_credit(
        &self,
        actor: &Actor,
        account_id: i64,
        amount: Money,
        note: &str,
        now: OffsetDateTime,
    ) -> Result<i64, ActionError> {
        self.transaction(|w| w.console_refund_credit(actor, account_id, amount, note, now))
    }

    pub fn console_retry_delivery(
        &self,
        actor: &Actor,
        id: i64,
        now: OffsetDateTime,
    ) -> Result<DeliveryRecord, ActionError> {
        self.transaction(|w| w.console_retry_delivery(actor, id, now))
    }
}

crate::tx::store_reads! {
    fn console_unapplied(&self, organization_id: i64, offset: i64, limit: i64, resolved: i64) -> UnappliedPage;
    fn console_actions(&self, organization_id: i64, offset: i64, limit: i64) -> (Vec<ActionRecord>, bool);
    fn console_find_bill(&self, organization_id: i64, number: &str) -> Option<Bill>;
}
