//! The README's walkthrough, run as written (with `warrant` pointing at the built binary).

use std::process::Command;

const README: &str = include_str!("../../../../README.md");
const RUNNER: &str = r#"warrant() { cargo run -q --release -- "$@"; }"#;

fn walkthrough() -> String {
    section("## 60-second walkthrough")
}

/// The first `sh` block after `heading`.
fn section(heading: &str) -> String {
    let start = README.find(heading).expect("the README section");
    let rest = &README[start..];
    let open = rest.find("```sh\n").expect("sh block") + "```sh\n".len();
    let close = rest[open..].find("```").expect("end of block");
    rest[open..open + close].to_owned()
}

/// Whether `got` is `want`, where each `…` in `want` stands for a key or other value that
/// differs from run to run.
fn matches(got: &str, want: &str) -> bool {
    let parts: Vec<&str> = want.split('…').collect();
    let mut rest = got;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part) && rest.len() > part.len();
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            if at == 0 {
                return false;
            }
            rest = &rest[at + part.len()..];
        }
    }
    rest.is_empty()
}

/// Checks that every `# allowed` / `# denied: …` comment of `script` is what the command
/// above it printed, in order; returns how many there are.
fn outputs_as_commented(script: &str, stdout: &str, stderr: &str) -> usize {
    let is_decision = |l: &&str| *l == "allowed" || l.starts_with("denied: ");
    let expected: Vec<&str> = script
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(is_decision)
        .collect();
    let printed: Vec<&str> = stdout.lines().filter(is_decision).collect();
    assert_eq!(
        printed.len(),
        expected.len(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for (got, want) in printed.iter().zip(&expected) {
        assert!(
            matches(got, want),
            "expected `{want}`\n     got `{got}`\nstdout:\n{stdout}"
        );
    }
    expected.len()
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let script = walkthrough();
    assert!(
        script.contains(RUNNER),
        "the walkthrough defines `warrant` as {RUNNER}"
    );
    let script = script.replace(RUNNER, r#"warrant() { "$WARRANT_BIN" "$@"; }"#);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("WARRANT_BIN", env!("CARGO_BIN_EXE_warrant"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.trim().is_empty(),
        "no errors expected, got:\n{stderr}"
    );
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{stderr}"
    );
    assert_eq!(outputs_as_commented(&script, &stdout, &stderr), 6);
    assert!(stdout.contains("signatures: valid"));
    assert!(dir.path().join("demo/issuer.key").exists());
}

#[test]
fn the_readme_issuer_section_runs_as_written() {
    let script = section("## The issuer");
    assert!(script.contains("ISSUER=http://127.0.0.1:8414"));
    // A free port instead of the default one, so a running issuer does not get in the way.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = script
        .replace(
            "ISSUER=http://127.0.0.1:8414",
            &format!("ISSUER=http://127.0.0.1:{port}"),
        )
        .replace(
            "data_dir = \"demo/warrant-data\"",
            &format!("data_dir = \"demo/warrant-data\"\nlisten = \"127.0.0.1:{port}\""),
        );
    // Job control, so `kill %1` stops the server as it does in a terminal.
    let script =
        format!("set -m\nwarrant() {{ \"$WARRANT_BIN\" \"$@\"; }}\nmkdir -p demo\n{script}");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("WARRANT_BIN", env!("CARGO_BIN_EXE_warrant"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(outputs_as_commented(&script, &stdout, &stderr), 2);
    assert!(stdout.contains("revoked token_id"), "{stdout}");
    assert!(
        stdout.contains("ok: "),
        "the audit chain verifies: {stdout}"
    );
    for printed in [
        "enrolled human `bob` (roles: support;",
        "registered agent `triage`",
        "audit entries to `demo/audit.jsonl`",
    ] {
        assert!(stdout.contains(printed), "{printed}: {stdout}\n{stderr}");
    }
    assert_eq!(stdout.matches("ok: ").count(), 2, "{stdout}");
    assert!(dir.path().join("demo/warrant-data/admin.token").exists());
}
