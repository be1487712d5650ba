//! The OAuth pages: `/authorize` (a browser arrives from the client) and the consent page
//! (crate::oauth).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use warrant_core::grant::Grant;

use super::{html, pages, problem};
use crate::error::ApiError;
use crate::oauth::authorize::Outcome;
use crate::state::AppState;

/// `GET /authorize`: on to the consent page, back to the client (a code for a remembered
/// consent, or an error it may see), or an error on a page.
pub(super) async fn authorize(
    State(s): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let client = crate::limits::client_address(&s.config.trusted_proxies, &extensions, &headers);
    match s.oauth_authorize(&client, pairs, &headers).await {
        Ok(Outcome::Consent(id)) => Redirect::to(&format!("/consent/{id}")).into_response(),
        Ok(Outcome::Redirect(to)) => Redirect::to(&to).into_response(),
        Ok(Outcome::Page(e)) => html(
            StatusCode::BAD_REQUEST,
            pages::problem("This authorization request cannot be used", &e.to_string()),
        ),
        Err(e) => problem(&e),
    }
}

/// `GET /consent/{id}`.
pub(super) async fn consent(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match s.consent_page(&id, &headers).await {
        Ok(page) => html(StatusCode::OK, page),
        Err(e) => problem(&e),
    }
}

impl AppState {
    /// The consent page for the human signed in, else the sign-in.
    async fn consent_page(&self, id: &str, headers: &HeaderMap) -> Result<Markup, ApiError> {
        self.passkeys.on()?;
        let row = self.pending_authorization(id).await?;
        let human = match self.session(headers).await? {
            Some(session) => self.store.human(&session.human_id).await?,
            None => None,
        };
        let Some(human) = human else {
            return Ok(pages::consent_sign_in(&row.client_name));
        };
        let asked = Grant::from_json_str(&row.grant_json)
            .map_err(|e| ApiError::Internal(format!("stored authorization grant: {e}")))?;
        let now = self.now();
        let ttl = self.consent_lifetime(&asked, now);
        let refused = match self.role_for(&human, &asked, now).await {
            Ok(_) => None,
            Err(crate::mint::Refusal::Api(e)) => return Err(e),
            Err(r) => Some(r.to_string()),
        };
        Ok(pages::consent(
            &row,
            &human.id,
            &asked,
            ttl,
            refused.as_deref(),
        ))
    }
}
