use super::*;
use crate::blocks::{read_blocks, BlockData};
use crate::decompile::{lift, lift_with, Lifted};
use crate::grant::Method;
use crate::keys::{KeyId, SigningKey};
use crate::token::{attenuate, decode_unverified, mint, MintRequest, Verification};
use biscuit_auth::builder::Term;

const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

const GRANTS: [&str; 5] = [
    r#"{"audience": ["api"], "allow": [{"resources": ["a/*"], "actions": ["read", "write"],
        "when": [{"attr": "n", "in": [1, 2]}]}], "deny": [{"resources": ["a/x"], "actions": ["*"]}]}"#,
    r#"{"audience": ["support-api", "billing"], "not_before": "2026-11-30T09:00:00Z",
        "allow": [{"resources": ["orders/*", "b/**"], "actions": ["*"],
           "when": [{"attr": "amount", "lt": 5000}, {"attr": "placed", "within": "24h"}],
           "human": {"methods": ["passkey", "oidc"], "max_age": "5m", "attrs": {"kyc": true}}}],
        "deny": [{"resources": ["**"], "actions": ["*"], "when": [{"attr": "amount", "ge": 10000}]}]}"#,
    r#"{"allow": [{"resources": ["**"], "actions": ["*"]}]}"#,
    r#"{"allow": [{"resources": ["a"], "actions": ["read"], "human": {}}]}"#,
    r#"{"allow": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "x", "eq": {"date": "2026-01-01T00:00:00Z"}}]}]}"#,
];

/// The blocks of a token minted at `at` (verified by a human at `verified`) with
/// `grant`, attenuated once with the same grant.
fn blocks(grant: &str, at: Timestamp, verified: Timestamp) -> Vec<BlockData> {
    let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
    let mut req = MintRequest::offline(Grant::from_json_str(grant).unwrap());
    req.human = Some("alice".into());
    req.verification = Some(Verification {
        method: Method::Passkey,
        at: verified,
    });
    let token = mint(&key, req, at, &mut rand_core::OsRng).unwrap().token;
    let token = decode_unverified(&token.to_base64().unwrap()).unwrap();
    let mut narrower = Grant::from_json_str(grant).unwrap();
    narrower.allow.iter_mut().for_each(|r| r.human = None);
    narrower.audience.clear();
    let token = attenuate(&token, narrower, at, &mut rand_core::OsRng).unwrap();
    read_blocks(&token.to_vec().unwrap()).unwrap()
}

/// A memo where every key hashes alike: only the exact comparison of a hit tells blocks
/// apart.
fn colliding() -> GrantMemo {
    GrantMemo {
        collide: true,
        ..GrantMemo::default()
    }
}

fn lifted(blocks: &[BlockData], memo: &GrantMemo) -> Option<Lifted> {
    let out = lift_with(blocks, Some(memo));
    assert_eq!(out, lift(blocks), "the memo changed what was recognised");
    out
}

#[test]
fn a_grant_seen_before_is_recognised_from_the_memo_as_it_would_be_afresh() {
    let memo = GrantMemo::default();
    for grant in GRANTS {
        let first = blocks(grant, NOW, NOW);
        assert!(lifted(&first, &memo).is_some(), "{grant}");
        let remembered = memo.len();
        // Another token with the same grant, minted later (other expiry, other ids):
        // recognised from the memo, and the same as recognising it afresh.
        let later = NOW.plus(crate::time::Span::from_seconds(90));
        let second = blocks(grant, later, NOW);
        let hits = memo.hits();
        let l = lifted(&second, &memo).expect("recognised");
        assert_eq!(memo.len(), remembered, "nothing new to remember: {grant}");
        assert_eq!(memo.hits(), hits + 2, "both blocks from the memo: {grant}");
        assert_ne!(
            l.blocks[0].expires_at(),
            lift(&first).unwrap().blocks[0].expires_at()
        );
        // Another human verification time: the same grant unless a check holds a date
        // measured from it (a `max_age`).
        let other_human = blocks(grant, later, later);
        assert!(lifted(&other_human, &memo).is_some());
    }
}

/// Every term of every check, in order, with a path to put a new term there.
fn term_paths(checks: &[Check]) -> Vec<(usize, usize, usize, usize)> {
    let mut out = Vec::new();
    for (c, check) in checks.iter().enumerate() {
        for (q, query) in check.queries.iter().enumerate() {
            for (e, expr) in query.expressions.iter().enumerate() {
                for (o, op) in expr.ops.iter().enumerate() {
                    if matches!(op, DOp::Value(_)) {
                        out.push((c, q, e, o));
                    }
                }
            }
        }
    }
    out
}

