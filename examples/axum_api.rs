// Run: cargo run -p warrant-verifier --features axum --example axum_api -- demo/keys.json
//
// A tiny support API with two routes, each guarded by warrant's tower layer:
//
//   GET  /tickets/{id}/email                      -> read   tickets/{id}/email_address
//   POST /orders/{id}/refund?amount=N&reason=R    -> refund orders/{id}   (attrs amount, reason)
//
// The ticket's status comes from the API's own data (ticket 123 is open, 124 closed) and
// is given to the token as the `ticket.status` attribute. The issuer's key set is read from
// the file named on the command line (the README walkthrough writes demo/keys.json).
// Tokens must be bound to a holder: each request carries a DPoP proof by the holder's key.
// Try it with the sub-agent's token from the walkthrough:
//
//   URL=http://127.0.0.1:3000/tickets/123/email
//   PROOF=$(warrant proof --key demo/sub-agent.key --token "$SUBTOKEN" --method GET --url $URL)
//   curl -H "Authorization: DPoP $SUBTOKEN" -H "DPoP: $PROOF" $URL
//
// RFC 9728 metadata is served without a token at /.well-known/oauth-protected-resource.
// Its `resource` (http://127.0.0.1:3000) is also the layer's public origin: proofs must
// name that URL, whatever `Host` a request carries. Refusals name the metadata and the
// OAuth scopes the route needs (`tickets:read`, `orders:refund`): hints for a client
// asking for a token, while what is checked is the token's grant.
//
// Requests are mapped by method and route template (`matched_route`, present because the
// layer is added with `route_layer`); any other method or route is refused. Paths become
// resources through `resource_from_path`: percent-decoded once, as the handlers' `Path`
// extractor decodes them, and refused when not canonical (`/tickets/../email`,
// `/tickets/%2e%2e/email`).

use std::collections::HashSet;

use axum::extract::Path;
use axum::http::request::Parts;
use axum::http::Method;
use axum::routing::{get, post};
use axum::{Json, Router};
use warrant_verifier::http::{
    matched_route, resource_from_path, ProtectedResourceMetadata, ResourcePathError, Warrant,
    WarrantLayer,
};
use warrant_verifier::{Request, Verifier};

/// Where clients reach the API: the origin DPoP proofs must name.
pub(crate) const ORIGIN: &str = "http://127.0.0.1:3000";

/// The API's own data: the status of each ticket.
fn ticket_status(id: &str) -> Option<&'static str> {
    match id {
        "123" => Some("open"),
        "124" => Some("closed"),
        _ => None,
    }
}

/// What each HTTP request means to a token, by method and route template (the layer is
/// added with `route_layer`, so routing has happened); `Ok(None)` or an error refuses it.
fn map(parts: &Parts) -> Result<Option<Request>, ResourcePathError> {
    // Decoded once and canonical, as the handlers see it: `..`, `%2e%2e`, `//` and a
    // trailing `/` are refused, never normalised into another ticket.
    let path = resource_from_path("/", parts.uri.path())?;
    // Both routes have their `{id}` second.
    let id = path.split('/').nth(1).unwrap_or_default();
    Ok(match (parts.method.as_str(), matched_route(parts)) {
        ("GET", Some("/tickets/{id}/email")) => {
            let mut req = Request::now(format!("tickets/{id}/email_address"), "read");
            if let Some(status) = ticket_status(id) {
                req = req.with_attr("ticket.status", status);
            }
            Some(req)
        }
        ("POST", Some("/orders/{id}/refund")) => {
            let mut req = Request::now(format!("orders/{id}"), "refund");
            let mut seen = HashSet::new();
            let query = parts.uri.query().unwrap_or("");
            for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
                // One value per name: `amount=1&amount=9000` is refused, so the value the
                // token checked is the only one the handler can read.
                if !seen.insert(name.clone()) {
                    return Ok(None);
                }
                match &*name {
                    "amount" => match value.parse::<i64>() {
                        Ok(amount) => req = req.with_attr("amount", amount),
                        Err(_) => return Ok(None),
                    },
                    "reason" if !value.is_empty() => {
                        req = req.with_attr("reason", value.into_owned());
                    }
                    _ => {}
                }
            }
            Some(req)
        }
        _ => None,
    })
}

async fn email(Path(id): Path<String>, Warrant(claims): Warrant) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "ticket": id,
        "email_address": "customer@example.com",
        "on_behalf_of": claims.human,
    }))
}

async fn refund(Path(id): Path<String>, Warrant(claims): Warrant) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "order": id, "refunded": true, "token_id": claims.token_id }))
}

/// The API: guarded routes, plus the metadata outside the guard.
pub(crate) fn app(verifier: Verifier) -> Result<Router, Box<dyn std::error::Error>> {
    let metadata = ProtectedResourceMetadata::new(ORIGIN.parse()?, "offline");
    let layer = WarrantLayer::builder(verifier, map)
        .protected_resource(&metadata)
        .route_scopes(Method::GET, "/tickets/{id}/email", ["tickets:read"])
        .route_scopes(Method::POST, "/orders/{id}/refund", ["orders:refund"])
        .build()?;
    let metadata = layer.metadata_router();
    let guarded = Router::new()
        .route("/tickets/{id}/email", get(email))
        .route("/orders/{id}/refund", post(refund))
        .route_layer(layer);
    Ok(guarded.merge(metadata))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "demo/keys.json".to_owned());
    let keys = warrant_verifier::key_set_from_file(&path)?;
    let verifier = Verifier::builder(keys).audience("support-api").build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("support API on {ORIGIN} (keys from {path})");
    axum::serve(listener, app(verifier)?).await?;
    Ok(())
}
