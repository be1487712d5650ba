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
//! # The layer's own origin
//!
//! A DPoP proof names the URL it is for (`htu`). The layer compares it with its own
//! public origin (scheme, host and optional port, as clients reach the API) followed by
//! the request's path, without query or fragment (RFC 9449 section 4.3), normalised as
//! [`warrant_core::dpop::normalize_htu`] does. The origin is configuration, never read
//! from the request: [`WarrantLayerBuilder::build`] fails without one. Set it with
//! [`WarrantLayerBuilder::public_origin`], or let it come from the RFC 9728 metadata's
//! `resource` with [`WarrantLayerBuilder::protected_resource`]. The `Host` header and an
//! absolute-form request target are chosen by the client: a layer that built the URL
//! from them would accept a proof the agent made for another API, replayed here with that
//! API's `Host`. [`WarrantLayerBuilder::dangerous_trust_host_header`] does exactly that,
//! for a server that really does answer to any host.
//!
//! ```
//! # use axum::http::request::Parts;
//! # use warrant_verifier::{KeyId, KeySet, Request, Verifier};
//! use warrant_verifier::http::{resource_from_path, WarrantLayer};
//! # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
//! # let verifier = Verifier::new(KeySet::single(KeyId(1), key.public()));
//! let layer = WarrantLayer::builder(verifier.clone(), |parts: &Parts| {
//!     resource_from_path("/files", parts.uri.path()).map(|r| Request::now(r, "read"))
//! })
//! .public_origin("https://files.example")
//! .build()
//! .unwrap();
//!
//! // Without an origin the layer is not built, and the error says what to set.
//! let err = WarrantLayer::builder(verifier, |_: &Parts| None::<Request>).build().unwrap_err();
//! assert!(err.to_string().contains("public_origin"));
//! ```
//!
//! # From URL paths to resources
//!
//! Resources are canonical logical names (`tickets/123/email_address`): no empty, `.` or
//! `..` segment ([`warrant_core::pattern::check_resource`]). A URL path is neither: it is
//! percent-encoded, and `tickets/123/../124` or `tickets/%2e%2e/124` would name another
//! resource than it seems to. [`resource_from_path`] decodes a path below a prefix exactly
//! once, segment by segment, and refuses anything that is not canonical instead of
//! normalising it (`a/../b` is an error, never `b`). The layer also checks every resource
//! a mapping function returns, whatever way it was made: a non-canonical one is refused
//! with 403, like an unmapped route (deny by default), with a problem document naming the
//! resource and why.
//!
//! ```
//! use warrant_verifier::http::{resource_from_path, ResourcePathError};
//!
//! assert_eq!(resource_from_path("/api", "/api/tickets/123").unwrap(), "tickets/123");
//! assert_eq!(resource_from_path("/", "/caf%C3%A9/menu").unwrap(), "café/menu");
//! // Decoded once: `%252e` is the literal three characters `%2e`, a plain name.
//! assert_eq!(resource_from_path("/", "/tickets/%252e").unwrap(), "tickets/%2e");
//! for bad in ["/api/tickets/../admin", "/api/tickets/%2e%2e/admin", "/api/tickets/./1",
//!             "/api/tickets//1", "/api/tickets/1/", "/api/a%2Fb", "/api/%zz", "/apix/1"] {
//!     assert!(resource_from_path("/api", bad).is_err(), "{bad}");
//! }
//! ```
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
use warrant_core::pattern::{check_resource, ResourceError};

use crate::decision::{Claims, Decision, Denial, DenialKind};
use crate::request::Request;
use crate::verifier::Verifier;

/// What a [`RequestMapper`] makes of an HTTP request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Mapped {
    /// The warrant request it stands for.
    Request(Request),
    /// A route the function does not cover: refused with 403 (deny by default).
    Unmapped,
    /// A covered route whose path names no canonical resource: refused with 403, the
    /// problem document saying why.
    BadResource(ResourcePathError),
}

impl From<Request> for Mapped {
    fn from(r: Request) -> Self {
        Self::Request(r)
    }
}

impl From<Option<Request>> for Mapped {
    fn from(r: Option<Request>) -> Self {
        r.map_or(Self::Unmapped, Self::Request)
    }
}

