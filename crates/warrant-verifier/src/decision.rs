//! What a verification decides, and why.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::Serialize;

/// The outcome of verifying one token for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Decision {
    /// The token permits the request.
    Allowed(Claims),
    /// The token does not permit the request.
    Denied(Denial),
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed(_))
    }

    /// The claims, when allowed.
    pub fn claims(&self) -> Option<&Claims> {
        match self {
            Self::Allowed(c) => Some(c),
            Self::Denied(_) => None,
        }
    }

    /// The denial, when denied.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Self::Allowed(_) => None,
            Self::Denied(d) => Some(d),
        }
    }

    /// The claims, or the denial as an error (a [`Denial`] is a [`std::error::Error`]),
    /// for code that answers with `?`:
    ///
    /// ```
    /// # use warrant_verifier::{KeyId, KeySet, Request, Timestamp, Verifier};
    /// # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
    /// let verifier = Verifier::new(KeySet::single(KeyId(1), key.public()));
    /// let request = Request::try_new("tickets/1", "read", Timestamp::from_unix(1_796_032_800))?;
    /// let refused = verifier.verify("not a token", &request).into_result().unwrap_err();
    /// assert_eq!(refused.kind, warrant_verifier::DenialKind::Malformed);
    /// let boxed: Box<dyn std::error::Error> = Box::new(refused);
    /// assert!(boxed.to_string().contains("base64"), "{boxed}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_result(self) -> Result<Claims, Denial> {
        match self {
            Self::Allowed(c) => Ok(c),
            Self::Denied(d) => Err(d),
        }
    }
}

/// What an allowed token tells the API: its fields are those of [`ClaimValues`]
/// (`claims.human`, `claims.holder`, ...). Cheap to clone: every decision for the same
/// cached token shares one copy (an allowed decision holds the verified token it came
/// from, which holds the values: no reference count is taken for them on the hot path).
/// So keeping a `Claims` keeps that token's cached data alive (a few KB; with
/// `datalog_only`, its parsed Biscuit too), even after the cache let it go: copy the
/// fields you keep for long.
#[derive(Clone, Default)]
pub struct Claims(Shared);

#[derive(Clone)]
enum Shared {
    Values(Arc<ClaimValues>),
    Token(Arc<dyn HasClaims + std::panic::RefUnwindSafe>),
}

/// What holds claim values: a verified token (so that this module need not know it).
/// Unwind-safe, as `Claims` was when it held its values alone.
pub(crate) trait HasClaims: Send + Sync + std::panic::RefUnwindSafe {
    fn claim_values(&self) -> &ClaimValues;
}

impl Default for Shared {
    fn default() -> Self {
        Self::Values(Arc::default())
    }
}

impl Claims {
    pub(crate) fn new(values: ClaimValues) -> Self {
        Self(Shared::Values(Arc::new(values)))
    }

    /// The claims of `token`, holding it.
    pub(crate) fn of(token: Arc<dyn HasClaims + std::panic::RefUnwindSafe>) -> Self {
        Self(Shared::Token(token))
    }
}

impl Deref for Claims {
    type Target = ClaimValues;

