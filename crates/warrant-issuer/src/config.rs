//! The issuer's configuration: a TOML file, every field optional, defaults defined here.
//!
//! ```toml
//! listen = "127.0.0.1:8414"              # where to listen
//! public_url = "http://127.0.0.1:8414"   # how clients reach it (in tokens and metadata)
//! data_dir = "warrant-data"              # SQLite file, admin token
//! database = "sqlite://warrant-data/warrant.db"   # or postgres://user@host/db
//! max_ttl = "1h"                         # no token lives longer, whatever its role
//! challenge_ttl = "2m"                   # how long a device-key challenge may be answered
//! audit_sign_every = 100                 # sign the audit head every N entries
//! audit_sign_interval = "5m"             # and every T, if anything was appended
//! body_limit = 65536                     # largest request body, bytes
//! mints_per_minute = 30                  # per human, across replicas (429 beyond)
//! request_ttl = "10m"                    # how long an agent's capability request awaits approval
//! invite_ttl = "24h"                     # how long an invitation to enrol a passkey works (once)
//! passkey_rp_id = "example.com"          # the WebAuthn relying party: public_url's host by default
//! requests_per_minute = 30               # capability requests per agent, across replicas
//! challenges_per_minute = 60             # per human and client address
//! challenges_per_minute_per_client = 120  # per client address, device-key and agent challenges
//! verifications_per_minute_per_client = 120  # per client address, answers to challenges
//! max_live_challenges = 100000           # unexpired challenges stored, all clients (429 beyond)
//! trusted_proxies = []                   # peers whose X-Forwarded-For names the client
//! oidc_max_age = "5m"                    # ID tokens issued longer ago are refused
//! request_timeout = "10s"
//! admin_token_ttl = "30d"                # lifetime of an admin credential (first start, rotation)
//!
//! [[roles]]
//! name = "support"
//! max_ttl = "30m"
//! [roles.ceiling]                        # a grant: the most this role may delegate
//! audience = ["support-api"]
//! allow = [
//!   { resources = ["tickets/*/**"], actions = ["read"] },
//!   { resources = ["orders/*"], actions = ["refund"], when = [ { attr = "amount", lt = 10000 } ] },
//! ]
//!
//! [[humans]]
//! id = "alice"
//! display_name = "Alice"
//! roles = ["support"]
//! device_keys = ["ed25519/…"]            # keys made with `warrant keygen`
//! attrs = { kyc_complete = true }        # verified attributes the issuer vouches for
//! invite = true                          # print a link to enrol a passkey at start, until one is
//!
//! [[oidc]]                               # an identity provider for `oidc` verification
//! name = "corp"
//! issuer = "https://login.example.com"
//! audience = "warrant"                   # the client id the ID tokens are for
//! jwks_url = "https://login.example.com/.well-known/jwks.json"
//! human_claim = "sub"                    # the claim holding the human id (default `sub`)
//!
//! [oauth]                                # the OAuth 2.1 authorization server (config::oauth)
//! access_token_ttl = "5m"
//! [oauth.scopes]
//! "tickets:read" = { allow = [ { resources = ["tickets/**"], actions = ["read"] } ] }
//! ```
//!
//! The key-encryption key never goes in the file: it comes from `WARRANT_KEK`.

pub mod oauth;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use warrant_core::grant::{toml_to_json, Grant};
use warrant_core::keys::PublicKey;
use warrant_core::time::Span;

