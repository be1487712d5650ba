//! Verified tokens: a token's signature chain checked, and everything that does not
//! depend on the request worked out once.
//!
//! A [`VerifiedToken`] can only be made by [`VerifiedToken::verify`], which checks the
//! signature chain of the very bytes it is given; the cache (`crate::cache`) inserts
//! nothing else. Expiry, revocation, audience and every rule are evaluated again on every
//! request.

use std::sync::Arc;

use biscuit_auth::format::{schema, SerializedBiscuit};
use biscuit_auth::Biscuit;
use warrant_core::authority::AuthorityFacts;
use warrant_core::blocks::{read_decoded, BlockData, MAX_BLOCKS};
use warrant_core::budget::Budget;
use warrant_core::decompile::{lift_with, Lifted};
use warrant_core::eval::Intersection;
use warrant_core::keys::{HolderPublicKey, KeyId, PublicKey};
use warrant_core::time::Timestamp;
use warrant_core::token::PROFILE_VERSION;

use crate::decision::{ClaimValues, Claims, Denial, DenialKind, HasClaims, Signer};
use crate::revocation::{digest, Digest16, RevocationKind};

/// The trusted root keys of one key-set version.
#[derive(Debug, Clone)]
pub(crate) enum Trusted {
    /// Keys by id.
    Set(warrant_core::keys::KeySet),
    /// One key, whatever key id the token names.
    Single(PublicKey),
}

impl Trusted {
    fn root(&self, kid: Option<u32>) -> Result<PublicKey, Denial> {
        match (self, kid) {
            (Trusted::Single(k), _) => Ok(*k),
            (Trusted::Set(set), Some(kid)) => set.get(KeyId(kid)).copied().ok_or_else(|| {
                Denial::new(
                    DenialKind::UnknownKey,
                    format!("the token is signed with key id `{kid}`, which is not a trusted key"),
                )
            }),
            (Trusted::Set(set), None) => match set.keys.as_slice() {
                [only] => Ok(only.public_key),
                _ => Err(Denial::new(
                    DenialKind::UnknownKey,
                    format!(
                        "the token names no key id and the key set holds {} keys",
                        set.keys.len()
                    ),
                )),
            },
        }
    }
}

/// A token whose signature chain verified, with everything that does not depend on the
/// request worked out once.
#[derive(Debug)]
pub(crate) struct VerifiedToken {
    /// The parsed token, kept only for Biscuit's evaluation: when some block is outside
    /// the profile, or the verifier evaluates everything with Datalog (see
    /// [`VerifiedToken::cached`]). A profile token in the cache keeps only what native
    /// evaluation and its explanations need. Boxed: a parsed Biscuit is large inline
    /// (880 bytes) and a cached profile token has none.
    pub(crate) token: Option<Box<Biscuit>>,
    /// Who signed each block, authority first (for explanations).
    pub(crate) signers: Vec<Signer>,
    /// The token's size in bytes (for the cache's estimate of its memory).
    pub(crate) size: usize,
    /// The token's grants, when every block is in the warrant profile.
    pub(crate) lifted: Option<Lifted>,
    /// Those grants merged into one yes/no check, without their times (`None` outside
    /// the profile, or when the merge would exceed its caps): a request it allows within
    /// [`Self::lifetime`] is allowed by every block; one it refuses is explained block by
    /// block. Shared by the tokens of the same grants.
    pub(crate) intersection: Option<Arc<Intersection>>,
    /// The token's lifetime: the latest not-before and the earliest expiry of its blocks.
    pub(crate) lifetime: Lifetime,
    /// The blocks as data, kept for Biscuit's evaluation and its explanations when some
    /// block is outside the profile (`None` when `lifted` is).
    pub(crate) blocks: Option<Vec<BlockData>>,
    /// Whether the token may be evaluated at all: a warrant token of this profile
    /// version, and (outside the profile) within the evaluation budget.
    pub(crate) admission: Result<(), Denial>,
    /// The authority block's facts (the very copy `lifted` holds, when it is some).
    pub(crate) authority: Arc<AuthorityFacts>,
    /// The human facts the checks see (from the authority block).
    pub(crate) human: Option<warrant_core::eval::HumanFacts>,
    /// Digest of each block's revocation id, authority first.
    pub(crate) revocation_ids: Vec<Digest16>,
    pub(crate) token_id: Option<Digest16>,
    /// The holders along the chain, first to last (empty: a bearer token), or why the
    /// chain is broken.
    pub(crate) holders: Result<Vec<HolderPublicKey>, Denial>,
    /// Digests of every holder along the chain.
    pub(crate) holder_digests: Vec<Digest16>,
    /// The current holder's key with its point decoded, ready to verify DPoP proofs (added
    /// for DPoP on the warm path: decoding it per request cost a quarter of a signature).
    /// Boxed: a few hundred bytes inline, and a bearer token has none.
    pub(crate) holder_key: Option<Box<warrant_core::dpop::HolderKey>>,
    pub(crate) claims: Claims,
    /// The text of every check of every lifted block, rendered at the token's first
    /// denial (explanations quote the failing check; rendering compiles the block's grant,
    /// too slow to repeat on every denial, too large to keep for tokens never denied).
    check_texts: std::sync::OnceLock<Vec<Vec<Arc<str>>>>,
}

