//! Bulk import of bills (`billhub import bills`): a batch of validated rows in one transaction,
//! and the marker of each imported row (invoice number + content hash) that makes a re-run skip
//! what is already in and refuse a number that comes back with other content.
//!
//! Each bill goes through the same [`insert_bill`] as every other way of making one, so the
//! store's checks (VA prefixes and numbers, amounts, the account's organization) are not copied
//! here; accounts go through the same upsert as `billhub bill create`.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use time::OffsetDateTime;

use billhub_core::BillStatus;

use crate::models::AccountRow;
use crate::pool::AnyConnection;
use crate::repo::bills::{
    AccountInput, NewBill, find_or_create_account, insert_bill, new_public_no,
};
use crate::schema::{accounts, bill_events, bill_imports, bills, va_numbers, va_prefixes};
use crate::time_conv::to_db;
use crate::{InvalidKind, Reader, Store, StoreError, StoreResult, TxError, Writer};

/// How many invoice numbers one `IN (...)` lookup carries (well under every backend's limit).
const LOOKUP_CHUNK: usize = 500;

/// One validated row of an import: its line in the file, the hash of its content, its account
/// and its bill (`invoice_number` required: a row without one is refused; `organization_id` and
/// `account_id` are filled in here).
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: u64,
    pub hash: String,
    pub account: AccountInput,
    pub bill: NewBill,
}

/// What a batch did: rows inserted, rows skipped (already imported with the same content), and
/// the lines whose invoice number is already taken by other content (then nothing was inserted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub inserted: usize,
    pub skipped: usize,
    pub conflicts: Vec<u64>,
}

/// A batch that failed, naming the row when one row caused it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {source}")]
    Row {
        line: u64,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TxError for ImportError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            ImportError::Row { source, .. } => Some(source),
            ImportError::Store(e) => Some(e),
        }
    }
}

impl Reader<'_> {
    /// The content hash each of these invoice numbers was imported with, by number (numbers
    /// never imported are absent).
    pub fn imported_hashes(
        &mut self,
        organization_id: i64,
        invoice_numbers: &[String],
    ) -> StoreResult<HashMap<String, String>> {
        let mut found = HashMap::new();
        for chunk in invoice_numbers.chunks(LOOKUP_CHUNK) {
            let rows: Vec<(String, String)> = bill_imports::table
                .filter(bill_imports::organization_id.eq(organization_id))
                .filter(bill_imports::invoice_number.eq_any(chunk))
                .select((bill_imports::invoice_number, bill_imports::content_hash))
                .load(self.conn)?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// The VA prefixes an organization owns.
    pub fn va_prefixes_of(&mut self, organization_id: i64) -> StoreResult<Vec<String>> {
        Ok(va_prefixes::table
            .filter(va_prefixes::organization_id.eq(organization_id))
            .order(va_prefixes::prefix.asc())
            .select(va_prefixes::prefix)
            .load(self.conn)?)
    }
}

impl Writer<'_> {
    /// Imports one batch of an organization's rows: a row already imported with the same
    /// content (or repeated within the batch) is skipped; when any row's invoice number was
    /// imported with other content, nothing is inserted and those lines are returned. A row the
    /// store refuses fails the whole batch with its line.
    pub fn import_bills(
        &mut self,
        organization_id: i64,
        rows: &[ImportRow],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, ImportError> {
        // PostgreSQL plans a prepared statement generically after five runs, from the table's
        // statistics at that moment: an import into a fresh table would keep a sequential-scan
        // plan for its account and VA lookups while the table grows to millions of rows (each
        // batch slower than the last). Plans chosen for the actual parameters use the indexes.
        if let AnyConnection::Postgresql(c) = &mut *self.conn {
            diesel::connection::SimpleConnection::batch_execute(
                c,
                "SET LOCAL plan_cache_mode = force_custom_plan",
            )
            .map_err(StoreError::from)?;
        }
        let numbers: Vec<String> = rows.iter().map(|r| invoice_of(r).to_string()).collect();
        let mut seen = self.imported_hashes(organization_id, &numbers)?;
        let mut outcome = BatchOutcome::default();
        let mut todo = Vec::with_capacity(rows.len());
        for row in rows {
            let number = invoice_of(row);
            if number.trim().is_empty() {
                return Err(ImportError::Row {
                    line: row.line,
                    source: StoreError::Invalid(InvalidKind::Empty {
                        what: "invoice number",
                    }),
                });
            }
            match seen.get(number) {
                Some(hash) if *hash == row.hash => outcome.skipped += 1,
                Some(_) => outcome.conflicts.push(row.line),
                None => {
                    seen.insert(number.to_string(), row.hash.clone());
                    todo.push(row);
                }
            }
        }
        if !outcome.conflicts.is_empty() {
            return Ok(outcome);
        }
        let mut batch = Batch::load(self, organization_id, &todo)?;
        let mut created = Vec::with_capacity(todo.len());
        for row in todo {
            let result = batch
                .insert(self.conn, organization_id, row, now)
                .map_err(|source| ImportError::Row {
                    line: row.line,
                    source,
                })?;
            created.push(result);
            outcome.inserted += 1;
        }
        insert_events_and_markers(self.conn, organization_id, &created, now)?;
        Ok(outcome)
    }
}

/// What a batch needs to know once: the organization's VA prefixes, the accounts its rows
/// name, and which of its VA numbers a bill holds.
struct Batch {
    prefixes: HashSet<String>,
    accounts: HashMap<String, AccountRow>,
    held: HashSet<String>,
}

/// A bill a batch made: its id, the marker's row, and whether its `created` event is still to
/// be written (the ordinary insert writes its own).
struct Created<'r> {
    bill_id: i64,
    billed: Option<i64>,
    row: &'r ImportRow,
}

