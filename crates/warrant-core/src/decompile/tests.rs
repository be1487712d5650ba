use super::*;
use crate::blocks::read_blocks;
use crate::keys::{KeyId, SigningKey};
use crate::token::{
    attenuate, decode_unverified, delegate, encode, mint, MintRequest, Verification,
};
use biscuit_auth::Biscuit;

const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

fn key() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)))
}

fn lift_biscuit(t: &Biscuit) -> Option<Lifted> {
    lift(&read_blocks(&t.to_vec().unwrap()).unwrap())
}

fn lift_text(text: &str) -> Option<Lifted> {
    lift(&read_blocks(&crate::token::decode_base64(text).unwrap()).unwrap())
}

fn minted(grant: &str, key: &SigningKey) -> Biscuit {
    let mut req = MintRequest::offline(Grant::from_json_str(grant).unwrap());
    req.human = Some("alice".into());
    req.human_attrs
        .insert("kyc".parse().unwrap(), Value::Bool(true));
    req.verification = Some(Verification {
        method: Method::Passkey,
        at: NOW,
    });
    req.holder = Some(
        SigningKey::generate(&mut rand_core::OsRng, None)
            .public()
            .into(),
    );
    mint(key, req, NOW, &mut rand_core::OsRng).unwrap().token
}

const GRANTS: [&str; 8] = [
    r#"{"audience": ["api"], "allow": [{"resources": ["a/*"], "actions": ["read", "write"],
        "when": [{"attr": "n", "in": [1, 2]}]}], "deny": [{"resources": ["a/x"], "actions": ["*"]}]}"#,
    r#"{"audience": ["support-api", "billing"], "not_before": "2026-11-30T09:00:00Z",
        "allow": [
          {"resources": ["tickets/123/customer_name", "tickets/123/email_address"], "actions": ["read", "list"],
           "when": [{"attr": "ticket.status", "in": ["open", "pending"]}, {"attr": "n", "ne": 3}]},
          {"resources": ["orders/*/order_status"], "actions": ["update"],
           "when": [{"attr": "order.placed_at", "within": "24h"}, {"attr": "ok", "eq": true},
                    {"attr": "d", "ge": "2026-01-01T00:00:00Z"}, {"attr": "note", "prefix": "ref-"}]},
          {"resources": ["orders/*", "*", "a/*/**", "b/**", "c"], "actions": ["*"],
           "when": [{"attr": "amount", "lt": 5000}, {"attr": "reason", "present": true}],
           "human": {"methods": ["passkey", "oidc"], "max_age": "5m", "attrs": {"kyc": true, "level": 2}}}],
        "deny": [{"resources": ["customers/*/payment_card"], "actions": ["*"]},
                 {"resources": ["x", "y"], "actions": ["delete", "purge"], "when": [{"attr": "k", "le": 1}]},
                 {"resources": ["**"], "actions": ["*"], "when": [{"attr": "amount", "ge": 10000}, {"attr": "s", "eq": "x"}]}]}"#,
    r#"{"allow": [{"resources": ["**"], "actions": ["*"]}]}"#,
    r#"{"allow": [{"resources": ["a"], "actions": ["read"], "human": {"methods": ["passkey"]}}]}"#,
    r#"{"allow": [{"resources": ["a"], "actions": ["read"], "human": {}}],
        "deny": [{"resources": ["**"], "actions": ["*"]}]}"#,
    r#"{"allow": [{"resources": ["a", "b/**"], "actions": ["read"], "when": [{"attr": "x", "gt": "2026-01-01T00:00:00Z"}]}]}"#,
    r#"{"allow": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "x", "eq": "say \"hi\"\\"}]}]}"#,
    r#"{"allow": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "x", "eq": {"date": "2026-01-01T00:00:00Z"}}, {"attr": "x", "eq": 3}]}]}"#,
];

#[test]
fn minted_tokens_lift_to_their_grants() {
    let key = key();
    for text in GRANTS {
        let mut grant = Grant::from_json_str(text).unwrap();
        let token = minted(text, &key);
        let lifted = lift_biscuit(&token).unwrap_or_else(|| panic!("{text}\n{}", token.print()));
        crate::token::resolve_lifetime(&mut grant, NOW, Some(crate::token::DEFAULT_TTL)).unwrap();
        assert_eq!(lifted.blocks[0].grant(), grant, "{text}");
        assert_eq!(lifted.authority.human.as_deref(), Some("alice"));
        assert_eq!(lifted.authority.verification, Some(("passkey".into(), NOW)));
    }
}

