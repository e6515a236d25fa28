//! Thin handlers: authenticate (extracting [`Api`]), read the query and body (validating every
//! field at once), run one flow on the blocking pool ([`crate::flows`]), render in the
//! partner's shape.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use billhub_store::collections::{CollectionsCreate, Page};
use serde::Serialize;

use crate::auth::RateLimiter;
use crate::codes::ApiError;
use crate::edge::Api;
use crate::flows::{self, Rendered};
use crate::query::{
    COLLECTION_INCLUDES, CUSTOMER_INCLUDES, Includes, PRODUCT_INCLUDES, Query, TRANSACTION_INCLUDES,
};
use crate::requests;
use crate::wire::{
    BillOut, BillTransactionOut, CollectionOut, CustomerOut, Paginator, ProductOut, callback_ref_id,
};
use billhub_core::Payment;

pub use crate::edge::IDEMPOTENCY_TTL_HOURS;

type Res = Result<HttpResponse, ApiError>;
type Id = web::Path<String>;
type BillPath = web::Path<(String, String)>;

/// Registers every route of the dialect.
pub fn configure(cfg: &mut web::ServiceConfig, limiter: Arc<RateLimiter>) {
    use web::{delete, get, patch, post};
    let resource = |path: &str| web::resource(path).default_service(web::to(method_not_allowed));
    let bill = "/api/collections/{code}/bills/{bill_no}";
    cfg.app_data(web::Data::from(limiter))
        .service(
            resource("/api/collections")
                .route(get().to(list_collections))
                .route(post().to(create_collection)),
        )
        .service(
            resource("/api/collections/{code}")
                .route(get().to(get_collection))
                .route(patch().to(update_collection)),
        )
        .service(
            resource("/api/collections/{code}/bills")
                .route(get().to(list_bills))
                .route(post().to(create_bill)),
        )
        .service(
            resource(bill)
                .route(get().to(get_bill))
                .route(patch().to(update_bill)),
        )
        .service(resource(&format!("{bill}/transactions")).route(get().to(list_transactions)))
        .service(
            resource(&format!("{bill}/transactions/{{ref_id}}")).route(get().to(get_transaction)),
        )
        .service(
            resource("/api/products")
                .route(get().to(list_products))
                .route(post().to(create_product)),
        )
        .service(
            resource("/api/products/{id}")
                .route(get().to(get_product))
                .route(patch().to(update_product))
                .route(delete().to(delete_product)),
        )
        .service(
            resource("/api/customers")
                .route(get().to(list_customers))
                .route(post().to(create_customer)),
        )
        .service(
            resource("/api/customers/{id}")
                .route(get().to(get_customer))
                .route(patch().to(update_customer)),
        );
}

async fn method_not_allowed() -> Res {
    Err(ApiError::MethodNotAllowed)
}

fn json<T: Serialize>(body: &T) -> Res {
    Ok(HttpResponse::Ok().json(body))
}

/// A create's answer, stored or fresh.
fn rendered(r: Rendered) -> Res {
    let mut b = HttpResponse::build(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK));
    b.content_type("application/json");
    if r.replayed {
        b.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(b.body(r.body))
}

/// A list answer: Laravel's paginator over the page, each item rendered by `render`.
fn paginated<T, O: Serialize>(api: &Api, q: &Query, page: &Page<T>, f: impl FnMut(&T) -> O) -> Res {
    let data = page.items.iter().map(f).collect();
    json(&Paginator::new(api.link(), q, data, page.total))
}

/// A list route's query: includes checked by `includes`, then paging, then its filters.
fn list_query<I>(
    api: &Api,
    includes: impl FnOnce(&Query) -> Result<I, ApiError>,
) -> Result<(Query, I), ApiError> {
    let q = api.query()?;
    let inc = includes(&q)?;
    q.check_paging()?;
    Ok((q, inc))
}

/// The collection, product and customer creates: the body was decoded into `op`.
async fn create(api: &Api, op: CollectionsCreate, body: &[u8], inc: Includes) -> Res {
    let idem = api.idempotency_key(body)?;
    let (org, ctx) = (api.org(), api.ctx());
    rendered(
        api.flow(move |s| flows::create(s, org, &op, idem.as_ref(), &ctx, inc))
            .await?,
    )
}

/// A collection answer, with `organization` when asked.
fn collection(
    api: &Api,
    c: &billhub_store::collections::Collection,
    with_org: bool,
) -> CollectionOut {
    CollectionOut::with_org(&api.ctx(), &api.caller.organization, c, with_org)
}

// ---- collections ----

async fn list_collections(api: Api) -> Res {
    let (q, with_org) = list_query(&api, |q| Ok(!q.includes(&COLLECTION_INCLUDES)?.is_empty()))?;
    q.filters(&[])?;
    let (org, offset, limit) = (api.org(), q.offset(), q.per_page);
    let page = api
        .flow(move |s| flows::collections(s, org, offset, limit))
        .await?;
    paginated(&api, &q, &page, |c| collection(&api, c, with_org))
}

