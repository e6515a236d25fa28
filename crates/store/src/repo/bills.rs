//! Accounts, bills, their items and VA numbers.

use billhub_core::{Account, Bill, BillStatus, BillTransition, Currency, PaymentRule};
use diesel::prelude::*;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use crate::models::{AccountRow, BillEventRow, BillItemRow, BillRow};
use crate::pool::AnyConnection;
use crate::prepared::{Bind, Fixed};
use crate::repo::orgs::{load_org, load_settings};
use crate::repo::outbox::targets_for_bill;
use crate::repo::outbox::{Target, enqueue_event};
use crate::schema::{accounts, bill_events, bill_items, bills, va_numbers, va_prefixes};
use crate::secrets::{random_alnum, random_from};
use crate::time_conv::{from_db, to_db};
use crate::{ConflictKind, Entity, InvalidKind, Reader, StoreError, StoreResult, Writer};

/// Fields of an account; empty strings leave an existing account's field unchanged.
#[derive(Debug, Clone, Default)]
pub struct AccountInput {
    pub code: String,
    pub name: String,
    pub name_latin: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
}

/// One line of a new bill (amounts already validated by core: `total = qty x unit_price`).
#[derive(Debug, Clone)]
pub struct NewItem {
    pub name: String,
    pub quantity: Decimal,
    pub unit_price: i64,
    pub total: i64,
    pub product_id: Option<i64>,
}

/// A new bill. `billed` must equal the sum of the items when there are items.
#[derive(Debug, Clone)]
pub struct NewBill {
    pub organization_id: i64,
    pub account_id: i64,
    pub collection_id: Option<i64>,
    /// Defaults to the public number.
    pub invoice_number: Option<String>,
    pub ref1: String,
    pub ref2: String,
    pub name: String,
    pub description: String,
    pub currency: Currency,
    pub billed: i64,
    pub items: Vec<NewItem>,
    pub bill_date: Date,
    pub due_date: Option<Date>,
    pub valid_until: Option<OffsetDateTime>,
    pub rule: PaymentRule,
    /// Which tool made it: `cli`, `collections`, `va`, ...
    pub source: String,
    /// Dialect presentation details, a JSON object.
    pub extra: String,
    /// VA numbers as (6-digit prefix, 10-digit number); each prefix must be the organization's.
    pub va_numbers: Vec<(String, String)>,
}

/// A line of a bill as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillItem {
    pub id: i64,
    pub bill_id: i64,
    /// A uuid (the VA component id).
    pub uid: String,
    pub position: i32,
    pub name: String,
    pub quantity: Decimal,
    pub unit_price: i64,
    pub total: i64,
    pub product_id: Option<i64>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One entry of a bill's append-only history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillEvent {
    pub id: i64,
    pub bill_id: i64,
    /// `created`, `payment`, `reversal`, `voided`, `expired`, `updated`.
    pub kind: String,
    pub payment_id: Option<i64>,
    pub amount: Option<i64>,
    pub status_after: String,
    pub paid_after: i64,
    pub details: String,
    pub created_at: OffsetDateTime,
}

/// A VA number of a bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaNumber {
    pub bill_id: i64,
    pub prefix: String,
    /// prefix + 10 digits.
    pub number: String,
    pub active: bool,
}

/// Characters of public numbers: letters and digits (62 symbols, 8 of them ~ 47.6 bits).
pub fn new_public_no() -> String {
    random_alnum(8)
}

/// A stored bill line as the store returns it.
pub(crate) fn item_from_row(r: BillItemRow) -> StoreResult<BillItem> {
    Ok(BillItem {
        id: r.id,
        bill_id: r.bill_id,
        uid: r.uid,
        position: r.position,
        name: r.name,
        quantity: r
            .quantity
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("bill item {} quantity", r.id)))?,
        unit_price: r.unit_price,
        total: r.total,
        product_id: r.product_id,
        created_at: from_db(r.created_at),
        updated_at: from_db(r.updated_at),
    })
}

