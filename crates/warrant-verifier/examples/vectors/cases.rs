//! The cases of the warrant test vectors, written by hand: the keys, the tokens and the
//! requests, each with the decision it must get.

use std::collections::BTreeMap;

use serde_json::json;

use warrant_core::keys::HolderAlgorithm;

use super::cases_p256::p256_cases;
use super::recipe::{Fail, Keys, Step, VerificationVector};
use super::spec::{
    attenuate, datalog, delegate, minted_by, offline, req, Case, Req, Revoke, LATER, NOW,
};

/// The seed every key and random choice of the vectors is derived from.
pub(crate) const SEED: [u8; 32] = *b"warrant test vectors, seed no. 1";

/// The keys: name, the key id an issuer key signs under, and the algorithm. Only `issuer`
/// is trusted; `issuer-next` signs under a key id the verifier does not know; `impostor`
/// claims the trusted key id with another key; the `p256-agent-*` are P-256 holder keys.
pub(crate) const KEYS: [(&str, Option<u32>, HolderAlgorithm); 8] = [
    ("issuer", Some(1), HolderAlgorithm::Ed25519),
    ("issuer-next", Some(2), HolderAlgorithm::Ed25519),
    ("impostor", Some(1), HolderAlgorithm::Ed25519),
    ("agent-a", None, HolderAlgorithm::Ed25519),
    ("agent-b", None, HolderAlgorithm::Ed25519),
    ("agent-c", None, HolderAlgorithm::Ed25519),
    ("p256-agent-a", None, HolderAlgorithm::P256),
    ("p256-agent-b", None, HolderAlgorithm::P256),
];

/// A bearer token for one API: a one-segment wildcard, an `eq` condition, a deny rule.
fn support_bearer() -> Case {
    let r = |name, action, resource| req(name, action, resource).aud("support-api");
    let open = |q: Req| q.attr("ticket.status", json!("open"));
    Case {
        name: "support-bearer",
        description: "a bearer token for one API: a one-segment wildcard with an `eq` condition, a deny rule on every action, a 10-minute ttl",
        steps: vec![offline(json!({
            "audience": ["support-api"], "ttl": "10m",
            "allow": [{ "resources": ["tickets/123/*"], "actions": ["read"],
                        "when": [{ "attr": "ticket.status", "eq": "open" }] }],
            "deny": [{ "resources": ["tickets/123/payment_card"], "actions": ["*"] }]
        }))],
        requests: vec![
            open(r("read-open-ticket", "read", "tickets/123/email_address"))
                .allowed(None, "2026-11-30T10:10:00Z"),
            r("closed-ticket", "read", "tickets/123/email_address")
                .attr("ticket.status", json!("closed"))
                .denied("rule_not_matched", Some(0))
                .blaming("ticket.status"),
            r("status-missing", "read", "tickets/123/email_address")
                .denied("missing_attribute", Some(0))
                .blaming("ticket.status"),
            r("status-of-another-type", "read", "tickets/123/email_address")
                .attr("ticket.status", json!(1))
                .denied("rule_not_matched", Some(0))
                .blaming("ticket.status"),
            open(r("denied-field", "read", "tickets/123/payment_card"))
                .denied("denied_by_rule", Some(0)),
            open(r("other-ticket", "read", "tickets/124/email_address"))
                .denied("rule_not_matched", Some(0)),
            open(r("two-segments-below", "read", "tickets/123/notes/1"))
                .denied("rule_not_matched", Some(0)),
            open(r("other-action", "update", "tickets/123/email_address"))
                .denied("rule_not_matched", Some(0)),
            open(req("other-audience", "read", "tickets/123/email_address"))
                .aud("billing-api")
                .denied("audience", Some(0)),
            open(req("no-audience", "read", "tickets/123/email_address"))
                .denied("audience", Some(0)),
            open(r("at-the-expiry-second", "read", "tickets/123/email_address"))
                .at("2026-11-30T10:10:00Z")
                .allowed(None, "2026-11-30T10:10:00Z"),
            open(r("a-second-after-expiry", "read", "tickets/123/email_address"))
                .at("2026-11-30T10:10:01Z")
                .denied("expired", Some(0)),
            open(r("bearer-refused", "read", "tickets/123/email_address"))
                .refuse_bearer()
                .denied("bearer_refused", None),
            open(r("token-id-revoked", "read", "tickets/123/email_address"))
                .revoke(Revoke::TokenId)
                .denied("revoked", Some(0)),
            open(r("authority-block-revoked", "read", "tickets/123/email_address"))
                .revoke(Revoke::Block(0))
                .denied("revoked", Some(0)),
            open(r("dot-segment", "read", "tickets/123/../124/email_address"))
                .denied("invalid_request", None),
        ],
    }
}

