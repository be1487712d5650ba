//! "Attenuation never widens, deny always wins", for random parent grants, random
//! attenuation grants and random requests, through the real `Verifier`.

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use rand_core::OsRng;
use serde_json::{json, Map, Value as J};
use warrant_core::compile::{compile, CompileContext};
use warrant_core::eval::{condition_miss, evaluate, ConditionMiss, HumanFacts};
use warrant_core::grant::{Actions, Grant, Method, Op, Rule};
use warrant_core::request::RequestFacts;
use warrant_core::token::{
    attenuate, decode_unverified, encode, mint, resolve_lifetime, MintRequest, Verification,
    DEFAULT_TTL, UNVERIFIED,
};
use warrant_core::value::Value;
use warrant_verifier::{Decision, DenialKind, Request};

use crate::common::{assert_message, at, biscuit, biscuit_allows, key, verifier, NOW};

const ATTRS: [&str; 3] = ["amount", "status", "placed_at"];

fn value() -> BoxedStrategy<Value> {
    prop_oneof![
        select(vec![0i64, 4999, 5000, 5001]).prop_map(Value::Integer),
        select(vec!["open", "closed", "op"]).prop_map(|s| Value::String(s.to_owned())),
        any::<bool>().prop_map(Value::Bool),
        select(vec![-3601i64, -3600, -60, 0, 60]).prop_map(|o| Value::Date(at(o))),
    ]
    .boxed()
}

/// A condition of an allow rule (`allow`) or of a deny rule. Profile v2 refuses `present`
/// in a deny rule (deny rules fail closed, so it would always hold): only allow rules get it.
fn condition(allow: bool) -> BoxedStrategy<J> {
    let present = if allow {
        Just(("present", json!(true))).boxed()
    } else {
        (select(vec!["eq", "ne"]), value())
            .prop_map(|(o, v)| (o, v.to_json()))
            .boxed()
    };
    (
        select(ATTRS.to_vec()),
        prop_oneof![
            (select(vec!["eq", "ne"]), value()).prop_map(|(o, v)| (o, v.to_json())),
            (
                select(vec!["lt", "le", "gt", "ge"]),
                prop_oneof![
                    select(vec![4999i64, 5000]).prop_map(Value::Integer),
                    select(vec![-60i64, 0]).prop_map(|o| Value::Date(at(o))),
                ]
            )
                .prop_map(|(o, v)| (o, v.to_json())),
            subsequence(vec!["open", "closed", "op"], 1..=2).prop_map(|l| ("in", json!(l))),
            present,
            select(vec!["o", "op", "cl"]).prop_map(|p| ("prefix", json!(p))),
            select(vec!["1m", "1h"]).prop_map(|s| ("within", json!(s))),
        ],
    )
        .prop_map(|(attr, (op, arg))| {
            let mut m = Map::new();
            m.insert("attr".into(), attr.into());
            m.insert(op.into(), arg);
            J::Object(m)
        })
        .boxed()
}

fn pattern() -> BoxedStrategy<String> {
    (
        proptest::collection::vec(select(vec!["t", "u", "*"]), 1..=2),
        proptest::option::of(Just("**")),
    )
        .prop_map(|(mut s, tail)| {
            s.extend(tail);
            s.join("/")
        })
        .boxed()
}

fn rule(allow: bool) -> BoxedStrategy<J> {
    let human = if allow {
        proptest::option::weighted(
            0.15,
            (
                subsequence(vec!["passkey", "device-key", "oidc"], 1..=2),
                proptest::option::of(select(vec!["1m", "1h"])),
            )
                .prop_map(|(m, age)| {
                    let mut h = json!({"methods": m});
                    if let Some(a) = age {
                        h["max_age"] = json!(a);
                    }
                    h
                }),
        )
        .boxed()
    } else {
        Just(None).boxed()
    };
    (
        proptest::collection::vec(pattern(), 1..=2),
        prop_oneof![
            1 => Just(json!(["*"])),
            3 => subsequence(vec!["read", "write"], 1..=2).prop_map(|a| json!(a)),
        ],
        proptest::collection::vec(condition(allow), 0..=2),
        human,
    )
        .prop_map(|(resources, actions, when, human)| {
            let mut m = json!({"resources": resources, "actions": actions, "when": when});
            if let Some(h) = human {
                m["human"] = h;
            }
            m
        })
        .boxed()
}

