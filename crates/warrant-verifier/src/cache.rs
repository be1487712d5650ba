//! The cache of verified tokens.
//!
//! Keyed by the token exactly as it was presented (its text for [`crate::Verifier::verify`],
//! its bytes for [`crate::Verifier::verify_bytes`]) and the key-set version it verified
//! under. A lookup hashes the presented token's last [`TAIL_BYTES`] with a fast keyed hash
//! and compares the whole presented token byte for byte with the stored copy: a hit
//! neither decodes base64 nor computes a digest, and can only return the verification of
//! the very same text. The cache inserts only what [`VerifiedToken::verify`] returns for
//! those bytes, so it cannot hold bytes that were never verified. What it keeps does not
//! depend on the request; expiry, revocation, audience and every rule are evaluated again
//! on every request.
//!
//! Why the tail: a token ends with its proof (the last block's secret key, or the final
//! signature, drawn or signed anew for every token by the issuer and honest holders), so
//! two tokens share their last bytes only when one holder writes one token in several ways
//! that still verify, or reuses a last secret on purpose (such tokens evict each other). Such texts
//! share one slot: inserting one removes the others first, so nobody can pile texts onto
//! one hash (the hash is keyed anyway); and hashing 128 bytes instead of a 2 KB token
//! takes a hit of the bench's 3-block token from 2,969 to 2,166 instructions.
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
use crate::verified::{Memo, Trusted, VerifiedToken};

/// The heap a token of the warrant profile may take in the cache: `cache_capacity(n)`
/// bounds the cache to about `n` times this (plus [`HEADROOM_PERCENT`]). The bench's
/// 3-block token is estimated at 7.1 KB, its grants counted as its own.
pub(crate) const TOKEN_BUDGET_BYTES: u64 = 8 * 1024;

/// Extra weight capacity over `n × TOKEN_BUDGET_BYTES`, so that `n` tokens fit although
/// the hash spreads them unevenly over the shards.
const HEADROOM_PERCENT: u64 = 25;

/// The fewest tokens of capacity per shard: with fewer, the uneven spread of a working set
/// over the shards would exceed the headroom and evict tokens below the capacity.
const MIN_TOKENS_PER_SHARD: u64 = 1024;

/// How many bytes at the end of a presented token address its slot in the cache (see the
/// module's note): the proof of a token of the profile is its last 36 bytes (48 base64
/// characters).
const TAIL_BYTES: usize = 128;

/// The last [`TAIL_BYTES`] of `presented` (all of it when shorter).
fn tail(presented: &[u8]) -> &[u8] {
    presented
        .get(presented.len().saturating_sub(TAIL_BYTES)..)
        .unwrap_or(presented)
}

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

// `Key`, `Probe` and `Slot` hash alike (the `Equivalent` contract): by their version, form
// and tail, through `Probe`.
impl Hash for Probe<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.version.hash(state);
        self.form.hash(state);
        tail(self.presented).hash(state);
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.probe().hash(state);
    }
}

impl Key {
    fn probe(&self) -> Probe<'_> {
        Probe {
            version: self.version,
            form: self.form,
            presented: &self.presented,
        }
    }
}

/// A lookup finds only the very same presented token.
impl Equivalent<Key> for Probe<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.version == key.version && self.form == key.form && *self.presented == *key.presented
    }
}

/// Every entry whose presented token ends like this one (its slot): removed before an
/// insertion, so that a slot holds one entry.
#[derive(Debug, Clone, Copy)]
struct Slot<'a>(Probe<'a>);

