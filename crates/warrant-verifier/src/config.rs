//! Safe defaults, defined once, and the builder that is the only way to change them.

use std::sync::Arc;
use std::time::Duration;

use warrant_core::dpop::DEFAULT_PROOF_WINDOW;
use warrant_core::time::Span;

use crate::replay::{MemoryReplayCache, ReplayCache};
use crate::resource_uri::canonical_audience;
#[cfg(doc)]
use crate::resource_uri::ResourceUri;
use crate::verified::Trusted;

/// Datalog run limits. Biscuit's own default allows 1 ms, which fails valid tokens on a
/// loaded machine; warrant sets every limit explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most facts the evaluation may hold.
    pub max_facts: u64,
    /// Most rule-application rounds.
    pub max_iterations: u64,
    /// Longest evaluation.
    pub max_time: Duration,
}

impl Limits {
    /// The defaults: 1000 facts, 100 iterations, 100 ms. A warrant-profile token uses a few
    /// dozen facts and one iteration, so the fact and iteration limits bound the work; the
    /// time limit is only a backstop, wide enough that a valid token is not refused because
    /// the machine is loaded (a 20 ms limit did refuse valid tokens under a parallel test
    /// run on two cores).
    pub const DEFAULT: Limits = Limits {
        max_facts: 1000,
        max_iterations: 100,
        max_time: Duration::from_millis(100),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How many verified tokens the cache keeps: 10 000 tokens of the warrant profile, at most
/// about 125 MiB (see [`VerifierBuilder::cache_capacity`]).
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// Default clock skew: none. A positive skew evaluates a token's time checks as if the
/// request came that much earlier (see [`VerifierBuilder::clock_skew`]).
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::ZERO;

/// The largest token accepted, checked before any parsing (bytes after base64 decoding).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = warrant_core::token::MAX_TOKEN_BYTES;

/// A built verifier's settings: fixed for its lifetime.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) audience: Option<String>,
    pub(crate) limits: Limits,
    pub(crate) clock_skew: Duration,
    pub(crate) accept_bearer: bool,
    pub(crate) max_token_bytes: usize,
    pub(crate) max_staleness: Option<Duration>,
    pub(crate) cache_capacity: usize,
    /// Tests set this to compare native evaluation with Biscuit's.
    pub(crate) datalog_only: bool,
    pub(crate) proof_window: Span,
    pub(crate) replay: Arc<dyn ReplayCache>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            audience: None,
            limits: Limits::DEFAULT,
            clock_skew: DEFAULT_CLOCK_SKEW,
            accept_bearer: false,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            max_staleness: None,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            datalog_only: false,
            proof_window: DEFAULT_PROOF_WINDOW,
            replay: Arc::new(MemoryReplayCache::default()),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("audience", &self.audience)
            .field("limits", &self.limits)
            .field("clock_skew", &self.clock_skew)
            .field("accept_bearer", &self.accept_bearer)
            .field("max_token_bytes", &self.max_token_bytes)
            .field("max_staleness", &self.max_staleness)
            .field("cache_capacity", &self.cache_capacity)
            .field("proof_window", &self.proof_window)
            .finish_non_exhaustive()
    }
}

/// Configures a [`crate::Verifier`]: made by [`crate::Verifier::builder`], finished by
/// `build()`. Every setting has a safe default; the settings that weaken a check are
/// named `dangerous_*`. Once built, a verifier's settings are fixed: only its keys and
/// revocations change (by hand or by a refresher).
///
/// ```
/// use std::time::Duration;
/// use warrant_verifier::{KeyId, KeySet, Limits, Verifier};
/// # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
///
/// let verifier = Verifier::builder(KeySet::single(KeyId(1), key.public()))
///     .audience("support-api")
///     .limits(Limits { max_facts: 500, ..Limits::DEFAULT })
///     .clock_skew(Duration::from_secs(5))
///     .max_staleness(Duration::from_secs(3600))
///     .build();
/// assert!(verifier.keys().is_some());
/// ```
#[must_use]
pub struct VerifierBuilder {
    pub(crate) trusted: Trusted,
    pub(crate) config: Config,
}

impl std::fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("trusted", &self.trusted)
            .field("config", &self.config)
            .finish()
    }
}

impl VerifierBuilder {
    pub(crate) fn new(trusted: Trusted) -> Self {
        Self {
            trusted,
            config: Config::default(),
        }
    }

