//! Shared helpers: minting with a fixed clock and authorizing with biscuit-auth directly.

use std::collections::HashMap;

use biscuit_auth::error::{FailedCheck, Logic, Token as BiscuitError};
use biscuit_auth::{AuthorizerBuilder, Biscuit};
use serde_json::Value as J;
use warrant_core::request::RequestFacts;
use warrant_core::token::MintRequest;
use warrant_core::value::Value;
pub(crate) use warrant_test::{at, grant, key, NOW};

/// Mints `grant` offline at [`NOW`].
pub(crate) fn mint_json(v: &J) -> Biscuit {
    warrant_test::mint_now(key(), MintRequest::offline(grant(v))).token
}

/// Runs Biscuit's authorizer: the request facts, `allow if true` (the token's checks decide).
pub(crate) fn authorize(token: &Biscuit, req: &RequestFacts) -> Result<usize, BiscuitError> {
    let (src, params) = req.datalog();
    let mut authorizer = AuthorizerBuilder::new()
        .set_limits(warrant_test::biscuit_limits())
        .code_with_params(&src, params, HashMap::new())?
        .policy("allow if true")?
        .build(token)?;
    authorizer.authorize()
}

/// The ids of the authority block's failing checks, or a panic when Biscuit fails in any
/// other way than failed checks (an evaluation error, a limit, a missing policy).
pub(crate) fn failed_authority_checks(token: &Biscuit, req: &RequestFacts) -> Vec<usize> {
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
pub(crate) fn allowed(token: &Biscuit, req: &RequestFacts) -> bool {
    failed_authority_checks(token, req).is_empty()
}

/// A request at [`NOW`] with the given attributes.
pub(crate) fn request(resource: &str, action: &str, attrs: &[(&str, Value)]) -> RequestFacts {
    let mut r = RequestFacts::new(resource, action, NOW);
    for (k, v) in attrs {
        r.attrs.insert((*k).to_owned(), v.clone());
    }
    r
}
