//! Minting, attenuating and delegating warrant tokens, and reading them back; one
//! [`TokenError`] for all of it.
//!
//! Core never reads the clock or the OS random generator: `now` and `rng` are arguments.

use std::collections::BTreeMap;

use base64::Engine as _;
use biscuit_auth::builder::{Fact, Term};
use biscuit_auth::{Biscuit, BiscuitBuilder, BlockBuilder, KeyPair, UnverifiedBiscuit};
use rand_core::{CryptoRng, RngCore};

use crate::authority::{AuthorityError, AuthorityFacts};
use crate::compile::{compile, CompileContext};
use crate::grant::{Grant, GrantError, Method};
use crate::holder::{holder_chain, holder_links, ChainError};
use crate::keys::{HolderPublicKey, HolderSigner, SigningKey};
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
    /// The agent key the token is bound to (Ed25519 or P-256); `None` makes a bearer
    /// token.
    pub holder: Option<HolderPublicKey>,
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

/// Why a token could not be minted, attenuated, delegated or decoded.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The grant is invalid or incomplete (the error names the field).
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// A human id that cannot be recorded.
    #[error("`{0}` is not a human id: use 1 to 256 characters without quotes, backslashes or control characters")]
    HumanId(String),
    /// An issuer name that cannot be recorded.
    #[error("`{0}` is not an issuer name: use 1 to 256 characters without quotes, backslashes or control characters")]
    Issuer(String),
    /// A human attribute value that cannot be recorded.
    #[error("human attribute `{0}` has a control character in its value: attribute values are printable text")]
    HumanAttr(String),
    /// The authority facts cannot be written (a holder key that is not a holder key).
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    /// The grant says nothing: the block would narrow nothing.
    #[error("the grant narrows nothing: give a ttl, an audience, a rule or Datalog")]
    NarrowsNothing,
    /// The token is sealed.
    #[error("the token is sealed and cannot be attenuated: narrow the token it was sealed from")]
    Sealed,
    /// The token has no holder to delegate from.
    #[error("the token is not bound to a holder: mint it with `--holder` to delegate it")]
    Bearer,
    /// The key given is not the token's current holder.
    #[error("the key `{key}` is not the token's current holder `{holder}`: delegate with the holder's key")]
    NotHolder {
        /// The current holder.
        holder: String,
        /// The key given.
        key: String,
    },
    /// The holder's key cannot sign (a key warrant did not make).
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    /// The token's holder chain is already broken.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// Empty token text.
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
    Base64(#[source] base64::DecodeError),
    /// Not a Biscuit.
    #[error("the token is not a Biscuit token: {}", biscuit_error(.0))]
    Format(#[source] biscuit_auth::error::Token),
    /// Biscuit refused to build the token (a bug in warrant if it happens).
    #[error("could not build the token: {}", biscuit_error(.0))]
    Build(#[source] biscuit_auth::error::Token),
    /// Biscuit refused to append the block.
    #[error("could not append the block: {}", biscuit_error(.0))]
    Append(#[source] biscuit_auth::error::Token),
}

/// Why Biscuit refused to append a block.
fn append_error(e: biscuit_auth::error::Token) -> TokenError {
    match e {
        biscuit_auth::error::Token::AppendOnSealed => TokenError::Sealed,
        other => TokenError::Append(other),
    }
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

/// An authority block ready to be signed, and what it says.
struct Authority {
    builder: BiscuitBuilder,
    token_id: String,
    expires_at: Timestamp,
    /// What compiling a later block of the token depends on.
    ctx: CompileContext,
}

/// The authority facts and checks of a mint, checked and compiled.
fn authority_block(
    key: &SigningKey,
    req: MintRequest,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Authority, TokenError> {
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
    if let Some(h) = human.as_ref().filter(|h| !valid_text(h)) {
        return Err(TokenError::HumanId(h.escape_debug().to_string()));
    }
    if !valid_text(&issuer) {
        return Err(TokenError::Issuer(issuer.escape_debug().to_string()));
    }
    for (name, value) in &human_attrs {
        if matches!(value, Value::String(s) if s.chars().any(char::is_control)) {
            return Err(TokenError::HumanAttr(name.to_string()));
        }
    }
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    // An offline mint records `human(id or "", "unverified", now)`: no rule accepts the
    // method, and a rule's `max_age` still has a time to count from.
    let verification = match verification {
        Some(v) => (v.method.as_str().to_owned(), v.at),
        None => (UNVERIFIED.to_owned(), now),
    };
    let ctx = CompileContext {
        human_verified_at: Some(verification.1),
    };
    let token_id = hex::encode(id);
    let facts = AuthorityFacts {
        profile: Some(PROFILE_VERSION),
        legacy_profile: None,
        token_id: Some(token_id.clone()),
        issuer: Some(issuer),
        issued_at: Some(now),
        human,
        verification: Some(verification),
        human_attrs: human_attrs
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
            .collect(),
        holder: holder.map(|h| h.to_string()),
    };
    let (block, _) = compile(&grant, ctx)?;
    let mut builder = BiscuitBuilder::new();
    for fact in facts.to_facts()? {
        builder = builder.fact(fact).map_err(TokenError::Build)?;
    }
    let mut builder = builder.merge(block);
    if let Some(kid) = key.key_id() {
        builder = builder.root_key_id(kid.0);
    }
    Ok(Authority {
        builder,
        token_id,
        expires_at,
        ctx,
    })
}

/// Mints a token signed by `key` (its key id becomes the token's `root_key_id`): an
/// authority block with the facts of `req` and the checks of its grant, whose `ttl` (ten
/// minutes when it gives no lifetime) counts from `now`.
///
/// ```
/// use warrant_core::grant::Grant;
/// use warrant_core::keys::{KeyId, SigningKey};
/// use warrant_core::time::{Span, Timestamp};
/// use warrant_core::token::{mint, MintRequest, TokenError};
///
/// let mut rng = rand_core::OsRng;
/// let key = SigningKey::generate(&mut rng, Some(KeyId(1)));
/// let grant = Grant::from_json_str(
///     r#"{"ttl": "5m", "allow": [{"resources": "tickets/*", "actions": "read"}]}"#,
/// )?;
/// let now = Timestamp::from_unix(1_796_032_800);
/// let minted = mint(&key, MintRequest::offline(grant), now, &mut rng)?;
/// assert_eq!(minted.expires_at, now.plus(Span::from_seconds(300)));
/// assert_eq!(minted.token.root_key_id(), Some(1));
/// assert_eq!(minted.token_id.len(), 32);
///
/// // A token needs at least one allow rule.
/// let nothing = Grant::from_json_str(r#"{"ttl": "5m"}"#)?;
/// let e = mint(&key, MintRequest::offline(nothing), now, &mut rng).unwrap_err();
/// assert!(matches!(e, TokenError::Grant(g) if g.path == "allow"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn mint(
    key: &SigningKey,
    req: MintRequest,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Minted, TokenError> {
    let authority = authority_block(key, req, now, rng)?;
    let token = sign_root(key, authority.builder, rng)?;
    Ok(Minted {
        token,
        token_id: authority.token_id,
        expires_at: authority.expires_at,
    })
}

/// The authority block signed with `key`: a one-block token.
fn sign_root(
    key: &SigningKey,
    builder: BiscuitBuilder,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Biscuit, TokenError> {
    builder
        .build_with_rng(
            key.key_pair(),
            biscuit_auth::datalog::SymbolTable::default(),
            rng,
        )
        .map_err(TokenError::Build)
}

/// Mints a token whose authority block holds `ceiling` and whose second block narrows it
/// by `requested`: the token permits their intersection. The same token, block for block,
/// as [`mint`] followed by [`attenuate`] with `requested` (so `requested` must narrow
/// something), without encoding and decoding it in between. Its `expires_at` is the
/// earlier of the two blocks' expiries.
///
/// ```
/// use warrant_core::grant::Grant;
/// use warrant_core::keys::{KeyId, SigningKey};
/// use warrant_core::time::Timestamp;
/// use warrant_core::token::{mint_narrowed, MintRequest};
///
/// let mut rng = rand_core::OsRng;
/// let key = SigningKey::generate(&mut rng, Some(KeyId(1)));
/// // A role's ceiling, and what the agent asked for within it.
/// let ceiling = Grant::from_json_str(
///     r#"{"ttl": "1h", "allow": [{"resources": "tickets/**", "actions": ["read", "update"]}]}"#,
/// )?;
/// let requested = Grant::from_json_str(
///     r#"{"allow": [{"resources": "tickets/123/*", "actions": "read"}]}"#,
/// )?;
/// let now = Timestamp::from_unix(1_796_032_800);
/// let minted = mint_narrowed(&key, MintRequest::offline(ceiling), requested, now, &mut rng)?;
/// assert_eq!(minted.token.block_count(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn mint_narrowed(
    key: &SigningKey,
    ceiling: MintRequest,
    requested: Grant,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Minted, TokenError> {
    mint_narrowed_by(key, ceiling, vec![requested], now, rng)
}

/// [`mint_narrowed`] with several narrowing blocks, one per grant, in order: the token
/// grants what the ceiling and every one of them allow (an agent's request, then what the
/// approving human narrowed it to). At least one grant.
pub fn mint_narrowed_by(
    key: &SigningKey,
    ceiling: MintRequest,
    narrowing: Vec<Grant>,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Minted, TokenError> {
    if narrowing.is_empty() {
        return Err(TokenError::NarrowsNothing);
    }
    let authority = authority_block(key, ceiling, now, rng)?;
    let mut blocks = Vec::with_capacity(narrowing.len());
    let mut expires_at = authority.expires_at;
    for grant in narrowing {
        let (block, narrowed_expiry) = narrowing_block(grant, now, authority.ctx)?;
        if let Some(e) = narrowed_expiry {
            expires_at = expires_at.min(e);
        }
        blocks.push(block);
    }
    let mut token = sign_root(key, authority.builder, rng)?;
    for block in blocks {
        let next = KeyPair::new_with_rng(biscuit_auth::Algorithm::Ed25519, rng);
        token = token
            .append_with_keypair(&next, block)
            .map_err(append_error)?;
    }
    Ok(Minted {
        token,
        token_id: authority.token_id,
        expires_at,
    })
}

/// The attenuation block `grant` compiles to (its `ttl` counted from `now`), and its
/// expiry; refused when it would narrow nothing.
fn narrowing_block(
    mut grant: Grant,
    now: Timestamp,
    ctx: CompileContext,
) -> Result<(BlockBuilder, Option<Timestamp>), TokenError> {
    if grant.is_empty() {
        return Err(TokenError::NarrowsNothing);
    }
    resolve_lifetime(&mut grant, now, None)?;
    let (block, _) = compile(&grant, ctx)?;
    Ok((block, grant.expires_at))
}

/// Appends an attenuation block compiled from `grant` (its `ttl` counted from `now`).
/// Offline: no key is needed and no signature is checked.
///
/// ```
/// use warrant_core::grant::Grant;
/// use warrant_core::keys::SigningKey;
/// use warrant_core::time::Timestamp;
/// use warrant_core::token::{attenuate, decode_unverified, mint, MintRequest, TokenError};
///
/// let mut rng = rand_core::OsRng;
/// let key = SigningKey::generate(&mut rng, None);
/// let now = Timestamp::from_unix(1_796_032_800);
/// let grant = Grant::from_json_str(r#"{"allow": [{"resources": "tickets/*", "actions": "*"}]}"#)?;
/// let token = decode_unverified(&mint(&key, MintRequest::offline(grant), now, &mut rng)?.token.to_base64()?)?;
///
/// // Anyone holding the token can take actions away, or shorten its life.
/// let narrower = Grant::from_json_str(r#"{"ttl": "1m", "deny": [{"resources": "tickets/*", "actions": "delete"}]}"#)?;
/// let child = attenuate(&token, narrower, now, &mut rng)?;
/// assert_eq!(child.block_count(), 2);
///
/// // A block must narrow something.
/// let e = attenuate(&token, Grant::default(), now, &mut rng).unwrap_err();
/// assert!(matches!(e, TokenError::NarrowsNothing));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn attenuate(
    token: &UnverifiedBiscuit,
    grant: Grant,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<UnverifiedBiscuit, TokenError> {
    let ctx = unverified_context(&read_unverified(token));
    let (block, _) = narrowing_block(grant, now, ctx)?;
    let next = KeyPair::new_with_rng(biscuit_auth::Algorithm::Ed25519, rng);
    token
        .append_with_keypair(&next, block)
        .map_err(append_error)
}

/// Hands a holder-bound token on to `next`: appends a third-party block, signed by the
/// current holder's `key`, that names `next` as the holder and narrows by `grant` (which
/// may be empty). Offline; only the current holder can do it. Either key may be Ed25519
/// or P-256 (a P-256 holder signs the block with ECDSA, as Biscuit's `secp256r1` keys do).
///
/// ```
/// use warrant_core::grant::Grant;
/// use warrant_core::keys::SigningKey;
/// use warrant_core::time::Timestamp;
/// use warrant_core::token::{decode_unverified, delegate, mint, MintRequest, TokenError};
///
/// let mut rng = rand_core::OsRng;
/// let (root, agent, sub) = (
///     SigningKey::generate(&mut rng, None),
///     SigningKey::generate(&mut rng, None),
///     SigningKey::generate(&mut rng, None),
/// );
/// let now = Timestamp::from_unix(1_796_032_800);
/// let mut req = MintRequest::offline(Grant::from_json_str(
///     r#"{"allow": [{"resources": "tickets/*", "actions": "read"}]}"#,
/// )?);
/// req.holder = Some(agent.public().into());
/// let token = decode_unverified(&mint(&root, req, now, &mut rng)?.token.to_base64()?)?;
///
/// // The agent hands it on to a sub-agent, for one ticket only.
/// let one = Grant::from_json_str(r#"{"allow": [{"resources": "tickets/1", "actions": "read"}]}"#)?;
/// let child = delegate(&token, &agent, sub.public(), one, now, &mut rng)?;
/// assert_eq!(child.block_count(), 2);
///
/// // Only the current holder can: the agent no longer is.
/// let e = delegate(&child, &agent, agent.public(), Grant::default(), now, &mut rng).unwrap_err();
/// assert!(matches!(e, TokenError::NotHolder { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn delegate(
    token: &UnverifiedBiscuit,
    key: &(impl HolderSigner + ?Sized),
    next: impl Into<HolderPublicKey>,
    mut grant: Grant,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<UnverifiedBiscuit, TokenError> {
    let next = next.into();
    let blocks = read_unverified(token);
    let links = holder_links(&blocks);
    let chain = holder_chain(&links)?;
    let current = chain.last().ok_or(TokenError::Bearer)?;
    let public = key.holder_key();
    if *current != public {
        return Err(TokenError::NotHolder {
            holder: current.to_string(),
            key: public.to_string(),
        });
    }
    resolve_lifetime(&mut grant, now, None)?;
    let (compiled, _) = compile(&grant, unverified_context(&blocks))?;
    let block = BlockBuilder::new()
        .fact(Fact::new(
            "holder".to_owned(),
            vec![Term::Bytes(next.fact_bytes())],
        ))
        .map_err(TokenError::Build)?
        .merge(compiled);
    let private = key.biscuit_private_key()?;
    let signed = token
        .third_party_request()
        .and_then(|r| r.create_block(&private, block))
        .and_then(|b| b.serialize())
        .map_err(TokenError::Append)?;
    let next_pair = KeyPair::new_with_rng(biscuit_auth::Algorithm::Ed25519, rng);
    token
        .append_third_party_with_keypair(&signed, next_pair)
        .map_err(append_error)
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

/// Decodes token text (URL-safe base64, padded or not, surrounding whitespace ignored) to
/// bytes, refusing input over [`MAX_TOKEN_BYTES`] before decoding it.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, TokenError> {
    decode_base64_limited(text, MAX_TOKEN_BYTES)
}

/// [`decode_base64`] with another size limit (bytes after decoding).
pub fn decode_base64_limited(text: &str, limit: usize) -> Result<Vec<u8>, TokenError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(TokenError::Empty);
    }
    // 4 base64 characters carry 3 bytes: refuse before allocating.
    let approx = t.len() / 4 * 3;
    if approx > limit.saturating_add(3) {
        return Err(TokenError::TooLarge {
            size: approx,
            limit,
        });
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(t).map_err(TokenError::Base64)?;
    if bytes.len() > limit {
        return Err(TokenError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

/// Decodes token text into a token whose signatures have not been checked.
pub fn decode_unverified(text: &str) -> Result<UnverifiedBiscuit, TokenError> {
    decode_unverified_bytes(&decode_base64(text)?)
}

/// The token as URL-safe base64 with padding (Biscuit's own form).
pub fn encode(token: &UnverifiedBiscuit) -> String {
    token.to_base64().unwrap_or_default()
}

/// Decodes raw token bytes into a token whose signatures have not been checked.
pub fn decode_unverified_bytes(bytes: &[u8]) -> Result<UnverifiedBiscuit, TokenError> {
    if bytes.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge {
            size: bytes.len(),
            limit: MAX_TOKEN_BYTES,
        });
    }
    UnverifiedBiscuit::from(bytes).map_err(TokenError::Format)
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

#[cfg(test)]
mod tests;
