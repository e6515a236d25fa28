//! The dialect's OpenAPI 3.1 document ([`document`]), served at `/openapi.json` with a page at
//! `/docs` and committed as `docs/openapi/bill24.json` (the test `tests/openapi.rs` fails when
//! they differ).
//!
//! The response shapes are the wire types of [`crate::wire`] (deriving `ToSchema`); the code
//! and message enums come from [`crate::codes`]. What has no Rust type of its own (the requests,
//! read leniently from JSON, and the envelope variants) is described by the schema-only types
//! below. The paths are the `#[utoipa::path]` attributes on the handlers in [`crate::routes`].

use serde::Serialize;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::codes::{Code, http_message_kh};
use crate::wire::{PendingBill, PendingBillsData, ProxyData, WebhookReply};

/// The gateway's document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "billhub bill24-proxy: Bill24 Merchant Proxy (biller side)",
        version = "1",
        description = "The biller side of Bill24's Merchant Proxy for every organization billhub hosts. \
Bill24 calls `POST /proxy` (amount due), `POST /pending_bills` (statement) and `POST /webhook` \
(payment notification). Business answers are HTTP 200 with a Merchant Proxy code 0-4; transport \
refusals keep their HTTP status in the same envelope with `code` = the status and `data: null`. \
A path no route knows answers 404 and a known path with another method 405, both in that \
envelope (`ErrorEnvelope`). Amounts are JSON numbers in major units, exact (never rounded). \
See docs/dialects/bill24.md."
    ),
    paths(
        crate::routes::proxy,
        crate::routes::pending_bills,
        crate::routes::webhook
    ),
    components(schemas(
        ConsumerBody,
        ProxyAnswer,
        ProxyFound,
        PendingBillsAnswer,
        PendingBillsFound,
        CodeRefusal,
        ErrorEnvelope,
        ProxyData,
        PendingBillsData,
        PendingBill,
        WebhookNotification,
        WebhookCurrent,
        WebhookOlder,
        WebhookCustomer,
        WebhookBillRef,
        WebhookReply,
        WebhookFailure
    )),
    modifiers(&TokenScheme),
    tags((name = "Merchant Proxy", description = "What Bill24 asks billhub: the amount due, the statement, a payment."))
)]
struct ApiDoc;

/// The `token` header scheme (the organization's Bill24 token).
struct TokenScheme;

/// The name of the security scheme.
pub const TOKEN_SCHEME: &str = "token";

impl Modify for TokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            TOKEN_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                crate::auth::TOKEN_HEADER,
                "The organization's Bill24 token (`billhub credential create --org CODE --dialect bill24`). \
                 The webhook also takes calls without it from an address the organization allow-lists \
                 (`bill24.webhook_allow_ips`).",
            ))),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Field schemas

/// A JSON number in major units, read and written exactly.
pub fn money() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .description(Some(
            "An amount in major units as a JSON number, exact to the currency (`5000` KHR, `10.5` USD); never rounded.",
        ))
        .build()
}

/// A bound of one payment: an amount, or `-1` for no bound.
pub fn bound() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .description(Some(
            "An amount in major units as a JSON number, exact; `-1` means no bound.",
        ))
        .build()
}

/// A currency Bill24 carries.
pub fn currency() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(crate::codes::CURRENCIES))
        .build()
}

/// `yyyy-M-d HH:mm:ss` in the organization's offset (no zero padding of month and day), or `""`.
pub fn proxy_datetime() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^(\d{4}-\d{1,2}-\d{1,2} \d{2}:\d{2}:\d{2})?$"))
        .description(Some(
            "`yyyy-M-d HH:mm:ss` in the organization's UTC offset (`2024-2-29 10:46:33`), or `\"\"`.",
        ))
        .build()
}

/// `dd/MM/yyyy`.
pub fn statement_date() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^\d{2}/\d{2}/\d{4}$"))
        .description(Some("`dd/MM/yyyy` in the organization's UTC offset."))
        .build()
}

/// A string or a whole number (ids and codes Bill24 sends either way).
fn string_or_integer() -> Object {
    ObjectBuilder::new()
        .schema_type(
            [Type::String, Type::Integer]
                .into_iter()
                .collect::<utoipa::openapi::schema::SchemaType>(),
        )
        .build()
}

