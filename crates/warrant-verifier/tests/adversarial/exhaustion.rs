//! Resource exhaustion: every hostile block is refused unevaluated (`over_budget`) or
//! decided quickly, within [`crate::TIME_BOUND`] per verification. The process surviving
//! the suite is the memory assertion.

use std::fmt::Write as _;

use biscuit_auth::builder::{Check, CheckKind, Expression, Op, Predicate, Rule, Term, Unary};
use serde_json::json;
use warrant_verifier::{Decision, DenialKind, Request, Verifier};

use crate::{
    append_block, append_plain, attack, bearer, bearer_verifier, denied, run_table, timed, NOW,
    TIME_BOUND,
};

fn base() -> String {
    bearer(&json!({"allow": [{"resources": ["**"], "actions": ["*"]}]}))
}

fn v() -> Verifier {
    bearer_verifier()
}

fn req() -> Request {
    Request::new("tickets/1", "read", NOW)
}

fn array(n: usize) -> String {
    let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!("[{}]", items.join(", "))
}

fn facts(name: &str, n: usize) -> String {
    (0..n).fold(String::new(), |mut s, i| {
        let _ = write!(s, "{name}({i}); ");
        s
    })
}

const OUT: &str = "is outside the evaluation budget";

#[test]
fn closures_over_big_arrays_are_refused() {
    let t = base();
    let a = array(400);
    let words: Vec<String> = (0..200).map(|i| format!("\"word{i}\"")).collect();
    let w = format!("[{}]", words.join(", "));
    run_table(
        &v(),
        vec![
            attack(
                "two nested closures over 400-element arrays",
                append_plain(
                    &t,
                    &format!("check if {a}.any($x -> {a}.any($y -> $x + $y == -1));"),
                ),
                req(),
                DenialKind::OverBudget,
                &["block 1", OUT, "cost"],
            )
            .block(1),
            attack(
                "three nested closures",
                append_plain(
                    &t,
                    &format!("check if {a}.any($x -> {a}.any($y -> {a}.any($z -> $x == $z)));"),
                ),
                req(),
                DenialKind::OverBudget,
                &["nests closures 3 deep, more than the 2 allowed"],
            )
            .block(1),
            attack(
                "string concatenation growth in nested closures",
                append_plain(
                    &t,
                    &format!("check if {w}.any($x -> {w}.any($y -> ($x + $y + $x).length() < 0));"),
                ),
                req(),
                DenialKind::OverBudget,
                &[OUT, "cost"],
            )
            .block(1),
        ],
    );
}

#[test]
fn joins_over_many_facts_are_refused() {
    let t = base();
    run_table(
        &v(),
        vec![
            attack(
                "3-way join over 300 facts",
                append_plain(
                    &t,
                    &format!("{} check if big($a), big($b), big($c), $a + $b == $c;", facts("big", 300)),
                ),
                req(),
                DenialKind::OverBudget,
                &["check 0 could bind 27000000 combinations of facts, more than the 10000 allowed"],
            )
            .block(1),
            attack(
                "3-way join over the request's attributes",
                append_plain(&t, "check if attr($a, $x), attr($b, $y), attr($c, $z), $x == $y;"),
                req(),
                DenialKind::OverBudget,
                &["262144 combinations"],
            )
            .block(1),
            attack(
                "a body of 9 predicates",
                append_plain(
                    &t,
                    "check if a($a), b($b), c($c), d($d), e($e), f($f), g($g), h($h), i($i);",
                ),
                req(),
                DenialKind::OverBudget,
                &["has 9 predicates, more than the 8 allowed"],
            )
            .block(1),
        ],
    );
}

#[test]
fn rules_copying_big_byte_strings_are_refused_before_evaluation() {
    let t = base();
    let bytes = "ab".repeat(2000);
    let copy = append_plain(
        &t,
        &format!(
            "{} {} blob(hex:{bytes}); copy($a, $b, $x) <- n($a), m($b), blob($x);",
            facts("n", 200),
            facts("m", 200)
        ),
    );
    let (d, _) = timed(&v(), &copy, &req());
    // `over_budget` (not a Biscuit run limit): refused before any evaluation.
    let den = denied(
        &d,
        DenialKind::OverBudget,
        &["rule 0 could bind 40000 combinations"],
    );
    assert_eq!(den.block, Some(1));
    let chained = append_plain(
        &t,
        &format!(
            "{} blob(hex:{bytes}); copy($a, $x) <- n($a), blob($x); copy2($a, $b, $x) <- copy($a, $x), n($b);",
            facts("n", 40)
        ),
    );
    let (d, _) = timed(&v(), &chained, &req());
    denied(&d, DenialKind::OverBudget, &[OUT]);
    let huge = append_plain(&t, &format!("blob(hex:{});", "ab".repeat(5000)));
    let (d, _) = timed(&v(), &huge, &req());
    denied(
        &d,
        DenialKind::OverBudget,
        &["a term of size 5000 is larger than the 4096 allowed"],
    );
}

