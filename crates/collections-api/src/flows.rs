//! The use cases of the collections dialect, one named function each: a flow takes the store,
//! the caller's organization and a request already decoded and validated (see
//! [`crate::requests`] and [`crate::query`]), makes **one** store call, which is one
//! transaction (a read snapshot, or one write transaction that the store runs again after a
//! lost race, so a flow decides only from what it read inside), and answers what the response
//! needs or an [`ApiError`]. Flows are synchronous and know no actix type; handlers run them on
//! the blocking pool with `state.flow(move |s| flows::x(s, ..))`.
//!
//! A "not found" is always the caller's organization's: another organization's collection,
//! bill, product or customer is not found either.

use billhub_core::Account;
use billhub_store::Store;
use billhub_store::collections::{
    BillFilter, BillPatch, BillUpdate, Collection, CollectionBillView, CollectionPatch,
    CollectionsCreate, CreateProblem, Created, CustomerFilter, CustomerPatch, IdempotencyKey,
    Idempotent, Page, Product, ProductFilter, ProductPatch,
};
use time::OffsetDateTime;

use crate::codes::{ApiError, create_problem};
use crate::query::{BillIncludes, Includes, MAX_PRODUCT_LINES};
use crate::requests::BillDraft;
use crate::wire::{Ctx, ProductLines, created_body};

/// A rendered answer to a create: what was made now, or the stored first answer to the same
/// `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub body: String,
    /// Whether this is the stored answer of an earlier request (`Idempotent-Replayed: true`).
    pub replayed: bool,
}

/// Creates a collection, bill, product or customer, replaying or refusing a repeated
/// `Idempotency-Key`. The response is rendered inside the store call so that the first answer
/// is stored with the key.
pub fn create(
    store: &Store,
    organization_id: i64,
    op: &CollectionsCreate,
    idem: Option<&IdempotencyKey>,
    ctx: &Ctx,
    inc: Includes,
) -> Result<Rendered, ApiError> {
    let render = |c: &Created| created_body(ctx, &inc, c);
    let outcome = store.transaction(|w| {
        Ok::<_, ApiError>(w.collections_create(organization_id, op, idem, ctx.now, &render)?)
    })?;
    match outcome {
        Idempotent::Fresh(Created::Invalid(problems)) => {
            Err(ApiError::from_problems(&problems, currency_of(op)))
        }
        Idempotent::Fresh(created) => {
            let (status, body) = render(&created);
            Ok(Rendered {
                status,
                body,
                replayed: false,
            })
        }
        Idempotent::Replayed { status, body } => Ok(Rendered {
            status,
            body,
            replayed: true,
        }),
        Idempotent::Mismatch => Err(ApiError::Conflict(
            "This Idempotency-Key was already used with a different request.".into(),
        )),
    }
}

fn currency_of(op: &CollectionsCreate) -> &'static str {
    match op {
        CollectionsCreate::Bill(b) => b.currency.code(),
        _ => "",
    }
}

/// `POST /api/collections/{CODE}/bills`. A draft with bad fields is refused with every bad
/// field, unknown catalogue products included (one snapshot); only then is the
/// `Idempotency-Key` looked at (`idem` is the header as read, or why it is bad) and the bill
/// made with the key claimed (one write transaction).
pub fn create_bill(
    store: &Store,
    organization_id: i64,
    draft: BillDraft,
    idem: Result<Option<IdempotencyKey>, ApiError>,
    ctx: &Ctx,
    inc: BillIncludes,
) -> Result<Rendered, ApiError> {
    match draft.bill {
        Some(new) if draft.errors.is_empty() => create(
            store,
            organization_id,
            &CollectionsCreate::Bill(new),
            idem?.as_ref(),
            ctx,
            Includes::bill(inc),
        ),
        _ => Err(refuse_draft(store, organization_id, draft)?),
    }
}