/// `data` of an answer without data.
fn null() -> Object {
    ObjectBuilder::new().schema_type(Type::Null).build()
}

fn success_code() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some([Code::Success.number()]))
        .build()
}

fn success_message() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([Code::Success.message()]))
        .build()
}

fn success_message_kh() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([Code::Success.message_kh()]))
        .build()
}

fn refusals() -> impl Iterator<Item = Code> {
    Code::ALL.into_iter().filter(|c| *c != Code::Success)
}

fn refusal_code() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(refusals().map(Code::number)))
        .description(Some(
            "1 not found, 2 bill over due, 3 no amount to pay, 4 currency not allowed.",
        ))
        .build()
}

fn refusal_message() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(refusals().map(Code::message)))
        .build()
}

fn refusal_message_kh() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(refusals().map(Code::message_kh)))
        .build()
}

fn http_code() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(ERROR_STATUSES))
        .description(Some("The HTTP status of the answer."))
        .build()
}

fn http_message_kh_values() -> Object {
    let mut texts: Vec<&str> = ERROR_STATUSES
        .iter()
        .filter_map(|s| actix_web::http::StatusCode::from_u16(*s).ok())
        .map(http_message_kh)
        .collect();
    texts.sort_unstable();
    texts.dedup();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(texts))
        .build()
}

/// Every HTTP status an answer of this gateway can carry besides 200.
pub const ERROR_STATUSES: [u16; 7] = [400, 401, 404, 405, 413, 500, 504];

pub fn webhook_status() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["Success", "Error"]))
        .description(Some(
            "`Success`: received (applied, kept as unapplied money, or not applied for a status other than `success`); \
             `Error`: a repeat, or refused.",
        ))
        .build()
}

// ---------------------------------------------------------------------------------------------
// Schema-only types

/// The body of `/proxy` and `/pending_bills`.
#[derive(Serialize, ToSchema)]
pub struct ConsumerBody {
    /// An account code, a bill's public number or an invoice number. Missing, blank or of another
    /// type it names nobody (code 1); a whole number is looked up as its text.
    #[schema(schema_with = string_or_integer)]
    pub consumer_code: String,
    /// Sent by Auto Direct Debit; accepted and ignored.
    pub biller_code: Option<String>,
}

/// HTTP 200 of `/proxy`: the amount due (code 0), or a Merchant Proxy code 1-4.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
// A schema only (never built): its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ProxyAnswer {
    Found(ProxyFound),
    Refused(CodeRefusal),
}

/// Code 0 with the amount due.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyFound {
    #[schema(schema_with = success_code)]
    pub code: u16,
    #[schema(schema_with = success_message)]
    pub message: String,
    #[schema(schema_with = success_message_kh)]
    pub message_kh: String,
    pub data: ProxyData,
}

/// HTTP 200 of `/pending_bills`: the statement (code 0), or a Merchant Proxy code 1-4.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
// A schema only (never built): its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum PendingBillsAnswer {
    Found(PendingBillsFound),
    Refused(CodeRefusal),
}

/// Code 0 with the statement.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingBillsFound {
    #[schema(schema_with = success_code)]
    pub code: u16,
    #[schema(schema_with = success_message)]
    pub message: String,
    #[schema(schema_with = success_message_kh)]
    pub message_kh: String,
    pub data: PendingBillsData,
}

/// A Merchant Proxy code 1-4 (HTTP 200), without data.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRefusal {
    #[schema(schema_with = refusal_code)]
    pub code: u16,
    #[schema(schema_with = refusal_message)]
    pub message: String,
    #[schema(schema_with = refusal_message_kh)]
    pub message_kh: String,
    #[schema(schema_with = null)]
    pub data: (),
}

/// A transport refusal in the Merchant Proxy envelope: `code` is the HTTP status.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorEnvelope {
    #[schema(schema_with = http_code)]
    pub code: u16,
    /// A clear English message (every bad field named on a 400).
    pub message: String,
    #[schema(schema_with = http_message_kh_values)]
    pub message_kh: String,
    #[schema(schema_with = null)]
    pub data: (),
}

