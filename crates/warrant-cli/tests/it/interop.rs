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

/// A P-256 agent key file (`warrant agent keygen --alg es256`) and the public key warrant
/// printed for it (`secp256r1/<compressed point>`).
fn p256_key_file(dir: &Path) -> (std::path::PathBuf, String) {
    let path = dir.join("agent-p256.key");
    let run = warrant([
        OsStr::new("agent"),
        OsStr::new("keygen"),
        OsStr::new("--alg"),
        OsStr::new("es256"),
        OsStr::new("--out"),
        path.as_os_str(),
    ]);
    run.ok();
    let public = run.stdout.lines().next().unwrap().to_owned();
    (path, public)
}

/// OpenSSL reads warrant's P-256 key files, and warrant reads OpenSSL's (`genpkey`).
#[test]
fn openssl_and_warrant_read_each_others_p256_key_files() {
    if Command::new("openssl").arg("version").output().is_err() {
        return unavailable("`openssl`");
    }
    let dir = tempfile::tempdir().unwrap();
    let compressed = |path: &Path| {
        let out = Command::new("openssl")
            .args([
                "ec",
                "-pubout",
                "-conv_form",
                "compressed",
                "-outform",
                "DER",
                "-in",
            ])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl could not read {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        // The SubjectPublicKeyInfo ends with the 33-byte compressed point.
        let der = out.stdout;
        let hex: String = der[der.len() - 33..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("secp256r1/{hex}")
    };
    let (path, public) = p256_key_file(dir.path());
    assert_eq!(compressed(&path), public);
    // A key OpenSSL made: warrant proves with it, its `jwk` is OpenSSL's public key.
    let theirs = dir.path().join("openssl-p256.key");
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let holder = compressed(&theirs);
    let issuer = crate::support::Issuer::new();
    let token = issuer.mint(&["--allow", "read:tickets/*", "--holder", &holder]);
    let url = "https://api.example/tickets/1";
    let proof = warrant([
        OsStr::new("proof"),
        OsStr::new("--key"),
        theirs.as_os_str(),
        OsStr::new("--token"),
        OsStr::new(&token),
        OsStr::new("--method"),
        OsStr::new("GET"),
        OsStr::new("--url"),
        OsStr::new(url),
    ]);
    proof.ok();
    let keys = issuer.key_set.to_str().unwrap();
    warrant([
        "verify",
        "--token",
        &token,
        "--keys",
        keys,
        "--resource",
        "tickets/1",
        "--action",
        "read",
        "--proof",
        proof.stdout.trim(),
        "--method",
        "GET",
        "--url",
        url,
    ])
    .ok()
    .stdout_has("allowed");
}

/// Python `cryptography` reads warrant's P-256 key file, finds the printed public key, and
/// verifies an `ES256` proof `warrant proof` made with it (JWS `r‖s`, turned into DER for
/// its ECDSA), with the key the proof's `jwk` states.
#[test]
fn python_cryptography_reads_p256_key_files_and_verifies_es256_proofs() {
    let python = std::env::var("WARRANT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_it = Command::new(&python)
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_it {
        return unavailable(&format!("Python `cryptography` (for `{python}`)"));
    }
    const SCRIPT: &str = "\
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization as s
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
def b64(t): return base64.urlsafe_b64decode(t + '=' * (-len(t) % 4))
key = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), password=None)
point = key.public_key().public_bytes(s.Encoding.X962, s.PublicFormat.CompressedPoint)
print('secp256r1/' + point.hex())
h, c, sig = sys.argv[2].split('.')
header = json.loads(b64(h))
assert header['alg'] == 'ES256', header
jwk = header['jwk']
x, y = int.from_bytes(b64(jwk['x']), 'big'), int.from_bytes(b64(jwk['y']), 'big')
public = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
raw = b64(sig)
assert len(raw) == 64, len(raw)
der = encode_dss_signature(int.from_bytes(raw[:32], 'big'), int.from_bytes(raw[32:], 'big'))
public.verify(der, (h + '.' + c).encode(), ec.ECDSA(hashes.SHA256()))
print('verified')
";
    let dir = tempfile::tempdir().unwrap();
    let (path, public) = p256_key_file(dir.path());
    let issuer = crate::support::Issuer::new();
    let token = issuer.mint(&["--allow", "read:tickets/*", "--holder", &public]);
    let proof = warrant([
        OsStr::new("proof"),
        OsStr::new("--key"),
        path.as_os_str(),
        OsStr::new("--token"),
        OsStr::new(&token),
        OsStr::new("--method"),
        OsStr::new("GET"),
        OsStr::new("--url"),
        OsStr::new("https://api.example/tickets/1"),
    ]);
    proof.ok();
    let out = Command::new(&python)
        .args(["-c", SCRIPT])
        .arg(&path)
        .arg(proof.stdout.trim())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cryptography: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(public.as_str()));
    assert_eq!(lines.next(), Some("verified"));
}
