//! Storage: one code path over sqlx's `Any` driver, SQLite by default, PostgreSQL by URL.
//!
//! Pitfalls this module is written around: the `Any` driver carries only bools, integers,
//! floats, strings and bytes (times are Unix seconds, booleans 0/1 `BIGINT`s); the two
//! databases get two migration folders, picked at run time; and everything that must be
//! ordered across replicas (the audit chain, the revocation feed) is appended under a row
//! lock taken by a no-op `UPDATE` of a head row, which both databases honour.

use std::str::FromStr;

use sqlx::any::{install_default_drivers, AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};

use crate::audit::AuditRow;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded file (or memory).
    Sqlite,
    /// A server shared by several replicas.
    Postgres,
}

/// Storage errors. Their text goes to logs, never to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not `sqlite:` or `postgres:`.
    #[error("unsupported database URL `{0}`: use `sqlite://PATH` or `postgres://…`")]
    Url(String),
    /// The PostgreSQL server did not answer.
    #[error("cannot reach PostgreSQL at `{at}`: {cause}; is the server running, and is the database URL (`--database` or `database` in the configuration) right?")]
    Unreachable {
        /// `host:port`.
        at: String,
        /// Why, in one line.
        cause: String,
    },
    /// The server answered, the database is not there.
    #[error("the PostgreSQL database `{name}` does not exist at `{at}`: create it with `{createdb}`, then start again")]
    NoDatabase {
        /// The database name.
        name: String,
        /// `host:port`.
        at: String,
        /// The command that creates it.
        createdb: String,
    },
    /// The database refused the connection for another reason (login, permissions, a file
    /// that cannot be opened).
    #[error("cannot open the database `{at}`: {cause}")]
    Open {
        /// `host:port` and database, or the SQLite file.
        at: String,
        /// The database's own message, in one line.
        cause: String,
    },
    /// A database error.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The issuer's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

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

/// One revocation feed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRow {
    /// Feed position.
    pub cursor: i64,
    /// `token_id`, `revocation_id` or `holder`.
    pub kind: String,
    /// What is revoked.
    pub value: String,
}

fn b(v: bool) -> i64 {
    i64::from(v)
}

/// How long the first connection may take before the server counts as unreachable.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens and closes one connection, turning the failures a person can fix into errors that
/// say what to do.
async fn probe(url: &str, backend: Backend, options: &AnyConnectOptions) -> Result<(), StoreError> {
    use sqlx::{AnyConnection, Connection as _};
    let (at, name, createdb) = match backend {
        Backend::Postgres => {
            let pg = sqlx::postgres::PgConnectOptions::from_str(url)?;
            let at = format!("{}:{}", pg.get_host(), pg.get_port());
            let name = pg.get_database().unwrap_or(pg.get_username()).to_owned();
            let createdb = format!(
                "createdb -h {} -p {} -U {} {name}",
                pg.get_host(),
                pg.get_port(),
                pg.get_username()
            );
            (at, name, createdb)
        }
        Backend::Sqlite => (
            url.split('?').next().unwrap_or(url).to_owned(),
            String::new(),
            String::new(),
        ),
    };
    let conn =
        match tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect_with(options)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                return Err(match e {
                    sqlx::Error::Io(io) => StoreError::Unreachable {
                        at,
                        cause: crate::error::lower_first(&io.to_string()),
                    },
                    sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000") => {
                        StoreError::NoDatabase { name, at, createdb }
                    }
                    sqlx::Error::Database(db) => StoreError::Open {
                        at: if backend == Backend::Postgres {
                            format!("{at}/{name}")
                        } else {
                            at
                        },
                        cause: db.message().to_owned(),
                    },
                    other => StoreError::Open {
                        at,
                        cause: other.to_string(),
                    },
                })
            }
            Err(_) => {
                return Err(StoreError::Unreachable {
                    at,
                    cause: format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
                })
            }
        };
    // Closing politely may fail on a server going away; the pool connects again anyway.
    let _ = conn.close().await;
    Ok(())
}

