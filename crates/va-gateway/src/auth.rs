//! IPG authentication.
//!
//! - `POST /oauth/token` (OAuth2 client credentials, Laravel Passport's bare answer) issues a
//!   bearer token for a `va` credential: a biller's (`billhub credential create --dialect va`)
//!   or a bank's (`billhub channel create --dialect va`). Tokens expire after
//!   [`TOKEN_TTL_SECONDS`] and are stored as hashes.
//! - Every other call carries `Authorization: Bearer <token>` and `Signature`: lowercase hex
//!   HMAC-SHA256 with the credential's API key over the raw body bytes exactly as received, or
//!   over the raw query string when the body is empty (core's `signature::ipg`). The body is
//!   read as bytes and never re-serialized before the check.
//! - A biller credential reaches only `/api/v2/gw/*`, a bank credential only `/api/v2/ch/*`.
//! - Tokens, API keys and organizations come through the store's cache (at most 5 s old on the
//!   app clock), so a warm request costs no transaction to authenticate; a revoked credential or
//!   disabled channel is refused within 5 s.

use actix_web::HttpRequest;
use billhub_core::org::Organization;
use billhub_core::signature::ipg;
use billhub_http::AppState;
use billhub_store::{CredentialInfo, Principal, Store};
use time::OffsetDateTime;

use crate::codes::Rc;
use crate::error::VaError;
use crate::wire::DEFAULT_OFFSET;

/// The dialect's name on its credentials.
pub const DIALECT: &str = "va";

/// Lifetime of an access token.
pub const TOKEN_TTL_SECONDS: i64 = 3600;

/// A biller calling `/api/v2/gw/*`.
#[derive(Debug, Clone)]
pub struct Biller {
    pub credential_id: i64,
    pub org: Organization,
}

/// A bank calling `/api/v2/ch/*`.
#[derive(Debug, Clone)]
pub struct Bank {
    pub credential_id: i64,
    pub channel_id: i64,
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = header(req, "Authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// What a request presents to be authenticated: its bearer token and `Signature`, and the
/// bytes the signature covers.
struct Presented {
    token: String,
    signature: String,
    body: actix_web::web::Bytes,
    query: String,
}

/// Reads the bearer token and the `Signature` header.
fn presented(req: &HttpRequest, body: &actix_web::web::Bytes) -> Result<Presented, VaError> {
    let token = bearer(req)
        .ok_or_else(|| VaError::with(Rc::Unauthorized, "Missing bearer access token."))?;
    let signature = header(req, "Signature")
        .ok_or_else(|| VaError::with(Rc::Unauthorized, "Missing Signature header."))?;
    Ok(Presented {
        token,
        signature,
        body: body.clone(),
        query: req.query_string().to_string(),
    })
}

/// Checks the bearer token and the signature of a request; returns the credential. The token
/// and the API key come through the store's cache (no transaction when warm).
fn authenticate(
    store: &Store,
    p: &Presented,
    now: OffsetDateTime,
) -> Result<CredentialInfo, VaError> {
    let invalid = || {
        VaError::with(
            Rc::Unauthorized,
            "The access token is invalid or has expired.",
        )
    };
    let cred = store
        .cached_access_token(&p.token, now)?
        .filter(|c| c.dialect == DIALECT)
        .ok_or_else(invalid)?;
    let api_key = store.cached_secret(cred.id, now)?;
    if !ipg::verify(&api_key, &p.body, &p.query, &p.signature) {
        return Err(VaError::with(Rc::Unauthorized, "Invalid signature."));
    }
    Ok(cred)
}

/// A biller's credential with its organization (from the cache).
fn authenticate_biller(
    store: &Store,
    p: &Presented,
    now: OffsetDateTime,
) -> Result<Biller, VaError> {
    let cred = authenticate(store, p, now)?;
    let Principal::Biller { organization_id } = cred.principal else {
        return Err(VaError::with(
            Rc::Forbidden,
            "A bank credential cannot call the biller API.",
        ));
    };
    Ok(Biller {
        credential_id: cred.id,
        org: store
            .cached_organization(organization_id, now)?
            .organization
            .clone(),
    })
}

/// A bank's credential.
fn authenticate_bank(store: &Store, p: &Presented, now: OffsetDateTime) -> Result<Bank, VaError> {
    let cred = authenticate(store, p, now)?;
    let Principal::Channel { channel_id } = cred.principal else {
        return Err(VaError::with(
            Rc::Forbidden,
            "A biller credential cannot call the channel API.",
        ));
    };
    Ok(Bank {
        credential_id: cred.id,
        channel_id,
    })
}

/// Authenticates a biller (`/api/v2/gw/*`); a refusal is stamped in WIB.
pub async fn biller(
    state: &AppState,
    req: &HttpRequest,
    body: &actix_web::web::Bytes,
) -> Result<Biller, VaError> {
    let now = state.now();
    let stamp = |e: VaError| e.at(now, DEFAULT_OFFSET);
    let p = presented(req, body).map_err(stamp)?;
    state
        .flow(move |s| authenticate_biller(s, &p, now))
        .await
        .map_err(stamp)
}

/// Authenticates a bank (`/api/v2/ch/*`); a refusal is stamped in WIB.
pub async fn bank(
    state: &AppState,
    req: &HttpRequest,
    body: &actix_web::web::Bytes,
) -> Result<Bank, VaError> {
    let now = state.now();
    let stamp = |e: VaError| e.at(now, DEFAULT_OFFSET);
    let p = presented(req, body).map_err(stamp)?;
    state
        .flow(move |s| authenticate_bank(s, &p, now))
        .await
        .map_err(stamp)
}
