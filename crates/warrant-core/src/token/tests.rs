use rand_core::{CryptoRng, RngCore};

use super::*;
use crate::blocks::read_blocks;
use crate::keys::KeyId;

const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

/// A deterministic generator (SplitMix64), so that two mints drawing the same numbers in
/// the same order give the same bytes.
struct Counter(u64);

impl RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let n = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Counter {}

fn grant(json: &str) -> Grant {
    Grant::from_json_str(json).unwrap()
}

fn ceiling() -> MintRequest {
    let mut req = MintRequest::offline(grant(
        r#"{"ttl": "1h", "audience": ["support-api"],
            "allow": [{"resources": "tickets/**", "actions": ["read", "update"]}],
            "deny": [{"resources": "tickets/*/payment_card", "actions": "*"}]}"#,
    ));
    req.human = Some("alice".into());
    req.verification = Some(Verification {
        method: Method::Passkey,
        at: NOW,
    });
    req.issuer = "https://issuer.example".into();
    req
}

fn requested() -> Grant {
    grant(
        r#"{"allow": [{"resources": "tickets/123/*", "actions": "read",
                       "human": {"methods": ["passkey"], "max_age": "5m"}}]}"#,
    )
}

#[test]
fn mint_narrowed_is_mint_then_attenuate() {
    let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(7)));
    let narrowed = mint_narrowed(&key, ceiling(), requested(), NOW, &mut Counter(1)).unwrap();

    let mut rng = Counter(1);
    let minted = mint(&key, ceiling(), NOW, &mut rng).unwrap();
    let decoded = decode_unverified(&minted.token.to_base64().unwrap()).unwrap();
    let attenuated = attenuate(&decoded, requested(), NOW, &mut rng).unwrap();

    // The same bytes: same blocks, same keys, same signatures.
    assert_eq!(
        narrowed.token.to_vec().unwrap(),
        attenuated.to_vec().unwrap()
    );
    assert_eq!(narrowed.token_id, minted.token_id);
    assert_eq!(narrowed.expires_at, minted.expires_at);
    assert_eq!(narrowed.token.root_key_id(), Some(7));
    // And it verifies under the root key, as the attenuated token does.
    let root = key.public().to_biscuit().unwrap();
    let bytes = narrowed.token.to_vec().unwrap();
    assert!(Biscuit::from(&bytes, root).is_ok());
    assert!(Biscuit::from(attenuated.to_vec().unwrap(), root).is_ok());
    let blocks = read_blocks(&bytes).unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        AuthorityFacts::from_blocks(&blocks).human.as_deref(),
        Some("alice")
    );
}

#[test]
fn mint_narrowed_expires_with_its_earlier_block() {
    let key = SigningKey::generate(&mut rand_core::OsRng, None);
    let mut shorter = requested();
    shorter.ttl = Some(Span::from_seconds(60));
    let m = mint_narrowed(&key, ceiling(), shorter, NOW, &mut rand_core::OsRng).unwrap();
    assert_eq!(m.expires_at, NOW.plus(Span::from_seconds(60)));
    let m = mint_narrowed(&key, ceiling(), requested(), NOW, &mut rand_core::OsRng).unwrap();
    assert_eq!(m.expires_at, NOW.plus(Span::from_seconds(3600)));
}

#[test]
fn mint_narrowed_refuses_what_mint_or_attenuate_refuse() {
    let key = SigningKey::generate(&mut rand_core::OsRng, None);
    let e = mint_narrowed(
        &key,
        ceiling(),
        Grant::default(),
        NOW,
        &mut rand_core::OsRng,
    )
    .unwrap_err();
    assert!(matches!(e, TokenError::NarrowsNothing), "{e}");
    let mut bad = ceiling();
    bad.human = Some("a\"b".into());
    let e = mint_narrowed(&key, bad, requested(), NOW, &mut rand_core::OsRng).unwrap_err();
    assert!(matches!(e, TokenError::HumanId(_)), "{e}");
    let mut past = requested();
    past.expires_at = Some(NOW);
    let e = mint_narrowed(&key, ceiling(), past, NOW, &mut rand_core::OsRng).unwrap_err();
    assert!(
        matches!(&e, TokenError::Grant(g) if g.path == "expires_at"),
        "{e}"
    );
}

#[test]
fn token_errors_keep_their_causes() {
    use std::error::Error as _;
    let e = decode_unverified("!!!").unwrap_err();
    assert!(matches!(e, TokenError::Base64(_)));
    assert!(e.source().is_some());
    let e = decode_unverified("AAAA").unwrap_err();
    assert!(matches!(e, TokenError::Format(_)), "{e}");
    assert!(e.source().is_some());
    let key = SigningKey::generate(&mut rand_core::OsRng, None);
    let mut req = ceiling();
    // y = 2 is not the y of a point of the curve: any 32 bytes make a `PublicKey`, not
    // a holder.
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    req.holder = Some(crate::keys::PublicKey::from_bytes(not_a_point).into());
    let e = mint(&key, req, NOW, &mut rand_core::OsRng).unwrap_err();
    assert!(
        matches!(e, TokenError::Authority(AuthorityError::Holder(_))),
        "{e}"
    );
    assert!(e.source().is_some(), "{e}");
    let mut req = ceiling();
    req.issuer = String::new();
    let e = mint(&key, req, NOW, &mut rand_core::OsRng).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`` is not an issuer name: use 1 to 256 characters without quotes, backslashes or control characters"
    );
}
