//! Revocation: token ids in either case, block revocation ids of attenuations, holders;
//! revocation survives attenuation and delegation.

use rand_core::OsRng;
use serde_json::json;
use warrant_core::grant::Grant;
use warrant_core::token::{attenuate, decode_unverified, delegate, encode};
use warrant_verifier::{DenialKind, Request, RevocationSet};

use crate::{
    allowed, attack, bearer, bearer_verifier, denied, grant, key, mint_for, new_key, proven,
    run_table, strict_verifier, NOW,
};

fn parent() -> serde_json::Value {
    json!({"allow": [{"resources": ["tickets/*"], "actions": ["read"]}]})
}

fn read() -> Request {
    Request::new("tickets/1", "read", NOW)
}

fn token_id(text: &str) -> String {
    bearer_verifier()
        .verify(text, &read())
        .claims()
        .and_then(|c| c.token_id.clone())
        .unwrap()
}

fn narrowed(text: &str) -> String {
    encode(
        &attenuate(
            &decode_unverified(text).unwrap(),
            grant(&json!({"allow": [{"resources": ["tickets/1"], "actions": ["read"]}]})),
            NOW,
            &mut OsRng,
        )
        .unwrap(),
    )
}

fn revocation_ids(text: &str) -> Vec<Vec<u8>> {
    biscuit_auth::Biscuit::from_base64(text, key().public().to_biscuit().unwrap())
        .unwrap()
        .revocation_identifiers()
}

fn file(kind: &str, value: &str) -> RevocationSet {
    RevocationSet::from_json(&format!(
        r#"{{"entries": [{{"kind": "{kind}", "value": "{value}"}}]}}"#
    ))
    .unwrap_or_else(|e| panic!("{kind} {value}: {e}"))
}

#[test]
fn token_ids_are_revoked_in_either_case() {
    let t = bearer(&parent());
    let id = token_id(&t);
    let upper = id.to_uppercase();
    let cases = [
        ("lowercase id, from a file", file("token_id", &id)),
        ("uppercase id, from a file", file("token_id", &upper)),
        (
            "uppercase id with spaces, from a file",
            file("token_id", &format!("  {upper} ")),
        ),
        ("uppercase id, through the API", {
            let mut r = RevocationSet::new();
            r.revoke_token_id(&upper).unwrap();
            r
        }),
    ];
    let mut failures = Vec::new();
    for (name, set) in cases {
        let v = bearer_verifier();
        v.set_revocations(set);
        match v.verify(&t, &read()).denial() {
            Some(d) if d.kind == DenialKind::Revoked && d.message().contains(&id) => {}
            other => failures.push(format!(
                "{name}: expected revoked naming `{id}`, got {other:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "ATTACK GOT THROUGH:\n{}",
        failures.join("\n")
    );
}

#[test]
fn revocation_lists_refuse_entries_that_are_not_ids() {
    // An entry that cannot be a token id is an error, never a silent skip.
    for bad in ["not-a-token-id", "zz", "", "0123"] {
        assert!(
            RevocationSet::from_json(&format!(
                r#"{{"entries": [{{"kind": "token_id", "value": "{bad}"}}]}}"#
            ))
            .is_err(),
            "ATTACK GOT THROUGH: token_id `{bad}` accepted silently"
        );
    }
}

#[test]
fn block_revocation_ids_of_attenuations_are_honoured() {
    let t = bearer(&parent());
    let n = narrowed(&t);
    let ids = revocation_ids(&n);
    assert_eq!(ids.len(), 2);
    let v = bearer_verifier();
    allowed(&v.verify(&n, &read()));
    let mut r = RevocationSet::new();
    r.revoke_revocation_id(&ids[1]);
    v.set_revocations(r);
    let d = v.verify(&n, &read());
    let d = denied(
        &d,
        DenialKind::Revoked,
        &["block 1 of the token is revoked"],
    );
    assert_eq!(d.block, Some(1));
    // The parent, without that block, is not.
    allowed(&v.verify(&t, &read()));
    // An uppercase hex revocation id from a file, for the authority block: both refused.
    v.set_revocations(file("revocation_id", &hex::encode_upper(&ids[0])));
    run_table(
        &v,
        vec![
            attack(
                "authority block revoked (uppercase hex), attenuated token",
                n.clone(),
                read(),
                DenialKind::Revoked,
                &["block 0 of the token is revoked"],
            )
            .block(0),
            attack(
                "authority block revoked (uppercase hex), parent token",
                t.clone(),
                read(),
                DenialKind::Revoked,
                &["block 0 of the token is revoked"],
            )
            .block(0),
        ],
    );
}

#[test]
fn revocation_survives_attenuation_and_delegation() {
    let (agent, sub) = (new_key(), new_key());
    let t = mint_for(Some(&agent), &parent());
    let id = token_id_strict(&t, &agent);
    let child = encode(
        &delegate(
            &decode_unverified(&t).unwrap(),
            &agent,
            sub.public(),
            Grant::default(),
            NOW,
            &mut OsRng,
        )
        .unwrap(),
    );
    let grandchild = narrowed(&child);
    let by_id = {
        let mut r = RevocationSet::new();
        r.revoke_token_id(&id).unwrap();
        r
    };
    let by_first_holder = file("holder", &agent.public().to_string());
    let by_last_holder = {
        let mut r = RevocationSet::new();
        r.revoke_holder(sub.public());
        r
    };
    let v = strict_verifier();
    allowed(&v.verify(&grandchild, &proven(&sub, &grandchild, "tickets/1", "read")));
    for (name, set, part) in [
        (
            "token id, after delegation and attenuation",
            by_id,
            format!("the token `{id}` is revoked"),
        ),
        (
            "the first holder, after delegation",
            by_first_holder,
            format!("every token of holder `{}` is revoked", agent.public()),
        ),
        (
            "the last holder",
            by_last_holder,
            format!("every token of holder `{}` is revoked", sub.public()),
        ),
    ] {
        v.set_revocations(set);
        for token in [&child, &grandchild] {
            let d = v.verify(token, &proven(&sub, token, "tickets/1", "read"));
            let d = d
                .denial()
                .unwrap_or_else(|| panic!("ATTACK GOT THROUGH: {name}: allowed"));
            assert_eq!(d.kind, DenialKind::Revoked, "{name}: {d:?}");
            assert!(d.message().contains(&part), "{name}: {d:?}");
        }
    }
}

fn token_id_strict(text: &str, holder: &warrant_core::keys::SigningKey) -> String {
    strict_verifier()
        .verify(text, &proven(holder, text, "tickets/1", "read"))
        .claims()
        .and_then(|c| c.token_id.clone())
        .unwrap()
}
