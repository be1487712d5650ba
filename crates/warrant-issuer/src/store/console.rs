//! What a human's console reads and changes: their live tokens, their recent audit
//! entries, their passkeys, their session.

use sqlx::{AnyConnection, Row};

use super::db::{Store, StoreError};
use super::revocations::TokenRow;
use crate::audit::AuditRow;

impl Store {
    /// A human's tokens still live at `now` and not revoked by id, newest first (at most
    /// `limit`).
    pub async fn live_tokens(
        &self,
        human_id: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<TokenRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT token_id, human_id, holder, kid, issued_at, expires_at FROM tokens \
             WHERE human_id = $1 AND expires_at >= $2 AND token_id NOT IN \
             (SELECT value FROM revocations WHERE kind = 'token_id') \
             ORDER BY issued_at DESC, token_id LIMIT $3",
        )
        .bind(human_id)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenRow {
                    token_id: r.try_get("token_id")?,
                    human: r.try_get("human_id")?,
                    holder: r.try_get("holder")?,
                    kid: r.try_get("kid")?,
                    issued_at: r.try_get("issued_at")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .collect()
    }

    /// The latest audit entries by `actor`, newest first (at most `limit`).
    pub async fn audit_by(&self, actor: &str, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, actor, detail, prev_hash, hash FROM audit \
             WHERE actor = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(actor)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(super::audit::audit_row).collect()
    }

    /// Removes `human_id`'s passkey `credential_id`, unless it is their last way to be
    /// verified (no other passkey and no device key): `Ok(false)` then, or when there is no
    /// such passkey. Run inside a transaction: the human's row is locked first (a no-op
    /// update, which both databases honour), so two removals at once cannot both see
    /// another passkey left and leave the human with none.
    pub async fn remove_passkey(
        conn: &mut AnyConnection,
        human_id: &str,
        credential_id: &str,
    ) -> Result<bool, StoreError> {
        sqlx::query("UPDATE humans SET id = id WHERE id = $1")
            .bind(human_id)
            .execute(&mut *conn)
            .await?;
        let n = sqlx::query(
            "DELETE FROM passkeys WHERE human_id = $1 AND credential_id = $2 AND ( \
               (SELECT COUNT(*) FROM passkeys WHERE human_id = $1) > 1 \
               OR EXISTS (SELECT 1 FROM device_keys WHERE human_id = $1))",
        )
        .bind(human_id)
        .bind(credential_id)
        .execute(conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Ends the session whose secret has this digest.
    pub async fn end_session(conn: &mut AnyConnection, digest: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_sessions WHERE digest = $1")
            .bind(digest)
            .execute(conn)
            .await?;
        Ok(())
    }
}
