//! Holder-bound tokens under attack: DPoP proofs by the wrong key, for another request,
//! too old, replayed; delegation blocks the holder did not sign; widening delegations;
//! and the holder chain read back by plain Biscuit and revoked by holder.

use base64::Engine as _;
use proptest::prelude::*;
use proptest::sample::select;
use rand_core::OsRng;
use serde_json::{json, Value as J};
use warrant_core::compile::{compile, CompileContext};
use warrant_core::dpop::create_proof;
use warrant_core::grant::Grant;
use warrant_core::keys::{PublicKey, SigningKey};
use warrant_core::time::Timestamp;
use warrant_core::token::{attenuate, decode_unverified, delegate, encode, TokenError};
use warrant_verifier::{
    Decision, DenialKind, KeyId, KeySet, Request, RevocationSet, Signer, Verifier, VerifierBuilder,
};

use crate::common::{
    append_plain, append_third_party, at, biscuit, biscuit_allows, denied_as, grant, holder_fact,
    key, mint_for, new_key, proof_at, test_limits, NOW, URL,
};

/// A verifier trusting [`key`] that refuses bearer tokens (the default).
fn strict() -> Verifier {
    strict_builder().build()
}

fn strict_builder() -> VerifierBuilder {
    Verifier::builder(KeySet::single(KeyId(1), key().public())).limits(test_limits())
}

fn parent_grant() -> J {
    json!({"allow": [{"resources": ["tickets/*"], "actions": ["read"]}]})
}

/// `from` (the current holder) hands `text` on to `to`, narrowing by `narrowing`.
fn delegate_to(text: &str, from: &SigningKey, to: &SigningKey, narrowing: Option<&J>) -> String {
    let token = decode_unverified(text).unwrap();
    let g = narrowing.map(grant).unwrap_or_default();
    encode(&delegate(&token, from, to.public(), g, NOW, &mut OsRng).unwrap())
}

/// `read` of `resource` at [`NOW`] with a fresh proof by `signer` for `GET URL`.
fn read_by(signer: &SigningKey, token: &str, resource: &str) -> Request {
    Request::new(resource, "read", NOW).with_proof(proof_at(signer, token, NOW), "GET", URL)
}

fn allowed(d: &Decision) {
    assert!(d.is_allowed(), "expected allowed, got {d:?}");
}

fn assert_contains(message: &str, part: &str) {
    assert!(
        message.contains(part),
        "`{message}` does not contain `{part}`"
    );
}

/// The profile v1 holder fact (`holder("ed25519/…")`), which an attacker may try too: no
/// v2 holder chain accepts it.
fn holder_fact_v1(k: &SigningKey) -> String {
    format!("holder(\"{}\");", k.public())
}

// 1.
#[test]
fn a_proof_signed_by_another_key_is_refused() {
    let (agent, thief) = (new_key(), new_key());
    let token = mint_for(Some(&agent), &parent_grant());
    let v = strict();
    allowed(&v.verify(&token, &read_by(&agent, &token, "tickets/1")));

    // The thief signs a proof with their own key.
    let d = v.verify(&token, &read_by(&thief, &token, "tickets/1"));
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(
        d.message(),
        &format!(
            "signed by `{}`, but the token's holder is `{}`",
            thief.public(),
            agent.public()
        ),
    );

    // Or puts the holder's key in the header and signs with their own.
    let honest = proof_at(&thief, &token, NOW);
    let mut parts: Vec<String> = honest.split('.').map(str::to_owned).collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut header: J = serde_json::from_slice(&b64.decode(&parts[0]).unwrap()).unwrap();
    header["jwk"] = agent.public().to_jwk();
    parts[0] = b64.encode(header.to_string());
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    parts[2] = b64.encode(thief.sign(signing_input.as_bytes()));
    let forged = parts.join(".");
    let req = Request::new("tickets/1", "read", NOW).with_proof(forged, "GET", URL);
    let d = v.verify(&token, &req);
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "signature does not verify");

    // Or sends no proof at all, or garbage.
    let d = v.verify(&token, &Request::new("tickets/1", "read", NOW));
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "needs a DPoP proof");
    assert_contains(d.message(), &agent.public().to_string());
    let req = Request::new("tickets/1", "read", NOW).with_proof("not.a.proof", "GET", URL);
    let d = v.verify(&token, &req);
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "malformed");
}

