//! The layer as an MCP / OAuth resource server: RFC 9728 metadata at both well-known
//! URIs, challenges naming it with the scopes a request needs (RFC 6750, RFC 9449), the
//! canonical resource URI as the audience checked, and the `Origin` check.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, Method, Request as HttpRequest, StatusCode};
use axum::routing::post;
use axum::Router;
use tower::ServiceExt;
use warrant_core::dpop::create_proof;
use warrant_core::grant::Grant;
use warrant_core::keys::{KeyId, KeySet, SigningKey};
use warrant_core::time::Timestamp;
use warrant_core::token::{mint, MintRequest};
use warrant_verifier::http::{
    matched_route, LayerError, OriginLayer, ProtectedResourceMetadata, WarrantLayer,
    WarrantLayerBuilder,
};
use warrant_verifier::{Request, ResourceUri, Verifier, VerifierBuilder};

const RESOURCE: &str = "https://api.example/mcp";
const ISSUER: &str = "https://issuer.example";
const METADATA_URL: &str = "https://api.example/.well-known/oauth-protected-resource/mcp";

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

/// `POST /mcp` calls the tool its `Mcp-Name` header names: the resource `tools/<name>`.
fn map(parts: &Parts) -> Option<Request> {
    if parts.method != Method::POST || matched_route(parts) != Some("/mcp") {
        return None;
    }
    let tool = parts.headers.get("mcp-name")?.to_str().ok()?;
    Request::try_now(format!("tools/{tool}"), "call").ok()
}

/// The scopes a tool call needs: `mcp`, and `orders:refund` for `refund`.
fn scopes(parts: &Parts) -> Vec<String> {
    let tool = parts.headers.get("mcp-name").and_then(|v| v.to_str().ok());
    match tool {
        Some("refund") => vec!["mcp".into(), "orders:refund".into()],
        _ => vec!["mcp".into()],
    }
}

struct Server {
    issuer: SigningKey,
    agent: SigningKey,
}

impl Server {
    fn new() -> Self {
        Self {
            issuer: SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1))),
            agent: SigningKey::generate(&mut rand_core::OsRng, None),
        }
    }

    fn verifier(&self) -> VerifierBuilder {
        Verifier::builder(KeySet::single(KeyId(1), self.issuer.public()))
    }

    fn metadata() -> ProtectedResourceMetadata {
        // Spelled otherwise than canonically: parsing makes it `https://api.example/mcp`.
        ProtectedResourceMetadata::new("HTTPS://API.Example:443/mcp/".parse().unwrap(), ISSUER)
    }

    fn layer(&self, verifier: Verifier) -> WarrantLayerBuilder {
        WarrantLayer::builder(verifier, map)
            .protected_resource(&Self::metadata())
            .scopes_with(scopes)
    }

    fn app(&self, layer: WarrantLayer) -> Router {
        let metadata = layer.metadata_router();
        Router::new()
            .route("/mcp", post(|| async { "called" }))
            .route_layer(layer)
            .merge(metadata)
    }

    /// The MCP server with a verifier that has no audience of its own.
    fn default_app(&self) -> Router {
        self.app(self.layer(self.verifier().build()).build().unwrap())
    }

    /// A token bound to the agent, for `audience`, allowing the tool `read_ticket`.
    fn token(&self, audience: &str) -> String {
        let grant = Grant::from_json(&serde_json::json!({
            "audience": [audience],
            "allow": [{ "resources": ["tools/read_ticket"], "actions": ["call"] }],
        }))
        .unwrap();
        let mut req = MintRequest::offline(grant);
        req.holder = Some(self.agent.public().into());
        mint(&self.issuer, req, now(), &mut rand_core::OsRng)
            .unwrap()
            .token
            .to_base64()
            .unwrap()
    }

    /// `POST /mcp` calling `tool` with `token` and the agent's proof for `url`.
    async fn call(
        &self,
        app: &Router,
        tool: &str,
        token: Option<&str>,
        url: &str,
    ) -> (StatusCode, String, serde_json::Value) {
        let mut req = HttpRequest::builder()
            .method("POST")
            .uri("/mcp")
            .header("mcp-name", tool);
        if let Some(token) = token {
            let proof = create_proof(
                &self.agent,
                "POST",
                url,
                token,
                now(),
                &mut rand_core::OsRng,
            )
            .unwrap();
            req = req
                .header(header::AUTHORIZATION, format!("DPoP {token}"))
                .header("dpop", proof);
        }
        send(app, req.body(Body::empty()).unwrap()).await
    }
}

