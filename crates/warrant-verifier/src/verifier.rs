//! The verifier: keys, audience, limits, and the one place a token meets a request.

use std::sync::Arc;
use std::time::Duration;

use biscuit_auth::error::{FailedCheck, Format, Logic, Token as BiscuitError};
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit, UnverifiedBiscuit};
use warrant_core::compile::{compile, CheckRole, CompileContext};
use warrant_core::eval::{evaluate, ConditionMiss, Describe, Failure, HumanFacts, RuleMiss};
use warrant_core::keys::{KeyId, KeySet, PublicKey};
use warrant_core::time::Timestamp;
use warrant_core::token::{
    decode_base64, embedded_grant, AuthorityFacts, DecodeError, PROFILE_VERSION,
};
use warrant_core::value::Value;

use crate::decision::{Claims, Decision, Denial, DenialKind, Signer};

/// Datalog run limits. Biscuit's own default allows 1 ms, which fails valid tokens on a
/// loaded machine; warrant sets every limit explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most facts the evaluation may hold.
    pub max_facts: u64,
    /// Most rule-application rounds.
    pub max_iterations: u64,
    /// Longest evaluation.
    pub max_time: Duration,
}

impl Limits {
    /// The defaults: 1000 facts, 100 iterations, 100 ms. A warrant-profile token uses a few
    /// dozen facts and one iteration, so the fact and iteration limits bound the work; the
    /// time limit is only a backstop, wide enough that a valid token is not refused because
    /// the machine is loaded (a 20 ms limit did refuse valid tokens under a parallel test
    /// run on two cores).
    pub const DEFAULT: Limits = Limits {
        max_facts: 1000,
        max_iterations: 100,
        max_time: Duration::from_millis(100),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One request, described for the token: resource, action, time, audience, attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request(pub(crate) warrant_core::request::Request);

impl Request {
    /// `action` on `resource` at `time`.
    pub fn new(resource: impl Into<String>, action: impl Into<String>, time: Timestamp) -> Self {
        Self(warrant_core::request::Request::new(resource, action, time))
    }

    /// `action` on `resource`, now.
    pub fn now(resource: impl Into<String>, action: impl Into<String>) -> Self {
        Self::new(
            resource,
            action,
            Timestamp::from_system_time(std::time::SystemTime::now()),
        )
    }

    /// Adds a typed attribute (`amount` = 4999, `ticket.status` = "open").
    #[must_use]
    pub fn with_attr(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.attrs.insert(name.into(), value.into());
        self
    }

    /// Sets the audience the request is checked under (overrides the verifier's).
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.0.audience = Some(audience.into());
        self
    }

    /// The request's time.
    pub fn time(&self) -> Timestamp {
        self.0.time
    }
}

#[derive(Debug)]
enum Trusted {
    Set(KeySet),
    /// One key, whatever key id the token names.
    Single(PublicKey),
}

#[derive(Debug)]
struct Inner {
    keys: Trusted,
    audience: Option<String>,
    limits: Limits,
}

/// Verifies tokens offline. Build once, clone freely (an `Arc` inside), share across threads.
#[derive(Debug, Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl Verifier {
    /// Trusts the keys of `keys`, by key id.
    pub fn new(keys: KeySet) -> Self {
        Self::with_trusted(Trusted::Set(keys))
    }

    /// Trusts one public key, whatever key id a token names.
    pub fn from_public_key(key: PublicKey) -> Self {
        Self::with_trusted(Trusted::Single(key))
    }