// 2.
#[test]
fn the_previous_holder_cannot_use_the_delegated_token() {
    let (agent, sub) = (new_key(), new_key());
    let parent = mint_for(Some(&agent), &parent_grant());
    let child = delegate_to(&parent, &agent, &sub, None);
    let v = strict();
    let d = v.verify(&child, &read_by(&agent, &child, "tickets/1"));
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(
        d.message(),
        &format!(
            "signed by `{}`, but the token's holder is `{}`",
            agent.public(),
            sub.public()
        ),
    );
    allowed(&v.verify(&child, &read_by(&sub, &child, "tickets/1")));
    // Neither can the new holder use the parent token.
    let d = v.verify(&parent, &read_by(&sub, &parent, "tickets/1"));
    denied_as(&d, DenialKind::InvalidProof);
    // And the old holder cannot delegate the child again.
    let e = delegate(
        &decode_unverified(&child).unwrap(),
        &agent,
        agent.public(),
        Grant::default(),
        NOW,
        &mut OsRng,
    )
    .unwrap_err();
    assert!(matches!(e, TokenError::NotHolder { .. }), "{e}");
}

// 3.
#[test]
fn a_thief_cannot_rebind_with_a_plain_block() {
    let (agent, thief) = (new_key(), new_key());
    let token = mint_for(Some(&agent), &parent_grant());
    let v = strict();

    // Raw Datalog naming the thief (outside the warrant profile: Biscuit's path).
    let raw = append_plain(&token, &holder_fact(&thief));
    // The same in the profile v1 form (a string): not a v2 holder, still refused.
    let raw_v1 = append_plain(&token, &holder_fact_v1(&thief));
    // The same block a delegation would make, but appended as a plain attenuation
    // (inside the profile: the native path).
    let narrowing = grant(&json!({"allow": [{"resources": ["tickets/1"], "actions": ["read"]}]}));
    let (compiled, _) = compile(&narrowing, CompileContext::default()).unwrap();
    let mut params = std::collections::HashMap::new();
    params.insert(
        "next".to_owned(),
        biscuit_auth::builder::Term::Bytes(thief.public().to_bytes().to_vec()),
    );
    let block = biscuit_auth::BlockBuilder::new()
        .code_with_params("holder({next});", params, std::collections::HashMap::new())
        .unwrap()
        .merge(compiled);
    let profiled = encode(&decode_unverified(&token).unwrap().append(block).unwrap());

    for stolen in [raw, profiled] {
        for signer in [&thief, &agent] {
            let d = v.verify(&stolen, &read_by(signer, &stolen, "tickets/1"));
            let d = denied_as(&d, DenialKind::InvalidDelegation);
            assert_eq!(d.block, Some(1), "{d:?}");
            assert_eq!(d.signer(), Some(&Signer::Attenuation), "{d:?}");
            assert_contains(
                d.message(),
                &format!(
                    "block 1 names holder `{}` but is not signed by the current holder `{}`",
                    thief.public(),
                    agent.public()
                ),
            );
            assert_contains(d.message(), "(it is a plain attenuation)");
        }
    }
    // A v1 holder fact is not a key at all in profile v2: the chain is broken.
    for signer in [&thief, &agent] {
        let d = v.verify(&raw_v1, &read_by(signer, &raw_v1, "tickets/1"));
        let d = denied_as(&d, DenialKind::InvalidDelegation);
        assert_eq!(d.block, Some(1), "{d:?}");
        assert_eq!(d.signer(), Some(&Signer::Attenuation), "{d:?}");
        assert_contains(
            d.message(),
            "which is not an `ed25519/` or `secp256r1/` public key",
        );
    }
    // Even a verifier accepting bearer tokens refuses it.
    for stolen in [
        append_plain(&token, &holder_fact(&thief)),
        append_plain(&token, &holder_fact_v1(&thief)),
    ] {
        let d = strict_builder()
            .dangerous_accept_bearer()
            .build()
            .verify(&stolen, &read_by(&thief, &stolen, "tickets/1"));
        denied_as(&d, DenialKind::InvalidDelegation);
    }
}

