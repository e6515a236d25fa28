//! The dialect's OpenAPI 3.1 document (`GET /openapi.json`, committed as
//! `docs/openapi/va.json`).
//!
//! The answers' schemas are derived from the wire types themselves ([`crate::wire`]); requests,
//! which are read leniently by hand ([`crate::requests`]), are described by the schema-only
//! types below. Every refusal is the envelope with a code of the `rc` table ([`Rc::ALL`]): each
//! status a route answers lists exactly the codes of that status, so the table and the document
//! cannot drift apart. `/oauth/token` answers OAuth2 errors in league/oauth2-server's shape.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{OpenApi, Schema};
use utoipa::{OpenApi as _, ToSchema};

use crate::codes::Rc;
use crate::requests::TERMINALS;
use crate::wire::{BillData, Component, OAuthError, Paginated, PaymentData, Token};

// ---------------------------------------------------------------------------------------------
// Schemas the wire types refer to

/// An IDR amount as answers write it: a JSON number without a needless fraction.
pub fn idr_number() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .description(Some("IDR, a JSON number (`100000`, `150000.5`)."))
        .examples([json!(100000)])
        .build()
        .into()
}

/// `null`, always.
pub fn null() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Null)
        .description(Some("Always null: billhub does not settle."))
        .build()
        .into()
}

/// An IDR amount as requests may write it: a number, or a decimal string; at most 2 decimals
/// (more are refused, never rounded); exponent forms (`1.0E5`) are read when exact.
pub fn idr_input() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Number, Type::String]))
        .description(Some(
            "IDR: a JSON number or a decimal string (`100000`, `\"100000\"`, `\"150000.50\"`); more decimals than 2 are refused.",
        ))
        .examples([json!(100000)])
        .build()
        .into()
}

/// A component's `qty`: a number or a numeric string, greater than 0.
pub fn quantity_input() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Number, Type::String]))
        .description(Some("Greater than 0: a JSON number or a decimal string."))
        .examples([json!(1)])
        .build()
        .into()
}

/// `prefix`: one 6-digit VA prefix, or a non-empty array of them.
pub fn prefix_input() -> Schema {
    let one = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9]{6}$"))
            .build()
    };
    Schema::OneOf(
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(one())
            .item(
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(one())
                    .min_items(Some(1))
                    .build(),
            )
            .description(Some(
                "Each a VA prefix of the caller's organization, no repeats.",
            ))
            .build(),
    )
}

/// A bill's `type`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BillType {
    Close,
    Partial,
    Open,
}

/// A bill's `status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BillStatus {
    Active,
    Reversal,
    Paid,
    Void,
    Expired,
}

/// A payment row's `type`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentType {
    Payment,
    Reversal,
}

/// The token type.
#[derive(Debug, Serialize, ToSchema)]
pub enum TokenType {
    Bearer,
}

/// The OAuth2 `error` values `/oauth/token` answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    UnsupportedGrantType,
    InvalidClient,
    ServerError,
}

/// The `rc` of a success.
#[derive(Debug, Serialize, ToSchema)]
pub enum SuccessRc {
    #[serde(rename = "SUCCESS")]
    Success,
}

/// The `rc` of a validation refusal.
#[derive(Debug, Serialize, ToSchema)]
pub enum ValidationRc {
    #[serde(rename = "VALIDATION_ERROR")]
    ValidationError,
}

// ---------------------------------------------------------------------------------------------
// Envelopes

/// `{"rc": "SUCCESS", "message", "timestamp", "data": <Bill>}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillAnswer {
    pub rc: SuccessRc,
    /// `success` (`Billing revoked.` after a revocation).
    pub message: String,
    /// ISO 8601 with the organization's offset (+07:00 before one is known).
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub data: BillData,
}

/// The bill list: Laravel's paginator of Bills in the envelope.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillListAnswer {
    pub rc: SuccessRc,
    pub message: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub data: Paginated<BillData>,
}

/// The payment list: Laravel's paginator of Payments, each with its `bill`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentListAnswer {
    pub rc: SuccessRc,
    pub message: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub data: Paginated<PaymentData>,
}

