//! Minting (`POST /v1/tokens`): the one path from a human's request to a token.
//!
//! [`AppState::mint`] verifies the human (crate::verify), counts the mint against their
//! `mints_per_minute`, refuses a holder key of a disabled agent, chooses the role, holds
//! the lifetime to the role's `max_ttl` (and the issuer's), checks the grant against the
//! role's ceiling, signs, and returns the token only after the token's row and its `mint`
//! audit entry are committed — with every other write of the request (the counts, the
//! challenge consumed, the `verification` entry) in one transaction. A request the policy refuses is a
//! [`Refusal`] that says why; those that are refusals of policy (403) are counted in
//! `warrant_refusals_total` by their [`RefusalReason`] and recorded in the audit log.
//! `Refusal` becomes an [`ApiError`] in one place (`From<Refusal> for ApiError`).

use std::collections::BTreeMap;

use rand_core::OsRng;
use serde_json::json;
use warrant_core::grant::{Actions, Grant, GrantError, Method};
use warrant_core::keys::{HolderPublicKey, SigningKey};
use warrant_core::time::{Span, Timestamp};
use warrant_core::token::{self, MintRequest, Verification, DEFAULT_TTL};
use warrant_core::value::{AttrName, Value};

use crate::api;
use crate::audit::AuditRow;
use crate::error::ApiError;
use crate::metrics::RefusalReason;
use crate::state::AppState;
use crate::store::{AuditEntry, HumanRow, RoleRow, Store, TokenRow, Tx};
use crate::verify::{check_proof, Proof};

/// A grant as a request may ask for it: valid, and not naming the issuer's own audience.
#[derive(Debug, Clone)]
pub struct Requested(pub(crate) Grant);

impl Requested {
    /// Parses the `grant` of a request (400 when it is invalid or reserved).
    pub fn parse(json: &serde_json::Value) -> Result<Self, Refusal> {
        let grant = Grant::from_json(json).map_err(Refusal::Grant)?;
        // With no audience of its own the request inherits its role's, checked once the
        // role is known.
        if !grant.audience.is_empty() {
            crate::reserved::reserved(&grant, &grant.audience).map_err(Refusal::Reserved)?;
        }
        Ok(Self(grant))
    }
}

/// A request for a token.
#[derive(Debug)]
pub struct MintCommand {
    /// The client, as the per-client limits count it (crate::limits::client_address).
    pub client: String,
    /// The human asking.
    pub human: String,
    /// Their proof, checked now.
    pub verification: api::Verification,
    /// What they ask for.
    pub requested: Requested,
    /// The role to mint under: needed when the human has several.
    pub role: Option<String>,
    /// The agent key the token is bound to; `None` for a bearer token.
    pub holder: Option<HolderPublicKey>,
}

/// A token minted and recorded.
#[derive(Debug, Clone)]
pub struct Minted {
    /// The token, base64.
    pub token: String,
    /// Its `token_id`.
    pub token_id: String,
    /// Its expiry.
    pub expires_at: Timestamp,
}

