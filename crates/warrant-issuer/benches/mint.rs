//! The in-process mint rate: `cargo bench -p warrant-issuer --bench mint`.
//!
//! One full mint, exactly as a client does it, through the router in-process
//! (`app(state).oneshot`, no socket): `POST /v1/challenges`, an Ed25519 signature of the
//! returned `sign` text by the human's device key, then `POST /v1/tokens` with that
//! verification and a one-rule grant. The issuer runs with its default configuration
//! (audit head signed every 100 entries, the system clock) except for the per-human rate
//! limits, raised out of the way (the defaults answer 429 past 30 mints a minute; each
//! request still counts itself in the database); 16 humans, enrolled with the same device
//! key, mint in turn (as in the load test), so the rate counters are 16 rows, not one hot
//! row. It runs on:
//!
//! - SQLite: a file in a fresh temporary directory (not `:memory:`, which has one
//!   connection and no file I/O);
//! - PostgreSQL, when `WARRANT_TEST_DATABASE_URL` names a server (for example
//!   `postgres://postgres@127.0.0.1:5432/postgres`): a fresh database
//!   `warrant_bench_<pid>_<n>` created there and dropped at the end.
//!
//! For each database, one issuer, five measurements (time per mint; criterion's `thrpt`
//! line is the rate):
//!
//! - `full_serial`: one full mint at a time (challenge, signature, mint);
//! - `full_concurrent4`: full mints by 4 tasks in a closed loop (each starts its next mint
//!   when its last one answered), as 4 clients would;
//! - `tokens_serial` and `tokens_concurrent4`: `POST /v1/tokens` alone, the challenge and
//!   its signature made beforehand, untimed: exactly what the load test's wrk run sends
//!   (`scripts/loadtest.sh`, 4 connections);
//! - `challenge`: `POST /v1/challenges` alone.
//!
//! Results: docs/performance.md, "Issuer mint throughput".

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a bench whose setup fails stops, naming what failed"
)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Value as J};
use tower::ServiceExt;
use warrant_core::keys::SigningKey;
use warrant_issuer::{Config, State};

/// The environment variable naming a PostgreSQL server (as in the storage tests).
const PG_ENV: &str = "WARRANT_TEST_DATABASE_URL";

/// How many humans mint in turn: `human01`, `human02`, …
const HUMANS: usize = 16;

/// Rate limits out of the way; the README's role and the humans follow.
const LIMITS: &str = "
mints_per_minute = 1000000000
challenges_per_minute = 1000000000
challenges_per_minute_per_client = 1000000000
verifications_per_minute_per_client = 1000000000
max_live_challenges = 1000000000
";

fn grant() -> J {
    json!({ "audience": ["support-api"], "ttl": "10m",
            "allow": [{ "resources": ["tickets/123/email_address"], "actions": ["read"] }] })
}

/// An issuer on one database, and the device key enrolled for every human.
#[derive(Clone)]
struct Issuer {
    state: State,
    device: Arc<SigningKey>,
    public_key: String,
    /// The humans' ids.
    humans: Arc<Vec<String>>,
    /// Picks the next human.
    turn: Arc<AtomicU64>,
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
        let device = warrant_test::new_key();
        let public_key = device.public().to_string();
        let humans: Vec<String> = (1..=HUMANS).map(|i| format!("human{i:02}")).collect();
        let mut text = format!("{LIMITS}\n{}", warrant_test::config::SUPPORT_ROLE);
        for h in &humans {
            text.push_str(&format!(
                "\n[[humans]]\nid = \"{h}\"\nroles = [\"support\"]\ndevice_keys = [\"{public_key}\"]\n"
            ));
        }
        let config = Config::from_toml(&text).unwrap();
        let state = State::open(config, database, None).await.unwrap();
        Self {
            state,
            device: Arc::new(device),
            public_key,
            humans: Arc::new(humans),
            turn: Arc::new(AtomicU64::new(0)),
        }
    }

    fn next_human(&self) -> &str {
        let turn = usize::try_from(self.turn.fetch_add(1, Ordering::Relaxed)).unwrap();
        &self.humans[turn % self.humans.len()]
    }

    async fn challenge(&self) -> J {
        self.challenge_for(self.next_human()).await
    }

    async fn challenge_for(&self, human: &str) -> J {
        post(&self.state, "/v1/challenges", &json!({ "human": human })).await
    }

    /// A `POST /v1/tokens` body answering a fresh challenge (challenge, then signature).
    async fn prepare(&self) -> J {
        let human = self.next_human();
        let c = self.challenge_for(human).await;
        let sign = c["sign"].as_str().unwrap();
        let signature = hex::encode(self.device.sign(sign.as_bytes()));
        json!({
            "human": human,
            "verification": {
                "method": "device-key",
                "public_key": self.public_key,
                "nonce": c["nonce"],
                "signature": signature,
            },
            "grant": grant(),
        })
    }

    /// `POST /v1/tokens` with a prepared body. Returns the token.
    async fn send(&self, body: &J) -> String {
        let minted = post(&self.state, "/v1/tokens", body).await;
        minted["token"].as_str().unwrap().to_owned()
    }

    /// One full mint: challenge, device-key signature, mint. Returns the token.
    async fn mint(&self) -> String {
        let body = self.prepare().await;
        self.send(&body).await
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Tasks in the concurrent measurements (the load test's connections).
const TASKS: u64 = 4;

/// Runs `iters` jobs on `TASKS` tasks in a closed loop; the wall time of the whole.
/// `job(issuer, i)` is the i-th job.
async fn closed_loop<F, Fut>(issuer: &Issuer, iters: u64, job: F) -> Duration
where
    F: Fn(Issuer, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = String> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (one, next, job) = (issuer.clone(), Arc::clone(&next), job.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= iters {
                        break;
                    }
                    black_box(job(one.clone(), i).await);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn bench_issuer(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, issuer: &Issuer) {
    // A first mint outside the timing: the pool's connections, the statement caches.
    let token = rt.block_on(issuer.mint());
    assert!(!token.is_empty());

    let mut g = c.benchmark_group(format!("mint/{name}"));
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(1));

    g.bench_function("full_serial", |b| {
        b.iter(|| black_box(rt.block_on(issuer.mint())));
    });
    g.bench_function("full_concurrent4", |b| {
        b.iter_custom(|iters| {
            rt.block_on(closed_loop(issuer, iters, |one, _| async move {
                one.mint().await
            }))
        });
    });
    g.bench_function("tokens_serial", |b| {
        b.iter_batched(
            || rt.block_on(issuer.prepare()),
            |body| black_box(rt.block_on(issuer.send(&body))),
            BatchSize::SmallInput,
        );
    });
    g.bench_function("tokens_concurrent4", |b| {
        b.iter_custom(|iters| {
            let bodies = Arc::new(rt.block_on(prepare_many(issuer, iters)));
            rt.block_on(closed_loop(issuer, iters, move |one, i| {
                let bodies = Arc::clone(&bodies);
                async move {
                    let body = &bodies[usize::try_from(i).unwrap()];
                    one.send(body).await
                }
            }))
        });
    });
    g.bench_function("challenge", |b| {
        b.iter(|| black_box(rt.block_on(issuer.challenge())));
    });
    g.finish();
}

/// `n` prepared `POST /v1/tokens` bodies, made one after the other (untimed).
async fn prepare_many(issuer: &Issuer, n: u64) -> Vec<J> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(issuer.prepare().await);
    }
    out
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
