//! Queries only the collections dialect needs: collections, the product catalogue, customers
//! (billhub accounts as the collections API shows them), the bills of a collection with
//! everything a response may include, and idempotent POSTs (the first response stored per
//! organization and `Idempotency-Key`, in the same transaction as the write it answers).
//!
//! Business refusals that name a request field (an unknown product id, an `acc_no` already
//! taken, a price the currency cannot carry) come back as data ([`Created::Invalid`],
//! [`BillUpdate::Refused`]) and are always decided before anything is written.

use crate::repo::bills::item_from_row;
use crate::repo::search::{like_pattern, lower};
use billhub_core::bill::{LineItem, LineItemError};
use billhub_core::org::Organization;
use billhub_core::patch::{FieldUpdate, LineAmounts, PatchRefusal, plan_patch};
use billhub_core::{
    Account, Bill, BillStatus, BillTransition, Currency, Money, Payment, PaymentRule,
};
use diesel::prelude::*;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use crate::models::{AccountRow, BillItemRow, BillRow, CollectionRow, ProductRow};
use crate::pool::AnyConnection;
use crate::repo::bills::{
    AccountInput, BillItem, NewBill, NewItem, append_event, find_or_create_account, insert_bill,
    load_account, update_bill_versioned,
};
use crate::repo::orgs::load_org;
use crate::repo::payments::load_payment;
use crate::schema::{
    accounts, bill_items, bills, collections, idempotency_keys as ik, payment_allocations as pa,
    products,
};
use crate::secrets::{random_alnum, random_from};
use crate::time_conv::{from_db, to_db};
use crate::{Entity, InvalidKind, Reader, StoreError, StoreResult, Writer};

/// A collection: a named group of an organization's bills with its callback URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: i64,
    pub organization_id: i64,
    /// 8 unguessable characters, unique across the store.
    pub code: String,
    pub name: String,
    pub webhook_url: Option<String>,
    pub redirect_url: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl From<CollectionRow> for Collection {
    fn from(r: CollectionRow) -> Self {
        Collection {
            id: r.id,
            organization_id: r.organization_id,
            code: r.code,
            name: r.name,
            webhook_url: r.webhook_url,
            redirect_url: r.redirect_url,
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
        }
    }
}

/// A catalogue product. `price` is decimal text as the API wrote it (`"10.00"`); bills copy it
/// into exact minor units of their own currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub organization_id: i64,
    pub title: String,
    pub code: String,
    pub description: String,
    pub price: String,
    pub currency: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted: bool,
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Self {
        Product {
            id: r.id,
            organization_id: r.organization_id,
            title: r.title,
            code: r.code,
            description: r.description,
            price: r.price,
            currency: r.currency,
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
            deleted: r.deleted_at.is_some(),
        }
    }
}

/// One page of a list and the number of rows in all pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCollection {
    pub name: String,
    pub webhook_url: Option<String>,
    pub redirect_url: Option<String>,
}

/// `None` leaves a field alone; `Some(None)` clears a URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionPatch {
    pub name: Option<String>,
    pub webhook_url: Option<Option<String>>,
    pub redirect_url: Option<Option<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductInput {
    pub title: String,
    pub code: String,
    pub description: String,
    pub price: String,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    pub title: Option<String>,
    pub code: Option<String>,
    pub description: Option<String>,
    pub price: Option<String>,
    pub currency: Option<Option<String>>,
}

/// Filters of the product list: partial, case-insensitive matches except `prices` (the
/// stored price text is any of these; empty: any price).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    pub title: Option<String>,
    pub code: Option<String>,
    pub description: Option<String>,
    pub prices: Vec<String>,
}

/// A customer as the collections API writes it. Without `acc_no` a 12-digit code is generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerInput {
    pub acc_no: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: String,
    pub address: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub address: Option<String>,
}

/// Filters of the customer list: `acc_no` exact, the others partial and case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    pub acc_no: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub address: Option<String>,
}

/// Filters of a collection's bills: exact matches, `due_from`/`due_to` inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillFilter {
    /// Any of these statuses (empty: all).
    pub statuses: Vec<BillStatus>,
    pub ref1: Option<String>,
    pub ref2: Option<String>,
    pub acc_no: Option<String>,
    pub due_from: Option<Date>,
    pub due_to: Option<Date>,
}

/// One product line of a new bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillLine {
    /// A catalogue product of the organization; `None` creates one from `title` and `price`.
    pub product_id: Option<i64>,
    pub title: String,
    /// The request's price (wins over the catalogue price); required without `product_id`.
    pub price: Option<Money>,
    pub quantity: Decimal,
}

/// A bill made through the collections API: `exact` rule, no expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCollectionBill {
    pub collection_code: String,
    pub customer: CustomerInput,
    pub currency: Currency,
    pub due: Date,
    pub ref1: String,
    pub ref2: String,
    pub lines: Vec<BillLine>,
}

/// What a collections POST creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionsCreate {
    Collection(NewCollection),
    Bill(NewCollectionBill),
    Product(ProductInput),
    Customer(CustomerInput),
}

/// What a collections POST made, or the request fields it refused (nothing written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Collection(Collection),
    Bill(Box<CollectionBillView>),
    Product(Product),
    Customer(Account),
    /// What the request asked that cannot be done; nothing was written.
    Invalid(Vec<CreateProblem>),
}

/// Why a create was refused, per request field (`index` is the position in `product`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateProblem {
    /// No product of the organization (not deleted) has this id.
    UnknownProduct { index: usize },
    /// The line's catalogue product is priced in another currency than the bill's.
    ProductCurrency { index: usize, currency: String },
    /// The catalogue price of the line's product has more decimals than the bill's currency.
    CataloguePrice { index: usize, price: String },
    /// The line's amounts (core refused them: quantity, price, or a total the currency cannot
    /// carry).
    Line { index: usize, error: LineItemError },
    /// A line without product id has no price.
    PriceRequired { index: usize },
    /// The lines add up to zero.
    ZeroTotal,
    /// The lines add up to more than fits.
    TotalTooLarge,
    /// A customer with this `acc_no` exists already.
    AccNoTaken,
}

