//! DPoP proofs of possession (RFC 9449) with EdDSA (Ed25519) or ES256 (P-256): what an
//! agent sends with every request, and the checks a verifier makes of it.
//!
//! A proof is a compact JWS: header `{"typ":"dpop+jwt","alg":"EdDSA","jwk":{…}}` (or
//! `"alg":"ES256"` with an `EC` `P-256` `jwk`), claims `htm` (the HTTP method), `htu` (the
//! URL without query and fragment), `iat`, `jti` (a one-time id) and `ath` (base64url
//! SHA-256 of the token), signed by the holder's key. Remembering `jti`s to refuse replays
//! is the verifier's job (it keeps state); everything else is here, pure.
//!
//! Refused with a reason of their own: any `alg` but `EdDSA` and `ES256` (`none` and the
//! symmetric `HS*` each named as such), a symmetric `jwk` (`kty: oct`), a `jwk` carrying a
//! private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`), a `jwk` of the other
//! algorithm than `alg`, and an ES256 signature that is not the 64 bytes `r‖s` of JWS.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand_core::{CryptoRng, RngCore};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::keys::{HolderAlgorithm, HolderPublicKey, HolderSigner, P256PublicKey, PublicKey};
use crate::time::{Span, Timestamp};

mod members;

/// The `typ` of a DPoP proof.
pub const DPOP_TYP: &str = "dpop+jwt";
/// How far a proof's `iat` may be from the request time, either way, by default.
pub const DEFAULT_PROOF_WINDOW: Span = Span::from_seconds(60);
/// The largest proof accepted (bytes).
pub const MAX_PROOF_BYTES: usize = 4096;

/// Why a proof was refused: each variant is one attack or mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Not a compact JWS with JSON header and claims.
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(String),
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's `typ` is `{0}`, expected `dpop+jwt`")]
    Typ(String),
    /// `alg` is not one warrant accepts.
    #[error("the DPoP proof's `alg` is `{0}`: accepted are `EdDSA` (Ed25519) and `ES256` (P-256)")]
    Alg(String),
    /// `alg: none`: an unsigned proof.
    #[error("the DPoP proof's `alg` is `none`: an unsigned proof proves nothing; sign it with the holder's key (`EdDSA` or `ES256`)")]
    AlgNone,
    /// A symmetric `alg` (`HS256`…): a shared secret proves no key pair.
    #[error("the DPoP proof's `alg` is `{0}`, a symmetric algorithm: sign the proof with the holder's private key (`EdDSA` or `ES256`)")]
    SymmetricAlg(String),
    /// A symmetric `jwk` (`kty: oct`).
    #[error("the DPoP proof's `jwk` is a symmetric key (`kty` `oct`): the header carries the holder's public key, an `OKP` Ed25519 or `EC` P-256 key")]
    SymmetricJwk,
    /// A `jwk` with a private member.
    #[error("the DPoP proof's `jwk` carries the private member `{0}`: send the public key only, and replace the key that was exposed")]
    PrivateJwk(String),
    /// A `jwk` of another algorithm than `alg`.
    #[error("the DPoP proof's `alg` is `{alg}` but its `jwk` is {jwk}: `EdDSA` needs an `OKP` `Ed25519` key, `ES256` an `EC` `P-256` key")]
    JwkMismatch {
        /// The proof's `alg`.
        alg: String,
        /// What the `jwk` is (its `kty` and `crv`).
        jwk: String,
    },
    /// The header has no usable public `jwk` of its `alg`.
    #[error("the DPoP proof's `jwk` is not a usable public key: an `OKP` `Ed25519` key needs `x` (32 bytes), an `EC` `P-256` key `x` and `y` (32 bytes each, base64url) of a point on the curve")]
    Jwk,
    /// A signature of the wrong length (a DER-encoded ES256 signature, typically).
    #[error("the DPoP proof's `{alg}` signature is {len} bytes, expected 64: a JWS signature is the raw 64 bytes (for `ES256`, `r‖s` of 32 bytes each, not DER)")]
    SignatureLength {
        /// The proof's `alg`.
        alg: &'static str,
        /// The signature's length.
        len: usize,
    },
    /// The signature does not verify with the `jwk`.
    #[error("the DPoP proof's signature does not verify with its `jwk`")]
    Signature,
    /// Signed by a key that is not the token's holder.
    #[error("the DPoP proof is signed by `{found}`, but the token's holder is `{holder}`")]
    NotHolder {
        /// The token's current holder.
        holder: String,
        /// The proof's key.
        found: String,
    },
    /// `htm` is another method.
    #[error("the DPoP proof is for method `{found}`, the request is `{expected}`")]
    Method {
        /// The request's method.
        expected: String,
        /// The proof's.
        found: String,
    },
    /// `htu` is another URL.
    #[error("the DPoP proof is for `{found}`, the request is for `{expected}`")]
    Url {
        /// The request's URL, normalised.
        expected: String,
        /// The proof's, normalised.
        found: String,
    },
    /// `iat` too far in the past.
    #[error("the DPoP proof was made at {iat}, more than {window} before the request time {now}")]
    TooOld {
        /// The proof's `iat`.
        iat: Timestamp,
        /// The request time.
        now: Timestamp,
        /// The window.
        window: Span,
    },
    /// `iat` too far in the future.
    #[error("the DPoP proof claims to be made at {iat}, more than {window} after the request time {now}")]
    FromTheFuture {
        /// The proof's `iat`.
        iat: Timestamp,
        /// The request time.
        now: Timestamp,
        /// The window.
        window: Span,
    },
    /// `ath` is the hash of another token.
    #[error("the DPoP proof's `ath` does not match the token sent with it")]
    Ath,
    /// `jti` missing or unusable.
    #[error("the DPoP proof's `jti` must be 1 to 256 characters")]
    Jti,
    /// A URL that cannot be used as `htu`.
    #[error("`{0}` is not an http(s) URL")]
    BadUrl(String),
}

