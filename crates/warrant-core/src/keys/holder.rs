//! Holder keys: the public keys of agents, which sign DPoP proofs and delegation blocks,
//! either Ed25519 or P-256 (ES256). Issuer root keys stay Ed25519 ([`PublicKey`]).
//!
//! | | Ed25519 | P-256 |
//! |---|---|---|
//! | text | `ed25519/<64 hex digits>` | `secp256r1/<66 hex digits>`: the 33-byte SEC1 compressed point, as Biscuit prints its keys |
//! | `holder` fact | `holder(hex:<32 bytes>)` | `holder(hex:<33 bytes>)`, the compressed point (its length and its `02`/`03` prefix tell it apart) |
//! | JWK | `{"kty":"OKP","crv":"Ed25519","x"}` (RFC 8037) | `{"kty":"EC","crv":"P-256","x","y"}` (RFC 7518 section 6.2.1) |
//! | DPoP `alg` | `EdDSA` | `ES256` (the signature is r‖s, 64 bytes, RFC 7518 section 3.4) |
//!
//! Two keys are equal when their algorithm and their point are: a P-256 key read from a
//! JWK's coordinates equals the same key read from its compressed form.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{BadSignature, KeyError, PublicKey, Signature};

/// The algorithm of a holder key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HolderAlgorithm {
    /// Ed25519: DPoP proofs with `alg: EdDSA`.
    Ed25519,
    /// P-256 (secp256r1): DPoP proofs with `alg: ES256`.
    P256,
}

impl HolderAlgorithm {
    /// Both, in the order proofs and messages name them.
    pub const ALL: [Self; 2] = [Self::Ed25519, Self::P256];

    /// The JWS `alg` of a DPoP proof made with a key of this algorithm.
    pub const fn jws_alg(self) -> &'static str {
        match self {
            Self::Ed25519 => "EdDSA",
            Self::P256 => "ES256",
        }
    }

    /// The algorithm whose proofs carry the JWS `alg` given: `EdDSA` or `ES256`, exactly
    /// (JWS algorithm names are case-sensitive).
    pub fn from_jws_alg(alg: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.jws_alg() == alg)
    }

    /// The prefix of a key's text: Biscuit's name of the algorithm.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::P256 => "secp256r1",
        }
    }

    /// The JWK `kty` and `crv` of a key of this algorithm.
    pub const fn jwk_type(self) -> (&'static str, &'static str) {
        match self {
            Self::Ed25519 => ("OKP", "Ed25519"),
            Self::P256 => ("EC", "P-256"),
        }
    }
}

impl fmt::Display for HolderAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ed25519 => "Ed25519",
            Self::P256 => "P-256",
        })
    }
}

/// Reads `ed25519` or `eddsa`, and `es256`, `p256`, `p-256` or `secp256r1` (any case).
impl FromStr for HolderAlgorithm {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ed25519" | "eddsa" => Ok(Self::Ed25519),
            "es256" | "p256" | "p-256" | "secp256r1" => Ok(Self::P256),
            _ => Err(KeyError::Algorithm(s.escape_debug().to_string())),
        }
    }
}

/// A P-256 public key: a point of the curve other than the identity, checked when the key
/// is made (from SEC1 bytes or a JWK's coordinates), kept as its affine coordinates.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct P256PublicKey {
    x: [u8; 32],
    y: [u8; 32],
}

