//! Tokens minted by `warrant mint` are plain Biscuit tokens.

use std::time::Duration;

use biscuit_auth::{Algorithm, AuthorizerBuilder, AuthorizerLimits, Biscuit, PublicKey};

use crate::support::{format_utc, now_unix, Issuer};

fn limits() -> AuthorizerLimits {
    AuthorizerLimits {
        max_facts: 1000,
        max_iterations: 100,
        max_time: Duration::from_secs(2),
    }
}

fn parse(issuer: &Issuer, token: &str) -> Biscuit {
    let root = PublicKey::from_bytes_hex(issuer.public_hex(), Algorithm::Ed25519).unwrap();
    Biscuit::from_base64(token, root).expect("a Biscuit signed by the issuer")
}

#[test]
fn a_minted_token_parses_and_its_authorizer_sees_the_profile() {
    let issuer = Issuer::with_kid(7);
    let token = issuer.mint(&["--human", "alice", "--allow", "read:tickets/*"]);
    let biscuit = parse(&issuer, &token);
    assert_eq!(biscuit.block_count(), 1);
    assert_eq!(biscuit.root_key_id(), Some(7));

    let mut authorizer = AuthorizerBuilder::new()
        .set_limits(limits())
        .build(&biscuit)
        .unwrap();
    let profile: Vec<(i64, String)> = authorizer
        .query("data($v, $issuer) <- warrant($v, $id, $issuer, $at)")
        .unwrap();
    assert_eq!(profile, vec![(2, "offline".to_owned())]);
    let human: Vec<(String, String)> = authorizer
        .query("data($h, $m) <- human($h, $m, $at)")
        .unwrap();
    assert_eq!(human, vec![("alice".to_owned(), "unverified".to_owned())]);
}

#[test]
fn a_plain_biscuit_authorizer_enforces_the_minted_rules() {
    let issuer = Issuer::new();
    let token = issuer.mint(&["--ttl", "10m", "--allow", "read:tickets/*"]);
    let biscuit = parse(&issuer, &token);
    let authorize = |resource: &str, action: &str| {
        let code = format!(
            "time({}); resource(\"{resource}\"); action(\"{action}\"); allow if warrant(2, $id, $issuer, $at);",
            format_utc(now_unix())
        );
        AuthorizerBuilder::new()
            .set_limits(limits())
            .code(code)
            .unwrap()
            .build(&biscuit)
            .unwrap()
            .authorize()
    };
    assert_eq!(authorize("tickets/1", "read").unwrap(), 0);
    assert!(authorize("tickets/1", "write").is_err());
    assert!(authorize("users/1", "read").is_err());
}

#[test]
fn a_minted_token_does_not_parse_under_another_root_key() {
    let issuer = Issuer::new();
    let other = Issuer::new();
    let token = issuer.mint(&["--allow", "read:a"]);
    let root = PublicKey::from_bytes_hex(other.public_hex(), Algorithm::Ed25519).unwrap();
    assert!(Biscuit::from_base64(&token, root).is_err());
}
