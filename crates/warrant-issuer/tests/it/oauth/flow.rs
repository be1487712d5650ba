//! A standard client's whole flow: consent, a DPoP-bound token, refresh, replays, revocation.

use super::*;

with_oauth!(
    a_standard_client_gets_a_dpop_bound_token_for_its_resource_through_consent,
    |env: Env| async move {
        let (mut auth, cookie) = dana(&env).await;
        // Not signed in: the consent page asks who you are, naming the client.
        let id = start(&env, &authorize_query(&[]), None).await;
        let (status, _, page) = get(&env, &format!("/consent/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(r#"id="signin""#) && page.contains("Test CLI"),
            "{page}"
        );
        // Signed in: the client's name, where the code goes, the API, what it asks.
        let (status, _, page) = get(&env, &format!("/consent/{id}"), Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for shown in [
            "Test CLI",
            "127.0.0.1",
            RESOURCE,
            "name=\"remember\"",
            "data-base=\"/oauth/consent/",
        ] {
            assert!(page.contains(shown), "{shown}: {page}");
        }
        // Dana approves refunds under 20.00 only.
        let narrowed = json!({ "allow": [
            { "resources": ["tickets/**"], "actions": ["read"] },
            { "resources": ["orders/*"], "actions": ["refund"], "when": [ { "attr": "amount", "lt": 2000 } ] }
        ] });
        let (status, d) = decide(
            &env,
            &mut auth,
            &cookie,
            ("dana", &id, "approve"),
            Some(&narrowed),
            false,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{d}");
        let to = d["redirect_to"].as_str().unwrap();
        assert!(to.starts_with(REDIRECT), "{to}");
        let q = query_of(to);
        assert_eq!((q["state"].as_str(), q["iss"].as_str()), ("xyz&1", ORIGIN));
        let code = q["code"].clone();
        // The code for a DPoP-bound token.
        let agent = new_key();
        let (status, t) = token(&env, Some(&agent), &exchange(&code)).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        assert_eq!(t["token_type"], "DPoP");
        assert!(
            t.get("scope").is_none(),
            "narrowed: not the scopes asked: {t}"
        );
        let expires_in = t["expires_in"].as_u64().unwrap();
        assert!(
            (1..=300).contains(&expires_in),
            "short-lived by default: {expires_in}"
        );
        let access = t["access_token"].as_str().unwrap().to_owned();
        let v = verifier_for(key_set(&env).await);
        let refund =
            |amount: i64| Request::new("orders/7", "refund", env.at()).with_attr("amount", amount);
        let ok = check(&env, &v, &agent, &access, refund(1999));
        let claims = ok.claims().unwrap_or_else(|| panic!("{ok:?}"));
        assert_eq!(claims.human.as_deref(), Some("dana"));
        assert_eq!(claims.verification_method.as_deref(), Some("passkey"));
        assert!(check(
            &env,
            &v,
            &agent,
            &access,
            Request::new("tickets/9/status", "read", env.at())
        )
        .is_allowed());
        // Narrowed stays narrowed; the card was never asked; the key is needed; the
        // audience is the resource.
        assert!(!check(&env, &v, &agent, &access, refund(2000)).is_allowed());
        assert!(!check(
            &env,
            &v,
            &agent,
            &access,
            Request::new("customers/1/payment_card", "read", env.at())
        )
        .is_allowed());
        let thief = new_key();
        assert_eq!(
            check(&env, &v, &thief, &access, refund(1))
                .denial()
                .unwrap()
                .kind,
            DenialKind::InvalidProof
        );
        let elsewhere = Verifier::builder(key_set(&env).await)
            .audience("support-api")
            .build();
        assert!(!check(&env, &elsewhere, &agent, &access, refund(1)).is_allowed());
        // Refresh: a new access token and a new refresh token, with the same key.
        let refresh = t["refresh_token"].as_str().unwrap().to_owned();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", CLIENT),
        ];
        let (status, t2) = token(&env, Some(&agent), &form).await;
        assert_eq!(status, StatusCode::OK, "{t2}");
        assert_ne!(t2["refresh_token"], refresh.as_str());
        let access2 = t2["access_token"].as_str().unwrap().to_owned();
        let ok2 = check(&env, &v, &agent, &access2, refund(1999));
        let ids = [
            claims.token_id.clone().unwrap(),
            ok2.claims().unwrap().token_id.clone().unwrap(),
        ];
        // Another key cannot refresh.
        let (status, e) = token(
            &env,
            Some(&thief),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t2["refresh_token"].as_str().unwrap()),
                ("client_id", CLIENT),
            ],
        )
        .await;
        refused(status, &e, "invalid_dpop_proof");
        // A spent refresh token with another key: refused, and it revokes nothing.
        let (status, e) = token(&env, Some(&thief), &form).await;
        refused(status, &e, "invalid_grant");
        let revoked_families = |audit: Vec<warrant_issuer::audit::AuditRow>| {
            audit
                .iter()
                .filter(|e| e.kind == "oauth_family_revoked")
                .count()
        };
        assert_eq!(revoked_families(env.audit().await), 0);
        // The first refresh token again, by its key: a replay. The family is revoked, with
        // its tokens.
        let (status, e) = token(&env, Some(&agent), &form).await;
        refused(status, &e, "invalid_grant");
        assert!(
            e["error_description"].as_str().unwrap().contains("revoked"),
            "{e}"
        );
        let live = [
            ("grant_type", "refresh_token"),
            ("refresh_token", t2["refresh_token"].as_str().unwrap()),
            ("client_id", CLIENT),
        ];
        let (status, e) = token(&env, Some(&agent), &live).await;
        refused(status, &e, "invalid_grant");
        let (status, feed) = env.call("GET", "/v1/revocations?since=0", None, None).await;
        assert_eq!(status, StatusCode::OK, "{feed}");
        let revoked = feed.to_string();
        for id in &ids {
            assert!(revoked.contains(id.as_str()), "{id} not revoked: {revoked}");
        }
        // The audit trail: approved with a passkey, minted twice, the family revoked.
        let kinds: Vec<String> = env.audit().await.iter().map(|e| e.kind.clone()).collect();
        for k in ["oauth_approved", "oauth_family_revoked"] {
            assert!(kinds.iter().any(|x| x == k), "{k}: {kinds:?}");
        }
        assert_eq!(minted(&env).await, 2);
    }
);