/// An `Idempotency-Key` of a POST: `scope` is the organization's, `request_hash` a fingerprint
/// of method, path and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
    /// How long the first response is kept.
    pub ttl: time::Duration,
}

/// The answer to a POST that may carry an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent<T> {
    /// Done now (and, with a key, its response stored).
    Fresh(T),
    /// The key was used before with the same request: its first response.
    Replayed { status: u16, body: String },
    /// The key was used before with another request.
    Mismatch,
}

/// A payment of a bill with the part of it applied to that bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillPayment {
    pub payment: Payment,
    /// Minor units of the payment applied to this bill.
    pub amount: i64,
}

/// A bill of a collection with everything its responses may include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionBillView {
    pub bill: Bill,
    pub collection: Collection,
    pub organization: Organization,
    pub account: Account,
    /// Each line with its catalogue product (also when the product was deleted since).
    pub lines: Vec<(BillItem, Option<Product>)>,
    pub payments: Vec<BillPayment>,
}

/// Changes to a collection bill; `cancel` voids it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillPatch {
    pub due: Option<Date>,
    pub ref1: Option<String>,
    pub ref2: Option<String>,
    pub currency: Option<Currency>,
    pub cancel: bool,
}

/// Why a bill change was refused (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillRefusal {
    /// The bill is cancelled: nothing about it changes any more.
    Cancelled,
    /// A fully paid bill cannot be cancelled.
    PaidCannotCancel,
    /// A bill with payments on it cannot be cancelled until they are reversed or refunded.
    MoneyOnBill,
    /// The currency cannot change once money was paid.
    CurrencyAfterPayment,
    /// An amount of the bill has more decimals than the new currency allows.
    CurrencyTooPrecise(Currency),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillUpdate {
    Updated(Box<CollectionBillView>),
    Refused(BillRefusal),
}

/// (request hash, response status, response body) of a stored key.
type StoredKey = (String, Option<i32>, Option<String>);

/// Characters of generated account codes.
const DIGITS: &[u8] = b"0123456789";

fn load_collection_by_code(
    conn: &mut AnyConnection,
    organization_id: i64,
    code: &str,
) -> StoreResult<Option<Collection>> {
    Ok(crate::pool::on_backend!(conn, |c| collections::table
        .filter(collections::organization_id.eq(organization_id))
        .filter(collections::code.eq(code))
        .select(CollectionRow::as_select())
        .get_result::<CollectionRow>(c)
        .optional())?
    .map(Collection::from))
}

fn load_collection_by_id(
    conn: &mut AnyConnection,
    organization_id: i64,
    id: i64,
) -> StoreResult<Option<Collection>> {
    Ok(collections::table
        .filter(collections::organization_id.eq(organization_id))
        .filter(collections::id.eq(id))
        .select(CollectionRow::as_select())
        .first(conn)
        .optional()?
        .map(Collection::from))
}

/// A product of the organization (deleted ones only when `with_deleted`).
fn load_product(
    conn: &mut AnyConnection,
    organization_id: i64,
    id: i64,
    with_deleted: bool,
) -> StoreResult<Option<Product>> {
    let mut q = products::table
        .filter(products::organization_id.eq(organization_id))
        .filter(products::id.eq(id))
        .select(ProductRow::as_select())
        .into_boxed();
    if !with_deleted {
        q = q.filter(products::deleted_at.is_null());
    }
    Ok(q.get_result(conn).optional()?.map(Product::from))
}

fn load_customer(
    conn: &mut AnyConnection,
    organization_id: i64,
    id: i64,
) -> StoreResult<Option<Account>> {
    Ok(accounts::table
        .filter(accounts::organization_id.eq(organization_id))
        .filter(accounts::id.eq(id))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .map(Account::from))
}

/// Everything a response about this bill may show.
fn load_view(
    conn: &mut AnyConnection,
    bill: Bill,
    collection: &Collection,
    organization: &Organization,
) -> StoreResult<CollectionBillView> {
    let account = load_account(conn, bill.account_id)?;
    load_view_of(conn, bill, account, collection, organization)
}

/// [`load_view`] of a bill whose account is already read: its items (with their products) and
/// its payments.
fn load_view_of(
    conn: &mut AnyConnection,
    bill: Bill,
    account: Account,
    collection: &Collection,
    organization: &Organization,
) -> StoreResult<CollectionBillView> {
    let rows: Vec<BillItemRow> = crate::pool::on_backend!(conn, |c| bill_items::table
        .filter(bill_items::bill_id.eq(bill.id))
        .order(bill_items::position.asc())
        .select(BillItemRow::as_select())
        .load(c))?;
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let item = item_from_row(row)?;
        let product = match item.product_id {
            Some(pid) => load_product(conn, bill.organization_id, pid, true)?,
            None => None,
        };
        lines.push((item, product));
    }
    let allocations: Vec<(i64, i64)> = crate::pool::on_backend!(conn, |c| pa::table
        .filter(pa::bill_id.eq(bill.id))
        .order(pa::id.asc())
        .select((pa::payment_id, pa::amount))
        .load(c))?;
    let mut payments: Vec<BillPayment> = Vec::new();
    for (payment_id, amount) in allocations {
        if let Some(p) = payments.iter_mut().find(|p| p.payment.id == payment_id) {
            p.amount += amount;
            continue;
        }
        payments.push(BillPayment {
            payment: load_payment(conn, payment_id)?,
            amount,
        });
    }
    Ok(CollectionBillView {
        bill,
        collection: collection.clone(),
        organization: organization.clone(),
        account,
        lines,
        payments,
    })
}

