//! The dialect's OpenAPI 3.1 document ([`document`]), served at `/openapi.json` with a page at
//! `/docs` and committed as `docs/openapi/postpaid.json` (the test `tests/openapi.rs` fails when
//! they differ).
//!
//! The responses are the wire types of [`crate::wire`] (deriving `ToSchema`, no field beyond
//! those listed); the result codes come from [`crate::codes`]. The requests, read leniently from
//! JSON, are described by the schema-only types below. The paths are the `#[utoipa::path]`
//! attributes on the handlers in [`crate::routes`]; the partner's sandbox paths are copies of
//! the main ones ([`SANDBOX_PATHS`]). Every answer but a 413 carries the `UID` and `U` headers.

use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::codes::ResultCode;
use crate::wire::{
    ErrorResponse, FrontItem, InvoiceItem, InvoicesResponse, KeyValue, ParametersResponse,
    PingResponse, ResultItem, TransactionResponse,
};

/// The gateway's document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The partner's sandbox paths, each serving the same operation as a main path:
/// `(sandbox path, main path)`.
pub const SANDBOX_PATHS: [(&str, &str); 3] = [
    (
        "/bill-payment/parameters/{terminalId}/{operatorId}",
        "/post-paid/bill-payment/parameters/{terminalId}/{operatorId}",
    ),
    (
        "/bill-payment/invoices/{terminalId}/{operatorId}",
        "/post-paid/bill-payment/get-invoices/{terminalId}/{operatorId}",
    ),
    (
        "/bill-payment/payment/{terminalId}/{operatorId}/{localReference}",
        "/post-paid/bill-payment/payment/{terminalId}/{operatorId}/{localReference}",
    ),
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "billhub postpaid-gateway: CSQ eVSB-style postpaid bill payment",
        version = "1",
        description = "Payment terminals in shops (an agent network, a billhub channel) pay the bills of \
the billers (`operatorId`: the organization's numeric id) the network is enrolled with: Get Parameters, \
Get Invoices (issues a single-use `transaction_code`), Payment; a payment can be reverted and looked up. \
Amounts are integers in hundredths of the major unit (`...X100`, at most an int32). `rc` is 0 for success \
and -1 for a refusal, whose detail is `resultcode`. Every business and validation answer is HTTP 200, \
including a path no route knows and a known path with another method (`\"900\"`, `ErrorResponse`), a \
timeout and an internal failure (`\"991\"`); only authentication (401), `Accept` (406) and a body over \
the size limit (413) use HTTP statuses, with the same `ErrorResponse` body. Every answer of the dialect (not a 413) carries the \
`UID` header (the request id) and echoes `U`. See docs/dialects/postpaid.md."
    ),
    paths(
        crate::routes::parameters,
        crate::routes::get_invoices,
        crate::routes::payment,
        crate::routes::revert,
        crate::routes::transaction_info,
        crate::routes::ping,
        crate::routes::ping_echo
    ),
    components(schemas(
        KeyValue,
        FrontItem,
        ParametersResponse,
        InvoiceItem,
        InvoicesResponse,
        ResultItem,
        TransactionResponse,
        ErrorResponse,
        PingResponse,
        ParametersAnswer,
        InvoicesAnswer,
        TransactionAnswer,
        PingAnswer,
        KeyValueSent,
        PaymentBody,
        RevertBody
    )),
    modifiers(&Csq, &SandboxPaths, &AnswerHeaders),
    tags((name = "Postpaid", description = "CSQ eVSB postpaid bill payment for terminals."))
)]
struct ApiDoc;

/// The `U`, `ST` and `SH` header schemes (all three together).
struct Csq;

impl Modify for Csq {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, description) in [
            ("U", "The network's username."),
            (
                "ST",
                "The Unix time in seconds, as text; at most 30 seconds from the server's clock.",
            ),
            (
                "SH",
                "sha256hex(sha256hex(password) + sha256hex(ST)), lowercase hex. Covers neither the path \
                 nor the body: a (U, ST, SH) may be used again within its window except on reverts \
                 (every route with the channel setting csq.single_use_salts=all).",
            ),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    name,
                    description,
                ))),
            );
        }
    }
}

