use super::*;
use serde_json::{json, Value as J};

fn err(v: J) -> String {
    Grant::from_json(&v).unwrap_err().to_string()
}

fn rule(extra: J) -> J {
    let mut r = json!({"resources": ["tickets/1"], "actions": ["read"]});
    if let (Some(r), Some(e)) = (r.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            r.insert(k.clone(), v.clone());
        }
    }
    r
}

#[test]
fn the_design_example_parses() {
    let g = Grant::from_json_str(
        r#"{
      "audience": ["support-api"],
      "ttl": "10m",
      "allow": [
        { "resources": ["tickets/123/customer_name", "tickets/123/email_address"], "actions": ["read"],
          "when": [ { "attr": "ticket.status", "eq": "open" } ] },
        { "resources": ["orders/*/order_status"], "actions": ["update"],
          "when": [ { "attr": "order.placed_at", "within": "24h" },
                    { "attr": "shipping_address.verified", "eq": true } ] },
        { "resources": ["orders/*"], "actions": ["refund"],
          "when": [ { "attr": "amount", "lt": 5000 }, { "attr": "reason", "present": true } ],
          "human": { "methods": ["passkey"], "max_age": "5m" } }
      ],
      "deny": [ { "resources": ["customers/*/payment_card", "accounts/*/password"], "actions": ["*"] } ]
    }"#,
    )
    .unwrap();
    assert_eq!(g.audience.len(), 1);
    assert_eq!(g.ttl, Some(Span::from_seconds(600)));
    assert_eq!(g.allow.len(), 3);
    assert_eq!(
        g.allow[1].when[0].op,
        Op::Within(Span::from_seconds(86_400))
    );
    assert_eq!(g.allow[2].when[0].op, Op::Lt(Value::Integer(5000)));
    assert_eq!(
        g.allow[2].human.as_ref().unwrap().methods,
        vec![Method::Passkey]
    );
    assert_eq!(g.deny[0].actions, Actions::Any);
    assert_eq!(Grant::from_json(&g.to_json()).unwrap(), g);
}

#[test]
fn toml_grants_parse_like_json() {
    let t = Grant::from_toml_str(
        r#"
audience = ["support-api"]
ttl = "10m"
[[allow]]
resources = ["orders/*"]
actions = ["refund"]
when = [ { attr = "amount", lt = 5000 }, { attr = "placed", ge = 2026-01-01T00:00:00Z } ]
"#,
    )
    .unwrap();
    let j = Grant::from_json(&json!({
        "audience": ["support-api"], "ttl": "10m",
        "allow": [{"resources": ["orders/*"], "actions": ["refund"],
                   "when": [{"attr": "amount", "lt": 5000}, {"attr": "placed", "ge": "2026-01-01T00:00:00Z"}]}]
    }))
    .unwrap();
    assert_eq!(t, j);
    assert!(Grant::from_toml_str("allow = [")
        .unwrap_err()
        .to_string()
        .starts_with("grant: not valid TOML"));
}

#[test]
fn unknown_operator_names_the_path_and_the_choices() {
    let e = err(json!({"allow": [rule(json!({})), rule(json!({})),
        rule(json!({"when": [{"attr": "amount", "lte": 5}]}))]}));
    assert_eq!(
        e,
        "allow[2].when[0]: unknown operator `lte`, expected one of `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `in`, `present`, `prefix`, `within`"
    );
}

/// Each input fails with an error starting with its expected text, on one line.
fn assert_field_errors(cases: &[(J, &str)]) {
    for (input, expected) in cases {
        let got = err(input.clone());
        assert!(
            got.starts_with(expected),
            "for {input}\n  got:      {got}\n  expected: {expected}…"
        );
        assert!(!got.contains('\n'), "one line: {got}");
    }
}

#[test]
fn field_errors_name_the_field() {
    assert_field_errors(&[
        (json!([]), "grant: expected an object, found a list"),
        (json!({"allowed": []}), "grant: unknown field `allowed`"),
        (
            json!({"ttl": "10 minutes"}),
            "ttl: `10 minutes` is not a duration",
        ),
        (
            json!({"ttl": 600}),
            "ttl: expected a string, found a number",
        ),
        (
            json!({"ttl": "1m", "expires_at": "2030-01-01T00:00:00Z"}),
            "ttl: give either `ttl` or `expires_at`",
        ),
        (
            json!({"expires_at": "tomorrow"}),
            "expires_at: `tomorrow` is not an RFC 3339 date",
        ),
        (
            json!({"not_before": "1900-01-01T00:00:00Z"}),
            "not_before: `1900-01-01T00:00:00Z` is before 1970",
        ),
        (
            json!({"audience": ["a b"]}),
            "audience[0]: `a b` is not an audience",
        ),
        (
            json!({"audience": 3}),
            "audience: expected a string or a list of strings",
        ),
    ]);
}