/// A bill by its collection's code and its public number, with the collection and the account,
/// in one statement (a join).
fn load_coded_bill(
    conn: &mut AnyConnection,
    organization_id: i64,
    collection_code: &str,
    public_no: &str,
) -> StoreResult<Option<(Collection, Bill, Account)>> {
    let found: Option<(CollectionRow, BillRow, AccountRow)> =
        crate::pool::on_backend!(conn, |c| bills::table
            .inner_join(collections::table)
            .inner_join(accounts::table)
            .filter(collections::organization_id.eq(organization_id))
            .filter(collections::code.eq(collection_code))
            .filter(bills::organization_id.eq(organization_id))
            .filter(bills::public_no.eq(public_no))
            .select((
                CollectionRow::as_select(),
                BillRow::as_select(),
                AccountRow::as_select(),
            ))
            .get_result::<(CollectionRow, BillRow, AccountRow)>(c)
            .optional())?;
    found
        .map(|(collection, bill, account)| {
            Ok((
                Collection::from(collection),
                bill.into_bill()?,
                Account::from(account),
            ))
        })
        .transpose()
}

fn load_collection_bill(
    conn: &mut AnyConnection,
    collection: &Collection,
    public_no: &str,
) -> StoreResult<Option<Bill>> {
    crate::pool::on_backend!(conn, |c| bills::table
        .filter(bills::organization_id.eq(collection.organization_id))
        .filter(bills::collection_id.eq(Some(collection.id)))
        .filter(bills::public_no.eq(public_no))
        .select(BillRow::as_select())
        .get_result::<BillRow>(c)
        .optional())?
    .map(BillRow::into_bill)
    .transpose()
}

fn new_collection_code(conn: &mut AnyConnection) -> StoreResult<String> {
    for _ in 0..16 {
        let code = random_alnum(8);
        let taken: Option<i64> = collections::table
            .filter(collections::code.eq(&code))
            .select(collections::id)
            .first(conn)
            .optional()?;
        if taken.is_none() {
            return Ok(code);
        }
    }
    Err(StoreError::Busy(
        "could not find a free collection code".into(),
    ))
}

fn new_account_code(conn: &mut AnyConnection, organization_id: i64) -> StoreResult<String> {
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
            return Ok(code);
        }
    }
    Err(StoreError::Busy(
        "could not find a free account code".into(),
    ))
}

/// `first last`, for the account's Latin name that other dialects show.
fn full_name(first: &str, last: &str) -> String {
    format!("{} {}", first.trim(), last.trim())
        .trim()
        .to_string()
}

fn account_input(code: String, c: &CustomerInput) -> AccountInput {
    AccountInput {
        code,
        name: String::new(),
        name_latin: full_name(&c.first_name, &c.last_name),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        phone: c.mobile.clone(),
        email: c.email.clone(),
        address: c.address.clone(),
    }
}

fn insert_product(
    conn: &mut AnyConnection,
    organization_id: i64,
    input: &ProductInput,
    now: OffsetDateTime,
) -> StoreResult<Product> {
    let id: i64 = diesel::insert_into(products::table)
        .values((
            products::organization_id.eq(organization_id),
            products::title.eq(&input.title),
            products::code.eq(&input.code),
            products::description.eq(&input.description),
            products::price.eq(&input.price),
            products::currency.eq(&input.currency),
            products::created_at.eq(to_db(now)),
            products::updated_at.eq(to_db(now)),
        ))
        .returning(products::id)
        .get_result(conn)?;
    load_product(conn, organization_id, id, true)?
        .ok_or_else(|| StoreError::not_found(Entity::Product, id))
}

fn insert_collection(
    conn: &mut AnyConnection,
    organization_id: i64,
    new: &NewCollection,
    now: OffsetDateTime,
) -> StoreResult<Collection> {
    let code = new_collection_code(conn)?;
    let id: i64 = diesel::insert_into(collections::table)
        .values((
            collections::organization_id.eq(organization_id),
            collections::code.eq(&code),
            collections::name.eq(&new.name),
            collections::webhook_url.eq(&new.webhook_url),
            collections::redirect_url.eq(&new.redirect_url),
            collections::created_at.eq(to_db(now)),
            collections::updated_at.eq(to_db(now)),
        ))
        .returning(collections::id)
        .get_result(conn)?;
    load_collection_by_id(conn, organization_id, id)?
        .ok_or_else(|| StoreError::not_found(Entity::Collection, id))
}

fn insert_customer(
    conn: &mut AnyConnection,
    organization_id: i64,
    input: &CustomerInput,
    now: OffsetDateTime,
) -> StoreResult<Created> {
    let code = match &input.acc_no {
        Some(code) => {
            let taken: Option<i64> = accounts::table
                .filter(accounts::organization_id.eq(organization_id))
                .filter(accounts::code.eq(code))
                .select(accounts::id)
                .first(conn)
                .optional()?;
            if taken.is_some() {
                return Ok(Created::Invalid(vec![CreateProblem::AccNoTaken]));
            }
            code.clone()
        }
        None => new_account_code(conn, organization_id)?,
    };
    let account = find_or_create_account(conn, organization_id, &account_input(code, input), now)?;
    Ok(Created::Customer(account))
}

fn insert_collection_bill(
    conn: &mut AnyConnection,
    organization_id: i64,
    new: &NewCollectionBill,
    now: OffsetDateTime,
) -> StoreResult<Created> {
    let org = load_org(conn, organization_id)?;
    let collection = load_collection_by_code(conn, organization_id, &new.collection_code)?
        .ok_or_else(|| StoreError::not_found(Entity::Collection, &new.collection_code))?;
    let currency = new.currency;

    // Decide every line before writing anything.
    let (resolved, billed) = match resolve_lines(conn, organization_id, &new.lines, currency)? {
        Ok(decided) => decided,
        Err(problems) => return Ok(Created::Invalid(problems)),
    };

    let code = match &new.customer.acc_no {
        Some(code) => code.clone(),
        None => new_account_code(conn, organization_id)?,
    };
    let account = find_or_create_account(
        conn,
        organization_id,
        &account_input(code, &new.customer),
        now,
    )?;

    let items = bill_items_of(conn, organization_id, resolved, currency, now)?;
    let bill = insert_bill(
        conn,
        &NewBill {
            organization_id,
            account_id: account.id,
            collection_id: Some(collection.id),
            invoice_number: None,
            ref1: new.ref1.clone(),
            ref2: new.ref2.clone(),
            name: collection.name.clone(),
            description: new.ref1.clone(),
            currency,
            billed,
            items,
            bill_date: crate::time_conv::local_date(now, org.utc_offset),
            due_date: Some(new.due),
            valid_until: None,
            rule: PaymentRule::Exact,
            source: "collections".into(),
            extra: "{}".into(),
            va_numbers: Vec::new(),
        },
        now,
    )?;
    Ok(Created::Bill(Box::new(load_view(
        conn,
        bill,
        &collection,
        &org,
    )?)))
}

