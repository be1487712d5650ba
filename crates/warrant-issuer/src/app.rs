//! The router: `app(state)`, with every layer stacked in one place.

use axum::http::{header, Method, StatusCode, Uri};
use axum::response::IntoResponse as _;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{lower_first, problem, ApiError, BodyLimit, PROBLEM_JSON};
use crate::state::AppState;

/// The issuer's HTTP API.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    let timeout = state.config.request_timeout;
    // Every route, declared once with its OpenAPI description (crate::routes, crate::openapi).
    let api = Router::from(crate::openapi::router())
        // The pages for people (HTML, with their own security headers).
        .merge(crate::web::router())
        // Every other path: a 404 problem naming it.
        .fallback(not_found)
        .with_state(state.clone())
        // Bodies are bounded once, by `RequestBodyLimitLayer` below (axum's own 2 MB default
        // would otherwise answer first when `body_limit` is larger).
        .layer(axum::extract::DefaultBodyLimit::disable())
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
                // 3. One log line per request at the default level: method, path (never
                //    the query string), status, latency. No headers, so no token.
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(RequestLog)
                        .on_request(())
                        .on_response(RequestLog)
                        .on_failure(()),
                )
                // 4. Bodies are bounded before anything reads them (413 past the limit).
                .layer(RequestBodyLimitLayer::new(body_limit))
                // 5. No request runs forever (408).
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    timeout,
                )),
        );
    // Outside everything, so that it sees the final response of each route (axum adds
    // `Allow` to a 405 outside the route's layers): every error response, whichever layer
    // or extractor made it, becomes an RFC 9457 problem document.
    Router::new()
        .fallback_service(api)
        .layer(axum::middleware::from_fn_with_state(
            Limits {
                body: body_limit,
                timeout,
            },
            problems,
        ))
}

/// The request log: a span with the method, the path (never the query string) and the
/// request id; one `response` event with the status and the latency. No headers, so no
/// token ever reaches the log.
#[derive(Debug, Clone, Copy)]
struct RequestLog;

impl<B> tower_http::trace::MakeSpan<B> for RequestLog {
    fn make_span(&mut self, req: &axum::http::Request<B>) -> tracing::Span {
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "request",
            method = %req.method(),
            path = %logged_path(req.uri().path()),
            id = %id,
        )
    }
}

/// `path` as logged: an invitation's secret (`/invite/{secret}`, `/v1/invites/{secret}/…`)
/// is replaced by `{secret}`, since whoever holds it may enrol a passkey; so is a consent
/// page's id (`/consent/{id}`, `/oauth/consent/{id}/…`).
fn logged_path(path: &str) -> std::borrow::Cow<'_, str> {
    let secret_follows = |p: &str| p == "invite" || p == "invites" || p == "consent";
    if !path.split('/').any(secret_follows) {
        return std::borrow::Cow::Borrowed(path);
    }
    let mut hide = false;
    let parts: Vec<&str> = path
        .split('/')
        .map(|p| {
            let shown = if hide { "{secret}" } else { p };
            hide = secret_follows(p);
            shown
        })
        .collect();
    std::borrow::Cow::Owned(parts.join("/"))
}

impl<B> tower_http::trace::OnResponse<B> for RequestLog {
    fn on_response(
        self,
        res: &axum::http::Response<B>,
        latency: std::time::Duration,
        _: &tracing::Span,
    ) {
        tracing::info!(
            status = res.status().as_u16(),
            latency_ms = latency.as_millis(),
            "response"
        );
    }
}

/// What the error texts name.
#[derive(Debug, Clone, Copy)]
struct Limits {
    body: usize,
    timeout: std::time::Duration,
}

/// No route for this path.
async fn not_found(method: Method, uri: Uri) -> ApiError {
    no_route(&method, uri.path())
}

fn no_route(method: &Method, path: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no route for `{method} {path}`; the API is described at `/openapi.json`"
    ))
}

/// Turns each error response that is not already a problem document (axum's 405, the
/// timeout's 408, the body limit's 413, extractor rejections) into one, keeping its status
/// and headers (`Allow` among them).
async fn problems(
    axum::extract::State(limits): axum::extract::State<Limits>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(BodyLimit(limits.body));
    let res = next.run(req).await;
    let status = res.status();
    // A problem document already, a page for people (crate::web: its errors are pages),
    // or an OAuth error (crate::oauth: RFC 6749 says its shape).
    let formed = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes() == PROBLEM_JSON.as_bytes()
            || v.as_bytes().starts_with(b"text/html")
            || v.as_bytes() == b"application/json"
    });
    if !(status.is_client_error() || status.is_server_error()) || formed {
        return res;
    }
    let (parts, body) = res.into_parts();
    // Rejection texts are short; anything longer is not worth quoting.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| lower_first(&String::from_utf8_lossy(&b)))
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "the request cannot be read".to_owned());
    let error = match status {
        StatusCode::NOT_FOUND => no_route(&method, &path),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            ApiError::MethodNotAllowed(format!(
                "`{method}` is not allowed on `{path}`; allowed: {allow}"
            ))
        }
        StatusCode::REQUEST_TIMEOUT => ApiError::Timeout(format!(
            "the request did not complete within {}s (`request_timeout` in the configuration)",
            limits.timeout.as_secs()
        )),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(limits.body),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
        s if s.is_server_error() => ApiError::Internal(format!("{s}: {text}")),
        _ => ApiError::BadRequest(text),
    };
    let mut out = match error {
        // A 4xx other than those named keeps its own status.
        ApiError::BadRequest(d) if status != StatusCode::BAD_REQUEST => problem(
            status,
            &status.canonical_reason().unwrap_or("error").to_lowercase(),
            &d,
        ),
        ApiError::Internal(d) if status != StatusCode::INTERNAL_SERVER_ERROR => {
            tracing::error!(error = %d, "internal error");
            problem(status, "internal error", "internal error")
        }
        e => e.into_response(),
    };
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// Counts each request by status and records its latency.
async fn measure(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let start = std::time::Instant::now();
    let res = next.run(req).await;
    state
        .metrics
        .request(res.status().as_u16(), start.elapsed().as_secs_f64());
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

#[cfg(test)]
mod tests {
    use super::logged_path;

    #[test]
    fn invitation_secrets_never_reach_the_log() {
        assert_eq!(logged_path("/invite/abc123"), "/invite/{secret}");
        assert_eq!(
            logged_path("/v1/invites/abc123/passkey"),
            "/v1/invites/{secret}/passkey"
        );
        assert_eq!(
            logged_path("/oauth/consent/abc123/approve"),
            "/oauth/consent/{secret}/approve"
        );
        assert_eq!(
            logged_path("/v1/requests/ab/approve"),
            "/v1/requests/ab/approve"
        );
    }
}
