//! Time: expiry to the second, not-before, clock skew both ways, attenuations that shorten
//! or try to extend the lifetime, verifications that are too old.

use std::time::Duration;

use rand_core::OsRng;
use serde_json::json;
use warrant_core::grant::Method;
use warrant_core::token::{attenuate, decode_unverified, encode, MintRequest, Verification};
use warrant_verifier::{DenialKind, Request};

use crate::{
    allowed, append_plain, at, attack, bearer, bearer_builder, bearer_verifier, grant, mint_req,
    run_table, NOW,
};

fn ten_minutes() -> String {
    bearer(&json!({"ttl": "10m", "allow": [{"resources": ["tickets/*"], "actions": ["read"]}]}))
}

fn read_at(seconds: i64) -> Request {
    Request::new("tickets/1", "read", at(seconds))
}

fn attenuated(text: &str, v: &serde_json::Value) -> String {
    encode(&attenuate(&decode_unverified(text).unwrap(), grant(v), NOW, &mut OsRng).unwrap())
}

#[test]
fn expiry_and_not_before_are_exact() {
    let t = ten_minutes();
    let v = bearer_verifier();
    allowed(&v.verify(&t, &read_at(600)));
    let nb = bearer(&json!({"not_before": "2026-11-30T10:05:00Z", "ttl": "10m",
        "allow": [{"resources": ["tickets/*"], "actions": ["read"]}]}));
    allowed(&v.verify(&nb, &read_at(300)));
    run_table(
        &v,
        vec![
            attack(
                "expired by one second",
                t.clone(),
                read_at(601),
                DenialKind::Expired,
                &["the token expired at 2026-11-30T10:10:00Z"],
            )
            .block(0),
            attack(
                "a year later",
                t.clone(),
                read_at(366 * 86_400),
                DenialKind::Expired,
                &["expired"],
            )
            .block(0),
            attack(
                "one second before not_before",
                nb.clone(),
                read_at(299),
                DenialKind::NotYetValid,
                &["not valid before 2026-11-30T10:05:00Z"],
            )
            .block(0),
        ],
    );
}

#[test]
fn clock_skew_is_bounded_both_ways() {
    let t = ten_minutes();
    let nb = bearer(&json!({"not_before": "2026-11-30T10:05:00Z", "ttl": "10m",
        "allow": [{"resources": ["tickets/*"], "actions": ["read"]}]}));
    let v = bearer_builder().clock_skew(Duration::from_secs(30)).build();
    // Lenient by exactly the skew past expiry, not a second more.
    allowed(&v.verify(&t, &read_at(630)));
    run_table(
        &v,
        vec![
            attack(
                "expired by skew + 1 s",
                t.clone(),
                read_at(631),
                DenialKind::Expired,
                &["expired"],
            ),
            // The skew makes not_before stricter, never earlier.
            attack(
                "before not_before with skew",
                nb.clone(),
                read_at(299),
                DenialKind::NotYetValid,
                &["not valid before"],
            ),
            attack(
                "not_before + skew - 1 s",
                nb.clone(),
                read_at(329),
                DenialKind::NotYetValid,
                &["not valid before"],
            ),
        ],
    );
    allowed(&v.verify(&nb, &read_at(330)));
}

#[test]
fn attenuations_shorten_and_never_extend_expiry() {
    let t = ten_minutes();
    let v = bearer_verifier();
    let shorter = attenuated(&t, &json!({"ttl": "1m"}));
    let longer = attenuated(&t, &json!({"ttl": "1h"}));
    let far = attenuated(&t, &json!({"expires_at": "2030-01-01T00:00:00Z"}));
    let raw_longer = append_plain(&t, "check if time($t), $t <= 2030-01-01T00:00:00Z;");
    let raw_time = append_plain(
        &t,
        "time(2026-11-30T10:00:00Z); check if time($t), $t <= 2030-01-01T00:00:00Z;",
    );
    allowed(&v.verify(&shorter, &read_at(60)));
    allowed(&v.verify(&longer, &read_at(600)));
    run_table(
        &v,
        vec![
            attack(
                "attenuation expiry shorter: enforced",
                shorter.clone(),
                read_at(61),
                DenialKind::Expired,
                &["block 1", "the token expired at 2026-11-30T10:01:00Z"],
            )
            .block(1),
            attack(
                "attenuation ttl 1h: authority still expires",
                longer,
                read_at(601),
                DenialKind::Expired,
                &["expired at 2026-11-30T10:10:00Z"],
            )
            .block(0),
            attack(
                "attenuation expires_at 2030: authority still expires",
                far,
                read_at(601),
                DenialKind::Expired,
                &["expired at 2026-11-30T10:10:00Z"],
            )
            .block(0),
            attack(
                "raw Datalog expiry 2030",
                raw_longer,
                read_at(601),
                DenialKind::Expired,
                &["expired at 2026-11-30T10:10:00Z"],
            )
            .block(0),
            attack(
                "raw Datalog time fact",
                raw_time,
                read_at(601),
                DenialKind::Expired,
                &["expired at 2026-11-30T10:10:00Z"],
            )
            .block(0),
        ],
    );
    // The claims report the earliest expiry.
    let d = v.verify(&shorter, &read_at(0));
    assert_eq!(
        d.claims().unwrap().expires_at.as_deref(),
        Some("2026-11-30T10:01:00Z")
    );
}

#[test]
fn human_max_age_is_enforced() {
    // Verified by passkey 10 minutes before minting; the rule accepts 5 minutes.
    let mut req = MintRequest::offline(grant(&json!({"ttl": "1h", "allow": [
        {"resources": ["payments/*"], "actions": ["approve"],
         "human": {"methods": ["passkey"], "max_age": "5m"}}]})));
    req.human = Some("alice".to_owned());
    req.verification = Some(Verification {
        method: Method::Passkey,
        at: at(-120),
    });
    let t = mint_req(req);
    let v = bearer_verifier();
    allowed(&v.verify(&t, &Request::new("payments/1", "approve", at(180))));
    run_table(
        &v,
        vec![
            attack(
                "one second past max_age",
                t.clone(),
                Request::new("payments/1", "approve", at(181)),
                DenialKind::RuleNotMatched,
                &["the human's verification is too old"],
            )
            .block(0),
            attack(
                "forged fresh human in a later block",
                append_plain(&t, "human(\"alice\", \"passkey\", 2026-11-30T10:30:00Z);"),
                Request::new("payments/1", "approve", at(1800)),
                DenialKind::RuleNotMatched,
                &["the human's verification is too old"],
            )
            .block(0),
        ],
    );
}
