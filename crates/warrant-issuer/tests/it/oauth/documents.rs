//! Client ID Metadata Documents, fetched with care.

use super::*;

/// A loopback server of client metadata documents: `/good.json`, `/wrong-id.json`,
/// `/huge.json`, `/slow.json` (answers after the fetch's time limit), `/redirect.json`.
async fn metadata_server() -> String {
    use axum::routing::get as route;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = |id: String| json!({ "client_id": id, "client_name": "Loopback Agent", "redirect_uris": [REDIRECT] });
    let (good, wrong) = (
        doc(format!("{base}/good.json")),
        doc(format!("{base}/other.json")),
    );
    let huge = json!({ "client_id": format!("{base}/huge.json"), "redirect_uris": [REDIRECT], "pad": "x".repeat(6000) });
    let slow = doc(format!("{base}/slow.json"));
    let app = axum::Router::new()
        .route("/good.json", route(move || async move { axum::Json(good) }))
        .route(
            "/wrong-id.json",
            route(move || async move { axum::Json(wrong) }),
        )
        .route("/huge.json", route(move || async move { axum::Json(huge) }))
        .route(
            "/slow.json",
            route(move || async move {
                tokio::time::sleep(std::time::Duration::from_secs(7)).await;
                axum::Json(slow)
            }),
        )
        .route(
            "/redirect.json",
            route(|| async { axum::response::Redirect::to("/good.json") }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
async fn client_metadata_documents_are_fetched_with_care() {
    let base = metadata_server().await;
    let env = Env::with_config(
        Db::Sqlite,
        &config("dangerous_allow_private_client_metadata = true"),
        None,
    )
    .await
    .unwrap();
    // A good document: its name on the consent page.
    let good = format!("{base}/good.json");
    let id = start(&env, &authorize_query(&[("client_id", Some(&good))]), None).await;
    let (_, _, page) = get(&env, &format!("/consent/{id}"), None).await;
    assert!(page.contains("Loopback Agent"), "{page}");
    // Bad ones: each a clear error on a page (no redirect URI can be trusted), audited.
    for (path, says) in [
        ("wrong-id.json", "not the URL it was fetched from"),
        ("huge.json", "larger than 5120 bytes"),
        ("slow.json", "no answer within 5s"),
        ("redirect.json", "answered 303"),
        ("missing.json", "answered 404"),
    ] {
        let q = authorize_query(&[("client_id", Some(&format!("{base}/{path}")))]);
        let (status, location, body) = get(&env, &format!("/authorize?{q}"), None).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::BAD_REQUEST, ""),
            "{path}: {body}"
        );
        assert!(body.contains(says), "{path}: {says}: {body}");
    }
    // A client that is only a metadata document does not get errors redirected before the
    // human has seen the consent page: anyone can publish one listing any URI.
    let q = authorize_query(&[("client_id", Some(&good)), ("response_type", Some("token"))]);
    let (status, location, body) = get(&env, &format!("/authorize?{q}"), None).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::BAD_REQUEST, ""),
        "{body}"
    );
    assert!(body.contains("unsupported_response_type"), "{body}");
    assert_eq!(refusals(&env).await.len(), 6);
    // Without the dangerous setting, loopback documents are not fetched at all.
    let strict = Env::with_config(Db::Sqlite, &config(""), None)
        .await
        .unwrap();
    // (Here the scheme is refused first; an https URL of a loopback address is refused
    // for its address: unit tests.)
    let q = authorize_query(&[("client_id", Some(&good))]);
    let (status, _, body) = get(&strict, &format!("/authorize?{q}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("must be an https URL"), "{body}");
}
