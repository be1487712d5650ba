//! RFC 9728 protected-resource metadata.

use std::sync::Arc;

use axum::Json;
use serde::Serialize;

/// RFC 9728 protected-resource metadata.
#[derive(Debug, Clone, Serialize)]
pub struct ProtectedResourceMetadata {
    /// This API's resource identifier (its URL).
    pub resource: String,
    /// The issuers whose tokens it accepts.
    pub authorization_servers: Vec<String>,
    /// Where the token goes: `["header"]`.
    pub bearer_methods_supported: Vec<String>,
    /// The JWS `alg` values of the DPoP proofs it accepts: `["EdDSA", "ES256"]`.
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Where the issuer publishes its key set (a warrant extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warrant_key_set: Option<String>,
}

impl ProtectedResourceMetadata {
    /// Metadata for `resource`, accepting tokens of `issuer`.
    pub fn new(resource: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: vec![issuer.into()],
            bearer_methods_supported: vec!["header".to_owned()],
            dpop_signing_alg_values_supported: warrant_core::keys::HolderAlgorithm::ALL
                .iter()
                .map(|a| a.jws_alg().to_owned())
                .collect(),
            resource_name: None,
            warrant_key_set: None,
        }
    }
}

/// The path RFC 9728 defines for the metadata.
pub const PROTECTED_RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// A router serving `metadata` at [`PROTECTED_RESOURCE_METADATA_PATH`]; merge it into the
/// API's router outside the [`WarrantLayer`](super::WarrantLayer) so clients can read it without a token.
pub fn protected_resource_metadata<S: Clone + Send + Sync + 'static>(
    metadata: ProtectedResourceMetadata,
) -> axum::Router<S> {
    let body = Arc::new(metadata);
    axum::Router::new().route(
        PROTECTED_RESOURCE_METADATA_PATH,
        axum::routing::get(move || {
            let body = Arc::clone(&body);
            async move { Json((*body).clone()) }
        }),
    )
}
