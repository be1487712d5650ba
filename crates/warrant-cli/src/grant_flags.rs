//! The shorthand grant flags: `--allow ACTION:RESOURCE`, `--deny …`, `--when 'ATTR OP VALUE'`.
//!
//! Flags become a grant document that goes through the same validation as a grant file,
//! so both report errors the same way. A `--when` belongs to the `--allow` or `--deny`
//! written just before it on the command line.

use clap::ArgMatches;
use serde_json::{json, Map, Value as J};
use warrant_core::grant::Grant;
use warrant_core::time::Span;
use warrant_core::value::{AttrName, Value};

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

/// The operators `--when` takes, by name.
const OPERATORS: [&str; 10] = [
    "eq", "ne", "lt", "le", "gt", "ge", "in", "present", "prefix", "within",
];

/// Parses `ATTR OP VALUE` into a grant-format condition.
///
/// Anything that would silently make a useless condition is refused: an attribute name
/// that is not one word, an unknown operator, a value in quotes (`"open"` would have to
/// match the quotes too), an `in` list in brackets or with an empty item, and a number
/// that is not an integer in i64 (it would become a string and never compare).
pub(crate) fn condition(spec: &str) -> Result<J, CliError> {
    let err = |why: String| CliError::usage(format!("--when `{spec}`: {why}"));
    let bad = || err("expected 'ATTR OP VALUE', such as 'amount lt 5000'".to_owned());
    let mut parts = spec.trim().splitn(3, char::is_whitespace);
    let attr = parts.next().filter(|s| !s.is_empty()).ok_or_else(bad)?;
    let op_text = parts.next().ok_or_else(bad)?;
    let value = parts.next().map(str::trim).unwrap_or("");
    if let Err(e) = attr.parse::<AttrName>() {
        return Err(err(format!("{e}, such as 'ticket.status eq open'")));
    }
    let op = SYMBOLS
        .iter()
        .find(|(s, _)| *s == op_text)
        .map_or(op_text, |(_, name)| name);
    if !OPERATORS.contains(&op) {
        return Err(err(format!(
            "unknown operator `{op_text}`: write 'ATTR OP VALUE' with a one-word ATTR \
             (such as 'ticket.status eq open') and OP one of {}, or ==, !=, <, <=, >, >=",
            OPERATORS.join(", ")
        )));
    }
    let unquote = |v: &str| -> Result<(), CliError> {
        if is_quoted(v) {
            let bare = v.trim_matches(['"', '\'']);
            return Err(err(format!(
                "the value `{v}` is in quotes, which would be part of it: write '{attr} {op_text} {bare}' \
                 (the shell's quotes go around the whole condition)"
            )));
        }
        Ok(())
    };
    let typed = |v: &str| -> Result<J, CliError> {
        unquote(v)?;
        Value::infer(v)
            .map(|v| v.to_json())
            .map_err(|e| err(e.to_string()))
    };
    let arg = match op {
        "present" if value.is_empty() => J::Bool(true),
        "present" => return Err(err("`present` takes no value".to_owned())),
        _ if value.is_empty() => return Err(bad()),
        "prefix" | "within" => {
            unquote(value)?;
            J::String(value.to_owned())
        }
        "in" => {
            if value.starts_with(['[', '(', '{']) || value.ends_with([']', ')', '}']) {
                let bare = value.trim_matches(['[', ']', '(', ')', '{', '}', ' ']);
                return Err(err(format!(
                    "the list `{value}` is in brackets, which would be part of its values: \
                     write '{attr} in {bare}'"
                )));
            }
            let items: Vec<&str> = value.split(',').map(str::trim).collect();
            if items.iter().any(|v| v.is_empty()) {
                return Err(err(
                    "the list has an empty value: write comma-separated values, such as 'status in open,pending'"
                        .to_owned(),
                ));
            }
            if items.iter().any(|v| is_quoted(v)) {
                let bare = value.replace(['"', '\''], "");
                return Err(err(format!(
                    "the values are in quotes, which would be part of them: write '{attr} in {bare}' \
                     (the shell's quotes go around the whole condition)"
                )));
            }
            J::Array(items.into_iter().map(typed).collect::<Result<_, _>>()?)
        }
        _ => typed(value)?,
    };
    let mut m = Map::new();
    m.insert("attr".into(), attr.into());
    m.insert(op.into(), arg);
    Ok(J::Object(m))
}

