//! Tokens: a challenge for a human to answer, and minting for a human verified in the
//! request.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use rand_core::{OsRng, RngCore};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warrant_core::grant::Grant;
use warrant_core::keys::PublicKey;
use warrant_core::time::Span;
use warrant_core::token::{
    attenuate, decode_unverified, encode, mint, MintRequest, Verification, DEFAULT_TTL,
};
use warrant_core::value::{AttrName, Value};

use crate::api::{challenge_message, Challenge, ChallengeRequest, MintedToken, TokenRequest};
use crate::error::{ApiError, Body};
use crate::state::AppState;
use crate::store::Store;
use crate::verify::{verify_human, Verified};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(challenge))
        .routes(routes!(mint_token))
}

/// `POST /v1/challenges {"human": "alice"}`: a one-time nonce for a device key to sign (or
/// an ID token to carry). Handled alike whether or not the issuer knows the human, so the
/// answer, what is stored and `/metrics` look the same; answering it for an unknown human
/// fails like a wrong key.
#[utoipa::path(post, path = "/v1/challenges", tag = "tokens", request_body = ChallengeRequest, responses((status = 200, description = "a one-time nonce to sign", body = Challenge), (status = 400, description = "bad input"), (status = 429, description = "too many challenges from this client, or for this human from this client, this minute, or too many unanswered challenges (see Retry-After)")))]
async fn challenge(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<ChallengeRequest>,
) -> Result<Json<Challenge>, ApiError> {
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
    Ok(Json(Challenge {
        sign: challenge_message(&nonce),
        nonce,
        expires_at: expires.to_string(),
    }))
}

