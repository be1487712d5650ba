//! Grant parsing round trip: `Grant::from_json(&g.to_json()) == g`, for random grants
//! including the forms the parser normalises (lists of `in` values, method lists, dates
//! with offsets, tagged values, `ttl`, raw Datalog).

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value as J};
use warrant_core::grant::Grant;

use crate::gen;

/// Conditions in the forms the parser rewrites.
fn exotic_condition() -> impl Strategy<Value = J> {
    select(vec![
        json!({"attr": "a", "eq": "2026-11-30T11:00:00+01:00"}),
        json!({"attr": "a", "eq": {"date": "2026-11-30T10:00:00Z"}}),
        json!({"attr": "a", "eq": {"string": "2026-11-30T10:00:00Z"}}),
        json!({"attr": "a", "ne": "2026-13-45T00:00:00Z"}),
        json!({"attr": "a", "in": [3, 1, 2, 1]}),
        json!({"attr": "a", "in": ["b", "a", "b"]}),
        json!({"attr": "a", "in": [{"string": "2026-11-30T10:00:00Z"}, "x"]}),
        json!({"attr": "a", "in": ["2026-11-30T10:00:00Z", "2026-11-30T09:00:00-01:00"]}),
        json!({"attr": "a", "ge": "1970-01-01T00:00:00Z"}),
        json!({"attr": "a", "lt": -9_223_372_036_854_775_808i64}),
        json!({"attr": "a", "within": "90s"}),
        json!({"attr": "a", "within": "1h30m"}),
        json!({"attr": "a", "within": "3650d"}),
        json!({"attr": "a", "prefix": "2026-11-30T10:00:00Z"}),
        json!({"attr": "a", "eq": "no break \"quoted\" \\ é"}),
    ])
}

fn raw_datalog() -> impl Strategy<Value = &'static str> {
    select(vec![
        "check if time($t), $t <= 2030-01-01T00:00:00Z;",
        "n(1); n(2); m($x) <- n($x);",
        "check if resource($r), $r.starts_with(\"a\") trusting authority;",
        "reject if action(\"delete\");",
    ])
}

fn grant_json() -> impl Strategy<Value = J> {
    (
        gen::grant(true),
        proptest::option::of(select(vec!["90s", "10m", "1h30m", "7d"])),
        proptest::option::of(raw_datalog()),
        proptest::collection::vec(exotic_condition(), 0..3),
        proptest::option::of(gen::human()),
    )
        .prop_map(|(mut g, ttl, datalog, exotic, human)| {
            let m = g.as_object_mut().unwrap();
            if let Some(t) = ttl {
                m.remove("expires_at");
                m.insert("ttl".into(), t.into());
            }
            if let Some(d) = datalog {
                m.insert("datalog".into(), d.into());
            }
            let rule = m["allow"][0].as_object_mut().unwrap();
            if !exotic.is_empty() {
                let when = rule.entry("when").or_insert_with(|| json!([]));
                when.as_array_mut().unwrap().extend(exotic);
            }
            if let Some(h) = human {
                rule.insert("human".into(), h);
            }
            g
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn grant_json_round_trip(gj in grant_json()) {
        let g = Grant::from_json(&gj).unwrap();
        let canonical = g.to_json();
        prop_assert_eq!(&Grant::from_json(&canonical).unwrap(), &g, "via {}", canonical);
        // Through text, and a second trip is the identity on the JSON itself.
        let again = Grant::from_json_str(&canonical.to_string()).unwrap();
        prop_assert_eq!(&again, &g);
        prop_assert_eq!(again.to_json(), canonical);
    }
}

#[test]
fn normalised_forms_read_back_equal() {
    let g = Grant::from_json(&json!({
        "allow": [{
            "resources": "a/*",
            "actions": "read",
            "when": [{"attr": "x", "in": [3, 1, 3]}, {"attr": "d", "eq": "2026-11-30T11:00:00+01:00"}],
            "human": {"methods": ["oidc", "passkey", "oidc"]}
        }]
    }))
    .unwrap();
    let canonical = g.to_json();
    assert_eq!(canonical["allow"][0]["resources"], json!(["a/*"]));
    assert_eq!(canonical["allow"][0]["when"][0]["in"], json!([1, 3]));
    assert_eq!(
        canonical["allow"][0]["when"][1]["eq"],
        json!("2026-11-30T10:00:00Z")
    );
    assert_eq!(
        canonical["allow"][0]["human"]["methods"],
        json!(["passkey", "oidc"])
    );
    assert_eq!(Grant::from_json(&canonical).unwrap(), g);
}

/// Every string a token carries is printable: a control character anywhere in a grant is
/// refused, naming the field.
#[test]
fn control_characters_are_refused_in_grants() {
    use warrant_core::grant::Grant;
    for (grant, field) in [
        (
            json!({"allow": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "a", "eq": "x\ny"}]}]}),
            "allow[0].when[0].eq",
        ),
        (
            json!({"allow": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "a", "in": ["ok", "x\ry"]}]}]}),
            "allow[0].when[0].in[1]",
        ),
        (
            json!({"allow": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "a", "prefix": "\u{7}"}]}]}),
            "allow[0].when[0].prefix",
        ),
        (
            json!({"allow": [{"resources": ["a\nb"], "actions": ["read"]}]}),
            "allow[0].resources[0]",
        ),
        (
            json!({"audience": ["x\ty"], "allow": [{"resources": ["a"], "actions": ["read"]}]}),
            "audience[0]",
        ),
        (
            json!({"allow": [{"resources": ["a"], "actions": ["re\nad"]}]}),
            "allow[0].actions[0]",
        ),
    ] {
        let e = Grant::from_json(&grant).unwrap_err();
        assert_eq!(e.path, field, "{grant}: {e}");
    }
}