/// Reads of one row by a unique key use `get_result`, not `first`: `first` binds its `LIMIT 1`
/// as a parameter, and the bundled SQLite (3.4x) plans with a bound `LIMIT`'s value, so it
/// prepares such a statement again on every run (`sqlite3Reprepare`: a third of an inquiry's
/// time in a profile of `/proxy`), which defeats diesel's statement cache.
pub(crate) fn load_bill(conn: &mut AnyConnection, id: i64) -> StoreResult<Bill> {
    crate::pool::on_backend!(conn, |c| bills::table
        .filter(bills::id.eq(id))
        .select(BillRow::as_select())
        .get_result::<BillRow>(c)
        .optional())?
    .ok_or_else(|| StoreError::not_found(Entity::Bill, id))?
    .into_bill()
}

pub(crate) fn load_account_bills(
    conn: &mut AnyConnection,
    account_id: i64,
) -> StoreResult<Vec<Bill>> {
    crate::pool::on_backend!(conn, |c| bills::table
        .filter(bills::account_id.eq(account_id))
        .order(bills::id.asc())
        .select(BillRow::as_select())
        .load::<BillRow>(c))?
    .into_iter()
    .map(BillRow::into_bill)
    .collect()
}

/// The rows of the bills that carry this full VA number, the active one first, then newest: one
/// statement (a join), not one per bill: every VA and SNAP inquiry runs it.
fn bill_rows_by_va_number(conn: &mut AnyConnection, number: &str) -> StoreResult<Vec<BillRow>> {
    Ok(crate::pool::on_backend!(conn, |c| va_numbers::table
        .inner_join(bills::table)
        .filter(va_numbers::number.eq(number))
        .order((va_numbers::active.desc(), va_numbers::bill_id.desc()))
        .select(BillRow::as_select())
        .load::<BillRow>(c))?)
}

pub(crate) fn load_account(conn: &mut AnyConnection, id: i64) -> StoreResult<Account> {
    Ok(crate::pool::on_backend!(conn, |c| accounts::table
        .filter(accounts::id.eq(id))
        .select(AccountRow::as_select())
        .get_result::<AccountRow>(c)
        .optional())?
    .ok_or_else(|| StoreError::not_found(Entity::Account, id))?
    .into())
}