#[test]
fn rule_errors_name_the_rule_and_field() {
    assert_field_errors(&[
        (
            json!({"allow": {}}),
            "allow: expected a list of rules, found an object",
        ),
        (
            json!({"allow": [{"actions": ["read"]}]}),
            "allow[0]: missing field `resources`",
        ),
        (
            json!({"allow": [{"resources": ["a"]}]}),
            "allow[0]: missing field `actions`",
        ),
        (
            json!({"allow": [{"resources": [], "actions": ["read"]}]}),
            "allow[0].resources: list at least one resource",
        ),
        (
            json!({"allow": [{"resources": ["a//b"], "actions": ["read"]}]}),
            "allow[0].resources[0]: `a//b` has an empty path segment",
        ),
        (
            json!({"allow": [{"resources": ["a/b*"], "actions": ["read"]}]}),
            "allow[0].resources[0]: `a/b*`: `*` must stand for a whole path segment",
        ),
        (
            json!({"allow": [{"resources": ["a"], "actions": []}]}),
            "allow[0].actions: list at least one action",
        ),
        (
            json!({"allow": [{"resources": ["a"], "actions": ["*", "read"]}]}),
            "allow[0].actions: `*` stands for every action and must be alone",
        ),
        (
            json!({"allow": [{"resources": ["a"], "actions": ["re ad"]}]}),
            "allow[0].actions[0]: `re ad` is not an action",
        ),
    ]);
}

#[test]
fn condition_errors_name_the_condition() {
    assert_field_errors(&[
        (
            json!({"allow": [rule(json!({"when": {}}))]}),
            "allow[0].when: expected a list of conditions",
        ),
        (
            json!({"allow": [rule(json!({"when": ["x"]}))]}),
            "allow[0].when[0]: expected an object, found a string",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"eq": 1}]}))]}),
            "allow[0].when[0]: missing field `attr`",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a b", "eq": 1}]}))]}),
            "allow[0].when[0].attr: `a b` is not an attribute name",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a"}]}))]}),
            "allow[0].when[0]: missing an operator",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "eq": 1, "ne": 2}]}))]}),
            "allow[0].when[0]: one operator per condition",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "lt": "x"}]}))]}),
            "allow[0].when[0].lt: `lt` compares integers or dates, not a string",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "ge": true}]}))]}),
            "allow[0].when[0].ge: `ge` compares integers or dates, not a bool",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "eq": 1.5}]}))]}),
            "allow[0].when[0].eq: `1.5` is not an integer in i64",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "eq": null}]}))]}),
            "allow[0].when[0].eq: null is not a supported value",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "in": []}]}))]}),
            "allow[0].when[0].in: list 1 to 64 values",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "in": "x"}]}))]}),
            "allow[0].when[0].in: expected a list, found a string",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "in": [1, "x"]}]}))]}),
            "allow[0].when[0].in[1]: all values must have one type",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "present": false}]}))]}),
            "allow[0].when[0].present: only `true` is supported",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "present": 1}]}))]}),
            "allow[0].when[0].present: expected `true`, found a number",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "prefix": 1}]}))]}),
            "allow[0].when[0].prefix: expected a string, found a number",
        ),
        (
            json!({"allow": [rule(json!({"when": [{"attr": "a", "within": "soon"}]}))]}),
            "allow[0].when[0].within: `soon` is not a duration",
        ),
    ]);
}

#[test]
fn human_and_datalog_errors_name_the_field() {
    assert_field_errors(&[
        (
            json!({"allow": [rule(json!({"human": {"methods": ["password"]}}))]}),
            "allow[0].human.methods[0]: unknown verification method `password`",
        ),
        (
            json!({"allow": [rule(json!({"human": {"methods": []}}))]}),
            "allow[0].human.methods: list at least one method",
        ),
        (
            json!({"allow": [rule(json!({"human": {"max_age": "0s"}}))]}),
            "allow[0].human.max_age: `0s` is zero",
        ),
        (
            json!({"allow": [rule(json!({"human": {"attrs": []}}))]}),
            "allow[0].human.attrs: expected an object, found a list",
        ),
        (
            json!({"allow": [rule(json!({"human": {"who": 1}}))]}),
            "allow[0].human: unknown field `who`",
        ),
        (
            json!({"deny": [rule(json!({"human": {}}))]}),
            "deny[0]: unknown field `human`",
        ),
        (json!({"datalog": "check if"}), "datalog: invalid Datalog"),
        (
            json!({"datalog": "resource(\"x\");"}),
            "datalog: may not define `resource`",
        ),
        (
            json!({"datalog": "attr($x, 1) <- data($x);"}),
            "datalog: may not define `attr`",
        ),
        (
            json!({"datalog": "human_verification(\"passkey\", 2026-01-01T00:00:00Z);"}),
            "datalog: may not define `human_verification`",
        ),
        (
            json!({"datalog": 7}),
            "datalog: expected a string, found a number",
        ),
    ]);
}

