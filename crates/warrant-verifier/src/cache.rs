//! The cache of verified tokens.
//!
//! It inserts only what [`VerifiedToken::verify`] returns for the very bytes whose digest
//! becomes the key, so it cannot hold bytes that were never verified. What it keeps is only
//! what does not depend on the request; expiry, revocation, audience and every rule are
//! evaluated again on every request.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;
use sha2::{Digest, Sha256};

use warrant_core::decompile::GrantMemo;

use crate::decision::Denial;
use crate::verified::{Trusted, VerifiedToken};

/// Cache key: the SHA-256 of the token bytes and the key-set version they verified under.
type Key = ([u8; 32], u64);

const SHARDS: usize = 16;

/// A bounded LRU of verified tokens, sharded to keep lock contention low.
#[derive(Debug)]
pub(crate) struct TokenCache {
    shards: Vec<Mutex<LruCache<Key, Arc<VerifiedToken>>>>,
    /// Grants recognised before, so a new token carrying one skips its decompilation.
    memo: GrantMemo,
    /// Whether verified tokens keep their parsed Biscuit (a verifier evaluating every
    /// token with Datalog).
    keep_biscuit: bool,
}

impl TokenCache {
    /// A cache of about `capacity` tokens (0 disables caching).
    pub(crate) fn new(capacity: usize, keep_biscuit: bool) -> Self {
        let per_shard = capacity.div_ceil(SHARDS);
        let shards = match NonZeroUsize::new(per_shard) {
            Some(n) => (0..SHARDS).map(|_| Mutex::new(LruCache::new(n))).collect(),
            None => Vec::new(),
        };
        Self {
            shards,
            memo: GrantMemo::default(),
            keep_biscuit,
        }
    }

    /// The verified token for `bytes`: from the cache, or verified now and cached.
    /// Returns whether it came from the cache.
    pub(crate) fn get_or_verify(
        &self,
        bytes: &[u8],
        version: u64,
        trusted: &Trusted,
    ) -> Result<(Arc<VerifiedToken>, bool), Box<Denial>> {
        let key: Key = (Sha256::digest(bytes).into(), version);
        // No shards when the capacity is 0: nothing is cached.
        let Some(shard) = self.shards.get(usize::from(key.0[0]) % SHARDS) else {
            return Ok((
                Arc::new(VerifiedToken::verify(
                    bytes,
                    trusted,
                    Some(&self.memo),
                    self.keep_biscuit,
                )?),
                false,
            ));
        };
        if let Some(hit) = shard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Ok((Arc::clone(hit), true));
        }
        let verified = Arc::new(VerifiedToken::verify(
            bytes,
            trusted,
            Some(&self.memo),
            self.keep_biscuit,
        )?);
        shard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .put(key, Arc::clone(&verified));
        Ok((verified, false))
    }

    /// Forgets every token.
    pub(crate) fn clear(&self) {
        for s in &self.shards {
            s.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }
}
