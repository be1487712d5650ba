//! The verified-token cache: the same bytes under changed key sets, revoked after being
//! allowed, refused and tried again, allowed for one request and tried for another.

use rand_core::OsRng;
use serde_json::json;
use warrant_core::keys::{KeySet, SigningKey};
use warrant_core::token::{mint, MintRequest};
use warrant_verifier::{DenialKind, KeyId, Request, RevocationSet};

use crate::{
    allowed, append_plain, at, bearer, bearer_verifier, denied, grant, key, mint_for, new_key,
    proven, strict_verifier, NOW,
};

fn parent() -> serde_json::Value {
    json!({"ttl": "10m", "allow": [{"resources": ["tickets/*"], "actions": ["read"]}]})
}

fn read() -> Request {
    Request::new("tickets/1", "read", NOW)
}

#[test]
fn the_same_bytes_under_changed_key_sets() {
    let t = bearer(&parent());
    let v = bearer_verifier();
    allowed(&v.verify(&t, &read()));
    let other = SigningKey::generate(&mut OsRng, Some(KeyId(1)));
    // Key id 1 now names another key: the cached verification must not count.
    v.set_keys(KeySet::single(KeyId(1), other.public()));
    denied(
        &v.verify(&t, &read()),
        DenialKind::BadSignature,
        &["signature in the token does not verify"],
    );
    // Key id 1 is gone.
    v.set_keys(KeySet::single(KeyId(2), key().public()));
    denied(
        &v.verify(&t, &read()),
        DenialKind::UnknownKey,
        &["key id `1`"],
    );
    // Back to the original: allowed again.
    v.set_keys(KeySet::single(KeyId(1), key().public()));
    allowed(&v.verify(&t, &read()));
}

#[test]
fn a_refused_token_is_refused_again_and_a_forger_cannot_warm_the_cache() {
    let forger = SigningKey::generate(&mut OsRng, Some(KeyId(1)));
    let forged = mint(
        &forger,
        MintRequest::offline(grant(&parent())),
        NOW,
        &mut OsRng,
    )
    .unwrap()
    .token
    .to_base64()
    .unwrap();
    let v = bearer_verifier();
    for _ in 0..3 {
        denied(
            &v.verify(&forged, &read()),
            DenialKind::BadSignature,
            &["altered"],
        );
    }
    // An over-budget token stays refused (the refusal is cached with it).
    let heavy = append_plain(&bearer(&parent()), "p(1); p($x) <- p($x);");
    for _ in 0..3 {
        denied(
            &v.verify(&heavy, &read()),
            DenialKind::OverBudget,
            &["is recursive"],
        );
    }
}

#[test]
fn a_cached_allow_is_not_reused_for_revocation_time_or_another_request() {
    let t = bearer(&parent());
    let v = bearer_verifier();
    allowed(&v.verify(&t, &read()));
    allowed(&v.verify(&t, &read()));
    let id = v
        .verify(&t, &read())
        .claims()
        .unwrap()
        .token_id
        .clone()
        .unwrap();
    let mut r = RevocationSet::new();
    r.revoke_token_id(&id).unwrap();
    v.set_revocations(r);
    denied(&v.verify(&t, &read()), DenialKind::Revoked, &[&id]);
    v.set_revocations(RevocationSet::new());
    allowed(&v.verify(&t, &read()));
    // Cached, but expired later, and another request is evaluated anew.
    denied(
        &v.verify(&t, &Request::new("tickets/1", "read", at(601))),
        DenialKind::Expired,
        &["expired"],
    );
    denied(
        &v.verify(&t, &Request::new("tickets/1", "delete", NOW)),
        DenialKind::RuleNotMatched,
        &["no allow rule covers action `delete`"],
    );
    // Clones share the cache and the revocations.
    let mut r = RevocationSet::new();
    r.revoke_token_id(&id).unwrap();
    v.clone().set_revocations(r);
    denied(&v.verify(&t, &read()), DenialKind::Revoked, &[&id]);
}

#[test]
fn a_cached_holder_bound_token_still_needs_a_fresh_proof() {
    let agent = new_key();
    let t = mint_for(Some(&agent), &parent());
    let v = strict_verifier();
    allowed(&v.verify(&t, &proven(&agent, &t, "tickets/1", "read")));
    denied(
        &v.verify(&t, &read()),
        DenialKind::InvalidProof,
        &["needs a DPoP proof"],
    );
    let thief = new_key();
    denied(
        &v.verify(&t, &proven(&thief, &t, "tickets/1", "read")),
        DenialKind::InvalidProof,
        &["but the token's holder is"],
    );
}
