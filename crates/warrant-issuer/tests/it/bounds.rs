//! What anonymous clients can make the issuer store: a bounded number of challenges per
//! client and in total (for known and unknown humans alike), expired rows pruned, sizes in
//! /metrics.

use axum::http::{header, StatusCode};
use serde_json::{json, Value as J};
use warrant_issuer::challenge_message;
use warrant_issuer::store::TableSizes;
use warrant_test::new_key;

use crate::env::{Db, Env, CONFIG};

/// Runs a test body with an issuer configured with `$extra` before the shared
/// configuration, on SQLite and on PostgreSQL.
macro_rules! with_config {
    ($name:ident, $extra:expr, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let config = format!("{}\n{CONFIG}", $extra);
                if let Some(env) = Env::with_config(Db::Sqlite, &config, None).await {
                    ($body)(env).await;
                }
            }

            #[tokio::test]
            #[cfg_attr(
                warrant_pg_tests_ignored,
                ignore = "needs WARRANT_TEST_DATABASE_URL (a PostgreSQL server)"
            )]
            async fn postgres() {
                let config = format!("{}\n{CONFIG}", $extra);
                if let Some(env) = Env::with_config(Db::Postgres, &config, None).await {
                    ($body)(env).await;
                }
            }
        }
    };
}

async fn sizes(env: &Env) -> TableSizes {
    env.state
        .store
        .table_sizes(env.at().unix_i64())
        .await
        .unwrap()
}

async fn challenge_from(env: &Env, peer: Option<&str>, human: &str) -> (StatusCode, J) {
    let (status, headers, text) = env
        .call_from(
            peer,
            "POST",
            "/v1/challenges",
            None,
            Some(json!({ "human": human }).to_string()),
        )
        .await;
    let mut body: J = serde_json::from_str(&text).unwrap();
    if let Some(after) = headers.get(header::RETRY_AFTER) {
        body["retry_after"] = after.to_str().unwrap().into();
    }
    (status, body)
}

async fn agent_challenge_from(env: &Env, peer: Option<&str>) -> (StatusCode, J) {
    let (status, headers, text) = env
        .call_from(
            peer,
            "POST",
            "/v1/agents/challenges",
            None,
            Some(json!({ "public_key": new_key().public().to_string() }).to_string()),
        )
        .await;
    let mut body: J = serde_json::from_str(&text).unwrap();
    if let Some(after) = headers.get(header::RETRY_AFTER) {
        body["retry_after"] = after.to_str().unwrap().into();
    }
    (status, body)
}

