//! OpenID Connect ID-token verification: a human proves who they are with an ID token
//! from a configured identity provider.
//!
//! Each provider is one `[[oidc]]` entry of the configuration:
//!
//! ```toml
//! [[oidc]]
//! name = "corp"                                   # how requests name the provider
//! issuer = "https://login.example.com"            # the token's `iss`, exactly
//! audience = "warrant-issuer"                     # must be in the token's `aud`
//! jwks_url = "https://login.example.com/jwks"     # https (http only to loopback)
//! human_claim = "email"                           # the claim naming the human; `sub` by default
//! ```
//!
//! [`OidcVerifier::verify`] checks the signature with the provider's key named by the
//! token's `kid` (RS256, ES256 or EdDSA; never `none` or HMAC), then `iss`, `aud`, `exp`,
//! `nbf` (with [`LEEWAY_SECONDS`] of leeway, against the `now` passed in), `iat` (required,
//! no older than the configured `oidc_max_age`, not ahead of `now` by more than the
//! leeway), the `nonce` (required: the issuer's one-time challenge, which the caller then
//! consumes) and the human claim. The identity carries the time the human authenticated:
//! `auth_time`, or `iat` when the provider sends none (never later than `now`). Keys are fetched on first use and cached by
//! `kid`; a token naming an unknown `kid` triggers a refetch, at most once per
//! [`REFETCH_INTERVAL`] per provider, so made-up key ids cannot flood the provider.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::Value;
use warrant_core::time::{Span, Timestamp};

mod jwks;

use jwks::{client_builder, error_chain, CachedKey, Jwks, KeyError};
pub use jwks::{FETCH_TIMEOUT, KEYS_MAX_AGE, MAX_JWKS_BYTES, REFETCH_INTERVAL};

/// Clock skew tolerated on `exp` and `nbf`, seconds.
pub const LEEWAY_SECONDS: u64 = 60;
/// The longest ID token accepted, bytes.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// The signature algorithms accepted.
pub const ALGORITHMS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// One identity provider: an `[[oidc]]` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderConfig {
    /// How requests name the provider.
    pub name: String,
    /// The `iss` of its tokens, compared exactly.
    pub issuer: String,
    /// What its tokens' `aud` must contain (our client id).
    pub audience: String,
    /// Where its key set (JWKS) is published.
    pub jwks_url: String,
    /// The claim naming the human (`sub` by default).
    #[serde(default = "default_human_claim")]
    pub human_claim: String,
}

fn default_human_claim() -> String {
    "sub".to_owned()
}

/// A human as an identity provider vouches for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The value of the provider's human claim.
    pub human: String,
    /// Authentication methods (`amr`), empty when absent.
    pub amr: Vec<String>,
    /// Authentication context class (`acr`).
    pub acr: Option<String>,
    /// The provider's name.
    pub provider: String,
    /// When the human authenticated: `auth_time`, else `iat`; never after `now`.
    pub authenticated_at: Timestamp,
    /// The token's `exp`.
    pub expires_at: Timestamp,
}

