//! The request handlers.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use serde_json::json;
use warrant_core::grant::Grant;
use warrant_core::keys::PublicKey;
use warrant_core::time::Span;
use warrant_core::value::{AttrName, Value};

use crate::error::{ApiError, Body};
use crate::mint::{MintCommand, Requested};
use crate::state::AppState;
use crate::store::HumanRow;
use crate::verify::verify_human;
pub use crate::verify::VerificationBody;

/// What a device key signs to answer a challenge.
pub fn challenge_message(nonce: &str) -> String {
    format!("warrant-device-key:{nonce}")
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "the process is up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /metrics`: Prometheus text: counters, latencies and how much is stored.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text", body = String)))]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        s.metrics_text().await,
    )
}

/// `GET /readyz`: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "the database answers", body = String), (status = 500, description = "it does not")))]
pub async fn readyz(State(s): State<AppState>) -> Result<&'static str, ApiError> {
    if s.store.ping().await {
        Ok("ready")
    } else {
        Err(ApiError::Internal("the database does not answer".into()))
    }
}

/// `GET /.well-known/warrant-keys`: the key set verifiers trust.
#[utoipa::path(get, path = "/.well-known/warrant-keys", tag = "keys", responses((status = 200, description = "the key set verifiers trust", body = Object)))]
pub async fn key_set(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    // Another replica may have rotated: publish what the database holds.
    s.reload_keys().await?;
    Ok(Json(s.keys().ring.published.clone()))
}

