//! Forgery: facts forged through printed text, forged authority facts in later blocks,
//! untrusted keys, tampered bytes, blocks removed, duplicated or reordered, tokens of
//! another profile.

use biscuit_auth::builder::{Fact, Term};
use rand_core::OsRng;
use serde_json::json;
use warrant_core::grant::Method;
use warrant_core::keys::SigningKey;
use warrant_core::token::{attenuate, decode_unverified, encode, mint, MintRequest, Verification};
use warrant_core::value::{AttrName, Value};
use warrant_verifier::{DenialKind, KeyId, Request, RevocationSet};

use crate::{
    allowed, append_block, append_plain, append_third_party, attack, bearer, bearer_verifier,
    denied, grant, holder_fact, key, mint_for, mint_req, new_key, proven, run_table, split_fields,
    strict_verifier, token_bytes, token_text, NOW,
};

fn read_grant() -> serde_json::Value {
    json!({"allow": [{"resources": ["tickets/*"], "actions": ["read"]}]})
}

fn human_grant() -> serde_json::Value {
    json!({"allow": [{"resources": ["admin/**"], "actions": ["*"],
                      "human": {"methods": ["passkey"], "attrs": {"kyc_complete": true}}}]})
}

/// Builds a Biscuit signed by the trusted key (key id 1) from raw Datalog.
fn trusted_biscuit(code: &str) -> String {
    biscuit_auth::BiscuitBuilder::new()
        .code(code)
        .unwrap()
        .root_key_id(1)
        .build(key().key_pair())
        .unwrap()
        .to_base64()
        .unwrap()
}

#[test]
fn v1_style_forgery_through_a_human_attribute_value() {
    // The v1 attack: a human attribute whose printed value closes the string and writes
    // facts of its own. Nothing in v2 reads printed text.
    let forged = "x\"); human(\"admin\", \"passkey\", 2026-11-30T10:00:00Z); \
                  human_attr(\"kyc_complete\", true); warrant(2, hex:00000000000000000000000000000000, \"evil\", 2026-11-30T10:00:00Z); note(\"";
    let mut req = MintRequest::offline(grant(&human_grant()));
    req.human = Some("alice".to_owned());
    req.human_attrs
        .insert("note".parse::<AttrName>().unwrap(), Value::from(forged));
    let token = mint(key(), req, NOW, &mut OsRng).unwrap();
    let id = token.token_id.clone();
    let text = token.token.to_base64().unwrap();
    let v = bearer_verifier();
    let d = v.verify(&text, &Request::new("admin/users", "delete", NOW));
    denied(
        &d,
        DenialKind::RuleNotMatched,
        &["the human was verified by `unverified`"],
    );
    // The token id the verifier sees is the minted one: revoking it still works.
    let mut revoked = RevocationSet::new();
    revoked.revoke_token_id(&id).unwrap();
    v.set_revocations(revoked);
    let d = v.verify(&text, &Request::new("admin/users", "delete", NOW));
    denied(&d, DenialKind::Revoked, &[&id]);
}

#[test]
fn control_characters_cannot_be_minted_into_human_strings() {
    // A newline in the human id or a human attribute value is refused at minting.
    let mut req = MintRequest::offline(grant(&read_grant()));
    req.human = Some("alice\nhuman(\"admin\"".to_owned());
    let e = mint(key(), req, NOW, &mut OsRng).unwrap_err();
    assert!(e.to_string().contains("is not a human id"), "{e}");
    let mut req = MintRequest::offline(grant(&read_grant()));
    req.human_attrs.insert(
        "role".parse().unwrap(),
        Value::from("x\")\nhuman_attr(\"role\", \"admin"),
    );
    let e = mint(key(), req, NOW, &mut OsRng).unwrap_err();
    assert!(e.to_string().contains("control character"), "{e}");
}

