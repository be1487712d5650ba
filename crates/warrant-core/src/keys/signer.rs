//! Holder signing keys: what an agent signs DPoP proofs and delegation blocks with,
//! Ed25519 ([`SigningKey`]) or P-256 ([`P256SigningKey`]); [`HolderSigningKey`] is either,
//! as read from a key file; [`HolderSigner`] is what proofs and delegation ask of a key.
//!
//! A P-256 key file is PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, RFC 5958 version 1
//! holding an RFC 5915 `ECPrivateKey` with its public key), as the `p256` crate, OpenSSL
//! (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`) and Python
//! `cryptography` write and read it.

use std::fmt;

use biscuit_auth::Algorithm;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::holder::{HolderAlgorithm, HolderPublicKey, P256PublicKey};
use super::{KeyError, Signature, SigningKey};

/// A key that can hold a token: it signs DPoP proofs and the delegation blocks that hand
/// the token on. Implemented by the Ed25519 [`SigningKey`], by [`P256SigningKey`] and by
/// [`HolderSigningKey`] (either).
pub trait HolderSigner {
    /// The public half, as a holder key.
    fn holder_key(&self) -> HolderPublicKey;

    /// A JWS signature over `signing_input`, 64 raw bytes: Ed25519 for `alg: EdDSA`, or
    /// ECDSA over P-256 with SHA-256 as `r‖s` for `alg: ES256` (RFC 7518 section 3.4; RFC
    /// 6979 deterministic, low `s`).
    fn sign_jws(&self, signing_input: &[u8]) -> [u8; 64];

    /// The key as Biscuit signs a third-party block with it.
    fn biscuit_private_key(&self) -> Result<biscuit_auth::PrivateKey, KeyError>;
}

impl HolderSigner for SigningKey {
    fn holder_key(&self) -> HolderPublicKey {
        HolderPublicKey::Ed25519(self.public())
    }

    fn sign_jws(&self, signing_input: &[u8]) -> [u8; 64] {
        self.sign(signing_input)
    }

    fn biscuit_private_key(&self) -> Result<biscuit_auth::PrivateKey, KeyError> {
        Ok(self.key_pair().private())
    }
}

/// A P-256 signing key. Its `Debug` form never shows the secret; the secret is zeroed
/// when the key is dropped.
pub struct P256SigningKey {
    key: p256::ecdsa::SigningKey,
    public: P256PublicKey,
}

impl P256SigningKey {
    /// With its public half worked out (`None` never happens: a signing key's point is
    /// never the identity).
    fn new(key: p256::ecdsa::SigningKey) -> Option<Self> {
        let public = P256PublicKey::from_verifying_key(key.verifying_key())?;
        Some(Self { key, public })
    }

    /// A fresh key from `rng`.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        // The first key drawn is taken: `new` refuses none.
        loop {
            if let Some(key) = Self::new(p256::ecdsa::SigningKey::random(rng)) {
                return key;
            }
        }
    }

    /// From the 32-byte big-endian secret scalar (refused if zero or not below the group
    /// order).
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Result<Self, KeyError> {
        p256::ecdsa::SigningKey::from_slice(secret)
            .ok()
            .and_then(Self::new)
            .ok_or(KeyError::HolderPrivateKey)
    }

    /// Reads a PKCS#8 PEM private key of P-256 (lines before the PEM block are skipped).
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let start = text.find("-----BEGIN").ok_or(KeyError::HolderPrivateKey)?;
        let private = biscuit_auth::PrivateKey::from_pem_with_algorithm(
            text.get(start..).unwrap_or(""),
            Algorithm::Secp256r1,
        )
        .map_err(|_| KeyError::HolderPrivateKey)?;
        let secret = private.to_bytes();
        p256::ecdsa::SigningKey::from_slice(&secret)
            .ok()
            .and_then(Self::new)
            .ok_or(KeyError::HolderPrivateKey)
    }

    /// The key file text: PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.biscuit_private_key()?
            .to_pem()
            .map_err(|_| KeyError::HolderPrivateKey)
    }

    /// The public half.
    pub const fn public(&self) -> P256PublicKey {
        self.public
    }
}

