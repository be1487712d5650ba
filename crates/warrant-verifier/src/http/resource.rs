//! From URL paths to resource names, decoded once and canonical.

use warrant_core::pattern::{check_resource, ResourceError};

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
