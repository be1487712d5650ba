//! The published key sets, and key rotation.

use axum::extract::State;
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admin::Admin;
use crate::api::KeySet;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(key_set))
        .routes(routes!(audit_key_set))
        .routes(routes!(rotate_keys))
}

/// `GET /.well-known/warrant-keys`: the key set verifiers trust.
#[utoipa::path(get, path = "/.well-known/warrant-keys", tag = "keys", responses((status = 200, description = "the key set verifiers trust", body = KeySet)))]
async fn key_set(State(s): State<AppState>) -> Result<Json<KeySet>, ApiError> {
    // Another replica may have rotated: publish what the database holds.
    s.reload_keys().await?;
    Ok(Json(KeySet::from(&s.keys().ring.published)))
}

/// `GET /.well-known/warrant-audit-keys`: every key the issuer has signed with, retired
/// ones included, for checking the audit log's head signatures (never for tokens).
#[utoipa::path(get, path = "/.well-known/warrant-audit-keys", tag = "keys", responses((status = 200, description = "every signing key the issuer has used, for checking audit head signatures; verifiers must not trust it for tokens", body = KeySet)))]
async fn audit_key_set(State(s): State<AppState>) -> Result<Json<KeySet>, ApiError> {
    s.reload_keys().await?;
    Ok(Json(KeySet::from(&s.keys().ring.audit)))
}

/// `POST /v1/keys/rotate` (admin): a new active key; the old one stays published.
#[utoipa::path(post, path = "/v1/keys/rotate", tag = "keys", responses((status = 200, description = "the new key set", body = KeySet), (status = 401, description = "no admin token")), security(("admin_token" = [])))]
async fn rotate_keys(admin: Admin, State(s): State<AppState>) -> Result<Json<KeySet>, ApiError> {
    let ring = crate::keyring::rotate(&s.store, s.kek.as_ref(), s.now().unix_i64())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let kid = ring.active.key_id().map(|k| k.0);
    let published = KeySet::from(&ring.published);
    s.set_keys(ring);
    s.audit("key_rotation", &admin.actor(), json!({ "active_kid": kid }))
        .await?;
    Ok(Json(published))
}
