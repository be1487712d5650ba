//! Compilation of a [`Grant`] to Biscuit Datalog.
//!
//! The output is fixed by the token profile (`docs/token-profile.md`, version 2): checks
//! built directly as Biscuit's structures, never as source text, so no value can inject
//! Datalog; resource wildcards become escaped regular expressions. The form is the
//! leanest that keeps the semantics, and [`crate::decompile`] recognises it by structure:
//! a block is in the profile when decompiling and compiling it again gives the very same
//! checks.
//!
//! Deny rules fail closed: a deny rule is a check that passes only when the request's
//! resource or action is outside the rule, or one of its conditions can be evaluated and
//! is false. A missing or mistyped attribute lets the deny rule fire.

use biscuit_auth::builder::{
    Binary, BlockBuilder, Check, CheckKind, Expression, Op as DOp, Predicate, Rule as Query, Term,
    Unary,
};

use crate::grant::{
    parse_datalog, Actions, Condition, Grant, GrantError, HumanRequirement, Op, Rule,
};
use crate::pattern::PatternTest;
use crate::time::Timestamp;
use crate::value::Value;

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
    /// When the delegating human was verified (the date of the `human` fact): `max_age`
    /// on a rule becomes a fixed deadline from it.
    pub human_verified_at: Option<Timestamp>,
}

/// The variable names compiled checks use (short: every name is a symbol in the token).
mod v {
    pub(crate) const TIME: &str = "t";
    pub(crate) const RESOURCE: &str = "r";
    pub(crate) const ACTION: &str = "a";
    pub(crate) const AUDIENCE: &str = "a";
    pub(crate) const METHOD: &str = "m";
    pub(crate) const HUMAN: &str = "i";
    pub(crate) const VERIFIED_AT: &str = "h";

    /// The variable of condition `i`.
    pub(crate) fn cond(i: usize) -> String {
        format!("v{i}")
    }
}

/// Expressions in Biscuit's postfix form.
pub(crate) mod ops {
    use biscuit_auth::builder::{Binary, Expression, Op, Term, Unary};

    pub(crate) fn var(name: &str) -> Vec<Op> {
        vec![Op::Value(Term::Variable(name.to_owned()))]
    }

    pub(crate) fn val(t: Term) -> Vec<Op> {
        vec![Op::Value(t)]
    }

    pub(crate) fn bin(mut left: Vec<Op>, right: Vec<Op>, op: Binary) -> Vec<Op> {
        left.extend(right);
        left.push(Op::Binary(op));
        left
    }

    /// `!(e)`
    pub(crate) fn not(mut e: Vec<Op>) -> Vec<Op> {
        e.push(Op::Unary(Unary::Parens));
        e.push(Op::Unary(Unary::Negate));
        e
    }

    /// `a || b || …` (`None` for no terms), in Biscuit's lazy form: the right operand
    /// is a closure without parameters, as Biscuit's parser makes it.
    pub(crate) fn any(tests: Vec<Vec<Op>>) -> Option<Vec<Op>> {
        let mut it = tests.into_iter();
        let first = it.next()?;
        Some(it.fold(first, |mut acc, t| {
            acc.push(Op::Closure(Vec::new(), t));
            acc.push(Op::Binary(Binary::LazyOr));
            acc
        }))
    }

    pub(crate) fn expr(ops: Vec<Op>) -> Expression {
        Expression { ops }
    }
}

fn pred(name: &str, terms: Vec<Term>) -> Predicate {
    Predicate::new(name.to_owned(), terms)
}

fn var(name: &str) -> Term {
    Term::Variable(name.to_owned())
}

fn str_term(s: &str) -> Term {
    Term::Str(s.to_owned())
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Term {
    Term::Array(items.into_iter().map(str_term).collect())
}

/// One query of a check: `body, expressions` (an empty query is `true`).
fn query(body: Vec<Predicate>, mut expressions: Vec<Expression>) -> Query {
    if body.is_empty() && expressions.is_empty() {
        expressions.push(ops::expr(ops::val(Term::Bool(true))));
    }
    Query {
        head: pred("query", Vec::new()),
        body,
        expressions,
        parameters: None,
        scopes: Vec::new(),
        scope_parameters: None,
    }
}

fn check_if(queries: Vec<Query>) -> Check {
    Check {
        queries,
        kind: CheckKind::One,
    }
}

/// A compiled grant: its checks, with the role of each.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// The checks, in block order.
    pub checks: Vec<Check>,
    /// What each check stands for.
    pub roles: Vec<CheckRole>,
}

