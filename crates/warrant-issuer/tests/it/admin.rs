//! The issuer's admin authority: admin credentials are not mintable, bind on revocation at
//! once on every replica, expire, rotate, and cannot be made expensive to check.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;
use warrant_core::grant::Grant;
use warrant_core::keys::SigningKey;
use warrant_core::token::{attenuate, decode_unverified, encode};
use warrant_test::new_key;

use crate::both;
use crate::env::Env;

/// Every admin endpoint, as (method, path, body).
fn admin_endpoints() -> Vec<(&'static str, &'static str, Option<serde_json::Value>)> {
    vec![
        ("GET", "/v1/audit", None),
        ("GET", "/v1/agents", None),
        ("GET", "/v1/admin/credentials", None),
        ("POST", "/v1/keys/rotate", None),
        ("POST", "/v1/admin/rotate", None),
        (
            "POST",
            "/v1/roles",
            Some(
                json!({ "name": "x", "max_ttl": "5m", "ceiling": { "audience": ["a"], "allow": [{ "resources": ["r"], "actions": ["read"] }] } }),
            ),
        ),
        ("POST", "/v1/humans", Some(json!({ "id": "mallory" }))),
        (
            "POST",
            "/v1/revocations",
            Some(json!({ "kind": "token_id", "value": "00000000000000000000000000000000" })),
        ),
        ("POST", "/v1/agents/x/disable", None),
    ]
}

/// Creates role `everything` (ceiling `**`, every action, no audience) and human `carol`
/// holding it, enrolled with `key`.
async fn carol_with_everything(env: &Env, key: &SigningKey) {
    let admin = env.admin_token().await;
    let role = json!({ "name": "everything", "max_ttl": "10m",
                       "ceiling": { "allow": [{ "resources": ["**"], "actions": ["*"] }] } });
    let (status, body) = env
        .call("POST", "/v1/roles", Some(&admin), Some(role))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a `**` ceiling is fine for ordinary APIs: {body}"
    );
    let human = json!({ "id": "carol", "roles": ["everything"], "device_keys": [key.public().to_string()] });
    let (status, body) = env
        .call("POST", "/v1/humans", Some(&admin), Some(human))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn mint_as(
    env: &Env,
    human: &str,
    key: &SigningKey,
    grant: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let v = env.answer(human, key).await;
    env.call(
        "POST",
        "/v1/tokens",
        None,
        Some(json!({ "human": human, "verification": v, "grant": grant })),
    )
    .await
}

both!(
    a_minted_token_is_never_an_admin_credential,
    |env: Env| async move {
        let carol = new_key();
        carol_with_everything(&env, &carol).await;
        let (status, minted) = mint_as(
            &env,
            "carol",
            &carol,
            json!({ "ttl": "5m", "allow": [{ "resources": ["**"], "actions": ["*"] }] }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{minted}");
        let token = minted["token"].as_str().unwrap();
        for (method, path, body) in admin_endpoints() {
            let (status, body) = env.call(method, path, Some(token), body).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with a human's `**` token: {body}"
            );
        }
        // Asking for the issuer's resources or audience outright is refused, explained.
        for grant in [
            json!({ "ttl": "5m", "allow": [{ "resources": ["admin/**"], "actions": ["*"] }] }),
            json!({ "ttl": "5m", "audience": ["warrant-issuer"], "allow": [{ "resources": ["x"], "actions": ["read"] }] }),
        ] {
            let (status, body) = mint_as(&env, "carol", &carol, grant).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            let detail = body["detail"].as_str().unwrap();
            assert!(
                detail.contains("admin") || detail.contains("reserved"),
                "{detail}"
            );
        }
    }
);

both!(roles_cannot_name_the_issuer, |env: Env| async move {
    let admin = env.admin_token().await;
    for (ceiling, why) in [
        (
            json!({ "allow": [{ "resources": ["admin/**"], "actions": ["*"] }] }),
            "`admin/**` names the issuer's `admin/…` resources",
        ),
        (
            json!({ "allow": [{ "resources": ["tickets/**"], "actions": ["read"] }, { "resources": ["admin/audit"], "actions": ["read"] }] }),
            "allow[1]: `admin/audit`",
        ),
        (
            json!({ "audience": ["warrant-issuer"], "allow": [{ "resources": ["**"], "actions": ["*"] }] }),
            "audience `warrant-issuer` is reserved",
        ),
    ] {
        let role = json!({ "name": "ops", "max_ttl": "5m", "ceiling": ceiling });
        let (status, body) = env
            .call("POST", "/v1/roles", Some(&admin), Some(role))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("ceiling: ") && detail.contains(why),
            "{detail}"
        );
    }
    // An API of its own may have an `admin/…` namespace: naming its audience is fine.
    let role = json!({ "name": "ops", "max_ttl": "5m",
                       "ceiling": { "audience": ["support-api"], "allow": [{ "resources": ["admin/**"], "actions": ["*"] }] } });
    let (status, body) = env
        .call("POST", "/v1/roles", Some(&admin), Some(role))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
});

