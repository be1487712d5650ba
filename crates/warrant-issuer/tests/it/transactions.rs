//! What a request writes, and how (issue 11): a SQLite database in WAL mode, one
//! transaction per challenge and per mint, nothing left behind by a mint that fails.

use axum::http::StatusCode;
use serde_json::{json, Value as J};
use sqlx::Connection as _;
use sqlx::Row as _;

use crate::both;
use crate::env::{Db, Env, CONFIG};

fn grant() -> J {
    json!({ "audience": ["support-api"], "ttl": "5m",
            "allow": [{ "resources": ["tickets/1/email_address"], "actions": ["read"] }] })
}

async fn connect(env: &Env) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&env.database).await.unwrap()
}

async fn count(db: &mut sqlx::AnyConnection, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(db)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// The kinds of the audit entries a request made (not those of reading the log: each
/// export mints an admin credential; nor head signatures).
async fn request_entries(env: &Env) -> Vec<String> {
    env.audit()
        .await
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k != "admin_credential" && k != warrant_issuer::audit::HEAD_SIGNATURE)
        .collect()
}

/// The SQLite file behind `env`.
fn sqlite_file(env: &Env) -> std::path::PathBuf {
    env.database.strip_prefix("sqlite://").unwrap().into()
}

/// The commits in a WAL file written since it was last truncated: frames whose header
/// carries the database size after the commit (non-zero only for a transaction's last
/// frame) and the salts of the file's header. <https://www.sqlite.org/fileformat.html#the_write_ahead_log>
fn wal_commits(wal: &std::path::Path) -> usize {
    let bytes = std::fs::read(wal).unwrap_or_default();
    if bytes.len() < 32 {
        return 0;
    }
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    let page = usize::try_from(be(8)).unwrap();
    let (salt1, salt2) = (be(16), be(20));
    let mut commits = 0;
    let mut at = 32;
    while at + 24 + page <= bytes.len() {
        if be(at + 8) != salt1 || be(at + 12) != salt2 {
            break;
        }
        if be(at + 4) != 0 {
            commits += 1;
        }
        at += 24 + page;
    }
    commits
}

/// Empties the WAL (everything in it copied into the database), so that what follows is
/// all that is in it.
async fn truncate_wal(db: &mut sqlx::AnyConnection) {
    let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(
        row.try_get::<i64, _>(0).unwrap(),
        0,
        "the checkpoint was blocked"
    );
}

#[tokio::test]
async fn a_sqlite_database_is_opened_in_wal_mode_even_one_made_with_a_rollback_journal() {
    let env = Env::new(Db::Sqlite).await.unwrap();
    let mut db = connect(&env).await;
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut db)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(mode, warrant_issuer::store::SQLITE_JOURNAL_MODE);
    assert!(sqlite_file(&env).with_extension("db-wal").exists());

    // A file an older issuer made (rollback journal) is switched when opened.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let mut old = sqlx::AnyConnection::connect(&url).await.unwrap();
    let before: String = sqlx::query("PRAGMA journal_mode = DELETE")
        .fetch_one(&mut old)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(before, "delete");
    old.close().await.unwrap();
    warrant_issuer::store::Store::connect(&url).await.unwrap();
    let mut old = sqlx::AnyConnection::connect(&url).await.unwrap();
    let after: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut old)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(after, "wal");
}

