//! The security property of the token profile: facts that a later block asserts are
//! never trusted by the authority's checks or by the verifier (design, section 2).

use biscuit_auth::{BiscuitBuilder, BlockBuilder};
use serde_json::{json, Value as J};
use warrant_core::token::{decode_unverified, encode};
use warrant_verifier::{Decision, DenialKind, Request, Value};

use crate::common::{at, denied, denied_as, key, mint_text, verifier, NOW};

/// `token` with one more block holding `code`, appended by an arbitrary holder (Biscuit's
/// ordinary attenuation: no key needed).
fn append(token: &str, code: &str) -> String {
    let block = BlockBuilder::new()
        .code(code)
        .unwrap_or_else(|e| panic!("bad block {code}: {e}"));
    encode(&decode_unverified(token).unwrap().append(block).unwrap())
}

/// `token` with a third-party block holding `code`, signed by a key nobody trusts.
fn append_third_party(token: &str, code: &str) -> String {
    let unverified = decode_unverified(token).unwrap();
    let request = unverified.third_party_request().unwrap();
    let stranger = biscuit_auth::KeyPair::new();
    let block = request
        .create_block(&stranger.private(), BlockBuilder::new().code(code).unwrap())
        .unwrap();
    encode(
        &unverified
            .append_third_party(&block.serialize().unwrap())
            .unwrap(),
    )
}

/// Every fact the verifier or the authority relies on, asserted by an attenuation block:
/// the request facts, and the authority facts under their profile v2 names (`warrant`,
/// `human`, `human_attr`) and their v1 names (an attacker would try both).
/// (`holder` is left out: a later block naming a holder without the current holder's
/// signature makes the whole token invalid; `holder.rs` tests that attack.)
const FORGED: &str = r#"
    attr("amount", 1);
    attr("ticket.status", "open");
    attr_age("placed_at", 0);
    resource("tickets/1");
    action("read");
    time(2020-01-01T00:00:00Z);
    audience("support-api");
    warrant(2, hex:00000000000000000000000000000000, "https://evil.example", 2020-01-01T00:00:00Z);
    human("admin", "passkey", 2026-11-30T10:00:00Z);
    human_attr("kyc", true);
    warrant_profile(1);
    token_id("forged");
    issuer("https://evil.example");
    issued_at(2020-01-01T00:00:00Z);
    human_verification("passkey", 2026-11-30T10:00:00Z);
"#;

/// The same facts derived by rules rather than stated, some with `trusting` annotations.
/// Not recursive: every rule derives from `seed`, a fact the block states itself, so the
/// block is within the evaluation budget and Biscuit evaluates it.
const FORGED_RULES: &str = r#"
    seed(1);
    attr("amount", 1) <- seed($x);
    attr_age("placed_at", 0) <- seed($x);
    resource("tickets/1") <- seed($x);
    action("read") <- seed($x);
    time(2020-01-01T00:00:00Z) <- seed($x) trusting previous;
    audience("support-api") <- seed($x) trusting authority;
    warrant(2, hex:00000000000000000000000000000000, "https://evil.example", 2020-01-01T00:00:00Z) <- seed($x);
    human("admin", "passkey", 2026-11-30T10:00:00Z) <- seed($x);
    human_attr("kyc", true) <- seed($x) trusting previous;
    warrant_profile(1) <- seed($x);
    human_verification("passkey", 2026-11-30T10:00:00Z) <- seed($x);
"#;

/// Forged facts derived by a recursive rule set (`resource` and `action` from each
/// other). Profile v2 refuses recursive rules unevaluated: the token is over the
/// evaluation budget, whatever the rules would derive.
const FORGED_RECURSIVE_RULES: &str = r#"
    attr("amount", 1) <- time($t);
    resource("tickets/1") <- action($a);
    action("read") <- resource($r);
    time(2020-01-01T00:00:00Z) <- resource($r) trusting previous;
    audience("support-api") <- resource($r) trusting authority;
    warrant(2, hex:00000000000000000000000000000000, "https://evil.example", 2020-01-01T00:00:00Z) <- time($t);
    human("admin", "passkey", 2026-11-30T10:00:00Z) <- action($a);
    human_verification("passkey", 2026-11-30T10:00:00Z) <- time($t);
    warrant_profile(1) <- time($t);
