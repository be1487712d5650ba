//! Safe defaults, defined once.

use std::time::Duration;

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

/// How many verified tokens the signature cache keeps (least recently used evicted first).
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// Default clock skew: none. A positive skew evaluates a token's time checks as if the
/// request came that much earlier (see [`crate::Verifier::with_clock_skew`]).
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::ZERO;

/// The largest token accepted, checked before any parsing (bytes after base64 decoding).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = warrant_core::token::MAX_TOKEN_BYTES;
