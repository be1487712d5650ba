//! Attributes and types: fail-closed deny rules with missing or mistyped attributes,
//! `ne` and `in` across types, boundaries, i64 extremes, odd names, request bounds.

use serde_json::json;
use warrant_verifier::{DenialKind, Request, Timestamp};

use crate::{allowed, append_plain, attack, bearer, bearer_verifier, denied, run_table, NOW};

fn refunds() -> String {
    bearer(&json!({
        "allow": [{"resources": ["orders/*"], "actions": ["refund"]}],
        "deny": [
            {"resources": ["orders/**"], "actions": ["refund"],
             "when": [{"attr": "amount", "ge": 100000}]},
            {"resources": ["orders/**"], "actions": ["refund"],
             "when": [{"attr": "placed_at", "lt": {"date": "2026-01-01T00:00:00Z"}}]},
            {"resources": ["orders/**"], "actions": ["refund"],
             "when": [{"attr": "region", "in": ["embargoed", "sanctioned"]}]}
        ]
    }))
}

fn refund(amount: impl Into<warrant_verifier::Value>) -> Request {
    Request::new("orders/1", "refund", NOW)
        .with_attr("amount", amount)
        .with_attr("placed_at", NOW)
        .with_attr("region", "eu")
}

const JAN1: Timestamp = Timestamp::from_unix(1_767_225_600);

#[test]
fn deny_rules_fail_closed_on_missing_or_mistyped_attributes() {
    let t = refunds();
    let v = bearer_verifier();
    allowed(&v.verify(&t, &refund(4999)));
    let missing = "cannot be evaluated, so the rule applies (deny rules fail closed)";
    run_table(
        &v,
        vec![
            attack(
                "amount missing",
                t.clone(),
                Request::new("orders/1", "refund", NOW)
                    .with_attr("placed_at", NOW)
                    .with_attr("region", "eu"),
                DenialKind::DeniedByRule,
                &[
                    "deny[0]",
                    missing,
                    "attribute `amount` is missing from the request",
                ],
            )
            .block(0)
            .attribute("amount"),
            attack(
                "amount as a string",
                t.clone(),
                refund("200000"),
                DenialKind::DeniedByRule,
                &["deny[0]", missing, "attribute `amount` is", "string"],
            )
            .attribute("amount"),
            attack(
                "amount as a bool",
                t.clone(),
                refund(true),
                DenialKind::DeniedByRule,
                &["deny[0]", "attribute `amount` is", "bool"],
            )
            .attribute("amount"),
            attack(
                "amount as a date",
                t.clone(),
                refund(NOW),
                DenialKind::DeniedByRule,
                &["deny[0]", "attribute `amount` is", "date"],
            )
            .attribute("amount"),
            attack(
                "a date attribute sent as a string",
                t.clone(),
                refund(10).with_attr("placed_at", "2026-11-30T10:00:00Z"),
                DenialKind::DeniedByRule,
                &["deny[1]", "attribute `placed_at` is", "string"],
            )
            .attribute("placed_at"),
            attack(
                "an `in` attribute sent as an integer",
                t.clone(),
                refund(10).with_attr("region", 7),
                DenialKind::DeniedByRule,
                &["deny[2]", "attribute `region` is", "integer"],
            )
            .attribute("region"),
            attack(
                "an `in` attribute missing",
                t.clone(),
                Request::new("orders/1", "refund", NOW)
                    .with_attr("amount", 10)
                    .with_attr("placed_at", NOW),
                DenialKind::DeniedByRule,
                &["deny[2]", "attribute `region` is missing from the request"],
            )
            .attribute("region"),
            attack(
                "the attribute name with a trailing newline",
                t.clone(),
                Request::new("orders/1", "refund", NOW)
                    .with_attr("amount\n", 10)
                    .with_attr("placed_at", NOW)
                    .with_attr("region", "eu"),
                DenialKind::InvalidRequest,
                &["is not an attribute name"],
            ),
            attack(
                "the attribute name with a quote forging another fact",
                t.clone(),
                Request::new("orders/1", "refund", NOW)
                    .with_attr("x\", 1)\nattr(\"amount", 10)
                    .with_attr("placed_at", NOW)
                    .with_attr("region", "eu"),
                DenialKind::InvalidRequest,
                &["is not an attribute name"],
            ),
            attack(
                "i64::MAX amount",
                t.clone(),
                refund(i64::MAX),
                DenialKind::DeniedByRule,
                &["deny[0]"],
            ),
            attack(
                "embargoed region",
                t.clone(),
                refund(10).with_attr("region", "sanctioned"),
                DenialKind::DeniedByRule,
                &["deny[2]"],
            ),
        ],
    );
}