// 4.
#[test]
fn a_delegation_block_signed_by_someone_else_is_refused() {
    let (agent, sub, thief) = (new_key(), new_key(), new_key());
    let token = mint_for(Some(&agent), &parent_grant());
    let v = strict();

    let stolen = append_third_party(&token, &thief, &holder_fact(&thief));
    let d = v.verify(&stolen, &read_by(&thief, &stolen, "tickets/1"));
    let d = denied_as(&d, DenialKind::InvalidDelegation);
    assert_eq!(d.block, Some(1));
    assert_eq!(
        d.signer(),
        Some(&Signer::ThirdParty {
            key: thief.public().to_string()
        })
    );
    assert_contains(
        d.message(),
        &format!(
            "block 1 names holder `{}` but is not signed by the current holder `{}` (it is signed by `{}`)",
            thief.public(),
            agent.public(),
            thief.public()
        ),
    );

    // The previous holder signing a block that takes the token back, after delegating.
    let child = delegate_to(&token, &agent, &sub, None);
    let back = append_third_party(&child, &agent, &holder_fact(&agent));
    let d = v.verify(&back, &read_by(&agent, &back, "tickets/1"));
    let d = denied_as(&d, DenialKind::InvalidDelegation);
    assert_eq!(d.block, Some(2));
    assert_contains(
        d.message(),
        &format!(
            "block 2 names holder `{}` but is not signed by the current holder `{}`",
            agent.public(),
            sub.public()
        ),
    );

    // In the profile v1 form (a string), signed by the thief or even by the holder: a
    // holder fact that is not a v2 key breaks the chain.
    for signer in [&thief, &agent] {
        let stolen = append_third_party(&token, signer, &holder_fact_v1(&thief));
        let d = v.verify(&stolen, &read_by(&thief, &stolen, "tickets/1"));
        let d = denied_as(&d, DenialKind::InvalidDelegation);
        assert_eq!(d.block, Some(1));
        assert_contains(
            d.message(),
            "which is not an `ed25519/` or `secp256r1/` public key",
        );
    }

    // A bearer token cannot be bound after the fact, whoever signs.
    let bearer = mint_for(None, &parent_grant());
    let bound = append_third_party(&bearer, &thief, &holder_fact(&thief));
    let d = strict_builder()
        .dangerous_accept_bearer()
        .build()
        .verify(&bound, &read_by(&thief, &bound, "tickets/1"));
    let d = denied_as(&d, DenialKind::InvalidDelegation);
    assert_contains(d.message(), "has no holder to delegate from");

    // A third-party block by the holder that names no holder is only an attenuation.
    let narrowed = append_third_party(&token, &agent, "check if resource(\"tickets/1\");");
    allowed(&v.verify(&narrowed, &read_by(&agent, &narrowed, "tickets/1")));
    let d = v.verify(&narrowed, &read_by(&agent, &narrowed, "tickets/2"));
    denied_as(&d, DenialKind::CheckFailed);
}

// 5.
#[test]
fn a_replayed_proof_is_refused() {
    let agent = new_key();
    let token = mint_for(Some(&agent), &parent_grant());
    let v = strict();
    let proof = proof_at(&agent, &token, NOW);
    let req = |time: Timestamp| {
        Request::new("tickets/1", "read", time).with_proof(proof.clone(), "GET", URL)
    };
    allowed(&v.verify(&token, &req(NOW)));
    let d = v.verify(&token, &req(NOW));
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "already used");
    assert_contains(d.message(), "every request needs a fresh proof");
    // Through a clone of the verifier too (clones share the replay cache).
    denied_as(
        &v.clone().verify(&token, &req(NOW)),
        DenialKind::InvalidProof,
    );
    // Still refused later within the window, until the proof is simply too old.
    let d = v.verify(&token, &req(at(60)));
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "already used");
    let d = v.verify(&token, &req(at(61)));
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "more than 1m before");
    // A fresh proof is fine.
    allowed(&v.verify(&token, &read_by(&agent, &token, "tickets/1")));
}

/// Profile v2 records a proof's id only once every other check has passed: a request the
/// token refuses (or a revoked token) does not use the proof up, so proofs riding on
/// useless requests cannot fill the replay cache; the first allowed use does.
#[test]
fn a_proof_is_used_up_only_by_an_allowed_request() {
    let agent = new_key();
    let token = mint_for(Some(&agent), &parent_grant());
    let v = strict();
    let proof = proof_at(&agent, &token, NOW);
    let req =
        |resource: &str| Request::new(resource, "read", NOW).with_proof(proof.clone(), "GET", URL);
    let mut revoked = RevocationSet::new();
    revoked.revoke_holder(agent.public());
    v.set_revocations(revoked);
    denied_as(&v.verify(&token, &req("tickets/1")), DenialKind::Revoked);
    v.set_revocations(RevocationSet::new());
    denied_as(
        &v.verify(&token, &req("orders/1")),
        DenialKind::RuleNotMatched,
    );
    allowed(&v.verify(&token, &req("tickets/1")));
    let d = v.verify(&token, &req("tickets/1"));
    assert_contains(
        denied_as(&d, DenialKind::InvalidProof).message(),
        "already used",
    );
    // A request the token refuses is refused for that first: the replay check comes last.
    let d = v.verify(&token, &req("orders/1"));
    denied_as(&d, DenialKind::RuleNotMatched);
}

