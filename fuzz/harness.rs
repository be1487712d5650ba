// The fuzzing harness, shared by the fuzz targets (`cargo +nightly fuzz run <target>`)
// and by the corpus-replay test that runs in ordinary `cargo test`
// (crates/warrant-verifier/tests/it/fuzz_replay.rs). Nothing here may panic on any input;
// the fuzzers look for inputs where warrant does.

use std::sync::OnceLock;

use warrant_core::grant::Grant;
use warrant_core::keys::{KeyId, KeySet, SigningKey};
use warrant_core::time::Timestamp;
use warrant_core::token::{
    attenuate, decode_unverified, encode, mint, resolve_lifetime, MintRequest,
};
use warrant_verifier::{Request, Verifier};

const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

/// A deterministic generator, so the fixtures are the same on every run.
struct Counter(u64);

impl rand_core::RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for Counter {}

struct Fixture {
    verifier: Verifier,
    token: Vec<u8>,
    requests: Vec<Request>,
}

const GRANT: &str = r#"{
  "audience": ["support-api"], "expires_at": "2026-11-30T11:00:00Z",
  "allow": [
    { "resources": ["tickets/123/customer_name", "tickets/123/email_address"], "actions": ["read"],
      "when": [ { "attr": "ticket.status", "eq": "open" } ] },
    { "resources": ["orders/*/order_status"], "actions": ["update"],
      "when": [ { "attr": "order.placed_at", "within": "24h" }, { "attr": "ok", "eq": true } ] },
    { "resources": ["orders/*"], "actions": ["refund"],
      "when": [ { "attr": "amount", "lt": 5000 }, { "attr": "reason", "present": true } ],
      "human": { "methods": ["passkey"], "max_age": "5m" } }
  ],
  "deny": [ { "resources": ["customers/*/payment_card"], "actions": ["*"] } ]
}"#;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = Counter(7);
        let key = SigningKey::from_secret_bytes(&[7u8; 32], Some(KeyId(1))).expect("key");
        let grant = Grant::from_json_str(GRANT).expect("grant");
        let minted = mint(&key, MintRequest::offline(grant), NOW, &mut rng).expect("mint");
        let token = decode_unverified(&minted.token.to_base64().expect("b64")).expect("decode");
        let narrower = Grant::from_json_str(
            r#"{"ttl": "5m", "allow": [{"resources": ["tickets/123/*"], "actions": ["read"]}]}"#,
        )
        .expect("narrower");
        let token = attenuate(&token, narrower, NOW, &mut rng).expect("attenuate");
        let token = warrant_core::token::decode_base64(&encode(&token)).expect("bytes");
        let verifier = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .audience("support-api")
            .dangerous_accept_bearer()
            .build();
        let requests = vec![
            Request::new("tickets/123/email_address", "read", NOW)
                .with_attr("ticket.status", "open"),
            Request::new("orders/7", "refund", NOW)
                .with_attr("amount", 10)
                .with_attr("reason", "x"),
            Request::new("customers/1/payment_card", "read", NOW),
        ];
        Fixture {
            verifier,
            token,
            requests,
        }
    })
}

/// Token input: raw bytes, base64 text, or (first byte `0xff`) edits of a valid token.
pub(crate) fn verify_input(data: &[u8]) {
    let f = fixture();
    let mut candidates: Vec<Vec<u8>> = vec![data.to_vec()];
    if let Some((&0xff, edits)) = data.split_first() {
        // Each pair of bytes patches the valid token: (position, xor mask).
        let mut t = f.token.clone();
        for pair in edits.chunks(2) {
            if let [pos, mask] = pair {
                let i = usize::from(*pos) * t.len() / 256;
                t[i] ^= mask;
            }
        }
        candidates.push(t);
    }
    for bytes in &candidates {
        for req in &f.requests {
            let _ = f.verifier.verify_bytes(bytes, req);
        }
        let _ = warrant_core::inspect::inspect(bytes, None);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        for req in &f.requests {
            let _ = f.verifier.verify(text, req);
        }
        if let Ok(t) = decode_unverified(text) {
            let _ = warrant_core::inspect::inspect(&t.to_vec().unwrap_or_default(), None);
        }
    }
}

/// Grant input: JSON or TOML text, compiled, rendered, evaluated and minted.
pub(crate) fn grant_input(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = [Grant::from_json_str(text), Grant::from_toml_str(text)];
    for mut grant in parsed.into_iter().flatten() {
        // Parsing what it prints gives the same grant back.
        let again = Grant::from_json(&grant.to_json());
        assert_eq!(
            again.as_ref().map_err(ToString::to_string),
            Ok(&grant),
            "round trip of {text:?}"
        );
        if resolve_lifetime(&mut grant, NOW, None).is_err() {
            continue;
        }
        let ctx = warrant_core::compile::CompileContext {
            human_verified_at: Some(NOW),
        };
        let _ = warrant_core::compile::compile(&grant, ctx);
        for req in &fixture().requests {
            let _ = warrant_core::eval::evaluate(&grant, None, &req_core(req));
        }
        if !grant.allow.is_empty() {
            let key = SigningKey::from_secret_bytes(&[9u8; 32], Some(KeyId(1))).expect("key");
            let mut req = MintRequest::offline(grant.clone());
            req.human = Some("alice".into());
            if let Ok(minted) = mint(&key, req, NOW, &mut Counter(1)) {
                // A minted block is recognised by its structure and decompiles to the
                // very grant it was compiled from (raw Datalog aside).
                let bytes = minted.token.to_vec().expect("serialize");
                let blocks = warrant_core::blocks::read_blocks(&bytes).expect("blocks");
                let lifted = warrant_core::decompile::lift(&blocks);
                if grant.datalog.is_none() {
                    let lifted = lifted.expect("a minted token is in the profile");
                    assert_eq!(lifted.blocks[0].grant(), grant, "decompiling {text:?}");
                } else {
                    assert!(lifted.is_none(), "raw Datalog is outside the profile");
                }
            }
        }
    }
}

fn req_core(r: &Request) -> warrant_core::request::RequestFacts {
    let mut c = warrant_core::request::RequestFacts::new(r.resource(), r.action(), r.time());
    c.audience = Some("support-api".to_owned());
    c
}

/// Whether the fixture token is allowed for the first fixture request (so edits of it reach
/// every check, not only the signature).
pub(crate) fn fixture_is_allowed() -> bool {
    let f = fixture();
    f.requests
        .first()
        .is_some_and(|r| f.verifier.verify_bytes(&f.token, r).is_allowed())
}
