//! A fresh issuer per test, on either database.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value as J};
use tower::ServiceExt;
use warrant_core::keys::SigningKey;
use warrant_core::time::Timestamp;
use warrant_issuer::{challenge_message, Clock, Config, State};

/// The environment variable naming a PostgreSQL server for the storage tests, for example
/// `postgres://postgres@127.0.0.1:5432/postgres`. Each test creates its own database there.
pub(crate) const PG_ENV: &str = "WARRANT_TEST_DATABASE_URL";

#[derive(Debug, Clone, Copy)]
pub(crate) enum Db {
    Sqlite,
    Postgres,
}

pub(crate) struct Env {
    pub state: State,
    /// The PostgreSQL database to drop afterwards: (admin URL, name).
    drop_db: Option<(String, String)>,
    pub device: SigningKey,
    pub now: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
    pub database: String,
}

pub(crate) const CONFIG: &str = r#"
audit_sign_every = 5

[[roles]]
name = "support"
max_ttl = "30m"
[roles.ceiling]
audience = ["support-api"]
allow = [
  { resources = ["tickets/*/**"], actions = ["read"] },
  { resources = ["orders/*"], actions = ["refund"], when = [ { attr = "amount", lt = 10000 } ] },
]
deny = [ { resources = ["customers/*/payment_card"], actions = ["*"] } ]

[[roles]]
name = "nobody"
[roles.ceiling]
allow = [ { resources = ["nothing"], actions = ["read"] } ]

[[humans]]
id = "alice"
display_name = "Alice"
roles = ["support"]
device_keys = ["DEVICE"]
attrs = { kyc_complete = true }

[[humans]]
id = "bob"
roles = ["support", "nobody"]
device_keys = ["DEVICE"]
"#;

/// A fresh database URL.
async fn database(db: Db, dir: &std::path::Path) -> Option<String> {
    match db {
        Db::Sqlite => Some(format!("sqlite://{}", dir.join("warrant.db").display())),
        Db::Postgres => {
            // Without the variable these tests are ignored (see build.rs), unless CI is set:
            // then they run, and fail here.
            let admin = std::env::var(PG_ENV).unwrap_or_else(|_| {
                panic!(
                    "the PostgreSQL tests need {PG_ENV} (for example \
                     postgres://postgres@127.0.0.1:5432/postgres); CI is set, so they may not be skipped"
                )
            });
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("{PG_ENV}={admin}: cannot connect: {e}"));
            static N: AtomicU64 = AtomicU64::new(0);
            let name = format!(
                "warrant_test_{}_{}_{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed),
                rand_suffix()
            );
            // The name is ours: digits and underscores only.
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_owned();
            Some(format!("{base}/{name}"))
        }
    }
}

fn rand_suffix() -> u64 {
    use rand_core::RngCore;
    rand_core::OsRng.next_u64() % 1_000_000
}

impl Env {
    /// A fresh issuer. Always `Some`: a PostgreSQL test without `WARRANT_TEST_DATABASE_URL`
    /// is ignored (see build.rs) or, with `CI` set, fails here.
    pub(crate) async fn new(db: Db) -> Option<Self> {
        Self::with_config(db, CONFIG, None).await
    }

    pub(crate) async fn with_config(
        db: Db,
        config: &str,
        kek: Option<warrant_issuer::keyring::Kek>,
    ) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let database = database(db, dir.path()).await?;
        let device = warrant_test::new_key();
        let config =
            Config::from_toml(&config.replace("DEVICE", &device.public().to_string())).unwrap();
        let drop_db = match db {
            Db::Postgres => std::env::var(PG_ENV)
                .ok()
                .zip(database.rsplit_once('/').map(|(_, n)| n.to_owned())),
            Db::Sqlite => None,
        };
        let mut state = State::open(config, &database, kek).await.unwrap();
        let now = Arc::new(AtomicU64::new(warrant_test::NOW.unix()));
        let clock = Arc::clone(&now);
        state.clock = Clock(Arc::new(move || {
            Timestamp::from_unix(clock.load(Ordering::Relaxed))
        }));
        Some(Self {
            state,
            drop_db,
            device,
            now,
            _dir: dir,
            database,
        })
    }

    pub(crate) fn at(&self) -> Timestamp {
        Timestamp::from_unix(self.now.load(Ordering::Relaxed))
    }

    pub(crate) fn advance(&self, seconds: u64) {
        self.now.fetch_add(seconds, Ordering::Relaxed);
    }

    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<J>,
    ) -> (StatusCode, J) {
        let (status, text) = self
            .call_raw(method, path, auth, body.map(|b| b.to_string()))
            .await;
        let json = serde_json::from_str(&text).unwrap_or(J::String(text));
        (status, json)
    }

    pub(crate) async fn call_raw(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, String) {
        let (status, _, text) = self.call_from(None, method, path, auth, body).await;
        (status, text)
    }

    /// A call from the client at `peer` (the connection's address), with the response
    /// headers.
    pub(crate) async fn call_from(
        &self,
        peer: Option<&str>,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(p) = peer {
            let addr: std::net::SocketAddr = p.parse().unwrap();
            req = req.extension(axum::extract::ConnectInfo(addr));
        }
        if let Some(t) = auth {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.send(req).await
    }

    /// Sends `req` through `app(state)`: the status, the headers and the body as text.
    pub(crate) async fn send(
        &self,
        req: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let res = warrant_issuer::app(self.state.clone())
            .oneshot(req)
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24)
            .await
            .unwrap();
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// A fresh challenge for `human`, signed by `key`.
    pub(crate) async fn answer(&self, human: &str, key: &SigningKey) -> J {
        let (status, c) = self
            .call(
                "POST",
                "/v1/challenges",
                None,
                Some(json!({ "human": human })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{c}");
        let nonce = c["nonce"].as_str().unwrap().to_owned();
        let sig = key.sign(challenge_message(&nonce).as_bytes());
        json!({ "method": "device-key", "public_key": key.public().to_string(), "nonce": nonce, "signature": hex::encode(sig) })
    }

    pub(crate) async fn mint(&self, human: &str, grant: J, extra: J) -> (StatusCode, J) {
        let verification = self.answer(human, &self.device).await;
        let mut body = json!({ "human": human, "verification": verification, "grant": grant });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.call("POST", "/v1/tokens", None, Some(body)).await
    }

    pub(crate) async fn admin_token(&self) -> String {
        self.state.mint_admin_token().await.unwrap()
    }

    pub(crate) async fn audit(&self) -> Vec<warrant_issuer::audit::AuditRow> {
        let token = self.admin_token().await;
        let (status, text) = self.call_raw("GET", "/v1/audit", Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        warrant_issuer::audit::parse_export(&text).unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Each PostgreSQL test gets its own database: drop it, from a thread of its own
        // (this may run inside the test's runtime).
        if let Some((admin, name)) = self.drop_db.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        use sqlx::Connection as _;
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                                .execute(&mut conn)
                                .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// Runs a test body on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            #![allow(
                unused_imports,
                reason = "some bodies use nothing of the test's module"
            )]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                if let Some(env) = $crate::env::Env::new($crate::env::Db::Sqlite).await {
                    ($body)(env).await;
                }
            }

            #[tokio::test]
            #[cfg_attr(
                warrant_pg_tests_ignored,
                ignore = "needs WARRANT_TEST_DATABASE_URL (a PostgreSQL server)"
            )]
            async fn postgres() {
                if let Some(env) = $crate::env::Env::new($crate::env::Db::Postgres).await {
                    ($body)(env).await;
                }
            }
        }
    };
}
