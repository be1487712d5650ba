//! The issuer's pages for people: a human enrols a passkey from an invitation
//! (`/invite/{secret}`), decides an agent's request (`/approve/{id}`) and sees their
//! console (`/console`: requests, tokens, agents, passkeys, audit entries), signing in with
//! a passkey first, and approves an OAuth client's request (`/authorize`, then
//! `/consent/{id}`: crate::oauth). Server-rendered (maud), one small script (`/assets/warrant.js`) for
//! `navigator.credentials`, no inline script or style: every page is served with a strict
//! Content-Security-Policy, `frame-ancestors 'none'`, no referrer (the URLs carry secrets)
//! and `no-store`. Decisions go through the JSON API with a passkey bound to the one
//! decision (crate::passkeys), so a forged form cannot make one.

mod console;
mod oauth;
mod pages;
pub(crate) mod session;

use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::Markup;
use warrant_core::grant::Grant;

use crate::error::ApiError;
use crate::state::AppState;

/// What every page is sent with.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The pages and their assets (not in the API's OpenAPI document: they are HTML).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/invite/{secret}", get(invite))
        .route("/approve/{id}", get(approve))
        .route("/authorize", get(oauth::authorize))
        .route("/consent/{id}", get(oauth::consent))
        .route("/console", get(console))
        .route("/console/revoke", post(revoke))
        .route("/console/passkeys/remove", post(remove_passkey))
        .route("/console/consents/forget", post(forget_consent))
        .route("/console/signout", post(sign_out))
        .route("/assets/warrant.js", get(script))
        .route("/assets/warrant.css", get(style))
        .layer(axum::middleware::map_response(secure))
}

/// The security headers of every page and asset.
async fn secure(mut res: Response) -> Response {
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

/// A page.
fn html(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// An error as a page (never raw JSON): its status and words; a failure of ours says only
/// "internal error" (and is logged).
fn problem(e: &ApiError) -> Response {
    let status = e.status();
    let (title, detail) = match e {
        ApiError::Internal(d) => {
            tracing::error!(error = %d, "internal error");
            ("Something went wrong", "internal error".to_owned())
        }
        ApiError::Unavailable(d) => ("Not available here", d.clone()),
        e => ("This link does not work", e.to_string()),
    };
    html(status, pages::problem(title, &detail))
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/warrant.js"),
    )
        .into_response()
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/warrant.css"),
    )
        .into_response()
}

async fn invite(State(s): State<AppState>, Path(secret): Path<String>) -> Response {
    match s.invite_page(&secret).await {
        Ok(human) => html(StatusCode::OK, pages::invite(&secret, &human)),
        Err(e) => problem(&e),
    }
}

async fn approve(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match s.approve_page(&id, &headers).await {
        Ok(page) => html(StatusCode::OK, page),
        Err(e) => problem(&e),
    }
}

async fn console(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = s.passkeys.on() {
        return problem(&e);
    }
    match s.console(&headers).await {
        Ok(Some(c)) => html(StatusCode::OK, pages::console(&c)),
        Ok(None) => html(StatusCode::OK, pages::console_sign_in()),
        Err(e) => problem(&e),
    }
}

/// After a console form: back to the console, or the error as a page.
fn done(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => Redirect::to("/console").into_response(),
        Err(e) => problem(&e),
    }
}

async fn revoke(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<console::Action>,
) -> Response {
    done(s.console_revoke(&headers, &f).await)
}

async fn remove_passkey(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<console::Action>,
) -> Response {
    done(s.console_remove_passkey(&headers, &f).await)
}

async fn forget_consent(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<console::Action>,
) -> Response {
    done(s.console_forget_consent(&headers, &f).await)
}

async fn sign_out(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<console::Action>,
) -> Response {
    done(s.console_sign_out(&headers, &f).await)
}

impl AppState {
    /// The human an invitation is for (a 404 when unknown, used or expired).
    async fn invite_page(&self, secret: &str) -> Result<String, ApiError> {
        self.passkeys.on()?;
        self.store
            .live_invite(&crate::secrets::sha256_hex(secret), self.now().unix_i64())
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(
                    "this invitation is unknown, used or expired: ask for a new one".into(),
                )
            })
    }

    /// The approval page: the request for its human signed in, else the sign-in.
    async fn approve_page(&self, id: &str, headers: &HeaderMap) -> Result<Markup, ApiError> {
        self.passkeys.on()?;
        let unknown = || ApiError::NotFound("no such request: check the link".into());
        if !crate::secrets::is_hex(id, 32) {
            return Err(unknown());
        }
        let row = self.store.request(id).await?.ok_or_else(unknown)?;
        let signed_in = self
            .session(headers)
            .await?
            .is_some_and(|s| s.human_id == row.human_id);
        if !signed_in {
            return Ok(pages::sign_in(&row.human_id));
        }
        let now = self.now();
        if row.status != "pending" || row.expires_at < now.unix_i64() {
            return Err(match row.status.as_str() {
                "pending" => {
                    ApiError::Gone("this request has expired: the agent must ask again".into())
                }
                other => ApiError::Conflict(format!("this request is {other} already")),
            });
        }
        let agent = self
            .store
            .agent(&row.agent_id)
            .await?
            .ok_or_else(|| ApiError::Gone("the agent that asked no longer exists".into()))?;
        let asked = Grant::from_json_str(&row.grant_json)
            .map_err(|e| ApiError::Internal(format!("stored request grant: {e}")))?;
        let ttl = self.asked_ttl(&row, &asked, now).await?;
        Ok(pages::request(&row, &agent, &asked, ttl))
    }
}