/// Why an ID token, or the OIDC configuration, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// An `[[oidc]]` entry is invalid.
    #[error("invalid oidc provider `{provider}`: {reason}")]
    Config {
        /// The provider's name.
        provider: String,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the http client for oidc key fetches: {0}")]
    Client(String),
    /// No provider of that name is configured.
    #[error("unknown oidc provider `{0}`")]
    UnknownProvider(String),
    /// The provider's key set could not be fetched.
    #[error("cannot fetch the keys of oidc provider `{provider}` from `{url}`: {reason}")]
    Fetch {
        /// The provider's name.
        provider: String,
        /// The key set's URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The provider publishes no key with the token's `kid`.
    #[error("oidc provider `{provider}` has no key `{kid}`")]
    NoKey {
        /// The provider's name.
        provider: String,
        /// The token's key id.
        kid: String,
    },
    /// The key named by `kid` is not for the token's algorithm.
    #[error("the key `{kid}` of oidc provider `{provider}` cannot verify `{alg}` signatures")]
    KeyMismatch {
        /// The provider's name.
        provider: String,
        /// The token's key id.
        kid: String,
        /// The token's algorithm.
        alg: String,
    },
    /// The signature does not verify.
    #[error("the id token's signature does not verify with the key `{kid}` of oidc provider `{provider}`")]
    BadSignature {
        /// The provider's name.
        provider: String,
        /// The token's key id.
        kid: String,
    },
    /// `iss` is not the provider's issuer.
    #[error(
        "the id token was issued by `{found}`, not by `{expected}` (oidc provider `{provider}`)"
    )]
    WrongIssuer {
        /// The provider's name.
        provider: String,
        /// The configured issuer.
        expected: String,
        /// The token's issuer.
        found: String,
    },
    /// `aud` does not contain the provider's audience.
    #[error("the id token's audience does not include `{expected}` (oidc provider `{provider}`)")]
    WrongAudience {
        /// The provider's name.
        provider: String,
        /// The configured audience.
        expected: String,
    },
    /// `exp` has passed.
    #[error("the id token from oidc provider `{provider}` expired at {exp}")]
    Expired {
        /// The provider's name.
        provider: String,
        /// The token's `exp`.
        exp: Timestamp,
    },
    /// `nbf` is still ahead.
    #[error("the id token from oidc provider `{provider}` is not valid before {nbf}")]
    NotYetValid {
        /// The provider's name.
        provider: String,
        /// The token's `nbf`.
        nbf: Timestamp,
    },
    /// `iat` is older than the configured maximum age.
    #[error("the id token from oidc provider `{provider}` was issued at {iat}, more than {max_age} ago: sign in again for a fresh one")]
    TooOld {
        /// The provider's name.
        provider: String,
        /// The token's `iat`.
        iat: Timestamp,
        /// The configured `oidc_max_age`.
        max_age: Span,
    },
    /// `nonce` is missing or not the one expected.
    #[error("the id token from oidc provider `{provider}` does not carry the expected nonce")]
    NonceMismatch {
        /// The provider's name.
        provider: String,
    },
    /// A required claim is missing or empty.
    #[error("the id token from oidc provider `{provider}` has no `{claim}` claim")]
    MissingClaim {
        /// The provider's name.
        provider: String,
        /// The claim.
        claim: String,
    },
    /// The token's algorithm is not accepted.
    #[error("the id token from oidc provider `{provider}` is signed with `{alg}`; accepted: RS256, ES256, EdDSA")]
    UnsupportedAlgorithm {
        /// The provider's name.
        provider: String,
        /// The token's `alg`.
        alg: String,
    },
    /// The token is not a well-formed JWT.
    #[error("malformed id token for oidc provider `{provider}`: {reason}")]
    Malformed {
        /// The provider's name.
        provider: String,
        /// What is wrong.
        reason: String,
    },
}

/// A monotonic clock (tests move it).
type Monotonic = Arc<dyn Fn() -> Instant + Send + Sync>;

struct Provider {
    config: OidcProviderConfig,
    keys: Jwks,
}

struct Inner {
    providers: HashMap<String, Provider>,
    client: reqwest::Client,
    clock: Monotonic,
    /// The oldest `iat` accepted, relative to `now`.
    max_age: Span,
}

/// Verifies ID tokens from the configured providers; cheap to clone.
#[derive(Clone)]
pub struct OidcVerifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.inner.providers.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("OidcVerifier")
            .field("providers", &names)
            .finish_non_exhaustive()
    }
}

fn check_config(p: &OidcProviderConfig) -> Result<(), String> {
    if p.name.is_empty() {
        return Err("`name` must not be empty".into());
    }
    if p.issuer.is_empty() {
        return Err("`issuer` must not be empty".into());
    }
    if p.audience.is_empty() {
        return Err("`audience` must not be empty".into());
    }
    if p.human_claim.is_empty() {
        return Err("`human_claim` must not be empty".into());
    }
    let url = reqwest::Url::parse(&p.jwks_url)
        .map_err(|e| format!("`jwks_url` `{}` is not a URL: {e}", p.jwks_url))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "`jwks_url` `{}` must be https (http only to loopback)",
            p.jwks_url
        )),
    }
}

impl OidcVerifier {
    /// Checks the providers' configuration; no key is fetched until a token needs it. ID
    /// tokens issued more than `max_age` (plus [`LEEWAY_SECONDS`]) ago are refused.
    pub fn new(providers: Vec<OidcProviderConfig>, max_age: Span) -> Result<Self, OidcError> {
        let client = client_builder()
            .build()
            .map_err(|e| OidcError::Client(error_chain(&e)))?;
        Self::with_parts(providers, client, Arc::new(Instant::now), max_age)
    }

