//! The native evaluator (`eval::evaluate`) against Biscuit running the compiled block:
//! for random grants and requests, the failing checks must be the same, role for role;
//! and a lifted block's own evaluation (its times apart from its shared grant) the same
//! as evaluating its whole grant.

use proptest::prelude::*;
use rand_core::OsRng;
use serde_json::Value as J;
use warrant_core::authority::AuthorityFacts;
use warrant_core::blocks::read_blocks;
use warrant_core::compile::{compile, CheckRole, CompileContext};
use warrant_core::decompile::lift;
use warrant_core::eval::{evaluate, Failure, HumanFacts};
use warrant_core::grant::Grant;
use warrant_core::request::RequestFacts;
use warrant_core::token::{
    mint, resolve_lifetime, MintRequest, Verification, DEFAULT_TTL, UNVERIFIED,
};
use warrant_core::value::{AttrName, Value};

use crate::common::{failed_authority_checks, key, NOW};
use crate::gen;

fn run_case(
    gj: &J,
    verification: Option<Verification>,
    human_attrs: &std::collections::BTreeMap<AttrName, Value>,
    requests: &[RequestFacts],
) -> Result<Outcomes, TestCaseError> {
    let g = Grant::from_json(gj)
        .map_err(|e| TestCaseError::fail(format!("generated grant refused: {e}")))?;
    let minted = mint(
        key(),
        MintRequest {
            // A named human: offline (no verification) it is recorded as `unverified`.
            human: Some("alice".into()),
            verification,
            human_attrs: human_attrs.clone(),
            ..MintRequest::offline(g.clone())
        },
        NOW,
        &mut OsRng,
    )
    .map_err(|e| TestCaseError::fail(format!("mint failed: {e}")))?;
    let token = minted.token;

    // The grant as the authority block holds it: the lifetime resolved as mint does.
    let mut resolved = g;
    resolve_lifetime(&mut resolved, NOW, Some(DEFAULT_TTL)).unwrap();
    let verified_at = verification.map_or(NOW, |v| v.at);
    let ctx = CompileContext {
        human_verified_at: Some(verified_at),
    };
    let (_, roles) = compile(&resolved, ctx).unwrap();
    // The verifier recognises the block by its structure and decompiles it to this grant.
    let blocks = read_blocks(&token.to_vec().unwrap()).unwrap();
    let lifted = lift(&blocks);
    prop_assert!(lifted.is_some(), "not recognised: {}", token.print());
    let lifted = lifted.unwrap();
    prop_assert_eq!(&lifted.blocks[0].roles, &roles);
    prop_assert_eq!(&lifted.blocks[0].grant(), &resolved);
    let human = HumanFacts {
        method: verification.map_or(UNVERIFIED.to_owned(), |v| v.method.as_str().to_owned()),
        verified_at,
        attrs: human_attrs
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
            .collect(),
    };
    // The token's own authority facts say the same.
    let facts = AuthorityFacts::from_facts(&blocks[0].facts);
    prop_assert_eq!(
        facts.verification.clone(),
        Some((human.method.clone(), verified_at))
    );
    prop_assert_eq!(&facts.human_attrs, &human.attrs);
    prop_assert_eq!(Some(minted.expires_at), resolved.expires_at);

    let mut outcomes = Outcomes::default();
    for req in requests {
        let failures = evaluate(&resolved, Some(&human), req);
        // The lifted block keeps its grant's times apart from the shared timeless grant:
        // evaluating the two is evaluating the whole grant, failure for failure.
        prop_assert_eq!(&lifted.blocks[0].evaluate(Some(&human), req), &failures);
        outcomes.fail_closed += usize::from(failures.iter().any(|f| {
            matches!(
                f,
                Failure::DeniedByRule {
                    unevaluated: Some(_),
                    ..
                }
            )
        }));
        let native: Vec<CheckRole> = failures.iter().map(Failure::role).collect();
        let biscuit: Vec<CheckRole> = failed_authority_checks(&token, req)
            .into_iter()
            .map(|i| roles[i].clone())
            .collect();
        prop_assert_eq!(
            &biscuit,
            &native,
            "grant {} request {:?} human {:?}",
            gj,
            req,
            human
        );
        outcomes.allowed += usize::from(native.is_empty());
    }
    Ok(outcomes)
}

/// How many requests of a case were allowed, and how many denied by a deny rule that
/// fired because an attribute was missing or mistyped (fail closed).
#[derive(Debug, Default)]
struct Outcomes {
    allowed: usize,
    fail_closed: usize,
}

/// Random requests plus requests aimed at the grant's own rules.
fn with_near(gj: &J, mut random: Vec<RequestFacts>, seeds: &[u64]) -> Vec<RequestFacts> {
    let g = Grant::from_json(gj).unwrap();
    random.extend(seeds.iter().map(|s| gen::near_request(&g, *s)));
    random
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn native_evaluation_matches_biscuit(
        gj in gen::grant(true),
        verification in gen::verification(),
        human_attrs in gen::human_attrs(),
        random in proptest::collection::vec(gen::request(), 4),
        seeds in proptest::collection::vec(any::<u64>(), 6),
    ) {
        run_case(&gj, verification, &human_attrs, &with_near(&gj, random, &seeds))?;
    }
}

/// The property above is only worth something if both outcomes occur often.
#[test]
fn differential_cases_cover_both_outcomes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (
        gen::grant(true),
        gen::verification(),
        gen::human_attrs(),
        proptest::collection::vec(gen::request(), 4),
        proptest::collection::vec(any::<u64>(), 6),
    );
    let mut allowed = 0;
    let mut fail_closed = 0;
    let mut total = 0;
    for _ in 0..40 {
        let (gj, v, h, random, seeds) = strategy.new_tree(&mut runner).unwrap().current();
        let reqs = with_near(&gj, random, &seeds);
        let o = run_case(&gj, v, &h, &reqs).unwrap();
        allowed += o.allowed;
        fail_closed += o.fail_closed;
        total += reqs.len();
    }
    // Deny rules firing on a missing or mistyped attribute are compared too.
    assert!(
        fail_closed * 50 >= total,
        "only {fail_closed} of {total} requests met a deny rule failing closed"
    );
    assert!(
        allowed * 10 >= total,
        "only {allowed} of {total} random requests were allowed"
    );
    assert!(allowed < total, "every random request was allowed");
}
