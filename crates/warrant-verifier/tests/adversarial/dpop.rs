//! DPoP: replays, wrong method/URL/time, missing or foreign `ath`, `alg` confusion,
//! foreign `jwk`, oversized proofs, and proofs riding on refused tokens (they must not use
//! up the replay cache); the same for a P-256 holder's `ES256` proofs.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value as J};
use warrant_core::dpop::{ath, parse_proof};
use warrant_core::keys::HolderSigner;
use warrant_verifier::{
    DenialKind, MemoryReplayCache, ProofId, ReplayCache, ReplayCheck, Request, RevocationSet,
    Timestamp, Verifier,
};

use crate::{
    allowed, at, attack, denied, mint_for, new_key, new_p256_key, proof_at, run_table,
    strict_builder, NOW, URL,
};

fn grant() -> J {
    json!({"audience": ["support-api"], "ttl": "1m",
           "allow": [{"resources": ["tickets/*"], "actions": ["read"]}]})
}

/// A compact JWS with `header` and `claims`, signed by `signer` (Ed25519, or ES256 `r‖s`).
fn craft(signer: &dyn HolderSigner, header: &J, claims: &J) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{h}.{c}");
    let sig = URL_SAFE_NO_PAD.encode(signer.sign_jws(input.as_bytes()));
    format!("{input}.{sig}")
}

/// The header of a proof by `k`, its `alg` as its algorithm's.
fn header(k: &dyn HolderSigner) -> J {
    let key = k.holder_key();
    json!({"typ": "dpop+jwt", "alg": key.algorithm().jws_alg(), "jwk": key.to_jwk()})
}

fn claims(token: &str, jti: &str, iat: Timestamp) -> J {
    json!({"htm": "GET", "htu": URL, "iat": iat.unix(), "jti": jti, "ath": ath(token)})
}

fn with(mut v: J, k: &str, x: J) -> J {
    v[k] = x;
    v
}

fn without(mut v: J, k: &str) -> J {
    v.as_object_mut().unwrap().remove(k);
    v
}

fn req(proof: String) -> Request {
    Request::new("tickets/1", "read", NOW).with_proof(proof, "GET", URL)
}

fn v() -> Verifier {
    strict_builder().audience("support-api").build()
}

