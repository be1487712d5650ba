//! The hot path, side by side in one run: `cargo bench -p warrant-verifier --bench verify`.
//!
//! The rows of group "verify" measure the same request against the same token: an
//! authority block with the design's grant (3 allow rules, 1 deny rule) and 2 attenuation
//! blocks, beside an EdDSA JWT carrying the same grant: verified every time (5), or
//! verified once with its claims cached as a speed-minded engineer would (5b, 5c),
//! and beside bare biscuit-auth (2: Datalog text parsed per call; 2b: a hand-written
//! authorizer). Group
//! "mixed" runs 2 allowed and 2 denied requests through warrant warm and the cached JWT
//! with the same grant, every decision asserted (and the 3-block token with requests of
//! its own). Ratios from one run hold on a noisy
//! machine; absolute times do not. Results: docs/performance.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a bench whose setup fails stops, naming what failed"
)]

use std::hint::black_box;
use std::time::Duration;

use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::Signer as _;
use std::sync::Arc;
use warrant_core::grant::Grant;
use warrant_core::keys::{KeyId, KeySet, SigningKey};
use warrant_core::time::Timestamp;

use warrant_core::dpop::create_proof;
use warrant_core::time::Span;
use warrant_core::token::{
    attenuate, decode_base64, decode_unverified, delegate, encode, mint, MintRequest,
    PROFILE_VERSION,
};
use warrant_verifier::{
    MemoryReplayCache, ProofId, ReplayCache as _, ReplayCheck, Request, Verifier,
    DEFAULT_REPLAY_CAPACITY,
};

struct Fixture {
    text: String,
    bytes: Vec<u8>,
    keys: KeySet,
    root: biscuit_auth::PublicKey,
    request: Request,
    core_request: warrant_core::request::RequestFacts,
    jwt: String,
    jwt_key: jsonwebtoken::DecodingKey,
    signatures: Vec<(
        ed25519_dalek::VerifyingKey,
        Vec<u8>,
        ed25519_dalek::Signature,
    )>,
    /// The same token with one more block written by another Biscuit tool, outside the
    /// profile: checked against the evaluation budget, then evaluated by Biscuit.
    foreign: String,
    /// The authority block alone (the grant the JWT carries).
    one_block: String,
    /// Mints a new token with the same grant and attenuations (new ids, signatures).
    fresh: Box<dyn Fn() -> String>,
    /// Mints a new token whose authority grant was never seen: the design's grant with
    /// its deny rule naming one more resource, `n` (the request's decision is the same).
    unseen: Box<dyn Fn(u64) -> String>,
    /// A holder-bound token delegated once (authority + delegation block), its holder.
    bound: String,
    sub_agent: SigningKey,
}

