//! Datalog smuggling: appended blocks that assert or derive request and authority facts,
//! widen their scope, or look like policies. None may turn a denial into an allow.

use biscuit_auth::builder::Scope;
use serde_json::json;
use warrant_verifier::{DenialKind, Request, Verifier};

use crate::{
    allowed, append_block, append_plain, append_third_party, at, attack, bearer, bearer_builder,
    new_key, run_table, NOW,
};

fn base() -> String {
    bearer(&json!({
        "audience": ["support-api"], "ttl": "10m",
        "allow": [
            {"resources": ["tickets/*"], "actions": ["read"],
             "when": [{"attr": "ticket.status", "eq": "open"}]},
            {"resources": ["orders/*"], "actions": ["refund"],
             "when": [{"attr": "amount", "lt": 5000}]}
        ],
        "deny": [{"resources": ["orders/**"], "actions": ["refund"],
                  "when": [{"attr": "amount", "ge": 100000}]}]
    }))
}

fn v() -> Verifier {
    bearer_builder().audience("support-api").build()
}

fn admin() -> Request {
    Request::new("admin/users", "delete", NOW)
}

const NO_RULE: &str = "no allow rule covers action `delete` on `admin/users`";

#[test]
fn appended_request_facts_are_not_trusted() {
    let t = base();
    let stranger = new_key();
    let attacks =
        vec![
        attack(
            "resource and action facts in a plain block",
            append_plain(
                &t,
                "resource(\"tickets/1\"); action(\"read\"); attr(\"ticket.status\", \"open\");",
            ),
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
        attack(
            "rules deriving resource and action",
            append_plain(
                &t,
                "resource(\"tickets/1\") <- time($t); action(\"read\") <- time($t); \
                 attr(\"ticket.status\", \"open\") <- time($t);",
            ),
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
        attack(
            "a rule deriving the missing attribute",
            append_plain(&t, "attr(\"ticket.status\", \"open\") <- resource($r), action($a);"),
            Request::new("tickets/1", "read", NOW),
            DenialKind::MissingAttribute,
            &["ticket.status", "missing"],
        )
        .block(0)
        .attribute("ticket.status"),
        attack(
            "an earlier time fact against expiry",
            append_plain(&t, "time(2026-11-30T10:00:00Z);"),
            Request::new("tickets/1", "read", at(3600)).with_attr("ticket.status", "open"),
            DenialKind::Expired,
            &["expired"],
        )
        .block(0),
        attack(
            "an audience fact for another API",
            append_plain(&t, "audience(\"support-api\");"),
            Request::new("tickets/1", "read", NOW)
                .with_attr("ticket.status", "open")
                .with_audience("billing-api"),
            DenialKind::Audience,
            &["support-api", "billing-api"],
        )
        .block(0),
        attack(
            "an attr fact against a fail-closed deny rule",
            append_plain(&t, "attr(\"amount\", 1); attr_age(\"amount\", 0);"),
            Request::new("orders/1", "refund", NOW),
            DenialKind::DeniedByRule,
            &["deny[0]", "attribute `amount` is missing from the request"],
        )
        .block(0)
        .attribute("amount"),
        attack(
            "request facts from a stranger's third-party block",
            append_third_party(
                &t,
                &stranger,
                "resource(\"tickets/1\"); action(\"read\"); attr(\"ticket.status\", \"open\"); \
                 resource(\"tickets/2\") <- action($a);",
            ),
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
    ];
    run_table(&v(), attacks);
}

#[test]
fn trusting_scopes_do_not_widen_anything() {
    let t = base();
    let stranger = new_key();
    let by_stranger =
        append_third_party(&t, &stranger, "resource(\"tickets/1\"); action(\"read\");");
    let trusting_stranger = append_plain(
        &by_stranger,
        &format!(
            "resource(\"tickets/2\") <- action($r) trusting ed25519/{}; \
             check if resource($r) trusting ed25519/{};",
            hex::encode(stranger.public().to_bytes()),
            hex::encode(stranger.public().to_bytes())
        ),
    );
    let previous = append_block(
        &t,
        biscuit_auth::BlockBuilder::new()
            .code("resource(\"tickets/1\"); action(\"read\"); attr(\"ticket.status\", \"open\");")
            .unwrap()
            .scope(Scope::Previous),
    );
    let authority = append_block(
        &t,
        biscuit_auth::BlockBuilder::new()
            .code("resource(\"tickets/1\") <- action($a); action(\"read\") <- time($t);")
            .unwrap()
            .scope(Scope::Authority),
    );
    let attacks = vec![
        attack(
            "rules with `trusting authority`",
            append_plain(
                &t,
                "resource(\"tickets/1\") <- warrant($v, $i, $s, $t) trusting authority; \
                 action(\"read\") <- resource($r) trusting authority;",
            ),
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
        attack(
            "rules with `trusting previous`",
            append_plain(
                &t,
                "resource(\"tickets/1\") <- time($t) trusting previous; \
                 action(\"read\") <- resource($r) trusting previous;",
            ),
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
        attack(
            "rules trusting a stranger's third-party key",
            trusting_stranger,
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
        attack(
            "block-level `trusting previous` with request facts",
            previous,
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
        attack(
            "block-level `trusting authority` with rules",
            authority,
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
    ];
    run_table(&v(), attacks);
}

#[test]
fn check_all_reject_if_and_policy_look_alikes_only_narrow() {
    let t = base();
    // `allow if` is not block syntax at all: it cannot even be appended.
    assert!(biscuit_auth::BlockBuilder::new()
        .code("allow if true;")
        .is_err());
    let attacks = vec![
        attack(
            "`check all` that holds",
            append_plain(&t, "check all action($a), $a != \"nothing\";"),
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
        attack(
            "`reject if false`",
            append_plain(&t, "reject if false;"),
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
        attack(
            "policy-looking facts and rules",
            append_plain(
                &t,
                "allow(true); policy(\"allow if true\"); allow($r) <- resource($r); \
                 check if true or true;",
            ),
            admin(),
            DenialKind::RuleNotMatched,
            &[NO_RULE],
        )
        .block(0),
        attack(
            "`reject if` that fires on a request the token allows",
            append_plain(&t, "reject if action(\"read\");"),
            Request::new("tickets/1", "read", NOW).with_attr("ticket.status", "open"),
            DenialKind::CheckFailed,
            &["reject if action(\"read\")"],
        )
        .block(1),
        attack(
            "`check all` that fails on a request the token allows",
            append_plain(&t, "check all attr($n, $v), $v == \"closed\";"),
            Request::new("tickets/1", "read", NOW).with_attr("ticket.status", "open"),
            DenialKind::CheckFailed,
            &["check all"],
        )
        .block(1),
    ];
    run_table(&v(), attacks);
}

#[test]
fn benign_attenuations_from_other_biscuit_tools_are_allowed() {
    let t = base();
    let ok = || Request::new("tickets/1", "read", NOW).with_attr("ticket.status", "open");
    let v = v();
    for code in [
        "check if action(\"read\");",
        "check if time($t), $t <= 2030-01-01T00:00:00Z;",
        "check if audience(\"support-api\");",
        "check if resource($r), $r.starts_with(\"tickets/\");",
        "right(\"tickets/1\", \"read\"); check if resource($r), action($a), right($r, $a);",
        "reject if action(\"delete\");",
    ] {
        let narrowed = append_plain(&t, code);
        let d = v.verify(&narrowed, &ok());
        assert!(d.is_allowed(), "`{code}` should be allowed: {d:?}");
        // And it still narrows: a check of block 1 refuses what it excludes.
        let d = v.verify(
            &narrowed,
            &Request::new("orders/1", "refund", NOW).with_attr("amount", 10),
        );
        if code.contains("action(\"read\")") || code.contains("tickets/") {
            // In the profile (explained from its grant) or not (Biscuit's check).
            let den = d
                .denial()
                .unwrap_or_else(|| panic!("`{code}` did not narrow: {d:?}"));
            assert!(
                matches!(
                    den.kind,
                    DenialKind::RuleNotMatched | DenialKind::CheckFailed
                ),
                "`{code}`: {den:?}"
            );
            assert_eq!(den.block, Some(1), "`{code}`: {den:?}");
            assert!(den.message().starts_with("block 1"), "`{code}`: {den:?}");
        }
    }
    allowed(&v.verify(&append_plain(&t, "check if true;"), &ok()));
}
