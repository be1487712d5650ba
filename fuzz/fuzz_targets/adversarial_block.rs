// Run: cargo +nightly fuzz run adversarial_block   (from the repository root)
// One Datalog block (text, or bytes driving a generator) appended to a minted token: when
// the evaluation budget accepts it, Biscuit must evaluate it within the time bound.
#![no_main]

#[allow(dead_code, reason = "shared with warrant-core's tests; this target uses part of it")]
#[path = "../adversarial.rs"]
mod adversarial;

/// Generous for an instrumented (sanitizer, debug assertions) build; the budget aims at
/// a few milliseconds in release.
const BOUND: std::time::Duration = std::time::Duration::from_millis(500);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    adversarial::run(data, BOUND);
});