/// The base64url SHA-256 of a token, as `ath` carries it.
pub fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// The URL as `htu` compares it (RFC 9449 section 4.3): no query or fragment, scheme and
/// host in lowercase, no default port, dot segments resolved.
pub fn normalize_htu(url: &str) -> Result<String, ProofError> {
    let mut u = url::Url::parse(url.trim()).map_err(|_| ProofError::BadUrl(url.to_owned()))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(ProofError::BadUrl(url.to_owned()));
    }
    u.set_query(None);
    u.set_fragment(None);
    Ok(u.to_string())
}

/// Makes a proof for one request: `key` must be the token's holder key (Ed25519 makes an
/// `EdDSA` proof, P-256 an `ES256` one), `token` the token text sent with the request (its
/// hash is the proof's `ath`).
///
/// ```
/// use warrant_core::dpop::{check_proof, create_proof, Expected, HolderKey, DEFAULT_PROOF_WINDOW};
/// use warrant_core::keys::{HolderSigner as _, P256SigningKey, SigningKey};
/// use warrant_core::time::Timestamp;
///
/// let mut rng = rand_core::OsRng;
/// let agent = SigningKey::generate(&mut rng, None);
/// let now = Timestamp::from_unix(1_796_032_800);
/// let url = "https://api.example/tickets/123";
/// let proof = create_proof(&agent, "GET", url, "the-token", now, &mut rng)?;
///
/// // What a verifier checks: the holder's key, this request, this token, about now.
/// let holder = HolderKey::new(agent.public());
/// let expected = Expected {
///     holder: &holder,
///     method: "GET",
///     url,
///     token: "the-token",
///     now,
///     window: DEFAULT_PROOF_WINDOW,
/// };
/// assert!(check_proof(&proof, &expected).is_ok());
/// assert!(check_proof(&proof, &Expected { method: "DELETE", ..expected }).is_err());
///
/// // A P-256 agent's proofs are ES256.
/// let p256 = P256SigningKey::generate(&mut rng);
/// let proof = create_proof(&p256, "GET", url, "the-token", now, &mut rng)?;
/// let holder = HolderKey::new(p256.holder_key());
/// assert!(check_proof(&proof, &Expected { holder: &holder, ..expected }).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn create_proof(
    key: &(impl HolderSigner + ?Sized),
    method: &str,
    url: &str,
    token: &str,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<String, ProofError> {
    let htu = normalize_htu(url)?;
    let mut jti = [0u8; 16];
    rng.fill_bytes(&mut jti);
    let public = key.holder_key();
    let header = json!({
        "typ": DPOP_TYP,
        "alg": public.algorithm().jws_alg(),
        "jwk": public.to_jwk(),
    });
    let claims = json!({
        "htm": method,
        "htu": htu,
        "iat": now.unix(),
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "ath": ath(token.trim()),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign_jws(signing_input.as_bytes());
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// A proof whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The key that signed it.
    pub key: HolderPublicKey,
    /// `htm`.
    pub htm: String,
    /// `htu`, normalised.
    pub htu: String,
    /// `iat`.
    pub iat: Timestamp,
    /// `jti`.
    pub jti: String,
    /// `ath`; empty when the proof has none (as at a token endpoint).
    pub ath: String,
}

fn part(text: &str, what: &str) -> Result<Vec<u8>, ProofError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| ProofError::Malformed(format!("the {what} is not base64url")))
}

