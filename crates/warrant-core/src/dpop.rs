//! DPoP proofs of possession (RFC 9449) with EdDSA: what an agent sends with every
//! request, and the checks a verifier makes of it.
//!
//! A proof is a compact JWS: header `{"typ":"dpop+jwt","alg":"EdDSA","jwk":{…}}`, claims
//! `htm` (the HTTP method), `htu` (the URL without query and fragment), `iat`, `jti` (a
//! one-time id) and `ath` (base64url SHA-256 of the token), signed by the holder's key.
//! Remembering `jti`s to refuse replays is the verifier's job (it keeps state); everything
//! else is here, pure.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand_core::{CryptoRng, RngCore};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::keys::{PublicKey, SigningKey};
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
    /// `alg` is not `EdDSA`.
    #[error("the DPoP proof's `alg` is `{0}`, expected `EdDSA`")]
    Alg(String),
    /// The header has no usable Ed25519 `jwk`.
    #[error("the DPoP proof's `jwk` is not an Ed25519 public key")]
    Jwk,
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

/// Makes a proof for one request: `key` must be the token's holder key, `token` the
/// token text sent with the request (its hash is the proof's `ath`).
///
/// ```
/// use warrant_core::dpop::{check_proof, create_proof, Expected, HolderKey, DEFAULT_PROOF_WINDOW};
/// use warrant_core::keys::SigningKey;
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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn create_proof(
    key: &SigningKey,
    method: &str,
    url: &str,
    token: &str,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<String, ProofError> {
    let htu = normalize_htu(url)?;
    let mut jti = [0u8; 16];
    rng.fill_bytes(&mut jti);
    let header = json!({ "typ": DPOP_TYP, "alg": "EdDSA", "jwk": key.public().to_jwk() });
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
    let sig = key.sign(signing_input.as_bytes());
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// A proof whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The key that signed it.
    pub key: PublicKey,
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
    key: PublicKey,
    /// `None` when the 32 bytes are not a point of the curve: no proof verifies then.
    point: Option<ed25519_dalek::VerifyingKey>,
}

impl HolderKey {
    /// Prepares `key` (decodes its point: about a quarter of a signature verification).
    pub fn new(key: PublicKey) -> Self {
        Self {
            key,
            point: ed25519_dalek::VerifyingKey::from_bytes(&key.to_bytes()).ok(),
        }
    }

    /// The key.
    pub fn public(&self) -> &PublicKey {
        &self.key
    }
}

impl From<PublicKey> for HolderKey {
    fn from(key: PublicKey) -> Self {
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

/// The header's checks (`typ`, `alg`, an Ed25519 public `jwk`); returns the `jwk`'s key.
fn header_key(h: &str) -> Result<[u8; 32], ProofError> {
    let bytes = part(h, "header")?;
    let header: members::Header<'_> = json_part(&bytes, "header")?;
    let typ = header.typ.as_str().unwrap_or_default();
    if typ != DPOP_TYP {
        return Err(ProofError::Typ(typ.to_owned()));
    }
    let alg = header.alg.as_str().unwrap_or_default();
    if alg != "EdDSA" {
        return Err(ProofError::Alg(alg.to_owned()));
    }
    let members::Loose::Object(jwk) = header.jwk else {
        return Err(ProofError::Jwk);
    };
    if jwk.kty.as_deref() != Some("OKP") || jwk.crv.as_deref() != Some("Ed25519") || jwk.d {
        return Err(ProofError::Jwk);
    }
    let mut x = [0u8; 33];
    match jwk
        .x
        .map(|v| URL_SAFE_NO_PAD.decode_slice(v.as_bytes(), &mut x))
    {
        Some(Ok(32)) => x.first_chunk::<32>().copied().ok_or(ProofError::Jwk),
        _ => Err(ProofError::Jwk),
    }
}

/// Verifies the signature over `h.c` with `point` (strictly).
fn verify_signature(
    proof: &str,
    (h, c, s): (&str, &str, &str),
    point: &ed25519_dalek::VerifyingKey,
) -> Result<(), ProofError> {
    let sig: [u8; 64] = part(s, "signature")?
        .try_into()
        .map_err(|_| ProofError::Signature)?;
    let signing_input = proof.get(..h.len() + 1 + c.len()).unwrap_or_default();
    point
        .verify_strict(
            signing_input.as_bytes(),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| ProofError::Signature)
}

/// The claims of a proof whose signature verified; `htu` as sent.
fn claims(key: PublicKey, c: &str) -> Result<Proof, ProofError> {
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
    let x = header_key(parts.0)?;
    let key = HolderKey::new(PublicKey::from_bytes(x));
    // Any 32 bytes make a `PublicKey`: a point of the curve makes a key.
    let point = key.point.as_ref().ok_or(ProofError::Jwk)?;
    verify_signature(proof, parts, point)?;
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
/// Every check of RFC 9449 section 4.3 that needs no state: `typ`, `alg`, a public
/// Ed25519 `jwk` equal to the holder's key, the signature (strict Ed25519, with the
/// holder's prepared point), `htm`, `htu` (both normalised), `iat` within the window and
/// `ath`.
pub fn check_proof(proof: &str, e: &Expected<'_>) -> Result<Proof, ProofError> {
    let proof = proof.trim();
    let parts = split(proof)?;
    let x = header_key(parts.0)?;
    if x != e.holder.key.to_bytes() {
        // Not the holder's key: whether its signature verifies does not matter, but a
        // `jwk` that is not a point is said to be that.
        let found = HolderKey::new(PublicKey::from_bytes(x));
        let point = found.point.as_ref().ok_or(ProofError::Jwk)?;
        verify_signature(proof, parts, point)?;
        return Err(ProofError::NotHolder {
            holder: e.holder.key.to_string(),
            found: found.key.to_string(),
        });
    }
    let point = e.holder.point.as_ref().ok_or(ProofError::Jwk)?;
    verify_signature(proof, parts, point)?;
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
mod tests {
    use super::*;
    use crate::keys::KeyId;
    use serde_json::Value as J;

    const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

    fn setup() -> (SigningKey, String) {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(9)));
        let proof = create_proof(
            &key,
            "GET",
            "https://API.example:443/tickets/123?x=1#f",
            "TOKEN",
            NOW,
            &mut rand_core::OsRng,
        )
        .unwrap();
        (key, proof)
    }

    fn expected<'a>(holder: &'a HolderKey) -> Expected<'a> {
        Expected {
            holder,
            method: "GET",
            url: "https://api.example/tickets/123",
            token: "TOKEN",
            now: NOW,
            window: DEFAULT_PROOF_WINDOW,
        }
    }

    #[test]
    fn a_proof_checks_out() {
        let (key, proof) = setup();
        let p = check_proof(&proof, &expected(&HolderKey::new(key.public()))).unwrap();
        assert_eq!(p.htu, "https://api.example/tickets/123");
        assert_eq!(p.iat, NOW);
        assert_eq!(p.jti.len(), 22);
    }

    #[test]
    fn each_mismatch_is_refused() {
        let (key, proof) = setup();
        let holder = HolderKey::new(key.public());
        let other = HolderKey::new(SigningKey::generate(&mut rand_core::OsRng, None).public());
        let e = expected(&holder);
        assert!(matches!(
            check_proof(
                &proof,
                &Expected {
                    holder: &other,
                    ..e
                }
            ),
            Err(ProofError::NotHolder { .. })
        ));
        assert!(matches!(
            check_proof(
                &proof,
                &Expected {
                    method: "POST",
                    ..e
                }
            ),
            Err(ProofError::Method { .. })
        ));
        assert!(matches!(
            check_proof(
                &proof,
                &Expected {
                    url: "https://api.example/tickets/124",
                    ..e
                }
            ),
            Err(ProofError::Url { .. })
        ));
        assert!(matches!(
            check_proof(
                &proof,
                &Expected {
                    token: "OTHER",
                    ..e
                }
            ),
            Err(ProofError::Ath)
        ));
        assert!(matches!(
            check_proof(
                &proof,
                &Expected {
                    now: NOW.plus(Span::from_seconds(61)),
                    ..e
                }
            ),
            Err(ProofError::TooOld { .. })
        ));
        assert!(matches!(
            check_proof(
                &proof,
                &Expected {
                    now: NOW.minus(Span::from_seconds(61)),
                    ..e
                }
            ),
            Err(ProofError::FromTheFuture { .. })
        ));
        assert!(check_proof(
            &proof,
            &Expected {
                now: NOW.plus(Span::from_seconds(60)),
                ..e
            }
        )
        .is_ok());
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let (key, proof) = setup();
        let holder = HolderKey::new(key.public());
        let e = expected(&holder);
        let mut parts: Vec<String> = proof.split('.').map(str::to_owned).collect();
        // Change a claim without re-signing.
        let mut claims: J =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["htm"] = "POST".into();
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert_eq!(
            check_proof(
                &parts.join("."),
                &Expected {
                    method: "POST",
                    ..e
                }
            ),
            Err(ProofError::Signature)
        );
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"x".repeat(5000)] {
            assert!(
                matches!(check_proof(bad, &e), Err(ProofError::Malformed(_))),
                "{bad:.20}"
            );
        }
        let header = |h: J| {
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(h.to_string()),
                parts[1],
                parts[2]
            )
        };
        assert!(matches!(
            check_proof(&header(json!({"typ": "JWT", "alg": "EdDSA"})), &e),
            Err(ProofError::Typ(_))
        ));
        assert!(matches!(
            check_proof(&header(json!({"typ": "dpop+jwt", "alg": "none"})), &e),
            Err(ProofError::Alg(_))
        ));
        assert!(matches!(
            check_proof(&header(json!({"typ": "dpop+jwt", "alg": "EdDSA"})), &e),
            Err(ProofError::Jwk)
        ));
        let mut jwk = holder.public().to_jwk();
        jwk["d"] = "secret".into();
        assert!(matches!(
            check_proof(
                &header(json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk})),
                &e
            ),
            Err(ProofError::Jwk)
        ));
    }

    #[test]
    fn the_request_url_is_normalised_unless_it_is_the_proofs() {
        let (key, proof) = setup();
        let holder = HolderKey::new(key.public());
        let e = expected(&holder);
        for url in [
            "https://api.example/tickets/123",
            "HTTPS://API.example:443/tickets/./123?other=query#f",
        ] {
            assert!(check_proof(&proof, &Expected { url, ..e }).is_ok(), "{url}");
        }
        assert!(matches!(
            check_proof(
                &proof,
                &Expected {
                    url: "https://api.example/tickets/1234",
                    ..e
                }
            ),
            Err(ProofError::Url { .. })
        ));
    }

    #[test]
    fn a_holder_key_off_the_curve_verifies_nothing_and_members_are_not_repeated() {
        let (key, proof) = setup();
        // y = 2 is not the y of a point of edwards25519.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let off = HolderKey::new(PublicKey::from_bytes(bytes));
        let parts: Vec<&str> = proof.split('.').collect();
        let h = json!({"typ": DPOP_TYP, "alg": "EdDSA", "jwk": off.public().to_jwk()});
        let claiming_off = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(h.to_string()),
            parts[1],
            parts[2]
        );
        assert_eq!(
            check_proof(&claiming_off, &expected(&off)),
            Err(ProofError::Jwk)
        );
        let holder = HolderKey::new(key.public());
        let header = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        // The same member twice (a parser keeping the first would see another `alg`).
        let twice = header.replacen('{', r#"{"alg":"none","#, 1);
        let forged = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(twice),
            parts[1],
            parts[2]
        );
        assert!(matches!(
            check_proof(&forged, &expected(&holder)),
            Err(ProofError::Malformed(m)) if m.contains("repeats a member")
        ));
    }

    #[test]
    fn urls_are_normalised() {
        assert_eq!(
            normalize_htu("HTTPS://Api.Example:443/a/./b/../c?q#f").unwrap(),
            "https://api.example/a/c"
        );
        assert_eq!(normalize_htu("http://api:80").unwrap(), "http://api/");
        assert_eq!(
            normalize_htu("http://api:8080/x").unwrap(),
            "http://api:8080/x"
        );
        assert!(normalize_htu("ftp://api/x").is_err());
        assert!(normalize_htu("/relative").is_err());
    }

    /// A proof as a client makes it for a token endpoint: no `ath`.
    fn without_ath(key: &SigningKey, htm: &str, htu: &str, iat: u64) -> String {
        let header = json!({ "typ": DPOP_TYP, "alg": "EdDSA", "jwk": key.public().to_jwk() });
        let claims = json!({ "htm": htm, "htu": htu, "iat": iat, "jti": "j1" });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()))
        )
    }

    #[test]
    fn token_endpoint_proofs_need_no_ath_and_proofs_with_a_token_do() {
        let key = SigningKey::generate(&mut rand_core::OsRng, None);
        let url = "https://issuer.example/token";
        let p = without_ath(&key, "POST", url, NOW.unix());
        let ok = check_token_request_proof(&p, "POST", url, NOW, DEFAULT_PROOF_WINDOW).unwrap();
        assert_eq!((ok.key, ok.ath.as_str()), (key.public(), ""));
        let window = DEFAULT_PROOF_WINDOW;
        for (bad, says) in [
            (
                without_ath(&key, "GET", url, NOW.unix()),
                "for method `GET`",
            ),
            (
                without_ath(&key, "POST", "https://issuer.example/other", NOW.unix()),
                "/other",
            ),
            (
                without_ath(&key, "POST", url, NOW.unix() - 61),
                "before the request time",
            ),
            (
                without_ath(&key, "POST", url, NOW.unix() + 61),
                "after the request time",
            ),
        ] {
            let e = check_token_request_proof(&bad, "POST", url, NOW, window).unwrap_err();
            assert!(e.to_string().contains(says), "{says}: {e}");
        }
        // Presented with a token, a proof without `ath` is refused, naming it.
        let holder = HolderKey::new(key.public());
        let e = check_proof(
            &p,
            &Expected {
                holder: &holder,
                method: "POST",
                url,
                token: "",
                now: NOW,
                window,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("`ath` is missing"), "{e}");
    }

    #[test]
    fn ath_is_base64url_sha256() {
        // echo -n abc | sha256sum, base64url without padding
        assert_eq!(ath("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }
}