/// The checks `grant` (whose `ttl` must already be resolved to `expires_at`) compiles
/// to, raw Datalog aside: the profile's exact form, which a verifier recognises to
/// evaluate the block natively.
pub fn compile_checks(grant: &Grant, ctx: CompileContext) -> Result<Compiled, GrantError> {
    grant.validate()?;
    if grant.ttl.is_some() {
        return Err(GrantError::new(
            "ttl",
            "must be resolved to `expires_at` before compiling",
        ));
    }
    let mut checks = Vec::new();
    let mut roles = Vec::new();
    if let Some(t) = grant.expires_at {
        checks.push(time_check(t, Binary::LessOrEqual));
        roles.push(CheckRole::Expiry(t));
    }
    if let Some(t) = grant.not_before {
        checks.push(time_check(t, Binary::GreaterOrEqual));
        roles.push(CheckRole::NotBefore(t));
    }
    match grant.audience.as_slice() {
        [] => {}
        [one] => {
            checks.push(check_if(vec![query(
                vec![pred("audience", vec![str_term(one.as_str())])],
                Vec::new(),
            )]));
            roles.push(CheckRole::Audience);
        }
        many => {
            let list = strings(many.iter().map(|a| a.as_str()));
            let e = ops::bin(ops::val(list), ops::var(v::AUDIENCE), Binary::Contains);
            checks.push(check_if(vec![query(
                vec![pred("audience", vec![var(v::AUDIENCE)])],
                vec![ops::expr(e)],
            )]));
            roles.push(CheckRole::Audience);
        }
    }
    if !grant.allow.is_empty() {
        let mut queries = Vec::with_capacity(grant.allow.len());
        for (i, rule) in grant.allow.iter().enumerate() {
            queries.push(allow_query(rule, ctx, &format!("allow[{i}]"))?);
        }
        checks.push(check_if(queries));
        roles.push(CheckRole::Allow);
    }
    for (i, rule) in grant.deny.iter().enumerate() {
        checks.push(check_if(deny_branches(rule)));
        roles.push(CheckRole::Deny(i));
    }
    Ok(Compiled { checks, roles })
}

/// `check if time($t), $t <op> <t>`: the expiry check (`op` is `<=`) or the not-before
/// check (`>=`) [`compile_checks`] writes for a grant with that time (and nothing else
/// of a grant can make it fail, so this is its whole compilation).
pub(crate) fn time_check(t: Timestamp, op: Binary) -> Check {
    let e = ops::bin(ops::var(v::TIME), ops::val(Term::Date(t.unix())), op);
    check_if(vec![query(
        vec![pred("time", vec![var(v::TIME)])],
        vec![ops::expr(e)],
    )])
}

/// The Datalog block for `grant` (whose `ttl` must already be resolved to `expires_at`),
/// with the role of each check.
pub fn compile(
    grant: &Grant,
    ctx: CompileContext,
) -> Result<(BlockBuilder, Vec<CheckRole>), GrantError> {
    let Compiled { checks, mut roles } = compile_checks(grant, ctx)?;
    // The checks are Biscuit's own structures without parameters: nothing for
    // `BlockBuilder::check` to refuse.
    let mut block = BlockBuilder::new();
    block.checks = checks;
    if let Some(raw) = &grant.datalog {
        let raw_block = parse_datalog(raw)?;
        roles.extend(raw_block.checks.iter().map(|_| CheckRole::Raw));
        block = block.merge(raw_block);
    }
    Ok((block, roles))
}

/// The test that `$r` matches one of `patterns` (`None`: every resource matches).
fn resource_test(patterns: &[crate::pattern::ResourcePattern]) -> Option<Vec<DOp>> {
    let tests: Vec<PatternTest> = patterns.iter().map(|p| p.test()).collect();
    if tests.contains(&PatternTest::Any) {
        return None;
    }
    let r = || ops::var(v::RESOURCE);
    if tests.len() > 1 && tests.iter().all(|t| matches!(t, PatternTest::Equals(_))) {
        let list = Term::Array(
            tests
                .iter()
                .filter_map(|t| match t {
                    PatternTest::Equals(s) => Some(str_term(s)),
                    _ => None,
                })
                .collect(),
        );
        return Some(ops::bin(ops::val(list), r(), Binary::Contains));
    }
    ops::any(
        tests
            .into_iter()
            .filter_map(|t| match t {
                PatternTest::Any => None,
                PatternTest::Equals(s) => Some(ops::bin(
                    r(),
                    ops::val(Term::Str(s)),
                    Binary::HeterogeneousEqual,
                )),
                PatternTest::Below(p) => {
                    Some(ops::bin(r(), ops::val(Term::Str(p)), Binary::Prefix))
                }
                PatternTest::Regex(re) => {
                    Some(ops::bin(r(), ops::val(Term::Str(re)), Binary::Regex))
                }
            })
            .collect(),
    )
}

