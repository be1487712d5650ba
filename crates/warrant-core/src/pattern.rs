//! Resource patterns, actions and audiences.
//!
//! A resource is a `/`-separated path such as `tickets/123/email_address`. A pattern is
//! - exact: `tickets/123/email_address`;
//! - `*` standing for exactly one segment, wherever it stands: `orders/*/order_status`,
//!   `orders/*` (`orders/42`, not `orders/42/items`), `*` (every one-segment resource);
//! - a subtree when its last segment is `**`: `orders/**` matches `orders/42` and
//!   `orders/42/items`, but not `orders` itself. A bare `**` matches every resource.
//!
//! Resources are canonical logical names, not raw URL paths: no empty, `.` or `..`
//! segment (so no leading or trailing `/`), no control character ([`check_resource`]).
//! Patterns obey the same rules, so `tickets/123/**` can never be walked out of with
//! `tickets/123/../124`.
//!
//! Patterns compile to Biscuit expressions without regex injection: literal segments are
//! escaped, and only whole segments may be wildcards.

use std::fmt;
use std::str::FromStr;

/// The longest resource pattern, action or audience accepted (bytes).
pub const MAX_NAME_LEN: usize = 512;

/// [`class`] bit: a byte a canonical resource name holds only with a closer look (a
/// control character's first byte, or `.`).
const SUSPICIOUS: u8 = 1;
/// [`class`] bit: an ASCII byte an action or audience name may hold.
const NAME_BYTE: u8 = 2;
/// [`class`] bit: a byte an attribute name may hold (ASCII letters and digits, `_`, `-`,
/// `.`; `crate::value::AttrName`).
pub(crate) const ATTR_NAME_BYTE: u8 = 4;

/// The [`class`] of every byte: the name checks (resources, actions, audiences,
/// attributes) run on every request, and one table lookup per byte, without branches,
/// is their cheapest form.
#[expect(clippy::indexing_slicing, reason = "i < 256, the table's length")]
const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        #[expect(clippy::cast_possible_truncation, reason = "i < 256")]
        let b = i as u8;
        let mut c = 0;
        if b < 0x20 || b == 0x7f || b == 0xc2 || b == b'.' {
            c |= SUSPICIOUS;
        }
        if b > b' ' && b < 0x7f && !matches!(b, b',' | b'*' | b'"' | b'\\') {
            c |= NAME_BYTE;
        }
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') {
            c |= ATTR_NAME_BYTE;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// The class bits of byte `b` ([`SUSPICIOUS`], [`NAME_BYTE`], [`ATTR_NAME_BYTE`]).
pub(crate) fn class(b: u8) -> u8 {
    CLASSES.get(usize::from(b)).copied().unwrap_or(0)
}

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
    /// Every segment of `prefix` is a literal (a function of `text`, kept for
    /// [`Self::matches`]: such a pattern is tested by comparing bytes).
    literal: bool,
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
    /// `a/./b` or `a/../b`.
    #[error("`{0}` has a `.` or `..` segment: resources are logical names, not file paths")]
    DotSegment(String),
}

/// Why a request's resource is not a canonical resource name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// Empty.
    #[error("the resource is empty")]
    Empty,
    /// Too long.
    #[error("the resource is longer than {MAX_NAME_LEN} bytes")]
    TooLong,
    /// Control characters.
    #[error("the resource `{0}` contains a control character")]
    Control(String),
    /// `a//b`, `/a`, `a/`.
    #[error("the resource `{0}` has an empty path segment: map URLs to resource names without leading, trailing or doubled `/`")]
    EmptySegment(String),
    /// `a/./b`, `a/../b`.
    #[error(
        "the resource `{0}` has a `.` or `..` segment: resources are logical names, not file paths"
    )]
    DotSegment(String),
}