/// The 422 of a bad draft: its field errors plus the catalogue products it names that the
/// organization does not have.
fn refuse_draft(
    store: &Store,
    organization_id: i64,
    draft: BillDraft,
) -> Result<ApiError, ApiError> {
    let mut errors = draft.errors;
    if !draft.product_ids.is_empty() {
        let ids: Vec<i64> = draft.product_ids.iter().map(|(_, id)| *id).collect();
        let missing =
            store.snapshot(|r| Ok::<_, ApiError>(r.missing_products(organization_id, &ids)?))?;
        for (index, id) in &draft.product_ids {
            if missing.contains(id) {
                let (f, m) = create_problem(&CreateProblem::UnknownProduct { index: *index }, "");
                errors.add(f, m);
            }
        }
    }
    Ok(ApiError::Validation(errors))
}

/// A page of the organization's collections.
pub fn collections(
    store: &Store,
    organization_id: i64,
    offset: i64,
    limit: i64,
) -> Result<Page<Collection>, ApiError> {
    store.snapshot(|r| Ok(r.collections_page(organization_id, offset, limit)?))
}

/// One collection by code or id.
pub fn collection(store: &Store, organization_id: i64, key: &str) -> Result<Collection, ApiError> {
    store.snapshot(|r| {
        r.collection_by_code_or_id(organization_id, key)?
            .ok_or(ApiError::NotFound("Collection"))
    })
}

pub fn update_collection(
    store: &Store,
    organization_id: i64,
    key: &str,
    patch: &CollectionPatch,
    now: OffsetDateTime,
) -> Result<Collection, ApiError> {
    store.transaction(|w| {
        w.update_collection(organization_id, key, patch, now)?
            .ok_or(ApiError::NotFound("Collection"))
    })
}

/// A page of a collection's bills.
pub fn bills(
    store: &Store,
    organization_id: i64,
    code: &str,
    filter: &BillFilter,
    offset: i64,
    limit: i64,
) -> Result<Page<CollectionBillView>, ApiError> {
    store.snapshot(|r| {
        r.collection_bills_page(organization_id, code, filter, offset, limit)?
            .ok_or(ApiError::NotFound("Collection"))
    })
}

/// One bill of a collection with everything its responses may include (its transactions too):
/// the organization from the store's cache (a change made elsewhere is seen within seconds),
/// then one read snapshot.
pub fn bill(
    store: &Store,
    organization_id: i64,
    code: &str,
    bill_no: &str,
    now: OffsetDateTime,
) -> Result<CollectionBillView, ApiError> {
    let cached = store.cached_organization(organization_id, now)?;
    store.snapshot(|r| {
        r.collection_bill_of(&cached.organization, code, bill_no)?
            .ok_or(ApiError::NotFound("Bill"))
    })
}

/// Changes or cancels a bill; core decides what may change.
pub fn update_bill(
    store: &Store,
    organization_id: i64,
    code: &str,
    bill_no: &str,
    patch: &BillPatch,
    now: OffsetDateTime,
) -> Result<CollectionBillView, ApiError> {
    let update = store.transaction(|w| {
        w.update_collection_bill(organization_id, code, bill_no, patch, now)?
            .ok_or(ApiError::NotFound("Bill"))
    })?;
    match update {
        BillUpdate::Updated(view) => Ok(*view),
        BillUpdate::Refused(r) => Err(ApiError::from_refusal(&r)),
    }
}

/// A product or customer id of a path: a positive whole number, else not found.
fn parse_id(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|n| *n > 0)
}

/// A page of the organization's products, with their bill lines when `lines` (the include
/// `product-collections`).
pub fn products(
    store: &Store,
    organization_id: i64,
    filter: &ProductFilter,
    offset: i64,
    limit: i64,
    lines: bool,
) -> Result<(Page<Product>, ProductLines), ApiError> {
    store.snapshot(|r| {
        let page = r.products_page(organization_id, filter, offset, limit)?;
        let lines = if lines {
            let ids: Vec<i64> = page.items.iter().map(|p| p.id).collect();
            r.product_lines(organization_id, &ids, MAX_PRODUCT_LINES)?
        } else {
            Vec::new()
        };
        Ok((page, lines))
    })
}

