//! Two `warrant serve` replicas on one PostgreSQL database, under concurrent mints and
//! revocations: they share the signing key, one audit chain and one revocation feed.
//!
//! Needs `WARRANT_TEST_DATABASE_URL` naming a PostgreSQL server the `psql` client can create
//! databases on (e.g. `postgres://postgres@127.0.0.1:5432/postgres`); the test creates a
//! fresh database and drops it at the end. Without the variable the tests are reported as
//! ignored, or fail when `CI` is set (see build.rs).

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher as _, Hasher as _};
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value as J;

use crate::crash::{alice_config, http_get, mint, token_id, verify_allowed, Server};
use crate::support::{warrant, Run};

const ENV: &str = "WARRANT_TEST_DATABASE_URL";
const MINT_THREADS: usize = 2;
const MINTS_PER_THREAD: usize = 8;
const REVOCATIONS: usize = 6;

/// A database made for this test, dropped (`WITH (FORCE)`) on drop.
struct Database {
    psql: PathBuf,
    /// Where to connect to create and drop it.
    server: String,
    name: String,
    /// Its URL.
    url: String,
}

impl Database {
    fn create(server: &str) -> Self {
        let psql = ["/usr/bin/psql", "/usr/local/bin/psql"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("psql"));
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let name = format!("warrant_scale_{:016x}", random);
        let db = Self {
            psql,
            server: server.to_owned(),
            url: with_database(server, &name),
            name,
        };
        let out = db.sql(&format!("CREATE DATABASE {}", db.name));
        assert!(
            out.status.success(),
            "`psql` could not create database {} on {ENV}: {}",
            db.name,
            String::from_utf8_lossy(&out.stderr)
        );
        db
    }

