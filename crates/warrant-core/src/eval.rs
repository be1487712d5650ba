//! Native evaluation of one compiled block against a request, with explanations.
//!
//! It mirrors [`crate::compile`] check for check: [`evaluate`] returns the role of every
//! check of the block that fails, exactly as Biscuit would (a differential property test
//! holds the two together). Verifiers use it to explain a denial in plain words: which
//! rule, which attribute, what was expected.
//!
//! The warm path only needs a yes or no: [`allows`] is `evaluate(..).is_empty()` without
//! building any explanation, and [`Intersection`] merges a token's blocks into one grant
//! that allows exactly what all of them allow, computed once per token and then evaluated
//! in one pass per request (see [`intersection`]). On a denial, [`evaluate`] explains.

use std::collections::BTreeMap;
use std::fmt;

pub mod intersection;
pub use intersection::{Intersection, MAX_MERGED_RESOURCES, MAX_MERGED_RULES, MAX_MERGE_WORK};

use crate::compile::CheckRole;
use crate::grant::{Condition, Grant, HumanRequirement, Op, Rule};
use crate::pattern::Audience;
use crate::request::RequestFacts;
use crate::time::Timestamp;
use crate::value::{Value, ValueType};

/// The human facts of the authority block (`human`, `human_attr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanFacts {
    /// `passkey`, `device-key`, `oidc` or `unverified`.
    pub method: String,
    /// When the human was verified.
    pub verified_at: Timestamp,
    /// Verified attributes.
    pub attrs: BTreeMap<String, Value>,
}

/// Why one condition does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionMiss {
    /// The request has no such attribute.
    Missing,
    /// The attribute has another type.
    WrongType {
        /// What the condition compares with.
        expected: ValueType,
        /// What the request carries.
        found: ValueType,
    },
    /// The attribute's value fails the test.
    Mismatch(Value),
}

/// Why a rule's human requirement does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HumanMiss {
    /// The token records no human verification.
    NoVerification,
    /// Verified by a method the rule does not accept.
    Method(String),
    /// Verified too long ago.
    TooOld {
        /// The last instant the rule accepted.
        deadline: Timestamp,
    },
    /// A verified attribute is missing or different.
    Attr(String),
}

/// Why an allow rule does not match a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleMiss {
    /// The resource or action is outside the rule.
    NotCovered,
    /// The `when` condition at this index fails.
    Condition(usize, ConditionMiss),
    /// The `human` requirement fails.
    Human(HumanMiss),
}

/// One failing check of a block, explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The block's expiry has passed.
    Expired(Timestamp),
    /// The block is not valid yet.
    NotYetValid(Timestamp),
    /// The request's audience is not among the block's.
    Audience {
        /// The block's audiences.
        expected: Vec<String>,
        /// The request's.
        found: Option<String>,
    },
    /// No allow rule matches; `closest` is the first rule that covers the resource and
    /// action, with why it fails.
    NoAllowRule {
        /// (rule index, why) of the closest rule, if any covers the request.
        closest: Option<(usize, RuleMiss)>,
    },
    /// The deny rule at this index matches. Deny rules fail closed: when a condition
    /// could not be evaluated (attribute missing or mistyped), `unevaluated` says which
    /// (the first such condition) and why.
    DeniedByRule {
        /// The deny rule's index.
        rule: usize,
        /// (condition index, why) of the first condition that could not be evaluated.
        unevaluated: Option<(usize, ConditionMiss)>,
    },
}

impl Failure {
    /// The check role this failure belongs to.
    pub fn role(&self) -> CheckRole {
        match self {
            Self::Expired(t) => CheckRole::Expiry(*t),
            Self::NotYetValid(t) => CheckRole::NotBefore(*t),
            Self::Audience { .. } => CheckRole::Audience,
            Self::NoAllowRule { .. } => CheckRole::Allow,
            Self::DeniedByRule { rule, .. } => CheckRole::Deny(*rule),
        }
    }

    /// How telling this failure is when several checks fail, lowest first: the block's
    /// times (0), its audience (1), a deny rule (2), no allow rule where the closest one
    /// lacks an attribute (3), no allow rule otherwise (4). A denial reports the first
    /// failure of the lowest rank, in block order ([`most_telling`]).
    pub fn rank(&self) -> u8 {
        match self {
            Self::Expired(_) | Self::NotYetValid(_) => 0,
            Self::Audience { .. } => 1,
            Self::DeniedByRule { .. } => 2,
            Self::NoAllowRule {
                closest: Some((_, RuleMiss::Condition(_, ConditionMiss::Missing))),
            } => 3,
            Self::NoAllowRule { .. } => 4,
        }
    }
}