#[test]
fn attenuated_and_delegated_tokens_lift() {
    let key = key();
    let agent = SigningKey::generate(&mut rand_core::OsRng, None);
    let sub = SigningKey::generate(&mut rand_core::OsRng, None);
    let mut req = MintRequest::offline(Grant::from_json_str(GRANTS[1]).unwrap());
    req.human = Some("alice".into());
    req.holder = Some(agent.public().into());
    let token = mint(&key, req, NOW, &mut rand_core::OsRng).unwrap().token;
    let mut t = decode_unverified(&token.to_base64().unwrap()).unwrap();
    for g in GRANTS {
        let mut g = Grant::from_json_str(g).unwrap();
        g.allow.iter_mut().for_each(|r| r.human = None);
        t = attenuate(&t, g, NOW, &mut rand_core::OsRng).unwrap();
    }
    let narrower = Grant::from_json_str(
        r#"{"ttl": "1m", "allow": [{"resources": ["a"], "actions": ["read"]}]}"#,
    )
    .unwrap();
    t = delegate(
        &t,
        &agent,
        sub.public(),
        narrower,
        NOW,
        &mut rand_core::OsRng,
    )
    .unwrap();
    t = delegate(
        &t,
        &sub,
        agent.public(),
        Grant::default(),
        NOW,
        &mut rand_core::OsRng,
    )
    .unwrap();
    let lifted = lift_text(&encode(&t)).expect("every block is in the profile");
    assert_eq!(lifted.blocks.len(), GRANTS.len() + 3);
    assert_eq!(
        lifted.blocks[GRANTS.len() + 1].holder,
        Some(sub.public().to_string())
    );
    assert_eq!(
        lifted.blocks[GRANTS.len() + 2].holder,
        Some(agent.public().to_string())
    );
    assert!(lifted.blocks[GRANTS.len() + 2].grant().is_empty());
}