#[test]
fn recursive_rules_are_refused() {
    let t = base();
    run_table(
        &v(),
        vec![
            attack(
                "transitive closure",
                append_plain(
                    &t,
                    "edge(1, 2); path($a, $b) <- edge($a, $b); path($a, $c) <- path($a, $b), edge($b, $c);",
                ),
                req(),
                DenialKind::OverBudget,
                &["rule 1 is recursive"],
            ),
            attack(
                "self-recursive rule",
                append_plain(&t, "p(1); p($x) <- p($x);"),
                req(),
                DenialKind::OverBudget,
                &["rule 0 is recursive"],
            ),
            attack(
                "counter rule generating integers",
                append_plain(&t, "n(0); succ(0, 1); succ(1, 2); n($y) <- n($x), succ($x, $y);"),
                req(),
                DenialKind::OverBudget,
                &["is recursive"],
            ),
            attack(
                "mutual recursion",
                append_plain(&t, "a(1); b($x) <- a($x), c($x); c($x) <- b($x);"),
                req(),
                DenialKind::OverBudget,
                &["is recursive"],
            ),
        ],
    );
}

#[test]
fn hostile_and_many_regexes_are_refused_or_fast() {
    let t = base();
    let many: String = (0..40)
        .map(|i| format!("check if resource($r), $r.matches(\"^x{i}$\");"))
        .collect();
    run_table(
        &v(),
        vec![
            attack(
                "40 regexes",
                append_plain(&t, &many),
                req(),
                DenialKind::OverBudget,
                &["more than the 32 regexes allowed"],
            ),
            attack(
                "huge counted repetition",
                append_plain(
                    &t,
                    "check if resource($r), $r.matches(\"(((a{100}){100}){100})\");",
                ),
                req(),
                DenialKind::OverBudget,
                &["does not compile within 65536 bytes"],
            ),
            attack(
                "a regex read from a fact",
                append_plain(
                    &t,
                    "pat(\"^(a+)+$\"); check if resource($r), pat($p), $r.matches($p);",
                ),
                req(),
                DenialKind::OverBudget,
                &["matches a regex that is not a string literal"],
            ),
            attack(
                "a 1100-byte regex",
                append_plain(
                    &t,
                    &format!(
                        "check if resource($r), $r.matches(\"{}\");",
                        "a".repeat(1100)
                    ),
                ),
                req(),
                DenialKind::OverBudget,
                &["regex of 1100 bytes, more than the 1024 allowed"],
            ),
        ],
    );
    // Catastrophic backtracking in other engines: linear here, and decided fast.
    let hostile = append_plain(&t, "check if resource($r), $r.matches(\"^(a+)+$\");");
    let long = format!("{}!", "a".repeat(500));
    let (d, _) = timed(&v(), &hostile, &Request::new(long.as_str(), "read", NOW));
    denied(&d, DenialKind::CheckFailed, &["block 1", "matches"]);
    let (d, _) = timed(&v(), &hostile, &Request::new("a".repeat(512), "read", NOW));
    assert!(d.is_allowed(), "{d:?}");
}

#[test]
fn deep_and_long_expressions_are_refused() {
    let t = base();
    // 10 000 nested negations, built as Biscuit's flat op list (no parser involved).
    let mut ops = vec![Op::Value(Term::Bool(true))];
    ops.extend((0..10_000).map(|_| Op::Unary(Unary::Negate)));
    let check = Check {
        queries: vec![Rule::new(
            Predicate::new("query".to_owned(), Vec::<Term>::new()),
            vec![],
            vec![Expression { ops }],
            vec![],
        )],
        kind: CheckKind::One,
    };
    let deep = append_block(&t, biscuit_auth::BlockBuilder::new().check(check).unwrap());
    let long = (0..200)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" + ");
    let strings: Vec<String> = (0..5)
        .map(|i| format!("\"{}\"", "s".repeat(4000 + i)))
        .collect();
    run_table(
        &v(),
        vec![
            attack(
                "10 000 nested negations",
                deep,
                req(),
                DenialKind::OverBudget,
                &["ops, more than the 256 allowed"],
            )
            .block(1),
            attack(
                "an expression of 401 ops",
                append_plain(&t, &format!("check if {long} > 0;")),
                req(),
                DenialKind::OverBudget,
                &["an expression of 401 ops, more than the 256 allowed"],
            ),
            attack(
                "concatenating five 4 KB strings",
                append_plain(&t, &format!("check if {} == \"x\";", strings.join(" + "))),
                req(),
                DenialKind::OverBudget,
                &["whose values could reach"],
            ),
        ],
    );
}