/// Defaults, defined once.
pub mod defaults {
    /// Listen address.
    pub const LISTEN: &str = "127.0.0.1:8414";
    /// Data directory.
    pub const DATA_DIR: &str = "warrant-data";
    /// Longest token lifetime.
    pub const MAX_TTL: &str = "1h";
    /// Lifetime of a device-key challenge.
    pub const CHALLENGE_TTL: &str = "2m";
    /// Sign the audit head every this many entries.
    pub const AUDIT_SIGN_EVERY: i64 = 100;
    /// And every this long.
    pub const AUDIT_SIGN_INTERVAL: &str = "5m";
    /// Largest request body.
    pub const BODY_LIMIT: usize = 64 * 1024;
    /// Longest request.
    pub const REQUEST_TIMEOUT: &str = "10s";
    /// Mints a human may ask for per minute.
    pub const MINTS_PER_MINUTE: i64 = 30;
    /// Challenges asked for one human from one client address per minute.
    pub const CHALLENGES_PER_MINUTE: i64 = 60;
    /// Lifetime of an admin credential (made on first start, or by rotation).
    pub const ADMIN_TOKEN_TTL: &str = "30d";
    /// Challenges one client address may ask for per minute.
    pub const CHALLENGES_PER_MINUTE_PER_CLIENT: i64 = 120;
    /// Verification attempts (mints, revocations, agent requests by a human) per client
    /// address per minute: each answers a challenge, so as many as challenges.
    pub const VERIFICATIONS_PER_MINUTE_PER_CLIENT: i64 = CHALLENGES_PER_MINUTE_PER_CLIENT;
    /// Unexpired challenges stored at once, device-key and agent ones together.
    pub const MAX_LIVE_CHALLENGES: i64 = 100_000;
    /// The oldest ID token (by `iat`) accepted.
    pub const OIDC_MAX_AGE: &str = "5m";
    /// How long an agent's capability request awaits its human's approval, and how long
    /// an approved one may then be collected.
    pub const REQUEST_TTL: &str = "10m";
    /// Capability requests one agent may make per minute.
    pub const REQUESTS_PER_MINUTE: i64 = 30;
    /// How long an invitation to enrol a passkey works.
    pub const INVITE_TTL: &str = "24h";
}

/// Why the configuration is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("cannot read `{0}`: {1}")]
    Read(String, String),
    /// Not valid TOML, or unknown fields.
    #[error("invalid configuration: {0}")]
    Toml(String),
    /// A field with an invalid value.
    #[error("invalid configuration: {field}: {message}")]
    Field {
        /// Where.
        field: String,
        /// What.
        message: String,
    },
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    database: Option<String>,
    max_ttl: Option<String>,
    challenge_ttl: Option<String>,
    audit_sign_every: Option<i64>,
    audit_sign_interval: Option<String>,
    body_limit: Option<usize>,
    request_timeout: Option<String>,
    mints_per_minute: Option<i64>,
    request_ttl: Option<String>,
    requests_per_minute: Option<i64>,
    invite_ttl: Option<String>,
    passkey_rp_id: Option<String>,
    challenges_per_minute: Option<i64>,
    admin_token_ttl: Option<String>,
    challenges_per_minute_per_client: Option<i64>,
    verifications_per_minute_per_client: Option<i64>,
    max_live_challenges: Option<i64>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    oidc_max_age: Option<String>,
    #[serde(default)]
    roles: Vec<RawRole>,
    #[serde(default)]
    humans: Vec<RawHuman>,
    #[serde(default)]
    oidc: Vec<crate::oidc::OidcProviderConfig>,
    #[serde(default)]
    oauth: oauth::RawOAuth,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: String,
    max_ttl: Option<String>,
    ceiling: toml::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHuman {
    id: String,
    display_name: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    device_keys: Vec<String>,
    #[serde(default)]
    attrs: toml::Table,
    #[serde(default)]
    invite: bool,
}

/// A role: the most its humans may delegate.
#[derive(Debug, Clone)]
pub struct Role {
    /// Name.
    pub name: String,
    /// The ceiling.
    pub ceiling: Grant,
    /// Longest token lifetime for this role.
    pub max_ttl: Span,
}

