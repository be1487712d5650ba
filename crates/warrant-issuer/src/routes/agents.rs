//! Agents: registration with a proof of possession, listing, disabling.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warrant_core::keys::HolderPublicKey;

use crate::admin::Admin;
use crate::api::{
    agent_challenge_message, Agent, AgentChallengeRequest, AgentDisabled, AgentRequest, Agents,
    Challenge, OwnerRequest,
};
use crate::error::{ApiError, Body};
use crate::state::AppState;
use crate::store::{AgentRow, Challenge as ChallengeKind};
use crate::verify::verify_human;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(agent_challenge))
        .routes(routes!(register_agent, list_agents))
        .routes(routes!(my_agents))
        .routes(routes!(disable_agent))
}

/// An agent as the API shows it.
fn agent(row: AgentRow) -> Agent {
    Agent {
        id: row.id,
        name: row.name,
        public_key: row.public_key,
        owner: row.owner,
        disabled: row.disabled,
        created_at: row.created_at,
    }
}

/// `POST /v1/agents/challenges {"public_key": "ed25519/…"}`: a nonce for the agent's key to sign.
#[utoipa::path(post, path = "/v1/agents/challenges", tag = "agents", request_body = AgentChallengeRequest, responses((status = 200, description = "a nonce for the agent key to sign", body = Challenge), (status = 400, description = "bad input"), (status = 429, description = "too many challenges from this client this minute, or too many unanswered challenges (see Retry-After)")))]
async fn agent_challenge(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<AgentChallengeRequest>,
) -> Result<Json<Challenge>, ApiError> {
    let key: HolderPublicKey = body
        .public_key
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("public_key: {e}")))?;
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    // One transaction: the count, then the challenge (a 429 commits the count alone).
    let live = s.live_challenges().await?;
    // On the ephemeral pool: a crash may lose a challenge not yet answered, and its counts
    // (docs/issuer.md, "Durability"); its consumption is the answer's, durable.
    let mut tx = s.store.begin_ephemeral().await?;
    let issued = async {
        s.admit_challenge(&mut tx, &client, live).await?;
        s.issue_challenge(&mut tx, ChallengeKind::Agent, &key.to_string())
            .await
    }
    .await;
    Ok(Json(crate::state::finish(tx, issued).await?))
}

/// `POST /v1/agents` (admin): registers an agent that proved it holds its key.
#[utoipa::path(post, path = "/v1/agents", tag = "agents", request_body = AgentRequest, responses((status = 201, description = "registered", body = Agent), (status = 400, description = "bad input"), (status = 401, description = "no admin token or no proof of possession")), security(("admin_token" = [])))]
async fn register_agent(
    admin: Admin,
    State(s): State<AppState>,
    Body(body): Body<AgentRequest>,
) -> Result<(StatusCode, Json<Agent>), ApiError> {
    let actor = admin.actor();
    if body.name.trim().is_empty() || body.name.len() > 256 {
        return Err(ApiError::BadRequest(
            "`name` must be 1 to 256 characters".into(),
        ));
    }
    let key: HolderPublicKey = body
        .public_key
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("public_key: {e}")))?;
    if let Some(owner) = &body.owner {
        if s.store.human(owner).await?.is_none() {
            return Err(ApiError::BadRequest(format!(
                "owner `{owner}` is not a known human"
            )));
        }
    }
    let signature = warrant_core::keys::Signature::from_hex(&body.signature)
        .map_err(|_| ApiError::BadRequest("`signature` must be 64 bytes of hex".into()))?;
    let now = s.now();
    let proved = key
        .verify(agent_challenge_message(&body.nonce).as_bytes(), &signature)
        .is_ok()
        && s.store
            .redeem_challenge(
                ChallengeKind::Agent,
                &body.nonce,
                &key.to_string(),
                now.unix_i64(),
            )
            .await?;
    if !proved {
        s.audit(
            "agent_registration_refused",
            &actor,
            json!({ "public_key": key.to_string(), "reason": "no proof of possession" }),
        )
        .await?;
        return Err(ApiError::Unauthorized(
            "the agent did not prove it holds the key: sign a fresh challenge from /v1/agents/challenges".into(),
        ));
    }
    let row = AgentRow {
        id: key.jwk_thumbprint(),
        name: body.name.trim().to_owned(),
        public_key: key.to_string(),
        owner: body.owner,
        disabled: false,
        created_at: now.unix_i64(),
    };
    let Some(entry) = s.store.add_agent(&row, &actor).await? else {
        return Err(ApiError::BadRequest(format!(
            "the key `{key}` is already registered"
        )));
    };
    s.maybe_sign_head(&entry).await?;
    Ok((StatusCode::CREATED, Json(agent(row))))
}

