//! Account credit, moved by an operator: applied to bills or refunded, never silently.
//!
//! The credit of an (organization, account, currency) is the sum of its ledger entries
//! (`account_credit_entries`): overpayments add to it, reversals of overpayments and these
//! operations take from it. Applying credit posts a payment on channel [`Channel::Credit`] through
//! the same posting transaction as any channel, so core decides the allocation; it is not new
//! money, so the account statement leaves it out (the overpayment was listed when it came in).
//! How much may be spent is core's [`spend_credit`]. Each operation first writes the account row, so that two operations on one account conflict
//! and one of them runs again on fresh data: two operators can never spend the same credit twice.

use billhub_core::credit::spend_credit;
use billhub_core::{Channel, Currency, Money, Payment};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::pool::AnyConnection;
use crate::repo::bills::load_account;
use crate::repo::ledger::balance;
use crate::repo::payments::fingerprint;
use crate::repo::posting::{OnRejection, PaymentRequest, PaymentTarget, PostResult, post_in_tx};
use crate::schema::account_credit_entries as ace;
use crate::time_conv::to_db;
use crate::{InvalidKind, Reader, StoreError, StoreResult, Writer};

/// Makes credit operations of one account conflict with each other: a write to the account row
/// (that changes nothing) takes its row lock. On PostgreSQL a second transaction then fails with a
/// serialization failure when the first commits and runs again on a fresh snapshot (an advisory
/// lock would not do: under REPEATABLE READ the snapshot is taken before the lock is granted).
/// SQLite's write transactions are exclusive already.
pub(crate) fn lock_account(conn: &mut AnyConnection, account_id: i64) -> StoreResult<()> {
    use crate::schema::accounts;
    diesel::update(accounts::table.filter(accounts::id.eq(account_id)))
        .set(accounts::code.eq(accounts::code))
        .execute(conn)?;
    Ok(())
}

fn entry(
    conn: &mut AnyConnection,
    account: &billhub_core::Account,
    amount: Money,
    kind: &str,
    payment_id: Option<i64>,
    note: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    diesel::insert_into(ace::table)
        .values((
            ace::organization_id.eq(account.organization_id),
            ace::account_id.eq(account.id),
            ace::currency.eq(amount.currency().code()),
            ace::amount.eq(amount.minor()),
            ace::kind.eq(kind),
            ace::payment_id.eq(payment_id),
            ace::note.eq(note),
            ace::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// One account's credit in one currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CreditBalance {
    pub account_id: i64,
    pub account_code: String,
    pub currency: String,
    /// Minor units.
    pub balance: i64,
}

impl Reader<'_> {
    /// The account's credit balance in a currency (minor units).
    pub fn account_credit(
        &mut self,
        account_id: i64,
        currency: billhub_core::Currency,
    ) -> StoreResult<i64> {
        self.with(|conn| balance(conn, account_id, currency))
    }

    /// Every non-zero credit balance of an organization, by account code and currency.
    pub fn credit_balances(&mut self, organization_id: i64) -> StoreResult<Vec<CreditBalance>> {
        use crate::schema::accounts;
        self.with(|conn| {
            let rows: Vec<(i64, String, String, i64)> = ace::table
                .inner_join(accounts::table)
                .filter(ace::organization_id.eq(organization_id))
                .select((ace::account_id, accounts::code, ace::currency, ace::amount))
                .load(conn)?;
            let mut out: Vec<CreditBalance> = Vec::new();
            for (account_id, code, currency, amount) in rows {
                match out
                    .iter_mut()
                    .find(|c| c.account_id == account_id && c.currency == currency)
                {
                    Some(c) => {
                        c.balance = c.balance.checked_add(amount).ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "the {currency} credit of account {account_id} does not fit i64 minor units"
                            ))
                        })?;
                    }
                    None => out.push(CreditBalance {
                        account_id,
                        account_code: code,
                        currency,
                        balance: amount,
                    }),
                }
            }
            out.retain(|c| c.balance != 0);
            out.sort_by(|a, b| (&a.account_code, &a.currency).cmp(&(&b.account_code, &b.currency)));
            Ok(out)
        })
    }
}

impl Writer<'_> {
    /// Pays `target` (a bill or the account itself, of this account) from the account's credit.
    /// `reference` identifies the operation: the same reference again returns the first result.
    pub fn apply_credit(
        &mut self,
        account_id: i64,
        amount: Money,
        target: &PaymentTarget,
        reference: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Payment> {
        if reference.trim().is_empty() {
            return Err(StoreError::Invalid(InvalidKind::MissingReference));
        }
        self.with(|conn| {
            lock_account(conn, account_id)?;
            let account = load_account(conn, account_id)?;
            let req = PaymentRequest {
                organization_id: account.organization_id,
                channel: Channel::Credit.as_db(),
                channel_ref: reference.to_string(),
                request_hash: fingerprint(&[
                    &account_id.to_string(),
                    &amount.minor().to_string(),
                    amount.currency().code(),
                    &format!("{target:?}"),
                ]),
                target: target.clone(),
                amount,
                fee: 0,
                method: "account credit".into(),
                payer_name: String::new(),
                details: "{}".into(),
                paid_at: now,
                on_rejection: OnRejection::Refuse,
            };
            // A replay is answered before the balance is looked at (it was spent the first time).
            let available = balance(conn, account_id, amount.currency())?;
            let outcome = post_in_tx(conn, &req, &[], now)?;
            let PostResult::Posted(payment) = outcome.result else {
                return Err(StoreError::Invalid(InvalidKind::CreditUnapplied));
            };
            if outcome.replayed {
                return Ok(payment);
            }
            if payment.account_id != Some(account_id) {
                return Err(StoreError::Invalid(InvalidKind::TargetOfAnotherAccount));
            }
            spend_credit(available, amount.minor())?;
            let spent = Money::from_minor(-amount.minor(), amount.currency());
            entry(
                conn,
                &account,
                spent,
                "applied",
                Some(payment.id),
                reference,
                now,
            )?;
            Ok(payment)
        })
    }

    /// Records that `amount` of the account's credit was given back outside billhub.
    pub fn refund_credit(
        &mut self,
        account_id: i64,
        amount: Money,
        note: &str,
        now: OffsetDateTime,
    ) -> StoreResult<i64> {
        if note.trim().is_empty() {
            return Err(StoreError::Invalid(InvalidKind::MissingNote));
        }
        self.with(|conn| {
            lock_account(conn, account_id)?;
            let account = load_account(conn, account_id)?;
            let available = balance(conn, account_id, amount.currency())?;
            spend_credit(available, amount.minor())?;
            let back = Money::from_minor(-amount.minor(), amount.currency());
            entry(conn, &account, back, "refunded", None, note.trim(), now)?;
            balance(conn, account_id, amount.currency())
        })
    }
}

crate::tx::store_reads! {
    fn account_credit(&self, account_id: i64, currency: Currency) -> i64;
    fn credit_balances(&self, organization_id: i64) -> Vec<CreditBalance>;
}

crate::tx::store_writes! {
    fn apply_credit(&self, account_id: i64, amount: Money, target: &PaymentTarget, reference: &str, now: OffsetDateTime) -> Payment;
    fn refund_credit(&self, account_id: i64, amount: Money, note: &str, now: OffsetDateTime) -> i64;
}
