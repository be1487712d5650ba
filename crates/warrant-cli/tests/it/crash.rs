//! `warrant serve` (SQLite) killed with SIGKILL in the middle of a burst of mints, then
//! restarted on the same data directory: the audit chain still verifies, and every token a
//! client received has its `mint` entry in the audit log ("the token leaves only after its
//! audit entry is committed").

use std::collections::BTreeSet;
use std::hash::{BuildHasher as _, Hasher as _};
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as J;

use crate::support::{warrant, Run, BIN};

/// Minting threads, and mint attempts by each (at most, and for at most 40 s).
const THREADS: usize = 2;
const ATTEMPTS_PER_THREAD: usize = 15;
/// Successful mints before the kill.
const KILL_AFTER: usize = 10;

// ---- helpers, shared with scale.rs ----

/// A `warrant serve` child, killed (SIGKILL) and reaped on drop.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `warrant serve --config CONFIG --listen 127.0.0.1:0 --data-dir DATA EXTRA…`,
    /// waiting (at most 30 s) for `warrant issuer listening on <url>`. Its stdout is
    /// drained by a thread until it exits; its stderr is appended to `log`.
    pub(crate) fn start(config: &Path, data: &Path, log: PathBuf, extra: &[&str]) -> Self {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(extra)
            .env("RUST_LOG", "warn")
            .env_remove("WARRANT_KEK")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading to the end, so the server never writes into a closed pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(u) = line.strip_prefix("warrant issuer listening on ") {
                    let _ = tx.send(u.trim().to_owned());
                }
            }
        });
        let mut server = Self {
            child,
            url: String::new(),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => server.url = url,
            Err(e) => panic!(
                "the server did not print its URL ({e}); its log:\n{}",
                server.log_text()
            ),
        }
        server
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Writes `DIR/alice-device.key` (`warrant keygen`) and `DIR/warrant.toml`: `top` lines,
/// then the README's role `support` (read `tickets/**`, audience `support-api`) and human
/// `alice` with that device key. Returns both paths.
pub(crate) fn alice_config(dir: &Path, top: &str) -> (PathBuf, PathBuf) {
    let device = dir.join("alice-device.key");
    let keygen = warrant([
        std::ffi::OsStr::new("keygen"),
        std::ffi::OsStr::new("--out"),
        device.as_os_str(),
    ]);
    keygen.ok();
    let device_pub = keygen.stdout.trim();
    let config = dir.join("warrant.toml");
    std::fs::write(
        &config,
        format!("{top}\n\n{}", warrant_test::config::readme(device_pub)),
    )
    .unwrap();
    (device, config)
}

/// `GET url` over a plain HTTP/1.1 connection on loopback: the status and the body.
pub(crate) fn http_get(url: &str, bearer: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(15))).unwrap();
    let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).expect("a UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    (
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    )
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// The `token_id` of a token, from `warrant inspect --json`.
pub(crate) fn token_id(token: &str) -> String {
    let run = warrant(["inspect", "--token", token, "--json"]);
    run.ok();
    let report = run.json();
    report["token_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no token_id in {report:#}"))
        .to_owned()
}

/// `warrant mint --issuer URL` for alice: `read` on `tickets/N/email_address`, 10 minutes.
pub(crate) fn mint(url: &str, device: &Path, n: usize) -> Run {
    warrant([
        "mint",
        "--issuer",
        url,
        "--human",
        "alice",
        "--device-key",
        device.to_str().unwrap(),
        "--audience",
        "support-api",
        "--ttl",
        "10m",
        "--allow",
        &format!("read:tickets/{n}/email_address"),
    ])
}

/// `warrant verify --keys KEYS --allow-bearer` of a token from [`mint`], asserting
/// `allowed`.
#[track_caller]
pub(crate) fn verify_allowed(token: &str, keys: &str, n: usize) {
    let resource = format!("tickets/{n}/email_address");
    warrant([
        "verify",
        "--token",
        token,
        "--keys",
        keys,
        "--allow-bearer",
        "--audience",
        "support-api",
        "--resource",
        &resource,
        "--action",
        "read",
    ])
    .ok()
    .stdout_has("allowed");
}

/// One mint attempt as the client saw it.
struct Attempt {
    n: usize,
    run: Run,
    /// Whether the server had been told to die before the attempt finished.
    after_kill: bool,
}