impl Store {
    /// Connects (creating a SQLite file if needed) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Url(url.to_owned()));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains('?') && !url.contains(":memory:") => {
                format!("{url}?mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        // One connection first, so that a server that is down, a database that does not
        // exist or a refused login is reported at once and plainly (the pool would retry
        // for 30 s and then say only that it timed out).
        probe(&url, backend, &options).await?;
        // SQLite in memory lives in one connection; a file or a server can have several.
        let max = if url.contains(":memory:") { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await?;
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    // ---- signing keys ----

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

    /// Records that `kid` signed a token expiring at `expires_at`.
    pub async fn note_expiry(&self, kid: i64, expires_at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE signing_keys SET last_expiry = $1 WHERE kid = $2 AND last_expiry < $1")
            .bind(expires_at)
            .bind(kid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- roles and humans ----

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

    // ---- challenges ----

    /// Stores a one-time challenge.
    pub async fn put_challenge(
        &self,
        nonce: &str,
        human: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO challenges (nonce, human_id, expires_at, used) VALUES ($1, $2, $3, 0)",
        )
        .bind(nonce)
        .bind(human)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Consumes a challenge: `true` for the first use of a live challenge issued to
    /// `human`, `false` afterwards or once expired — atomically, across replicas.
    pub async fn consume_challenge(
        &self,
        nonce: &str,
        human: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE challenges SET used = 1 WHERE nonce = $1 AND human_id = $2 AND used = 0 AND expires_at >= $3",
        )
        .bind(nonce)
        .bind(human)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records that an ID token (its SHA-256, hex) verified a human: `true` the first
    /// time, `false` if it did before — atomically, across replicas. Kept until
    /// `expires_at`, after which the token is refused as expired anyway.
    pub async fn use_id_token(&self, digest: &str, expires_at: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO used_id_tokens (digest, expires_at) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest)
        .bind(expires_at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Unexpired, unused challenges, device-key and agent ones together.
    pub async fn live_challenges(&self, now: i64) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM challenges WHERE used = 0 AND expires_at >= $1) \
                  + (SELECT COUNT(*) FROM agent_challenges WHERE used = 0 AND expires_at >= $1) AS n",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Deletes what can no longer be used at `now`: expired challenges (used or not),
    /// expired ID-token records and rate-limit windows older than a minute. The rows
    /// deleted.
    pub async fn prune(&self, now: i64) -> Result<u64, StoreError> {
        let mut n = 0;
        for sql in [
            "DELETE FROM challenges WHERE expires_at < $1",
            "DELETE FROM agent_challenges WHERE expires_at < $1",
            "DELETE FROM used_id_tokens WHERE expires_at < $1",
        ] {
            n += sqlx::query(sql)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        n += sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
            .bind(now - 120)
            .execute(&self.pool)
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

    // ---- tokens, audit, revocations ----

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Records a minted token (inside the caller's transaction).
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_token(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        token_id: &str,
        human: &str,
        holder: Option<&str>,
        kid: i64,
        issued_at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (token_id, human_id, holder, kid, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_id)
        .bind(human)
        .bind(holder)
        .bind(kid)
        .bind(issued_at)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Who minted a token, if this issuer did.
    pub async fn token_owner(&self, token_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT human_id FROM tokens WHERE token_id = $1")
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("human_id")?)).transpose()
    }

    /// Appends an audit entry inside the caller's transaction. The head row is locked
    /// first (a no-op update), so appends from every replica form one chain.
    pub async fn append_audit(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        at: i64,
        kind: &str,
        actor: &str,
        detail: &serde_json::Value,
    ) -> Result<AuditRow, StoreError> {
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&mut **tx)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut **tx)
            .await?;
        let prev_seq: i64 = head.try_get("seq")?;
        let prev_hash: String = head.try_get("hash")?;
        let mut row = AuditRow {
            seq: prev_seq + 1,
            at,
            kind: kind.to_owned(),
            actor: actor.to_owned(),
            detail: detail.to_string(),
            prev_hash,
            hash: String::new(),
        };
        row.hash = crate::audit::entry_hash(&row);
        sqlx::query(
            "INSERT INTO audit (seq, at, kind, actor, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(row.seq)
        .bind(row.at)
        .bind(&row.kind)
        .bind(&row.actor)
        .bind(&row.detail)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(row.seq)
            .bind(&row.hash)
            .execute(&mut **tx)
            .await?;
        Ok(row)
    }

    /// Appends one audit entry in its own transaction.
    pub async fn audit(
        &self,
        at: i64,
        kind: &str,
        actor: &str,
        detail: &serde_json::Value,
    ) -> Result<AuditRow, StoreError> {
        let mut tx = self.begin().await?;
        let row = Self::append_audit(&mut tx, at, kind, actor, detail).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Audit entries after `seq`, at most `limit`.
    pub async fn audit_since(&self, seq: i64, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, actor, detail, prev_hash, hash FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    actor: r.try_get("actor")?,
                    detail: r.try_get("detail")?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }

    /// The latest entry named by a head signature among the audit entries after `from`,
    /// up to `to` (unchecked: what the stored rows say).
    pub async fn last_signed_within(&self, from: i64, to: i64) -> Result<Option<i64>, StoreError> {
        let rows =
            sqlx::query("SELECT detail FROM audit WHERE seq > $1 AND seq <= $2 AND kind = $3")
                .bind(from)
                .bind(to)
                .bind(crate::audit::HEAD_SIGNATURE)
                .fetch_all(&self.pool)
                .await?;
        let mut last = None;
        for r in &rows {
            let detail: String = r.try_get("detail")?;
            let seq = serde_json::from_str::<serde_json::Value>(&detail)
                .ok()
                .and_then(|d| d["seq"].as_i64());
            last = last.max(seq);
        }
        Ok(last)
    }

    /// The audit entry at `seq`, if any.
    pub async fn audit_at(&self, seq: i64) -> Result<Option<AuditRow>, StoreError> {
        Ok(self
            .audit_since(seq - 1, 1)
            .await?
            .into_iter()
            .next()
            .filter(|r| r.seq == seq))
    }

    /// The latest audit entry.
    pub async fn audit_last(&self) -> Result<Option<AuditRow>, StoreError> {
        let seq: i64 = sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("seq")?;
        Ok(self.audit_since(seq - 1, 1).await?.into_iter().next())
    }

    /// Appends a revocation to the feed (and its audit entry) in one transaction; cursors
    /// are handed out under the head row's lock, so they follow commit order.
    pub async fn revoke(
        &self,
        kind: &str,
        value: &str,
        actor: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE revocation_head SET cursor = cursor + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let cursor: i64 = sqlx::query("SELECT cursor FROM revocation_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?
            .try_get("cursor")?;
        sqlx::query("INSERT INTO revocations (cursor, kind, value, created_at, actor) VALUES ($1, $2, $3, $4, $5)")
            .bind(cursor)
            .bind(kind)
            .bind(value)
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({ "cursor": cursor, "kind": kind, "value": value });
        Self::append_audit(&mut tx, now, "revocation", actor, &detail).await?;
        tx.commit().await?;
        Ok(cursor)
    }

    /// Feed entries after `cursor`, at most `limit`.
    pub async fn revocations_since(
        &self,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<RevocationRow>, StoreError> {
        let rows = sqlx::query("SELECT cursor, kind, value FROM revocations WHERE cursor > $1 ORDER BY cursor LIMIT $2")
            .bind(cursor)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RevocationRow {
                    cursor: r.try_get("cursor")?,
                    kind: r.try_get("kind")?,
                    value: r.try_get("value")?,
                })
            })
            .collect()
    }

    // ---- rate limits ----

    /// Counts one event in `bucket` for the window starting at `window_start`; the count
    /// so far, this one included. Shared by every replica; old windows are pruned.
    pub async fn count_event(&self, bucket: &str, window_start: i64) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO rate_counters (bucket, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_counters.count + 1 \
             RETURNING count",
        )
        .bind(bucket)
        .bind(window_start)
        .fetch_one(&self.pool)
        .await?;
        sqlx::query("DELETE FROM rate_counters WHERE bucket = $1 AND window_start < $2")
            .bind(bucket)
            .bind(window_start)
            .execute(&self.pool)
            .await?;
        Ok(row.try_get("count")?)
    }

    // ---- agents ----

    /// Stores a one-time agent-registration challenge for `public_key`.
    pub async fn put_agent_challenge(
        &self,
        nonce: &str,
        public_key: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO agent_challenges (nonce, public_key, expires_at, used) VALUES ($1, $2, $3, 0)")
            .bind(nonce)
            .bind(public_key)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Consumes an agent-registration challenge (first use of a live one only).
    pub async fn consume_agent_challenge(
        &self,
        nonce: &str,
        public_key: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE agent_challenges SET used = 1 WHERE nonce = $1 AND public_key = $2 AND used = 0 AND expires_at >= $3",
        )
        .bind(nonce)
        .bind(public_key)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Registers an agent and records it in the audit log, in one transaction; `false` if
    /// the key is already registered.
    pub async fn add_agent(&self, agent: &AgentRow, actor: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM agents WHERE public_key = $1")
            .bind(&agent.public_key)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if exists {
            return Ok(false);
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
        Self::append_audit(
            &mut tx,
            agent.created_at,
            "agent_registration",
            actor,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
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

impl Store {
    // ---- admin credentials ----

    /// Stores a new admin credential and its audit entry (`kind`) in one transaction; the
    /// entry's sequence number.
    pub async fn add_admin_credential(
        &self,
        row: &AdminCredentialRow,
        kind: &str,
        actor: &str,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        Self::insert_admin_credential(&mut tx, row).await?;
        let entry = Self::append_audit(&mut tx, row.created_at, kind, actor, detail).await?;
        tx.commit().await?;
        Ok(entry.seq)
    }

    async fn insert_admin_credential(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
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
    ) -> Result<Option<i64>, StoreError> {
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
        Self::append_audit(&mut tx, now, "admin_credential", actor, issued).await?;
        let entry =
            Self::append_audit(&mut tx, now, "admin_credential_revocation", actor, revoked).await?;
        tx.commit().await?;
        Ok(Some(entry.seq))
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
    /// the entry's sequence number, or `None` if there is no such credential. Revoking a
    /// revoked credential keeps its first revocation time.
    pub async fn revoke_admin_credential(
        &self,
        id: &str,
        now: i64,
        actor: &str,
        detail: &serde_json::Value,
    ) -> Result<Option<i64>, StoreError> {
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
        Ok(Some(entry.seq))
    }
}

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
