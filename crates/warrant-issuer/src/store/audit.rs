//! The audit chain (its format: crate::audit).

use sqlx::Row;

use super::db::{Store, StoreError, Tx};
use crate::audit::AuditRow;

impl Store {
    /// Appends an audit entry inside the caller's transaction. The head row is locked
    /// first (a no-op update that returns it: one round trip), so appends from every
    /// replica form one chain; mints wait for that lock, so the fewer statements run while
    /// it is held, the more mints a second.
    pub async fn append_audit(
        tx: &mut Tx,
        at: i64,
        kind: &str,
        actor: &str,
        detail: &serde_json::Value,
    ) -> Result<AuditRow, StoreError> {
        let head = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut **tx)
            .await?;
        let prev_seq: i64 = head.try_get("seq")?;
        let prev_hash: String = head.try_get("hash")?;
        let mut row = AuditRow {
            seq: prev_seq + 1,
            at,
            kind: kind.to_owned(),
            actor: actor.to_owned(),
            detail: detail.to_string(),
            prev_hash,
            hash: String::new(),
        };
        row.hash = crate::audit::entry_hash(&row);
        sqlx::query(
            "INSERT INTO audit (seq, at, kind, actor, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(row.seq)
        .bind(row.at)
        .bind(&row.kind)
        .bind(&row.actor)
        .bind(&row.detail)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(row.seq)
            .bind(&row.hash)
            .execute(&mut **tx)
            .await?;
        Ok(row)
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
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    actor: r.try_get("actor")?,
                    detail: r.try_get("detail")?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
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
