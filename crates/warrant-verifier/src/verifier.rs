//! The verifier: trusted keys, revocations, audience, limits, and the one place a token
//! meets a request.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use base64::Engine as _;
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits};
use warrant_core::budget::MAX_REQUEST_STRING_BYTES;
use warrant_core::decompile::Lifted;
use warrant_core::dpop::{check_proof, Expected};
use warrant_core::eval::{evaluate, Shown};
use warrant_core::keys::{KeySet, PublicKey};
use warrant_core::time::Span;
use warrant_core::token::{decode_base64_limited, TokenError, PROFILE_VERSION};

use crate::cache::TokenCache;
use crate::config::{Config, VerifierBuilder};
use crate::decision::{Claims, Decision, Denial, DenialKind};
use crate::explain;
use crate::request::Request;
use crate::revocation::RevocationSet;
use crate::verified::{Trusted, VerifiedToken};

/// A source's current copy and when it was last refreshed (`None`: loaded once, never stale).
#[derive(Debug)]
struct Copy<T> {
    value: Arc<T>,
    refreshed: Option<Instant>,
}

#[derive(Debug)]
struct KeyState {
    trusted: Trusted,
    version: u64,
}

/// Called when a token names a key id the key set lacks (a key-set refresher listens).
type UnknownKeyHook = Arc<dyn Fn() + Send + Sync>;

struct Inner {
    config: Config,
    keys: RwLock<Copy<KeyState>>,
    revocations: RwLock<Copy<RevocationSet>>,
    versions: AtomicU64,
    cache: TokenCache,
    on_unknown_key: RwLock<Option<UnknownKeyHook>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .field("keys", &self.keys)
            .field("revocations", &read(&self.revocations).value.len())
            .finish_non_exhaustive()
    }
}