    fn deref(&self) -> &ClaimValues {
        match &self.0 {
            Shared::Values(v) => v,
            Shared::Token(t) => t.claim_values(),
        }
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Claims {}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

/// The values of [`Claims`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ClaimValues {
    /// The token id (`token_id`).
    pub token_id: Option<String>,
    /// The issuer (`issuer`): a URL, or `offline`.
    pub issuer: Option<String>,
    /// The delegating human's id.
    pub human: Option<String>,
    /// How the human was verified (`passkey`, `device-key`, `oidc`, `unverified`).
    pub verification_method: Option<String>,
    /// When the human was verified (RFC 3339).
    pub verified_at: Option<String>,
    /// The key the token is bound to now (`ed25519/<hex>`): the last holder of the chain,
    /// whose DPoP proof the request carried. `None` for a bearer token.
    pub holder: Option<String>,
    /// The JWK thumbprint (RFC 7638) of that key.
    pub holder_thumbprint: Option<String>,
    /// The earliest expiry of any block (RFC 3339).
    pub expires_at: Option<String>,
    /// How many blocks the token has.
    pub block_count: usize,
}

/// The kind of a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenialKind {
    /// Not base64, not a Biscuit, too large, or structurally invalid.
    Malformed,
    /// A signature in the chain does not verify.
    BadSignature,
    /// The token's key id is not in the trusted key set.
    UnknownKey,
    /// A block's expiry has passed.
    Expired,
    /// A block is not valid yet.
    NotYetValid,
    /// A block or the token is revoked.
    Revoked,
    /// The token is not for this API.
    Audience,
    /// No allow rule matches the request.
    RuleNotMatched,
    /// The closest allow rule needs an attribute the request lacks.
    MissingAttribute,
    /// A deny rule matches the request.
    DeniedByRule,
    /// A check written in raw Datalog fails.
    CheckFailed,
    /// The token is signed by a trusted key but does not follow the warrant profile.
    NotWarrant,
    /// Datalog evaluation hit a run limit (facts, iterations or time).
    LimitsExceeded,
    /// Datalog evaluation failed (for example an expression on mismatched types).
    Evaluation,
    /// The token has no holder and this verifier refuses bearer tokens.
    BearerRefused,
    /// The key set or revocation list could not be refreshed for too long.
    Stale,
    /// The token is bound to a holder and the request's DPoP proof is missing, invalid,
    /// replayed, or not by that holder.
    InvalidProof,
    /// A block names a holder without the current holder's signature.
    InvalidDelegation,
    /// A block outside the profile is beyond the evaluation budget: evaluating it could
    /// take more than a small fixed CPU time or memory, so it is refused unevaluated.
    OverBudget,
    /// The request cannot be evaluated: a resource that is not a canonical name, too many
    /// attributes, or a value too long.
    InvalidRequest,
    /// The DPoP proof could not be checked for replay: the replay cache is full or its
    /// store is unreachable, so the proof is refused (fail closed) though nothing may be
    /// wrong with it or the token. Not the client's fault: HTTP 503, retry later.
    ReplayCacheUnavailable,
}

impl DenialKind {
    /// Whether the token itself is unusable (401) rather than valid but not permitting (403).
    pub fn is_invalid_token(self) -> bool {
        matches!(
            self,
            Self::Malformed
                | Self::BadSignature
                | Self::UnknownKey
                | Self::Expired
                | Self::NotYetValid
                | Self::Revoked
                | Self::Audience
                | Self::NotWarrant
                | Self::BearerRefused
                | Self::Stale
                | Self::InvalidProof
                | Self::InvalidDelegation
                | Self::OverBudget
        )
    }
}

/// Who signed a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Signer {
    /// The authority block, signed by the issuer's root key.
    Issuer {
        /// The root key id, if the token names one.
        key_id: Option<u32>,
    },
    /// An attenuation block, signed by the previous block's ephemeral key.
    Attenuation,
    /// A third-party block, signed by this external key.
    ThirdParty {
        /// `ed25519/<hex>`.
        key: String,
    },
}

impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Issuer { key_id: Some(k) } => write!(f, "the issuer (key id {k})"),
            Self::Issuer { key_id: None } => write!(f, "the issuer"),
            Self::Attenuation => write!(f, "an attenuation"),
            Self::ThirdParty { key } => write!(f, "third party `{key}`"),
        }
    }
}

/// Why a request was denied.
///
/// The kind and the block are decided with the denial; the rest (who signed the block,
/// the failing check, the attribute at fault and the sentence) is read through methods.
/// A denial by a cached token's own rules is decided without writing any of it: it is
/// worked out from the failure the first time it is asked for, and kept (a denial costs
/// little more than an allowed request unless its explanation is read).
#[derive(Clone)]
#[non_exhaustive]
pub struct Denial {
    /// The kind of failure.
    pub kind: DenialKind,
    /// The block whose check failed (0 = authority).
    pub block: Option<usize>,
    detail: Detail,
}

