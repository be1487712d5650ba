//! Every denial explained: which block, who signed it, which check, which attribute.

use biscuit_auth::error::{FailedCheck, Format, Logic, Token as BiscuitError};
use biscuit_auth::Biscuit;
use warrant_core::authority::AuthorityFacts;
use warrant_core::blocks::BlockData;
use warrant_core::compile::CheckRole;
use warrant_core::decompile::{Lifted, LiftedBlock};
use warrant_core::eval::{ConditionMiss, Describe, Failure, RuleMiss, Shown};
use warrant_core::grant::Grant;
use warrant_core::keys::HolderPublicKey;
use warrant_core::request::RequestFacts;
use warrant_core::token::TokenError;

use crate::decision::{ClaimValues, Claims, Denial, DenialKind, Signer};

pub(crate) fn lower(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

pub(crate) fn decode_denial(e: &TokenError) -> Denial {
    Denial::new(DenialKind::Malformed, e.to_string())
}

/// A token that did not deserialize or whose signatures do not verify.
pub(crate) fn format_denial(e: &BiscuitError) -> Denial {
    match e {
        BiscuitError::Format(
            Format::Signature(_) | Format::SealedSignature | Format::InvalidSignatureSize(_),
        ) => Denial::new(
            DenialKind::BadSignature,
            "a signature in the token does not verify: it was altered, or signed by another key",
        ),
        BiscuitError::Format(Format::UnknownPublicKey) => Denial::new(
            DenialKind::UnknownKey,
            "the token's root key is not trusted",
        ),
        other => Denial::new(
            DenialKind::Malformed,
            format!(
                "the token is not a Biscuit token: {}",
                lower(&warrant_core::token::biscuit_error(other))
            ),
        ),
    }
}

pub(crate) fn signer(token: &Biscuit, block: usize) -> Signer {
    if block == 0 {
        return Signer::Issuer {
            key_id: token.root_key_id(),
        };
    }
    match token.block_external_key(block) {
        Ok(Some(k)) => Signer::ThirdParty {
            key: HolderPublicKey::from_biscuit(&k).map_or_else(|| k.print(), |p| p.to_string()),
        },
        _ => Signer::Attenuation,
    }
}

pub(crate) fn claims(
    block_count: usize,
    authority: &AuthorityFacts,
    blocks: &[BlockData],
    lifted: Option<&Lifted>,
    holder: Option<&HolderPublicKey>,
) -> Claims {
    let expires_at = match lifted {
        Some(l) => l.blocks.iter().filter_map(LiftedBlock::expires_at).min(),
        None => (0..blocks.len())
            .filter_map(|i| warrant_core::decompile::lift_block(blocks, i))
            .filter_map(|b| b.expires_at())
            .min(),
    };
    Claims::new(ClaimValues {
        token_id: authority.token_id.clone(),
        issuer: authority.issuer.clone(),
        human: authority.human.clone(),
        verification_method: authority.verification.as_ref().map(|(m, _)| m.clone()),
        verified_at: authority.verification.as_ref().map(|(_, t)| t.to_string()),
        holder: holder.map(ToString::to_string),
        holder_thumbprint: holder.map(HolderPublicKey::jwk_thumbprint),
        expires_at: expires_at.map(|t| t.to_string()),
        block_count,
    })
}

/// Which denial to report when several checks fail: the most telling first.
fn rank(kind: DenialKind) -> u8 {
    match kind {
        DenialKind::Expired | DenialKind::NotYetValid => 0,
        DenialKind::Audience => 1,
        DenialKind::DeniedByRule => 2,
        DenialKind::MissingAttribute => 3,
        DenialKind::RuleNotMatched => 4,
        _ => 5,
    }
}

/// Keeps the better of two candidate denials.
pub(crate) fn keep_best(best: &mut Option<Denial>, d: Denial) {
    if best
        .as_ref()
        .is_none_or(|cur| rank(d.kind) < rank(cur.kind))
    {
        *best = Some(d);
    }
}

pub(crate) fn failure_kind(failure: &Failure) -> DenialKind {
    match failure {
        Failure::Expired(_) => DenialKind::Expired,
        Failure::NotYetValid(_) => DenialKind::NotYetValid,
        Failure::Audience { .. } => DenialKind::Audience,
        Failure::DeniedByRule { .. } => DenialKind::DeniedByRule,
        Failure::NoAllowRule {
            closest: Some((_, RuleMiss::Condition(_, ConditionMiss::Missing))),
        } => DenialKind::MissingAttribute,
        Failure::NoAllowRule { .. } => DenialKind::RuleNotMatched,
    }
}

/// A failing check of a profile block, explained from its grant.
pub(crate) fn failure_denial(failure: &Failure, grant: &Grant, req: &RequestFacts) -> Denial {
    let mut d = Denial::new(
        failure_kind(failure),
        Describe {
            failure,
            grant,
            request: req,
        }
        .to_string(),
    );
    d.set_attribute(failure_attribute_name(failure, grant).map(str::to_owned));
    d
}

/// The attribute a failure is about, if one is.
pub(crate) fn failure_attribute_name<'g>(failure: &Failure, grant: &'g Grant) -> Option<&'g str> {
    match failure {
        Failure::NoAllowRule {
            closest: Some((i, RuleMiss::Condition(ci, _))),
        } => grant
            .allow
            .get(*i)
            .and_then(|r| r.when.get(*ci))
            .map(|c| c.attr.as_str()),
        Failure::DeniedByRule {
            rule,
            unevaluated: Some((ci, _)),
        } => grant
            .deny
            .get(*rule)
            .and_then(|r| r.when.get(*ci))
            .map(|c| c.attr.as_str()),
        _ => None,
    }
}

