//! Queries only the bill24 dialect needs: finding what a Bill24 consumer code names, the
//! organizations that allow-list a webhook caller, and the facts the proxy shows (last payment,
//! currencies on an account). Each public operation is one read transaction.

use std::net::IpAddr;

use billhub_core::org::Settings;
use billhub_core::rules::payability;
use billhub_core::{Account, Bill, BillStatus};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::models::{AccountRow, BillRow};
use crate::pool::AnyConnection;
use crate::repo::bills::{load_account, load_account_bills};
use crate::repo::ledger::{AccountLedger, load_ledger};
use crate::schema::{
    accounts, bills, organization_settings as os, payment_allocations as pa, payments, reversals,
};
use crate::time_conv::from_db;
use crate::{Reader, StoreResult};

/// What a Bill24 consumer code names in an organization: an account (with all its bills), or
/// one bill (with its account and the account's bills).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill24Consumer {
    pub account: Account,
    /// The bill when the code is a bill's public number or invoice number.
    pub bill: Option<Bill>,
    /// Every bill of the account, oldest created first.
    pub account_bills: Vec<Bill>,
    /// When the newest payment that is not reversed was made: on the bill when `bill` is set,
    /// else on the account.
    pub last_paid_at: Option<OffsetDateTime>,
}

/// The account a Bill24 consumer code names, with its ledger (`/pending_bills`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill24Statement {
    pub account: Account,
    pub ledger: AccountLedger,
}

/// The bill an invoice number names when several bills share it: the newest payable one, else
/// the newest that is not void, else the newest. `candidates` are newest first.
fn pick_invoice_bill(candidates: Vec<Bill>, now: OffsetDateTime) -> Option<Bill> {
    if let Some(i) = candidates.iter().position(|b| payability(b, now).is_ok()) {
        return candidates.into_iter().nth(i);
    }
    if let Some(i) = candidates.iter().position(|b| b.status != BillStatus::Void) {
        return candidates.into_iter().nth(i);
    }
    candidates.into_iter().next()
}

