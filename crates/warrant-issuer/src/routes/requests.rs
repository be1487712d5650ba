//! Capability requests: an agent asks, its human decides, the agent collects
//! (crate::requests).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    CapabilityRequest, Decided, Decision, RequestCreated, RequestHuman, RequestState,
};
use crate::error::{ApiError, Body};
use crate::requests::{Polled, Verdict, RETRY_AFTER_SECONDS};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create_request))
        .routes(routes!(poll_request))
        .routes(routes!(request_human))
        .routes(routes!(approve_request))
        .routes(routes!(deny_request))
}

/// The `DPoP` header, if one was sent (a header that is not text is no proof).
fn dpop(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get("dpop")
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::ProofRefused("the `DPoP` header is not a DPoP proof".into()))
        })
        .transpose()
}

/// `POST /v1/requests` (an agent, with a DPoP proof by its key): asks a human for a token.
#[utoipa::path(post, path = "/v1/requests", tag = "requests", request_body = CapabilityRequest, params(("DPoP" = String, Header, description = "a DPoP proof (RFC 9449) by the agent's key for this method and URL; `ath` is that of the empty token")), responses((status = 202, description = "pending the human's approval", body = RequestCreated), (status = 400, description = "bad input"), (status = 401, description = "no valid DPoP proof by a registered agent"), (status = 403, description = "the agent is disabled, or the human's role can never grant this"), (status = 404, description = "no such human"), (status = 429, description = "too many requests by this agent this minute")))]
async fn create_request(
    State(s): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<CapabilityRequest>,
) -> Result<(StatusCode, Json<RequestCreated>), ApiError> {
    let made = s.create_request(dpop(&headers)?, body).await?;
    Ok((StatusCode::ACCEPTED, Json(made)))
}

/// `GET /v1/requests/{id}` (the agent that asked, with a fresh DPoP proof): pending, or the
/// token, once.
#[utoipa::path(get, path = "/v1/requests/{id}", tag = "requests", params(("id" = String, Path, description = "the request's id"), ("DPoP" = String, Header, description = "a DPoP proof by the agent's key for this method and URL")), responses((status = 200, description = "approved: the token, bound to the agent's key (once)", body = RequestState), (status = 202, description = "pending: ask again after `Retry-After` seconds", body = RequestState), (status = 401, description = "no valid DPoP proof"), (status = 403, description = "denied by the human"), (status = 404, description = "no such request for this agent"), (status = 410, description = "expired, or its token collected already")))]
async fn poll_request(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Ok(match s.poll_request(dpop(&headers)?, &id).await? {
        Polled::Pending(state) => {
            let mut res = (StatusCode::ACCEPTED, Json(state)).into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            res
        }
        Polled::Collected(state) => {
            let mut res = Json(state).into_response();
            // A token: never cached on the way.
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
    })
}

/// `GET /v1/requests/{id}/human`: whom the request asks (what its approve page shows to
/// whoever opens it), so that a client can verify that human before deciding.
#[utoipa::path(get, path = "/v1/requests/{id}/human", tag = "requests", params(("id" = String, Path, description = "the request's id")), responses((status = 200, description = "the human it asks", body = RequestHuman), (status = 404, description = "no such request")))]
async fn request_human(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RequestHuman>, ApiError> {
    Ok(Json(RequestHuman {
        human: s.request_human(&id).await?,
    }))
}

/// `POST /v1/requests/{id}/approve` (the human asked, verified in the request): approves,
/// as asked or narrowed.
#[utoipa::path(post, path = "/v1/requests/{id}/approve", tag = "requests", request_body = Decision, params(("id" = String, Path, description = "the request's id")), responses((status = 200, description = "approved", body = Decided), (status = 400, description = "bad input, or a grant that does not only narrow the request"), (status = 401, description = "verification failed"), (status = 403, description = "the request asks another human"), (status = 404, description = "no such request"), (status = 409, description = "decided already"), (status = 410, description = "expired")))]
async fn approve_request(
    State(s): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<Decision>,
) -> Result<Json<Decided>, ApiError> {
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    Ok(Json(
        s.decide_request(&client, &id, Verdict::Approve, body)
            .await?,
    ))
}

/// `POST /v1/requests/{id}/deny` (the human asked, verified in the request).
#[utoipa::path(post, path = "/v1/requests/{id}/deny", tag = "requests", request_body = Decision, params(("id" = String, Path, description = "the request's id")), responses((status = 200, description = "denied", body = Decided), (status = 400, description = "bad input"), (status = 401, description = "verification failed"), (status = 403, description = "the request asks another human"), (status = 404, description = "no such request"), (status = 409, description = "decided already"), (status = 410, description = "expired")))]
async fn deny_request(
    State(s): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<Decision>,
) -> Result<Json<Decided>, ApiError> {
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    Ok(Json(
        s.decide_request(&client, &id, Verdict::Deny, body).await?,
    ))
}
