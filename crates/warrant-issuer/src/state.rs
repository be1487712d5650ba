//! What every request handler shares.

use std::sync::{Arc, PoisonError, RwLock};

use sqlx::AnyConnection;
use warrant_core::time::Timestamp;

use crate::api;
use crate::audit::{AuditRow, HeadSignature};
use crate::config::Config;
use crate::error::ApiError;
use crate::keyring::{Kek, Keyring, KeyringError};
use crate::metrics::Metrics;
use crate::oidc::{OidcError, OidcVerifier};
use crate::store::{Challenge, HumanRow, KeyVersion, RoleRow, Store, StoreError, Tx};

/// The keys in use. They sign warrant tokens and audit heads, never admin credentials
/// (crate::admin).
#[derive(Debug)]
pub struct Keys {
    /// Signing and published keys.
    pub ring: Keyring,
}

impl Keys {
    /// Wraps a keyring.
    pub fn new(ring: Keyring) -> Self {
        Self { ring }
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
    /// Counters and latencies for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Verifies ID tokens of the configured identity providers.
    pub oidc: OidcVerifier,
    /// The audit entry this replica last signed or saw, which every head it signs must
    /// still follow.
    pub audit_anchor: Arc<tokio::sync::Mutex<AuditAnchor>>,
    /// The WebAuthn relying party (or why passkeys are off).
    pub(crate) passkeys: Arc<crate::webauthn::Passkeys>,
    /// OAuth clients: registered, and metadata documents fetched lately.
    pub(crate) oauth_clients: Arc<crate::clients::Clients>,
}

/// What this replica knows of the audit chain: the last entry it signed or saw (its
/// position and hash). The chain only grows, so that entry must stay as it was; when it
/// does not, the database was rewritten (or restored from a backup) and the replica stops
/// signing until it is restarted, rather than vouch for the rewrite.
#[derive(Debug, Default)]
pub struct AuditAnchor {
    seen: Option<(i64, String)>,
    broken: Option<String>,
}

/// Why the issuer's state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys.
    #[error(transparent)]
    Keys(#[from] KeyringError),
    /// The identity providers' configuration.
    #[error(transparent)]
    Oidc(#[from] OidcError),
    /// Seeding roles and humans from the configuration.
    #[error("{0}")]
    Seed(#[source] ApiError),
    /// Passkeys configured so that they cannot work.
    #[error("{0}")]
    Passkeys(String),
}

impl AppState {
    /// Opens storage at `database`, loads (or creates) the keys and seeds roles and humans
    /// from `config`.
    pub async fn open(config: Config, database: &str, kek: Option<Kek>) -> Result<Self, OpenError> {
        let store = Store::connect(database).await?;
        let clock = Clock::system();
        let now = (clock.0)();
        let ring = crate::keyring::load(&store, kek.as_ref(), now.unix_i64()).await?;
        let oidc = OidcVerifier::new(config.oidc.clone(), config.oidc_max_age)?;
        let passkeys = crate::webauthn::Passkeys::from_config(
            &config.public_url,
            config.passkey_rp_id.as_deref(),
        )
        .map_err(OpenError::Passkeys)?;
        if let (Some(h), Err(why)) = (config.humans.iter().find(|h| h.invite), passkeys.on()) {
            return Err(OpenError::Passkeys(format!(
                "human `{}` has `invite = true`, but {why}",
                h.id
            )));
        }
        let state = AppState {
            store,
            keys: Arc::new(RwLock::new(Arc::new(Keys::new(ring)))),
            kek,
            clock,
            metrics: Arc::default(),
            oidc,
            audit_anchor: Arc::default(),
            passkeys: Arc::new(passkeys),
            oauth_clients: Arc::new(crate::clients::Clients::new(
                config.oauth.clients.clone(),
                config.oauth.dangerous_allow_private_client_metadata,
            )),
            config: Arc::new(config),
        };
        state.seed().await?;
        Ok(state)
    }

    /// Stores the configuration's roles and humans (upserts: replicas may seed at once).
    async fn seed(&self) -> Result<(), OpenError> {
        let now = self.now().unix_i64();
        for r in &self.config.roles {
            let row = RoleRow {
                name: r.name.clone(),
                ceiling: r.ceiling.to_json().to_string(),
                max_ttl: i64::try_from(r.max_ttl.seconds()).unwrap_or(i64::MAX),
            };
            self.store.put_role(&row).await?;
        }
        for h in &self.config.humans {
            let row = HumanRow {
                id: h.id.clone(),
                display_name: h.display_name.clone(),
                roles: h.roles.clone(),
                attrs: h.attrs.clone(),
            };
            self.store.put_human(&row, now).await?;
            for k in &h.device_keys {
                self.store
                    .add_device_key(&h.id, &k.to_string(), now)
                    .await?;
            }
        }
        if !self.config.roles.is_empty() || !self.config.humans.is_empty() {
            let detail = serde_json::json!({
                "roles": self.config.roles.iter().map(|r| &r.name).collect::<Vec<_>>(),
                "humans": self.config.humans.iter().map(|h| &h.id).collect::<Vec<_>>(),
            });
            self.audit("seed", "config", detail)
                .await
                .map_err(OpenError::Seed)?;
        }
        Ok(())
    }
}

/// What a request's transaction does with a failure: a failure of ours (a 500) rolls it
/// back, every other answer (a refusal, a 401, a 429) commits what the request counted and
/// recorded before it.
pub(crate) trait Failure: From<StoreError> {
    /// Whether this is a failure of ours.
    fn is_ours(&self) -> bool;
}

impl Failure for ApiError {
    fn is_ours(&self) -> bool {
        matches!(self, Self::Internal(_))
    }
}

/// Ends a request's transaction: commits it unless `result` is a failure of ours
/// ([`Failure`]), then returns `result` (or the failure to commit). A request that fails
/// with a 500 therefore leaves nothing behind: no counted attempt, no consumed challenge,
/// no audit entry, no token row.
pub(crate) async fn finish<T, E: Failure>(tx: Tx, result: Result<T, E>) -> Result<T, E> {
    match &result {
        Err(e) if e.is_ours() => {
            // Rolled back explicitly, so the connection goes back to the pool clean; the
            // failure that made us roll back is the one to report.
            let _ = tx.rollback().await;
        }
        _ => tx.commit().await.map_err(|e| E::from(e.into()))?,
    }
    result
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

    /// Reloads the keys from the database when another replica rotated them, and
    /// recomputes which retired keys are still published (for the published key sets).
    pub async fn reload_keys(&self) -> Result<(), ApiError> {
        let rows = self.store.signing_keys().await?;
        let now = self.now().unix_i64();
        let current = self.keys();
        let published_now = rows
            .iter()
            .filter(|r| r.retired_at.is_none() || r.last_expiry > now)
            .count();
        if KeyVersion::of(&rows) == current.ring.version
            && published_now == current.ring.published.keys.len()
        {
            return Ok(());
        }
        let ring = crate::keyring::from_rows(&rows, self.kek.as_ref(), now)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        tracing::info!(keys = ring.published.keys.len(), "signing keys reloaded");
        self.set_keys(ring);
        Ok(())
    }

    /// The keys to sign with now: the cached ones, reloaded only when the stored keys
    /// changed since they were loaded (a rotation here or at another replica), which one
    /// small query tells.
    pub async fn current_keys(&self) -> Result<Arc<Keys>, ApiError> {
        let keys = self.keys();
        if self.store.key_version().await? == keys.ring.version {
            return Ok(keys);
        }
        self.reload_keys().await?;
        Ok(self.keys())
    }

    /// Replaces the keys.
    pub fn set_keys(&self, ring: Keyring) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Keys::new(ring));
    }

    /// Counts one `what` event for `who` on `conn`, the request's transaction; a 429 past
    /// `per_minute` in the current minute. The request's transaction commits on a 429 (and
    /// on every answer but a failure of ours, see [`finish`]), so the count stays.
    pub async fn rate_limit(
        &self,
        conn: &mut AnyConnection,
        what: &str,
        who: &str,
        per_minute: i64,
    ) -> Result<(), ApiError> {
        let now = self.now().unix_i64();
        let window = now - now.rem_euclid(60);
        let count = Store::count_event(conn, &format!("{what}:{who}"), window).await?;
        if count > per_minute {
            let after = u64::try_from(window + 60 - now).unwrap_or(60);
            return Err(ApiError::TooMany(
                format!("more than {per_minute} {what} requests a minute for `{who}`: retry in {after}s"),
                after,
            ));
        }
        Ok(())
    }

    /// Appends an audit entry, and signs the head when it is time.
    pub async fn audit(
        &self,
        kind: &str,
        actor: &str,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        let entry = self
            .store
            .audit(self.now().unix_i64(), kind, actor, &detail)
            .await?;
        self.maybe_sign_head(&entry).await
    }

    /// Issues a one-time challenge of `kind` to `subject` (a human id, an agent key): a
    /// fresh nonce, stored on `conn` (the request's transaction) until `challenge_ttl` from
    /// now, and the text to sign.
    pub async fn issue_challenge(
        &self,
        conn: &mut AnyConnection,
        kind: Challenge,
        subject: &str,
    ) -> Result<api::Challenge, ApiError> {
        let nonce = crate::secrets::random_hex(32);
        let expires = self.now().plus(self.config.challenge_ttl);
        Store::issue_challenge(conn, kind, &nonce, subject, expires.unix_i64()).await?;
        let sign = match kind {
            Challenge::Human => api::challenge_message(&nonce),
            Challenge::Agent => api::agent_challenge_message(&nonce),
        };
        Ok(api::Challenge {
            sign,
            nonce,
            expires_at: expires.to_string(),
        })
    }

    /// Signs `entry`, just appended, once `audit_sign_every` entries follow the last entry
    /// a head signature names, so no more than that many entries ever lie between two
    /// signed heads (whichever path appended them, on whichever replica): `warrant audit
    /// verify` holds the chain to that.
    pub async fn maybe_sign_head(&self, entry: &AuditRow) -> Result<(), ApiError> {
        let every = self.config.audit_sign_every;
        let seq = entry.seq;
        // A signature naming an entry after `seq - every` comes after it too.
        let last = self
            .store
            .last_signed_within(seq - every, seq)
            .await?
            .unwrap_or(0);
        if seq - last < every {
            return Ok(());
        }
        self.sign_head(entry).await
    }

    /// Signs the current head unless it is a head signature already (run every
    /// `audit_sign_interval`, so a quiet issuer's log is still vouched for, and before
    /// every export).
    pub async fn sign_current_head(&self) -> Result<(), ApiError> {
        match self.store.audit_last().await? {
            Some(head) if head.kind != crate::audit::HEAD_SIGNATURE => self.sign_head(&head).await,
            Some(head) => {
                // Nothing to sign: still check the chain and move the anchor, so the next
                // check is against a recent entry.
                let mut anchor = self.audit_anchor.lock().await;
                if self.chain_follows_anchor(&mut anchor, &head).await? {
                    anchor.seen = Some((head.seq, head.hash));
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Whether `head` may be signed: its hash matches its content and the entry this
    /// replica last signed or saw is still in place. When not, logs an error (once) and
    /// remembers it: the replica then signs nothing more until it is restarted.
    async fn chain_follows_anchor(
        &self,
        anchor: &mut AuditAnchor,
        head: &AuditRow,
    ) -> Result<bool, ApiError> {
        if let Some(why) = &anchor.broken {
            tracing::debug!(seq = head.seq, why = %why, "audit head not signed: the audit chain was rewritten");
            return Ok(false);
        }
        let why = if crate::audit::entry_hash(head) != head.hash {
            Some(format!(
                "entry {} does not match its hash: it was altered",
                head.seq
            ))
        } else if let Some((seq, hash)) = &anchor.seen {
            match self.store.audit_at(*seq).await? {
                Some(row) if row.hash == *hash => None,
                Some(row) => Some(format!(
                    "entry {seq} was `{hash}` when this issuer signed or saw it, and is now `{}`",
                    row.hash
                )),
                None => Some(format!(
                    "entry {seq} was `{hash}` when this issuer signed or saw it, and is now gone"
                )),
            }
        } else {
            None
        };
        match why {
            None => Ok(true),
            Some(why) => {
                tracing::error!(
                    seq = head.seq,
                    why = %why,
                    "the audit chain was rewritten in the database (or restored from a backup): this issuer signs no audit head until it is restarted; export the log, check it with `warrant audit verify`, and find out who wrote to the database"
                );
                anchor.broken = Some(why);
                Ok(false)
            }
        }
    }

    /// Signs `head`, unless the chain no longer follows the entry this replica last signed
    /// or saw ([`AuditAnchor`]): then it refuses, and the unsigned entries fail
    /// `warrant audit verify`.
    async fn sign_head(&self, head: &AuditRow) -> Result<(), ApiError> {
        // Held while signing: one signature at a time per replica, the anchor in step.
        let mut anchor = self.audit_anchor.lock().await;
        if !self.chain_follows_anchor(&mut anchor, head).await? {
            return Ok(());
        }
        let signature = HeadSignature::sign(head, &self.keys().ring.active);
        let detail = serde_json::to_value(&signature).map_err(|e| {
            ApiError::Internal(format!(
                "the audit head signature could not be written: {e}"
            ))
        })?;
        self.store
            .audit(
                self.now().unix_i64(),
                crate::audit::HEAD_SIGNATURE,
                "issuer",
                &detail,
            )
            .await?;
        if anchor.seen.as_ref().is_none_or(|(seq, _)| *seq < head.seq) {
            anchor.seen = Some((head.seq, head.hash.clone()));
        }
        Ok(())
    }
}
