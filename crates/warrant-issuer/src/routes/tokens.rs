//! Tokens: a challenge for a human to answer, and minting for a human verified in the
//! request.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warrant_core::keys::HolderPublicKey;

use crate::api::{Challenge, ChallengeRequest, MintedToken, TokenRequest};
use crate::error::{ApiError, Body};
use crate::mint::{MintCommand, Requested};
use crate::state::AppState;
use crate::store::Challenge as ChallengeKind;

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
    // One transaction: the counts, then the challenge (a 429 commits the counts alone).
    let live = s.live_challenges().await?;
    // On the ephemeral pool: a crash may lose a challenge not yet answered, and its counts
    // (docs/issuer.md, "Durability"); its consumption is the answer's, durable.
    let mut tx = s.store.begin_ephemeral().await?;
    let issued = async {
        s.admit_challenge(&mut tx, &client, live).await?;
        // Per human *and* client: a stranger's requests in alice's name do not spend hers.
        s.rate_limit(
            &mut tx,
            "challenge",
            &format!("{}@{client}", body.human),
            s.config.challenges_per_minute,
        )
        .await?;
        s.issue_challenge(&mut tx, ChallengeKind::Human, &body.human)
            .await
    }
    .await;
    Ok(Json(crate::state::finish(tx, issued).await?))
}

/// `POST /v1/tokens`: mint for a human verified just now, within their role's ceiling.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = TokenRequest, responses((status = 200, description = "the token", body = MintedToken), (status = 400, description = "bad input"), (status = 401, description = "verification failed"), (status = 403, description = "beyond the role's ceiling"), (status = 429, description = "too many verifications from this client, or (once verified) too many mints for this human, this minute (see Retry-After)")))]
async fn mint_token(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<TokenRequest>,
) -> Result<Json<MintedToken>, ApiError> {
    let requested = Requested::parse(&body.grant)?;
    let holder = body
        .holder
        .as_deref()
        .map(|h| {
            h.parse::<HolderPublicKey>()
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
    Ok(Json(MintedToken {
        token: minted.token,
        token_id: minted.token_id,
        expires_at: minted.expires_at.to_string(),
    }))
}