/// A denial's explanation: written when the denial was made, or worked out when read.
#[derive(Clone)]
enum Detail {
    Written(Arc<Written>),
    Deferred(Arc<dyn Explanation>),
}

/// An explanation written when the denial was made.
#[derive(Clone, Default)]
struct Written {
    signer: Option<Signer>,
    check: Option<Arc<str>>,
    attribute: Option<String>,
    message: String,
}

/// An explanation worked out from what failed when it is first read (each part at most
/// once). Unwind-safe, as a denial of written parts is.
pub(crate) trait Explanation: Send + Sync + std::panic::RefUnwindSafe {
    /// Who signed the block that failed.
    fn signer(&self) -> Option<&Signer>;
    /// The failing check, in Datalog.
    fn check(&self) -> Option<&str>;
    /// The attribute at fault, if one is.
    fn attribute(&self) -> Option<&str>;
    /// One line for a person.
    fn message(&self) -> &str;
}

impl Denial {
    pub(crate) fn new(kind: DenialKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            block: None,
            detail: Detail::Written(Arc::new(Written {
                message: message.into(),
                ..Written::default()
            })),
        }
    }

    /// A denial whose explanation `explained` works out when first read.
    pub(crate) fn deferred(
        kind: DenialKind,
        block: Option<usize>,
        explained: Arc<dyn Explanation>,
    ) -> Self {
        Self {
            kind,
            block,
            detail: Detail::Deferred(explained),
        }
    }

    /// Who signed the block that failed.
    pub fn signer(&self) -> Option<&Signer> {
        match &self.detail {
            Detail::Written(w) => w.signer.as_ref(),
            Detail::Deferred(d) => d.signer(),
        }
    }

    /// The failing check, in Datalog (as Biscuit prints it).
    pub fn check(&self) -> Option<&str> {
        match &self.detail {
            Detail::Written(w) => w.check.as_deref(),
            Detail::Deferred(d) => d.check(),
        }
    }

    /// The attribute at fault, if one is (the request lacks it, or its value or type
    /// fails the rule).
    pub fn attribute(&self) -> Option<&str> {
        match &self.detail {
            Detail::Written(w) => w.attribute.as_deref(),
            Detail::Deferred(d) => d.attribute(),
        }
    }

    /// One line for a person, naming what failed and why (the block, the rule, the
    /// attribute and its value).
    pub fn message(&self) -> &str {
        match &self.detail {
            Detail::Written(w) => &w.message,
            Detail::Deferred(d) => d.message(),
        }
    }

    /// Changes the written explanation (a deferred one is worked out first).
    fn edit(&mut self, change: impl FnOnce(&mut Written)) {
        if let Detail::Deferred(d) = &self.detail {
            let written = Written {
                signer: d.signer().cloned(),
                check: d.check().map(Arc::from),
                attribute: d.attribute().map(str::to_owned),
                message: d.message().to_owned(),
            };
            self.detail = Detail::Written(Arc::new(written));
        }
        if let Detail::Written(w) = &mut self.detail {
            change(Arc::make_mut(w));
        }
    }

    /// Sets who signed the failing block.
    pub(crate) fn set_signer(&mut self, signer: Signer) {
        self.edit(|w| w.signer = Some(signer));
    }

    /// Sets the failing check.
    pub(crate) fn set_check(&mut self, check: Option<Arc<str>>) {
        self.edit(|w| w.check = check);
    }

    /// Sets the attribute at fault.
    pub(crate) fn set_attribute(&mut self, attribute: Option<String>) {
        self.edit(|w| w.attribute = attribute);
    }

    /// Puts `prefix` before the message.
    pub(crate) fn prefix_message(&mut self, prefix: &str) {
        self.edit(|w| w.message.insert_str(0, prefix));
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

// Denials compare, print and serialize as what they say, however it was written.
impl PartialEq for Denial {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.block == other.block
            && self.signer() == other.signer()
            && self.check() == other.check()
            && self.attribute() == other.attribute()
            && self.message() == other.message()
    }
}

