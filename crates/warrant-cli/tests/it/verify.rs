//! `warrant verify`: allowed, every kind of denial with its reason, input errors.

use crate::support::{warrant, warrant_stdin, Issuer};

/// A support token: read tickets when open, never the secret one, refunds under 5000.
fn support_token(issuer: &Issuer) -> String {
    issuer.mint(&[
        "--audience",
        "support-api",
        "--allow",
        "read:tickets/*",
        "--when",
        "ticket.status eq open",
        "--deny",
        "read:tickets/secret",
        "--allow",
        "refund:orders/*",
        "--when",
        "amount lt 5000",
    ])
}

fn read_ticket<'a>(resource: &'a str, status: &'a str) -> Vec<&'a str> {
    vec![
        "--audience",
        "support-api",
        "--resource",
        resource,
        "--action",
        "read",
        "--attr",
        status,
    ]
}

#[test]
fn allowed() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    let run = issuer.verify(&token, &read_ticket("tickets/1", "ticket.status=open"));
    run.ok();
    assert_eq!(run.stdout, "allowed\n");
    assert!(run.stderr.is_empty(), "{run:?}");
}

#[test]
fn allowed_with_the_public_key_instead_of_a_key_set() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    let mut args = vec![
        "verify",
        "--token",
        &token,
        "--public-key",
        &issuer.public_key,
        "--allow-bearer",
    ];
    args.extend(read_ticket("tickets/1", "ticket.status=open"));
    warrant(args).ok().stdout_has("allowed");
}

#[test]
fn denied_on_a_condition_mismatch() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    let reason = issuer
        .verify(&token, &read_ticket("tickets/1", "ticket.status=closed"))
        .reason()
        .to_owned();
    assert!(reason.contains("allow[0]"), "{reason}");
    assert!(
        reason.contains("attribute `ticket.status` is \"closed\", the rule requires == \"open\""),
        "{reason}"
    );
}

#[test]
fn denied_on_a_missing_attribute_naming_it() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    let run = issuer.verify(
        &token,
        &[
            "--audience",
            "support-api",
            "--resource",
            "tickets/1",
            "--action",
            "read",
        ],
    );
    assert!(
        run.reason()
            .contains("attribute `ticket.status` is missing from the request"),
        "{run:?}"
    );
}

#[test]
fn denied_when_no_rule_covers_the_action_or_resource() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    let mut write = read_ticket("tickets/1", "ticket.status=open");
    write[5] = "write";
    assert_eq!(
        issuer.verify(&token, &write).reason(),
        "no allow rule covers action `write` on `tickets/1`"
    );
    assert_eq!(
        issuer
            .verify(&token, &read_ticket("users/1", "ticket.status=open"))
            .reason(),
        "no allow rule covers action `read` on `users/1`"
    );
}

#[test]
fn a_deny_rule_wins_over_an_allow_rule() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    // allow[0] covers tickets/secret and its condition holds: the deny rule still wins.
    let reason = issuer
        .verify(&token, &read_ticket("tickets/secret", "ticket.status=open"))
        .reason()
        .to_owned();
    assert!(
        reason.contains("deny[0] forbids `read` on `tickets/secret`"),
        "{reason}"
    );
}

#[test]
fn denied_for_the_wrong_audience() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    let mut args = read_ticket("tickets/1", "ticket.status=open");
    args[1] = "billing-api";
    assert_eq!(
        issuer.verify(&token, &args).reason(),
        "the token is for audience `support-api`, not `billing-api`"
    );
}

#[test]
fn denied_without_an_audience() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    let args = &read_ticket("tickets/1", "ticket.status=open")[2..];
    assert_eq!(
        issuer.verify(&token, args).reason(),
        "the token is for audience `support-api` and the request names no audience"
    );
}

#[test]
fn denied_for_a_token_signed_by_another_key() {
    let issuer = Issuer::new();
    let other = Issuer::new();
    let token = support_token(&issuer);
    let mut args = vec![
        "verify",
        "--token",
        &token,
        "--public-key",
        &other.public_key,
    ];
    args.extend(read_ticket("tickets/1", "ticket.status=open"));
    let run = warrant(args);
    assert!(
        run.reason().contains("signature") && run.reason().contains("does not verify"),
        "{run:?}"
    );
}