#[test]
fn too_many_facts_rules_checks_are_refused() {
    let t = base();
    let rules: String = (0..40).map(|i| format!("r{i}($x) <- a($x);")).collect();
    let checks: String = (0..130).map(|_| "check if true;".to_owned()).collect();
    run_table(
        &v(),
        vec![
            attack(
                "600 facts",
                append_plain(&t, &facts("f", 600)),
                req(),
                DenialKind::OverBudget,
                &["facts, more than the 512 allowed"],
            ),
            attack(
                "40 rules",
                append_plain(&t, &rules),
                req(),
                DenialKind::OverBudget,
                &["the token has 40 rules, more than the 32 allowed"],
            ),
            attack(
                "130 checks",
                append_plain(&t, &checks),
                req(),
                DenialKind::OverBudget,
                &["check bodies, more than the 128 allowed"],
            ),
        ],
    );
}

#[test]
fn a_64_kib_token_of_facts_is_refused_or_fast() {
    let t = base();
    // Over the size limit: refused before parsing.
    let facts_of = |n: usize, size: usize| -> String {
        (0..n).fold(String::new(), |mut s, i| {
            // Distinct strings: Biscuit interns equal ones.
            let _ = write!(s, "f{i}(\"{i:04}{}\"); ", "x".repeat(size - 4));
            s
        })
    };
    let over = append_plain(&t, &facts_of(20, 4000));
    let (d, _) = timed(&v(), &over, &req());
    denied(&d, DenialKind::Malformed, &["more than the 65536 allowed"]);
    // Just under: every term within bounds, decided quickly either way.
    let under = append_plain(&t, &facts_of(15, 4000));
    assert!(crate::token_bytes(&under).len() > 60_000);
    let (d, _) = timed(&v(), &under, &req());
    check_fast_outcome(&d);
    // Many small facts in one block, with a join over them: refused.
    let small = append_plain(
        &t,
        &format!("{} check if g($a), g($b), $a == $b;", facts("g", 500)),
    );
    let (d, _) = timed(&v(), &small, &req());
    denied(&d, DenialKind::OverBudget, &[OUT]);
}

/// An outcome that is a quick allow or a budget refusal, nothing else.
fn check_fast_outcome(d: &Decision) {
    if let Some(den) = d.denial() {
        assert_eq!(den.kind, DenialKind::OverBudget, "{den:?}");
    }
}

#[test]
fn many_blocks_are_refused_or_fast() {
    let t = base();
    // 200 plain blocks: refused from the token's outer structure, before any of its
    // signatures is checked (Biscuit's verification grows faster than linearly with
    // blocks: 150 blocks took 1.7 s in a debug build before the limit).
    let mut many = t.clone();
    for _ in 0..200 {
        many = append_plain(&many, "check if 1 == 1;");
    }
    let (d, took) = timed(&v(), &many, &req());
    denied(
        &d,
        DenialKind::Malformed,
        &["the token has 201 blocks, more than the 32 a verifier accepts"],
    );
    assert!(took < TIME_BOUND, "{took:?}");
    // One block over the limit is refused too; at the limit, 31 appended blocks in the
    // profile (evaluated natively) are decided within the bound.
    let mut profile = t;
    for _ in 0..31 {
        profile = append_plain(&profile, "check if action(\"read\");");
    }
    let (d, took) = timed(&v(), &profile, &req());
    assert!(d.is_allowed(), "{d:?}");
    assert!(took < TIME_BOUND, "{took:?}");
    let over = append_plain(&profile, "check if action(\"read\");");
    let (d, _) = timed(&v(), &over, &req());
    denied(&d, DenialKind::Malformed, &["33 blocks, more than the 32"]);
    let (d, _) = timed(&v(), &profile, &Request::new("tickets/1", "update", NOW));
    denied(&d, DenialKind::RuleNotMatched, &["block 1"]);
}
