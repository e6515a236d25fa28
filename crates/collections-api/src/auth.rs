//! `Authorization: Bearer {ACCESS-TOKEN}` (a `collections` credential of one organization) and
//! the per-token request limit.
//!
//! The limit is the organization's `collections.requests_per_minute`, counted per credential
//! in fixed one-minute windows of the app clock, in memory: each gateway process counts its
//! own requests (behind a load balancer of N processes a token may make up to N times the
//! limit).

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::HttpRequest;
use actix_web::http::header;
use billhub_core::org::Organization;
use billhub_http::AppState;
use time::OffsetDateTime;

use crate::codes::ApiError;

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    pub credential_id: i64,
    pub organization: Organization,
}

/// The token of `Authorization: Bearer ...`, if any.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// Authenticates the request and counts it against the token's limit. The credential and the
/// organization with its settings come from the store's cache (at most 5 s old), so a warm
/// cache costs no transaction.
pub async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    limiter: &RateLimiter,
) -> Result<Caller, ApiError> {
    let Some(token) = bearer_token(req) else {
        return Err(ApiError::Unauthenticated);
    };
    let now = state.now();
    let found = state
        .inline_flow(move |s| caller_of(s, &token, now))
        .await?;
    let Some((credential_id, organization, limit)) = found else {
        return Err(ApiError::Unauthenticated);
    };
    limiter.hit(credential_id, limit, now)?;
    Ok(Caller {
        credential_id,
        organization,
    })
}

/// The credential, organization and request limit of a token; `None` for an unknown token or
/// one that does not belong to an organization.
fn caller_of(
    store: &billhub_store::Store,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<(i64, Organization, u32)>, ApiError> {
    let Some(cred) = store.cached_token("collections", token, now)? else {
        return Ok(None);
    };
    let Some(org_id) = cred.organization_id() else {
        return Ok(None);
    };
    let org = store.cached_organization(org_id, now)?;
    let limit = org.settings.collections().requests_per_minute;
    Ok(Some((cred.id, org.organization.clone(), limit)))
}

/// Fixed one-minute windows per credential.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<i64, (i64, u32)>>,
}

/// Above this many tracked credentials, windows that have ended are dropped.
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    /// Counts one request at `now`; `Err(429)` when it is over `limit` in the current minute.
    pub fn hit(
        &self,
        credential_id: i64,
        limit: u32,
        now: OffsetDateTime,
    ) -> Result<u32, ApiError> {
        let ts = now.unix_timestamp();
        let window = ts.div_euclid(60);
        let mut map = match self.windows.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, (w, _)| *w == window);
        }
        let entry = map.entry(credential_id).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= limit {
            let retry_after = (60 - ts.rem_euclid(60)).max(1) as u64;
            return Err(ApiError::TooManyRequests { limit, retry_after });
        }
        entry.1 += 1;
        Ok(limit - entry.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_per_credential() {
        let l = RateLimiter::default();
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(l.hit(1, 2, t).unwrap(), 1);
        assert_eq!(l.hit(1, 2, t).unwrap(), 0);
        assert!(matches!(
            l.hit(1, 2, t),
            Err(ApiError::TooManyRequests { limit: 2, .. })
        ));
        assert!(l.hit(2, 2, t).is_ok());
        assert!(l.hit(1, 2, t + time::Duration::seconds(60)).is_ok());
    }
}
