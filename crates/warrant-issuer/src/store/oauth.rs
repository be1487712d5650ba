//! The OAuth authorization server's rows: authorizations (from `/authorize` to the code's
//! exchange), refresh-token families, the refresh tokens rotated away, the access tokens
//! of each family, and remembered consents. Every change of state is a conditional
//! `UPDATE` from the state it leaves, so two replicas cannot both exchange one code or
//! rotate one refresh token.

use sqlx::{AnyConnection, Row};

use super::db::{Store, StoreError};

/// An authorization as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRow {
    /// 32 hex digits: the consent page's id.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// Its name, as the consent page shows it.
    pub client_name: String,
    /// Where the answer goes (one of the client's, exactly).
    pub redirect_uri: String,
    /// Echoed to the client.
    pub state: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// The canonical resource: the token's audience.
    pub resource: String,
    /// The scopes asked, when asked by scope.
    pub scope: Option<String>,
    /// The grant asked (JSON).
    pub grant_json: String,
    /// When `/authorize` was called.
    pub created_at: i64,
    /// The human decides before this.
    pub expires_at: i64,
    /// `pending`, `approved`, `denied` or `exchanged`.
    pub status: String,
    /// Who decided.
    pub human_id: Option<String>,
    /// The role the approval fits.
    pub role: Option<String>,
    /// The grant approved (JSON).
    pub approved_json: Option<String>,
    /// How the human was verified.
    pub method: Option<String>,
    /// When.
    pub verified_at: Option<i64>,
    /// How long (seconds) the consent may be refreshed, from the exchange.
    pub lifetime: Option<i64>,
    /// The code's expiry.
    pub code_expires_at: Option<i64>,
    /// The refresh family the code started.
    pub family: Option<String>,
}

const AUTH_COLUMNS: &str = "id, client_id, client_name, redirect_uri, state, code_challenge, \
     resource, scope, grant_json, created_at, expires_at, status, human_id, role, approved_json, \
     method, verified_at, lifetime, code_expires_at, family";

fn authorization_row(r: &sqlx::any::AnyRow) -> Result<AuthorizationRow, StoreError> {
    Ok(AuthorizationRow {
        id: r.try_get("id")?,
        client_id: r.try_get("client_id")?,
        client_name: r.try_get("client_name")?,
        redirect_uri: r.try_get("redirect_uri")?,
        state: r.try_get("state")?,
        code_challenge: r.try_get("code_challenge")?,
        resource: r.try_get("resource")?,
        scope: r.try_get("scope")?,
        grant_json: r.try_get("grant_json")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        status: r.try_get("status")?,
        human_id: r.try_get("human_id")?,
        role: r.try_get("role")?,
        approved_json: r.try_get("approved_json")?,
        method: r.try_get("method")?,
        verified_at: r.try_get("verified_at")?,
        lifetime: r.try_get("lifetime")?,
        code_expires_at: r.try_get("code_expires_at")?,
        family: r.try_get("family")?,
    })
}

/// A refresh-token family as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRow {
    /// 32 hex digits.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The human who consented.
    pub human_id: String,
    /// Their role.
    pub role: String,
    /// The canonical resource.
    pub resource: String,
    /// The grant approved (JSON).
    pub grant_json: String,
    /// How the human was verified.
    pub method: String,
    /// When.
    pub verified_at: i64,
    /// The DPoP key every token of the family is bound to.
    pub holder: String,
    /// SHA-256 of the live refresh token.
    pub current_hash: String,
    /// When the code was exchanged.
    pub created_at: i64,
    /// No refresh after.
    pub expires_at: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

const FAMILY_COLUMNS: &str = "id, client_id, human_id, role, resource, grant_json, method, \
     verified_at, holder, current_hash, created_at, expires_at, revoked_at";