/// Names the block in a denial, signed by `who`.
pub(crate) fn locate(
    mut d: Denial,
    who: Signer,
    block: usize,
    check: Option<std::sync::Arc<str>>,
) -> Denial {
    if block > 0 {
        d.prefix_message(&block_prefix(block, &who));
    }
    d.block = Some(block);
    d.set_signer(who);
    d.set_check(check);
    d
}

/// What a denial's message starts with when an attenuation block failed (none for the
/// authority block): the block and who signed it.
pub(crate) fn block_prefix(block: usize, who: &Signer) -> String {
    format!("block {block} ({who}): ")
}

/// Where the profile blocks of a token evaluated by Biscuit are read from.
pub(crate) enum ProfileBlocks<'a> {
    /// Every block is in the profile (a verifier told to evaluate with Datalog anyway).
    Lifted(&'a Lifted),
    /// The blocks as data: those in the profile are lifted one by one.
    Data(&'a [BlockData]),
}

/// The explained failures of one profile block of a token that is not all in the profile.
struct BlockExplanation {
    grant: Grant,
    roles: Vec<CheckRole>,
    failures: Vec<Failure>,
}

fn explain_block(
    profile: &ProfileBlocks<'_>,
    block: usize,
    authority: &AuthorityFacts,
    req: &RequestFacts,
) -> Option<BlockExplanation> {
    let lifted = match profile {
        ProfileBlocks::Lifted(l) => l.blocks.get(block)?.clone(),
        ProfileBlocks::Data(blocks) => warrant_core::decompile::lift_block(blocks, block)?,
    };
    let failures = lifted.evaluate(authority.human_facts().as_ref(), req);
    Some(BlockExplanation {
        grant: lifted.grant(),
        roles: lifted.roles,
        failures,
    })
}

/// Explains a refusal by Biscuit's own evaluation (tokens outside the profile).
pub(crate) fn from_biscuit(
    token: &Biscuit,
    blocks: &ProfileBlocks<'_>,
    authority: &AuthorityFacts,
    req: &RequestFacts,
    e: &BiscuitError,
) -> Denial {
    let checks = match e {
        BiscuitError::FailedLogic(
            Logic::Unauthorized { checks, .. } | Logic::NoMatchingPolicy { checks },
        ) => checks.as_slice(),
        BiscuitError::RunLimit(limit) => {
            return Denial::new(
                DenialKind::LimitsExceeded,
                format!(
                    "evaluating the token exceeded a run limit: {}",
                    lower(&limit.to_string())
                ),
            )
        }
        BiscuitError::Execution(x) => {
            return Denial::new(
                DenialKind::Evaluation,
                format!("evaluating the token failed: {}", lower(&x.to_string())),
            )
        }
        BiscuitError::FailedLogic(Logic::InvalidBlockRule(block, rule)) => {
            let mut d = Denial::new(
                DenialKind::Evaluation,
                format!(
                    "block {block} has a rule that produces facts with unbound variables: `{rule}`"
                ),
            );
            d.block = usize::try_from(*block).ok();
            return d;
        }
        other => return format_denial(other),
    };
    let mut best: Option<Denial> = None;
    let mut explained: Vec<(usize, Option<BlockExplanation>)> = Vec::new();
    for fc in checks {
        let FailedCheck::Block(b) = fc else { continue };
        let (Ok(block), Ok(check_id)) = (usize::try_from(b.block_id), usize::try_from(b.check_id))
        else {
            continue;
        };
        if !explained.iter().any(|(i, _)| *i == block) {
            explained.push((block, explain_block(blocks, block, authority, req)));
        }
        let x = explained
            .iter()
            .find(|(i, _)| *i == block)
            .and_then(|(_, x)| x.as_ref());
        let failure = x.and_then(|x| {
            let role = x.roles.get(check_id)?;
            x.failures
                .iter()
                .find(|f| &f.role() == role)
                .map(|f| (f, &x.grant))
        });
        let d = match failure {
            Some((f, grant)) => failure_denial(f, grant, req),
            None => Denial::new(
                DenialKind::CheckFailed,
                format!("check failed: `{}`", Shown(&b.rule)),
            ),
        };
        keep_best(
            &mut best,
            locate(d, signer(token, block), block, Some(b.rule.as_str().into())),
        );
    }
    if let Some(d) = best {
        return d;
    }
    Denial::new(
        DenialKind::CheckFailed,
        format!("the token was refused: {}", lower(&e.to_string())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use warrant_core::eval::{ConditionMiss, RuleMiss};
    use warrant_core::time::Timestamp;

    /// Native evaluation ranks failures ([`Failure::rank`]) as denials explained from
    /// Biscuit's refusals are ranked ([`keep_best`]): the same one is reported either way.
    #[test]
    fn failures_rank_as_the_denials_they_are_explained_as() {
        let t = Timestamp::from_unix(1_796_032_800);
        let failures = [
            Failure::Expired(t),
            Failure::NotYetValid(t),
            Failure::Audience {
                expected: vec!["a".into()],
                found: None,
            },
            Failure::DeniedByRule {
                rule: 0,
                unevaluated: None,
            },
            Failure::NoAllowRule {
                closest: Some((0, RuleMiss::Condition(0, ConditionMiss::Missing))),
            },
            Failure::NoAllowRule {
                closest: Some((0, RuleMiss::NotCovered)),
            },
            Failure::NoAllowRule { closest: None },
        ];
        for f in &failures {
            assert_eq!(f.rank(), rank(failure_kind(f)), "{f:?}");
        }
    }
}
