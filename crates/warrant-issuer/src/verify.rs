//! Verifying a human: the one entry point of every request that names a human and proves
//! it is them (`POST /v1/tokens`, a human's `POST /v1/revocations`,
//! `POST /v1/agents/mine`, an owner's `POST /v1/agents/{id}/disable`).
//!
//! [`verify_human`] (and a mint, which settles the proof inside its own transaction) runs,
//! in this order, so that neither the answer, nor what is stored, nor `/metrics` tells a
//! stranger whether a human exists, and a stranger cannot spend a human's limits:
//!
//! 1. the input's shape, before anything is read or written (400, the same for every
//!    human): the human's id, the device key, the signature, the nonce, the identity
//!    provider;
//! 2. the proof, checked without writing ([`check_proof`]), against the id as named,
//!    whether or not such a human exists: an unknown human has no enrolled key and no ID
//!    token names them, so they fail exactly as a known human fails with the same input;
//! 3. in the request's one transaction ([`Proof::settle`]): the client's limit,
//!    `verifications_per_minute_per_client` (429), the first write and the first thing
//!    that decides the answer; then the challenge consumed (and the ID token recorded), so
//!    a replay fails;
//! 4. the outcome counted in `warrant_verifications_total`, whoever was named. A success
//!    is recorded in the audit log in the same transaction; failures are tallied in memory
//!    and recorded as one `verification_failures` entry (counts by human, method and
//!    reason) every [`crate::limits::PRUNE_INTERVAL`], before every audit export and when
//!    `warrant serve` shuts down, so anonymous requests add at most one audit entry a
//!    minute per replica.
//!
//! The transaction commits on a 401 and a 429 as on a success (the attempt stays counted,
//! the challenge used) and rolls back only on a failure of ours (500), which leaves
//! nothing behind. Checking the proof before counting costs an over-the-limit client's
//! request one signature check (or ID-token check) more than before; its answer is still
//! the 429.
//!
//! Per-human limits (`mints_per_minute`) are counted by the caller after a success only.

use serde_json::json;
use sha2::Digest as _;
use sqlx::AnyConnection;
use warrant_core::grant::Method;
use warrant_core::keys::{PublicKey, Signature};
use warrant_core::time::Timestamp;

use crate::api::{challenge_message, Verification};
use crate::error::ApiError;
use crate::metrics::Outcome;
use crate::state::AppState;
use crate::store::{Challenge, HumanRow, Store};

const NOT_ENROLLED: &str = "this device key is not enrolled for the human";

/// A human verified just now.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The human. (How and when they proved it: [`Proof::holds`].)
    pub human: HumanRow,
}

/// Refuses a human id no human can have (the rule of `POST /v1/humans`), before anything
/// is read or written.
pub(crate) fn check_human_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.chars().count() > 256 || id.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "`human` must be 1 to 256 printable characters".into(),
        ));
    }
    Ok(())
}

/// A verification whose shape is right: what the proof is checked with.
enum Checked<'a> {
    DeviceKey {
        key: PublicKey,
        signature: Signature,
        nonce: &'a str,
    },
    Oidc {
        provider: &'a str,
        id_token: &'a str,
        nonce: &'a str,
    },
    Passkey {
        ceremony: &'a str,
        credential: Box<webauthn_rs::prelude::PublicKeyCredential>,
    },
}