/// Why no token was minted.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The holder key is a disabled agent's (403).
    #[error("agent `{name}` ({id}) is disabled")]
    AgentDisabled {
        /// The agent's name.
        name: String,
        /// The agent's id.
        id: String,
    },
    /// The role asked for is not the human's (403).
    #[error("the human does not have role `{0}`")]
    RoleNotHeld(String),
    /// The human has no role (403).
    #[error("the human has no role: there is nothing to delegate")]
    NoRole,
    /// A lifetime past the role's (or the issuer's) longest (403).
    #[error("a ttl of {ttl} is longer than the {max} role `{role}` allows")]
    TtlTooLong {
        /// The lifetime asked for.
        ttl: Span,
        /// The longest allowed.
        max: Span,
        /// The role.
        role: String,
    },
    /// A grant with no allow rule (403).
    #[error("the grant needs at least one allow rule")]
    NoAllowRule,
    /// An allow rule no rule of the ceiling overlaps (403).
    #[error("allow[{index}] (`{actions}` on {resources}) is outside the ceiling of role `{role}`")]
    RuleOutsideCeiling {
        /// The rule's position in the request.
        index: usize,
        /// Its actions, `*` or comma-separated.
        actions: String,
        /// Its resources, each in backticks.
        resources: String,
        /// The role.
        role: String,
    },
    /// An audience the ceiling does not list (403).
    #[error("audience `{audience}` is outside the ceiling of role `{role}`")]
    AudienceOutsideCeiling {
        /// The audience asked for.
        audience: String,
        /// The role.
        role: String,
    },
    /// A stored ceiling the issuer no longer mints under (403).
    #[error("the ceiling of role `{role}` is refused: {why}")]
    CeilingRefused {
        /// The role.
        role: String,
        /// What is wrong with it.
        why: String,
    },
    /// The human has several roles and named none (400).
    #[error("the human has several roles: name one in `role`")]
    RoleNotNamed,
    /// The grant is invalid (400).
    #[error("grant: {0}")]
    Grant(#[source] GrantError),
    /// The grant could only be meant for the issuer itself (400).
    #[error("grant: {0}")]
    Reserved(String),
    /// The token library refused the request (400).
    #[error("{0}")]
    Token(#[from] token::TokenError),
    /// The verification failed, a limit was reached, or the issuer failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl Refusal {
    /// How `warrant_refusals_total` counts it; `None` for what is not a refusal of policy
    /// (bad input, a failed verification, a limit, a failure of ours), which is neither
    /// counted there nor recorded as a `refusal`.
    pub fn reason(&self) -> Option<RefusalReason> {
        match self {
            Self::AgentDisabled { .. } => Some(RefusalReason::AgentDisabled),
            Self::RoleNotHeld(_) | Self::NoRole => Some(RefusalReason::Role),
            Self::TtlTooLong { .. } => Some(RefusalReason::Ttl),
            Self::NoAllowRule
            | Self::RuleOutsideCeiling { .. }
            | Self::AudienceOutsideCeiling { .. }
            | Self::CeilingRefused { .. } => Some(RefusalReason::Ceiling),
            Self::RoleNotNamed
            | Self::Grant(_)
            | Self::Reserved(_)
            | Self::Token(_)
            | Self::Api(_) => None,
        }
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Api(e.into())
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Api(e) => e,
            r if r.reason().is_some() => Self::Forbidden(r.to_string()),
            r => Self::BadRequest(r.to_string()),
        }
    }
}

/// What the policy allows a verified human: the checks passed, the blocks to sign.
pub(crate) struct Authorized {
    pub(crate) role: String,
    /// The role's ceiling, with the lifetime: the authority block.
    pub(crate) ceiling: Grant,
    /// The request, without a lifetime: the block narrowing it.
    pub(crate) requested: Grant,
    pub(crate) ttl: Span,
}

/// A token signed for a proof that holds so far, before anything is written: handed out
/// only once its row and its audit entries are committed.
pub(crate) struct Prepared {
    pub(crate) minted: Minted,
    pub(crate) row: TokenRow,
    /// The `mint` audit entry's detail.
    pub(crate) detail: serde_json::Value,
}

impl crate::state::Failure for Refusal {
    fn is_ours(&self) -> bool {
        matches!(self, Self::Api(e) if crate::state::Failure::is_ours(e))
    }
}

impl AppState {
    /// Mints a token for `cmd` (see the module documentation). A refusal of policy is
    /// counted and recorded before it is returned.
    ///
    /// Everything that only reads or computes comes first, outside any transaction: the
    /// proof (crate::verify::check_proof), the policy, the key, and — when the proof
    /// holds so far — the token, signed. Then one transaction writes what the request
    /// decides: the client's verification count, the challenge consumed, the human's mint
    /// count, the token's row, its key's expiry note, the `verification` entry and the
    /// `mint` (or `refusal`) entry. It commits on every answer but a failure of ours,
    /// which rolls it all back ([`crate::state::finish`]); the token leaves only after the
    /// commit. The audit head is signed after it when due (every `audit_sign_every`
    /// entries), in a transaction of its own.
    pub async fn mint(&self, cmd: MintCommand) -> Result<Minted, Refusal> {
        let proof = check_proof(self, &cmd.human, &cmd.verification).await?;
        let prepared = match proof.holds() {
            Some((human, method, at)) => Some(
                self.prepare(
                    human,
                    cmd.requested,
                    cmd.role.as_deref(),
                    cmd.holder,
                    (method, at),
                    None,
                )
                .await,
            ),
            None => None,
        };
        let mut tx = self.store.begin().await?;
        let mut last = None;
        let result = self
            .mint_in(&mut tx, proof, prepared, &cmd.client, &mut last)
            .await;
        let result = crate::state::finish(tx, result).await;
        let committed = match &result {
            Ok(_) => true,
            Err(e) => !crate::state::Failure::is_ours(e),
        };
        if result.is_ok() {
            self.metrics.minted();
        }
        if let (true, Some(entry)) = (committed, last) {
            self.maybe_sign_head(&entry).await?;
        }
        result
    }

