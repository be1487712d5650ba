//! RFC 8414 authorization server metadata.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::GRANT_DETAILS_TYPE;

/// The issuer's OAuth metadata (`/.well-known/oauth-authorization-server`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorizationServerMetadata {
    /// The issuer: the public URL, exactly where this was fetched from.
    pub issuer: String,
    /// `/authorize`.
    pub authorization_endpoint: String,
    /// `/token`.
    pub token_endpoint: String,
    /// `["code"]`.
    pub response_types_supported: Vec<String>,
    /// `["query"]`.
    pub response_modes_supported: Vec<String>,
    /// `authorization_code`, `refresh_token`.
    pub grant_types_supported: Vec<String>,
    /// `["none"]`: public clients.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `["S256"]`.
    pub code_challenge_methods_supported: Vec<String>,
    /// `EdDSA`, `ES256`.
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Clients may be metadata documents.
    pub client_id_metadata_document_supported: bool,
    /// RFC 9207.
    pub authorization_response_iss_parameter_supported: bool,
    /// `["warrant_grant"]`.
    pub authorization_details_types_supported: Vec<String>,
    /// The configured scopes.
    pub scopes_supported: Vec<String>,
    /// Resource indicators are required (RFC 8707).
    pub resource_indicators_supported: bool,
    /// Where the API is described.
    pub service_documentation: String,
}

impl AuthorizationServerMetadata {
    /// The metadata of the issuer at `public_url` with `scopes`.
    pub fn new(public_url: &str, scopes: Vec<String>) -> Self {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Self {
            issuer: public_url.to_owned(),
            authorization_endpoint: format!("{public_url}/authorize"),
            token_endpoint: format!("{public_url}/token"),
            response_types_supported: strings(&["code"]),
            response_modes_supported: strings(&["query"]),
            grant_types_supported: strings(&["authorization_code", "refresh_token"]),
            token_endpoint_auth_methods_supported: strings(&["none"]),
            code_challenge_methods_supported: strings(&["S256"]),
            dpop_signing_alg_values_supported: strings(&["EdDSA", "ES256"]),
            client_id_metadata_document_supported: true,
            authorization_response_iss_parameter_supported: true,
            authorization_details_types_supported: strings(&[GRANT_DETAILS_TYPE]),
            scopes_supported: scopes,
            resource_indicators_supported: true,
            service_documentation: format!("{public_url}/openapi.json"),
        }
    }
}