#[test]
fn denied_for_a_key_id_the_key_set_lacks() {
    let issuer = Issuer::with_kid(1);
    let other = Issuer::with_kid(2);
    let token = support_token(&issuer);
    let run = other.verify(&token, &read_ticket("tickets/1", "ticket.status=open"));
    assert!(run.reason().contains("key id `1`"), "{run:?}");
    assert!(run.reason().contains("not a trusted key"), "{run:?}");
}

#[test]
fn a_same_kid_key_set_of_another_issuer_is_a_bad_signature() {
    let issuer = Issuer::with_kid(1);
    let impostor = Issuer::with_kid(1);
    let token = support_token(&issuer);
    let run = impostor.verify(&token, &read_ticket("tickets/1", "ticket.status=open"));
    assert!(run.reason().contains("signature"), "{run:?}");
}

#[test]
fn text_that_is_not_base64_is_an_input_error() {
    let issuer = Issuer::new();
    issuer
        .verify("!!!not base64!!!", &["--resource", "a", "--action", "read"])
        .input_error()
        .stderr_has("base64");
}

#[test]
fn base64_that_is_not_a_biscuit_is_an_input_error() {
    let issuer = Issuer::new();
    // "hello world", padded and unpadded
    for text in ["aGVsbG8gd29ybGQ=", "aGVsbG8gd29ybGQ"] {
        issuer
            .verify(text, &["--resource", "a", "--action", "read"])
            .input_error()
            .stderr_has("not a Biscuit token");
    }
}

#[test]
fn an_empty_token_is_an_input_error() {
    let issuer = Issuer::new();
    issuer
        .verify("", &["--resource", "a", "--action", "read"])
        .input_error()
        .stderr_has("empty");
    let run = warrant_stdin(
        [
            "verify",
            "--token",
            "-",
            "--keys",
            issuer.key_set.to_str().unwrap(),
            "--resource",
            "a",
            "--action",
            "read",
        ],
        " \n\n",
    );
    run.input_error().stderr_has("empty");
}

#[test]
fn the_token_on_standard_input_with_surrounding_whitespace() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    let mut args = vec![
        "verify",
        "--token",
        "-",
        "--keys",
        issuer.key_set.to_str().unwrap(),
        "--allow-bearer",
    ];
    args.extend(read_ticket("tickets/1", "ticket.status=open"));
    warrant_stdin(args.clone(), &format!("\n\n  \t{token}  \r\n\n"))
        .ok()
        .stdout_has("allowed");
    let closed = {
        let mut a = args.clone();
        let last = a.len() - 1;
        a[last] = "ticket.status=closed";
        a
    };
    warrant_stdin(closed, &format!("{token}\n")).denied();
}

/// A token whose base64 form ends in padding (retrying with another human id length).
fn padded_token(issuer: &Issuer) -> String {
    for human in ["a", "ab", "abc", "abcd", "abcde", "abcdef"] {
        let token = issuer.mint(&["--human", human, "--allow", "read:tickets/*"]);
        if token.ends_with('=') {
            return token;
        }
    }
    panic!("six tokens of different sizes, none with base64 padding");
}

#[test]
fn padded_and_unpadded_base64_are_both_accepted() {
    let issuer = Issuer::new();
    let padded = padded_token(&issuer);
    let unpadded = padded.trim_end_matches('=');
    assert_ne!(padded.len(), unpadded.len());
    let args = ["--resource", "tickets/1", "--action", "read"];
    issuer.verify(&padded, &args).ok();
    issuer.verify(unpadded, &args).ok();
    let mut stdin_args = vec![
        "verify",
        "--token",
        "-",
        "--keys",
        issuer.key_set.to_str().unwrap(),
        "--allow-bearer",
    ];
    stdin_args.extend(args);
    warrant_stdin(stdin_args, &format!("  {unpadded}\n")).ok();
    // inspect decodes both the same way
    let a = warrant(["inspect", "--token", &padded, "--json"]);
    let b = warrant(["inspect", "--token", unpadded, "--json"]);
    assert_eq!(a.ok().json(), b.ok().json());
}