#[test]
fn newline_forgery_in_an_appended_block_does_not_rebind_or_reidentify() {
    // An appended fact whose string prints as new `warrant`/`holder` lines.
    let (agent, thief) = (new_key(), new_key());
    let token = mint_for(Some(&agent), &read_grant());
    let minted_claims = strict_verifier()
        .verify(&token, &proven(&agent, &token, "tickets/1", "read"))
        .claims()
        .cloned()
        .unwrap();
    let printed = format!(
        "x\")\nwarrant(2, hex:0123456789abcdef0123456789abcdef, \"evil\", 2026-11-30T10:00:00Z);\n{}\nnote(\"",
        holder_fact(&thief)
    );
    let block = biscuit_auth::BlockBuilder::new()
        .fact(Fact::new("note".to_owned(), vec![Term::Str(printed)]))
        .unwrap();
    let forged = append_block(&token, block);
    let v = strict_verifier();
    let d = v.verify(&forged, &proven(&thief, &forged, "tickets/1", "read"));
    denied(
        &d,
        DenialKind::InvalidProof,
        &[&format!("the token's holder is `{}`", agent.public())],
    );
    // The real holder still can use it, and the token id is unchanged.
    let d = v.verify(&forged, &proven(&agent, &forged, "tickets/1", "read"));
    allowed(&d);
    assert_eq!(d.claims().unwrap().token_id, minted_claims.token_id);
}

#[test]
fn forged_authority_facts_in_later_blocks_are_ignored() {
    let t = bearer(&human_grant());
    let humans = "human(\"admin\", \"passkey\", 2026-11-30T10:00:00Z); \
                  human_attr(\"kyc_complete\", true);";
    let stranger = new_key();
    let not_warrant = trusted_biscuit("right(\"admin\"); check if resource($r);");
    let attacks = vec![
        attack(
            "human and human_attr in a plain block",
            append_plain(&t, humans),
            Request::new("admin/users", "delete", NOW),
            DenialKind::RuleNotMatched,
            &["the human was verified by `unverified`"],
        )
        .block(0),
        attack(
            "human and human_attr in a stranger's third-party block",
            append_third_party(&t, &stranger, humans),
            Request::new("admin/users", "delete", NOW),
            DenialKind::RuleNotMatched,
            &["the human was verified by `unverified`"],
        )
        .block(0),
        attack(
            "warrant(2, …) appended to a trusted non-warrant Biscuit",
            append_plain(
                &not_warrant,
                "warrant(2, hex:0123456789abcdef0123456789abcdef, \"offline\", 2026-11-30T10:00:00Z);",
            ),
            Request::new("admin/users", "delete", NOW),
            DenialKind::NotWarrant,
            &["has no `warrant(…)` fact"],
        ),
        attack(
            "warrant(2, …) with a new token id appended to a warrant token",
            append_plain(
                &t,
                "warrant(2, hex:0123456789abcdef0123456789abcdef, \"offline\", 2026-11-30T10:00:00Z);",
            ),
            Request::new("admin/users", "delete", NOW),
            DenialKind::RuleNotMatched,
            &["the human was verified by `unverified`"],
        ),
    ];
    run_table(&bearer_verifier(), attacks);
}

#[test]
fn a_token_signed_by_an_untrusted_key_is_refused() {
    let g = grant(&read_grant());
    let forger_same_id = SigningKey::generate(&mut OsRng, Some(KeyId(1)));
    let forger_other_id = SigningKey::generate(&mut OsRng, Some(KeyId(2)));
    let forger_no_id = SigningKey::generate(&mut OsRng, None);
    let m = |k: &SigningKey| {
        mint(k, MintRequest::offline(g.clone()), NOW, &mut OsRng)
            .unwrap()
            .token
            .to_base64()
            .unwrap()
    };
    let req = || Request::new("tickets/1", "read", NOW);
    run_table(
        &bearer_verifier(),
        vec![
            attack(
                "forger's key under the trusted key id",
                m(&forger_same_id),
                req(),
                DenialKind::BadSignature,
                &["signature in the token does not verify"],
            ),
            attack(
                "forger's key under an unknown key id",
                m(&forger_other_id),
                req(),
                DenialKind::UnknownKey,
                &["key id `2`, which is not a trusted key"],
            ),
            // With one trusted key, no key id means that key: the signature still fails.
            attack(
                "forger's key with no key id",
                m(&forger_no_id),
                req(),
                DenialKind::BadSignature,
                &["signature in the token does not verify"],
            ),
        ],
    );
}