/// A human seeded from the configuration.
#[derive(Debug, Clone)]
pub struct Human {
    /// Id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Enrolled device keys.
    pub device_keys: Vec<PublicKey>,
    /// Verified attributes, JSON.
    pub attrs: serde_json::Map<String, serde_json::Value>,
    /// Whether `warrant serve` prints an invitation to enrol a passkey for them when it
    /// starts and they have none yet.
    pub invite: bool,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// How clients reach the issuer.
    pub public_url: String,
    /// Whether `public_url` was derived from `listen` (then it follows the bound address).
    pub public_url_is_default: bool,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL.
    pub database: String,
    /// Longest token lifetime.
    pub max_ttl: Span,
    /// Device-key challenge lifetime.
    pub challenge_ttl: Span,
    /// Sign the audit head every N entries.
    pub audit_sign_every: i64,
    /// And every T.
    pub audit_sign_interval: Span,
    /// Largest request body.
    pub body_limit: usize,
    /// Longest request.
    pub request_timeout: Duration,
    /// Mints per human per minute.
    pub mints_per_minute: i64,
    /// How long a capability request awaits approval (and an approved one collection).
    pub request_ttl: Span,
    /// Capability requests per agent per minute.
    pub requests_per_minute: i64,
    /// How long an invitation to enrol a passkey works.
    pub invite_ttl: Span,
    /// The WebAuthn relying party id, when set (else `public_url`'s host).
    pub passkey_rp_id: Option<String>,
    /// Challenges per human per client address per minute.
    pub challenges_per_minute: i64,
    /// Lifetime of an admin credential.
    pub admin_token_ttl: Span,
    /// Challenges per client address per minute.
    pub challenges_per_minute_per_client: i64,
    /// Human verifications per client address per minute, counted before anything else.
    pub verifications_per_minute_per_client: i64,
    /// Unexpired challenges stored at once (device-key and agent ones together).
    pub max_live_challenges: i64,
    /// Peers (reverse proxies) whose `X-Forwarded-For` names the client; empty: the
    /// connection's peer address is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The oldest ID token accepted, by its `iat`.
    pub oidc_max_age: Span,
    /// Roles to seed.
    pub roles: Vec<Role>,
    /// Humans to seed.
    pub humans: Vec<Human>,
    /// Identity providers whose ID tokens verify humans (`[[oidc]]`).
    pub oidc: Vec<crate::oidc::OidcProviderConfig>,
    /// The OAuth authorization server (`[oauth]`: [`oauth`]).
    pub oauth: oauth::OAuthConfig,
}

fn field(field: impl Into<String>, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Field {
        field: field.into(),
        message: message.to_string(),
    }
}

fn span(name: &str, value: Option<String>, default: &str) -> Result<Span, ConfigError> {
    value
        .as_deref()
        .unwrap_or(default)
        .parse()
        .map_err(|e| field(name, e))
}

impl Config {
    /// The defaults (no file).
    pub fn defaults() -> Result<Self, ConfigError> {
        Self::from_raw(Raw::default())
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let raw: Raw =
            toml::from_str(text).map_err(|e| ConfigError::Toml(e.message().to_owned()))?;
        Self::from_raw(raw)
    }

