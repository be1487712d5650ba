//! DPoP proofs by algorithm, side by side in one run:
//! `cargo bench -p warrant-verifier --bench dpop`.
//!
//! Group "dpop-alg" measures, for an Ed25519 holder (`EdDSA` proofs) and a P-256 holder
//! (`ES256` proofs):
//!
//! - the floor: one bare signature verification (`ed25519-dalek`'s `verify_strict`; the
//!   `p256` crate's ECDSA verification with a decoded key), over a message the size of a
//!   proof's signing input;
//! - one DPoP check alone (`warrant_core::dpop::check_proof` with the holder's prepared
//!   key, as the verifier keeps it per token): header and claims parsed, `jwk` compared
//!   with the holder, the signature, `htm`, `htu`, `iat`, `ath`;
//! - a whole request through a warm verifier (what the tower layer calls): a token minted
//!   for an agent and delegated once to a sub-agent of the same algorithm, from the
//!   cache, its holder chain, a fresh proof by the sub-agent (made outside the timing),
//!   the rules, then the replay cache.
//!
//! What warrant adds to a proof is the time above its floor. On a shared machine the time
//! of one P-256 verification drifts by a third from one minute to the next, so after the
//! criterion rows the ratios are also measured paired: in each of 40 rounds, 16 runs of
//! one and 16 of the other (each first in every other round), the ratio of the two times;
//! it prints the median and the
//! quartiles of the rounds' ratios (drift between rounds cancels out). Results:
//! docs/performance.md ("DPoP proofs: ES256 beside EdDSA").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a bench whose setup fails stops, naming what failed"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ed25519_dalek::Signer as _;
use p256::ecdsa::signature::Verifier as _;
use warrant_core::dpop::{check_proof, create_proof, Expected, HolderKey, DEFAULT_PROOF_WINDOW};
use warrant_core::grant::Grant;
use warrant_core::keys::{HolderSigner, KeyId, KeySet, P256SigningKey, SigningKey};
use warrant_core::time::Timestamp;
use warrant_core::token::{decode_unverified, delegate, encode, mint, MintRequest};
use warrant_verifier::{MemoryReplayCache, Request, Verifier};

const URL: &str = "https://support.example/tickets/123/email_address";

/// A token for `agent`, delegated (narrowed) to `sub_agent`; the bench's design grant.
fn bound_token(
    issuer: &SigningKey,
    agent: &dyn HolderSigner,
    sub_agent: &dyn HolderSigner,
    now: Timestamp,
) -> String {
    let mut rng = rand_core::OsRng;
    let grant = Grant::from_json_str(&warrant_test::design_grant("10m")).expect("grant");
    let mut req = MintRequest::offline(grant);
    req.human = Some("alice".into());
    req.holder = Some(agent.holder_key());
    let minted = mint(issuer, req, now, &mut rng).expect("mint");
    let token = decode_unverified(&minted.token.to_base64().expect("b64")).expect("decode");
    let narrower = Grant::from_json_str(
        r#"{"ttl": "5m", "allow": [{"resources": ["tickets/123/*"], "actions": ["read"]}]}"#,
    )
    .expect("narrower");
    let token = delegate(
        &token,
        agent,
        sub_agent.holder_key(),
        narrower,
        now,
        &mut rng,
    )
    .expect("delegate");
    encode(&token)
}

/// One holder algorithm's fixture: the sub-agent's key and its token, a proof for reuse
/// by the check alone.
struct Holder {
    name: &'static str,
    key: Box<dyn HolderSigner>,
    token: String,
    proof: String,
}

fn holder(
    name: &'static str,
    issuer: &SigningKey,
    agent: &dyn HolderSigner,
    key: Box<dyn HolderSigner>,
    now: Timestamp,
) -> Holder {
    let token = bound_token(issuer, agent, key.as_ref(), now);
    let proof =
        create_proof(key.as_ref(), "GET", URL, &token, now, &mut rand_core::OsRng).expect("proof");
    Holder {
        name,
        key,
        token,
        proof,
    }
}

