//! The tower layer for axum (feature `axum`): every request verified before it reaches
//! the handler.
//!
//! [`WarrantLayer`] takes the token from `Authorization: DPoP …` with its proof in the
//! `DPoP` header (or, for bearer tokens an API accepts, `Authorization: Bearer …`), asks a
//! user-supplied
//! function what the HTTP request means (resource, action, attributes), verifies, and
//! either passes the request on with the [`Claims`] in its extensions (the [`Warrant`]
//! extractor reads them) or answers:
//! - 401 when the token is missing or unusable (malformed, bad signature, unknown key,
//!   expired, revoked…), with `WWW-Authenticate: Bearer error="invalid_token"` (or `DPoP`
//!   when the request used that scheme);
//! - 401 with `WWW-Authenticate: DPoP error="invalid_dpop_proof"` when the token is bound
//!   to a holder and the proof is missing, invalid, replayed or not the holder's;
//! - 403 when the token is valid but does not permit the request, with
//!   `WWW-Authenticate: Bearer error="insufficient_scope"`;
//!
//! both with an RFC 9457 `application/problem+json` body carrying the explanation. A
//! request the function does not map is refused with 403: deny by default.
//!
//! [`protected_resource_metadata`] serves RFC 9728 metadata naming the issuer.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request as HttpRequest};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tower::{Layer, Service};

use crate::decision::{Claims, Decision, Denial, DenialKind};
use crate::request::Request;
use crate::verifier::Verifier;

/// What the layer needs to know about an HTTP request: the warrant [`Request`] it stands
/// for, or `None` when the route is not covered (it is then refused).
pub trait RequestMapper: Send + Sync + 'static {
    /// Maps the request head.
    fn map(&self, parts: &Parts) -> Option<Request>;
}

impl<F> RequestMapper for F
where
    F: Fn(&Parts) -> Option<Request> + Send + Sync + 'static,
{
    fn map(&self, parts: &Parts) -> Option<Request> {
        self(parts)
    }
}

/// Verifies every request with a [`Verifier`]; see the module documentation.
#[derive(Clone)]
pub struct WarrantLayer {
    verifier: Verifier,
    mapper: Arc<dyn RequestMapper>,
    resource_metadata: Option<Arc<str>>,
    origin: Option<Arc<str>>,
}

impl std::fmt::Debug for WarrantLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarrantLayer")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl WarrantLayer {
    /// A layer verifying with `verifier`, mapping requests with `mapper`.
    pub fn new(verifier: Verifier, mapper: impl RequestMapper) -> Self {
        Self {
            verifier,
            mapper: Arc::new(mapper),
            resource_metadata: None,
            origin: None,
        }
    }

    /// The scheme, host and port clients use to reach this API (`https://api.example`):
    /// DPoP proofs name the full URL (`htu`), which a server behind a proxy cannot see.
    /// Without it the URL is `http://` + the `Host` header + the path.
    #[must_use]
    pub fn with_public_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(Arc::from(origin.into().trim_end_matches('/')));
        self
    }

    /// Names the RFC 9728 metadata URL in `WWW-Authenticate` (`resource_metadata="…"`),
    /// so clients can discover the issuer.
    #[must_use]
    pub fn with_resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(Arc::from(url.into()));
        self
    }
}

impl<S> Layer<S> for WarrantLayer {
    type Service = WarrantService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WarrantService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`WarrantLayer`] wraps around a handler.
#[derive(Clone)]
pub struct WarrantService<S> {
    inner: S,
    layer: WarrantLayer,
}

impl<S> std::fmt::Debug for WarrantService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarrantService").finish_non_exhaustive()
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

