//! Passkeys, the invitations that enrol them, and WebAuthn ceremonies in flight. Invites
//! and ceremonies are single use: consumed by a conditional `UPDATE`, so two replicas
//! cannot both use one.

use sqlx::{AnyConnection, Row};

use super::db::{Store, StoreError};

/// A stored passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRow {
    /// Its credential id, base64url.
    pub credential_id: String,
    /// Whose.
    pub human_id: String,
    /// webauthn-rs's `Passkey`, JSON.
    pub passkey_json: String,
    /// A name for people ("laptop").
    pub name: String,
    /// When it was enrolled.
    pub created_at: i64,
    /// When it last verified its human.
    pub last_used_at: Option<i64>,
}

/// A ceremony in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyRow {
    /// 32 hex digits.
    pub id: String,
    /// `registration` or `authentication`.
    pub kind: String,
    /// For whom.
    pub human_id: String,
    /// The digest of what it is for.
    pub purpose: String,
    /// webauthn-rs's state, JSON.
    pub state_json: String,
    /// When it can no longer be finished.
    pub expires_at: i64,
}

fn passkey_row(r: &sqlx::any::AnyRow) -> Result<PasskeyRow, StoreError> {
    Ok(PasskeyRow {
        credential_id: r.try_get("credential_id")?,
        human_id: r.try_get("human_id")?,
        passkey_json: r.try_get("passkey_json")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

impl Store {
    /// Stores an invite for `human_id` (the digest of its secret), on `conn`.
    pub async fn insert_invite(
        conn: &mut AnyConnection,
        digest: &str,
        human_id: &str,
        created_by: &str,
        (created_at, expires_at): (i64, i64),
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO invites (digest, human_id, created_by, created_at, expires_at, used) \
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(digest)
        .bind(human_id)
        .bind(created_by)
        .bind(created_at)
        .bind(expires_at)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The human an unused invite (by digest) is for, if it is still live at `now`.
    pub async fn live_invite(&self, digest: &str, now: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT human_id FROM invites WHERE digest = $1 AND used = 0 AND expires_at >= $2",
        )
        .bind(digest)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("human_id")).transpose()?)
    }

    /// Uses an invite: `true` the first time while live, `false` after — atomically.
    pub async fn use_invite(
        conn: &mut AnyConnection,
        digest: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE invites SET used = 1 WHERE digest = $1 AND used = 0 AND expires_at >= $2",
        )
        .bind(digest)
        .bind(now)
        .execute(conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Stores a ceremony in flight, on `conn`.
    pub async fn insert_ceremony(
        conn: &mut AnyConnection,
        c: &CeremonyRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ceremonies (id, kind, human_id, purpose, state_json, expires_at, used) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(&c.id)
        .bind(&c.kind)
        .bind(&c.human_id)
        .bind(&c.purpose)
        .bind(&c.state_json)
        .bind(c.expires_at)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// An unused ceremony still live at `now`.
    pub async fn live_ceremony(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<CeremonyRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, kind, human_id, purpose, state_json, expires_at FROM ceremonies \
             WHERE id = $1 AND used = 0 AND expires_at >= $2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(CeremonyRow {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                human_id: r.try_get("human_id")?,
                purpose: r.try_get("purpose")?,
                state_json: r.try_get("state_json")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Ceremonies not used and not expired at `now`, on `conn`.
    pub async fn live_ceremonies(conn: &mut AnyConnection, now: i64) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM ceremonies WHERE used = 0 AND expires_at >= $1")
                .bind(now)
                .fetch_one(conn)
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Uses a ceremony: `true` the first time while live, `false` after — atomically.
    pub async fn use_ceremony(
        conn: &mut AnyConnection,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE ceremonies SET used = 1 WHERE id = $1 AND used = 0 AND expires_at >= $2",
        )
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A human's passkeys, oldest first.
    pub async fn passkeys(&self, human_id: &str) -> Result<Vec<PasskeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT credential_id, human_id, passkey_json, name, created_at, last_used_at \
             FROM passkeys WHERE human_id = $1 ORDER BY created_at, credential_id",
        )
        .bind(human_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(passkey_row).collect()
    }

    /// Stores a new passkey: `false` if its credential id is enrolled already (for anyone).
    pub async fn insert_passkey(
        conn: &mut AnyConnection,
        p: &PasskeyRow,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO passkeys (credential_id, human_id, passkey_json, name, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(&p.credential_id)
        .bind(&p.human_id)
        .bind(&p.passkey_json)
        .bind(&p.name)
        .bind(p.created_at)
        .execute(conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records a passkey's use at `now`, with its updated state (its counter) when given.
    pub async fn used_passkey(
        conn: &mut AnyConnection,
        credential_id: &str,
        updated_json: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE passkeys SET last_used_at = $2, passkey_json = COALESCE($3, passkey_json) \
             WHERE credential_id = $1",
        )
        .bind(credential_id)
        .bind(now)
        .bind(updated_json)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// A browser session, as stored (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Whose.
    pub human_id: String,
    /// The token every state-changing form of the session must carry.
    pub csrf: String,
    /// When it ends.
    pub expires_at: i64,
}

impl SessionRow {
    /// How long a session lasts, in seconds, from its passkey sign-in.
    pub const SECONDS: i64 = 15 * 60;

    /// When its human signed in with their passkey.
    pub fn signed_in_at(&self) -> i64 {
        self.expires_at - Self::SECONDS
    }
}

impl Store {
    /// Stores a session (the digest of its secret), on `conn`.
    pub async fn insert_session(
        conn: &mut AnyConnection,
        digest: &str,
        s: &SessionRow,
        created_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_sessions (digest, human_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(digest)
        .bind(&s.human_id)
        .bind(&s.csrf)
        .bind(created_at)
        .bind(s.expires_at)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The session whose secret has this digest, if still live at `now`.
    pub async fn session(&self, digest: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT human_id, csrf, expires_at FROM web_sessions WHERE digest = $1 AND expires_at >= $2",
        )
        .bind(digest)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                human_id: r.try_get("human_id")?,
                csrf: r.try_get("csrf")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }
}