/// A bill's payments and reversals, oldest first (without `bill`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillPaymentsAnswer {
    pub rc: SuccessRc,
    pub message: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub data: Vec<PaymentData>,
}

/// An inquiry's payable bills of the number (at most one).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InquiryAnswer {
    pub rc: SuccessRc,
    pub message: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    #[schema(max_items = 1)]
    pub data: Vec<BillData>,
}

/// `VALIDATION_ERROR`: `data` maps each failing field (`components.0.total`, `prefix.1`) to
/// its messages.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationRefusal {
    pub rc: ValidationRc,
    /// `The given data was invalid.`
    pub message: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub data: BTreeMap<String, Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// Requests (read by hand in `crate::requests`; described here)

/// `POST /oauth/token` (JSON, or the same fields as a form).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenRequest {
    pub grant_type: GrantType,
    pub client_id: String,
    /// Missing or wrong: 401 `invalid_client`.
    pub client_secret: Option<String>,
    /// Default `*`.
    pub scope: Option<String>,
}

/// The only grant billhub issues.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    ClientCredentials,
}

/// A component of a new bill: `total` must be exactly `qty` x `price`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentInput {
    pub name: String,
    #[schema(schema_with = quantity_input)]
    pub qty: Value,
    /// At least 0.
    #[schema(schema_with = idr_input)]
    pub price: Value,
    #[schema(schema_with = idr_input)]
    pub total: Value,
}

/// `POST /api/v2/gw/bill`. Every failing field is answered at once (422 `VALIDATION_ERROR`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreateBillRequest {
    /// The 10-digit number; also the bill's account code.
    #[schema(pattern = "^[0-9]{10}$", example = "1234567890")]
    pub va_number: String,
    /// Default: the bill's hash.
    #[schema(max_length = 64)]
    pub invoice_number: Option<String>,
    /// Accepted and ignored.
    #[schema(deprecated)]
    pub channel: Option<String>,
    #[schema(schema_with = prefix_input)]
    pub prefix: Value,
    #[schema(max_length = 255)]
    pub name: String,
    /// Greater than 0; with `components`, exactly the sum of their `total`s.
    #[schema(schema_with = idr_input)]
    pub total_amount: Value,
    /// The caller's organization code (case-sensitive).
    pub institution_code: String,
    /// Read in any case (`Close`, `PARTIAL`).
    #[serde(rename = "type")]
    pub kind: BillType,
    /// ISO 8601 with an offset (`2022-04-04T11:46:56+07:00`, `Z`, `+0700`, or without seconds),
    /// in the future.
    #[schema(example = "2030-04-04T11:46:56+07:00")]
    pub valid_until: Option<String>,
    pub components: Option<Vec<ComponentInput>>,
    #[schema(max_length = 255)]
    pub customer_name: String,
    #[schema(max_length = 255)]
    pub customer_email: Option<String>,
    #[schema(max_length = 64)]
    pub customer_phone: Option<String>,
    #[schema(max_length = 1000)]
    pub customer_address: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(max_length = 2000)]
    pub ext_description: Option<String>,
}

/// `DELETE /api/v2/gw/bill/{hash}`: `{}` (signed over `{}`), or no body (signed over the query
/// string).
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokeRequest {}

/// `POST /api/v2/ch/inquiry`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InquiryRequest {
    /// The 6-digit prefix and the 10-digit number.
    #[schema(pattern = "^[0-9]{16}$", example = "0099021234567890")]
    pub va_number: String,
    #[schema(max_length = 64)]
    pub ref_id: String,
    #[schema(schema_with = terminal)]
    pub terminal_id: Option<String>,
    /// `Y-m-d H:i:s` (or `Y-m-d H:i`), local time, not more than a day ahead.
    #[schema(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?$",
        example = "2026-11-21 10:00:00"
    )]
    pub transaction_date: String,
}

/// `terminal_id`: one of [`TERMINALS`].
pub fn terminal() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(TERMINALS))
        .build()
        .into()
}