fn fixture() -> Fixture {
    let mut rng = rand_core::OsRng;
    let key = Arc::new(SigningKey::generate(&mut rng, Some(KeyId(1))));
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let grant = Grant::from_json_str(&warrant_test::design_grant("10m")).expect("grant");
    let mut req = MintRequest::offline(grant.clone());
    req.human = Some("alice".into());
    let minted = mint(&key, req, now, &mut rng).expect("mint");
    let attenuated = move |minted: &biscuit_auth::Biscuit| {
        let mut token = decode_unverified(&minted.to_base64().expect("b64")).expect("decode");
        for narrower in [
            r#"{"ttl": "5m", "allow": [{"resources": ["tickets/123/*", "orders/*"], "actions": ["read", "refund"]}]}"#,
            r#"{"ttl": "2m", "allow": [{"resources": ["tickets/123/email_address"], "actions": ["read"]}]}"#,
        ] {
            let g = Grant::from_json_str(narrower).expect("narrower");
            token = attenuate(&token, g, now, &mut rand_core::OsRng).expect("attenuate");
        }
        token
    };
    let one_block = minted.token.to_base64().expect("b64");
    let token = attenuated(&minted.token);
    let fresh: Box<dyn Fn() -> String> = {
        let key = Arc::clone(&key);
        let grant = grant.clone();
        Box::new(move || {
            let mut req = MintRequest::offline(grant.clone());
            req.human = Some("alice".into());
            let minted = mint(&key, req, now, &mut rand_core::OsRng).expect("mint");
            encode(&attenuated(&minted.token))
        })
    };
    let unseen: Box<dyn Fn(u64) -> String> = {
        let key = Arc::clone(&key);
        Box::new(move |n| {
            let json = warrant_test::design_grant("10m").replace(
                r#""accounts/*/password""#,
                &format!(r#""accounts/*/password", "archive/{n}/*""#),
            );
            let grant = Grant::from_json_str(&json).expect("grant");
            let mut req = MintRequest::offline(grant);
            req.human = Some("alice".into());
            let minted = mint(&key, req, now, &mut rand_core::OsRng).expect("mint");
            encode(&attenuated(&minted.token))
        })
    };
    let text = encode(&token);
    let bytes = decode_base64(&text).expect("bytes");
    let foreign = encode(
        &token
            .append(
                biscuit_auth::BlockBuilder::new()
                    // Not the profile's words (`ends_with` is no pattern test), so outside it.
                    .code("check if resource($r), $r.ends_with(\"email_address\")")
                    .expect("block"),
            )
            .expect("append"),
    );

    // Holder-bound: minted for an agent, delegated (narrowed) to a sub-agent.
    let agent = SigningKey::generate(&mut rng, None);
    let sub_agent = SigningKey::generate(&mut rng, None);
    let mut req = MintRequest::offline(grant.clone());
    req.holder = Some(agent.public().into());
    let bound = mint(&key, req, now, &mut rng).expect("mint bound");
    let bound = decode_unverified(&bound.token.to_base64().expect("b64")).expect("decode");
    let narrower = Grant::from_json_str(
        r#"{"ttl": "5m", "allow": [{"resources": ["tickets/123/*"], "actions": ["read"]}]}"#,
    )
    .expect("narrower");
    let bound =
        delegate(&bound, &agent, sub_agent.public(), narrower, now, &mut rng).expect("delegate");
    let bound = encode(&bound);
    let request = Request::new("tickets/123/email_address", "read", now)
        .with_attr("ticket.status", "open")
        .with_audience("support-api");
    let mut core_request =
        warrant_core::request::RequestFacts::new("tickets/123/email_address", "read", now);
    core_request.audience = Some("support-api".into());
    core_request.attrs.insert(
        "ticket.status".into(),
        warrant_core::value::Value::from("open"),
    );

    // The JWT users would pick instead: EdDSA, standard claims and the same grant.
    let jwt_signing = ed25519_dalek::SigningKey::generate(&mut rng);
    let der = jwt_signing.to_pkcs8_der().expect("der");
    let claims = serde_json::json!({
        "iss": "https://issuer.example", "sub": "alice", "aud": "support-api",
        "iat": now.unix(), "exp": now.unix() + 600, "jti": minted.token_id,
        "grant": serde_json::from_str::<serde_json::Value>(&warrant_test::design_grant("10m")).expect("json"),
        "scope": "orders:refund tickets:read",
    });
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )
    .expect("jwt");
    let jwt_key = jsonwebtoken::DecodingKey::from_ed_der(jwt_signing.verifying_key().as_bytes());

    // The floor: one Ed25519 verification per signature the token carries.
    let n = token.block_count();
    let signatures = (0..n)
        .map(|i| {
            let k = ed25519_dalek::SigningKey::generate(&mut rng);
            let msg = format!("block {i} payload").into_bytes();
            let sig = k.sign(&msg);
            (k.verifying_key(), msg, sig)
        })
        .collect();
    eprintln!(
        "token: {} blocks, {} bytes, {} base64 characters; JWT with the same grant: {} characters",
        n,
        bytes.len(),
        text.len(),
        jwt.len()
    );
    Fixture {
        text,
        bytes,
        keys: KeySet::single(KeyId(1), key.public()),
        root: key.public().to_biscuit().expect("root"),
        request,
        core_request,
        jwt,
        jwt_key,
        signatures,
        foreign,
        one_block,
        fresh,
        unseen,
        bound,
        sub_agent,
    }
}

