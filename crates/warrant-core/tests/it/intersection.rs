//! The evaluator's fast paths against `evaluate`: `allows` (one block, yes or no),
//! `ResourcePattern::intersect`, and `Intersection` (the blocks of a token merged into one).

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value as J};
use warrant_core::eval::{
    allows, evaluate, most_telling, Failure, HumanFacts, Intersection, MAX_MERGED_RULES,
};
use warrant_core::grant::{Actions, Grant, Op};
use warrant_core::pattern::ResourcePattern;
use warrant_core::request::RequestFacts;
use warrant_core::time::{Span, Timestamp};
use warrant_core::value::Value;

use crate::common::{at, NOW};
use crate::gen;
use crate::gen::Pick;

/// Resource strings over the patterns' alphabet, canonical or not (empty segments, a
/// leading or trailing `/`, the empty string): intersection must be exact on all strings.
fn any_resource() -> BoxedStrategy<String> {
    prop_oneof![
        3 => gen::resource(),
        1 => proptest::collection::vec(select(vec!["a", "b", "a.b", "x", "", "*", "**"]), 0..=5)
            .prop_map(|s| s.join("/")),
    ]
    .boxed()
}

/// A resource built from `pattern`: its literals kept, its wildcards filled in.
fn instance(pattern: &str, fill: &[&str]) -> String {
    let mut fill = fill.iter().cycle();
    pattern
        .split('/')
        .map(|s| match s {
            "*" | "**" => (*fill.next().unwrap_or(&"a")).to_owned(),
            lit => lit.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A pattern inside or across `p`: a wildcard made literal, a subtree made one segment or
/// deeper, or `p` itself.
fn narrow_pattern(p: &str, pick: &mut Pick) -> String {
    let segs: Vec<&str> = p.split('/').collect();
    segs.iter()
        .map(|s| match *s {
            "*" if pick.chance(50) => (*pick.of(&["a", "b"])).to_owned(),
            "**" if pick.chance(60) => (*pick.of(&["*", "a/**", "*/**", "a", "b/*"])).to_owned(),
            other => other.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An attenuation-like grant JSON narrowing `first`: some of its allow rules with
/// narrower patterns and fewer actions, sometimes another condition, maybe one of its
/// audiences, an earlier expiry; sometimes only a deny rule.
fn narrowed(first: &Grant, seed: u64) -> J {
    let mut pick = Pick(seed | 1);
    let mut m = serde_json::Map::new();
    if pick.chance(10) {
        m.insert(
            "deny".into(),
            json!([{"resources": [instance(pick.of(&first.allow).resources[0].as_str(), &["a"])],
                    "actions": ["*"], "when": [{"attr": "flag", "eq": true}]}]),
        );
        return J::Object(m);
    }
    let mut allow = Vec::new();
    for rule in &first.allow {
        if !pick.chance(60) {
            continue;
        }
        let resources: Vec<String> = rule
            .resources
            .iter()
            .map(|p| narrow_pattern(p.as_str(), &mut pick))
            .collect();
        let actions = match &rule.actions {
            Actions::Listed(l) if pick.chance(50) => json!([pick.of(l).as_str()]),
            Actions::Listed(l) => json!(l.iter().map(|a| a.as_str()).collect::<Vec<_>>()),
            Actions::Any if pick.chance(50) => json!([pick.of(&["read", "write"])]),
            Actions::Any => json!(["*"]),
        };
        let mut r = json!({"resources": resources, "actions": actions});
        if pick.chance(30) {
            r["when"] = json!([{"attr": "amount", "lt": pick.of(&[1i64, 5000, 5001])}]);
        }
        if pick.chance(15) {
            r["human"] = json!({"max_age": "1h"});
        }
        allow.push(r);
    }
    if allow.is_empty() || pick.chance(20) {
        // An unrelated rule: it overlaps or not, at random.
        allow.push(
            json!({"resources": [pick.of(&["a/**", "b/*", "*/c", "**"])], "actions": ["read"]}),
        );
    }
    m.insert("allow".into(), J::Array(allow));
    if let (Some(a), true) = (first.audience.first(), pick.chance(40)) {
        m.insert("audience".into(), json!([a.as_str()]));
    } else if pick.chance(10) {
        m.insert("audience".into(), json!(["api-b"]));
    }
    if pick.chance(50) {
        m.insert(
            "expires_at".into(),
            at(*pick.of(&[30i64, 60, 600])).to_string().into(),
        );
    }
    if pick.chance(20) {
        m.insert(
            "not_before".into(),
            at(*pick.of(&[-60i64, 0, 30])).to_string().into(),
        );
    }
    J::Object(m)
}

/// The human facts a verifier reads from an authority block, or none.
fn human_facts() -> BoxedStrategy<Option<HumanFacts>> {
    proptest::option::weighted(
        0.8,
        (
            select(vec!["passkey", "device-key", "oidc", "unverified"]),
            select(vec![-7200i64, -600, -60, 0]),
            gen::human_attrs(),
        )
            .prop_map(|(method, off, attrs)| HumanFacts {
                method: method.to_owned(),
                verified_at: at(off),
                attrs: attrs
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v))
                    .collect(),
            }),
    )
    .boxed()
}

/// A value for which a condition with `op` holds at `time`, if one is easy to name.
fn satisfying(op: &Op, time: Timestamp) -> Option<Value> {
    let step = |v: &Value, up: bool| match v {
        Value::Integer(i) => Some(Value::Integer(if up {
            i.checked_add(1)?
        } else {
            i.checked_sub(1)?
        })),
        Value::Date(t) => Some(Value::Date(if up {
            t.plus(Span::from_seconds(1))
        } else {
            t.minus(Span::from_seconds(1))
        })),
        Value::Bool(b) => Some(Value::Bool(!b)),
        Value::String(s) => Some(Value::String(format!("{s}~"))),
    };
    match op {
        Op::Eq(v) | Op::Le(v) | Op::Ge(v) => Some(v.clone()),
        Op::Ne(v) => step(v, true),
        Op::Lt(v) => step(v, false),
        Op::Gt(v) => step(v, true),
        Op::In(vs) => vs.first().cloned(),
        Op::Present => Some(Value::Integer(1)),
        Op::Prefix(p) => Some(Value::String(format!("{p}x"))),
        Op::Within(_) => Some(Value::Date(time)),
    }
}

/// One case: the grants of a token (the first an authority grant, the others mostly
/// narrowing it), the human, and requests (random ones and ones aimed at each block).
type Case = (Vec<Grant>, Option<HumanFacts>, Vec<RequestFacts>);

fn case() -> BoxedStrategy<Case> {
    (
        gen::grant(true),
        proptest::collection::vec(
            (
                any::<u64>(),
                proptest::option::weighted(0.2, gen::grant(false)),
            ),
            0..=3,
        ),
        human_facts(),
        proptest::collection::vec(gen::request(), 3),
        proptest::collection::vec(any::<u64>(), 6),
    )
        .prop_map(|(first, rest, human, mut requests, seeds)| {
            let first = Grant::from_json(&first).unwrap();
            let mut grants = vec![first.clone()];
            for (seed, other) in rest {
                let j = other.unwrap_or_else(|| narrowed(&first, seed));
                grants.push(Grant::from_json(&j).unwrap());
            }
            for (i, seed) in seeds.iter().enumerate() {
                // Mostly aimed at the last (narrowest) block: those requests reach every rule.
                let g = if i % 3 == 0 {
                    &grants[i % grants.len()]
                } else {
                    grants.last().unwrap()
                };
                if g.allow.is_empty() && g.deny.is_empty() {
                    continue;
                }
                let mut r = gen::near_request(g, *seed);
                if seed % 2 == 0 {
                    // Inside most lifetimes (the boundaries are `near_request`'s job).
                    r.time = at([-1i64, 0, 1, 29][usize::try_from(seed % 7 % 4).unwrap()]);
                }
                if seed % 3 != 0 {
                    // Attributes that satisfy the blocks' allow conditions (the first
                    // condition on a name wins), so that rules of every block may match.
                    for c in grants.iter().flat_map(|g| &g.allow).flat_map(|r| &r.when) {
                        if let Some(v) = satisfying(&c.op, r.time) {
                            r.attrs.entry(c.attr.as_str().to_owned()).or_insert(v);
                        }
                    }
                }
                requests.push(r);
            }
            (grants, human, requests)
        })
        .boxed()
}

/// What a case decided: requests allowed, requests denied, and whether the merge fit.
#[derive(Debug, Default)]
struct Tally {
    allowed: usize,
    denied: usize,
    merged: bool,
}

fn check_case((grants, human, requests): &Case) -> Result<Tally, TestCaseError> {
    let refs: Vec<&Grant> = grants.iter().collect();
    let merged = Intersection::of(&refs);
    let mut tally = Tally {
        merged: merged.is_some(),
        ..Tally::default()
    };
    for req in requests {
        let mut all = true;
        for g in grants {
            let failures = evaluate(g, human.as_ref(), req);
            let slow = failures.is_empty();
            // The most telling failure is the first of the lowest rank.
            let first_lowest = failures
                .iter()
                .enumerate()
                .min_by_key(|(i, f)| (f.rank(), *i))
                .map(|(_, f)| f);
            // The closest allow rule of a failure to match is the first that covers the
            // request's resource and action (checked apart from the code that finds it).
            for f in &failures {
                if let Failure::NoAllowRule { closest } = f {
                    let covering = g
                        .allow
                        .iter()
                        .position(|r| r.covers(&req.resource, &req.action));
                    prop_assert_eq!(
                        closest.as_ref().map(|(i, _)| *i),
                        covering,
                        "closest: {:?}",
                        f
                    );
                }
            }
            let found = most_telling(g, human.as_ref(), req);
            prop_assert_eq!(
                found.as_ref(),
                first_lowest,
                "most telling: {:?} {:?} {:?}",
                g,
                req,
                failures
            );
            prop_assert_eq!(
                allows(g, human.as_ref(), req),
                slow,
                "allows: {:?} {:?}",
                g,
                req
            );
            all &= slow;
        }
        if let Some(m) = &merged {
            prop_assert_eq!(
                m.allows(human.as_ref(), req),
                all,
                "merged {:?}\ngrants {:?}\nrequest {:?}\nhuman {:?}",
                m,
                grants,
                req,
                human
            );
        }
        if all {
            tally.allowed += 1;
        } else {
            tally.denied += 1;
        }
    }
    Ok(tally)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn pattern_intersection_matches_exactly_both(
        a in gen::pattern(),
        b in gen::pattern(),
        fill in proptest::collection::vec(select(vec!["a", "b", "x", "a.b"]), 1..=3),
        random in proptest::collection::vec(any_resource(), 4),
    ) {
        let (pa, pb): (ResourcePattern, ResourcePattern) = (a.parse().unwrap(), b.parse().unwrap());
        let both = pa.intersect(&pb);
        prop_assert_eq!(&both, &pb.intersect(&pa), "intersection is symmetric");
        prop_assert_eq!(both.is_some(), pa.overlaps(&pb), "`{}` and `{}`", a, b);
        let mut resources = random;
        resources.push(instance(&a, &fill));
        resources.push(instance(&b, &fill));
        resources.push(format!("{}/x", instance(&a, &fill)));
        for r in &resources {
            let want = pa.matches(r) && pb.matches(r);
            let got = both.as_ref().is_some_and(|p| p.matches(r));
            prop_assert_eq!(got, want, "`{}` ∩ `{}` = {:?} on {:?}", a, b, both, r);
        }
        if let Some(p) = &both {
            // The result prints as a pattern that parses back to itself.
            prop_assert_eq!(&p.as_str().parse::<ResourcePattern>().unwrap(), p);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// `allows` is `evaluate(..).is_empty()` for each block, and the merged blocks allow
    /// exactly what every block allows.
    #[test]
    fn allows_and_the_merged_blocks_decide_as_evaluate(c in case()) {
        check_case(&c)?;
    }
}

/// The properties above are only worth something if requests are often allowed and
/// often denied, and if the merge usually fits.
#[test]
fn fast_path_cases_cover_both_outcomes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut allowed, mut denied, mut merged, mut several, mut allowed_by_several) =
        (0, 0, 0, 0, 0);
    let cases = 300;
    for _ in 0..cases {
        let c = case().new_tree(&mut runner).unwrap().current();
        let t = check_case(&c).unwrap();
        if c.0.len() > 1 {
            several += 1;
            allowed_by_several += t.allowed;
        }
        allowed += t.allowed;
        denied += t.denied;
        merged += usize::from(t.merged);
    }
    let total = allowed + denied;
    eprintln!("{allowed} allowed, {allowed_by_several} of them by several blocks, {denied} denied; {merged} of {cases} merged");
    assert!(
        allowed * 20 >= total,
        "only {allowed} of {total} requests were allowed"
    );
    assert!(
        denied * 2 >= total,
        "only {denied} of {total} requests were denied"
    );
    assert!(
        allowed_by_several * 5 >= allowed,
        "only {allowed_by_several} of {allowed} allowed requests met several blocks"
    );
    assert!(
        merged * 10 >= cases * 9,
        "only {merged} of {cases} merges fit"
    );
    assert!(
        several * 2 >= cases,
        "only {several} of {cases} cases had several blocks"
    );
}

fn grant(v: J) -> Grant {
    Grant::from_json(&v).unwrap()
}

/// `n` allow rules that all overlap each other.
fn overlapping_rules(n: usize, prefix: &str) -> Grant {
    let rules: Vec<J> = (0..n)
        .map(|i| json!({"resources": [format!("{prefix}{i}/**")], "actions": ["*"]}))
        .collect();
    grant(json!({ "allow": rules }))
}

#[test]
fn the_merge_refuses_to_grow_past_its_caps() {
    // 8 × 8 rules of `aI/**` ∩ `*/bJ`… all meet: exactly the cap.
    let a = overlapping_rules(8, "a");
    let b = grant(json!({"allow": (0..8)
        .map(|j| json!({"resources": [format!("*/b{j}")], "actions": ["read"]}))
        .collect::<Vec<_>>()}));
    let fits = Intersection::of(&[&a, &b]).unwrap();
    assert_eq!(fits.allow_rules(), Some(MAX_MERGED_RULES));
    let req = RequestFacts::new("a3/b5", "read", NOW);
    assert!(fits.allows(None, &req));
    // One more rule in the second block: 72 rules, past the cap.
    let mut c = b.clone();
    c.allow.push(
        grant(json!({"allow": [{"resources": ["*/c"], "actions": ["read"]}]})).allow[0].clone(),
    );
    assert!(Intersection::of(&[&a, &c]).is_none());
    // Resources: 9 × 8 distinct intersections in one rule.
    let many = |n: usize, f: &dyn Fn(usize) -> String| {
        grant(
            json!({"allow": [{"resources": (0..n).map(f).collect::<Vec<_>>(), "actions": ["*"]}]}),
        )
    };
    let x = many(9, &|i| format!("a{i}/*"));
    let y = many(8, &|j| format!("*/b{j}"));
    assert!(Intersection::of(&[&x, &y]).is_none());
    let y = many(7, &|j| format!("*/b{j}"));
    assert!(Intersection::of(&[&x, &y]).is_some());
}

#[test]
fn blocks_without_allow_rules_and_disjoint_audiences() {
    let authority = grant(
        json!({"audience": ["api-a"], "allow": [{"resources": ["a/*"], "actions": ["read"]}]}),
    );
    let deny_only = grant(json!({"deny": [{"resources": ["a/secret"], "actions": ["*"]}]}));
    let m = Intersection::of(&[&authority, &deny_only]).unwrap();
    let mut req = RequestFacts::new("a/open", "read", NOW);
    req.audience = Some("api-a".into());
    assert!(m.allows(None, &req));
    req.resource = "a/secret".into();
    assert!(!m.allows(None, &req));
    // No audience is in both lists: nothing is allowed, as block by block.
    let other = grant(json!({"audience": ["api-b"]}));
    let m = Intersection::of(&[&authority, &other]).unwrap();
    req.resource = "a/open".into();
    assert!(!m.allows(None, &req));
    assert!(!evaluate(&other, None, &req).is_empty());
    // Nothing merged: everything is allowed, as by an empty grant.
    assert!(Intersection::of(&[]).unwrap().allows(None, &req));
    assert!(Intersection::of(&[&authority]).unwrap().heap_bytes() > 0);
}

/// Blocks whose rules almost never meet keep nothing, so the caps on what is kept never
/// trigger: the work itself is bounded. Two blocks of 64 rules of 64 patterns each, disjoint
/// (`a/…` against `b/…`), would be 64·64 rule pairs of 64·64 pattern pairs: the merge gives
/// up (the verifier then evaluates block by block) instead of computing them.
#[test]
fn the_merge_refuses_blocks_whose_rules_would_take_too_long_to_meet() {
    let wide = |prefix: &str| {
        grant(json!({"allow": (0..64)
            .map(|i| json!({
                "resources": (0..64).map(|j| format!("{prefix}/r{i}/p{j}")).collect::<Vec<_>>(),
                "actions": ["*"],
            }))
            .collect::<Vec<_>>()}))
    };
    let (a, b) = (wide("a"), wide("b"));
    let started = std::time::Instant::now();
    assert!(
        Intersection::of(&[&a, &b]).is_none(),
        "the merge gives up past MAX_MERGE_WORK"
    );
    // Generous even for a debug build on a loaded machine: the unbounded merge took
    // seconds.
    assert!(
        started.elapsed() < std::time::Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // A small merge of the same shape still fits.
    let narrow = |prefix: &str| {
        grant(json!({"allow": (0..4)
            .map(|i| json!({"resources": [format!("{prefix}/r{i}/**")], "actions": ["*"]}))
            .collect::<Vec<_>>()}))
    };
    assert!(Intersection::of(&[&narrow("a"), &narrow("a")]).is_some());
}