/// `POST /api/v2/ch/payment`: the inquiry's fields, `amount` and `customer_name`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentRequest {
    #[schema(pattern = "^[0-9]{16}$", example = "0099021234567890")]
    pub va_number: String,
    /// The bank's idempotency key.
    #[schema(max_length = 64)]
    pub ref_id: String,
    #[schema(schema_with = idr_input)]
    pub amount: Value,
    #[schema(schema_with = terminal)]
    pub terminal_id: Option<String>,
    #[schema(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?$",
        example = "2026-11-21 10:00:00"
    )]
    pub transaction_date: String,
    /// Recorded as the payer.
    #[schema(max_length = 255)]
    pub customer_name: Option<String>,
}

/// `POST /api/v2/ch/reversal`: the whole payment is reversed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReversalRequest {
    /// The bill's `hash`.
    #[schema(max_length = 64)]
    pub bill_id: String,
    /// The `ref_id` of this bank's payment on the bill.
    #[schema(max_length = 64)]
    pub payment_ref: String,
    /// The payment's amount.
    #[schema(schema_with = idr_input)]
    pub amount: Value,
}

/// `POST /api/v2/gw/bill/{hash}/mock` (sandbox only).
#[derive(Debug, Serialize, ToSchema)]
pub struct MockRequest {
    /// Read in any case.
    #[serde(rename = "type")]
    pub kind: PaymentType,
    /// Required for a payment; for a reversal, when given, the payment's amount.
    #[schema(schema_with = idr_input)]
    pub amount: Option<Value>,
    /// A payment's reference (default: generated).
    #[schema(max_length = 64)]
    pub ref_id: Option<String>,
    /// The sandbox payment a reversal reverses (default: the latest one not reversed).
    #[schema(max_length = 64)]
    pub payment_ref: Option<String>,
}

#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    BillData,
    Component,
    PaymentData,
    Token,
    OAuthError,
    BillAnswer,
    BillListAnswer,
    PaymentListAnswer,
    BillPaymentsAnswer,
    InquiryAnswer,
    ValidationRefusal,
    TokenRequest,
    CreateBillRequest,
    InquiryRequest,
    PaymentRequest,
    ReversalRequest,
    MockRequest,
    RevokeRequest,
)))]
struct Schemas;

// ---------------------------------------------------------------------------------------------
// Paths

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// Anyone (`/oauth/token`).
    Anyone,
    /// A biller: bearer token and `Signature`.
    Biller,
    /// A bank: bearer token and `Signature`, or `Signature` alone on a passive channel.
    Bank,
}

/// The parameters of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Params {
    None,
    /// `{hash}`.
    Hash,
    /// `{hash}` and `institution_code`.
    HashQuery,
    /// The bill list's query.
    Bills,
    /// The payment list's query.
    Payments,
    /// The mock's fields in the query string.
    Mock,
}

/// One operation of the table below.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    caller: Caller,
    params: Params,
    /// The request body's schema, and whether it is required.
    body: Option<(&'static str, bool)>,
    /// The success answer's schema.
    ok: &'static str,
    /// The refusals' statuses (besides the plumbing's 413, 500 and 504, which every route may
    /// answer).
    refusals: &'static [u16],
}

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

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn hash_param() -> Value {
    json!({
        "name": "hash", "in": "path", "required": true,
        "description": "The bill's `hash`.",
        "schema": { "type": "string", "minLength": 1 }
    })
}

fn institution_param() -> Value {
    query(
        "institution_code",
        "When given, the caller's organization code.",
        json!({ "type": "string" }),
    )
}

/// The bill list's `order_by` values.
const BILL_ORDER: [&str; 10] = [
    "created_at",
    "invoice_number",
    "name",
    "total_amount",
    "billed_amount",
    "paid_amount",
    "valid_until",
    "due_date",
    "status",
    "type",
];

