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
//!
//! Token ids are 32 hex digits and revocation ids 128, in either case (they are compared
//! in lower case). An entry whose value is not a valid id or key is an error naming the
//! entry, and nothing of that list is applied: a list that was meant to revoke something
//! is never silently read as revoking less.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What an entry revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
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
#[non_exhaustive]
pub enum RevocationError {
    /// Not the documented JSON.
    #[error("invalid revocation list: {0}")]
    Json(String),
    /// A holder that is not a holder public key.
    #[error("invalid revocation list: entries[{0}]: holder `{1}` is not an `ed25519/` or `secp256r1/` public key")]
    BadHolder(usize, String),
    /// A revocation id that is not 128 hex digits (a 64-byte Ed25519 signature).
    #[error("invalid revocation list: entries[{0}]: revocation id `{1}` is not 128 hex digits: copy it from `warrant inspect`")]
    BadId(usize, String),
    /// A token id that is not 32 hex digits.
    #[error("invalid revocation list: entries[{0}]: token id `{1}` is not 32 hex digits: copy it from the token's `token_id`")]
    BadTokenId(usize, String),
}

/// The length of a token id, in hex digits.
const TOKEN_ID_HEX: usize = 32;
/// The length of a block's revocation id (an Ed25519 signature), in bytes.
const REVOCATION_ID_BYTES: usize = 64;

