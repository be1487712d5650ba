//! The golden vectors of `tests/data/warrant-vectors/`: every token is made again from
//! its steps and the seed, and must come out byte for byte, block for block as the file
//! records it. A biscuit-auth release that prints or serializes blocks differently, or a
//! change to how core compiles grants, fails here. (warrant-verifier's tests check the
//! decisions and that the generator still writes exactly this file.)

mod recipe;

use std::collections::BTreeSet;

use biscuit_auth::Biscuit;
use warrant_core::grant::OPERATORS;
use warrant_core::keys::HolderPublicKey;
use warrant_core::token::{decode_base64, PROFILE_VERSION};

use recipe::{
    build_token, describe_token, make_proof, manifest_text, read_manifest, seed_bytes, vectors_dir,
    Keys, Manifest, Step, FORMAT, MANIFEST,
};

const REGENERATE: &str = "if the change is intended, regenerate the vectors with `cargo run -p warrant-verifier --example vectors -- --write` and review the diff";

fn manifest() -> Manifest {
    let m = read_manifest().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.format, FORMAT);
    assert_eq!(m.profile, PROFILE_VERSION);
    m
}

fn keys(m: &Manifest) -> Keys {
    Keys::of(m).unwrap_or_else(|e| panic!("{e}"))
}

/// The file is exactly what its contents serialize to: nothing edited by hand, no field
/// unknown to the format.
#[test]
fn the_file_is_in_its_canonical_form() {
    let text = std::fs::read_to_string(vectors_dir().join(MANIFEST)).unwrap();
    assert!(manifest_text(&manifest()).unwrap() == text, "{REGENERATE}");
}

#[test]
fn the_keys_are_the_ones_the_seed_derives() {
    let m = manifest();
    let keys = keys(&m);
    assert_eq!(seed_bytes(&m.seed).unwrap().len(), 32);
    let entries = Keys::entries(&m);
    assert_eq!(keys.vectors(&entries).unwrap(), m.keys);
    for k in &m.keys {
        assert_eq!(keys.key_id(&k.name).unwrap(), k.key_id, "key `{}`", k.name);
    }
    let trusted = m.key_set["keys"].as_array().unwrap();
    assert!(!trusted.is_empty());
    for entry in trusted {
        let public = entry["public_key"].as_str().unwrap();
        assert!(
            m.keys.iter().any(|k| k.public_key == public),
            "the trusted key {public} is not among the derived keys"
        );
    }
}

#[test]
fn every_token_made_again_prints_the_recorded_blocks() {
    let m = manifest();
    let keys = keys(&m);
    for t in &m.tokens {
        let rebuilt = build_token(&keys, &t.steps).unwrap_or_else(|e| panic!("`{}`: {e}", t.name));
        let (token_id, blocks) = describe_token(&rebuilt).unwrap();
        for (i, (now, then)) in blocks.iter().zip(&t.blocks).enumerate() {
            assert_eq!(
                now, then,
                "token `{}`, block {i}: compiling the grant or printing the block changed; {REGENERATE}",
                t.name
            );
        }
        assert_eq!(blocks.len(), t.blocks.len(), "token `{}`", t.name);
        assert_eq!(token_id, t.token_id, "token `{}`", t.name);
    }
}

#[test]
fn every_token_made_again_is_the_recorded_token() {
    let m = manifest();
    let keys = keys(&m);
    for t in &m.tokens {
        let rebuilt = build_token(&keys, &t.steps).unwrap_or_else(|e| panic!("`{}`: {e}", t.name));
        assert!(
            rebuilt == t.token,
            "token `{}`: the same steps from the same seed make other bytes; {REGENERATE}",
            t.name
        );
    }
}

#[test]
fn every_recorded_token_reads_as_its_recorded_blocks() {
    let m = manifest();
    for t in &m.tokens {
        let (token_id, blocks) = describe_token(&t.token).unwrap();
        assert_eq!(token_id, t.token_id, "token `{}`", t.name);
        assert_eq!(blocks, t.blocks, "token `{}`: {REGENERATE}", t.name);
    }
}

#[test]
fn every_recorded_token_verifies_under_its_minting_key() {
    let m = manifest();
    let keys = keys(&m);
    for t in &m.tokens {
        let Some(Step::Mint { key, .. }) = t.steps.first() else {
            panic!("token `{}` does not start with a mint", t.name);
        };
        let root = keys.get(key).unwrap().public().to_biscuit().unwrap();
        let bytes = decode_base64(&t.token).unwrap();
        let token = Biscuit::from(&bytes, root)
            .unwrap_or_else(|e| panic!("token `{}` does not verify: {e}", t.name));
        assert_eq!(token.block_count(), t.blocks.len(), "token `{}`", t.name);
        let externals: Vec<Option<String>> = token
            .external_public_keys()
            .iter()
            .map(|k| {
                k.as_ref()
                    .and_then(HolderPublicKey::from_biscuit)
                    .map(|k| k.to_string())
            })
            .collect();
        let recorded: Vec<Option<String>> =
            t.blocks.iter().map(|b| b.external_key.clone()).collect();
        assert_eq!(externals, recorded, "token `{}`", t.name);
    }
}

#[test]
fn every_proof_made_again_is_the_recorded_proof() {
    let m = manifest();
    let keys = keys(&m);
    for t in &m.tokens {
        for r in &t.requests {
            let Some(p) = &r.proof else { continue };
            let proof = make_proof(
                &keys, &t.token, &p.signer, &p.method, &p.url, &r.time, &p.rng,
            )
            .unwrap();
            assert_eq!(proof, p.dpop, "token `{}`, request `{}`", t.name, r.name);
        }
    }
}

/// The vectors exercise every operator of the grant format.
#[test]
fn the_grants_use_every_operator() {
    let m = manifest();
    let mut used = BTreeSet::new();
    for t in &m.tokens {
        for step in &t.steps {
            let grant = match step {
                Step::Mint { grant, .. }
                | Step::Attenuate { grant, .. }
                | Step::Delegate { grant, .. } => grant,
                Step::AppendDatalog { .. } => continue,
            };
            for rule in ["allow", "deny"]
                .iter()
                .filter_map(|k| grant[*k].as_array())
                .flatten()
            {
                for condition in rule["when"].as_array().into_iter().flatten() {
                    let op = condition
                        .as_object()
                        .unwrap()
                        .keys()
                        .find(|k| *k != "attr")
                        .unwrap();
                    used.insert(op.clone());
                }
            }
        }
    }
    let all: BTreeSet<String> = OPERATORS.iter().map(|o| (*o).to_owned()).collect();
    assert_eq!(used, all);
}

/// The file names the biscuit-auth release the workspace pins, which printed it.
#[test]
fn the_vectors_name_the_pinned_biscuit_release() {
    let m = manifest();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let text = std::fs::read_to_string(root).unwrap();
    let pin = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("biscuit-auth = \"="))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("the workspace pins biscuit-auth with `=`");
    assert_eq!(
        m.biscuit_auth, pin,
        "the vectors were printed by another biscuit-auth; {REGENERATE}, and update `BISCUIT_AUTH` in the example's generate.rs"
    );
}
