//! Capability requests: an agent asks, its human approves (narrowed or not) or denies,
//! the agent collects a token bound to its key — and every way to cheat that.

use axum::body::Body;
use axum::http::{header, Request as HttpRequest, StatusCode};
use serde_json::{json, Value as J};
use warrant_core::keys::SigningKey;
use warrant_test::new_key;
use warrant_verifier::{DenialKind, Request, Verifier};

use crate::api::{key_set, register};
use crate::both;
use crate::env::Env;

/// The issuer's public URL: what proofs sign.
fn base(env: &Env) -> String {
    env.state.config.public_url.clone()
}

/// A refund request of up to 100.00, for 10 minutes, for support-api.
pub(crate) fn refunds() -> J {
    json!({ "audience": ["support-api"], "ttl": "10m", "allow": [
        { "resources": ["orders/*"], "actions": ["refund"], "when": [ { "attr": "amount", "le": 10000 } ] },
        { "resources": ["tickets/123/email_address"], "actions": ["read"] }
    ] })
}

/// A DPoP proof by `agent` for `method` on `path` (no access token: `ath` of "").
pub(crate) fn proof(env: &Env, agent: &SigningKey, method: &str, path: &str) -> String {
    warrant_core::dpop::create_proof(
        agent,
        method,
        &format!("{}{path}", base(env)),
        "",
        env.at(),
        &mut rand_core::OsRng,
    )
    .unwrap()
}

/// Sends `method path` with an optional DPoP proof and JSON body: status, headers, JSON.
pub(crate) async fn send(
    env: &Env,
    method: &str,
    path: &str,
    dpop: Option<&str>,
    body: Option<J>,
) -> (StatusCode, axum::http::HeaderMap, J) {
    let mut req = HttpRequest::builder().method(method).uri(path);
    if let Some(p) = dpop {
        req = req.header("dpop", p);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let (status, headers, text) = env.send(req).await;
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(J::String(text)),
    )
}

/// A registered agent.
pub(crate) async fn agent(env: &Env) -> SigningKey {
    let admin = env.admin_token().await;
    let agent = new_key();
    let (status, body) = register(env, &admin, &agent, &agent).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    agent
}