// 6.
#[test]
fn proofs_outside_the_time_window_are_refused() {
    let agent = new_key();
    let token = mint_for(Some(&agent), &parent_grant());
    let v = strict();
    let req = |made: Timestamp| {
        Request::new("tickets/1", "read", NOW).with_proof(
            proof_at(&agent, &token, made),
            "GET",
            URL,
        )
    };
    let d = v.verify(&token, &req(at(-61)));
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "more than 1m before the request time");
    let d = v.verify(&token, &req(at(61)));
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "more than 1m after the request time");
    allowed(&v.verify(&token, &req(at(-60))));
    allowed(&v.verify(&token, &req(at(60))));
    allowed(&v.verify(&token, &req(NOW)));
}

// 7.
#[test]
fn proofs_for_another_method_or_url_are_refused() {
    let agent = new_key();
    let token = mint_for(Some(&agent), &parent_grant());
    let v = strict();
    let check = |method: &str, proof_url: &str, request_url: &str| {
        let p = create_proof(&agent, method, proof_url, &token, NOW, &mut OsRng).unwrap();
        v.verify(
            &token,
            &Request::new("tickets/1", "read", NOW).with_proof(p, "GET", request_url),
        )
    };

    let d = check("POST", URL, URL);
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "is for method `POST`, the request is `GET`");
    // Methods are case-sensitive.
    denied_as(&check("get", URL, URL), DenialKind::InvalidProof);

    // Another path, host, scheme or port.
    for other in [
        "https://api.example/tickets/2",
        "https://evil.example/tickets/1",
        "http://api.example/tickets/1",
        "https://api.example:8443/tickets/1",
    ] {
        let d = check("GET", other, URL);
        let d = denied_as(&d, DenialKind::InvalidProof);
        assert_contains(
            d.message(),
            &format!("is for `{other}`, the request is for `{URL}`"),
        );
    }

    // Query strings and fragments are not part of `htu`; case of scheme and host and the
    // default port are normalised.
    allowed(&check(
        "GET",
        "https://api.example/tickets/1?page=2#top",
        URL,
    ));
    allowed(&check("GET", URL, "https://api.example/tickets/1?x=y#z"));
    allowed(&check("GET", "HTTPS://API.example:443/tickets/1", URL));
    // A request URL that is not http(s) is refused.
    let d = check("GET", URL, "ftp://api.example/tickets/1");
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "is not an http(s) URL");
}

// 8.
#[test]
fn a_proof_for_another_token_is_refused() {
    let agent = new_key();
    let token = mint_for(Some(&agent), &parent_grant());
    let other = mint_for(Some(&agent), &parent_grant());
    let v = strict();
    let req = Request::new("tickets/1", "read", NOW).with_proof(
        proof_at(&agent, &other, NOW),
        "GET",
        URL,
    );
    let d = v.verify(&token, &req);
    let d = denied_as(&d, DenialKind::InvalidProof);
    assert_contains(d.message(), "`ath` does not match the token");
    // An attenuated copy is another token too.
    let narrowed = encode(
        &attenuate(
            &decode_unverified(&token).unwrap(),
            grant(&json!({"ttl": "1m"})),
            NOW,
            &mut OsRng,
        )
        .unwrap(),
    );
    let req = Request::new("tickets/1", "read", NOW).with_proof(
        proof_at(&agent, &token, NOW),
        "GET",
        URL,
    );
    denied_as(&v.verify(&narrowed, &req), DenialKind::InvalidProof);
    // Surrounding whitespace is not part of the token.
    let req = Request::new("tickets/1", "read", NOW).with_proof(
        proof_at(&agent, &token, NOW),
        "GET",
        URL,
    );
    allowed(&v.verify(&format!("  {token}\n"), &req));
}