#[tokio::test]
async fn a_challenge_and_a_mint_each_commit_one_transaction() {
    // Head signatures (a transaction of their own) out of the way.
    let config = CONFIG.replace("audit_sign_every = 5", "audit_sign_every = 1000");
    let env = Env::with_config(Db::Sqlite, &config, None).await.unwrap();
    let wal = sqlite_file(&env).with_extension("db-wal");
    let mut db = connect(&env).await;
    for n in 0..3 {
        truncate_wal(&mut db).await;
        let verification = env.answer("alice", &env.device).await;
        assert_eq!(wal_commits(&wal), 1, "challenge {n}");
        truncate_wal(&mut db).await;
        let body = json!({ "human": "alice", "verification": verification, "grant": grant() });
        let (status, minted) = env.call("POST", "/v1/tokens", None, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{minted}");
        assert_eq!(wal_commits(&wal), 1, "mint {n}");
    }
    // A refusal is one transaction too: the counts, the verification and the refusal.
    truncate_wal(&mut db).await;
    let verification = env.answer("alice", &env.device).await;
    truncate_wal(&mut db).await;
    let wide = json!({ "audience": ["support-api"], "allow": [{ "resources": ["orders/1"], "actions": ["delete"] }] });
    let body = json!({ "human": "alice", "verification": verification, "grant": wide });
    let (status, _) = env.call("POST", "/v1/tokens", None, Some(body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(wal_commits(&wal), 1);
    let kinds = request_entries(&env).await;
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["verification".to_owned(), "refusal".to_owned()]
    );
}

/// Makes every insert into `tokens` fail (a stand-in for a storage failure half-way
/// through a mint), or stops doing so.
async fn break_tokens(db: &mut sqlx::AnyConnection, postgres: bool, broken: bool) {
    let statements: &[&'static str] = match (postgres, broken) {
        (false, true) => &["CREATE TRIGGER fail_tokens BEFORE INSERT ON tokens BEGIN SELECT RAISE(ABORT, 'injected failure'); END"],
        (false, false) => &["DROP TRIGGER fail_tokens"],
        (true, true) => &[
            "CREATE FUNCTION fail_tokens() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_tokens BEFORE INSERT ON tokens FOR EACH ROW EXECUTE FUNCTION fail_tokens()",
        ],
        (true, false) => &["DROP TRIGGER fail_tokens ON tokens"],
    };
    for sql in statements {
        sqlx::query(*sql).execute(&mut *db).await.unwrap();
    }
}

both!(
    a_mint_that_fails_half_way_leaves_nothing_behind,
    |env: Env| async move {
        let postgres = env.database.starts_with("postgres");
        let mut db = connect(&env).await;
        let verification = env.answer("alice", &env.device).await;
        let audited = request_entries(&env).await.len();
        let body = json!({ "human": "alice", "verification": verification, "grant": grant() });
        break_tokens(&mut db, postgres, true).await;
        let (status, _) = env
            .call("POST", "/v1/tokens", None, Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        // Nothing of it stayed: no count, no consumed challenge, no audit entry, no token.
        let counters = "SELECT COUNT(*) FROM rate_counters WHERE bucket LIKE 'mint:%' OR bucket LIKE 'verification-client:%'";
        assert_eq!(count(&mut db, counters).await, 0);
        assert_eq!(
            count(&mut db, "SELECT COUNT(*) FROM challenges WHERE used = 1").await,
            0
        );
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM tokens").await, 0);
        let entries = request_entries(&env).await;
        assert_eq!(entries.len(), audited, "{entries:?}");
        // So the same request succeeds once the storage works again.
        break_tokens(&mut db, postgres, false).await;
        let (status, minted) = env.call("POST", "/v1/tokens", None, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{minted}");
        assert_eq!(count(&mut db, counters).await, 2);
        assert_eq!(count(&mut db, "SELECT COUNT(*) FROM tokens").await, 1);
        assert_eq!(
            request_entries(&env).await[audited..],
            ["verification", "mint"]
        );
    }
);

both!(
    a_verification_that_fails_is_counted_and_its_challenge_stays_used,
    |env: Env| async move {
        let mut db = connect(&env).await;
        let verification = env.answer("alice", &env.device).await;
        let body = json!({ "human": "alice", "verification": verification, "grant": grant() });
        let (status, _) = env
            .call("POST", "/v1/tokens", None, Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::OK);
        // The replay: a 401, whose attempt is counted (the transaction commits on it).
        let (status, _) = env.call("POST", "/v1/tokens", None, Some(body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let attempts = "SELECT count FROM rate_counters WHERE bucket LIKE 'verification-client:%'";
        assert_eq!(count(&mut db, attempts).await, 2);
        let mints = "SELECT count FROM rate_counters WHERE bucket LIKE 'mint:%'";
        assert_eq!(count(&mut db, mints).await, 1);
    }
);

/// How a pool's connections commit, read on `n` of them at once (each held by an open
/// transaction, so that every one is a connection of its own): SQLite's `synchronous` (2
/// FULL, 1 NORMAL), PostgreSQL's `synchronous_commit`.
async fn commit_settings(env: &Env, ephemeral: bool, n: u32) -> Vec<String> {
    let store = &env.state.store;
    let postgres = env.database.starts_with("postgres");
    let sql = if postgres {
        "SELECT current_setting('synchronous_commit')"
    } else {
        "SELECT CAST(synchronous AS TEXT) FROM pragma_synchronous"
    };
    let mut held = Vec::new();
    let mut settings = Vec::new();
    for _ in 0..n {
        let mut tx = if ephemeral {
            store.begin_ephemeral().await.unwrap()
        } else {
            store.begin().await.unwrap()
        };
        let row = sqlx::query(sql).fetch_one(&mut *tx).await.unwrap();
        settings.push(row.try_get::<String, _>(0).unwrap());
        held.push(tx);
    }
    settings
}

both!(
    mints_commit_durably_and_challenges_on_a_pool_that_does_not_wait_for_the_disk,
    |env: Env| async move {
        let postgres = env.database.starts_with("postgres");
        let (durable, ephemeral) = if postgres { ("on", "off") } else { ("2", "1") };
        // Every connection the durable pool may open (8), and every one of the other.
        assert_eq!(commit_settings(&env, false, 8).await, vec![durable; 8]);
        let n = warrant_issuer::store::EPHEMERAL_CONNECTIONS;
        let len = usize::try_from(n).unwrap();
        assert_eq!(commit_settings(&env, true, n).await, vec![ephemeral; len]);
    }
);

both!(
    challenges_are_written_on_the_ephemeral_pool_and_mints_on_the_durable_one,
    |env: Env| async move {
        use std::time::Duration;
        let verification = env.answer("alice", &env.device).await;
        // Every connection of the ephemeral pool taken: a challenge waits for one...
        let store = &env.state.store;
        let mut held = Vec::new();
        for _ in 0..warrant_issuer::store::EPHEMERAL_CONNECTIONS {
            held.push(store.begin_ephemeral().await.unwrap());
        }
        let wait = Duration::from_millis(500);
        let human = json!({ "human": "alice" });
        let challenge = env.call("POST", "/v1/challenges", None, Some(human.clone()));
        assert!(tokio::time::timeout(wait, challenge).await.is_err());
        let key = warrant_test::new_key().public().to_string();
        let agent = json!({ "public_key": key });
        let path = "/v1/agents/challenges";
        let challenge = env.call("POST", path, None, Some(agent.clone()));
        assert!(tokio::time::timeout(wait, challenge).await.is_err());
        // ... and a mint does not: it commits on the durable pool.
        let body = json!({ "human": "alice", "verification": verification, "grant": grant() });
        let mint = env.call("POST", "/v1/tokens", None, Some(body));
        let (status, minted) = tokio::time::timeout(wait * 20, mint).await.unwrap();
        assert_eq!(status, StatusCode::OK, "{minted}");
        drop(held);
        let (status, _) = env.call("POST", "/v1/challenges", None, Some(human)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = env.call("POST", path, None, Some(agent)).await;
        assert_eq!(status, StatusCode::OK);
    }
);
