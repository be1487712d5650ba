//! Time: a token is valid up to and including its expiry second, not one second later.

use crate::support::{format_utc, now_unix, parse_utc, str_field, Issuer};

#[test]
fn valid_at_the_expiry_and_expired_one_second_later() {
    let issuer = Issuer::new();
    let before = now_unix();
    let token = issuer.mint(&["--ttl", "10m", "--allow", "read:tickets/*"]);
    let after = now_unix();

    let report = issuer.inspect_json(&token);
    let expires_at = str_field(&report, "/expires_at").to_owned();
    let exp = parse_utc(&expires_at);
    assert!(
        (before + 600..=after + 600).contains(&exp),
        "a 10m token minted between {before} and {after} expires at {expires_at}"
    );
    assert_eq!(str_field(&report, "/blocks/0/expires_at"), expires_at);

    let at = |t: i64| {
        issuer.verify(
            &token,
            &[
                "--resource",
                "tickets/1",
                "--action",
                "read",
                "--at",
                &format_utc(t),
            ],
        )
    };
    at(exp).ok().stdout_has("allowed");
    at(exp - 599).ok();

    let run = at(exp + 1);
    let reason = run.reason();
    assert!(reason.contains("expired"), "{run:?}");
    assert!(reason.contains(&expires_at), "{run:?}");
    assert!(reason.contains(&format_utc(exp + 1)), "{run:?}");

    // An expired token is denied even when the request is also outside its rules:
    // the expiry is the reason given.
    let run = issuer.verify(
        &token,
        &[
            "--resource",
            "users/1",
            "--action",
            "delete",
            "--at",
            &format_utc(exp + 3600),
        ],
    );
    assert!(run.reason().contains("expired"), "{run:?}");
}

#[test]
fn at_accepts_an_offset_and_refuses_nonsense() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--ttl", "10m", "--allow", "read:tickets/*"]);
    let exp = parse_utc(str_field(&issuer.inspect_json(&token), "/expires_at"));
    // The expiry instant written with a +01:00 offset is the same instant.
    let shifted = format_utc(exp + 3600).replace('Z', "+01:00");
    issuer
        .verify(
            &token,
            &[
                "--resource",
                "tickets/1",
                "--action",
                "read",
                "--at",
                &shifted,
            ],
        )
        .ok();
    let late = format_utc(exp + 3601).replace('Z', "+01:00");
    issuer
        .verify(
            &token,
            &["--resource", "tickets/1", "--action", "read", "--at", &late],
        )
        .denied();
    issuer
        .verify(
            &token,
            &[
                "--resource",
                "tickets/1",
                "--action",
                "read",
                "--at",
                "tomorrow",
            ],
        )
        .input_error()
        .stderr_has("--at");
}

#[test]
fn the_default_request_time_is_now() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--ttl", "10m", "--allow", "read:tickets/*"]);
    // No --at: now, well inside the ten minutes.
    issuer
        .verify(&token, &["--resource", "tickets/1", "--action", "read"])
        .ok();
}
