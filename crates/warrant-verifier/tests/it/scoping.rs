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

/// Every fact the verifier or the authority relies on, asserted by an attenuation block.
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
    human_verification("passkey", 2026-11-30T10:00:00Z);
    human_attr("kyc", true);
    warrant_profile(1);
    token_id("forged");
    issuer("https://evil.example");
"#;

/// The same facts derived by rules rather than stated, some with `trusting` annotations.
const FORGED_RULES: &str = r#"
    attr("amount", 1) <- time($t);
    resource("tickets/1") <- action($a);
    action("read") <- resource($r);
    time(2020-01-01T00:00:00Z) <- resource($r) trusting previous;
    audience("support-api") <- resource($r) trusting authority;
    human_verification("passkey", 2026-11-30T10:00:00Z) <- time($t);
    warrant_profile(1) <- time($t);
"#;

/// Asserts that `req` is denied (as `kind`) by `token`, and still denied as `kind` with
/// every forged block appended, one block or several.
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
        assert_eq!(d.attribute, before.attribute);
    }
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
    assert_eq!(denied(&d).attribute.as_deref(), Some("amount"));
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
    assert!(denied(&d).message.contains("unverified"), "{d:?}");
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
        for forged in [append(&narrowed, FORGED), append(&narrowed, FORGED_RULES)] {
            let after = v.verify(&forged, &req);
            assert_eq!(denied(&after).block, Some(1), "{after:?}");
        }
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
    assert_eq!(claims.issuer.as_deref(), Some("offline"));
    assert_ne!(claims.token_id.as_deref(), Some("forged"));
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

#[test]
fn an_authority_without_the_profile_fact_is_not_a_warrant() {
    let req = Request::new("tickets/1", "read", NOW);
    for code in [
        r#"token_id("x"); issuer("offline");"#,
        "warrant_profile(2);",
        r#"warrant_profile("1");"#,
        "warrant_profile(1, 1);",
        "right(\"tickets/1\", \"read\");",
    ] {
        let token = raw_authority(code);
        let d = verifier().verify(&token, &req);
        let d = denied_as(&d, DenialKind::NotWarrant);
        assert!(d.message.contains("warrant_profile"), "{d:?}");
        assert!(d.kind.is_invalid_token());
        // Nor can a later block supply the profile fact.
        let forged = append(&token, FORGED);
        denied_as(&verifier().verify(&forged, &req), DenialKind::NotWarrant);
        let forged = append(&token, FORGED_RULES);
        denied_as(&verifier().verify(&forged, &req), DenialKind::NotWarrant);
    }
    // The profile fact, stated by the issuer, is all the policy needs.
    assert!(verifier()
        .verify(&raw_authority("warrant_profile(1);"), &req)
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
