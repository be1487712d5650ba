//! Patterns: walking out of a subtree with dot segments, empty segments, `*` stretched over
//! several segments, `**` prefix tricks, regex metacharacters, case and look-alikes.

use serde_json::json;
use warrant_verifier::{DenialKind, Request};

use crate::{allowed, attack, bearer, bearer_verifier, run_table, NOW};

fn t(patterns: &[&str]) -> String {
    bearer(&json!({"allow": [{"resources": patterns, "actions": ["read"]}]}))
}

fn read(resource: &str) -> Request {
    Request::new(resource, "read", NOW)
}

#[test]
fn non_canonical_resources_are_refused_before_evaluation() {
    let sub = t(&["tickets/123/**"]);
    let star = t(&["tickets/*/email"]);
    let dot = "has a `.` or `..` segment";
    let empty = "has an empty path segment";
    run_table(
        &bearer_verifier(),
        vec![
            attack(
                "`..` out of a subtree",
                sub.clone(),
                read("tickets/123/../124"),
                DenialKind::InvalidRequest,
                &[dot],
            ),
            attack(
                "`..` at the end",
                sub.clone(),
                read("tickets/123/x/.."),
                DenialKind::InvalidRequest,
                &[dot],
            ),
            attack(
                "`.` segment",
                star.clone(),
                read("tickets/./email"),
                DenialKind::InvalidRequest,
                &[dot],
            ),
            attack(
                "`..` as the `*` segment",
                star.clone(),
                read("tickets/../email"),
                DenialKind::InvalidRequest,
                &[dot],
            ),
            attack(
                "doubled slash",
                sub.clone(),
                read("tickets/123//x"),
                DenialKind::InvalidRequest,
                &[empty],
            ),
            attack(
                "leading slash",
                sub.clone(),
                read("/tickets/123/x"),
                DenialKind::InvalidRequest,
                &[empty],
            ),
            attack(
                "trailing slash",
                sub.clone(),
                read("tickets/123/"),
                DenialKind::InvalidRequest,
                &[empty],
            ),
            attack(
                "empty resource",
                sub.clone(),
                read(""),
                DenialKind::InvalidRequest,
                &["the resource is empty"],
            ),
            attack(
                "a control character",
                sub.clone(),
                read("tickets/123/x\nresource(\"admin\")"),
                DenialKind::InvalidRequest,
                &["contains a control character"],
            ),
            attack(
                "a 513-byte resource",
                t(&["**"]),
                read(&format!("a/{}", "b".repeat(511))),
                DenialKind::InvalidRequest,
                &["longer than 512 bytes"],
            ),
        ],
    );
}

#[test]
fn percent_encoded_dots_are_literal_names() {
    // `%2e%2e` is a name, not `..`: it cannot walk out of the subtree it is in.
    let sub = t(&["tickets/124/**"]);
    run_table(
        &bearer_verifier(),
        vec![
            attack(
                "`tickets/123/%2e%2e/124` against `tickets/124/**`",
                sub.clone(),
                read("tickets/123/%2e%2e/124"),
                DenialKind::RuleNotMatched,
                &["no allow rule covers action `read` on `tickets/123/%2e%2e/124`"],
            ),
            attack(
                "`tickets/124%2f..%2f125` against `tickets/124/**`",
                sub,
                read("tickets/124%2f..%2f125"),
                DenialKind::RuleNotMatched,
                &["tickets/124%2f..%2f125"],
            ),
        ],
    );
    allowed(&bearer_verifier().verify(&t(&["tickets/124/**"]), &read("tickets/124/%2e%2e")));
}

