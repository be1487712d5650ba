//! P-256 holders: a token bound to a P-256 agent, its `ES256` proofs, delegations it
//! signs (Biscuit third-party blocks with a `secp256r1` key) and delegations naming it,
//! across algorithms; thieves and revocation as for Ed25519 holders.

use rand_core::OsRng;
use serde_json::{json, Value as J};
use warrant_core::keys::{HolderPublicKey, HolderSigner};
use warrant_core::token::{decode_unverified, delegate, encode, TokenError};
use warrant_verifier::{
    Decision, DenialKind, KeyId, KeySet, Request, RevocationSet, Signer, Verifier,
};

use crate::common::{
    append_plain, append_third_party, biscuit_allows, denied_as, grant, holder_fact, key, mint_for,
    new_key, new_p256_key, proof_at, test_limits, NOW, URL,
};

fn strict() -> Verifier {
    Verifier::builder(KeySet::single(KeyId(1), key().public()))
        .limits(test_limits())
        .build()
}

fn parent_grant() -> J {
    json!({"allow": [{"resources": ["tickets/*"], "actions": ["read", "update"]}]})
}

/// `from` (the current holder) hands `text` on to `to`, narrowing by `narrowing`.
fn delegate_to(
    text: &str,
    from: &dyn HolderSigner,
    to: &dyn HolderSigner,
    narrowing: Option<&J>,
) -> String {
    let token = decode_unverified(text).unwrap();
    let g = narrowing.map(grant).unwrap_or_default();
    encode(&delegate(&token, from, to.holder_key(), g, NOW, &mut OsRng).unwrap())
}

/// `action` on `resource` at [`NOW`] with a fresh proof by `signer`.
fn by(signer: &dyn HolderSigner, token: &str, action: &str, resource: &str) -> Request {
    Request::new(resource, action, NOW).with_proof(proof_at(signer, token, NOW), "GET", URL)
}

fn allowed_for(d: &Decision, holder: &HolderPublicKey) {
    let claims = d
        .claims()
        .unwrap_or_else(|| panic!("expected allowed, got {d:?}"));
    assert_eq!(claims.holder.as_deref(), Some(holder.to_string().as_str()));
    assert_eq!(claims.holder_thumbprint, Some(holder.jwk_thumbprint()));
}

#[test]
fn a_p256_holder_proves_with_es256_and_delegates_across_algorithms() {
    let (p, e, q) = (new_p256_key(), new_key(), new_p256_key());
    let token = mint_for(Some(&p), &parent_grant());
    let v = strict();
    allowed_for(
        &v.verify(&token, &by(&p, &token, "read", "tickets/1")),
        &p.holder_key(),
    );
    denied_as(
        &v.verify(&token, &by(&q, &token, "read", "tickets/1")),
        DenialKind::InvalidProof,
    );
    denied_as(
        &v.verify(&token, &by(&e, &token, "read", "tickets/1")),
        DenialKind::InvalidProof,
    );

    // P-256 -> Ed25519, narrowing to reads of tickets/1.
    let narrowing = json!({"allow": [{"resources": ["tickets/1"], "actions": ["read"]}]});
    let child = delegate_to(&token, &p, &e, Some(&narrowing));
    allowed_for(
        &v.verify(&child, &by(&e, &child, "read", "tickets/1")),
        &e.holder_key(),
    );
    let d = v.verify(&child, &by(&e, &child, "update", "tickets/1"));
    let d = denied_as(&d, DenialKind::RuleNotMatched);
    assert_eq!(d.block, Some(1));
    assert_eq!(
        d.signer(),
        Some(&Signer::ThirdParty {
            key: p.holder_key().to_string()
        })
    );
    denied_as(
        &v.verify(&child, &by(&p, &child, "read", "tickets/1")),
        DenialKind::InvalidProof,
    );

    // Ed25519 -> P-256.
    let grandchild = delegate_to(&child, &e, &q, None);
    allowed_for(
        &v.verify(&grandchild, &by(&q, &grandchild, "read", "tickets/1")),
        &q.holder_key(),
    );
    for previous in [&p as &dyn HolderSigner, &e] {
        denied_as(
            &v.verify(&grandchild, &by(previous, &grandchild, "read", "tickets/1")),
            DenialKind::InvalidProof,
        );
    }

    // Plain Biscuit reads it: the P-256 holder signed block 1, as `secp256r1/…`.
    let bytes = warrant_core::token::decode_base64(&grandchild).unwrap();
    let token = biscuit_auth::Biscuit::from(&bytes, key().public().to_biscuit().unwrap()).unwrap();
    let signer = token.block_external_key(1).unwrap().unwrap();
    assert_eq!(signer.to_string(), p.holder_key().to_string());
    assert_eq!(HolderPublicKey::from_biscuit(&signer), Some(p.holder_key()));
    let source = token.print_block_source(2).unwrap();
    assert!(
        source.starts_with(&format!(
            "holder(hex:{})",
            hex::encode(q.holder_key().fact_bytes())
        )),
        "{source}"
    );
    let core = warrant_core::request::RequestFacts::new("tickets/1", "read", NOW);
    assert!(biscuit_allows(&token, &core));
}

