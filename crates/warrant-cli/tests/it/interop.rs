//! Key files other toolkits read: `openssl pkey` and Python `cryptography` load the
//! private keys `warrant keygen` and `warrant agent keygen` write (PKCS#8 v1), and find the
//! public key warrant printed. Without the tool the test says why it skipped, except under
//! CI (`CI` set), where a missing tool is a failure.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use crate::support::warrant;

/// Skips (prints why) locally, fails in CI.
fn unavailable(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is needed by this test in CI"
    );
    eprintln!("skipped: {what} is not installed");
}

/// Key files from both commands, with and without a key id line; each with the public
/// key warrant printed for it.
fn key_files(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for (name, args) in [
        ("issuer.key", &["keygen", "--key-id", "7"][..]),
        ("plain.key", &["keygen"][..]),
        ("agent.key", &["agent", "keygen"][..]),
    ] {
        let path = dir.join(name);
        let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        all.extend([OsStr::new("--out"), path.as_os_str()]);
        let run = warrant(all);
        run.ok();
        let public = run.stdout.lines().next().unwrap().to_owned();
        out.push((path, public));
    }
    out
}

#[test]
fn openssl_reads_warrant_key_files() {
    if Command::new("openssl").arg("version").output().is_err() {
        return unavailable("`openssl`");
    }
    let dir = tempfile::tempdir().unwrap();
    for (path, public) in key_files(dir.path()) {
        let out = Command::new("openssl")
            .args(["pkey", "-pubout", "-outform", "DER", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl pkey could not read {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        // The SubjectPublicKeyInfo ends with the 32 raw bytes of the key.
        let der = out.stdout;
        assert_eq!(der.len(), 44, "{der:?}");
        let hex: String = der[12..].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(format!("ed25519/{hex}"), public, "{}", path.display());
    }
}

#[test]
fn python_cryptography_reads_warrant_key_files() {
    let python = std::env::var("WARRANT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_it = Command::new(&python)
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_it {
        return unavailable(&format!("Python `cryptography` (for `{python}`)"));
    }
    const SCRIPT: &str = "\
import sys
from cryptography.hazmat.primitives import serialization as s
key = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), password=None)
raw = key.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
print('ed25519/' + raw.hex())
";
    let dir = tempfile::tempdir().unwrap();
    for (path, public) in key_files(dir.path()) {
        let out = Command::new(&python)
            .args(["-c", SCRIPT])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cryptography could not read {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            public,
            "{}",
            path.display()
        );
    }
}