/// The shape of a verification, whoever it names (400).
fn check_shape<'a>(s: &AppState, v: &'a Verification) -> Result<Checked<'a>, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let nonce = match v {
        Verification::DeviceKey { nonce, .. } | Verification::Oidc { nonce, .. } => nonce,
        Verification::Passkey {
            ceremony,
            credential,
        } => {
            if !crate::secrets::is_hex(ceremony, 32) {
                return Err(bad(
                    "`verification.ceremony` must be the 32 hex digits of a passkey challenge"
                        .into(),
                ));
            }
            let credential = serde_json::from_value(credential.clone())
                .map_err(|e| bad(format!("verification.credential: {e}")))?;
            return Ok(Checked::Passkey {
                ceremony,
                credential: Box::new(credential),
            });
        }
    };
    if nonce.is_empty() || nonce.len() > 256 {
        return Err(bad(
            "`verification.nonce` must be 1 to 256 characters: a nonce from /v1/challenges".into(),
        ));
    }
    match v {
        Verification::DeviceKey {
            public_key,
            signature,
            ..
        } => {
            let key: PublicKey = public_key
                .parse()
                .map_err(|e| bad(format!("verification.public_key: {e}")))?;
            let signature = Signature::from_hex(signature)
                .map_err(|_| bad("`verification.signature` must be 64 bytes of hex".into()))?;
            Ok(Checked::DeviceKey {
                key,
                signature,
                nonce,
            })
        }
        Verification::Oidc {
            provider, id_token, ..
        } => {
            if !s.oidc.providers().iter().any(|p| p == provider) {
                return Err(bad(format!(
                    "no identity provider `{provider}` is configured"
                )));
            }
            Ok(Checked::Oidc {
                provider,
                id_token,
                nonce,
            })
        }
        Verification::Passkey { .. } => Err(bad("a passkey carries no nonce".into())),
    }
}

/// What must still be written for a proof that holds so far: the challenge to consume and,
/// for an ID token, its digest to record as used.
#[derive(Debug)]
enum Pending {
    DeviceKey {
        nonce: String,
    },
    Oidc {
        nonce: String,
        digest: String,
        keep_until: i64,
    },
    Passkey(crate::passkeys::Asserted),
}

/// A verification checked as far as it can be without writing anything: the shape, the
/// human, the signature or the ID token, the enrolment. What is left — counting the
/// attempt against the client's limit, consuming the challenge, recording the ID token —
/// is [`Proof::settle`], inside the request's one transaction.
#[derive(Debug)]
pub(crate) struct Proof {
    human_id: String,
    human: Option<HumanRow>,
    method: Method,
    /// What remains to write, and when the human authenticated; or why the proof failed.
    outcome: Result<(Pending, Timestamp), String>,
    /// Recorded with the verification (the identity provider's claims).
    extra: serde_json::Value,
}

impl Proof {
    /// The human and how and when they proved it, if the proof holds so far (it may still
    /// fail when [settled](Self::settle): a challenge already used). What a mint prepares
    /// its token for before it writes anything.
    pub(crate) fn holds(&self) -> Option<(&HumanRow, Method, Timestamp)> {
        match (&self.outcome, &self.human) {
            (Ok((_, at)), Some(human)) => Some((human, self.method, *at)),
            _ => None,
        }
    }
}

/// Checks the proof that the request comes from the human named `human_id` without writing
/// anything (see the module documentation): a 400 for a bad shape, otherwise the [`Proof`]
/// to settle.
pub(crate) async fn check_proof(
    s: &AppState,
    human_id: &str,
    v: &Verification,
) -> Result<Proof, ApiError> {
    check_proof_for(s, human_id, v, None).await
}

/// [`check_proof`] for a decision whose passkey ceremony must be for `purpose`
/// (crate::passkeys): a passkey verifies nothing else.
pub(crate) async fn check_proof_for(
    s: &AppState,
    human_id: &str,
    v: &Verification,
    purpose: Option<&str>,
) -> Result<Proof, ApiError> {
    check_human_id(human_id)?;
    let checked = check_shape(s, v)?;
    // One lookup whoever is named; the proof below does not depend on its result.
    let human = s.store.human(human_id).await?;
    let now = s.now();
    let (method, outcome, extra) = match checked {
        Checked::DeviceKey {
            key,
            signature,
            nonce,
        } => {
            let outcome = device_key(s, human_id, &key, &signature, nonce).await?;
            (
                Method::DeviceKey,
                outcome
                    .map(|()| {
                        let nonce = nonce.to_owned();
                        (Pending::DeviceKey { nonce }, now)
                    })
                    .map_err(str::to_owned),
                json!({}),
            )
        }
        Checked::Oidc {
            provider,
            id_token,
            nonce,
        } => {
            let (outcome, extra) = oidc(s, human_id, provider, id_token, nonce, now).await?;
            (Method::Oidc, outcome, extra)
        }
        Checked::Passkey {
            ceremony,
            credential,
        } => {
            let asserted = s
                .check_assertion(human_id, ceremony, &credential, purpose)
                .await?;
            let extra = match &asserted {
                Ok(a) => json!({ "credential_id": a.credential_id }),
                Err(_) => json!({}),
            };
            (
                Method::Passkey,
                asserted.map(|a| (Pending::Passkey(a), now)),
                extra,
            )
        }
    };
    Ok(Proof {
        human_id: human_id.to_owned(),
        human,
        method,
        outcome,
        extra,
    })
}

