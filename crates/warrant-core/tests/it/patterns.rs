//! Resource patterns through real Biscuit: exact, `*` segments, subtrees, the bare
//! wildcard, and regular-expression metacharacters taken literally.

use serde_json::json;
use warrant_core::pattern::{check_resource, ResourcePattern};

use crate::common::{allowed, mint_json, request};

/// Mints `allow [pattern] read` and checks each (resource, allowed?) through Biscuit and
/// against `ResourcePattern::matches`. A case that is not a canonical resource must be
/// refused by `check_resource` (verifiers refuse it before any evaluation) and must not
/// be expected to match.
fn check(pattern: &str, cases: &[(&str, bool)]) {
    let token = mint_json(&json!({"allow": [{"resources": [pattern], "actions": ["read"]}]}));
    let parsed: ResourcePattern = pattern.parse().unwrap();
    for (resource, want) in cases {
        if check_resource(resource).is_err() {
            assert!(!want, "{resource:?} is not canonical: it cannot be allowed");
            continue;
        }
        assert_eq!(
            allowed(&token, &request(resource, "read", &[])),
            *want,
            "Biscuit: `{pattern}` on {resource:?}"
        );
        assert_eq!(
            parsed.matches(resource),
            *want,
            "matches: `{pattern}` on {resource:?}"
        );
    }
}

/// Resources that probe segment boundaries; every pattern is also checked against all of
/// them for agreement between Biscuit and `ResourcePattern::matches`.
const PROBES: &[&str] = &[
    "a",
    "a/b",
    "a/b/c",
    "a/b/c/d",
    "ab",
    "a/bc",
    "a.b+c",
    "aXb+c",
    "a.b+c/1/x(y)",
    "a.b+c/1/xy",
    "x(y)",
    "xy",
    "[z]",
    "z",
    "[z]/1",
    "é/ü",
    "tickets/123/email_address",
    "orders/42",
    "*",
    "a/*",
    "...",
    "a/.b",
];

/// Requests that are not canonical resource names: verifiers refuse them before any
/// evaluation, so patterns never see them.
#[test]
fn non_canonical_resources_are_refused() {
    for resource in [
        "",
        "/",
        "//",
        "a/",
        "/a",
        "a//b",
        "a/b/",
        "orders/",
        "a/\n",
        "a/b\nc/d",
        ".",
        "..",
        "a/./b",
        "a/../b",
        "tickets/123/../124/email",
        "tickets/../email",
        "tickets/./email",
    ] {
        assert!(check_resource(resource).is_err(), "{resource:?}");
    }
    for pattern in ["tickets/123/..", "a/./*", "../**", "./a"] {
        assert!(pattern.parse::<ResourcePattern>().is_err(), "{pattern}");
    }
}

fn agree(pattern: &str) {
    let token = mint_json(&json!({"allow": [{"resources": [pattern], "actions": ["read"]}]}));
    let parsed: ResourcePattern = pattern.parse().unwrap();
    for resource in PROBES {
        assert_eq!(
            allowed(&token, &request(resource, "read", &[])),
            parsed.matches(resource),
            "`{pattern}` on {resource:?}: Biscuit and matches() disagree"
        );
    }
}

#[test]
fn exact() {
    check(
        "tickets/123/email_address",
        &[
            ("tickets/123/email_address", true),
            ("tickets/123/email", false),
            ("tickets/123/email_address/x", false),
            ("tickets/1234/email_address", false),
            ("tickets/123", false),
            ("Tickets/123/email_address", false),
            ("tickets/123/email_address/", false),
            ("", false),
        ],
    );
    check(
        "a",
        &[("a", true), ("a/b", false), ("b", false), ("", false)],
    );
}

#[test]
fn one_segment_wildcard() {
    check(
        "orders/*/order_status",
        &[
            ("orders/42/order_status", true),
            ("orders/a.b/order_status", true),
            ("orders/é/order_status", true),
            ("orders//order_status", false),
            ("orders/42/43/order_status", false),
            ("orders/42/order_status/x", false),
            ("orders/42/order_statusx", false),
            ("xorders/42/order_status", false),
            ("orders/order_status", false),
        ],
    );
    check(
        "*/b",
        &[
            ("a/b", true),
            ("b", false),
            ("/b", false),
            ("a/c/b", false),
            ("a/b/c", false),
        ],
    );
    check(
        "a/*/*/d",
        &[("a/b/c/d", true), ("a/b/d", false), ("a/b//d", false)],
    );
}

