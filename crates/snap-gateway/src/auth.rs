//! SNAP authentication.
//!
//! - `POST /v1.0/access-token/b2b`: the bank sends `X-CLIENT-KEY` (the client id `billhub
//!   channel create --dialect snap` printed), `X-TIMESTAMP` and `X-SIGNATURE` =
//!   base64(SHA256withRSA(its private key, `clientId|X-TIMESTAMP`)), verified with the public
//!   key registered as the channel's `snap.public_key`. The token lives [`TOKEN_TTL_SECONDS`]
//!   and is stored as a hash.
//! - Transactions carry `Authorization: Bearer`, `X-TIMESTAMP` (within the channel's
//!   `snap.timestamp_window` of the server's clock), `X-SIGNATURE` = base64(HMAC-SHA512(client
//!   secret, `METHOD:PATH:token:hex(sha256(minified body)):X-TIMESTAMP`)) over the body bytes as
//!   received, `X-PARTNER-ID`, `X-EXTERNAL-ID` and `CHANNEL-ID`. An `X-EXTERNAL-ID` the bank has
//!   used before on the same day in Jakarta is refused `409xx00` whatever the body: once the
//!   signature has been checked it is recorded first thing in the request's own write
//!   transaction, which commits when the request is refused (not found, paid, a core refusal),
//!   so a refused request spends it too; a malformed body spends it in a transaction of its own.
//! - Tokens, secrets and channel settings come through the store's cache (at most 5 s old).

use std::sync::Arc;

use actix_web::HttpRequest;
use billhub_core::channel_settings::{ChannelSettings, SNAP_DIALECT};
use billhub_core::signature::snap;
use billhub_http::AppState;
use billhub_store::{Principal, Store, Writer};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::codes::Case;
use crate::error::SnapError;

/// The dialect's name on its channels and credentials.
pub const DIALECT: &str = SNAP_DIALECT;

/// Lifetime of an access token (the standard's `expiresIn`).
pub const TOKEN_TTL_SECONDS: i64 = 900;

/// The longest `X-EXTERNAL-ID` accepted (the standard's String(36)).
pub const MAX_EXTERNAL_ID: usize = 36;

/// Asia/Jakarta (WIB), the day `X-EXTERNAL-ID`s are unique in.
pub const JAKARTA: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// A bank, authenticated for a transaction, with the `X-EXTERNAL-ID` the transaction is to
/// spend ([`spend_external_id`], first thing in the flow's own write transaction).
#[derive(Debug, Clone)]
pub struct Bank {
    pub credential_id: i64,
    pub channel_id: i64,
    pub settings: Arc<ChannelSettings>,
    external_id: ExternalId,
}

/// An `X-EXTERNAL-ID` with the scope it is unique in (the bank and the day in Jakarta) and how
/// long its use is kept.
#[derive(Debug, Clone)]
struct ExternalId {
    scope: String,
    id: String,
    expires: OffsetDateTime,
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn required(req: &HttpRequest, name: &str) -> Result<String, SnapError> {
    header(req, name).ok_or_else(|| SnapError::missing(name))
}

/// `X-TIMESTAMP`: `yyyy-MM-ddTHH:mm:ssTZD` (`Z` or an offset; fractions of a second allowed).
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    // RFC 3339 also allows a space between date and time; SNAP writes `T`.
    if text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn timestamp(req: &HttpRequest) -> Result<(String, OffsetDateTime), SnapError> {
    let text = required(req, "X-TIMESTAMP")?;
    let at = parse_timestamp(&text).ok_or_else(|| SnapError::format("X-TIMESTAMP"))?;
    Ok((text, at))
}

fn within_window(
    settings: &ChannelSettings,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), SnapError> {
    if settings.snap.accepts_timestamp(at, now) {
        return Ok(());
    }
    Err(SnapError::unauthorized(&format!(
        "X-TIMESTAMP is more than {} seconds from the server's clock",
        settings.snap.timestamp_window_seconds
    )))
}

/// What a token request presents.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub client_id: String,
    pub timestamp: String,
    pub at: OffsetDateTime,
    pub signature: String,
}

