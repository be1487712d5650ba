//! `GET /authorize` and the consent decision (see the module documentation of
//! [`crate::oauth`]).

use serde_json::json;
use warrant_core::grant::Grant;

use super::{canonical_resource, OAuthError, GRANT_DETAILS_TYPE};
use crate::clients::Client;
use crate::config::oauth::defaults;
use crate::error::ApiError;
use crate::mint::Requested;
use crate::secrets::random_hex;
use crate::state::AppState;
use crate::store::{AuthorizationRow, Store};

/// The longest `state` echoed.
const MAX_STATE_LEN: usize = 1024;

/// What `/authorize` answers.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The consent page of this authorization.
    Consent(String),
    /// Back to the client: a code, or an error.
    Redirect(String),
    /// An error no redirect URI can be trusted with: shown on a page.
    Page(OAuthError),
}

/// The parameters of a request, each at most once (RFC 6749 section 3.1).
pub(crate) struct Params(Vec<(String, String)>);

/// Names only: values may be codes, verifiers and refresh tokens.
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Params {
    /// `pairs`, refused when a parameter repeats.
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs.iter().skip(i + 1).any(|(o, _)| o == k) {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter `{}` is given more than once",
                    k.escape_debug()
                )));
            }
        }
        Ok(Self(pairs))
    }

    /// A parameter; an empty one counts as absent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// The client's redirect URI with `params` added to its query.
pub(crate) fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(params);
            u.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

/// PKCE (RFC 7636): a S256 challenge is the base64url SHA-256 of the verifier, 43
/// characters.
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The grant asked by `scope` (the configured grants of its names, merged).
fn grant_of_scope(s: &AppState, scope: &str) -> Result<Grant, OAuthError> {
    let mut grant = Grant::default();
    for name in scope.split(' ').filter(|n| !n.is_empty()) {
        let part = s.config.oauth.scopes.get(name).ok_or_else(|| {
            OAuthError::new(
                "invalid_scope",
                format!(
                    "unknown scope `{}`: this issuer knows {}",
                    name.escape_debug(),
                    known_scopes(s)
                ),
            )
        })?;
        grant.merge(part.clone());
    }
    if grant.allow.is_empty() {
        return Err(OAuthError::new("invalid_scope", "`scope` names no scope"));
    }
    Ok(grant)
}

fn known_scopes(s: &AppState) -> String {
    let names: Vec<String> = s
        .config
        .oauth
        .scopes
        .keys()
        .map(|k| format!("`{k}`"))
        .collect();
    if names.is_empty() {
        "none (use `authorization_details`)".to_owned()
    } else {
        names.join(", ")
    }
}

/// The grant asked by RFC 9396 `authorization_details`: entries of type
/// [`GRANT_DETAILS_TYPE`], each with a `grant`, merged.
fn grant_of_details(details: &str) -> Result<Grant, OAuthError> {
    let bad = |why: String| OAuthError::new("invalid_authorization_details", why);
    let entries: Vec<serde_json::Value> = serde_json::from_str(details)
        .map_err(|_| bad("`authorization_details` is not a JSON array".into()))?;
    if entries.is_empty() {
        return Err(bad("`authorization_details` is empty".into()));
    }
    let mut grant = Grant::default();
    for (i, e) in entries.iter().enumerate() {
        match e.get("type").and_then(|t| t.as_str()) {
            Some(GRANT_DETAILS_TYPE) => {}
            other => {
                return Err(bad(format!(
                    "authorization_details[{i}]: type `{}` is not supported: use `{GRANT_DETAILS_TYPE}`",
                    other.unwrap_or("").escape_debug()
                )))
            }
        }
        let g = e
            .get("grant")
            .ok_or_else(|| bad(format!("authorization_details[{i}] has no `grant`")))?;
        let g = Grant::from_json(g)
            .map_err(|e| bad(format!("authorization_details[{i}].grant: {e}")))?;
        grant.merge(g);
    }
    Ok(grant)
}

