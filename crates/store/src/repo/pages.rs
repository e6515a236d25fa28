//! Reads only the payer pages need (the hosted bill page `/b/{public_no}`): the ways an
//! organization's bills can be paid besides their VA numbers. Read inside the page's one
//! snapshot.

use diesel::prelude::*;

use crate::schema::{channel_enrolments, channels, credentials};
use crate::{Reader, StoreResult};

/// The channels through which a payer can pay an organization's bill by its account code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayChannels {
    /// The organization has an active Bill24 credential: payers find the bill in their bank
    /// app by its consumer code (the account code).
    pub bill24: bool,
    /// Names of the enabled postpaid terminal networks the organization is enrolled with,
    /// in name order: payers give the account code at one of their terminals.
    pub terminal_networks: Vec<String>,
}

impl Reader<'_> {
    /// How the organization's bills can be paid by account code ([`PayChannels`]). An unknown
    /// organization has none (the same two queries run).
    pub fn pay_channels(&mut self, organization_id: i64) -> StoreResult<PayChannels> {
        self.with(|conn| {
            let bill24: Option<i64> = credentials::table
                .filter(credentials::organization_id.eq(organization_id))
                .filter(credentials::dialect.eq("bill24"))
                .filter(credentials::active.eq(true))
                .filter(credentials::revoked_at.is_null())
                .select(credentials::id)
                .first(conn)
                .optional()?;
            let terminal_networks: Vec<String> = channel_enrolments::table
                .inner_join(channels::table)
                .filter(channel_enrolments::organization_id.eq(organization_id))
                .filter(channels::dialect.eq("postpaid"))
                .filter(channels::disabled_at.is_null())
                .order((channels::name.asc(), channels::id.asc()))
                .select(channels::name)
                .load(conn)?;
            Ok(PayChannels {
                bill24: bill24.is_some(),
                terminal_networks,
            })
        })
    }
}

crate::tx::store_reads! {
    fn pay_channels(&self, organization_id: i64) -> PayChannels;
}
