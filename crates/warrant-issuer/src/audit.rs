//! The audit chain: every entry holds the hash of the one before it, so an export can be
//! checked by anyone; now and then the issuer signs the head.
//!
//! `hash = hex(SHA-256(prev_hash || "\n" || {"seq":…,"at":…,"kind":…,"actor":…,"detail":…}))`
//! with the JSON object's keys in that order and `detail` embedded as JSON. The first
//! entry's `prev_hash` is 64 zeros. A `head_signature` entry carries
//! `{"seq", "hash", "kid", "signature"}`: an Ed25519 signature by signing key `kid` over
//! `warrant-audit-head:<seq>:<hash>`.
//!
//! Hashes alone prove nothing against someone who can rewrite the log: they can recompute
//! every hash. What vouches for the entries is a head signature by a key of the issuer's
//! key set: it covers the entry it names and, through the links, every entry before it.
//! [`verify_chain`] therefore needs the key set and reports which entries verified
//! signatures name; [`ChainReport::check_coverage`] fails an export with no verified head
//! signature, with more unsigned entries after the last signed head than allowed, or with
//! more than that many entries between two signed heads or before the first one (the
//! issuer signs once `audit_sign_every` entries follow the last signed head, every
//! `audit_sign_interval`, and before each export). The last rule matters because the
//! issuer signs whatever head the database holds: someone who rewrote the entries after
//! an old signature (and removed the later ones) gets the rewrite signed, but it shows as
//! a run of entries no signature named in time. [`ChainReport::check_start`] fails an
//! export that does not start where it should (entry 1, with the genesis `prev_hash`,
//! for a whole chain): the first entries were removed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warrant_core::keys::{KeyId, KeySet, Signature, SigningKey};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The kind of the entries that sign the head.
pub const HEAD_SIGNATURE: &str = "head_signature";

/// One audit entry, as stored and exported (one JSON line each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When.
    pub at: i64,
    /// What happened.
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// Details (JSON text).
    pub detail: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// What an entry's hash covers after its `prev_hash`: serialized with the fields in this
/// order, `detail` embedded as JSON (a detail that is not JSON as a JSON string).
#[derive(Serialize)]
struct Hashed<'a> {
    seq: i64,
    at: i64,
    kind: &'a str,
    actor: &'a str,
    detail: serde_json::Value,
}

/// The hash an entry must carry.
pub fn entry_hash(row: &AuditRow) -> String {
    let detail = serde_json::from_str(&row.detail)
        .unwrap_or_else(|_| serde_json::Value::String(row.detail.clone()));
    let body = Hashed {
        seq: row.seq,
        at: row.at,
        kind: &row.kind,
        actor: &row.actor,
        detail,
    };
    // Serializing strings, integers and a `Value` (whose keys are strings) cannot fail.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    hex::encode(
        Sha256::new()
            .chain_update(row.prev_hash.as_bytes())
            .chain_update(b"\n")
            .chain_update(&body)
            .finalize(),
    )
}

/// What a head signature signs.
pub fn head_message(seq: i64, hash: &str) -> String {
    format!("warrant-audit-head:{seq}:{hash}")
}

/// The detail of a [`HEAD_SIGNATURE`] entry: signing key `kid` signed
/// [`head_message`] of entry `seq` and its `hash`. The fields are in alphabetical order,
/// the order `serde_json::json!` wrote them in before this type, so entries are stored as
/// they always were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadSignature {
    /// The signed entry's hash.
    pub hash: String,
    /// The signing key's id (`null` for a key without one: it vouches for nothing).
    pub kid: Option<KeyId>,
    /// The signed entry's position.
    pub seq: i64,
    /// The Ed25519 signature, 128 hex digits.
    #[serde(with = "signature_hex")]
    pub signature: Signature,
}

impl HeadSignature {
    /// Signs `head` with `key`.
    pub fn sign(head: &AuditRow, key: &SigningKey) -> Self {
        Self {
            hash: head.hash.clone(),
            kid: key.key_id(),
            seq: head.seq,
            signature: key.signature(head_message(head.seq, &head.hash).as_bytes()),
        }
    }
}

