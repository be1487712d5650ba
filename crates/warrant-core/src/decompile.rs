//! The inverse of [`crate::compile`]: recognising profile blocks by their structure, and
//! decompiling them into grants ("lifting" them) so a verifier can evaluate them natively.
//!
//! Nothing here reads printed text. A block is read as data ([`crate::blocks`]), its
//! checks are decompiled into a [`Grant`], and the grant is compiled again
//! ([`crate::compile::compile_checks`]): the block is in the profile only if that gives
//! the very same checks, term for term, and the block has exactly the facts the profile
//! allows it (the authority facts [`crate::token::mint`] stamps; nothing in an
//! attenuation block; one `holder` in a delegation block), no rules and no scopes.
//! Anything else (raw Datalog, a block written by another Biscuit library, an
//! unexpected fact) is left to Biscuit's own evaluation, within the evaluation budget
//! ([`crate::budget`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use biscuit_auth::builder::{
    Binary, Check, CheckKind, Op as DOp, Predicate, Rule as Query, Term, Unary,
};

use crate::authority::{holder_facts, AuthorityFacts};
use crate::blocks::BlockData;
use crate::compile::{compile_checks, CheckRole, CompileContext, Compiled};
use crate::eval::{Failure, HumanFacts};
use crate::grant::{Actions, Condition, Grant, HumanRequirement, Method, Op, Rule};
use crate::pattern::{PatternTest, ResourcePattern};
use crate::request::RequestFacts;
use crate::time::{Span, Timestamp};
use crate::token::PROFILE_VERSION;
use crate::value::Value;
pub use memo::GrantMemo;

/// One block understood natively.
///
/// Its grant is kept without its expiry and not-before ([`LiftedBlock::timeless`]),
/// behind an [`Arc`]: the blocks of every token of the same grant (minted from one role
/// or one delegation template, at different times) share one copy through the
/// [`GrantMemo`]. The times, the only part such blocks differ in, are kept beside it;
/// [`LiftedBlock::evaluate`] evaluates both, exactly as [`evaluate`] evaluates the whole
/// grant ([`LiftedBlock::grant`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiftedBlock {
    /// The grant without its expiry and not-before (both always `None` here).
    timeless: Arc<Grant>,
    /// The grant's expiry.
    expires_at: Option<Timestamp>,
    /// The grant's not-before.
    not_before: Option<Timestamp>,
    /// The role of each check, in block order.
    pub roles: Vec<CheckRole>,
    /// What the grant was compiled with (its checks are the compilation of the grant
    /// with this context, so their text is rendered only when asked for).
    pub context: CompileContext,
    /// The holder a delegation block names.
    pub holder: Option<String>,
}

impl LiftedBlock {
    /// A block of `grant` (its times split off), whose checks have `roles`.
    fn new(mut grant: Grant, roles: Vec<CheckRole>, context: CompileContext) -> Self {
        let expires_at = grant.expires_at.take();
        let not_before = grant.not_before.take();
        Self::with_timeless(Arc::new(grant), expires_at, not_before, roles, context)
    }

    /// A block of grant `timeless` (its own times are ignored) valid from `not_before`
    /// to `expires_at`.
    fn with_timeless(
        timeless: Arc<Grant>,
        expires_at: Option<Timestamp>,
        not_before: Option<Timestamp>,
        roles: Vec<CheckRole>,
        context: CompileContext,
    ) -> Self {
        let timeless = if timeless.expires_at.is_some() || timeless.not_before.is_some() {
            let mut g = Grant::clone(&timeless);
            g.expires_at = None;
            g.not_before = None;
            Arc::new(g)
        } else {
            timeless
        };
        Self {
            timeless,
            expires_at,
            not_before,
            roles,
            context,
            holder: None,
        }
    }

    /// The grant without its expiry and not-before, shared with every block of the same
    /// grant.
    pub fn timeless(&self) -> &Arc<Grant> {
        &self.timeless
    }

