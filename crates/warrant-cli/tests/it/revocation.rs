//! `warrant verify --revocations FILE`: revoked tokens, blocks and holders are denied.

use crate::support::{attenuate, str_field, Issuer};

const REQ: [&str; 4] = ["--resource", "tickets/1", "--action", "read"];

fn token(issuer: &Issuer) -> String {
    issuer.mint(&["--allow", "read:tickets/*"])
}

fn with_list<'a>(list: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--revocations", list];
    all.extend_from_slice(args);
    all
}

#[test]
fn a_revoked_token_id_is_denied() {
    let issuer = Issuer::new();
    let t = token(&issuer);
    let other = token(&issuer);
    let id = issuer.inspect_json(&t)["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = issuer.write(
        "revoked.json",
        &format!(r#"{{"entries": [{{"kind": "token_id", "value": "{id}"}}]}}"#),
    );
    let list = list.to_str().unwrap();
    issuer.verify(&t, &REQ).ok();
    issuer
        .verify(&t, &with_list(list, &REQ))
        .denied()
        .stdout_has(&format!("the token `{id}` is revoked"));
    issuer.verify(&other, &with_list(list, &REQ)).ok();
}

#[test]
fn a_revoked_block_revokes_every_token_that_contains_it() {
    let issuer = Issuer::new();
    let t = token(&issuer);
    let rid = str_field(&issuer.inspect_json(&t), "/blocks/0/revocation_id").to_owned();
    let child = attenuate(&t, &["--ttl", "1m"]);
    let list = issuer.write(
        "revoked.json",
        &format!(r#"{{"entries": [{{"cursor": 1, "kind": "revocation_id", "value": "{rid}"}}], "next_cursor": 1}}"#),
    );
    let list = list.to_str().unwrap();
    issuer
        .verify(&t, &with_list(list, &REQ))
        .denied()
        .stdout_has("revoked");
    issuer
        .verify(&child, &with_list(list, &REQ))
        .denied()
        .stdout_has("block 0 of the token is revoked");
}

#[test]
fn a_revoked_attenuation_block_leaves_the_parent_valid() {
    let issuer = Issuer::new();
    let t = token(&issuer);
    let child = attenuate(&t, &["--ttl", "1m"]);
    let rid = str_field(&issuer.inspect_json(&child), "/blocks/1/revocation_id").to_owned();
    let list = issuer.write(
        "revoked.json",
        &format!(r#"{{"entries": [{{"kind": "revocation_id", "value": "{rid}"}}]}}"#),
    );
    let list = list.to_str().unwrap();
    issuer
        .verify(&child, &with_list(list, &REQ))
        .denied()
        .stdout_has("block 1");
    issuer.verify(&t, &with_list(list, &REQ)).ok();
}

#[test]
fn a_revoked_holder_revokes_its_tokens() {
    let issuer = Issuer::new();
    let agent = Issuer::new();
    let t = issuer.mint(&["--allow", "read:tickets/*", "--holder", &agent.public_key]);
    let list = issuer.write(
        "revoked.json",
        &format!(
            r#"{{"entries": [{{"kind": "holder", "value": "{}"}}]}}"#,
            agent.public_key
        ),
    );
    issuer
        .verify(&t, &with_list(list.to_str().unwrap(), &REQ))
        .denied()
        .stdout_has("holder");
}

#[test]
fn a_bad_revocation_list_is_an_input_error() {
    let issuer = Issuer::new();
    let t = token(&issuer);
    for (name, body) in [
        ("a.json", "[]"),
        (
            "b.json",
            r#"{"entries": [{"kind": "revocation_id", "value": "zz"}]}"#,
        ),
        (
            "c.json",
            r#"{"entries": [{"kind": "everything", "value": "x"}]}"#,
        ),
    ] {
        let list = issuer.write(name, body);
        issuer
            .verify(&t, &with_list(list.to_str().unwrap(), &REQ))
            .input_error()
            .stderr_has("revocation list");
    }
    issuer
        .verify(&t, &with_list("/nonexistent/revoked.json", &REQ))
        .input_error()
        .stderr_has("cannot read");
}
