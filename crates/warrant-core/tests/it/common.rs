//! Shared helpers: minting with a fixed clock and authorizing with biscuit-auth directly.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use biscuit_auth::error::{FailedCheck, Logic, Token as BiscuitError};
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit};
use rand_core::OsRng;
use serde_json::Value as J;
use warrant_core::grant::Grant;
use warrant_core::keys::{KeyId, SigningKey};
use warrant_core::request::RequestFacts;
use warrant_core::time::{Span, Timestamp};
use warrant_core::token::{mint, MintRequest};
use warrant_core::value::Value;

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

/// One signing key (key id 1) for the whole test binary.
pub fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(&mut OsRng, Some(KeyId(1))))
}

/// Parses a grant, panicking with the parser's message.
pub fn grant(v: &J) -> Grant {
    Grant::from_json(v).unwrap_or_else(|e| panic!("invalid test grant {v}: {e}"))
}

/// Mints `grant` offline at [`NOW`].
pub fn mint_json(v: &J) -> Biscuit {
    mint(key(), MintRequest::offline(grant(v)), NOW, &mut OsRng)
        .unwrap_or_else(|e| panic!("mint of {v} failed: {e}"))
        .token
}

/// The limits of every test authorization (Biscuit's default 1 ms fails debug builds).
pub fn limits() -> AuthorizerLimits {
    AuthorizerLimits {
        max_facts: 1000,
        max_iterations: 100,
        max_time: Duration::from_millis(200),
    }
}

/// Runs Biscuit's authorizer: the request facts, `allow if true` (the token's checks decide).
pub fn authorize(token: &Biscuit, req: &RequestFacts) -> Result<usize, BiscuitError> {
    let (src, params) = req.datalog();
    let mut authorizer = AuthorizerBuilder::new()
        .set_limits(limits())
        .code_with_params(&src, params, HashMap::new())?
        .policy("allow if true")?
        .build(token)?;
    authorizer.authorize()
}

/// The ids of the authority block's failing checks, or a panic when Biscuit fails in any
/// other way than failed checks (an evaluation error, a limit, a missing policy).
pub fn failed_authority_checks(token: &Biscuit, req: &RequestFacts) -> Vec<usize> {
    match authorize(token, req) {
        Ok(_) => Vec::new(),
        Err(BiscuitError::FailedLogic(Logic::Unauthorized { checks, .. })) => checks
            .iter()
            .map(|c| match c {
                FailedCheck::Block(b) => {
                    assert_eq!(b.block_id, 0, "only the authority block has checks");
                    usize::try_from(b.check_id).unwrap()
                }
                FailedCheck::Authorizer(a) => panic!("unexpected authorizer check {a:?}"),
            })
            .collect(),
        Err(other) => panic!("Biscuit failed other than by failed checks: {other:?} for {req:?}"),
    }
}

/// Whether Biscuit allows `req`; any error other than failed checks panics.
pub fn allowed(token: &Biscuit, req: &RequestFacts) -> bool {
    failed_authority_checks(token, req).is_empty()
}

/// A request at [`NOW`] with the given attributes.
pub fn request(resource: &str, action: &str, attrs: &[(&str, Value)]) -> RequestFacts {
    let mut r = RequestFacts::new(resource, action, NOW);
    for (k, v) in attrs {
        r.attrs.insert((*k).to_owned(), v.clone());
    }
    r
}