    /// The audience this API answers to: a token that names audiences must name this one
    /// (default none, so such a token is refused unless the request names the audience).
    ///
    /// A name (`support-api`) is kept as it is. A URL (`http://` or `https://`) is the
    /// API's resource URI (RFC 8707, MCP): it is canonicalised as [`ResourceUri`] does
    /// (lower-case scheme and host, no default port, no trailing `/`), as the issuer
    /// canonicalises the `resource` a client asks a token for, so
    /// `HTTPS://API.example:443/mcp/` checks tokens for `https://api.example/mcp`. A URL
    /// that is not a resource URI (a fragment, a query, user information) is kept as it
    /// is, and so matches no token the issuer writes: parse it with [`ResourceUri`] first
    /// to learn why.
    ///
    /// ```
    /// use warrant_verifier::{KeyId, KeySet, ResourceUri, Verifier};
    /// # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
    /// # let keys = KeySet::single(KeyId(1), key.public());
    /// let verifier = Verifier::builder(keys.clone()).audience("HTTPS://API.example/mcp/").build();
    /// assert_eq!(verifier.audience(), Some("https://api.example/mcp"));
    ///
    /// let resource: ResourceUri = "https://api.example/mcp".parse()?;
    /// let verifier = Verifier::builder(keys).audience(resource).build();
    /// assert_eq!(verifier.audience(), Some("https://api.example/mcp"));
    /// # Ok::<(), warrant_verifier::ResourceUriError>(())
    /// ```
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.config.audience = Some(canonical_audience(audience.into()));
        self
    }

    /// Datalog run limits (default [`Limits::DEFAULT`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Allowed clock skew between the issuer and this API (default none). The token's time
    /// checks are evaluated as if the request came `skew` earlier: a token is accepted up
    /// to `skew` past its expiry, age limits are lenient by as much, and a `not_before`
    /// is honoured `skew` later.
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.config.clock_skew = skew;
        self
    }

    /// Dangerous: accepts tokens without a holder (bearer tokens), which are refused by
    /// default. A bearer token that leaks is as good as its owner; a holder-bound one is
    /// useless without the holder's key, since every request carries the holder's DPoP
    /// proof.
    pub fn dangerous_accept_bearer(mut self) -> Self {
        self.config.accept_bearer = true;
        self
    }

    /// How far a DPoP proof's `iat` may be from the request time, either way (default 60 s).
    /// It is also how long a proof's id stays in the replay cache past its `iat`: memory
    /// grows with it (see [`crate::MemoryReplayCache`]).
    pub fn proof_window(mut self, window: Duration) -> Self {
        self.config.proof_window = Span::from_seconds(window.as_secs());
        self
    }

    /// Where used DPoP proof ids are remembered (default: [`crate::MemoryReplayCache`] of
    /// [`crate::DEFAULT_REPLAY_CAPACITY`] live ids, forgotten as their window ends). Share
    /// one between the replicas of an API so a proof cannot be replayed to another (the
    /// feature `redis-replay` ships `RedisReplayCache`). A cache that cannot record a proof
    /// (full, unreachable) refuses it as `replay_cache_unavailable`, never as a replay.
    pub fn replay_cache(mut self, cache: Arc<dyn ReplayCache>) -> Self {
        self.config.replay = cache;
        self
    }

    /// The largest token accepted, checked before parsing (default 64 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.config.max_token_bytes = bytes;
        self
    }

    /// How many verified tokens to cache (default [`DEFAULT_CACHE_CAPACITY`], 10 000; 0
    /// turns the cache off).
    ///
    /// The capacity is memory: `tokens` × 10 KiB, plus 25 % headroom so that `tokens`
    /// distinct tokens fit although they spread unevenly over the cache's shards; the
    /// default is at most about 125 MiB. A token of the warrant profile (every block
    /// written by warrant) keeps its text, its grants and what its explanations need,
    /// not the parsed token: about 9 KiB for a 2 000-character token of 3 blocks (measured
    /// by `cargo bench -p warrant-verifier --bench cache`, which also checks that a working
    /// set of up to `tokens` such tokens misses at most 1 %, in cyclic or random order).
    /// Each entry weighs an estimate of its heap, so a larger token counts as more than
    /// one; a token with a block outside the profile keeps its parsed Biscuit and its
    /// blocks, which Biscuit's evaluation needs on every request, and counts as several
    /// (about 30 bytes per byte of token). Beyond the capacity, the tokens seen least
    /// often are verified again when they return.
    pub fn cache_capacity(mut self, tokens: usize) -> Self {
        self.config.cache_capacity = tokens;
        self
    }

    /// For key sets and revocation lists that are refreshed: how old the last good copy
    /// may get before every token is refused (default: no bound).
    pub fn max_staleness(mut self, age: Duration) -> Self {
        self.config.max_staleness = Some(age);
        self
    }

    /// Evaluates every token with Biscuit's Datalog (for differential tests).
    #[cfg(test)]
    pub(crate) fn datalog_only(mut self) -> Self {
        self.config.datalog_only = true;
        self
    }
}