/// Every condition operator, and a deny rule that fails closed.
fn orders_operators() -> Case {
    let refund = |name| {
        req(name, "refund", "orders/42")
            .attr("amount", json!(4999))
            .attr("currency", json!("EUR"))
            .attr("reason", json!("duplicate charge"))
            .attr("note", json!("ref-7"))
    };
    let update = |name| {
        req(name, "update", "orders/42/items/1")
            .attr("quantity", json!(3))
            .attr("status", json!("packed"))
            .attr("gift", json!(false))
    };
    let read = |name| {
        req(name, "read", "orders/42/invoice")
            .attr("placed_at", json!("2026-11-30T09:00:00Z"))
            .attr("priority", json!(1))
            .attr("due", json!("2026-12-15T00:00:00Z"))
    };
    let until = "2026-11-30T11:00:00Z";
    Case {
        name: "orders-operators",
        description: "every condition operator (eq, ne, lt, le, gt, ge, in, present, prefix, within) on integers, strings, bools and dates, and a deny rule that fails closed",
        steps: vec![offline(json!({
            "ttl": "1h",
            "allow": [
                { "resources": ["orders/*"], "actions": ["refund"],
                  "when": [{ "attr": "amount", "lt": 5000 },
                           { "attr": "currency", "in": ["EUR", "USD"] },
                           { "attr": "reason", "present": true },
                           { "attr": "note", "prefix": "ref-" }] },
                { "resources": ["orders/*/items/*"], "actions": ["update"],
                  "when": [{ "attr": "quantity", "ge": 1 },
                           { "attr": "quantity", "le": 10 },
                           { "attr": "status", "ne": "shipped" },
                           { "attr": "gift", "eq": false }] },
                { "resources": ["orders/**"], "actions": ["read"],
                  "when": [{ "attr": "placed_at", "within": "24h" },
                           { "attr": "placed_at", "gt": "2026-01-01T00:00:00Z" },
                           { "attr": "priority", "gt": 0 },
                           { "attr": "due", "lt": "2027-01-01T00:00:00Z" }] }
            ],
            "deny": [{ "resources": ["orders/**"], "actions": ["refund"],
                       "when": [{ "attr": "amount", "ge": 100000 }] }]
        }))],
        requests: vec![
            refund("refund").allowed(None, until),
            refund("refund-at-the-limit")
                .attr("amount", json!(5000))
                .denied("rule_not_matched", Some(0))
                .blaming("amount"),
            refund("refund-in-another-currency")
                .attr("currency", json!("GBP"))
                .denied("rule_not_matched", Some(0))
                .blaming("currency"),
            req("refund-without-reason", "refund", "orders/42")
                .attr("amount", json!(4999))
                .attr("currency", json!("EUR"))
                .attr("note", json!("ref-7"))
                .denied("missing_attribute", Some(0))
                .blaming("reason"),
            refund("refund-note-without-prefix")
                .attr("note", json!("REF-7"))
                .denied("rule_not_matched", Some(0))
                .blaming("note"),
            refund("refund-huge")
                .attr("amount", json!(150_000))
                .denied("denied_by_rule", Some(0)),
            req("refund-without-amount", "refund", "orders/42")
                .attr("currency", json!("EUR"))
                .attr("reason", json!("duplicate charge"))
                .attr("note", json!("ref-7"))
                .denied("denied_by_rule", Some(0))
                .blaming("amount"),
            refund("refund-amount-as-string")
                .attr("amount", json!("4999"))
                .denied("denied_by_rule", Some(0))
                .blaming("amount"),
            update("update-item").allowed(None, until),
            update("update-quantity-zero")
                .attr("quantity", json!(0))
                .denied("rule_not_matched", Some(0))
                .blaming("quantity"),
            update("update-quantity-eleven")
                .attr("quantity", json!(11))
                .denied("rule_not_matched", Some(0))
                .blaming("quantity"),
            update("update-shipped")
                .attr("status", json!("shipped"))
                .denied("rule_not_matched", Some(0))
                .blaming("status"),
            update("update-gift")
                .attr("gift", json!(true))
                .denied("rule_not_matched", Some(0))
                .blaming("gift"),
            read("read-recent-order").allowed(None, until),
            read("read-order-placed-49h-ago")
                .attr("placed_at", json!("2026-11-28T09:00:00Z"))
                .denied("rule_not_matched", Some(0))
                .blaming("placed_at"),
            read("read-date-as-string")
                .attr("placed_at", json!({ "string": "2026-11-30T09:00:00Z" }))
                .denied("rule_not_matched", Some(0))
                .blaming("placed_at"),
            read("read-priority-zero")
                .attr("priority", json!(0))
                .denied("rule_not_matched", Some(0))
                .blaming("priority"),
            read("read-due-next-year")
                .attr("due", json!("2027-02-01T00:00:00Z"))
                .denied("rule_not_matched", Some(0))
                .blaming("due"),
            req("delete", "delete", "orders/42").denied("rule_not_matched", Some(0)),
        ],
    }
}