    fn with_parts(
        providers: Vec<OidcProviderConfig>,
        client: reqwest::Client,
        clock: Monotonic,
        max_age: Span,
    ) -> Result<Self, OidcError> {
        let mut map = HashMap::new();
        for config in providers {
            check_config(&config).map_err(|reason| OidcError::Config {
                provider: config.name.clone(),
                reason,
            })?;
            if map.contains_key(&config.name) {
                return Err(OidcError::Config {
                    provider: config.name,
                    reason: "the name is used by another provider".into(),
                });
            }
            map.insert(
                config.name.clone(),
                Provider {
                    keys: Jwks::new(&config.name, &config.jwks_url),
                    config,
                },
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                providers: map,
                client,
                clock,
                max_age,
            }),
        })
    }

    /// The configured providers' names, sorted.
    pub fn providers(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.providers.keys().cloned().collect();
        names.sort_unstable();
        names
    }

    /// Verifies `id_token` from `provider` at `now`: the human it names, and how and when
    /// they authenticated. The token's `nonce` must equal `expected_nonce`: a one-time
    /// challenge the caller consumes once the token verifies.
    pub async fn verify(
        &self,
        provider: &str,
        id_token: &str,
        expected_nonce: &str,
        now: Timestamp,
    ) -> Result<OidcIdentity, OidcError> {
        let p = self
            .inner
            .providers
            .get(provider)
            .ok_or_else(|| OidcError::UnknownProvider(provider.to_owned()))?;
        let claims = self.signed_claims(p, id_token).await?;
        let checks = Checks {
            config: &p.config,
            claims: &claims,
        };
        checks.issuer_and_audience()?;
        let (exp, authenticated_at) = checks.times(now, self.inner.max_age)?;
        checks.nonce(expected_nonce)?;
        Ok(OidcIdentity {
            human: checks.human()?,
            amr: checks.amr()?,
            acr: checks.acr()?,
            provider: p.config.name.clone(),
            authenticated_at,
            expires_at: Timestamp::from_unix(exp),
        })
    }

    /// The claims of `id_token` once its signature verifies with the provider's key named
    /// by its `kid`, for an accepted algorithm the key is for. Nothing else is checked.
    async fn signed_claims(
        &self,
        p: &Provider,
        id_token: &str,
    ) -> Result<serde_json::Map<String, Value>, OidcError> {
        let name = || p.config.name.clone();
        let malformed = |reason: String| OidcError::Malformed {
            provider: name(),
            reason,
        };
        if id_token.len() > MAX_TOKEN_BYTES {
            return Err(malformed(format!("longer than {MAX_TOKEN_BYTES} bytes")));
        }
        let header = parse_header(id_token).map_err(malformed)?;
        let alg = match header.alg.as_str() {
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            "EdDSA" => Algorithm::EdDSA,
            other => {
                return Err(OidcError::UnsupportedAlgorithm {
                    provider: name(),
                    alg: other.to_owned(),
                })
            }
        };
        let kid = match header.kid {
            Some(kid) if !kid.is_empty() => kid,
            _ => return Err(malformed("the header names no key (`kid`)".into())),
        };
        let key = self.key(p, &kid).await?;
        let mismatch = || OidcError::KeyMismatch {
            provider: name(),
            kid: kid.clone(),
            alg: header.alg.clone(),
        };
        if key.key.family() != alg.family() || key.alg.is_some_and(|a| a != alg) {
            return Err(mismatch());
        }
        // Signature and algorithm only: every claim is checked after, against `now`.
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Map<String, Value>>(id_token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => OidcError::BadSignature {
                    provider: name(),
                    kid: kid.clone(),
                },
                ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidKeyFormat
                | ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidEddsaKey
                | ErrorKind::InvalidRsaKey(_) => mismatch(),
                _ => malformed(e.to_string()),
            })
    }

    /// The provider's key `kid` (jwks: fetched when not known yet, at most once per
    /// [`REFETCH_INTERVAL`]).
    async fn key(&self, p: &Provider, kid: &str) -> Result<Arc<CachedKey>, OidcError> {
        let now = (self.inner.clock)();
        p.keys
            .key(&self.inner.client, now, kid)
            .await
            .map_err(|e| match e {
                KeyError::Fetch(reason) => OidcError::Fetch {
                    provider: p.config.name.clone(),
                    url: p.config.jwks_url.clone(),
                    reason,
                },
                KeyError::NoKey => OidcError::NoKey {
                    provider: p.config.name.clone(),
                    kid: kid.to_owned(),
                },
            })
    }
}

/// The claims of a token whose signature verified, checked one concern at a time.
struct Checks<'a> {
    config: &'a OidcProviderConfig,
    claims: &'a serde_json::Map<String, Value>,
}

