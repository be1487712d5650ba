//! The wire format of the issuer's HTTP API: every JSON request and response body, as the
//! handlers (`crate::routes`) read and write them, as the OpenAPI document
//! ([`crate::openapi`]) describes them, and as the `warrant` command sends and reads them.
//!
//! Requests refuse unknown fields (a misspelt field is a 400, never silently ignored) and
//! leave out the optional fields they do not carry. Responses accept unknown fields, so a
//! client keeps working when the issuer adds one. Values the handlers parse themselves
//! (keys, grants, durations) are strings here, so that a bad one is a 400 naming the field.
//!
//! This module depends on nothing else in the crate: a client can use it alone.
//!
//! ```
//! use warrant_issuer::api::{MintedToken, TokenRequest, Verification};
//!
//! let request = TokenRequest {
//!     human: "alice".into(),
//!     verification: Verification::DeviceKey {
//!         public_key: "ed25519/…".into(),
//!         nonce: "…".into(),
//!         signature: "…".into(),
//!     },
//!     grant: serde_json::json!({ "allow": [ { "resources": ["tickets/1"], "actions": ["read"] } ] }),
//!     role: None,
//!     holder: None,
//! };
//! let sent = serde_json::to_value(&request).unwrap();
//! assert_eq!(sent["verification"]["method"], "device-key");
//! assert!(sent.get("role").is_none(), "optional fields left out are not sent");
//!
//! let answer: MintedToken = serde_json::from_str(
//!     r#"{"token": "En0K…", "token_id": "00ff", "expires_at": "2026-11-30T10:00:00Z"}"#,
//! ).unwrap();
//! assert_eq!(answer.token_id, "00ff");
//! ```

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warrant_core::keys::{KeyId, PublicKey};

/// What a device key signs to answer a challenge: `warrant-device-key:<nonce>`.
pub fn challenge_message(nonce: &str) -> String {
    format!("warrant-device-key:{nonce}")
}

/// What an agent's key signs to prove possession when it is registered:
/// `warrant-agent-registration:<nonce>`.
pub fn agent_challenge_message(nonce: &str) -> String {
    format!("warrant-agent-registration:{nonce}")
}

/// An error: an RFC 9457 problem document (`Content-Type: application/problem+json`), what
/// every error response carries, whichever part of the stack produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of error it is.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase, lower case (`bad request`).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, one line; for a 5xx only `internal error`.
    pub detail: String,
}

/// `POST /v1/challenges`: whom the challenge is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The human's id.
    pub human: String,
}

/// `POST /v1/agents/challenges`: the key that will answer the challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentChallengeRequest {
    /// The agent's public key, `ed25519/<hex>`.
    pub public_key: String,
}

/// A one-time challenge (`POST /v1/challenges`, `POST /v1/agents/challenges`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Challenge {
    /// The nonce: 32 random bytes in hex.
    pub nonce: String,
    /// When it can no longer be answered (RFC 3339).
    pub expires_at: String,
    /// The text to sign: [`challenge_message`] or [`agent_challenge_message`] of the nonce.
    pub sign: String,
}

/// How a human proves, in the request itself, that they are the human it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method", deny_unknown_fields)]
pub enum Verification {
    /// An enrolled Ed25519 key's signature over `warrant-device-key:<nonce>`.
    #[serde(rename = "device-key")]
    DeviceKey {
        /// The device key, `ed25519/<hex>`.
        public_key: String,
        /// A nonce from `POST /v1/challenges` for the same human.
        nonce: String,
        /// Hex.
        signature: String,
    },
    /// A passkey's answer to a challenge from `POST /v1/requests/{id}/passkey`, which binds
    /// it to one decision: only approving or denying that request, with that narrowed
    /// grant.
    #[serde(rename = "passkey")]
    Passkey {
        /// The challenge's `ceremony`.
        ceremony: String,
        /// The `PublicKeyCredential` the authenticator returned (WebAuthn's JSON form).
        #[schema(value_type = Object)]
        credential: serde_json::Value,
    },
    /// An ID token from a configured identity provider, issued at most `oidc_max_age`
    /// ago, carrying as its `nonce` claim a challenge from `/v1/challenges` for the same
    /// human (`nonce`, required). The challenge and the ID token are each single use.
    #[serde(rename = "oidc")]
    Oidc {
        /// The provider's name in the configuration (`[[oidc]] name`).
        provider: String,
        /// The ID token (a JWT).
        id_token: String,
        /// The challenge the ID token carries as its `nonce` claim.
        nonce: String,
    },
}

