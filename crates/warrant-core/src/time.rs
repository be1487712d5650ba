//! Points in time ([`Timestamp`]) and lengths of time ([`Span`]).
//!
//! Biscuit dates are whole seconds since the Unix epoch, so both types count whole
//! seconds. Core never reads the clock: callers pass `now` in.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The longest span accepted anywhere (ten years): keeps date arithmetic far from overflow.
pub const MAX_SPAN_SECONDS: u64 = 10 * 366 * 24 * 3600;

/// A UTC instant with one-second precision, written as RFC 3339 (`2026-11-30T10:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

/// Why a date could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Not RFC 3339.
    #[error("`{0}` is not an RFC 3339 date such as `2026-11-30T10:00:00Z`")]
    Syntax(String),
    /// Before 1970: Biscuit dates cannot express it.
    #[error("`{0}` is before 1970-01-01T00:00:00Z")]
    BeforeEpoch(String),
}

impl Timestamp {
    /// Seconds since the Unix epoch.
    pub const fn from_unix(seconds: u64) -> Self {
        Self(seconds)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> u64 {
        self.0
    }

    /// Truncates a system time to whole seconds (times before 1970 become the epoch).
    pub fn from_system_time(t: SystemTime) -> Self {
        Self(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0)
    }

    /// `self + span`, saturating.
    #[must_use]
    pub const fn plus(self, span: Span) -> Self {
        Self(self.0.saturating_add(span.0))
    }

    /// `self - span`, saturating at the epoch.
    #[must_use]
    pub const fn minus(self, span: Span) -> Self {
        Self(self.0.saturating_sub(span.0))
    }

    /// Seconds since the Unix epoch as `i64` (databases store them so), saturating.
    pub fn unix_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// Whole seconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn seconds_since(self, earlier: Timestamp) -> i64 {
        let a = i128::from(self.0);
        let b = i128::from(earlier.0);
        i64::try_from(a - b).unwrap_or(if a > b { i64::MAX } else { i64::MIN })
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = OffsetDateTime::parse(s.trim(), &Rfc3339)
            .map_err(|_| TimestampError::Syntax(s.to_owned()))?;
        u64::try_from(t.unix_timestamp())
            .map(Self)
            .map_err(|_| TimestampError::BeforeEpoch(s.to_owned()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let formatted = i64::try_from(self.0)
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .and_then(|t| t.format(&Rfc3339).ok());
        match formatted {
            Some(s) => f.write_str(&s),
            None => write!(f, "@{}", self.0),
        }
    }
}

/// A positive length of time written as `90s`, `10m`, `24h`, `7d` or a sum such as `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(u64);

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    /// Not of the `10m` form.
    #[error("`{0}` is not a duration such as `90s`, `10m`, `24h`, `7d` or `1h30m`")]
    Syntax(String),
    /// Zero.
    #[error("`{0}` is zero: a duration must be positive")]
    Zero(String),
    /// Too long.
    #[error("`{0}` is longer than ten years")]
    TooLong(String),
}

impl Span {
    /// A span of whole seconds.
    pub const fn from_seconds(seconds: u64) -> Self {
        Self(seconds)
    }

    /// The span in seconds.
    pub const fn seconds(self) -> u64 {
        self.0
    }
}

impl FromStr for Span {
    type Err = SpanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || SpanError::Syntax(s.to_owned());
        let text = s.trim();
        if text.is_empty() {
            return Err(syntax());
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(syntax()),
            };
            let n: u64 = digits.parse().map_err(|_| syntax())?;
            digits.clear();
            total = n
                .checked_mul(unit)
                .and_then(|x| total.checked_add(x))
                .ok_or_else(|| SpanError::TooLong(s.to_owned()))?;
        }
        if !digits.is_empty() {
            return Err(syntax());
        }
        if total == 0 {
            return Err(SpanError::Zero(s.to_owned()));
        }
        if total > MAX_SPAN_SECONDS {
            return Err(SpanError::TooLong(s.to_owned()));
        }
        Ok(Self(total))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
            if rest >= unit {
                write!(f, "{}{}", rest / unit, name)?;
                rest %= unit;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_print() {
        assert_eq!("90s".parse::<Span>().unwrap().seconds(), 90);
        assert_eq!("10m".parse::<Span>().unwrap().seconds(), 600);
        assert_eq!("1h30m".parse::<Span>().unwrap().seconds(), 5400);
        assert_eq!("7d".parse::<Span>().unwrap().seconds(), 7 * 86_400);
        assert_eq!(Span::from_seconds(5400).to_string(), "1h30m");
        assert_eq!(Span::from_seconds(61).to_string(), "1m1s");
    }

    #[test]
    fn bad_spans_are_refused() {
        assert!(matches!("".parse::<Span>(), Err(SpanError::Syntax(_))));
        assert!(matches!("10".parse::<Span>(), Err(SpanError::Syntax(_))));
        assert!(matches!("m".parse::<Span>(), Err(SpanError::Syntax(_))));
        assert!(matches!("10x".parse::<Span>(), Err(SpanError::Syntax(_))));
        assert!(matches!("-5m".parse::<Span>(), Err(SpanError::Syntax(_))));
        assert!(matches!("0s".parse::<Span>(), Err(SpanError::Zero(_))));
        assert!(matches!(
            "4000d".parse::<Span>(),
            Err(SpanError::TooLong(_))
        ));
        assert!(matches!(
            "99999999999999999999d".parse::<Span>(),
            Err(SpanError::Syntax(_))
        ));
    }

    #[test]
    fn timestamps_round_trip() {
        let t: Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        assert_eq!(t.unix(), 1_796_032_800);
        assert_eq!(t.to_string(), "2026-11-30T10:00:00Z");
        let offset: Timestamp = "2026-11-30T11:00:00+01:00".parse().unwrap();
        assert_eq!(offset, t);
        assert_eq!(t.plus(Span::from_seconds(60)).seconds_since(t), 60);
        assert_eq!(t.seconds_since(t.plus(Span::from_seconds(60))), -60);
    }

    #[test]
    fn bad_timestamps_are_refused() {
        assert!(matches!(
            "yesterday".parse::<Timestamp>(),
            Err(TimestampError::Syntax(_))
        ));
        assert!(matches!(
            "1969-12-31T23:59:59Z".parse::<Timestamp>(),
            Err(TimestampError::BeforeEpoch(_))
        ));
    }
}
