//! The grant format of the design (section 3): what humans and agents write.
//!
//! One format serves minting and attenuation, in JSON or TOML. [`Grant::from_json`]
//! parses and validates in one step and names the offending field in every error,
//! for example `allow[2].when[0]: unknown operator `lte`, expected one of …`.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Map, Value as J};

use crate::pattern::{Action, Audience, ResourcePattern};
use crate::time::{Span, Timestamp};
use crate::value::{AttrName, Value, ValueType};

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct GrantError {
    /// `allow[2].when[0]`, or `grant` for the whole document.
    pub path: String,
    /// What is wrong, in one line.
    pub message: String,
}

impl GrantError {
    pub(crate) fn new(path: impl Into<String>, message: impl fmt::Display) -> Self {
        Self {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

fn list_of(expected: &[&str]) -> String {
    expected
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn object<'a>(v: &'a J, path: &str, fields: &[&str]) -> Result<&'a Map<String, J>, GrantError> {
    let map = v
        .as_object()
        .ok_or_else(|| GrantError::new(path, format!("expected an object, found {}", kind(v))))?;
    for key in map.keys() {
        if !fields.contains(&key.as_str()) {
            return Err(GrantError::new(
                path,
                format!("unknown field `{key}`, expected one of {}", list_of(fields)),
            ));
        }
    }
    Ok(map)
}

fn kind(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "a bool",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "a list",
        J::Object(_) => "an object",
    }
}

fn string<'a>(v: &'a J, path: &str) -> Result<&'a str, GrantError> {
    let s = v
        .as_str()
        .ok_or_else(|| GrantError::new(path, format!("expected a string, found {}", kind(v))))?;
    no_control(s, path)?;
    Ok(s)
}

/// Every string a token carries is printable: a control character is refused, so no
/// value can break a line of a log, an explanation or a printed block.
fn no_control(s: &str, path: &str) -> Result<(), GrantError> {
    if s.chars().any(char::is_control) {
        return Err(GrantError::new(
            path,
            format!("`{}` contains a control character", s.escape_debug()),
        ));
    }
    Ok(())
}

