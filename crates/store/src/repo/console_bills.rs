//! Reads of the operator console's bills pages, always for one organization (the id comes from
//! the signed-in session): the bill search and one bill with everything the store keeps of it.
//!
//! ## The search and the indexes it uses
//! A page is [`BILLS_PER_PAGE`] bills, newest first: bill date, then creation (id), both
//! descending, the order of the index `bills_org_bill_date (organization_id, bill_date, id)`.
//! Filters (status, due range, text) are conditions on that ordered scan, which stops as soon as
//! the page is full; the bill ids of a page are read first (from the index alone when nothing
//! but the organization filters them), then the page's rows by id.
//!
//! The text matches any of:
//! - a public number, exactly (`bills.public_no` is unique);
//! - an invoice number, exactly (`bills_org_invoice`);
//! - an account code, exactly (`accounts (organization_id, code)` is unique, then
//!   `bills_account`);
//! - a full VA number, exactly (`va_numbers_number`);
//! - a name: the bill's name or its account's name, Latin name, first or last name, containing
//!   the text, case-insensitive (`lower(column) LIKE '%text%'`, the same on both backends).
//!
//! A name match has no index: a search that matches few bills reads the organization's bills
//! once (see `docs/console.md`).

use billhub_core::org::Organization;
use billhub_core::{Account, Bill, BillStatus, Payment};
use diesel::prelude::*;
use diesel::sql_types::Bool;
use time::{Date, OffsetDateTime};

use crate::models::{AccountRow, BillRow};
use crate::pool::MultiBackend;
use crate::repo::bills::{BillEvent, BillItem, VaNumber};
use crate::repo::search::{like_pattern, lower};
use crate::schema::{accounts, bills, va_numbers};
use crate::time_conv::to_db;
use crate::{Reader, StoreResult};

/// Bills per page of the search.
pub const BILLS_PER_PAGE: i64 = 50;

/// What the console's bill search asks for (already validated by the page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillSearch {
    /// Searched in public numbers, account codes, invoice numbers, VA numbers and names (see
    /// the module doc); `None` or blank: every bill.
    pub text: Option<String>,
    /// The status at the moment of the search ([`Bill::status_at`]): a payable bill past its
    /// `valid_until` counts as expired, not as active.
    pub status: Option<BillStatus>,
    /// Due on or after this day (bills without a due date are then left out).
    pub due_from: Option<Date>,
    /// Due on or before this day (bills without a due date are then left out).
    pub due_to: Option<Date>,
    /// 0-based page of [`BILLS_PER_PAGE`] bills.
    pub page: i64,
}

/// One bill of a search result with its account's code and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillListRow {
    pub bill: Bill,
    pub account: Account,
}

/// One page of a bill search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillList {
    pub rows: Vec<BillListRow>,
    /// Whether another page follows.
    pub has_next: bool,
}

/// One bill of the organization with everything the store keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleBill {
    pub organization: Organization,
    pub bill: Bill,
    pub account: Account,
    /// In position order.
    pub items: Vec<BillItem>,
    /// In position order, active or not.
    pub va_numbers: Vec<VaNumber>,
    /// Payments with an allocation on this bill, oldest first, each with its reversal if any.
    pub payments: Vec<Payment>,
    /// The bill's append-only history, oldest first.
    pub events: Vec<BillEvent>,
}

type BillCond = Box<dyn BoxableExpression<bills::table, MultiBackend, SqlType = Bool>>;

/// Bills whose status at `now` is `status` (the rule of [`Bill::status_at`]).
fn status_cond(status: BillStatus, now: OffsetDateTime) -> BillCond {
    let payable = ["active", "partially_paid"];
    let past_validity = bills::valid_until
        .is_not_null()
        .and(bills::valid_until.assume_not_null().le(to_db(now)));
    let within_validity = bills::valid_until
        .is_null()
        .or(bills::valid_until.assume_not_null().gt(to_db(now)));
    match status {
        BillStatus::Active | BillStatus::PartiallyPaid => {
            Box::new(bills::status.eq(status.as_str()).and(within_validity))
        }
        BillStatus::Expired => Box::new(
            bills::status
                .eq("expired")
                .or(bills::status.eq_any(payable).and(past_validity)),
        ),
        BillStatus::Paid | BillStatus::Void => Box::new(bills::status.eq(status.as_str())),
    }
}