// 9.
#[test]
fn bearer_tokens_are_refused_unless_allowed() {
    let agent = new_key();
    let bearer = mint_for(None, &parent_grant());
    let d = strict().verify(&bearer, &read_by(&agent, &bearer, "tickets/1"));
    let d = denied_as(&d, DenialKind::BearerRefused);
    assert_contains(d.message(), "not bound to a holder key");
    assert_contains(d.message(), "refuses bearer tokens");
    let lenient = strict_builder().dangerous_accept_bearer().build();
    let d = lenient.verify(&bearer, &read_by(&agent, &bearer, "tickets/1"));
    allowed(&d);
    assert_eq!(d.claims().unwrap().holder, None);
    assert_eq!(d.claims().unwrap().holder_thumbprint, None);
    allowed(&lenient.verify(&bearer, &Request::new("tickets/1", "read", NOW)));
    // Allowing bearer tokens does not excuse a bound token from its proof.
    let bound = mint_for(Some(&agent), &parent_grant());
    let d = lenient.verify(&bound, &Request::new("tickets/1", "read", NOW));
    denied_as(&d, DenialKind::InvalidProof);
}

// 10.
#[test]
fn only_the_last_holder_of_a_chain_succeeds() {
    let keys: Vec<SigningKey> = (0..4).map(|_| new_key()).collect();
    let mut token = mint_for(Some(&keys[0]), &parent_grant());
    for w in keys.windows(2) {
        token = delegate_to(&token, &w[0], &w[1], None);
    }
    let v = strict();
    let last = &keys[3];
    for earlier in &keys[..3] {
        let d = v.verify(&token, &read_by(earlier, &token, "tickets/1"));
        let d = denied_as(&d, DenialKind::InvalidProof);
        assert_contains(
            d.message(),
            &format!(
                "signed by `{}`, but the token's holder is `{}`",
                earlier.public(),
                last.public()
            ),
        );
    }
    let d = v.verify(&token, &read_by(last, &token, "tickets/1"));
    allowed(&d);
    assert_eq!(d.claims().unwrap().block_count, 4);
}

// 11.
#[test]
fn a_delegation_cannot_widen_the_grant() {
    let (agent, sub) = (new_key(), new_key());
    let parent = mint_for(Some(&agent), &parent_grant());
    let wider = json!({"allow": [
        {"resources": ["tickets/*", "orders/*"], "actions": ["read", "write", "delete"]}
    ]});
    let child = delegate_to(&parent, &agent, &sub, Some(&wider));
    let v = strict();
    for (resource, action) in [("orders/1", "read"), ("tickets/1", "write")] {
        let req =
            Request::new(resource, action, NOW).with_proof(proof_at(&sub, &child, NOW), "GET", URL);
        let d = v.verify(&child, &req);
        let d = denied_as(&d, DenialKind::RuleNotMatched);
        assert_eq!(d.block, Some(0), "the authority's rules still apply: {d:?}");
    }
    allowed(&v.verify(&child, &read_by(&sub, &child, "tickets/1")));

    // A narrowing delegation narrows.
    let narrow = json!({"allow": [{"resources": ["tickets/1"], "actions": ["read"]}]});
    let child = delegate_to(&parent, &agent, &sub, Some(&narrow));
    let d = v.verify(&child, &read_by(&sub, &child, "tickets/2"));
    let d = denied_as(&d, DenialKind::RuleNotMatched);
    assert_eq!(d.block, Some(1));
    assert_eq!(
        d.signer(),
        Some(&Signer::ThirdParty {
            key: agent.public().to_string()
        })
    );
    assert_contains(d.message(), "tickets/2");
    allowed(&v.verify(&child, &read_by(&sub, &child, "tickets/1")));
}

