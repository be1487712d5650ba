//! The audit log's export.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admin::Admin;
use crate::api::Since;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(audit_export))
}

/// `GET /v1/audit?since=SEQ&limit=N` (admin): the audit chain as JSON lines, at most
/// `limit` (default 10000, at most 100000) entries after `since`, the head signed first.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(Since), responses((status = 200, description = "the audit chain as JSON lines", body = String, content_type = "application/x-ndjson"), (status = 401, description = "no admin token")), security(("admin_token" = [])))]
async fn audit_export(
    _: Admin,
    State(s): State<AppState>,
    Query(q): Query<Since>,
) -> Result<impl IntoResponse, ApiError> {
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
