//! How a refused request is answered: the status, the `WWW-Authenticate` challenge and the
//! RFC 9457 problem document, the same from the layer and from the [`super::Warrant`]
//! extractor.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::credentials::{AuthScheme, CredentialsError};
use super::metadata::DPOP_SIGNING_ALGS;
use super::scopes::join;
use crate::decision::{Denial, DenialKind};

/// The longest `error_description` in a challenge, in characters: the problem document's
/// `detail` carries the whole explanation.
pub const MAX_DESCRIPTION_CHARS: usize = 256;

/// The HTTP status of a denial: 401 when the token or its DPoP proof is unusable
/// (malformed, badly signed, expired, revoked, for another audience, a missing or bad
/// proof… see [`DenialKind::is_invalid_token`]), 403 when the token is valid but does not
/// permit the request, 503 when the DPoP replay cache cannot record the proof
/// ([`DenialKind::ReplayCacheUnavailable`]).
///
/// ```
/// use axum::http::StatusCode;
/// use warrant_verifier::{http::denial_status, DenialKind};
///
/// assert_eq!(denial_status(DenialKind::Expired), StatusCode::UNAUTHORIZED);
/// assert_eq!(denial_status(DenialKind::InvalidProof), StatusCode::UNAUTHORIZED);
/// assert_eq!(denial_status(DenialKind::DeniedByRule), StatusCode::FORBIDDEN);
/// assert_eq!(denial_status(DenialKind::ReplayCacheUnavailable), StatusCode::SERVICE_UNAVAILABLE);
/// ```
pub fn denial_status(kind: DenialKind) -> StatusCode {
    if kind == DenialKind::ReplayCacheUnavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else if kind.is_invalid_token() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::FORBIDDEN
    }
}

/// What the `WWW-Authenticate` challenge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    /// No credentials were read: both schemes are offered, with `error="invalid_request"`
    /// when the request had an `Authorization` header that could not be read.
    Offer { invalid_request: bool },
    /// The credentials were read, with this scheme, and the request refused.
    Refuse(AuthScheme),
}

/// A refused request, answered (it is [`IntoResponse`]) with its status, a
/// `WWW-Authenticate` challenge and an RFC 9457 `application/problem+json` body carrying
/// the denial. The layer answers with one, and so does the [`super::Warrant`] extractor;
/// an API can answer with one too.
#[derive(Debug, Clone)]
pub struct Refusal {
    denial: Denial,
    challenge: Challenge,
    resource_metadata: Option<Arc<str>>,
    scope: Option<Arc<str>>,
}

impl Refusal {
    /// The refusal of a request whose credentials were read with `scheme` and whose token
    /// was denied: the status is [`denial_status`], the challenge names `scheme` with
    /// `error="invalid_token"` (401) or `"insufficient_scope"` (403), or `DPoP` with
    /// `"invalid_dpop_proof"` when the proof is at fault.
    pub fn new(denial: Denial, scheme: AuthScheme) -> Self {
        Self {
            denial,
            challenge: Challenge::Refuse(scheme),
            resource_metadata: None,
            scope: None,
        }
    }

    /// The refusal of a request without usable credentials ([`super::credentials`]): 401,
    /// both schemes offered (RFC 6750 section 3.1: with no `error` when the request had no
    /// `Authorization` header at all, `invalid_request` otherwise).
    pub fn unauthenticated(error: &CredentialsError) -> Self {
        Self::offer(
            Denial::new(DenialKind::Malformed, error.to_string()),
            !matches!(error, CredentialsError::Missing),
        )
    }

    pub(crate) fn offer(denial: Denial, invalid_request: bool) -> Self {
        Self {
            denial,
            challenge: Challenge::Offer { invalid_request },
            resource_metadata: None,
            scope: None,
        }
    }

