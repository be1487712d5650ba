//! Proptest strategies for grants, mints and requests over a small alphabet, so that
//! random requests often sit on the boundaries of random grants.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{json, Map, Value as J};
use warrant_core::grant::{Actions, Grant, Method, Op, Rule};
use warrant_core::request::RequestFacts;
use warrant_core::time::Span;
use warrant_core::token::Verification;
use warrant_core::value::{AttrName, Value};

use crate::common::at;

/// Attribute names, each with a natural type that conditions and requests favour.
pub(crate) const ATTRS: [&str; 4] = ["amount", "status", "flag", "placed_at"];

/// Offsets (seconds from NOW) that dates, expiries and request times are drawn from.
const DATE_OFFSETS: [i64; 11] = [-7200, -3601, -3600, -3599, -61, -60, -1, 0, 1, 60, 3600];

pub(crate) fn int_val() -> impl Strategy<Value = Value> {
    select(vec![-1i64, 0, 1, 4999, 5000, 5001, i64::MAX]).prop_map(Value::Integer)
}

pub(crate) fn str_val() -> impl Strategy<Value = Value> {
    select(vec![
        "",
        "o",
        "op",
        "open",
        "closed",
        "é",
        "2026-11-30T10:00:00Z",
    ])
    .prop_map(|s| Value::String(s.to_owned()))
}

pub(crate) fn bool_val() -> impl Strategy<Value = Value> {
    any::<bool>().prop_map(Value::Bool)
}

pub(crate) fn date_val() -> impl Strategy<Value = Value> {
    select(DATE_OFFSETS.to_vec()).prop_map(|o| Value::Date(at(o)))
}

pub(crate) fn any_val() -> BoxedStrategy<Value> {
    prop_oneof![int_val(), str_val(), bool_val(), date_val()].boxed()
}

/// A value of the attribute's natural type most of the time, any type otherwise.
pub(crate) fn attr_val(attr: usize) -> BoxedStrategy<Value> {
    let natural = match attr {
        0 => int_val().boxed(),
        1 => str_val().boxed(),
        2 => bool_val().boxed(),
        _ => date_val().boxed(),
    };
    prop_oneof![4 => natural, 1 => any_val()].boxed()
}

fn ordered_val(attr: usize) -> BoxedStrategy<Value> {
    match attr {
        0 => int_val().boxed(),
        3 => date_val().boxed(),
        _ => prop_oneof![int_val(), date_val()].boxed(),
    }
}

fn same_type_list(attr: usize) -> BoxedStrategy<Vec<Value>> {
    let of = |s: BoxedStrategy<Value>| proptest::collection::vec(s, 1..4).boxed();
    let natural = match attr {
        0 => of(int_val().boxed()),
        1 => of(str_val().boxed()),
        2 => of(bool_val().boxed()),
        _ => of(date_val().boxed()),
    };
    prop_oneof![
        3 => natural,
        1 => prop_oneof![
            of(int_val().boxed()),
            of(str_val().boxed()),
            of(bool_val().boxed()),
            of(date_val().boxed())
        ]
    ]
    .boxed()
}

/// One condition as grant JSON (`present` only in allow rules: in a deny rule it always
/// holds, and grants refuse it).
fn condition_for(allow: bool) -> BoxedStrategy<J> {
    (0..ATTRS.len())
        .prop_flat_map(move |a| {
            let name = ATTRS[a];
            let op: BoxedStrategy<(&'static str, J)> = prop_oneof![
                attr_val(a).prop_map(|v| ("eq", v.to_json())),
                attr_val(a).prop_map(|v| ("ne", v.to_json())),
                (select(vec!["lt", "le", "gt", "ge"]), ordered_val(a))
                    .prop_map(|(o, v)| (o, v.to_json())),
                same_type_list(a)
                    .prop_map(|vs| ("in", J::Array(vs.iter().map(Value::to_json).collect()))),
                Just(("present", J::Bool(true))),
                select(vec!["", "o", "op", "clo", "open", "é"])
                    .prop_map(|p| ("prefix", J::String(p.to_owned()))),
                select(vec!["1s", "1m", "1h", "1d"])
                    .prop_map(|s| ("within", J::String(s.to_owned()))),
            ]
            .boxed();
            op.prop_filter("`present` is for allow rules", move |(o, _)| {
                allow || *o != "present"
            })
            .prop_map(move |(o, arg)| {
                let mut m = Map::new();
                m.insert("attr".into(), name.into());
                m.insert(o.into(), arg);
                J::Object(m)
            })
        })
        .boxed()
}

