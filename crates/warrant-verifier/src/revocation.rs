//! Revocation: a set of revoked tokens, blocks and holder keys, kept as digests.
//!
//! The feed and file format (the issuer serves it at `GET /v1/revocations?since=CURSOR`):
//!
//! ```json
//! { "entries": [
//!     { "cursor": 41, "kind": "token_id",      "value": "dfeed54edf0df03b6586530a2a35c24e" },
//!     { "cursor": 42, "kind": "revocation_id", "value": "00cd40ca…(128 hex digits)" },
//!     { "cursor": 43, "kind": "holder",        "value": "ed25519/…" } ],
//!   "next_cursor": 43 }
//! ```
//!
//! `token_id` revokes a token (every block of it), `revocation_id` a block and every token
//! that contains it (Biscuit's revocation ids, as `warrant inspect` prints them), `holder`
//! every token bound to that agent key. Entries are never removed or reordered; a verifier
//! polls with the last `next_cursor` it saw. `cursor` and `next_cursor` are optional in a
//! file.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What an entry revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationKind {
    /// A token, by its `token_id`.
    TokenId,
    /// A block, by its Biscuit revocation id (hex).
    RevocationId,
    /// Every token bound to this holder key.
    Holder,
}

/// One revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationEntry {
    /// Position in the issuer's feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// What is revoked.
    pub kind: RevocationKind,
    /// The token id, revocation id (hex) or holder key.
    pub value: String,
}

/// A page of the feed, or a revocation file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationFeed {
    /// The entries, in feed order.
    pub entries: Vec<RevocationEntry>,
    /// The cursor to poll from next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<u64>,
}

/// Why a revocation list could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    /// Not the documented JSON.
    #[error("invalid revocation list: {0}")]
    Json(String),
    /// A holder that is not an Ed25519 public key.
    #[error("invalid revocation list: entries[{0}]: holder `{1}` is not an `ed25519/` public key")]
    BadHolder(usize, String),
    /// A revocation id that is not hex.
    #[error("invalid revocation list: entries[{0}]: revocation id `{1}` is not hex")]
    BadId(usize, String),
}

/// A 16-byte digest: memory stays small however long the ids are.
pub(crate) type Digest16 = [u8; 16];

pub(crate) fn digest(kind: RevocationKind, value: &[u8]) -> Digest16 {
    let tag: &[u8] = match kind {
        RevocationKind::TokenId => b"warrant/token-id\0",
        RevocationKind::RevocationId => b"warrant/revocation-id\0",
        RevocationKind::Holder => b"warrant/holder\0",
    };
    let full = Sha256::new()
        .chain_update(tag)
        .chain_update(value)
        .finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The revoked tokens, blocks and holders a verifier refuses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationSet {
    digests: HashSet<Digest16>,
    cursor: Option<u64>,
}

impl RevocationSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the documented JSON (a feed page or a file).
    pub fn from_json(text: &str) -> Result<Self, RevocationError> {
        let mut set = Self::new();
        set.apply(&Self::parse(text)?)?;
        Ok(set)
    }

    /// Parses a feed page.
    pub fn parse(text: &str) -> Result<RevocationFeed, RevocationError> {
        serde_json::from_str(text).map_err(|e| RevocationError::Json(e.to_string()))
    }

    /// Adds a feed page's entries and remembers its cursor.
    pub fn apply(&mut self, feed: &RevocationFeed) -> Result<(), RevocationError> {
        for (i, e) in feed.entries.iter().enumerate() {
            match e.kind {
                RevocationKind::RevocationId => {
                    let bytes = hex::decode(e.value.trim())
                        .map_err(|_| RevocationError::BadId(i, e.value.clone()))?;
                    self.digests.insert(digest(e.kind, &bytes));
                }
                RevocationKind::TokenId => {
                    self.digests
                        .insert(digest(e.kind, e.value.trim().as_bytes()));
                }
                RevocationKind::Holder => {
                    // The canonical form, so that any spelling of the key revokes it.
                    let key: warrant_core::keys::PublicKey = e
                        .value
                        .trim()
                        .parse()
                        .map_err(|_| RevocationError::BadHolder(i, e.value.clone()))?;
                    self.digests
                        .insert(digest(e.kind, key.to_string().as_bytes()));
                }
            }
            if let Some(c) = e.cursor {
                self.cursor = Some(self.cursor.map_or(c, |old| old.max(c)));
            }
        }
        if let Some(c) = feed.next_cursor {
            self.cursor = Some(self.cursor.map_or(c, |old| old.max(c)));
        }
        Ok(())
    }

    /// Revokes a token id.
    pub fn revoke_token_id(&mut self, token_id: &str) {
        self.digests
            .insert(digest(RevocationKind::TokenId, token_id.as_bytes()));
    }

    /// Revokes a block by its revocation id bytes.
    pub fn revoke_revocation_id(&mut self, id: &[u8]) {
        self.digests
            .insert(digest(RevocationKind::RevocationId, id));
    }

    /// Revokes every token bound to a holder key, anywhere along its holder chain.
    pub fn revoke_holder(&mut self, key: &warrant_core::keys::PublicKey) {
        self.digests
            .insert(digest(RevocationKind::Holder, key.to_string().as_bytes()));
    }

    /// The last feed cursor applied.
    pub fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    pub(crate) fn contains(&self, d: &Digest16) -> bool {
        self.digests.contains(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_pages_apply_and_keep_the_cursor() {
        let mut set = RevocationSet::from_json(
            r#"{"entries": [{"cursor": 1, "kind": "token_id", "value": "abc"},
                            {"cursor": 2, "kind": "revocation_id", "value": "00ff"}], "next_cursor": 2}"#,
        )
        .unwrap();
        assert_eq!(set.cursor(), Some(2));
        assert!(set.contains(&digest(RevocationKind::TokenId, b"abc")));
        assert!(set.contains(&digest(RevocationKind::RevocationId, &[0, 255])));
        assert!(!set.contains(&digest(RevocationKind::Holder, b"abc")));
        let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, None).public();
        let upper = format!("ed25519/{}", hex::encode_upper(key.to_bytes()));
        let page = RevocationSet::parse(&format!(
            r#"{{"entries": [{{"cursor": 3, "kind": "holder", "value": "{upper}"}}]}}"#
        ))
        .unwrap();
        set.apply(&page).unwrap();
        assert_eq!((set.cursor(), set.len()), (Some(3), 3));
        assert!(set.contains(&digest(RevocationKind::Holder, key.to_string().as_bytes())));
        let bad =
            RevocationSet::parse(r#"{"entries": [{"kind": "holder", "value": "ed25519/aa"}]}"#)
                .unwrap();
        assert!(matches!(
            set.apply(&bad),
            Err(RevocationError::BadHolder(0, _))
        ));
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(RevocationSet::from_json("[]").is_err());
        assert!(
            RevocationSet::from_json(r#"{"entries": [{"kind": "nope", "value": "x"}]}"#).is_err()
        );
        assert_eq!(
            RevocationSet::from_json(r#"{"entries": [{"kind": "revocation_id", "value": "zz"}]}"#),
            Err(RevocationError::BadId(0, "zz".into()))
        );
    }
}