/// What a cached-JWT deployment keeps per token: the verified claims it checks.
struct JwtClaims {
    exp: u64,
    aud: String,
    /// The grant, parsed once (5b).
    grant: Grant,
    /// A scope string (5c).
    scope: String,
}

/// A JWT verifier with the cache a speed-minded engineer deploys: the verified claims in
/// a concurrent cache keyed by a fast hash of the token text (`quick_cache`, foldhash),
/// the stored text compared exactly on a hit.
struct CachedJwt {
    cache: quick_cache::sync::Cache<String, Arc<JwtClaims>>,
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

impl CachedJwt {
    fn new(key: jsonwebtoken::DecodingKey) -> Self {
        Self {
            cache: quick_cache::sync::Cache::new(10_000),
            key,
            validation: jwt_validation(),
        }
    }

    /// The token's claims: cached, or verified and cached.
    fn claims(&self, jwt: &str) -> Option<Arc<JwtClaims>> {
        if let Some(c) = self.cache.get(jwt) {
            return Some(c);
        }
        let data =
            jsonwebtoken::decode::<serde_json::Value>(jwt, &self.key, &self.validation).ok()?;
        let c = &data.claims;
        let claims = Arc::new(JwtClaims {
            exp: c["exp"].as_u64()?,
            aud: c["aud"].as_str()?.to_owned(),
            grant: Grant::from_json(&c["grant"]).ok()?,
            scope: c["scope"].as_str().unwrap_or_default().to_owned(),
        });
        self.cache.insert(jwt.to_owned(), Arc::clone(&claims));
        Some(claims)
    }

    /// Whether the token's claims are current, for this audience (the checks on a hit).
    fn current(c: &JwtClaims, now: u64) -> bool {
        c.exp > now && c.aud == "support-api"
    }

    /// 5b: exp, aud and the grant evaluated against the request with warrant-core's
    /// cheapest yes/no evaluation (`allows`: what warrant's merged blocks use too).
    fn allows(
        &self,
        jwt: &str,
        req: &warrant_core::request::RequestFacts,
    ) -> Option<Arc<JwtClaims>> {
        let c = self.claims(jwt)?;
        (Self::current(&c, req.time.unix()) && warrant_core::eval::allows(&c.grant, None, req))
            .then_some(c)
    }

    /// 5c: exp, aud and a scope.
    fn allows_scope(&self, jwt: &str, now: u64, scope: &str) -> Option<Arc<JwtClaims>> {
        let c = self.claims(jwt)?;
        (Self::current(&c, now) && c.scope.split(' ').any(|s| s == scope)).then_some(c)
    }
}

fn jwt_validation() -> jsonwebtoken::Validation {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&["support-api"]);
    v.set_issuer(&["https://issuer.example"]);
    v
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let verifier = Verifier::builder(f.keys.clone())
        .dangerous_accept_bearer()
        .build();
    assert!(
        verifier.verify(&f.text, &f.request).is_allowed(),
        "the fixture request is allowed"
    );
    let validation = jwt_validation();
    let limits = AuthorizerLimits {
        max_facts: 1000,
        max_iterations: 100,
        max_time: Duration::from_millis(100),
    };