/// `T` read from the JSON object that `bytes` must be.
fn json_part<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, ProofError> {
    serde_json::from_slice(bytes).map_err(|_| {
        ProofError::Malformed(format!(
            "the {what} is not a JSON object (or it repeats a member)"
        ))
    })
}

/// A holder's key made ready to verify proofs: its point decoded (decompressed) once, so
/// that a verifier which keeps it with a verified token pays for that only once per token,
/// not once per request.
#[derive(Clone)]
pub struct HolderKey {
    key: HolderPublicKey,
    point: Point,
}

/// A holder key's point, decoded.
#[derive(Clone)]
enum Point {
    /// `None` when the 32 bytes are not a point of the curve: no proof verifies then.
    Ed25519(Option<ed25519_dalek::VerifyingKey>),
    /// `None` only for a key not made by [`P256PublicKey`]'s constructors.
    P256(Option<p256::ecdsa::VerifyingKey>),
}

impl HolderKey {
    /// Prepares `key` (decodes its point: for Ed25519 about a quarter of a signature
    /// verification).
    pub fn new(key: impl Into<HolderPublicKey>) -> Self {
        let key = key.into();
        let point = match &key {
            HolderPublicKey::Ed25519(k) => {
                Point::Ed25519(ed25519_dalek::VerifyingKey::from_bytes(&k.to_bytes()).ok())
            }
            HolderPublicKey::P256(k) => Point::P256(k.verifying_key()),
        };
        Self { key, point }
    }

    /// The key.
    pub fn public(&self) -> &HolderPublicKey {
        &self.key
    }

    /// Whether the point decoded: a key that is no point of its curve verifies nothing.
    fn usable(&self) -> bool {
        matches!(&self.point, Point::Ed25519(Some(_)) | Point::P256(Some(_)))
    }
}

impl From<PublicKey> for HolderKey {
    fn from(key: PublicKey) -> Self {
        Self::new(key)
    }
}

impl From<HolderPublicKey> for HolderKey {
    fn from(key: HolderPublicKey) -> Self {
        Self::new(key)
    }
}

impl std::fmt::Debug for HolderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HolderKey").field(&self.key).finish()
    }
}

/// The parts of a compact JWS, its length bounded.
fn split(proof: &str) -> Result<(&str, &str, &str), ProofError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(ProofError::Malformed(format!(
            "longer than {MAX_PROOF_BYTES} bytes"
        )));
    }
    let mut parts = proof.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed(
            "expected three `.`-separated parts".into(),
        ));
    };
    Ok((h, c, s))
}

