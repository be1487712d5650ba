//! `warrant attenuate`: a block that only narrows.

use biscuit_auth::{Algorithm, Biscuit, PublicKey};

use crate::support::{attenuate, parse_utc, str_field, warrant, warrant_stdin, Issuer};

fn parent(issuer: &Issuer) -> String {
    issuer.mint(&["--ttl", "1h", "--allow", "read,write:tickets/*"])
}

fn request(resource: &str, action: &str) -> [String; 4] {
    [
        "--resource".into(),
        resource.into(),
        "--action".into(),
        action.into(),
    ]
}

fn verify(issuer: &Issuer, token: &str, resource: &str, action: &str) -> crate::support::Run {
    let r = request(resource, action);
    let args: Vec<&str> = r.iter().map(String::as_str).collect();
    issuer.verify(token, &args)
}

#[test]
fn the_narrower_token_denies_what_the_parent_allows() {
    let issuer = Issuer::new();
    let token = parent(&issuer);
    let narrow = attenuate(&token, &["--allow", "read:tickets/1"]);

    // What both allow.
    verify(&issuer, &token, "tickets/1", "read").ok();
    verify(&issuer, &narrow, "tickets/1", "read").ok();

    // What only the parent allows.
    verify(&issuer, &token, "tickets/1", "write").ok();
    verify(&issuer, &token, "tickets/2", "read").ok();
    let reason = verify(&issuer, &narrow, "tickets/1", "write")
        .reason()
        .to_owned();
    assert!(reason.starts_with("block 1 (an attenuation): "), "{reason}");
    assert!(
        reason.contains("no allow rule covers action `write` on `tickets/1`"),
        "{reason}"
    );
    assert!(verify(&issuer, &narrow, "tickets/2", "read")
        .reason()
        .contains("block 1"));
}

#[test]
fn attenuation_cannot_widen() {
    let issuer = Issuer::new();
    let token = parent(&issuer);
    let wider = attenuate(&token, &["--allow", "delete:*"]);
    let reason = verify(&issuer, &wider, "users/1", "delete")
        .reason()
        .to_owned();
    assert!(
        reason.contains("no allow rule covers action `delete` on `users/1`"),
        "{reason}"
    );
    assert!(
        !reason.contains("block 1"),
        "the parent's rule refuses: {reason}"
    );
}

#[test]
fn a_deny_rule_and_an_audience_narrow_too() {
    let issuer = Issuer::new();
    let token = parent(&issuer);
    let narrow = attenuate(
        &token,
        &["--deny", "write:tickets/*", "--audience", "support-api"],
    );
    let with_audience = |resource: &str, action: &str, audience: &str| {
        issuer.verify(
            &narrow,
            &[
                "--resource",
                resource,
                "--action",
                action,
                "--audience",
                audience,
            ],
        )
    };
    with_audience("tickets/1", "read", "support-api").ok();
    assert!(with_audience("tickets/1", "write", "support-api")
        .reason()
        .contains("deny[0] forbids `write` on `tickets/1`"));
    assert!(with_audience("tickets/1", "read", "billing-api")
        .reason()
        .contains("not `billing-api`"));
    assert!(verify(&issuer, &narrow, "tickets/1", "read")
        .reason()
        .contains("names no audience"));
}

#[test]
fn a_shorter_ttl_shows_in_inspect() {
    let issuer = Issuer::new();
    let token = parent(&issuer);
    let parent_exp = parse_utc(str_field(&issuer.inspect_json(&token), "/expires_at"));
    let narrow = attenuate(&token, &["--ttl", "5m"]);
    let report = issuer.inspect_json(&narrow);
    let exp = parse_utc(str_field(&report, "/expires_at"));
    assert!(
        exp < parent_exp - 3000,
        "a 5m attenuation of a 1h token must expire much earlier: {report:#}"
    );
    assert_eq!(
        parse_utc(str_field(&report, "/blocks/1/expires_at")),
        exp,
        "{report:#}"
    );
    assert_eq!(
        parse_utc(str_field(&report, "/blocks/0/expires_at")),
        parent_exp,
        "{report:#}"
    );
    assert_eq!(report["blocks"].as_array().map(Vec::len), Some(2));
    // The shorter expiry is enforced.
    let at = crate::support::format_utc(exp + 1);
    let run = issuer.verify(
        &narrow,
        &["--resource", "tickets/1", "--action", "read", "--at", &at],
    );
    assert!(run.reason().contains("expired"), "{run:?}");
}

#[test]
fn nothing_to_narrow_is_a_usage_error() {
    let issuer = Issuer::new();
    let token = parent(&issuer);
    warrant(["attenuate", "--token", &token])
        .input_error()
        .stderr_has("narrows nothing");
}

#[test]
fn attenuating_garbage_is_an_input_error() {
    warrant(["attenuate", "--token", "!!!", "--ttl", "5m"])
        .input_error()
        .stderr_has("base64");
    warrant(["attenuate", "--token", "aGVsbG8gd29ybGQ", "--ttl", "5m"])
        .input_error()
        .stderr_has("not a Biscuit token");
}

#[test]
fn the_token_on_standard_input() {
    let issuer = Issuer::new();
    let token = parent(&issuer);
    let run = warrant_stdin(
        ["attenuate", "--token", "-", "--allow", "read:tickets/1"],
        &format!("\n {token} \n"),
    );
    run.ok();
    let narrow = run.stdout.trim();
    verify(&issuer, narrow, "tickets/1", "read").ok();
    verify(&issuer, narrow, "tickets/1", "write").denied();
}

#[test]
fn attenuating_twice_adds_two_blocks() {
    let issuer = Issuer::new();
    let token = parent(&issuer);
    let once = attenuate(&token, &["--allow", "read:tickets/*"]);
    let twice = attenuate(&once, &["--allow", "read,write:tickets/1"]);
    let report = issuer.inspect_json(&twice);
    assert_eq!(report["blocks"].as_array().map(Vec::len), Some(3));
    verify(&issuer, &twice, "tickets/1", "read").ok();
    // Block 2 allows write on tickets/1 but block 1 does not.
    assert!(verify(&issuer, &twice, "tickets/1", "write")
        .reason()
        .contains("block 1"));
}

#[test]
fn the_attenuated_token_verifies_with_plain_biscuit() {
    let issuer = Issuer::new();
    let token = parent(&issuer);
    let narrow = attenuate(&token, &["--ttl", "5m", "--allow", "read:tickets/1"]);
    let root = PublicKey::from_bytes_hex(issuer.public_hex(), Algorithm::Ed25519).unwrap();
    let biscuit = Biscuit::from_base64(&narrow, root).expect("the chain verifies");
    assert_eq!(biscuit.block_count(), 2);
    assert_eq!(biscuit.root_key_id(), Some(1));
    let block1 = biscuit.print_block_source(1).unwrap();
    assert!(block1.contains("check if time($t)"), "{block1}");

    let other = Issuer::new();
    let wrong = PublicKey::from_bytes_hex(other.public_hex(), Algorithm::Ed25519).unwrap();
    assert!(Biscuit::from_base64(&narrow, wrong).is_err());
}