/// Resource patterns and action lists.
fn resource_patterns() -> Case {
    let r = |name, action, resource| req(name, action, resource).aud("files-api");
    let until = "2026-11-30T10:30:00Z";
    Case {
        name: "resource-patterns",
        description: "resource patterns (exact names, `*` segments, `**` subtrees, escaped literals) and action lists, for two audiences",
        steps: vec![offline(json!({
            "audience": ["files-api", "backup-api"], "ttl": "30m",
            "allow": [
                { "resources": ["docs/readme.md", "docs/license.md"], "actions": ["read"] },
                { "resources": ["projects/*/reports/*"], "actions": ["read", "export"] },
                { "resources": ["customers/*/**"], "actions": ["read"] },
                { "resources": ["images/v1.0/*"], "actions": ["read"] },
                { "resources": ["public/**"], "actions": ["*"] }
            ],
            "deny": [
                { "resources": ["customers/*/secrets/**"], "actions": ["*"] },
                { "resources": ["**"], "actions": ["delete"] }
            ]
        }))],
        requests: vec![
            r("exact-name", "read", "docs/readme.md").allowed(None, until),
            r("second-exact-name", "read", "docs/license.md").allowed(None, until),
            r("not-an-exact-name", "read", "docs/readme.txt").denied("rule_not_matched", Some(0)),
            r("segment-wildcards", "export", "projects/p1/reports/q3").allowed(None, until),
            r("below-segment-wildcards", "read", "projects/p1/reports/q3/raw")
                .denied("rule_not_matched", Some(0)),
            r("unlisted-action", "update", "projects/p1/reports/q3")
                .denied("rule_not_matched", Some(0)),
            r("wildcard-then-subtree", "read", "customers/c9/orders/1").allowed(None, until),
            r("wildcard-without-subtree", "read", "customers/c9")
                .denied("rule_not_matched", Some(0)),
            r("denied-subtree", "read", "customers/c9/secrets/api_key")
                .denied("denied_by_rule", Some(0)),
            r("escaped-dot", "read", "images/v1.0/logo").allowed(None, until),
            r("dot-is-no-wildcard", "read", "images/v1x0/logo").denied("rule_not_matched", Some(0)),
            r("any-action-in-subtree", "update", "public/site/index.html").allowed(None, until),
            r("subtree-excludes-its-root", "update", "public")
                .denied("rule_not_matched", Some(0)),
            r("delete-denied-everywhere", "delete", "public/site/index.html")
                .denied("denied_by_rule", Some(0)),
            r("second-audience", "read", "docs/readme.md")
                .aud("backup-api")
                .allowed(None, until),
        ],
    }
}

