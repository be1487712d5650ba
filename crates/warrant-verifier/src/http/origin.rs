//! The URL a request's DPoP proof must name: the layer's public origin and the request
//! path, or (opted into) what the client says its host is.

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{header, HeaderValue};

use super::refusal::quoted;

/// Where the URL a DPoP proof must name comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Configured: `https://api.example`.
    Fixed(Arc<str>),
    /// The request's `Host` (or absolute-form target): see
    /// [`super::WarrantLayerBuilder::dangerous_trust_host_header`].
    DangerousHost,
}

impl Origin {
    /// The URL the request's DPoP proof must name: the origin and the request path,
    /// without query or fragment.
    pub(crate) fn proof_url(&self, parts: &Parts) -> Result<String, String> {
        let path = parts.uri.path();
        if !path.starts_with('/') {
            return Err(format!(
                "the request target `{path}` is not a path: a DPoP proof names a URL, send an origin-form request"
            ));
        }
        let origin = match self {
            Origin::Fixed(origin) => origin.to_string(),
            Origin::DangerousHost => host_origin(parts)?,
        };
        Ok(format!("{origin}{path}"))
    }
}

/// The `scheme://host[:port]` of an http(s) URL; `with_path` allows a path (a resource
/// identifier), otherwise the URL must be the origin alone.
pub(crate) fn parse_origin(text: &str, with_path: bool) -> Option<String> {
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
