//! The three guards take the same decision: the good request is allowed, the others
//! refused with the same status, so the comparison measures the same work.

use axum::body::Body;
use axum::http::{header, Request as HttpRequest, StatusCode};
use tower::ServiceExt as _;

use super::*;

fn keys() -> Keys {
    let mut seed = [0u8; 64];
    OsRng.fill_bytes(&mut seed);
    Keys::from_seed(&seed).unwrap()
}

/// `token` with its middle character changed: signed text that no longer verifies.
fn tampered(token: &str) -> String {
    let mid = token.len() / 2;
    let new = if &token[mid..=mid] == "A" { "B" } else { "A" };
    format!("{}{new}{}", &token[..mid], &token[mid + 1..])
}

async fn status(app: &Router, path: &str, authorization: Option<&str>) -> StatusCode {
    let mut req = HttpRequest::builder().uri(path);
    if let Some(value) = authorization {
        req = req.header(header::AUTHORIZATION, value);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    resp.status()
}

#[tokio::test]
async fn every_guard_allows_the_good_request_and_refuses_the_others_alike() {
    let keys = keys();
    let now = Timestamp::from_system_time(SystemTime::now());
    let other = self::keys();
    for blocks in [1, 3] {
        let warrant = keys.warrant_token(blocks, now).unwrap();
        let jwt = keys.jwt(now).unwrap();
        let foreign_warrant = other.warrant_token(blocks, now).unwrap();
        let foreign_jwt = other.jwt(now).unwrap();
        for guard in [Guard::Layer, Guard::Jwt, Guard::JwtCached] {
            let stats = Arc::new(Stats::default());
            let app = app(guard, &keys, 100, &stats).unwrap();
            let (token, foreign, wrong_kind) = match guard {
                Guard::Layer => (&warrant, &foreign_warrant, &jwt),
                Guard::Jwt | Guard::JwtCached => (&jwt, &foreign_jwt, &warrant),
            };
            let bearer = |t: &str| format!("Bearer {t}");
            // Twice: the second time from the caches (warrant's, the JWT one).
            for round in 0..2 {
                let case = format!("{guard:?}, {blocks} blocks, round {round}");
                let good = "/tickets/123/email_address";
                let closed = "/tickets/124/email_address";
                assert_eq!(
                    status(&app, good, Some(&bearer(token))).await,
                    StatusCode::OK,
                    "{case}"
                );
                // Ticket 124 is closed, and outside the grant: 403 from each.
                assert_eq!(
                    status(&app, closed, Some(&bearer(token))).await,
                    StatusCode::FORBIDDEN,
                    "{case}"
                );
                for bad in [
                    None,
                    Some(bearer(foreign)),
                    Some(bearer(wrong_kind)),
                    Some(bearer(&tampered(token))),
                    Some(format!("Basic {token}")),
                ] {
                    assert_eq!(
                        status(&app, good, bad.as_deref()).await,
                        StatusCode::UNAUTHORIZED,
                        "{case}: {:.40?}",
                        bad
                    );
                }
            }
            assert_eq!(stats.non_200.load(Ordering::Relaxed), 2 * 6, "{guard:?}");
            assert_eq!(stats.requests.load(Ordering::Relaxed), 2 * 7, "{guard:?}");
            // The cached JWT guard verified the good token once; the three bad tokens
            // that reach verification fail it and are never cached, so miss every round.
            let misses = stats.cache_misses.load(Ordering::Relaxed);
            let expected = if guard == Guard::JwtCached {
                1 + 2 * 3
            } else {
                0
            };
            assert_eq!(misses, expected, "{guard:?}");
        }
    }
}

#[test]
fn minted_files_hold_distinct_tokens_that_the_server_keys_verify() {
    let dir = std::env::temp_dir().join(format!("http-compare-test-{}", std::process::id()));
    mint_all(&dir, 5, 2).unwrap();
    let keys = Keys::load(&dir).unwrap();
    for file in ["warrant.tokens", "jwt.tokens"] {
        let text = fs::read_to_string(dir.join(file)).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{file}");
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), 5, "{file}: distinct");
    }
    let text = fs::read_to_string(dir.join("warrant.tokens")).unwrap();
    let verifier = keys.verifier(10);
    let req = warrant_verifier::Request::now("tickets/123/email_address", "read")
        .with_attr("ticket.status", "open");
    for token in text.lines() {
        assert!(verifier.verify(token, &req).is_allowed());
    }
    fs::remove_dir_all(&dir).unwrap();
}