/// Refuses a request the role's ceiling can never satisfy.
fn within_ceiling(requested: &Grant, ceiling: &Grant, role: &str) -> Result<(), String> {
    if requested.allow.is_empty() {
        return Err("the grant needs at least one allow rule".into());
    }
    for (i, rule) in requested.allow.iter().enumerate() {
        let fits = ceiling.allow.iter().any(|c| {
            c.actions.overlaps(&rule.actions)
                && c.resources
                    .iter()
                    .any(|cp| rule.resources.iter().any(|rp| cp.overlaps(rp)))
        });
        if !fits {
            return Err(format!(
                "allow[{i}] (`{}` on {}) is outside the ceiling of role `{role}`",
                match &rule.actions {
                    warrant_core::grant::Actions::Any => "*".to_owned(),
                    warrant_core::grant::Actions::Listed(l) =>
                        l.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","),
                },
                rule.resources
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !ceiling.audience.is_empty() {
        if let Some(a) = requested
            .audience
            .iter()
            .find(|a| !ceiling.audience.contains(a))
        {
            return Err(format!(
                "audience `{a}` is outside the ceiling of role `{role}`"
            ));
        }
    }
    Ok(())
}

/// Records a refused mint; the 403 to answer with.
async fn refusal(s: &AppState, human: &str, why: String) -> ApiError {
    let reason = if why.contains("ttl") {
        "ttl"
    } else if why.contains("role") && !why.contains("ceiling") {
        "role"
    } else if why.contains("disabled") {
        "agent_disabled"
    } else {
        "ceiling"
    };
    s.metrics
        .inc("warrant_refusals_total", format!("reason=\"{reason}\""));
    match s.audit("refusal", human, json!({ "reason": why })).await {
        Ok(()) => ApiError::Forbidden(why),
        Err(e) => e,
    }
}

/// `POST /v1/tokens`: mint for a human verified just now, within their role's ceiling.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = TokenRequest, responses((status = 200, description = "the token", body = MintedToken), (status = 400, description = "bad input"), (status = 401, description = "verification failed"), (status = 403, description = "beyond the role's ceiling"), (status = 429, description = "too many verifications from this client, or (once verified) too many mints for this human, this minute (see Retry-After)")))]
async fn mint_token(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<TokenRequest>,
) -> Result<Json<MintedToken>, ApiError> {
    let mut requested =
        Grant::from_json(&body.grant).map_err(|e| ApiError::BadRequest(format!("grant: {e}")))?;
    // With no audience of its own the request inherits its role's, checked below.
    if !requested.audience.is_empty() {
        crate::admin::reserved(&requested, &requested.audience)
            .map_err(|e| ApiError::BadRequest(format!("grant: {e}")))?;
    }
    let holder = body
        .holder
        .as_deref()
        .map(|h| {
            h.parse::<PublicKey>()
                .map_err(|e| ApiError::BadRequest(format!("holder: {e}")))
        })
        .transpose()?;
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    let Verified {
        human,
        method,
        at: verified_at,
    } = verify_human(&s, &client, &body.human, &body.verification).await?;
    // Counted only once verified: a stranger cannot spend a human's mints.
    s.rate_limit("mint", &human.id, s.config.mints_per_minute)
        .await?;
    if let Some(h) = &holder {
        if let Some(agent) = s.store.agent_by_key(&h.to_string()).await? {
            if agent.disabled {
                let why = format!("agent `{}` ({}) is disabled", agent.name, agent.id);
                return Err(refusal(&s, &human.id, why).await);
            }
        }
    }
    let role_name = match (&body.role, human.roles.as_slice()) {
        (Some(r), roles) if roles.contains(r) => r.clone(),
        (Some(r), _) => {
            return Err(refusal(&s, &human.id, format!("the human does not have role `{r}`")).await)
        }
        (None, [only]) => only.clone(),
        (None, []) => {
            return Err(refusal(
                &s,
                &human.id,
                "the human has no role: there is nothing to delegate".into(),
            )
            .await)
        }
        (None, _) => {
            return Err(ApiError::BadRequest(
                "the human has several roles: name one in `role`".into(),
            ))
        }
    };
    let role = s
        .store
        .role(&role_name)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("role `{role_name}` is missing")))?;
    let mut ceiling = Grant::from_json_str(&role.ceiling)
        .map_err(|e| ApiError::Internal(format!("stored ceiling: {e}")))?;
    let now = s.now();
    let max = Span::from_seconds(u64::try_from(role.max_ttl).unwrap_or(0)).min(s.config.max_ttl);
    let ttl = match (requested.ttl, requested.expires_at) {
        (Some(t), _) => t,
        (None, Some(e)) => {
            Span::from_seconds(u64::try_from(e.seconds_since(now)).unwrap_or(0).max(1))
        }
        (None, None) => DEFAULT_TTL.min(max),
    };
    if ttl > max {
        let why = format!("a ttl of {ttl} is longer than the {max} role `{role_name}` allows");
        return Err(refusal(&s, &human.id, why).await);
    }
    if let Err(why) = within_ceiling(&requested, &ceiling, &role_name) {
        return Err(refusal(&s, &human.id, why).await);
    }
    let applies = if requested.audience.is_empty() {
        &ceiling.audience
    } else {
        &requested.audience
    };
    if let Err(why) = crate::admin::reserved(&requested, applies) {
        return Err(ApiError::BadRequest(format!("grant: {why}")));
    }
    // A role stored before these checks existed is held to them too.
    if let Err(why) = crate::admin::reserved(&ceiling, &ceiling.audience) {
        let why = format!("the ceiling of role `{role_name}` is refused: {why}");
        return Err(refusal(&s, &human.id, why).await);
    }
    // The token carries both: the ceiling in the authority block, the request in a second
    // block. Every check of both must pass, so it grants their intersection.
    ceiling.ttl = Some(ttl);
    requested.ttl = None;
    requested.expires_at = None;
    // What the audit log records of the grant: both blocks, as the token carries them.
    let (granted, ceiling_json) = (requested.to_json(), ceiling.to_json());
    let mut attrs = std::collections::BTreeMap::new();
    for (k, v) in &human.attrs {
        if let (Ok(name), Ok(value)) = (k.parse::<AttrName>(), Value::from_json(v)) {
            attrs.insert(name, value);
        }
    }
    s.reload_keys().await?;
    let keys = s.keys();
    let request = MintRequest {
        grant: ceiling,
        human: Some(human.id.clone()),
        verification: Some(Verification {
            method,
            at: verified_at,
        }),
        human_attrs: attrs,
        holder,
        issuer: s.config.public_url.clone(),
    };
    let minted = mint(&keys.ring.active, request, now, &mut OsRng)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let text = minted
        .token
        .to_base64()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let token = decode_unverified(&text).map_err(|e| ApiError::Internal(e.to_string()))?;
    let token = attenuate(&token, requested, now, &mut OsRng)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let text = encode(&token);
    let kid = i64::from(keys.ring.active.key_id().map_or(0, |k| k.0));
    // The token leaves only after its audit entry is committed.
    let mut tx = s.store.begin().await?;
    Store::insert_token(
        &mut tx,
        &minted.token_id,
        &human.id,
        holder.map(|h| h.to_string()).as_deref(),
        kid,
        now.unix_i64(),
        minted.expires_at.unix_i64(),
    )
    .await?;
    let detail = json!({
        "token_id": minted.token_id, "role": role_name, "kid": kid,
        "holder": holder.map(|h| h.to_string()),
        "issued_at": now.to_string(), "expires_at": minted.expires_at.to_string(),
        "ttl": ttl.to_string(),
        "verification": { "method": method.as_str(), "at": verified_at.to_string() },
        "grant": granted, "ceiling": ceiling_json,
    });
    let entry = Store::append_audit(&mut tx, now.unix_i64(), "mint", &human.id, &detail).await?;
    tx.commit()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    s.store
        .note_expiry(kid, minted.expires_at.unix_i64())
        .await?;
    s.metrics.inc("warrant_mints_total", String::new());
    s.maybe_sign_head(entry.seq).await?;
    Ok(Json(MintedToken {
        token: text,
        token_id: minted.token_id,
        expires_at: minted.expires_at.to_string(),
    }))
}