impl From<Result<Request, ResourcePathError>> for Mapped {
    fn from(r: Result<Request, ResourcePathError>) -> Self {
        r.map_or_else(Self::BadResource, Self::Request)
    }
}

impl From<Result<Option<Request>, ResourcePathError>> for Mapped {
    fn from(r: Result<Option<Request>, ResourcePathError>) -> Self {
        match r {
            Ok(r) => r.into(),
            Err(e) => Self::BadResource(e),
        }
    }
}

/// What the layer needs to know about an HTTP request: the warrant [`Request`] it stands
/// for, or why not ([`Mapped`]). Any `Fn(&Parts) -> R` is one, where `R` is a
/// [`Request`], an `Option<Request>` (`None`: not covered), or a `Result` of either with a
/// [`ResourcePathError`] (from [`resource_from_path`]).
pub trait RequestMapper: Send + Sync + 'static {
    /// Maps the request head.
    fn map(&self, parts: &Parts) -> Mapped;
}

impl<F, R> RequestMapper for F
where
    F: Fn(&Parts) -> R + Send + Sync + 'static,
    R: Into<Mapped>,
{
    fn map(&self, parts: &Parts) -> Mapped {
        self(parts).into()
    }
}

/// Why a URL path is not a resource name ([`resource_from_path`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourcePathError {
    /// The path is not below the prefix.
    #[error("the path `{path}` is not below `{prefix}`: map only the paths under the prefix")]
    NotUnderPrefix {
        /// The path.
        path: String,
        /// The prefix.
        prefix: String,
    },
    /// A `%` not followed by two hex digits.
    #[error("the path `{0}` has a malformed percent-encoding: send `%` as `%25`")]
    Encoding(String),
    /// Not UTF-8 once decoded.
    #[error("the path `{0}` is not UTF-8 once percent-decoded")]
    NotUtf8(String),
    /// `%2F` in a segment.
    #[error("the path `{0}` has an encoded `/` (`%2F`) in a segment: a resource segment cannot contain `/`")]
    EncodedSlash(String),
    /// Decoded, but not canonical (empty, `.` or `..` segment, control character…).
    #[error("the path `{path}` is not a canonical resource name: {source}")]
    Resource {
        /// The path.
        path: String,
        /// Why the decoded name was refused.
        source: ResourceError,
    },
}

/// The resource name a URL path stands for, below `prefix` (a literal path such as
/// `/api/v1`, or `/`): the rest of the path, each segment percent-decoded exactly once,
/// then checked with [`check_resource`]. Empty, `.` and `..` segments (encoded or not), a
/// trailing `/`, an encoded `/` and malformed encodings are refused, never normalised.
/// Give it the path without the query (`parts.uri.path()`).
pub fn resource_from_path(prefix: &str, path: &str) -> Result<String, ResourcePathError> {
    let base = prefix.trim_end_matches('/');
    let rest = path
        .strip_prefix(base)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| ResourcePathError::NotUnderPrefix {
            path: path.to_owned(),
            prefix: prefix.to_owned(),
        })?;
    let mut name = String::with_capacity(rest.len());
    for (i, segment) in rest.split('/').enumerate() {
        let bytes =
            percent_decode(segment).ok_or_else(|| ResourcePathError::Encoding(path.to_owned()))?;
        let text =
            String::from_utf8(bytes).map_err(|_| ResourcePathError::NotUtf8(path.to_owned()))?;
        if text.contains('/') {
            return Err(ResourcePathError::EncodedSlash(path.to_owned()));
        }
        if i > 0 {
            name.push('/');
        }
        name.push_str(&text);
    }
    check_resource(&name).map_err(|source| ResourcePathError::Resource {
        path: path.to_owned(),
        source,
    })?;
    Ok(name)
}

/// `%XX` decoded once; `None` for a `%` without two hex digits.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// Where the URL a DPoP proof must name comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// Configured: `https://api.example`.
    Fixed(Arc<str>),
    /// The request's `Host` (or absolute-form target): see
    /// [`WarrantLayerBuilder::dangerous_trust_host_header`].
    DangerousHost,
}

