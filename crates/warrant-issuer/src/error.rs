//! Every error the API answers with, mapped to HTTP in this one place. Bodies are RFC 9457
//! problem documents; a 5xx says only "internal error" and the detail goes to the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store::StoreError;

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input: nothing was changed.
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials, or a failed human verification.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials, not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// The body is larger than the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// Too many requests; retry after this many seconds.
    #[error("{0}")]
    TooMany(String, u64),
    /// A failure of ours; the text is logged, never sent.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match &self {
            Self::BadRequest(d) => (StatusCode::BAD_REQUEST, "bad request", d.as_str()),
            Self::Unauthorized(d) => (StatusCode::UNAUTHORIZED, "unauthorized", d.as_str()),
            Self::Forbidden(d) => (StatusCode::FORBIDDEN, "forbidden", d.as_str()),
            Self::NotFound(d) => (StatusCode::NOT_FOUND, "not found", d.as_str()),
            Self::TooLarge(d) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload too large",
                d.as_str(),
            ),
            Self::TooMany(d, _) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests",
                d.as_str(),
            ),
            Self::Internal(d) => {
                tracing::error!(error = %d, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                    "internal error",
                )
            }
        };
        let body = serde_json::json!({
            "type": "about:blank",
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        });
        let mut res = (status, Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Self::TooMany(_, after) = &self {
            if let Ok(v) = HeaderValue::from_str(&after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warrant-issuer\""),
            );
        }
        res
    }
}

/// A JSON body, with a clear 400 when it is not one.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(
                ApiError::TooLarge("the request body is larger than the issuer accepts".into()),
            ),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}