fn replace(checks: &mut [Check], (c, q, e, o): (usize, usize, usize, usize), t: Term) {
    checks[c].queries[q].expressions[e].ops[o] = DOp::Value(t);
}

#[test]
fn blocks_differing_in_any_check_are_never_confused() {
    for grant in GRANTS {
        let memo = colliding();
        let original = blocks(grant, NOW, NOW);
        assert!(lifted(&original, &memo).is_some());
        let paths = term_paths(&original[0].checks);
        for (i, path) in paths.into_iter().enumerate() {
            for t in [
                Term::Integer(7),
                Term::Str(format!("changed{i}")),
                Term::Date(12),
                Term::Variable("z".into()),
                Term::Bool(true),
            ] {
                let mut changed = original.clone();
                replace(&mut changed[0].checks, path, t);
                // Whatever the memo holds, the changed block is recognised as it
                // would be afresh (mostly not at all).
                let _ = lifted(&changed, &memo);
                let _ = lifted(&original, &memo);
            }
        }
        // Checks reordered, dropped or duplicated.
        let n = original[0].checks.len();
        for i in 0..n {
            let mut changed = original.clone();
            changed[0].checks.remove(i);
            let _ = lifted(&changed, &memo);
            let mut changed = original.clone();
            let c = changed[0].checks[i].clone();
            changed[0].checks.push(c);
            let _ = lifted(&changed, &memo);
            let mut changed = original.clone();
            changed[0].checks.swap(i, n - 1);
            let _ = lifted(&changed, &memo);
            let mut changed = original.clone();
            changed[0].checks[i].kind = CheckKind::All;
            let _ = lifted(&changed, &memo);
        }
    }
}

#[test]
fn a_max_age_is_measured_from_each_tokens_human_verification() {
    let memo = colliding();
    // The authority block alone: the memo's one slot holds its checks.
    let first = blocks(GRANTS[1], NOW, NOW)[..1].to_vec();
    let a = lifted(&first, &memo).unwrap();
    // Same checks byte for byte, but a human verified a minute earlier: the same
    // deadline is a longer `max_age`, never the one remembered.
    let earlier = Timestamp::from_unix(NOW.unix() - 60);
    let mut second = first.clone();
    let mut facts = crate::authority::AuthorityFacts::from_facts(&second[0].facts);
    facts.verification = Some(("passkey".into(), earlier));
    second[0].facts = facts.to_facts().unwrap();
    let hits = memo.hits();
    let b = lifted(&second, &memo).unwrap();
    assert_eq!(
        memo.hits(),
        hits,
        "another verification time is another key"
    );
    let max_age = |l: &Lifted| {
        l.blocks[0].timeless().allow[0]
            .human
            .as_ref()
            .unwrap()
            .max_age
    };
    assert_ne!(max_age(&a), max_age(&b));
}

#[test]
fn a_full_memo_forgets_and_a_zero_memo_remembers_nothing() {
    let memo = GrantMemo::new(2);
    for grant in GRANTS {
        assert!(lifted(&blocks(grant, NOW, NOW), &memo).is_some());
        assert!(memo.len() <= 2);
    }
    let none = GrantMemo::new(0);
    assert!(lifted(&blocks(GRANTS[0], NOW, NOW), &none).is_some());
    assert!(none.is_empty());
}

#[test]
fn check_texts_are_the_blocks_own() {
    let b = blocks(GRANTS[1], NOW, NOW);
    let l = lift(&b).unwrap();
    for (block, lb) in b.iter().zip(&l.blocks) {
        for (i, c) in block.checks.iter().enumerate() {
            assert_eq!(lb.check_text(i), Some(c.to_string()));
        }
        assert_eq!(lb.check_text(block.checks.len()), None);
        let all: Vec<String> = block.checks.iter().map(ToString::to_string).collect();
        assert_eq!(lb.check_texts(), all);
    }
}

