//! The handlers, thin: authenticate, read the request ([`crate::requests`]), run one flow
//! ([`crate::flows`], one store transaction) on the blocking pool, render. Authentication is
//! served from the store's cache. Every refusal is a [`PostpaidError`], which
//! renders the dialect's body itself.

use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, web};
use billhub_core::postpaid::TerminalFields;
use billhub_http::AppState;

use crate::auth;
use crate::codes::PostpaidError;
use crate::flows;
use crate::openapi::{
    InvoicesAnswer, KeyValueSent, ParametersAnswer, PaymentBody, PingAnswer, RevertBody,
    TransactionAnswer,
};
use crate::requests::{self, InfoRequest, InvoicesRequest, PayRequest, RevertRequest};
use crate::wire::{ErrorResponse, FrontItem, ParametersResponse, PingResponse};

type State = web::Data<AppState>;

/// `GET /post-paid/bill-payment/parameters/{terminalId}/{operatorId}`
#[utoipa::path(
    get,
    path = "/post-paid/bill-payment/parameters/{terminalId}/{operatorId}",
    operation_id = "get_parameters",
    tag = "Postpaid",
    summary = "Get Parameters: the fields the terminal asks for",
    params(("terminalId" = i32, Path, description = "The shop's terminal: any int32 the network chooses."), ("operatorId" = i32, Path, description = "The biller: the organization's numeric id (an organization the network is not enrolled with is an unknown operator, 900)."), ("Accept" = Option<String>, Header, nullable = false, description = "`application/json`, `*/*`, `application/*` or absent; anything else is 406."), ("Cache-Hash" = Option<String>, Header, description = "The `New-Cache-Hash` of an earlier answer: when the fields are unchanged the body is empty.")),
    security(("U" = [], "ST" = [], "SH" = [])),
    responses(
        (status = 200, description = "The fields (with `New-Cache-Hash`, the SHA-256 of the body; an empty body when `Cache-Hash` equals it), or a refusal (`rc -1`).", body = ParametersAnswer, headers(("New-Cache-Hash" = String, description = "SHA-256 hex of the fields' body (absent on a refusal)."))),
        (status = 401, description = "A missing header, an unknown `U`, a wrong `SH` or an `ST` more than 30 seconds off (a reused signature on a single-use route): code 900.", body = ErrorResponse),
        (status = 406, description = "An `Accept` the dialect cannot answer (`application/encrypt` is not offered): code 900.", body = ErrorResponse),
    )
)]
pub async fn parameters(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PostpaidError> {
    let network = auth::authenticate(&state, &req).await?;
    let operator_id = requests::parameters(&path)?;
    let now = state.now();
    let fields = state
        .flow(move |s| flows::parameters(s, &network, operator_id, now))
        .await?;
    render_parameters(&req, &fields)
}

/// The fields as Get Parameters spells them, with `New-Cache-Hash`; a request whose
/// `Cache-Hash` is the terminal's last checksum and still right gets an empty body.
fn render_parameters(
    req: &HttpRequest,
    fields: &TerminalFields,
) -> Result<HttpResponse, PostpaidError> {
    let names = |names: Vec<&str>| names.into_iter().map(String::from).collect();
    let body = ParametersResponse {
        rc: 0,
        message: "OK".into(),
        front: fields
            .fields()
            .iter()
            .map(|f| FrontItem {
                name: f.name.clone(),
                label: f.label.clone(),
                kind: f.kind.as_str().into(),
                min_length: f.min_length,
                max_length: f.max_length,
                list: f.options.clone(),
            })
            .collect(),
        query: names(fields.query_names()),
        pay: names(fields.pay_names()),
    };
    let text = serde_json::to_string(&body)
        .map_err(|e| PostpaidError::internal("writing parameters", e))?;
    let hash = billhub_core::signature::sha256_hex(text.as_bytes());
    let unchanged = req
        .headers()
        .get("Cache-Hash")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(&hash));
    let mut resp = HttpResponse::Ok();
    resp.content_type("application/json");
    if let Ok(v) = HeaderValue::from_str(&hash) {
        resp.insert_header(("New-Cache-Hash", v));
    }
    Ok(if unchanged {
        resp.finish()
    } else {
        resp.body(text)
    })
}

