//! Operating `warrant serve`: what it logs at the default level (one line per request,
//! no colour codes when standard error is not a terminal, never a token), and what it says
//! on first start.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::crash::http_get;
use crate::support::BIN;

/// A `warrant serve` child, killed and reaped on drop.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `warrant serve` on a fresh data directory with no `RUST_LOG` and no
/// configuration, standard output and standard error going to files; returns its URL.
fn serve(dir: &std::path::Path) -> (Served, String) {
    let out = std::fs::File::create(dir.join("stdout")).unwrap();
    let err = std::fs::File::create(dir.join("stderr")).unwrap();
    let child = Served(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .env_remove("WARRANT_KEK")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(dir.join("stdout")).unwrap_or_default();
        if let Some(rest) = text.split("warrant issuer listening on ").nth(1) {
            let url = rest.lines().next().unwrap().trim().to_owned();
            return (child, url);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no `listening on` in: {text}\n{}",
            std::fs::read_to_string(dir.join("stderr")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_logs_each_request_at_the_default_level_without_colour_or_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = serve(dir.path());
    let secret = "SECRET-BEARER-TOKEN-0123456789";
    let (status, _) = http_get(
        &format!("{url}/v1/audit?since=7&secret=q1w2e3"),
        Some(secret),
    );
    assert_eq!(status, 401);
    let (status, _) = http_get(&format!("{url}/healthz"), None);
    assert_eq!(status, 200);
    // The response line is written after the response: give it a moment.
    let started = Instant::now();
    let log = loop {
        let log = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
        if log.contains("path=/healthz") || started.elapsed() > Duration::from_secs(10) {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(server);
    let line = log
        .lines()
        .find(|l| l.contains("path=/v1/audit"))
        .unwrap_or_else(|| panic!("no request line for /v1/audit in:\n{log}"));
    for part in ["INFO", "method=GET", "status=401", "latency_ms="] {
        assert!(line.contains(part), "`{part}` not in `{line}`");
    }
    assert!(
        log.lines()
            .any(|l| l.contains("path=/healthz") && l.contains("status=200")),
        "{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log that is a file:\n{log}"
    );
    assert!(
        !log.contains(secret),
        "the bearer token is in the log:\n{log}"
    );
    assert!(
        !log.contains("q1w2e3"),
        "the query string is in the log:\n{log}"
    );
}

#[test]
fn the_first_start_says_how_to_enrol_a_human() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = serve(dir.path());
    drop(server);
    let out = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
    assert!(out.contains("first start"), "{out}");
    assert!(out.contains("no human is enrolled yet"), "{out}");
    assert!(out.contains("[[humans]]"), "{out}");
    assert!(out.contains("POST /v1/humans"), "{out}");
    // The section it points at exists.
    let docs = include_str!("../../../../docs/issuer.md");
    assert!(docs.contains("## Enrolling a human"), "docs/issuer.md");
}

/// The `sh` block of docs/issuer.md's "Enrolling a human", run against a fresh issuer (its
/// URL and admin-token path put in): it enrols a role and a human, then mints for them.
#[test]
fn the_enrolment_example_in_the_issuer_docs_works() {
    let docs = include_str!("../../../../docs/issuer.md");
    let section = &docs[docs.find("## Enrolling a human").unwrap()..];
    let open = section.find("```sh\n").unwrap() + "```sh\n".len();
    let close = section[open..].find("```").unwrap();
    let block = &section[open..open + close];
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = serve(dir.path());
    let admin = dir.path().join("data/admin.token");
    let script = block
        .replace("http://127.0.0.1:8414", &url)
        .replace("warrant-data/admin.token", &admin.display().to_string());
    let bin = std::path::Path::new(BIN).parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-c", &format!("set -e\n{script}")])
        .current_dir(dir.path())
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    drop(server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(r#"{"name":"support"}"#), "{stdout}");
    assert!(stdout.contains("enrolled human `alice`"), "{stdout}");
    // The last line is the minted token.
    let token = stdout.lines().last().unwrap().trim();
    assert!(token.len() > 100 && !token.contains(' '), "{stdout}");
}
