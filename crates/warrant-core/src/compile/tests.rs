use super::*;
use crate::keys::{KeyId, SigningKey};
use crate::token::{attenuate, decode_unverified, mint, MintRequest, Verification};

const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

fn grants() -> Vec<Grant> {
    [
        r#"{"audience": ["support-api", "billing"], "expires_at": "2026-11-30T10:10:00Z",
            "not_before": "2026-11-30T09:00:00Z",
            "allow": [
              {"resources": ["tickets/123/customer_name", "tickets/123/email_address"], "actions": ["read", "list"],
               "when": [{"attr": "ticket.status", "in": ["open", "pending"]}, {"attr": "n", "ne": 3}]},
              {"resources": ["orders/*/order_status"], "actions": ["update"],
               "when": [{"attr": "order.placed_at", "within": "24h"}, {"attr": "ok", "eq": true},
                        {"attr": "d", "ge": "2026-01-01T00:00:00Z"}, {"attr": "note", "prefix": "ref-"}]},
              {"resources": ["orders/*", "*", "a/*/**"], "actions": ["*"],
               "when": [{"attr": "amount", "lt": 5000}, {"attr": "reason", "present": true}],
               "human": {"methods": ["passkey", "oidc"], "max_age": "5m", "attrs": {"kyc": true, "level": 2}}}],
            "deny": [{"resources": ["customers/*/payment_card"], "actions": ["*"]},
                     {"resources": ["x"], "actions": ["delete", "purge"], "when": [{"attr": "k", "le": 1}]}]}"#,
        r#"{"expires_at": "2026-11-30T10:05:00Z"}"#,
        r#"{"deny": [{"resources": ["**"], "actions": ["write"]}]}"#,
    ]
    .iter()
    .map(|t| Grant::from_json_str(t).unwrap())
    .collect()
}

fn ctx() -> CompileContext {
    CompileContext {
        human_verified_at: Some(NOW),
    }
}

#[test]
fn compiled_checks_are_what_the_token_holds() {
    let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
    let mut gs = grants();
    let authority = gs.remove(0);
    let mut req = MintRequest::offline(authority.clone());
    req.verification = Some(Verification {
        method: crate::grant::Method::Passkey,
        at: NOW,
    });
    let minted = mint(&key, req, NOW, &mut rand_core::OsRng).unwrap();
    let blocks = crate::blocks::read_blocks(&minted.token.to_vec().unwrap()).unwrap();
    assert_eq!(
        blocks[0].checks,
        compile_checks(&authority, ctx()).unwrap().checks
    );
    let mut token = decode_unverified(&minted.token.to_base64().unwrap()).unwrap();
    for g in &gs {
        token = attenuate(&token, g.clone(), NOW, &mut rand_core::OsRng).unwrap();
    }
    let blocks = crate::blocks::read_blocks(&token.to_vec().unwrap()).unwrap();
    for (i, g) in gs.iter().enumerate() {
        assert_eq!(
            blocks[i + 1].checks,
            compile_checks(g, ctx()).unwrap().checks
        );
    }
}

#[test]
fn the_form_is_lean_and_readable() {
    let g = Grant::from_json_str(
        r#"{"audience": ["support-api"], "expires_at": "2026-11-30T10:10:00Z",
            "allow": [{"resources": ["tickets/123/email_address"], "actions": ["read"],
                       "when": [{"attr": "ticket.status", "eq": "open"}]},
                      {"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "amount", "lt": 5000}]}],
            "deny": [{"resources": ["customers/*/payment_card"], "actions": ["*"]},
                     {"resources": ["orders/**"], "actions": ["refund"], "when": [{"attr": "amount", "ge": 10000}]}]}"#,
    )
    .unwrap();
    let printed: Vec<String> = compile_checks(&g, ctx())
        .unwrap()
        .checks
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        printed,
        [
            "check if time($t), $t <= 2026-11-30T10:10:00Z",
            "check if audience(\"support-api\")",
            "check if resource(\"tickets/123/email_address\"), action(\"read\"), attr(\"ticket.status\", \"open\") \
             or resource($r), action(\"refund\"), attr(\"amount\", $v0), $r.matches(\"^orders/[^/]+$\"), $v0.type() == \"integer\", $v0 < 5000",
            "check if resource($r), !($r.matches(\"^customers/[^/]+/payment_card$\"))",
            "check if resource($r), !($r.starts_with(\"orders/\")) or action($a), !($a == \"refund\") \
             or attr(\"amount\", $v0), $v0.type() == \"integer\", !($v0 >= 10000)",
        ]
    );
}

#[test]
fn raw_datalog_adds_raw_checks() {
    let g = Grant::from_json_str(r#"{"datalog": "check if true;"}"#).unwrap();
    let (_, roles) = compile(&g, ctx()).unwrap();
    assert_eq!(roles, vec![CheckRole::Raw]);
}

#[test]
fn max_age_needs_a_verification_time() {
    let g = Grant::from_json_str(
        r#"{"allow": [{"resources": ["a"], "actions": ["read"], "human": {"max_age": "5m"}}]}"#,
    )
    .unwrap();
    let e = compile(&g, CompileContext::default()).unwrap_err();
    assert!(e.to_string().starts_with("allow[0].human.max_age:"));
}

#[test]
fn values_cannot_inject_datalog() {
    let g = Grant::from_json_str(
        r#"{"allow": [{"resources": ["a"], "actions": ["read"],
            "when": [{"attr": "x", "eq": "\"), true; check if false or (\""}]}]}"#,
    )
    .unwrap();
    let (block, roles) = compile(&g, ctx()).unwrap();
    assert_eq!(block.checks.len(), 1);
    assert!(block.facts.is_empty() && block.rules.is_empty());
    assert_eq!(roles, vec![CheckRole::Allow]);
}
