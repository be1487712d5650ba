//! The tower layer for axum (feature `axum`): every request verified before it reaches
//! the handler.
//!
//! [`WarrantLayer`] takes the token from `Authorization: DPoP …` with its proof in the
//! `DPoP` header (or, for bearer tokens an API accepts, `Authorization: Bearer …`; the
//! scheme in any case, read by [`credentials`]), asks a user-supplied function what the
//! HTTP request means (resource, action, attributes), verifies, and either passes the
//! request on with the [`Claims`](crate::Claims) in its extensions (the [`Warrant`]
//! extractor reads them) or answers with a [`Refusal`]:
//! - 401 when the token is missing (both schemes offered, `Bearer` first) or unusable
//!   (malformed, bad signature, unknown key, expired, revoked, for another audience…),
//!   with `WWW-Authenticate: Bearer error="invalid_token"` (or `DPoP` when the request
//!   used that scheme);
//! - 401 with `WWW-Authenticate: DPoP error="invalid_dpop_proof"` when the token is bound
//!   to a holder and the proof is missing, invalid, replayed or not the holder's;
//! - 403 when the token is valid but does not permit the request, with
//!   `WWW-Authenticate: Bearer error="insufficient_scope"` (or `DPoP`);
//!
//! all with an RFC 9457 `application/problem+json` body carrying the explanation
//! ([`denial_status`] is the status of each kind of denial). A request the function does
//! not map is refused with 403: deny by default. The [`Warrant`] extractor, in a handler
//! the layer does not guard, refuses as the layer refuses a request without a token.
//!
//! Every `DPoP` challenge names the proof algorithms (`algs="EdDSA ES256"`, RFC 9449
//! section 7.1); every challenge of a layer names its RFC 9728 metadata
//! (`resource_metadata="…"`) and the OAuth scopes the request needs (`scope="…"`), when
//! configured. An `error` has its `error_description`: the denial's explanation, cut to
//! [`MAX_DESCRIPTION_CHARS`] and reduced to the characters RFC 6750 allows (`"` becomes
//! `'`, `\` becomes `/`, control characters a space, other non-ASCII characters `?`), so
//! that no explanation, whatever a token or request put in it, can end the parameter or
//! the header. The problem document's `detail` has the whole explanation.
//!
//! # Mapping requests by route
//!
//! Add the layer with axum's `Router::route_layer`: routing then happens first, and the
//! mapping function sees the route template the request matched ([`matched_route`]), so
//! it maps each route by method and template instead of parsing the URL again, and a path
//! no route matches gets the router's 404. (A layer wrapping the router from outside runs
//! before routing, so there is no template: a function mapping by template maps nothing,
//! and every request is refused.)
//!
//! ```
//! use axum::http::request::Parts;
//! use axum::{routing::get, Router};
//! use warrant_verifier::http::{matched_route, resource_from_path, ResourcePathError, Warrant, WarrantLayer};
//! use warrant_verifier::{KeyId, KeySet, Request, Verifier};
//! # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
//! # let keys = KeySet::single(KeyId(1), key.public());
//!
//! fn map(parts: &Parts) -> Result<Option<Request>, ResourcePathError> {
//!     let action = match (parts.method.as_str(), matched_route(parts)) {
//!         ("GET", Some("/tickets/{id}")) => "read",
//!         ("PUT", Some("/tickets/{id}")) => "update",
//!         _ => return Ok(None), // any other route: refused (deny by default)
//!     };
//!     // `/tickets/123` is the resource `tickets/123`, decoded once and canonical.
//!     Ok(Some(Request::now(resource_from_path("/", parts.uri.path())?, action)))
//! }
//!
//! async fn show(Warrant(claims): Warrant) -> String {
//!     format!("for {:?}", claims.human)
//! }
//!
//! let verifier = Verifier::builder(keys).audience("support-api").build();
//! let layer = WarrantLayer::new(verifier, map, "https://support.example")?;
//! let app: Router = Router::new()
//!     .route("/tickets/{id}", get(show).put(show))
//!     .route_layer(layer);
//! # Ok::<(), warrant_verifier::http::LayerError>(())
//! ```
//!
//! # The layer's own origin
//!
//! A DPoP proof names the URL it is for (`htu`). The layer compares it with its own
//! public origin (scheme, host and optional port, as clients reach the API) followed by
//! the request's path, without query or fragment (RFC 9449 section 4.3), normalised as
//! [`warrant_core::dpop::normalize_htu`] does. The origin is configuration, never read
//! from the request: [`WarrantLayerBuilder::build`] fails without one. Set it with
//! [`WarrantLayerBuilder::public_origin`], or let it come from the RFC 9728 metadata's
//! `resource` with [`WarrantLayerBuilder::protected_resource`]. The `Host` header and an
//! absolute-form request target are chosen by the client: a layer that built the URL
//! from them would accept a proof the agent made for another API, replayed here with that
//! API's `Host`. [`WarrantLayerBuilder::dangerous_trust_host_header`] does exactly that,
//! for a server that really does answer to any host.
//!
//! ```
//! # use axum::http::request::Parts;
//! # use warrant_verifier::{KeyId, KeySet, Request, Verifier};
//! use warrant_verifier::http::{resource_from_path, WarrantLayer};
//! # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
//! # let verifier = Verifier::new(KeySet::single(KeyId(1), key.public()));
//! let layer = WarrantLayer::builder(verifier.clone(), |parts: &Parts| {
//!     // `GET /files/…` reads `…`; any other method is refused.
//!     if parts.method != axum::http::Method::GET {
//!         return Ok(None);
//!     }
//!     resource_from_path("/files", parts.uri.path()).map(|r| Some(Request::now(r, "read")))
//! })
//! .public_origin("https://files.example")
//! .build()
//! .unwrap();
//!
//! // Without an origin the layer is not built, and the error says what to set.
//! let err = WarrantLayer::builder(verifier, |_: &Parts| None::<Request>).build().unwrap_err();
//! assert!(err.to_string().contains("public_origin"));
//! ```
//!
//! # From URL paths to resources
//!
//! Resources are canonical logical names (`tickets/123/email_address`): no empty, `.` or
//! `..` segment ([`warrant_core::pattern::check_resource`]). A URL path is neither: it is
//! percent-encoded, and `tickets/123/../124` or `tickets/%2e%2e/124` would name another
//! resource than it seems to. [`resource_from_path`] decodes a path below a prefix exactly
//! once, segment by segment, and refuses anything that is not canonical instead of
//! normalising it (`a/../b` is an error, never `b`). The layer also checks every resource
//! a mapping function returns, whatever way it was made: a non-canonical one is refused
//! with 403, like an unmapped route (deny by default), with a problem document naming the
//! resource and why.
//!
//! ```
//! use warrant_verifier::http::{resource_from_path, ResourcePathError};
//!
//! assert_eq!(resource_from_path("/api", "/api/tickets/123").unwrap(), "tickets/123");
//! assert_eq!(resource_from_path("/", "/caf%C3%A9/menu").unwrap(), "café/menu");
//! // Decoded once: `%252e` is the literal three characters `%2e`, a plain name.
//! assert_eq!(resource_from_path("/", "/tickets/%252e").unwrap(), "tickets/%2e");
//! for bad in ["/api/tickets/../admin", "/api/tickets/%2e%2e/admin", "/api/tickets/./1",
//!             "/api/tickets//1", "/api/tickets/1/", "/api/a%2Fb", "/api/%zz", "/apix/1"] {
//!     assert!(resource_from_path("/api", bad).is_err(), "{bad}");
//! }
//! ```
//!
//! # As an MCP / OAuth resource server
//!
//! [`WarrantLayerBuilder::protected_resource`] makes the layer the resource server of RFC
//! 9728 metadata ([`ProtectedResourceMetadata`]), as the MCP authorization specification
//! asks of an MCP server:
//! - the resource is a [`ResourceUri`](crate::ResourceUri), canonical
//!   (`https://api.example/mcp`); it is the audience tokens must name (the verifier's
//!   own, or the layer's when the verifier has none) and its origin is the URL DPoP
//!   proofs must name;
//! - [`WarrantLayer::metadata_router`] serves the metadata without a token at the
//!   path-inserted well-known URI (`/.well-known/oauth-protected-resource/mcp`) and at the
//!   root one, naming the issuer in `authorization_servers`, with
//!   `dpop_signing_alg_values_supported` ([`DPOP_SIGNING_ALGS`]) and
//!   `dpop_bound_access_tokens_required` (`true` unless the verifier accepts bearer
//!   tokens); every challenge names the path-inserted URL;
//! - [`WarrantLayerBuilder::scopes`], [`WarrantLayerBuilder::route_scopes`] and
//!   [`WarrantLayerBuilder::scopes_with`] say which OAuth scopes each request needs: the
//!   401 and 403 challenges name them all in one `scope` parameter, so that a client can
//!   ask the issuer for them (step-up). They are hints, never what is checked: the token's
//!   grant decides, and a token with every scope named is still refused a request its
//!   grant does not allow;
//! - [`OriginLayer`] refuses browsers' requests from pages of other origins with 403
//!   (the `Origin` check MCP's streamable HTTP transport requires against DNS rebinding);
//!   requests without `Origin` (non-browser clients) pass.
//!
//! ```
//! use axum::http::{request::Parts, Method};
//! use axum::{routing::post, Router};
//! use warrant_verifier::http::{matched_route, OriginLayer, ProtectedResourceMetadata, WarrantLayer};
//! use warrant_verifier::{KeyId, KeySet, Request, ResourceUri, Verifier};
//! # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
//! # let keys = KeySet::single(KeyId(1), key.public());
//!
//! /// `POST /mcp` calls the tool its `Mcp-Name` header names: the resource `tools/<name>`.
//! fn map(parts: &Parts) -> Option<Request> {
//!     if parts.method != Method::POST || matched_route(parts) != Some("/mcp") {
//!         return None;
//!     }
//!     let tool = parts.headers.get("mcp-name")?.to_str().ok()?;
//!     Request::try_now(format!("tools/{tool}"), "call").ok()
//! }
//!
//! let resource: ResourceUri = "https://api.example/mcp".parse()?;
//! let metadata = ProtectedResourceMetadata::new(resource.clone(), "https://issuer.example");
//! let verifier = Verifier::builder(keys).audience(resource).build();
//! let layer = WarrantLayer::builder(verifier, map)
//!     .protected_resource(&metadata)
//!     .route_scopes(Method::POST, "/mcp", ["mcp:tools"])
//!     .build()?;
//! let metadata = layer.metadata_router();
//! let app: Router = Router::new()
//!     .route("/mcp", post(|| async { "called" }))
//!     .route_layer(layer)
//!     .layer(OriginLayer::new(["https://app.example"])?)
//!     .merge(metadata); // outside both: read without a token, from any page
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`protected_resource_metadata`] serves any metadata at the same two URIs.

mod allowed_origins;
mod credentials;
mod layer;
mod mapper;
mod metadata;
mod origin;
mod refusal;
mod resource;
mod scopes;

pub use allowed_origins::{OriginError, OriginLayer, OriginRefused, OriginService};
pub use credentials::{credentials, AuthScheme, Credentials, CredentialsError};
pub use layer::{LayerError, Warrant, WarrantLayer, WarrantLayerBuilder, WarrantService};
pub use mapper::{matched_route, Mapped, RequestMapper};
pub use metadata::{
    protected_resource_metadata, ProtectedResourceMetadata, DPOP_SIGNING_ALGS,
    PROTECTED_RESOURCE_METADATA_PATH,
};
pub use refusal::{denial_status, Refusal, MAX_DESCRIPTION_CHARS};
pub use resource::{resource_from_path, ResourcePathError};
pub use scopes::ScopeError;
