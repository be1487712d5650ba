//! The cases of the warrant test vectors with P-256 holders (`ES256` proofs): a token
//! bound to a P-256 key, delegations signed by a P-256 holder and naming one, and a thief
//! naming their P-256 key in a plain block.

use serde_json::json;

use super::recipe::{Fail, Keys};
use super::spec::{datalog, delegate, minted_by, req, Case, Revoke, LATER};

/// A token bound to a P-256 agent: only its `ES256` proof counts.
fn p256_holder() -> Case {
    let r = |name, resource| {
        req(name, "read", resource)
            .aud("support-api")
            .refuse_bearer()
    };
    let a = Some("p256-agent-a");
    Case {
        name: "p256-holder",
        description: "a token bound to p256-agent-a, a P-256 key (`holder(hex:…)` holds its 33-byte compressed point): a request carries an `ES256` DPoP proof by it",
        steps: vec![minted_by(
            "issuer",
            Some("p256-agent-a"),
            json!({
                "audience": ["support-api"], "ttl": "10m",
                "allow": [{ "resources": ["tickets/123/**"], "actions": ["read"] }]
            }),
        )],
        requests: vec![
            r("es256-proof-by-the-holder", "tickets/123/messages")
                .proof("p256-agent-a")
                .allowed(a, "2026-11-30T10:10:00Z"),
            r("eddsa-proof-by-another-agent", "tickets/123/messages")
                .proof("agent-a")
                .denied("invalid_proof", None),
            r("es256-proof-by-another-agent", "tickets/123/messages")
                .proof("p256-agent-b")
                .denied("invalid_proof", None),
            r("no-proof", "tickets/123/messages").denied("invalid_proof", None),
            r("outside-the-grant", "tickets/124/messages")
                .proof("p256-agent-a")
                .denied("rule_not_matched", Some(0)),
            r("holder-revoked", "tickets/123/messages")
                .proof("p256-agent-a")
                .revoke(Revoke::Holder("p256-agent-a"))
                .denied("revoked", None),
        ],
    }
}

/// Delegations across algorithms: a P-256 holder hands the token to an Ed25519 agent,
/// which hands it to another P-256 agent.
fn p256_delegation() -> Case {
    let r = |name, action| {
        req(name, action, "docs/team/plan")
            .at("2026-11-30T10:03:00Z")
            .refuse_bearer()
    };
    Case {
        name: "p256-delegation",
        description: "p256-agent-a delegates to agent-b (a third-party block signed with its P-256 key, as Biscuit's `secp256r1` keys sign), narrowing the grant; agent-b delegates to p256-agent-b: only p256-agent-b's `ES256` proof counts",
        steps: vec![
            minted_by(
                "issuer",
                Some("p256-agent-a"),
                json!({ "ttl": "1h", "allow": [{ "resources": ["docs/**"], "actions": ["read", "write"] }] }),
            ),
            delegate(
                LATER,
                "p256-agent-a",
                "agent-b",
                json!({ "ttl": "10m", "allow": [{ "resources": ["docs/team/**"], "actions": ["read"] }] }),
            ),
            delegate("2026-11-30T10:02:00Z", "agent-b", "p256-agent-b", json!({})),
        ],
        requests: vec![
            r("last-holder", "read")
                .proof("p256-agent-b")
                .allowed(Some("p256-agent-b"), "2026-11-30T10:11:00Z"),
            r("middle-holder", "read")
                .proof("agent-b")
                .denied("invalid_proof", None),
            r("first-holder", "read")
                .proof("p256-agent-a")
                .denied("invalid_proof", None),
            r("outside-the-delegation", "write")
                .proof("p256-agent-b")
                .denied("rule_not_matched", Some(1)),
            r("first-holder-revoked", "read")
                .proof("p256-agent-b")
                .revoke(Revoke::Holder("p256-agent-a"))
                .denied("revoked", None),
        ],
    }
}

/// A P-256 holder named in a plain block: a thief re-binding a stolen token to its key.
fn p256_stolen_rebind(keys: &Keys) -> Result<Case, Fail> {
    let thief = hex::encode(keys.get("p256-agent-b")?.public().fact_bytes());
    let r = |name, signer| {
        req(name, "read", "docs/a")
            .refuse_bearer()
            .proof(signer)
            .denied("invalid_delegation", Some(1))
    };
    Ok(Case {
        name: "p256-stolen-rebind",
        description: "a token bound to p256-agent-a, to which a thief (p256-agent-b) appends a plain block naming its own P-256 key as the holder: the whole token is invalid",
        steps: vec![
            minted_by(
                "issuer",
                Some("p256-agent-a"),
                json!({ "allow": [{ "resources": ["docs/**"], "actions": ["read"] }] }),
            ),
            datalog(&format!("holder(hex:{thief});")),
        ],
        requests: vec![
            r("proof-by-the-thief", "p256-agent-b"),
            r("proof-by-the-holder", "p256-agent-a"),
        ],
    })
}

/// The P-256 cases, in the order the file lists them.
pub(crate) fn p256_cases(keys: &Keys) -> Result<Vec<Case>, Fail> {
    Ok(vec![
        p256_holder(),
        p256_delegation(),
        p256_stolen_rebind(keys)?,
    ])
}