impl Checks<'_> {
    fn malformed(&self, reason: &str) -> OidcError {
        OidcError::Malformed {
            provider: self.config.name.clone(),
            reason: reason.to_owned(),
        }
    }

    /// `iss` is the provider's issuer, `aud` holds our audience.
    fn issuer_and_audience(&self) -> Result<(), OidcError> {
        let config = self.config;
        match self.claims.get("iss") {
            Some(Value::String(iss)) if *iss == config.issuer => {}
            Some(Value::String(iss)) => {
                return Err(OidcError::WrongIssuer {
                    provider: config.name.clone(),
                    expected: config.issuer.clone(),
                    found: iss.clone(),
                })
            }
            None | Some(Value::Null) => return Err(missing(config, "iss")),
            Some(_) => return Err(self.malformed("`iss` is not a string")),
        }
        let audience_ok = match self.claims.get("aud") {
            Some(Value::String(aud)) => *aud == config.audience,
            Some(Value::Array(auds)) => auds
                .iter()
                .any(|a| a.as_str() == Some(config.audience.as_str())),
            None | Some(Value::Null) => return Err(missing(config, "aud")),
            Some(_) => return Err(self.malformed("`aud` is not a string or an array")),
        };
        if !audience_ok {
            return Err(OidcError::WrongAudience {
                provider: config.name.clone(),
                expected: config.audience.clone(),
            });
        }
        Ok(())
    }

    /// `exp`, `nbf` and `iat` at `now` (with [`LEEWAY_SECONDS`]), `iat` no older than
    /// `max_age`: the expiry, and when the human authenticated.
    fn times(&self, now: Timestamp, max_age: Span) -> Result<(u64, Timestamp), OidcError> {
        let config = self.config;
        let name = || config.name.clone();
        let date = |claim: &str| numeric_date(self.claims, claim).map_err(|r| self.malformed(&r));
        let exp = date("exp")?.ok_or_else(|| missing(config, "exp"))?;
        if now.unix() >= exp.saturating_add(LEEWAY_SECONDS) {
            return Err(OidcError::Expired {
                provider: name(),
                exp: Timestamp::from_unix(exp),
            });
        }
        if let Some(nbf) = date("nbf")? {
            if nbf > now.unix().saturating_add(LEEWAY_SECONDS) {
                return Err(OidcError::NotYetValid {
                    provider: name(),
                    nbf: Timestamp::from_unix(nbf),
                });
            }
        }
        // Fresh: issued at most `max_age` ago (a 50-minute-old token is no proof of a
        // human present now), and not from the future.
        let iat = date("iat")?.ok_or_else(|| missing(config, "iat"))?;
        if iat > now.unix().saturating_add(LEEWAY_SECONDS) {
            return Err(OidcError::NotYetValid {
                provider: name(),
                nbf: Timestamp::from_unix(iat),
            });
        }
        if now.unix()
            > iat
                .saturating_add(max_age.seconds())
                .saturating_add(LEEWAY_SECONDS)
        {
            return Err(OidcError::TooOld {
                provider: name(),
                iat: Timestamp::from_unix(iat),
                max_age,
            });
        }
        let auth_time = date("auth_time")?;
        let authenticated_at = Timestamp::from_unix(auth_time.unwrap_or(iat).min(now.unix()));
        Ok((exp, authenticated_at))
    }

    /// `nonce` is the one expected.
    fn nonce(&self, expected: &str) -> Result<(), OidcError> {
        if expected.is_empty() || self.claims.get("nonce").and_then(Value::as_str) != Some(expected)
        {
            return Err(OidcError::NonceMismatch {
                provider: self.config.name.clone(),
            });
        }
        Ok(())
    }

    /// The provider's human claim.
    fn human(&self) -> Result<String, OidcError> {
        match self.claims.get(&self.config.human_claim) {
            Some(Value::String(h)) if !h.is_empty() => Ok(h.clone()),
            _ => Err(missing(self.config, &self.config.human_claim)),
        }
    }

    /// `amr`, empty when absent.
    fn amr(&self) -> Result<Vec<String>, OidcError> {
        match self.claims.get("amr") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.malformed("`amr` is not an array of strings")),
            Some(_) => Err(self.malformed("`amr` is not an array of strings")),
        }
    }

    /// `acr`, if any.
    fn acr(&self) -> Result<Option<String>, OidcError> {
        match self.claims.get("acr") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.malformed("`acr` is not a string")),
        }
    }
}

fn missing(config: &OidcProviderConfig, claim: &str) -> OidcError {
    OidcError::MissingClaim {
        provider: config.name.clone(),
        claim: claim.to_owned(),
    }
}

/// The header fields read before the signature is checked.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

/// Reads the header without trusting it: `alg: none` must be refused, not unparsable.
fn parse_header(token: &str) -> Result<RawHeader, String> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not three dot-separated parts".into());
    };
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| "the header is not base64url".to_owned())?;
    serde_json::from_slice(&json).map_err(|e| format!("the header is not valid: {e}"))
}

/// A NumericDate claim, in whole seconds.
fn numeric_date(
    claims: &serde_json::Map<String, Value>,
    claim: &str,
) -> Result<Option<u64>, String> {
    let Some(v) = claims.get(claim) else {
        return Ok(None);
    };
    if v.is_null() {
        return Ok(None);
    }
    if let Some(n) = v.as_u64() {
        return Ok(Some(n));
    }
    match v.as_f64() {
        // Whole seconds; fractions are truncated. `as` saturates at `u64::MAX`.
        Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
        _ => Err(format!("`{claim}` is not a date in seconds since 1970")),
    }
}

#[cfg(test)]
mod tests;
