//! `warrant serve` as a real process on loopback, and the CLI against it: the README's
//! issuer walkthrough (enrol, mint at the issuer, verify offline, revoke, verify denied).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use std::ffi::OsStr;

use crate::support::warrant;

pub(crate) struct Server {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(config: &str, dir: tempfile::TempDir) -> Server {
    start_on(config, dir, "127.0.0.1:0")
}

/// An issuer with no roles or humans, listening on `listen`.
pub(crate) fn start_listening(listen: &str) -> Server {
    start_on("", tempfile::tempdir().unwrap(), listen)
}

pub(crate) fn start_on(config: &str, dir: tempfile::TempDir, listen: &str) -> Server {
    let config_path = dir.path().join("warrant.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warrant"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .args(["--listen", listen, "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut url = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(u) = line.strip_prefix("warrant issuer listening on ") {
            url = Some(u.trim().to_owned());
            break;
        }
    }
    Server {
        child,
        url: url.expect("the server prints its URL"),
        dir,
    }
}

#[test]
fn mint_at_the_issuer_verify_offline_revoke_and_deny() {
    let dir = tempfile::tempdir().unwrap();
    let device = dir.path().join("alice-device.key");
    let run = warrant([
        std::ffi::OsStr::new("keygen"),
        std::ffi::OsStr::new("--out"),
        device.as_os_str(),
    ]);
    run.ok();
    let device_pub = run.stdout.trim().to_owned();
    let config = warrant_test::config::readme(&device_pub);
    let server = start(&config, dir);
    let admin = server.dir.path().join("data/admin.token");
    assert!(admin.exists(), "the first start stores the admin token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&admin).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let url = server.url.as_str();
    let device = device.to_str().unwrap();
    let mint = warrant([
        "mint",
        "--issuer",
        url,
        "--human",
        "alice",
        "--device-key",
        device,
        "--audience",
        "support-api",
        "--ttl",
        "10m",
        "--allow",
        "read:tickets/123/email_address",
    ]);
    mint.ok();
    let token = mint.stdout.trim().to_owned();
    let keys = format!("{url}/.well-known/warrant-keys");
    let feed = format!("{url}/v1/revocations");
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--token",
            &token,
            "--keys",
            &keys,
            "--audience",
            "support-api",
            "--resource",
            "tickets/123/email_address",
            "--action",
            "read",
            "--allow-bearer",
        ];
        args.extend_from_slice(extra);
        warrant(args)
    };
    verify(&[]).ok().stdout_has("allowed");
    verify(&["--revocations", &feed]).ok();
    // Outside the ceiling: refused by the issuer (a denial, exit 1).
    warrant([
        "mint",
        "--issuer",
        url,
        "--human",
        "alice",
        "--device-key",
        device,
        "--allow",
        "delete:tickets/1",
    ])
    .denied()
    .stderr_has("outside the ceiling of role `support`");
    // Revoke, then the feed denies it.
    warrant([
        "revoke",
        "--issuer",
        url,
        "--admin-token",
        admin.to_str().unwrap(),
        "--token",
        &token,
    ])
    .ok()
    .stdout_has("revoked token_id");
    verify(&["--revocations", &feed])
        .denied()
        .stdout_has("is revoked");
    // The audit chain verifies, with the key set from the issuer.
    warrant([
        "audit",
        "verify",
        "--url",
        url,
        "--admin-token",
        admin.to_str().unwrap(),
    ])
    .ok()
    .stdout_has("ok: ");
    // Rotation: the file gets a new credential, the old one is refused at once.
    let before = std::fs::read_to_string(&admin).unwrap();
    warrant([
        "admin",
        "rotate",
        "--issuer",
        url,
        "--admin-token",
        admin.to_str().unwrap(),
    ])
    .ok()
    .stdout_has("rotated: admin credential");
    let after = std::fs::read_to_string(&admin).unwrap();
    assert_ne!(before.trim(), after.trim());
    warrant([
        "admin",
        "rotate",
        "--issuer",
        url,
        "--admin-token",
        before.trim(),
    ])
    .denied()
    .stderr_has("is revoked");
    warrant([
        "audit",
        "verify",
        "--url",
        url,
        "--admin-token",
        admin.to_str().unwrap(),
    ])
    .ok();
    // Without the admin token nothing changes.
    warrant([
        "revoke",
        "--issuer",
        url,
        "--admin-token",
        "nonsense",
        "--token-id",
        "0123456789abcdef0123456789abcdef",
    ])
    .denied()
    .stderr_has("401");
}

/// `warrant humans add`, `warrant agents register` and `warrant audit export` against a
/// real issuer: what was only reachable through the raw API.
#[test]
fn enrol_register_and_export_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let device = dir.path().join("alice-device.key");
    let run = warrant([
        OsStr::new("keygen"),
        OsStr::new("--out"),
        device.as_os_str(),
    ]);
    run.ok();
    let device_pub = run.stdout.trim().to_owned();
    let bob_device = dir.path().join("bob-device.key");
    warrant([
        OsStr::new("keygen"),
        OsStr::new("--out"),
        bob_device.as_os_str(),
    ])
    .ok();
    let agent = dir.path().join("triage.key");
    let run = warrant([
        OsStr::new("agent"),
        OsStr::new("keygen"),
        OsStr::new("--out"),
        agent.as_os_str(),
    ]);
    run.ok();
    let agent_pub = run.stdout.lines().next().unwrap().to_owned();
    let server = start(warrant_test::config::SUPPORT_ROLE, dir);
    let url = server.url.as_str();
    let admin = server.dir.path().join("data/admin.token");
    let admin = admin.to_str().unwrap();
    let admin_args = ["--url", url, "--admin-token", admin];
    let with_admin = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&admin_args);
        warrant(all)
    };
    // Enrol alice with a public key, then she can mint at the issuer.
    with_admin(&[
        "humans",
        "add",
        "alice",
        "--role",
        "support",
        "--device-key",
        &device_pub,
    ])
    .ok()
    .stdout_has("enrolled human `alice` (roles: support;");
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
        "5m",
        "--allow",
        "read:tickets/1",
    ])
    .ok();
    // A device key given as a key file sends its public half; attributes are typed.
    with_admin(&[
        "humans",
        "add",
        "bob",
        "--role",
        "support",
        "--device-key",
        bob_device.to_str().unwrap(),
        "--attr",
        "level=2",
    ])
    .ok();
    with_admin(&["humans", "add", "carol", "--role", "nosuch"])
        .input_error()
        .stderr_has("no role `nosuch`");
    with_admin(&["humans", "add", "dave", "--device-key", "ed25519/00"])
        .input_error()
        .stderr_has("is not a public key");
    // Register an agent: the CLI answers the issuer's challenge with the agent's key.
    with_admin(&[
        "agents",
        "register",
        "--key",
        agent.to_str().unwrap(),
        "--owner",
        "alice",
    ])
    .ok()
    .stdout_has(&format!("registered agent `triage` ({agent_pub})"));
    with_admin(&["agents", "register", "--key", agent.to_str().unwrap()])
        .input_error()
        .stderr_has("already registered");
    // Without the admin token nothing is enrolled.
    warrant([
        "humans",
        "add",
        "mallory",
        "--url",
        url,
        "--admin-token",
        "nonsense",
    ])
    .denied()
    .stderr_has("401");
    // Export the chain to a file (owner-only) and check it offline.
    let out = server.dir.path().join("audit.jsonl");
    with_admin(&["audit", "export", "--out", out.to_str().unwrap()])
        .ok()
        .stdout_has("audit entries to");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("\"human\""), "{text}");
    assert!(text.contains(&agent_pub), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let keys = format!("{url}/.well-known/warrant-keys");
    warrant([
        "audit",
        "verify",
        "--file",
        out.to_str().unwrap(),
        "--keys",
        &keys,
    ])
    .ok()
    .stdout_has("ok: ");
    // To stdout: the same JSON lines (at least as many: the export itself is not audited
    // as a change, but later entries may follow).
    let run = with_admin(&["audit", "export"]);
    run.ok();
    assert!(run.stdout.lines().count() >= text.lines().count());
    for line in run.stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    with_admin(&["audit", "export", "--out", out.to_str().unwrap()])
        .input_error()
        .stderr_has("already exists");
}

#[test]
fn help_lists_the_issuer_commands() {
    let run = warrant(["--help"]);
    run.ok();
    for cmd in [
        "warrant humans add",
        "warrant agents register",
        "warrant audit export",
        "revoke",
        "keys",
    ] {
        run.stdout_has(cmd);
    }
    warrant(["audit", "--help"]).ok().stdout_has("export");
    warrant(["agents", "--help"]).ok().stdout_has("register");
    for sub in [
        &["humans", "add"][..],
        &["agents", "register"],
        &["audit", "export"],
    ] {
        let mut args = sub.to_vec();
        args.push("--help");
        warrant(args)
            .ok()
            .stdout_has("Examples")
            .stdout_has("--admin-token");
    }
}
