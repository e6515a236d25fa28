//! Reads the bank-channel dialects share (VA's channel API and SNAP): the bills a bank may see
//! under a VA number, and money a channel recorded as unapplied under its reference.

use billhub_core::Bill;
use diesel::prelude::*;

use crate::models::UnappliedRow;
use crate::repo::posting::{UnappliedPayment, unapplied_from_row};
use crate::schema::{channel_enrolments, unapplied_payments as up, va_prefixes};
use crate::{Reader, StoreResult};

/// The length of a VA prefix: the first digits of every VA number.
pub const VA_PREFIX_LEN: usize = 6;

impl Reader<'_> {
    /// The bills a bank (`channel_id`) may see under a VA number: none when the prefix is
    /// unknown or the bank is not enrolled with its organization. Payable first, then newest
    /// ([`Reader::bills_by_va_number`]'s order).
    pub fn channel_visible_bills(
        &mut self,
        channel_id: i64,
        va_number: &str,
    ) -> StoreResult<Vec<Bill>> {
        let prefix = va_number.get(..VA_PREFIX_LEN).unwrap_or_default();
        // `get_result` (no `LIMIT`) on unique keys: a bound `LIMIT` makes SQLite prepare the
        // statement again on every run (see `crate::repo::bills::load_bill`).
        let (org_id, enrolled) = self.with(|conn| {
            let Some(org_id) = va_prefixes::table
                .filter(va_prefixes::prefix.eq(prefix))
                .select(va_prefixes::organization_id)
                .get_result::<i64>(conn)
                .optional()?
            else {
                return Ok((None, false));
            };
            let enrolled = channel_enrolments::table
                .filter(channel_enrolments::channel_id.eq(channel_id))
                .filter(channel_enrolments::organization_id.eq(org_id))
                .select(channel_enrolments::channel_id)
                .get_result::<i64>(conn)
                .optional()?
                .is_some();
            Ok((Some(org_id), enrolled))
        })?;
        let Some(org_id) = org_id.filter(|_| enrolled) else {
            return Ok(Vec::new());
        };
        Ok(self
            .bills_by_va_number(va_number)?
            .into_iter()
            .filter(|b| b.organization_id == org_id)
            .collect())
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