impl Hash for Slot<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl Equivalent<Key> for Slot<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        let k = key.probe();
        self.0.version == k.version
            && self.0.form == k.form
            && tail(self.0.presented) == tail(k.presented)
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
    /// Grants recognised before, so a new token carrying one skips its decompilation.
    memo: Memo,
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
            memo: Memo::default(),
            misses: AtomicU64::new(0),
        }
    }

    /// The verified token for `presented` (the token text when `form` is [`Form::Text`],
    /// else its bytes) under key-set `version`, if the cache holds it.
    pub(crate) fn get(
        &self,
        form: Form,
        presented: &[u8],
        version: u64,
    ) -> Option<Arc<VerifiedToken>> {
        self.cache.as_ref()?.get(&Probe {
            version,
            form,
            presented,
        })
    }

    /// Verifies `presented` (whose bytes `bytes` returns) against `trusted`, the keys of
    /// `version`, and caches the verified token: a lookup that missed.
    pub(crate) fn verify<'a>(
        &self,
        form: Form,
        presented: &[u8],
        bytes: impl FnOnce() -> Result<std::borrow::Cow<'a, [u8]>, Denial>,
        version: u64,
        trusted: &Trusted,
    ) -> Result<Arc<VerifiedToken>, Denial> {
        self.misses.fetch_add(1, Ordering::Relaxed);
        let bytes = bytes()?;
        let verified = Arc::new(
            VerifiedToken::verify(&bytes, trusted, Some(&self.memo), self.keep_biscuit)?
                .cached(self.keep_biscuit),
        );
        if let Some(c) = &self.cache {
            let probe = Probe {
                version,
                form,
                presented,
            };
            // One entry per slot (the module's note). Concurrent insertions into one slot
            // can leave one entry each; the next insertion there removes them all. Only
            // resident entries are removed: the slot's ghost (the memory of an evicted
            // entry) stays, so a token coming back after an eviction is kept as a
            // returning one, as S3-FIFO means it to be, and a scan cannot push it out.
            while c.remove_if(&Slot(probe), |_| true).is_some() {}
            c.insert(probe.owned(), Arc::clone(&verified));
        }
        Ok(verified)
    }

    /// [`Self::get`], or else [`Self::verify`]; and whether it came from the cache.
    #[cfg(test)]
    pub(crate) fn get_or_verify<'a>(
        &self,
        form: Form,
        presented: &[u8],
        bytes: impl FnOnce() -> Result<std::borrow::Cow<'a, [u8]>, Denial>,
        version: u64,
        trusted: &Trusted,
    ) -> Result<(Arc<VerifiedToken>, bool), Denial> {
        match self.get(form, presented, version) {
            Some(hit) => Ok((hit, true)),
            None => Ok((
                self.verify(form, presented, bytes, version, trusted)?,
                false,
            )),
        }
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use warrant_core::grant::Grant;
    use warrant_core::keys::{KeyId, KeySet, SigningKey};
    use warrant_core::token::{mint, MintRequest};

    use super::*;

    fn tokens(key: &SigningKey, n: usize) -> Vec<Vec<u8>> {
        let g = Grant::from_json_str(r#"{"allow": [{"resources": ["r"], "actions": ["read"]}]}"#)
            .unwrap();
        (0..n)
            .map(|_| {
                mint(
                    key,
                    MintRequest::offline(g.clone()),
                    warrant_test::NOW,
                    &mut rand_core::OsRng,
                )
                .unwrap()
                .token
                .to_vec()
                .unwrap()
            })
            .collect()
    }

    fn get(cache: &TokenCache, trusted: &Trusted, t: &[u8]) -> (Arc<VerifiedToken>, bool) {
        cache
            .get_or_verify(Form::Bytes, t, || Ok(Cow::Borrowed(t)), 0, trusted)
            .unwrap()
    }

    #[test]
    fn the_capacity_bounds_the_cache_and_the_rest_is_verified_again() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let trusted = Trusted::Set(KeySet::single(KeyId(1), key.public()));
        let all = tokens(&key, 80);
        // Room for a few small tokens only.
        let cache = TokenCache::new(4, false);
        for t in &all {
            assert!(!get(&cache, &trusted, t).1);
        }
        let (held, weight) = cache.usage();
        assert!(held < all.len(), "{held} tokens held");
        assert!(weight <= 4 * TOKEN_BUDGET_BYTES * (100 + HEADROOM_PERCENT) / 100);
        let misses = cache.misses();
        let hits = all.iter().filter(|t| get(&cache, &trusted, t).1).count();
        assert_eq!(cache.misses() - misses, (all.len() - hits) as u64);
        assert!(hits < all.len(), "evicted tokens are verified again");
        // Nothing is kept at capacity 0.
        let off = TokenCache::new(0, false);
        assert!(!get(&off, &trusted, &all[0]).1);
        assert!(!get(&off, &trusted, &all[0]).1);
        assert_eq!(off.usage(), (0, 0));
    }

    #[test]
    fn tokens_presented_alike_at_the_end_share_one_slot() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let trusted = Trusted::Set(KeySet::single(KeyId(1), key.public()));
        let both = tokens(&key, 2);
        let (t, u) = (&both[0], &both[1]);
        let cache = TokenCache::new(100, false);
        // Ways of presenting the same token that differ only before its tail (as text
        // written in several ways would): each is verified, and each replaces the last.
        let variants: Vec<Vec<u8>> = (0..50u8)
            .map(|i| {
                let mut v = t.clone();
                v[0] = i;
                v
            })
            .collect();
        let probe = |p: &[u8]| {
            cache
                .get_or_verify(Form::Bytes, p, || Ok(Cow::Borrowed(t)), 0, &trusted)
                .unwrap()
                .1
        };
        for v in &variants {
            assert!(!probe(v), "never presented before: verified");
            assert!(probe(v), "presented again: a hit");
        }
        assert_eq!(cache.usage().0, 1, "one slot, one entry");
        // Only the last one is still held; the first is verified again.
        assert!(probe(&variants[49]));
        assert!(!probe(&variants[0]));
        // Another token is another slot.
        assert!(!get(&cache, &trusted, u).1);
        assert!(get(&cache, &trusted, u).1);
        assert!(probe(&variants[0]), "verified again, it took the slot back");
        assert_eq!(cache.usage().0, 2);
        // A version or form of its own is another slot too.
        let other = cache
            .get_or_verify(Form::Text, u, || Ok(Cow::Borrowed(u)), 0, &trusted)
            .unwrap();
        assert!(!other.1);
        assert_eq!(cache.usage().0, 3);
    }

    #[test]
    fn an_entry_weighs_its_text_and_more_when_it_keeps_its_biscuit() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let trusted = Trusted::Set(KeySet::single(KeyId(1), key.public()));
        let t = &tokens(&key, 1)[0];
        let slim = VerifiedToken::verify(t, &trusted, None, false)
            .unwrap()
            .cached(false);
        let kept = VerifiedToken::verify(t, &trusted, None, true)
            .unwrap()
            .cached(true);
        assert!(slim.token.is_none() && kept.token.is_some());
        let (w_slim, w_kept) = (entry_weight(t.len(), &slim), entry_weight(t.len(), &kept));
        assert!(w_slim > t.len() as u64);
        assert!(w_kept > w_slim + 8 * t.len() as u64, "{w_kept} vs {w_slim}");
        // A profile token of the bench's size fits the budget of one token.
        assert!(w_slim <= TOKEN_BUDGET_BYTES, "{w_slim}");
    }
}