/// When a token's blocks all hold: from the latest not-before to the earliest expiry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lifetime {
    pub(crate) not_before: Option<Timestamp>,
    pub(crate) expires_at: Option<Timestamp>,
}

impl Lifetime {
    /// Whether `t` is within it, as every block's grant judges it (`evaluate`: expired
    /// after `expires_at`, not yet valid before `not_before`).
    pub(crate) fn holds_at(&self, t: Timestamp) -> bool {
        self.expires_at.is_none_or(|exp| t <= exp) && self.not_before.is_none_or(|nb| t >= nb)
    }
}

impl HasClaims for VerifiedToken {
    fn claim_values(&self) -> &ClaimValues {
        &self.claims
    }
}

impl VerifiedToken {
    /// Who signed block `block` (an attenuation if the token has no such block).
    pub(crate) fn signer(&self, block: usize) -> &Signer {
        static ATTENUATION: Signer = Signer::Attenuation;
        self.signers.get(block).unwrap_or(&ATTENUATION)
    }

    /// The text of check `index` of lifted block `block`, as Biscuit prints it (for
    /// explanations only: no decision reads it).
    pub(crate) fn check_text(&self, block: usize, index: usize) -> Option<Arc<str>> {
        let lifted = self.lifted.as_ref()?;
        self.check_texts
            .get_or_init(|| {
                lifted
                    .blocks
                    .iter()
                    .map(|b| b.check_texts().into_iter().map(Arc::from).collect())
                    .collect()
            })
            .get(block)?
            .get(index)
            .cloned()
    }

    /// The token as the cache keeps it: without its parsed Biscuit unless Biscuit must
    /// evaluate it (a block outside the profile, or `keep_biscuit`). (Lifting already
    /// keeps each grant without spare capacity, shared with every token of the same
    /// grant, and the authority facts once.)
    pub(crate) fn cached(mut self, keep_biscuit: bool) -> Self {
        if self.lifted.is_some() && !keep_biscuit {
            self.token = None;
        }
        self
    }

    /// An estimate of the heap this token takes in the cache, its text aside (its parsed
    /// Biscuit, when kept, dominates). Grants shared with other tokens are counted as if
    /// this token's own (see [`PROFILE_BASE_BYTES`]).
    pub(crate) fn heap_estimate(&self) -> u64 {
        let size = u64::try_from(self.size).unwrap_or(u64::MAX);
        let mut estimate = size
            .saturating_mul(PROFILE_BYTES_PER_TOKEN_BYTE)
            .saturating_add(PROFILE_BASE_BYTES);
        if self.token.is_some() {
            estimate = estimate.saturating_add(size.saturating_mul(BISCUIT_BYTES_PER_TOKEN_BYTE));
        }
        if self.blocks.is_some() {
            estimate =
                estimate.saturating_add(size.saturating_mul(BLOCK_DATA_BYTES_PER_TOKEN_BYTE));
        }
        // The merged check is usually shared with the tokens of the same grants; like the
        // grants, it is counted in full for each token (an upper bound then).
        if let Some(i) = &self.intersection {
            estimate = estimate.saturating_add(u64::try_from(i.heap_bytes()).unwrap_or(u64::MAX));
        }
        estimate
    }
}

