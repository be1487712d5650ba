//! `warrant serve` as a real process on loopback, and the CLI against it: the README's
//! issuer walkthrough (enrol, mint at the issuer, verify offline, revoke, verify denied).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::support::warrant;

struct Server {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(config: &str, dir: tempfile::TempDir) -> Server {
    let config_path = dir.path().join("warrant.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warrant"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
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
    let config = format!(
        r#"
[[roles]]
name = "support"
max_ttl = "30m"
[roles.ceiling]
audience = ["support-api"]
allow = [ {{ resources = ["tickets/**"], actions = ["read"] }} ]

[[humans]]
id = "alice"
roles = ["support"]
device_keys = ["{device_pub}"]
"#
    );
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
        "00",
    ])
    .denied()
    .stderr_has("401");
}