with_oauth!(
    revoking_a_client_s_token_ends_its_refreshes_too,
    |env: Env| async move {
        let (mut auth, cookie) = dana(&env).await;
        let agent = new_key();
        let code = approved_code(&env, &mut auth, &cookie).await;
        let (status, t) = token(&env, Some(&agent), &exchange(&code)).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        let mint = env
            .audit()
            .await
            .into_iter()
            .rev()
            .find(|e| e.kind == "mint")
            .unwrap();
        let detail: J = serde_json::from_str(&mint.detail).unwrap();
        let token_id = detail["token_id"].as_str().unwrap();
        let admin = env.admin_token().await;
        let (status, r) = env
            .call(
                "POST",
                "/v1/revocations",
                Some(&admin),
                Some(json!({ "kind": "token_id", "value": token_id })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        let refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", CLIENT),
        ];
        let (status, e) = token(&env, Some(&agent), &refresh).await;
        refused(status, &e, "invalid_grant");
        assert!(
            e["error_description"].as_str().unwrap().contains("revoked"),
            "{e}"
        );
    }
);

with_oauth!(
    a_client_with_a_p256_key_gets_a_token_bound_to_it,
    |env: Env| async move {
        let (mut auth, cookie) = dana(&env).await;
        let code = approved_code(&env, &mut auth, &cookie).await;
        // An ES256 proof at /token, as MCP's DPoP extension recommends.
        let client = warrant_core::keys::P256SigningKey::generate(&mut rand_core::OsRng);
        let (status, t) = token(&env, Some(&client), &exchange(&code)).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        let access = t["access_token"].as_str().unwrap();
        let v = verifier_for(key_set(&env).await);
        let url = "https://mcp.example/mcp";
        let read = Request::new("tickets/9/status", "read", env.at());
        let proof = |key: &dyn HolderSigner| {
            warrant_core::dpop::create_proof(
                key,
                "POST",
                url,
                access,
                env.at(),
                &mut rand_core::OsRng,
            )
            .unwrap()
        };
        let d = v.verify(
            access,
            &read.clone().with_proof(proof(&client), "POST", url),
        );
        assert!(d.is_allowed(), "{d:?}");
        // Another P-256 key, or an Ed25519 one, is not the holder.
        let other = warrant_core::keys::P256SigningKey::generate(&mut rand_core::OsRng);
        for key in [&other as &dyn HolderSigner, &new_key()] {
            let d = v.verify(access, &read.clone().with_proof(proof(key), "POST", url));
            assert_eq!(d.denial().unwrap().kind, DenialKind::InvalidProof, "{d:?}");
        }
        // Its refresh token is bound to the P-256 key too.
        let refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", CLIENT),
        ];
        let (status, e) = token(&env, Some(&other), &refresh).await;
        refused(status, &e, "invalid_dpop_proof");
        let (status, t2) = token(&env, Some(&client), &refresh).await;
        assert_eq!(status, StatusCode::OK, "{t2}");
    }
);