/// Verifies tokens offline. Build once, clone freely (an `Arc` inside), share across
/// threads. Key sets and revocations can be replaced while it is in use.
#[derive(Debug, Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl Verifier {
    /// A builder for a verifier trusting the keys of `keys`, by key id; see
    /// [`VerifierBuilder`] for its settings.
    ///
    /// ```
    /// use warrant_verifier::{KeyId, KeySet, Verifier};
    /// # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
    /// let verifier = Verifier::builder(KeySet::single(KeyId(1), key.public()))
    ///     .audience("support-api")
    ///     .build();
    /// ```
    pub fn builder(keys: KeySet) -> VerifierBuilder {
        VerifierBuilder::new(Trusted::Set(keys))
    }

    /// A verifier trusting the keys of `keys` with every default setting: the short form
    /// of `Verifier::builder(keys).build()`.
    pub fn new(keys: KeySet) -> Self {
        Self::builder(keys).build()
    }

    /// Dangerous: a builder for a verifier trusting one public key whatever key id a
    /// token names. A token signed by `key` under a key id the issuer never gave it (a
    /// retired id, or one meant for another key) is accepted, so key ids no longer tell
    /// keys apart and a rotation cannot retire `key` by its id. Prefer
    /// [`Verifier::builder`] with the issuer's key set.
    pub fn dangerous_any_key_id(key: PublicKey) -> VerifierBuilder {
        VerifierBuilder::new(Trusted::Single(key))
    }

    fn from_parts(config: Config, trusted: Trusted) -> Self {
        let cache = TokenCache::new(config.cache_capacity, config.datalog_only);
        Self {
            inner: Arc::new(Inner {
                config,
                keys: RwLock::new(Copy {
                    value: Arc::new(KeyState {
                        trusted,
                        version: 0,
                    }),
                    refreshed: None,
                }),
                revocations: RwLock::new(Copy {
                    value: Arc::new(RevocationSet::new()),
                    refreshed: None,
                }),
                versions: AtomicU64::new(1),
                cache,
                on_unknown_key: RwLock::new(None),
            }),
        }
    }

    /// Whether `bytes` are in the verified-token cache under the current keys.
    #[cfg(test)]
    pub(crate) fn is_lifted(&self, bytes: &[u8]) -> bool {
        let keys = Arc::clone(&read(&self.inner.keys).value);
        self.inner
            .cache
            .get_or_verify(bytes, keys.version, &keys.trusted)
            .is_ok_and(|(v, _)| v.lifted.is_some())
    }

    /// Starts trusting `keys` instead (for example after a rotation). Tokens verified under
    /// the old keys are verified again.
    pub fn set_keys(&self, keys: KeySet) {
        self.replace_keys(Trusted::Set(keys), None);
    }

    pub(crate) fn replace_keys(&self, trusted: Trusted, refreshed: Option<Instant>) {
        let version = self.inner.versions.fetch_add(1, Ordering::Relaxed);
        *write(&self.inner.keys) = Copy {
            value: Arc::new(KeyState { trusted, version }),
            refreshed,
        };
        self.inner.cache.clear();
    }

    /// Registers the function called when a token names an unknown key id.
    #[cfg_attr(
        not(feature = "refresh"),
        expect(dead_code, reason = "only the refresher calls it")
    )]
    pub(crate) fn on_unknown_key(&self, hook: UnknownKeyHook) {
        *write(&self.inner.on_unknown_key) = Some(hook);
    }

    /// Records that the key set was confirmed unchanged by a refresh.
    #[cfg_attr(
        not(feature = "refresh"),
        expect(dead_code, reason = "only the refresher calls it")
    )]
    pub(crate) fn keys_confirmed(&self, at: Instant) {
        write(&self.inner.keys).refreshed = Some(at);
    }

    /// The key set currently trusted (`None` when built from a single public key).
    pub fn keys(&self) -> Option<KeySet> {
        match &read(&self.inner.keys).value.trusted {
            Trusted::Set(s) => Some(s.clone()),
            Trusted::Single(_) => None,
        }
    }

    /// Replaces the revocation set.
    pub fn set_revocations(&self, revocations: RevocationSet) {
        self.replace_revocations(revocations, None);
    }

    pub(crate) fn replace_revocations(&self, set: RevocationSet, refreshed: Option<Instant>) {
        *write(&self.inner.revocations) = Copy {
            value: Arc::new(set),
            refreshed,
        };
    }

    /// The revocation set currently applied.
    pub fn revocations(&self) -> RevocationSet {
        (*read(&self.inner.revocations).value).clone()
    }

    /// Verifies base64 token text for `request`. A DPoP proof's `ath` must be the hash of
    /// this text (surrounding whitespace aside).
    pub fn verify(&self, token: &str, request: &Request) -> Decision {
        let bytes = match decode_base64_limited(token, self.inner.config.max_token_bytes) {
            Ok(b) => b,
            Err(e) => return Decision::Denied(explain::decode_denial(&e)),
        };
        self.decide(&bytes, Some(token.trim()), request)
    }

    /// Verifies raw token bytes for `request`. A DPoP proof's `ath` must then be the hash
    /// of the bytes' padded URL-safe base64 (the form `warrant` prints).
    pub fn verify_bytes(&self, bytes: &[u8], request: &Request) -> Decision {
        self.decide(bytes, None, request)
    }

    fn decide(&self, bytes: &[u8], text: Option<&str>, request: &Request) -> Decision {
        match self.check(bytes, text, request) {
            Ok(claims) => Decision::Allowed(claims),
            Err(denial) => Decision::Denied(*denial),
        }
    }

    fn stale(&self, refreshed: Option<Instant>, what: &str) -> Result<(), Box<Denial>> {
        let (Some(bound), Some(at)) = (self.inner.config.max_staleness, refreshed) else {
            return Ok(());
        };
        let age = at.elapsed();
        if age > bound {
            return Err(Box::new(Denial::new(
                DenialKind::Stale,
                format!(
                    "the {what} could not be refreshed for {}s, longer than the {}s allowed",
                    age.as_secs(),
                    bound.as_secs()
                ),
            )));
        }
        Ok(())
    }

    fn check(
        &self,
        bytes: &[u8],
        text: Option<&str>,
        request: &Request,
    ) -> Result<Claims, Box<Denial>> {
        let config = &self.inner.config;
        if bytes.len() > config.max_token_bytes {
            return Err(Box::new(explain::decode_denial(&TokenError::TooLarge {
                size: bytes.len(),
                limit: config.max_token_bytes,
            })));
        }
        let keys = {
            let copy = read(&self.inner.keys);
            self.stale(copy.refreshed, "trusted key set")?;
            Arc::clone(&copy.value)
        };
        let (verified, _) = self
            .inner
            .cache
            .get_or_verify(bytes, keys.version, &keys.trusted)
            .inspect_err(|d| {
                if d.kind == DenialKind::UnknownKey {
                    if let Some(hook) = read(&self.inner.on_unknown_key).as_ref() {
                        hook();
                    }
                }
            })?;
        if let Err(d) = &verified.admission {
            return Err(Box::new(d.clone()));
        }
        check_request(request)?;
        self.check_revoked(&verified)?;
        if let Err(d) = &verified.holders {
            return Err(Box::new(d.clone()));
        }
        let proof = match verified.holder() {
            None if !config.accept_bearer => {
                return Err(Box::new(Denial::new(
                    DenialKind::BearerRefused,
                    "the token is not bound to a holder key and this API refuses bearer tokens",
                )))
            }
            None => None,
            Some(holder) => Some(self.check_proof(holder, bytes, text, request)?),
        };
        let req = self.effective_request(request);
        match &verified.lifted {
            Some(lifted) if !config.datalog_only => native(&verified, lifted, &req)?,
            _ => self.datalog(&verified, &req)?,
        }
        // Only a request that passed every other check uses up its proof's id: proofs
        // riding on an expired, revoked or useless token cannot fill the replay cache.
        if let Some(proof) = proof {
            self.record_proof(&proof)?;
        }
        Ok(verified.claims.clone())
    }

    /// The request as the token sees it: the verifier's audience by default, and the time
    /// moved back by the clock skew.
    fn effective_request<'a>(
        &self,
        request: &'a Request,
    ) -> Cow<'a, warrant_core::request::RequestFacts> {
        let config = &self.inner.config;
        let needs_audience = request.0.audience.is_none() && config.audience.is_some();
        if !needs_audience && config.clock_skew.is_zero() {
            return Cow::Borrowed(&request.0);
        }
        let mut req = request.0.clone();
        if needs_audience {
            req.audience.clone_from(&config.audience);
        }
        req.time = req
            .time
            .minus(Span::from_seconds(config.clock_skew.as_secs()));
        Cow::Owned(req)
    }

    fn check_revoked(&self, v: &VerifiedToken) -> Result<(), Box<Denial>> {
        let copy = read(&self.inner.revocations);
        self.stale(copy.refreshed, "revocation list")?;
        let set = &copy.value;
        if set.is_empty() {
            return Ok(());
        }
        let revoked = |message: String, block: Option<usize>| {
            let mut d = Denial::new(DenialKind::Revoked, message);
            d.block = block;
            Err(Box::new(d))
        };
        if v.token_id.as_ref().is_some_and(|d| set.contains(d)) {
            let id = v.authority.token_id.as_deref().unwrap_or_default();
            return revoked(format!("the token `{id}` is revoked"), Some(0));
        }
        if let Some(i) = v.holder_digests.iter().position(|d| set.contains(d)) {
            let h = v
                .holders
                .as_ref()
                .ok()
                .and_then(|hs| hs.get(i))
                .map(ToString::to_string)
                .unwrap_or_default();
            return revoked(format!("every token of holder `{h}` is revoked"), None);
        }
        if let Some(i) = v.revocation_ids.iter().position(|d| set.contains(d)) {
            return revoked(format!("block {i} of the token is revoked"), Some(i));
        }
        Ok(())
    }

    /// The DPoP proof of a holder-bound token: by the current holder, for this request,
    /// fresh and for this token. Whether it was seen before is checked last
    /// ([`Self::record_proof`]), once every other check has passed.
    fn check_proof(
        &self,
        holder: &PublicKey,
        bytes: &[u8],
        text: Option<&str>,
        request: &Request,
    ) -> Result<ProofUse, Box<Denial>> {
        let config = &self.inner.config;
        let invalid = |message: String| Box::new(Denial::new(DenialKind::InvalidProof, message));
        let Some(input) = &request.1 else {
            return Err(invalid(format!(
                "the token is bound to holder `{holder}`: the request needs a DPoP proof signed by that key"
            )));
        };
        let encoded;
        let token_text = match text {
            Some(t) => t,
            None => {
                encoded = base64::engine::general_purpose::URL_SAFE.encode(bytes);
                &encoded
            }
        };
        let now = request.0.time;
        let proof = check_proof(
            &input.proof,
            &Expected {
                holder,
                method: &input.method,
                url: &input.url,
                token: token_text,
                now,
                window: config.proof_window,
            },
        )
        .map_err(|e| invalid(e.to_string()))?;
        Ok(ProofUse {
            id: format!("{}:{}", holder.jwk_x(), proof.jti),
            jti: proof.jti,
            until: proof.iat.plus(config.proof_window),
            now,
        })
    }

    /// Records a checked proof's id as used; refuses it if it was used before. Keyed by
    /// holder and `jti`: someone who sees a proof in flight cannot use up its `jti` with
    /// a proof of their own.
    fn record_proof(&self, proof: &ProofUse) -> Result<(), Box<Denial>> {
        if !self
            .inner
            .config
            .replay
            .first_use(&proof.id, proof.until, proof.now)
        {
            return Err(Box::new(Denial::new(
                DenialKind::InvalidProof,
                format!(
                    "the DPoP proof `{}` was already used: every request needs a fresh proof",
                    Shown(&proof.jti)
                ),
            )));
        }
        Ok(())
    }

    /// Biscuit's own evaluation, for tokens with a block outside the profile.
    fn datalog(
        &self,
        v: &VerifiedToken,
        req: &warrant_core::request::RequestFacts,
    ) -> Result<(), Box<Denial>> {
        let Some(token) = &v.token else {
            return Err(Box::new(Denial::new(
                DenialKind::Evaluation,
                "the verified token was kept without its Biscuit: verify it again",
            )));
        };
        let limits = self.inner.config.limits;
        let (src, params) = req.datalog();
        let run = AuthorizerBuilder::new()
            .set_limits(AuthorizerLimits {
                max_facts: limits.max_facts,
                max_iterations: limits.max_iterations,
                max_time: limits.max_time,
            })
            .code_with_params(&src, params, Default::default())
            .and_then(|b| {
                b.policy(
                    format!("allow if warrant({PROFILE_VERSION}, $id, $issuer, $issued_at)")
                        .as_str(),
                )
            })
            .and_then(|b| b.build(token))
            .and_then(|mut a| a.authorize());
        match run {
            Ok(_) => Ok(()),
            Err(e) => Err(Box::new(explain::from_biscuit(
                token,
                &match (&v.lifted, &v.blocks) {
                    (Some(l), _) => explain::ProfileBlocks::Lifted(l),
                    (None, b) => explain::ProfileBlocks::Data(b.as_deref().unwrap_or_default()),
                },
                &v.authority,
                req,
                &e,
            ))),
        }
    }
}

