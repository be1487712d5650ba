//! The handlers of the admin credentials themselves (crate::admin).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// The admin credential to revoke (its id); by default the one presented.
    revoke: Option<String>,
}

/// `POST /v1/admin/rotate` (admin): a new admin credential, and the presented one (or
/// `revoke`) revoked at once on every replica.
#[utoipa::path(post, path = "/v1/admin/rotate", tag = "admin", request_body(content = RotateBody, description = "optional: which credential to revoke (default: the one presented)"), responses((status = 200, description = "the new admin credential (shown once) and the id revoked", body = Object), (status = 401, description = "no live admin credential"), (status = 404, description = "no admin credential with the id in `revoke`")), security(("admin_token" = [])))]
pub async fn rotate(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let actor = s.admin(&headers, "admin/credentials rotate").await?;
    let body: RotateBody = if body.iter().all(u8::is_ascii_whitespace) {
        RotateBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?
    };
    let revoke = match body.revoke {
        Some(id) => id.trim().to_ascii_lowercase(),
        None => actor.trim_start_matches("admin:").to_owned(),
    };
    if s.store.admin_credential(&revoke).await?.is_none() {
        return Err(ApiError::NotFound(format!(
            "no admin credential `{revoke}`: `GET /v1/admin/credentials` lists them"
        )));
    }
    let issued = s.issue_admin_credential(&actor).await?;
    s.revoke_admin_credential(&revoke, &actor).await?;
    Ok(Json(json!({
        "token": issued.token,
        "id": issued.id,
        "expires_at": issued.expires_at.to_string(),
        "revoked": revoke,
    })))
}

/// `GET /v1/admin/credentials` (admin): every admin credential's id, creation, expiry and
/// revocation (never a secret).
#[utoipa::path(get, path = "/v1/admin/credentials", tag = "admin", responses((status = 200, description = "every admin credential, newest first, without secrets", body = Object), (status = 401, description = "no live admin credential")), security(("admin_token" = [])))]
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    s.admin(&headers, "admin/credentials read").await?;
    Ok(Json(
        json!({ "credentials": s.store.admin_credentials().await? }),
    ))
}
