//! A replay cache shared by the replicas of an API, in Redis (feature `redis-replay`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::ConnectionLike as _;
use warrant_core::time::Timestamp;

use crate::replay::{ProofId, ReplayCache, ReplayCheck, EXPIRY_GRACE_SECONDS};

/// The default time allowed to connect to Redis, and for each command's round trip.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(100);

/// A [`ReplayCache`] in Redis: every replica of an API that uses the same server (and key
/// prefix) accepts a proof id once, whichever replica sees it first.
///
/// Each check is one atomic command, `SET <prefix><id> 1 NX PX <ms>`: it records the id
/// unless it is there, and Redis forgets it once the proof's window (plus a grace for
/// clocks that differ between replicas) is over. The time to live is relative to the
/// request time, so the store's own clock does not matter.
///
/// **It blocks the calling thread** for that round trip: `Verifier::verify` is
/// synchronous, so on an async runtime the worker waits, at most the timeout (100 ms by
/// default) per attempt. Connections are opened lazily, kept, and opened again after any
/// error; on any error or timeout the proof is refused as [`ReplayCheck::Unavailable`]
/// (fail closed), so an API whose Redis is down refuses holder-bound requests with 503
/// rather than accepting replays.
///
/// ```no_run
/// use std::sync::Arc;
/// use warrant_verifier::{KeyId, KeySet, RedisReplayCache, Verifier};
/// # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
///
/// let replay = RedisReplayCache::new("redis://127.0.0.1:6379/")?.key_prefix("support-api:dpop:");
/// let verifier = Verifier::builder(KeySet::single(KeyId(1), key.public()))
///     .replay_cache(Arc::new(replay))
///     .build();
/// # Ok::<(), warrant_verifier::RedisReplayError>(())
/// ```
pub struct RedisReplayCache {
    client: redis::Client,
    /// Open connections, each used by one call at a time; `None` until (re)opened.
    connections: Vec<Mutex<Option<redis::Connection>>>,
    next: AtomicUsize,
    timeout: Duration,
    prefix: String,
    grace: u64,
}

/// A Redis URL that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "the Redis replay store's URL is not usable ({0}): give one like `redis://127.0.0.1:6379/`"
)]
pub struct RedisReplayError(String);

impl std::fmt::Debug for RedisReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection info may hold a password: only the address is shown.
        f.debug_struct("RedisReplayCache")
            .field(
                "addr",
                &self.client.get_connection_info().addr().to_string(),
            )
            .field("connections", &self.connections.len())
            .field("timeout", &self.timeout)
            .field("prefix", &self.prefix)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl RedisReplayCache {
    /// A store at `url` (`redis://[user:password@]host:port/db`); nothing is connected
    /// until the first proof. Defaults: the key prefix `warrant:dpop:`, a timeout of 100
    /// ms, a grace of 5 s past each window, as many connections as the machine has cores.
    pub fn new(url: &str) -> Result<Self, RedisReplayError> {
        let client = redis::Client::open(url).map_err(|e| RedisReplayError(e.to_string()))?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Ok(Self {
            client,
            connections: (0..cores).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            timeout: DEFAULT_REDIS_TIMEOUT,
            prefix: "warrant:dpop:".to_owned(),
            grace: EXPIRY_GRACE_SECONDS,
        })
    }

    /// The time allowed to connect and for each round trip (default 100 ms). Zero is
    /// taken as 1 ms: a connection without a timeout could block a request forever.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// What every key starts with (default `warrant:dpop:`): APIs that must not share
    /// proof ids use different prefixes (ids are per holder already).
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long an id is kept past its proof's window (default 5 s): at least the largest
    /// difference between the replicas' clocks, or a proof could be replayed to a
    /// replica whose clock is behind once the others' window is over.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace.as_secs();
        self
    }

    /// How many connections to keep (default: the number of cores; at least 1). A call
    /// waits for its connection when another call is using it.
    #[must_use]
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = (0..n.max(1)).map(|_| Mutex::new(None)).collect();
        self
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let c = self.client.get_connection_with_timeout(self.timeout)?;
        c.set_read_timeout(Some(self.timeout))?;
        c.set_write_timeout(Some(self.timeout))?;
        Ok(c)
    }

    /// `SET key 1 NX PX ms` on a connection of the pool, (re)connecting first if needed;
    /// a connection that failed is dropped, to be opened again by the next call.
    fn set_nx(&self, key: &str, ms: u64) -> Result<redis::Value, String> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len().max(1);
        let Some(slot) = self.connections.get(i) else {
            return Err("it has no connection".to_owned());
        };
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let mut conn = match slot.take() {
            Some(c) if c.is_open() => c,
            _ => self.connect().map_err(|e| e.to_string())?,
        };
        let answer = redis::cmd("SET")
            .arg(key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ms)
            .query::<redis::Value>(&mut conn);
        if answer.is_ok() {
            *slot = Some(conn);
        }
        answer.map_err(|e| e.to_string())
    }
}

impl ReplayCache for RedisReplayCache {
    fn first_use(&self, id: &ProofId, until: Timestamp, now: Timestamp) -> ReplayCheck {
        // Live while the request time is at most `until`: one second past its start, and
        // the grace.
        let seconds = until
            .unix()
            .saturating_sub(now.unix())
            .saturating_add(1)
            .saturating_add(self.grace);
        let key = format!("{}{}", self.prefix, id.to_hex());
        match self.set_nx(&key, seconds.saturating_mul(1000)) {
            Ok(redis::Value::Okay) => ReplayCheck::First,
            Ok(redis::Value::SimpleString(s)) if s == "OK" => ReplayCheck::First,
            Ok(redis::Value::Nil) => ReplayCheck::Replayed,
            Ok(other) => ReplayCheck::Unavailable(format!(
                "the Redis replay store answered `SET … NX` with {other:?}: check that it is Redis 2.6.12 or later"
            )),
            Err(e) => ReplayCheck::Unavailable(format!(
                "the Redis replay store did not answer ({e}): check that it is running and reachable"
            )),
        }
    }
}
