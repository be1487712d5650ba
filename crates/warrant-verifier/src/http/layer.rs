//! The tower layer and the extractor: every request verified before it reaches the
//! handler.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request as HttpRequest};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use warrant_core::pattern::check_resource;

use super::credentials::{credentials, AuthScheme};
use super::mapper::{Mapped, RequestMapper};
use super::metadata::{protected_resource_metadata, ProtectedResourceMetadata};
use super::origin::{parse_origin, Origin};
use super::refusal::{quoted, Refusal};
use super::scopes::{ScopeConfig, ScopeError, ScopeTable};
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
    /// The `resource_metadata` URL is not an http(s) URL.
    #[error("the resource metadata URL `{0}` is not an http(s) URL without fragment: name where the RFC 9728 metadata is served, such as `https://api.example/.well-known/oauth-protected-resource`")]
    BadResourceMetadata(String),
    /// A scope that cannot be named in a challenge.
    #[error("the layer's scopes: {0}")]
    BadScope(#[from] ScopeError),
    /// The verifier checks another URL audience than the protected resource.
    #[error("the verifier's audience `{audience}` is not the protected resource `{resource}`: build the verifier with `.audience(\"{resource}\")`, or without an audience")]
    AudienceMismatch {
        /// The verifier's audience.
        audience: String,
        /// The protected resource's canonical URI.
        resource: String,
    },
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
    metadata: Option<ProtectedResourceMetadata>,
    resource_metadata: Option<String>,
    scopes: ScopeConfig,
    trust_host: bool,
}

impl std::fmt::Debug for WarrantLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarrantLayerBuilder")
            .field("origin", &self.origin)
            .field("metadata", &self.metadata)
            .field("resource_metadata", &self.resource_metadata)
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

    /// Makes the layer the OAuth resource server of RFC 9728 `metadata` (an MCP server's,
    /// for one):
    /// - the public origin is the `resource`'s scheme, host and port;
    /// - the audience checked is the `resource` (its canonical URI), when the verifier
    ///   has no audience of its own; a verifier with another URL audience is a
    ///   configuration error ([`LayerError::AudienceMismatch`]), one with a name
    ///   (`support-api`) keeps checking that name;
    /// - every challenge names the metadata (`resource_metadata="…"`) at its
    ///   path-inserted URL ([`ProtectedResourceMetadata::metadata_url`]), unless
    ///   [`Self::resource_metadata`] names another;
    /// - [`WarrantLayer::metadata_router`] serves the metadata, with
    ///   `dpop_bound_access_tokens_required` set from the verifier and, when
    ///   `scopes_supported` is `None`, the scopes the layer declares.
    pub fn protected_resource(mut self, metadata: &ProtectedResourceMetadata) -> Self {
        self.metadata = Some(metadata.clone());
        self
    }

    /// Names the RFC 9728 metadata URL in `WWW-Authenticate` (`resource_metadata="…"`),
    /// so clients can discover the issuer.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// The OAuth scopes every route needs, named in the challenges of its 401 and 403
    /// answers (`scope="…"`) unless [`Self::route_scopes`] names others for the route.
    ///
    /// Scopes are hints for the client's step-up (which scopes to ask the issuer for
    /// next), never what is checked: the token's grant decides. `build` fails on a value
    /// that is not a scope token (printable ASCII without spaces, `"` or `\`).
    pub fn scopes<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.scopes.every_route = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The OAuth scopes requests to `method` and the route template `route`
    /// (`/tickets/{id}`, as [`matched_route`](super::matched_route) reads it: add the
    /// layer with `route_layer`) need; see [`Self::scopes`].
    pub fn route_scopes<I, T>(mut self, method: Method, route: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.scopes.routes.push((method, route.into(), scopes));
        self
    }

    /// The OAuth scopes a request needs, computed from its head (for an MCP server, from
    /// the tool its `Mcp-Name` header names, say); when set, it alone is asked. Values
    /// that are not scope tokens are left out. See [`Self::scopes`].
    pub fn scopes_with<F>(mut self, scopes: F) -> Self
    where
        F: Fn(&Parts) -> Vec<String> + Send + Sync + 'static,
    {
        self.scopes.computed = Some(Arc::new(scopes));
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
        let origin = self.origin()?;
        let scopes = ScopeTable::new(self.scopes)?;
        let resource_metadata = match (&self.resource_metadata, &self.metadata) {
            (Some(url), _) => Some(metadata_url(url)?),
            (None, Some(m)) => Some(m.metadata_url()),
            (None, None) => None,
        };
        let audience = match &self.metadata {
            Some(m) => resource_audience(&self.verifier, m)?,
            None => None,
        };
        let metadata = self.metadata.map(|mut m| {
            m.dpop_bound_access_tokens_required = !self.verifier.accepts_bearer();
            if m.scopes_supported.is_none() && !scopes.declared().is_empty() {
                m.scopes_supported = Some(scopes.declared().to_vec());
            }
            Arc::new(m)
        });
        Ok(WarrantLayer {
            verifier: self.verifier,
            mapper: self.mapper,
            resource_metadata: resource_metadata.map(Arc::from),
            origin,
            scopes: Arc::new(scopes),
            audience,
            metadata,
        })
    }

    /// Where the URL a DPoP proof must name comes from.
    fn origin(&self) -> Result<Origin, LayerError> {
        let configured = match &self.origin {
            Some(o) => {
                Some(parse_origin(o, false).ok_or_else(|| LayerError::BadOrigin(o.clone()))?)
            }
            None => None,
        };
        let from_resource = self
            .metadata
            .as_ref()
            .map(|m| m.resource.origin().to_owned());
        let origin = match (configured, from_resource) {
            (Some(a), Some(b)) if a != b => return Err(LayerError::Conflict(a, b)),
            (Some(a), _) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        match (origin, self.trust_host) {
            (Some(o), true) => Err(LayerError::OriginAndHost(o)),
            (Some(o), false) => Ok(Origin::Fixed(Arc::from(o))),
            (None, true) => Ok(Origin::DangerousHost),
            (None, false) => Err(LayerError::NoOrigin),
        }
    }
}

