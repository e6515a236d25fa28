//! Queries only the postpaid (CSQ) dialect needs: transaction codes, and the replay lookups a
//! terminal payment or revert needs before anything else.
//!
//! A transaction code is issued by the invoice lookup and binds a payment to what that lookup
//! showed: the network (channel), the organization, the terminal, the account, the listed bills,
//! their total, the service fee, the payment type and the currency. It expires, and is used up
//! only by a payment that is posted: [`Store::post_postpaid_payment`] checks the code, posts the
//! payment and marks the code used in one transaction, so a refused payment leaves it usable and
//! two payments can never share it.

use billhub_core::{Payment, Reversal, SettlementMode};
use diesel::prelude::*;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::models::ReversalRow;
use crate::pool::AnyConnection;
use crate::prepared::{Bind, Fixed};
use crate::repo::payments::load_payment;
use crate::repo::posting::{
    PaymentOutcome, PaymentRequest, claim_or_replay, post_claimed_or_release, release_reference,
};
use crate::schema::{payments, reversals};
use crate::secrets::random_from;
use crate::time_conv::{from_db, to_db};
use crate::{InvalidKind, Reader, StoreError, StoreResult, Writer};

use crate::schema::postpaid_codes as pc;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::schema::postpaid_codes)]
struct CodeRow {
    code: String,
    channel_id: i64,
    organization_id: i64,
    terminal_id: i64,
    account_id: i64,
    bill_ids: String,
    total: i64,
    expires_at: PrimitiveDateTime,
    used_by_payment_id: Option<i64>,
    created_at: PrimitiveDateTime,
    fee: i64,
    payment_type: String,
    currency: String,
}

/// A transaction code as issued by an invoice lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostpaidCode {
    pub code: String,
    pub channel_id: i64,
    pub organization_id: i64,
    pub terminal_id: i64,
    pub account_id: i64,
    /// The bills the lookup listed as payable, in listing order.
    pub bill_ids: Vec<i64>,
    /// Their outstanding total at the lookup, minor units, without the fee.
    pub total: i64,
    /// The service fee shown, minor units.
    pub fee: i64,
    /// The payment type shown.
    pub payment_type: SettlementMode,
    /// The currency of the listed bills.
    pub currency: String,
    pub expires_at: OffsetDateTime,
    pub used_by_payment_id: Option<i64>,
    pub created_at: OffsetDateTime,
}

/// Why a transaction code cannot pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeProblem {
    /// No such code for this network and organization.
    Unknown,
    /// Already used by a payment.
    Used,
    /// Past its time to live.
    Expired,
    /// Issued to another terminal.
    OtherTerminal,
    /// Issued for another account.
    OtherAccount,
}

/// Who presents a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeHolder {
    pub channel_id: i64,
    pub organization_id: i64,
    pub terminal_id: i64,
    pub account_id: i64,
}

impl PostpaidCode {
    /// Whether `holder` may pay with this code at `now`.
    pub fn check(&self, holder: &CodeHolder, now: OffsetDateTime) -> Result<(), CodeProblem> {
        if self.channel_id != holder.channel_id || self.organization_id != holder.organization_id {
            return Err(CodeProblem::Unknown);
        }
        if self.used_by_payment_id.is_some() {
            return Err(CodeProblem::Used);
        }
        if now >= self.expires_at {
            return Err(CodeProblem::Expired);
        }
        if self.terminal_id != holder.terminal_id {
            return Err(CodeProblem::OtherTerminal);
        }
        if self.account_id != holder.account_id {
            return Err(CodeProblem::OtherAccount);
        }
        Ok(())
    }
}

fn code_from_row(r: CodeRow) -> StoreResult<PostpaidCode> {
    let bill_ids = if r.bill_ids.is_empty() {
        Vec::new()
    } else {
        r.bill_ids
            .split(',')
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    StoreError::Corrupt(format!(
                        "postpaid code {}: bill ids `{}`",
                        r.code, r.bill_ids
                    ))
                })
            })
            .collect::<StoreResult<Vec<_>>>()?
    };
    Ok(PostpaidCode {
        payment_type: r
            .payment_type
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("postpaid code {}: {e}", r.code)))?,
        code: r.code,
        channel_id: r.channel_id,
        organization_id: r.organization_id,
        terminal_id: r.terminal_id,
        account_id: r.account_id,
        bill_ids,
        total: r.total,
        fee: r.fee,
        currency: r.currency,
        expires_at: from_db(r.expires_at),
        used_by_payment_id: r.used_by_payment_id,
        created_at: from_db(r.created_at),
    })
}

fn load_code(conn: &mut AnyConnection, code: &str) -> StoreResult<Option<PostpaidCode>> {
    pc::table
        .filter(pc::code.eq(code))
        .select(CodeRow::as_select())
        .first(conn)
        .optional()?
        .map(code_from_row)
        .transpose()
}