async fn get_collection(api: Api, path: Id) -> Res {
    let with_org = !api.query()?.includes(&COLLECTION_INCLUDES)?.is_empty();
    let (org, key) = (api.org(), path.into_inner());
    let c = api.flow(move |s| flows::collection(s, org, &key)).await?;
    json(&collection(&api, &c, with_org))
}

async fn create_collection(api: Api, payload: web::Payload) -> Res {
    let body = api.body(payload).await?;
    let obj = api.object(&body)?;
    let inc = api.query_with(&obj)?.includes_of(&COLLECTION_INCLUDES)?;
    let new = requests::new_collection(&obj)?;
    create(&api, CollectionsCreate::Collection(new), &body, inc).await
}

async fn update_collection(api: Api, path: Id, payload: web::Payload) -> Res {
    let body = api.body(payload).await?;
    let obj = api.object(&body)?;
    let with_org = !api
        .query_with(&obj)?
        .includes(&COLLECTION_INCLUDES)?
        .is_empty();
    let patch = requests::collection_patch(&obj)?;
    let (org, key, now) = (api.org(), path.into_inner(), api.now());
    let c = api
        .flow(move |s| flows::update_collection(s, org, &key, &patch, now))
        .await?;
    json(&collection(&api, &c, with_org))
}

// ---- bills ----

async fn list_bills(api: Api, path: Id) -> Res {
    let (q, inc) = list_query(&api, Query::bill_includes)?;
    let filter = q.bill_filter()?;
    let (org, code, offset, limit) = (api.org(), path.into_inner(), q.offset(), q.per_page);
    let page = api
        .flow(move |s| flows::bills(s, org, &code, &filter, offset, limit))
        .await?;
    let ctx = api.ctx();
    paginated(&api, &q, &page, |v| BillOut::new(&ctx, v, &inc))
}

async fn create_bill(api: Api, path: Id, payload: web::Payload) -> Res {
    let body = api.body(payload).await?;
    let obj = api.object(&body)?;
    let inc = api.query_with(&obj)?.bill_includes()?;
    let draft = requests::new_bill(&obj, path.into_inner());
    let idem = api.idempotency_key(&body);
    let (org, ctx) = (api.org(), api.ctx());
    rendered(
        api.flow(move |s| flows::create_bill(s, org, draft, idem, &ctx, inc))
            .await?,
    )
}

async fn get_bill(api: Api, path: BillPath) -> Res {
    let inc = api.query()?.bill_includes()?;
    let ((code, bill_no), org, now) = (path.into_inner(), api.org(), api.now());
    let view = api
        .state
        .inline_flow(move |s| flows::bill(s, org, &code, &bill_no, now))
        .await?;
    json(&BillOut::new(&api.ctx(), &view, &inc))
}

async fn update_bill(api: Api, path: BillPath, payload: web::Payload) -> Res {
    let body = api.body(payload).await?;
    let obj = api.object(&body)?;
    let inc = api.query_with(&obj)?.bill_includes()?;
    let patch = requests::bill_patch(&obj)?;
    let ((code, bill_no), org, now) = (path.into_inner(), api.org(), api.now());
    let view = api
        .flow(move |s| flows::update_bill(s, org, &code, &bill_no, &patch, now))
        .await?;
    json(&BillOut::new(&api.ctx(), &view, &inc))
}

