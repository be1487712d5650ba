//! Running the binary, key fixtures, and small helpers (dates, JSON fields).

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value as J;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_warrant");

/// One finished run of the binary.
#[derive(Debug)]
pub(crate) struct Run {
    /// The command line, for failure messages.
    pub args: Vec<String>,
    /// The exit code; `None` when a signal killed the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "`warrant {}` exited with {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    /// Asserts the exit code.
    #[track_caller]
    pub(crate) fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "expected exit code {expected}: {}",
            self.describe()
        );
        self
    }

    /// Exit 0.
    #[track_caller]
    pub(crate) fn ok(&self) -> &Self {
        self.code(0)
    }

    /// Exit 1 with `denied: …` on stdout (or a JSON denial).
    #[track_caller]
    pub(crate) fn denied(&self) -> &Self {
        self.code(1)
    }

    /// Exit 2, a `warrant: …` line on stderr and nothing on stdout.
    #[track_caller]
    pub(crate) fn input_error(&self) -> &Self {
        self.code(2);
        assert!(
            self.stderr.starts_with("warrant: "),
            "errors must be printed as `warrant: <message>`: {}",
            self.describe()
        );
        assert!(
            self.stdout.is_empty(),
            "nothing may be printed on stdout after an error: {}",
            self.describe()
        );
        self
    }

    /// Asserts that stdout contains `needle`.
    #[track_caller]
    pub(crate) fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout should contain {needle:?}: {}",
            self.describe()
        );
        self
    }

    /// Asserts that stdout does not contain `needle`.
    #[track_caller]
    pub(crate) fn stdout_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.stdout.contains(needle),
            "stdout should not contain {needle:?}: {}",
            self.describe()
        );
        self
    }

    /// Asserts that stderr contains `needle`.
    #[track_caller]
    pub(crate) fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr should contain {needle:?}: {}",
            self.describe()
        );
        self
    }

    /// The reason of a `denied: <reason>` verdict (asserts exit 1 and the one-line form).
    #[track_caller]
    pub(crate) fn reason(&self) -> &str {
        self.denied();
        let line = self.stdout.trim_end();
        assert!(
            !line.contains('\n'),
            "the verdict should be one line: {}",
            self.describe()
        );
        line.strip_prefix("denied: ")
            .unwrap_or_else(|| panic!("expected `denied: <reason>`: {}", self.describe()))
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> J {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.describe()))
    }

    /// Asserts that the process exited normally (no signal, no panic) with one of `codes`.
    #[track_caller]
    pub(crate) fn exited_with_one_of(&self, codes: &[i32]) -> i32 {
        let code = self
            .code
            .unwrap_or_else(|| panic!("killed by a signal: {}", self.describe()));
        assert!(
            codes.contains(&code),
            "expected one of {codes:?}: {}",
            self.describe()
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked: {}",
            self.describe()
        );
        code
    }
}

/// Runs `warrant ARGS` with an empty standard input.
pub(crate) fn warrant<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(args, None)
}

/// Runs `warrant ARGS` with `input` on standard input.
pub(crate) fn warrant_stdin<I, S>(args: I, input: &str) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(args, Some(input))
}

/// What `verify` prints when Datalog evaluation overruns the verifier's wall-clock limit
/// (20 ms): on a heavily oversubscribed machine a debug build can hit it.
const TIMEOUT: &str = "spent too much time verifying";

fn run<I, S>(args: I, input: Option<&str>) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    // Retry a verification that timed out, a bounded number of times: a verdict that
    // always times out still fails the test.
    let mut attempt = 1;
    loop {
        let run = run_once(&args, input);
        if attempt == 3 || !run.stdout.contains(TIMEOUT) {
            return run;
        }
        attempt += 1;
    }
}

