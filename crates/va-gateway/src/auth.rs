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

use actix_web::{HttpRequest, HttpResponse};
use billhub_core::org::Organization;
use billhub_core::signature::ipg;
use billhub_http::AppState;
use billhub_store::{CredentialInfo, Principal};
use serde_json::Value;

use crate::codes::{Rc, VaError, from_store};
use crate::wire::{OAuthError, Token};

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

/// Checks the bearer token and the signature of a request; returns the credential.
async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    body: &actix_web::web::Bytes,
) -> Result<CredentialInfo, VaError> {
    let token = bearer(req)
        .ok_or_else(|| VaError::with(Rc::Unauthorized, "Missing bearer access token."))?;
    let signature = header(req, "Signature")
        .ok_or_else(|| VaError::with(Rc::Unauthorized, "Missing Signature header."))?;
    let now = state.now();
    let body = body.clone();
    let query = req.query_string().to_string();
    state
        .run(move |s| {
            let Some(cred) = s.authenticate_access_token(&token, now)? else {
                return Ok(Err(VaError::with(
                    Rc::Unauthorized,
                    "The access token is invalid or has expired.",
                )));
            };
            if cred.dialect != "va" {
                return Ok(Err(VaError::with(
                    Rc::Unauthorized,
                    "The access token is invalid or has expired.",
                )));
            }
            let api_key = s.credential_secret(cred.id)?;
            if !ipg::verify(&api_key, &body, &query, &signature) {
                return Ok(Err(VaError::with(Rc::Unauthorized, "Invalid signature.")));
            }
            Ok(Ok(cred))
        })
        .await
        .map_err(from_store)?
}

/// Authenticates a biller (`/api/v2/gw/*`).
pub async fn biller(
    state: &AppState,
    req: &HttpRequest,
    body: &actix_web::web::Bytes,
) -> Result<Biller, VaError> {
    let cred = authenticate(state, req, body).await?;
    let Principal::Biller { organization_id } = cred.principal else {
        return Err(VaError::with(
            Rc::Forbidden,
            "A bank credential cannot call the biller API.",
        ));
    };
    let org = state
        .run(move |s| s.organization(organization_id))
        .await
        .map_err(from_store)?;
    Ok(Biller {
        credential_id: cred.id,
        org,
    })
}

/// Authenticates a bank (`/api/v2/ch/*`).
pub async fn bank(
    state: &AppState,
    req: &HttpRequest,
    body: &actix_web::web::Bytes,
) -> Result<Bank, VaError> {
    let cred = authenticate(state, req, body).await?;
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

fn oauth_error(
    status: actix_web::http::StatusCode,
    error: &'static str,
    description: &str,
    hint: Option<&str>,
) -> HttpResponse {
    HttpResponse::build(status).json(OAuthError {
        error,
        error_description: description.to_string(),
        hint: hint.map(str::to_string),
        message: description.to_string(),
    })
}

const INVALID_REQUEST: &str = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.";

/// The token request's fields, from JSON or a form body.
fn token_fields(req: &HttpRequest, body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let form = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
        Some(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    } else {
        match serde_json::from_slice::<Value>(body).ok()? {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }
}

/// `POST /oauth/token`.
pub async fn issue_token(
    state: &AppState,
    req: &HttpRequest,
    body: &actix_web::web::Bytes,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let Some(fields) = token_fields(req, body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            INVALID_REQUEST,
            Some("The request body must be JSON or a form."),
        );
    };
    let get = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    let Some(grant_type) = get("grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
            Some("Check that all required parameters have been provided"),
        );
    };
    if grant_type != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
            Some("Check that all required parameters have been provided"),
        );
    }
    let Some(client_id) = get("client_id") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            INVALID_REQUEST,
            Some("Check the `client_id` parameter"),
        );
    };
    let secret = get("client_secret").unwrap_or_default();
    let scope = get("scope").unwrap_or_else(|| "*".into());
    let now = state.now();
    let issued = state
        .run(move |s| {
            let cred = s
                .authenticate_client(&client_id, &secret)?
                .filter(|c| c.dialect == "va");
            match cred {
                Some(c) => s
                    .issue_access_token(
                        c.id,
                        &scope,
                        time::Duration::seconds(TOKEN_TTL_SECONDS),
                        now,
                    )
                    .map(Some),
                None => Ok(None),
            }
        })
        .await;
    match issued {
        Ok(Some((token, _expires))) => HttpResponse::Ok().json(Token {
            token_type: "Bearer",
            expires_in: TOKEN_TTL_SECONDS,
            access_token: token,
        }),
        Ok(None) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
            None,
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot issue an access token");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The authorization server encountered an unexpected condition which prevented it from fulfilling the request.",
                None,
            )
        }
    }
}
