//! Every endpoint and its error paths.

use axum::http::StatusCode;
use serde_json::json;
use warrant_core::keys::{KeySet, SigningKey};
use warrant_test::new_key;
use warrant_verifier::{DenialKind, Request, Verifier};

use crate::both;
use crate::env::Env;

pub(crate) fn read_grant() -> serde_json::Value {
    json!({ "audience": ["support-api"], "ttl": "10m",
            "allow": [{ "resources": ["tickets/123/email_address"], "actions": ["read"] }] })
}

pub(crate) async fn key_set(env: &Env) -> KeySet {
    let (status, body) = env
        .call("GET", "/.well-known/warrant-keys", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    KeySet::from_json(&body.to_string()).unwrap()
}

both!(health_and_key_set, |env: Env| async move {
    assert_eq!(
        env.call_raw("GET", "/healthz", None, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        env.call_raw("GET", "/readyz", None, None).await.0,
        StatusCode::OK
    );
    let keys = key_set(&env).await;
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].kid.0, 1);
});

both!(
    a_verified_human_gets_a_token_within_the_ceiling,
    |env: Env| async move {
        let agent = new_key();
        let (status, body) = env
            .mint(
                "alice",
                read_grant(),
                json!({ "holder": agent.public().to_string() }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = body["token"].as_str().unwrap();
        let verifier = Verifier::builder(key_set(&env).await)
            .audience("support-api")
            .build();
        let url = "https://support.example/tickets/123/email_address";
        let proof = warrant_core::dpop::create_proof(
            &agent,
            "GET",
            url,
            token,
            env.at(),
            &mut rand_core::OsRng,
        )
        .unwrap();
        let req = Request::new("tickets/123/email_address", "read", env.at())
            .with_proof(proof, "GET", url);
        let claims = verifier
            .verify(token, &req)
            .claims()
            .cloned()
            .expect("allowed");
        assert_eq!(claims.human.as_deref(), Some("alice"));
        assert_eq!(claims.verification_method.as_deref(), Some("device-key"));
        assert_eq!(claims.block_count, 2, "ceiling and request");
        assert_eq!(claims.token_id.as_deref(), body["token_id"].as_str());
        // The ceiling's deny rule and the request's narrowing both hold.
        let proof = warrant_core::dpop::create_proof(
            &agent,
            "GET",
            url,
            token,
            env.at(),
            &mut rand_core::OsRng,
        )
        .unwrap();
        let other = Request::new("tickets/999/email_address", "read", env.at())
            .with_proof(proof, "GET", url);
        assert_eq!(
            verifier.verify(token, &other).denial().unwrap().block,
            Some(1)
        );
        // Its audit entry is there.
        let audit = env.audit().await;
        assert!(audit
            .iter()
            .any(|e| e.kind == "mint" && e.detail.contains(body["token_id"].as_str().unwrap())));
    }
);

both!(
    verification_failures_are_401_and_recorded,
    |env: Env| async move {
        // A replayed challenge.
        let v = env.answer("alice", &env.device).await;
        let mint = |v: serde_json::Value| json!({ "human": "alice", "verification": v, "grant": read_grant() });
        assert_eq!(
            env.call("POST", "/v1/tokens", None, Some(mint(v.clone())))
                .await
                .0,
            StatusCode::OK
        );
        let (status, body) = env.call("POST", "/v1/tokens", None, Some(mint(v))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["detail"].as_str().unwrap().contains("already used"),
            "{body}"
        );
        // An expired challenge.
        let v = env.answer("alice", &env.device).await;
        env.advance(121);
        let (status, body) = env.call("POST", "/v1/tokens", None, Some(mint(v))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("expired"),
            "{body}"
        );
        // A signature by a key that is not enrolled.
        let stranger = new_key();
        let v = env.answer("alice", &stranger).await;
        let (status, body) = env.call("POST", "/v1/tokens", None, Some(mint(v))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["detail"].as_str().unwrap().contains("not enrolled"),
            "{body}"
        );
        // The enrolled key's public key with another key's signature.
        let mut v = env.answer("alice", &stranger).await;
        v["public_key"] = env.device.public().to_string().into();
        let (status, body) = env.call("POST", "/v1/tokens", None, Some(mint(v))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["detail"].as_str().unwrap().contains("does not verify"),
            "{body}"
        );
        // A challenge issued to another human.
        let v = env.answer("bob", &env.device).await;
        let (status, _) = env.call("POST", "/v1/tokens", None, Some(mint(v))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // An unknown human.
        let v = env.answer("carol", &env.device).await;
        let (status, _) = env
            .call(
                "POST",
                "/v1/tokens",
                None,
                Some(json!({ "human": "carol", "verification": v, "grant": read_grant() })),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // Failures are recorded as counts, by human, in one entry (at the latest with the
        // export), the unknown human's like the others.
        let mut failures = std::collections::BTreeMap::new();
        for e in env
            .audit()
            .await
            .into_iter()
            .filter(|e| e.kind == "verification_failures")
        {
            let d: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
            for f in d["failures"].as_array().unwrap() {
                *failures
                    .entry(f["human"].as_str().unwrap().to_owned())
                    .or_insert(0) += f["count"].as_u64().unwrap();
            }
        }
        assert_eq!(failures.get("alice"), Some(&5), "{failures:?}");
        assert_eq!(failures.get("carol"), Some(&1), "{failures:?}");
    }
);

both!(mints_beyond_the_ceiling_are_403, |env: Env| async move {
    let cases = [
        (
            json!({ "allow": [{ "resources": ["accounts/1/password"], "actions": ["read"] }] }),
            "outside the ceiling",
        ),
        (
            json!({ "allow": [{ "resources": ["tickets/1/x"], "actions": ["delete"] }] }),
            "outside the ceiling",
        ),
        (
            json!({ "ttl": "2h", "allow": [{ "resources": ["tickets/1/x"], "actions": ["read"] }] }),
            "longer than",
        ),
        (
            json!({ "audience": ["billing-api"], "allow": [{ "resources": ["tickets/1/x"], "actions": ["read"] }] }),
            "audience `billing-api`",
        ),
    ];
    for (grant, why) in cases {
        let (status, body) = env.mint("alice", grant.clone(), json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{grant}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains(why),
            "{grant}: {body}"
        );
    }
    let (status, body) = env.mint("bob", read_grant(), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "several roles: {body}");
    let (status, body) = env
        .mint("bob", read_grant(), json!({ "role": "nobody" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        env.mint("bob", read_grant(), json!({ "role": "support" }))
            .await
            .0,
        StatusCode::OK
    );
    let refusals = env
        .audit()
        .await
        .into_iter()
        .filter(|e| e.kind == "refusal")
        .count();
    assert_eq!(refusals, 5);
});

both!(
    bad_input_is_400_and_changes_nothing,
    |env: Env| async move {
        let before = env.audit().await.len();
        for body in [
            "{",
            "[]",
            "{\"human\": 3}",
            "{\"human\": \"alice\", \"extra\": 1}",
        ] {
            let (status, text) = env
                .call_raw("POST", "/v1/challenges", None, Some(body.into()))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
            assert!(text.contains("\"status\":400"), "{text}");
        }
        let v = env.answer("alice", &env.device).await;
        let (status, body) = env
        .call("POST", "/v1/tokens", None, Some(json!({ "human": "alice", "verification": v, "grant": { "allow": [{ "resources": ["a"], "actions": ["read"], "when": [{ "attr": "x", "lte": 1 }] }] } })))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("unknown operator `lte`"),
            "{body}"
        );
        let big = format!("{{\"human\": \"{}\"}}", "a".repeat(100_000));
        assert_eq!(
            env.call_raw("POST", "/v1/challenges", None, Some(big))
                .await
                .0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        // Only the admin credentials issued to read the audit were recorded in between.
        let after = env.audit().await;
        assert!(after
            .iter()
            .skip(before)
            .all(|e| e.kind == "admin_credential" || e.kind == "head_signature"));
    }
);

both!(admin_endpoints_need_an_admin_token, |env: Env| async move {
    let (status, _) = env.call("GET", "/v1/audit", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = env
        .call("POST", "/v1/keys/rotate", Some("not-a-token"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, minted) = env.mint("alice", read_grant(), json!({})).await;
    let user_token = minted["token"].as_str().unwrap();
    let (status, body) = env
        .call(
            "POST",
            "/v1/revocations",
            Some(user_token),
            Some(json!({ "kind": "token_id", "value": "ab" })),
        )
        .await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
        "{status}: {body}"
    );
});

both!(revocations_feed_verifiers, |env: Env| async move {
    let admin = env.admin_token().await;
    let (_, a) = env.mint("alice", read_grant(), json!({})).await;
    let (_, b) = env.mint("alice", read_grant(), json!({})).await;
    let (status, body) = env
        .call(
            "POST",
            "/v1/revocations",
            Some(&admin),
            Some(json!({ "kind": "token_id", "value": a["token_id"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cursor"], 1);
    let (status, body) = env
        .call(
            "POST",
            "/v1/revocations",
            Some(&admin),
            Some(json!({ "kind": "holder", "value": "nobody" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, feed) = env.call("GET", "/v1/revocations?since=0", None, None).await;
    assert_eq!(feed["next_cursor"], 1);
    let set = warrant_verifier::RevocationSet::from_json(&feed.to_string()).unwrap();
    let verifier = Verifier::builder(key_set(&env).await)
        .audience("support-api")
        .dangerous_accept_bearer()
        .build();
    verifier.set_revocations(set);
    let req = Request::new("tickets/123/email_address", "read", env.at());
    let d = verifier.verify(a["token"].as_str().unwrap(), &req);
    assert_eq!(d.denial().map(|d| d.kind), Some(DenialKind::Revoked));
    assert!(verifier
        .verify(b["token"].as_str().unwrap(), &req)
        .is_allowed());
    let (_, later) = env.call("GET", "/v1/revocations?since=1", None, None).await;
    assert_eq!(later["entries"].as_array().unwrap().len(), 0);
    assert_eq!(later["next_cursor"], 1);
});

both!(
    the_audit_chain_verifies_with_signed_heads,
    |env: Env| async move {
        for _ in 0..4 {
            assert_eq!(
                env.mint("alice", read_grant(), json!({})).await.0,
                StatusCode::OK
            );
        }
        let rows = env.audit().await;
        let keys = key_set(&env).await;
        let report = warrant_issuer::audit::verify_chain(&rows, &keys).unwrap();
        assert!(report.signatures >= 2, "signed every 5 entries: {report:?}");
        let mut tampered = rows.clone();
        tampered[3].detail = tampered[3].detail.replace("alice", "mallory");
        assert!(warrant_issuer::audit::verify_chain(&tampered, &keys).is_err());
    }
);

both!(rotation_keeps_old_tokens_valid, |env: Env| async move {
    let (_, old) = env.mint("alice", read_grant(), json!({})).await;
    let admin = env.admin_token().await;
    let (status, body) = env
        .call("POST", "/v1/keys/rotate", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys = key_set(&env).await;
    assert_eq!(
        keys.keys.len(),
        2,
        "the retired key stays published while its tokens live"
    );
    let (_, new) = env.mint("alice", read_grant(), json!({})).await;
    let verifier = Verifier::builder(keys)
        .audience("support-api")
        .dangerous_accept_bearer()
        .build();
    let req = Request::new("tickets/123/email_address", "read", env.at());
    for t in [&old, &new] {
        assert!(verifier
            .verify(t["token"].as_str().unwrap(), &req)
            .is_allowed());
    }
    let kid = |t: &serde_json::Value| {
        warrant_core::token::decode_unverified(t["token"].as_str().unwrap())
            .unwrap()
            .root_key_id()
    };
    assert_eq!((kid(&old), kid(&new)), (Some(1), Some(2)));
    // Once every token of the old key has expired, it is
    // no longer published.
    env.advance(366 * 86_400);
    let keys = key_set(&env).await;
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].kid.0, 2);
});

both!(
    a_rotation_at_another_replica_is_used_by_the_next_mint,
    |env: Env| async move {
        let kid = |t: &serde_json::Value| {
            warrant_core::token::decode_unverified(t["token"].as_str().unwrap())
                .unwrap()
                .root_key_id()
        };
        let (status, first) = env.mint("alice", read_grant(), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(kid(&first), Some(1));
        // Another replica on the same database rotates; this one fetches no key set.
        let replica = warrant_issuer::State::open(
            warrant_issuer::Config::defaults().unwrap(),
            &env.database,
            None,
        )
        .await
        .unwrap();
        warrant_issuer::keyring::rotate(&replica.store, None, env.at().unix_i64())
            .await
            .unwrap();
        let (status, next) = env.mint("alice", read_grant(), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{next}");
        assert_eq!(
            kid(&next),
            Some(2),
            "signed with the key rotated in elsewhere"
        );
        let keys = key_set(&env).await;
        assert_eq!(keys.keys.len(), 2, "both keys published");
        let verifier = Verifier::builder(keys)
            .audience("support-api")
            .dangerous_accept_bearer()
            .build();
        let req = Request::new("tickets/123/email_address", "read", env.at());
        assert!(verifier
            .verify(next["token"].as_str().unwrap(), &req)
            .is_allowed());
    }
);

both!(
    concurrent_mints_and_revocations_keep_one_chain,
    |env: Env| async move {
        let admin = env.admin_token().await;
        let env = std::sync::Arc::new(env);
        let mut tasks = Vec::new();
        for i in 0..12 {
            let env = std::sync::Arc::clone(&env);
            let admin = admin.clone();
            tasks.push(tokio::spawn(async move {
                if i % 3 == 0 {
                    let body = json!({ "kind": "token_id", "value": format!("{i:032x}") });
                    env.call("POST", "/v1/revocations", Some(&admin), Some(body))
                        .await
                        .0
                } else {
                    env.mint("alice", read_grant(), json!({})).await.0
                }
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), StatusCode::OK);
        }
        let rows = env.audit().await;
        warrant_issuer::audit::verify_chain(&rows, &key_set(&env).await).unwrap();
        let (_, feed) = env.call("GET", "/v1/revocations", None, None).await;
        let cursors: Vec<i64> = feed["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["cursor"].as_i64().unwrap())
            .collect();
        assert_eq!(cursors, vec![1, 2, 3, 4]);
    }
);

#[tokio::test]
async fn keys_are_encrypted_at_rest_with_a_kek() {
    let kek = warrant_issuer::keyring::Kek::parse(&"5a".repeat(32)).unwrap();
    let env = Env::with_config(
        crate::env::Db::Sqlite,
        crate::env::CONFIG,
        Some(kek.clone()),
    )
    .await
    .unwrap();
    let rows = env.state.store.signing_keys().await.unwrap();
    assert!(rows[0].encrypted);
    assert!(!String::from_utf8_lossy(&rows[0].private_key).contains("PRIVATE KEY"));
    // Without the key-encryption key the issuer refuses to start, clearly.
    let config = warrant_issuer::Config::defaults().unwrap();
    let e = warrant_issuer::State::open(config.clone(), &env.database, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("WARRANT_KEK"), "{e}");
    let wrong = warrant_issuer::keyring::Kek::parse(&"77".repeat(32)).unwrap();
    let e = warrant_issuer::State::open(config.clone(), &env.database, Some(wrong))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot be decrypted"), "{e}");
    assert!(
        warrant_issuer::State::open(config, &env.database, Some(kek))
            .await
            .is_ok()
    );
}

pub(crate) async fn register(
    env: &Env,
    admin: &str,
    agent: &SigningKey,
    sign_with: &SigningKey,
) -> (StatusCode, serde_json::Value) {
    let (_, c) = env
        .call(
            "POST",
            "/v1/agents/challenges",
            None,
            Some(json!({ "public_key": agent.public().to_string() })),
        )
        .await;
    let sig = sign_with.signature(c["sign"].as_str().unwrap().as_bytes());
    let body = json!({
        "name": "triage bot", "public_key": agent.public().to_string(), "owner": "alice",
        "nonce": c["nonce"], "signature": sig.to_hex(),
    });
    env.call("POST", "/v1/agents", Some(admin), Some(body))
        .await
}

both!(
    agents_register_with_proof_and_disabling_revokes_them,
    |env: Env| async move {
        let admin = env.admin_token().await;
        let agent = new_key();
        let thief = new_key();
        let (status, body) = register(&env, &admin, &agent, &thief).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "no proof of possession: {body}"
        );
        let (status, body) = register(&env, &admin, &agent, &agent).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["id"], agent.public().jwk_thumbprint());
        let (status, body) = register(&env, &admin, &agent, &agent).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "already registered: {body}"
        );
        let (status, _) = env.call("GET", "/v1/agents", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (_, list) = env.call("GET", "/v1/agents", Some(&admin), None).await;
        assert_eq!(list["agents"].as_array().unwrap().len(), 1);

        let holder = json!({ "holder": agent.public().to_string() });
        let (status, before) = env.mint("alice", read_grant(), holder.clone()).await;
        assert_eq!(status, StatusCode::OK);
        let id = agent.public().jwk_thumbprint();
        let (status, body) = env
            .call(
                "POST",
                &format!("/v1/agents/{id}/disable"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = env.mint("alice", read_grant(), holder).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            body["detail"].as_str().unwrap().contains("is disabled"),
            "{body}"
        );
        // Its earlier token is revoked through the feed.
        let (_, feed) = env.call("GET", "/v1/revocations", None, None).await;
        let verifier = Verifier::builder(key_set(&env).await)
            .audience("support-api")
            .build();
        verifier.set_revocations(
            warrant_verifier::RevocationSet::from_json(&feed.to_string()).unwrap(),
        );
        let token = before["token"].as_str().unwrap();
        let url = "https://support.example/tickets/123/email_address";
        let proof = warrant_core::dpop::create_proof(
            &agent,
            "GET",
            url,
            token,
            env.at(),
            &mut rand_core::OsRng,
        )
        .unwrap();
        let req = Request::new("tickets/123/email_address", "read", env.at())
            .with_proof(proof, "GET", url);
        assert_eq!(
            verifier.verify(token, &req).denial().map(|d| d.kind),
            Some(DenialKind::Revoked)
        );
        let (status, _) = env
            .call("POST", "/v1/agents/nope/disable", Some(&admin), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

both!(
    metrics_count_mints_refusals_and_verifications,
    |env: Env| async move {
        assert_eq!(
            env.mint("alice", read_grant(), json!({})).await.0,
            StatusCode::OK
        );
        let outside = json!({ "allow": [{ "resources": ["accounts/1"], "actions": ["read"] }] });
        assert_eq!(
            env.mint("alice", outside, json!({})).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, text) = env.call_raw("GET", "/metrics", None, None).await;
        assert_eq!(status, StatusCode::OK);
        for line in [
            "warrant_mints_total 1",
            "warrant_refusals_total{reason=\"ceiling\"} 1",
            "warrant_verifications_total{method=\"device-key\",result=\"success\"} 2",
            "# TYPE warrant_http_request_duration_seconds histogram",
            "warrant_http_requests_total{status=\"200\"}",
            "warrant_http_requests_total{status=\"403\"} 1",
        ] {
            assert!(text.contains(line), "missing `{line}` in\n{text}");
        }
    }
);

both!(
    humans_and_roles_are_managed_through_the_admin_api,
    |env: Env| async move {
        let admin = env.admin_token().await;
        let carol_key = new_key();
        let role = json!({ "name": "billing", "max_ttl": "5m",
                       "ceiling": { "allow": [{ "resources": ["invoices/*"], "actions": ["read"] }] } });
        let (status, body) = env
            .call("POST", "/v1/roles", Some(&admin), Some(role))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let human = json!({ "id": "carol", "roles": ["billing"], "device_keys": [carol_key.public().to_string()],
                        "attrs": { "kyc_complete": true } });
        let (status, body) = env
            .call("POST", "/v1/humans", Some(&admin), Some(human))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let v = env.answer("carol", &carol_key).await;
        let grant =
            json!({ "ttl": "5m", "allow": [{ "resources": ["invoices/7"], "actions": ["read"] }] });
        let (status, body) = env
            .call(
                "POST",
                "/v1/tokens",
                None,
                Some(json!({ "human": "carol", "verification": v, "grant": grant })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Bad input: unknown role, bad key, a grant as a ceiling with a lifetime, no token.
        let (status, _) = env
            .call(
                "POST",
                "/v1/humans",
                Some(&admin),
                Some(json!({ "id": "dave", "roles": ["nope"] })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = env
            .call(
                "POST",
                "/v1/humans",
                Some(&admin),
                Some(json!({ "id": "dave", "device_keys": ["x"] })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let bad_role = json!({ "name": "r", "max_ttl": "5m", "ceiling": { "ttl": "1m", "allow": [{ "resources": ["a"], "actions": ["read"] }] } });
        assert_eq!(
            env.call("POST", "/v1/roles", Some(&admin), Some(bad_role))
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            env.call("POST", "/v1/humans", None, Some(json!({ "id": "eve" })))
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        let kinds: Vec<String> = env.audit().await.into_iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&"human".to_owned()) && kinds.contains(&"role".to_owned()));
    }
);

both!(
    a_quiet_log_gets_its_head_signed_by_time,
    |env: Env| async move {
        assert_eq!(
            env.mint("alice", read_grant(), json!({})).await.0,
            StatusCode::OK
        );
        env.state.sign_current_head().await.unwrap();
        env.state.sign_current_head().await.unwrap();
        let rows = env.audit().await;
        let signatures = rows.iter().filter(|r| r.kind == "head_signature").count();
        let report = warrant_issuer::audit::verify_chain(&rows, &key_set(&env).await).unwrap();
        assert_eq!(report.signatures, signatures);
        // The second call found the head already signed and added nothing.
        let last_two: Vec<&str> = rows.iter().rev().take(2).map(|r| r.kind.as_str()).collect();
        assert_ne!(last_two, vec!["head_signature", "head_signature"]);
    }
);

/// A loopback identity provider: its JWKS, and ID tokens signed with its Ed25519 key.
pub(crate) struct Idp {
    pub url: String,
    key: ed25519_dalek::SigningKey,
}

impl Idp {
    pub(crate) async fn start() -> Self {
        use base64::Engine as _;
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        let x =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let jwks = json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "alg": "EdDSA", "use": "sig" }] });
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || async move { axum::Json(jwks) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}"),
            key,
        }
    }

    pub(crate) fn id_token(&self, claims: serde_json::Value) -> String {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let der = self.key.to_pkcs8_der().unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
        )
        .unwrap()
    }
}

#[tokio::test]
async fn an_oidc_id_token_verifies_the_human() {
    let idp = Idp::start().await;
    let config = format!(
        "{}\n[[oidc]]\nname = \"corp\"\nissuer = \"{}\"\naudience = \"warrant\"\njwks_url = \"{}/jwks\"\n",
        crate::env::CONFIG,
        idp.url,
        idp.url
    );
    let env = Env::with_config(crate::env::Db::Sqlite, &config, None)
        .await
        .unwrap();
    let now = env.at().unix();
    let claims = |sub: &str, aud: &str, exp: u64, nonce: Option<&str>| {
        let mut c = json!({ "iss": idp.url, "sub": sub, "aud": aud, "exp": exp, "iat": now, "amr": ["pwd", "mfa"] });
        if let Some(n) = nonce {
            c["nonce"] = n.into();
        }
        c
    };
    let mint = |verification: serde_json::Value| json!({ "human": "alice", "verification": verification, "grant": read_grant() });
    // A fresh nonce from the issuer, carried by the ID token: single use.
    let (_, c) = env
        .call(
            "POST",
            "/v1/challenges",
            None,
            Some(json!({ "human": "alice" })),
        )
        .await;
    let nonce = c["nonce"].as_str().unwrap().to_owned();
    let token = idp.id_token(claims("alice", "warrant", now + 300, Some(&nonce)));
    let v = json!({ "method": "oidc", "provider": "corp", "id_token": token, "nonce": nonce });
    let (status, body) = env
        .call("POST", "/v1/tokens", None, Some(mint(v.clone())))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let verifier = Verifier::builder(key_set(&env).await)
        .audience("support-api")
        .dangerous_accept_bearer()
        .build();
    let req = Request::new("tickets/123/email_address", "read", env.at());
    let claims_out = verifier
        .verify(body["token"].as_str().unwrap(), &req)
        .claims()
        .cloned()
        .unwrap();
    assert_eq!(claims_out.verification_method.as_deref(), Some("oidc"));
    let (status, body) = env.call("POST", "/v1/tokens", None, Some(mint(v))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed: {body}");
    // Wrong audience, expired, another human's token, an unknown provider.
    for (aud, sub, exp, why) in [
        ("other", "alice", now + 300, "audience"),
        ("warrant", "alice", now - 3600, "expired"),
        ("warrant", "bob", now + 300, "not for `alice`"),
    ] {
        let (_, c) = env
            .call(
                "POST",
                "/v1/challenges",
                None,
                Some(json!({ "human": "alice" })),
            )
            .await;
        let nonce = c["nonce"].as_str().unwrap().to_owned();
        let token = idp.id_token(claims(sub, aud, exp, Some(&nonce)));
        let v = json!({ "method": "oidc", "provider": "corp", "id_token": token, "nonce": nonce });
        let (status, body) = env.call("POST", "/v1/tokens", None, Some(mint(v))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains(why),
            "{why}: {body}"
        );
    }
    let v = json!({ "method": "oidc", "provider": "nope", "id_token": "x", "nonce": "x" });
    assert_eq!(
        env.call("POST", "/v1/tokens", None, Some(mint(v))).await.0,
        StatusCode::BAD_REQUEST
    );
    let audit = env.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e.kind == "verification" && e.detail.contains("\"mfa\"")),
        "amr recorded"
    );
}

both!(a_human_may_revoke_their_own_tokens, |env: Env| async move {
    let (_, mine) = env.mint("alice", read_grant(), json!({})).await;
    let (_, bobs) = env
        .mint("bob", read_grant(), json!({ "role": "support" }))
        .await;
    let revoke = |v: serde_json::Value, id: &serde_json::Value| json!({ "kind": "token_id", "value": id, "human": "alice", "verification": v });
    let v = env.answer("alice", &env.device).await;
    let (status, body) = env
        .call(
            "POST",
            "/v1/revocations",
            None,
            Some(revoke(v, &bobs["token_id"])),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not hers: {body}");
    // An `Authorization` header, once present, is checked: a bad admin credential is
    // refused even beside a good human verification (it is not read as "no admin").
    let v = env.answer("alice", &env.device).await;
    let (status, body) = env
        .call(
            "POST",
            "/v1/revocations",
            Some("warrant-admin.not-a-credential"),
            Some(revoke(v, &mine["token_id"])),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        !env.audit().await.iter().any(|e| e.kind == "revocation"),
        "nothing revoked"
    );
    let v = env.answer("alice", &env.device).await;
    let (status, body) = env
        .call(
            "POST",
            "/v1/revocations",
            None,
            Some(revoke(v.clone(), &mine["token_id"])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = env
        .call(
            "POST",
            "/v1/revocations",
            None,
            Some(revoke(v, &mine["token_id"])),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the challenge was used");
    let audit = env.audit().await;
    assert!(audit
        .iter()
        .any(|e| e.kind == "revocation" && e.actor == "alice"));
});

#[tokio::test]
async fn mints_and_challenges_are_rate_limited_per_human_sqlite() {
    rate_limits(crate::env::Db::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    warrant_pg_tests_ignored,
    ignore = "needs WARRANT_TEST_DATABASE_URL (a PostgreSQL server)"
)]
async fn mints_and_challenges_are_rate_limited_per_human_postgres() {
    rate_limits(crate::env::Db::Postgres).await;
}

async fn rate_limits(db: crate::env::Db) {
    let config = format!(
        "mints_per_minute = 2\nchallenges_per_minute = 4\n{}",
        crate::env::CONFIG
    );
    let Some(env) = Env::with_config(db, &config, None).await else {
        return;
    };
    assert_eq!(
        env.mint("alice", read_grant(), json!({})).await.0,
        StatusCode::OK
    );
    assert_eq!(
        env.mint("alice", read_grant(), json!({})).await.0,
        StatusCode::OK
    );
    let (status, body) = env.mint("alice", read_grant(), json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("`alice`"),
        "{body}"
    );
    // Four challenges were used by the three mints and one more is the fifth.
    let (status, _) = env
        .call(
            "POST",
            "/v1/challenges",
            None,
            Some(json!({ "human": "alice" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = env
        .call(
            "POST",
            "/v1/challenges",
            None,
            Some(json!({ "human": "alice" })),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another human is not affected; the next minute starts afresh.
    assert_eq!(
        env.mint("bob", read_grant(), json!({ "role": "support" }))
            .await
            .0,
        StatusCode::OK
    );
    env.advance(60);
    assert_eq!(
        env.mint("alice", read_grant(), json!({})).await.0,
        StatusCode::OK
    );
}

both!(an_agents_owner_may_disable_it, |env: Env| async move {
    let admin = env.admin_token().await;
    let agent = new_key();
    assert_eq!(
        register(&env, &admin, &agent, &agent).await.0,
        StatusCode::CREATED
    );
    let id = agent.public().jwk_thumbprint();
    let v = env.answer("alice", &env.device).await;
    let (status, mine) = env
        .call(
            "POST",
            "/v1/agents/mine",
            None,
            Some(json!({ "human": "alice", "verification": v })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["agents"][0]["id"], id.as_str());
    let v = env.answer("bob", &env.device).await;
    let (_, theirs) = env
        .call(
            "POST",
            "/v1/agents/mine",
            None,
            Some(json!({ "human": "bob", "verification": v })),
        )
        .await;
    assert_eq!(theirs["agents"].as_array().unwrap().len(), 0);
    let path = format!("/v1/agents/{id}/disable");
    // Bob is not the owner (alice is).
    let v = env.answer("bob", &env.device).await;
    let (status, body) = env
        .call(
            "POST",
            &path,
            None,
            Some(json!({ "human": "bob", "verification": v })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let v = env.answer("alice", &env.device).await;
    let (status, body) = env
        .call(
            "POST",
            &path,
            None,
            Some(json!({ "human": "alice", "verification": v })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, feed) = env.call("GET", "/v1/revocations", None, None).await;
    assert_eq!(feed["entries"][0]["value"], agent.public().to_string());
    assert_eq!(
        env.call("POST", &path, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
});

// A key nobody holds (the identity point) and the signature (R = identity, s = 0), which
// a lax Ed25519 check accepts for every message: no proof of possession, no device-key
// answer.
both!(weak_keys_prove_nothing, |env: Env| async move {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = warrant_core::keys::PublicKey::from_bytes(identity).to_string();
    let mut forged = [0u8; 64];
    forged[0] = 1;
    let forged = hex::encode(forged);
    let admin = env.admin_token().await;
    let (_, c) = env
        .call(
            "POST",
            "/v1/agents/challenges",
            None,
            Some(json!({ "public_key": weak })),
        )
        .await;
    let body = json!({
        "name": "ghost", "public_key": weak, "owner": "alice",
        "nonce": c["nonce"], "signature": forged,
    });
    let (status, body) = env
        .call("POST", "/v1/agents", Some(&admin), Some(body))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
});