/// Checks that `resource` is a canonical resource name: 1 to [`MAX_NAME_LEN`] bytes, no
/// control character, and no empty, `.` or `..` segment.
pub fn check_resource(resource: &str) -> Result<(), ResourceError> {
    if resource.is_empty() {
        return Err(ResourceError::Empty);
    }
    if resource.len() > MAX_NAME_LEN {
        return Err(ResourceError::TooLong);
    }
    let bytes = resource.as_bytes();
    // Every request is checked: this is on the warm path. Most names have no byte that
    // could start a control character, no `.`, and no `/` at either end or doubled; a
    // scan without branches (a table lookup per byte) and a search for `//` tell, and
    // only a name that fails them is walked below, to say exactly what is wrong.
    let classes = bytes.iter().fold(0u8, |all, &b| all | class(b));
    let at_ends = bytes.first() == Some(&b'/') || bytes.last() == Some(&b'/');
    if classes & SUSPICIOUS == 0 && !at_ends && !resource.contains("//") {
        return Ok(());
    }
    // One pass over the bytes. A control character is reported before a bad segment
    // wherever either stands, so the first bad segment is only remembered until the end.
    let mut bad_segment = None;
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_control_at(bytes, i, b) {
            return Err(ResourceError::Control(resource.escape_debug().to_string()));
        }
        if b == b'/' {
            if bad_segment.is_none() {
                bad_segment = segment_error(bytes.get(start..i).unwrap_or_default());
            }
            start = i + 1;
        }
    }
    if bad_segment.is_none() {
        bad_segment = segment_error(bytes.get(start..).unwrap_or_default());
    }
    match bad_segment {
        None => Ok(()),
        Some(SegmentError::Empty) => Err(ResourceError::EmptySegment(resource.to_owned())),
        Some(SegmentError::Dot) => Err(ResourceError::DotSegment(resource.to_owned())),
    }
}

/// Whether the byte `b` at `i` in the UTF-8 text `bytes` starts a control character
/// (`char::is_control`: U+0000 to U+001F and U+007F to U+009F; the last 32 are encoded
/// as `0xC2 0x80` to `0xC2 0x9F`).
fn is_control_at(bytes: &[u8], i: usize, b: u8) -> bool {
    b < 0x20
        || b == 0x7f
        || (b == 0xc2
            && bytes
                .get(i + 1)
                .is_some_and(|next| (0x80..=0x9f).contains(next)))
}

/// What is wrong with a segment of a resource name.
enum SegmentError {
    Empty,
    Dot,
}

fn segment_error(segment: &[u8]) -> Option<SegmentError> {
    match segment {
        b"" => Some(SegmentError::Empty),
        b"." | b".." => Some(SegmentError::Dot),
        _ => None,
    }
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
        // The index of the last segment: one segment more than there are `/`.
        let last = s.bytes().filter(|&b| b == b'/').count();
        let mut prefix = Vec::with_capacity(last + 1);
        let mut subtree = false;
        for (i, part) in s.split('/').enumerate() {
            match part {
                "" => return Err(PatternError::EmptySegment(s.to_owned())),
                "." | ".." => return Err(PatternError::DotSegment(s.to_owned())),
                "**" if i == last => subtree = true,
                "**" => return Err(PatternError::InnerDoubleStar(s.to_owned())),
                "*" => prefix.push(Segment::One),
                p if p.contains('*') => return Err(PatternError::PartialWildcard(s.to_owned())),
                p => prefix.push(Segment::Literal(p.to_owned())),
            }
        }
        Ok(Self::from_parts(s.to_owned(), prefix, subtree))
    }
}

