//! The tower layer, through the example API (`examples/axum_api.rs`), without sockets.

#[expect(dead_code, reason = "the example's `main` is not run here")]
#[path = "../../../../examples/axum_api.rs"]
mod example;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, Request as HttpRequest, StatusCode};
use tower::ServiceExt;
use warrant_core::grant::Grant;
use warrant_core::keys::{KeyId, KeySet, SigningKey};
use warrant_core::time::Timestamp;
use warrant_core::token::{mint, MintRequest};
use warrant_verifier::http::{
    resource_from_path, LayerError, ProtectedResourceMetadata, WarrantLayer,
};
use warrant_verifier::{Request, Verifier};

struct Api {
    key: SigningKey,
    app: axum::Router,
}

fn api() -> Api {
    let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
    // These tests are about the layer's answers: bearer tokens keep them short. The DPoP
    // tests below use a verifier that refuses bearer tokens, the default.
    let verifier = Verifier::builder(KeySet::single(KeyId(1), key.public()))
        .audience("support-api")
        .dangerous_accept_bearer()
        .build();
    Api {
        app: example::app(verifier).unwrap(),
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
    // Both schemes are offered, `Bearer` first (MCP clients read the first challenge),
    // each naming the scopes the route needs and the metadata.
    let metadata =
        "resource_metadata=\"http://127.0.0.1:3000/.well-known/oauth-protected-resource\"";
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"warrant\", scope=\"tickets:read\", {metadata}, \
             DPoP realm=\"warrant\", algs=\"EdDSA ES256\", scope=\"tickets:read\", {metadata}"
        ),
    );
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
async fn paths_map_to_resources_decoded_once_and_canonical() {
    let api = api();
    let any_ticket = api.token(
        r#"{"audience": ["support-api"], "allow": [{"resources": ["tickets/*/email_address"], "actions": ["read"]}]}"#,
        now(),
    );
    // `..`, `.` and their encodings are refused with 403, naming the path: never walked
    // into another resource, never mapped to a name the token's patterns could match.
    for path in [
        "/tickets/../email",
        "/tickets/%2e%2e/email",
        "/tickets/%2E%2e/email",
        "/tickets/./email",
        "/tickets/%2e/email",
    ] {
        let (status, challenge, body) = api.send("GET", path, bearer(&any_ticket)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(challenge.contains("insufficient_scope"), "{challenge}");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("`GET {path}` names no resource"))
                && detail.contains("`.` or `..` segment"),
            "{path}: {detail}"
        );
    }
    // Decoded exactly once, as the handler's `Path` decodes it: the token is checked
    // against the ticket the handler serves.
    for (path, ticket) in [
        ("/tickets/12%33/email", "123"),
        ("/tickets/%252e/email", "%2e"),
    ] {
        let (status, _, body) = api.send("GET", path, bearer(&any_ticket)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["ticket"], ticket, "{path}");
    }
    // `12%33` is ticket 123, open: its status reaches the token.
    let (status, _, body) = api
        .send("GET", "/tickets/12%33/email", bearer(&api.support_token()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_layer_refuses_non_canonical_resources_from_any_mapper() {
    let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
    let verifier = Verifier::builder(KeySet::single(KeyId(1), key.public()))
        .audience("files")
        .dangerous_accept_bearer()
        .build();
    // A careless mapper: the raw path as the resource.
    let layer = WarrantLayer::new(
        verifier,
        |parts: &Parts| {
            Some(Request::now(
                parts.uri.path().trim_start_matches('/').to_owned(),
                "read",
            ))
        },
        "https://files.example",
    )
    .unwrap();
    let app = axum::Router::new()
        .route("/{*rest}", axum::routing::get(|| async { "ok" }))
        .layer(layer);
    let g = Grant::from_json_str(
        r#"{"audience": ["files"], "allow": [{"resources": ["public/**"], "actions": ["read"]}]}"#,
    )
    .unwrap();
    let token = mint(&key, MintRequest::offline(g), now(), &mut rand_core::OsRng)
        .unwrap()
        .token
        .to_base64()
        .unwrap();
    let api = Api { key, app };
    let (status, _, body) = api.send("GET", "/public/a", bearer(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (path, resource) in [
        ("/public/../secret", "public/../secret"),
        ("/public/./a", "public/./a"),
        ("/public//a", "public//a"),
        ("/public/a/", "public/a/"),
    ] {
        let (status, _, body) = api.send("GET", path, bearer(&token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("not canonical") && detail.contains(&format!("`{resource}`")),
            "{path}: {detail}"
        );
    }
}

#[tokio::test]
async fn a_query_parameter_given_twice_is_refused() {
    let api = api();
    let token = api.support_token();
    let (status, _, body) = api
        .send(
            "POST",
            "/orders/7/refund?amount=4999&reason=duplicate%20charge",
            bearer(&token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The token checked one `amount`; a handler reading the other would refund 900000.
    for query in [
        "amount=900000&amount=1&reason=x",
        "amount=1&reason=x&amount=900000",
        "amount=1&reason=x&reason=y",
    ] {
        let (status, _, body) = api
            .send("POST", &format!("/orders/7/refund?{query}"), bearer(&token))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{query}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("not mapped"),
            "{body}"
        );
    }
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
    assert_eq!(
        body["dpop_signing_alg_values_supported"],
        serde_json::json!(["EdDSA", "ES256"])
    );
    // This API's verifier accepts bearer tokens: the metadata says so.
    assert_eq!(body["dpop_bound_access_tokens_required"], false);
    assert_eq!(
        body["scopes_supported"],
        serde_json::json!(["tickets:read", "orders:refund"])
    );
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
        let verifier = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .audience("support-api")
            .build();
        Bound {
            app: example::app(verifier).unwrap(),
            key,
            agent,
        }
    }

    impl Bound {
        fn token_for(&self, holder: Option<&SigningKey>, resources: &str) -> String {
            let g = Grant::from_json_str(&format!(
                r#"{{"audience": ["support-api"], "allow": [{{"resources": ["{resources}"], "actions": ["read"]}}]}}"#
            ))
            .unwrap();
            let mut req = MintRequest::offline(g);
            req.holder = holder.map(|k| k.public().into());
            mint(&self.key, req, now(), &mut rand_core::OsRng)
                .unwrap()
                .token
                .to_base64()
                .unwrap()
        }

        fn token(&self, holder: Option<&SigningKey>) -> String {
            let g = Grant::from_json_str(
                r#"{"audience": ["support-api"], "allow": [{"resources": ["tickets/*/email_address"], "actions": ["read"],
                    "when": [{"attr": "ticket.status", "eq": "open"}]}]}"#,
            )
            .unwrap();
            let mut req = MintRequest::offline(g);
            req.holder = holder.map(|k| k.public().into());
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
                .header(header::HOST, "127.0.0.1:3000");
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

    const URL: &str = "http://127.0.0.1:3000/tickets/123/email";

    /// Sends `GET uri` with extra headers, a DPoP token and proof, to `app`.
    async fn send_raw(
        app: &axum::Router,
        uri: &str,
        headers: &[(&str, &str)],
        token: &str,
        proof: &str,
    ) -> (StatusCode, String, serde_json::Value) {
        let mut req = HttpRequest::builder()
            .method("GET")
            .uri(uri)
            .header(header::AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", proof);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let res = app
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

    #[tokio::test]
    async fn a_proof_for_another_host_replayed_with_that_host_is_refused() {
        let b = bound();
        let token = b.token(Some(&b.agent));
        let other = "https://other.example/tickets/123/email";
        // The agent made this proof for another API; that API replays it here, with its
        // own `Host`, then as an absolute-form request naming itself.
        for (uri, host) in [
            ("/tickets/123/email", "other.example"),
            (other, "other.example"),
            ("http://other.example/tickets/123/email", "127.0.0.1:3000"),
        ] {
            let proof = b.proof(&b.agent, "GET", other, &token);
            let (status, challenge, body) =
                send_raw(&b.app, uri, &[("host", host)], &token, &proof).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} {host}: {body}");
            assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
            let detail = body["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("is for `{other}`"))
                    && detail
                        .contains("the request is for `http://127.0.0.1:3000/tickets/123/email`"),
                "{detail}"
            );
        }
    }

    /// A token bound to a P-256 agent passes the layer with its `ES256` proof, and only
    /// with it.
    #[tokio::test]
    async fn a_p256_holders_es256_proof_passes_the_layer() {
        use warrant_core::keys::{HolderSigner as _, P256SigningKey};
        let b = bound();
        let p256 = P256SigningKey::generate(&mut rand_core::OsRng);
        let g = Grant::from_json_str(
            r#"{"audience": ["support-api"], "allow": [{"resources": ["tickets/*/email_address"], "actions": ["read"],
                "when": [{"attr": "ticket.status", "eq": "open"}]}]}"#,
        )
        .unwrap();
        let mut req = MintRequest::offline(g);
        req.holder = Some(p256.holder_key());
        let token = mint(&b.key, req, now(), &mut rand_core::OsRng)
            .unwrap()
            .token
            .to_base64()
            .unwrap();
        let es256 = create_proof(&p256, "GET", URL, &token, now(), &mut rand_core::OsRng).unwrap();
        let host = [("host", "127.0.0.1:3000")];
        let (status, _, body) = send_raw(&b.app, "/tickets/123/email", &host, &token, &es256).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let eddsa = b.proof(&b.agent, "GET", URL, &token);
        let (status, challenge, body) =
            send_raw(&b.app, "/tickets/123/email", &host, &token, &eddsa).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("the token's holder is `{}`", p256.holder_key())),
            "{detail}"
        );
    }

    #[tokio::test]
    async fn the_layers_origin_and_the_path_make_the_url_whatever_the_request_says() {
        let b = bound();
        let token = b.token(Some(&b.agent));
        for (uri, host) in [
            // `Host` and absolute-form targets are ignored...
            ("/tickets/123/email", "evil.example"),
            ("https://evil.example/tickets/123/email", "evil.example"),
            // ...and so is the query (RFC 9449: `htu` has none).
            ("/tickets/123/email?x=1", "127.0.0.1:3000"),
        ] {
            let proof = b.proof(&b.agent, "GET", URL, &token);
            let (status, _, body) = send_raw(&b.app, uri, &[("host", host)], &token, &proof).await;
            assert_eq!(status, StatusCode::OK, "{uri} {host}: {body}");
        }
    }

    /// A layer that trusts `Host`, guarding every path, resources named by the path.
    fn trusting(b: &Bound) -> axum::Router {
        let verifier = Verifier::builder(KeySet::single(KeyId(1), b.key.public()))
            .audience("support-api")
            .build();
        let layer = WarrantLayer::builder(verifier, |parts: &Parts| {
            resource_from_path("/", parts.uri.path()).map(|r| Request::now(r, "read"))
        })
        .dangerous_trust_host_header()
        .build()
        .unwrap();
        axum::Router::new()
            .route("/{*rest}", axum::routing::get(|| async { "ok" }))
            .layer(layer)
    }

    #[tokio::test]
    async fn trusting_the_host_header_is_an_opt_in_that_still_refuses_odd_hosts() {
        let b = bound();
        let app = trusting(&b);
        let token = b.token_for(Some(&b.agent), "tickets/**");
        let proof = |url: &str| b.proof(&b.agent, "GET", url, &token);
        let url = "http://other.example/tickets/1";
        let (status, _, body) = send_raw(
            &app,
            "/tickets/1",
            &[("host", "other.example")],
            &token,
            &proof(url),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _, body) = send_raw(
            &app,
            "/tickets/1",
            &[("host", "other.example:8443")],
            &token,
            &proof("http://other.example:8443/tickets/1"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // A `Host` that smuggles a path or user info, several hosts, or none: refused,
        // where `http://` + `other.example/x?` + path would have named `/x`.
        for (headers, why) in [
            (vec![("host", "other.example/tickets/1?")], "not a plain"),
            (vec![("host", "me@other.example")], "not a plain"),
            (
                vec![("host", "other.example"), ("host", "b.example")],
                "several `Host`",
            ),
            (vec![], "no `Host`"),
        ] {
            let (status, challenge, body) =
                send_raw(&app, "/tickets/2", &headers, &token, &proof(url)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}: {body}");
            assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
            assert!(body["detail"].as_str().unwrap().contains(why), "{body}");
        }
    }

    #[tokio::test]
    async fn a_layer_is_not_built_without_an_origin() {
        let b = bound();
        let verifier = || Verifier::new(KeySet::single(KeyId(1), b.key.public()));
        let unmapped = |_: &Parts| None::<Request>;
        let err = WarrantLayer::builder(verifier(), unmapped)
            .build()
            .unwrap_err();
        assert_eq!(err, LayerError::NoOrigin);
        assert!(err.to_string().contains("set `public_origin("), "{err}");
        for bad in [
            "api.example",
            "/relative",
            "ftp://api.example",
            "https://api.example/v1",
            "https://me@api.example",
            "https://api.example?x",
            "https://api.example#x",
        ] {
            let err = WarrantLayer::new(verifier(), unmapped, bad).unwrap_err();
            assert_eq!(err, LayerError::BadOrigin(bad.to_owned()), "{bad}");
        }
        let metadata =
            ProtectedResourceMetadata::new("https://api.example/v1".parse().unwrap(), "offline");
        assert_eq!(
            WarrantLayer::builder(verifier(), unmapped)
                .public_origin("https://other.example")
                .protected_resource(&metadata)
                .build()
                .unwrap_err(),
            LayerError::Conflict("https://other.example".into(), "https://api.example".into())
        );
        assert!(matches!(
            WarrantLayer::builder(verifier(), unmapped)
                .public_origin("https://api.example")
                .dangerous_trust_host_header()
                .build(),
            Err(LayerError::OriginAndHost(_))
        ));
        // The same origin twice, spelled differently, is one origin.
        assert!(WarrantLayer::builder(verifier(), unmapped)
            .public_origin("HTTPS://API.example:443/")
            .protected_resource(&metadata)
            .build()
            .is_ok());
    }

    #[tokio::test]
    async fn the_configured_origin_is_normalised() {
        let b = bound();
        let verifier = Verifier::builder(KeySet::single(KeyId(1), b.key.public()))
            .audience("support-api")
            .build();
        let layer = WarrantLayer::new(
            verifier,
            |parts: &Parts| {
                resource_from_path("/", parts.uri.path()).map(|r| Request::now(r, "read"))
            },
            "HTTPS://Api.Example:443/",
        )
        .unwrap();
        let app = axum::Router::new()
            .route("/{*rest}", axum::routing::get(|| async { "ok" }))
            .layer(layer);
        let token = b.token_for(Some(&b.agent), "tickets/**");
        let proof = b.proof(&b.agent, "GET", "https://api.example/tickets/1", &token);
        let (status, _, body) = send_raw(&app, "/tickets/1", &[], &token, &proof).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

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
                Some(b.proof(
                    &b.agent,
                    "GET",
                    "http://127.0.0.1:3000/tickets/124/email",
                    &token,
                )),
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
