//! Token sizes for the issue's benchmark grant: read one ticket field while open, refund
//! `orders/*` under 5000, deny payment cards, one audience, ten minutes. Tokens travel in
//! HTTP headers and agents' prompts: the profile keeps them no larger than the same
//! meaning written as idiomatic Biscuit Datalog (docs/performance.md has the comparison).

use rand_core::OsRng;
use warrant_core::grant::{Grant, Method};
use warrant_core::keys::{KeyId, SigningKey};
use warrant_core::token::{attenuate, decode_unverified, encode, mint, MintRequest, Verification};

use crate::common::NOW;

/// The benchmark grant.
pub(crate) const SIZE_GRANT: &str = r#"{
  "audience": ["support-api"], "ttl": "10m",
  "allow": [
    {"resources": ["tickets/123/email_address"], "actions": ["read"], "when": [{"attr": "ticket.status", "eq": "open"}]},
    {"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "amount", "lt": 5000}]}
  ],
  "deny": [{"resources": ["customers/*/payment_card"], "actions": ["*"]}]
}"#;

/// The attenuations: a shorter life, then the ticket field only.
pub(crate) const SIZE_NARROWER: [&str; 2] = [
    r#"{"ttl": "5m"}"#,
    r#"{"ttl": "2m", "allow": [{"resources": ["tickets/123/email_address"], "actions": ["read"]}]}"#,
];

/// (1 block, authority + 2 attenuations) in base64 characters. `issued` mints as the
/// issuer does (a verified human, the issuer's URL, bound to an agent's key); otherwise as
/// the benchmarks and the issue's comparison do (offline, human `alice`, bearer).
pub(crate) fn sizes(issued: bool) -> (usize, usize) {
    let key = SigningKey::generate(&mut OsRng, Some(KeyId(1)));
    let mut req = MintRequest::offline(Grant::from_json_str(SIZE_GRANT).unwrap());
    req.human = Some("alice".into());
    if issued {
        req.human = Some("alice@example.com".into());
        req.verification = Some(Verification {
            method: Method::Passkey,
            at: NOW,
        });
        req.holder = Some(SigningKey::generate(&mut OsRng, None).public().into());
        req.issuer = "https://issuer.example.com".into();
    }
    let minted = mint(&key, req, NOW, &mut OsRng).unwrap();
    let one = minted.token.to_base64().unwrap();
    let mut token = decode_unverified(&one).unwrap();
    for g in SIZE_NARROWER {
        token = attenuate(&token, Grant::from_json_str(g).unwrap(), NOW, &mut OsRng).unwrap();
    }
    (one.len(), encode(&token).len())
}

#[test]
fn tokens_are_compact() {
    let (one, three) = sizes(false);
    let (issued_one, issued_three) = sizes(true);
    eprintln!(
        "bearer: 1 block {one}, 3 blocks {three}; issued (holder-bound, verified human, issuer URL): 1 block {issued_one}, 3 blocks {issued_three} base64 characters"
    );
    assert!(
        one <= 1000,
        "1 block: {one} base64 characters, more than 1000"
    );
    assert!(
        three <= 1500,
        "3 blocks: {three} base64 characters, more than 1500"
    );
    // The holder's 32-byte key, the human's id and the issuer's URL are what an issued
    // token adds; its three blocks still fit the bound.
    assert!(issued_one <= 1100, "issued, 1 block: {issued_one}");
    assert!(issued_three <= 1500, "issued, 3 blocks: {issued_three}");
}