impl ResourcePattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A pattern from its parsed parts (`text` is what they print as).
    fn from_parts(text: String, prefix: Vec<Segment>, subtree: bool) -> Self {
        let literal = prefix.iter().all(|s| matches!(s, Segment::Literal(_)));
        Self {
            text,
            prefix,
            subtree,
            literal,
        }
    }

    /// Whether `resource` is matched by this pattern.
    pub fn matches(&self, resource: &str) -> bool {
        match (self.literal, self.subtree) {
            // `a/b`: the resource split at `/` is exactly these segments.
            (true, false) => resource == self.text,
            // `**`: any non-empty resource.
            (true, true) if self.prefix.is_empty() => !resource.is_empty(),
            // `a/b/**`: `a/b/` and at least one more byte.
            (true, true) => {
                let stem = self.text.strip_suffix("**").unwrap_or(&self.text);
                resource.len() > stem.len() && resource.starts_with(stem)
            }
            (false, _) => self.matches_segments(resource.as_bytes()),
        }
    }

    /// [`Self::matches`] segment by segment (any pattern; bytes, since `/` is ASCII).
    fn matches_segments(&self, resource: &[u8]) -> bool {
        let mut rest = resource;
        for (i, seg) in self.prefix.iter().enumerate() {
            if i > 0 {
                match rest.split_first() {
                    Some((b'/', r)) => rest = r,
                    _ => return false,
                }
            }
            match seg {
                Segment::Literal(l) => match rest.strip_prefix(l.as_bytes()) {
                    Some(r) => rest = r,
                    None => return false,
                },
                Segment::One => {
                    let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
                    if end == 0 {
                        return false;
                    }
                    rest = rest.get(end..).unwrap_or_default();
                }
            }
        }
        if !self.subtree {
            return rest.is_empty();
        }
        if self.prefix.is_empty() {
            return !rest.is_empty();
        }
        matches!(rest.split_first(), Some((b'/', r)) if !r.is_empty())
    }

    /// The pattern matching exactly the resources both patterns match, or `None` when no
    /// resource matches both.
    ///
    /// Exact for every string, canonical or not: segments intersect one by one (`*` with
    /// a literal is the literal), and a subtree `p/**` meets a longer pattern's segments,
    /// which are never empty, so the remainder it requires is always there. The result's
    /// text may be longer than [`MAX_NAME_LEN`] (`*/bbb/**` with `aaa/*/**` is
    /// `aaa/bbb/**`): it is a pattern to match with, not one a grant may be written with.
    ///
    /// ```
    /// use warrant_core::pattern::ResourcePattern;
    ///
    /// let p = |s: &str| s.parse::<ResourcePattern>().unwrap();
    /// assert_eq!(p("orders/*").intersect(&p("*/42")), Some(p("orders/42")));
    /// assert_eq!(p("tickets/**").intersect(&p("*/123/*")), Some(p("tickets/123/*")));
    /// assert_eq!(p("a/**").intersect(&p("a/*/**")), Some(p("a/*/**")));
    /// assert_eq!(p("a/**").intersect(&p("a")), None);
    /// assert_eq!(p("orders/*").intersect(&p("tickets/*")), None);
    /// ```
    pub fn intersect(&self, other: &ResourcePattern) -> Option<ResourcePattern> {
        // `short` has no more segments than `long`.
        let (short, long) = if self.prefix.len() <= other.prefix.len() {
            (self, other)
        } else {
            (other, self)
        };
        let same_len = short.prefix.len() == long.prefix.len();
        let subtree = match (short.subtree, long.subtree) {
            (false, false) if same_len => false,
            // A fixed-length pattern and a longer one never meet.
            (false, _) => return None,
            // `p/**` needs at least one segment past `p`: `long` has it (its segments are
            // never empty) or, as long as `p`, must be a subtree itself.
            (true, false) if same_len => return None,
            (true, long_subtree) => long_subtree,
        };
        let mut prefix = Vec::with_capacity(long.prefix.len());
        let mut rest = long.prefix.iter();
        for (a, b) in short.prefix.iter().zip(rest.by_ref()) {
            prefix.push(match (a, b) {
                (Segment::Literal(x), Segment::Literal(y)) if x != y => return None,
                (Segment::Literal(x), _) | (Segment::One, Segment::Literal(x)) => {
                    Segment::Literal(x.clone())
                }
                (Segment::One, Segment::One) => Segment::One,
            });
        }
        prefix.extend(rest.cloned());
        let mut text = prefix
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => l.as_str(),
                Segment::One => "*",
            })
            .chain(subtree.then_some("**"))
            .collect::<Vec<_>>()
            .join("/");
        text.shrink_to_fit();
        Some(Self::from_parts(text, prefix, subtree))
    }

    /// The heap memory this pattern holds (bytes).
    pub fn heap_bytes(&self) -> usize {
        let segments: usize = self
            .prefix
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => l.capacity(),
                Segment::One => 0,
            })
            .sum();
        self.text.capacity() + self.prefix.capacity() * std::mem::size_of::<Segment>() + segments
    }

    /// Whether some resource matches both patterns.
    pub fn overlaps(&self, other: &ResourcePattern) -> bool {
        // `zip` stops at the shorter prefix: the segments both patterns have.
        let compatible = self
            .prefix
            .iter()
            .zip(&other.prefix)
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

    /// How this pattern is tested in Datalog against a resource (canonical: for names
    /// [`check_resource`] refuses, the test and [`Self::matches`] may differ).
    pub(crate) fn test(&self) -> PatternTest {
        let all_literal = self.prefix.iter().all(|s| matches!(s, Segment::Literal(_)));
        // The literal segments joined by `/` (and `/` after them when `trailing`).
        let literal_path = |trailing: bool| {
            let mut path = String::with_capacity(self.text.len() + usize::from(trailing));
            let literals = self.prefix.iter().filter_map(|s| match s {
                Segment::Literal(l) => Some(l.as_str()),
                Segment::One => None,
            });
            for (i, l) in literals.enumerate() {
                if i > 0 {
                    path.push('/');
                }
                path.push_str(l);
            }
            if trailing {
                path.push('/');
            }
            path
        };
        match (all_literal, self.subtree) {
            (true, false) => PatternTest::Equals(literal_path(false)),
            (true, true) if self.prefix.is_empty() => PatternTest::Any,
            (true, true) => PatternTest::Below(literal_path(true)),
            (false, _) => {
                // `^`, the segments with `/` between them, `/.+` for a subtree, `$`.
                let len = 2
                    + self.prefix.len().saturating_sub(1)
                    + if self.subtree { 3 } else { 0 }
                    + self
                        .prefix
                        .iter()
                        .map(|seg| match seg {
                            Segment::Literal(l) => {
                                l.len() + l.chars().filter(|&c| escapes(c)).count()
                            }
                            Segment::One => ONE_SEGMENT.len(),
                        })
                        .sum::<usize>();
                let mut re = String::with_capacity(len);
                re.push('^');
                for (i, seg) in self.prefix.iter().enumerate() {
                    if i > 0 {
                        re.push('/');
                    }
                    match seg {
                        Segment::Literal(l) => escape_into(l, &mut re),
                        Segment::One => re.push_str(ONE_SEGMENT),
                    }
                }
                if self.subtree {
                    re.push_str("/.+");
                }
                re.push('$');
                PatternTest::Regex(re)
            }
        }
    }
}

