//! The Redis replay store (feature `redis-replay`) against a real server named by
//! `WARRANT_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379/`): two replicas accept a proof
//! once, ids expire, and an unreachable store fails closed. Without the variable the
//! tests that need a server are reported as ignored (see `build.rs`), never as passed;
//! with `CI` set they fail without it.

use std::sync::Arc;
use std::time::Duration;

use rand_core::RngCore as _;
use serde_json::json;
use warrant_core::keys::PublicKey;
use warrant_verifier::{
    DenialKind, KeyId, KeySet, ProofId, RedisReplayCache, ReplayCache, ReplayCheck, Request,
    Timestamp, Verifier,
};

use crate::common::{denied_as, key, mint_for, new_key, proof_at, test_limits, NOW, URL};

const ENV: &str = "WARRANT_TEST_REDIS_URL";

/// The server's URL; panics (fails the test) when it is not set.
fn server() -> String {
    std::env::var(ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{ENV} must name a Redis server for this test"))
}

/// A key prefix of its own for each test run, so that runs never see each other's ids.
fn prefix() -> String {
    let mut bytes = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut bytes);
    format!("warrant-test:{}:", hex::encode(bytes))
}

fn replica(store: RedisReplayCache) -> Verifier {
    Verifier::builder(KeySet::single(KeyId(1), key().public()))
        .limits(test_limits())
        .replay_cache(Arc::new(store))
        .build()
}

fn req(proof: String) -> Request {
    Request::new("tickets/1", "read", NOW).with_proof(proof, "GET", URL)
}

#[test]
#[cfg_attr(
    warrant_redis_tests_ignored,
    ignore = "needs WARRANT_TEST_REDIS_URL (a Redis server)"
)]
fn two_replicas_sharing_redis_accept_a_proof_once() {
    let (url, prefix) = (server(), prefix());
    let store = || {
        RedisReplayCache::new(&url)
            .unwrap()
            .key_prefix(prefix.clone())
    };
    let (a, b) = (replica(store()), replica(store()));
    let agent = new_key();
    let token = mint_for(
        Some(&agent),
        &json!({"allow": [{"resources": ["tickets/*"], "actions": ["read"]}]}),
    );
    let proof = proof_at(&agent, &token, NOW);
    assert!(a.verify(&token, &req(proof.clone())).is_allowed());
    for (name, v) in [("the other replica", &b), ("the same replica", &a)] {
        let d = v.verify(&token, &req(proof.clone()));
        let d = denied_as(&d, DenialKind::InvalidProof);
        assert!(
            d.message().contains("already used"),
            "{name}: {}",
            d.message()
        );
    }
    // Fresh proofs are accepted by either.
    assert!(b
        .verify(&token, &req(proof_at(&agent, &token, NOW)))
        .is_allowed());
    assert!(a
        .verify(&token, &req(proof_at(&agent, &token, NOW)))
        .is_allowed());
}

#[test]
#[cfg_attr(
    warrant_redis_tests_ignored,
    ignore = "needs WARRANT_TEST_REDIS_URL (a Redis server)"
)]
fn redis_ids_expire_with_their_window() {
    let store = RedisReplayCache::new(&server())
        .unwrap()
        .key_prefix(prefix())
        .grace(Duration::ZERO);
    let holder = PublicKey::from_bytes([3; 32]);
    let (short, long) = (ProofId::new(holder, "short"), ProofId::new(holder, "long"));
    let now = Timestamp::from_unix(1_000);
    // `short`'s window ends now: kept for the rest of this second; `long`'s in a minute.
    assert_eq!(store.first_use(&short, now, now), ReplayCheck::First);
    assert_eq!(
        store.first_use(
            &long,
            now.plus(warrant_core::time::Span::from_seconds(60)),
            now
        ),
        ReplayCheck::First
    );
    assert_eq!(store.first_use(&short, now, now), ReplayCheck::Replayed);
    std::thread::sleep(Duration::from_millis(1_300));
    assert_eq!(store.first_use(&short, now, now), ReplayCheck::First);
    assert_eq!(
        store.first_use(&long, now, now),
        ReplayCheck::Replayed,
        "the long window is not over"
    );
}

/// Needs no server: nothing listens on port 1.
#[test]
fn an_unreachable_redis_fails_closed() {
    let store = RedisReplayCache::new("redis://127.0.0.1:1/")
        .unwrap()
        .timeout(Duration::from_millis(200));
    let holder = PublicKey::from_bytes([4; 32]);
    let id = ProofId::new(holder, "j");
    let now = Timestamp::from_unix(1_000);
    for _ in 0..2 {
        let r = store.first_use(&id, now, now);
        assert!(
            matches!(&r, ReplayCheck::Unavailable(why) if why.contains("did not answer")),
            "{r:?}"
        );
    }
    let v = replica(store);
    let agent = new_key();
    let token = mint_for(
        Some(&agent),
        &json!({"allow": [{"resources": ["tickets/*"], "actions": ["read"]}]}),
    );
    let d = v.verify(&token, &req(proof_at(&agent, &token, NOW)));
    let d = denied_as(&d, DenialKind::ReplayCacheUnavailable);
    assert!(
        d.message().contains("the DPoP replay cache is unavailable"),
        "{}",
        d.message()
    );
    assert!(!d.message().contains("already used"), "{}", d.message());
    assert!(RedisReplayCache::new("not a url").is_err());
}
