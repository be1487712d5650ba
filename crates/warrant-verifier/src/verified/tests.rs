//! Verification without Biscuit's parsed token against `Biscuit::from`: the conformance
//! samples, warrant tokens, and both mutated (bytes flipped, blocks swapped, chains cut).

use super::*;
use prost::Message as _;
use warrant_core::grant::Grant;
use warrant_core::keys::SigningKey;
use warrant_core::time::Timestamp;
use warrant_core::token::{attenuate, decode_unverified, delegate, mint, MintRequest};

fn samples() -> (PublicKey, Vec<Vec<u8>>) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/biscuit-samples");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("samples.json")).unwrap()).unwrap();
    let root: [u8; 32] = hex::decode(doc["root_public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let tokens = doc["testcases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| std::fs::read(dir.join(t["filename"].as_str().unwrap())).unwrap())
        .collect();
    (PublicKey::from_bytes(root), tokens)
}

/// Warrant tokens: attenuated twice, and holder-bound and delegated.
fn warrant_tokens(key: &SigningKey) -> Vec<Vec<u8>> {
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let grant = Grant::from_json_str(
        r#"{"audience": ["api"], "allow": [{"resources": ["a/*"], "actions": ["read"]}]}"#,
    )
    .unwrap();
    let minted = mint(
        key,
        MintRequest::offline(grant.clone()),
        now,
        &mut rand_core::OsRng,
    )
    .unwrap()
    .token;
    let mut t = decode_unverified(&minted.to_base64().unwrap()).unwrap();
    let mut out = vec![t.to_vec().unwrap()];
    let narrower = Grant::from_json_str(
        r#"{"ttl": "5m", "allow": [{"resources": ["a/x"], "actions": ["read"]}]}"#,
    )
    .unwrap();
    for _ in 0..2 {
        t = attenuate(&t, narrower.clone(), now, &mut rand_core::OsRng).unwrap();
        out.push(t.to_vec().unwrap());
    }
    let agent = SigningKey::generate(&mut rand_core::OsRng, None);
    let mut req = MintRequest::offline(grant);
    req.holder = Some(agent.public().into());
    let bound = mint(key, req, now, &mut rand_core::OsRng).unwrap().token;
    let bound = decode_unverified(&bound.to_base64().unwrap()).unwrap();
    let sub = SigningKey::generate(&mut rand_core::OsRng, None).public();
    let bound = delegate(
        &bound,
        &agent,
        sub,
        Grant::default(),
        now,
        &mut rand_core::OsRng,
    )
    .unwrap();
    out.push(bound.to_vec().unwrap());
    out
}

/// `bytes` and variants: bytes flipped, blocks swapped, the chain cut short.
fn mutations(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![bytes.to_vec()];
    for i in (0..bytes.len()).step_by(41) {
        let mut b = bytes.to_vec();
        b[i] ^= 0x01;
        out.push(b);
    }
    if let Ok(token) = schema::Biscuit::decode(bytes) {
        if token.blocks.len() >= 2 {
            let mut swapped = token.clone();
            swapped.blocks.swap(0, 1);
            out.push(swapped.encode_to_vec());
        }
        if let Some(first) = token.blocks.first() {
            let mut promoted = token.clone();
            promoted.authority = first.clone();
            out.push(promoted.encode_to_vec());
        }
        let mut cut = token.clone();
        if cut.blocks.pop().is_some() {
            out.push(cut.encode_to_vec());
        }
    }
    out
}

#[test]
fn verification_without_biscuits_token_accepts_exactly_what_biscuit_accepts() {
    let key = SigningKey::generate(&mut rand_core::OsRng, None);
    let (sample_root, samples) = samples();
    let cases = samples
        .into_iter()
        .map(|b| (sample_root, b))
        .chain(warrant_tokens(&key).into_iter().map(|b| (key.public(), b)));
    let (mut accepted, mut refused) = (0, 0);
    for (root, original) in cases {
        let trusted = Trusted::Single(root);
        for bytes in mutations(&original) {
            let biscuit = Biscuit::from(&bytes, root.to_biscuit().unwrap()).is_ok();
            // The path a profile token takes: the chain verified, the blocks read as data.
            let chain = verify_signatures(&bytes, &trusted).is_ok();
            assert!(chain || !biscuit, "refused a chain Biscuit accepts");
            let read = schema::Biscuit::decode(bytes.as_slice())
                .map_err(|_| ())
                .and_then(|t| read_decoded(&t).map_err(|_| ()))
                .is_ok();
            assert!(!(chain && read) || biscuit, "accepted what Biscuit refuses");
            if root == key.public() {
                let verified = VerifiedToken::verify(&bytes, &trusted, None, false).is_ok();
                assert_eq!(
                    verified, biscuit,
                    "a warrant token, verified or not as Biscuit"
                );
            }
            if biscuit {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
    }
    assert!(
        accepted > 20 && refused > 100,
        "{accepted} accepted, {refused} refused"
    );
}

/// The root key converted last is remembered (`biscuit_key`): a token is still checked
/// against the key trusted now, never against the one converted before it.
#[test]
fn each_verification_checks_the_key_trusted_now() {
    let (signer, other) = (
        SigningKey::generate(&mut rand_core::OsRng, None),
        SigningKey::generate(&mut rand_core::OsRng, None),
    );
    let token = warrant_tokens(&signer).remove(0);
    let by = |k: &SigningKey| Trusted::Single(k.public());
    for _ in 0..2 {
        assert!(VerifiedToken::verify(&token, &by(&signer), None, false).is_ok());
        let refused = VerifiedToken::verify(&token, &by(&other), None, false);
        assert!(
            refused.is_err(),
            "a token is refused under a key that did not sign it"
        );
    }
    assert_eq!(biscuit_key(other.public()), other.public().to_biscuit());
    assert_eq!(biscuit_key(signer.public()), signer.public().to_biscuit());
    assert_eq!(biscuit_key(signer.public()), signer.public().to_biscuit());
}
