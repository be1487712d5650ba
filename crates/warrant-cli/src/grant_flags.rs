//! The shorthand grant flags: `--allow ACTION:RESOURCE`, `--deny …`, `--when 'ATTR OP VALUE'`.
//!
//! Flags become a grant document that goes through the same validation as a grant file,
//! so both report errors the same way. A `--when` belongs to the `--allow` or `--deny`
//! written just before it on the command line.

use clap::ArgMatches;
use serde_json::{json, Map, Value as J};
use warrant_core::grant::Grant;
use warrant_core::value::Value;

use crate::args::GrantArgs;
use crate::error::CliError;
use crate::io;

const SYMBOLS: [(&str, &str); 6] = [
    ("==", "eq"),
    ("!=", "ne"),
    ("<", "lt"),
    ("<=", "le"),
    (">", "gt"),
    (">=", "ge"),
];

fn rule(spec: &str, flag: &str) -> Result<J, CliError> {
    let (actions, resource) = spec.split_once(':').ok_or_else(|| {
        CliError::usage(format!(
            "--{flag} `{spec}`: expected ACTION:RESOURCE, such as read:tickets/123"
        ))
    })?;
    let actions: Vec<&str> = actions.split(',').map(str::trim).collect();
    Ok(json!({ "resources": [resource], "actions": actions }))
}

/// Parses `ATTR OP VALUE` into a grant-format condition.
pub fn condition(spec: &str) -> Result<J, CliError> {
    let bad = || {
        CliError::usage(format!(
            "--when `{spec}`: expected 'ATTR OP VALUE', such as 'amount lt 5000'"
        ))
    };
    let typed = |v: &str| -> Result<J, CliError> {
        Value::infer(v)
            .map(|v| v.to_json())
            .map_err(|e| CliError::usage(format!("--when `{spec}`: {e}")))
    };
    let mut parts = spec.trim().splitn(3, char::is_whitespace);
    let attr = parts.next().filter(|s| !s.is_empty()).ok_or_else(bad)?;
    let op_text = parts.next().ok_or_else(bad)?;
    let value = parts.next().map(str::trim).unwrap_or("");
    let op = SYMBOLS
        .iter()
        .find(|(s, _)| *s == op_text)
        .map_or(op_text, |(_, name)| name);
    let arg = match op {
        "present" if value.is_empty() => J::Bool(true),
        "present" => {
            return Err(CliError::usage(format!(
                "--when `{spec}`: `present` takes no value"
            )))
        }
        _ if value.is_empty() => return Err(bad()),
        "prefix" | "within" => J::String(value.to_owned()),
        "in" => J::Array(
            value
                .split(',')
                .map(|v| typed(v.trim()))
                .collect::<Result<_, _>>()?,
        ),
        _ => typed(value)?,
    };
    let mut m = Map::new();
    m.insert("attr".into(), attr.into());
    m.insert(op.into(), arg);
    Ok(J::Object(m))
}

/// Builds the grant from a grant file (if any) and the shorthand flags of `sub`.
pub fn grant(args: &GrantArgs, sub: &ArgMatches) -> Result<Grant, CliError> {
    let mut grant = match &args.grant {
        Some(path) => io::grant_file(path)?,
        None => Grant::default(),
    };
    // Order the flags as written, so each --when attaches to the rule before it.
    let mut events: Vec<(usize, char, &str)> = Vec::new();
    for (name, tag, values) in [
        ("allow", 'a', &args.allow),
        ("deny", 'd', &args.deny),
        ("when", 'w', &args.when),
    ] {
        if let Some(idx) = sub.indices_of(name) {
            events.extend(idx.zip(values.iter()).map(|(i, v)| (i, tag, v.as_str())));
        }
    }
    events.sort_by_key(|e| e.0);
    let mut allow: Vec<J> = Vec::new();
    let mut deny: Vec<J> = Vec::new();
    let mut last: Option<char> = None;
    for (_, tag, value) in events {
        match tag {
            'a' => {
                allow.push(rule(value, "allow")?);
                last = Some('a');
            }
            'd' => {
                deny.push(rule(value, "deny")?);
                last = Some('d');
            }
            _ => {
                let target = match last {
                    Some('a') => allow.last_mut(),
                    Some('d') => deny.last_mut(),
                    _ => None,
                }
                .ok_or_else(|| {
                    CliError::usage(format!("--when `{value}` must follow an --allow or --deny"))
                })?;
                let c = condition(value)?;
                if let Some(obj) = target.as_object_mut() {
                    obj.entry("when").or_insert_with(|| J::Array(Vec::new()));
                    if let Some(J::Array(list)) = obj.get_mut("when") {
                        list.push(c);
                    }
                }
            }
        }
    }
    let mut doc = Map::new();
    if !allow.is_empty() {
        doc.insert("allow".into(), J::Array(allow));
    }
    if !deny.is_empty() {
        doc.insert("deny".into(), J::Array(deny));
    }
    if let Some(t) = &args.ttl {
        doc.insert("ttl".into(), J::String(t.clone()));
    }
    if !args.audience.is_empty() {
        doc.insert("audience".into(), args.audience.clone().into());
    }
    let flags = Grant::from_json(&J::Object(doc))
        .map_err(|e| CliError::usage(format!("command line: {e}")))?;
    grant.merge(flags);
    Ok(grant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_from_the_command_line() {
        assert_eq!(
            condition("amount lt 5000").unwrap(),
            json!({"attr": "amount", "lt": 5000})
        );
        assert_eq!(
            condition("amount < 5000").unwrap(),
            json!({"attr": "amount", "lt": 5000})
        );
        assert_eq!(
            condition("ticket.status eq open").unwrap(),
            json!({"attr": "ticket.status", "eq": "open"})
        );
        assert_eq!(
            condition("reason present").unwrap(),
            json!({"attr": "reason", "present": true})
        );
        assert_eq!(
            condition("order.placed_at within 24h").unwrap(),
            json!({"attr": "order.placed_at", "within": "24h"})
        );
        assert_eq!(
            condition("status in open,pending").unwrap(),
            json!({"attr": "status", "in": ["open", "pending"]})
        );
        assert_eq!(
            condition("note prefix hello world").unwrap(),
            json!({"attr": "note", "prefix": "hello world"})
        );
        assert!(condition("amount").is_err());
        assert!(condition("amount lt").is_err());
        assert!(condition("reason present yes").is_err());
    }

    #[test]
    fn rules_from_the_command_line() {
        assert_eq!(
            rule("read,update:orders/*", "allow").unwrap(),
            json!({"resources": ["orders/*"], "actions": ["read", "update"]})
        );
        assert!(rule("tickets/1", "allow").is_err());
    }
}
