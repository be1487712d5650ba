//! Verifier error paths: tampering, reordered and removed blocks, unknown and wrong keys,
//! lifetime, audience, size, garbage and run limits. Every one is a denial with a clear
//! one-line message, never an allowance and never a panic.

use std::time::{Duration, Instant};

use biscuit_auth::Biscuit;
use rand_core::OsRng;
use serde_json::json;
use warrant_core::keys::SigningKey;
use warrant_core::token::{attenuate, decode_unverified, encode, MAX_TOKEN_BYTES};
use warrant_verifier::{Decision, DenialKind, KeyId, KeySet, Limits, PublicKey, Request, Verifier};

use crate::common::{
    assert_message, at, denied, denied_as, grant, key, mint_text, mint_with, test_limits, verifier,
    verifier_builder, NOW,
};

/// A three-block token: the authority allows `tickets/*`; block 1 narrows to audience
/// `aud-one-x`, block 2 to `tickets/1`. Returns the token and its authority's token id.
fn three_blocks() -> (String, String) {
    let minted = mint_with(
        key(),
        &json!({"ttl": "1h", "allow": [{"resources": ["tickets/*"], "actions": ["read"]}]}),
    );
    let text = minted.token.to_base64().unwrap();
    let one = attenuate(
        &decode_unverified(&text).unwrap(),
        grant(&json!({"audience": ["aud-one-x"]})),
        NOW,
        &mut OsRng,
    )
    .unwrap();
    let two = attenuate(
        &one,
        grant(&json!({"allow": [{"resources": ["tickets/1"], "actions": ["read"]}], "audience": ["aud-one-x", "aud-two-y"]})),
        NOW,
        &mut OsRng,
    )
    .unwrap();
    (encode(&two), minted.token_id)
}

fn ok_request() -> Request {
    Request::new("tickets/1", "read", NOW).with_audience("aud-one-x")
}

/// A request the token denies (block 2 narrows to tickets/1).
fn narrowed_request() -> Request {
    Request::new("tickets/2", "read", NOW).with_audience("aud-one-x")
}

fn bytes_of(text: &str) -> Vec<u8> {
    warrant_core::token::decode_base64(text).unwrap()
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{:?} found {} times",
        String::from_utf8_lossy(needle),
        hits.len()
    );
    hits[0]
}

fn refused_as_tampered(d: &Decision, what: &str) {
    let den = d
        .denial()
        .unwrap_or_else(|| panic!("{what}: a tampered token was allowed: {d:?}"));
    assert_message(den);
    assert!(
        matches!(den.kind, DenialKind::BadSignature | DenialKind::Malformed),
        "{what}: {den:?}"
    );
}

#[test]
fn the_untampered_token_works() {
    let (text, _) = three_blocks();
    let v = verifier();
    assert!(v.verify(&text, &ok_request()).is_allowed());
    let d = v.verify(&text, &narrowed_request());
    assert_eq!(denied_as(&d, DenialKind::RuleNotMatched).block, Some(2));
}

#[test]
fn a_flipped_byte_in_any_signature_is_refused() {
    let (text, _) = three_blocks();
    let bytes = bytes_of(&text);
    let token = Biscuit::from(&bytes, key().public().to_biscuit().unwrap()).unwrap();
    let container = token.container();
    let sigs: Vec<Vec<u8>> = std::iter::once(&container.authority)
        .chain(&container.blocks)
        .map(|b| b.signature.to_bytes().to_vec())
        .collect();
    assert_eq!(sigs.len(), 3);
    for (block, sig) in sigs.iter().enumerate() {
        let start = find(&bytes, sig);
        for offset in [0, sig.len() / 2, sig.len() - 1] {
            for mask in [0x01u8, 0x80] {
                let mut t = bytes.clone();
                t[start + offset] ^= mask;
                for req in [ok_request(), narrowed_request()] {
                    let d = verifier().verify_bytes(&t, &req);
                    refused_as_tampered(&d, &format!("signature of block {block}, byte {offset}"));
                    assert_eq!(d.denial().unwrap().kind, DenialKind::BadSignature);
                }
            }
        }
    }
}