#[test]
fn a_trailing_star_is_one_segment() {
    check(
        "orders/*",
        &[
            ("orders/42", true),
            ("orders/42/items", false),
            ("orders", false),
            ("orders/", false),
            ("x/orders/1", false),
        ],
    );
    check(
        "*",
        &[
            ("x", true),
            ("anything/at/all", false),
            ("/", false),
            ("", false),
        ],
    );
}

#[test]
fn subtrees() {
    check(
        "orders/**",
        &[
            ("orders/42", true),
            ("orders/42/items", true),
            ("orders/42/items/7", true),
            ("orders", false),
            ("orders/", false),
            ("ordersx/1", false),
            ("x/orders/1", false),
            ("", false),
        ],
    );
    check(
        "customers/*/**",
        &[
            ("customers/7/payment_card", true),
            ("customers/7/a/b", true),
            ("customers/7", false),
            ("customers/7/", false),
            ("customers//x", false),
        ],
    );
    check(
        "a/b/**",
        &[
            ("a/b/c", true),
            ("a/b", false),
            ("a/bc", false),
            ("a/bc/d", false),
        ],
    );
}

#[test]
fn the_bare_double_star_matches_every_resource() {
    check(
        "**",
        &[
            ("anything/at/all", true),
            ("x", true),
            ("/", false),
            ("", false),
        ],
    );
}

#[test]
fn regex_metacharacters_are_literal() {
    // With a `*` segment the pattern becomes a regular expression: the literal segments
    // must be escaped.
    check(
        "a.b+c/*/x(y)",
        &[
            ("a.b+c/1/x(y)", true),
            ("aXb+c/1/x(y)", false),
            ("a.bbc/1/x(y)", false),
            ("abbc/1/x(y)", false),
            ("a.b+c/1/xy", false),
            ("a.b+c/1/x(yy)", false),
        ],
    );
    check("[z]/*", &[("[z]/1", true), ("z/1", false), ("[z]", false)]);
    check("*/[z]", &[("1/[z]", true), ("1/z", false)]);
    check("a|b/*", &[("a|b/1", true), ("a/1", false), ("b/1", false)]);
    check("^a$/*/x", &[("^a$/1/x", true), ("a/1/x", false)]);
    check(r"a\d/*/x", &[(r"a\d/1/x", true), ("a5/1/x", false)]);
    check(
        "(?i)x/*/y",
        &[("(?i)x/1/y", true), ("X/1/Y", false), ("x/1/y", false)],
    );
    check("a{2}/*/b", &[("a{2}/1/b", true), ("aa/1/b", false)]);
    check(
        "a?/*/.x",
        &[
            ("a?/1/.x", true),
            ("/1/x", false),
            ("a/1/x", false),
            ("a?/1/ax", false),
        ],
    );
    // Without a `*` segment the test is string equality or a prefix: still literal.
    check(
        "a.b+c",
        &[("a.b+c", true), ("aXb+c", false), ("abbc", false)],
    );
    check(
        "x(y)/**",
        &[("x(y)/1", true), ("xy/1", false), ("x(y)", false)],
    );
    check("[z]", &[("[z]", true), ("z", false)]);
}

#[test]
fn biscuit_agrees_with_matches_on_probes() {
    for pattern in [
        "a",
        "a/b",
        "a/*",
        "a/**",
        "*",
        "**",
        "*/b",
        "*/*",
        "*/**",
        "a/*/c",
        "a/*/**",
        "a.b+c",
        "a.b+c/*/x(y)",
        "[z]/*",
        "é/*",
        "*/ü",
    ] {
        agree(pattern);
    }
}

#[test]
fn several_patterns_in_one_rule_are_alternatives() {
    check("tickets/1", &[("tickets/1", true), ("tickets/2", false)]);
    let token = mint_json(
        &json!({"allow": [{"resources": ["tickets/1", "orders/*/x", "files/**"], "actions": ["read"]}]}),
    );
    for (resource, want) in [
        ("tickets/1", true),
        ("orders/9/x", true),
        ("files/a/b", true),
        ("tickets/2", false),
        ("orders/9/y", false),
        ("files", false),
    ] {
        assert_eq!(
            allowed(&token, &request(resource, "read", &[])),
            want,
            "{resource}"
        );
    }
}

