//! The `Origin` check an MCP server must make (DNS rebinding): browsers' requests from
//! pages of other origins are refused.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request as HttpRequest;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tower::{Layer, Service};

use super::origin::parse_origin;
use super::refusal::quoted;

/// An allowed origin that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// Not scheme, host and optional port.
    #[error("the allowed origin `{0}` is not an http(s) origin: give scheme, host and optional port only, such as `https://app.example`")]
    NotOrigin(String),
}

/// A request refused by [`OriginLayer`]: 403 with an RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OriginRefused(String);

impl IntoResponse for OriginRefused {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "https://warrant.dev/problems/origin_refused",
            "title": "the request comes from a page this API does not serve",
            "status": 403,
            "detail": self.0,
        });
        let mut response = (StatusCode::FORBIDDEN, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// Refuses, with 403, every request whose `Origin` header names an origin outside its
/// allow-list, as the MCP streamable HTTP transport requires of servers (a page on
/// another site, or on an attacker's name rebound to this server's address, cannot call
/// it from a visitor's browser). A request without `Origin` passes: it does not come from
/// a browser's cross-origin fetch (command-line and server-side clients send none). So
/// do requests whose one `Origin` is in the list; several `Origin` headers, one that is
/// not ASCII, and `Origin: null` (sandboxed pages, `file:` URLs) are refused.
///
/// Origins compare as browsers send them: scheme, host and port, lower-case, without the
/// default port. Add it to the MCP endpoint (before the [`WarrantLayer`](super::WarrantLayer)
/// or after: it reads only the `Origin`); it does not answer CORS preflights.
///
/// ```
/// use axum::{routing::post, Router};
/// use warrant_verifier::http::OriginLayer;
///
/// let origins = OriginLayer::new(["https://app.example", "http://localhost:6274"])?;
/// let app: Router = Router::new().route("/mcp", post(|| async { "ok" })).layer(origins);
///
/// // The check alone, for another framework:
/// let check = OriginLayer::new(["https://app.example"])?;
/// let mut headers = axum::http::HeaderMap::new();
/// assert!(check.check(&headers).is_ok()); // no `Origin`: not a browser's cross-origin call
/// headers.insert("origin", "https://evil.example".parse().unwrap());
/// assert!(check.check(&headers).is_err());
/// headers.insert("origin", "HTTPS://App.Example:443".parse().unwrap());
/// assert!(check.check(&headers).is_ok());
/// # Ok::<(), warrant_verifier::http::OriginError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OriginLayer {
    allowed: Arc<[String]>,
}

impl OriginLayer {
    /// A layer allowing `origins` (`https://app.example`, `http://localhost:6274`), or the
    /// first that is not an origin. An empty list allows only requests without `Origin`.
    pub fn new<I, T>(origins: I) -> Result<Self, OriginError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let allowed = origins
            .into_iter()
            .map(|o| {
                let o = o.as_ref();
                parse_origin(o, false).ok_or_else(|| OriginError::NotOrigin(quoted(o)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            allowed: allowed.into(),
        })
    }

    /// Whether a request with `headers` may pass: no `Origin`, or one `Origin` in the
    /// list.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), OriginRefused> {
        let origins: Vec<&HeaderValue> = headers.get_all(header::ORIGIN).iter().collect();
        let origin = match origins.as_slice() {
            [] => return Ok(()),
            [one] => one.to_str().map_err(|_| {
                OriginRefused("the request's `Origin` header is not ASCII".to_owned())
            })?,
            _ => {
                return Err(OriginRefused(
                    "the request has several `Origin` headers".to_owned(),
                ))
            }
        };
        // `null` and anything else that is not an http(s) origin never matches.
        match parse_origin(origin, false) {
            Some(o) if self.allowed.contains(&o) => Ok(()),
            _ => Err(OriginRefused(format!(
                "requests from `{}` are not allowed: only pages of the allowed origins may call this API from a browser",
                quoted(origin)
            ))),
        }
    }
}

impl<S> Layer<S> for OriginLayer {
    type Service = OriginService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OriginService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`OriginLayer`] wraps around a handler.
#[derive(Debug, Clone)]
pub struct OriginService<S> {
    inner: S,
    layer: OriginLayer,
}

impl<S> Service<HttpRequest> for OriginService<S>
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
        match self.layer.check(req.headers()) {
            Ok(()) => {
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                Box::pin(ready.call(req))
            }
            Err(refused) => Box::pin(async move { Ok(refused.into_response()) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_or_none_pass() {
        let layer = OriginLayer::new(["https://app.example", "HTTP://LOCALHOST:6274/"]).unwrap();
        let with = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(
                    header::ORIGIN,
                    HeaderValue::from_bytes(v.as_bytes()).unwrap(),
                );
            }
            layer.check(&headers)
        };
        for ok in [
            &[][..],
            &["https://app.example"],
            &["https://app.example:443"],
            &["http://localhost:6274"],
        ] {
            assert!(with(ok).is_ok(), "{ok:?}");
        }
        for (bad, why) in [
            (
                &["https://evil.example"][..],
                "`https://evil.example` are not allowed",
            ),
            (&["http://app.example"], "not allowed"),
            (&["https://app.example:8443"], "not allowed"),
            (&["https://app.example.evil.example"], "not allowed"),
            (&["http://localhost:6275"], "not allowed"),
            (&["null"], "`null` are not allowed"),
            (&["https://app.example/path"], "not allowed"),
            (&[""], "not allowed"),
            (&["https://app.example", "https://app.example"], "several"),
            (&["https://caf\u{e9}.example"], "not ASCII"),
        ] {
            let err = with(bad).unwrap_err();
            assert!(err.to_string().contains(why), "{bad:?}: {err}");
        }
        assert_eq!(
            OriginLayer::new(["https://app.example", "app.example"]).unwrap_err(),
            OriginError::NotOrigin("app.example".into())
        );
    }
}