#[test]
fn a_flipped_byte_in_any_payload_is_refused() {
    let (text, token_id) = three_blocks();
    let bytes = bytes_of(&text);
    // Bytes only block 0, 1 or 2 holds: the token id (16 raw bytes in profile v2's
    // `warrant(2, hex:id, …)`), one audience of each block.
    for (block, marker) in [
        (0, hex::decode(&token_id).unwrap()),
        (1, b"aud-one-x".to_vec()),
        (2, b"aud-two-y".to_vec()),
    ] {
        // The first occurrence lies in the block named (an audience of block 1 is
        // repeated in block 2).
        let start = bytes
            .windows(marker.len())
            .position(|w| w == marker.as_slice())
            .unwrap();
        for offset in [0, marker.len() - 1] {
            let mut t = bytes.clone();
            t[start + offset] ^= 0x01;
            for req in [ok_request(), narrowed_request()] {
                let d = verifier().verify_bytes(&t, &req);
                refused_as_tampered(&d, &format!("payload of block {block}"));
                assert_eq!(
                    d.denial().unwrap().kind,
                    DenialKind::BadSignature,
                    "block {block}"
                );
            }
        }
    }
}

#[test]
fn a_flipped_byte_in_the_proof_is_refused() {
    let (text, _) = three_blocks();
    let bytes = bytes_of(&text);
    // The proof (the last block's next secret) ends the token.
    for back in [1, 16, 32] {
        let mut t = bytes.clone();
        let i = t.len() - back;
        t[i] ^= 0x01;
        refused_as_tampered(&verifier().verify_bytes(&t, &ok_request()), "proof");
    }
}

/// Flipping a bit in any byte of the token never widens it: a request it denies stays
/// denied; and the verifier answers every mutation, and every truncation, without panicking.
#[test]
fn no_bit_flip_or_truncation_widens_the_token() {
    let minted = mint_with(
        key(),
        &json!({"allow": [{"resources": ["t/*"], "actions": ["read"]}]}),
    );
    let narrowed = attenuate(
        &decode_unverified(&minted.token.to_base64().unwrap()).unwrap(),
        grant(&json!({"allow": [{"resources": ["t/1"], "actions": ["read"]}]})),
        NOW,
        &mut OsRng,
    )
    .unwrap();
    let bytes = bytes_of(&encode(&narrowed));
    let v = verifier();
    let denied_req = Request::new("t/2", "read", NOW);
    assert!(v
        .verify_bytes(&bytes, &Request::new("t/1", "read", NOW))
        .is_allowed());
    denied(&v.verify_bytes(&bytes, &denied_req));
    for i in 0..bytes.len() {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        let d = v.verify_bytes(&t, &denied_req);
        let den = d
            .denial()
            .unwrap_or_else(|| panic!("flipping a bit of byte {i} widened the token"));
        assert_message(den);
        if i % 4 == 0 {
            let d = v.verify_bytes(&bytes[..i], &Request::new("t/1", "read", NOW));
            let den = d
                .denial()
                .unwrap_or_else(|| panic!("a prefix of {i} bytes was allowed"));
            assert_message(den);
        }
    }
}

fn reserialize(
    text: &str,
    edit: impl FnOnce(&mut biscuit_auth::format::SerializedBiscuit),
) -> Vec<u8> {
    let bytes = bytes_of(text);
    let token = Biscuit::from(&bytes, key().public().to_biscuit().unwrap()).unwrap();
    let mut container = token.container().clone();
    edit(&mut container);
    container.to_vec().unwrap()
}

#[test]
fn reordered_blocks_are_refused() {
    let (text, _) = three_blocks();
    let swapped = reserialize(&text, |c| c.blocks.swap(0, 1));
    refused_as_tampered(
        &verifier().verify_bytes(&swapped, &ok_request()),
        "swapped blocks",
    );
    assert_eq!(
        verifier()
            .verify_bytes(&swapped, &ok_request())
            .denial()
            .unwrap()
            .kind,
        DenialKind::BadSignature
    );
}

/// An edit of a token's container.
type Edit = Box<dyn Fn(&mut biscuit_auth::format::SerializedBiscuit)>;