/// A token id in its canonical form (lower case), if it is one.
pub(crate) fn canonical_token_id(id: &str) -> Option<String> {
    let id = id.trim();
    (id.len() == TOKEN_ID_HEX && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| id.to_ascii_lowercase())
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
    // The first 16 bytes of the 32.
    let mut out = [0u8; 16];
    for (o, b) in out.iter_mut().zip(full) {
        *o = b;
    }
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

    /// Adds a feed page's entries and remembers its cursor. A page with an invalid entry
    /// is refused whole: nothing of it is applied.
    pub fn apply(&mut self, feed: &RevocationFeed) -> Result<(), RevocationError> {
        let mut digests = Vec::with_capacity(feed.entries.len());
        for (i, e) in feed.entries.iter().enumerate() {
            let d = match e.kind {
                RevocationKind::RevocationId => {
                    let bytes = hex::decode(e.value.trim())
                        .ok()
                        .filter(|b| b.len() == REVOCATION_ID_BYTES)
                        .ok_or_else(|| RevocationError::BadId(i, e.value.clone()))?;
                    digest(e.kind, &bytes)
                }
                RevocationKind::TokenId => {
                    let id = canonical_token_id(&e.value)
                        .ok_or_else(|| RevocationError::BadTokenId(i, e.value.clone()))?;
                    digest(e.kind, id.as_bytes())
                }
                RevocationKind::Holder => {
                    // The canonical form, so that any spelling of the key revokes it.
                    let key: warrant_core::keys::HolderPublicKey = e
                        .value
                        .trim()
                        .parse()
                        .map_err(|_| RevocationError::BadHolder(i, e.value.clone()))?;
                    digest(e.kind, key.to_string().as_bytes())
                }
            };
            digests.push(d);
        }
        self.digests.extend(digests);
        let cursors = feed.entries.iter().filter_map(|e| e.cursor);
        for c in cursors.chain(feed.next_cursor) {
            self.cursor = Some(self.cursor.map_or(c, |old| old.max(c)));
        }
        Ok(())
    }

    /// Revokes a token id (32 hex digits, either case).
    pub fn revoke_token_id(&mut self, token_id: &str) -> Result<(), RevocationError> {
        let id = canonical_token_id(token_id)
            .ok_or_else(|| RevocationError::BadTokenId(0, token_id.to_owned()))?;
        self.digests
            .insert(digest(RevocationKind::TokenId, id.as_bytes()));
        Ok(())
    }

    /// Revokes a block by its revocation id bytes.
    pub fn revoke_revocation_id(&mut self, id: &[u8]) {
        self.digests
            .insert(digest(RevocationKind::RevocationId, id));
    }

    /// Revokes every token bound to a holder key (Ed25519 or P-256), anywhere along its
    /// holder chain.
    pub fn revoke_holder(&mut self, key: impl Into<warrant_core::keys::HolderPublicKey>) {
        let key = key.into();
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
            &format!(r#"{{"entries": [{{"cursor": 1, "kind": "token_id", "value": "{ID}"}},
                            {{"cursor": 2, "kind": "revocation_id", "value": "{}"}}], "next_cursor": 2}}"#, "00ff".repeat(32)),
        )
        .unwrap();
        assert_eq!(set.cursor(), Some(2));
        assert!(set.contains(&digest(RevocationKind::TokenId, ID.as_bytes())));
        assert!(set.contains(&digest(RevocationKind::RevocationId, &[0, 255].repeat(32))));
        assert!(!set.contains(&digest(RevocationKind::Holder, ID.as_bytes())));
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

    const ID: &str = "dfeed54edf0df03b6586530a2a35c24e";

    #[test]
    fn token_ids_in_either_case_revoke_the_token() {
        let upper = ID.to_uppercase();
        let set = RevocationSet::from_json(&format!(
            r#"{{"entries": [{{"kind": "token_id", "value": " {upper} "}}]}}"#
        ))
        .unwrap();
        assert!(set.contains(&digest(RevocationKind::TokenId, ID.as_bytes())));
        let mut set = RevocationSet::new();
        set.revoke_token_id("DfEeD54EdF0dF03b6586530A2a35C24e")
            .unwrap();
        assert!(set.contains(&digest(RevocationKind::TokenId, ID.as_bytes())));
        // Revocation ids too, whatever the case.
        let rid = "AB".repeat(64);
        let set = RevocationSet::from_json(&format!(
            r#"{{"entries": [{{"kind": "revocation_id", "value": "{rid}"}}]}}"#
        ))
        .unwrap();
        assert!(set.contains(&digest(RevocationKind::RevocationId, &[0xab; 64])));
    }

    #[test]
    fn an_entry_that_is_not_an_id_is_an_error_naming_it() {
        for (value, why) in [
            ("abc", "32 hex digits"),
            ("", "32 hex digits"),
            (&"a".repeat(31), "32 hex digits"),
            (&"a".repeat(33), "32 hex digits"),
            (&"g".repeat(32), "32 hex digits"),
            (&format!("{ID}x"), "32 hex digits"),
        ] {
            let text = format!(
                r#"{{"entries": [{{"kind": "token_id", "value": "{ID}"}},
                                 {{"cursor": 7, "kind": "token_id", "value": "{value}"}}]}}"#
            );
            let err = RevocationSet::from_json(&text).unwrap_err();
            assert_eq!(
                err,
                RevocationError::BadTokenId(1, value.to_owned()),
                "{value}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains("entries[1]")
                    && msg.contains(&format!("`{value}`"))
                    && msg.contains(why),
                "{msg}"
            );
            // Nothing of a bad page is applied, not even its good entries.
            let mut set = RevocationSet::new();
            assert!(set.apply(&RevocationSet::parse(&text).unwrap()).is_err());
            assert!(set.is_empty());
            assert_eq!(set.cursor(), None);
        }
        for value in ["", "zz", "00ff", &"ab".repeat(63)] {
            let text =
                format!(r#"{{"entries": [{{"kind": "revocation_id", "value": "{value}"}}]}}"#);
            assert_eq!(
                RevocationSet::from_json(&text),
                Err(RevocationError::BadId(0, value.to_owned())),
                "{value}"
            );
        }
        let mut set = RevocationSet::new();
        assert_eq!(
            set.revoke_token_id("not-an-id"),
            Err(RevocationError::BadTokenId(0, "not-an-id".into()))
        );
        assert!(set.is_empty());
    }
}
