//! CSQ authentication: headers `U` (username), `ST` (Unix seconds) and
//! `SH = sha256hex(sha256hex(password) + sha256hex(ST))`, checked by
//! [`billhub_core::signature::csq::verify`] against the network's stored password hash, with at
//! most 30 seconds between `ST` and the server's clock.
//!
//! `SH` covers neither the path nor the body. A network's terminals share one `U` and a retry
//! resends identical headers, so a `(U, ST, SH)` may be used again within its 30-second window
//! on lookups and payments (payments stay idempotent by `localReference`); on reverts it is
//! single-use (a captured header could otherwise revert any payment of its window), and the
//! channel setting `csq.single_use_salts=all` makes it single-use on every route ([`use_salt`]).
//! Only single-use routes record the salt.
//! Every failure is HTTP 401 with the dialect's error body; an unknown user and a wrong hash
//! get the same answer.
//!
//! The network and its password hash come from the store's authentication cache (at most 5 s
//! old), and so do the channel's settings, so an authenticated request costs no transaction for
//! its authentication; recording a single-use salt is part of the route's one write
//! transaction.

use actix_web::HttpRequest;
use billhub_core::Channel;
use billhub_core::channel_settings::{SaltUse, SingleUseSalts};
use billhub_core::signature::csq::{self, CsqAuthError};
use billhub_http::AppState;
use billhub_store::{Principal, Store, Writer};
use time::OffsetDateTime;

use crate::codes::{During, PostpaidError};

/// The most seconds allowed between `ST` and the server's clock.
pub const MAX_SKEW_SECONDS: i64 = 30;

/// Checked against when `U` is unknown, so that the answer and its cost do not tell.
const NO_SUCH_USER_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An authenticated terminal network.
#[derive(Debug, Clone)]
pub struct Network {
    pub credential_id: i64,
    pub channel_id: i64,
    /// Where the network's salts are single-use (`csq.single_use_salts`).
    pub salts: SingleUseSalts,
    st: String,
    sh: String,
}

impl Network {
    /// The channel name payments of this network are recorded under.
    pub fn channel(&self) -> String {
        Channel::Postpaid(self.channel_id).as_db()
    }

    /// Whether this request's salt may be used only once on a route of kind `route`.
    pub fn single_use(&self, route: SaltUse) -> bool {
        self.salts.single_use(route)
    }
}

fn unauthorized(message: impl Into<String>) -> PostpaidError {
    PostpaidError::unauthorized(message)
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether the request carries any of the authentication headers (`/ping` checks them only
/// then).
pub fn has_credentials(req: &HttpRequest) -> bool {
    ["U", "ST", "SH"].iter().any(|h| header(req, h).is_some())
}

/// Checks `U`, `ST` and `SH`; the error is a 401 (or a system error).
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Network, PostpaidError> {
    let missing: Vec<&str> = ["U", "ST", "SH"]
        .into_iter()
        .filter(|h| header(req, h).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(unauthorized(format!(
            "Unauthorized: missing header {}",
            missing.join(", ")
        )));
    }
    let (Some(user), Some(st), Some(sh)) = (header(req, "U"), header(req, "ST"), header(req, "SH"))
    else {
        return Err(unauthorized("Unauthorized"));
    };
    let (user, st, sh) = (user.to_string(), st.to_string(), sh.to_ascii_lowercase());
    let lookup = user.clone();
    let now = state.now();
    let found = state
        .inline_flow(move |s| network_secret(s, &lookup, now).during("authentication"))
        .await?;
    let now = now.unix_timestamp();
    let stored = found
        .as_ref()
        .map(|(_, _, secret, _)| secret.as_str())
        .unwrap_or(NO_SUCH_USER_HASH);
    match csq::verify(stored, &st, &sh, now, MAX_SKEW_SECONDS) {
        Ok(()) => {}
        Err(CsqAuthError::BadSalt) => {
            return Err(unauthorized(
                "Unauthorized: ST must be the Unix time in seconds",
            ));
        }
        Err(CsqAuthError::Skew { skew, max }) => {
            return Err(unauthorized(format!(
                "Unauthorized: ST is {skew} s away from the server's clock (at most {max} s allowed)"
            )));
        }
        Err(CsqAuthError::BadHash) => {
            return Err(unauthorized("Unauthorized: wrong U or SH"));
        }
    }
    match found {
        Some((credential_id, channel_id, _, salts)) => Ok(Network {
            credential_id,
            channel_id,
            salts,
            st,
            sh,
        }),
        None => Err(unauthorized("Unauthorized: wrong U or SH")),
    }
}

/// The network behind username `user`: its credential id, channel id, stored password hash and
/// salt setting, when it is a postpaid channel credential; through the cache.
fn network_secret(
    store: &Store,
    user: &str,
    now: OffsetDateTime,
) -> billhub_store::StoreResult<Option<(i64, i64, String, SingleUseSalts)>> {
    let Some(cred) = store.cached_username(user, now)? else {
        return Ok(None);
    };
    let Principal::Channel { channel_id } = cred.principal else {
        return Ok(None);
    };
    if cred.dialect != "postpaid" {
        return Ok(None);
    }
    let secret = store.cached_secret(cred.id, now)?;
    let salts = store
        .cached_channel_settings(channel_id, now)?
        .csq_single_use_salts;
    Ok(Some((cred.id, channel_id, secret, salts)))
}

/// On a route of kind `route` where the network's salts are single-use, records the request's
/// `(U, ST, SH)` as used, and refuses it (401) when it was used before within its window; on
/// any other route, records nothing. Part of the route's one write transaction.
pub fn use_salt(
    w: &mut Writer<'_>,
    network: &Network,
    route: SaltUse,
    now: OffsetDateTime,
) -> Result<(), PostpaidError> {
    if !network.single_use(route) {
        return Ok(());
    }
    // The scope names the credential, not the channel (a network's credentials sign apart).
    let scope = format!("postpaid:{}", network.credential_id);
    let nonce = format!("{}:{}", network.st, network.sh);
    let st: i64 = network.st.parse().unwrap_or(0);
    // ST is accepted while |now - ST| <= 30 s; keep it until it can no longer be accepted.
    let expires = OffsetDateTime::from_unix_timestamp(st + MAX_SKEW_SECONDS + 1)
        .unwrap_or_else(|_| now + time::Duration::seconds(2 * MAX_SKEW_SECONDS + 1));
    if w.use_nonce(&scope, &nonce, expires)
        .during("recording ST/SH")?
    {
        return Ok(());
    }
    Err(unauthorized(match network.salts {
        SingleUseSalts::Reverts => {
            "Unauthorized: this ST/SH was already used for a revert; sign each revert with a new ST"
        }
        SingleUseSalts::All => {
            "Unauthorized: this ST/SH was already used (csq.single_use_salts=all); sign each request with a new ST"
        }
    }))
}