impl Batch {
    fn load(r: &mut Reader<'_>, organization_id: i64, rows: &[&ImportRow]) -> StoreResult<Batch> {
        let prefixes = r.va_prefixes_of(organization_id)?.into_iter().collect();
        let codes: Vec<String> = rows
            .iter()
            .map(|r| r.account.code.trim().to_string())
            .collect();
        let mut accounts = HashMap::new();
        for chunk in codes.chunks(LOOKUP_CHUNK) {
            let found: Vec<AccountRow> = accounts::table
                .filter(accounts::organization_id.eq(organization_id))
                .filter(accounts::code.eq_any(chunk))
                .select(AccountRow::as_select())
                .load(r.conn)?;
            accounts.extend(found.into_iter().map(|a| (a.code.clone(), a)));
        }
        let numbers: Vec<String> = rows
            .iter()
            .flat_map(|r| r.bill.va_numbers.iter().map(|(p, n)| format!("{p}{n}")))
            .collect();
        let mut held = HashSet::new();
        for chunk in numbers.chunks(LOOKUP_CHUNK) {
            let found: Vec<String> = va_numbers::table
                .filter(va_numbers::number.eq_any(chunk))
                .filter(va_numbers::active.eq(true))
                .select(va_numbers::number)
                .load(r.conn)?;
            held.extend(found);
        }
        Ok(Batch {
            prefixes,
            accounts,
            held,
        })
    }

