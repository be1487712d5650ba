//! Typed attribute values and attribute names.
//!
//! Biscuit has no floating point: money is an integer in minor units, scores are
//! integers. A value is a string, an integer, a bool or a date.

use std::fmt;
use std::str::FromStr;

use crate::pattern::{class, ATTR_NAME_BYTE};
use crate::time::Timestamp;

/// A typed value of a request attribute, a condition or a verified human attribute.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// A UTF-8 string.
    String(String),
    /// A signed 64-bit integer (money in minor units).
    Integer(i64),
    /// `true` or `false`.
    Bool(bool),
    /// An RFC 3339 date.
    Date(Timestamp),
}

/// The type of a [`Value`], as Biscuit's `.type()` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValueType {
    /// `string`
    String,
    /// `integer`
    Integer,
    /// `bool`
    Bool,
    /// `date`
    Date,
}

impl ValueType {
    /// The name Biscuit's `.type()` returns for this type.
    pub const fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Bool => "bool",
            Self::Date => "date",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a value could not be read from JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A JSON type Biscuit cannot carry.
    #[error("{0} is not a supported value: use a string, an integer, a bool or an RFC 3339 date")]
    Unsupported(&'static str),
    /// A number that is not an integer in `i64`: a fraction, an exponent, digit
    /// separators, or out of range. Never read as a string, so a rule comparing
    /// integers cannot be side-stepped by writing `20000.0`.
    #[error("`{0}` is not an integer in i64: write whole numbers from -9223372036854775808 to 9223372036854775807, money in minor units (`4999` for 49.99)")]
    NotAnInteger(String),
    /// A tagged `{"date": …}` that is not a date.
    #[error(transparent)]
    Date(#[from] crate::time::TimestampError),
    /// An object that is not `{"string": …}` or `{"date": …}`.
    #[error("an object value must be `{{\"string\": \"…\"}}` or `{{\"date\": \"…\"}}`")]
    BadTag,
}

impl Value {
    /// The value's type.
    pub const fn value_type(&self) -> ValueType {
        match self {
            Self::String(_) => ValueType::String,
            Self::Integer(_) => ValueType::Integer,
            Self::Bool(_) => ValueType::Bool,
            Self::Date(_) => ValueType::Date,
        }
    }

    /// Reads a value typed the way a command line is: `4999` is an integer, `true` and
    /// `false` are bools, an RFC 3339 date is a date, anything else is a string.
    ///
    /// Text that reads as a number but is not an integer in `i64` (`20000.0`, `1e4`,
    /// `20_000`, `20,000`, `99999999999999999999`) is an error, never a string: a
    /// rule such as `amount ge 10000` must not be side-stepped by the way a number is
    /// written. [`Value::from`] a `&str` makes a string without inference.
    pub fn infer(text: &str) -> Result<Self, ValueError> {
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Self::Integer(i));
        }
        if looks_numeric(text.trim()) {
            return Err(ValueError::NotAnInteger(text.to_owned()));
        }
        match text {
            "true" => return Ok(Self::Bool(true)),
            "false" => return Ok(Self::Bool(false)),
            _ => {}
        }
        if looks_like_date(text) {
            if let Ok(t) = text.parse::<Timestamp>() {
                return Ok(Self::Date(t));
            }
        }
        Ok(Self::String(text.to_owned()))
    }

