//! The verified-token cache under working sets of distinct tokens:
//! `cargo bench -p warrant-verifier --bench cache`.
//!
//! A verifier with a capacity of 1 000 tokens meets working sets of 500, 1 000 and 2 000
//! distinct tokens (the bench token's shape: an authority block with the design's grant
//! and 2 attenuations), in cyclic and in random order. After one pass that fills the
//! cache, it counts the lookups not served from the cache (the verifier's miss counter)
//! and the verifications per second. Then it measures the heap each cached token takes,
//! with a counting global allocator: bytes allocated minus bytes freed while N tokens are
//! verified into an empty cache, divided by N, for tokens sharing their grants (one role,
//! the usual case) and for tokens whose every block has its own grant (the worst case),
//! and how much of it the cache frees when cleared. It asserts a hit rate of at least
//! 99 % up to the capacity, and that the cache's estimate of each entry's heap (its
//! weight) is not below the heap its entries free; it prints whether the 4 096 bytes per
//! token of issue 11 are met.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a bench whose setup fails stops, naming what failed"
)]

use std::alloc::System;
use std::time::Instant;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use warrant_core::grant::Grant;
use warrant_core::keys::{KeyId, KeySet, SigningKey};
use warrant_core::time::Timestamp;
use warrant_core::token::{attenuate, decode_unverified, encode, mint, MintRequest};
use warrant_verifier::{Request, Verifier};

/// Counts every allocation and free (bytes allocated minus bytes freed).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CAPACITY: usize = 1_000;

/// The ticket token `i` is for: the same for every token (`Grants::Shared`: tokens of
/// one role, the usual case), or its own (`Grants::Distinct`: every block of every token
/// has a grant no other token has, the worst case for the cache's heap).
#[derive(Clone, Copy, Debug)]
enum Grants {
    Shared,
    Distinct,
}

fn ticket(grants: Grants, i: usize) -> String {
    match grants {
        Grants::Shared => "123".to_owned(),
        Grants::Distinct => format!("{}", 1_000 + i),
    }
}

/// `n` distinct tokens of the bench token's shape (3 blocks); their grants as `grants`
/// says (token `i` grants ticket [`ticket`]`(grants, i)`).
fn tokens(key: &SigningKey, now: Timestamp, n: usize, grants: Grants) -> Vec<String> {
    let mut rng = rand_core::OsRng;
    (0..n)
        .map(|i| {
            let t = ticket(grants, i);
            let grant = Grant::from_json_str(
                &warrant_test::design_grant("1h").replace("tickets/123/", &format!("tickets/{t}/")),
            )
            .expect("grant");
            let narrower = [
                r#"{"ttl": "50m", "allow": [{"resources": ["tickets/T/*", "orders/*"], "actions": ["read", "refund"]}]}"#,
                r#"{"ttl": "40m", "allow": [{"resources": ["tickets/T/email_address"], "actions": ["read"]}]}"#,
            ]
            .map(|g| Grant::from_json_str(&g.replace("tickets/T/", &format!("tickets/{t}/"))).expect("narrower"));
            let mut req = MintRequest::offline(grant);
            req.human = Some("alice".into());
            let minted = mint(key, req, now, &mut rng).expect("mint");
            let mut token =
                decode_unverified(&minted.token.to_base64().expect("b64")).expect("decode");
            for g in &narrower {
                token = attenuate(&token, g.clone(), now, &mut rng).expect("attenuate");
            }
            encode(&token)
        })
        .collect()
}

/// A small xorshift: the random order, the same every run.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[derive(Clone, Copy, Debug)]
enum Order {
    Cyclic,
    Random,
}

