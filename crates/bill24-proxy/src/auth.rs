//! Bill24's auth: a static `token` header, the organization's Bill24 credential (stored as a
//! SHA-256 hash, compared in constant time by the store). The token selects the organization.
//!
//! The webhook also accepts a call without the token from an address listed in an organization's
//! `bill24.webhook_allow_ips` (Bill24's docs show no token on the webhook); the address then
//! selects the organization, and an address listed by several organizations is refused (send the
//! token). A token that is sent is always checked, allow-listed or not.

use actix_web::HttpRequest;
use billhub_http::AppState;
use billhub_store::Principal;

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

/// The organization of a Bill24 token (a store failure is billhub's, HTTP 500).
pub async fn organization_by_token(
    state: &AppState,
    token: Option<String>,
) -> Result<i64, Bill24Error> {
    let Some(token) = token else {
        return Err(AuthError::Missing.into());
    };
    let cred = state
        .run(move |s| s.authenticate_token("bill24", &token))
        .await?;
    match cred.map(|c| c.principal) {
        Some(Principal::Biller { organization_id }) => Ok(organization_id),
        _ => Err(AuthError::Invalid.into()),
    }
}

/// The organization a webhook call speaks for: the token's, else the one organization that
/// allow-lists the caller's address.
pub async fn webhook_organization(state: &AppState, req: &HttpRequest) -> Result<i64, Bill24Error> {
    let token = token(req);
    if token.is_some() {
        return organization_by_token(state, token).await;
    }
    let Some(ip) = req.peer_addr().map(|a| a.ip()) else {
        return Err(AuthError::Missing.into());
    };
    let orgs = state
        .run(move |s| s.bill24_organizations_allowing(ip))
        .await?;
    match orgs.as_slice() {
        [] => Err(AuthError::Missing.into()),
        [one] => {
            tracing::info!(organization_id = *one, caller = %ip, "bill24 webhook accepted from an allow-listed address");
            Ok(*one)
        }
        _ => {
            tracing::warn!(caller = %ip, organizations = ?orgs, "bill24 webhook caller allow-listed by several organizations");
            Err(AuthError::Ambiguous.into())
        }
    }
}