    fn with_trusted(keys: Trusted) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys,
                audience: None,
                limits: Limits::DEFAULT,
            }),
        }
    }

    fn update(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            keys: match &shared.keys {
                Trusted::Set(s) => Trusted::Set(s.clone()),
                Trusted::Single(k) => Trusted::Single(*k),
            },
            audience: shared.audience.clone(),
            limits: shared.limits,
        });
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The audience this API answers to: a token that names audiences must name this one.
    #[must_use]
    pub fn with_audience(self, audience: impl Into<String>) -> Self {
        let a = audience.into();
        self.update(|i| i.audience = Some(a))
    }

    /// Datalog run limits (default [`Limits::DEFAULT`]).
    #[must_use]
    pub fn with_limits(self, limits: Limits) -> Self {
        self.update(|i| i.limits = limits)
    }

    /// Verifies base64 token text for `request`.
    pub fn verify(&self, token: &str, request: &Request) -> Decision {
        match decode_base64(token) {
            Ok(bytes) => self.verify_bytes(&bytes, request),
            Err(e) => Decision::Denied(decode_denial(&e)),
        }
    }

    /// Verifies raw token bytes for `request`.
    pub fn verify_bytes(&self, bytes: &[u8], request: &Request) -> Decision {
        match self.check(bytes, request) {
            Ok(claims) => Decision::Allowed(claims),
            Err(denial) => Decision::Denied(*denial),
        }
    }

    fn root_key(&self, token: &UnverifiedBiscuit) -> Result<PublicKey, Box<Denial>> {
        match (&self.inner.keys, token.root_key_id()) {
            (Trusted::Single(k), _) => Ok(*k),
            (Trusted::Set(set), Some(kid)) => set.get(KeyId(kid)).copied().ok_or_else(|| {
                Box::new(Denial::new(
                    DenialKind::UnknownKey,
                    format!("the token is signed with key id `{kid}`, which is not a trusted key"),
                ))
            }),
            (Trusted::Set(set), None) => match set.keys.as_slice() {
                [only] => Ok(only.public_key),
                _ => Err(Box::new(Denial::new(
                    DenialKind::UnknownKey,
                    format!(
                        "the token names no key id and the key set holds {} keys",
                        set.keys.len()
                    ),
                ))),
            },
        }
    }

    fn check(&self, bytes: &[u8], request: &Request) -> Result<Claims, Box<Denial>> {
        if bytes.len() > warrant_core::token::MAX_TOKEN_BYTES {
            return Err(Box::new(decode_denial(&DecodeError::TooLarge(bytes.len()))));
        }
        let unverified = UnverifiedBiscuit::from(bytes).map_err(|e| {
            Box::new(Denial::new(
                DenialKind::Malformed,
                format!(
                    "the token is not a Biscuit token: {}",
                    lower(&e.to_string())
                ),
            ))
        })?;
        let root = self.root_key(&unverified)?;
        let biscuit_root = root.to_biscuit().map_err(|_| {
            Box::new(Denial::new(
                DenialKind::UnknownKey,
                "the trusted key is not a valid Ed25519 key",
            ))
        })?;
        let token = Biscuit::from(bytes, biscuit_root).map_err(|e| Box::new(format_denial(&e)))?;

        let mut req = request.0.clone();
        if req.audience.is_none() {
            req.audience.clone_from(&self.inner.audience);
        }
        let (src, params) = req.datalog();
        let limits = self.inner.limits;
        let run = AuthorizerBuilder::new()
            .set_limits(AuthorizerLimits {
                max_facts: limits.max_facts,
                max_iterations: limits.max_iterations,
                max_time: limits.max_time,
            })
            .code_with_params(&src, params, Default::default())
            .and_then(|b| b.policy(format!("allow if warrant_profile({PROFILE_VERSION})").as_str()))
            .and_then(|b| b.build(&token))
            .and_then(|mut a| a.authorize());
        let authority = token
            .print_block_source(0)
            .map(|s| AuthorityFacts::read(&s))
            .unwrap_or_default();
        match run {
            Ok(_) => Ok(claims(&token, &authority)),
            Err(e) => Err(Box::new(explain(&token, &authority, &req, &e))),
        }
    }
}

fn lower(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn decode_denial(e: &DecodeError) -> Denial {
    Denial::new(DenialKind::Malformed, e.to_string())
}

fn format_denial(e: &BiscuitError) -> Denial {
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
                "the token is not a valid Biscuit token: {}",
                lower(&other.to_string())
            ),
        ),
    }
}

fn signer(token: &Biscuit, block: usize) -> Signer {
    if block == 0 {
        return Signer::Issuer {
            key_id: token.root_key_id(),
        };
    }
    match token.block_external_key(block) {
        Ok(Some(k)) => Signer::ThirdParty {
            key: PublicKey::from_biscuit(&k).map_or_else(|| k.print(), |p| p.to_string()),
        },
        _ => Signer::Attenuation,
    }
}

fn human_facts(authority: &AuthorityFacts) -> Option<HumanFacts> {
    authority
        .verification
        .as_ref()
        .map(|(method, at)| HumanFacts {
            method: method.clone(),
            verified_at: *at,
            attrs: authority.human_attrs.clone(),
        })
}

fn claims(token: &Biscuit, authority: &AuthorityFacts) -> Claims {
    let expires_at = (0..token.block_count())
        .filter_map(|i| token.print_block_source(i).ok())
        .filter_map(|s| embedded_grant(&s))
        .filter_map(|g| g.expires_at)
        .min();
    Claims {
        token_id: authority.token_id.clone(),
        issuer: authority.issuer.clone(),
        human: authority.human.clone(),
        verification_method: authority.verification.as_ref().map(|(m, _)| m.clone()),
        verified_at: authority.verification.as_ref().map(|(_, t)| t.to_string()),
        holder: authority.holder.clone(),
        expires_at: expires_at.map(|t| t.to_string()),
        block_count: token.block_count(),
    }
}

