//! Capability requests: an agent's ask, its human's decision, the agent's one collection.
//! Every change of status is a conditional `UPDATE` from the status it leaves, so two
//! replicas (or two tabs) deciding the same request at once cannot both succeed.

use sqlx::{AnyConnection, Row};

use super::db::{Store, StoreError};

/// How long an ended request stays stored for its human's console (the audit log keeps
/// it for good).
pub(super) const KEEP_ENDED_SECONDS: i64 = 24 * 3600;

/// A capability request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    /// 32 hex digits.
    pub id: String,
    /// The asking agent's id.
    pub agent_id: String,
    /// The asking agent's key, `ed25519/<hex>`: the token is bound to it.
    pub agent_key: String,
    /// The human asked.
    pub human_id: String,
    /// The role whose ceiling the request fits.
    pub role: String,
    /// The grant asked for (JSON).
    pub grant_json: String,
    /// Why, in the agent's words.
    pub reason: String,
    /// When it was made.
    pub created_at: i64,
    /// When a pending or approved request ends.
    pub expires_at: i64,
    /// `pending`, `approved`, `denied` or `collected`.
    pub status: String,
    /// The grant approved, when the human narrowed the request (JSON).
    pub approved_json: Option<String>,
    /// How the approving human was verified (`device-key`, `oidc`, `passkey`).
    pub method: Option<String>,
    /// When.
    pub verified_at: Option<i64>,
    /// The expiry of the token, fixed when approved.
    pub token_expires_at: Option<i64>,
    /// When the human decided.
    pub decided_at: Option<i64>,
    /// The token's id, once collected.
    pub token_id: Option<String>,
}

const COLUMNS: &str = "id, agent_id, agent_key, human_id, role, grant_json, reason, created_at, \
     expires_at, status, approved_json, method, verified_at, token_expires_at, decided_at, token_id";

fn request_row(r: &sqlx::any::AnyRow) -> Result<RequestRow, StoreError> {
    Ok(RequestRow {
        id: r.try_get("id")?,
        agent_id: r.try_get("agent_id")?,
        agent_key: r.try_get("agent_key")?,
        human_id: r.try_get("human_id")?,
        role: r.try_get("role")?,
        grant_json: r.try_get("grant_json")?,
        reason: r.try_get("reason")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        status: r.try_get("status")?,
        approved_json: r.try_get("approved_json")?,
        method: r.try_get("method")?,
        verified_at: r.try_get("verified_at")?,
        token_expires_at: r.try_get("token_expires_at")?,
        decided_at: r.try_get("decided_at")?,
        token_id: r.try_get("token_id")?,
    })
}

/// A human's decision on a pending request.
#[derive(Debug, Clone, Copy)]
pub struct Approval<'a> {
    /// The grant approved, when narrowed (JSON).
    pub approved_json: Option<&'a str>,
    /// How the human was verified.
    pub method: &'a str,
    /// When.
    pub verified_at: i64,
    /// The token's expiry.
    pub token_expires_at: i64,
}

impl Store {
    /// Stores a new pending request, on `conn` (the request's transaction).
    pub async fn insert_request(
        conn: &mut AnyConnection,
        r: &RequestRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO capability_requests (id, agent_id, agent_key, human_id, role, grant_json, \
             reason, created_at, expires_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')",
        )
        .bind(&r.id)
        .bind(&r.agent_id)
        .bind(&r.agent_key)
        .bind(&r.human_id)
        .bind(&r.role)
        .bind(&r.grant_json)
        .bind(&r.reason)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// A request by id.
    pub async fn request(&self, id: &str) -> Result<Option<RequestRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM capability_requests WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(request_row).transpose()
    }

    /// A human's requests that are still pending at `now`, oldest first.
    pub async fn pending_requests(
        &self,
        human_id: &str,
        now: i64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM capability_requests \
             WHERE human_id = $1 AND status = 'pending' AND expires_at >= $2 ORDER BY created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(human_id)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(request_row).collect()
    }

    /// Approves a request still pending at `now`: `false` if it was not (decided, or
    /// expired), atomically across replicas.
    pub async fn approve_request(
        conn: &mut AnyConnection,
        id: &str,
        a: &Approval<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE capability_requests SET status = 'approved', approved_json = $2, method = $3, \
             verified_at = $4, token_expires_at = $5, decided_at = $6 \
             WHERE id = $1 AND status = 'pending' AND expires_at >= $6",
        )
        .bind(id)
        .bind(a.approved_json)
        .bind(a.method)
        .bind(a.verified_at)
        .bind(a.token_expires_at)
        .bind(now)
        .execute(conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Denies a request still pending at `now`: `false` if it was not.
    pub async fn deny_request(
        conn: &mut AnyConnection,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE capability_requests SET status = 'denied', decided_at = $2 \
             WHERE id = $1 AND status = 'pending' AND expires_at >= $2",
        )
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Marks an approved request collected, with its token's id: `false` if it was not
    /// approved (collected already) or has ended at `now`.
    pub async fn collect_request(
        conn: &mut AnyConnection,
        id: &str,
        token_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE capability_requests SET status = 'collected', token_id = $2 \
             WHERE id = $1 AND status = 'approved' AND expires_at >= $3",
        )
        .bind(id)
        .bind(token_id)
        .bind(now)
        .execute(conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records a DPoP proof's `jti` as used until `expires_at`: `true` the first time,
    /// `false` for a replay — atomically, across replicas.
    pub async fn use_proof(
        conn: &mut AnyConnection,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO used_proofs (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
