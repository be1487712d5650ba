//! Minting and attenuating warrant tokens, and reading them back.
//!
//! Core never reads the clock or the OS random generator: `now` and `rng` are arguments.

use std::collections::BTreeMap;

use base64::Engine as _;
use biscuit_auth::builder::{Fact, Term};
use biscuit_auth::{Biscuit, BiscuitBuilder, KeyPair, UnverifiedBiscuit};
use rand_core::{CryptoRng, RngCore};

use crate::authority::AuthorityFacts;
use crate::compile::{compile, CompileContext, CompileError};
use crate::grant::{Grant, GrantError, Method};
use crate::holder::{holder_chain, holder_links, ChainError};
use crate::keys::{PublicKey, SigningKey};
use crate::time::{Span, Timestamp};
use crate::value::{AttrName, Value};

/// The profile version, the first term of the `warrant(…)` fact of every authority block.
pub const PROFILE_VERSION: i64 = 2;
/// A token's lifetime when the grant gives none: ten minutes.
pub const DEFAULT_TTL: Span = Span::from_seconds(600);
/// The verification method a token minted offline by whoever holds the root key records
/// (`human("alice", "unverified", …)`, or `human("", …)` with no human named): no rule
/// accepts it.
pub const UNVERIFIED: &str = "unverified";
/// The `issuer` of a token minted offline.
pub const OFFLINE_ISSUER: &str = "offline";
/// The largest token accepted before parsing (bytes, after base64 decoding).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// How the issuer verified the human who delegates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The method.
    pub method: Method,
    /// When.
    pub at: Timestamp,
}

/// Everything the authority block says besides the grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintRequest {
    /// What the token permits.
    pub grant: Grant,
    /// The human's id, if known.
    pub human: Option<String>,
    /// How the human was verified; `None` for an offline mint (recorded as `unverified`).
    pub verification: Option<Verification>,
    /// Attributes of the human that the issuer vouches for.
    pub human_attrs: BTreeMap<AttrName, Value>,
    /// The agent key the token is bound to; `None` makes a bearer token.
    pub holder: Option<PublicKey>,
    /// The issuer's URL, or `offline`.
    pub issuer: String,
}

impl MintRequest {
    /// An offline mint of `grant` with nothing else recorded.
    pub fn offline(grant: Grant) -> Self {
        Self {
            grant,
            human: None,
            verification: None,
            human_attrs: BTreeMap::new(),
            holder: None,
            issuer: OFFLINE_ISSUER.to_owned(),
        }
    }
}

/// A token just minted.
#[derive(Debug, Clone)]
pub struct Minted {
    /// The token.
    pub token: Biscuit,
    /// Its id (`token_id` fact), 32 hex digits.
    pub token_id: String,
    /// Its expiry.
    pub expires_at: Timestamp,
}

/// A compilation error becomes the operation's own `Grant` or `Biscuit` error.
macro_rules! from_compile_error {
    ($($error:ty),*) => {$(
        impl From<CompileError> for $error {
            fn from(e: CompileError) -> Self {
                match e {
                    CompileError::Grant(g) => Self::Grant(g),
                    CompileError::Biscuit(b) => Self::Biscuit(b),
                }
            }
        }
    )*};
}

from_compile_error!(MintError, AttenuateError, DelegateError);

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// The grant is invalid or incomplete.
    #[error("{0}")]
    Grant(#[from] GrantError),
    /// A human id that cannot be recorded.
    #[error("`{0}` is not a human id: use 1 to 256 characters without quotes, backslashes or control characters")]
    HumanId(String),
    /// A human attribute value that cannot be recorded.
    #[error("human attribute `{0}` has a control character in its value: attribute values are printable text")]
    HumanAttr(String),
    /// Biscuit refused to build the token.
    #[error("could not build the token: {0}")]
    Biscuit(String),
}

/// Replaces `ttl` by the absolute `expires_at` it means at `now`; a grant with neither
/// gets `default_ttl` when one is given. Refuses a grant that has already expired.
pub fn resolve_lifetime(
    grant: &mut Grant,
    now: Timestamp,
    default_ttl: Option<Span>,
) -> Result<(), GrantError> {
    if let Some(ttl) = grant.ttl.take() {
        grant.expires_at = Some(now.plus(ttl));
    } else if grant.expires_at.is_none() {
        grant.expires_at = default_ttl.map(|d| now.plus(d));
    }
    if let Some(exp) = grant.expires_at {
        if exp <= now {
            return Err(GrantError::new(
                "expires_at",
                format!("`{exp}` is not after the current time `{now}`"),
            ));
        }
    }
    if let (Some(nb), Some(exp)) = (grant.not_before, grant.expires_at) {
        if nb >= exp {
            return Err(GrantError::new(
                "not_before",
                format!("`{nb}` is not before the expiry `{exp}`"),
            ));
        }
    }
    Ok(())
}

fn valid_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && !s.chars().any(|c| c.is_control() || c == '"' || c == '\\')
}

