//! `warrant inspect`: signatures, per-block summaries, Datalog, revocation ids, JSON.

use biscuit_auth::{Algorithm, Biscuit, PublicKey};

use crate::support::{attenuate, str_field, warrant, warrant_stdin, Issuer};

fn token_with_two_blocks(issuer: &Issuer) -> String {
    let token = issuer.mint(&[
        "--audience",
        "support-api",
        "--human",
        "alice",
        "--allow",
        "read:tickets/*",
        "--when",
        "ticket.status eq open",
        "--deny",
        "read:tickets/secret",
    ]);
    attenuate(&token, &["--ttl", "5m", "--allow", "read:tickets/1"])
}

fn is_revocation_id(s: &str) -> bool {
    s.len() == 128 && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn without_a_key_the_signatures_are_not_checked() {
    let issuer = Issuer::new();
    let token = token_with_two_blocks(&issuer);
    let run = warrant(["inspect", "--token", &token]);
    run.ok().stdout_has("signatures: not checked");
    let json = warrant(["inspect", "--token", &token, "--json"])
        .ok()
        .json();
    assert_eq!(str_field(&json, "/signatures/status"), "not_checked");
}

#[test]
fn with_the_right_key_the_signatures_are_valid() {
    let issuer = Issuer::new();
    let token = token_with_two_blocks(&issuer);
    warrant([
        "inspect",
        "--token",
        &token,
        "--public-key",
        &issuer.public_key,
    ])
    .ok()
    .stdout_has("signatures: valid\n");
    warrant([
        "inspect",
        "--token",
        &token,
        "--keys",
        issuer.key_set.to_str().unwrap(),
    ])
    .ok()
    .stdout_has("signatures: valid\n")
    .stdout_has("root key id: 1\n");
    assert_eq!(
        str_field(&issuer.inspect_json(&token), "/signatures/status"),
        "valid"
    );
}

#[test]
fn with_another_key_the_signatures_are_invalid() {
    let issuer = Issuer::new();
    let other = Issuer::new();
    let token = token_with_two_blocks(&issuer);
    let run = warrant([
        "inspect",
        "--token",
        &token,
        "--public-key",
        &other.public_key,
    ]);
    run.denied().stdout_has("signatures: INVALID");
    // The blocks are still shown.
    run.stdout_has("block 0 (signed by issuer)");

    let run = warrant([
        "inspect",
        "--token",
        &token,
        "--public-key",
        &other.public_key,
        "--json",
    ]);
    let json = run.denied().json();
    assert_eq!(
        str_field(&json, "/signatures/status"),
        "invalid",
        "{json:#}"
    );
    assert!(
        str_field(&json, "/signatures/detail").contains("signature"),
        "{json:#}"
    );
}

#[test]
fn a_key_set_without_the_token_key_id_is_a_denial() {
    let issuer = Issuer::with_kid(1);
    let other = Issuer::with_kid(2);
    let token = token_with_two_blocks(&issuer);
    let run = warrant([
        "inspect",
        "--token",
        &token,
        "--keys",
        other.key_set.to_str().unwrap(),
    ]);
    run.denied().stderr_has("warrant: ").stderr_has("key id");
}

#[test]
fn the_text_report_shows_blocks_summaries_datalog_and_revocation_ids() {
    let issuer = Issuer::new();
    let token = token_with_two_blocks(&issuer);
    let run = warrant([
        "inspect",
        "--token",
        &token,
        "--public-key",
        &issuer.public_key,
    ]);
    run.ok()
        .stdout_has("\nblock 0 (signed by issuer)\n")
        .stdout_has("\nblock 1 (signed by attenuation)\n")
        .stdout_has("  - on behalf of human `alice`")
        .stdout_has("  - only for audience `support-api`\n")
        .stdout_has("  - not bound to a holder: a bearer token\n")
        .stdout_has("  - allow[0] allows `read` on `tickets/*` when `ticket.status` is \"open\"\n")
        .stdout_has("  - deny[0] forbids `read` on `tickets/secret`\n")
        .stdout_has("  - allow[0] narrows to `read` on `tickets/1`\n")
        .stdout_has("  datalog:\n")
        .stdout_has("    warrant(2, hex:")
        .stdout_has("    human(\"alice\", \"unverified\", ")
        .stdout_has("    check if time($t), $t <= ")
        // Deny rules fail closed (profile v2): a check that passes only outside the rule.
        .stdout_has("    check if resource($r), !($r == \"tickets/secret\") or action($a), !($a == \"read\");\n");
    // No grant is embedded in the token any more: it is decompiled from the checks.
    run.stdout_lacks("warrant_grant");

    // One revocation id per block, the same ones Biscuit computes.
    let ids: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("revocation id: "))
        .collect();
    let root = PublicKey::from_bytes_hex(issuer.public_hex(), Algorithm::Ed25519).unwrap();
    let biscuit = Biscuit::from_base64(&token, root).unwrap();
    let expected: Vec<String> = biscuit
        .revocation_identifiers()
        .iter()
        .map(hex::encode)
        .collect();
    assert_eq!(ids, expected);
    assert!(ids.iter().all(|id| is_revocation_id(id)), "{ids:?}");
}

