//! The OpenAPI document: checked into docs/openapi.json, and every operation in it routed.

use axum::http::StatusCode;

use crate::env::{Db, Env};

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

#[tokio::test]
async fn the_checked_in_document_is_the_served_one() {
    let env = Env::new(Db::Sqlite).await.unwrap();
    let (status, served) = env.call_raw("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "OpenAPI 3.1"
    );
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(CHECKED_IN, format!("{served}\n")).unwrap();
    }
    let file = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert_eq!(
        file.trim_end(),
        served.trim_end(),
        "docs/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p warrant-issuer --test it openapi`"
    );
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let env = Env::new(Db::Sqlite).await.unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&warrant_issuer::openapi::document()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let operations: usize = paths.values().map(|o| o.as_object().unwrap().len()).sum();
    assert_eq!(operations, 21, "every route of app() is documented");
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "x");
            let body = (method == "post").then(|| "{}".to_owned());
            let (status, text) = env
                .call_raw(&method.to_uppercase(), &concrete, None, body)
                .await;
            assert!(
                status != StatusCode::NOT_FOUND || text.contains("no agent"),
                "{method} {path} is documented but not routed"
            );
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
}