async fn list_transactions(api: Api, path: BillPath) -> Res {
    let (q, names) = list_query(&api, |q| q.includes(&TRANSACTION_INCLUDES))?;
    q.filters(&[])?;
    let ((code, bill_no), org, now) = (path.into_inner(), api.org(), api.now());
    let view = api
        .flow(move |s| flows::bill(s, org, &code, &bill_no, now))
        .await?;
    let ctx = api.ctx();
    let bill = BillTransactionOut::bill_include(&ctx, &view, &names);
    let page = Page {
        items: view
            .payments
            .iter()
            .skip(usize::try_from(q.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(q.per_page).unwrap_or(0))
            .collect(),
        total: i64::try_from(view.payments.len()).unwrap_or(i64::MAX),
    };
    paginated(&api, &q, &page, |p| BillTransactionOut {
        bill: bill.clone(),
        ..BillTransactionOut::new(&ctx, &view, p)
    })
}

async fn get_transaction(api: Api, path: web::Path<(String, String, String)>) -> Res {
    let names = api.query()?.includes(&TRANSACTION_INCLUDES)?;
    let ((code, bill_no, ref_id), org, now) = (path.into_inner(), api.org(), api.now());
    let view = api
        .flow(move |s| flows::bill(s, org, &code, &bill_no, now))
        .await?;
    let ctx = api.ctx();
    // By the channel's reference, or by the `ref_id` callbacks carry (`{bill_no}__{YmdHis}`).
    let all: Vec<Payment> = view.payments.iter().map(|p| p.payment.clone()).collect();
    let p = view
        .payments
        .iter()
        .find(|p| p.payment.channel_ref == ref_id)
        .or_else(|| {
            view.payments
                .iter()
                .find(|p| callback_ref_id(&view.bill, &p.payment, &all, ctx.offset) == ref_id)
        })
        .ok_or(ApiError::NotFound("Transaction"))?;
    json(&BillTransactionOut {
        bill: BillTransactionOut::bill_include(&ctx, &view, &names),
        ..BillTransactionOut::new(&ctx, &view, p)
    })
}

// ---- products ----

async fn list_products(api: Api) -> Res {
    let (q, inc) = list_query(&api, |q| q.includes_of(&PRODUCT_INCLUDES))?;
    let filter = q.product_filter()?;
    let (org, offset, limit) = (api.org(), q.offset(), q.per_page);
    let (page, lines) = api
        .flow(move |s| flows::products(s, org, &filter, offset, limit, inc.product_lines))
        .await?;
    let ctx = api.ctx();
    paginated(&api, &q, &page, |p| ProductOut::with(&ctx, p, &inc, &lines))
}

async fn get_product(api: Api, path: Id) -> Res {
    let inc = api.query()?.includes_of(&PRODUCT_INCLUDES)?;
    let (org, id) = (api.org(), path.into_inner());
    let (p, lines) = api
        .flow(move |s| flows::product(s, org, &id, inc.product_lines))
        .await?;
    json(&ProductOut::with(&api.ctx(), &p, &inc, &lines))
}

async fn create_product(api: Api, payload: web::Payload) -> Res {
    let body = api.body(payload).await?;
    let obj = api.object(&body)?;
    let inc = api.query_with(&obj)?.includes_of(&PRODUCT_INCLUDES)?;
    let input = requests::new_product(&obj)?;
    create(&api, CollectionsCreate::Product(input), &body, inc).await
}

/// The body is read, then decoded against the product as stored, once it was found (a
/// missing product is a 404 whatever the body).
async fn update_product(api: Api, path: Id, payload: web::Payload) -> Res {
    let (obj, q) = body_and_query(&api, payload).await?;
    let inc = q.includes_of(&PRODUCT_INCLUDES)?;
    let (org, id, now) = (api.org(), path.into_inner(), api.now());
    let (p, lines) = api
        .flow(move |s| {
            flows::update_product(s, org, &id, now, inc.product_lines, |current| {
                requests::product_patch(
                    obj.as_ref().map_err(Clone::clone)?,
                    current.currency.as_deref(),
                )
            })
        })
        .await?;
    json(&ProductOut::with(&api.ctx(), &p, &inc, &lines))
}

/// A PATCH body as an object (or why it is not one, answered only once the target is found)
/// and the query with what the body carries.
async fn body_and_query(
    api: &Api,
    payload: web::Payload,
) -> Result<(Result<requests::Object, ApiError>, Query), ApiError> {
    let obj = match api.body(payload).await {
        Ok(b) => api.object(&b),
        Err(e) => Err(e),
    };
    let q = match &obj {
        Ok(o) => api.query_with(o)?,
        Err(_) => api.query()?,
    };
    Ok((obj, q))
}

async fn delete_product(api: Api, path: Id) -> Res {
    let (org, id, now) = (api.org(), path.into_inner(), api.now());
    api.flow(move |s| flows::delete_product(s, org, &id, now))
        .await?;
    json(&serde_json::json!({ "message": "Product deleted." }))
}

// ---- customers ----

async fn list_customers(api: Api) -> Res {
    let (q, inc) = list_query(&api, |q| q.includes_of(&CUSTOMER_INCLUDES))?;
    let filter = q.customer_filter()?;
    let (org, offset, limit) = (api.org(), q.offset(), q.per_page);
    let page = api
        .flow(move |s| flows::customers(s, org, &filter, offset, limit))
        .await?;
    let ctx = api.ctx();
    paginated(&api, &q, &page, |a| CustomerOut::with(&ctx, a, &inc))
}

async fn get_customer(api: Api, path: Id) -> Res {
    let inc = api.query()?.includes_of(&CUSTOMER_INCLUDES)?;
    let (org, id) = (api.org(), path.into_inner());
    let a = api.flow(move |s| flows::customer(s, org, &id)).await?;
    json(&CustomerOut::with(&api.ctx(), &a, &inc))
}

async fn create_customer(api: Api, payload: web::Payload) -> Res {
    let body = api.body(payload).await?;
    let obj = api.object(&body)?;
    let inc = api.query_with(&obj)?.includes_of(&CUSTOMER_INCLUDES)?;
    let input = requests::new_customer(&obj)?;
    create(&api, CollectionsCreate::Customer(input), &body, inc).await
}

/// The body is decoded against the customer as stored (its `acc_no` cannot change), once it
/// was found. `null` leaves a field as it is.
async fn update_customer(api: Api, path: Id, payload: web::Payload) -> Res {
    let (obj, q) = body_and_query(&api, payload).await?;
    let inc = q.includes_of(&CUSTOMER_INCLUDES)?;
    let (org, id, now) = (api.org(), path.into_inner(), api.now());
    let a = api
        .flow(move |s| {
            flows::update_customer(s, org, &id, now, |current| {
                requests::customer_patch(obj.as_ref().map_err(Clone::clone)?, &current.code)
            })
        })
        .await?;
    json(&CustomerOut::with(&api.ctx(), &a, &inc))
}
