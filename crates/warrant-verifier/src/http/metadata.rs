//! RFC 9728 protected-resource metadata, served at the root and the path-inserted
//! well-known URIs.

use std::sync::Arc;

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::resource_uri::ResourceUri;

/// The JWS algorithms DPoP proofs may use, as the layer's `DPoP` challenges (`algs`,
/// RFC 9449 section 7.1) and the metadata (`dpop_signing_alg_values_supported`) name them.
pub const DPOP_SIGNING_ALGS: [&str; 2] = ["EdDSA", "ES256"];

/// RFC 9728 protected-resource metadata: what a client reads to learn which issuer to ask
/// for a token for this API, and how to present it.
///
/// ```
/// use warrant_verifier::http::ProtectedResourceMetadata;
///
/// let metadata = ProtectedResourceMetadata::new("https://api.example/mcp".parse()?, "https://issuer.example")
///     .scopes_supported(["tickets:read", "tickets:write"]);
/// assert_eq!(metadata.metadata_url(), "https://api.example/.well-known/oauth-protected-resource/mcp");
/// let json = serde_json::to_value(&metadata).unwrap();
/// assert_eq!(json["resource"], "https://api.example/mcp");
/// assert_eq!(json["authorization_servers"][0], "https://issuer.example");
/// assert_eq!(json["dpop_signing_alg_values_supported"], serde_json::json!(["EdDSA", "ES256"]));
/// assert_eq!(json["dpop_bound_access_tokens_required"], true);
/// # Ok::<(), warrant_verifier::ResourceUriError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// This API's resource identifier: its canonical URI, the audience its tokens name.
    pub resource: ResourceUri,
    /// The issuers whose tokens it accepts (at least one).
    pub authorization_servers: Vec<String>,
    /// Where the token goes: `["header"]`.
    pub bearer_methods_supported: Vec<String>,
    /// The scopes a client may ask for this API (optional). A [`WarrantLayer`] built
    /// with this metadata fills it with the scopes its routes declare when it is `None`.
    ///
    /// [`WarrantLayer`]: super::WarrantLayer
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// The algorithms DPoP proofs may use: [`DPOP_SIGNING_ALGS`].
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Whether every token must be bound to a key (sent with `DPoP`): `true` unless the
    /// verifier accepts bearer tokens. A [`WarrantLayer`] built with this metadata sets
    /// it from its verifier.
    ///
    /// [`WarrantLayer`]: super::WarrantLayer
    pub dpop_bound_access_tokens_required: bool,
    /// Human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Where the issuer publishes its key set (a warrant extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warrant_key_set: Option<String>,
}

impl ProtectedResourceMetadata {
    /// Metadata for `resource`, accepting tokens of `issuer`, requiring DPoP-bound tokens.
    pub fn new(resource: ResourceUri, issuer: impl Into<String>) -> Self {
        Self {
            resource,
            authorization_servers: vec![issuer.into()],
            bearer_methods_supported: vec!["header".to_owned()],
            scopes_supported: None,
            dpop_signing_alg_values_supported: DPOP_SIGNING_ALGS.map(str::to_owned).to_vec(),
            dpop_bound_access_tokens_required: true,
            resource_name: None,
            warrant_key_set: None,
        }
    }

    /// Sets `scopes_supported`.
    #[must_use]
    pub fn scopes_supported<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.scopes_supported = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `resource_name`.
    #[must_use]
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The path the metadata is served at for this resource (RFC 9728 section 3.1): the
    /// well-known path with the resource's path after it,
    /// `/.well-known/oauth-protected-resource/mcp` for `https://api.example/mcp`, or
    /// [`PROTECTED_RESOURCE_METADATA_PATH`] alone for a resource without a path.
    pub fn well_known_path(&self) -> String {
        format!("{PROTECTED_RESOURCE_METADATA_PATH}{}", self.resource.path())
    }

    /// The URL of [`Self::well_known_path`] at the resource's origin: what the layer names
    /// in its challenges (`resource_metadata="…"`) by default.
    pub fn metadata_url(&self) -> String {
        format!("{}{}", self.resource.origin(), self.well_known_path())
    }
}

/// The well-known path RFC 9728 defines for the metadata (at the root of an origin).
pub const PROTECTED_RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// A router serving `metadata` without a token, at both URIs MCP clients try: the
/// path-inserted one ([`ProtectedResourceMetadata::well_known_path`],
/// `/.well-known/oauth-protected-resource/mcp` for `https://api.example/mcp`) and the root
/// one ([`PROTECTED_RESOURCE_METADATA_PATH`]). Any other path below the well-known one is
/// 404. Merge it into the API's router outside the [`WarrantLayer`](super::WarrantLayer);
/// [`WarrantLayer::metadata_router`](super::WarrantLayer::metadata_router) serves the
/// metadata a layer was built with, completed from its verifier and routes.
pub fn protected_resource_metadata<S: Clone + Send + Sync + 'static>(
    metadata: ProtectedResourceMetadata,
) -> axum::Router<S> {
    let path: Arc<str> = Arc::from(metadata.well_known_path());
    let body = Arc::new(metadata);
    let root = {
        let body = Arc::clone(&body);
        move || {
            let body = Arc::clone(&body);
            async move { Json((*body).clone()).into_response() }
        }
    };
    // One route below the well-known path, compared with the resource's path at request
    // time: a route made from the path itself would be parsed as a route template.
    let below = move |uri: Uri| {
        let body = Arc::clone(&body);
        let path = Arc::clone(&path);
        async move {
            if uri.path() == &*path {
                Json((*body).clone()).into_response()
            } else {
                not_found()
            }
        }
    };
    axum::Router::new()
        .route(PROTECTED_RESOURCE_METADATA_PATH, axum::routing::get(root))
        .route(
            &format!("{PROTECTED_RESOURCE_METADATA_PATH}/{{*resource_path}}"),
            axum::routing::get(below),
        )
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}
