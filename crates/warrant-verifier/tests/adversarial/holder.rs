//! The holder chain: re-binding a stolen token, delegation blocks by strangers, malformed
//! holder facts, delegation from a bearer token, the previous holder after delegating.

use rand_core::OsRng;
use serde_json::json;
use warrant_core::grant::Grant;
use warrant_core::keys::SigningKey;
use warrant_core::token::{decode_unverified, delegate, encode};
use warrant_verifier::{DenialKind, Request};

use crate::{
    allowed, append_plain, append_third_party, attack, bearer, bearer_verifier, denied,
    holder_fact, mint_for, new_key, proven, run_table, strict_verifier, NOW,
};

fn parent() -> serde_json::Value {
    json!({"allow": [{"resources": ["tickets/*"], "actions": ["read"]}]})
}

fn delegate_to(text: &str, from: &SigningKey, to: &SigningKey) -> String {
    encode(
        &delegate(
            &decode_unverified(text).unwrap(),
            from,
            to.public(),
            Grant::default(),
            NOW,
            &mut OsRng,
        )
        .unwrap(),
    )
}

#[test]
fn stolen_tokens_cannot_be_rebound() {
    let (agent, thief) = (new_key(), new_key());
    let t = mint_for(Some(&agent), &parent());
    let plain = append_plain(&t, &holder_fact(&thief));
    let stranger_signed = append_third_party(&t, &thief, &holder_fact(&thief));
    let v1_style = append_plain(&t, &format!("holder(\"{}\");", thief.public()));
    let derived = append_plain(
        &t,
        &format!(
            "holder(hex:{}) <- resource($r);",
            hex::encode(thief.public().to_bytes())
        ),
    );
    let not_signed = format!("is not signed by the current holder `{}`", agent.public());
    run_table(
        &strict_verifier(),
        vec![
            attack(
                "plain block naming the thief",
                plain.clone(),
                proven(&thief, &plain, "tickets/1", "read"),
                DenialKind::InvalidDelegation,
                &[
                    "block 1 names holder",
                    &not_signed,
                    "(it is a plain attenuation)",
                ],
            )
            .block(1),
            attack(
                "plain block naming the thief, used by the real agent",
                plain.clone(),
                proven(&agent, &plain, "tickets/1", "read"),
                DenialKind::InvalidDelegation,
                &[&not_signed],
            )
            .block(1),
            attack(
                "third-party block signed by the thief naming the thief",
                stranger_signed.clone(),
                proven(&thief, &stranger_signed, "tickets/1", "read"),
                DenialKind::InvalidDelegation,
                &[
                    &not_signed,
                    &format!("(it is signed by `{}`)", thief.public()),
                ],
            )
            .block(1),
            attack(
                "v1-style string holder in a plain block",
                v1_style.clone(),
                proven(&thief, &v1_style, "tickets/1", "read"),
                DenialKind::InvalidDelegation,
                &[
                    "block 1 names holder",
                    "is not an `ed25519/` or `secp256r1/` public key",
                ],
            )
            .block(1),
            attack(
                "a rule deriving the thief as holder",
                derived.clone(),
                proven(&thief, &derived, "tickets/1", "read"),
                DenialKind::InvalidProof,
                &[&format!("the token's holder is `{}`", agent.public())],
            ),
        ],
    );
}

