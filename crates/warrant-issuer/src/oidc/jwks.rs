//! An identity provider's key set (JWKS): fetched on first use, cached by `kid`, fetched
//! again for an unknown `kid` at most once per [`REFETCH_INTERVAL`], and after
//! [`KEYS_MAX_AGE`] (keeping the old keys while the provider is unreachable).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

/// The shortest time between two fetches of one provider's keys.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Cached keys older than this are refetched (and kept if the refetch fails).
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// The longest a key fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest key set accepted, bytes.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// The HTTP client settings for key fetches.
pub(super) fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("warrant-issuer/", env!("CARGO_PKG_VERSION")))
}

/// A usable key from a provider's key set.
pub(super) struct CachedKey {
    pub(super) key: DecodingKey,
    /// The key's `alg`, when the key set restricts it.
    pub(super) alg: Option<Algorithm>,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Arc<CachedKey>>,
    /// When the keys were last fetched successfully.
    fetched_at: Option<Instant>,
    /// When a fetch was last attempted.
    attempted_at: Option<Instant>,
    /// Why the last fetch failed, if it did.
    last_error: Option<String>,
}

/// Why a key could not be had.
pub(super) enum KeyError {
    /// The key set could not be fetched (why, for the logs and the error message).
    Fetch(String),
    /// The key set has no key of that `kid`.
    NoKey,
}

/// One provider's key set, as far as it is known.
pub(super) struct Jwks {
    /// The provider's name, for the logs.
    provider: String,
    url: String,
    cache: tokio::sync::Mutex<KeyCache>,
}

impl Jwks {
    /// The key set of `provider`, published at `url`; nothing is fetched yet.
    pub(super) fn new(provider: &str, url: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            url: url.to_owned(),
            cache: tokio::sync::Mutex::new(KeyCache::default()),
        }
    }

    /// Key `kid` at (monotonic) time `now`, fetching the key set with `client` when the key
    /// is not known yet (or the keys have grown old), at most once per
    /// [`REFETCH_INTERVAL`].
    pub(super) async fn key(
        &self,
        client: &reqwest::Client,
        now: Instant,
        kid: &str,
    ) -> Result<Arc<CachedKey>, KeyError> {
        // Held across the fetch: concurrent requests wait for one fetch, not start their own.
        let mut cache = self.cache.lock().await;
        let fresh = cache
            .fetched_at
            .is_some_and(|t| now.saturating_duration_since(t) < KEYS_MAX_AGE);
        if fresh {
            if let Some(key) = cache.keys.get(kid) {
                return Ok(Arc::clone(key));
            }
        }
        let may_fetch = cache
            .attempted_at
            .is_none_or(|t| now.saturating_duration_since(t) >= REFETCH_INTERVAL);
        if may_fetch {
            cache.attempted_at = Some(now);
            match fetch_keys(client, &self.url).await {
                Ok(keys) => {
                    tracing::info!(
                        provider = %self.provider,
                        url = %self.url,
                        keys = keys.len(),
                        "fetched oidc keys"
                    );
                    cache.keys = keys;
                    cache.fetched_at = Some(now);
                    cache.last_error = None;
                }
                Err(reason) => {
                    tracing::warn!(
                        provider = %self.provider,
                        url = %self.url,
                        %reason,
                        "cannot fetch oidc keys"
                    );
                    cache.last_error = Some(reason.clone());
                    // A key already known stays usable while the provider is unreachable.
                    if let Some(key) = cache.keys.get(kid) {
                        return Ok(Arc::clone(key));
                    }
                    return Err(KeyError::Fetch(reason));
                }
            }
        } else if cache.fetched_at.is_none() {
            let last = cache.last_error.as_deref().unwrap_or("no keys yet");
            return Err(KeyError::Fetch(format!(
                "{last} (next attempt within {} s)",
                REFETCH_INTERVAL.as_secs()
            )));
        }
        cache.keys.get(kid).cloned().ok_or(KeyError::NoKey)
    }
}

/// Fetches and parses a key set; `Err` is a reason for the logs and the error message.
async fn fetch_keys(
    client: &reqwest::Client,
    url: &str,
) -> Result<HashMap<String, Arc<CachedKey>>, String> {
    let mut res = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    if !res.status().is_success() {
        return Err(format!("status {}", res.status()));
    }
    let too_big = || format!("the key set is larger than {MAX_JWKS_BYTES} bytes");
    if res
        .content_length()
        .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| error_chain(&e))? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    parse_jwks(&body)
}

/// The usable signing keys of a key set, by `kid`. Keys without a `kid`, for encryption,
/// of other types or curves, or for other algorithms are skipped.
pub(super) fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<CachedKey>>, String> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<Value>,
    }
    let set: RawSet =
        serde_json::from_slice(body).map_err(|e| format!("not a JSON key set: {e}"))?;
    let mut keys = HashMap::new();
    for raw in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if let Some(key) = usable(&jwk) {
            keys.entry(kid).or_insert_with(|| Arc::new(key));
        }
    }
    Ok(keys)
}

/// `jwk` as a key that verifies signatures of an accepted algorithm, if it is one.
fn usable(jwk: &Jwk) -> Option<CachedKey> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if jwk
        .common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let supported = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => true,
        AlgorithmParameters::EllipticCurve(ec) => ec.curve == EllipticCurve::P256,
        AlgorithmParameters::OctetKeyPair(okp) => okp.curve == EllipticCurve::Ed25519,
        _ => false,
    };
    if !supported {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(KeyAlgorithm::EdDSA) => Some(Algorithm::EdDSA),
        Some(_) => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(CachedKey { key, alg })
}

/// An error and its sources, on one line.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
