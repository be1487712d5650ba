//! The issuer as an OAuth 2.1 authorization server, so that a standard client (an MCP
//! client, an agent framework) can obtain a warrant token with no warrant-specific code.
//!
//! - `GET /.well-known/oauth-authorization-server` (RFC 8414): [`metadata`].
//! - `GET /authorize` ([`authorize`]): authorization code with PKCE S256 required, RFC
//!   8707 `resource` required (it becomes the token's only audience, canonicalised), what
//!   is asked for as `scope` (names mapped to grants in `[oauth.scopes]`) or as RFC 9396
//!   `authorization_details` of type `warrant_grant` carrying a grant. The client is
//!   registered in `[[oauth.clients]]` or described by a metadata document
//!   ([`crate::clients`]); its redirect URI must be one it lists, exactly. Errors go back to the
//!   client's redirect URI when that is known to be the client's (RFC 6749 section
//!   4.1.2.1), or are shown on a page when it is not. Then the human signs in with a
//!   passkey on the consent page (`/consent/{id}`), which shows the client's name and its
//!   redirect host, and approves (and may narrow) or denies with a passkey bound to that
//!   one decision. The answer carries `code`, `state` and `iss` (RFC 9207).
//! - `POST /token` ([`token`]): `authorization_code` (the code single use, short-lived,
//!   bound to the PKCE verifier, the client and the redirect URI) or `refresh_token`
//!   (rotated on every use; a replayed one revokes its whole family), always with a DPoP
//!   proof (RFC 9449): the access token is a warrant token bound to the proof's key, for
//!   the resource, for `access_token_ttl` at most; the refresh token is bound to the same
//!   key.
//! - A consent is remembered per (human, client, resource, grant asked) only when the
//!   human ticks "remember"; it never carries past the role's ceiling (every token is
//!   minted against the ceiling as it is then), and the console lists and forgets them.

pub mod authorize;
pub mod consent;
pub mod metadata;
pub mod token;

use serde::Serialize;

pub use crate::clients::{Client, ClientError};
pub use crate::config::oauth::OAuthConfig;

/// The `warrant_grant` type of RFC 9396 authorization details.
pub const GRANT_DETAILS_TYPE: &str = "warrant_grant";

/// An OAuth error (RFC 6749 section 4.1.2.1 and 5.2, RFC 8707, RFC 9396, RFC 9449): its
/// code and a description for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// `invalid_request`, `invalid_grant`, …
    pub code: &'static str,
    /// What went wrong and what to do.
    pub description: String,
}

impl OAuthError {
    pub(crate) fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
    pub(crate) fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    pub(crate) fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", d)
    }
    pub(crate) fn invalid_target(d: impl Into<String>) -> Self {
        Self::new("invalid_target", d)
    }
    pub(crate) fn invalid_dpop_proof(d: impl Into<String>) -> Self {
        Self::new("invalid_dpop_proof", d)
    }

    /// The status `/token` answers it with (RFC 6749 section 5.2).
    pub(crate) fn status(&self) -> axum::http::StatusCode {
        match self.code {
            "invalid_client" => axum::http::StatusCode::UNAUTHORIZED,
            "server_error" => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => axum::http::StatusCode::SERVICE_UNAVAILABLE,
            _ => axum::http::StatusCode::BAD_REQUEST,
        }
    }
}

/// An error body of `/token`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error code.
    pub error: String,
    /// What went wrong.
    pub error_description: String,
}

/// A resource indicator in its canonical form (RFC 8707, as MCP asks), as the verifier
/// checks it ([`warrant_verifier::ResourceUri`]): an absolute `http(s)` URL, scheme and
/// host in lowercase, no default port, no trailing slash, no fragment, query or
/// credentials.
pub(crate) fn canonical_resource(text: &str) -> Result<String, OAuthError> {
    warrant_verifier::ResourceUri::parse(text)
        .map(String::from)
        .map_err(|e| OAuthError::invalid_target(format!("`resource`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_canonical() {
        for (given, canonical) in [
            ("HTTPS://API.Example:443/mcp/", "https://api.example/mcp"),
            ("https://api.example", "https://api.example"),
            ("https://api.example/", "https://api.example"),
            ("http://127.0.0.1:8080/MCP", "http://127.0.0.1:8080/MCP"),
        ] {
            assert_eq!(canonical_resource(given).unwrap(), canonical, "{given}");
        }
        for bad in [
            "api.example",
            "ftp://api.example/x",
            "https://api.example/mcp#f",
            "https://api.example/mcp?x=1",
            "https://u:p@api.example/mcp",
        ] {
            let e = canonical_resource(bad).unwrap_err();
            assert_eq!(e.code, "invalid_target", "{bad}");
        }
    }
}