#[test]
fn boundaries_are_exact() {
    let t = refunds();
    let v = bearer_verifier();
    // ge 100000: 99999 passes, 100000 is denied.
    allowed(&v.verify(&t, &refund(99_999)));
    denied(
        &v.verify(&t, &refund(100_000)),
        DenialKind::DeniedByRule,
        &["deny[0]"],
    );
    // lt 2026-01-01: that very second passes, one second earlier is denied.
    allowed(&v.verify(&t, &refund(1).with_attr("placed_at", JAN1)));
    denied(
        &v.verify(
            &t,
            &refund(1).with_attr("placed_at", Timestamp::from_unix(JAN1.unix() - 1)),
        ),
        DenialKind::DeniedByRule,
        &["deny[1]"],
    );
    // i64 extremes in allow rules.
    let gt = bearer(
        &json!({"allow": [{"resources": ["orders/*"], "actions": ["refund"],
        "when": [{"attr": "amount", "gt": -1}, {"attr": "amount", "le": i64::MAX}]}]}),
    );
    allowed(&v.verify(
        &gt,
        &Request::new("orders/1", "refund", NOW).with_attr("amount", i64::MAX),
    ));
    let d = v.verify(
        &gt,
        &Request::new("orders/1", "refund", NOW).with_attr("amount", i64::MIN),
    );
    let d = denied(&d, DenialKind::RuleNotMatched, &["condition when[0] fails"]);
    assert_eq!(d.attribute(), Some("amount"));
}

#[test]
fn ne_and_in_do_not_accept_other_types() {
    let t = bearer(&json!({"allow": [
        {"resources": ["tickets/*"], "actions": ["close"],
         "when": [{"attr": "status", "ne": "closed"}]},
        {"resources": ["tiers/*"], "actions": ["read"],
         "when": [{"attr": "tier", "in": ["gold", "platinum"]}]},
        {"resources": ["levels/*"], "actions": ["read"],
         "when": [{"attr": "level", "in": [1, 2]}]}
    ]}));
    let v = bearer_verifier();
    allowed(&v.verify(
        &t,
        &Request::new("tickets/1", "close", NOW).with_attr("status", "open"),
    ));
    allowed(&v.verify(
        &t,
        &Request::new("levels/1", "read", NOW).with_attr("level", 2),
    ));
    run_table(
        &v,
        vec![
            attack(
                "`ne \"closed\"` with an integer",
                t.clone(),
                Request::new("tickets/1", "close", NOW).with_attr("status", 3),
                DenialKind::RuleNotMatched,
                &[
                    "condition when[0] fails",
                    "attribute `status` is",
                    "integer",
                ],
            )
            .attribute("status"),
            attack(
                "`ne \"closed\"` with a bool",
                t.clone(),
                Request::new("tickets/1", "close", NOW).with_attr("status", false),
                DenialKind::RuleNotMatched,
                &["attribute `status` is", "bool"],
            )
            .attribute("status"),
            attack(
                "`ne` with the attribute missing",
                t.clone(),
                Request::new("tickets/1", "close", NOW),
                DenialKind::MissingAttribute,
                &["attribute `status` is missing from the request"],
            )
            .attribute("status"),
            attack(
                "`in [1, 2]` with the string \"2\"",
                t.clone(),
                Request::new("levels/1", "read", NOW).with_attr("level", "2"),
                DenialKind::RuleNotMatched,
                &["attribute `level`"],
            )
            .attribute("level"),
            attack(
                "`in [\"gold\", …]` with a look-alike `Gold`",
                t.clone(),
                Request::new("tiers/1", "read", NOW).with_attr("tier", "Gold"),
                DenialKind::RuleNotMatched,
                &["attribute `tier`"],
            )
            .attribute("tier"),
        ],
    );
}