/// A request line decided: its catalogue product (`None`: one is created) and the line item.
type ResolvedLine = (Option<i64>, LineItem);

/// Every line decided with the bill's total, or every problem found.
type ResolvedLines = Result<(Vec<ResolvedLine>, i64), Vec<CreateProblem>>;

/// Decides every line and the bill's total (positive), or returns every problem found.
fn resolve_lines(
    conn: &mut AnyConnection,
    organization_id: i64,
    lines: &[BillLine],
    currency: Currency,
) -> StoreResult<ResolvedLines> {
    let mut problems: Vec<CreateProblem> = Vec::new();
    let mut resolved: Vec<ResolvedLine> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match resolve_line(conn, organization_id, i, line, currency)? {
            Ok(r) => resolved.push(r),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        match resolved
            .iter()
            .try_fold(0i64, |acc, (_, l)| acc.checked_add(l.total.minor()))
        {
            Some(sum) if sum > 0 => return Ok(Ok((resolved, sum))),
            Some(_) => problems.push(CreateProblem::ZeroTotal),
            None => problems.push(CreateProblem::TotalTooLarge),
        }
    }
    Ok(Err(problems))
}

/// Decides one line (the `index`th): its product, title and price, or why it is refused.
fn resolve_line(
    conn: &mut AnyConnection,
    organization_id: i64,
    index: usize,
    line: &BillLine,
    currency: Currency,
) -> StoreResult<Result<ResolvedLine, CreateProblem>> {
    let (product_id, title, price) = match line.product_id {
        Some(pid) => {
            let Some(product) = load_product(conn, organization_id, pid, false)? else {
                return Ok(Err(CreateProblem::UnknownProduct { index }));
            };
            if let Some(c) = product.currency.as_deref()
                && !c.eq_ignore_ascii_case(currency.code())
            {
                return Ok(Err(CreateProblem::ProductCurrency {
                    index,
                    currency: c.to_string(),
                }));
            }
            let price = match line.price {
                Some(p) => p,
                None => match Money::parse(&product.price, currency) {
                    Ok(p) => p,
                    Err(_) => {
                        return Ok(Err(CreateProblem::CataloguePrice {
                            index,
                            price: product.price.clone(),
                        }));
                    }
                },
            };
            (Some(pid), product.title, price)
        }
        None => match line.price {
            Some(p) => (None, line.title.clone(), p),
            None => return Ok(Err(CreateProblem::PriceRequired { index })),
        },
    };
    Ok(LineItem::new(title, line.quantity, price, None)
        .map(|item| (product_id, item))
        .map_err(|error| CreateProblem::Line { index, error }))
}

/// The bill's items, creating a catalogue product for each line that names none.
fn bill_items_of(
    conn: &mut AnyConnection,
    organization_id: i64,
    resolved: Vec<ResolvedLine>,
    currency: Currency,
    now: OffsetDateTime,
) -> StoreResult<Vec<NewItem>> {
    let mut items = Vec::with_capacity(resolved.len());
    for (product_id, line) in resolved {
        let product_id = match product_id {
            Some(id) => id,
            None => {
                let p = insert_product(
                    conn,
                    organization_id,
                    &ProductInput {
                        title: line.name.clone(),
                        code: String::new(),
                        description: String::new(),
                        price: line.unit_price.to_fixed_string(),
                        currency: Some(currency.code().to_string()),
                    },
                    now,
                )?;
                p.id
            }
        };
        items.push(NewItem {
            name: line.name,
            quantity: line.quantity,
            unit_price: line.unit_price.minor(),
            total: line.total.minor(),
            product_id: Some(product_id),
        });
    }
    Ok(items)
}

fn create_in_tx(
    conn: &mut AnyConnection,
    organization_id: i64,
    op: &CollectionsCreate,
    now: OffsetDateTime,
) -> StoreResult<Created> {
    load_org(conn, organization_id)?;
    match op {
        CollectionsCreate::Collection(new) => Ok(Created::Collection(insert_collection(
            conn,
            organization_id,
            new,
            now,
        )?)),
        CollectionsCreate::Bill(new) => insert_collection_bill(conn, organization_id, new, now),
        CollectionsCreate::Product(input) => Ok(Created::Product(insert_product(
            conn,
            organization_id,
            input,
            now,
        )?)),
        CollectionsCreate::Customer(input) => insert_customer(conn, organization_id, input, now),
    }
}

