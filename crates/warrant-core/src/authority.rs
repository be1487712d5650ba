//! The authority block's facts: what the issuer states about a token besides its grant
//! (`warrant(profile, id, issuer, issued_at)`, `human`, `human_attr`, `holder`), read from
//! the block as data ([`crate::blocks`]) and rendered back to the facts
//! [`crate::token::mint`] stamps, so that a block is in the profile only when it holds
//! exactly these.

use std::collections::BTreeMap;

use biscuit_auth::builder::{Fact, Term};

use crate::blocks::BlockData;
use crate::eval::HumanFacts;
use crate::keys::{HolderPublicKey, KeyError};
use crate::time::Timestamp;
use crate::value::Value;

/// Why authority facts cannot be written as the facts of a profile authority block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorityError {
    /// A fact every profile token states is missing.
    #[error("the authority facts have no {0}: a profile token states its profile, token id, issuer and issue time")]
    Missing(&'static str),
    /// The token id is not 16 bytes.
    #[error("the token id `{0}` is not 32 hex digits")]
    TokenId(String),
    /// The holder is not a holder public key.
    #[error("the holder cannot be stamped: {0}")]
    Holder(#[source] KeyError),
}

/// What the authority block of a warrant token states, read from its Datalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorityFacts {
    /// `warrant(N, …)`: the profile version (only the `warrant` fact states one).
    pub profile: Option<i64>,
    /// A version 1 token's `warrant_profile(N)`, read only so that such a token can be
    /// refused by name: it never makes a token one of this profile.
    pub legacy_profile: Option<i64>,
    /// `warrant(_, hex:id, …)`: 16 bytes, as 32 hex digits.
    pub token_id: Option<String>,
    /// `warrant(_, _, issuer, _)`.
    pub issuer: Option<String>,
    /// `warrant(_, _, _, issued_at)`.
    pub issued_at: Option<Timestamp>,
    /// The human's id (`human(id, …)`; `None` when the fact is absent or the id empty).
    pub human: Option<String>,
    /// `human(_, method, at)`: how and when the human was verified; the method is
    /// `unverified` for an offline mint.
    pub verification: Option<(String, Timestamp)>,
    /// `human_attr(name, value)`.
    pub human_attrs: BTreeMap<String, Value>,
    /// `holder(hex:…)`, as the key's text: `ed25519/<hex>` or `secp256r1/<hex>`.
    pub holder: Option<String>,
}

