//! Capability requests: an agent asks, its human approves (and may narrow) or denies, the
//! agent collects a token bound to its key.
//!
//! - `POST /v1/requests` ([`AppState::create_request`]): a registered, enabled agent,
//!   proving with a DPoP proof that it holds its key, asks `human` for `grant`, saying
//!   why. A grant the human's role can never delegate is refused at once, in the words of
//!   a refused mint; nothing is stored then. The request is pending for `request_ttl`.
//! - `POST /v1/requests/{id}/approve` and `/deny` ([`AppState::decide_request`]): the
//!   human asked, verified in the request as for a mint, decides once. An approval may
//!   narrow the grant ([`warrant_core::grant::Grant::narrows`]); it fixes the token's
//!   expiry and records how and when the human was verified.
//! - `GET /v1/requests/{id}` ([`AppState::poll_request`]): the agent, with a fresh proof
//!   by the same key, learns it is pending (`202`, `Retry-After`), denied (`403`) or
//!   ended (`410`), or collects the token once. The token is minted then, not stored
//!   before: its authority block is the role's ceiling as it is now, then a block of the
//!   request, then (when narrowed) a block of what was approved, so it allows only what
//!   all three allow; it is bound to the agent's key and records the approving human's
//!   verification. It leaves only after its row, the request's collection and its `mint`
//!   entry are committed together.
//!
//! A leaked request id or approve URL is worth nothing: collecting needs a proof by the
//! agent's key (a request of another agent reads as unknown), deciding needs the human.
//! Proofs are single use across replicas (their `jti` is stored until their window
//! closes).

use serde_json::json;
use warrant_core::dpop::{self, HolderKey, DEFAULT_PROOF_WINDOW};
use warrant_core::grant::{Grant, Method};
use warrant_core::keys::HolderPublicKey;
use warrant_core::time::Timestamp;

use crate::api;
use crate::error::ApiError;
use crate::mint::{Refusal, Requested};
use crate::secrets::{is_hex, random_hex};
use crate::state::AppState;
use crate::store::{AgentRow, Approval, AuditEntry, RequestRow, Store, Tx};

/// What `Retry-After` says while a request is pending.
pub(crate) const RETRY_AFTER_SECONDS: u64 = 2;

/// How often one agent may poll, across its requests (`Retry-After` asks for half that).
pub(crate) const POLLS_PER_MINUTE: i64 = 60;

/// The longest `reason`, in characters.
pub(crate) const MAX_REASON_CHARS: usize = 500;

/// What an agent's poll found.
#[derive(Debug)]
pub enum Polled {
    /// Not decided yet.
    Pending(api::RequestState),
    /// Approved: the token, collected now.
    Collected(api::RequestState),
}

/// A human's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Approve (as asked, or narrowed).
    Approve,
    /// Deny.
    Deny,
}

impl Verdict {
    /// `approve` or `deny`.
    fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }
}

/// A decision read before any proof: the request, the grant asked and the grant approved
/// (when narrowed, not checked yet: [`AppState::check_approval`]), and the digest a
/// passkey's assertion must be for.
struct Planned {
    row: RequestRow,
    asked: Grant,
    approved: Option<Grant>,
    purpose: String,
}

/// A stored time (Unix seconds).
pub(crate) fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix(u64::try_from(seconds).unwrap_or(0))
}

/// Refuses a reason nobody could read (400), before anything is read or written.
fn check_reason(reason: &str) -> Result<(), ApiError> {
    let n = reason.chars().count();
    let unreadable = |c: char| c.is_control() || warrant_core::inspect::is_invisible(c);
    if reason.trim().is_empty() || n > MAX_REASON_CHARS || reason.chars().any(unreadable) {
        return Err(ApiError::BadRequest(format!(
            "`reason` must be 1 to {MAX_REASON_CHARS} printable characters, on one line, with no invisible ones"
        )));
    }
    Ok(())
}

/// A request id as the routes take it: 32 hex digits, or a 404 that names it.
fn check_id(id: &str) -> Result<(), ApiError> {
    if !is_hex(id, 32) {
        return Err(unknown(id));
    }
    Ok(())
}