    /// The block's expiry.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// The block's not-before.
    pub fn not_before(&self) -> Option<Timestamp> {
        self.not_before
    }

    /// The whole grant the block's Datalog was compiled from, times included (a copy).
    pub fn grant(&self) -> Grant {
        let mut g = Grant::clone(&self.timeless);
        g.expires_at = self.expires_at;
        g.not_before = self.not_before;
        g
    }

    /// Every failing check of the block, in block order: exactly
    /// `evaluate(&self.grant(), human, req)`, without copying the grant (the times are
    /// evaluated first, as [`evaluate`] does, then the timeless grant).
    pub fn evaluate(&self, human: Option<&HumanFacts>, req: &RequestFacts) -> Vec<Failure> {
        let mut out = Vec::new();
        crate::eval::evaluate_times(self.expires_at, self.not_before, req, &mut out);
        crate::eval::evaluate_timeless(&self.timeless, human, req, &mut out);
        out
    }

    /// The most telling failing check of the block, or `None` when it allows `req`:
    /// exactly `most_telling(&self.grant(), human, req)`, without copying the grant.
    pub fn most_telling(&self, human: Option<&HumanFacts>, req: &RequestFacts) -> Option<Failure> {
        crate::eval::most_telling_at(self.expires_at, self.not_before, &self.timeless, human, req)
    }

    /// The text of check `index` (block order) as Biscuit prints it, for explanations
    /// only: no decision reads it. Rendered on demand from the grant, whose compilation
    /// is the block's checks term for term (that is how the block was recognised).
    pub fn check_text(&self, index: usize) -> Option<String> {
        compile_checks(&self.grant(), self.context)
            .ok()?
            .checks
            .get(index)
            .map(ToString::to_string)
    }

    /// The text of every check (block order) as Biscuit prints it, for explanations only,
    /// rendered in one compilation of the grant.
    pub fn check_texts(&self) -> Vec<String> {
        compile_checks(&self.grant(), self.context)
            .map(|c| c.checks.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    }
}

/// A token whose every block is in the warrant profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifted {
    /// The authority block's facts (behind an [`Arc`], so a verifier keeps one copy).
    pub authority: Arc<AuthorityFacts>,
    /// The blocks, authority first.
    pub blocks: Vec<LiftedBlock>,
}

/// Lifts a token's blocks (read from the bytes its signatures were verified on), or
/// `None` if any block is outside the profile.
pub fn lift(blocks: &[BlockData]) -> Option<Lifted> {
    lift_with(blocks, None)
}

/// [`lift`], remembering in `memo` the grants it recognises and recognising a block
/// whose checks it has seen before without decompiling them again (the result is the
/// same: see [`memo`]).
pub fn lift_with(blocks: &[BlockData], memo: Option<&GrantMemo>) -> Option<Lifted> {
    let authority = profile_authority(blocks)?;
    let ctx = context(&authority);
    let lifted = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| lift_one(b, i, ctx, memo))
        .collect::<Option<Vec<_>>>()?;
    Some(Lifted {
        authority: Arc::new(authority),
        blocks: lifted,
    })
}

/// The authority facts of a profile token (`None` for another profile version, or an
/// authority block with facts beyond the profile's).
fn profile_authority(blocks: &[BlockData]) -> Option<AuthorityFacts> {
    let first = blocks.first()?;
    let authority = AuthorityFacts::from_facts(&first.facts);
    (authority.profile == Some(PROFILE_VERSION)
        && first.external_key.is_none()
        && authority.to_facts().ok()? == first.facts)
        .then_some(authority)
}

fn context(authority: &AuthorityFacts) -> CompileContext {
    CompileContext {
        human_verified_at: authority.verification.as_ref().map(|(_, at)| *at),
    }
}

