//! Every denial is explained: which block, which check, which attribute (design, section 7).

use rand_core::OsRng;
use serde_json::json;
use warrant_core::compile::{compile_checks, CheckRole, CompileContext, Compiled};
use warrant_core::grant::Method;
use warrant_core::token::{attenuate, decode_unverified, encode, mint, MintRequest, Verification};
use warrant_verifier::{DenialKind, Request, Signer};

use crate::common::{denied_as, grant, key, mint_text, verifier, NOW};

#[test]
fn a_missing_attribute_is_named() {
    let text = mint_text(
        &json!({"allow": [{"resources": ["orders/*"], "actions": ["refund"],
        "when": [{"attr": "reason", "present": true}, {"attr": "amount", "lt": 5000}]}]}),
    );
    let req = Request::new("orders/1", "refund", NOW).with_attr("reason", "late");
    let d = verifier().verify(&text, &req);
    let d = denied_as(&d, DenialKind::MissingAttribute);
    assert_eq!(d.attribute(), Some("amount"));
    assert_eq!(d.block, Some(0));
    assert_eq!(d.signer(), Some(&Signer::Issuer { key_id: Some(1) }));
    assert!(
        d.message().contains("`amount`") && d.message().contains("missing"),
        "{d:?}"
    );
    assert!(d.check().is_some_and(|c| c.starts_with("check if")));

    // Present with the wrong type or value: not matched, and the attribute is named.
    for v in [
        warrant_verifier::Value::String("4999".into()),
        5000i64.into(),
    ] {
        let d = verifier().verify(&text, &req.clone().with_attr("amount", v));
        let d = denied_as(&d, DenialKind::RuleNotMatched);
        assert_eq!(d.attribute(), Some("amount"), "{d:?}");
    }
    assert!(verifier()
        .verify(&text, &req.with_attr("amount", 4999i64))
        .is_allowed());
}

#[test]
fn a_deny_rule_is_named_and_wins_over_a_missing_allow() {
    let g = json!({
        "allow": [{"resources": ["customers/*"], "actions": ["read"], "when": [{"attr": "x", "eq": 1}]}],
        "deny": [{"resources": ["tickets/*"], "actions": ["*"]},
                 {"resources": ["customers/*/payment_card"], "actions": ["*"]}]
    });
    let text = mint_text(&g);
    let d = verifier().verify(
        &text,
        &Request::new("customers/7/payment_card", "read", NOW),
    );
    let d = denied_as(&d, DenialKind::DeniedByRule);
    assert!(d.message().starts_with("deny[1] forbids"), "{d:?}");
    // Profile v2 compiles a deny rule to a fail-closed `check if` (v1: `reject if`): the
    // denial names exactly the check deny[1] compiles to.
    let Compiled { checks, roles } = compile_checks(&grant(&g), CompileContext::default()).unwrap();
    let deny1 = roles.iter().position(|r| *r == CheckRole::Deny(1)).unwrap();
    let expected = checks[deny1].to_string();
    assert!(expected.starts_with("check if "), "{expected}");
    assert!(expected.contains("payment_card"), "{expected}");
    assert_eq!(d.check(), Some(expected.as_str()), "{d:?}");
}

#[test]
fn an_attenuation_block_is_named() {
    let text =
        mint_text(&json!({"allow": [{"resources": ["tickets/*"], "actions": ["read", "write"]}]}));
    let narrowed = encode(
        &attenuate(
            &decode_unverified(&text).unwrap(),
            grant(
                &json!({"allow": [{"resources": ["tickets/*"], "actions": ["read"]}],
                          "deny": [{"resources": ["tickets/secret"], "actions": ["*"]}]}),
            ),
            NOW,
            &mut OsRng,
        )
        .unwrap(),
    );
    let v = verifier();
    let d = v.verify(&narrowed, &Request::new("tickets/1", "write", NOW));
    let d = denied_as(&d, DenialKind::RuleNotMatched);
    assert_eq!(d.block, Some(1));
    assert_eq!(d.signer(), Some(&Signer::Attenuation));
    assert!(
        d.message().starts_with("block 1 (an attenuation): "),
        "{d:?}"
    );
    let d = v.verify(&narrowed, &Request::new("tickets/secret", "read", NOW));
    assert_eq!(denied_as(&d, DenialKind::DeniedByRule).block, Some(1));
}