/// The explained failures of one block whose embedded grant matches its Datalog.
struct BlockExplanation {
    grant: warrant_core::grant::Grant,
    roles: Vec<CheckRole>,
    failures: Vec<Failure>,
}

fn explain_block(
    token: &Biscuit,
    block: usize,
    authority: &AuthorityFacts,
    req: &warrant_core::request::Request,
) -> Option<BlockExplanation> {
    let source = token.print_block_source(block).ok()?;
    let grant = embedded_grant(&source)?;
    let ctx = CompileContext {
        human_verified_at: authority.verification.as_ref().map(|(_, at)| *at),
    };
    let (compiled, roles) = compile(&grant, ctx).ok()?;
    // Trust the embedded grant for explanations only if it is what the block's Datalog says.
    if !source.trim_end().ends_with(compiled.to_string().trim_end()) {
        return None;
    }
    let failures = evaluate(&grant, human_facts(authority).as_ref(), req);
    Some(BlockExplanation {
        grant,
        roles,
        failures,
    })
}

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

fn explain(
    token: &Biscuit,
    authority: &AuthorityFacts,
    req: &warrant_core::request::Request,
    e: &BiscuitError,
) -> Denial {
    let (checks, policy_failed) = match e {
        BiscuitError::FailedLogic(Logic::Unauthorized { checks, .. }) => (checks.as_slice(), false),
        BiscuitError::FailedLogic(Logic::NoMatchingPolicy { checks }) => (checks.as_slice(), true),
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
    let mut cache: Vec<(usize, Option<BlockExplanation>)> = Vec::new();
    for fc in checks {
        let FailedCheck::Block(b) = fc else { continue };
        let Ok(block) = usize::try_from(b.block_id) else {
            continue;
        };
        let Ok(check_id) = usize::try_from(b.check_id) else {
            continue;
        };
        if !cache.iter().any(|(i, _)| *i == block) {
            cache.push((block, explain_block(token, block, authority, req)));
        }
        let explained = cache
            .iter()
            .find(|(i, _)| *i == block)
            .and_then(|(_, x)| x.as_ref());
        let mut d = describe_check(explained, check_id, req, &b.rule);
        d.block = Some(block);
        d.signer = Some(signer(token, block));
        d.check = Some(b.rule.clone());
        if block > 0 {
            d.message = format!(
                "block {block} ({}): {}",
                d.signer
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                d.message
            );
        }
        if best
            .as_ref()
            .is_none_or(|cur| rank(d.kind) < rank(cur.kind))
        {
            best = Some(d);
        }
    }
    if let Some(d) = best {
        return d;
    }
    if policy_failed && authority.profile != Some(PROFILE_VERSION) {
        return Denial::new(
            DenialKind::NotWarrant,
            "the token is signed by a trusted key but its authority block has no `warrant_profile(1)` fact",
        );
    }
    Denial::new(
        DenialKind::CheckFailed,
        format!("the token was refused: {}", lower(&e.to_string())),
    )
}

fn describe_check(
    explained: Option<&BlockExplanation>,
    check_id: usize,
    req: &warrant_core::request::Request,
    rule: &str,
) -> Denial {
    let generic = || Denial::new(DenialKind::CheckFailed, format!("check failed: `{rule}`"));
    let Some(x) = explained else { return generic() };
    let Some(role) = x.roles.get(check_id) else {
        return generic();
    };
    let Some(failure) = x.failures.iter().find(|f| &f.role() == role) else {
        return generic();
    };
    let kind = match failure {
        Failure::Expired(_) => DenialKind::Expired,
        Failure::NotYetValid(_) => DenialKind::NotYetValid,
        Failure::Audience { .. } => DenialKind::Audience,
        Failure::DeniedByRule(_) => DenialKind::DeniedByRule,
        Failure::NoAllowRule {
            closest: Some((_, RuleMiss::Condition(_, ConditionMiss::Missing))),
        } => DenialKind::MissingAttribute,
        Failure::NoAllowRule { .. } => DenialKind::RuleNotMatched,
    };
    let mut d = Denial::new(
        kind,
        Describe {
            failure,
            grant: &x.grant,
            request: req,
        }
        .to_string(),
    );
    if let Failure::NoAllowRule {
        closest: Some((i, RuleMiss::Condition(ci, _))),
    } = failure
    {
        d.attribute = x
            .grant
            .allow
            .get(*i)
            .and_then(|r| r.when.get(*ci))
            .map(|c| c.attr.to_string());
    }
    d
}
