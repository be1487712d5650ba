//! `warrant keygen`

use std::ffi::OsStr;

use crate::support::{warrant, Issuer};

fn is_public_key(s: &str) -> bool {
    s.strip_prefix("ed25519/").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

#[test]
fn writes_an_owner_only_pem_file_and_prints_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("issuer.key");
    let run = warrant([OsStr::new("keygen"), OsStr::new("--out"), out.as_os_str()]);
    run.ok();
    let printed = run.stdout.trim_end_matches('\n');
    assert!(is_public_key(printed), "keygen printed {printed:?}");
    assert_eq!(run.stdout.lines().count(), 1, "{run:?}");

    let pem = std::fs::read_to_string(&out).unwrap();
    assert!(pem.contains("-----BEGIN PRIVATE KEY-----"), "{pem}");
    assert!(
        pem.trim_end().ends_with("-----END PRIVATE KEY-----"),
        "{pem}"
    );
    assert!(
        !pem.contains("warrant-key-id"),
        "no --key-id, no id line: {pem}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key file mode is {:o}", mode & 0o777);
    }
}

#[test]
fn two_keys_differ() {
    let a = Issuer::new();
    let b = Issuer::new();
    assert_ne!(a.public_key, b.public_key);
}

#[test]
fn public_out_writes_a_key_set_with_the_key_id() {
    let issuer = Issuer::with_kid(42);
    assert!(is_public_key(&issuer.public_key));
    let text = std::fs::read_to_string(&issuer.key_set).unwrap();
    let set: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys = set["keys"].as_array().expect("a `keys` list");
    assert_eq!(keys.len(), 1, "{set:#}");
    assert_eq!(keys[0]["kid"], 42, "{set:#}");
    assert_eq!(keys[0]["alg"], "Ed25519", "{set:#}");
    assert_eq!(keys[0]["public_key"], issuer.public_key.as_str(), "{set:#}");
    let pem = std::fs::read_to_string(&issuer.key).unwrap();
    assert!(pem.starts_with("warrant-key-id: 42\n"), "{pem}");
}

#[test]
fn refuses_to_overwrite_an_existing_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("issuer.key");
    std::fs::write(&out, "precious").unwrap();
    warrant([OsStr::new("keygen"), OsStr::new("--out"), out.as_os_str()])
        .input_error()
        .stderr_has("already exists");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
}

#[test]
fn refuses_to_overwrite_an_existing_public_out_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("issuer.key");
    let public = dir.path().join("keys.json");
    std::fs::write(&public, "precious").unwrap();
    warrant([
        OsStr::new("keygen"),
        OsStr::new("--out"),
        out.as_os_str(),
        OsStr::new("--key-id"),
        OsStr::new("1"),
        OsStr::new("--public-out"),
        public.as_os_str(),
    ])
    .input_error()
    .stderr_has("already exists");
    assert_eq!(std::fs::read_to_string(&public).unwrap(), "precious");
}

/// Regression: the refused command has already written `--out`, a private key
/// whose public key was never printed, and the same command run again now fails on it.
#[test]
fn a_refused_keygen_leaves_no_private_key_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("issuer.key");
    let public = dir.path().join("keys.json");
    std::fs::write(&public, "precious").unwrap();
    warrant([
        OsStr::new("keygen"),
        OsStr::new("--out"),
        out.as_os_str(),
        OsStr::new("--key-id"),
        OsStr::new("1"),
        OsStr::new("--public-out"),
        public.as_os_str(),
    ])
    .input_error();
    assert!(
        !out.exists(),
        "keygen failed (exit 2) but still created the private key file {}",
        out.display()
    );
}

#[test]
fn public_out_without_key_id_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("issuer.key");
    let public = dir.path().join("keys.json");
    warrant([
        OsStr::new("keygen"),
        OsStr::new("--out"),
        out.as_os_str(),
        OsStr::new("--public-out"),
        public.as_os_str(),
    ])
    .input_error()
    .stderr_has("--key-id");
    assert!(!out.exists(), "nothing is written on a usage error");
    assert!(!public.exists(), "nothing is written on a usage error");
}

#[test]
fn a_missing_out_is_a_usage_error() {
    let run = warrant(["keygen"]);
    run.code(2);
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[test]
fn a_bad_key_id_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("issuer.key");
    warrant([
        OsStr::new("keygen"),
        OsStr::new("--out"),
        out.as_os_str(),
        OsStr::new("--key-id"),
        OsStr::new("minus-one"),
    ])
    .code(2);
    assert!(!out.exists());
}
