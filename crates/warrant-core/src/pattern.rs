//! Resource patterns, actions and audiences.
//!
//! A resource is a `/`-separated path such as `tickets/123/email_address`. A pattern is
//! - exact: `tickets/123/email_address`;
//! - `*` standing for exactly one non-empty segment anywhere but at the end: `orders/*/order_status`;
//! - a subtree when its last segment is `**` or `*`: `orders/**` and `orders/*` both match
//!   `orders/42` and `orders/42/items`, but not `orders` itself. A bare `*` or `**` matches
//!   every resource.
//!
//! Patterns compile to Biscuit expressions without regex injection: literal segments are
//! escaped, and only whole segments may be wildcards.

use std::fmt;
use std::str::FromStr;

/// The longest resource pattern, action or audience accepted (bytes).
pub const MAX_NAME_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Segment {
    Literal(String),
    One,
}

/// A parsed resource pattern; see the module documentation for the forms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourcePattern {
    text: String,
    prefix: Vec<Segment>,
    subtree: bool,
}

/// Why a resource pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Empty.
    #[error("a resource pattern cannot be empty")]
    Empty,
    /// Too long.
    #[error("resource pattern is longer than {MAX_NAME_LEN} bytes")]
    TooLong,
    /// `a//b`, `/a` or `a/`.
    #[error("`{0}` has an empty path segment")]
    EmptySegment(String),
    /// `ab*`.
    #[error("`{0}`: `*` must stand for a whole path segment")]
    PartialWildcard(String),
    /// `a/**/b`.
    #[error("`{0}`: `**` may only be the last segment")]
    InnerDoubleStar(String),
    /// Control characters.
    #[error("`{0}` contains a control character")]
    Control(String),
}

impl FromStr for ResourcePattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(PatternError::Empty);
        }
        if s.len() > MAX_NAME_LEN {
            return Err(PatternError::TooLong);
        }
        if s.chars().any(char::is_control) {
            return Err(PatternError::Control(s.escape_debug().to_string()));
        }
        let parts: Vec<&str> = s.split('/').collect();
        let last = parts.len() - 1;
        let mut prefix = Vec::with_capacity(parts.len());
        let mut subtree = false;
        for (i, part) in parts.iter().enumerate() {
            match *part {
                "" => return Err(PatternError::EmptySegment(s.to_owned())),
                "**" if i == last => subtree = true,
                "**" => return Err(PatternError::InnerDoubleStar(s.to_owned())),
                "*" if i == last => subtree = true,
                "*" => prefix.push(Segment::One),
                p if p.contains('*') => return Err(PatternError::PartialWildcard(s.to_owned())),
                p => prefix.push(Segment::Literal(p.to_owned())),
            }
        }
        Ok(Self {
            text: s.to_owned(),
            prefix,
            subtree,
        })
    }
}