/// The most telling failing check of the block compiled from `grant` (the first of the
/// lowest [`Failure::rank`] among [`evaluate`]'s failures), or `None` when the block
/// allows `req`. Checks are tried in rank order and it stops at the first that fails, so
/// it costs about what [`allows`] costs: a deny rule that fires is found without
/// looking at the allow rules, and an allowed request builds nothing.
pub fn most_telling(
    grant: &Grant,
    human: Option<&HumanFacts>,
    req: &RequestFacts,
) -> Option<Failure> {
    most_telling_at(grant.expires_at, grant.not_before, grant, human, req)
}

/// [`most_telling`] for a block with these times and the checks of `grant` after them
/// (its own times ignored).
pub(crate) fn most_telling_at(
    expires_at: Option<Timestamp>,
    not_before: Option<Timestamp>,
    grant: &Grant,
    human: Option<&HumanFacts>,
    req: &RequestFacts,
) -> Option<Failure> {
    if let Some(exp) = expires_at.filter(|exp| req.time > *exp) {
        return Some(Failure::Expired(exp));
    }
    if let Some(nb) = not_before.filter(|nb| req.time < *nb) {
        return Some(Failure::NotYetValid(nb));
    }
    if !audience_allows(&grant.audience, req) {
        return Some(audience_failure(grant, req));
    }
    if let Some((i, rule)) = grant
        .deny
        .iter()
        .enumerate()
        .find(|(_, r)| deny_applies(r, req))
    {
        return Some(Failure::DeniedByRule {
            rule: i,
            unevaluated: deny_fires(rule, req).flatten(),
        });
    }
    allow_failure(grant, human, req)
}

/// The allow check's failure: no allow rule matches (an empty list allows anything).
fn allow_failure(grant: &Grant, human: Option<&HumanFacts>, req: &RequestFacts) -> Option<Failure> {
    if grant.allow.is_empty() || grant.allow.iter().any(|r| rule_allows(r, human, req)) {
        return None;
    }
    Some(Failure::NoAllowRule {
        closest: closest_rule(grant, human, req),
    })
}

/// The audience check's failure.
fn audience_failure(grant: &Grant, req: &RequestFacts) -> Failure {
    Failure::Audience {
        expected: grant
            .audience
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
        found: req.audience.clone(),
    }
}

/// The first allow rule that covers the request's resource and action, and why it fails
/// (`None`: none covers it, or one matches).
fn closest_rule(
    grant: &Grant,
    human: Option<&HumanFacts>,
    req: &RequestFacts,
) -> Option<(usize, RuleMiss)> {
    grant
        .allow
        .iter()
        .enumerate()
        .find_map(|(i, rule)| match rule_miss(rule, human, req) {
            Some(RuleMiss::NotCovered) => None,
            miss => miss.map(|m| (i, m)),
        })
}

/// Every failing check of the block compiled from `grant`, in block order.
pub fn evaluate(grant: &Grant, human: Option<&HumanFacts>, req: &RequestFacts) -> Vec<Failure> {
    let mut out = Vec::new();
    evaluate_times(grant.expires_at, grant.not_before, req, &mut out);
    evaluate_timeless(grant, human, req, &mut out);
    out
}

/// The failing time checks of a block with these times (its first checks), into `out`.
pub(crate) fn evaluate_times(
    expires_at: Option<Timestamp>,
    not_before: Option<Timestamp>,
    req: &RequestFacts,
    out: &mut Vec<Failure>,
) {
    if let Some(exp) = expires_at {
        if req.time > exp {
            out.push(Failure::Expired(exp));
        }
    }
    if let Some(nb) = not_before {
        if req.time < nb {
            out.push(Failure::NotYetValid(nb));
        }
    }
}

/// The failing checks of `grant` after its time checks, in block order, into `out`.
pub(crate) fn evaluate_timeless(
    grant: &Grant,
    human: Option<&HumanFacts>,
    req: &RequestFacts,
    out: &mut Vec<Failure>,
) {
    if !audience_allows(&grant.audience, req) {
        out.push(audience_failure(grant, req));
    }
    out.extend(allow_failure(grant, human, req));
    for (i, rule) in grant.deny.iter().enumerate() {
        if let Some(unevaluated) = deny_fires(rule, req) {
            out.push(Failure::DeniedByRule {
                rule: i,
                unevaluated,
            });
        }
    }
}

