//! Compilation of a [`Grant`] to Biscuit Datalog.
//!
//! The output is fixed by the token profile (`docs/token-profile.md`). Every user value
//! reaches Datalog as a parameter, never spliced into source text, so no value can
//! inject Datalog; resource wildcards become escaped regular expressions.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use biscuit_auth::builder::{BlockBuilder, Term};

use crate::grant::{Actions, Condition, Grant, GrantError, HumanRequirement, Op, Rule};
use crate::pattern::PatternTest;
use crate::time::Timestamp;
use crate::value::Value;

/// Predicates a raw Datalog escape hatch may not define: the request facts the verifier
/// supplies and the authority facts the issuer stamps.
pub const RESERVED_PREDICATES: [&str; 15] = [
    "time",
    "resource",
    "action",
    "audience",
    "attr",
    "attr_age",
    "warrant_profile",
    "warrant_grant",
    "token_id",
    "issuer",
    "issued_at",
    "human",
    "human_verification",
    "human_attr",
    "holder",
];

/// What each check of a compiled block stands for, in block order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckRole {
    /// `check if time($t), $t <= …`
    Expiry(Timestamp),
    /// `check if time($t), $t >= …`
    NotBefore(Timestamp),
    /// `check if audience($aud), … .contains($aud)`
    Audience,
    /// `check if <allow rule 0> or <allow rule 1> or …`
    Allow,
    /// `reject if <deny rule i>`
    Deny(usize),
    /// A check from the raw Datalog escape hatch.
    Raw,
}

/// Facts from the authority block that compilation depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompileContext {
    /// When the delegating human was verified (`human_verification`'s date): `max_age`
    /// on a rule becomes a fixed deadline from it.
    pub human_verified_at: Option<Timestamp>,
}

/// Why a grant could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The grant is invalid.
    #[error("{0}")]
    Grant(#[from] GrantError),
    /// Biscuit refused the generated Datalog (a bug in warrant if it happens).
    #[error("could not build the Datalog block: {0}")]
    Biscuit(String),
}

struct Emitter {
    src: String,
    params: HashMap<String, Term>,
}

impl Emitter {
    fn param(&mut self, term: Term) -> String {
        let name = format!("p{}", self.params.len());
        self.params.insert(name.clone(), term);
        format!("{{{name}}}")
    }

    fn string(&mut self, s: &str) -> String {
        self.param(Term::Str(s.to_owned()))
    }

    fn set(&mut self, items: impl IntoIterator<Item = Term>) -> String {
        self.param(Term::Set(items.into_iter().collect::<BTreeSet<_>>()))
    }
}

/// The Datalog block for `grant` (whose `ttl` must already be resolved to `expires_at`),
/// with the role of each check.
pub fn compile(
    grant: &Grant,
    ctx: CompileContext,
) -> Result<(BlockBuilder, Vec<CheckRole>), CompileError> {
    let mut e = Emitter {
        src: String::new(),
        params: HashMap::new(),
    };
    let mut roles = Vec::new();
    if grant.ttl.is_some() {
        return Err(
            GrantError::new("ttl", "must be resolved to `expires_at` before compiling").into(),
        );
    }
    let grant_json = grant.to_json().to_string();
    let p = e.param(Term::Bytes(grant_json.into_bytes()));
    let _ = writeln!(e.src, "warrant_grant({p});");
    if let Some(t) = grant.expires_at {
        let p = e.param(Term::Date(t.unix()));
        let _ = writeln!(e.src, "check if time($t), $t <= {p};");
        roles.push(CheckRole::Expiry(t));
    }
    if let Some(t) = grant.not_before {
        let p = e.param(Term::Date(t.unix()));
        let _ = writeln!(e.src, "check if time($t), $t >= {p};");
        roles.push(CheckRole::NotBefore(t));
    }
    if !grant.audience.is_empty() {
        let p = e.set(
            grant
                .audience
                .iter()
                .map(|a| Term::Str(a.as_str().to_owned())),
        );
        let _ = writeln!(e.src, "check if audience($aud), {p}.contains($aud);");
        roles.push(CheckRole::Audience);
    }
    if !grant.allow.is_empty() {
        let mut bodies = Vec::with_capacity(grant.allow.len());
        for (i, rule) in grant.allow.iter().enumerate() {
            bodies.push(rule_body(&mut e, rule, ctx, &format!("allow[{i}]"))?);
        }
        let _ = writeln!(e.src, "check if {};", bodies.join("\n  or "));
        roles.push(CheckRole::Allow);
    }
    for (i, rule) in grant.deny.iter().enumerate() {
        let body = rule_body(&mut e, rule, ctx, &format!("deny[{i}]"))?;
        let _ = writeln!(e.src, "reject if {body};");
        roles.push(CheckRole::Deny(i));
    }
    let mut block = BlockBuilder::new()
        .code_with_params(&e.src, e.params, HashMap::new())
        .map_err(|err| CompileError::Biscuit(err.to_string()))?;
    if let Some(raw) = &grant.datalog {
        let raw_block = parse_raw(raw)?;
        roles.extend(raw_block.checks.iter().map(|_| CheckRole::Raw));
        block = block.merge(raw_block);
    }
    Ok((block, roles))
}