impl Proof {
    /// Settles the proof on `conn`, the request's transaction, for a request from
    /// `client`: counts the attempt against `verifications_per_minute_per_client` (429),
    /// the first write; then consumes the challenge (and records the ID token), which
    /// fails a replay; then counts the outcome in `warrant_verifications_total`. A success
    /// is the human verified and the detail of its `verification` audit entry, which the
    /// caller appends in the same transaction; a failure is tallied in memory and answered
    /// with a 401. Either way the transaction must commit ([`crate::state::finish`]), so
    /// the attempt stays counted and the challenge used.
    pub(crate) async fn settle(
        self,
        s: &AppState,
        conn: &mut AnyConnection,
        client: &str,
    ) -> Result<(Verified, serde_json::Value), ApiError> {
        s.rate_limit(
            conn,
            "verification-client",
            client,
            s.config.verifications_per_minute_per_client,
        )
        .await?;
        let now = s.now();
        let outcome = match self.outcome {
            Ok((pending, _)) => redeem(conn, &self.human_id, pending, now.unix_i64()).await?,
            Err(why) => Err(why),
        };
        let outcome = match (outcome, self.human) {
            (Ok(()), Some(human)) => Ok(human),
            // Only whoever holds a valid proof for this id gets here.
            (Ok(_), None) => Err("the issuer does not know this human".to_owned()),
            (Err(why), _) => Err(why),
        };
        let method = self.method;
        let result = if outcome.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        s.metrics.verified(method, result);
        match outcome {
            Ok(human) => {
                let detail = json!({
                    "method": method.as_str(), "human": human.id, "ok": true,
                    "reason": null, "details": self.extra,
                });
                Ok((Verified { human }, detail))
            }
            Err(why) => {
                s.metrics
                    .failures
                    .add(&self.human_id, method.as_str(), &why, now);
                Err(ApiError::Unauthorized(format!(
                    "verification failed: {why}"
                )))
            }
        }
    }
}

/// Consumes the challenge of a proof that holds so far (and records its ID token): `Ok`,
/// or why the proof fails after all.
async fn redeem(
    conn: &mut AnyConnection,
    human_id: &str,
    pending: Pending,
    now: i64,
) -> Result<Result<(), String>, ApiError> {
    Ok(match pending {
        Pending::DeviceKey { nonce } => {
            if Store::redeem_challenge_on(conn, Challenge::Human, &nonce, human_id, now).await? {
                Ok(())
            } else {
                Err("the challenge is unknown, expired or already used".to_owned())
            }
        }
        Pending::Passkey(a) => {
            if Store::use_ceremony(conn, &a.ceremony, now).await? {
                Store::used_passkey(conn, &a.credential_id, a.updated.as_deref(), now).await?;
                Ok(())
            } else {
                Err("the passkey challenge is unknown, expired or already used".to_owned())
            }
        }
        Pending::Oidc {
            nonce,
            digest,
            keep_until,
        } => {
            if !Store::redeem_challenge_on(conn, Challenge::Human, &nonce, human_id, now).await? {
                Err("the nonce is unknown, expired or already used".to_owned())
            } else if !Store::use_id_token_on(conn, &digest, keep_until).await? {
                Err("this ID token was used before: sign in again".to_owned())
            } else {
                Ok(())
            }
        }
    })
}

