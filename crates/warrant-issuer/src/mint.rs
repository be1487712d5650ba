//! Minting (`POST /v1/tokens`): the one path from a human's request to a token.
//!
//! [`AppState::mint`] verifies the human (crate::verify), counts the mint against their
//! `mints_per_minute`, refuses a holder key of a disabled agent, chooses the role, holds
//! the lifetime to the role's `max_ttl` (and the issuer's), checks the grant against the
//! role's ceiling, signs, and returns the token only after the token's row and its `mint`
//! audit entry are committed in one transaction. A request the policy refuses is a
//! [`Refusal`] that says why; those that are refusals of policy (403) are counted in
//! `warrant_refusals_total` by their [`RefusalReason`] and recorded in the audit log.
//! `Refusal` becomes an [`ApiError`] in one place (`From<Refusal> for ApiError`).

use std::collections::BTreeMap;

use rand_core::OsRng;
use serde_json::json;
use warrant_core::grant::{Actions, Grant, GrantError};
use warrant_core::keys::{PublicKey, SigningKey};
use warrant_core::time::{Span, Timestamp};
use warrant_core::token::{self, MintRequest, Verification, DEFAULT_TTL};
use warrant_core::value::{AttrName, Value};

use crate::api;
use crate::audit::AuditRow;
use crate::error::ApiError;
use crate::metrics::RefusalReason;
use crate::state::AppState;
use crate::store::{HumanRow, RoleRow, Store, TokenRow};
use crate::verify::{verify_human, Verified};

/// A grant as a request may ask for it: valid, and not naming the issuer's own audience.
#[derive(Debug, Clone)]
pub struct Requested(Grant);

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
    pub holder: Option<PublicKey>,
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
struct Authorized {
    role: String,
    /// The role's ceiling, with the lifetime: the authority block.
    ceiling: Grant,
    /// The request, without a lifetime: the block narrowing it.
    requested: Grant,
    ttl: Span,
}

impl AppState {
    /// Mints a token for `cmd` (see the module documentation). A refusal of policy is
    /// counted and recorded before it is returned.
    pub async fn mint(&self, cmd: MintCommand) -> Result<Minted, Refusal> {
        let Verified { human, method, at } =
            verify_human(self, &cmd.client, &cmd.human, &cmd.verification).await?;
        // Counted only once verified: a stranger cannot spend a human's mints.
        self.rate_limit("mint", &human.id, self.config.mints_per_minute)
            .await?;
        let now = self.now();
        let authorized = match self
            .authorize(&human, cmd.requested, cmd.role.as_deref(), cmd.holder, now)
            .await
        {
            Ok(a) => a,
            Err(refusal) => return Err(self.refused(&human.id, refusal).await),
        };
        let keys = self.current_keys().await?;
        let key = &keys.ring.active;
        let request = MintRequest {
            grant: authorized.ceiling.clone(),
            human: Some(human.id.clone()),
            verification: Some(Verification { method, at }),
            human_attrs: vouched_attrs(&human),
            holder: cmd.holder,
            issuer: self.config.public_url.clone(),
        };
        let (minted, text) = sign_narrowed(key, request, authorized.requested.clone(), now)?;
        let kid = i64::from(key.key_id().map_or(0, |k| k.0));
        let row = TokenRow {
            token_id: minted.token_id.clone(),
            human: human.id.clone(),
            holder: cmd.holder.map(|h| h.to_string()),
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
        // The token leaves only after its audit entry is committed.
        let entry = self.record_mint(&row, &detail).await?;
        self.store.note_expiry(kid, row.expires_at).await?;
        self.metrics.minted();
        self.maybe_sign_head(&entry).await?;
        Ok(Minted {
            token: text,
            token_id: minted.token_id,
            expires_at: minted.expires_at,
        })
    }

    /// Counts and records a refusal of policy; the refusal, or the failure to record it.
    async fn refused(&self, human: &str, refusal: Refusal) -> Refusal {
        let Some(reason) = refusal.reason() else {
            return refusal;
        };
        self.metrics.refused(reason);
        let detail = json!({ "reason": refusal.to_string() });
        match self.audit("refusal", human, detail).await {
            Ok(()) => refusal,
            Err(e) => Refusal::Api(e),
        }
    }

    /// The policy: the holder, the role, the lifetime, the ceiling.
    async fn authorize(
        &self,
        human: &HumanRow,
        requested: Requested,
        role: Option<&str>,
        holder: Option<PublicKey>,
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

    /// Records a minted token and its `mint` audit entry in one transaction; the entry.
    async fn record_mint(
        &self,
        row: &TokenRow,
        detail: &serde_json::Value,
    ) -> Result<AuditRow, Refusal> {
        let mut tx = self.store.begin().await?;
        Store::insert_token(&mut tx, row).await?;
        let entry = Store::append_audit(&mut tx, row.issued_at, "mint", &row.human, detail).await?;
        tx.commit()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(entry)
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
fn lifetime(
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

/// Mints `request` (the ceiling) with `key`, narrowed by a second block of `requested`:
/// the token's facts and its base64 text.
fn sign_narrowed(
    key: &SigningKey,
    request: MintRequest,
    requested: Grant,
    now: Timestamp,
) -> Result<(token::Minted, String), Refusal> {
    let minted = token::mint_narrowed(key, request, requested, now, &mut OsRng)?;
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