/// Heap of a cached profile token: a fixed part (the token itself, its claims, signers,
/// revocation digests, the authority facts, each block's times, roles and holder, the
/// cache's slot), and a part growing with its size: its grants. Each grant is counted in
/// full for every token although the tokens of one grant share a single copy (handed
/// out by the grant memo), so the estimate is an upper bound when tokens share their
/// grants (4.7 KB measured for the bench token, text and merged blocks included) and
/// close to the heap when every block's grant is its own (7.0 KB measured; estimated
/// 7.1 KB). Measured by the cache benchmark's counting allocator.
const PROFILE_BASE_BYTES: u64 = 1280;
const PROFILE_BYTES_PER_TOKEN_BYTE: u64 = 2;
/// A parsed Biscuit (symbol tables, terms, expressions) per byte of token.
const BISCUIT_BYTES_PER_TOKEN_BYTE: u64 = 16;
/// The blocks read as data (kept beside the Biscuit for explanations): about 12 bytes per
/// byte of token, measured on the bench token.
const BLOCK_DATA_BYTES_PER_TOKEN_BYTE: u64 = 12;

impl VerifiedToken {
    /// Verifies the signature chain of `bytes` under `trusted`; the only constructor.
    /// Recognised grants are remembered in `memo`; the parsed Biscuit is kept when some
    /// block is outside the profile, or when `keep_biscuit`.
    pub(crate) fn verify(
        bytes: &[u8],
        trusted: &Trusted,
        memo: Option<&Memo>,
        keep_biscuit: bool,
    ) -> Result<Self, Denial> {
        let decoded = decode_bounded(bytes)?;
        verify_signatures(bytes, trusted)?;
        // Every decision below reads the blocks as data, decoded from the very bytes
        // whose signatures were just verified.
        let blocks = read_decoded(&decoded)
            .map_err(|e| Denial::new(DenialKind::Malformed, e.to_string()))?;
        let lifted = lift_with(&blocks, memo.map(|m| &m.grants));
        // Biscuit's own token, for its evaluation: its signatures are verified again
        // (Biscuit offers no way to build one from a verified chain).
        let token = if lifted.is_none() || keep_biscuit {
            Some(Box::new(biscuit(bytes, trusted)?))
        } else {
            None
        };
        let authority = match &lifted {
            Some(l) => Arc::clone(&l.authority),
            None => Arc::new(
                blocks
                    .first()
                    .map(|b| AuthorityFacts::from_facts(&b.facts))
                    .unwrap_or_default(),
            ),
        };
        let admission = admit(&authority, lifted.is_some(), &blocks);
        // Biscuit's revocation ids are the blocks' signatures.
        let revocation_ids = std::iter::once(&decoded.authority)
            .chain(&decoded.blocks)
            .map(|b| digest(RevocationKind::RevocationId, &b.signature))
            .collect();
        let token_id = authority
            .token_id
            .as_deref()
            .map(|id| digest(RevocationKind::TokenId, id.as_bytes()));
        let signers = signers(&decoded, &blocks);
        let (holders, holder_digests) = holder_chain(&signers, &blocks);
        let claims = crate::explain::claims(
            blocks.len(),
            &authority,
            &blocks,
            lifted.as_ref(),
            holders.as_ref().ok().and_then(|h| h.last()),
        );
        let human = authority.human_facts();
        // The blocks' merged check, without times (shared by the tokens of one grant
        // combination), and the token's own lifetime: the latest start, earliest expiry.
        let intersection = lifted.as_ref().and_then(|l| match memo {
            Some(m) => m.intersection(l),
            None => memo::merge(
                &l.blocks
                    .iter()
                    .map(|b| Arc::clone(b.timeless()))
                    .collect::<Vec<_>>(),
            ),
        });
        let lifetime = lifted
            .as_ref()
            .map_or_else(Lifetime::default, |l| Lifetime {
                not_before: l.blocks.iter().filter_map(|b| b.not_before()).max(),
                expires_at: l.blocks.iter().filter_map(|b| b.expires_at()).min(),
            });
        let holder_key = holders
            .as_ref()
            .ok()
            .and_then(|h| h.last())
            .map(|k| Box::new(warrant_core::dpop::HolderKey::new(*k)));
        Ok(Self {
            token,
            signers,
            size: bytes.len(),
            blocks: lifted.is_none().then_some(blocks),
            admission,
            lifted,
            intersection,
            lifetime,
            authority,
            human,
            revocation_ids,
            token_id,
            holders,
            holder_digests,
            holder_key,
            claims,
            check_texts: std::sync::OnceLock::new(),
        })
    }
}