#[test]
fn forged_and_mismatched_proofs_are_refused() {
    let (agent, thief) = (new_key(), new_key());
    let t = mint_for(Some(&agent), &grant());
    let other = mint_for(Some(&agent), &grant());
    let c = || claims(&t, "jti-1", NOW);
    let ok = craft(&agent, &header(&agent), &c());
    assert!(
        v().verify(&t, &req(ok)).is_allowed(),
        "the crafted proof is valid"
    );
    let foreign_jwk = craft(&thief, &header(&agent), &c());
    let private_jwk = craft(
        &agent,
        &with(
            header(&agent),
            "jwk",
            with(agent.public().to_jwk(), "d", json!("AAAA")),
        ),
        &c(),
    );
    let oversized = craft(
        &agent,
        &header(&agent),
        &with(c(), "pad", json!("p".repeat(5000))),
    );
    run_table(
        &v(),
        vec![
            attack(
                "wrong htm",
                t.clone(),
                req(craft(
                    &agent,
                    &header(&agent),
                    &with(c(), "htm", json!("POST")),
                )),
                DenialKind::InvalidProof,
                &["is for method `POST`, the request is `GET`"],
            ),
            attack(
                "lowercase htm",
                t.clone(),
                req(craft(
                    &agent,
                    &header(&agent),
                    &with(c(), "htm", json!("get")),
                )),
                DenialKind::InvalidProof,
                &["is for method `get`"],
            ),
            attack(
                "wrong htu host",
                t.clone(),
                req(craft(
                    &agent,
                    &header(&agent),
                    &with(c(), "htu", json!("https://evil.example/tickets/1")),
                )),
                DenialKind::InvalidProof,
                &["is for `https://evil.example/tickets/1`"],
            ),
            attack(
                "wrong htu path",
                t.clone(),
                req(craft(
                    &agent,
                    &header(&agent),
                    &with(c(), "htu", json!("https://api.example/tickets/2")),
                )),
                DenialKind::InvalidProof,
                &["is for `https://api.example/tickets/2`"],
            ),
            attack(
                "http instead of https",
                t.clone(),
                req(craft(
                    &agent,
                    &header(&agent),
                    &with(c(), "htu", json!("http://api.example/tickets/1")),
                )),
                DenialKind::InvalidProof,
                &["is for `http://api.example/tickets/1`"],
            ),
            attack(
                "iat 61 s old",
                t.clone(),
                req(craft(&agent, &header(&agent), &claims(&t, "j", at(-61)))),
                DenialKind::InvalidProof,
                &["more than 1m before the request time"],
            ),
            attack(
                "iat 61 s ahead",
                t.clone(),
                req(craft(&agent, &header(&agent), &claims(&t, "j", at(61)))),
                DenialKind::InvalidProof,
                &["more than 1m after the request time"],
            ),
            attack(
                "iat negative",
                t.clone(),
                req(craft(&agent, &header(&agent), &with(c(), "iat", json!(-1)))),
                DenialKind::InvalidProof,
                &["`iat` is missing or not a number"],
            ),
            attack(
                "iat as a string",
                t.clone(),
                req(craft(
                    &agent,
                    &header(&agent),
                    &with(c(), "iat", json!(NOW.unix().to_string())),
                )),
                DenialKind::InvalidProof,
                &["`iat` is missing or not a number"],
            ),
            attack(
                "ath missing",
                t.clone(),
                req(craft(&agent, &header(&agent), &without(c(), "ath"))),
                DenialKind::InvalidProof,
                &["the claim `ath` is missing"],
            ),
            attack(
                "ath of another token",
                t.clone(),
                req(craft(&agent, &header(&agent), &claims(&other, "j", NOW))),
                DenialKind::InvalidProof,
                &["`ath` does not match the token"],
            ),
            attack(
                "jti missing",
                t.clone(),
                req(craft(&agent, &header(&agent), &without(c(), "jti"))),
                DenialKind::InvalidProof,
                &["`jti` must be 1 to 256 characters"],
            ),
            attack(
                "jti empty",
                t.clone(),
                req(craft(&agent, &header(&agent), &with(c(), "jti", json!("")))),
                DenialKind::InvalidProof,
                &["`jti` must be 1 to 256 characters"],
            ),
            attack(
                "alg none, no signature",
                t.clone(),
                req(format!(
                    "{}.{}.",
                    URL_SAFE_NO_PAD.encode(with(header(&agent), "alg", json!("none")).to_string()),
                    URL_SAFE_NO_PAD.encode(c().to_string())
                )),
                DenialKind::InvalidProof,
                &["`alg` is `none`: an unsigned proof proves nothing"],
            ),
            attack(
                "alg HS256",
                t.clone(),
                req(craft(
                    &agent,
                    &with(header(&agent), "alg", json!("HS256")),
                    &c(),
                )),
                DenialKind::InvalidProof,
                &["`alg` is `HS256`, a symmetric algorithm"],
            ),
            attack(
                "typ missing",
                t.clone(),
                req(craft(&agent, &without(header(&agent), "typ"), &c())),
                DenialKind::InvalidProof,
                &["`typ` is ``, expected `dpop+jwt`"],
            ),
            attack(
                "jwk of the holder, signed by the thief",
                t.clone(),
                req(foreign_jwk),
                DenialKind::InvalidProof,
                &["signature does not verify with its `jwk`"],
            ),
            attack(
                "jwk of the thief, signed by the thief",
                t.clone(),
                req(craft(&thief, &header(&thief), &c())),
                DenialKind::InvalidProof,
                &[&format!(
                    "signed by `{}`, but the token's holder is `{}`",
                    thief.public(),
                    agent.public()
                )],
            ),
            attack(
                "jwk with a private part",
                t.clone(),
                req(private_jwk),
                DenialKind::InvalidProof,
                &["`jwk` carries the private member `d`"],
            ),
            attack(
                "jwk of another curve",
                t.clone(),
                req(craft(
                    &agent,
                    &with(
                        header(&agent),
                        "jwk",
                        json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
                    ),
                    &c(),
                )),
                DenialKind::InvalidProof,
                &["`alg` is `EdDSA` but its `jwk` is an `EC` key on `P-256`"],
            ),
            attack(
                "oversized proof",
                t.clone(),
                req(oversized),
                DenialKind::InvalidProof,
                &["longer than 4096 bytes"],
            ),
            attack(
                "four parts",
                t.clone(),
                req(format!("{}.x", craft(&agent, &header(&agent), &c()))),
                DenialKind::InvalidProof,
                &["expected three `.`-separated parts"],
            ),
        ],
    );
}

