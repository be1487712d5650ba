//! `warrant request` and `warrant approve` against a real issuer on loopback: an agent
//! asks, waits, alice narrows and approves from her device key, the agent gets a token
//! bound to its key; a denial reaches the agent as exit code 1.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use crate::issuer::start;
use crate::support::warrant;

#[test]
fn an_agent_asks_alice_approves_narrowed_and_the_agent_gets_a_bound_token() {
    let dir = tempfile::tempdir().unwrap();
    let device = dir.path().join("alice-device.key");
    let run = warrant([
        OsStr::new("keygen"),
        OsStr::new("--out"),
        device.as_os_str(),
    ]);
    run.ok();
    let device_pub = run.stdout.trim().to_owned();
    let agent = dir.path().join("agent.key");
    let run = warrant([
        OsStr::new("agent"),
        OsStr::new("keygen"),
        OsStr::new("--out"),
        agent.as_os_str(),
    ]);
    run.ok();
    let agent_pub = run.stdout.lines().next().unwrap().to_owned();
    let server = start(&warrant_test::config::readme(&device_pub), dir);
    let url = server.url.as_str();
    let admin = server.dir.path().join("data/admin.token");
    let (agent, device) = (agent.to_str().unwrap(), device.to_str().unwrap());
    warrant([
        "agents",
        "register",
        "--key",
        agent,
        "--url",
        url,
        "--admin-token",
        admin.to_str().unwrap(),
    ])
    .ok();
    let ask = [
        "request",
        "--issuer",
        url,
        "--key",
        agent,
        "--human",
        "alice",
        "--reason",
        "reply to ticket 123",
        "--audience",
        "support-api",
        "--ttl",
        "10m",
        "--allow",
        "read:tickets/123/email_address",
        "--allow",
        "read:tickets/123/name",
    ];
    // Without --wait: the approve URL, and how to collect.
    let made = warrant(ask);
    made.ok();
    let approve_url = made.stdout.trim().to_owned();
    assert!(
        approve_url.starts_with(&format!("{url}/approve/")),
        "{approve_url}"
    );
    let id = approve_url.rsplit('/').next().unwrap().to_owned();
    warrant(["request", "--issuer", url, "--key", agent, "--collect", &id])
        .ok()
        .stdout_has("pending until ");
    // --wait polls until alice decides.
    let mut args = vec![
        "request",
        "--issuer",
        url,
        "--key",
        agent,
        "--collect",
        &id,
        "--wait",
    ];
    let waiting = Command::new(env!("CARGO_BIN_EXE_warrant"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // (Without --human: the issuer says whom the request asks.)
    warrant([
        "approve",
        &approve_url,
        "--issuer",
        url,
        "--device-key",
        device,
        "--ttl",
        "5m",
        "--allow",
        "read:tickets/123/email_address",
    ])
    .ok()
    .stdout_has("approved");
    let out = waiting.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // Three blocks: the role's ceiling, the request, what alice approved; bound to the agent.
    warrant(["inspect", "--token", &token])
        .ok()
        .stdout_has(&agent_pub)
        .stdout_has("block 2")
        .stdout_has("in words: read `tickets/123/email_address`\n");
    // Once only.
    args.pop();
    warrant(&args).input_error().stderr_has("collected already");
    // A denial is a denial for the agent: exit code 1.
    let made = warrant(ask);
    let id = made.stdout.trim().rsplit('/').next().unwrap().to_owned();
    warrant([
        "deny",
        &id,
        "--issuer",
        url,
        "--human",
        "alice",
        "--device-key",
        device,
    ])
    .ok()
    .stdout_has("denied");
    warrant(["request", "--issuer", url, "--key", agent, "--collect", &id])
        .denied()
        .stderr_has("`alice` denied this request");
    // Widening is refused, and says where.
    let made = warrant(ask);
    let id = made.stdout.trim().rsplit('/').next().unwrap().to_owned();
    warrant([
        "approve",
        &id,
        "--issuer",
        url,
        "--human",
        "alice",
        "--device-key",
        device,
        "--allow",
        "read:tickets/**",
    ])
    .input_error()
    .stderr_has("allow[0]: its resources and actions are not within one allow rule of the request");
}

#[test]
fn humans_invite_prints_a_one_time_link_where_passkeys_can_work() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "public_url = \"http://localhost:{port}\"\n{}",
        warrant_test::config::readme(
            "ed25519/0000000000000000000000000000000000000000000000000000000000000000"
        )
    );
    let server = crate::issuer::start_on(&config, dir, &format!("127.0.0.1:{port}"));
    let admin = server.dir.path().join("data/admin.token");
    let admin = admin.to_str().unwrap();
    let run = warrant([
        "humans",
        "invite",
        "alice",
        "--url",
        &server.url,
        "--admin-token",
        admin,
    ]);
    run.ok()
        .stdout_has(&format!("http://localhost:{port}/invite/"))
        .stdout_has("enrols one passkey, once, until ");
    warrant([
        "humans",
        "invite",
        "mallory",
        "--url",
        &server.url,
        "--admin-token",
        admin,
    ])
    .input_error()
    .stderr_has("no human `mallory`");
    // Where passkeys cannot work (an address), the issuer says why.
    let plain = start(
        warrant_test::config::SUPPORT_ROLE,
        tempfile::tempdir().unwrap(),
    );
    let admin = plain.dir.path().join("data/admin.token");
    warrant([
        "humans",
        "invite",
        "alice",
        "--url",
        &plain.url,
        "--admin-token",
        admin.to_str().unwrap(),
    ])
    .input_error()
    .stderr_has("passkeys are off");
}