/// A bill of the organization by public number, else by invoice number.
fn find_bill(
    conn: &mut AnyConnection,
    organization_id: i64,
    number: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<Bill>> {
    let by_public: Option<BillRow> = bills::table
        .filter(bills::organization_id.eq(organization_id))
        .filter(bills::public_no.eq(number))
        .select(BillRow::as_select())
        .get_result(conn)
        .optional()?;
    if let Some(row) = by_public {
        return Ok(Some(row.into_bill()?));
    }
    let by_invoice = bills::table
        .filter(bills::organization_id.eq(organization_id))
        .filter(bills::invoice_number.eq(number))
        .order(bills::id.desc())
        .select(BillRow::as_select())
        .load(conn)?
        .into_iter()
        .map(BillRow::into_bill)
        .collect::<StoreResult<Vec<Bill>>>()?;
    Ok(pick_invoice_bill(by_invoice, now))
}

fn last_paid_on_account(
    conn: &mut AnyConnection,
    account_id: i64,
) -> StoreResult<Option<OffsetDateTime>> {
    let at: Option<time::PrimitiveDateTime> = crate::pool::on_backend!(conn, |c| payments::table
        .filter(payments::account_id.eq(account_id))
        .filter(not(exists(
            reversals::table.filter(reversals::payment_id.eq(payments::id)),
        )))
        .order((payments::paid_at.desc(), payments::id.desc()))
        .select(payments::paid_at)
        .get_result(c)
        .optional())?;
    Ok(at.map(from_db))
}

fn last_paid_on_bill(
    conn: &mut AnyConnection,
    bill_id: i64,
) -> StoreResult<Option<OffsetDateTime>> {
    let at = payments::table
        .filter(
            payments::id.eq_any(
                pa::table
                    .filter(pa::bill_id.eq(bill_id))
                    .select(pa::payment_id),
            ),
        )
        .filter(not(exists(
            reversals::table.filter(reversals::payment_id.eq(payments::id)),
        )))
        .order((payments::paid_at.desc(), payments::id.desc()))
        .select(payments::paid_at)
        .get_result(conn)
        .optional()?;
    Ok(at.map(from_db))
}

/// What a consumer code names: an account (by code), else a bill (by public number, then
/// invoice number) with its account.
fn find_consumer(
    conn: &mut AnyConnection,
    organization_id: i64,
    code: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<(Account, Option<Bill>)>> {
    let account: Option<AccountRow> = crate::pool::on_backend!(conn, |c| accounts::table
        .filter(accounts::organization_id.eq(organization_id))
        .filter(accounts::code.eq(code))
        .select(AccountRow::as_select())
        .get_result::<AccountRow>(c)
        .optional())?;
    if let Some(row) = account {
        return Ok(Some((Account::from(row), None)));
    }
    match find_bill(conn, organization_id, code, now)? {
        Some(bill) => Ok(Some((load_account(conn, bill.account_id)?, Some(bill)))),
        None => Ok(None),
    }
}

impl Reader<'_> {
    /// Looks a Bill24 consumer code up in the organization: as an account code, then as a
    /// bill's public number, then as an invoice number.
    pub fn bill24_consumer(
        &mut self,
        organization_id: i64,
        code: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Bill24Consumer>> {
        self.with(|conn| {
            let Some((account, bill)) = find_consumer(conn, organization_id, code, now)? else {
                return Ok(None);
            };
            let last_paid_at = match &bill {
                Some(bill) => last_paid_on_bill(conn, bill.id)?,
                None => last_paid_on_account(conn, account.id)?,
            };
            Ok(Some(Bill24Consumer {
                account_bills: load_account_bills(conn, account.id)?,
                last_paid_at,
                account,
                bill,
            }))
        })
    }

    /// The account a Bill24 consumer code names (as [`Reader::bill24_consumer`] finds it) with
    /// its ledger for `/pending_bills`: the account's bills read once, its payments with their
    /// reversals in one statement.
    pub fn bill24_statement(
        &mut self,
        organization_id: i64,
        code: &str,
        now: OffsetDateTime,
        offset: time::UtcOffset,
    ) -> StoreResult<Option<Bill24Statement>> {
        self.with(|conn| {
            let Some((account, _)) = find_consumer(conn, organization_id, code, now)? else {
                return Ok(None);
            };
            let bills = load_account_bills(conn, account.id)?;
            let ledger = load_ledger(conn, account.id, &bills, offset)?;
            Ok(Some(Bill24Statement { account, ledger }))
        })
    }

    /// A bill of the organization named by a Bill24 `bill_no` (public number, else invoice
    /// number).
    pub fn bill24_bill(
        &mut self,
        organization_id: i64,
        number: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Bill>> {
        self.with(|conn| find_bill(conn, organization_id, number, now))
    }

    /// The organizations whose `bill24.webhook_allow_ips` lists `ip`, in id order. IPv4-mapped
    /// IPv6 addresses match their IPv4 form.
    pub fn bill24_organizations_allowing(&mut self, ip: IpAddr) -> StoreResult<Vec<i64>> {
        let ip = canonical_ip(ip);
        self.with(|conn| {
            let rows: Vec<(i64, String)> = os::table
                .filter(os::key.eq("bill24.webhook_allow_ips"))
                .order(os::organization_id.asc())
                .select((os::organization_id, os::value))
                .load(conn)?;
            let mut out = Vec::new();
            for (org, value) in rows {
                let mut settings = Settings::default();
                // A value that no longer validates allows nobody.
                if settings.set("bill24.webhook_allow_ips", &value).is_err() {
                    tracing::warn!(
                        organization_id = org,
                        "bill24.webhook_allow_ips does not validate; ignored"
                    );
                    continue;
                }
                let listed = settings
                    .bill24_webhook_allow_ips
                    .iter()
                    .filter_map(|s| s.parse::<IpAddr>().ok())
                    .any(|a| canonical_ip(a) == ip);
                if listed {
                    out.push(org);
                }
            }
            Ok(out)
        })
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as IPv4; others unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

crate::tx::store_reads! {
    fn bill24_consumer(&self, organization_id: i64, code: &str, now: OffsetDateTime) -> Option<Bill24Consumer>;
    fn bill24_bill(&self, organization_id: i64, number: &str, now: OffsetDateTime) -> Option<Bill>;
    fn bill24_organizations_allowing(&self, ip: IpAddr) -> Vec<i64>;
    fn bill24_statement(&self, organization_id: i64, code: &str, now: OffsetDateTime, offset: time::UtcOffset) -> Option<Bill24Statement>;
}
