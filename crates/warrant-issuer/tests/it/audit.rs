//! The audit log: what a mint entry records, and exports a verifier can hold to a signature.

use axum::http::StatusCode;
use serde_json::{json, Value as J};
use warrant_test::new_key;

use crate::api::{key_set, read_grant};
use crate::both;
use crate::env::Env;

both!(a_mint_entry_records_the_grant, |env: Env| async move {
    let holder = new_key().public();
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
            // `audit_sign_every = 5`: at most 5 entries between signed heads, too.
            report.check_coverage(5).unwrap();
            report.check_start(0).unwrap();
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
        report.check_coverage(5).unwrap();
    }
);

both!(
    the_issuer_does_not_sign_a_chain_rewritten_after_its_last_signature,
    |env: Env| async move {
        use sqlx::Connection as _;
        use warrant_issuer::audit::{entry_hash, verify_chain, HEAD_SIGNATURE};
        let admin = env.admin_token().await;
        let revoke = |i: usize| {
            let env = &env;
            let admin = admin.clone();
            async move {
                let (status, b) = env
                    .call(
                        "POST",
                        "/v1/revocations",
                        Some(&admin),
                        Some(json!({ "kind": "token_id", "value": format!("{i:032x}") })),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{b}");
            }
        };
        for i in 0..23 {
            revoke(i).await;
        }
        let rows = env.audit().await;
        let keys = key_set(&env).await;
        let report = verify_chain(&rows, &keys).unwrap();
        // `audit_sign_every = 5`: never more than 5 entries from one signed head to the next.
        assert!(report.widest_gap() <= 5, "{report:?}");
        report.check_coverage(5).unwrap();

        // Someone with write access keeps the first signed head, removes the later
        // signatures, erases a revocation and rehashes the rest.
        let first_sig = rows.iter().position(|r| r.kind == HEAD_SIGNATURE).unwrap();
        let kept = rows[first_sig].clone();
        let mut forged: Vec<_> = rows[first_sig + 1..]
            .iter()
            .filter(|r| r.kind != HEAD_SIGNATURE)
            .cloned()
            .collect();
        let erased = forged.iter().position(|r| r.kind == "revocation").unwrap();
        forged.remove(erased);
        let mut prev = kept.clone();
        for r in &mut forged {
            r.seq = prev.seq + 1;
            r.prev_hash = prev.hash.clone();
            r.hash = entry_hash(r);
            prev = r.clone();
        }
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect(&env.database).await.unwrap();
        sqlx::query("DELETE FROM audit WHERE seq > $1")
            .bind(kept.seq)
            .execute(&mut db)
            .await
            .unwrap();
        for r in &forged {
            sqlx::query("INSERT INTO audit (seq, at, kind, actor, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(r.seq).bind(r.at).bind(&r.kind).bind(&r.actor).bind(&r.detail)
                .bind(&r.prev_hash).bind(&r.hash)
                .execute(&mut db).await.unwrap();
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(prev.seq)
            .bind(&prev.hash)
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();

        // The issuer no longer finds the head it signed last: it signs nothing more, on
        // export or by count, and the rewrite stays unsigned.
        for i in 100..110 {
            revoke(i).await;
        }
        let after = env.audit().await;
        assert!(
            after[first_sig + 1..]
                .iter()
                .all(|r| r.kind != HEAD_SIGNATURE),
            "the issuer signed the rewritten chain"
        );
        let e = verify_chain(&after, &keys)
            .unwrap()
            .check_coverage(5)
            .unwrap_err();
        assert!(
            e.to_string().contains("come after the last signed head"),
            "{e}"
        );
    }
);

both!(
    the_audit_key_set_keeps_the_keys_of_old_signatures,
    |env: Env| async move {
        use warrant_core::keys::KeySet;
        let admin = env.admin_token().await;
        assert_eq!(
            env.mint("alice", read_grant(), json!({})).await.0,
            StatusCode::OK
        );
        // An export signs the head with key 1; then key 2 takes over, and once key 1's
        // tokens have expired the token key set no longer has it.
        assert_eq!(
            env.call_raw("GET", "/v1/audit", Some(&admin), None).await.0,
            StatusCode::OK
        );
        let (status, _) = env
            .call("POST", "/v1/keys/rotate", Some(&admin), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        env.advance(366 * 86_400);
        let rows = env.audit().await;
        let tokens = key_set(&env).await;
        assert_eq!(tokens.keys.len(), 1, "{tokens:?}");
        let (status, body) = env
            .call("GET", "/.well-known/warrant-audit-keys", None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let audit = KeySet::from_json(&body.to_string()).unwrap();
        assert_eq!(audit.keys.len(), 2, "{audit:?}");
        let with_tokens = warrant_issuer::audit::verify_chain(&rows, &tokens).unwrap();
        assert!(with_tokens.unverifiable > 0, "{with_tokens:?}");
        let with_audit = warrant_issuer::audit::verify_chain(&rows, &audit).unwrap();
        assert_eq!(with_audit.unverifiable, 0, "{with_audit:?}");
        assert_eq!(
            with_audit.signatures,
            with_tokens.signatures + with_tokens.unverifiable
        );
        with_audit.check_coverage(5).unwrap();
        with_audit.check_start(0).unwrap();
    }
);

both!(
    a_batch_of_entries_follows_the_head_and_moves_it_once,
    |env: Env| async move {
        use sqlx::{Connection as _, Row as _};
        use warrant_issuer::audit::{entry_hash, verify_chain};
        use warrant_issuer::store::{AuditEntry, Store};
        let store = &env.state.store;
        // One entry first, so that the batch links to an entry, not to the genesis hash.
        let before = store
            .audit(1, "single", "tester", &json!({ "n": 0 }))
            .await
            .unwrap();
        let details = [json!({ "n": 1 }), json!({ "n": 2 }), json!("not an object")];
        let entries: Vec<_> = details
            .iter()
            .zip(["first", "second", "third"])
            .enumerate()
            .map(|(i, (detail, kind))| AuditEntry {
                at: 10 + i64::try_from(i).unwrap(),
                kind,
                actor: "tester",
                detail,
            })
            .collect();
        let mut tx = store.begin().await.unwrap();
        let last = Store::append_audits(&mut tx, entries[0], &entries[1..])
            .await
            .unwrap();
        tx.commit().await.unwrap();

        // Each entry follows the one before it, the first follows the entry before the
        // batch, and each carries the hash of its content.
        let rows = store.audit_since(before.seq, 10).await.unwrap();
        assert_eq!(rows.len(), entries.len(), "{rows:?}");
        let mut prev = before;
        for (row, entry) in rows.iter().zip(&entries) {
            assert_eq!(row.seq, prev.seq + 1, "{rows:?}");
            assert_eq!(row.prev_hash, prev.hash, "{rows:?}");
            assert_eq!(row.hash, entry_hash(row), "{rows:?}");
            assert_eq!(
                (row.at, row.kind.as_str(), row.actor.as_str(), &row.detail),
                (entry.at, entry.kind, entry.actor, &entry.detail.to_string())
            );
            prev = row.clone();
        }
        assert_eq!(last, prev, "the batch's last entry is returned");

        // The head names the last entry.
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect(&env.database).await.unwrap();
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(head.try_get::<i64, _>("seq").unwrap(), last.seq);
        assert_eq!(head.try_get::<String, _>("hash").unwrap(), last.hash);
        db.close().await.unwrap();

        // The next entry follows the batch, and the whole chain verifies (the export signs
        // its head).
        let next = store
            .audit(20, "single", "tester", &json!({ "n": 4 }))
            .await
            .unwrap();
        assert_eq!((next.seq, &next.prev_hash), (last.seq + 1, &last.hash));
        let rows = env.audit().await;
        let report = verify_chain(&rows, &key_set(&env).await).unwrap();
        report.check_start(0).unwrap();
        assert!(report.signed_through >= Some(next.seq), "{report:?}");
    }
);