/// Whether deny rule `rule` fires for `req`: `Some(None)` when it matches outright,
/// `Some(Some(..))` when it fires because a condition cannot be evaluated (fail closed),
/// `None` when the resource or action is outside it or a condition is false.
fn deny_fires(rule: &Rule, req: &RequestFacts) -> Option<Option<(usize, ConditionMiss)>> {
    if !rule.covers(&req.resource, &req.action) {
        return None;
    }
    let mut unevaluated = None;
    for (i, c) in rule.when.iter().enumerate() {
        match condition_miss(c, req) {
            None => {}
            Some(miss @ (ConditionMiss::Missing | ConditionMiss::WrongType { .. })) => {
                unevaluated.get_or_insert((i, miss));
            }
            Some(ConditionMiss::Mismatch(_)) => return None,
        }
    }
    Some(unevaluated)
}

/// Why `rule` does not match `req`, or `None` when it matches.
fn rule_miss(rule: &Rule, human: Option<&HumanFacts>, req: &RequestFacts) -> Option<RuleMiss> {
    if !rule.covers(&req.resource, &req.action) {
        return Some(RuleMiss::NotCovered);
    }
    for (i, c) in rule.when.iter().enumerate() {
        if let Some(miss) = condition_miss(c, req) {
            return Some(RuleMiss::Condition(i, miss));
        }
    }
    if let Some(h) = &rule.human {
        if let Some(miss) = human_miss(h, human, req) {
            return Some(RuleMiss::Human(miss));
        }
    }
    None
}

/// Why condition `c` fails for `req`, or `None` when it holds.
pub fn condition_miss(c: &Condition, req: &RequestFacts) -> Option<ConditionMiss> {
    match condition_outcome(c, req) {
        Outcome::Holds => None,
        Outcome::Missing => Some(ConditionMiss::Missing),
        Outcome::WrongType { expected, found } => {
            Some(ConditionMiss::WrongType { expected, found })
        }
        Outcome::Mismatch(v) => Some(ConditionMiss::Mismatch(v.clone())),
    }
}

/// A condition's outcome, borrowing from the request: [`ConditionMiss`] without a copy.
enum Outcome<'r> {
    Holds,
    Missing,
    WrongType {
        expected: ValueType,
        found: ValueType,
    },
    Mismatch(&'r Value),
}

/// Whether condition `c` holds for `req`, and if not why: the one place conditions are
/// evaluated, for explanations and for the yes/no of [`allows`] alike.
fn condition_outcome<'r>(c: &Condition, req: &'r RequestFacts) -> Outcome<'r> {
    let Some(v) = req.attrs.get(c.attr.as_str()) else {
        return Outcome::Missing;
    };
    if let Some(expected) = c.op.expected_type() {
        let found = v.value_type();
        if found != expected {
            return Outcome::WrongType { expected, found };
        }
    }
    let holds = match (&c.op, v) {
        (Op::Eq(x), _) => v == x,
        (Op::Ne(x), _) => v != x,
        (Op::Lt(x), _) => v < x,
        (Op::Le(x), _) => v <= x,
        (Op::Gt(x), _) => v > x,
        (Op::Ge(x), _) => v >= x,
        (Op::In(xs), _) => xs.contains(v),
        (Op::Present, _) => true,
        (Op::Prefix(p), Value::String(s)) => s.starts_with(p.as_str()),
        (Op::Within(span), Value::Date(d)) => {
            req.attr_age(*d) <= i64::try_from(span.seconds()).unwrap_or(i64::MAX)
        }
        (Op::Prefix(_) | Op::Within(_), _) => false,
    };
    if holds {
        Outcome::Holds
    } else {
        Outcome::Mismatch(v)
    }
}

fn human_miss(
    h: &HumanRequirement,
    facts: Option<&HumanFacts>,
    req: &RequestFacts,
) -> Option<HumanMiss> {
    human_outcome(h, facts, req).err().map(|fault| match fault {
        HumanFault::NoVerification => HumanMiss::NoVerification,
        HumanFault::Method(m) => HumanMiss::Method(m.to_owned()),
        HumanFault::TooOld { deadline } => HumanMiss::TooOld { deadline },
        HumanFault::Attr(a) => HumanMiss::Attr(a.to_owned()),
    })
}

