//! The dialect's OpenAPI 3.1 document (`GET /openapi.json`, committed as
//! `docs/openapi/collections.json`).
//!
//! The answers' schemas are derived from the wire types themselves ([`crate::wire`]); request
//! bodies, which are read leniently by hand ([`crate::requests`]), are described by the
//! schema-only types below. The `?include=` values are the ones [`crate::query`] allows per
//! route, the `filter[...]` names its filter lists, and the bill `status` and `type` codes come
//! from [`crate::codes`]: the document cannot drift from them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{OpenApi, Schema};
use utoipa::{OpenApi as _, ToSchema};

use crate::codes::{BILL_STATUS_CODES, BILL_TYPE_FIXED, BILL_TYPE_OPEN_AMOUNT};
use crate::query::{
    BILL_FILTERS, BILL_INCLUDES, COLLECTION_INCLUDES, CUSTOMER_FILTERS, CUSTOMER_INCLUDES,
    DEFAULT_PER_PAGE, MAX_PER_PAGE, PRODUCT_FILTERS, PRODUCT_INCLUDES, TRANSACTION_INCLUDES,
};
use crate::wire::{
    BillBrief, BillOut, BillTransactionOut, CollectionBrief, CollectionOut, CustomerOut,
    OrganizationOut, Paginator, PaymentOut, ProductCollectionOut, ProductLineOut, ProductOut,
    TransactionOut,
};

// ---------------------------------------------------------------------------------------------
// Schemas the wire types refer to

fn string(description: &str, pattern: &str, example: Value) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(pattern))
        .examples([example])
        .build()
        .into()
}

/// `Y-m-d H:i:s` in the organization's UTC offset.
pub fn timestamp() -> Schema {
    string(
        "`Y-m-d H:i:s` in the organization's UTC offset.",
        "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
        json!("2026-11-21 17:12:33"),
    )
}

/// A bill's `due`: `Y-m-d`, or null.
pub fn due() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some("`Y-m-d`; null for a bill without a due date."))
        .pattern(Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
        .examples([json!("2026-12-31")])
        .build()
        .into()
}

/// An amount: a decimal string with the currency's decimals (`"134.00"`).
pub fn amount() -> Schema {
    string(
        "A decimal string with the currency's decimals (`\"134.00\"`, `\"5000\"` for a currency without decimals).",
        "^-?[0-9]+(\\.[0-9]+)?$",
        json!("134.00"),
    )
}

/// An ISO 4217 code.
pub fn currency() -> Schema {
    string("ISO 4217.", "^[A-Z]{3}$", json!("MYR"))
}

/// A line's quantity: a JSON number with at least one decimal (`10.0`, `1.5`).
pub fn quantity() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .exclusive_minimum(Some(0))
        .description(Some(
            "A JSON number written with at least one decimal (`10.0`).",
        ))
        .examples([json!(10.0)])
        .build()
        .into()
}

/// The integer bill `status`.
pub fn bill_status() -> Schema {
    let codes: Vec<i32> = BILL_STATUS_CODES.iter().map(|(_, c, _)| *c).collect();
    let names: Vec<String> = BILL_STATUS_CODES
        .iter()
        .map(|(_, c, n)| format!("`{c}` {n}"))
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(codes))
        .description(Some(names.join(", ")))
        .build()
        .into()
}

/// The integer bill `type`.
pub fn bill_type() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some([BILL_TYPE_OPEN_AMOUNT, BILL_TYPE_FIXED]))
        .description(Some(
            "`2` a fixed bill (paid once, in full: every bill made here), `1` an open-amount bill (made by other tools).",
        ))
        .build()
        .into()
}

/// Always `null` (a field billhub does not have).
pub fn null() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Null)
        .description(Some("Always null."))
        .build()
        .into()
}

fn constant(value: i32) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some([value]))
        .description(Some(format!("Always {value}.")))
        .build()
        .into()
}

/// Always 1.
pub fn one() -> Schema {
    constant(1)
}

/// Always 0.
pub fn zero() -> Schema {
    constant(0)
}

/// `account_groups`: billhub has no customer groups, so always `[]`.
pub fn no_groups() -> Schema {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().build())
        .max_items(Some(0))
        .description(Some(
            "`?include=account-groups`: always `[]` (billhub has no customer groups).",
        ))
        .build()
        .into()
}

