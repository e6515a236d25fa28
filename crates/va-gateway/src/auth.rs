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
//! - A bank whose channel has `va.auth=passive` may instead send `Signature` alone (IPG's
//!   passive-client scheme, no OAuth): when the request carries no bearer token, or one billhub
//!   does not know (IPG's deprecated `Authorization` header may hold anything), the bank is the
//!   enabled passive channel one of whose active API keys verifies the signature. A valid
//!   bearer token always takes the bearer path, and a request no passive key verifies gets the
//!   bearer path's refusal, so banks on the default `bearer` see no change.
//! - A biller credential reaches only `/api/v2/gw/*`, a bank credential only `/api/v2/ch/*`.
//! - Tokens, API keys and organizations come through the store's cache (at most 5 s old on the
//!   app clock), so a warm request costs no transaction to authenticate; a revoked credential or
//!   disabled channel is refused within 5 s.

use actix_web::HttpRequest;
use billhub_core::channel_settings::VaAuth;
use billhub_core::org::Organization;
use billhub_core::signature::ipg;
use billhub_http::AppState;
use billhub_store::{CredentialInfo, CredentialStatus, Principal, Reader, Store, StoreError};
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
    token: Option<String>,
    signature: Option<String>,
    body: actix_web::web::Bytes,
    query: String,
}

fn missing_token() -> VaError {
    VaError::with(Rc::Unauthorized, "Missing bearer access token.")
}

fn missing_signature() -> VaError {
    VaError::with(Rc::Unauthorized, "Missing Signature header.")
}

fn invalid_token() -> VaError {
    VaError::with(
        Rc::Unauthorized,
        "The access token is invalid or has expired.",
    )
}

/// Reads the bearer token and the `Signature` header (either may be missing: see
/// [`authenticate`] and [`authenticate_bank`]).
fn presented(req: &HttpRequest, body: &actix_web::web::Bytes) -> Presented {
    Presented {
        token: bearer(req),
        signature: header(req, "Signature"),
        body: body.clone(),
        query: req.query_string().to_string(),
    }
}

/// The bearer token's credential (through the store's cache), if it is a known `va` one.
fn token_credential(
    store: &Store,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<CredentialInfo>, VaError> {
    Ok(store
        .cached_access_token(token, now)?
        .filter(|c| c.dialect == DIALECT))
}

/// Checks the signature of a request with the API key of `cred` (from the cache).
fn check_signature(
    store: &Store,
    cred: CredentialInfo,
    p: &Presented,
    now: OffsetDateTime,
) -> Result<CredentialInfo, VaError> {
    let signature = p.signature.as_deref().ok_or_else(missing_signature)?;
    let api_key = store.cached_secret(cred.id, now)?;
    if !ipg::verify(&api_key, &p.body, &p.query, signature) {
        return Err(VaError::with(Rc::Unauthorized, "Invalid signature."));
    }
    Ok(cred)
}

/// Checks the bearer token and the signature of a request; returns the credential. The token
/// and the API key come through the store's cache (no transaction when warm).
fn authenticate(
    store: &Store,
    p: &Presented,
    now: OffsetDateTime,
) -> Result<CredentialInfo, VaError> {
    let token = p.token.as_deref().ok_or_else(missing_token)?;
    p.signature.as_deref().ok_or_else(missing_signature)?;
    let cred = token_credential(store, token, now)?.ok_or_else(invalid_token)?;
    check_signature(store, cred, p, now)
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

/// A bank's credential: by its bearer token and signature, or, without a token billhub knows,
/// by the signature alone when a passive channel's key verifies it ([`passive_bank`]).
fn authenticate_bank(store: &Store, p: &Presented, now: OffsetDateTime) -> Result<Bank, VaError> {
    let known = match p.token.as_deref() {
        Some(token) => token_credential(store, token, now)?,
        None => None,
    };
    let cred = match known {
        Some(cred) => check_signature(store, cred, p, now)?,
        None => {
            let signature = p.signature.as_deref();
            let refusal = match (&p.token, signature) {
                (None, _) => missing_token(),
                (Some(_), None) => missing_signature(),
                (Some(_), Some(_)) => invalid_token(),
            };
            let Some(signature) = signature else {
                return Err(refusal);
            };
            return passive_bank(store, p, signature)?.ok_or(refusal);
        }
    };
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

/// The API keys a passive bank may sign with: of every active credential of every enabled `va`
/// channel set to `va.auth=passive` (read in one snapshot, so a change is seen at once).
fn passive_keys(r: &mut Reader<'_>) -> Result<Vec<(Bank, String)>, StoreError> {
    let mut keys = Vec::new();
    for channel in r.channel_listings()? {
        if channel.dialect != DIALECT || channel.disabled_at.is_some() {
            continue;
        }
        if r.channel_settings(channel.id)?.va_auth != VaAuth::Passive {
            continue;
        }
        let owner = Principal::Channel {
            channel_id: channel.id,
        };
        for cred in r.credential_listings(&owner)? {
            if cred.status != CredentialStatus::Active || cred.dialect != DIALECT {
                continue;
            }
            match r.credential_secret(cred.id) {
                Ok(key) => keys.push((
                    Bank {
                        credential_id: cred.id,
                        channel_id: channel.id,
                    },
                    key,
                )),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(keys)
}

/// IPG's passive-client scheme: the bank whose passive API key verifies `signature` over the
/// request (body, or query string when the body is empty), if any.
fn passive_bank(store: &Store, p: &Presented, signature: &str) -> Result<Option<Bank>, VaError> {
    let keys = store.snapshot(passive_keys)?;
    Ok(keys
        .into_iter()
        .find(|(_, key)| ipg::verify(key, &p.body, &p.query, signature))
        .map(|(bank, _)| bank))
}

/// Authenticates a biller (`/api/v2/gw/*`); a refusal is stamped in WIB.
pub async fn biller(
    state: &AppState,
    req: &HttpRequest,
    body: &actix_web::web::Bytes,
) -> Result<Biller, VaError> {
    let now = state.now();
    let stamp = |e: VaError| e.at(now, DEFAULT_OFFSET);
    let p = presented(req, body);
    state
        .inline_flow(move |s| authenticate_biller(s, &p, now))
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
    let p = presented(req, body);
    state
        .inline_flow(move |s| authenticate_bank(s, &p, now))
        .await
        .map_err(stamp)
}