    /// The mint's writes, on `tx` (see [`Self::mint`]); `last` is the last audit entry
    /// appended.
    async fn mint_in(
        &self,
        tx: &mut Tx,
        proof: Proof,
        prepared: Option<Result<Prepared, Refusal>>,
        client: &str,
        last: &mut Option<AuditRow>,
    ) -> Result<Minted, Refusal> {
        let (verified, verification) = proof.settle(self, tx, client).await?;
        let human = verified.human.id;
        // Counted only once verified: a stranger cannot spend a human's mints.
        let outcome = match self
            .rate_limit(tx, "mint", &human, self.config.mints_per_minute)
            .await
        {
            Err(e) => Err(Refusal::Api(e)),
            Ok(()) => prepared.unwrap_or_else(|| {
                Err(Refusal::Api(ApiError::Internal(
                    "no token was prepared for a proof that held".into(),
                )))
            }),
        };
        if let Ok(p) = &outcome {
            Store::insert_token(tx, &p.row).await?;
            Store::note_expiry(tx, p.row.kid, p.row.expires_at).await?;
        }
        // The audit head's lock is taken last, so it is held for the fewest statements, and
        // the entries go in one batch, so it is taken once.
        let at = self.now().unix_i64();
        let verified = AuditEntry {
            at,
            kind: "verification",
            actor: &human,
            detail: &verification,
        };
        let refusal_detail = match &outcome {
            Ok(_) => None,
            Err(refusal) => refusal.reason().map(|reason| {
                self.metrics.refused(reason);
                json!({ "reason": refusal.to_string() })
            }),
        };
        let outcome_entry = match &outcome {
            // Stamped with the token's `issued_at`, as it always was.
            Ok(p) => Some(AuditEntry {
                at: p.row.issued_at,
                kind: "mint",
                actor: &human,
                detail: &p.detail,
            }),
            Err(_) => refusal_detail.as_ref().map(|detail| AuditEntry {
                at,
                kind: "refusal",
                actor: &human,
                detail,
            }),
        };
        *last = Some(Store::append_audits(tx, verified, outcome_entry.as_slice()).await?);
        outcome.map(|p| p.minted)
    }

    /// What the policy allows `human` (verified by `method` at `at`) and the token signed
    /// for it, computed before anything is written. With `approval` (an agent's request
    /// approved: its id, and the grant approved when the human narrowed it) the token
    /// carries a third block, the approved grant, and its audit detail names the request.
    pub(crate) async fn prepare(
        &self,
        human: &HumanRow,
        requested: Requested,
        role: Option<&str>,
        holder: Option<HolderPublicKey>,
        (method, at): (Method, Timestamp),
        approval: Option<(&str, Option<Grant>)>,
    ) -> Result<Prepared, Refusal> {
        let now = self.now();
        let authorized = self.authorize(human, requested, role, holder, now).await?;
        let keys = self.current_keys().await?;
        let key = &keys.ring.active;
        let request = MintRequest {
            grant: authorized.ceiling.clone(),
            human: Some(human.id.clone()),
            verification: Some(Verification { method, at }),
            human_attrs: vouched_attrs(human),
            holder,
            issuer: self.config.public_url.clone(),
        };
        let mut narrowing = vec![authorized.requested.clone()];
        let (request_id, approved) = match approval {
            Some((id, approved)) => (Some(id), approved),
            None => (None, None),
        };
        if let Some(mut a) = approved.clone() {
            // Its lifetime was fixed at approval: the ceiling's carries it.
            a.ttl = None;
            a.expires_at = None;
            narrowing.push(a);
        }
        let (minted, text) = sign_narrowed(key, request, narrowing, now)?;
        let kid = i64::from(key.key_id().map_or(0, |k| k.0));
        let row = TokenRow {
            token_id: minted.token_id.clone(),
            human: human.id.clone(),
            holder: holder.map(|h| h.to_string()),
            kid,
            issued_at: now.unix_i64(),
            expires_at: minted.expires_at.unix_i64(),
        };
        let detail = json!({
            "token_id": minted.token_id, "role": authorized.role, "kid": kid,
            "holder": row.holder,
            "issued_at": now.to_string(), "expires_at": minted.expires_at.to_string(),
            "ttl": authorized.ttl.to_string(),
            "verification": { "method": method.as_str(), "at": at.to_string() },
            "grant": authorized.requested.to_json(), "ceiling": authorized.ceiling.to_json(),
        });
        let mut detail = detail;
        if let (Some(id), Some(d)) = (request_id, detail.as_object_mut()) {
            d.insert("request".into(), json!(id));
            d.insert(
                "approved".into(),
                json!(approved.as_ref().map(Grant::to_json)),
            );
        }
        Ok(Prepared {
            minted: Minted {
                token: text,
                token_id: minted.token_id,
                expires_at: minted.expires_at,
            },
            row,
            detail,
        })
    }

