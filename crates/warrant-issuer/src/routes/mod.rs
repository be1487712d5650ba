//! The request handlers, one module per resource. Each module's `router()` declares its
//! routes once, with `utoipa-axum`: a handler is routed and described in the OpenAPI
//! document ([`crate::openapi`]) by the same line, so the two cannot drift apart.
//!
//! Handlers are glue: they take the wire types of [`crate::api`] (through
//! [`crate::error::Body`], which answers a 400 problem for a body it cannot read), the
//! caller (an [`crate::admin::Admin`], or a human verified by [`crate::verify`]), call the
//! state and the store, and answer with wire types or an [`crate::ApiError`].

mod admin;
mod agents;
mod audit;
mod keys;
mod oauth;
mod ops;
mod passkeys;
mod requests;
mod revocations;
mod sessions;
mod tokens;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every route of the API but the document's own, `/openapi.json` ([`crate::openapi`]).
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(ops::router())
        .merge(keys::router())
        .merge(tokens::router())
        .merge(revocations::router())
        .merge(audit::router())
        .merge(agents::router())
        .merge(requests::router())
        .merge(passkeys::router())
        .merge(sessions::router())
        .merge(oauth::router())
        .merge(admin::router())
}
