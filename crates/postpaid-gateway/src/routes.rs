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
use crate::requests::{self, InfoRequest, InvoicesRequest, PayRequest, RevertRequest};
use crate::wire::{FrontItem, ParametersResponse, PingResponse};

type State = web::Data<AppState>;

/// `GET /post-paid/bill-payment/parameters/{terminalId}/{operatorId}`
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
pub async fn ping(state: State, req: HttpRequest) -> Result<HttpResponse, PostpaidError> {
    ping_answer(&state, &req, "pong".into()).await
}

/// `GET /ping/{echo}`: answers the echo.
pub async fn ping_echo(
    state: State,
    req: HttpRequest,
    echo: web::Path<String>,
) -> Result<HttpResponse, PostpaidError> {
    ping_answer(&state, &req, echo.into_inner()).await
}