impl P256PublicKey {
    /// From SEC1 bytes: the 33-byte compressed (`02`/`03`) or the 65-byte uncompressed
    /// (`04`) point. `None` for anything else (the identity `00`, the compact form `05`…),
    /// or a point off the curve.
    pub fn from_sec1_bytes(bytes: &[u8]) -> Option<Self> {
        match (bytes.len(), bytes.first()) {
            (33, Some(2 | 3)) | (65, Some(4)) => {}
            _ => return None,
        }
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes).ok()?;
        Self::from_verifying_key(&key)
    }

    /// From the affine coordinates (a JWK's `x` and `y`, big-endian); `None` off the curve.
    pub fn from_coordinates(x: &[u8; 32], y: &[u8; 32]) -> Option<Self> {
        let key = Self { x: *x, y: *y };
        key.verifying_key().map(|_| key)
    }

    /// From a verifying key of the `p256` crate.
    pub fn from_verifying_key(key: &p256::ecdsa::VerifyingKey) -> Option<Self> {
        let point = key.to_encoded_point(false);
        Some(Self {
            x: <[u8; 32]>::try_from(&point.x()?[..]).ok()?,
            y: <[u8; 32]>::try_from(&point.y()?[..]).ok()?,
        })
    }

    /// The affine `x` coordinate, big-endian.
    pub const fn x(&self) -> &[u8; 32] {
        &self.x
    }

    /// The affine `y` coordinate, big-endian.
    pub const fn y(&self) -> &[u8; 32] {
        &self.y
    }

    /// The 33-byte SEC1 compressed point: `02` (even `y`) or `03` (odd `y`), then `x`.
    pub fn to_compressed(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        let parity = self.y.last().map_or(0, |b| b & 1);
        for (o, b) in out
            .iter_mut()
            .zip(std::iter::once(2 | parity).chain(self.x))
        {
            *o = b;
        }
        out
    }

    /// The key as the `p256` crate verifies with it (the point checked again: `None`
    /// only for coordinates not made by this type's constructors).
    pub fn verifying_key(&self) -> Option<p256::ecdsa::VerifyingKey> {
        let point = p256::EncodedPoint::from_affine_coordinates(
            &p256::FieldBytes::from(self.x),
            &p256::FieldBytes::from(self.y),
            false,
        );
        p256::ecdsa::VerifyingKey::from_encoded_point(&point).ok()
    }

    /// Verifies an ES256 signature (ECDSA over P-256 with SHA-256, `r‖s`, 64 bytes) over
    /// `message`. `r` and `s` must be in `1..n`; a high `s` is accepted, as RFC 7518 and
    /// other JOSE libraries accept it (see [`verify_es256`]).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), BadSignature> {
        let key = self.verifying_key().ok_or(BadSignature)?;
        verify_es256(&key, message, signature)
    }
}

/// Verifies an ES256 signature `r‖s` over `message` with `key`.
///
/// `r` or `s` zero or not below the group order is refused (the signature is not
/// canonical); a high `s` (`s > n/2`) is accepted. RFC 7518 does not ask for low-S,
/// WebCrypto, OpenSSL and Python `cryptography` make high-S signatures half the time, and
/// nothing in warrant keys anything by a proof's signature bytes: a proof's replay id is
/// its holder and its `jti`, so the second signature for the same message a high `s` gives
/// buys nothing. warrant signs with low `s` itself.
pub fn verify_es256(
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), BadSignature> {
    use p256::ecdsa::signature::Verifier as _;
    let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| BadSignature)?;
    key.verify(message, &sig).map_err(|_| BadSignature)
}

impl fmt::Debug for P256PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secp256r1/{}", hex::encode(self.to_compressed()))
    }
}

/// A holder's public key: Ed25519 or P-256. Written `ed25519/<hex>` or
/// `secp256r1/<hex of the compressed point>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum HolderPublicKey {
    /// An Ed25519 key.
    Ed25519(PublicKey),
    /// A P-256 key.
    P256(P256PublicKey),
}

impl HolderPublicKey {
    /// The key's algorithm.
    pub const fn algorithm(&self) -> HolderAlgorithm {
        match self {
            Self::Ed25519(_) => HolderAlgorithm::Ed25519,
            Self::P256(_) => HolderAlgorithm::P256,
        }
    }

    /// The Ed25519 key, if it is one.
    pub const fn as_ed25519(&self) -> Option<&PublicKey> {
        match self {
            Self::Ed25519(k) => Some(k),
            Self::P256(_) => None,
        }
    }