fn update_bill_in_tx(
    conn: &mut AnyConnection,
    organization_id: i64,
    collection_code: &str,
    public_no: &str,
    patch: &BillPatch,
    now: OffsetDateTime,
) -> StoreResult<Option<BillUpdate>> {
    let org = load_org(conn, organization_id)?;
    let Some(collection) = load_collection_by_code(conn, organization_id, collection_code)? else {
        return Ok(None);
    };
    let Some(bill) = load_collection_bill(conn, &collection, public_no)? else {
        return Ok(None);
    };
    let lines = line_amounts(conn, bill.id)?;
    let core_patch = billhub_core::patch::BillPatch {
        due: patch.due,
        ref1: patch.ref1.clone(),
        ref2: patch.ref2.clone(),
        currency: patch.currency,
        cancel: patch.cancel,
    };
    let plan = match plan_patch(&bill, &lines, &core_patch, now) {
        Ok(plan) => plan,
        Err(PatchRefusal::Transition(e)) => {
            return Err(StoreError::Invalid(InvalidKind::Transition(e)));
        }
        Err(refusal) => return Ok(Some(BillUpdate::Refused(BillRefusal::from(refusal)))),
    };
    if plan.void.is_some()
        && let Err(billhub_core::Rejection::MoneyOnBill { .. }) =
            billhub_core::rules::may_void(&bill, now)
    {
        return Ok(Some(BillUpdate::Refused(BillRefusal::MoneyOnBill)));
    }
    if let Some(update) = &plan.update {
        write_field_update(conn, &bill, update, now)?;
        let details: serde_json::Map<String, serde_json::Value> = update
            .changed
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone().into()))
            .collect();
        append_event(
            conn,
            bill.id,
            "updated",
            None,
            None,
            plan.status,
            bill.paid,
            &serde_json::Value::Object(details).to_string(),
            now,
        )?;
    }
    if plan.void.is_some() {
        void_bill(conn, bill.id, now)?;
    }
    let bill = crate::repo::bills::load_bill(conn, bill.id)?;
    Ok(Some(BillUpdate::Updated(Box::new(load_view(
        conn,
        bill,
        &collection,
        &org,
    )?))))
}

/// The amounts of a bill's lines, as core's patch planner reads them.
fn line_amounts(conn: &mut AnyConnection, bill_id: i64) -> StoreResult<Vec<LineAmounts>> {
    Ok(bill_items::table
        .filter(bill_items::bill_id.eq(bill_id))
        .select((bill_items::id, bill_items::unit_price, bill_items::total))
        .load::<(i64, i64, i64)>(conn)?
        .into_iter()
        .map(|(id, unit_price, total)| LineAmounts {
            id,
            unit_price,
            total,
        })
        .collect())
}

/// Voids the bill as it stands now (version-checked) and records the `voided` event.
fn void_bill(conn: &mut AnyConnection, bill_id: i64, now: OffsetDateTime) -> StoreResult<()> {
    let current = crate::repo::bills::load_bill(conn, bill_id)?;
    let (status, paid) = billhub_core::bill::transition(
        current.status_at(now),
        current.billed,
        current.paid,
        BillTransition::Void,
    )
    .map_err(|e| StoreError::Invalid(InvalidKind::Transition(e)))?;
    update_bill_versioned(conn, &current, status, paid, now)?;
    let details = serde_json::json!({ "reason": "cancelled through the collections API" });
    append_event(
        conn,
        bill_id,
        "voided",
        None,
        None,
        status,
        paid,
        &details.to_string(),
        now,
    )?;
    Ok(())
}

