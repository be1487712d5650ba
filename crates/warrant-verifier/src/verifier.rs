//! The verifier: trusted keys, revocations, audience, limits, and the one place a token
//! meets a request.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use base64::Engine as _;
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits};
use warrant_core::budget::MAX_REQUEST_STRING_BYTES;
use warrant_core::dpop::{check_proof, Expected, HolderKey};
use warrant_core::eval::Shown;
use warrant_core::keys::{KeySet, PublicKey};
use warrant_core::time::Span;
use warrant_core::token::{decode_base64_limited, TokenError, PROFILE_VERSION};

use crate::cache::{Form, TokenCache};
use crate::config::{Config, VerifierBuilder};
use crate::decision::{Claims, Decision, Denial, DenialKind};
use crate::explain;
use crate::replay::{ProofId, ReplayCheck};
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

/// A check decided now and reported later (after the checks that come before it).
type Outcome = Result<(), Denial>;

/// Called when a token names a key id the key set lacks (a key-set refresher listens).
type UnknownKeyHook = Arc<dyn Fn() + Send + Sync>;

/// What a verification reads of the verifier's replaceable state, under one lock taken
/// at most once per cache hit (none when [`Published`] says nothing else is needed).
#[derive(Debug)]
struct Sources {
    keys: Copy<KeyState>,
    revocations: Copy<RevocationSet>,
}

/// What a cache hit reads of [`Sources`] without taking their lock, published under it by
/// every change: the key set's version, and whether the request needs nothing else of
/// them (no revocation, no staleness bound to check), in one word so that a hit reads both
/// of one change. A hit that reads the word just before a change is decided as if it had
/// come a moment earlier: under the sources of that word.
#[derive(Debug)]
struct Published(AtomicU64);

impl Published {
    fn new(sources: &Sources, config: &Config) -> Self {
        let published = Self(AtomicU64::new(0));
        published.publish(sources, config);
        published
    }

    /// Publishes `sources`: called with their write lock held.
    fn publish(&self, sources: &Sources, config: &Config) {
        let unbounded = config.max_staleness.is_none()
            || (sources.keys.refreshed.is_none() && sources.revocations.refreshed.is_none());
        let plain = unbounded && sources.revocations.value.is_empty();
        // Key-set versions count changes from 0: they never reach 2^63.
        let word = (sources.keys.value.version << 1) | u64::from(plain);
        self.0.store(word, Ordering::Release);
    }

    /// The key set's version, when a hit needs nothing else of the sources.
    fn plain_version(&self) -> Option<u64> {
        let word = self.0.load(Ordering::Acquire);
        (word & 1 == 1).then_some(word >> 1)
    }
}

struct Inner {
    config: Config,
    sources: RwLock<Sources>,
    published: Published,
    versions: AtomicU64,
    cache: TokenCache,
    on_unknown_key: RwLock<Option<UnknownKeyHook>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // One read: a second, with a writer waiting in between, could wait forever.
        let sources = read(&self.sources);
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .field("keys", &sources.keys)
            .field("revocations", &sources.revocations.value.len())
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

    /// The audience this verifier answers to, as configured (a URL audience in its
    /// canonical form, see [`VerifierBuilder::audience`]); `None` when it has none.
    pub fn audience(&self) -> Option<&str> {
        self.inner.config.audience.as_deref()
    }

    /// Whether it accepts tokens without a holder (bearer tokens):
    /// [`VerifierBuilder::dangerous_accept_bearer`].
    pub fn accepts_bearer(&self) -> bool {
        self.inner.config.accept_bearer
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
        let sources = Sources {
            keys: Copy {
                value: Arc::new(KeyState {
                    trusted,
                    version: 0,
                }),
                refreshed: None,
            },
            revocations: Copy {
                value: Arc::new(RevocationSet::new()),
                refreshed: None,
            },
        };
        Self {
            inner: Arc::new(Inner {
                published: Published::new(&sources, &config),
                config,
                sources: RwLock::new(sources),
                versions: AtomicU64::new(1),
                cache,
                on_unknown_key: RwLock::new(None),
            }),
        }
    }