    fn sql(&self, sql: &str) -> std::process::Output {
        Command::new(&self.psql)
            .arg(&self.server)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .unwrap_or_else(|e| panic!("{ENV} is set but `psql` does not run: {e}"))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let out = self.sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
        if !out.status.success() {
            eprintln!(
                "could not drop database {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `postgres://user@host:port/db?opts` with another database name.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    format!("{}/{name}{query}", &base[..path_start])
}

#[test]
fn database_urls_get_another_database_name() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
        "postgresql://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}

fn get_json(url: &str, bearer: Option<&str>) -> J {
    let (status, body) = http_get(url, bearer);
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

/// `ok: E entries, head S `H`, …` of `warrant audit verify` → (E, S, H).
fn audit_head(run: &Run) -> (String, String, String) {
    let line = run.stdout.trim();
    let entries = line
        .strip_prefix("ok: ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected output: {line}"));
    let head = line
        .split_once(", head ")
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no head in: {line}"));
    let (seq, rest) = head.split_once(' ').unwrap();
    let hash = rest.split('`').nth(1).unwrap();
    (entries.to_owned(), seq.to_owned(), hash.to_owned())
}

/// The server to make test databases on. Without it these tests are ignored (see
/// build.rs), unless `CI` is set: then they run, and fail here.
fn database_server() -> String {
    std::env::var(ENV).unwrap_or_else(|_| {
        panic!("the scale-out tests need {ENV}; CI is set, so they may not be skipped")
    })
}

/// Two replicas on a fresh database, started one after the other: the first creates the
/// signing key, the second loads it. Dropped in field order: replicas, files, database.
struct Cluster {
    replicas: [Server; 2],
    urls: [String; 2],
    /// `alice`'s device key.
    device: PathBuf,
    /// The first replica's `admin.token` file.
    admin: PathBuf,
    _dir: tempfile::TempDir,
    _db: Database,
}

impl Cluster {
    fn start(server_url: &str, config_top: &str) -> Self {
        let db = Database::create(server_url);
        let dir = tempfile::tempdir().unwrap();
        let (device, config) = alice_config(dir.path(), config_top);
        let start = |name: &str| {
            Server::start(
                &config,
                &dir.path().join(name),
                dir.path().join(format!("{name}.log")),
                &["--database", &db.url],
            )
        };
        let replicas = [start("a"), start("b")];
        let urls = [replicas[0].url.clone(), replicas[1].url.clone()];
        let admin = dir.path().join("a/admin.token");
        Self {
            replicas,
            urls,
            device,
            admin,
            _dir: dir,
            _db: db,
        }
    }

    fn admin(&self) -> &str {
        self.admin.to_str().unwrap()
    }

    /// Both replicas' logs, for failure messages.
    fn logs(&self) -> String {
        self.replicas
            .iter()
            .map(|r| format!("--- {}\n{}", r.url, r.log_text()))
            .collect()
    }

    fn key_set(&self, replica: usize) -> J {
        get_json(
            &format!("{}/.well-known/warrant-keys", self.urls[replica]),
            None,
        )
    }
}

/// Two replicas, concurrent mints and revocations at both; then both publish the same key,
/// verify and export the same audit chain (one `mint` entry per token, one `revocation`
/// entry per revocation, signed heads) and serve the same feed (cursors 1..=N); every
/// token verifies with either key set, and every revoked one is denied with either feed.
#[test]
#[cfg_attr(
    warrant_pg_tests_ignored,
    ignore = "needs WARRANT_TEST_DATABASE_URL (a PostgreSQL server)"
)]
fn two_replicas_on_one_postgres_database_share_keys_audit_chain_and_revocations() {
    let server_url = database_server();
    let started = Instant::now();
    let cluster = Cluster::start(&server_url, "audit_sign_every = 5");
    let urls = cluster.urls.clone();
    let (device, admin) = (cluster.device.clone(), cluster.admin.clone());
    let admin_token = std::fs::read_to_string(&admin).unwrap().trim().to_owned();

    let key_sets = [cluster.key_set(0), cluster.key_set(1)];
    assert_eq!(
        key_sets[0], key_sets[1],
        "the replicas publish the same key set"
    );
    assert_eq!(
        key_sets[0]["keys"].as_array().map(Vec::len),
        Some(1),
        "one signing key, made by the first replica: {}",
        key_sets[0]
    );

    // Concurrently: MINT_THREADS threads mint at alternating replicas; one thread revokes
    // (by token id, at alternating replicas, with the first replica's admin token) the
    // first REVOCATIONS tokens minted, as they come.
    let (tx, rx) = mpsc::channel::<String>();
    let minters: Vec<_> = (0..MINT_THREADS)
        .map(|t| {
            let (urls, device, tx) = (urls.clone(), device.clone(), tx.clone());
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for j in 0..MINTS_PER_THREAD {
                    let n = t * MINTS_PER_THREAD + j;
                    let run = mint(&urls[(t + j) % 2], &device, n);
                    if run.code == Some(0) {
                        let _ = tx.send(run.stdout.trim().to_owned());
                    }
                    out.push((n, run));
                }
                out
            })
        })
        .collect();
    drop(tx);
    let revoker = {
        let (urls, admin) = (urls.clone(), admin.clone());
        std::thread::spawn(move || {
            let mut out = Vec::new();
            for k in 0..REVOCATIONS {
                let Ok(token) = rx.recv_timeout(Duration::from_secs(30)) else {
                    break;
                };
                let id = token_id(&token);
                let run = warrant([
                    "revoke",
                    "--issuer",
                    &urls[k % 2],
                    "--admin-token",
                    admin.to_str().unwrap(),
                    "--token-id",
                    &id,
                ]);
                out.push((id, run));
            }
            out
        })
    };
    let minted: Vec<(usize, Run)> = minters
        .into_iter()
        .flat_map(|m| m.join().unwrap())
        .collect();
    let revoked = revoker.join().unwrap();
    let concurrent = started.elapsed();

    for (n, run) in &minted {
        assert_eq!(
            run.code,
            Some(0),
            "mint {n} failed: {run:?}\nserver logs:\n{}",
            cluster.logs()
        );
    }
    let tokens: Vec<(usize, String)> = minted
        .iter()
        .map(|(n, run)| (*n, run.stdout.trim().to_owned()))
        .collect();
    assert_eq!(tokens.len(), MINT_THREADS * MINTS_PER_THREAD);
    assert_eq!(revoked.len(), REVOCATIONS, "revocations made");
    let mut revoke_cursors = Vec::new();
    for (id, run) in &revoked {
        assert_eq!(
            run.code,
            Some(0),
            "revoking {id} failed: {run:?}\nserver logs:\n{}",
            cluster.logs()
        );
        let cursor = run
            .stdout
            .trim()
            .strip_prefix(&format!("revoked token_id `{id}` (feed cursor "))
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|c| c.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("unexpected output: {run:?}"));
        revoke_cursors.push(cursor);
    }
    revoke_cursors.sort_unstable();
    let expected_cursors: Vec<i64> = (1..=i64::try_from(REVOCATIONS).unwrap()).collect();
    assert_eq!(
        revoke_cursors, expected_cursors,
        "each revocation got its own cursor"
    );
    let revoked_ids: BTreeSet<String> = revoked.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(revoked_ids.len(), REVOCATIONS, "distinct tokens revoked");

    // One audit chain: it verifies at each replica, with the same head.
    let heads: Vec<(String, String, String)> = urls
        .iter()
        .map(|u| {
            let run = warrant([
                "audit",
                "verify",
                "--url",
                u,
                "--admin-token",
                cluster.admin(),
            ]);
            run.ok();
            audit_head(&run)
        })
        .collect();
    assert_eq!(heads[0], heads[1], "both replicas report the same head");

    let exports: Vec<Vec<J>> = urls
        .iter()
        .map(|u| {
            let (status, body) = http_get(&format!("{u}/v1/audit"), Some(&admin_token));
            assert_eq!(status, 200, "{body}");
            body.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        exports[0], exports[1],
        "both replicas export the same chain"
    );
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    let mut audited_mints = BTreeSet::new();
    for e in &exports[0] {
        let kind = e["kind"].as_str().unwrap();
        *kinds.entry(kind).or_default() += 1;
        if kind == "mint" {
            let detail: J = serde_json::from_str(e["detail"].as_str().unwrap()).unwrap();
            audited_mints.insert(detail["token_id"].as_str().unwrap().to_owned());
        }
    }
    let ids: HashMap<String, (usize, &str)> = tokens
        .iter()
        .map(|(n, t)| (token_id(t), (*n, t.as_str())))
        .collect();
    let minted_ids: BTreeSet<String> = ids.keys().cloned().collect();
    assert_eq!(audited_mints, minted_ids, "one `mint` entry per token");
    assert_eq!(kinds.get("revocation"), Some(&REVOCATIONS), "{kinds:?}");
    assert!(
        kinds.get("head_signature").copied().unwrap_or(0) > 0,
        "the head was signed: {kinds:?}"
    );
    assert_eq!(
        heads[0].1,
        exports[0].last().unwrap()["seq"].to_string(),
        "the head is the last entry exported"
    );

    // One revocation feed: every revocation, cursors 1..=N, the same at both replicas.
    let feeds: Vec<J> = urls
        .iter()
        .map(|u| get_json(&format!("{u}/v1/revocations?since=0"), None))
        .collect();
    assert_eq!(feeds[0], feeds[1], "both replicas serve the same feed");
    let entries = feeds[0]["entries"].as_array().unwrap();
    let cursors: Vec<i64> = entries
        .iter()
        .map(|e| e["cursor"].as_i64().unwrap())
        .collect();
    assert_eq!(
        cursors, expected_cursors,
        "contiguous cursors: {}",
        feeds[0]
    );
    assert_eq!(feeds[0]["next_cursor"], expected_cursors.len());
    let fed: BTreeSet<String> = entries
        .iter()
        .map(|e| {
            assert_eq!(e["kind"], "token_id", "{e}");
            e["value"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(fed, revoked_ids, "the feed holds every revocation");
    // A revoked token is denied with either replica's feed.
    for (k, id) in revoked_ids.iter().enumerate() {
        let (n, token) = ids[id];
        let u = &urls[k % 2];
        let keys = format!("{u}/.well-known/warrant-keys");
        let feed = format!("{u}/v1/revocations");
        let resource = format!("tickets/{n}/email_address");
        warrant([
            "verify",
            "--token",
            token,
            "--keys",
            &keys,
            "--revocations",
            &feed,
            "--allow-bearer",
            "--audience",
            "support-api",
            "--resource",
            &resource,
            "--action",
            "read",
        ])
        .denied()
        .stdout_has(&format!("the token `{id}` is revoked"));
    }

    // Every token verifies against each replica's key set.
    for u in &urls {
        let keys = format!("{u}/.well-known/warrant-keys");
        for (n, token) in &tokens {
            verify_allowed(token, &keys, *n);
        }
    }
    eprintln!(
        "scale: {} mints and {} revocations over 2 replicas in {concurrent:.1?}, audit head \
         {} ({} entries), {:.1?} in all",
        tokens.len(),
        revoked.len(),
        heads[0].1,
        heads[0].0,
        started.elapsed()
    );
    drop(cluster);
}

/// Known to fail: a rotation at one replica is not seen by the other, which keeps
/// publishing (and signing with) the old key set until it restarts.
#[test]
#[cfg_attr(
    warrant_pg_tests_ignored,
    ignore = "needs WARRANT_TEST_DATABASE_URL (a PostgreSQL server)"
)]
fn a_key_rotated_at_one_replica_is_published_and_used_by_the_other() {
    let server_url = database_server();
    let cluster = Cluster::start(&server_url, "");
    let [a, b] = &cluster.urls;
    // A live token of the first key keeps it published after the rotation (admin
    // credentials are not signed by it and keep nothing published).
    mint(a, &cluster.device, 0).ok();
    warrant([
        "keys",
        "rotate",
        "--issuer",
        a,
        "--admin-token",
        cluster.admin(),
    ])
    .ok();
    let at_a = cluster.key_set(0);
    assert_eq!(
        at_a["keys"].as_array().map(Vec::len),
        Some(2),
        "the new key and the old one: {at_a}"
    );
    // However a replica learns of the rotation, 10 s is long enough.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut at_b = cluster.key_set(1);
    while at_b != at_a && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        at_b = cluster.key_set(1);
    }
    assert_eq!(
        at_b, at_a,
        "10 s after a rotation at replica A, replica B publishes another key set"
    );
    let token = mint(a, &cluster.device, 1);
    token.ok();
    verify_allowed(
        token.stdout.trim(),
        &format!("{b}/.well-known/warrant-keys"),
        1,
    );
    let token = mint(b, &cluster.device, 2);
    token.ok();
    let inspected = warrant(["inspect", "--token", token.stdout.trim(), "--json"]);
    inspected.ok();
    assert_eq!(
        inspected.json()["root_key_id"],
        2,
        "replica B signs with the new active key\n{}",
        cluster.logs()
    );
}
