//! One-time challenges and used ID tokens. The two kinds of challenge live in two tables
//! of one shape (`nonce`, whom it was issued to, `expires_at`, `used`), handled by one
//! implementation.

use sqlx::{AnyConnection, Row};

use super::db::{Store, StoreError};

/// A kind of one-time challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// For a human's device key or ID token (`POST /v1/challenges`), issued to a human id.
    Human,
    /// For an agent's key at registration (`POST /v1/agents/challenges`), issued to the
    /// agent's public key.
    Agent,
}

/// The statements of one challenge table.
struct Queries {
    insert: &'static str,
    consume: &'static str,
    prune: &'static str,
    live: &'static str,
}

/// The statements of table `$table`, whose challenges are issued to column `$to`.
macro_rules! queries {
    ($table:literal, $to:literal) => {
        Queries {
            insert: concat!(
                "INSERT INTO ",
                $table,
                " (nonce, ",
                $to,
                ", expires_at, used) VALUES ($1, $2, $3, 0)"
            ),
            consume: concat!(
                "UPDATE ",
                $table,
                " SET used = 1 WHERE nonce = $1 AND ",
                $to,
                " = $2 AND used = 0 AND expires_at >= $3"
            ),
            prune: concat!("DELETE FROM ", $table, " WHERE expires_at < $1"),
            live: concat!(
                "SELECT COUNT(*) AS n FROM ",
                $table,
                " WHERE used = 0 AND expires_at >= $1"
            ),
        }
    };
}

impl Challenge {
    /// Every kind.
    pub const ALL: [Self; 2] = [Self::Human, Self::Agent];

    fn queries(self) -> Queries {
        match self {
            Self::Human => queries!("challenges", "human_id"),
            Self::Agent => queries!("agent_challenges", "public_key"),
        }
    }

    /// The statement deleting this kind's expired challenges, used or not.
    pub(super) fn prune_query(self) -> &'static str {
        self.queries().prune
    }
}

impl Store {
    /// Stores a one-time challenge of `kind` issued to `to` (a human id, an agent key), on
    /// `conn` (inside the request's transaction).
    pub async fn issue_challenge(
        conn: &mut AnyConnection,
        kind: Challenge,
        nonce: &str,
        to: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(kind.queries().insert)
            .bind(nonce)
            .bind(to)
            .bind(expires_at)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Consumes a challenge of `kind`: `true` for the first use of a live challenge issued
    /// to `to`, `false` afterwards or once expired — atomically, across replicas.
    pub async fn redeem_challenge(
        &self,
        kind: Challenge,
        nonce: &str,
        to: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::redeem_challenge_on(&mut conn, kind, nonce, to, now).await
    }

    /// [`Self::redeem_challenge`] on `conn` (inside the request's transaction: the
    /// challenge stays unused if that rolls back).
    pub async fn redeem_challenge_on(
        conn: &mut AnyConnection,
        kind: Challenge,
        nonce: &str,
        to: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(kind.queries().consume)
            .bind(nonce)
            .bind(to)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Unexpired, unused challenges, of every kind together.
    pub async fn live_challenges(&self, now: i64) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::live_challenges_on(&mut conn, now).await
    }

    /// [`Self::live_challenges`] on `conn` (inside a request's transaction).
    pub async fn live_challenges_on(conn: &mut AnyConnection, now: i64) -> Result<i64, StoreError> {
        let mut live = 0;
        for kind in Challenge::ALL {
            let row = sqlx::query(kind.queries().live)
                .bind(now)
                .fetch_one(&mut *conn)
                .await?;
            live += row.try_get::<i64, _>("n")?;
        }
        Ok(live)
    }

    /// Records that an ID token (its SHA-256, hex) verified a human: `true` the first
    /// time, `false` if it did before — atomically, across replicas. Kept until
    /// `expires_at`, after which the token is refused as expired anyway.
    pub async fn use_id_token(&self, digest: &str, expires_at: i64) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::use_id_token_on(&mut conn, digest, expires_at).await
    }

    /// [`Self::use_id_token`] on `conn` (inside the request's transaction).
    pub async fn use_id_token_on(
        conn: &mut AnyConnection,
        digest: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO used_id_tokens (digest, expires_at) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest)
        .bind(expires_at)
        .execute(conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
