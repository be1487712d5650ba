//! Review (branch review9): attacks on the defences of threat-model sections 8–13 that
//! still succeed. Each test asserts the behaviour the defence promises, so each fails
//! until its finding is fixed. SQLite only, except where a test says otherwise.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value as J};
use tower::ServiceExt;
use warrant_issuer::challenge_message;
use warrant_test::new_key;

use crate::env::{Db, Env, CONFIG};

async fn env_with(extra: &str) -> Env {
    Env::with_config(Db::Sqlite, &format!("{extra}\n{CONFIG}"), None)
        .await
        .unwrap()
}

async fn sizes(env: &Env) -> warrant_issuer::store::TableSizes {
    env.state
        .store
        .table_sizes(env.at().unix_i64())
        .await
        .unwrap()
}

/// A device-key verification by a key nobody enrolled, over a nonce nobody issued.
fn stranger_verification() -> J {
    let k = new_key();
    let nonce = "00".repeat(32);
    let sig = k.signature(challenge_message(&nonce).as_bytes());
    json!({ "method": "device-key", "public_key": k.public().to_string(),
            "nonce": nonce, "signature": sig.to_hex() })
}

async fn post_from(env: &Env, peer: &str, path: &str, body: J) -> (StatusCode, J) {
    let (status, _, text) = env
        .call_from(Some(peer), "POST", path, None, Some(body.to_string()))
        .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(J::String(text)),
    )
}

// ---- §12: anonymous requests grow permanent storage ----

/// `POST /v1/agents/mine` (and the human paths of `POST /v1/revocations` and
/// `POST /v1/agents/{id}/disable`) verify a human with no rate limit at all, and every
/// failed verification of a known human is a permanent audit entry (plus a head signature
/// every `audit_sign_every`). Anyone who knows one human's id grows the audit table
/// without bound: 200 anonymous requests from one address, 200+ permanent rows.
#[tokio::test]
async fn review_anonymous_failed_verifications_grow_the_audit_log_without_limit() {
    let env = env_with("challenges_per_minute_per_client = 5\nmints_per_minute = 5").await;
    let before = sizes(&env).await.audit;
    let mut limited = 0;
    for _ in 0..100 {
        let body = json!({ "human": "alice", "verification": stranger_verification() });
        let (status, b) = post_from(&env, "198.51.100.7:4000", "/v1/agents/mine", body).await;
        match status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            s => panic!("{s}: {b}"),
        }
        let body = json!({ "kind": "token_id", "value": "00".repeat(16), "human": "alice",
                           "verification": stranger_verification() });
        let (status, b) = post_from(&env, "198.51.100.7:4000", "/v1/revocations", body).await;
        match status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            s => panic!("{s}: {b}"),
        }
    }
    let grown = sizes(&env).await.audit - before;
    assert!(
        grown <= 20,
        "200 anonymous requests from one address ({limited} of them refused with 429) added {grown} permanent audit entries"
    );
}

/// `POST /v1/tokens` counts `mint:<human>` in `rate_counters` before it knows whether the
/// human exists, with no per-client limit and no bound on the length of `human` (the
/// challenge endpoint bounds it to 256 characters; this one takes whatever fits in
/// `body_limit`). So "nothing is stored for unknown humans" does not hold, and one client
/// writes rows of ~60 KB each, as fast as it can send, kept for two minutes or more.
#[tokio::test]
async fn review_mint_requests_for_made_up_humans_store_rows_without_a_per_client_limit() {
    let env = env_with("challenges_per_minute_per_client = 5").await;
    let before = sizes(&env).await.rate_counters;
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..30 {
        let human = format!("{i}-{}", "x".repeat(60_000));
        let body = json!({ "human": human, "verification": stranger_verification(),
                           "grant": crate::api::read_grant() });
        let (status, _) = post_from(&env, "198.51.100.7:4000", "/v1/tokens", body).await;
        *statuses.entry(status.as_u16()).or_insert(0) += 1;
    }
    let grown = sizes(&env).await.rate_counters - before;
    assert!(
        grown <= 5,
        "30 mint requests for made-up 60 KB human ids from one address stored {grown} rate-counter rows (answers: {statuses:?})"
    );
}

/// The per-client limit counts each IPv6 address on its own: one host with a /64 (what
/// any IPv6 subscriber gets) is 2^64 clients, so it fills `max_live_challenges` alone,
/// and then every known human is refused a challenge — device key and OIDC alike.
#[tokio::test]
async fn review_one_ipv6_prefix_fills_the_global_cap_and_locks_humans_out() {
    let env = env_with("challenges_per_minute_per_client = 2\nmax_live_challenges = 20").await;
    let key = new_key().public().to_string();
    let mut admitted = 0;
    for i in 1..=20 {
        let peer = format!("[2001:db8:1:2::{i:x}]:4000");
        let (status, _) = post_from(
            &env,
            &peer,
            "/v1/agents/challenges",
            json!({ "public_key": key }),
        )
        .await;
        if status == StatusCode::OK {
            admitted += 1;
        }
    }
    let (status, body) = post_from(
        &env,
        "203.0.113.5:4000",
        "/v1/challenges",
        json!({ "human": "alice" }),
    )
    .await;
    assert!(
        admitted <= 2 && status == StatusCode::OK,
        "one /64 got {admitted} challenges past a per-client limit of 2; alice, from elsewhere, then gets {status}: {body}"
    );
}