#[test]
fn limits_are_enforced() {
    let many: Vec<J> = (0..=MAX_RULES).map(|_| rule(json!({}))).collect();
    assert!(err(json!({"allow": many})).starts_with("allow: at most 64 rules"));
    let resources: Vec<String> = (0..=MAX_ITEMS).map(|i| format!("r/{i}")).collect();
    assert!(
        err(json!({"allow": [{"resources": resources, "actions": ["read"]}]}))
            .starts_with("allow[0].resources: at most 64 entries")
    );
    let big = "check if true;".repeat(MAX_DATALOG_LEN / 10);
    assert!(err(json!({"datalog": big})).starts_with("datalog: longer than"));
}

#[test]
fn values_are_typed_and_in_lists_are_canonical() {
    let g = Grant::from_json(&json!({"allow": [rule(json!({"when": [
        {"attr": "placed", "ge": "2026-01-01T00:00:00Z"},
        {"attr": "code", "eq": {"string": "2026-01-01T00:00:00Z"}},
        {"attr": "status", "in": ["b", "a", "b"]}
    ]}))]}))
    .unwrap();
    let when = &g.allow[0].when;
    assert!(matches!(when[0].op, Op::Ge(Value::Date(_))));
    assert_eq!(
        when[1].op,
        Op::Eq(Value::String("2026-01-01T00:00:00Z".into()))
    );
    assert_eq!(
        when[2].op,
        Op::In(vec![Value::String("a".into()), Value::String("b".into())])
    );
    assert_eq!(Grant::from_json(&g.to_json()).unwrap(), g);
}

#[test]
fn human_methods_default_to_all() {
    let g =
        Grant::from_json(&json!({"allow": [rule(json!({"human": {"max_age": "5m"}}))]})).unwrap();
    assert_eq!(
        g.allow[0].human.as_ref().unwrap().methods,
        Method::ALL.to_vec()
    );
}

#[test]
fn merge_combines_file_and_flags() {
    let mut file =
        Grant::from_json(&json!({"audience": ["a"], "ttl": "1h", "allow": [rule(json!({}))]}))
            .unwrap();
    let flags =
        Grant::from_json(&json!({"audience": ["a", "b"], "ttl": "5m", "deny": [rule(json!({}))]}))
            .unwrap();
    file.merge(flags);
    assert_eq!(file.audience.len(), 2);
    assert_eq!(file.ttl, Some(Span::from_seconds(300)));
    assert_eq!((file.allow.len(), file.deny.len()), (1, 1));
    assert!(!file.is_empty());
    assert!(Grant::default().is_empty());
}

#[test]
fn condition_numbers_must_be_i64_naming_the_field() {
    let when = |c: J| json!({"allow": [rule(json!({"when": [c]}))]});
    for (c, field, shown) in [
        (
            json!({"attr": "amount", "ge": 10000.0}),
            "allow[0].when[0].ge",
            "10000.0",
        ),
        (
            json!({"attr": "amount", "eq": 1.5}),
            "allow[0].when[0].eq",
            "1.5",
        ),
        (
            json!({"attr": "amount", "lt": 9_223_372_036_854_775_808_u64}),
            "allow[0].when[0].lt",
            "9223372036854775808",
        ),
        (
            json!({"attr": "amount", "in": [1, 2.5]}),
            "allow[0].when[0].in[1]",
            "2.5",
        ),
    ] {
        let msg = err(when(c));
        assert!(
            msg.contains(field) && msg.contains(&format!("`{shown}` is not an integer in i64")),
            "{msg}"
        );
        assert!(msg.contains("minor units"), "{msg}");
    }
    let deny = json!({"deny": [rule(json!({"when": [{"attr": "amount", "ge": 1e4}]}))]});
    assert!(err(deny).contains("deny[0].when[0].ge"));
    // Beyond what JSON numbers can hold as integers: a parse error or a field error, never
    // a string.
    let text = r#"{"allow": [{"resources": ["a"], "actions": ["read"],
        "when": [{"attr": "amount", "ge": 100000000000000000000000}]}]}"#;
    let msg = Grant::from_json_str(text).unwrap_err().to_string();
    assert!(msg.contains("allow[0].when[0].ge"), "{msg}");
    // A quoted number is a string, as written.
    let g = Grant::from_json(&when(json!({"attr": "code", "eq": "10000.0"}))).unwrap();
    assert_eq!(
        g.allow[0].when[0].op,
        Op::Eq(Value::String("10000.0".into()))
    );
    assert_eq!(
        Grant::from_json(&when(json!({"attr": "amount", "ge": i64::MIN})))
            .unwrap()
            .allow[0]
            .when[0]
            .op,
        Op::Ge(Value::Integer(i64::MIN))
    );
}

