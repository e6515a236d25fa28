//! Reads the bank-channel dialects share (VA's channel API and SNAP): the bills a bank may see
//! under a VA number, and money a channel recorded as unapplied under its reference.

use billhub_core::{Account, Bill};
use diesel::prelude::*;

use crate::models::{AccountRow, BillRow, UnappliedRow};
use crate::pool::AnyConnection;
use crate::repo::posting::{UnappliedPayment, unapplied_from_row};
use crate::schema::{
    accounts, bills, channel_enrolments, unapplied_payments as up, va_numbers, va_prefixes,
};
use crate::{Reader, StoreResult};

/// The length of a VA prefix: the first digits of every VA number.
pub const VA_PREFIX_LEN: usize = 6;

/// A bill a bank may see under a VA number, with its `extra` JSON object as stored and its
/// account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleBill {
    pub bill: Bill,
    pub extra: String,
    pub account: Account,
}

/// The organization whose prefix starts `va_number`, when the bank (`channel_id`) is enrolled
/// with it: one statement (the prefix with the bank's enrolment, a join of two unique reads).
pub(crate) fn enrolled_organization(
    conn: &mut AnyConnection,
    channel_id: i64,
    va_number: &str,
) -> StoreResult<Option<i64>> {
    let prefix = va_number.get(..VA_PREFIX_LEN).unwrap_or_default();
    // `get_result` (no `LIMIT`) on unique keys: a bound `LIMIT` makes SQLite prepare the
    // statement again on every run (see `crate::repo::bills::load_bill`).
    let found: Option<(i64, Option<i64>)> = crate::pool::on_backend!(conn, |c| va_prefixes::table
        .left_join(
            channel_enrolments::table.on(channel_enrolments::organization_id
                .eq(va_prefixes::organization_id)
                .and(channel_enrolments::channel_id.eq(channel_id))),
        )
        .filter(va_prefixes::prefix.eq(prefix))
        .select((
            va_prefixes::organization_id,
            channel_enrolments::channel_id.nullable(),
        ))
        .get_result::<(i64, Option<i64>)>(c)
        .optional())?;
    Ok(found.and_then(|(org_id, enrolled)| enrolled.map(|_| org_id)))
}

/// The bill and account rows a bank may see under a VA number, payable first, then newest: two
/// statements ([`enrolled_organization`]; then the VA number's bills with their accounts, one
/// join).
fn visible_rows(
    conn: &mut AnyConnection,
    channel_id: i64,
    va_number: &str,
) -> StoreResult<Vec<(BillRow, AccountRow)>> {
    let Some(org_id) = enrolled_organization(conn, channel_id, va_number)? else {
        return Ok(Vec::new());
    };
    // The organization is filtered here, not in SQL: with it in the statement PostgreSQL may
    // plan a scan of the organization's bills instead of the VA number's index.
    let rows = crate::pool::on_backend!(conn, |c| va_numbers::table
        .inner_join(bills::table.inner_join(accounts::table))
        .filter(va_numbers::number.eq(va_number))
        .order((va_numbers::active.desc(), va_numbers::bill_id.desc()))
        .select((BillRow::as_select(), AccountRow::as_select()))
        .load::<(BillRow, AccountRow)>(c))?;
    Ok(rows
        .into_iter()
        .filter(|(bill, _)| bill.organization_id == org_id)
        .collect())
}

impl Reader<'_> {
    /// The bills a bank (`channel_id`) may see under a VA number: none when the prefix is
    /// unknown or the bank is not enrolled with its organization. Payable first, then newest
    /// ([`Reader::bills_by_va_number`]'s order).
    pub fn channel_visible_bills(
        &mut self,
        channel_id: i64,
        va_number: &str,
    ) -> StoreResult<Vec<Bill>> {
        Ok(self
            .channel_visible_va_bills(channel_id, va_number)?
            .into_iter()
            .map(|v| v.bill)
            .collect())
    }

    /// [`Reader::channel_visible_bills`] with each bill's `extra` and account: what a VA or
    /// SNAP inquiry reads before the payable bills' details, in two statements.
    pub fn channel_visible_va_bills(
        &mut self,
        channel_id: i64,
        va_number: &str,
    ) -> StoreResult<Vec<VisibleBill>> {
        self.with(|conn| {
            visible_rows(conn, channel_id, va_number)?
                .into_iter()
                .map(|(mut row, account)| {
                    let extra = std::mem::take(&mut row.extra);
                    Ok(VisibleBill {
                        bill: row.into_bill()?,
                        extra,
                        account: Account::from(account),
                    })
                })
                .collect()
        })
    }

    /// The money a channel kept as unapplied under its reference, if any.
    pub fn unapplied_by_channel_ref(
        &mut self,
        channel: &str,
        channel_ref: &str,
    ) -> StoreResult<Option<UnappliedPayment>> {
        self.with(|conn| {
            Ok(up::table
                .filter(up::channel.eq(channel))
                .filter(up::channel_ref.eq(channel_ref))
                .select(UnappliedRow::as_select())
                .first(conn)
                .optional()?
                .map(unapplied_from_row))
        })
    }
}