#[test]
fn a_replayed_jti_is_refused_and_another_holder_cannot_burn_it() {
    let (agent, thief) = (new_key(), new_key());
    let t = mint_for(Some(&agent), &grant());
    let theirs = mint_for(Some(&thief), &grant());
    let v = v();
    // The thief, seeing `jti-x` in flight, uses it first with their own token and key.
    let burn = craft(&thief, &header(&thief), &claims(&theirs, "jti-x", NOW));
    allowed(&v.verify(&theirs, &req(burn)));
    // The agent's proof with that jti is still accepted, once.
    let proof = craft(&agent, &header(&agent), &claims(&t, "jti-x", NOW));
    allowed(&v.verify(&t, &req(proof.clone())));
    denied(
        &v.verify(&t, &req(proof.clone())),
        DenialKind::InvalidProof,
        &["the DPoP proof `jti-x` was already used"],
    );
    // Same jti in a different, fresh proof (other iat) by the same holder: still a replay.
    let again = craft(&agent, &header(&agent), &claims(&t, "jti-x", at(5)));
    denied(
        &v.verify(
            &t,
            &Request::new("tickets/1", "read", at(5)).with_proof(again, "GET", URL),
        ),
        DenialKind::InvalidProof,
        &["already used"],
    );
}

#[test]
fn proofs_on_refused_tokens_do_not_use_up_the_replay_cache() {
    let agent = new_key();
    let t = mint_for(Some(&agent), &grant());
    // Room for one id: any wrongly recorded id would show.
    let cache = Arc::new(MemoryReplayCache::new(1));
    let v = strict_builder()
        .audience("support-api")
        .replay_cache(cache.clone())
        .build();
    let revoked = {
        let mut r = RevocationSet::new();
        // (Its id, learnt through another verifier: this one's cache stays empty.)
        let id = strict_builder()
            .audience("support-api")
            .build()
            .verify(&t, &req(proof_at(&agent, &t, NOW)))
            .claims()
            .unwrap()
            .token_id
            .clone()
            .unwrap();
        r.revoke_token_id(&id).unwrap();
        r
    };
    // One proof, refused four ways on the token's side.
    let made = at(50);
    let proof = proof_at(&agent, &t, made);
    let jti = parse_proof(&proof).unwrap().jti;
    let with_proof = |r: Request| r.with_proof(proof.clone(), "GET", URL);
    // Expired (ttl 1m; the proof's iat is within the window).
    denied(
        &v.verify(&t, &with_proof(Request::new("tickets/1", "read", at(61)))),
        DenialKind::Expired,
        &["expired"],
    );
    // Wrong audience.
    denied(
        &v.verify(
            &t,
            &with_proof(Request::new("tickets/1", "read", made).with_audience("billing-api")),
        ),
        DenialKind::Audience,
        &["billing-api"],
    );
    // Denied by its rules.
    denied(
        &v.verify(&t, &with_proof(Request::new("tickets/1", "delete", made))),
        DenialKind::RuleNotMatched,
        &["no allow rule covers action `delete`"],
    );
    // Revoked.
    v.set_revocations(revoked);
    denied(
        &v.verify(&t, &with_proof(Request::new("tickets/1", "read", made))),
        DenialKind::Revoked,
        &["is revoked"],
    );
    v.set_revocations(RevocationSet::new());
    // A flood of fresh proofs on a refused request leaves no trace either.
    for i in 0..200 {
        let p = proof_at(&agent, &t, made);
        let d = v.verify(
            &t,
            &Request::new("tickets/1", "delete", made).with_proof(p, "GET", URL),
        );
        assert!(!d.is_allowed(), "flood {i}");
    }
    // The same proof on a valid request: accepted exactly once.
    allowed(&v.verify(&t, &with_proof(Request::new("tickets/1", "read", made))));
    denied(
        &v.verify(&t, &with_proof(Request::new("tickets/1", "read", made))),
        DenialKind::InvalidProof,
        &[&format!("`{jti}` was already used")],
    );
    // Through the public cache API: the used id is recorded (keyed by holder and jti),
    // and it is the only one.
    let id = ProofId::new(agent.public(), &jti);
    assert_eq!(
        cache.first_use(&id, at(200), made),
        ReplayCheck::Replayed,
        "the used proof id is recorded"
    );
    assert_eq!(cache.len(), 1);
}