#[test]
fn toml_condition_floats_are_grant_errors() {
    let msg = Grant::from_toml_str(
        r#"
[[deny]]
resources = ["orders/*"]
actions = ["refund"]
when = [{ attr = "amount", ge = 10000.0 }]
"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("deny[0].when[0].ge") && msg.contains("`10000.0` is not an integer in i64"),
        "{msg}"
    );
    // TOML integers beyond i64 do not parse at all.
    assert!(Grant::from_toml_str(
        "[[allow]]\nresources = [\"a\"]\nactions = [\"read\"]\nwhen = [{ attr = \"n\", ge = 9223372036854775808 }]\n"
    )
    .is_err());
}

/// A grant built in code is held to what the parser enforces: compiling (and so minting
/// and attenuating) refuses it with the same words.
#[test]
fn grants_built_in_code_are_validated_like_parsed_ones() {
    let base = || {
        Grant::from_json(&json!({"allow": [rule(json!({}))], "deny": [rule(json!({}))]})).unwrap()
    };
    let cond = |op: Op| Condition {
        attr: "x".parse().unwrap(),
        op,
    };
    type Spoil<'a> = Box<dyn Fn(&mut Grant) + 'a>;
    let cases: Vec<(Spoil<'_>, &str)> =
        vec![
        (
            Box::new(|g| g.allow[0].when.push(cond(Op::Lt("m".into())))),
            "allow[0].when[0].lt: `lt` compares integers or dates, not a string",
        ),
        (
            Box::new(|g| g.deny[0].when.push(cond(Op::Ge(Value::Bool(true))))),
            "deny[0].when[0].ge: `ge` compares integers or dates, not a bool",
        ),
        (
            Box::new(|g| g.allow[0].when.push(cond(Op::In(vec!["open".into(), 3.into()])))),
            "allow[0].when[0].in[1]: all values must have one type: found `integer` after `string`",
        ),
        (
            Box::new(|g| g.allow[0].when.push(cond(Op::In(Vec::new())))),
            "allow[0].when[0].in: list 1 to 64 values",
        ),
        (
            Box::new(|g| g.deny[0].when.push(cond(Op::Present))),
            "deny[0].when[0].present: a deny condition `present` always holds",
        ),
        (
            Box::new(|g| g.allow[0].when.push(cond(Op::Eq("a\nb".into())))),
            "allow[0].when[0].eq: `a\\nb` contains a control character",
        ),
        (
            Box::new(|g| g.allow[0].when.push(cond(Op::Prefix("\u{7}".into())))),
            "allow[0].when[0].prefix: `\\u{7}` contains a control character",
        ),
        (
            Box::new(|g| g.allow[0].resources.clear()),
            "allow[0].resources: list at least one resource",
        ),
        (
            Box::new(|g| g.deny[0].actions = Actions::Listed(Vec::new())),
            "deny[0].actions: list at least one action",
        ),
        (
            Box::new(|g| {
                g.deny[0].human = Some(HumanRequirement {
                    methods: vec![Method::Passkey],
                    max_age: None,
                    attrs: BTreeMap::new(),
                })
            }),
            "deny[0].human: only allow rules can require a verified human",
        ),
        (
            Box::new(|g| {
                g.allow[0].human = Some(HumanRequirement {
                    methods: Vec::new(),
                    max_age: None,
                    attrs: BTreeMap::new(),
                })
            }),
            "allow[0].human.methods: list at least one method",
        ),
        (
            Box::new(|g| {
                g.ttl = Some("1h".parse().unwrap());
                g.expires_at = Some("2030-01-01T00:00:00Z".parse().unwrap());
            }),
            "ttl: give either `ttl` or `expires_at`, not both",
        ),
    ];
    assert!(base().validate().is_ok());
    // The parser says the same, through `validate`.
    assert_eq!(
        err(json!({"ttl": "1h", "expires_at": "2030-01-01T00:00:00Z", "allow": [rule(json!({}))]})),
        "ttl: give either `ttl` or `expires_at`, not both"
    );
    assert!(
        err(json!({"deny": [rule(json!({"when": [{"attr": "x", "present": true}]}))]}))
            .starts_with("deny[0].when[0].present: a deny condition `present` always holds")
    );
    for (spoil, expected) in cases {
        let mut g = base();
        spoil(&mut g);
        let e = g.validate().unwrap_err().to_string();
        assert!(e.starts_with(expected), "{e}\nexpected: {expected}");
        if g.expires_at.is_none() {
            let compiled = crate::compile::compile_checks(&g, Default::default());
            assert_eq!(compiled.unwrap_err().to_string(), e);
        }
    }
}