/// A payment's `status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    Success,
    Reversed,
}

/// A text or a number (taken as its text).
pub fn text_or_number() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
        .build()
        .into()
}

/// A decimal amount in a request: a string or a number, at least 0, with no more decimals than
/// the currency has.
pub fn amount_input() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
        .description(Some(
            "A string or a number, at least 0, with no more decimals than the currency has.",
        ))
        .examples([json!("10.00")])
        .build()
        .into()
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Every error but a validation's: `{"message": "..."}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Error {
    pub message: String,
}

/// `422`: every bad field at once, by its dotted path (`product.0.quantity`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationError {
    /// `The given data was invalid.`
    pub message: String,
    pub errors: BTreeMap<String, Vec<String>>,
}

/// `DELETE /api/products/{id}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deleted {
    /// `Product deleted.`
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Requests (read by hand in `crate::requests`; described here)

/// `POST /api/collections`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewCollection {
    #[schema(max_length = 255)]
    pub name: String,
    /// An http(s) URL: payment callbacks go there.
    #[schema(format = "uri")]
    pub webhook_url: Option<String>,
    /// An http(s) URL: the hosted page's way back to the shop.
    #[schema(format = "uri")]
    pub redirect_url: Option<String>,
}

/// `PATCH /api/collections/{code}`: any of the fields (`null` or `""` clears a URL).
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionChange {
    #[schema(max_length = 255)]
    pub name: Option<String>,
    #[schema(format = "uri")]
    pub webhook_url: Option<String>,
    #[schema(format = "uri")]
    pub redirect_url: Option<String>,
}

/// A new bill's customer: found (or created) by `acc_no`; without it a new customer, and then
/// `first_name`, `last_name`, `email` and `mobile` are required.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillCustomer {
    #[schema(schema_with = text_or_number)]
    pub acc_no: Option<Value>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[schema(format = Email)]
    pub email: Option<String>,
    /// 6 to 20 digits (spaces, dashes and a leading `+` allowed).
    pub mobile: Option<String>,
    pub address: Option<String>,
}

/// A new bill's line: a catalogue product by `id` (its price unless the line sends one), or a
/// new product from `title` and `price`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillLine {
    pub id: Option<i64>,
    pub title: Option<String>,
    #[schema(schema_with = amount_input)]
    pub price: Option<Value>,
    /// Greater than 0: an integer or a decimal.
    #[schema(schema_with = quantity_input)]
    pub quantity: Value,
}

/// A line's `quantity` in a request.
pub fn quantity_input() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Number, Type::String]))
        .description(Some("Greater than 0: an integer or a decimal."))
        .examples([json!(1)])
        .build()
        .into()
}

/// `POST /api/collections/{code}/bills`. Every failing field is answered at once (422).
#[derive(Debug, Serialize, ToSchema)]
pub struct NewBill {
    /// `Y-m-d`.
    #[schema(example = "2026-12-31")]
    pub due: String,
    /// Non-empty, at most 255 characters.
    #[schema(schema_with = text_or_number)]
    pub ref1: Value,
    /// Must be present; may be `""` or null.
    #[schema(schema_with = text_or_number_or_null, required = true)]
    pub ref2: Option<Value>,
    #[schema(example = "MYR")]
    pub currency: String,
    pub customer: BillCustomer,
    #[schema(min_items = 1)]
    pub product: Vec<BillLine>,
}

/// A text, a number or null.
pub fn text_or_number_or_null() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::String,
            Type::Number,
            Type::Null,
        ]))
        .build()
        .into()
}

/// `PATCH /api/collections/{code}/bills/{bill_no}`: any of the fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillChange {
    /// `Y-m-d`.
    pub due: Option<String>,
    #[schema(schema_with = text_or_number)]
    pub ref1: Option<Value>,
    #[schema(schema_with = text_or_number_or_null)]
    pub ref2: Option<Value>,
    /// Only while nothing is paid.
    pub currency: Option<String>,
    /// `true` cancels (voids) the bill; `1`, `0`, `"true"`, `"false"` are read as booleans.
    #[schema(schema_with = boolean_input)]
    pub cancel: Option<Value>,
}