/// The sandbox paths as copies of the main ones, with their own operation ids.
struct SandboxPaths;

impl Modify for SandboxPaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (alias, main) in SANDBOX_PATHS {
            let Some(mut item) = openapi.paths.paths.get(main).cloned() else {
                continue;
            };
            for op in operations(&mut item) {
                op.operation_id = op.operation_id.take().map(|id| format!("{id}_sandbox"));
                op.summary = op
                    .summary
                    .take()
                    .map(|s| format!("{s} (the partner's sandbox path)"));
            }
            openapi.paths.paths.insert(alias.to_string(), item);
        }
    }
}

/// The operations of a path item.
fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.put.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// `UID` and `U` on every answer.
struct AnswerHeaders;

impl Modify for AnswerHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let string = || ObjectBuilder::new().schema_type(Type::String).build();
        for item in openapi.paths.paths.values_mut() {
            for op in operations(item) {
                for (status, response) in &mut op.responses.responses {
                    // A body over the limit is refused by the plumbing, before the dialect.
                    if status == "413" {
                        continue;
                    }
                    if let RefOr::T(response) = response {
                        response.headers.insert(
                            "UID".into(),
                            HeaderBuilder::new()
                                .schema(Some(string()))
                                .description(Some("The request id (the same as `X-Request-Id`)."))
                                .build()
                                .into(),
                        );
                        response.headers.insert(
                            "U".into(),
                            HeaderBuilder::new()
                                .schema(Some(string()))
                                .description(Some("The request's `U`, echoed when sent."))
                                .build()
                                .into(),
                        );
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field schemas

/// The largest X100 amount.
const MAX_X100: i64 = i32::MAX as i64;

/// An amount in hundredths of the major unit.
pub fn x100() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
        .minimum(Some(0))
        .maximum(Some(MAX_X100))
        .description(Some(
            "Hundredths of the major unit (`6500` = EUR 65.00), a whole number of at most an int32.",
        ))
        .build()
}

/// An amount a request may send: X100 as a JSON number (`12500`, `12500.0`, `1.25E4` when
/// whole), `0` or `null` for "not informed".
fn x100_sent() -> Object {
    ObjectBuilder::new()
        .schema_type([Type::Number, Type::Null].into_iter().collect::<SchemaType>())
        .minimum(Some(0))
        .maximum(Some(MAX_X100))
        .description(Some(
            "Hundredths of the major unit, service fee included; a whole number (`1.0E7` and \
             `12500.0` are read exactly, a fraction is refused with 900); `0` or `null`: not informed.",
        ))
        .build()
}

/// `rc`: 0 or -1.
pub fn rc() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some([0, -1]))
        .description(Some(
            "0: success; -1: refused (the detail is `resultcode`).",
        ))
        .build()
}

/// `rc` of a success.
pub fn rc_ok() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some([0]))
        .build()
}

/// `rc` of a refusal.
pub fn rc_refused() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some([-1]))
        .build()
}

/// A result code, as a string.
pub fn resultcode() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(ResultCode::ALL.map(ResultCode::as_string)))
        .description(Some(
            "10 payment accepted, 11 rejected, 12 duplicate, 20 revert accepted, 900 invalid \
             parameters, 927 wrong amount, 991 system error.",
        ))
        .build()
}

/// `finalstatus`: the result code as a number, or -1 on a refusal.
pub fn finalstatus() -> Object {
    let mut values: Vec<i64> = vec![crate::codes::REFUSED_FINAL_STATUS];
    values.extend([ResultCode::Ok.number(), ResultCode::RevertOk.number()]);
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(values))
        .description(Some(
            "10: paid; 20: reverted; -1: refused (the code is in `resultcode`).",
        ))
        .build()
}

/// `paymentType` / `type`.
pub fn payment_type() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["TOTAL", "DISCRETE", "OPEN"]))
        .description(Some("The organization's settlement mode."))
        .build()
}

