//! Minted tokens and the revocation feed.

use sqlx::Row;

use super::db::{Store, StoreError, Tx};
use crate::audit::AuditRow;

/// One revocation feed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRow {
    /// Feed position.
    pub cursor: i64,
    /// `token_id`, `revocation_id` or `holder`.
    pub kind: String,
    /// What is revoked.
    pub value: String,
}

/// A minted token as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Its `token_id`.
    pub token_id: String,
    /// The human it was minted for.
    pub human: String,
    /// The holder key it is bound to, `ed25519/<hex>`.
    pub holder: Option<String>,
    /// The signing key's id.
    pub kid: i64,
    /// Minting time.
    pub issued_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

impl Store {
    /// Records a minted token (inside the caller's transaction).
    pub async fn insert_token(tx: &mut Tx, token: &TokenRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (token_id, human_id, holder, kid, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&token.token_id)
        .bind(&token.human)
        .bind(token.holder.as_deref())
        .bind(token.kid)
        .bind(token.issued_at)
        .bind(token.expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Who minted a token, if this issuer did.
    pub async fn token_owner(&self, token_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT human_id FROM tokens WHERE token_id = $1")
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("human_id")?)).transpose()
    }

    /// Appends a revocation to the feed (and its audit entry) in one transaction; cursors
    /// are handed out under the head row's lock, so they follow commit order. Returns the
    /// cursor and the audit entry.
    pub async fn revoke(
        &self,
        kind: &str,
        value: &str,
        actor: &str,
        now: i64,
    ) -> Result<(i64, AuditRow), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE revocation_head SET cursor = cursor + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let cursor: i64 = sqlx::query("SELECT cursor FROM revocation_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?
            .try_get("cursor")?;
        sqlx::query("INSERT INTO revocations (cursor, kind, value, created_at, actor) VALUES ($1, $2, $3, $4, $5)")
            .bind(cursor)
            .bind(kind)
            .bind(value)
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({ "cursor": cursor, "kind": kind, "value": value });
        let entry = Self::append_audit(&mut tx, now, "revocation", actor, &detail).await?;
        tx.commit().await?;
        Ok((cursor, entry))
    }

    /// Feed entries after `cursor`, at most `limit`.
    pub async fn revocations_since(
        &self,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<RevocationRow>, StoreError> {
        let rows = sqlx::query("SELECT cursor, kind, value FROM revocations WHERE cursor > $1 ORDER BY cursor LIMIT $2")
            .bind(cursor)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RevocationRow {
                    cursor: r.try_get("cursor")?,
                    kind: r.try_get("kind")?,
                    value: r.try_get("value")?,
                })
            })
            .collect()
    }
}