/// The outer structure of `bytes`, once its number of blocks is bounded: Biscuit's
/// verification of a token grows faster than linearly with its blocks, so the bound
/// holds before any signature is checked.
fn decode_bounded(bytes: &[u8]) -> Result<schema::Biscuit, Denial> {
    let decoded = warrant_core::blocks::decode(bytes).map_err(|e| {
        Denial::new(
            DenialKind::Malformed,
            format!("the token is not a Biscuit token: {e}"),
        )
    })?;
    let count = decoded.blocks.len().saturating_add(1);
    if count > MAX_BLOCKS {
        return Err(Denial::new(
            DenialKind::Malformed,
            format!(
                "the token has {count} blocks, more than the {MAX_BLOCKS} a verifier accepts: ask for a token with fewer attenuations or delegations"
            ),
        ));
    }
    Ok(decoded)
}

/// Biscuit's root key provider for `trusted`, remembering why it refused.
fn provider<'a>(
    trusted: &'a Trusted,
    refused: &'a std::cell::RefCell<Option<Denial>>,
) -> impl Fn(Option<u32>) -> Result<biscuit_auth::PublicKey, biscuit_auth::error::Format> + 'a {
    move |kid: Option<u32>| match trusted.root(kid).and_then(|k| {
        biscuit_key(k).map_err(|_| {
            Denial::new(
                DenialKind::UnknownKey,
                "the trusted key is not a valid Ed25519 key",
            )
        })
    }) {
        Ok(k) => Ok(k),
        Err(d) => {
            *refused.borrow_mut() = Some(d);
            Err(biscuit_auth::error::Format::UnknownPublicKey)
        }
    }
}

/// `key.to_biscuit()`, remembering the last key converted on this thread: converting
/// decodes the key's curve point, a quarter of a signature check, and a verifier checks
/// token after token against the same root key. A hit compares the key's bytes in full.
fn biscuit_key(key: PublicKey) -> Result<biscuit_auth::PublicKey, warrant_core::keys::KeyError> {
    thread_local! {
        static LAST: std::cell::Cell<Option<(PublicKey, biscuit_auth::PublicKey)>> =
            const { std::cell::Cell::new(None) };
    }
    LAST.with(|last| match last.get() {
        Some((k, converted)) if k == key => Ok(converted),
        _ => {
            let converted = key.to_biscuit()?;
            last.set(Some((key, converted)));
            Ok(converted)
        }
    })
}

/// Verifies the signature chain of `bytes` under `trusted` exactly as `Biscuit::from`
/// does (it is the first half of it: every block's signature, third-party signatures,
/// the last key against the proof), without converting the blocks to Biscuit's Datalog.
fn verify_signatures(bytes: &[u8], trusted: &Trusted) -> Result<(), Denial> {
    let refused = std::cell::RefCell::new(None);
    match SerializedBiscuit::from_slice(bytes, provider(trusted, &refused)) {
        Ok(_) => Ok(()),
        Err(e) => Err(refused.into_inner().unwrap_or_else(|| {
            crate::explain::format_denial(&biscuit_auth::error::Token::Format(e))
        })),
    }
}