#[test]
fn serve_prints_an_invitation_for_a_configured_human_without_a_passkey() {
    use std::io::{BufRead, BufReader};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "public_url = \"http://localhost:{port}\"\n{}{}invite = true\n",
        warrant_test::config::SUPPORT_ROLE,
        warrant_test::config::alice(
            "ed25519/0000000000000000000000000000000000000000000000000000000000000000"
        ),
    );
    std::fs::write(dir.path().join("warrant.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warrant"))
        .args(["serve", "--config"])
        .arg(dir.path().join("warrant.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let invite = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.trim_start().starts_with("invite:"));
    let _ = child.kill();
    let _ = child.wait();
    let invite = invite.expect("serve prints the invitation");
    assert!(
        invite.contains(&format!("http://localhost:{port}/invite/"))
            && invite.contains("for `alice`"),
        "{invite}"
    );
}

/// A P-256 agent at a real issuer: registered (it signs the challenge with ECDSA), asks
/// with `ES256` proofs, collects a token bound to its P-256 key, and proves with it to a
/// verifier using the issuer's published keys; a mint for it names the same holder.
#[test]
fn a_p256_agent_registers_asks_and_proves() {
    let dir = tempfile::tempdir().unwrap();
    let device = dir.path().join("alice-device.key");
    let run = warrant([
        OsStr::new("keygen"),
        OsStr::new("--out"),
        device.as_os_str(),
    ]);
    run.ok();
    let device_pub = run.stdout.trim().to_owned();
    let agent = dir.path().join("agent-p256.key");
    let run = warrant([
        OsStr::new("agent"),
        OsStr::new("keygen"),
        OsStr::new("--alg"),
        OsStr::new("es256"),
        OsStr::new("--out"),
        agent.as_os_str(),
    ]);
    run.ok();
    let agent_pub = run.stdout.lines().next().unwrap().to_owned();
    assert!(agent_pub.starts_with("secp256r1/"), "{agent_pub}");
    let server = start(&warrant_test::config::readme(&device_pub), dir);
    let url = server.url.as_str();
    let admin = server.dir.path().join("data/admin.token");
    let (agent, device) = (agent.to_str().unwrap(), device.to_str().unwrap());
    warrant([
        "agents",
        "register",
        "--key",
        agent,
        "--name",
        "p256-bot",
        "--url",
        url,
        "--admin-token",
        admin.to_str().unwrap(),
    ])
    .ok()
    .stdout_has(&format!("registered agent `p256-bot` ({agent_pub})"));
    let made = warrant([
        "request",
        "--issuer",
        url,
        "--key",
        agent,
        "--human",
        "alice",
        "--reason",
        "reply to ticket 123",
        "--audience",
        "support-api",
        "--ttl",
        "10m",
        "--allow",
        "read:tickets/123/email_address",
    ]);
    made.ok();
    let id = made.stdout.trim().rsplit('/').next().unwrap().to_owned();
    warrant([
        "approve",
        &id,
        "--issuer",
        url,
        "--human",
        "alice",
        "--device-key",
        device,
    ])
    .ok()
    .stdout_has("approved");
    let collected = warrant(["request", "--issuer", url, "--key", agent, "--collect", &id]);
    collected.ok();
    let token = collected.stdout.trim().to_owned();
    warrant(["inspect", "--token", &token])
        .ok()
        .stdout_has(&format!("bound to holder key `{agent_pub}`"));
    let target = "https://support.example/tickets/123/email_address";
    let proof = warrant([
        "proof", "--key", agent, "--token", &token, "--method", "GET", "--url", target,
    ]);
    proof.ok();
    let keys = format!("{url}/.well-known/warrant-keys");
    warrant([
        "verify",
        "--token",
        &token,
        "--keys",
        &keys,
        "--resource",
        "tickets/123/email_address",
        "--action",
        "read",
        "--audience",
        "support-api",
        "--proof",
        proof.stdout.trim(),
        "--method",
        "GET",
        "--url",
        target,
    ])
    .ok()
    .stdout_has("allowed");
}