#[test]
fn removed_or_duplicated_blocks_are_refused() {
    let (text, _) = three_blocks();
    let edits: Vec<(&str, Edit)> = vec![
        (
            "first attenuation removed",
            Box::new(|c| drop(c.blocks.remove(0))),
        ),
        (
            "last attenuation removed",
            Box::new(|c| drop(c.blocks.pop())),
        ),
        ("every attenuation removed", Box::new(|c| c.blocks.clear())),
        (
            "a block duplicated",
            Box::new(|c| {
                let b = c.blocks[1].clone();
                c.blocks.push(b);
            }),
        ),
        (
            "authority replaced by an attenuation",
            Box::new(|c| c.authority = c.blocks[0].clone()),
        ),
    ];
    for (what, edit) in edits {
        let t = reserialize(&text, edit);
        // Removing the narrowing blocks would widen the token to tickets/2: refused.
        for req in [
            ok_request(),
            narrowed_request(),
            Request::new("tickets/2", "read", NOW),
        ] {
            let d = verifier().verify_bytes(&t, &req);
            refused_as_tampered(&d, what);
        }
    }
}

/// A key set in its published JSON form.
fn key_set(keys: &[(u32, PublicKey)]) -> KeySet {
    let entries: Vec<String> = keys
        .iter()
        .map(|(kid, k)| format!(r#"{{"kid": {kid}, "alg": "Ed25519", "public_key": "{k}"}}"#))
        .collect();
    KeySet::from_json(&format!(r#"{{"keys": [{}]}}"#, entries.join(", "))).unwrap()
}

#[test]
fn an_unknown_key_id_is_unknown_key() {
    let other = SigningKey::generate(&mut OsRng, Some(KeyId(2)));
    let text = mint_with(
        &other,
        &json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}),
    )
    .token
    .to_base64()
    .unwrap();
    let d = verifier().verify(&text, &Request::new("r", "read", NOW));
    let d = denied_as(&d, DenialKind::UnknownKey);
    assert!(d.message().contains('2'), "{d:?}");
    assert!(d.kind.is_invalid_token());
    // Trusting key id 2 as well makes it valid.
    let both = key_set(&[(1, key().public()), (2, other.public())]);
    let v = Verifier::builder(both)
        .limits(test_limits())
        .dangerous_accept_bearer()
        .build();
    assert!(v
        .verify(&text, &Request::new("r", "read", NOW))
        .is_allowed());
}

#[test]
fn a_key_id_naming_another_key_is_a_bad_signature() {
    let impostor = SigningKey::generate(&mut OsRng, Some(KeyId(1)));
    let text = mint_with(
        &impostor,
        &json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}),
    )
    .token
    .to_base64()
    .unwrap();
    denied_as(
        &verifier().verify(&text, &Request::new("r", "read", NOW)),
        DenialKind::BadSignature,
    );
    let single = Verifier::dangerous_any_key_id(key().public())
        .limits(test_limits())
        .dangerous_accept_bearer()
        .build();
    denied_as(
        &single.verify(&text, &Request::new("r", "read", NOW)),
        DenialKind::BadSignature,
    );
}

#[test]
fn a_token_without_key_id_needs_an_unambiguous_key_set() {
    let anonymous = SigningKey::from_secret_bytes(&[7; 32], None).unwrap();
    let text = mint_with(
        &anonymous,
        &json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}),
    )
    .token
    .to_base64()
    .unwrap();
    let req = Request::new("r", "read", NOW);
    let one = Verifier::builder(KeySet::single(KeyId(9), anonymous.public()))
        .limits(test_limits())
        .dangerous_accept_bearer()
        .build();
    assert!(one.verify(&text, &req).is_allowed());
    let two = key_set(&[(1, key().public()), (9, anonymous.public())]);
    denied_as(
        &Verifier::builder(two)
            .limits(test_limits())
            .dangerous_accept_bearer()
            .build()
            .verify(&text, &req),
        DenialKind::UnknownKey,
    );
    // One key, but not the signer's.
    denied_as(&verifier().verify(&text, &req), DenialKind::BadSignature);
}

#[test]
fn expiry_boundaries() {
    let text =
        mint_text(&json!({"ttl": "10m", "allow": [{"resources": ["r"], "actions": ["read"]}]}));
    let v = verifier();
    assert!(v
        .verify(&text, &Request::new("r", "read", at(600)))
        .is_allowed());
    let d = v.verify(&text, &Request::new("r", "read", at(601)));
    let d = denied_as(&d, DenialKind::Expired);
    assert!(d.message().contains("expired"), "{d:?}");
    assert_eq!(d.block, Some(0));
    assert!(d.kind.is_invalid_token());
    // Expired wins over every other failure.
    let d = v.verify(&text, &Request::new("elsewhere", "write", at(601)));
    denied_as(&d, DenialKind::Expired);
}