/// `POST /v1/tokens`: a token for a human verified in this request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The human's id.
    pub human: String,
    /// The proof that the request comes from them.
    pub verification: Verification,
    /// The grant asked for (docs/token-profile.md).
    #[schema(value_type = Object)]
    pub grant: serde_json::Value,
    /// The role to delegate from; needed only when the human has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The agent key to bind the token to, `ed25519/<hex>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

/// A minted token (`POST /v1/tokens`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MintedToken {
    /// The token: URL-safe base64.
    pub token: String,
    /// Its id (32 hex digits), what `POST /v1/revocations {"kind": "token_id"}` takes.
    pub token_id: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
}

/// `POST /v1/revocations`: what to revoke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    /// `token_id`, `revocation_id`, `holder` or `admin_credential`.
    pub kind: String,
    /// The token id (32 hex digits), revocation id (128), holder key (`ed25519/…`) or
    /// admin credential id.
    pub value: String,
    /// Without an admin token: the human who minted the token, verified now (they may
    /// revoke their own tokens by `token_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human: Option<String>,
    /// That human's proof, as for minting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// What `POST /v1/revocations` did: a feed entry, or an admin credential revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Revoked {
    /// A token id, revocation id or holder, now in the feed.
    Feed(RevokedInFeed),
    /// An admin credential, revoked at once (never in the public feed).
    AdminCredential(RevokedAdminCredential),
}

/// A revocation in the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevokedInFeed {
    /// Its position in the feed (`GET /v1/revocations?since=`).
    pub cursor: i64,
}

/// A revoked admin credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevokedAdminCredential {
    /// Its id.
    pub admin_credential: String,
    /// Always `true`.
    pub revoked: bool,
}

/// A page of a feed or log: `?since=…&limit=…`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Since {
    /// Entries after this cursor or sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// At most this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// A page of the revocation feed (`GET /v1/revocations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevocationFeed {
    /// The entries after the cursor asked for, oldest first.
    pub entries: Vec<RevocationEntry>,
    /// The cursor to ask from next: the last entry's, or the one asked for.
    pub next_cursor: i64,
}

/// One revocation in the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevocationEntry {
    /// Its position in the feed.
    pub cursor: i64,
    /// `token_id`, `revocation_id` or `holder`.
    pub kind: String,
    /// What is revoked.
    pub value: String,
}

/// A key set (`/.well-known/warrant-keys`, `/.well-known/warrant-audit-keys`, and what
/// `POST /v1/keys/rotate` answers): the form of [`warrant_core::keys::KeySet`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeySet {
    /// The keys.
    pub keys: Vec<KeySetEntry>,
}

/// One key of a key set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeySetEntry {
    /// The key id tokens carry as `root_key_id`.
    #[schema(value_type = u32)]
    pub kid: KeyId,
    /// Always `Ed25519`.
    pub alg: String,
    /// `ed25519/<hex>`.
    #[schema(value_type = String)]
    pub public_key: PublicKey,
}

impl From<&warrant_core::keys::KeySet> for KeySet {
    fn from(set: &warrant_core::keys::KeySet) -> Self {
        Self {
            keys: set
                .keys
                .iter()
                .map(|k| KeySetEntry {
                    kid: k.kid,
                    alg: k.alg.clone(),
                    public_key: k.public_key,
                })
                .collect(),
        }
    }
}

impl From<KeySet> for warrant_core::keys::KeySet {
    fn from(set: KeySet) -> Self {
        Self {
            keys: set
                .keys
                .into_iter()
                .map(|k| warrant_core::keys::KeySetEntry {
                    kid: k.kid,
                    alg: k.alg,
                    public_key: k.public_key,
                })
                .collect(),
        }
    }
}

/// `POST /v1/agents`: an agent, with its key's proof of possession.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRequest {
    /// A name for people: 1 to 256 characters.
    pub name: String,
    /// The agent's public key, `ed25519/<hex>`.
    pub public_key: String,
    /// A nonce from `POST /v1/agents/challenges` for this key.
    pub nonce: String,
    /// Hex Ed25519 signature of `warrant-agent-registration:<nonce>` by the agent's key.
    pub signature: String,
    /// The human it acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// A registered agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Agent {
    /// Its id: its key's JWK thumbprint.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// `ed25519/<hex>`.
    pub public_key: String,
    /// The human it acts for, if any (`null` if none).
    #[schema(required = true)]
    pub owner: Option<String>,
    /// Disabled agents get no tokens, and their tokens are revoked.
    pub disabled: bool,
    /// Registration time (Unix seconds).
    pub created_at: i64,
}

/// Agents (`GET /v1/agents`, `POST /v1/agents/mine`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Agents {
    /// The agents.
    pub agents: Vec<Agent>,
}