    /// Reads a value from JSON: strings (an RFC 3339 string is a date), integers, bools.
    /// `{"string": "2026-01-01T00:00:00Z"}` forces a string, `{"date": "…"}` a date.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, ValueError> {
        use serde_json::Value as J;
        match v {
            J::Bool(b) => Ok(Self::Bool(*b)),
            J::Number(n) => n
                .as_i64()
                .map(Self::Integer)
                .ok_or_else(|| ValueError::NotAnInteger(n.to_string())),
            J::String(s) => Ok(if looks_like_date(s) {
                s.parse::<Timestamp>()
                    .map_or_else(|_| Self::String(s.clone()), Self::Date)
            } else {
                Self::String(s.clone())
            }),
            J::Object(map) if map.len() == 1 => match map.iter().next() {
                Some((tag, J::String(s))) if tag == "string" => Ok(Self::String(s.clone())),
                Some((tag, J::String(s))) if tag == "date" => Ok(Self::Date(s.parse()?)),
                _ => Err(ValueError::BadTag),
            },
            J::Object(_) => Err(ValueError::BadTag),
            J::Null => Err(ValueError::Unsupported("null")),
            J::Array(_) => Err(ValueError::Unsupported("a list")),
        }
    }

    /// The JSON form [`Value::from_json`] reads back to the same value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::String(s) if looks_like_date(s) && s.parse::<Timestamp>().is_ok() => {
                serde_json::json!({ "string": s })
            }
            Self::String(s) => serde_json::Value::String(s.clone()),
            Self::Integer(i) => serde_json::Value::from(*i),
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Date(t) => serde_json::Value::String(t.to_string()),
        }
    }

    /// The Biscuit term for this value.
    pub fn to_term(&self) -> biscuit_auth::builder::Term {
        use biscuit_auth::builder::Term;
        match self {
            Self::String(s) => Term::Str(s.clone()),
            Self::Integer(i) => Term::Integer(*i),
            Self::Bool(b) => Term::Bool(*b),
            Self::Date(t) => Term::Date(t.unix()),
        }
    }

    /// A term as a value (`None` for a term no grant or request value can be: bytes, a
    /// collection, a variable).
    pub fn from_term(t: &biscuit_auth::builder::Term) -> Option<Self> {
        use biscuit_auth::builder::Term;
        Some(match t {
            Term::Str(s) => Self::String(s.clone()),
            Term::Integer(i) => Self::Integer(*i),
            Term::Bool(b) => Self::Bool(*b),
            Term::Date(d) => Self::Date(Timestamp::from_unix(*d)),
            _ => return None,
        })
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Self::Integer(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<Timestamp> for Value {
    fn from(t: Timestamp) -> Self {
        Self::Date(t)
    }
}

/// Whether `text` is written as a number: an optional sign, digits (`_` or `,` may
/// separate them), an optional fraction and an optional exponent (`-1_000.5e3`, `.5`).
/// Words such as `inf` and `NaN` are not numbers here.
fn looks_numeric(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (body.get(..at).unwrap_or(""), body.get(at + 1..)),
        None => (body, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let grouped = |s: &str| !s.is_empty() && s.split(['_', ',']).all(digits);
    let whole_ok = grouped(whole) || (whole.is_empty() && fraction.is_some_and(digits));
    let fraction_ok = fraction.is_none_or(|f| f.is_empty() || digits(f));
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    whole_ok && fraction_ok && exponent_ok
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && matches!(
            (b.get(4), b.get(7), b.get(10)),
            (Some(b'-'), Some(b'-'), Some(b'T' | b't'))
        )
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => write!(f, "{s:?}"),
            Self::Integer(i) => write!(f, "{i}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Date(t) => write!(f, "{t}"),
        }
    }
}

/// The name of a request attribute or verified human attribute: ASCII letters, digits,
/// `_`, `-` and `.` (`ticket.status`, `shipping_address.verified`), at most 128 bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttrName(String);

/// Why an attribute name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an attribute name: use letters, digits, `_`, `-` and `.` (at most 128)")]
pub struct AttrNameError(pub String);

impl FromStr for AttrName {
    type Err = AttrNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::check(s).map(|()| Self(s.to_owned()))
    }
}

impl AttrName {
    /// Whether `s` is an attribute name, without allocating: what parsing checks.
    pub fn check(s: &str) -> Result<(), AttrNameError> {
        // Checked on every request: a table lookup per byte, without branches.
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes().fold(ATTR_NAME_BYTE, |all, c| all & class(c)) != 0;
        if ok {
            Ok(())
        } else {
            Err(AttrNameError(s.escape_debug().to_string()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AttrName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn infer(text: &str) -> Value {
        Value::infer(text).unwrap()
    }

    #[test]
    fn command_line_values_are_typed() {
        assert_eq!(infer("4999"), Value::Integer(4999));
        assert_eq!(infer("-3"), Value::Integer(-3));
        assert_eq!(infer("+3"), Value::Integer(3));
        assert_eq!(infer("9223372036854775807"), Value::Integer(i64::MAX));
        assert_eq!(infer("-9223372036854775808"), Value::Integer(i64::MIN));
        assert_eq!(infer("true"), Value::Bool(true));
        assert_eq!(infer("false"), Value::Bool(false));
        assert_eq!(
            infer("2026-11-30T10:00:00Z"),
            Value::Date("2026-11-30T10:00:00Z".parse().unwrap())
        );
        assert_eq!(infer("open"), Value::String("open".into()));
        assert_eq!(infer(""), Value::String(String::new()));
        // Not numbers: stay strings.
        for text in [
            "2026-11-30",
            "1.2.3",
            "10.0.0.1",
            "12:30",
            "inf",
            "NaN",
            "1e",
            "e5",
            "+",
            "-",
            ".",
            "v1.5",
            "1.5x",
            "0x10",
        ] {
            assert_eq!(infer(text), Value::String(text.into()), "{text}");
        }
    }

    #[test]
    fn numbers_that_are_not_i64_are_errors_not_strings() {
        for text in [
            "4.5",
            "20000.0",
            "20000.",
            ".5",
            "-0.5",
            "1e4",
            "1E+4",
            "2.5e-3",
            "20_000",
            "20,000",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999999",
            " 20000",
            "20000 ",
        ] {
            let err = Value::infer(text).unwrap_err();
            assert_eq!(err, ValueError::NotAnInteger(text.into()));
            let msg = err.to_string();
            assert!(msg.contains(&format!("`{text}`")), "{msg}");
            assert!(msg.contains("i64") && msg.contains("minor units"), "{msg}");
        }
    }

    #[test]
    fn json_numbers_that_are_not_i64_are_errors() {
        for (v, shown) in [
            (json!(20000.0), "20000.0"),
            (json!(1.5), "1.5"),
            (json!(u64::MAX), "18446744073709551615"),
            (json!(9_223_372_036_854_775_808_u64), "9223372036854775808"),
        ] {
            let err = Value::from_json(&v).unwrap_err();
            assert_eq!(err, ValueError::NotAnInteger(shown.into()));
        }
        let big: serde_json::Value = serde_json::from_str("1e30").unwrap();
        assert!(matches!(
            Value::from_json(&big),
            Err(ValueError::NotAnInteger(_))
        ));
        // A quoted number is a string: the writer said so.
        assert_eq!(
            Value::from_json(&json!("20000")).unwrap(),
            Value::String("20000".into())
        );
        assert_eq!(
            Value::from_json(&json!(i64::MIN)).unwrap(),
            Value::Integer(i64::MIN)
        );
    }

    #[test]
    fn json_values_round_trip() {
        for v in [
            Value::String("open".into()),
            Value::String("2026-11-30T10:00:00Z".into()),
            Value::Integer(-7),
            Value::Bool(true),
            Value::Date("2026-11-30T10:00:00Z".parse().unwrap()),
        ] {
            assert_eq!(Value::from_json(&v.to_json()).unwrap(), v);
        }
    }

    #[test]
    fn unsupported_json_values_are_refused() {
        assert!(Value::from_json(&json!(1.5)).is_err());
        assert!(Value::from_json(&json!(null)).is_err());
        assert!(Value::from_json(&json!([1])).is_err());
        assert!(Value::from_json(&json!({"x": "y"})).is_err());
        assert!(Value::from_json(&json!({"date": "soon"})).is_err());
    }

    #[test]
    fn attribute_names() {
        assert!("ticket.status".parse::<AttrName>().is_ok());
        assert!("shipping_address.verified".parse::<AttrName>().is_ok());
        assert!("".parse::<AttrName>().is_err());
        assert!("a b".parse::<AttrName>().is_err());
        assert!("a\"b".parse::<AttrName>().is_err());
        assert!("x".repeat(129).parse::<AttrName>().is_err());
    }
}