/// What an invoice lookup binds a new code to.
#[derive(Debug, Clone)]
pub struct NewPostpaidCode {
    pub channel_id: i64,
    pub organization_id: i64,
    pub terminal_id: i64,
    pub account_id: i64,
    pub bill_ids: Vec<i64>,
    pub total: i64,
    pub fee: i64,
    pub payment_type: SettlementMode,
    pub currency: String,
    pub ttl: time::Duration,
    /// The organization's local date, written into the code (`TXN-20250703-...`).
    pub local_date: Date,
}

/// Letters and digits that cannot be mistaken for one another on a receipt.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// How long an expired, unused code is kept before maintenance deletes it.
const KEEP_EXPIRED: time::Duration = time::Duration::days(1);

/// What [`Store::post_postpaid_payment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostpaidPosting {
    /// Posted, or the first result of the same request (`replayed`).
    Posted(Box<PaymentOutcome>),
    /// The code cannot pay; nothing was written.
    CodeRefused(CodeProblem),
}

/// A stored reversal with the fingerprint of the request that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedReversal {
    pub request_hash: String,
    pub reversal: Reversal,
    pub payment: Payment,
}

impl Reader<'_> {
    /// A transaction code, whoever it belongs to.
    pub fn postpaid_code(&mut self, code: &str) -> StoreResult<Option<PostpaidCode>> {
        self.with(|conn| load_code(conn, code))
    }

    /// The payment recorded under a channel reference, with the fingerprint of the request
    /// that made it (to tell a repeat from a different request under the same reference).
    pub fn payment_with_request_hash(
        &mut self,
        channel: &str,
        channel_ref: &str,
    ) -> StoreResult<Option<(String, Payment)>> {
        self.with(|conn| {
            let row: Option<(i64, String)> = payments::table
                .filter(payments::channel.eq(channel))
                .filter(payments::channel_ref.eq(channel_ref))
                .select((payments::id, payments::request_hash))
                .first(conn)
                .optional()?;
            row.map(|(id, hash)| Ok((hash, load_payment(conn, id)?)))
                .transpose()
        })
    }

    /// The reversal recorded under a channel reference, with its request fingerprint and the
    /// payment it undid.
    pub fn reversal_with_request_hash(
        &mut self,
        channel: &str,
        channel_ref: &str,
    ) -> StoreResult<Option<RecordedReversal>> {
        self.with(|conn| {
            let row: Option<ReversalRow> = reversals::table
                .filter(reversals::channel.eq(channel))
                .filter(reversals::channel_ref.eq(channel_ref))
                .select(ReversalRow::as_select())
                .first(conn)
                .optional()?;
            row.map(|r| {
                let payment = load_payment(conn, r.payment_id)?;
                Ok(RecordedReversal {
                    request_hash: r.request_hash.clone(),
                    reversal: r.into(),
                    payment,
                })
            })
            .transpose()
        })
    }
}

