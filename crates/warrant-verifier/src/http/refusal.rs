//! How a refused request is answered: the status, the `WWW-Authenticate` challenge and the
//! RFC 9457 problem document, the same from the layer and from the [`super::Warrant`]
//! extractor.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::credentials::{AuthScheme, CredentialsError};
use crate::decision::{Denial, DenialKind};

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
        }
    }

    /// Names the RFC 9728 metadata URL in the challenge (`resource_metadata="…"`).
    #[must_use]
    pub fn with_resource_metadata(mut self, url: impl Into<Arc<str>>) -> Self {
        self.resource_metadata = Some(url.into());
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

    /// The `WWW-Authenticate` value.
    fn challenge(&self) -> String {
        let (scheme, error) = match self.challenge {
            Challenge::Offer { invalid_request } => {
                (None, invalid_request.then_some("invalid_request"))
            }
            Challenge::Refuse(_) if self.denial.kind == DenialKind::InvalidProof => {
                (Some(AuthScheme::Dpop), Some("invalid_dpop_proof"))
            }
            Challenge::Refuse(scheme) if self.status() == StatusCode::UNAUTHORIZED => {
                (Some(scheme), Some("invalid_token"))
            }
            // Nothing the client sent is at fault: the scheme, and no error.
            Challenge::Refuse(scheme) if self.status() == StatusCode::SERVICE_UNAVAILABLE => {
                (Some(scheme), None)
            }
            Challenge::Refuse(scheme) => (Some(scheme), Some("insufficient_scope")),
        };
        let mut challenge = match scheme {
            Some(AuthScheme::Bearer) => String::from("Bearer realm=\"warrant\""),
            Some(AuthScheme::Dpop) => String::from("DPoP realm=\"warrant\", algs=\"EdDSA ES256\""),
            None => String::from(
                "DPoP realm=\"warrant\", algs=\"EdDSA ES256\", Bearer realm=\"warrant\"",
            ),
        };
        if let Some(e) = error {
            challenge.push_str(&format!(
                ", error=\"{e}\", error_description=\"{}\"",
                quoted(self.denial.message())
            ));
        }
        if let Some(url) = &self.resource_metadata {
            challenge.push_str(&format!(", resource_metadata=\"{}\"", quoted(url)));
        }
        challenge
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

/// A header value: quotes and control characters in the description are replaced.
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
}