/// A field's type on the terminal.
pub fn front_type() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["INPUT", "SELECT"]))
        .build()
}

/// `yyyy-MM-dd`.
pub fn date() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .build()
}

/// `yyyy-MM-dd` or null.
pub fn nullable_date() -> Object {
    ObjectBuilder::new()
        .schema_type(
            [Type::String, Type::Null]
                .into_iter()
                .collect::<SchemaType>(),
        )
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .description(Some(
            "The due date, else the local date of the validity limit; `null` without either.",
        ))
        .build()
}

/// A `{"key", "value"}` value a request may send: a string or a number.
fn string_or_number() -> Object {
    ObjectBuilder::new()
        .schema_type(
            [Type::String, Type::Number]
                .into_iter()
                .collect::<SchemaType>(),
        )
        .build()
}

/// A reference a request may send as a number or as text (at most 9 digits).
fn reference() -> Object {
    ObjectBuilder::new()
        .schema_type(
            [Type::Integer, Type::String]
                .into_iter()
                .collect::<SchemaType>(),
        )
        .description(Some("A whole number of at most 9 digits."))
        .build()
}

// ---------------------------------------------------------------------------------------------
// Schema-only types

/// HTTP 200 of Get Parameters: the fields, or a refusal. With a `Cache-Hash` equal to the
/// fields' checksum the body is empty.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
// A schema only (never built): its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ParametersAnswer {
    Fields(ParametersResponse),
    Refused(ErrorResponse),
}

/// HTTP 200 of Get Invoices: the invoices and a `transaction_code`, or a refusal.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
// A schema only (never built): its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum InvoicesAnswer {
    Invoices(InvoicesResponse),
    Refused(ErrorResponse),
}

/// HTTP 200 of Payment, Revert and Transaction info: the transaction's result (transaction
/// info of a reverted payment: `rc -1` with `resultcode "20"`), or a refusal.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
// A schema only (never built): its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum TransactionAnswer {
    Result(TransactionResponse),
    Refused(ErrorResponse),
}

/// HTTP 200 of Ping: the pong, or a refusal when billhub fails.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
// A schema only (never built): its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum PingAnswer {
    Pong(PingResponse),
    Refused(ErrorResponse),
}

/// The body of Payment: the amount (`amountToSendX100` **or** `destinationAmountX100`, both
/// the amount collected, service fee included), the terminal's `localDateTime`, and every
/// `pay` field with the `transaction_code` in `additionalData`.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct PaymentBody {
    #[schema(schema_with = x100_sent)]
    pub amountToSendX100: Option<i64>,
    #[schema(schema_with = x100_sent)]
    pub destinationAmountX100: Option<i64>,
    /// ISO 8601: `2025-07-03T11:00:00Z`, `2025-07-03T18:00:00+07:00`, `2025-07-03T18:00:00`.
    pub localDateTime: String,
    pub beneficiaryPhoneNumber: Option<String>,
    /// Every `pay` field of Get Parameters and `transaction_code`; other keys are ignored.
    pub additionalData: Vec<KeyValueSent>,
    /// DISCRETE only (required there): the invoices paid.
    pub invoiceNumbers: Option<Vec<String>>,
}

/// A `{"key", "value"}` pair a request sends (the value a string or a number).
#[derive(Serialize, ToSchema)]
pub struct KeyValueSent {
    pub key: String,
    #[schema(schema_with = string_or_number)]
    pub value: String,
}

/// The body of Revert.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct RevertBody {
    /// The original payment's amount, fee included.
    #[schema(schema_with = x100_sent)]
    pub amountToSendX100: Option<i64>,
    /// ISO 8601.
    pub localDateTime: String,
    /// The original payment's account.
    pub account: String,
    /// The original payment's `localReference`.
    #[schema(schema_with = reference)]
    pub originalLocalReference: String,
    /// The local date of the original's `localDateTime`, `yyyy-MM-dd`.
    #[schema(schema_with = date)]
    pub originalLocalDate: String,
}