#[test]
fn wildcards_match_what_they_say_and_no_more() {
    let one = t(&["orders/*"]);
    let mid = t(&["customers/*/email"]);
    let sub = t(&["orders/**"]);
    let nr = |r: &str| format!("no allow rule covers action `read` on `{r}`");
    run_table(
        &bearer_verifier(),
        vec![
            attack(
                "`orders/*` over two segments",
                one.clone(),
                read("orders/1/refunds"),
                DenialKind::RuleNotMatched,
                &[&nr("orders/1/refunds")],
            ),
            attack(
                "`orders/*` on `orders` itself",
                one.clone(),
                read("orders"),
                DenialKind::RuleNotMatched,
                &[&nr("orders")],
            ),
            attack(
                "`customers/*/email` over two segments",
                mid.clone(),
                read("customers/1/2/email"),
                DenialKind::RuleNotMatched,
                &[&nr("customers/1/2/email")],
            ),
            attack(
                "`customers/*/email` with a suffix",
                mid.clone(),
                read("customers/1/email/raw"),
                DenialKind::RuleNotMatched,
                &[&nr("customers/1/email/raw")],
            ),
            attack(
                "`orders/**` vs `ordersx/1`",
                sub.clone(),
                read("ordersx/1"),
                DenialKind::RuleNotMatched,
                &[&nr("ordersx/1")],
            ),
            attack(
                "`orders/**` vs `orders`",
                sub.clone(),
                read("orders"),
                DenialKind::RuleNotMatched,
                &[&nr("orders")],
            ),
            attack(
                "`orders/**` vs `xorders/1`",
                sub.clone(),
                read("xorders/1"),
                DenialKind::RuleNotMatched,
                &[&nr("xorders/1")],
            ),
        ],
    );
    let v = bearer_verifier();
    allowed(&v.verify(&one, &read("orders/1")));
    allowed(&v.verify(&mid, &read("customers/1/email")));
    allowed(&v.verify(&sub, &read("orders/1/refunds/2")));
}

#[test]
fn literal_segments_are_not_regexes_and_matching_is_exact() {
    let dotted = t(&["files/a.b/*"]);
    let meta = t(&["x/[a-z]+/*", "y/(.+)/*", "z/a|b/*", "w/^$/*"]);
    let exact = t(&["Tickets/1"]);
    let nr = |r: &str| format!("no allow rule covers action `read` on `{r}`");
    run_table(
        &bearer_verifier(),
        vec![
            attack(
                "`.` in a literal segment",
                dotted.clone(),
                read("files/aXb/1"),
                DenialKind::RuleNotMatched,
                &[&nr("files/aXb/1")],
            ),
            attack(
                "character class",
                meta.clone(),
                read("x/abc/1"),
                DenialKind::RuleNotMatched,
                &[&nr("x/abc/1")],
            ),
            attack(
                "group and star",
                meta.clone(),
                read("y/anything/1"),
                DenialKind::RuleNotMatched,
                &[&nr("y/anything/1")],
            ),
            attack(
                "alternation",
                meta.clone(),
                read("z/a/1"),
                DenialKind::RuleNotMatched,
                &[&nr("z/a/1")],
            ),
            attack(
                "anchors",
                meta.clone(),
                read("w//1"),
                DenialKind::InvalidRequest,
                &["empty path segment"],
            ),
            attack(
                "anchors as a name",
                meta.clone(),
                read("w/x/1"),
                DenialKind::RuleNotMatched,
                &[&nr("w/x/1")],
            ),
            attack(
                "case difference",
                exact.clone(),
                read("tickets/1"),
                DenialKind::RuleNotMatched,
                &[&nr("tickets/1")],
            ),
            attack(
                "Cyrillic `Т` look-alike",
                exact.clone(),
                read("\u{422}ickets/1"),
                DenialKind::RuleNotMatched,
                &[&nr("\u{422}ickets/1")],
            ),
            attack(
                "fullwidth solidus",
                t(&["tickets/*"]),
                read("tickets\u{ff0f}1"),
                DenialKind::RuleNotMatched,
                &[&nr("tickets\u{ff0f}1")],
            ),
            attack(
                "trailing space",
                exact.clone(),
                read("Tickets/1 "),
                DenialKind::RuleNotMatched,
                &[&nr("Tickets/1 ")],
            ),
            attack(
                "a 512-byte resource one byte off",
                t(&[&format!("a/{}", "b".repeat(510))]),
                read(&format!("a/{}c", "b".repeat(509))),
                DenialKind::RuleNotMatched,
                &["no allow rule covers action `read`"],
            ),
        ],
    );
    let v = bearer_verifier();
    allowed(&v.verify(&dotted, &read("files/a.b/1")));
    allowed(&v.verify(&meta, &read("x/[a-z]+/1")));
    allowed(&v.verify(&meta, &read("w/^$/1")));
    allowed(&v.verify(&exact, &read("Tickets/1")));
    let long = format!("a/{}", "b".repeat(510));
    allowed(&v.verify(&t(&[&long]), &read(&long)));
}
