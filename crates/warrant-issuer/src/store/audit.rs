//! The audit chain (its format: crate::audit).

use sqlx::Row;

use super::db::{Store, StoreError, Tx};
use crate::audit::AuditRow;

/// An audit entry to append: what the caller says; the chain adds its position and hashes.
#[derive(Debug, Clone, Copy)]
pub struct AuditEntry<'a> {
    /// When.
    pub at: i64,
    /// What happened.
    pub kind: &'a str,
    /// Who did it.
    pub actor: &'a str,
    /// Details.
    pub detail: &'a serde_json::Value,
}

/// The columns of an audit row, in the order its values are bound.
const AUDIT_COLUMNS: usize = 7;

impl Store {
    /// Appends an audit entry inside the caller's transaction ([`Self::append_audits`]
    /// with one entry).
    pub async fn append_audit(
        tx: &mut Tx,
        at: i64,
        kind: &str,
        actor: &str,
        detail: &serde_json::Value,
    ) -> Result<AuditRow, StoreError> {
        let entry = AuditEntry {
            at,
            kind,
            actor,
            detail,
        };
        Self::append_audits(tx, entry, &[]).await
    }

    /// Appends `first`, then `rest`, in that order, inside the caller's transaction, and
    /// returns the last entry appended. The head row is locked first (a no-op update that
    /// returns it: one round trip), so appends from every replica form one chain; mints
    /// wait for that lock, so the fewer statements run while it is held, the more mints a
    /// second. Hence one batch per transaction: the head is locked and read once, every
    /// row goes in one multi-row `INSERT`, and the head moves once; on PostgreSQL the
    /// `INSERT` is a data-modifying `WITH` of the head's `UPDATE`, one statement (SQLite
    /// has no `INSERT` in a `WITH`, and in-process it saves no round trip). On PostgreSQL
    /// a batch then holds the lock for two statements and the commit, however many entries
    /// it has. Meant for a handful of entries: each binds [`AUDIT_COLUMNS`] parameters of
    /// one statement.
    pub async fn append_audits(
        tx: &mut Tx,
        first: AuditEntry<'_>,
        rest: &[AuditEntry<'_>],
    ) -> Result<AuditRow, StoreError> {
        let head = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut **tx)
            .await?;
        let prev_seq: i64 = head.try_get("seq")?;
        let prev_hash: String = head.try_get("hash")?;
        // Each entry follows the one before it; the last is kept apart, as it is returned.
        let mut last = chained(&first, prev_seq, prev_hash);
        let mut earlier = Vec::with_capacity(rest.len());
        for entry in rest {
            let next = chained(entry, last.seq, last.hash.clone());
            earlier.push(std::mem::replace(&mut last, next));
        }
        let rows = earlier.len() + 1;
        let values = (0..rows)
            .map(|row| format!("({})", placeholders(row * AUDIT_COLUMNS + 1, AUDIT_COLUMNS)))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!(
            "INSERT INTO audit (seq, at, kind, actor, detail, prev_hash, hash) VALUES {values}"
        );
        let postgres = tx.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME;
        let sql = if postgres {
            // The `INSERT` runs to completion although nothing reads it.
            let head = placeholders(rows * AUDIT_COLUMNS + 1, 2);
            format!("WITH appended AS ({insert}) UPDATE audit_head SET (seq, hash) = ({head}) WHERE id = 1")
        } else {
            insert
        };
        // Built from numbers only: nothing of the entries is in the text.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in earlier.iter().chain(std::iter::once(&last)) {
            query = query
                .bind(row.seq)
                .bind(row.at)
                .bind(&row.kind)
                .bind(&row.actor)
                .bind(&row.detail)
                .bind(&row.prev_hash)
                .bind(&row.hash);
        }
        if postgres {
            query = query.bind(last.seq).bind(&last.hash);
        }
        query.execute(&mut **tx).await?;
        if !postgres {
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(last.seq)
                .bind(&last.hash)
                .execute(&mut **tx)
                .await?;
        }
        Ok(last)
    }

    /// Appends one audit entry in its own transaction.
    pub async fn audit(
        &self,
        at: i64,
        kind: &str,
        actor: &str,
        detail: &serde_json::Value,
    ) -> Result<AuditRow, StoreError> {
        let mut tx = self.begin().await?;
        let row = Self::append_audit(&mut tx, at, kind, actor, detail).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Audit entries after `seq`, at most `limit`.
    pub async fn audit_since(&self, seq: i64, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, actor, detail, prev_hash, hash FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_row).collect()
    }

    /// The latest entry named by a head signature among the audit entries after `from`,
    /// up to `to` (unchecked: what the stored rows say).
    pub async fn last_signed_within(&self, from: i64, to: i64) -> Result<Option<i64>, StoreError> {
        let rows =
            sqlx::query("SELECT detail FROM audit WHERE seq > $1 AND seq <= $2 AND kind = $3")
                .bind(from)
                .bind(to)
                .bind(crate::audit::HEAD_SIGNATURE)
                .fetch_all(&self.pool)
                .await?;
        let mut last = None;
        for r in &rows {
            let detail: String = r.try_get("detail")?;
            let seq = serde_json::from_str::<serde_json::Value>(&detail)
                .ok()
                .and_then(|d| d["seq"].as_i64());
            last = last.max(seq);
        }
        Ok(last)
    }

    /// The audit entry at `seq`, if any.
    pub async fn audit_at(&self, seq: i64) -> Result<Option<AuditRow>, StoreError> {
        Ok(self
            .audit_since(seq - 1, 1)
            .await?
            .into_iter()
            .next()
            .filter(|r| r.seq == seq))
    }

    /// The latest audit entry.
    pub async fn audit_last(&self) -> Result<Option<AuditRow>, StoreError> {
        let seq: i64 = sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("seq")?;
        Ok(self.audit_since(seq - 1, 1).await?.into_iter().next())
    }
}

/// `count` numbered placeholders from `$first`, comma-separated.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `entry` as the chain's next row after `prev_seq`, whose hash is `prev_hash`.
fn chained(entry: &AuditEntry<'_>, prev_seq: i64, prev_hash: String) -> AuditRow {
    let mut row = AuditRow {
        seq: prev_seq + 1,
        at: entry.at,
        kind: entry.kind.to_owned(),
        actor: entry.actor.to_owned(),
        detail: entry.detail.to_string(),
        prev_hash,
        hash: String::new(),
    };
    row.hash = crate::audit::entry_hash(&row);
    row
}

/// An audit row as read (columns `seq, at, kind, actor, detail, prev_hash, hash`).
pub(super) fn audit_row(r: &sqlx::any::AnyRow) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        kind: r.try_get("kind")?,
        actor: r.try_get("actor")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}