    /// Names the RFC 9728 metadata URL in the challenge (`resource_metadata="…"`).
    #[must_use]
    pub fn with_resource_metadata(mut self, url: impl Into<Arc<str>>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Names the OAuth scopes the request needs in the challenge (`scope="a b"`), all in
    /// one parameter so that a client can step up (ask for a token with them) at once.
    /// They are hints for the client: what is checked is the token's grant. Values that
    /// are not scope tokens (RFC 6749: printable ASCII without spaces, `"` or `\`) are
    /// left out, repeated ones named once.
    #[must_use]
    pub fn with_scopes<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.scope = join(scopes);
        self
    }

    /// [`Self::with_scopes`], already joined and checked.
    pub(crate) fn with_scope_list(mut self, scope: Option<Arc<str>>) -> Self {
        self.scope = scope;
        self
    }

    /// The status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self.challenge {
            Challenge::Offer { .. } => StatusCode::UNAUTHORIZED,
            Challenge::Refuse(_) => denial_status(self.denial.kind),
        }
    }

    /// Why the request was refused.
    pub fn denial(&self) -> &Denial {
        &self.denial
    }

    /// The `WWW-Authenticate` value: one challenge per scheme offered, each with all
    /// its parameters, every quoted value a valid `quoted-string` of the characters RFC
    /// 6750 allows.
    fn challenge(&self) -> String {
        let (schemes, error): (&[AuthScheme], _) = match self.challenge {
            // `Bearer` first: MCP clients read the first challenge's `resource_metadata`
            // and `scope`, some only when it is `Bearer`.
            Challenge::Offer { invalid_request } => (
                &[AuthScheme::Bearer, AuthScheme::Dpop],
                invalid_request.then_some("invalid_request"),
            ),
            Challenge::Refuse(_) if self.denial.kind == DenialKind::InvalidProof => {
                (&[AuthScheme::Dpop], Some("invalid_dpop_proof"))
            }
            Challenge::Refuse(AuthScheme::Bearer) => (&[AuthScheme::Bearer], self.error()),
            Challenge::Refuse(AuthScheme::Dpop) => (&[AuthScheme::Dpop], self.error()),
        };
        let mut out = String::new();
        for scheme in schemes {
            if !out.is_empty() {
                out.push_str(", ");
            }
            match scheme {
                AuthScheme::Bearer => out.push_str("Bearer realm=\"warrant\""),
                AuthScheme::Dpop => {
                    out.push_str("DPoP realm=\"warrant\", algs=\"");
                    out.push_str(&DPOP_SIGNING_ALGS.join(" "));
                    out.push('"');
                }
            }
            if let Some(e) = error {
                out.push_str(&format!(
                    ", error=\"{e}\", error_description=\"{}\"",
                    quoted_value(self.denial.message(), MAX_DESCRIPTION_CHARS)
                ));
            }
            if let Some(scope) = &self.scope {
                out.push_str(&format!(", scope=\"{}\"", quoted_value(scope, usize::MAX)));
            }
            if let Some(url) = &self.resource_metadata {
                out.push_str(&format!(
                    ", resource_metadata=\"{}\"",
                    quoted_value(url, usize::MAX)
                ));
            }
        }
        out
    }

    /// The `error` of a refusal whose credentials were read: `invalid_token` (401),
    /// none when nothing the client sent is at fault (503), else `insufficient_scope`.
    fn error(&self) -> Option<&'static str> {
        match self.status() {
            StatusCode::UNAUTHORIZED => Some("invalid_token"),
            StatusCode::SERVICE_UNAVAILABLE => None,
            _ => Some("insufficient_scope"),
        }
    }
}

/// The RFC 9457 problem document of a refusal.
#[derive(Debug, Clone, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind_uri: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
    kind: Option<DenialKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    block: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attribute: Option<&'a str>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.status();
        let denial = &self.denial;
        let kind_name = serde_json::to_value(denial.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let problem = Problem {
            kind_uri: format!("https://warrant.dev/problems/{kind_name}"),
            title: if status == StatusCode::UNAUTHORIZED {
                "the request needs a valid warrant token"
            } else if status == StatusCode::SERVICE_UNAVAILABLE {
                "the request cannot be verified now"
            } else {
                "the warrant token does not permit this request"
            },
            status: status.as_u16(),
            detail: denial.message(),
            kind: Some(denial.kind),
            block: denial.block,
            check: denial.check(),
            attribute: denial.attribute(),
        };
        let challenge = self.challenge();
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        response
    }
}