// 12.
#[test]
fn claims_name_the_last_holder() {
    let keys: Vec<SigningKey> = (0..3).map(|_| new_key()).collect();
    let mut token = mint_for(Some(&keys[0]), &parent_grant());
    let v = strict();
    let d = v.verify(&token, &read_by(&keys[0], &token, "tickets/1"));
    let claims = d.claims().unwrap();
    assert_eq!(claims.holder, Some(keys[0].public().to_string()));
    assert_eq!(
        claims.holder_thumbprint,
        Some(keys[0].public().jwk_thumbprint())
    );
    for w in keys.windows(2) {
        token = delegate_to(&token, &w[0], &w[1], None);
    }
    // A plain attenuation after the delegations keeps the holder.
    let token = encode(
        &attenuate(
            &decode_unverified(&token).unwrap(),
            grant(&json!({"ttl": "5m"})),
            NOW,
            &mut OsRng,
        )
        .unwrap(),
    );
    let d = v.verify(&token, &read_by(&keys[2], &token, "tickets/1"));
    let claims = d.claims().unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!(claims.holder, Some(keys[2].public().to_string()));
    assert_eq!(
        claims.holder_thumbprint,
        Some(keys[2].public().jwk_thumbprint())
    );
    assert_ne!(
        keys[2].public().jwk_thumbprint(),
        keys[1].public().jwk_thumbprint()
    );
    assert_eq!(claims.block_count, 4);
}

#[test]
fn a_delegated_token_is_a_plain_biscuit() {
    let keys: Vec<SigningKey> = (0..4).map(|_| new_key()).collect();
    let mut text = mint_for(Some(&keys[0]), &parent_grant());
    for w in keys.windows(2) {
        text = delegate_to(&text, &w[0], &w[1], None);
    }
    let bytes = warrant_core::token::decode_base64(&text).unwrap();
    let token = biscuit_auth::Biscuit::from(&bytes, key().public().to_biscuit().unwrap()).unwrap();
    assert_eq!(token.block_count(), 4);
    let external: Vec<Option<PublicKey>> = token
        .external_public_keys()
        .iter()
        .map(|k| k.as_ref().map(|k| PublicKey::from_biscuit(k).unwrap()))
        .collect();
    assert_eq!(
        external,
        vec![
            None,
            Some(keys[0].public()),
            Some(keys[1].public()),
            Some(keys[2].public())
        ]
    );
    for i in 1..4 {
        let k = token.block_external_key(i).unwrap().unwrap();
        assert_eq!(PublicKey::from_biscuit(&k), Some(keys[i - 1].public()));
        // Profile v2: the holder is the key's 32 raw bytes.
        let source = token.print_block_source(i).unwrap();
        assert!(
            source.starts_with(&format!(
                "holder(hex:{})",
                hex::encode(keys[i].public().to_bytes())
            )),
            "block {i}: {source}"
        );
    }
    assert_eq!(token.block_external_key(0).unwrap(), None);
    // Biscuit's own authorizer agrees with warrant.
    let core = warrant_core::request::RequestFacts::new("tickets/1", "read", NOW);
    assert!(biscuit_allows(&token, &core));
    let core = warrant_core::request::RequestFacts::new("orders/1", "read", NOW);
    assert!(!biscuit_allows(&token, &core));
    assert_eq!(biscuit(&text).block_count(), 4);

    // Another Biscuit library may attenuate it: the holder stays the last one.
    let narrowed = token
        .append(
            biscuit_auth::BlockBuilder::new()
                .code("check if resource(\"tickets/1\");")
                .unwrap(),
        )
        .unwrap()
        .to_base64()
        .unwrap();
    let v = strict();
    let d = v.verify(&narrowed, &read_by(&keys[3], &narrowed, "tickets/1"));
    allowed(&d);
    assert_eq!(
        d.claims().unwrap().holder,
        Some(keys[3].public().to_string())
    );
    // Profile v2 recognises blocks by structure: this hand-written check is exactly the
    // compiled form of an allow rule on `tickets/1`, so it is explained as one.
    let d = v.verify(&narrowed, &read_by(&keys[3], &narrowed, "tickets/2"));
    let d = denied_as(&d, DenialKind::RuleNotMatched);
    assert_eq!(d.block, Some(4), "{d:?}");
    assert_eq!(d.signer(), Some(&Signer::Attenuation), "{d:?}");
    assert_eq!(d.check(), Some("check if resource(\"tickets/1\")"));
    assert_contains(d.message(), "tickets/2");
    denied_as(
        &v.verify(&narrowed, &read_by(&keys[2], &narrowed, "tickets/1")),
        DenialKind::InvalidProof,
    );
}

