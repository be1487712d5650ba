//! The router: `app(state)`, with every layer stacked in one place.

use axum::response::IntoResponse as _;
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::routes;
use crate::state::AppState;

/// The issuer's HTTP API.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .route("/.well-known/warrant-keys", get(routes::key_set))
        .route("/v1/challenges", post(routes::challenge))
        .route("/v1/tokens", post(routes::mint_token))
        .route(
            "/v1/revocations",
            post(routes::revoke).get(routes::revocations),
        )
        .route("/v1/audit", get(routes::audit_export))
        .route("/v1/keys/rotate", post(routes::rotate_keys))
        .route("/v1/agents/challenges", post(routes::agent_challenge))
        .route(
            "/v1/agents",
            post(routes::register_agent).get(routes::list_agents),
        )
        .route("/v1/agents/mine", post(routes::my_agents))
        .route("/v1/agents/{id}/disable", post(routes::disable_agent))
        .route("/v1/humans", post(routes::put_human))
        .route("/v1/roles", post(routes::put_role))
        .route("/v1/admin/rotate", post(crate::admin_routes::rotate))
        .route("/v1/admin/credentials", get(crate::admin_routes::list))
        .with_state(state.clone())
        // Innermost: a handler, once started, runs to completion even if the client goes
        // away or the timeout answers first. Dropping it half-way could leave a pooled
        // PostgreSQL connection inside `BEGIN` (sqlx 0.9.0's `begin` is not cancel-safe,
        // upstream sqlx#4393), holding row locks.
        .layer(axum::middleware::from_fn(run_to_completion))
        // Layers, outermost first:
        .layer(
            ServiceBuilder::new()
                // 0. Every request counted and timed for /metrics.
                .layer(axum::middleware::from_fn_with_state(state, measure))
                // 1. Authorization headers never reach the logs.
                .layer(SetSensitiveRequestHeadersLayer::new([
                    axum::http::header::AUTHORIZATION,
                    axum::http::HeaderName::from_static("dpop"),
                ]))
                // 2. Every request gets an id, echoed in the response.
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                // 3. Structured request logs.
                .layer(TraceLayer::new_for_http())
                // 4. Bodies are bounded before anything reads them (413 past the limit).
                .layer(RequestBodyLimitLayer::new(body_limit))
                // 5. No request runs forever (408).
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    timeout,
                )),
        )
}

/// Counts each request by status and records its latency.
async fn measure(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let start = std::time::Instant::now();
    let res = next.run(req).await;
    state.metrics.observe(start.elapsed().as_secs_f64());
    state.metrics.inc(
        "warrant_http_requests_total",
        format!("status=\"{}\"", res.status().as_u16()),
    );
    res
}

/// Runs the rest of the stack in its own task, so cancelling the request does not cancel
/// a database transaction half-way.
async fn run_to_completion(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::spawn(next.run(req)).await {
        Ok(res) => res,
        Err(e) => crate::error::ApiError::Internal(format!("the request task failed: {e}"))
            .into_response(),
    }
}