#[test]
fn a_human_requirement_is_explained() {
    let g = grant(&json!({"allow": [{"resources": ["r"], "actions": ["read"],
        "human": {"methods": ["passkey"], "max_age": "5m"}}]}));
    let passkey = |at| {
        mint(
            key(),
            MintRequest {
                verification: Some(Verification {
                    method: Method::Passkey,
                    at,
                }),
                ..MintRequest::offline(g.clone())
            },
            NOW,
            &mut OsRng,
        )
        .unwrap()
        .token
        .to_base64()
        .unwrap()
    };
    let fresh = passkey(NOW);
    let v = verifier();
    assert!(v
        .verify(&fresh, &Request::new("r", "read", crate::common::at(300)))
        .is_allowed());
    let d = v.verify(&fresh, &Request::new("r", "read", crate::common::at(301)));
    let d = denied_as(&d, DenialKind::RuleNotMatched);
    assert!(d.message().contains("too old"), "{d:?}");
    let offline = mint_text(&g.to_json());
    let d = v.verify(&offline, &Request::new("r", "read", NOW));
    assert!(denied_as(&d, DenialKind::RuleNotMatched)
        .message()
        .contains("`unverified`"));
}

/// Regression: an explanation used to be dropped (kind `CheckFailed`) when a set in the
/// block printed in another order than the recompiled grant's, e.g. a human `methods` list
/// holding the method the authority block had already named.
#[test]
fn a_human_methods_list_keeps_its_explanation() {
    let g = grant(&json!({"allow": [{"resources": ["r"], "actions": ["read"],
        "human": {"methods": ["device-key", "passkey"]}}]}));
    let text = mint(
        key(),
        MintRequest {
            verification: Some(Verification {
                method: Method::Passkey,
                at: NOW,
            }),
            ..MintRequest::offline(g)
        },
        NOW,
        &mut OsRng,
    )
    .unwrap()
    .token
    .to_base64()
    .unwrap();
    let v = verifier();
    assert!(v
        .verify(&text, &Request::new("r", "read", NOW))
        .is_allowed());
    let d = v.verify(&text, &Request::new("r", "write", NOW));
    denied_as(&d, DenialKind::RuleNotMatched);
}

/// Regression (same cause): an attenuation whose action list reuses an action the
/// authority named first.
#[test]
fn an_attenuation_list_reusing_earlier_symbols_keeps_its_explanation() {
    let text = mint_text(&json!({"allow": [
        {"resources": ["r"], "actions": ["update"]},
        {"resources": ["r"], "actions": ["*"]}
    ]}));
    let narrowed = encode(
        &attenuate(
            &decode_unverified(&text).unwrap(),
            grant(&json!({"allow": [{"resources": ["r"], "actions": ["delete", "update"]}]})),
            NOW,
            &mut OsRng,
        )
        .unwrap(),
    );
    let v = verifier();
    assert!(v
        .verify(&narrowed, &Request::new("r", "delete", NOW))
        .is_allowed());
    let d = v.verify(&narrowed, &Request::new("r", "write", NOW));
    assert_eq!(denied_as(&d, DenialKind::RuleNotMatched).block, Some(1));
}

/// Regression (warrant-core src/eval.rs, `impl Display for Describe`, fixed): request values are
/// written into the message verbatim between backticks, so a resource, action or audience
/// holding a line break makes a multi-line message (and lets a caller forge log lines);
/// `Denial::message` is documented as "one line for a person". Expected: the values
/// escaped (`{:?}`-style) or the line breaks replaced.
#[test]
fn regression_request_values_break_the_one_line_message() {
    let text = mint_text(
        &json!({"audience": ["api"], "allow": [{"resources": ["r"], "actions": ["read"]}]}),
    );
    let v = verifier();
    // Profile v2: a resource with a line break is not canonical, so it is refused before
    // the token is evaluated (still with a one-line message, checked below).
    let d = v.verify(
        &text,
        &Request::new("r\nforged: allowed", "read", NOW).with_audience("api"),
    );
    denied_as(&d, DenialKind::InvalidRequest);
    let offenders: Vec<String> = [
        Request::new("r\nforged: allowed", "read", NOW).with_audience("api"),
        Request::new("r", "write\r\nx", NOW).with_audience("api"),
        Request::new("r", "read", NOW).with_audience("other\nline"),
    ]
    .iter()
    .filter_map(|req| {
        let d = v.verify(&text, req);
        let m = &d.denial().expect("denied").message();
        (m.contains('\n') || m.contains('\r')).then(|| format!("{m:?}"))
    })
    .collect();
    assert!(
        offenders.is_empty(),
        "multi-line denial messages: {offenders:#?}"
    );
}