// ---- §12: unknown humans are not indistinguishable ----

/// The answer for a human the issuer does not know is meant to be indistinguishable from
/// a known human's failed answer (threat model §12, issue item 6), but it is not as soon
/// as the request is anything but a well-formed device-key answer: an `oidc` method, or a
/// malformed `public_key`, answers "unknown human" / "not enrolled" for strangers and
/// something else for real humans. No OIDC provider needs to be configured.
#[tokio::test]
async fn review_unknown_humans_are_told_apart_by_the_error_message() {
    let env = env_with("").await;
    let probes = [
        json!({ "method": "oidc", "provider": "corp", "id_token": "a.b.c", "nonce": "n" }),
        json!({ "method": "device-key", "public_key": "nope", "nonce": "n", "signature": "00" }),
    ];
    let mut leaks = Vec::new();
    for v in probes {
        let mut answers = Vec::new();
        for human in ["alice", "nobody-here"] {
            let body =
                json!({ "human": human, "verification": v, "grant": crate::api::read_grant() });
            let (status, b) = post_from(&env, "198.51.100.7:4000", "/v1/tokens", body).await;
            answers.push((status, b["detail"].clone()));
        }
        if answers[0] != answers[1] {
            leaks.push(format!(
                "{}: alice {:?} vs nobody-here {:?}",
                v["method"], answers[0], answers[1]
            ));
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

/// `/metrics` is public and counts verifications by result: a failed answer for a known
/// human adds one to `warrant_verifications_total{…,result="failure"}`, one for an
/// unknown human adds nothing. A stranger enumerates humans with one request and one
/// scrape each, without any timing measurement.
#[tokio::test]
async fn review_metrics_tell_known_humans_from_unknown_ones() {
    let env = env_with("").await;
    let failures = |text: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("warrant_verifications_total{") && l.contains("result=\"failure\"")
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .unwrap_or(0)
    };
    let mut deltas = Vec::new();
    for human in ["alice", "nobody-here"] {
        let before = failures(&env.call_raw("GET", "/metrics", None, None).await.1);
        let body = json!({ "human": human, "verification": stranger_verification(),
                           "grant": crate::api::read_grant() });
        let (status, _) = post_from(&env, "198.51.100.7:4000", "/v1/tokens", body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let after = failures(&env.call_raw("GET", "/metrics", None, None).await.1);
        deltas.push(after - before);
    }
    assert_eq!(
        deltas[0], deltas[1],
        "failed-verification counter moved by {} for alice and {} for a made-up human",
        deltas[0], deltas[1]
    );
}

// ---- anonymous lock-out of a human ----

/// The per-human limits (`mints_per_minute`, `challenges_per_minute`) are spent by
/// anyone, before any verification, from any address: a stranger sending
/// `mints_per_minute` garbage mint requests naming alice keeps alice from minting, from
/// her own address, for as long as they keep doing it (one request every 2 s at the
/// default of 30).
#[tokio::test]
async fn review_a_stranger_spends_a_humans_mint_limit() {
    let env = env_with("mints_per_minute = 3").await;
    for _ in 0..3 {
        let body = json!({ "human": "alice", "verification": stranger_verification(),
                           "grant": crate::api::read_grant() });
        let (status, b) = post_from(&env, "198.51.100.66:4000", "/v1/tokens", body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{b}");
    }
    let (status, body) = env.mint("alice", crate::api::read_grant(), json!({})).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "alice, verified with her own device key, after a stranger's 3 bad attempts: {body}"
    );
}

/// The same with challenges: `challenges_per_minute` requests naming alice, from an
/// address of the attacker's, and alice gets no challenge — and since OIDC needs one too
/// now, no sign-in of any kind.
#[tokio::test]
async fn review_a_stranger_spends_a_humans_challenge_limit() {
    let env = env_with("challenges_per_minute = 3").await;
    for _ in 0..3 {
        let (status, b) = post_from(
            &env,
            "198.51.100.66:4000",
            "/v1/challenges",
            json!({ "human": "alice" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    let (status, body) = post_from(
        &env,
        "203.0.113.5:4000",
        "/v1/challenges",
        json!({ "human": "alice" }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "alice, from her own address, after a stranger asked 3 challenges in her name: {body}"
    );
}

// ---- §8: admin credentials ----

/// Rotation checks the presented credential, issues a new one, then revokes the old one,
/// with nothing making the check and the revocation one step: two rotations presenting
/// the same credential at once both succeed, and two successors live. (The operator
/// rotating a leaked credential races the thief, who keeps a fresh 30-day credential.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_one_credential_rotates_into_two() {
    let env = env_with("").await;
    let mut live_successors = 0;
    for _ in 0..10 {
        let admin = env.admin_token().await;
        let call = || {
            let req = Request::post("/v1/admin/rotate")
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .body(Body::empty())
                .unwrap();
            warrant_issuer::app(env.state.clone()).oneshot(req)
        };
        let (a, b) = tokio::join!(call(), call());
        let ok = [a.unwrap().status(), b.unwrap().status()]
            .iter()
            .filter(|s| **s == StatusCode::OK)
            .count();
        if ok == 2 {
            live_successors = 2;
            break;
        }
    }
    assert!(
        live_successors < 2,
        "two concurrent rotations with one credential both answered 200: two live successors"
    );
}

/// RFC 9110 §11.1: the authentication scheme is case-insensitive. `bearer warrant-admin.…`
/// (as some HTTP clients and proxies write it) is answered "this endpoint needs an admin
/// credential", which sends the operator looking for a missing header.
#[tokio::test]
async fn review_the_bearer_scheme_is_case_insensitive() {
    let env = env_with("").await;
    let admin = env.admin_token().await;
    for scheme in ["bearer", "BEARER"] {
        let req = Request::get("/v1/admin/credentials")
            .header(header::AUTHORIZATION, format!("{scheme} {admin}"))
            .body(Body::empty())
            .unwrap();
        let res = warrant_issuer::app(env.state.clone())
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "scheme `{scheme}`");
    }
}

// ---- §11: the issuer signs whatever head the database holds ----

/// Threat model §11 says whoever can rewrite the database "can alter the entries after
/// the last signed head, at most `--max-unsigned` of them". But `warrant audit verify`
/// only checks how far the *last* verified signature reaches, never the gaps between
/// signatures, and the issuer signs the current head — before every export, every
/// `audit_sign_interval`, and on the next append once no signature is among the last
/// `audit_sign_every` entries — without checking that the chain still passes through the
/// heads it signed before. So: keep the first signed head, delete every later signature,
/// erase a revocation, renumber and rehash the ~170 entries after it, and wait. The
/// issuer's next export signs the forged head, and the export verifies with a tail of 1.
#[tokio::test]
async fn review_the_issuer_signs_a_rewritten_chain_far_past_max_unsigned() {
    use sqlx::Connection as _;
    use warrant_issuer::audit::{entry_hash, verify_chain, HEAD_SIGNATURE};
    let env = env_with("").await; // audit_sign_every = 5
    let admin = env.admin_token().await;
    for i in 0..150 {
        let (status, b) = env
            .call(
                "POST",
                "/v1/revocations",
                Some(&admin),
                Some(json!({ "kind": "token_id", "value": format!("{i:032x}") })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    let rows = env.audit().await;
    let keys = crate::api::key_set(&env).await;
    verify_chain(&rows, &keys)
        .unwrap()
        .check_coverage(100)
        .unwrap();

    // The database writer's rewrite: everything after the first head signature.
    let first_sig = rows.iter().position(|r| r.kind == HEAD_SIGNATURE).unwrap();
    let kept = rows[..=first_sig].to_vec();
    let mut forged: Vec<_> = rows[first_sig + 1..]
        .iter()
        .filter(|r| r.kind != HEAD_SIGNATURE)
        .cloned()
        .collect();
    let erased = forged.iter().position(|r| r.kind == "revocation").unwrap();
    forged.remove(erased);
    let mut prev = kept.last().unwrap().clone();
    for r in &mut forged {
        r.seq = prev.seq + 1;
        r.prev_hash = prev.hash.clone();
        r.hash = entry_hash(r);
        prev = r.clone();
    }
    let path = env.database.trim_start_matches("sqlite://");
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit WHERE seq > ?")
        .bind(kept.last().unwrap().seq)
        .execute(&mut db)
        .await
        .unwrap();
    for r in &forged {
        sqlx::query("INSERT INTO audit (seq, at, kind, actor, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(r.seq).bind(r.at).bind(&r.kind).bind(&r.actor).bind(&r.detail)
            .bind(&r.prev_hash).bind(&r.hash)
            .execute(&mut db).await.unwrap();
    }
    sqlx::query("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")
        .bind(prev.seq)
        .bind(&prev.hash)
        .execute(&mut db)
        .await
        .unwrap();
    drop(db);

    // The next export: the issuer signs the forged head.
    let after = env.audit().await;
    let report = verify_chain(&after, &keys);
    let verdict = report
        .as_ref()
        .map_err(ToString::to_string)
        .and_then(|r| r.check_coverage(100).map_err(|e| e.to_string()).map(|()| r));
    assert!(
        verdict.is_err(),
        "{} entries after entry {} rewritten (one revocation erased), and the export verifies: {:?}",
        forged.len(),
        kept.last().unwrap().seq,
        verdict
    );
}
