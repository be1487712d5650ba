//! Credentials from request headers: the `Authorization` scheme and the token text.

use axum::http::{header, HeaderMap};

/// The `Authorization` scheme of a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449): the token is bound to a key, and the `DPoP` header carries the
    /// holder's proof.
    Dpop,
}

/// What an `Authorization` header carries: its scheme and its token text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials<'a> {
    /// The scheme.
    pub scheme: AuthScheme,
    /// The token text after the scheme, without surrounding spaces; never empty.
    pub token: &'a str,
}

/// Why a request carries no usable credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// No `Authorization` header.
    #[error("the request has no `Authorization: DPoP` (or `Bearer`) token")]
    Missing,
    /// The header is not visible ASCII.
    #[error("the `Authorization` header is not ASCII")]
    NotAscii,
    /// Not a scheme, one or more spaces, and a token.
    #[error("the `Authorization` header is not `DPoP <token>`")]
    Malformed,
    /// A scheme other than `DPoP` and `Bearer`.
    #[error("the `Authorization` scheme `{0}` is not supported: use `DPoP` or `Bearer`")]
    UnsupportedScheme(String),
}

impl<'a> Credentials<'a> {
    /// Reads an `Authorization` value: `DPoP <token>` or `Bearer <token>`, the scheme in
    /// any case (RFC 9110 section 11.1: `bearer` and `BEARER` are `Bearer`), then one or
    /// more spaces and the token.
    ///
    /// ```
    /// use warrant_verifier::http::{AuthScheme, Credentials, CredentialsError};
    ///
    /// let c = Credentials::parse("dpop  En0KEwoEYWRtaW4")?;
    /// assert_eq!((c.scheme, c.token), (AuthScheme::Dpop, "En0KEwoEYWRtaW4"));
    /// assert_eq!(Credentials::parse("BEARER abc")?.scheme, AuthScheme::Bearer);
    /// assert_eq!(Credentials::parse("Bearer"), Err(CredentialsError::Malformed));
    /// assert!(matches!(Credentials::parse("Basic dXNlcg=="), Err(CredentialsError::UnsupportedScheme(_))));
    /// # Ok::<(), CredentialsError>(())
    /// ```
    pub fn parse(authorization: &'a str) -> Result<Self, CredentialsError> {
        let (scheme, token) = authorization
            .trim()
            .split_once(' ')
            .ok_or(CredentialsError::Malformed)?;
        let token = token.trim();
        if token.is_empty() {
            return Err(CredentialsError::Malformed);
        }
        let scheme = if scheme.eq_ignore_ascii_case("dpop") {
            AuthScheme::Dpop
        } else if scheme.eq_ignore_ascii_case("bearer") {
            AuthScheme::Bearer
        } else {
            return Err(CredentialsError::UnsupportedScheme(scheme.to_owned()));
        };
        Ok(Self { scheme, token })
    }
}

/// The credentials of a request, from its (first) `Authorization` header, read by
/// [`Credentials::parse`]. The layer reads them with this function, and so can any other
/// code of an API that takes the same header.
pub fn credentials(headers: &HeaderMap) -> Result<Credentials<'_>, CredentialsError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(CredentialsError::Missing)?;
    let text = value.to_str().map_err(|_| CredentialsError::NotAscii)?;
    Credentials::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_scheme_is_read_in_any_case_and_the_token_trimmed() {
        for (value, scheme, token) in [
            ("DPoP abc", AuthScheme::Dpop, "abc"),
            ("dpop abc", AuthScheme::Dpop, "abc"),
            ("DPOP   abc  ", AuthScheme::Dpop, "abc"),
            ("Bearer abc", AuthScheme::Bearer, "abc"),
            ("bEaReR  abc", AuthScheme::Bearer, "abc"),
            (" Bearer abc", AuthScheme::Bearer, "abc"),
        ] {
            let c = Credentials::parse(value).unwrap();
            assert_eq!((c.scheme, c.token), (scheme, token), "{value:?}");
        }
        for (value, err) in [
            ("Bearer", CredentialsError::Malformed),
            ("Bearer ", CredentialsError::Malformed),
            ("Bearerabc", CredentialsError::Malformed),
            ("", CredentialsError::Malformed),
            (
                "Basic abc",
                CredentialsError::UnsupportedScheme("Basic".into()),
            ),
            (
                "DPoP-x abc",
                CredentialsError::UnsupportedScheme("DPoP-x".into()),
            ),
        ] {
            assert_eq!(Credentials::parse(value), Err(err), "{value:?}");
        }
    }

    #[test]
    fn headers_without_credentials_say_why() {
        let mut headers = HeaderMap::new();
        assert_eq!(credentials(&headers), Err(CredentialsError::Missing));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer caf\xc3\xa9").unwrap(),
        );
        assert_eq!(credentials(&headers), Err(CredentialsError::NotAscii));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("DPoP t"));
        let c = credentials(&headers).unwrap();
        assert_eq!((c.scheme, c.token), (AuthScheme::Dpop, "t"));
    }
}
