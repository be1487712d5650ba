//! OIDC verification: the ID token must carry the issuer's one-time challenge, is single
//! use, must be fresh, and the token minted from it says when the human authenticated.

use axum::http::StatusCode;
use serde_json::{json, Value as J};
use warrant_core::time::Timestamp;
use warrant_verifier::{Request, Verifier};

use crate::api::{key_set, read_grant, Idp};
use crate::env::{Db, Env};

/// Runs a test body with an issuer trusting a loopback identity provider, on SQLite and on
/// PostgreSQL, as two tests.
macro_rules! with_idp {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                if let Some((env, idp)) = setup(Db::Sqlite).await {
                    ($body)(env, idp).await;
                }
            }

            #[tokio::test]
            #[cfg_attr(
                warrant_pg_tests_ignored,
                ignore = "needs WARRANT_TEST_DATABASE_URL (a PostgreSQL server)"
            )]
            async fn postgres() {
                if let Some((env, idp)) = setup(Db::Postgres).await {
                    ($body)(env, idp).await;
                }
            }
        }
    };
}

async fn setup(db: Db) -> Option<(Env, Idp)> {
    let idp = Idp::start().await;
    let config = format!(
        "{}\n[[oidc]]\nname = \"corp\"\nissuer = \"{}\"\naudience = \"warrant\"\njwks_url = \"{}/jwks\"\n",
        crate::env::CONFIG,
        idp.url,
        idp.url
    );
    let env = Env::with_config(db, &config, None).await?;
    Some((env, idp))
}

/// A fresh challenge nonce for `human`.
async fn nonce(env: &Env, human: &str) -> String {
    let (status, c) = env
        .call(
            "POST",
            "/v1/challenges",
            None,
            Some(json!({ "human": human })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c["nonce"].as_str().unwrap().to_owned()
}

/// Claims for alice, issued `age` seconds ago, carrying `nonce` (if any).
fn claims(env: &Env, idp: &Idp, age: u64, nonce: Option<&str>) -> J {
    let now = env.at().unix();
    let mut c = json!({ "iss": idp.url, "sub": "alice", "aud": "warrant", "iat": now - age, "exp": now + 600 });
    if let Some(n) = nonce {
        c["nonce"] = n.into();
    }
    c
}

fn mint_body(verification: J) -> J {
    json!({ "human": "alice", "verification": verification, "grant": read_grant() })
}

async fn mint(env: &Env, verification: J) -> (StatusCode, J) {
    env.call("POST", "/v1/tokens", None, Some(mint_body(verification)))
        .await
}

with_idp!(
    an_id_token_without_the_issuers_nonce_is_refused,
    |env: Env, idp: Idp| async move {
        // No nonce anywhere: an ID token obtained elsewhere (or stolen) is no proof.
        let token = idp.id_token(claims(&env, &idp, 5, None));
        let (status, body) = mint(
            &env,
            json!({ "method": "oidc", "provider": "corp", "id_token": token }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["detail"].as_str().unwrap().contains("nonce"), "{body}");
        // A fresh challenge in the request, but not in the ID token.
        let n = nonce(&env, "alice").await;
        let (status, body) = mint(
            &env,
            json!({ "method": "oidc", "provider": "corp", "id_token": token, "nonce": n }),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("does not carry the expected nonce"),
            "{body}"
        );
        // A nonce the issuer never handed out, or handed out for another human.
        for n in ["made-up".to_owned(), nonce(&env, "bob").await] {
            let token = idp.id_token(claims(&env, &idp, 5, Some(&n)));
            let (status, body) = mint(
                &env,
                json!({ "method": "oidc", "provider": "corp", "id_token": token, "nonce": n }),
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("the nonce is unknown, expired or already used"),
                "{body}"
            );
        }
    }
);

with_idp!(an_id_token_is_single_use, |env: Env, idp: Idp| async move {
    let n = nonce(&env, "alice").await;
    let token = idp.id_token(claims(&env, &idp, 5, Some(&n)));
    let v = json!({ "method": "oidc", "provider": "corp", "id_token": token, "nonce": n });
    let (status, body) = mint(&env, v.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Replayed as it was, or without the (consumed) nonce.
    let (status, body) = mint(&env, v).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = mint(
        &env,
        json!({ "method": "oidc", "provider": "corp", "id_token": token }),
    )
    .await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST,
        "{status} {body}"
    );
    // The ID token itself is remembered until it expires (whatever nonce it carries).
    let store = &env.state.store;
    let exp = i64::try_from(env.at().unix()).unwrap() + 600;
    assert!(store.use_id_token("digest-1", exp).await.unwrap());
    assert!(!store.use_id_token("digest-1", exp).await.unwrap());
});

with_idp!(
    an_old_id_token_is_refused,
    |env: Env, idp: Idp| async move {
        // Issued 50 minutes ago and still unexpired: not a verification "now".
        let n = nonce(&env, "alice").await;
        let token = idp.id_token(claims(&env, &idp, 3000, Some(&n)));
        let (status, body) = mint(
            &env,
            json!({ "method": "oidc", "provider": "corp", "id_token": token, "nonce": n }),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("more than 5m ago: sign in again"),
            "{body}"
        );
        // Within oidc_max_age it verifies.
        let n = nonce(&env, "alice").await;
        let token = idp.id_token(claims(&env, &idp, 240, Some(&n)));
        let (status, body) = mint(
            &env,
            json!({ "method": "oidc", "provider": "corp", "id_token": token, "nonce": n }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
);

with_idp!(
    the_minted_tokens_verification_time_is_the_id_tokens_auth_time,
    |env: Env, idp: Idp| async move {
        let now = env.at().unix();
        let verifier = Verifier::builder(key_set(&env).await)
            .audience("support-api")
            .dangerous_accept_bearer()
            .build();
        let req = Request::new("tickets/123/email_address", "read", env.at());
        // The human signed in at the provider 4 minutes before the token was issued:
        // `auth_time`; without it, `iat`.
        for (auth_time, age, expected) in [(Some(now - 240), 20, now - 240), (None, 90, now - 90)] {
            let n = nonce(&env, "alice").await;
            let mut c = claims(&env, &idp, age, Some(&n));
            if let Some(t) = auth_time {
                c["auth_time"] = t.into();
            }
            let token = idp.id_token(c);
            let (status, body) = mint(
                &env,
                json!({ "method": "oidc", "provider": "corp", "id_token": token, "nonce": n }),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let claims = verifier
                .verify(body["token"].as_str().unwrap(), &req)
                .claims()
                .cloned()
                .unwrap();
            let expected = Timestamp::from_unix(expected).to_string();
            assert_eq!(claims.verified_at.as_deref(), Some(expected.as_str()));
            // The audit log's mint entry says so too.
            let audit = env.audit().await;
            let entry = audit
                .iter()
                .rev()
                .find(|e| e.kind == "mint")
                .expect("a mint entry");
            let detail: J = serde_json::from_str(&entry.detail).unwrap();
            assert_eq!(detail["verification"]["at"], expected.as_str());
        }
    }
);