/// An attenuation block narrowing everything the authority allows.
fn attenuated() -> Case {
    let r = |name, action, resource| {
        req(name, action, resource)
            .aud("support-api")
            .at("2026-11-30T10:02:00Z")
    };
    Case {
        name: "attenuated",
        description: "an attenuation block that narrows the audience, the lifetime, the resources and the actions, and adds a deny rule",
        steps: vec![
            offline(json!({
                "audience": ["support-api", "billing-api"], "ttl": "1h",
                "allow": [{ "resources": ["tickets/**"], "actions": ["read", "update"] }]
            })),
            attenuate(
                LATER,
                json!({
                    "audience": ["support-api"], "ttl": "5m",
                    "allow": [{ "resources": ["tickets/123/**"], "actions": ["read"] }],
                    "deny": [{ "resources": ["tickets/123/internal/**"], "actions": ["*"] }]
                }),
            ),
        ],
        requests: vec![
            r("within-both-blocks", "read", "tickets/123/messages/1")
                .allowed(None, "2026-11-30T10:06:00Z"),
            r("action-narrowed-away", "update", "tickets/123/messages/1")
                .denied("rule_not_matched", Some(1)),
            r("resource-narrowed-away", "read", "tickets/124/messages/1")
                .denied("rule_not_matched", Some(1)),
            r("denied-by-the-attenuation", "read", "tickets/123/internal/notes")
                .denied("denied_by_rule", Some(1)),
            r("outside-both-blocks", "read", "billing/invoices/1")
                .denied("rule_not_matched", Some(0)),
            r("audience-narrowed-away", "read", "tickets/123/messages/1")
                .aud("billing-api")
                .denied("audience", Some(1)),
            r("after-the-attenuation-expires", "read", "tickets/123/messages/1")
                .at("2026-11-30T10:06:01Z")
                .denied("expired", Some(1)),
            r("after-both-expire", "read", "tickets/123/messages/1")
                .at("2026-11-30T11:00:01Z")
                .denied("expired", Some(0)),
            r("attenuation-block-revoked", "read", "tickets/123/messages/1")
                .revoke(Revoke::Block(1))
                .denied("revoked", Some(1)),
        ],
    }
}

/// Blocks appended by a plain Biscuit tool: one in the profile, one outside it.
fn plain_biscuit_blocks() -> Case {
    Case {
        name: "plain-biscuit-blocks",
        description: "blocks appended in Datalog by any Biscuit tool: `check if action(\"read\")` is in the profile; a check on the resource's suffix is not, and Biscuit evaluates it",
        steps: vec![
            offline(json!({
                "ttl": "1h",
                "allow": [{ "resources": ["reports/**"], "actions": ["read", "export"] }]
            })),
            datalog("check if action(\"read\");"),
            datalog("check if resource($r), $r.ends_with(\".pdf\");"),
        ],
        requests: vec![
            req("read-pdf", "read", "reports/2026/q3.pdf").allowed(None, "2026-11-30T11:00:00Z"),
            req("export-pdf", "export", "reports/2026/q3.pdf").denied("rule_not_matched", Some(1)),
            req("read-csv", "read", "reports/2026/q3.csv").denied("check_failed", Some(2)),
            req("outside-the-authority", "read", "invoices/1.pdf")
                .denied("rule_not_matched", Some(0)),
        ],
    }
}

/// A grant with the raw Datalog escape hatch.
fn raw_datalog_grant() -> Case {
    Case {
        name: "raw-datalog-grant",
        description: "a grant with raw Datalog (`datalog`): the block is outside the profile and Biscuit evaluates it",
        steps: vec![offline(json!({
            "ttl": "1h",
            "allow": [{ "resources": ["tickets/**"], "actions": ["read"] }],
            "datalog": "check if attr(\"region\", \"eu\");"
        }))],
        requests: vec![
            // A block outside the profile is not decompiled, so its expiry is not
            // reported (Biscuit still enforces it).
            req("region-eu", "read", "tickets/1")
                .attr("region", json!("eu"))
                .allowed_without_expiry(None),
            req("after-the-expiry", "read", "tickets/1")
                .attr("region", json!("eu"))
                .at("2026-11-30T11:00:01Z")
                .denied("check_failed", Some(0)),
            req("region-us", "read", "tickets/1")
                .attr("region", json!("us"))
                .denied("check_failed", Some(0)),
            // Nor is its allow rule: any failing check of the block is `check_failed`.
            req("outside-the-rule", "update", "tickets/1")
                .attr("region", json!("eu"))
                .denied("check_failed", Some(0)),
        ],
    }
}

