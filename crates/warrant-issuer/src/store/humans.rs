//! Humans, their roles and their device keys.

use sqlx::Row;

use super::db::{Store, StoreError};

/// A human as stored.
#[derive(Debug, Clone)]
pub struct HumanRow {
    /// Id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Verified attributes (JSON object).
    pub attrs: serde_json::Map<String, serde_json::Value>,
}

/// A role as stored.
#[derive(Debug, Clone)]
pub struct RoleRow {
    /// Name.
    pub name: String,
    /// The ceiling grant, JSON.
    pub ceiling: String,
    /// Longest token lifetime, seconds.
    pub max_ttl: i64,
}

impl Store {
    /// Creates or replaces a role (an upsert: replicas may seed at the same time).
    pub async fn put_role(&self, role: &RoleRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO roles (name, ceiling, max_ttl) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET ceiling = excluded.ceiling, max_ttl = excluded.max_ttl",
        )
        .bind(&role.name)
        .bind(&role.ceiling)
        .bind(role.max_ttl)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A role by name.
    pub async fn role(&self, name: &str) -> Result<Option<RoleRow>, StoreError> {
        let row = sqlx::query("SELECT name, ceiling, max_ttl FROM roles WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(RoleRow {
                name: r.try_get("name")?,
                ceiling: r.try_get("ceiling")?,
                max_ttl: r.try_get("max_ttl")?,
            })
        })
        .transpose()
    }

    /// Creates or replaces a human, keeping their device keys (an upsert).
    pub async fn put_human(&self, h: &HumanRow, now: i64) -> Result<(), StoreError> {
        let roles = serde_json::to_string(&h.roles).unwrap_or_else(|_| "[]".into());
        let attrs = serde_json::Value::Object(h.attrs.clone()).to_string();
        sqlx::query(
            "INSERT INTO humans (id, display_name, roles, attrs, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, roles = excluded.roles, attrs = excluded.attrs",
        )
        .bind(&h.id)
        .bind(&h.display_name)
        .bind(&roles)
        .bind(&attrs)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A human by id.
    pub async fn human(&self, id: &str) -> Result<Option<HumanRow>, StoreError> {
        let row = sqlx::query("SELECT id, display_name, roles, attrs FROM humans WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let roles: String = r.try_get("roles")?;
            let attrs: String = r.try_get("attrs")?;
            Ok(HumanRow {
                id: r.try_get("id")?,
                display_name: r.try_get("display_name")?,
                roles: serde_json::from_str(&roles).unwrap_or_default(),
                attrs: serde_json::from_str(&attrs).unwrap_or_default(),
            })
        })
        .transpose()
    }

    /// Enrols a device key for a human (idempotent).
    pub async fn add_device_key(&self, human: &str, key: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO device_keys (human_id, public_key, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (human_id, public_key) DO NOTHING",
        )
        .bind(human)
        .bind(key)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A human's enrolled device keys.
    pub async fn device_keys(&self, human: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT public_key FROM device_keys WHERE human_id = $1 ORDER BY public_key",
        )
        .bind(human)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("public_key")?)).collect()
    }
}