    let mut g = c.benchmark_group("verify");
    g.bench_function("1 floor: ed25519 verify_strict x signatures", |b| {
        b.iter(|| {
            for (k, msg, sig) in &f.signatures {
                k.verify_strict(black_box(msg), black_box(sig))
                    .expect("valid");
            }
        })
    });
    g.bench_function("2 bare biscuit-auth", |b| {
        b.iter(|| {
            let token = Biscuit::from(black_box(&f.bytes), f.root).expect("token");
            let (src, params) = f.core_request.datalog();
            let mut authorizer = AuthorizerBuilder::new()
                .set_limits(limits.clone())
                .code_with_params(&src, params, Default::default())
                .and_then(|a| {
                    a.policy(
                        format!("allow if warrant({PROFILE_VERSION}, $id, $issuer, $issued_at)")
                            .as_str(),
                    )
                })
                .and_then(|a| a.build(&token))
                .expect("authorizer");
            authorizer.authorize().expect("allowed");
        })
    });
    // The same request facts and policy written the way a speed-minded engineer would:
    // `authorizer!` turns the Datalog into builder calls at compile time.
    let req = &f.core_request;
    let [(attr_name, attr_value)] = req
        .attrs
        .iter()
        .map(|(k, v)| (k.clone(), v.to_term()))
        .collect::<Vec<_>>()
        .try_into()
        .expect("the fixture request has one attribute");
    let audience = req
        .audience
        .clone()
        .expect("the fixture request has an audience");
    let time = biscuit_auth::builder::Term::Date(req.time.unix());
    g.bench_function("2b bare biscuit-auth, hand-written authorizer", |b| {
        b.iter(|| {
            let token = Biscuit::from(black_box(&f.bytes), f.root).expect("token");
            let mut authorizer = biscuit_auth::macros::authorizer!(
                r#"time({time});
                   resource({resource});
                   action({action});
                   audience({audience});
                   attr({attr_name}, {attr_value});
                   allow if warrant({profile}, $id, $issuer, $issued_at);"#,
                time = time.clone(),
                resource = req.resource.as_str(),
                action = req.action.as_str(),
                audience = audience.as_str(),
                attr_name = attr_name.as_str(),
                attr_value = attr_value.clone(),
                profile = PROFILE_VERSION,
            )
            .set_limits(limits.clone())
            .build(&token)
            .expect("authorizer");
            authorizer.authorize().expect("allowed");
        })
    });
    g.bench_function("3 warrant cold (first sight)", |b| {
        b.iter_batched(
            || {
                Verifier::builder(f.keys.clone())
                    .dangerous_accept_bearer()
                    .build()
            },
            // The verifier is returned, so that dropping it (its cache) is not timed.
            |fresh| {
                assert!(fresh.verify(black_box(&f.text), &f.request).is_allowed());
                fresh
            },
            BatchSize::SmallInput,
        )
    });
    // A token never seen, whose grant the verifier has recognised before (in another
    // token): same grant and attenuations, minted anew for each iteration (outside the
    // timing), so only the signatures and the per-token facts are new.
    let seen = Verifier::builder(f.keys.clone())
        .dangerous_accept_bearer()
        .build();
    assert!(seen.verify(&f.text, &f.request).is_allowed());
    g.bench_function("3b warrant cold, new token, grant seen before", |b| {
        b.iter_batched(
            || (f.fresh)(),
            |text| assert!(seen.verify(black_box(&text), &f.request).is_allowed()),
            BatchSize::SmallInput,
        )
    });
    // A token never seen whose grant was never seen either, by a verifier that has been
    // running (row 3 is the first token of a verifier built for it): the grant is
    // decompiled, recognised and merged anew, without a fresh verifier's first touches
    // of its memory.
    let running = Verifier::builder(f.keys.clone())
        .dangerous_accept_bearer()
        .build();
    assert!(running.verify(&f.text, &f.request).is_allowed());
    let mut n = 0u64;
    g.bench_function(
        "3c warrant cold, new token, grant never seen, running verifier",
        |b| {
            b.iter_batched(
                || {
                    n += 1;
                    (f.unseen)(n)
                },
                |text| assert!(running.verify(black_box(&text), &f.request).is_allowed()),
                BatchSize::SmallInput,
            )
        },
    );
    g.bench_function("4 warrant warm (cache hit)", |b| {
        b.iter(|| assert!(verifier.verify(black_box(&f.text), &f.request).is_allowed()))
    });
    g.bench_function("5 JWT EdDSA decode+verify (jsonwebtoken)", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&f.jwt), &f.jwt_key, &validation)
                .expect("jwt")
        })
    });
    let cached_jwt = CachedJwt::new(f.jwt_key.clone());
    let now = f.request.time().unix();
    assert!(cached_jwt.allows(&f.jwt, &f.core_request).is_some());
    assert!(cached_jwt
        .allows_scope(&f.jwt, now, "tickets:read")
        .is_some());
    g.bench_function("5b JWT cached claims + grant", |b| {
        b.iter(|| {
            assert!(cached_jwt
                .allows(black_box(&f.jwt), &f.core_request)
                .is_some())
        })
    });
    g.bench_function("5c JWT cached claims + scope", |b| {
        b.iter(|| {
            assert!(cached_jwt
                .allows_scope(black_box(&f.jwt), now, "tickets:read")
                .is_some())
        })
    });
    assert!(verifier.verify(&f.one_block, &f.request).is_allowed());
    g.bench_function("4b warrant warm, 1 block (the JWT's grant)", |b| {
        b.iter(|| {
            assert!(verifier
                .verify(black_box(&f.one_block), &f.request)
                .is_allowed())
        })
    });
    g.bench_function(
        "6 warrant cold, a 4th block outside the profile (budget + Biscuit)",
        |b| {
            // Checked only when the row runs: under an instruction counter (callgrind)
            // Biscuit's time limit refuses this token, and the other rows should still run.
            assert!(verifier.verify(&f.foreign, &f.request).is_allowed());
            b.iter_batched(
                || {
                    Verifier::builder(f.keys.clone())
                        .dangerous_accept_bearer()
                        .build()
                },
                |fresh| {
                    assert!(fresh.verify(black_box(&f.foreign), &f.request).is_allowed());
                    fresh
                },
                BatchSize::SmallInput,
            )
        },
    );
    g.bench_function(
        "7 warrant warm, a 4th block outside the profile (Biscuit)",
        |b| {
            b.iter(|| {
                assert!(verifier
                    .verify(black_box(&f.foreign), &f.request)
                    .is_allowed())
            })
        },
    );
    g.finish();
    mixed(c, &f, &verifier, &cached_jwt);

    // Holder-bound, delegated once, with a fresh DPoP proof per request (made outside the
    // timing). The floor here is the one Ed25519 verification the proof costs.
    let url = "https://support.example/tickets/123/email_address";
    let bound_verifier = Verifier::builder(f.keys.clone())
        .replay_cache(Arc::new(MemoryReplayCache::new(2_000_000)))
        .build();
    let with_proof = |now: Timestamp| {
        let proof = create_proof(
            &f.sub_agent,
            "GET",
            url,
            &f.bound,
            now,
            &mut rand_core::OsRng,
        )
        .expect("proof");
        f.request.clone().with_proof(proof, "GET", url)
    };
    let now = f.request.time();
    assert!(bound_verifier
        .verify(&f.bound, &with_proof(now))
        .is_allowed());
    let (k, msg, sig) = &f.signatures[0];
    let mut g = c.benchmark_group("dpop");
    g.bench_function("floor: one ed25519 verify_strict", |b| {
        b.iter(|| {
            k.verify_strict(black_box(msg), black_box(sig))
                .expect("valid")
        })
    });
    g.bench_function(
        "warrant warm, holder-bound + delegation + DPoP proof",
        |b| {
            b.iter_batched(
                || with_proof(now),
                |req| {
                    assert!(bound_verifier
                        .verify(black_box(&f.bound), &req)
                        .is_allowed())
                },
                BatchSize::SmallInput,
            )
        },
    );
    // The replay cache alone, recording fresh ids at 16 000 a second of request time
    // with 60-second windows: about 1 000 000 live ids throughout, old buckets dropped
    // as the seconds pass (what the old cache refused from about 98 000 on).
    let cache = MemoryReplayCache::new(DEFAULT_REPLAY_CAPACITY);
    let holder = f.sub_agent.public();
    let mut n = 0u64;
    let record = |n: u64| {
        let at = now.plus(Span::from_seconds(n / 16_000));
        let id = ProofId::new(holder, &n.to_string());
        cache.first_use(&id, at.plus(Span::from_seconds(60)), at)
    };
    while n < 61 * 16_000 {
        n += 1;
        assert_eq!(record(n), ReplayCheck::First);
    }
    g.bench_function(
        "memory replay cache: record a fresh id, 16 000/s, ~1 000 000 live",
        |b| {
            b.iter(|| {
                n += 1;
                assert_eq!(record(n), ReplayCheck::First);
            })
        },
    );
    g.finish();
}

