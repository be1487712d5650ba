//! Inputs that would silently change meaning are refused with exit 2: numbers that are not
//! integers in i64 (they would become strings and side-step a rule), non-canonical
//! resources, malformed names, and `--when`/`--ttl` shorthand that would make a useless
//! grant.

use crate::support::{warrant, Issuer};

/// Refunds on any order, never from 10000 (100.00) up.
fn refund_token(issuer: &Issuer) -> String {
    issuer.mint(&[
        "--allow",
        "refund:orders/*",
        "--deny",
        "refund:orders/*",
        "--when",
        "amount ge 10000",
    ])
}

fn refund<'a>(issuer: &Issuer, token: &str, flag: &'a str, attr: &'a str) -> crate::support::Run {
    issuer.verify(
        token,
        &["--resource", "orders/7", "--action", "refund", flag, attr],
    )
}

#[test]
fn the_deny_rule_holds_for_integers() {
    let issuer = Issuer::new();
    let token = refund_token(&issuer);
    refund(&issuer, &token, "--attr", "amount=500").ok();
    refund(&issuer, &token, "--attr", "amount=20000").denied();
    refund(&issuer, &token, "--attr-json", "amount=20000").denied();
}

#[test]
fn numbers_that_are_not_i64_cannot_side_step_a_deny_rule() {
    let issuer = Issuer::new();
    let token = refund_token(&issuer);
    for value in [
        "20000.0",
        "20000.",
        "2e4",
        "20_000",
        "20,000",
        "99999999999999999999",
        "9223372036854775808",
        " 20000",
    ] {
        let attr = format!("amount={value}");
        refund(&issuer, &token, "--attr", &attr)
            .input_error()
            .stderr_has(&format!(
                "--attr `{attr}`: `{value}` is not an integer in i64"
            ))
            .stderr_has("money in minor units")
            .stderr_has("--attr-json");
    }
    for value in ["20000.0", "2e4", "99999999999999999999"] {
        let attr = format!("amount={value}");
        refund(&issuer, &token, "--attr-json", &attr)
            .input_error()
            .stderr_has(&format!("--attr-json `{attr}`: `"))
            .stderr_has("` is not an integer in i64")
            .stderr_has("money in minor units");
    }
}