/// A [`Signature`] as 128 hex digits.
mod signature_hex {
    use serde::{Deserialize, Deserializer, Serializer};
    use warrant_core::keys::Signature;

    pub(super) fn serialize<S: Serializer>(sig: &Signature, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&sig.to_hex())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Signature, D::Error> {
        let text = String::deserialize(d)?;
        Signature::from_hex(&text).map_err(serde::de::Error::custom)
    }
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
    /// No head signature in the export verifies: nothing vouches for it.
    #[error("no head signature verifies with the key set: nothing vouches for these {entries} entries (were the signatures removed and the hashes recomputed?)")]
    NoSignedHead {
        /// Entries in the export.
        entries: usize,
    },
    /// Too many entries after the last signed head.
    #[error("entries {first} to {last} ({count} entries) come after the last signed head (entry {signed_through}); at most {max} may: they may have been altered (raise the limit with --max-unsigned if the issuer signs less often)")]
    UnsignedTail {
        /// The last entry a verified signature covers.
        signed_through: i64,
        /// The first entry after it.
        first: i64,
        /// The last entry of the export.
        last: i64,
        /// How many entries follow the signed head.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Too many entries between two signed heads: the later signature came too late to
    /// vouch that they were not rewritten first.
    #[error("entries {first} to {next} ({count} entries) lie between the signed heads at entries {prev} and {next}; at most {max} may: signatures may have been removed and these entries rewritten before the issuer signed entry {next} (raise the limit with --max-unsigned if the issuer signs less often)")]
    UnsignedGap {
        /// The earlier signed head.
        prev: i64,
        /// The first entry after it.
        first: i64,
        /// The later signed head.
        next: i64,
        /// Entries after `prev` up to `next`.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Too many entries before the first signed head of the export.
    #[error("entries {first} to {next} ({count} entries) come before the first signed head (entry {next}); at most {max} may: signatures may have been removed and these entries rewritten before the issuer signed entry {next}{retired} (raise the limit with --max-unsigned if the issuer signs less often)")]
    UnsignedStart {
        /// The first entry of the export.
        first: i64,
        /// The first signed head.
        next: i64,
        /// Entries up to `next`.
        count: usize,
        /// The limit.
        max: usize,
        /// A hint when signatures by keys outside the key set come before `next`.
        retired: String,
    },
    /// The export does not start where it should: its first entries are missing.
    #[error("the export starts at entry {first}, not at entry {expected}: the entries before it are missing (deleted from the database?); to check a later part of the chain on purpose, give --since {since}")]
    Start {
        /// The entry the export should start with.
        expected: i64,
        /// The entry it starts with.
        first: i64,
        /// The `--since` that would accept it.
        since: i64,
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
    /// The first entry's position (an export may start mid-chain).
    pub first: Option<i64>,
    /// The last entry's position and hash.
    pub head: Option<(i64, String)>,
    /// Head signatures verified with the key set.
    pub signatures: usize,
    /// Head signatures by keys not in the key set (retired keys the issuer no longer
    /// publishes): not checked, they vouch for nothing.
    pub unverifiable: usize,
    /// The last entry a verified signature covers: it and every entry before it in the
    /// export are vouched for.
    pub signed_through: Option<i64>,
    /// Entries after `signed_through` (all of them when nothing is signed).
    pub unsigned_tail: usize,
    /// The entries verified head signatures name, in order: each is vouched for with
    /// every entry before it.
    pub signed_heads: Vec<i64>,
    /// Head signatures by keys outside the key set before the first entry in
    /// `signed_heads`.
    pub unverifiable_before_first: usize,
}

impl ChainReport {
    /// Fails unless a verified head signature covers the export, up to at most
    /// `max_unsigned` entries at its end.
    pub fn check_coverage(&self, max_unsigned: usize) -> Result<(), ChainBreak> {
        let Some(signed_through) = self.signed_through else {
            return Err(ChainBreak::NoSignedHead {
                entries: self.entries,
            });
        };
        if self.unsigned_tail > max_unsigned {
            let last = self.head.as_ref().map_or(signed_through, |(seq, _)| *seq);
            return Err(ChainBreak::UnsignedTail {
                signed_through,
                first: signed_through + 1,
                last,
                count: self.unsigned_tail,
                max: max_unsigned,
            });
        }
        let first = self.first.unwrap_or(1);
        let mut prev: Option<i64> = None;
        for &next in &self.signed_heads {
            let after = prev.unwrap_or(first - 1);
            let count = usize::try_from(next - after).unwrap_or(0);
            if count > max_unsigned {
                return Err(match prev {
                    Some(prev) => ChainBreak::UnsignedGap {
                        prev,
                        first: prev + 1,
                        next,
                        count,
                        max: max_unsigned,
                    },
                    None => ChainBreak::UnsignedStart {
                        first,
                        next,
                        count,
                        max: max_unsigned,
                        retired: match self.unverifiable_before_first {
                            0 => String::new(),
                            n => format!(
                                "; {n} head signatures before it are by keys not in the key set: give a key set that holds them"
                            ),
                        },
                    },
                });
            }
            prev = Some(next);
        }
        Ok(())
    }

    /// Fails unless the export starts right after entry `since` (0: at entry 1, whose
    /// `prev_hash` [`verify_chain`] holds to the genesis value). An empty export passes:
    /// [`Self::check_coverage`] fails it.
    pub fn check_start(&self, since: i64) -> Result<(), ChainBreak> {
        match self.first {
            Some(first) if first != since + 1 => Err(ChainBreak::Start {
                expected: since + 1,
                first,
                since: first - 1,
            }),
            _ => Ok(()),
        }
    }

    /// The most entries after a signed head (or the start of the export) up to the next
    /// signed head.
    pub fn widest_gap(&self) -> usize {
        let mut prev = self.first.unwrap_or(1) - 1;
        let mut widest = 0;
        for &next in &self.signed_heads {
            widest = widest.max(usize::try_from(next - prev).unwrap_or(0));
            prev = next;
        }
        widest
    }
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

/// Checks an export: every hash, every link and every head signature whose key is in
/// `keys` (a signature by a key of the set that does not verify, or that signs another
/// hash than the entry it names, breaks the chain). An export may start anywhere in the
/// chain: whether it starts where it should is [`ChainReport::check_start`], whether the
/// signatures cover enough is [`ChainReport::check_coverage`].
pub fn verify_chain(rows: &[AuditRow], keys: &KeySet) -> Result<ChainReport, ChainBreak> {
    let mut signatures = 0;
    let mut unverifiable = 0;
    let mut signed_through: Option<i64> = None;
    let mut signed_heads = Vec::new();
    let mut unverifiable_at = Vec::new();
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
            match check_head_signature(row, rows, keys)? {
                Signed::Covers(seq) => {
                    signatures += 1;
                    signed_through = Some(signed_through.map_or(seq, |s| s.max(seq)));
                    signed_heads.push(seq);
                }
                Signed::Elsewhere => signatures += 1,
                Signed::UnknownKey => {
                    unverifiable += 1;
                    unverifiable_at.push(row.seq);
                }
            }
        }
    }
    // Replicas may sign out of order.
    signed_heads.sort_unstable();
    signed_heads.dedup();
    let unverifiable_before_first = signed_heads.first().map_or(unverifiable_at.len(), |f| {
        unverifiable_at.iter().filter(|s| *s < f).count()
    });
    let last = rows.last().map(|r| r.seq);
    let unsigned_tail = match (signed_through, last) {
        (Some(s), Some(l)) => usize::try_from(l - s).unwrap_or(0),
        _ => rows.len(),
    };
    Ok(ChainReport {
        entries: rows.len(),
        first: rows.first().map(|r| r.seq),
        head: rows.last().map(|r| (r.seq, r.hash.clone())),
        signatures,
        unverifiable,
        signed_through,
        unsigned_tail,
        signed_heads,
        unverifiable_before_first,
    })
}

/// What a head signature vouches for.
enum Signed {
    /// The entry of this position in the export, and every one before it.
    Covers(i64),
    /// An entry outside the export.
    Elsewhere,
    /// Nothing: its key is not in the key set.
    UnknownKey,
}

fn check_head_signature(
    row: &AuditRow,
    rows: &[AuditRow],
    keys: &KeySet,
) -> Result<Signed, ChainBreak> {
    let bad = |why: &str| ChainBreak::Signature {
        seq: row.seq,
        why: why.to_owned(),
    };
    let HeadSignature {
        hash,
        kid,
        seq,
        signature,
    } = serde_json::from_str(&row.detail)
        .map_err(|e| bad(&format!("not a head signature: {e}")))?;
    let kid = kid.ok_or_else(|| bad("no `kid`"))?;
    let signed = rows.iter().find(|r| r.seq == seq);
    if let Some(signed) = signed {
        if signed.hash != hash {
            return Err(bad("it signs another hash than the entry it names"));
        }
    }
    let Some(key) = keys.get(kid) else {
        return Ok(Signed::UnknownKey);
    };
    key.verify(head_message(seq, &hash).as_bytes(), &signature)
        .map_err(|_| bad("wrong signature"))?;
    Ok(if signed.is_some() {
        Signed::Covers(seq)
    } else {
        Signed::Elsewhere
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(rows: &mut Vec<AuditRow>, kind: &str, detail: String) {
        let (seq, prev) = rows
            .last()
            .map_or((1, GENESIS.to_owned()), |r| (r.seq + 1, r.hash.clone()));
        let mut r = AuditRow {
            seq,
            at: 1000 + seq,
            kind: kind.into(),
            actor: "alice".into(),
            detail,
            prev_hash: prev,
            hash: String::new(),
        };
        r.hash = entry_hash(&r);
        rows.push(r);
    }

    fn chain(n: i64) -> Vec<AuditRow> {
        let mut rows = Vec::new();
        for i in 1..=n {
            push(&mut rows, "mint", format!("{{\"n\":{i}}}"));
        }
        rows
    }

    /// Appends a head signature over the current last entry, by `key` (its key id).
    fn sign(rows: &mut Vec<AuditRow>, key: &SigningKey) {
        let head = rows.last().cloned().unwrap();
        let detail = serde_json::to_string(&HeadSignature::sign(&head, key)).unwrap();
        push(rows, HEAD_SIGNATURE, detail);
    }

    /// The test key (key id 1) and a key set of it.
    fn key() -> (&'static SigningKey, KeySet) {
        let key = warrant_test::key();
        (key, KeySet::single(KeyId(1), key.public()))
    }

    /// Rewrites seq, links and hashes from `rows[0]` on, as someone with write access to
    /// the database could.
    fn rehash(rows: &mut [AuditRow]) {
        let mut prev = GENESIS.to_owned();
        for (i, r) in rows.iter_mut().enumerate() {
            r.seq = i64::try_from(i).unwrap() + 1;
            r.prev_hash = prev;
            r.hash = entry_hash(r);
            prev = r.hash.clone();
        }
    }

    /// The hashed bytes never change: chains written by earlier versions still verify. The
    /// expected hashes were computed by the hand-written encoder this crate used first.
    #[test]
    fn entry_hashes_are_stable() {
        let row = |kind: &str, actor: &str, detail: &str| AuditRow {
            seq: 42,
            at: 1_767_225_600,
            kind: kind.into(),
            actor: actor.into(),
            detail: detail.into(),
            prev_hash: "ab".repeat(32),
            hash: String::new(),
        };
        for (entry, expected) in [
            (
                // Keys out of order, nesting, escapes, non-ASCII, a float and a large number.
                row(
                    "mint",
                    "alice \"the\" admin\n\u{e9}",
                    r#"{"z":1,"a":{"y":[1,2.50,"x\ty"],"b":null},"m":"caf\u00e9 /\\ \u0001","n":12345678901234567890123,"f":-0.0}"#,
                ),
                "401d3c12292ca14e826ae09ef0b99cfc404805f261dfbbffd36090aa3ee1d5a8",
            ),
            // Detail that is not JSON is hashed as a JSON string.
            (
                row("head_signature", "issuer", "not json {"),
                "065871efb071f3353a44b916f240813c74882cd4d894bc38395bed28694da82f",
            ),
            (
                row("seed", "config", "{}"),
                "a639c2e84e94ab0186990e2ee5425f3a2921bb5303829f5a5be4bbe526cce94a",
            ),
        ] {
            assert_eq!(entry_hash(&entry), expected, "{entry:?}");
        }
    }

    /// Head signatures are stored as they always were (the keys in alphabetical order, as
    /// `serde_json::json!` wrote them), so their entries keep their hashes.
    #[test]
    fn head_signature_entries_are_stable() {
        let signed = "cd".repeat(32);
        let head = AuditRow {
            seq: 41,
            at: 1_767_225_540,
            kind: "mint".into(),
            actor: "alice".into(),
            detail: "{}".into(),
            prev_hash: GENESIS.into(),
            hash: signed.clone(),
        };
        for (kid, stored, expected) in [
            (
                Some(KeyId(3)),
                r#"{"hash":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","kid":3,"seq":41,"signature":"0764e2551634403997b21eb4c1c7923a08e1d10742ff06cd7f14a47f1502822586707d93e7166676eefe35f8a570885715fd156476826ab0c73784f3c066dc03"}"#,
                "3ef681d75b2e2f73f7d4cbad80a0cfc489810e23558d002678eb8da2b15dc94b",
            ),
            (
                None,
                r#"{"hash":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","kid":null,"seq":41,"signature":"0764e2551634403997b21eb4c1c7923a08e1d10742ff06cd7f14a47f1502822586707d93e7166676eefe35f8a570885715fd156476826ab0c73784f3c066dc03"}"#,
                "949c583bcb8590d339b8b2cc456d2f0267a5cce97429c45510b9294f9ab80a85",
            ),
        ] {
            let key = SigningKey::from_secret_bytes(&[7; 32], kid).unwrap();
            let signature = HeadSignature::sign(&head, &key);
            // As the issuer stores it (a JSON value), and as the struct serializes.
            let written = serde_json::to_value(&signature).unwrap().to_string();
            assert_eq!(written, stored);
            assert_eq!(serde_json::to_string(&signature).unwrap(), stored);
            assert_eq!(
                serde_json::from_str::<HeadSignature>(stored).unwrap(),
                signature
            );
            let row = AuditRow {
                seq: 42,
                at: 1_767_225_600,
                kind: HEAD_SIGNATURE.into(),
                actor: "issuer".into(),
                detail: written,
                prev_hash: signed.clone(),
                hash: String::new(),
            };
            assert_eq!(entry_hash(&row), expected, "{row:?}");
        }
    }

    #[test]
    fn an_intact_signed_chain_verifies() {
        let (k, keys) = key();
        let mut rows = chain(5);
        sign(&mut rows, k);
        let report = verify_chain(&rows, &keys).unwrap();
        assert_eq!(report.entries, 6);
        assert_eq!(report.signatures, 1);
        assert_eq!(report.signed_through, Some(5));
        assert_eq!(report.unsigned_tail, 1, "the signature entry itself");
        assert_eq!(
            (report.signed_heads.clone(), report.widest_gap()),
            (vec![5], 5)
        );
        report.check_coverage(5).unwrap();
        report.check_start(0).unwrap();
        let report = verify_chain(&rows[2..], &keys).unwrap();
        assert_eq!(report.entries, 4, "an export may start mid-chain");
        assert_eq!((report.first, report.signed_through), (Some(3), Some(5)));
        report.check_start(2).unwrap();
    }

    #[test]
    fn an_export_missing_its_first_entries_does_not_start_where_it_should() {
        let (k, keys) = key();
        let mut rows = chain(5);
        sign(&mut rows, k);
        let report = verify_chain(&rows[3..], &keys).unwrap();
        report.check_coverage(5).unwrap();
        let e = report.check_start(0).unwrap_err();
        assert_eq!(
            e,
            ChainBreak::Start {
                expected: 1,
                first: 4,
                since: 3
            }
        );
        assert_eq!(
            e.to_string(),
            "the export starts at entry 4, not at entry 1: the entries before it are missing (deleted from the database?); to check a later part of the chain on purpose, give --since 3"
        );
        assert!(report.check_start(1).is_err());
        report.check_start(3).unwrap();
        // Entry 1 must hold the genesis `prev_hash`.
        let mut rows = chain(2);
        rows[0].prev_hash = "1".repeat(64);
        rows[0].hash = entry_hash(&rows[0]);
        rows[1].prev_hash = rows[0].hash.clone();
        rows[1].hash = entry_hash(&rows[1]);
        assert_eq!(
            verify_chain(&rows, &keys),
            Err(ChainBreak::Link { seq: 1, prev: 0 })
        );
    }

    #[test]
    fn a_chain_rewritten_after_an_old_signature_and_signed_again_does_not_verify() {
        let (k, keys) = key();
        // The issuer signs every 3 entries.
        let mut rows = Vec::new();
        for n in 1..=12 {
            push(&mut rows, "mint", format!("{{\"n\":{n}}}"));
            if rows.last().unwrap().seq % 3 == 0 {
                sign(&mut rows, k);
            }
        }
        let report = verify_chain(&rows, &keys).unwrap();
        assert_eq!(report.widest_gap(), 3);
        report.check_coverage(3).unwrap();
        // The writer keeps the first signed head, removes the later signatures, erases an
        // entry, rehashes the rest; the issuer then signs the head it finds.
        let first_sig = rows.iter().position(|r| r.kind == HEAD_SIGNATURE).unwrap();
        let mut forged: Vec<AuditRow> = rows[..=first_sig].to_vec();
        forged.extend(
            rows[first_sig + 1..]
                .iter()
                .filter(|r| r.kind != HEAD_SIGNATURE && r.detail != "{\"n\":7}")
                .cloned(),
        );
        rehash(&mut forged);
        sign(&mut forged, k);
        let report = verify_chain(&forged, &keys).unwrap();
        assert_eq!(report.unsigned_tail, 1, "the tail alone looks fine");
        assert_eq!(report.signed_heads, vec![3, 12]);
        let e = report.check_coverage(3).unwrap_err();
        assert_eq!(
            e,
            ChainBreak::UnsignedGap {
                prev: 3,
                first: 4,
                next: 12,
                count: 9,
                max: 3
            }
        );
        assert_eq!(
            e.to_string(),
            "entries 4 to 12 (9 entries) lie between the signed heads at entries 3 and 12; at most 3 may: signatures may have been removed and these entries rewritten before the issuer signed entry 12 (raise the limit with --max-unsigned if the issuer signs less often)"
        );
        // Every signature removed, everything rewritten, the head signed: the entries
        // before the first signed head are too many.
        let mut forged: Vec<AuditRow> = rows
            .iter()
            .filter(|r| r.kind != HEAD_SIGNATURE)
            .cloned()
            .collect();
        forged[1].actor = "mallory".into();
        rehash(&mut forged);
        sign(&mut forged, k);
        let e = verify_chain(&forged, &keys)
            .unwrap()
            .check_coverage(3)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "entries 1 to 12 (12 entries) come before the first signed head (entry 12); at most 3 may: signatures may have been removed and these entries rewritten before the issuer signed entry 12 (raise the limit with --max-unsigned if the issuer signs less often)"
        );
    }

    #[test]
    fn the_first_broken_entry_is_named() {
        let (_, keys) = key();
        let mut rows = chain(5);
        rows[2].actor = "mallory".into();
        assert_eq!(verify_chain(&rows, &keys), Err(ChainBreak::Hash { seq: 3 }));
        let mut rows = chain(5);
        rows.remove(2);
        assert_eq!(
            verify_chain(&rows, &keys),
            Err(ChainBreak::Link { seq: 4, prev: 2 })
        );
        let mut rows = chain(5);
        rows.swap(1, 2);
        assert!(matches!(
            verify_chain(&rows, &keys),
            Err(ChainBreak::Link { .. })
        ));
    }

    #[test]
    fn head_signatures_verify_with_the_key_set() {
        let (k, keys) = key();
        let mut rows = chain(3);
        sign(&mut rows, k);
        assert_eq!(verify_chain(&rows, &keys).unwrap().signatures, 1);
        let other = KeySet::single(KeyId(1), warrant_test::new_key().public());
        assert!(matches!(
            verify_chain(&rows, &other),
            Err(ChainBreak::Signature { seq: 4, .. })
        ));
    }

    #[test]
    fn a_stripped_and_rehashed_chain_does_not_verify() {
        let (k, keys) = key();
        let mut rows = chain(3);
        sign(&mut rows, k);
        push(&mut rows, "mint", "{\"n\":4}".into());
        sign(&mut rows, k);
        verify_chain(&rows, &keys)
            .unwrap()
            .check_coverage(3)
            .unwrap();
        // Remove the signatures, alter an entry, recompute every hash: the links hold…
        rows.retain(|r| r.kind != HEAD_SIGNATURE);
        rows[1].actor = "mallory".into();
        rehash(&mut rows);
        let report = verify_chain(&rows, &keys).unwrap();
        assert_eq!((report.signatures, report.signed_through), (0, None));
        // …but nothing vouches for them.
        let e = report.check_coverage(100).unwrap_err();
        assert_eq!(e, ChainBreak::NoSignedHead { entries: 4 });
        assert_eq!(
            e.to_string(),
            "no head signature verifies with the key set: nothing vouches for these 4 entries (were the signatures removed and the hashes recomputed?)"
        );
        // Keeping an old signature and rewriting after it breaks that signature, or
        // leaves the rewritten entries unsigned.
        let mut rows = chain(3);
        sign(&mut rows, k);
        for n in 4..=9 {
            push(&mut rows, "mint", format!("{{\"n\":{n}}}"));
        }
        sign(&mut rows, k);
        rows.truncate(9);
        rows[6].actor = "mallory".into();
        rehash(&mut rows);
        let report = verify_chain(&rows, &keys).unwrap();
        assert_eq!((report.signed_through, report.unsigned_tail), (Some(3), 6));
        let e = report.check_coverage(2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "entries 4 to 9 (6 entries) come after the last signed head (entry 3); at most 2 may: they may have been altered (raise the limit with --max-unsigned if the issuer signs less often)"
        );
        // Rewriting before a signature breaks it.
        let mut rows = chain(3);
        sign(&mut rows, k);
        rows[1].actor = "mallory".into();
        rehash(&mut rows);
        assert_eq!(
            verify_chain(&rows, &keys).unwrap_err().to_string(),
            "entry 4: the head signature does not verify: it signs another hash than the entry it names"
        );
    }

    #[test]
    fn signatures_by_keys_outside_the_set_vouch_for_nothing() {
        let (k, keys) = key();
        let retired = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(7)));
        let mut rows = chain(2);
        sign(&mut rows, &retired);
        let report = verify_chain(&rows, &keys).unwrap();
        assert_eq!((report.signatures, report.unverifiable), (0, 1));
        assert!(matches!(
            report.check_coverage(100),
            Err(ChainBreak::NoSignedHead { .. })
        ));
        // A later signature by a key of the set covers everything before it…
        push(&mut rows, "mint", "{}".into());
        sign(&mut rows, k);
        let report = verify_chain(&rows, &keys).unwrap();
        assert_eq!(report.signed_through, Some(4));
        assert_eq!(report.unverifiable_before_first, 1);
        report.check_coverage(4).unwrap();
        // …but does not show that entries 1 to 4 were signed in time: a signature by an
        // unknown key could be a made-up row.
        assert_eq!(
            report.check_coverage(3).unwrap_err().to_string(),
            "entries 1 to 4 (4 entries) come before the first signed head (entry 4); at most 3 may: signatures may have been removed and these entries rewritten before the issuer signed entry 4; 1 head signatures before it are by keys not in the key set: give a key set that holds them (raise the limit with --max-unsigned if the issuer signs less often)"
        );
        let mut both = keys.clone();
        both.keys
            .extend(KeySet::single(KeyId(7), retired.public()).keys);
        let report = verify_chain(&rows, &both).unwrap();
        assert_eq!(report.signed_heads, vec![2, 4]);
        report.check_coverage(2).unwrap();
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