/// A boolean as requests may write it.
pub fn boolean_input() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::Boolean,
            Type::Integer,
            Type::String,
        ]))
        .description(Some("`true`, `false`, `1`, `0`, `\"true\"`, `\"false\"`."))
        .build()
        .into()
}

/// `POST /api/products`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewProduct {
    pub title: String,
    #[schema(schema_with = amount_input)]
    pub price: Value,
    pub code: Option<String>,
    pub description: Option<String>,
    /// ISO 4217; none: the product is priced in the bill's currency.
    pub currency: Option<String>,
}

/// `PATCH /api/products/{id}`: any of the fields; `null` leaves `title`, `code`,
/// `description` and `price` as they are.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductChange {
    pub title: Option<String>,
    #[schema(schema_with = amount_input)]
    pub price: Option<Value>,
    pub code: Option<String>,
    pub description: Option<String>,
    pub currency: Option<String>,
}

/// `POST /api/customers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewCustomer {
    pub first_name: String,
    pub last_name: String,
    #[schema(format = Email)]
    pub email: String,
    /// 6 to 20 digits (spaces, dashes and a leading `+` allowed).
    pub mobile: String,
    pub address: Option<String>,
    /// Generated when absent; 422 when taken.
    #[schema(schema_with = text_or_number)]
    pub acc_no: Option<Value>,
}

/// `PATCH /api/customers/{id}`: any of the fields; `null` leaves a field as it is; `acc_no`
/// cannot change.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerChange {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[schema(format = Email)]
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub address: Option<String>,
}

#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    CollectionOut,
    OrganizationOut,
    CollectionBrief,
    ProductOut,
    ProductLineOut,
    BillBrief,
    CustomerOut,
    ProductCollectionOut,
    TransactionOut,
    PaymentOut,
    BillOut,
    BillTransactionOut,
    Paginator<CollectionOut>,
    Paginator<BillOut>,
    Paginator<BillTransactionOut>,
    Paginator<ProductOut>,
    Paginator<CustomerOut>,
    Error,
    ValidationError,
    Deleted,
    NewCollection,
    CollectionChange,
    NewBill,
    BillChange,
    NewProduct,
    ProductChange,
    NewCustomer,
    CustomerChange,
)))]
struct Schemas;

// ---------------------------------------------------------------------------------------------
// Paths

/// One operation of the table below.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    tag: &'static str,
    /// `?include=` values the route allows.
    includes: &'static [&'static str],
    /// `filter[...]` names (lists only).
    filters: Option<&'static [&'static str]>,
    body: Option<&'static str>,
    ok: &'static str,
    /// Statuses besides the ones every route may answer ([`COMMON`]).
    errors: &'static [u16],
}

/// What every route may answer: a malformed query or an unknown include (400), no valid token
/// (401), a body over the limit (413), the token's rate (429), billhub's failure (500), a busy
/// database (503), the request timeout (504).
const COMMON: [u16; 7] = [400, 401, 413, 429, 500, 503, 504];

/// `v` with `key` set to `value` (`v` is an object).
fn with(mut v: Value, key: &str, value: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert(key.to_string(), value);
    }
    v
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn path_params(path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (name, description) in [
        (
            "code",
            "The collection's `code` (its numeric `id` is read too).",
        ),
        ("bill_no", "The bill's `bill_no`."),
        (
            "ref_id",
            "The channel's reference, or the `ref_id` callbacks carry (`{bill_no}__{YmdHis}`).",
        ),
        ("id", "The numeric `id`."),
    ] {
        if path.contains(&format!("{{{name}}}")) {
            out.push(json!({
                "name": name, "in": "path", "required": true, "description": description,
                "schema": { "type": "string", "minLength": 1 }
            }));
        }
    }
    out
}