impl AuthorityFacts {
    /// Reads the warrant facts of an authority block's facts (see [`crate::blocks`]);
    /// other facts are ignored, and of a repeated fact the first counts. A v1 token's
    /// `warrant_profile(1)` is read as its `legacy_profile`, so it can be refused by name.
    pub fn from_facts(facts: &[Fact]) -> Self {
        let mut out = Self::default();
        for fact in facts {
            let terms = fact.predicate.terms.as_slice();
            let s = |t: &Term| match t {
                Term::Str(s) => Some(s.clone()),
                _ => None,
            };
            let d = |t: &Term| match t {
                Term::Date(d) => Some(Timestamp::from_unix(*d)),
                _ => None,
            };
            match (fact.predicate.name.as_str(), terms) {
                ("warrant", [Term::Integer(v), Term::Bytes(id), issuer, at])
                    if out.profile.is_none() =>
                {
                    out.profile = Some(*v);
                    out.token_id = (id.len() == 16).then(|| hex::encode(id));
                    out.issuer = s(issuer);
                    out.issued_at = d(at);
                }
                ("warrant_profile", [Term::Integer(v)]) if out.legacy_profile.is_none() => {
                    out.legacy_profile = Some(*v);
                }
                ("human", [id, m, at]) if out.verification.is_none() => {
                    out.human = s(id).filter(|id| !id.is_empty());
                    out.verification = s(m).zip(d(at));
                }
                ("holder", [h]) if out.holder.is_none() => out.holder = Some(holder_text(h)),
                ("human_attr", [name, value]) => {
                    if let (Some(name), Some(v)) = (s(name), Value::from_term(value)) {
                        out.human_attrs.entry(name).or_insert(v);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The facts [`crate::token::mint`] stamps for these, in block order: the facts of a
    /// profile authority block, which holds exactly these. Refused when the profile, the
    /// token id, the issuer or the issue time is missing, or a value cannot be written.
    pub fn to_facts(&self) -> Result<Vec<Fact>, AuthorityError> {
        let id = self
            .token_id
            .as_deref()
            .ok_or(AuthorityError::Missing("token id"))?;
        let id = hex::decode(id)
            .ok()
            .filter(|b| b.len() == 16)
            .ok_or_else(|| AuthorityError::TokenId(id.escape_debug().to_string()))?;
        let profile = self.profile.ok_or(AuthorityError::Missing("profile"))?;
        let issuer = self
            .issuer
            .as_deref()
            .ok_or(AuthorityError::Missing("issuer"))?;
        let issued_at = self
            .issued_at
            .ok_or(AuthorityError::Missing("issue time"))?;
        let date = |t: Timestamp| Term::Date(t.unix());
        let string = |s: &str| Term::Str(s.to_owned());
        let fact = |name: &str, terms: Vec<Term>| Fact {
            predicate: biscuit_auth::builder::Predicate::new(name.to_owned(), terms),
            parameters: None,
        };
        let mut out = vec![fact(
            "warrant",
            vec![
                Term::Integer(profile),
                Term::Bytes(id),
                string(issuer),
                date(issued_at),
            ],
        )];
        if let Some((method, at)) = &self.verification {
            let id = self.human.as_deref().unwrap_or_default();
            out.push(fact("human", vec![string(id), string(method), date(*at)]));
        }
        for (k, v) in &self.human_attrs {
            out.push(fact("human_attr", vec![string(k), v.to_term()]));
        }
        if let Some(h) = &self.holder {
            let key: HolderPublicKey = h.parse().map_err(AuthorityError::Holder)?;
            out.push(fact("holder", vec![Term::Bytes(key.fact_bytes())]));
        }
        Ok(out)
    }

    /// The authority facts of a token's blocks (read with [`crate::blocks::read_blocks`]),
    /// empty when it has none.
    pub fn from_blocks(blocks: &[BlockData]) -> Self {
        blocks
            .first()
            .map(|b| Self::from_facts(&b.facts))
            .unwrap_or_default()
    }

    /// The human facts the checks see (`human`, `human_attr`).
    pub fn human_facts(&self) -> Option<HumanFacts> {
        self.verification.as_ref().map(|(method, at)| HumanFacts {
            method: method.clone(),
            verified_at: *at,
            attrs: self.human_attrs.clone(),
        })
    }
}

/// A `holder` term as a key's text: `ed25519/<hex>` for 32 bytes (an Ed25519 key),
/// `secp256r1/<hex>` for 33 bytes starting `02` or `03` (a compressed P-256 point);
/// anything else as text that no key parses from, so a block naming it breaks the chain.
/// (The text still has to parse: a point off its curve breaks the chain too.)
fn holder_text(t: &Term) -> String {
    match t {
        Term::Bytes(b) => match (b.len(), b.first()) {
            (32, _) => format!("ed25519/{}", hex::encode(b)),
            (33, Some(2 | 3)) => format!("secp256r1/{}", hex::encode(b)),
            _ => format!("hex:{}", hex::encode(b)),
        },
        Term::Str(s) => format!("string:{}", s.escape_debug()),
        other => format!("term:{other}"),
    }
}

/// Every `holder(…)` fact of a block, as data (any single-term `holder` fact counts, so a
/// malformed one breaks the chain instead of being ignored).
pub fn holder_facts(facts: &[Fact]) -> Vec<String> {
    facts
        .iter()
        .filter(|f| f.predicate.name == "holder")
        .map(|f| match f.predicate.terms.as_slice() {
            [t] => holder_text(t),
            terms => format!("terms:{}", terms.len()),
        })
        .collect()
}
