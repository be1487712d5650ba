//! The OpenAPI document: checked into docs/openapi.json, in step with the router, every
//! body a named schema.

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

/// The methods a path may have in the document.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `utoipa-axum` routes and documents each handler by one declaration, so every route is
/// in the document; this holds the document to the router the other way: every operation
/// documented answers (neither 404 nor 405), and a documented path answers 405 to every
/// method it does not document (no route was added to it outside the document).
#[tokio::test]
async fn the_document_and_the_router_agree() {
    let env = Env::new(Db::Sqlite).await.unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&warrant_issuer::openapi::document()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 10, "{}", paths.len());
    for (path, ops) in paths {
        let ops = ops.as_object().unwrap();
        let concrete = path.replace("{id}", "x");
        for method in METHODS {
            let body = (method != "get").then(|| "{}".to_owned());
            let (status, text) = env
                .call_raw(&method.to_uppercase(), &concrete, None, body)
                .await;
            if ops.contains_key(method) {
                assert!(
                    status != StatusCode::NOT_FOUND
                        || text.contains("no agent")
                        || text.contains("no capability request"),
                    "{method} {path} is documented but not routed"
                );
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is routed but not documented: {text}"
                );
            }
        }
    }
}

/// The schema `content` names: a `$ref` to a schema the document holds (JSON and form
/// bodies), or
/// a string (text bodies); never an anonymous object.
fn named(doc: &serde_json::Value, what: &str, media: &str, content: &serde_json::Value) {
    let schema = &content["schema"];
    if media == "application/json"
        || media.ends_with("+json")
        || media == "application/x-www-form-urlencoded"
    {
        let reference = schema["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: the {media} body names no schema: {schema}"));
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{what}: {reference}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{what}: no schema `{name}`"
        );
    } else {
        assert_eq!(schema["type"], "string", "{what}: {media}");
    }
}

/// Every request and response body is a named schema (the wire types of
/// `warrant_issuer::api`), every success has a body, and every error is a problem document.
#[test]
fn every_body_names_a_schema() {
    let doc: serde_json::Value =
        serde_json::from_str(&warrant_issuer::openapi::document()).unwrap();
    let mut bodies = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for (media, c) in content {
                    named(&doc, &format!("{method} {path} request"), media, c);
                    bodies += 1;
                }
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                let what = format!("{method} {path} {status}");
                let content = response["content"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{what} has no body"));
                if status.starts_with('2') {
                    assert!(!content.is_empty(), "{what} has no body");
                } else if path == "/token" && status == "400" {
                    // OAuth errors have RFC 6749's shape (section 5.2).
                    let media: Vec<_> = content.keys().collect();
                    assert_eq!(media, ["application/json"], "{what}");
                    assert_eq!(
                        content["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{what}"
                    );
                } else {
                    let media: Vec<_> = content.keys().collect();
                    assert_eq!(media, ["application/problem+json"], "{what}");
                    assert_eq!(
                        content["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{what}"
                    );
                }
                for (media, c) in content {
                    named(&doc, &what, media, c);
                    bodies += 1;
                }
            }
        }
    }
    assert!(bodies > 40, "{bodies}");
}