/// Reads a token request's headers and body (`{"grantType": "client_credentials"}`).
pub fn token_request(req: &HttpRequest, body: &[u8]) -> Result<TokenRequest, SnapError> {
    let client_id = required(req, "X-CLIENT-KEY")?;
    let (timestamp, at) = timestamp(req)?;
    let signature = required(req, "X-SIGNATURE")?;
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| SnapError::with(Case::BadRequest, "[the body is not a JSON object]"))?;
    match value.get("grantType") {
        None | Some(serde_json::Value::Null) => return Err(SnapError::missing("grantType")),
        Some(g) if g.as_str() == Some("client_credentials") => {}
        Some(_) => return Err(SnapError::format("grantType")),
    }
    Ok(TokenRequest {
        client_id,
        timestamp,
        at,
        signature,
    })
}

/// An issued token.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
}

/// Checks the bank's RSA signature and issues a token, in one write transaction.
pub fn issue_token(
    store: &Store,
    req: &TokenRequest,
    now: OffsetDateTime,
) -> Result<Issued, SnapError> {
    let unknown = || SnapError::unauthorized("Unknown client");
    store.transaction(|w| {
        let cred = w
            .credential_by_client_id(DIALECT, &req.client_id)?
            .ok_or_else(unknown)?;
        let channel_id = cred.channel_id().ok_or_else(unknown)?;
        let settings = w.channel_settings(channel_id)?;
        within_window(&settings, req.at, now)?;
        let pem = settings.snap.public_key_pem.as_deref().ok_or_else(|| {
            SnapError::unauthorized("No public key is registered for this client")
        })?;
        let key = snap::PublicKey::from_pem(pem)
            .map_err(|e| SnapError::internal(format!("the registered public key: {e}")))?;
        if !snap::verify_token_request(&key, &req.client_id, &req.timestamp, &req.signature) {
            return Err(SnapError::unauthorized("Signature"));
        }
        let (access_token, _) =
            w.issue_access_token(cred.id, DIALECT, Duration::seconds(TOKEN_TTL_SECONDS), now)?;
        Ok(Issued { access_token })
    })
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = header(req, "Authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// What a transaction presents, read before the store is asked anything.
#[derive(Debug, Clone)]
pub struct Presented {
    token: String,
    timestamp: String,
    at: OffsetDateTime,
    signature: String,
    external_id: String,
    method: String,
    path_and_query: String,
    body: actix_web::web::Bytes,
}

/// Reads a transaction's headers: every mandatory one must be there and well formed.
pub fn presented(req: &HttpRequest, body: &actix_web::web::Bytes) -> Result<Presented, SnapError> {
    let token = bearer(req).ok_or_else(|| SnapError::with(Case::InvalidToken, "[missing]"))?;
    let (timestamp, at) = timestamp(req)?;
    let signature = required(req, "X-SIGNATURE")?;
    required(req, "X-PARTNER-ID")?;
    let external_id = required(req, "X-EXTERNAL-ID")?;
    if external_id.len() > MAX_EXTERNAL_ID
        || !external_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(SnapError::format("X-EXTERNAL-ID"));
    }
    required(req, "CHANNEL-ID")?;
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_string(), |p| p.as_str().to_string());
    Ok(Presented {
        token,
        timestamp,
        at,
        signature,
        external_id,
        method: req.method().as_str().to_string(),
        path_and_query,
        body: body.clone(),
    })
}

/// The scope an `X-EXTERNAL-ID` is unique in: the bank and the day in Jakarta.
fn external_id_scope(channel_id: i64, now: OffsetDateTime) -> (String, OffsetDateTime) {
    let local = now.to_offset(JAKARTA);
    let day = local.date();
    let next_midnight = day
        .next_day()
        .unwrap_or(day)
        .midnight()
        .assume_offset(JAKARTA);
    (
        format!("snap.external_id:{channel_id}:{day}"),
        // Kept a day past its own, so a request stamped just before midnight is still known.
        next_midnight + Duration::days(1),
    )
}

