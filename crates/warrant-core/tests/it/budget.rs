//! The evaluation budget against Biscuit itself: the fuzzing seeds of `adversarial_block`
//! replayed, and random blocks (the fuzz target's generator, driven by proptest) that the
//! budget accepts evaluated within a time bound.

use std::time::Duration;

use proptest::prelude::*;

#[path = "../../../../fuzz/adversarial.rs"]
mod adversarial;

use adversarial::Outcome;

/// Generous: debug builds are 10 to 30 times slower than release, where the worst
/// accepted block measured a few milliseconds (see the module doc of `budget`).
const BOUND: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(2)
} else {
    Duration::from_millis(100)
};

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/seeds/adversarial_block"
    );
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_adversarial_block_seeds_replay() {
    let seeds = seeds();
    assert!(seeds.len() >= 8, "the seeds are there");
    let mut refused = 0;
    let mut evaluated = 0;
    for (name, data) in &seeds {
        let outcome = adversarial::run(data, BOUND);
        eprintln!("{name}: {outcome:?}");
        // Every attack seed must be refused, every benign one evaluated.
        let stem = name.rsplit('/').next().unwrap();
        match outcome {
            Outcome::Refused => refused += 1,
            Outcome::Evaluated(_) => evaluated += 1,
            Outcome::Skipped => {}
        }
        if stem.starts_with("benign") {
            assert!(
                matches!(outcome, Outcome::Evaluated(_)),
                "{name}: {outcome:?}"
            );
        } else if stem.ends_with(".dl") {
            assert_eq!(outcome, Outcome::Refused, "{name}");
        }
    }
    assert!(
        refused >= 6 && evaluated >= 2,
        "{refused} refused, {evaluated} evaluated"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn accepted_blocks_evaluate_quickly(
        head in 0x80u8..=0xff,
        data in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut input = vec![head];
        input.extend(data);
        // Panics (a failed property) when an accepted block is slow or an error names a
        // block that does not exist.
        adversarial::run(&input, BOUND);
    }
}

/// The property above is not vacuous: the generator's blocks parse, and the budget both
/// accepts and refuses some of them.
#[test]
fn the_generator_reaches_both_outcomes() {
    let (mut refused, mut evaluated, mut skipped) = (0, 0, 0);
    let mut state = 0x9e37_79b9_u32;
    for _ in 0..200 {
        let input: Vec<u8> = std::iter::once(0x80)
            .chain((0..120).map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            }))
            .collect();
        match adversarial::run(&input, BOUND) {
            Outcome::Refused => refused += 1,
            Outcome::Evaluated(_) => evaluated += 1,
            Outcome::Skipped => skipped += 1,
        }
    }
    eprintln!("{refused} refused, {evaluated} evaluated, {skipped} skipped");
    assert!(
        refused >= 10 && evaluated >= 5,
        "{refused} refused, {evaluated} evaluated, {skipped} skipped"
    );
}
