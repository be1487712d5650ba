//! Every condition operator with every value type it accepts, through real Biscuit: the
//! boundary, the wrong type (denied, never an evaluation error) and the missing attribute.

use serde_json::{json, Value as J};
use warrant_core::eval::{evaluate, HumanFacts};
use warrant_core::grant::Grant;
use warrant_core::request::RequestFacts;
use warrant_core::token::{resolve_lifetime, DEFAULT_TTL, UNVERIFIED};
use warrant_core::value::{Value, ValueType};

use crate::common::{allowed, at, grant, mint_json, request, NOW};

const ATTR: &str = "ticket.amount_x-1";

fn s(x: &str) -> Value {
    Value::String(x.to_owned())
}
fn i(x: i64) -> Value {
    Value::Integer(x)
}
fn b(x: bool) -> Value {
    Value::Bool(x)
}
/// A date `secs` seconds after NOW.
fn d(secs: i64) -> Value {
    Value::Date(at(secs))
}
/// The JSON of a date `secs` seconds after NOW.
fn dj(secs: i64) -> J {
    J::String(at(secs).to_string())
}

/// One value of each type but `t`, including the confusable ones (a string that reads as
/// a date, an integer that reads as a bool).
fn other_types(t: ValueType) -> Vec<Value> {
    let all = [
        s("2026-11-30T10:00:00Z"),
        s("5000"),
        s("true"),
        i(1),
        i(5000),
        b(true),
        b(false),
        Value::Date(NOW),
    ];
    all.into_iter().filter(|v| v.value_type() != t).collect()
}

fn offline_human() -> HumanFacts {
    HumanFacts {
        method: UNVERIFIED.to_owned(),
        verified_at: NOW,
        attrs: Default::default(),
    }
}

fn native_allows(g: &Grant, req: &RequestFacts) -> bool {
    let mut g = g.clone();
    resolve_lifetime(&mut g, NOW, Some(DEFAULT_TTL)).unwrap();
    evaluate(&g, Some(&offline_human()), req).is_empty()
}

/// Mints `allow r read when [cond]` and checks each (attribute value, allowed?) through
/// Biscuit and the native evaluator; then checks that every other type and a missing
/// attribute are denied.
fn check(cond: &J, t: Option<ValueType>, cases: &[(Value, bool)]) {
    let gj = json!({"allow": [{"resources": ["r"], "actions": ["read"], "when": [cond]}]});
    let g = grant(&gj);
    let token = mint_json(&gj);
    let mut all: Vec<(Option<Value>, bool)> =
        cases.iter().map(|(v, w)| (Some(v.clone()), *w)).collect();
    if let Some(t) = t {
        all.extend(other_types(t).into_iter().map(|v| (Some(v), false)));
    }
    all.push((None, false));
    for (v, want) in all {
        let req = match &v {
            Some(v) => request("r", "read", &[(ATTR, v.clone())]),
            None => request("r", "read", &[("other", i(1))]),
        };
        assert_eq!(allowed(&token, &req), want, "Biscuit: {cond} with {v:?}");
        assert_eq!(native_allows(&g, &req), want, "native: {cond} with {v:?}");
    }
}

fn cond(op: &str, arg: J) -> J {
    let mut m = serde_json::Map::new();
    m.insert("attr".into(), ATTR.into());
    m.insert(op.into(), arg);
    J::Object(m)
}

#[test]
fn eq_string() {
    check(
        &cond("eq", json!("open")),
        Some(ValueType::String),
        &[
            (s("open"), true),
            (s("Open"), false),
            (s("open "), false),
            (s(""), false),
            (s("ope"), false),
        ],
    );
    check(
        &cond("eq", json!("")),
        Some(ValueType::String),
        &[(s(""), true), (s(" "), false)],
    );
    // A string that reads as a date, forced to stay a string.
    check(
        &cond("eq", json!({"string": "2026-11-30T10:00:00Z"})),
        Some(ValueType::String),
        &[
            (s("2026-11-30T10:00:00Z"), true),
            (s("2026-11-30T10:00:01Z"), false),
        ],
    );
    // Quotes, backslashes and Datalog syntax in a value are data, never code.
    check(
        &cond("eq", json!("a\"), true; check if true or (\"")),
        Some(ValueType::String),
        &[
            (s("a\"), true; check if true or (\""), true),
            (s("a"), false),
        ],
    );
}

