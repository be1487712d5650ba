//! The tower layer and the extractor: every request verified before it reaches the
//! handler.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request as HttpRequest};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use warrant_core::pattern::check_resource;

use super::credentials::{credentials, AuthScheme};
use super::mapper::{Mapped, RequestMapper};
use super::metadata::{ProtectedResourceMetadata, PROTECTED_RESOURCE_METADATA_PATH};
use super::origin::{parse_origin, Origin};
use super::refusal::Refusal;
use crate::decision::{Claims, Decision, Denial, DenialKind};
use crate::request::Request;
use crate::verifier::Verifier;

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
    /// [`protected_resource_metadata`](super::protected_resource_metadata).
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

/// Verifies every request with a [`Verifier`] before it reaches the handler; see the
/// module documentation.
///
/// ```
/// use axum::http::request::Parts;
/// use axum::{routing::get, Router};
/// use warrant_verifier::http::{matched_route, resource_from_path, Warrant, WarrantLayer};
/// use warrant_verifier::{KeyId, KeySet, Request, Verifier};
/// # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
/// # let keys = KeySet::single(KeyId(1), key.public());
///
/// let verifier = Verifier::builder(keys).audience("files").build();
/// let layer = WarrantLayer::builder(verifier, |parts: &Parts| {
///     // Only `GET /files/{*path}`, as a read of `files/…`; anything else is refused.
///     match (parts.method.as_str(), matched_route(parts)) {
///         ("GET", Some("/files/{*path}")) => resource_from_path("/", parts.uri.path())
///             .map(|r| Some(Request::now(r, "read"))),
///         _ => Ok(None),
///     }
/// })
/// .public_origin("https://files.example")
/// .build()?;
/// let app: Router = Router::new()
///     .route("/files/{*path}", get(|Warrant(claims): Warrant| async move { claims.token_id.clone().unwrap_or_default() }))
///     .route_layer(layer);
/// # Ok::<(), warrant_verifier::http::LayerError>(())
/// ```
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

impl WarrantLayer {
    /// A refusal, naming the layer's RFC 9728 metadata.
    fn refuse(&self, refusal: Refusal) -> Box<Response> {
        let refusal = match &self.resource_metadata {
            Some(url) => refusal.with_resource_metadata(Arc::clone(url)),
            None => refusal,
        };
        Box::new(refusal.into_response())
    }

    /// Verifies one request head: the claims, or the refusal to send.
    fn admit(&self, parts: &Parts) -> Result<Claims, Box<Response>> {
        let creds =
            credentials(&parts.headers).map_err(|e| self.refuse(Refusal::unauthenticated(&e)))?;
        let scheme = creds.scheme;
        let mut request = self.map(parts).map_err(|message| {
            let d = Denial::new(DenialKind::RuleNotMatched, message);
            self.refuse(Refusal::new(d, scheme))
        })?;
        if scheme == AuthScheme::Dpop {
            let proofs: Vec<&HeaderValue> = parts.headers.get_all("dpop").iter().collect();
            // No header: the verifier explains that the token needs a proof. Several
            // headers are refused (RFC 9449 section 4.3: exactly one).
            let proof = match proofs.as_slice() {
                [] => None,
                [one] => Some(one.to_str().unwrap_or_default()),
                _ => Some("several DPoP headers"),
            };
            if let Some(proof) = proof {
                let url = self.origin.proof_url(parts).map_err(|message| {
                    let d = Denial::new(DenialKind::InvalidProof, message);
                    self.refuse(Refusal::new(d, AuthScheme::Dpop))
                })?;
                request = request.with_proof(proof, parts.method.as_str(), url);
            }
        }
        match self.verifier.verify(creds.token, &request) {
            Decision::Allowed(claims) => Ok(claims),
            Decision::Denied(d) => Err(self.refuse(Refusal::new(d, scheme))),
        }
    }

    /// The warrant request the mapping function makes of the request head, or why there
    /// is none (refused with 403: deny by default).
    fn map(&self, parts: &Parts) -> Result<Request, String> {
        let what = || format!("`{} {}`", parts.method, parts.uri.path());
        let request = match self.mapper.map(parts) {
            Mapped::Request(r) => r,
            Mapped::Unmapped => {
                return Err(format!(
                    "{} is not mapped to a resource and action: refused by default",
                    what()
                ))
            }
            Mapped::BadResource(e) => return Err(format!("{} names no resource: {e}", what())),
        };
        // Whatever way the mapping function made the resource, it must be canonical: a
        // raw `tickets/../admin` is refused, not handed to the token's patterns.
        if let Err(e) = check_resource(request.resource()) {
            return Err(format!(
                "{} maps to a resource that is not canonical: {e}; map paths with `resource_from_path`",
                what()
            ));
        }
        Ok(request)
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

/// The claims of the verified token, for handlers behind a [`WarrantLayer`]. Without
/// them (a handler the layer does not guard) the request is refused as the layer refuses
/// a request without a token: 401, a challenge offering both schemes and a problem
/// document.
#[derive(Debug, Clone)]
pub struct Warrant(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for Warrant {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Claims>().cloned().map(Warrant).ok_or_else(|| {
            let d = Denial::new(
                DenialKind::Malformed,
                "the request carries no verified warrant token: the handler is not behind a `WarrantLayer`",
            );
            Refusal::offer(d, parts.headers.contains_key(header::AUTHORIZATION))
        })
    }
}
