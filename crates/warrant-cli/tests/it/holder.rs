//! Holder-bound tokens on the command line: `agent keygen`, `delegate`, `proof`, and
//! `verify --proof/--allow-bearer`.

use std::ffi::OsStr;

use crate::support::{warrant, Issuer};

const URL: &str = "https://api.example/tickets/1";

fn agent(dir: &Issuer, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.path(name);
    let run = warrant([
        OsStr::new("agent"),
        OsStr::new("keygen"),
        OsStr::new("--out"),
        path.as_os_str(),
    ]);
    run.ok();
    let mut lines = run.stdout.lines();
    let key = lines.next().unwrap().to_owned();
    let thumbprint = lines.next().unwrap();
    assert!(key.starts_with("ed25519/") && key.len() == 8 + 64, "{key}");
    let tp = thumbprint
        .strip_prefix("jwk-thumbprint: ")
        .expect("a thumbprint line");
    assert_eq!(tp.len(), 43, "base64url SHA-256: {tp}");
    (path, key)
}

fn proof(key: &std::path::Path, token: &str, method: &str, url: &str) -> String {
    proof_with(&[], key, token, method, url)
}

/// A proof by a key that is not the token's holder, which `warrant proof` makes only when
/// told `--dangerous-any-key`: what a misbehaving agent would send.
fn forged_proof(key: &std::path::Path, token: &str, method: &str, url: &str) -> String {
    proof_with(&["--dangerous-any-key"], key, token, method, url)
}

fn proof_with(
    extra: &[&str],
    key: &std::path::Path,
    token: &str,
    method: &str,
    url: &str,
) -> String {
    let mut args = vec![OsStr::new("proof")];
    args.extend(extra.iter().map(OsStr::new));
    let run = warrant(args.into_iter().chain([
        OsStr::new("--key"),
        key.as_os_str(),
        OsStr::new("--token"),
        OsStr::new(token),
        OsStr::new("--method"),
        OsStr::new(method),
        OsStr::new("--url"),
        OsStr::new(url),
    ]));
    run.ok();
    run.stdout.trim().to_owned()
}

/// `warrant verify` without `--allow-bearer`.
fn verify(issuer: &Issuer, token: &str, extra: &[&str]) -> crate::support::Run {
    let mut args = vec![
        "verify",
        "--token",
        token,
        "--keys",
        issuer.key_set.to_str().unwrap(),
        "--resource",
        "tickets/1",
        "--action",
        "read",
    ];
    args.extend_from_slice(extra);
    warrant(args)
}

#[test]
fn agent_keys_are_private_files() {
    let issuer = Issuer::new();
    let (path, _) = agent(&issuer, "agent.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let again = warrant([
        OsStr::new("agent"),
        OsStr::new("keygen"),
        OsStr::new("--out"),
        path.as_os_str(),
    ]);
    again.input_error().stderr_has("already exists");
}

#[test]
fn a_bound_token_needs_its_holders_proof() {
    let issuer = Issuer::new();
    let (agent_key, agent_pub) = agent(&issuer, "agent.key");
    let (other_key, _) = agent(&issuer, "other.key");
    let token = issuer.mint(&["--allow", "read:tickets/*", "--holder", &agent_pub]);
    verify(&issuer, &token, &[])
        .denied()
        .stdout_has("needs a DPoP proof");
    let p = proof(&agent_key, &token, "GET", URL);
    verify(
        &issuer,
        &token,
        &["--proof", &p, "--method", "GET", "--url", URL],
    )
    .ok()
    .stdout_has("allowed");
    // The same proof again is a replay only within one verifier; the CLI starts afresh,
    // so the replay cache is the library's (tested there). Another key's proof fails:
    let p = forged_proof(&other_key, &token, "GET", URL);
    verify(
        &issuer,
        &token,
        &["--proof", &p, "--method", "GET", "--url", URL],
    )
    .denied()
    .stdout_has("but the token's holder is");
    let p = proof(&agent_key, &token, "GET", URL);
    verify(
        &issuer,
        &token,
        &["--proof", &p, "--method", "DELETE", "--url", URL],
    )
    .denied()
    .stdout_has("method `GET`");
}