/// The test that `$a` is one of `actions` (`None` for a single action, tested by a
/// constant in the predicate, or for every action).
fn action_test(actions: &Actions) -> Option<Vec<DOp>> {
    match actions {
        Actions::Listed(list) if list.len() > 1 => Some(ops::bin(
            ops::val(strings(list.iter().map(|a| a.as_str()))),
            ops::var(v::ACTION),
            Binary::Contains,
        )),
        _ => None,
    }
}

/// `resource(…)` and `action(…)` predicates of a rule, with the tests they need.
fn covers(rule: &Rule, body: &mut Vec<Predicate>, exprs: &mut Vec<Expression>) {
    let single_exact = match rule.resources.as_slice() {
        [one] => match one.test() {
            PatternTest::Equals(s) => Some(s),
            _ => None,
        },
        _ => None,
    };
    if let Some(s) = single_exact {
        body.push(pred("resource", vec![Term::Str(s)]));
    } else if let Some(test) = resource_test(&rule.resources) {
        body.push(pred("resource", vec![var(v::RESOURCE)]));
        exprs.push(ops::expr(test));
    }
    match &rule.actions {
        Actions::Any => {}
        Actions::Listed(list) => match list.as_slice() {
            [one] => body.push(pred("action", vec![str_term(one.as_str())])),
            _ => {
                body.push(pred("action", vec![var(v::ACTION)]));
                if let Some(test) = action_test(&rule.actions) {
                    exprs.push(ops::expr(test));
                }
            }
        },
    }
}

/// The predicate binding condition `i`'s attribute, and the test that holds when the
/// condition holds (`None` for `present`).
fn condition_parts(c: &Condition, i: usize) -> (Predicate, Option<Vec<DOp>>) {
    let name = str_term(c.attr.as_str());
    let x = v::cond(i);
    if let Op::Within(span) = &c.op {
        let limit = Term::Integer(i64::try_from(span.seconds()).unwrap_or(i64::MAX));
        return (
            pred("attr_age", vec![name, var(&x)]),
            Some(ops::bin(ops::var(&x), ops::val(limit), Binary::LessOrEqual)),
        );
    }
    let cmp = |val: &Value, op: Binary| ops::bin(ops::var(&x), ops::val(val.to_term()), op);
    let test = match &c.op {
        Op::Eq(val) => Some(cmp(val, Binary::HeterogeneousEqual)),
        Op::Ne(val) => Some(cmp(val, Binary::HeterogeneousNotEqual)),
        Op::Lt(val) => Some(cmp(val, Binary::LessThan)),
        Op::Le(val) => Some(cmp(val, Binary::LessOrEqual)),
        Op::Gt(val) => Some(cmp(val, Binary::GreaterThan)),
        Op::Ge(val) => Some(cmp(val, Binary::GreaterOrEqual)),
        Op::In(vals) => Some(ops::bin(
            ops::val(Term::Array(vals.iter().map(Value::to_term).collect())),
            ops::var(&x),
            Binary::Contains,
        )),
        Op::Prefix(p) => Some(ops::bin(
            ops::var(&x),
            ops::val(str_term(p)),
            Binary::Prefix,
        )),
        Op::Present | Op::Within(_) => None,
    };
    (pred("attr", vec![name, var(&x)]), test)
}

/// `$x.type() == "…"`: guards a test whose operator would be an evaluation error (or,
/// for `ne`, true) on a value of another type. `in` needs none in allow rules (its
/// `contains` is simply false), nor `eq` (a constant term in the predicate).
fn type_guard(c: &Condition, i: usize) -> Option<Vec<DOp>> {
    let t = c.op.expected_type()?;
    let mut e = ops::var(&v::cond(i));
    e.push(DOp::Unary(Unary::TypeOf));
    Some(ops::bin(
        e,
        ops::val(str_term(t.name())),
        Binary::HeterogeneousEqual,
    ))
}