/// A grant. The parent always has an allow rule; an attenuation may have none (it then
/// narrows by audience, lifetime or deny rules only) but is never empty.
fn grant(parent: bool) -> BoxedStrategy<J> {
    let allow_min = usize::from(parent);
    (
        proptest::option::of(subsequence(vec!["api-a", "api-b"], 1..=2)),
        proptest::option::of(select(vec![60i64, 1800, 7200])),
        proptest::option::of(select(vec![-60i64, 30])),
        proptest::collection::vec(rule(true), allow_min..=2),
        prop_oneof![
            2 => Just(Vec::new()),
            1 => proptest::collection::vec(rule(false), 1..=2),
        ],
    )
        .prop_map(move |(aud, exp, nb, allow, deny)| {
            let mut m = Map::new();
            if let Some(a) = aud {
                m.insert("audience".into(), json!(a));
            }
            if let Some(e) = exp {
                m.insert("expires_at".into(), at(e).to_string().into());
            }
            if let Some(n) = nb {
                m.insert("not_before".into(), at(n).to_string().into());
            }
            if !allow.is_empty() {
                m.insert("allow".into(), J::Array(allow));
            }
            if !deny.is_empty() {
                m.insert("deny".into(), J::Array(deny));
            }
            if m.is_empty() {
                m.insert("ttl".into(), "30m".into());
            }
            J::Object(m)
        })
        .boxed()
}

/// A request: either fully random, or aimed at a rule of one of the grants.
#[derive(Debug, Clone)]
struct ReqSpec {
    aim: Option<(usize, usize, usize)>,
    star: &'static str,
    tail: Option<&'static str>,
    action: &'static str,
    time: i64,
    audience: Option<&'static str>,
    satisfy: Vec<bool>,
    noise: Vec<Option<Value>>,
}

fn req_spec() -> BoxedStrategy<ReqSpec> {
    (
        proptest::option::weighted(
            0.85,
            (
                prop_oneof![1 => Just(0usize), 3 => Just(1usize)],
                0usize..4,
                0usize..2,
            ),
        ),
        select(vec!["t", "x"]),
        proptest::option::of(select(vec!["t", "v/w"])),
        select(vec!["read", "write", "delete"]),
        prop_oneof![
            3 => select(vec![0i64, 30, 45, 59, 60, 300, 599, 600]),
            1 => select(vec![-61i64, 29, 61, 601, 1800, 1801, 7200, 7201]),
        ],
        proptest::option::weighted(0.8, select(vec!["api-a", "api-b", "api-c"])),
        proptest::collection::vec(proptest::bool::weighted(0.85), 3),
        proptest::collection::vec(proptest::option::weighted(0.4, value()), ATTRS.len()),
    )
        .prop_map(
            |(aim, star, tail, action, time, audience, satisfy, noise)| ReqSpec {
                aim,
                star,
                tail,
                action,
                time,
                audience,
                satisfy,
                noise,
            },
        )
        .boxed()
}

/// A value satisfying `op`, when one is easy to name.
fn satisfying(op: &Op, time: warrant_core::time::Timestamp) -> Option<Value> {
    Some(match op {
        Op::Eq(v) | Op::Le(v) | Op::Ge(v) => v.clone(),
        Op::Lt(Value::Integer(i)) => Value::Integer(i - 1),
        Op::Gt(Value::Integer(i)) => Value::Integer(i + 1),
        Op::Lt(Value::Date(d)) => Value::Date(d.minus(warrant_core::time::Span::from_seconds(1))),
        Op::Gt(Value::Date(d)) => Value::Date(d.plus(warrant_core::time::Span::from_seconds(1))),
        Op::In(vs) => vs.first()?.clone(),
        Op::Present => Value::Integer(1),
        Op::Prefix(p) => Value::String(format!("{p}z")),
        Op::Within(_) => Value::Date(time),
        Op::Ne(_) | Op::Lt(_) | Op::Gt(_) => return None,
    })
}

fn build_request(spec: &ReqSpec, grants: [&Grant; 2]) -> RequestFacts {
    let mut r = RequestFacts::new("u/t", spec.action, at(spec.time));
    r.audience = spec.audience.map(str::to_owned);
    for (name, v) in ATTRS.iter().zip(&spec.noise) {
        if let Some(v) = v {
            r.attrs.insert((*name).to_owned(), v.clone());
        }
    }
    let Some((g, ri, pi)) = spec.aim else {
        return r;
    };
    // An audience both grants accept, when there is one.
    if let Some(a) = spec.audience {
        let ok = |g: &Grant| g.audience.is_empty() || g.audience.iter().any(|x| x.as_str() == a);
        if !ok(grants[0]) || !ok(grants[1]) {
            r.audience = grants[0]
                .audience
                .iter()
                .find(|x| ok(grants[1]) || grants[1].audience.contains(x))
                .or(grants[1].audience.first())
                .map(|x| x.as_str().to_owned());
        }
    }
    let rules: Vec<&Rule> = grants[g].allow.iter().chain(&grants[g].deny).collect();
    if rules.is_empty() {
        return r;
    }
    let rule = rules[ri % rules.len()];
    let pat = rule.resources[pi % rule.resources.len()].as_str();
    let segs: Vec<&str> = pat.split('/').collect();
    let mut out = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        match (*s, i + 1 == segs.len()) {
            ("*" | "**", true) => out.push(spec.tail.unwrap_or("t")),
            ("*", false) => out.push(spec.star),
            (lit, _) => out.push(lit),
        }
    }
    r.resource = out.join("/");
    if let Actions::Listed(l) = &rule.actions {
        r.action = l[ri % l.len()].as_str().to_owned();
    }
    for (c, ok) in rule.when.iter().zip(&spec.satisfy) {
        if *ok {
            if let Some(v) = satisfying(&c.op, r.time) {
                r.attrs.insert(c.attr.as_str().to_owned(), v);
            }
        }
    }
    r
}