/// A webhook failure: the webhook reply when the handler refused or billhub failed, the
/// envelope when the plumbing answered first (a panic).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
// A schema only (never built): its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum WebhookFailure {
    Reply(WebhookReply),
    Envelope(ErrorEnvelope),
}

/// A payment notification, in either documented generation (told apart by its id field:
/// `tran_id` or `tnx_id`). Fields not listed are kept as sent.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
// A schema only (never built): its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum WebhookNotification {
    Current(WebhookCurrent),
    Older(WebhookOlder),
}

/// The current generation (`tran_id`, `customers[]`). The minimum is `tran_id`, an amount
/// (`tran_amount`, else `total_amount`) greater than zero and exact in the currency, and a known
/// currency; below it the answer is 400. Above it money is always recorded.
#[derive(Serialize, ToSchema)]
pub struct WebhookCurrent {
    /// The transaction id: the idempotency key.
    #[schema(schema_with = string_or_integer)]
    pub tran_id: String,
    pub tran_no: Option<String>,
    pub payment_service_type: Option<String>,
    /// `2024-11-29T16:58:16.727168` or `2024-02-29 10:46:33`, optionally with `Z` or `+07:00`;
    /// without a zone in the organization's offset.
    pub tran_date: Option<String>,
    #[schema(schema_with = money)]
    pub tran_amount: Option<f64>,
    /// Used when `tran_amount` is absent.
    #[schema(schema_with = money)]
    pub total_amount: Option<f64>,
    /// ISO 4217, any case; Bill24 carries `USD` and `KHR`.
    pub currency: String,
    pub bank_code: Option<String>,
    pub bank_name: Option<String>,
    pub bank_ref: Option<String>,
    /// The consumer when `customers` is empty or a customer code is blank.
    #[schema(schema_with = string_or_integer)]
    pub identity_code: Option<String>,
    pub purpose_of_transaction: Option<String>,
    pub device_code: Option<String>,
    /// Only `success` (any case; absent means `success`) is applied.
    pub status: Option<String>,
    /// Who paid what; the amounts add up to the total.
    pub customers: Option<Vec<WebhookCustomer>>,
}

/// One customer of a current-generation notification.
#[derive(Serialize, ToSchema)]
pub struct WebhookCustomer {
    pub branch_code: Option<String>,
    pub branch_name: Option<String>,
    /// Blank or absent: `identity_code`.
    #[schema(schema_with = string_or_integer)]
    pub customer_code: Option<String>,
    pub customer_name: Option<String>,
    pub customer_name_latin: Option<String>,
    /// A bill's public number or invoice number.
    pub bill_no: Option<String>,
    /// A lone customer without an amount pays the whole amount.
    #[schema(schema_with = money)]
    pub amount: Option<f64>,
}

/// The older generation (`tnx_id`, one customer, `bills[]`); `total_amount` includes the fees.
#[derive(Serialize, ToSchema)]
pub struct WebhookOlder {
    /// The transaction id: the idempotency key.
    #[schema(schema_with = string_or_integer)]
    pub tnx_id: String,
    #[schema(schema_with = money)]
    pub tran_amount: Option<f64>,
    #[schema(schema_with = money)]
    pub customer_fee: Option<f64>,
    #[schema(schema_with = money)]
    pub supplier_fee: Option<f64>,
    #[schema(schema_with = money)]
    pub total_amount: Option<f64>,
    pub currency: String,
    pub bank_name: Option<String>,
    pub bank_ref: Option<String>,
    pub customer_sync_code: Option<String>,
    #[schema(schema_with = string_or_integer)]
    pub customer_code: Option<String>,
    #[schema(schema_with = string_or_integer)]
    pub identity_code: Option<String>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub paid_by: Option<String>,
    /// `2024-02-29 10:46:33`, optionally with `Z` or `+07:00`.
    pub paid_date: Option<String>,
    pub description: Option<String>,
    pub checkout_ref: Option<String>,
    pub status: Option<String>,
    pub bills: Option<Vec<WebhookBillRef>>,
}

/// A bill named by an older-generation notification.
#[derive(Serialize, ToSchema)]
pub struct WebhookBillRef {
    #[schema(schema_with = string_or_integer)]
    pub id: Option<String>,
    pub sync_code: Option<String>,
}