/// A `resource_metadata` URL as challenges name it: an http(s) URL without fragment.
fn metadata_url(url: &str) -> Result<String, LayerError> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.fragment().is_none() => {
            Ok(u.to_string())
        }
        _ => Err(LayerError::BadResourceMetadata(quoted(url))),
    }
}

/// The audience the layer gives each request for `metadata`'s resource: its canonical
/// URI when the verifier has no audience; none when the verifier checks the same URI or a
/// name; an error when it checks another URL.
fn resource_audience(
    verifier: &Verifier,
    metadata: &ProtectedResourceMetadata,
) -> Result<Option<Arc<str>>, LayerError> {
    let resource = metadata.resource.as_str();
    match verifier.audience() {
        None => Ok(Some(Arc::from(resource))),
        Some(a) if a == resource => Ok(None),
        Some(a) if a.starts_with("http://") || a.starts_with("https://") => {
            Err(LayerError::AudienceMismatch {
                audience: quoted(a),
                resource: resource.to_owned(),
            })
        }
        Some(_) => Ok(None),
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
    scopes: Arc<ScopeTable>,
    /// The audience requests are checked under when the mapping function names none.
    audience: Option<Arc<str>>,
    metadata: Option<Arc<ProtectedResourceMetadata>>,
}

impl std::fmt::Debug for WarrantLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarrantLayer")
            .field("verifier", &self.verifier)
            .field("origin", &self.origin)
            .field("resource_metadata", &self.resource_metadata)
            .field("audience", &self.audience)
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
            metadata: None,
            resource_metadata: None,
            scopes: ScopeConfig::default(),
            trust_host: false,
        }
    }

    /// The RFC 9728 metadata the layer was built with
    /// ([`WarrantLayerBuilder::protected_resource`]), completed from its verifier and
    /// scopes; `None` without one.
    pub fn metadata(&self) -> Option<&ProtectedResourceMetadata> {
        self.metadata.as_deref()
    }

    /// A router serving [`Self::metadata`] without a token, at the path-inserted and the
    /// root well-known URIs ([`protected_resource_metadata`]); empty when the layer has
    /// no metadata. Merge it outside the layer.
    pub fn metadata_router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        match &self.metadata {
            Some(m) => protected_resource_metadata((**m).clone()),
            None => axum::Router::new(),
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
    /// The refusal of `parts`, naming the layer's RFC 9728 metadata and the scopes the
    /// request needs.
    fn refuse(&self, parts: &Parts, refusal: Refusal) -> Box<Response> {
        let refusal = match &self.resource_metadata {
            Some(url) => refusal.with_resource_metadata(Arc::clone(url)),
            None => refusal,
        };
        let refusal = refusal.with_scope_list(self.scopes.for_request(parts));
        Box::new(refusal.into_response())
    }

    /// Verifies one request head: the claims, or the refusal to send.
    fn admit(&self, parts: &Parts) -> Result<Claims, Box<Response>> {
        let refuse = |refusal| self.refuse(parts, refusal);
        let creds =
            credentials(&parts.headers).map_err(|e| refuse(Refusal::unauthenticated(&e)))?;
        let scheme = creds.scheme;
        let mut request = self.map(parts).map_err(|message| {
            let d = Denial::new(DenialKind::RuleNotMatched, message);
            refuse(Refusal::new(d, scheme))
        })?;
        if let Some(audience) = &self.audience {
            if request.0.audience.is_none() {
                request = request.with_audience(&**audience);
            }
        }
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
                    refuse(Refusal::new(d, AuthScheme::Dpop))
                })?;
                request = request.with_proof(proof, parts.method.as_str(), url);
            }
        }
        match self.verifier.verify(creds.token, &request) {
            Decision::Allowed(claims) => Ok(claims),
            Decision::Denied(d) => Err(refuse(Refusal::new(d, scheme))),
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