/// A replay cache that cannot be reached: every proof is refused, as unavailable.
#[derive(Debug)]
struct Unreachable;

impl ReplayCache for Unreachable {
    fn first_use(&self, _: &ProofId, _: Timestamp, _: Timestamp) -> ReplayCheck {
        ReplayCheck::Unavailable("connection refused".to_owned())
    }
}

#[test]
fn a_full_or_unavailable_replay_cache_refuses_and_says_so_never_already_used() {
    let agent = new_key();
    let t = mint_for(Some(&agent), &grant());
    let v = strict_builder()
        .audience("support-api")
        .replay_cache(Arc::new(MemoryReplayCache::new(2)))
        .build();
    let first = proof_at(&agent, &t, NOW);
    allowed(&v.verify(&t, &req(first.clone())));
    allowed(&v.verify(&t, &req(proof_at(&agent, &t, NOW))));
    // A third fresh proof does not fit: refused as such, not as a replay.
    let d = v.verify(&t, &req(proof_at(&agent, &t, NOW)));
    let d = denied(
        &d,
        DenialKind::ReplayCacheUnavailable,
        &["the DPoP replay cache is full", "retry later", "capacity"],
    );
    assert!(!d.message().contains("already used"), "{}", d.message());
    // A real replay still says so.
    denied(
        &v.verify(&t, &req(first)),
        DenialKind::InvalidProof,
        &["already used"],
    );
    let down = strict_builder()
        .audience("support-api")
        .replay_cache(Arc::new(Unreachable))
        .build();
    let d = down.verify(&t, &req(proof_at(&agent, &t, NOW)));
    let d = denied(
        &d,
        DenialKind::ReplayCacheUnavailable,
        &[
            "the DPoP replay cache is unavailable",
            "connection refused",
            "retry later",
        ],
    );
    assert!(!d.message().contains("already used"), "{}", d.message());
}