/// A human, verified in the request (`POST /v1/agents/mine`, and an owner's
/// `POST /v1/agents/{id}/disable`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerRequest {
    /// The agents' owner.
    pub human: String,
    /// The proof that the request comes from them.
    pub verification: Verification,
}

/// A disabled agent (`POST /v1/agents/{id}/disable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentDisabled {
    /// The agent's id.
    pub agent: String,
    /// Always `true`.
    pub disabled: bool,
    /// The feed position of the revocation of its key's tokens.
    pub revocation_cursor: i64,
}

/// `POST /v1/humans`: a human to create or update, and device keys to enrol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HumanRequest {
    /// 1 to 256 printable characters.
    pub id: String,
    /// A name for people; by default the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The roles they may delegate from (each must exist).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Verified attributes, stamped on their tokens.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attrs: serde_json::Map<String, serde_json::Value>,
    /// Device keys to enrol, `ed25519/<hex>`.
    #[serde(default)]
    pub device_keys: Vec<String>,
}

/// A saved human (`POST /v1/humans`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HumanSaved {
    /// The human's id.
    pub id: String,
    /// Their roles now.
    pub roles: Vec<String>,
}

/// `POST /v1/roles`: a role to create or replace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// Its name.
    pub name: String,
    /// The longest a token minted from it may live (`30m`, `1h`).
    pub max_ttl: String,
    /// What its humans may delegate: a grant with at least one allow rule and no lifetime
    /// (docs/token-profile.md).
    #[schema(value_type = Object)]
    pub ceiling: serde_json::Value,
}

/// A saved role (`POST /v1/roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleSaved {
    /// Its name.
    pub name: String,
}

/// `POST /v1/admin/rotate`: which admin credential to revoke (an empty body, or `{}`: the
/// one presented).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminRotateRequest {
    /// The admin credential to revoke (its id); by default the one presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<String>,
}

/// A new admin credential, and the one revoked for it (`POST /v1/admin/rotate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RotatedAdminCredential {
    /// The new credential, `warrant-admin.<id>.<secret>`: shown this once.
    pub token: String,
    /// Its id.
    pub id: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
    /// The id of the credential revoked.
    pub revoked: String,
}

/// An admin credential, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AdminCredential {
    /// Its id: 32 hex digits.
    pub id: String,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// Revocation time (Unix seconds), `null` if not revoked.
    #[schema(required = true)]
    pub revoked_at: Option<i64>,
    /// Who issued it (`issuer`, or `admin:<id>`).
    pub created_by: String,
}

/// Every admin credential, newest first (`GET /v1/admin/credentials`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AdminCredentials {
    /// The credentials.
    pub credentials: Vec<AdminCredential>,
}

/// `POST /v1/requests` (by an agent, with a DPoP proof by its key): a token asked of a
/// human, who approves it (and may narrow it) or denies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilityRequest {
    /// The human asked.
    pub human: String,
    /// Why, shown to the human: 1 to 500 characters.
    pub reason: String,
    /// The grant asked for (docs/token-profile.md).
    #[schema(value_type = Object)]
    pub grant: serde_json::Value,
    /// The human's role to delegate from; needed only when they have several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// A capability request made (`POST /v1/requests`, 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestCreated {
    /// Its id (32 hex digits): `GET /v1/requests/{id}` collects the token.
    pub id: String,
    /// Where the human approves it.
    pub approve_url: String,
    /// When it ends unless approved (RFC 3339).
    pub expires_at: String,
    /// The grant asked for, in one sentence (the words `warrant inspect` uses).
    pub description: String,
}

/// A capability request as its agent sees it (`GET /v1/requests/{id}`): `202` while
/// pending (with `Retry-After`), `200` with the token once approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestState {
    /// Its id.
    pub id: String,
    /// `pending` or `approved`.
    pub status: String,
    /// When a pending request ends (RFC 3339).
    pub expires_at: String,
    /// The token, bound to the agent's key: once, when approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<MintedToken>,
}

/// Whom a capability request asks (`GET /v1/requests/{id}/human`): what its approve page
/// shows before anyone signs in, for clients that decide without a browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestHuman {
    /// The human the request asks.
    pub human: String,
}

/// `POST /v1/requests/{id}/approve` and `/deny`: the human asked, verified now; to
/// approve, optionally the grant narrowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The human the request asks.
    pub human: String,
    /// The proof that the decision comes from them.
    pub verification: Verification,
    /// To approve less than was asked: the request narrowed (fewer rules, actions or
    /// resources, lower limits, a shorter lifetime). Refused on a denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub grant: Option<serde_json::Value>,
}