/// Writes the fields core's plan changes, if the bill's version is still the one decided on.
fn write_field_update(
    conn: &mut AnyConnection,
    bill: &Bill,
    update: &FieldUpdate,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let n = diesel::update(
        bills::table
            .filter(bills::id.eq(bill.id))
            .filter(bills::version.eq(bill.version)),
    )
    .set((
        bills::due_date.eq(update.due_date),
        bills::ref1.eq(&update.ref1),
        bills::ref2.eq(&update.ref2),
        bills::currency.eq(update.currency.code()),
        bills::billed.eq(update.billed),
        bills::version.eq(bill.version + 1),
        bills::updated_at.eq(to_db(now)),
    ))
    .execute(conn)?;
    if n != 1 {
        return Err(StoreError::RaceLost {
            entity: Entity::Bill,
            id: bill.id,
        });
    }
    for line in &update.lines {
        diesel::update(bill_items::table.filter(bill_items::id.eq(line.id)))
            .set((
                bill_items::unit_price.eq(line.unit_price),
                bill_items::total.eq(line.total),
                bill_items::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

impl From<PatchRefusal> for BillRefusal {
    fn from(r: PatchRefusal) -> Self {
        match r {
            PatchRefusal::Cancelled | PatchRefusal::Transition(_) => BillRefusal::Cancelled,
            PatchRefusal::PaidCannotCancel => BillRefusal::PaidCannotCancel,
            PatchRefusal::CurrencyAfterPayment => BillRefusal::CurrencyAfterPayment,
            PatchRefusal::CurrencyTooPrecise(c) => BillRefusal::CurrencyTooPrecise(c),
        }
    }
}

/// Bill lines of products with their bills, by product id ([`Reader::product_lines`]).
pub type ProductBillLines = Vec<(i64, Vec<(BillItem, Bill)>)>;

impl Reader<'_> {
    /// The organization's collections, oldest first.
    pub fn collections_page(
        &mut self,
        organization_id: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<Collection>> {
        self.with(|conn| {
            let total: i64 = collections::table
                .filter(collections::organization_id.eq(organization_id))
                .count()
                .get_result(conn)?;
            let items = collections::table
                .filter(collections::organization_id.eq(organization_id))
                .order(collections::id.asc())
                .offset(offset)
                .limit(limit)
                .select(CollectionRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Collection::from)
                .collect();
            Ok(Page { items, total })
        })
    }

    pub fn collection_by_code(
        &mut self,
        organization_id: i64,
        code: &str,
    ) -> StoreResult<Option<Collection>> {
        self.with(|conn| load_collection_by_code(conn, organization_id, code))
    }

    /// A collection by id.
    pub fn collection_by_id(
        &mut self,
        organization_id: i64,
        id: i64,
    ) -> StoreResult<Option<Collection>> {
        self.with(|conn| load_collection_by_id(conn, organization_id, id))
    }

    /// A collection by code, or (when no code matches and `key` is a number) by id.
    pub fn collection_by_code_or_id(
        &mut self,
        organization_id: i64,
        key: &str,
    ) -> StoreResult<Option<Collection>> {
        self.with(|conn| {
            if let Some(c) = load_collection_by_code(conn, organization_id, key)? {
                return Ok(Some(c));
            }
            match key.parse::<i64>() {
                Ok(id) => load_collection_by_id(conn, organization_id, id),
                Err(_) => Ok(None),
            }
        })
    }

    /// A page of a collection's bills (oldest first) with everything responses may include;
    /// `None` when the organization has no such collection.
    pub fn collection_bills_page(
        &mut self,
        organization_id: i64,
        collection_code: &str,
        filter: &BillFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Option<Page<CollectionBillView>>> {
        self.with(|conn| {
            let org = load_org(conn, organization_id)?;
            let Some(collection) = load_collection_by_code(conn, organization_id, collection_code)?
            else {
                return Ok(None);
            };
            let query = || {
                let mut q = bills::table
                    .inner_join(accounts::table)
                    .filter(bills::organization_id.eq(organization_id))
                    .filter(bills::collection_id.eq(Some(collection.id)))
                    .into_boxed();
                if !filter.statuses.is_empty() {
                    q = q.filter(
                        bills::status.eq_any(
                            filter
                                .statuses
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>(),
                        ),
                    );
                }
                if let Some(r) = &filter.ref1 {
                    q = q.filter(bills::ref1.eq(r.clone()));
                }
                if let Some(r) = &filter.ref2 {
                    q = q.filter(bills::ref2.eq(r.clone()));
                }
                if let Some(a) = &filter.acc_no {
                    q = q.filter(accounts::code.eq(a.clone()));
                }
                if let Some(d) = filter.due_from {
                    q = q.filter(bills::due_date.ge(d));
                }
                if let Some(d) = filter.due_to {
                    q = q.filter(bills::due_date.le(d));
                }
                q
            };
            let total: i64 = query().count().get_result(conn)?;
            let rows: Vec<BillRow> = query()
                .order(bills::id.asc())
                .offset(offset)
                .limit(limit)
                .select(BillRow::as_select())
                .load(conn)?;
            let mut items = Vec::with_capacity(rows.len());
            for row in rows {
                items.push(load_view(conn, row.into_bill()?, &collection, &org)?);
            }
            Ok(Some(Page { items, total }))
        })
    }

    /// A bill of the organization's collection by its public number.
    pub fn collection_bill(
        &mut self,
        organization_id: i64,
        collection_code: &str,
        public_no: &str,
    ) -> StoreResult<Option<CollectionBillView>> {
        self.with(|conn| {
            let org = load_org(conn, organization_id)?;
            let Some(collection) = load_collection_by_code(conn, organization_id, collection_code)?
            else {
                return Ok(None);
            };
            match load_collection_bill(conn, &collection, public_no)? {
                Some(bill) => Ok(Some(load_view(conn, bill, &collection, &org)?)),
                None => Ok(None),
            }
        })
    }

    /// [`Reader::collection_bill`] for an organization already read (the store's cache): the
    /// collection, bill and account in one statement, then the bill's items and payments.
    pub fn collection_bill_of(
        &mut self,
        organization: &Organization,
        collection_code: &str,
        public_no: &str,
    ) -> StoreResult<Option<CollectionBillView>> {
        self.with(|conn| {
            match load_coded_bill(conn, organization.id, collection_code, public_no)? {
                Some((collection, bill, account)) => Ok(Some(load_view_of(
                    conn,
                    bill,
                    account,
                    &collection,
                    organization,
                )?)),
                None => Ok(None),
            }
        })
    }

    /// The organization's products that are not deleted, oldest first.
    pub fn products_page(
        &mut self,
        organization_id: i64,
        filter: &ProductFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<Product>> {
        self.with(|conn| {
            let query = || {
                let mut q = products::table
                    .filter(products::organization_id.eq(organization_id))
                    .filter(products::deleted_at.is_null())
                    .into_boxed();
                if let Some(t) = &filter.title {
                    q = q.filter(lower(products::title).like(like_pattern(t)).escape('\\'));
                }
                if let Some(t) = &filter.code {
                    q = q.filter(lower(products::code).like(like_pattern(t)).escape('\\'));
                }
                if let Some(t) = &filter.description {
                    q = q.filter(
                        lower(products::description)
                            .like(like_pattern(t))
                            .escape('\\'),
                    );
                }
                if !filter.prices.is_empty() {
                    q = q.filter(products::price.eq_any(filter.prices.clone()));
                }
                q
            };
            let total: i64 = query().count().get_result(conn)?;
            let items = query()
                .order(products::id.asc())
                .offset(offset)
                .limit(limit)
                .select(ProductRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Product::from)
                .collect();
            Ok(Page { items, total })
        })
    }

    /// Which of these ids are not products of the organization (or are deleted).
    pub fn missing_products(&mut self, organization_id: i64, ids: &[i64]) -> StoreResult<Vec<i64>> {
        self.with(|conn| {
            let found: Vec<i64> = products::table
                .filter(products::organization_id.eq(organization_id))
                .filter(products::deleted_at.is_null())
                .filter(products::id.eq_any(ids))
                .select(products::id)
                .load(conn)?;
            Ok(ids
                .iter()
                .copied()
                .filter(|id| !found.contains(id))
                .collect())
        })
    }

    /// The bill lines of each of these products of the organization, with their bills: at
    /// most `per_product` lines per product, the newest first (the collections include
    /// `product-collections.bill`). Products without lines have no entry.
    pub fn product_lines(
        &mut self,
        organization_id: i64,
        product_ids: &[i64],
        per_product: i64,
    ) -> StoreResult<ProductBillLines> {
        self.with(|conn| {
            let mut out = Vec::new();
            for id in product_ids {
                let rows: Vec<(BillItemRow, BillRow)> = bill_items::table
                    .inner_join(bills::table)
                    .filter(bill_items::product_id.eq(*id))
                    .filter(bills::organization_id.eq(organization_id))
                    .order(bill_items::id.desc())
                    .limit(per_product)
                    .select((BillItemRow::as_select(), BillRow::as_select()))
                    .load(conn)?;
                let lines = rows
                    .into_iter()
                    .map(|(item, bill)| Ok((item_from_row(item)?, bill.into_bill()?)))
                    .collect::<StoreResult<Vec<_>>>()?;
                if !lines.is_empty() {
                    out.push((*id, lines));
                }
            }
            Ok(out)
        })
    }

    /// A product of the organization that is not deleted.
    pub fn product(&mut self, organization_id: i64, id: i64) -> StoreResult<Option<Product>> {
        self.with(|conn| load_product(conn, organization_id, id, false))
    }

    /// The organization's accounts as customers, oldest first.
    pub fn customers_page(
        &mut self,
        organization_id: i64,
        filter: &CustomerFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<Account>> {
        self.with(|conn| {
            let query = || {
                let mut q = accounts::table
                    .filter(accounts::organization_id.eq(organization_id))
                    .into_boxed();
                if let Some(a) = &filter.acc_no {
                    q = q.filter(accounts::code.eq(a.clone()));
                }
                if let Some(t) = &filter.first_name {
                    q = q.filter(
                        lower(accounts::first_name)
                            .like(like_pattern(t))
                            .escape('\\'),
                    );
                }
                if let Some(t) = &filter.last_name {
                    q = q.filter(
                        lower(accounts::last_name)
                            .like(like_pattern(t))
                            .escape('\\'),
                    );
                }
                if let Some(t) = &filter.email {
                    q = q.filter(lower(accounts::email).like(like_pattern(t)).escape('\\'));
                }
                if let Some(t) = &filter.mobile {
                    q = q.filter(lower(accounts::phone).like(like_pattern(t)).escape('\\'));
                }
                if let Some(t) = &filter.address {
                    q = q.filter(lower(accounts::address).like(like_pattern(t)).escape('\\'));
                }
                q
            };
            let total: i64 = query().count().get_result(conn)?;
            let items = query()
                .order(accounts::id.asc())
                .offset(offset)
                .limit(limit)
                .select(AccountRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Account::from)
                .collect();
            Ok(Page { items, total })
        })
    }

    /// An account of the organization as a customer.
    pub fn customer(&mut self, organization_id: i64, id: i64) -> StoreResult<Option<Account>> {
        self.with(|conn| load_customer(conn, organization_id, id))
    }
}

impl Writer<'_> {
    /// Creates a collection, bill, product or customer in one transaction. With an
    /// idempotency key: a key used before with the same request hash answers the stored first
    /// response, with another hash [`Idempotent::Mismatch`]; otherwise the work is done, and
    /// `render` turns a successful result into the (status, body) stored with the key in the
    /// same transaction. Refusals ([`Created::Invalid`]) and errors are not stored.
    pub fn collections_create(
        &mut self,
        organization_id: i64,
        op: &CollectionsCreate,
        idem: Option<&IdempotencyKey>,
        now: OffsetDateTime,
        render: &dyn Fn(&Created) -> (u16, String),
    ) -> StoreResult<Idempotent<Created>> {
        self.with(|conn| {
            if let Some(k) = idem {
                // Keys of this scope past their time go (the unique index's prefix finds them).
                diesel::delete(
                    ik::table
                        .filter(ik::scope.eq(&k.scope))
                        .filter(ik::expires_at.le(to_db(now))),
                )
                .execute(conn)?;
                let existing: Option<StoredKey> = ik::table
                    .filter(ik::scope.eq(&k.scope))
                    .filter(ik::key.eq(&k.key))
                    .select((ik::request_hash, ik::response_status, ik::response_body))
                    .first(conn)
                    .optional()?;
                if let Some((hash, status, body)) = existing {
                    return Ok(match (hash == k.request_hash, status, body) {
                        (true, Some(status), Some(body)) => Idempotent::Replayed {
                            status: u16::try_from(status).unwrap_or(200),
                            body,
                        },
                        _ => Idempotent::Mismatch,
                    });
                }
            }
            let created = create_in_tx(conn, organization_id, op, now)?;
            if let (Some(k), false) = (idem, matches!(created, Created::Invalid(_))) {
                let (status, body) = render(&created);
                diesel::insert_into(ik::table)
                    .values((
                        ik::scope.eq(&k.scope),
                        ik::key.eq(&k.key),
                        ik::request_hash.eq(&k.request_hash),
                        ik::response_status.eq(Some(i32::from(status))),
                        ik::response_body.eq(Some(body)),
                        ik::created_at.eq(to_db(now)),
                        ik::expires_at.eq(to_db(now + k.ttl)),
                    ))
                    .execute(conn)?;
            }
            Ok(Idempotent::Fresh(created))
        })
    }

    /// Removes stored idempotent responses that have expired; returns how many.
    pub fn purge_idempotency_keys(&mut self, now: OffsetDateTime) -> StoreResult<usize> {
        self.with(|conn| {
            Ok(diesel::delete(ik::table.filter(ik::expires_at.le(to_db(now)))).execute(conn)?)
        })
    }

    /// Creates a collection with a new 8-character code (the CLI and the demo use this too).
    pub fn create_collection(
        &mut self,
        organization_id: i64,
        new: &NewCollection,
        now: OffsetDateTime,
    ) -> StoreResult<Collection> {
        self.with(|conn| {
            load_org(conn, organization_id)?;
            insert_collection(conn, organization_id, new, now)
        })
    }

    /// Changes a collection found by code or id; `None` when the organization has no such one.
    pub fn update_collection(
        &mut self,
        organization_id: i64,
        key: &str,
        patch: &CollectionPatch,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Collection>> {
        self.with(|conn| {
            let found = match load_collection_by_code(conn, organization_id, key)? {
                Some(c) => Some(c),
                None => match key.parse::<i64>() {
                    Ok(id) => load_collection_by_id(conn, organization_id, id)?,
                    Err(_) => None,
                },
            };
            let Some(c) = found else {
                return Ok(None);
            };
            let name = patch.name.clone().unwrap_or_else(|| c.name.clone());
            let webhook = patch
                .webhook_url
                .clone()
                .unwrap_or_else(|| c.webhook_url.clone());
            let redirect = patch
                .redirect_url
                .clone()
                .unwrap_or_else(|| c.redirect_url.clone());
            diesel::update(collections::table.filter(collections::id.eq(c.id)))
                .set((
                    collections::name.eq(name),
                    collections::webhook_url.eq(webhook),
                    collections::redirect_url.eq(redirect),
                    collections::updated_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            load_collection_by_id(conn, organization_id, c.id)
        })
    }

    /// Changes a collection bill (due date, references, currency while unpaid, cancel);
    /// `None` when the organization has no such collection or bill.
    pub fn update_collection_bill(
        &mut self,
        organization_id: i64,
        collection_code: &str,
        public_no: &str,
        patch: &BillPatch,
        now: OffsetDateTime,
    ) -> StoreResult<Option<BillUpdate>> {
        self.with(|conn| {
            update_bill_in_tx(
                conn,
                organization_id,
                collection_code,
                public_no,
                patch,
                now,
            )
        })
    }

    pub fn update_product(
        &mut self,
        organization_id: i64,
        id: i64,
        patch: &ProductPatch,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Product>> {
        self.with(|conn| {
            let Some(p) = load_product(conn, organization_id, id, false)? else {
                return Ok(None);
            };
            diesel::update(products::table.filter(products::id.eq(p.id)))
                .set((
                    products::title.eq(patch.title.clone().unwrap_or(p.title)),
                    products::code.eq(patch.code.clone().unwrap_or(p.code)),
                    products::description.eq(patch.description.clone().unwrap_or(p.description)),
                    products::price.eq(patch.price.clone().unwrap_or(p.price)),
                    products::currency.eq(patch.currency.clone().unwrap_or(p.currency)),
                    products::updated_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            load_product(conn, organization_id, id, false)
        })
    }

    /// Deletes a product softly (bills keep showing it); false when there is no such product.
    pub fn delete_product(
        &mut self,
        organization_id: i64,
        id: i64,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.with(|conn| {
            let n = diesel::update(
                products::table
                    .filter(products::organization_id.eq(organization_id))
                    .filter(products::id.eq(id))
                    .filter(products::deleted_at.is_null()),
            )
            .set((
                products::deleted_at.eq(Some(to_db(now))),
                products::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?;
            Ok(n == 1)
        })
    }

    /// Changes a customer's fields (the account code never changes here).
    pub fn update_customer(
        &mut self,
        organization_id: i64,
        id: i64,
        patch: &CustomerPatch,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Account>> {
        self.with(|conn| {
            let Some(a) = load_customer(conn, organization_id, id)? else {
                return Ok(None);
            };
            let first = patch.first_name.clone().unwrap_or(a.first_name.clone());
            let last = patch.last_name.clone().unwrap_or(a.last_name.clone());
            let name_latin = if patch.first_name.is_some() || patch.last_name.is_some() {
                full_name(&first, &last)
            } else {
                a.name_latin.clone()
            };
            diesel::update(accounts::table.filter(accounts::id.eq(a.id)))
                .set((
                    accounts::first_name.eq(first),
                    accounts::last_name.eq(last),
                    accounts::name_latin.eq(name_latin),
                    accounts::email.eq(patch.email.clone().unwrap_or(a.email)),
                    accounts::phone.eq(patch.mobile.clone().unwrap_or(a.phone)),
                    accounts::address.eq(patch.address.clone().unwrap_or(a.address)),
                    accounts::updated_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            load_customer(conn, organization_id, id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("Ab"), "%ab%");
        assert_eq!(like_pattern("10%_x\\"), "%10\\%\\_x\\\\%");
    }
}

crate::tx::store_reads! {
    fn collections_page(&self, organization_id: i64, offset: i64, limit: i64) -> Page<Collection>;
    fn collection_by_code(&self, organization_id: i64, code: &str) -> Option<Collection>;
    fn collection_by_code_or_id(&self, organization_id: i64, key: &str) -> Option<Collection>;
    fn collection_by_id(&self, organization_id: i64, id: i64) -> Option<Collection>;
    fn collection_bills_page(&self, organization_id: i64, collection_code: &str, filter: &BillFilter, offset: i64, limit: i64) -> Option<Page<CollectionBillView>>;
    fn collection_bill(&self, organization_id: i64, collection_code: &str, public_no: &str) -> Option<CollectionBillView>;
    fn products_page(&self, organization_id: i64, filter: &ProductFilter, offset: i64, limit: i64) -> Page<Product>;
    fn missing_products(&self, organization_id: i64, ids: &[i64]) -> Vec<i64>;
    fn product(&self, organization_id: i64, id: i64) -> Option<Product>;
    fn product_lines(&self, organization_id: i64, product_ids: &[i64], per_product: i64) -> ProductBillLines;
    fn customers_page(&self, organization_id: i64, filter: &CustomerFilter, offset: i64, limit: i64) -> Page<Account>;
    fn customer(&self, organization_id: i64, id: i64) -> Option<Account>;
}

crate::tx::store_writes! {
    fn collections_create(&self, organization_id: i64, op: &CollectionsCreate, idem: Option<&IdempotencyKey>, now: OffsetDateTime, render: &dyn Fn(&Created) -> (u16, String),) -> Idempotent<Created>;
    fn purge_idempotency_keys(&self, now: OffsetDateTime) -> usize;
    fn create_collection(&self, organization_id: i64, new: &NewCollection, now: OffsetDateTime) -> Collection;
    fn update_collection(&self, organization_id: i64, key: &str, patch: &CollectionPatch, now: OffsetDateTime) -> Option<Collection>;
    fn update_collection_bill(&self, organization_id: i64, collection_code: &str, public_no: &str, patch: &BillPatch, now: OffsetDateTime) -> Option<BillUpdate>;
    fn update_product(&self, organization_id: i64, id: i64, patch: &ProductPatch, now: OffsetDateTime) -> Option<Product>;
    fn delete_product(&self, organization_id: i64, id: i64, now: OffsetDateTime) -> bool;
    fn update_customer(&self, organization_id: i64, id: i64, patch: &CustomerPatch, now: OffsetDateTime) -> Option<Account>;
}
