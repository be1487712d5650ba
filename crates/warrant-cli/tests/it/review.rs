//! Review (branch review9): CLI-side attacks on the audit and admin defences that still
//! succeed. Each test asserts the promised behaviour, so it fails until fixed.

use std::path::Path;

use crate::crash::{alice_config, Server};
use crate::support::warrant;

/// An issuer with `n` revocations (one audit entry each), signing its head every 4
/// entries; its data directory and admin token's path.
fn busy_issuer(dir: &Path, n: usize) -> (Server, std::path::PathBuf, String) {
    let (_, config) = alice_config(dir, "audit_sign_every = 4");
    let data = dir.join("data");
    let server = Server::start(&config, &data, dir.join("serve.log"), &[]);
    let admin = data.join("admin.token").to_str().unwrap().to_owned();
    for i in 0..n {
        warrant([
            "revoke",
            "--issuer",
            &server.url,
            "--admin-token",
            &admin,
            "--token-id",
            &format!("{i:032x}"),
        ])
        .ok();
    }
    (server, data, admin)
}

/// §11: someone who can write the database deletes the *oldest* entries (say, the mint
/// and the revocations they want forgotten). Every later head signature still verifies:
/// each covers the entry it names, and the first remaining entry's `prev_hash` is never
/// compared with anything. `warrant audit verify --url` reads the whole chain from
/// `since=0`, so an answer that does not start at entry 1 (with the genesis `prev_hash`)
/// is a truncated log, yet it reports "ok".
#[test]
fn review_audit_verify_url_accepts_a_chain_missing_its_first_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (server, data, admin) = busy_issuer(dir.path(), 10);
    let db = data.join("warrant.db");
    assert!(db.exists(), "{}", db.display());
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("PRAGMA busy_timeout = 5000; DELETE FROM audit WHERE seq <= 6;")
        .output()
        .expect("sqlite3");
    assert!(out.status.success(), "{out:?}");
    let run = warrant([
        "audit",
        "verify",
        "--url",
        &server.url,
        "--admin-token",
        &admin,
    ]);
    assert_ne!(
        run.code,
        Some(0),
        "entries 1 to 6 deleted from the database, and verify says: {}",
        run.stdout
    );
}

/// `warrant admin rotate --admin-token DIR/creds.token` writes the new credential to
/// `DIR/creds.new` and renames it over the file, after deleting whatever `creds.new` was
/// (`let _ = remove_file`): a file of the operator's that happens to have that name is
/// lost without a word.
#[test]
fn review_admin_rotate_does_not_delete_an_unrelated_file() {
    let dir = tempfile::tempdir().unwrap();
    let (server, data, admin) = busy_issuer(dir.path(), 0);
    let creds = dir.path().join("creds.token");
    std::fs::copy(&admin, &creds).unwrap();
    let mine = dir.path().join("creds.new");
    std::fs::write(&mine, "notes of the operator's\n").unwrap();
    warrant([
        "admin",
        "rotate",
        "--issuer",
        &server.url,
        "--admin-token",
        creds.to_str().unwrap(),
    ])
    .ok();
    let _ = data;
    assert_eq!(
        std::fs::read_to_string(&mine).ok().as_deref(),
        Some("notes of the operator's\n"),
        "`creds.new` was deleted by the rotation"
    );
}
