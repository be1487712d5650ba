//! What bounds the stored rows: rate-limit counters, pruning, and their counts.

use sqlx::{AnyConnection, Row};

use super::challenges::Challenge;
use super::db::{Store, StoreError};

/// Row counts, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableSizes {
    /// Unexpired, unused device-key challenges.
    pub live_challenges: i64,
    /// Unexpired, unused agent challenges.
    pub live_agent_challenges: i64,
    /// Device-key challenge rows (live, used or expired but not yet pruned).
    pub challenges: i64,
    /// Agent challenge rows.
    pub agent_challenges: i64,
    /// Minted tokens.
    pub tokens: i64,
    /// Revocation feed entries.
    pub revocations: i64,
    /// Audit entries.
    pub audit: i64,
    /// ID tokens remembered as used.
    pub used_id_tokens: i64,
    /// Rate-limit counters.
    pub rate_counters: i64,
}

impl Store {
    /// Counts one event in `bucket` for the window starting at `window_start`, on `conn`
    /// (inside the request's transaction); the count so far, this one included. Shared by
    /// every replica; old windows are pruned.
    pub async fn count_event(
        conn: &mut AnyConnection,
        bucket: &str,
        window_start: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO rate_counters (bucket, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_counters.count + 1 \
             RETURNING count",
        )
        .bind(bucket)
        .bind(window_start)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM rate_counters WHERE bucket = $1 AND window_start < $2")
            .bind(bucket)
            .bind(window_start)
            .execute(&mut *conn)
            .await?;
        Ok(row.try_get("count")?)
    }

    /// Deletes what can no longer be used at `now`: expired challenges (used or not),
    /// expired ID-token and DPoP-proof records, invitations, passkey ceremonies and
    /// sessions, OAuth authorizations and refresh families, capability requests ended a day ago, and rate-limit windows older than a
    /// minute. The rows
    /// deleted.
    pub async fn prune(&self, now: i64) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::prune_on(&mut conn, now).await
    }

    /// [`Self::prune`] on `conn` (inside a request's transaction).
    pub async fn prune_on(conn: &mut AnyConnection, now: i64) -> Result<u64, StoreError> {
        let mut n = 0;
        let challenges = Challenge::ALL.map(Challenge::prune_query);
        for sql in challenges.into_iter().chain([
            "DELETE FROM used_id_tokens WHERE expires_at < $1",
            "DELETE FROM used_proofs WHERE expires_at < $1",
            "DELETE FROM invites WHERE expires_at < $1",
            "DELETE FROM ceremonies WHERE expires_at < $1",
            "DELETE FROM web_sessions WHERE expires_at < $1",
            "DELETE FROM oauth_authorizations WHERE expires_at < $1",
            "DELETE FROM oauth_used_refresh WHERE expires_at < $1",
            "DELETE FROM oauth_family_tokens WHERE expires_at < $1",
            "DELETE FROM oauth_families WHERE expires_at < $1",
        ]) {
            n += sqlx::query(sql)
                .bind(now)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        }
        // Ended capability requests stay a day for their human's console (the audit log
        // keeps them for good).
        n += sqlx::query("DELETE FROM capability_requests WHERE expires_at < $1")
            .bind(now - super::requests::KEEP_ENDED_SECONDS)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        n += sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
            .bind(now - 120)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        Ok(n)
    }

    /// How much is stored, for `/metrics`.
    pub async fn table_sizes(&self, now: i64) -> Result<TableSizes, StoreError> {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM challenges WHERE used = 0 AND expires_at >= $1) AS live_challenges, \
               (SELECT COUNT(*) FROM agent_challenges WHERE used = 0 AND expires_at >= $1) AS live_agent_challenges, \
               (SELECT COUNT(*) FROM challenges) AS challenges, \
               (SELECT COUNT(*) FROM agent_challenges) AS agent_challenges, \
               (SELECT COUNT(*) FROM tokens) AS tokens, \
               (SELECT cursor FROM revocation_head WHERE id = 1) AS revocations, \
               (SELECT seq FROM audit_head WHERE id = 1) AS audit, \
               (SELECT COUNT(*) FROM used_id_tokens) AS used_id_tokens, \
               (SELECT COUNT(*) FROM rate_counters) AS rate_counters",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(TableSizes {
            live_challenges: row.try_get("live_challenges")?,
            live_agent_challenges: row.try_get("live_agent_challenges")?,
            challenges: row.try_get("challenges")?,
            agent_challenges: row.try_get("agent_challenges")?,
            tokens: row.try_get("tokens")?,
            revocations: row.try_get("revocations")?,
            audit: row.try_get("audit")?,
            used_id_tokens: row.try_get("used_id_tokens")?,
            rate_counters: row.try_get("rate_counters")?,
        })
    }
}