/// A string or a list of strings, each parsed with `parse`.
fn strings<T>(
    v: &J,
    path: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, GrantError> {
    let items: Vec<&J> = match v {
        J::String(_) => vec![v],
        J::Array(a) => a.iter().collect(),
        other => {
            return Err(GrantError::new(
                path,
                format!(
                    "expected a string or a list of strings, found {}",
                    kind(other)
                ),
            ))
        }
    };
    if items.len() > MAX_ITEMS {
        return Err(GrantError::new(
            path,
            format!("at most {MAX_ITEMS} entries are allowed"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let p = if v.is_array() {
                format!("{path}[{i}]")
            } else {
                path.to_owned()
            };
            parse(string(item, &p)?).map_err(|m| GrantError::new(p, m))
        })
        .collect()
}

fn value(v: &J, path: &str) -> Result<Value, GrantError> {
    let value = Value::from_json(v).map_err(|e| GrantError::new(path, e))?;
    if let Value::String(s) = &value {
        no_control(s, path)?;
    }
    Ok(value)
}

impl Grant {
    /// Parses and validates a grant from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, GrantError> {
        let v: J = serde_json::from_str(text)
            .map_err(|e| GrantError::new("grant", format!("not valid JSON: {e}")))?;
        Self::from_json(&v)
    }

    /// Parses and validates a grant from TOML text (same fields as JSON).
    pub fn from_toml_str(text: &str) -> Result<Self, GrantError> {
        let v: toml::Value = toml::from_str(text)
            .map_err(|e| GrantError::new("grant", format!("not valid TOML: {}", e.message())))?;
        Self::from_json(&toml_to_json(&v))
    }

    /// Parses and validates a grant from a JSON value.
    pub fn from_json(v: &J) -> Result<Self, GrantError> {
        let map = object(
            v,
            "grant",
            &[
                "audience",
                "ttl",
                "expires_at",
                "not_before",
                "allow",
                "deny",
                "datalog",
            ],
        )?;
        let mut g = Grant::default();
        if let Some(a) = map.get("audience") {
            g.audience = strings(a, "audience", |s| {
                s.parse::<Audience>().map_err(|e| e.to_string())
            })?;
        }
        if let Some(t) = map.get("ttl") {
            g.ttl = Some(
                string(t, "ttl")?
                    .parse()
                    .map_err(|e| GrantError::new("ttl", e))?,
            );
        }
        for (field, slot) in [
            ("expires_at", &mut g.expires_at),
            ("not_before", &mut g.not_before),
        ] {
            if let Some(t) = map.get(field) {
                *slot = Some(
                    string(t, field)?
                        .parse()
                        .map_err(|e| GrantError::new(field, e))?,
                );
            }
        }
        for (field, is_allow) in [("allow", true), ("deny", false)] {
            let Some(rules) = map.get(field) else {
                continue;
            };
            let list = rules.as_array().ok_or_else(|| {
                GrantError::new(
                    field,
                    format!("expected a list of rules, found {}", kind(rules)),
                )
            })?;
            if list.len() > MAX_RULES {
                return Err(GrantError::new(
                    field,
                    format!("at most {MAX_RULES} rules are allowed"),
                ));
            }
            let parsed = list
                .iter()
                .enumerate()
                .map(|(i, r)| Rule::from_json(r, &format!("{field}[{i}]"), is_allow))
                .collect::<Result<Vec<_>, _>>()?;
            if is_allow {
                g.allow = parsed;
            } else {
                g.deny = parsed;
            }
        }
        if let Some(d) = map.get("datalog") {
            let text = string(d, "datalog")?;
            if text.len() > MAX_DATALOG_LEN {
                return Err(GrantError::new(
                    "datalog",
                    format!("longer than {MAX_DATALOG_LEN} bytes"),
                ));
            }
            crate::compile::check_raw_datalog(text)?;
            g.datalog = Some(text.to_owned());
        }
        g.validate()?;
        Ok(g)
    }

    /// The canonical JSON form: [`Grant::from_json`] reads it back to an equal grant.
    pub fn to_json(&self) -> J {
        let mut m = Map::new();
        if !self.audience.is_empty() {
            m.insert(
                "audience".into(),
                self.audience
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        if let Some(t) = self.ttl {
            m.insert("ttl".into(), t.to_string().into());
        }
        if let Some(t) = self.expires_at {
            m.insert("expires_at".into(), t.to_string().into());
        }
        if let Some(t) = self.not_before {
            m.insert("not_before".into(), t.to_string().into());
        }
        if !self.allow.is_empty() {
            m.insert(
                "allow".into(),
                J::Array(self.allow.iter().map(Rule::to_json).collect()),
            );
        }
        if !self.deny.is_empty() {
            m.insert(
                "deny".into(),
                J::Array(self.deny.iter().map(Rule::to_json).collect()),
            );
        }
        if let Some(d) = &self.datalog {
            m.insert("datalog".into(), d.clone().into());
        }
        J::Object(m)
    }

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
    fn from_json(v: &J, path: &str, is_allow: bool) -> Result<Self, GrantError> {
        let fields: &[&str] = if is_allow {
            &["resources", "actions", "when", "human"]
        } else {
            &["resources", "actions", "when"]
        };
        let map = object(v, path, fields)?;
        let resources_path = format!("{path}.resources");
        let resources = strings(
            map.get("resources")
                .ok_or_else(|| GrantError::new(path, "missing field `resources`"))?,
            &resources_path,
            |s| s.parse::<ResourcePattern>().map_err(|e| e.to_string()),
        )?;
        if resources.is_empty() {
            return Err(GrantError::new(
                resources_path,
                "list at least one resource",
            ));
        }
        let actions_path = format!("{path}.actions");
        let raw_actions = strings(
            map.get("actions")
                .ok_or_else(|| GrantError::new(path, "missing field `actions`"))?,
            &actions_path,
            |s| Ok(s.to_owned()),
        )?;
        let actions = if raw_actions.iter().any(|a| a == "*") {
            if raw_actions.len() > 1 {
                return Err(GrantError::new(
                    actions_path,
                    "`*` stands for every action and must be alone",
                ));
            }
            Actions::Any
        } else if raw_actions.is_empty() {
            return Err(GrantError::new(actions_path, "list at least one action"));
        } else {
            Actions::Listed(
                raw_actions
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        a.parse::<Action>()
                            .map_err(|e| GrantError::new(format!("{actions_path}[{i}]"), e))
                    })
                    .collect::<Result<_, _>>()?,
            )
        };
        let mut when = Vec::new();
        if let Some(w) = map.get("when") {
            let wpath = format!("{path}.when");
            let list = w.as_array().ok_or_else(|| {
                GrantError::new(
                    &wpath,
                    format!("expected a list of conditions, found {}", kind(w)),
                )
            })?;
            if list.len() > MAX_ITEMS {
                return Err(GrantError::new(
                    wpath,
                    format!("at most {MAX_ITEMS} conditions are allowed"),
                ));
            }
            for (i, c) in list.iter().enumerate() {
                let cpath = format!("{wpath}[{i}]");
                // (A `present` deny condition is refused by `Grant::validate`.)
                when.push(Condition::from_json(c, &cpath)?);
            }
        }
        let human = match map.get("human") {
            Some(h) => Some(HumanRequirement::from_json(h, &format!("{path}.human"))?),
            None => None,
        };
        Ok(Self {
            resources,
            actions,
            when,
            human,
        })
    }

    fn to_json(&self) -> J {
        let mut m = Map::new();
        m.insert(
            "resources".into(),
            self.resources
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .into(),
        );
        let actions: Vec<&str> = match &self.actions {
            Actions::Any => vec!["*"],
            Actions::Listed(l) => l.iter().map(Action::as_str).collect(),
        };
        m.insert("actions".into(), actions.into());
        if !self.when.is_empty() {
            m.insert(
                "when".into(),
                J::Array(self.when.iter().map(Condition::to_json).collect()),
            );
        }
        if let Some(h) = &self.human {
            m.insert("human".into(), h.to_json());
        }
        J::Object(m)
    }

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

    /// Whether the rule's resources and actions cover a request (conditions aside).
    pub fn covers(&self, resource: &str, action: &str) -> bool {
        self.actions.covers(action) && self.resources.iter().any(|p| p.matches(resource))
    }
}

impl Op {
    fn validate(&self, path: &str) -> Result<(), GrantError> {
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

impl Condition {
    fn from_json(v: &J, path: &str) -> Result<Self, GrantError> {
        let map = v.as_object().ok_or_else(|| {
            GrantError::new(path, format!("expected an object, found {}", kind(v)))
        })?;
        let attr = string(
            map.get("attr")
                .ok_or_else(|| GrantError::new(path, "missing field `attr`"))?,
            &format!("{path}.attr"),
        )?
        .parse::<AttrName>()
        .map_err(|e| GrantError::new(format!("{path}.attr"), e))?;
        let mut ops = map.iter().filter(|(k, _)| k.as_str() != "attr");
        let (name, arg) = ops.next().ok_or_else(|| {
            GrantError::new(
                path,
                format!(
                    "missing an operator, expected one of {}",
                    list_of(&OPERATORS)
                ),
            )
        })?;
        if let Some((second, _)) = ops.next() {
            return Err(GrantError::new(
                path,
                format!("one operator per condition, found `{name}` and `{second}`"),
            ));
        }
        let opath = format!("{path}.{name}");
        let op = match name.as_str() {
            "eq" => Op::Eq(value(arg, &opath)?),
            "ne" => Op::Ne(value(arg, &opath)?),
            "lt" => Op::Lt(value(arg, &opath)?),
            "le" => Op::Le(value(arg, &opath)?),
            "gt" => Op::Gt(value(arg, &opath)?),
            "ge" => Op::Ge(value(arg, &opath)?),
            "in" => {
                let list = arg.as_array().ok_or_else(|| {
                    GrantError::new(&opath, format!("expected a list, found {}", kind(arg)))
                })?;
                if list.len() > MAX_ITEMS {
                    return Err(GrantError::new(
                        &opath,
                        format!("list 1 to {MAX_ITEMS} values"),
                    ));
                }
                Op::In(
                    list.iter()
                        .enumerate()
                        .map(|(i, x)| value(x, &format!("{opath}[{i}]")))
                        .collect::<Result<Vec<_>, _>>()?,
                )
            }
            "present" => match arg {
                J::Bool(true) => Op::Present,
                J::Bool(false) => {
                    return Err(GrantError::new(
                        &opath,
                        "only `true` is supported: a condition cannot require an attribute to be absent",
                    ))
                }
                other => {
                    return Err(GrantError::new(
                        &opath,
                        format!("expected `true`, found {}", kind(other)),
                    ))
                }
            },
            "prefix" => Op::Prefix(string(arg, &opath)?.to_owned()),
            "within" => Op::Within(
                string(arg, &opath)?
                    .parse()
                    .map_err(|e| GrantError::new(&opath, e))?,
            ),
            other => {
                return Err(GrantError::new(
                    path,
                    format!("unknown operator `{other}`, expected one of {}", list_of(&OPERATORS)),
                ))
            }
        };
        // The types the operator accepts, checked once for parsed and built grants.
        op.validate(&opath)?;
        let op = match op {
            Op::In(mut values) => {
                values.sort();
                values.dedup();
                Op::In(values)
            }
            op => op,
        };
        Ok(Self { attr, op })
    }

    fn to_json(&self) -> J {
        let arg = match &self.op {
            Op::Eq(v) | Op::Ne(v) | Op::Lt(v) | Op::Le(v) | Op::Gt(v) | Op::Ge(v) => v.to_json(),
            Op::In(vs) => J::Array(vs.iter().map(Value::to_json).collect()),
            Op::Present => J::Bool(true),
            Op::Prefix(s) => J::String(s.clone()),
            Op::Within(s) => J::String(s.to_string()),
        };
        let mut m = Map::new();
        m.insert("attr".into(), self.attr.as_str().into());
        m.insert(self.op.name().into(), arg);
        J::Object(m)
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

    fn from_json(v: &J, path: &str) -> Result<Self, GrantError> {
        let map = object(v, path, &["methods", "max_age", "attrs"])?;
        let mut methods = match map.get("methods") {
            Some(m) => strings(m, &format!("{path}.methods"), |s| {
                Method::parse(s).ok_or_else(|| {
                    format!(
                        "unknown verification method `{s}`, expected one of `passkey`, `device-key`, `oidc`"
                    )
                })
            })?,
            None => Method::ALL.to_vec(),
        };
        if methods.is_empty() {
            return Err(GrantError::new(
                format!("{path}.methods"),
                "list at least one method",
            ));
        }
        methods.sort();
        methods.dedup();
        let max_age = match map.get("max_age") {
            Some(m) => {
                let p = format!("{path}.max_age");
                Some(string(m, &p)?.parse().map_err(|e| GrantError::new(p, e))?)
            }
            None => None,
        };
        let mut attrs = BTreeMap::new();
        if let Some(a) = map.get("attrs") {
            let apath = format!("{path}.attrs");
            let amap = a.as_object().ok_or_else(|| {
                GrantError::new(&apath, format!("expected an object, found {}", kind(a)))
            })?;
            for (k, v) in amap {
                let name = k
                    .parse::<AttrName>()
                    .map_err(|e| GrantError::new(&apath, e))?;
                attrs.insert(name, value(v, &format!("{apath}.{k}"))?);
            }
        }
        Ok(Self {
            methods,
            max_age,
            attrs,
        })
    }

    fn to_json(&self) -> J {
        let mut m = Map::new();
        m.insert(
            "methods".into(),
            self.methods
                .iter()
                .map(|x| x.as_str())
                .collect::<Vec<_>>()
                .into(),
        );
        if let Some(a) = self.max_age {
            m.insert("max_age".into(), a.to_string().into());
        }
        if !self.attrs.is_empty() {
            m.insert(
                "attrs".into(),
                J::Object(
                    self.attrs
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_json()))
                        .collect(),
                ),
            );
        }
        J::Object(m)
    }
}

/// A TOML value as JSON (TOML dates become RFC 3339 strings, which grants read as dates).
pub fn toml_to_json(v: &toml::Value) -> J {
    match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests;
