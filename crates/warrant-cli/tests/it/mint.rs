//! `warrant mint`: shorthand flags, grant files (JSON and TOML), both combined, errors.

use std::ffi::OsStr;

use crate::support::{issued_at, parse_utc, str_field, warrant, Issuer};

/// Seconds from `issued_at` to `expires_at` of a token's authority block.
fn lifetime(issuer: &Issuer, token: &str) -> i64 {
    let report = issuer.inspect_json(token);
    let issued = issued_at(str_field(&report, "/blocks/0/datalog"));
    parse_utc(str_field(&report, "/expires_at")) - issued
}

#[test]
fn shorthand_flags_make_a_working_token() {
    let issuer = Issuer::new();
    let holder = Issuer::new();
    let token = issuer.mint(&[
        "--audience",
        "support-api",
        "--ttl",
        "1h",
        "--human",
        "alice",
        "--human-attr",
        "level=3",
        "--human-attr",
        "team=support",
        "--holder",
        &holder.public_key,
        "--allow",
        "read:tickets/123/email_address",
        "--when",
        "ticket.status eq open",
    ]);
    let ok = [
        "--audience",
        "support-api",
        "--resource",
        "tickets/123/email_address",
        "--action",
        "read",
        "--attr",
        "ticket.status=open",
    ];
    // Bound to `holder`: each request needs a DPoP proof by the holder's key.
    issuer
        .verify(&token, &ok)
        .denied()
        .stdout_has("needs a DPoP proof");
    let url = "https://api.example/tickets/123/email_address";
    let proof = || {
        let run = warrant([
            OsStr::new("proof"),
            OsStr::new("--key"),
            holder.key.as_os_str(),
            OsStr::new("--token"),
            OsStr::new(&token),
            OsStr::new("--method"),
            OsStr::new("GET"),
            OsStr::new("--url"),
            OsStr::new(url),
        ]);
        run.ok();
        run.stdout.trim().to_owned()
    };
    let p = proof();
    let with_proof = [&ok[..], &["--proof", &p, "--method", "GET", "--url", url]].concat();
    issuer
        .verify(&token, &with_proof)
        .ok()
        .stdout_has("allowed");

    let p = proof();
    let claims = issuer
        .verify(
            &token,
            &[
                &ok[..],
                &["--proof", &p, "--method", "GET", "--url", url, "--json"],
            ]
            .concat(),
        )
        .json();
    assert_eq!(claims["decision"], "allowed", "{claims:#}");
    assert_eq!(claims["human"], "alice", "{claims:#}");
    assert_eq!(claims["holder"], holder.public_key.as_str(), "{claims:#}");
    assert_eq!(claims["issuer"], "offline", "{claims:#}");

    let report = issuer.inspect_json(&token);
    let datalog = str_field(&report, "/blocks/0/datalog");
    assert!(
        datalog.contains("human(\"alice\", \"unverified\", "),
        "{datalog}"
    );
    // --human-attr values are typed: 3 is an integer, `support` a string.
    assert!(datalog.contains("human_attr(\"level\", 3);"), "{datalog}");
    assert!(
        datalog.contains("human_attr(\"team\", \"support\");"),
        "{datalog}"
    );
    assert!(
        datalog.contains(&format!(
            "holder(hex:{});",
            holder.public_key.trim_start_matches("ed25519/")
        )),
        "{datalog}"
    );
    assert_eq!(lifetime(&issuer, &token), 3600);

    // Each flag narrows: the audience, the condition, the resource, the action.
    let deny = |args: &[&str]| {
        let p = proof();
        let mut all = args.to_vec();
        all.extend(["--proof", p.as_str(), "--method", "GET", "--url", url]);
        issuer.verify(&token, &all).reason().to_owned()
    };
    assert!(deny(&[
        "--audience",
        "billing-api",
        "--resource",
        "tickets/123/email_address",
        "--action",
        "read",
        "--attr",
        "ticket.status=open",
    ])
    .contains("`billing-api`"));
    assert!(deny(&[
        "--audience",
        "support-api",
        "--resource",
        "tickets/123/email_address",
        "--action",
        "read",
        "--attr",
        "ticket.status=closed",
    ])
    .contains("ticket.status"));
    assert!(deny(&[
        "--audience",
        "support-api",
        "--resource",
        "tickets/124/email_address",
        "--action",
        "read",
        "--attr",
        "ticket.status=open",
    ])
    .contains("no allow rule covers"));
    assert!(deny(&[
        "--audience",
        "support-api",
        "--resource",
        "tickets/123/email_address",
        "--action",
        "write",
        "--attr",
        "ticket.status=open",
    ])
    .contains("no allow rule covers"));
}