fn unknown(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no capability request `{}` for this agent",
        id.escape_debug()
    ))
}

impl AppState {
    /// The URL a request's proofs sign (`htu`): the public URL and `path`.
    fn htu(&self, path: &str) -> String {
        format!("{}{path}", self.config.public_url.trim_end_matches('/'))
    }

    /// The agent whose DPoP proof `proof` signs `method` on `path`: registered, enabled,
    /// the proof fresh and never used before (its `jti` recorded on `tx`). A 401 with a
    /// `DPoP` challenge otherwise; a disabled agent is a 403.
    async fn agent_proof(
        &self,
        tx: &mut Tx,
        proof: Option<&str>,
        method: &str,
        path: &str,
    ) -> Result<AgentRow, ApiError> {
        let refused = |why: String| ApiError::ProofRefused(why);
        let proof = proof.ok_or_else(|| {
            refused(
                "this request needs a DPoP proof by the agent's key in the `DPoP` header".into(),
            )
        })?;
        let signed = dpop::parse_proof(proof).map_err(|e| refused(e.to_string()))?;
        let now = self.now();
        // Every other check of the proof, with the key it was signed by: no access token
        // is presented, so its `ath` must be that of the empty token.
        let checked = dpop::check_proof(
            proof,
            &dpop::Expected {
                holder: &HolderKey::new(signed.key),
                method,
                url: &self.htu(path),
                token: "",
                now,
                window: DEFAULT_PROOF_WINDOW,
            },
        )
        .map_err(|e| refused(e.to_string()))?;
        let agent = self
            .store
            .agent_by_key(&checked.key.to_string())
            .await?
            .ok_or_else(|| {
                refused(format!(
                    "the DPoP proof's key `{}` is not a registered agent's: register it with `POST /v1/agents`",
                    checked.key
                ))
            })?;
        if agent.disabled {
            return Err(ApiError::Forbidden(format!(
                "agent `{}` ({}) is disabled",
                agent.name, agent.id
            )));
        }
        let until = checked.iat.plus(DEFAULT_PROOF_WINDOW).unix_i64();
        if !Store::use_proof(tx, &format!("{}:{}", agent.id, checked.jti), until).await? {
            return Err(refused(
                "this DPoP proof was used before: sign a new one for every request".into(),
            ));
        }
        Ok(agent)
    }