/// `s` as the content of a quoted parameter in `WWW-Authenticate`, of the characters RFC
/// 6750 section 3 allows in `error_description` (`%x20-21 / %x23-5B / %x5D-7E`), so that
/// it is always a valid `quoted-string` and a valid header value, whatever the text: `"`
/// becomes `'`, `\` becomes `/`, control characters (CR and LF among them) and other
/// white space become a space, any other character outside ASCII becomes `?`; after
/// `max` characters, `...` ends it.
pub(crate) fn quoted_value(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max.saturating_add(3)));
    let mut chars = s.chars();
    for c in chars.by_ref().take(max) {
        out.push(match c {
            '"' => '\'',
            '\\' => '/',
            ' ' => ' ',
            c if c.is_ascii_graphic() => c,
            c if c.is_control() || c.is_whitespace() => ' ',
            _ => '?',
        });
    }
    if chars.next().is_some() {
        out.push_str("...");
    }
    out
}

/// A value quoted in a one-line message: quotes and control characters replaced.
pub(crate) fn quoted(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '\''
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_cache_that_cannot_record_is_a_503_without_blaming_the_client() {
        let denial = Denial::new(
            DenialKind::ReplayCacheUnavailable,
            "the DPoP replay cache is full",
        );
        let response = Refusal::new(denial, AuthScheme::Dpop).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(challenge, r#"DPoP realm="warrant", algs="EdDSA ES256""#);
    }

    /// The auth-params of a `WWW-Authenticate` value, as a client reads them: names and
    /// values, quoted strings unescaped; scheme names are left out.
    fn params(challenge: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = challenge;
        while !rest.is_empty() {
            rest = rest.trim_start_matches([' ', ',']);
            let Some(eq) = rest.find('=') else { break };
            let name = rest[..eq].rsplit(' ').next().unwrap().to_owned();
            rest = &rest[eq + 1..];
            let mut value = String::new();
            if let Some(quoted) = rest.strip_prefix('"') {
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => value.push(chars.next().unwrap().1),
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                rest = &quoted[end..];
            } else {
                let end = rest.find(',').unwrap_or(rest.len());
                value.push_str(&rest[..end]);
                rest = &rest[end..];
            }
            out.push((name, value));
        }
        out
    }

    #[test]
    fn a_hostile_explanation_cannot_break_or_add_to_the_challenge() {
        let hostile = "no rule for \"x\", error=\"none\", scope=\"admin\"\r\nSet-Cookie: a=b\\\0\u{7f}\tcaf\u{e9} \u{1f980}\u{2028}".to_owned()
            + &"z".repeat(1000);
        let denial = Denial::new(DenialKind::DeniedByRule, hostile);
        let response = Refusal::new(denial, AuthScheme::Bearer)
            .with_scopes([
                "tickets:read",
                "not a scope",
                "tickets:write",
                "tickets:read",
            ])
            .with_resource_metadata("https://api.example/.well-known/oauth-protected-resource/mcp")
            .into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        // Present, and nothing but printable ASCII: no CR or LF to start another header.
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(
            challenge.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
            "{challenge}"
        );
        let params = params(challenge);
        let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "realm",
                "error",
                "error_description",
                "scope",
                "resource_metadata"
            ],
            "the text added no parameter: {challenge}"
        );
        let value = |name: &str| params.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(value("error"), "insufficient_scope");
        assert_eq!(value("scope"), "tickets:read tickets:write");
        let description = value("error_description");
        assert!(
            description.starts_with(
                "no rule for 'x', error='none', scope='admin'  Set-Cookie: a=b/   caf? ? zzz"
            ),
            "{description}"
        );
        assert!(description.ends_with("zzz..."), "{description}");
        assert_eq!(description.chars().count(), MAX_DESCRIPTION_CHARS + 3);
        // RFC 6750: `%x20-21 / %x23-5B / %x5D-7E` only.
        assert!(
            description
                .bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e)),
            "{description}"
        );
    }
}
