//! Test support shared by the warrant crates' tests and benches (as rustls has
//! `rustls-test`): never published, only ever a dev-dependency.
//!
//! - the fixed test instant [`NOW`] (2026-11-30T10:00:00Z) and instants around it, [`at`];
//! - the trusted test key [`key`] (key id 1) and fresh holder keys, [`new_key`] (Ed25519)
//!   and [`new_p256_key`];
//! - grants from JSON, [`grant`], and offline mints at [`NOW`]: [`mint_now`], [`mint_for`],
//!   [`bearer`];
//! - what a holder or an attacker does to a token with Biscuit directly: blocks appended
//!   ([`append_plain`], [`append_third_party`]), holder facts ([`holder_fact`]), DPoP
//!   proofs ([`proof_at`]);
//! - the limits of every authorization run with Biscuit directly, [`biscuit_limits`];
//! - the README's issuer role and human, [`config`].
//!
//! Only what several test suites share lives here; a helper one suite needs stays with it.
//! Every helper panics, naming what failed, when it cannot do its job: that fails the test.
//!
//! ```
//! use serde_json::json;
//! use warrant_core::time::Span;
//! use warrant_test::{at, bearer, NOW};
//!
//! assert_eq!(at(-60), NOW.minus(Span::from_seconds(60)));
//! let token = bearer(&json!({ "ttl": "10m", "allow": [{ "resources": ["tickets/1"], "actions": ["read"] }] }));
//! assert!(!token.is_empty());
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![expect(
    clippy::panic,
    reason = "test support: a helper that cannot do its job fails the test, naming why"
)]

pub mod config;

use std::sync::OnceLock;
use std::time::Duration;

use biscuit_auth::{AuthorizerLimits, BlockBuilder};
use rand_core::OsRng;
use serde_json::Value as J;
use warrant_core::dpop::create_proof;
use warrant_core::grant::Grant;
use warrant_core::keys::{HolderSigner, KeyId, P256SigningKey, SigningKey};
use warrant_core::time::{Span, Timestamp};
use warrant_core::token::{decode_unverified, encode, mint, MintRequest, Minted};

/// The fixed "now" of every test mint and request: 2026-11-30T10:00:00Z.
pub const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

/// The URL every test DPoP proof is made for (`GET`).
pub const URL: &str = "https://api.example/tickets/1";

/// `NOW + seconds` (negative: before).
pub fn at(seconds: i64) -> Timestamp {
    if seconds >= 0 {
        NOW.plus(Span::from_seconds(seconds.unsigned_abs()))
    } else {
        NOW.minus(Span::from_seconds(seconds.unsigned_abs()))
    }
}

/// The trusted issuer key, key id 1: one key for the whole test binary.
pub fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(&mut OsRng, Some(KeyId(1))))
}

/// A fresh Ed25519 key without a key id (an agent, a thief, a stranger).
pub fn new_key() -> SigningKey {
    SigningKey::generate(&mut OsRng, None)
}

/// A fresh P-256 key (an agent that signs `ES256` proofs).
pub fn new_p256_key() -> P256SigningKey {
    P256SigningKey::generate(&mut OsRng)
}

/// Parses a grant, panicking with the parser's message.
pub fn grant(v: &J) -> Grant {
    Grant::from_json(v).unwrap_or_else(|e| panic!("invalid test grant {v}: {e}"))
}

/// Mints `req` at [`NOW`] with `key`.
pub fn mint_now(key: &SigningKey, req: MintRequest) -> Minted {
    mint(key, req, NOW, &mut OsRng).unwrap_or_else(|e| panic!("mint failed: {e}"))
}

/// Mints the grant `v` offline at [`NOW`] with [`key`], bound to `holder` (Ed25519 or
/// P-256; a bearer token for `None`), as base64 text.
pub fn mint_for(holder: Option<&dyn HolderSigner>, v: &J) -> String {
    let mut req = MintRequest::offline(grant(v));
    req.holder = holder.map(HolderSigner::holder_key);
    to_text(&mint_now(key(), req))
}

/// A bearer token for the grant `v`, minted offline at [`NOW`] with [`key`], as base64
/// text.
pub fn bearer(v: &J) -> String {
    mint_for(None, v)
}

