use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit, BlockBuilder};

use super::*;
use crate::blocks::read_blocks;
use crate::grant::Grant;
use crate::keys::{KeyId, SigningKey};
use crate::request::RequestFacts;
use crate::time::Timestamp;
use crate::token::{mint, MintRequest};
use crate::value::Value;

const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

/// A warrant authority block: audience, expiry, allow and deny rules with conditions.
fn minted() -> &'static Biscuit {
    static T: OnceLock<Biscuit> = OnceLock::new();
    T.get_or_init(|| {
        let key = SigningKey::from_secret_bytes(&[3u8; 32], Some(KeyId(1))).unwrap();
        let grant = Grant::from_json_str(
            r#"{ "audience": ["support-api", "billing"], "ttl": "10m",
              "allow": [
                { "resources": ["tickets/123/customer_name", "tickets/123/email_address"],
                  "actions": ["read"], "when": [ { "attr": "ticket.status", "eq": "open" } ] },
                { "resources": ["orders/*/order_status"], "actions": ["update", "read"],
                  "when": [ { "attr": "order.placed_at", "within": "24h" } ] },
                { "resources": ["orders/*"], "actions": ["refund"],
                  "when": [ { "attr": "amount", "lt": 5000 }, { "attr": "reason", "present": true } ] }
              ],
              "deny": [ { "resources": ["customers/*/payment_card"], "actions": ["*"] } ] }"#,
        )
        .unwrap();
        mint(&key, MintRequest::offline(grant), NOW, &mut rand_core::OsRng)
            .unwrap()
            .token
    })
}

fn with_block(code: &str) -> Biscuit {
    minted()
        .append(BlockBuilder::new().code(code).unwrap())
        .unwrap()
}

fn blocks(token: &Biscuit) -> Vec<BlockData> {
    read_blocks(&token.to_vec().unwrap()).unwrap()
}

fn budget_of(code: &str) -> Result<Cost, BudgetError> {
    check(&blocks(&with_block(code)), &Budget::DEFAULT)
}

fn refused(code: &str, needle: &str) -> BudgetError {
    let e = budget_of(code).expect_err("refused");
    assert_eq!(e.block, 1, "{e}");
    assert!(e.reason.contains(needle), "{e} does not mention {needle:?}");
    assert!(!e.reason.contains('\n'));
    e
}

fn request() -> RequestFacts {
    let mut r = RequestFacts::new("tickets/123/email_address", "read", NOW);
    r.audience = Some("support-api".to_owned());
    r.attrs
        .insert("ticket.status".to_owned(), Value::String("open".to_owned()));
    r.attrs
        .insert("order.placed_at".to_owned(), Value::Date(NOW));
    r
}