    /// Changes the sources and publishes them ([`Published`]).
    fn change_sources(&self, change: impl FnOnce(&mut Sources)) {
        let mut sources = write(&self.inner.sources);
        change(&mut sources);
        self.inner.published.publish(&sources, &self.inner.config);
    }

    /// Whether `bytes` are in the verified-token cache under the current keys.
    #[cfg(test)]
    pub(crate) fn is_lifted(&self, bytes: &[u8]) -> bool {
        let keys = Arc::clone(&read(&self.inner.sources).keys.value);
        self.inner
            .cache
            .get_or_verify(
                Form::Bytes,
                bytes,
                || Ok(Cow::Borrowed(bytes)),
                keys.version,
                &keys.trusted,
            )
            .is_ok_and(|(v, _)| v.lifted.is_some())
    }

    /// Starts trusting `keys` instead (for example after a rotation). Tokens verified under
    /// the old keys are verified again.
    pub fn set_keys(&self, keys: KeySet) {
        self.replace_keys(Trusted::Set(keys), None);
    }

    pub(crate) fn replace_keys(&self, trusted: Trusted, refreshed: Option<Instant>) {
        let version = self.inner.versions.fetch_add(1, Ordering::Relaxed);
        self.change_sources(|s| {
            s.keys = Copy {
                value: Arc::new(KeyState { trusted, version }),
                refreshed,
            };
        });
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
        self.change_sources(|s| s.keys.refreshed = Some(at));
    }

    /// The key set currently trusted (`None` when built from a single public key).
    pub fn keys(&self) -> Option<KeySet> {
        match &read(&self.inner.sources).keys.value.trusted {
            Trusted::Set(s) => Some(s.clone()),
            Trusted::Single(_) => None,
        }
    }

    /// Replaces the revocation set.
    pub fn set_revocations(&self, revocations: RevocationSet) {
        self.replace_revocations(revocations, None);
    }

    pub(crate) fn replace_revocations(&self, set: RevocationSet, refreshed: Option<Instant>) {
        self.change_sources(|s| {
            s.revocations = Copy {
                value: Arc::new(set),
                refreshed,
            };
        });
    }

    /// The revocation set currently applied.
    pub fn revocations(&self) -> RevocationSet {
        (*read(&self.inner.sources).revocations.value).clone()
    }

    /// Verifies base64 token text for `request`. A DPoP proof's `ath` must be the hash of
    /// this text (surrounding whitespace aside).
    pub fn verify(&self, token: &str, request: &Request) -> Decision {
        self.decide(Presented::Text(trimmed(token)), request)
    }

    /// Verifies raw token bytes for `request`. A DPoP proof's `ath` must then be the hash
    /// of the bytes' padded URL-safe base64 (the form `warrant` prints).
    pub fn verify_bytes(&self, bytes: &[u8], request: &Request) -> Decision {
        self.decide(Presented::Bytes(bytes), request)
    }

    fn decide(&self, token: Presented<'_>, request: &Request) -> Decision {
        match self.check(token, request) {
            Ok(claims) => Decision::Allowed(claims),
            Err(denial) => Decision::Denied(denial),
        }
    }

    /// Lookups of the verified-token cache that were not served from it (each one a
    /// verification), since this verifier was built: for benchmarks and monitoring of
    /// the cache's hit rate.
    #[doc(hidden)]
    pub fn cache_misses(&self) -> u64 {
        self.inner.cache.misses()
    }

    /// How many verified tokens the cache holds, and their estimated heap bytes.
    #[doc(hidden)]
    pub fn cache_usage(&self) -> (usize, u64) {
        self.inner.cache.usage()
    }

