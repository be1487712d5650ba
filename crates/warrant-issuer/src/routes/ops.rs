//! Operations: liveness, readiness, metrics.

use axum::extract::State;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "the process is up", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// `GET /metrics`: Prometheus text: counters, latencies and how much is stored.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text", body = String)))]
async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
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
async fn readyz(State(s): State<AppState>) -> Result<&'static str, ApiError> {
    if s.store.ping().await {
        Ok("ready")
    } else {
        Err(ApiError::Internal("the database does not answer".into()))
    }
}
