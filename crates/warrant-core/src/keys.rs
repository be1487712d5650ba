//! Keys: key ids, Ed25519 public keys written `ed25519/<hex>`, signing keys in PKCS#8
//! PEM files, and key sets published as JSON; holder keys, Ed25519 or P-256
//! ([`HolderPublicKey`], [`HolderSigningKey`], [`HolderSigner`]).

use std::fmt;
use std::str::FromStr;

use biscuit_auth::{Algorithm, KeyPair, PrivateKey};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

mod holder;
mod signer;

pub use holder::{verify_es256, HolderAlgorithm, HolderPublicKey, P256PublicKey};
pub use signer::{HolderSigner, HolderSigningKey, P256SigningKey};

/// The header line a warrant key file may carry before its PEM block.
const KEY_ID_HEADER: &str = "warrant-key-id:";

/// The DER of an RFC 8410 Ed25519 PKCS#8 v1 `OneAsymmetricKey` up to its 32-byte secret:
/// SEQUENCE (46 bytes) { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING (34 bytes)
/// { OCTET STRING (32 bytes) … } }.
const PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The id of a signing key, carried in a token as Biscuit's `root_key_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub u32);

impl FromStr for KeyId {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse()
            .map(Self)
            .map_err(|_| KeyError::KeyId(s.to_owned()))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Errors reading or writing keys and key sets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not `ed25519/<64 hex digits>`.
    #[error("`{0}` is not a public key: expected `ed25519/` followed by 64 hex digits")]
    PublicKey(String),
    /// Not a number.
    #[error("`{0}` is not a key id: expected a whole number from 0 to 4294967295")]
    KeyId(String),
    /// The private key file could not be read.
    #[error("not an Ed25519 PKCS#8 PEM private key")]
    PrivateKey,
    /// The key set JSON is invalid.
    #[error("invalid key set: {0}")]
    KeySet(String),
    /// Not 64 bytes written as 128 hex digits.
    #[error("`{0}` is not an Ed25519 signature: expected 128 hex digits (64 bytes)")]
    Signature(String),
    /// Not `ed25519/<64 hex digits>` or `secp256r1/<66 hex digits>`.
    #[error("`{0}` is not a holder public key: expected `ed25519/` followed by 64 hex digits, or `secp256r1/` followed by 66 hex digits (a compressed P-256 point on the curve)")]
    HolderKey(String),
    /// A holder key file that is neither algorithm's PKCS#8 PEM.
    #[error("not an Ed25519 or P-256 PKCS#8 PEM private key: make one with `warrant agent keygen`, or convert a SEC1 `EC PRIVATE KEY` file with `openssl pkcs8 -topk8 -nocrypt`")]
    HolderPrivateKey,
    /// Not a holder key algorithm.
    #[error("`{0}` is not a holder key algorithm: use `ed25519` (`EdDSA` proofs) or `es256` (P-256, `ES256` proofs)")]
    Algorithm(String),
}

/// A signature that does not verify (or a key that cannot verify anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the signature does not verify with the key")]
pub struct BadSignature;

/// A 64-byte signature, written as 128 hex digits: Ed25519, or (checked by a P-256
/// [`HolderPublicKey`]) ECDSA over P-256 as `r‖s`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 64]);

impl Signature {
    /// From the raw 64 bytes.
    pub const fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// The raw 64 bytes.
    pub const fn to_bytes(&self) -> [u8; 64] {
        self.0
    }

