//! Passkeys: invitations to enrol one (admin), enrolment with the invitation, and a
//! passkey challenge bound to one decision on an agent's request (crate::passkeys).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admin::Admin;
use crate::api::{Invite, PasskeyChallenge, PasskeyDecision, PasskeyEnrolled, PasskeyEnrolment};
use crate::error::{ApiError, Body};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(invite))
        .routes(routes!(enrolment_challenge))
        .routes(routes!(enrol))
        .routes(routes!(decision_challenge))
}

fn client(s: &AppState, extensions: &axum::http::Extensions, headers: &HeaderMap) -> String {
    crate::limits::client_address(&s.config.trusted_proxies, extensions, headers)
}

/// `POST /v1/humans/{id}/invites` (admin): a one-time link that enrols a passkey for the
/// human, until `invite_ttl` (24 h) from now.
#[utoipa::path(post, path = "/v1/humans/{id}/invites", tag = "passkeys", params(("id" = String, Path, description = "the human's id")), responses((status = 201, description = "the link, shown once", body = Invite), (status = 401, description = "no admin token"), (status = 404, description = "no such human"), (status = 503, description = "passkeys are off: `public_url` cannot carry them")), security(("admin_token" = [])))]
async fn invite(
    admin: Admin,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Invite>), ApiError> {
    let made = s.invite(&admin.actor(), &id).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// `POST /v1/invites/{secret}/challenge`: WebAuthn creation options for a new passkey.
#[utoipa::path(post, path = "/v1/invites/{secret}/challenge", tag = "passkeys", params(("secret" = String, Path, description = "the invitation's secret, from its link")), responses((status = 200, description = "options for `navigator.credentials.create`", body = PasskeyChallenge), (status = 404, description = "unknown, used or expired invitation"), (status = 429, description = "too many passkey challenges from this client this minute"), (status = 503, description = "passkeys are off")))]
async fn enrolment_challenge(
    State(s): State<AppState>,
    Path(secret): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
) -> Result<Json<PasskeyChallenge>, ApiError> {
    let client = client(&s, &extensions, &headers);
    Ok(Json(s.start_enrolment(&client, &secret).await?))
}

/// `POST /v1/invites/{secret}/passkey`: enrols the passkey created for the challenge; the
/// invitation is used up.
#[utoipa::path(post, path = "/v1/invites/{secret}/passkey", tag = "passkeys", request_body = PasskeyEnrolment, params(("secret" = String, Path, description = "the invitation's secret")), responses((status = 201, description = "enrolled", body = PasskeyEnrolled), (status = 400, description = "bad input"), (status = 401, description = "the credential does not answer the challenge"), (status = 409, description = "this passkey is enrolled already"), (status = 410, description = "the invitation was used or has expired"), (status = 503, description = "passkeys are off")))]
async fn enrol(
    State(s): State<AppState>,
    Path(secret): Path<String>,
    Body(body): Body<PasskeyEnrolment>,
) -> Result<(StatusCode, Json<PasskeyEnrolled>), ApiError> {
    let done = s.finish_enrolment(&secret, body).await?;
    Ok((StatusCode::CREATED, Json(done)))
}

/// `POST /v1/requests/{id}/passkey`: a challenge for the human's passkey, bound to one
/// decision on the request (the verdict, and exactly the narrowed grant when approving).
#[utoipa::path(post, path = "/v1/requests/{id}/passkey", tag = "passkeys", request_body = PasskeyDecision, params(("id" = String, Path, description = "the request's id")), responses((status = 200, description = "options for `navigator.credentials.get`", body = PasskeyChallenge), (status = 400, description = "bad input, a grant that does not only narrow the request, or no passkey enrolled"), (status = 403, description = "the request asks another human"), (status = 404, description = "no such request"), (status = 409, description = "decided already"), (status = 410, description = "expired"), (status = 429, description = "too many passkey challenges from this client this minute"), (status = 503, description = "passkeys are off")))]
async fn decision_challenge(
    State(s): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<PasskeyDecision>,
) -> Result<Json<PasskeyChallenge>, ApiError> {
    let client = client(&s, &extensions, &headers);
    Ok(Json(s.passkey_challenge(&client, &id, body).await?))
}
