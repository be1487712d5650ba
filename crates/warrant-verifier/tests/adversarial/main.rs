//! The adversarial suite: an attacker holding an ordinary token (or none) tries to forge,
//! smuggle, exhaust, walk out of patterns, confuse types, stretch time, re-bind, replay,
//! evade revocation and poison the cache. Every attack asserts the denial's kind and its
//! explanation; a few benign look-alikes assert that they are allowed, so the suite does
//! not pass by denying everything.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking, and the panic names what failed"
)]

mod attributes;
mod cache;
mod dpop;
mod exhaustion;
mod forgery;
mod holder;
mod patterns;
mod revocation;
mod smuggling;
mod time;

use std::time::{Duration, Instant};

use warrant_core::keys::SigningKey;
use warrant_core::token::MintRequest;
pub use warrant_test::{
    append_block, append_plain, append_third_party, at, bearer, grant, holder_fact, key, mint_for,
    new_key, new_p256_key, proof_at, NOW, URL,
};
use warrant_verifier::{
    Decision, Denial, DenialKind, KeyId, KeySet, Request, Verifier, VerifierBuilder,
};

/// The longest a single `verify` may take, in a debug build on a slow shared machine with
/// the other tests running in parallel (a debug build is 20 to 300 times slower than
/// release here: the worst token the verifier accepts, 32 blocks, takes about 1.5 ms in
/// release and up to 0.7 s in a loaded debug run). Generous on purpose: the attacks this
/// suite replays took 20 to 80 seconds each before the evaluation budget.
pub const TIME_BOUND: Duration = Duration::from_secs(2);

/// A verifier trusting [`key`] under key id 1 that accepts bearer tokens.
pub fn bearer_verifier() -> Verifier {
    bearer_builder().build()
}

/// The builder of [`bearer_verifier`], for tests that change a setting.
pub fn bearer_builder() -> VerifierBuilder {
    strict_builder().dangerous_accept_bearer()
}

/// A verifier trusting [`key`] under key id 1 that refuses bearer tokens (the default).
pub fn strict_verifier() -> Verifier {
    strict_builder().build()
}

/// The builder of [`strict_verifier`], for tests that change a setting.
pub fn strict_builder() -> VerifierBuilder {
    Verifier::builder(KeySet::single(KeyId(1), key().public()))
}

/// Mints a prepared request at [`NOW`] with [`key`], as base64 text.
pub fn mint_req(req: MintRequest) -> String {
    warrant_test::mint_now(key(), req)
        .token
        .to_base64()
        .unwrap()
}

/// `action` on `resource` at [`NOW`] with a fresh proof by `signer` for `GET URL`.
pub fn proven(signer: &SigningKey, token: &str, resource: &str, action: &str) -> Request {
    Request::new(resource, action, NOW).with_proof(proof_at(signer, token, NOW), "GET", URL)
}

/// Verifies and measures: panics if one verification takes longer than [`TIME_BOUND`].
pub fn timed(v: &Verifier, token: &str, req: &Request) -> (Decision, Duration) {
    let start = Instant::now();
    let d = v.verify(token, req);
    let took = start.elapsed();
    assert!(
        took < TIME_BOUND,
        "one verification took {took:?}, more than {TIME_BOUND:?}: {d:?}"
    );
    record_time(took);
    (d, took)
}

/// The slowest verification measured by [`timed`] in this run, for the report.
pub fn record_time(took: Duration) {
    static SLOWEST: std::sync::Mutex<Duration> = std::sync::Mutex::new(Duration::ZERO);
    let mut s = SLOWEST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if took > *s {
        *s = took;
        eprintln!("slowest verification so far: {took:?}");
    }
}

/// Asserts the rules every denial follows: a non-empty single line (no log injection).
pub fn assert_message(d: &Denial) {
    let m = d.message();
    assert!(!m.trim().is_empty(), "empty message in {d:?}");
    assert!(
        !m.contains('\n') && !m.contains('\r'),
        "multi-line message in {d:?}"
    );
}