#[test]
fn typed_attributes() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    let refund = |attr_flag: &str, attr: &str| {
        issuer.verify(
            &token,
            &[
                "--audience",
                "support-api",
                "--resource",
                "orders/7",
                "--action",
                "refund",
                attr_flag,
                attr,
            ],
        )
    };
    refund("--attr", "amount=4999").ok();
    refund("--attr-json", "amount=4999").ok();
    let run = refund("--attr-json", "amount=\"4999\"");
    let reason = run.reason();
    assert!(
        reason.contains("attribute `amount` is a string") && reason.contains("integer"),
        "a string that looks like a number must be denied with a type explanation: {run:?}"
    );
    // A number that is not an integer is an input error, never a string.
    refund("--attr", "amount=4999.5")
        .input_error()
        .stderr_has("`4999.5` is not an integer in i64");
    assert!(refund("--attr", "amount=5000")
        .reason()
        .contains("attribute `amount` is 5000, the rule requires < 5000"));
}

#[test]
fn bad_attr_json_is_a_usage_error() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    issuer
        .verify(
            &token,
            &[
                "--resource",
                "orders/7",
                "--action",
                "refund",
                "--attr-json",
                "amount=not json",
            ],
        )
        .input_error()
        .stderr_has("--attr-json");
    issuer
        .verify(
            &token,
            &[
                "--resource",
                "orders/7",
                "--action",
                "refund",
                "--attr",
                "amount",
            ],
        )
        .input_error()
        .stderr_has("expected NAME=VALUE");
}

#[test]
fn json_output() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    let mut args = read_ticket("tickets/1", "ticket.status=open");
    args.push("--json");
    let run = issuer.verify(&token, &args);
    let allowed = run.ok().json();
    assert_eq!(allowed["decision"], "allowed", "{allowed:#}");
    assert_eq!(allowed["block_count"], 1, "{allowed:#}");
    assert_eq!(allowed["issuer"], "offline", "{allowed:#}");
    assert_eq!(
        allowed["token_id"].as_str().map(str::len),
        Some(32),
        "{allowed:#}"
    );

    let mut args = vec![
        "--audience",
        "support-api",
        "--resource",
        "orders/7",
        "--action",
        "refund",
        "--json",
    ];
    let denied = issuer.verify(&token, &args).denied().json();
    assert_eq!(denied["decision"], "denied", "{denied:#}");
    assert_eq!(denied["kind"], "missing_attribute", "{denied:#}");
    assert_eq!(denied["attribute"], "amount", "{denied:#}");
    assert_eq!(denied["block"], 0, "{denied:#}");
    assert!(
        denied["message"]
            .as_str()
            .is_some_and(|m| m.contains("`amount` is missing")),
        "{denied:#}"
    );

    args[1] = "billing-api";
    let denied = issuer.verify(&token, &args).denied().json();
    assert_eq!(denied["kind"], "audience", "{denied:#}");

    let other = Issuer::new();
    let run = warrant([
        "verify",
        "--token",
        &token,
        "--public-key",
        &other.public_key,
        "--resource",
        "tickets/1",
        "--action",
        "read",
        "--json",
    ]);
    assert_eq!(run.denied().json()["kind"], "bad_signature");
}

#[test]
fn verify_needs_a_key() {
    let issuer = Issuer::new();
    let token = support_token(&issuer);
    warrant([
        "verify",
        "--token",
        &token,
        "--resource",
        "tickets/1",
        "--action",
        "read",
    ])
    .input_error()
    .stderr_has("--public-key or --keys");
    warrant([
        "verify",
        "--token",
        &token,
        "--public-key",
        "ed25519/00",
        "--resource",
        "tickets/1",
        "--action",
        "read",
    ])
    .input_error()
    .stderr_has("is not a public key");
    let missing = issuer.path("missing.json");
    warrant([
        "verify",
        "--token",
        &token,
        "--keys",
        missing.to_str().unwrap(),
        "--resource",
        "tickets/1",
        "--action",
        "read",
    ])
    .input_error()
    .stderr_has("missing.json");
}

#[test]
fn clap_usage_errors_exit_2() {
    let run = warrant(["verify", "--resource", "a"]);
    run.code(2);
    assert!(run.stdout.is_empty(), "{run:?}");
    let run = warrant([
        "verify",
        "--token",
        "x",
        "--resource",
        "a",
        "--action",
        "b",
        "--bogus",
    ]);
    run.code(2);
    assert!(run.stdout.is_empty(), "{run:?}");
    warrant(["no-such-command"]).code(2);
}
