//! `warrant audit verify` against a real issuer: exports whose signatures were stripped
//! (and hashes recomputed) fail, `--file` needs the key set, `--url` reads every page.

use std::path::Path;

use warrant_issuer::audit::AuditRow;
use warrant_issuer::audit::{entry_hash, parse_export, GENESIS, HEAD_SIGNATURE};

use crate::crash::{alice_config, http_get, Server};
use crate::support::warrant;

/// An issuer with `n` revocations (one audit entry each), signing its head every 4
/// entries; its admin token's path.
fn busy_issuer(dir: &Path, n: usize) -> (Server, String) {
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
    (server, admin)
}

fn export(server: &Server, admin: &str) -> Vec<AuditRow> {
    let token = std::fs::read_to_string(admin).unwrap();
    let (status, text) = http_get(
        &format!("{}/v1/audit?limit=100000", server.url),
        Some(token.trim()),
    );
    assert_eq!(status, 200, "{text}");
    parse_export(&text).unwrap()
}

fn write_rows(path: &Path, rows: &[AuditRow]) {
    let text: String = rows
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    std::fs::write(path, text).unwrap();
}

/// Renumbers, relinks and rehashes every entry, as someone who can write the database
/// could.
fn rehash(rows: &mut [AuditRow]) {
    let mut prev = GENESIS.to_owned();
    for (i, r) in rows.iter_mut().enumerate() {
        r.seq = i64::try_from(i).unwrap() + 1;
        r.prev_hash = prev;
        r.hash = entry_hash(r);
        prev = r.hash.clone();
    }
}

#[test]
fn a_stripped_and_rehashed_export_fails_audit_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (server, admin) = busy_issuer(dir.path(), 6);
    let rows = export(&server, &admin);
    let (status, keys) = http_get(&format!("{}/.well-known/warrant-keys", server.url), None);
    assert_eq!(status, 200);
    let keys_path = dir.path().join("keys.json");
    std::fs::write(&keys_path, keys).unwrap();
    let keys_arg = keys_path.to_str().unwrap();

    // The export as it is verifies, and says how far the signatures reach.
    let intact = dir.path().join("audit.jsonl");
    write_rows(&intact, &rows);
    let last = rows.last().unwrap().seq;
    warrant([
        "audit",
        "verify",
        "--file",
        intact.to_str().unwrap(),
        "--keys",
        keys_arg,
    ])
    .ok()
    .stdout_has(&format!("entries 1 to {} signed, 1 after", last - 1));

    // Signatures removed, a revocation erased from the history, every hash recomputed:
    // every link holds, but nothing vouches for the entries.
    let mut stripped: Vec<AuditRow> = rows
        .iter()
        .filter(|r| r.kind != HEAD_SIGNATURE)
        .cloned()
        .collect();
    let erased = stripped
        .iter()
        .position(|r| r.kind == "revocation")
        .unwrap();
    stripped.remove(erased);
    rehash(&mut stripped);
    let tampered = dir.path().join("tampered.jsonl");
    write_rows(&tampered, &stripped);
    let run = warrant([
        "audit",
        "verify",
        "--file",
        tampered.to_str().unwrap(),
        "--keys",
        keys_arg,
    ]);
    run.denied().stderr_has(&format!(
        "warrant: the audit chain is not vouched for: no head signature verifies with the key set: nothing vouches for these {} entries (were the signatures removed and the hashes recomputed?)",
        stripped.len()
    ));

    // The later signatures dropped, the entries after the first signed head rewritten:
    // they are an unsigned tail longer than allowed.
    let first_sig = rows.iter().position(|r| r.kind == HEAD_SIGNATURE).unwrap();
    let mut cut: Vec<AuditRow> = rows[..=first_sig].to_vec();
    cut.extend(
        rows[first_sig + 1..]
            .iter()
            .filter(|r| r.kind != HEAD_SIGNATURE)
            .cloned(),
    );
    let mut prev = cut[first_sig].hash.clone();
    for (i, r) in cut.iter_mut().enumerate().skip(first_sig + 1) {
        r.seq = i64::try_from(i).unwrap() + 1;
        r.prev_hash = prev;
        r.hash = entry_hash(r);
        prev = r.hash.clone();
    }
    let cut_path = dir.path().join("cut.jsonl");
    write_rows(&cut_path, &cut);
    let run = warrant([
        "audit",
        "verify",
        "--file",
        cut_path.to_str().unwrap(),
        "--keys",
        keys_arg,
        "--max-unsigned",
        "2",
    ]);
    run.denied()
        .stderr_has("come after the last signed head (entry ");

    // Without a key set nothing could vouch: an input error, not an "ok".
    warrant(["audit", "verify", "--file", tampered.to_str().unwrap()])
        .input_error()
        .stderr_has("give --keys");
}

#[test]
fn audit_verify_with_url_reads_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let (server, admin) = busy_issuer(dir.path(), 20);
    let run = warrant([
        "audit",
        "verify",
        "--url",
        &server.url,
        "--admin-token",
        &admin,
        "--page-size",
        "7",
    ]);
    run.ok();
    // Every entry of the chain, read 7 at a time (the export signs the head first).
    let rows = export(&server, &admin);
    assert!(rows.len() > 21, "several pages: {}", rows.len());
    let expected = format!(
        "ok: {} entries, head {} `{}`",
        rows.len(),
        rows.last().unwrap().seq,
        rows.last().unwrap().hash
    );
    assert!(
        run.stdout.starts_with(&expected),
        "{expected}\n{}",
        run.stdout
    );
    run.stdout_has(&format!("entries 1 to {} signed", rows.len() - 1));
}

#[test]
fn an_export_missing_its_first_entries_fails_unless_since_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (server, admin) = busy_issuer(dir.path(), 12);
    let rows = export(&server, &admin);
    let keys_url = format!("{}/.well-known/warrant-keys", server.url);
    let file = dir.path().join("part.jsonl");
    write_rows(&file, &rows[5..]);
    let part = file.to_str().unwrap();
    warrant(["audit", "verify", "--file", part, "--keys", &keys_url])
        .denied()
        .stderr_has(
            "warrant: the audit chain is broken: the export starts at entry 6, not at entry 1: the entries before it are missing (deleted from the database?); to check a later part of the chain on purpose, give --since 5",
        );
    warrant([
        "audit", "verify", "--file", part, "--keys", &keys_url, "--since", "5",
    ])
    .ok()
    .stdout_has(&format!("entries 6 to {} signed", rows.len() - 1));
    // --url reads from there, and a key set may be given twice.
    warrant([
        "audit",
        "verify",
        "--url",
        &server.url,
        "--admin-token",
        &admin,
        "--since",
        "5",
        "--keys",
        &keys_url,
        "--keys",
        &keys_url,
    ])
    .ok()
    .stdout_has("entries 6 to ");
}
