//! Whether one grant only narrows another: what a human may do to an agent's request
//! before approving it (drop rules, drop actions or resources, lower limits, shorten the
//! lifetime, keep fewer audiences).
//!
//! The check is structural and conservative: an allow rule narrows a rule of the request
//! when its resources are among that rule's (the same patterns), its actions among its
//! actions, its human requirement the same, and no condition on an attribute the request
//! limits is looser. It never has to be complete to be safe: a token minted from an
//! approval carries the request's block as well as the approved one, so it allows only
//! what both allow. It is there so that what the human is shown approving is what the
//! token allows, and a widened approval is refused with the reason.

use super::{Actions, Grant, Op, Rule};
use crate::value::Value;

/// Why a grant does not only narrow another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {why}")]
pub struct NarrowError {
    /// Where in the narrower grant (`allow[1]`, `allow[0].when[2]`, `audience`).
    pub path: String,
    /// What widens the request.
    pub why: String,
}

fn refuse(path: impl Into<String>, why: impl Into<String>) -> NarrowError {
    NarrowError {
        path: path.into(),
        why: why.into(),
    }
}

impl Grant {
    /// `Ok` when `self` only narrows `outer` (see the module documentation). Lifetimes are
    /// left to the caller, who knows when each counts from.
    ///
    /// ```
    /// use warrant_core::grant::Grant;
    /// let asked = Grant::from_json_str(r#"{"allow": [
    ///     {"resources": ["orders/*"], "actions": ["refund", "read"], "when": [{"attr": "amount", "lt": 10000}]}
    /// ]}"#)?;
    /// let lower = Grant::from_json_str(r#"{"allow": [
    ///     {"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "amount", "lt": 5000}]}
    /// ]}"#)?;
    /// assert!(lower.narrows(&asked).is_ok());
    /// let higher = Grant::from_json_str(r#"{"allow": [
    ///     {"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "amount", "lt": 20000}]}
    /// ]}"#)?;
    /// assert_eq!(
    ///     higher.narrows(&asked).unwrap_err().to_string(),
    ///     "allow[0].when[0]: `amount` lt 20000 is looser than the request's lt 10000"
    /// );
    /// # Ok::<(), warrant_core::grant::GrantError>(())
    /// ```
    pub fn narrows(&self, outer: &Grant) -> Result<(), NarrowError> {
        if self.datalog.is_some() && self.datalog != outer.datalog {
            return Err(refuse(
                "datalog",
                "raw Datalog cannot be added to a request",
            ));
        }
        // No audience of its own keeps the request's (its block is in the token too).
        if !outer.audience.is_empty() {
            if let Some(a) = self.audience.iter().find(|a| !outer.audience.contains(a)) {
                return Err(refuse(
                    "audience",
                    format!("`{a}` is not among the request's audiences"),
                ));
            }
        }
        if self.allow.is_empty() {
            return Err(refuse("allow", "keep at least one allow rule"));
        }
        for (i, rule) in self.allow.iter().enumerate() {
            let path = format!("allow[{i}]");
            // The first rule of the request that it narrows, or the reason against the
            // first whose resources and actions it stays within.
            let mut why = None;
            let mut fits = false;
            for o in outer.allow.iter().filter(|o| within_scope(rule, o)) {
                match conditions_narrow(rule, o, &path) {
                    Ok(()) => {
                        fits = true;
                        break;
                    }
                    Err(e) => {
                        why.get_or_insert(e);
                    }
                }
            }
            if !fits {
                return Err(why.unwrap_or_else(|| {
                    refuse(
                        path,
                        "its resources and actions are not within one allow rule of the request",
                    )
                }));
            }
        }
        Ok(())
    }
}

/// Whether `rule`'s resources and actions are among `outer`'s, with the same human
/// requirement.
fn within_scope(rule: &Rule, outer: &Rule) -> bool {
    let resources = rule.resources.iter().all(|r| outer.resources.contains(r));
    let actions = match (&rule.actions, &outer.actions) {
        (_, Actions::Any) => true,
        (Actions::Any, Actions::Listed(_)) => false,
        (Actions::Listed(a), Actions::Listed(b)) => a.iter().all(|x| b.contains(x)),
    };
    resources && actions && rule.human == outer.human
}

