//! The OAuth 2.1 authorization server's JSON routes (crate::oauth): metadata, `/token`, and
//! the consent page's passkey decision. `/authorize` and the consent page are pages
//! (crate::web).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::PasskeyChallenge;
use crate::error::{ApiError, Body};
use crate::oauth::consent::{ConsentChallenge, ConsentDecided, ConsentDecision};
use crate::oauth::metadata::AuthorizationServerMetadata;
use crate::oauth::token::{TokenRequest, TokenResponse};
use crate::oauth::{ErrorBody, OAuthError};
use crate::requests::Verdict;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(metadata))
        .routes(routes!(token))
        .routes(routes!(consent_challenge))
        .routes(routes!(approve_consent))
        .routes(routes!(deny_consent))
}

fn client(s: &AppState, extensions: &axum::http::Extensions, headers: &HeaderMap) -> String {
    crate::limits::client_address(&s.config.trusted_proxies, extensions, headers)
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth", responses((status = 200, description = "the authorization server's metadata", body = AuthorizationServerMetadata)))]
async fn metadata(State(s): State<AppState>) -> Json<AuthorizationServerMetadata> {
    let scopes = s.config.oauth.scopes.keys().cloned().collect();
    Json(AuthorizationServerMetadata::new(
        &s.config.public_url,
        scopes,
    ))
}

/// An OAuth error as `/token` answers it (RFC 6749 section 5.2).
fn oauth_error(e: &OAuthError) -> Response {
    let body = ErrorBody {
        error: e.code.to_owned(),
        error_description: e.description.clone(),
    };
    (
        e.status(),
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(body),
    )
        .into_response()
}

/// `POST /token`: a code (with its PKCE verifier) or a refresh token, and a DPoP proof,
/// for a warrant token bound to the proof's key.
#[utoipa::path(post, path = "/token", tag = "oauth", request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded", description = "`grant_type` (`authorization_code` with `code`, `redirect_uri`, `code_verifier`; or `refresh_token` with `refresh_token`), `client_id`, optionally `resource`"), params(("DPoP" = String, Header, description = "a DPoP proof (RFC 9449) for `POST` on this URL, without `ath`: the tokens are bound to its key")), responses((status = 200, description = "the tokens", body = TokenResponse), (status = 400, description = "an OAuth error", body = ErrorBody), (status = 429, description = "too many requests")))]
async fn token(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !form {
        return Ok(oauth_error(&OAuthError::invalid_request(
            "send the parameters as `application/x-www-form-urlencoded`",
        )));
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let dpop = match headers.get("dpop").map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            return Ok(oauth_error(&OAuthError::invalid_dpop_proof(
                "the `DPoP` header is not a DPoP proof",
            )))
        }
    };
    let client = client(&s, &extensions, &headers);
    Ok(match s.oauth_token(&client, dpop, pairs).await? {
        Ok(tokens) => (
            StatusCode::OK,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(tokens),
        )
            .into_response(),
        Err(e) => oauth_error(&e),
    })
}

/// `POST /oauth/consent/{id}/passkey`: a challenge for the signed-in human's passkey, bound
/// to one decision on the authorization (the verdict, the narrowed grant, remembering).
#[utoipa::path(post, path = "/oauth/consent/{id}/passkey", tag = "oauth", request_body = ConsentChallenge, params(("id" = String, Path, description = "the authorization's id, from the consent page's URL")), responses((status = 200, description = "options for `navigator.credentials.get`", body = PasskeyChallenge), (status = 400, description = "bad input, or no passkey enrolled"), (status = 403, description = "not signed in as this human on this browser"), (status = 404, description = "no such authorization"), (status = 409, description = "decided already"), (status = 410, description = "expired"), (status = 429, description = "too many passkey challenges from this client this minute"), (status = 503, description = "passkeys are off")))]
async fn consent_challenge(
    State(s): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<ConsentChallenge>,
) -> Result<Json<PasskeyChallenge>, ApiError> {
    let client = client(&s, &extensions, &headers);
    Ok(Json(
        s.consent_challenge((&client, &headers), &id, body).await?,
    ))
}

/// `POST /oauth/consent/{id}/approve`: the human approves (and may narrow), with their
/// passkey; the answer names where the browser goes (the client's redirect URI, with the
/// code).
#[utoipa::path(post, path = "/oauth/consent/{id}/approve", tag = "oauth", request_body = ConsentDecision, params(("id" = String, Path, description = "the authorization's id")), responses((status = 200, description = "approved", body = ConsentDecided), (status = 400, description = "bad input, or a grant that does not only narrow what was asked"), (status = 401, description = "the passkey's answer does not hold"), (status = 403, description = "not signed in as this human on this browser, or the human's roles cannot grant this"), (status = 404, description = "no such authorization"), (status = 409, description = "decided already"), (status = 410, description = "expired")))]
async fn approve_consent(
    State(s): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<ConsentDecision>,
) -> Result<Json<ConsentDecided>, ApiError> {
    let client = client(&s, &extensions, &headers);
    Ok(Json(
        s.decide_consent((&client, &headers), &id, Verdict::Approve, body)
            .await?,
    ))
}

/// `POST /oauth/consent/{id}/deny`: the human denies, with their passkey; the client gets
/// `error=access_denied`.
#[utoipa::path(post, path = "/oauth/consent/{id}/deny", tag = "oauth", request_body = ConsentDecision, params(("id" = String, Path, description = "the authorization's id")), responses((status = 200, description = "denied", body = ConsentDecided), (status = 400, description = "bad input"), (status = 401, description = "the passkey's answer does not hold"), (status = 403, description = "not signed in as this human on this browser"), (status = 404, description = "no such authorization"), (status = 409, description = "decided already"), (status = 410, description = "expired")))]
async fn deny_consent(
    State(s): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<ConsentDecision>,
) -> Result<Json<ConsentDecided>, ApiError> {
    let client = client(&s, &extensions, &headers);
    Ok(Json(
        s.decide_consent((&client, &headers), &id, Verdict::Deny, body)
            .await?,
    ))
}
