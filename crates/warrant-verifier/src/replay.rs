//! The DPoP replay cache: a proof's `jti` is accepted once within its validity window.
//!
//! A proof is identified by a [`ProofId`], a 128-bit digest of its holder's key and its
//! `jti`. [`ReplayCache::first_use`] records one and says whether it was seen before
//! ([`ReplayCheck::Replayed`]), or that it could not be recorded at all
//! ([`ReplayCheck::Full`], [`ReplayCheck::Unavailable`]): the verifier refuses the proof in
//! every case but the first, and says which it was.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};
use warrant_core::keys::HolderPublicKey;
use warrant_core::time::Timestamp;

/// The identity of a DPoP proof in a replay cache: the first 128 bits of the SHA-256 of
/// the holder's key and the proof's `jti` (domain-separated). Keyed by holder, someone
/// who sees a proof in flight cannot use up its `jti` with a proof of their own; being a
/// digest, every id has the same 16 bytes whatever the `jti`'s length, and the same value
/// in every replica (a shared store needs no shared secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProofId([u8; 16]);

impl ProofId {
    /// The id of a proof with `jti` by `holder` (Ed25519 or P-256).
    ///
    /// ```
    /// use warrant_core::keys::SigningKey;
    /// use warrant_verifier::ProofId;
    ///
    /// let (a, b) = (SigningKey::generate(&mut rand_core::OsRng, None), SigningKey::generate(&mut rand_core::OsRng, None));
    /// assert_eq!(ProofId::new(a.public(), "j1"), ProofId::new(a.public(), "j1"));
    /// assert_ne!(ProofId::new(a.public(), "j1"), ProofId::new(b.public(), "j1"));
    /// assert_eq!(ProofId::new(a.public(), "j1").to_hex().len(), 32);
    /// ```
    pub fn new(holder: impl Into<HolderPublicKey>, jti: &str) -> Self {
        let mut h = Sha256::new();
        // An Ed25519 holder's ids are what they were before P-256 holders; a P-256
        // holder's have a domain of their own.
        match holder.into() {
            HolderPublicKey::Ed25519(k) => {
                h.update(b"warrant/dpop-jti/v1\0");
                h.update(k.to_bytes());
            }
            HolderPublicKey::P256(k) => {
                h.update(b"warrant/dpop-jti/v1/secp256r1\0");
                h.update(k.to_compressed());
            }
        }
        h.update(jti.as_bytes());
        let mut id = [0u8; 16];
        for (to, from) in id.iter_mut().zip(h.finalize()) {
            *to = from;
        }
        Self(id)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The 16 bytes in lowercase hex (32 characters), for a store keyed by text.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// What a replay cache says of a proof id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayCheck {
    /// Not seen within its window: now recorded as used. The only outcome that accepts.
    First,
    /// Recorded before and not expired: the proof is a replay.
    Replayed,
    /// The cache holds as many live ids as it may: nothing was recorded and the proof is
    /// refused (fail closed) though it may well be fresh. The reason is one line naming the
    /// limit and the next step.
    Full(String),
    /// The cache could not be asked (a shared store unreachable, timing out or
    /// answering an error): nothing is known, the proof is refused (fail closed). The
    /// reason is one line.
    Unavailable(String),
}

/// Remembers proof ids until they expire. Pluggable, so that the replicas of an API can
/// share one (the feature `redis-replay` ships `RedisReplayCache`; a database works too):
/// implement it and pass it to [`crate::VerifierBuilder::replay_cache`].
///
/// It is called synchronously inside [`crate::Verifier::verify`], once per holder-bound
/// request that passed every other check.
pub trait ReplayCache: Send + Sync + std::fmt::Debug {
    /// Records `id` as used until `until` (inclusive: a request at `until` still sees it);
    /// says [`ReplayCheck::First`] if it was not recorded or had expired before `now`,
    /// [`ReplayCheck::Replayed`] if it is live, and [`ReplayCheck::Full`] or
    /// [`ReplayCheck::Unavailable`] when it cannot be recorded: it must never say `First`
    /// without having recorded the id, nor `Replayed` for an id it does not hold.
    fn first_use(&self, id: &ProofId, until: Timestamp, now: Timestamp) -> ReplayCheck;
}

/// The default replay cache: in memory, bounded, with ids grouped by the second their
/// window ends so that they are forgotten a bucket at a time once that second is past
/// (plus [`EXPIRY_GRACE_SECONDS`]); no scan over live ids, ever.
///
/// Memory (computed from the layout): a live id costs a hash-map slot (16-byte id, 8-byte
/// expiry, one control byte, at 44 to 88 % load: 28 to 57 bytes) and 16 to 32 bytes in
/// its expiry bucket: 44 to 89 bytes, about 60. A proof's id is live for the proof window
/// past its `iat` (60 s by default) plus the grace: at a sustained `R` proofs a second,
/// about `R × 65` ids with the default window, e.g. 10 000 proofs/s: 650 000 ids, about
/// 40 MB.
#[derive(Debug)]
pub struct MemoryReplayCache {
    shards: Vec<Mutex<Shard>>,
    capacity: usize,
    live: AtomicUsize,
}

#[derive(Debug, Default)]
struct Shard {
    /// Each live id and the last second it is used until.
    ids: HashMap<ProofId, u64>,
    /// Ids by the second their window ends, oldest first.
    expiry: VecDeque<(u64, Vec<ProofId>)>,
}

const SHARDS: usize = 64;

/// How long after its window an id is kept anyway: request times that go back by up to
/// this much (threads racing, a clock stepped back) cannot reopen a replay.
pub const EXPIRY_GRACE_SECONDS: u64 = 5;

/// How many live proof ids the default cache holds: 4 000 000, about 240 MB when full
/// (memory grows with the live ids, not with this bound). At the default 60-second window
/// that is about 60 000 fresh proofs a second, sustained: since each proof costs at least
/// one Ed25519 verification (about 40 µs of a core), more than a verifier on a few cores
/// can check. Raise it for more.
pub const DEFAULT_REPLAY_CAPACITY: usize = 4_000_000;

impl MemoryReplayCache {
    /// A cache of at most `capacity` live proof ids. When it is full of ids that have not
    /// expired, new proofs are refused ([`ReplayCheck::Full`]) rather than old ids
    /// forgotten: forgetting would let those proofs be replayed. Memory grows with the
    /// live ids, not with the capacity.
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            capacity,
            live: AtomicUsize::new(0),
        }
    }

    /// How many ids it holds now (live ones, and expired ones not yet dropped).
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Whether it holds no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, id: &ProofId) -> Option<&Mutex<Shard>> {
        self.shards.get(usize::from(id.0[0]) % SHARDS)
    }

    /// Drops the buckets of `shard` whose second is over (with the grace) at `now`.
    fn expire(&self, shard: &mut Shard, now: u64) {
        while let Some((second, _)) = shard.expiry.front() {
            if second.saturating_add(EXPIRY_GRACE_SECONDS) >= now {
                break;
            }
            let Some((second, ids)) = shard.expiry.pop_front() else {
                break;
            };
            let mut dropped = 0;
            for id in ids {
                // Only if it was not recorded again since, for a later second.
                if shard.ids.get(&id).is_some_and(|&until| until <= second) {
                    shard.ids.remove(&id);
                    dropped += 1;
                }
            }
            self.live.fetch_sub(dropped, Ordering::Relaxed);
        }
    }

    /// Reserves room for one more id, dropping every shard's expired buckets first if the
    /// cache looks full.
    fn reserve(&self, now: u64, locked: &mut Shard) -> bool {
        if self.live.fetch_add(1, Ordering::Relaxed) < self.capacity {
            return true;
        }
        self.live.fetch_sub(1, Ordering::Relaxed);
        self.expire(locked, now);
        for shard in &self.shards {
            // The caller's own shard is locked already (and expired just now).
            if let Ok(mut s) = shard.try_lock() {
                self.expire(&mut s, now);
            }
        }
        if self.live.fetch_add(1, Ordering::Relaxed) < self.capacity {
            return true;
        }
        self.live.fetch_sub(1, Ordering::Relaxed);
        false
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn first_use(&self, id: &ProofId, until: Timestamp, now: Timestamp) -> ReplayCheck {
        let Some(shard) = self.shard(id) else {
            return ReplayCheck::Unavailable("the replay cache has no shards".to_owned());
        };
        let (until, now) = (until.unix(), now.unix());
        let mut s = shard.lock().unwrap_or_else(PoisonError::into_inner);
        self.expire(&mut s, now);
        let fresh = match s.ids.get(id) {
            Some(&recorded) if recorded >= now => return ReplayCheck::Replayed,
            Some(_) => false,
            None => true,
        };
        if fresh && !self.reserve(now, &mut s) {
            return ReplayCheck::Full(format!(
                "it holds {} live proof ids, its capacity: raise the capacity of `MemoryReplayCache::new` (about 60 bytes an id) or shorten the proof window",
                self.capacity
            ));
        }
        s.ids.insert(*id, until);
        // Buckets stay sorted by second; nearly every id goes to the last one.
        let at = s.expiry.partition_point(|(second, _)| *second < until);
        match s.expiry.get_mut(at) {
            Some((second, ids)) if *second == until => ids.push(*id),
            _ => s.expiry.insert(at, (until, vec![*id])),
        }
        ReplayCheck::First
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warrant_core::keys::SigningKey;

    fn id(n: u64) -> ProofId {
        let holder = warrant_core::keys::PublicKey::from_bytes([7; 32]);
        ProofId::new(holder, &format!("jti-{n}"))
    }

    fn t(s: u64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[test]
    fn a_jti_is_accepted_once_until_it_expires() {
        let c = MemoryReplayCache::new(100);
        assert_eq!(c.first_use(&id(1), t(1060), t(1000)), ReplayCheck::First);
        assert_eq!(c.first_use(&id(1), t(1060), t(1000)), ReplayCheck::Replayed);
        assert_eq!(c.first_use(&id(1), t(1070), t(1060)), ReplayCheck::Replayed);
        assert_eq!(c.first_use(&id(2), t(1060), t(1000)), ReplayCheck::First);
        // After its expiry the id is forgotten (the proof itself is refused as too old),
        // even while its bucket is kept for the grace.
        assert_eq!(c.first_use(&id(1), t(2000), t(1061)), ReplayCheck::First);
        assert_eq!(c.first_use(&id(1), t(2000), t(1100)), ReplayCheck::Replayed);
        // Dropping the old bucket does not forget the id recorded again for later.
        assert_eq!(c.first_use(&id(3), t(1999), t(1990)), ReplayCheck::First);
        assert_eq!(c.first_use(&id(1), t(2000), t(1990)), ReplayCheck::Replayed);
        assert!(
            c.len() <= 3,
            "expired ids are dropped as their shards are used"
        );
    }

    #[test]
    fn ids_are_per_holder_and_jti() {
        let a = SigningKey::generate(&mut rand_core::OsRng, None).public();
        let b = SigningKey::generate(&mut rand_core::OsRng, None).public();
        assert_ne!(ProofId::new(a, "x"), ProofId::new(b, "x"));
        assert_ne!(ProofId::new(a, "x"), ProofId::new(a, "y"));
        let c = MemoryReplayCache::new(10);
        assert_eq!(
            c.first_use(&ProofId::new(a, "x"), t(60), t(0)),
            ReplayCheck::First
        );
        assert_eq!(
            c.first_use(&ProofId::new(b, "x"), t(60), t(0)),
            ReplayCheck::First
        );
    }

    /// An Ed25519 holder's ids are what they were before P-256 holders (a shared store
    /// keeps them across the upgrade); a P-256 holder's are its own.
    #[test]
    fn ids_of_both_algorithms_are_apart_and_ed25519_ids_unchanged() {
        use warrant_core::keys::{HolderSigner as _, P256SigningKey};
        let ed = warrant_core::keys::PublicKey::from_bytes([7; 32]);
        assert_eq!(
            ProofId::new(ed, "x").to_hex(),
            "b9dcb0c659a4be363fedca009fd9fb60"
        );
        let p = P256SigningKey::generate(&mut rand_core::OsRng).holder_key();
        let q = P256SigningKey::generate(&mut rand_core::OsRng).holder_key();
        assert_ne!(ProofId::new(p, "x"), ProofId::new(q, "x"));
        assert_ne!(ProofId::new(p, "x"), ProofId::new(p, "y"));
        assert_ne!(ProofId::new(p, "x"), ProofId::new(ed, "x"));
    }

    #[test]
    fn a_full_cache_says_so_and_frees_expired_ids() {
        let c = MemoryReplayCache::new(16);
        for i in 0..16 {
            assert_eq!(c.first_use(&id(i), t(1060), t(1000)), ReplayCheck::First);
        }
        // Full: a fresh id is refused as such, never as a replay; a live one is a replay.
        let full = c.first_use(&id(99), t(1060), t(1000));
        assert!(
            matches!(&full, ReplayCheck::Full(why) if why.contains("16 live proof ids")),
            "{full:?}"
        );
        assert_eq!(c.first_use(&id(3), t(1060), t(1000)), ReplayCheck::Replayed);
        // Once their window (and the grace) is over, every shard's expired ids make room.
        let later = t(1060 + EXPIRY_GRACE_SECONDS + 1);
        for i in 100..116 {
            assert_eq!(c.first_use(&id(i), t(1120), later), ReplayCheck::First);
        }
        assert_eq!(c.len(), 16);
        assert!(matches!(
            c.first_use(&id(99), t(1120), later),
            ReplayCheck::Full(_)
        ));
    }

    #[test]
    fn a_burst_of_fresh_ids_within_one_window_is_accepted_by_the_default_cache() {
        // The old default cache (100 000 ids in 16 fixed shards) refused fresh ids from
        // about 98 400 on, calling them "already used".
        let c = MemoryReplayCache::default();
        for i in 0..250_000u64 {
            assert_eq!(
                c.first_use(&id(i), t(1060), t(1000)),
                ReplayCheck::First,
                "id {i}"
            );
        }
        assert_eq!(c.first_use(&id(7), t(1060), t(1030)), ReplayCheck::Replayed);
        assert_eq!(c.len(), 250_000);
    }

    #[test]
    fn a_steady_rate_keeps_going_window_after_window() {
        // 1 000 fresh ids a second for 200 s, 60-second windows: about 66 000 live ids at
        // any time, so a capacity of 70 000 holds; ids expire a bucket at a time.
        let c = MemoryReplayCache::new(70_000);
        for i in 0..200_000u64 {
            let now = 1000 + i / 1000;
            assert_eq!(
                c.first_use(&id(i), t(now + 60), t(now)),
                ReplayCheck::First,
                "id {i}"
            );
        }
        assert!(c.len() <= 67_000, "{}", c.len());
    }
}