#[test]
fn the_default_lifetime_is_ten_minutes() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--allow", "read:a"]);
    assert_eq!(lifetime(&issuer, &token), 600);
}

#[test]
fn each_when_attaches_to_the_allow_or_deny_just_before_it() {
    let issuer = Issuer::new();
    let token = issuer.mint(&[
        "--allow",
        "read:tickets/a",
        "--when",
        "x eq 1",
        "--allow",
        "read:tickets/b",
        "--deny",
        "read:tickets/c",
        "--when",
        "y eq 2",
        "--allow",
        "read:tickets/c",
        "--when",
        "z < 10",
    ]);
    let verify = |resource: &str, attrs: &[&str]| {
        let mut args = vec!["--resource", resource, "--action", "read"];
        for a in attrs {
            args.extend(["--attr", a]);
        }
        issuer.verify(&token, &args)
    };
    // The first --when belongs to allow[0] only.
    verify("tickets/a", &["x=1"]).ok();
    assert!(verify("tickets/a", &[])
        .reason()
        .contains("attribute `x` is missing"));
    verify("tickets/b", &[]).ok();
    // `y eq 2` belongs to the deny rule, `z < 10` to the last allow rule.
    verify("tickets/c", &["y=3", "z=9"]).ok();
    assert!(verify("tickets/c", &["y=2", "z=9"])
        .reason()
        .contains("deny[0] forbids `read` on `tickets/c`"));
    assert!(verify("tickets/c", &["y=3", "z=10"])
        .reason()
        .contains("attribute `z` is 10, the rule requires < 10"));
}

const GRANT_JSON: &str = r#"{
  "audience": ["support-api"],
  "ttl": "30m",
  "allow": [
    { "resources": ["orders/*"], "actions": ["refund"],
      "when": [ { "attr": "amount", "lt": 5000 },
                { "attr": "reason", "in": ["duplicate", "damaged"] } ] }
  ],
  "deny": [ { "resources": ["orders/vip/*"], "actions": ["*"] } ]
}"#;

const GRANT_TOML: &str = r#"
audience = ["support-api"]
ttl = "30m"

[[allow]]
resources = ["orders/*"]
actions = ["refund"]
when = [ { attr = "amount", lt = 5000 }, { attr = "reason", in = ["duplicate", "damaged"] } ]

[[deny]]
resources = ["orders/vip/*"]
actions = ["*"]
"#;

fn check_refund_grant(issuer: &Issuer, token: &str) {
    let refund = |resource: &str, amount: &str, reason: &str| {
        issuer.verify(
            token,
            &[
                "--audience",
                "support-api",
                "--resource",
                resource,
                "--action",
                "refund",
                "--attr",
                &format!("amount={amount}"),
                "--attr",
                &format!("reason={reason}"),
            ],
        )
    };
    refund("orders/7", "4999", "duplicate").ok();
    refund("orders/7", "100", "damaged").ok();
    assert!(refund("orders/7", "5000", "duplicate")
        .reason()
        .contains("attribute `amount` is 5000, the rule requires < 5000"));
    assert!(refund("orders/7", "10", "bored")
        .reason()
        .contains("attribute `reason`"));
    assert!(refund("orders/vip/1", "10", "duplicate")
        .reason()
        .contains("deny[0] forbids `refund` on `orders/vip/1`"));
    assert_eq!(lifetime(issuer, token), 1800);
}