#[test]
fn an_attenuation_can_shorten_the_lifetime() {
    let text =
        mint_text(&json!({"ttl": "1h", "allow": [{"resources": ["r"], "actions": ["read"]}]}));
    let short = encode(
        &attenuate(
            &decode_unverified(&text).unwrap(),
            grant(&json!({"ttl": "1m"})),
            NOW,
            &mut OsRng,
        )
        .unwrap(),
    );
    let v = verifier();
    assert!(v
        .verify(&short, &Request::new("r", "read", at(60)))
        .is_allowed());
    let d = v.verify(&short, &Request::new("r", "read", at(61)));
    let d = denied_as(&d, DenialKind::Expired);
    assert_eq!(d.block, Some(1));
    assert!(d.message().starts_with("block 1"), "{d:?}");
    assert!(v
        .verify(&text, &Request::new("r", "read", at(61)))
        .is_allowed());
    let Decision::Allowed(claims) = v.verify(&short, &Request::new("r", "read", NOW)) else {
        panic!("expected allowed");
    };
    assert_eq!(claims.expires_at.as_deref(), Some("2026-11-30T10:01:00Z"));
}

#[test]
fn not_before_boundaries() {
    let text = mint_text(&json!({
        "not_before": at(3600).to_string(),
        "expires_at": at(7200).to_string(),
        "allow": [{"resources": ["r"], "actions": ["read"]}]
    }));
    let v = verifier();
    let d = v.verify(&text, &Request::new("r", "read", at(3599)));
    let d = denied_as(&d, DenialKind::NotYetValid);
    assert!(d.kind.is_invalid_token());
    denied_as(
        &v.verify(&text, &Request::new("r", "read", NOW)),
        DenialKind::NotYetValid,
    );
    assert!(v
        .verify(&text, &Request::new("r", "read", at(3600)))
        .is_allowed());
    assert!(v
        .verify(&text, &Request::new("r", "read", at(7200)))
        .is_allowed());
    denied_as(
        &v.verify(&text, &Request::new("r", "read", at(7201))),
        DenialKind::Expired,
    );
}

#[test]
fn wrong_or_missing_audience() {
    let text = mint_text(
        &json!({"audience": ["support-api"], "allow": [{"resources": ["r"], "actions": ["read"]}]}),
    );
    let req = Request::new("r", "read", NOW);
    let billing = verifier_builder().audience("billing-api").build();
    let d = billing.verify(&text, &req);
    let d = denied_as(&d, DenialKind::Audience);
    assert!(
        d.message().contains("billing-api") && d.message().contains("support-api"),
        "{d:?}"
    );
    // No audience at all: refused too.
    let d = verifier().verify(&text, &req);
    denied_as(&d, DenialKind::Audience);
    // The verifier's audience, or the request's, when right.
    assert!(verifier_builder()
        .audience("support-api")
        .build()
        .verify(&text, &req)
        .is_allowed());
    assert!(billing
        .verify(&text, &req.clone().with_audience("support-api"))
        .is_allowed());
    denied_as(
        &verifier_builder()
            .audience("support-api")
            .build()
            .verify(&text, &req.with_audience("billing-api")),
        DenialKind::Audience,
    );
}

#[test]
fn oversized_tokens_are_refused_before_parsing() {
    let req = Request::new("r", "read", NOW);
    let v = verifier();
    // Base64 text that decodes to more than the limit.
    let big = "A".repeat((MAX_TOKEN_BYTES + 1024) / 3 * 4);
    let d = v.verify(&big, &req);
    let d = denied_as(&d, DenialKind::Malformed);
    assert!(d.message().contains(&MAX_TOKEN_BYTES.to_string()), "{d:?}");
    // Very large input is refused quickly, whatever its characters.
    let huge = "!".repeat(16 * 1024 * 1024);
    let started = Instant::now();
    denied_as(&v.verify(&huge, &req), DenialKind::Malformed);
    assert!(started.elapsed() < Duration::from_secs(2));
    // Raw bytes too.
    let d = v.verify_bytes(&vec![0u8; MAX_TOKEN_BYTES + 1], &req);
    assert!(denied_as(&d, DenialKind::Malformed)
        .message()
        .contains("more than"));
}