/// Mints a token signed by `key` (its key id becomes the token's `root_key_id`).
pub fn mint(
    key: &SigningKey,
    req: MintRequest,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Minted, MintError> {
    let MintRequest {
        mut grant,
        human,
        verification,
        human_attrs,
        holder,
        issuer,
    } = req;
    if grant.allow.is_empty() {
        return Err(GrantError::new("allow", "a token needs at least one allow rule").into());
    }
    resolve_lifetime(&mut grant, now, Some(DEFAULT_TTL))?;
    let expires_at = grant.expires_at.unwrap_or(now.plus(DEFAULT_TTL));
    for text in human.iter().chain(std::iter::once(&issuer)) {
        if !valid_text(text) {
            return Err(MintError::HumanId(text.escape_debug().to_string()));
        }
    }
    for (name, value) in &human_attrs {
        if matches!(value, Value::String(s) if s.chars().any(char::is_control)) {
            return Err(MintError::HumanAttr(name.to_string()));
        }
    }
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    // An offline mint records `human(id or "", "unverified", now)`: no rule accepts the
    // method, and a rule's `max_age` still has a time to count from.
    let verification = Some(match verification {
        Some(v) => (v.method.as_str().to_owned(), v.at),
        None => (UNVERIFIED.to_owned(), now),
    });
    let at = verification.as_ref().map(|(_, at)| *at);
    let facts = AuthorityFacts {
        profile: Some(PROFILE_VERSION),
        legacy_profile: None,
        token_id: Some(hex::encode(id)),
        issuer: Some(issuer),
        issued_at: Some(now),
        human,
        verification,
        human_attrs: human_attrs
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
            .collect(),
        holder: holder.map(|h| h.to_string()),
    };
    let token_id = hex::encode(id);
    let ctx = CompileContext {
        human_verified_at: at,
    };
    let (block, _) = compile(&grant, ctx)?;
    let mut builder = BiscuitBuilder::new();
    for fact in facts
        .to_facts()
        .ok_or_else(|| MintError::Biscuit("incomplete authority facts".into()))?
    {
        builder = builder
            .fact(fact)
            .map_err(|e| MintError::Biscuit(e.to_string()))?;
    }
    let mut builder = builder.merge(block);
    if let Some(kid) = key.key_id() {
        builder = builder.root_key_id(kid.0);
    }
    let token = builder
        .build_with_rng(
            key.key_pair(),
            biscuit_auth::datalog::SymbolTable::default(),
            rng,
        )
        .map_err(|e| MintError::Biscuit(e.to_string()))?;
    Ok(Minted {
        token,
        token_id,
        expires_at,
    })
}

/// Why a token could not be attenuated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttenuateError {
    /// The narrowing grant is invalid.
    #[error("{0}")]
    Grant(#[from] GrantError),
    /// The grant says nothing: the block would narrow nothing.
    #[error("the grant narrows nothing: give a ttl, an audience, a rule or Datalog")]
    Empty,
    /// The token is sealed.
    #[error("the token is sealed and cannot be attenuated")]
    Sealed,
    /// Biscuit refused the block.
    #[error("could not append the block: {0}")]
    Biscuit(String),
}

/// Appends an attenuation block compiled from `grant` (its `ttl` counted from `now`).
/// Offline: no key is needed and no signature is checked.
pub fn attenuate(
    token: &UnverifiedBiscuit,
    mut grant: Grant,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<UnverifiedBiscuit, AttenuateError> {
    if grant.is_empty() {
        return Err(AttenuateError::Empty);
    }
    resolve_lifetime(&mut grant, now, None)?;
    let ctx = unverified_context(&read_unverified(token));
    let (block, _) = compile(&grant, ctx)?;
    let next = KeyPair::new_with_rng(biscuit_auth::Algorithm::Ed25519, rng);
    token
        .append_with_keypair(&next, block)
        .map_err(|e| match e {
            biscuit_auth::error::Token::AppendOnSealed => AttenuateError::Sealed,
            other => AttenuateError::Biscuit(other.to_string()),
        })
}

/// Why a token could not be delegated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DelegateError {
    /// The narrowing grant is invalid.
    #[error("{0}")]
    Grant(#[from] GrantError),
    /// The token has no holder to delegate from.
    #[error("the token is not bound to a holder: mint it with `--holder` to delegate it")]
    Bearer,
    /// The key given is not the token's current holder.
    #[error("the key `{key}` is not the token's current holder `{holder}`")]
    NotHolder {
        /// The current holder.
        holder: String,
        /// The key given.
        key: String,
    },
    /// The token's holder chain is already broken.
    #[error("{0}")]
    Chain(#[from] ChainError),
    /// Biscuit refused the block.
    #[error("could not append the delegation block: {0}")]
    Biscuit(String),
}

/// Hands a holder-bound token on to `next`: appends a third-party block, signed by the
/// current holder's `key`, that names `next` as the holder and narrows by `grant` (which
/// may be empty). Offline; only the current holder can do it.
pub fn delegate(
    token: &UnverifiedBiscuit,
    key: &SigningKey,
    next: PublicKey,
    mut grant: Grant,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<UnverifiedBiscuit, DelegateError> {
    let blocks = read_unverified(token);
    let links = holder_links(&blocks);
    let chain = holder_chain(&links)?;
    let current = chain.last().ok_or(DelegateError::Bearer)?;
    if *current != key.public() {
        return Err(DelegateError::NotHolder {
            holder: current.to_string(),
            key: key.public().to_string(),
        });
    }
    resolve_lifetime(&mut grant, now, None)?;
    let (compiled, _) = compile(&grant, unverified_context(&blocks))?;
    let block = biscuit_auth::BlockBuilder::new()
        .fact(Fact::new(
            "holder".to_owned(),
            vec![Term::Bytes(next.to_bytes().to_vec())],
        ))
        .map_err(|e| DelegateError::Biscuit(e.to_string()))?
        .merge(compiled);
    let biscuit_err = |e: biscuit_auth::error::Token| DelegateError::Biscuit(e.to_string());
    let signed = token
        .third_party_request()
        .and_then(|r| r.create_block(&key.key_pair().private(), block))
        .and_then(|b| b.serialize())
        .map_err(biscuit_err)?;
    let next_pair = KeyPair::new_with_rng(biscuit_auth::Algorithm::Ed25519, rng);
    token
        .append_third_party_with_keypair(&signed, next_pair)
        .map_err(biscuit_err)
}

/// The blocks of a token whose signatures have not been checked (none if they cannot be
/// read: then attenuating or delegating it fails on its own).
fn read_unverified(token: &UnverifiedBiscuit) -> Vec<crate::blocks::BlockData> {
    token
        .to_vec()
        .ok()
        .and_then(|bytes| crate::blocks::read_blocks(&bytes).ok())
        .unwrap_or_default()
}

/// The authority facts of a token whose signatures have not been checked, read as data
/// (empty if its blocks cannot be read).
pub fn unverified_authority(token: &UnverifiedBiscuit) -> AuthorityFacts {
    AuthorityFacts::from_blocks(&read_unverified(token))
}

/// What compiling a block for this token depends on: when its human was verified.
fn unverified_context(blocks: &[crate::blocks::BlockData]) -> CompileContext {
    let authority = AuthorityFacts::from_blocks(blocks);
    CompileContext {
        human_verified_at: authority.verification.map(|(_, at)| at),
    }
}

/// Why token text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Empty input.
    #[error("the token is empty")]
    Empty,
    /// Too large.
    #[error("the token is {size} bytes, more than the {limit} allowed")]
    TooLarge {
        /// The token's size (bytes after decoding, estimated before).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not base64.
    #[error("the token is not URL-safe base64")]
    Base64,
    /// Not a Biscuit.
    #[error("the token is not a Biscuit token: {0}")]
    Format(String),
}

/// Decodes token text (URL-safe base64, padded or not, surrounding whitespace ignored) to
/// bytes, refusing input over [`MAX_TOKEN_BYTES`] before decoding it.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, DecodeError> {
    decode_base64_limited(text, MAX_TOKEN_BYTES)
}

/// [`decode_base64`] with another size limit (bytes after decoding).
pub fn decode_base64_limited(text: &str, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(DecodeError::Empty);
    }
    // 4 base64 characters carry 3 bytes: refuse before allocating.
    let approx = t.len() / 4 * 3;
    if approx > limit.saturating_add(3) {
        return Err(DecodeError::TooLarge {
            size: approx,
            limit,
        });
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(t).map_err(|_| DecodeError::Base64)?;
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

/// Decodes token text into a token whose signatures have not been checked.
pub fn decode_unverified(text: &str) -> Result<UnverifiedBiscuit, DecodeError> {
    decode_unverified_bytes(&decode_base64(text)?)
}

/// The token as URL-safe base64 with padding (Biscuit's own form).
pub fn encode(token: &UnverifiedBiscuit) -> String {
    token.to_base64().unwrap_or_default()
}

/// Decodes raw token bytes into a token whose signatures have not been checked.
pub fn decode_unverified_bytes(bytes: &[u8]) -> Result<UnverifiedBiscuit, DecodeError> {
    if bytes.len() > MAX_TOKEN_BYTES {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit: MAX_TOKEN_BYTES,
        });
    }
    UnverifiedBiscuit::from(bytes).map_err(|e| DecodeError::Format(biscuit_error(&e)))
}

/// Biscuit's error in one lowercase line, with the detail its top-level message hides.
pub fn biscuit_error(e: &biscuit_auth::error::Token) -> String {
    use biscuit_auth::error::{Format, Signature, Token};
    match e {
        Token::Format(Format::Signature(Signature::InvalidSignature(why))) => {
            format!("a signature does not verify ({why})")
        }
        Token::Format(f) => f.to_string(),
        other => other.to_string(),
    }
}