fn to_verifier_request(r: &RequestFacts) -> Request {
    let mut out = Request::new(r.resource.clone(), r.action.clone(), r.time);
    if let Some(a) = &r.audience {
        out = out.with_audience(a.clone());
    }
    for (k, v) in &r.attrs {
        out = out.with_attr(k.clone(), v.clone());
    }
    out
}

/// Whether deny rule `rule` fires for `req`: its resources and actions cover the request
/// and no condition is evaluated false. Profile v2 deny rules fail closed, so a condition
/// whose attribute is missing or mistyped does not stop the rule (only a value that
/// fails the test does).
fn deny_matches(rule: &Rule, req: &RequestFacts) -> bool {
    rule.covers(&req.resource, &req.action)
        && rule
            .when
            .iter()
            .all(|c| !matches!(condition_miss(c, req), Some(ConditionMiss::Mismatch(_))))
}

fn check_decision(d: &Decision) {
    if let Some(den) = d.denial() {
        assert_message(den);
    }
}

#[derive(Debug)]
struct Case {
    parent: Grant,
    child: Grant,
    verification: Option<Verification>,
}

fn run(case: &Case, specs: &[ReqSpec]) -> Result<(usize, usize), TestCaseError> {
    let minted = mint(
        key(),
        MintRequest {
            verification: case.verification,
            ..MintRequest::offline(case.parent.clone())
        },
        NOW,
        &mut OsRng,
    )
    .map_err(|e| TestCaseError::fail(format!("mint: {e}")))?;
    let parent_text = minted.token.to_base64().unwrap();
    let attenuated = match attenuate(
        &decode_unverified(&parent_text).unwrap(),
        case.child.clone(),
        NOW,
        &mut OsRng,
    ) {
        Ok(t) => t,
        Err(e) => return Err(TestCaseError::reject(format!("attenuate: {e}"))),
    };
    let child_text = encode(&attenuated);
    // The same token with one more block that only states a fact: it narrows nothing,
    // but it is outside the profile, so the verifier evaluates it with Biscuit's Datalog
    // instead of natively.
    let noop_text = encode(
        &attenuated
            .append(
                biscuit_auth::BlockBuilder::new()
                    .code("note(\"no-op\");")
                    .unwrap(),
            )
            .unwrap(),
    );
    let (parent_biscuit, child_biscuit) = (biscuit(&parent_text), biscuit(&child_text));

    let mut parent = case.parent.clone();
    resolve_lifetime(&mut parent, NOW, Some(DEFAULT_TTL)).unwrap();
    let mut child = case.child.clone();
    resolve_lifetime(&mut child, NOW, None).unwrap();
    let verified_at = case.verification.map_or(NOW, |v| v.at);
    let human = HumanFacts {
        method: case
            .verification
            .map_or(UNVERIFIED.to_owned(), |v| v.method.as_str().to_owned()),
        verified_at,
        attrs: Default::default(),
    };
    // Both blocks compile in the verifier's context.
    let ctx = CompileContext {
        human_verified_at: Some(verified_at),
    };
    compile(&child, ctx).unwrap();

    let v = verifier();
    let (mut allowed, mut denied_by_rule) = (0, 0);
    for spec in specs {
        let core = build_request(spec, [&parent, &child]);
        let req = to_verifier_request(&core);
        let p = v.verify(&parent_text, &req);
        let c = v.verify(&child_text, &req);
        check_decision(&p);
        check_decision(&c);
        let n = v.verify(&noop_text, &req);
        check_decision(&n);

        // The verifier agrees with Biscuit run directly, and its native evaluation with
        // its own Datalog fallback, down to the explanation.
        prop_assert_eq!(
            p.is_allowed(),
            biscuit_allows(&parent_biscuit, &core),
            "parent vs Biscuit: {:?} {:?}",
            core,
            case
        );
        prop_assert_eq!(
            c.is_allowed(),
            biscuit_allows(&child_biscuit, &core),
            "attenuated vs Biscuit: {:?} {:?}",
            core,
            case
        );
        prop_assert_eq!(
            n.is_allowed(),
            c.is_allowed(),
            "native vs Datalog path: {:?} {:?}",
            core,
            case
        );
        if let (Some(dc), Some(dn)) = (c.denial(), n.denial()) {
            prop_assert_eq!(
                dc,
                dn,
                "native vs Datalog explanation: {:?} {:?}",
                core,
                case
            );
        }

        // Attenuation never widens.
        if c.is_allowed() {
            prop_assert!(
                p.is_allowed(),
                "attenuated allowed but parent denied: {:?}\n{:?}\n{:?}",
                core,
                case,
                p
            );
            allowed += 1;
        }
        // Deny always wins, whichever block holds the deny rule.
        let deny_hit = parent
            .deny
            .iter()
            .chain(&child.deny)
            .any(|r| deny_matches(r, &core));
        if deny_hit {
            prop_assert!(
                !c.is_allowed(),
                "a deny rule matches but allowed: {:?}\n{:?}",
                core,
                case
            );
            prop_assert!(!p.is_allowed() || child.deny.iter().any(|r| deny_matches(r, &core)));
            if c.denial()
                .is_some_and(|d| d.kind == DenialKind::DeniedByRule)
            {
                denied_by_rule += 1;
            }
        }
        // And the decision is exactly the conjunction of both blocks' native evaluations.
        let parent_ok = evaluate(&parent, Some(&human), &core).is_empty();
        let child_ok = evaluate(&child, Some(&human), &core).is_empty();
        prop_assert_eq!(
            p.is_allowed(),
            parent_ok,
            "parent: {:?} {:?} {:?}",
            core,
            case,
            p
        );
        prop_assert_eq!(
            c.is_allowed(),
            parent_ok && child_ok,
            "attenuated: {:?} {:?} {:?}",
            core,
            case,
            c
        );
        if let Some(claims) = c.claims() {
            prop_assert_eq!(claims.block_count, 2);
            let exp = [parent.expires_at, child.expires_at]
                .into_iter()
                .flatten()
                .min();
            prop_assert_eq!(claims.expires_at.clone(), exp.map(|t| t.to_string()));
        }
    }
    Ok((allowed, denied_by_rule))
}

