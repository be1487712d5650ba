//! Mapping by route template (`route_layer`), the extractor's refusals, and the scheme in
//! any case, through a small router without sockets.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, Request as HttpRequest, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower::{Layer, Service, ServiceExt};
use warrant_core::keys::{KeyId, KeySet};
use warrant_core::token::{mint, MintRequest};
use warrant_verifier::http::{
    matched_route, resource_from_path, ResourcePathError, Warrant, WarrantLayer,
};
use warrant_verifier::{Request, Verifier};

use crate::common::{grant, key, NOW};

const ORIGIN: &str = "https://support.example";

/// Each route by method and template; the resource is the path.
fn map(parts: &Parts) -> Result<Option<Request>, ResourcePathError> {
    let action = match (parts.method.as_str(), matched_route(parts)) {
        ("GET", Some("/tickets/{id}")) => "read",
        ("DELETE", Some("/tickets/{id}")) => "delete",
        _ => return Ok(None),
    };
    let resource = resource_from_path("/", parts.uri.path())?;
    Ok(Some(Request::new(resource, action, NOW)))
}

async fn who(Warrant(claims): Warrant) -> String {
    claims.human.clone().unwrap_or_default()
}

fn layer() -> WarrantLayer {
    let verifier = Verifier::builder(KeySet::single(KeyId(1), key().public()))
        .dangerous_accept_bearer()
        .build();
    WarrantLayer::new(verifier, map, ORIGIN).unwrap()
}

fn routes() -> Router {
    Router::new().route("/tickets/{id}", get(who).delete(who).put(who))
}

fn read_token() -> String {
    let grant = grant(&serde_json::json!({
        "allow": [{"resources": ["tickets/*"], "actions": ["read"]}]
    }));
    let mut req = MintRequest::offline(grant);
    req.human = Some("alice".into());
    mint(key(), req, NOW, &mut rand_core::OsRng)
        .unwrap()
        .token
        .to_base64()
        .unwrap()
}

async fn send<S>(
    app: &S,
    method: &str,
    uri: &str,
    auth: Option<&str>,
) -> (StatusCode, String, String, serde_json::Value)
where
    S: Service<HttpRequest<Body>, Response = Response, Error = Infallible> + Clone,
{
    let mut req = HttpRequest::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let text = |name| {
        res.headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (challenge, content_type) = (text(header::WWW_AUTHENTICATE), text(header::CONTENT_TYPE));
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, challenge, content_type, body)
}

#[tokio::test]
async fn with_route_layer_the_mapper_sees_the_route_template() {
    let app = routes().route_layer(layer());
    let auth = format!("Bearer {}", read_token());
    let (status, _, _, body) = send(&app, "GET", "/tickets/7", Some(&auth)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "alice");
    // The same route, another method: mapped to `delete`, which the token does not allow.
    let (status, challenge, _, body) = send(&app, "DELETE", "/tickets/7", Some(&auth)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    assert_eq!(body["kind"], "rule_not_matched");
    // A method the mapper does not cover on that route: refused by default.
    let (status, _, _, body) = send(&app, "PUT", "/tickets/7", Some(&auth)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("is not mapped"),
        "{body}"
    );
}

#[tokio::test]
async fn with_layer_unrouted_requests_reach_the_layer_without_a_template() {
    let app = routes().layer(layer());
    let auth = format!("Bearer {}", read_token());
    // `Router::layer` runs after routing too: the matched route has its template...
    let (status, _, _, body) = send(&app, "GET", "/tickets/7", Some(&auth)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ...and a request no route matches goes through the layer to the fallback, without
    // one: refused, where `route_layer` leaves it to the router's 404.
    let (status, _, _, body) = send(&app, "GET", "/elsewhere/7", Some(&auth)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let app = routes().route_layer(layer());
    let (status, _, _, _) = send(&app, "GET", "/elsewhere/7", Some(&auth)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn around_the_whole_router_there_is_no_template_and_everything_is_refused() {
    // The layer wrapping the router from outside runs before routing.
    let app = layer().layer(routes());
    let auth = format!("Bearer {}", read_token());
    let (status, _, _, body) = send(&app, "GET", "/tickets/7", Some(&auth)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("is not mapped"),
        "{body}"
    );
}

#[tokio::test]
async fn the_scheme_is_read_in_any_case() {
    let app = routes().route_layer(layer());
    let token = read_token();
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let auth = format!("{scheme}  {token}");
        let (status, _, _, body) = send(&app, "GET", "/tickets/7", Some(&auth)).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
    }
}

#[tokio::test]
async fn the_extractor_refuses_as_the_layer_does() {
    // The same route, once behind the layer and once (by mistake) not.
    let guarded = routes().route_layer(layer());
    let unguarded = routes();
    for auth in [None, Some("Bearer whatever")] {
        let (status, challenge, content_type, body) =
            send(&unguarded, "GET", "/tickets/7", auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["status"], 401);
        assert_eq!(body["kind"], "malformed");
        assert!(
            body["detail"].as_str().unwrap().contains("`WarrantLayer`"),
            "{body}"
        );
        assert!(
            challenge.starts_with(
                "DPoP realm=\"warrant\", algs=\"EdDSA ES256\", Bearer realm=\"warrant\""
            ),
            "{challenge}"
        );
        assert_eq!(challenge.contains("invalid_request"), auth.is_some());
    }
    // Without a token the layer answers the same way, with the same title.
    let (status, layer_challenge, _, layer_body) = send(&guarded, "GET", "/tickets/7", None).await;
    let (_, extractor_challenge, _, extractor_body) =
        send(&unguarded, "GET", "/tickets/7", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(layer_challenge, extractor_challenge);
    assert_eq!(layer_body["title"], extractor_body["title"]);
    assert_eq!(layer_body["type"], extractor_body["type"]);
}