#[test]
fn a_p256_holder_cannot_be_bypassed() {
    let (p, thief, ed_thief) = (new_p256_key(), new_p256_key(), new_key());
    let token = mint_for(Some(&p), &parent_grant());
    // Only the holder's key delegates.
    let e = delegate(
        &decode_unverified(&token).unwrap(),
        &thief,
        thief.holder_key(),
        Default::default(),
        NOW,
        &mut OsRng,
    )
    .unwrap_err();
    assert!(matches!(e, TokenError::NotHolder { .. }), "{e}");
    let v = strict();
    // A third-party block by another P-256 key, or by an Ed25519 key, naming itself.
    for stolen in [
        append_third_party(&token, &thief, &holder_fact(&thief)),
        append_third_party(&token, &ed_thief, &holder_fact(&ed_thief)),
    ] {
        let d = v.verify(&stolen, &by(&p, &stolen, "read", "tickets/1"));
        let d = denied_as(&d, DenialKind::InvalidDelegation);
        assert_eq!(d.block, Some(1));
        assert!(
            d.message()
                .contains(&format!("current holder `{}`", p.holder_key())),
            "{}",
            d.message()
        );
    }
    // A plain block naming the thief's P-256 key.
    let stolen = append_plain(&token, &holder_fact(&thief));
    let d = v.verify(&stolen, &by(&thief, &stolen, "read", "tickets/1"));
    assert!(denied_as(&d, DenialKind::InvalidDelegation)
        .message()
        .contains("plain attenuation"));
    // 33 bytes that are no point of P-256 break the chain.
    let not_a_point = append_third_party(
        &token,
        &p,
        &format!("holder(hex:02{});", "00".repeat(31) + "01"),
    );
    let d = v.verify(&not_a_point, &by(&p, &not_a_point, "read", "tickets/1"));
    assert!(denied_as(&d, DenialKind::InvalidDelegation)
        .message()
        .contains("is not an `ed25519/` or `secp256r1/` public key"));
}

#[test]
fn revoking_a_p256_holder_revokes_what_it_delegated() {
    let (p, e) = (new_p256_key(), new_key());
    let token = mint_for(Some(&p), &parent_grant());
    let child = delegate_to(&token, &p, &e, None);
    let v = strict();
    allowed_for(
        &v.verify(&child, &by(&e, &child, "read", "tickets/1")),
        &e.holder_key(),
    );
    let mut set = RevocationSet::new();
    set.revoke_holder(p.holder_key());
    v.set_revocations(set);
    let d = v.verify(&child, &by(&e, &child, "read", "tickets/1"));
    assert!(denied_as(&d, DenialKind::Revoked)
        .message()
        .contains(&format!(
            "every token of holder `{}` is revoked",
            p.holder_key()
        )));
    // The feed names it by its text, as the issuer publishes it.
    let feed = json!({"entries": [{"kind": "holder", "value": p.holder_key().to_string()}]});
    v.set_revocations(RevocationSet::from_json(&feed.to_string()).unwrap());
    denied_as(
        &v.verify(&token, &by(&p, &token, "read", "tickets/1")),
        DenialKind::Revoked,
    );
}