/// `agent` asks alice for `grant`: the request's id.
pub(crate) async fn ask(env: &Env, agent: &SigningKey, grant: J) -> String {
    let p = proof(env, agent, "POST", "/v1/requests");
    let body =
        json!({ "human": "alice", "reason": "refund order 7, charged twice", "grant": grant });
    let (status, headers, made) =
        send(env, "POST", "/v1/requests", Some(&p), Some(body.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{made} {headers:?}");
    let id = made["id"].as_str().unwrap().to_owned();
    // The words of core's one generator, as `warrant inspect` and the audit log show them.
    let asked = warrant_core::grant::Grant::from_json(&body["grant"]).unwrap();
    assert_eq!(made["description"], warrant_core::inspect::describe(&asked));
    assert_eq!(made["approve_url"], format!("{}/approve/{id}", base(env)));
    id
}

pub(crate) async fn poll(
    env: &Env,
    agent: &SigningKey,
    id: &str,
) -> (StatusCode, axum::http::HeaderMap, J) {
    let path = format!("/v1/requests/{id}");
    let p = proof(env, agent, "GET", &path);
    send(env, "GET", &path, Some(&p), None).await
}

/// `human` decides request `id` (`approve` or `deny`) with a device key, optionally narrowing.
pub(crate) async fn decide(
    env: &Env,
    human: &str,
    id: &str,
    what: &str,
    grant: Option<J>,
) -> (StatusCode, J) {
    let verification = env.answer(human, &env.device).await;
    let mut body = json!({ "human": human, "verification": verification });
    if let Some(g) = grant {
        body["grant"] = g;
    }
    env.call(
        "POST",
        &format!("/v1/requests/{id}/{what}"),
        None,
        Some(body),
    )
    .await
}

/// A verification of `token` by the holder `agent` for `resource`/`action`.
pub(crate) fn check(
    env: &Env,
    verifier: &Verifier,
    agent: &SigningKey,
    token: &str,
    request: Request,
) -> warrant_verifier::Decision {
    let url = "https://support.example/x";
    let p = warrant_core::dpop::create_proof(
        agent,
        "POST",
        url,
        token,
        env.at(),
        &mut rand_core::OsRng,
    )
    .unwrap();
    verifier.verify(token, &request.with_proof(p, "POST", url))
}

both!(
    an_agent_asks_the_human_narrows_and_the_agent_collects_a_bound_token_once,
    |env: Env| async move {
        let agent = agent(&env).await;
        let id = ask(&env, &agent, refunds()).await;
        // Pending: the agent is told when to ask again.
        let (status, headers, state) = poll(&env, &agent, &id).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{state}");
        assert_eq!(state["status"], "pending");
        assert_eq!(headers[header::RETRY_AFTER], "2");
        // Alice approves refunds under 50.00 only, for 5 minutes, and no e-mail reading.
        let narrowed = json!({ "ttl": "5m", "allow": [
            { "resources": ["orders/*"], "actions": ["refund"], "when": [ { "attr": "amount", "lt": 5000 } ] }
        ] });
        let (status, decided) = decide(&env, "alice", &id, "approve", Some(narrowed)).await;
        assert_eq!(status, StatusCode::OK, "{decided}");
        assert_eq!(decided["status"], "approved");
        let expires = decided["token_expires_at"].as_str().unwrap().to_owned();
        // Collected once, bound to the agent's key.
        let (status, headers, state) = poll(&env, &agent, &id).await;
        assert_eq!(status, StatusCode::OK, "{state}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let token = state["token"]["token"].as_str().unwrap().to_owned();
        assert_eq!(state["token"]["expires_at"], expires.as_str());
        let (status, _, again) = poll(&env, &agent, &id).await;
        assert_eq!(status, StatusCode::GONE, "{again}");
        let verifier = Verifier::builder(key_set(&env).await)
            .audience("support-api")
            .build();
        let refund =
            |amount: i64| Request::new("orders/7", "refund", env.at()).with_attr("amount", amount);
        let ok = check(&env, &verifier, &agent, &token, refund(4999));
        let claims = ok.claims().expect("a refund under 50.00 is allowed");
        assert_eq!(claims.human.as_deref(), Some("alice"));
        assert_eq!(claims.verification_method.as_deref(), Some("device-key"));
        assert_eq!(claims.block_count, 3, "ceiling, request, approval");
        // What alice took away stays away; the third block says no.
        let over = check(&env, &verifier, &agent, &token, refund(5000));
        assert_eq!(over.denial().unwrap().block, Some(2), "{over:?}");
        let email = check(
            &env,
            &verifier,
            &agent,
            &token,
            Request::new("tickets/123/email_address", "read", env.at()),
        );
        assert_eq!(email.denial().unwrap().block, Some(2));
        // Another key cannot use it.
        let thief = new_key();
        let stolen = check(&env, &verifier, &thief, &token, refund(100));
        assert_eq!(stolen.denial().unwrap().kind, DenialKind::InvalidProof);
        // The chain: asked, verified, approved, minted — linked by the request's id.
        let audit = env.audit().await;
        let kinds: Vec<_> = audit
            .iter()
            .filter(|e| e.detail.contains(&id))
            .map(|e| e.kind.as_str())
            .collect();
        assert_eq!(kinds, ["request", "request_approved", "mint"]);
        let mint = audit.iter().find(|e| e.kind == "mint").unwrap();
        assert!(mint
            .detail
            .contains(state["token"]["token_id"].as_str().unwrap()));
    }
);

both!(
    approved_as_asked_the_token_has_two_blocks_and_the_asked_lifetime,
    |env: Env| async move {
        let agent = agent(&env).await;
        let id = ask(&env, &agent, refunds()).await;
        let (status, decided) = decide(&env, "alice", &id, "approve", None).await;
        assert_eq!(status, StatusCode::OK, "{decided}");
        assert_eq!(
            decided["token_expires_at"],
            env.at()
                .plus(warrant_core::time::Span::from_seconds(600))
                .to_string()
        );
        // Collected a minute later, it still ends when approved + 10 minutes.
        env.advance(60);
        let (status, _, state) = poll(&env, &agent, &id).await;
        assert_eq!(status, StatusCode::OK, "{state}");
        assert_eq!(state["token"]["expires_at"], decided["token_expires_at"]);
        let verifier = Verifier::builder(key_set(&env).await)
            .audience("support-api")
            .build();
        let token = state["token"]["token"].as_str().unwrap();
        let d = check(
            &env,
            &verifier,
            &agent,
            token,
            Request::new("tickets/123/email_address", "read", env.at()),
        );
        assert_eq!(d.claims().expect("allowed").block_count, 2);
    }
);

both!(
    a_request_beyond_the_ceiling_or_for_nobody_is_refused_at_once_and_stores_nothing,
    |env: Env| async move {
        let agent = agent(&env).await;
        let ask_for =
            |human: &str, grant: J| json!({ "human": human, "reason": "because", "grant": grant });
        let beyond =
            json!({ "allow": [ { "resources": ["settlements/1"], "actions": ["read"] } ] });
        let p = proof(&env, &agent, "POST", "/v1/requests");
        let (status, _, e) = send(
            &env,
            "POST",
            "/v1/requests",
            Some(&p),
            Some(ask_for("alice", beyond)),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
        // The words of a refused mint.
        assert_eq!(
            e["detail"],
            "allow[0] (`read` on `settlements/1`) is outside the ceiling of role `support`"
        );
        let p = proof(&env, &agent, "POST", "/v1/requests");
        let (status, _, e) = send(
            &env,
            "POST",
            "/v1/requests",
            Some(&p),
            Some(ask_for("mallory", refunds())),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
        for (bad, said) in [
            (
                json!({ "human": "alice", "reason": "x", "grant": { "allow": [ { "resources": ["a/../b"], "actions": ["read"] } ] } }),
                "grant: allow[0].resources[0]",
            ),
            (
                json!({ "human": "alice", "reason": "", "grant": refunds() }),
                "`reason` must be 1 to 500 printable characters",
            ),
            (
                json!({ "human": "alice", "reason": "line\nbreak", "grant": refunds() }),
                "`reason` must be 1 to 500 printable characters",
            ),
            (
                json!({ "human": "alice", "reason": "refund \u{202e}01 order", "grant": refunds() }),
                "with no invisible ones",
            ),
            (
                json!({ "human": "alice", "reason": "x", "grant": refunds(), "holder": "me" }),
                "unknown field `holder`",
            ),
        ] {
            let p = proof(&env, &agent, "POST", "/v1/requests");
            let (status, _, e) = send(&env, "POST", "/v1/requests", Some(&p), Some(bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
            assert!(e["detail"].as_str().unwrap().contains(said), "{e}");
        }
        assert!(
            !env.audit()
                .await
                .iter()
                .any(|e| e.kind.starts_with("request")),
            "nothing recorded"
        );
    }
);

both!(
    only_a_fresh_proof_by_a_registered_agent_asks_and_only_the_asker_collects,
    |env: Env| async move {
        let agent = agent(&env).await;
        let body = json!({ "human": "alice", "reason": "r", "grant": refunds() });
        // No proof, a stranger's key, a proof for another URL or method, a replay.
        let (status, headers, e) =
            send(&env, "POST", "/v1/requests", None, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
        assert!(headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("DPoP "));
        let stranger = new_key();
        let p = proof(&env, &stranger, "POST", "/v1/requests");
        let (status, _, e) = send(&env, "POST", "/v1/requests", Some(&p), Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            e["detail"]
                .as_str()
                .unwrap()
                .contains("not a registered agent"),
            "{e}"
        );
        for p in [
            proof(&env, &agent, "POST", "/v1/tokens"),
            proof(&env, &agent, "GET", "/v1/requests"),
        ] {
            let (status, _, e) =
                send(&env, "POST", "/v1/requests", Some(&p), Some(body.clone())).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
        }
        let p = proof(&env, &agent, "POST", "/v1/requests");
        let (status, _, _) = send(&env, "POST", "/v1/requests", Some(&p), Some(body.clone())).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (status, _, e) = send(&env, "POST", "/v1/requests", Some(&p), Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(e["detail"].as_str().unwrap().contains("used before"), "{e}");
        // Approved, the request's id is worth nothing to another agent, or to anyone
        // without a proof.
        let id = ask(&env, &agent, refunds()).await;
        assert_eq!(
            decide(&env, "alice", &id, "approve", None).await.0,
            StatusCode::OK
        );
        let other = crate::requests::agent(&env).await;
        let (status, _, e) = poll(&env, &other, &id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
        let path = format!("/v1/requests/{id}");
        let (status, _, _) = send(&env, "GET", &path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // A proof made for another request's URL does not collect this one.
        let p = proof(
            &env,
            &agent,
            "GET",
            "/v1/requests/00000000000000000000000000000000",
        );
        let (status, _, _) = send(&env, "GET", &path, Some(&p), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // The asker still collects it.
        assert_eq!(poll(&env, &agent, &id).await.0, StatusCode::OK);
    }
);

both!(
    only_the_human_asked_decides_once_and_may_only_narrow,
    |env: Env| async move {
        let agent = agent(&env).await;
        let id = ask(&env, &agent, refunds()).await;
        // Bob is not the human asked; a wrong key fails like any wrong key.
        let (status, e) = decide(&env, "bob", &id, "approve", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
        let verification = env.answer("alice", &new_key()).await;
        let (status, _) = env
            .call(
                "POST",
                &format!("/v1/requests/{id}/approve"),
                None,
                Some(json!({ "human": "alice", "verification": verification })),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // Widening is refused with where and why, and the request stays pending; but only
        // to its human: without a valid proof, the refusal says nothing of the request.
        let wider = json!({ "allow": [ { "resources": ["orders/*"], "actions": ["refund"], "when": [ { "attr": "amount", "le": 20000 } ] } ] });
        let verification = env.answer("alice", &new_key()).await;
        let (status, e) = env
            .call(
                "POST",
                &format!("/v1/requests/{id}/approve"),
                None,
                Some(json!({ "human": "alice", "verification": verification, "grant": wider })),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
        assert!(!e["detail"].as_str().unwrap().contains("10000"), "{e}");
        let (status, e) = decide(&env, "alice", &id, "approve", Some(wider)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        assert_eq!(
            e["detail"],
            "grant: allow[0].when[0]: `amount` le 20000 is looser than the request's le 10000"
        );
        let longer = json!({ "ttl": "20m", "allow": [ { "resources": ["orders/*"], "actions": ["refund"] } ] });
        let (status, e) = decide(&env, "alice", &id, "approve", Some(longer)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        assert_eq!(
            e["detail"],
            "grant: a lifetime of 20m is longer than the 10m the request asks"
        );
        assert_eq!(poll(&env, &agent, &id).await.0, StatusCode::ACCEPTED);
        // A denial takes no grant; then it is final.
        let (status, _) = decide(&env, "alice", &id, "deny", Some(refunds())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, d) = decide(&env, "alice", &id, "deny", None).await;
        assert_eq!(
            (status, d["status"].as_str()),
            (StatusCode::OK, Some("denied"))
        );
        let (status, e) = decide(&env, "alice", &id, "approve", None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{e}");
        let (status, _, e) = poll(&env, &agent, &id).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(e["detail"], "`alice` denied this request");
        let audit = env.audit().await;
        assert!(audit
            .iter()
            .any(|e| e.kind == "request_denied" && e.detail.contains(&id)));
        assert!(!audit.iter().any(|e| e.kind == "mint"));
        // Whom a request asks is what its approve page shows anyone.
        let (status, who) = env
            .call("GET", &format!("/v1/requests/{id}/human"), None, None)
            .await;
        assert_eq!(
            (status, who["human"].as_str()),
            (StatusCode::OK, Some("alice"))
        );
        let (status, _) = env
            .call(
                "GET",
                "/v1/requests/00000000000000000000000000000000/human",
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Unknown and malformed ids.
        let (status, _) = decide(
            &env,
            "alice",
            "00000000000000000000000000000000",
            "deny",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = decide(&env, "alice", "nope", "deny", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

both!(
    requests_end_pending_after_their_ttl_and_approvals_when_not_collected,
    |env: Env| async move {
        let agent = agent(&env).await;
        let late = ask(&env, &agent, refunds()).await;
        let uncollected = ask(&env, &agent, refunds()).await;
        assert_eq!(
            decide(&env, "alice", &uncollected, "approve", None).await.0,
            StatusCode::OK
        );
        env.advance(10 * 60 + 1);
        let (status, _, e) = poll(&env, &agent, &late).await;
        assert_eq!(status, StatusCode::GONE, "{e}");
        let (status, e) = decide(&env, "alice", &late, "approve", None).await;
        assert_eq!(status, StatusCode::GONE, "{e}");
        let (status, _, e) = poll(&env, &agent, &uncollected).await;
        assert_eq!(status, StatusCode::GONE, "{e}");
        assert!(
            e["detail"].as_str().unwrap().contains("not collected"),
            "{e}"
        );
    }
);

both!(
    a_disabled_agent_neither_asks_nor_collects,
    |env: Env| async move {
        let agent = agent(&env).await;
        let id = ask(&env, &agent, refunds()).await;
        assert_eq!(
            decide(&env, "alice", &id, "approve", None).await.0,
            StatusCode::OK
        );
        let admin = env.admin_token().await;
        let path = format!("/v1/agents/{}/disable", agent.public().jwk_thumbprint());
        assert_eq!(
            env.call("POST", &path, Some(&admin), None).await.0,
            StatusCode::OK
        );
        let (status, _, e) = poll(&env, &agent, &id).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
        let p = proof(&env, &agent, "POST", "/v1/requests");
        let body = json!({ "human": "alice", "reason": "r", "grant": refunds() });
        let (status, _, _) = send(&env, "POST", "/v1/requests", Some(&p), Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
);

both!(
    an_agent_polls_at_most_sixty_times_a_minute,
    |env: Env| async move {
        let agent = agent(&env).await;
        let id = ask(&env, &agent, refunds()).await;
        for _ in 0..60 {
            assert_eq!(poll(&env, &agent, &id).await.0, StatusCode::ACCEPTED);
        }
        let (status, headers, e) = poll(&env, &agent, &id).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{e}");
        assert!(headers.contains_key(header::RETRY_AFTER));
        // The next minute, it may poll again.
        env.advance(60);
        assert_eq!(poll(&env, &agent, &id).await.0, StatusCode::ACCEPTED);
    }
);
