//! What every request handler shares.

use std::sync::{Arc, PoisonError, RwLock};

use warrant_core::time::Timestamp;
use warrant_verifier::{Request, Verifier};

use crate::config::Config;
use crate::error::ApiError;
use crate::keyring::{Kek, Keyring};
use crate::store::Store;

/// The audience of admin tokens.
pub const ADMIN_AUDIENCE: &str = "warrant-issuer";

/// The keys in use and a verifier for admin tokens made from them.
#[derive(Debug)]
pub struct Keys {
    /// Signing and published keys.
    pub ring: Keyring,
    /// Verifies admin tokens against the published keys.
    pub admin: Verifier,
}

impl Keys {
    /// Wraps a keyring.
    pub fn new(ring: Keyring) -> Self {
        let admin = Verifier::new(ring.published.clone())
            .with_audience(ADMIN_AUDIENCE)
            .allow_bearer(true);
        Self { ring, admin }
    }
}

/// Shared state: cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// Configuration.
    pub config: Arc<Config>,
    /// Keys (replaced on rotation).
    pub keys: Arc<RwLock<Arc<Keys>>>,
    /// The key-encryption key, if configured.
    pub kek: Option<Kek>,
    /// The clock (tests move it).
    pub clock: Clock,
}

/// Where the time comes from.
#[derive(Clone)]
pub struct Clock(pub Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(|| {
            Timestamp::from_system_time(std::time::SystemTime::now())
        }))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl AppState {
    /// The current time.
    pub fn now(&self) -> Timestamp {
        (self.clock.0)()
    }

    /// The keys in use.
    pub fn keys(&self) -> Arc<Keys> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the keys.
    pub fn set_keys(&self, ring: Keyring) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Keys::new(ring));
    }

    /// Checks the admin token of a request for `action` on `resource` (`admin/…`); the
    /// actor's name for the audit log.
    pub fn admin(
        &self,
        headers: &axum::http::HeaderMap,
        resource: &str,
        action: &str,
    ) -> Result<String, ApiError> {
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "this endpoint needs an admin token: `Authorization: Bearer <token>`".into(),
                )
            })?;
        let req = Request::new(resource, action, self.now());
        match self.keys().admin.verify(token, &req) {
            warrant_verifier::Decision::Allowed(claims) => {
                Ok(claims.human.unwrap_or_else(|| "admin".into()))
            }
            warrant_verifier::Decision::Denied(d) if d.kind.is_invalid_token() => Err(
                ApiError::Unauthorized(format!("invalid admin token: {}", d.message)),
            ),
            warrant_verifier::Decision::Denied(d) => Err(ApiError::Forbidden(format!(
                "the admin token does not permit this: {}",
                d.message
            ))),
        }
    }

    /// Appends an audit entry, and signs the head when it is time.
    pub async fn audit(
        &self,
        kind: &str,
        actor: &str,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        let row = self
            .store
            .audit(self.now().unix_i64(), kind, actor, &detail)
            .await?;
        self.maybe_sign_head(row.seq).await
    }

    /// Signs the audit head if `seq` is a multiple of the configured interval.
    pub async fn maybe_sign_head(&self, seq: i64) -> Result<(), ApiError> {
        if seq % self.config.audit_sign_every != 0 {
            return Ok(());
        }
        let head = self
            .store
            .audit_since(seq - 1, 1)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::Internal(format!("audit entry {seq} vanished")))?;
        let keys = self.keys();
        let sig = keys
            .ring
            .active
            .sign(crate::audit::head_message(head.seq, &head.hash).as_bytes());
        let detail = serde_json::json!({
            "seq": head.seq,
            "hash": head.hash,
            "kid": keys.ring.active.key_id().map(|k| k.0),
            "signature": hex::encode(sig),
        });
        self.store
            .audit(
                self.now().unix_i64(),
                crate::audit::HEAD_SIGNATURE,
                "issuer",
                &detail,
            )
            .await?;
        Ok(())
    }
}