"#;

/// Asserts that `token` with a block of recursive forged rules appended (as block
/// `block`, plainly or by a third party) is refused unevaluated as over budget.
fn recursive_rules_are_over_budget(token: &str, req: &Request, block: usize) {
    let v = verifier();
    for forged in [
        append(token, FORGED_RECURSIVE_RULES),
        append_third_party(token, FORGED_RECURSIVE_RULES),
    ] {
        let after = v.verify(&forged, req);
        let d = denied_as(&after, DenialKind::OverBudget);
        assert_eq!(d.block, Some(block), "{d:?}");
        assert!(d.message().contains("recursive"), "{d:?}");
        assert!(d.kind.is_invalid_token());
    }
}

/// Asserts that `req` is denied (as `kind`) by `token`, and still denied as `kind` with
/// every forged block appended, one block or several; a recursive forged rule set gets
/// the token refused as over budget instead.
fn stays_denied(token: &str, req: &Request, kind: DenialKind) {
    let v = verifier();
    let before = v.verify(token, req);
    let before = denied_as(&before, kind).clone();
    for forged in [
        append(token, FORGED),
        append(token, FORGED_RULES),
        append(&append(token, FORGED), FORGED_RULES),
        append_third_party(token, FORGED),
        append_third_party(token, FORGED_RULES),
    ] {
        let after = v.verify(&forged, req);
        let d = denied_as(&after, kind);
        assert_eq!(d.block, before.block, "the same block still refuses: {d:?}");
        assert_eq!(d.attribute(), before.attribute());
    }
    recursive_rules_are_over_budget(token, req, 1);
}

fn amount_grant() -> J {
    json!({
        "audience": ["support-api"],
        "ttl": "10m",
        "allow": [{"resources": ["tickets/1"], "actions": ["read"],
                   "when": [{"attr": "amount", "lt": 5000}]}]
    })
}

fn good_request() -> Request {
    Request::new("tickets/1", "read", NOW)
        .with_audience("support-api")
        .with_attr("amount", 10i64)
}

#[test]
fn the_unforged_request_is_allowed_and_facts_alone_do_not_deny_it() {
    let token = mint_text(&amount_grant());
    assert!(verifier().verify(&token, &good_request()).is_allowed());
    // A block with facts and no checks narrows nothing.
    assert!(verifier()
        .verify(&append(&token, FORGED), &good_request())
        .is_allowed());
}

#[test]
fn a_missing_attribute_stays_missing() {
    let token = mint_text(&amount_grant());
    let req = Request::new("tickets/1", "read", NOW).with_audience("support-api");
    stays_denied(&token, &req, DenialKind::MissingAttribute);
    let d = verifier().verify(&append(&token, FORGED), &req);
    assert_eq!(denied(&d).attribute(), Some("amount"));
}

#[test]
fn a_failing_attribute_stays_failing() {
    let token = mint_text(&amount_grant());
    let req = good_request().with_attr("amount", 5000i64);
    stays_denied(&token, &req, DenialKind::RuleNotMatched);
}

#[test]
fn a_within_condition_is_not_satisfied_by_a_forged_age() {
    let token = mint_text(&json!({
        "allow": [{"resources": ["tickets/1"], "actions": ["read"],
                   "when": [{"attr": "placed_at", "within": "1h"}]}]
    }));
    let old = Request::new("tickets/1", "read", NOW).with_attr("placed_at", at(-7200));
    stays_denied(&token, &old, DenialKind::RuleNotMatched);
    let fresh = Request::new("tickets/1", "read", NOW).with_attr("placed_at", at(-60));
    assert!(verifier().verify(&token, &fresh).is_allowed());
}

#[test]
fn an_expired_token_stays_expired() {
    let token = mint_text(&amount_grant());
    let late = Request::new("tickets/1", "read", at(601))
        .with_audience("support-api")
        .with_attr("amount", 10i64);
    stays_denied(&token, &late, DenialKind::Expired);
}