#[test]
fn revoking_a_holder_revokes_every_token_delegated_from_it() {
    let (agent, a, b, stranger) = (new_key(), new_key(), new_key(), new_key());
    let parent = mint_for(Some(&agent), &parent_grant());
    let child = delegate_to(&parent, &agent, &a, None);
    let grandchild = delegate_to(&child, &a, &b, None);
    let unrelated = mint_for(Some(&stranger), &parent_grant());
    let v = strict();
    allowed(&v.verify(&grandchild, &read_by(&b, &grandchild, "tickets/1")));

    let mut set = RevocationSet::new();
    set.revoke_holder(agent.public());
    v.set_revocations(set);
    for (token, holder) in [(&parent, &agent), (&child, &a), (&grandchild, &b)] {
        let d = v.verify(token, &read_by(holder, token, "tickets/1"));
        let d = denied_as(&d, DenialKind::Revoked);
        assert_contains(
            d.message(),
            &format!("every token of holder `{}` is revoked", agent.public()),
        );
    }
    allowed(&v.verify(&unrelated, &read_by(&stranger, &unrelated, "tickets/1")));

    // Revoking a holder in the middle revokes what it delegated, not its parent.
    let mut set = RevocationSet::new();
    set.revoke_holder(a.public());
    v.set_revocations(set);
    allowed(&v.verify(&parent, &read_by(&agent, &parent, "tickets/1")));
    let d = v.verify(&grandchild, &read_by(&b, &grandchild, "tickets/1"));
    let d = denied_as(&d, DenialKind::Revoked);
    assert_contains(d.message(), &a.public().to_string());
}

/// Narrowing grants a delegation may carry (`None`: it only names the next holder).
fn pool() -> Vec<Option<J>> {
    vec![
        None,
        Some(json!({"allow": [{"resources": ["tickets/*"], "actions": ["read"]}]})),
        Some(json!({"allow": [{"resources": ["tickets/1"], "actions": ["read", "write"]}]})),
        Some(
            json!({"allow": [{"resources": ["orders/*"], "actions": ["read", "write", "delete"]}]}),
        ),
        Some(json!({"allow": [{"resources": ["*"], "actions": ["read", "write", "delete"]}]})),
        Some(json!({"deny": [{"resources": ["tickets/2"], "actions": ["*"]}]})),
        Some(json!({"ttl": "1m"})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn delegation_only_shrinks_rights(
        chain in proptest::collection::vec(0..pool().len(), 1..=3),
        requests in proptest::collection::vec(
            (
                select(vec!["tickets/1", "tickets/2", "orders/1", "users/1"]),
                select(vec!["read", "write", "delete"]),
                select(vec![0i64, 30, 90]),
            ),
            1..=4,
        ),
    ) {
        let pool = pool();
        let parent = json!({"allow": [
            {"resources": ["tickets/*"], "actions": ["read", "write"]},
            {"resources": ["orders/*"], "actions": ["read"]}
        ]});
        let mut holders = vec![new_key()];
        let mut tokens = vec![mint_for(Some(&holders[0]), &parent)];
        for &i in &chain {
            let next = new_key();
            let token = delegate_to(tokens.last().unwrap(), holders.last().unwrap(), &next, pool[i].as_ref());
            tokens.push(token);
            holders.push(next);
        }
        let v = strict();
        for (resource, action, offset) in requests {
            let time = at(offset);
            let decide = |k: usize| {
                let p = create_proof(&holders[k], "GET", URL, &tokens[k], time, &mut OsRng).unwrap();
                v.verify(&tokens[k], &Request::new(resource, action, time).with_proof(p, "GET", URL))
            };
            let decisions: Vec<Decision> = (0..tokens.len()).map(decide).collect();
            for (k, d) in decisions.iter().enumerate() {
                if let Some(d) = d.denial() {
                    prop_assert!(
                        !matches!(d.kind, DenialKind::InvalidProof | DenialKind::InvalidDelegation),
                        "step {k}: the holder's own proof was refused: {d:?}"
                    );
                }
            }
            for k in 1..tokens.len() {
                prop_assert!(
                    !decisions[k].is_allowed() || decisions[k - 1].is_allowed(),
                    "{action} {resource} at +{offset}s: allowed after {k} delegations \
                     ({:?}) but not after {} ({:?})",
                    &chain[..k], k - 1, decisions[k - 1]
                );
            }
            // The final token is never usable by an earlier holder.
            let last = tokens.len() - 1;
            let p = create_proof(&holders[last - 1], "GET", URL, &tokens[last], time, &mut OsRng).unwrap();
            let d = v.verify(&tokens[last], &Request::new(resource, action, time).with_proof(p, "GET", URL));
            prop_assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::InvalidProof));
        }
    }
}