#[test]
fn the_json_report() {
    let issuer = Issuer::new();
    let token = token_with_two_blocks(&issuer);
    let json = issuer.inspect_json(&token);
    assert_eq!(str_field(&json, "/signatures/status"), "valid");
    assert_eq!(json["root_key_id"], 1, "{json:#}");
    let blocks = json["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 2, "{json:#}");
    let root = PublicKey::from_bytes_hex(issuer.public_hex(), Algorithm::Ed25519).unwrap();
    let biscuit = Biscuit::from_base64(&token, root).unwrap();
    let revocation = biscuit.revocation_identifiers();
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(block["index"], i, "{block:#}");
        // The JSON form shows the Datalog whole, as Biscuit prints each statement (one a
        // line: these hold no control character to escape).
        assert_eq!(
            block["datalog"].as_str().map(|d| d.replace('\n', "")),
            Some(biscuit.print_block_source(i).unwrap().replace('\n', "")),
            "{block:#}"
        );
        let id = str_field(block, "/revocation_id");
        assert!(is_revocation_id(id), "{block:#}");
        assert_eq!(id, hex::encode(&revocation[i]));
        assert!(block["summary"].as_array().is_some_and(|s| !s.is_empty()));
    }
    assert!(str_field(&json, "/blocks/0/datalog").starts_with("warrant(2, hex:"));
    assert_eq!(str_field(&json, "/blocks/0/signed_by"), "issuer");
    assert_eq!(str_field(&json, "/blocks/1/signed_by"), "attenuation");
    assert_ne!(blocks[0]["revocation_id"], blocks[1]["revocation_id"]);
}

#[test]
fn token_file_holding_base64_text_and_standard_input() {
    let issuer = Issuer::new();
    let token = token_with_two_blocks(&issuer);
    let file = issuer.write("token.txt", &format!("{token}\n"));
    let from_file = warrant([
        "inspect",
        "--token-file",
        file.to_str().unwrap(),
        "--public-key",
        &issuer.public_key,
        "--json",
    ]);
    let from_stdin = warrant_stdin(
        [
            "inspect",
            "--token",
            "-",
            "--public-key",
            &issuer.public_key,
            "--json",
        ],
        &format!("  {token}\n\n"),
    );
    assert_eq!(from_file.ok().json(), issuer.inspect_json(&token));
    assert_eq!(from_stdin.ok().json(), issuer.inspect_json(&token));
}

#[test]
fn input_errors() {
    warrant(["inspect", "--token", "!!!"])
        .input_error()
        .stderr_has("base64");
    warrant(["inspect", "--token", "aGVsbG8gd29ybGQ="])
        .input_error()
        .stderr_has("not a Biscuit token");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bc");
    warrant(["inspect", "--token-file", missing.to_str().unwrap()])
        .input_error()
        .stderr_has("missing.bc");
    // --token or --token-file is required.
    warrant(["inspect"]).code(2);
}