#[test]
fn bearer_tokens_need_allow_bearer() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--allow", "read:tickets/*"]);
    verify(&issuer, &token, &[])
        .denied()
        .stdout_has("refuses bearer tokens");
    verify(&issuer, &token, &["--allow-bearer"]).ok();
}

#[test]
fn only_the_current_holder_delegates() {
    let issuer = Issuer::new();
    let (agent_key, agent_pub) = agent(&issuer, "agent.key");
    let (sub_key, sub_pub) = agent(&issuer, "sub.key");
    let token = issuer.mint(&["--allow", "read:tickets/*", "--holder", &agent_pub]);
    let delegate = |key: &std::path::Path, to: &str, extra: &[&str]| {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("delegate"),
            OsStr::new("--token"),
            OsStr::new(&token),
            OsStr::new("--key"),
            key.as_os_str(),
            OsStr::new("--to"),
            OsStr::new(to),
        ];
        args.extend(extra.iter().map(OsStr::new));
        warrant(args)
    };
    delegate(&sub_key, &sub_pub, &[])
        .input_error()
        .stderr_has("is not the token's current holder");
    let run = delegate(&agent_key, &sub_pub, &["--allow", "read:tickets/1"]);
    run.ok();
    let child = run.stdout.trim().to_owned();
    let p = proof(&sub_key, &child, "GET", URL);
    verify(
        &issuer,
        &child,
        &["--proof", &p, "--method", "GET", "--url", URL],
    )
    .ok();
    let p = forged_proof(&agent_key, &child, "GET", URL);
    verify(
        &issuer,
        &child,
        &["--proof", &p, "--method", "GET", "--url", URL],
    )
    .denied()
    .stdout_has("holder");
    // inspect names the third-party signer.
    let report = issuer.inspect_json(&child);
    assert_eq!(report["blocks"][1]["signed_by"], "third-party");
    assert_eq!(report["blocks"][1]["external_key"], agent_pub.as_str());

    let bearer = issuer.mint(&["--allow", "read:tickets/*"]);
    let run = warrant([
        OsStr::new("delegate"),
        OsStr::new("--token"),
        OsStr::new(&bearer),
        OsStr::new("--key"),
        agent_key.as_os_str(),
        OsStr::new("--to"),
        OsStr::new(&sub_pub),
    ]);
    run.input_error().stderr_has("not bound to a holder");
}

#[test]
fn proof_and_verify_usage_errors() {
    let issuer = Issuer::new();
    let (agent_key, agent_pub) = agent(&issuer, "agent.key");
    let token = issuer.mint(&["--allow", "read:tickets/*", "--holder", &agent_pub]);
    let run = warrant([
        OsStr::new("proof"),
        OsStr::new("--key"),
        agent_key.as_os_str(),
        OsStr::new("--token"),
        OsStr::new(&token),
        OsStr::new("--method"),
        OsStr::new("GET"),
        OsStr::new("--url"),
        OsStr::new("not a url"),
    ]);
    run.input_error().stderr_has("is not an http(s) URL");
    verify(&issuer, &token, &["--proof", "x"]).input_error();
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let issuer = Issuer::new();
    let path = issuer.path("piped.key");
    // The reader is gone before warrant writes (as after `| head -1`): every write to
    // standard output fails with a broken pipe. warrant must exit quietly, not panic.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warrant"))
        .args([
            OsStr::new("agent"),
            OsStr::new("keygen"),
            OsStr::new("--out"),
            path.as_os_str(),
        ])
        .stdout(writer)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(path.exists());
}

/// `warrant agent keygen --alg es256`: a P-256 key, written `secp256r1/<compressed point>`.
fn p256_agent(dir: &Issuer, name: &str, alg: &str) -> (std::path::PathBuf, String) {
    let path = dir.path(name);
    let run = warrant([
        OsStr::new("agent"),
        OsStr::new("keygen"),
        OsStr::new("--alg"),
        OsStr::new(alg),
        OsStr::new("--out"),
        path.as_os_str(),
    ]);
    run.ok();
    let mut lines = run.stdout.lines();
    let key = lines.next().unwrap().to_owned();
    assert!(
        key.starts_with("secp256r1/0") && key.len() == "secp256r1/".len() + 66,
        "{key}"
    );
    let tp = lines
        .next()
        .unwrap()
        .strip_prefix("jwk-thumbprint: ")
        .unwrap();
    assert_eq!(tp.len(), 43, "{tp}");
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    (path, key)
}

/// The `alg` of a compact JWS's header.
fn alg_of(proof: &str) -> String {
    use base64::Engine as _;
    let header = proof.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["alg"].as_str().unwrap().to_owned()
}

#[test]
fn p256_agents_prove_with_es256_and_delegate_either_way() {
    let issuer = Issuer::new();
    let (p_key, p_pub) = p256_agent(&issuer, "p.key", "es256");
    let (q_key, q_pub) = p256_agent(&issuer, "q.key", "P256");
    let (e_key, e_pub) = agent(&issuer, "e.key");
    let token = issuer.mint(&["--allow", "read:tickets/*", "--holder", &p_pub]);
    let p = proof(&p_key, &token, "GET", URL);
    assert_eq!(alg_of(&p), "ES256");
    verify(
        &issuer,
        &token,
        &["--proof", &p, "--method", "GET", "--url", URL],
    )
    .ok()
    .stdout_has("allowed");
    let forged = forged_proof(&e_key, &token, "GET", URL);
    assert_eq!(alg_of(&forged), "EdDSA");
    verify(
        &issuer,
        &token,
        &["--proof", &forged, "--method", "GET", "--url", URL],
    )
    .denied()
    .stdout_has(&format!("the token's holder is `{p_pub}`"));
    // P-256 -> Ed25519 -> P-256.
    let delegate = |token: &str, key: &std::path::Path, to: &str| {
        let run = warrant([
            OsStr::new("delegate"),
            OsStr::new("--token"),
            OsStr::new(token),
            OsStr::new("--key"),
            key.as_os_str(),
            OsStr::new("--to"),
            OsStr::new(to),
        ]);
        run.ok();
        run.stdout.trim().to_owned()
    };
    let child = delegate(&token, &p_key, &e_pub);
    let grandchild = delegate(&child, &e_key, &q_pub);
    let p = proof(&q_key, &grandchild, "GET", URL);
    verify(
        &issuer,
        &grandchild,
        &["--proof", &p, "--method", "GET", "--url", URL],
    )
    .ok()
    .stdout_has("allowed");
    let report = issuer.inspect_json(&grandchild);
    assert_eq!(report["blocks"][1]["external_key"], p_pub.as_str());
    assert_eq!(report["blocks"][2]["external_key"], e_pub.as_str());
    // The previous P-256 holder can neither prove nor delegate any more.
    let old = forged_proof(&p_key, &grandchild, "GET", URL);
    verify(
        &issuer,
        &grandchild,
        &["--proof", &old, "--method", "GET", "--url", URL],
    )
    .denied();
    warrant([
        OsStr::new("delegate"),
        OsStr::new("--token"),
        OsStr::new(&grandchild),
        OsStr::new("--key"),
        p_key.as_os_str(),
        OsStr::new("--to"),
        OsStr::new(&e_pub),
    ])
    .input_error()
    .stderr_has("is not the token's current holder");
}

#[test]
fn agent_keygen_names_its_algorithms() {
    let issuer = Issuer::new();
    for alg in ["ed25519", "EdDSA"] {
        let path = issuer.path(&format!("{alg}.key"));
        let run = warrant([
            OsStr::new("agent"),
            OsStr::new("keygen"),
            OsStr::new("--alg"),
            OsStr::new(alg),
            OsStr::new("--out"),
            path.as_os_str(),
        ]);
        run.ok();
        assert!(run.stdout.starts_with("ed25519/"), "{alg}: {}", run.stdout);
    }
    for alg in ["p-256", "secp256r1"] {
        p256_agent(&issuer, &format!("{alg}.key"), alg);
    }
    let path = issuer.path("rsa.key");
    warrant([
        OsStr::new("agent"),
        OsStr::new("keygen"),
        OsStr::new("--alg"),
        OsStr::new("rs256"),
        OsStr::new("--out"),
        path.as_os_str(),
    ])
    .input_error()
    .stderr_has("[possible values: ed25519, es256]");
    assert!(!path.exists());
    // A holder key that is neither algorithm's is refused with the forms it may take.
    issuer
        .mint_run(&["--allow", "read:tickets/*", "--holder", "secp256r1/04abcd"])
        .input_error()
        .stderr_has("`secp256r1/` followed by 66 hex digits");
}
