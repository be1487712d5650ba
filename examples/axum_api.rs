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

use axum::extract::Path;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use warrant_verifier::http::{
    protected_resource_metadata, ProtectedResourceMetadata, Warrant, WarrantLayer,
    PROTECTED_RESOURCE_METADATA_PATH,
};
use warrant_verifier::{Request, Verifier};

/// The API's own data: the status of each ticket.
fn ticket_status(id: &str) -> Option<&'static str> {
    match id {
        "123" => Some("open"),
        "124" => Some("closed"),
        _ => None,
    }
}

/// What each HTTP request means to a warrant token; `None` refuses it.
fn map(parts: &Parts) -> Option<Request> {
    let segments: Vec<&str> = parts.uri.path().trim_matches('/').split('/').collect();
    match (parts.method.as_str(), segments.as_slice()) {
        ("GET", ["tickets", id, "email"]) => {
            let mut req = Request::now(format!("tickets/{id}/email_address"), "read");
            if let Some(status) = ticket_status(id) {
                req = req.with_attr("ticket.status", status);
            }
            Some(req)
        }
        ("POST", ["orders", id, "refund"]) => {
            let mut req = Request::now(format!("orders/{id}"), "refund");
            for pair in parts.uri.query().unwrap_or("").split('&') {
                match pair.split_once('=') {
                    Some(("amount", v)) => req = req.with_attr("amount", v.parse::<i64>().ok()?),
                    Some(("reason", v)) if !v.is_empty() => req = req.with_attr("reason", v),
                    _ => {}
                }
            }
            Some(req)
        }
        _ => None,
    }
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
pub fn app(verifier: Verifier) -> Router {
    let guarded = Router::new()
        .route("/tickets/{id}/email", get(email))
        .route("/orders/{id}/refund", post(refund))
        .layer(
            WarrantLayer::new(verifier, map).with_resource_metadata(format!(
                "http://127.0.0.1:3000{PROTECTED_RESOURCE_METADATA_PATH}"
            )),
        );
    let metadata = ProtectedResourceMetadata::new("http://127.0.0.1:3000", "offline");
    guarded.merge(protected_resource_metadata(metadata))
}

#[tokio::main]
#[allow(dead_code)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "demo/keys.json".to_owned());
    let keys = warrant_verifier::key_set_from_file(&path)?;
    let verifier = Verifier::new(keys).with_audience("support-api");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("support API on http://127.0.0.1:3000 (keys from {path})");
    axum::serve(listener, app(verifier)).await?;
    Ok(())
}