#[test]
fn malformed_holder_facts_break_the_chain() {
    let (agent, a, b) = (new_key(), new_key(), new_key());
    let t = mint_for(Some(&agent), &parent());
    let two = append_third_party(
        &t,
        &agent,
        &format!("{}{}", holder_fact(&a), holder_fact(&b)),
    );
    let string = append_third_party(&t, &agent, &format!("holder(\"{}\");", a.public()));
    let short = append_third_party(
        &t,
        &agent,
        &format!("holder(hex:{});", hex::encode(&a.public().to_bytes()[..31])),
    );
    let two_terms = append_third_party(
        &t,
        &agent,
        &format!("holder(hex:{}, 1);", hex::encode(a.public().to_bytes())),
    );
    let int = append_third_party(&t, &agent, "holder(42);");
    run_table(
        &strict_verifier(),
        vec![
            attack(
                "two holder facts in one block",
                two.clone(),
                proven(&a, &two, "tickets/1", "read"),
                DenialKind::InvalidDelegation,
                &["block 1 names 2 holders"],
            )
            .block(1),
            attack(
                "a holder that is a string",
                string.clone(),
                proven(&a, &string, "tickets/1", "read"),
                DenialKind::InvalidDelegation,
                &["is not an `ed25519/` or `secp256r1/` public key"],
            )
            .block(1),
            attack(
                "a 31-byte holder",
                short.clone(),
                proven(&a, &short, "tickets/1", "read"),
                DenialKind::InvalidDelegation,
                &["is not an `ed25519/` or `secp256r1/` public key"],
            )
            .block(1),
            attack(
                "a holder fact with two terms",
                two_terms.clone(),
                proven(&a, &two_terms, "tickets/1", "read"),
                DenialKind::InvalidDelegation,
                &["is not an `ed25519/` or `secp256r1/` public key"],
            )
            .block(1),
            attack(
                "an integer holder",
                int.clone(),
                proven(&agent, &int, "tickets/1", "read"),
                DenialKind::InvalidDelegation,
                &["is not an `ed25519/` or `secp256r1/` public key"],
            )
            .block(1),
        ],
    );
}

#[test]
fn delegation_needs_a_holder_and_moves_it_for_good() {
    let (agent, sub, thief) = (new_key(), new_key(), new_key());
    let t = mint_for(Some(&agent), &parent());
    let child = delegate_to(&t, &agent, &sub);
    let v = strict_verifier();
    let d = v.verify(&child, &proven(&sub, &child, "tickets/1", "read"));
    allowed(&d);
    assert_eq!(d.claims().unwrap().holder, Some(sub.public().to_string()));
    let from_bearer = append_third_party(&bearer(&parent()), &thief, &holder_fact(&thief));
    let taken_back = append_third_party(&child, &agent, &holder_fact(&agent));
    run_table(
        &v,
        vec![
            attack(
                "the previous holder uses the delegated token",
                child.clone(),
                proven(&agent, &child, "tickets/1", "read"),
                DenialKind::InvalidProof,
                &[&format!(
                    "signed by `{}`, but the token's holder is `{}`",
                    agent.public(),
                    sub.public()
                )],
            ),
            attack(
                "the previous holder takes the token back",
                taken_back.clone(),
                proven(&agent, &taken_back, "tickets/1", "read"),
                DenialKind::InvalidDelegation,
                &[&format!(
                    "block 2 names holder `{}` but is not signed by the current holder `{}`",
                    agent.public(),
                    sub.public()
                )],
            )
            .block(2),
            attack(
                "a proof by a stranger",
                child.clone(),
                proven(&thief, &child, "tickets/1", "read"),
                DenialKind::InvalidProof,
                &[&format!("signed by `{}`", thief.public())],
            ),
            attack(
                "no proof at all",
                child.clone(),
                Request::new("tickets/1", "read", NOW),
                DenialKind::InvalidProof,
                &["needs a DPoP proof", &sub.public().to_string()],
            ),
            attack(
                "a bearer token refused by default",
                bearer(&parent()),
                Request::new("tickets/1", "read", NOW),
                DenialKind::BearerRefused,
                &["not bound to a holder"],
            ),
        ],
    );
    // Delegating a bearer token: even a verifier that accepts bearer tokens refuses it.
    let d = bearer_verifier().verify(
        &from_bearer,
        &proven(&thief, &from_bearer, "tickets/1", "read"),
    );
    let d = denied(
        &d,
        DenialKind::InvalidDelegation,
        &[
            "block 1 names holder",
            "the token has no holder to delegate from",
        ],
    );
    assert_eq!(d.block, Some(1));
}