    /// Reads a configuration file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read(path.display().to_string(), e.to_string()))?;
        Self::from_toml(&text)
    }

    fn from_raw(raw: Raw) -> Result<Self, ConfigError> {
        let listen: SocketAddr = raw
            .listen
            .as_deref()
            .unwrap_or(defaults::LISTEN)
            .parse()
            .map_err(|_| field("listen", "expected an address such as `127.0.0.1:8414`"))?;
        let data_dir = raw
            .data_dir
            .unwrap_or_else(|| PathBuf::from(defaults::DATA_DIR));
        let database = raw
            .database
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("warrant.db").display()));
        let public_url_is_default = raw.public_url.is_none();
        let public_url = raw
            .public_url
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        let roles = raw
            .roles
            .into_iter()
            .enumerate()
            .map(|(i, r)| role(i, r))
            .collect::<Result<Vec<_>, _>>()?;
        let humans = raw
            .humans
            .into_iter()
            .enumerate()
            .map(|(i, h)| human(i, h, &roles))
            .collect::<Result<_, _>>()?;
        let trusted_proxies = proxies(&raw.trusted_proxies)?;
        let request_timeout = span(
            "request_timeout",
            raw.request_timeout,
            defaults::REQUEST_TIMEOUT,
        )?;
        Ok(Self {
            listen,
            public_url,
            public_url_is_default,
            data_dir,
            database,
            max_ttl: span("max_ttl", raw.max_ttl, defaults::MAX_TTL)?,
            challenge_ttl: span("challenge_ttl", raw.challenge_ttl, defaults::CHALLENGE_TTL)?,
            audit_sign_every: raw
                .audit_sign_every
                .unwrap_or(defaults::AUDIT_SIGN_EVERY)
                .max(1),
            audit_sign_interval: span(
                "audit_sign_interval",
                raw.audit_sign_interval,
                defaults::AUDIT_SIGN_INTERVAL,
            )?,
            body_limit: raw.body_limit.unwrap_or(defaults::BODY_LIMIT),
            request_timeout: Duration::from_secs(request_timeout.seconds()),
            mints_per_minute: raw
                .mints_per_minute
                .unwrap_or(defaults::MINTS_PER_MINUTE)
                .max(1),
            request_ttl: span("request_ttl", raw.request_ttl, defaults::REQUEST_TTL)?,
            invite_ttl: span("invite_ttl", raw.invite_ttl, defaults::INVITE_TTL)?,
            passkey_rp_id: raw.passkey_rp_id,
            requests_per_minute: raw
                .requests_per_minute
                .unwrap_or(defaults::REQUESTS_PER_MINUTE)
                .max(1),
            challenges_per_minute: raw
                .challenges_per_minute
                .unwrap_or(defaults::CHALLENGES_PER_MINUTE)
                .max(1),
            admin_token_ttl: span(
                "admin_token_ttl",
                raw.admin_token_ttl,
                defaults::ADMIN_TOKEN_TTL,
            )?,
            challenges_per_minute_per_client: raw
                .challenges_per_minute_per_client
                .unwrap_or(defaults::CHALLENGES_PER_MINUTE_PER_CLIENT)
                .max(1),
            verifications_per_minute_per_client: raw
                .verifications_per_minute_per_client
                .unwrap_or(defaults::VERIFICATIONS_PER_MINUTE_PER_CLIENT)
                .max(1),
            max_live_challenges: raw
                .max_live_challenges
                .unwrap_or(defaults::MAX_LIVE_CHALLENGES)
                .max(1),
            trusted_proxies,
            oidc_max_age: span("oidc_max_age", raw.oidc_max_age, defaults::OIDC_MAX_AGE)?,
            roles,
            humans,
            oidc: raw.oidc,
            oauth: oauth::OAuthConfig::from_raw(raw.oauth)?,
        })
    }
}

/// `roles[i]`, checked: a ceiling with an allow rule, no lifetime of its own (that is the
/// role's `max_ttl`) and nothing reserved for the issuer.
fn role(i: usize, r: RawRole) -> Result<Role, ConfigError> {
    let ceiling = Grant::from_json(&toml_to_json(&r.ceiling))
        .map_err(|e| field(format!("roles[{i}].ceiling"), e))?;
    if ceiling.allow.is_empty() {
        return Err(field(
            format!("roles[{i}].ceiling"),
            "a ceiling needs at least one allow rule",
        ));
    }
    if ceiling.ttl.is_some() || ceiling.expires_at.is_some() {
        return Err(field(
            format!("roles[{i}].ceiling"),
            "put the lifetime in the role's `max_ttl`",
        ));
    }
    crate::reserved::reserved(&ceiling, &ceiling.audience)
        .map_err(|e| field(format!("roles[{i}].ceiling"), e))?;
    Ok(Role {
        name: r.name,
        ceiling,
        max_ttl: span(&format!("roles[{i}].max_ttl"), r.max_ttl, defaults::MAX_TTL)?,
    })
}

