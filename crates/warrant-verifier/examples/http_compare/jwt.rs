//! The two JWT comparators: what an engineer would write instead of warrant, as an axum
//! middleware (`axum::middleware::from_fn_with_state`, added with `route_layer` like the
//! warrant layer).
//!
//! - plain: jsonwebtoken 12 (EdDSA) decodes and verifies the token on every request
//!   (signature, `exp` with jsonwebtoken's default 60 s leeway, `aud`, `iss`), then reads
//!   the `grant` claim and evaluates it against the request;
//! - cached: the verified claims, with the grant already parsed, kept in a `quick_cache`
//!   keyed by the token text itself (hashed with foldhash, compared exactly on a hit:
//!   no base64 decoding, no signature and no SHA-256 on a hit); a hit checks `exp` again
//!   (same leeway) and evaluates the grant. The capacity is the warrant verifier's cache
//!   capacity (`--cache-capacity`), so both caches keep as many tokens.
//!
//! The grant is evaluated by `warrant_core::eval::evaluate`, the same rules as the warrant
//! token's authority block, so every guard takes the same decision for a request.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use warrant_core::eval::evaluate;
use warrant_core::grant::Grant;
use warrant_core::request::RequestFacts;
use warrant_core::time::Timestamp;
use warrant_verifier::http::{credentials, AuthScheme};

use crate::{target, Stats, AUDIENCE, ISSUER};

/// jsonwebtoken's default leeway for `exp`, applied on a cache hit too.
const LEEWAY_SECONDS: u64 = 60;

/// The claims a JWT carries, as decoded.
#[derive(Debug, serde::Deserialize)]
struct RawClaims {
    exp: u64,
    grant: serde_json::Value,
}

/// The verified claims, the grant parsed: what a request handler gets, and what the cache
/// keeps.
#[derive(Debug)]
pub(crate) struct JwtClaims {
    exp: u64,
    grant: Grant,
}

/// One JWT middleware, with or without a cache of verified claims.
pub(crate) struct JwtGuard {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
    cache: Option<quick_cache::sync::Cache<String, Arc<JwtClaims>>>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for JwtGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtGuard")
            .field("cached", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

impl JwtGuard {
    /// A guard trusting `key`; `cache_capacity` adds the cache of verified claims.
    pub(crate) fn new(
        key: &ed25519_dalek::VerifyingKey,
        cache_capacity: Option<usize>,
        stats: Arc<Stats>,
    ) -> Self {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = LEEWAY_SECONDS;
        Self {
            key: jsonwebtoken::DecodingKey::from_ed_der(key.as_bytes()),
            validation,
            cache: cache_capacity.map(quick_cache::sync::Cache::new),
            stats,
        }
    }

    /// The verified claims of `token`: from the cache, or verified now (and cached).
    fn verify(&self, token: &str, now: u64) -> Option<Arc<JwtClaims>> {
        if let Some(cache) = &self.cache {
            if let Some(hit) = cache.get(token) {
                return (now <= hit.exp.saturating_add(LEEWAY_SECONDS)).then_some(hit);
            }
            self.stats.cache_misses.fetch_add(1, Ordering::Relaxed);
        }
        let data = jsonwebtoken::decode::<RawClaims>(token, &self.key, &self.validation).ok()?;
        let grant = Grant::from_json(&data.claims.grant).ok()?;
        let claims = Arc::new(JwtClaims {
            exp: data.claims.exp,
            grant,
        });
        if let Some(cache) = &self.cache {
            cache.insert(token.to_owned(), Arc::clone(&claims));
        }
        Some(claims)
    }

    /// The claims, or the refusal: 401 without a valid bearer JWT, 403 when its grant does
    /// not permit the request (or the route is not mapped: deny by default).
    fn admit(&self, parts: &Parts) -> Result<Arc<JwtClaims>, Refusal> {
        let token = match credentials(&parts.headers) {
            Ok(c) if c.scheme == AuthScheme::Bearer => c.token,
            _ => return Err(INVALID_TOKEN),
        };
        let now = Timestamp::from_system_time(SystemTime::now());
        let claims = self.verify(token, now.unix()).ok_or(INVALID_TOKEN)?;
        let target = target(parts).ok_or(INSUFFICIENT_SCOPE)?;
        let mut facts = RequestFacts::new(target.resource, target.action, now);
        facts.audience = Some(AUDIENCE.to_owned());
        if let Some(status) = target.ticket_status {
            facts
                .attrs
                .insert("ticket.status".to_owned(), status.into());
        }
        if !evaluate(&claims.grant, None, &facts).is_empty() {
            return Err(INSUFFICIENT_SCOPE);
        }
        Ok(claims)
    }
}

/// A refusal: its status and `WWW-Authenticate` challenge.
type Refusal = (StatusCode, &'static str);
const INVALID_TOKEN: Refusal = (StatusCode::UNAUTHORIZED, "Bearer error=\"invalid_token\"");
const INSUFFICIENT_SCOPE: Refusal = (StatusCode::FORBIDDEN, "Bearer error=\"insufficient_scope\"");

fn refuse((status, challenge): Refusal) -> Response {
    let challenge = HeaderValue::from_static(challenge);
    (status, [(header::WWW_AUTHENTICATE, challenge)]).into_response()
}

/// The middleware: the request goes on with the claims in its extensions, or is refused.
pub(crate) async fn jwt_guard(
    State(guard): State<Arc<JwtGuard>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match guard.admit(&parts) {
        Ok(claims) => {
            parts.extensions.insert(claims);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(refusal) => refuse(refusal),
    }
}