/// Every condition of `outer` is kept by `rule`, as it is or tighter (a condition `rule`
/// leaves out is still checked by the request's own block, so only a looser one is
/// refused, and only where `rule` names the attribute).
fn conditions_narrow(rule: &Rule, outer: &Rule, path: &str) -> Result<(), NarrowError> {
    for (k, c) in rule.when.iter().enumerate() {
        for o in outer.when.iter().filter(|o| o.attr == c.attr) {
            if let Some(looser) = looser(&c.op, &o.op) {
                return Err(refuse(
                    format!("{path}.when[{k}]"),
                    format!(
                        "`{}` {} is looser than the request's {}",
                        c.attr,
                        op_words(&c.op),
                        op_words(looser)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `outer` when `op` admits a value `outer` refuses, for the operators whose order is
/// known (integer limits, lists); `None` when it is as tight or tighter, or unrelated
/// (another operator: both are checked).
fn looser<'a>(op: &Op, outer: &'a Op) -> Option<&'a Op> {
    let int = |v: &Value| match v {
        Value::Integer(i) => Some(i128::from(*i)),
        _ => None,
    };
    // The largest integer each upper bound admits, the smallest each lower bound does.
    let upper = |op: &Op| match op {
        Op::Lt(v) => int(v).map(|i| i - 1),
        Op::Le(v) => int(v),
        _ => None,
    };
    let lower = |op: &Op| match op {
        Op::Gt(v) => int(v).map(|i| i + 1),
        Op::Ge(v) => int(v),
        _ => None,
    };
    let wider = match (op, outer) {
        (Op::In(a), Op::In(b)) => a.iter().any(|v| !b.contains(v)),
        (Op::Eq(v), Op::In(b)) => !b.contains(v),
        _ => match (upper(op), upper(outer), lower(op), lower(outer)) {
            (Some(a), Some(b), _, _) => a > b,
            (_, _, Some(a), Some(b)) => a < b,
            _ => false,
        },
    };
    wider.then_some(outer)
}

fn op_words(op: &Op) -> String {
    match op {
        Op::Eq(v) | Op::Ne(v) | Op::Lt(v) | Op::Le(v) | Op::Gt(v) | Op::Ge(v) => {
            format!("{} {v}", op.name())
        }
        Op::In(list) => format!(
            "in [{}]",
            list.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Op::Present => "present".to_owned(),
        Op::Prefix(p) => format!("prefix {p:?}"),
        Op::Within(s) => format!("within {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(json: &str) -> Grant {
        Grant::from_json_str(json).unwrap()
    }

    const ASKED: &str = r#"{"audience": ["support-api"], "allow": [
        {"resources": ["tickets/123/email_address", "tickets/123/name"], "actions": ["read"]},
        {"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "amount", "le": 5000}, {"attr": "reason", "in": ["duplicate", "damaged"]}]}
    ], "deny": [{"resources": ["customers/*/payment_card"], "actions": "*"}]}"#;

    #[test]
    fn dropping_rules_resources_and_actions_and_lowering_limits_narrows() {
        let asked = g(ASKED);
        assert_eq!(asked.narrows(&asked), Ok(()));
        for narrower in [
            r#"{"allow": [{"resources": ["tickets/123/email_address"], "actions": ["read"]}]}"#,
            r#"{"audience": ["support-api"], "allow": [{"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "amount", "lt": 5001}]}]}"#,
            r#"{"allow": [{"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "amount", "le": 100}, {"attr": "reason", "eq": "duplicate"}]}]}"#,
            r#"{"allow": [{"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "reason", "in": ["damaged"]}]}]}"#,
        ] {
            assert_eq!(g(narrower).narrows(&asked), Ok(()), "{narrower}");
        }
    }

    #[test]
    fn anything_wider_is_refused_with_where_and_why() {
        let asked = g(ASKED);
        for (wider, said) in [
            (
                r#"{"allow": [{"resources": ["tickets/123/*"], "actions": ["read"]}]}"#,
                "allow[0]: its resources and actions are not within one allow rule of the request",
            ),
            (
                r#"{"allow": [{"resources": ["tickets/123/name"], "actions": ["read", "write"]}]}"#,
                "allow[0]: its resources and actions are not within one allow rule of the request",
            ),
            (
                r#"{"allow": [{"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "amount", "lt": 5002}]}]}"#,
                "allow[0].when[0]: `amount` lt 5002 is looser than the request's le 5000",
            ),
            (
                r#"{"allow": [{"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "reason", "in": ["duplicate", "other"]}]}]}"#,
                r#"allow[0].when[0]: `reason` in ["duplicate", "other"] is looser than the request's in ["damaged", "duplicate"]"#,
            ),
            (
                r#"{"audience": ["billing-api"], "allow": [{"resources": ["orders/*"], "actions": ["refund"]}]}"#,
                "audience: `billing-api` is not among the request's audiences",
            ),
            (
                r#"{"allow": [{"resources": ["orders/*"], "actions": "*"}]}"#,
                "allow[0]: its resources and actions are not within one allow rule of the request",
            ),
            (
                r#"{"deny": [{"resources": ["orders/*"], "actions": "*"}]}"#,
                "allow: keep at least one allow rule",
            ),
            (
                r#"{"allow": [{"resources": ["orders/*"], "actions": ["refund"]}], "datalog": "check if time($t);"}"#,
                "datalog: raw Datalog cannot be added to a request",
            ),
        ] {
            assert_eq!(
                g(wider).narrows(&asked).unwrap_err().to_string(),
                said,
                "{wider}"
            );
        }
    }

    #[test]
    fn a_lower_bound_may_only_rise() {
        let asked = g(
            r#"{"allow": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "n", "gt": 10}]}]}"#,
        );
        let higher = g(
            r#"{"allow": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "n", "ge": 11}]}]}"#,
        );
        assert_eq!(higher.narrows(&asked), Ok(()));
        let lower = g(
            r#"{"allow": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "n", "ge": 10}]}]}"#,
        );
        assert!(lower.narrows(&asked).is_err());
    }
}
