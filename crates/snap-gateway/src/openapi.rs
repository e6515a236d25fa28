//! The dialect's OpenAPI 3.1 document ([`document`]), served at `/openapi.json` with a page at
//! `/docs` and committed as `docs/openapi/snap.json` (the test `tests/openapi.rs` fails when they
//! differ).
//!
//! The answers are the wire types of [`crate::wire`]; requests are read leniently from JSON and
//! described by the schema-only types below; refusals are [`ErrorEnvelope`] (with the echoed
//! `virtualAccountData` of a refused inquiry or payment). The paths are the `#[utoipa::path]`
//! attributes on the handlers in [`crate::routes`].

use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::wire::{Amount, BillDetail, InquiryData, PaymentData, Reason};

/// The gateway's document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "billhub snap-gateway: SNAP (Standar Nasional Open API Pembayaran) virtual accounts",
        version = "1",
        description = "Any Indonesian bank finds and pays billhub's VA bills through Bank Indonesia's SNAP \
standard: a B2B access token (SHA256withRSA over `clientId|X-TIMESTAMP` with the bank's registered key), then \
inquiry, payment and status, each signed with HMAC-SHA512 over `METHOD:PATH:token:sha256(minified body):X-TIMESTAMP`. \
`responseCode` is the HTTP status (3 digits), the service (73 token, 24 inquiry, 25 payment, 26 status, 00 no route) \
and the case (2); the HTTP status is always its first three digits. Amounts are `{value: \"100000.00\", currency: \"IDR\"}`. \
See docs/dialects/snap.md."
    ),
    paths(
        crate::routes::token,
        crate::routes::inquiry,
        crate::routes::payment,
        crate::routes::status
    ),
    components(schemas(
        Amount,
        Reason,
        BillDetail,
        InquiryData,
        PaymentData,
        TokenBody,
        TokenAnswer,
        InquiryBody,
        PaymentBody,
        StatusBody,
        InquiryAnswer,
        PaymentAnswer,
        ErrorEnvelope
    )),
    modifiers(&Snap),
    tags((name = "SNAP", description = "SNAP virtual accounts (transfer-va)."))
)]
struct ApiDoc;

/// The security schemes: the token request's RSA signature, the transactions' bearer token and
/// HMAC signature headers.
struct Snap;

impl Modify for Snap {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The accessToken of POST /v1.0/access-token/b2b (900 seconds).",
                    ))
                    .build(),
            ),
        );
        for (name, description) in [
            (
                "X-CLIENT-KEY",
                "The bank's client id (printed by `billhub channel create --dialect snap`).",
            ),
            (
                "X-SIGNATURE",
                "Token: base64(SHA256withRSA(private key, clientId|X-TIMESTAMP)). Transactions: \
                 base64(HMAC-SHA512(client secret, METHOD:PATH:accessToken:lowercase(hex(sha256(minified \
                 body))):X-TIMESTAMP)).",
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

/// `{"grantType": "client_credentials"}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenBody {
    #[schema(example = "client_credentials")]
    pub grant_type: String,
}

/// The token answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenAnswer {
    #[schema(example = "2007300")]
    pub response_code: String,
    #[schema(example = "Successful")]
    pub response_message: String,
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    #[schema(example = "900")]
    pub expires_in: String,
    #[schema(value_type = Object)]
    pub additional_info: serde_json::Value,
}

/// The VA a request names: `virtualAccountNo` = `partnerServiceId` + `customerNo`, as sent.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InquiryBody {
    /// Up to 8 characters, left-padded with spaces; mapped to a VA prefix by the channel setting
    /// `snap.partner_service_id.<prefix>`.
    #[schema(max_length = 8, example = "  888801")]
    pub partner_service_id: String,
    /// Digits; billhub's VA numbers have 10 after the prefix.
    #[schema(max_length = 20, example = "0000000001")]
    pub customer_no: String,
    #[schema(max_length = 28, example = "  8888010000000001")]
    pub virtual_account_no: String,
    #[schema(max_length = 128)]
    pub inquiry_request_id: String,
}

/// A payment (`paymentRequestId` is its idempotency key per bank).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentBody {
    #[schema(max_length = 8)]
    pub partner_service_id: String,
    #[schema(max_length = 20)]
    pub customer_no: String,
    #[schema(max_length = 28)]
    pub virtual_account_no: String,
    #[schema(max_length = 128)]
    pub payment_request_id: String,
    pub paid_amount: Amount,
    /// `yyyy-MM-ddTHH:mm:ssTZD`; the payment's time (default: when it arrives).
    pub trx_date_time: Option<String>,
    #[schema(max_length = 64)]
    pub reference_no: Option<String>,
    /// `Y`: an advice (the bank has booked it): money that cannot be applied is kept as
    /// unapplied and acknowledged. `N` (default): refused.
    #[schema(pattern = "^[YN]$")]
    pub flag_advise: Option<String>,
    pub virtual_account_name: Option<String>,
    pub channel_code: Option<String>,
    pub source_bank_code: Option<String>,
}

/// A status request.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusBody {
    #[schema(max_length = 8)]
    pub partner_service_id: String,
    #[schema(max_length = 20)]
    pub customer_no: String,
    #[schema(max_length = 28)]
    pub virtual_account_no: String,
    pub inquiry_request_id: Option<String>,
    #[schema(max_length = 128)]
    pub payment_request_id: String,
}

/// A successful inquiry.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InquiryAnswer {
    #[schema(example = "2002400")]
    pub response_code: String,
    #[schema(example = "Successful")]
    pub response_message: String,
    pub virtual_account_data: InquiryData,
}

/// A successful payment or status answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentAnswer {
    #[schema(example = "2002500")]
    pub response_code: String,
    #[schema(example = "Successful")]
    pub response_message: String,
    pub virtual_account_data: PaymentData,
}

/// Every refusal: the code and message, and for a refused inquiry or payment the echoed ids
/// with `inquiryStatus` / `paymentFlagStatus` `01` and the reason.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    #[schema(pattern = "^[0-9]{7}$", example = "4042412")]
    pub response_code: String,
    pub response_message: String,
    #[schema(value_type = Option<Object>)]
    pub virtual_account_data: Option<serde_json::Value>,
}