/// Lifts block `index` of a token on its own (for inspection; a verifier lifts all or
/// nothing with [`lift`]).
pub fn lift_block(blocks: &[BlockData], index: usize) -> Option<LiftedBlock> {
    let authority = profile_authority(blocks)?;
    lift_one(blocks.get(index)?, index, context(&authority), None)
}

/// Lifts block `index` of a profile token whose authority gives `ctx`.
fn lift_one(
    block: &BlockData,
    index: usize,
    ctx: CompileContext,
    memo: Option<&GrantMemo>,
) -> Option<LiftedBlock> {
    let holder = match (index, &block.external_key, block.facts.as_slice()) {
        (0, _, _) | (_, None, []) => None,
        (_, Some(_), [fact]) if fact.predicate.name == "holder" => {
            let named = holder_facts(std::slice::from_ref(fact));
            let key: crate::keys::HolderPublicKey = named.first()?.parse().ok()?;
            Some(key.to_string())
        }
        _ => return None,
    };
    if !block.rules.is_empty() || !block.scopes.is_empty() {
        return None;
    }
    let mut lifted = memo::lift_checks_memo(&block.checks, ctx, memo)?;
    if index == 0 && lifted.timeless.allow.is_empty() {
        return None;
    }
    lifted.holder = holder;
    Some(lifted)
}

/// The grant of checks that are exactly a compiled grant (facts, rules and scopes are
/// the caller's to check).
fn lift_checks(block_checks: &[Check], ctx: CompileContext) -> Option<LiftedBlock> {
    lift_checks_compiled(block_checks, ctx).map(|(lifted, _)| lifted)
}

/// [`lift_checks`], with the compiled checks it compared the block's with (equal to
/// them, term for term).
fn lift_checks_compiled(
    block_checks: &[Check],
    ctx: CompileContext,
) -> Option<(LiftedBlock, Vec<Check>)> {
    let grant = decompile(block_checks, ctx)?;
    let Compiled { checks, roles } = compile_checks(&grant, ctx).ok()?;
    if checks != block_checks {
        return None;
    }
    // Copies hold exactly their contents (decompiling leaves spare capacity): the
    // grant may be kept by a cache for as long as any token of it.
    Some((LiftedBlock::new(grant.clone(), roles.to_vec(), ctx), checks))
}

/// A postfix expression as a tree (closures with parameters are never in the profile; a
/// lazy `||`'s right operand, a closure without any, is read as its body).
#[derive(Debug)]
enum Node<'a> {
    Val(&'a Term),
    Un(&'a Unary, Box<Node<'a>>),
    Bin(&'a Binary, Box<Node<'a>>, Box<Node<'a>>),
}

fn tree(ops: &[DOp]) -> Option<Node<'_>> {
    let mut stack: Vec<Node<'_>> = Vec::new();
    for op in ops {
        let node = match op {
            DOp::Value(t) => Node::Val(t),
            DOp::Unary(u) => Node::Un(u, Box::new(stack.pop()?)),
            DOp::Binary(b) => {
                let right = stack.pop()?;
                let left = stack.pop()?;
                Node::Bin(b, Box::new(left), Box::new(right))
            }
            // The right operand of a lazy `||`: a closure without parameters.
            DOp::Closure(params, inner) if params.is_empty() => tree(inner)?,
            DOp::Closure(..) => return None,
        };
        stack.push(node);
    }
    let top = stack.pop()?;
    stack.is_empty().then_some(top)
}

fn is_var(n: &Node<'_>, name: &str) -> bool {
    matches!(n, Node::Val(Term::Variable(v)) if v == name)
}

fn string<'a>(n: &Node<'a>) -> Option<&'a str> {
    match n {
        Node::Val(Term::Str(s)) => Some(s),
        _ => None,
    }
}