impl VerifierBuilder {
    /// The verifier, with the keys this builder was made with and no revocations.
    pub fn build(self) -> Verifier {
        Verifier::from_parts(self.config, self.trusted)
    }
}

/// A checked DPoP proof whose id is still to be recorded.
struct ProofUse {
    id: String,
    jti: String,
    until: warrant_core::time::Timestamp,
    now: warrant_core::time::Timestamp,
}

/// The request itself must make sense before any token is evaluated against it: a
/// canonical resource name, a well-formed action and attribute names, no more attributes
/// and no longer values than the evaluation budget assumes.
fn check_request(request: &Request) -> Result<(), Box<Denial>> {
    let invalid = |message: String| Box::new(Denial::new(DenialKind::InvalidRequest, message));
    request
        .check()
        .map_err(|e| invalid(Shown(&e.to_string()).to_string()))?;
    let req = &request.0;
    let too_long = |what: &str, s: &str| {
        (s.len() > MAX_REQUEST_STRING_BYTES).then(|| {
            invalid(format!(
                "the request's {what} is {} bytes, more than the {MAX_REQUEST_STRING_BYTES} a verifier evaluates",
                s.len()
            ))
        })
    };
    let strings = std::iter::once(("action".to_owned(), req.action.as_str()))
        .chain(req.audience.as_deref().map(|a| ("audience".to_owned(), a)))
        .chain(req.attrs.iter().filter_map(|(name, value)| match value {
            warrant_core::value::Value::String(v) => {
                Some((format!("attribute `{}`", Shown(name)), v.as_str()))
            }
            _ => None,
        }));
    for (what, s) in strings {
        if let Some(d) = too_long(&what, s) {
            return Err(d);
        }
    }
    Ok(())
}