async fn send(app: &Router, req: HttpRequest<Body>) -> (StatusCode, String, serde_json::Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let challenge = res
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, challenge, body)
}

async fn get(app: &Router, path: &str) -> (StatusCode, serde_json::Value) {
    let req = HttpRequest::get(path).body(Body::empty()).unwrap();
    let (status, _, body) = send(app, req).await;
    (status, body)
}

#[tokio::test]
async fn metadata_is_served_at_the_path_inserted_and_the_root_well_known_uris() {
    let s = Server::new();
    let app = s.default_app();
    let (status, path_inserted) = get(&app, "/.well-known/oauth-protected-resource/mcp").await;
    assert_eq!(status, StatusCode::OK, "{path_inserted}");
    let (status, root) = get(&app, "/.well-known/oauth-protected-resource").await;
    assert_eq!(status, StatusCode::OK, "{root}");
    assert_eq!(path_inserted, root);
    assert_eq!(
        root,
        serde_json::json!({
            "resource": RESOURCE,
            "authorization_servers": [ISSUER],
            "bearer_methods_supported": ["header"],
            "dpop_signing_alg_values_supported": ["EdDSA", "ES256"],
            "dpop_bound_access_tokens_required": true,
        })
    );
    // Only this resource's path is served below the well-known one.
    for other in [
        "/.well-known/oauth-protected-resource/other",
        "/.well-known/oauth-protected-resource/mcp/",
        "/.well-known/oauth-protected-resource/mcp/x",
    ] {
        assert_eq!(get(&app, other).await.0, StatusCode::NOT_FOUND, "{other}");
    }
    // Declared scopes are listed; a verifier accepting bearer tokens does not require DPoP.
    let layer = WarrantLayer::builder(s.verifier().dangerous_accept_bearer().build(), map)
        .protected_resource(&Server::metadata())
        .scopes(["mcp"])
        .route_scopes(Method::POST, "/mcp", ["mcp", "tools:call"])
        .build()
        .unwrap();
    let (_, body) = get(&s.app(layer), "/.well-known/oauth-protected-resource/mcp").await;
    assert_eq!(
        body["scopes_supported"],
        serde_json::json!(["mcp", "tools:call"])
    );
    assert_eq!(body["dpop_bound_access_tokens_required"], false);
    // Scopes the metadata lists itself are kept.
    let layer = WarrantLayer::builder(s.verifier().build(), map)
        .protected_resource(&Server::metadata().scopes_supported(["all"]))
        .scopes(["mcp"])
        .build()
        .unwrap();
    assert_eq!(
        layer.metadata().unwrap().scopes_supported,
        Some(vec!["all".to_owned()])
    );
    // A resource without a path: the root well-known URI only, named in challenges.
    let metadata = ProtectedResourceMetadata::new("https://api.example/".parse().unwrap(), ISSUER);
    assert_eq!(
        metadata.metadata_url(),
        "https://api.example/.well-known/oauth-protected-resource"
    );
}

