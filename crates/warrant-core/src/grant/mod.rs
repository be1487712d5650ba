//! The grant format of the design (section 3): what humans and agents write.
//!
//! One format serves minting and attenuation, in JSON or TOML. [`Grant::from_json`]
//! parses and validates in one step and names the offending field in every error,
//! for example `allow[2].when[0]: unknown operator `lte`, expected one of …`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::pattern::{Action, ActionError, Audience, AudienceError, PatternError, ResourcePattern};
use crate::time::{Span, SpanError, Timestamp, TimestampError};
use crate::value::{AttrName, AttrNameError, Value, ValueError, ValueType};

/// At most this many allow or deny rules in one grant.
pub const MAX_RULES: usize = 64;
/// At most this many resources, actions, conditions or list entries in one place.
pub const MAX_ITEMS: usize = 64;
/// The longest raw Datalog escape hatch accepted (bytes).
pub const MAX_DATALOG_LEN: usize = 16 * 1024;

/// A grant: allow rules, deny rules, audience and lifetime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// The APIs the token is for; empty means any audience.
    pub audience: Vec<Audience>,
    /// Lifetime from the moment of minting or attenuation.
    pub ttl: Option<Span>,
    /// An absolute expiry (instead of `ttl`).
    pub expires_at: Option<Timestamp>,
    /// The token is not valid before this instant.
    pub not_before: Option<Timestamp>,
    /// A request is allowed only when one of these matches (an empty list in an
    /// attenuation block leaves the earlier rules as they are).
    pub allow: Vec<Rule>,
    /// A request matching any of these is denied.
    pub deny: Vec<Rule>,
    /// Raw Datalog appended to the block: the expert's escape hatch.
    pub datalog: Option<String>,
}

/// Resources × actions × conditions (and, on allow rules, a human requirement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Resource patterns; the rule matches a request whose resource matches any of them.
    pub resources: Vec<ResourcePattern>,
    /// Actions the rule covers.
    pub actions: Actions,
    /// Conditions on request attributes; all must hold.
    pub when: Vec<Condition>,
    /// Requirement on how (and how recently) the delegating human was verified.
    pub human: Option<HumanRequirement>,
}

/// The actions of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actions {
    /// `["*"]`: every action.
    Any,
    /// These actions.
    Listed(Vec<Action>),
}

impl Actions {
    /// Whether some action is in both.
    pub fn overlaps(&self, other: &Actions) -> bool {
        match (self, other) {
            (Self::Any, _) | (_, Self::Any) => true,
            (Self::Listed(a), Self::Listed(b)) => a.iter().any(|x| b.contains(x)),
        }
    }

    /// Whether `action` is covered.
    pub fn covers(&self, action: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Listed(list) => list.iter().any(|a| a.as_str() == action),
        }
    }
}

/// One condition on a request attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The attribute tested.
    pub attr: AttrName,
    /// The test.
    pub op: Op,
}

/// The condition operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// equal to
    Eq(Value),
    /// present and not equal to
    Ne(Value),
    /// less than (integers, dates)
    Lt(Value),
    /// less than or equal
    Le(Value),
    /// greater than
    Gt(Value),
    /// greater than or equal
    Ge(Value),
    /// one of (same type)
    In(Vec<Value>),
    /// present with any value
    Present,
    /// a string starting with
    Prefix(String),
    /// a date no older than this span before the request time
    Within(Span),
}

/// The operator names, in the order errors list them.
pub const OPERATORS: [&str; 10] = [
    "eq", "ne", "lt", "le", "gt", "ge", "in", "present", "prefix", "within",
];

impl Op {
    /// The operator's name in the grant format.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Eq(_) => "eq",
            Self::Ne(_) => "ne",
            Self::Lt(_) => "lt",
            Self::Le(_) => "le",
            Self::Gt(_) => "gt",
            Self::Ge(_) => "ge",
            Self::In(_) => "in",
            Self::Present => "present",
            Self::Prefix(_) => "prefix",
            Self::Within(_) => "within",
        }
    }

    /// The type the attribute must have for this condition to hold (`None`: any type).
    pub fn expected_type(&self) -> Option<ValueType> {
        match self {
            Self::Eq(v) | Self::Ne(v) | Self::Lt(v) | Self::Le(v) | Self::Gt(v) | Self::Ge(v) => {
                Some(v.value_type())
            }
            Self::In(vs) => vs.first().map(Value::value_type),
            Self::Present => None,
            Self::Prefix(_) => Some(ValueType::String),
            Self::Within(_) => Some(ValueType::Date),
        }
    }
}