fn list_params(order_by: &[&str]) -> Vec<Value> {
    vec![
        institution_param(),
        query(
            "page",
            "15 rows a page; default 1.",
            json!({ "type": "integer", "minimum": 1, "maximum": 1_000_000 }),
        ),
        query("q", "Case-insensitive search.", json!({ "type": "string" })),
        query(
            "date.0",
            "Created from (inclusive): `Y-m-d` in the organization's time, or an ISO 8601 instant. Also `date[0]`.",
            json!({ "type": "string" }),
        ),
        query(
            "date.1",
            "Created up to (inclusive): `Y-m-d` or an ISO 8601 instant. Also `date[1]`.",
            json!({ "type": "string" }),
        ),
        query(
            "order_by",
            "Default `created_at`.",
            json!({ "type": "string", "enum": order_by }),
        ),
        query(
            "order",
            "Default `desc`.",
            json!({ "type": "string", "enum": ["asc", "desc"] }),
        ),
    ]
}

fn mock_params() -> Vec<Value> {
    vec![
        hash_param(),
        institution_param(),
        query(
            "type",
            "Required: `payment` or `reversal` (any case).",
            json!({ "type": "string", "enum": ["payment", "reversal"] }),
        ),
        query(
            "amount",
            "A decimal (IDR); required for a payment.",
            json!({ "type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?$" }),
        ),
        query(
            "ref_id",
            "A payment's reference.",
            json!({ "type": "string" }),
        ),
        query(
            "payment_ref",
            "The sandbox payment a reversal reverses.",
            json!({ "type": "string" }),
        ),
    ]
}

fn parameters(params: Params) -> Vec<Value> {
    match params {
        Params::None => vec![],
        Params::Hash => vec![hash_param()],
        Params::HashQuery => vec![hash_param(), institution_param()],
        Params::Bills => list_params(&BILL_ORDER),
        Params::Payments => {
            let mut out = list_params(&["created_at", "amount"]);
            out.push(query(
                "va_number",
                "16 digits, or the 10-digit account part.",
                json!({ "type": "string", "pattern": "^([0-9]{10}|[0-9]{16})$" }),
            ));
            out.push(query(
                "type",
                "Read in any case.",
                json!({ "type": "string", "enum": ["payment", "reversal"] }),
            ));
            out
        }
        Params::Mock => mock_params(),
    }
}

/// The operations, one per route and method `routes::configure` registers.
const OPERATIONS: &[Op] = &[
    Op {
        method: "post",
        path: "/oauth/token",
        id: "issueToken",
        summary: "An access token (OAuth2 client credentials)",
        caller: Caller::Anyone,
        params: Params::None,
        body: Some(("TokenRequest", true)),
        ok: "Token",
        refusals: &[],
    },
    Op {
        method: "post",
        path: "/api/v2/gw/bill",
        id: "createBill",
        summary: "Create a bill",
        caller: Caller::Biller,
        params: Params::None,
        body: Some(("CreateBillRequest", true)),
        ok: "BillAnswer",
        refusals: &[401, 403, 409, 422],
    },
    Op {
        method: "get",
        path: "/api/v2/gw/bill",
        id: "listBills",
        summary: "List bills",
        caller: Caller::Biller,
        params: Params::Bills,
        body: None,
        ok: "BillListAnswer",
        refusals: &[401, 403, 422],
    },
    Op {
        method: "get",
        path: "/api/v2/gw/bill/{hash}",
        id: "showBill",
        summary: "One bill",
        caller: Caller::Biller,
        params: Params::HashQuery,
        body: None,
        ok: "BillAnswer",
        refusals: &[401, 403, 404, 422],
    },
    Op {
        method: "delete",
        path: "/api/v2/gw/bill/{hash}",
        id: "revokeBill",
        summary: "Revoke a bill (send `{}` or no body)",
        caller: Caller::Biller,
        params: Params::Hash,
        body: Some(("RevokeRequest", false)),
        ok: "BillAnswer",
        refusals: &[401, 403, 404, 409],
    },
    Op {
        method: "get",
        path: "/api/v2/gw/bill/{hash}/payment",
        id: "billPayments",
        summary: "A bill's payments and reversals",
        caller: Caller::Biller,
        params: Params::HashQuery,
        body: None,
        ok: "BillPaymentsAnswer",
        refusals: &[401, 403, 404, 422],
    },
    Op {
        method: "post",
        path: "/api/v2/gw/bill/{hash}/mock",
        id: "mockPayment",
        summary: "Sandbox: pay or reverse a bill (only with BILLHUB_SANDBOX=true; else 404 NOT_FOUND)",
        caller: Caller::Biller,
        params: Params::Hash,
        body: Some(("MockRequest", true)),
        ok: "BillAnswer",
        refusals: &[401, 403, 404, 409, 422],
    },
    Op {
        method: "get",
        path: "/api/v2/gw/bill/{hash}/mock",
        id: "mockPaymentByQuery",
        summary: "Sandbox: the mock with its fields in the query string",
        caller: Caller::Biller,
        params: Params::Mock,
        body: None,
        ok: "BillAnswer",
        refusals: &[401, 403, 404, 409, 422],
    },
    Op {
        method: "get",
        path: "/api/v2/gw/payment",
        id: "listPayments",
        summary: "List payments and reversals",
        caller: Caller::Biller,
        params: Params::Payments,
        body: None,
        ok: "PaymentListAnswer",
        refusals: &[401, 403, 422],
    },
    Op {
        method: "post",
        path: "/api/v2/ch/inquiry",
        id: "inquiry",
        summary: "A bank looks a VA number up",
        caller: Caller::Bank,
        params: Params::None,
        body: Some(("InquiryRequest", true)),
        ok: "InquiryAnswer",
        refusals: &[401, 403, 404, 409, 422],
    },
    Op {
        method: "post",
        path: "/api/v2/ch/payment",
        id: "payment",
        summary: "A bank pays a bill (idempotent by `ref_id`)",
        caller: Caller::Bank,
        params: Params::None,
        body: Some(("PaymentRequest", true)),
        ok: "BillAnswer",
        refusals: &[401, 403, 404, 409, 422],
    },
    Op {
        method: "post",
        path: "/api/v2/ch/reversal",
        id: "reversal",
        summary: "A bank reverses its payment",
        caller: Caller::Bank,
        params: Params::None,
        body: Some(("ReversalRequest", true)),
        ok: "BillAnswer",
        refusals: &[401, 403, 404, 409, 422],
    },
];

