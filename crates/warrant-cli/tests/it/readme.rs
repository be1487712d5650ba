//! The README's walkthrough and issuer section, run as written (with the built `warrant`
//! on `PATH`, as `cargo install` puts it there).

use std::process::Command;

const README: &str = include_str!("../../../../README.md");

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

/// Every `sh` block from the walkthrough on (the setup block before it installs and
/// tests), in order: what a reader pastes into a terminal.
fn blocks_from_the_walkthrough() -> Vec<String> {
    let start = README
        .find("## 60-second walkthrough")
        .expect("the walkthrough");
    let mut rest = &README[start..];
    let mut blocks = Vec::new();
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + "```sh\n".len()..];
        let close = body.find("```").expect("end of block");
        blocks.push(body[..close].to_owned());
        rest = &body[close + 3..];
    }
    blocks
}

/// The README's blocks, as one non-interactive bash script with the installed `warrant`
/// on `PATH`, run twice in the same fresh directory: the second run shows that they do not
/// depend on a terminal (job control) nor on files left by the first.
#[test]
fn the_readme_runs_as_a_script_twice() {
    let blocks = blocks_from_the_walkthrough();
    assert_eq!(blocks.len(), 2, "the walkthrough and the issuer section");
    let script = blocks.concat();
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
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readme.sh"), &script).unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_warrant"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for run in 1..=2 {
        let out = Command::new("bash")
            .arg("readme.sh")
            .current_dir(dir.path())
            .env("PATH", &path)
            .env_remove("RUST_LOG")
            .env_remove("WARRANT_KEK")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.trim().is_empty(),
            "run {run}: no errors expected, got:\n{stderr}\nstdout:\n{stdout}"
        );
        assert!(
            out.status.success(),
            "run {run}: {:?}\n{stdout}",
            out.status
        );
        assert_eq!(outputs_as_commented(&script, &stdout, &stderr), 9);
        assert!(stdout.contains("signatures: valid"), "run {run}: {stdout}");
        assert!(stdout.contains("revoked token_id"), "run {run}: {stdout}");
        for printed in [
            "enrolled human `bob` (roles: support;",
            "registered agent `triage`",
            "approved: the agent's token will expire at ",
            "audit entries to `demo/audit.jsonl`",
        ] {
            assert!(
                stdout.contains(printed),
                "run {run}: {printed}: {stdout}\n{stderr}"
            );
        }
        assert_eq!(
            stdout.matches("ok: ").count(),
            2,
            "run {run}: the audit chain verifies, online and exported: {stdout}"
        );
        assert!(dir.path().join("demo/warrant-data/admin.token").exists());
        // The server was stopped: the port is free again.
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "run {run}: the issuer still listens on {port}"
        );
    }
}
