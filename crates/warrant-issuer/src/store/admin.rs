//! Admin credentials (crate::admin): their rows and audit entries, in one transaction.

use sqlx::Row;

use super::audit::AuditEntry;
use super::db::{Store, StoreError, Tx};
use crate::audit::AuditRow;

/// An admin credential as stored (the secret itself never is).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdminCredentialRow {
    /// Id: 32 hex digits.
    pub id: String,
    /// Hex SHA-256 of the secret.
    #[serde(skip)]
    pub secret_hash: String,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Revocation time.
    pub revoked_at: Option<i64>,
    /// Who issued it.
    pub created_by: String,
}

fn admin_credential_row(r: &sqlx::any::AnyRow) -> Result<AdminCredentialRow, StoreError> {
    Ok(AdminCredentialRow {
        id: r.try_get("id")?,
        secret_hash: r.try_get("secret_hash")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        created_by: r.try_get("created_by")?,
    })
}

impl Store {
    /// Stores a new admin credential and its audit entry (`kind`) in one transaction; the
    /// entry.
    pub async fn add_admin_credential(
        &self,
        row: &AdminCredentialRow,
        kind: &str,
        actor: &str,
        detail: &serde_json::Value,
    ) -> Result<AuditRow, StoreError> {
        let mut tx = self.begin().await?;
        Self::insert_admin_credential(&mut tx, row).await?;
        let entry = Self::append_audit(&mut tx, row.created_at, kind, actor, detail).await?;
        tx.commit().await?;
        Ok(entry)
    }

    async fn insert_admin_credential(
        tx: &mut Tx,
        row: &AdminCredentialRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO admin_credentials (id, secret_hash, created_at, expires_at, revoked_at, created_by) \
             VALUES ($1, $2, $3, $4, NULL, $5)",
        )
        .bind(&row.id)
        .bind(&row.secret_hash)
        .bind(row.created_at)
        .bind(row.expires_at)
        .bind(&row.created_by)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Rotates admin credential `revoke` into `row`, in one transaction: `revoke` is revoked
    /// only if it is still live (unrevoked and unexpired at `row.created_at`), exactly one
    /// row, before `row` and both audit entries (`admin_credential` with `issued`, then
    /// `admin_credential_revocation` with `revoked`) are written. `None`, and nothing
    /// written, if `revoke` is not live: of two concurrent rotations of one credential, one
    /// wins and the other issues nothing.
    pub async fn rotate_admin_credential(
        &self,
        row: &AdminCredentialRow,
        revoke: &str,
        actor: &str,
        issued: &serde_json::Value,
        revoked: &serde_json::Value,
    ) -> Result<Option<AuditRow>, StoreError> {
        let now = row.created_at;
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE admin_credentials SET revoked_at = $1 \
             WHERE id = $2 AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(now)
        .bind(revoke)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        Self::insert_admin_credential(&mut tx, row).await?;
        let audited = |kind, detail| AuditEntry {
            at: now,
            kind,
            actor,
            detail,
        };
        let entry = Self::append_audits(
            &mut tx,
            audited("admin_credential", issued),
            &[audited("admin_credential_revocation", revoked)],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(entry))
    }

    /// An admin credential by id, read from the database (never cached: revocations bind
    /// every replica on the next request).
    pub async fn admin_credential(
        &self,
        id: &str,
    ) -> Result<Option<AdminCredentialRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, secret_hash, created_at, expires_at, revoked_at, created_by \
             FROM admin_credentials WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(admin_credential_row).transpose()
    }

    /// Every admin credential, newest first.
    pub async fn admin_credentials(&self) -> Result<Vec<AdminCredentialRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, secret_hash, created_at, expires_at, revoked_at, created_by \
             FROM admin_credentials ORDER BY created_at DESC, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(admin_credential_row).collect()
    }

    /// Revokes an admin credential and records it in the audit log, in one transaction;
    /// the entry, or `None` if there is no such credential. Revoking a
    /// revoked credential keeps its first revocation time.
    pub async fn revoke_admin_credential(
        &self,
        id: &str,
        now: i64,
        actor: &str,
        detail: &serde_json::Value,
    ) -> Result<Option<AuditRow>, StoreError> {
        let mut tx = self.begin().await?;
        let found = sqlx::query(
            "UPDATE admin_credentials SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if found == 0 {
            return Ok(None);
        }
        let entry =
            Self::append_audit(&mut tx, now, "admin_credential_revocation", actor, detail).await?;
        tx.commit().await?;
        Ok(Some(entry))
    }
}