/// The name of the response component of a refusal with `status`.
fn refusal_name(status: u16) -> String {
    format!("Refusal{status}")
}

/// The envelope of a refusal with `status`: the codes of the table with that status (`data`
/// null), or, for 422, also `VALIDATION_ERROR` with its fields.
fn refusal_schema(status: u16) -> Value {
    let codes: Vec<&str> = Rc::ALL
        .iter()
        .filter(|rc| rc.entry().1 == status && **rc != Rc::ValidationError)
        .map(|rc| rc.code())
        .collect();
    let plain = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["rc", "message", "timestamp", "data"],
        "properties": {
            "rc": { "type": "string", "enum": codes },
            "message": { "type": "string" },
            "timestamp": { "type": "string", "format": "date-time" },
            "data": { "type": "null" }
        }
    });
    if status == 422 {
        json!({ "oneOf": [schema_ref("ValidationRefusal"), plain] })
    } else {
        plain
    }
}

/// The response of a refusal with `status`, its codes and default messages described.
fn refusal_response(status: u16) -> Value {
    let messages: Vec<String> = Rc::ALL
        .iter()
        .filter(|rc| rc.entry().1 == status)
        .map(|rc| format!("`{}` ({})", rc.code(), rc.message()))
        .collect();
    json!({
        "description": messages.join("; "),
        "content": { "application/json": { "schema": refusal_schema(status) } }
    })
}

/// The plumbing's refusals every route may answer.
const PLUMBING: [u16; 3] = [413, 500, 504];

