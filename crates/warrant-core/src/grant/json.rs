//! The JSON form of a grant (TOML is read through it): parsing with errors that name the
//! field, and the canonical form that parses back to an equal grant.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value as J};

use super::validate::{check_raw_datalog, no_control};
use super::{
    Actions, Condition, Grant, GrantError, GrantProblem, HumanRequirement, Method, Op, Rule,
    MAX_DATALOG_LEN, MAX_ITEMS, MAX_RULES, OPERATORS,
};
use crate::pattern::{Action, Audience, ResourcePattern};
use crate::time::{SpanError, TimestampError};
use crate::value::{AttrName, Value};

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

/// A string or a list of strings, each parsed with `parse`.
fn strings<T, E: Into<GrantProblem>>(
    v: &J,
    path: &str,
    parse: impl Fn(&str) -> Result<T, E>,
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
            parse(string(item, &p)?).map_err(|e| GrantError::at(p, e))
        })
        .collect()
}

fn value(v: &J, path: &str) -> Result<Value, GrantError> {
    let value = Value::from_json(v).map_err(|e| GrantError::at(path, e))?;
    if let Value::String(s) = &value {
        no_control(s, path)?;
    }
    Ok(value)
}

impl Grant {
    /// Parses and validates a grant from JSON text. Every error names the offending field.
    ///
    /// ```
    /// use warrant_core::grant::{Actions, Grant, GrantProblem};
    ///
    /// let grant = Grant::from_json_str(r#"{
    ///     "audience": ["support-api"], "ttl": "10m",
    ///     "allow": [{ "resources": ["tickets/*/email_address"], "actions": ["read"],
    ///                 "when": [{ "attr": "ticket.status", "eq": "open" }] }]
    /// }"#)?;
    /// assert_eq!(grant.allow[0].actions, Actions::Listed(vec!["read".parse()?]));
    /// assert!(grant.allow[0].covers("tickets/123/email_address", "read"));
    ///
    /// let e = Grant::from_json_str(
    ///     r#"{"allow": [{"resources": ["tickets/*"], "actions": ["read"],
    ///                   "when": [{"attr": "amount", "lte": 5000}]}]}"#,
    /// )
    /// .unwrap_err();
    /// assert_eq!(e.path, "allow[0].when[0]");
    /// assert!(matches!(e.problem, GrantProblem::Invalid(_)));
    /// assert!(e.to_string().starts_with("allow[0].when[0]: unknown operator `lte`"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json_str(text: &str) -> Result<Self, GrantError> {
        let v: J = serde_json::from_str(text)
            .map_err(|e| GrantError::at("grant", GrantProblem::Json(Arc::new(e))))?;
        Self::from_json(&v)
    }

    /// Parses and validates a grant from TOML text (same fields as JSON).
    pub fn from_toml_str(text: &str) -> Result<Self, GrantError> {
        let v: toml::Value =
            toml::from_str(text).map_err(|e| GrantError::at("grant", GrantProblem::Toml(e)))?;
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
            g.audience = strings(a, "audience", str::parse::<Audience>)?;
        }
        if let Some(t) = map.get("ttl") {
            g.ttl = Some(
                string(t, "ttl")?
                    .parse()
                    .map_err(|e| GrantError::at("ttl", e))?,
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
                        .map_err(|e: TimestampError| GrantError::at(field, e))?,
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
            check_raw_datalog(text)?;
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
            str::parse::<ResourcePattern>,
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
            |s| Ok::<_, GrantProblem>(s.to_owned()),
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
                            .map_err(|e| GrantError::at(format!("{actions_path}[{i}]"), e))
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
        .map_err(|e| GrantError::at(format!("{path}.attr"), e))?;
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
                    .map_err(|e: SpanError| GrantError::at(&opath, e))?,
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
    fn from_json(v: &J, path: &str) -> Result<Self, GrantError> {
        let map = object(v, path, &["methods", "max_age", "attrs"])?;
        let mut methods = match map.get("methods") {
            Some(m) => strings(m, &format!("{path}.methods"), |s| {
                Method::parse(s).ok_or_else(|| {
                    GrantProblem::Invalid(format!(
                        "unknown verification method `{s}`, expected one of `passkey`, `device-key`, `oidc`"
                    ))
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
                Some(
                    string(m, &p)?
                        .parse()
                        .map_err(|e: SpanError| GrantError::at(p, e))?,
                )
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
                    .map_err(|e| GrantError::at(&apath, e))?;
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
