//! The audit log: what a mint entry records, and exports a verifier can hold to a signature.

use axum::http::StatusCode;
use serde_json::{json, Value as J};
use warrant_core::keys::SigningKey;

use crate::api::{key_set, read_grant};
use crate::both;
use crate::env::Env;

both!(a_mint_entry_records_the_grant, |env: Env| async move {
    let holder = SigningKey::generate(&mut rand_core::OsRng, None).public();
    let grant = json!({ "audience": ["support-api"], "ttl": "10m",
        "allow": [{ "resources": ["tickets/123/email_address"], "actions": ["read"] }],
        "deny": [{ "resources": ["tickets/123/secret"], "actions": ["*"] }] });
    let (status, minted) = env
        .mint("alice", grant, json!({ "holder": holder.to_string() }))
        .await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    let rows = env.audit().await;
    let entry = rows.iter().rev().find(|e| e.kind == "mint").unwrap();
    assert_eq!(entry.actor, "alice");
    let d: J = serde_json::from_str(&entry.detail).unwrap();
    assert_eq!(d["token_id"], minted["token_id"]);
    assert_eq!(d["expires_at"], minted["expires_at"]);
    assert_eq!(d["holder"], holder.to_string());
    assert_eq!(d["ttl"], "10m");
    assert_eq!(d["role"], "support");
    assert_eq!(d["issued_at"], env.at().to_string());
    assert_eq!(d["verification"]["method"], "device-key");
    // What was granted: the request as the token carries it, and the role's ceiling.
    assert_eq!(d["grant"]["audience"], json!(["support-api"]));
    assert_eq!(
        d["grant"]["allow"],
        json!([{ "resources": ["tickets/123/email_address"], "actions": ["read"] }])
    );
    assert_eq!(
        d["grant"]["deny"],
        json!([{ "resources": ["tickets/123/secret"], "actions": ["*"] }])
    );
    assert_eq!(d["ceiling"]["audience"], json!(["support-api"]));
    assert_eq!(d["ceiling"]["ttl"], "10m");
});

both!(
    every_export_ends_with_a_signed_head,
    |env: Env| async move {
        // Fewer entries than `audit_sign_every`: nothing signed by count yet.
        assert_eq!(
            env.mint("alice", read_grant(), json!({})).await.0,
            StatusCode::OK
        );
        let keys = key_set(&env).await;
        for _ in 0..2 {
            let rows = env.audit().await;
            let report = warrant_issuer::audit::verify_chain(&rows, &keys).unwrap();
            assert_eq!(
                report.unsigned_tail, 1,
                "only the signature itself: {report:?}"
            );
            report.check_coverage(1).unwrap();
            assert_eq!(rows.last().unwrap().kind, "head_signature");
        }
        // Pages: `since` and `limit` walk the whole chain.
        let admin = env.admin_token().await;
        let mut since = 0;
        let mut paged = Vec::new();
        loop {
            let (status, text) = env
                .call_raw(
                    "GET",
                    &format!("/v1/audit?since={since}&limit=2"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{text}");
            let page = warrant_issuer::audit::parse_export(&text).unwrap();
            let Some(last) = page.last() else { break };
            assert!(page.len() <= 2);
            since = last.seq;
            paged.extend(page);
        }
        let report = warrant_issuer::audit::verify_chain(&paged, &keys).unwrap();
        assert_eq!(report.first, Some(1));
        report.check_coverage(1).unwrap();
    }
);