fn rule_body(
    e: &mut Emitter,
    rule: &Rule,
    ctx: CompileContext,
    path: &str,
) -> Result<String, GrantError> {
    let mut parts = vec!["resource($r)".to_owned(), "action($a)".to_owned()];
    let tests: Vec<String> = rule
        .resources
        .iter()
        .map(|pat| match pat.test() {
            PatternTest::Any => "$r != \"\"".to_owned(),
            PatternTest::Equals(s) => format!("$r == {}", e.string(&s)),
            PatternTest::Below(prefix) => {
                let p = e.string(&prefix);
                let q = e.string(&prefix);
                format!("$r.starts_with({p}) && $r != {q}")
            }
            PatternTest::Regex(re) => format!("$r.matches({})", e.string(&re)),
        })
        .collect();
    parts.push(if tests.len() == 1 {
        tests.concat()
    } else {
        tests
            .iter()
            .map(|t| format!("({t})"))
            .collect::<Vec<_>>()
            .join(" || ")
    });
    if let Actions::Listed(actions) = &rule.actions {
        let p = e.set(actions.iter().map(|a| Term::Str(a.as_str().to_owned())));
        parts.push(format!("{p}.contains($a)"));
    }
    for (i, c) in rule.when.iter().enumerate() {
        condition(e, c, i, &mut parts);
    }
    if let Some(h) = &rule.human {
        human(e, h, ctx, path, &mut parts)?;
    }
    Ok(parts.join(", "))
}

fn condition(e: &mut Emitter, c: &Condition, i: usize, parts: &mut Vec<String>) {
    let v = format!("$v{i}");
    let name = e.string(c.attr.as_str());
    if let Op::Within(span) = &c.op {
        parts.push(format!("attr_age({name}, {v})"));
        let limit = e.param(Term::Integer(
            i64::try_from(span.seconds()).unwrap_or(i64::MAX),
        ));
        parts.push(format!("{v} <= {limit}"));
        return;
    }
    parts.push(format!("attr({name}, {v})"));
    if let Some(t) = c.op.expected_type() {
        let tn = e.string(t.name());
        parts.push(format!("{v}.type() == {tn}"));
    }
    let mut cmp = |op: &str, val: &Value| {
        let p = e.param(val.to_term());
        format!("{v} {op} {p}")
    };
    let test = match &c.op {
        Op::Eq(x) => cmp("==", x),
        Op::Ne(x) => cmp("!=", x),
        Op::Lt(x) => cmp("<", x),
        Op::Le(x) => cmp("<=", x),
        Op::Gt(x) => cmp(">", x),
        Op::Ge(x) => cmp(">=", x),
        Op::In(xs) => {
            let p = e.set(xs.iter().map(Value::to_term));
            format!("{p}.contains({v})")
        }
        Op::Prefix(s) => {
            let p = e.string(s);
            format!("{v}.starts_with({p})")
        }
        Op::Present | Op::Within(_) => return,
    };
    parts.push(test);
}

fn human(
    e: &mut Emitter,
    h: &HumanRequirement,
    ctx: CompileContext,
    path: &str,
    parts: &mut Vec<String>,
) -> Result<(), GrantError> {
    let methods = e.set(h.methods.iter().map(|m| Term::Str(m.as_str().to_owned())));
    parts.push("human_verification($hm, $hat)".to_owned());
    parts.push(format!("{methods}.contains($hm)"));
    if let Some(max_age) = h.max_age {
        let at = ctx.human_verified_at.ok_or_else(|| {
            GrantError::new(
                format!("{path}.human.max_age"),
                "the token records no human verification time to measure it from",
            )
        })?;
        let deadline = e.param(Term::Date(at.plus(max_age).unix()));
        parts.push("time($ht)".to_owned());
        parts.push(format!("$ht <= {deadline}"));
    }
    for (i, (name, value)) in h.attrs.iter().enumerate() {
        let n = e.string(name.as_str());
        let t = e.string(value.value_type().name());
        let x = e.param(value.to_term());
        parts.push(format!("human_attr({n}, $ha{i})"));
        parts.push(format!("$ha{i}.type() == {t}"));
        parts.push(format!("$ha{i} == {x}"));
    }
    Ok(())
}

fn parse_raw(raw: &str) -> Result<BlockBuilder, GrantError> {
    BlockBuilder::new().code(raw).map_err(|err| {
        GrantError::new(
            "datalog",
            format!("invalid Datalog: {}", one_line(&err.to_string())),
        )
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks the raw Datalog escape hatch: it must parse, and may not define a reserved
/// predicate (a request fact or an authority fact).
pub(crate) fn check_raw_datalog(raw: &str) -> Result<(), GrantError> {
    let block = parse_raw(raw)?;
    let heads = block
        .facts
        .iter()
        .map(|f| &f.predicate.name)
        .chain(block.rules.iter().map(|r| &r.head.name));
    for name in heads {
        if RESERVED_PREDICATES.contains(&name.as_str()) {
            return Err(GrantError::new(
                "datalog",
                format!("may not define `{name}`: it is reserved for the verifier and the issuer"),
            ));
        }
    }
    if !block.scopes.is_empty() {
        return Err(GrantError::new(
            "datalog",
            "block-level `trusting` annotations are not allowed; put them on each rule or check",
        ));
    }
    Ok(())
}