fn run_once(args: &[std::ffi::OsString], input: Option<&str>) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the warrant binary starts");
    {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        if let Some(text) = input {
            stdin
                .write_all(text.as_bytes())
                .expect("writing standard input");
        }
    }
    let out = child
        .wait_with_output()
        .expect("the warrant binary finishes");
    Run {
        args: args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An issuer: a temp dir holding its private key file and its key-set JSON.
#[derive(Debug)]
pub(crate) struct Issuer {
    pub dir: tempfile::TempDir,
    /// The private key file (`keygen --out`).
    pub key: PathBuf,
    /// The key set (`keygen --public-out`).
    pub key_set: PathBuf,
    /// `ed25519/<hex>`, as `keygen` printed it.
    pub public_key: String,
}

impl Issuer {
    /// A fresh issuer whose key has id 1.
    pub(crate) fn new() -> Self {
        Self::with_kid(1)
    }

    /// A fresh issuer whose key has id `kid`.
    pub(crate) fn with_kid(kid: u32) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let key = dir.path().join("issuer.key");
        let key_set = dir.path().join("keys.json");
        let run = warrant([
            OsStr::new("keygen"),
            OsStr::new("--out"),
            key.as_os_str(),
            OsStr::new("--key-id"),
            OsStr::new(&kid.to_string()),
            OsStr::new("--public-out"),
            key_set.as_os_str(),
        ]);
        run.ok();
        let public_key = run.stdout.trim().to_owned();
        Self {
            dir,
            key,
            key_set,
            public_key,
        }
    }

    /// The 64 hex digits of the public key.
    pub(crate) fn public_hex(&self) -> &str {
        self.public_key
            .strip_prefix("ed25519/")
            .expect("keygen prints ed25519/<hex>")
    }

    /// A path inside this issuer's temp dir.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in this issuer's temp dir.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, contents).expect("writing a test file");
        p
    }

    /// `warrant mint --key <key> ARGS`.
    pub(crate) fn mint_run(&self, args: &[&str]) -> Run {
        let mut all: Vec<&OsStr> = vec![
            OsStr::new("mint"),
            OsStr::new("--key"),
            self.key.as_os_str(),
        ];
        all.extend(args.iter().map(OsStr::new));
        warrant(all)
    }

    /// Mints and returns the token (asserting success and a single base64 line).
    #[track_caller]
    pub(crate) fn mint(&self, args: &[&str]) -> String {
        let run = self.mint_run(args);
        run.ok();
        single_token_line(&run)
    }

    /// `warrant verify --token TOKEN --keys <key set> --allow-bearer ARGS` (most tests mint
    /// bearer tokens; `holder.rs` tests holder-bound ones without `--allow-bearer`).
    pub(crate) fn verify(&self, token: &str, args: &[&str]) -> Run {
        let mut all: Vec<&OsStr> = vec![
            OsStr::new("verify"),
            OsStr::new("--token"),
            OsStr::new(token),
            OsStr::new("--keys"),
            self.key_set.as_os_str(),
            OsStr::new("--allow-bearer"),
        ];
        all.extend(args.iter().map(OsStr::new));
        warrant(all)
    }

    /// `warrant inspect --token TOKEN --keys <key set> --json`, asserting success.
    #[track_caller]
    pub(crate) fn inspect_json(&self, token: &str) -> J {
        let run = warrant([
            OsStr::new("inspect"),
            OsStr::new("--token"),
            OsStr::new(token),
            OsStr::new("--keys"),
            self.key_set.as_os_str(),
            OsStr::new("--json"),
        ]);
        run.ok();
        run.json()
    }
}

/// `warrant attenuate --token TOKEN ARGS`, asserting success; returns the new token.
#[track_caller]
pub(crate) fn attenuate(token: &str, args: &[&str]) -> String {
    let mut all = vec!["attenuate", "--token", token];
    all.extend_from_slice(args);
    let run = warrant(all);
    run.ok();
    single_token_line(&run)
}

#[track_caller]
fn single_token_line(run: &Run) -> String {
    let token = run.stdout.trim_end_matches('\n');
    assert!(
        !token.is_empty()
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=')),
        "expected one line of URL-safe base64: {run:?}"
    );
    token.to_owned()
}

/// A JSON string field, asserting it is there.
#[track_caller]
pub(crate) fn str_field<'a>(v: &'a J, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(J::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v:#}"))
}

/// The issue date of `warrant(2, hex:…, "…", <date>);` in a block's Datalog (a test
/// helper reading what `inspect` prints for people; warrant itself reads tokens as data).
#[track_caller]
pub(crate) fn issued_at(datalog: &str) -> i64 {
    let line = datalog
        .lines()
        .find_map(|l| l.strip_prefix("warrant(2, "))
        .unwrap_or_else(|| panic!("no warrant fact in {datalog}"));
    let date = line
        .trim_end_matches(");")
        .rsplit(", ")
        .next()
        .unwrap_or_else(|| panic!("no date in {line}"));
    parse_utc(date)
}

/// The one date form `warrant` prints: `YYYY-MM-DDTHH:MM:SSZ`, UTC, whole seconds.
const UTC: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// `YYYY-MM-DDTHH:MM:SSZ` to Unix seconds; any other form (a fraction, an offset, a
/// missing zero) fails the test.
#[track_caller]
pub(crate) fn parse_utc(s: &str) -> i64 {
    let t = PrimitiveDateTime::parse(s, UTC)
        .unwrap_or_else(|e| panic!("not a UTC RFC 3339 date with whole seconds ({e}): {s:?}"))
        .assume_utc()
        .unix_timestamp();
    assert_eq!(format_utc(t), s, "not in the form `YYYY-MM-DDTHH:MM:SSZ`");
    t
}

/// Unix seconds to `YYYY-MM-DDTHH:MM:SSZ`.
#[track_caller]
pub(crate) fn format_utc(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(UTC).ok())
        .unwrap_or_else(|| panic!("{t} has no date of four digits"))
}

/// The current time in Unix seconds.
pub(crate) fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The directory of the Biscuit conformance samples.
pub(crate) fn samples_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/biscuit-samples"
    ))
}
