//! The in-process mint rate: `cargo bench -p warrant-issuer --bench mint`.
//!
//! One full mint, exactly as a client does it, through the router in-process
//! (`app(state).oneshot`, no socket): `POST /v1/challenges`, an Ed25519 signature of the
//! returned `sign` text by the human's device key, then `POST /v1/tokens` with that
//! verification and a one-rule grant. The issuer runs with its default configuration
//! (audit head signed every 100 entries, the system clock) on:
//!
//! - SQLite: a file in a fresh temporary directory (not `:memory:`, which has one
//!   connection and no file I/O);
//! - PostgreSQL, when `WARRANT_TEST_DATABASE_URL` names a server (for example
//!   `postgres://postgres@127.0.0.1:5432/postgres`): a fresh database
//!   `warrant_bench_<pid>_<n>` created there and dropped at the end.
//!
//! For each database: `serial` is one mint at a time (its inverse is the single-client
//! rate); `concurrent4` is 4 mints started together on the runtime, for comparison with
//! the load test's 4 connections (`scripts/loadtest.sh`); `challenge` is
//! `POST /v1/challenges` alone. Results: docs/performance.md, "Issuer mint throughput".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value as J};
use tower::ServiceExt;
use warrant_core::keys::SigningKey;
use warrant_issuer::{Config, State};

/// The environment variable naming a PostgreSQL server (as in the storage tests).
const PG_ENV: &str = "WARRANT_TEST_DATABASE_URL";

/// The README's role and human; the device key is filled in.
const CONFIG: &str = r#"
[[roles]]
name = "support"
max_ttl = "30m"
[roles.ceiling]
audience = ["support-api"]
allow = [ { resources = ["tickets/**"], actions = ["read"] } ]

[[humans]]
id = "alice"
roles = ["support"]
device_keys = ["DEVICE"]
"#;

fn grant() -> J {
    json!({ "audience": ["support-api"], "ttl": "10m",
            "allow": [{ "resources": ["tickets/123/email_address"], "actions": ["read"] }] })
}

/// An issuer on one database, and the device key enrolled for `alice`.
#[derive(Clone)]
struct Issuer {
    state: State,
    device: Arc<SigningKey>,
    public_key: String,
}

async fn post(state: &State, path: &str, body: &J) -> J {
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = warrant_issuer::app(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap()
}

impl Issuer {
    async fn open(database: &str) -> Self {
        let device = SigningKey::generate(&mut rand_core::OsRng, None);
        let public_key = device.public().to_string();
        let config = Config::from_toml(&CONFIG.replace("DEVICE", &public_key)).unwrap();
        let state = State::open(config, database, None).await.unwrap();
        Self {
            state,
            device: Arc::new(device),
            public_key,
        }
    }

    async fn challenge(&self) -> J {
        post(&self.state, "/v1/challenges", &json!({ "human": "alice" })).await
    }

    /// One full mint: challenge, device-key signature, mint. Returns the token.
    async fn mint(&self) -> String {
        let c = self.challenge().await;
        let sign = c["sign"].as_str().unwrap();
        let signature = hex::encode(self.device.sign(sign.as_bytes()));
        let body = json!({
            "human": "alice",
            "verification": {
                "method": "device-key",
                "public_key": self.public_key,
                "nonce": c["nonce"],
                "signature": signature,
            },
            "grant": grant(),
        });
        let minted = post(&self.state, "/v1/tokens", &body).await;
        minted["token"].as_str().unwrap().to_owned()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn bench_issuer(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, issuer: &Issuer) {
    // A first mint outside the timing: the pool's connections, the statement caches.
    let token = rt.block_on(issuer.mint());
    assert!(!token.is_empty());

    let mut g = c.benchmark_group(format!("mint/{name}"));
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));

    g.throughput(Throughput::Elements(1));
    g.bench_function("serial", |b| {
        b.iter(|| black_box(rt.block_on(issuer.mint())));
    });

    g.throughput(Throughput::Elements(4));
    g.bench_function("concurrent4", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..4)
                    .map(|_| {
                        let one = issuer.clone();
                        tokio::spawn(async move { one.mint().await })
                    })
                    .collect();
                for t in tasks {
                    black_box(t.await.unwrap());
                }
            });
        });
    });

    g.throughput(Throughput::Elements(1));
    g.bench_function("challenge", |b| {
        b.iter(|| black_box(rt.block_on(issuer.challenge())));
    });
    g.finish();
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("warrant.db").display());
    let issuer = rt.block_on(Issuer::open(&url));
    bench_issuer(c, &rt, "sqlite", &issuer);
    drop(issuer);
}

fn postgres(c: &mut Criterion) {
    let Ok(admin) = std::env::var(PG_ENV) else {
        eprintln!(
            "mint/postgres skipped: set {PG_ENV} (for example postgres://postgres@127.0.0.1:5432/postgres)"
        );
        return;
    };
    let rt = runtime();
    let name = format!(
        "warrant_bench_{}_{}",
        std::process::id(),
        rand_core::RngCore::next_u64(&mut rand_core::OsRng) % 1_000_000
    );
    // The name is ours: letters, digits and underscores only.
    rt.block_on(admin_sql(&admin, &format!("CREATE DATABASE {name}")));
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let issuer = rt.block_on(Issuer::open(&format!("{base}/{name}")));
    bench_issuer(c, &rt, "postgres", &issuer);
    // Closes the pool (the drop below forces out any connection still closing).
    drop(issuer);
    rt.block_on(admin_sql(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    ));
}

async fn admin_sql(admin: &str, sql: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("{PG_ENV}={admin}: cannot connect: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