/// A valid token of about 78 KiB: five attenuation blocks of four 3900-byte facts each.
/// Profile v2 tokens are smaller: every filler string is distinct (Biscuit stores a
/// repeated string once, in the shared symbol table) and each fact stays within the
/// evaluation budget's term size, so the token is still evaluated when admitted.
fn genuine_big_token() -> (String, Vec<u8>) {
    let text = mint_text(&json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}));
    let mut token = decode_unverified(&text).unwrap();
    for b in 0..5 {
        let filler: String = (0..4)
            .map(|f| format!("n(\"{b}-{f}-{}\");", "x".repeat(3900)))
            .collect();
        token = attenuate(&token, grant(&json!({"datalog": filler})), NOW, &mut OsRng).unwrap();
    }
    let bytes = token.to_vec().unwrap();
    assert!(bytes.len() > MAX_TOKEN_BYTES);
    (encode(&token), bytes)
}

#[test]
fn a_genuine_token_over_the_limit_is_refused_before_parsing() {
    let (big, bytes) = genuine_big_token();
    let req = Request::new("r", "read", NOW);
    let d = verifier().verify(&big, &req);
    let d = denied_as(&d, DenialKind::Malformed);
    assert!(d.message().contains("more than"), "{d:?}");
    let d = verifier().verify_bytes(&bytes, &req);
    assert!(denied_as(&d, DenialKind::Malformed)
        .message()
        .contains("more than"));
    // A verifier configured for smaller tokens refuses sooner.
    let small = verifier_builder().max_token_bytes(256).build();
    let ok = mint_text(&json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}));
    assert!(verifier().verify(&ok, &req).is_allowed());
    denied_as(&small.verify(&ok, &req), DenialKind::Malformed);
}

/// Regression (warrant-core src/token.rs, `TokenError::TooLarge`, used by warrant-verifier
/// src/verifier.rs `Verifier::check`): the message always names the fixed
/// `MAX_TOKEN_BYTES`, not the limit that refused the token. A verifier configured with
/// `with_max_token_bytes(256)` refuses a ~400-byte token with "the token is N bytes, more
/// than the 65536 allowed". Expected, and now the case: "more than the 256 allowed".
#[test]
fn regression_a_lowered_size_limit_is_misreported() {
    let small = verifier_builder().max_token_bytes(256).build();
    let ok = mint_text(&json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}));
    let d = small.verify(&ok, &Request::new("r", "read", NOW));
    let d = denied_as(&d, DenialKind::Malformed);
    assert!(d.message().contains("more than the 256 allowed"), "{d:?}");
}

/// Regression (warrant-verifier src/verifier.rs, `Verifier::verify`, fixed): the text path decodes with
/// `warrant_core::token::decode_base64`, which refuses anything over the fixed
/// `MAX_TOKEN_BYTES` (64 KiB) before `check` applies the configured
/// `with_max_token_bytes` limit. A verifier configured for larger tokens accepts a
/// 78 KiB token as bytes (`verify_bytes`) but refuses the same token as text (`verify`)
/// with "the token is N bytes, more than the 65536 allowed". Expected: both honour the
/// configured limit.
#[test]
fn regression_a_raised_size_limit_is_ignored_for_token_text() {
    let (big, bytes) = genuine_big_token();
    let req = Request::new("r", "read", NOW);
    let roomy = verifier_builder().max_token_bytes(256 * 1024).build();
    assert!(roomy.verify_bytes(&bytes, &req).is_allowed());
    let d = roomy.verify(&big, &req);
    assert!(d.is_allowed(), "text refused, bytes accepted: {d:?}");
}