/// `check_resource` as it was written before its one-pass form (every `char`, then every
/// `/`-separated segment): the oracle the one-pass form must agree with, error for error.
fn check_resource_by_chars(resource: &str) -> Result<(), warrant_core::pattern::ResourceError> {
    use warrant_core::pattern::{ResourceError, MAX_NAME_LEN};
    if resource.is_empty() {
        return Err(ResourceError::Empty);
    }
    if resource.len() > MAX_NAME_LEN {
        return Err(ResourceError::TooLong);
    }
    if resource.chars().any(char::is_control) {
        return Err(ResourceError::Control(resource.escape_debug().to_string()));
    }
    for segment in resource.split('/') {
        match segment {
            "" => return Err(ResourceError::EmptySegment(resource.to_owned())),
            "." | ".." => return Err(ResourceError::DotSegment(resource.to_owned())),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `s` is an action (or audience) name, by its definition: 1 to 512 bytes, no
/// control or white-space character, none of `,` `*` `"` `\\`. The oracle for the
/// table-driven `Action::check`.
fn is_action_by_chars(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= warrant_core::pattern::MAX_NAME_LEN
        && !s
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, ',' | '*' | '"' | '\\'))
}

/// Whether `s` is an attribute name, by its definition: 1 to 128 ASCII letters, digits,
/// `_`, `-` or `.`. The oracle for the table-driven `AttrName::check`.
fn is_attr_name_by_chars(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

    /// The table-driven name checks agree with the names' definitions on every byte
    /// value that matters and on arbitrary strings.
    #[test]
    fn name_checks_agree_with_their_definitions(
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                "[a-zA-Z0-9_.-]{1,4}",
                proptest::strategy::Just(" ".to_owned()),
                proptest::strategy::Just(",".to_owned()),
                proptest::strategy::Just("*".to_owned()),
                proptest::strategy::Just("\"".to_owned()),
                proptest::strategy::Just("\\".to_owned()),
                proptest::strategy::Just("\u{7f}".to_owned()),
                proptest::strategy::Just("\u{85}".to_owned()),
                proptest::strategy::Just("\u{a0}".to_owned()),
                proptest::strategy::Just("\u{2028}".to_owned()),
                proptest::strategy::Just("é".to_owned()),
                "\\PC{0,3}",
                ".{0,3}",
            ],
            0..12,
        ),
        long in proptest::bool::weighted(0.05),
    ) {
        let mut s = parts.concat();
        if long {
            s = s.repeat(60);
        }
        proptest::prop_assert_eq!(
            warrant_core::pattern::Action::check(&s).is_ok(),
            is_action_by_chars(&s),
            "action {:?}", s
        );
        proptest::prop_assert_eq!(
            warrant_core::value::AttrName::check(&s).is_ok(),
            is_attr_name_by_chars(&s),
            "attribute {:?}", s
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

    /// The one-pass check agrees with the per-character one on names built from the
    /// characters that matter (separators, dots, C0 and C1 controls, DEL, multi-byte
    /// letters next to the C1 range, spaces) and on arbitrary strings.
    #[test]
    fn check_resource_agrees_with_the_per_character_check(
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("/".to_owned()),
                proptest::strategy::Just(".".to_owned()),
                proptest::strategy::Just("..".to_owned()),
                proptest::strategy::Just("a".to_owned()),
                proptest::strategy::Just("\u{1}".to_owned()),
                proptest::strategy::Just("\u{7f}".to_owned()),
                proptest::strategy::Just("\u{80}".to_owned()),
                proptest::strategy::Just("\u{9f}".to_owned()),
                proptest::strategy::Just("\u{a0}".to_owned()),
                proptest::strategy::Just("\u{c0}".to_owned()),
                proptest::strategy::Just("\u{2028}".to_owned()),
                proptest::strategy::Just(" ".to_owned()),
                "\\PC{0,3}",
                ".{0,3}",
            ],
            0..12,
        ),
        long in proptest::bool::weighted(0.05),
    ) {
        let mut resource = parts.concat();
        if long {
            resource = resource.repeat(200);
        }
        proptest::prop_assert_eq!(check_resource(&resource), check_resource_by_chars(&resource));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

    /// Action (and audience) names: the byte-wise check of ASCII names agrees with the
    /// per-character rule (no control, whitespace, `,`, `*`, `"` or `\`).
    #[test]
    fn action_check_agrees_with_the_per_character_rule(s in "[ -~\t\n\r\u{b}\u{c}\u{7f}\u{85}\u{a0}]{0,8}|\\PC{0,4}|.{0,4}") {
        let by_chars = !s.is_empty()
            && s.len() <= warrant_core::pattern::MAX_NAME_LEN
            && !s.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, ',' | '*' | '"' | '\\'));
        proptest::prop_assert_eq!(warrant_core::pattern::Action::check(&s).is_ok(), by_chars);
        proptest::prop_assert_eq!(warrant_core::pattern::Audience::check(&s).is_ok(), by_chars);
    }
}
