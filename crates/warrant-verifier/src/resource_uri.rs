//! The canonical URI of a protected resource (RFC 8707, MCP authorization): what an
//! OAuth client names in `resource`, what the issuer writes as the token's audience, and
//! what the API checks.

use std::fmt;
use std::str::FromStr;

use warrant_core::eval::Shown;
use warrant_core::pattern::Audience;

/// The canonical URI of a protected resource, such as `https://api.example/mcp`: the
/// identifier an OAuth client sends as `resource` (RFC 8707), the issuer writes into the
/// token as its audience, the API checks tokens against, and RFC 9728 metadata names as
/// its `resource`. Parsing it is the only way to make one, so a `ResourceUri` is always
/// canonical, and two spellings of one resource compare equal once parsed:
///
/// - the scheme is `https` (or `http`, for local development), lower-case;
/// - the host is lower-case (an international name in its `xn--` form), the default port
///   (443, 80) is dropped, another port kept;
/// - the path is resolved (`.` and `..` segments) and keeps its case; a trailing `/` is
///   dropped, so `https://api.example/` is `https://api.example` and
///   `https://api.example/mcp/` is `https://api.example/mcp` (the MCP specification's
///   preferred form);
/// - refused, never dropped: a fragment (`#…`, forbidden by RFC 8707), a query (`?…`,
///   which RFC 8707 advises against), user information (`user@`), whitespace or control
///   characters anywhere, another scheme, and a URI that cannot be a token audience
///   (longer than 512 bytes, or with `,` or `*`).
///
/// The issuer canonicalises a client's `resource` parameter with it before writing the
/// audience, and [`VerifierBuilder::audience`](crate::VerifierBuilder::audience)
/// canonicalises a URL audience the same way, so the two agree on every spelling.
///
/// ```
/// use warrant_verifier::{ResourceUri, ResourceUriError};
///
/// let uri: ResourceUri = "HTTPS://API.Example:443/mcp/".parse()?;
/// assert_eq!(uri.as_str(), "https://api.example/mcp");
/// assert_eq!(uri.origin(), "https://api.example");
/// assert_eq!(uri.path(), "/mcp");
/// assert_eq!(uri, "https://api.example/mcp".parse::<ResourceUri>()?);
/// assert_eq!("https://api.example:8443/".parse::<ResourceUri>()?.as_str(), "https://api.example:8443");
///
/// assert!(matches!("https://api.example/mcp#x".parse::<ResourceUri>(), Err(ResourceUriError::Fragment(_))));
/// assert!(matches!("ftp://api.example".parse::<ResourceUri>(), Err(ResourceUriError::Scheme { .. })));
/// let err = "https://me@api.example".parse::<ResourceUri>().unwrap_err();
/// assert_eq!(err.to_string(), "the resource URI `https://me@api.example` has user information (`user@`): remove it");
/// # Ok::<(), ResourceUriError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceUri {
    /// The canonical text.
    text: String,
    /// How many bytes of it are the origin (`https://host[:port]`); the rest is the path.
    origin_len: usize,
}

/// Why a text is not a resource URI ([`ResourceUri`]). The messages quote the text with
/// control characters escaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceUriError {
    /// Not an absolute URL.
    #[error("the resource URI `{0}` is not an absolute URL ({1}): give it as `https://host/path`")]
    NotUrl(String, String),
    /// Whitespace or a control character somewhere (a URL parser would silently drop it).
    #[error("the resource URI `{0}` has whitespace or control characters: remove them")]
    Whitespace(String),
    /// Not `https` or `http`.
    #[error("the resource URI `{uri}` has the scheme `{scheme}`: use `https://` (or `http://` for local development)")]
    Scheme {
        /// The text.
        uri: String,
        /// Its scheme.
        scheme: String,
    },
    /// `user@` or `user:password@`.
    #[error("the resource URI `{0}` has user information (`user@`): remove it")]
    UserInfo(String),
    /// `#…`.
    #[error("the resource URI `{0}` has a fragment (`#…`), which RFC 8707 forbids: remove it")]
    Fragment(String),
    /// `?…`.
    #[error("the resource URI `{0}` has a query (`?…`): remove it, a resource is named by its scheme, host, port and path")]
    Query(String),
    /// Canonical, but not something a token can name as its audience.
    #[error("the resource URI `{0}` cannot be a token audience: use at most 512 bytes, without `,` or `*`")]
    NotAudience(String),
}