#[test]
fn a_json_grant_file() {
    let issuer = Issuer::new();
    let grant = issuer.write("grant.json", GRANT_JSON);
    let token = issuer.mint(&["--grant", grant.to_str().unwrap()]);
    check_refund_grant(&issuer, &token);
}

#[test]
fn a_toml_grant_file() {
    let issuer = Issuer::new();
    let grant = issuer.write("grant.toml", GRANT_TOML);
    let token = issuer.mint(&["--grant", grant.to_str().unwrap()]);
    check_refund_grant(&issuer, &token);
}

#[test]
fn a_grant_file_and_flags_combined() {
    let issuer = Issuer::new();
    let grant = issuer.write("grant.json", GRANT_JSON);
    let token = issuer.mint(&[
        "--grant",
        grant.to_str().unwrap(),
        "--allow",
        "read:tickets/*",
        "--when",
        "ticket.status eq open",
        "--audience",
        "billing-api",
        "--ttl",
        "5m",
    ]);
    // The file's rule still works…
    for audience in ["support-api", "billing-api"] {
        issuer
            .verify(
                &token,
                &[
                    "--audience",
                    audience,
                    "--resource",
                    "orders/7",
                    "--action",
                    "refund",
                    "--attr",
                    "amount=10",
                    "--attr",
                    "reason=duplicate",
                ],
            )
            .ok();
    }
    // …the flag's rule is added, with its condition…
    let read = |status: &str| {
        issuer.verify(
            &token,
            &[
                "--audience",
                "support-api",
                "--resource",
                "tickets/9",
                "--action",
                "read",
                "--attr",
                &format!("ticket.status={status}"),
            ],
        )
    };
    read("open").ok();
    assert!(read("closed").reason().contains("ticket.status"));
    // …the audiences are merged, the file's deny rule stays, and --ttl overrides the file.
    assert!(issuer
        .verify(
            &token,
            &[
                "--audience",
                "other-api",
                "--resource",
                "tickets/9",
                "--action",
                "read",
                "--attr",
                "ticket.status=open",
            ],
        )
        .reason()
        .contains("not `other-api`"));
    assert!(issuer
        .verify(
            &token,
            &[
                "--audience",
                "support-api",
                "--resource",
                "orders/vip/1",
                "--action",
                "refund",
                "--attr",
                "amount=10",
                "--attr",
                "reason=duplicate",
            ],
        )
        .reason()
        .contains("deny[0]"));
    assert_eq!(lifetime(&issuer, &token), 300);
}

#[test]
fn a_grant_on_standard_input() {
    let issuer = Issuer::new();
    let run = crate::support::warrant_stdin(
        [
            "mint",
            "--key",
            issuer.key.to_str().unwrap(),
            "--grant",
            "-",
        ],
        GRANT_JSON,
    );
    run.ok();
    check_refund_grant(&issuer, run.stdout.trim());
}

#[test]
fn when_before_any_allow_is_a_usage_error() {
    let issuer = Issuer::new();
    issuer
        .mint_run(&["--when", "amount lt 5", "--allow", "read:a"])
        .input_error()
        .stderr_has("must follow an --allow or --deny");
}