/// `POST /post-paid/bill-payment/get-invoices/{terminalId}/{operatorId}`
#[utoipa::path(
    post,
    path = "/post-paid/bill-payment/get-invoices/{terminalId}/{operatorId}",
    operation_id = "get_invoices",
    tag = "Postpaid",
    summary = "Get Invoices: the pending invoices and a transaction code",
    params(("terminalId" = i32, Path, description = "The shop's terminal: any int32 the network chooses."), ("operatorId" = i32, Path, description = "The biller: the organization's numeric id (an organization the network is not enrolled with is an unknown operator, 900)."), ("Accept" = Option<String>, Header, nullable = false, description = "`application/json`, `*/*`, `application/*` or absent; anything else is 406.")),
    request_body(content = Vec<KeyValueSent>, content_type = "application/json"),
    security(("U" = [], "ST" = [], "SH" = [])),
    responses(
        (status = 200, description = "The invoices (a `transaction_code` in `additionalData` when something is payable), or a refusal (`rc -1`: 11 unknown account or mixed currencies, 900 invalid parameters, 991 system error).", body = InvoicesAnswer),
        (status = 401, description = "A missing header, an unknown `U`, a wrong `SH` or an `ST` more than 30 seconds off (a reused signature on a single-use route): code 900.", body = ErrorResponse),
        (status = 406, description = "An `Accept` the dialect cannot answer (`application/encrypt` is not offered): code 900.", body = ErrorResponse),
        (status = 413, description = "The body is over the limit (`BILLHUB_BODY_LIMIT`, 256 KiB by default): code 900.", body = ErrorResponse),    )
)]
pub async fn get_invoices(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PostpaidError> {
    let network = auth::authenticate(&state, &req).await?;
    let request = InvoicesRequest::parse(&path, &body)?;
    let now = state.now();
    let answer = state
        .flow(move |s| flows::get_invoices(s, &network, request, now))
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST /post-paid/bill-payment/payment/{terminalId}/{operatorId}/{localReference}`
#[utoipa::path(
    post,
    path = "/post-paid/bill-payment/payment/{terminalId}/{operatorId}/{localReference}",
    operation_id = "payment",
    tag = "Postpaid",
    summary = "Payment with a transaction code",
    params(("terminalId" = i32, Path, description = "The shop's terminal: any int32 the network chooses."), ("operatorId" = i32, Path, description = "The biller: the organization's numeric id (an organization the network is not enrolled with is an unknown operator, 900)."), ("localReference" = String, Path, description = "The terminal's reference: a whole number of at most 9 digits, unique per terminal and local date.", pattern = "^[0-9]{1,9}$"), ("Accept" = Option<String>, Header, nullable = false, description = "`application/json`, `*/*`, `application/*` or absent; anything else is 406.")),
    request_body(content = PaymentBody, content_type = "application/json"),
    security(("U" = [], "ST" = [], "SH" = [])),
    responses(
        (status = 200, description = "The payment (`rc 0`, `finalstatus 10`; the same request again gets the first answer), or a refusal (`rc -1`: 11 rejected, 12 duplicate reference, 900, 927 wrong amount, 991).", body = TransactionAnswer),
        (status = 401, description = "A missing header, an unknown `U`, a wrong `SH` or an `ST` more than 30 seconds off (a reused signature on a single-use route): code 900.", body = ErrorResponse),
        (status = 406, description = "An `Accept` the dialect cannot answer (`application/encrypt` is not offered): code 900.", body = ErrorResponse),
        (status = 413, description = "The body is over the limit (`BILLHUB_BODY_LIMIT`, 256 KiB by default): code 900.", body = ErrorResponse),    )
)]
pub async fn payment(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PostpaidError> {
    let network = auth::authenticate(&state, &req).await?;
    let now = state.now();
    let request = PayRequest::parse(&path, &body, now);
    let answer = state
        .flow(move |s| flows::pay(s, &network, request, now))
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST /util/revert/{terminalId}/{operatorId}/{localReference}`
#[utoipa::path(
    post,
    path = "/util/revert/{terminalId}/{operatorId}/{localReference}",
    operation_id = "revert",
    tag = "Postpaid",
    summary = "Revert a payment",
    params(("terminalId" = i32, Path, description = "The shop's terminal: any int32 the network chooses."), ("operatorId" = i32, Path, description = "The biller: the organization's numeric id (an organization the network is not enrolled with is an unknown operator, 900)."), ("localReference" = String, Path, description = "The terminal's reference: a whole number of at most 9 digits, unique per terminal and local date.", pattern = "^[0-9]{1,9}$"), ("Accept" = Option<String>, Header, nullable = false, description = "`application/json`, `*/*`, `application/*` or absent; anything else is 406.")),
    request_body(content = RevertBody, content_type = "application/json"),
    security(("U" = [], "ST" = [], "SH" = [])),
    responses(
        (status = 200, description = "The revert (`rc 0`, `finalstatus 20`, the original's `supplierreference`), or a refusal (`rc -1`: 11, 12, 900, 927, 991).", body = TransactionAnswer),
        (status = 401, description = "A missing header, an unknown `U`, a wrong `SH` or an `ST` more than 30 seconds off (a reused signature on a single-use route): code 900.", body = ErrorResponse),
        (status = 406, description = "An `Accept` the dialect cannot answer (`application/encrypt` is not offered): code 900.", body = ErrorResponse),
        (status = 413, description = "The body is over the limit (`BILLHUB_BODY_LIMIT`, 256 KiB by default): code 900.", body = ErrorResponse),    )
)]
pub async fn revert(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PostpaidError> {
    let network = auth::authenticate(&state, &req).await?;
    let now = state.now();
    let request = RevertRequest::parse(&path, &body, now);
    let answer = state
        .flow(move |s| flows::revert(s, &network, request, now))
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `GET /util/transaction/info/{terminalId}/{originalLocalReference}/{creationDate}`
#[utoipa::path(
    get,
    path = "/util/transaction/info/{terminalId}/{originalLocalReference}/{creationDate}",
    operation_id = "transaction_info",
    tag = "Postpaid",
    summary = "Transaction info by the terminal's reference",
    params(("terminalId" = i32, Path, description = "The shop's terminal: any int32 the network chooses."), ("originalLocalReference" = String, Path, description = "The payment's `localReference`.", pattern = "^[0-9]{1,9}$"), ("creationDate" = String, Path, description = "The local date of the payment's `localDateTime`, `yyyyMMdd` or `ddMMyyyy`.", pattern = "^[0-9]{8}$"), ("Accept" = Option<String>, Header, nullable = false, description = "`application/json`, `*/*`, `application/*` or absent; anything else is 406.")),
    security(("U" = [], "ST" = [], "SH" = [])),
    responses(
        (status = 200, description = "The payment as it stands (`rc 0`, `finalstatus 10`; reverted: `rc -1` with `finalstatus 20`, `resultcode \"20\"`), or a refusal (`rc -1`; 900: no such transaction).", body = TransactionAnswer),
        (status = 401, description = "A missing header, an unknown `U`, a wrong `SH` or an `ST` more than 30 seconds off (a reused signature on a single-use route): code 900.", body = ErrorResponse),
        (status = 406, description = "An `Accept` the dialect cannot answer (`application/encrypt` is not offered): code 900.", body = ErrorResponse),
    )
)]
pub async fn transaction_info(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, PostpaidError> {
    let network = auth::authenticate(&state, &req).await?;
    let now = state.now();
    let request = InfoRequest::parse(&path, now)?;
    let answer = state
        .flow(move |s| flows::transaction_info(s, &network, request, now))
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}

async fn ping_answer(
    state: &AppState,
    req: &HttpRequest,
    message: String,
) -> Result<HttpResponse, PostpaidError> {
    if auth::has_credentials(req) {
        let network = auth::authenticate(state, req).await?;
        let now = state.now();
        state.flow(move |s| flows::ping(s, &network, now)).await?;
    }
    Ok(HttpResponse::Ok().json(PingResponse { rc: 0, message }))
}

/// `GET /ping`: no credentials needed; `U`/`ST`/`SH`, when sent, are checked.
#[utoipa::path(
    get,
    path = "/ping",
    operation_id = "ping",
    tag = "Postpaid",
    summary = "Ping (credentials optional, checked when sent)",
    params(("Accept" = Option<String>, Header, nullable = false, description = "`application/json`, `*/*`, `application/*` or absent; anything else is 406.")),
    security((), ("U" = [], "ST" = [], "SH" = [])),
    responses(
        (status = 200, description = "`{\"rc\":0,\"message\":\"pong\"}`; a refusal (`rc -1`, 991) when billhub fails.", body = PingAnswer),
        (status = 401, description = "A missing header, an unknown `U`, a wrong `SH` or an `ST` more than 30 seconds off (a reused signature on a single-use route): code 900.", body = ErrorResponse),
        (status = 406, description = "An `Accept` the dialect cannot answer (`application/encrypt` is not offered): code 900.", body = ErrorResponse),
    )
)]
pub async fn ping(state: State, req: HttpRequest) -> Result<HttpResponse, PostpaidError> {
    ping_answer(&state, &req, "pong".into()).await
}

/// `GET /ping/{echo}`: answers the echo.
#[utoipa::path(
    get,
    path = "/ping/{echo}",
    operation_id = "ping_echo",
    tag = "Postpaid",
    summary = "Ping with an echo (credentials optional, checked when sent)",
    params(("echo" = String, Path, description = "Answered back as `message`."), ("Accept" = Option<String>, Header, nullable = false, description = "`application/json`, `*/*`, `application/*` or absent; anything else is 406.")),
    security((), ("U" = [], "ST" = [], "SH" = [])),
    responses(
        (status = 200, description = "`{\"rc\":0,\"message\":\"<echo>\"}`; a refusal (`rc -1`, 991) when billhub fails.", body = PingAnswer),
        (status = 401, description = "A missing header, an unknown `U`, a wrong `SH` or an `ST` more than 30 seconds off (a reused signature on a single-use route): code 900.", body = ErrorResponse),
        (status = 406, description = "An `Accept` the dialect cannot answer (`application/encrypt` is not offered): code 900.", body = ErrorResponse),
    )
)]
pub async fn ping_echo(
    state: State,
    req: HttpRequest,
    echo: web::Path<String>,
) -> Result<HttpResponse, PostpaidError> {
    ping_answer(&state, &req, echo.into_inner()).await
}
