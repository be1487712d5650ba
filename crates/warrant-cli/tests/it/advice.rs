//! Inputs that would silently give a useless result are refused, and messages say what to
//! do next: every token argument goes through one reader (wrapped tokens, a `Bearer `
//! prefix, a file name given as the token), proofs are made only by the holder's key and
//! for an upper-case method, ids are checked before they reach the issuer, a mistyped
//! admin-token path is not sent as the token, and `--json` errors are JSON on stdout too.

use std::ffi::OsStr;
use std::path::PathBuf;

use crate::support::{warrant, warrant_stdin, Issuer};

fn agent_key(issuer: &Issuer, name: &str) -> (PathBuf, String) {
    let path = issuer.path(name);
    let run = warrant([
        OsStr::new("agent"),
        OsStr::new("keygen"),
        OsStr::new("--out"),
        path.as_os_str(),
    ]);
    run.ok();
    let public = run.stdout.lines().next().unwrap().to_owned();
    (path, public)
}

/// The commands that take a token, each with what else it needs.
fn token_commands(issuer: &Issuer) -> Vec<Vec<String>> {
    let (key, _) = agent_key(issuer, "probe-agent.key");
    let key = key.to_str().unwrap().to_owned();
    let keys = issuer.key_set.to_str().unwrap().to_owned();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    vec![
        s(&["inspect"]),
        s(&["attenuate", "--ttl", "1m"]),
        s(&[
            "verify",
            "--keys",
            &keys,
            "--resource",
            "x",
            "--action",
            "read",
        ]),
        s(&["delegate", "--key", &key, "--to", &issuer.public_key]),
        s(&[
            "proof",
            "--key",
            &key,
            "--method",
            "GET",
            "--url",
            "https://a.example/x",
        ]),
        s(&[
            "revoke",
            "--issuer",
            "http://127.0.0.1:9",
            "--admin-token",
            "secret",
        ]),
    ]
}

fn with_token(cmd: &[String], flag: &str, token: &str) -> Vec<String> {
    let mut args = cmd.to_vec();
    args.extend([flag.to_owned(), token.to_owned()]);
    args
}

#[test]
fn a_wrapped_token_says_where_the_line_break_is() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--allow", "read:x"]);
    let wrapped = format!("{}\n{}", &token[..60], &token[60..]);
    for cmd in token_commands(&issuer) {
        warrant(with_token(&cmd, "--token", &wrapped))
            .input_error()
            .stderr_has("contains a line break at character 61")
            .stderr_has("join the lines");
        // The same from standard input and from a file.
        warrant_stdin(with_token(&cmd, "--token", "-"), &format!("{wrapped}\n"))
            .input_error()
            .stderr_has("the token on standard input contains a line break at character 61");
        let file = issuer.write("wrapped.txt", &wrapped);
        warrant(with_token(&cmd, "--token-file", file.to_str().unwrap()))
            .input_error()
            .stderr_has("wrapped.txt` contains a line break at character 61");
    }
    // One trailing newline is fine.
    warrant_stdin(["inspect", "--token", "-"], &format!("{token}\n")).ok();
}

#[test]
fn a_bearer_prefix_is_named() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--allow", "read:x"]);
    for cmd in token_commands(&issuer) {
        for scheme in ["Bearer", "bearer", "DPoP"] {
            warrant(with_token(&cmd, "--token", &format!("{scheme} {token}")))
                .input_error()
                .stderr_has(&format!("--token starts with `{scheme} `"))
                .stderr_has("give the token alone");
        }
    }
}

#[test]
fn a_file_name_given_as_the_token_points_to_token_file() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--allow", "read:x"]);
    let file = issuer.write("token.txt", &format!("{token}\n"));
    let file = file.to_str().unwrap();
    for cmd in token_commands(&issuer) {
        warrant(with_token(&cmd, "--token", file))
            .input_error()
            .stderr_has(&format!("--token `{file}` is a file name, not a token"))
            .stderr_has(&format!("use --token-file {file}"));
        warrant(with_token(&cmd, "--token", "no/such/token.txt"))
            .input_error()
            .stderr_has("neither a token")
            .stderr_has("--token-file FILE");
    }
    // verify reads --token-file as inspect does.
    let keys = issuer.key_set.to_str().unwrap();
    warrant([
        "verify",
        "--token-file",
        file,
        "--keys",
        keys,
        "--resource",
        "x",
        "--action",
        "read",
        "--allow-bearer",
    ])
    .ok()
    .stdout_has("allowed");
}