#[tokio::test]
async fn a_401_names_the_metadata_the_scopes_and_the_algorithms() {
    let s = Server::new();
    let app = s.default_app();
    let (status, challenge, _) = s.call(&app, "refund", None, RESOURCE).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let params = format!("scope=\"mcp orders:refund\", resource_metadata=\"{METADATA_URL}\"");
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"warrant\", {params}, DPoP realm=\"warrant\", algs=\"EdDSA ES256\", {params}"
        )
    );
    // An unusable token: `invalid_token` with the same parameters.
    let (status, challenge, body) = s
        .call(&app, "read_ticket", Some("not-a-token"), RESOURCE)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        challenge.starts_with("DPoP realm=\"warrant\", algs=\"EdDSA ES256\", error=\"invalid_token\", error_description=\""),
        "{challenge}"
    );
    assert!(
        challenge.ends_with(&format!(
            ", scope=\"mcp\", resource_metadata=\"{METADATA_URL}\""
        )),
        "{challenge}"
    );
}

#[tokio::test]
async fn the_canonical_resource_uri_is_the_audience_checked() {
    let s = Server::new();
    // The verifier has no audience: the layer checks the resource's canonical URI.
    let app = s.default_app();
    let (status, _, body) = s
        .call(&app, "read_ticket", Some(&s.token(RESOURCE)), RESOURCE)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for other in [
        "https://other.example/mcp",
        "https://api.example/mcp2",
        "support-api",
    ] {
        let (status, challenge, body) = s
            .call(&app, "read_ticket", Some(&s.token(other)), RESOURCE)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{other}: {body}");
        assert_eq!(body["kind"], "audience", "{other}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    // A verifier given the URL in another spelling checks the canonical one.
    let verifier = s
        .verifier()
        .audience("HTTPS://API.EXAMPLE:443/mcp/")
        .build();
    assert_eq!(verifier.audience(), Some(RESOURCE));
    let app = s.app(s.layer(verifier).build().unwrap());
    let (status, _, body) = s
        .call(&app, "read_ticket", Some(&s.token(RESOURCE)), RESOURCE)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A verifier checking another URL is a configuration error, said at once.
    let verifier = s.verifier().audience("https://other.example/mcp").build();
    assert_eq!(
        s.layer(verifier).build().unwrap_err(),
        LayerError::AudienceMismatch {
            audience: "https://other.example/mcp".into(),
            resource: RESOURCE.into()
        }
    );
    // A name audience keeps working as before.
    let verifier = s.verifier().audience("support-api").build();
    let app = s.app(s.layer(verifier).build().unwrap());
    let (status, _, body) = s
        .call(&app, "read_ticket", Some(&s.token("support-api")), RESOURCE)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_403_asks_for_every_scope_needed_in_one_challenge_with_the_explanation() {
    let s = Server::new();
    let app = s.default_app();
    let token = s.token(RESOURCE);
    let (status, challenge, body) = s.call(&app, "refund", Some(&token), RESOURCE).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["kind"], "rule_not_matched");
    let description: String = body["detail"]
        .as_str()
        .unwrap()
        .chars()
        .map(|c| if c == '"' { '\'' } else { c })
        .collect();
    assert_eq!(
        challenge,
        format!(
            "DPoP realm=\"warrant\", algs=\"EdDSA ES256\", error=\"insufficient_scope\", \
             error_description=\"{description}\", scope=\"mcp orders:refund\", \
             resource_metadata=\"{METADATA_URL}\""
        )
    );
    assert_eq!(challenge.matches("scope=").count(), 1, "{challenge}");
}

#[tokio::test]
async fn a_bad_proof_is_invalid_dpop_proof_with_the_dpop_scheme() {
    let s = Server::new();
    let app = s.default_app();
    let token = s.token(RESOURCE);
    // A proof for another URL, then the token sent as a bearer token without proof.
    let (status, challenge, body) = s
        .call(
            &app,
            "read_ticket",
            Some(&token),
            "https://other.example/mcp",
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["kind"], "invalid_proof");
    assert!(
        challenge.starts_with(
            "DPoP realm=\"warrant\", algs=\"EdDSA ES256\", error=\"invalid_dpop_proof\", error_description=\""
        ),
        "{challenge}"
    );
    assert!(challenge.contains(&format!("resource_metadata=\"{METADATA_URL}\"")));
    let req = HttpRequest::post("/mcp")
        .header("mcp-name", "read_ticket")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, challenge, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.starts_with(
            "DPoP realm=\"warrant\", algs=\"EdDSA ES256\", error=\"invalid_dpop_proof\""
        ),
        "{challenge}"
    );
}

#[tokio::test]
async fn the_layer_is_not_built_with_values_a_challenge_cannot_carry() {
    let s = Server::new();
    for bad in ["two words", "quo\"te", "back\\slash", "caf\u{e9}", ""] {
        let err = s
            .layer(s.verifier().build())
            .route_scopes(Method::POST, "/mcp", [bad])
            .build()
            .unwrap_err();
        assert!(matches!(err, LayerError::BadScope(_)), "{bad:?}: {err}");
        assert!(err.to_string().contains("is not an OAuth scope"), "{err}");
    }
    for bad in [
        "api.example/x",
        "ftp://api.example/x",
        "https://api.example/x#f",
    ] {
        let err = s
            .layer(s.verifier().build())
            .resource_metadata(bad)
            .build()
            .unwrap_err();
        assert_eq!(err, LayerError::BadResourceMetadata(bad.into()), "{bad}");
    }
    // An explicit metadata URL replaces the path-inserted one.
    let layer = s
        .layer(s.verifier().build())
        .resource_metadata("https://api.example/.well-known/oauth-protected-resource")
        .build()
        .unwrap();
    let (_, challenge, _) = s.call(&s.app(layer), "x", None, RESOURCE).await;
    assert!(
        challenge.contains(
            "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\""
        ),
        "{challenge}"
    );
}

#[tokio::test]
async fn browser_requests_from_other_origins_are_refused_before_anything_else() {
    let s = Server::new();
    let origins = OriginLayer::new(["https://app.example"]).unwrap();
    let app = s.default_app().layer(origins);
    let token = s.token(RESOURCE);
    let call = |origin: Option<&'static str>| {
        let proof = create_proof(
            &s.agent,
            "POST",
            RESOURCE,
            &token,
            now(),
            &mut rand_core::OsRng,
        )
        .unwrap();
        let mut req = HttpRequest::post("/mcp")
            .header("mcp-name", "read_ticket")
            .header(header::AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", proof);
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        req.body(Body::empty()).unwrap()
    };
    // No `Origin` (a non-browser client) or an allowed one: the call goes through.
    for origin in [None, Some("https://app.example")] {
        let (status, _, body) = send(&app, call(origin)).await;
        assert_eq!(status, StatusCode::OK, "{origin:?}: {body}");
    }
    // A page of another origin (or a rebound DNS name): 403, a problem document, no
    // challenge, whatever the token.
    for origin in ["https://evil.example", "null", "http://app.example"] {
        let (status, challenge, body) = send(&app, call(Some(origin))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin}: {body}");
        assert!(challenge.is_empty(), "{challenge}");
        assert_eq!(body["type"], "https://warrant.dev/problems/origin_refused");
        assert!(body["detail"].as_str().unwrap().contains(origin), "{body}");
    }
    // The metadata, outside the check here, is served to any page.
    let app = s.default_app();
    let req = HttpRequest::get("/.well-known/oauth-protected-resource/mcp")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.0, StatusCode::OK);
}

#[test]
fn the_issuer_and_the_verifier_canonicalise_alike() {
    // What the issuer writes as the audience for a client's `resource` parameter...
    let resource: ResourceUri = "https://API.example/mcp/".parse().unwrap();
    // ...is what a verifier configured with any spelling of the URL checks.
    let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
    for spelling in ["https://api.example/mcp", "HTTPS://api.EXAMPLE:443/mcp/"] {
        let verifier = Verifier::builder(KeySet::single(KeyId(1), key.public()))
            .audience(spelling)
            .build();
        assert_eq!(verifier.audience(), Some(resource.as_str()), "{spelling}");
    }
}