/// The key a header's `jwk` states, its shape checked but not yet its point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JwkKey {
    /// `{"kty":"OKP","crv":"Ed25519","x"}`.
    Ed25519([u8; 32]),
    /// `{"kty":"EC","crv":"P-256","x","y"}`.
    P256 { x: [u8; 32], y: [u8; 32] },
}

impl JwkKey {
    /// Whether it is `holder` (same algorithm, same point: a P-256 key's coordinates
    /// against the holder's).
    fn is(&self, holder: &HolderPublicKey) -> bool {
        match (self, holder) {
            (Self::Ed25519(x), HolderPublicKey::Ed25519(k)) => *x == k.to_bytes(),
            (Self::P256 { x, y }, HolderPublicKey::P256(k)) => x == k.x() && y == k.y(),
            _ => false,
        }
    }

    /// The key, prepared; [`ProofError::Jwk`] when it is not a point of its curve.
    fn prepare(&self) -> Result<HolderKey, ProofError> {
        let key = match self {
            Self::Ed25519(x) => HolderKey::new(PublicKey::from_bytes(*x)),
            Self::P256 { x, y } => {
                HolderKey::new(P256PublicKey::from_coordinates(x, y).ok_or(ProofError::Jwk)?)
            }
        };
        if key.usable() {
            Ok(key)
        } else {
            Err(ProofError::Jwk)
        }
    }
}

/// The `alg` of a header: `EdDSA` or `ES256`, each other value refused with its reason.
fn header_alg(alg: &members::Loose<'_>) -> Result<HolderAlgorithm, ProofError> {
    let Some(alg) = alg.as_str() else {
        return Err(ProofError::Malformed(
            "the header's `alg` is missing or not a string".into(),
        ));
    };
    if let Some(a) = HolderAlgorithm::from_jws_alg(alg) {
        return Ok(a);
    }
    Err(match alg {
        "none" => ProofError::AlgNone,
        // RFC 7518's MACs: `HS256`, `HS384`, `HS512`.
        a if a.starts_with("HS") => ProofError::SymmetricAlg(a.to_owned()),
        a => ProofError::Alg(
            a.chars()
                .take(64)
                .collect::<String>()
                .escape_debug()
                .to_string(),
        ),
    })
}

/// A base64url member of exactly 32 bytes.
fn coordinate(member: Option<&str>) -> Result<[u8; 32], ProofError> {
    let mut out = [0u8; 33];
    match member.map(|v| URL_SAFE_NO_PAD.decode_slice(v.as_bytes(), &mut out)) {
        Some(Ok(32)) => out.first_chunk::<32>().copied().ok_or(ProofError::Jwk),
        _ => Err(ProofError::Jwk),
    }
}

/// The header's checks (`typ`, `alg`, a public `jwk` of the `alg`); returns the `jwk`'s key.
fn header_key(h: &str) -> Result<JwkKey, ProofError> {
    let bytes = part(h, "header")?;
    let header: members::Header<'_> = json_part(&bytes, "header")?;
    let typ = header.typ.as_str().unwrap_or_default();
    if typ != DPOP_TYP {
        return Err(ProofError::Typ(typ.to_owned()));
    }
    let alg = header_alg(&header.alg)?;
    let members::Loose::Object(jwk) = header.jwk else {
        return Err(ProofError::Jwk);
    };
    if let Some(private) = jwk.private {
        return Err(ProofError::PrivateJwk(private.to_owned()));
    }
    if jwk.kty.as_deref() == Some("oct") {
        return Err(ProofError::SymmetricJwk);
    }
    let (kty, crv) = alg.jwk_type();
    match (jwk.kty.as_deref(), jwk.crv.as_deref()) {
        (Some(k), Some(c)) if k == kty && c == crv => {}
        (None, _) => return Err(ProofError::Jwk),
        (Some(k), c) => {
            let show = |t: &str| {
                t.chars()
                    .take(32)
                    .collect::<String>()
                    .escape_debug()
                    .to_string()
            };
            return Err(ProofError::JwkMismatch {
                alg: alg.jws_alg().to_owned(),
                jwk: match c {
                    Some(c) => format!("an `{}` key on `{}`", show(k), show(c)),
                    None => format!("an `{}` key with no `crv`", show(k)),
                },
            });
        }
    }
    Ok(match alg {
        HolderAlgorithm::Ed25519 => JwkKey::Ed25519(coordinate(jwk.x.as_deref())?),
        HolderAlgorithm::P256 => JwkKey::P256 {
            x: coordinate(jwk.x.as_deref())?,
            y: coordinate(jwk.y.as_deref())?,
        },
    })
}

