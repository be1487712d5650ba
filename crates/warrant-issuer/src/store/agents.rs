//! Registered agents.

use sqlx::Row;

use super::db::{Store, StoreError};
use crate::audit::AuditRow;

/// An agent as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentRow {
    /// Id (the key's JWK thumbprint).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// `ed25519/<hex>`.
    pub public_key: String,
    /// The human it acts for.
    pub owner: Option<String>,
    /// Disabled agents get no tokens, and their tokens are revoked.
    pub disabled: bool,
    /// Registration time.
    pub created_at: i64,
}

fn agent_row(r: &sqlx::any::AnyRow) -> Result<AgentRow, StoreError> {
    Ok(AgentRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        public_key: r.try_get("public_key")?,
        owner: r.try_get("owner")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Registers an agent and records it in the audit log, in one transaction: the audit
    /// entry, or `None` if the key is already registered.
    pub async fn add_agent(
        &self,
        agent: &AgentRow,
        actor: &str,
    ) -> Result<Option<AuditRow>, StoreError> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM agents WHERE public_key = $1")
            .bind(&agent.public_key)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if exists {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO agents (id, name, public_key, owner, disabled, created_at) VALUES ($1, $2, $3, $4, 0, $5)",
        )
        .bind(&agent.id)
        .bind(&agent.name)
        .bind(&agent.public_key)
        .bind(agent.owner.as_deref())
        .bind(agent.created_at)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({ "agent": agent.id, "name": agent.name, "public_key": agent.public_key, "owner": agent.owner });
        let entry = Self::append_audit(
            &mut tx,
            agent.created_at,
            "agent_registration",
            actor,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(entry))
    }

    /// Every agent.
    pub async fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let rows = sqlx::query("SELECT id, name, public_key, owner, disabled, created_at FROM agents ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(agent_row).collect()
    }

    /// The agent registered with this key.
    pub async fn agent_by_key(&self, public_key: &str) -> Result<Option<AgentRow>, StoreError> {
        let row = sqlx::query("SELECT id, name, public_key, owner, disabled, created_at FROM agents WHERE public_key = $1")
            .bind(public_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(agent_row).transpose()
    }

    /// An agent by id.
    pub async fn agent(&self, id: &str) -> Result<Option<AgentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, public_key, owner, disabled, created_at FROM agents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(agent_row).transpose()
    }

    /// Marks an agent disabled; `false` if it already was.
    pub async fn disable_agent(&self, id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE agents SET disabled = 1 WHERE id = $1 AND disabled = 0")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}