#[test]
fn non_canonical_resources_are_input_errors() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--allow", "read:tickets/**"]);
    for resource in [
        "tickets/../x",
        "tickets/./1",
        "tickets//1",
        "/tickets/1",
        "tickets/1/",
    ] {
        issuer
            .verify(&token, &["--resource", resource, "--action", "read"])
            .input_error()
            .stderr_has(&format!("--resource: the resource `{resource}`"));
    }
    issuer
        .verify(&token, &["--resource", "", "--action", "read"])
        .input_error()
        .stderr_has("the resource is empty");
    issuer
        .verify(&token, &["--resource", "tickets/1", "--action", "read"])
        .ok();
}

#[test]
fn malformed_actions_and_attribute_names_are_input_errors() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--allow", "read:tickets/*"]);
    issuer
        .verify(&token, &["--resource", "tickets/1", "--action", "re ad"])
        .input_error()
        .stderr_has("--action: `re ad` is not an action");
    issuer
        .verify(
            &token,
            &[
                "--resource",
                "tickets/1",
                "--action",
                "read",
                "--attr",
                "ticket status=open",
            ],
        )
        .input_error()
        .stderr_has("`ticket status` is not an attribute name");
}

#[test]
fn at_most_64_attributes() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--allow", "read:tickets/*"]);
    let attrs: Vec<String> = (0..65).map(|i| format!("a{i}=1")).collect();
    let mut args = vec!["--resource", "tickets/1", "--action", "read"];
    for a in &attrs[..64] {
        args.extend(["--attr", a.as_str()]);
    }
    issuer.verify(&token, &args).ok();
    args.extend(["--attr", attrs[64].as_str()]);
    issuer
        .verify(&token, &args)
        .input_error()
        .stderr_has("at most 64 attributes");
}

fn mint_refusal(issuer: &Issuer, args: &[&str]) -> String {
    let run = issuer.mint_run(args);
    run.input_error();
    run.stderr.clone()
}

#[test]
fn when_values_that_are_not_i64_are_refused() {
    let issuer = Issuer::new();
    for (when, shown) in [
        ("amount ge 10000.0", "`10000.0`"),
        ("amount ge 1e4", "`1e4`"),
        ("amount lt 99999999999999999999", "`99999999999999999999`"),
        ("amount in 100,250.5", "`250.5`"),
    ] {
        let err = mint_refusal(&issuer, &["--deny", "refund:orders/*", "--when", when]);
        assert!(
            err.starts_with(&format!(
                "warrant: --when `{when}`: {shown} is not an integer in i64"
            )),
            "{err}"
        );
        assert!(err.contains("money in minor units"), "{err}");
    }
}

#[test]
fn when_shorthand_pitfalls_are_refused_with_the_accepted_form() {
    let issuer = Issuer::new();
    let cases = [
        (r#"status eq "open""#, "'status eq open'"),
        ("status eq 'open'", "'status eq open'"),
        ("status in [open, pending]", "'status in open, pending'"),
        (r#"status in "open","pending""#, "'status in open,pending'"),
        ("status in open,,pending", "'status in open,pending'"),
        ("ticket status eq open", "'ticket.status eq open'"),
        (r#""ticket status" eq open"#, "'ticket.status eq open'"),
    ];
    for (when, form) in cases {
        let err = mint_refusal(&issuer, &["--allow", "read:tickets/*", "--when", when]);
        assert!(
            err.starts_with(&format!("warrant: --when `{when}`: ")),
            "{err}"
        );
        assert!(err.contains(form), "{when}: {err}");
    }
    // The same flags drive attenuate and delegate.
    let token = issuer.mint(&["--allow", "read:tickets/*"]);
    let run = warrant([
        "attenuate",
        "--token",
        &token,
        "--allow",
        "read:tickets/*",
        "--when",
        r#"status eq "open""#,
    ]);
    run.input_error().stderr_has("'status eq open'");
    // Accepted forms still work.
    issuer.mint(&[
        "--allow",
        "read:tickets/*",
        "--when",
        "status in open, pending",
        "--when",
        "title prefix [WIP]",
        "--when",
        "note prefix it's",
    ]);
}

#[test]
fn negative_ttl_is_refused_with_the_accepted_form() {
    let issuer = Issuer::new();
    for args in [&["--ttl", "-5m"][..], &["--ttl=-5m"][..]] {
        let mut all = args.to_vec();
        all.extend(["--allow", "read:tickets/*"]);
        let err = mint_refusal(&issuer, &all);
        assert!(
            err.starts_with("warrant: --ttl `-5m`: a lifetime cannot be negative")
                && err.contains("10m, 1h30m or 7d"),
            "{err}"
        );
    }
    let err = mint_refusal(&issuer, &["--ttl", "5", "--allow", "read:tickets/*"]);
    assert!(
        err.contains("`5` is not a duration such as `90s`, `10m`"),
        "{err}"
    );
    issuer.mint(&["--ttl", "1h30m", "--allow", "read:tickets/*"]);
}

#[test]
fn human_attribute_numbers_must_be_i64() {
    let issuer = Issuer::new();
    let err = mint_refusal(
        &issuer,
        &[
            "--allow",
            "read:tickets/*",
            "--human",
            "alice",
            "--human-attr",
            "score=4.5",
        ],
    );
    assert!(
        err.starts_with("warrant: --human-attr `score=4.5`: `4.5` is not an integer in i64"),
        "{err}"
    );
}

#[test]
fn a_past_expiry_and_spaced_attribute_names_are_refused_everywhere() {
    let issuer = Issuer::new();
    let past = issuer.write(
        "past.json",
        r#"{"allow": [{"resources": ["x"], "actions": ["read"]}], "expires_at": "2020-01-01T00:00:00Z"}"#,
    );
    let past = past.to_str().unwrap();
    let err = mint_refusal(&issuer, &["--grant", past]);
    assert!(
        err.contains("expires_at: `2020-01-01T00:00:00Z` is not after the current time"),
        "{err}"
    );
    let token = issuer.mint(&["--allow", "read:x"]);
    warrant(["attenuate", "--token", &token, "--grant", past])
        .input_error()
        .stderr_has("is not after the current time");
    let spaced = issuer.write(
        "spaced.json",
        r#"{"allow": [{"resources": ["x"], "actions": ["read"], "when": [{"attr": "ticket status", "eq": "open"}]}]}"#,
    );
    let err = mint_refusal(&issuer, &["--grant", spaced.to_str().unwrap()]);
    assert!(
        err.contains("`ticket status` is not an attribute name"),
        "{err}"
    );
    let err = mint_refusal(
        &issuer,
        &["--allow", "read:x", "--human", "a", "--human-attr", "a b=1"],
    );
    assert!(err.contains("`a b` is not an attribute name"), "{err}");
}
