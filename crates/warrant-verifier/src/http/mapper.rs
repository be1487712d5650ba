//! What an HTTP request means to a token: the function an API gives the layer.

use axum::extract::MatchedPath;
use axum::http::request::Parts;

use super::resource::ResourcePathError;
use crate::request::Request;

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
/// [`ResourcePathError`] (from [`resource_from_path`](super::resource_from_path)).
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

/// The route template the request matched (`/tickets/{id}/email`), for a mapping
/// function to map routes by template instead of parsing the URL again. axum records it
/// when it routes a request, so it is present when the layer is added to the router with
/// `Router::route_layer` (recommended: it guards exactly the routes, and a path no route
/// matches gets the router's 404) or `Router::layer` (which also sees requests no route
/// matches, on their way to the fallback, without a template). It is absent (`None`) when
/// the layer wraps the router from outside, before routing. A function that maps by
/// template then maps nothing, and the layer refuses the request with 403: deny by
/// default, never allow by mistake.
///
/// ```
/// use axum::http::request::Parts;
/// use warrant_verifier::http::{matched_route, resource_from_path, ResourcePathError};
/// use warrant_verifier::Request;
///
/// fn map(parts: &Parts) -> Result<Option<Request>, ResourcePathError> {
///     let action = match (parts.method.as_str(), matched_route(parts)) {
///         ("GET", Some("/tickets/{id}")) => "read",
///         ("DELETE", Some("/tickets/{id}")) => "delete",
///         _ => return Ok(None),
///     };
///     Ok(Some(Request::now(resource_from_path("/", parts.uri.path())?, action)))
/// }
/// # let (parts, _) = axum::http::Request::new(()).into_parts();
/// # assert!(map(&parts).unwrap().is_none());
/// ```
pub fn matched_route(parts: &Parts) -> Option<&str> {
    parts
        .extensions
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
}