impl Eq for Denial {}

impl fmt::Debug for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Denial")
            .field("kind", &self.kind)
            .field("block", &self.block)
            .field("signer", &self.signer())
            .field("check", &self.check())
            .field("attribute", &self.attribute())
            .field("message", &self.message())
            .finish()
    }
}

impl Serialize for Denial {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("Denial", 6)?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("block", &self.block)?;
        s.serialize_field("signer", &self.signer())?;
        s.serialize_field("check", &self.check())?;
        s.serialize_field("attribute", &self.attribute())?;
        s.serialize_field("message", self.message())?;
        s.end()
    }
}

impl std::error::Error for Denial {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn decisions_are_unwind_safe() {
        fn assert_unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
        assert_unwind_safe::<Decision>();
        assert_unwind_safe::<Claims>();
        assert_unwind_safe::<Denial>();
    }

    /// An explanation that counts how often its sentence is written.
    struct Counted {
        writes: Arc<AtomicUsize>,
        text: std::sync::OnceLock<String>,
    }

    impl Explanation for Counted {
        fn signer(&self) -> Option<&Signer> {
            Some(&Signer::Attenuation)
        }
        fn check(&self) -> Option<&str> {
            Some("check if action(\"read\")")
        }
        fn attribute(&self) -> Option<&str> {
            Some("amount")
        }
        fn message(&self) -> &str {
            self.text.get_or_init(|| {
                self.writes.fetch_add(1, Ordering::SeqCst);
                "block 1 (an attenuation): allow[0] does not match".to_owned()
            })
        }
    }

    #[test]
    fn a_deferred_explanation_is_written_once_when_first_read_and_compares_as_written() {
        let writes = Arc::new(AtomicUsize::new(0));
        let d = Denial::deferred(
            DenialKind::RuleNotMatched,
            Some(1),
            Arc::new(Counted {
                writes: Arc::clone(&writes),
                text: std::sync::OnceLock::new(),
            }),
        );
        assert_eq!(writes.load(Ordering::SeqCst), 0, "deciding writes nothing");
        let copy = d.clone();
        assert_eq!(
            d.message(),
            "block 1 (an attenuation): allow[0] does not match"
        );
        assert_eq!(copy.message(), d.message(), "clones share the line");
        assert_eq!(writes.load(Ordering::SeqCst), 1, "written once");
        let mut written = Denial::new(DenialKind::RuleNotMatched, "allow[0] does not match");
        written.block = Some(1);
        written.prefix_message("block 1 (an attenuation): ");
        written.set_signer(Signer::Attenuation);
        written.set_check(Some("check if action(\"read\")".into()));
        written.set_attribute(Some("amount".into()));
        assert_eq!(
            d, written,
            "a deferred and a written explanation compare as read"
        );
        assert_eq!(format!("{d:?}"), format!("{written:?}"));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json, serde_json::to_value(&written).unwrap());
        assert_eq!(json["message"], d.message(), "serialized as its text");
        assert_eq!(json["attribute"], "amount");
        assert_eq!(json["signer"]["kind"], "attenuation");
        // Changing a deferred denial works it out first, then changes the written copy.
        let mut changed = d.clone();
        changed.prefix_message("refused: ");
        assert_eq!(
            changed.message(),
            "refused: block 1 (an attenuation): allow[0] does not match"
        );
        assert_eq!(changed.attribute(), Some("amount"));
        assert_eq!(d.message(), copy.message(), "the original is unchanged");
        assert_eq!(writes.load(Ordering::SeqCst), 1);
    }
}