/// Verifies the signature over `h.c` with `key` (Ed25519 strictly; ES256 with `r` and `s`
/// in range).
fn verify_signature(
    proof: &str,
    (h, c, s): (&str, &str, &str),
    key: &HolderKey,
) -> Result<(), ProofError> {
    let alg = key.key.algorithm().jws_alg();
    let bytes = part(s, "signature")?;
    let sig: [u8; 64] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| ProofError::SignatureLength {
            alg,
            len: bytes.len(),
        })?;
    let signing_input = proof.get(..h.len() + 1 + c.len()).unwrap_or_default();
    match &key.point {
        Point::Ed25519(Some(point)) => point
            .verify_strict(
                signing_input.as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&sig),
            )
            .map_err(|_| ProofError::Signature),
        Point::P256(Some(point)) => {
            crate::keys::verify_es256(point, signing_input.as_bytes(), &sig)
                .map_err(|_| ProofError::Signature)
        }
        Point::Ed25519(None) | Point::P256(None) => Err(ProofError::Jwk),
    }
}

/// The claims of a proof whose signature verified; `htu` as sent.
fn claims(key: HolderPublicKey, c: &str) -> Result<Proof, ProofError> {
    let bytes = part(c, "claims")?;
    let claims: members::Claims<'_> = json_part(&bytes, "claims")?;
    let text = |k: &str, v: &members::Loose<'_>| {
        v.as_str().map(str::to_owned).ok_or_else(|| {
            ProofError::Malformed(format!("the claim `{k}` is missing or not a string"))
        })
    };
    let iat = match claims.iat {
        members::Loose::Uint(n) => Timestamp::from_unix(n),
        _ => {
            return Err(ProofError::Malformed(
                "the claim `iat` is missing or not a number".into(),
            ))
        }
    };
    let jti = text("jti", &claims.jti).map_err(|_| ProofError::Jti)?;
    if jti.is_empty() || jti.len() > 256 {
        return Err(ProofError::Jti);
    }
    Ok(Proof {
        key,
        htm: text("htm", &claims.htm)?,
        htu: text("htu", &claims.htu)?,
        iat,
        jti,
        // Absent at a token endpoint (RFC 9449 section 4.2): `check_proof` refuses it empty.
        ath: claims.ath.as_str().unwrap_or_default().to_owned(),
    })
}

/// Parses a proof and verifies its signature with the key in its header.
pub fn parse_proof(proof: &str) -> Result<Proof, ProofError> {
    let proof = proof.trim();
    let parts = split(proof)?;
    let key = header_key(parts.0)?.prepare()?;
    verify_signature(proof, parts, &key)?;
    let mut p = claims(key.key, parts.1)?;
    p.htu = normalize_htu(&p.htu)?;
    Ok(p)
}

/// What a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The token's current holder.
    pub holder: &'a HolderKey,
    /// The request's method.
    pub method: &'a str,
    /// The request's URL.
    pub url: &'a str,
    /// The token as sent.
    pub token: &'a str,
    /// The request time.
    pub now: Timestamp,
    /// How far `iat` may be from `now`, either way.
    pub window: Span,
}