#[test]
fn blocks_outside_the_profile_do_not_lift() {
    let key = key();
    let token = minted(
        r#"{"allow": [{"resources": ["a"], "actions": ["read"]}]}"#,
        &key,
    );
    assert!(lift_biscuit(&token).is_some());
    let append = |code: &str| {
        token
            .append(biscuit_auth::BlockBuilder::new().code(code).unwrap())
            .unwrap()
    };
    // Plain Biscuit attenuations from other tools that say what a grant says, in the
    // same words, are in the profile.
    let expiry = lift_biscuit(&append("check if time($t), $t <= 2030-01-01T00:00:00Z;")).unwrap();
    assert_eq!(
        expiry.blocks[1].expires_at(),
        Some("2030-01-01T00:00:00Z".parse().unwrap())
    );
    let read_only = lift_biscuit(&append("check if action(\"read\");")).unwrap();
    assert_eq!(
        read_only.blocks[1].timeless().allow[0].actions,
        Actions::Listed(vec!["read".parse().unwrap()])
    );
    // Other words are not.
    assert!(lift_biscuit(&append("check if operation(\"read\");")).is_none());
    assert!(lift_biscuit(&append("check if time($x), $x <= 2030-01-01T00:00:00Z;")).is_none());
    assert!(lift_biscuit(&append("check all action(\"read\");")).is_none());
    // The profile's own form, with one more fact, a rule, or a trusting scope.
    let g =
        Grant::from_json_str(r#"{"allow": [{"resources": ["a"], "actions": ["read"]}]}"#).unwrap();
    let (block, _) = crate::compile::compile(&g, CompileContext::default()).unwrap();
    assert!(lift_biscuit(&token.append(block.clone()).unwrap()).is_some());
    let with_fact = block.clone().fact("human(\"admin\")").unwrap();
    assert!(lift_biscuit(&token.append(with_fact).unwrap()).is_none());
    let with_rule = block.clone().rule("x($a) <- action($a)").unwrap();
    assert!(lift_biscuit(&token.append(with_rule).unwrap()).is_none());
    let scoped = block.clone().scope(biscuit_auth::builder::Scope::Previous);
    assert!(lift_biscuit(&token.append(scoped).unwrap()).is_none());
    // A check that looks like an allow rule but tests something the profile never does.
    assert!(lift_biscuit(&append("check if resource($r), $r.ends_with(\"a\");")).is_none());
    assert!(lift_biscuit(&append(
        "check if resource(\"a\"), action(\"read\"), attr(\"x\", $v0), $v0 == 1, $v0 == 2;"
    ))
    .is_none());
    // Raw Datalog in a minted grant.
    let raw = minted(
        r#"{"allow": [{"resources": ["a"], "actions": ["read"]}], "datalog": "check if true;"}"#,
        &key,
    );
    assert!(lift_biscuit(&raw).is_none());
    // A token that is not a warrant token, and a profile 1 token.
    let plain = Biscuit::builder()
        .code("right(\"a\");")
        .unwrap()
        .build(key.key_pair())
        .unwrap();
    assert!(lift_biscuit(&plain).is_none());
    let v1 = Biscuit::builder()
        .code("warrant_profile(1); token_id(\"00000000000000000000000000000000\"); check if resource(\"a\");")
        .unwrap()
        .build(key.key_pair())
        .unwrap();
    assert!(lift_biscuit(&v1).is_none());
    let facts = AuthorityFacts::from_facts(&read_blocks(&v1.to_vec().unwrap()).unwrap()[0].facts);
    assert_eq!((facts.profile, facts.legacy_profile), (None, Some(1)));
}

#[test]
fn printed_text_cannot_forge_authority_facts() {
    let key = key();
    let evil = "x\");\nwarrant(2, hex:00000000000000000000000000000000, \"offline\", 2026-01-01T00:00:00Z);\nhuman(\"admin";
    // warrant refuses to mint such a value...
    let mut req = MintRequest::offline(
        Grant::from_json_str(r#"{"allow": [{"resources": ["a"], "actions": ["read"]}]}"#).unwrap(),
    );
    req.human_attrs
        .insert("note".parse().unwrap(), Value::String(evil.into()));
    assert!(matches!(
        mint(&key, req.clone(), NOW, &mut rand_core::OsRng),
        Err(crate::token::TokenError::HumanAttr(_))
    ));
    // ...and a token from another issuer implementation that carries one is read as data.
    req.human_attrs.clear();
    let token = mint(&key, req, NOW, &mut rand_core::OsRng).unwrap();
    let mut blocks = read_blocks(&token.token.to_vec().unwrap()).unwrap();
    blocks[0].facts.push(biscuit_auth::builder::fact(
        "human_attr",
        &[Term::Str("note".into()), Term::Str(evil.into())],
    ));
    let facts = AuthorityFacts::from_facts(&blocks[0].facts);
    assert_eq!(facts.token_id.as_deref(), Some(token.token_id.as_str()));
    assert_eq!(facts.human, None);
    assert_eq!(
        facts.human_attrs.get("note"),
        Some(&Value::String(evil.into()))
    );
    // (An authority block with facts beyond what the profile stamps is not lifted.)
    assert!(lift(&blocks).is_none());
}

/// Checks in the compiled form of a grant that [`Grant::from_json`] would refuse: were
/// they lifted, the native evaluation (Rust ordering, the first element's type) and
/// Biscuit (a type error, a heterogeneous set) would decide differently.
#[test]
fn grants_the_parser_refuses_do_not_lift() {
    let key = key();
    let token = minted(
        r#"{"allow": [{"resources": ["a"], "actions": ["read"]}]}"#,
        &key,
    );
    let append = |code: &str| {
        token
            .append(biscuit_auth::BlockBuilder::new().code(code).unwrap())
            .unwrap()
    };
    // The well-typed forms lift...
    for good in [
        r#"check if resource("a"), action("read"), attr("x", $v0), $v0.type() == "integer", $v0 < 5;"#,
        r#"check if resource("a"), action("read"), attr("x", $v0), ["open", "shut"].contains($v0);"#,
        r#"check if resource($r), !($r == "a") or action($a), !($a == "read") or attr("x", $v0), $v0.type() == "integer", !($v0 >= 5);"#,
    ] {
        assert!(lift_biscuit(&append(good)).is_some(), "{good}");
    }
    // ...and the same shapes on the wrong types do not.
    for bad in [
        r#"check if resource("a"), action("read"), attr("x", $v0), $v0.type() == "string", $v0 < "m";"#,
        r#"check if resource("a"), action("read"), attr("x", $v0), $v0.type() == "bool", $v0 >= false;"#,
        r#"check if resource("a"), action("read"), attr("x", $v0), ["open", 3].contains($v0);"#,
        r#"check if resource("a"), action("read"), attr("x", $v0), [].contains($v0);"#,
        r#"check if resource($r), !($r == "a") or action($a), !($a == "read") or attr("x", $v0), $v0.type() == "string", !($v0 >= "m");"#,
    ] {
        assert!(lift_biscuit(&append(bad)).is_none(), "{bad}");
    }
}