impl AppState {
    /// `GET /authorize` with the query's `pairs`, from `client` (its address), with the
    /// browser's `headers` (a session may find a remembered consent).
    pub(crate) async fn oauth_authorize(
        &self,
        client: &str,
        pairs: Vec<(String, String)>,
        headers: &axum::http::HeaderMap,
    ) -> Result<Outcome, ApiError> {
        let params = match Params::new(pairs) {
            Ok(p) => p,
            Err(e) => return Ok(Outcome::Page(e)),
        };
        let client_id = params.get("client_id").unwrap_or("");
        // Counted before anything is fetched: a metadata document is fetched at most this
        // often per client address.
        let mut tx = self.store.begin().await?;
        let counted = self
            .rate_limit(
                &mut tx,
                "authorize",
                client,
                self.config.challenges_per_minute_per_client,
            )
            .await;
        crate::state::finish(tx, counted).await?;
        let known = match self.known_client(&params).await {
            Ok(k) => k,
            Err(e) => {
                self.oauth_refused(client, "authorize", client_id, &e)
                    .await?;
                return Ok(Outcome::Page(e));
            }
        };
        let (oauth_client, redirect_uri) = known;
        let state = params.get("state").filter(|s| s.len() <= MAX_STATE_LEN);
        // Only a registered client's redirect URI is trusted with an error before the human
        // has seen the consent page: anyone can publish a metadata document listing any
        // URI, which would make the issuer an open redirector (RFC 9700 section 4.11.2).
        let registered = self
            .config
            .oauth
            .clients
            .iter()
            .any(|c| c.client_id == oauth_client.client_id);
        let iss = self.config.public_url.clone();
        let back = |e: &OAuthError| {
            let mut p = vec![
                ("error", e.code),
                ("error_description", e.description.as_str()),
            ];
            if let Some(s) = state {
                p.push(("state", s));
            }
            p.push(("iss", iss.as_str()));
            Outcome::Redirect(redirect_with(&redirect_uri, &p))
        };
        let row = match self.authorization_asked(&params, &oauth_client, &redirect_uri) {
            Ok(row) => row,
            Err(e) => {
                self.oauth_refused(client, "authorize", client_id, &e)
                    .await?;
                return Ok(if registered {
                    back(&e)
                } else {
                    Outcome::Page(e)
                });
            }
        };
        let mut tx = self.store.begin().await?;
        let stored = Store::insert_authorization(&mut tx, &row)
            .await
            .map_err(ApiError::from);
        crate::state::finish(tx, stored).await?;
        if let Some(redirect) = self.remembered(&row, headers).await? {
            return Ok(Outcome::Redirect(redirect));
        }
        Ok(Outcome::Consent(row.id))
    }

    /// The client and its redirect URI, both checked: errors here are shown on a page.
    async fn known_client(&self, params: &Params) -> Result<(Client, String), OAuthError> {
        let client_id = params
            .get("client_id")
            .ok_or_else(|| OAuthError::invalid_request("`client_id` is missing"))?;
        let client = self
            .oauth_clients
            .client(client_id)
            .await
            .map_err(|e| OAuthError::new("invalid_client", e.to_string()))?;
        let redirect_uri = params.get("redirect_uri").ok_or_else(|| {
            OAuthError::invalid_request("`redirect_uri` is missing: send one the client lists")
        })?;
        if !client
            .redirect_uris
            .iter()
            .any(|u| crate::clients::redirect_matches(u, redirect_uri))
        {
            return Err(OAuthError::invalid_request(format!(
                "`redirect_uri` `{}` is not one that client `{}` lists (they are compared exactly)",
                redirect_uri.escape_debug(),
                client.client_id.escape_debug()
            )));
        }
        Ok((client, redirect_uri.to_owned()))
    }