#[test]
fn tampered_bytes_are_refused() {
    let t = bearer(&read_grant());
    let bytes = token_bytes(&t);
    let replace = |from: &[u8], to: &[u8]| {
        let i = bytes
            .windows(from.len())
            .position(|w| w == from)
            .unwrap_or_else(|| panic!("{from:?} not in the token"));
        let mut b = bytes.clone();
        b[i..i + to.len()].copy_from_slice(to);
        token_text(&b)
    };
    let mut truncated = bytes.clone();
    truncated.truncate(bytes.len() - 10);
    run_table(
        &bearer_verifier(),
        vec![
            attack(
                "issuer string changed",
                replace(b"offline", b"offlinf"),
                Request::new("tickets/1", "read", NOW),
                DenialKind::BadSignature,
                &["altered"],
            ),
            attack(
                "resource pattern widened in the signed check",
                replace(b"tickets/", b"tickets."),
                Request::new("tickets/1", "read", NOW),
                DenialKind::BadSignature,
                &["altered"],
            ),
            attack(
                "truncated",
                token_text(&truncated),
                Request::new("tickets/1", "read", NOW),
                DenialKind::Malformed,
                &["not a Biscuit token"],
            ),
            attack(
                "not base64",
                "!!!not-a-token!!!".to_owned(),
                Request::new("tickets/1", "read", NOW),
                DenialKind::Malformed,
                &[],
            ),
        ],
    );
}

/// A token with two narrowing attenuations (block 1: only `tickets/1`; block 2: only
/// `read`), and its top-level protobuf fields.
fn narrowed() -> (String, Vec<(u64, Vec<u8>)>) {
    let t =
        bearer(&json!({"allow": [{"resources": ["tickets/*"], "actions": ["read", "update"]}]}));
    let u = decode_unverified(&t).unwrap();
    let u = attenuate(
        &u,
        grant(&json!({"allow": [{"resources": ["tickets/1"], "actions": ["*"]}]})),
        NOW,
        &mut OsRng,
    )
    .unwrap();
    let u = attenuate(
        &u,
        grant(&json!({"allow": [{"resources": ["**"], "actions": ["read"]}]})),
        NOW,
        &mut OsRng,
    )
    .unwrap();
    let text = encode(&u);
    let fields = split_fields(&token_bytes(&text));
    (text, fields)
}

fn reassemble(fields: &[(u64, Vec<u8>)]) -> String {
    token_text(
        &fields
            .iter()
            .flat_map(|(_, b)| b.clone())
            .collect::<Vec<u8>>(),
    )
}

#[test]
fn blocks_removed_duplicated_or_reordered_are_refused() {
    let (text, fields) = narrowed();
    let v = bearer_verifier();
    // The narrowed token refuses `update` on tickets/2 (both blocks would).
    denied(
        &v.verify(&text, &Request::new("tickets/2", "update", NOW)),
        DenialKind::RuleNotMatched,
        &["block 1"],
    );
    let blocks: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, (tag, _))| *tag == 3)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(blocks.len(), 2);
    let without = |skip: &[usize]| {
        let f: Vec<_> = fields
            .iter()
            .enumerate()
            .filter(|(i, _)| !skip.contains(i))
            .map(|(_, f)| f.clone())
            .collect();
        reassemble(&f)
    };
    let mut duplicated = fields.clone();
    duplicated.insert(blocks[1], fields[blocks[0]].clone());
    let mut reordered = fields.clone();
    reordered.swap(blocks[0], blocks[1]);
    let req = || Request::new("tickets/2", "update", NOW);
    run_table(
        &v,
        vec![
            attack(
                "both attenuation blocks removed",
                without(&blocks),
                req(),
                DenialKind::BadSignature,
                &["altered"],
            ),
            attack(
                "first attenuation block removed",
                without(&blocks[..1]),
                req(),
                DenialKind::BadSignature,
                &["altered"],
            ),
            attack(
                "last attenuation block removed",
                without(&blocks[1..]),
                req(),
                DenialKind::BadSignature,
                &["altered"],
            ),
            attack(
                "first attenuation block duplicated",
                reassemble(&duplicated),
                req(),
                DenialKind::BadSignature,
                &["altered"],
            ),
            attack(
                "attenuation blocks reordered",
                reassemble(&reordered),
                req(),
                DenialKind::BadSignature,
                &["altered"],
            ),
        ],
    );
}

