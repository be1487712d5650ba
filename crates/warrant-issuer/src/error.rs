//! Every error the API answers with, mapped to HTTP in this one place. Bodies are RFC 9457
//! problem documents; a 5xx says only "internal error" and the detail goes to the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input: nothing was changed.
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials, or a failed human verification.
    #[error("{0}")]
    Unauthorized(String),
    /// No valid DPoP proof of possession (an agent's request): 401 with a `DPoP`
    /// challenge.
    #[error("{0}")]
    ProofRefused(String),
    /// Valid credentials, not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The thing is in a state that does not allow this (a request already decided).
    #[error("{0}")]
    Conflict(String),
    /// The thing is over for good (a request expired, or its token collected).
    #[error("{0}")]
    Gone(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// The route exists, not with this method; the response keeps axum's `Allow` header.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request did not complete within `request_timeout`.
    #[error("{0}")]
    Timeout(String),
    /// The body is larger than the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// The body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many requests; retry after this many seconds.
    #[error("{0}")]
    TooMany(String, u64),
    /// A feature the configuration leaves off (passkeys without a usable `public_url`).
    #[error("{0}")]
    Unavailable(String),
    /// A failure of ours; the text is logged, never sent.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A body past `body_limit`, naming the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::TooLarge(format!(
            "the request body is larger than the limit of {limit} bytes (`body_limit` in the configuration)"
        ))
    }

    /// The status it is answered with.
    pub(crate) fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// The status, the problem title and the detail sent.
    fn parts(&self) -> (StatusCode, &'static str, &str) {
        match self {
            Self::BadRequest(d) => (StatusCode::BAD_REQUEST, "bad request", d),
            Self::Unauthorized(d) => (StatusCode::UNAUTHORIZED, "unauthorized", d),
            Self::ProofRefused(d) => (StatusCode::UNAUTHORIZED, "unauthorized", d),
            Self::Forbidden(d) => (StatusCode::FORBIDDEN, "forbidden", d),
            Self::Conflict(d) => (StatusCode::CONFLICT, "conflict", d),
            Self::Gone(d) => (StatusCode::GONE, "gone", d),
            Self::NotFound(d) => (StatusCode::NOT_FOUND, "not found", d),
            Self::MethodNotAllowed(d) => (StatusCode::METHOD_NOT_ALLOWED, "method not allowed", d),
            Self::Timeout(d) => (StatusCode::REQUEST_TIMEOUT, "request timeout", d),
            Self::TooLarge(d) => (StatusCode::PAYLOAD_TOO_LARGE, "payload too large", d),
            Self::UnsupportedMediaType(d) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported media type",
                d,
            ),
            Self::TooMany(d, _) => (StatusCode::TOO_MANY_REQUESTS, "too many requests", d),
            Self::Unavailable(d) => (StatusCode::SERVICE_UNAVAILABLE, "service unavailable", d),
            Self::Internal(d) => {
                tracing::error!(error = %d, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                    "internal error",
                )
            }
        }
    }
}

/// An RFC 9457 problem document: `application/problem+json`, `type` `about:blank`.
pub(crate) fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = crate::api::Problem {
        kind: "about:blank".to_owned(),
        title: title.to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
    };
    let mut res = (status, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    res
}

/// The media type of every error body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title, detail) = self.parts();
        let mut res = problem(status, title, detail);
        if let Self::TooMany(_, after) = &self {
            if let Ok(v) = HeaderValue::from_str(&after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if let Self::ProofRefused(_) = &self {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("DPoP algs=\"EdDSA ES256\", error=\"invalid_dpop_proof\""),
            );
        } else if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warrant-issuer\""),
            );
        }
        res
    }
}

/// The configured body limit, put in each request's extensions by the router so that the
/// extractors can name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub usize);

/// A JSON body, with a clear 400 when it is not one.
#[derive(Debug)]
pub(crate) struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(crate::config::defaults::BODY_LIMIT, |l| l.0);
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(limit),
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
                    "the body must be JSON, sent with `Content-Type: application/json`".into(),
                ),
                _ => ApiError::BadRequest(lower_first(&rejection.body_text())),
            }),
        }
    }
}

/// `text` with its first letter in lower case (axum's rejection texts start with a capital).
pub(crate) fn lower_first(text: &str) -> String {
    let mut chars = text.trim().chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
