//! The tower layer, through the example API (`examples/axum_api.rs`), without sockets.

#[allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
#[path = "../../../../examples/axum_api.rs"]
mod example;

use axum::body::Body;
use axum::http::{header, Request as HttpRequest, StatusCode};
use tower::ServiceExt;
use warrant_core::grant::Grant;
use warrant_core::keys::{KeyId, KeySet, SigningKey};
use warrant_core::time::Timestamp;
use warrant_core::token::{mint, MintRequest};
use warrant_verifier::Verifier;

struct Api {
    key: SigningKey,
    app: axum::Router,
}

fn api() -> Api {
    let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
    // These tests are about the layer's answers: bearer tokens keep them short. The DPoP
    // tests below use a verifier that refuses bearer tokens, the default.
    let verifier = Verifier::new(KeySet::single(KeyId(1), key.public()))
        .with_audience("support-api")
        .allow_bearer(true);
    Api {
        app: example::app(verifier),
        key,
    }
}

impl Api {
    fn token(&self, grant: &str, now: Timestamp) -> String {
        let g = Grant::from_json_str(grant).unwrap();
        let mut req = MintRequest::offline(g);
        req.human = Some("alice".into());
        mint(&self.key, req, now, &mut rand_core::OsRng)
            .unwrap()
            .token
            .to_base64()
            .unwrap()
    }