/// A holder-bound token with a verified human, delegated to a second agent.
fn holder_delegation() -> Case {
    let r = |name, action, resource| {
        req(name, action, resource)
            .aud("support-api")
            .at("2026-11-30T10:02:00Z")
            .refuse_bearer()
    };
    let mint = Step::Mint {
        key: "issuer".into(),
        at: NOW.into(),
        rng: String::new(),
        grant: json!({
            "audience": ["support-api"], "ttl": "1h",
            "allow": [
                { "resources": ["tickets/**"], "actions": ["read"] },
                { "resources": ["refunds/*"], "actions": ["create"],
                  "when": [{ "attr": "amount", "le": 10000 }],
                  "human": { "methods": ["passkey"], "max_age": "15m",
                             "attrs": { "kyc_complete": true } } }
            ]
        }),
        holder: Some("agent-a".into()),
        human: Some("alice".into()),
        verification: Some(VerificationVector {
            method: "passkey".into(),
            at: "2026-11-30T09:55:00Z".into(),
        }),
        human_attrs: BTreeMap::from([
            ("kyc_complete".to_owned(), json!(true)),
            ("team".to_owned(), json!("support")),
        ]),
        issuer: "https://issuer.example".into(),
    };
    let b = Some("agent-b");
    let until = "2026-11-30T10:11:00Z";
    Case {
        name: "holder-delegation",
        description: "a token bound to agent-a, minted for a human verified by passkey with vouched attributes and a rule requiring a recent passkey verification, delegated to agent-b with a narrower grant; every request carries a DPoP proof",
        steps: vec![
            mint,
            delegate(
                LATER,
                "agent-a",
                "agent-b",
                json!({
                    "ttl": "10m",
                    "allow": [{ "resources": ["tickets/123/**", "refunds/*"],
                                "actions": ["read", "create"] }]
                }),
            ),
        ],
        requests: vec![
            r("new-holder-reads", "read", "tickets/123/messages")
                .proof("agent-b")
                .allowed(b, until),
            r("new-holder-refunds", "create", "refunds/r1")
                .attr("amount", json!(5000))
                .proof("agent-b")
                .allowed(b, until),
            r("human-verified-too-long-ago", "create", "refunds/r1")
                .attr("amount", json!(5000))
                .at("2026-11-30T10:10:30Z")
                .proof("agent-b")
                .denied("rule_not_matched", Some(0)),
            r("refund-too-large", "create", "refunds/r1")
                .attr("amount", json!(20000))
                .proof("agent-b")
                .denied("rule_not_matched", Some(0))
                .blaming("amount"),
            r("outside-the-delegation", "read", "tickets/124/messages")
                .proof("agent-b")
                .denied("rule_not_matched", Some(1)),
            r("after-the-delegation-expires", "read", "tickets/123/messages")
                .at("2026-11-30T10:11:01Z")
                .proof("agent-b")
                .denied("expired", Some(1)),
            r("proof-by-the-previous-holder", "read", "tickets/123/messages")
                .proof("agent-a")
                .denied("invalid_proof", None),
            r("proof-by-a-stranger", "read", "tickets/123/messages")
                .proof("agent-c")
                .denied("invalid_proof", None),
            r("no-proof", "read", "tickets/123/messages").denied("invalid_proof", None),
            r("previous-holder-revoked", "read", "tickets/123/messages")
                .proof("agent-b")
                .revoke(Revoke::Holder("agent-a"))
                .denied("revoked", None),
        ],
    }
}

/// A chain of holders with an attenuation in between.
fn delegation_chain() -> Case {
    let r = |name, action, resource| {
        req(name, action, resource)
            .at("2026-11-30T10:03:00Z")
            .refuse_bearer()
    };
    Case {
        name: "delegation-chain",
        description: "agent-a delegates to agent-b with an empty grant, agent-b attenuates the token, then delegates to agent-c: only agent-c's proof counts",
        steps: vec![
            minted_by(
                "issuer",
                Some("agent-a"),
                json!({ "allow": [{ "resources": ["docs/**"], "actions": ["read"] }] }),
            ),
            delegate(LATER, "agent-a", "agent-b", json!({})),
            attenuate("2026-11-30T10:02:00Z", json!({ "ttl": "5m" })),
            delegate("2026-11-30T10:02:00Z", "agent-b", "agent-c", json!({})),
        ],
        requests: vec![
            r("last-holder", "read", "docs/a")
                .proof("agent-c")
                .allowed(Some("agent-c"), "2026-11-30T10:07:00Z"),
            r("middle-holder", "read", "docs/a")
                .proof("agent-b")
                .denied("invalid_proof", None),
            r("first-holder", "read", "docs/a")
                .proof("agent-a")
                .denied("invalid_proof", None),
            r("after-the-attenuation-expires", "read", "docs/a")
                .at("2026-11-30T10:07:01Z")
                .proof("agent-c")
                .denied("expired", Some(2)),
        ],
    }
}