/// Hit rate and verifications per second of a fresh verifier over `set`.
fn run(keys: &KeySet, set: &[String], request: &Request, order: Order) -> (f64, f64) {
    let verifier = Verifier::builder(keys.clone())
        .dangerous_accept_bearer()
        .cache_capacity(CAPACITY)
        .build();
    // One pass fills the cache (the compulsory misses are not counted).
    for t in set {
        assert!(verifier.verify(t, request).is_allowed());
    }
    let lookups = set.len() * 8;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let misses = verifier.cache_misses();
    let started = Instant::now();
    for i in 0..lookups {
        let at = match order {
            Order::Cyclic => i % set.len(),
            Order::Random => usize::try_from(next(&mut state) % set.len() as u64).unwrap(),
        };
        assert!(verifier.verify(&set[at], request).is_allowed());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let missed = verifier.cache_misses() - misses;
    (
        1.0 - missed as f64 / lookups as f64,
        lookups as f64 / elapsed,
    )
}

/// Heap of cached tokens, per token.
struct Heap {
    /// Live bytes after verifying the set into an empty cache, less before.
    total: f64,
    /// What the cache frees when it is cleared: its entries' own heap.
    entries: f64,
    /// What stays live once the cache is cleared: the cache's slots and the grant
    /// memo's entries (bounded by its capacity, whatever the cache holds).
    retained: f64,
    /// The cache's own estimate (its weight).
    estimate: f64,
}

/// The heap per cached token of `set`, verified into an empty cache (token `i` against
/// `request(i)`).
fn heap_per_token(keys: &KeySet, set: &[String], request: impl Fn(usize) -> Request) -> Heap {
    let verifier = Verifier::builder(keys.clone())
        .dangerous_accept_bearer()
        .cache_capacity(set.len() * 2)
        .build();
    // Warm whatever is allocated once (the first verification's lazy statics).
    let probe = Verifier::builder(keys.clone())
        .dangerous_accept_bearer()
        .build();
    assert!(probe.verify(&set[0], &request(0)).is_allowed());
    drop(probe);
    let requests: Vec<Request> = (0..set.len()).map(request).collect();
    let replacement = keys.clone();
    // (A reallocation is counted in both as its growth or shrinkage.)
    let live = |region: &Region<'_, System>| {
        let change = region.change();
        change.bytes_allocated as f64 - change.bytes_deallocated as f64
    };
    let region = Region::new(GLOBAL);
    for (t, r) in set.iter().zip(&requests) {
        assert!(verifier.verify(t, r).is_allowed());
    }
    let cached = live(&region);
    let (held, weight) = verifier.cache_usage();
    assert_eq!(held, set.len(), "every token stays cached");
    // New keys clear the cache (the same keys: the memo stays).
    verifier.set_keys(replacement);
    assert_eq!(verifier.cache_usage().0, 0);
    let retained = live(&region);
    let n = set.len() as f64;
    Heap {
        total: cached / n,
        entries: (cached - retained) / n,
        retained: retained / n,
        estimate: weight as f64 / n,
    }
}

fn main() {
    let mut rng = rand_core::OsRng;
    let key = SigningKey::generate(&mut rng, Some(KeyId(1)));
    let keys = KeySet::single(KeyId(1), key.public());
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let started = Instant::now();
    let all = tokens(&key, now, 2 * CAPACITY, Grants::Shared);
    eprintln!(
        "cache: capacity {CAPACITY} tokens; {} distinct 3-block tokens of {} base64 characters minted in {:.1}s",
        all.len(),
        all[0].len(),
        started.elapsed().as_secs_f64()
    );
    let request_for = |grants: Grants, i: usize| {
        Request::new(
            format!("tickets/{}/email_address", ticket(grants, i)),
            "read",
            now,
        )
        .with_attr("ticket.status", "open")
        .with_audience("support-api")
    };
    let request = request_for(Grants::Shared, 0);
    let mut failed = Vec::new();
    for (label, size) in [
        ("0.5x", CAPACITY / 2),
        ("1x", CAPACITY),
        ("2x", 2 * CAPACITY),
    ] {
        for order in [Order::Cyclic, Order::Random] {
            let (hit_rate, per_second) = run(&keys, &all[..size], &request, order);
            eprintln!(
                "cache: working set {label} capacity ({size} tokens), {order:?}: hit rate {:.2} %, {:.0} verifications/s",
                hit_rate * 100.0,
                per_second
            );
            if size <= CAPACITY && hit_rate < 0.99 {
                failed.push(format!("hit rate {hit_rate:.4} at {label} {order:?}"));
            }
        }
    }
    // Heap per cached token when the tokens share their grants (one role: the memo's
    // copy of each grant serves them all) and when every block's grant is its own.
    let distinct = tokens(&key, now, CAPACITY, Grants::Distinct);
    for (grants, set) in [
        (Grants::Shared, &all[..CAPACITY]),
        (Grants::Distinct, &distinct[..]),
    ] {
        let Heap {
            total,
            entries,
            retained,
            estimate,
        } = heap_per_token(&keys, set, |i| request_for(grants, i));
        eprintln!(
            "cache: grants {grants:?}: heap per cached token {total:.0} bytes (counting allocator, {CAPACITY} tokens), of which {entries:.0} freed with its entry and {retained:.0} kept when the cache is cleared (its slots and the grant memo, at most {} grants); the cache's estimate {estimate:.0} bytes",
            warrant_core::decompile::memo::GRANT_MEMO_ENTRIES
        );
        // The issue's target is 4 096 bytes (the token text alone is 2 000), for tokens
        // of one role; said, not asserted.
        eprintln!(
            "cache: grants {grants:?}: target <= 4096 bytes per cached token: {}",
            if total <= 4096.0 { "met" } else { "MISSED" }
        );
        if estimate < entries {
            failed.push(format!(
                "grants {grants:?}: the cache's estimate {estimate:.0} is below the measured {entries:.0} bytes"
            ));
        }
    }
    assert!(failed.is_empty(), "targets missed: {failed:?}");
}