/// The base64 text of a minted token.
fn to_text(minted: &Minted) -> String {
    minted
        .token
        .to_base64()
        .unwrap_or_else(|e| panic!("a minted token does not serialize: {e}"))
}

/// A Biscuit block written in Datalog, panicking with Biscuit's message.
fn block(code: &str) -> BlockBuilder {
    BlockBuilder::new()
        .code(code)
        .unwrap_or_else(|e| panic!("block `{code}` does not parse: {e:?}"))
}

/// The token text `text`, decoded without checking its signatures.
fn unverified(text: &str) -> biscuit_auth::UnverifiedBiscuit {
    decode_unverified(text).unwrap_or_else(|e| panic!("not a token ({e}): {text}"))
}

/// Appends a plain (first-party) block written in Datalog, as any holder can: no key
/// needed.
pub fn append_plain(text: &str, code: &str) -> String {
    append_block(text, block(code))
}

/// Appends a prepared plain block.
pub fn append_block(text: &str, block: BlockBuilder) -> String {
    let appended = unverified(text)
        .append(block)
        .unwrap_or_else(|e| panic!("cannot append a block: {e:?}"));
    encode(&appended)
}

/// Appends a third-party block written in Datalog, signed by `signer` (Ed25519 or P-256).
pub fn append_third_party(text: &str, signer: &(impl HolderSigner + ?Sized), code: &str) -> String {
    let token = unverified(text);
    let private = signer
        .biscuit_private_key()
        .unwrap_or_else(|e| panic!("the signer has no Biscuit key: {e}"));
    let signed = token
        .third_party_request()
        .and_then(|request| request.create_block(&private, block(code)))
        .and_then(|block| block.serialize())
        .unwrap_or_else(|e| panic!("cannot sign a third-party block: {e:?}"));
    let appended = token
        .append_third_party(&signed)
        .unwrap_or_else(|e| panic!("cannot append a third-party block: {e:?}"));
    encode(&appended)
}

/// The profile v2 holder fact naming `k`: an Ed25519 key's 32 raw bytes, a P-256 key's 33
/// (its compressed point).
pub fn holder_fact(k: &(impl HolderSigner + ?Sized)) -> String {
    format!("holder(hex:{});", hex::encode(k.holder_key().fact_bytes()))
}

/// A DPoP proof by `signer` (`EdDSA` or `ES256`) for `GET` [`URL`] with `token`, made at
/// `made`.
pub fn proof_at(signer: &(impl HolderSigner + ?Sized), token: &str, made: Timestamp) -> String {
    create_proof(signer, "GET", URL, token, made, &mut OsRng)
        .unwrap_or_else(|e| panic!("cannot make a DPoP proof: {e}"))
}

/// The limits of every test authorization run with Biscuit directly: Biscuit's default
/// time limit (1 ms) fails debug builds, and a loaded machine (a whole test run on two
/// cores) slows them further; the time limit is only a backstop here.
pub fn biscuit_limits() -> AuthorizerLimits {
    AuthorizerLimits {
        max_facts: 1000,
        max_iterations: 100,
        max_time: Duration::from_secs(5),
    }
}

/// The design's grant (3 allow rules with conditions, 1 deny rule, audience `support-api`)
/// lasting `ttl`: the grant of the benchmarks and of the HTTP comparison.
pub fn design_grant(ttl: &str) -> String {
    r#"{
  "audience": ["support-api"],
  "ttl": "TTL",
  "allow": [
    { "resources": ["tickets/123/customer_name", "tickets/123/email_address"], "actions": ["read"],
      "when": [ { "attr": "ticket.status", "eq": "open" } ] },
    { "resources": ["orders/*/order_status"], "actions": ["update"],
      "when": [ { "attr": "order.placed_at", "within": "24h" },
                { "attr": "shipping_address.verified", "eq": true } ] },
    { "resources": ["orders/*"], "actions": ["refund"],
      "when": [ { "attr": "amount", "lt": 5000 }, { "attr": "reason", "present": true } ] }
  ],
  "deny": [ { "resources": ["customers/*/payment_card", "accounts/*/password"], "actions": ["*"] } ]
}"#
    .replace("TTL", ttl)
}
