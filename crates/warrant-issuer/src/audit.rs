//! The audit chain: every entry holds the hash of the one before it, so an export can be
//! checked by anyone; now and then the issuer signs the head.
//!
//! `hash = hex(SHA-256(prev_hash || "\n" || {"seq":…,"at":…,"kind":…,"actor":…,"detail":…}))`
//! with the JSON object's keys in that order and `detail` embedded as JSON. The first
//! entry's `prev_hash` is 64 zeros. A `head_signature` entry carries
//! `{"seq", "hash", "kid", "signature"}`: an Ed25519 signature by signing key `kid` over
//! `warrant-audit-head:<seq>:<hash>`.

use ed25519_dalek::Verifier as _;
use sha2::{Digest, Sha256};
use warrant_core::keys::{KeyId, KeySet};

use crate::store::AuditRow;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The kind of the entries that sign the head.
pub const HEAD_SIGNATURE: &str = "head_signature";

/// The hash an entry must carry.
pub fn entry_hash(row: &AuditRow) -> String {
    let detail: serde_json::Value =
        serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::String(row.detail.clone()));
    // serde_json keeps insertion order only with `preserve_order`; write the object by hand.
    let body = format!(
        "{{\"seq\":{},\"at\":{},\"kind\":{},\"actor\":{},\"detail\":{}}}",
        row.seq,
        row.at,
        serde_json::Value::String(row.kind.clone()),
        serde_json::Value::String(row.actor.clone()),
        detail
    );
    hex::encode(
        Sha256::new()
            .chain_update(row.prev_hash.as_bytes())
            .chain_update(b"\n")
            .chain_update(body.as_bytes())
            .finalize(),
    )
}

/// What a head signature signs.
pub fn head_message(seq: i64, hash: &str) -> String {
    format!("warrant-audit-head:{seq}:{hash}")
}

/// Why an export does not verify: the first broken entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// An entry's hash is not the hash of its content.
    #[error("entry {seq}: its hash does not match its content (it was altered)")]
    Hash {
        /// The entry.
        seq: i64,
    },
    /// An entry does not follow the one before it.
    #[error("entry {seq}: it does not follow entry {prev} (an entry was removed, inserted or reordered)")]
    Link {
        /// The entry.
        seq: i64,
        /// The entry before it in the export.
        prev: i64,
    },
    /// A head signature that does not verify.
    #[error("entry {seq}: the head signature does not verify: {why}")]
    Signature {
        /// The entry.
        seq: i64,
        /// Why.
        why: String,
    },
    /// A line that is not an entry.
    #[error("line {line}: not an audit entry: {why}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// Why.
        why: String,
    },
}

/// What a verified export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Entries checked.
    pub entries: usize,
    /// The last entry's position and hash.
    pub head: Option<(i64, String)>,
    /// Head signatures checked against the key set.
    pub signatures: usize,
}

/// Parses an export (JSON lines).
pub fn parse_export(text: &str) -> Result<Vec<AuditRow>, ChainBreak> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| ChainBreak::Parse {
                line: i + 1,
                why: e.to_string(),
            })
        })
        .collect()
}

/// Checks an export: every hash, every link, and (given the key set) every head
/// signature. An export may start anywhere in the chain.
pub fn verify_chain(rows: &[AuditRow], keys: Option<&KeySet>) -> Result<ChainReport, ChainBreak> {
    let mut signatures = 0;
    for (i, row) in rows.iter().enumerate() {
        if entry_hash(row) != row.hash {
            return Err(ChainBreak::Hash { seq: row.seq });
        }
        match i.checked_sub(1).and_then(|p| rows.get(p)) {
            Some(prev) if prev.hash != row.prev_hash || prev.seq + 1 != row.seq => {
                return Err(ChainBreak::Link {
                    seq: row.seq,
                    prev: prev.seq,
                })
            }
            None if row.seq == 1 && row.prev_hash != GENESIS => {
                return Err(ChainBreak::Link { seq: 1, prev: 0 })
            }
            _ => {}
        }
        if row.kind == HEAD_SIGNATURE {
            if let Some(keys) = keys {
                check_head_signature(row, rows, keys)?;
                signatures += 1;
            }
        }
    }
    Ok(ChainReport {
        entries: rows.len(),
        head: rows.last().map(|r| (r.seq, r.hash.clone())),
        signatures,
    })
}