    /// The authorization a request asks for, checked: errors here go back to the client.
    fn authorization_asked(
        &self,
        params: &Params,
        client: &Client,
        redirect_uri: &str,
    ) -> Result<AuthorizationRow, OAuthError> {
        match params.get("response_type") {
            Some("code") => {}
            other => {
                return Err(OAuthError::new(
                    "unsupported_response_type",
                    format!(
                        "`response_type` is `{}`: only `code` is supported",
                        other.unwrap_or("").escape_debug()
                    ),
                ))
            }
        }
        let state = params.get("state");
        if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(OAuthError::invalid_request(format!(
                "`state` is longer than {MAX_STATE_LEN} bytes"
            )));
        }
        if params.get("code_challenge_method") != Some("S256") {
            return Err(OAuthError::invalid_request(
                "PKCE is required: send `code_challenge` with `code_challenge_method=S256`",
            ));
        }
        let challenge = params
            .get("code_challenge")
            .filter(|c| is_s256_challenge(c))
            .ok_or_else(|| {
                OAuthError::invalid_request(
                    "`code_challenge` must be the base64url SHA-256 of the verifier (43 characters)",
                )
            })?;
        let resource = canonical_resource(params.get("resource").ok_or_else(|| {
            OAuthError::invalid_target(
                "`resource` is required (RFC 8707): the URL of the API the token is for",
            )
        })?)?;
        let scope = params.get("scope");
        let mut grant = match (scope, params.get("authorization_details")) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "give `scope` or `authorization_details`, not both",
                ))
            }
            (Some(s), None) => grant_of_scope(self, s)?,
            (None, Some(d)) => grant_of_details(d)?,
            (None, None) => {
                return Err(OAuthError::new(
                    "invalid_scope",
                    format!(
                        "ask for something: `scope` (this issuer knows {}) or `authorization_details` of type `{GRANT_DETAILS_TYPE}`",
                        known_scopes(self)
                    ),
                ))
            }
        };
        let audience = resource
            .parse::<warrant_core::pattern::Audience>()
            .map_err(|e| {
                OAuthError::invalid_target(format!("`resource` cannot be an audience: {e}"))
            })?;
        if !grant.audience.is_empty() && grant.audience != [audience.clone()] {
            return Err(OAuthError::new(
                "invalid_authorization_details",
                "the grant's `audience` must be the `resource` alone, or be left out",
            ));
        }
        grant.audience = vec![audience];
        let grant = Requested::parse(&grant.to_json())
            .map_err(|e| OAuthError::new("invalid_authorization_details", e.to_string()))?
            .0;
        let now = self.now().unix_i64();
        Ok(AuthorizationRow {
            id: random_hex(16),
            client_id: client.client_id.clone(),
            client_name: client.name.clone(),
            redirect_uri: redirect_uri.to_owned(),
            state: state.map(str::to_owned),
            code_challenge: challenge.to_owned(),
            resource,
            scope: scope.map(str::to_owned),
            grant_json: grant.to_json().to_string(),
            created_at: now,
            expires_at: now + defaults::CONSENT_SECONDS,
            status: "pending".into(),
            human_id: None,
            role: None,
            approved_json: None,
            method: None,
            verified_at: None,
            lifetime: None,
            code_expires_at: None,
            family: None,
        })
    }

    /// Records a refused `/authorize` or `/token` (an `oauth_refused` audit entry), within
    /// the client address's limit (beyond it, only the log has it).
    pub(crate) async fn oauth_refused(
        &self,
        client: &str,
        endpoint: &str,
        client_id: &str,
        e: &OAuthError,
    ) -> Result<(), ApiError> {
        let mut tx = self.store.begin().await?;
        let recorded = async {
            self.rate_limit(
                &mut tx,
                "oauth refusal",
                client,
                self.config.verifications_per_minute_per_client,
            )
            .await?;
            let detail = json!({
                "endpoint": endpoint, "client_id": client_id, "error": e.code,
                "error_description": e.description,
            });
            let at = self.now().unix_i64();
            Ok::<_, ApiError>(
                Store::append_audit(
                    &mut tx,
                    at,
                    "oauth_refused",
                    &format!("client:{client}"),
                    &detail,
                )
                .await?,
            )
        }
        .await;
        match crate::state::finish(tx, recorded).await {
            Ok(entry) => self.maybe_sign_head(&entry).await,
            Err(ApiError::TooMany(..)) => {
                tracing::warn!(
                    endpoint,
                    error = e.code,
                    "oauth refusal not audited: too many from this client"
                );
                Ok(())
            }
            Err(other) => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_given_once() {
        let p = Params::new(vec![("a".into(), "1".into()), ("b".into(), String::new())]).unwrap();
        assert_eq!(
            (p.get("a"), p.get("b"), p.get("c")),
            (Some("1"), None, None)
        );
        let e = Params::new(vec![("a".into(), "1".into()), ("a".into(), "2".into())]).unwrap_err();
        assert_eq!(e.code, "invalid_request");
    }

    #[test]
    fn redirects_keep_the_client_s_query() {
        assert_eq!(
            redirect_with(
                "https://app.example/cb?x=1",
                &[("code", "c d"), ("state", "s&t")]
            ),
            "https://app.example/cb?x=1&code=c+d&state=s%26t"
        );
    }

    #[test]
    fn only_s256_challenges() {
        assert!(is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_s256_challenge("short"));
        assert!(!is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
    }

    #[test]
    fn details_carry_warrant_grants() {
        let g = grant_of_details(
            r#"[{"type":"warrant_grant","grant":{"ttl":"10m","allow":[{"resources":"tickets/1","actions":"read"}]}}]"#,
        )
        .unwrap();
        assert_eq!((g.allow.len(), g.ttl.map(|t| t.seconds())), (1, Some(600)));
        for (bad, says) in [
            ("{}", "not a JSON array"),
            ("[]", "is empty"),
            (r#"[{"type":"payment"}]"#, "not supported"),
            (r#"[{"type":"warrant_grant"}]"#, "has no `grant`"),
            (
                r#"[{"type":"warrant_grant","grant":{"allow":[{"resources":"a/../b","actions":"read"}]}}]"#,
                "grant",
            ),
        ] {
            let e = grant_of_details(bad).unwrap_err();
            assert_eq!(e.code, "invalid_authorization_details");
            assert!(e.description.contains(says), "{bad}: {}", e.description);
        }
    }
}