#[test]
fn proofs_need_an_upper_case_method_and_the_holders_key() {
    let issuer = Issuer::new();
    let (agent, agent_pub) = agent_key(&issuer, "agent.key");
    let (other, other_pub) = agent_key(&issuer, "other.key");
    let token = issuer.mint(&["--allow", "read:x", "--holder", &agent_pub]);
    let proof = |key: &PathBuf, method: &str, token: &str| {
        warrant([
            OsStr::new("proof"),
            OsStr::new("--key"),
            key.as_os_str(),
            OsStr::new("--token"),
            OsStr::new(token),
            OsStr::new("--method"),
            OsStr::new(method),
            OsStr::new("--url"),
            OsStr::new("https://a.example/x"),
        ])
    };
    proof(&agent, "get", &token)
        .input_error()
        .stderr_has("--method `get`: HTTP methods are case-sensitive")
        .stderr_has("write --method GET");
    proof(&agent, "GET", &token).ok();
    proof(&other, "GET", &token)
        .input_error()
        .stderr_has(&format!(
            "is `{other_pub}`, not the token's holder `{agent_pub}`"
        ));
    // After a delegation the former holder's key is named as such.
    let child = warrant([
        OsStr::new("delegate"),
        OsStr::new("--token"),
        OsStr::new(&token),
        OsStr::new("--key"),
        agent.as_os_str(),
        OsStr::new("--to"),
        OsStr::new(&other_pub),
    ]);
    child.ok();
    let child = child.stdout.trim().to_owned();
    proof(&agent, "GET", &child)
        .input_error()
        .stderr_has("has been delegated on: its current holder is");
    proof(&other, "GET", &child).ok();
    // A bearer token takes no proof.
    let bearer = issuer.mint(&["--allow", "read:x"]);
    proof(&agent, "GET", &bearer)
        .input_error()
        .stderr_has("not bound to a holder");
    // verify's --method is checked the same way.
    issuer
        .verify(
            &token,
            &[
                "--resource",
                "x",
                "--action",
                "read",
                "--proof",
                "p",
                "--method",
                "post",
                "--url",
                "https://a.example/x",
            ],
        )
        .input_error()
        .stderr_has("write --method POST");
}

fn revoke(extra: &[&str]) -> crate::support::Run {
    let mut args = vec![
        "revoke",
        "--issuer",
        "http://127.0.0.1:9",
        "--admin-token",
        "secret",
    ];
    args.extend_from_slice(extra);
    warrant(args)
}

#[test]
fn revoke_checks_ids_before_sending_them() {
    for id in ["zz", "00", "0123456789abcdef0123456789abcdeg", "tok_123"] {
        revoke(&["--token-id", id])
            .input_error()
            .stderr_has(&format!("--token-id `{id}`: a token id is 32 hex digits"));
    }
    revoke(&["--revocation-id", "abcd"])
        .input_error()
        .stderr_has("a revocation id is 128 hex digits");
    revoke(&["--holder", "alice"])
        .input_error()
        .stderr_has("`alice` is not a holder public key");
    // A well-formed id gets as far as the network (nothing listens on port 9).
    revoke(&["--token-id", "0123456789ABCDEF0123456789abcdef"])
        .input_error()
        .stderr_has("cannot reach `http://127.0.0.1:9/v1/revocations`");
}

#[test]
fn a_mistyped_admin_token_path_is_not_sent_as_the_token() {
    for path in ["warrant-data/admin.tokn", "admin.token", "./missing"] {
        let run = warrant([
            "keys",
            "rotate",
            "--issuer",
            "http://127.0.0.1:9",
            "--admin-token",
            path,
        ]);
        run.input_error()
            .stderr_has(&format!("--admin-token `{path}`: no such file"))
            .stderr_has("warrant-data/admin.token");
    }
}

#[test]
fn an_unreachable_url_says_why() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--allow", "read:x"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/.well-known/warrant-keys");
    warrant([
        "verify",
        "--token",
        &token,
        "--keys",
        &url,
        "--resource",
        "x",
        "--action",
        "read",
    ])
    .input_error()
    .stderr_has(&format!("cannot reach `{url}`: "))
    .stderr_has("onnection refused")
    .stderr_has("check the URL");
}

#[test]
fn keys_given_a_private_key_says_which_file_to_give() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--allow", "read:x"]);
    let key = issuer.key.to_str().unwrap();
    let run = warrant([
        "verify",
        "--token",
        &token,
        "--keys",
        key,
        "--resource",
        "x",
        "--action",
        "read",
    ]);
    run.input_error()
        .stderr_has(&format!("--keys `{key}` is a private key"))
        .stderr_has("--public-out");
    assert!(!run.stderr.contains("BEGIN"), "{run:?}");
    warrant(["inspect", "--token", &token, "--keys", &issuer.public_key])
        .input_error()
        .stderr_has(&format!("give it as --public-key {}", issuer.public_key));
}

#[test]
fn listen_takes_host_names() {
    let dir = tempfile::tempdir().unwrap();
    let run = warrant([
        OsStr::new("serve"),
        OsStr::new("--listen"),
        OsStr::new("localhost"),
        OsStr::new("--data-dir"),
        dir.path().join("d").as_os_str(),
    ]);
    run.input_error()
        .stderr_has("--listen `localhost` has no port")
        .stderr_has("localhost:8414");
    let run = warrant([
        OsStr::new("serve"),
        OsStr::new("--listen"),
        OsStr::new("no-such-host.invalid:8414"),
        OsStr::new("--data-dir"),
        dir.path().join("d").as_os_str(),
    ]);
    run.input_error().stderr_has("cannot resolve it");
    // `localhost:PORT` starts (see issuer.rs, which starts servers this way).
    let server = crate::issuer::start_listening("localhost:0");
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
}

#[test]
fn json_errors_are_json_on_stdout_too() {
    let issuer = Issuer::new();
    for args in [
        &["inspect", "--json", "--token", "Bearer x"][..],
        &[
            "verify",
            "--json",
            "--token",
            "!!",
            "--public-key",
            "x",
            "--resource",
            "x",
            "--action",
            "read",
        ][..],
        &["inspect", "--json", "--no-such-flag"][..],
    ] {
        let run = warrant(args);
        run.code(2).stderr_has("warrant: ");
        let j = run.json();
        assert_eq!(j["exit_code"], 2, "{run:?}");
        assert_eq!(
            j["error"].as_str().unwrap(),
            run.stderr.trim().trim_start_matches("warrant: "),
            "{run:?}"
        );
    }
    let _ = issuer;
}