fn parameters(op: &Op) -> Vec<Value> {
    let mut out = path_params(op.path);
    if !op.includes.is_empty() {
        out.push(json!({
            "name": "include", "in": "query", "required": false,
            "description": "Comma-separated (or repeated) names of what to add to the answer; a POST or PATCH body may carry `include` too. Any other name is a 400.",
            "style": "form", "explode": false,
            "schema": { "type": "array", "uniqueItems": true, "items": { "type": "string", "enum": op.includes } }
        }));
    }
    if let Some(filters) = op.filters {
        out.push(json!({
            "name": "page", "in": "query", "required": false,
            "description": "Default 1.",
            "schema": { "type": "integer", "minimum": 1 }
        }));
        out.push(json!({
            "name": "per_page", "in": "query", "required": false,
            "description": format!("Default {DEFAULT_PER_PAGE}; at most {MAX_PER_PAGE} (more is read as {MAX_PER_PAGE}); not a whole number of at least 1: 422."),
            "schema": { "type": "integer", "minimum": 1 }
        }));
        for name in filters {
            let description = match *name {
                "status" => {
                    "A bill status code or its name (`2`, `active`, `cancelled`, `void`, ...)."
                }
                "due_from" | "due_to" => "`Y-m-d`, inclusive.",
                "acc_no" | "ref1" | "ref2" => "Exact.",
                "price" => "The same amount (`10` finds `10.00`).",
                _ => "Contains, case-insensitive.",
            };
            out.push(json!({
                "name": format!("filter[{name}]"), "in": "query", "required": false,
                "description": description, "schema": { "type": "string" }
            }));
        }
    }
    if op.method == "post" {
        out.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "1 to 255 visible ASCII characters: the same key with the same request within 24 hours answers the first answer again (`Idempotent-Replayed: true`); with another request, 409.",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$" }
        }));
    }
    out
}

/// The description and schema of an error status.
fn error_response(status: u16) -> Value {
    let (description, schema) = match status {
        400 => (
            "A body that is missing or not a JSON object (or a malformed form), a malformed query, an unknown include or filter, a bad `Idempotency-Key`.",
            schema_ref("Error"),
        ),
        401 => (
            "No, unknown or revoked token: `Unauthenticated.`",
            schema_ref("Error"),
        ),
        403 => (
            "The bill's state forbids the change (cancelled; paid, or with money on it, and asked to cancel).",
            schema_ref("Error"),
        ),
        404 => (
            "No such collection, bill, transaction, product or customer for this organization.",
            schema_ref("Error"),
        ),
        409 => (
            "This `Idempotency-Key` was already used with a different request.",
            schema_ref("Error"),
        ),
        413 => ("The body is over the limit.", schema_ref("Error")),
        422 => ("Every bad field at once.", schema_ref("ValidationError")),
        429 => ("Over the token's request rate.", schema_ref("Error")),
        500 => ("An internal failure: `Server Error`.", schema_ref("Error")),
        503 => (
            "The database is busy or unreachable; retry.",
            schema_ref("Error"),
        ),
        _ => (
            "The request ran past the server's timeout; retry (with the same `Idempotency-Key`).",
            schema_ref("Error"),
        ),
    };
    let mut response = json!({
        "description": description,
        "content": { "application/json": { "schema": schema } }
    });
    if status == 429 {
        response = with(
            response,
            "headers",
            json!({
                "Retry-After": { "description": "Seconds to the next minute.", "schema": { "type": "integer", "minimum": 1 } },
                "X-RateLimit-Limit": { "description": "The organization's `collections.requests_per_minute`.", "schema": { "type": "integer", "minimum": 1 } },
                "X-RateLimit-Remaining": { "description": "`0`.", "schema": { "type": "integer", "enum": [0] } }
            }),
        );
    }
    response
}

fn error_name(status: u16) -> String {
    format!("Error{status}")
}

fn operation(op: &Op) -> Value {
    let mut responses = serde_json::Map::new();
    let mut ok = json!({
        "description": "Success.",
        "content": { "application/json": { "schema": schema_ref(op.ok) } }
    });
    if op.method == "post" {
        ok = with(
            ok,
            "headers",
            json!({
                "Idempotent-Replayed": {
                    "description": "`true` when this is the stored answer of an earlier request with the same `Idempotency-Key`.",
                    "schema": { "type": "string", "enum": ["true"] }
                }
            }),
        );
    }
    responses.insert("200".into(), ok);
    let mut statuses: Vec<u16> = COMMON.iter().chain(op.errors).copied().collect();
    statuses.sort_unstable();
    for status in statuses {
        responses.insert(
            status.to_string(),
            json!({ "$ref": format!("#/components/responses/{}", error_name(status)) }),
        );
    }
    let mut o = json!({
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": op.id,
        "parameters": parameters(op),
        "responses": responses,
    });
    if let Some(body) = op.body {
        o = with(
            o,
            "requestBody",
            json!({
                "required": true,
                "description": "A JSON object (a form, `application/x-www-form-urlencoded` with PHP's bracket nesting, is read too).",
                "content": { "application/json": { "schema": schema_ref(body) } }
            }),
        );
    }
    o
}