impl ResourceUri {
    /// Parses and canonicalises `text`; see the type's documentation.
    pub fn parse(text: &str) -> Result<Self, ResourceUriError> {
        let shown = || Shown(text).to_string();
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ResourceUriError::Whitespace(shown()));
        }
        let url =
            url::Url::parse(text).map_err(|e| ResourceUriError::NotUrl(shown(), e.to_string()))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(ResourceUriError::Scheme {
                uri: shown(),
                scheme: Shown(url.scheme()).to_string(),
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ResourceUriError::NotUrl(shown(), "no host".to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ResourceUriError::UserInfo(shown()));
        }
        if url.fragment().is_some() {
            return Err(ResourceUriError::Fragment(shown()));
        }
        if url.query().is_some() {
            return Err(ResourceUriError::Query(shown()));
        }
        let origin = url.origin().ascii_serialization();
        let path = url.path().trim_end_matches('/');
        let canonical = format!("{origin}{path}");
        if Audience::check(&canonical).is_err() {
            return Err(ResourceUriError::NotAudience(shown()));
        }
        Ok(Self {
            origin_len: origin.len(),
            text: canonical,
        })
    }

    /// The canonical text: `https://api.example/mcp`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme, host and port alone: `https://api.example`, the origin DPoP proofs
    /// name and that browsers send as `Origin`.
    pub fn origin(&self) -> &str {
        self.text.get(..self.origin_len).unwrap_or(&self.text)
    }

    /// The path without its trailing `/`: `/mcp`, or empty for `https://api.example`.
    pub fn path(&self) -> &str {
        self.text.get(self.origin_len..).unwrap_or_default()
    }
}

impl FromStr for ResourceUri {
    type Err = ResourceUriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for ResourceUri {
    type Error = ResourceUriError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResourceUri").field(&self.text).finish()
    }
}