/// Whether `v` starts or ends with a quote: `"open"`, `'open'`.
fn is_quoted(v: &str) -> bool {
    v.starts_with(['"', '\'']) || v.ends_with(['"', '\''])
}

/// Reads `--ttl`: a positive duration such as `10m`.
fn ttl(text: &str) -> Result<Span, CliError> {
    text.parse::<Span>().map_err(|e| {
        if text.trim_start().starts_with('-') {
            CliError::usage(format!(
                "--ttl `{text}`: a lifetime cannot be negative: write a positive duration such as 10m, 1h30m or 7d"
            ))
        } else {
            CliError::usage(format!("--ttl: {e}"))
        }
    })
}

/// Builds the grant from a grant file (if any) and the shorthand flags of `sub`.
pub(crate) fn grant(args: &GrantArgs, sub: &ArgMatches) -> Result<Grant, CliError> {
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
        doc.insert("ttl".into(), J::String(ttl(t)?.to_string()));
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

    fn refusal(spec: &str) -> String {
        condition(spec).unwrap_err().to_string()
    }

    #[test]
    fn numbers_that_are_not_i64_are_refused_not_strings() {
        for (spec, shown) in [
            ("amount ge 10000.0", "`10000.0`"),
            ("amount ge 1e4", "`1e4`"),
            ("amount < 99999999999999999999", "`99999999999999999999`"),
            ("amount eq 20,000", "`20,000`"),
            ("amount in 1,2.5", "`2.5`"),
        ] {
            let msg = refusal(spec);
            assert!(
                msg.starts_with(&format!("--when `{spec}`: {shown}")),
                "{msg}"
            );
            assert!(msg.contains("i64") && msg.contains("minor units"), "{msg}");
        }
        assert_eq!(
            condition("amount ge -9223372036854775808").unwrap(),
            json!({"attr": "amount", "ge": i64::MIN})
        );
    }

    #[test]
    fn quoted_values_are_refused_with_the_bare_form() {
        let msg = refusal(r#"status eq "open""#);
        assert!(
            msg.contains("in quotes") && msg.contains("'status eq open'"),
            "{msg}"
        );
        let msg = refusal("status ne 'open'");
        assert!(msg.contains("'status ne open'"), "{msg}");
        let msg = refusal(r#"note prefix "hello world""#);
        assert!(msg.contains("'note prefix hello world'"), "{msg}");
        let msg = refusal(r#"status in "open","pending""#);
        assert!(msg.contains("'status in open,pending'"), "{msg}");
        // Quotes inside a value are part of it.
        assert_eq!(
            condition("note prefix it's").unwrap(),
            json!({"attr": "note", "prefix": "it's"})
        );
    }

    #[test]
    fn bracketed_or_holey_lists_are_refused() {
        let msg = refusal("status in [open, pending]");
        assert!(
            msg.contains("brackets") && msg.contains("'status in open, pending'"),
            "{msg}"
        );
        assert!(refusal("status in (a,b)").contains("brackets"));
        assert!(refusal("status in a,,b").contains("empty value"));
        assert!(refusal("status in a,").contains("empty value"));
        // Brackets are fine where a value is text.
        assert_eq!(
            condition("title prefix [WIP]").unwrap(),
            json!({"attr": "title", "prefix": "[WIP]"})
        );
    }

    #[test]
    fn attribute_names_and_operators_show_the_accepted_form() {
        let msg = refusal("ticket status eq open");
        assert!(
            msg.contains("unknown operator `status`") && msg.contains("'ticket.status eq open'"),
            "{msg}"
        );
        let msg = refusal(r#""ticket status" eq open"#);
        assert!(
            msg.contains("not an attribute name") && msg.contains("'ticket.status eq open'"),
            "{msg}"
        );
        let msg = refusal("amount lessthan 5");
        assert!(msg.contains("eq, ne, lt"), "{msg}");
    }

    #[test]
    fn ttl_must_be_a_positive_duration() {
        assert_eq!(ttl("10m").unwrap(), Span::from_seconds(600));
        let msg = ttl("-5m").unwrap_err().to_string();
        assert!(
            msg.contains("cannot be negative") && msg.contains("10m"),
            "{msg}"
        );
        let msg = ttl("5").unwrap_err().to_string();
        assert!(msg.starts_with("--ttl: `5` is not a duration"), "{msg}");
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
