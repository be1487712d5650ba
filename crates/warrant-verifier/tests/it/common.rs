//! Shared helpers: a trusted key, minting at a fixed time, a verifier with test limits.

use std::sync::OnceLock;
use std::time::Duration;

use rand_core::OsRng;
use serde_json::Value as J;
use warrant_core::grant::Grant;
use warrant_core::keys::SigningKey;
use warrant_core::time::Span;
use warrant_core::token::{mint, MintRequest, Minted, PROFILE_VERSION};
use warrant_verifier::{
    Decision, Denial, DenialKind, KeyId, KeySet, Limits, Timestamp, Verifier, VerifierBuilder,
};

/// The fixed "now" of every mint: 2026-11-30T10:00:00Z.
pub const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

/// `NOW + seconds` (negative: before).
pub fn at(seconds: i64) -> Timestamp {
    if seconds >= 0 {
        NOW.plus(Span::from_seconds(seconds.unsigned_abs()))
    } else {
        NOW.minus(Span::from_seconds(seconds.unsigned_abs()))
    }
}

/// The trusted signing key (key id 1).
pub fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(&mut OsRng, Some(KeyId(1))))
}

/// Limits that leave room for debug builds.
pub fn test_limits() -> Limits {
    Limits {
        max_time: Duration::from_millis(200),
        ..Limits::DEFAULT
    }
}

/// A verifier trusting [`key`] under key id 1, accepting bearer tokens (most tests here
/// are about grants, not holders).
pub fn verifier() -> Verifier {
    verifier_builder().build()
}

/// The builder of [`verifier`], for tests that change a setting.
pub fn verifier_builder() -> VerifierBuilder {
    Verifier::builder(KeySet::single(KeyId(1), key().public()))
        .limits(test_limits())
        .dangerous_accept_bearer()
}

/// Parses a grant, panicking with the parser's message.
pub fn grant(v: &J) -> Grant {
    Grant::from_json(v).unwrap_or_else(|e| panic!("invalid test grant {v}: {e}"))
}

/// Mints `grant` offline at [`NOW`] with [`key`].
pub fn mint_with(key: &SigningKey, v: &J) -> Minted {
    mint(key, MintRequest::offline(grant(v)), NOW, &mut OsRng)
        .unwrap_or_else(|e| panic!("mint of {v} failed: {e}"))
}

/// Mints `grant` offline at [`NOW`] with [`key`], as base64 text.
pub fn mint_text(v: &J) -> String {
    mint_with(key(), v).token.to_base64().unwrap()
}

/// Asserts the message rules every denial follows: non-empty, one line, lowercase start.
pub fn assert_message(d: &Denial) {
    let m = &d.message;
    assert!(!m.trim().is_empty(), "empty message in {d:?}");
    assert!(
        !m.contains('\n') && !m.contains('\r'),
        "multi-line message in {d:?}"
    );
    let first = m.chars().next().unwrap();
    assert!(
        !first.is_uppercase(),
        "message does not start in lowercase: {d:?}"
    );
}

/// The denial of `decision`, with its message checked; panics when allowed.
pub fn denied(decision: &Decision) -> &Denial {
    let d = decision
        .denial()
        .unwrap_or_else(|| panic!("expected a denial, got {decision:?}"));
    assert_message(d);
    d
}

/// Asserts `decision` is a denial of `kind` (message checked) and returns it.
pub fn denied_as(decision: &Decision, kind: DenialKind) -> &Denial {
    let d = denied(decision);
    assert_eq!(d.kind, kind, "unexpected denial {d:?}");
    d
}

/// Biscuit's own answer, bypassing the verifier: the request facts and the verifier's
/// policy `allow if warrant(2, $id, $issuer, $issued_at)` (profile v2: the v1 policy
/// `allow if warrant_profile(1)` matches no current token). Panics if Biscuit fails other
/// than by refusing.
pub fn biscuit_allows(token: &biscuit_auth::Biscuit, req: &warrant_core::request::Request) -> bool {
    use biscuit_auth::error::{Logic, Token as E};
    let (src, params) = req.datalog();
    let run = biscuit_auth::AuthorizerBuilder::new()
        .set_limits(biscuit_auth::AuthorizerLimits {
            max_facts: 1000,
            max_iterations: 100,
            max_time: Duration::from_millis(200),
        })
        .code_with_params(&src, params, Default::default())
        .and_then(|b| {
            b.policy(
                format!("allow if warrant({PROFILE_VERSION}, $id, $issuer, $issued_at)").as_str(),
            )
        })
        .and_then(|b| b.build(token))
        .and_then(|mut a| a.authorize());
    match run {
        Ok(_) => true,
        Err(E::FailedLogic(Logic::Unauthorized { .. } | Logic::NoMatchingPolicy { .. })) => false,
        Err(other) => panic!("Biscuit failed other than by refusing: {other:?}"),
    }
}

/// Parses base64 token text with Biscuit, checking the signatures with [`key`].
pub fn biscuit(text: &str) -> biscuit_auth::Biscuit {
    biscuit_auth::Biscuit::from_base64(text, key().public().to_biscuit().unwrap()).unwrap()
}