fn bench(c: &mut Criterion) {
    let mut rng = rand_core::OsRng;
    let issuer = SigningKey::generate(&mut rng, Some(KeyId(1)));
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let holders = [
        holder(
            "EdDSA",
            &issuer,
            &SigningKey::generate(&mut rng, None),
            Box::new(SigningKey::generate(&mut rng, None)),
            now,
        ),
        holder(
            "ES256",
            &issuer,
            &P256SigningKey::generate(&mut rng),
            Box::new(P256SigningKey::generate(&mut rng)),
            now,
        ),
    ];
    let request = Request::new("tickets/123/email_address", "read", now)
        .with_attr("ticket.status", "open")
        .with_audience("support-api");
    let verifier = Verifier::builder(KeySet::single(KeyId(1), issuer.public()))
        .replay_cache(Arc::new(MemoryReplayCache::new(4_000_000)))
        .build();

    // The floors, over a message the length of a proof's signing input.
    let message = holders[1]
        .proof
        .rsplit_once('.')
        .expect("three parts")
        .0
        .as_bytes()
        .to_vec();
    let ed = ed25519_dalek::SigningKey::generate(&mut rng);
    let ed_sig = ed.sign(&message);
    let ed_key = ed.verifying_key();
    let p = p256::ecdsa::SigningKey::random(&mut rng);
    let p_sig: p256::ecdsa::Signature = p.sign(&message);
    let p_key = *p.verifying_key();

    let mut g = c.benchmark_group("dpop-alg");
    g.bench_function("floor: one Ed25519 verify_strict", |b| {
        b.iter(|| {
            ed_key
                .verify_strict(black_box(&message), black_box(&ed_sig))
                .expect("valid")
        })
    });
    g.bench_function("floor: one P-256 ECDSA verify (p256)", |b| {
        b.iter(|| {
            p_key
                .verify(black_box(&message), black_box(&p_sig))
                .expect("valid")
        })
    });
    for h in &holders {
        let prepared = HolderKey::new(h.key.holder_key());
        let expected = Expected {
            holder: &prepared,
            method: "GET",
            url: URL,
            token: &h.token,
            now,
            window: DEFAULT_PROOF_WINDOW,
        };
        check_proof(&h.proof, &expected).expect("the proof checks out");
        g.bench_function(format!("DPoP check alone, {}", h.name), |b| {
            b.iter(|| check_proof(black_box(&h.proof), &expected).expect("valid"))
        });
    }
    for h in &holders {
        let with_proof = || {
            let proof = create_proof(
                h.key.as_ref(),
                "GET",
                URL,
                &h.token,
                now,
                &mut rand_core::OsRng,
            )
            .expect("proof");
            request.clone().with_proof(proof, "GET", URL)
        };
        assert!(verifier.verify(&h.token, &with_proof()).is_allowed());
        g.bench_function(
            format!("warrant warm, delegated token + DPoP proof, {}", h.name),
            |b| {
                b.iter_batched(
                    with_proof,
                    |req| assert!(verifier.verify(black_box(&h.token), &req).is_allowed()),
                    BatchSize::SmallInput,
                )
            },
        );
    }
    g.finish();

    // The same comparisons, paired round by round.
    let mut ratios = Vec::new();
    let floor_ed = || {
        ed_key
            .verify_strict(black_box(&message), black_box(&ed_sig))
            .expect("valid");
    };
    let floor_p = || {
        p_key
            .verify(black_box(&message), black_box(&p_sig))
            .expect("valid")
    };
    let checks: Vec<_> = holders
        .iter()
        .map(|h| (HolderKey::new(h.key.holder_key()), h))
        .collect();
    let check = |i: usize| {
        let (prepared, h) = &checks[i];
        let expected = Expected {
            holder: prepared,
            method: "GET",
            url: URL,
            token: &h.token,
            now,
            window: DEFAULT_PROOF_WINDOW,
        };
        move || {
            check_proof(black_box(&h.proof), &expected).expect("valid");
        }
    };
    ratios.push(("P-256 floor / Ed25519 floor", paired(floor_ed, floor_p)));
    ratios.push((
        "DPoP check EdDSA / Ed25519 floor",
        paired(floor_ed, check(0)),
    ));
    ratios.push(("DPoP check ES256 / P-256 floor", paired(floor_p, check(1))));
    ratios.push((
        "DPoP check ES256 / DPoP check EdDSA",
        paired(check(0), check(1)),
    ));
    let warm = |i: usize| {
        let h = &holders[i];
        let verifier = &verifier;
        move |proofs: &mut Vec<Request>| {
            let req = proofs.pop().expect("a proof for every run");
            assert!(verifier.verify(black_box(&h.token), &req).is_allowed());
        }
    };
    let proofs = |i: usize| {
        let h = &holders[i];
        let request = &request;
        move || {
            let proof = create_proof(
                h.key.as_ref(),
                "GET",
                URL,
                &h.token,
                now,
                &mut rand_core::OsRng,
            )
            .expect("proof");
            request.clone().with_proof(proof, "GET", URL)
        }
    };
    ratios.push((
        "warm + proof EdDSA / Ed25519 floor",
        paired_with(floor_ed, warm(0), proofs(0)),
    ));
    ratios.push((
        "warm + proof ES256 / P-256 floor",
        paired_with(floor_p, warm(1), proofs(1)),
    ));
    eprintln!("\npaired ratios ({ROUNDS} rounds of {PER_ROUND} runs each): median [quartiles]");
    for (name, (q1, median, q3)) in ratios {
        eprintln!("  {name:<40} {median:.3} [{q1:.3} {q3:.3}]");
    }
}

/// Rounds and runs per round of the paired ratios.
const ROUNDS: usize = 40;
const PER_ROUND: usize = 16;

/// The quartiles and median, over [`ROUNDS`] rounds, of the time of [`PER_ROUND`] runs of
/// `other` divided by that of `base`, run one after the other in each round.
fn paired(mut base: impl FnMut(), mut other: impl FnMut()) -> (f64, f64, f64) {
    paired_with(&mut base, |_: &mut Vec<()>| other(), || ())
}

/// [`paired`], where each run of `other` takes an input made by `make` before the round
/// (outside the timing).
fn paired_with<T>(
    mut base: impl FnMut(),
    mut other: impl FnMut(&mut Vec<T>),
    mut make: impl FnMut() -> T,
) -> (f64, f64, f64) {
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            let mut inputs: Vec<T> = (0..PER_ROUND).map(|_| make()).collect();
            let mut time_base = || {
                let start = Instant::now();
                for _ in 0..PER_ROUND {
                    base();
                }
                start.elapsed().as_secs_f64()
            };
            let mut time_other = || {
                let start = Instant::now();
                for _ in 0..PER_ROUND {
                    other(&mut inputs);
                }
                start.elapsed().as_secs_f64()
            };
            // Each goes first in every other round.
            let (a, b) = if round % 2 == 0 {
                let a = time_base();
                (a, time_other())
            } else {
                let b = time_other();
                (time_base(), b)
            };
            b / a
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    (
        ratios[ROUNDS / 4],
        ratios[ROUNDS / 2],
        ratios[3 * ROUNDS / 4],
    )
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