#[test]
fn eq_integer() {
    check(
        &cond("eq", json!(5000)),
        Some(ValueType::Integer),
        &[
            (i(5000), true),
            (i(4999), false),
            (i(5001), false),
            (i(-5000), false),
        ],
    );
    check(
        &cond("eq", json!(i64::MIN)),
        Some(ValueType::Integer),
        &[(i(i64::MIN), true), (i(i64::MAX), false)],
    );
}

#[test]
fn eq_bool() {
    check(
        &cond("eq", json!(true)),
        Some(ValueType::Bool),
        &[(b(true), true), (b(false), false)],
    );
    check(
        &cond("eq", json!(false)),
        Some(ValueType::Bool),
        &[(b(false), true), (b(true), false)],
    );
}

#[test]
fn eq_date() {
    check(
        &cond("eq", dj(0)),
        Some(ValueType::Date),
        &[(d(0), true), (d(-1), false), (d(1), false)],
    );
    // Another offset, same instant.
    check(
        &cond("eq", json!("2026-11-30T11:00:00+01:00")),
        Some(ValueType::Date),
        &[(d(0), true), (d(3600), false)],
    );
    check(
        &cond("eq", json!({"date": "2026-11-30T10:00:00Z"})),
        Some(ValueType::Date),
        &[(d(0), true)],
    );
}

#[test]
fn ne_every_type() {
    check(
        &cond("ne", json!("closed")),
        Some(ValueType::String),
        &[(s("open"), true), (s(""), true), (s("closed"), false)],
    );
    check(
        &cond("ne", json!(0)),
        Some(ValueType::Integer),
        &[(i(1), true), (i(-1), true), (i(0), false)],
    );
    check(
        &cond("ne", json!(true)),
        Some(ValueType::Bool),
        &[(b(false), true), (b(true), false)],
    );
    check(
        &cond("ne", dj(0)),
        Some(ValueType::Date),
        &[(d(1), true), (d(-1), true), (d(0), false)],
    );
}

#[test]
fn lt_le_gt_ge_integers() {
    let n = 5000;
    check(
        &cond("lt", json!(n)),
        Some(ValueType::Integer),
        &[
            (i(4999), true),
            (i(i64::MIN), true),
            (i(-1), true),
            (i(5000), false),
            (i(5001), false),
        ],
    );
    check(
        &cond("le", json!(n)),
        Some(ValueType::Integer),
        &[
            (i(4999), true),
            (i(5000), true),
            (i(5001), false),
            (i(i64::MAX), false),
        ],
    );
    check(
        &cond("gt", json!(n)),
        Some(ValueType::Integer),
        &[
            (i(5001), true),
            (i(i64::MAX), true),
            (i(5000), false),
            (i(4999), false),
        ],
    );
    check(
        &cond("ge", json!(n)),
        Some(ValueType::Integer),
        &[
            (i(5000), true),
            (i(5001), true),
            (i(4999), false),
            (i(-5000), false),
        ],
    );
    check(
        &cond("lt", json!(-10)),
        Some(ValueType::Integer),
        &[(i(-11), true), (i(-10), false), (i(10), false)],
    );
}