/// `GET /.well-known/warrant-audit-keys`: every key the issuer has signed with, retired
/// ones included, for checking the audit log's head signatures (never for tokens).
#[utoipa::path(get, path = "/.well-known/warrant-audit-keys", tag = "keys", responses((status = 200, description = "every signing key the issuer has used, for checking audit head signatures; verifiers must not trust it for tokens", body = Object)))]
pub async fn audit_key_set(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    s.reload_keys().await?;
    Ok(Json(s.keys().ring.audit.clone()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeBody {
    human: String,
}

/// `POST /v1/challenges {"human": "alice"}`: a one-time nonce for a device key to sign (or
/// an ID token to carry). Handled alike whether or not the issuer knows the human, so the
/// answer, what is stored and `/metrics` look the same; answering it for an unknown human
/// fails like a wrong key.
#[utoipa::path(post, path = "/v1/challenges", tag = "tokens", request_body = ChallengeBody, responses((status = 200, description = "a one-time nonce to sign", body = Object), (status = 400, description = "bad input"), (status = 429, description = "too many challenges from this client, or for this human from this client, this minute, or too many unanswered challenges (see Retry-After)")))]
pub async fn challenge(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<ChallengeBody>,
) -> Result<impl IntoResponse, ApiError> {
    crate::verify::check_human_id(&body.human)?;
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    s.admit_challenge(&client).await?;
    // Per human *and* client: a stranger's requests in alice's name do not spend hers.
    s.rate_limit(
        "challenge",
        &format!("{}@{client}", body.human),
        s.config.challenges_per_minute,
    )
    .await?;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let nonce = hex::encode(bytes);
    let now = s.now();
    let expires = now.plus(s.config.challenge_ttl);
    s.store
        .put_challenge(&nonce, &body.human, expires.unix_i64())
        .await?;
    Ok(Json(json!({
        "nonce": nonce,
        "expires_at": expires.to_string(),
        "sign": challenge_message(&nonce),
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MintBody {
    human: String,
    verification: VerificationBody,
    /// The grant asked for (docs/token-profile.md).
    #[schema(value_type = Object)]
    grant: serde_json::Value,
    role: Option<String>,
    holder: Option<String>,
}

/// `POST /v1/tokens`: mint for a human verified just now, within their role's ceiling.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = MintBody, responses((status = 200, description = "the token", body = Object), (status = 400, description = "bad input"), (status = 401, description = "verification failed"), (status = 403, description = "beyond the role's ceiling"), (status = 429, description = "too many verifications from this client, or (once verified) too many mints for this human, this minute (see Retry-After)")))]
pub async fn mint_token(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<MintBody>,
) -> Result<impl IntoResponse, ApiError> {
    let requested = Requested::parse(&body.grant)?;
    let holder = body
        .holder
        .as_deref()
        .map(|h| {
            h.parse::<PublicKey>()
                .map_err(|e| ApiError::BadRequest(format!("holder: {e}")))
        })
        .transpose()?;
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    let minted = s
        .mint(MintCommand {
            client,
            human: body.human,
            verification: body.verification,
            requested,
            role: body.role,
            holder,
        })
        .await?;
    Ok(Json(json!({
        "token": minted.token,
        "token_id": minted.token_id,
        "expires_at": minted.expires_at.to_string(),
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    kind: String,
    value: String,
    /// Without an admin token: the human who minted the token, verified now (they may
    /// revoke their own tokens by `token_id`).
    human: Option<String>,
    verification: Option<VerificationBody>,
}

/// `POST /v1/revocations` (admin, or the human who minted the token): revoke a token id,
/// a block revocation id or a holder.
#[utoipa::path(post, path = "/v1/revocations", tag = "revocations", request_body = RevokeBody, responses((status = 200, description = "the feed cursor", body = Object), (status = 400, description = "bad input"), (status = 401, description = "no admin token, or the human's verification failed"), (status = 429, description = "too many verifications from this client this minute (see Retry-After)")), security(("admin_token" = [])))]
pub async fn revoke(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<RevokeBody>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = match (&body.human, &body.verification) {
        (Some(human_id), Some(v)) if !headers.contains_key(axum::http::header::AUTHORIZATION) => {
            let client =
                crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
            let human = verify_human(&s, &client, human_id, v).await?.human;
            let owner = match body.kind.as_str() {
                "token_id" => s.store.token_owner(body.value.trim()).await?,
                _ => None,
            };
            if owner.as_deref() != Some(human.id.as_str()) {
                return Err(ApiError::Forbidden(
                    "a human may revoke only, by `token_id`, a token minted for them; an admin may revoke anything".into(),
                ));
            }
            human.id
        }
        _ => s.admin(&headers, "admin/revocations create").await?,
    };
    let value = body.value.trim();
    if body.kind == "admin_credential" {
        // Not in the public feed: only the issuer checks admin credentials, and it reads
        // their rows on every request.
        s.revoke_admin_credential(value, &actor).await?;
        return Ok(Json(
            json!({ "admin_credential": value.to_lowercase(), "revoked": true }),
        ));
    }
    let canonical = match body.kind.as_str() {
        "token_id"
            // What verifiers accept: 32 hex digits. Anything else in the feed would make
            // every verifier refuse the whole feed.
            if value.len() == 32 && value.bytes().all(|c| c.is_ascii_hexdigit()) =>
        {
            value.to_lowercase()
        }
        "revocation_id" if hex::decode(value).is_ok_and(|b| b.len() == 64) => value.to_lowercase(),
        "holder" => value
            .parse::<PublicKey>()
            .map_err(|e| ApiError::BadRequest(format!("value: {e}")))?
            .to_string(),
        "token_id" | "revocation_id" => {
            return Err(ApiError::BadRequest(format!(
                "value `{value}` is not a valid {}",
                body.kind
            )))
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown kind `{other}`, expected `token_id`, `revocation_id`, `holder` or `admin_credential`"
            )))
        }
    };
    let cursor = s
        .store
        .revoke(&body.kind, &canonical, &actor, s.now().unix_i64())
        .await?;
    s.sign_head_if_due().await?;
    Ok(Json(json!({ "cursor": cursor })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Since {
    /// Entries after this cursor or sequence number.
    since: Option<i64>,
    /// At most this many.
    limit: Option<i64>,
}

/// `GET /v1/revocations?since=CURSOR`: the feed verifiers poll (public).
#[utoipa::path(get, path = "/v1/revocations", tag = "revocations", params(Since), responses((status = 200, description = "feed entries after the cursor", body = Object)))]
pub async fn revocations(
    State(s): State<AppState>,
    Query(q): Query<Since>,
) -> Result<impl IntoResponse, ApiError> {
    let since = q.since.unwrap_or(0).max(0);
    let rows = s
        .store
        .revocations_since(since, q.limit.unwrap_or(1000).clamp(1, 1000))
        .await?;
    let next = rows.last().map_or(since, |r| r.cursor);
    let entries: Vec<_> = rows
        .iter()
        .map(|r| json!({ "cursor": r.cursor, "kind": r.kind, "value": r.value }))
        .collect();
    Ok(Json(json!({ "entries": entries, "next_cursor": next })))
}

/// `GET /v1/audit?since=SEQ&limit=N` (admin): the audit chain as JSON lines, at most
/// `limit` (default 10000, at most 100000) entries after `since`, the head signed first.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(Since), responses((status = 200, description = "the audit chain as JSON lines", body = String, content_type = "application/x-ndjson"), (status = 401, description = "no admin token")), security(("admin_token" = [])))]
pub async fn audit_export(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Since>,
) -> Result<impl IntoResponse, ApiError> {
    s.admin(&headers, "admin/audit read").await?;
    // The failed verifications counted since the last record, so the export is current.
    s.record_verification_failures().await?;
    // Every export ends with a signed head, so `warrant audit verify` can hold the whole
    // export to a signature (a no-op when the head is a signature already).
    s.sign_current_head().await?;
    let rows = s
        .store
        .audit_since(
            q.since.unwrap_or(0).max(0),
            q.limit.unwrap_or(10_000).clamp(1, 100_000),
        )
        .await?;
    let mut body = String::new();
    for r in &rows {
        body.push_str(&serde_json::to_string(r).map_err(|e| ApiError::Internal(e.to_string()))?);
        body.push('\n');
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        body,
    ))
}

/// `POST /v1/keys/rotate` (admin): a new active key; the old one stays published.
#[utoipa::path(post, path = "/v1/keys/rotate", tag = "keys", responses((status = 200, description = "the new key set", body = Object), (status = 401, description = "no admin token")), security(("admin_token" = [])))]
pub async fn rotate_keys(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let actor = s.admin(&headers, "admin/keys rotate").await?;
    let ring = crate::keyring::rotate(&s.store, s.kek.as_ref(), s.now().unix_i64())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let kid = ring.active.key_id().map(|k| k.0);
    let published = ring.published.clone();
    s.set_keys(ring);
    s.audit("key_rotation", &actor, json!({ "active_kid": kid }))
        .await?;
    Ok(Json(published))
}

/// What an agent's key signs to prove possession when it is registered.
pub fn agent_challenge_message(nonce: &str) -> String {
    format!("warrant-agent-registration:{nonce}")
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentChallengeBody {
    public_key: String,
}

/// `POST /v1/agents/challenges {"public_key": "ed25519/…"}`: a nonce for the agent's key to sign.
#[utoipa::path(post, path = "/v1/agents/challenges", tag = "agents", request_body = AgentChallengeBody, responses((status = 200, description = "a nonce for the agent key to sign", body = Object), (status = 400, description = "bad input"), (status = 429, description = "too many challenges from this client this minute, or too many unanswered challenges (see Retry-After)")))]
pub async fn agent_challenge(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<AgentChallengeBody>,
) -> Result<impl IntoResponse, ApiError> {
    let key: PublicKey = body
        .public_key
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("public_key: {e}")))?;
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    s.admit_challenge(&client).await?;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let nonce = hex::encode(bytes);
    let expires = s.now().plus(s.config.challenge_ttl);
    s.store
        .put_agent_challenge(&nonce, &key.to_string(), expires.unix_i64())
        .await?;
    Ok(Json(json!({
        "nonce": nonce,
        "expires_at": expires.to_string(),
        "sign": agent_challenge_message(&nonce),
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentBody {
    name: String,
    public_key: String,
    nonce: String,
    /// Hex Ed25519 signature of `warrant-agent-registration:<nonce>` by the agent's key.
    signature: String,
    owner: Option<String>,
}

/// `POST /v1/agents` (admin): registers an agent that proved it holds its key.
#[utoipa::path(post, path = "/v1/agents", tag = "agents", request_body = AgentBody, responses((status = 201, description = "registered", body = Object), (status = 400, description = "bad input"), (status = 401, description = "no admin token or no proof of possession")), security(("admin_token" = [])))]
pub async fn register_agent(
    State(s): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<AgentBody>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = s.admin(&headers, "admin/agents create").await?;
    if body.name.trim().is_empty() || body.name.len() > 256 {
        return Err(ApiError::BadRequest(
            "`name` must be 1 to 256 characters".into(),
        ));
    }
    let key: PublicKey = body
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
            .consume_agent_challenge(&body.nonce, &key.to_string(), now.unix_i64())
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
    let agent = crate::store::AgentRow {
        id: key.jwk_thumbprint(),
        name: body.name.trim().to_owned(),
        public_key: key.to_string(),
        owner: body.owner,
        disabled: false,
        created_at: now.unix_i64(),
    };
    if !s.store.add_agent(&agent, &actor).await? {
        return Err(ApiError::BadRequest(format!(
            "the key `{key}` is already registered"
        )));
    }
    s.sign_head_if_due().await?;
    Ok((axum::http::StatusCode::CREATED, Json(agent)))
}

/// `GET /v1/agents` (admin): every registered agent.
#[utoipa::path(get, path = "/v1/agents", tag = "agents", responses((status = 200, description = "every agent", body = Object), (status = 401, description = "no admin token")), security(("admin_token" = [])))]
pub async fn list_agents(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    s.admin(&headers, "admin/agents read").await?;
    Ok(Json(json!({ "agents": s.store.agents().await? })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerBody {
    /// The agent's owner.
    human: String,
    verification: VerificationBody,
}

/// `POST /v1/agents/mine {"human", "verification"}`: the agents a human owns, for that
/// human, verified in the request.
#[utoipa::path(post, path = "/v1/agents/mine", tag = "agents", request_body = OwnerBody, responses((status = 200, description = "the human's agents", body = Object), (status = 400, description = "bad input"), (status = 401, description = "verification failed"), (status = 429, description = "too many verifications from this client this minute (see Retry-After)")))]
pub async fn my_agents(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(owner): Body<OwnerBody>,
) -> Result<impl IntoResponse, ApiError> {
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    let human = verify_human(&s, &client, &owner.human, &owner.verification)
        .await?
        .human;
    let mine: Vec<_> = s
        .store
        .agents()
        .await?
        .into_iter()
        .filter(|a| a.owner.as_deref() == Some(human.id.as_str()))
        .collect();
    Ok(Json(json!({ "agents": mine })))
}

/// `POST /v1/agents/{id}/disable` (admin, or the agent's owner verified in the body): no
/// more tokens for it, and every token of its key revoked.
#[utoipa::path(post, path = "/v1/agents/{id}/disable", tag = "agents", params(("id" = String, Path, description = "the agent id (its key's JWK thumbprint)")), request_body(content = OwnerBody, description = "without an admin token: the owner, verified now"), responses((status = 200, description = "disabled and its tokens revoked", body = Object), (status = 404, description = "no such agent"), (status = 401, description = "no admin token and no verified owner"), (status = 403, description = "not the agent's owner"), (status = 429, description = "too many verifications from this client this minute (see Retry-After)")), security(("admin_token" = [])))]
pub async fn disable_agent(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    // The credential first: without one, whether an agent exists is not to be learnt here.
    let admin = if headers.contains_key(axum::http::header::AUTHORIZATION) || body.is_empty() {
        Some(s.admin(&headers, "admin/agents disable").await?)
    } else {
        None
    };
    let agent = s
        .store
        .agent(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent `{id}`")))?;
    let actor = if let Some(actor) = admin {
        actor
    } else {
        let owner: OwnerBody = serde_json::from_slice(&body).map_err(|e| {
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
    let cursor = s
        .store
        .revoke("holder", &agent.public_key, &actor, s.now().unix_i64())
        .await?;
    s.sign_head_if_due().await?;
    Ok(Json(
        json!({ "agent": id, "disabled": true, "revocation_cursor": cursor }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HumanBody {
    id: String,
    display_name: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    attrs: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    device_keys: Vec<String>,
}

/// `POST /v1/humans` (admin): creates or updates a human and enrols device keys.
#[utoipa::path(post, path = "/v1/humans", tag = "admin", request_body = HumanBody, responses((status = 200, description = "saved", body = Object), (status = 400, description = "bad input"), (status = 401, description = "no admin token")), security(("admin_token" = [])))]
pub async fn put_human(
    State(s): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<HumanBody>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = s.admin(&headers, "admin/humans write").await?;
    if body.id.is_empty() || body.id.len() > 256 || body.id.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "`id` must be 1 to 256 printable characters".into(),
        ));
    }
    for r in &body.roles {
        if s.store.role(r).await?.is_none() {
            return Err(ApiError::BadRequest(format!("no role `{r}`")));
        }
    }
    for (k, v) in &body.attrs {
        k.parse::<AttrName>()
            .map_err(|e| ApiError::BadRequest(format!("attrs: {e}")))?;
        Value::from_json(v).map_err(|e| ApiError::BadRequest(format!("attrs.{k}: {e}")))?;
    }
    let keys = body
        .device_keys
        .iter()
        .map(|k| {
            k.parse::<PublicKey>()
                .map_err(|e| ApiError::BadRequest(format!("device_keys: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let now = s.now().unix_i64();
    let row = HumanRow {
        display_name: body.display_name.unwrap_or_else(|| body.id.clone()),
        id: body.id,
        roles: body.roles,
        attrs: body.attrs,
    };
    s.store.put_human(&row, now).await?;
    for k in &keys {
        s.store.add_device_key(&row.id, &k.to_string(), now).await?;
    }
    let detail = json!({
        "human": row.id, "roles": row.roles,
        "device_keys": keys.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    s.audit("human", &actor, detail).await?;
    Ok(Json(json!({ "id": row.id, "roles": row.roles })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    name: String,
    max_ttl: String,
    #[schema(value_type = Object)]
    ceiling: serde_json::Value,
}

/// `POST /v1/roles` (admin): creates or replaces a role and its ceiling.
#[utoipa::path(post, path = "/v1/roles", tag = "admin", request_body = RoleBody, responses((status = 200, description = "saved", body = Object), (status = 400, description = "bad input"), (status = 401, description = "no admin token")), security(("admin_token" = [])))]
pub async fn put_role(
    State(s): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<RoleBody>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = s.admin(&headers, "admin/roles write").await?;
    let ceiling = Grant::from_json(&body.ceiling)
        .map_err(|e| ApiError::BadRequest(format!("ceiling: {e}")))?;
    crate::admin::reserved(&ceiling, &ceiling.audience)
        .map_err(|e| ApiError::BadRequest(format!("ceiling: {e}")))?;
    if ceiling.allow.is_empty() || ceiling.ttl.is_some() || ceiling.expires_at.is_some() {
        return Err(ApiError::BadRequest(
            "ceiling: give at least one allow rule and no lifetime (use `max_ttl`)".into(),
        ));
    }
    let max_ttl: Span = body
        .max_ttl
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("max_ttl: {e}")))?;
    let row = crate::store::RoleRow {
        name: body.name.clone(),
        ceiling: ceiling.to_json().to_string(),
        max_ttl: i64::try_from(max_ttl.seconds()).unwrap_or(i64::MAX),
    };
    s.store.put_role(&row).await?;
    s.audit(
        "role",
        &actor,
        json!({ "role": row.name, "ceiling": ceiling.to_json(), "max_ttl": max_ttl.to_string() }),
    )
    .await?;
    Ok(Json(json!({ "name": row.name })))
}