/// A header value: quotes and control characters in the description are replaced.
fn quoted(s: &str) -> String {
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

impl WarrantLayer {
    fn refuse(
        &self,
        status: StatusCode,
        denial: &Denial,
        error: Option<&str>,
        scheme: Scheme,
    ) -> Response {
        let mut challenge = match scheme {
            Scheme::Bearer => String::from("Bearer realm=\"warrant\""),
            Scheme::Dpop => String::from("DPoP realm=\"warrant\", algs=\"EdDSA\""),
            Scheme::None => {
                String::from("DPoP realm=\"warrant\", algs=\"EdDSA\", Bearer realm=\"warrant\"")
            }
        };
        if let Some(e) = error {
            challenge.push_str(&format!(
                ", error=\"{e}\", error_description=\"{}\"",
                quoted(&denial.message)
            ));
        }
        if let Some(url) = &self.resource_metadata {
            challenge.push_str(&format!(", resource_metadata=\"{}\"", quoted(url)));
        }
        let kind_name = serde_json::to_value(denial.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let problem = Problem {
            kind_uri: format!("https://warrant.dev/problems/{kind_name}"),
            title: if status == StatusCode::UNAUTHORIZED {
                "the request needs a valid warrant token"
            } else {
                "the warrant token does not permit this request"
            },
            status: status.as_u16(),
            detail: &denial.message,
            kind: Some(denial.kind),
            block: denial.block,
            check: denial.check.as_deref(),
            attribute: denial.attribute.as_deref(),
        };
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

    /// Verifies one request head: the claims, or the refusal to send.
    fn admit(&self, parts: &Parts) -> Result<Claims, Box<Response>> {
        let (scheme, token) = match credentials(parts) {
            Ok(t) => t,
            Err(message) => {
                let d = Denial::new(DenialKind::Malformed, message);
                // No credentials at all: a bare challenge (RFC 6750 section 3.1).
                let error = parts
                    .headers
                    .contains_key(header::AUTHORIZATION)
                    .then_some("invalid_request");
                return Err(Box::new(self.refuse(
                    StatusCode::UNAUTHORIZED,
                    &d,
                    error,
                    Scheme::None,
                )));
            }
        };
        let Some(mut request) = self.layer_map(parts) else {
            let d = Denial::new(
                DenialKind::RuleNotMatched,
                format!(
                    "`{} {}` is not mapped to a resource and action: refused by default",
                    parts.method,
                    parts.uri.path()
                ),
            );
            return Err(Box::new(self.refuse(
                StatusCode::FORBIDDEN,
                &d,
                Some("insufficient_scope"),
                scheme,
            )));
        };
        if scheme == Scheme::Dpop {
            let proofs: Vec<&HeaderValue> = parts.headers.get_all("dpop").iter().collect();
            // No header: the verifier explains that the token needs a proof. Several
            // headers are refused (RFC 9449 section 4.3: exactly one).
            let proof = match proofs.as_slice() {
                [] => None,
                [one] => Some(one.to_str().unwrap_or_default()),
                _ => Some("several DPoP headers"),
            };
            if let Some(proof) = proof {
                request = request.with_proof(proof, parts.method.as_str(), self.url(parts));
            }
        }
        match self.verifier.verify(token, &request) {
            Decision::Allowed(claims) => Ok(claims),
            Decision::Denied(d) if d.kind == DenialKind::InvalidProof => {
                Err(Box::new(self.refuse(
                    StatusCode::UNAUTHORIZED,
                    &d,
                    Some("invalid_dpop_proof"),
                    Scheme::Dpop,
                )))
            }
            Decision::Denied(d) if d.kind.is_invalid_token() => Err(Box::new(self.refuse(
                StatusCode::UNAUTHORIZED,
                &d,
                Some("invalid_token"),
                scheme,
            ))),
            Decision::Denied(d) => Err(Box::new(self.refuse(
                StatusCode::FORBIDDEN,
                &d,
                Some("insufficient_scope"),
                scheme,
            ))),
        }
    }

    fn layer_map(&self, parts: &Parts) -> Option<Request> {
        self.mapper.map(parts)
    }
}

/// The `Authorization` scheme a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// `Bearer`.
    Bearer,
    /// `DPoP` (RFC 9449).
    Dpop,
    /// None given.
    None,
}

fn credentials(parts: &Parts) -> Result<(Scheme, &str), String> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err("the request has no `Authorization: DPoP` (or `Bearer`) token".to_owned());
    };
    let text = value
        .to_str()
        .map_err(|_| "the `Authorization` header is not ASCII".to_owned())?;
    let (scheme, token) = text
        .split_once(' ')
        .ok_or_else(|| "the `Authorization` header is not `DPoP <token>`".to_owned())?;
    let scheme = if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else {
        return Err(format!(
            "the `Authorization` scheme `{scheme}` is not supported: use `DPoP` or `Bearer`"
        ));
    };
    Ok((scheme, token.trim()))
}

impl WarrantLayer {
    /// The URL the request was made to, as its DPoP proof must name it.
    fn url(&self, parts: &Parts) -> String {
        let path = parts.uri.path();
        match (
            &self.origin,
            parts.uri.authority(),
            parts.headers.get(header::HOST),
        ) {
            (Some(origin), _, _) => format!("{origin}{path}"),
            (None, Some(authority), _) => {
                let scheme = parts.uri.scheme_str().unwrap_or("http");
                format!("{scheme}://{authority}{path}")
            }
            (None, None, Some(host)) => {
                format!("http://{}{path}", host.to_str().unwrap_or_default())
            }
            (None, None, None) => format!("http://localhost{path}"),
        }
    }
}

impl<S> Service<HttpRequest> for WarrantService<S>
where
    S: Service<HttpRequest, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response, S::Error>> + Send + 'static>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        match self.layer.admit(&parts) {
            Ok(claims) => {
                parts.extensions.insert(claims);
                // The clone that was made ready is the one called (tower's usual dance).
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                Box::pin(ready.call(HttpRequest::from_parts(parts, body)))
            }
            Err(refusal) => Box::pin(async move { Ok(*refusal) }),
        }
    }
}

/// The claims of the verified token, for handlers behind a [`WarrantLayer`].
#[derive(Debug, Clone)]
pub struct Warrant(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for Warrant {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .map(Warrant)
            .ok_or((StatusCode::UNAUTHORIZED, "no verified warrant token"))
    }
}

/// RFC 9728 protected-resource metadata.
#[derive(Debug, Clone, Serialize)]
pub struct ProtectedResourceMetadata {
    /// This API's resource identifier (its URL).
    pub resource: String,
    /// The issuers whose tokens it accepts.
    pub authorization_servers: Vec<String>,
    /// Where the token goes: `["header"]`.
    pub bearer_methods_supported: Vec<String>,
    /// Human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Where the issuer publishes its key set (a warrant extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warrant_key_set: Option<String>,
}

impl ProtectedResourceMetadata {
    /// Metadata for `resource`, accepting tokens of `issuer`.
    pub fn new(resource: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: vec![issuer.into()],
            bearer_methods_supported: vec!["header".to_owned()],
            resource_name: None,
            warrant_key_set: None,
        }
    }
}

/// The path RFC 9728 defines for the metadata.
pub const PROTECTED_RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// A router serving `metadata` at [`PROTECTED_RESOURCE_METADATA_PATH`]; merge it into the
/// API's router outside the [`WarrantLayer`] so clients can read it without a token.
pub fn protected_resource_metadata<S: Clone + Send + Sync + 'static>(
    metadata: ProtectedResourceMetadata,
) -> axum::Router<S> {
    let body = Arc::new(metadata);
    axum::Router::new().route(
        PROTECTED_RESOURCE_METADATA_PATH,
        axum::routing::get(move || {
            let body = Arc::clone(&body);
            async move { Json((*body).clone()) }
        }),
    )
}