    /// Inserts one row's account and bill. A plain bill (positive amount, no items, each VA
    /// number well formed, under one of the organization's prefixes and held by no bill) takes
    /// the short way: one statement for the bill and one per VA number. Any other bill goes
    /// through the ordinary [`insert_bill`], which says why it is refused, or frees a number an
    /// expired bill still holds.
    fn insert<'r>(
        &mut self,
        conn: &mut AnyConnection,
        organization_id: i64,
        row: &'r ImportRow,
        now: OffsetDateTime,
    ) -> StoreResult<Created<'r>> {
        let account_id = self.account(conn, organization_id, &row.account, now)?;
        let new = NewBill {
            organization_id,
            account_id,
            ..row.bill.clone()
        };
        let plain = new.billed > 0
            && new.items.is_empty()
            && new.va_numbers.iter().all(|(prefix, number)| {
                self.prefixes.contains(prefix)
                    && number.len() == 10
                    && number.bytes().all(|b| b.is_ascii_digit())
                    && !self.held.contains(&format!("{prefix}{number}"))
            });
        self.held
            .extend(new.va_numbers.iter().map(|(p, n)| format!("{p}{n}")));
        if !plain {
            let bill = insert_bill(conn, &new, now)?;
            return Ok(Created {
                bill_id: bill.id,
                billed: None,
                row,
            });
        }
        let bill_id = insert_plain_bill(conn, &new, now)?;
        for (pos, (prefix, number)) in new.va_numbers.iter().enumerate() {
            let insert = diesel::insert_into(va_numbers::table).values((
                va_numbers::bill_id.eq(bill_id),
                va_numbers::organization_id.eq(organization_id),
                va_numbers::prefix.eq(prefix),
                va_numbers::number.eq(format!("{prefix}{number}")),
                va_numbers::position.eq(i32::try_from(pos).unwrap_or(i32::MAX)),
                va_numbers::active.eq(true),
                va_numbers::created_at.eq(to_db(now)),
            ));
            match conn {
                AnyConnection::Sqlite(c) => insert.execute(c)?,
                AnyConnection::Postgresql(c) => insert.execute(c)?,
            };
        }
        Ok(Created {
            bill_id,
            billed: Some(new.billed),
            row,
        })
    }

    /// The account's id, made or updated as [`find_or_create_account`] does (an empty field
    /// keeps the stored one), with no statement when nothing changes.
    fn account(
        &mut self,
        conn: &mut AnyConnection,
        organization_id: i64,
        input: &AccountInput,
        now: OffsetDateTime,
    ) -> StoreResult<i64> {
        let code = input.code.trim();
        if code.is_empty() || code.len() > 64 {
            // The ordinary upsert says why the code is refused.
            return find_or_create_account(conn, organization_id, input, now).map(|a| a.id);
        }
        let Some(row) = self.accounts.get_mut(code) else {
            let row = insert_account(conn, organization_id, code, input, now)?;
            let id = row.id;
            self.accounts.insert(row.code.clone(), row);
            return Ok(id);
        };
        let pick = |new: &str, old: &mut String| {
            let changed = !new.is_empty() && new != old;
            if changed {
                *old = new.to_string();
            }
            changed
        };
        let changed = [
            pick(&input.name, &mut row.name),
            pick(&input.name_latin, &mut row.name_latin),
            pick(&input.first_name, &mut row.first_name),
            pick(&input.last_name, &mut row.last_name),
            pick(&input.phone, &mut row.phone),
            pick(&input.email, &mut row.email),
            pick(&input.address, &mut row.address),
        ]
        .contains(&true);
        if changed {
            let update = diesel::update(accounts::table.filter(accounts::id.eq(row.id))).set((
                accounts::name.eq(&row.name),
                accounts::name_latin.eq(&row.name_latin),
                accounts::first_name.eq(&row.first_name),
                accounts::last_name.eq(&row.last_name),
                accounts::phone.eq(&row.phone),
                accounts::email.eq(&row.email),
                accounts::address.eq(&row.address),
                accounts::updated_at.eq(to_db(now)),
            ));
            match conn {
                AnyConnection::Sqlite(c) => update.execute(c)?,
                AnyConnection::Postgresql(c) => update.execute(c)?,
            };
        }
        Ok(row.id)
    }
}

/// Inserts a new account (its code already checked) and returns it as stored.
fn insert_account(
    conn: &mut AnyConnection,
    organization_id: i64,
    code: &str,
    input: &AccountInput,
    now: OffsetDateTime,
) -> StoreResult<AccountRow> {
    let at = to_db(now);
    let insert = diesel::insert_into(accounts::table)
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
            accounts::created_at.eq(at),
            accounts::updated_at.eq(at),
        ))
        .returning(accounts::id);
    let id = match conn {
        AnyConnection::Sqlite(c) => insert.get_result(c)?,
        AnyConnection::Postgresql(c) => insert.get_result(c)?,
    };
    Ok(AccountRow {
        id,
        organization_id,
        code: code.to_string(),
        name: input.name.clone(),
        name_latin: input.name_latin.clone(),
        first_name: input.first_name.clone(),
        last_name: input.last_name.clone(),
        phone: input.phone.clone(),
        email: input.email.clone(),
        address: input.address.clone(),
        created_at: at,
        updated_at: at,
    })
}

