//! Key-set and revocation-feed refresh over HTTP, against a loopback server.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use rand_core::OsRng;
use serde_json::json;
use warrant_core::keys::{KeyId, KeySet, KeySetEntry, SigningKey};
use warrant_verifier::refresh::RefreshError;
use warrant_verifier::{
    DenialKind, Request, RevocationEntry, RevocationKind, Verifier, VerifierBuilder,
};

use crate::common::{mint_with, test_limits, NOW};

#[derive(Default)]
struct Server {
    keys: String,
    fail: bool,
    key_fetches: usize,
    feed: Vec<RevocationEntry>,
    sinces: Vec<Option<u64>>,
}

type Shared = Arc<Mutex<Server>>;

async fn keys(State(s): State<Shared>) -> axum::response::Response {
    let mut s = s.lock().unwrap();
    s.key_fetches += 1;
    if s.fail {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    s.keys.clone().into_response()
}

#[derive(serde::Deserialize)]
struct Since {
    since: Option<u64>,
}

async fn feed(State(s): State<Shared>, Query(q): Query<Since>) -> axum::response::Response {
    let mut s = s.lock().unwrap();
    s.sinces.push(q.since);
    if s.fail {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    // Pages of two entries after the cursor.
    let entries: Vec<&RevocationEntry> = s
        .feed
        .iter()
        .filter(|e| e.cursor.unwrap_or(0) > q.since.unwrap_or(0))
        .take(2)
        .collect();
    let next = entries.last().and_then(|e| e.cursor).or(q.since);
    axum::Json(json!({"entries": entries, "next_cursor": next})).into_response()
}

async fn serve(state: Shared) -> String {
    let app = Router::new()
        .route("/keys", get(keys))
        .route("/revocations", get(feed))
        .route("/garbage", get(|| async { "not json" }))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn key_set(keys: &[(u32, &SigningKey)]) -> String {
    KeySet {
        keys: keys
            .iter()
            .map(|(kid, k)| KeySetEntry {
                kid: KeyId(*kid),
                alg: "Ed25519".into(),
                public_key: k.public(),
            })
            .collect(),
    }
    .to_json()
}

fn token(key: &SigningKey) -> String {
    mint_with(
        key,
        &json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}),
    )
    .token
    .to_base64()
    .unwrap()
}

fn req() -> Request {
    Request::new("r", "read", NOW)
}

/// Polls `f` until it holds, for at most five seconds.
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

fn empty_verifier() -> Verifier {
    empty_builder().build()
}

fn empty_builder() -> VerifierBuilder {
    Verifier::builder(KeySet::default())
        .limits(test_limits())
        .dangerous_accept_bearer()
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_a_token_names_it() {
    let old = SigningKey::generate(&mut OsRng, Some(KeyId(1)));
    let new = SigningKey::generate(&mut OsRng, Some(KeyId(2)));
    let state = Shared::default();
    state.lock().unwrap().keys = key_set(&[(1, &old)]);
    let base = serve(Arc::clone(&state)).await;
    let verifier = empty_verifier();
    let _handle = verifier
        .refresh_keys(&format!("{base}/keys"), Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(verifier.verify(&token(&old), &req()).is_allowed());
    // The issuer rotates: it publishes the new key, then signs with it. The first token
    // naming the new key id is refused and triggers a refetch at once, long before the
    // hourly interval.
    state.lock().unwrap().keys = key_set(&[(1, &old), (2, &new)]);
    let rotated = token(&new);
    let d = verifier.verify(&rotated, &req());
    assert_eq!(d.denial().unwrap().kind, DenialKind::UnknownKey);
    assert!(eventually(|| verifier.verify(&rotated, &req()).is_allowed()).await);
    assert!(verifier.verify(&token(&old), &req()).is_allowed());
}

#[tokio::test]
async fn unknown_key_ids_refetch_at_most_once_per_interval() {
    let known = SigningKey::generate(&mut OsRng, Some(KeyId(1)));
    let state = Shared::default();
    state.lock().unwrap().keys = key_set(&[(1, &known)]);
    let base = serve(Arc::clone(&state)).await;
    let verifier = empty_verifier();
    let _handle = verifier
        .refresh_keys(&format!("{base}/keys"), Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(state.lock().unwrap().key_fetches, 1);
    for i in 0..20 {
        let stranger = SigningKey::generate(&mut OsRng, Some(KeyId(100 + i)));
        assert!(!verifier.verify(&token(&stranger), &req()).is_allowed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(eventually(|| state.lock().unwrap().key_fetches == 2).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        state.lock().unwrap().key_fetches,
        2,
        "one refetch per interval"
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_copy_until_it_is_too_old() {
    let key = SigningKey::generate(&mut OsRng, Some(KeyId(1)));
    let state = Shared::default();
    state.lock().unwrap().keys = key_set(&[(1, &key)]);
    let base = serve(Arc::clone(&state)).await;
    let verifier = empty_builder()
        .max_staleness(Duration::from_millis(1200))
        .build();
    let _handle = verifier
        .refresh_keys(&format!("{base}/keys"), Duration::from_millis(100))
        .await
        .unwrap();
    let t = token(&key);
    state.lock().unwrap().fail = true;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        state.lock().unwrap().key_fetches >= 2,
        "refresh attempts continue"
    );
    assert!(
        verifier.verify(&t, &req()).is_allowed(),
        "last good copy still used"
    );
    assert!(
        eventually(|| verifier
            .verify(&t, &req())
            .denial()
            .is_some_and(|d| d.kind == DenialKind::Stale && d.message().contains("key set")))
        .await
    );
    state.lock().unwrap().fail = false;
    assert!(
        eventually(|| verifier.verify(&t, &req()).is_allowed()).await,
        "fresh again"
    );
}

#[tokio::test]
async fn the_revocation_feed_is_followed_with_a_cursor() {
    let key = crate::common::key();
    let a = mint_with(
        key,
        &json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}),
    );
    let b = mint_with(
        key,
        &json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}),
    );
    let c = mint_with(
        key,
        &json!({"allow": [{"resources": ["r"], "actions": ["read"]}]}),
    );
    let entry = |cursor: u64, id: &str| RevocationEntry {
        cursor: Some(cursor),
        kind: RevocationKind::TokenId,
        value: id.to_owned(),
    };
    let state = Shared::default();
    {
        let mut s = state.lock().unwrap();
        s.feed = vec![
            entry(1, &"0".repeat(32)),
            entry(2, &"1".repeat(32)),
            entry(3, &a.token_id),
        ];
    }
    let base = serve(Arc::clone(&state)).await;
    let verifier = crate::common::verifier();
    let _handle = verifier
        .follow_revocations(&format!("{base}/revocations"), Duration::from_millis(50))
        .await
        .unwrap();
    let text = |m: &warrant_core::token::Minted| m.token.to_base64().unwrap();
    assert_eq!(
        verifier.verify(&text(&a), &req()).denial().unwrap().kind,
        DenialKind::Revoked,
        "all pages read at start"
    );
    assert!(verifier.verify(&text(&b), &req()).is_allowed());
    state.lock().unwrap().feed.push(entry(4, &b.token_id));
    assert!(
        eventually(|| verifier
            .verify(&text(&b), &req())
            .denial()
            .is_some_and(|d| d.kind == DenialKind::Revoked))
        .await
    );
    assert!(verifier.verify(&text(&c), &req()).is_allowed());
    let sinces = state.lock().unwrap().sinces.clone();
    assert_eq!(&sinces[..3], &[None, Some(2), Some(3)], "paged by cursor");
    assert!(sinces.contains(&Some(4)) || sinces.iter().filter(|s| **s == Some(3)).count() >= 2);
    assert_eq!(verifier.revocations().cursor(), Some(4));
}

#[tokio::test]
async fn a_first_fetch_that_fails_is_an_error() {
    let state = Shared::default();
    let base = serve(Arc::clone(&state)).await;
    let v = empty_verifier();
    state.lock().unwrap().fail = true;
    let e = v
        .refresh_keys(&format!("{base}/keys"), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(matches!(e, RefreshError::Fetch { .. }), "{e}");
    assert!(e.to_string().contains("503"), "{e}");
    let e = v
        .refresh_keys(&format!("{base}/garbage"), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(matches!(e, RefreshError::Invalid { .. }), "{e}");
    let e = v
        .follow_revocations(&format!("{base}/garbage"), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid"), "{e}");
}
