//! Signing in to the issuer's pages with a passkey (crate::web::session).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{PasskeyChallenge, SignIn, SignInChallenge, SignedIn};
use crate::error::{ApiError, Body};
use crate::state::AppState;
use crate::web::session::SIGN_IN;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(sign_in_challenge))
        .routes(routes!(sign_in))
}

/// `POST /web/signin/challenge {"human"}`: a passkey challenge good for signing in only.
#[utoipa::path(post, path = "/web/signin/challenge", tag = "passkeys", request_body = SignInChallenge, responses((status = 200, description = "options for `navigator.credentials.get`", body = PasskeyChallenge), (status = 400, description = "bad input, or no passkey enrolled"), (status = 429, description = "too many passkey challenges from this client this minute"), (status = 503, description = "passkeys are off")))]
async fn sign_in_challenge(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<SignInChallenge>,
) -> Result<Json<PasskeyChallenge>, ApiError> {
    crate::verify::check_human_id(&body.human)?;
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    Ok(Json(
        s.start_assertion(&client, &body.human, SIGN_IN).await?,
    ))
}

/// `POST /web/signin`: the passkey's answer; a session cookie (`HttpOnly`, `SameSite=Strict`,
/// 15 minutes; `Secure` behind https).
#[utoipa::path(post, path = "/web/signin", tag = "passkeys", request_body = SignIn, responses((status = 200, description = "signed in (the cookie is in `Set-Cookie`)", body = SignedIn), (status = 400, description = "bad input"), (status = 401, description = "the passkey's answer does not verify"), (status = 429, description = "too many verifications from this client this minute"), (status = 503, description = "passkeys are off")))]
async fn sign_in(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Body(body): Body<SignIn>,
) -> Result<Response, ApiError> {
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    let (cookie, signed) = s.sign_in(&client, body).await?;
    let mut res = Json(signed).into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(res)
}