impl HolderSigner for P256SigningKey {
    fn holder_key(&self) -> HolderPublicKey {
        HolderPublicKey::P256(self.public)
    }

    fn sign_jws(&self, signing_input: &[u8]) -> [u8; 64] {
        use p256::ecdsa::signature::Signer as _;
        let signature: p256::ecdsa::Signature = self.key.sign(signing_input);
        let low_s = signature.normalize_s().unwrap_or(signature);
        let mut out = [0u8; 64];
        for (o, b) in out.iter_mut().zip(low_s.to_bytes()) {
            *o = b;
        }
        out
    }

    fn biscuit_private_key(&self) -> Result<biscuit_auth::PrivateKey, KeyError> {
        let secret = Zeroizing::new(self.key.to_bytes());
        biscuit_auth::PrivateKey::from_bytes(&secret[..], Algorithm::Secp256r1)
            .map_err(|_| KeyError::HolderPrivateKey)
    }
}

impl fmt::Debug for P256SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P256SigningKey")
            .field("public", &self.holder_key())
            .finish_non_exhaustive()
    }
}

/// A holder's signing key of either algorithm, as an agent's key file holds it.
#[derive(Debug)]
pub enum HolderSigningKey {
    /// Ed25519 (`alg: EdDSA`).
    Ed25519(SigningKey),
    /// P-256 (`alg: ES256`).
    P256(P256SigningKey),
}

impl HolderSigningKey {
    /// A fresh key of `algorithm` from `rng`.
    pub fn generate(algorithm: HolderAlgorithm, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        match algorithm {
            HolderAlgorithm::Ed25519 => Self::Ed25519(SigningKey::generate(rng, None)),
            HolderAlgorithm::P256 => Self::P256(P256SigningKey::generate(rng)),
        }
    }

    /// Reads a key file: a PKCS#8 PEM private key of Ed25519 (with an optional
    /// `warrant-key-id` line, as [`SigningKey::from_pem`] reads it) or of P-256.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        match SigningKey::from_pem(text) {
            Ok(key) => Ok(Self::Ed25519(key)),
            Err(KeyError::PrivateKey) => P256SigningKey::from_pem(text).map(Self::P256),
            Err(other) => Err(other),
        }
    }

    /// The key file text (PKCS#8 PEM; an Ed25519 key as [`SigningKey::to_pem`] writes it).
    pub fn to_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        match self {
            Self::Ed25519(k) => k.to_pem(),
            Self::P256(k) => k.to_pem(),
        }
    }

    /// The key's algorithm.
    pub const fn algorithm(&self) -> HolderAlgorithm {
        match self {
            Self::Ed25519(_) => HolderAlgorithm::Ed25519,
            Self::P256(_) => HolderAlgorithm::P256,
        }
    }

    /// The public half.
    pub fn public(&self) -> HolderPublicKey {
        self.holder_key()
    }

    /// [`HolderSigner::sign_jws`] as a [`Signature`], for answers written as hex (an
    /// agent's registration challenge).
    pub fn signature(&self, data: &[u8]) -> Signature {
        Signature::from_bytes(self.sign_jws(data))
    }
}

impl From<SigningKey> for HolderSigningKey {
    fn from(key: SigningKey) -> Self {
        Self::Ed25519(key)
    }
}

impl From<P256SigningKey> for HolderSigningKey {
    fn from(key: P256SigningKey) -> Self {
        Self::P256(key)
    }
}

impl HolderSigner for HolderSigningKey {
    fn holder_key(&self) -> HolderPublicKey {
        match self {
            Self::Ed25519(k) => k.holder_key(),
            Self::P256(k) => k.holder_key(),
        }
    }

    fn sign_jws(&self, signing_input: &[u8]) -> [u8; 64] {
        match self {
            Self::Ed25519(k) => k.sign_jws(signing_input),
            Self::P256(k) => k.sign_jws(signing_input),
        }
    }

    fn biscuit_private_key(&self) -> Result<biscuit_auth::PrivateKey, KeyError> {
        match self {
            Self::Ed25519(k) => k.biscuit_private_key(),
            Self::P256(k) => k.biscuit_private_key(),
        }
    }
}