/// Appends `regex::escape(literal)` to `out`: each character, after a `\\` when
/// `regex::escape` escapes it.
fn escape_into(literal: &str, out: &mut String) {
    for c in literal.chars() {
        if escapes(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

impl ResourcePattern {
    /// The pattern a [`PatternTest`] was made from (the inverse of [`Self::test`]), or
    /// `None` if no pattern makes it. Decompilation relies on
    /// `from_test(&p.test()) == Some(p)`.
    pub(crate) fn from_test(test: &PatternTest) -> Option<Self> {
        let text = match test {
            PatternTest::Any => "**".to_owned(),
            PatternTest::Equals(s) => s.clone(),
            PatternTest::Below(prefix) => {
                prefix.strip_suffix('/')?;
                format!("{prefix}**")
            }
            PatternTest::Regex(re) => {
                let body = re.strip_prefix('^')?.strip_suffix('$')?;
                let (body, subtree) = match body.strip_suffix("/.+") {
                    Some(b) => (b, true),
                    None => (body, false),
                };
                // Segments are `[^/]+` (whose `/` is no separator) or escaped literals,
                // written one after the other with a `/` between them.
                let mut text = String::with_capacity(body.len() + 3);
                let mut rest = body;
                loop {
                    let after = match rest.strip_prefix(ONE_SEGMENT) {
                        Some(after) => {
                            text.push('*');
                            after
                        }
                        None => {
                            let end = rest.find('/').unwrap_or(rest.len());
                            let (literal, after) = rest.split_at(end);
                            unescape_into(literal, &mut text)?;
                            after
                        }
                    };
                    match after.strip_prefix('/') {
                        Some(next) => {
                            text.push('/');
                            rest = next;
                        }
                        None if after.is_empty() => break,
                        None => return None,
                    }
                }
                if subtree {
                    text.push_str("/**");
                }
                text
            }
        };
        let pattern: Self = text.parse().ok()?;
        (pattern.test() == *test).then_some(pattern)
    }
}

/// The regular expression of a `*` segment.
const ONE_SEGMENT: &str = "[^/]+";

/// Appends to `out` the literal text `regex::escape` made `escaped` from, or returns
/// `None` if it is not such.
fn unescape_into(escaped: &str, out: &mut String) -> Option<()> {
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            c if !escapes(c) => out.push(c),
            _ => return None,
        }
    }
    Some(())
}

/// Whether `regex::escape` escapes `c`: asked of `regex::escape` itself, once per ASCII
/// character (a table), and on every call for any other character.
fn escapes(c: char) -> bool {
    static ASCII: std::sync::OnceLock<[bool; 128]> = std::sync::OnceLock::new();
    let asks = |c: char| regex::escape(c.encode_utf8(&mut [0; 4])).len() != c.len_utf8();
    match usize::try_from(u32::from(c)) {
        Ok(i) if i < 128 => ASCII
            .get_or_init(|| {
                std::array::from_fn(|i| u8::try_from(i).map(char::from).is_ok_and(asks))
            })
            .get(i)
            .copied()
            .unwrap_or_else(|| asks(c)),
        _ => asks(c),
    }
}

/// The Datalog test a pattern compiles to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternTest {
    /// No test: every resource (`**`).
    Any,
    /// `$r == "…"`
    Equals(String),
    /// `$r.starts_with("…/")`
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
                Self::check(s).map(|()| Self(s.to_owned()))
            }
        }

        impl $name {
            #[doc = concat!("Whether `s` is ", $what, ", without allocating: what parsing checks.")]
            pub fn check(s: &str) -> Result<(), $err> {
                // ASCII names (the usual case) are checked byte by byte; a name with
                // another character is checked character by character.
                let ok = !s.is_empty()
                    && s.len() <= MAX_NAME_LEN
                    && (s.bytes().fold(NAME_BYTE, |all, b| all & class(b)) != 0
                        || (!s.is_ascii()
                            && !s.chars().any(|c| {
                                c.is_control()
                                    || c.is_whitespace()
                                    || matches!(c, ',' | '*' | '"' | '\\')
                            })));
                if ok {
                    Ok(())
                } else {
                    Err($err(s.escape_debug().to_string()))
                }
            }

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
    use proptest::prelude::*;

    fn p(s: &str) -> ResourcePattern {
        s.parse().unwrap()
    }

    /// `unescape` as it was before its table: `regex::escape` asked of every character.
    fn unescape_oracle(escaped: &str) -> Option<String> {
        let mut out = String::with_capacity(escaped.len());
        let mut chars = escaped.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                c if regex::escape(&c.to_string()).len() == c.len_utf8() => out.push(c),
                _ => return None,
            }
        }
        Some(out)
    }

    fn unescape(escaped: &str) -> Option<String> {
        let mut out = String::new();
        unescape_into(escaped, &mut out).map(|()| out)
    }

    /// `from_test` as it was before it wrote the pattern's text directly (with the
    /// previous `unescape`).
    fn from_test_oracle(test: &PatternTest) -> Option<ResourcePattern> {
        let text = match test {
            PatternTest::Any => "**".to_owned(),
            PatternTest::Equals(s) => s.clone(),
            PatternTest::Below(prefix) => {
                prefix.strip_suffix('/')?;
                format!("{prefix}**")
            }
            PatternTest::Regex(re) => {
                let body = re.strip_prefix('^')?.strip_suffix('$')?;
                let (body, subtree) = match body.strip_suffix("/.+") {
                    Some(b) => (b, true),
                    None => (body, false),
                };
                let mut segments = Vec::new();
                let mut rest = body;
                loop {
                    let (segment, after) = match rest.strip_prefix(ONE_SEGMENT) {
                        Some(after) => ("*".to_owned(), after),
                        None => {
                            let end = rest.find('/').unwrap_or(rest.len());
                            let (literal, after) = rest.split_at(end);
                            (unescape_oracle(literal)?, after)
                        }
                    };
                    segments.push(segment);
                    match after.strip_prefix('/') {
                        Some(next) => rest = next,
                        None if after.is_empty() => break,
                        None => return None,
                    }
                }
                if subtree {
                    segments.push("**".to_owned());
                }
                segments.join("/")
            }
        };
        let pattern: ResourcePattern = text.parse().ok()?;
        (pattern.test() == *test).then_some(pattern)
    }

    /// Pattern-like text: segments (wildcards, literals with regex metacharacters, bad
    /// segments) joined by `/`.
    fn segments_text() -> impl Strategy<Value = String> {
        let segment = prop::sample::select(vec![
            "a", "bc", "*", "**", "b*", "", ".", "..", "x.y", "\\", "[^/]+", "é", "a-b", "#",
        ]);
        prop::collection::vec(segment, 1..5).prop_map(|v| v.join("/"))
    }

    /// Regular expressions from the pieces tests are made of, and others.
    fn regex_text() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "^", "$", "[^/]+", "/", "/.+", ".+", "\\.", "\\*", "\\", "*", "a", "bc", ".", "..",
            "\\-", "-", "\\\\", "é", "\u{85}", "#", "\\#", " ",
        ]);
        (
            proptest::bool::ANY,
            proptest::bool::ANY,
            prop::collection::vec(piece, 0..8),
        )
            .prop_map(|(start, end, pieces)| {
                let mut re = String::from(if start { "^" } else { "" });
                re.extend(pieces);
                if end {
                    re.push('$');
                }
                re
            })
    }

    /// `test` as it was before it wrote its text directly.
    fn test_oracle(p: &ResourcePattern) -> PatternTest {
        let all_literal = p.prefix.iter().all(|s| matches!(s, Segment::Literal(_)));
        let literal_path = || {
            p.prefix
                .iter()
                .filter_map(|s| match s {
                    Segment::Literal(l) => Some(l.as_str()),
                    Segment::One => None,
                })
                .collect::<Vec<_>>()
                .join("/")
        };
        match (all_literal, p.subtree) {
            (true, false) => PatternTest::Equals(literal_path()),
            (true, true) if p.prefix.is_empty() => PatternTest::Any,
            (true, true) => PatternTest::Below(format!("{}/", literal_path())),
            (false, _) => {
                let mut re = String::from("^");
                for (i, seg) in p.prefix.iter().enumerate() {
                    if i > 0 {
                        re.push('/');
                    }
                    match seg {
                        Segment::Literal(l) => re.push_str(&regex::escape(l)),
                        Segment::One => re.push_str(ONE_SEGMENT),
                    }
                }
                if p.subtree {
                    re.push_str("/.+");
                }
                re.push('$');
                PatternTest::Regex(re)
            }
        }
    }

    /// `FromStr` as it was before it read bytes.
    fn parse_oracle(s: &str) -> Result<ResourcePattern, PatternError> {
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
                "." | ".." => return Err(PatternError::DotSegment(s.to_owned())),
                "**" if i == last => subtree = true,
                "**" => return Err(PatternError::InnerDoubleStar(s.to_owned())),
                "*" => prefix.push(Segment::One),
                p if p.contains('*') => return Err(PatternError::PartialWildcard(s.to_owned())),
                p => prefix.push(Segment::Literal(p.to_owned())),
            }
        }
        Ok(ResourcePattern::from_parts(s.to_owned(), prefix, subtree))
    }

    /// Text from characters that matter to patterns and to regular expressions, control
    /// characters (one and two UTF-8 bytes) and their neighbours, and any character.
    fn text(max: usize) -> impl Strategy<Value = String> {
        let special = prop::sample::select(vec![
            'a', 'b', '/', '*', '.', '\\', '[', ']', '^', '$', '#', '&', '~', '-', ' ', '+', '?',
            '(', '|', '{', '\n', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}', '\u{a0}', '\u{c2}', 'é',
            '\u{2028}',
        ]);
        prop::collection::vec(prop_oneof![4 => special, 1 => any::<char>()], 0..max)
            .prop_map(|cs| cs.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn unescaping_is_as_regex_escape_says(s in text(16)) {
            prop_assert_eq!(unescape(&s), unescape_oracle(&s));
            prop_assert_eq!(unescape(&regex::escape(&s)), Some(s));
        }

        #[test]
        fn patterns_are_read_from_tests_as_before(
            re in regex_text(),
            s in text(12),
            p in segments_text(),
        ) {
            let of_pattern = p.parse::<ResourcePattern>().ok().map(|p| p.test());
            for test in of_pattern.into_iter().chain([
                PatternTest::Regex(re.clone()),
                PatternTest::Equals(s.clone()),
                PatternTest::Below(s.clone()),
                PatternTest::Below(re),
            ]) {
                let new = ResourcePattern::from_test(&test);
                let old = from_test_oracle(&test);
                prop_assert_eq!(
                    new.as_ref().map(ResourcePattern::heap_bytes),
                    old.as_ref().map(ResourcePattern::heap_bytes)
                );
                prop_assert_eq!(new, old);
            }
        }

        #[test]
        fn tests_are_written_as_before(s in segments_text(), t in text(12)) {
            for text in [s, t] {
                if let Ok(p) = text.parse::<ResourcePattern>() {
                    let test = p.test();
                    prop_assert_eq!(&test, &test_oracle(&p));
                    // Written in one allocation of the exact size.
                    if let PatternTest::Regex(re) = &test {
                        prop_assert_eq!(re.capacity(), re.len());
                    }
                }
            }
        }

        #[test]
        fn every_pattern_is_read_from_its_test(s in segments_text()) {
            if let Ok(p) = s.parse::<ResourcePattern>() {
                prop_assert_eq!(ResourcePattern::from_test(&p.test()), Some(p));
            }
        }

        #[test]
        fn parsing_is_as_before(s in text(16)) {
            let new = s.parse::<ResourcePattern>();
            let old = parse_oracle(&s);
            prop_assert_eq!(
                new.as_ref().map(ResourcePattern::heap_bytes),
                old.as_ref().map(ResourcePattern::heap_bytes)
            );
            prop_assert_eq!(new, old);
        }
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
        let pat = p("orders/**");
        assert!(pat.matches("orders/42"));
        assert!(pat.matches("orders/42/items"));
        assert!(!pat.matches("orders"));
        assert!(!pat.matches("orders/"));
        assert!(!pat.matches("ordersx/1"));
        assert_eq!(pat.test(), PatternTest::Below("orders/".into()));
        let mixed = p("customers/*/**");
        assert!(mixed.matches("customers/7/payment_card"));
        assert!(!mixed.matches("customers/7"));
        assert_eq!(
            mixed.test(),
            PatternTest::Regex("^customers/[^/]+/.+$".into())
        );
        assert!(p("**").matches("anything/at/all"));
        assert!(!p("**").matches(""));
        assert_eq!(p("**").test(), PatternTest::Any);
    }

    #[test]
    fn a_trailing_star_is_one_segment() {
        let pat = p("orders/*");
        assert!(pat.matches("orders/42"));
        assert!(!pat.matches("orders/42/items"));
        assert!(!pat.matches("orders"));
        assert_eq!(pat.test(), PatternTest::Regex("^orders/[^/]+$".into()));
        assert!(p("*").matches("anything"));
        assert!(!p("*").matches("anything/at/all"));
        assert_eq!(p("*").test(), PatternTest::Regex("^[^/]+$".into()));
    }

    #[test]
    fn tests_invert_to_their_patterns() {
        for text in [
            "a",
            "a/b",
            "**",
            "*",
            "a/**",
            "a/*",
            "*/b",
            "a/*/b/**",
            "x.y/a+b/*/(z)",
            "é/*/ü",
        ] {
            let pat = p(text);
            assert_eq!(ResourcePattern::from_test(&pat.test()), Some(pat), "{text}");
        }
        for bad in [
            PatternTest::Regex("^a.b$".into()),
            PatternTest::Regex("a$".into()),
            PatternTest::Below("a".into()),
            PatternTest::Equals("a/*".into()),
        ] {
            assert_eq!(ResourcePattern::from_test(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn resources_are_canonical() {
        for ok in ["a", "tickets/123/email_address", "a/*/b", "é"] {
            assert_eq!(check_resource(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_resource(""), Err(ResourceError::Empty));
        for bad in ["/a", "a/", "a//b"] {
            assert!(
                matches!(check_resource(bad), Err(ResourceError::EmptySegment(_))),
                "{bad}"
            );
        }
        for bad in [
            ".",
            "..",
            "a/./b",
            "a/../b",
            "tickets/123/../124/email",
            "a/..",
        ] {
            assert!(
                matches!(check_resource(bad), Err(ResourceError::DotSegment(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            check_resource("a\nb"),
            Err(ResourceError::Control(_))
        ));
        assert_eq!(
            check_resource(&"x".repeat(513)),
            Err(ResourceError::TooLong)
        );
        for bad in ["a/./b", "../a", "a/..", "."] {
            assert!(
                matches!(
                    bad.parse::<ResourcePattern>(),
                    Err(PatternError::DotSegment(_))
                ),
                "{bad}"
            );
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
            ("tickets/**", "tickets/1/email"),
            ("tickets/*/email", "tickets/1/email"),
            ("tickets/*/email", "tickets/*/*"),
            ("**", "anything/at/all"),
            ("*", "anything"),
            ("a/**", "a/*/c/**"),
        ];
        for (a, b) in yes {
            assert!(p(a).overlaps(&p(b)), "{a} ~ {b}");
            assert!(p(b).overlaps(&p(a)), "{b} ~ {a}");
        }
        let no = [
            ("tickets/1", "tickets/2"),
            ("tickets/*", "tickets"),
            ("tickets/*", "tickets/1/email"),
            ("*", "a/b"),
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
