//! A proof's header and claims read without building a JSON tree: each member is borrowed
//! from the decoded text where it can be, read loosely (a member of another type than
//! expected is told apart from a missing one by the checks, not by the parser), and a
//! duplicated member refuses the whole object (RFC 7515 section 5.2 allows that).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// A member's value: a string, a non-negative integer, an object (only the members a
/// `jwk` has are kept), or anything else.
#[derive(Debug, Default)]
pub(super) enum Loose<'a> {
    Str(Cow<'a, str>),
    Uint(u64),
    Object(Jwk<'a>),
    #[default]
    Other,
}

impl<'a> Loose<'a> {
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The members of an object that a `jwk` is checked by.
#[derive(Debug, Default)]
pub(super) struct Jwk<'a> {
    pub(super) kty: Option<Cow<'a, str>>,
    pub(super) crv: Option<Cow<'a, str>>,
    pub(super) x: Option<Cow<'a, str>>,
    pub(super) y: Option<Cow<'a, str>>,
    /// The first private member it has, if any (RFC 7518 section 6: `d` of EC and OKP
    /// keys, `d`, `p`, `q`, `dp`, `dq`, `qi` and `oth` of RSA keys, `k` of symmetric keys).
    pub(super) private: Option<&'static str>,
}

/// The members of a JWK that hold private key material.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Loose::Uint(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut jwk = Jwk::default();
        // The members a key is read from, each at most once: two `x` would be a key that
        // another parser reads as another key.
        let mut seen = [false; 4];
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let text = |v: Loose<'de>| match v {
                Loose::Str(s) => Some(s),
                _ => None,
            };
            let (slot, field) = match &*key {
                "kty" => (0, &mut jwk.kty),
                "crv" => (1, &mut jwk.crv),
                "x" => (2, &mut jwk.x),
                "y" => (3, &mut jwk.y),
                other => {
                    map.next_value::<IgnoredAny>()?;
                    if let Some(name) = PRIVATE_MEMBERS.iter().find(|m| **m == other) {
                        jwk.private = jwk.private.or(Some(name));
                    }
                    continue;
                }
            };
            match seen.get_mut(slot) {
                Some(once) if !*once => *once = true,
                _ => return Err(serde::de::Error::custom("a `jwk` member repeats")),
            }
            *field = text(map.next_value()?);
        }
        Ok(Loose::Object(jwk))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

/// A proof's header.
#[derive(Debug, Deserialize)]
pub(super) struct Header<'a> {
    #[serde(borrow, default)]
    pub(super) typ: Loose<'a>,
    #[serde(borrow, default)]
    pub(super) alg: Loose<'a>,
    #[serde(borrow, default)]
    pub(super) jwk: Loose<'a>,
}

/// A proof's claims.
#[derive(Debug, Deserialize)]
pub(super) struct Claims<'a> {
    #[serde(borrow, default)]
    pub(super) htm: Loose<'a>,
    #[serde(borrow, default)]
    pub(super) htu: Loose<'a>,
    #[serde(borrow, default)]
    pub(super) iat: Loose<'a>,
    #[serde(borrow, default)]
    pub(super) jti: Loose<'a>,
    #[serde(borrow, default)]
    pub(super) ath: Loose<'a>,
}