    /// `POST /v1/requests` (see the module documentation).
    pub async fn create_request(
        &self,
        proof: Option<&str>,
        body: api::CapabilityRequest,
    ) -> Result<api::RequestCreated, ApiError> {
        // The input's shape first: a bad one stores nothing.
        crate::verify::check_human_id(&body.human)?;
        check_reason(&body.reason)?;
        let requested = Requested::parse(&body.grant)?;
        let mut tx = self.store.begin().await?;
        let made = async {
            let agent = self
                .agent_proof(&mut tx, proof, "POST", "/v1/requests")
                .await?;
            self.rate_limit(
                &mut tx,
                "capability request",
                &agent.id,
                self.config.requests_per_minute,
            )
            .await?;
            let human = self.store.human(&body.human).await?.ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no human `{}`: ask a human the issuer knows",
                    body.human.escape_debug()
                ))
            })?;
            let key: HolderPublicKey = agent
                .public_key
                .parse()
                .map_err(|e| ApiError::Internal(format!("stored agent key: {e}")))?;
            let now = self.now();
            // Refused now if no approval could ever mint it: the words of a refused mint.
            let authorized = self
                .authorize(
                    &human,
                    requested.clone(),
                    body.role.as_deref(),
                    Some(key),
                    now,
                )
                .await
                .map_err(ApiError::from)?;
            let row = RequestRow {
                id: random_hex(16),
                agent_id: agent.id.clone(),
                agent_key: agent.public_key.clone(),
                human_id: human.id.clone(),
                role: authorized.role,
                grant_json: requested.0.to_json().to_string(),
                reason: body.reason.clone(),
                created_at: now.unix_i64(),
                expires_at: now.plus(self.config.request_ttl).unix_i64(),
                status: "pending".into(),
                approved_json: None,
                method: None,
                verified_at: None,
                token_expires_at: None,
                decided_at: None,
                token_id: None,
            };
            Store::insert_request(&mut tx, &row).await?;
            let description = warrant_core::inspect::describe(&requested.0);
            let detail = json!({
                "request": row.id, "agent": agent.id, "agent_name": agent.name,
                "human": row.human_id, "role": row.role, "reason": row.reason,
                "grant": requested.0.to_json(), "description": description,
                "expires_at": at(row.expires_at).to_string(),
            });
            let actor = format!("agent:{}", agent.id);
            let entry =
                Store::append_audit(&mut tx, row.created_at, "request", &actor, &detail).await?;
            Ok::<_, ApiError>((row, description, entry))
        }
        .await;
        let (row, description, entry) = crate::state::finish(tx, made).await?;
        self.maybe_sign_head(&entry).await?;
        Ok(api::RequestCreated {
            approve_url: self.htu(&format!("/approve/{}", row.id)),
            expires_at: at(row.expires_at).to_string(),
            id: row.id,
            description,
        })
    }

    /// `POST /v1/requests/{id}/approve` or `/deny` by the human asked, from `client` (see
    /// the module documentation).
    pub async fn decide_request(
        &self,
        client: &str,
        id: &str,
        verdict: Verdict,
        body: api::Decision,
    ) -> Result<api::Decided, ApiError> {
        let planned = self
            .plan_decision(id, verdict, &body.human, body.grant.as_ref())
            .await?;
        let proof = crate::verify::check_proof_for(
            self,
            &body.human,
            &body.verification,
            Some(&planned.purpose),
        )
        .await?;
        let how = proof.holds().map(|(_, method, at)| (method, at));
        let expires = match (verdict, &how) {
            (Verdict::Approve, Some(_)) => Some(self.check_approval(&planned).await?),
            _ => None,
        };
        let Planned {
            row,
            asked,
            approved,
            ..
        } = planned;
        let mut tx = self.store.begin().await?;
        let decided = async {
            let (verified, verification) = proof.settle(self, &mut tx, client).await?;
            let (method, at) =
                how.ok_or_else(|| ApiError::Internal("a settled proof did not hold".into()))?;
            let now = self.now();
            let actor = verified.human.id.clone();
            let (kind, status, expires) = match verdict {
                Verdict::Deny => {
                    if !Store::deny_request(&mut tx, id, now.unix_i64()).await? {
                        return Err(self.decided_already(id, now).await);
                    }
                    ("request_denied", "denied", None)
                }
                Verdict::Approve => {
                    let expires = expires.ok_or_else(|| {
                        ApiError::Internal("an approval without its expiry".into())
                    })?;
                    let approved_json = approved.as_ref().map(|g| g.to_json().to_string());
                    let approval = Approval {
                        approved_json: approved_json.as_deref(),
                        method: method.as_str(),
                        verified_at: at.unix_i64(),
                        token_expires_at: expires.unix_i64(),
                    };
                    if !Store::approve_request(&mut tx, id, &approval, now.unix_i64()).await? {
                        return Err(self.decided_already(id, now).await);
                    }
                    ("request_approved", "approved", Some(expires))
                }
            };
            let detail = json!({
                "request": id, "agent": row.agent_id, "verification": method.as_str(),
                "narrowed": approved.as_ref().map(Grant::to_json),
                "description": warrant_core::inspect::describe(approved.as_ref().unwrap_or(&asked)),
                "token_expires_at": expires.map(|e| e.to_string()),
            });
            let entry = record(&mut tx, now, &actor, &verification, (kind, &detail)).await?;
            Ok::<_, ApiError>((status, expires, entry))
        }
        .await;
        let (status, expires, entry) = crate::state::finish(tx, decided).await?;
        self.maybe_sign_head(&entry).await?;
        Ok(api::Decided {
            id: id.to_owned(),
            status: status.to_owned(),
            description: warrant_core::inspect::describe(approved.as_ref().unwrap_or(&asked)),
            token_expires_at: expires.map(|e| e.to_string()),
        })
    }

    /// What deciding request `id` by `human` would do (see [`Planned`]), read before any
    /// proof is: the request exists and asks `human`, and a narrowed `grant` is a grant
    /// (none on a denial).
    async fn plan_decision(
        &self,
        id: &str,
        verdict: Verdict,
        human: &str,
        grant: Option<&serde_json::Value>,
    ) -> Result<Planned, ApiError> {
        check_id(id)?;
        let row = self.store.request(id).await?.ok_or_else(|| unknown(id))?;
        let asked = Grant::from_json_str(&row.grant_json)
            .map_err(|e| ApiError::Internal(format!("stored request grant: {e}")))?;
        // The request's human is no secret to whoever holds its id.
        if human != row.human_id {
            return Err(ApiError::Forbidden(format!(
                "this request asks `{}`, not `{}`",
                row.human_id,
                human.escape_debug()
            )));
        }
        // Read only: whether it narrows the request is checked once the proof holds, so
        // nobody learns the request's limits from a refusal without being its human.
        let approved = match (grant, verdict) {
            (None, _) => None,
            (Some(_), Verdict::Deny) => {
                return Err(ApiError::BadRequest(
                    "a denial takes no `grant`: leave it out".into(),
                ))
            }
            (Some(g), Verdict::Approve) => Some(Requested::parse(g)?.0),
        };
        let canonical = approved.as_ref().map(|g| g.to_json().to_string());
        let purpose = crate::passkeys::decision_purpose(id, verdict.as_str(), canonical.as_deref());
        Ok(Planned {
            row,
            asked,
            approved,
            purpose,
        })
    }

    /// What only the request's human may learn, checked once their proof holds (and before
    /// anything is written, so a refused approval uses up nothing): the approved grant only
    /// narrows the request, and its lifetime is no longer than asked. The token's expiry.
    async fn check_approval(&self, p: &Planned) -> Result<Timestamp, ApiError> {
        if let Some(g) = &p.approved {
            g.narrows(&p.asked)
                .map_err(|e| ApiError::BadRequest(format!("grant: {e}")))?;
        }
        self.approved_expiry(&p.row, &p.asked, p.approved.as_ref(), self.now())
            .await
    }

    /// `GET /v1/requests/{id}/human`: whom request `id` asks (no secret to whoever holds
    /// its id: its approve page shows it before anyone signs in).
    pub async fn request_human(&self, id: &str) -> Result<String, ApiError> {
        check_id(id)?;
        let unknown =
            || ApiError::NotFound(format!("no capability request `{}`", id.escape_debug()));
        Ok(self.store.request(id).await?.ok_or_else(unknown)?.human_id)
    }

    /// `POST /v1/requests/{id}/passkey`: a challenge for the human's passkey, bound to
    /// exactly this decision (the verdict, and the narrowed grant when approving).
    pub async fn passkey_challenge(
        &self,
        client: &str,
        id: &str,
        body: api::PasskeyDecision,
    ) -> Result<api::PasskeyChallenge, ApiError> {
        let verdict = match body.verdict.as_str() {
            "approve" => Verdict::Approve,
            "deny" => Verdict::Deny,
            other => {
                return Err(ApiError::BadRequest(format!(
                    "`verdict` is `{}`: expected `approve` or `deny`",
                    other.escape_debug()
                )))
            }
        };
        let planned = self
            .plan_decision(id, verdict, &body.human, body.grant.as_ref())
            .await?;
        let now = self.now();
        if planned.row.status != "pending" || planned.row.expires_at < now.unix_i64() {
            return Err(self.decided_already(id, now).await);
        }
        self.start_assertion(client, &body.human, &planned.purpose)
            .await
    }

    /// Why request `id` could not be decided at `now`: decided before, or ended.
    async fn decided_already(&self, id: &str, now: Timestamp) -> ApiError {
        match self.store.request(id).await {
            Err(e) => e.into(),
            Ok(None) => unknown(id),
            Ok(Some(r)) => match r.status.as_str() {
                "pending" => ApiError::Gone(format!(
                    "this request expired at {}: the agent must ask again",
                    at(r.expires_at)
                )),
                "denied" => ApiError::Conflict("this request was denied already".into()),
                _ if r.expires_at < now.unix_i64() && r.status == "approved" => {
                    ApiError::Gone("this request was approved, and has ended since".into())
                }
                _ => ApiError::Conflict("this request was approved already".into()),
            },
        }
    }

    /// The lifetime request `row` asks for (`asked`): its own, or the default, within its
    /// role's and the issuer's longest.
    pub(crate) async fn asked_ttl(
        &self,
        row: &RequestRow,
        asked: &Grant,
        now: Timestamp,
    ) -> Result<warrant_core::time::Span, ApiError> {
        let role = self
            .store
            .role(&row.role)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("role `{}` is missing", row.role)))?;
        self.lifetime_of(&role, asked, now)
    }

    fn lifetime_of(
        &self,
        role: &crate::store::RoleRow,
        grant: &Grant,
        now: Timestamp,
    ) -> Result<warrant_core::time::Span, ApiError> {
        crate::mint::lifetime(grant, role, self.config.max_ttl, now).map_err(ApiError::from)
    }

    /// When the token of an approval expires: the lifetime asked for, or approved when
    /// shorter, from now, within the role's and the issuer's longest.
    async fn approved_expiry(
        &self,
        row: &RequestRow,
        asked: &Grant,
        approved: Option<&Grant>,
        now: Timestamp,
    ) -> Result<Timestamp, ApiError> {
        let role = self
            .store
            .role(&row.role)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("role `{}` is missing", row.role)))?;
        let asked_ttl = self.lifetime_of(&role, asked, now)?;
        let ttl = match approved {
            Some(a) if a.ttl.is_some() || a.expires_at.is_some() => {
                let t = crate::mint::lifetime(a, &role, self.config.max_ttl, now)
                    .map_err(ApiError::from)?;
                if t > asked_ttl {
                    return Err(ApiError::BadRequest(format!(
                        "grant: a lifetime of {t} is longer than the {asked_ttl} the request asks"
                    )));
                }
                t
            }
            _ => asked_ttl,
        };
        Ok(now.plus(ttl))
    }

    /// `GET /v1/requests/{id}` by the agent that made it (see the module documentation).
    pub async fn poll_request(&self, proof: Option<&str>, id: &str) -> Result<Polled, ApiError> {
        check_id(id)?;
        let path = format!("/v1/requests/{id}");
        // The proof is checked (and used up) in a transaction of its own: a collection
        // that fails later must not make the agent's proof reusable.
        let mut tx = self.store.begin().await?;
        let agent = async {
            let agent = self.agent_proof(&mut tx, proof, "GET", &path).await?;
            self.rate_limit(&mut tx, "poll", &agent.id, POLLS_PER_MINUTE)
                .await?;
            Ok::<_, ApiError>(agent)
        }
        .await;
        let agent = crate::state::finish(tx, agent).await?;
        let row = self
            .store
            .request(id)
            .await?
            .filter(|r| r.agent_key == agent.public_key)
            .ok_or_else(|| unknown(id))?;
        let now = self.now();
        let state = |status: &str, token| api::RequestState {
            id: id.to_owned(),
            status: status.to_owned(),
            expires_at: at(row.expires_at).to_string(),
            token,
        };
        match row.status.as_str() {
            "pending" if row.expires_at >= now.unix_i64() => {
                Ok(Polled::Pending(state("pending", None)))
            }
            "approved" if row.expires_at >= now.unix_i64() => {
                let minted = self.collect(&row, now).await?;
                Ok(Polled::Collected(state("approved", Some(minted))))
            }
            _ => Err(not_pending(&row, now)),
        }
    }

    /// Mints the token of an approved request and records its collection, once.
    async fn collect(
        &self,
        row: &RequestRow,
        now: Timestamp,
    ) -> Result<api::MintedToken, ApiError> {
        let internal = |what: &str, e: &dyn std::fmt::Display| {
            ApiError::Internal(format!("stored request {what}: {e}"))
        };
        let human =
            self.store.human(&row.human_id).await?.ok_or_else(|| {
                ApiError::Gone(format!("human `{}` no longer exists", row.human_id))
            })?;
        let mut asked = Grant::from_json_str(&row.grant_json).map_err(|e| internal("grant", &e))?;
        let approved = row
            .approved_json
            .as_deref()
            .map(Grant::from_json_str)
            .transpose()
            .map_err(|e| internal("approved grant", &e))?;
        let (Some(method), Some(verified_at), Some(expires)) =
            (row.method.as_deref(), row.verified_at, row.token_expires_at)
        else {
            return Err(ApiError::Internal(format!(
                "request `{}` is approved without its approval",
                row.id
            )));
        };
        let method = Method::parse(method).ok_or_else(|| internal("method", &method))?;
        if expires <= now.unix_i64() {
            return Err(ApiError::Gone(
                "the approved token's lifetime has passed: ask again".into(),
            ));
        }
        // The lifetime was fixed at approval.
        asked.ttl = None;
        asked.expires_at = Some(at(expires));
        let key: HolderPublicKey = row
            .agent_key
            .parse()
            .map_err(|e| internal("agent key", &e))?;
        let prepared = self
            .prepare(
                &human,
                Requested(asked),
                Some(&row.role),
                Some(key),
                (method, at(verified_at)),
                Some((&row.id, approved)),
            )
            .await
            .map_err(refused_now)?;
        let mut tx = self.store.begin().await?;
        let collected = async {
            self.rate_limit(&mut tx, "mint", &human.id, self.config.mints_per_minute)
                .await?;
            if !Store::collect_request(&mut tx, &row.id, &prepared.minted.token_id, now.unix_i64())
                .await?
            {
                return Err(ApiError::Gone(
                    "the token of this request was collected already".into(),
                ));
            }
            Store::insert_token(&mut tx, &prepared.row).await?;
            Store::note_expiry(&mut tx, prepared.row.kid, prepared.row.expires_at).await?;
            let entry = Store::append_audit(
                &mut tx,
                prepared.row.issued_at,
                "mint",
                &human.id,
                &prepared.detail,
            )
            .await?;
            Ok::<_, ApiError>(entry)
        }
        .await;
        let entry = crate::state::finish(tx, collected).await?;
        self.metrics.minted();
        self.maybe_sign_head(&entry).await?;
        Ok(api::MintedToken {
            token: prepared.minted.token,
            token_id: prepared.minted.token_id,
            expires_at: prepared.minted.expires_at.to_string(),
        })
    }
}

