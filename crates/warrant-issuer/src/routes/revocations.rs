//! Revocations: revoking, and the feed verifiers poll.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warrant_core::keys::HolderPublicKey;

use crate::admin::Admin;
use crate::api::{
    RevocationEntry, RevocationFeed, RevocationRequest, Revoked, RevokedAdminCredential,
    RevokedInFeed, Since,
};
use crate::error::{ApiError, Body};
use crate::state::AppState;
use crate::verify::verify_human;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(revoke, revocations))
}

/// `POST /v1/revocations` (admin, or the human who minted the token): revoke a token id,
/// a block revocation id or a holder.
#[utoipa::path(post, path = "/v1/revocations", tag = "revocations", request_body = RevocationRequest, responses((status = 200, description = "the feed cursor, or the admin credential revoked", body = Revoked), (status = 400, description = "bad input"), (status = 401, description = "no admin token, or the human's verification failed"), (status = 429, description = "too many verifications from this client this minute (see Retry-After)")), security(("admin_token" = [])))]
async fn revoke(
    State(s): State<AppState>,
    admin: Option<Admin>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<RevocationRequest>,
) -> Result<Json<Revoked>, ApiError> {
    let actor = match (admin, &body.human, &body.verification) {
        (Some(admin), _, _) => admin.actor(),
        (None, Some(human_id), Some(v)) => {
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
        (None, _, _) => return Err(Admin::missing()),
    };
    let value = body.value.trim();
    if body.kind == "admin_credential" {
        // Not in the public feed: only the issuer checks admin credentials, and it reads
        // their rows on every request.
        s.revoke_admin_credential(value, &actor).await?;
        return Ok(Json(Revoked::AdminCredential(RevokedAdminCredential {
            admin_credential: value.to_lowercase(),
            revoked: true,
        })));
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
            .parse::<HolderPublicKey>()
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
    let (cursor, entry) = s
        .store
        .revoke(&body.kind, &canonical, &actor, s.now().unix_i64())
        .await?;
    s.maybe_sign_head(&entry).await?;
    if body.kind == "token_id" {
        // A token an OAuth client refreshes: its refresh ends too.
        s.revoke_family_of(&canonical).await?;
    }
    Ok(Json(Revoked::Feed(RevokedInFeed { cursor })))
}

/// `GET /v1/revocations?since=CURSOR`: the feed verifiers poll (public).
#[utoipa::path(get, path = "/v1/revocations", tag = "revocations", params(Since), responses((status = 200, description = "feed entries after the cursor", body = RevocationFeed)))]
async fn revocations(
    State(s): State<AppState>,
    Query(q): Query<Since>,
) -> Result<Json<RevocationFeed>, ApiError> {
    let since = q.since.unwrap_or(0).max(0);
    let rows = s
        .store
        .revocations_since(since, q.limit.unwrap_or(1000).clamp(1, 1000))
        .await?;
    let next_cursor = rows.last().map_or(since, |r| r.cursor);
    let entries = rows
        .into_iter()
        .map(|r| RevocationEntry {
            cursor: r.cursor,
            kind: r.kind,
            value: r.value,
        })
        .collect();
    Ok(Json(RevocationFeed {
        entries,
        next_cursor,
    }))
}