#[test]
fn a_token_not_yet_valid_stays_not_yet_valid() {
    let token = mint_text(&json!({
        "not_before": at(3600).to_string(),
        "expires_at": at(7200).to_string(),
        "allow": [{"resources": ["tickets/1"], "actions": ["read"]}]
    }));
    stays_denied(
        &token,
        &Request::new("tickets/1", "read", NOW),
        DenialKind::NotYetValid,
    );
}

#[test]
fn an_uncovered_resource_or_action_stays_denied() {
    let token = mint_text(&amount_grant());
    for (resource, action) in [
        ("tickets/2", "read"),
        ("tickets/1", "write"),
        ("orders/1", "delete"),
    ] {
        let req = Request::new(resource, action, NOW)
            .with_audience("support-api")
            .with_attr("amount", 10i64);
        stays_denied(&token, &req, DenialKind::RuleNotMatched);
    }
}

#[test]
fn a_wrong_audience_stays_wrong() {
    let token = mint_text(&amount_grant());
    let other = Request::new("tickets/1", "read", NOW)
        .with_audience("billing-api")
        .with_attr("amount", 10i64);
    stays_denied(&token, &other, DenialKind::Audience);
    let none = Request::new("tickets/1", "read", NOW).with_attr("amount", 10i64);
    stays_denied(&token, &none, DenialKind::Audience);
}

#[test]
fn a_human_requirement_stays_unmet_for_an_offline_token() {
    let token = mint_text(&json!({
        "allow": [{"resources": ["orders/*"], "actions": ["refund"],
                   "human": {"methods": ["passkey"], "max_age": "5m", "attrs": {"kyc": true}}}]
    }));
    let req = Request::new("orders/1", "refund", NOW);
    stays_denied(&token, &req, DenialKind::RuleNotMatched);
    let d = verifier().verify(&append(&token, FORGED), &req);
    assert!(denied(&d).message().contains("unverified"), "{d:?}");
}

#[test]
fn a_deny_rule_still_wins_over_forged_facts() {
    let token = mint_text(&json!({
        "allow": [{"resources": ["tickets/*"], "actions": ["*"]}],
        "deny": [{"resources": ["tickets/secret"], "actions": ["*"]}]
    }));
    stays_denied(
        &token,
        &Request::new("tickets/secret", "read", NOW),
        DenialKind::DeniedByRule,
    );
}

#[test]
fn an_attenuation_check_ignores_facts_of_blocks_after_it() {
    // Block 1 (a legitimate narrowing) expires after one minute; block 2 forges the time
    // and everything else.
    let token = mint_text(
        &json!({"ttl": "1h", "allow": [{"resources": ["tickets/*"], "actions": ["read"]}]}),
    );
    let narrowed = append(
        &token,
        r#"check if time($t), $t <= 2026-11-30T10:01:00Z;
           check if resource("tickets/1");"#,
    );
    let v = verifier();
    assert!(v
        .verify(&narrowed, &Request::new("tickets/1", "read", NOW))
        .is_allowed());
    for req in [
        Request::new("tickets/1", "read", at(61)),
        Request::new("tickets/2", "read", NOW),
    ] {
        let before = v.verify(&narrowed, &req);
        assert_eq!(denied(&before).block, Some(1));
        for forged in [
            append(&narrowed, FORGED),
            append(&narrowed, FORGED_RULES),
            append(&append(&narrowed, FORGED), FORGED_RULES),
            append_third_party(&narrowed, FORGED),
            append_third_party(&narrowed, FORGED_RULES),
        ] {
            let after = v.verify(&forged, &req);
            assert_eq!(denied(&after).block, Some(1), "{after:?}");
        }
        // Recursive forged rules (block 2) are refused unevaluated.
        recursive_rules_are_over_budget(&narrowed, &req, 2);
    }
}

