//! `POST /token` (see the module documentation of [`crate::oauth`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use warrant_core::dpop::{self, DEFAULT_PROOF_WINDOW};
use warrant_core::grant::{Grant, Method};
use warrant_core::keys::HolderPublicKey;
use warrant_core::time::{Span, Timestamp};

use super::authorize::Params;
use super::{canonical_resource, OAuthError};
use crate::error::ApiError;
use crate::mint::Requested;
use crate::requests::at;
use crate::secrets::{is_hex, random_hex, same, sha256_hex};
use crate::state::AppState;
use crate::store::{AuthorizationRow, FamilyRow, HumanRow, Refreshed, Store};

/// A successful `/token` answer (RFC 6749 section 5.1, RFC 9449 section 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The warrant token, bound to the DPoP proof's key.
    pub access_token: String,
    /// `DPoP`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// A refresh token, bound to the same key, rotated on every use.
    pub refresh_token: String,
    /// The scopes granted, when the authorization asked by scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A `/token` request (`application/x-www-form-urlencoded`), as the OpenAPI document
/// describes it; the route reads the form's pairs itself, so that a repeated parameter is
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: String,
    /// The client's id.
    pub client_id: String,
    /// `authorization_code`: the code.
    pub code: Option<String>,
    /// `authorization_code`: the redirect URI of the authorization request.
    pub redirect_uri: Option<String>,
    /// `authorization_code`: the PKCE verifier.
    pub code_verifier: Option<String>,
    /// `refresh_token`: the refresh token.
    pub refresh_token: Option<String>,
    /// The resource the token is for; must be the authorization's when given.
    pub resource: Option<String>,
}

/// A `/token` answer: the tokens, or an OAuth error (recorded already).
pub(crate) type TokenResult = Result<TokenResponse, OAuthError>;

/// A code verifier (RFC 7636 section 4.1): 43 to 128 unreserved characters.
fn is_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// What a token is minted from: the consent.
struct Consent<'a> {
    human: &'a HumanRow,
    role: &'a str,
    grant: Grant,
    holder: HolderPublicKey,
    method: Method,
    verified_at: Timestamp,
    /// No token outlives the consent.
    ends: Timestamp,
}

impl AppState {
    /// `POST /token` with the form's `pairs` and the `DPoP` header, from `client`.
    pub(crate) async fn oauth_token(
        &self,
        client: &str,
        dpop_header: Option<&str>,
        pairs: Vec<(String, String)>,
    ) -> Result<TokenResult, ApiError> {
        let client_id = pairs
            .iter()
            .find(|(k, _)| k == "client_id")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let result = self.token_request(dpop_header, pairs).await?;
        if let Err(e) = &result {
            self.oauth_refused(client, "token", &client_id, e).await?;
        }
        Ok(result)
    }