/// A resource pattern over a small alphabet: 1-3 segments, maybe a trailing `**`.
pub(crate) fn pattern() -> BoxedStrategy<String> {
    (
        proptest::collection::vec(select(vec!["a", "b", "c", "*", "a.b"]), 1..=3),
        proptest::option::of(Just("**")),
    )
        .prop_map(|(mut segs, tail)| {
            segs.extend(tail);
            segs.join("/")
        })
        .boxed()
}

/// A canonical request resource over the same alphabet (verifiers refuse the others
/// before any evaluation: see `warrant_core::pattern::check_resource`).
pub(crate) fn resource() -> BoxedStrategy<String> {
    proptest::collection::vec(select(vec!["a", "b", "c", "a.b", "aXb", "é", "*"]), 1..=4)
        .prop_map(|segs| segs.join("/"))
        .boxed()
}

fn actions() -> BoxedStrategy<J> {
    prop_oneof![
        1 => Just(json!(["*"])),
        3 => subsequence(vec!["read", "write"], 1..=2).prop_map(|a| json!(a)),
    ]
    .boxed()
}

/// A `human` requirement.
pub(crate) fn human() -> BoxedStrategy<J> {
    (
        subsequence(vec!["passkey", "device-key", "oidc"], 1..=3).prop_shuffle(),
        proptest::option::of(select(vec!["1m", "5m", "1h"])),
        proptest::option::of(prop_oneof![
            Just(json!({"kyc": true})),
            Just(json!({"age": 18})),
            Just(json!({"kyc": true, "age": 18})),
        ]),
        any::<bool>(),
    )
        .prop_map(|(methods, max_age, attrs, name_methods)| {
            let mut m = Map::new();
            if name_methods {
                m.insert("methods".into(), json!(methods));
            }
            if let Some(a) = max_age {
                m.insert("max_age".into(), a.into());
            }
            if let Some(a) = attrs {
                m.insert("attrs".into(), a);
            }
            J::Object(m)
        })
        .boxed()
}

/// A rule; allow rules sometimes carry a `human` requirement.
pub(crate) fn rule(allow: bool, with_human: bool) -> BoxedStrategy<J> {
    let h = if allow && with_human {
        proptest::option::weighted(0.3, human()).boxed()
    } else {
        Just(None).boxed()
    };
    (
        proptest::collection::vec(pattern(), 1..=2),
        actions(),
        proptest::collection::vec(condition_for(allow), 0..=2),
        h,
    )
        .prop_map(|(resources, actions, when, human)| {
            let mut m = Map::new();
            m.insert("resources".into(), json!(resources));
            m.insert("actions".into(), actions);
            if !when.is_empty() {
                m.insert("when".into(), J::Array(when));
            }
            if let Some(h) = human {
                m.insert("human".into(), h);
            }
            J::Object(m)
        })
        .boxed()
}

/// Grant JSON that mints at NOW: 1-3 allow rules, 0-2 deny rules, maybe an audience,
/// an absolute expiry and a start.
pub(crate) fn grant(with_human: bool) -> BoxedStrategy<J> {
    (
        proptest::option::of(subsequence(vec!["api-a", "api-b"], 1..=2)),
        proptest::option::of(select(vec![60i64, 3600])),
        proptest::option::of(select(vec![-3600i64, -60, 30])),
        proptest::collection::vec(rule(true, with_human), 1..=3),
        proptest::collection::vec(rule(false, false), 0..=2),
    )
        .prop_map(|(aud, exp, nb, allow, deny)| {
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
            m.insert("allow".into(), J::Array(allow));
            if !deny.is_empty() {
                m.insert("deny".into(), J::Array(deny));
            }
            J::Object(m)
        })
        .boxed()
}

/// How the issuer verified the human (`None`: an offline mint).
pub(crate) fn verification() -> BoxedStrategy<Option<Verification>> {
    proptest::option::weighted(
        0.6,
        (
            select(Method::ALL.to_vec()),
            select(vec![-7200i64, -600, -60, 0]),
        )
            .prop_map(|(method, off)| Verification {
                method,
                at: at(off),
            }),
    )
    .boxed()
}

/// Verified human attributes the issuer stamps.
pub(crate) fn human_attrs() -> BoxedStrategy<BTreeMap<AttrName, Value>> {
    (
        proptest::option::of(bool_val()),
        proptest::option::of(select(vec![17i64, 18]).prop_map(Value::Integer)),
    )
        .prop_map(|(kyc, age)| {
            let mut m = BTreeMap::new();
            if let Some(k) = kyc {
                m.insert("kyc".parse().unwrap(), k);
            }
            if let Some(a) = age {
                m.insert("age".parse().unwrap(), a);
            }
            m
        })
        .boxed()
}

