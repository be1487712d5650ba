//! The issuer's own admin authority: admin credentials, and what the mint path refuses.
//!
//! An admin credential is `warrant-admin.<id>.<secret>`: 16 random bytes of id and 32 of
//! secret, in hex. It is not a warrant token and nothing signs it: the issuer keeps the
//! SHA-256 of the secret in `admin_credentials` with the credential's expiry and
//! revocation, and reads that row on every admin request. So
//! - no token a human mints through `POST /v1/tokens` is ever an admin credential, whatever
//!   its grant says (the two cannot be confused: one is a Biscuit, the other is not);
//! - a revocation takes effect on the next request, on every replica (no cache);
//! - checking a credential is a parse, one indexed read and a hash: no Datalog runs, so an
//!   appended block cannot make the check expensive;
//! - rotating the signing keys neither extends nor ends an admin credential.
//!
//! The mint path also refuses what could only be meant for the issuer ([`reserved`]): the
//! audience `warrant-issuer`, and, in a grant that reaches every audience (none named),
//! patterns that name the issuer's `admin/…` resources.

use warrant_core::time::{Span, Timestamp};

use crate::error::ApiError;
use crate::secrets::{is_hex, random_hex, same, sha256_hex};
use crate::state::AppState;
use crate::store::AdminCredentialRow;

pub use crate::reserved::{reserved, ADMIN_AUDIENCE};

/// How every admin credential begins.
pub const PREFIX: &str = "warrant-admin.";

/// A newly issued admin credential (the only time its secret is known).
#[derive(Debug, Clone)]
pub struct Issued {
    /// The credential to present: `warrant-admin.<id>.<secret>`.
    pub token: String,
    /// Its id (what `POST /v1/revocations {"kind": "admin_credential"}` takes).
    pub id: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Splits a credential into its id and secret, if it has the shape of one.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.strip_prefix(PREFIX)?.split_once('.')?;
    (is_hex(id, 32) && is_hex(secret, 64)).then_some((id, secret))
}

/// Whether `text` has the shape of an admin credential (not whether it is live).
pub fn is_credential(text: &str) -> bool {
    parse(text.trim()).is_some()
}

fn hash(secret: &str) -> String {
    sha256_hex(&secret.to_ascii_lowercase())
}

/// The credentials of an `Authorization` value with the `Bearer` scheme, which RFC 9110
/// §11.1 makes case-insensitive (`bearer …` and `BEARER …` too), after one or more spaces.
pub fn bearer(authorization: &str) -> Option<&str> {
    use warrant_verifier::http::{AuthScheme, Credentials};
    Credentials::parse(authorization)
        .ok()
        .filter(|c| c.scheme == AuthScheme::Bearer)
        .map(|c| c.token)
}

const MISSING: &str =
    "this endpoint needs an admin credential: `Authorization: Bearer warrant-admin.…` (warrant-data/admin.token)";

/// The admin credential of a request, checked: the extractor of every admin endpoint.
///
/// Cheap first and nothing else: the `Authorization: Bearer` value's shape, then the
/// credential's row read from the database on every request (so a revocation binds every
/// replica at once), its secret's hash, revocation and expiry (401 for each, with
/// `WWW-Authenticate`). A warrant token is never an admin credential. It runs before the
/// body is read: a request without a live credential learns nothing from its body.
///
/// As `Option<Admin>` (an endpoint open to admins and to others): `None` when the request
/// has no `Authorization` header; a credential presented is checked all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    id: String,
}

impl Admin {
    /// The credential's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The actor's name in the audit log: `admin:<id>`.
    pub fn actor(&self) -> String {
        format!("admin:{}", self.id)
    }

    /// The 401 for a request that needs an admin credential and has none.
    pub fn missing() -> ApiError {
        ApiError::Unauthorized(MISSING.into())
    }
}

impl axum::extract::FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        s: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .ok_or_else(Self::missing)?;
        let row = s.admin_credential(presented).await?;
        tracing::debug!(
            credential = %row.id,
            method = %parts.method,
            path = %parts.uri.path(),
            "admin request"
        );
        Ok(Self { id: row.id })
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        s: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            <Self as axum::extract::FromRequestParts<AppState>>::from_request_parts(parts, s)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}

