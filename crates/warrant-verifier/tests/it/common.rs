//! Shared helpers: a trusted key, minting at a fixed time, a verifier with test limits.

use std::time::Duration;

use serde_json::Value as J;
use warrant_core::keys::SigningKey;
use warrant_core::token::{MintRequest, Minted, PROFILE_VERSION};
pub(crate) use warrant_test::{
    append_plain, append_third_party, at, grant, holder_fact, key, mint_for, new_key, new_p256_key,
    proof_at, NOW, URL,
};
use warrant_verifier::{
    Decision, Denial, DenialKind, KeyId, KeySet, Limits, Verifier, VerifierBuilder,
};

/// Limits that leave room for debug builds on a loaded machine (the time limit is a
/// backstop; tests of it set their own, zero).
pub(crate) fn test_limits() -> Limits {
    Limits {
        max_time: Duration::from_secs(5),
        ..Limits::DEFAULT
    }
}

/// A verifier trusting [`key`] under key id 1, accepting bearer tokens (most tests here
/// are about grants, not holders).
pub(crate) fn verifier() -> Verifier {
    verifier_builder().build()
}

/// The builder of [`verifier`], for tests that change a setting.
pub(crate) fn verifier_builder() -> VerifierBuilder {
    Verifier::builder(KeySet::single(KeyId(1), key().public()))
        .limits(test_limits())
        .dangerous_accept_bearer()
}

/// Mints `grant` offline at [`NOW`] with `key`.
pub(crate) fn mint_with(key: &SigningKey, v: &J) -> Minted {
    warrant_test::mint_now(key, MintRequest::offline(grant(v)))
}

/// Mints `grant` offline at [`NOW`] with [`key`], as base64 text.
pub(crate) fn mint_text(v: &J) -> String {
    warrant_test::bearer(v)
}

/// Asserts the message rules every denial follows: non-empty, one line, lowercase start.
pub(crate) fn assert_message(d: &Denial) {
    let m = d.message();
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
pub(crate) fn denied(decision: &Decision) -> &Denial {
    let d = decision
        .denial()
        .unwrap_or_else(|| panic!("expected a denial, got {decision:?}"));
    assert_message(d);
    d
}

/// Asserts `decision` is a denial of `kind` (message checked) and returns it.
pub(crate) fn denied_as(decision: &Decision, kind: DenialKind) -> &Denial {
    let d = denied(decision);
    assert_eq!(d.kind, kind, "unexpected denial {d:?}");
    d
}

/// Biscuit's own answer, bypassing the verifier: the request facts and the verifier's
/// policy `allow if warrant(2, $id, $issuer, $issued_at)` (profile v2: the v1 policy
/// `allow if warrant_profile(1)` matches no current token). Panics if Biscuit fails other
/// than by refusing.
pub(crate) fn biscuit_allows(
    token: &biscuit_auth::Biscuit,
    req: &warrant_core::request::RequestFacts,
) -> bool {
    use biscuit_auth::error::{Logic, Token as E};
    let (src, params) = req.datalog();
    let run = biscuit_auth::AuthorizerBuilder::new()
        .set_limits(warrant_test::biscuit_limits())
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
pub(crate) fn biscuit(text: &str) -> biscuit_auth::Biscuit {
    biscuit_auth::Biscuit::from_base64(text, key().public().to_biscuit().unwrap()).unwrap()
}