#[test]
fn requests_beyond_the_evaluation_bounds_are_invalid() {
    let t = refunds();
    let v = bearer_verifier();
    let mut many = refund(1);
    for i in 0..62 {
        many = many.with_attr(format!("extra{i}"), i);
    }
    let long_action = "r".repeat(1025);
    run_table(
        &v,
        vec![
            attack(
                "65 attributes",
                t.clone(),
                many,
                DenialKind::InvalidRequest,
                &["a request carries at most 64 attributes"],
            ),
            attack(
                "a 2000-byte attribute value",
                t.clone(),
                refund(1).with_attr("note", "n".repeat(2000)),
                DenialKind::InvalidRequest,
                &["attribute `note` is 2000 bytes, more than the 1024"],
            ),
            attack(
                "a 2000-byte attribute name",
                t.clone(),
                refund(1).with_attr("n".repeat(2000), 1),
                DenialKind::InvalidRequest,
                &["is not an attribute name", "(at most 128)"],
            ),
            attack(
                "a 1025-byte action",
                t.clone(),
                Request::new("orders/1", long_action.as_str(), NOW),
                DenialKind::InvalidRequest,
                &["is not an action"],
            ),
        ],
    );
    // 64 attributes exactly is fine.
    let mut ok = refund(1);
    for i in 0..61 {
        ok = ok.with_attr(format!("extra{i}"), i);
    }
    allowed(&v.verify(&t, &ok));
}

#[test]
fn raw_datalog_arithmetic_overflow_is_a_clean_denial() {
    // A block outside the profile that overflows i64 on the request's attribute.
    let t = append_plain(
        &bearer(&json!({"allow": [{"resources": ["**"], "actions": ["*"]}]})),
        "check if attr(\"amount\", $a), $a + 1 > 0;",
    );
    let d = bearer_verifier().verify(
        &t,
        &Request::new("orders/1", "refund", NOW).with_attr("amount", i64::MAX),
    );
    denied(
        &d,
        DenialKind::Evaluation,
        &["evaluating the token failed", "overflow"],
    );
}

#[test]
fn control_characters_in_request_values_do_not_reach_explanations() {
    // A request value that would write a second log line.
    let t = bearer(
        &json!({"allow": [{"resources": ["tickets/*"], "actions": ["read"],
        "when": [{"attr": "status", "eq": "open"}]}]}),
    );
    let d = bearer_verifier().verify(
        &t,
        &Request::new("tickets/1", "read", NOW).with_attr("status", "closed\nALLOWED tickets/1"),
    );
    denied(&d, DenialKind::RuleNotMatched, &["attribute `status`"]);
    let d = bearer_verifier().verify(&t, &Request::new("tickets/1", "read\nok", NOW));
    denied(
        &d,
        DenialKind::InvalidRequest,
        &["`read\\nok` is not an action"],
    );
}

/// Blocks in the compiled shape of a grant the grant parser refuses (an ordered
/// comparison on a string or bool, a mixed-type `in`) are evaluated by Biscuit, not
/// read as grants: the native evaluation would order strings and type an `in` list by
/// its first element, and decide otherwise than the token's own Datalog.
#[test]
fn mistyped_grant_shapes_are_decided_as_biscuit_decides() {
    let t = bearer(&json!({"allow": [{"resources": ["**"], "actions": ["*"]}]}));
    let v = bearer_verifier();
    let req = |x: warrant_verifier::Value| Request::new("orders/1", "read", NOW).with_attr("x", x);
    // `"a" < "m"` holds in Rust and is a type error in Biscuit.
    let lt = append_plain(
        &t,
        r#"check if resource("orders/1"), action("read"), attr("x", $v0), $v0.type() == "string", $v0 < "m";"#,
    );
    denied(
        &v.verify(&lt, &req("a".into())),
        DenialKind::Evaluation,
        &["evaluating the token failed"],
    );
    let ge_bool = append_plain(
        &t,
        r#"check if resource("orders/1"), action("read"), attr("x", $v0), $v0.type() == "bool", $v0 >= false;"#,
    );
    denied(
        &v.verify(&ge_bool, &req(true.into())),
        DenialKind::Evaluation,
        &["evaluating the token failed"],
    );
    // A deny rule on a string bound: Biscuit's type error denies whatever the value.
    let deny_ge = append_plain(
        &t,
        r#"check if resource($r), !($r == "orders/1") or action($a), !($a == "read") or attr("x", $v0), $v0.type() == "string", !($v0 >= "m");"#,
    );
    denied(
        &v.verify(&deny_ge, &req("a".into())),
        DenialKind::Evaluation,
        &["evaluating the token failed"],
    );
    // `["open", 3].contains("open")` holds in Biscuit; a native evaluation typing the
    // list by its first element would agree here but not on `3`.
    let mixed = append_plain(
        &t,
        r#"check if resource("orders/1"), action("read"), attr("x", $v0), ["open", 3].contains($v0);"#,
    );
    allowed(&v.verify(&mixed, &req("open".into())));
    allowed(&v.verify(&mixed, &req(3.into())));
    denied(
        &v.verify(&mixed, &req("shut".into())),
        DenialKind::CheckFailed,
        &[],
    );
}