/// Asserts `decision` is a denial of `kind` whose message contains every one of `parts`.
#[track_caller]
pub fn denied<'a>(decision: &'a Decision, kind: DenialKind, parts: &[&str]) -> &'a Denial {
    let d = decision
        .denial()
        .unwrap_or_else(|| panic!("ATTACK GOT THROUGH: expected {kind:?}, got {decision:?}"));
    assert_message(d);
    assert_eq!(d.kind, kind, "unexpected denial kind: {d:?}");
    for p in parts {
        assert!(
            d.message().contains(p),
            "denial message `{}` does not contain `{p}` ({d:?})",
            d.message()
        );
    }
    d
}

/// Asserts `decision` is allowed.
#[track_caller]
pub fn allowed(decision: &Decision) {
    assert!(decision.is_allowed(), "expected allowed, got {decision:?}");
}

/// A table row: one named attack, its token and request, the expected denial.
#[derive(Debug)]
pub struct Attack {
    pub name: &'static str,
    pub token: String,
    pub request: Request,
    pub kind: DenialKind,
    pub parts: Vec<String>,
    pub block: Option<usize>,
    pub attribute: Option<&'static str>,
}

/// Runs every row, reporting every failing attack by name.
pub fn run_table(v: &Verifier, attacks: Vec<Attack>) {
    let mut failures = Vec::new();
    for a in attacks {
        let start = Instant::now();
        let d = v.verify(&a.token, &a.request);
        let took = start.elapsed();
        record_time(took);
        let mut problems = Vec::new();
        if took >= TIME_BOUND {
            problems.push(format!("took {took:?}"));
        }
        match d.denial() {
            None => problems.push(format!("ATTACK GOT THROUGH: allowed {d:?}")),
            Some(den) => {
                if den.kind != a.kind {
                    problems.push(format!("kind {:?}, expected {:?}", den.kind, a.kind));
                }
                if den.message().contains('\n') || den.message().contains('\r') {
                    problems.push("multi-line message".to_owned());
                }
                for p in &a.parts {
                    if !den.message().contains(p.as_str()) {
                        problems.push(format!("message lacks `{p}`"));
                    }
                }
                if a.block.is_some() && den.block != a.block {
                    problems.push(format!("block {:?}, expected {:?}", den.block, a.block));
                }
                if a.attribute.is_some() && den.attribute() != a.attribute {
                    problems.push(format!(
                        "attribute {:?}, expected {:?}",
                        den.attribute(),
                        a.attribute
                    ));
                }
                if !problems.is_empty() {
                    problems.push(format!("denial: {den:?}"));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", a.name, problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "attacks failed:\n{}",
        failures.join("\n")
    );
}

/// Shorthand for a row.
pub fn attack(
    name: &'static str,
    token: String,
    request: Request,
    kind: DenialKind,
    parts: &[&str],
) -> Attack {
    Attack {
        name,
        token,
        request,
        kind,
        parts: parts.iter().map(|s| (*s).to_owned()).collect(),
        block: None,
        attribute: None,
    }
}

impl Attack {
    /// Also expects the denial to name `block`.
    pub fn block(mut self, block: usize) -> Self {
        self.block = Some(block);
        self
    }

    /// Also expects the denial to name `attribute`.
    pub fn attribute(mut self, attribute: &'static str) -> Self {
        self.attribute = Some(attribute);
        self
    }
}

/// The top-level fields of a serialized Biscuit (protobuf): `root_key_id` (1),
/// `authority` (2), `blocks` (3), `proof` (4), each as its raw encoded field.
pub fn split_fields(bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    fn varint(b: &[u8], i: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[*i];
            *i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let tag = varint(bytes, &mut i);
        match tag & 7 {
            0 => {
                varint(bytes, &mut i);
            }
            2 => {
                let len = usize::try_from(varint(bytes, &mut i)).unwrap();
                i += len;
            }
            w => panic!("unexpected wire type {w}"),
        }
        out.push((tag >> 3, bytes[start..i].to_vec()));
    }
    out
}

/// Decodes base64 token text to bytes.
pub fn token_bytes(text: &str) -> Vec<u8> {
    warrant_core::token::decode_base64(text).unwrap()
}

/// Encodes token bytes as base64 text.
pub fn token_text(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}