impl AsRef<str> for ResourceUri {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl From<ResourceUri> for String {
    fn from(uri: ResourceUri) -> Self {
        uri.text
    }
}

impl PartialEq<str> for ResourceUri {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for ResourceUri {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl serde::Serialize for ResourceUri {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for ResourceUri {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The canonical form of an audience: a URL (`http://` or `https://`, in any case) that is
/// a [`ResourceUri`] becomes its canonical text; any other audience (`support-api`, or a
/// URL that is not a resource URI, which then matches no canonical token) is kept as it is.
pub(crate) fn canonical_audience(audience: String) -> String {
    let looks_like_url = ["http://", "https://"].iter().any(|scheme| {
        audience
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    });
    if !looks_like_url {
        return audience;
    }
    match ResourceUri::parse(&audience) {
        Ok(uri) => uri.text,
        Err(_) => audience,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_resource_parse_to_one_canonical_uri() {
        for (text, canonical, origin, path) in [
            (
                "https://api.example",
                "https://api.example",
                "https://api.example",
                "",
            ),
            (
                "https://api.example/",
                "https://api.example",
                "https://api.example",
                "",
            ),
            (
                "HTTPS://API.EXAMPLE/",
                "https://api.example",
                "https://api.example",
                "",
            ),
            (
                "https://api.example:443/mcp",
                "https://api.example/mcp",
                "https://api.example",
                "/mcp",
            ),
            (
                "http://api.example:80/mcp/",
                "http://api.example/mcp",
                "http://api.example",
                "/mcp",
            ),
            (
                "https://api.example:8443/mcp",
                "https://api.example:8443/mcp",
                "https://api.example:8443",
                "/mcp",
            ),
            (
                "https://Api.Example/MCP/Server/",
                "https://api.example/MCP/Server",
                "https://api.example",
                "/MCP/Server",
            ),
            (
                "https://api.example/a/./b/../c",
                "https://api.example/a/c",
                "https://api.example",
                "/a/c",
            ),
            (
                "https://api.example/mcp//",
                "https://api.example/mcp",
                "https://api.example",
                "/mcp",
            ),
            (
                "http://127.0.0.1:3000",
                "http://127.0.0.1:3000",
                "http://127.0.0.1:3000",
                "",
            ),
            (
                "https://[::1]:8443/x",
                "https://[::1]:8443/x",
                "https://[::1]:8443",
                "/x",
            ),
            (
                "https://café.example/mcp",
                "https://xn--caf-dma.example/mcp",
                "https://xn--caf-dma.example",
                "/mcp",
            ),
        ] {
            let uri = ResourceUri::parse(text).unwrap();
            assert_eq!(
                (uri.as_str(), uri.origin(), uri.path()),
                (canonical, origin, path),
                "{text}"
            );
            assert_eq!(uri.to_string(), canonical);
            assert_eq!(ResourceUri::parse(canonical).unwrap(), uri, "idempotent");
        }
    }

    #[test]
    fn what_is_not_a_resource_uri_is_refused_with_the_reason() {
        let shown = |s: &str| Shown(s).to_string();
        for (text, err) in [
            (
                "https://api.example/mcp#frag",
                ResourceUriError::Fragment(shown("https://api.example/mcp#frag")),
            ),
            (
                "https://api.example/mcp#",
                ResourceUriError::Fragment(shown("https://api.example/mcp#")),
            ),
            (
                "https://api.example/mcp?x=1",
                ResourceUriError::Query(shown("https://api.example/mcp?x=1")),
            ),
            (
                "https://api.example/mcp?",
                ResourceUriError::Query(shown("https://api.example/mcp?")),
            ),
            (
                "https://me@api.example",
                ResourceUriError::UserInfo(shown("https://me@api.example")),
            ),
            (
                "https://me:pw@api.example",
                ResourceUriError::UserInfo(shown("https://me:pw@api.example")),
            ),
            (
                "https://api.exa\nmple/mcp",
                ResourceUriError::Whitespace(shown("https://api.exa\nmple/mcp")),
            ),
            (
                " https://api.example",
                ResourceUriError::Whitespace(shown(" https://api.example")),
            ),
            (
                "https://api.example/m\tcp",
                ResourceUriError::Whitespace(shown("https://api.example/m\tcp")),
            ),
            (
                "ftp://api.example",
                ResourceUriError::Scheme {
                    uri: "ftp://api.example".into(),
                    scheme: "ftp".into(),
                },
            ),
            (
                "urn:example:mcp",
                ResourceUriError::Scheme {
                    uri: "urn:example:mcp".into(),
                    scheme: "urn".into(),
                },
            ),
            (
                "https://api.example/a,b",
                ResourceUriError::NotAudience(shown("https://api.example/a,b")),
            ),
            (
                "https://api.example/*",
                ResourceUriError::NotAudience(shown("https://api.example/*")),
            ),
        ] {
            assert_eq!(ResourceUri::parse(text), Err(err), "{text:?}");
        }
        for text in ["api.example/mcp", "/mcp", "", "https://"] {
            assert!(
                matches!(ResourceUri::parse(text), Err(ResourceUriError::NotUrl(..))),
                "{text:?}: {:?}",
                ResourceUri::parse(text)
            );
        }
        let long = format!("https://api.example/{}", "a".repeat(500));
        assert!(matches!(
            ResourceUri::parse(&long),
            Err(ResourceUriError::NotAudience(_))
        ));
        // Messages name the text with control characters escaped, and what to do.
        let e = ResourceUri::parse("https://api.example/\r\nx").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the resource URI `https://api.example/\\r\\nx` has whitespace or control characters: remove them"
        );
    }

    #[test]
    fn url_audiences_are_canonicalised_and_names_kept() {
        for (given, kept) in [
            ("support-api", "support-api"),
            ("HTTPS://API.example/mcp/", "https://api.example/mcp"),
            ("Http://api.example:80", "http://api.example"),
            // Not a resource URI: kept, and so matches no canonical audience.
            ("https://api.example/mcp#x", "https://api.example/mcp#x"),
            ("urn:x", "urn:x"),
            ("http", "http"),
        ] {
            assert_eq!(canonical_audience(given.to_owned()), kept, "{given}");
        }
    }

    #[test]
    fn it_serializes_as_its_text_and_deserializes_only_when_canonicalisable() {
        let uri = ResourceUri::parse("https://API.example/mcp/").unwrap();
        assert_eq!(
            serde_json::to_value(&uri).unwrap(),
            "https://api.example/mcp"
        );
        let back: ResourceUri = serde_json::from_str("\"https://api.example:443/mcp\"").unwrap();
        assert_eq!(back, uri);
        let err = serde_json::from_str::<ResourceUri>("\"https://api.example/#x\"").unwrap_err();
        assert!(err.to_string().contains("fragment"), "{err}");
        assert_eq!(uri, "https://api.example/mcp");
        assert_eq!(String::from(uri), "https://api.example/mcp");
    }
}