fn check_head_signature(
    row: &AuditRow,
    rows: &[AuditRow],
    keys: &KeySet,
) -> Result<(), ChainBreak> {
    let bad = |why: &str| ChainBreak::Signature {
        seq: row.seq,
        why: why.to_owned(),
    };
    let d: serde_json::Value = serde_json::from_str(&row.detail).map_err(|_| bad("not JSON"))?;
    let seq = d["seq"].as_i64().ok_or_else(|| bad("no `seq`"))?;
    let hash = d["hash"].as_str().ok_or_else(|| bad("no `hash`"))?;
    let kid = d["kid"]
        .as_u64()
        .and_then(|k| u32::try_from(k).ok())
        .ok_or_else(|| bad("no `kid`"))?;
    let sig: [u8; 64] = d["signature"]
        .as_str()
        .and_then(|s| hex::decode(s).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("no 64-byte `signature`"))?;
    if let Some(signed) = rows.iter().find(|r| r.seq == seq) {
        if signed.hash != hash {
            return Err(bad("it signs another hash than the entry it names"));
        }
    }
    let key = keys
        .get(KeyId(kid))
        .ok_or_else(|| bad("its key id is not in the key set"))?;
    let vk =
        ed25519_dalek::VerifyingKey::from_bytes(&key.to_bytes()).map_err(|_| bad("bad key"))?;
    vk.verify(
        head_message(seq, hash).as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&sig),
    )
    .map_err(|_| bad("wrong signature"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use warrant_core::keys::SigningKey;

    fn chain(n: i64) -> Vec<AuditRow> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut r = AuditRow {
                    seq,
                    at: 1000 + seq,
                    kind: "mint".into(),
                    actor: "alice".into(),
                    detail: format!("{{\"n\":{seq}}}"),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                r.hash = entry_hash(&r);
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let rows = chain(5);
        let report = verify_chain(&rows, None).unwrap();
        assert_eq!(report.entries, 5);
        assert_eq!(
            verify_chain(&rows[2..], None).unwrap().entries,
            3,
            "an export may start mid-chain"
        );
    }

    #[test]
    fn the_first_broken_entry_is_named() {
        let mut rows = chain(5);
        rows[2].actor = "mallory".into();
        assert_eq!(verify_chain(&rows, None), Err(ChainBreak::Hash { seq: 3 }));
        let mut rows = chain(5);
        rows.remove(2);
        assert_eq!(
            verify_chain(&rows, None),
            Err(ChainBreak::Link { seq: 4, prev: 2 })
        );
        let mut rows = chain(5);
        rows.swap(1, 2);
        assert!(matches!(
            verify_chain(&rows, None),
            Err(ChainBreak::Link { .. })
        ));
    }

    #[test]
    fn head_signatures_verify_with_the_key_set() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let mut rows = chain(3);
        let head = rows[2].clone();
        let sig = key.sign(head_message(head.seq, &head.hash).as_bytes());
        let mut r = AuditRow {
            seq: 4,
            at: 2000,
            kind: HEAD_SIGNATURE.into(),
            actor: "issuer".into(),
            detail: serde_json::json!({"seq": 3, "hash": head.hash, "kid": 1, "signature": hex::encode(sig)}).to_string(),
            prev_hash: head.hash.clone(),
            hash: String::new(),
        };
        r.hash = entry_hash(&r);
        rows.push(r);
        let keys = KeySet::single(KeyId(1), key.public());
        assert_eq!(verify_chain(&rows, Some(&keys)).unwrap().signatures, 1);
        let other = KeySet::single(
            KeyId(1),
            SigningKey::generate(&mut rand_core::OsRng, None).public(),
        );
        assert!(matches!(
            verify_chain(&rows, Some(&other)),
            Err(ChainBreak::Signature { seq: 4, .. })
        ));
    }

    #[test]
    fn exports_round_trip_as_json_lines() {
        let rows = chain(2);
        let text: String = rows
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        assert_eq!(parse_export(&text).unwrap(), rows);
        assert!(matches!(
            parse_export("{}\n"),
            Err(ChainBreak::Parse { line: 1, .. })
        ));
    }
}