/// Biscuit's parsed token of `bytes`, its signature chain verified under `trusted`.
pub(crate) fn biscuit(bytes: &[u8], trusted: &Trusted) -> Result<Biscuit, Denial> {
    let refused = std::cell::RefCell::new(None);
    match Biscuit::from(bytes, provider(trusted, &refused)) {
        Ok(t) => Ok(t),
        Err(e) => Err(refused
            .into_inner()
            .unwrap_or_else(|| crate::explain::format_denial(&e))),
    }
}

/// Who signed each block: the issuer's key id for the authority, a third-party key, or
/// an attenuation.
fn signers(decoded: &schema::Biscuit, blocks: &[BlockData]) -> Vec<Signer> {
    blocks
        .iter()
        .enumerate()
        .map(|(i, b)| match (i, &b.external_key) {
            (0, _) => Signer::Issuer {
                key_id: decoded.root_key_id,
            },
            (_, Some(k)) => Signer::ThirdParty {
                key: HolderPublicKey::from_biscuit(k).map_or_else(|| k.print(), |p| p.to_string()),
            },
            (_, None) => Signer::Attenuation,
        })
        .collect()
}

/// The holders along the chain of a verified token (or why the chain is broken), and the
/// revocation digest of each.
fn holder_chain(
    signers: &[Signer],
    blocks: &[BlockData],
) -> (Result<Vec<HolderPublicKey>, Denial>, Vec<Digest16>) {
    let links = warrant_core::holder::holder_links(blocks);
    let holders = warrant_core::holder::holder_chain(&links).map_err(|e| {
        let block = match &e {
            warrant_core::holder::ChainError::NotSignedByHolder { block, .. }
            | warrant_core::holder::ChainError::NoHolder { block, .. }
            | warrant_core::holder::ChainError::SeveralHolders { block, .. }
            | warrant_core::holder::ChainError::BadKey { block, .. } => *block,
        };
        let mut d = Denial::new(DenialKind::InvalidDelegation, e.to_string());
        d.block = Some(block);
        d.set_signer(signers.get(block).cloned().unwrap_or(Signer::Attenuation));
        d
    });
    let digests = holders
        .as_ref()
        .map(|hs| {
            hs.iter()
                .map(|h| digest(RevocationKind::Holder, h.to_string().as_bytes()))
                .collect()
        })
        .unwrap_or_default();
    (holders, digests)
}

/// Whether a verified token may be evaluated: it must be a warrant token of this profile
/// version; a token with a block outside the profile must fit the evaluation budget.
fn admit(authority: &AuthorityFacts, lifted: bool, blocks: &[BlockData]) -> Result<(), Denial> {
    let refuse = |message: String| Err(Denial::new(DenialKind::NotWarrant, message));
    match (authority.profile, authority.legacy_profile) {
        (Some(PROFILE_VERSION), _) => {}
        // (A `warrant_profile(2)` never existed: it states none of this profile's facts.)
        (Some(v), _) | (None, Some(v)) if v != PROFILE_VERSION => {
            return refuse(format!(
                "the token uses warrant profile {v}; this verifier accepts profile {PROFILE_VERSION}: ask the issuer for a new token"
            ))
        }
        _ => {
            return refuse(
                "the token is signed by a trusted key but is not a warrant token: its authority block has no `warrant(…)` fact".to_owned(),
            )
        }
    }
    if lifted {
        return Ok(());
    }
    warrant_core::budget::check(blocks, &Budget::DEFAULT)
        .map(|_| ())
        .map_err(|e| {
            let mut d = Denial::new(DenialKind::OverBudget, e.to_string());
            d.block = Some(e.block);
            d
        })
}

#[cfg(test)]
mod tests;

pub(crate) mod memo;
pub(crate) use memo::Memo;
