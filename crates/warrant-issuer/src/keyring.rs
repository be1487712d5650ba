//! The issuer's signing keys: created on first start, rotated on request, published while
//! any token they signed may still be valid, encrypted at rest when a key-encryption key
//! is configured, and never logged.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use warrant_core::keys::{KeyId, KeySet, KeySetEntry, SigningKey};
use zeroize::Zeroizing;

use crate::store::{KeyRow, KeyVersion, Store, StoreError};

/// The environment variable that holds the key-encryption key: 32 bytes as 64 hex digits.
pub const KEK_ENV: &str = "WARRANT_KEK";

/// Why the keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The key-encryption key is malformed.
    #[error("`{KEK_ENV}` must be 64 hex digits (32 bytes)")]
    BadKek,
    /// Keys are sealed and no key-encryption key is set.
    #[error("signing key `{0}` is encrypted at rest: set `{KEK_ENV}`")]
    NeedKek(i64),
    /// Unsealing failed: wrong key-encryption key, or tampered data.
    #[error("signing key `{0}` cannot be decrypted with this `{KEK_ENV}`")]
    Unseal(i64),
    /// A stored key is unreadable.
    #[error("signing key `{0}` is not a valid key")]
    Corrupt(i64),
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A key-encryption key. Its `Debug` form is redacted.
#[derive(Clone)]
pub struct Kek(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(…)")
    }
}

impl Kek {
    /// Parses 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, KeyringError> {
        let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| KeyringError::BadKek)?);
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyringError::BadKek)?;
        Ok(Self(Zeroizing::new(arr)))
    }

    /// From the environment, if set.
    pub fn from_env() -> Result<Option<Self>, KeyringError> {
        match std::env::var(KEK_ENV) {
            Ok(v) => Self::parse(&v).map(Some),
            Err(_) => Ok(None),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }

    /// Seals `pem` for key `kid`: a random 24-byte nonce, then the ciphertext.
    fn seal(&self, kid: i64, pem: &[u8]) -> Result<Vec<u8>, KeyringError> {
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let aad = format!("warrant-signing-key:{kid}");
        let ct = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: pem,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| KeyringError::Unseal(kid))?;
        Ok([nonce.as_slice(), &ct].concat())
    }

    fn open(&self, kid: i64, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        if sealed.len() < 24 {
            return Err(KeyringError::Unseal(kid));
        }
        let (nonce, ct) = sealed.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| KeyringError::Unseal(kid))?;
        let aad = format!("warrant-signing-key:{kid}");
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| KeyringError::Unseal(kid))
    }
}

/// The active signing key and the published key set.
#[derive(Debug)]
pub struct Keyring {
    /// The key that signs new tokens.
    pub active: SigningKey,
    /// Every key a verifier may still need: the active one and retired ones whose tokens
    /// have not all expired.
    pub published: KeySet,
    /// Every key the issuer has ever signed with, retired ones included: what the head
    /// signatures of the audit log verify with (`/.well-known/warrant-audit-keys`). Never
    /// for tokens: a verifier trusts [`Keyring::published`].
    pub audit: KeySet,
    /// The version of the stored keys this was made from.
    pub version: KeyVersion,
}

fn published(rows: &[KeyRow], now: i64) -> KeySet {
    key_set(
        rows.iter()
            .filter(|r| r.retired_at.is_none() || r.last_expiry > now),
    )
}

fn key_set<'a>(rows: impl Iterator<Item = &'a KeyRow>) -> KeySet {
    KeySet {
        keys: rows
            .filter_map(|r| {
                Some(KeySetEntry {
                    kid: KeyId(u32::try_from(r.kid).ok()?),
                    alg: "Ed25519".into(),
                    public_key: r.public_key.parse().ok()?,
                })
            })
            .collect(),
    }
}

fn unlock(row: &KeyRow, kek: Option<&Kek>) -> Result<SigningKey, KeyringError> {
    let pem = if row.encrypted {
        let kek = kek.ok_or(KeyringError::NeedKek(row.kid))?;
        kek.open(row.kid, &row.private_key)?
    } else {
        Zeroizing::new(row.private_key.clone())
    };
    let text = std::str::from_utf8(&pem).map_err(|_| KeyringError::Corrupt(row.kid))?;
    SigningKey::from_pem(text).map_err(|_| KeyringError::Corrupt(row.kid))
}

/// Makes and stores a new active key (retiring the previous one).
async fn create(store: &Store, kek: Option<&Kek>, kid: i64, now: i64) -> Result<(), KeyringError> {
    let key_id = u32::try_from(kid).map_err(|_| KeyringError::Corrupt(kid))?;
    let key = SigningKey::generate(&mut OsRng, Some(KeyId(key_id)));
    let pem = key.to_pem().map_err(|_| KeyringError::Corrupt(kid))?;
    let (private_key, encrypted) = match kek {
        Some(k) => (k.seal(kid, pem.as_bytes())?, true),
        None => (pem.as_bytes().to_vec(), false),
    };
    store
        .add_active_key(&KeyRow {
            kid,
            public_key: key.public().to_string(),
            private_key,
            encrypted,
            created_at: now,
            retired_at: None,
            last_expiry: now,
        })
        .await?;
    Ok(())
}

/// Loads the keys, creating the first one if there is none.
pub async fn load(store: &Store, kek: Option<&Kek>, now: i64) -> Result<Keyring, KeyringError> {
    let mut rows = store.signing_keys().await?;
    if rows.is_empty() {
        create(store, kek, 1, now).await?;
        rows = store.signing_keys().await?;
    }
    from_rows(&rows, kek, now)
}

/// The keyring stored `rows` describe at `now`.
pub fn from_rows(rows: &[KeyRow], kek: Option<&Kek>, now: i64) -> Result<Keyring, KeyringError> {
    let active_row = rows
        .iter()
        .rev()
        .find(|r| r.retired_at.is_none())
        .ok_or(KeyringError::Corrupt(0))?;
    Ok(Keyring {
        active: unlock(active_row, kek)?,
        published: published(rows, now),
        audit: key_set(rows.iter()),
        version: KeyVersion::of(rows),
    })
}

/// Adds a new active key; the old one stays published until its tokens have expired.
pub async fn rotate(store: &Store, kek: Option<&Kek>, now: i64) -> Result<Keyring, KeyringError> {
    let next = store
        .signing_keys()
        .await?
        .iter()
        .map(|r| r.kid)
        .max()
        .unwrap_or(0)
        + 1;
    create(store, kek, next, now).await?;
    load(store, kek, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_round_trips_and_binds_the_key_id() {
        let kek = Kek::parse(&"ab".repeat(32)).unwrap();
        let sealed = kek.seal(3, b"secret pem").unwrap();
        assert_eq!(kek.open(3, &sealed).unwrap().as_slice(), b"secret pem");
        assert!(kek.open(4, &sealed).is_err(), "sealed for another key id");
        let other = Kek::parse(&"cd".repeat(32)).unwrap();
        assert!(other.open(3, &sealed).is_err());
        assert!(Kek::parse("short").is_err());
        assert_eq!(format!("{kek:?}"), "Kek(…)");
    }
}
