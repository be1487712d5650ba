//! A grant in one sentence, for people: what `warrant inspect`, the approval page, the
//! request API and the audit log show, from this one generator.

use std::fmt::Write as _;

use crate::grant::{Actions, Condition, Grant, Op, Rule};
use crate::time::Span;

/// `g` in one sentence: its allow rules, its deny rules, its lifetime and its audiences,
/// separated by semicolons. Every value a person wrote is quoted: strings in double quotes,
/// names (resources, actions, audiences, attributes) in backticks, with backticks,
/// backslashes, control and invisible characters (bidi overrides, zero-width) escaped
/// inside, so the sentence cannot be made to say something the grant does not.
///
/// ```
/// use warrant_core::grant::Grant;
/// use warrant_core::inspect::describe;
///
/// let g = Grant::from_json_str(r#"{
///   "audience": ["support-api"], "ttl": "10m",
///   "allow": [
///     {"resources": ["tickets/123/email_address"], "actions": ["read"],
///      "when": [{"attr": "ticket.status", "eq": "open"}]},
///     {"resources": ["orders/*"], "actions": ["refund"], "when": [{"attr": "amount", "lt": 5000}]}
///   ],
///   "deny": [{"resources": ["customers/*/payment_card"], "actions": "*"}]
/// }"#)?;
/// assert_eq!(
///     describe(&g),
///     "read `tickets/123/email_address` while `ticket.status` is \"open\"; \
///      refund `orders/*` while `amount` is under 5000; \
///      never anything on `customers/*/payment_card`; for 10 minutes; only for `support-api`"
/// );
/// # Ok::<(), warrant_core::grant::GrantError>(())
/// ```
pub fn describe(g: &Grant) -> String {
    let mut parts: Vec<String> = g.allow.iter().map(|r| rule(r, false)).collect();
    parts.extend(g.deny.iter().map(|r| rule(r, true)));
    if g.allow.is_empty() {
        parts.insert(0, "nothing more than before".to_owned());
    }
    if let Some(t) = g.ttl {
        parts.push(format!("for {}", span(t)));
    }
    if let Some(t) = g.not_before {
        parts.push(format!("from {t}"));
    }
    if let Some(t) = g.expires_at {
        parts.push(format!("until {t}"));
    }
    if !g.audience.is_empty() {
        let list: Vec<String> = g.audience.iter().map(|a| name(&a.to_string())).collect();
        parts.push(format!("only for {}", or_list(&list)));
    }
    if g.datalog.is_some() {
        parts.push("and raw Datalog checks".to_owned());
    }
    parts.join("; ")
}