#[test]
fn tokens_of_another_profile_are_refused_by_name() {
    let v1 = trusted_biscuit(
        "warrant_profile(1); token_id(\"2d7a86e6a94df7aa6614a2e965d19195\"); \
         issuer(\"offline\"); issued_at(2026-11-30T10:00:00Z); \
         human(\"alice\"); human_verification(\"unverified\", 2026-11-30T10:00:00Z); \
         check if time($t), $t <= 2026-11-30T10:10:00Z; \
         check if resource(\"tickets/1\"), action(\"read\");",
    );
    let v3 = trusted_biscuit(
        "warrant(3, hex:2d7a86e6a94df7aa6614a2e965d19195, \"offline\", 2026-11-30T10:00:00Z); \
         human(\"\", \"unverified\", 2026-11-30T10:00:00Z); \
         check if resource(\"tickets/1\");",
    );
    let v1_shape_v2_name = trusted_biscuit(
        "warrant(1, hex:2d7a86e6a94df7aa6614a2e965d19195, \"offline\", 2026-11-30T10:00:00Z); \
         check if resource(\"tickets/1\");",
    );
    let nothing = trusted_biscuit("check if resource(\"tickets/1\");");
    let empty_ish = trusted_biscuit("user(\"alice\");");
    let req = || Request::new("tickets/1", "read", NOW);
    run_table(
        &bearer_verifier(),
        vec![
            attack(
                "a v1 token signed by the trusted key",
                v1,
                req(),
                DenialKind::NotWarrant,
                &["warrant profile 1", "accepts profile 2"],
            ),
            attack(
                "warrant(3, …)",
                v3,
                req(),
                DenialKind::NotWarrant,
                &["warrant profile 3"],
            ),
            attack(
                "warrant(1, …) in the v2 shape",
                v1_shape_v2_name,
                req(),
                DenialKind::NotWarrant,
                &["warrant profile 1"],
            ),
            attack(
                "a trusted Biscuit with checks but no warrant facts",
                nothing,
                req(),
                DenialKind::NotWarrant,
                &["not a warrant token"],
            ),
            attack(
                "a trusted Biscuit with an unrelated fact only",
                empty_ish,
                req(),
                DenialKind::NotWarrant,
                &["not a warrant token"],
            ),
        ],
    );
}

#[test]
fn a_verified_human_stays_who_the_issuer_said() {
    // Benign control: the issuer's own verified human passes the human rule, and a
    // later block naming another human does not change the claims.
    let mut req = MintRequest::offline(grant(&human_grant()));
    req.human = Some("alice".to_owned());
    req.verification = Some(Verification {
        method: Method::Passkey,
        at: NOW,
    });
    req.human_attrs
        .insert("kyc_complete".parse().unwrap(), Value::Bool(true));
    let t = mint_req(req);
    let forged = append_plain(&t, "human(\"mallory\", \"passkey\", 2026-11-30T10:00:00Z);");
    let d = bearer_verifier().verify(&forged, &Request::new("admin/users", "delete", NOW));
    allowed(&d);
    assert_eq!(d.claims().unwrap().human.as_deref(), Some("alice"));
}