    fn stale(&self, refreshed: Option<Instant>, what: &str) -> Result<(), Denial> {
        let (Some(bound), Some(at)) = (self.inner.config.max_staleness, refreshed) else {
            return Ok(());
        };
        let age = at.elapsed();
        if age > bound {
            return Err(Denial::new(
                DenialKind::Stale,
                format!(
                    "the {what} could not be refreshed for {}s, longer than the {}s allowed",
                    age.as_secs(),
                    bound.as_secs()
                ),
            ));
        }
        Ok(())
    }

    /// The verified token for `token`, from the cache or verified now, and whether it is
    /// revoked (decided under the same lock as the lookup; reported after the checks that
    /// come before revocation).
    fn verified(&self, token: Presented<'_>) -> Result<(Arc<VerifiedToken>, Outcome), Denial> {
        let limit = self.inner.config.max_token_bytes;
        let (form, presented) = match token {
            Presented::Text(t) => {
                // 4 base64 characters carry 3 bytes: refuse oversized text before hashing
                // it (the decoder says why).
                if t.len() / 4 * 3 > limit.saturating_add(3) {
                    if let Err(e) = decode_base64_limited(t, limit) {
                        return Err(explain::decode_denial(&e));
                    }
                }
                (Form::Text, t.as_bytes())
            }
            Presented::Bytes(b) => {
                if b.len() > limit {
                    return Err(explain::decode_denial(&TokenError::TooLarge {
                        size: b.len(),
                        limit,
                    }));
                }
                (Form::Bytes, b)
            }
        };
        let cache = &self.inner.cache;
        // A hit that needs nothing else of the sources takes no lock.
        if let Some(version) = self.inner.published.plain_version() {
            if let Some(hit) = cache.get(form, presented, version) {
                return Ok((hit, Ok(())));
            }
        }
        let mut sources = read(&self.inner.sources);
        self.stale(sources.keys.refreshed, "trusted key set")?;
        let verified = match cache.get(form, presented, sources.keys.value.version) {
            Some(hit) => hit,
            None => {
                // Verifying takes a while: without holding the lock (key and revocation
                // refreshes wait for it).
                let keys = Arc::clone(&sources.keys.value);
                drop(sources);
                let bytes = || match token {
                    Presented::Text(t) => decode_base64_limited(t, limit)
                        .map(Cow::Owned)
                        .map_err(|e| explain::decode_denial(&e)),
                    Presented::Bytes(b) => Ok(Cow::Borrowed(b)),
                };
                let verified = cache
                    .verify(form, presented, bytes, keys.version, &keys.trusted)
                    .inspect_err(|d| {
                        if d.kind == DenialKind::UnknownKey {
                            if let Some(hook) = read(&self.inner.on_unknown_key).as_ref() {
                                hook();
                            }
                        }
                    })?;
                sources = read(&self.inner.sources);
                verified
            }
        };
        let revoked = self.check_revoked(&sources.revocations, &verified);
        Ok((verified, revoked))
    }