/// How a human verified themselves to the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// WebAuthn with user verification.
    Passkey,
    /// An enrolled Ed25519 key answering a challenge.
    DeviceKey,
    /// An ID token from the organisation's identity provider.
    Oidc,
}

impl Method {
    /// Every method, in canonical order.
    pub const ALL: [Method; 3] = [Method::Passkey, Method::DeviceKey, Method::Oidc];

    /// The method's name in grants and tokens.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Passkey => "passkey",
            Self::DeviceKey => "device-key",
            Self::Oidc => "oidc",
        }
    }

    /// Parses a method name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `human` on an allow rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanRequirement {
    /// Accepted verification methods (all three when the grant names none).
    pub methods: Vec<Method>,
    /// How long ago, at most, at request time, the human may have been verified.
    pub max_age: Option<Span>,
    /// Verified attributes the issuer must have stamped on the token.
    pub attrs: BTreeMap<AttrName, Value>,
}

/// An invalid grant: the path of the offending field and what is wrong with it.
///
/// ```
/// use warrant_core::grant::{Grant, GrantProblem};
///
/// let e = Grant::from_json_str(r#"{"ttl": "ten minutes"}"#).unwrap_err();
/// assert_eq!(e.path, "ttl");
/// assert!(matches!(e.problem, GrantProblem::Span(_)));
/// assert_eq!(
///     e.to_string(),
///     "ttl: `ten minutes` is not a duration such as `90s`, `10m`, `24h`, `7d` or `1h30m`",
/// );
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct GrantError {
    /// `allow[2].when[0]`, or `grant` for the whole document.
    pub path: String,
    /// What is wrong, in one line.
    #[source]
    pub problem: GrantProblem,
}

/// What is wrong with one field of a grant: a rule of the format, or the error of the
/// parser that read the field's text (kept as the source).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GrantProblem {
    /// A rule of the grant format is broken.
    #[error("{0}")]
    Invalid(String),
    /// The text is not JSON.
    #[error("not valid JSON: {0}")]
    Json(#[source] Arc<serde_json::Error>),
    /// The text is not TOML.
    #[error("not valid TOML: {}", .0.message())]
    Toml(#[source] toml::de::Error),
    /// A resource pattern.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// An action name.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// An audience name.
    #[error(transparent)]
    Audience(#[from] AudienceError),
    /// An attribute name.
    #[error(transparent)]
    AttrName(#[from] AttrNameError),
    /// A date.
    #[error(transparent)]
    Timestamp(#[from] TimestampError),
    /// A duration.
    #[error(transparent)]
    Span(#[from] SpanError),
    /// A condition or attribute value.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// The raw Datalog escape hatch does not parse.
    #[error("invalid Datalog: {}", one_line(&.0.to_string()))]
    Datalog(#[source] biscuit_auth::error::Token),
}

/// Biscuit's parse errors span lines: one line of words.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl GrantError {
    /// `path` breaks a rule of the format, as `message` says.
    pub(crate) fn new(path: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::at(path, GrantProblem::Invalid(message.to_string()))
    }

    /// `path` has `problem`.
    pub(crate) fn at(path: impl Into<String>, problem: impl Into<GrantProblem>) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

impl Grant {
    /// Adds `other`'s rules and audiences to this grant; `other`'s lifetime fields,
    /// when set, replace this grant's (the command line overrides a grant file).
    pub fn merge(&mut self, other: Grant) {
        for a in other.audience {
            if !self.audience.contains(&a) {
                self.audience.push(a);
            }
        }
        if other.ttl.is_some() || other.expires_at.is_some() {
            self.ttl = other.ttl;
            self.expires_at = other.expires_at;
        }
        if other.not_before.is_some() {
            self.not_before = other.not_before;
        }
        self.allow.extend(other.allow);
        self.deny.extend(other.deny);
        if let Some(d) = other.datalog {
            self.datalog = Some(match self.datalog.take() {
                Some(mine) => format!("{mine}\n{d}"),
                None => d,
            });
        }
    }

    /// Whether the grant says nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == Grant::default()
    }
}

impl Rule {
    /// Whether the rule's resources and actions cover a request (conditions aside).
    pub fn covers(&self, resource: &str, action: &str) -> bool {
        self.actions.covers(action) && self.resources.iter().any(|p| p.matches(resource))
    }
}

mod json;
mod narrow;
mod validate;

pub use json::toml_to_json;
pub use narrow::NarrowError;
pub(crate) use validate::parse_datalog;
pub use validate::RESERVED_PREDICATES;

#[cfg(test)]
mod tests;
