//! The golden vectors of `tests/data/warrant-vectors/`: every recorded request gets its
//! recorded decision, and the generator (the `vectors` example) still writes exactly the
//! checked-in file, so it cannot go stale. (warrant-core's tests make every token again
//! and compare its bytes and printed blocks.)

use std::collections::BTreeSet;

#[path = "../../../warrant-core/tests/it/vectors/recipe.rs"]
#[expect(dead_code, reason = "shared with warrant-core's tests and the example")]
mod recipe;

#[path = "../../examples/vectors/cases.rs"]
mod cases;
#[path = "../../examples/vectors/cases_p256.rs"]
mod cases_p256;
#[path = "../../examples/vectors/generate.rs"]
mod generate;
#[path = "../../examples/vectors/spec.rs"]
mod spec;

use recipe::{manifest_text, read_manifest, vectors_dir, Expect, MANIFEST};

const REGENERATE: &str =
    "regenerate the vectors with `cargo run -p warrant-verifier --example vectors -- --write` and review the diff";

#[test]
fn every_request_gets_its_recorded_decision() {
    let m = read_manifest().unwrap_or_else(|e| panic!("{e}"));
    for t in &m.tokens {
        for r in &t.requests {
            let decided = generate::decide(&m.key_set, &t.token, r).unwrap();
            assert_eq!(
                decided, r.expect,
                "token `{}`, request `{}`: the verifier's decision changed; if that is intended, {REGENERATE}",
                t.name, r.name
            );
        }
    }
}

#[test]
fn the_generator_writes_the_checked_in_vectors() {
    let generated = manifest_text(&generate::generate().unwrap_or_else(|e| panic!("{e}"))).unwrap();
    let path = vectors_dir().join(MANIFEST);
    let file = std::fs::read_to_string(&path).unwrap();
    if generated != file {
        let line = generated
            .lines()
            .zip(file.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| generated.lines().count().min(file.lines().count()));
        panic!(
            "{} differs from what the generator writes, first at line {}: {REGENERATE}",
            path.display(),
            line + 1
        );
    }
}

/// The vectors show every decision a token can earn by its contents and the request.
#[test]
fn the_vectors_cover_every_denial_a_token_can_earn() {
    let m = read_manifest().unwrap();
    let mut kinds = BTreeSet::new();
    for r in m.tokens.iter().flat_map(|t| &t.requests) {
        kinds.insert(match &r.expect {
            Expect::Allowed { .. } => "allowed".to_owned(),
            Expect::Denied { kind, .. } => kind.clone(),
        });
    }
    let wanted = [
        "allowed",
        "audience",
        "bad_signature",
        "bearer_refused",
        "check_failed",
        "denied_by_rule",
        "expired",
        "invalid_delegation",
        "invalid_proof",
        "invalid_request",
        "missing_attribute",
        "not_yet_valid",
        "revoked",
        "rule_not_matched",
        "unknown_key",
    ];
    let wanted: BTreeSet<String> = wanted.iter().map(|k| (*k).to_owned()).collect();
    let missing: Vec<_> = wanted.difference(&kinds).collect();
    assert!(missing.is_empty(), "no request is denied with {missing:?}");
}

/// The vectors hold P-256 holders: an `ES256` proof accepted for a token bound to a P-256
/// key (the claims giving the key's recorded thumbprint), and a delegation block signed by
/// a P-256 holder.
#[test]
fn the_vectors_cover_p256_holders() {
    use base64::Engine as _;
    let m = read_manifest().unwrap();
    let thumbprint = |key: &str| {
        m.keys
            .iter()
            .find(|k| k.public_key == key)
            .map(|k| k.jwk_thumbprint.clone())
            .unwrap_or_else(|| panic!("{key} is not among the keys"))
    };
    let mut es256_allowed = 0;
    for t in &m.tokens {
        for r in &t.requests {
            let (
                Expect::Allowed {
                    holder: Some(holder),
                    ..
                },
                Some(proof),
            ) = (&r.expect, &r.proof)
            else {
                continue;
            };
            let header = proof.dpop.split('.').next().unwrap();
            let header: serde_json::Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(header)
                    .unwrap(),
            )
            .unwrap();
            let alg = if holder.starts_with("secp256r1/") {
                "ES256"
            } else {
                "EdDSA"
            };
            assert_eq!(
                header["alg"], alg,
                "token `{}`, request `{}`",
                t.name, r.name
            );
            let decision = generate::verifier_for(&m.key_set, &r.verifier)
                .unwrap()
                .verify(&t.token, &generate::request_for(r).unwrap());
            let claims = decision.claims().expect("allowed");
            assert_eq!(
                claims.holder_thumbprint.as_deref(),
                Some(thumbprint(holder).as_str()),
                "token `{}`, request `{}`",
                t.name,
                r.name
            );
            es256_allowed += usize::from(alg == "ES256");
        }
    }
    assert!(es256_allowed >= 2, "ES256 proofs accepted: {es256_allowed}");
    let p256_signed = m
        .tokens
        .iter()
        .flat_map(|t| &t.blocks)
        .filter(|b| {
            b.external_key
                .as_deref()
                .is_some_and(|k| k.starts_with("secp256r1/"))
        })
        .count();
    assert!(
        p256_signed >= 1,
        "no delegation block is signed by a P-256 holder"
    );
}