impl Writer<'_> {
    /// Issues a transaction code: one `INSERT ... RETURNING`. Codes that expired unused are
    /// deleted by [`Writer::purge_expired_postpaid_codes`] (maintenance), not on this path.
    pub fn create_postpaid_code(
        &mut self,
        new: &NewPostpaidCode,
        now: OffsetDateTime,
    ) -> StoreResult<PostpaidCode> {
        let ids = new
            .bill_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let (y, m, d) = (
            new.local_date.year(),
            u8::from(new.local_date.month()),
            new.local_date.day(),
        );
        self.with(|conn| {
            // A taken code is a unique violation: the write is run again with a new code.
            let code = format!("TXN-{y:04}{m:02}{d:02}-{}", random_from(CODE_ALPHABET, 10));
            let values = (
                pc::code.eq(&code),
                pc::channel_id.eq(new.channel_id),
                pc::organization_id.eq(new.organization_id),
                pc::terminal_id.eq(new.terminal_id),
                pc::account_id.eq(new.account_id),
                pc::bill_ids.eq(&ids),
                pc::total.eq(new.total),
                pc::expires_at.eq(to_db(now + new.ttl)),
                pc::created_at.eq(to_db(now)),
                pc::fee.eq(new.fee),
                pc::payment_type.eq(new.payment_type.as_str()),
                pc::currency.eq(&new.currency),
            );
            let row = crate::pool::on_backend!(conn, |c| diesel::insert_into(pc::table)
                .values(values)
                .returning(CodeRow::as_returning())
                .get_result::<CodeRow>(c))?;
            code_from_row(row)
        })
    }

    /// Deletes the transaction codes that expired unused a day ago or more; returns how many.
    pub fn purge_expired_postpaid_codes(&mut self, now: OffsetDateTime) -> StoreResult<usize> {
        self.with(|conn| {
            Ok(diesel::delete(
                pc::table
                    .filter(pc::used_by_payment_id.is_null())
                    .filter(pc::expires_at.lt(to_db(now - KEEP_EXPIRED))),
            )
            .execute(conn)?)
        })
    }

    /// Posts a terminal payment paid with a transaction code, in one transaction:
    /// 1. a payment with the same channel reference exists: the same request (hash) gets its
    ///    first result, whatever became of the code; another request is
    ///    [`billhub_core::Rejection::InconsistentReplay`];
    /// 2. the code must be usable by `holder` at `now`, else [`PostpaidPosting::CodeRefused`];
    /// 3. the payment is posted ([`Store::post_payment`]'s rules; a refusal writes nothing and
    ///    leaves the code usable);
    /// 4. the code is marked used by the payment (a concurrent use makes the loser run again
    ///    and find the code used).
    ///
    /// `legacy`: the forms earlier versions wrote for this request's fingerprint (see
    /// [`Writer::post_payment_with_legacy`]).
    pub fn post_postpaid_payment(
        &mut self,
        code: &str,
        holder: &CodeHolder,
        req: &PaymentRequest,
        legacy: &[String],
        now: OffsetDateTime,
    ) -> StoreResult<PostpaidPosting> {
        if req.channel.is_empty() || req.channel_ref.is_empty() {
            return Err(StoreError::Invalid(InvalidKind::MissingReference));
        }
        self.with(|conn| {
            let stored = load_code(conn, code)?;
            post_with_code(conn, code, stored.as_ref(), holder, req, legacy, None, now)
        })
    }

    /// [`Writer::post_postpaid_payment`] with the code as this transaction has read it already
    /// ([`Reader::postpaid_code`] of `code`; `None`: no such code) and the organization's
    /// settings as the caller holds them ([`Writer::post_payment_with_settings`]): neither is
    /// read again. The code is still used up only if no other payment used it meanwhile (a
    /// concurrent use makes the loser run again).
    #[allow(clippy::too_many_arguments)] // the posting's request and what the caller has read
    pub fn post_postpaid_payment_read(
        &mut self,
        code: &str,
        stored: Option<&PostpaidCode>,
        holder: &CodeHolder,
        req: &PaymentRequest,
        legacy: &[String],
        settings: &billhub_core::org::Settings,
        now: OffsetDateTime,
    ) -> StoreResult<PostpaidPosting> {
        if req.channel.is_empty() || req.channel_ref.is_empty() {
            return Err(StoreError::Invalid(InvalidKind::MissingReference));
        }
        if stored.is_some_and(|s| s.code != code) {
            return Err(StoreError::Corrupt(format!(
                "postpaid code {code} posted with another code's row"
            )));
        }
        self.with(|conn| {
            post_with_code(conn, code, stored, holder, req, legacy, Some(settings), now)
        })
    }
}

/// [`Writer::post_postpaid_payment`] inside its transaction, with the code as read (`stored`).
/// The reference's key is claimed first: a repeat is answered from what is recorded whatever
/// became of the code (the same request: its first result; another: inconsistent). A code that
/// cannot pay gives the key back and writes nothing.
#[allow(clippy::too_many_arguments)]
fn post_with_code(
    conn: &mut AnyConnection,
    code: &str,
    stored: Option<&PostpaidCode>,
    holder: &CodeHolder,
    req: &PaymentRequest,
    legacy: &[String],
    settings: Option<&billhub_core::org::Settings>,
    now: OffsetDateTime,
) -> StoreResult<PostpaidPosting> {
    if let Some(replayed) = claim_or_replay(conn, req, legacy, now)? {
        return Ok(PostpaidPosting::Posted(Box::new(replayed)));
    }
    let problem = match stored {
        None => Some(CodeProblem::Unknown),
        Some(stored) => stored.check(holder, now).err(),
    };
    if let Some(problem) = problem {
        release_reference(conn, &req.channel, req.organization_id, &req.channel_ref)?;
        return Ok(PostpaidPosting::CodeRefused(problem));
    }
    let outcome = post_claimed_or_release(conn, req, settings, now)?;
    if let Some(payment) = outcome.payment() {
        let n = Fixed::<()>::new(
            "UPDATE postpaid_codes SET used_by_payment_id = ? \
             WHERE code = ? AND used_by_payment_id IS NULL",
            vec![Bind::NullableBigInt(Some(payment.id)), Bind::Text(code)],
        )
        .execute(conn)?;
        if n == 0 {
            return Err(StoreError::Busy(format!(
                "postpaid code {code} was used concurrently"
            )));
        }
    }
    Ok(PostpaidPosting::Posted(Box::new(outcome)))
}

crate::tx::store_reads! {
    fn postpaid_code(&self, code: &str) -> Option<PostpaidCode>;
    fn payment_with_request_hash(&self, channel: &str, channel_ref: &str) -> Option<(String, Payment)>;
    fn reversal_with_request_hash(&self, channel: &str, channel_ref: &str) -> Option<RecordedReversal>;
}

crate::tx::store_writes! {
    fn create_postpaid_code(&self, new: &NewPostpaidCode, now: OffsetDateTime) -> PostpaidCode;
    fn purge_expired_postpaid_codes(&self, now: OffsetDateTime) -> usize;
    fn post_postpaid_payment(&self, code: &str, holder: &CodeHolder, req: &PaymentRequest, legacy: &[String], now: OffsetDateTime) -> PostpaidPosting;
}
