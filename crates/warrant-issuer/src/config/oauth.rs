//! The `[oauth]` section of the configuration: scope names and the grants they stand for,
//! clients registered in advance, lifetimes, and whether client metadata may be fetched
//! from private addresses (tests only).
//!
//! ```toml
//! [oauth]
//! access_token_ttl = "5m"        # each access token (and never past the role's max_ttl)
//! refresh_ttl = "24h"            # how long one consent can be refreshed, at most
//! dangerous_allow_private_client_metadata = false  # fetch client metadata from loopback/private addresses, over http too
//!
//! [oauth.scopes]                  # scope name → the grant it asks for (audience: the resource)
//! "tickets:read" = { allow = [ { resources = ["tickets/**"], actions = ["read"] } ] }
//!
//! [[oauth.clients]]               # clients registered in advance (besides metadata documents)
//! client_id = "support-cli"
//! name = "Support CLI"
//! redirect_uris = ["http://127.0.0.1:7777/callback"]
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use warrant_core::grant::{toml_to_json, Grant};
use warrant_core::time::Span;

use super::ConfigError;
use crate::clients::Client;

/// Defaults, defined once.
pub mod defaults {
    /// Lifetime of each access token.
    pub const ACCESS_TOKEN_TTL: &str = "5m";
    /// How long one consent may be refreshed.
    pub const REFRESH_TTL: &str = "24h";
    /// How long an authorization code may be exchanged.
    pub const CODE_SECONDS: i64 = 60;
    /// How long the human has to consent, from `/authorize`.
    pub const CONSENT_SECONDS: i64 = 10 * 60;
    /// How long a consent the human asked to remember is honoured without asking.
    pub const REMEMBER_SECONDS: i64 = 30 * 86_400;
}

/// `[oauth]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOAuth {
    access_token_ttl: Option<String>,
    refresh_ttl: Option<String>,
    #[serde(default)]
    dangerous_allow_private_client_metadata: bool,
    #[serde(default)]
    scopes: BTreeMap<String, toml::Value>,
    #[serde(default)]
    clients: Vec<RawClient>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    client_id: String,
    name: Option<String>,
    redirect_uris: Vec<String>,
}

/// The OAuth authorization server's configuration.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// Lifetime of each access token.
    pub access_token_ttl: Span,
    /// How long one consent may be refreshed, at most.
    pub refresh_ttl: Span,
    /// Whether client metadata documents may be fetched from loopback and private
    /// addresses, and over `http` there (tests): never in production.
    pub dangerous_allow_private_client_metadata: bool,
    /// Scope names and the grants they ask for.
    pub scopes: BTreeMap<String, Grant>,
    /// Clients registered in advance.
    pub clients: Vec<Client>,
}

fn field(field: impl Into<String>, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Field {
        field: field.into(),
        message: message.to_string(),
    }
}

/// A scope name: RFC 6749's `scope-token`, with no space, `"` or `\`.
pub(crate) fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

impl OAuthConfig {
    /// Parses and checks `[oauth]`.
    pub(crate) fn from_raw(raw: RawOAuth) -> Result<Self, ConfigError> {
        let span = |name: &str, v: Option<String>, default: &str| -> Result<Span, ConfigError> {
            v.as_deref()
                .unwrap_or(default)
                .parse()
                .map_err(|e| field(format!("oauth.{name}"), e))
        };
        let mut scopes = BTreeMap::new();
        for (name, value) in raw.scopes {
            let at = format!("oauth.scopes.{name}");
            if !is_scope_token(&name) {
                return Err(field(at, "a scope name is 1 to 128 printable ASCII characters without spaces, `\"` or `\\`"));
            }
            let grant = Grant::from_json(&toml_to_json(&value)).map_err(|e| field(&at, e))?;
            if grant.allow.is_empty() {
                return Err(field(at, "a scope needs at least one allow rule"));
            }
            if !grant.audience.is_empty() || grant.ttl.is_some() || grant.expires_at.is_some() {
                return Err(field(
                    at,
                    "a scope names no audience (the `resource` is) and no lifetime",
                ));
            }
            scopes.insert(name, grant);
        }
        let mut clients: Vec<Client> = Vec::new();
        for (i, c) in raw.clients.into_iter().enumerate() {
            let at = format!("oauth.clients[{i}]");
            let client = Client::registered(c.client_id, c.name, c.redirect_uris)
                .map_err(|e| field(&at, e))?;
            if clients.iter().any(|o| o.client_id == client.client_id) {
                return Err(field(at, format!("`{}` is listed twice", client.client_id)));
            }
            clients.push(client);
        }
        Ok(Self {
            access_token_ttl: span(
                "access_token_ttl",
                raw.access_token_ttl,
                defaults::ACCESS_TOKEN_TTL,
            )?,
            refresh_ttl: span("refresh_ttl", raw.refresh_ttl, defaults::REFRESH_TTL)?,
            dangerous_allow_private_client_metadata: raw.dangerous_allow_private_client_metadata,
            scopes,
            clients,
        })
    }
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            access_token_ttl: Span::from_seconds(300),
            refresh_ttl: Span::from_seconds(86_400),
            dangerous_allow_private_client_metadata: false,
            scopes: BTreeMap::new(),
            clients: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<OAuthConfig, ConfigError> {
        let raw: RawOAuth = toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        OAuthConfig::from_raw(raw)
    }

    #[test]
    fn defaults_are_short_and_safe() {
        let c = parse("").unwrap();
        assert_eq!(c.access_token_ttl.seconds(), 300);
        assert_eq!(c.refresh_ttl.seconds(), 86_400);
        assert!(!c.dangerous_allow_private_client_metadata);
        let d = OAuthConfig::default();
        assert_eq!(d.access_token_ttl, c.access_token_ttl);
        assert_eq!(d.refresh_ttl, c.refresh_ttl);
    }

    #[test]
    fn scopes_and_clients_are_checked() {
        let c = parse(
            r#"
[scopes]
"tickets:read" = { allow = [ { resources = ["tickets/**"], actions = ["read"] } ] }
[[clients]]
client_id = "cli"
redirect_uris = ["http://127.0.0.1:7777/callback"]
"#,
        )
        .unwrap();
        assert!(c.scopes.contains_key("tickets:read"));
        assert_eq!(c.clients[0].name, "cli");
        for (bad, says) in [
            (
                r#"[scopes]
"a b" = { allow = [ { resources = ["t"], actions = ["read"] } ] }"#,
                "scope name",
            ),
            (
                r#"[scopes]
s = { audience = ["x"], allow = [ { resources = ["t"], actions = ["read"] } ] }"#,
                "no audience",
            ),
            (
                r#"[scopes]
s = { allow = [] }"#,
                "at least one allow rule",
            ),
            (
                r#"[[clients]]
client_id = "c"
redirect_uris = ["http://127.0.0.1/cb#frag"]"#,
                "fragment",
            ),
            (
                r#"[[clients]]
client_id = "c"
redirect_uris = []"#,
                "at least one",
            ),
            (
                r#"[[clients]]
client_id = "c"
redirect_uris = ["http://127.0.0.1/cb"]
[[clients]]
client_id = "c"
redirect_uris = ["http://127.0.0.1/cb"]"#,
                "twice",
            ),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