/// An attenuation that often narrows the parent's own rules (so that requests can be
/// allowed by both blocks): a copy of a parent rule with one more condition or a `*`
/// segment made literal, or a fresh random rule.
fn child_of(parent: &J) -> BoxedStrategy<J> {
    let rules: Vec<J> = parent["allow"].as_array().cloned().unwrap_or_default();
    let n = rules.len();
    let narrowed = (0..n, proptest::option::of(condition(true)), any::<bool>()).prop_map(
        move |(i, extra, literal)| {
            let mut r = rules[i].clone();
            if let Some(c) = extra {
                r["when"].as_array_mut().unwrap().push(c);
            }
            if literal {
                for p in r["resources"].as_array_mut().unwrap() {
                    *p = J::String(p.as_str().unwrap().replacen("*/", "t/", 1));
                }
            }
            r
        },
    );
    (
        grant(false),
        proptest::collection::vec(prop_oneof![3 => narrowed, 1 => rule(true)], 0..=2),
    )
        .prop_map(|(mut g, allow)| {
            if !allow.is_empty() {
                g["allow"] = J::Array(allow);
            }
            g
        })
        .boxed()
}

fn case() -> BoxedStrategy<Case> {
    (
        grant(true).prop_flat_map(|p| (Just(p.clone()), child_of(&p))),
        proptest::option::weighted(
            0.3,
            (select(Method::ALL.to_vec()), select(vec![-3600i64, 0]))
                .prop_map(|(method, o)| Verification { method, at: at(o) }),
        ),
    )
        .prop_map(|((p, c), verification)| Case {
            parent: Grant::from_json(&p).unwrap(),
            child: Grant::from_json(&c).unwrap(),
            verification,
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 100,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn attenuation_never_widens_and_deny_always_wins(
        case in case(),
        specs in proptest::collection::vec(req_spec(), 8),
    ) {
        run(&case, &specs)?;
    }
}

/// The property is only worth something if attenuated tokens are often allowed and deny
/// rules often match.
#[test]
fn attenuation_cases_cover_allowed_and_denied_by_rule() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (case(), proptest::collection::vec(req_spec(), 8));
    let (mut allowed, mut by_rule, mut total) = (0, 0, 0);
    for _ in 0..40 {
        let (c, specs) = strategy.new_tree(&mut runner).unwrap().current();
        if let Ok((a, d)) = run(&c, &specs) {
            allowed += a;
            by_rule += d;
            total += specs.len();
        }
    }
    assert!(
        allowed * 20 >= total,
        "only {allowed} of {total} attenuated requests allowed"
    );
    assert!(by_rule > 0, "no request was denied by a deny rule");
}