/// `GET /v1/agents` (admin): every registered agent.
#[utoipa::path(get, path = "/v1/agents", tag = "agents", responses((status = 200, description = "every agent", body = Agents), (status = 401, description = "no admin token")), security(("admin_token" = [])))]
async fn list_agents(_: Admin, State(s): State<AppState>) -> Result<Json<Agents>, ApiError> {
    let agents = s.store.agents().await?.into_iter().map(agent).collect();
    Ok(Json(Agents { agents }))
}

/// `POST /v1/agents/mine {"human", "verification"}`: the agents a human owns, for that
/// human, verified in the request.
#[utoipa::path(post, path = "/v1/agents/mine", tag = "agents", request_body = OwnerRequest, responses((status = 200, description = "the human's agents", body = Agents), (status = 400, description = "bad input"), (status = 401, description = "verification failed"), (status = 429, description = "too many verifications from this client this minute (see Retry-After)")))]
async fn my_agents(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(owner): Body<OwnerRequest>,
) -> Result<Json<Agents>, ApiError> {
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    let human = verify_human(&s, &client, &owner.human, &owner.verification)
        .await?
        .human;
    let agents = s
        .store
        .agents()
        .await?
        .into_iter()
        .filter(|a| a.owner.as_deref() == Some(human.id.as_str()))
        .map(agent)
        .collect();
    Ok(Json(Agents { agents }))
}

/// `POST /v1/agents/{id}/disable` (admin, or the agent's owner verified in the body): no
/// more tokens for it, and every token of its key revoked.
#[utoipa::path(post, path = "/v1/agents/{id}/disable", tag = "agents", params(("id" = String, Path, description = "the agent id (its key's JWK thumbprint)")), request_body(content = OwnerRequest, description = "without an admin token: the owner, verified now"), responses((status = 200, description = "disabled and its tokens revoked", body = AgentDisabled), (status = 404, description = "no such agent"), (status = 401, description = "no admin token and no verified owner"), (status = 403, description = "not the agent's owner"), (status = 429, description = "too many verifications from this client this minute (see Retry-After)")), security(("admin_token" = [])))]
async fn disable_agent(
    State(s): State<AppState>,
    admin: Option<Admin>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<AgentDisabled>, ApiError> {
    // The credential first (the extractor): without one, whether an agent exists is not to
    // be learnt here.
    if admin.is_none() && body.is_empty() {
        return Err(Admin::missing());
    }
    let agent = s
        .store
        .agent(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent `{id}`")))?;
    let actor = if let Some(admin) = admin {
        admin.actor()
    } else {
        let owner: OwnerRequest = serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!("the body is not an owner and a verification: {e}"))
        })?;
        let client =
            crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
        let human = verify_human(&s, &client, &owner.human, &owner.verification)
            .await?
            .human;
        if agent.owner.as_deref() != Some(human.id.as_str()) {
            return Err(ApiError::Forbidden(format!(
                "`{}` does not own agent `{id}`",
                human.id
            )));
        }
        human.id
    };
    s.store.disable_agent(&id).await?;
    let (revocation_cursor, entry) = s
        .store
        .revoke("holder", &agent.public_key, &actor, s.now().unix_i64())
        .await?;
    s.maybe_sign_head(&entry).await?;
    Ok(Json(AgentDisabled {
        agent: id,
        disabled: true,
        revocation_cursor,
    }))
}