/// The operations, one per route and method `routes::configure` registers.
const OPERATIONS: &[Op] = &[
    Op {
        method: "get",
        path: "/api/collections",
        id: "listCollections",
        summary: "List collections",
        tag: "Collections",
        includes: &COLLECTION_INCLUDES,
        filters: Some(&[]),
        body: None,
        ok: "Paginator_Collection",
        errors: &[422],
    },
    Op {
        method: "post",
        path: "/api/collections",
        id: "createCollection",
        summary: "Create a collection",
        tag: "Collections",
        includes: &COLLECTION_INCLUDES,
        filters: None,
        body: Some("NewCollection"),
        ok: "Collection",
        errors: &[409, 422],
    },
    Op {
        method: "get",
        path: "/api/collections/{code}",
        id: "getCollection",
        summary: "One collection",
        tag: "Collections",
        includes: &COLLECTION_INCLUDES,
        filters: None,
        body: None,
        ok: "Collection",
        errors: &[404],
    },
    Op {
        method: "patch",
        path: "/api/collections/{code}",
        id: "updateCollection",
        summary: "Change a collection",
        tag: "Collections",
        includes: &COLLECTION_INCLUDES,
        filters: None,
        body: Some("CollectionChange"),
        ok: "Collection",
        errors: &[404, 422],
    },
    Op {
        method: "get",
        path: "/api/collections/{code}/bills",
        id: "listBills",
        summary: "List a collection's bills",
        tag: "Bills",
        includes: &BILL_INCLUDES,
        filters: Some(&BILL_FILTERS),
        body: None,
        ok: "Paginator_Bill",
        errors: &[404, 422],
    },
    Op {
        method: "post",
        path: "/api/collections/{code}/bills",
        id: "createBill",
        summary: "Create a bill",
        tag: "Bills",
        includes: &BILL_INCLUDES,
        filters: None,
        body: Some("NewBill"),
        ok: "Bill",
        errors: &[404, 409, 422],
    },
    Op {
        method: "get",
        path: "/api/collections/{code}/bills/{bill_no}",
        id: "getBill",
        summary: "One bill",
        tag: "Bills",
        includes: &BILL_INCLUDES,
        filters: None,
        body: None,
        ok: "Bill",
        errors: &[404],
    },
    Op {
        method: "patch",
        path: "/api/collections/{code}/bills/{bill_no}",
        id: "updateBill",
        summary: "Change or cancel a bill",
        tag: "Bills",
        includes: &BILL_INCLUDES,
        filters: None,
        body: Some("BillChange"),
        ok: "Bill",
        errors: &[403, 404, 422],
    },
    Op {
        method: "get",
        path: "/api/collections/{code}/bills/{bill_no}/transactions",
        id: "listTransactions",
        summary: "A bill's transactions",
        tag: "Bills",
        includes: &TRANSACTION_INCLUDES,
        filters: Some(&[]),
        body: None,
        ok: "Paginator_BillTransaction",
        errors: &[404, 422],
    },
    Op {
        method: "get",
        path: "/api/collections/{code}/bills/{bill_no}/transactions/{ref_id}",
        id: "getTransaction",
        summary: "One transaction of a bill",
        tag: "Bills",
        includes: &TRANSACTION_INCLUDES,
        filters: None,
        body: None,
        ok: "BillTransaction",
        errors: &[404],
    },
    Op {
        method: "get",
        path: "/api/products",
        id: "listProducts",
        summary: "List products",
        tag: "Products",
        includes: &PRODUCT_INCLUDES,
        filters: Some(&PRODUCT_FILTERS),
        body: None,
        ok: "Paginator_Product",
        errors: &[422],
    },
    Op {
        method: "post",
        path: "/api/products",
        id: "createProduct",
        summary: "Create a product",
        tag: "Products",
        includes: &PRODUCT_INCLUDES,
        filters: None,
        body: Some("NewProduct"),
        ok: "Product",
        errors: &[409, 422],
    },
    Op {
        method: "get",
        path: "/api/products/{id}",
        id: "getProduct",
        summary: "One product",
        tag: "Products",
        includes: &PRODUCT_INCLUDES,
        filters: None,
        body: None,
        ok: "Product",
        errors: &[404],
    },
    Op {
        method: "patch",
        path: "/api/products/{id}",
        id: "updateProduct",
        summary: "Change a product",
        tag: "Products",
        includes: &PRODUCT_INCLUDES,
        filters: None,
        body: Some("ProductChange"),
        ok: "Product",
        errors: &[404, 422],
    },
    Op {
        method: "delete",
        path: "/api/products/{id}",
        id: "deleteProduct",
        summary: "Delete a product (bills keep their lines)",
        tag: "Products",
        includes: &[],
        filters: None,
        body: None,
        ok: "Deleted",
        errors: &[404],
    },
    Op {
        method: "get",
        path: "/api/customers",
        id: "listCustomers",
        summary: "List customers",
        tag: "Customers",
        includes: &CUSTOMER_INCLUDES,
        filters: Some(&CUSTOMER_FILTERS),
        body: None,
        ok: "Paginator_Customer",
        errors: &[422],
    },
    Op {
        method: "post",
        path: "/api/customers",
        id: "createCustomer",
        summary: "Create a customer",
        tag: "Customers",
        includes: &CUSTOMER_INCLUDES,
        filters: None,
        body: Some("NewCustomer"),
        ok: "Customer",
        errors: &[409, 422],
    },
    Op {
        method: "get",
        path: "/api/customers/{id}",
        id: "getCustomer",
        summary: "One customer",
        tag: "Customers",
        includes: &CUSTOMER_INCLUDES,
        filters: None,
        body: None,
        ok: "Customer",
        errors: &[404],
    },
    Op {
        method: "patch",
        path: "/api/customers/{id}",
        id: "updateCustomer",
        summary: "Change a customer",
        tag: "Customers",
        includes: &CUSTOMER_INCLUDES,
        filters: None,
        body: Some("CustomerChange"),
        ok: "Customer",
        errors: &[404, 422],
    },
];