    /// Reads 128 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let bytes: [u8; 64] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                KeyError::Signature(
                    text.chars()
                        .take(140)
                        .collect::<String>()
                        .escape_debug()
                        .to_string(),
                )
            })?;
        Ok(Self(bytes))
    }

    /// The 128 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// An Ed25519 public key, written `ed25519/<hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The raw 32 bytes.
    pub const fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// From raw bytes (any 32 bytes are accepted here; Biscuit checks the point).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The Biscuit form of this key.
    pub fn to_biscuit(&self) -> Result<biscuit_auth::PublicKey, KeyError> {
        biscuit_auth::PublicKey::from_bytes(&self.0, Algorithm::Ed25519)
            .map_err(|_| KeyError::PublicKey(self.to_string()))
    }

    /// The key as an RFC 8037 OKP JWK member `x` (base64url, no padding).
    pub fn jwk_x(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The key as an RFC 8037 JWK: `{"kty":"OKP","crv":"Ed25519","x":"…"}`.
    pub fn to_jwk(&self) -> serde_json::Value {
        serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": self.jwk_x() })
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url without padding).
    pub fn jwk_thumbprint(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, self.jwk_x());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical))
    }

    /// Verifies an Ed25519 signature over `message`, strictly: small-order keys and
    /// non-canonical signatures are refused (`verify_strict`), so no signature verifies
    /// for more than one message under a weak key. Every signature warrant checks goes
    /// through here.
    ///
    /// ```
    /// use warrant_core::keys::{Signature, SigningKey};
    ///
    /// let key = SigningKey::generate(&mut rand_core::OsRng, None);
    /// let signature = Signature::from_bytes(key.sign(b"hello"));
    /// assert!(key.public().verify(b"hello", &signature).is_ok());
    /// assert!(key.public().verify(b"hullo", &signature).is_err());
    /// ```
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), BadSignature> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| BadSignature)?;
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature.0))
            .map_err(|_| BadSignature)
    }

    /// From a Biscuit key (Ed25519 only).
    pub fn from_biscuit(key: &biscuit_auth::PublicKey) -> Option<Self> {
        if key.algorithm_string() != "ed25519" {
            return None;
        }
        key.to_bytes().try_into().ok().map(Self)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || KeyError::PublicKey(s.to_owned());
        let hex_part = s.trim().strip_prefix("ed25519/").ok_or_else(err)?;
        let bytes: [u8; 32] = hex::decode(hex_part)
            .map_err(|_| err())?
            .try_into()
            .map_err(|_| err())?;
        let key = Self(bytes);
        key.to_biscuit().map_err(|_| err())?;
        Ok(key)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519/{}", hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 signing key and, optionally, its id. Its `Debug` form never shows the secret.
pub struct SigningKey {
    pair: KeyPair,
    key_id: Option<KeyId>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public())
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key from `rng`.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng), key_id: Option<KeyId>) -> Self {
        Self {
            pair: KeyPair::new_with_rng(Algorithm::Ed25519, rng),
            key_id,
        }
    }

    /// From the raw 32-byte Ed25519 secret.
    pub fn from_secret_bytes(secret: &[u8; 32], key_id: Option<KeyId>) -> Result<Self, KeyError> {
        let private =
            PrivateKey::from_bytes(secret, Algorithm::Ed25519).map_err(|_| KeyError::PrivateKey)?;
        Ok(Self {
            pair: KeyPair::from(&private),
            key_id,
        })
    }

    /// Reads a key file: an optional `warrant-key-id: N` line, then a PKCS#8 PEM block.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let mut key_id = None;
        for line in text.lines() {
            if let Some(id) = line.trim().strip_prefix(KEY_ID_HEADER) {
                key_id = Some(id.parse()?);
            }
        }
        let start = text.find("-----BEGIN").ok_or(KeyError::PrivateKey)?;
        let pair = KeyPair::from_private_key_pem_with_algorithm(&text[start..], Algorithm::Ed25519)
            .map_err(|_| KeyError::PrivateKey)?;
        Ok(Self { pair, key_id })
    }

    /// The key file text: the `warrant-key-id` line when the key has an id, then a PKCS#8
    /// v1 PEM block (RFC 8410: the secret only). Version 1, not the version 2 that also
    /// carries the public key, because that is what every other toolkit reads: OpenSSL 3
    /// calls v2 Ed25519 keys "unsupported" and Python `cryptography` "extra data".
    /// [`SigningKey::from_pem`] reads both.
    pub fn to_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        use base64::Engine as _;
        let secret = self.pair.private().to_bytes();
        if secret.len() != 32 {
            return Err(KeyError::PrivateKey);
        }
        let mut der = Zeroizing::new(Vec::with_capacity(PKCS8_V1_PREFIX.len() + 32));
        der.extend_from_slice(&PKCS8_V1_PREFIX);
        der.extend_from_slice(&secret);
        // 48 bytes: one line of 64 base64 characters.
        let body = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der.as_slice()));
        let mut out = Zeroizing::new(String::new());
        if let Some(id) = self.key_id {
            out.push_str(&format!("{KEY_ID_HEADER} {id}\n"));
        }
        out.push_str("-----BEGIN PRIVATE KEY-----\n");
        out.push_str(&body);
        out.push_str("\n-----END PRIVATE KEY-----\n");
        Ok(out)
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        // 32 bytes: every pair here is made with `Algorithm::Ed25519`.
        let mut out = [0u8; 32];
        for (o, b) in out.iter_mut().zip(self.pair.public().to_bytes()) {
            *o = b;
        }
        PublicKey(out)
    }

    /// The key id, if any.
    pub const fn key_id(&self) -> Option<KeyId> {
        self.key_id
    }

    /// The Biscuit key pair.
    pub fn key_pair(&self) -> &KeyPair {
        &self.pair
    }

    /// Signs `data` with Ed25519 (for DPoP proofs).
    pub fn sign(&self, data: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        let secret = self.pair.private().to_bytes();
        // 32 bytes: every pair here is made with `Algorithm::Ed25519`.
        let mut bytes = [0u8; 32];
        for (o, s) in bytes.iter_mut().zip(secret.iter()) {
            *o = *s;
        }
        let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
        bytes.fill(0);
        key.sign(data).to_bytes()
    }

    /// [`Self::sign`] as a [`Signature`], for answers written as hex (challenges, audit
    /// head signatures).
    pub fn signature(&self, data: &[u8]) -> Signature {
        Signature::from_bytes(self.sign(data))
    }
}

