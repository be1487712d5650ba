//! The signing keys (crate::keyring makes, seals and unseals them).

use sqlx::Row;

use super::db::{b, Store, StoreError};

/// A signing key as stored.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Key id.
    pub kid: i64,
    /// `ed25519/<hex>`.
    pub public_key: String,
    /// PEM, or sealed PEM.
    pub private_key: Vec<u8>,
    /// Whether `private_key` is sealed with the key-encryption key.
    pub encrypted: bool,
    /// Creation time.
    pub created_at: i64,
    /// When it stopped signing.
    pub retired_at: Option<i64>,
    /// The latest expiry of a token it signed.
    pub last_expiry: i64,
}

/// What changes whenever the stored keys do: how many there are, the newest key id and
/// how many are retired. A rotation adds a key and retires the others, and nothing else
/// adds, removes or un-retires one, so two versions differ if and only if the key ids or
/// retirements differ. Cheap to read ([`Store::key_version`]): a replica compares it with
/// the version its keyring was made from to see a rotation done at another replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyVersion {
    /// Stored keys.
    pub keys: i64,
    /// The largest key id (0 when there is none).
    pub newest: i64,
    /// Retired keys.
    pub retired: i64,
}

impl KeyVersion {
    /// The version `rows` (every stored key) are.
    pub fn of(rows: &[KeyRow]) -> Self {
        Self {
            keys: i64::try_from(rows.len()).unwrap_or(i64::MAX),
            newest: rows.iter().map(|r| r.kid).max().unwrap_or(0),
            retired: i64::try_from(rows.iter().filter(|r| r.retired_at.is_some()).count())
                .unwrap_or(i64::MAX),
        }
    }
}

impl Store {
    /// The version of the stored keys: one small aggregate, no key material read.
    pub async fn key_version(&self) -> Result<KeyVersion, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS keys, COALESCE(MAX(kid), 0) AS newest, COUNT(retired_at) AS retired \
             FROM signing_keys",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(KeyVersion {
            keys: row.try_get("keys")?,
            newest: row.try_get("newest")?,
            retired: row.try_get("retired")?,
        })
    }

    /// Every signing key, oldest first.
    pub async fn signing_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, public_key, private_key, encrypted, created_at, retired_at, last_expiry \
             FROM signing_keys ORDER BY kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyRow {
                    kid: r.try_get("kid")?,
                    public_key: r.try_get("public_key")?,
                    private_key: r.try_get("private_key")?,
                    encrypted: r.try_get::<i64, _>("encrypted")? != 0,
                    created_at: r.try_get("created_at")?,
                    retired_at: r.try_get("retired_at")?,
                    last_expiry: r.try_get("last_expiry")?,
                })
            })
            .collect()
    }

    /// Adds a key and retires every other active key, in one transaction. Idempotent when
    /// two replicas race to add the same key id: the first one's key wins.
    pub async fn add_active_key(&self, row: &KeyRow) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, public_key, private_key, encrypted, created_at, retired_at, last_expiry) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT (kid) DO NOTHING",
        )
        .bind(row.kid)
        .bind(&row.public_key)
        .bind(&row.private_key)
        .bind(b(row.encrypted))
        .bind(row.created_at)
        .bind(row.last_expiry)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND kid <> $2",
        )
        .bind(row.created_at)
        .bind(row.kid)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that `kid` signed a token expiring at `expires_at`, on `conn` (inside the
    /// mint's transaction).
    pub async fn note_expiry(
        conn: &mut sqlx::AnyConnection,
        kid: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE signing_keys SET last_expiry = $1 WHERE kid = $2 AND last_expiry < $1")
            .bind(expires_at)
            .bind(kid)
            .execute(conn)
            .await?;
        Ok(())
    }
}