/// A P-256 holder's `ES256` proofs meet the same checks, and the confusions particular to
/// two algorithms are refused: `alg` against the `jwk`'s key type, a key of the other
/// algorithm, a DER signature, a point off the curve, a private or symmetric `jwk`.
#[test]
fn es256_proofs_are_checked_as_strictly() {
    let (agent, thief, ed) = (new_p256_key(), new_p256_key(), new_key());
    let t = mint_for(Some(&agent), &grant());
    let c = || claims(&t, "jti-1", NOW);
    let ok = craft(&agent, &header(&agent), &c());
    assert_eq!(header(&agent)["alg"], "ES256");
    assert!(
        v().verify(&t, &req(ok.clone())).is_allowed(),
        "the crafted ES256 proof is valid"
    );
    let jwk = agent.holder_key().to_jwk();
    let (input, sig) = ok.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let der = {
        // r and s as DER INTEGERs (each non-negative: a leading 0 when the top bit is set).
        let int = |b: &[u8]| {
            let b: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
            let mut v = if b[0] & 0x80 != 0 { vec![0] } else { vec![] };
            v.extend(b);
            let mut out = vec![2, v.len() as u8];
            out.extend(v);
            out
        };
        let body = [int(&raw[..32]), int(&raw[32..])].concat();
        [vec![0x30, body.len() as u8], body].concat()
    };
    let mut off_curve = jwk.clone();
    let mut y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
    y[0] ^= 0x40;
    off_curve["y"] = URL_SAFE_NO_PAD.encode(&y).into();
    run_table(
        &v(),
        vec![
            attack(
                "ES256 with the holder's jwk, signed by another P-256 key",
                t.clone(),
                req(craft(&thief, &header(&agent), &c())),
                DenialKind::InvalidProof,
                &["signature does not verify with its `jwk`"],
            ),
            attack(
                "ES256 by another P-256 key",
                t.clone(),
                req(craft(&thief, &header(&thief), &c())),
                DenialKind::InvalidProof,
                &[&format!(
                    "signed by `{}`, but the token's holder is `{}`",
                    thief.holder_key(),
                    agent.holder_key()
                )],
            ),
            attack(
                "EdDSA by an Ed25519 key",
                t.clone(),
                req(craft(&ed, &header(&ed), &c())),
                DenialKind::InvalidProof,
                &[
                    "is signed by `ed25519/",
                    "the token's holder is `secp256r1/",
                ],
            ),
            attack(
                "EdDSA claimed over the holder's P-256 jwk",
                t.clone(),
                req(craft(
                    &ed,
                    &with(header(&agent), "alg", json!("EdDSA")),
                    &c(),
                )),
                DenialKind::InvalidProof,
                &["`alg` is `EdDSA` but its `jwk` is an `EC` key on `P-256`"],
            ),
            attack(
                "ES256 claimed over an Ed25519 jwk",
                t.clone(),
                req(craft(&ed, &with(header(&ed), "alg", json!("ES256")), &c())),
                DenialKind::InvalidProof,
                &["`alg` is `ES256` but its `jwk` is an `OKP` key on `Ed25519`"],
            ),
            attack(
                "ES384",
                t.clone(),
                req(craft(
                    &agent,
                    &with(header(&agent), "alg", json!("ES384")),
                    &c(),
                )),
                DenialKind::InvalidProof,
                &["`alg` is `ES384`: accepted are `EdDSA` (Ed25519) and `ES256` (P-256)"],
            ),
            attack(
                "DER signature",
                t.clone(),
                req(format!("{input}.{}", URL_SAFE_NO_PAD.encode(&der))),
                DenialKind::InvalidProof,
                &["`ES256` signature is", "not DER"],
            ),
            attack(
                "jwk off the curve",
                t.clone(),
                req(craft(&agent, &with(header(&agent), "jwk", off_curve), &c())),
                DenialKind::InvalidProof,
                &["`jwk` is not a usable public key"],
            ),
            attack(
                "jwk with its private scalar",
                t.clone(),
                req(craft(
                    &agent,
                    &with(header(&agent), "jwk", with(jwk.clone(), "d", json!("AAAA"))),
                    &c(),
                )),
                DenialKind::InvalidProof,
                &["`jwk` carries the private member `d`"],
            ),
            attack(
                "symmetric jwk",
                t.clone(),
                req(craft(
                    &agent,
                    &with(header(&agent), "jwk", json!({"kty": "oct"})),
                    &c(),
                )),
                DenialKind::InvalidProof,
                &["`jwk` is a symmetric key (`kty` `oct`)"],
            ),
        ],
    );
    // Replayed, the same ES256 proof is refused.
    let v = v();
    allowed(&v.verify(&t, &req(ok.clone())));
    denied(
        &v.verify(&t, &req(ok)),
        DenialKind::InvalidProof,
        &["already used"],
    );
}