/// Appends to a bill's history.
#[allow(clippy::too_many_arguments)] // mirrors the bill_events columns one to one
pub(crate) fn append_event(
    conn: &mut AnyConnection,
    bill_id: i64,
    kind: &str,
    payment_id: Option<i64>,
    amount: Option<i64>,
    status_after: BillStatus,
    paid_after: i64,
    details: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    diesel::insert_into(bill_events::table)
        .values((
            bill_events::bill_id.eq(bill_id),
            bill_events::kind.eq(kind),
            bill_events::payment_id.eq(payment_id),
            bill_events::amount.eq(amount),
            bill_events::status_after.eq(status_after.as_str()),
            bill_events::paid_after.eq(paid_after),
            bill_events::details.eq(details),
            bill_events::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes a bill's new status and paid amount if its version is unchanged; a lost race is
/// [`StoreError::Busy`], which makes [`Store::write`] run the whole transaction again.
pub(crate) fn update_bill_versioned(
    conn: &mut AnyConnection,
    bill: &Bill,
    status: BillStatus,
    paid: i64,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let n = Fixed::<()>::new(
        "UPDATE bills SET status = ?, paid = ?, version = ?, updated_at = ? \
         WHERE id = ? AND version = ?",
        vec![
            Bind::Text(status.as_str()),
            Bind::BigInt(paid),
            Bind::BigInt(bill.version + 1),
            Bind::Timestamp(to_db(now)),
            Bind::BigInt(bill.id),
            Bind::BigInt(bill.version),
        ],
    )
    .execute(conn)?;
    if n != 1 {
        return Err(StoreError::RaceLost {
            entity: Entity::Bill,
            id: bill.id,
        });
    }
    // A bill that is no longer payable releases its VA numbers.
    if !status.is_payable() {
        Fixed::<()>::new(
            "UPDATE va_numbers SET active = ? WHERE bill_id = ?",
            vec![Bind::Bool(false), Bind::BigInt(bill.id)],
        )
        .execute(conn)?;
    } else if !bill.status.is_payable() {
        reactivate_va_numbers(conn, bill.id)?;
    }
    Ok(())
}

/// Re-activates a bill's VA numbers when it becomes payable again, unless another payable bill
/// took a number in the meantime (then that number stays inactive for this bill).
fn reactivate_va_numbers(conn: &mut AnyConnection, bill_id: i64) -> StoreResult<()> {
    let mine: Vec<(i64, String)> = va_numbers::table
        .filter(va_numbers::bill_id.eq(bill_id))
        .select((va_numbers::id, va_numbers::number))
        .load(conn)?;
    for (id, number) in mine {
        let taken: Option<i64> = va_numbers::table
            .filter(va_numbers::number.eq(&number))
            .filter(va_numbers::active.eq(true))
            .select(va_numbers::id)
            .first(conn)
            .optional()?;
        if taken.is_none() {
            Fixed::<()>::new(
                "UPDATE va_numbers SET active = ? WHERE id = ?",
                vec![Bind::Bool(true), Bind::BigInt(id)],
            )
            .execute(conn)?;
        }
    }
    Ok(())
}

pub(crate) fn find_or_create_account(
    conn: &mut AnyConnection,
    organization_id: i64,
    input: &AccountInput,
    now: OffsetDateTime,
) -> StoreResult<Account> {
    let code = input.code.trim();
    if code.is_empty() || code.len() > 64 {
        return Err(StoreError::Invalid(InvalidKind::AccountCode));
    }
    let existing: Option<AccountRow> = accounts::table
        .filter(accounts::organization_id.eq(organization_id))
        .filter(accounts::code.eq(code))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(row) = existing {
        let pick = |new: &str, old: &str| {
            if new.is_empty() {
                old.to_string()
            } else {
                new.to_string()
            }
        };
        diesel::update(accounts::table.filter(accounts::id.eq(row.id)))
            .set((
                accounts::name.eq(pick(&input.name, &row.name)),
                accounts::name_latin.eq(pick(&input.name_latin, &row.name_latin)),
                accounts::first_name.eq(pick(&input.first_name, &row.first_name)),
                accounts::last_name.eq(pick(&input.last_name, &row.last_name)),
                accounts::phone.eq(pick(&input.phone, &row.phone)),
                accounts::email.eq(pick(&input.email, &row.email)),
                accounts::address.eq(pick(&input.address, &row.address)),
                accounts::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?;
        return load_account(conn, row.id);
    }
    let id: i64 = diesel::insert_into(accounts::table)
        .values((
            accounts::organization_id.eq(organization_id),
            accounts::code.eq(code),
            accounts::name.eq(&input.name),
            accounts::name_latin.eq(&input.name_latin),
            accounts::first_name.eq(&input.first_name),
            accounts::last_name.eq(&input.last_name),
            accounts::phone.eq(&input.phone),
            accounts::email.eq(&input.email),
            accounts::address.eq(&input.address),
            accounts::created_at.eq(to_db(now)),
            accounts::updated_at.eq(to_db(now)),
        ))
        .returning(accounts::id)
        .get_result(conn)?;
    load_account(conn, id)
}

/// Inside a transaction: creates a bill with its items, VA numbers and `created` event.
pub fn insert_bill(
    conn: &mut AnyConnection,
    new: &NewBill,
    now: OffsetDateTime,
) -> StoreResult<Bill> {
    check_new_bill(conn, new)?;
    claim_va_numbers(conn, new, now)?;
    let id = insert_bill_row(conn, new, now)?;
    insert_bill_items(conn, id, &new.items, now)?;
    insert_va_numbers(conn, id, new, now)?;
    let bill = load_bill(conn, id)?;
    append_event(
        conn,
        id,
        "created",
        None,
        Some(bill.billed),
        bill.status,
        0,
        "{}",
        now,
    )?;
    Ok(bill)
}

/// Refuses a bill whose amounts do not add up or whose account is another organization's.
fn check_new_bill(conn: &mut AnyConnection, new: &NewBill) -> StoreResult<()> {
    if new.billed < 0 {
        return Err(StoreError::Invalid(InvalidKind::NegativeBilled));
    }
    if !new.items.is_empty() {
        let sum = new
            .items
            .iter()
            .try_fold(0i64, |acc, i| acc.checked_add(i.total));
        if sum != Some(new.billed) {
            return Err(StoreError::Invalid(InvalidKind::ItemsTotal));
        }
    }
    let account = load_account(conn, new.account_id)?;
    if account.organization_id != new.organization_id {
        return Err(StoreError::Invalid(
            InvalidKind::AccountOfAnotherOrganization,
        ));
    }
    Ok(())
}

/// Checks the new bill's VA numbers and frees each one an expired bill still holds.
fn claim_va_numbers(
    conn: &mut AnyConnection,
    new: &NewBill,
    now: OffsetDateTime,
) -> StoreResult<()> {
    // VA numbers: each prefix must be the organization's, each number free among payable bills.
    for (prefix, number) in &new.va_numbers {
        let owner: Option<i64> = va_prefixes::table
            .filter(va_prefixes::prefix.eq(prefix))
            .select(va_prefixes::organization_id)
            .first(conn)
            .optional()?;
        if owner != Some(new.organization_id) {
            return Err(StoreError::Invalid(InvalidKind::VaPrefixNotOwned {
                prefix: prefix.to_string(),
            }));
        }
        if number.len() != 10 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::Invalid(InvalidKind::VaNumberFormat {
                number: number.to_string(),
            }));
        }
        let full = format!("{prefix}{number}");
        let holders: Vec<i64> = va_numbers::table
            .filter(va_numbers::number.eq(&full))
            .filter(va_numbers::active.eq(true))
            .select(va_numbers::bill_id)
            .load(conn)?;
        for holder in holders {
            let b = load_bill(conn, holder)?;
            if b.status_at(now).is_payable() {
                return Err(StoreError::Conflict(ConflictKind::VaNumberInUse {
                    number: full.to_string(),
                }));
            }
            // An expired bill still marked payable gives its number up.
            diesel::update(
                va_numbers::table
                    .filter(va_numbers::bill_id.eq(holder))
                    .filter(va_numbers::number.eq(&full)),
            )
            .set(va_numbers::active.eq(false))
            .execute(conn)?;
        }
    }
    Ok(())
}

/// Inserts the bill row under a fresh public number (a few tries) and returns its id.
fn insert_bill_row(
    conn: &mut AnyConnection,
    new: &NewBill,
    now: OffsetDateTime,
) -> StoreResult<i64> {
    let mut attempt = 0;
    let public_no = loop {
        attempt += 1;
        let public_no = new_public_no();
        let taken: Option<i64> = bills::table
            .filter(bills::public_no.eq(&public_no))
            .select(bills::id)
            .first(conn)
            .optional()?;
        if taken.is_none() {
            break public_no;
        }
        if attempt > 8 {
            return Err(StoreError::Busy(
                "could not find a free public number".into(),
            ));
        }
    };
    let invoice = new
        .invoice_number
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| public_no.clone());
    Ok(diesel::insert_into(bills::table)
        .values((
            bills::organization_id.eq(new.organization_id),
            bills::account_id.eq(new.account_id),
            bills::collection_id.eq(new.collection_id),
            bills::public_no.eq(&public_no),
            bills::invoice_number.eq(invoice),
            bills::ref1.eq(&new.ref1),
            bills::ref2.eq(&new.ref2),
            bills::name.eq(&new.name),
            bills::description.eq(&new.description),
            bills::currency.eq(new.currency.code()),
            bills::billed.eq(new.billed),
            bills::paid.eq(0i64),
            bills::bill_date.eq(new.bill_date),
            bills::due_date.eq(new.due_date),
            bills::valid_until.eq(new.valid_until.map(to_db)),
            bills::rule.eq(new.rule.name()),
            bills::rule_minimum.eq(new.rule.minimum()),
            bills::status.eq(if new.billed == 0 && new.rule != PaymentRule::Open {
                BillStatus::Paid
            } else {
                BillStatus::Active
            }
            .as_str()),
            bills::version.eq(0i64),
            bills::source.eq(&new.source),
            bills::extra.eq(&new.extra),
            bills::created_at.eq(to_db(now)),
            bills::updated_at.eq(to_db(now)),
        ))
        .returning(bills::id)
        .get_result(conn)?)
}

/// Inserts a new bill's items in order.
fn insert_bill_items(
    conn: &mut AnyConnection,
    bill_id: i64,
    items: &[NewItem],
    now: OffsetDateTime,
) -> StoreResult<()> {
    for (pos, item) in items.iter().enumerate() {
        diesel::insert_into(bill_items::table)
            .values((
                bill_items::bill_id.eq(bill_id),
                bill_items::uid.eq(uuid::Uuid::new_v4().to_string()),
                bill_items::position.eq(pos as i32),
                bill_items::name.eq(&item.name),
                bill_items::quantity.eq(item.quantity.normalize().to_string()),
                bill_items::unit_price.eq(item.unit_price),
                bill_items::total.eq(item.total),
                bill_items::product_id.eq(item.product_id),
                bill_items::created_at.eq(to_db(now)),
                bill_items::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Inserts a new bill's VA numbers in order, all active.
fn insert_va_numbers(
    conn: &mut AnyConnection,
    bill_id: i64,
    new: &NewBill,
    now: OffsetDateTime,
) -> StoreResult<()> {
    for (pos, (prefix, number)) in new.va_numbers.iter().enumerate() {
        diesel::insert_into(va_numbers::table)
            .values((
                va_numbers::bill_id.eq(bill_id),
                va_numbers::organization_id.eq(new.organization_id),
                va_numbers::prefix.eq(prefix),
                va_numbers::number.eq(format!("{prefix}{number}")),
                va_numbers::position.eq(pos as i32),
                va_numbers::active.eq(true),
                va_numbers::created_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Digits for generated account codes.
const DIGITS: &[u8] = b"0123456789";

impl Reader<'_> {
    pub fn account(&mut self, id: i64) -> StoreResult<Account> {
        self.with(|conn| load_account(conn, id))
    }

    pub fn account_by_code(
        &mut self,
        organization_id: i64,
        code: &str,
    ) -> StoreResult<Option<Account>> {
        // A unique key: `get_result` without a bound `LIMIT` (which SQLite prepares anew on
        // every run), typed for its backend; every postpaid lookup runs it.
        self.with(|conn| {
            Ok(crate::pool::on_backend!(conn, |c| accounts::table
                .filter(accounts::organization_id.eq(organization_id))
                .filter(accounts::code.eq(code))
                .select(AccountRow::as_select())
                .get_result::<AccountRow>(c)
                .optional())?
            .map(Account::from))
        })
    }

    pub fn bill(&mut self, id: i64) -> StoreResult<Bill> {
        self.with(|conn| load_bill(conn, id))
    }

    /// A bill of the organization by its public number.
    pub fn bill_by_public_no(
        &mut self,
        organization_id: i64,
        public_no: &str,
    ) -> StoreResult<Option<Bill>> {
        self.with(|conn| {
            bills::table
                .filter(bills::organization_id.eq(organization_id))
                .filter(bills::public_no.eq(public_no))
                .select(BillRow::as_select())
                .first(conn)
                .optional()?
                .map(BillRow::into_bill)
                .transpose()
        })
    }

    /// A bill by its public number in any organization (the hosted page, receipts).
    pub fn bill_by_public_no_anywhere(&mut self, public_no: &str) -> StoreResult<Option<Bill>> {
        self.with(|conn| {
            bills::table
                .filter(bills::public_no.eq(public_no))
                .select(BillRow::as_select())
                .first(conn)
                .optional()?
                .map(BillRow::into_bill)
                .transpose()
        })
    }

    /// Bills of the organization with this invoice number, newest first.
    pub fn bills_by_invoice_number(
        &mut self,
        organization_id: i64,
        invoice_number: &str,
    ) -> StoreResult<Vec<Bill>> {
        self.with(|conn| {
            bills::table
                .filter(bills::organization_id.eq(organization_id))
                .filter(bills::invoice_number.eq(invoice_number))
                .order(bills::id.desc())
                .select(BillRow::as_select())
                .load(conn)?
                .into_iter()
                .map(BillRow::into_bill)
                .collect()
        })
    }

    /// Every bill of an account, oldest created first.
    pub fn bills_of_account(&mut self, account_id: i64) -> StoreResult<Vec<Bill>> {
        self.with(|conn| load_account_bills(conn, account_id))
    }

    pub fn bill_items(&mut self, bill_id: i64) -> StoreResult<Vec<BillItem>> {
        self.with(|conn| {
            bill_items::table
                .filter(bill_items::bill_id.eq(bill_id))
                .order(bill_items::position.asc())
                .select(BillItemRow::as_select())
                .load(conn)?
                .into_iter()
                .map(item_from_row)
                .collect()
        })
    }

    pub fn bill_events(&mut self, bill_id: i64) -> StoreResult<Vec<BillEvent>> {
        self.with(|conn| {
            Ok(bill_events::table
                .filter(bill_events::bill_id.eq(bill_id))
                .order(bill_events::id.asc())
                .select(BillEventRow::as_select())
                .load(conn)?
                .into_iter()
                .map(|r| BillEvent {
                    id: r.id,
                    bill_id: r.bill_id,
                    kind: r.kind,
                    payment_id: r.payment_id,
                    amount: r.amount,
                    status_after: r.status_after,
                    paid_after: r.paid_after,
                    details: r.details,
                    created_at: from_db(r.created_at),
                })
                .collect())
        })
    }

    pub fn va_numbers_of_bill(&mut self, bill_id: i64) -> StoreResult<Vec<VaNumber>> {
        self.with(|conn| {
            let rows: Vec<(i64, String, String, bool)> = va_numbers::table
                .filter(va_numbers::bill_id.eq(bill_id))
                .order(va_numbers::position.asc())
                .select((
                    va_numbers::bill_id,
                    va_numbers::prefix,
                    va_numbers::number,
                    va_numbers::active,
                ))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|(bill_id, prefix, number, active)| VaNumber {
                    bill_id,
                    prefix,
                    number,
                    active,
                })
                .collect())
        })
    }

    /// Bills that carry this full VA number (prefix + 10 digits), newest first; the payable one
    /// (at most one) comes first.
    pub fn bills_by_va_number(&mut self, number: &str) -> StoreResult<Vec<Bill>> {
        self.with(|conn| {
            bill_rows_by_va_number(conn, number)?
                .into_iter()
                .map(BillRow::into_bill)
                .collect()
        })
    }
}

impl Writer<'_> {
    /// Finds an account by code in the organization, creating it when missing; non-empty
    /// fields of `input` update an existing account.
    pub fn upsert_account(
        &mut self,
        organization_id: i64,
        input: &AccountInput,
        now: OffsetDateTime,
    ) -> StoreResult<Account> {
        self.with(|conn| {
            load_org(conn, organization_id)?;
            find_or_create_account(conn, organization_id, input, now)
        })
    }

    /// Creates an account with a generated 12-digit code (for payers who have none yet).
    pub fn create_account_with_generated_code(
        &mut self,
        organization_id: i64,
        input: &AccountInput,
        now: OffsetDateTime,
    ) -> StoreResult<Account> {
        self.with(|conn| {
            load_org(conn, organization_id)?;
            for _ in 0..16 {
                let code = format!(
                    "{}{}",
                    random_from(b"123456789", 1),
                    random_from(DIGITS, 11)
                );
                let taken: Option<i64> = accounts::table
                    .filter(accounts::organization_id.eq(organization_id))
                    .filter(accounts::code.eq(&code))
                    .select(accounts::id)
                    .first(conn)
                    .optional()?;
                if taken.is_none() {
                    let input = AccountInput {
                        code,
                        ..input.clone()
                    };
                    return find_or_create_account(conn, organization_id, &input, now);
                }
            }
            Err(StoreError::Busy(
                "could not find a free account code".into(),
            ))
        })
    }

    /// Creates a bill (with items and VA numbers) in one transaction.
    pub fn create_bill(&mut self, new: &NewBill, now: OffsetDateTime) -> StoreResult<Bill> {
        self.with(|conn| insert_bill(conn, new, now))
    }

    /// Creates the account if needed and the bill, in one transaction.
    pub fn create_bill_for_account(
        &mut self,
        account: &AccountInput,
        new: &NewBill,
        now: OffsetDateTime,
    ) -> StoreResult<(Account, Bill)> {
        self.with(|conn| {
            load_org(conn, new.organization_id)?;
            let acc = find_or_create_account(conn, new.organization_id, account, now)?;
            let bill = insert_bill(
                conn,
                &NewBill {
                    account_id: acc.id,
                    ..new.clone()
                },
                now,
            )?;
            Ok((acc, bill))
        })
    }

    /// Voids (revokes, cancels) a bill through core's status machine; refused while money is on
    /// it (core's `may_void`: reverse or refund its payments first).
    pub fn void_bill(
        &mut self,
        bill_id: i64,
        reason: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Bill> {
        self.with(|conn| {
            let bill = load_bill(conn, bill_id)?;
            billhub_core::rules::may_void(&bill, now).map_err(StoreError::Rejected)?;
            let (status, paid) = billhub_core::bill::transition(
                bill.status_at(now),
                bill.billed,
                bill.paid,
                BillTransition::Void,
            )
            .map_err(|e| StoreError::Invalid(InvalidKind::Transition(e)))?;
            update_bill_versioned(conn, &bill, status, paid, now)?;
            let details = serde_json::json!({ "reason": reason }).to_string();
            append_event(
                conn, bill_id, "voided", None, None, status, paid, &details, now,
            )?;
            load_bill(conn, bill_id)
        })
    }

    /// Marks at most `limit` payable bills whose `valid_until` has passed as expired (lowest
    /// ids first; with an event and a `bill.expired` notification to the subscribers that have
    /// such an event), inside this transaction. Returns how many bills changed: fewer than
    /// `limit` means none is left. See [`crate::Store::expire_due_bills`].
    pub fn expire_due_batch(&mut self, now: OffsetDateTime, limit: usize) -> StoreResult<usize> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|conn| {
            let due: Vec<BillRow> = bills::table
                .filter(bills::status.eq_any(["active", "partially_paid"]))
                .filter(bills::valid_until.le(to_db(now)))
                .order(bills::id.asc())
                .limit(limit)
                .select(BillRow::as_select())
                .load(conn)?;
            let mut settings: Vec<(i64, billhub_core::org::Settings)> = Vec::new();
            let mut n = 0;
            for row in due {
                let bill = row.into_bill()?;
                if !settings.iter().any(|(id, _)| *id == bill.organization_id) {
                    let s = load_settings(conn, bill.organization_id)?;
                    settings.push((bill.organization_id, s));
                }
                let Some((_, s)) = settings.iter().find(|(id, _)| *id == bill.organization_id)
                else {
                    continue;
                };
                expire_bill(conn, &bill, s, now)?;
                n += 1;
            }
            Ok(n)
        })
    }
}

/// How many bills one expiry transaction takes at most.
pub const EXPIRY_BATCH: usize = 500;

impl crate::Store {
    /// Marks every payable bill whose `valid_until` has passed as expired (with an event and a
    /// `bill.expired` notification to the subscribers that have such an event), in batches of
    /// [`EXPIRY_BATCH`], each its own short write transaction, so a backlog never holds one long
    /// write lock. Returns how many bills changed. Reads stay correct without it (status is
    /// evaluated at `now`); this makes the stored status and the history catch up.
    pub fn expire_due_bills(&self, now: OffsetDateTime) -> StoreResult<usize> {
        self.expire_due_bills_in_batches(now, EXPIRY_BATCH)
    }

    /// [`crate::Store::expire_due_bills`] with batches of `batch` bills (at least one).
    pub fn expire_due_bills_in_batches(
        &self,
        now: OffsetDateTime,
        batch: usize,
    ) -> StoreResult<usize> {
        let batch = batch.max(1);
        let mut total: usize = 0;
        loop {
            let n = self.transaction(|w| w.expire_due_batch(now, batch))?;
            total = total.saturating_add(n);
            if n < batch {
                return Ok(total);
            }
        }
    }
}

/// Expires one bill: the status change, its bill event, and the `bill.expired` notification to
/// the subscribers whose dialect has such an event (the VA webhook, a collection's callback).
fn expire_bill(
    conn: &mut AnyConnection,
    bill: &Bill,
    settings: &billhub_core::org::Settings,
    now: OffsetDateTime,
) -> StoreResult<()> {
    use billhub_core::org::{collections, va};
    let (status, paid) =
        billhub_core::bill::transition(bill.status, bill.billed, bill.paid, BillTransition::Expire)
            .map_err(|e| StoreError::Invalid(InvalidKind::Transition(e)))?;
    update_bill_versioned(conn, bill, status, paid, now)?;
    append_event(
        conn, bill.id, "expired", None, None, status, paid, "{}", now,
    )?;
    let targets: Vec<Target> = targets_for_bill(conn, bill.id, settings)?
        .into_iter()
        .filter(|t| t.dialect == va::DIALECT || t.dialect == collections::CALLBACK_DIALECT)
        .collect();
    let payload = serde_json::json!({
        "currency": bill.currency.code(),
        "billed": bill.billed,
        "paid_after": paid,
        "status_after": status.as_str(),
    })
    .to_string();
    enqueue_event(
        conn,
        bill.organization_id,
        "bill.expired",
        Some(bill.id),
        None,
        &payload,
        &targets,
        now,
    )?;
    Ok(())
}

crate::tx::store_reads! {
    fn account(&self, id: i64) -> Account;
    fn account_by_code(&self, organization_id: i64, code: &str) -> Option<Account>;
    fn bill(&self, id: i64) -> Bill;
    fn bill_by_public_no(&self, organization_id: i64, public_no: &str) -> Option<Bill>;
    fn bill_by_public_no_anywhere(&self, public_no: &str) -> Option<Bill>;
    fn bills_by_invoice_number(&self, organization_id: i64, invoice_number: &str) -> Vec<Bill>;
    fn bills_of_account(&self, account_id: i64) -> Vec<Bill>;
    fn bill_items(&self, bill_id: i64) -> Vec<BillItem>;
    fn bill_events(&self, bill_id: i64) -> Vec<BillEvent>;
    fn va_numbers_of_bill(&self, bill_id: i64) -> Vec<VaNumber>;
    fn bills_by_va_number(&self, number: &str) -> Vec<Bill>;
}

crate::tx::store_writes! {
    fn upsert_account(&self, organization_id: i64, input: &AccountInput, now: OffsetDateTime) -> Account;
    fn create_account_with_generated_code(&self, organization_id: i64, input: &AccountInput, now: OffsetDateTime) -> Account;
    fn create_bill(&self, new: &NewBill, now: OffsetDateTime) -> Bill;
    fn create_bill_for_account(&self, account: &AccountInput, new: &NewBill, now: OffsetDateTime) -> (Account, Bill);
    fn void_bill(&self, bill_id: i64, reason: &str, now: OffsetDateTime) -> Bill;
}