#[test]
fn an_unknown_operator_in_a_grant_file_names_its_path() {
    let issuer = Issuer::new();
    let grant = issuer.write(
        "bad.json",
        r#"{"allow": [{"resources": ["a"], "actions": ["read"],
                       "when": [{"attr": "amount", "lte": 5}]}]}"#,
    );
    issuer
        .mint_run(&["--grant", grant.to_str().unwrap()])
        .input_error()
        .stderr_has("bad.json")
        .stderr_has("allow[0].when[0]: unknown operator `lte`");

    let grant = issuer.write(
        "bad.toml",
        r#"
[[allow]]
resources = ["a"]
actions = ["read"]

[[allow]]
resources = ["b"]
actions = ["read"]
when = [ { attr = "amount", less = 5 } ]
"#,
    );
    issuer
        .mint_run(&["--grant", grant.to_str().unwrap()])
        .input_error()
        .stderr_has("bad.toml")
        .stderr_has("allow[1].when[0]: unknown operator `less`");
}

#[test]
fn an_unknown_operator_on_the_command_line_is_a_usage_error() {
    let issuer = Issuer::new();
    issuer
        .mint_run(&["--allow", "read:a", "--when", "amount lte 5"])
        .input_error()
        .stderr_has("unknown operator `lte`");
}

#[test]
fn a_bad_ttl_is_a_usage_error() {
    let issuer = Issuer::new();
    issuer
        .mint_run(&["--allow", "read:a", "--ttl", "10x"])
        .input_error()
        .stderr_has("`10x` is not a duration");
    issuer
        .mint_run(&["--allow", "read:a", "--ttl", "0s"])
        .input_error()
        .stderr_has("zero");
    let grant = issuer.write(
        "g.json",
        r#"{"ttl": "soon", "allow": [{"resources": ["a"], "actions": ["read"]}]}"#,
    );
    issuer
        .mint_run(&["--grant", grant.to_str().unwrap()])
        .input_error()
        .stderr_has("ttl: `soon` is not a duration");
}

#[test]
fn a_missing_key_file_is_a_usage_error() {
    let issuer = Issuer::new();
    let missing = issuer.path("nope.key");
    crate::support::warrant([
        "mint",
        "--key",
        missing.to_str().unwrap(),
        "--allow",
        "read:a",
    ])
    .input_error()
    .stderr_has("nope.key");
}

#[test]
fn a_key_file_that_is_not_a_key_is_a_usage_error() {
    let issuer = Issuer::new();
    let bogus = issuer.write("bogus.key", "hello\n");
    crate::support::warrant([
        "mint",
        "--key",
        bogus.to_str().unwrap(),
        "--allow",
        "read:a",
    ])
    .input_error()
    .stderr_has("bogus.key");
}

#[test]
fn a_grant_without_an_allow_rule_is_a_usage_error() {
    let issuer = Issuer::new();
    issuer
        .mint_run(&["--deny", "read:a", "--ttl", "5m"])
        .input_error()
        .stderr_has("at least one allow rule");
    let grant = issuer.write(
        "deny-only.json",
        r#"{"deny": [{"resources": ["a"], "actions": ["read"]}]}"#,
    );
    issuer
        .mint_run(&["--grant", grant.to_str().unwrap()])
        .input_error()
        .stderr_has("at least one allow rule");
    issuer
        .mint_run(&[])
        .input_error()
        .stderr_has("at least one allow rule");
}

#[test]
fn malformed_flags_are_usage_errors() {
    let issuer = Issuer::new();
    issuer
        .mint_run(&["--allow", "tickets/1"])
        .input_error()
        .stderr_has("expected ACTION:RESOURCE");
    issuer
        .mint_run(&["--allow", "read:a", "--when", "amount"])
        .input_error()
        .stderr_has("expected 'ATTR OP VALUE'");
    issuer
        .mint_run(&["--allow", "read:a", "--holder", "ed25519/abcd"])
        .input_error()
        .stderr_has("is not a holder public key");
    issuer
        .mint_run(&["--allow", "read:a", "--human-attr", "level"])
        .input_error()
        .stderr_has("expected NAME=VALUE");
    issuer
        .mint_run(&["--allow", "read:a/*/b/**/c"])
        .input_error()
        .stderr_has("`**` may only be the last segment");
}