fn family_row(r: &sqlx::any::AnyRow) -> Result<FamilyRow, StoreError> {
    Ok(FamilyRow {
        id: r.try_get("id")?,
        client_id: r.try_get("client_id")?,
        human_id: r.try_get("human_id")?,
        role: r.try_get("role")?,
        resource: r.try_get("resource")?,
        grant_json: r.try_get("grant_json")?,
        method: r.try_get("method")?,
        verified_at: r.try_get("verified_at")?,
        holder: r.try_get("holder")?,
        current_hash: r.try_get("current_hash")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// A remembered consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    /// The human.
    pub human_id: String,
    /// The client.
    pub client_id: String,
    /// The canonical resource.
    pub resource: String,
    /// SHA-256 of the grant asked (canonical JSON).
    pub asked_digest: String,
    /// The client's name when consented.
    pub client_name: String,
    /// The role.
    pub role: String,
    /// The grant approved (JSON).
    pub approved_json: String,
    /// Seconds the consent may be refreshed.
    pub lifetime: i64,
    /// When.
    pub created_at: i64,
}

const CONSENT_COLUMNS: &str = "human_id, client_id, resource, asked_digest, client_name, role, \
     approved_json, lifetime, created_at";

fn consent_row(r: &sqlx::any::AnyRow) -> Result<ConsentRow, StoreError> {
    Ok(ConsentRow {
        human_id: r.try_get("human_id")?,
        client_id: r.try_get("client_id")?,
        resource: r.try_get("resource")?,
        asked_digest: r.try_get("asked_digest")?,
        client_name: r.try_get("client_name")?,
        role: r.try_get("role")?,
        approved_json: r.try_get("approved_json")?,
        lifetime: r.try_get("lifetime")?,
        created_at: r.try_get("created_at")?,
    })
}

/// What a human's approval writes on an authorization.
#[derive(Debug, Clone, Copy)]
pub struct Approved<'a> {
    /// The human.
    pub human_id: &'a str,
    /// The role the grant fits.
    pub role: &'a str,
    /// The grant approved (JSON).
    pub approved_json: &'a str,
    /// How the human was verified.
    pub method: &'a str,
    /// When.
    pub verified_at: i64,
    /// Seconds the consent may be refreshed.
    pub lifetime: i64,
    /// SHA-256 of the code.
    pub code_hash: &'a str,
    /// The code's expiry.
    pub code_expires_at: i64,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// The live refresh token of this family.
    Live(Box<FamilyRow>),
    /// A refresh token of this family rotated away already: a replay.
    Replayed(Box<FamilyRow>),
    /// Unknown.
    Unknown,
}

impl Store {
    /// Stores a new pending authorization, on `conn`.
    pub async fn insert_authorization(
        conn: &mut AnyConnection,
        a: &AuthorizationRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_authorizations (id, client_id, client_name, redirect_uri, state, \
             code_challenge, resource, scope, grant_json, created_at, expires_at, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending')",
        )
        .bind(&a.id)
        .bind(&a.client_id)
        .bind(&a.client_name)
        .bind(&a.redirect_uri)
        .bind(&a.state)
        .bind(&a.code_challenge)
        .bind(&a.resource)
        .bind(&a.scope)
        .bind(&a.grant_json)
        .bind(a.created_at)
        .bind(a.expires_at)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// An authorization by id.
    pub async fn authorization(&self, id: &str) -> Result<Option<AuthorizationRow>, StoreError> {
        let sql = format!("SELECT {AUTH_COLUMNS} FROM oauth_authorizations WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(authorization_row).transpose()
    }

    /// The authorization whose code hashes to `code_hash`.
    pub async fn authorization_by_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<AuthorizationRow>, StoreError> {
        let sql = format!("SELECT {AUTH_COLUMNS} FROM oauth_authorizations WHERE code_hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(code_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(authorization_row).transpose()
    }

    /// Approves pending authorization `id` (unexpired at `now`); false when it was not
    /// pending. The row is then kept until ten minutes after its code expires, so that a
    /// code presented again is known (and revokes what it gave) however late the human
    /// approved.
    pub async fn approve_authorization(
        conn: &mut AnyConnection,
        id: &str,
        a: &Approved<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oauth_authorizations SET status = 'approved', human_id = $1, role = $2, \
             approved_json = $3, method = $4, verified_at = $5, lifetime = $6, code_hash = $7, \
             code_expires_at = $8, decided_at = $9, expires_at = $8 + 600 \
             WHERE id = $10 AND status = 'pending' AND expires_at >= $9",
        )
        .bind(a.human_id)
        .bind(a.role)
        .bind(a.approved_json)
        .bind(a.method)
        .bind(a.verified_at)
        .bind(a.lifetime)
        .bind(a.code_hash)
        .bind(a.code_expires_at)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Denies pending authorization `id`; false when it was not pending.
    pub async fn deny_authorization(
        conn: &mut AnyConnection,
        id: &str,
        human_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oauth_authorizations SET status = 'denied', human_id = $1, decided_at = $2 \
             WHERE id = $3 AND status = 'pending' AND expires_at >= $2",
        )
        .bind(human_id)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks approved authorization `id` exchanged, starting `family`, if its code is still
    /// good at `now`; false otherwise.
    pub async fn exchange_code(
        conn: &mut AnyConnection,
        id: &str,
        family: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oauth_authorizations SET status = 'exchanged', family = $1 \
             WHERE id = $2 AND status = 'approved' AND code_expires_at >= $3",
        )
        .bind(family)
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a new refresh family, on `conn`.
    pub async fn insert_family(conn: &mut AnyConnection, f: &FamilyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_families (id, client_id, human_id, role, resource, grant_json, \
             method, verified_at, holder, current_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&f.id)
        .bind(&f.client_id)
        .bind(&f.human_id)
        .bind(&f.role)
        .bind(&f.resource)
        .bind(&f.grant_json)
        .bind(&f.method)
        .bind(f.verified_at)
        .bind(&f.holder)
        .bind(&f.current_hash)
        .bind(f.created_at)
        .bind(f.expires_at)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// What the refresh token hashing to `hash` of family `family` is.
    pub async fn refresh_token(&self, family: &str, hash: &str) -> Result<Refreshed, StoreError> {
        let sql = format!("SELECT {FAMILY_COLUMNS} FROM oauth_families WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(family)
            .fetch_optional(&self.pool)
            .await?;
        let Some(f) = row.as_ref().map(family_row).transpose()? else {
            return Ok(Refreshed::Unknown);
        };
        if f.current_hash == hash {
            return Ok(Refreshed::Live(Box::new(f)));
        }
        let used = sqlx::query("SELECT family FROM oauth_used_refresh WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match used {
            Some(r) if r.try_get::<String, _>("family")? == family => {
                Refreshed::Replayed(Box::new(f))
            }
            _ => Refreshed::Unknown,
        })
    }

    /// Rotates family `family`'s refresh token from `old` to `new` (the old one kept as
    /// used until `until`); false when `old` is no longer the live one or the family was
    /// revoked.
    pub async fn rotate_refresh(
        conn: &mut AnyConnection,
        family: &str,
        old: &str,
        new: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oauth_families SET current_hash = $1 \
             WHERE id = $2 AND current_hash = $3 AND revoked_at IS NULL",
        )
        .bind(new)
        .bind(family)
        .bind(old)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Self::note_used_refresh(conn, old, family, until).await?;
        Ok(true)
    }

    /// Records the refresh token hashing to `hash` as used, until `until`.
    pub async fn note_used_refresh(
        conn: &mut AnyConnection,
        hash: &str,
        family: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_used_refresh (hash, family, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(hash)
        .bind(family)
        .bind(until)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Revokes family `family` at `now`; false when it was revoked already or is unknown.
    pub async fn revoke_family(
        conn: &mut AnyConnection,
        family: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oauth_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(family)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that family `family` minted token `token_id`.
    pub async fn note_family_token(
        conn: &mut AnyConnection,
        token_id: &str,
        family: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_family_tokens (token_id, family, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_id)
        .bind(family)
        .bind(expires_at)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The family that minted token `token_id`, if one did.
    pub async fn family_of_token(&self, token_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT family FROM oauth_family_tokens WHERE token_id = $1")
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("family")).transpose()?)
    }

    /// The unexpired tokens family `family` minted.
    pub async fn family_tokens(&self, family: &str, now: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT token_id FROM oauth_family_tokens WHERE family = $1 AND expires_at >= $2 \
             ORDER BY token_id",
        )
        .bind(family)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("token_id")?)).collect()
    }

    /// Remembers (or replaces) a consent, on `conn`.
    pub async fn remember_consent(
        conn: &mut AnyConnection,
        c: &ConsentRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_consents (human_id, client_id, resource, asked_digest, client_name, \
             role, approved_json, lifetime, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (human_id, client_id, resource, asked_digest) DO UPDATE SET \
             client_name = $5, role = $6, approved_json = $7, lifetime = $8, created_at = $9",
        )
        .bind(&c.human_id)
        .bind(&c.client_id)
        .bind(&c.resource)
        .bind(&c.asked_digest)
        .bind(&c.client_name)
        .bind(&c.role)
        .bind(&c.approved_json)
        .bind(c.lifetime)
        .bind(c.created_at)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The consent `human_id` remembered for this client, resource and grant asked.
    pub async fn consent(
        &self,
        human_id: &str,
        client_id: &str,
        resource: &str,
        asked_digest: &str,
    ) -> Result<Option<ConsentRow>, StoreError> {
        let sql = format!(
            "SELECT {CONSENT_COLUMNS} FROM oauth_consents WHERE human_id = $1 AND client_id = $2 \
             AND resource = $3 AND asked_digest = $4"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(human_id)
            .bind(client_id)
            .bind(resource)
            .bind(asked_digest)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(consent_row).transpose()
    }

    /// Every consent `human_id` remembered, newest first.
    pub async fn consents_of(&self, human_id: &str) -> Result<Vec<ConsentRow>, StoreError> {
        let sql = format!(
            "SELECT {CONSENT_COLUMNS} FROM oauth_consents WHERE human_id = $1 \
             ORDER BY created_at DESC, client_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(human_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(consent_row).collect()
    }

    /// Forgets one of `human_id`'s consents; false when there was none.
    pub async fn forget_consent(
        conn: &mut AnyConnection,
        human_id: &str,
        client_id: &str,
        resource: &str,
        asked_digest: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM oauth_consents WHERE human_id = $1 AND client_id = $2 AND resource = $3 \
             AND asked_digest = $4",
        )
        .bind(human_id)
        .bind(client_id)
        .bind(resource)
        .bind(asked_digest)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