/// `text` in backticks, escaped so that it reads as one name whatever it holds.
fn name(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('`');
    for c in text.chars() {
        match c {
            '`' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() || is_invisible(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// Whether `c` is a character a person does not see but that changes how text reads:
/// bidirectional overrides and isolates, zero-width characters, the soft hyphen, the byte
/// order mark (Unicode format characters that text for people should not carry).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// An allow rule ("read `a` while …") or a deny rule ("never read `a` …").
fn rule(r: &Rule, deny: bool) -> String {
    let resources: Vec<String> = r.resources.iter().map(|p| name(&p.to_string())).collect();
    let resources = or_list(&resources);
    let mut s = match (&r.actions, deny) {
        (Actions::Any, false) => format!("do anything on {resources}"),
        (Actions::Any, true) => format!("never anything on {resources}"),
        (Actions::Listed(l), _) => {
            let names: Vec<String> = l.iter().map(|a| plain_or_name(a.as_str())).collect();
            let verb = if deny { "never " } else { "" };
            format!("{verb}{} {resources}", or_list(&names))
        }
    };
    if !r.when.is_empty() {
        let conds: Vec<String> = r.when.iter().map(condition).collect();
        let _ = write!(s, " while {}", conds.join(" and "));
    }
    if let Some(h) = &r.human {
        let methods: Vec<String> = h.methods.iter().map(|m| m.as_str().to_owned()).collect();
        if methods.is_empty() {
            s.push_str(", if the human was verified");
        } else {
            let _ = write!(s, ", if the human was verified by {}", or_list(&methods));
        }
        if let Some(a) = h.max_age {
            let _ = write!(s, " at most {} before", span(a));
        }
        for (k, v) in &h.attrs {
            let _ = write!(
                s,
                " and the issuer vouches that their {} is {v}",
                name(k.as_str())
            );
        }
    }
    s
}

/// An action as it reads in a sentence: bare when it is a plain word (`read`, `refund`),
/// else as a name.
fn plain_or_name(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        text.to_owned()
    } else {
        name(text)
    }
}

fn condition(c: &Condition) -> String {
    let a = name(c.attr.as_str());
    match &c.op {
        Op::Eq(v) => format!("{a} is {v}"),
        Op::Ne(v) => format!("{a} is given and not {v}"),
        Op::Lt(v) => format!("{a} is under {v}"),
        Op::Le(v) => format!("{a} is at most {v}"),
        Op::Gt(v) => format!("{a} is over {v}"),
        Op::Ge(v) => format!("{a} is at least {v}"),
        Op::In(vs) => {
            let list: Vec<String> = vs.iter().map(ToString::to_string).collect();
            format!("{a} is {}", or_list(&list))
        }
        Op::Present => format!("{a} is given"),
        Op::Prefix(p) => format!("{a} starts with {p:?}"),
        Op::Within(s) => format!("{a} is at most {} old", span(*s)),
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A span in words: `10 minutes`, `1 hour 30 minutes`, `7 days`.
fn span(s: Span) -> String {
    let mut rest = s.seconds();
    if rest == 0 {
        return "no time".to_owned();
    }
    let mut out = Vec::new();
    for (unit, name) in [
        (86_400, "day"),
        (3600, "hour"),
        (60, "minute"),
        (1, "second"),
    ] {
        let n = rest / unit;
        if n > 0 {
            out.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
            rest %= unit;
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(json: &str) -> Grant {
        Grant::from_json_str(json).unwrap()
    }

    #[test]
    fn every_part_of_a_grant_has_words() {
        let grant = g(r#"{"audience": ["a", "b"], "ttl": "1h30m", "allow": [
            {"resources": ["x", "y/**"], "actions": ["read", "list", "write"],
             "when": [{"attr": "n", "le": 3}, {"attr": "s", "in": ["p", "q"]}, {"attr": "d", "within": "7d"},
                      {"attr": "t", "present": true}, {"attr": "u", "prefix": "ab"}, {"attr": "v", "ne": false},
                      {"attr": "w", "gt": 1}, {"attr": "z", "ge": 2}],
             "human": {"methods": ["passkey"], "max_age": "5m"}},
            {"resources": ["z"], "actions": "*"}
        ], "deny": [{"resources": ["x/secret"], "actions": ["read"]}]}"#);
        assert_eq!(
            describe(&grant),
            "read, list or write `x` or `y/**` while `n` is at most 3 and `s` is \"p\" or \"q\" and \
             `d` is at most 7 days old and `t` is given and `u` starts with \"ab\" and `v` is given and not false \
             and `w` is over 1 and `z` is at least 2, if the human was verified by passkey at most \
             5 minutes before; do anything on `z`; never read `x/secret`; for 1 hour 30 minutes; \
             only for `a` or `b`"
        );
    }

    #[test]
    fn names_cannot_close_their_quotes_or_hide_characters() {
        let grant = g(r#"{"audience": ["api`x"], "allow": [
            {"resources": ["tickets/1`; never anything on `tickets/2", "tickets/**"], "actions": ["read"]},
            {"resources": ["a\u202eb"], "actions": ["re`ad"]}
        ]}"#);
        assert_eq!(
            describe(&grant),
            "read `tickets/1\\`; never anything on \\`tickets/2` or `tickets/**`; \
             `re\\`ad` `a\\u{202e}b`; only for `api\\`x`"
        );
    }

    #[test]
    fn a_narrowing_without_allow_rules_says_so_and_values_are_escaped() {
        let grant = g(
            r#"{"ttl": "1s", "deny": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "r", "eq": "x\"; allow everything"}]}]}"#,
        );
        assert_eq!(
            describe(&grant),
            "nothing more than before; never read `a` while `r` is \"x\\\"; allow everything\"; for 1 second"
        );
    }
}