/// One product by the id of the path, with its bill lines when `lines`.
pub fn product(
    store: &Store,
    organization_id: i64,
    id: &str,
    lines: bool,
) -> Result<(Product, ProductLines), ApiError> {
    let id = parse_id(id).ok_or(ApiError::NotFound("Product"))?;
    store.snapshot(|r| {
        let p = r
            .product(organization_id, id)?
            .ok_or(ApiError::NotFound("Product"))?;
        let lines = if lines {
            r.product_lines(organization_id, &[p.id], MAX_PRODUCT_LINES)?
        } else {
            Vec::new()
        };
        Ok((p, lines))
    })
}

/// Changes a product. `patch` decodes the request against the product as it is (its prices are
/// checked against its currency); it is called only once the product is found, inside the
/// one write transaction (and again if the store runs that transaction again).
pub fn update_product(
    store: &Store,
    organization_id: i64,
    id: &str,
    now: OffsetDateTime,
    lines: bool,
    patch: impl Fn(&Product) -> Result<ProductPatch, ApiError>,
) -> Result<(Product, ProductLines), ApiError> {
    let id = parse_id(id).ok_or(ApiError::NotFound("Product"))?;
    store.transaction(|w| {
        let current = w
            .product(organization_id, id)?
            .ok_or(ApiError::NotFound("Product"))?;
        let patch = patch(&current)?;
        let p = w
            .update_product(organization_id, current.id, &patch, now)?
            .ok_or(ApiError::NotFound("Product"))?;
        let lines = if lines {
            w.product_lines(organization_id, &[p.id], MAX_PRODUCT_LINES)?
        } else {
            Vec::new()
        };
        Ok((p, lines))
    })
}

/// Deletes a product (its bills keep their lines).
pub fn delete_product(
    store: &Store,
    organization_id: i64,
    id: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let id = parse_id(id).ok_or(ApiError::NotFound("Product"))?;
    store.transaction(|w| {
        w.delete_product(organization_id, id, now)?
            .then_some(())
            .ok_or(ApiError::NotFound("Product"))
    })
}

/// A page of the organization's customers.
pub fn customers(
    store: &Store,
    organization_id: i64,
    filter: &CustomerFilter,
    offset: i64,
    limit: i64,
) -> Result<Page<Account>, ApiError> {
    store.snapshot(|r| Ok(r.customers_page(organization_id, filter, offset, limit)?))
}

/// One customer by the id of the path.
pub fn customer(store: &Store, organization_id: i64, id: &str) -> Result<Account, ApiError> {
    let id = parse_id(id).ok_or(ApiError::NotFound("Customer"))?;
    store.snapshot(|r| {
        r.customer(organization_id, id)?
            .ok_or(ApiError::NotFound("Customer"))
    })
}

/// Changes a customer. `patch` decodes the request against the customer as it is; it is
/// called only once the customer is found, inside the one write transaction (and again if the
/// store runs that transaction again).
pub fn update_customer(
    store: &Store,
    organization_id: i64,
    id: &str,
    now: OffsetDateTime,
    patch: impl Fn(&Account) -> Result<CustomerPatch, ApiError>,
) -> Result<Account, ApiError> {
    let id = parse_id(id).ok_or(ApiError::NotFound("Customer"))?;
    store.transaction(|w| {
        let current = w
            .customer(organization_id, id)?
            .ok_or(ApiError::NotFound("Customer"))?;
        let patch = patch(&current)?;
        w.update_customer(organization_id, current.id, &patch, now)?
            .ok_or(ApiError::NotFound("Customer"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids() {
        assert_eq!(parse_id(" 12 "), Some(12));
        assert_eq!(parse_id("0"), None);
        assert_eq!(parse_id("-3"), None);
        assert_eq!(parse_id("x"), None);
    }
}
