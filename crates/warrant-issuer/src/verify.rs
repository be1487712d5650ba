//! Verifying a human: the one entry point of every request that names a human and proves
//! it is them (`POST /v1/tokens`, a human's `POST /v1/revocations`,
//! `POST /v1/agents/mine`, an owner's `POST /v1/agents/{id}/disable`).
//!
//! [`verify_human`] runs, in this order, so that neither the answer, nor what is stored,
//! nor `/metrics` tells a stranger whether a human exists, and a stranger cannot spend a
//! human's limits:
//!
//! 1. the input's shape, before anything is read or written (400, the same for every
//!    human): the human's id, the device key, the signature, the nonce, the identity
//!    provider;
//! 2. the client's limit, `verifications_per_minute_per_client` (429): the first write;
//! 3. the proof, against the id as named, whether or not such a human exists: an unknown
//!    human has no enrolled key and no ID token names them, so they fail exactly as a
//!    known human fails with the same input;
//! 4. the outcome counted in `warrant_verifications_total`, whoever was named. A success
//!    is recorded in the audit log at once; failures are tallied in memory and recorded as
//!    one `verification_failures` entry (counts by human, method and reason) every
//!    [`crate::limits::PRUNE_INTERVAL`], before every audit export and when `warrant serve`
//!    shuts down, so anonymous requests add at most one audit entry a minute per replica.
//!
//! Per-human limits (`mints_per_minute`) are counted by the caller after a success only.

use serde_json::json;
use sha2::Digest as _;
use warrant_core::grant::Method;
use warrant_core::keys::{PublicKey, Signature};
use warrant_core::time::Timestamp;

use crate::api::{challenge_message, Verification};
use crate::error::ApiError;
use crate::metrics::Outcome;
use crate::state::AppState;
use crate::store::{Challenge, HumanRow};

const NOT_ENROLLED: &str = "this device key is not enrolled for the human";

/// A human verified just now.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The human.
    pub human: HumanRow,
    /// How they proved it.
    pub method: Method,
    /// When: now for a device key; the ID token's `auth_time`, else `iat`, for OIDC.
    pub at: Timestamp,
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
}

/// The shape of a verification, whoever it names (400).
fn check_shape<'a>(s: &AppState, v: &'a Verification) -> Result<Checked<'a>, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let nonce = match v {
        Verification::DeviceKey { nonce, .. } | Verification::Oidc { nonce, .. } => nonce,
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
    }
}

/// Verifies that the request comes from the human named `human_id`, for a request from
/// `client` (see the module documentation for the order of the checks): the human, and
/// how and when they proved who they are, or a 400, 401 or 429.
pub(crate) async fn verify_human(
    s: &AppState,
    client: &str,
    human_id: &str,
    v: &Verification,
) -> Result<Verified, ApiError> {
    check_human_id(human_id)?;
    let checked = check_shape(s, v)?;
    s.rate_limit(
        "verification-client",
        client,
        s.config.verifications_per_minute_per_client,
    )
    .await?;
    // One lookup whoever is named; the proof below does not depend on its result.
    let human = s.store.human(human_id).await?;
    let now = s.now();
    let (method, outcome, extra): (Method, Result<Timestamp, String>, serde_json::Value) =
        match checked {
            Checked::DeviceKey {
                key,
                signature,
                nonce,
            } => {
                let outcome = device_key(s, human_id, &key, &signature, nonce).await?;
                (
                    Method::DeviceKey,
                    outcome.map(|()| now).map_err(str::to_owned),
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
        };
    let outcome = match (outcome, human) {
        (Ok(at), Some(human)) => Ok((human, at)),
        // Only whoever holds a valid proof for this id gets here.
        (Ok(_), None) => Err("the issuer does not know this human".to_owned()),
        (Err(why), _) => Err(why),
    };
    let result = if outcome.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    s.metrics.verified(method, result);
    match outcome {
        Ok((human, at)) => {
            let detail = json!({
                "method": method.as_str(), "human": human.id, "ok": true,
                "reason": null, "details": extra,
            });
            s.audit("verification", &human.id, detail).await?;
            Ok(Verified { human, method, at })
        }
        Err(why) => {
            s.metrics.failures.add(human_id, method.as_str(), &why, now);
            Err(ApiError::Unauthorized(format!(
                "verification failed: {why}"
            )))
        }
    }
}

/// A device key's answer to a challenge: the signature first (it needs nothing stored),
/// then the key's enrolment for `human_id`, then the challenge, consumed.
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
    if !s
        .store
        .redeem_challenge(Challenge::Human, nonce, human_id, s.now().unix_i64())
        .await?
    {
        return Ok(Err("the challenge is unknown, expired or already used"));
    }
    Ok(Ok(()))
}

/// An ID token's answer: verified, naming `human_id`, carrying an unused challenge for
/// them, and not used before. When the human authenticated, and what to record of it.
async fn oidc(
    s: &AppState,
    human_id: &str,
    provider: &str,
    id_token: &str,
    nonce: &str,
    now: Timestamp,
) -> Result<(Result<Timestamp, String>, serde_json::Value), ApiError> {
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
            if !s
                .store
                .redeem_challenge(Challenge::Human, nonce, human_id, now.unix_i64())
                .await?
            {
                Err("the nonce is unknown, expired or already used".to_owned())
            } else if !s.store.use_id_token(&digest, keep_until).await? {
                Err("this ID token was used before: sign in again".to_owned())
            } else {
                Ok(id.authenticated_at)
            }
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