fn needs_guard_in_allow(op: &Op) -> bool {
    !matches!(op, Op::In(_) | Op::Present | Op::Within(_))
}

/// An allow rule as one query: it holds when the rule matches.
fn allow_query(rule: &Rule, ctx: CompileContext, path: &str) -> Result<Query, GrantError> {
    let mut body = Vec::new();
    let mut exprs = Vec::new();
    covers(rule, &mut body, &mut exprs);
    for (i, c) in rule.when.iter().enumerate() {
        // `eq` is a constant in the predicate: Biscuit matches terms by type and value.
        if let Op::Eq(val) = &c.op {
            body.push(pred("attr", vec![str_term(c.attr.as_str()), val.to_term()]));
            continue;
        }
        let (p, test) = condition_parts(c, i);
        body.push(p);
        if needs_guard_in_allow(&c.op) {
            if let Some(g) = type_guard(c, i) {
                exprs.push(ops::expr(g));
            }
        }
        if let Some(t) = test {
            exprs.push(ops::expr(t));
        }
    }
    if let Some(h) = &rule.human {
        human(h, ctx, path, &mut body, &mut exprs)?;
    }
    Ok(query(body, exprs))
}

/// A deny rule as the branches of one check: the check passes (the rule does not fire)
/// when the resource or the action is outside the rule, or some condition can be
/// evaluated and is false. A condition on a missing or mistyped attribute cannot be
/// evaluated, so it lets the rule fire: deny rules fail closed.
fn deny_branches(rule: &Rule) -> Vec<Query> {
    let mut branches = Vec::new();
    if let Some(test) = resource_test(&rule.resources) {
        branches.push(query(
            vec![pred("resource", vec![var(v::RESOURCE)])],
            vec![ops::expr(ops::not(test))],
        ));
    }
    if let Actions::Listed(list) = &rule.actions {
        let test = match list.as_slice() {
            [one] => ops::bin(
                ops::var(v::ACTION),
                ops::val(str_term(one.as_str())),
                Binary::HeterogeneousEqual,
            ),
            _ => action_test(&rule.actions).unwrap_or_default(),
        };
        branches.push(query(
            vec![pred("action", vec![var(v::ACTION)])],
            vec![ops::expr(ops::not(test))],
        ));
    }
    for (i, c) in rule.when.iter().enumerate() {
        let (p, test) = condition_parts(c, i);
        let Some(test) = test else { continue };
        let mut exprs = Vec::new();
        // `attr_age` exists only for dates: a `within` needs no guard.
        if !matches!(c.op, Op::Within(_)) {
            if let Some(g) = type_guard(c, i) {
                exprs.push(ops::expr(g));
            }
        }
        exprs.push(ops::expr(ops::not(test)));
        branches.push(query(vec![p], exprs));
    }
    if branches.is_empty() {
        branches.push(query(
            Vec::new(),
            vec![ops::expr(ops::val(Term::Bool(false)))],
        ));
    }
    branches
}

fn human(
    h: &HumanRequirement,
    ctx: CompileContext,
    path: &str,
    body: &mut Vec<Predicate>,
    exprs: &mut Vec<Expression>,
) -> Result<(), GrantError> {
    let method = match h.methods.as_slice() {
        [one] => str_term(one.as_str()),
        many => {
            exprs.push(ops::expr(ops::bin(
                ops::val(strings(many.iter().map(|m| m.as_str()))),
                ops::var(v::METHOD),
                Binary::Contains,
            )));
            var(v::METHOD)
        }
    };
    body.push(pred(
        "human",
        vec![var(v::HUMAN), method, var(v::VERIFIED_AT)],
    ));
    if let Some(max_age) = h.max_age {
        let at = ctx.human_verified_at.ok_or_else(|| {
            GrantError::new(
                format!("{path}.human.max_age"),
                "the token records no human verification time to measure it from",
            )
        })?;
        body.push(pred("time", vec![var(v::TIME)]));
        exprs.push(ops::expr(ops::bin(
            ops::var(v::TIME),
            ops::val(Term::Date(at.plus(max_age).unix())),
            Binary::LessOrEqual,
        )));
    }
    for (name, value) in &h.attrs {
        body.push(pred(
            "human_attr",
            vec![str_term(name.as_str()), value.to_term()],
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