#[test]
fn tokens_of_one_grant_share_its_copy_and_keep_their_own_times() {
    for grant in GRANTS {
        let memo = GrantMemo::default();
        let first = lifted(&blocks(grant, NOW, NOW), &memo).unwrap();
        // Minted later: other expiry, the same grant otherwise.
        let later = NOW.plus(crate::time::Span::from_seconds(90));
        let second = lifted(&blocks(grant, later, NOW), &memo).unwrap();
        for (a, b) in first.blocks.iter().zip(&second.blocks) {
            assert!(
                Arc::ptr_eq(a.timeless(), b.timeless()),
                "one copy of the grant: {grant}"
            );
            assert!(a.timeless().expires_at.is_none() && a.timeless().not_before.is_none());
        }
        // Each keeps its own expiry, as recognising it afresh does.
        let fresh = lift(&blocks(grant, later, NOW)).unwrap();
        assert_eq!(second.blocks[0].expires_at(), fresh.blocks[0].expires_at());
        assert_ne!(first.blocks[0].expires_at(), second.blocks[0].expires_at());
        assert_eq!(
            second.blocks[0].grant().expires_at,
            second.blocks[0].expires_at()
        );
        // Without a memo nothing is shared.
        let alone = lift(&blocks(grant, later, NOW)).unwrap();
        assert!(!Arc::ptr_eq(
            alone.blocks[0].timeless(),
            fresh.blocks[0].timeless()
        ));
    }
}

/// `time_check` as it was: the check compared with the compilation of a grant with only
/// that time.
fn time_check_oracle(check: &Check, op: Binary) -> Option<Timestamp> {
    let [q] = check.queries.as_slice() else {
        return None;
    };
    let [e] = q.expressions.as_slice() else {
        return None;
    };
    let [_, DOp::Value(Term::Date(d)), DOp::Binary(o)] = e.ops.as_slice() else {
        return None;
    };
    if *o != op {
        return None;
    }
    let at = Timestamp::from_unix(*d);
    let grant = Grant {
        expires_at: (op == Binary::LessOrEqual).then_some(at),
        not_before: (op == Binary::GreaterOrEqual).then_some(at),
        ..Grant::default()
    };
    let compiled = crate::compile::compile_checks(&grant, CompileContext::default()).ok()?;
    (compiled.checks.as_slice() == std::slice::from_ref(check)).then_some(at)
}

/// A compiled time check with one change (or none).
fn edited_time_check(d: u64, expiry: bool, edit: u8, other: u64) -> Check {
    use biscuit_auth::builder::{Expression, Predicate, Scope};
    let op = if expiry {
        Binary::LessOrEqual
    } else {
        Binary::GreaterOrEqual
    };
    let mut check = crate::compile::time_check(Timestamp::from_unix(d), op);
    let q = &mut check.queries[0];
    match edit {
        0 => {}
        1 => q.expressions[0].ops[0] = DOp::Value(Term::Variable("u".into())),
        2 => q.body[0].name = "tim".into(),
        3 => q.body[0].terms[0] = Term::Str("t".into()),
        4 => q.head.name = "q".into(),
        5 => q.scopes.push(Scope::Authority),
        6 => check.kind = CheckKind::All,
        7 => q.expressions[0].ops[1] = DOp::Value(Term::Integer(0)),
        8 => q.expressions.push(Expression {
            ops: vec![DOp::Value(Term::Bool(true))],
        }),
        9 => q.parameters = Some(std::collections::HashMap::new()),
        10 => q.expressions[0].ops[2] = DOp::Binary(Binary::LessThan),
        11 => q.expressions[0].ops[1] = DOp::Value(Term::Date(other)),
        12 => q.body.push(Predicate::new(
            "time".into(),
            vec![Term::Variable("t".into())],
        )),
        13 => check.queries.push(check.queries[0].clone()),
        14 => q.scope_parameters = Some(std::collections::HashMap::new()),
        _ => q.expressions[0]
            .ops
            .insert(0, DOp::Value(Term::Variable("t".into()))),
    }
    check
}

proptest::proptest! {
    /// A leading check is read as a time exactly when it is the compiled check of that
    /// time, as comparing it with the compilation of a grant of that time says.
    #[test]
    fn time_checks_are_read_as_compiled(
        d in proptest::prelude::any::<u64>(),
        expiry in proptest::prelude::any::<bool>(),
        edit in 0u8..16,
        other in proptest::prelude::any::<u64>(),
    ) {
        let check = edited_time_check(d, expiry, edit, other);
        for op in [Binary::LessOrEqual, Binary::GreaterOrEqual, Binary::LessThan] {
            proptest::prop_assert_eq!(time_check(&check, op.clone()), time_check_oracle(&check, op));
        }
    }
}
