//! Bill24's auth: a static `token` header, the organization's Bill24 credential (stored as a
//! SHA-256 hash, compared in constant time by the store). The token selects the organization.
//! A token is checked through the store's authentication cache (`cached_token`): with a warm
//! cache it costs no transaction.
//!
//! The webhook also accepts a call without the token from an address listed in an organization's
//! `bill24.webhook_allow_ips` (Bill24's docs show no token on the webhook); the address then
//! selects the organization, and an address listed by several organizations is refused (send the
//! token). The address is the TCP peer's, or behind a proxy listed in `BILLHUB_TRUSTED_PROXIES`
//! the client its `X-Forwarded-For` names (billhub-http's `middleware::client_ip`). A token
//! that is sent is always checked, allow-listed or not. The allow list is read
//! inside the webhook flow's one transaction ([`organization_of`]), never cached.

use std::net::IpAddr;

use actix_web::HttpRequest;
use billhub_http::AppState;
use billhub_store::{Principal, Reader};

use crate::error::Bill24Error;

/// The header Bill24 sends the biller token in.
pub const TOKEN_HEADER: &str = "token";

/// Why a call is not authenticated (HTTP 401; the message names no organization).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("The token header is missing.")]
    Missing,
    #[error("The token is not valid.")]
    Invalid,
    #[error(
        "The token header is missing and the caller's address is allowed by several organizations; send the token header."
    )]
    Ambiguous,
}

/// Who a webhook call speaks for, as far as the handler can tell without a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookCaller {
    /// The organization of a valid token.
    Organization(i64),
    /// No token: the organization that allow-lists this address, decided inside the flow.
    Address(IpAddr),
}

/// The `token` header: `None` when absent or blank; a value that is not text is kept as an
/// invalid token (never matches).
pub fn token(req: &HttpRequest) -> Option<String> {
    let v = req.headers().get(TOKEN_HEADER)?;
    match v.to_str() {
        Ok(s) if s.trim().is_empty() => None,
        Ok(s) => Some(s.trim().to_string()),
        Err(_) => Some(String::from("\u{0}")),
    }
}

/// The organization of a Bill24 token, through the cache (a store failure is billhub's, HTTP
/// 500).
pub async fn organization_by_token(
    state: &AppState,
    token: Option<String>,
) -> Result<i64, Bill24Error> {
    let Some(token) = token else {
        return Err(AuthError::Missing.into());
    };
    let now = state.now();
    let cred = state
        .inline_flow(move |s| s.cached_token("bill24", &token, now))
        .await?;
    match cred.map(|c| c.principal) {
        Some(Principal::Biller { organization_id }) => Ok(organization_id),
        _ => Err(AuthError::Invalid.into()),
    }
}

/// A webhook call's caller: the token's organization (through the cache), else the caller's
/// address: the TCP peer, or the client a trusted proxy names in `X-Forwarded-For` (refused
/// when it cannot be told).
pub async fn webhook_caller(
    state: &AppState,
    req: &HttpRequest,
) -> Result<WebhookCaller, Bill24Error> {
    let token = token(req);
    if token.is_some() {
        return organization_by_token(state, token)
            .await
            .map(WebhookCaller::Organization);
    }
    // Behind a load balancer listed in `BILLHUB_TRUSTED_PROXIES`, the address it forwards;
    // a forwarded header from anyone else counts for nothing.
    match billhub_http::middleware::client_ip(req, &state.config) {
        Some(ip) => Ok(WebhookCaller::Address(ip)),
        None => Err(AuthError::Missing.into()),
    }
}

/// The organization a webhook caller speaks for, read inside the flow's transaction: the
/// token's, else the one organization that allow-lists the address.
pub fn organization_of(r: &mut Reader<'_>, caller: WebhookCaller) -> Result<i64, Bill24Error> {
    let ip = match caller {
        WebhookCaller::Organization(id) => return Ok(id),
        WebhookCaller::Address(ip) => ip,
    };
    let orgs = r.bill24_organizations_allowing(ip)?;
    match orgs.as_slice() {
        [] => Err(AuthError::Missing.into()),
        [one] => Ok(*one),
        _ => {
            tracing::warn!(caller = %ip, organizations = ?orgs, "bill24 webhook caller allow-listed by several organizations");
            Err(AuthError::Ambiguous.into())
        }
    }
}

/// Refuses a caller that [`organization_of`] would refuse (one snapshot when the caller is an
/// address): a webhook whose body is bad answers 401 before 400, as authentication comes first.
pub async fn confirm(state: &AppState, caller: WebhookCaller) -> Result<(), Bill24Error> {
    if let WebhookCaller::Address(_) = caller {
        state
            .flow(move |s| s.snapshot(|r| organization_of(r, caller)))
            .await?;
    }
    Ok(())
}