#[test]
fn claims_come_from_the_authority_block_only() {
    let token = mint_text(&amount_grant());
    let forged = append(&token, FORGED);
    let Decision::Allowed(claims) = verifier().verify(&forged, &good_request()) else {
        panic!("expected allowed");
    };
    assert_eq!(claims.holder, None, "a bearer token stays a bearer token");
    assert_eq!(claims.verification_method.as_deref(), Some("unverified"));
    assert_eq!(claims.verified_at.as_deref(), Some("2026-11-30T10:00:00Z"));
    assert_eq!(claims.human, None, "the offline mint named no human");
    assert_eq!(claims.issuer.as_deref(), Some("offline"));
    let id = claims.token_id.as_deref().unwrap();
    assert_eq!(id.len(), 32, "{id}");
    assert_ne!(id, "forged");
    assert_ne!(id, "00000000000000000000000000000000");
    assert_eq!(claims.block_count, 2);
}

/// A token signed by the trusted key whose authority block is written directly with
/// biscuit-auth.
fn raw_authority(code: &str) -> String {
    BiscuitBuilder::new()
        .code(code)
        .unwrap()
        .root_key_id(1)
        .build(key().key_pair())
        .unwrap()
        .to_base64()
        .unwrap()
}

/// A well-formed v2 `warrant(…)` fact, as an issuer would state it.
const WARRANT_V2: &str =
    r#"warrant(2, hex:0123456789abcdef0123456789abcdef, "offline", 2026-11-30T10:00:00Z);"#;

#[test]
fn an_authority_without_the_profile_fact_is_not_a_warrant() {
    let req = Request::new("tickets/1", "read", NOW);
    // Profile v2: the profile fact is `warrant(2, hex:id, issuer, issued_at)`.
    let without = [
        r#"token_id("x"); issuer("offline");"#,
        "warrant_profile(2);",
        r#"warrant_profile("1");"#,
        "warrant_profile(1, 1);",
        "warrant(2);",
        r#"warrant(2, hex:0123456789abcdef0123456789abcdef, "offline");"#,
        r#"warrant("2", hex:0123456789abcdef0123456789abcdef, "offline", 2026-11-30T10:00:00Z);"#,
        r#"warrant(2, "0123456789abcdef0123456789abcdef", "offline", 2026-11-30T10:00:00Z);"#,
        "right(\"tickets/1\", \"read\");",
    ];
    // Another profile version, named in the message (v1 tokens are refused by name).
    let other_profile = [
        ("warrant_profile(1);", "profile 1"),
        (
            r#"warrant_profile(1); token_id("0123456789abcdef0123456789abcdef"); issuer("offline"); issued_at(2026-11-30T10:00:00Z); human_verification("unverified", 2026-11-30T10:00:00Z);"#,
            "profile 1",
        ),
        (
            r#"warrant(1, hex:0123456789abcdef0123456789abcdef, "offline", 2026-11-30T10:00:00Z);"#,
            "profile 1",
        ),
        (
            r#"warrant(3, hex:0123456789abcdef0123456789abcdef, "offline", 2026-11-30T10:00:00Z);"#,
            "profile 3",
        ),
    ];
    let cases = without
        .iter()
        .map(|code| (*code, "`warrant(…)`"))
        .chain(other_profile);
    for (code, named) in cases {
        let token = raw_authority(code);
        let d = verifier().verify(&token, &req);
        let d = denied_as(&d, DenialKind::NotWarrant);
        assert!(d.message().contains(named), "{code}: {d:?}");
        assert!(d.kind.is_invalid_token());
        // Nor can a later block supply the profile fact, stated or derived, in either
        // profile's names.
        for forged in [
            append(&token, FORGED),
            append(&token, FORGED_RULES),
            append(&token, FORGED_RECURSIVE_RULES),
            append_third_party(&token, FORGED),
            append_third_party(&token, FORGED_RULES),
        ] {
            let d = verifier().verify(&forged, &req);
            denied_as(&d, DenialKind::NotWarrant);
        }
    }
    // The profile fact, stated by the issuer, is all the policy needs.
    assert!(verifier()
        .verify(&raw_authority(WARRANT_V2), &req)
        .is_allowed());
}

#[test]
fn request_values_are_data_for_the_token() {
    // A request attribute or resource that reads as Datalog is a string, nothing more.
    let token = mint_text(&amount_grant());
    let req = Request::new("tickets/1\"), resource(\"tickets/1", "read", NOW)
        .with_audience("support-api")
        .with_attr("amount", Value::String("1); attr(\"amount\", 1".into()));
    denied(&verifier().verify(&token, &req));
}
