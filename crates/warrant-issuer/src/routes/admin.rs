//! Administration: humans, roles, and the admin credentials themselves (crate::admin).

use axum::extract::State;
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warrant_core::grant::Grant;
use warrant_core::keys::PublicKey;
use warrant_core::time::Span;
use warrant_core::value::{AttrName, Value};

use crate::admin::Admin;
use crate::api::{
    AdminCredential, AdminCredentials, AdminRotateRequest, HumanRequest, HumanSaved, RoleRequest,
    RoleSaved, RotatedAdminCredential,
};
use crate::error::{ApiError, Body};
use crate::state::AppState;
use crate::store::{HumanRow, RoleRow};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(put_human))
        .routes(routes!(put_role))
        .routes(routes!(rotate))
        .routes(routes!(list))
}

/// `POST /v1/humans` (admin): creates or updates a human and enrols device keys.
#[utoipa::path(post, path = "/v1/humans", tag = "admin", request_body = HumanRequest, responses((status = 200, description = "saved", body = HumanSaved), (status = 400, description = "bad input"), (status = 401, description = "no admin token")), security(("admin_token" = [])))]
async fn put_human(
    admin: Admin,
    State(s): State<AppState>,
    Body(body): Body<HumanRequest>,
) -> Result<Json<HumanSaved>, ApiError> {
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
    s.audit("human", &admin.actor(), detail).await?;
    Ok(Json(HumanSaved {
        id: row.id,
        roles: row.roles,
    }))
}

/// `POST /v1/roles` (admin): creates or replaces a role and its ceiling.
#[utoipa::path(post, path = "/v1/roles", tag = "admin", request_body = RoleRequest, responses((status = 200, description = "saved", body = RoleSaved), (status = 400, description = "bad input"), (status = 401, description = "no admin token")), security(("admin_token" = [])))]
async fn put_role(
    admin: Admin,
    State(s): State<AppState>,
    Body(body): Body<RoleRequest>,
) -> Result<Json<RoleSaved>, ApiError> {
    let ceiling = Grant::from_json(&body.ceiling)
        .map_err(|e| ApiError::BadRequest(format!("ceiling: {e}")))?;
    crate::reserved::reserved(&ceiling, &ceiling.audience)
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
    let row = RoleRow {
        name: body.name,
        ceiling: ceiling.to_json().to_string(),
        max_ttl: i64::try_from(max_ttl.seconds()).unwrap_or(i64::MAX),
    };
    s.store.put_role(&row).await?;
    s.audit(
        "role",
        &admin.actor(),
        json!({ "role": row.name, "ceiling": ceiling.to_json(), "max_ttl": max_ttl.to_string() }),
    )
    .await?;
    Ok(Json(RoleSaved { name: row.name }))
}

/// `POST /v1/admin/rotate` (admin): a new admin credential, and the presented one (or
/// `revoke`) revoked at once on every replica, in one transaction. The credential revoked
/// must be live: a revoked or expired one is refused with nothing issued (401 for the one
/// presented, 400 for `revoke`), and of two concurrent rotations of one credential only one
/// succeeds.
#[utoipa::path(post, path = "/v1/admin/rotate", tag = "admin", request_body(content = AdminRotateRequest, description = "optional: which credential to revoke (default: the one presented)"), responses((status = 200, description = "the new admin credential (shown once) and the id revoked", body = RotatedAdminCredential), (status = 400, description = "the credential in `revoke` is revoked or expired: nothing was issued"), (status = 401, description = "no live admin credential, or the one presented was revoked by a concurrent rotation"), (status = 404, description = "no admin credential with the id in `revoke`")), security(("admin_token" = [])))]
async fn rotate(
    admin: Admin,
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<RotatedAdminCredential>, ApiError> {
    // The body is optional: none at all is `{}`.
    let body: AdminRotateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AdminRotateRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?
    };
    let presented = admin.id();
    let revoke = match body.revoke {
        Some(id) => id.trim().to_ascii_lowercase(),
        None => presented.to_owned(),
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
    let Some(issued) = s.rotate_admin_credential(&revoke, &admin.actor()).await? else {
        return Err(not_live(
            "was revoked meanwhile (by a concurrent rotation or revocation)",
        ));
    };
    Ok(Json(RotatedAdminCredential {
        token: issued.token,
        id: issued.id,
        expires_at: issued.expires_at.to_string(),
        revoked: revoke,
    }))
}

/// `GET /v1/admin/credentials` (admin): every admin credential's id, creation, expiry and
/// revocation (never a secret).
#[utoipa::path(get, path = "/v1/admin/credentials", tag = "admin", responses((status = 200, description = "every admin credential, newest first, without secrets", body = AdminCredentials), (status = 401, description = "no live admin credential")), security(("admin_token" = [])))]
async fn list(_: Admin, State(s): State<AppState>) -> Result<Json<AdminCredentials>, ApiError> {
    let credentials = s
        .store
        .admin_credentials()
        .await?
        .into_iter()
        .map(|r| AdminCredential {
            id: r.id,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            created_by: r.created_by,
        })
        .collect();
    Ok(Json(AdminCredentials { credentials }))
}