/// A human's decision recorded (`POST /v1/requests/{id}/approve` and `/deny`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Decided {
    /// The request.
    pub id: String,
    /// `approved` or `denied`.
    pub status: String,
    /// What the human decided on, in one sentence: the grant approved (narrowed or as
    /// asked), or the one denied.
    pub description: String,
    /// When the token will expire, once collected (approved only; RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<String>,
}

/// An invitation to enrol a passkey (`POST /v1/humans/{id}/invites`): shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Invite {
    /// The link to open: it works once, until `expires_at`.
    pub url: String,
    /// For whom.
    pub human: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// A WebAuthn challenge: `options` go to `navigator.credentials` (or an authenticator),
/// its answer comes back with `ceremony`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PasskeyChallenge {
    /// The ceremony to name in the answer (32 hex digits; five minutes, once).
    pub ceremony: String,
    /// WebAuthn's `CredentialCreationOptions` or `CredentialRequestOptions`, JSON.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// `POST /v1/invites/{secret}/passkey`: the authenticator's new credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyEnrolment {
    /// The challenge's `ceremony`.
    pub ceremony: String,
    /// The `PublicKeyCredential` the authenticator created (WebAuthn's JSON form).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name for it ("laptop"); `passkey` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A passkey enrolled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PasskeyEnrolled {
    /// Whose.
    pub human: String,
    /// Its credential id (base64url).
    pub credential_id: String,
    /// Its name.
    pub name: String,
}

/// `POST /v1/requests/{id}/passkey`: a challenge for the human's passkey, bound to one
/// decision on the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyDecision {
    /// The human the request asks.
    pub human: String,
    /// `approve` or `deny`.
    pub verdict: String,
    /// To approve less than was asked: exactly the grant the approval will send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub grant: Option<serde_json::Value>,
}

/// `POST /web/signin/challenge`: a passkey challenge to sign in to the issuer's pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInChallenge {
    /// The human signing in.
    pub human: String,
}

/// `POST /web/signin`: the passkey's answer to a sign-in challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The human signing in.
    pub human: String,
    /// The challenge's `ceremony`.
    pub ceremony: String,
    /// The `PublicKeyCredential` the authenticator returned (WebAuthn's JSON form).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// A session begun (`POST /web/signin`; the cookie is in `Set-Cookie`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignedIn {
    /// Who.
    pub human: String,
    /// When the session ends (RFC 3339).
    pub expires_at: String,
}

/// An OpenAPI 3.1 document (`GET /openapi.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct OpenApiDocument(pub serde_json::Value);

#[cfg(test)]
mod tests {
    use super::*;

    /// The two answers of `POST /v1/revocations` read back as what they are.
    #[test]
    fn revoked_reads_either_answer() {
        let feed: Revoked = serde_json::from_str(r#"{"cursor": 7}"#).unwrap();
        assert_eq!(feed, Revoked::Feed(RevokedInFeed { cursor: 7 }));
        let admin: Revoked =
            serde_json::from_str(r#"{"admin_credential": "ab", "revoked": true}"#).unwrap();
        assert_eq!(
            admin,
            Revoked::AdminCredential(RevokedAdminCredential {
                admin_credential: "ab".into(),
                revoked: true,
            })
        );
        assert_eq!(serde_json::to_string(&feed).unwrap(), r#"{"cursor":7}"#);
    }

    /// Requests refuse unknown fields; absent optional fields are neither sent nor needed.
    #[test]
    fn requests_are_strict_and_leave_out_what_they_lack() {
        assert_eq!(
            serde_json::to_string(&AdminRotateRequest::default()).unwrap(),
            "{}"
        );
        let err = serde_json::from_str::<AdminRotateRequest>(r#"{"revokee": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `revokee`"), "{err}");
        let human: HumanRequest = serde_json::from_str(r#"{"id": "alice"}"#).unwrap();
        assert!(human.roles.is_empty() && human.attrs.is_empty() && human.display_name.is_none());
        let v = serde_json::to_value(Verification::Oidc {
            provider: "corp".into(),
            id_token: "eyJ".into(),
            nonce: "n".into(),
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"method": "oidc", "provider": "corp", "id_token": "eyJ", "nonce": "n"})
        );
    }

    /// A key set's form is the core type's, both ways.
    #[test]
    fn key_sets_convert_both_ways() {
        let json = r#"{"keys":[{"kid":3,"alg":"Ed25519","public_key":"ed25519/0000000000000000000000000000000000000000000000000000000000000000"}]}"#;
        let core: warrant_core::keys::KeySet = serde_json::from_str(json).unwrap();
        let wire = KeySet::from(&core);
        assert_eq!(serde_json::to_string(&wire).unwrap(), json);
        assert_eq!(warrant_core::keys::KeySet::from(wire), core);
    }
}
