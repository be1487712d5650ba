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
/// `revoke`) revoked at once on every replica, in one transaction. The credential revoked
/// must be live: a revoked or expired one is refused with nothing issued (401 for the one
/// presented, 400 for `revoke`), and of two concurrent rotations of one credential only one
/// succeeds.
#[utoipa::path(post, path = "/v1/admin/rotate", tag = "admin", request_body(content = RotateBody, description = "optional: which credential to revoke (default: the one presented)"), responses((status = 200, description = "the new admin credential (shown once) and the id revoked", body = Object), (status = 400, description = "the credential in `revoke` is revoked or expired: nothing was issued"), (status = 401, description = "no live admin credential, or the one presented was revoked by a concurrent rotation"), (status = 404, description = "no admin credential with the id in `revoke`")), security(("admin_token" = [])))]
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
    let presented = actor.trim_start_matches("admin:").to_owned();
    let revoke = match body.revoke {
        Some(id) => id.trim().to_ascii_lowercase(),
        None => presented.clone(),
    };
    // Why `revoke` is not live, explained; the transaction below decides, atomically.
    let Some(row) = s.store.admin_credential(&revoke).await? else {
        return Err(ApiError::NotFound(format!(
            "no admin credential `{revoke}`: `GET /v1/admin/credentials` lists them"
        )));
    };
    let not_live = |why: &str| {
        if revoke == presented {
            ApiError::Unauthorized(format!(
                "invalid admin credential: `{revoke}` {why}: nothing was issued; use a current one"
            ))
        } else {
            ApiError::BadRequest(format!(
                "admin credential `{revoke}` {why}: nothing was issued; rotate a live one (`GET /v1/admin/credentials` lists them)"
            ))
        }
    };
    if row.revoked_at.is_some() {
        return Err(not_live("is already revoked"));
    }
    if row.expires_at <= s.now().unix_i64() {
        return Err(not_live("has expired"));
    }
    let Some(issued) = s.rotate_admin_credential(&revoke, &actor).await? else {
        return Err(not_live(
            "was revoked meanwhile (by a concurrent rotation or revocation)",
        ));
    };
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