    async fn token_request(
        &self,
        dpop_header: Option<&str>,
        pairs: Vec<(String, String)>,
    ) -> Result<TokenResult, ApiError> {
        let params = match Params::new(pairs) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let grant_type = params.get("grant_type").unwrap_or("");
        if !matches!(grant_type, "authorization_code" | "refresh_token") {
            return Ok(Err(OAuthError::new(
                "unsupported_grant_type",
                format!(
                    "`grant_type` is `{}`: this issuer supports `authorization_code` and `refresh_token`",
                    grant_type.escape_debug()
                ),
            )));
        }
        let Some(client_id) = params.get("client_id") else {
            return Ok(Err(OAuthError::invalid_request(
                "`client_id` is missing: a public client names itself",
            )));
        };
        let holder = match self.token_proof(dpop_header).await? {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        if grant_type == "authorization_code" {
            self.exchange_code(&params, client_id, holder).await
        } else {
            self.refresh(&params, client_id, holder).await
        }
    }

    /// The key of the request's DPoP proof (RFC 9449 section 5), its `jti` used up.
    async fn token_proof(
        &self,
        header: Option<&str>,
    ) -> Result<Result<HolderPublicKey, OAuthError>, ApiError> {
        let Some(proof) = header else {
            return Ok(Err(OAuthError::invalid_dpop_proof(
                "a DPoP proof is required (`DPoP` header): tokens are bound to the client's key",
            )));
        };
        let url = format!("{}/token", self.config.public_url);
        let now = self.now();
        let p =
            match dpop::check_token_request_proof(proof, "POST", &url, now, DEFAULT_PROOF_WINDOW) {
                Ok(p) => p,
                Err(e) => return Ok(Err(OAuthError::invalid_dpop_proof(e.to_string()))),
            };
        let until = p.iat.plus(DEFAULT_PROOF_WINDOW).unix_i64();
        let mut tx = self.store.begin().await?;
        let fresh = Store::use_proof(&mut tx, &format!("oauth:{}:{}", p.key, p.jti), until).await;
        let fresh = crate::state::finish(tx, fresh.map_err(ApiError::from)).await?;
        if !fresh {
            return Ok(Err(OAuthError::invalid_dpop_proof(
                "this DPoP proof was used before: sign a new one for every request",
            )));
        }
        Ok(Ok(p.key))
    }

    /// `grant_type=authorization_code`.
    async fn exchange_code(
        &self,
        params: &Params,
        client_id: &str,
        holder: HolderPublicKey,
    ) -> Result<TokenResult, ApiError> {
        let now = self.now();
        let (Some(code), Some(redirect_uri)) = (params.get("code"), params.get("redirect_uri"))
        else {
            return Ok(Err(OAuthError::invalid_request(
                "`code` and `redirect_uri` are required",
            )));
        };
        let Some(verifier) = params.get("code_verifier") else {
            return Ok(Err(OAuthError::invalid_request(
                "`code_verifier` is missing: PKCE is required",
            )));
        };
        if !is_verifier(verifier) {
            return Ok(Err(OAuthError::invalid_request(
                "`code_verifier` must be 43 to 128 characters of `A-Z a-z 0-9 - . _ ~`",
            )));
        }
        let Some(row) = self.store.authorization_by_code(&sha256_hex(code)).await? else {
            return Ok(Err(OAuthError::invalid_grant(
                "unknown code: authorize again",
            )));
        };
        if let Some(e) = self
            .code_refusal(&row, params, client_id, redirect_uri, verifier, now)
            .await?
        {
            return Ok(Err(e));
        }
        let Some(human) = self
            .store
            .human(row.human_id.as_deref().unwrap_or_default())
            .await?
        else {
            return Ok(Err(OAuthError::invalid_grant(
                "the human who consented no longer exists",
            )));
        };
        let (Some(role), Some(approved), Some(method), Some(verified_at), Some(lifetime)) = (
            row.role.as_deref(),
            row.approved_json.as_deref(),
            row.method.as_deref().and_then(Method::parse),
            row.verified_at,
            row.lifetime,
        ) else {
            return Err(ApiError::Internal(format!(
                "authorization `{}` is approved without its approval",
                row.id
            )));
        };
        let grant = Grant::from_json_str(approved)
            .map_err(|e| ApiError::Internal(format!("stored approved grant: {e}")))?;
        let family = FamilyRow {
            id: random_hex(16),
            client_id: row.client_id.clone(),
            human_id: human.id.clone(),
            role: role.to_owned(),
            resource: row.resource.clone(),
            grant_json: approved.to_owned(),
            method: method.as_str().to_owned(),
            verified_at,
            holder: holder.to_string(),
            current_hash: String::new(),
            created_at: now.unix_i64(),
            expires_at: now.unix_i64().saturating_add(lifetime),
            revoked_at: None,
        };
        let consent = Consent {
            human: &human,
            role,
            grant,
            holder,
            method,
            verified_at: at(verified_at),
            ends: at(family.expires_at),
        };
        // The scopes granted: as asked, unless the human narrowed the request (RFC 6749
        // section 5.1 says the answer names what was granted).
        let scope = row
            .scope
            .clone()
            .filter(|_| row.approved_json.as_deref() == Some(row.grant_json.as_str()));
        self.issue(family, consent, Some(&row), scope).await
    }

    /// Why the code of `row` cannot be exchanged by this request, if it cannot. A code used
    /// before revokes every token it gave.
    async fn code_refusal(
        &self,
        row: &AuthorizationRow,
        params: &Params,
        client_id: &str,
        redirect_uri: &str,
        verifier: &str,
        now: Timestamp,
    ) -> Result<Option<OAuthError>, ApiError> {
        if row.status == "exchanged" {
            if let Some(f) = &row.family {
                self.revoke_family(f, "code replayed").await?;
            }
            return Ok(Some(OAuthError::invalid_grant(
                "this code was used before: the tokens it gave are revoked; authorize again",
            )));
        }
        if row.status != "approved" || row.code_expires_at.is_none_or(|e| e < now.unix_i64()) {
            return Ok(Some(OAuthError::invalid_grant(
                "this code has expired: authorize again",
            )));
        }
        if row.client_id != client_id {
            return Ok(Some(OAuthError::invalid_grant(
                "this code was issued to another client",
            )));
        }
        if row.redirect_uri != redirect_uri {
            return Ok(Some(OAuthError::invalid_grant(
                "`redirect_uri` is not the one of the authorization request",
            )));
        }
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if !same(&challenge, &row.code_challenge) {
            return Ok(Some(OAuthError::invalid_grant(
                "`code_verifier` does not match the `code_challenge` of the authorization request",
            )));
        }
        if let Some(e) = self.resource_refusal(params, &row.resource) {
            return Ok(Some(e));
        }
        Ok(None)
    }

    /// A `resource` parameter at `/token` must name the authorization's resource.
    fn resource_refusal(&self, params: &Params, resource: &str) -> Option<OAuthError> {
        let asked = params.get("resource")?;
        match canonical_resource(asked) {
            Ok(r) if r == resource => None,
            Ok(r) => Some(OAuthError::invalid_target(format!(
                "`resource` `{r}` is not the `{resource}` this grant is for"
            ))),
            Err(e) => Some(e),
        }
    }

    /// `grant_type=refresh_token`.
    async fn refresh(
        &self,
        params: &Params,
        client_id: &str,
        holder: HolderPublicKey,
    ) -> Result<TokenResult, ApiError> {
        let now = self.now();
        let Some(refresh) = params.get("refresh_token") else {
            return Ok(Err(OAuthError::invalid_request(
                "`refresh_token` is missing",
            )));
        };
        let unknown = || OAuthError::invalid_grant("unknown refresh token: authorize again");
        let Some((family_id, secret)) = refresh.split_once('.') else {
            return Ok(Err(unknown()));
        };
        if !is_hex(family_id, 32) || !is_hex(secret, 64) {
            return Ok(Err(unknown()));
        }
        let f = match self
            .store
            .refresh_token(family_id, &sha256_hex(refresh))
            .await?
        {
            Refreshed::Unknown => return Ok(Err(unknown())),
            // Only the family's key may end it: a spent refresh token alone (stolen from a
            // log, say) must not let anyone revoke a client's access.
            Refreshed::Replayed(f) if f.holder == holder.to_string() => {
                self.revoke_family(&f.id, "refresh token replayed").await?;
                return Ok(Err(OAuthError::invalid_grant(
                    "this refresh token was used before: its family is revoked; authorize again",
                )));
            }
            Refreshed::Replayed(_) => {
                return Ok(Err(OAuthError::invalid_grant(
                    "this refresh token was used before: authorize again",
                )))
            }
            Refreshed::Live(f) => *f,
        };
        if f.revoked_at.is_some() {
            return Ok(Err(OAuthError::invalid_grant(
                "this refresh token was revoked: authorize again",
            )));
        }
        if f.expires_at <= now.unix_i64() {
            return Ok(Err(OAuthError::invalid_grant(
                "this consent has ended: authorize again",
            )));
        }
        if f.client_id != client_id {
            return Ok(Err(OAuthError::invalid_grant(
                "this refresh token was issued to another client",
            )));
        }
        if f.holder != holder.to_string() {
            return Ok(Err(OAuthError::invalid_dpop_proof(format!(
                "this refresh token is bound to the key `{}`, not `{holder}`: sign the proof with the key the tokens were issued to",
                f.holder
            ))));
        }
        if let Some(e) = self.resource_refusal(params, &f.resource) {
            return Ok(Err(e));
        }
        let Some(human) = self.store.human(&f.human_id).await? else {
            return Ok(Err(OAuthError::invalid_grant(
                "the human who consented no longer exists",
            )));
        };
        let grant = Grant::from_json_str(&f.grant_json)
            .map_err(|e| ApiError::Internal(format!("stored family grant: {e}")))?;
        let method = Method::parse(&f.method)
            .ok_or_else(|| ApiError::Internal(format!("stored method `{}`", f.method)))?;
        let role = f.role.clone();
        let consent = Consent {
            human: &human,
            role: &role,
            grant,
            holder,
            method,
            verified_at: at(f.verified_at),
            ends: at(f.expires_at),
        };
        self.issue(f, consent, None, None).await
    }

    /// Mints an access token for `consent` and a new refresh token of `family`: for a
    /// code (`exchanged`: its authorization), the family is new; otherwise it rotates.
    async fn issue(
        &self,
        mut family: FamilyRow,
        consent: Consent<'_>,
        exchanged: Option<&AuthorizationRow>,
        scope: Option<String>,
    ) -> Result<TokenResult, ApiError> {
        let now = self.now();
        let prepared = match self.mint_for(&consent, now).await? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let refresh = format!("{}.{}", family.id, random_hex(32));
        let old = std::mem::replace(&mut family.current_hash, sha256_hex(&refresh));
        let mut detail = prepared.detail.clone();
        if let Some(d) = detail.as_object_mut() {
            d.insert(
                "oauth".into(),
                json!({
                    "client_id": family.client_id, "resource": family.resource, "family": family.id,
                    "grant_type": if exchanged.is_some() { "authorization_code" } else { "refresh_token" },
                    "authorization": exchanged.map(|a| a.id.clone()),
                }),
            );
        }
        let mut tx = self.store.begin().await?;
        let written = async {
            self.rate_limit(
                &mut tx,
                "mint",
                &consent.human.id,
                self.config.mints_per_minute,
            )
            .await?;
            match exchanged {
                Some(a) => {
                    if !Store::exchange_code(&mut tx, &a.id, &family.id, now.unix_i64()).await? {
                        return Ok(Err(OAuthError::invalid_grant(
                            "this code was used or has expired: authorize again",
                        )));
                    }
                    Store::insert_family(&mut tx, &family).await?;
                }
                None => {
                    if !Store::rotate_refresh(
                        &mut tx,
                        &family.id,
                        &old,
                        &family.current_hash,
                        family.expires_at,
                    )
                    .await?
                    {
                        return Ok(Err(OAuthError::invalid_grant(
                            "this refresh token was used already: authorize again",
                        )));
                    }
                }
            }
            Store::insert_token(&mut tx, &prepared.row).await?;
            Store::note_expiry(&mut tx, prepared.row.kid, prepared.row.expires_at).await?;
            Store::note_family_token(
                &mut tx,
                &prepared.row.token_id,
                &family.id,
                prepared.row.expires_at,
            )
            .await?;
            let entry = Store::append_audit(
                &mut tx,
                prepared.row.issued_at,
                "mint",
                &consent.human.id,
                &detail,
            )
            .await?;
            Ok::<_, ApiError>(Ok(entry))
        }
        .await;
        let entry = match crate::state::finish(tx, written).await? {
            Ok(entry) => entry,
            Err(e) => return Ok(Err(e)),
        };
        self.metrics.minted();
        self.maybe_sign_head(&entry).await?;
        Ok(Ok(TokenResponse {
            access_token: prepared.minted.token,
            token_type: "DPoP".into(),
            expires_in: u64::try_from(prepared.minted.expires_at.seconds_since(now)).unwrap_or(0),
            refresh_token: refresh,
            scope,
        }))
    }

    /// The access token of `consent`, signed, before anything is written: within
    /// `access_token_ttl`, the role's and the issuer's longest and the consent's end, from
    /// the role's ceiling as it is `now`.
    async fn mint_for(
        &self,
        consent: &Consent<'_>,
        now: Timestamp,
    ) -> Result<Result<crate::mint::Prepared, OAuthError>, ApiError> {
        let stored_role = self
            .store
            .role(consent.role)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("role `{}` is missing", consent.role)))?;
        let role_max = Span::from_seconds(u64::try_from(stored_role.max_ttl).unwrap_or(0));
        let left = Span::from_seconds(
            u64::try_from(consent.ends.seconds_since(now))
                .unwrap_or(0)
                .max(1),
        );
        let ttl = self
            .config
            .oauth
            .access_token_ttl
            .min(role_max)
            .min(self.config.max_ttl)
            .min(left);
        let mut g = consent.grant.clone();
        g.ttl = Some(ttl);
        g.expires_at = None;
        match self
            .prepare(
                consent.human,
                Requested(g),
                Some(consent.role),
                Some(consent.holder),
                (consent.method, consent.verified_at),
                None,
            )
            .await
        {
            Ok(p) => Ok(Ok(p)),
            Err(crate::mint::Refusal::Api(e)) => Err(e),
            // The role or its ceiling changed since the consent: it no longer holds.
            Err(r) => Ok(Err(OAuthError::invalid_grant(format!(
                "the consent can no longer be honoured: {r}; authorize again"
            )))),
        }
    }

    /// Revokes the refresh family that minted token `token_id`, if one did: revoking an
    /// OAuth client's token ends its access, not just until its next refresh.
    pub(crate) async fn revoke_family_of(&self, token_id: &str) -> Result<(), ApiError> {
        match self.store.family_of_token(token_id).await? {
            Some(family) => {
                self.revoke_family(&family, "a token of it was revoked")
                    .await
            }
            None => Ok(()),
        }
    }

    /// Revokes family `family` and every unexpired token it gave (`why` in the audit).
    pub(crate) async fn revoke_family(&self, family: &str, why: &str) -> Result<(), ApiError> {
        let now = self.now().unix_i64();
        let mut tx = self.store.begin().await?;
        let revoked = async {
            let first = Store::revoke_family(&mut tx, family, now).await?;
            if first {
                let detail = json!({ "family": family, "why": why });
                Store::append_audit(&mut tx, now, "oauth_family_revoked", "issuer", &detail)
                    .await?;
            }
            Ok::<_, ApiError>(first)
        }
        .await;
        if !crate::state::finish(tx, revoked).await? {
            return Ok(());
        }
        for token_id in self.store.family_tokens(family, now).await? {
            let (_, entry) = self
                .store
                .revoke("token_id", &token_id, "issuer", now)
                .await?;
            self.maybe_sign_head(&entry).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_are_rfc_7636_s() {
        assert!(is_verifier(&"a".repeat(43)));
        assert!(is_verifier(&"~._-".repeat(32)));
        assert!(!is_verifier(&"a".repeat(42)));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(43))));
    }
}