/// Verifies that the request comes from the human named `human_id`, for a request from
/// `client` (see the module documentation for the order of the checks), in one
/// transaction of its own: the human, and how and when they proved who they are, or a
/// 400, 401 or 429.
pub(crate) async fn verify_human(
    s: &AppState,
    client: &str,
    human_id: &str,
    v: &Verification,
) -> Result<Verified, ApiError> {
    let proof = check_proof(s, human_id, v).await?;
    let mut tx = s.store.begin().await?;
    let settled = async {
        let (verified, detail) = proof.settle(s, &mut tx, client).await?;
        let entry = Store::append_audit(
            &mut tx,
            s.now().unix_i64(),
            "verification",
            &verified.human.id,
            &detail,
        )
        .await?;
        Ok::<_, ApiError>((verified, entry))
    }
    .await;
    let (verified, entry) = crate::state::finish(tx, settled).await?;
    s.maybe_sign_head(&entry).await?;
    Ok(verified)
}

/// A device key's answer to a challenge, checked without writing: the signature first (it
/// needs nothing stored), then the key's enrolment for `human_id`. The challenge is
/// consumed when the proof is settled.
async fn device_key(
    s: &AppState,
    human_id: &str,
    key: &PublicKey,
    signature: &Signature,
    nonce: &str,
) -> Result<Result<(), &'static str>, ApiError> {
    if key
        .verify(challenge_message(nonce).as_bytes(), signature)
        .is_err()
    {
        return Ok(Err("the signature does not verify with the device key"));
    }
    // A storage failure is ours (500), not the human's (401). No keys for an unknown id.
    let enrolled = s.store.device_keys(human_id).await?;
    if !enrolled.iter().any(|k| k == &key.to_string()) {
        return Ok(Err(NOT_ENROLLED));
    }
    Ok(Ok(()))
}

/// What an ID token's answer proves without writing: verified, naming `human_id`; the
/// challenge it carries and its digest, to consume and record when the proof is settled.
/// When the human authenticated, and what to record of it.
async fn oidc(
    s: &AppState,
    human_id: &str,
    provider: &str,
    id_token: &str,
    nonce: &str,
    now: Timestamp,
) -> Result<(Result<(Pending, Timestamp), String>, serde_json::Value), ApiError> {
    let mut extra = json!({ "provider": provider });
    let outcome = match s.oidc.verify(provider, id_token, nonce, now).await {
        Ok(id) if id.human != human_id => Err(format!(
            "the ID token is for `{}`, not for `{human_id}`",
            id.human
        )),
        Ok(id) => {
            extra = json!({
                "provider": provider, "amr": id.amr, "acr": id.acr,
                "authenticated_at": id.authenticated_at.to_string(),
            });
            let digest = hex::encode(sha2::Sha256::digest(id_token.as_bytes()));
            // Kept while the verifier would still accept the token (its leeway).
            let keep_until = id
                .expires_at
                .unix_i64()
                .saturating_add(i64::try_from(crate::oidc::LEEWAY_SECONDS).unwrap_or(i64::MAX));
            let pending = Pending::Oidc {
                nonce: nonce.to_owned(),
                digest,
                keep_until,
            };
            Ok((pending, id.authenticated_at))
        }
        // Checked with the shape; a provider removed since is bad input all the same.
        Err(crate::oidc::OidcError::UnknownProvider(p)) => {
            return Err(ApiError::BadRequest(format!(
                "no identity provider `{p}` is configured"
            )))
        }
        Err(e) => Err(e.to_string()),
    };
    Ok((outcome, extra))
}

impl AppState {
    /// Records the failed verifications tallied since the last call as one
    /// `verification_failures` audit entry (none when there were none).
    pub async fn record_verification_failures(&self) -> Result<(), ApiError> {
        let taken = self.metrics.failures.take();
        let Some(since) = taken.since else {
            return Ok(());
        };
        let failures: Vec<_> = taken
            .counts
            .iter()
            .map(|((human, method, reason), count)| {
                json!({ "human": human, "method": method, "reason": reason, "count": count })
            })
            .collect();
        let total: u64 = taken.counts.values().sum::<u64>() + taken.not_itemised;
        let detail = json!({
            "since": since.to_string(), "until": self.now().to_string(), "total": total,
            "failures": failures, "not_itemised": taken.not_itemised,
        });
        if let Err(e) = self.audit("verification_failures", "issuer", detail).await {
            // Kept for the next attempt.
            self.metrics.failures.restore(taken);
            return Err(e);
        }
        Ok(())
    }
}