/// Appends the human's `verification` entry and the decision's (`kind`, `detail`), by
/// `actor` at `now`, on `tx`: the last entry.
async fn record(
    tx: &mut Tx,
    now: Timestamp,
    actor: &str,
    verification: &serde_json::Value,
    (kind, detail): (&str, &serde_json::Value),
) -> Result<crate::audit::AuditRow, ApiError> {
    let at = now.unix_i64();
    let entries = [AuditEntry {
        at,
        kind,
        actor,
        detail,
    }];
    let verified = AuditEntry {
        at,
        kind: "verification",
        actor,
        detail: verification,
    };
    Ok(Store::append_audits(tx, verified, &entries).await?)
}

/// A refusal at collection: the role or the agent changed since the request was made.
fn refused_now(r: Refusal) -> ApiError {
    match r {
        Refusal::Api(e) => e,
        r if r.reason().is_some() => {
            ApiError::Forbidden(format!("the approved request can no longer be minted: {r}"))
        }
        r => ApiError::BadRequest(r.to_string()),
    }
}

/// Why a request is not pending (or approved and collectable) at `now`.
fn not_pending(row: &RequestRow, now: Timestamp) -> ApiError {
    let ended = at(row.expires_at);
    match row.status.as_str() {
        "denied" => ApiError::Forbidden(format!("`{}` denied this request", row.human_id)),
        "collected" => ApiError::Gone("the token of this request was collected already".into()),
        "approved" if row.expires_at < now.unix_i64() => ApiError::Gone(format!(
            "this request was approved but not collected before {ended}: ask again"
        )),
        "approved" => ApiError::Conflict("this request was approved already".into()),
        _ => ApiError::Gone(format!("this request expired at {ended}: ask again")),
    }
}