/// Native evaluation of a token whose every block is in the profile: the same checks as
/// its Datalog (a differential property test holds them together), without Biscuit's
/// per-request world building.
fn native(
    v: &VerifiedToken,
    lifted: &Lifted,
    req: &warrant_core::request::RequestFacts,
) -> Result<(), Box<Denial>> {
    let mut best: Option<Denial> = None;
    for (i, block) in lifted.blocks.iter().enumerate() {
        for failure in evaluate(&block.grant, v.human.as_ref(), req) {
            let role = failure.role();
            let check = block
                .roles
                .iter()
                .position(|r| *r == role)
                .and_then(|k| block.check_text(k));
            let d = explain::failure_denial(&failure, &block.grant, req);
            explain::keep_best(&mut best, explain::locate(d, v.signer(i), i, check));
        }
    }
    match best {
        Some(d) => Err(Box::new(d)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::ReplayCache;
    use std::time::Duration;
    use warrant_core::grant::Grant;
    use warrant_core::keys::{KeyId, SigningKey};
    use warrant_core::time::Timestamp;
    use warrant_core::token::{mint, MintRequest};

    const NOW: Timestamp = warrant_test::NOW;

    fn minted(key: &SigningKey) -> Vec<u8> {
        let g = Grant::from_json_str(r#"{"allow": [{"resources": ["r"], "actions": ["read"]}]}"#)
            .unwrap();
        mint(key, MintRequest::offline(g), NOW, &mut rand_core::OsRng)
            .unwrap()
            .token
            .to_vec()
            .unwrap()
    }

    fn req() -> Request {
        Request::new("r", "read", NOW)
    }

    #[test]
    fn a_verifier_is_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<Verifier>();
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let v = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .dangerous_accept_bearer()
            .build();
        let token = minted(&key);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (v, token) = (v.clone(), token.clone());
                std::thread::spawn(move || {
                    (0..50).all(|_| v.verify_bytes(&token, &req()).is_allowed())
                })
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap()));
    }

    #[test]
    fn the_cache_never_serves_other_bytes() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let v = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .dangerous_accept_bearer()
            .build();
        let token = minted(&key);
        assert!(v.verify_bytes(&token, &req()).is_allowed());
        let keys = Arc::clone(&read(&v.inner.keys).value);
        let (_, hit) = v
            .inner
            .cache
            .get_or_verify(&token, keys.version, &keys.trusted)
            .unwrap();
        assert!(hit, "the same bytes are a hit");
        // Every single-byte change misses the cache and is verified (and refused) anew.
        for i in (0..token.len()).step_by(7) {
            let mut t = token.clone();
            t[i] ^= 0x01;
            assert!(!v.verify_bytes(&t, &req()).is_allowed(), "byte {i}");
            assert!(
                v.inner
                    .cache
                    .get_or_verify(&t, keys.version, &keys.trusted)
                    .is_err(),
                "byte {i}: a refused token is never cached"
            );
        }
    }

    #[test]
    fn changing_the_keys_empties_the_cache() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let other = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(2)));
        let v = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .dangerous_accept_bearer()
            .build();
        let token = minted(&key);
        assert!(v.verify_bytes(&token, &req()).is_allowed());
        v.set_keys(KeySet::single(KeyId(2), other.public()));
        let d = v.verify_bytes(&token, &req());
        assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::UnknownKey));
        // Key id 1 now names another key: the cached verification must not count.
        v.set_keys(KeySet::single(KeyId(1), other.public()));
        let d = v.verify_bytes(&token, &req());
        assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::BadSignature));
    }

    #[test]
    fn a_cache_of_zero_still_verifies() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let v = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .dangerous_accept_bearer()
            .cache_capacity(0)
            .build();
        let token = minted(&key);
        assert!(v.verify_bytes(&token, &req()).is_allowed());
        assert!(v.verify_bytes(&token, &req()).is_allowed());
    }

    #[test]
    fn clock_skew_moves_the_request_time_back() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let g = Grant::from_json_str(
            r#"{"ttl": "1m", "allow": [{"resources": ["r"], "actions": ["read"]}]}"#,
        )
        .unwrap();
        let token = mint(&key, MintRequest::offline(g), NOW, &mut rand_core::OsRng)
            .unwrap()
            .token
            .to_vec()
            .unwrap();
        let late = Request::new("r", "read", NOW.plus(Span::from_seconds(90)));
        let builder =
            || Verifier::builder(KeySet::single(KeyId(1), key.public())).dangerous_accept_bearer();
        let strict = builder().build();
        assert_eq!(
            strict.verify_bytes(&token, &late).denial().map(|d| d.kind),
            Some(DenialKind::Expired)
        );
        let lenient = builder().clock_skew(Duration::from_secs(30)).build();
        assert!(lenient.verify_bytes(&token, &late).is_allowed());
    }

    #[test]
    fn bearer_tokens_can_be_refused() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let v = Verifier::new(KeySet::single(KeyId(1), key.public()));
        let d = v.verify_bytes(&minted(&key), &req());
        assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::BearerRefused));
    }

    #[test]
    fn only_the_dangerous_builder_ignores_key_ids() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(7)));
        let token = minted(&key);
        let by_id = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .dangerous_accept_bearer()
            .build();
        let d = by_id.verify_bytes(&token, &req());
        assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::UnknownKey));
        let any = Verifier::dangerous_any_key_id(key.public())
            .dangerous_accept_bearer()
            .build();
        assert!(any.verify_bytes(&token, &req()).is_allowed());
        assert_eq!(any.keys(), None);
    }

    #[test]
    fn a_built_verifier_shares_its_keys_and_revocations_with_its_clones() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let v = Verifier::builder(KeySet::default())
            .dangerous_accept_bearer()
            .build();
        let clone = v.clone();
        v.set_keys(KeySet::single(KeyId(1), key.public()));
        let token = minted(&key);
        assert!(clone.verify_bytes(&token, &req()).is_allowed());
        let id = clone
            .verify_bytes(&token, &req())
            .claims()
            .cloned()
            .unwrap();
        let mut revoked = RevocationSet::new();
        revoked
            .revoke_token_id(&id.token_id.unwrap_or_default())
            .unwrap();
        v.set_revocations(revoked);
        let d = clone.verify_bytes(&token, &req());
        assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::Revoked));
    }

    #[test]
    fn proof_ids_are_remembered_per_holder() {
        #[derive(Debug, Default)]
        struct Recorder(std::sync::Mutex<Vec<String>>);
        impl ReplayCache for Recorder {
            fn first_use(&self, jti: &str, _: Timestamp, _: Timestamp) -> bool {
                self.0.lock().unwrap().push(jti.to_owned());
                true
            }
        }
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let agent = SigningKey::generate(&mut rand_core::OsRng, None);
        let g = Grant::from_json_str(r#"{"allow": [{"resources": ["r"], "actions": ["read"]}]}"#)
            .unwrap();
        let mut m = MintRequest::offline(g);
        m.holder = Some(agent.public());
        let token = mint(&key, m, NOW, &mut rand_core::OsRng)
            .unwrap()
            .token
            .to_base64()
            .unwrap();
        let recorder = Arc::new(Recorder::default());
        let v = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .replay_cache(recorder.clone())
            .build();
        let url = "https://api.example/r";
        let proof = warrant_core::dpop::create_proof(
            &agent,
            "GET",
            url,
            &token,
            NOW,
            &mut rand_core::OsRng,
        )
        .unwrap();
        let jti = warrant_core::dpop::parse_proof(&proof).unwrap().jti;
        assert!(v
            .verify(&token, &req().with_proof(proof, "GET", url))
            .is_allowed());
        assert_eq!(
            *recorder.0.lock().unwrap(),
            vec![format!("{}:{jti}", agent.public().jwk_x())]
        );
    }
}