/// Why a [`WarrantLayer`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// No origin configured.
    #[error("the warrant layer has no public origin: set `public_origin(\"https://api.example\")` to the scheme, host and port clients use (or `protected_resource(metadata)`)")]
    NoOrigin,
    /// Not scheme + host + optional port.
    #[error("the public origin `{0}` is not an http(s) origin: give scheme, host and optional port only, such as `https://api.example`")]
    BadOrigin(String),
    /// The metadata's `resource` is not an http(s) URL.
    #[error("the protected resource `{0}` is not an http(s) URL: set the metadata's `resource` to the URL clients use")]
    BadResource(String),
    /// Two different origins.
    #[error("the public origin `{0}` and the protected resource's origin `{1}` differ: set one")]
    Conflict(String, String),
    /// An origin and the `Host` opt-in together.
    #[error(
        "the layer has the public origin `{0}` and `dangerous_trust_host_header()`: remove one"
    )]
    OriginAndHost(String),
}

/// The `scheme://host[:port]` of an http(s) URL; `with_path` allows a path (a resource
/// identifier), otherwise the URL must be the origin alone.
fn parse_origin(text: &str, with_path: bool) -> Option<String> {
    let u = url::Url::parse(text.trim()).ok()?;
    let plain = matches!(u.scheme(), "http" | "https")
        && u.host_str().is_some()
        && u.username().is_empty()
        && u.password().is_none()
        && u.query().is_none()
        && u.fragment().is_none()
        && (with_path || u.path() == "/");
    plain.then(|| u.origin().ascii_serialization())
}

/// Builds a [`WarrantLayer`]; see the module documentation.
#[must_use]
pub struct WarrantLayerBuilder {
    verifier: Verifier,
    mapper: Arc<dyn RequestMapper>,
    origin: Option<String>,
    resource: Option<String>,
    resource_metadata: Option<String>,
    trust_host: bool,
}

impl std::fmt::Debug for WarrantLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarrantLayerBuilder")
            .field("origin", &self.origin)
            .field("resource", &self.resource)
            .field("trust_host", &self.trust_host)
            .finish_non_exhaustive()
    }
}

impl WarrantLayerBuilder {
    /// The scheme, host and optional port clients use to reach this API
    /// (`https://api.example`), which DPoP proofs must name. Required, unless
    /// [`Self::protected_resource`] gives it.
    pub fn public_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Takes the public origin from RFC 9728 metadata's `resource` (its scheme, host and
    /// port), and names the metadata, at that origin's
    /// [`PROTECTED_RESOURCE_METADATA_PATH`], in every challenge (unless
    /// [`Self::resource_metadata`] names another URL). Serve the same metadata with
    /// [`protected_resource_metadata`].
    pub fn protected_resource(mut self, metadata: &ProtectedResourceMetadata) -> Self {
        self.resource = Some(metadata.resource.clone());
        self
    }

    /// Names the RFC 9728 metadata URL in `WWW-Authenticate` (`resource_metadata="…"`),
    /// so clients can discover the issuer.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Dangerous: builds the URL DPoP proofs must name from the request's `Host` header
    /// (or its absolute-form target, or HTTP/2 `:authority`), with scheme `http` unless
    /// the target names one. The client chooses those: a proof the agent made for any
    /// other API is then accepted here, replayed with that API's `Host`, so a server that
    /// receives requests meant for another (a shared proxy, a misrouted load balancer, a
    /// malicious API the agent talks to forwarding its proofs) cannot tell. Use it only
    /// when every host that can reach this server is this API; otherwise set
    /// [`Self::public_origin`].
    pub fn dangerous_trust_host_header(mut self) -> Self {
        self.trust_host = true;
        self
    }

