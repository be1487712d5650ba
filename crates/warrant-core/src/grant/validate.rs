//! What the types alone do not enforce: the rules every grant is held to, parsed or built
//! in code, and the checks of the raw Datalog escape hatch.

use biscuit_auth::builder::BlockBuilder;

use super::{
    Actions, Grant, GrantError, GrantProblem, HumanRequirement, Op, Rule, MAX_DATALOG_LEN,
    MAX_ITEMS, MAX_RULES,
};
use crate::value::{Value, ValueType};

/// Every string a token carries is printable: a control character is refused, so no
/// value can break a line of a log, an explanation or a printed block.
pub(super) fn no_control(s: &str, path: &str) -> Result<(), GrantError> {
    if s.chars().any(char::is_control) {
        return Err(GrantError::new(
            path,
            format!("`{}` contains a control character", s.escape_debug()),
        ));
    }
    Ok(())
}

/// Predicates a raw Datalog escape hatch may not define: the request facts the verifier
/// supplies and the authority facts the issuer stamps.
pub const RESERVED_PREDICATES: [&str; 16] = [
    "time",
    "resource",
    "action",
    "audience",
    "attr",
    "attr_age",
    "warrant",
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

impl Grant {
    /// Checks what the types alone do not: the rules [`Grant::from_json`] enforces on
    /// every grant it returns. A grant built in code is held to them too (compiling
    /// calls this), and so is a grant read back from a token, so that no grant exists
    /// whose native evaluation and Datalog could disagree: an ordered comparison on a
    /// string, a mixed-type `in` list, a `present` deny condition.
    ///
    /// ```
    /// use warrant_core::grant::{Condition, Grant, Op};
    ///
    /// let mut grant = Grant::from_json_str(
    ///     r#"{"allow": [{"resources": "tickets/*", "actions": "read"}]}"#,
    /// )?;
    /// assert!(grant.validate().is_ok());
    /// grant.allow[0].when.push(Condition {
    ///     attr: "status".parse()?,
    ///     op: Op::Lt("open".into()),
    /// });
    /// assert_eq!(
    ///     grant.validate().unwrap_err().to_string(),
    ///     "allow[0].when[0].lt: `lt` compares integers or dates, not a string",
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn validate(&self) -> Result<(), GrantError> {
        if self.audience.len() > MAX_ITEMS {
            return Err(GrantError::new(
                "audience",
                format!("at most {MAX_ITEMS} entries are allowed"),
            ));
        }
        if self.ttl.is_some() && self.expires_at.is_some() {
            return Err(GrantError::new(
                "ttl",
                "give either `ttl` or `expires_at`, not both",
            ));
        }
        for (field, rules, is_allow) in [("allow", &self.allow, true), ("deny", &self.deny, false)]
        {
            if rules.len() > MAX_RULES {
                return Err(GrantError::new(
                    field,
                    format!("at most {MAX_RULES} rules are allowed"),
                ));
            }
            for (i, rule) in rules.iter().enumerate() {
                rule.validate(&format!("{field}[{i}]"), is_allow)?;
            }
        }
        if let Some(d) = &self.datalog {
            if d.len() > MAX_DATALOG_LEN {
                return Err(GrantError::new(
                    "datalog",
                    format!("longer than {MAX_DATALOG_LEN} bytes"),
                ));
            }
            no_control(d, "datalog")?;
        }
        Ok(())
    }
}

impl Rule {
    fn validate(&self, path: &str, is_allow: bool) -> Result<(), GrantError> {
        let many = |field: &str, n: usize| {
            if n == 0 {
                Err(GrantError::new(
                    format!("{path}.{field}"),
                    format!("list at least one {}", field.trim_end_matches('s')),
                ))
            } else if n > MAX_ITEMS {
                Err(GrantError::new(
                    format!("{path}.{field}"),
                    format!("at most {MAX_ITEMS} entries are allowed"),
                ))
            } else {
                Ok(())
            }
        };
        many("resources", self.resources.len())?;
        if let Actions::Listed(list) = &self.actions {
            many("actions", list.len())?;
        }
        if self.when.len() > MAX_ITEMS {
            return Err(GrantError::new(
                format!("{path}.when"),
                format!("at most {MAX_ITEMS} conditions are allowed"),
            ));
        }
        for (i, c) in self.when.iter().enumerate() {
            let cpath = format!("{path}.when[{i}]");
            if !is_allow && c.op == Op::Present {
                return Err(GrantError::new(
                    format!("{cpath}.present"),
                    "a deny condition `present` always holds (deny rules fail closed on a missing attribute): drop it, and the rule applies whenever its resources and actions match",
                ));
            }
            c.op.validate(&format!("{cpath}.{}", c.op.name()))?;
        }
        match &self.human {
            Some(_) if !is_allow => Err(GrantError::new(
                format!("{path}.human"),
                "only allow rules can require a verified human",
            )),
            Some(h) => h.validate(&format!("{path}.human")),
            None => Ok(()),
        }
    }
}

impl Op {
    pub(super) fn validate(&self, path: &str) -> Result<(), GrantError> {
        let printable = |v: &Value, p: &str| match v {
            Value::String(s) => no_control(s, p),
            _ => Ok(()),
        };
        match self {
            Self::Eq(v) | Self::Ne(v) => printable(v, path),
            Self::Lt(v) | Self::Le(v) | Self::Gt(v) | Self::Ge(v) => match v.value_type() {
                ValueType::Integer | ValueType::Date => Ok(()),
                t => Err(GrantError::new(
                    path,
                    format!("`{}` compares integers or dates, not a {t}", self.name()),
                )),
            },
            Self::In(values) => {
                let Some(first) = values.first() else {
                    return Err(GrantError::new(
                        path,
                        format!("list 1 to {MAX_ITEMS} values"),
                    ));
                };
                if values.len() > MAX_ITEMS {
                    return Err(GrantError::new(
                        path,
                        format!("list 1 to {MAX_ITEMS} values"),
                    ));
                }
                let t = first.value_type();
                for (i, v) in values.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    if v.value_type() != t {
                        return Err(GrantError::new(
                            p,
                            format!(
                                "all values must have one type: found `{}` after `{t}`",
                                v.value_type()
                            ),
                        ));
                    }
                    printable(v, &p)?;
                }
                Ok(())
            }
            Self::Prefix(s) => no_control(s, path),
            Self::Present | Self::Within(_) => Ok(()),
        }
    }
}

impl HumanRequirement {
    fn validate(&self, path: &str) -> Result<(), GrantError> {
        if self.methods.is_empty() {
            return Err(GrantError::new(
                format!("{path}.methods"),
                "list at least one method",
            ));
        }
        for (k, v) in &self.attrs {
            if let Value::String(s) = v {
                no_control(s, &format!("{path}.attrs.{k}"))?;
            }
        }
        Ok(())
    }
}

/// The raw Datalog escape hatch as a block (its reserved predicates are checked when the
/// grant is parsed).
pub(crate) fn parse_datalog(raw: &str) -> Result<BlockBuilder, GrantError> {
    BlockBuilder::new()
        .code(raw)
        .map_err(|e| GrantError::at("datalog", GrantProblem::Datalog(e)))
}

/// Checks the raw Datalog escape hatch: it must parse, and may not define a reserved
/// predicate (a request fact or an authority fact).
pub(super) fn check_raw_datalog(raw: &str) -> Result<(), GrantError> {
    let block = parse_datalog(raw)?;
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
