//! The DPoP replay cache: a proof's `jti` is accepted once within its validity window.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use warrant_core::time::Timestamp;

/// Remembers proof ids (`jti`) until they expire. Pluggable, so that the replicas of an
/// API can share one (a database or a cache server): implement it and pass it to
/// [`crate::VerifierBuilder::replay_cache`].
pub trait ReplayCache: Send + Sync + std::fmt::Debug {
    /// Records `jti` (qualified by the holder key: `<x>:<jti>`) as used until `until`;
    /// returns `false` if it was already recorded and has not expired (a replay), or if it
    /// cannot be recorded (fail closed).
    fn first_use(&self, jti: &str, until: Timestamp, now: Timestamp) -> bool;
}

/// The default replay cache: in memory, sharded, bounded.
#[derive(Debug)]
pub struct MemoryReplayCache {
    shards: Vec<Mutex<HashMap<String, Timestamp>>>,
    per_shard: usize,
}

const SHARDS: usize = 16;

/// How many proof ids the default cache holds: at the default 60-second window, enough
/// for about 800 proofs a second, sustained.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

impl MemoryReplayCache {
    /// A cache of at most `capacity` live proof ids. When it is full of ids that have not
    /// expired, new proofs are refused rather than old ids forgotten: forgetting would let
    /// those proofs be replayed.
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl ReplayCache for MemoryReplayCache {
    #[expect(
        clippy::indexing_slicing,
        reason = "`new` makes `SHARDS` shards and the index is taken modulo `SHARDS`"
    )]
    fn first_use(&self, jti: &str, until: Timestamp, now: Timestamp) -> bool {
        let shard = jti.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        }) % SHARDS;
        let mut map = self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(expiry) = map.get(jti) {
            if *expiry >= now {
                return false;
            }
        }
        if map.len() >= self.per_shard {
            map.retain(|_, expiry| *expiry >= now);
            if map.len() >= self.per_shard {
                return false;
            }
        }
        map.insert(jti.to_owned(), until);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_accepted_once_until_it_expires() {
        let c = MemoryReplayCache::new(100);
        let t = Timestamp::from_unix(1000);
        assert!(c.first_use("a", Timestamp::from_unix(1060), t));
        assert!(!c.first_use("a", Timestamp::from_unix(1060), t));
        assert!(c.first_use("b", Timestamp::from_unix(1060), t));
        // After its expiry the id is forgotten (the proof itself is refused as too old).
        assert!(c.first_use("a", Timestamp::from_unix(2000), Timestamp::from_unix(1061)));
    }

    #[test]
    fn a_full_cache_fails_closed_and_frees_expired_ids() {
        let c = MemoryReplayCache::new(16);
        let t = Timestamp::from_unix(1000);
        let accepted = (0..200)
            .filter(|i| c.first_use(&format!("id{i}"), Timestamp::from_unix(1060), t))
            .count();
        assert!(accepted < 200, "bounded");
        assert!(accepted >= 16);
        let later = Timestamp::from_unix(1061);
        assert!(
            c.first_use("fresh", Timestamp::from_unix(1120), later),
            "expired ids make room"
        );
    }
}