/// `humans[i]`, checked: every role defined, every device key a key.
fn human(i: usize, h: RawHuman, roles: &[Role]) -> Result<Human, ConfigError> {
    for role in &h.roles {
        if !roles.iter().any(|r| &r.name == role) {
            return Err(field(
                format!("humans[{i}].roles"),
                format!("no role `{role}` is defined"),
            ));
        }
    }
    let device_keys = h
        .device_keys
        .iter()
        .map(|k| {
            k.parse()
                .map_err(|e| field(format!("humans[{i}].device_keys"), e))
        })
        .collect::<Result<_, _>>()?;
    let attrs = match toml_to_json(&toml::Value::Table(h.attrs)) {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    Ok(Human {
        display_name: h.display_name.unwrap_or_else(|| h.id.clone()),
        id: h.id,
        roles: h.roles,
        device_keys,
        attrs,
        invite: h.invite,
    })
}

/// `trusted_proxies`: IP addresses.
fn proxies(listed: &[String]) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    listed
        .iter()
        .map(|p| {
            p.parse().map_err(|_| {
                field(
                    "trusted_proxies",
                    format!("`{p}` is not an IP address such as `10.0.0.1`"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let c = Config::defaults().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8414");
        assert_eq!(c.database, "sqlite://warrant-data/warrant.db");
        assert_eq!(c.max_ttl.seconds(), 3600);
        assert_eq!(c.public_url, "http://127.0.0.1:8414");
        assert_eq!(c.oidc_max_age.seconds(), 300);
        assert_eq!(c.max_live_challenges, 100_000);
        assert!(
            c.trusted_proxies.is_empty(),
            "X-Forwarded-For is not trusted"
        );
        let e = Config::from_toml("trusted_proxies = [\"proxy\"]").unwrap_err();
        assert!(
            e.to_string().contains("`proxy` is not an IP address"),
            "{e}"
        );
    }

    #[test]
    fn roles_and_humans_are_validated() {
        let c = Config::from_toml(
            r#"
[[roles]]
name = "support"
max_ttl = "30m"
[roles.ceiling]
audience = ["support-api"]
allow = [ { resources = ["tickets/**"], actions = ["read"] } ]
[[humans]]
id = "alice"
roles = ["support"]
attrs = { kyc_complete = true }
"#,
        )
        .unwrap();
        assert_eq!(c.roles[0].max_ttl.seconds(), 1800);
        assert_eq!(c.humans[0].attrs["kyc_complete"], true);
        let e = Config::from_toml("[[humans]]\nid = \"bob\"\nroles = [\"nope\"]\n").unwrap_err();
        assert!(e.to_string().contains("no role `nope`"), "{e}");
        let e = Config::from_toml("listen = \"nowhere\"").unwrap_err();
        assert!(
            e.to_string().starts_with("invalid configuration: listen:"),
            "{e}"
        );
        let e = Config::from_toml("colour = \"blue\"").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e =
            Config::from_toml("[[roles]]\nname = \"r\"\nceiling = { allow = [] }\n").unwrap_err();
        assert!(e.to_string().contains("at least one allow rule"), "{e}");
        assert_eq!(c.admin_token_ttl.seconds(), 30 * 86_400);
    }

    #[test]
    fn roles_cannot_name_the_issuer() {
        for ceiling in [
            r#"{ audience = ["warrant-issuer"], allow = [ { resources = ["tickets/**"], actions = ["read"] } ] }"#,
            r#"{ allow = [ { resources = ["admin/**"], actions = ["*"] } ] }"#,
        ] {
            let e = Config::from_toml(&format!("[[roles]]\nname = \"r\"\nceiling = {ceiling}\n"))
                .unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("invalid configuration: roles[0].ceiling:"),
                "{e}"
            );
        }
        Config::from_toml(
            "[[roles]]\nname = \"r\"\nceiling = { allow = [ { resources = [\"**\"], actions = [\"read\"] } ] }\n",
        )
        .unwrap();
    }
}