with_config!(
    challenges_for_unknown_humans_look_the_same_and_are_stored_alike,
    "",
    |env: Env| async move {
        let before = sizes(&env).await;
        let (s1, known) = challenge_from(&env, None, "alice").await;
        let (s2, unknown) = challenge_from(&env, None, "nobody-here").await;
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
        let shape = |v: &J| {
            let o = v.as_object().unwrap();
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            (
                keys.into_iter().cloned().collect::<Vec<_>>(),
                v["nonce"].as_str().unwrap().len(),
                v["expires_at"].clone(),
            )
        };
        assert_eq!(shape(&known), shape(&unknown), "{known} vs {unknown}");
        // Stored alike, so neither the tables nor /metrics tell them apart (bounded by
        // the per-client and global limits, as any challenge is).
        let after = sizes(&env).await;
        assert_eq!(
            (after.challenges, after.live_challenges),
            (before.challenges + 2, before.live_challenges + 2),
            "both challenges are stored"
        );

        // Answering it fails like a known human answering with a key that is not theirs.
        let stranger = new_key();
        let answer = |human: &str, nonce: &str| {
            let sig = stranger.signature(challenge_message(nonce).as_bytes());
            json!({ "human": human, "grant": crate::api::read_grant(), "verification": {
                "method": "device-key", "public_key": stranger.public().to_string(),
                "nonce": nonce, "signature": sig.to_hex() } })
        };
        let (sa, a) = env
            .call(
                "POST",
                "/v1/tokens",
                None,
                Some(answer("alice", known["nonce"].as_str().unwrap())),
            )
            .await;
        let (sb, b) = env
            .call(
                "POST",
                "/v1/tokens",
                None,
                Some(answer("nobody-here", unknown["nonce"].as_str().unwrap())),
            )
            .await;
        assert_eq!(
            (sa, sb),
            (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
        );
        assert_eq!(a["detail"], b["detail"], "{a} vs {b}");
    }
);

with_config!(
    the_global_cap_on_live_challenges_answers_429_with_retry_after,
    "max_live_challenges = 3\nchallenge_ttl = \"2m\"",
    |env: Env| async move {
        assert_eq!(challenge_from(&env, None, "alice").await.0, StatusCode::OK);
        assert_eq!(challenge_from(&env, None, "bob").await.0, StatusCode::OK);
        assert_eq!(agent_challenge_from(&env, None).await.0, StatusCode::OK);
        let s = sizes(&env).await;
        assert_eq!(
            (s.live_challenges, s.live_agent_challenges),
            (2, 1),
            "{s:?}"
        );
        // Full: every client is refused, for known and unknown humans alike.
        for (status, body) in [
            challenge_from(&env, Some("198.51.100.1:5000"), "alice").await,
            challenge_from(&env, Some("198.51.100.1:5000"), "nobody-here").await,
            agent_challenge_from(&env, Some("198.51.100.2:5000")).await,
        ] {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
            assert_eq!(body["retry_after"], "120", "{body}");
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("the issuer holds 3 unanswered challenges"),
                "{body}"
            );
        }
        // Once they expire there is room again; at the cap, expired rows are pruned
        // before anyone is refused.
        env.advance(121);
        for human in ["alice", "bob", "alice"] {
            let (status, body) = challenge_from(&env, None, human).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let s = sizes(&env).await;
        assert_eq!(
            (s.live_challenges, s.live_agent_challenges),
            (3, 0),
            "{s:?}"
        );
        assert_eq!((s.challenges, s.agent_challenges), (5, 1), "{s:?}");
        let (status, body) = agent_challenge_from(&env, None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        let s = sizes(&env).await;
        assert_eq!((s.challenges, s.agent_challenges), (3, 0), "pruned: {s:?}");
    }
);

with_config!(
    challenges_are_limited_per_client_address,
    "challenges_per_minute_per_client = 2\ntrusted_proxies = [\"10.0.0.1\"]",
    |env: Env| async move {
        let mallory = Some("198.51.100.7:4000");
        assert_eq!(
            challenge_from(&env, mallory, "alice").await.0,
            StatusCode::OK
        );
        assert_eq!(agent_challenge_from(&env, mallory).await.0, StatusCode::OK);
        let (status, body) = challenge_from(&env, mallory, "bob").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert!(body["retry_after"].as_str().is_some(), "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("`198.51.100.7`"),
            "{body}"
        );
        // A forged X-Forwarded-For from an untrusted peer changes nothing.
        let (status, _, _) = env
            .call_from(
                mallory,
                "POST",
                "/v1/agents/challenges",
                None,
                Some(json!({ "public_key": new_key().public().to_string() }).to_string()),
            )
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        // Another client is not affected.
        assert_eq!(
            challenge_from(&env, Some("203.0.113.5:4000"), "alice")
                .await
                .0,
            StatusCode::OK
        );
        // Behind the trusted proxy, each forwarded client counts on its own.
        for client in ["192.0.2.1", "192.0.2.2"] {
            for _ in 0..2 {
                let (status, headers, text) = call_via_proxy(&env, client).await;
                assert_eq!(status, StatusCode::OK, "{client}: {text} {headers:?}");
            }
            let (status, _, text) = call_via_proxy(&env, client).await;
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{client}: {text}");
        }
        // The next minute, the client may ask again.
        env.advance(60);
        assert_eq!(
            challenge_from(&env, mallory, "alice").await.0,
            StatusCode::OK
        );
    }
);

async fn call_via_proxy(env: &Env, client: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    use axum::body::Body;
    let req = axum::http::Request::post("/v1/agents/challenges")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", format!("6.6.6.6, {client}"))
        .extension(axum::extract::ConnectInfo(
            "10.0.0.1:443".parse::<std::net::SocketAddr>().unwrap(),
        ))
        .body(Body::from(
            json!({ "public_key": new_key().public().to_string() }).to_string(),
        ))
        .unwrap();
    env.send(req).await
}

with_config!(expired_challenges_are_pruned, "", |env: Env| async move {
    for human in ["alice", "bob", "alice"] {
        assert_eq!(challenge_from(&env, None, human).await.0, StatusCode::OK);
    }
    assert_eq!(agent_challenge_from(&env, None).await.0, StatusCode::OK);
    // One is answered (used rows go too, once expired).
    assert_eq!(
        env.mint("alice", crate::api::read_grant(), json!({}))
            .await
            .0,
        StatusCode::OK
    );
    // ID tokens used: one expiring with the challenges, one later.
    let now = env.at().unix_i64();
    let store = &env.state.store;
    assert!(store.use_id_token("soon", now + 60).await.unwrap());
    assert!(store.use_id_token("later", now + 3600).await.unwrap());
    let s = sizes(&env).await;
    assert_eq!((s.challenges, s.agent_challenges), (4, 1), "{s:?}");
    assert_eq!(s.used_id_tokens, 2);
    assert!(s.rate_counters > 0);
    // Still live: nothing is pruned.
    assert_eq!(env.state.prune().await.unwrap(), 0);
    env.advance(121);
    let pruned = env.state.prune().await.unwrap();
    let s = sizes(&env).await;
    assert_eq!(
        (
            s.challenges,
            s.agent_challenges,
            s.live_challenges,
            s.rate_counters,
            s.used_id_tokens
        ),
        (0, 0, 0, 0, 1),
        "{s:?}"
    );
    assert!(pruned >= 6, "{pruned}");
    // A pruned ID-token record is of a token refused as expired anyway; the live one
    // still refuses a second use.
    assert!(!store.use_id_token("later", now + 3600).await.unwrap());
    // Minted tokens, revocations and the audit log are kept.
    assert_eq!(s.tokens, 1);
    assert!(s.audit > 0);
});

with_config!(metrics_show_the_table_sizes, "", |env: Env| async move {
    assert_eq!(
        env.mint("alice", crate::api::read_grant(), json!({}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(challenge_from(&env, None, "bob").await.0, StatusCode::OK);
    assert_eq!(agent_challenge_from(&env, None).await.0, StatusCode::OK);
    let admin = env.admin_token().await;
    let (status, _) = env
        .call(
            "POST",
            "/v1/revocations",
            Some(&admin),
            Some(json!({ "kind": "holder", "value": new_key().public().to_string() })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let audit = env.audit().await.len();
    let (status, text) = env.call_raw("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "# TYPE warrant_live_challenges gauge".to_owned(),
        "warrant_live_challenges{kind=\"device_key\"} 1".to_owned(),
        "warrant_live_challenges{kind=\"agent\"} 1".to_owned(),
        "# TYPE warrant_stored_rows gauge".to_owned(),
        "warrant_stored_rows{table=\"challenges\"} 2".to_owned(),
        "warrant_stored_rows{table=\"agent_challenges\"} 1".to_owned(),
        "warrant_stored_rows{table=\"tokens\"} 1".to_owned(),
        "warrant_stored_rows{table=\"revocations\"} 1".to_owned(),
        format!("warrant_stored_rows{{table=\"audit\"}} {audit}"),
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
});

with_config!(
    verifications_are_limited_per_client_and_failures_recorded_once_a_minute,
    "verifications_per_minute_per_client = 3",
    |env: Env| async move {
        let mallory = "198.51.100.7:4000";
        let stranger = new_key();
        let nonce = "00".repeat(32);
        let v = json!({ "method": "device-key", "public_key": stranger.public().to_string(),
            "nonce": nonce, "signature": stranger.signature(challenge_message(&nonce).as_bytes()).to_hex() });
        let audit_before = sizes(&env).await.audit;
        // Every route that verifies a human counts against the same per-client limit.
        let calls = [
            (
                "/v1/tokens",
                json!({ "human": "alice", "verification": v, "grant": crate::api::read_grant() }),
            ),
            (
                "/v1/agents/mine",
                json!({ "human": "nobody-here", "verification": v }),
            ),
            (
                "/v1/revocations",
                json!({ "kind": "token_id", "value": "00".repeat(16), "human": "alice", "verification": v }),
            ),
            (
                "/v1/agents/mine",
                json!({ "human": "alice", "verification": v }),
            ),
        ];
        let mut statuses = Vec::new();
        for (path, body) in &calls {
            let (status, _, text) = env
                .call_from(Some(mallory), "POST", path, None, Some(body.to_string()))
                .await;
            statuses.push((status, text));
        }
        for (status, text) in &statuses[..3] {
            assert_eq!(*status, StatusCode::UNAUTHORIZED, "{text}");
        }
        assert_eq!(
            statuses[3].0,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            statuses[3].1
        );
        assert!(
            statuses[3].1.contains("`198.51.100.7`"),
            "{}",
            statuses[3].1
        );
        // Nothing permanent yet: failures are tallied, not appended one by one.
        assert_eq!(sizes(&env).await.audit, audit_before);
        // Alice, from her own address, is not affected.
        let (status, body) = env.mint("alice", crate::api::read_grant(), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The minute's failures become one entry, counted by human.
        env.state.prune().await.unwrap();
        let entries: Vec<_> = env
            .audit()
            .await
            .into_iter()
            .filter(|e| e.kind == "verification_failures")
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        let d: J = serde_json::from_str(&entries[0].detail).unwrap();
        assert_eq!(d["total"], 3, "{d}");
        let count = |human: &str| {
            d["failures"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["human"] == human)
                .map(|f| f["count"].as_u64().unwrap())
                .sum::<u64>()
        };
        assert_eq!((count("alice"), count("nobody-here")), (2, 1), "{d}");
        // Nothing more to record: the next pass adds nothing.
        let n = sizes(&env).await.audit;
        env.state.prune().await.unwrap();
        assert_eq!(sizes(&env).await.audit, n);
    }
);
