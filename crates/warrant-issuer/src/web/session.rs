//! Browser sessions: a human signs in with a passkey (an assertion bound to signing in, so
//! it cannot serve as a decision, nor a decision's as a sign-in) and gets a short-lived
//! cookie: `HttpOnly; SameSite=Strict; Path=/`, and `Secure` (as `__Host-…`) behind https.
//! Only the SHA-256 of the cookie's secret is stored, with the human and the session's
//! CSRF token.

use axum::http::{header, HeaderMap, HeaderValue};

use crate::api;
use crate::error::ApiError;
use crate::secrets::{is_hex, random_hex, sha256_hex};
use crate::state::AppState;
use crate::store::{SessionRow, Store};

/// How long a session lasts, in seconds.
pub(crate) const SESSION_SECONDS: i64 = SessionRow::SECONDS;

/// What a sign-in assertion is for (never a decision).
pub(crate) const SIGN_IN: &str = "sign-in";

impl AppState {
    /// Whether the issuer is reached over https (then cookies are `Secure`).
    fn https(&self) -> bool {
        self.config.public_url.starts_with("https://")
    }

    /// The session cookie's name: `__Host-` prefixed behind https.
    pub(crate) fn session_cookie(&self) -> &'static str {
        if self.https() {
            "__Host-warrant_session"
        } else {
            "warrant_session"
        }
    }

    /// The session secret the cookie in `headers` carries, if any.
    pub(crate) fn session_secret(&self, headers: &HeaderMap) -> Option<String> {
        let name = self.session_cookie();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
            .filter(|s| is_hex(s, 64))
    }

    /// The live session whose cookie `headers` carry, if any.
    pub(crate) async fn session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<SessionRow>, ApiError> {
        let Some(secret) = self.session_secret(headers) else {
            return Ok(None);
        };
        Ok(self
            .store
            .session(&sha256_hex(&secret), self.now().unix_i64())
            .await?)
    }

    /// `POST /web/signin`: the human, verified by a passkey's answer to a sign-in
    /// challenge, gets a session: its `Set-Cookie` header and what the page needs.
    pub(crate) async fn sign_in(
        &self,
        client: &str,
        body: api::SignIn,
    ) -> Result<(HeaderValue, api::SignedIn), ApiError> {
        let verification = api::Verification::Passkey {
            ceremony: body.ceremony,
            credential: body.credential,
        };
        let proof =
            crate::verify::check_proof_for(self, &body.human, &verification, Some(SIGN_IN)).await?;
        let secret = random_hex(32);
        let now = self.now().unix_i64();
        let row = SessionRow {
            human_id: body.human.clone(),
            csrf: random_hex(16),
            expires_at: now + SESSION_SECONDS,
        };
        let mut tx = self.store.begin().await?;
        let signed = async {
            let (verified, detail) = proof.settle(self, &mut tx, client).await?;
            Store::insert_session(&mut tx, &sha256_hex(&secret), &row, now).await?;
            let entry =
                Store::append_audit(&mut tx, now, "verification", &verified.human.id, &detail)
                    .await?;
            Ok::<_, ApiError>(entry)
        }
        .await;
        let entry = crate::state::finish(tx, signed).await?;
        self.maybe_sign_head(&entry).await?;
        let secure = if self.https() { "; Secure" } else { "" };
        let cookie = format!(
            "{}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_SECONDS}{secure}",
            self.session_cookie()
        );
        let cookie = HeaderValue::from_str(&cookie)
            .map_err(|e| ApiError::Internal(format!("session cookie: {e}")))?;
        Ok((
            cookie,
            api::SignedIn {
                human: row.human_id,
                expires_at: crate::requests::at(row.expires_at).to_string(),
            },
        ))
    }
}