    /// The layer, or why its configuration is incomplete or contradictory.
    pub fn build(self) -> Result<WarrantLayer, LayerError> {
        let configured = match &self.origin {
            Some(o) => {
                Some(parse_origin(o, false).ok_or_else(|| LayerError::BadOrigin(o.clone()))?)
            }
            None => None,
        };
        let from_resource = match &self.resource {
            Some(r) => {
                Some(parse_origin(r, true).ok_or_else(|| LayerError::BadResource(r.clone()))?)
            }
            None => None,
        };
        let origin = match (configured, from_resource.clone()) {
            (Some(a), Some(b)) if a != b => return Err(LayerError::Conflict(a, b)),
            (Some(a), _) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        let origin = match (origin, self.trust_host) {
            (Some(o), true) => return Err(LayerError::OriginAndHost(o)),
            (Some(o), false) => Origin::Fixed(Arc::from(o)),
            (None, true) => Origin::DangerousHost,
            (None, false) => return Err(LayerError::NoOrigin),
        };
        let resource_metadata = self
            .resource_metadata
            .or_else(|| from_resource.map(|o| format!("{o}{PROTECTED_RESOURCE_METADATA_PATH}")));
        Ok(WarrantLayer {
            verifier: self.verifier,
            mapper: self.mapper,
            resource_metadata: resource_metadata.map(Arc::from),
            origin,
        })
    }
}

/// Verifies every request with a [`Verifier`]; see the module documentation.
#[derive(Clone)]
pub struct WarrantLayer {
    verifier: Verifier,
    mapper: Arc<dyn RequestMapper>,
    resource_metadata: Option<Arc<str>>,
    origin: Origin,
}

impl std::fmt::Debug for WarrantLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarrantLayer")
            .field("verifier", &self.verifier)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl WarrantLayer {
    /// A layer verifying with `verifier`, mapping requests with `mapper`, for the API at
    /// `public_origin` (`https://api.example`): the short form of [`Self::builder`].
    pub fn new(
        verifier: Verifier,
        mapper: impl RequestMapper,
        public_origin: impl Into<String>,
    ) -> Result<Self, LayerError> {
        Self::builder(verifier, mapper)
            .public_origin(public_origin)
            .build()
    }

    /// A builder for a layer verifying with `verifier`, mapping requests with `mapper`;
    /// it needs an origin before [`WarrantLayerBuilder::build`].
    pub fn builder(verifier: Verifier, mapper: impl RequestMapper) -> WarrantLayerBuilder {
        WarrantLayerBuilder {
            verifier,
            mapper: Arc::new(mapper),
            origin: None,
            resource: None,
            resource_metadata: None,
            trust_host: false,
        }
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
        let refused = |message: String| {
            let d = Denial::new(DenialKind::RuleNotMatched, message);
            Box::new(self.refuse(
                StatusCode::FORBIDDEN,
                &d,
                Some("insufficient_scope"),
                scheme,
            ))
        };
        let mut request = match self.mapper.map(parts) {
            Mapped::Request(r) => r,
            Mapped::Unmapped => {
                return Err(refused(format!(
                    "`{} {}` is not mapped to a resource and action: refused by default",
                    parts.method,
                    parts.uri.path()
                )))
            }
            Mapped::BadResource(e) => {
                return Err(refused(format!(
                    "`{} {}` names no resource: {e}",
                    parts.method,
                    parts.uri.path()
                )))
            }
        };
        // Whatever way the mapping function made the resource, it must be canonical: a
        // raw `tickets/../admin` is refused, not handed to the token's patterns.
        if let Err(e) = check_resource(request.resource()) {
            return Err(refused(format!(
                "`{} {}` maps to a resource that is not canonical: {e}; map paths with `resource_from_path`",
                parts.method,
                parts.uri.path()
            )));
        }
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
                let url = self.url(parts).map_err(|message| {
                    let d = Denial::new(DenialKind::InvalidProof, message);
                    Box::new(self.refuse(
                        StatusCode::UNAUTHORIZED,
                        &d,
                        Some("invalid_dpop_proof"),
                        Scheme::Dpop,
                    ))
                })?;
                request = request.with_proof(proof, parts.method.as_str(), url);
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
    /// The URL the request's DPoP proof must name: the layer's origin and the request
    /// path, or (opted into) what the client says its host is.
    fn url(&self, parts: &Parts) -> Result<String, String> {
        let path = parts.uri.path();
        if !path.starts_with('/') {
            return Err(format!(
                "the request target `{path}` is not a path: a DPoP proof names a URL, send an origin-form request"
            ));
        }
        let origin = match &self.origin {
            Origin::Fixed(origin) => origin.to_string(),
            Origin::DangerousHost => host_origin(parts)?,
        };
        Ok(format!("{origin}{path}"))
    }
}

/// `scheme://authority` from the request itself: its absolute-form target (or HTTP/2
/// `:authority`), else its one `Host` header, which must be a plain `host[:port]` so that
/// it cannot add a path, a query or user info to the URL.
fn host_origin(parts: &Parts) -> Result<String, String> {
    let scheme = parts.uri.scheme_str().unwrap_or("http");
    let authority = match parts.uri.authority() {
        Some(a) => a.as_str().to_owned(),
        None => {
            let hosts: Vec<&HeaderValue> = parts.headers.get_all(header::HOST).iter().collect();
            match hosts.as_slice() {
                [one] => one
                    .to_str()
                    .map_err(|_| "the `Host` header is not ASCII".to_owned())?
                    .to_owned(),
                [] => {
                    return Err(
                        "the request has no `Host` header to build the DPoP URL from: send one"
                            .to_owned(),
                    )
                }
                _ => return Err("the request has several `Host` headers: send one".to_owned()),
            }
        }
    };
    let plain = authority
        .parse::<axum::http::uri::Authority>()
        .is_ok_and(|a| a.as_str() == authority && !authority.contains('@'));
    if !plain {
        return Err(format!(
            "the request's host `{}` is not a plain `host[:port]`",
            quoted(&authority)
        ));
    }
    Ok(format!("{scheme}://{authority}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decoded_once_and_must_be_canonical() {
        for (prefix, path, name) in [
            ("/", "/tickets/123", "tickets/123"),
            ("", "/tickets/123", "tickets/123"),
            ("/api", "/api/tickets/123", "tickets/123"),
            ("/api/", "/api/tickets/123", "tickets/123"),
            ("/", "/tickets/12%33", "tickets/123"),
            ("/", "/a%20b/caf%C3%A9", "a b/café"),
            // Decoded once only: `%252e` is the literal name `%2e`, not `.`.
            ("/", "/tickets/%252e", "tickets/%2e"),
            ("/", "/tickets/%252e%252e", "tickets/%2e%2e"),
            ("/", "/tickets/...", "tickets/..."),
        ] {
            assert_eq!(
                resource_from_path(prefix, path).as_deref(),
                Ok(name),
                "{prefix} {path}"
            );
        }
        let dot = |p: &str| ResourcePathError::Resource {
            path: p.to_owned(),
            source: ResourceError::DotSegment(
                p.trim_start_matches('/')
                    .replace("%2e", ".")
                    .replace("%2E", "."),
            ),
        };
        let empty = |p: &str, name: &str| ResourcePathError::Resource {
            path: p.to_owned(),
            source: ResourceError::EmptySegment(name.to_owned()),
        };
        for (path, err) in [
            ("/tickets/../admin", dot("/tickets/../admin")),
            ("/tickets/%2e%2e/admin", dot("/tickets/%2e%2e/admin")),
            ("/tickets/%2E%2E", dot("/tickets/%2E%2E")),
            ("/tickets/./1", dot("/tickets/./1")),
            ("/tickets/%2e/1", dot("/tickets/%2e/1")),
            ("/tickets//1", empty("/tickets//1", "tickets//1")),
            ("/tickets/1/", empty("/tickets/1/", "tickets/1/")),
            (
                "/",
                ResourcePathError::Resource {
                    path: "/".into(),
                    source: ResourceError::Empty,
                },
            ),
            ("/a%2Fb", ResourcePathError::EncodedSlash("/a%2Fb".into())),
            ("/a%2fb", ResourcePathError::EncodedSlash("/a%2fb".into())),
            ("/a%zz", ResourcePathError::Encoding("/a%zz".into())),
            ("/a%2", ResourcePathError::Encoding("/a%2".into())),
            ("/a%ff", ResourcePathError::NotUtf8("/a%ff".into())),
            (
                "/a%0a",
                ResourcePathError::Resource {
                    path: "/a%0a".into(),
                    source: ResourceError::Control("a\\n".into()),
                },
            ),
            (
                "tickets/1",
                ResourcePathError::NotUnderPrefix {
                    path: "tickets/1".into(),
                    prefix: "/".into(),
                },
            ),
        ] {
            assert_eq!(resource_from_path("/", path), Err(err), "{path}");
        }
        // The prefix ends at a segment boundary.
        assert!(matches!(
            resource_from_path("/api", "/apix/1"),
            Err(ResourcePathError::NotUnderPrefix { .. })
        ));
        assert!(resource_from_path("/api", "/api").is_err());
        let e = resource_from_path("/", "/tickets/%2e%2e/admin").unwrap_err();
        assert!(e.to_string().contains("`/tickets/%2e%2e/admin`"), "{e}");
    }
}
