//! The consent page's decision (see the module documentation of [`crate::oauth`]): the
//! human signed in approves (and may narrow) or denies with a passkey bound to that one
//! decision; a remembered consent is approved at once while its human is signed in.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use warrant_core::grant::{Grant, Method};
use warrant_core::time::{Span, Timestamp};

use super::authorize::redirect_with;
use crate::api::Verification;
use crate::config::oauth::defaults;
use crate::error::ApiError;
use crate::mint::{Refusal, Requested};
use crate::requests::Verdict;
use crate::secrets::{is_hex, random_hex, sha256_hex};
use crate::state::AppState;
use crate::store::{Approved, AuditEntry, AuthorizationRow, ConsentRow, HumanRow, Store};

/// `POST /oauth/consent/{id}/passkey`: a passkey challenge bound to one decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChallenge {
    /// The human deciding (signed in).
    pub human: String,
    /// `approve` or `deny`.
    pub verdict: String,
    /// To approve less than was asked: exactly the grant the approval will send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub grant: Option<serde_json::Value>,
    /// Whether to remember the consent for this client, resource and grant.
    #[serde(default)]
    pub remember: bool,
}

/// `POST /oauth/consent/{id}/approve` or `/deny`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentDecision {
    /// The human deciding.
    pub human: String,
    /// Their passkey's answer to the decision's challenge.
    pub verification: Verification,
    /// To approve less than was asked (as in the challenge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub grant: Option<serde_json::Value>,
    /// Whether to remember the consent (as in the challenge).
    #[serde(default)]
    pub remember: bool,
}

/// A consent decided: where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsentDecided {
    /// `approved` or `denied`.
    pub status: String,
    /// The client's redirect URI with the code (or `error=access_denied`), `state` and
    /// `iss`.
    pub redirect_to: String,
    /// What was approved, in words.
    pub description: String,
}

/// What a decision's passkey assertion is for: one consent, one verdict, exactly this
/// narrowed grant, remembered or not.
fn consent_purpose(id: &str, verdict: Verdict, grant: Option<&str>, remember: bool) -> String {
    let verdict = match verdict {
        Verdict::Approve => "approve",
        Verdict::Deny => "deny",
    };
    sha256_hex(
        &json!({ "oauth_consent": id, "verdict": verdict, "grant": grant, "remember": remember })
            .to_string(),
    )
}

impl AppState {
    /// The pending authorization `id`, or why it cannot be decided.
    pub(crate) async fn pending_authorization(
        &self,
        id: &str,
    ) -> Result<AuthorizationRow, ApiError> {
        let unknown =
            || ApiError::NotFound("no such authorization: start again from the client".into());
        if !is_hex(id, 32) {
            return Err(unknown());
        }
        let row = self.store.authorization(id).await?.ok_or_else(unknown)?;
        if row.status != "pending" {
            return Err(ApiError::Conflict(format!(
                "this authorization is {} already",
                row.status
            )));
        }
        if row.expires_at < self.now().unix_i64() {
            return Err(ApiError::Gone(
                "this authorization has expired: start again from the client".into(),
            ));
        }
        Ok(row)
    }