impl AppState {
    /// The live credential row behind `presented`, or a 401 saying why not.
    pub async fn admin_credential(&self, presented: &str) -> Result<AdminCredentialRow, ApiError> {
        let Some((id, secret)) = parse(presented) else {
            return Err(ApiError::Unauthorized(
                "invalid admin credential: expected `warrant-admin.<id>.<secret>` as written to warrant-data/admin.token (a warrant token is never an admin credential)".into(),
            ));
        };
        let id = id.to_ascii_lowercase();
        let unknown = || {
            ApiError::Unauthorized("invalid admin credential: unknown id or wrong secret".into())
        };
        let row = self
            .store
            .admin_credential(&id)
            .await?
            .ok_or_else(unknown)?;
        if !same(&row.secret_hash, &hash(secret)) {
            return Err(unknown());
        }
        if row.revoked_at.is_some() {
            return Err(ApiError::Unauthorized(format!(
                "invalid admin credential: `{id}` is revoked: use a current one, or delete warrant-data/admin.token and restart the issuer for a new one"
            )));
        }
        if row.expires_at <= self.now().unix_i64() {
            return Err(ApiError::Unauthorized(format!(
                "invalid admin credential: `{id}` has expired: rotate before expiry with `warrant admin rotate`, or delete warrant-data/admin.token and restart the issuer for a new one"
            )));
        }
        Ok(row)
    }

    /// Issues an admin credential living `admin_token_ttl`, recorded in the audit log in
    /// the same transaction (its id only; the secret is never stored).
    pub async fn issue_admin_credential(&self, actor: &str) -> Result<Issued, ApiError> {
        self.issue_admin_credential_for(actor, self.config.admin_token_ttl)
            .await
    }

    async fn issue_admin_credential_for(&self, actor: &str, ttl: Span) -> Result<Issued, ApiError> {
        let (issued, row, detail) = self.new_admin_credential(actor, ttl);
        let entry = self
            .store
            .add_admin_credential(&row, "admin_credential", actor, &detail)
            .await?;
        self.maybe_sign_head(&entry).await?;
        Ok(issued)
    }

    /// A fresh credential living `ttl`: what to hand over, the row to store, the detail
    /// of its audit entry.
    fn new_admin_credential(
        &self,
        actor: &str,
        ttl: Span,
    ) -> (Issued, AdminCredentialRow, serde_json::Value) {
        let id = random_hex(16);
        let secret = random_hex(32);
        let now = self.now();
        let expires_at = now.plus(ttl);
        let row = AdminCredentialRow {
            id: id.clone(),
            secret_hash: hash(&secret),
            created_at: now.unix_i64(),
            expires_at: expires_at.unix_i64(),
            revoked_at: None,
            created_by: actor.to_owned(),
        };
        let detail = serde_json::json!({ "id": id, "expires_at": expires_at.to_string() });
        let issued = Issued {
            token: format!("{PREFIX}{id}.{secret}"),
            id,
            expires_at,
        };
        (issued, row, detail)
    }

    /// Rotates live admin credential `revoke` into a new one living `admin_token_ttl`: the
    /// revocation (of exactly one live row), the new credential and both audit entries in
    /// one transaction. `None`, and nothing issued, if `revoke` is not live by then (a
    /// concurrent rotation or revocation won), so one credential never rotates into two.
    pub async fn rotate_admin_credential(
        &self,
        revoke: &str,
        actor: &str,
    ) -> Result<Option<Issued>, ApiError> {
        let (issued, row, detail) = self.new_admin_credential(actor, self.config.admin_token_ttl);
        let revoked = serde_json::json!({ "id": revoke });
        let Some(entry) = self
            .store
            .rotate_admin_credential(&row, revoke, actor, &detail, &revoked)
            .await?
        else {
            return Ok(None);
        };
        self.maybe_sign_head(&entry).await?;
        Ok(Some(issued))
    }

    /// Revokes admin credential `id` (audited); a 404 if there is none.
    pub async fn revoke_admin_credential(&self, id: &str, actor: &str) -> Result<(), ApiError> {
        let id = id.trim().to_ascii_lowercase();
        let detail = serde_json::json!({ "id": id });
        match self
            .store
            .revoke_admin_credential(&id, self.now().unix_i64(), actor, &detail)
            .await?
        {
            Some(entry) => self.maybe_sign_head(&entry).await,
            None => Err(ApiError::NotFound(format!(
                "no admin credential `{id}`: `GET /v1/admin/credentials` lists them"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_parse_strictly() {
        let t = format!("{PREFIX}{}.{}", "a".repeat(32), "b".repeat(64));
        assert!(parse(&t).is_some());
        assert!(parse(&t[..t.len() - 1]).is_none());
        assert!(parse(&format!("{t}.x")).is_none());
        assert!(parse("En0KEwoEYWRtaW4").is_none());
    }

    /// RFC 9110 §11.1: the scheme is case-insensitive, followed by one or more spaces.
    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for (value, credentials) in [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER abc", Some("abc")),
            ("bEaReR  abc", Some("abc")),
            ("Bearer", None),
            ("Bearer ", None),
            ("Bearerabc", None),
            ("Basic abc", None),
            ("DPoP abc", None),
        ] {
            assert_eq!(bearer(value), credentials, "{value:?}");
        }
    }
}