#[test]
fn lt_le_gt_ge_dates() {
    check(
        &cond("lt", dj(0)),
        Some(ValueType::Date),
        &[(d(-1), true), (d(0), false), (d(1), false)],
    );
    check(
        &cond("le", dj(0)),
        Some(ValueType::Date),
        &[(d(-1), true), (d(0), true), (d(1), false)],
    );
    check(
        &cond("gt", dj(0)),
        Some(ValueType::Date),
        &[(d(1), true), (d(0), false), (d(-1), false)],
    );
    check(
        &cond("ge", dj(0)),
        Some(ValueType::Date),
        &[(d(1), true), (d(0), true), (d(-1), false)],
    );
    check(
        &cond("ge", json!("1970-01-01T00:00:00Z")),
        Some(ValueType::Date),
        &[
            (
                Value::Date(warrant_core::time::Timestamp::from_unix(0)),
                true,
            ),
            (d(0), true),
        ],
    );
}

#[test]
fn ordered_operators_refuse_strings_and_bools() {
    for op in ["lt", "le", "gt", "ge"] {
        for arg in [
            json!("open"),
            json!(true),
            json!({"string": "2026-11-30T10:00:00Z"}),
        ] {
            let gj = json!({"allow": [{"resources": ["r"], "actions": ["read"], "when": [cond(op, arg.clone())]}]});
            let err = Grant::from_json(&gj).unwrap_err();
            assert_eq!(err.path, format!("allow[0].when[0].{op}"), "{op} {arg}");
        }
    }
}

#[test]
fn in_every_type() {
    check(
        &cond("in", json!(["pending", "open", "open"])),
        Some(ValueType::String),
        &[
            (s("open"), true),
            (s("pending"), true),
            (s("closed"), false),
            (s("ope"), false),
            (s(""), false),
        ],
    );
    check(
        &cond("in", json!([1, 2, 3])),
        Some(ValueType::Integer),
        &[(i(1), true), (i(3), true), (i(0), false), (i(4), false)],
    );
    check(
        &cond("in", json!([true])),
        Some(ValueType::Bool),
        &[(b(true), true), (b(false), false)],
    );
    check(
        &cond("in", json!([false, true])),
        Some(ValueType::Bool),
        &[(b(true), true), (b(false), true)],
    );
    check(
        &cond("in", J::Array(vec![dj(0), dj(60)])),
        Some(ValueType::Date),
        &[(d(0), true), (d(60), true), (d(30), false), (d(-1), false)],
    );
}

#[test]
fn in_refuses_mixed_types_and_empty_lists() {
    for arg in [
        json!([1, "1"]),
        json!([true, 1]),
        json!(["2026-11-30T10:00:00Z", "x"]),
        json!([]),
    ] {
        let gj = json!({"allow": [{"resources": ["r"], "actions": ["read"], "when": [cond("in", arg.clone())]}]});
        assert!(Grant::from_json(&gj).is_err(), "{arg}");
    }
}

#[test]
fn present_accepts_every_type_and_refuses_only_absence() {
    check(
        &cond("present", json!(true)),
        None,
        &[
            (s(""), true),
            (s("x"), true),
            (i(0), true),
            (b(false), true),
            (b(true), true),
            (d(0), true),
        ],
    );
    for arg in [json!(false), json!("yes"), json!(1)] {
        let gj = json!({"allow": [{"resources": ["r"], "actions": ["read"], "when": [cond("present", arg.clone())]}]});
        assert!(Grant::from_json(&gj).is_err(), "present: {arg}");
    }
}

#[test]
fn prefix_on_strings() {
    check(
        &cond("prefix", json!("op")),
        Some(ValueType::String),
        &[
            (s("open"), true),
            (s("op"), true),
            (s("o"), false),
            (s("xop"), false),
            (s("OPEN"), false),
            (s(""), false),
        ],
    );
    check(
        &cond("prefix", json!("")),
        Some(ValueType::String),
        &[(s(""), true), (s("anything"), true)],
    );
    // Regex metacharacters in a prefix are literal.
    check(
        &cond("prefix", json!("a.*")),
        Some(ValueType::String),
        &[(s("a.*b"), true), (s("ab"), false), (s("a.b"), false)],
    );
    check(
        &cond("prefix", json!("é")),
        Some(ValueType::String),
        &[(s("été"), true), (s("e"), false)],
    );
    // A prefix that reads as a date stays a string prefix.
    check(
        &cond("prefix", json!("2026-11-30T10:00:00Z")),
        Some(ValueType::String),
        &[(s("2026-11-30T10:00:00Z/x"), true)],
    );
}