/// Request times (seconds from NOW) around every boundary the grants use.
const TIMES: [i64; 22] = [
    -3601, -3600, -61, -60, -1, 0, 1, 29, 30, 31, 59, 60, 61, 240, 299, 300, 599, 600, 601, 3599,
    3600, 3601,
];

/// A request: resource, action, time, audience and attributes (sometimes missing, sometimes
/// of another type).
pub(crate) fn request() -> BoxedStrategy<RequestFacts> {
    (
        resource(),
        select(vec!["read", "write", "delete"]),
        select(TIMES.to_vec()),
        proptest::option::of(select(vec!["api-a", "api-b", "api-c"])),
        proptest::option::weighted(0.8, attr_val(0)),
        proptest::option::weighted(0.8, attr_val(1)),
        proptest::option::weighted(0.8, attr_val(2)),
        proptest::option::weighted(0.8, attr_val(3)),
    )
        .prop_map(|(resource, action, t, aud, a0, a1, a2, a3)| {
            let mut r = RequestFacts::new(resource, action, at(t));
            r.audience = aud.map(str::to_owned);
            for (name, v) in ATTRS.iter().zip([a0, a1, a2, a3]) {
                if let Some(v) = v {
                    r.attrs.insert((*name).to_owned(), v);
                }
            }
            r
        })
        .boxed()
}

/// A small deterministic generator (for [`near_request`], and the narrowing of grants
/// in the intersection tests).
pub(crate) struct Pick(pub(crate) u64);

impl Pick {
    pub(crate) fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap()
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub(crate) fn of<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A request aimed at one rule of `g` (allow or deny): its resource instantiated from one
/// of the rule's patterns, one of its actions, and attributes that mostly satisfy its
/// conditions, at a time and audience near the grant's boundaries.
pub(crate) fn near_request(g: &Grant, seed: u64) -> RequestFacts {
    let mut p = Pick(seed | 1);
    let rules: Vec<&Rule> = g.allow.iter().chain(&g.deny).collect();
    let rule = *p.of(&rules);
    let pat = p.of(&rule.resources).as_str().to_owned();
    let segs: Vec<&str> = pat.split('/').collect();
    let mut out: Vec<String> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match *s {
            "**" | "*" if last => {
                for _ in 0..=p.below(2) {
                    out.push((*p.of(&["a", "x", "a.b"])).to_owned());
                }
            }
            "*" => out.push((*p.of(&["a", "x", "é"])).to_owned()),
            lit => out.push(lit.to_owned()),
        }
    }
    if p.chance(10) {
        out.pop();
    }
    let action = match &rule.actions {
        Actions::Listed(l) if !p.chance(10) => p.of(l).as_str().to_owned(),
        _ => (*p.of(&["read", "write", "delete"])).to_owned(),
    };
    let mut r = RequestFacts::new(out.join("/"), action, at(*p.of(&TIMES)));
    r.audience = match g.audience.first() {
        Some(a) if p.chance(85) => Some(a.as_str().to_owned()),
        _ => p
            .chance(50)
            .then(|| (*p.of(&["api-a", "api-b", "api-c"])).to_owned()),
    };
    for c in &rule.when {
        if !p.chance(85) {
            continue;
        }
        let t = r.time;
        let v = match &c.op {
            Op::Eq(v) | Op::Le(v) | Op::Ge(v) => v.clone(),
            Op::Ne(v) | Op::Lt(v) | Op::Gt(v) => nudge(v, matches!(c.op, Op::Gt(_))),
            Op::In(vs) => p.of(vs).clone(),
            Op::Present => Value::Integer(1),
            Op::Prefix(s) => Value::String(format!("{s}x")),
            Op::Within(_) => Value::Date(t),
        };
        r.attrs.insert(c.attr.as_str().to_owned(), v);
    }
    r
}

/// A value next to `v`: one more when `up`, one less otherwise (strings and bools change).
fn nudge(v: &Value, up: bool) -> Value {
    let d = if up { 1 } else { -1 };
    match v {
        Value::Integer(i) => Value::Integer(i.saturating_add(d)),
        Value::Date(t) => Value::Date(if up {
            t.plus(Span::from_seconds(1))
        } else {
            t.minus(Span::from_seconds(1))
        }),
        Value::Bool(b) => Value::Bool(!b),
        Value::String(s) => Value::String(format!("{s}~")),
    }
}