/// [`HumanMiss`] borrowing from the requirement and the facts.
enum HumanFault<'a> {
    NoVerification,
    Method(&'a str),
    TooOld { deadline: Timestamp },
    Attr(&'a str),
}

/// Whether requirement `h` holds for the human `facts` at `req`'s time, and if not why.
fn human_outcome<'a>(
    h: &'a HumanRequirement,
    facts: Option<&'a HumanFacts>,
    req: &RequestFacts,
) -> Result<(), HumanFault<'a>> {
    let Some(f) = facts else {
        return Err(HumanFault::NoVerification);
    };
    if !h.methods.iter().any(|m| m.as_str() == f.method) {
        return Err(HumanFault::Method(&f.method));
    }
    if let Some(max_age) = h.max_age {
        let deadline = f.verified_at.plus(max_age);
        if req.time > deadline {
            return Err(HumanFault::TooOld { deadline });
        }
    }
    for (name, want) in &h.attrs {
        if f.attrs.get(name.as_str()) != Some(want) {
            return Err(HumanFault::Attr(name.as_str()));
        }
    }
    Ok(())
}

/// Whether the block compiled from `grant` allows `req`: exactly
/// `evaluate(grant, human, req).is_empty()`, without building any explanation (no
/// allocation, no copy) and stopping at the first failing check. The warm path's
/// yes/no; on `false`, [`evaluate`] says why.
pub fn allows(grant: &Grant, human: Option<&HumanFacts>, req: &RequestFacts) -> bool {
    within_lifetime(grant.expires_at, grant.not_before, req)
        && audience_allows(&grant.audience, req)
        && (grant.allow.is_empty() || grant.allow.iter().any(|r| rule_allows(r, human, req)))
        && !grant.deny.iter().any(|r| deny_applies(r, req))
}

/// Whether `req.time` is neither after `expires_at` nor before `not_before`.
pub(crate) fn within_lifetime(
    expires_at: Option<Timestamp>,
    not_before: Option<Timestamp>,
    req: &RequestFacts,
) -> bool {
    expires_at.is_none_or(|exp| req.time <= exp) && not_before.is_none_or(|nb| req.time >= nb)
}

/// Whether the request's audience is one of `audience` (an empty list: any audience).
fn audience_allows(audience: &[Audience], req: &RequestFacts) -> bool {
    audience.is_empty()
        || req
            .audience
            .as_deref()
            .is_some_and(|a| audience.iter().any(|x| x.as_str() == a))
}

/// Whether allow rule `rule` matches: `rule_miss` is `None`.
fn rule_allows(rule: &Rule, human: Option<&HumanFacts>, req: &RequestFacts) -> bool {
    rule.covers(&req.resource, &req.action)
        && conditions_hold(&rule.when, req)
        && rule
            .human
            .as_ref()
            .is_none_or(|h| human_holds(h, human, req))
}

/// Whether every condition holds (an allow rule's `when`).
pub(crate) fn conditions_hold(when: &[Condition], req: &RequestFacts) -> bool {
    when.iter()
        .all(|c| matches!(condition_outcome(c, req), Outcome::Holds))
}

/// Whether the requirement holds for the human.
pub(crate) fn human_holds(
    h: &HumanRequirement,
    human: Option<&HumanFacts>,
    req: &RequestFacts,
) -> bool {
    human_outcome(h, human, req).is_ok()
}

/// Whether deny rule `rule` fires: `deny_fires` is `Some`. It fires unless the request is
/// outside it or one of its conditions is false (a condition that cannot be evaluated
/// does not stop it: deny rules fail closed).
pub(crate) fn deny_applies(rule: &Rule, req: &RequestFacts) -> bool {
    rule.covers(&req.resource, &req.action)
        && !rule
            .when
            .iter()
            .any(|c| matches!(condition_outcome(c, req), Outcome::Mismatch(_)))
}

/// A failure described for a person, using the grant for rule details.
#[derive(Debug, Clone, Copy)]
pub struct Describe<'a> {
    /// The failure.
    pub failure: &'a Failure,
    /// The block's grant.
    pub grant: &'a Grant,
    /// The request.
    pub request: &'a RequestFacts,
}