#[test]
fn a_killed_issuer_restarts_with_every_received_token_in_its_audit_log() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // Sign the audit head often, so head signatures land in the middle of the burst too.
    let (device, config) = alice_config(dir.path(), "audit_sign_every = 4");
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let admin = data.join("admin.token");

    let mut server = Server::start(&config, &data, log.clone(), &[]);
    let admin_before = std::fs::read_to_string(&admin).expect("the first start writes admin.token");

    // The burst: THREADS threads mint one token after another; the main thread kills the
    // server once KILL_AFTER mints have succeeded.
    let successes = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(Mutex::new(Vec::<Attempt>::new()));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (url, device) = (server.url.clone(), device.clone());
            let (successes, killed, attempts) = (
                Arc::clone(&successes),
                Arc::clone(&killed),
                Arc::clone(&attempts),
            );
            std::thread::spawn(move || {
                for i in 0..ATTEMPTS_PER_THREAD {
                    let n = t * ATTEMPTS_PER_THREAD + i;
                    let run = mint(&url, &device, n);
                    // Read the flag after the client finished: `false` means the whole
                    // attempt happened before the kill.
                    let after_kill = killed.load(Ordering::SeqCst);
                    if run.code == Some(0) {
                        successes.fetch_add(1, Ordering::SeqCst);
                    }
                    attempts
                        .lock()
                        .unwrap()
                        .push(Attempt { n, run, after_kill });
                    if after_kill || started.elapsed() > Duration::from_secs(40) {
                        break;
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while successes.load(Ordering::SeqCst) < KILL_AFTER && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // A random 0-39 ms more, so that from run to run the kill lands at another point of
    // the requests in flight (before, inside or after their transaction).
    let jitter = Duration::from_millis(
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            % 40,
    );
    std::thread::sleep(jitter);
    let at_kill = successes.load(Ordering::SeqCst);
    killed.store(true, Ordering::SeqCst);
    server.child.kill().unwrap(); // SIGKILL
    let exit = server.child.wait().unwrap();
    for w in workers {
        w.join().unwrap();
    }
    let first_log = server.log_text();
    drop(server);
    assert!(
        at_kill >= KILL_AFTER,
        "only {at_kill} mints succeeded in 30 s before the kill; server log:\n{first_log}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            exit.signal(),
            Some(9),
            "the server was killed by SIGKILL, not stopped some other way"
        );
    }

    let attempts = std::mem::take(&mut *attempts.lock().unwrap());
    // Before the kill, every attempt succeeds (two concurrent clients are no reason to fail).
    for a in attempts.iter().filter(|a| !a.after_kill) {
        assert_eq!(
            a.run.code,
            Some(0),
            "mint {} failed before the server was killed: {:?}\nserver log:\n{first_log}",
            a.n,
            a.run
        );
    }
    let received: Vec<(usize, String)> = attempts
        .iter()
        .filter(|a| a.run.code == Some(0))
        .map(|a| (a.n, a.run.stdout.trim().to_owned()))
        .collect();
    assert!(received.len() >= KILL_AFTER);

    // Restart on the same data directory (and a new port).
    let server = Server::start(&config, &data, log, &[]);
    assert_eq!(
        std::fs::read_to_string(&admin).unwrap(),
        admin_before,
        "a restart keeps the admin token"
    );
    let url = server.url.as_str();
    let admin_path = admin.to_str().unwrap();
    warrant(["audit", "verify", "--url", url, "--admin-token", admin_path])
        .ok()
        .stdout_has("ok: ");

    let (status, export) = http_get(&format!("{url}/v1/audit"), Some(admin_before.trim()));
    assert_eq!(status, 200, "{export}");
    let minted: BTreeSet<String> = export
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<J>(l).unwrap())
        .filter(|e| e["kind"] == "mint")
        .map(|e| {
            let detail: J = serde_json::from_str(e["detail"].as_str().unwrap()).unwrap();
            detail["token_id"].as_str().unwrap().to_owned()
        })
        .collect();
    let keys = format!("{url}/.well-known/warrant-keys");
    for (n, token) in &received {
        let id = token_id(token);
        assert!(
            minted.contains(&id),
            "mint {n}: the client received token `{id}` but the audit log has no `mint` entry \
             for it after the crash ({} mint entries)",
            minted.len()
        );
        // The signing key survived the crash too.
        verify_allowed(token, &keys, *n);
    }
    // And the restarted issuer mints again.
    mint(url, &device, 999).ok();
    eprintln!(
        "crash: killed {jitter:?} after the {KILL_AFTER}th mint; {} of {} attempts received \
         a token ({at_kill} before the kill), {} mint entries audited, {:.1?}",
        received.len(),
        attempts.len(),
        minted.len(),
        started.elapsed()
    );
}