/// The statuses a route is answered with.
fn responses(op: &Op) -> serde_json::Map<String, Value> {
    let mut responses = serde_json::Map::new();
    responses.insert(
        "200".into(),
        json!({
            "description": "Success.",
            "content": { "application/json": { "schema": schema_ref(op.ok) } }
        }),
    );
    let oauth = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": schema_ref("OAuthError") } }
        })
    };
    if op.caller == Caller::Anyone {
        responses.insert(
            "400".into(),
            oauth("`invalid_request` (no `client_id`, a body neither JSON nor a form) or `unsupported_grant_type`."),
        );
        responses.insert(
            "401".into(),
            oauth(
                "`invalid_client`: wrong `client_id` or `client_secret`, or not a `va` credential.",
            ),
        );
    }
    for status in op.refusals.iter().chain(&PLUMBING) {
        let response = if op.caller == Caller::Anyone && *status == 500 {
            json!({
                "description": "`server_error` (OAuth2 shape), or the plumbing's `SYSTEM_ERROR` envelope.",
                "content": { "application/json": { "schema": { "oneOf": [
                    schema_ref("OAuthError"),
                    refusal_schema(500)
                ] } } }
            })
        } else {
            json!({ "$ref": format!("#/components/responses/{}", refusal_name(*status)) })
        };
        responses.insert(status.to_string(), response);
    }
    responses
}

fn operation(op: &Op) -> Value {
    let tag = match op.caller {
        Caller::Anyone => "OAuth",
        Caller::Biller => "Biller API",
        Caller::Bank => "Channel API",
    };
    let security = match op.caller {
        Caller::Anyone => json!([]),
        Caller::Biller => json!([{ "bearer": [], "signature": [] }]),
        Caller::Bank => json!([{ "bearer": [], "signature": [] }, { "signature": [] }]),
    };
    let mut o = json!({
        "tags": [tag],
        "summary": op.summary,
        "operationId": op.id,
        "responses": responses(op),
        "security": security,
    });
    let params = parameters(op.params);
    if !params.is_empty() {
        o = with(o, "parameters", Value::Array(params));
    }
    if let Some((schema, required)) = op.body {
        let mut content = serde_json::Map::new();
        content.insert(
            "application/json".into(),
            json!({ "schema": schema_ref(schema) }),
        );
        if op.caller == Caller::Anyone {
            content.insert(
                "application/x-www-form-urlencoded".into(),
                json!({ "schema": schema_ref(schema) }),
            );
        }
        o = with(
            o,
            "requestBody",
            json!({ "required": required, "content": content }),
        );
    }
    o
}

/// Every (method, path) the document describes, upper-case method first.
pub fn described_routes() -> Vec<(String, String)> {
    OPERATIONS
        .iter()
        .map(|op| (op.method.to_ascii_uppercase(), op.path.to_string()))
        .collect()
}

const DESCRIPTION: &str = "The IPG-style virtual-account dialect of billhub: billers publish bills as VA numbers through the biller API (`/api/v2/gw/*`), banks look them up and pay them through the channel API (`/api/v2/ch/*`). Every answer but `/oauth/token` is the envelope `{\"rc\", \"message\", \"timestamp\", \"data\"}`; amounts are IDR JSON numbers (component amounts decimal strings); timestamps ISO 8601 with the organization's offset. `Signature` is the lowercase hex HMAC-SHA256, with the credential's API key, of the raw body exactly as sent, or of the raw query string (without `?`) when the body is empty. See docs/dialects/va.md.";

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
    for status in [401, 403, 404, 409, 422, 413, 500, 504] {
        responses.insert(refusal_name(status), refusal_response(status));
    }
    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "billhub va-gateway",
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
                    "type": "oauth2",
                    "description": "`Authorization: Bearer <access_token>` from `POST /oauth/token` (client credentials of `billhub credential create --dialect va` for a biller, `billhub channel create --dialect va` for a bank); tokens expire after 3600 s.",
                    "flows": { "clientCredentials": { "tokenUrl": "/oauth/token", "scopes": { "*": "Everything the credential may call." } } }
                },
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Signature",
                    "description": "Lowercase hex HMAC-SHA256 with the credential's `api_key` over the raw body as sent, or the raw query string when the body is empty. A bank on a `va.auth=passive` channel may send it alone."
                }
            }
        },
        "tags": [
            { "name": "OAuth", "description": "Access tokens." },
            { "name": "Biller API", "description": "Biller credentials: bills and their payments." },
            { "name": "Channel API", "description": "Bank credentials: inquiry, payment, reversal." }
        ]
    });
    serde_json::from_value(doc).unwrap_or_default()
}
