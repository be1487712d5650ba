//! Every error the issuer answers is an RFC 9457 problem document, whichever layer or
//! extractor produced it: unknown routes, wrong methods, timeouts, oversized bodies,
//! unreadable query strings and bodies, wrong content types.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::Value as J;

use crate::env::{Db, Env, CONFIG};

/// Sends `req` through `app(state)`; returns the status, the headers and the body as JSON
/// (asserting that it is a problem document).
async fn problem(env: &Env, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, J) {
    let (status, headers, text) = env.send(req).await;
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap()),
        Some("application/problem+json"),
        "{status}: {text}"
    );
    let body: J = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"));
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["type"], "about:blank", "{body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    (status, headers, body)
}

fn detail(body: &J) -> &str {
    body["detail"].as_str().unwrap()
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem_naming_the_path() {
    let env = Env::new(Db::Sqlite).await.unwrap();
    let req = Request::get("/v1/nothing-here")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = problem(&env, req).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(detail(&body).contains("/v1/nothing-here`"), "{body}");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_with_allow() {
    let env = Env::new(Db::Sqlite).await.unwrap();
    let req = Request::delete("/v1/tokens").body(Body::empty()).unwrap();
    let (status, headers, body) = problem(&env, req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let allow = headers.get(header::ALLOW).unwrap().to_str().unwrap();
    assert!(allow.contains("POST"), "{allow}");
    assert!(detail(&body).contains("`DELETE`"), "{body}");
    assert!(detail(&body).contains("POST"), "{body}");
}

/// A body that never arrives.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Poll::Pending
    }
}

#[tokio::test]
async fn a_request_past_the_timeout_is_a_408_problem() {
    let config = format!("request_timeout = \"1s\"\n{CONFIG}");
    let env = Env::with_config(Db::Sqlite, &config, None).await.unwrap();
    let req = Request::post("/v1/challenges")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::new(Stalled))
        .unwrap();
    let (status, _, body) = problem(&env, req).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert!(detail(&body).contains("1s"), "{body}");
}

#[tokio::test]
async fn a_body_past_the_limit_is_a_413_problem_naming_the_limit() {
    let config = format!("body_limit = 1000\n{CONFIG}");
    let env = Env::with_config(Db::Sqlite, &config, None).await.unwrap();
    let big = format!("{{\"human\":\"{}\"}}", "a".repeat(5000));
    // With a Content-Length (refused before reading) and without one (refused while reading).
    let with_length = Request::post("/v1/challenges")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    let streamed = Request::post("/v1/challenges")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(tokio_stream(big)))
        .unwrap();
    for req in [with_length, streamed] {
        let (status, _, body) = problem(&env, req).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(detail(&body).contains("1000 bytes"), "{body}");
    }
}

/// `text` as a body stream of 100-byte chunks (no Content-Length).
fn tokio_stream(
    text: String,
) -> impl futures_core::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send {
    struct Chunks(Vec<axum::body::Bytes>);
    impl futures_core::Stream for Chunks {
        type Item = Result<axum::body::Bytes, std::io::Error>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(if self.0.is_empty() {
                None
            } else {
                Some(Ok(self.0.remove(0)))
            })
        }
    }
    Chunks(
        text.into_bytes()
            .chunks(100)
            .map(axum::body::Bytes::copy_from_slice)
            .collect(),
    )
}

#[tokio::test]
async fn an_unreadable_query_string_is_a_400_problem() {
    let env = Env::new(Db::Sqlite).await.unwrap();
    let req = Request::get("/v1/revocations?since=yesterday")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = problem(&env, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("query"), "{body}");
}

#[tokio::test]
async fn an_unreadable_json_body_is_a_400_problem() {
    let env = Env::new(Db::Sqlite).await.unwrap();
    for text in ["{not json", "{\"humane\": 1}", "[]"] {
        let req = Request::post("/v1/challenges")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(text))
            .unwrap();
        let (status, _, body) = problem(&env, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}: {body}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_by_content_type_is_a_415_problem() {
    let env = Env::new(Db::Sqlite).await.unwrap();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = Request::post("/v1/challenges");
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let req = req.body(Body::from("{\"human\":\"alice\"}")).unwrap();
        let (status, _, body) = problem(&env, req).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert!(detail(&body).contains("application/json"), "{body}");
    }
}