#[test]
fn within_on_dates() {
    // No older than one hour before the request time (NOW).
    check(
        &cond("within", json!("1h")),
        Some(ValueType::Date),
        &[
            (d(0), true),
            (d(-3599), true),
            (d(-3600), true),
            (d(-3601), false),
            (d(-86_400), false),
            // A date after the request time is not older than anything.
            (d(3600), true),
        ],
    );
    check(
        &cond("within", json!("1s")),
        Some(ValueType::Date),
        &[(d(-1), true), (d(-2), false)],
    );
}

#[test]
fn within_is_measured_from_the_request_time() {
    let gj = json!({"ttl": "1d", "allow": [{"resources": ["r"], "actions": ["read"], "when": [cond("within", json!("1h"))]}]});
    let token = mint_json(&gj);
    let placed = Value::Date(NOW);
    for (offset, want) in [(0, true), (3600, true), (3601, false)] {
        let mut req = request("r", "read", &[(ATTR, placed.clone())]);
        req.time = at(offset);
        assert_eq!(allowed(&token, &req), want, "request at +{offset}s");
    }
}

#[test]
fn conditions_are_anded_rules_are_ored_and_deny_wins() {
    let gj = json!({
        "allow": [
            {"resources": ["orders/*"], "actions": ["refund"],
             "when": [{"attr": "amount", "lt": 5000}, {"attr": "reason", "present": true}]},
            {"resources": ["orders/vip"], "actions": ["refund"]}
        ],
        "deny": [{"resources": ["orders/*"], "actions": ["*"], "when": [{"attr": "amount", "ge": 100_000}]}]
    });
    let token = mint_json(&gj);
    let cases = [
        (
            vec![("amount", i(4999)), ("reason", s("x"))],
            "orders/1",
            true,
        ),
        (vec![("amount", i(4999))], "orders/1", false),
        (vec![("reason", s("x"))], "orders/1", false),
        (
            vec![("amount", i(5000)), ("reason", s("x"))],
            "orders/1",
            false,
        ),
        (vec![("amount", i(50_000))], "orders/vip", true),
        // Deny rules fail closed: without `amount` the deny rule cannot be evaluated.
        (vec![], "orders/vip", false),
        (vec![("amount", i(100_000))], "orders/vip", false),
        (vec![("amount", i(99_999))], "orders/vip", true),
    ];
    for (attrs, resource, want) in cases {
        let req = request(resource, "refund", &attrs);
        assert_eq!(allowed(&token, &req), want, "{resource} {attrs:?}");
        assert_eq!(
            native_allows(&grant(&gj), &req),
            want,
            "native {resource} {attrs:?}"
        );
    }
}

#[test]
fn actions_listed_and_any() {
    let listed =
        mint_json(&json!({"allow": [{"resources": ["r"], "actions": ["read", "update"]}]}));
    for (action, want) in [
        ("read", true),
        ("update", true),
        ("write", false),
        ("READ", false),
        ("rea", false),
    ] {
        assert_eq!(
            allowed(&listed, &request("r", action, &[])),
            want,
            "{action}"
        );
    }
    let any = mint_json(&json!({"allow": [{"resources": ["r"], "actions": ["*"]}]}));
    for action in ["read", "delete", "x.y-z"] {
        assert!(allowed(&any, &request("r", action, &[])), "{action}");
    }
    assert!(!allowed(&any, &request("s", "read", &[])));
}