impl ResourcePattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `resource` is matched by this pattern.
    pub fn matches(&self, resource: &str) -> bool {
        let mut rest = resource;
        for (i, seg) in self.prefix.iter().enumerate() {
            if i > 0 {
                match rest.strip_prefix('/') {
                    Some(r) => rest = r,
                    None => return false,
                }
            }
            match seg {
                Segment::Literal(l) => match rest.strip_prefix(l.as_str()) {
                    Some(r) => rest = r,
                    None => return false,
                },
                Segment::One => {
                    let end = rest.find('/').unwrap_or(rest.len());
                    if end == 0 {
                        return false;
                    }
                    rest = &rest[end..];
                }
            }
        }
        if !self.subtree {
            return rest.is_empty();
        }
        if self.prefix.is_empty() {
            return !rest.is_empty();
        }
        rest.strip_prefix('/').is_some_and(|r| !r.is_empty())
    }

    /// Whether some resource matches both patterns.
    pub fn overlaps(&self, other: &ResourcePattern) -> bool {
        let shared = self.prefix.len().min(other.prefix.len());
        let compatible = self.prefix[..shared]
            .iter()
            .zip(&other.prefix[..shared])
            .all(|pair| match pair {
                (Segment::Literal(a), Segment::Literal(b)) => a == b,
                _ => true,
            });
        if !compatible {
            return false;
        }
        let (a, b) = (self.prefix.len(), other.prefix.len());
        match (self.subtree, other.subtree) {
            (false, false) => a == b,
            // A subtree below `prefix` holds resources with more segments than it.
            (true, false) => b > a,
            (false, true) => a > b,
            (true, true) => true,
        }
    }

    /// How this pattern is tested in Datalog against the variable `var`.
    pub(crate) fn test(&self) -> PatternTest {
        let all_literal = self.prefix.iter().all(|s| matches!(s, Segment::Literal(_)));
        let literal_path = || {
            self.prefix
                .iter()
                .filter_map(|s| match s {
                    Segment::Literal(l) => Some(l.as_str()),
                    Segment::One => None,
                })
                .collect::<Vec<_>>()
                .join("/")
        };
        match (all_literal, self.subtree) {
            (true, false) => PatternTest::Equals(literal_path()),
            (true, true) if self.prefix.is_empty() => PatternTest::Any,
            (true, true) => PatternTest::Below(format!("{}/", literal_path())),
            (false, _) => {
                let mut re = String::from("^");
                for (i, seg) in self.prefix.iter().enumerate() {
                    if i > 0 {
                        re.push('/');
                    }
                    match seg {
                        Segment::Literal(l) => re.push_str(&regex::escape(l)),
                        Segment::One => re.push_str("[^/]+"),
                    }
                }
                if self.subtree {
                    re.push_str("/(?s:.+)");
                }
                re.push('$');
                PatternTest::Regex(re)
            }
        }
    }
}

/// The Datalog test a pattern compiles to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternTest {
    /// `$r != ""` (any non-empty resource)
    Any,
    /// `$r == "…"`
    Equals(String),
    /// `$r.starts_with("…/") && $r != "…/"`
    Below(String),
    /// `$r.matches("^…$")`
    Regex(String),
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

