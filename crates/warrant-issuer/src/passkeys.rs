//! Passkeys (WebAuthn, user verification required): enrolment by a one-time invitation,
//! and a passkey's assertion as the verification of a human's decision on an agent's
//! request.
//!
//! The relying party is the issuer's `public_url` (crate::webauthn).
//!
//! A ceremony's state is stored between its start and finish and consumed once, so any
//! replica may finish what another started. Each ceremony records the digest of what it is
//! for — an enrolment by one invitation, or exactly one decision: approve or deny request
//! `id`, with exactly this narrowed grant — and its finish is refused for anything else,
//! so what the human's authenticator signed is what is done.

use serde_json::json;
use sha2::{Digest as _, Sha256};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid,
};

use crate::api;
use crate::error::ApiError;
use crate::secrets::{random_hex, sha256_hex};
use crate::state::AppState;
use crate::store::{AuditEntry, CeremonyRow, PasskeyRow, Store};

/// How long a ceremony may take between its start and finish, in seconds.
const CEREMONY_SECONDS: i64 = 300;

/// The longest passkey name, in characters.
const MAX_NAME_CHARS: usize = 64;

/// The WebAuthn user handle of a human: derived from their id, the same on every replica.
fn user_handle(human_id: &str) -> Uuid {
    let d = Sha256::digest(human_id.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
    uuid_v8(b)
}

/// `bytes` as a version-8 (custom) UUID.
fn uuid_v8(mut bytes: [u8; 16]) -> Uuid {
    if let Some(v) = bytes.get_mut(6) {
        *v = (*v & 0x0f) | 0x80;
    }
    if let Some(v) = bytes.get_mut(8) {
        *v = (*v & 0x3f) | 0x80;
    }
    Uuid::from_bytes(bytes)
}

/// A credential id as stored and shown: base64url without padding, as WebAuthn clients
/// write it.
fn credential_text(p: &Passkey) -> String {
    use base64::Engine as _;
    let id: &[u8] = p.cred_id().as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// What a passkey's assertion is for: one decision on one request (`approve` with exactly
/// this narrowed grant, in its canonical JSON, or none; or `deny`).
pub(crate) fn decision_purpose(request: &str, verdict: &str, grant: Option<&str>) -> String {
    sha256_hex(&json!({ "request": request, "verdict": verdict, "grant": grant }).to_string())
}

/// What an enrolment ceremony is for: the invitation (its digest).
fn enrolment_purpose(invite_digest: &str) -> String {
    format!("enrol:{invite_digest}")
}

/// A passkey's assertion that holds so far: what to write when it is settled.
#[derive(Debug)]
pub(crate) struct Asserted {
    /// The ceremony to consume.
    pub ceremony: String,
    /// The passkey that signed.
    pub credential_id: String,
    /// Its new state (counter), when it changed.
    pub updated: Option<String>,
}

impl AppState {
    /// `POST /v1/humans/{id}/invites` (admin): a link that enrols one passkey for the
    /// human, once, until `invite_ttl` from now. Only its digest is stored.
    pub async fn invite(&self, actor: &str, human_id: &str) -> Result<api::Invite, ApiError> {
        self.passkeys.on()?;
        if self.store.human(human_id).await?.is_none() {
            return Err(ApiError::NotFound(format!(
                "no human `{}`: add them first (`warrant humans add`)",
                human_id.escape_debug()
            )));
        }
        let secret = random_hex(32);
        let now = self.now();
        let expires = now.plus(self.config.invite_ttl);
        let mut tx = self.store.begin().await?;
        let made = async {
            Store::insert_invite(
                &mut tx,
                &sha256_hex(&secret),
                human_id,
                actor,
                (now.unix_i64(), expires.unix_i64()),
            )
            .await?;
            let detail = json!({ "human": human_id, "expires_at": expires.to_string() });
            Ok::<_, ApiError>(
                Store::append_audit(&mut tx, now.unix_i64(), "invite", actor, &detail).await?,
            )
        }
        .await;
        let entry = crate::state::finish(tx, made).await?;
        self.maybe_sign_head(&entry).await?;
        Ok(api::Invite {
            url: format!(
                "{}/invite/{secret}",
                self.config.public_url.trim_end_matches('/')
            ),
            human: human_id.to_owned(),
            expires_at: expires.to_string(),
        })
    }

    /// Invitations for the configured humans with `invite = true` who have no passkey yet
    /// (what `warrant serve` prints when it starts).
    pub async fn configured_invites(&self) -> Result<Vec<api::Invite>, ApiError> {
        let mut out = Vec::new();
        for h in self.config.humans.iter().filter(|h| h.invite) {
            if self.store.passkeys(&h.id).await?.is_empty() {
                out.push(self.invite("config", &h.id).await?);
            }
        }
        Ok(out)
    }

    /// Starts enrolling a passkey with the invitation `secret`.
    pub async fn start_enrolment(
        &self,
        client: &str,
        secret: &str,
    ) -> Result<api::PasskeyChallenge, ApiError> {
        let webauthn = self.passkeys.on()?;
        self.admit_ceremony(client).await?;
        let invite = sha256_hex(secret);
        let now = self.now().unix_i64();
        let human_id = self.store.live_invite(&invite, now).await?.ok_or_else(|| {
            ApiError::NotFound(
                "this invitation is unknown, used or expired: ask for a new one".into(),
            )
        })?;
        let human = self
            .store
            .human(&human_id)
            .await?
            .ok_or_else(|| ApiError::Gone(format!("human `{human_id}` no longer exists")))?;
        let exclude = self
            .parsed_passkeys(&human_id)
            .await?
            .iter()
            .map(|(_, p)| p.cred_id().clone())
            .collect::<Vec<_>>();
        let (options, state) = webauthn
            .start_passkey_registration(
                user_handle(&human_id),
                &human_id,
                &human.display_name,
                Some(exclude),
            )
            .map_err(|e| ApiError::Internal(format!("passkey registration: {e}")))?;
        self.ceremony(
            "registration",
            &human_id,
            &enrolment_purpose(&invite),
            &state,
            json!(options),
        )
        .await
    }

    /// Counts a passkey challenge asked by `client` against
    /// `challenges_per_minute_per_client`, and all live ceremonies against
    /// `max_live_challenges` (429s), before anything is looked up: the answer to a client
    /// over its limit says nothing of the human it names.
    async fn admit_ceremony(&self, client: &str) -> Result<(), ApiError> {
        let now = self.now().unix_i64();
        let mut tx = self.store.begin_ephemeral().await?;
        let admitted = async {
            self.rate_limit(
                &mut tx,
                "passkey challenge",
                client,
                self.config.challenges_per_minute_per_client,
            )
            .await?;
            if Store::live_ceremonies(&mut tx, now).await? >= self.config.max_live_challenges {
                return Err(ApiError::TooMany(
                    "too many passkey challenges are waiting for an answer: retry in a minute"
                        .into(),
                    60,
                ));
            }
            Ok(())
        }
        .await;
        crate::state::finish(tx, admitted).await
    }

    /// Stores a ceremony's `state` for `human_id` and `purpose`: the challenge to answer.
    async fn ceremony(
        &self,
        kind: &str,
        human_id: &str,
        purpose: &str,
        state: &impl serde::Serialize,
        options: serde_json::Value,
    ) -> Result<api::PasskeyChallenge, ApiError> {
        let row = CeremonyRow {
            id: random_hex(16),
            kind: kind.to_owned(),
            human_id: human_id.to_owned(),
            purpose: purpose.to_owned(),
            state_json: serde_json::to_string(state)
                .map_err(|e| ApiError::Internal(format!("ceremony state: {e}")))?,
            expires_at: self.now().unix_i64() + CEREMONY_SECONDS,
        };
        // On the ephemeral pool, as challenges: a crash may lose a ceremony not finished yet.
        let mut tx = self.store.begin_ephemeral().await?;
        let stored = Store::insert_ceremony(&mut tx, &row)
            .await
            .map_err(ApiError::from);
        crate::state::finish(tx, stored).await?;
        Ok(api::PasskeyChallenge {
            ceremony: row.id,
            options,
        })
    }

    /// The human's passkeys, parsed.
    async fn parsed_passkeys(
        &self,
        human_id: &str,
    ) -> Result<Vec<(PasskeyRow, Passkey)>, ApiError> {
        self.store
            .passkeys(human_id)
            .await?
            .into_iter()
            .map(|row| {
                let p = serde_json::from_str(&row.passkey_json)
                    .map_err(|e| ApiError::Internal(format!("stored passkey: {e}")))?;
                Ok((row, p))
            })
            .collect()
    }

    /// Finishes enrolling a passkey with the invitation `secret`: the invitation used, the
    /// passkey stored, an audit entry, in one transaction.
    pub async fn finish_enrolment(
        &self,
        secret: &str,
        body: api::PasskeyEnrolment,
    ) -> Result<api::PasskeyEnrolled, ApiError> {
        let webauthn = self.passkeys.on()?;
        let credential: RegisterPublicKeyCredential = serde_json::from_value(body.credential)
            .map_err(|e| ApiError::BadRequest(format!("credential: {e}")))?;
        let name = body.name.unwrap_or_else(|| "passkey".to_owned());
        if name.trim().is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name
                .chars()
                .any(|c| c.is_control() || warrant_core::inspect::is_invisible(c))
        {
            return Err(ApiError::BadRequest(format!(
                "`name` must be 1 to {MAX_NAME_CHARS} printable characters"
            )));
        }
        let invite = sha256_hex(secret);
        let now = self.now().unix_i64();
        let ceremony = self
            .store
            .live_ceremony(&body.ceremony, now)
            .await?
            .filter(|c| c.kind == "registration" && c.purpose == enrolment_purpose(&invite))
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "this passkey ceremony is unknown, expired, used or for another invitation: start again".into(),
                )
            })?;
        let state: PasskeyRegistration = serde_json::from_str(&ceremony.state_json)
            .map_err(|e| ApiError::Internal(format!("ceremony state: {e}")))?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| ApiError::Unauthorized(format!("the passkey was not registered: {e}")))?;
        let row = PasskeyRow {
            credential_id: credential_text(&passkey),
            human_id: ceremony.human_id.clone(),
            passkey_json: serde_json::to_string(&passkey)
                .map_err(|e| ApiError::Internal(format!("passkey: {e}")))?,
            name,
            created_at: now,
            last_used_at: None,
        };
        let mut tx = self.store.begin().await?;
        let enrolled = async {
            if !Store::use_invite(&mut tx, &invite, now).await? {
                return Err(ApiError::Gone(
                    "this invitation was used or has expired: ask for a new one".into(),
                ));
            }
            if !Store::use_ceremony(&mut tx, &ceremony.id, now).await? {
                return Err(ApiError::Unauthorized(
                    "this passkey ceremony was used already: start again".into(),
                ));
            }
            if !Store::insert_passkey(&mut tx, &row).await? {
                return Err(ApiError::Conflict("this passkey is enrolled already".into()));
            }
            let detail = json!({ "human": row.human_id, "credential_id": row.credential_id, "name": row.name });
            let entry = AuditEntry {
                at: now,
                kind: "passkey_enrolled",
                actor: &row.human_id,
                detail: &detail,
            };
            Ok::<_, ApiError>(Store::append_audits(&mut tx, entry, &[]).await?)
        }
        .await;
        let entry = crate::state::finish(tx, enrolled).await?;
        self.maybe_sign_head(&entry).await?;
        Ok(api::PasskeyEnrolled {
            human: row.human_id,
            credential_id: row.credential_id,
            name: row.name,
        })
    }

    /// Starts a passkey assertion by `human_id` for `purpose` (one decision).
    pub(crate) async fn start_assertion(
        &self,
        client: &str,
        human_id: &str,
        purpose: &str,
    ) -> Result<api::PasskeyChallenge, ApiError> {
        let webauthn = self.passkeys.on()?;
        self.admit_ceremony(client).await?;
        let keys: Vec<Passkey> = self
            .parsed_passkeys(human_id)
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        if keys.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "`{}` has no passkey: enrol one with an invitation (`warrant humans invite`)",
                human_id.escape_debug()
            )));
        }
        let (options, state) = webauthn
            .start_passkey_authentication(&keys)
            .map_err(|e| ApiError::Internal(format!("passkey authentication: {e}")))?;
        self.ceremony("authentication", human_id, purpose, &state, json!(options))
            .await
    }

    /// Checks a passkey's assertion by `human_id` answering `ceremony` for `purpose`,
    /// without writing: what to write when it is settled, or why it fails (a 401).
    pub(crate) async fn check_assertion(
        &self,
        human_id: &str,
        ceremony: &str,
        credential: &PublicKeyCredential,
        purpose: Option<&str>,
    ) -> Result<Result<Asserted, String>, ApiError> {
        let Some(purpose) = purpose else {
            return Err(ApiError::BadRequest(
                "a passkey verifies a decision on an agent's request (`/v1/requests/{id}/passkey`); here use a device key or an ID token".into(),
            ));
        };
        let webauthn = self.passkeys.on()?;
        let now = self.now().unix_i64();
        let Some(c) = self
            .store
            .live_ceremony(ceremony, now)
            .await?
            .filter(|c| c.kind == "authentication" && c.human_id == human_id)
        else {
            return Ok(Err(
                "the passkey challenge is unknown, expired or used: start again".into(),
            ));
        };
        if c.purpose != purpose {
            return Ok(Err(
                "the passkey signed another decision than this one: start again".into(),
            ));
        }
        let state: PasskeyAuthentication = serde_json::from_str(&c.state_json)
            .map_err(|e| ApiError::Internal(format!("ceremony state: {e}")))?;
        let result = match webauthn.finish_passkey_authentication(credential, &state) {
            Ok(r) => r,
            Err(e) => return Ok(Err(format!("the passkey's answer does not verify: {e}"))),
        };
        if !result.user_verified() {
            return Ok(Err(
                "the passkey did not verify its user (no biometric or PIN)".into(),
            ));
        }
        let mine = self.parsed_passkeys(human_id).await?;
        let Some((row, mut passkey)) = mine
            .into_iter()
            .find(|(_, p)| p.cred_id() == result.cred_id())
        else {
            return Ok(Err("this passkey is not enrolled for the human".into()));
        };
        let updated = match passkey.update_credential(&result) {
            Some(true) => Some(
                serde_json::to_string(&passkey)
                    .map_err(|e| ApiError::Internal(format!("passkey: {e}")))?,
            ),
            _ => None,
        };
        Ok(Ok(Asserted {
            ceremony: c.id,
            credential_id: row.credential_id,
            updated,
        }))
    }
}