    fn check(&self, token: Presented<'_>, request: &Request) -> Result<Claims, Denial> {
        let config = &self.inner.config;
        let (verified, revoked) = self.verified(token)?;
        if let Err(d) = &verified.admission {
            return Err(d.clone());
        }
        check_request(request)?;
        revoked?;
        if let Err(d) = &verified.holders {
            return Err(d.clone());
        }
        let proof = match verified.holder_key.as_ref() {
            None if !config.accept_bearer => {
                return Err(Denial::new(
                    DenialKind::BearerRefused,
                    "the token is not bound to a holder key and this API refuses bearer tokens",
                ))
            }
            None => None,
            Some(holder) => {
                // `check_proof` reads the bytes only when there is no text.
                let (bytes, text) = match token {
                    Presented::Text(t) => (&[][..], Some(t)),
                    Presented::Bytes(b) => (b, None),
                };
                Some(self.check_proof(holder, bytes, text, request)?)
            }
        };
        let req = self.effective_request(request);
        match &verified.lifted {
            Some(lifted) if !config.datalog_only => crate::native::native(&verified, lifted, &req)?,
            _ => self.datalog(&verified, &req)?,
        }
        // Only a request that passed every other check uses up its proof's id: proofs
        // riding on an expired, revoked or useless token cannot fill the replay cache.
        if let Some(proof) = proof {
            self.record_proof(&proof)?;
        }
        Ok(Claims::of(verified))
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

    fn check_revoked(&self, copy: &Copy<RevocationSet>, v: &VerifiedToken) -> Result<(), Denial> {
        self.stale(copy.refreshed, "revocation list")?;
        let set = &copy.value;
        if set.is_empty() {
            return Ok(());
        }
        let revoked = |message: String, block: Option<usize>| {
            let mut d = Denial::new(DenialKind::Revoked, message);
            d.block = block;
            Err(d)
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
        holder: &HolderKey,
        bytes: &[u8],
        text: Option<&str>,
        request: &Request,
    ) -> Result<ProofUse, Denial> {
        let config = &self.inner.config;
        let invalid = |message: String| Denial::new(DenialKind::InvalidProof, message);
        let Some(input) = &request.1 else {
            return Err(invalid(format!(
                "the token is bound to holder `{}`: the request needs a DPoP proof signed by that key",
                holder.public()
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
            id: ProofId::new(holder.public(), &proof.jti),
            jti: proof.jti,
            until: proof.iat.plus(config.proof_window),
            now,
        })
    }

    /// Records a checked proof's id as used; refuses it if it was used before, or if the
    /// replay cache cannot record it (full or unavailable: fail closed, and say so). Keyed
    /// by holder and `jti` ([`ProofId`]): someone who sees a proof in flight cannot use up
    /// its `jti` with a proof of their own.
    fn record_proof(&self, proof: &ProofUse) -> Result<(), Denial> {
        let refused = |kind, message: String| Err(Denial::new(kind, message));
        match self
            .inner
            .config
            .replay
            .first_use(&proof.id, proof.until, proof.now)
        {
            ReplayCheck::First => Ok(()),
            ReplayCheck::Replayed => refused(
                DenialKind::InvalidProof,
                format!(
                    "the DPoP proof `{}` was already used: every request needs a fresh proof",
                    Shown(&proof.jti)
                ),
            ),
            ReplayCheck::Full(why) => refused(
                DenialKind::ReplayCacheUnavailable,
                format!(
                    "the DPoP replay cache is full, so the proof `{}` cannot be recorded as used and is refused (nothing is wrong with it: retry later): {why}",
                    Shown(&proof.jti)
                ),
            ),
            ReplayCheck::Unavailable(why) => refused(
                DenialKind::ReplayCacheUnavailable,
                format!(
                    "the DPoP replay cache is unavailable, so the proof `{}` cannot be checked for replay and is refused (retry later; the API's operator should check the replay store): {why}",
                    Shown(&proof.jti)
                ),
            ),
        }
    }

    /// Biscuit's own evaluation, for tokens with a block outside the profile.
    fn datalog(
        &self,
        v: &VerifiedToken,
        req: &warrant_core::request::RequestFacts,
    ) -> Result<(), Denial> {
        let limits = self.inner.config.limits;
        let Some(token) = &v.token else {
            return Err(Denial::new(
                DenialKind::Evaluation,
                "the verified token was cached without its Biscuit: verify it again",
            ));
        };
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
            Err(e) => Err(explain::from_biscuit(
                token,
                &match (&v.lifted, &v.blocks) {
                    (Some(l), _) => explain::ProfileBlocks::Lifted(l),
                    (None, b) => explain::ProfileBlocks::Data(b.as_deref().unwrap_or_default()),
                },
                &v.authority,
                req,
                &e,
            )),
        }
    }
}

impl VerifierBuilder {
    /// The verifier, with the keys this builder was made with and no revocations.
    pub fn build(self) -> Verifier {
        Verifier::from_parts(self.config, self.trusted)
    }
}

/// A token as the caller presented it.
#[derive(Debug, Clone, Copy)]
enum Presented<'a> {
    /// Base64 text, surrounding whitespace trimmed.
    Text(&'a str),
    /// Raw bytes.
    Bytes(&'a [u8]),
}

/// A checked DPoP proof whose id is still to be recorded.
struct ProofUse {
    id: ProofId,
    jti: String,
    until: warrant_core::time::Timestamp,
    now: warrant_core::time::Timestamp,
}

/// `token` without surrounding white space (`str::trim`), with a shortcut for text that
/// starts and ends with an ASCII character other than white space (every token as sent).
fn trimmed(token: &str) -> &str {
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii() && !char::from(*b).is_whitespace());
    let bytes = token.as_bytes();
    if edge(bytes.first()) && edge(bytes.last()) {
        token
    } else {
        token.trim()
    }
}

/// The request itself must make sense before any token is evaluated against it: a
/// canonical resource name, a well-formed action and attribute names, no more attributes
/// and no longer values than the evaluation budget assumes.
fn check_request(request: &Request) -> Result<(), Denial> {
    let invalid = |message: String| Denial::new(DenialKind::InvalidRequest, message);
    request
        .check()
        .map_err(|e| invalid(Shown(&e.to_string()).to_string()))?;
    let req = &request.0;
    let too_long = |what: &dyn std::fmt::Display, s: &str| {
        invalid(format!(
            "the request's {what} is {} bytes, more than the {MAX_REQUEST_STRING_BYTES} a verifier evaluates",
            s.len()
        ))
    };
    // The message is written only for a string that is too long.
    if req.action.len() > MAX_REQUEST_STRING_BYTES {
        return Err(too_long(&"action", &req.action));
    }
    if let Some(a) = req
        .audience
        .as_deref()
        .filter(|a| a.len() > MAX_REQUEST_STRING_BYTES)
    {
        return Err(too_long(&"audience", a));
    }
    for (name, value) in &req.attrs {
        if let warrant_core::value::Value::String(v) = value {
            if v.len() > MAX_REQUEST_STRING_BYTES {
                return Err(too_long(&format_args!("attribute `{}`", Shown(name)), v));
            }
        }
    }
    Ok(())
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

    /// Looks `token` up as `form`, verifying it on a miss; whether it was a hit.
    fn lookup(v: &Verifier, form: Form, token: &[u8]) -> Result<bool, Denial> {
        let keys = Arc::clone(&read(&v.inner.sources).keys.value);
        let bytes = || match form {
            Form::Bytes => Ok(Cow::Borrowed(token)),
            Form::Text => warrant_core::token::decode_base64(std::str::from_utf8(token).unwrap())
                .map(Cow::Owned)
                .map_err(|e| explain::decode_denial(&e)),
        };
        v.inner
            .cache
            .get_or_verify(form, token, bytes, keys.version, &keys.trusted)
            .map(|(_, hit)| hit)
    }

    #[test]
    fn the_cache_never_serves_other_bytes() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let v = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .dangerous_accept_bearer()
            .build();
        let token = minted(&key);
        assert!(v.verify_bytes(&token, &req()).is_allowed());
        assert!(
            lookup(&v, Form::Bytes, &token).unwrap(),
            "the same bytes are a hit"
        );
        // Every single-byte change misses the cache and is verified (and refused) anew.
        for i in (0..token.len()).step_by(7) {
            let mut t = token.clone();
            t[i] ^= 0x01;
            let misses = v.cache_misses();
            assert!(!v.verify_bytes(&t, &req()).is_allowed(), "byte {i}");
            assert_eq!(
                v.cache_misses(),
                misses + 1,
                "byte {i}: not served from the cache"
            );
            assert!(
                lookup(&v, Form::Bytes, &t).is_err(),
                "byte {i}: a refused token is never cached"
            );
        }
    }

    #[test]
    fn the_cache_never_serves_other_text() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let v = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .dangerous_accept_bearer()
            .build();
        let text = base64::engine::general_purpose::URL_SAFE.encode(minted(&key));
        assert!(v.verify(&text, &req()).is_allowed());
        assert!(
            lookup(&v, Form::Text, text.as_bytes()).unwrap(),
            "the same text is a hit"
        );
        // Surrounding whitespace is not part of the token: still a hit.
        let misses = v.cache_misses();
        assert!(v.verify(&format!(" {text}\n"), &req()).is_allowed());
        assert_eq!(v.cache_misses(), misses);
        // Every character changed to another base64 character (the same bytes in one
        // case: a last character whose low bits are ignored) misses the cache.
        for (i, c) in text.char_indices().step_by(5) {
            for other in ['A', 'B', '-', '_'].into_iter().filter(|o| *o != c) {
                let mut t = text.clone();
                t.replace_range(i..=i, other.encode_utf8(&mut [0; 4]));
                let misses = v.cache_misses();
                let _ = v.verify(&t, &req());
                assert_eq!(v.cache_misses(), misses + 1, "character {i} as {other}");
            }
        }
        // The same token as bytes is another entry, verified once.
        let misses = v.cache_misses();
        assert!(v.verify_bytes(&minted_bytes(&text), &req()).is_allowed());
        assert!(v.verify_bytes(&minted_bytes(&text), &req()).is_allowed());
        assert_eq!(v.cache_misses(), misses + 1);
    }

    fn minted_bytes(text: &str) -> Vec<u8> {
        warrant_core::token::decode_base64(text).unwrap()
    }

    /// A verifier trusting a key under id 1, a token it signed, and another key (id 2).
    fn trusting_key_1() -> (Verifier, Vec<u8>, SigningKey) {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let other = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(2)));
        let v = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .dangerous_accept_bearer()
            .build();
        (v, minted(&key), other)
    }

    #[test]
    fn changing_the_keys_empties_the_cache() {
        let (v, token, other) = trusting_key_1();
        let text = base64::engine::general_purpose::URL_SAFE.encode(&token);
        assert!(v.verify_bytes(&token, &req()).is_allowed());
        assert!(v.verify(&text, &req()).is_allowed());
        v.set_keys(KeySet::single(KeyId(2), other.public()));
        assert_eq!(v.cache_usage().0, 0, "the cache is emptied");
        let d = v.verify_bytes(&token, &req());
        assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::UnknownKey));
        // Key id 1 now names another key: the cached verification must not count.
        v.set_keys(KeySet::single(KeyId(1), other.public()));
        let d = v.verify_bytes(&token, &req());
        assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::BadSignature));
        let d = v.verify(&text, &req());
        assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::BadSignature));
    }

    #[test]
    fn an_entry_of_an_older_key_set_never_counts() {
        // Even without the clearing on a key change, the key-set version is part of the
        // key: an entry inserted under version 0 is not found under version 1.
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let v = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .dangerous_accept_bearer()
            .build();
        let token = minted(&key);
        let trusted = read(&v.inner.sources).keys.value.trusted.clone();
        let get = |version| {
            v.inner
                .cache
                .get_or_verify(
                    Form::Bytes,
                    &token,
                    || Ok(Cow::Borrowed(&token[..])),
                    version,
                    &trusted,
                )
                .map(|(_, hit)| hit)
                .unwrap()
        };
        assert!(!get(0));
        assert!(get(0));
        assert!(!get(1), "another key-set version misses");
    }

    #[test]
    fn a_hit_without_the_lock_looks_up_the_current_key_set() {
        let (v, token, other) = trusting_key_1();
        let old = Arc::clone(&read(&v.inner.sources).keys.value);
        assert!(v.verify_bytes(&token, &req()).is_allowed());
        v.set_keys(KeySet::single(KeyId(2), other.public()));
        // A verification under the old keys that ends after the change (a miss racing
        // it) puts its entry back, under the old key set's version.
        v.inner
            .cache
            .verify(
                Form::Bytes,
                &token,
                || Ok(Cow::Borrowed(&token[..])),
                old.version,
                &old.trusted,
            )
            .unwrap();
        // The lock-free hit reads the version published by the change: that entry is
        // not found, and the token is refused under the new keys.
        assert_eq!(
            v.verify_bytes(&token, &req()).denial().map(|d| d.kind),
            Some(DenialKind::UnknownKey)
        );
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
    fn a_cached_token_meets_each_new_revocation_and_staleness_bound() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let v = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .dangerous_accept_bearer()
            .max_staleness(Duration::from_secs(60))
            .build();
        let token = minted(&key);
        let id = match v.verify_bytes(&token, &req()) {
            Decision::Allowed(c) => c.token_id.clone().unwrap(),
            Decision::Denied(d) => panic!("{d:?}"),
        };
        assert!(lookup(&v, Form::Bytes, &token).unwrap(), "cached");
        let kind = |v: &Verifier| v.verify_bytes(&token, &req()).denial().map(|d| d.kind);
        assert_eq!(kind(&v), None, "a hit");
        // Revoked while cached: refused at once.
        let mut set = RevocationSet::new();
        set.revoke_token_id(&id).unwrap();
        v.set_revocations(set);
        assert_eq!(kind(&v), Some(DenialKind::Revoked));
        v.set_revocations(RevocationSet::new());
        assert_eq!(kind(&v), None, "no longer revoked");
        // A revocation list refreshed too long ago: refused at once.
        let old = Instant::now() - Duration::from_secs(120);
        v.replace_revocations(RevocationSet::new(), Some(old));
        assert_eq!(kind(&v), Some(DenialKind::Stale));
        v.replace_revocations(RevocationSet::new(), Some(Instant::now()));
        assert_eq!(kind(&v), None, "fresh again");
        // A key set refreshed too long ago (the same keys): refused at once.
        let keys = v.keys().unwrap();
        v.replace_keys(Trusted::Set(keys), Some(old));
        assert_eq!(kind(&v), Some(DenialKind::Stale));
    }

    #[test]
    fn token_text_is_trimmed_as_str_trim_does() {
        for text in [
            "",
            " ",
            "abc",
            " abc",
            "abc\n",
            "\u{a0}abc",
            "abc\u{2003}",
            "\u{85}a\u{85}",
            "\tA-_=\r\n",
            "é",
            "a b",
            "\u{b}abc",
            "abc\u{c}",
        ] {
            assert_eq!(trimmed(text), text.trim(), "{text:?}");
        }
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
            .revoke_token_id(&id.token_id.clone().unwrap_or_default())
            .unwrap();
        v.set_revocations(revoked);
        let d = clone.verify_bytes(&token, &req());
        assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::Revoked));
    }

    #[test]
    fn proof_ids_are_remembered_per_holder() {
        #[derive(Debug, Default)]
        struct Recorder(std::sync::Mutex<Vec<ProofId>>);
        impl ReplayCache for Recorder {
            fn first_use(&self, id: &ProofId, _: Timestamp, _: Timestamp) -> ReplayCheck {
                self.0.lock().unwrap().push(*id);
                ReplayCheck::First
            }
        }
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let agent = SigningKey::generate(&mut rand_core::OsRng, None);
        let g = Grant::from_json_str(r#"{"allow": [{"resources": ["r"], "actions": ["read"]}]}"#)
            .unwrap();
        let mut m = MintRequest::offline(g);
        m.holder = Some(agent.public().into());
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
            vec![ProofId::new(agent.public(), &jti)]
        );
    }
}
