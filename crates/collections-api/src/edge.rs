//! The raw request before it is decoded: [`Api`] (an authenticated request with the app
//! state), the body, read up to the size limit, and the `Idempotency-Key` header of a POST.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use billhub_http::AppState;
use billhub_store::collections::IdempotencyKey;
use billhub_store::{Store, fingerprint};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use time::OffsetDateTime;

use crate::auth::{Caller, RateLimiter, authenticate};
use crate::codes::{ApiError, Cause};
use crate::query::Query;
use crate::requests::{Object, parse_body};
use crate::wire::{Ctx, OrganizationOut};

/// An authenticated request of the dialect: extracting it authenticates the caller (401) and
/// counts the request against the token's limit (429) before anything else is read.
pub struct Api {
    pub req: HttpRequest,
    pub state: web::Data<AppState>,
    pub caller: Caller,
}

impl FromRequest for Api {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Api, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let missing = |what| ApiError::Internal(Cause::new(format!("no {what} in app data")));
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| missing("app state"))?;
            let limiter = req
                .app_data::<web::Data<RateLimiter>>()
                .cloned()
                .ok_or_else(|| missing("rate limiter"))?;
            let caller = authenticate(&req, &state, &limiter).await?;
            Ok(Api { req, state, caller })
        })
    }
}

impl Api {
    /// The caller's organization.
    pub fn org(&self) -> i64 {
        self.caller.organization.id
    }

    /// The app clock.
    pub fn now(&self) -> OffsetDateTime {
        self.state.now()
    }

    pub fn query(&self) -> Result<Query, ApiError> {
        Query::parse(self.req.query_string())
    }

    /// What renderings need: links, the organization's offset, the time.
    pub fn ctx(&self) -> Ctx {
        let org = &self.caller.organization;
        Ctx {
            public_url: self.state.config.public_url.clone(),
            offset: org.utc_offset,
            now: self.state.now(),
            organization: OrganizationOut {
                id: org.id,
                code: org.code.clone(),
                name: org.name.clone(),
            },
        }
    }

    /// The request's query with the `include` and filters its body carries (see
    /// [`Query::with_body`]).
    pub fn query_with(&self, body: &Object) -> Result<Query, ApiError> {
        Ok(self.query()?.with_body(body))
    }

    /// The body as an object: a form (`application/x-www-form-urlencoded`, PHP's bracket
    /// nesting read as Laravel reads it) or JSON.
    pub fn object(&self, body: &[u8]) -> Result<Object, ApiError> {
        parse_body(body, self.is_form())
    }

    /// Whether the body is a form.
    pub fn is_form(&self) -> bool {
        use actix_web::HttpMessage;
        self.req
            .content_type()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    }

    /// The absolute URL of this route (the paginator's `path`).
    pub fn link(&self) -> String {
        self.state.link(self.req.path())
    }

    /// The whole body, up to the configured limit.
    pub async fn body(&self, payload: web::Payload) -> Result<web::Bytes, ApiError> {
        read_body(&self.req, payload, self.state.config.body_limit).await
    }

    /// The request's `Idempotency-Key`, scoped to the caller's organization.
    pub fn idempotency_key(&self, body: &[u8]) -> Result<Option<IdempotencyKey>, ApiError> {
        idempotency_key(&self.req, self.org(), body)
    }

    /// Runs a flow on the blocking pool.
    pub async fn flow<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    {
        self.state.flow::<T, ApiError, F>(f).await
    }
}

/// How long an `Idempotency-Key` and its first response are kept.
pub const IDEMPOTENCY_TTL_HOURS: i64 = 24;

/// Reads the whole body up to `limit` bytes. A larger body is drained (up to a bound) before
/// the 413, so the client reads the answer instead of a reset connection.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let drain_bound = limit.saturating_mul(16);
    let mut too_large = declared.is_some_and(|n| n > limit);
    let mut seen = 0usize;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(_) if too_large => break,
            Err(actix_web::error::PayloadError::Overflow) => {
                too_large = true;
                break;
            }
            Err(e) => {
                return Err(ApiError::BadRequest(format!(
                    "The request body cannot be read: {e}."
                )));
            }
        };
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            too_large = true;
        }
        if too_large {
            if seen > drain_bound {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    if too_large {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(buf.freeze())
}

/// The `Idempotency-Key` of a POST, scoped to the caller's organization.
pub fn idempotency_key(
    req: &HttpRequest,
    organization_id: i64,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "The Idempotency-Key header must be 1 to 255 visible ASCII characters.".into(),
            )
        })?;
    // Key order and spacing do not make a different request.
    let canonical = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => v.to_string(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let target = format!("{}?{}", req.path(), req.query_string());
    Ok(Some(IdempotencyKey {
        scope: format!("collections:{organization_id}"),
        key: key.to_string(),
        request_hash: fingerprint(&["POST", &target, &canonical]),
        ttl: time::Duration::hours(IDEMPOTENCY_TTL_HOURS),
    }))
}