/// Parses `proof` and checks it against the request; the caller still has to refuse a
/// `jti` it has seen within the window.
///
/// Every check of RFC 9449 section 4.3 that needs no state: `typ`, `alg` (`EdDSA` or
/// `ES256`), a public `jwk` of that algorithm equal to the holder's key (same algorithm,
/// same point), the signature (strict Ed25519, or ES256, with the holder's prepared
/// point), `htm`, `htu` (both normalised), `iat` within the window and `ath`.
pub fn check_proof(proof: &str, e: &Expected<'_>) -> Result<Proof, ProofError> {
    let proof = proof.trim();
    let parts = split(proof)?;
    let jwk = header_key(parts.0)?;
    if !jwk.is(&e.holder.key) {
        // Not the holder's key: whether its signature verifies does not matter, but a
        // `jwk` that is not a point is said to be that.
        let found = jwk.prepare()?;
        verify_signature(proof, parts, &found)?;
        return Err(ProofError::NotHolder {
            holder: e.holder.key.to_string(),
            found: found.key.to_string(),
        });
    }
    verify_signature(proof, parts, e.holder)?;
    let mut p = claims(e.holder.key, parts.1)?;
    if p.htm != e.method {
        return Err(ProofError::Method {
            expected: e.method.to_owned(),
            found: p.htm,
        });
    }
    p.htu = normalize_htu(&p.htu)?;
    // A normalised URL normalises to itself: a request URL equal to it needs no parsing.
    if p.htu != e.url.trim() {
        let expected_url = normalize_htu(e.url)?;
        if p.htu != expected_url {
            return Err(ProofError::Url {
                expected: expected_url,
                found: p.htu,
            });
        }
    }
    if p.iat < e.now.minus(e.window) {
        return Err(ProofError::TooOld {
            iat: p.iat,
            now: e.now,
            window: e.window,
        });
    }
    if p.iat > e.now.plus(e.window) {
        return Err(ProofError::FromTheFuture {
            iat: p.iat,
            now: e.now,
            window: e.window,
        });
    }
    if p.ath.is_empty() {
        return Err(ProofError::Malformed(
            "the claim `ath` is missing or not a string".into(),
        ));
    }
    if !ath_matches(&p.ath, e.token.trim()) {
        return Err(ProofError::Ath);
    }
    Ok(p)
}

/// Parses and checks a proof sent to an OAuth token endpoint (RFC 9449 section 5): no
/// access token goes with it, so it needs no `ath`; its key is the one the tokens will be
/// bound to. Checks the signature by the key in its header, `htm`, `htu` and `iat`
/// within `window` of `now`; the caller still has to refuse a `jti` it has seen.
pub fn check_token_request_proof(
    proof: &str,
    method: &str,
    url: &str,
    now: Timestamp,
    window: Span,
) -> Result<Proof, ProofError> {
    let p = parse_proof(proof)?;
    if p.htm != method {
        return Err(ProofError::Method {
            expected: method.to_owned(),
            found: p.htm,
        });
    }
    let expected_url = normalize_htu(url)?;
    if p.htu != expected_url {
        return Err(ProofError::Url {
            expected: expected_url,
            found: p.htu,
        });
    }
    if p.iat < now.minus(window) {
        return Err(ProofError::TooOld {
            iat: p.iat,
            now,
            window,
        });
    }
    if p.iat > now.plus(window) {
        return Err(ProofError::FromTheFuture {
            iat: p.iat,
            now,
            window,
        });
    }
    Ok(p)
}

/// Whether `claimed` is [`ath`]`(token)`, without allocating.
fn ath_matches(claimed: &str, token: &str) -> bool {
    let mut buf = [0u8; 44];
    match URL_SAFE_NO_PAD.encode_slice(Sha256::digest(token.as_bytes()), &mut buf) {
        Ok(n) => buf.get(..n) == Some(claimed.as_bytes()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests;