#[test]
fn garbage_and_empty_input() {
    let v = verifier();
    let req = Request::new("r", "read", NOW);
    for text in ["", "   ", "\n\t"] {
        let d = v.verify(text, &req);
        assert!(
            denied_as(&d, DenialKind::Malformed)
                .message()
                .contains("empty"),
            "{text:?}"
        );
    }
    for text in [
        "!!!!",
        "not a token",
        "ab+/",
        "AAAA====",
        "aGVsbG8gd29ybGQ",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "€€€€",
        "\u{0}\u{0}\u{0}\u{0}",
        "Cg", // a truncated protobuf
    ] {
        let d = v.verify(text, &req);
        denied_as(&d, DenialKind::Malformed);
    }
    // A valid token with garbage appended, or padding mangled.
    let token = mint_text(&json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}));
    for text in [
        format!("{token}!"),
        format!("{token}AAAA"),
        format!("x{token}"),
    ] {
        denied(&v.verify(&text, &req));
    }
    // Surrounding whitespace and missing padding are accepted.
    assert!(v.verify(&format!("  {token}\n"), &req).is_allowed());
    assert!(v.verify(token.trim_end_matches('='), &req).is_allowed());
}

#[test]
fn raw_datalog_that_generates_many_facts_hits_the_limits() {
    let text = mint_text(&json!({
        "allow": [{"resources": ["r"], "actions": ["read"]}],
        "datalog": "n(1); n(2); n(3); n(4); n(5); n(6); n(7); n(8); n(9); n(10); m($x) <- n($x); k($x) <- m($x);"
    }));
    let req = Request::new("r", "read", NOW);
    assert!(verifier().verify(&text, &req).is_allowed());
    let tight = verifier_builder()
        .limits(Limits {
            max_facts: 10,
            ..test_limits()
        })
        .build();
    let d = tight.verify(&text, &req);
    let d = denied_as(&d, DenialKind::LimitsExceeded);
    assert!(d.message().contains("limit"), "{d:?}");
    // Iterations: m then k needs two rounds of rule application (three with the last, empty one).
    let few = verifier_builder()
        .limits(Limits {
            max_iterations: 1,
            ..test_limits()
        })
        .build();
    denied_as(&few.verify(&text, &req), DenialKind::LimitsExceeded);
    // Time.
    let instant = verifier_builder()
        .limits(Limits {
            max_time: Duration::ZERO,
            ..test_limits()
        })
        .build();
    denied_as(&instant.verify(&text, &req), DenialKind::LimitsExceeded);
}

#[test]
fn raw_datalog_checks_are_explained_as_check_failed() {
    let text = mint_text(&json!({
        "allow": [{"resources": ["r"], "actions": ["*"]}],
        "datalog": "check if action(\"read\");"
    }));
    let v = verifier();
    assert!(v
        .verify(&text, &Request::new("r", "read", NOW))
        .is_allowed());
    let d = v.verify(&text, &Request::new("r", "write", NOW));
    let d = denied_as(&d, DenialKind::CheckFailed);
    assert_eq!(d.check(), Some("check if action(\"read\")"));
}

#[test]
fn a_revocation_file_with_an_upper_case_token_id_revokes_the_token() {
    let minted = crate::common::mint_with(
        crate::common::key(),
        &json!({"audience": ["a"], "allow": [{"resources": ["**"], "actions": ["*"]}]}),
    );
    let token = minted.token.to_base64().unwrap();
    let request = Request::new("x", "read", crate::common::NOW).with_audience("a");
    let v = crate::common::verifier();
    assert!(v.verify(&token, &request).is_allowed());
    let dir = std::env::temp_dir().join(format!("warrant-revoke-case-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("revocations.json");
    let upper = minted.token_id.to_uppercase();
    std::fs::write(
        &file,
        format!(r#"{{"entries": [{{"kind": "token_id", "value": "{upper}"}}]}}"#),
    )
    .unwrap();
    v.set_revocations(warrant_verifier::revocations_from_file(&file).unwrap());
    crate::common::denied_as(&v.verify(&token, &request), DenialKind::Revoked);
    // An entry that is no token id fails the load, naming the file and the entry.
    std::fs::write(
        &file,
        format!(
            r#"{{"entries": [{{"kind": "token_id", "value": "{upper}"}}, {{"kind": "token_id", "value": "{upper}-typo"}}]}}"#
        ),
    )
    .unwrap();
    let err = warrant_verifier::revocations_from_file(&file)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&file.display().to_string())
            && err.contains("entries[1]")
            && err.contains(&format!("`{upper}-typo`")),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
