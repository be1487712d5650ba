//! The human's console (`/console`): their pending requests, live tokens (revoke), agents,
//! passkeys (remove, never the last way to verify them), remembered OAuth consents
//! (forget) and latest audit entries; and
//! signing out. Its forms are plain HTML forms, each carrying the session's CSRF token,
//! checked before anything changes.

use axum::http::HeaderMap;
use serde::Deserialize;

use crate::error::ApiError;
use crate::secrets::{same, sha256_hex};
use crate::state::AppState;
use crate::store::{AgentRow, ConsentRow, PasskeyRow, RequestRow, SessionRow, Store, TokenRow};

/// Everything the console shows.
pub(super) struct Console {
    pub session: SessionRow,
    pub requests: Vec<(RequestRow, Option<AgentRow>)>,
    pub tokens: Vec<(TokenRow, Option<String>)>,
    pub agents: Vec<AgentRow>,
    pub passkeys: Vec<PasskeyRow>,
    pub consents: Vec<ConsentRow>,
    pub audit: Vec<crate::audit::AuditRow>,
}

/// How a console form names a remembered consent: the digest of what identifies it.
pub(super) fn consent_key(c: &ConsentRow) -> String {
    sha256_hex(&serde_json::json!([c.client_id, c.resource, c.asked_digest]).to_string())
}

/// A console form: its CSRF token and what it acts on.
#[derive(Debug, Deserialize)]
pub(super) struct Action {
    csrf: String,
    #[serde(default)]
    token_id: Option<String>,
    #[serde(default)]
    credential_id: Option<String>,
    #[serde(default)]
    consent: Option<String>,
}

impl AppState {
    /// The console of the human signed in, or `None` without a session.
    pub(super) async fn console(&self, headers: &HeaderMap) -> Result<Option<Console>, ApiError> {
        let Some(session) = self.session(headers).await? else {
            return Ok(None);
        };
        let human = session.human_id.clone();
        let now = self.now().unix_i64();
        let agents = self.store.agents().await?;
        let name_of = |key: &str| {
            agents
                .iter()
                .find(|a| a.public_key == key)
                .map(|a| a.name.clone())
        };
        let requests = self
            .store
            .pending_requests(&human, now)
            .await?
            .into_iter()
            .map(|r| {
                let agent = agents.iter().find(|a| a.id == r.agent_id).cloned();
                (r, agent)
            })
            .collect();
        let tokens = self
            .store
            .live_tokens(&human, now, 50)
            .await?
            .into_iter()
            .map(|t| {
                let name = t.holder.as_deref().and_then(name_of);
                (t, name)
            })
            .collect();
        let mine = agents
            .iter()
            .filter(|a| a.owner.as_deref() == Some(human.as_str()))
            .cloned()
            .collect();
        Ok(Some(Console {
            requests,
            tokens,
            agents: mine,
            passkeys: self.store.passkeys(&human).await?,
            consents: self.store.consents_of(&human).await?,
            audit: self.store.audit_by(&human, 20).await?,
            session,
        }))
    }

    /// The session of a console form, its CSRF token checked (a 403 otherwise).
    async fn acting(&self, headers: &HeaderMap, form: &Action) -> Result<SessionRow, ApiError> {
        let session = self.session(headers).await?.ok_or_else(|| {
            ApiError::Unauthorized(
                "you are not signed in (or your session ended): sign in again".into(),
            )
        })?;
        if !same(&session.csrf, &form.csrf) {
            return Err(ApiError::Forbidden(
                "this form did not come from your console: reload it and try again".into(),
            ));
        }
        Ok(session)
    }

    /// Revokes one of the signed-in human's tokens.
    pub(super) async fn console_revoke(
        &self,
        headers: &HeaderMap,
        form: &Action,
    ) -> Result<(), ApiError> {
        let session = self.acting(headers, form).await?;
        let token_id = form.token_id.as_deref().unwrap_or_default().to_lowercase();
        let owner = self.store.token_owner(&token_id).await?;
        if owner.as_deref() != Some(session.human_id.as_str()) {
            return Err(ApiError::Forbidden(
                "you may revoke only your own tokens".into(),
            ));
        }
        let (_, entry) = self
            .store
            .revoke(
                "token_id",
                &token_id,
                &session.human_id,
                self.now().unix_i64(),
            )
            .await?;
        self.maybe_sign_head(&entry).await?;
        // A token an OAuth client refreshes: its refresh ends too.
        self.revoke_family_of(&token_id).await
    }

    /// Removes one of the signed-in human's passkeys, never their last way to be verified.
    pub(super) async fn console_remove_passkey(
        &self,
        headers: &HeaderMap,
        form: &Action,
    ) -> Result<(), ApiError> {
        let session = self.acting(headers, form).await?;
        let credential = form.credential_id.as_deref().unwrap_or_default();
        let now = self.now().unix_i64();
        let mut tx = self.store.begin().await?;
        let removed = async {
            if !Store::remove_passkey(&mut tx, &session.human_id, credential).await? {
                return Err(ApiError::Conflict(
                    "this passkey is your last way to be verified (or is not yours): enrol another first".into(),
                ));
            }
            let detail = serde_json::json!({ "human": session.human_id, "credential_id": credential });
            Ok::<_, ApiError>(
                Store::append_audit(&mut tx, now, "passkey_removed", &session.human_id, &detail).await?,
            )
        }
        .await;
        let entry = crate::state::finish(tx, removed).await?;
        self.maybe_sign_head(&entry).await
    }

    /// Forgets one of the signed-in human's remembered consents (OAuth clients then ask
    /// again).
    pub(super) async fn console_forget_consent(
        &self,
        headers: &HeaderMap,
        form: &Action,
    ) -> Result<(), ApiError> {
        let session = self.acting(headers, form).await?;
        let key = form.consent.as_deref().unwrap_or_default();
        let consents = self.store.consents_of(&session.human_id).await?;
        let c = consents
            .iter()
            .find(|c| same(&consent_key(c), key))
            .ok_or_else(|| ApiError::NotFound("no such remembered consent of yours".into()))?;
        let now = self.now().unix_i64();
        let mut tx = self.store.begin().await?;
        let forgotten = async {
            if !Store::forget_consent(
                &mut tx,
                &session.human_id,
                &c.client_id,
                &c.resource,
                &c.asked_digest,
            )
            .await?
            {
                return Err(ApiError::NotFound(
                    "this consent was forgotten already".into(),
                ));
            }
            let detail = serde_json::json!({ "client_id": c.client_id, "resource": c.resource });
            Ok::<_, ApiError>(
                Store::append_audit(
                    &mut tx,
                    now,
                    "oauth_consent_forgotten",
                    &session.human_id,
                    &detail,
                )
                .await?,
            )
        }
        .await;
        let entry = crate::state::finish(tx, forgotten).await?;
        self.maybe_sign_head(&entry).await
    }

    /// Ends the signed-in human's session.
    pub(super) async fn console_sign_out(
        &self,
        headers: &HeaderMap,
        form: &Action,
    ) -> Result<(), ApiError> {
        self.acting(headers, form).await?;
        let Some(secret) = self.session_secret(headers) else {
            return Ok(());
        };
        let digest = sha256_hex(&secret);
        let mut tx = self.store.begin().await?;
        let ended = Store::end_session(&mut tx, &digest)
            .await
            .map_err(ApiError::from);
        crate::state::finish(tx, ended).await
    }
}
