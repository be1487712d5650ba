//! The OpenAPI 3.1 document of the API, generated from the handlers (utoipa), served at
//! `/openapi.json` and checked into `docs/openapi.json` (a test keeps them equal).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("admin credential: warrant-admin.<id>.<secret>")
                    .build(),
            ),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "warrant issuer", description = "Mints micro-permission tokens for AI agents, for humans it has just verified."),
    paths(
        routes::healthz, routes::readyz, routes::metrics, routes::key_set, routes::audit_key_set,
        routes::challenge, routes::mint_token,
        routes::revoke, routes::revocations, routes::audit_export, routes::rotate_keys,
        routes::agent_challenge, routes::register_agent, routes::list_agents, routes::my_agents, routes::disable_agent,
        routes::put_human, routes::put_role, crate::admin_routes::rotate, crate::admin_routes::list, openapi_json,
    ),
    modifiers(&AdminToken),
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The document as pretty JSON.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// `GET /openapi.json`.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "this document", body = Object)))]
pub async fn openapi_json() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        document(),
    )
}