    fn support_token(&self) -> String {
        self.token(
            r#"{"audience": ["support-api"], "ttl": "10m",
                "allow": [{"resources": ["tickets/*/email_address"], "actions": ["read"],
                           "when": [{"attr": "ticket.status", "eq": "open"}]},
                          {"resources": ["orders/*"], "actions": ["refund"],
                           "when": [{"attr": "amount", "lt": 5000}, {"attr": "reason", "present": true}]}]}"#,
            now(),
        )
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        auth: Option<String>,
    ) -> (StatusCode, String, serde_json::Value) {
        let mut req = HttpRequest::builder().method(method).uri(uri);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let res = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let challenge = res
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        if status.is_client_error() {
            assert_eq!(content_type, "application/problem+json", "{body}");
            assert_eq!(body["status"], status.as_u16());
            assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
        (status, challenge, body)
    }
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

fn bearer(t: &str) -> Option<String> {
    Some(format!("Bearer {t}"))
}

#[tokio::test]
async fn an_allowed_request_reaches_the_handler_with_the_claims() {
    let api = api();
    let (status, challenge, body) = api
        .send("GET", "/tickets/123/email", bearer(&api.support_token()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(challenge.is_empty());
    assert_eq!(body["email_address"], "customer@example.com");
    assert_eq!(body["on_behalf_of"], "alice");
    let (status, _, body) = api
        .send(
            "POST",
            "/orders/7/refund?amount=4999&reason=duplicate",
            bearer(&api.support_token()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["refunded"], true);
}

#[tokio::test]
async fn no_token_is_a_bare_401_challenge() {
    let api = api();
    let (status, challenge, body) = api.send("GET", "/tickets/123/email", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.starts_with("DPoP realm=\"warrant\", algs=\"EdDSA\", Bearer realm=\"warrant\""),
        "both schemes are offered: {challenge}"
    );
    assert!(!challenge.contains("error="), "{challenge}");
    assert!(challenge.contains(
        "resource_metadata=\"http://127.0.0.1:3000/.well-known/oauth-protected-resource\""
    ));
    assert_eq!(body["kind"], "malformed");
}

#[tokio::test]
async fn an_unusable_token_is_401_invalid_token() {
    let api = api();
    let (status, challenge, body) = api
        .send("GET", "/tickets/123/email", bearer("not-a-token"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains("error_description=\""), "{challenge}");
    assert_eq!(body["kind"], "malformed");

    let expired = api.token(
        r#"{"audience": ["support-api"], "ttl": "1m", "allow": [{"resources": ["**"], "actions": ["*"]}]}"#,
        Timestamp::from_unix(now().unix() - 3600),
    );
    let (status, challenge, body) = api
        .send("GET", "/tickets/123/email", bearer(&expired))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("error=\"invalid_token\""));
    assert_eq!(body["kind"], "expired");
    assert!(body["detail"].as_str().unwrap().contains("expired at"));

    let other_api = api.token(
        r#"{"audience": ["billing-api"], "allow": [{"resources": ["**"], "actions": ["*"]}]}"#,
        now(),
    );
    let (status, _, body) = api
        .send("GET", "/tickets/123/email", bearer(&other_api))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["kind"], "audience");
}

#[tokio::test]
async fn another_scheme_is_401_invalid_request() {
    let api = api();
    let (status, challenge, _) = api
        .send(
            "GET",
            "/tickets/123/email",
            Some("Basic dXNlcjpwYXNz".into()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.contains("error=\"invalid_request\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn a_valid_token_that_does_not_permit_is_403_with_the_explanation() {
    let api = api();
    let token = api.support_token();
    let (status, challenge, body) = api.send("GET", "/tickets/124/email", bearer(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_eq!(body["kind"], "rule_not_matched");
    assert_eq!(body["attribute"], "ticket.status");
    assert_eq!(body["block"], 0);
    assert!(body["check"].as_str().unwrap().starts_with("check if"));
    assert!(
        body["detail"].as_str().unwrap().contains("\"closed\""),
        "{body}"
    );

    let (status, _, body) = api
        .send("POST", "/orders/7/refund?amount=4999", bearer(&token))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["kind"], "missing_attribute");
    assert_eq!(body["attribute"], "reason");

    let (status, _, body) = api
        .send(
            "POST",
            "/orders/7/refund?amount=9000&reason=x",
            bearer(&token),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["attribute"], "amount");
}

#[tokio::test]
async fn unmapped_routes_are_refused_by_default() {
    let api = api();
    let (status, _, body) = api
        .send("DELETE", "/tickets/123/email", bearer(&api.support_token()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["detail"].as_str().unwrap().contains("not mapped"),
        "{body}"
    );
}

#[tokio::test]
async fn protected_resource_metadata_needs_no_token() {
    let api = api();
    let (status, _, body) = api
        .send("GET", "/.well-known/oauth-protected-resource", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["resource"], "http://127.0.0.1:3000");
    assert_eq!(body["authorization_servers"][0], "offline");
    assert_eq!(body["bearer_methods_supported"][0], "header");
}

mod dpop {
    use super::*;
    use warrant_core::dpop::create_proof;

    struct Bound {
        key: SigningKey,
        agent: SigningKey,
        app: axum::Router,
    }

    fn bound() -> Bound {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let agent = SigningKey::generate(&mut rand_core::OsRng, None);
        let verifier =
            Verifier::new(KeySet::single(KeyId(1), key.public())).with_audience("support-api");
        Bound {
            app: example::app(verifier),
            key,
            agent,
        }
    }

    impl Bound {
        fn token(&self, holder: Option<&SigningKey>) -> String {
            let g = Grant::from_json_str(
                r#"{"audience": ["support-api"], "allow": [{"resources": ["tickets/*/email_address"], "actions": ["read"],
                    "when": [{"attr": "ticket.status", "eq": "open"}]}]}"#,
            )
            .unwrap();
            let mut req = MintRequest::offline(g);
            req.holder = holder.map(SigningKey::public);
            mint(&self.key, req, now(), &mut rand_core::OsRng)
                .unwrap()
                .token
                .to_base64()
                .unwrap()
        }

        fn proof(&self, by: &SigningKey, method: &str, url: &str, token: &str) -> String {
            create_proof(by, method, url, token, now(), &mut rand_core::OsRng).unwrap()
        }

        async fn send(
            &self,
            path: &str,
            auth: Option<String>,
            proof: Option<&str>,
        ) -> (StatusCode, String, serde_json::Value) {
            let mut req = HttpRequest::builder()
                .method("GET")
                .uri(path)
                .header(header::HOST, "api.test");
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            if let Some(p) = proof {
                req = req.header("dpop", p);
            }
            let res = self
                .app
                .clone()
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = res.status();
            let challenge = res
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
                .await
                .unwrap();
            (
                status,
                challenge,
                serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            )
        }
    }

    const URL: &str = "http://api.test/tickets/123/email";

    #[tokio::test]
    async fn a_bound_token_with_its_holders_proof_is_allowed_once() {
        let b = bound();
        let token = b.token(Some(&b.agent));
        let proof = b.proof(&b.agent, "GET", URL, &token);
        let auth = Some(format!("DPoP {token}"));
        let (status, _, body) = b
            .send("/tickets/123/email", auth.clone(), Some(&proof))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The same proof again is a replay.
        let (status, challenge, body) = b.send("/tickets/123/email", auth, Some(&proof)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(challenge.starts_with("DPoP "), "{challenge}");
        assert!(
            challenge.contains("error=\"invalid_dpop_proof\""),
            "{challenge}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains("already used"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn proofs_that_do_not_fit_are_refused() {
        let b = bound();
        let token = b.token(Some(&b.agent));
        let auth = || Some(format!("DPoP {token}"));
        let thief = SigningKey::generate(&mut rand_core::OsRng, None);
        for (proof, why) in [
            (None, "needs a DPoP proof"),
            (Some(b.proof(&thief, "GET", URL, &token)), "holder"),
            (Some(b.proof(&b.agent, "POST", URL, &token)), "method"),
            (
                Some(b.proof(&b.agent, "GET", "http://api.test/tickets/124/email", &token)),
                "tickets/124",
            ),
            (Some(b.proof(&b.agent, "GET", URL, "another-token")), "ath"),
        ] {
            let (status, challenge, body) =
                b.send("/tickets/123/email", auth(), proof.as_deref()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
            assert!(
                challenge.contains("invalid_dpop_proof"),
                "{why}: {challenge}"
            );
            assert_eq!(body["kind"], "invalid_proof");
            assert!(
                body["detail"].as_str().unwrap().contains(why),
                "{why}: {body}"
            );
        }
        // A bound token sent as a bearer token is refused the same way.
        let (status, challenge, _) = b
            .send("/tickets/123/email", Some(format!("Bearer {token}")), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
    }

    #[tokio::test]
    async fn bearer_tokens_are_refused_by_default() {
        let b = bound();
        let token = b.token(None);
        let (status, challenge, body) = b
            .send("/tickets/123/email", Some(format!("Bearer {token}")), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(challenge.contains("invalid_token"));
        assert_eq!(body["kind"], "bearer_refused");
    }
}