/// The id half of a credential.
fn id_of(credential: &str) -> String {
    warrant_issuer::admin::parse(credential)
        .unwrap()
        .0
        .to_owned()
}

async fn call_state(
    state: &warrant_issuer::State,
    method: &str,
    path: &str,
    auth: &str,
) -> StatusCode {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {auth}"))
        .body(Body::empty())
        .unwrap();
    warrant_issuer::app(state.clone())
        .oneshot(req)
        .await
        .unwrap()
        .status()
}

both!(
    a_revoked_admin_credential_is_refused_at_once_on_every_replica,
    |env: Env| async move {
        let admin = env.admin_token().await;
        let other = env.admin_token().await;
        // A second replica on the same database, with its own clock.
        let mut replica = warrant_issuer::State::open(
            warrant_issuer::Config::defaults().unwrap(),
            &env.database,
            None,
        )
        .await
        .unwrap();
        replica.clock = env.state.clock.clone();
        assert_eq!(
            call_state(&replica, "GET", "/v1/agents", &other).await,
            StatusCode::OK
        );
        let (status, body) = env
            .call(
                "POST",
                "/v1/revocations",
                Some(&admin),
                Some(json!({ "kind": "admin_credential", "value": id_of(&other) })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["revoked"], true);
        // The very next request, here and at the other replica.
        assert_eq!(
            call_state(&replica, "GET", "/v1/agents", &other).await,
            StatusCode::UNAUTHORIZED
        );
        let (status, body) = env.call("GET", "/v1/audit", Some(&other), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["detail"].as_str().unwrap().contains("is revoked"),
            "{body}"
        );
        // Not in the public feed (verifiers would refuse an unknown kind).
        let (_, feed) = env.call("GET", "/v1/revocations", None, None).await;
        assert_eq!(feed["entries"].as_array().unwrap().len(), 0);
        // The other credential still works; an unknown id is a 404.
        assert_eq!(
            env.call("GET", "/v1/agents", Some(&admin), None).await.0,
            StatusCode::OK
        );
        let (status, _) = env
            .call(
                "POST",
                "/v1/revocations",
                Some(&admin),
                Some(json!({ "kind": "admin_credential", "value": "0".repeat(32) })),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // A wrong secret for a known id is refused.
        let forged = format!(
            "{}{}",
            &admin[..admin.len() - 1],
            if admin.ends_with('0') { '1' } else { '0' }
        );
        assert_eq!(
            env.call("GET", "/v1/agents", Some(&forged), None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
);

both!(admin_credentials_expire_and_rotate, |env: Env| async move {
    let admin = env.admin_token().await;
    let (status, rotated) = env
        .call("POST", "/v1/admin/rotate", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["revoked"], id_of(&admin));
    let new = rotated["token"].as_str().unwrap().to_owned();
    assert_eq!(rotated["id"], id_of(&new));
    assert_eq!(
        env.call("GET", "/v1/agents", Some(&admin), None).await.0,
        StatusCode::UNAUTHORIZED,
        "rotation revokes the presented credential"
    );
    let (status, list) = env
        .call("GET", "/v1/admin/credentials", Some(&new), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed = list["credentials"].as_array().unwrap();
    assert!(listed
        .iter()
        .any(|c| c["id"] == id_of(&admin) && c["revoked_at"].is_i64()));
    assert!(!list.to_string().contains("secret"), "{list}");
    // Rotating on behalf of another credential revokes that one instead.
    let spare = env.admin_token().await;
    let (status, body) = env
        .call(
            "POST",
            "/v1/admin/rotate",
            Some(&new),
            Some(json!({ "revoke": id_of(&spare) })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        env.call("GET", "/v1/agents", Some(&spare), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.call("GET", "/v1/agents", Some(&new), None).await.0,
        StatusCode::OK
    );
    // 30 days by default, then refused.
    env.advance(30 * 86_400 - 1);
    assert_eq!(
        env.call("GET", "/v1/agents", Some(&new), None).await.0,
        StatusCode::OK
    );
    env.advance(1);
    let (status, body) = env.call("GET", "/v1/agents", Some(&new), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["detail"].as_str().unwrap().contains("has expired"),
        "{body}"
    );
    let kinds: Vec<String> = env.audit().await.into_iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&"admin_credential_revocation".to_owned()),
        "{kinds:?}"
    );
});

/// A bearer token the issuer signed, with an appended block expensive to evaluate (or to
/// estimate), different for each `n` so that no cache answers for it.
fn heavy(token: &str, env: &Env, n: usize) -> String {
    let items: Vec<String> = (0..400 + n).map(|i| i.to_string()).collect();
    let a = format!("[{}]", items.join(", "));
    let grant = Grant::from_json(&json!({
        "datalog": format!("check if {a}.any($x -> {a}.any($y -> $x + $y == -1));")
    }))
    .unwrap();
    let t = decode_unverified(token).unwrap();
    encode(&attenuate(&t, grant, env.at(), &mut rand_core::OsRng).unwrap())
}

/// Several requests to an admin endpoint with an expensive token, at once, on a runtime of
/// two worker threads (a small server): `/healthz` still answers within a second.
async fn heavy_blocks_do_not_stall(env: Env) {
    {
        let carol = new_key();
        carol_with_everything(&env, &carol).await;
        let (status, minted) = mint_as(
            &env,
            "carol",
            &carol,
            json!({ "ttl": "5m", "allow": [{ "resources": ["**"], "actions": ["*"] }] }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{minted}");
        let tokens: Vec<String> = (0..40)
            .map(|n| heavy(minted["token"].as_str().unwrap(), &env, n))
            .collect();
        let env = std::sync::Arc::new(env);
        let mut attacks = Vec::new();
        let started = std::time::Instant::now();
        for token in tokens {
            let env = std::sync::Arc::clone(&env);
            attacks.push(tokio::spawn(async move {
                env.call_raw("GET", "/v1/audit", Some(&token), None).await.0
            }));
        }
        // Let the attacks start.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let health = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            env.call_raw("GET", "/healthz", None, None),
        )
        .await;
        assert!(
            matches!(health, Ok((StatusCode::OK, _)))
                && started.elapsed() < std::time::Duration::from_secs(1),
            "/healthz did not answer within a second under heavy admin requests ({:?})",
            started.elapsed()
        );
        for a in attacks {
            assert_eq!(a.await.unwrap(), StatusCode::UNAUTHORIZED);
        }
    }
}

mod a_heavy_block_on_an_admin_endpoint_does_not_stall_the_issuer {
    use crate::env::{Db, Env};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(env) = Env::new(Db::Sqlite).await {
            super::heavy_blocks_do_not_stall(env).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        warrant_pg_tests_ignored,
        ignore = "needs WARRANT_TEST_DATABASE_URL (a PostgreSQL server)"
    )]
    async fn postgres() {
        if let Some(env) = Env::new(Db::Postgres).await {
            super::heavy_blocks_do_not_stall(env).await;
        }
    }
}

/// The ids of the live (unrevoked, unexpired) admin credentials, as listed.
async fn live_credentials(env: &Env, admin: &str) -> Vec<String> {
    let (status, list) = env
        .call("GET", "/v1/admin/credentials", Some(admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let now = env.at().unix_i64();
    list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["revoked_at"].is_null() && c["expires_at"].as_i64().unwrap() > now)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

both!(
    one_credential_rotates_into_exactly_one,
    |env: Env| async move {
        let witness = env.admin_token().await;
        for _ in 0..5 {
            // Two rotations of one credential at once: one wins, the other issues nothing.
            let admin = env.admin_token().await;
            let before = live_credentials(&env, &witness).await.len();
            let rotate = || env.call("POST", "/v1/admin/rotate", Some(&admin), None);
            let ((a, a_body), (b, b_body)) = tokio::join!(rotate(), rotate());
            let mut statuses = [a, b];
            statuses.sort();
            assert_eq!(
                statuses,
                [StatusCode::OK, StatusCode::UNAUTHORIZED],
                "{a_body} {b_body}"
            );
            let refused = if a == StatusCode::OK {
                &b_body
            } else {
                &a_body
            };
            assert!(
                refused["detail"].as_str().unwrap().contains("revoked"),
                "{refused}"
            );
            assert_eq!(live_credentials(&env, &witness).await.len(), before);

            // Two rotations on behalf of one other credential at once: likewise.
            let (x, y) = (env.admin_token().await, env.admin_token().await);
            let target = env.admin_token().await;
            let before = live_credentials(&env, &witness).await.len();
            let body = json!({ "revoke": id_of(&target) });
            let ((a, a_body), (b, b_body)) = tokio::join!(
                env.call("POST", "/v1/admin/rotate", Some(&x), Some(body.clone())),
                env.call("POST", "/v1/admin/rotate", Some(&y), Some(body.clone())),
            );
            let mut statuses = [a, b];
            statuses.sort();
            assert_eq!(
                statuses,
                [StatusCode::OK, StatusCode::BAD_REQUEST],
                "{a_body} {b_body}"
            );
            assert_eq!(live_credentials(&env, &witness).await.len(), before);
        }
    }
);

both!(
    rotating_a_credential_that_is_not_live_is_refused,
    |env: Env| async move {
        let old = env.admin_token().await;
        env.advance(29 * 86_400);
        let admin = env.admin_token().await;
        let revoked = env.admin_token().await;
        let (status, body) = env
            .call(
                "POST",
                "/v1/revocations",
                Some(&admin),
                Some(json!({ "kind": "admin_credential", "value": id_of(&revoked) })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        env.advance(86_400); // `old` has expired
        let audit = env.audit().await.len();
        let live = live_credentials(&env, &admin).await;
        for (target, why) in [(&revoked, "is already revoked"), (&old, "has expired")] {
            let (status, body) = env
                .call(
                    "POST",
                    "/v1/admin/rotate",
                    Some(&admin),
                    Some(json!({ "revoke": id_of(target) })),
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            let detail = body["detail"].as_str().unwrap();
            assert!(
                detail.contains(why) && detail.contains("nothing was issued"),
                "{detail}"
            );
        }
        // Nothing issued, nothing revoked, no revocation audited; the presenter is live.
        assert_eq!(live_credentials(&env, &admin).await, live);
        let kinds: Vec<String> = env.audit().await.into_iter().map(|e| e.kind).collect();
        assert!(
            kinds[audit..]
                .iter()
                .all(|k| k != "admin_credential_revocation"),
            "{kinds:?}"
        );
    }
);

both!(
    the_reserved_audience_is_refused_in_any_spelling,
    |env: Env| async move {
        let admin = env.admin_token().await;
        for (audience, why) in [
            ("Warrant-Issuer", "audience `Warrant-Issuer` is reserved"),
            ("WARRANT-ISSUER", "audience `WARRANT-ISSUER` is reserved"),
            (" warrant-issuer", "is not an audience"),
            ("warrant-issuer ", "is not an audience"),
        ] {
            let role = json!({ "name": "ops", "max_ttl": "5m", "ceiling": {
                "audience": [audience], "allow": [{ "resources": ["admin/**"], "actions": ["*"] }] } });
            let (status, body) = env
                .call("POST", "/v1/roles", Some(&admin), Some(role))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "`{audience}`: {body}");
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.contains(why), "`{audience}`: {detail}");
        }
    }
);