/// Biscuit's evaluation of `token` as the verifier runs it, with generous limits: the
/// time it took.
fn evaluate(token: &Biscuit) -> Duration {
    let (src, params) = request().datalog();
    let start = Instant::now();
    let authorizer = AuthorizerBuilder::new()
        .set_limits(AuthorizerLimits {
            max_facts: 100_000,
            max_iterations: 100,
            max_time: Duration::from_secs(60),
        })
        .code_with_params(&src, params, HashMap::new())
        .unwrap()
        .policy("allow if true")
        .unwrap()
        .build(token);
    if let Ok(mut a) = authorizer {
        let _ = a.authorize();
    }
    start.elapsed()
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

#[test]
fn warrant_tokens_and_plain_attenuations_are_accepted() {
    let authority = check(&blocks(minted()), &Budget::DEFAULT).unwrap();
    assert!(authority.total > 0);
    for code in [
        "check if action(\"read\");",
        "check if time($t), $t <= 2030-01-01T00:00:00Z;",
        "check if resource($r), $r.starts_with(\"tickets/\");",
        "check if operation(\"read\");",
        "right(\"file1\", \"read\"); right(\"file2\", \"write\"); owner(\"alice\", \"file1\");
         check if right($f, \"read\"), owner(\"alice\", $f);",
        "check if resource($r), $r.matches(\"^tickets/[0-9]+/[a-z_]+$\");",
        "check if attr(\"ticket.status\", $s), [\"open\", \"pending\"].contains($s);",
        "check if [1, 2, 3].any($x -> $x > 2);",
        "can(\"read\"); can_do($a) <- can($a); check if action($a), can_do($a);",
    ] {
        let cost = budget_of(code).unwrap_or_else(|e| panic!("{code}: {e}"));
        assert!(cost.total >= authority.total, "{code}");
    }
}

#[test]
fn nested_closures_over_large_arrays_are_refused() {
    let a = array(400);
    refused(
        &format!("check if {a}.any($x -> {a}.any($y -> $x + $y == -1));"),
        "cost",
    );
    refused(
        &format!("check if {a}.any($x -> {a}.any($y -> {a}.any($z -> $x == $z)));"),
        "nests closures 3 deep, more than the 2 allowed",
    );
}

#[test]
fn joins_over_many_facts_are_refused() {
    let e = refused(
        &format!(
            "{} check if big($a), big($b), big($c), $a + $b == $c;",
            facts("big", 300)
        ),
        "check 0 could bind 27000000 combinations of facts, more than the 10000 allowed",
    );
    assert_eq!(
        e.to_string(),
        "block 1 is outside the evaluation budget: check 0 could bind 27000000 combinations \
         of facts, more than the 10000 allowed"
    );
    // Request attributes count: every unnamed `attr` is MAX_REQUEST_ATTRS facts.
    refused(
        "check if attr($a, $x), attr($b, $y), attr($c, $z), $x == $y;",
        "262144 combinations",
    );
}

/// Biscuit's default scope hides a block's facts (and the facts its rules derive) from
/// the checks of other blocks but the authority's: a third-party block's facts do not
/// multiply the authority block's checks. A `trusting` scope widens what is counted.
#[test]
fn facts_count_only_where_biscuit_lets_them_be_read() {
    let join = "check if big($a), big($b), $a + $b == 1;";
    let token = with_block(&facts("big", 150));
    let later = |code: &str| {
        token
            .append(BlockBuilder::new().code(code).unwrap())
            .unwrap()
    };
    let default_scope = check(&blocks(&later(join)), &Budget::DEFAULT).unwrap();
    assert_eq!(default_scope.max_combinations, 1);
    let e = check(
        &blocks(&later(
            "check if big($a), big($b), $a + $b == 1 trusting previous;",
        )),
        &Budget::DEFAULT,
    )
    .unwrap_err();
    assert_eq!(e.block, 2, "{e}");
    assert!(e.reason.contains("22500 combinations"), "{e}");
    // A block-level scope, and facts derived by a rule of the hidden block.
    let scoped = token
        .append(
            BlockBuilder::new()
                .code(join)
                .unwrap()
                .scope(biscuit_auth::builder::Scope::Previous),
        )
        .unwrap();
    assert!(check(&blocks(&scoped), &Budget::DEFAULT).is_err());
    let derived = with_block(&format!("{} huge($x) <- big($x);", facts("big", 150)))
        .append(
            BlockBuilder::new()
                .code("check if huge($a), huge($b), $a + $b == 1;")
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        check(&blocks(&derived), &Budget::DEFAULT)
            .unwrap()
            .max_combinations,
        150
    );
    // Biscuit agrees: the check in the later block sees none of the facts.
    let d = evaluate(&later(join));
    assert!(d < Duration::from_secs(1), "{d:?}");
}

#[test]
fn rules_copying_bytes_into_many_facts_are_refused() {
    let bytes = "ab".repeat(2000);
    refused(
        &format!(
            "{} {} blob(hex:{bytes}); copy($a, $b, $x) <- n($a), m($b), blob($x);",
            facts("n", 200),
            facts("m", 200)
        ),
        "rule 0 could bind 40000 combinations",
    );
    refused(
        &format!(
            "{} blob(hex:{bytes}); copy($a, $x) <- n($a), blob($x); copy2($a, $b, $x) <- copy($a, $x), n($b);",
            facts("n", 40)
        ),
        "",
    );
    refused(
        &format!("blob(hex:{});", "ab".repeat(5000)),
        "a term of size 5000 is larger than the 4096 allowed",
    );
}

#[test]
fn recursive_rules_are_refused() {
    refused(
        "edge(1, 2); path($a, $b) <- edge($a, $b); path($a, $c) <- path($a, $b), edge($b, $c);",
        "rule 1 is recursive",
    );
    refused("p(1); p($x) <- p($x);", "rule 0 is recursive");
    refused(
        "a(1); b($x) <- a($x), c($x); c($x) <- b($x);",
        "is recursive",
    );
}

#[test]
fn hostile_regexes_are_refused() {
    refused(
        "check if resource($r), $r.matches(\"(((a{100}){100}){100})\");",
        "does not compile within 65536 bytes",
    );
    refused(
        "pat(\"^a+$\"); check if resource($r), pat($p), $r.matches($p);",
        "check 0 matches a regex that is not a string literal",
    );
    refused(
        &format!(
            "check if resource($r), $r.matches(\"{}\");",
            "a".repeat(1100)
        ),
        "regex of 1100 bytes, more than the 1024 allowed",
    );
    let many: String = (0..40)
        .map(|i| format!("check if resource($r), $r.matches(\"^x{i}$\");"))
        .collect();
    refused(&many, "more than the 32 regexes allowed");
}

#[test]
fn every_count_limit_is_enforced() {
    // The appended 600 facts and the minted authority block's own.
    let authority_facts = blocks(minted())[0].facts.len();
    refused(
        &facts("f", 600),
        &format!(
            "the token has {} facts, more than the 512 allowed",
            600 + authority_facts
        ),
    );
    let rules: String = (0..40).map(|i| format!("r{i}($x) <- a($x);")).collect();
    refused(&rules, "the token has 40 rules, more than the 32 allowed");
    let checks: String = (0..130).map(|_| "check if true;".to_owned()).collect();
    refused(&checks, "check bodies, more than the 128 allowed");
    refused(
        "check if a($a), b($b), c($c), d($d), e($e), f($f), g($g), h($h), i($i);",
        "check 0 has 9 predicates, more than the 8 allowed",
    );
    let long = (0..200)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" + ");
    refused(
        &format!("check if {long} > 0;"),
        "an expression of 401 ops, more than the 256 allowed",
    );
    let strings: Vec<String> = (0..5)
        .map(|i| format!("\"{}\"", "s".repeat(4000 + i)))
        .collect();
    refused(
        &format!("check if {} == \"x\";", strings.join(" + ")),
        "whose values could reach",
    );
}

#[test]
fn string_growth_is_refused() {
    let words: Vec<String> = (0..200).map(|i| format!("\"word{i}\"")).collect();
    let a = format!("[{}]", words.join(", "));
    refused(
        &format!("check if {a}.any($x -> {a}.any($y -> ($x + $y + $x).length() < 0));"),
        "cost",
    );
}

#[test]
fn refusing_is_cheap_and_attacks_are_slow() {
    // The attacks really are expensive for Biscuit (so the budget is needed), and the
    // budget's refusal itself is quick. Scaled down to stay fast in debug builds.
    let a = array(150);
    let token = with_block(&format!(
        "check if {a}.any($x -> {a}.any($y -> $x + $y == -1));"
    ));
    let start = Instant::now();
    assert!(check(&blocks(&token), &Budget::DEFAULT).is_err());
    let refusal = start.elapsed();
    let evaluation = evaluate(&token);
    assert!(
        evaluation > refusal * 5,
        "evaluation {evaluation:?}, refusal {refusal:?}"
    );
}

fn report(name: &str, token: &Biscuit, runs: usize) -> (u64, Duration) {
    let start = Instant::now();
    let cost = check(&blocks(token), &Budget::DEFAULT).map(|c| c.total);
    println!("{name:<40} budget check took {:?}", start.elapsed());
    let mut times: Vec<Duration> = (0..runs).map(|_| evaluate(token)).collect();
    times.sort();
    let t = times[times.len() / 2];
    println!("{name:<40} cost {cost:?} median {t:?}");
    (cost.unwrap_or(u64::MAX), t)
}

/// The largest `n` for which `make(n)` is accepted.
fn edge(make: &dyn Fn(usize) -> String, start: usize) -> Option<(usize, Biscuit)> {
    let mut n = start;
    let mut best = None;
    while n < 100_000 {
        let token = with_block(&make(n));
        if check(&blocks(&token), &Budget::DEFAULT).is_err() {
            break;
        }
        best = Some((n, token));
        n = n + n / 8 + 1;
    }
    best
}

/// A family of blocks growing with `n`, named.
type Family = (&'static str, Box<dyn Fn(usize) -> String>);

/// The families of blocks `calibrate` pushes to the edge of the budget.
fn calibration_families() -> Vec<Family> {
    vec![
        (
            "join of two",
            Box::new(|n| {
                format!(
                    "{} check if big($a), big($b), $a + $b == -1;",
                    facts("big", n)
                )
            }),
        ),
        (
            "join of three",
            Box::new(|n| {
                format!(
                    "{} check if big($a), big($b), big($c), $a + $b == $c + 1000000;",
                    facts("big", n)
                )
            }),
        ),
        (
            "join, many checks",
            Box::new(|n| {
                format!(
                    "{} {}",
                    facts("big", 60),
                    "check if big($a), big($b), $a + $b == -1;".repeat(n)
                )
            }),
        ),
        (
            "closure",
            Box::new(|n| format!("check if {}.any($x -> $x == -1);", array(n))),
        ),
        (
            "nested closures",
            Box::new(|n| {
                let a = array(n);
                format!("check if {a}.any($x -> {a}.any($y -> $x + $y == -1));")
            }),
        ),
        (
            "nested closures, many checks",
            Box::new(|n| {
                let a = array(20);
                format!("check if {a}.any($x -> {a}.any($y -> $x + $y == -1));").repeat(n)
            }),
        ),
        (
            "string concat in closures",
            Box::new(|n| {
                let w: Vec<String> = (0..n).map(|i| format!("\"w{i}\"")).collect();
                let a = format!("[{}]", w.join(","));
                format!("check if {a}.any($x -> {a}.any($y -> ($x + $y).length() < 0));")
            }),
        ),
        (
            "regexes",
            Box::new(|n| {
                (0..n).map(|i| format!("check if resource($r), $r.matches(\"^(a|b|c|d|e|f|g|h)*[0-9]{{1,{}}}x{i}$\");", 20 + i)).collect()
            }),
        ),
        (
            "regex per combination",
            Box::new(|n| {
                format!(
                    "{} check if big($a), resource($r), $r.matches(\"^(t|u|v)+[a-z]{{1,40}}/x$\");",
                    facts("big", n)
                )
            }),
        ),
        (
            "unicode regex per combination",
            Box::new(|n| {
                format!("{} check if big($a), resource($r), $r.matches(\"^\\\\w{{1,40}}[a-z]{{1,100}}(x|y|z){{1,30}}\\\\d{{2,9}}$\");", facts("big", n))
            }),
        ),
        (
            "rules",
            Box::new(|n| {
                format!("{} d1($x, $y) <- big($x), big($y); d2($x, $y) <- d1($x, $y); check if d2($a, $b), $a == -1;", facts("big", n))
            }),
        ),
        (
            "many facts",
            Box::new(|n| {
                format!(
                    "{} check if f($x), $x < 0; check if f($x), f($y), $x == -1;",
                    facts("f", n)
                )
            }),
        ),
        (
            "unnamed attrs",
            Box::new(|n| {
                format!(
                    "check if attr($a, $x), attr($b, $y), $x == $y;{}",
                    " check if attr($a, $x), attr($b, $y), $x == $y;".repeat(n)
                )
            }),
        ),
    ]
}

/// Tokens at the edge of the budget, and the attacks, timed. Run in release:
/// `cargo test --release -p warrant-core budget::tests::calibrate -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, run in release"]
fn calibrate() {
    let mut worst = Duration::ZERO;
    for (name, make) in &calibration_families() {
        if let Some((n, token)) = edge(make.as_ref(), 1) {
            let (_, t) = report(&format!("{name} (n = {n})"), &token, 5);
            worst = worst.max(t);
        }
    }
    println!("worst accepted: {worst:?}");
    let a = array(400);
    let bytes = "ab".repeat(2000);
    for (name, code) in [
        ("attack: nested closures 400x400", format!("check if {a}.any($x -> {a}.any($y -> $x + $y == -1));")),
        ("attack: join of three over 120", format!("{} check if big($a), big($b), big($c), $a + $b == $c + 1000000;", facts("big", 120))),
        ("attack: bytes into 40000 facts", format!("{} {} blob(hex:{bytes}); copy($a, $b, $x) <- n($a), m($b), blob($x); check if copy($a, $b, $x), $a == -1;", facts("n", 200), facts("m", 200))),
    ] {
        report(name, &with_block(&code), 1);
    }
}
