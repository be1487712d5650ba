//! The OpenAPI 3.1 document of the API, made from the routes themselves: `router` routes
//! and describes every handler by one declaration each (`utoipa-axum`), so every route is
//! in the document and everything in the document is routed. It is served at
//! `/openapi.json` and checked into `docs/openapi.json` (a test keeps them equal).
//!
//! Every body is a named schema: the wire types of [`crate::api`], and for every error
//! response the RFC 9457 problem document ([`crate::api::Problem`]) that the router's outer
//! layer guarantees (crate::app).

use std::sync::LazyLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{OpenApiDocument, Problem};
use crate::error::PROBLEM_JSON;
use crate::state::AppState;

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

/// What the document says besides its routes: the title, the admin credential's security
/// scheme, and the problem document of every error.
#[derive(OpenApi)]
#[openapi(
    info(title = "warrant issuer", description = "Mints micro-permission tokens for AI agents, for humans it has just verified."),
    components(schemas(Problem)),
    modifiers(&AdminToken),
)]
#[derive(Debug)]
pub struct ApiDoc;

/// Every route of the API ([`crate::routes`], and `/openapi.json`), with its description.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::routes::router())
        .routes(routes!(openapi_json));
    problems(router.get_openapi_mut());
    router
}

/// Gives every error response (4xx, 5xx) that names no body of its own the problem
/// document: every error the API answers with is one.
fn problems(openapi: &mut utoipa::openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                let is_error = status.starts_with('4') || status.starts_with('5');
                if let (true, RefOr::T(response)) = (is_error, response) {
                    if response.content.is_empty() {
                        response.content.insert(
                            PROBLEM_JSON.to_owned(),
                            Content::new(Some(utoipa::openapi::Ref::from_schema_name("Problem"))),
                        );
                    }
                }
            }
        }
    }
}

/// The document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    router().into_openapi()
}

/// The document as pretty JSON.
pub fn document() -> String {
    openapi().to_pretty_json().unwrap_or_default()
}

/// The document served: made once, on first request.
static DOCUMENT: LazyLock<String> = LazyLock::new(document);

/// `GET /openapi.json`.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "this document", body = OpenApiDocument)))]
async fn openapi_json() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}