    /// The bytes of the key in a `holder` fact: Ed25519's 32, P-256's 33 (compressed).
    pub fn fact_bytes(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(k) => k.to_bytes().to_vec(),
            Self::P256(k) => k.to_compressed().to_vec(),
        }
    }

    /// The Biscuit form of this key.
    pub fn to_biscuit(&self) -> Result<biscuit_auth::PublicKey, KeyError> {
        match self {
            Self::Ed25519(k) => k.to_biscuit(),
            Self::P256(k) => biscuit_auth::PublicKey::from_bytes(
                &k.to_compressed(),
                biscuit_auth::Algorithm::Secp256r1,
            )
            .map_err(|_| KeyError::HolderKey(self.to_string())),
        }
    }

    /// From a Biscuit key (a third-party block's signer).
    pub fn from_biscuit(key: &biscuit_auth::PublicKey) -> Option<Self> {
        match key.algorithm_string() {
            "ed25519" => PublicKey::from_biscuit(key).map(Self::Ed25519),
            "secp256r1" => P256PublicKey::from_sec1_bytes(&key.to_bytes()).map(Self::P256),
            _ => None,
        }
    }

    /// The key as a public JWK: `{"kty":"OKP","crv":"Ed25519","x"}` (RFC 8037) or
    /// `{"kty":"EC","crv":"P-256","x","y"}` (RFC 7518 section 6.2.1: each coordinate in
    /// full, 32 bytes, base64url without padding).
    pub fn to_jwk(&self) -> serde_json::Value {
        match self {
            Self::Ed25519(k) => k.to_jwk(),
            Self::P256(k) => serde_json::json!({
                "kty": "EC",
                "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(k.x()),
                "y": URL_SAFE_NO_PAD.encode(k.y()),
            }),
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url without padding): the required
    /// members in lexicographic order, no whitespace (`crv`, `kty`, `x` for an OKP key;
    /// `crv`, `kty`, `x`, `y` for an EC key).
    pub fn jwk_thumbprint(&self) -> String {
        use sha2::Digest as _;
        match self {
            Self::Ed25519(k) => k.jwk_thumbprint(),
            Self::P256(k) => {
                let canonical = format!(
                    r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                    URL_SAFE_NO_PAD.encode(k.x()),
                    URL_SAFE_NO_PAD.encode(k.y())
                );
                URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical))
            }
        }
    }

    /// Verifies a 64-byte signature over `message`: Ed25519 strictly
    /// ([`PublicKey::verify`]), or ES256 `r‖s` ([`P256PublicKey::verify`]).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), BadSignature> {
        match self {
            Self::Ed25519(k) => k.verify(message, signature),
            Self::P256(k) => k.verify(message, &signature.to_bytes()),
        }
    }
}

impl From<PublicKey> for HolderPublicKey {
    fn from(key: PublicKey) -> Self {
        Self::Ed25519(key)
    }
}

impl From<&PublicKey> for HolderPublicKey {
    fn from(key: &PublicKey) -> Self {
        Self::Ed25519(*key)
    }
}

impl From<&HolderPublicKey> for HolderPublicKey {
    fn from(key: &HolderPublicKey) -> Self {
        *key
    }
}

impl From<P256PublicKey> for HolderPublicKey {
    fn from(key: P256PublicKey) -> Self {
        Self::P256(key)
    }
}

/// Reads `ed25519/<64 hex digits>` (a point of the curve) or `secp256r1/<66 hex digits>`
/// (a compressed P-256 point on the curve), hex in either case.
impl FromStr for HolderPublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || {
            KeyError::HolderKey(
                s.chars()
                    .take(200)
                    .collect::<String>()
                    .escape_debug()
                    .to_string(),
            )
        };
        let t = s.trim();
        if t.starts_with("ed25519/") {
            return t.parse::<PublicKey>().map(Self::Ed25519).map_err(|_| err());
        }
        let hex_part = t.strip_prefix("secp256r1/").ok_or_else(err)?;
        let bytes: [u8; 33] = hex::decode(hex_part)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(err)?;
        P256PublicKey::from_sec1_bytes(&bytes)
            .map(Self::P256)
            .ok_or_else(err)
    }
}

impl fmt::Display for HolderPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ed25519(k) => fmt::Display::fmt(k, f),
            Self::P256(k) => fmt::Debug::fmt(k, f),
        }
    }
}

impl fmt::Debug for HolderPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for HolderPublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HolderPublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