/// Bills that `text` names (see the module doc).
fn text_cond(organization_id: i64, text: &str) -> BillCond {
    let exact = text.to_string();
    let p = like_pattern(text);
    let org_accounts = || accounts::table.filter(accounts::organization_id.eq(organization_id));
    Box::new(
        bills::public_no
            .eq(exact.clone())
            .or(bills::invoice_number.eq(exact.clone()))
            .or(bills::account_id.eq_any(
                org_accounts()
                    .filter(accounts::code.eq(exact.clone()))
                    .select(accounts::id),
            ))
            .or(bills::id.eq_any(
                va_numbers::table
                    .filter(va_numbers::number.eq(exact))
                    .filter(va_numbers::organization_id.eq(organization_id))
                    .select(va_numbers::bill_id),
            ))
            .or(lower(bills::name).like(p.clone()).escape('\\'))
            .or(bills::account_id.eq_any(
                org_accounts()
                    .filter(
                        lower(accounts::name)
                            .like(p.clone())
                            .escape('\\')
                            .or(lower(accounts::name_latin).like(p.clone()).escape('\\'))
                            .or(lower(accounts::first_name).like(p.clone()).escape('\\'))
                            .or(lower(accounts::last_name).like(p).escape('\\')),
                    )
                    .select(accounts::id),
            )),
    )
}

/// The organization's bills that `search` selects, in page order (no paging).
fn searched(
    organization_id: i64,
    search: &BillSearch,
    now: OffsetDateTime,
) -> bills::BoxedQuery<'static, MultiBackend> {
    let mut q = bills::table
        .filter(bills::organization_id.eq(organization_id))
        .into_boxed();
    if let Some(text) = search
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        q = q.filter(text_cond(organization_id, text));
    }
    if let Some(status) = search.status {
        q = q.filter(status_cond(status, now));
    }
    if let Some(from) = search.due_from {
        q = q.filter(
            bills::due_date
                .is_not_null()
                .and(bills::due_date.assume_not_null().ge(from)),
        );
    }
    if let Some(to) = search.due_to {
        q = q.filter(
            bills::due_date
                .is_not_null()
                .and(bills::due_date.assume_not_null().le(to)),
        );
    }
    // Order by the index (organization_id, bill_date, id), newest first.
    q.order((bills::bill_date.desc(), bills::id.desc()))
}

impl Reader<'_> {
    /// One page of the organization's bills that `search` selects, newest first (see the
    /// module doc), each with its account; `now` decides which bills are expired.
    pub fn console_bills(
        &mut self,
        organization_id: i64,
        search: &BillSearch,
        now: OffsetDateTime,
    ) -> StoreResult<BillList> {
        self.with(|conn| {
            let page = search.page.max(0);
            let offset = page.saturating_mul(BILLS_PER_PAGE);
            let mut ids: Vec<i64> = searched(organization_id, search, now)
                .select(bills::id)
                .limit(BILLS_PER_PAGE + 1)
                .offset(offset)
                .load(conn)?;
            let has_next = ids.len() > BILLS_PER_PAGE as usize;
            ids.truncate(BILLS_PER_PAGE as usize);
            let mut rows: Vec<BillRow> = bills::table
                .filter(bills::organization_id.eq(organization_id))
                .filter(bills::id.eq_any(&ids))
                .select(BillRow::as_select())
                .load(conn)?;
            rows.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
            let account_ids: Vec<i64> = rows.iter().map(|r| r.account_id).collect();
            let accounts: Vec<AccountRow> = accounts::table
                .filter(accounts::organization_id.eq(organization_id))
                .filter(accounts::id.eq_any(&account_ids))
                .select(AccountRow::as_select())
                .load(conn)?;
            let accounts: Vec<Account> = accounts.into_iter().map(Account::from).collect();
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let account = accounts
                    .iter()
                    .find(|a| a.id == row.account_id)
                    .cloned()
                    .ok_or_else(|| {
                        crate::StoreError::Corrupt(format!("bill {} has no account", row.id))
                    })?;
                out.push(BillListRow {
                    bill: row.into_bill()?,
                    account,
                });
            }
            Ok(BillList {
                rows: out,
                has_next,
            })
        })
    }

    /// The organization's bill with this public number and everything kept of it; `None` for
    /// an unknown number and for another organization's bill alike.
    pub fn console_bill(
        &mut self,
        organization_id: i64,
        public_no: &str,
    ) -> StoreResult<Option<ConsoleBill>> {
        let Some(bill) = self.bill_by_public_no(organization_id, public_no)? else {
            return Ok(None);
        };
        Ok(Some(ConsoleBill {
            organization: self.organization(organization_id)?,
            account: self.account(bill.account_id)?,
            items: self.bill_items(bill.id)?,
            va_numbers: self.va_numbers_of_bill(bill.id)?,
            payments: self.payments_of_bill(bill.id)?,
            events: self.bill_events(bill.id)?,
            bill,
        }))
    }
}

crate::tx::store_reads! {
    fn console_bills(&self, organization_id: i64, search: &BillSearch, now: OffsetDateTime) -> BillList;
    fn console_bill(&self, organization_id: i64, public_no: &str) -> Option<ConsoleBill>;
}