fn string_list(n: &Node<'_>) -> Option<Vec<String>> {
    match n {
        Node::Val(Term::Array(items)) => items
            .iter()
            .map(|t| match t {
                Term::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// `!(e)` → `e`
fn negated<'a, 'b>(n: &'b Node<'a>) -> Option<&'b Node<'a>> {
    match n {
        Node::Un(Unary::Negate, inner) => match inner.as_ref() {
            Node::Un(Unary::Parens, e) => Some(e),
            _ => None,
        },
        _ => None,
    }
}

fn decompile(checks: &[Check], ctx: CompileContext) -> Option<Grant> {
    let mut g = Grant::default();
    for check in checks {
        if check.kind != CheckKind::One {
            return None;
        }
        let queries = check.queries.as_slice();
        let trees: Vec<Vec<Node<'_>>> = queries
            .iter()
            .map(|q| {
                q.expressions
                    .iter()
                    .map(|e| tree(&e.ops))
                    .collect::<Option<_>>()
            })
            .collect::<Option<_>>()?;
        if let ([q], [exprs]) = (queries, trees.as_slice()) {
            if let Some(done) = time_or_audience(q, exprs, &mut g) {
                done?;
                continue;
            }
        }
        let is_deny = trees.iter().all(|exprs| {
            exprs
                .last()
                .is_some_and(|e| negated(e).is_some() || matches!(e, Node::Val(Term::Bool(false))))
        });
        if is_deny {
            g.deny.push(deny_rule(queries, &trees)?);
        } else {
            if !g.allow.is_empty() {
                return None;
            }
            g.allow = queries
                .iter()
                .zip(&trees)
                .map(|(q, exprs)| allow_rule(q, exprs, ctx))
                .collect::<Option<_>>()?;
        }
    }
    Some(g)
}

/// Expiry, not-before and audience checks: `Some(Some(()))` when read, `Some(None)` when
/// it has their shape but not their content, `None` when it is another check.
fn time_or_audience(q: &Query, exprs: &[Node<'_>], g: &mut Grant) -> Option<Option<()>> {
    match (q.body.as_slice(), exprs) {
        ([p], [Node::Bin(op, l, r)]) if p.name == "time" => {
            let Node::Val(Term::Date(d)) = r.as_ref() else {
                return Some(None);
            };
            if !is_var(l, "t") {
                return Some(None);
            }
            let at = Some(Timestamp::from_unix(*d));
            match op {
                Binary::LessOrEqual if g.expires_at.is_none() => g.expires_at = at,
                Binary::GreaterOrEqual if g.not_before.is_none() => g.not_before = at,
                _ => return Some(None),
            }
            Some(Some(()))
        }
        ([p], []) if p.name == "audience" => Some(match p.terms.as_slice() {
            [Term::Str(a)] => a.parse().ok().map(|a| g.audience = vec![a]),
            _ => None,
        }),
        ([p], [Node::Bin(Binary::Contains, list, x)]) if p.name == "audience" && is_var(x, "a") => {
            Some(string_list(list).and_then(|l| {
                g.audience = l.iter().map(|a| a.parse().ok()).collect::<Option<_>>()?;
                Some(())
            }))
        }
        _ => None,
    }
}

/// The patterns a resource test stands for.
fn resource_patterns(n: &Node<'_>) -> Option<Vec<ResourcePattern>> {
    let test = |t: PatternTest| ResourcePattern::from_test(&t).map(|p| vec![p]);
    match n {
        Node::Bin(Binary::LazyOr, l, r) => {
            let mut out = resource_patterns(l)?;
            out.extend(resource_patterns(r)?);
            Some(out)
        }
        Node::Bin(Binary::Contains, list, x) if is_var(x, "r") => string_list(list)?
            .into_iter()
            .map(|s| ResourcePattern::from_test(&PatternTest::Equals(s)))
            .collect(),
        Node::Bin(op, x, val) if is_var(x, "r") => {
            let s = string(val)?.to_owned();
            match op {
                Binary::HeterogeneousEqual => test(PatternTest::Equals(s)),
                Binary::Prefix => test(PatternTest::Below(s)),
                Binary::Regex => test(PatternTest::Regex(s)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn action_list(list: Vec<String>) -> Option<Actions> {
    Some(Actions::Listed(
        list.iter().map(|a| a.parse().ok()).collect::<Option<_>>()?,
    ))
}

fn value(t: &Term) -> Option<Value> {
    Value::from_term(t)
}

/// The operator of a condition test on variable `x` (`attr_age` tests are `within`).
fn condition_op(n: &Node<'_>, x: &str, age: bool) -> Option<Op> {
    match n {
        Node::Bin(Binary::Contains, list, v) if is_var(v, x) && !age => match list.as_ref() {
            Node::Val(Term::Array(items)) => {
                Some(Op::In(items.iter().map(value).collect::<Option<_>>()?))
            }
            _ => None,
        },
        Node::Bin(op, v, val) if is_var(v, x) => {
            let Node::Val(t) = val.as_ref() else {
                return None;
            };
            if age {
                return match (op, t) {
                    (Binary::LessOrEqual, Term::Integer(s)) => {
                        Some(Op::Within(Span::from_seconds(u64::try_from(*s).ok()?)))
                    }
                    _ => None,
                };
            }
            let val = || value(t);
            Some(match op {
                Binary::HeterogeneousEqual => Op::Eq(val()?),
                Binary::HeterogeneousNotEqual => Op::Ne(val()?),
                Binary::LessThan => Op::Lt(val()?),
                Binary::LessOrEqual => Op::Le(val()?),
                Binary::GreaterThan => Op::Gt(val()?),
                Binary::GreaterOrEqual => Op::Ge(val()?),
                Binary::Prefix => match t {
                    Term::Str(p) => Op::Prefix(p.clone()),
                    _ => return None,
                },
                _ => return None,
            })
        }
        _ => None,
    }
}

/// `$x.type() == "…"`
fn is_type_guard(n: &Node<'_>) -> bool {
    matches!(n, Node::Bin(Binary::HeterogeneousEqual, l, r)
        if matches!(l.as_ref(), Node::Un(Unary::TypeOf, _)) && string(r).is_some())
}

/// A condition predicate: `attr("name", $x)` or `attr_age("name", $x)`.
fn condition_pred(p: &Predicate) -> Option<(crate::value::AttrName, &str, bool)> {
    let age = match p.name.as_str() {
        "attr" => false,
        "attr_age" => true,
        _ => return None,
    };
    match p.terms.as_slice() {
        [Term::Str(name), Term::Variable(x)] => Some((name.parse().ok()?, x.as_str(), age)),
        _ => None,
    }
}

fn allow_rule(q: &Query, exprs: &[Node<'_>], ctx: CompileContext) -> Option<Rule> {
    let mut resources = None;
    let mut actions = Actions::Any;
    let mut conditions = Vec::new();
    let mut human: Option<HumanRequirement> = None;
    let mut methods: Option<Vec<Method>> = None;
    for p in &q.body {
        match (p.name.as_str(), p.terms.as_slice()) {
            ("resource", [Term::Str(s)]) => {
                resources = Some(vec![ResourcePattern::from_test(&PatternTest::Equals(
                    s.clone(),
                ))?]);
            }
            ("resource", [Term::Variable(_)]) => {}
            ("action", [Term::Str(a)]) => actions = action_list(vec![a.clone()])?,
            ("action", [Term::Variable(_)]) => {}
            ("human", [Term::Variable(_), m, Term::Variable(_)]) => {
                if let Term::Str(m) = m {
                    methods = Some(vec![Method::parse(m)?]);
                }
                human.get_or_insert_with(empty_human);
            }
            ("time", [Term::Variable(_)]) => {}
            ("attr", [Term::Str(name), v]) if !matches!(v, Term::Variable(_)) => {
                conditions.push(Condition {
                    attr: name.parse().ok()?,
                    op: Op::Eq(value(v)?),
                });
            }
            ("human_attr", [Term::Str(name), v]) => {
                human
                    .get_or_insert_with(empty_human)
                    .attrs
                    .insert(name.parse().ok()?, value(v)?);
            }
            _ => {
                let (name, x, age) = condition_pred(p)?;
                let op = exprs
                    .iter()
                    .filter(|e| !is_type_guard(e))
                    .find_map(|e| condition_op(e, x, age));
                let op = match op {
                    Some(op) => op,
                    None if !age => Op::Present,
                    None => return None,
                };
                conditions.push(Condition { attr: name, op });
            }
        }
    }
    for e in exprs {
        match e {
            Node::Bin(Binary::Contains, list, x) if is_var(x, "a") => {
                actions = action_list(string_list(list)?)?;
            }
            Node::Bin(Binary::Contains, list, x) if is_var(x, "m") => {
                methods = Some(
                    string_list(list)?
                        .iter()
                        .map(|m| Method::parse(m))
                        .collect::<Option<_>>()?,
                );
            }
            Node::Bin(Binary::LessOrEqual, x, d) if is_var(x, "t") => {
                let Node::Val(Term::Date(d)) = d.as_ref() else {
                    return None;
                };
                let at = ctx.human_verified_at?;
                let secs = d.checked_sub(at.unix())?;
                human.get_or_insert_with(empty_human).max_age = Some(Span::from_seconds(secs));
            }
            _ if resource_var(e) => resources = Some(resource_patterns(e)?),
            _ => {}
        }
    }
    if let (Some(h), Some(m)) = (human.as_mut(), methods) {
        h.methods = m;
    }
    Some(Rule {
        resources: resources.unwrap_or_else(every_resource),
        actions,
        when: conditions,
        human,
    })
}

fn empty_human() -> HumanRequirement {
    HumanRequirement {
        methods: Method::ALL.to_vec(),
        max_age: None,
        attrs: BTreeMap::new(),
    }
}

fn every_resource() -> Vec<ResourcePattern> {
    ResourcePattern::from_test(&PatternTest::Any)
        .into_iter()
        .collect()
}

/// Whether an expression tests the resource variable.
fn resource_var(n: &Node<'_>) -> bool {
    match n {
        Node::Bin(Binary::LazyOr, l, _) => resource_var(l),
        Node::Bin(Binary::Contains, _, x) => is_var(x, "r"),
        Node::Bin(_, x, _) => is_var(x, "r"),
        _ => false,
    }
}

fn deny_rule(queries: &[Query], trees: &[Vec<Node<'_>>]) -> Option<Rule> {
    let mut resources = None;
    let mut actions = Actions::Any;
    let mut conditions = Vec::new();
    for (q, exprs) in queries.iter().zip(trees) {
        let test = exprs.last().and_then(negated);
        match (q.body.as_slice(), test) {
            ([], None) => {}
            ([p], Some(t)) if p.name == "resource" => resources = Some(resource_patterns(t)?),
            ([p], Some(t)) if p.name == "action" => {
                actions = match t {
                    Node::Bin(Binary::HeterogeneousEqual, x, a) if is_var(x, "a") => {
                        action_list(vec![string(a)?.to_owned()])?
                    }
                    Node::Bin(Binary::Contains, list, x) if is_var(x, "a") => {
                        action_list(string_list(list)?)?
                    }
                    _ => return None,
                };
            }
            ([p], Some(t)) => {
                let (name, x, age) = condition_pred(p)?;
                let op = condition_op(t, x, age)?;
                conditions.push(Condition { attr: name, op });
            }
            _ => return None,
        }
    }
    Some(Rule {
        resources: resources.unwrap_or_else(every_resource),
        actions,
        when: conditions,
        human: None,
    })
}

pub mod memo;

#[cfg(test)]
mod tests;