    /// The policy: the holder, the role, the lifetime, the ceiling.
    pub(crate) async fn authorize(
        &self,
        human: &HumanRow,
        requested: Requested,
        role: Option<&str>,
        holder: Option<HolderPublicKey>,
        now: Timestamp,
    ) -> Result<Authorized, Refusal> {
        let Requested(mut requested) = requested;
        if let Some(h) = &holder {
            if let Some(agent) = self.store.agent_by_key(&h.to_string()).await? {
                if agent.disabled {
                    return Err(Refusal::AgentDisabled {
                        name: agent.name,
                        id: agent.id,
                    });
                }
            }
        }
        let role = choose_role(&human.roles, role)?;
        let stored = self
            .store
            .role(&role)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("role `{role}` is missing")))?;
        let mut ceiling = Grant::from_json_str(&stored.ceiling)
            .map_err(|e| ApiError::Internal(format!("stored ceiling: {e}")))?;
        let ttl = lifetime(&requested, &stored, self.config.max_ttl, now)?;
        within_ceiling(&requested, &ceiling, &role)?;
        let applies = if requested.audience.is_empty() {
            &ceiling.audience
        } else {
            &requested.audience
        };
        crate::reserved::reserved(&requested, applies).map_err(Refusal::Reserved)?;
        // A role stored before these checks existed is held to them too.
        crate::reserved::reserved(&ceiling, &ceiling.audience).map_err(|why| {
            Refusal::CeilingRefused {
                role: role.clone(),
                why,
            }
        })?;
        // The token carries both: the ceiling in the authority block, the request in a
        // second block. Every check of both must pass, so it grants their intersection.
        ceiling.ttl = Some(ttl);
        requested.ttl = None;
        requested.expires_at = None;
        Ok(Authorized {
            role,
            ceiling,
            requested,
            ttl,
        })
    }
}

/// The role to mint under: the one named, which the human must have, or their only one.
fn choose_role(roles: &[String], named: Option<&str>) -> Result<String, Refusal> {
    match (named, roles) {
        (Some(r), roles) if roles.iter().any(|h| h == r) => Ok(r.to_owned()),
        (Some(r), _) => Err(Refusal::RoleNotHeld(r.to_owned())),
        (None, [only]) => Ok(only.clone()),
        (None, []) => Err(Refusal::NoRole),
        (None, _) => Err(Refusal::RoleNotNamed),
    }
}

/// The token's lifetime: the one asked for (a `ttl`, or the time until `expires_at`),
/// refused past the role's `max_ttl` and the issuer's; by default [`DEFAULT_TTL`], cut to
/// that longest.
pub(crate) fn lifetime(
    requested: &Grant,
    role: &RoleRow,
    issuer_max: Span,
    now: Timestamp,
) -> Result<Span, Refusal> {
    let max = Span::from_seconds(u64::try_from(role.max_ttl).unwrap_or(0)).min(issuer_max);
    let ttl = match (requested.ttl, requested.expires_at) {
        (Some(t), _) => t,
        (None, Some(e)) => {
            Span::from_seconds(u64::try_from(e.seconds_since(now)).unwrap_or(0).max(1))
        }
        (None, None) => DEFAULT_TTL.min(max),
    };
    if ttl > max {
        return Err(Refusal::TtlTooLong {
            ttl,
            max,
            role: role.name.clone(),
        });
    }
    Ok(ttl)
}