/// A holder named in a plain block: a thief re-binding a stolen token.
fn stolen_rebind(keys: &Keys) -> Result<Case, Fail> {
    let thief = hex::encode(keys.get("agent-c")?.public().fact_bytes());
    let r = |name, signer| {
        req(name, "read", "docs/a")
            .refuse_bearer()
            .proof(signer)
            .denied("invalid_delegation", Some(1))
    };
    Ok(Case {
        name: "stolen-rebind",
        description: "a token bound to agent-a, to which a thief (agent-c) appends a plain block naming itself as the holder: the whole token is invalid",
        steps: vec![
            minted_by(
                "issuer",
                Some("agent-a"),
                json!({ "allow": [{ "resources": ["docs/**"], "actions": ["read"] }] }),
            ),
            datalog(&format!("holder(hex:{thief});")),
        ],
        requests: vec![r("proof-by-the-thief", "agent-c"), r("proof-by-the-holder", "agent-a")],
    })
}

/// A rule requiring a verified human, on a token minted offline.
fn offline_human() -> Case {
    let mut mint = offline(json!({
        "ttl": "10m",
        "allow": [
            { "resources": ["payouts/*"], "actions": ["approve"],
              "human": { "methods": ["passkey", "oidc"] } },
            { "resources": ["payouts/*"], "actions": ["read"] }
        ]
    }));
    if let Step::Mint { human, .. } = &mut mint {
        *human = Some("bob".into());
    }
    Case {
        name: "offline-human",
        description: "a token minted offline records its human as `unverified`: a rule that requires a verification method never matches",
        steps: vec![mint],
        requests: vec![
            req("approve", "approve", "payouts/p1").denied("rule_not_matched", Some(0)),
            req("read", "read", "payouts/p1").allowed(None, "2026-11-30T10:10:00Z"),
        ],
    }
}

/// A validity window given by absolute dates.
fn validity_window() -> Case {
    let r = |name, time| req(name, "read", "reports/daily").at(time);
    let until = "2026-11-30T13:00:00Z";
    Case {
        name: "validity-window",
        description:
            "`not_before` and an absolute `expires_at`: valid from 12:00:00 to 13:00:00 inclusive",
        steps: vec![offline(json!({
            "not_before": "2026-11-30T12:00:00Z", "expires_at": until,
            "allow": [{ "resources": ["reports/daily"], "actions": ["read"] }]
        }))],
        requests: vec![
            r("a-second-early", "2026-11-30T11:59:59Z").denied("not_yet_valid", Some(0)),
            r("first-second", "2026-11-30T12:00:00Z").allowed(None, until),
            r("last-second", until).allowed(None, until),
            r("a-second-late", "2026-11-30T13:00:01Z").denied("expired", Some(0)),
        ],
    }
}

/// An attenuation that denies everything.
fn frozen() -> Case {
    Case {
        name: "frozen",
        description: "an attenuation block whose deny rule covers every resource and action (`check if false`): nothing is allowed any more",
        steps: vec![
            offline(json!({ "allow": [{ "resources": ["**"], "actions": ["*"] }] })),
            attenuate(
                LATER,
                json!({ "deny": [{ "resources": ["**"], "actions": ["*"] }] }),
            ),
        ],
        requests: vec![req("anything", "read", "a/b").denied("denied_by_rule", Some(1))],
    }
}

/// Tokens signed by keys the verifier does not trust.
fn untrusted() -> [Case; 2] {
    let grant = json!({ "allow": [{ "resources": ["docs/**"], "actions": ["read"] }] });
    [
        Case {
            name: "unknown-key-id",
            description: "signed by `issuer-next` under key id 2, which the verifier's key set lacks",
            steps: vec![minted_by("issuer-next", None, grant.clone())],
            requests: vec![req("read", "read", "docs/a").denied("unknown_key", None)],
        },
        Case {
            name: "impostor",
            description: "signed by `impostor` under the trusted key id 1: the signature does not verify with the trusted key",
            steps: vec![minted_by("impostor", None, grant)],
            requests: vec![req("read", "read", "docs/a").denied("bad_signature", None)],
        },
    ]
}

pub(crate) fn all_cases(keys: &Keys) -> Result<Vec<Case>, Fail> {
    let mut all = vec![
        support_bearer(),
        orders_operators(),
        resource_patterns(),
        attenuated(),
        plain_biscuit_blocks(),
        raw_datalog_grant(),
        holder_delegation(),
        delegation_chain(),
        stolen_rebind(keys)?,
        offline_human(),
        validity_window(),
        frozen(),
    ];
    all.extend(untrusted());
    all.extend(p256_cases(keys)?);
    Ok(all)
}