/// A request value shown in a one-line message: control characters escaped, so a value
/// cannot break the line or forge another.
#[derive(Debug)]
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Runs of printable characters are written whole (the usual case: one run).
        let mut rest = self.0;
        while let Some((at, c)) = rest.char_indices().find(|(_, c)| c.is_control()) {
            let (printable, tail) = rest.split_at(at);
            f.write_str(printable)?;
            write!(f, "{}", c.escape_default())?;
            rest = tail.get(c.len_utf8()..).unwrap_or_default();
        }
        f.write_str(rest)
    }
}

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let req = self.request;
        let resource = Shown(&req.resource);
        let action = Shown(&req.action);
        match self.failure {
            Failure::Expired(t) => {
                write!(f, "the token expired at {t} (request time {})", req.time)
            }
            Failure::NotYetValid(t) => write!(
                f,
                "the token is not valid before {t} (request time {})",
                req.time
            ),
            Failure::Audience { expected, found } => {
                let list = expected
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                match found {
                    Some(a) => write!(f, "the token is for audience {list}, not `{}`", Shown(a)),
                    None => write!(
                        f,
                        "the token is for audience {list} and the request names no audience"
                    ),
                }
            }
            Failure::DeniedByRule {
                rule: i,
                unevaluated,
            } => {
                let rule = self.grant.deny.get(*i);
                let pats = rule
                    .map(|r| {
                        r.resources
                            .iter()
                            .map(|p| format!("`{p}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                write!(
                    f,
                    "deny[{i}] forbids `{}` on `{}` (matches {pats})",
                    action, resource
                )?;
                match (unevaluated, rule) {
                    (Some((ci, miss)), Some(r)) => match r.when.get(*ci) {
                        Some(c) => {
                            write!(f, ": its condition when[{ci}] cannot be evaluated, so the rule applies (deny rules fail closed): ")?;
                            describe_condition(f, c, miss, req)
                        }
                        None => Ok(()),
                    },
                    _ => Ok(()),
                }
            }
            Failure::NoAllowRule { closest: None } => write!(
                f,
                "no allow rule covers action `{}` on `{}`",
                action, resource
            ),
            Failure::NoAllowRule {
                closest: Some((i, miss)),
            } => {
                write!(f, "allow[{i}] covers `{}` on `{}` but ", action, resource)?;
                let rule = self.grant.allow.get(*i);
                match miss {
                    RuleMiss::NotCovered => write!(f, "does not match"),
                    RuleMiss::Condition(ci, cm) => {
                        let Some(c) = rule.and_then(|r| r.when.get(*ci)) else {
                            return write!(f, "a condition fails");
                        };
                        write!(f, "condition when[{ci}] fails: ")?;
                        describe_condition(f, c, cm, req)
                    }
                    RuleMiss::Human(hm) => match hm {
                        HumanMiss::NoVerification => write!(f, "the token records no human verification"),
                        HumanMiss::Method(m) => {
                            let wanted = rule
                                .and_then(|r| r.human.as_ref())
                                .map(|h| h.methods.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "))
                                .unwrap_or_default();
                            write!(f, "the human was verified by `{m}`, and the rule requires {wanted}")
                        }
                        HumanMiss::TooOld { deadline } => write!(
                            f,
                            "the human's verification is too old: the rule accepted requests until {deadline}"
                        ),
                        HumanMiss::Attr(a) => write!(f, "the human's verified attribute `{a}` is missing or different"),
                    },
                }
            }
        }
    }
}

fn describe_condition(
    f: &mut fmt::Formatter<'_>,
    c: &Condition,
    miss: &ConditionMiss,
    req: &RequestFacts,
) -> fmt::Result {
    let name = &c.attr;
    match miss {
        ConditionMiss::Missing => write!(f, "attribute `{name}` is missing from the request"),
        ConditionMiss::WrongType { expected, found } => {
            write!(
                f,
                "attribute `{name}` is {} {found}, the rule compares it with {} {expected}",
                article(*found),
                article(*expected)
            )
        }
        ConditionMiss::Mismatch(v) => {
            let want = match &c.op {
                Op::Eq(x) => format!("== {x}"),
                Op::Ne(x) => format!("!= {x}"),
                Op::Lt(x) => format!("< {x}"),
                Op::Le(x) => format!("<= {x}"),
                Op::Gt(x) => format!("> {x}"),
                Op::Ge(x) => format!(">= {x}"),
                Op::In(xs) => format!(
                    "one of {}",
                    xs.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Op::Present => "present".to_owned(),
                Op::Prefix(p) => format!("starting with {p:?}"),
                Op::Within(s) => {
                    return match v {
                        Value::Date(d) => write!(
                            f,
                            "attribute `{name}` is {d}, older than {s} before the request time {}",
                            req.time
                        ),
                        _ => write!(f, "attribute `{name}` is not a date"),
                    }
                }
            };
            write!(f, "attribute `{name}` is {v}, the rule requires {want}")
        }
    }
}

fn article(t: ValueType) -> &'static str {
    match t {
        ValueType::Integer => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::Shown;

    #[test]
    fn shown_escapes_control_characters_and_nothing_else() {
        assert_eq!(Shown("plain/ascii").to_string(), "plain/ascii");
        assert_eq!(Shown("a\nb\tc\u{7f}é").to_string(), "a\\nb\\tc\\u{7f}é");
        assert_eq!(Shown("\r").to_string(), "\\r");
        assert_eq!(Shown("").to_string(), "");
        assert_eq!(Shown("é\u{85}x").to_string(), "é\\u{85}x");
    }
}