/// Refuses a request the role's ceiling can never satisfy.
fn within_ceiling(requested: &Grant, ceiling: &Grant, role: &str) -> Result<(), Refusal> {
    if requested.allow.is_empty() {
        return Err(Refusal::NoAllowRule);
    }
    for (index, rule) in requested.allow.iter().enumerate() {
        let fits = ceiling.allow.iter().any(|c| {
            c.actions.overlaps(&rule.actions)
                && c.resources
                    .iter()
                    .any(|cp| rule.resources.iter().any(|rp| cp.overlaps(rp)))
        });
        if !fits {
            return Err(Refusal::RuleOutsideCeiling {
                index,
                actions: match &rule.actions {
                    Actions::Any => "*".to_owned(),
                    Actions::Listed(l) => {
                        l.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(",")
                    }
                },
                resources: rule
                    .resources
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                role: role.to_owned(),
            });
        }
    }
    if !ceiling.audience.is_empty() {
        if let Some(a) = requested
            .audience
            .iter()
            .find(|a| !ceiling.audience.contains(a))
        {
            return Err(Refusal::AudienceOutsideCeiling {
                audience: a.to_string(),
                role: role.to_owned(),
            });
        }
    }
    Ok(())
}

/// The human's stored attributes the token can carry (the others are skipped).
fn vouched_attrs(human: &HumanRow) -> BTreeMap<AttrName, Value> {
    human
        .attrs
        .iter()
        .filter_map(|(k, v)| Some((k.parse::<AttrName>().ok()?, Value::from_json(v).ok()?)))
        .collect()
}

/// Mints `request` (the ceiling) with `key`, narrowed by a block per grant of `narrowing`:
/// the token's facts and its base64 text.
fn sign_narrowed(
    key: &SigningKey,
    request: MintRequest,
    narrowing: Vec<Grant>,
    now: Timestamp,
) -> Result<(token::Minted, String), Refusal> {
    let minted = token::mint_narrowed_by(key, request, narrowing, now, &mut OsRng)?;
    let text = minted
        .token
        .to_base64()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((minted, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(json: serde_json::Value) -> Grant {
        Grant::from_json(&json).unwrap()
    }

    #[test]
    fn the_metric_label_comes_from_the_refusal_not_its_text() {
        // A resource whose name holds "ttl" is refused for the ceiling, not the lifetime.
        let ceiling = grant(json!({ "allow": [{ "resources": ["docs/*"], "actions": ["read"] }] }));
        let requested =
            grant(json!({ "allow": [{ "resources": ["settlements/1"], "actions": ["read"] }] }));
        let refusal = within_ceiling(&requested, &ceiling, "role-with-ttl").unwrap_err();
        assert_eq!(refusal.reason(), Some(RefusalReason::Ceiling));
        assert_eq!(
            refusal.to_string(),
            "allow[0] (`read` on `settlements/1`) is outside the ceiling of role `role-with-ttl`"
        );
        assert!(matches!(
            ApiError::from(refusal),
            ApiError::Forbidden(m) if m.starts_with("allow[0]")
        ));
        assert_eq!(
            choose_role(&["a".into(), "b".into()], None)
                .unwrap_err()
                .reason(),
            None
        );
        assert!(matches!(
            ApiError::from(Refusal::RoleNotNamed),
            ApiError::BadRequest(m) if m == "the human has several roles: name one in `role`"
        ));
    }

    #[test]
    fn roles_are_chosen_or_refused() {
        let roles = ["reader".to_owned()];
        assert_eq!(choose_role(&roles, None).unwrap(), "reader");
        assert_eq!(choose_role(&roles, Some("reader")).unwrap(), "reader");
        let e = choose_role(&roles, Some("admin")).unwrap_err();
        assert_eq!(
            (e.reason(), e.to_string()),
            (
                Some(RefusalReason::Role),
                "the human does not have role `admin`".to_owned()
            )
        );
        assert!(matches!(choose_role(&[], None), Err(Refusal::NoRole)));
    }

    #[test]
    fn the_default_lifetime_is_cut_to_the_role_s_and_a_longer_one_refused() {
        let now = Timestamp::from_unix(1_000_000);
        let role = RoleRow {
            name: "reader".into(),
            ceiling: String::new(),
            max_ttl: 300,
        };
        let any = Span::from_seconds(3600);
        let open = grant(json!({ "allow": [{ "resources": ["a"], "actions": ["read"] }] }));
        assert_eq!(
            lifetime(&open, &role, any, now).unwrap(),
            Span::from_seconds(300)
        );
        let long =
            grant(json!({ "allow": [{ "resources": ["a"], "actions": ["read"] }], "ttl": "10m" }));
        let e = lifetime(&long, &role, any, now).unwrap_err();
        assert_eq!(e.reason(), Some(RefusalReason::Ttl));
        assert_eq!(
            e.to_string(),
            "a ttl of 10m is longer than the 5m role `reader` allows"
        );
    }
}