macro_rules! simple_name {
    ($(#[$doc:meta])* $name:ident, $err:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        #[doc = concat!("Why ", $what, " was refused.")]
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("`{text}` is not {what}: use 1 to 512 printable characters without spaces, quotes, `,` or `*`", text = .0, what = $what)]
        pub struct $err(pub String);

        impl FromStr for $name {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let ok = !s.is_empty()
                    && s.len() <= MAX_NAME_LEN
                    && !s.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, ',' | '*' | '"' | '\\'));
                if ok {
                    Ok(Self(s.to_owned()))
                } else {
                    Err($err(s.escape_debug().to_string()))
                }
            }
        }

        impl $name {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

simple_name!(
    /// An action such as `read`, `update` or `refund`.
    Action,
    ActionError,
    "an action"
);
simple_name!(
    /// The API a token is meant for, such as `support-api`.
    Audience,
    AudienceError,
    "an audience"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ResourcePattern {
        s.parse().unwrap()
    }

    #[test]
    fn exact_patterns() {
        let pat = p("tickets/123/email_address");
        assert!(pat.matches("tickets/123/email_address"));
        assert!(!pat.matches("tickets/123/email_address/x"));
        assert!(!pat.matches("tickets/123/email"));
        assert!(!pat.matches("tickets/1234/email_address"));
        assert_eq!(
            pat.test(),
            PatternTest::Equals("tickets/123/email_address".into())
        );
    }

    #[test]
    fn one_segment_wildcard() {
        let pat = p("orders/*/order_status");
        assert!(pat.matches("orders/42/order_status"));
        assert!(!pat.matches("orders//order_status"));
        assert!(!pat.matches("orders/42/43/order_status"));
        assert!(!pat.matches("orders/42/order_status/x"));
        assert_eq!(
            pat.test(),
            PatternTest::Regex("^orders/[^/]+/order_status$".into())
        );
    }

    #[test]
    fn subtrees() {
        for text in ["orders/**", "orders/*"] {
            let pat = p(text);
            assert!(pat.matches("orders/42"), "{text}");
            assert!(pat.matches("orders/42/items"), "{text}");
            assert!(!pat.matches("orders"), "{text}");
            assert!(!pat.matches("orders/"), "{text}");
            assert!(!pat.matches("ordersx/1"), "{text}");
            assert_eq!(pat.test(), PatternTest::Below("orders/".into()));
        }
        let mixed = p("customers/*/**");
        assert!(mixed.matches("customers/7/payment_card"));
        assert!(!mixed.matches("customers/7"));
        assert_eq!(
            mixed.test(),
            PatternTest::Regex("^customers/[^/]+/(?s:.+)$".into())
        );
        for all in ["*", "**"] {
            assert!(p(all).matches("anything/at/all"));
            assert!(!p(all).matches(""));
            assert_eq!(p(all).test(), PatternTest::Any);
        }
    }

    #[test]
    fn regex_metacharacters_are_literal() {
        let pat = p("files/a.b+c/*/x(y)");
        assert!(pat.matches("files/a.b+c/1/x(y)"));
        assert!(!pat.matches("files/aXbbc/1/x(y)"));
        assert!(!pat.matches("files/a.b+c/1/xy"));
        let PatternTest::Regex(re) = pat.test() else {
            panic!("expected a regex")
        };
        let re = regex::Regex::new(&re).unwrap();
        assert!(re.is_match("files/a.b+c/1/x(y)"));
        assert!(!re.is_match("files/aXbbc/1/x(y)"));
    }

    #[test]
    fn bad_patterns() {
        assert_eq!("".parse::<ResourcePattern>(), Err(PatternError::Empty));
        assert!(matches!(
            "a//b".parse::<ResourcePattern>(),
            Err(PatternError::EmptySegment(_))
        ));
        assert!(matches!(
            "/a".parse::<ResourcePattern>(),
            Err(PatternError::EmptySegment(_))
        ));
        assert!(matches!(
            "a/".parse::<ResourcePattern>(),
            Err(PatternError::EmptySegment(_))
        ));
        assert!(matches!(
            "a/b*".parse::<ResourcePattern>(),
            Err(PatternError::PartialWildcard(_))
        ));
        assert!(matches!(
            "a/**/b".parse::<ResourcePattern>(),
            Err(PatternError::InnerDoubleStar(_))
        ));
        assert!(matches!(
            "a/\nb".parse::<ResourcePattern>(),
            Err(PatternError::Control(_))
        ));
        assert_eq!(
            "x".repeat(513).parse::<ResourcePattern>(),
            Err(PatternError::TooLong)
        );
    }

    #[test]
    fn overlapping_patterns() {
        let yes = [
            ("tickets/1", "tickets/1"),
            ("tickets/*", "tickets/1"),
            ("tickets/*", "tickets/1/email"),
            ("tickets/*/email", "tickets/1/email"),
            ("tickets/*/email", "tickets/*/*"),
            ("*", "anything/at/all"),
            ("a/**", "a/*/c/**"),
        ];
        for (a, b) in yes {
            assert!(p(a).overlaps(&p(b)), "{a} ~ {b}");
            assert!(p(b).overlaps(&p(a)), "{b} ~ {a}");
        }
        let no = [
            ("tickets/1", "tickets/2"),
            ("tickets/*", "tickets"),
            ("tickets/*/email", "tickets/1/phone"),
            ("tickets/*/email", "tickets/1"),
            ("orders/**", "tickets/**"),
            ("a/b", "a/b/c"),
        ];
        for (a, b) in no {
            assert!(!p(a).overlaps(&p(b)), "{a} !~ {b}");
            assert!(!p(b).overlaps(&p(a)), "{b} !~ {a}");
        }
    }

    #[test]
    fn actions_and_audiences() {
        assert!("read".parse::<Action>().is_ok());
        assert!("support-api".parse::<Audience>().is_ok());
        assert!("".parse::<Action>().is_err());
        assert!("a b".parse::<Action>().is_err());
        assert!("a,b".parse::<Action>().is_err());
        assert!("*".parse::<Action>().is_err());
    }
}