/// One entry of a key set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySetEntry {
    /// The key id tokens carry as `root_key_id`.
    pub kid: KeyId,
    /// Always `Ed25519` for now.
    pub alg: String,
    /// `ed25519/<hex>`.
    pub public_key: PublicKey,
}

/// Trusted issuer keys by id, as published at `/.well-known/warrant-keys` and written
/// by `warrant keygen --public-out`:
///
/// ```json
/// { "keys": [ { "kid": 1, "alg": "Ed25519", "public_key": "ed25519/…" } ] }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySet {
    /// The keys.
    pub keys: Vec<KeySetEntry>,
}

impl KeySet {
    /// Parses and checks a key set (Ed25519 only, ids unique, at least one key).
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        let set: KeySet =
            serde_json::from_str(text).map_err(|e| KeyError::KeySet(e.to_string()))?;
        if set.keys.is_empty() {
            return Err(KeyError::KeySet("it holds no key".into()));
        }
        for (i, k) in set.keys.iter().enumerate() {
            if k.alg != "Ed25519" {
                return Err(KeyError::KeySet(format!(
                    "keys[{i}]: unsupported algorithm `{}`, expected `Ed25519`",
                    k.alg
                )));
            }
            if set.keys.iter().take(i).any(|o| o.kid == k.kid) {
                return Err(KeyError::KeySet(format!(
                    "keys[{i}]: key id `{}` appears twice",
                    k.kid
                )));
            }
        }
        Ok(set)
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A key set with one key.
    pub fn single(kid: KeyId, key: PublicKey) -> Self {
        Self {
            keys: vec![KeySetEntry {
                kid,
                alg: "Ed25519".into(),
                public_key: key,
            }],
        }
    }

    /// The key with this id.
    pub fn get(&self, kid: KeyId) -> Option<&PublicKey> {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| &k.public_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    /// The identity point as a public key and the signature (R = identity, s = 0) verify
    /// every message under the lax check; the strict one refuses them.
    #[test]
    fn verification_is_strict() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = PublicKey::from_bytes(identity);
        let mut forged = [0u8; 64];
        forged[0] = 1;
        let forged = Signature::from_bytes(forged);
        {
            use ed25519_dalek::Verifier as _;
            let lax = ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap();
            let sig = ed25519_dalek::Signature::from_bytes(&forged.to_bytes());
            assert!(
                lax.verify(b"any message", &sig).is_ok(),
                "the lax check accepts it"
            );
        }
        assert_eq!(weak.verify(b"any message", &forged), Err(BadSignature));
        let key = SigningKey::generate(&mut OsRng, None);
        let sig = Signature::from_bytes(key.sign(b"m"));
        assert_eq!(key.public().verify(b"m", &sig), Ok(()));
        assert_eq!(Signature::from_hex(&sig.to_hex().to_uppercase()), Ok(sig));
        assert!(Signature::from_hex("abcd").is_err());
        assert!(Signature::from_hex(&"zz".repeat(64)).is_err());
    }