    /// The role of `human` whose ceiling admits `grant` (the first that does), or why none
    /// does.
    pub(crate) async fn role_for(
        &self,
        human: &HumanRow,
        grant: &Grant,
        now: Timestamp,
    ) -> Result<String, Refusal> {
        let mut last = Refusal::NoRole;
        let mut g = grant.clone();
        // The lifetime is the consent's; each token's is `access_token_ttl`.
        g.ttl = None;
        g.expires_at = None;
        for role in &human.roles {
            match self
                .authorize(human, Requested(g.clone()), Some(role), None, now)
                .await
            {
                Ok(a) => return Ok(a.role),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// How long a consent of `asked` may be refreshed: what it asks (its `ttl` or
    /// `expires_at`), or `refresh_ttl`, at most `refresh_ttl`.
    pub(crate) fn consent_lifetime(&self, g: &Grant, now: Timestamp) -> Span {
        let max = self.config.oauth.refresh_ttl;
        match (g.ttl, g.expires_at) {
            (Some(t), _) => t.min(max),
            (None, Some(e)) => {
                Span::from_seconds(u64::try_from(e.seconds_since(now)).unwrap_or(0).max(1)).min(max)
            }
            (None, None) => max,
        }
    }

    /// Refuses a decision by `human` unless they are the one signed in on this browser
    /// (`headers`): whoever learns a consent page's id cannot decide it from elsewhere.
    async fn signed_in_as(
        &self,
        headers: &axum::http::HeaderMap,
        human: &str,
    ) -> Result<(), ApiError> {
        match self.session(headers).await? {
            Some(s) if s.human_id == human => Ok(()),
            _ => Err(ApiError::Forbidden(
                "decide on the consent page, signed in as yourself: sign in again".into(),
            )),
        }
    }

    /// `POST /oauth/consent/{id}/passkey`.
    pub(crate) async fn consent_challenge(
        &self,
        (client, headers): (&str, &axum::http::HeaderMap),
        id: &str,
        body: ConsentChallenge,
    ) -> Result<crate::api::PasskeyChallenge, ApiError> {
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
        crate::verify::check_human_id(&body.human)?;
        self.signed_in_as(headers, &body.human).await?;
        self.pending_authorization(id).await?;
        let approved = approved_grant(verdict, body.grant.as_ref())?;
        let canonical = approved.as_ref().map(|g| g.to_json().to_string());
        let purpose = consent_purpose(id, verdict, canonical.as_deref(), body.remember);
        self.start_assertion(client, &body.human, &purpose).await
    }

    /// `POST /oauth/consent/{id}/approve` or `/deny`, from `client`.
    pub(crate) async fn decide_consent(
        &self,
        (client, headers): (&str, &axum::http::HeaderMap),
        id: &str,
        verdict: Verdict,
        body: ConsentDecision,
    ) -> Result<ConsentDecided, ApiError> {
        if !matches!(body.verification, Verification::Passkey { .. }) {
            return Err(ApiError::BadRequest(
                "a consent is decided with a passkey: `verification.method` must be `passkey`"
                    .into(),
            ));
        }
        self.signed_in_as(headers, &body.human).await?;
        let row = self.pending_authorization(id).await?;
        let asked = Grant::from_json_str(&row.grant_json)
            .map_err(|e| ApiError::Internal(format!("stored authorization grant: {e}")))?;
        let approved = approved_grant(verdict, body.grant.as_ref())?;
        let canonical = approved.as_ref().map(|g| g.to_json().to_string());
        let purpose = consent_purpose(id, verdict, canonical.as_deref(), body.remember);
        let proof =
            crate::verify::check_proof_for(self, &body.human, &body.verification, Some(&purpose))
                .await?;
        let now = self.now();
        // Only once the proof holds: whether it narrows, and what the human's roles allow.
        let plan = match (verdict, proof.holds()) {
            (Verdict::Approve, Some((human, method, at))) => Some(
                self.plan_approval(human, (method, at), &asked, approved, now)
                    .await?,
            ),
            _ => None,
        };
        let mut tx = self.store.begin().await?;
        let decided = async {
            let (verified, verification) = proof.settle(self, &mut tx, client).await?;
            let actor = verified.human.id.clone();
            let at = now.unix_i64();
            let verified_entry = AuditEntry {
                at,
                kind: "verification",
                actor: &actor,
                detail: &verification,
            };
            let (kind, detail, answer) = match &plan {
                Some(plan) => {
                    let code = self
                        .write_approval(&mut tx, &row, &actor, plan, body.remember, at)
                        .await?;
                    let detail =
                        decision_detail(&row, "approved", Some(&plan.grant), body.remember);
                    let answer = ConsentDecided {
                        status: "approved".into(),
                        redirect_to: self.code_redirect(&row, Some(&code)),
                        description: warrant_core::inspect::describe(&plan.grant),
                    };
                    ("oauth_approved", detail, answer)
                }
                None => {
                    if !Store::deny_authorization(&mut tx, id, &actor, at).await? {
                        return Err(decided_already());
                    }
                    let answer = ConsentDecided {
                        status: "denied".into(),
                        redirect_to: self.code_redirect(&row, None),
                        description: String::new(),
                    };
                    (
                        "oauth_denied",
                        decision_detail(&row, "denied", None, false),
                        answer,
                    )
                }
            };
            let decision = AuditEntry {
                at,
                kind,
                actor: &actor,
                detail: &detail,
            };
            let entry = Store::append_audits(&mut tx, verified_entry, &[decision]).await?;
            Ok::<_, ApiError>((entry, answer))
        }
        .await;
        let (entry, answer) = crate::state::finish(tx, decided).await?;
        self.maybe_sign_head(&entry).await?;
        Ok(answer)
    }

    /// What approving `asked` (as `approved`, when narrowed) by `human`, verified by
    /// `method` at `at`, would grant: checked once their proof holds.
    async fn plan_approval(
        &self,
        human: &HumanRow,
        (method, verified_at): (Method, Timestamp),
        asked: &Grant,
        approved: Option<Grant>,
        now: Timestamp,
    ) -> Result<Plan, ApiError> {
        let grant = match approved {
            Some(mut a) => {
                a.narrows(asked)
                    .map_err(|e| ApiError::BadRequest(format!("grant: {e}")))?;
                if a.audience.is_empty() {
                    a.audience = asked.audience.clone();
                }
                a
            }
            None => asked.clone(),
        };
        let lifetime = self.consent_lifetime(&grant, now);
        let most = self.consent_lifetime(asked, now);
        if lifetime > most {
            return Err(ApiError::BadRequest(format!(
                "grant: a lifetime of {lifetime} is longer than the {most} asked"
            )));
        }
        let role = self
            .role_for(human, &grant, now)
            .await
            .map_err(ApiError::from)?;
        Ok(Plan {
            grant,
            role,
            lifetime,
            method,
            verified_at,
        })
    }

    /// Writes `plan` approved by `actor` on `row` (and remembers it when asked), on `tx`:
    /// the code.
    async fn write_approval(
        &self,
        tx: &mut crate::store::Tx,
        row: &AuthorizationRow,
        actor: &str,
        plan: &Plan,
        remember: bool,
        at: i64,
    ) -> Result<String, ApiError> {
        let code = random_hex(32);
        let lifetime = i64::try_from(plan.lifetime.seconds()).unwrap_or(i64::MAX);
        let approved_json = plan.grant.to_json().to_string();
        let a = Approved {
            human_id: actor,
            role: &plan.role,
            approved_json: &approved_json,
            method: plan.method.as_str(),
            verified_at: plan.verified_at.unix_i64(),
            lifetime,
            code_hash: &sha256_hex(&code),
            code_expires_at: at + defaults::CODE_SECONDS,
        };
        if !Store::approve_authorization(tx, &row.id, &a, at).await? {
            return Err(decided_already());
        }
        if remember {
            let consent = ConsentRow {
                human_id: actor.to_owned(),
                client_id: row.client_id.clone(),
                resource: row.resource.clone(),
                asked_digest: sha256_hex(&row.grant_json),
                client_name: row.client_name.clone(),
                role: plan.role.clone(),
                approved_json,
                lifetime,
                created_at: at,
            };
            Store::remember_consent(tx, &consent).await?;
        }
        Ok(code)
    }

    /// The answer to the client: `code` (or `error=access_denied` without one), `state`,
    /// `iss`.
    fn code_redirect(&self, row: &AuthorizationRow, code: Option<&str>) -> String {
        let mut p: Vec<(&str, &str)> = match code {
            Some(c) => vec![("code", c)],
            None => vec![
                ("error", "access_denied"),
                ("error_description", "the human denied the request"),
            ],
        };
        if let Some(s) = &row.state {
            p.push(("state", s));
        }
        p.push(("iss", &self.config.public_url));
        redirect_with(&row.redirect_uri, &p)
    }

    /// A remembered consent of the human signed in (the `headers`' session) for `row`:
    /// approved at once, within the role's ceiling as it is now. The redirect with the
    /// code, or `None` (the consent page then).
    pub(crate) async fn remembered(
        &self,
        row: &AuthorizationRow,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<String>, ApiError> {
        // A loopback redirect URI does not identify its client (any local program can
        // listen there): such a client is asked every time (RFC 8252 section 8.6).
        if crate::clients::is_loopback_redirect(&row.redirect_uri) {
            return Ok(None);
        }
        let Some(session) = self.session(headers).await? else {
            return Ok(None);
        };
        let digest = sha256_hex(&row.grant_json);
        let Some(consent) = self
            .store
            .consent(&session.human_id, &row.client_id, &row.resource, &digest)
            .await?
        else {
            return Ok(None);
        };
        if consent.created_at + defaults::REMEMBER_SECONDS < self.now().unix_i64() {
            return Ok(None);
        }
        let Some(human) = self.store.human(&session.human_id).await? else {
            return Ok(None);
        };
        let g = Grant::from_json_str(&consent.approved_json)
            .map_err(|e| ApiError::Internal(format!("stored consent grant: {e}")))?;
        let now = self.now();
        // Never beyond the ceiling: a role that no longer admits it asks the human again.
        let Ok(role) = self.role_for(&human, &g, now).await else {
            return Ok(None);
        };
        let signed_in = session.signed_in_at();
        let code = random_hex(32);
        let at = now.unix_i64();
        let mut tx = self.store.begin().await?;
        let approved = async {
            let a = Approved {
                human_id: &human.id,
                role: &role,
                approved_json: &consent.approved_json,
                method: Method::Passkey.as_str(),
                verified_at: signed_in,
                // Never longer than the issuer allows now.
                lifetime: consent.lifetime.min(
                    i64::try_from(self.config.oauth.refresh_ttl.seconds()).unwrap_or(i64::MAX),
                ),
                code_hash: &sha256_hex(&code),
                code_expires_at: at + defaults::CODE_SECONDS,
            };
            if !Store::approve_authorization(&mut tx, &row.id, &a, at).await? {
                return Err(decided_already());
            }
            let detail = decision_detail(row, "approved", Some(&g), true);
            Ok::<_, ApiError>(
                Store::append_audit(&mut tx, at, "oauth_approved", &human.id, &detail).await?,
            )
        }
        .await;
        let entry = crate::state::finish(tx, approved).await?;
        self.maybe_sign_head(&entry).await?;
        Ok(Some(self.code_redirect(row, Some(&code))))
    }
}

/// An approval, checked: what the code will be exchanged for.
struct Plan {
    grant: Grant,
    role: String,
    lifetime: Span,
    method: Method,
    verified_at: Timestamp,
}

fn decided_already() -> ApiError {
    ApiError::Conflict("this authorization was decided already".into())
}

/// The grant an approval names (checked as a request's grant), none on a denial.
fn approved_grant(
    verdict: Verdict,
    grant: Option<&serde_json::Value>,
) -> Result<Option<Grant>, ApiError> {
    match (grant, verdict) {
        (None, _) => Ok(None),
        (Some(_), Verdict::Deny) => Err(ApiError::BadRequest(
            "a denial takes no `grant`: leave it out".into(),
        )),
        (Some(g), Verdict::Approve) => Ok(Some(Requested::parse(g)?.0)),
    }
}

/// The audit detail of a decision on `row`.
fn decision_detail(
    row: &AuthorizationRow,
    status: &str,
    approved: Option<&Grant>,
    remembered: bool,
) -> serde_json::Value {
    json!({
        "authorization": row.id, "client_id": row.client_id, "client_name": row.client_name,
        "redirect_uri": row.redirect_uri, "resource": row.resource, "status": status,
        "approved": approved.map(Grant::to_json),
        "description": approved.map(warrant_core::inspect::describe),
        "remembered": remembered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consent_s_purpose_binds_everything_decided() {
        let base = consent_purpose("a", Verdict::Approve, None, false);
        for other in [
            consent_purpose("b", Verdict::Approve, None, false),
            consent_purpose("a", Verdict::Deny, None, false),
            consent_purpose("a", Verdict::Approve, Some("{}"), false),
            consent_purpose("a", Verdict::Approve, None, true),
        ] {
            assert_ne!(base, other);
        }
    }
}