/// Inserts a plain bill row (positive amount, so `active`) under a fresh public number; a
/// number already taken (about one chance in 10^8 per bill at a million bills) is a unique
/// violation, which makes the batch's transaction run again.
fn insert_plain_bill(
    conn: &mut AnyConnection,
    new: &NewBill,
    now: OffsetDateTime,
) -> StoreResult<i64> {
    let public_no = new_public_no();
    let invoice = new
        .invoice_number
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| public_no.clone());
    let insert = diesel::insert_into(bills::table)
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
            bills::status.eq(BillStatus::Active.as_str()),
            bills::version.eq(0i64),
            bills::source.eq(&new.source),
            bills::extra.eq(&new.extra),
            bills::created_at.eq(to_db(now)),
            bills::updated_at.eq(to_db(now)),
        ))
        .returning(bills::id);
    // On each backend's own connection, whose statement cache keeps it prepared.
    Ok(match conn {
        AnyConnection::Sqlite(c) => insert.get_result(c)?,
        AnyConnection::Postgresql(c) => insert.get_result(c)?,
    })
}

/// Rows per multi-row INSERT of events and markers.
const INSERT_CHUNK: usize = 200;

/// The `created` events of the plain bills and every row's marker, many rows per statement.
fn insert_events_and_markers(
    conn: &mut AnyConnection,
    organization_id: i64,
    created: &[Created<'_>],
    now: OffsetDateTime,
) -> StoreResult<()> {
    let at = to_db(now);
    for chunk in created.chunks(INSERT_CHUNK) {
        let events: Vec<_> = chunk
            .iter()
            .filter_map(|c| {
                c.billed.map(|billed| {
                    (
                        bill_events::bill_id.eq(c.bill_id),
                        bill_events::kind.eq("created"),
                        bill_events::payment_id.eq(None::<i64>),
                        bill_events::amount.eq(Some(billed)),
                        bill_events::status_after.eq(BillStatus::Active.as_str()),
                        bill_events::paid_after.eq(0i64),
                        bill_events::details.eq("{}"),
                        bill_events::created_at.eq(at),
                    )
                })
            })
            .collect();
        if !events.is_empty() {
            let insert = diesel::insert_into(bill_events::table).values(events);
            // Multi-row INSERTs do not go through the multi-backend connection: on each own.
            match conn {
                AnyConnection::Sqlite(c) => insert.execute(c)?,
                AnyConnection::Postgresql(c) => insert.execute(c)?,
            };
        }
        let markers: Vec<_> = chunk
            .iter()
            .map(|c| {
                (
                    bill_imports::organization_id.eq(organization_id),
                    bill_imports::invoice_number.eq(invoice_of(c.row)),
                    bill_imports::content_hash.eq(c.row.hash.as_str()),
                    bill_imports::bill_id.eq(c.bill_id),
                    bill_imports::created_at.eq(at),
                )
            })
            .collect();
        let insert = diesel::insert_into(bill_imports::table).values(markers);
        match conn {
            AnyConnection::Sqlite(c) => insert.execute(c)?,
            AnyConnection::Postgresql(c) => insert.execute(c)?,
        };
    }
    Ok(())
}

fn invoice_of(row: &ImportRow) -> &str {
    row.bill.invoice_number.as_deref().unwrap_or_default()
}

impl Store {
    /// [`Writer::import_bills`] in its own write transaction (run again after a lost race).
    pub fn import_bills(
        &self,
        organization_id: i64,
        rows: &[ImportRow],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, ImportError> {
        self.transaction(|w| w.import_bills(organization_id, rows, now))
    }
}

crate::tx::store_reads! {
    fn imported_hashes(&self, organization_id: i64, invoice_numbers: &[String]) -> HashMap<String, String>;
    fn va_prefixes_of(&self, organization_id: i64) -> Vec<String>;
}