    #[test]
    fn signing_keys_round_trip_through_pem() {
        let key = SigningKey::generate(&mut OsRng, Some(KeyId(7)));
        let pem = key.to_pem().unwrap();
        assert!(pem
            .as_str()
            .starts_with("warrant-key-id: 7\n-----BEGIN PRIVATE KEY-----"));
        let back = SigningKey::from_pem(pem.as_str()).unwrap();
        assert_eq!(back.public(), key.public());
        assert_eq!(back.key_id(), Some(KeyId(7)));
        let no_id = SigningKey::generate(&mut OsRng, None);
        let back = SigningKey::from_pem(no_id.to_pem().unwrap().as_str()).unwrap();
        assert_eq!(back.key_id(), None);
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn key_files_are_pkcs8_v1_and_v2_files_still_read() {
        use base64::Engine as _;
        let key = SigningKey::generate(&mut OsRng, None);
        let pem = key.to_pem().unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        // RFC 8410 section 10.3's example layout: version 0 (v1), no public key.
        assert_eq!(der.len(), 48);
        assert_eq!(der[..16], PKCS8_V1_PREFIX);
        assert_eq!(der[4], 0, "version v1");
        assert_eq!(der[16..], key.pair.private().to_bytes()[..]);
        // RFC 8410's own example private key reads as the secret it encodes.
        let rfc = "-----BEGIN PRIVATE KEY-----\n\
                   MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
                   -----END PRIVATE KEY-----\n";
        let from_rfc = SigningKey::from_pem(rfc).unwrap();
        assert_eq!(
            hex::encode(from_rfc.pair.private().to_bytes()),
            "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"
        );
        // Files written before (PKCS#8 v2, with the public key) still read.
        let v2 = key.pair.to_private_key_pem().unwrap();
        assert!(v2.len() > pem.len());
        assert_eq!(SigningKey::from_pem(&v2).unwrap().public(), key.public());
    }

    #[test]
    fn bad_private_keys_are_refused() {
        assert_eq!(
            SigningKey::from_pem("hello").unwrap_err(),
            KeyError::PrivateKey
        );
        assert_eq!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .unwrap_err(),
            KeyError::PrivateKey
        );
        assert!(matches!(
            SigningKey::from_pem("warrant-key-id: x\n-----BEGIN"),
            Err(KeyError::KeyId(_))
        ));
    }

    #[test]
    fn public_keys_parse_and_print() {
        let key = SigningKey::generate(&mut OsRng, None).public();
        let text = key.to_string();
        assert!(text.starts_with("ed25519/"));
        assert_eq!(text.parse::<PublicKey>().unwrap(), key);
        assert!("ed25519/abcd".parse::<PublicKey>().is_err());
        assert!("secp256r1/00".parse::<PublicKey>().is_err());
        assert!(format!("ed25519/{}", "zz".repeat(32))
            .parse::<PublicKey>()
            .is_err());
    }

    #[test]
    fn jwk_thumbprints_follow_rfc_7638() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        use base64::Engine as _;
        let bytes: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(x)
            .unwrap()
            .try_into()
            .unwrap();
        let key = PublicKey::from_bytes(bytes);
        assert_eq!(key.jwk_x(), x);
        assert_eq!(
            key.jwk_thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        assert_eq!(key.to_jwk()["kty"], "OKP");
    }

    #[test]
    fn signatures_verify_with_the_public_key() {
        use ed25519_dalek::Verifier as _;
        let key = SigningKey::generate(&mut OsRng, None);
        let sig = key.sign(b"hello");
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&key.public().to_bytes()).unwrap();
        assert!(vk
            .verify(b"hello", &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok());
    }

    #[test]
    fn key_sets() {
        let a = SigningKey::generate(&mut OsRng, None).public();
        let set = KeySet::single(KeyId(1), a);
        let back = KeySet::from_json(&set.to_json()).unwrap();
        assert_eq!(back.get(KeyId(1)), Some(&a));
        assert_eq!(back.get(KeyId(2)), None);
        assert!(KeySet::from_json(r#"{"keys": []}"#).is_err());
        let twice = format!(
            r#"{{"keys": [{{"kid": 1, "alg": "Ed25519", "public_key": "{a}"}}, {{"kid": 1, "alg": "Ed25519", "public_key": "{a}"}}]}}"#
        );
        assert!(KeySet::from_json(&twice)
            .unwrap_err()
            .to_string()
            .contains("appears twice"));
        let rsa = format!(r#"{{"keys": [{{"kid": 1, "alg": "RS256", "public_key": "{a}"}}]}}"#);
        assert!(KeySet::from_json(&rsa)
            .unwrap_err()
            .to_string()
            .contains("unsupported algorithm"));
    }
}