/// Authenticates a transaction: token, timestamp window, signature. Writes nothing: the
/// `X-EXTERNAL-ID` is spent by the flow, in its own transaction ([`spend_external_id`]).
pub fn authenticate(store: &Store, p: &Presented, now: OffsetDateTime) -> Result<Bank, SnapError> {
    let cred = store
        .cached_access_token(&p.token, now)?
        .filter(|c| c.dialect == DIALECT)
        .ok_or_else(|| SnapError::new(Case::InvalidToken))?;
    let Principal::Channel { channel_id } = cred.principal else {
        return Err(SnapError::new(Case::InvalidToken));
    };
    let settings = store.cached_channel_settings(channel_id, now)?;
    within_window(&settings, p.at, now)?;
    let secret = store.cached_secret(cred.id, now)?;
    if !snap::verify(
        &secret,
        &p.method,
        &p.path_and_query,
        &p.token,
        &p.body,
        &p.timestamp,
        &p.signature,
    ) {
        return Err(SnapError::unauthorized("Signature"));
    }
    let (scope, expires) = external_id_scope(channel_id, now);
    Ok(Bank {
        credential_id: cred.id,
        channel_id,
        settings,
        external_id: ExternalId {
            scope,
            id: p.external_id.clone(),
            expires,
        },
    })
}

/// Spends the bank's `X-EXTERNAL-ID` inside the request's write transaction: `409xx00` when
/// the bank used it before on the same day in Jakarta. One statement.
pub fn spend_external_id(w: &mut Writer<'_>, bank: &Bank) -> Result<(), SnapError> {
    let x = &bank.external_id;
    if w.use_nonce(&x.scope, &x.id, x.expires)? {
        return Ok(());
    }
    Err(SnapError::with(
        Case::Conflict,
        format!("[X-EXTERNAL-ID {} was already used today]", x.id),
    ))
}

/// A request refused after authentication but before its flow (a malformed body) spends its
/// `X-EXTERNAL-ID` too, in a transaction of its own: answers `refusal`, or the conflict when
/// the id was used before, or the store's failure.
pub async fn refuse_spending(state: &AppState, bank: Bank, refusal: SnapError) -> SnapError {
    let spent = state
        .flow(move |s| s.transaction(|w| spend_external_id(w, &bank)))
        .await;
    match spent {
        Ok(()) => refusal,
        Err(e) => e,
    }
}

/// [`presented`] then [`authenticate`], on the request's thread when the store's cache answers
/// (see `AppState::inline_flow`).
pub async fn bank(
    state: &AppState,
    req: &HttpRequest,
    body: &actix_web::web::Bytes,
) -> Result<Bank, SnapError> {
    let p = presented(req, body)?;
    let now = state.now();
    state.inline_flow(move |s| authenticate(s, &p, now)).await
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp("2026-12-05T10:01:02+07:00"),
            Some(datetime!(2026-12-05 03:01:02 UTC))
        );
        assert_eq!(
            parse_timestamp("2026-12-05T03:01:02Z"),
            Some(datetime!(2026-12-05 03:01:02 UTC))
        );
        assert_eq!(
            parse_timestamp("2026-12-05T10:01:02.123+07:00"),
            Some(datetime!(2026-12-05 03:01:02.123 UTC))
        );
        for bad in [
            "2026-12-05 10:01:02+07:00",
            "2026-12-05T10:01:02",
            "05-12-2026T10:01:02+07:00",
            "",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn external_ids_are_unique_per_jakarta_day() {
        // 16:59 UTC is 23:59 in Jakarta; 17:00 UTC is the next day there.
        let (a, ea) = external_id_scope(3, datetime!(2026-12-05 16:59 UTC));
        let (b, _) = external_id_scope(3, datetime!(2026-12-05 17:00 UTC));
        let (c, _) = external_id_scope(4, datetime!(2026-12-05 16:59 UTC));
        assert_eq!(a, "snap.external_id:3:2026-12-05");
        assert_eq!(b, "snap.external_id:3:2026-12-06");
        assert_eq!(c, "snap.external_id:4:2026-12-05");
        assert_eq!(ea, datetime!(2026-12-06 17:00 UTC));
    }
}
