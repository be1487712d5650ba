//! The cache of verified tokens.
//!
//! Keyed by the token exactly as it was presented (its text for [`crate::Verifier::verify`],
//! its bytes for [`crate::Verifier::verify_bytes`]) and the key-set version it verified
//! under. A lookup hashes the presented text with a fast keyed hash and compares it byte
//! for byte with the stored copy: a hit neither decodes base64 nor computes a digest, and
//! can only return the verification of the very same text. The cache inserts only what
//! [`VerifiedToken::verify`] returns for those bytes, so it cannot hold bytes that were
//! never verified. What it keeps does not depend on the request; expiry, revocation,
//! audience and every rule are evaluated again on every request.
//!
//! It is a `quick_cache` (sharded S3-FIFO: scan resistant, no cliff when the working set
//! reaches the capacity), weighted by an estimate of each entry's heap bytes against a
//! budget of [`TOKEN_BUDGET_BYTES`] per token of capacity, with headroom for the uneven
//! filling of its shards.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::{Equivalent, OptionsBuilder, Weighter};

use crate::decision::Denial;
use crate::verified::{Trusted, VerifiedToken};

/// The heap a token of the warrant profile may take in the cache: `cache_capacity(n)`
/// bounds the cache to about `n` times this (plus [`HEADROOM_PERCENT`]).
pub(crate) const TOKEN_BUDGET_BYTES: u64 = 10 * 1024;

/// Extra weight capacity over `n × TOKEN_BUDGET_BYTES`, so that `n` tokens fit although
/// the hash spreads them unevenly over the shards.
const HEADROOM_PERCENT: u64 = 25;

/// The fewest tokens of capacity per shard: with fewer, the uneven spread of a working set
/// over the shards would exceed the headroom and evict tokens below the capacity.
const MIN_TOKENS_PER_SHARD: u64 = 1024;

/// How a token was presented: the same token as text and as bytes are two entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Form {
    /// Base64 text (surrounding whitespace trimmed).
    Text,
    /// Raw bytes.
    Bytes,
}

/// A stored key: the presented token, owned.
#[derive(Debug, PartialEq, Eq)]
struct Key {
    version: u64,
    form: Form,
    presented: Box<[u8]>,
}

/// A lookup key: the presented token, borrowed.
#[derive(Debug, Clone, Copy)]
struct Probe<'a> {
    version: u64,
    form: Form,
    presented: &'a [u8],
}

impl Probe<'_> {
    fn owned(self) -> Key {
        Key {
            version: self.version,
            form: self.form,
            presented: self.presented.into(),
        }
    }
}

// `Key` and `Probe` hash alike (the `Equivalent` contract): through `Probe`.
impl Hash for Probe<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.version.hash(state);
        self.form.hash(state);
        self.presented.hash(state);
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Probe {
            version: self.version,
            form: self.form,
            presented: &self.presented,
        }
        .hash(state);
    }
}

impl Equivalent<Key> for Probe<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.version == key.version && self.form == key.form && *self.presented == *key.presented
    }
}

/// An entry's weight: the estimated heap bytes of its key and its verified token.
#[derive(Debug, Clone, Copy)]
struct HeapWeighter;

impl Weighter<Key, Arc<VerifiedToken>> for HeapWeighter {
    fn weight(&self, key: &Key, token: &Arc<VerifiedToken>) -> u64 {
        entry_weight(key.presented.len(), token)
    }
}

/// The estimated heap bytes of an entry whose key is `presented` bytes long.
pub(crate) fn entry_weight(presented: usize, token: &VerifiedToken) -> u64 {
    u64::try_from(presented)
        .unwrap_or(u64::MAX)
        .saturating_add(token.heap_estimate())
        .max(1)
}

/// A bounded, concurrent cache of verified tokens.
#[derive(Debug)]
pub(crate) struct TokenCache {
    /// `None` when the capacity is 0: nothing is cached.
    cache: Option<Cache<Key, Arc<VerifiedToken>, HeapWeighter>>,
    /// Whether cached tokens keep their parsed Biscuit even when their every block is in
    /// the profile (a verifier that evaluates everything with Datalog).
    keep_biscuit: bool,
    misses: AtomicU64,
}

impl TokenCache {
    /// A cache of `capacity` tokens of the warrant profile (0 disables caching).
    pub(crate) fn new(capacity: usize, keep_biscuit: bool) -> Self {
        let tokens = u64::try_from(capacity).unwrap_or(u64::MAX);
        let weight = tokens
            .saturating_mul(TOKEN_BUDGET_BYTES)
            .saturating_mul(100 + HEADROOM_PERCENT)
            / 100;
        let shards = std::thread::available_parallelism()
            .map_or(4, |n| n.get().saturating_mul(4))
            .min(usize::try_from(tokens / MIN_TOKENS_PER_SHARD).unwrap_or(usize::MAX))
            .max(1);
        let cache = (capacity > 0)
            .then(|| {
                OptionsBuilder::new()
                    .estimated_items_capacity(capacity)
                    .weight_capacity(weight)
                    .shards(shards)
                    .build()
                    .ok()
            })
            .flatten()
            .map(|options| {
                Cache::with_options(
                    options,
                    HeapWeighter,
                    Default::default(),
                    Default::default(),
                )
            });
        Self {
            cache,
            keep_biscuit,
            misses: AtomicU64::new(0),
        }
    }

    /// The verified token for `presented` (the token text when `form` is [`Form::Text`],
    /// else its bytes; `bytes` are the token's bytes either way): from the cache, or
    /// verified now and cached. Returns whether it came from the cache. `bytes` is called
    /// only on a miss.
    pub(crate) fn get_or_verify<'a>(
        &self,
        form: Form,
        presented: &[u8],
        bytes: impl FnOnce() -> Result<std::borrow::Cow<'a, [u8]>, Box<Denial>>,
        version: u64,
        trusted: &Trusted,
    ) -> Result<(Arc<VerifiedToken>, bool), Box<Denial>> {
        let probe = Probe {
            version,
            form,
            presented,
        };
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(&probe)) {
            return Ok((hit, true));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let bytes = bytes()?;
        let verified = Arc::new(VerifiedToken::verify(&bytes, trusted)?.cached(self.keep_biscuit));
        if let Some(c) = &self.cache {
            c.insert(probe.owned(), Arc::clone(&verified));
        }
        Ok((verified, false))
    }

    /// Forgets every token.
    pub(crate) fn clear(&self) {
        if let Some(c) = &self.cache {
            c.clear();
        }
    }

    /// Lookups that were not served from the cache (verified anew), since the start.
    pub(crate) fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// How many tokens the cache holds, and their total weight in estimated bytes.
    pub(crate) fn usage(&self) -> (usize, u64) {
        self.cache
            .as_ref()
            .map_or((0, 0), |c| (c.len(), c.weight()))
    }
}
