//! The connection: which database, opening it with errors a person can act on, the schema.

use std::str::FromStr;

use sqlx::any::{install_default_drivers, AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;

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
    /// SQLite kept another journal mode than WAL (a file system without the shared memory
    /// WAL needs, or a read-only file).
    #[error("cannot switch the SQLite database `{at}` to WAL journal mode (it stays in `{mode}` mode): put it on a local file system the issuer can write, or use PostgreSQL")]
    NoWal {
        /// The SQLite file.
        at: String,
        /// The journal mode SQLite reported.
        mode: String,
    },
}

impl From<StoreError> for crate::error::ApiError {
    /// A 500: storage errors are logged, never sent.
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// The issuer's database: two pools on it. `pool` commits durably (every write but
/// those below); `ephemeral` commits without waiting for the disk, for the writes a crash
/// may lose because losing them is harmless: challenges issued and the counts of asking
/// for them ([`Store::begin_ephemeral`]).
#[derive(Debug, Clone)]
pub struct Store {
    pub(super) pool: AnyPool,
    ephemeral: AnyPool,
    backend: Backend,
}

/// A transaction, for appends that must commit together.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A boolean as stored: a 0/1 `BIGINT`.
pub(super) fn b(v: bool) -> i64 {
    i64::from(v)
}

/// The journal mode the issuer sets on a SQLite file: write-ahead logging. A commit then
/// appends to the `-wal` file and, with `synchronous = FULL` (set on the durable pool's
/// connections by [`SQLITE_CONNECTION_PRAGMAS`]), syncs it once, or not at all with
/// `NORMAL` (the ephemeral pool's, [`SQLITE_EPHEMERAL_PRAGMAS`]); readers do not wait for
/// the writer. The mode is stored in the file: every later connection, and the `sqlite3`
/// shell, use it.
pub const SQLITE_JOURNAL_MODE: &str = "wal";

/// Set on every connection of the durable SQLite pool. `synchronous = FULL`: each commit
/// is on disk when it returns (one fsync of the WAL), so neither a process crash nor a
/// power loss loses a committed mint or revocation (docs/issuer.md, "Durability"). `NORMAL`
/// would sync only at checkpoints: a power loss could then lose tokens already handed out
/// together with their audit entries, and revocations already acknowledged.
const SQLITE_CONNECTION_PRAGMAS: &str = "PRAGMA synchronous = FULL";

/// Set on every connection of the ephemeral SQLite pool: `synchronous = NORMAL`, a commit
/// appends to the WAL without syncing it. A process crash loses nothing (the operating
/// system has the pages); a power loss may lose the last such commits. Never more than
/// those: the WAL is one sequence, replayed up to its first incomplete frame, and the next
/// durable commit syncs the whole file, so once a mint that consumed a challenge is
/// committed, the challenge's creation is on disk too.
const SQLITE_EPHEMERAL_PRAGMAS: &str = "PRAGMA synchronous = NORMAL";

/// Set on every connection of the ephemeral PostgreSQL pool: a commit does not wait for
/// the server's WAL flush (a server crash may lose the last such commits, never a later
/// synchronous commit, whose flush covers everything before it in the WAL).
const POSTGRES_EPHEMERAL_SETTINGS: &str = "SET synchronous_commit = off";

/// The connections of the ephemeral pool (the durable one has 8): its transactions are a
/// few statements each.
pub const EPHEMERAL_CONNECTIONS: u32 = 4;

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

/// Puts the SQLite file in WAL journal mode (a no-op when it is already), before any other
/// connection is open; an error if SQLite keeps another mode.
async fn wal(url: &str, options: &AnyConnectOptions) -> Result<(), StoreError> {
    use sqlx::{AnyConnection, Connection as _, Row as _};
    let mut conn = AnyConnection::connect_with(options).await?;
    let mode: String = sqlx::query("PRAGMA journal_mode = WAL")
        .fetch_one(&mut conn)
        .await?
        .try_get(0)?;
    let _ = conn.close().await;
    if !mode.eq_ignore_ascii_case(SQLITE_JOURNAL_MODE) {
        return Err(StoreError::NoWal {
            at: url.split('?').next().unwrap_or(url).to_owned(),
            mode,
        });
    }
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
        let memory = url.contains(":memory:");
        if backend == Backend::Sqlite && !memory {
            wal(&url, &options).await?;
        }
        // SQLite in memory lives in one connection; a file or a server can have several.
        let max = if memory { 1 } else { 8 };
        let mut pool = AnyPoolOptions::new().max_connections(max);
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query(SQLITE_CONNECTION_PRAGMAS).execute(conn).await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options.clone()).await?;
        let ephemeral = if memory {
            // One connection, one database: the ephemeral writes share it.
            pool.clone()
        } else {
            let settings = match backend {
                Backend::Sqlite => SQLITE_EPHEMERAL_PRAGMAS,
                Backend::Postgres => POSTGRES_EPHEMERAL_SETTINGS,
            };
            AnyPoolOptions::new()
                .max_connections(EPHEMERAL_CONNECTIONS)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        sqlx::query(settings).execute(conn).await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await?
        };
        let store = Self {
            pool,
            ephemeral,
            backend,
        };
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

    /// Starts a transaction whose commit is durable: on disk (SQLite `synchronous =
    /// FULL`; PostgreSQL with the server's `synchronous_commit`) when it returns.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Starts a transaction on the ephemeral pool, whose commit does not wait for the disk
    /// (SQLite `synchronous = NORMAL`, PostgreSQL `synchronous_commit = off`): a process
    /// crash loses none of it, a power loss (or a crash of the PostgreSQL server) may lose
    /// it, with every later ephemeral commit and nothing else. Only for writes whose loss is
    /// harmless: a challenge issued but not yet answered (the client asks for another) and
    /// the counts of asking for one. A challenge's consumption is the mint's, durable.
    pub async fn begin_ephemeral(&self) -> Result<Tx, StoreError> {
        Ok(self.ephemeral.begin().await?)
    }
}