/// Every (method, path) the document describes, upper-case method first.
pub fn described_routes() -> Vec<(String, String)> {
    OPERATIONS
        .iter()
        .map(|op| (op.method.to_ascii_uppercase(), op.path.to_string()))
        .collect()
}

const DESCRIPTION: &str = "The RaudhahPay-style collections dialect of billhub: collections, bills, products and customers for merchants' back offices. Amounts are decimal strings with the currency's decimals (`\"134.00\"`), dates `Y-m-d`, timestamps `Y-m-d H:i:s` in the organization's UTC offset; lists are Laravel's paginator; errors are `{\"message\"}` (plus `errors` for 422). Every POST takes an `Idempotency-Key`. See docs/dialects/collections.md.";

/// The document.
pub fn document() -> OpenApi {
    let schemas = Schemas::openapi();
    let components = serde_json::to_value(&schemas.components).unwrap_or(Value::Null);
    let mut paths = serde_json::Map::new();
    for op in OPERATIONS {
        if let Value::Object(item) = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}))
        {
            item.insert(op.method.to_string(), operation(op));
        }
    }
    let mut responses = serde_json::Map::new();
    for status in [400, 401, 403, 404, 409, 413, 422, 429, 500, 503, 504] {
        responses.insert(error_name(status), error_response(status));
    }
    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "billhub collections-api",
            "description": DESCRIPTION,
            "version": env!("CARGO_PKG_VERSION"),
            "license": { "name": "see the repository" }
        },
        "paths": paths,
        "components": {
            "schemas": components.get("schemas").cloned().unwrap_or(Value::Null),
            "responses": responses,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer {ACCESS-TOKEN}` of a `collections` credential (`billhub credential create --org CODE --dialect collections`); it sees only its organization's resources."
                }
            }
        },
        "security": [{ "bearer": [] }],
        "tags": [
            { "name": "Collections" },
            { "name": "Bills" },
            { "name": "Products" },
            { "name": "Customers" }
        ]
    });
    serde_json::from_value(doc).unwrap_or_default()
}