/// 2 allowed and 2 denied requests (by the deny rule, and by a failing condition of an
/// allow rule), through warrant warm (the authority block alone: the JWT's grant) and
/// through the cached JWT evaluating the same grant; every decision asserted.
fn mixed(c: &mut Criterion, f: &Fixture, verifier: &Verifier, jwt: &CachedJwt) {
    let now = f.request.time();
    let requests: Vec<(Request, bool)> = vec![
        (f.request.clone(), true),
        (
            Request::new("orders/7", "refund", now)
                .with_attr("amount", 4999)
                .with_attr("reason", "duplicate charge")
                .with_audience("support-api"),
            true,
        ),
        (
            Request::new("customers/9/payment_card", "read", now).with_audience("support-api"),
            false,
        ),
        (
            Request::new("orders/7", "refund", now)
                .with_attr("amount", 9000)
                .with_attr("reason", "duplicate charge")
                .with_audience("support-api"),
            false,
        ),
    ];
    let core: Vec<(warrant_core::request::RequestFacts, bool)> = requests
        .iter()
        .map(|(r, allowed)| {
            let mut facts = warrant_core::request::RequestFacts::new(r.resource(), r.action(), now);
            facts.audience = Some("support-api".into());
            for name in ["amount", "reason", "ticket.status"] {
                if let Some(v) = r.attr(name) {
                    facts.attrs.insert(name.into(), v.clone());
                }
            }
            (facts, *allowed)
        })
        .collect();
    let kinds: Vec<_> = requests
        .iter()
        .filter_map(|(r, _)| verifier.verify(&f.one_block, r).denial().map(|d| d.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            warrant_verifier::DenialKind::DeniedByRule,
            warrant_verifier::DenialKind::RuleNotMatched
        ],
        "denied by different rules"
    );
    let mut g = c.benchmark_group("mixed");
    g.bench_function("warrant warm, 2 allowed + 2 denied", |b| {
        b.iter(|| {
            for (r, allowed) in &requests {
                assert_eq!(
                    verifier.verify(black_box(&f.one_block), r).is_allowed(),
                    *allowed
                );
            }
        })
    });
    // What an API that answers every denial with its explanation pays (the layer does):
    // the denial's message is written when read.
    g.bench_function("warrant warm, 2 allowed + 2 denied, messages read", |b| {
        b.iter(|| {
            for (r, allowed) in &requests {
                let d = verifier.verify(black_box(&f.one_block), r);
                assert_eq!(d.is_allowed(), *allowed);
                if let Some(denial) = d.denial() {
                    assert!(!black_box(denial.message()).is_empty());
                }
            }
        })
    });
    // The 3-block token of the verify group, narrowed to reading `tickets/123/*`: the same
    // kinds of denial (a deny rule of the authority, no allow rule of an attenuation), with
    // requests of its own, so not the JWT's: it shows what a denial costs when the blocks
    // are merged for the yes and evaluated one by one for the no.
    let three: Vec<(Request, bool)> = vec![
        (f.request.clone(), true),
        (
            // (The only resource all three blocks allow, with one more attribute.)
            f.request.clone().with_attr("channel", "email"),
            true,
        ),
        (requests[2].0.clone(), false),
        (requests[1].0.clone(), false),
    ];
    let kinds: Vec<_> = three
        .iter()
        .map(|(r, _)| {
            verifier
                .verify(&f.text, r)
                .denial()
                .map(|d| (d.kind, d.block))
        })
        .collect();
    assert_eq!(
        kinds,
        [
            None,
            None,
            Some((warrant_verifier::DenialKind::DeniedByRule, Some(0))),
            Some((warrant_verifier::DenialKind::RuleNotMatched, Some(2)))
        ],
        "3 blocks: allowed, then denied by different rules"
    );
    g.bench_function(
        "warrant warm, 3 blocks, 2 allowed + 2 denied (own requests)",
        |b| {
            b.iter(|| {
                for (r, allowed) in &three {
                    assert_eq!(
                        verifier.verify(black_box(&f.text), r).is_allowed(),
                        *allowed
                    );
                }
            })
        },
    );
    g.bench_function("JWT cached claims + grant, 2 allowed + 2 denied", |b| {
        b.iter(|| {
            for (r, allowed) in &core {
                assert_eq!(jwt.allows(black_box(&f.jwt), r).is_some(), *allowed);
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
